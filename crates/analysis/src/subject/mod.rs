//! What the user asks "who" about, and the sessions that answer to it.
//!
//! A subject is typed text (an access key id, an ARN, a principal id or a name) or a
//! GuardDuty finding. [`resolve`] turns it into sessions: one [`MatchedSession`] per
//! (access key, ARN, creationDate), because a temporary key id alone names no session (ASIA
//! ids are recycled), while every key the console minted for one sign-in belongs to one.

#[cfg(test)]
pub(crate) mod testkit;
#[cfg(test)]
mod tests;

use backtrail_model::time::{format_iso, parse_iso};
use backtrail_model::{
    EventLookup, Issuance, Millis, SESSION_LIST_CAP, SessionKey, SessionSummary, Window,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// Two times closer than this are "the same second" (CloudTrail times have second precision,
/// and STS stamps the session's creationDate with the time of the call that issued it).
pub const SAME_TIME_MS: Millis = 2_000;

/// Longest life of temporary credentials (GetFederationToken / GetSessionToken: 36 h); how far
/// before a window an issuing event may lie.
pub const MAX_CREDENTIAL_LIFE_MS: Millis = 36 * 3_600_000;

/// Event names whose issued ARN is a role session (used to find the sessions of a role).
const ROLE_SESSION_ISSUERS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "SwitchRole",
    "RenewRole",
];

/// Prefixes of IAM unique ids (users, roles, groups, policies, ...), as opposed to key ids.
const UNIQUE_ID_PREFIXES: &[&str] = &[
    "AIDA", "AROA", "AGPA", "AIPA", "ANPA", "ANVA", "APKA", "ASCA", "ACCA", "ASIA", "AKIA",
];

/// What the user asks about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Subject {
    /// An access key id (AKIA… long-term, ASIA… temporary).
    AccessKey(String),
    /// An ARN: a session (`assumed-role/…`, `federated-user/…`), a user, root, or a role
    /// (`arn:aws:iam::A:role/R`: every session of that role).
    Arn(String),
    /// A principal id: `AROA…:session`, `AIDA…`, or `account:name` of a federated user.
    PrincipalId(String),
    /// A user or role-session name: matches ARNs ending in `/name`.
    SessionName(String),
}

impl Subject {
    /// Reads what the user typed. The form decides the lookup, so it is recognised by shape:
    /// `arn:` → ARN; AKIA/ASIA + upper-case alphanumerics → key; an IAM unique id (optionally
    /// `:session`) or `123456789012:name` → principal id; anything else → a name.
    pub fn parse(text: &str) -> Subject {
        let t = text.trim();
        if t.starts_with("arn:") {
            Subject::Arn(t.to_string())
        } else if is_access_key(t) {
            Subject::AccessKey(t.to_string())
        } else if is_principal_id(t) {
            Subject::PrincipalId(t.to_string())
        } else {
            Subject::SessionName(t.to_string())
        }
    }

    /// The text of the subject.
    pub fn as_str(&self) -> &str {
        match self {
            Subject::AccessKey(s)
            | Subject::Arn(s)
            | Subject::PrincipalId(s)
            | Subject::SessionName(s) => s,
        }
    }

    /// Stable name of the form (`access_key`, `arn`, `principal_id`, `session_name`).
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::AccessKey(_) => "access_key",
            Subject::Arn(_) => "arn",
            Subject::PrincipalId(_) => "principal_id",
            Subject::SessionName(_) => "session_name",
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn is_upper_alnum(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn is_access_key(t: &str) -> bool {
    (t.starts_with("AKIA") || t.starts_with("ASIA"))
        && (16..=128).contains(&t.len())
        && is_upper_alnum(t)
}

fn is_unique_id(t: &str) -> bool {
    UNIQUE_ID_PREFIXES.iter().any(|p| t.starts_with(p))
        && (16..=128).contains(&t.len())
        && is_upper_alnum(t)
}

fn is_principal_id(t: &str) -> bool {
    match t.split_once(':') {
        Some((head, rest)) => {
            !rest.is_empty()
                && (is_unique_id(head)
                    || (head.len() == 12 && head.bytes().all(|b| b.is_ascii_digit())))
        }
        None => is_unique_id(t) && (t.starts_with("AIDA") || t.starts_with("AROA")),
    }
}

/// The parts of a GuardDuty finding that name a subject, a time and an address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: Option<String>,
    pub finding_type: Option<String>,
    pub account_id: Option<String>,
    pub region: Option<String>,
    /// `resource.accessKeyDetails`.
    pub access_key_id: Option<String>,
    pub principal_id: Option<String>,
    pub user_name: Option<String>,
    pub user_type: Option<String>,
    /// `service.eventFirstSeen` / `service.eventLastSeen`.
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
    /// `service.action.awsApiCallAction.remoteIpDetails.ipAddressV4`.
    pub ip: Option<String>,
}

/// Why a text is not a GuardDuty finding.
#[derive(Debug, thiserror::Error)]
pub enum FindingError {
    /// The text does not parse as JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// JSON, but nothing that looks like a finding.
    #[error(
        "no GuardDuty finding in the text (expected a finding, an EventBridge event or get-findings output)"
    )]
    NotAFinding,
    /// [`Finding::parse`] wants exactly one.
    #[error("{0} findings in the text; pick one")]
    Several(usize),
}

