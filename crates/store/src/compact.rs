//! Compaction: many small segments (an ingest of a few files at a time, or many cluster
//! writers) merged into fewer, so a query opens fewer files.
//!
//! Runs of consecutive segments (in the manifest's order) of at most `segment_rows` events
//! are each rewritten as one segment with a new id: events in row groups sorted by access
//! key, ARN and time as ingest writes them, issuances and rejects concatenated, session
//! parts merged, per-day id hashes merged, and the sources the old segments completed
//! pointed at the new one. Durability is ingest's: the new files are written under
//! temporary names, fsynced and renamed, then one manifest rename lists them instead of the
//! old ones (with the identity index brought up to date in the same commit), and only then
//! are the old files removed. A compaction killed at any moment leaves either the old
//! segments or the new ones listed, never both, and the files that are not listed are
//! removed by the next ingest or compaction.

use crate::columns::Builder;
use crate::ids::encode;
use crate::manifest::{IdDay, Manifest, Segment, sync_dir, write_durably};
use crate::sessions::read_table;
use crate::{Store, StoreError, parquet_props};
use arrow::array::RecordBatch;
use backtrail_model::{Issuance, SessionSummary};
use backtrail_normalize::SessionAggregator;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::path::Path;

/// Tuning of one compaction.
#[derive(Debug, Clone)]
pub struct CompactOptions {
    /// Most events a compacted segment holds (segments already this large stay).
    pub segment_rows: u64,
    /// Rows per row group of the rewritten events files.
    pub row_group_rows: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        CompactOptions {
            segment_rows: 1_000_000,
            row_group_rows: 65_536,
        }
    }
}

/// What a compaction did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CompactSummary {
    pub segments_before: u64,
    pub segments_after: u64,
    /// Events in the segments that were rewritten (the store's total does not change).
    pub events_rewritten: u64,
    pub seconds: f64,
}

/// Row groups are also cut at this much data, as ingest cuts them.
const ROW_GROUP_BYTES: usize = 48 * 1024 * 1024;

