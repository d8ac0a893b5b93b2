//! Ingest: sources in parallel, one writer, commits that survive being killed.
//!
//! Worker threads read, decompress and parse files, build their events' Arrow columns,
//! identity hashes and derived rows, and sort and encode row groups (`prepare.rs`); the
//! calling thread, the only committer, decides duplicates ([`LocalWriter::take`]), cuts row
//! groups, appends encoded ones to the current segment and commits ([`LocalWriter::commit`]).
//! A segment becomes visible only when the manifest that lists it is renamed into place,
//! together with the source files it completes, so a killed ingest is simply repeated by
//! the next one and every record ends up stored exactly once.

use crate::columns::Builder;
use crate::ids::{IdIndex, encode};
use crate::manifest::{Manifest, Segment, SourceRecord, sync_dir, write_durably};
use crate::prepare::{Encoded, Encoders, RowGroupJob, Rows, RowsBuilder};
use crate::{Store, StoreError, parquet_props, sessions};
use arrow::array::RecordBatch;
use arrow::compute::{SortColumn, lexsort_to_indices, take_record_batch};
use backtrail_model::{Event, Issuance};
use backtrail_normalize::derive::SessionAggregator;
use backtrail_normalize::{Batch, FileOutcome, StreamEnd, parse_stream};
use backtrail_sources::{Discovery, SourceFile, Sources};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory};
use parquet::file::writer::SerializedFileWriter;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Instant;

/// Tuning of one ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Rows per Parquet row group (sorted by access key, ARN and time within it).
    pub row_group_rows: usize,
    /// Rows per segment (one commit).
    pub segment_rows: u64,
    /// Committed event ids held in memory for duplicate checks (16 bytes each). A million:
    /// with four, a 10M-event ingest's memory climbed by about 70 MB over its first five
    /// segments and peaked at 545 MiB; with one, 473 MiB, in the same time (178 against
    /// 184 s, 313 against 320 user-s, back to back; docs/benchmarks.md).
    pub id_budget: usize,
    /// Worker threads for reading and parsing (0: one per core).
    pub threads: usize,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            row_group_rows: 65_536,
            segment_rows: 1_000_000,
            id_budget: 1_000_000,
            threads: 0,
        }
    }
}

/// A record or file that was not stored, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RejectEntry {
    pub file: String,
    /// Record index in the file; None when the whole file was rejected.
    pub record: Option<u64>,
    /// Byte offset in the decompressed file.
    pub offset: Option<u64>,
    pub reason: String,
}

/// A file recognised as not holding CloudTrail events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkipEntry {
    pub file: String,
    pub reason: String,
}

/// A problem that cost no record.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// What a reading thread hands the writer: a file's records a batch at a time (the index is
/// the file's in the run's list), then how the file ended (Err: it could not be opened).
enum Work {
    Batch(usize, Prepared),
    Done(usize, Prepared, Result<StreamEnd, String>),
}

/// A batch of a file's records as a reading thread hands it on: its events already as
/// columns with their hashes and derived rows, and its rejects and warnings.
#[derive(Default)]
struct Prepared {
    /// Events found (all in `rows`).
    events: u64,
    rows: Option<Rows>,
    /// The rejects and warnings (its `events` are in `rows`).
    rest: Batch,
}

impl Prepared {
    fn of(mut b: Batch) -> Self {
        let events = std::mem::take(&mut b.events);
        Prepared {
            events: events.len() as u64,
            rows: (!events.is_empty()).then(|| Rows::of(&events)),
            rest: b,
        }
    }
}

/// Reads one file a batch at a time into `send` (false: the writer is gone, stop). The last
/// batch is held back to travel with the file's end, so a small file is one message.
fn read_file(
    sources: &Sources,
    n: usize,
    f: &SourceFile,
    send: &mut dyn FnMut(Work) -> bool,
) -> bool {
    let mut held: Option<Prepared> = None;
    let mut open = true;
    let end = match sources.open(f) {
        Ok(reader) => Ok(parse_stream(
            reader,
            &mut |b| match held.replace(Prepared::of(b)) {
                Some(prev) => {
                    open = send(Work::Batch(n, prev));
                    open
                }
                None => true,
            },
        )),
        Err(e) => Err(e.to_string()),
    };
    open && send(Work::Done(n, held.unwrap_or_default(), end))
}