impl Finding {
    /// Every finding in `text`: a finding object, an EventBridge event (`detail`), the
    /// `get-findings` output (`Findings`) or a JSON array of findings.
    pub fn parse_all(text: &str) -> Result<Vec<Finding>, FindingError> {
        let v: serde_json::Value = serde_json::from_str(text)?;
        let items: Vec<&serde_json::Value> = if let Some(d) = v.get("detail") {
            vec![d]
        } else if let Some(a) = v.get("Findings").and_then(|f| f.as_array()) {
            a.iter().collect()
        } else if let Some(a) = v.as_array() {
            a.iter().collect()
        } else {
            vec![&v]
        };
        let out: Vec<Finding> = items.into_iter().filter_map(Finding::from_value).collect();
        if out.is_empty() {
            return Err(FindingError::NotAFinding);
        }
        Ok(out)
    }

    /// The one finding in `text` (see [`Finding::parse_all`] for the accepted shapes).
    pub fn parse(text: &str) -> Result<Finding, FindingError> {
        let mut all = Finding::parse_all(text)?;
        match all.len() {
            1 => Ok(all.remove(0)),
            n => Err(FindingError::Several(n)),
        }
    }

    fn from_value(v: &serde_json::Value) -> Option<Finding> {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(|x| x.as_str())
                .filter(|x| !x.is_empty())
                .map(str::to_string)
        };
        let f = Finding {
            id: s("/id").or_else(|| s("/Id")),
            finding_type: s("/type").or_else(|| s("/Type")),
            account_id: s("/accountId").or_else(|| s("/AccountId")),
            region: s("/region").or_else(|| s("/Region")),
            access_key_id: s("/resource/accessKeyDetails/accessKeyId"),
            principal_id: s("/resource/accessKeyDetails/principalId"),
            user_name: s("/resource/accessKeyDetails/userName"),
            user_type: s("/resource/accessKeyDetails/userType"),
            first_seen: s("/service/eventFirstSeen").and_then(|t| parse_iso(&t)),
            last_seen: s("/service/eventLastSeen").and_then(|t| parse_iso(&t)),
            ip: s("/service/action/awsApiCallAction/remoteIpDetails/ipAddressV4"),
        };
        let named = f.access_key_id.is_some() || f.principal_id.is_some() || f.user_name.is_some();
        (named || f.finding_type.is_some()).then_some(f)
    }

    /// The subject to trace: the access key when given (the most precise), else the
    /// principal id, else the user name.
    pub fn subject(&self) -> Option<Subject> {
        if let Some(k) = &self.access_key_id {
            return Some(Subject::AccessKey(k.clone()));
        }
        if let Some(p) = &self.principal_id {
            return Some(Subject::PrincipalId(p.clone()));
        }
        self.user_name.clone().map(Subject::SessionName)
    }

    /// The activity window GuardDuty reports (first to last seen).
    pub fn window(&self) -> Option<Window> {
        match (self.first_seen, self.last_seen) {
            (Some(a), Some(b)) => Some(Window {
                start: a.min(b),
                end: a.max(b),
            }),
            (Some(t), None) | (None, Some(t)) => Some(Window { start: t, end: t }),
            (None, None) => None,
        }
    }
}

/// One session that answers to the subject: one access key + ARN + creationDate, or, for
/// console and service-minted keys, every key sharing the ARN and creationDate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MatchedSession {
    /// Every key the session signed with; the key that matched the subject first.
    pub access_key_ids: Vec<String>,
    pub arn: Option<String>,
    pub creation_date: Option<Millis>,
    pub identity_type: Option<String>,
    pub principal_id: Option<String>,
    pub account_id: Option<String>,
    pub user_name: Option<String>,
    /// `sessionIssuer.arn` (the role, or the IAM user behind a federated user).
    pub issuer_arn: Option<String>,
    /// First and last call in the data; `None` when the session is known only from the event
    /// that issued it.
    pub first_seen: Option<Millis>,
    pub last_seen: Option<Millis>,
    pub events: u64,
    pub source_ips: Vec<String>,
    /// Some call was marked `sessionCredentialFromConsole`.
    pub from_console: bool,
    /// With an IP hint: whether the session used that address.
    pub used_hint_ip: Option<bool>,
    /// The session rows merged here (for `events_of_sessions`).
    pub rows: Vec<SessionKey>,
    /// Uncertainty met while matching, said out loud.
    pub notes: Vec<String>,
}

