//! One CloudTrail record (JSON object text) to an [`Event`], and back.

use crate::json::{self, Kind, Value};
use crate::scan::{Scan, scan_string};
use backtrail_model::time::{format_iso, parse_iso};
use backtrail_model::{Event, Identity};
use sonic_rs::JsonValueTrait;

/// The most bytes one record may take. Real CloudTrail records are kilobytes; the cap keeps
/// one hostile record from taking the memory of the ingest, and keeps a column of a row group
/// (cut at 48 MiB of strings) far from Arrow's 2 GiB limit of 32-bit offsets.
pub const MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// The most bytes one field of a record (its JSON text, such as `requestParameters`) may take.
pub const MAX_FIELD_BYTES: usize = 8 * 1024 * 1024;

/// The deepest nesting of objects and arrays a record may have, the record itself being
/// level 1. serde_json, which the renderers use, stops at 128 too; every recursive walk of a
/// stored record is bounded by it.
pub const MAX_DEPTH: usize = 128;

/// Why a record was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("not an event: a JSON {0}, not an object")]
    NotAnObject(&'static str),
    #[error("not an event: no eventName, eventSource or eventTime")]
    NotAnEvent,
    #[error("missing eventTime")]
    MissingEventTime,
    #[error("unreadable eventTime {0:?}")]
    BadEventTime(String),
    #[error("missing eventName")]
    MissingEventName,
    #[error("lookup-events row whose CloudTrailEvent is not a JSON string")]
    BadLookupRow,
    #[error("record of {0} bytes is over the cap of {MAX_RECORD_BYTES} bytes")]
    TooLarge(usize),
    #[error("field {field} of {bytes} bytes is over the cap of {MAX_FIELD_BYTES} bytes")]
    FieldTooLarge { field: String, bytes: usize },
    #[error("nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
}

/// Top-level fields that have a column.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Top {
    EventVersion,
    UserIdentity,
    EventTime,
    EventSource,
    EventName,
    AwsRegion,
    SourceIp,
    UserAgent,
    ErrorCode,
    ErrorMessage,
    RequestParameters,
    ResponseElements,
    AdditionalEventData,
    RequestId,
    EventId,
    ReadOnly,
    Resources,
    EventType,
    ManagementEvent,
    RecipientAccountId,
    SharedEventId,
    VpcEndpointId,
    VpcEndpointAccountId,
    ServiceEventDetails,
    EventCategory,
    TlsDetails,
    SessionCredentialFromConsole,
}

/// The top-level fields that have a column, by their CloudTrail name.
const TOP_FIELDS: &[(&str, Top)] = &[
    ("eventVersion", Top::EventVersion),
    ("userIdentity", Top::UserIdentity),
    ("eventTime", Top::EventTime),
    ("eventSource", Top::EventSource),
    ("eventName", Top::EventName),
    ("awsRegion", Top::AwsRegion),
    ("sourceIPAddress", Top::SourceIp),
    ("userAgent", Top::UserAgent),
    ("errorCode", Top::ErrorCode),
    ("errorMessage", Top::ErrorMessage),
    ("requestParameters", Top::RequestParameters),
    ("responseElements", Top::ResponseElements),
    ("additionalEventData", Top::AdditionalEventData),
    ("requestID", Top::RequestId),
    ("eventID", Top::EventId),
    ("readOnly", Top::ReadOnly),
    ("resources", Top::Resources),
    ("eventType", Top::EventType),
    ("managementEvent", Top::ManagementEvent),
    ("recipientAccountId", Top::RecipientAccountId),
    ("sharedEventID", Top::SharedEventId),
    ("vpcEndpointId", Top::VpcEndpointId),
    ("vpcEndpointAccountId", Top::VpcEndpointAccountId),
    ("serviceEventDetails", Top::ServiceEventDetails),
    ("eventCategory", Top::EventCategory),
    ("tlsDetails", Top::TlsDetails),
    (
        "sessionCredentialFromConsole",
        Top::SessionCredentialFromConsole,
    ),
];

