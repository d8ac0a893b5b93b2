//! What a session did: its calls grouped by API, split into changing calls, sensitive reads
//! and other reads, with the resources each call touched.
//!
//! The judgement calls (which reads matter, how to classify a call when the log does not say
//! whether it was read-only, where each API names its target) live in reviewed data files
//! under `data/`, compiled in and parsed once ([`Catalog::builtin`]), so that they can be
//! read and corrected without touching the code.

use backtrail_model::json::json_text;
use backtrail_model::time::{format_iso, parse_iso};
use backtrail_model::{Event, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::LazyLock;

const SENSITIVE_TSV: &str = include_str!("../data/sensitive_read_only.tsv");
const READ_ONLY_TSV: &str = include_str!("../data/read_only.tsv");
const TARGETS_TSV: &str = include_str!("../data/targets.tsv");

/// Distinct request-parameter samples kept per row.
pub const SAMPLE_PARAMETERS: usize = 3;
/// Distinct filters kept per read-only row.
pub const SAMPLE_FILTERS: usize = 3;
/// Distinct `resources` ARNs kept per row.
pub const SAMPLE_RESOURCES: usize = 5;
/// Event ids kept per row (the earliest ones).
pub const SAMPLE_EVENT_IDS: usize = 5;
/// Targets listed per row (the most frequent ones).
pub const LISTED_TARGETS: usize = 25;
/// Distinct targets counted per row; beyond it, new targets are only counted in
/// `uncounted_target_calls` so that memory stays bounded on huge data-event sessions.
pub const COUNTED_TARGETS: usize = 10_000;
/// Longest string kept inside a sampled request-parameters object.
const SAMPLE_STRING_CHARS: usize = 256;
/// Longest array kept inside a sampled request-parameters object.
const SAMPLE_ARRAY_ITEMS: usize = 20;
/// Longest error message kept as a sample.
const SAMPLE_ERROR_CHARS: usize = 1000;
/// Bound on targets one event can yield (array parameters fan out).
const TARGETS_PER_EVENT: usize = 50;

/// Request-parameter keys that say how a read was narrowed (or widened). Kept for
/// read-only rows instead of full parameter samples; `withDecryption` is here because it
/// turns an SSM read into a plaintext-secret read.
const FILTER_KEYS: &[&str] = &[
    "filterSet",
    "filters",
    "filter",
    "parameterFilters",
    "lookupAttributes",
    "prefix",
    "prefixes",
    "pathPrefix",
    "namePrefix",
    "logGroupNamePrefix",
    "path",
    "recursive",
    "delimiter",
    "maxResults",
    "maxItems",
    "maxRecords",
    "max-keys",
    "pageSize",
    "limit",
    "includePublic",
    "includeShared",
    "ownersSet",
    "scope",
    "onlyAttached",
    "withDecryption",
    "attribute",
    "allRegions",
];

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

/// The API name without the version suffix Lambda and CloudFront log
/// (`GetFunction20150331v2` → `GetFunction`, `CreateFunction2020_05_31` → `CreateFunction`),
/// so that one data row covers every version.
pub fn api_name(event_name: &str) -> &str {
    let b = event_name.as_bytes();
    // `...YYYYMMDD` optionally followed by `vN`.
    let mut end = b.len();
    if let Some(v) = event_name.rfind('v')
        && v + 1 < b.len()
        && b[v + 1..].iter().all(u8::is_ascii_digit)
    {
        end = v;
    }
    if end >= 9 && b[end - 8..end].iter().all(u8::is_ascii_digit) {
        return &event_name[..end - 8];
    }
    // `..._YYYY_MM_DD`.
    if b.len() > 10 {
        let tail = &b[b.len() - 10..];
        let shape = tail.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        });
        if shape {
            return &event_name[..b.len() - 10];
        }
    }
    event_name
}

/// Parses a JSON-valued column (possibly a JSON string holding JSON, as Athena exports
/// write them).
pub(crate) fn json_of(raw: Option<&str>) -> Option<Value> {
    serde_json::from_str(json_text(raw?)?.as_ref()).ok()
}