impl MatchedSession {
    fn from_rows(rows: &[SessionSummary]) -> MatchedSession {
        let first = &rows[0];
        let mut keys: Vec<String> = Vec::new();
        let mut ips: Vec<String> = Vec::new();
        for r in rows {
            if let Some(k) = &r.access_key_id
                && !keys.contains(k)
            {
                keys.push(k.clone());
            }
            for ip in &r.source_ips {
                if !ips.contains(ip) {
                    ips.push(ip.clone());
                }
            }
        }
        let pick = |f: fn(&SessionSummary) -> Option<String>| rows.iter().find_map(f);
        MatchedSession {
            access_key_ids: keys,
            arn: first.arn.clone(),
            creation_date: first.creation_date,
            identity_type: pick(|r| r.identity_type.clone()),
            principal_id: pick(|r| r.principal_id.clone()),
            account_id: pick(|r| r.account_id.clone()),
            user_name: pick(|r| r.user_name.clone()),
            issuer_arn: pick(|r| r.issuer_arn.clone()),
            first_seen: rows.iter().map(|r| r.first_seen).min(),
            last_seen: rows.iter().map(|r| r.last_seen).max(),
            events: rows.iter().map(|r| r.events).sum(),
            source_ips: ips,
            from_console: rows.iter().any(|r| r.from_console),
            used_hint_ip: None,
            rows: rows.iter().map(SessionSummary::key).collect(),
            notes: Vec::new(),
        }
    }

    /// A session known only from the event that issued it (no call with it is in the data).
    fn from_issuance(iss: &Issuance) -> MatchedSession {
        let console = matches!(
            iss.event_name.as_str(),
            "ConsoleLogin" | "SwitchRole" | "RenewRole" | "GetSigninToken"
        );
        let identity_type = match iss.event_name.as_str() {
            "GetFederationToken" => Some("FederatedUser".to_string()),
            "CreateAccessKey" | "CreateLoginProfile" | "UpdateLoginProfile" => {
                Some("IAMUser".to_string())
            }
            "AssumeRole"
            | "AssumeRoleWithSAML"
            | "AssumeRoleWithWebIdentity"
            | "SwitchRole"
            | "RenewRole" => Some("AssumedRole".to_string()),
            _ => iss.caller_type.clone(),
        };
        let long_term = iss.event_name == "CreateAccessKey";
        MatchedSession {
            access_key_ids: iss.issued_access_key_id.iter().cloned().collect(),
            arn: iss.issued_arn.clone(),
            creation_date: (!long_term).then_some(iss.event_time),
            identity_type,
            principal_id: iss.assumed_role_id.clone(),
            account_id: iss
                .issued_arn
                .as_deref()
                .and_then(arn_account)
                .map(str::to_string)
                .or_else(|| iss.recipient_account_id.clone()),
            from_console: console,
            notes: vec![format!(
                "no call made with this session is in the data; it is known only from {} {} at {}{}",
                iss.event_name,
                iss.event_id,
                format_iso(iss.event_time),
                if long_term {
                    ""
                } else {
                    " (taken as its creationDate)"
                }
            )],
            ..Default::default()
        }
    }

    fn overlaps(&self, w: &Window) -> bool {
        match (self.first_seen, self.last_seen) {
            (Some(a), Some(b)) => a <= w.end && b >= w.start,
            _ => true,
        }
    }
}

/// The account field of an ARN.
pub(crate) fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The resource part of an ARN (`assumed-role/R/s`, `user/u`, `role/path/R`, `root`).
pub(crate) fn arn_resource(arn: &str) -> Option<&str> {
    arn.splitn(6, ':').nth(5)
}

/// Role name and session name of an `assumed-role` ARN.
pub(crate) fn assumed_role_parts(arn: &str) -> Option<(&str, &str)> {
    let rest = arn_resource(arn)?.strip_prefix("assumed-role/")?;
    rest.split_once('/')
}

/// Name of an IAM role ARN (`role/path/Name` → `Name`).
pub(crate) fn role_name(arn: &str) -> Option<&str> {
    arn_resource(arn)?.strip_prefix("role/")?.rsplit('/').next()
}

