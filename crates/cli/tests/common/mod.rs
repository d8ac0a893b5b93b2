//! Helpers shared by the binary's integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The binary, with a clean environment.
pub fn bt() -> Command {
    let mut c = Command::cargo_bin("backtrail").unwrap();
    c.env_remove("BACKTRAIL_STORE")
        .env_remove("BACKTRAIL_ENGINE")
        .env("NO_COLOR", "1");
    c
}

/// Generates `events` events with `seed` into `dir/trail`.
pub fn synth(dir: &Path, events: u64, seed: u64) -> PathBuf {
    let trail = dir.join("trail");
    bt().args([
        "synth",
        "--events",
        &events.to_string(),
        "--seed",
        &seed.to_string(),
    ])
    .arg("--out")
    .arg(&trail)
    .assert()
    .success();
    trail
}

/// A generated trail and its ingested store.
pub struct Fixture {
    _dir: tempfile::TempDir,
    pub trail: PathBuf,
    pub store: PathBuf,
}

impl Fixture {
    /// Generates `events` events with `seed` and ingests them.
    pub fn new(events: u64, seed: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let trail = synth(dir.path(), events, seed);
        let store = dir.path().join("store");
        bt().args(["ingest", "--store"])
            .arg(&store)
            .arg(trail.join("AWSLogs"))
            .assert()
            .success();
        Fixture {
            _dir: dir,
            trail,
            store,
        }
    }

    /// A ground-truth or finding file of the trail, parsed.
    pub fn json(&self, relative: &str) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.trail.join(relative)).unwrap()).unwrap()
    }

    /// Runs a report command on an incident's finding and parses its JSON.
    pub fn report(&self, command: &str, incident: &str) -> serde_json::Value {
        let out = bt()
            .args([command, "--format", "json", "--store"])
            .arg(&self.store)
            .arg("--finding")
            .arg(self.trail.join(format!("findings/{incident}.json")))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        serde_json::from_slice(&out).unwrap()
    }
}

/// Per-API (event source, event name) counts: occurrences, successes, failures.
pub type Counts = std::collections::BTreeMap<(String, String), (u64, u64, u64)>;

/// Adds a report section's activity rows to `counts`.
pub fn add_rows(counts: &mut Counts, section: &serde_json::Value) {
    for r in section["activity"]["rows"].as_array().unwrap() {
        let e = counts
            .entry((
                r["event_source"].as_str().unwrap().into(),
                r["event_name"].as_str().unwrap().into(),
            ))
            .or_default();
        e.0 += r["occurrences"].as_u64().unwrap();
        e.1 += r["successes"].as_u64().unwrap();
        e.2 += r["failures"].as_u64().unwrap();
    }
}

/// A session's identity as reports and ground truth write it: ARN and creation date.
pub fn session_id(s: &serde_json::Value) -> (String, Option<String>) {
    (
        s["arn"].as_str().unwrap_or("").to_string(),
        s["creation_date"].as_str().map(str::to_string),
    )
}

/// The sessions a ground-truth file names.
pub fn truth_sessions(gt: &serde_json::Value) -> Vec<(String, Option<String>)> {
    gt["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(session_id)
        .collect()
}
