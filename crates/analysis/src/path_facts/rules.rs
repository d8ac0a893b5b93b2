//! The reviewed tables behind the path facts (`data/data_access.tsv`,
//! `data/exfiltration.tsv`, `data/denied_codes.tsv`), parsed once, and what they say about
//! one call: whether it read data or secrets, and whom a sharing call opened data to.

use super::{account_of, made_by_aws};
use crate::calls::{api_name, json_of, scalar};
use crate::catalog::tsv_rows;
use backtrail_model::Event;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

const DATA_ACCESS_TSV: &str = include_str!("../../data/data_access.tsv");
const EXFILTRATION_TSV: &str = include_str!("../../data/exfiltration.tsv");
const DENIED_CODES_TSV: &str = include_str!("../../data/denied_codes.tsv");

// ---- rule tables ----------------------------------------------------------------------------

pub(super) struct DataRule {
    pub(super) condition: Option<(String, String)>,
    pub(super) what: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    ShareAdd,
    BucketPolicy,
    BucketAcl,
    Replication,
}

pub(super) struct ExfilRule {
    pub(super) shape: Shape,
    pub(super) what: String,
}

pub(super) struct Rules {
    pub(super) data: BTreeMap<(String, String), DataRule>,
    pub(super) exfil: BTreeMap<(String, String), ExfilRule>,
    pub(super) denied: BTreeSet<String>,
}

pub(super) fn parse_rules() -> Result<Rules, crate::catalog::CatalogError> {
    let mut data = BTreeMap::new();
    for (_, c) in tsv_rows(DATA_ACCESS_TSV, "data_access.tsv", 4)? {
        let condition = (c[2] != "-")
            .then(|| c[2].split_once('='))
            .flatten()
            .map(|(k, v)| (k.to_string(), v.to_string()));
        data.insert(
            (c[0].to_string(), c[1].to_string()),
            DataRule {
                condition,
                what: c[3].to_string(),
            },
        );
    }
    let mut exfil = BTreeMap::new();
    for (line, c) in tsv_rows(EXFILTRATION_TSV, "exfiltration.tsv", 4)? {
        let shape = match c[2] {
            "share_add" => Shape::ShareAdd,
            "bucket_policy" => Shape::BucketPolicy,
            "bucket_acl" => Shape::BucketAcl,
            "replication" => Shape::Replication,
            other => {
                return Err(crate::catalog::CatalogError {
                    table: "exfiltration.tsv".into(),
                    line,
                    message: format!("unknown shape {other:?}"),
                });
            }
        };
        exfil.insert(
            (c[0].to_string(), c[1].to_string()),
            ExfilRule {
                shape,
                what: c[3].to_string(),
            },
        );
    }
    let denied = tsv_rows(DENIED_CODES_TSV, "denied_codes.tsv", 2)?
        .into_iter()
        .map(|(_, c)| c[0].to_string())
        .collect();
    Ok(Rules {
        data,
        exfil,
        denied,
    })
}

pub(super) static RULES: LazyLock<Rules> =
    LazyLock::new(|| parse_rules().expect("the built-in path-fact tables parse"));

/// Whether `ev` is a successful data or secret read; the rule's words.
pub(super) fn data_read<'r>(rules: &'r Rules, ev: &Event) -> Option<&'r DataRule> {
    if ev.failed() || made_by_aws(ev) {
        return None;
    }
    let rule = rules.data.get(&(
        ev.event_source.clone(),
        api_name(&ev.event_name).to_string(),
    ))?;
    if let Some((key, want)) = &rule.condition {
        let req = json_of(ev.request_parameters.as_deref())?;
        let got = req.get(key).and_then(scalar)?;
        if !got.eq_ignore_ascii_case(want) {
            return None;
        }
    }
    Some(rule)
}

// ---- exfiltration shapes -----------------------------------------------------------------------

