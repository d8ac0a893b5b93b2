//! The identity index: which segments can hold a given access key, ARN, issued credential,
//! shared event id or issuance event id, so that a lookup opens only those segments' files
//! instead of every events file's footer, page index and bloom filters.
//!
//! ```text
//! STORE/index/run-N.idx   sorted (hash of kind + value, segment) pairs of some segments
//! ```
//!
//! The manifest lists the runs and the segments each covers. A segment no run covers (a
//! store written by an older backtrail, or a run file that cannot be read) may hold
//! anything: lookups read it as they did before the index existed, so the index only ever
//! removes segments that cannot match and answers never depend on it.
//!
//! Every commit (ingest, cluster round, compaction) writes one run for the segments it
//! adds, fsynced before the manifest that lists it is renamed into place, and merges runs
//! like a binary counter (a run is merged into the one before it while that one covers no
//! more segments), so a store of N segments has at most about log2(N) runs and every entry
//! is rewritten about log2(N) times over the store's life. A lookup reads, per run, its
//! header, two fanout entries and one bucket of about eight entries: a few hundred bytes,
//! whatever the size of the store.

use crate::StoreError;
use crate::manifest::{Manifest, Segment, write_durably};
use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::path::Path;

/// What an indexed value is; part of its hash, so an ARN found as a caller does not select
/// the segments where it was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `events.access_key_id`.
    AccessKey = 1,
    /// `events.arn`.
    Arn = 2,
    /// `issuances.issued_access_key_id`.
    IssuedKey = 3,
    /// `issuances.issued_arn`.
    IssuedArn = 4,
    /// `issuances.shared_event_id`.
    SharedEventId = 5,
    /// `issuances.caller_arn`.
    CallerArn = 6,
    /// `issuances.event_id`: the events an analysis reads by id are issuing events.
    IssuanceEventId = 7,
}

/// The columns each table contributes, with their kind.
const EVENT_COLUMNS: [(&str, Kind); 2] = [("access_key_id", Kind::AccessKey), ("arn", Kind::Arn)];
const ISSUANCE_COLUMNS: [(&str, Kind); 5] = [
    ("issued_access_key_id", Kind::IssuedKey),
    ("issued_arn", Kind::IssuedArn),
    ("shared_event_id", Kind::SharedEventId),
    ("caller_arn", Kind::CallerArn),
    ("event_id", Kind::IssuanceEventId),
];

/// One index file and the segments it covers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexRun {
    pub file: String,
    pub segments: Vec<u64>,
}

/// Hash of one indexed value: exact bytes, as SQL equality compares them.
pub fn key_hash(kind: Kind, value: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(value.as_bytes(), kind as u64)
}

const MAGIC: &[u8; 8] = b"BTIX0001";
const HEADER: usize = 24;
const ENTRY: usize = 12;

/// Writes the sorted, deduplicated `(hash, local segment)` pairs of `segments` to `path`.
fn write_run(path: &Path, segments: &[u64], entries: &[(u64, u32)]) -> Result<(), StoreError> {
    let n = entries.len();
    // About eight entries a bucket: one small read finds a value.
    let mut bits = 0u32;
    while bits < 24 && (n >> bits) > 8 {
        bits += 1;
    }
    let mut out =
        Vec::with_capacity(HEADER + 8 * segments.len() + 8 * ((1 << bits) + 1) + ENTRY * n);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(&(segments.len() as u32).to_le_bytes());
    out.extend_from_slice(&(n as u64).to_le_bytes());
    for s in segments {
        out.extend_from_slice(&s.to_le_bytes());
    }
    let mut at = 0usize;
    for b in 0..=(1u64 << bits) {
        while at < n && bucket(entries[at].0, bits) < b {
            at += 1;
        }
        out.extend_from_slice(&(at as u64).to_le_bytes());
    }
    for (h, s) in entries {
        out.extend_from_slice(&h.to_le_bytes());
        out.extend_from_slice(&s.to_le_bytes());
    }
    write_durably(path, &out)
}

