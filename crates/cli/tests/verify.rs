//! `backtrail verify` end to end on a generated trail with signed digests: untouched it is
//! all valid; each tampering (a modified, deleted or inserted log file, a deleted or altered
//! digest) is found, and nothing else is flagged; logging changes come with their event ids.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde_json::Value;

mod common;
use common::bt;

/// Accounts (4) times regions (3) of the generated organization trail: one chain each.
const CHAINS: u64 = 12;

/// One generated trail with signed digests, shared by the tests (each works on a copy).
fn pristine() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        bt().args([
            "synth",
            "--events",
            "3000",
            "--seed",
            "5",
            "--signed-digests",
            "--out",
        ])
        .arg(dir.path().join("trail"))
        .assert()
        .success();
        dir
    })
    .path()
}

/// A copy of the trail and a store ingested from it.
struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&pristine().join("trail"), &dir.path().join("trail"));
        let c = Case { dir };
        c.ingest(&c.logs());
        c
    }

    fn logs(&self) -> PathBuf {
        self.dir.path().join("trail/AWSLogs")
    }

    fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    fn keys(&self) -> PathBuf {
        self.dir.path().join("trail/ground-truth/public-keys.json")
    }

    fn ingest(&self, source: &Path) {
        bt().args(["ingest", "--store"])
            .arg(self.store())
            .arg(source)
            .assert()
            .success();
    }

    /// Runs verify with the keys; returns the exit code and the JSON report.
    fn verify(&self) -> (i32, Value) {
        let out = bt()
            .args(["verify", "--format", "json", "--public-keys"])
            .arg(self.keys())
            .arg("--store")
            .arg(self.store())
            .arg(self.logs())
            .output()
            .unwrap();
        let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
        });
        (out.status.code().unwrap(), report)
    }

    /// `investigate` of the cross-account incident's finding with `args`; its stdout.
    fn investigate(&self, args: &[&str]) -> Vec<u8> {
        bt().args(["investigate", "--store"])
            .arg(self.store())
            .arg("--finding")
            .arg(
                self.dir
                    .path()
                    .join("trail/findings/cross-account-role-chain.json"),
            )
            .args(args)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    }

    /// Files under the trail whose path contains all of `parts`, sorted.
    fn files(&self, parts: &[&str]) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = walk(&self.logs())
            .into_iter()
            .filter(|p| parts.iter().all(|s| p.to_string_lossy().contains(s)))
            .collect();
        v.sort();
        v
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dst = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dst);
        } else {
            std::fs::copy(&p, &dst).unwrap();
        }
    }
}