/// Who a call opened data to: "public" or foreign account ids.
pub(super) fn grantees(shape: Shape, ev: &Event, ours: &dyn Fn(&str) -> bool) -> Vec<String> {
    let Some(req) = json_of(ev.request_parameters.as_deref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let account = |a: &str, out: &mut Vec<String>| {
        let a = a.trim();
        if a.eq_ignore_ascii_case("all") {
            out.push("public".to_string());
        } else if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) && !ours(a) {
            out.push(format!("account {a}"));
        }
    };
    match shape {
        Shape::ShareAdd => {
            for attr in ["createVolumePermission", "launchPermission"] {
                if let Some(Value::Array(items)) =
                    req.pointer(&format!("/{attr}/add/items")).cloned()
                {
                    for it in items {
                        if let Some(u) = it.get("userId").and_then(Value::as_str) {
                            account(u, &mut out);
                        }
                        if it.get("group").and_then(Value::as_str) == Some("all") {
                            out.push("public".into());
                        }
                    }
                }
            }
            let restore = req
                .get("attributeName")
                .and_then(Value::as_str)
                .is_some_and(|a| a.eq_ignore_ascii_case("restore"));
            if restore && let Some(Value::Array(vals)) = req.get("valuesToAdd") {
                for v in vals.iter().filter_map(Value::as_str) {
                    account(v, &mut out);
                }
            }
        }
        Shape::BucketPolicy => {
            let policy = match req.get("bucketPolicy") {
                Some(Value::String(s)) => serde_json::from_str(s).ok(),
                Some(v @ Value::Object(_)) => Some(v.clone()),
                _ => None,
            };
            let statements = match policy.as_ref().and_then(|p| p.get("Statement")) {
                Some(Value::Array(a)) => a.clone(),
                Some(v @ Value::Object(_)) => vec![v.clone()],
                _ => Vec::new(),
            };
            for st in statements {
                if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
                    continue;
                }
                let pinned = st.get("Condition").is_some_and(|c| {
                    let c = c.to_string();
                    [
                        "aws:SourceAccount",
                        "aws:PrincipalAccount",
                        "aws:SourceVpce",
                        "aws:PrincipalOrgID",
                        "aws:SourceArn",
                    ]
                    .iter()
                    .any(|k| c.contains(k))
                });
                let principals: Vec<String> = match st.get("Principal") {
                    Some(Value::String(s)) => vec![s.clone()],
                    Some(Value::Object(m)) => m
                        .get("AWS")
                        .map(|v| match v {
                            Value::String(s) => vec![s.clone()],
                            Value::Array(a) => a.iter().filter_map(scalar).collect(),
                            _ => Vec::new(),
                        })
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                for p in principals {
                    if p == "*" {
                        if !pinned {
                            out.push("public".into());
                        }
                    } else {
                        account(account_of(&p).unwrap_or(&p), &mut out);
                    }
                }
            }
        }
        Shape::BucketAcl => {
            let canned = req
                .get("x-amz-acl")
                .and_then(|v| match v {
                    Value::Array(a) => a.first().and_then(scalar),
                    v => scalar(v),
                })
                .unwrap_or_default();
            if matches!(
                canned.as_str(),
                "public-read" | "public-read-write" | "authenticated-read"
            ) {
                out.push("public".into());
            }
            let text = req.to_string();
            if text.contains("acs.amazonaws.com/groups/global/AllUsers")
                || text.contains("acs.amazonaws.com/groups/global/AuthenticatedUsers")
            {
                out.push("public".into());
            }
        }
        Shape::Replication => {
            let mut stack = vec![&req];
            while let Some(n) = stack.pop() {
                match n {
                    Value::Object(m) => {
                        if let Some(Value::Object(d)) = m.get("Destination")
                            && let Some(a) = d.get("Account").and_then(scalar)
                        {
                            account(&a, &mut out);
                        }
                        stack.extend(m.values());
                    }
                    Value::Array(a) => stack.extend(a.iter()),
                    _ => {}
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}