/// A string value, or a number/boolean as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
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
    fn targets_without_resources(&self, ev: &Event, req: Option<&Value>) -> Vec<String> {
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

/// ARNs in the record's `resources` list (`ARN` or `arn` keys).
pub fn resource_arns(ev: &Event) -> Vec<String> {
    let Some(Value::Array(items)) = json_of(ev.resources.as_deref()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|r| {
            r.get("ARN")
                .or_else(|| r.get("arn"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .collect()
}

/// What an authorization failure message says was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Denial {
    /// `service:Action` as IAM evaluated it.
    pub action: Option<String>,
    /// The resource named after `on resource:` (an ARN, `*`, or IAM's `user NAME` /
    /// `role NAME` / `policy ARN` form).
    pub resource: Option<String>,
    /// Why: `no identity-based policy allows`, `explicit deny in a service control
    /// policy`, ...
    pub reason: Option<String>,
    /// EC2's encoded form, which names no resource unless the message also spells it out
    /// (decode it with `aws sts decode-authorization-message`).
    pub encoded: bool,
}

/// Parses `User: ARN is not authorized to perform: ACTION on resource: RES because ...`
/// and its variants (no resource, `with an explicit deny in ...`, EC2's encoded message).
/// `None` when the message is not an authorization failure.
pub fn parse_denial(msg: &str) -> Option<Denial> {
    const MARK: &str = "not authorized to perform: ";
    let encoded = msg.contains("Encoded authorization failure message");
    let mut d = Denial {
        action: None,
        resource: None,
        reason: None,
        encoded,
    };
    if let Some(pos) = msg.find(MARK) {
        let rest = &msg[pos + MARK.len()..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let action = rest[..end].trim_end_matches(['.', ',']);
        if !action.is_empty() {
            d.action = Some(action.to_string());
        }
        let after = &rest[end..];
        if let Some(res) = after.strip_prefix(" on resource: ") {
            let stop = [
                " because ",
                " with an explicit deny",
                ". Encoded authorization failure message",
                " (Service:",
                "\n",
            ]
            .iter()
            .filter_map(|s| res.find(s))
            .min()
            .unwrap_or(res.len());
            let r = res[..stop].trim().trim_end_matches('.').trim();
            if !r.is_empty() {
                d.resource = Some(r.to_string());
            }
        }
    } else if !encoded {
        return None;
    }
    if let Some(p) = msg.find("with an explicit deny in ") {
        let tail = &msg[p + "with an explicit deny in ".len()..];
        let end = tail.find(['.', ':']).unwrap_or(tail.len());
        d.reason = Some(format!("explicit deny in {}", tail[..end].trim()));
    } else if msg.contains("with an explicit deny") {
        d.reason = Some("explicit deny".into());
    } else if let Some(p) = msg.find("because no ") {
        let tail = &msg[p + "because ".len()..];
        if let Some(e) = tail.find(" allows") {
            d.reason = Some(format!("{} allows", &tail[..e]));
        }
    }
    Some(d)
}

/// Serde for [`Millis`] as RFC 3339 text (readable JSON, still typed in Rust).
pub(crate) mod iso {
    use super::{Millis, format_iso, parse_iso};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_iso(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_iso(&s).ok_or_else(|| D::Error::custom(format!("not a timestamp: {s:?}")))
    }
}

/// A value and how many calls carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub value: String,
    pub count: u64,
}

/// An authorization failure and how many calls hit it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeniedResource {
    #[serde(flatten)]
    pub denial: Denial,
    pub count: u64,
}

/// Where a row's `read_only` came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOnlyBasis {
    /// A record of this API said (`readOnly`); a logged `false` wins over a logged `true`.
    Logged,
    /// No record said; the reviewed rule in `data/read_only.tsv` decided.
    Rule,
    /// No record said and no rule matched: shown as changing, not hidden among reads.
    Unknown,
}

/// All calls to one API (event source + event name) in the events summarized.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityRow {
    pub event_source: String,
    pub event_name: String,
    pub read_only: bool,
    pub read_only_basis: ReadOnlyBasis,
    /// Listed in `data/sensitive_read_only.tsv` (and its condition met by one call).
    pub sensitive: bool,
    pub sensitive_reason: Option<String>,
    /// ATT&CK tactic of the sensitive rule.
    pub tactic: Option<String>,
    pub occurrences: u64,
    pub successes: u64,
    pub failures: u64,
    /// Error code → calls.
    pub error_codes: BTreeMap<String, u64>,
    #[serde(with = "iso")]
    pub first_seen: Millis,
    #[serde(with = "iso")]
    pub last_seen: Millis,
    pub regions: Vec<String>,
    /// Up to [`SAMPLE_PARAMETERS`] distinct request parameters (changing and sensitive
    /// rows; long strings and arrays shortened).
    pub sample_request_parameters: Vec<Value>,
    /// Up to [`SAMPLE_FILTERS`] distinct filter settings of read-only calls (filterSet,
    /// filters, prefix, maxResults, withDecryption, ...).
    pub filters: Vec<Value>,
    /// Up to [`SAMPLE_RESOURCES`] distinct ARNs from `resources`.
    pub sample_resources: Vec<String>,
    /// Most frequent targets first, at most [`LISTED_TARGETS`].
    pub targets: Vec<Counted>,
    /// Distinct targets counted (at most [`COUNTED_TARGETS`]).
    pub distinct_targets: u64,
    /// Calls whose target was new after [`COUNTED_TARGETS`] distinct ones.
    pub uncounted_target_calls: u64,
    /// What authorization failures named, with counts.
    pub denied_resources: Vec<DeniedResource>,
    pub sample_error_message: Option<String>,
    /// The first [`SAMPLE_EVENT_IDS`] event ids, oldest first.
    pub sample_event_ids: Vec<String>,
}

/// Row indices of each section, in row order; every row is in exactly one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sections {
    /// Not read-only and not sensitive.
    pub changing: Vec<usize>,
    /// Sensitive, whatever `read_only` says (credential-minting calls are logged both ways).
    pub sensitive_read_only: Vec<usize>,
    /// Read-only and not sensitive.
    pub other_read_only: Vec<usize>,
}