/// A file whose records are arriving: its report so far and what became of its events.
struct InFlight {
    report: FileReport,
    stored: u64,
    duplicates: u64,
}

struct OpenSegment {
    id: u64,
    writer: SerializedFileWriter<File>,
    /// Column writers for row groups of `writer`, made on any thread.
    factory: Arc<ArrowRowGroupWriterFactory>,
    tmp_path: std::path::PathBuf,
    rows: u64,
    min_time: i64,
    max_time: i64,
    issuances: Vec<Issuance>,
    sessions: SessionAggregator,
    rejects: Vec<String>,
    sources: Vec<(String, SourceRecord)>,
    accounts: BTreeSet<String>,
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
        let (mut run, todo) = self.begin(discovery)?;
        progress.start(todo.len() as u64, todo.iter().map(|f| f.size).sum());
        let mut ids = IdIndex::new(&self.dir, &run.manifest, opts.id_budget);
        let threads = if opts.threads == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            opts.threads
        };
        let (encoders, encoded) = Encoders::new();
        let mut out = SegmentWriter::new(&self.dir, opts, run.manifest.next_segment, "seg-".into());
        out.encoders = Some((encoders.clone(), encoded));
        let mut writer = LocalWriter { store: self, out };

        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Work>(threads * 2);
        let result: Result<(), StoreError> = std::thread::scope(|scope| {
            let todo = &todo;
            let encoders = &encoders;
            scope.spawn(move || {
                pool.install(|| {
                    use rayon::prelude::*;
                    todo.par_iter().enumerate().for_each_with(tx, |tx, (n, f)| {
                        // Row groups the committer cut are encoded before the next file.
                        while encoders.run_one() {}
                        // The receiver only goes away on a write error, which ends the run.
                        read_file(sources, n, f, &mut |w| tx.send(w).is_ok());
                    });
                });
            });
            let mut in_flight: HashMap<usize, InFlight> = HashMap::new();
            for work in rx.iter() {
                let (n, batch, end) = match work {
                    Work::Batch(n, b) => (n, b, None),
                    Work::Done(n, b, end) => (n, b, Some(end)),
                };
                let file = in_flight.entry(n).or_insert_with(|| InFlight {
                    report: FileReport::start(&todo[n]),
                    stored: 0,
                    duplicates: 0,
                });
                writer.take(file, batch, &mut ids)?;
                if let Some(end) = end
                    && let Some(mut file) = in_flight.remove(&n)
                {
                    file.report.finish(&end);
                    let stored = file.stored;
                    writer.done(file, &mut run.summary)?;
                    progress.file_done(run.summary.bytes_read, stored);
                }
                // Commits fall between files; a file of more records than a segment holds
                // is committed in parts (a re-run finds the committed part as duplicates).
                let rows = writer.out.rows();
                if rows >= opts.segment_rows
                    && (in_flight.is_empty() || rows >= 2 * opts.segment_rows)
                {
                    writer.commit(&mut ids, &mut run.manifest, &mut run.summary)?;
                }
            }
            writer.commit(&mut ids, &mut run.manifest, &mut run.summary)
        });
        result?;
        run.finish()
    }

    /// Starts an ingest: takes the writer lock, removes what a killed ingest left, and
    /// returns the run with the files that need reading (new or changed since they were
    /// ingested). [`Store::ingest`] reads and writes them here; a cluster reads and writes
    /// them elsewhere and lists the result with [`IngestRun::commit`].
    pub fn begin(
        &self,
        discovery: Discovery,
    ) -> Result<(IngestRun<'_>, Vec<SourceFile>), StoreError> {
        let started = Instant::now();
        let lock = self.lock_for_writing()?;
        let manifest = Manifest::load(&self.dir)?;
        self.remove_orphans(&manifest)?;
        let mut summary = IngestSummary {
            prefixes_listed: discovery.listed_prefixes,
            prefixes_pruned: discovery.pruned_prefixes,
            ..Default::default()
        };
        // Paths discovery could not take count as files: skipped, or rejected (and not
        // remembered, so a later ingest looks at them again).
        for p in discovery.problems {
            summary.files_seen += 1;
            if p.skipped {
                summary.files_skipped += 1;
                summary.skipped.push(SkipEntry {
                    file: p.path,
                    reason: p.reason,
                });
            } else {
                summary.files_rejected += 1;
                summary.rejects.push(RejectEntry {
                    file: p.path,
                    record: None,
                    offset: None,
                    reason: p.reason,
                });
            }
        }
        let mut todo = Vec::new();
        for f in discovery.files {
            summary.files_seen += 1;
            match manifest.sources.get(&f.key) {
                // A file that could not be read is read again, changed or not.
                Some(r)
                    if r.size == f.size && r.version == f.version && r.outcome != UNREADABLE =>
                {
                    summary.files_unchanged += 1;
                }
                _ => todo.push(f),
            }
        }
        let run = IngestRun {
            store: self,
            _lock: lock,
            manifest,
            summary,
            started,
        };
        Ok((run, todo))
    }

    pub(crate) fn remove_orphans(&self, manifest: &Manifest) -> Result<(), StoreError> {
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

/// One file's outcome before duplicates are looked for: everything the nothing-lost
/// accounting needs from the reader, whichever process (or cluster executor) read it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileReport {
    pub key: String,
    pub size: u64,
    pub version: String,
    /// Bytes fetched (0 when the file could not be read).
    pub raw_len: u64,
    pub bytes_decompressed: u64,
    /// read, skipped, rejected, or unreadable (read again by the next ingest).
    pub outcome: String,
    /// Records found: events plus rejected records.
    pub records: u64,
    /// Records rejected (the whole-file reject, if any, is in `rejects` but not counted here).
    pub rejected: u64,
    pub rejects: Vec<RejectEntry>,
    pub skipped: Option<String>,
    pub warnings: Vec<WarningEntry>,
}