/// Whether the assumed-role session ARN `session` is a session of IAM role `role`.
pub(crate) fn is_session_of_role(session: &str, role: &str) -> bool {
    match (assumed_role_parts(session), role_name(role)) {
        (Some((r, _)), Some(name)) => r == name && arn_account(session) == arn_account(role),
        _ => false,
    }
}

fn issued_ok(i: &Issuance) -> bool {
    i.error_code.as_deref().is_none_or(str::is_empty) && i.outcome.as_deref() != Some("Failure")
}

/// The sessions answering to `subject` whose activity overlaps `window`.
///
/// Keys map to sessions through `sessions_by_key`, session/user ARNs through
/// `sessions_by_arn`, a role ARN through the issuing events of its sessions, principal ids and
/// names through `sessions_by_principal_or_name`. Rows sharing ARN and creationDate are one
/// session unless each key has an issuing event of its own. Sessions that share one key id
/// (recycled ASIA ids) stay separate; with `ip_hint`, those that used the address come first.
/// When no call answers to the subject, sessions known only from their issuing event are
/// returned.
pub fn resolve<L: EventLookup>(
    lookup: &L,
    subject: &Subject,
    window: Option<Window>,
    ip_hint: Option<&str>,
) -> Result<Vec<MatchedSession>, L::Error> {
    let (mut rows, issued) = match subject {
        Subject::AccessKey(k) => (
            lookup.sessions_by_key(k)?,
            lookup.issuances_by_issued_key(k)?,
        ),
        Subject::Arn(a) if role_name(a).is_some() => sessions_of_role(lookup, a, window)?,
        Subject::Arn(a) => (
            lookup.sessions_by_arn(a)?,
            lookup.issuances_by_issued_arn(a)?,
        ),
        Subject::PrincipalId(p) | Subject::SessionName(p) => {
            (lookup.sessions_by_principal_or_name(p)?, Vec::new())
        }
    };
    rows.sort_by_key(|r| (r.first_seen, r.key()));
    let mut out = Vec::new();
    let mut taken: HashSet<SessionKey> = HashSet::new();
    for row in &rows {
        if taken.contains(&row.key()) {
            continue;
        }
        let (group, note) = same_session_rows(lookup, row)?;
        taken.extend(group.iter().map(SessionSummary::key));
        let mut m = MatchedSession::from_rows(&group);
        m.notes.extend(note);
        if row.access_key_id.is_none() && row.creation_date.is_none() {
            m.notes.push(
                "records logged without access key or creationDate (sign-in events and the like), gathered as one row"
                    .into(),
            );
        }
        if window.is_none_or(|w| m.overlaps(&w)) {
            out.push(m);
        }
    }
    if rows.is_empty() {
        out = issued_only(&issued, subject, window);
    }
    if let Subject::AccessKey(k) = subject {
        let distinct = out.len();
        if distinct > 1 {
            for m in &mut out {
                m.notes.push(format!(
                    "key {k} answers to {distinct} distinct sessions (temporary key ids are recycled): each is traced on its own"
                ));
            }
        }
    }
    if let Some(ip) = ip_hint {
        for m in &mut out {
            let used = m.source_ips.iter().any(|s| s == ip);
            m.used_hint_ip = Some(used);
            if !used && m.source_ips.len() >= SESSION_LIST_CAP {
                m.notes.push(format!(
                    "{ip} is not among the first {} source addresses kept for this session; the session may still have used it",
                    m.source_ips.len()
                ));
            }
        }
        out.sort_by_key(|m| m.used_hint_ip != Some(true));
    }
    Ok(out)
}

/// Like [`resolve`] with the finding's subject, window and IP; sessions whose principal id
/// differs from the finding's come last, with a note (a recycled key id is the usual cause).
pub fn resolve_finding<L: EventLookup>(
    lookup: &L,
    finding: &Finding,
) -> Result<Vec<MatchedSession>, L::Error> {
    let Some(subject) = finding.subject() else {
        return Ok(Vec::new());
    };
    let mut out = resolve(lookup, &subject, finding.window(), finding.ip.as_deref())?;
    if let (Some(want), Subject::AccessKey(_)) = (&finding.principal_id, &subject) {
        for m in &mut out {
            if let Some(p) = &m.principal_id
                && p != want
            {
                m.notes.push(format!(
                    "principal id {p} differs from the finding's {want}: probably another session that got the same key id"
                ));
            }
        }
        out.sort_by_key(|m| {
            (
                m.used_hint_ip == Some(false),
                m.principal_id.as_ref().is_some_and(|p| p != want),
            )
        });
    }
    Ok(out)
}