/// The column of a top-level key. Exact names first; then any case, because Athena and
/// other SQL exports lower-case every column name (`eventtime`, `useridentity`).
pub(crate) fn top_field(k: &str) -> Option<Top> {
    use Top::*;
    // The exact names as one `match` (compiled to a comparison of lengths, then bytes):
    // every key of every record comes through here.
    let exact = match k {
        "eventVersion" => EventVersion,
        "userIdentity" => UserIdentity,
        "eventTime" => EventTime,
        "eventSource" => EventSource,
        "eventName" => EventName,
        "awsRegion" => AwsRegion,
        "sourceIPAddress" => SourceIp,
        "userAgent" => UserAgent,
        "errorCode" => ErrorCode,
        "errorMessage" => ErrorMessage,
        "requestParameters" => RequestParameters,
        "responseElements" => ResponseElements,
        "additionalEventData" => AdditionalEventData,
        "requestID" => RequestId,
        "eventID" => EventId,
        "readOnly" => ReadOnly,
        "resources" => Resources,
        "eventType" => EventType,
        "managementEvent" => ManagementEvent,
        "recipientAccountId" => RecipientAccountId,
        "sharedEventID" => SharedEventId,
        "vpcEndpointId" => VpcEndpointId,
        "vpcEndpointAccountId" => VpcEndpointAccountId,
        "serviceEventDetails" => ServiceEventDetails,
        "eventCategory" => EventCategory,
        "tlsDetails" => TlsDetails,
        "sessionCredentialFromConsole" => SessionCredentialFromConsole,
        _ => {
            return TOP_FIELDS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, t)| *t);
        }
    };
    Some(exact)
}

#[cfg(test)]
fn top_field_by_table(k: &str) -> Option<Top> {
    TOP_FIELDS
        .iter()
        .find(|(name, _)| *name == k)
        .or_else(|| {
            TOP_FIELDS
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
        })
        .map(|(_, t)| *t)
}

/// Collects fields kept verbatim (`extra`) as a JSON object text.
#[derive(Default)]
struct Extra {
    text: String,
    keys: Vec<String>,
}

impl Extra {
    fn push(&mut self, key: &str, raw: &str) {
        self.text.push(if self.text.is_empty() { '{' } else { ',' });
        push_json_string(&mut self.text, key);
        self.text.push(':');
        self.text.push_str(raw);
        self.keys.push(key.to_string());
    }
    fn finish(self) -> Option<String> {
        if self.text.is_empty() {
            None
        } else {
            let mut t = self.text;
            t.push('}');
            Some(t)
        }
    }
}

/// Appends `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The string `v` holds, owned for the `Event`; `None` for any other type.
fn owned_str(v: &Value<'_>) -> Option<String> {
    v.as_str().map(|s| s.into_owned())
}