fn bucket(hash: u64, bits: u32) -> u64 {
    if bits == 0 { 0 } else { hash >> (64 - bits) }
}

fn corrupt(path: &Path, message: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// A run's header: fanout bits, its segments and where the fanout and entries start.
struct RunHeader {
    bits: u32,
    segments: Vec<u64>,
    entries: u64,
    fanout_at: u64,
    entries_at: u64,
}

fn read_header(f: &File, path: &Path) -> Result<RunHeader, StoreError> {
    let mut h = [0u8; HEADER];
    read_at(f, path, 0, &mut h)?;
    if &h[..8] != MAGIC {
        return Err(corrupt(path, "not an index run"));
    }
    let bits = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    let nseg = u32::from_le_bytes(h[12..16].try_into().expect("4 bytes")) as usize;
    let entries = u64::from_le_bytes(h[16..24].try_into().expect("8 bytes"));
    if bits > 24 {
        return Err(corrupt(path, "fanout too wide"));
    }
    let mut s = vec![0u8; 8 * nseg];
    read_at(f, path, HEADER as u64, &mut s)?;
    let segments = s
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let fanout_at = (HEADER + 8 * nseg) as u64;
    let entries_at = fanout_at + 8 * ((1u64 << bits) + 1);
    let len = f.metadata().map_err(|e| StoreError::io(path, e))?.len();
    if entries_at + entries * ENTRY as u64 != len {
        return Err(corrupt(path, "length does not match its header"));
    }
    Ok(RunHeader {
        bits,
        segments,
        entries,
        fanout_at,
        entries_at,
    })
}

fn read_at(f: &File, path: &Path, offset: u64, buf: &mut [u8]) -> Result<(), StoreError> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, offset)
        .map_err(|e| StoreError::io(path, e))
}

fn parse_entries(bytes: &[u8]) -> impl Iterator<Item = (u64, u32)> + '_ {
    bytes.chunks_exact(ENTRY).map(|c| {
        (
            u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
            u32::from_le_bytes(c[8..].try_into().expect("4 bytes")),
        )
    })
}

/// Segments of the run at `path` that hold a value hashing to `hash`.
fn probe(path: &Path, hash: u64) -> Result<Vec<u64>, StoreError> {
    let f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let h = read_header(&f, path)?;
    let b = bucket(hash, h.bits);
    let mut fan = [0u8; 16];
    read_at(&f, path, h.fanout_at + 8 * b, &mut fan)?;
    let start = u64::from_le_bytes(fan[..8].try_into().expect("8 bytes"));
    let end = u64::from_le_bytes(fan[8..].try_into().expect("8 bytes"));
    if start > end || end > h.entries {
        return Err(corrupt(path, "fanout out of range"));
    }
    let mut buf = vec![0u8; (end - start) as usize * ENTRY];
    read_at(&f, path, h.entries_at + start * ENTRY as u64, &mut buf)?;
    let mut out = Vec::new();
    for (eh, s) in parse_entries(&buf) {
        if eh == hash {
            let seg = h
                .segments
                .get(s as usize)
                .ok_or_else(|| corrupt(path, "segment out of range"))?;
            out.push(*seg);
        }
    }
    Ok(out)
}

/// Every entry of a run, with global segment ids.
fn read_run(path: &Path) -> Result<Vec<(u64, u64)>, StoreError> {
    let f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let h = read_header(&f, path)?;
    let mut buf = vec![0u8; h.entries as usize * ENTRY];
    read_at(&f, path, h.entries_at, &mut buf)?;
    parse_entries(&buf)
        .map(|(hash, s)| match h.segments.get(s as usize) {
            Some(seg) => Ok((hash, *seg)),
            None => Err(corrupt(path, "segment out of range")),
        })
        .collect()
}