/// The outcome of a file that could not be opened or failed while being read: such a file is
/// read again by the next ingest, even unchanged.
pub const UNREADABLE: &str = "unreadable";

impl FileReport {
    /// The report of a file about to be read: nothing found yet.
    pub fn start(file: &SourceFile) -> Self {
        FileReport {
            key: file.key.clone(),
            size: file.size,
            version: file.version.clone(),
            raw_len: 0,
            bytes_decompressed: 0,
            outcome: "rejected".into(),
            records: 0,
            rejected: 0,
            rejects: Vec::new(),
            skipped: None,
            warnings: Vec::new(),
        }
    }

    /// Counts one batch of the file's records (the caller stores its events).
    pub fn add(&mut self, b: &Batch) {
        self.add_found(b.events.len() as u64, b);
    }

    /// [`FileReport::add`] of a batch whose `events` events were taken out of it.
    fn add_found(&mut self, events: u64, b: &Batch) {
        self.records += events + b.rejects.len() as u64 + b.unlisted_rejects;
        self.rejected += b.rejects.len() as u64 + b.unlisted_rejects;
        let key = &self.key;
        self.rejects.extend(b.rejects.iter().map(|x| RejectEntry {
            file: key.clone(),
            record: Some(x.index),
            offset: Some(x.offset),
            reason: x.reason.clone(),
        }));
        self.warnings
            .extend(b.warnings.iter().map(|w| WarningEntry {
                file: key.clone(),
                offset: w.offset,
                message: w.message.clone(),
            }));
    }

    /// How the file ended: `Err` when it could not be opened.
    pub fn finish(&mut self, end: &Result<StreamEnd, String>) {
        let listed = self.rejects.iter().filter(|r| r.record.is_some()).count() as u64;
        if self.rejected > listed {
            self.warnings.push(WarningEntry {
                file: self.key.clone(),
                offset: 0,
                message: format!(
                    "{} more rejected record(s) counted but not listed (the first {} of a file are)",
                    self.rejected - listed,
                    backtrail_normalize::MAX_LISTED_REJECTS
                ),
            });
        }
        let end = match end {
            Err(reason) => {
                self.outcome = UNREADABLE.into();
                self.reject_file(format!("unreadable: {reason}"));
                return;
            }
            Ok(end) => end,
        };
        self.raw_len = end.raw_bytes;
        self.bytes_decompressed = end.bytes;
        match (&end.failed, &end.outcome) {
            // The records before the failure are kept; the file is read again next time.
            (Some(failed), _) => {
                self.outcome = UNREADABLE.into();
                self.reject_file(format!("unreadable: {failed}"));
            }
            (None, FileOutcome::Read(_)) => self.outcome = "read".into(),
            (None, FileOutcome::Skipped(reason)) => {
                self.outcome = "skipped".into();
                self.skipped = Some(reason.clone());
            }
            (None, FileOutcome::Rejected(reason)) => self.reject_file(reason.clone()),
        }
    }

