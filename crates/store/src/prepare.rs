//! The ingest's work on the reading threads: a file's events become Arrow columns there,
//! with their identity hashes and derived rows (issuances, session aggregates), and row
//! groups are sorted and encoded there too. The single committer only decides duplicates,
//! cuts row groups and appends encoded ones to the segment file (see `ingest.rs`).

use crate::StoreError;
use crate::columns::{Builder, rows, schema};
use crate::ids::id_hash;
use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, RecordBatch, StringArray,
    StringBuilder, TimestampMillisecondArray, TimestampMillisecondBuilder,
};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, TimeUnit};
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
    pub derived: Derived,
}

/// What [`Rows`] holds besides the columns, one entry per row where it is per row.
#[derive(Default)]
pub(crate) struct Derived {
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
    derived: Derived,
}

impl RowsBuilder {
    pub fn new() -> Self {
        Self::with_columns(Builder::new())
    }

    fn with_columns(columns: Builder<Event>) -> Self {
        RowsBuilder {
            columns,
            derived: Derived::default(),
        }
    }

    pub fn push(&mut self, ev: &Event) {
        let r = &mut self.derived;
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
        self.derived.hashes.len()
    }

    /// The rows pushed so far; the builder is empty afterwards.
    pub fn finish(&mut self) -> Rows {
        Rows {
            batch: self.columns.finish(),
            derived: std::mem::take(&mut self.derived),
        }
    }
}

impl Rows {
    /// The columns and derived rows of `events`.
    pub fn of(events: &[Event]) -> Rows {
        let mut b = RowsBuilder::with_columns(Builder::for_rows(events));
        for ev in events {
            b.push(ev);
        }
        b.finish()
    }

    pub fn len(&self) -> usize {
        self.derived.hashes.len()
    }

    /// Only the rows `keep` says (the committer found the others to be duplicates). Rare:
    /// the kept rows are read back into events and everything is derived again from them.
    pub fn only(self, keep: &[bool]) -> Result<Rows, StoreError> {
        let batch = filter_record_batch(&self.batch, &BooleanArray::from(keep.to_vec()))?;
        let events = rows::<Event>(&batch).map_err(|e| StoreError::Other(e.to_string()))?;
        Ok(Rows::of(&events))
    }
}

/// The order of the rows of `parts` by access key, ARN and time (nulls last, ties in the
/// order given), so that one session's rows sit in few pages and the page index can skip
/// the rest: (piece, row) pairs.
fn lookup_order(parts: &[RecordBatch]) -> Vec<(u32, u32)> {
    let schema = schema::<Event>();
    let index = |n: &str| schema.index_of(n).expect("events schema");
    let (key, arn, time) = (index("access_key_id"), index("arn"), index("event_time"));
    let strings = |c: usize| -> Vec<&StringArray> {
        parts
            .iter()
            .map(|p| p.column(c).as_string::<i32>())
            .collect()
    };
    let (keys, arns) = (strings(key), strings(arn));
    let times: Vec<&TimestampMillisecondArray> = parts
        .iter()
        .map(|p| p.column(time).as_primitive())
        .collect();
    let mut order: Vec<(u32, u32)> = Vec::with_capacity(parts.iter().map(|p| p.num_rows()).sum());
    for (p, part) in parts.iter().enumerate() {
        order.extend((0..part.num_rows() as u32).map(|r| (p as u32, r)));
    }
    // None sorts first for Option; nulls go last, as the store has always sorted them.
    fn opt(a: &StringArray, r: usize) -> (bool, Option<&str>) {
        (a.is_null(r), a.is_valid(r).then(|| a.value(r)))
    }
    order.sort_by(|&(pa, ra), &(pb, rb)| {
        let (pa, ra, pb, rb) = (pa as usize, ra as usize, pb as usize, rb as usize);
        opt(keys[pa], ra)
            .cmp(&opt(keys[pb], rb))
            .then_with(|| opt(arns[pa], ra).cmp(&opt(arns[pb], rb)))
            .then_with(|| times[pa].value(ra).cmp(&times[pb].value(rb)))
    });
    order
}

/// Column `c` of `parts`, its rows in `order`: gathered straight from the pieces (one copy
/// of each value), one column at a time so that a row group is never held twice.
fn gather(
    parts: &[RecordBatch],
    order: &[(u32, u32)],
    c: usize,
    field: &Field,
) -> Result<ArrayRef, StoreError> {
    let strings = |c: usize| -> Vec<&StringArray> {
        parts
            .iter()
            .map(|p| p.column(c).as_string::<i32>())
            .collect()
    };
    {
        let column: ArrayRef = match field.data_type() {
            DataType::Utf8 => {
                let from = strings(c);
                let bytes = from.iter().map(|a| a.value_data().len()).sum();
                let mut b = StringBuilder::with_capacity(order.len(), bytes);
                for &(p, r) in order {
                    let (a, r) = (from[p as usize], r as usize);
                    if a.is_valid(r) {
                        b.append_value(a.value(r));
                    } else {
                        b.append_null();
                    }
                }
                Arc::new(b.finish())
            }
            DataType::Boolean => {
                let from: Vec<&BooleanArray> =
                    parts.iter().map(|p| p.column(c).as_boolean()).collect();
                let mut b = BooleanBuilder::with_capacity(order.len());
                for &(p, r) in order {
                    let (a, r) = (from[p as usize], r as usize);
                    b.append_option(a.is_valid(r).then(|| a.value(r)));
                }
                Arc::new(b.finish())
            }
            DataType::Timestamp(TimeUnit::Millisecond, _) => {
                let from: Vec<&TimestampMillisecondArray> =
                    parts.iter().map(|p| p.column(c).as_primitive()).collect();
                let mut b = TimestampMillisecondBuilder::with_capacity(order.len())
                    .with_data_type(field.data_type().clone());
                for &(p, r) in order {
                    let (a, r) = (from[p as usize], r as usize);
                    b.append_option(a.is_valid(r).then(|| a.value(r)));
                }
                Arc::new(b.finish())
            }
            other => {
                return Err(StoreError::Other(format!(
                    "events column {} of unexpected type {other}",
                    field.name()
                )));
            }
        };
        Ok(column)
    }
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
        let order = lookup_order(&self.parts);
        let mut writers = self.factory.create_column_writers(0)?;
        for ((c, field), w) in schema.fields().iter().enumerate().zip(writers.iter_mut()) {
            let col = gather(&self.parts, &order, c, field)?;
            for leaf in compute_leaves(field, &col)? {
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
