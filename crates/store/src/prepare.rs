//! The ingest's work on the reading threads: a file's events become Arrow columns there,
//! with their identity hashes and derived rows (issuances, session aggregates), and row
//! groups are sorted and encoded there too. The single committer only decides duplicates,
//! cuts row groups and appends encoded ones to the segment file (see `ingest.rs`).

use crate::StoreError;
use crate::columns::{Builder, rows, schema};
use crate::ids::id_hash;
use arrow::array::{BooleanArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, filter_record_batch, lexsort_to_indices};
use backtrail_model::{Event, Issuance};
use backtrail_normalize::derive::SessionAggregator;
use backtrail_normalize::issuance_of;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowRowGroupWriterFactory, compute_leaves};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, mpsc};

/// Events of one piece of a file, as columns, with what the committer needs to decide
/// duplicates and what the segment derives from them.
pub(crate) struct Rows {
    pub batch: RecordBatch,
    /// [`id_hash`] of each row.
    pub hashes: Vec<u128>,
    pub times: Vec<i64>,
    /// String bytes of each row: row groups are cut where the byte bound falls.
    pub row_bytes: Vec<u32>,
    /// Issuances of the rows, in row order.
    pub issuances: Vec<Issuance>,
    pub sessions: SessionAggregator,
    /// Recipient accounts of the rows.
    pub accounts: BTreeSet<String>,
}

/// Appends events one at a time into [`Rows`].
pub(crate) struct RowsBuilder {
    columns: Builder<Event>,
    rows: Rows,
}

impl RowsBuilder {
    pub fn new() -> Self {
        RowsBuilder {
            columns: Builder::new(),
            rows: Rows {
                batch: RecordBatch::new_empty(schema::<Event>()),
                hashes: Vec::new(),
                times: Vec::new(),
                row_bytes: Vec::new(),
                issuances: Vec::new(),
                sessions: SessionAggregator::default(),
                accounts: BTreeSet::new(),
            },
        }
    }

    pub fn push(&mut self, ev: &Event) {
        let r = &mut self.rows;
        let before = self.columns.bytes();
        self.columns.push(ev);
        r.row_bytes
            .push(u32::try_from(self.columns.bytes() - before).unwrap_or(u32::MAX));
        r.hashes.push(id_hash(ev));
        r.times.push(ev.event_time);
        if let Some(i) = issuance_of(ev) {
            r.issuances.push(i);
        }
        r.sessions.add(ev);
        if let Some(a) = &ev.recipient_account_id
            && !r.accounts.contains(a)
        {
            r.accounts.insert(a.clone());
        }
    }

    pub fn len(&self) -> usize {
        self.rows.hashes.len()
    }

    /// The rows pushed so far; the builder is empty afterwards.
    pub fn finish(&mut self) -> Rows {
        let mut old = std::mem::replace(self, RowsBuilder::new());
        old.rows.batch = old.columns.finish();
        old.rows
    }
}

impl Rows {
    /// The columns and derived rows of `events`.
    pub fn of(events: &[Event]) -> Rows {
        let mut b = RowsBuilder::new();
        for ev in events {
            b.push(ev);
        }
        b.finish()
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Only the rows `keep` says (the committer found the others to be duplicates). Rare:
    /// the kept rows are read back into events and everything is derived again from them.
    pub fn only(self, keep: &[bool]) -> Result<Rows, StoreError> {
        let batch = filter_record_batch(&self.batch, &BooleanArray::from(keep.to_vec()))?;
        let events = rows::<Event>(&batch).map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(Rows::of(&events))
    }
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
    Ok(arrow::compute::take_record_batch(batch, &idx)?)
}

/// One row group to sort and encode: its rows in pieces, and the segment file's encoder
/// settings.
pub(crate) struct RowGroupJob {
    pub parts: Vec<RecordBatch>,
    pub factory: Arc<ArrowRowGroupWriterFactory>,
}

impl RowGroupJob {
    /// Sorts the rows and encodes every column chunk (compression, statistics, bloom
    /// filters), ready to be appended to the file as one row group.
    pub fn encode(self) -> Result<Vec<ArrowColumnChunk>, StoreError> {
        let schema = schema::<Event>();
        let batch = concat_batches(&schema, &self.parts)?;
        drop(self.parts);
        let batch = sort_for_lookup(&batch)?;
        let mut writers = self.factory.create_column_writers(0)?;
        for ((field, col), w) in schema
            .fields()
            .iter()
            .zip(batch.columns())
            .zip(writers.iter_mut())
        {
            for leaf in compute_leaves(field, col)? {
                w.write(&leaf)?;
            }
        }
        Ok(writers
            .into_iter()
            .map(|w| w.close())
            .collect::<Result<_, _>>()?)
    }
}

/// An encoded row group, or why encoding failed.
pub(crate) type Encoded = Result<Vec<ArrowColumnChunk>, StoreError>;

/// Row groups waiting to be encoded. The reading threads take them between files; the
/// committer takes one itself when they fall behind, and the rest before a commit.
pub(crate) struct Encoders {
    queue: Mutex<VecDeque<RowGroupJob>>,
    done: mpsc::Sender<Encoded>,
}

impl Encoders {
    /// A queue whose results arrive on the returned receiver.
    pub fn new() -> (Arc<Encoders>, mpsc::Receiver<Encoded>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(Encoders {
                queue: Mutex::new(VecDeque::new()),
                done: tx,
            }),
            rx,
        )
    }

    pub fn push(&self, job: RowGroupJob) {
        self.queue.lock().expect("queue lock").push_back(job);
    }

    pub fn waiting(&self) -> usize {
        self.queue.lock().expect("queue lock").len()
    }

    /// Encodes one waiting row group, if any; false when none was waiting.
    pub fn run_one(&self) -> bool {
        let job = self.queue.lock().expect("queue lock").pop_front();
        let Some(job) = job else {
            return false;
        };
        let result = job.encode();
        // The receiver is gone only when the ingest failed; the result no longer matters.
        let _ = self.done.send(result);
        true
    }
}
