//! `hunt` and the `sessions` triage: every shipped rule fires on its scenario and not on its
//! benign twin; the generator's planted incidents and the Stratus Red Team detonations in
//! ../shared/realdata are hit by the matching rules; output formats escape log values.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use backtrail_testkit::realdata;
use common::{Fixture, bt, session_id, truth_sessions};

const ACCOUNT: &str = "111122223333";

fn rules_dir() -> PathBuf {
    // At run time: a build reused from another checkout would name that checkout.
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("run by cargo test"))
        .join("../../rules")
}

/// The `id:` of a shipped rule file.
fn rule_id(file: &str) -> String {
    let text = std::fs::read_to_string(rules_dir().join(file)).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap_or_else(|| panic!("{file} has no id"))
        .trim()
        .to_string()
}

/// An IAM user's call at `t` seconds after 2026-03-01T10:00:00Z.
fn call(user: &str, t: u32, source: &str, name: &str, extra: Value) -> Value {
    let mut e = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{}", user.len()),
            "arn": format!("arn:aws:iam::{ACCOUNT}:user/{user}"),
            "accountId": ACCOUNT,
            "accessKeyId": format!("AKIA{:X<16}", user.to_uppercase().replace('-', "")),
            "userName": user
        },
        "eventTime": format!("2026-03-01T{:02}:{:02}:{:02}Z", 10 + t / 3600, t / 60 % 60, t % 60),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.23",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1.0 exe/x86_64.ubuntu.22",
        "requestParameters": null,
        "responseElements": null,
        "requestID": format!("req-{user}-{t}-{name}"),
        "eventID": format!("{user}-{t}-{name}"),
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

fn iam(user: &str, t: u32, name: &str, req: Value) -> Value {
    call(
        user,
        t,
        "iam.amazonaws.com",
        name,
        json!({ "requestParameters": req }),
    )
}

const DENIED: &str = "AccessDenied";

