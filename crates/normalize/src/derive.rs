//! The derived rows built at ingest: credential issuances and per-session aggregates.

use backtrail_model::json::json_text;
use backtrail_model::time::{parse_expiration, parse_iso};
use backtrail_model::{Event, Issuance, SessionSummary};
use sonic_rs::{JsonValueTrait, LazyValue};
use std::collections::HashMap;

/// Event names that create credentials or start a session.
pub const ISSUING_EVENTS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetSessionToken",
    "GetFederationToken",
    "GetRoleCredentials",
    "ConsoleLogin",
    "SwitchRole",
    "RenewRole",
    "GetSigninToken",
    "CreateAccessKey",
    "CreateLoginProfile",
    "UpdateLoginProfile",
    "AssumeRoot",
];

fn get_path(json: &Option<String>, path: &[&str]) -> Option<String> {
    let text = json_text(json.as_deref()?)?;
    let v = sonic_rs::get(text.as_ref(), path).ok()?;
    lazy_scalar(&v)
}

fn lazy_scalar(v: &LazyValue<'_>) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    match v.get_type() {
        sonic_rs::JsonType::Number | sonic_rs::JsonType::Boolean => {
            Some(v.as_raw_str().to_string())
        }
        _ => None,
    }
}

/// `arn:aws:iam::123:role/path/Name` + session → `arn:aws:sts::123:assumed-role/Name/session`.
pub fn assumed_role_arn(role_arn: &str, session: &str) -> Option<String> {
    let mut parts = role_arn.splitn(6, ':');
    let (_, partition, _, _, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    Some(format!(
        "arn:{partition}:sts::{account}:assumed-role/{name}/{session}"
    ))
}

/// The issuance this event records, if it is one.
pub fn issuance_of(ev: &Event) -> Option<Issuance> {
    if !ISSUING_EVENTS.contains(&ev.event_name.as_str()) {
        return None;
    }
    let id = &ev.identity;
    let mut iss = Issuance {
        event_time: ev.event_time,
        event_id: ev.event_id.clone(),
        event_name: ev.event_name.clone(),
        event_source: ev.event_source.clone(),
        recipient_account_id: ev.recipient_account_id.clone(),
        aws_region: ev.aws_region.clone(),
        error_code: ev.error_code.clone(),
        source_ip: ev.source_ip.clone(),
        user_agent: ev.user_agent.clone(),
        shared_event_id: ev.shared_event_id.clone(),
        request_id: ev.request_id.clone(),
        caller_type: id.kind.clone(),
        caller_arn: id.arn.clone(),
        caller_principal_id: id.principal_id.clone(),
        caller_account_id: id.account_id.clone(),
        caller_access_key_id: id.access_key_id.clone(),
        caller_user_name: id.user_name.clone(),
        caller_invoked_by: id.invoked_by.clone(),
        caller_session_creation_date: id.session_creation_date,
        ..Default::default()
    };
    let req = &ev.request_parameters;
    let resp = &ev.response_elements;
    let add = &ev.additional_event_data;
    match ev.event_name.as_str() {
        "AssumeRole"
        | "AssumeRoleWithSAML"
        | "AssumeRoleWithWebIdentity"
        | "GetSessionToken"
        | "GetFederationToken"
        | "AssumeRoot" => {
            iss.issued_access_key_id = get_path(resp, &["credentials", "accessKeyId"]);
            iss.expiration =
                get_path(resp, &["credentials", "expiration"]).and_then(|s| parse_expiration(&s));
            iss.role_arn = get_path(req, &["roleArn"]);
            iss.role_session_name = get_path(req, &["roleSessionName"]);
            iss.source_identity =
                get_path(req, &["sourceIdentity"]).or_else(|| get_path(resp, &["sourceIdentity"]));
            match ev.event_name.as_str() {
                "GetFederationToken" => {
                    iss.issued_arn = get_path(resp, &["federatedUser", "arn"]);
                    iss.assumed_role_id = get_path(resp, &["federatedUser", "federatedUserId"]);
                    iss.role_session_name = get_path(req, &["name"]);
                }
                "GetSessionToken" => {
                    // The session acts as the calling user.
                    iss.issued_arn = id.arn.clone();
                }
                _ => {
                    iss.issued_arn = get_path(resp, &["assumedRoleUser", "arn"]);
                    iss.assumed_role_id = get_path(resp, &["assumedRoleUser", "assumedRoleId"]);
                }
            }
            if iss.issued_arn.is_none()
                && let (Some(r), Some(s)) = (&iss.role_arn, &iss.role_session_name)
            {
                // Instance-profile and Lambda credentials: no assumedRoleUser in the response.
                iss.issued_arn = assumed_role_arn(r, s);
            }
            if ev.event_name == "AssumeRoleWithSAML" {
                iss.provider =
                    get_path(resp, &["issuer"]).or_else(|| get_path(req, &["principalArn"]));
                iss.subject = get_path(resp, &["subject"]);
                iss.role_session_name = iss
                    .role_session_name
                    .clone()
                    .or_else(|| session_name_of(iss.issued_arn.as_deref()));
            }
            if ev.event_name == "AssumeRoleWithWebIdentity" {
                iss.provider =
                    get_path(resp, &["provider"]).or_else(|| id.identity_provider.clone());
                iss.subject = get_path(resp, &["subjectFromWebIdentityToken"])
                    .or_else(|| id.user_name.clone());
            }
        }
        "GetRoleCredentials" => {
            // Identity Center redacts the credentials; the role and account are in the request.
            iss.role_session_name = id.user_name.clone();
            iss.subject = id
                .user_name
                .clone()
                .or_else(|| id.on_behalf_of_user_id.clone());
            iss.role_arn = match (get_path(req, &["accountId"]), get_path(req, &["roleName"])) {
                (Some(a), Some(r)) => Some(format!("arn:aws:iam::{a}:role/{r}")),
                _ => None,
            };
        }
        "ConsoleLogin" | "GetSigninToken" | "RenewRole" => {
            iss.issued_arn = id.arn.clone();
            iss.outcome = get_path(resp, &[ev.event_name.as_str()]);
            iss.mfa_used = get_path(add, &["MFAUsed"]).map(|s| s == "Yes" || s == "true");
        }
        "SwitchRole" => {
            iss.issued_arn = id.arn.clone();
            iss.outcome = get_path(resp, &["SwitchRole"]);
            iss.switch_from = get_path(add, &["SwitchFrom"]);
        }
        "CreateAccessKey" => {
            iss.issued_access_key_id = get_path(resp, &["accessKey", "accessKeyId"]);
            iss.target_user_name =
                get_path(resp, &["accessKey", "userName"]).or_else(|| get_path(req, &["userName"]));
            iss.issued_arn = user_arn(ev, iss.target_user_name.as_deref());
        }
        "CreateLoginProfile" | "UpdateLoginProfile" => {
            iss.target_user_name = get_path(req, &["userName"])
                .or_else(|| get_path(resp, &["loginProfile", "userName"]));
            iss.issued_arn = user_arn(ev, iss.target_user_name.as_deref());
        }
        _ => {}
    }
    Some(iss)
}

fn session_name_of(arn: Option<&str>) -> Option<String> {
    arn?.rsplit('/').next().map(str::to_string)
}

/// ARN of the IAM user `name` in the event's account, or the caller when no name is given
/// (IAM acts on the calling user then).
fn user_arn(ev: &Event, name: Option<&str>) -> Option<String> {
    match name {
        None if ev.identity.kind.as_deref() == Some("IAMUser") => ev.identity.arn.clone(),
        None => None,
        Some(n) => {
            let account = ev
                .recipient_account_id
                .as_deref()
                .or(ev.identity.account_id.as_deref())?;
            Some(format!("arn:aws:iam::{account}:user/{n}"))
        }
    }
}

/// Bound on the distinct values a session row keeps per list; the events keep them all.
pub const SESSION_LIST_CAP: usize = 64;

/// Builds session rows from events, one per (access key, ARN, creation date).
///
/// Rows are found by a 128-bit hash of the key so that counting an event allocates
/// nothing (the ingest writer calls this for every event).
#[derive(Debug, Default)]
pub struct SessionAggregator {
    map: HashMap<u128, SessionSummary>,
}

fn key_hash(key: Option<&str>, arn: Option<&str>, creation: Option<i64>) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [key, arn] {
        match part {
            Some(s) => {
                h.update(&[1]);
                h.update(s.as_bytes());
                h.update(&[0]);
            }
            None => h.update(&[2]),
        }
    }
    match creation {
        Some(c) => h.update(&c.to_le_bytes()),
        None => h.update(&[3]),
    }
    h.digest128()
}

