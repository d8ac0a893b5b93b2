//! The query engine: Apache DataFusion over the store's Parquet files.
//!
//! [`Engine`] registers the committed files of `events`, `issuances` and `sessions` (exactly
//! those the manifest lists) as SQL tables, with the JSON functions of
//! `datafusion-functions-json` for the JSON-text columns. It answers `backtrail query` and
//! implements [`EventLookup`] for the analyses, with filters that Parquet statistics, page
//! indexes and bloom filters can prune on.
//!
//! A lookup by identity first asks the store's identity index which segments can hold the
//! value, and scans only those segments' files (a table over just those files, the same
//! SQL): the files it opens depend on what it finds, not on the size of the store. Segments
//! the index does not cover are always scanned, so answers never depend on the index.
//! `BACKTRAIL_NO_INDEX=1` turns it off (every lookup scans every segment), for benchmarks.

pub mod output;

use arrow::array::RecordBatch;
use backtrail_model::{Event, EventLookup, Issuance, SessionKey, SessionSummary, Window};
use backtrail_store::columns::{Table, rows, schema};
use backtrail_store::index::{Index, Kind};
use backtrail_store::{Manifest, Store};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] backtrail_store::StoreError),
    #[error("{0}")]
    Query(String),
    /// The store's files could not be read (I/O, damaged Parquet): an input problem, not a
    /// rejected query.
    #[error("reading the store: {0}")]
    Read(String),
    /// SQL that would change something (DDL, DML, COPY, SET...): the engine only reads.
    #[error(
        "query is read-only: {0}; only SELECT, WITH, EXPLAIN, DESCRIBE and SHOW over the \
         tables events, issuances and sessions may run"
    )]
    ReadOnly(String),
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    #[error("result shape: {0}")]
    Shape(#[from] backtrail_store::columns::ShapeError),
}

impl From<datafusion::error::DataFusionError> for EngineError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        // DataFusion errors nest context; the root says whether the query or the files failed.
        use datafusion::error::DataFusionError as D;
        let read = match e.find_root() {
            D::IoError(_) | D::ObjectStore(_) | D::ParquetError(_) => true,
            D::ArrowError(a, _) => matches!(**a, arrow::error::ArrowError::IoError(..)),
            _ => false,
        };
        if read {
            EngineError::Read(e.to_string())
        } else {
            EngineError::Query(e.to_string())
        }
    }
}

/// An open store with its SQL context.
pub struct Engine {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
    manifest: Manifest,
    index: Index,
    /// The store directory, absolute (table files are registered by absolute path).
    dir: PathBuf,
    /// Numbers the tables registered for one lookup.
    scoped: AtomicU64,
}

/// The two tables whose files are split by segment.
#[derive(Clone, Copy)]
enum Split {
    Events,
    Issuances,
}

/// The session settings every backtrail query runs with, embedded or on a cluster:
/// filters pushed into the Parquet scan, bloom filters read, plain (not view) strings.
pub fn config() -> SessionConfig {
    let mut c = SessionConfig::new()
        .with_target_partitions(2)
        .with_information_schema(true);
    let o = c.options_mut();
    o.execution.parquet.pushdown_filters = true;
    o.execution.parquet.reorder_filters = true;
    o.execution.parquet.schema_force_view_types = false;
    o.execution.parquet.bloom_filter_on_read = true;
    c
}

impl Engine {
    /// Opens the store at `dir`, querying it in this process.
    pub fn open(dir: &Path) -> Result<Engine, EngineError> {
        Self::open_with(dir, |config| Ok(SessionContext::new_with_config(config)))
    }

