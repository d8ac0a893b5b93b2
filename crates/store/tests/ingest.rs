//! Ingest accounting on real and damaged files: every record is stored, a duplicate, or
//! rejected with a reason, and a second run adds nothing.

use backtrail_sources::{Discovery, Filter, Location, SourceFile, Sources};
use backtrail_store::{IngestOptions, IngestSummary, NoProgress, Store};
use std::io::Write;
use std::path::Path;

fn ingest(store: &Path, inputs: &[&Path], opts: &IngestOptions) -> IngestSummary {
    let sources = Sources::new().unwrap();
    let inputs: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
    let d = sources.discover(&inputs, &Filter::default()).unwrap();
    Store::create(store)
        .unwrap()
        .ingest(&sources, d, opts, &NoProgress)
        .unwrap()
}

/// The counts of a summary, without its (long) lists.
fn counts(s: &IngestSummary) -> String {
    format!(
        "files seen {} read {} skipped {} rejected {} unchanged {}; records seen {} stored {} duplicate {} rejected {}",
        s.files_seen,
        s.files_read,
        s.files_skipped,
        s.files_rejected,
        s.files_unchanged,
        s.records_seen,
        s.stored,
        s.duplicates,
        s.rejected
    )
}

fn assert_adds_up(s: &IngestSummary) {
    assert_eq!(
        s.files_seen,
        s.files_read + s.files_skipped + s.files_rejected + s.files_unchanged,
        "{}",
        counts(s)
    );
    assert_eq!(
        s.records_seen,
        s.stored + s.duplicates + s.rejected,
        "{}",
        counts(s)
    );
    let record_rejects = s.rejects.iter().filter(|r| r.record.is_some()).count() as u64;
    assert_eq!(record_rejects, s.rejected);
    let file_rejects = s.rejects.iter().filter(|r| r.record.is_none()).count() as u64;
    assert_eq!(file_rejects, s.files_rejected);
    assert_eq!(s.skipped.len() as u64, s.files_skipped);
}

