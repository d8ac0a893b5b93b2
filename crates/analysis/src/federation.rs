//! Console sign-in through a SAML identity provider or IAM Identity Center is one step:
//! the browser posts the assertion, STS logs an `AssumeRoleWithSAML` into the role, and the
//! sign-in service logs a `ConsoleLogin` of the very session it issued (same role and
//! session name, so the same ARN, and the same creationDate), within the same second. The
//! walk meets the two records as two hops (the sign-in issued the console keys, the
//! federation issued the session the sign-in was logged as); this module joins them into
//! one hop whose method is the federation call and whose other records hold the sign-in.
//! Records that disagree on role, session name or creation date are never joined.

use crate::chain::NEAR_MS;
use crate::chain::{Confidence, Hop};
use crate::subject::SAME_TIME_MS;
use backtrail_model::time::parse_iso;
use std::collections::HashSet;

/// The federation calls whose console sign-in belongs to the same step.
const FEDERATION_METHODS: &[&str] = &["AssumeRoleWithSAML"];

/// Joins every federation hop with the `ConsoleLogin` hop right after it when that sign-in
/// was logged as the session the federation issued (see [`same_step`]). `hops` is ordered
/// from the origin to the subject.
pub(crate) fn merge_federated_sign_ins(hops: &mut Vec<Hop>) {
    let mut i = 0;
    while i + 1 < hops.len() {
        if let Some(how) = same_step(&hops[i], &hops[i + 1]) {
            let login = hops.remove(i + 1);
            join(&mut hops[i], login, how);
        }
        i += 1;
    }
}

/// Why a federation hop and the sign-in after it are one step, or `None` when they are not:
/// the sign-in was logged as the issued ARN (role and session name), its caller session's
/// creationDate is the federation's time within clock skew, it came within minutes of it,
/// and, when the sign-in carries a key, that key is the one the federation returned.
fn same_step(fed: &Hop, login: &Hop) -> Option<&'static str> {
    if !FEDERATION_METHODS.contains(&fed.method.as_str())
        || login.method != "ConsoleLogin"
        || fed.confidence == Confidence::Unknown
        || login.confidence == Confidence::Unknown
        || fed.event_id.is_none()
        || login.event_id.is_none()
    {
        return None;
    }
    let issued = fed.issued_arn.as_deref()?;
    if login.caller.arn.as_deref() != Some(issued) {
        return None;
    }
    let fed_at = fed.time.as_deref().and_then(parse_iso)?;
    let login_at = login.time.as_deref().and_then(parse_iso)?;
    let created = login
        .caller
        .session_creation_date
        .as_deref()
        .and_then(parse_iso)?;
    if (created - fed_at).abs() > SAME_TIME_MS
        || !(-SAME_TIME_MS..=NEAR_MS).contains(&(login_at - fed_at))
    {
        return None;
    }
    match login
        .caller
        .access_key_id
        .as_deref()
        .filter(|k| !k.is_empty())
    {
        Some(k) if fed.issued_access_key_id.as_deref() == Some(k) => {
            Some("signed with the key it returned")
        }
        Some(_) => None,
        None => Some("logged without a key, as the session it issued (same ARN and creationDate)"),
    }
}

/// Folds `login` into `fed`: its record joins the other records, the weaker confidence
/// wins, both reasons are kept, and candidates that are one of the two records go.
fn join(fed: &mut Hop, login: Hop, how: &str) {
    let login_id = login.event_id.clone().unwrap_or_default();
    fed.other_event_ids.push(login_id.clone());
    fed.other_event_ids.extend(login.other_event_ids);
    fed.issued_creation_date = login
        .issued_creation_date
        .or(fed.issued_creation_date.take());
    if login.confidence == Confidence::Probable {
        fed.confidence = Confidence::Probable;
    }
    fed.reason = format!(
        "console sign-in through the identity provider, one step: {} ({}); ConsoleLogin {login_id} at {} was {how} ({})",
        fed.method,
        fed.reason,
        login.time.as_deref().unwrap_or("(no time)"),
        login.reason
    );
    let mut seen: HashSet<String> = fed.other_event_ids.iter().cloned().collect();
    seen.extend(fed.event_id.clone());
    let candidates: Vec<_> = std::mem::take(&mut fed.candidates)
        .into_iter()
        .chain(login.candidates)
        .filter(|c| seen.insert(c.event_id.clone()))
        .collect();
    fed.candidates = candidates;
}