/// A JSON boolean, or a string spelling one (exports write `"true"`).
fn bool_of(v: &Value<'_>) -> Option<bool> {
    if let Some(b) = v.as_bool() {
        return Some(b);
    }
    match &*v.as_str()? {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Parses one record. `text` must be one JSON value; a lookup-events row (with a
/// `CloudTrailEvent` string) is unwrapped to the event it carries.
pub fn parse_record(text: &[u8]) -> Result<Event, RecordError> {
    parse_record_of_depth(text, None)
}

/// [`parse_record`] of a record whose nesting depth the scan that found it measured
/// (`Some`); `None` counts it here.
pub(crate) fn parse_record_of_depth(
    text: &[u8],
    depth: Option<usize>,
) -> Result<Event, RecordError> {
    check_size_and_depth(text, depth)?;
    let text = std::str::from_utf8(text).map_err(|_| RecordError::InvalidUtf8)?;
    let trimmed = text.trim_matches(|c: char| c.is_ascii_whitespace());
    match trimmed.as_bytes().first() {
        Some(b'{') => {}
        Some(b'[') => return Err(RecordError::NotAnObject("array")),
        Some(b'"') => return Err(RecordError::NotAnObject("string")),
        Some(b'n') => return Err(RecordError::NotAnObject("null")),
        Some(b't' | b'f') => return Err(RecordError::NotAnObject("boolean")),
        Some(b'-' | b'0'..=b'9') => return Err(RecordError::NotAnObject("number")),
        _ => return Err(RecordError::InvalidJson("empty or not JSON".into())),
    }
    parse_object(trimmed, 0)
}

/// The caps on one record, checked before any parser (which may recurse) sees it; `depth`
/// is its nesting as the scan that found it measured it, or `None` to count it here.
fn check_size_and_depth(text: &[u8], depth: Option<usize>) -> Result<(), RecordError> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(RecordError::TooLarge(text.len()));
    }
    if depth.map_or_else(|| too_deep(text), |d| d > MAX_DEPTH) {
        return Err(RecordError::TooDeep);
    }
    Ok(())
}

/// Whether `text` nests arrays and objects more than [`MAX_DEPTH`] levels deep (brackets
/// inside strings do not count). Iterative, so any depth is safe to look at.
pub fn too_deep(text: &[u8]) -> bool {
    deeper_than(text, MAX_DEPTH)
}

/// Whether `text` nests arrays and objects more than `limit` levels deep.
fn deeper_than(text: &[u8], limit: usize) -> bool {
    // Fewer brackets than the limit cannot nest deeper than it: most records stop here.
    if memchr::memchr2_iter(b'{', b'[', text).nth(limit).is_none() {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => match scan_string(text, i) {
                Scan::Complete(e) => {
                    i = e;
                    continue;
                }
                // An unterminated string: the parser rejects the record for it.
                _ => return false,
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

fn parse_object(text: &str, depth: u8) -> Result<Event, RecordError> {
    let mut ev = Event::default();
    let mut extra = Extra::default();
    let mut order = String::new();
    let mut time_seen = false;
    let mut event_id_seen = false;
    let mut lookup_inner: Option<String> = None;
    // EventBridge delivers CloudTrail events as `{"detail-type": ..., "detail": EVENT}`.
    let mut eventbridge_detail: Option<String> = None;
    let mut event_source: Option<String> = None;
    let mut event_name: Option<String> = None;
    for item in json::members(text) {
        let (key, val) = item.map_err(|e| RecordError::InvalidJson(e.to_string()))?;
        let key: &str = &key;
        if !order.is_empty() {
            order.push(',');
        }
        order.push_str(key);
        let raw = val.raw();
        if raw.len() > MAX_FIELD_BYTES {
            return Err(RecordError::FieldTooLarge {
                field: truncate(key, 60),
                bytes: raw.len(),
            });
        }
        let Some(field) = top_field(key) else {
            if key == "CloudTrailEvent" {
                lookup_inner = Some(owned_str(&val).ok_or(RecordError::BadLookupRow)?);
            }
            if key == "detail" && val.kind() == Kind::Object {
                eventbridge_detail = Some(raw.to_string());
            }
            extra.push(key, raw);
            continue;
        };
        let is_str = val.kind() == Kind::String;
        let is_obj_or_null = matches!(val.kind(), Kind::Object | Kind::Null);
        // Columns only take values of the documented type; anything else stays verbatim in
        // `extra` (the column may still carry a usable reading of it).
        let mut keep_verbatim = false;
        macro_rules! string_col {
            ($slot:expr) => {{
                if is_str {
                    $slot = owned_str(&val);
                } else {
                    keep_verbatim = true;
                }
            }};
        }
        use Top::*;
        match field {
            EventVersion => string_col!(ev.event_version),
            EventSource => string_col!(event_source),
            EventName => string_col!(event_name),
            AwsRegion => string_col!(ev.aws_region),
            SourceIp => string_col!(ev.source_ip),
            UserAgent => string_col!(ev.user_agent),
            ErrorCode => string_col!(ev.error_code),
            ErrorMessage => string_col!(ev.error_message),
            RequestId => string_col!(ev.request_id),
            EventType => string_col!(ev.event_type),
            RecipientAccountId => string_col!(ev.recipient_account_id),
            SharedEventId => string_col!(ev.shared_event_id),
            VpcEndpointId => string_col!(ev.vpc_endpoint_id),
            VpcEndpointAccountId => string_col!(ev.vpc_endpoint_account_id),
            EventCategory => string_col!(ev.event_category),
            EventId => {
                if is_str {
                    ev.event_id = owned_str(&val).unwrap_or_default();
                    event_id_seen = true;
                } else {
                    keep_verbatim = true;
                }
            }
            EventTime => {
                if is_str {
                    let s = val.as_str().unwrap_or_default();
                    time_seen = true;
                    match parse_iso(&s) {
                        Some(t) => {
                            ev.event_time = t;
                            keep_verbatim = !is_formatted_as_iso(&s, t);
                        }
                        None => return Err(RecordError::BadEventTime(truncate(&s, 60))),
                    }
                } else {
                    keep_verbatim = true;
                }
            }
            ReadOnly | ManagementEvent => {
                let b = bool_of(&val);
                match field {
                    ReadOnly => ev.read_only = b,
                    _ => ev.management_event = b,
                }
                keep_verbatim = val.kind() != Kind::Bool;
            }
            SessionCredentialFromConsole => {
                ev.session_credential_from_console = bool_of(&val);
                keep_verbatim = !(is_str && matches!(val.raw(), "\"true\"" | "\"false\""));
            }
            UserIdentity => {
                if val.kind() == Kind::Object {
                    ev.identity = parse_identity(&val)?;
                }
                if is_obj_or_null {
                    ev.user_identity = Some(raw.to_string());
                } else {
                    keep_verbatim = true;
                }
            }
            RequestParameters => ev.request_parameters = Some(raw.to_string()),
            ResponseElements => ev.response_elements = Some(raw.to_string()),
            AdditionalEventData => ev.additional_event_data = Some(raw.to_string()),
            Resources => ev.resources = Some(raw.to_string()),
            ServiceEventDetails => ev.service_event_details = Some(raw.to_string()),
            TlsDetails => {
                if val.kind() == Kind::Object {
                    for item in val.members() {
                        let Ok((k, v)) = item else { break };
                        match &*k {
                            "tlsVersion" => ev.tls_version = owned_str(&v),
                            "cipherSuite" => ev.tls_cipher_suite = owned_str(&v),
                            "clientProvidedHostHeader" => ev.tls_client_host_header = owned_str(&v),
                            _ => {}
                        }
                    }
                }
                ev.tls_details = Some(raw.to_string());
            }
        }
        if keep_verbatim {
            extra.push(key, raw);
        }
    }
    if let Some(inner) = lookup_inner {
        // `aws cloudtrail lookup-events` output: the event as AWS wrote it is the string.
        if depth > 0 {
            return Err(RecordError::BadLookupRow);
        }
        let inner_trim = inner.trim();
        if !inner_trim.starts_with('{') {
            return Err(RecordError::BadLookupRow);
        }
        check_size_and_depth(inner_trim.as_bytes(), None)?;
        return parse_object(inner_trim, depth + 1);
    }
    if let Some(detail) = eventbridge_detail
        && !time_seen
        && event_name.is_none()
        && depth == 0
    {
        return parse_object(&detail, depth + 1);
    }
    ev.event_source = event_source.unwrap_or_default();
    ev.event_name = event_name.unwrap_or_default();
    let extra_keys = std::mem::take(&mut extra.keys);
    let extra_text = extra.finish();
    if !time_seen {
        // Shippers rename eventTime; the record keeps its own field, the column its reading.
        match extra_text
            .as_deref()
            .and_then(|x| shipper_time(x, &extra_keys))
        {
            Some(t) => ev.event_time = t,
            None => {
                if ev.event_name.is_empty() && ev.event_source.is_empty() {
                    return Err(RecordError::NotAnEvent);
                }
                return Err(RecordError::MissingEventTime);
            }
        }
    }
    if ev.event_name.is_empty() {
        if ev.event_source.is_empty() {
            return Err(RecordError::NotAnEvent);
        }
        return Err(RecordError::MissingEventName);
    }
    if let Some(x) = extra_text.as_deref() {
        if ev.source_ip.is_none() {
            ev.source_ip = pointer_str(x, &["network", "client", "ip"]);
        }
        if ev.user_agent.is_none() {
            ev.user_agent = pointer_str(x, &["http", "useragent"]);
        }
    }
    if !event_id_seen {
        // A stable id from the content, so that re-ingesting the record is still a duplicate.
        let h = xxhash_rust::xxh3::xxh3_128(text.as_bytes());
        ev.event_id = format!("bt-{h:032x}");
    }
    ev.extra = extra_text;
    ev.key_order = order;
    Ok(ev)
}

/// Whether `s` (read as `t`) is written as [`format_iso`] writes `t`. The usual form,
/// `2023-07-10T11:42:00Z` with a valid date and time, is recognised without formatting
/// (formatting took a string allocation and a chrono call per record); anything else is
/// compared with `format_iso(t)` itself.
fn is_formatted_as_iso(s: &str, t: i64) -> bool {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        b[from..to].iter().try_fold(0u32, |v, c| {
            c.is_ascii_digit().then(|| v * 10 + u32::from(c - b'0'))
        })
    };
    if b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
            num(0, 4),
            num(5, 7),
            num(8, 10),
            num(11, 13),
            num(14, 16),
            num(17, 19),
        )
    {
        let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let days = match mo {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => 0,
        };
        if (1..=days).contains(&d) && h < 24 && mi < 60 && se < 60 {
            return true;
        }
    }
    format_iso(t) == s
}

fn shipper_time(extra: &str, keys: &[String]) -> Option<i64> {
    for k in [
        "@timestamp",
        "p_event_time",
        "timestamp",
        "EventTime",
        "event_time",
        "eventtime",
    ] {
        if keys.iter().any(|x| x == k)
            && let Some(s) = pointer_str(extra, &[k])
            && let Some(t) = parse_iso(&s)
        {
            return Some(t);
        }
    }
    None
}

fn pointer_str(json: &str, path: &[&str]) -> Option<String> {
    let v = sonic_rs::get(json, path).ok()?;
    v.as_str().map(str::to_string)
}

fn parse_identity(v: &Value<'_>) -> Result<Identity, RecordError> {
    let mut id = Identity::default();
    for item in v.members() {
        let (k, v) = item.map_err(|e| RecordError::InvalidJson(e.to_string()))?;
        match canon(&k, IDENTITY_KEYS) {
            "type" => id.kind = owned_str(&v),
            "principalId" => id.principal_id = owned_str(&v),
            "arn" => id.arn = owned_str(&v),
            "accountId" => id.account_id = owned_str(&v),
            "accessKeyId" => id.access_key_id = owned_str(&v).filter(|s| !s.is_empty()),
            "userName" => id.user_name = owned_str(&v),
            "invokedBy" => id.invoked_by = owned_str(&v),
            "identityProvider" => id.identity_provider = owned_str(&v),
            "credentialId" => id.credential_id = owned_str(&v),
            "onBehalfOf" => {
                [id.on_behalf_of_user_id, id.on_behalf_of_identity_store_arn] =
                    get_strs(&v, ["userId", "identityStoreArn"]);
            }
            "inScopeOf" => {
                [
                    id.in_scope_of_issuer_type,
                    id.in_scope_of_credentials_issued_to,
                ] = get_strs(&v, ["issuerType", "credentialsIssuedTo"]);
            }
            "sessionContext" if v.kind() == Kind::Object => {
                for item in v.members() {
                    let Ok((k2, v2)) = item else { break };
                    match canon(&k2, CONTEXT_KEYS) {
                        "sessionIssuer" => {
                            [
                                id.issuer_type,
                                id.issuer_principal_id,
                                id.issuer_arn,
                                id.issuer_account_id,
                                id.issuer_user_name,
                            ] = get_strs(
                                &v2,
                                ["type", "principalId", "arn", "accountId", "userName"],
                            );
                        }
                        "attributes" => {
                            id.session_creation_date =
                                get_str(&v2, "creationDate").and_then(|s| parse_iso(&s));
                            id.mfa_authenticated =
                                get(&v2, "mfaAuthenticated").and_then(|b| bool_of(&b));
                        }
                        "sourceIdentity" => id.source_identity = owned_str(&v2),
                        "ec2RoleDelivery" => id.ec2_role_delivery = owned_str(&v2),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(id)
}

/// [`get_str`] of several keys, in one walk of the object: for each key its first exact
/// match, else its first match in any case.
fn get_strs<const N: usize>(v: &Value<'_>, keys: [&str; N]) -> [Option<String>; N] {
    let mut exact: [Option<Option<String>>; N] = std::array::from_fn(|_| None);
    let mut any_case: [Option<Option<String>>; N] = std::array::from_fn(|_| None);
    for (k, x) in v.members().map_while(Result::ok) {
        for (j, key) in keys.iter().enumerate() {
            if exact[j].is_none() && &*k == *key {
                exact[j] = Some(owned_str(&x));
            } else if any_case[j].is_none() && k.eq_ignore_ascii_case(key) {
                any_case[j] = Some(owned_str(&x));
            }
        }
    }
    std::array::from_fn(|j| match exact[j].take() {
        Some(found) => found,
        None => any_case[j].take().flatten(),
    })
}

/// `key` of the object `v`, in any case (exports lower-case nested names too).
fn get_str(v: &Value<'_>, key: &str) -> Option<String> {
    get(v, key).and_then(|x| owned_str(&x))
}

/// The value of `key` in the object `v`: its first exact match, else its first match in
/// any case.
fn get<'a>(v: &Value<'a>, key: &str) -> Option<Value<'a>> {
    let mut any_case = None;
    for (k, x) in v.members().map_while(Result::ok) {
        if k == key {
            return Some(x);
        }
        if any_case.is_none() && k.eq_ignore_ascii_case(key) {
            any_case = Some(x);
        }
    }
    any_case
}

const IDENTITY_KEYS: &[&str] = &[
    "type",
    "principalId",
    "arn",
    "accountId",
    "accessKeyId",
    "userName",
    "invokedBy",
    "identityProvider",
    "credentialId",
    "onBehalfOf",
    "inScopeOf",
    "sessionContext",
];

const CONTEXT_KEYS: &[&str] = &[
    "sessionIssuer",
    "attributes",
    "sourceIdentity",
    "ec2RoleDelivery",
];

/// The CloudTrail spelling of `k` among `names`, matched in any case; `k` itself if none.
fn canon<'a>(k: &'a str, names: &'a [&'a str]) -> &'a str {
    if names.contains(&k) {
        return k;
    }
    names
        .iter()
        .find(|n| n.eq_ignore_ascii_case(k))
        .copied()
        .unwrap_or(k)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_keys_in_one_walk_are_found_as_one_at_a_time() {
        let texts = [
            r#"{"type":"Role","Arn":"a1","arn":"a2","ARN":"a3","userName":5,"accountId":"1"}"#,
            r#"{"TYPE":"x","type":null,"principalid":"p","principalId":"q"}"#,
            r#"{"Type":"x","TYPE":"y"}"#,
            r#""not an object""#,
            r#"[1,2]"#,
        ];
        let keys = ["type", "principalId", "arn", "accountId", "userName"];
        for t in texts {
            let wrapped = format!("{{\"v\":{t}}}");
            let v = json::members(&wrapped).next().unwrap().unwrap().1;
            let one_by_one: Vec<Option<String>> = keys.iter().map(|k| get_str(&v, k)).collect();
            assert_eq!(get_strs(&v, keys).to_vec(), one_by_one, "{t}");
        }
    }

    #[test]
    fn the_key_match_finds_what_the_table_finds() {
        for (name, _) in TOP_FIELDS {
            for k in [
                name.to_string(),
                name.to_lowercase(),
                name.to_uppercase(),
                format!("{name}x"),
                name[1..].to_string(),
            ] {
                assert_eq!(top_field(&k), top_field_by_table(&k), "{k}");
            }
        }
        assert_eq!(top_field("CloudTrailEvent"), None);
    }

    #[test]
    fn the_time_form_is_recognised_as_format_iso_would_write_it() {
        for s in [
            "2023-07-10T11:42:00Z",
            "2024-02-29T23:59:59Z",
            "2023-02-29T00:00:00Z",
            "2023-02-30T00:00:00Z",
            "2023-04-31T00:00:00Z",
            "2023-13-01T00:00:00Z",
            "2023-07-10T24:00:00Z",
            "2023-07-10T11:60:00Z",
            "2023-07-10T11:42:60Z",
            "2000-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2023-07-10T11:42:00.000Z",
            "2023-07-10T11:42:00.250Z",
            "2023-07-10 11:42:00Z",
            " 2023-07-10T11:42:00Z",
            "2023-07-10T11:42:00+00:00",
            "2023-07-10T11:42:00",
        ] {
            if let Some(t) = parse_iso(s) {
                assert_eq!(is_formatted_as_iso(s, t), format_iso(t) == s, "{s}");
            }
        }
    }
}
