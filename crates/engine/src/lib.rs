//! The query engine: Apache DataFusion over the store's Parquet files.
//!
//! [`Engine`] registers the committed files of `events`, `issuances` and `sessions` (exactly
//! those the manifest lists) as SQL tables, with the JSON functions of
//! `datafusion-functions-json` for the JSON-text columns. It answers `backtrail query` and
//! implements [`EventLookup`] for the analyses, with filters that Parquet statistics, page
//! indexes and bloom filters can prune on.

pub mod output;

use arrow::array::RecordBatch;
use backtrail_model::{Event, EventLookup, Issuance, SessionKey, SessionSummary, Window};
use backtrail_store::columns::{Table, rows, schema};
use backtrail_store::{Manifest, Store};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use std::path::Path;
use std::sync::Arc;

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
        let store = Store::open(dir)?;
        let manifest = store.manifest()?;
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
        Ok(Engine { ctx, rt, manifest })
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
        self.select(&format!(
            "SELECT * FROM issuances WHERE issued_access_key_id = {} ORDER BY event_time",
            lit(key)
        ))
    }
    fn issuances_by_issued_arn(&self, arn: &str) -> Result<Vec<Issuance>, EngineError> {
        self.select(&format!(
            "SELECT * FROM issuances WHERE issued_arn = {} ORDER BY event_time",
            lit(arn)
        ))
    }
    fn issuances_by_shared_id(&self, id: &str) -> Result<Vec<Issuance>, EngineError> {
        self.select(&format!(
            "SELECT * FROM issuances WHERE shared_event_id = {} ORDER BY event_time",
            lit(id)
        ))
    }
    fn issuances_by_caller_arn(&self, arn: &str, w: Window) -> Result<Vec<Issuance>, EngineError> {
        self.select(&format!(
            "SELECT * FROM issuances WHERE caller_arn = {} AND {} ORDER BY event_time",
            lit(arn),
            window_sql("event_time", w)
        ))
    }
    fn issuances_by_name(&self, name: &str, w: Window) -> Result<Vec<Issuance>, EngineError> {
        self.select(&format!(
            "SELECT * FROM issuances WHERE event_name = {} AND {} ORDER BY event_time",
            lit(name),
            window_sql("event_time", w)
        ))
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
            out.extend(
                self.select::<Event>(&format!("SELECT * FROM events WHERE {}", cond.join(" OR ")))?,
            );
        }
        out.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        Ok(out)
    }
    fn event_by_id(&self, id: &str) -> Result<Option<Event>, EngineError> {
        Ok(self
            .select::<Event>(&format!(
                "SELECT * FROM events WHERE event_id = {} LIMIT 1",
                lit(id)
            ))?
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