    /// Opens the store at `dir` with a context made from [`config`] by `make`: how a
    /// distributed engine puts its own planner in while the tables, functions and
    /// queries stay the same.
    pub fn open_with(
        dir: &Path,
        make: impl FnOnce(SessionConfig) -> Result<SessionContext, EngineError>,
    ) -> Result<Engine, EngineError> {
        Store::open(dir)?;
        // Readers never need the list of source files read, which grows with the store.
        let manifest = Manifest::load_catalog(dir)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(EngineError::Runtime)?;
        let mut ctx = rt.block_on(async { make(config()) })?;
        datafusion_functions_json::register_all(&mut ctx)?;
        let abs = std::path::absolute(dir).map_err(EngineError::Runtime)?;
        let files = |f: &dyn Fn(&backtrail_store::manifest::Segment) -> &String| -> Vec<String> {
            manifest
                .segments
                .iter()
                .map(|s| abs.join(f(s)).display().to_string())
                .collect()
        };
        register::<Event>(&ctx, "events", files(&|s| &s.events_file))?;
        register::<Issuance>(&ctx, "issuances", files(&|s| &s.issuances_file))?;
        let sessions: Vec<String> = manifest
            .sessions_file
            .iter()
            .map(|f| abs.join(f).display().to_string())
            .collect();
        register::<SessionSummary>(&ctx, "sessions", sessions)?;
        let index = Index::open(
            &abs,
            &manifest,
            std::env::var_os("BACKTRAIL_NO_INDEX").is_none(),
        );
        Ok(Engine {
            ctx,
            rt,
            manifest,
            index,
            dir: abs,
            scoped: AtomicU64::new(0),
        })
    }

    /// Runs `sql(table)` over the segments `only` lists (None: all of them) of `split`, as a
    /// table of just their files; no segment: no rows, nothing read.
    fn select_in<T: Table>(
        &self,
        split: Split,
        only: Option<&BTreeSet<u64>>,
        sql: impl Fn(&str) -> String,
    ) -> Result<Vec<T>, EngineError> {
        let (all, file): (&str, fn(&backtrail_store::manifest::Segment) -> &String) = match split {
            Split::Events => ("events", |s| &s.events_file),
            Split::Issuances => ("issuances", |s| &s.issuances_file),
        };
        let Some(only) = only else {
            return self.select(&sql(all));
        };
        // Files in the manifest's order, as the whole table lists them.
        let files: Vec<String> = self
            .manifest
            .segments
            .iter()
            .filter(|s| only.contains(&s.id))
            .map(|s| self.dir.join(file(s)).display().to_string())
            .collect();
        if files.is_empty() {
            return Ok(Vec::new());
        }
        if files.len() == self.manifest.segments.len() {
            return self.select(&sql(all));
        }
        let name = format!(
            "{all}_scoped_{}",
            self.scoped.fetch_add(1, Ordering::Relaxed)
        );
        match split {
            Split::Events => register::<Event>(&self.ctx, &name, files)?,
            Split::Issuances => register::<Issuance>(&self.ctx, &name, files)?,
        }
        let out = self.select(&sql(&name));
        self.ctx.deregister_table(name.as_str())?;
        out
    }

    /// Segments whose events fall (partly) in `w`.
    fn in_window(&self, w: Window) -> BTreeSet<u64> {
        self.manifest
            .segments
            .iter()
            .filter(|s| s.rows > 0 && s.max_time >= w.start && s.min_time <= w.end)
            .map(|s| s.id)
            .collect()
    }

    /// Segments that may hold events of the session `k` (matched on key and ARN).
    fn session_segments(&self, k: &SessionKey) -> Option<BTreeSet<u64>> {
        let by_key = k
            .access_key_id
            .as_deref()
            .map(|v| self.index.segments(Kind::AccessKey, v));
        let by_arn = k.arn.as_deref().map(|v| self.index.segments(Kind::Arn, v));
        match (by_key, by_arn) {
            (Some(a), Some(b)) => Some(a.intersection(&b).copied().collect()),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        }
    }

    /// The manifest the tables were registered from.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Runs SQL and collects the result. Only reads: a plan that would define, change or
    /// write anything (DDL such as CREATE EXTERNAL TABLE or DROP, DML such as INSERT or
    /// COPY, statements such as SET) is refused before it runs, whether it runs here or on a
    /// cluster, so `backtrail query` cannot touch files or the store.
    pub fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>, EngineError> {
        self.rt.block_on(async {
            let plan = self.ctx.state().create_logical_plan(sql).await?;
            read_only().verify_plan(&plan).map_err(|e| {
                EngineError::ReadOnly(match e {
                    datafusion::error::DataFusionError::Plan(what) => what,
                    other => other.strip_backtrace(),
                })
            })?;
            let df = self.ctx.execute_logical_plan(plan).await?;
            Ok(df.collect().await?)
        })
    }