fn gunzip(p: &Path) -> String {
    let mut s = String::new();
    MultiGzDecoder::new(std::fs::File::open(p).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn gzip_to(p: &Path, text: &str) {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    std::fs::write(p, e.finish().unwrap()).unwrap();
}

/// Summary counts as numbers.
fn n(r: &Value, field: &str) -> u64 {
    r["summary"][field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field}: {}", r["summary"]))
}

/// The files whose outcome is not `valid`.
fn flagged(r: &Value) -> Vec<(String, String)> {
    r["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] != "valid")
        .map(|f| {
            (
                f["outcome"].as_str().unwrap().to_string(),
                f["key"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A log file in the middle of the day, of the first account's us-east-1.
fn a_log_file(c: &Case) -> PathBuf {
    let v = c.files(&["/CloudTrail/us-east-1/", "T12"]);
    v.first().cloned().expect("a log file at noon")
}

#[test]
fn an_untouched_trail_is_valid_and_the_result_reaches_investigate() {
    let c = Case::new();
    let (code, r) = c.verify();
    assert_eq!(code, 0, "{}", r["summary"]);
    let logs = c.files(&["/CloudTrail/"]).len() as u64;
    let digests = c.files(&["/CloudTrail-Digest/"]).len() as u64;
    assert_eq!(n(&r, "files_checked"), logs);
    assert_eq!(n(&r, "valid"), logs);
    assert_eq!(flagged(&r), vec![]);
    assert_eq!(n(&r, "digests"), digests);
    assert_eq!(
        digests,
        CHAINS * 24,
        "one digest an hour per account and region"
    );
    // The newest digest of each local chain is stated unverifiable, not failed.
    assert_eq!(n(&r, "digests_unverifiable"), CHAINS);
    assert_eq!(n(&r, "digests_verified"), digests - CHAINS);
    assert_eq!(n(&r, "digests_failed"), 0);
    assert_eq!(n(&r, "chain_issues"), 0, "{}", r["chain"]);
    assert_eq!(r["summary"]["problems"], false);
    assert!(r["notes"].to_string().contains("x-amz-meta-signature"));

    // The result is kept in the store; the investigation says where its evidence comes from.
    assert!(c.store().join("integrity.json").is_file());
    let inv: Value = serde_json::from_slice(&c.investigate(&["--format", "json"])).unwrap();
    let evidence = inv["integrity"]["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty());
    let verified = evidence
        .iter()
        .filter(|e| e["status"] == "verified")
        .count();
    assert!(verified > 0, "{evidence:?}");
    for e in evidence {
        assert!(
            e["status"] == "verified" || e["status"] == "hash_matches_unsigned_digest",
            "{e}"
        );
    }
    assert_eq!(inv["integrity"]["sections"][0]["section"], "chain");
    let text = c.investigate(&[]);
    assert!(String::from_utf8_lossy(&text).contains("Log integrity"));
    let html = c.dir.path().join("report.html");
    c.investigate(&["--html", html.to_str().unwrap()]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("id=\"integrity\"") && page.contains("no problems found"));
}

#[test]
fn a_modified_log_file_is_found_and_nothing_else() {
    let c = Case::new();
    let f = a_log_file(&c);
    let text = gunzip(&f).replacen("\"eventName\":\"", "\"eventName\":\"X", 1);
    gzip_to(&f, &text);
    let (code, r) = c.verify();
    assert_eq!(code, 6);
    assert_eq!(
        flagged(&r),
        vec![("modified".to_string(), f.display().to_string())]
    );
    assert_eq!(n(&r, "digests_failed"), 0);
    assert_eq!(r["summary"]["problems"], true);
}

#[test]
fn a_deleted_log_file_is_missing() {
    let c = Case::new();
    let f = a_log_file(&c);
    std::fs::remove_file(&f).unwrap();
    let (code, r) = c.verify();
    assert_eq!(code, 6);
    let flagged = flagged(&r);
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert_eq!(flagged[0].0, "missing");
    let name = f.file_name().unwrap().to_string_lossy().to_string();
    assert!(flagged[0].1.ends_with(&name), "{flagged:?}");
    assert_eq!(n(&r, "files_checked"), n(&r, "valid") + 1);
}

#[test]
fn an_inserted_log_file_is_unlisted() {
    let c = Case::new();
    let f = a_log_file(&c);
    let name = f.file_name().unwrap().to_string_lossy().to_string();
    // Same account, region and minute, another random suffix: as if delivered.
    let fake = f.with_file_name(format!(
        "{}AAAAAAAAAAAAAAAA.json.gz",
        &name[..name.len() - 24]
    ));
    let text = gunzip(&f).replacen("\"eventID\":\"", "\"eventID\":\"forged-", 1);
    gzip_to(&fake, &text);
    let (code, r) = c.verify();
    assert_eq!(code, 6);
    assert_eq!(
        flagged(&r),
        vec![("unlisted".to_string(), fake.display().to_string())]
    );
}

#[test]
fn a_deleted_digest_breaks_the_chain_with_its_time() {
    let c = Case::new();
    let digests = c.files(&["/CloudTrail-Digest/eu-central-1/", "T120000Z"]);
    let d = &digests[0];
    std::fs::remove_file(d).unwrap();
    let (code, r) = c.verify();
    assert_eq!(code, 6);
    let chain = r["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 1, "{chain:?}");
    assert_eq!(chain[0]["kind"], "missing_digest");
    assert_eq!(chain[0]["region"], "eu-central-1");
    assert!(chain[0]["detail"].as_str().unwrap().contains("T120000Z"));
    assert_eq!(n(&r, "digests_failed"), 0);
    // Its hour's files are now covered by no digest; none is modified, missing or unlisted.
    for (outcome, _) in flagged(&r) {
        assert_eq!(outcome, "not_covered");
    }
}

#[test]
fn an_altered_digest_fails_its_signature() {
    let c = Case::new();
    let digests = c.files(&["/CloudTrail-Digest/us-west-2/", "T080000Z"]);
    let d = &digests[0];
    let text = gunzip(d);
    let altered = text.replacen(
        "\"digestStartTime\":\"2026-10-01T07:00:00Z\"",
        "\"digestStartTime\":\"2026-10-01T07:00:01Z\"",
        1,
    );
    assert_ne!(text, altered);
    gzip_to(d, &altered);
    let (code, r) = c.verify();
    assert_eq!(code, 6);
    let failed: Vec<&Value> = r["digests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["key"], d.display().to_string());
    let problems = failed[0]["problems"].to_string();
    assert!(problems.contains("signature does not verify"), "{problems}");
    assert!(
        problems.contains("changed since the next digest"),
        "{problems}"
    );
    assert_eq!(flagged(&r), vec![]);
}

#[test]
fn logging_changes_come_with_their_event_ids_and_no_keys_means_unchecked() {
    let c = Case::new();
    let extra = c.dir.path().join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(
        extra.join("tamper.json"),
        r#"{"Records":[
{"eventVersion":"1.08","eventTime":"2026-10-01T12:30:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StopLogging","awsRegion":"us-east-1","eventID":"stop-1111","recipientAccountId":"111111111111","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory"},"requestParameters":{"name":"acme-org-trail"}},
{"eventVersion":"1.08","eventTime":"2026-10-01T13:30:00Z","eventSource":"cloudtrail.amazonaws.com","eventName":"StartLogging","awsRegion":"us-east-1","eventID":"start-2222","recipientAccountId":"111111111111","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111111111111:user/mallory"},"requestParameters":{"name":"acme-org-trail"}}
]}"#,
    )
    .unwrap();
    c.ingest(&extra);
    let out = bt()
        .args(["verify", "--store"])
        .arg(c.store())
        .arg(c.logs())
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("logging_stopped StopLogging"), "{text}");
    assert!(
        text.contains("stop-1111") && text.contains("start-2222"),
        "{text}"
    );
    assert!(text.contains("not checked"), "{text}");
    assert!(text.contains("result: no problems found"), "{text}");
}

#[test]
fn bad_public_keys_are_an_input_error() {
    let c = Case::new();
    let bad = c.dir.path().join("keys.json");
    std::fs::write(&bad, "{}").unwrap();
    bt().args(["verify", "--public-keys"])
        .arg(&bad)
        .arg("--store")
        .arg(c.store())
        .arg(c.logs())
        .assert()
        .code(3);
}
