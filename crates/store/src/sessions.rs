//! The merged `sessions` table: every segment's partial session rows folded together.

use crate::columns::{Builder, rows};
use crate::manifest::{Manifest, sync_dir};
use crate::{StoreError, parquet_props};
use backtrail_model::SessionSummary;
use backtrail_normalize::SessionAggregator;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::fs::File;
use std::path::Path;

/// Reads every row of a Parquet file of one of the store's tables.
pub fn read_table<T: crate::columns::Table>(path: &Path) -> Result<Vec<T>, StoreError> {
    let f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)?.build()?;
    let mut out = Vec::new();
    for batch in reader {
        out.extend(rows::<T>(&batch?).map_err(|e| StoreError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?);
    }
    Ok(out)
}

/// Saves `manifest` with a sessions table that covers every segment it lists: the segments
/// and the sessions derived from them become visible in the same rename, so a reader (or a
/// kill) never finds events whose sessions are missing.
///
/// The table is brought up to date by folding the session parts of the segments it does not
/// cover yet into it (merging is order-independent, so this equals merging every part) and
/// written under a new name. The table it replaces stays one commit longer, for readers
/// that opened the previous manifest; older ones are removed (and the next ingest removes
/// whatever the manifest does not list).
///
/// The identity index is brought up to date in the same commit ([`crate::index::refresh`]):
/// its new runs are durable before the manifest that lists them, and the runs they replace
/// are removed after it (a reader still holding the previous manifest that finds a run gone
/// reads that run's segments in full, so its answers do not change).
pub fn save_with_sessions(dir: &Path, manifest: &mut Manifest) -> Result<(), StoreError> {
    let replaced = if manifest.sessions_current() {
        None
    } else {
        refresh(dir, manifest)?
    };
    let replaced_runs = crate::index::refresh(dir, manifest)?;
    manifest.save(dir)?;
    for f in replaced_runs {
        let _ = std::fs::remove_file(dir.join(f));
    }
    if let Some(replaced) = replaced {
        let keep = [manifest.sessions_file.clone(), Some(replaced)];
        let sub = dir.join("sessions");
        if let Ok(rd) = std::fs::read_dir(&sub) {
            for e in rd.flatten() {
                let rel = format!("sessions/{}", e.file_name().to_string_lossy());
                if !keep.iter().flatten().any(|k| *k == rel) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
    }
    Ok(())
}

/// Writes the sessions table covering every segment of `manifest` and points the manifest
/// at it (unsaved); returns the table it replaces.
fn refresh(dir: &Path, manifest: &mut Manifest) -> Result<Option<String>, StoreError> {
    let mut agg = SessionAggregator::default();
    let covered = match (&manifest.sessions_file, manifest.sessions_upto_segment) {
        (Some(file), Some(upto)) => {
            for row in read_table::<SessionSummary>(&dir.join(file))? {
                agg.merge(row);
            }
            Some(upto)
        }
        _ => None,
    };
    for seg in &manifest.segments {
        if covered.is_some_and(|upto| seg.id <= upto) {
            continue;
        }
        for row in read_table::<SessionSummary>(&dir.join(&seg.session_parts_file))? {
            agg.merge(row);
        }
    }
    let rows = agg.finish();
    let upto = manifest.segments.iter().map(|s| s.id).max();
    let name = format!("sessions/sessions-{:08}.parquet", upto.unwrap_or(0));
    let tmp = dir.join(format!("{name}.tmp"));
    let f = File::create(&tmp).map_err(|e| StoreError::io(&tmp, e))?;
    let mut b = Builder::<SessionSummary>::new();
    let mut w = ArrowWriter::try_new(
        f,
        crate::columns::schema::<SessionSummary>(),
        Some(parquet_props(65_536, false)),
    )?;
    for chunk in rows.chunks(65_536) {
        for r in chunk {
            b.push(r);
        }
        w.write(&b.finish())?;
    }
    let f = w.into_inner()?;
    f.sync_all().map_err(|e| StoreError::io(&tmp, e))?;
    let dst = dir.join(&name);
    std::fs::rename(&tmp, &dst).map_err(|e| StoreError::io(&dst, e))?;
    sync_dir(&dir.join("sessions"));
    manifest.sessions_upto_segment = upto;
    Ok(manifest
        .sessions_file
        .replace(name.clone())
        .filter(|o| *o != name))
}
