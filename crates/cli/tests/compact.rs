//! The identity index and compaction change which files a lookup opens, never its answer:
//! every planted incident's `investigate --format json` is the same with the index, without
//! it (turned off, or a store written before it existed), after a compaction killed at any
//! moment, and after a complete one; and nothing is lost or counted twice.

use assert_cmd::cargo::CommandCargoExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

mod common;
use common::{bt, synth};

fn manifest(store: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(store.join("manifest.json")).unwrap()).unwrap()
}

fn segments(store: &Path) -> usize {
    manifest(store)["segments"].as_array().unwrap().len()
}

/// Events, distinct event ids, events counted in sessions, events with a session key.
fn counts(store: &Path) -> serde_json::Value {
    let out = bt()
        .args(["query", "--format", "json", "--store"])
        .arg(store)
        .arg(
            "SELECT (SELECT count(*) FROM events) AS n, \
                    (SELECT count(DISTINCT event_id) FROM events) AS d, \
                    (SELECT coalesce(sum(events), 0) FROM sessions) AS in_sessions, \
                    (SELECT count(*) FROM events WHERE (access_key_id IS NOT NULL \
                     AND access_key_id <> '') OR arn IS NOT NULL) AS keyed",
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    rows[0].clone()
}

/// `investigate --format json` of every finding, by file name.
fn answers(store: &Path, findings: &[PathBuf], no_index: bool) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| {
            let mut c = bt();
            if no_index {
                c.env("BACKTRAIL_NO_INDEX", "1");
            }
            let out = c
                .args(["investigate", "--format", "json", "--finding"])
                .arg(f)
                .arg("--store")
                .arg(store)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone();
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                String::from_utf8(out).unwrap(),
            )
        })
        .collect()
}

#[test]
fn index_and_compaction_never_change_an_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let trail = synth(tmp.path(), 20_000, 3);
    let mut findings: Vec<PathBuf> = std::fs::read_dir(trail.join("findings"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    findings.sort();
    assert!(findings.len() >= 5, "{findings:?}");
    let store = tmp.path().join("store");
    bt().args(["ingest", "--segment-rows", "1500", "--store"])
        .arg(&store)
        .arg(trail.join("AWSLogs"))
        .assert()
        .success();
    let many = segments(&store);
    assert!(many >= 10, "{many} segments");
    // Every segment is covered, by at most about log2(segments) runs.
    let m = manifest(&store);
    let runs = m["index"].as_array().unwrap();
    let covered: usize = runs
        .iter()
        .map(|r| r["segments"].as_array().unwrap().len())
        .sum();
    assert_eq!(covered, many);
    assert!(runs.len() <= 5, "{} runs for {many} segments", runs.len());

    let before = counts(&store);
    assert_eq!(before["n"], 20_000);
    assert_eq!(before["in_sessions"], before["keyed"]);
    let expected = answers(&store, &findings, true);
    assert_eq!(
        answers(&store, &findings, false),
        expected,
        "with the index"
    );

    // A store written before the index existed and before the sources left the manifest:
    // no runs listed, no index files, the sources inline.
    let old = tmp.path().join("old");
    copy_dir(&store, &old);
    let mut m = manifest(&old);
    let sources_file = old.join(m["sources_file"].as_str().unwrap());
    let sources: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&sources_file).unwrap()).unwrap();
    let files = sources.as_object().unwrap().len() as u64;
    let o = m.as_object_mut().unwrap();
    for k in ["index", "sources_file", "sources_seq"] {
        o.remove(k);
    }
    o.insert("sources".into(), sources);
    std::fs::write(old.join("manifest.json"), m.to_string()).unwrap();
    std::fs::remove_dir_all(old.join("index")).unwrap();
    std::fs::remove_dir_all(old.join("sources")).unwrap();
    assert_eq!(answers(&old, &findings, false), expected, "no index");
    // Its next ingest (nothing new to read) keeps every source, moves them out of the
    // manifest and builds the index.
    let out = bt()
        .args(["ingest", "--json", "--store"])
        .arg(&old)
        .arg(trail.join("AWSLogs"))
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["stored"], 0);
    assert_eq!(s["files_unchanged"].as_u64(), Some(files));
    let m = manifest(&old);
    assert_eq!(m["sources"], serde_json::json!({}));
    assert!(m["sources_file"].is_string());
    assert!(!m["index"].as_array().unwrap().is_empty());
    assert_eq!(
        answers(&old, &findings, false),
        expected,
        "index built later"
    );

    // Compactions killed at growing delays: each leaves the old segments or the new ones.
    for ms in [20u64, 60, 120, 250, 500] {
        let mut child = std::process::Command::cargo_bin("backtrail")
            .unwrap()
            .env_remove("BACKTRAIL_STORE")
            .args(["compact", "--segment-rows", "7000", "--store"])
            .arg(&store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(counts(&store), before, "after a kill at {ms} ms");
        assert_eq!(
            answers(&store, &findings[..2], false),
            expected[..2],
            "after a kill at {ms} ms"
        );
    }
    bt().args(["compact", "--segment-rows", "7000", "--store"])
        .arg(&store)
        .assert()
        .success();
    let few = segments(&store);
    assert!(few <= 4, "{few} segments after compaction");
    assert_eq!(counts(&store), before);
    assert_eq!(answers(&store, &findings, false), expected, "compacted");
    // Only listed files remain.
    let m = manifest(&store);
    let mut listed = 0;
    for s in m["segments"].as_array().unwrap() {
        for k in [
            "events_file",
            "issuances_file",
            "session_parts_file",
            "ids_file",
        ] {
            assert!(store.join(s[k].as_str().unwrap()).is_file());
            listed += 1;
        }
    }
    assert_eq!(std::fs::read_dir(store.join("sources")).unwrap().count(), 1);
    let on_disk = ["events", "issuances", "session_parts", "ids"]
        .iter()
        .map(|d| std::fs::read_dir(store.join(d)).unwrap().count())
        .sum::<usize>();
    assert_eq!(on_disk, listed);
    // The merged id sidecars still find every event: a re-ingest stores nothing, and the
    // sessions table still matches the events after one more commit.
    let out = bt()
        .args(["ingest", "--json", "--segment-rows", "1500", "--store"])
        .arg(&store)
        .arg(trail.join("AWSLogs"))
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["stored"], 0);
    let extra = tmp.path().join("extra");
    synth(&extra, 3_000, 11);
    bt().args(["ingest", "--segment-rows", "1500", "--store"])
        .arg(&store)
        .arg(extra.join("trail/AWSLogs"))
        .assert()
        .success();
    let after = counts(&store);
    assert_eq!(after["n"], 23_000);
    assert_eq!(after["in_sessions"], after["keyed"]);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}
