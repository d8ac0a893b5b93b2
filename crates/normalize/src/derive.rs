//! The derived rows built at ingest: credential issuances and per-session aggregates.

use backtrail_model::json::json_text;
use backtrail_model::time::{parse_expiration, parse_iso};
use backtrail_model::{Event, Issuance};
use sonic_rs::{JsonValueTrait, LazyValue};

pub use backtrail_model::session_agg::{SESSION_LIST_CAP, SessionAggregator};

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
