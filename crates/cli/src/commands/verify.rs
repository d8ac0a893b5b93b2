//! `backtrail verify`: digest signatures and chains, log file hashes, logging changes; the
//! result is kept in the store for `investigate`.

use crate::args::VerifyArgs;
use crate::output::{Format, Output};
use crate::{CliError, ExitStatus};
use backtrail_model::Event;
use backtrail_sources::{Filter, Sources};
use backtrail_store::Store;
use backtrail_store::manifest::{sync_dir, write_durably};
use backtrail_verify::logging::{BUCKET_EVENTS, TRAIL_EVENTS, logging_events};
use backtrail_verify::{Pointer, PublicKeys, Verification};
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;

pub fn run(a: VerifyArgs) -> Result<(), CliError> {
    let filter = crate::commands::ingest::filter(&a.scope)?;
    let mut keys = PublicKeys::default();
    for p in &a.public_keys {
        let fail = |m: String| CliError::new(ExitStatus::Input, format!("{}: {m}", p.display()));
        let text = std::fs::read_to_string(p).map_err(|e| fail(e.to_string()))?;
        keys.add_json(&text).map_err(|e| fail(e.to_string()))?;
    }
    let sources = Sources::new()?;
    let discovery = sources.discover(&a.sources, &filter)?;
    let mut v = backtrail_verify::verify(&sources, &a.sources, &discovery, &keys, &filter);
    let store = &a.store.store;
    if store.join("manifest.json").is_file() {
        let engine = backtrail_engine::Engine::open(store)?;
        let events: Vec<Event> = engine.select(&logging_sql(&filter))?;
        let buckets = backtrail_verify::trail_buckets(&v.report);
        backtrail_verify::attach_logging(&mut v.report, logging_events(&events, &buckets));
        save(store, &v)?;
    } else {
        v.report.notes.push(format!(
            "{} is not a backtrail store: logging changes were not looked for and the result \
             was not kept",
            store.display()
        ));
    }
    Output::json(&v.report)
        .text(Format::Text, || {
            Ok(backtrail_verify::render::text(&v.report))
        })
        .text(Format::Markdown, || {
            Ok(backtrail_verify::render::markdown(&v.report))
        })
        .print(a.format.into())?;
    if v.report.summary.problems {
        return Err(CliError::new(
            ExitStatus::Problems,
            "verification found problems (see the report)",
        ));
    }
    Ok(())
}

/// The store's calls that change logging, in the scope's time (an hour either side); every
/// account, since an organization trail is stopped from its management account.
fn logging_sql(filter: &Filter) -> String {
    let list = |names: &[&str]| {
        names
            .iter()
            .map(|n| backtrail_engine::lit(n))
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut sql = format!(
        "SELECT * FROM events WHERE ((event_source = 'cloudtrail.amazonaws.com' AND event_name IN ({})) \
         OR (event_source = 's3.amazonaws.com' AND event_name IN ({})))",
        list(&TRAIL_EVENTS),
        list(&BUCKET_EVENTS)
    );
    if let Some(s) = filter.since {
        sql.push_str(&format!(
            " AND CAST(event_time AS BIGINT) >= {}",
            s - HOUR_MS
        ));
    }
    if let Some(u) = filter.until {
        sql.push_str(&format!(
            " AND CAST(event_time AS BIGINT) <= {}",
            u + HOUR_MS
        ));
    }
    sql
}

/// Keeps the result beside the manifest: the report and the event index under new names,
/// then `integrity.json` naming them, replaced atomically (write, fsync, rename), under the
/// store's writer lock; the previous result's files go afterwards.
fn save(dir: &Path, v: &Verification) -> Result<(), CliError> {
    let store = Store::open(dir)?;
    let _lock = store.lock_for_writing()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let pointer = Pointer::new(now);
    let sub = dir.join(backtrail_verify::DIR);
    std::fs::create_dir_all(&sub).map_err(|e| backtrail_store::StoreError::io(&sub, e))?;
    let report = serde_json::to_vec(&v.report).expect("the report serializes");
    write_durably(&dir.join(&pointer.report), &report)?;
    write_durably(&dir.join(&pointer.events), &v.index.to_bytes())?;
    sync_dir(&sub);
    let tmp = dir.join(format!("{}.tmp", backtrail_verify::POINTER));
    let bytes = serde_json::to_vec(&pointer).expect("the pointer serializes");
    write_durably(&tmp, &bytes)?;
    let dst = dir.join(backtrail_verify::POINTER);
    std::fs::rename(&tmp, &dst).map_err(|e| backtrail_store::StoreError::io(&dst, e))?;
    sync_dir(dir);
    if let Ok(rd) = std::fs::read_dir(&sub) {
        for e in rd.flatten() {
            let rel = format!(
                "{}/{}",
                backtrail_verify::DIR,
                e.file_name().to_string_lossy()
            );
            if rel != pointer.report && rel != pointer.events {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(())
}
