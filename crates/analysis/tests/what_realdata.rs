//! The activity and network-source analyses on real captures (`/work/shared/realdata`, or the folder
//! named by `BACKTRAIL_REALDATA`). Expected values are computed here from the raw files with
//! serde_json, independently of the record parser and of the code under test.

use backtrail_analysis::activity::{Activity, ActivityRow, summarize};
use backtrail_analysis::catalog::Catalog;
use backtrail_analysis::network::{FlagKind, NetworkSources, analyze};
use backtrail_model::Event;
use backtrail_normalize::parse_file;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const BERT: &str = "arn:aws:iam::123837392027:user/bert-jan";

/// Events (through the parser) and raw records (through serde_json) of one source folder.
/// `None` (after a notice) when the real data is not there outside CI.
fn load(source: &str) -> Option<(Vec<Event>, Vec<Value>)> {
    let paths = backtrail_testkit::files_under(&backtrail_testkit::realdata()?.join(source));
    let (mut events, mut raw) = (Vec::new(), Vec::new());
    for p in paths {
        let bytes = std::fs::read(&p).unwrap();
        let Ok(doc) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let records = match doc {
            Value::Object(mut o) if o.contains_key("Records") => o.remove("Records").unwrap(),
            Value::Array(a) => Value::Array(a),
            other => Value::Array(vec![other]),
        };
        raw.extend(records.as_array().unwrap().iter().cloned());
        events.extend(parse_file(&bytes).events);
    }
    assert_eq!(
        events.len(),
        raw.len(),
        "every raw record of {source} parsed"
    );
    Some((events, raw))
}

fn s<'a>(r: &'a Value, k: &str) -> &'a str {
    r.get(k).and_then(Value::as_str).unwrap_or("")
}

fn arn(r: &Value) -> &str {
    r["userIdentity"]
        .get("arn")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Expected per-API counts: (calls, failures, error code → calls).
type Expected = BTreeMap<(String, String), (u64, u64, BTreeMap<String, u64>)>;

fn expected<'a>(records: impl Iterator<Item = &'a Value>) -> Expected {
    let mut m = Expected::new();
    for r in records {
        let e = m
            .entry((s(r, "eventSource").into(), s(r, "eventName").into()))
            .or_default();
        e.0 += 1;
        let code = s(r, "errorCode");
        if !code.is_empty() {
            e.1 += 1;
            *e.2.entry(code.to_string()).or_default() += 1;
        }
    }
    m
}

fn row<'a>(a: &'a Activity, source: &str, name: &str) -> &'a ActivityRow {
    a.rows
        .iter()
        .find(|r| r.event_source == source && r.event_name == name)
        .unwrap_or_else(|| panic!("no row {source} {name}"))
}

fn assert_rows_match(a: &Activity, want: &Expected, what: &str) {
    assert_eq!(a.rows.len(), want.len(), "{what}: one row per API");
    for ((source, name), (calls, failures, codes)) in want {
        let r = row(a, source, name);
        assert_eq!(r.occurrences, *calls, "{what}: {source} {name} calls");
        assert_eq!(r.failures, *failures, "{what}: {source} {name} failures");
        assert_eq!(
            r.successes,
            calls - failures,
            "{what}: {source} {name} successes"
        );
        assert_eq!(&r.error_codes, codes, "{what}: {source} {name} error codes");
    }
}