/// Call counts over everything summarized.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub events: u64,
    pub successes: u64,
    pub failures: u64,
}

/// Calls in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minute {
    /// Start of the minute, RFC 3339.
    pub minute: String,
    pub calls: u64,
    pub errors: u64,
    /// Calls that matched a sensitive rule.
    pub sensitive: u64,
}

/// What the events show was done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    /// Ordered by first call, then source and name.
    pub rows: Vec<ActivityRow>,
    pub sections: Sections,
    pub totals: Totals,
    /// One entry per minute that had calls, oldest first.
    pub timeline: Vec<Minute>,
}

/// Accumulates one row.
struct RowAcc {
    row: ActivityRow,
    logged_true: bool,
    logged_false: bool,
    regions: BTreeSet<String>,
    seen_params: HashSet<String>,
    params: Vec<Value>,
    seen_filters: HashSet<String>,
    target_counts: HashMap<String, (u64, usize)>,
    denials: BTreeMap<Denial, u64>,
}

impl RowAcc {
    fn new(ev: &Event) -> RowAcc {
        RowAcc {
            row: ActivityRow {
                event_source: ev.event_source.clone(),
                event_name: ev.event_name.clone(),
                read_only: false,
                read_only_basis: ReadOnlyBasis::Unknown,
                sensitive: false,
                sensitive_reason: None,
                tactic: None,
                occurrences: 0,
                successes: 0,
                failures: 0,
                error_codes: BTreeMap::new(),
                first_seen: ev.event_time,
                last_seen: ev.event_time,
                regions: Vec::new(),
                sample_request_parameters: Vec::new(),
                filters: Vec::new(),
                sample_resources: Vec::new(),
                targets: Vec::new(),
                distinct_targets: 0,
                uncounted_target_calls: 0,
                denied_resources: Vec::new(),
                sample_error_message: None,
                sample_event_ids: Vec::new(),
            },
            logged_true: false,
            logged_false: false,
            regions: BTreeSet::new(),
            seen_params: HashSet::new(),
            params: Vec::new(),
            seen_filters: HashSet::new(),
            target_counts: HashMap::new(),
            denials: BTreeMap::new(),
        }
    }