/// Per shipped rule file: the scenario's events (user `scn-N`) and the benign twin's (user
/// `twin-N`).
fn scenarios() -> Vec<(&'static str, Vec<Value>, Vec<Value>)> {
    let admin =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let narrow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;
    let list = [
        ("sts.amazonaws.com", "GetCallerIdentity"),
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "ListRoles"),
        ("iam.amazonaws.com", "ListPolicies"),
        ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
        ("s3.amazonaws.com", "ListBuckets"),
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("lambda.amazonaws.com", "ListFunctions20150331"),
    ];
    let burst = |u: &str, gap: u32| -> Vec<Value> {
        list.iter()
            .enumerate()
            .map(|(i, (s, n))| call(u, i as u32 * gap, s, n, json!({"readOnly": true})))
            .collect()
    };
    let denied = |u: &str, n: u32| -> Vec<Value> {
        (0..n)
            .map(|i| {
                call(
                    u,
                    i * 20,
                    "ec2.amazonaws.com",
                    "DescribeVolumes",
                    json!({"errorCode": "Client.UnauthorizedOperation", "errorMessage": "You are not authorized"}),
                )
            })
            .collect()
    };
    let secret = |u: &str, t: u32, id: &str, extra: Value| {
        let mut e = call(
            u,
            t,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            json!({"requestParameters": {"secretId": id}, "readOnly": true}),
        );
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    };
    let login = |u: &str, mfa: &str| {
        call(
            u,
            0,
            "signin.amazonaws.com",
            "ConsoleLogin",
            json!({
                "responseElements": {"ConsoleLogin": "Success"},
                "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": mfa}
            }),
        )
    };
    vec![
        (
            "persistence-iam-policy-full-admin.yml",
            vec![iam(
                "scn-1",
                0,
                "PutUserPolicy",
                json!({"userName": "scn-1", "policyName": "p", "policyDocument": admin}),
            )],
            vec![iam(
                "twin-1",
                0,
                "PutUserPolicy",
                json!({"userName": "twin-1", "policyName": "p", "policyDocument": narrow}),
            )],
        ),
        (
            "persistence-iam-admin-policy-attached.yml",
            vec![iam(
                "scn-2",
                0,
                "AttachUserPolicy",
                json!({"userName": "x", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            )],
            vec![iam(
                "twin-2",
                0,
                "AttachUserPolicy",
                json!({"userName": "x", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            )],
        ),
        (
            "persistence-iam-access-key-other-user.yml",
            vec![iam(
                "scn-3",
                0,
                "CreateAccessKey",
                json!({"userName": "backup-bot"}),
            )],
            vec![iam(
                "twin-3",
                0,
                "CreateAccessKey",
                json!({"userName": "twin-3"}),
            )],
        ),
        (
            "persistence-iam-access-key-self.yml",
            vec![iam("scn-4", 0, "CreateAccessKey", json!({}))],
            vec![{
                let mut e = iam("twin-4", 0, "CreateAccessKey", json!({}));
                e["errorCode"] = json!(DENIED);
                e
            }],
        ),
        (
            "persistence-iam-login-profile.yml",
            vec![iam(
                "scn-5",
                0,
                "CreateLoginProfile",
                json!({"userName": "backup-bot", "passwordResetRequired": false}),
            )],
            vec![iam(
                "twin-5",
                0,
                "UpdateLoginProfile",
                json!({"userName": "twin-5"}),
            )],
        ),
        (
            "persistence-iam-user-created.yml",
            vec![iam("scn-6", 0, "CreateUser", json!({"userName": "new-6"}))],
            vec![iam("twin-6", 0, "GetUser", json!({"userName": "new-6"}))],
        ),
        (
            "persistence-backdoor-user.yml",
            vec![
                iam("scn-7", 0, "CreateUser", json!({"userName": "svc-7"})),
                iam("scn-7", 30, "CreateAccessKey", json!({"userName": "svc-7"})),
            ],
            // The same two calls three hours apart: provisioning, not a backdoor.
            vec![
                iam("twin-7", 0, "CreateUser", json!({"userName": "svc-7t"})),
                iam(
                    "twin-7",
                    3 * 3600,
                    "CreateAccessKey",
                    json!({"userName": "svc-7t"}),
                ),
            ],
        ),
        (
            "persistence-role-trust-changed.yml",
            vec![iam(
                "scn-8",
                0,
                "UpdateAssumeRolePolicy",
                json!({"roleName": "r", "policyDocument": "{}"}),
            )],
            vec![iam("twin-8", 0, "GetRole", json!({"roleName": "r"}))],
        ),
        (
            "persistence-lambda-public-permission.yml",
            vec![call(
                "scn-9",
                0,
                "lambda.amazonaws.com",
                "AddPermission20150331v2",
                json!({"requestParameters": {"functionName": "f", "principal": "*", "action": "lambda:InvokeFunction", "statementId": "s"}}),
            )],
            vec![call(
                "twin-9",
                0,
                "lambda.amazonaws.com",
                "AddPermission20150331v2",
                json!({"requestParameters": {"functionName": "f", "principal": "s3.amazonaws.com", "action": "lambda:InvokeFunction", "statementId": "s"}}),
            )],
        ),
        (
            "defense-evasion-logging-tampering.yml",
            vec![call(
                "scn-10",
                0,
                "cloudtrail.amazonaws.com",
                "StopLogging",
                json!({"requestParameters": {"name": "main"}}),
            )],
            vec![call(
                "twin-10",
                0,
                "cloudtrail.amazonaws.com",
                "StartLogging",
                json!({"requestParameters": {"name": "main"}}),
            )],
        ),
        (
            "defense-evasion-leave-organization.yml",
            vec![call(
                "scn-11",
                0,
                "organizations.amazonaws.com",
                "LeaveOrganization",
                json!({"errorCode": DENIED}),
            )],
            vec![call(
                "twin-11",
                0,
                "organizations.amazonaws.com",
                "DescribeOrganization",
                json!({}),
            )],
        ),
        (
            "discovery-burst.yml",
            burst("scn-12", 20),
            burst("twin-12", 1200),
        ),
        (
            "discovery-denied-burst.yml",
            denied("scn-13", 6),
            denied("twin-13", 4),
        ),
        (
            "exfiltration-snapshot-shared.yml",
            vec![call(
                "scn-14",
                0,
                "ec2.amazonaws.com",
                "ModifySnapshotAttribute",
                json!({"requestParameters": {"snapshotId": "snap-1", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"add": {"items": [{"userId": "999988887777"}]}}}}),
            )],
            vec![call(
                "twin-14",
                0,
                "ec2.amazonaws.com",
                "ModifySnapshotAttribute",
                json!({"requestParameters": {"snapshotId": "snap-1", "attributeType": "CREATE_VOLUME_PERMISSION", "createVolumePermission": {"remove": {"items": [{"userId": "999988887777"}]}}}}),
            )],
        ),
        (
            "exfiltration-bucket-policy-changed.yml",
            vec![call(
                "scn-15",
                0,
                "s3.amazonaws.com",
                "PutBucketPolicy",
                json!({"requestParameters": {"bucketName": "b"}}),
            )],
            vec![call(
                "twin-15",
                0,
                "s3.amazonaws.com",
                "GetBucketPolicy",
                json!({"requestParameters": {"bucketName": "b"}}),
            )],
        ),
        (
            "credential-access-secrets-harvest.yml",
            (0..6)
                .map(|i| secret("scn-16", i * 10, &format!("prod/db-{i}"), json!({})))
                .collect(),
            (0..6)
                .map(|i| secret("twin-16", i * 10, "prod/app", json!({})))
                .collect(),
        ),
        (
            "credential-access-secret-denied.yml",
            vec![secret(
                "scn-17",
                0,
                "prod/db",
                json!({"errorCode": "AccessDeniedException"}),
            )],
            vec![secret("twin-17", 0, "prod/db", json!({}))],
        ),
        (
            "credential-access-ec2-password-data.yml",
            vec![call(
                "scn-18",
                0,
                "ec2.amazonaws.com",
                "GetPasswordData",
                json!({"requestParameters": {"instanceId": "i-1"}}),
            )],
            vec![call(
                "twin-18",
                0,
                "ec2.amazonaws.com",
                "DescribeInstances",
                json!({}),
            )],
        ),
        (
            "credential-pivot-federation-token.yml",
            vec![call(
                "scn-19",
                0,
                "sts.amazonaws.com",
                "GetFederationToken",
                json!({"requestParameters": {"name": "x"}}),
            )],
            vec![call(
                "twin-19",
                0,
                "sts.amazonaws.com",
                "GetSessionToken",
                json!({}),
            )],
        ),
        (
            "initial-access-attack-tool.yml",
            vec![call(
                "scn-20",
                0,
                "s3.amazonaws.com",
                "ListBuckets",
                json!({"userAgent": "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#6.6.9-kali1-amd64 md/arch#x86_64"}),
            )],
            vec![call(
                "twin-20",
                0,
                "s3.amazonaws.com",
                "ListBuckets",
                json!({"userAgent": "Boto3/1.34.2 md/Botocore#1.34.2 ua/2.0 os/linux#6.1.0-amzn2023 md/arch#x86_64"}),
            )],
        ),
        (
            "initial-access-foreign-vpc-endpoint.yml",
            vec![call(
                "scn-21",
                0,
                "s3.amazonaws.com",
                "GetObject",
                json!({"sourceIPAddress": "10.1.2.3", "vpcEndpointId": "vpce-0abc", "vpcEndpointAccountId": "999988887777"}),
            )],
            vec![call(
                "twin-21",
                0,
                "s3.amazonaws.com",
                "GetObject",
                json!({"sourceIPAddress": "10.1.2.3", "vpcEndpointId": "vpce-0abc", "vpcEndpointAccountId": ACCOUNT}),
            )],
        ),
        (
            "initial-access-console-login-no-mfa.yml",
            vec![login("scn-22", "No")],
            vec![login("twin-22", "Yes")],
        ),
    ]
}

struct Scenarios {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    store: PathBuf,
    report: Value,
}

fn scenario_store() -> &'static Scenarios {
    static S: OnceLock<Scenarios> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let mut records = Vec::new();
        for (_, scn, twin) in scenarios() {
            records.extend(scn);
            records.extend(twin);
        }
        let trail = dir.path().join("trail.json");
        std::fs::write(&trail, json!({ "Records": records }).to_string()).unwrap();
        let (store_dir, store) = ingest(&trail);
        let report = hunt_json(&store, &[]);
        Scenarios {
            _dirs: (dir, store_dir),
            store,
            report,
        }
    })
}

