//! End-to-end checks of `backtrail_synth::generate`: determinism, the S3 layout, record
//! shape, identity mechanics, and that every ground truth agrees with the records.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use backtrail_synth::{GroundTruth, SynthError, SynthOptions, generate};
use flate2::read::GzDecoder;
use serde_json::Value;

/// A fresh, empty directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "backtrail-synth-test-{}-{name}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

fn gunzip(path: &Path) -> String {
    let mut s = String::new();
    GzDecoder::new(fs::File::open(path).unwrap())
        .read_to_string(&mut s)
        .unwrap();
    s
}

fn is_log(rel: &Path) -> bool {
    rel.components().any(|c| c.as_os_str() == "CloudTrail")
}

/// Every record of the trail with the relative path of its file.
fn records(root: &Path) -> Vec<(PathBuf, Value)> {
    let mut out = Vec::new();
    for rel in files(root).into_iter().filter(|p| is_log(p)) {
        let doc: Value = serde_json::from_str(&gunzip(&root.join(&rel))).unwrap();
        for r in doc["Records"].as_array().expect("Records array") {
            out.push((rel.clone(), r.clone()));
        }
    }
    out
}

fn run(name: &str, events: u64, seed: u64) -> TempDir {
    let dir = TempDir::new(name);
    let summary = generate(&SynthOptions::new(dir.0.clone(), events, seed)).unwrap();
    assert_eq!(summary.events_written, events);
    assert_eq!(summary.incidents.len(), 11);
    dir
}