    fn add(&mut self, ev: &Event, catalog: &Catalog, sensitive: Option<&SensitiveRule>) {
        let r = &mut self.row;
        r.occurrences += 1;
        r.first_seen = r.first_seen.min(ev.event_time);
        r.last_seen = r.last_seen.max(ev.event_time);
        if ev.failed() {
            r.failures += 1;
            let code = ev.error_code.clone().unwrap_or_default();
            *r.error_codes.entry(code).or_default() += 1;
            if r.sample_error_message.is_none()
                && let Some(m) = ev.error_message.as_deref().filter(|m| !m.is_empty())
            {
                r.sample_error_message = Some(truncate_chars(m, SAMPLE_ERROR_CHARS));
            }
        } else {
            r.successes += 1;
        }
        match ev.read_only {
            Some(true) => self.logged_true = true,
            Some(false) => self.logged_false = true,
            None => {}
        }
        if let Some(region) = &ev.aws_region {
            self.regions.insert(region.clone());
        }
        if let Some(rule) = sensitive
            && !r.sensitive
        {
            r.sensitive = true;
            r.sensitive_reason = Some(rule.reason.clone());
            r.tactic = Some(rule.tactic.clone());
        }
        if r.sample_event_ids.len() < SAMPLE_EVENT_IDS {
            r.sample_event_ids.push(ev.event_id.clone());
        }
        let arns = resource_arns(ev);
        for arn in &arns {
            if r.sample_resources.len() < SAMPLE_RESOURCES && !r.sample_resources.contains(arn) {
                r.sample_resources.push(arn.clone());
            }
        }
        let req = json_of(ev.request_parameters.as_deref());
        if let Some(req) = &req {
            if self.params.len() < SAMPLE_PARAMETERS {
                let short = shorten(req);
                if self.seen_params.insert(short.to_string()) {
                    self.params.push(short);
                }
            }
            if r.filters.len() < SAMPLE_FILTERS
                && let Some(f) = filters_of(req)
                && self.seen_filters.insert(f.to_string())
            {
                r.filters.push(f);
            }
        }
        let targets = if arns.is_empty() {
            catalog.targets_without_resources(ev, req.as_ref())
        } else {
            arns
        };
        for t in targets {
            let order = self.target_counts.len();
            match self.target_counts.get_mut(&t) {
                Some(c) => c.0 += 1,
                None if order < COUNTED_TARGETS => {
                    self.target_counts.insert(t, (1, order));
                }
                None => r.uncounted_target_calls += 1,
            }
        }
        if let Some(d) = ev.error_message.as_deref().and_then(parse_denial) {
            *self.denials.entry(d).or_default() += 1;
        }
    }

    fn finish(mut self, catalog: &Catalog) -> ActivityRow {
        let mut r = self.row;
        (r.read_only, r.read_only_basis) = if self.logged_false {
            (false, ReadOnlyBasis::Logged)
        } else if self.logged_true {
            (true, ReadOnlyBasis::Logged)
        } else {
            match catalog.read_only_rule(&r.event_source, &r.event_name) {
                Some(v) => (v, ReadOnlyBasis::Rule),
                None => (false, ReadOnlyBasis::Unknown),
            }
        };
        r.regions = self.regions.into_iter().collect();
        if !r.read_only || r.sensitive {
            r.sample_request_parameters = std::mem::take(&mut self.params);
        }
        r.distinct_targets = self.target_counts.len() as u64;
        let mut targets: Vec<(String, (u64, usize))> = self.target_counts.into_iter().collect();
        targets.sort_by(|a, b| b.1.0.cmp(&a.1.0).then(a.1.1.cmp(&b.1.1)));
        r.targets = targets
            .into_iter()
            .take(LISTED_TARGETS)
            .map(|(value, (count, _))| Counted { value, count })
            .collect();
        r.denied_resources = self
            .denials
            .into_iter()
            .map(|(denial, count)| DeniedResource { denial, count })
            .collect();
        r
    }
}

fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// A copy of a parameters object with long strings and arrays cut, so samples stay small
/// (policy documents and user data can be tens of kilobytes).
fn shorten(v: &Value) -> Value {
    match v {
        Value::String(s) if s.chars().count() > SAMPLE_STRING_CHARS => {
            let n = s.chars().count();
            Value::String(format!(
                "{} [+{} chars]",
                truncate_chars(s, SAMPLE_STRING_CHARS),
                n - SAMPLE_STRING_CHARS
            ))
        }
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().take(SAMPLE_ARRAY_ITEMS).map(shorten).collect();
            if items.len() > SAMPLE_ARRAY_ITEMS {
                out.push(Value::String(format!(
                    "[+{} items]",
                    items.len() - SAMPLE_ARRAY_ITEMS
                )));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shorten(v))).collect())
        }
        other => other.clone(),
    }
}

/// The filter-like keys of a read's parameters (looking one level into EC2's
/// `XxxRequest` wrapper), or `None` when it has none.
fn filters_of(req: &Value) -> Option<Value> {
    let obj = req.as_object()?;
    let obj = match obj.iter().next() {
        Some((k, Value::Object(inner))) if obj.len() == 1 && k.ends_with("Request") => inner,
        _ => obj,
    };
    let picked: serde_json::Map<String, Value> = obj
        .iter()
        .filter(|(k, _)| FILTER_KEYS.iter().any(|f| f.eq_ignore_ascii_case(k)))
        .map(|(k, v)| (k.clone(), shorten(v)))
        .collect();
    (!picked.is_empty()).then_some(Value::Object(picked))
}

/// Start of the minute `t` falls in.
fn minute_of(t: Millis) -> Millis {
    t - t.rem_euclid(60_000)
}

