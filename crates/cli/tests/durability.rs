//! Ingest survives being killed at any moment, and two ingests into one store at once never
//! corrupt it: every record ends up stored exactly once.

use assert_cmd::cargo::CommandCargoExt;
use std::process::{Command, Stdio};
use std::time::Duration;

fn bt() -> Command {
    let mut c = Command::cargo_bin("backtrail").unwrap();
    c.env_remove("BACKTRAIL_STORE").env("NO_COLOR", "1");
    c
}

fn counts(store: &std::path::Path) -> (u64, u64) {
    let out = bt()
        .args(["query", "--format", "json", "--store"])
        .arg(store)
        .arg("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (v[0]["n"].as_u64().unwrap(), v[0]["d"].as_u64().unwrap())
}

fn trail(dir: &std::path::Path, events: u64) -> std::path::PathBuf {
    let t = dir.join("trail");
    let ok = bt()
        .args([
            "synth",
            "--seed",
            "3",
            "--events",
            &events.to_string(),
            "--out",
        ])
        .arg(&t)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    t.join("AWSLogs")
}

#[test]
fn killed_ingests_leave_every_record_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = trail(tmp.path(), 20_000);
    let store = tmp.path().join("store");
    // Kill -9 at growing delays; some runs die before, some between, some during commits.
    for ms in [30u64, 80, 150, 250, 400, 600] {
        let mut child = bt()
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
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = bt()
        .args(["ingest", "--json", "--store"])
        .arg(&store)
        .arg(&logs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(counts(&store), (20_000, 20_000));
    // A further run adds nothing.
    let out = bt()
        .args(["ingest", "--json", "--store"])
        .arg(&store)
        .arg(&logs)
        .output()
        .unwrap();
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["stored"], 0);
    assert_eq!(counts(&store), (20_000, 20_000));
}

#[test]
fn concurrent_ingests_into_one_store_store_everything_once() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = trail(tmp.path(), 8_000);
    let store = tmp.path().join("store");
    let spawn = || {
        bt().args(["ingest", "--json", "--segment-rows", "1000", "--store"])
            .arg(&store)
            .arg(&logs)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success());
    let sa: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let sb: serde_json::Value = serde_json::from_slice(&b.stdout).unwrap();
    // One of them did the work; the other, waiting for the lock, found it done.
    assert_eq!(
        sa["stored"].as_u64().unwrap() + sb["stored"].as_u64().unwrap(),
        8_000
    );
    assert_eq!(counts(&store), (8_000, 8_000));
}