/// Keeps the smallest `SESSION_LIST_CAP` distinct values: unlike the first ones seen, they
/// do not depend on the order events arrive in, so a store ingested in any order (or on a
/// cluster) lists the same values.
fn push_capped(list: &mut Vec<String>, v: &Option<String>) {
    let Some(v) = v else { return };
    if list.iter().any(|x| x == v) {
        return;
    }
    if list.len() < SESSION_LIST_CAP {
        list.push(v.clone());
    } else if let Some(max) = list.iter_mut().max()
        && *v < *max
    {
        *max = v.clone();
    }
}

/// A session's identity fields as one event (or one partial row) shows them. The row keeps
/// those of its earliest event (ties: the smallest values), so it does not depend on the
/// order events and segments arrive in, even when a session's events disagree.
#[derive(PartialEq, PartialOrd)]
struct Who<'a> {
    first_seen: i64,
    identity_type: Option<&'a String>,
    principal_id: Option<&'a String>,
    account_id: Option<&'a String>,
    user_name: Option<&'a String>,
    issuer_arn: Option<&'a String>,
}

impl Who<'_> {
    fn apply_if_earlier(&self, s: &mut SessionSummary) {
        let current = Who {
            first_seen: s.first_seen,
            identity_type: s.identity_type.as_ref(),
            principal_id: s.principal_id.as_ref(),
            account_id: s.account_id.as_ref(),
            user_name: s.user_name.as_ref(),
            issuer_arn: s.issuer_arn.as_ref(),
        };
        if *self < current {
            s.first_seen = self.first_seen;
            s.identity_type = self.identity_type.cloned();
            s.principal_id = self.principal_id.cloned();
            s.account_id = self.account_id.cloned();
            s.user_name = self.user_name.cloned();
            s.issuer_arn = self.issuer_arn.cloned();
        }
    }
}