#[test]
fn realdata_ingest_adds_up_and_is_idempotent() {
    let Some(real) = backtrail_testkit::realdata() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    // Small segments and row groups, so that several commits and dedup across them happen.
    let opts = IngestOptions {
        row_group_rows: 500,
        segment_rows: 1_000,
        ..Default::default()
    };
    let first = ingest(&store, &[&real], &opts);
    assert_adds_up(&first);
    assert!(
        first.stored + first.duplicates > 4_200,
        "{}",
        counts(&first)
    );
    assert!(first.segments_written >= 4);
    let m = Store::open(&store).unwrap().manifest().unwrap();
    assert_eq!(m.total_events(), first.stored);
    assert!(m.sessions_current());
    // The accounts whose trails are stored: recipients, not callers.
    assert!(m.accounts.contains("123837392027"), "{:?}", m.accounts);
    assert!(m.accounts.iter().all(|a| !a.is_empty()));

    let second = ingest(&store, &[&real], &opts);
    assert_adds_up(&second);
    assert_eq!(second.stored, 0);
    assert_eq!(second.files_unchanged, first.files_seen);
    assert_eq!(
        Store::open(&store)
            .unwrap()
            .manifest()
            .unwrap()
            .total_events(),
        first.stored
    );
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn damaged_copies_keep_good_records_and_say_why() {
    let Some(real) = backtrail_testkit::realdata() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let good_path = std::fs::read_dir(real.join("invictus-ir-aws_dataset/CloudTrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let good = std::fs::read(&good_path).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&good).unwrap();
    let n = v["Records"].as_array().unwrap().len() as u64;
    assert!(n > 10);
    let gz = gzip(&good);
    // The same file compressed (its events become duplicates of the plain copy).
    std::fs::write(input.join("a-good.json"), &good).unwrap();
    std::fs::write(input.join("b-good-copy.json.gz"), &gz).unwrap();
    // Cut gzip: keeps a prefix of the records.
    std::fs::write(input.join("c-cut.json.gz"), &gz[..gz.len() / 2]).unwrap();
    // Cut JSON.
    std::fs::write(input.join("d-cut.json"), &good[..good.len() * 2 / 3]).unwrap();
    std::fs::write(input.join("e-empty.json"), b"").unwrap();
    std::fs::write(
        input.join("f-s3-notification.json"),
        br#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2023-07-10T11:00:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:AIDA"},"s3":{"bucket":{"name":"b"}}}]}"#,
    )
    .unwrap();
    std::fs::write(
        input.join("g-digest.json"),
        br#"{"awsAccountId":"1","digestStartTime":"2023-07-10T11:00:00Z","logFiles":[]}"#,
    )
    .unwrap();
    std::fs::write(input.join("h-notjson.txt"), b"hello").unwrap();

    let s = ingest(
        &tmp.path().join("store"),
        &[&input],
        &IngestOptions::default(),
    );
    assert_adds_up(&s);
    assert_eq!(s.files_seen, 8);
    assert_eq!(s.stored, n, "{}", counts(&s));
    assert_eq!(s.files_skipped, 3, "{:?}", s.skipped);
    assert_eq!(s.files_rejected, 1, "{:?}", s.rejects);
    assert!(
        s.rejects
            .iter()
            .any(|r| r.file.ends_with("e-empty.json") && r.reason == "empty file")
    );
    assert!(
        s.rejects
            .iter()
            .any(|r| r.file.ends_with("d-cut.json") && r.reason.starts_with("truncated"))
    );
    assert!(
        s.warnings
            .iter()
            .any(|w| w.file.ends_with("c-cut.json.gz") && w.message.contains("gzip"))
    );
    // Every good record of the cut copies is a duplicate of the intact file.
    assert!(s.duplicates >= n + n / 3, "{}", counts(&s));
}

#[test]
fn a_file_that_could_not_be_read_is_read_again_though_unchanged() {
    let Some(real) = backtrail_testkit::realdata() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::create(&tmp.path().join("store")).unwrap();
    let path = tmp.path().join("later.json");
    // Listed with a size and version, but not readable yet (as after a permission error).
    let file = SourceFile {
        key: path.display().to_string(),
        size: 10,
        version: "v1".into(),
        location: Location::Local(path.clone()),
    };
    let discovery = || Discovery {
        files: vec![file.clone()],
        ..Default::default()
    };
    let sources = Sources::new().unwrap();
    let opts = IngestOptions::default();
    let first = store
        .ingest(&sources, discovery(), &opts, &NoProgress)
        .unwrap();
    assert_adds_up(&first);
    assert_eq!(first.files_rejected, 1, "{}", counts(&first));
    assert!(
        first.rejects[0].reason.contains("unreadable"),
        "{:?}",
        first.rejects
    );

    // Readable now, with the same size and version: read, not "unchanged".
    let text = std::fs::read_to_string(
        real.join("invictus-ir-aws_dataset/CloudTrail")
            .read_dir()
            .unwrap()
            .map(|e| e.unwrap().path())
            .min()
            .unwrap(),
    )
    .unwrap();
    std::fs::write(&path, &text).unwrap();
    let second = store
        .ingest(&sources, discovery(), &opts, &NoProgress)
        .unwrap();
    assert_adds_up(&second);
    assert_eq!(
        (second.files_read, second.files_unchanged),
        (1, 0),
        "{}",
        counts(&second)
    );
    assert!(second.stored > 10, "{}", counts(&second));

    let third = store
        .ingest(&sources, discovery(), &opts, &NoProgress)
        .unwrap();
    assert_eq!(third.files_unchanged, 1, "{}", counts(&third));
}

/// Two copies of the same records in one run, with commits between them and an id budget
/// far below one day's ids: every record of the second copy is found a duplicate, through
/// days let go at each commit and loaded again from the id sidecars.
#[test]
fn duplicates_are_found_across_commits_under_a_small_id_budget() {
    let Some(real) = backtrail_testkit::realdata() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let to = tmp.path().join(name);
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(&real)
            .arg(&to)
            .status()
            .unwrap();
        assert!(status.success());
        to
    };
    let (a, b) = (copy("a"), copy("b"));
    let opts = IngestOptions {
        row_group_rows: 500,
        segment_rows: 1_000,
        id_budget: 50,
        ..Default::default()
    };
    let once = ingest(&tmp.path().join("once"), &[&a], &opts);
    let twice = ingest(&tmp.path().join("twice"), &[&a, &b], &opts);
    assert_adds_up(&twice);
    assert!(twice.segments_written >= 4, "{}", counts(&twice));
    assert_eq!(twice.stored, once.stored, "{}", counts(&twice));
    assert_eq!(
        twice.duplicates,
        once.duplicates + once.stored + once.duplicates,
        "{}",
        counts(&twice)
    );
}