    /// A reject of the file as a whole (not counted as a record).
    fn reject_file(&mut self, reason: String) {
        self.rejects.push(RejectEntry {
            file: self.key.clone(),
            record: None,
            offset: None,
            reason,
        });
    }

    /// The rejects as the lines of a segment's rejects file.
    pub fn reject_lines(&self) -> Vec<String> {
        self.rejects.iter().map(json_line).collect()
    }

    /// What the manifest keeps of the file, given what the writer did with its events.
    fn source_record(&self, stored: u64, duplicates: u64) -> SourceRecord {
        SourceRecord {
            size: self.size,
            version: self.version.clone(),
            outcome: self.outcome.clone(),
            records: self.records,
            stored,
            duplicates,
            rejected: self.rejected,
            segment: None,
        }
    }
}

impl IngestSummary {
    /// Counts one file, whose events were `stored` or found to be `duplicates`.
    fn add_file(&mut self, r: FileReport, stored: u64, duplicates: u64) {
        self.bytes_read += r.raw_len;
        self.bytes_decompressed += r.bytes_decompressed;
        match r.outcome.as_str() {
            "read" => self.files_read += 1,
            "skipped" => self.files_skipped += 1,
            _ => self.files_rejected += 1,
        }
        if let Some(reason) = r.skipped {
            self.skipped.push(SkipEntry {
                file: r.key.clone(),
                reason,
            });
        }
        self.records_seen += r.records;
        self.rejected += r.rejected;
        self.stored += stored;
        self.duplicates += duplicates;
        self.rejects.extend(r.rejects);
        self.warnings.extend(r.warnings);
    }
}

/// A segment whose files are durable under their final names, waiting to be listed in the
/// manifest (until then readers do not see it and the next ingest removes it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SealedSegment {
    pub segment: Segment,
    pub accounts: BTreeSet<String>,
    pub sources: Vec<(String, SourceRecord)>,
}

impl Manifest {
    /// Lists a sealed segment and the sources it completes.
    fn add_segment(&mut self, sealed: SealedSegment) {
        let id = sealed.segment.id;
        self.next_segment = self.next_segment.max(id + 1);
        self.segments.push(sealed.segment);
        self.accounts.extend(sealed.accounts);
        for (k, mut r) in sealed.sources {
            r.segment = Some(id);
            self.sources.insert(k, r);
        }
    }
}

/// Writes events into segments: sorted row groups, derived tables, id sidecar, rejects.
struct SegmentWriter {
    dir: PathBuf,
    row_group_rows: usize,
    open: Option<OpenSegment>,
    /// Id of the next segment.
    next_id: u64,
    /// Segment files are named `{prefix}{id:08}`: `seg-` for segments listed as written;
    /// a unique `part-...-` for writers on a cluster, whose segments get their ids (and
    /// names) when the coordinator lists them.
    prefix: String,
    /// Suffix of files being written: unique to this writer, so that a task the cluster
    /// re-runs while a lost attempt still writes never shares a half-written file.
    tmp: String,
    /// Where row groups are sorted and encoded: by the reading threads, their results
    /// arriving on the receiver; None: here, as they are cut.
    encoders: Option<(Arc<Encoders>, mpsc::Receiver<Encoded>)>,
    /// Row groups handed to the encoders and not appended yet.
    outstanding: usize,
    /// The rows of the row group being gathered, and their string bytes.
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    pending_bytes: usize,
}

impl SegmentWriter {
    fn new(dir: &Path, opts: &IngestOptions, first_id: u64, prefix: String) -> Self {
        SegmentWriter {
            dir: dir.to_path_buf(),
            row_group_rows: opts.row_group_rows,
            open: None,
            next_id: first_id,
            prefix,
            tmp: unique_tmp_suffix(),
            encoders: None,
            outstanding: 0,
            pending: Vec::new(),
            pending_rows: 0,
            pending_bytes: 0,
        }
    }

