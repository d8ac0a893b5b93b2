//! Judging the records that could have issued a principal's credentials, and choosing
//! among those that fit: how well each fits, which are copies of one call, which are the
//! step before a sign-in rather than its rival.

use super::cursor::{CONSOLE_METHODS, CONSOLE_PREFERRED, Cursor};
use super::walk::issued_ok;
use super::{CONSOLE_LIFE_MS, Candidate, Confidence, NEAR_MS};
use crate::subject::SAME_TIME_MS;
use backtrail_model::time::format_iso;
use backtrail_model::{Issuance, Millis};

/// How well a record fits as the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Tier {
    /// Key, ARN and time (or ARN and time where no key exists to compare).
    Exact,
    /// Fits, but by a looser test.
    Near,
}

pub(super) struct Eval {
    pub(super) iss: Issuance,
    pub(super) fit: Option<Tier>,
    pub(super) why: String,
}

/// What the search for an issuing record found.
pub(super) enum Search {
    Found(Box<Found>),
    /// Several fit and their callers differ.
    Ambiguous(Vec<Candidate>),
    /// Nothing fits; the rejected records that came close.
    NotFound(Vec<Candidate>),
}

pub(super) struct Found {
    pub(super) iss: Issuance,
    pub(super) confidence: Confidence,
    pub(super) reason: String,
    pub(super) candidates: Vec<Candidate>,
    /// Other copies of the same call.
    pub(super) copies: Vec<Issuance>,
    /// AssumeRole calls in the same second as a chosen sign-in (SwitchRole's pair).
    pub(super) linked: Vec<Issuance>,
}

pub(super) fn fmt_gap(ms: Millis) -> String {
    let s = ms.abs() / 1000;
    let dir = if ms < 0 { "before" } else { "after" };
    if s < 120 {
        format!("{s} s {dir}")
    } else if s < 7200 {
        format!("{} min {dir}", s / 60)
    } else {
        format!("{} h {dir}", s / 3600)
    }
}