/// Every Stratus detonation (one user agent `stratus-red-team_<uuid>` each) is found among
/// bert-jan's calls with exact per-API counts, both over all his calls and per detonation.
/// The only detonations without a bert-jan call ran entirely as a principal Stratus created
/// (a role he had assumed, or the backdoor user signing in).
#[test]
fn stratus_detonations_of_bert_jan_are_counted_exactly() {
    let Some((events, raw)) = load("invictus-ir-aws_dataset") else {
        return;
    };
    let bert: Vec<Event> = events
        .iter()
        .filter(|e| e.identity.arn.as_deref() == Some(BERT))
        .cloned()
        .collect();
    let raw_bert: Vec<&Value> = raw.iter().filter(|r| arn(r) == BERT).collect();
    assert_eq!(bert.len(), raw_bert.len());

    let all = summarize(&bert, Catalog::builtin());
    assert_rows_match(&all, &expected(raw_bert.iter().copied()), "bert-jan");
    assert_eq!(all.totals.events, raw_bert.len() as u64);

    let uuids: BTreeSet<&str> = raw
        .iter()
        .map(|r| s(r, "userAgent"))
        .filter(|u| u.starts_with("stratus-red-team_"))
        .collect();
    assert!(uuids.len() > 70, "{} detonations", uuids.len());
    let mut without_bert = Vec::new();
    for ua in &uuids {
        let raw_ua: Vec<&Value> = raw_bert
            .iter()
            .copied()
            .filter(|r| s(r, "userAgent") == *ua)
            .collect();
        if raw_ua.is_empty() {
            without_bert.push(*ua);
            continue;
        }
        let evs: Vec<Event> = bert
            .iter()
            .filter(|e| e.user_agent.as_deref() == Some(*ua))
            .cloned()
            .collect();
        let a = summarize(&evs, Catalog::builtin());
        assert_rows_match(&a, &expected(raw_ua.into_iter()), ua);
        // Each of the detonation's APIs is also a row of bert-jan's whole activity.
        for r in &a.rows {
            row(&all, &r.event_source, &r.event_name);
        }
    }
    for ua in without_bert {
        let actors: BTreeSet<&str> = raw
            .iter()
            .filter(|r| s(r, "userAgent") == ua)
            .map(arn)
            .collect();
        assert!(
            actors
                .iter()
                .all(|a| a.contains(":assumed-role/stratus-red-team-")
                    || a.contains(":user/stratus-red-team-")),
            "{ua} ran as {actors:?}"
        );
    }

    // The techniques' signature calls land in the right sections.
    let section = |name: &str| {
        let i = all.rows.iter().position(|r| r.event_name == name).unwrap();
        if all.sections.changing.contains(&i) {
            "changing"
        } else if all.sections.sensitive_read_only.contains(&i) {
            "sensitive"
        } else {
            "read"
        }
    };
    for name in [
        "StopLogging",
        "DeleteTrail",
        "CreateUser",
        "CreateLoginProfile",
        "CreateTrustAnchor",
    ] {
        assert_eq!(section(name), "changing", "{name}");
    }
    for name in [
        "GetSecretValue",
        "AssumeRole",
        "GetParameter",
        "ListAccessKeys",
    ] {
        assert_eq!(section(name), "sensitive", "{name}");
    }
    let trail = row(&all, "cloudtrail.amazonaws.com", "StopLogging");
    assert!(!trail.targets.is_empty() && !trail.sample_request_parameters.is_empty());
}

/// Resources refused to bert-jan come out of errorMessage (requestParameters is null on a
/// denial), with the counts the raw records give; EC2's encoded denials are marked encoded.
#[test]
fn denied_targets_come_from_error_messages() {
    let Some((events, raw)) = load("invictus-ir-aws_dataset") else {
        return;
    };
    let a = summarize(&events, Catalog::builtin());

    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for r in raw.iter().filter(|r| {
        s(r, "eventName") == "AssumeRole" && s(r, "errorCode") == "AccessDenied" && arn(r) == BERT
    }) {
        let msg = s(r, "errorMessage");
        let res = msg.split(" on resource: ").nth(1).unwrap();
        *want.entry(res.to_string()).or_default() += 1;
    }
    assert!(want.len() >= 4, "{want:?}");
    let assume = row(&a, "sts.amazonaws.com", "AssumeRole");
    for (res, n) in &want {
        let got = assume
            .denied_resources
            .iter()
            .find(|d| d.denial.resource.as_deref() == Some(res.as_str()))
            .unwrap_or_else(|| panic!("{res} not among denials"));
        assert_eq!(got.count, *n, "{res}");
        assert_eq!(got.denial.action.as_deref(), Some("sts:AssumeRole"));
    }

    let leave = row(&a, "organizations.amazonaws.com", "LeaveOrganization");
    assert_eq!(leave.denied_resources.len(), 1);
    let d = &leave.denied_resources[0].denial;
    assert_eq!(d.resource.as_deref(), Some("*"));
    assert_eq!(d.reason.as_deref(), Some("no identity-based policy allows"));

    let encoded_raw = raw
        .iter()
        .filter(|r| s(r, "errorMessage").contains("Encoded authorization failure message"))
        .count() as u64;
    let encoded: u64 = a
        .rows
        .iter()
        .flat_map(|r| &r.denied_resources)
        .filter(|d| d.denial.encoded)
        .map(|d| d.count)
        .sum();
    assert!(encoded_raw > 10);
    assert_eq!(encoded, encoded_raw);
}