/// A store of `trail` in a new temporary directory.
fn ingest(trail: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(trail)
        .assert()
        .success();
    (dir, store)
}

fn hunt_json(store: &Path, extra: &[&str]) -> Value {
    let out = bt()
        .args(["hunt", "--format", "json", "--store"])
        .arg(store)
        .args(extra)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    serde_json::from_slice(&out).unwrap()
}

/// Rule ids that hit sessions whose ARN ends with `suffix`.
fn ids_on(report: &Value, suffix: &str) -> Vec<String> {
    report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["arn"].as_str().is_some_and(|a| a.ends_with(suffix)))
        .flat_map(|s| s["hits"].as_array().unwrap().iter())
        .map(|h| h["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_shipped_rule_fires_on_its_scenario_and_not_on_its_twin() {
    let s = scenario_store();
    let shipped: Vec<String> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml"))
        .collect();
    let tested: Vec<&str> = scenarios().iter().map(|(f, _, _)| *f).collect();
    // The building blocks of correlations are tested through them.
    let blocks = [
        "discovery-call.yml",
        "discovery-denied-call.yml",
        "credential-access-secret-read.yml",
    ];
    for f in &shipped {
        assert!(
            tested.contains(&f.as_str()) || blocks.contains(&f.as_str()),
            "{f} has no scenario"
        );
    }
    assert_eq!(s.report["skipped"], json!([]));
    for (i, (file, _, _)) in scenarios().iter().enumerate() {
        let id = rule_id(file);
        let n = i + 1;
        assert!(
            ids_on(&s.report, &format!("user/scn-{n}")).contains(&id),
            "{file} did not fire on its scenario: {:#}",
            s.report
        );
        assert!(
            !ids_on(&s.report, &format!("user/twin-{n}")).contains(&id),
            "{file} fired on its benign twin"
        );
    }
    for b in blocks {
        let id = rule_id(b);
        assert!(
            !s.report.to_string().contains(&id),
            "{b} feeds a correlation only"
        );
    }
}

#[test]
fn hits_carry_level_attack_tags_samples_and_the_command() {
    let s = scenario_store();
    let session = s.report["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["arn"].as_str().unwrap().ends_with("user/scn-12"))
        .unwrap();
    let hit = &session["hits"][0];
    assert_eq!(hit["kind"], "value_count");
    assert_eq!(hit["level"], "medium");
    assert_eq!(hit["events"], 9);
    assert_eq!(hit["sample_event_ids"].as_array().unwrap().len(), 5);
    assert!(
        hit["attack"]
            .as_array()
            .unwrap()
            .contains(&json!("attack.t1580"))
    );
    assert_eq!(
        hit["firings"][0],
        format!(
            "userIdentity.arn=arn:aws:iam::{ACCOUNT}:user/scn-12, sourceIPAddress=198.51.100.23: 9 distinct eventName within 10m"
        )
    );
    let cmd = session["investigate"].as_str().unwrap();
    assert!(
        cmd.starts_with("backtrail investigate AKIASCN12XXXXXXXXXXX --since 2026-03-01T10:00:00Z --until 2026-03-01T10:02:40Z --store "),
        "{cmd}"
    );
    // The command works as printed.
    bt().args(["who", "AKIASCN12XXXXXXXXXXX", "--format", "json", "--store"])
        .arg(&s.store)
        .assert()
        .success();
    // --since/--until narrow the events hunted over.
    let late = hunt_json(&s.store, &["--since", "2026-03-01T12:00:00Z"]);
    assert_eq!(late["sessions"].as_array().unwrap().len(), 1);
    assert!(
        ids_on(&late, "user/twin-7")
            .contains(&rule_id("persistence-iam-access-key-other-user.yml"))
    );
}

#[test]
fn rules_it_cannot_run_are_reported_with_the_reason() {
    let s = scenario_store();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mine.yml"),
        "title: keyword\nlogsource: {product: aws, service: cloudtrail}\ndetection: {k: [evil], condition: k}\n---\n\
         title: windows\nlogsource: {product: windows}\ndetection: {s: {EventID: 4624}, condition: s}\n---\n\
         title: stop\nid: my-stop\nlogsource: {product: aws, service: cloudtrail}\n\
         detection: {s: {eventName|contains: Logging, userIdentity.type: IAMUser}, condition: s}\n",
    )
    .unwrap();
    let out = bt()
        .args(["hunt", "--format", "json", "--store"])
        .arg(&s.store)
        .arg("--rules")
        .arg(dir.path())
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("rule not run: keyword") && stderr.contains("keyword selections"));
    assert!(stderr.contains("not AWS CloudTrail"));
    let r: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(r["skipped"].as_array().unwrap().len(), 2);
    assert_eq!(ids_on(&r, "user/scn-10"), ["my-stop"]);
    // StartLogging contains "Logging" too.
    assert_eq!(ids_on(&r, "user/twin-10"), ["my-stop"]);
    // Nothing runnable is an input error; a missing path too.
    std::fs::remove_file(dir.path().join("mine.yml")).unwrap();
    std::fs::write(
        dir.path().join("w.yml"),
        "title: w\nlogsource: {product: windows}\n",
    )
    .unwrap();
    bt().args(["hunt", "--store"])
        .arg(&s.store)
        .arg("--rules")
        .arg(dir.path())
        .assert()
        .code(3);
    bt().args(["hunt", "--store"])
        .arg(&s.store)
        .args(["--rules", "/nonexistent/rules"])
        .assert()
        .code(3);
}

