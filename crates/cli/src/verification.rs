//! `verify`'s work on the store: the logging changes it holds, and the result kept beside
//! the manifest for `investigate`.

use crate::CliError;
use backtrail_model::Event;
use backtrail_sources::Filter;
use backtrail_store::Store;
use backtrail_store::manifest::{sync_dir, write_durably};
use backtrail_verify::logging::{BUCKET_EVENTS, TRAIL_EVENTS, logging_events};
use backtrail_verify::{Pointer, Verification};
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;

/// Adds to the report the store's calls that change logging of the trails it names.
pub fn attach_logging(store: &Path, filter: &Filter, v: &mut Verification) -> Result<(), CliError> {
    let engine = backtrail_engine::Engine::open(store)?;
    let events: Vec<Event> = engine.select(&logging_sql(filter))?;
    let buckets = backtrail_verify::trail_buckets(&v.report);
    backtrail_verify::attach_logging(&mut v.report, logging_events(&events, &buckets));
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
pub fn save(dir: &Path, v: &Verification) -> Result<(), CliError> {
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