fn truths(root: &Path) -> Vec<GroundTruth> {
    let index: Value =
        serde_json::from_str(&fs::read_to_string(root.join("ground-truth/index.json")).unwrap())
            .unwrap();
    index["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let p = root.join(i["ground_truth"].as_str().unwrap());
            serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let a = run("det-a", 3_000, 7);
    let b = run("det-b", 3_000, 7);
    let c = run("det-c", 3_000, 8);
    let fa = files(&a.0);
    assert_eq!(fa, files(&b.0));
    for f in &fa {
        assert_eq!(
            fs::read(a.0.join(f)).unwrap(),
            fs::read(b.0.join(f)).unwrap(),
            "{}",
            f.display()
        );
    }
    let fc = files(&c.0);
    let same = fa == fc
        && fa
            .iter()
            .all(|f| fs::read(a.0.join(f)).unwrap() == fs::read(c.0.join(f)).unwrap());
    assert!(!same, "a different seed must change the output");
}

#[test]
fn layout_counts_and_record_shape() {
    let dir = run("layout", 5_000, 1);
    let root = &dir.0;
    let all = files(root);
    let index: Value =
        serde_json::from_str(&fs::read_to_string(root.join("ground-truth/index.json")).unwrap())
            .unwrap();
    let org = index["organization_id"].as_str().unwrap();
    assert!(org.starts_with("o-") && org.len() == 12);
    let mut digests = 0;
    let mut insights = 0;
    for rel in &all {
        let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap()).collect();
        if parts[0] != "AWSLogs" {
            assert!(matches!(parts[0], "ground-truth" | "findings"), "{parts:?}");
            continue;
        }
        // AWSLogs/o-x/<acct>/<kind>/<region>/YYYY/MM/DD/<file>
        assert_eq!(parts.len(), 9, "{parts:?}");
        assert_eq!(parts[1], org);
        let acct = parts[2];
        assert!(acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit()));
        let (kind, region, file) = (parts[3], parts[4], parts[8]);
        let day = format!("{}{}{}", parts[5], parts[6], parts[7]);
        match kind {
            "CloudTrail" | "CloudTrail-Insight" => {
                let prefix = format!("{acct}_{kind}_{region}_{day}T");
                assert!(file.starts_with(&prefix), "{file}");
                let rest = &file[prefix.len()..];
                // HHMMZ_<16 alnum>.json.gz
                assert_eq!(rest.len(), 5 + 1 + 16 + 8, "{file}");
                assert_eq!(&rest[4..6], "Z_");
                assert!(rest[6..22].bytes().all(|b| b.is_ascii_alphanumeric()));
                assert!(rest.ends_with(".json.gz"));
                if kind == "CloudTrail-Insight" {
                    insights += 1;
                    let doc: Value = serde_json::from_str(&gunzip(&root.join(rel))).unwrap();
                    for r in doc["Records"].as_array().unwrap() {
                        assert_eq!(r["eventType"], "AwsCloudTrailInsight");
                        assert_eq!(r["eventCategory"], "Insight");
                    }
                }
            }
            "CloudTrail-Digest" => {
                digests += 1;
                assert!(file.starts_with(&format!(
                    "{acct}_CloudTrail-Digest_{region}_acme-org-trail_{region}_{day}T"
                )));
                let doc: Value = serde_json::from_str(&gunzip(&root.join(rel))).unwrap();
                assert_eq!(doc["awsAccountId"], acct);
                assert!(doc["logFiles"].is_array());
                for lf in doc["logFiles"].as_array().unwrap() {
                    let key = lf["s3Object"].as_str().unwrap();
                    assert!(all.iter().any(|p| p.to_str() == Some(key)), "{key}");
                }
            }
            other => panic!("unexpected folder {other}"),
        }
    }
    assert!(
        digests >= 4 && insights == 1,
        "{digests} digests, {insights} insights"
    );

    let recs = records(root);
    assert_eq!(recs.len(), 5_000);
    let mut ids = HashSet::new();
    for (rel, r) in &recs {
        for f in [
            "eventTime",
            "eventName",
            "eventSource",
            "eventID",
            "eventVersion",
            "awsRegion",
            "recipientAccountId",
            "eventType",
        ] {
            assert!(r[f].is_string(), "{f} missing in {r}");
        }
        assert!(r["userIdentity"].is_object());
        assert!(
            ids.insert(r["eventID"].as_str().unwrap().to_string()),
            "duplicate id"
        );
        let parts: Vec<&str> = rel.iter().map(|c| c.to_str().unwrap()).collect();
        let t = r["eventTime"].as_str().unwrap();
        assert_eq!(
            &t[..10],
            format!("{}-{}-{}", parts[5], parts[6], parts[7]),
            "{t} in {rel:?}"
        );
        assert_eq!(r["recipientAccountId"], parts[2]);
        assert_eq!(r["awsRegion"], parts[4]);
        let ak = r["userIdentity"]["accessKeyId"].as_str().unwrap_or("");
        if !ak.is_empty() {
            assert!(
                ak.len() == 20 && (ak.starts_with("AKIA") || ak.starts_with("ASIA")),
                "{ak}"
            );
        }
        if let Some(code) = r["errorCode"].as_str()
            && code == "AccessDenied"
            && r["eventSource"] != "s3.amazonaws.com"
        {
            assert!(r["requestParameters"].is_null(), "{r}");
        }
    }
}

/// Selection rule of the ground truth, implemented independently of the crate.
fn selected(t: &GroundTruth, r: &Value) -> Option<usize> {
    let ip = r["sourceIPAddress"].as_str()?;
    if !t.source_ips.iter().any(|s| s == ip) {
        return None;
    }
    let ui = &r["userIdentity"];
    let key = ui["accessKeyId"].as_str().filter(|k| !k.is_empty());
    let cd = ui["sessionContext"]["attributes"]["creationDate"].as_str();
    t.sessions.iter().position(|s| {
        // Keyless records (console sign-ins) belong to the session with their ARN and
        // creationDate; long-term key sessions have no creationDate and need the key.
        let key_ok = match key {
            Some(k) => s.access_key_ids.iter().any(|x| x == k),
            None => s.creation_date.is_some(),
        };
        key_ok && ui["arn"].as_str() == Some(s.arn.as_str()) && cd == s.creation_date.as_deref()
    })
}

