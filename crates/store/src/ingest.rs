//! Ingest: sources in parallel, one writer, commits that survive being killed.
//!
//! Worker threads read, decompress and parse files; the calling thread removes duplicates,
//! appends to Arrow builders, and writes sorted row groups into the current segment. A
//! segment becomes visible only when the manifest that lists it is renamed into place,
//! together with the source files it completes, so a killed ingest is simply repeated by
//! the next one and every record ends up stored exactly once.

use crate::columns::Builder;
use crate::ids::{IdIndex, encode};
use crate::manifest::{Manifest, Segment, SourceRecord, sync_dir, write_durably};
use crate::{Store, StoreError, parquet_props, sessions};
use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use backtrail_model::{Event, Issuance};
use backtrail_normalize::derive::SessionAggregator;
use backtrail_normalize::{FileOutcome, ParsedFile, issuance_of, parse_file};
use backtrail_sources::{Discovery, SourceFile, Sources};
use parquet::arrow::ArrowWriter;
use serde::Serialize;
use std::fs::File;
use std::path::Path;
use std::time::Instant;

/// Tuning of one ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Rows per Parquet row group (sorted by access key, ARN and time within it).
    pub row_group_rows: usize,
    /// Rows per segment (one commit).
    pub segment_rows: u64,
    /// Committed event ids held in memory for duplicate checks.
    pub id_budget: usize,
    /// Worker threads for reading and parsing (0: one per core).
    pub threads: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            row_group_rows: 65_536,
            segment_rows: 1_000_000,
            id_budget: 4_000_000,
            threads: 0,
        }
    }
}

/// A record or file that was not stored, and why.
#[derive(Debug, Clone, Serialize)]
pub struct RejectEntry {
    pub file: String,
    /// Record index in the file; None when the whole file was rejected.
    pub record: Option<u64>,
    /// Byte offset in the decompressed file.
    pub offset: Option<u64>,
    pub reason: String,
}

/// A file recognised as not holding CloudTrail events.
#[derive(Debug, Clone, Serialize)]
pub struct SkipEntry {
    pub file: String,
    pub reason: String,
}

/// A problem that cost no record.
#[derive(Debug, Clone, Serialize)]
pub struct WarningEntry {
    pub file: String,
    pub offset: u64,
    pub message: String,
}

/// What an ingest did. The counts add up: `files_seen = files_read + files_skipped +
/// files_rejected + files_unchanged` and `records_seen = stored + duplicates + rejected`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestSummary {
    pub files_seen: u64,
    pub files_read: u64,
    pub files_skipped: u64,
    pub files_rejected: u64,
    /// Already ingested with the same size and version: not read again.
    pub files_unchanged: u64,
    pub records_seen: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub bytes_read: u64,
    pub bytes_decompressed: u64,
    pub seconds: f64,
    pub segments_written: u64,
    pub prefixes_listed: u64,
    pub prefixes_pruned: u64,
    pub rejects: Vec<RejectEntry>,
    pub skipped: Vec<SkipEntry>,
    pub warnings: Vec<WarningEntry>,
}

/// Told about progress; the CLI draws a bar with it.
pub trait Progress: Sync {
    /// Files to read in this run, and their total size.
    fn start(&self, files: u64, bytes: u64);
    /// One file done.
    fn file_done(&self, bytes: u64, events: u64);
}

/// A progress sink that shows nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: u64, _: u64) {}
    fn file_done(&self, _: u64, _: u64) {}
}

/// Row groups are cut at this much string data too, which bounds the writer's memory
/// (the batch and its sorted copy) whatever the record sizes.
const ROW_GROUP_BYTES: usize = 48 * 1024 * 1024;

struct Work {
    file: SourceFile,
    parsed: Result<ParsedFile, String>,
    raw_len: u64,
}

struct OpenSegment {
    id: u64,
    writer: ArrowWriter<File>,
    tmp_path: std::path::PathBuf,
    rows: u64,
    min_time: i64,
    max_time: i64,
    issuances: Vec<Issuance>,
    sessions: SessionAggregator,
    rejects: Vec<String>,
    sources: Vec<(String, SourceRecord)>,
    accounts: std::collections::BTreeSet<String>,
}

