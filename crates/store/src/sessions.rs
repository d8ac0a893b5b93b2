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

/// Rebuilds the sessions table from all segments and records it in the manifest.
pub fn rebuild(dir: &Path, manifest: &mut Manifest) -> Result<(), StoreError> {
    let mut agg = SessionAggregator::default();
    for seg in &manifest.segments {
        for row in read_table::<SessionSummary>(&dir.join(&seg.session_parts_file))? {
            agg.merge(row);
        }
    }
    let rows = agg.finish();
    let upto = manifest.segments.last().map(|s| s.id);
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
    let old = manifest.sessions_file.replace(name.clone());
    manifest.sessions_upto_segment = upto;
    manifest.save(dir)?;
    if let Some(old) = old.filter(|o| *o != name) {
        let _ = std::fs::remove_file(dir.join(old));
    }
    Ok(())
}