/// Judges one record as the issuer of `cur`.
pub(super) fn evaluate(cur: &Cursor, iss: Issuance) -> Eval {
    let reject = |iss: Issuance, why: String| Eval {
        iss,
        fit: None,
        why,
    };
    let fit = |iss: Issuance, tier: Tier, why: String| Eval {
        iss,
        fit: Some(tier),
        why,
    };
    if !issued_ok(&iss) {
        let code = iss.error_code.clone().unwrap_or_else(|| "Failure".into());
        return reject(iss, format!("the call failed ({code}) and issued nothing"));
    }
    let arn_eq = match (&iss.issued_arn, &cur.arn) {
        (Some(a), Some(b)) if a != b => {
            let why = if iss.issued_access_key_id.is_some() && iss.issued_access_key_id == cur.key {
                format!(
                    "the same key id was issued to {a}: a recycled temporary key id, another session"
                )
            } else {
                format!("issued to {a}")
            };
            return reject(iss, why);
        }
        (Some(_), Some(_)) => Some(true),
        _ => None,
    };
    let dt = cur.creation.map(|c| iss.event_time - c);
    let name = iss.event_name.as_str();
    if let (None, Some(b)) = (cur.creation, cur.before) {
        // The session's start is known only as "before b": the latest sign-in before it.
        return if CONSOLE_METHODS.contains(&name) || name == "AssumeRoleWithSAML" {
            if iss.event_time <= b && b - iss.event_time <= CONSOLE_LIFE_MS {
                fit(
                    iss,
                    Tier::Near,
                    "a sign-in of this principal before the switch".into(),
                )
            } else {
                let at = format_iso(iss.event_time);
                reject(iss, format!("at {at}, outside the 12 h before"))
            }
        } else {
            reject(iss, "not a sign-in".into())
        };
    }
    if let (None, Some(s)) = (cur.creation, cur.seen_at) {
        if iss.event_time > s {
            return reject(iss, "issued after the session was seen acting".into());
        }
        if iss.expiration.is_some_and(|e| e < s) {
            return reject(iss, "expired before the session was seen acting".into());
        }
    }
    let gap_ok = |tier_if_exact: Tier| match dt {
        Some(d) if d.abs() <= SAME_TIME_MS => Some(tier_if_exact),
        Some(d) if d.abs() <= NEAR_MS => Some(Tier::Near),
        Some(_) => None,
        None => Some(Tier::Near),
    };
    let gap_text = dt.map_or(
        "the session's calls carry no creationDate".to_string(),
        |d| {
            if d.abs() <= SAME_TIME_MS {
                "at the session's creationDate".to_string()
            } else {
                format!("{} the session's creationDate", fmt_gap(d))
            }
        },
    );
    if CONSOLE_METHODS.contains(&name) {
        if cur.key.is_some() && nonempty(&iss.caller_access_key_id) == cur.key {
            return reject(
                iss,
                "signed with this session's own key: the session existed before this sign-in"
                    .into(),
            );
        }
        if dt.is_none() {
            return reject(
                iss,
                "a sign-in starts a session that carries a creationDate; this one has none".into(),
            );
        }
        let tier = if cur.console || cur.key.is_none() {
            Tier::Exact
        } else {
            Tier::Near
        };
        return match gap_ok(tier) {
            Some(t) if arn_eq == Some(true) => {
                let mut why = format!("sign-in as the session's ARN, {gap_text}");
                if t == Tier::Near && dt.is_some_and(|d| d.abs() <= SAME_TIME_MS) {
                    why.push_str(" (but the session's calls are not marked as console calls)");
                }
                fit(iss, t, why)
            }
            _ => reject(iss, format!("sign-in {gap_text}")),
        };
    }
    let key_rel = match (&iss.issued_access_key_id, &cur.key) {
        (Some(a), Some(b)) => Some(a == b),
        _ => None,
    };
    match key_rel {
        Some(false) => {
            let returned = iss.issued_access_key_id.clone().unwrap_or_default();
            let console_fed =
                cur.console && arn_eq == Some(true) && dt.is_some_and(|d| d.abs() <= SAME_TIME_MS);
            if console_fed && name == "AssumeRoleWithSAML" {
                fit(
                    iss,
                    Tier::Exact,
                    format!(
                        "SAML federation into the console: same ARN, {gap_text}; the console signs with its own keys, not {returned}"
                    ),
                )
            } else if console_fed {
                fit(
                    iss,
                    Tier::Near,
                    format!(
                        "same ARN, {gap_text}, but it returned {returned}: a console session signs with other keys"
                    ),
                )
            } else {
                reject(
                    iss,
                    format!("it returned key {returned}, not this session's"),
                )
            }
        }
        Some(true) => match gap_ok(Tier::Exact) {
            Some(t) => {
                let (t, arn_text) = if arn_eq == Some(true) {
                    (t, "same key and ARN")
                } else {
                    (Tier::Near, "same key (the record names no issued ARN)")
                };
                fit(iss, t, format!("{arn_text}, {gap_text}"))
            }
            None => reject(
                iss,
                format!(
                    "same key and ARN but {gap_text}: another session that got a recycled key id"
                ),
            ),
        },
        None => {
            let why_no_key = if name == "GetRoleCredentials" {
                "Identity Center redacts the key: matched by role, user name and time"
            } else if cur.key.is_none() {
                "the session's calls carry no key"
            } else {
                "the record names no issued key"
            };
            let tier = if name == "GetRoleCredentials" {
                Tier::Near
            } else {
                Tier::Exact
            };
            match gap_ok(tier) {
                Some(t) if arn_eq == Some(true) && dt.is_some() => {
                    fit(iss, t, format!("same ARN, {gap_text} ({why_no_key})"))
                }
                _ => reject(iss, format!("only the ARN could be compared, {gap_text}")),
            }
        }
    }
}

pub(super) fn candidate(iss: &Issuance, why: &str) -> Candidate {
    Candidate {
        event_id: iss.event_id.clone(),
        method: iss.event_name.clone(),
        issued_access_key_id: iss.issued_access_key_id.clone(),
        issued_arn: iss.issued_arn.clone(),
        caller_arn: iss.caller_arn.clone(),
        time: format_iso(iss.event_time),
        why_rejected_or_open: why.to_string(),
    }
}

/// See [`Call::caller_sig`].
pub(super) type CallerSig = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Millis>,
    Option<String>,
);

/// One call, possibly delivered as several records (copies in each account).
pub(super) struct Call {
    records: Vec<Eval>,
}