#[test]
fn ground_truth_agrees_with_the_records() {
    let dir = run("truth", 6_000, 1);
    let root = &dir.0;
    let recs = records(root);
    let by_id: HashMap<&str, &Value> = recs
        .iter()
        .map(|(_, r)| (r["eventID"].as_str().unwrap(), r))
        .collect();
    let names: Vec<String> = truths(root).into_iter().map(|t| t.incident).collect();
    assert_eq!(
        names,
        [
            "leaked-iam-key",
            "identity-center-console",
            "ec2-credentials-exfiltration",
            "cross-account-role-chain",
            "recycled-access-key",
            "vpc-endpoint-stolen-credentials",
            "access-denied-storm",
            "key-minting-leaked-key",
            "quiet-data-theft",
            "sso-console-switch-renew",
            "sso-console-keyless-login"
        ]
    );
    for t in truths(root) {
        let name = &t.incident;
        // A spawned session's issuing call is signed by its parent and returns its key.
        for sp in &t.spawned {
            let r = by_id[sp.event_id.as_str()];
            assert_eq!(r["eventName"], sp.method.as_str(), "{name}");
            assert_eq!(
                r["userIdentity"]["accessKeyId"],
                sp.parent_access_key_id.as_str(),
                "{name}"
            );
            let issued = r["responseElements"]["accessKey"]["accessKeyId"]
                .as_str()
                .or(r["responseElements"]["credentials"]["accessKeyId"].as_str())
                .unwrap();
            assert!(
                t.sessions[sp.session]
                    .access_key_ids
                    .iter()
                    .any(|k| k == issued),
                "{name}: {issued}"
            );
        }
        let mut per_session = vec![0u64; t.sessions.len()];
        let mut apis: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        let mut ips = BTreeSet::new();
        let mut denied = BTreeSet::new();
        let mut subject_seen = false;
        for (_, r) in &recs {
            let Some(i) = selected(&t, r) else { continue };
            per_session[i] += 1;
            ips.insert(r["sourceIPAddress"].as_str().unwrap().to_string());
            let e = apis
                .entry((
                    r["eventSource"].as_str().unwrap().to_string(),
                    r["eventName"].as_str().unwrap().to_string(),
                ))
                .or_default();
            if let Some(code) = r["errorCode"].as_str() {
                e.1 += 1;
                if matches!(code, "AccessDenied" | "Client.UnauthorizedOperation") {
                    let msg = r["errorMessage"].as_str().unwrap();
                    if let Some(pos) = msg.find(" on resource: ") {
                        let rest = &msg[pos + 14..];
                        let target = rest.split(" because").next().unwrap();
                        denied.insert((
                            r["eventName"].as_str().unwrap().to_string(),
                            target.to_string(),
                        ));
                    }
                }
            } else {
                e.0 += 1;
            }
            if r["userIdentity"]["accessKeyId"] == t.subject.access_key_id.as_str()
                && r["userIdentity"]["arn"] == t.subject.arn.as_str()
            {
                subject_seen = true;
            }
        }
        assert!(subject_seen, "{name}: subject key never used");
        let counts: Vec<u64> = t.sessions.iter().map(|s| s.attacker_event_count).collect();
        assert_eq!(per_session, counts, "{name}: per-session counts");
        assert!(counts.iter().all(|&c| c > 0), "{name}: empty session");
        let expected: Vec<(String, String, u64, u64, u64)> = t
            .api_counts
            .iter()
            .map(|a| {
                (
                    a.event_source.clone(),
                    a.event_name.clone(),
                    a.occurrences,
                    a.successes,
                    a.failures,
                )
            })
            .collect();
        let got: Vec<(String, String, u64, u64, u64)> = apis
            .into_iter()
            .map(|((s, n), (ok, bad))| (s, n, ok + bad, ok, bad))
            .collect();
        assert_eq!(got, expected, "{name}: api_counts");
        assert_eq!(
            ips.into_iter().collect::<Vec<_>>(),
            t.source_ips,
            "{name}: source_ips"
        );
        let dt: Vec<(String, String)> = t
            .denied_targets
            .iter()
            .map(|d| (d.event_name.clone(), d.target.clone()))
            .collect();
        assert_eq!(
            denied.into_iter().collect::<Vec<_>>(),
            dt,
            "{name}: denied_targets"
        );

        // chain events exist and hand over what they claim
        let mut previous_arn: Option<&str> = None;
        for link in &t.chain {
            let ev = by_id
                .get(link.event_id.as_str())
                .unwrap_or_else(|| panic!("{name}: chain event missing"));
            assert_eq!(ev["eventTime"], link.time.as_str());
            if let Some(k) = &link.issued_access_key_id {
                assert_eq!(
                    ev["responseElements"]["credentials"]["accessKeyId"],
                    k.as_str(),
                    "{name}"
                );
            }
            if let (Some(c), Some(p)) = (&link.caller_arn, previous_arn) {
                assert_eq!(c, p, "{name}: chain is not connected");
            }
            for other in &link.other_copy_event_ids {
                let o = by_id
                    .get(other.as_str())
                    .unwrap_or_else(|| panic!("{name}: copy missing"));
                if link.method == "AssumeRole" {
                    assert_eq!(o["sharedEventID"].as_str(), link.shared_event_id.as_deref());
                    assert_eq!(o["userIdentity"]["type"], "AWSAccount");
                    assert_ne!(o["recipientAccountId"], ev["recipientAccountId"]);
                }
            }
            previous_arn = Some(&link.issued_arn);
        }
        if let Some(last) = t.chain.last() {
            assert_eq!(
                last.issued_arn, t.subject.arn,
                "{name}: chain ends at the subject"
            );
        }
        for d in &t.decoys {
            assert!(!d.event_ids_sample.is_empty(), "{name}");
            for id in &d.event_ids_sample {
                let ev = by_id
                    .get(id.as_str())
                    .unwrap_or_else(|| panic!("{name}: decoy event missing"));
                assert!(selected(&t, ev).is_none(), "{name}: decoy selected");
            }
        }
        for id in &t.origin.evidence_event_ids {
            assert!(by_id.contains_key(id.as_str()), "{name}: evidence missing");
        }
        let finding: Value =
            serde_json::from_str(&fs::read_to_string(root.join(&t.finding)).unwrap()).unwrap();
        assert_eq!(
            finding["resource"]["accessKeyDetails"]["accessKeyId"],
            t.subject.access_key_id.as_str(),
            "{name}: finding"
        );
        assert_eq!(finding["schemaVersion"], "2.0");
    }
}