impl Store {
    /// Ingests `discovery.files` into the store. Holds the store's writer lock throughout.
    pub fn ingest(
        &self,
        sources: &Sources,
        discovery: Discovery,
        opts: &IngestOptions,
        progress: &dyn Progress,
    ) -> Result<IngestSummary, StoreError> {
        let started = Instant::now();
        let _lock = self.lock_for_writing()?;
        let mut manifest = Manifest::load(&self.dir)?;
        self.remove_orphans(&manifest)?;
        let mut summary = IngestSummary {
            prefixes_listed: discovery.listed_prefixes,
            prefixes_pruned: discovery.pruned_prefixes,
            ..Default::default()
        };
        let mut todo = Vec::new();
        for f in discovery.files {
            summary.files_seen += 1;
            match manifest.sources.get(&f.key) {
                Some(r) if r.size == f.size && r.version == f.version => {
                    summary.files_unchanged += 1;
                }
                _ => todo.push(f),
            }
        }
        progress.start(todo.len() as u64, todo.iter().map(|f| f.size).sum());
        let mut ids = IdIndex::new(&self.dir, &manifest, opts.id_budget);
        let mut writer = SegmentWriter {
            store: self,
            opts,
            builder: Builder::new(),
            open: None,
        };

        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            opts.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(threads * 2);
        let result: Result<(), StoreError> = std::thread::scope(|scope| {
            let todo = &todo;
            scope.spawn(move || {
                pool.install(|| {
                    use rayon::prelude::*;
                    todo.par_iter().for_each_with(tx, |tx, f| {
                        let (parsed, raw_len) = match sources.read(f) {
                            Ok(raw) => (Ok(parse_file(&raw)), raw.len() as u64),
                            Err(e) => (Err(e.to_string()), 0),
                        };
                        // The receiver only goes away on a write error, which ends the run.
                        let _ = tx.send(Work {
                            file: f.clone(),
                            parsed,
                            raw_len,
                        });
                    });
                });
            });
            for work in rx.iter() {
                let events = writer.take(work, &mut ids, &mut summary, &mut manifest)?;
                progress.file_done(summary.bytes_read, events);
                if writer
                    .open
                    .as_ref()
                    .is_some_and(|s| s.rows >= opts.segment_rows)
                {
                    writer.commit(&mut ids, &mut manifest, &mut summary)?;
                }
            }
            writer.commit(&mut ids, &mut manifest, &mut summary)
        });
        result?;
        if !manifest.sessions_current() {
            sessions::rebuild(&self.dir, &mut manifest)?;
        }
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    fn remove_orphans(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let keep: std::collections::HashSet<String> =
            manifest.referenced_files().into_iter().collect();
        for sub in crate::SUBDIRS {
            let d = self.dir.join(sub);
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let rel = format!("{sub}/{}", e.file_name().to_string_lossy());
                if !keep.contains(&rel) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(())
    }
}

struct SegmentWriter<'a> {
    store: &'a Store,
    opts: &'a IngestOptions,
    builder: Builder<Event>,
    open: Option<OpenSegment>,
}

impl SegmentWriter<'_> {
    fn segment(&mut self, manifest: &mut Manifest) -> Result<&mut OpenSegment, StoreError> {
        if self.open.is_none() {
            let id = manifest.next_segment;
            manifest.next_segment += 1;
            let tmp_path = self
                .store
                .dir
                .join(format!("events/seg-{id:08}.parquet.tmp"));
            let f = File::create(&tmp_path).map_err(|e| StoreError::io(&tmp_path, e))?;
            let writer = ArrowWriter::try_new(
                f,
                crate::columns::schema::<Event>(),
                Some(parquet_props(self.opts.row_group_rows, true)),
            )?;
            self.open = Some(OpenSegment {
                id,
                writer,
                tmp_path,
                rows: 0,
                min_time: i64::MAX,
                max_time: i64::MIN,
                issuances: Vec::new(),
                sessions: SessionAggregator::default(),
                rejects: Vec::new(),
                sources: Vec::new(),
                accounts: std::collections::BTreeSet::new(),
            });
        }
        Ok(self.open.as_mut().expect("opened above"))
    }