/// Rows of a role's sessions, found through the events that issued them (the lookup has no
/// "sessions by issuer" question), and those issuances.
fn sessions_of_role<L: EventLookup>(
    lookup: &L,
    role_arn: &str,
    window: Option<Window>,
) -> Result<(Vec<SessionSummary>, Vec<Issuance>), L::Error> {
    let w = window.map_or(Window::ALL, |w| Window {
        start: w.start.saturating_sub(MAX_CREDENTIAL_LIFE_MS),
        end: w.end,
    });
    let mut issued = Vec::new();
    let mut arns = BTreeSet::new();
    for name in ROLE_SESSION_ISSUERS {
        for iss in lookup.issuances_by_name(name, w)? {
            let of_role = iss.role_arn.as_deref() == Some(role_arn)
                || iss
                    .issued_arn
                    .as_deref()
                    .is_some_and(|a| is_session_of_role(a, role_arn));
            if let (true, Some(a)) = (of_role, &iss.issued_arn) {
                arns.insert(a.clone());
                issued.push(iss);
            }
        }
    }
    let mut rows = Vec::new();
    for a in &arns {
        rows.extend(lookup.sessions_by_arn(a)?);
    }
    Ok((rows, issued))
}

/// The rows that form one session with `row`: same ARN and creationDate, and no issuing event
/// of their own (console and service-minted keys). Returns them with a note when merged.
fn same_session_rows<L: EventLookup>(
    lookup: &L,
    row: &SessionSummary,
) -> Result<(Vec<SessionSummary>, Option<String>), L::Error> {
    let mut group = vec![row.clone()];
    let (Some(arn), Some(cd)) = (&row.arn, row.creation_date) else {
        return Ok((group, None));
    };
    let mut kept_apart = Vec::new();
    let mut others = lookup.sessions_by_arn(arn)?;
    others.sort_by_key(SessionSummary::key);
    for other in others {
        if other.creation_date != Some(cd) || other.key() == row.key() {
            continue;
        }
        if has_own_issuance(lookup, &other)? {
            kept_apart.extend(other.access_key_id.clone());
        } else {
            group.push(other);
        }
    }
    let mut notes = Vec::new();
    if group.len() > 1 {
        notes.push(format!(
            "{} keys share this session's ARN and creationDate and have no issuing event of their own (console or service-minted keys): treated as one session",
            group.len()
        ));
    }
    if !kept_apart.is_empty() {
        notes.push(format!(
            "key(s) {} share the ARN and creationDate but were issued by events of their own: separate sessions",
            kept_apart.join(", ")
        ));
    }
    Ok((group, (!notes.is_empty()).then(|| notes.join("; "))))
}

fn has_own_issuance<L: EventLookup>(lookup: &L, row: &SessionSummary) -> Result<bool, L::Error> {
    let (Some(k), Some(cd)) = (&row.access_key_id, row.creation_date) else {
        return Ok(false);
    };
    Ok(lookup.issuances_by_issued_key(k)?.iter().any(|i| {
        issued_ok(i) && i.issued_arn == row.arn && (i.event_time - cd).abs() <= SAME_TIME_MS
    }))
}

/// Sessions known only from successful issuing events whose credentials were valid in the
/// window; copies of one call (cross-account) give one session.
fn issued_only(
    issued: &[Issuance],
    subject: &Subject,
    window: Option<Window>,
) -> Vec<MatchedSession> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut sorted: Vec<&Issuance> = issued.iter().filter(|i| issued_ok(i)).collect();
    sorted.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    for iss in sorted {
        if iss.issued_arn.is_none() && iss.issued_access_key_id.is_none() {
            continue;
        }
        // A key or ARN subject names what was issued; CreateLoginProfile issues no credential
        // that a session would be keyed by.
        if matches!(subject, Subject::AccessKey(_))
            && iss.issued_access_key_id.as_deref() != Some(subject.as_str())
        {
            continue;
        }
        let valid = window.is_none_or(|w| {
            let end = iss
                .expiration
                .unwrap_or(if iss.event_name == "CreateAccessKey" {
                    Millis::MAX
                } else {
                    iss.event_time.saturating_add(MAX_CREDENTIAL_LIFE_MS)
                });
            iss.event_time <= w.end && end >= w.start
        });
        let id = (
            iss.issued_access_key_id.clone(),
            iss.issued_arn.clone(),
            iss.event_time,
        );
        if valid && seen.insert(id) {
            out.push(MatchedSession::from_issuance(iss));
        }
    }
    out
}