impl Call {
    fn first(&self) -> &Eval {
        &self.records[0]
    }
    /// Who made the call, as far as the walk goes on from it: the principal, the caller
    /// session's creationDate and, for sign-ins (signed with the key the session was issued,
    /// never a console-minted one), that key. Two sessions of one ARN are different callers.
    fn caller_sig(&self) -> CallerSig {
        let i = &self.first().iss;
        let sign_in_key = matches!(i.event_name.as_str(), "ConsoleLogin" | "GetSigninToken")
            .then(|| nonempty(&i.caller_access_key_id))
            .flatten();
        (
            i.caller_type.clone(),
            i.caller_arn.clone(),
            i.caller_principal_id.clone(),
            i.caller_invoked_by.clone(),
            i.caller_session_creation_date,
            sign_in_key,
        )
    }
}

/// Picks the issuer among judged records.
pub(super) fn choose(cur: &Cursor, evals: Vec<Eval>) -> Search {
    let mut rejected = Vec::new();
    // Rejected records worth a note when nothing fits: same key, or near the session's start
    // (not every sign-in of the user that day).
    let mut relevant = Vec::new();
    let mut fits = Vec::new();
    // Sign-ins that fit, with the key and session each was made with.
    let signs_in: Vec<Issuance> = evals
        .iter()
        .filter(|e| e.fit.is_some() && CONSOLE_METHODS.contains(&e.iss.event_name.as_str()))
        .map(|e| e.iss.clone())
        .collect();
    for e in evals {
        if e.fit.is_some() {
            fits.push(e);
        } else {
            let same_key = cur.key.is_some() && e.iss.issued_access_key_id == cur.key;
            let near = cur
                .creation
                .is_some_and(|c| (e.iss.event_time - c).abs() <= NEAR_MS);
            if same_key || near {
                relevant.push(candidate(&e.iss, &e.why));
            }
            rejected.push(candidate(&e.iss, &e.why));
        }
    }
    // A federated session signs in to the console with the key it was issued (ConsoleLogin,
    // GetSigninToken): the call that issued that key is the step before the sign-in, and the
    // walk reaches it from the sign-in's caller. It is not a rival of the sign-in.
    let (earlier, kept): (Vec<Eval>, Vec<Eval>) = fits
        .into_iter()
        .partition(|e| issued_the_sign_in_session(cur, &e.iss, &signs_in).is_some());
    fits = kept;
    for e in earlier {
        let how = match issued_the_sign_in_session(cur, &e.iss, &signs_in) {
            Some(SignInLink::Key) => format!(
                "issued key {} that a sign-in fitting this session was made with",
                e.iss.issued_access_key_id.as_deref().unwrap_or_default()
            ),
            _ => "issued the session (same role, session name and creationDate) that a sign-in fitting this session was logged as, without a key".to_string(),
        };
        rejected.push(candidate(
            &e.iss,
            &format!(
                "{how}: the step before that sign-in, not a rival ({})",
                e.why
            ),
        ));
    }
    // A console session is issued by a sign-in; an AssumeRole that fits too is its pair
    // (SwitchRole's call on the user's behalf), not a rival.
    let mut linked = Vec::new();
    let preferred = |e: &Eval| CONSOLE_PREFERRED.contains(&e.iss.event_name.as_str());
    if cur.console && fits.iter().any(preferred) {
        let (keep, pair): (Vec<Eval>, Vec<Eval>) = fits.into_iter().partition(preferred);
        linked.extend(pair.into_iter().map(|e| e.iss));
        fits = keep;
    }
    let Some(best) = fits.iter().filter_map(|e| e.fit).min() else {
        return Search::NotFound(relevant);
    };
    let mut calls: Vec<Call> = Vec::new();
    for e in fits {
        if e.fit != Some(best) {
            rejected.push(candidate(&e.iss, &format!("fits less well: {}", e.why)));
            continue;
        }
        match calls.iter_mut().find(|c| same_call(&c.first().iss, &e.iss)) {
            Some(c) => c.records.push(e),
            None => calls.push(Call { records: vec![e] }),
        }
    }
    let open = |c: &Call, why: &str| -> Vec<Candidate> {
        c.records.iter().map(|r| candidate(&r.iss, why)).collect()
    };
    let (chosen, confidence, note) = if calls.len() == 1 {
        let c = calls.remove(0);
        let conf = if best == Tier::Exact {
            Confidence::Certain
        } else {
            Confidence::Probable
        };
        (c, conf, None)
    } else if cur.creation.is_none() && cur.before.is_some() {
        // Latest sign-in before the switch.
        calls.sort_by_key(|c| c.first().iss.event_time);
        let c = calls.pop().expect("several calls");
        for o in &calls {
            rejected.extend(open(o, "an earlier sign-in"));
        }
        (
            c,
            Confidence::Probable,
            Some("the latest of several sign-ins before it".to_string()),
        )
    } else {
        let sig = calls[0].caller_sig();
        if calls.iter().all(|c| c.caller_sig() == sig) {
            let n = calls.len();
            let c = calls.remove(0);
            for o in &calls {
                rejected.extend(open(o, "fits equally; same caller"));
            }
            (
                c,
                Confidence::Probable,
                Some(format!(
                    "{n} records fit equally and share their caller, so the chain goes on through it"
                )),
            )
        } else {
            let mut all = rejected;
            for c in &calls {
                all.extend(open(c, "fits equally; callers differ"));
            }
            return Search::Ambiguous(all);
        }
    };
    let mut records = chosen.records.into_iter();
    let head = records.next().expect("a call has a record");
    let mut reason = head.why.clone();
    if let Some(n) = note {
        reason.push_str("; ");
        reason.push_str(&n);
    }
    Search::Found(Box::new(Found {
        iss: head.iss,
        confidence,
        reason,
        candidates: rejected,
        copies: records.map(|r| r.iss).collect(),
        linked,
    }))
}