    /// Takes one file's records; returns how many were stored.
    fn take(
        &mut self,
        work: Work,
        ids: &mut IdIndex,
        summary: &mut IngestSummary,
        manifest: &mut Manifest,
    ) -> Result<u64, StoreError> {
        let key = work.file.key.clone();
        summary.bytes_read += work.raw_len;
        let mut rec = SourceRecord {
            size: work.file.size,
            version: work.file.version.clone(),
            ..Default::default()
        };
        let mut reject_lines = Vec::new();
        match work.parsed {
            Err(reason) => {
                summary.files_rejected += 1;
                rec.outcome = "rejected".into();
                let r = RejectEntry {
                    file: key.clone(),
                    record: None,
                    offset: None,
                    reason: format!("unreadable: {reason}"),
                };
                reject_lines.push(json_line(&r));
                summary.rejects.push(r);
            }
            Ok(pf) => {
                summary.bytes_decompressed += pf.bytes;
                match &pf.outcome {
                    FileOutcome::Read(_) => {
                        summary.files_read += 1;
                        rec.outcome = "read".into();
                    }
                    FileOutcome::Skipped(reason) => {
                        summary.files_skipped += 1;
                        rec.outcome = "skipped".into();
                        summary.skipped.push(SkipEntry {
                            file: key.clone(),
                            reason: reason.clone(),
                        });
                    }
                    FileOutcome::Rejected(reason) => {
                        summary.files_rejected += 1;
                        rec.outcome = "rejected".into();
                        let r = RejectEntry {
                            file: key.clone(),
                            record: None,
                            offset: None,
                            reason: reason.clone(),
                        };
                        reject_lines.push(json_line(&r));
                        summary.rejects.push(r);
                    }
                }
                for w in &pf.warnings {
                    summary.warnings.push(WarningEntry {
                        file: key.clone(),
                        offset: w.offset,
                        message: w.message.clone(),
                    });
                }
                rec.records = pf.records_seen();
                rec.rejected = pf.rejects.len() as u64;
                for r in pf.rejects {
                    let r = RejectEntry {
                        file: key.clone(),
                        record: Some(r.index),
                        offset: Some(r.offset),
                        reason: r.reason,
                    };
                    reject_lines.push(json_line(&r));
                    summary.rejects.push(r);
                }
                for ev in &pf.events {
                    if !ids.insert(
                        &ev.event_id,
                        ev.recipient_account_id.as_deref(),
                        ev.event_time,
                    )? {
                        rec.duplicates += 1;
                        continue;
                    }
                    rec.stored += 1;
                    self.push(ev, manifest)?;
                }
            }
        }
        summary.records_seen += rec.records;
        summary.stored += rec.stored;
        summary.duplicates += rec.duplicates;
        summary.rejected += rec.rejected;
        let stored = rec.stored;
        let seg = self.segment(manifest)?;
        seg.rejects.extend(reject_lines);
        seg.sources.push((key, rec));
        Ok(stored)
    }

    /// Events are passed by reference all the way: an `Event` is over a kilobyte, and
    /// moving it per stage showed up as the writer's largest cost.
    fn push(&mut self, ev: &Event, manifest: &mut Manifest) -> Result<(), StoreError> {
        let seg = self.segment(manifest)?;
        seg.rows += 1;
        seg.min_time = seg.min_time.min(ev.event_time);
        seg.max_time = seg.max_time.max(ev.event_time);
        if let Some(i) = issuance_of(ev) {
            seg.issuances.push(i);
        }
        seg.sessions.add(ev);
        if let Some(a) = &ev.recipient_account_id
            && !seg.accounts.contains(a)
        {
            seg.accounts.insert(a.clone());
        }
        self.builder.push(ev);
        if self.builder.len() >= self.opts.row_group_rows || self.builder.bytes() >= ROW_GROUP_BYTES
        {
            self.flush_row_group()?;
        }
        Ok(())
    }

