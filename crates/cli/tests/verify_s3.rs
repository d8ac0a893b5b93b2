//! `backtrail verify s3://...` against moto: each digest's signature comes from its object's
//! `x-amz-meta-signature`, so every digest, the newest of each chain included, is verified,
//! and a wrong signature in the metadata fails. Without moto the test prints a notice and passes, except
//! under CI (env `CI` set), where it fails.

use std::path::{Path, PathBuf};

use serde_json::Value;

mod common;
#[path = "../../sources/tests/common/moto.rs"]
mod moto;
use common::bt;
use moto::Moto;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn verify(moto: &Moto, url: &str, keys: &Path) -> (i32, Value) {
    let out = bt()
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .args([
            "verify",
            "--format",
            "json",
            "--store",
            "/nonexistent-store",
            url,
        ])
        .arg("--public-keys")
        .arg(keys)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code().unwrap(), report)
}

#[test]
fn digests_read_from_s3_are_verified_by_their_metadata() {
    let moto = match Moto::start().or_else(|_| Moto::start()) {
        Ok(m) => m,
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("the S3 test needs moto (run scripts/install-test-deps.sh): {why}")
        }
        Err(why) => {
            eprintln!("NOTICE: S3 verify test skipped, moto is not available ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let trail = dir.path().join("trail");
    bt().args([
        "synth",
        "--events",
        "2000",
        "--seed",
        "9",
        "--signed-digests",
        "--out",
    ])
    .arg(&trail)
    .assert()
    .success();
    let index: Value =
        serde_json::from_slice(&std::fs::read(trail.join("ground-truth/index.json")).unwrap())
            .unwrap();
    let bucket = index["bucket"].as_str().unwrap().to_string();
    let signatures: Value = serde_json::from_slice(
        &std::fs::read(trail.join("ground-truth/digest-signatures.json")).unwrap(),
    )
    .unwrap();
    // One digest (the newest of its chain, which no later digest vouches for) carries a
    // wrong signature in its metadata.
    let tampered = signatures
        .as_object()
        .unwrap()
        .keys()
        .max()
        .unwrap()
        .clone();
    let wrong = "ab".repeat(256);
    moto.put_empty(&bucket);
    let mut files = Vec::new();
    walk(&trail.join("AWSLogs"), &mut files);
    let mut digests = 0;
    for f in &files {
        let key = f
            .strip_prefix(&trail)
            .unwrap()
            .to_string_lossy()
            .to_string();
        let body = std::fs::read(f).unwrap();
        match signatures[&key].as_str() {
            Some(sig) => {
                let sig = if key == tampered { wrong.as_str() } else { sig };
                let meta = [
                    ("x-amz-meta-signature", sig),
                    ("x-amz-meta-signature-algorithm", "SHA256withRSA"),
                ];
                moto.put(&format!("{bucket}/{key}"), &body, &meta);
                digests += 1;
            }
            None => moto.put(&format!("{bucket}/{key}"), &body, &[]),
        }
    }
    let keys = trail.join("ground-truth/public-keys.json");
    let (code, r) = verify(&moto, &format!("s3://{bucket}/AWSLogs/"), &keys);
    assert_eq!(code, 6, "{}", r["summary"]);
    assert_eq!(r["summary"]["digests"], digests);
    // Every other digest, the newest of the other chains included, verifies by its metadata.
    assert_eq!(
        r["summary"]["digests_verified"],
        digests - 1,
        "{}",
        r["summary"]
    );
    assert_eq!(r["summary"]["digests_unverifiable"], 0);
    assert_eq!(r["summary"]["digests_failed"], 1);
    let list = r["digests"].as_array().unwrap();
    assert!(list.iter().all(|d| d["signature_source"] == "s3_metadata"));
    let failed: Vec<&Value> = list.iter().filter(|d| d["status"] == "failed").collect();
    assert_eq!(failed[0]["key"], format!("s3://{bucket}/{tampered}"));
    assert!(
        failed[0]["problems"]
            .to_string()
            .contains("does not verify")
    );
    assert_eq!(r["summary"]["modified"], 0);
    assert_eq!(r["summary"]["valid"], r["summary"]["files_checked"]);
}
