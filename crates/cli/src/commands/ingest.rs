//! `backtrail ingest`.

use crate::args::{IngestArgs, ScopeArgs};
use crate::output::{Format, Output};
use crate::terminal::{clean, warn};
use crate::{CliError, ExitStatus};
use backtrail_model::time::parse_iso;
use backtrail_sources::{Filter, Sources};
use backtrail_store::ingest::IngestSummary;
use backtrail_store::{IngestOptions, Progress, Store};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Rejects listed on a terminal before pointing at the full list.
const SHOWN_REJECTS: usize = 20;

fn time_arg(name: &str, v: &Option<String>) -> Result<Option<i64>, CliError> {
    v.as_deref()
        .map(|s| {
            parse_iso(s).ok_or_else(|| {
                CliError::new(
                    ExitStatus::Usage,
                    format!("--{name} {s:?}: expected RFC 3339 or YYYY-MM-DD"),
                )
            })
        })
        .transpose()
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
struct Bar {
    bar: ProgressBar,
    events: AtomicU64,
    started: Instant,
}

impl Progress for Bar {
    fn start(&self, files: u64, _bytes: u64) {
        self.bar.set_length(files);
    }
    fn file_done(&self, bytes: u64, events: u64) {
        let total = self.events.fetch_add(events, Ordering::Relaxed) + events;
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar.set_message(format!(
            "{:.0} events/s, {:.1} MB/s",
            total as f64 / secs,
            bytes as f64 / secs / 1e6
        ));
        self.bar.inc(1);
    }
}

/// Ingests into `store` and returns the summary (used by `demo` too).
pub fn ingest_into(
    store: &Path,
    sources_in: &[String],
    filter: &Filter,
    opts: IngestOptions,
) -> Result<IngestSummary, CliError> {
    let sources = Sources::new()?;
    let discovery = sources.discover(sources_in, filter)?;
    let store = Store::create(store)?;
    let target = if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} files  {msg}  ({elapsed})")
            .expect("valid template"),
    );
    let progress = Bar {
        bar,
        events: AtomicU64::new(0),
        started: Instant::now(),
    };
    let summary = store.ingest(&sources, discovery, &opts, &progress)?;
    progress.bar.finish_and_clear();
    Ok(summary)
}

/// The discovery filter of `--since/--until/--account/--region`.
pub(crate) fn filter(a: &ScopeArgs) -> Result<Filter, CliError> {
    Ok(Filter {
        since: time_arg("since", &a.since)?,
        until: time_arg("until", &a.until)?,
        accounts: a.accounts.clone(),
        regions: a.regions.clone(),
    })
}

pub fn run(a: IngestArgs) -> Result<(), CliError> {
    let filter = filter(&a.scope)?;
    let mut opts = IngestOptions {
        threads: a.threads,
        ..Default::default()
    };
    if let Some(n) = a.id_budget {
        opts.id_budget = n;
    }
    if let Some(n) = a.segment_rows {
        opts.segment_rows = n.max(1);
        opts.row_group_rows = opts.row_group_rows.min(n.max(1) as usize);
    }
    let s = match &a.store.engine {
        None => ingest_into(&a.store.store, &a.sources, &filter, opts)?,
        Some(url) => {
            let discovery = Sources::new()?.discover(&a.sources, &filter)?;
            crate::cluster::ingest(url, &a.store.store, discovery, &opts)?
        }
    };
    let store = &a.store.store;
    Output::json(&s)
        .stream(Format::Text, |out| print_summary(out, &s, store))
        .print(if a.json { Format::Json } else { Format::Text })
}

/// The end-of-run summary for people.
pub fn print_summary(out: &mut dyn Write, s: &IngestSummary, store: &Path) -> Result<(), CliError> {
    writeln!(
        out,
        "files:  {} seen = {} read + {} skipped + {} rejected + {} unchanged since the last ingest",
        s.files_seen, s.files_read, s.files_skipped, s.files_rejected, s.files_unchanged
    )?;
    writeln!(
        out,
        "events: {} seen = {} stored + {} duplicate + {} rejected",
        s.records_seen, s.stored, s.duplicates, s.rejected
    )?;
    let mb = s.bytes_read as f64 / 1e6;
    writeln!(
        out,
        "read {mb:.1} MB ({:.1} MB decompressed) in {:.2}s: {:.0} events/s",
        s.bytes_decompressed as f64 / 1e6,
        s.seconds,
        s.records_seen as f64 / s.seconds.max(1e-6)
    )?;
    // Skipped files are expected (digests, Insights): counted by reason, listed in --json.
    let mut reasons: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for sk in &s.skipped {
        *reasons.entry(sk.reason.as_str()).or_default() += 1;
    }
    for (reason, n) in reasons {
        writeln!(
            out,
            "skipped  {n} file(s): {} (see --json for the list)",
            clean(reason)
        )?;
    }
    for r in s.rejects.iter().take(SHOWN_REJECTS) {
        let at = match (r.record, r.offset) {
            (Some(i), Some(o)) => format!(" record {i} at byte {o}"),
            _ => String::new(),
        };
        writeln!(out, "rejected {}{at}: {}", clean(&r.file), clean(&r.reason))?;
    }
    if s.rejects.len() > SHOWN_REJECTS {
        writeln!(
            out,
            "rejected ... and {} more (see --json, or {}/rejects/)",
            s.rejects.len() - SHOWN_REJECTS,
            store.display()
        )?;
    }
    for w in s.warnings.iter().take(SHOWN_REJECTS) {
        warn(&format!(
            "{} at byte {}: {}",
            clean(&w.file),
            w.offset,
            clean(&w.message)
        ));
    }
    Ok(())
}