impl Store {
    /// Merges runs of small segments (see the module documentation). Holds the writer lock.
    pub fn compact(&self, opts: &CompactOptions) -> Result<CompactSummary, StoreError> {
        let started = std::time::Instant::now();
        let _lock = self.lock_for_writing()?;
        let mut manifest = Manifest::load(&self.dir)?;
        self.remove_orphans(&manifest)?;
        // The sessions table must cover every segment before ids change under it.
        if !manifest.sessions_current() {
            crate::sessions::save_with_sessions(&self.dir, &mut manifest)?;
        }
        let mut summary = CompactSummary {
            segments_before: manifest.segments.len() as u64,
            ..Default::default()
        };
        let groups = plan(&manifest.segments, opts.segment_rows);
        let mut segments = Vec::new();
        let mut old_files = Vec::new();
        let mut moved: BTreeMap<u64, u64> = BTreeMap::new();
        for group in groups {
            let olds = &manifest.segments[group];
            if olds.len() < 2 {
                segments.extend(olds.iter().cloned());
                continue;
            }
            let id = manifest.next_segment;
            manifest.next_segment += 1;
            let seg = self.rewrite(olds, id, opts)?;
            summary.events_rewritten += seg.rows;
            for o in olds {
                moved.insert(o.id, id);
                old_files.extend(segment_files(o).into_iter().cloned());
            }
            segments.push(seg);
        }
        if moved.is_empty() {
            summary.segments_after = manifest.segments.len() as u64;
            if !manifest.up_to_date() {
                crate::sessions::save_with_sessions(&self.dir, &mut manifest)?;
            }
            summary.seconds = started.elapsed().as_secs_f64();
            return Ok(summary);
        }
        for sub in crate::SUBDIRS {
            sync_dir(&self.dir.join(sub));
        }
        manifest.segments = segments;
        for r in manifest.sources.values_mut() {
            if let Some(new) = r.segment.and_then(|s| moved.get(&s)) {
                r.segment = Some(*new);
            }
        }
        // The sessions table still covers every event, now under the new ids.
        manifest.sessions_upto_segment = manifest.segments.iter().map(|s| s.id).max();
        summary.segments_after = manifest.segments.len() as u64;
        crate::sessions::save_with_sessions(&self.dir, &mut manifest)?;
        for f in old_files {
            let _ = std::fs::remove_file(self.dir.join(f));
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// Writes the segments `olds` as one segment `id`, durable under its final names.
    fn rewrite(
        &self,
        olds: &[Segment],
        id: u64,
        opts: &CompactOptions,
    ) -> Result<Segment, StoreError> {
        let dir = &self.dir;
        let name = |sub: &str, ext: &str| format!("{sub}/seg-{id:08}.{ext}");
        let seg = Segment {
            id,
            events_file: name("events", "parquet"),
            issuances_file: name("issuances", "parquet"),
            session_parts_file: name("session_parts", "parquet"),
            ids_file: name("ids", "ids"),
            rejects_file: name("rejects", "jsonl"),
            rows: olds.iter().map(|s| s.rows).sum(),
            issuances: olds.iter().map(|s| s.issuances).sum(),
            min_time: olds
                .iter()
                .filter(|s| s.rows > 0)
                .map(|s| s.min_time)
                .min()
                .unwrap_or(0),
            max_time: olds
                .iter()
                .filter(|s| s.rows > 0)
                .map(|s| s.max_time)
                .max()
                .unwrap_or(0),
            id_days: Vec::new(),
        };
        let tmp = |f: &str| dir.join(format!("{f}.tmp"));
        copy_events(dir, olds, &tmp(&seg.events_file), opts.row_group_rows)?;

        let mut issuances = Builder::<Issuance>::new();
        for o in olds {
            for i in read_table::<Issuance>(&dir.join(&o.issuances_file))? {
                issuances.push(&i);
            }
        }
        crate::ingest::write_parquet_tmp(&tmp(&seg.issuances_file), issuances.finish())?;

        let mut agg = SessionAggregator::default();
        for o in olds {
            for row in read_table::<SessionSummary>(&dir.join(&o.session_parts_file))? {
                agg.merge(row);
            }
        }
        let mut parts = Builder::<SessionSummary>::new();
        for r in agg.finish() {
            parts.push(&r);
        }
        crate::ingest::write_parquet_tmp(&tmp(&seg.session_parts_file), parts.finish())?;

        let (bytes, days) = encode(&merged_ids(dir, olds)?);
        write_durably(&tmp(&seg.ids_file), &bytes)?;

        let mut rejects = Vec::new();
        for o in olds {
            let p = dir.join(&o.rejects_file);
            rejects.extend(std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?);
        }
        write_durably(&tmp(&seg.rejects_file), &rejects)?;

        for f in segment_files(&seg) {
            let to = dir.join(f);
            std::fs::rename(tmp(f), &to).map_err(|e| StoreError::io(&to, e))?;
        }
        Ok(Segment {
            id_days: days,
            ..seg
        })
    }
}

/// Consecutive runs of segments of at most `rows` events together.
fn plan(segments: &[Segment], rows: u64) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut sum = 0u64;
    for (i, s) in segments.iter().enumerate() {
        if i > start && sum + s.rows > rows {
            out.push(start..i);
            start = i;
            sum = 0;
        }
        sum += s.rows;
    }
    if start < segments.len() {
        out.push(start..segments.len());
    }
    out
}

/// The five files of a segment.
fn segment_files(s: &Segment) -> [&String; 5] {
    [
        &s.events_file,
        &s.issuances_file,
        &s.session_parts_file,
        &s.ids_file,
        &s.rejects_file,
    ]
}

/// Copies the events of `olds`, in order, into row groups sorted for lookups.
fn copy_events(dir: &Path, olds: &[Segment], to: &Path, rows: usize) -> Result<(), StoreError> {
    let schema = crate::columns::schema::<backtrail_model::Event>();
    let f = File::create(to).map_err(|e| StoreError::io(to, e))?;
    let mut w = ArrowWriter::try_new(f, schema.clone(), Some(parquet_props(rows, true)))?;
    let mut held: Vec<RecordBatch> = Vec::new();
    let (mut held_rows, mut held_bytes) = (0usize, 0usize);
    let flush =
        |held: &mut Vec<RecordBatch>, w: &mut ArrowWriter<File>| -> Result<(), StoreError> {
            if held.is_empty() {
                return Ok(());
            }
            let batch = arrow::compute::concat_batches(&schema, held.iter())?;
            held.clear();
            w.write(&crate::ingest::sort_for_lookup(&batch)?)?;
            w.flush()?;
            Ok(())
        };
    for o in olds {
        let p = dir.join(&o.events_file);
        let file = File::open(&p).map_err(|e| StoreError::io(&p, e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)?
            .with_batch_size(8192)
            .build()?;
        for batch in reader {
            let batch = batch?;
            let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())?;
            held_rows += batch.num_rows();
            held_bytes += batch.get_array_memory_size();
            held.push(batch);
            if held_rows >= rows || held_bytes >= ROW_GROUP_BYTES {
                flush(&mut held, &mut w)?;
                held_rows = 0;
                held_bytes = 0;
            }
        }
    }
    flush(&mut held, &mut w)?;
    let f = w.into_inner()?;
    f.sync_all().map_err(|e| StoreError::io(to, e))?;
    Ok(())
}

/// The per-day id hashes of `olds`, merged, sorted per day.
fn merged_ids(dir: &Path, olds: &[Segment]) -> Result<Vec<(i32, Vec<u128>)>, StoreError> {
    let mut days: BTreeMap<i32, HashSet<u128>> = BTreeMap::new();
    for o in olds {
        let p = dir.join(&o.ids_file);
        let bytes = std::fs::read(&p).map_err(|e| StoreError::io(&p, e))?;
        for IdDay { day, offset, count } in &o.id_days {
            let range = *offset as usize..(*offset + count * 16) as usize;
            let slice = bytes.get(range).ok_or_else(|| StoreError::Corrupt {
                path: p.clone(),
                message: format!("day {day} beyond the end of the file"),
            })?;
            days.entry(*day).or_default().extend(
                slice
                    .chunks_exact(16)
                    .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes"))),
            );
        }
    }
    Ok(days
        .into_iter()
        .map(|(d, set)| {
            let mut v: Vec<u128> = set.into_iter().collect();
            v.sort_unstable();
            (d, v)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, rows: u64) -> Segment {
        Segment {
            id,
            events_file: String::new(),
            issuances_file: String::new(),
            session_parts_file: String::new(),
            ids_file: String::new(),
            rejects_file: String::new(),
            rows,
            issuances: 0,
            min_time: 0,
            max_time: 0,
            id_days: Vec::new(),
        }
    }

    #[test]
    fn plans_consecutive_runs_within_the_size() {
        let s: Vec<Segment> = [3, 3, 3, 10, 2, 2, 9, 1]
            .iter()
            .enumerate()
            .map(|(i, r)| seg(i as u64, *r))
            .collect();
        assert_eq!(plan(&s, 9), vec![0..3, 3..4, 4..6, 6..7, 7..8]);
        assert_eq!(plan(&[], 9), Vec::<std::ops::Range<usize>>::new());
    }
}
