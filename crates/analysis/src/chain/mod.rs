//! Who: each session's chain of credential hand-overs, walked back to its origin.
//!
//! A session is an access key + ARN + creationDate. Its issuing event is the call whose
//! returned key and ARN are the session's and whose time is its creationDate (console
//! sessions: the sign-in with that ARN and time). The walk then continues from whoever made
//! that call. A federated role or user session signs in to the console with the key its
//! federation returned (SAML, web identity, AssumeRole, GetFederationToken), so that call
//! fits the console keys' ARN and time too: it is not a rival of the sign-in but the step
//! before it, reached from the sign-in's caller session. Hop by hop, the walk goes on until
//! a principal that nobody issued (an IAM user, root, an external identity, an AWS service)
//! or until the data runs out, in which case [`ContinueAt`] says what to ingest next. Every
//! guess is labelled: a hop is `certain` only when key, ARN and time (or, without a key, ARN
//! and time) single out one call.

mod cursor;
mod origins;
mod report;
mod score;
#[cfg(test)]
mod tests;
mod walk;

pub use report::{
    Caller, Candidate, Confidence, ContinueAt, Hop, Origin, OriginKind, SessionChain, WhoReport,
};

use crate::federation::merge_federated_sign_ins;
use crate::subject::{Finding, MatchedSession, Subject, resolve, resolve_finding};
use backtrail_model::time::format_iso;
use backtrail_model::{EventLookup, Millis, Window};
use cursor::Cursor;
use std::collections::{BTreeSet, HashSet};
use walk::Walker;

/// Longest chain walked; beyond it the report says it stopped (chains are short in practice,
/// a longer one is a loop through records the cycle guard cannot see).
pub const MAX_DEPTH: usize = 32;

/// An issuing event this far from the creationDate can still be the one (clock skew,
/// retries), but only as "probable".
pub const NEAR_MS: Millis = 5 * 60_000;

/// Longest console session: a sign-in older than this did not start the session.
const CONSOLE_LIFE_MS: Millis = 12 * 3_600_000;

/// Traces every session that answers to `subject` (see [`resolve`]).
pub fn who<L: EventLookup>(
    lookup: &L,
    subject: &Subject,
    window: Option<Window>,
    ip_hint: Option<&str>,
) -> Result<WhoReport, L::Error> {
    let matched = resolve(lookup, subject, window, ip_hint)?;
    report(lookup, subject, window, ip_hint, &matched)
}

/// Traces the sessions a GuardDuty finding points at (its key, window and IP).
pub fn who_finding<L: EventLookup>(lookup: &L, finding: &Finding) -> Result<WhoReport, L::Error> {
    let Some(subject) = finding.subject() else {
        return Ok(WhoReport {
            subject: finding.id.clone().unwrap_or_default(),
            subject_kind: "finding".into(),
            window_start: None,
            window_end: None,
            ip_hint: finding.ip.clone(),
            sessions: Vec::new(),
            notes: vec!["the finding names no access key, principal id or user name".into()],
        });
    };
    let matched = resolve_finding(lookup, finding)?;
    report(
        lookup,
        &subject,
        finding.window(),
        finding.ip.as_deref(),
        &matched,
    )
}

fn report<L: EventLookup>(
    lookup: &L,
    subject: &Subject,
    window: Option<Window>,
    ip_hint: Option<&str>,
    matched: &[MatchedSession],
) -> Result<WhoReport, L::Error> {
    let mut sessions = Vec::with_capacity(matched.len());
    for m in matched {
        sessions.push(trace(lookup, m)?);
    }
    let mut notes = Vec::new();
    if sessions.is_empty() {
        notes.push(match window {
            Some(_) => "no session in the data answers to the subject within the window".into(),
            None => "no session in the data answers to the subject".into(),
        });
    }
    Ok(WhoReport {
        subject: subject.as_str().to_string(),
        subject_kind: subject.kind().to_string(),
        window_start: window.map(|w| format_iso(w.start)),
        window_end: window.map(|w| format_iso(w.end)),
        ip_hint: ip_hint.map(str::to_string),
        sessions,
        notes,
    })
}

