//! An ingest killed right after a commit leaves a store whose `sessions` table covers every
//! committed event: the sessions derived from a segment are committed with it.

use assert_cmd::cargo::CommandCargoExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{bt, synth};

/// Segments the committed manifest lists (0 before the first commit).
fn segments(store: &Path) -> usize {
    match std::fs::read(store.join("manifest.json")) {
        Ok(bytes) => {
            let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            m["segments"].as_array().unwrap().len()
        }
        Err(_) => 0,
    }
}

fn query_one(store: &Path, sql: &str) -> serde_json::Value {
    let out = bt()
        .args(["query", "--format", "json", "--store"])
        .arg(store)
        .arg(sql)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
    rows[0].clone()
}

/// Every committed event with a session key is counted in the sessions table, and `who`
/// finds the session of a committed key.
fn assert_sessions_cover_events(store: &Path) -> u64 {
    let row = query_one(
        store,
        "SELECT (SELECT coalesce(sum(events), 0) FROM sessions) AS in_sessions, \
                (SELECT count(*) FROM events \
                 WHERE (access_key_id IS NOT NULL AND access_key_id <> '') OR arn IS NOT NULL) AS keyed, \
                (SELECT min(access_key_id) FROM events WHERE access_key_id LIKE 'ASIA%') AS key",
    );
    let keyed = row["keyed"].as_u64().unwrap();
    assert!(keyed > 0, "{row}");
    assert_eq!(
        row["in_sessions"].as_u64(),
        Some(keyed),
        "stale sessions: {row}"
    );
    bt().args(["who", row["key"].as_str().unwrap(), "--store"])
        .arg(store)
        .assert()
        .success();
    keyed
}

#[test]
fn a_kill_right_after_a_commit_leaves_sessions_current() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = synth(tmp.path(), 20_000, 3).join("AWSLogs");
    let store = tmp.path().join("store");
    let mut kills = 0;
    for _ in 0..3 {
        let committed = segments(&store);
        let mut child = std::process::Command::cargo_bin("backtrail")
            .unwrap()
            .env_remove("BACKTRAIL_STORE")
            .env_remove("BACKTRAIL_ENGINE")
            .args([
                "ingest",
                "--segment-rows",
                "1500",
                "--threads",
                "2",
                "--store",
            ])
            .arg(&store)
            .arg(&logs)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill -9 as soon as the manifest lists a new segment.
        let started = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if segments(&store) > committed {
                child.kill().unwrap();
                kills += 1;
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(120), "no commit");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.wait().unwrap();
        assert_sessions_cover_events(&store);
    }
    assert!(kills > 0, "every ingest finished before it could be killed");
    // The next ingest completes the store; the sessions table still covers it all.
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(&logs)
        .assert()
        .success();
    assert_sessions_cover_events(&store);
    let n = query_one(&store, "SELECT count(*) AS n FROM events");
    assert_eq!(n["n"], 20_000);
}