impl SessionAggregator {
    /// Counts one event.
    pub fn add(&mut self, ev: &Event) {
        let id = &ev.identity;
        let key = id.access_key_id.as_deref().filter(|k| !k.is_empty());
        let arn = id.arn.as_deref();
        if key.is_none() && arn.is_none() {
            return;
        }
        let h = key_hash(key, arn, id.session_creation_date);
        let s = self.map.entry(h).or_insert_with(|| SessionSummary {
            access_key_id: key.map(str::to_string),
            arn: id.arn.clone(),
            creation_date: id.session_creation_date,
            identity_type: id.kind.clone(),
            principal_id: id.principal_id.clone(),
            account_id: id.account_id.clone(),
            user_name: id.user_name.clone(),
            issuer_arn: id.issuer_arn.clone(),
            first_seen: ev.event_time,
            last_seen: ev.event_time,
            ..Default::default()
        });
        let seen = Who {
            first_seen: ev.event_time,
            identity_type: id.kind.as_ref(),
            principal_id: id.principal_id.as_ref(),
            account_id: id.account_id.as_ref(),
            user_name: id.user_name.as_ref(),
            issuer_arn: id.issuer_arn.as_ref(),
        };
        seen.apply_if_earlier(s);
        s.last_seen = s.last_seen.max(ev.event_time);
        s.events += 1;
        if ev.failed() {
            s.errors += 1;
        }
        push_capped(&mut s.source_ips, &ev.source_ip);
        push_capped(&mut s.user_agents, &ev.user_agent);
        push_capped(&mut s.regions, &ev.aws_region);
        if ev.session_credential_from_console == Some(true) {
            s.from_console = true;
        }
    }