    fn segment(&mut self) -> Result<&mut OpenSegment, StoreError> {
        if self.open.is_none() {
            let id = self.next_id;
            self.next_id += 1;
            let tmp_path = self.dir.join(format!(
                "events/{}{id:08}.parquet.{}",
                self.prefix, self.tmp
            ));
            let f = File::create(&tmp_path).map_err(|e| StoreError::io(&tmp_path, e))?;
            // The Arrow writer sets up the file (schema, properties, Arrow metadata); its
            // row groups are encoded elsewhere and appended whole.
            let (writer, factory) = ArrowWriter::try_new(
                f,
                crate::columns::schema::<Event>(),
                Some(parquet_props(self.row_group_rows, true)),
            )?
            .into_serialized_writer()?;
            self.open = Some(OpenSegment {
                id,
                writer,
                factory: Arc::new(factory),
                tmp_path,
                rows: 0,
                min_time: i64::MAX,
                max_time: i64::MIN,
                issuances: Vec::new(),
                sessions: SessionAggregator::default(),
                rejects: Vec::new(),
                sources: Vec::new(),
                accounts: BTreeSet::new(),
            });
        }
        Ok(self.open.as_mut().expect("opened above"))
    }

    fn rows(&self) -> u64 {
        self.open.as_ref().map_or(0, |s| s.rows)
    }

    /// Stores rows found not to be duplicates. Row groups are cut where a single writer
    /// appending them one by one would: at `row_group_rows` rows or [`ROW_GROUP_BYTES`].
    fn add(&mut self, rows: Rows) -> Result<(), StoreError> {
        let n = rows.len();
        let seg = self.segment()?;
        seg.rows += n as u64;
        for &t in &rows.derived.times {
            seg.min_time = seg.min_time.min(t);
            seg.max_time = seg.max_time.max(t);
        }
        seg.issuances.extend(rows.derived.issuances);
        for s in rows.derived.sessions.finish() {
            seg.sessions.merge(s);
        }
        seg.accounts.extend(rows.derived.accounts);
        let mut start = 0;
        for (i, b) in rows.derived.row_bytes.iter().enumerate() {
            self.pending_rows += 1;
            self.pending_bytes += *b as usize;
            if self.pending_rows >= self.row_group_rows || self.pending_bytes >= ROW_GROUP_BYTES {
                self.pending.push(rows.batch.slice(start, i + 1 - start));
                start = i + 1;
                self.cut()?;
            }
        }
        if start < n {
            self.pending.push(rows.batch.slice(start, n - start));
        }
        self.collect(false)
    }

    /// Hands the gathered rows on as one row group.
    fn cut(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let job = RowGroupJob {
            parts: std::mem::take(&mut self.pending),
            factory: self.segment()?.factory.clone(),
        };
        self.pending_rows = 0;
        self.pending_bytes = 0;
        match &self.encoders {
            None => {
                let chunks = job.encode()?;
                self.append(chunks)
            }
            Some((encoders, _)) => {
                encoders.push(job);
                self.outstanding += 1;
                // The readers have not taken the previous one yet: encode one here, so
                // that at most one row group waits and memory stays bounded.
                if encoders.waiting() > 1 {
                    encoders.run_one();
                }
                Ok(())
            }
        }
    }

    /// Appends row groups the encoders finished; with `all`, waits for every one (encoding
    /// here those no reading thread took yet).
    fn collect(&mut self, all: bool) -> Result<(), StoreError> {
        while self.outstanding > 0 {
            let Some((encoders, rx)) = &self.encoders else {
                break;
            };
            let encoded = if all {
                while encoders.run_one() {}
                rx.recv()
                    .map_err(|_| StoreError::Other("row group encoders stopped".into()))?
            } else {
                match rx.try_recv() {
                    Ok(e) => e,
                    Err(_) => break,
                }
            };
            self.outstanding -= 1;
            self.append(encoded?)?;
        }
        Ok(())
    }

    fn append(&mut self, chunks: Vec<ArrowColumnChunk>) -> Result<(), StoreError> {
        let seg = self.open.as_mut().expect("rows imply a segment");
        let mut rg = seg.writer.next_row_group()?;
        for c in chunks {
            c.append_to_row_group(&mut rg)?;
        }
        rg.close()?;
        Ok(())
    }