    /// Runs SQL and reads the result as rows of a store table.
    pub fn select<T: Table>(&self, sql: &str) -> Result<Vec<T>, EngineError> {
        let mut out = Vec::new();
        for b in self.sql(sql)? {
            out.extend(rows::<T>(&b)?);
        }
        Ok(out)
    }
}

/// What SQL may do here: DataFusion's own check of a plan's nodes (and of its subqueries),
/// the one `SessionContext::sql_with_options` applies, with everything but reading denied.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

fn register<T: Table>(
    ctx: &SessionContext,
    name: &str,
    files: Vec<String>,
) -> Result<(), EngineError> {
    let schema = schema::<T>();
    if files.is_empty() {
        ctx.register_batch(name, RecordBatch::new_empty(schema))?;
        return Ok(());
    }
    let urls = files
        .iter()
        .map(ListingTableUrl::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let opts =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let cfg = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(opts)
        .with_schema(schema);
    ctx.register_table(name, Arc::new(ListingTable::try_new(cfg)?))?;
    Ok(())
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn opt_eq(col: &str, v: &Option<String>) -> String {
    match v {
        Some(v) => format!("{col} = {}", lit(v)),
        None => format!("{col} IS NULL"),
    }
}

fn time_eq(col: &str, v: Option<i64>) -> String {
    match v {
        Some(ms) => format!("CAST({col} AS BIGINT) = {ms}"),
        None => format!("{col} IS NULL"),
    }
}

fn window_sql(col: &str, w: Window) -> String {
    let mut parts = Vec::new();
    if w.start != i64::MIN {
        parts.push(format!("CAST({col} AS BIGINT) >= {}", w.start));
    }
    if w.end != i64::MAX {
        parts.push(format!("CAST({col} AS BIGINT) <= {}", w.end));
    }
    if parts.is_empty() {
        "TRUE".into()
    } else {
        parts.join(" AND ")
    }
}

impl EventLookup for Engine {
    type Error = EngineError;

    fn issuances_by_issued_key(&self, key: &str) -> Result<Vec<Issuance>, EngineError> {
        let only = self.index.segments(Kind::IssuedKey, key);
        self.select_in(Split::Issuances, Some(&only), |t| {
            format!(
                "SELECT * FROM {t} WHERE issued_access_key_id = {} ORDER BY event_time",
                lit(key)
            )
        })
    }
    fn issuances_by_issued_arn(&self, arn: &str) -> Result<Vec<Issuance>, EngineError> {
        let only = self.index.segments(Kind::IssuedArn, arn);
        self.select_in(Split::Issuances, Some(&only), |t| {
            format!(
                "SELECT * FROM {t} WHERE issued_arn = {} ORDER BY event_time",
                lit(arn)
            )
        })
    }
    fn issuances_by_shared_id(&self, id: &str) -> Result<Vec<Issuance>, EngineError> {
        let only = self.index.segments(Kind::SharedEventId, id);
        self.select_in(Split::Issuances, Some(&only), |t| {
            format!(
                "SELECT * FROM {t} WHERE shared_event_id = {} ORDER BY event_time",
                lit(id)
            )
        })
    }
    fn issuances_by_caller_arn(&self, arn: &str, w: Window) -> Result<Vec<Issuance>, EngineError> {
        let only: BTreeSet<u64> = self
            .index
            .segments(Kind::CallerArn, arn)
            .intersection(&self.in_window(w))
            .copied()
            .collect();
        self.select_in(Split::Issuances, Some(&only), |t| {
            format!(
                "SELECT * FROM {t} WHERE caller_arn = {} AND {} ORDER BY event_time",
                lit(arn),
                window_sql("event_time", w)
            )
        })
    }
    fn issuances_by_name(&self, name: &str, w: Window) -> Result<Vec<Issuance>, EngineError> {
        let only = self.in_window(w);
        self.select_in(Split::Issuances, Some(&only), |t| {
            format!(
                "SELECT * FROM {t} WHERE event_name = {} AND {} ORDER BY event_time",
                lit(name),
                window_sql("event_time", w)
            )
        })
    }
    fn sessions_by_key(&self, key: &str) -> Result<Vec<SessionSummary>, EngineError> {
        self.select(&format!(
            "SELECT * FROM sessions WHERE access_key_id = {} ORDER BY first_seen",
            lit(key)
        ))
    }
    fn sessions_by_arn(&self, arn: &str) -> Result<Vec<SessionSummary>, EngineError> {
        self.select(&format!(
            "SELECT * FROM sessions WHERE arn = {} ORDER BY first_seen",
            lit(arn)
        ))
    }
    fn sessions_by_principal_or_name(
        &self,
        needle: &str,
    ) -> Result<Vec<SessionSummary>, EngineError> {
        let like = format!("%/{}", needle.replace('%', "\\%").replace('_', "\\_"));
        self.select(&format!(
            "SELECT * FROM sessions WHERE principal_id = {} OR arn LIKE {} ESCAPE '\\' ORDER BY first_seen",
            lit(needle),
            lit(&like)
        ))
    }
    fn events_of_sessions(&self, keys: &[SessionKey]) -> Result<Vec<Event>, EngineError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        // Bounded OR-lists keep the plan small and each access key prunable on its own.
        for chunk in keys.chunks(64) {
            // The union of the segments each session can be in; one without key or ARN can
            // be anywhere.
            let mut only = Some(BTreeSet::new());
            for k in chunk {
                match (self.session_segments(k), only.as_mut()) {
                    (Some(segs), Some(acc)) => acc.extend(segs),
                    _ => only = None,
                }
            }
            let cond: Vec<String> = chunk
                .iter()
                .map(|k| {
                    format!(
                        "({} AND {} AND {})",
                        opt_eq("access_key_id", &k.access_key_id),
                        opt_eq("arn", &k.arn),
                        time_eq("session_creation_date", k.creation_date)
                    )
                })
                .collect();
            let cond = cond.join(" OR ");
            out.extend(self.select_in::<Event>(Split::Events, only.as_ref(), |t| {
                format!("SELECT * FROM {t} WHERE {cond}")
            })?);
        }
        out.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        Ok(out)
    }
    fn event_by_id(&self, id: &str) -> Result<Option<Event>, EngineError> {
        // Analyses read issuing events by id: the index knows their segments. Any other id
        // is looked for everywhere.
        let mut only = self.index.found(Kind::IssuanceEventId, id);
        let only = if only.is_empty() {
            None
        } else {
            only.extend(self.index.uncovered().iter().copied());
            Some(only)
        };
        Ok(self
            .select_in::<Event>(Split::Events, only.as_ref(), |t| {
                format!("SELECT * FROM {t} WHERE event_id = {} LIMIT 1", lit(id))
            })?
            .into_iter()
            .next())
    }
    /// Bounded IN-lists, so that each list can use the bloom filters.
    fn events_by_ids(&self, ids: &[String]) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(256) {
            let list: Vec<String> = chunk.iter().map(|i| lit(i)).collect();
            out.extend(self.select::<Event>(&format!(
                "SELECT * FROM events WHERE event_id IN ({})",
                list.join(",")
            ))?);
        }
        Ok(out)
    }
    fn all_sessions(&self) -> Result<Vec<SessionSummary>, EngineError> {
        self.select("SELECT * FROM sessions")
    }
    fn known_accounts(&self) -> Result<Vec<String>, EngineError> {
        // Recipient accounts, recorded at ingest: the accounts whose trails are stored.
        // (Caller accounts would include an intruder's own account.)
        Ok(self.manifest.accounts.iter().cloned().collect())
    }
}
