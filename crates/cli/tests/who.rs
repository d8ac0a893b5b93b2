//! `who` on generated trails with known ground truth: every planted incident leads back to
//! its true origin through the true issuing events, and decoys are never followed.

use std::path::Path;
use std::sync::OnceLock;

mod common;
use common::{Fixture, bt};

/// One generated and ingested trail shared by the tests of this file.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4000, 11))
}

fn incidents(trail: &Path) -> Vec<String> {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(trail.join("ground-truth/index.json")).unwrap())
            .unwrap();
    let list = idx
        .get("incidents")
        .unwrap_or(&idx)
        .as_array()
        .unwrap()
        .clone();
    list.iter()
        .map(|i| {
            i.get("name")
                .or(i.get("incident"))
                .and_then(|n| n.as_str())
                .unwrap_or_else(|| i.as_str().unwrap())
                .to_string()
        })
        .collect()
}

fn who_json(f: &Fixture, incident: &str) -> serde_json::Value {
    f.report("who", incident)
}

fn truth(f: &Fixture, incident: &str) -> serde_json::Value {
    f.json(&format!("ground-truth/{incident}.json"))
}

#[test]
fn every_planted_incident_leads_to_its_true_origin_through_the_true_events() {
    let f = fixture();
    let names = incidents(&f.trail);
    assert_eq!(names.len(), 11, "{names:?}");
    let mut failures = Vec::new();
    for name in &names {
        let gt = truth(f, name);
        let report = who_json(f, name);
        let sessions = report["sessions"].as_array().unwrap();
        let subject_arn = gt["subject"]["arn"].as_str().unwrap();
        // The finding's session comes first (recycled keys may add others, ranked after it).
        let Some(s) = sessions.iter().find(|s| s["arn"] == subject_arn) else {
            failures.push(format!("{name}: no session with ARN {subject_arn}"));
            continue;
        };
        let origin = &s["origin"];
        let want = &gt["origin"];
        if origin["kind"] != want["kind"] || origin["identifier"] != want["identifier"] {
            failures.push(format!("{name}: origin {origin} != {want}"));
        }
        // Every issuing event of the ground-truth chain is on the walked chain.
        let hops: Vec<String> = s["chain"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|h| {
                std::iter::once(h["event_id"].as_str().unwrap_or("").to_string()).chain(
                    h["other_event_ids"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|x| x.as_str().unwrap().to_string()),
                )
            })
            .collect();
        for link in gt["chain"].as_array().unwrap() {
            let id = link["event_id"].as_str().unwrap();
            if !hops.iter().any(|h| h == id) {
                failures.push(format!("{name}: chain misses {} {id}", link["method"]));
            }
        }
        // Decoys (recycled-key twins, other sessions of the same ARN) are not on the chain.
        for d in gt["decoys"].as_array().unwrap() {
            for id in d["event_ids_sample"].as_array().into_iter().flatten() {
                if hops.iter().any(|h| h == id.as_str().unwrap()) {
                    failures.push(format!("{name}: decoy {id} on the chain"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn recycled_key_sessions_stay_apart() {
    let f = fixture();
    let gt = truth(f, "recycled-access-key");
    let key = gt["subject"]["access_key_id"].as_str().unwrap();
    let out = bt()
        .args(["who", "--format", "json", "--store"])
        .arg(&f.store)
        .arg(key)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let r: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let arns: Vec<&str> = r["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["arn"].as_str().unwrap())
        .collect();
    assert!(
        arns.len() >= 2,
        "the key is shared by two sessions: {arns:?}"
    );
    let mut dedup = arns.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), arns.len(), "never merged: {arns:?}");
}

#[test]
fn text_output_draws_the_chain_origin_first() {
    let f = fixture();
    let out = bt()
        .args(["who", "--store"])
        .arg(&f.store)
        .arg("--finding")
        .arg(f.trail.join("findings/cross-account-role-chain.json"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let origin = text.find("origin  IAMUser").expect(&text);
    let first_hop = text.find("└─ AssumeRole").expect(&text);
    assert!(origin < first_hop, "{text}");
    assert!(text.matches("└─ AssumeRole").count() >= 3, "{text}");
}

#[test]
fn unknown_subject_exits_5() {
    let f = fixture();
    bt().args(["who", "--store"])
        .arg(&f.store)
        .arg("ASIAZZZZZZZZZZZZZZZZ")
        .assert()
        .code(5);
}

#[test]
fn formats_who_does_not_print_are_refused_by_the_parser() {
    // No store at this path: a refusal at run time would come after opening it (exit 3).
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-store");
    for format in ["html", "markdown", "csv"] {
        bt().args(["who", "AKIAIOSFODNN7EXAMPLE", "--format", format, "--store"])
            .arg(&missing)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(format!(
                "invalid value '{format}'"
            )))
            .stdout("");
    }
    // Options of the reports built on `who` that it has no use for are refused too,
    // rather than accepted and ignored.
    for option in [
        ["--html", "r.html"],
        ["--geoip", "GeoLite2-City.mmdb"],
        ["--source-ip", "203.0.113.7"],
    ] {
        bt().args(["who", "AKIAIOSFODNN7EXAMPLE"])
            .args(option)
            .arg("--store")
            .arg(&missing)
            .assert()
            .code(2)
            .stderr(predicates::str::contains(format!(
                "unexpected argument '{}'",
                option[0]
            )))
            .stdout("");
    }
    // The reports built on `who` still offer them: the parser lets them through to the
    // store, which is missing.
    bt().args([
        "what",
        "AKIAIOSFODNN7EXAMPLE",
        "--format",
        "html",
        "--store",
    ])
    .arg(&missing)
    .assert()
    .code(3);
}