/// The hashes of every indexed value of one segment, read back from its files.
fn segment_hashes(dir: &Path, seg: &Segment) -> Result<Vec<u64>, StoreError> {
    let mut out = Vec::new();
    column_hashes(&dir.join(&seg.events_file), &EVENT_COLUMNS, &mut out)?;
    column_hashes(&dir.join(&seg.issuances_file), &ISSUANCE_COLUMNS, &mut out)?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

fn column_hashes(path: &Path, cols: &[(&str, Kind)], out: &mut Vec<u64>) -> Result<(), StoreError> {
    let f = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f)?;
    let mask = ProjectionMask::columns(b.parquet_schema(), cols.iter().map(|(c, _)| *c));
    let reader = b.with_projection(mask).with_batch_size(65_536).build()?;
    let mut seen: HashSet<u64> = HashSet::new();
    for batch in reader {
        let batch = batch?;
        for (name, kind) in cols {
            let Some(col) = batch.column_by_name(name) else {
                return Err(corrupt(path, &format!("no column {name}")));
            };
            let col = arrow::compute::cast(col, &DataType::Utf8)?;
            let s = col.as_string::<i32>();
            for i in 0..s.len() {
                if s.is_valid(i) {
                    seen.insert(key_hash(*kind, s.value(i)));
                }
            }
        }
    }
    out.extend(seen);
    Ok(())
}

/// Writes a run covering `segments` (listed in `manifest`) under a new name in `index/`.
fn build_run(dir: &Path, segments: &[&Segment], seq: u64) -> Result<IndexRun, StoreError> {
    let mut entries = Vec::new();
    for (local, seg) in segments.iter().enumerate() {
        for h in segment_hashes(dir, seg)? {
            entries.push((h, local as u32));
        }
    }
    entries.sort_unstable();
    let ids: Vec<u64> = segments.iter().map(|s| s.id).collect();
    save_run(dir, &ids, &entries, seq)
}

fn save_run(
    dir: &Path,
    segments: &[u64],
    entries: &[(u64, u32)],
    seq: u64,
) -> Result<IndexRun, StoreError> {
    let file = format!("index/run-{seq:08}.idx");
    let tmp = dir.join(format!("{file}.tmp"));
    write_run(&tmp, segments, entries)?;
    let dst = dir.join(&file);
    std::fs::rename(&tmp, &dst).map_err(|e| StoreError::io(&dst, e))?;
    Ok(IndexRun {
        file,
        segments: segments.to_vec(),
    })
}

/// Merges two runs into one new run.
fn merge_runs(dir: &Path, a: &IndexRun, b: &IndexRun, seq: u64) -> Result<IndexRun, StoreError> {
    let mut segments: Vec<u64> = a.segments.iter().chain(&b.segments).copied().collect();
    segments.sort_unstable();
    segments.dedup();
    let local = |s: u64| segments.binary_search(&s).expect("listed above") as u32;
    let mut entries: Vec<(u64, u32)> = read_run(&dir.join(&a.file))?
        .into_iter()
        .chain(read_run(&dir.join(&b.file))?)
        .map(|(h, s)| (h, local(s)))
        .collect();
    entries.sort_unstable();
    entries.dedup();
    save_run(dir, &segments, &entries, seq)
}

/// Brings the index up to date with `manifest` (unsaved): runs covering segments it no
/// longer lists are dropped, a run is written for the segments no run covers, and runs are
/// merged while the one before the last covers no more segments than the last. The new
/// files are durable before the manifest naming them is saved; returns the files of the
/// runs that were replaced (to remove once the manifest is saved).
pub fn refresh(dir: &Path, manifest: &mut Manifest) -> Result<Vec<String>, StoreError> {
    let listed: BTreeSet<u64> = manifest.segments.iter().map(|s| s.id).collect();
    let mut replaced = Vec::new();
    let mut runs = Vec::new();
    for r in std::mem::take(&mut manifest.index) {
        if r.segments.iter().all(|s| listed.contains(s)) {
            runs.push(r);
        } else {
            replaced.push(r.file);
        }
    }
    let covered: BTreeSet<u64> = runs.iter().flat_map(|r| r.segments.clone()).collect();
    let todo: Vec<&Segment> = manifest
        .segments
        .iter()
        .filter(|s| !covered.contains(&s.id))
        .collect();
    let mut seq = next_seq(&runs, &replaced);
    let before = runs.len();
    if !todo.is_empty() {
        std::fs::create_dir_all(dir.join("index")).map_err(|e| StoreError::io(dir, e))?;
        runs.push(build_run(dir, &todo, seq)?);
        seq += 1;
    }
    while runs.len() >= 2
        && runs[runs.len() - 2].segments.len() <= runs[runs.len() - 1].segments.len()
    {
        let b = runs.pop().expect("two runs");
        let a = runs.pop().expect("two runs");
        runs.push(merge_runs(dir, &a, &b, seq)?);
        seq += 1;
        for r in [a, b] {
            replaced.push(r.file);
        }
    }
    if runs.len() != before || !replaced.is_empty() {
        crate::manifest::sync_dir(&dir.join("index"));
    }
    manifest.index = runs;
    Ok(replaced)
}