#[test]
fn identity_mechanics() {
    let dir = run("mechanics", 8_000, 3);
    let recs = records(&dir.0);
    // keys issued by STS: (key, arn) -> (creationDate, expiration)
    let mut issued: HashMap<(String, String), String> = HashMap::new();
    let mut issue_times: HashMap<String, Vec<(String, i64, i64)>> = HashMap::new();
    for (_, r) in &recs {
        let name = r["eventName"].as_str().unwrap();
        if !name.starts_with("AssumeRole") || r["errorCode"].is_string() {
            continue;
        }
        let creds = &r["responseElements"]["credentials"];
        let key = creds["accessKeyId"].as_str().unwrap().to_string();
        let req = &r["requestParameters"];
        let arn = match r["responseElements"]["assumedRoleUser"]["arn"].as_str() {
            Some(a) => a.to_string(),
            None => {
                // EC2 role credentials: no assumedRoleUser
                let role = req["roleArn"].as_str().unwrap();
                let (acct, name) = role.split_once(":role/").unwrap();
                let acct = acct.rsplit(':').next().unwrap();
                let role_name = name.rsplit('/').next().unwrap();
                format!(
                    "arn:aws:sts::{acct}:assumed-role/{role_name}/{}",
                    req["roleSessionName"].as_str().unwrap()
                )
            }
        };
        let t = r["eventTime"].as_str().unwrap().to_string();
        issued.insert((key.clone(), arn.clone()), t.clone());
        let secs = chrono::DateTime::parse_from_rfc3339(&t)
            .unwrap()
            .timestamp();
        let exp = chrono::NaiveDateTime::parse_from_str(
            creds["expiration"].as_str().unwrap(),
            "%b %-d, %Y, %-I:%M:%S %p",
        )
        .unwrap()
        .and_utc()
        .timestamp();
        assert!(exp > secs);
        issue_times.entry(key).or_default().push((arn, secs, exp));
    }
    let mut console_keys = 0;
    let mut issued_uses = 0;
    for (_, r) in &recs {
        let ui = &r["userIdentity"];
        let (Some(key), Some(arn)) = (ui["accessKeyId"].as_str(), ui["arn"].as_str()) else {
            continue;
        };
        if key.is_empty() {
            continue;
        }
        let t = r["eventTime"].as_str().unwrap();
        let cd = ui["sessionContext"]["attributes"]["creationDate"].as_str();
        if let Some(cd) = cd {
            assert!(cd <= t, "call before its session exists: {r}");
        }
        if r["sessionCredentialFromConsole"] == "true" {
            console_keys += 1;
            assert!(
                !issued.contains_key(&(key.to_string(), arn.to_string())),
                "console key with an issuing event"
            );
            assert!(cd.is_some());
        } else if let Some(issue) = issued.get(&(key.to_string(), arn.to_string())) {
            issued_uses += 1;
            assert_eq!(
                Some(issue.as_str()),
                cd,
                "creationDate differs from the AssumeRole time: {r}"
            );
            let secs = chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp();
            let (_, _, exp) = issue_times[key].iter().find(|(a, ..)| a == arn).unwrap();
            assert!(secs <= *exp, "used after expiration");
        }
        if ui["type"] == "AssumedRole" {
            assert!(key.starts_with("ASIA"));
            assert!(ui["principalId"].as_str().unwrap().starts_with("AROA"));
        }
    }
    assert!(console_keys > 50, "{console_keys}");
    assert!(issued_uses > 1000, "{issued_uses}");

    // the recycled key: two sessions with overlapping validity
    let t = truths(&dir.0)
        .into_iter()
        .find(|t| t.incident == "recycled-access-key")
        .unwrap();
    let uses = &issue_times[&t.subject.access_key_id];
    assert_eq!(uses.len(), 2, "{uses:?}");
    assert_ne!(uses[0].0, uses[1].0);
    assert!(
        uses[0].1 < uses[1].2 && uses[1].1 < uses[0].2,
        "validity does not overlap"
    );
    let arns: HashSet<&str> = recs
        .iter()
        .filter(|(_, r)| r["userIdentity"]["accessKeyId"] == t.subject.access_key_id.as_str())
        .map(|(_, r)| r["userIdentity"]["arn"].as_str().unwrap())
        .collect();
    assert_eq!(arns.len(), 2);
}

