//! The reviewed tables the analyses apply (`data/`): which reads are sensitive, which calls
//! are read-only when the log does not say, where each API names its target, compiled in and
//! parsed once ([`Catalog::builtin`]), so that they can be read and corrected without
//! touching the code.

use crate::calls::{api_name, json_of, parse_denial, resource_arns, scalar};
use backtrail_model::Event;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

const SENSITIVE_TSV: &str = include_str!("../data/sensitive_read_only.tsv");
const READ_ONLY_TSV: &str = include_str!("../data/read_only.tsv");
const TARGETS_TSV: &str = include_str!("../data/targets.tsv");

/// Bound on targets one event can yield (array parameters fan out).
const TARGETS_PER_EVENT: usize = 50;

/// A problem in a reviewed data table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{table} line {line}: {message}")]
pub struct CatalogError {
    pub table: String,
    pub line: usize,
    pub message: String,
}

/// Rows of a tab-separated table with `columns` columns; `#` lines and blank lines skipped.
pub(crate) fn tsv_rows<'a>(
    text: &'a str,
    table: &str,
    columns: usize,
) -> Result<Vec<(usize, Vec<&'a str>)>, CatalogError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        if cells.len() != columns || cells.iter().any(|c| c.is_empty()) {
            return Err(CatalogError {
                table: table.to_string(),
                line: i + 1,
                message: format!("expected {columns} non-empty tab-separated columns"),
            });
        }
        rows.push((i + 1, cells));
    }
    Ok(rows)
}

/// Why a call is sensitive, from the sensitive read-only table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveRule {
    /// `(parameter, value)` the request must carry, when the API is sensitive only then.
    pub condition: Option<(String, String)>,
    pub tactic: String,
    pub reason: String,
}

/// One step of a parameter path.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    key: String,
    each: bool,
}

/// A parameter path: `instancesSet.items[].instanceId`, or `response:...`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ParamPath {
    response: bool,
    steps: Vec<Step>,
}

impl ParamPath {
    fn parse(s: &str) -> Option<ParamPath> {
        let (response, body) = match s.strip_prefix("response:") {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        let steps: Vec<Step> = body
            .split('.')
            .map(|k| match k.strip_suffix("[]") {
                Some(key) => Step {
                    key: key.to_string(),
                    each: true,
                },
                None => Step {
                    key: k.to_string(),
                    each: false,
                },
            })
            .collect();
        if steps.iter().any(|s| s.key.is_empty()) {
            return None;
        }
        Some(ParamPath { response, steps })
    }

    fn label(&self) -> &str {
        self.steps.last().map(|s| s.key.as_str()).unwrap_or("")
    }

    fn values(&self, v: &Value, out: &mut Vec<String>) {
        collect_path(v, &self.steps, out);
    }
}

fn collect_path(v: &Value, steps: &[Step], out: &mut Vec<String>) {
    if out.len() >= TARGETS_PER_EVENT {
        return;
    }
    let Some((step, rest)) = steps.split_first() else {
        match v {
            Value::Array(items) => out.extend(items.iter().filter_map(scalar)),
            _ => out.extend(scalar(v)),
        }
        return;
    };
    let Some(next) = v.get(&step.key) else {
        return;
    };
    match next {
        Value::Array(items) if step.each => {
            for item in items {
                collect_path(item, rest, out);
            }
        }
        _ => collect_path(next, rest, out),
    }
}

/// Where one API names its target: parts, each with alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TargetSpec {
    parts: Vec<Vec<ParamPath>>,
}

/// Event source → API name → value; looked up by `&str` without allocating.
type BySource<T> = HashMap<String, HashMap<String, T>>;

fn lookup<'a, T>(map: &'a BySource<T>, source: &str, name: &str) -> Option<&'a T> {
    map.get(source)?.get(name)
}

/// The reviewed tables the activity summary applies.
#[derive(Debug, Clone)]
pub struct Catalog {
    sensitive: BySource<Vec<SensitiveRule>>,
    read_only_names: BySource<bool>,
    read_only_prefixes: Vec<(String, String, bool)>,
    targets: BySource<TargetSpec>,
}

static BUILTIN: LazyLock<Catalog> = LazyLock::new(|| {
    Catalog::from_tables(SENSITIVE_TSV, READ_ONLY_TSV, TARGETS_TSV)
        .unwrap_or_else(|e| panic!("built-in data table is invalid: {e}"))
});