    /// Makes the open segment's files durable under their final names; the caller lists
    /// it in the manifest. The ids index learns that its fresh ids are now committed.
    fn seal(&mut self, ids: &mut IdIndex) -> Result<Option<SealedSegment>, StoreError> {
        if self.open.is_some() {
            self.cut()?;
            self.collect(true)?;
        }
        let Some(seg) = self.open.take() else {
            return Ok(None);
        };
        let dir = &self.dir;
        let id = seg.id;
        let name = |sub: &str, ext: &str| format!("{sub}/{}{id:08}.{ext}", self.prefix);
        let events_file = name("events", "parquet");
        let issuances_file = name("issuances", "parquet");
        let session_parts_file = name("session_parts", "parquet");
        let ids_file = name("ids", "ids");
        let rejects_file = name("rejects", "jsonl");

        let tmp = |f: &str| dir.join(format!("{f}.{}", self.tmp));
        let f = seg.writer.into_inner()?;
        f.sync_all().map_err(|e| StoreError::io(&seg.tmp_path, e))?;
        drop(f);

        let mut ib = Builder::<Issuance>::new();
        for i in &seg.issuances {
            ib.push(i);
        }
        write_parquet_tmp(&tmp(&issuances_file), ib.finish())?;
        let session_rows = seg.sessions.finish();
        let mut sb = Builder::new();
        for s in &session_rows {
            sb.push(s);
        }
        write_parquet_tmp(&tmp(&session_parts_file), sb.finish())?;
        let fresh = ids.take_fresh();
        let (id_bytes, id_days) = encode(&fresh);
        write_durably(&tmp(&ids_file), &id_bytes)?;
        let mut rj = seg.rejects.join("\n");
        if !rj.is_empty() {
            rj.push('\n');
        }
        write_durably(&tmp(&rejects_file), rj.as_bytes())?;
        for f in [
            &events_file,
            &issuances_file,
            &session_parts_file,
            &ids_file,
            &rejects_file,
        ] {
            let from = tmp(f);
            let to = dir.join(f);
            std::fs::rename(&from, &to).map_err(|e| StoreError::io(&to, e))?;
        }
        for sub in crate::SUBDIRS {
            sync_dir(&dir.join(sub));
        }
        ids.committed(&ids_file, &id_days);
        Ok(Some(SealedSegment {
            segment: Segment {
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
            },
            accounts: seg.accounts,
            sources: seg.sources,
        }))
    }
}

/// The embedded ingest's writer: one segment at a time, each committed to the manifest
/// with the source files it completes.
struct LocalWriter<'a> {
    store: &'a Store,
    out: SegmentWriter,
}

impl LocalWriter<'_> {
    /// Takes one batch of a file's records: its events are stored unless duplicates. The
    /// one place the embedded ingest decides duplicates, in the order batches arrive.
    fn take(
        &mut self,
        file: &mut InFlight,
        batch: Prepared,
        ids: &mut IdIndex,
    ) -> Result<(), StoreError> {
        file.report.add_found(batch.events, &batch.rest);
        let Some(rows) = batch.rows else {
            return Ok(());
        };
        let keep = rows
            .derived
            .hashes
            .iter()
            .zip(&rows.derived.times)
            .map(|(h, t)| ids.insert_hash(*h, *t))
            .collect::<Result<Vec<bool>, _>>()?;
        let fresh = keep.iter().filter(|k| **k).count();
        file.stored += fresh as u64;
        file.duplicates += (keep.len() - fresh) as u64;
        match fresh {
            0 => Ok(()),
            f if f == keep.len() => self.out.add(rows),
            _ => self.out.add(rows.only(&keep)?),
        }
    }

    /// A file is done: its rejects and its record go with the open segment.
    fn done(&mut self, file: InFlight, summary: &mut IngestSummary) -> Result<(), StoreError> {
        let InFlight {
            report,
            stored,
            duplicates,
        } = file;
        let rec = report.source_record(stored, duplicates);
        let lines = report.reject_lines();
        let key = report.key.clone();
        summary.add_file(report, stored, duplicates);
        let seg = self.out.segment()?;
        seg.rejects.extend(lines);
        seg.sources.push((key, rec));
        Ok(())
    }

    /// Makes the open segment durable and visible, with the sources it completes.
    fn commit(
        &mut self,
        ids: &mut IdIndex,
        manifest: &mut Manifest,
        summary: &mut IngestSummary,
    ) -> Result<(), StoreError> {
        if let Some(sealed) = self.out.seal(ids)? {
            manifest.add_segment(sealed);
            sessions::save_with_sessions(&self.store.dir, manifest)?;
            summary.segments_written += 1;
        }
        Ok(())
    }
}