#[test]
fn text_markdown_and_csv_escape_log_values() {
    let dir = tempfile::tempdir().unwrap();
    let mut e = call(
        "evil",
        0,
        "cloudtrail.amazonaws.com",
        "StopLogging",
        json!({}),
    );
    e["userIdentity"]["arn"] = json!("arn:aws:iam::1:user/x\u{1b}[2J|`<b>*");
    e["userIdentity"]["accessKeyId"] = json!("=cmd|x");
    let trail = dir.path().join("t.json");
    std::fs::write(&trail, json!({ "Records": [e] }).to_string()).unwrap();
    let (_store_dir, store) = ingest(&trail);
    let run = |f: &str| {
        String::from_utf8(
            bt().args(["hunt", "--format", f, "--store"])
                .arg(&store)
                .assert()
                .success()
                .get_output()
                .stdout
                .clone(),
        )
        .unwrap()
    };
    let text = run("text");
    assert!(
        !text.contains('\u{1b}') && text.contains("\\u{1b}[2J"),
        "{text}"
    );
    assert!(text.contains("Audit logging stopped, deleted or narrowed"));
    assert!(text.contains("investigate: backtrail investigate '=cmd|x'"));
    let md = run("markdown");
    assert!(
        !md.contains('\u{1b}') && md.contains("\\|\\`\\<b\\>\\*"),
        "{md}"
    );
    let csv = run("csv");
    assert!(csv.starts_with("arn,access_key_ids,"));
    assert!(csv.contains(",\"'=cmd|x\","), "{csv}");
    assert!(!csv.contains('\u{1b}'));
}