/// Walks one session back to its origin.
pub fn trace<L: EventLookup>(lookup: &L, m: &MatchedSession) -> Result<SessionChain, L::Error> {
    let events = if m.rows.is_empty() {
        Vec::new()
    } else {
        lookup.events_of_sessions(&m.rows)?
    };
    let mut invoked_by = BTreeSet::new();
    let mut source_identity = None;
    let mut in_scope = None;
    for e in &events {
        let id = &e.identity;
        if let Some(s) = &id.invoked_by {
            invoked_by.insert(s.clone());
        }
        if source_identity.is_none() {
            source_identity.clone_from(&id.source_identity);
        }
        if in_scope.is_none()
            && let (Some(t), Some(to)) = (
                &id.in_scope_of_issuer_type,
                &id.in_scope_of_credentials_issued_to,
            )
        {
            in_scope = Some((t.clone(), to.clone()));
        }
    }
    let start = Cursor {
        kind: m.identity_type.clone(),
        arn: m.arn.clone(),
        key: m.access_key_ids.first().cloned(),
        creation: m.creation_date,
        principal_id: m.principal_id.clone(),
        account: m.account_id.clone(),
        issuer_arn: m.issuer_arn.clone(),
        // Calls made by a service with the session (all of them invokedBy): a service-minted
        // key has no issuing event.
        invoked_by: (!events.is_empty() && events.iter().all(|e| e.identity.invoked_by.is_some()))
            .then(|| invoked_by.iter().next().cloned())
            .flatten(),
        console: m.from_console,
        seen_at: m.first_seen,
        in_scope,
        ..Default::default()
    };
    let mut w = Walker {
        lookup,
        hops: Vec::new(),
        notes: m.notes.clone(),
        continue_at: None,
        source_identities: source_identity.into_iter().collect(),
        visited: HashSet::new(),
        used: HashSet::new(),
    };
    if !invoked_by.is_empty() {
        w.notes.push(format!(
            "calls of this session were made on its behalf by {}",
            invoked_by.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let origin = w.walk(start)?;
    let mut hops = w.hops;
    hops.reverse();
    merge_federated_sign_ins(&mut hops);
    let mut notes = w.notes;
    let asserted = w.source_identities.first().cloned();
    if let Some(si) = &asserted {
        check_source_identity(si, &w.source_identities, &hops, &origin, &mut notes);
    }
    Ok(SessionChain {
        access_key_ids: m.access_key_ids.clone(),
        arn: m.arn.clone(),
        identity_type: m.identity_type.clone(),
        account: m.account_id.clone(),
        creation_date: m.creation_date.map(format_iso),
        first_seen: m.first_seen.map(format_iso),
        last_seen: m.last_seen.map(format_iso),
        events: m.events,
        from_console: m.from_console,
        used_hint_ip: m.used_hint_ip,
        invoked_by: invoked_by.into_iter().collect(),
        asserted_source_identity: asserted,
        chain: hops,
        origin,
        notes,
        continue_at: w.continue_at,
    })
}

/// Compares the asserted sourceIdentity with the names the chain passes through.
fn check_source_identity(
    asserted: &str,
    all: &[String],
    hops: &[Hop],
    origin: &Origin,
    notes: &mut Vec<String>,
) {
    let distinct: BTreeSet<&String> = all.iter().collect();
    if distinct.len() > 1 {
        notes.push(format!(
            "sourceIdentity differs along the chain ({}); AWS keeps it fixed once set, so records disagree",
            distinct.into_iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut names: Vec<&str> = vec![origin.identifier.as_str(), last_segment(&origin.identifier)];
    for h in hops {
        names.extend(h.caller.user_name.as_deref());
        names.extend(h.caller.arn.as_deref().map(last_segment));
    }
    if origin.kind == OriginKind::Unknown {
        notes.push(format!(
            "sourceIdentity '{asserted}' asserts the origin; the chain could not reach it to confirm"
        ));
    } else if !names.iter().any(|n| n.eq_ignore_ascii_case(asserted)) {
        notes.push(format!(
            "sourceIdentity '{asserted}' does not match the chain's origin {} (it is chosen by whoever first assumed a role with it)",
            origin.identifier
        ));
    }
}

fn last_segment(s: &str) -> &str {
    s.rsplit(['/', ':']).next().unwrap_or(s)
}