/// Numbers runs after every one listed or being replaced, so a new file never takes the
/// name of one a reader may still open.
fn next_seq(runs: &[IndexRun], replaced: &[String]) -> u64 {
    runs.iter()
        .map(|r| r.file.as_str())
        .chain(replaced.iter().map(|s| s.as_str()))
        .filter_map(|f| {
            f.strip_prefix("index/run-")?
                .strip_suffix(".idx")?
                .parse::<u64>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1)
}

/// The index as a reader sees it: the runs of one manifest.
#[derive(Debug, Clone, Default)]
pub struct Index {
    dir: std::path::PathBuf,
    runs: Vec<IndexRun>,
    /// Segments of the manifest no run covers: they may hold anything.
    uncovered: BTreeSet<u64>,
}

impl Index {
    /// The index of `manifest` in the store at `dir`. With `enabled` false every segment
    /// counts as uncovered (every lookup reads every segment, as before the index existed).
    pub fn open(dir: &Path, manifest: &Manifest, enabled: bool) -> Index {
        let runs = if enabled {
            manifest.index.clone()
        } else {
            Vec::new()
        };
        let covered: BTreeSet<u64> = runs.iter().flat_map(|r| r.segments.clone()).collect();
        Index {
            dir: dir.to_path_buf(),
            uncovered: manifest
                .segments
                .iter()
                .map(|s| s.id)
                .filter(|s| !covered.contains(s))
                .collect(),
            runs,
        }
    }

    /// Segments that may hold `value` as `kind`: those a run lists for its hash, and every
    /// segment no readable run covers.
    pub fn segments(&self, kind: Kind, value: &str) -> BTreeSet<u64> {
        let mut out = self.found(kind, value);
        out.extend(self.uncovered.iter().copied());
        out
    }

    /// Segments the runs list for `value` as `kind` (with every segment of a run that
    /// cannot be read), without the segments no run covers.
    pub fn found(&self, kind: Kind, value: &str) -> BTreeSet<u64> {
        let hash = key_hash(kind, value);
        let mut out = BTreeSet::new();
        for r in &self.runs {
            match probe(&self.dir.join(&r.file), hash) {
                Ok(found) => out.extend(found),
                // A run that cannot be read says nothing: its segments are read in full.
                Err(_) => out.extend(r.segments.iter().copied()),
            }
        }
        out
    }

    /// Segments no run covers.
    pub fn uncovered(&self) -> &BTreeSet<u64> {
        &self.uncovered
    }

    /// Whether no run covers any segment (every lookup reads everything).
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_of(dir: &Path, segs: &[u64], values: &[(u64, &str)], seq: u64) -> IndexRun {
        let mut entries: Vec<(u64, u32)> = values
            .iter()
            .map(|(s, v)| {
                let local = segs.iter().position(|x| x == s).unwrap() as u32;
                (key_hash(Kind::Arn, v), local)
            })
            .collect();
        entries.sort_unstable();
        entries.dedup();
        save_run(dir, segs, &entries, seq).unwrap()
    }

    fn manifest(ids: &[u64], runs: Vec<IndexRun>) -> Manifest {
        Manifest {
            format: crate::manifest::FORMAT,
            segments: ids
                .iter()
                .map(|&id| Segment {
                    id,
                    events_file: String::new(),
                    issuances_file: String::new(),
                    session_parts_file: String::new(),
                    ids_file: String::new(),
                    rejects_file: String::new(),
                    rows: 1,
                    issuances: 0,
                    min_time: 0,
                    max_time: 0,
                    id_days: Vec::new(),
                })
                .collect(),
            index: runs,
            ..Default::default()
        }
    }

    #[test]
    fn probes_find_exactly_the_segments_of_a_value() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("index")).unwrap();
        // Enough values for a fanout of several bits.
        let mut values: Vec<(u64, String)> =
            (0..500).map(|i| (i % 3, format!("arn:{i}"))).collect();
        values.push((2, "arn:7".into()));
        let refs: Vec<(u64, &str)> = values.iter().map(|(s, v)| (*s, v.as_str())).collect();
        let run = run_of(tmp.path(), &[0, 1, 2], &refs, 0);
        let m = manifest(&[0, 1, 2, 3], vec![run]);
        let idx = Index::open(tmp.path(), &m, true);
        // Segment 3 is not covered: it is always a candidate.
        assert_eq!(idx.segments(Kind::Arn, "arn:7"), BTreeSet::from([1, 2, 3]));
        assert_eq!(idx.segments(Kind::Arn, "arn:9"), BTreeSet::from([0, 3]));
        assert_eq!(idx.segments(Kind::Arn, "nowhere"), BTreeSet::from([3]));
        // Another kind of the same value is another key.
        assert_eq!(idx.segments(Kind::CallerArn, "arn:9"), BTreeSet::from([3]));
        // Disabled: everything is a candidate.
        let off = Index::open(tmp.path(), &m, false);
        assert_eq!(
            off.segments(Kind::Arn, "arn:9"),
            BTreeSet::from([0, 1, 2, 3])
        );
    }

    #[test]
    fn a_damaged_or_missing_run_makes_its_segments_candidates() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("index")).unwrap();
        let a = run_of(tmp.path(), &[0], &[(0, "x")], 0);
        let b = run_of(tmp.path(), &[1], &[(1, "y")], 1);
        std::fs::write(tmp.path().join(&a.file), b"BTIX0001 cut").unwrap();
        std::fs::remove_file(tmp.path().join(&b.file)).unwrap();
        let m = manifest(&[0, 1], vec![a, b]);
        let idx = Index::open(tmp.path(), &m, true);
        assert_eq!(idx.segments(Kind::Arn, "y"), BTreeSet::from([0, 1]));
    }

    #[test]
    fn merged_runs_answer_as_their_parts() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("index")).unwrap();
        let a = run_of(tmp.path(), &[4, 9], &[(4, "x"), (9, "y"), (9, "x")], 0);
        let b = run_of(tmp.path(), &[5], &[(5, "y")], 1);
        let merged = merge_runs(tmp.path(), &a, &b, 2).unwrap();
        assert_eq!(merged.segments, vec![4, 5, 9]);
        let m = manifest(&[4, 5, 9], vec![merged]);
        let idx = Index::open(tmp.path(), &m, true);
        assert_eq!(idx.segments(Kind::Arn, "x"), BTreeSet::from([4, 9]));
        assert_eq!(idx.segments(Kind::Arn, "y"), BTreeSet::from([5, 9]));
    }

    #[test]
    fn new_runs_never_reuse_a_name() {
        let mut runs = vec![
            IndexRun {
                file: "index/run-00000003.idx".into(),
                segments: vec![0, 1, 2, 3],
            },
            IndexRun {
                file: "index/run-00000007.idx".into(),
                segments: vec![4],
            },
        ];
        assert_eq!(next_seq(&runs, &[]), 8);
        runs.pop();
        assert_eq!(next_seq(&runs, &["index/run-00000011.idx".into()]), 12);
    }
}
