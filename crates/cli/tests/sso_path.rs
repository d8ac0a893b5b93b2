//! `investigate` covers the attacker's whole path on generated trails with known ground
//! truth: Identity Center console sign-ins (the ConsoleLogin with and without the
//! federation's key) are one hop to the person, and every session on the path (the one a
//! console role switch left, the switched one, the renewed one) has exactly one section
//! with every key and every call, while the benign twin sessions of the same ARNs have none.

use std::collections::BTreeMap;
use std::sync::OnceLock;

mod common;
use common::Fixture;
use serde_json::Value;

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| Fixture::new(4000, 23))
}

/// Incidents whose path runs through an Identity Center console sign-in.
const CONSOLE_PATHS: [&str; 3] = [
    "identity-center-console",
    "sso-console-switch-renew",
    "sso-console-keyless-login",
];

fn strs(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

/// The subject's chain in the investigation.
fn subject_chain<'a>(inv: &'a Value, truth: &Value) -> &'a Value {
    inv["who"]["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["arn"] == truth["subject"]["arn"])
        .expect("the subject's session")
}

#[test]
fn identity_center_console_paths_have_one_sign_in_hop_to_the_person() {
    let f = fixture();
    for name in CONSOLE_PATHS {
        let truth = f.json(&format!("ground-truth/{name}.json"));
        let inv = f.report("investigate", name);
        let s = subject_chain(&inv, &truth);
        assert_eq!(
            s["origin"]["kind"], "IdentityCenterUser",
            "{name}: {}",
            s["origin"]
        );
        assert_eq!(
            s["origin"]["identifier"], truth["origin"]["identifier"],
            "{name}"
        );
        let hops = s["chain"].as_array().unwrap();
        let want: Vec<&Value> = truth["chain"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["method"] != "ConsoleLogin")
            .collect();
        let methods: Vec<&str> = hops.iter().map(|h| h["method"].as_str().unwrap()).collect();
        let want_methods: Vec<&str> = want.iter().map(|l| l["method"].as_str().unwrap()).collect();
        assert_eq!(methods, want_methods, "{name}: {:#}", s["chain"]);
        for (h, l) in hops.iter().zip(&want) {
            assert_eq!(h["event_id"], l["event_id"], "{name} {}", l["method"]);
            assert_ne!(h["confidence"], "unknown", "{name}: {}", h["reason"]);
            let others = strs(&h["other_event_ids"]);
            for id in strs(&l["other_copy_event_ids"]) {
                assert!(
                    others.contains(&id),
                    "{name} {}: {id} not in {others:?}",
                    l["method"]
                );
            }
        }
        // The sign-in hop: the federation, with the ConsoleLogin as its other record
        // (ground truth lists it as its own link or as the federation's other record).
        let sign_in = &hops[0];
        for l in truth["chain"].as_array().unwrap() {
            if l["method"] == "ConsoleLogin" {
                assert!(
                    strs(&sign_in["other_event_ids"])
                        .contains(&l["event_id"].as_str().unwrap().to_string()),
                    "{name}: {sign_in:#}"
                );
            }
        }
        assert_eq!(sign_in["method"], "AssumeRoleWithSAML");
        assert_eq!(
            sign_in["confidence"], "certain",
            "{name}: {}",
            sign_in["reason"]
        );
        assert!(sign_in["reason"].as_str().unwrap().contains("ConsoleLogin"));
        assert_eq!(sign_in["caller"]["type"], "SAMLUser");
        assert_eq!(sign_in["issued_arn"], truth["chain"][0]["issued_arn"]);
    }
}

