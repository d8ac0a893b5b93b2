//! What a session did: its calls grouped by API, split into changing calls, sensitive reads
//! and other reads, with the resources each call touched.
//!
//! The judgement calls (which reads matter, how to classify a call when the log does not say
//! whether it was read-only, where each API names its target) live in the reviewed tables of
//! the [`Catalog`].

use crate::calls::{Counted, Denial, iso, json_of, parse_denial, resource_arns};
use crate::catalog::{Catalog, SensitiveRule};
use backtrail_model::time::format_iso;
use backtrail_model::{Event, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

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
    use backtrail_model::time::parse_iso;
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