/// How a call is tied to the session a sign-in was made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SignInLink {
    /// The sign-in was signed with the key the call returned.
    Key,
    /// The sign-in carries no key, but the session it was logged as (ARN, so role and
    /// session name, and creationDate) is the one the federation call issued.
    Session,
}

/// Whether `iss` issued the session one of `signs_in` was made with: the key it returned
/// signed the sign-in (with the sign-in's caller ARN as issued ARN and the caller session's
/// creationDate at the call's time, or, without it, the call before the sign-in); or, for a
/// sign-in logged without a key (public Identity Center samples differ), a SAML federation
/// that issued the sign-in's caller ARN at its caller creationDate. The session being
/// explained must not be that key's own session.
pub(super) fn issued_the_sign_in_session(
    cur: &Cursor,
    iss: &Issuance,
    signs_in: &[Issuance],
) -> Option<SignInLink> {
    if CONSOLE_METHODS.contains(&iss.event_name.as_str()) {
        return None;
    }
    let key = nonempty(&iss.issued_access_key_id);
    if key.is_some() && cur.key == key {
        return None;
    }
    let by_key = |s: &&Issuance| {
        key.is_some()
            && nonempty(&s.caller_access_key_id) == key
            && (iss.issued_arn.is_none() || iss.issued_arn == s.caller_arn)
            && match s.caller_session_creation_date {
                Some(c) => (iss.event_time - c).abs() <= SAME_TIME_MS,
                None => iss.event_time <= s.event_time,
            }
    };
    if signs_in.iter().any(|s| by_key(&s)) {
        return Some(SignInLink::Key);
    }
    let by_session = |s: &&Issuance| {
        iss.event_name == "AssumeRoleWithSAML"
            && nonempty(&s.caller_access_key_id).is_none()
            && iss.issued_arn.is_some()
            && iss.issued_arn == s.caller_arn
            && s.caller_session_creation_date
                .is_some_and(|c| (iss.event_time - c).abs() <= SAME_TIME_MS)
    };
    signs_in
        .iter()
        .any(|s| by_session(&s))
        .then_some(SignInLink::Session)
}

pub(super) fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|x| !x.is_empty())
}

/// Whether two records are copies of one call: same sharedEventID, same eventID, or same
/// requestID, name and time (copies without sharedEventID).
pub(super) fn same_call(a: &Issuance, b: &Issuance) -> bool {
    if let (Some(x), Some(y)) = (nonempty(&a.shared_event_id), nonempty(&b.shared_event_id)) {
        return x == y;
    }
    if a.event_id == b.event_id {
        return true;
    }
    match (nonempty(&a.request_id), nonempty(&b.request_id)) {
        (Some(x), Some(y)) => {
            x == y
                && a.event_name == b.event_name
                && (a.event_time - b.event_time).abs() <= SAME_TIME_MS
        }
        _ => false,
    }
}