    /// Folds in a row built elsewhere (another segment of the store).
    pub fn merge(&mut self, row: SessionSummary) {
        let h = key_hash(
            row.access_key_id.as_deref(),
            row.arn.as_deref(),
            row.creation_date,
        );
        match self.map.get_mut(&h) {
            None => {
                self.map.insert(h, row);
            }
            Some(s) => {
                Who {
                    first_seen: row.first_seen,
                    identity_type: row.identity_type.as_ref(),
                    principal_id: row.principal_id.as_ref(),
                    account_id: row.account_id.as_ref(),
                    user_name: row.user_name.as_ref(),
                    issuer_arn: row.issuer_arn.as_ref(),
                }
                .apply_if_earlier(s);
                s.last_seen = s.last_seen.max(row.last_seen);
                s.events += row.events;
                s.errors += row.errors;
                for v in row.source_ips {
                    push_capped(&mut s.source_ips, &Some(v));
                }
                for v in row.user_agents {
                    push_capped(&mut s.user_agents, &Some(v));
                }
                for v in row.regions {
                    push_capped(&mut s.regions, &Some(v));
                }
                s.from_console |= row.from_console;
            }
        }
    }

    /// The rows, in a stable order, their lists sorted: the same whatever order the
    /// events and segments came in.
    pub fn finish(self) -> Vec<SessionSummary> {
        let mut v: Vec<SessionSummary> = self.map.into_values().collect();
        v.sort_by_key(SessionSummary::key);
        for s in &mut v {
            s.regions.sort_unstable();
            s.source_ips.sort_unstable();
            s.user_agents.sort_unstable();
        }
        v
    }

    /// Number of sessions so far.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no session was seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Parses a creation date or event time string (re-exported for the store's readers).
pub fn parse_time(s: &str) -> Option<i64> {
    parse_iso(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> Event {
        let mut ev = Event {
            event_id: format!("e{i}"),
            event_time: 1_700_000_000_000 + i as i64,
            source_ip: Some(format!("198.51.100.{}", i % 100)),
            user_agent: Some(format!("agent-{}", i % 7)),
            aws_region: Some(["us-east-1", "eu-west-1"][i % 2].to_string()),
            ..Event::default()
        };
        ev.identity.access_key_id = Some("ASIAEXAMPLE".into());
        ev.identity.arn = Some("arn:aws:sts::1:assumed-role/r/s".into());
        // Events of one session that disagree (anonymised samples do).
        ev.identity.issuer_arn = Some(format!("arn:aws:iam::1:role/r{}", i % 3));
        ev
    }

    #[test]
    fn session_rows_do_not_depend_on_event_or_segment_order() {
        let events: Vec<Event> = (0..300).map(event).collect();
        let mut forward = SessionAggregator::default();
        events.iter().for_each(|e| forward.add(e));
        // Backwards, in two parts merged the way segments are.
        let (mut a, mut b) = (SessionAggregator::default(), SessionAggregator::default());
        events.iter().rev().take(120).for_each(|e| a.add(e));
        events.iter().rev().skip(120).for_each(|e| b.add(e));
        let mut merged = SessionAggregator::default();
        for row in b.finish().into_iter().chain(a.finish()) {
            merged.merge(row);
        }
        let (x, y) = (forward.finish(), merged.finish());
        assert_eq!(x, y);
        assert_eq!(x[0].source_ips.len(), SESSION_LIST_CAP);
        assert_eq!(x[0].source_ips[0], "198.51.100.0");
        assert_eq!(x[0].user_agents.len(), 7);
        assert_eq!(x[0].issuer_arn.as_deref(), Some("arn:aws:iam::1:role/r0"));
    }
}