#[test]
fn console_paths_state_their_path_facts() {
    let f = fixture();
    let mut missing = Vec::new();
    for name in CONSOLE_PATHS {
        let truth = f.json(&format!("ground-truth/{name}.json"));
        let inv = f.report("investigate", name);
        let got: Vec<&str> = inv["path_flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["kind"].as_str().unwrap())
            .collect();
        // Written only when the incident plants any.
        let planted = match &truth["path_flags"] {
            Value::Null => Vec::new(),
            v => strs(v),
        };
        for want in planted {
            if !got.contains(&want.as_str()) {
                missing.push(format!("{name}: {want} not in {got:?}"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:?}");
}

#[test]
fn every_session_on_a_console_path_has_one_section_with_all_its_keys_and_calls() {
    let f = fixture();
    for name in CONSOLE_PATHS {
        let truth = f.json(&format!("ground-truth/{name}.json"));
        let inv = f.report("investigate", name);
        let sections = inv["sessions"].as_array().unwrap();
        let mut total = 0;
        for t in truth["sessions"].as_array().unwrap() {
            let matching: Vec<&Value> = sections
                .iter()
                .filter(|s| s["arn"] == t["arn"] && s["creation_date"] == t["creation_date"])
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "{name}: {} {} sections",
                t["arn"],
                t["creation_date"]
            );
            let s = matching[0];
            assert_eq!(
                strs(&s["access_key_ids"]),
                strs(&t["access_key_ids"]),
                "{name}: keys of {}",
                t["arn"]
            );
            assert_eq!(
                s["activity"]["totals"]["events"], t["attacker_event_count"],
                "{name}: calls of {} {}",
                t["arn"], t["creation_date"]
            );
            total += t["attacker_event_count"].as_u64().unwrap();
        }
        assert_eq!(
            sections.len(),
            truth["sessions"].as_array().unwrap().len(),
            "{name}: {:?}",
            sections
                .iter()
                .map(|s| (&s["arn"], &s["creation_date"]))
                .collect::<Vec<_>>()
        );
        let combined = &inv["combined"]["activity"];
        assert_eq!(combined["totals"]["events"], total, "{name}");
        // Every call, per API, with its outcome.
        let mut got: BTreeMap<(String, String), (u64, u64, u64)> = BTreeMap::new();
        for r in combined["rows"].as_array().unwrap() {
            got.insert(
                (
                    r["event_source"].as_str().unwrap().into(),
                    r["event_name"].as_str().unwrap().into(),
                ),
                (
                    r["occurrences"].as_u64().unwrap(),
                    r["successes"].as_u64().unwrap(),
                    r["failures"].as_u64().unwrap(),
                ),
            );
        }
        let want: BTreeMap<(String, String), (u64, u64, u64)> = truth["api_counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    (
                        a["event_source"].as_str().unwrap().into(),
                        a["event_name"].as_str().unwrap().into(),
                    ),
                    (
                        a["occurrences"].as_u64().unwrap(),
                        a["successes"].as_u64().unwrap(),
                        a["failures"].as_u64().unwrap(),
                    ),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
        // The benign twins share the ARNs, not the sessions.
        for d in truth["decoys"].as_array().unwrap() {
            assert!(
                !sections
                    .iter()
                    .any(|s| s["arn"] == d["arn"] && s["creation_date"] == d["creation_date"]),
                "{name}: decoy {} {} has a section",
                d["arn"],
                d["creation_date"]
            );
        }
    }
}

#[test]
fn no_session_gets_two_sections_in_any_incident() {
    let f = fixture();
    let index = f.json("ground-truth/index.json");
    for i in index["incidents"].as_array().unwrap() {
        let name = i
            .get("name")
            .or(i.get("incident"))
            .and_then(Value::as_str)
            .or(i.as_str())
            .unwrap();
        let inv = f.report("investigate", name);
        let mut seen = BTreeMap::new();
        for s in inv["sessions"].as_array().unwrap() {
            if s["creation_date"].is_null() {
                continue;
            }
            let k = (s["arn"].to_string(), s["creation_date"].to_string());
            *seen.entry(k).or_insert(0) += 1;
        }
        assert!(seen.values().all(|&n| n == 1), "{name}: {seen:?}");
    }
}
