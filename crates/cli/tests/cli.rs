//! The binary end to end: ingest real and generated data, query, show, exit codes.

use predicates::prelude::*;
use std::path::Path;

mod common;
use backtrail_testkit::realdata;
use common::bt;

fn ingest_json(store: &Path, sources: &[&Path]) -> serde_json::Value {
    let mut c = bt();
    c.arg("ingest").arg("--json").arg("--store").arg(store);
    for s in sources {
        c.arg(s);
    }
    let out = c.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn invictus_ingest_query_and_show_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let Some(real) = realdata() else { return };
    let src = real.join("invictus-ir-aws_dataset");
    let s = ingest_json(&store, &[&src]);
    assert_eq!(s["stored"], 2900, "{s}");
    assert_eq!(s["files_read"], 55);
    // Idempotent: the second run reads nothing and stores nothing.
    let again = ingest_json(&store, &[&src]);
    assert_eq!(again["stored"], 0);
    assert_eq!(again["files_unchanged"], 55);

    // SQL over the three tables.
    let out = bt()
        .args(["query", "--format", "json", "--store"])
        .arg(&store)
        .arg("SELECT count(*) AS n FROM events WHERE user_name = 'bert-jan'")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert!(rows[0]["n"].as_i64().unwrap() > 500, "{rows}");
    bt().args(["query", "--format", "csv", "--store"])
        .arg(&store)
        .arg("SELECT issued_access_key_id, role_session_name FROM issuances WHERE event_name = 'AssumeRole' AND issued_access_key_id IS NOT NULL")
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\"issued_access_key_id\",\"role_session_name\"\n\"ASIA",
        ));
    bt().args(["query", "--format", "jsonl", "--store"])
        .arg(&store)
        .arg("SELECT json_get_str(request_parameters, 'userName') AS u FROM events WHERE event_name = 'CreateUser' LIMIT 1")
        .assert()
        .success()
        .stdout(predicate::str::contains("stratus-red-team"));

    // `show` prints the record as AWS wrote it: compare with the source file.
    let file = std::fs::read_dir(src.join("CloudTrail"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .min()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    let want = &v["Records"][0];
    let id = want["eventID"].as_str().unwrap();
    let out = bt()
        .args(["show", "--store"])
        .arg(&store)
        .arg(id)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let got: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(&got, want);
}

#[test]
fn errors_have_messages_and_exit_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    // Not a store yet.
    bt().args(["query", "--store"])
        .arg(&store)
        .arg("SELECT 1")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not a backtrail store"));
    let trail = common::synth(tmp.path(), 2_000, 1);
    ingest_json(&store, &[&trail]);
    bt().args(["query", "--store"])
        .arg(&store)
        .arg("SELEC nonsense")
        .assert()
        .code(4)
        .stderr(predicate::str::starts_with("error: "));
    bt().args(["query", "--store"])
        .arg(&store)
        .arg("SELECT no_such_column FROM events")
        .assert()
        .code(4)
        .stderr(predicate::str::contains("no_such_column"));
    bt().args(["show", "--store"])
        .arg(&store)
        .arg("no-such-id")
        .assert()
        .code(5);
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(tmp.path().join("missing"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("missing"));
    bt().args(["ingest", "--since", "yesterday", "--store"])
        .arg(&store)
        .arg(&trail)
        .assert()
        .code(2);
}

#[test]
fn malformed_real_file_is_accounted_for() {
    let Some(real) = realdata() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let s = ingest_json(
        &tmp.path().join("store"),
        &[&real.join("zmallen-cloudtrail2sightings")],
    );
    assert_eq!(s["files_read"], 4);
    // 10 + 1 + 3 + 1 records in the four files; the malformed one keeps all 3 of its records.
    assert_eq!(s["stored"], 15, "{s}");
    let seen = s["records_seen"].as_u64().unwrap();
    let sum = s["stored"].as_u64().unwrap()
        + s["duplicates"].as_u64().unwrap()
        + s["rejected"].as_u64().unwrap();
    assert_eq!(seen, sum);
    assert!(s["warnings"].to_string().contains("not separated by ','"));
}

#[test]
fn generated_trail_ingests_completely_and_skips_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = tmp.path().join("trail");
    bt().args(["synth", "--events", "3000", "--seed", "7", "--out"])
        .arg(&trail)
        .assert()
        .success();
    let s = ingest_json(&tmp.path().join("store"), &[&trail.join("AWSLogs")]);
    assert_eq!(s["stored"], 3000, "{s}");
    assert_eq!(s["rejected"], 0);
    assert!(
        s["files_skipped"].as_u64().unwrap() >= 2,
        "digests and insights are skipped"
    );
    let reasons = s["skipped"].to_string();
    assert!(
        reasons.contains("digest") && reasons.contains("Insights"),
        "{reasons}"
    );
}

#[test]
fn query_table_output_escapes_control_characters() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("evil.json"),
        r#"{"Records":[{"eventVersion":"1.08","eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","eventID":"e1","userAgent":"evil\u001b[2J\u001b[31mred\u202e"}]}"#,
    )
    .unwrap();
    let store = tmp.path().join("store");
    ingest_json(&store, &[&dir]);
    let out = bt()
        .args(["query", "--format", "table", "--store"])
        .arg(&store)
        .arg("SELECT user_agent FROM events")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("evil\\u{1b}[2J"), "{text}");
}

/// The README's first command: a trail generated, ingested and investigated, the HTML
/// report written, and the origin named is the planted incident's ground truth.
#[test]
fn demo_investigates_a_planted_incident_to_its_origin() {
    let dir = tempfile::tempdir().unwrap();
    let out = bt()
        .args(["demo", "--dir"])
        .arg(dir.path())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).unwrap();
    assert!(dir.path().join("report.html").is_file());
    assert!(out.contains("HTML report:"), "{out}");
    let truth: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            dir.path()
                .join("trail/ground-truth/cross-account-role-chain.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let origin = truth["origin"]["identifier"].as_str().unwrap();
    assert!(
        out.lines()
            .any(|l| l.starts_with("origin") && l.contains(origin)),
        "origin {origin} not named:\n{out}"
    );
}

#[test]
fn a_damaged_segment_is_an_input_error_not_a_rejected_query() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let trail = common::synth(tmp.path(), 2_000, 1);
    ingest_json(&store, &[&trail]);
    // Cut every events segment in half: the files are there but cannot be read.
    for e in std::fs::read_dir(store.join("events")).unwrap() {
        let p = e.unwrap().path();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    }
    bt().args(["query", "--store"])
        .arg(&store)
        .arg("SELECT count(*) FROM events")
        .assert()
        .code(3)
        .stderr(predicate::str::starts_with("error: "));
}
