//! The store holds exactly what the records say: a generated trail and ../shared/realdata
//! are ingested (several segments, many row groups, two reading threads), and the
//! `events`, `issuances` and `sessions` tables are compared row for row with what the
//! Event-based path derives from the same files (every record parsed into an `Event`,
//! duplicates dropped by `id_hash`, `issuance_of` and `SessionAggregator` applied). Row
//! groups are checked to be sorted and bounded, with their bloom filters and page indexes.

use arrow::array::RecordBatch;
use backtrail_model::{Event, Issuance, SessionSummary};
use backtrail_normalize::derive::SessionAggregator;
use backtrail_normalize::{issuance_of, parse_stream};
use backtrail_sources::{Filter, Sources};
use backtrail_store::columns::{Table, rows};
use backtrail_store::ids::id_hash;
use backtrail_store::{BLOOM_COLUMNS, IngestOptions, NoProgress, Store};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::HashSet;
use std::path::Path;

/// The events of every file discovery finds under `inputs`, read as the ingest reads them,
/// each identical record once.
fn expected_events(inputs: &[String]) -> Vec<Event> {
    let sources = Sources::new().unwrap();
    let d = sources.discover(inputs, &Filter::default()).unwrap();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for f in &d.files {
        let reader = sources.open(f).unwrap();
        parse_stream(reader, &mut |b| {
            for ev in b.events {
                if seen.insert(id_hash(&ev)) {
                    out.push(ev);
                }
            }
            true
        });
    }
    out
}

fn read_table<T: Table>(dir: &Path, file: &str) -> (Vec<T>, Vec<RecordBatch>) {
    let f = std::fs::File::open(dir.join(file)).unwrap();
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(f)
        .unwrap()
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = Vec::new();
    for b in &batches {
        out.extend(rows::<T>(b).unwrap());
    }
    (out, batches)
}

fn sort_by_debug<T: std::fmt::Debug>(v: &mut [T]) {
    v.sort_by_cached_key(|x| format!("{x:?}"));
}

/// Row groups are sorted by access key, ARN and time (nulls last), hold at most
/// `max_rows`, and carry bloom filters and page indexes on the lookup columns.
fn check_layout(path: &Path, max_rows: usize) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let meta = reader.metadata();
    for rg in meta.row_groups() {
        assert!(rg.num_rows() as usize <= max_rows, "{}", path.display());
        for c in rg.columns() {
            let name = c.column_descr().name();
            assert_eq!(
                c.bloom_filter_offset().is_some(),
                BLOOM_COLUMNS.contains(&name),
                "{name}"
            );
            assert!(c.column_index_offset().is_some(), "{name}");
            assert!(c.statistics().is_some(), "{name}");
        }
    }
    let f = std::fs::File::open(path).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let groups = builder.metadata().num_row_groups();
    for g in 0..groups {
        let f = std::fs::File::open(path).unwrap();
        let r = ParquetRecordBatchReaderBuilder::try_new(f)
            .unwrap()
            .with_row_groups(vec![g])
            .build()
            .unwrap();
        let mut evs = Vec::new();
        for b in r {
            evs.extend(rows::<Event>(&b.unwrap()).unwrap());
        }
        let key = |e: &Event| {
            (
                e.identity.access_key_id.is_none(),
                e.identity.access_key_id.clone(),
                e.identity.arn.is_none(),
                e.identity.arn.clone(),
                e.event_time,
            )
        };
        assert!(
            evs.windows(2).all(|w| key(&w[0]) <= key(&w[1])),
            "row group {g} of {} is not sorted",
            path.display()
        );
    }
}

fn check(inputs: &[String], opts: &IngestOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let sources = Sources::new().unwrap();
    let d = sources.discover(inputs, &Filter::default()).unwrap();
    let summary = Store::create(&dir)
        .unwrap()
        .ingest(&sources, d, opts, &NoProgress)
        .unwrap();
    let manifest = Store::open(&dir).unwrap().manifest().unwrap();

    let mut expected = expected_events(inputs);
    assert_eq!(summary.stored, expected.len() as u64);
    let mut issuances: Vec<Issuance> = expected.iter().filter_map(issuance_of).collect();
    let mut agg = SessionAggregator::default();
    expected.iter().for_each(|e| agg.add(e));
    let sessions = agg.finish();

    let (mut events, mut stored_issuances) = (Vec::<Event>::new(), Vec::<Issuance>::new());
    for s in &manifest.segments {
        let (evs, _) = read_table::<Event>(&dir, &s.events_file);
        assert_eq!(evs.len() as u64, s.rows);
        events.extend(evs);
        check_layout(&dir.join(&s.events_file), opts.row_group_rows);
        stored_issuances.extend(read_table::<Issuance>(&dir, &s.issuances_file).0);
    }
    assert!(manifest.segments.len() > 1, "several segments expected");
    sort_by_debug(&mut events);
    sort_by_debug(&mut expected);
    assert_eq!(events.len(), expected.len());
    for (a, b) in events.iter().zip(&expected) {
        assert_eq!(a, b);
    }
    sort_by_debug(&mut issuances);
    sort_by_debug(&mut stored_issuances);
    assert_eq!(stored_issuances, issuances);
    let (stored_sessions, _) = read_table::<SessionSummary>(
        &dir,
        manifest.sessions_file.as_deref().expect("sessions table"),
    );
    assert_eq!(stored_sessions, sessions);
}

#[test]
fn a_generated_trail_is_stored_row_for_row() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    let opts = backtrail_synth::SynthOptions::new(trail.clone(), 30_000, 7);
    backtrail_synth::generate(&opts).unwrap();
    let ingest = IngestOptions {
        row_group_rows: 1000,
        segment_rows: 8000,
        threads: 2,
        ..Default::default()
    };
    check(&[trail.join("AWSLogs").display().to_string()], &ingest);
}

#[test]
fn realdata_is_stored_row_for_row() {
    let Some(real) = backtrail_testkit::realdata() else {
        return;
    };
    let ingest = IngestOptions {
        row_group_rows: 500,
        segment_rows: 3000,
        threads: 2,
        ..Default::default()
    };
    check(&[real.display().to_string()], &ingest);
}