#[test]
fn small_runs_plant_everything_and_tiny_runs_fail() {
    let dir = run("small", 2_000, 42);
    assert_eq!(records(&dir.0).len(), 2_000);
    assert_eq!(truths(&dir.0).len(), 11);
    let tiny = TempDir::new("tiny");
    match generate(&SynthOptions::new(tiny.0.clone(), 10, 1)) {
        Err(SynthError::TooFewEvents {
            requested: 10,
            minimum,
        }) => assert!(minimum > 100),
        other => panic!("{other:?}"),
    }
    // a non-empty output directory is refused
    match generate(&SynthOptions::new(dir.0.clone(), 2_000, 42)) {
        Err(SynthError::OutputNotEmpty(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn default_periods() {
    let o = SynthOptions::new(PathBuf::from("x"), 200_000, 1);
    assert_eq!(o.days, 1);
    assert_eq!(o.start.to_rfc3339(), "2026-10-01T00:00:00+00:00");
    assert_eq!(SynthOptions::new(PathBuf::from("x"), 200_001, 1).days, 1);
    assert_eq!(
        SynthOptions::new(PathBuf::from("x"), 10_000_000, 1).days,
        25
    );
    assert_eq!(
        SynthOptions::new(PathBuf::from("x"), 100_000_000, 1).days,
        60
    );
}

#[test]
fn multi_day_run_with_300k_events() {
    let dir = TempDir::new("300k");
    let mut opts = SynthOptions::new(dir.0.clone(), 300_000, 5);
    opts.days = 2;
    let s = generate(&opts).unwrap();
    assert_eq!(s.events_written, 300_000);
    assert!(s.files_written > 1_000);
}

/// Throughput check: `cargo test --release -p backtrail-synth -- --ignored --nocapture`.
#[test]
#[ignore]
fn throughput_two_million() {
    let dir = TempDir::new("2m");
    let opts = SynthOptions::new(dir.0.clone(), 2_000_000, 9);
    let t0 = std::time::Instant::now();
    let s = generate(&opts).unwrap();
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{} events, {} files in {secs:.2}s: {:.0} events/s",
        s.events_written,
        s.files_written,
        s.events_written as f64 / secs
    );
}