    fn flush_row_group(&mut self) -> Result<(), StoreError> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let batch = sort_for_lookup(&self.builder.finish())?;
        let seg = self.open.as_mut().expect("rows imply a segment");
        seg.writer.write(&batch)?;
        seg.writer.flush()?;
        Ok(())
    }

    /// Makes the open segment durable and visible, with the sources it completes.
    fn commit(
        &mut self,
        ids: &mut IdIndex,
        manifest: &mut Manifest,
        summary: &mut IngestSummary,
    ) -> Result<(), StoreError> {
        self.flush_row_group()?;
        let Some(seg) = self.open.take() else {
            return Ok(());
        };
        let dir = &self.store.dir;
        let id = seg.id;
        let name = |sub: &str, ext: &str| format!("{sub}/seg-{id:08}.{ext}");
        let events_file = name("events", "parquet");
        let issuances_file = name("issuances", "parquet");
        let session_parts_file = name("session_parts", "parquet");
        let ids_file = name("ids", "ids");
        let rejects_file = name("rejects", "jsonl");

        let f = seg.writer.into_inner()?;
        f.sync_all().map_err(|e| StoreError::io(&seg.tmp_path, e))?;
        drop(f);

        let mut ib = Builder::<Issuance>::new();
        for i in &seg.issuances {
            ib.push(i);
        }
        write_parquet_tmp(&dir.join(format!("{issuances_file}.tmp")), ib.finish())?;
        let session_rows = seg.sessions.finish();
        let mut sb = Builder::new();
        for s in &session_rows {
            sb.push(s);
        }
        write_parquet_tmp(&dir.join(format!("{session_parts_file}.tmp")), sb.finish())?;
        let fresh = ids.take_fresh();
        let (id_bytes, id_days) = encode(&fresh);
        write_durably(&dir.join(format!("{ids_file}.tmp")), &id_bytes)?;
        let mut rj = seg.rejects.join("\n");
        if !rj.is_empty() {
            rj.push('\n');
        }
        write_durably(&dir.join(format!("{rejects_file}.tmp")), rj.as_bytes())?;
        for f in [
            &events_file,
            &issuances_file,
            &session_parts_file,
            &ids_file,
            &rejects_file,
        ] {
            let from = dir.join(format!("{f}.tmp"));
            let to = dir.join(f);
            std::fs::rename(&from, &to).map_err(|e| StoreError::io(&to, e))?;
        }
        for sub in crate::SUBDIRS {
            sync_dir(&dir.join(sub));
        }
        ids.committed(&ids_file, &id_days, fresh);
        manifest.segments.push(Segment {
            id,
            events_file,
            issuances_file,
            session_parts_file,
            ids_file,
            rejects_file,
            rows: seg.rows,
            issuances: seg.issuances.len() as u64,
            min_time: if seg.rows == 0 { 0 } else { seg.min_time },
            max_time: if seg.rows == 0 { 0 } else { seg.max_time },
            id_days,
        });
        manifest.accounts.extend(seg.accounts);
        for (k, mut r) in seg.sources {
            r.segment = Some(id);
            manifest.sources.insert(k, r);
        }
        manifest.save(dir)?;
        summary.segments_written += 1;
        Ok(())
    }
}

fn json_line<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("reject entries serialize")
}

fn write_parquet_tmp(path: &Path, batch: RecordBatch) -> Result<(), StoreError> {
    let f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(parquet_props(1 << 20, false)))?;
    w.write(&batch)?;
    let f = w.into_inner()?;
    f.sync_all().map_err(|e| StoreError::io(path, e))?;
    Ok(())
}

/// Orders a row group by access key, ARN and time, so that one session's rows sit in few
/// pages and the page index can skip the rest.
fn sort_for_lookup(batch: &RecordBatch) -> Result<RecordBatch, StoreError> {
    let col = |n: &str| batch.column_by_name(n).expect("events schema").clone();
    let opts = arrow::compute::SortOptions {
        descending: false,
        nulls_first: false,
    };
    let cols = ["access_key_id", "arn", "event_time"].map(|n| SortColumn {
        values: col(n),
        options: Some(opts),
    });
    let idx = lexsort_to_indices(&cols, None)?;
    Ok(take_record_batch(batch, &idx)?)
}