/// TrailDiscover's denial variants: `on resource: user NAME`, `policy ARN version v2`, `*`,
/// no resource at all; every message naming an action gives that action.
#[test]
fn traildiscover_denial_variants() {
    let Some((events, raw)) = load("traildiscover") else {
        return;
    };
    let a = summarize(&events, Catalog::builtin());
    let denial = |source: &str, name: &str| {
        let r = row(&a, source, name);
        assert_eq!(r.denied_resources.len(), 1, "{name}");
        r.denied_resources[0].denial.clone()
    };
    let d = denial("iam.amazonaws.com", "AttachRolePolicy");
    assert_eq!(d.resource.as_deref(), Some("role TrailDiscover"));
    assert_eq!(d.reason.as_deref(), Some("no identity-based policy allows"));
    let d = denial("iam.amazonaws.com", "SetDefaultPolicyVersion");
    assert_eq!(
        d.resource.as_deref(),
        Some("policy arn:aws:iam::111111111111:policy/TrailDiscover version v2")
    );
    let d = denial("route53.amazonaws.com", "CreateHostedZone");
    assert_eq!(d.action.as_deref(), Some("route53:CreateHostedZone"));
    assert_eq!(d.resource, None);
    let d = denial("lambda.amazonaws.com", "CreateEventSourceMapping20150331");
    assert_eq!(d.resource.as_deref(), Some("*"));

    for r in &raw {
        let msg = s(r, "errorMessage");
        let Some(rest) = msg.split("not authorized to perform: ").nth(1) else {
            continue;
        };
        let action = rest
            .split_whitespace()
            .next()
            .unwrap()
            .trim_end_matches('.');
        let got = row(&a, s(r, "eventSource"), s(r, "eventName"));
        assert!(
            got.denied_resources
                .iter()
                .any(|d| d.denial.action.as_deref() == Some(action)),
            "{} {action}",
            s(r, "eventName")
        );
    }
}

fn flags_of(o: &NetworkSources, kind: FlagKind) -> Vec<&backtrail_analysis::network::Flag> {
    o.flags.iter().filter(|f| f.kind == kind).collect()
}

/// Ids of the raw records matching `pred`.
fn ids(raw: &[Value], pred: impl Fn(&Value) -> bool) -> BTreeSet<String> {
    raw.iter()
        .filter(|r| pred(r))
        .map(|r| s(r, "eventID").to_string())
        .collect()
}

/// A flag whose detail names `needle`, its evidence drawn from `allowed`, its count `count`.
fn check_flag(o: &NetworkSources, kind: FlagKind, needle: &str, allowed: &BTreeSet<String>) {
    let f = flags_of(o, kind)
        .into_iter()
        .find(|f| f.detail.contains(needle))
        .unwrap_or_else(|| panic!("no {kind:?} flag naming {needle}"));
    assert_eq!(f.count, allowed.len() as u64, "{kind:?} {needle} count");
    assert!(!f.evidence_event_ids.is_empty());
    assert!(f.evidence_event_ids.len() <= backtrail_analysis::network::EVIDENCE_IDS);
    for id in &f.evidence_event_ids {
        assert!(
            allowed.contains(id),
            "{kind:?} {needle}: {id} is not evidence"
        );
    }
}