impl Catalog {
    /// The tables shipped in `data/`, parsed on first use.
    pub fn builtin() -> &'static Catalog {
        &BUILTIN
    }

    /// Builds a catalog from table texts in the formats of `data/sensitive_read_only.tsv`,
    /// `data/read_only.tsv` and `data/targets.tsv` (their headers document the columns).
    pub fn from_tables(
        sensitive: &str,
        read_only: &str,
        targets: &str,
    ) -> Result<Catalog, CatalogError> {
        let mut cat = Catalog {
            sensitive: HashMap::new(),
            read_only_names: HashMap::new(),
            read_only_prefixes: Vec::new(),
            targets: HashMap::new(),
        };
        for (line, c) in tsv_rows(sensitive, "sensitive_read_only", 5)? {
            let condition = match c[2] {
                "-" => None,
                cond => {
                    let (k, v) = cond.split_once('=').ok_or_else(|| CatalogError {
                        table: "sensitive_read_only".into(),
                        line,
                        message: format!("condition {cond:?} is not - or param=value"),
                    })?;
                    Some((k.to_string(), v.to_string()))
                }
            };
            cat.sensitive
                .entry(c[0].to_string())
                .or_default()
                .entry(c[1].to_string())
                .or_default()
                .push(SensitiveRule {
                    condition,
                    tactic: c[3].to_string(),
                    reason: c[4].to_string(),
                });
        }
        for (line, c) in tsv_rows(read_only, "read_only", 5)? {
            let value = match c[3] {
                "true" => true,
                "false" => false,
                other => {
                    return Err(CatalogError {
                        table: "read_only".into(),
                        line,
                        message: format!("read_only {other:?} is not true or false"),
                    });
                }
            };
            match c[0] {
                "name" => {
                    cat.read_only_names
                        .entry(c[1].to_string())
                        .or_default()
                        .insert(c[2].to_string(), value);
                }
                "prefix" => {
                    cat.read_only_prefixes
                        .push((c[1].to_string(), c[2].to_string(), value))
                }
                other => {
                    return Err(CatalogError {
                        table: "read_only".into(),
                        line,
                        message: format!("kind {other:?} is not name or prefix"),
                    });
                }
            }
        }
        for (line, c) in tsv_rows(targets, "targets", 3)? {
            let mut parts = Vec::new();
            for part in c[2].split(',') {
                let alts: Option<Vec<ParamPath>> = part
                    .split('|')
                    .map(|p| ParamPath::parse(p.trim()))
                    .collect();
                match alts {
                    Some(a) if !a.is_empty() => parts.push(a),
                    _ => {
                        return Err(CatalogError {
                            table: "targets".into(),
                            line,
                            message: format!("bad parameter path in {part:?}"),
                        });
                    }
                }
            }
            cat.targets
                .entry(c[0].to_string())
                .or_default()
                .insert(c[1].to_string(), TargetSpec { parts });
        }
        Ok(cat)
    }

    /// Read-only by the reviewed rule (for records that do not say): exact names first
    /// (service-specific before `*`), then prefixes; `None` when no rule applies.
    pub fn read_only_rule(&self, event_source: &str, event_name: &str) -> Option<bool> {
        let name = api_name(event_name);
        for src in [event_source, "*"] {
            if let Some(v) = lookup(&self.read_only_names, src, name) {
                return Some(*v);
            }
        }
        self.read_only_prefixes
            .iter()
            .find(|(src, prefix, _)| {
                (src == "*" || src == event_source)
                    && name.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                        rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
                    })
            })
            .map(|(_, _, v)| *v)
    }

    /// The sensitive-read rule this call matches, if any (conditions checked against its
    /// request parameters).
    pub fn sensitive_rule(&self, ev: &Event) -> Option<&SensitiveRule> {
        let rules = lookup(&self.sensitive, &ev.event_source, api_name(&ev.event_name))?;
        let mut params: Option<Option<Value>> = None;
        rules.iter().find(|r| match &r.condition {
            None => true,
            Some((k, want)) => {
                let p = params.get_or_insert_with(|| json_of(ev.request_parameters.as_deref()));
                p.as_ref()
                    .and_then(|p| p.get(k))
                    .and_then(scalar)
                    .is_some_and(|v| &v == want)
            }
        })
    }

    /// What the call acted on: the `resources` ARNs when logged, else the request (or
    /// response) parameters the targets table names for this API, else the resource an
    /// authorization failure message names.
    pub fn targets(&self, ev: &Event) -> Vec<String> {
        let from_resources = resource_arns(ev);
        if !from_resources.is_empty() {
            return from_resources;
        }
        let req = json_of(ev.request_parameters.as_deref());
        self.targets_without_resources(ev, req.as_ref())
    }

    /// [`Catalog::targets`] for a call without `resources`, its request parameters already
    /// parsed.
    pub(crate) fn targets_without_resources(&self, ev: &Event, req: Option<&Value>) -> Vec<String> {
        let from_params = self.targets_from_parameters(ev, req);
        if !from_params.is_empty() {
            return from_params;
        }
        ev.error_message
            .as_deref()
            .and_then(parse_denial)
            .and_then(|d| d.resource)
            .filter(|r| r != "*")
            .into_iter()
            .collect()
    }

    fn targets_from_parameters(&self, ev: &Event, req: Option<&Value>) -> Vec<String> {
        let Some(spec) = lookup(&self.targets, &ev.event_source, api_name(&ev.event_name)) else {
            return Vec::new();
        };
        let needs_response = spec.parts.iter().flatten().any(|p| p.response);
        let resp = if needs_response {
            json_of(ev.response_elements.as_deref())
        } else {
            None
        };
        let labelled = spec.parts.len() > 1;
        let mut combos: Vec<String> = vec![String::new()];
        let mut any = false;
        for part in &spec.parts {
            let found = part.iter().find_map(|path| {
                let doc = if path.response { resp.as_ref() } else { req };
                let mut vals = Vec::new();
                path.values(doc?, &mut vals);
                (!vals.is_empty()).then_some((path.label(), vals))
            });
            let Some((label, vals)) = found else {
                continue;
            };
            any = true;
            let mut next = Vec::new();
            for prefix in &combos {
                for v in &vals {
                    if next.len() >= TARGETS_PER_EVENT {
                        break;
                    }
                    let sep = if prefix.is_empty() { "" } else { ", " };
                    next.push(if labelled {
                        format!("{prefix}{sep}{label}={v}")
                    } else {
                        format!("{prefix}{sep}{v}")
                    });
                }
            }
            combos = next;
        }
        if any { combos } else { Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_tables_parse_and_cover_enough_apis() {
        let c = Catalog::builtin();
        fn count<T>(m: &BySource<T>) -> usize {
            m.values().map(HashMap::len).sum()
        }
        assert!(
            count(&c.targets) >= 60,
            "{} target rules",
            count(&c.targets)
        );
        assert!(count(&c.sensitive) >= 40);
        for (src, name) in [
            ("sts.amazonaws.com", "AssumeRole"),
            ("sts.amazonaws.com", "GetSessionToken"),
            ("secretsmanager.amazonaws.com", "GetSecretValue"),
            ("s3.amazonaws.com", "GetObject"),
            ("kms.amazonaws.com", "Decrypt"),
            ("ec2.amazonaws.com", "GetPasswordData"),
            ("ssm.amazonaws.com", "GetParametersByPath"),
            ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
            ("sso.amazonaws.com", "GetRoleCredentials"),
            ("signin.amazonaws.com", "GetSigninToken"),
            ("lambda.amazonaws.com", "GetFunction"),
            ("rds.amazonaws.com", "DownloadDBLogFilePortion"),
            ("ecr.amazonaws.com", "GetAuthorizationToken"),
            ("codecommit.amazonaws.com", "GitPull"),
            ("dynamodb.amazonaws.com", "Scan"),
        ] {
            assert!(lookup(&c.sensitive, src, name).is_some(), "{src} {name}");
        }
    }

    #[test]
    fn bad_tables_are_refused_with_their_line() {
        let err = Catalog::from_tables("# c\ns3.amazonaws.com\tGetObject\n", "", "").unwrap_err();
        assert_eq!((err.table.as_str(), err.line), ("sensitive_read_only", 2));
        let err = Catalog::from_tables("", "prefix\t*\tGet\tmaybe\tx\n", "").unwrap_err();
        assert!(err.message.contains("maybe"));
        let err = Catalog::from_tables("", "", "s\tN\ta..b\n").unwrap_err();
        assert_eq!(err.table, "targets");
    }

    #[test]
    fn read_only_rule_prefers_names_and_respects_word_boundaries() {
        let c = Catalog::builtin();
        assert_eq!(
            c.read_only_rule("sts.amazonaws.com", "GetSessionToken"),
            Some(false)
        );
        assert_eq!(
            c.read_only_rule("sts.amazonaws.com", "AssumeRole"),
            Some(true)
        );
        assert_eq!(
            c.read_only_rule("ec2.amazonaws.com", "DescribeInstances"),
            Some(true)
        );
        assert_eq!(
            c.read_only_rule("lambda.amazonaws.com", "GetFunction20150331v2"),
            Some(true)
        );
        assert_eq!(c.read_only_rule("x.amazonaws.com", "Getaway"), None);
        assert_eq!(c.read_only_rule("iam.amazonaws.com", "CreateUser"), None);
    }
}