/// Events a [`PartitionWriter`] gathers before handing them to its segment.
const PARTITION_BATCH: usize = 4096;

/// Writes the events of one slice of the id space on a cluster executor: duplicates are
/// found against the committed store and everything this writer saw, and segments are
/// sealed but not listed; the coordinator lists them with [`IngestRun::commit`].
pub struct PartitionWriter {
    ids: IdIndex,
    out: SegmentWriter,
    /// Events found not to be duplicates, not yet handed to `out`.
    fresh: RowsBuilder,
    segment_rows: u64,
    sealed: Vec<SealedSegment>,
    files: BTreeMap<String, (u64, u64)>,
}

/// What one [`PartitionWriter`] wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PartitionOutput {
    pub segments: Vec<SealedSegment>,
    /// Per source file: events stored and duplicates dropped by this writer.
    pub files: BTreeMap<String, (u64, u64)>,
}

impl PartitionWriter {
    /// A writer into the store at `dir` whose committed content is `manifest`. Its
    /// segments are named uniquely (a re-run of the same work never shares a file with a
    /// lost attempt) and get their ids when listed.
    pub fn new(dir: &Path, manifest: &Manifest, opts: &IngestOptions) -> Self {
        PartitionWriter {
            ids: IdIndex::new(dir, manifest, opts.id_budget),
            out: SegmentWriter::new(dir, opts, 0, format!("part-{}-", unique_token())),
            fresh: RowsBuilder::new(),
            segment_rows: opts.segment_rows,
            sealed: Vec::new(),
            files: BTreeMap::new(),
        }
    }

    /// Stores one event read from `file`, unless it is a duplicate.
    pub fn push(&mut self, file: &str, ev: &Event) -> Result<(), StoreError> {
        let fresh = self.ids.insert(ev)?;
        let counts = match self.files.get_mut(file) {
            Some(c) => c,
            None => self.files.entry(file.to_string()).or_default(),
        };
        if fresh {
            counts.0 += 1;
            self.fresh.push(ev);
            if self.fresh.len() >= PARTITION_BATCH {
                self.out.add(self.fresh.finish())?;
                // Sealed only with every fresh id's event in the segment.
                if self.out.rows() >= self.segment_rows
                    && let Some(s) = self.out.seal(&mut self.ids)?
                {
                    self.sealed.push(s);
                }
            }
        } else {
            counts.1 += 1;
        }
        Ok(())
    }

    /// Keeps a file's rejected records in this writer's rejects file.
    pub fn add_rejects(&mut self, report: &FileReport) -> Result<(), StoreError> {
        let lines = report.reject_lines();
        if !lines.is_empty() {
            self.out.segment()?.rejects.extend(lines);
        }
        Ok(())
    }

    /// Seals the last segment and says what was written.
    pub fn finish(mut self) -> Result<PartitionOutput, StoreError> {
        if self.fresh.len() > 0 {
            self.out.add(self.fresh.finish())?;
        }
        if let Some(s) = self.out.seal(&mut self.ids)? {
            self.sealed.push(s);
        }
        Ok(PartitionOutput {
            segments: self.sealed,
            files: self.files,
        })
    }
}

/// An ingest in progress: it holds the writer lock and the manifest, and adds up the
/// summary. When files are read and written elsewhere (on a cluster), it checks that every
/// record is accounted for and lists the written segments ([`IngestRun::commit`]).
pub struct IngestRun<'a> {
    store: &'a Store,
    _lock: crate::WriteLock,
    manifest: Manifest,
    summary: IngestSummary,
    started: Instant,
}

