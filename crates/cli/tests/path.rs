//! `investigate` over the whole path: the sessions the attacker's sessions spawned (every key
//! and call, exactly), and the path facts, true where the generator planted them and absent
//! on the benign twins that share the attacker's ARNs or keys. Plus the real Stratus Red Team
//! capture, where the leaked key's spawned role sessions and backdoor console login, and its
//! snapshot/AMI/bucket shares, are on the path.

use std::collections::BTreeSet;
use std::sync::OnceLock;

mod common;
use backtrail_testkit::realdata;
use common::{Counts, Fixture, add_rows, bt};

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4000, 11))
}

fn run(args: &[&str], store: &std::path::Path) -> serde_json::Value {
    let out = bt()
        .args(["investigate", "--format", "json", "--store"])
        .arg(store)
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

fn finding(f: &Fixture, incident: &str) -> String {
    f.trail
        .join(format!("findings/{incident}.json"))
        .display()
        .to_string()
}

fn finding_ip(f: &Fixture, incident: &str) -> String {
    f.json(&format!("findings/{incident}.json"))["service"]["action"]["awsApiCallAction"]
        ["remoteIpDetails"]["ipAddressV4"]
        .as_str()
        .unwrap()
        .to_string()
}

fn facts(inv: &serde_json::Value) -> BTreeSet<String> {
    inv["path_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect()
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_key_and_call_of_every_spawned_session() {
    let f = fixture();
    let name = "key-minting-leaked-key";
    let gt = f.json(&format!("ground-truth/{name}.json"));
    let inv = run(&["--finding", &finding(f, name)], &f.store);
    let sections = inv["sessions"].as_array().unwrap();
    let spawned: Vec<&serde_json::Value> =
        sections.iter().filter(|s| s["role"] == "spawned").collect();
    let want = gt["spawned"].as_array().unwrap();
    assert_eq!(spawned.len(), want.len(), "{spawned:#?}");
    for w in want {
        let truth = &gt["sessions"][w["session"].as_u64().unwrap() as usize];
        let s = spawned
            .iter()
            .find(|s| s["spawned_by"]["event_id"] == w["event_id"])
            .unwrap_or_else(|| panic!("no spawned section issued by {}", w["event_id"]));
        assert_eq!(s["spawned_by"]["method"], w["method"]);
        assert!(
            strings(&s["spawned_by"]["parent_access_key_ids"])
                .contains(&w["parent_access_key_id"].as_str().unwrap().to_string())
        );
        assert_eq!(s["spawned_by"]["depth"], 1);
        assert_eq!(s["arn"], truth["arn"]);
        assert_eq!(s["creation_date"], truth["creation_date"]);
        assert_eq!(
            strings(&s["access_key_ids"]),
            strings(&truth["access_key_ids"])
        );
        assert_eq!(
            s["activity"]["totals"]["events"], truth["attacker_event_count"],
            "{}",
            w["method"]
        );
    }
    // Subject and spawned sections together hold exactly the attacker's calls.
    let mut got = Counts::new();
    for s in sections {
        add_rows(&mut got, s);
    }
    let mut want_counts = Counts::new();
    for c in gt["api_counts"].as_array().unwrap() {
        want_counts.insert(
            (
                c["event_source"].as_str().unwrap().into(),
                c["event_name"].as_str().unwrap().into(),
            ),
            (
                c["occurrences"].as_u64().unwrap(),
                c["successes"].as_u64().unwrap(),
                c["failures"].as_u64().unwrap(),
            ),
        );
    }
    assert_eq!(got, want_counts);
    assert_eq!(
        inv["combined"]["activity"]["totals"]["events"],
        gt["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["attacker_event_count"].as_u64().unwrap())
            .sum::<u64>()
    );
    // The benign twins (same user, same role ARN) are not on the path.
    let keys: BTreeSet<String> = sections
        .iter()
        .flat_map(|s| strings(&s["access_key_ids"]))
        .collect();
    for d in gt["decoys"].as_array().unwrap() {
        assert!(!keys.contains(d["access_key_id"].as_str().unwrap()), "{d}");
    }
    assert!(inv["forward"]["cut"].as_array().unwrap().is_empty());
    // Text and Markdown name the spawned sessions and the facts.
    let text = bt()
        .args(["investigate", "--store"])
        .arg(&f.store)
        .args(["--finding", &finding(f, name)])
        .env("COLUMNS", "400")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("== at a glance"), "{text}");
    assert!(text.contains("== spawned session"), "{text}");
    assert!(text.contains("spawned by CreateAccessKey"), "{text}");
    let md = bt()
        .args(["investigate", "--format", "markdown", "--store"])
        .arg(&f.store)
        .args(["--finding", &finding(f, name)])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let md = String::from_utf8(md).unwrap();
    assert!(md.contains("## At a glance"), "{md}");
    assert!(md.contains("**data_access**"), "{md}");
    assert!(md.contains("## Spawned sessions"), "{md}");
}

#[test]
fn path_facts_where_planted() {
    let f = fixture();
    let mut failures = Vec::new();
    for name in ["key-minting-leaked-key", "quiet-data-theft"] {
        let gt = f.json(&format!("ground-truth/{name}.json"));
        let ip = finding_ip(f, name);
        let inv = run(
            &["--finding", &finding(f, name), "--source-ip", &ip],
            &f.store,
        );
        let got = facts(&inv);
        for want in strings(&gt["path_flags"]) {
            if !got.contains(&want) {
                failures.push(format!("{name}: {want} missing from {got:?}"));
            }
        }
        // A handful of reads is stated, though far below the bulk threshold.
        let combined = &inv["combined"]["origins"]["flags"];
        if combined
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["kind"] == "bulk_data_access")
        {
            failures.push(format!("{name}: bulk_data_access on a handful of reads"));
        }
    }
    // The quiet theft: exactly its seven reads (the parameter read without decryption is
    // not one), each with its event id.
    let inv = run(
        &[
            "--finding",
            &finding(f, "quiet-data-theft"),
            "--source-ip",
            &finding_ip(f, "quiet-data-theft"),
        ],
        &f.store,
    );
    let data = inv["path_flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "data_access")
        .unwrap();
    assert_eq!(data["count"], 7, "{data}");
    assert_eq!(data["evidence_event_ids"].as_array().unwrap().len(), 7);
    let detail = data["detail"].as_str().unwrap();
    assert!(detail.contains("GetObject ×4"), "{detail}");
    assert!(detail.contains("GetSecretValue ×2"), "{detail}");
    assert!(detail.contains("GetParameter ×1"), "{detail}");
    // The demo's cross-account role chain, the OIDC role's denied burst.
    let chain = facts(&run(
        &["--finding", &finding(f, "cross-account-role-chain")],
        &f.store,
    ));
    if !chain.contains("cross_account") {
        failures.push(format!("cross-account-role-chain: {chain:?}"));
    }
    let storm = facts(&run(
        &["--finding", &finding(f, "access-denied-storm")],
        &f.store,
    ));
    for want in ["web_identity", "access_denied_burst"] {
        if !storm.contains(want) {
            failures.push(format!(
                "access-denied-storm: {want} missing from {storm:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The source address of one of an event's records, through `show`.
fn source_ip_of(f: &Fixture, event_id: &str) -> String {
    let out = bt()
        .args(["show", "--store"])
        .arg(&f.store)
        .arg(event_id)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    v["sourceIPAddress"].as_str().unwrap().to_string()
}

#[test]
fn path_facts_absent_on_the_benign_twins() {
    let f = fixture();
    let mut failures = Vec::new();
    for name in [
        "key-minting-leaked-key",
        "quiet-data-theft",
        "access-denied-storm",
    ] {
        let gt = f.json(&format!("ground-truth/{name}.json"));
        let attacker_keys: BTreeSet<String> = gt["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| strings(&s["access_key_ids"]))
            .collect();
        for d in gt["decoys"].as_array().unwrap() {
            let key = d["access_key_id"].as_str().unwrap();
            let first = d["event_ids_sample"][0].as_str().unwrap();
            let ip = source_ip_of(f, first);
            let inv = run(&[key, "--source-ip", &ip], &f.store);
            let got = facts(&inv);
            for planted in [
                "data_access",
                "access_denied_burst",
                "exfiltration",
                "cross_account",
            ] {
                if got.contains(planted) {
                    failures.push(format!("{name} decoy {key}: {planted} in {got:?}"));
                }
            }
            for s in inv["sessions"].as_array().unwrap() {
                if s["role"] == "spawned" {
                    failures.push(format!("{name} decoy {key}: spawned {}", s["arn"]));
                }
                for k in strings(&s["access_key_ids"]) {
                    if k != key && attacker_keys.contains(&k) {
                        failures.push(format!("{name} decoy {key}: attacker key {k}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Stratus Red Team run from bert-jan's key (invictus-ir): the role sessions its AssumeRole
/// calls issued and that were used, and the backdoor user's console login enabled by its
/// CreateLoginProfile, are spawned sessions; its snapshot, AMI, DB snapshot and bucket
/// policy shares with foreign accounts are exfiltration; its decrypted parameter and secret
/// reads are data access.
#[test]
fn invictus_leaked_key_spawned_sessions_and_facts() {
    let Some(real) = realdata() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(real.join("invictus-ir-aws_dataset"))
        .assert()
        .success();
    let inv = run(&["AKIATFQR7NSC8Q4X20BJ"], &store);
    let spawned: Vec<&serde_json::Value> = inv["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == "spawned")
        .collect();
    let mut roles: Vec<String> = spawned
        .iter()
        .filter(|s| s["spawned_by"]["method"] == "AssumeRole")
        .flat_map(|s| strings(&s["access_key_ids"]))
        .collect();
    roles.sort();
    assert_eq!(
        roles,
        [
            "ASIATFQR7NSC2632JLFK",
            "ASIATFQR7NSC7TITDFL2",
            "ASIATFQR7NSCVW2R4OHT",
            "ASIATFQR7NSCWLLE7IWW",
            "ASIATFQR7NSCXLFJ4S5E"
        ]
    );
    let console: Vec<&&serde_json::Value> = spawned
        .iter()
        .filter(|s| s["spawned_by"]["method"] == "CreateLoginProfile")
        .collect();
    assert_eq!(console.len(), 1, "{console:#?}");
    assert_eq!(
        console[0]["arn"],
        "arn:aws:iam::123837392027:user/stratus-red-team-nmfalu-gfjyeaypjt"
    );
    assert_eq!(
        console[0]["activity"]["rows"][0]["event_name"],
        "ConsoleLogin"
    );
    assert_eq!(
        console[0]["spawned_by"]["other_event_ids"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let got = facts(&inv);
    for want in ["exfiltration", "data_access", "console_session"] {
        assert!(got.contains(want), "{want} missing from {got:?}");
    }
    let exfil = inv["path_flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "exfiltration")
        .unwrap();
    let detail = exfil["detail"].as_str().unwrap();
    for account in ["012345678912", "012345678901", "193672423079"] {
        assert!(detail.contains(account), "{account}: {detail}");
    }
    // The CloudTrail bucket policy (a service principal) is not a share.
    assert!(!detail.contains("ctes-bucket"), "{detail}");
}

/// Stratus Red Team's federation-token technique: the IAM user's GetFederationToken issued
/// the federated-user session that then called GetCallerIdentity.
#[test]
fn stratus_federation_token_session_is_spawned() {
    let Some(real) = realdata() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(real.join(
            "stratus-red-team/docs/detonation-logs/aws.persistence.sts-federation-token.json",
        ))
        .assert()
        .success();
    let inv = run(&["AKIA6V1GNZTT65XQH36M"], &store);
    let spawned: Vec<&serde_json::Value> = inv["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["role"] == "spawned")
        .collect();
    assert_eq!(spawned.len(), 1, "{spawned:#?}");
    let s = spawned[0];
    assert_eq!(s["spawned_by"]["method"], "GetFederationToken");
    assert_eq!(
        s["arn"],
        "arn:aws:sts::742491224508:federated-user/stratus_red_team"
    );
    assert_eq!(strings(&s["access_key_ids"]), ["ASIASTJKC5GCM7ZE6LUP"]);
    assert_eq!(s["activity"]["rows"][0]["event_name"], "GetCallerIdentity");
    assert!(facts(&inv).contains("federated_user"), "{:?}", facts(&inv));
}