/// Summarizes the calls in `events` (one or several sessions, any order).
pub fn summarize(events: &[Event], catalog: &Catalog) -> Activity {
    let mut order: Vec<&Event> = events.iter().collect();
    order.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));

    let mut rows: HashMap<(&str, &str), RowAcc> = HashMap::new();
    let mut totals = Totals::default();
    let mut minutes: BTreeMap<Millis, (u64, u64, u64)> = BTreeMap::new();
    for ev in order {
        let sensitive = catalog.sensitive_rule(ev);
        rows.entry((ev.event_source.as_str(), ev.event_name.as_str()))
            .or_insert_with(|| RowAcc::new(ev))
            .add(ev, catalog, sensitive);
        totals.events += 1;
        let m = minutes.entry(minute_of(ev.event_time)).or_default();
        m.0 += 1;
        if ev.failed() {
            totals.failures += 1;
            m.1 += 1;
        } else {
            totals.successes += 1;
        }
        if sensitive.is_some() {
            m.2 += 1;
        }
    }

    let mut rows: Vec<ActivityRow> = rows.into_values().map(|a| a.finish(catalog)).collect();
    rows.sort_by(|a, b| {
        (a.first_seen, &a.event_source, &a.event_name).cmp(&(
            b.first_seen,
            &b.event_source,
            &b.event_name,
        ))
    });
    let mut sections = Sections::default();
    for (i, r) in rows.iter().enumerate() {
        if r.sensitive {
            sections.sensitive_read_only.push(i);
        } else if r.read_only {
            sections.other_read_only.push(i);
        } else {
            sections.changing.push(i);
        }
    }
    let timeline = minutes
        .into_iter()
        .map(|(t, (calls, errors, sensitive))| Minute {
            minute: format_iso(t),
            calls,
            errors,
            sensitive,
        })
        .collect();
    Activity {
        rows,
        sections,
        totals,
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_normalize::parse_file;

    fn events(json: &str) -> Vec<Event> {
        let pf = parse_file(json.as_bytes());
        assert!(pf.rejects.is_empty(), "{:?}", pf.rejects);
        pf.events
    }

    fn row<'a>(a: &'a Activity, name: &str) -> &'a ActivityRow {
        a.rows
            .iter()
            .find(|r| r.event_name == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    }

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
    fn api_names_lose_version_suffixes_only() {
        assert_eq!(api_name("GetFunction20150331v2"), "GetFunction");
        assert_eq!(api_name("ListFunctions20150331"), "ListFunctions");
        assert_eq!(api_name("CreateFunction2020_05_31"), "CreateFunction");
        assert_eq!(api_name("ListObjectsV2"), "ListObjectsV2");
        assert_eq!(api_name("GetObject"), "GetObject");
        assert_eq!(api_name("v2"), "v2");
        assert_eq!(api_name("20150331"), "20150331");
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

    #[test]
    fn denials_of_every_shape() {
        let d = parse_denial(
            "User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::1:role/r",
        )
        .unwrap();
        assert_eq!(d.action.as_deref(), Some("sts:AssumeRole"));
        assert_eq!(d.resource.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(d.reason, None);
        assert!(!d.encoded);

        let d = parse_denial("User: arn:aws:iam::1:user/u is not authorized to perform: iam:SetDefaultPolicyVersion on resource: policy arn:aws:iam::1:policy/P version v2 because no identity-based policy allows the iam:SetDefaultPolicyVersion action").unwrap();
        assert_eq!(
            d.resource.as_deref(),
            Some("policy arn:aws:iam::1:policy/P version v2")
        );
        assert_eq!(d.reason.as_deref(), Some("no identity-based policy allows"));

        let d = parse_denial("User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: organizations:LeaveOrganization on resource: * with an explicit deny in a service control policy").unwrap();
        assert_eq!(d.resource.as_deref(), Some("*"));
        assert_eq!(
            d.reason.as_deref(),
            Some("explicit deny in a service control policy")
        );

        let d = parse_denial("User: arn:aws:iam::1:user/u is not authorized to perform: route53:CreateHostedZone because no identity-based policy allows the route53:CreateHostedZone action").unwrap();
        assert_eq!(d.action.as_deref(), Some("route53:CreateHostedZone"));
        assert_eq!(d.resource, None);

        let d = parse_denial("User is not authorized to perform: rds:ModifyDBInstance").unwrap();
        assert_eq!(d.action.as_deref(), Some("rds:ModifyDBInstance"));

        let d = parse_denial(
            "You are not authorized to perform this operation. Encoded authorization failure message: abc-_",
        )
        .unwrap();
        assert!(d.encoded);
        assert_eq!((d.action, d.resource), (None, None));

        let d = parse_denial("You are not authorized to perform this operation. User: arn:aws:iam::1:user/u is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:1:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: xyz").unwrap();
        assert!(d.encoded);
        assert_eq!(
            d.resource.as_deref(),
            Some("arn:aws:ec2:us-east-1:1:instance/*")
        );

        assert_eq!(parse_denial("The bucket policy does not exist"), None);
        assert_eq!(parse_denial("Access Denied"), None);
    }

    const RECORDS: &str = r#"{"Records":[
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:00:05Z","eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"roleName":"r1","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},"responseElements":null,"eventID":"e1","readOnly":false,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:00:40Z","eventSource":"iam.amazonaws.com","eventName":"AttachRolePolicy","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"roleName":"r1","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"},"responseElements":null,"eventID":"e2","readOnly":false,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:01:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::111:user/a is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::111:role/admin","requestParameters":null,"responseElements":null,"eventID":"e3","readOnly":true,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:01:30Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstanceAttribute","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"instanceId":"i-0abc","attribute":"instanceType"},"responseElements":null,"eventID":"e4","readOnly":true,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:01:31Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"instancesSet":{},"filterSet":{"items":[{"name":"instance-state-name","valueSet":{"items":[{"value":"running"}]}}]},"maxResults":5},"responseElements":null,"eventID":"e5","recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:02:00Z","eventSource":"ec2.amazonaws.com","eventName":"TerminateInstances","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}},"responseElements":null,"eventID":"e6","readOnly":false,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:02:10Z","eventSource":"ssm.amazonaws.com","eventName":"GetParameters","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":"{\"names\":[\"/db/password\",\"/db/user\"],\"withDecryption\":true}","responseElements":null,"eventID":"e7","readOnly":true,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:02:20Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"bucketName":"b","key":"k"},"resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"accountId":"111","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b"}],"responseElements":null,"eventID":"e8","readOnly":true,"recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:03:00Z","eventSource":"lambda.amazonaws.com","eventName":"UpdateFunctionCode20150331v2","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"requestParameters":{"functionName":"f","zipFile":"QUFB"},"responseElements":null,"eventID":"e9","recipientAccountId":"111"},
 {"eventVersion":"1.08","eventTime":"2023-07-10T12:03:05Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","sourceIPAddress":"1.2.3.4","userAgent":"aws-cli/2","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111:user/a","accountId":"111","accessKeyId":"AKIA1"},"errorCode":"Client.UnauthorizedOperation","errorMessage":"You are not authorized to perform this operation. Encoded authorization failure message: QkVSVA","requestParameters":{"imageId":"ami-1"},"responseElements":null,"eventID":"e10","readOnly":false,"recipientAccountId":"111"}
]}"#;

    #[test]
    fn rows_sections_targets_and_timeline() {
        let a = summarize(&events(RECORDS), Catalog::builtin());
        assert_eq!(
            a.totals,
            Totals {
                events: 10,
                successes: 8,
                failures: 2
            }
        );

        let attach = row(&a, "AttachRolePolicy");
        assert_eq!((attach.occurrences, attach.successes), (2, 2));
        assert!(!attach.read_only && !attach.sensitive);
        assert_eq!(attach.read_only_basis, ReadOnlyBasis::Logged);
        assert_eq!(
            attach.sample_request_parameters.len(),
            1,
            "identical samples dedup"
        );
        assert_eq!(
            attach.targets,
            vec![Counted {
                value: "roleName=r1, policyArn=arn:aws:iam::aws:policy/AdministratorAccess".into(),
                count: 2
            }]
        );
        assert_eq!(attach.sample_event_ids, vec!["e1", "e2"]);
        assert_eq!(
            attach.first_seen,
            parse_iso("2023-07-10T12:00:05Z").unwrap()
        );

        let assume = row(&a, "AssumeRole");
        assert!(assume.sensitive && assume.read_only);
        assert_eq!(assume.tactic.as_deref(), Some("Lateral Movement"));
        assert_eq!(assume.error_codes.get("AccessDenied"), Some(&1));
        assert_eq!(assume.targets[0].value, "arn:aws:iam::111:role/admin");
        assert_eq!(
            assume.denied_resources[0].denial.resource.as_deref(),
            Some("arn:aws:iam::111:role/admin")
        );
        assert!(assume.sample_error_message.is_some());

        // The condition (attribute=userData) is not met: an ordinary read.
        let attr = row(&a, "DescribeInstanceAttribute");
        assert!(!attr.sensitive && attr.read_only);
        assert_eq!(
            attr.targets[0].value,
            "instanceId=i-0abc, attribute=instanceType"
        );

        // No readOnly logged: the Describe* rule decides; the filter is kept, not params.
        let desc = row(&a, "DescribeInstances");
        assert_eq!(
            (desc.read_only, desc.read_only_basis),
            (true, ReadOnlyBasis::Rule)
        );
        assert!(desc.sample_request_parameters.is_empty());
        assert_eq!(desc.filters.len(), 1);
        assert!(desc.filters[0].get("filterSet").is_some());
        assert_eq!(desc.filters[0]["maxResults"], 5);

        let term = row(&a, "TerminateInstances");
        let t: Vec<&str> = term.targets.iter().map(|c| c.value.as_str()).collect();
        assert_eq!(t, vec!["i-1", "i-2"]);

        // Athena-style string-wrapped JSON goes through json_text.
        let params = row(&a, "GetParameters");
        assert!(params.sensitive);
        assert_eq!(params.targets.len(), 2);
        assert_eq!(params.filters[0]["withDecryption"], true);
        assert_eq!(params.sample_request_parameters.len(), 1);

        let get = row(&a, "GetObject");
        assert_eq!(
            get.sample_resources,
            vec!["arn:aws:s3:::b/k", "arn:aws:s3:::b"]
        );
        assert_eq!(get.targets.len(), 2);

        // Versioned Lambda name found in the targets table; unlogged readOnly and no rule.
        let code = row(&a, "UpdateFunctionCode20150331v2");
        assert_eq!(code.targets[0].value, "f");
        assert_eq!(
            (code.read_only, code.read_only_basis),
            (false, ReadOnlyBasis::Unknown)
        );

        // EC2's encoded denial: no resource, the request's imageId still names the target.
        let run = row(&a, "RunInstances");
        assert!(run.denied_resources[0].denial.encoded);
        assert_eq!(run.denied_resources[0].denial.resource, None);
        assert_eq!(run.targets[0].value, "ami-1");

        let name = |i: &usize| a.rows[*i].event_name.as_str();
        let changing: Vec<&str> = a.sections.changing.iter().map(name).collect();
        assert_eq!(
            changing,
            vec![
                "AttachRolePolicy",
                "TerminateInstances",
                "UpdateFunctionCode20150331v2",
                "RunInstances"
            ]
        );
        let sensitive: Vec<&str> = a.sections.sensitive_read_only.iter().map(name).collect();
        assert_eq!(sensitive, vec!["AssumeRole", "GetParameters", "GetObject"]);
        let other: Vec<&str> = a.sections.other_read_only.iter().map(name).collect();
        assert_eq!(
            other,
            vec!["DescribeInstanceAttribute", "DescribeInstances"]
        );

        let minutes: Vec<(&str, u64, u64, u64)> = a
            .timeline
            .iter()
            .map(|m| (m.minute.as_str(), m.calls, m.errors, m.sensitive))
            .collect();
        assert_eq!(
            minutes,
            vec![
                ("2023-07-10T12:00:00Z", 2, 0, 0),
                ("2023-07-10T12:01:00Z", 3, 1, 1),
                ("2023-07-10T12:02:00Z", 3, 0, 2),
                ("2023-07-10T12:03:00Z", 2, 1, 0),
            ]
        );
    }

    #[test]
    fn user_data_reads_are_sensitive_and_samples_are_bounded() {
        let mut json = String::from("[");
        for i in 0..6 {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&format!(
                r#"{{"eventTime":"2024-01-01T00:00:0{i}Z","eventSource":"ec2.amazonaws.com","eventName":"DescribeInstanceAttribute","eventID":"u{i}","userIdentity":{{"type":"IAMUser"}},"requestParameters":{{"instanceId":"i-{i}","attribute":"userData","note":"{}"}},"readOnly":true}}"#,
                "x".repeat(400)
            ));
        }
        json.push(']');
        let a = summarize(&events(&json), Catalog::builtin());
        let r = &a.rows[0];
        assert!(r.sensitive);
        assert_eq!(r.tactic.as_deref(), Some("Credential Access"));
        assert_eq!(r.sample_request_parameters.len(), SAMPLE_PARAMETERS);
        let note = r.sample_request_parameters[0]["note"].as_str().unwrap();
        assert!(note.ends_with("[+144 chars]"), "{note}");
        assert_eq!(r.sample_event_ids.len(), SAMPLE_EVENT_IDS);
        assert_eq!(r.distinct_targets, 6);
        assert_eq!(a.sections.sensitive_read_only, vec![0]);
    }

    #[test]
    fn row_serializes_with_the_documented_field_names() {
        let a = summarize(&events(RECORDS), Catalog::builtin());
        let v = serde_json::to_value(&a).unwrap();
        let row = v["rows"][0].as_object().unwrap();
        for k in [
            "event_source",
            "event_name",
            "read_only",
            "sensitive",
            "sensitive_reason",
            "tactic",
            "occurrences",
            "successes",
            "failures",
            "error_codes",
            "first_seen",
            "last_seen",
            "regions",
            "sample_request_parameters",
            "filters",
            "sample_resources",
            "targets",
            "denied_resources",
            "sample_error_message",
            "sample_event_ids",
        ] {
            assert!(row.contains_key(k), "missing {k}");
        }
        assert_eq!(row["first_seen"], "2023-07-10T12:00:05Z");
        for k in ["changing", "sensitive_read_only", "other_read_only"] {
            assert!(v["sections"][k].is_array());
        }
        let back: Activity = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