impl<'a> IngestRun<'a> {
    /// The committed manifest, which writers check duplicates against.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Lists what one round of writers produced, once every record of every file in
    /// `reports` is stored, a duplicate or rejected; otherwise lists nothing and fails.
    pub fn commit(
        &mut self,
        mut reports: Vec<FileReport>,
        parts: Vec<PartitionOutput>,
    ) -> Result<(), StoreError> {
        // Writers answer in any order; the summary lists files in key order.
        reports.sort_by(|a, b| a.key.cmp(&b.key));
        let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut segments = Vec::new();
        for p in parts {
            for (k, (s, d)) in p.files {
                let c = counts.entry(k).or_default();
                c.0 += s;
                c.1 += d;
            }
            segments.extend(p.segments);
        }
        let mut per_file = Vec::with_capacity(reports.len());
        for r in &reports {
            let (s, d) = counts.remove(&r.key).unwrap_or_default();
            if s + d + r.rejected != r.records {
                return Err(StoreError::Other(format!(
                    "{}: {} records read but {s} stored, {d} duplicates and {} rejected; nothing committed",
                    r.key, r.records, r.rejected
                )));
            }
            per_file.push((s, d));
        }
        if let Some(k) = counts.keys().next() {
            return Err(StoreError::Other(format!(
                "{k}: events written without a report of the file; nothing committed"
            )));
        }
        // Ids in a stable order (by the files' unique names), then the files renamed to
        // match: until the manifest lists them, they are orphans to the next ingest.
        segments.sort_by(|a, b| a.segment.events_file.cmp(&b.segment.events_file));
        self.summary.segments_written += segments.len() as u64;
        let dir = self.store.dir.clone();
        for mut s in segments {
            let id = self.manifest.next_segment;
            rename_segment(&dir, &mut s.segment, id)?;
            self.manifest.add_segment(s);
        }
        for sub in crate::SUBDIRS {
            sync_dir(&dir.join(sub));
        }
        for (r, (s, d)) in reports.into_iter().zip(per_file) {
            self.manifest
                .sources
                .insert(r.key.clone(), r.source_record(s, d));
            self.summary.add_file(r, s, d);
        }
        sessions::save_with_sessions(&self.store.dir, &mut self.manifest)
    }

    /// Returns the summary of every round. Every commit brought the sessions table and the
    /// identity index up to date; a store whose table is behind its segments (left so by a
    /// version that rebuilt it only at the end of an ingest), that has segments no index
    /// run covers or its sources inline (written before either existed) is repaired here.
    pub fn finish(mut self) -> Result<IngestSummary, StoreError> {
        if !self.manifest.up_to_date() {
            sessions::save_with_sessions(&self.store.dir, &mut self.manifest)?;
        }
        self.summary.seconds = self.started.elapsed().as_secs_f64();
        Ok(self.summary)
    }
}

fn unique_tmp_suffix() -> String {
    format!("tmp-{}", unique_token())
}

/// Unique among the writers of one store, on any host: process, time and a counter.
fn unique_token() -> String {
    static WRITERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let host =
        xxhash_rust::xxh3::xxh3_64(std::env::var("HOSTNAME").unwrap_or_default().as_bytes()) as u16;
    format!("{host:04x}{:x}{nanos:x}{n}", std::process::id())
}

/// Gives a written segment its id: its files take the names `seg-{id}`.
fn rename_segment(dir: &Path, seg: &mut Segment, id: u64) -> Result<(), StoreError> {
    for f in [
        &mut seg.events_file,
        &mut seg.issuances_file,
        &mut seg.session_parts_file,
        &mut seg.ids_file,
        &mut seg.rejects_file,
    ] {
        let (sub, ext) = match (f.split_once('/'), f.rsplit_once('.')) {
            (Some((sub, _)), Some((_, ext))) => (sub.to_string(), ext.to_string()),
            _ => return Err(StoreError::Other(format!("unexpected segment file {f}"))),
        };
        let name = format!("{sub}/seg-{id:08}.{ext}");
        let to = dir.join(&name);
        std::fs::rename(dir.join(&*f), &to).map_err(|e| StoreError::io(&to, e))?;
        *f = name;
    }
    seg.id = id;
    Ok(())
}

fn json_line<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("reject entries serialize")
}

pub(crate) fn write_parquet_tmp(path: &Path, batch: RecordBatch) -> Result<(), StoreError> {
    let f = File::create(path).map_err(|e| StoreError::io(path, e))?;
    let mut w = ArrowWriter::try_new(f, batch.schema(), Some(parquet_props(1 << 20, false)))?;
    w.write(&batch)?;
    let f = w.into_inner()?;
    f.sync_all().map_err(|e| StoreError::io(path, e))?;
    Ok(())
}

/// Orders a row group by access key, ARN and time, so that one session's rows sit in few
/// pages and the page index can skip the rest.
pub(crate) fn sort_for_lookup(batch: &RecordBatch) -> Result<RecordBatch, StoreError> {
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