/// The invictus-ir account: tampering and persistence calls, VPC endpoints, private
/// addresses, Stratus user agents, stolen instance credentials and the secrets dump are all
/// flagged, each with evidence ids of the records that show it.
#[test]
fn invictus_network_flags_carry_evidence() {
    let Some((events, raw)) = load("invictus-ir-aws_dataset") else {
        return;
    };
    let known: Vec<String> = vec!["123837392027".into()];
    let o = analyze(&events, &known, None);
    let named = |n: &'static str| move |r: &Value| s(r, "eventName") == n;

    for name in [
        "StopLogging",
        "DeleteTrail",
        "PutEventSelectors",
        "DeleteFlowLogs",
    ] {
        check_flag(
            &o,
            FlagKind::LoggingTampering,
            &format!(" {name} "),
            &ids(&raw, named(name)),
        );
    }
    for name in [
        "CreateUser",
        "CreateLoginProfile",
        "CreateAccessKey",
        "UpdateAssumeRolePolicy",
        "AttachUserPolicy",
        "AttachRolePolicy",
        "CreateTrustAnchor",
    ] {
        check_flag(
            &o,
            FlagKind::Persistence,
            &format!(" {name} "),
            &ids(&raw, named(name)),
        );
    }
    check_flag(
        &o,
        FlagKind::Persistence,
        " AddPermission ",
        &ids(&raw, |r| s(r, "eventName").starts_with("AddPermission")),
    );

    let endpoints: BTreeSet<&str> = raw
        .iter()
        .map(|r| s(r, "vpcEndpointId"))
        .filter(|v| !v.is_empty())
        .collect();
    assert!(endpoints.len() >= 4);
    for vpce in &endpoints {
        check_flag(
            &o,
            FlagKind::VpcEndpoint,
            &format!("{vpce} ("),
            &ids(&raw, |r| s(r, "vpcEndpointId") == *vpce),
        );
    }
    assert!(
        flags_of(&o, FlagKind::CallerChosenSourceIp).is_empty(),
        "no endpoint owner logged"
    );

    let private = flags_of(&o, FlagKind::PrivateSourceIp);
    assert!(private[0].detail.contains("192.168.10.20 (rfc1918"));
    assert!(private[0].detail.contains("10.8.8.10 (rfc1918"));

    // Detonations and their Terraform warm-ups both carry `stratus-red-team_<uuid>`.
    check_flag(
        &o,
        FlagKind::AttackToolUserAgent,
        "Stratus Red Team",
        &ids(&raw, |r| s(r, "userAgent").contains("stratus-red-team_")),
    );

    // The stolen instance credentials: the instance's agent calls from its public address,
    // the attacker's calls from 192.168.10.20.
    let inst = "i-0dbc91f429e48eeed";
    let f = flags_of(&o, FlagKind::InstanceCredentialsOutside);
    let f = f.iter().find(|f| f.detail.contains(inst)).unwrap();
    let outside = ids(&raw, |r| {
        arn(r).ends_with(&format!("/{inst}")) && s(r, "sourceIPAddress") == "192.168.10.20"
    });
    assert_eq!(
        f.evidence_event_ids
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>(),
        outside
    );
    assert!(f.detail.contains("is 3.225.16.109"));

    // The secrets dump: every successful GetSecretValue, and some 10 minutes hold 20+.
    let secrets = ids(&raw, |r| {
        s(r, "eventName") == "GetSecretValue" && s(r, "errorCode").is_empty()
    });
    let mut times: Vec<&str> = raw
        .iter()
        .filter(|r| secrets.contains(s(r, "eventID")))
        .map(|r| s(r, "eventTime"))
        .collect();
    times.sort();
    let minutes = |t: &str| -> i64 {
        let h: i64 = t[11..13].parse().unwrap();
        let m: i64 = t[14..16].parse().unwrap();
        h * 60 + m
    };
    assert!(times.iter().enumerate().any(|(i, t)| {
        times[i..]
            .iter()
            .filter(|u| minutes(u) - minutes(t) < 10)
            .count()
            >= 20
    }));
    check_flag(&o, FlagKind::BulkDataAccess, "GetSecretValue", &secrets);

    let console = flags_of(&o, FlagKind::ConsoleSession);
    assert!(
        console[0]
            .detail
            .contains("256 calls signed with console-minted")
    );
    assert!(console[0].detail.contains("ConsoleLogin ×2"));
}

/// Stratus Red Team's own detonation logs: the only real federated-user chain, and the
/// backdoor user's console login.
#[test]
fn stratus_logs_federation_and_console_login() {
    let Some((events, raw)) = load("stratus-red-team") else {
        return;
    };
    let fed: Vec<Event> = events
        .iter()
        .filter(|e| {
            e.event_name == "GetFederationToken"
                || e.identity.kind.as_deref() == Some("FederatedUser")
        })
        .cloned()
        .collect();
    let o = analyze(&fed, &[], None);
    let f = flags_of(&o, FlagKind::FederatedUser);
    assert_eq!(f.len(), 1);
    assert!(f[0].detail.contains("federated-user/stratus_red_team"));
    let want = ids(&raw, |r| {
        s(r, "eventName") == "GetFederationToken"
            || s(&r["userIdentity"], "type") == "FederatedUser"
    });
    assert_eq!(f[0].count, want.len() as u64);
    assert_eq!(
        flags_of(&o, FlagKind::Persistence).len(),
        1,
        "GetFederationToken"
    );

    let login: Vec<Event> = events
        .iter()
        .filter(|e| e.event_name == "ConsoleLogin")
        .cloned()
        .collect();
    let o = analyze(&login, &[], None);
    let c = flags_of(&o, FlagKind::ConsoleSession);
    assert_eq!(c[0].evidence_event_ids.len(), login.len());
    assert!(
        flags_of(&o, FlagKind::MfaUsed).is_empty(),
        "the login was without MFA"
    );
}