fn generated() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4000, 5))
}

/// A session as ground truth names it: ARN and creation date.
type Identity = (String, Option<String>);

/// Per incident: its name, its sessions and its decoys.
type Planted = (String, Vec<Identity>, Vec<Value>);

/// Ground-truth sessions and decoys of every incident.
/// Incidents planted to test the investigation of a path, whose calls are deliberately
/// quiet (a few secret, object and parameter reads, below any threshold, from a console or a
/// long-term key that also has benign use): no rule over single events or counts can tell
/// them from normal work, so the hunt is not expected to find them; `investigate` is
/// (tests/path.rs, tests/sso_path.rs).
const QUIET: [&str; 3] = [
    "quiet-data-theft",
    "sso-console-keyless-login",
    "sso-console-switch-renew",
];

/// The generator's incidents the shipped rules are meant to find, with their sessions and
/// decoys.
fn planted(f: &Fixture) -> Vec<Planted> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(f.trail.join("ground-truth")).unwrap() {
        let p = e.unwrap().path();
        let gt: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if p.file_name().unwrap() == "index.json"
            || QUIET.contains(&gt["incident"].as_str().unwrap())
        {
            continue;
        }
        let sessions = truth_sessions(&gt);
        out.push((
            gt["incident"].as_str().unwrap().to_string(),
            sessions,
            gt["decoys"].as_array().unwrap().clone(),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn the_generators_incidents_are_hit_in_their_own_sessions() {
    let f = generated();
    let report = hunt_json(&f.store, &[]);
    let hit: Vec<&Value> = report["sessions"].as_array().unwrap().iter().collect();
    let mut missed = Vec::new();
    for (incident, sessions, decoys) in planted(f) {
        let found = hit
            .iter()
            .filter(|s| sessions.contains(&session_id(s)))
            .count();
        if found == 0 {
            missed.push(incident.clone());
        }
        for d in decoys {
            // A leaked long-term key's owner and thief share one session (key, ARN, no
            // creation date); only the source address tells them apart.
            if d["kind"] == "same_key_legitimate_use" {
                continue;
            }
            let key = (
                d["arn"].as_str().unwrap().to_string(),
                d["creation_date"].as_str().map(str::to_string),
            );
            assert!(
                !hit.iter().any(|s| session_id(s) == key
                    && s["access_key_ids"]
                        .as_array()
                        .unwrap()
                        .contains(&d["access_key_id"])),
                "{incident}: decoy {key:?} was hit"
            );
        }
    }
    assert!(
        missed.is_empty(),
        "no shipped rule hit the sessions of {missed:?}"
    );
}

#[test]
fn sessions_rank_every_planted_incident_above_every_benign_session() {
    let f = generated();
    let out = bt()
        .args([
            "sessions", "--format", "json", "--limit", "100000", "--store",
        ])
        .arg(&f.store)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ranked: Vec<Value> = serde_json::from_slice(&out).unwrap();
    let planted = planted(f);
    let attack: Vec<Identity> = planted.iter().flat_map(|p| p.1.iter().cloned()).collect();
    // Each incident's riskiest session must rank above every benign session.
    let first_benign = ranked
        .iter()
        .position(|s| !attack.contains(&session_id(s)))
        .unwrap();
    let mut below = Vec::new();
    for (incident, sessions, _) in &planted {
        let best = ranked
            .iter()
            .position(|s| sessions.contains(&session_id(s)))
            .unwrap_or_else(|| panic!("{incident} is not listed"));
        if best > first_benign {
            below.push(format!("{incident} ranks {best}"));
        }
    }
    assert!(
        below.is_empty(),
        "{below:?} below the first benign session {:#}",
        ranked[first_benign]
    );
}

/// The account id of each Stratus detonation file (anonymised per file).
fn stratus_account(file: &Path) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    v[0]["recipientAccountId"].as_str().unwrap().to_string()
}

#[test]
fn stratus_red_team_techniques_are_hit_by_the_matching_rules() {
    let Some(real) = realdata() else { return };
    let logs = real.join("stratus-red-team/docs/detonation-logs");
    let (_dir, store) = ingest(&logs);
    let report = hunt_json(&store, &[]);
    let expect = [
        (
            "aws.defense-evasion.cloudtrail-stop",
            "defense-evasion-logging-tampering.yml",
        ),
        (
            "aws.defense-evasion.cloudtrail-delete",
            "defense-evasion-logging-tampering.yml",
        ),
        (
            "aws.defense-evasion.cloudtrail-event-selectors",
            "defense-evasion-logging-tampering.yml",
        ),
        (
            "aws.defense-evasion.vpc-remove-flow-logs",
            "defense-evasion-logging-tampering.yml",
        ),
        (
            "aws.defense-evasion.dns-delete-logs",
            "defense-evasion-logging-tampering.yml",
        ),
        (
            "aws.defense-evasion.organizations-leave",
            "defense-evasion-leave-organization.yml",
        ),
        (
            "aws.exfiltration.ec2-share-ebs-snapshot",
            "exfiltration-snapshot-shared.yml",
        ),
        (
            "aws.exfiltration.ec2-share-ami",
            "exfiltration-snapshot-shared.yml",
        ),
        (
            "aws.exfiltration.rds-share-snapshot",
            "exfiltration-snapshot-shared.yml",
        ),
        (
            "aws.persistence.lambda-backdoor-function",
            "persistence-lambda-public-permission.yml",
        ),
        (
            "aws.credential-access.secretsmanager-retrieve-secrets",
            "credential-access-secrets-harvest.yml",
        ),
        (
            "aws.credential-access.ec2-get-password-data",
            "credential-access-ec2-password-data.yml",
        ),
        (
            "aws.persistence.iam-create-user-login-profile",
            "persistence-iam-login-profile.yml",
        ),
        (
            "aws.privilege-escalation.iam-update-user-login-profile",
            "persistence-iam-login-profile.yml",
        ),
        (
            "aws.persistence.iam-backdoor-user",
            "persistence-iam-access-key-other-user.yml",
        ),
        (
            "aws.persistence.iam-create-admin-user",
            "persistence-backdoor-user.yml",
        ),
        (
            "aws.persistence.iam-create-admin-user",
            "persistence-iam-admin-policy-attached.yml",
        ),
        (
            "aws.persistence.iam-create-backdoor-role",
            "persistence-iam-admin-policy-attached.yml",
        ),
        (
            "aws.persistence.iam-backdoor-role",
            "persistence-role-trust-changed.yml",
        ),
        (
            "aws.persistence.sts-federation-token",
            "credential-pivot-federation-token.yml",
        ),
        (
            "aws.initial-access.console-login-without-mfa",
            "initial-access-console-login-no-mfa.yml",
        ),
    ];
    for (technique, rule) in expect {
        let account = stratus_account(&logs.join(format!("{technique}.json")));
        let id = rule_id(rule);
        let hit = report["sessions"].as_array().unwrap().iter().any(|s| {
            s["arn"].as_str().is_some_and(|a| a.contains(&account))
                && s["hits"].as_array().unwrap().iter().any(|h| h["id"] == id)
        });
        assert!(hit, "{technique}: {rule} did not fire");
    }
}

#[test]
fn invictus_attack_sessions_outrank_the_background_user() {
    let Some(real) = realdata() else { return };
    let logs = real.join("invictus-ir-aws_dataset/CloudTrail");
    let (_dir, store) = ingest(&logs);
    let report = hunt_json(&store, &[]);
    let bert: Vec<String> = ids_on(&report, "user/bert-jan");
    for rule in [
        "defense-evasion-logging-tampering.yml",
        "exfiltration-snapshot-shared.yml",
        "persistence-iam-login-profile.yml",
    ] {
        assert!(bert.contains(&rule_id(rule)), "{rule}: {bert:?}");
    }
    let out = bt()
        .args(["sessions", "--format", "json", "--limit", "1000", "--store"])
        .arg(&store)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let ranked: Vec<Value> = serde_json::from_slice(&out).unwrap();
    let pos = |user: &str| {
        ranked
            .iter()
            .position(|s| s["arn"].as_str().is_some_and(|a| a.ends_with(user)))
            .unwrap()
    };
    assert_eq!(pos("user/bert-jan"), 0, "{:#}", ranked[0]);
    assert!(pos("user/benjamin") > pos("user/bert-jan"));
    // One row per session: no two rows share key, ARN and creation date, and a console
    // session is one row however many keys the console minted.
    let mut ids: Vec<(Value, Value, Value)> = ranked
        .iter()
        .map(|s| {
            (
                s["access_key_id"].clone(),
                s["arn"].clone(),
                s["creation_date"].clone(),
            )
        })
        .collect();
    let n = ids.len();
    ids.sort_by_key(|k| k.0.to_string() + &k.1.to_string() + &k.2.to_string());
    ids.dedup();
    assert_eq!(ids.len(), n);
    let console = ranked
        .iter()
        .filter(|s| s["from_console"] == true && s["creation_date"].is_string())
        .collect::<Vec<_>>();
    for s in console {
        assert!(s["access_key_id"].is_null(), "{s:#}");
    }
}
