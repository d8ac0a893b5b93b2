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

use crate::federation::merge_federated_sign_ins;
use crate::subject::{
    Finding, MAX_CREDENTIAL_LIFE_MS, MatchedSession, SAME_TIME_MS, Subject, arn_account,
    arn_resource, assumed_role_parts, resolve, resolve_finding, role_name,
};
use backtrail_model::time::format_iso;
use backtrail_model::{EventLookup, Issuance, Millis, Window};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashSet};

/// Longest chain walked; beyond it the report says it stopped (chains are short in practice,
/// a longer one is a loop through records the cycle guard cannot see).
pub const MAX_DEPTH: usize = 32;

/// An issuing event this far from the creationDate can still be the one (clock skew,
/// retries), but only as "probable".
pub const NEAR_MS: Millis = 5 * 60_000;

/// Longest console session: a sign-in older than this did not start the session.
const CONSOLE_LIFE_MS: Millis = 12 * 3_600_000;

/// What the walk reports for one subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhoReport {
    /// The subject as given.
    pub subject: String,
    /// `access_key`, `arn`, `principal_id` or `session_name`.
    pub subject_kind: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub ip_hint: Option<String>,
    /// One chain per matched session (recycled key ids give several: never merged).
    pub sessions: Vec<SessionChain>,
    /// Notes about the subject as a whole (nothing matched, ...).
    pub notes: Vec<String>,
}

/// One session and the chain that produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionChain {
    /// Every key the session signed with (console sessions: many).
    pub access_key_ids: Vec<String>,
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub account: Option<String>,
    /// RFC 3339, or null when the calls carry no creationDate (long-term keys).
    pub creation_date: Option<String>,
    /// First and last call in the data; null when no call with the session is in the data.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub events: u64,
    pub from_console: bool,
    /// With an IP hint: whether this session used that address.
    pub used_hint_ip: Option<bool>,
    /// Services that made calls with this session on its behalf (`invokedBy`).
    pub invoked_by: Vec<String>,
    /// `sourceIdentity` carried by the session or set along the chain: the origin someone
    /// asserted, checked against the chain in `notes`.
    pub asserted_source_identity: Option<String>,
    /// The hops, ordered from the origin to this session.
    pub chain: Vec<Hop>,
    pub origin: Origin,
    /// Uncertainty said out loud.
    pub notes: Vec<String>,
    /// Where the walk ran out of data: what to ingest to go further.
    pub continue_at: Option<ContinueAt>,
}

/// How sure a hop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// One call matches key, ARN and time (or ARN and time where no key is logged).
    Certain,
    /// A call fits, but by time order, a looser time, or among equals with the same caller.
    Probable,
    /// Several calls fit and they disagree on who made them: the walk stops here.
    Unknown,
}

/// One hand-over of credentials: the call that issued the next principal's credentials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// AssumeRole, AssumeRoleWithSAML, AssumeRoleWithWebIdentity, GetSessionToken,
    /// GetFederationToken, GetRoleCredentials, AssumeRoot, ConsoleLogin, GetSigninToken,
    /// SwitchRole, RenewRole, CreateAccessKey, CreateLoginProfile, UpdateLoginProfile, or
    /// EC2InstanceProfile (AssumeRole by ec2.amazonaws.com).
    pub method: String,
    /// The record the hop rests on; null when no single record could be chosen.
    pub event_id: Option<String>,
    /// Other records of the same step: the other account's copy (sharedEventID, or
    /// requestID + time); for a SwitchRole or RenewRole, the AssumeRole made on the user's
    /// behalf; for a console sign-in through SAML or Identity Center, the ConsoleLogin.
    pub other_event_ids: Vec<String>,
    pub time: Option<String>,
    pub caller: Caller,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub issued_access_key_id: Option<String>,
    pub issued_arn: Option<String>,
    /// creationDate of the session this hop started.
    pub issued_creation_date: Option<String>,
    pub confidence: Confidence,
    /// Why this record, in words.
    pub reason: String,
    /// Records that were considered and rejected, or that fit equally.
    pub candidates: Vec<Candidate>,
}

/// Who made a hop's call (the `userIdentity` of the issuing record).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Caller {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub arn: Option<String>,
    pub account: Option<String>,
    pub access_key_id: Option<String>,
    pub principal_id: Option<String>,
    pub user_name: Option<String>,
    pub invoked_by: Option<String>,
    /// creationDate of the caller's own session (how the walk finds its issuer).
    pub session_creation_date: Option<String>,
}

/// A record considered for a hop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub event_id: String,
    pub method: String,
    pub issued_access_key_id: Option<String>,
    pub issued_arn: Option<String>,
    pub caller_arn: Option<String>,
    pub time: String,
    pub why_rejected_or_open: String,
}

/// Kinds of origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OriginKind {
    /// An IAM user's password or long-term key (identifier: user ARN).
    IAMUser,
    /// The account's root user.
    Root,
    /// A SAML identity provider's user (identifier: SAML subject).
    SAMLUser,
    /// An OIDC identity (identifier: token subject, e.g. `repo:org/repo:ref:…`).
    WebIdentityUser,
    /// An IAM Identity Center user (identifier: onBehalfOf user id, else user name).
    IdentityCenterUser,
    /// A federated user whose GetFederationToken is not in the data.
    FederatedUser,
    /// An AWS service acting on its own (identifier: service name).
    AWSService,
    /// Instance-profile credentials (identifier: instance id).
    EC2Instance,
    /// A Lambda function's execution role (identifier: function name).
    LambdaFunction,
    /// A principal of another account whose own record is not in the data.
    AWSAccount,
    /// The walk could not go further (identifier: the last principal reached).
    Unknown,
}

/// Where a chain starts: a principal that no record in the data issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    pub kind: OriginKind,
    /// User/root ARN, SAML or OIDC subject, Identity Center user id, instance id, function
    /// name, service name, foreign principal id; for Unknown the last principal reached.
    pub identifier: String,
    pub account: Option<String>,
    /// Identity provider (SAML issuer, OIDC provider, identity store) or the acting service.
    pub provider: Option<String>,
    /// Records that establish the origin.
    pub evidence_event_ids: Vec<String>,
}

/// The issuing record is not in the data: what to ingest to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContinueAt {
    /// Account whose trail holds the missing record.
    pub account: Option<String>,
    /// The principal to look for (caller principal id, role or session ARN).
    pub principal: String,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// Event names to look for.
    pub look_for: Vec<String>,
    pub why: String,
}

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

/// A principal whose credentials the walk explains next.
#[derive(Debug, Clone, Default)]
struct Cursor {
    kind: Option<String>,
    arn: Option<String>,
    key: Option<String>,
    creation: Option<Millis>,
    principal_id: Option<String>,
    account: Option<String>,
    user_name: Option<String>,
    issuer_arn: Option<String>,
    invoked_by: Option<String>,
    /// Console session: signed with console-minted keys, issued by a sign-in.
    console: bool,
    /// No creationDate known: the session began at or before this time (latest sign-in).
    before: Option<Millis>,
    /// Restricts the issuing events considered (RenewRole: the previous switch).
    only: Option<&'static [&'static str]>,
    /// When the principal was seen acting.
    seen_at: Option<Millis>,
    /// `inScopeOf` of the session's calls: issuer type and resource.
    in_scope: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Role,
    Federated,
    User,
    Root,
    Other,
}

impl Cursor {
    fn class(&self) -> Class {
        let by_arn = self.arn.as_deref().and_then(arn_resource).map(|r| {
            if r.starts_with("assumed-role/") {
                Class::Role
            } else if r.starts_with("federated-user/") {
                Class::Federated
            } else if r.starts_with("user/") {
                Class::User
            } else if r == "root" {
                Class::Root
            } else {
                Class::Other
            }
        });
        match self.kind.as_deref() {
            Some("AssumedRole") => Class::Role,
            Some("FederatedUser") => Class::Federated,
            Some("IAMUser") => Class::User,
            Some("Root") => Class::Root,
            _ => by_arn.unwrap_or(Class::Other),
        }
    }

    fn label(&self) -> String {
        let mut s = self
            .arn
            .clone()
            .unwrap_or_else(|| "an unnamed principal".into());
        if let Some(k) = &self.key {
            s.push_str(&format!(" (key {k})"));
        }
        if let Some(c) = self.creation {
            s.push_str(&format!(" created {}", format_iso(c)));
        }
        s
    }

    fn account(&self) -> Option<String> {
        self.account.clone().or_else(|| {
            self.arn
                .as_deref()
                .and_then(arn_account)
                .map(str::to_string)
        })
    }

    /// The caller of an issuing record, as the next principal to explain.
    fn caller_of(iss: &Issuance) -> Cursor {
        Cursor {
            kind: iss.caller_type.clone(),
            arn: iss.caller_arn.clone(),
            key: iss.caller_access_key_id.clone().filter(|k| !k.is_empty()),
            creation: iss.caller_session_creation_date,
            principal_id: iss.caller_principal_id.clone(),
            account: iss.caller_account_id.clone(),
            user_name: iss.caller_user_name.clone(),
            invoked_by: iss.caller_invoked_by.clone(),
            seen_at: Some(iss.event_time),
            ..Default::default()
        }
    }
}

/// The outcome of a step.
enum Next {
    Continue(Box<Cursor>),
    Done(Origin),
}

/// Methods that start each kind of session.
const ROLE_METHODS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetRoleCredentials",
    "SwitchRole",
    "RenewRole",
    "ConsoleLogin",
    "GetSigninToken",
];
const FEDERATED_METHODS: &[&str] = &["GetFederationToken", "ConsoleLogin", "GetSigninToken"];
const USER_METHODS: &[&str] = &["GetSessionToken", "ConsoleLogin"];
const ROOT_METHODS: &[&str] = &["ConsoleLogin", "GetSessionToken", "AssumeRoot"];
const SWITCH_METHODS: &[&str] = &["SwitchRole", "RenewRole"];
/// Sign-ins: they return no key; the console mints keys that carry the sign-in's time.
const CONSOLE_METHODS: &[&str] = &["ConsoleLogin", "SwitchRole", "RenewRole", "GetSigninToken"];
/// What issues a console session when a sign-in and an AssumeRole fit equally.
const CONSOLE_PREFERRED: &[&str] = &[
    "ConsoleLogin",
    "SwitchRole",
    "RenewRole",
    "GetSigninToken",
    "AssumeRoleWithSAML",
];

/// How well a record fits as the issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Tier {
    /// Key, ARN and time (or ARN and time where no key exists to compare).
    Exact,
    /// Fits, but by a looser test.
    Near,
}

struct Eval {
    iss: Issuance,
    fit: Option<Tier>,
    why: String,
}

/// What the search for an issuing record found.
enum Search {
    Found(Box<Found>),
    /// Several fit and their callers differ.
    Ambiguous(Vec<Candidate>),
    /// Nothing fits; the rejected records that came close.
    NotFound(Vec<Candidate>),
}

struct Found {
    iss: Issuance,
    confidence: Confidence,
    reason: String,
    candidates: Vec<Candidate>,
    /// Other copies of the same call.
    copies: Vec<Issuance>,
    /// AssumeRole calls in the same second as a chosen sign-in (SwitchRole's pair).
    linked: Vec<Issuance>,
}

struct Walker<'a, L: EventLookup> {
    lookup: &'a L,
    /// Hops from the subject towards the origin.
    hops: Vec<Hop>,
    notes: Vec<String>,
    continue_at: Option<ContinueAt>,
    /// sourceIdentity values seen, subject side first.
    source_identities: Vec<String>,
    visited: HashSet<Fingerprint>,
    /// Event ids already on the chain: a later step cannot have issued an earlier one.
    used: HashSet<String>,
}

/// What tells two principals apart for the cycle guard: key, ARN, creationDate, "before".
type Fingerprint = (
    Option<String>,
    Option<String>,
    Option<Millis>,
    Option<Millis>,
);

impl<L: EventLookup> Walker<'_, L> {
    fn walk(&mut self, start: Cursor) -> Result<Origin, L::Error> {
        let mut cur = start;
        for _ in 0..MAX_DEPTH {
            let fp = (cur.key.clone(), cur.arn.clone(), cur.creation, cur.before);
            if !self.visited.insert(fp) {
                self.notes.push(format!(
                    "cycle: {} was reached again; the chain is cut there (records edited or inconsistent)",
                    cur.label()
                ));
                return Ok(unknown_origin(&cur));
            }
            match self.step(&cur)? {
                Next::Continue(c) => cur = *c,
                Next::Done(mut o) => {
                    // The origin shows up as the caller of the last hop recorded.
                    if o.evidence_event_ids.is_empty()
                        && let Some(id) = self.hops.last().and_then(|h| h.event_id.clone())
                    {
                        o.evidence_event_ids.push(id);
                    }
                    return Ok(o);
                }
            }
        }
        self.notes.push(format!(
            "stopped after {MAX_DEPTH} hops at {}; the rest of the chain is not shown",
            cur.label()
        ));
        Ok(unknown_origin(&cur))
    }

    fn step(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        match cur.class() {
            Class::Role => self.step_session(cur, ROLE_METHODS),
            Class::Federated => self.step_session(cur, FEDERATED_METHODS),
            Class::User => self.step_user(cur),
            Class::Root => self.step_root(cur),
            Class::Other => {
                self.notes.push(format!(
                    "{} is of type {}: no issuing event is known for it",
                    cur.label(),
                    cur.kind.as_deref().unwrap_or("(none)")
                ));
                Ok(Next::Done(unknown_origin(cur)))
            }
        }
    }

    /// IAM users: long-term keys lead to the CreateAccessKey that made them; temporary ones to
    /// GetSessionToken or the console sign-in.
    fn step_user(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        if let Some(k) = cur.key.as_deref().filter(|k| k.starts_with("AKIA")) {
            return self.step_long_term_key(cur, k);
        }
        if cur.key.is_none() && cur.creation.is_none() && cur.before.is_none() {
            return self.step_sign_in_record(cur);
        }
        self.step_session(cur, USER_METHODS)
    }

    /// Root: long-term keys and the sign-in record itself have no issuer; temporary keys come
    /// from the console, GetSessionToken or AssumeRoot (from the management account).
    fn step_root(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        let long_term = cur.key.as_deref().is_some_and(|k| k.starts_with("AKIA"));
        if long_term || (cur.key.is_none() && cur.creation.is_none() && cur.before.is_none()) {
            return Ok(Next::Done(root_origin(cur, Vec::new())));
        }
        self.step_session(cur, ROOT_METHODS)
    }

    /// A user "session" with neither key nor creationDate is the sign-in record itself (the
    /// ConsoleLogin is logged as the user): its hop is that sign-in, and the password's setter.
    fn step_sign_in_record(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        let (Some(arn), Some(at)) = (&cur.arn, cur.seen_at) else {
            return Ok(Next::Done(user_origin(cur, Vec::new())));
        };
        let login = self
            .lookup
            .issuances_by_issued_arn(arn)?
            .into_iter()
            .find(|i| {
                i.event_name == "ConsoleLogin"
                    && issued_ok(i)
                    && (i.event_time - at).abs() <= SAME_TIME_MS
            });
        let Some(login) = login else {
            return Ok(Next::Done(user_origin(cur, Vec::new())));
        };
        self.push_hop(
            &login,
            Confidence::Certain,
            "the session's first record is this sign-in, logged as the user".into(),
            Vec::new(),
            Vec::new(),
            Some(login.event_time),
        );
        self.after_password(cur, &login)
    }

    fn step_long_term_key(&mut self, cur: &Cursor, key: &str) -> Result<Next, L::Error> {
        let mut made: Vec<Issuance> = self
            .lookup
            .issuances_by_issued_key(key)?
            .into_iter()
            .filter(|i| i.event_name == "CreateAccessKey" && issued_ok(i))
            .filter(|i| i.issued_arn.is_none() || i.issued_arn == cur.arn)
            .collect();
        made.sort_by_key(|i| i.event_time);
        let Some(iss) = made.into_iter().next() else {
            return Ok(Next::Done(user_origin(cur, Vec::new())));
        };
        let creator = iss.caller_arn.clone().unwrap_or_default();
        let reason = if iss.caller_arn == cur.arn {
            format!(
                "{key} was created by the user itself; the walk continues from the credentials it used"
            )
        } else {
            format!(
                "{key} (owned by {}) was created by {creator}: long-term key ids are unique, and the walk continues from its creator",
                cur.arn.as_deref().unwrap_or("the user")
            )
        };
        self.push_hop(
            &iss,
            Confidence::Certain,
            reason,
            Vec::new(),
            Vec::new(),
            None,
        );
        Ok(self.after_caller(cur, &iss))
    }

    /// Finds the record that issued `cur`'s credentials among `methods` and goes on from it.
    fn step_session(&mut self, cur: &Cursor, methods: &[&str]) -> Result<Next, L::Error> {
        let methods = cur.only.unwrap_or(methods);
        match self.search(cur, methods)? {
            Search::Found(f) => self.follow(cur, f),
            Search::Ambiguous(candidates) => {
                self.hops.push(Hop {
                    method: "unknown".into(),
                    event_id: None,
                    other_event_ids: Vec::new(),
                    time: None,
                    caller: Caller::default(),
                    source_ip: None,
                    user_agent: None,
                    issued_access_key_id: cur.key.clone(),
                    issued_arn: cur.arn.clone(),
                    issued_creation_date: cur.creation.map(format_iso),
                    confidence: Confidence::Unknown,
                    reason: "several records fit equally and were made by different callers".into(),
                    candidates,
                });
                self.notes.push(format!(
                    "the issuer of {} is ambiguous: the chain stops there",
                    cur.label()
                ));
                Ok(Next::Done(unknown_origin(cur)))
            }
            Search::NotFound(rejected) => {
                for c in &rejected {
                    self.notes.push(format!(
                        "{} {} at {} is not the issuer: {}",
                        c.method, c.event_id, c.time, c.why_rejected_or_open
                    ));
                }
                self.not_found(cur)
            }
        }
    }

    /// No issuing record: say what is known and where to look.
    fn not_found(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        let class = cur.class();
        if class == Class::User {
            if let Some(svc) = &cur.invoked_by {
                self.notes.push(format!(
                    "key {} was minted for {svc} acting with the user's credentials; such keys have no issuing event",
                    cur.key.as_deref().unwrap_or("(none)")
                ));
            } else if cur.console || cur.key.is_none() {
                self.missing(cur, &["ConsoleLogin"], "the console sign-in");
            } else {
                self.missing(cur, &["GetSessionToken"], "the GetSessionToken");
            }
            return Ok(Next::Done(user_origin(cur, Vec::new())));
        }
        if class == Class::Root {
            self.missing(cur, ROOT_METHODS, "the sign-in or token request of root");
            return Ok(Next::Done(root_origin(cur, Vec::new())));
        }
        if let Some((kind, to)) = cur.in_scope.clone() {
            self.notes.push(format!(
                "no issuing event in the data; the session's calls carry inScopeOf {kind} {to}"
            ));
            let svc = match kind.as_str() {
                "AWS::EC2::Instance" => "ec2.amazonaws.com",
                "AWS::Lambda::Function" => "lambda.amazonaws.com",
                _ => "",
            };
            if !svc.is_empty() {
                return Ok(Next::Done(service_origin(cur, svc, None, Vec::new())));
            }
        }
        match class {
            Class::Federated => {
                self.missing(cur, FEDERATED_METHODS, "the GetFederationToken");
                if let Some(parent) = &cur.issuer_arn {
                    self.notes.push(format!(
                        "sessionIssuer names {parent} as the principal that requested the federation token"
                    ));
                }
                Ok(Next::Done(Origin {
                    kind: OriginKind::FederatedUser,
                    identifier: cur.arn.clone().unwrap_or_default(),
                    account: cur.account(),
                    provider: None,
                    evidence_event_ids: Vec::new(),
                }))
            }
            _ => {
                let what = if cur.console {
                    "the sign-in or role switch"
                } else {
                    "the AssumeRole"
                };
                self.missing(cur, ROLE_METHODS, what);
                if let Some(s) = cur.arn.as_deref().and_then(assumed_role_parts).map(|p| p.1)
                    && looks_like_instance_id(s)
                {
                    self.notes.push(format!(
                        "session name {s} looks like an EC2 instance id: probably instance-profile credentials"
                    ));
                }
                Ok(Next::Done(unknown_origin(cur)))
            }
        }
    }

    /// Records a ContinueAt for `cur`'s missing issuing record.
    fn missing(&mut self, cur: &Cursor, look_for: &[&str], what: &str) {
        let (start, end) = match (cur.creation, cur.before, cur.seen_at) {
            (Some(c), _, _) => (Some(c - NEAR_MS), Some(c + NEAR_MS)),
            (None, Some(b), _) => (Some(b - CONSOLE_LIFE_MS), Some(b)),
            (None, None, Some(s)) => (Some(s - MAX_CREDENTIAL_LIFE_MS), Some(s)),
            _ => (None, None),
        };
        let principal = cur
            .issuer_arn
            .clone()
            .or_else(|| cur.arn.clone())
            .or_else(|| cur.principal_id.clone())
            .unwrap_or_default();
        let why = format!(
            "{what} that issued {} is not in the data: ingest the trail of account {} (STS and sign-in events; a cross-account call is also logged in the caller's account)",
            cur.label(),
            cur.account().unwrap_or_else(|| "(unknown)".into())
        );
        self.notes.push(why.clone());
        self.continue_at.get_or_insert(ContinueAt {
            account: cur.account(),
            principal,
            window_start: start.map(format_iso),
            window_end: end.map(format_iso),
            look_for: look_for.iter().map(|s| s.to_string()).collect(),
            why,
        });
    }

    /// Candidates for the record that issued `cur`, judged and chosen.
    fn search(&mut self, cur: &Cursor, methods: &[&str]) -> Result<Search, L::Error> {
        let mut raw = Vec::new();
        if let Some(k) = &cur.key {
            raw.extend(self.lookup.issuances_by_issued_key(k)?);
        }
        if let Some(a) = &cur.arn {
            raw.extend(self.lookup.issuances_by_issued_arn(a)?);
        }
        if methods.contains(&"GetRoleCredentials") {
            raw.extend(self.role_credentials(cur)?);
        }
        let mut seen = HashSet::new();
        raw.retain(|i| {
            methods.contains(&i.event_name.as_str())
                && seen.insert((
                    i.event_id.clone(),
                    i.recipient_account_id.clone(),
                    i.event_time,
                ))
        });
        raw.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        let evals: Vec<Eval> = raw
            .into_iter()
            .map(|i| {
                let mut e = evaluate(cur, i);
                if e.fit.is_some() && self.used.contains(&e.iss.event_id) {
                    e.fit = None;
                    e.why = format!(
                        "already on the chain as a later step, so it cannot have issued this session ({})",
                        e.why
                    );
                }
                e
            })
            .collect();
        Ok(choose(cur, evals))
    }

    /// Identity Center CLI credentials: GetRoleCredentials redacts the key, so its records
    /// are found by role, session (user) name and time.
    fn role_credentials(&self, cur: &Cursor) -> Result<Vec<Issuance>, L::Error> {
        let (Some(arn), Some(c)) = (&cur.arn, cur.creation) else {
            return Ok(Vec::new());
        };
        let Some((role, session)) = assumed_role_parts(arn) else {
            return Ok(Vec::new());
        };
        if !role.starts_with("AWSReservedSSO_") {
            return Ok(Vec::new());
        }
        let w = Window {
            start: c - NEAR_MS,
            end: c + NEAR_MS,
        };
        Ok(self
            .lookup
            .issuances_by_name("GetRoleCredentials", w)?
            .into_iter()
            .filter(|i| {
                i.role_arn.as_deref().and_then(role_name) == Some(role)
                    && i.role_arn.as_deref().and_then(arn_account) == arn_account(arn)
                    && i.role_session_name.as_deref() == Some(session)
            })
            .map(|mut i| {
                i.issued_arn = Some(arn.clone());
                i
            })
            .collect())
    }

    /// Records the hop of a found issuer and decides where to go next.
    fn follow(&mut self, cur: &Cursor, mut f: Box<Found>) -> Result<Next, L::Error> {
        let copies = self.other_copies(&f.iss, &f.copies)?;
        // The copy that names the caller (not the role owner's AWSAccount view) leads on.
        if f.iss.caller_type.as_deref() == Some("AWSAccount")
            && let Some(pos) = copies
                .iter()
                .position(|c| c.caller_type.as_deref() != Some("AWSAccount"))
        {
            let mut copies = copies;
            let richer = copies.remove(pos);
            copies.push(std::mem::replace(&mut f.iss, richer));
            f.copies = copies;
        } else {
            f.copies = copies;
        }
        let iss = f.iss.clone();
        if let Some(si) = &iss.source_identity {
            self.source_identities.push(si.clone());
        }
        let mut other_ids: Vec<String> = f.copies.iter().map(|c| c.event_id.clone()).collect();
        let mut reason = f.reason.clone();
        if !f.copies.is_empty() {
            let accounts: Vec<String> = f
                .copies
                .iter()
                .map(|c| {
                    c.recipient_account_id
                        .clone()
                        .unwrap_or_else(|| "(no recipientAccountId)".into())
                })
                .collect();
            reason.push_str(&format!(
                "; the same call was also delivered to account(s) {}",
                accounts.join(", ")
            ));
            if f.copies.iter().any(|c| c.event_id == iss.event_id) {
                reason.push_str(" under the same eventID");
            }
        }
        let switching = SWITCH_METHODS.contains(&iss.event_name.as_str());
        let switch_pair = if switching {
            self.switch_pair(&iss)?
        } else {
            Vec::new()
        };
        for l in &switch_pair {
            other_ids.push(l.event_id.clone());
            reason.push_str(&format!(
                "; AssumeRole {} in the same second was made on the user's behalf; the key it returned ({}) is not the key the switched console session signs with",
                l.event_id,
                l.issued_access_key_id.as_deref().unwrap_or("none")
            ));
        }
        let mut candidates = f.candidates;
        if switching {
            let paired: HashSet<&str> = switch_pair.iter().map(|l| l.event_id.as_str()).collect();
            candidates.extend(
                f.linked
                    .iter()
                    .filter(|l| !paired.contains(l.event_id.as_str()))
                    .map(|l| {
                        candidate(
                            l,
                            "same ARN as the switched session but not in the switch's second",
                        )
                    }),
            );
        } else {
            candidates.extend(f.linked.iter().map(|l| {
                candidate(l, "same ARN and time as the sign-in; a console session is issued by the sign-in, not by this call")
            }));
        }
        let issued_creation = cur.creation.or(CONSOLE_METHODS
            .contains(&iss.event_name.as_str())
            .then_some(iss.event_time));
        self.push_hop(
            &iss,
            f.confidence,
            reason,
            candidates,
            other_ids,
            issued_creation,
        );
        if f.iss.caller_type.as_deref() == Some("AWSAccount") {
            return Ok(Next::Done(self.foreign_caller(&iss)));
        }
        match iss.event_name.as_str() {
            "SwitchRole" => Ok(self.after_switch(&iss, &switch_pair)),
            "RenewRole" => Ok(Next::Continue(Box::new(Cursor {
                arn: iss.issued_arn.clone(),
                kind: Some("AssumedRole".into()),
                account: cur.account(),
                console: true,
                before: Some(iss.event_time - 1),
                only: Some(SWITCH_METHODS),
                seen_at: Some(iss.event_time),
                ..Default::default()
            }))),
            "ConsoleLogin" | "GetSigninToken" => match iss.caller_type.as_deref() {
                Some("IAMUser") => self.after_password(cur, &iss),
                Some("Root") => Ok(Next::Done(root_origin(cur, vec![iss.event_id.clone()]))),
                _ => Ok(self.after_caller(cur, &iss)),
            },
            _ => Ok(self.after_caller(cur, &iss)),
        }
    }

    /// The AssumeRole the console makes on the user's behalf with a SwitchRole or RenewRole:
    /// same issued ARN, same second.
    fn switch_pair(&self, switch: &Issuance) -> Result<Vec<Issuance>, L::Error> {
        let Some(arn) = &switch.issued_arn else {
            return Ok(Vec::new());
        };
        let mut pair: Vec<Issuance> = self
            .lookup
            .issuances_by_issued_arn(arn)?
            .into_iter()
            .filter(|l| {
                l.event_name == "AssumeRole"
                    && issued_ok(l)
                    && (l.event_time - switch.event_time).abs() <= SAME_TIME_MS
            })
            .collect();
        pair.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
        pair.dedup_by(|a, b| a.event_id == b.event_id);
        Ok(pair)
    }

    /// Other records of the call `iss` (other accounts' copies): by sharedEventID, and by
    /// requestID + time when the caller's side is still missing.
    fn other_copies(&self, iss: &Issuance, known: &[Issuance]) -> Result<Vec<Issuance>, L::Error> {
        let mut out: Vec<Issuance> = known.to_vec();
        let same = |a: &Issuance, b: &Issuance| {
            a.event_id == b.event_id && a.recipient_account_id == b.recipient_account_id
        };
        if let Some(sh) = iss.shared_event_id.as_deref().filter(|s| !s.is_empty()) {
            for c in self.lookup.issuances_by_shared_id(sh)? {
                if !same(&c, iss) && !out.iter().any(|o| same(o, &c)) {
                    out.push(c);
                }
            }
        }
        let has_caller_copy = iss.caller_type.as_deref() != Some("AWSAccount")
            || out
                .iter()
                .any(|c| c.caller_type.as_deref() != Some("AWSAccount"));
        if !has_caller_copy && let Some(req) = iss.request_id.as_deref().filter(|r| !r.is_empty()) {
            let w = Window {
                start: iss.event_time - SAME_TIME_MS,
                end: iss.event_time + SAME_TIME_MS,
            };
            for c in self.lookup.issuances_by_name(&iss.event_name, w)? {
                if c.request_id.as_deref() == Some(req)
                    && !same(&c, iss)
                    && !out.iter().any(|o| same(o, &c))
                {
                    out.push(c);
                }
            }
        }
        Ok(out)
    }

    fn push_hop(
        &mut self,
        iss: &Issuance,
        confidence: Confidence,
        reason: String,
        candidates: Vec<Candidate>,
        other_event_ids: Vec<String>,
        issued_creation: Option<Millis>,
    ) {
        self.used.insert(iss.event_id.clone());
        self.used.extend(other_event_ids.iter().cloned());
        self.hops.push(Hop {
            method: method_of(iss),
            event_id: Some(iss.event_id.clone()),
            other_event_ids,
            time: Some(format_iso(iss.event_time)),
            caller: Caller {
                kind: iss.caller_type.clone(),
                arn: iss.caller_arn.clone(),
                account: iss.caller_account_id.clone(),
                access_key_id: iss.caller_access_key_id.clone(),
                principal_id: iss.caller_principal_id.clone(),
                user_name: iss.caller_user_name.clone(),
                invoked_by: iss.caller_invoked_by.clone(),
                session_creation_date: iss.caller_session_creation_date.map(format_iso),
            },
            source_ip: iss.source_ip.clone(),
            user_agent: iss.user_agent.clone(),
            issued_access_key_id: iss.issued_access_key_id.clone(),
            issued_arn: iss.issued_arn.clone(),
            issued_creation_date: issued_creation.map(format_iso),
            confidence,
            reason,
            candidates,
        });
    }

    /// The next principal: the caller of `iss`, or an origin when the caller is not issued
    /// by anything in AWS (external identities, services).
    fn after_caller(&mut self, cur: &Cursor, iss: &Issuance) -> Next {
        let evidence = vec![iss.event_id.clone()];
        match iss.caller_type.as_deref() {
            Some("AssumedRole" | "FederatedUser" | "IAMUser" | "Root") => {
                let mut next = Cursor::caller_of(iss);
                next.console = self.is_console(&next);
                Next::Continue(Box::new(next))
            }
            Some("AWSAccount") => Next::Done(self.foreign_caller(iss)),
            Some("AWSService") => {
                let svc = iss
                    .caller_invoked_by
                    .clone()
                    .or_else(|| {
                        iss.source_ip
                            .clone()
                            .filter(|s| s.ends_with(".amazonaws.com"))
                    })
                    .unwrap_or_default();
                Next::Done(service_origin(
                    cur,
                    &svc,
                    iss.role_session_name.as_deref(),
                    evidence,
                ))
            }
            Some("SAMLUser") => Next::Done(self.saml_origin(iss, evidence)),
            Some("WebIdentityUser") => Next::Done(Origin {
                kind: OriginKind::WebIdentityUser,
                identifier: iss
                    .subject
                    .clone()
                    .or_else(|| iss.caller_user_name.clone())
                    .or_else(|| iss.caller_principal_id.clone())
                    .unwrap_or_default(),
                account: iss.recipient_account_id.clone(),
                provider: iss.provider.clone(),
                evidence_event_ids: evidence,
            }),
            _ if iss.event_name == "GetRoleCredentials" => {
                Next::Done(self.identity_center_origin(iss, evidence))
            }
            other => {
                self.notes.push(format!(
                    "{} {} was made by a caller of type {}: the walk cannot go further",
                    iss.event_name,
                    iss.event_id,
                    other.unwrap_or("(none)")
                ));
                Next::Done(Origin {
                    kind: OriginKind::Unknown,
                    identifier: iss
                        .caller_arn
                        .clone()
                        .or_else(|| iss.caller_principal_id.clone())
                        .unwrap_or_default(),
                    account: iss.caller_account_id.clone(),
                    provider: None,
                    evidence_event_ids: evidence,
                })
            }
        }
    }

    /// Whether the caller signed with a console session (its row says so).
    fn is_console(&self, c: &Cursor) -> bool {
        let Some(k) = &c.key else { return false };
        self.lookup.sessions_by_key(k).is_ok_and(|rows| {
            rows.iter()
                .any(|r| r.from_console && r.arn == c.arn && r.creation_date == c.creation)
        })
    }

    /// The role owner's copy names only the foreign account: stop there and say where the
    /// caller's copy lives.
    fn foreign_caller(&mut self, iss: &Issuance) -> Origin {
        let principal = iss
            .caller_principal_id
            .clone()
            .or_else(|| iss.caller_account_id.clone())
            .unwrap_or_default();
        let what = match principal.get(..4) {
            Some("AIDA") => "an IAM user",
            Some("AROA") => "a role session",
            _ => "a principal",
        };
        let why = format!(
            "{} {} was made from account {} by {what} ({principal}); its own copy (sharedEventID {}) is not in the data: ingest that account's trail",
            iss.event_name,
            iss.event_id,
            iss.caller_account_id.as_deref().unwrap_or("(unknown)"),
            iss.shared_event_id.as_deref().unwrap_or("none")
        );
        self.notes.push(why.clone());
        self.continue_at.get_or_insert(ContinueAt {
            account: iss.caller_account_id.clone(),
            principal: principal.clone(),
            window_start: Some(format_iso(iss.event_time - NEAR_MS)),
            window_end: Some(format_iso(iss.event_time + NEAR_MS)),
            look_for: vec![iss.event_name.clone()],
            why,
        });
        Origin {
            kind: OriginKind::AWSAccount,
            identifier: principal,
            account: iss.caller_account_id.clone(),
            provider: None,
            evidence_event_ids: vec![iss.event_id.clone()],
        }
    }

    /// SwitchRole: the switched session belongs to SwitchFrom's console session; the
    /// same-second AssumeRole, when its caller is that user, carries the session's creationDate.
    fn after_switch(&mut self, iss: &Issuance, pair: &[Issuance]) -> Next {
        let Some(from) = iss.switch_from.clone() else {
            self.notes.push(format!(
                "SwitchRole {} has no SwitchFrom: the user who switched is not known",
                iss.event_id
            ));
            return Next::Done(Origin {
                kind: OriginKind::Unknown,
                identifier: iss.issued_arn.clone().unwrap_or_default(),
                account: iss.recipient_account_id.clone(),
                provider: None,
                evidence_event_ids: vec![iss.event_id.clone()],
            });
        };
        if let Some(l) = pair.iter().find(|l| l.caller_arn.as_deref() == Some(&from))
            && l.caller_session_creation_date.is_some()
        {
            let mut next = Cursor::caller_of(l);
            next.console = true;
            return Next::Continue(Box::new(next));
        }
        Next::Continue(Box::new(Cursor {
            kind: kind_of_arn(&from).map(str::to_string),
            arn: Some(from),
            console: true,
            before: Some(iss.event_time),
            seen_at: Some(iss.event_time),
            ..Default::default()
        }))
    }

    /// An IAM user's console sign-in: the password's holder is the user, unless someone else
    /// set the password (CreateLoginProfile / UpdateLoginProfile), in which case the walk goes
    /// on from them.
    fn after_password(&mut self, cur: &Cursor, login: &Issuance) -> Result<Next, L::Error> {
        let user = login
            .issued_arn
            .clone()
            .or_else(|| login.caller_arn.clone());
        let mut set: Vec<Issuance> = match &user {
            Some(u) => self.lookup.issuances_by_issued_arn(u)?,
            None => Vec::new(),
        };
        set.retain(|i| {
            matches!(
                i.event_name.as_str(),
                "CreateLoginProfile" | "UpdateLoginProfile"
            ) && issued_ok(i)
                && i.event_time <= login.event_time
        });
        set.sort_by_key(|i| i.event_time);
        let Some(p) = set.pop() else {
            let mut u = Cursor::caller_of(login);
            u.account = u.account.or_else(|| cur.account());
            return Ok(Next::Done(user_origin(&u, vec![login.event_id.clone()])));
        };
        if p.caller_arn == user {
            let u = Cursor::caller_of(login);
            return Ok(Next::Done(user_origin(&u, vec![login.event_id.clone()])));
        }
        let reason = format!(
            "the password of {} was last set by {} at {} before this sign-in; whoever signed in knew that password",
            user.as_deref().unwrap_or("the user"),
            p.caller_arn.as_deref().unwrap_or("an unnamed caller"),
            format_iso(p.event_time)
        );
        self.push_hop(
            &p,
            Confidence::Probable,
            reason,
            Vec::new(),
            Vec::new(),
            None,
        );
        Ok(self.after_caller(cur, &p))
    }

    fn saml_origin(&mut self, iss: &Issuance, evidence: Vec<String>) -> Origin {
        let role = iss.role_arn.as_deref().and_then(role_name).or_else(|| {
            iss.issued_arn
                .as_deref()
                .and_then(assumed_role_parts)
                .map(|p| p.0)
        });
        if role.is_some_and(|r| r.starts_with("AWSReservedSSO_")) {
            return self.identity_center_origin(iss, evidence);
        }
        Origin {
            kind: OriginKind::SAMLUser,
            identifier: iss
                .subject
                .clone()
                .or_else(|| iss.caller_user_name.clone())
                .or_else(|| iss.caller_principal_id.clone())
                .unwrap_or_default(),
            account: iss.recipient_account_id.clone(),
            provider: iss.provider.clone(),
            evidence_event_ids: evidence,
        }
    }

    /// Identity Center users: the `onBehalfOf` user id when the record has it (read from the
    /// record itself; issuances do not keep it), else the SAML subject / user name.
    fn identity_center_origin(&mut self, iss: &Issuance, evidence: Vec<String>) -> Origin {
        let ev = self.lookup.event_by_id(&iss.event_id).ok().flatten();
        let on_behalf = ev
            .as_ref()
            .and_then(|e| e.identity.on_behalf_of_user_id.clone());
        let store = ev
            .as_ref()
            .and_then(|e| e.identity.on_behalf_of_identity_store_arn.clone());
        // The SAML subject (the user's e-mail or name), else the role session name the
        // portal sets to it.
        let name = iss
            .subject
            .clone()
            .or_else(|| iss.caller_user_name.clone())
            .or_else(|| iss.role_session_name.clone());
        if let (Some(_), Some(n)) = (&on_behalf, &name) {
            self.notes.push(format!("Identity Center user name: {n}"));
        }
        Origin {
            kind: OriginKind::IdentityCenterUser,
            identifier: on_behalf
                .or(name)
                .or_else(|| iss.caller_principal_id.clone())
                .unwrap_or_default(),
            account: iss.recipient_account_id.clone(),
            provider: store.or_else(|| iss.provider.clone()),
            evidence_event_ids: evidence,
        }
    }
}

/// The hop's method name: AssumeRole by the EC2 service is the instance profile.
fn method_of(iss: &Issuance) -> String {
    if iss.event_name == "AssumeRole"
        && iss.caller_type.as_deref() == Some("AWSService")
        && iss.caller_invoked_by.as_deref() == Some("ec2.amazonaws.com")
    {
        "EC2InstanceProfile".into()
    } else {
        iss.event_name.clone()
    }
}

fn issued_ok(i: &Issuance) -> bool {
    i.error_code.as_deref().is_none_or(str::is_empty) && i.outcome.as_deref() != Some("Failure")
}

fn fmt_gap(ms: Millis) -> String {
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
fn evaluate(cur: &Cursor, iss: Issuance) -> Eval {
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

fn candidate(iss: &Issuance, why: &str) -> Candidate {
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
type CallerSig = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Millis>,
    Option<String>,
);

/// One call, possibly delivered as several records (copies in each account).
struct Call {
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
fn choose(cur: &Cursor, evals: Vec<Eval>) -> Search {
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
enum SignInLink {
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
fn issued_the_sign_in_session(
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

fn nonempty(s: &Option<String>) -> Option<String> {
    s.clone().filter(|x| !x.is_empty())
}

/// Whether two records are copies of one call: same sharedEventID, same eventID, or same
/// requestID, name and time (copies without sharedEventID).
fn same_call(a: &Issuance, b: &Issuance) -> bool {
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

fn kind_of_arn(arn: &str) -> Option<&'static str> {
    let r = arn_resource(arn)?;
    if r.starts_with("assumed-role/") {
        Some("AssumedRole")
    } else if r.starts_with("federated-user/") {
        Some("FederatedUser")
    } else if r.starts_with("user/") {
        Some("IAMUser")
    } else if r == "root" {
        Some("Root")
    } else {
        None
    }
}

fn looks_like_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn user_origin(cur: &Cursor, evidence: Vec<String>) -> Origin {
    Origin {
        kind: OriginKind::IAMUser,
        identifier: cur
            .arn
            .clone()
            .or_else(|| cur.user_name.clone())
            .or_else(|| cur.principal_id.clone())
            .unwrap_or_default(),
        account: cur.account(),
        provider: None,
        evidence_event_ids: evidence,
    }
}

fn root_origin(cur: &Cursor, evidence: Vec<String>) -> Origin {
    Origin {
        kind: OriginKind::Root,
        identifier: cur.arn.clone().unwrap_or_default(),
        account: cur.account(),
        provider: None,
        evidence_event_ids: evidence,
    }
}

fn unknown_origin(cur: &Cursor) -> Origin {
    Origin {
        kind: OriginKind::Unknown,
        identifier: cur
            .arn
            .clone()
            .or_else(|| cur.principal_id.clone())
            .unwrap_or_default(),
        account: cur.account(),
        provider: None,
        evidence_event_ids: Vec::new(),
    }
}

/// A service that assumed the role: EC2 instances and Lambda functions are named by the role
/// session name, or by `inScopeOf` when the session's calls carry it.
fn service_origin(cur: &Cursor, svc: &str, session: Option<&str>, evidence: Vec<String>) -> Origin {
    let session = session.map(str::to_string).or_else(|| {
        cur.arn
            .as_deref()
            .and_then(assumed_role_parts)
            .map(|p| p.1.to_string())
    });
    let scoped = cur
        .in_scope
        .as_ref()
        .map(|(_, to)| last_segment(to).to_string());
    let (kind, identifier) = match svc {
        "ec2.amazonaws.com" => (OriginKind::EC2Instance, scoped.or(session)),
        "lambda.amazonaws.com" => (OriginKind::LambdaFunction, scoped.or(session)),
        _ => (OriginKind::AWSService, Some(svc.to_string())),
    };
    Origin {
        kind,
        identifier: identifier.unwrap_or_else(|| svc.to_string()),
        account: cur.account(),
        provider: Some(svc.to_string()),
        evidence_event_ids: evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subject::testkit::*;
    use backtrail_model::MemoryLookup;
    use serde_json::{Value, json};

    const A: &str = "111111111111";
    const B: &str = "222222222222";
    const C: &str = "333333333333";

    fn role(account: &str, name: &str) -> String {
        format!("arn:aws:iam::{account}:role/{name}")
    }

    fn service(svc: &str) -> Value {
        json!({"type": "AWSService", "invokedBy": svc})
    }

    /// The only session of `key`, traced.
    fn chain_of(l: &MemoryLookup, key: &str) -> SessionChain {
        let r = who(l, &Subject::AccessKey(key.into()), None, None).unwrap();
        assert_eq!(r.sessions.len(), 1, "{:#?}", r);
        r.sessions.into_iter().next().unwrap()
    }

    fn methods(c: &SessionChain) -> Vec<&str> {
        c.chain.iter().map(|h| h.method.as_str()).collect()
    }

    fn alice() -> Value {
        user(A, "alice", Some("AKIAALICE00000000001"))
    }

    #[test]
    fn role_session_traces_to_its_user_through_a_certain_assume_role() {
        let l = lookup(&[
            assume_role(
                "e1",
                "2024-05-01T10:00:00Z",
                alice(),
                &role(A, "R"),
                "s",
                "ASIAK1",
            ),
            call(
                "c1",
                "2024-05-01T10:05:00Z",
                role_session(A, "R", "s", Some("ASIAK1"), "2024-05-01T10:00:00Z"),
                "ListBuckets",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIAK1");
        assert_eq!(methods(&c), ["AssumeRole"]);
        let h = &c.chain[0];
        assert_eq!(h.event_id.as_deref(), Some("e1"));
        assert_eq!(h.confidence, Confidence::Certain);
        assert_eq!(
            h.issued_creation_date.as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert_eq!(
            h.caller.arn.as_deref(),
            Some("arn:aws:iam::111111111111:user/alice")
        );
        assert_eq!(c.origin.kind, OriginKind::IAMUser);
        assert_eq!(c.origin.identifier, "arn:aws:iam::111111111111:user/alice");
        assert_eq!(c.origin.evidence_event_ids, ["e1"]);
        assert!(c.continue_at.is_none());
        // The JSON shape the CLI prints.
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["chain"][0]["confidence"], "certain");
        assert_eq!(v["chain"][0]["caller"]["type"], "IAMUser");
        assert_eq!(v["origin"]["kind"], "IAMUser");
        assert_eq!(v["creation_date"], "2024-05-01T10:00:00Z");
    }

    #[test]
    fn a_recycled_key_id_is_decided_by_arn_and_creation_date() {
        let bob = user(A, "bob", Some("AKIABOB0000000000001"));
        let mut denied = assume_role(
            "e0",
            "2024-05-01T18:00:00Z",
            alice(),
            &role(A, "R1"),
            "a",
            "ASIAK",
        );
        denied["errorCode"] = json!("AccessDenied");
        denied["responseElements"] = Value::Null;
        let l = lookup(&[
            assume_role(
                "e1",
                "2024-05-01T10:00:00Z",
                alice(),
                &role(A, "R1"),
                "a",
                "ASIAK",
            ),
            assume_role(
                "e2",
                "2024-05-01T18:00:01Z",
                alice(),
                &role(A, "R2"),
                "b",
                "ASIAK",
            ),
            assume_role(
                "e3",
                "2024-05-01T18:00:00Z",
                bob,
                &role(A, "R1"),
                "a",
                "ASIAK",
            ),
            denied,
            call(
                "c1",
                "2024-05-01T18:05:00Z",
                role_session(A, "R1", "a", Some("ASIAK"), "2024-05-01T18:00:00Z"),
                "ListBuckets",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIAK");
        let h = &c.chain[0];
        assert_eq!(h.event_id.as_deref(), Some("e3"));
        assert_eq!(h.confidence, Confidence::Certain);
        assert!(c.origin.identifier.ends_with("user/bob"));
        let why = |id: &str| {
            h.candidates
                .iter()
                .find(|c| c.event_id == id)
                .map(|c| c.why_rejected_or_open.clone())
                .unwrap_or_default()
        };
        assert!(why("e1").contains("recycled"), "{}", why("e1"));
        assert!(why("e2").contains("assumed-role/R2/b"), "{}", why("e2"));
        assert!(why("e0").contains("AccessDenied"), "{}", why("e0"));
    }

    #[test]
    fn equal_issuers_are_probable_with_one_caller_and_unknown_with_two() {
        let at = "2024-05-01T12:16:14Z";
        let slr = role(A, "aws-service-role/rds.amazonaws.com/AWSServiceRoleForRDS");
        let mut rows = Vec::new();
        for (id, key) in [("r1", "ASIARDS1"), ("r2", "ASIARDS2")] {
            let mut e = assume_role(
                id,
                at,
                service("rds.amazonaws.com"),
                &slr,
                "SLRManagement",
                key,
            );
            e["sourceIPAddress"] = json!("rds.amazonaws.com");
            rows.push(e);
        }
        // The service's calls carry no key.
        let mut svc_call = call(
            "c1",
            "2024-05-01T12:16:20Z",
            role_session(A, "AWSServiceRoleForRDS", "SLRManagement", None, at),
            "CreateNetworkInterface",
            "rds.amazonaws.com",
        );
        svc_call["userIdentity"]["invokedBy"] = json!("rds.amazonaws.com");
        rows.push(svc_call);
        let l = lookup(&rows);
        let r = who(&l, &Subject::parse("SLRManagement"), None, None).unwrap();
        let c = &r.sessions[0];
        assert_eq!(c.chain[0].confidence, Confidence::Probable);
        assert!(c.chain[0].reason.contains("share their caller"));
        assert_eq!(c.chain[0].candidates.len(), 1);
        assert_eq!(c.origin.kind, OriginKind::AWSService);
        assert_eq!(c.origin.identifier, "rds.amazonaws.com");
        assert_eq!(c.invoked_by, ["rds.amazonaws.com"]);

        // Two different users in the same second for a keyless session: no choice is made.
        let bob = user(A, "bob", Some("AKIABOB0000000000001"));
        let l = lookup(&[
            assume_role("a1", at, alice(), &role(A, "R"), "s", "ASIAX1"),
            assume_role("a2", at, bob, &role(A, "R"), "s", "ASIAX2"),
            call(
                "c1",
                "2024-05-01T12:17:00Z",
                role_session(A, "R", "s", None, at),
                "Decrypt",
                "kms.amazonaws.com",
            ),
        ]);
        let r = who(
            &l,
            &Subject::parse("arn:aws:sts::111111111111:assumed-role/R/s"),
            None,
            None,
        )
        .unwrap();
        let c = &r.sessions[0];
        assert_eq!(c.chain.len(), 1);
        assert_eq!(c.chain[0].confidence, Confidence::Unknown);
        assert_eq!(c.chain[0].event_id, None);
        assert_eq!(c.chain[0].candidates.len(), 2);
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        assert!(c.notes.iter().any(|n| n.contains("ambiguous")));
    }

    fn console_call(id: &str, time: &str, identity: Value) -> Value {
        let mut v = call(id, time, identity, "DescribeInstances", "203.0.113.9");
        v["sessionCredentialFromConsole"] = json!("true");
        v
    }

    #[test]
    fn a_console_session_is_issued_by_its_sign_in_not_by_a_key() {
        let login = "2024-05-01T09:00:00Z";
        let l = lookup(&[
            console_login("login", login, user(A, "bob", None)),
            console_call(
                "c1",
                "2024-05-01T09:05:00Z",
                user_console(A, "bob", "ASIACON1", login),
            ),
            console_call(
                "c2",
                "2024-05-01T09:06:00Z",
                user_console(A, "bob", "ASIACON2", login),
            ),
        ]);
        let c = chain_of(&l, "ASIACON2");
        assert_eq!(c.access_key_ids, ["ASIACON2", "ASIACON1"]);
        assert_eq!(methods(&c), ["ConsoleLogin"]);
        let h = &c.chain[0];
        assert_eq!(h.confidence, Confidence::Certain);
        assert_eq!(h.issued_access_key_id, None);
        assert_eq!(h.issued_creation_date.as_deref(), Some(login));
        assert_eq!(c.origin.kind, OriginKind::IAMUser);
        assert_eq!(c.origin.evidence_event_ids, ["login"]);
    }

    /// alice signs in at 09:00 and switches to Admin at 09:30; the console's AssumeRole pair
    /// returns ASIAPAIR, while the switched session signs with ASIASWITCHED.
    fn switch_records(with_pair: bool) -> Vec<Value> {
        let login = "2024-05-01T09:00:00Z";
        let switched = "2024-05-01T09:30:00Z";
        let mut switch = call(
            "sw",
            switched,
            role_session(A, "Admin", "alice", None, switched),
            "SwitchRole",
            "203.0.113.9",
        );
        switch["eventSource"] = json!("signin.amazonaws.com");
        switch["eventType"] = json!("AwsConsoleSignIn");
        switch["responseElements"] = json!({"SwitchRole": "Success"});
        switch["additionalEventData"] = json!({"SwitchFrom": "arn:aws:iam::111111111111:user/alice", "RedirectTo": "https://console.aws.amazon.com"});
        let mut rows = vec![
            console_login("login", login, user(A, "alice", None)),
            console_call(
                "c1",
                "2024-05-01T09:10:00Z",
                user_console(A, "alice", "ASIAALICECON", login),
            ),
            switch,
            console_call(
                "c2",
                "2024-05-01T09:31:00Z",
                role_session(A, "Admin", "alice", Some("ASIASWITCHED"), switched),
            ),
        ];
        if with_pair {
            let mut pair = assume_role(
                "pair",
                switched,
                user_console(A, "alice", "ASIAALICECON", login),
                &role(A, "Admin"),
                "alice",
                "ASIAPAIR",
            );
            pair["sourceIPAddress"] = json!("AWS Internal");
            pair["userIdentity"]["invokedBy"] = json!("signin.amazonaws.com");
            rows.push(pair);
        }
        rows
    }

    #[test]
    fn a_switched_session_belongs_to_the_switch_from_user() {
        let l = lookup(&switch_records(true));
        let c = chain_of(&l, "ASIASWITCHED");
        assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole"]);
        let sw = &c.chain[1];
        assert_eq!(sw.confidence, Confidence::Certain);
        assert_eq!(
            sw.other_event_ids,
            ["pair"],
            "the AssumeRole pair is linked evidence"
        );
        assert!(sw.reason.contains("ASIAPAIR") && sw.reason.contains("not the key"));
        assert!(!c.access_key_ids.contains(&"ASIAPAIR".to_string()));
        assert_eq!(
            c.chain[0].confidence,
            Confidence::Certain,
            "the pair carries the sign-in's creationDate"
        );
        assert!(c.origin.identifier.ends_with("user/alice"));

        // Without the pair, the sign-in is found by time: probable.
        let l = lookup(&switch_records(false));
        let c = chain_of(&l, "ASIASWITCHED");
        assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole"]);
        assert_eq!(c.chain[0].confidence, Confidence::Probable);
        assert!(c.origin.identifier.ends_with("user/alice"));
    }

    #[test]
    fn renew_role_continues_the_switched_session() {
        let renewed = "2024-05-01T10:30:00Z";
        let mut rows = switch_records(true);
        let mut renew = call(
            "rn",
            renewed,
            role_session(A, "Admin", "alice", None, renewed),
            "RenewRole",
            "203.0.113.9",
        );
        renew["eventSource"] = json!("signin.amazonaws.com");
        renew["responseElements"] = json!({"RenewRole": "Success"});
        rows.push(renew);
        rows.push(console_call(
            "c3",
            "2024-05-01T10:31:00Z",
            role_session(A, "Admin", "alice", Some("ASIARENEWED"), renewed),
        ));
        let l = lookup(&rows);
        let c = chain_of(&l, "ASIARENEWED");
        assert_eq!(methods(&c), ["ConsoleLogin", "SwitchRole", "RenewRole"]);
        assert_eq!(c.chain[2].confidence, Confidence::Certain);
        assert_eq!(c.chain[1].event_id.as_deref(), Some("sw"));
        assert_eq!(c.chain[1].confidence, Confidence::Probable);
        assert!(c.origin.identifier.ends_with("user/alice"));
    }

    /// alice (account A) assumes Ops in account B: the caller's copy and the owner's copy.
    fn cross_account(shared: bool, caller_copy: bool, caller_has_response: bool) -> MemoryLookup {
        let at = "2024-05-01T10:00:00Z";
        let owner_id = json!({"type": "AWSAccount", "principalId": "AIDAALICE", "accountId": A});
        let mut owner = assume_role("owner", at, owner_id, &role(B, "Ops"), "alice", "ASIAOPS");
        owner["requestID"] = json!("req-1");
        let mut rows = vec![call(
            "c1",
            "2024-05-01T10:05:00Z",
            role_session(B, "Ops", "alice", Some("ASIAOPS"), at),
            "ListBuckets",
            "198.51.100.7",
        )];
        if caller_copy {
            let mut mine = assume_role("mine", at, alice(), &role(B, "Ops"), "alice", "ASIAOPS");
            mine["recipientAccountId"] = json!(A);
            mine["requestID"] = json!("req-1");
            if !caller_has_response {
                mine["responseElements"] = Value::Null;
            }
            if shared {
                mine["sharedEventID"] = json!("shared-1");
            }
            rows.push(mine);
        }
        if shared {
            owner["sharedEventID"] = json!("shared-1");
        }
        rows.push(owner);
        lookup(&rows)
    }

    #[test]
    fn cross_account_copies_are_joined() {
        for (shared, response) in [(true, true), (true, false), (false, true), (false, false)] {
            let c = chain_of(&cross_account(shared, true, response), "ASIAOPS");
            let h = &c.chain[0];
            assert_eq!(
                h.event_id.as_deref(),
                Some("mine"),
                "the caller's copy leads ({shared}, {response})"
            );
            assert_eq!(h.other_event_ids, ["owner"]);
            assert!(h.reason.contains("222222222222"));
            assert!(c.origin.identifier.ends_with("user/alice"));
            assert!(c.continue_at.is_none());
        }
    }

    #[test]
    fn a_missing_caller_copy_says_where_to_continue() {
        let c = chain_of(&cross_account(true, false, false), "ASIAOPS");
        assert_eq!(c.chain[0].event_id.as_deref(), Some("owner"));
        assert_eq!(c.origin.kind, OriginKind::AWSAccount);
        assert_eq!(c.origin.identifier, "AIDAALICE");
        let at = c.continue_at.unwrap();
        assert_eq!(at.account.as_deref(), Some(A));
        assert_eq!(at.principal, "AIDAALICE");
        assert_eq!(at.window_start.as_deref(), Some("2024-05-01T09:55:00Z"));
        assert_eq!(at.window_end.as_deref(), Some("2024-05-01T10:05:00Z"));
        assert!(at.why.contains("an IAM user"));
    }

    #[test]
    fn role_chains_recurse_across_accounts() {
        let t1 = "2024-05-01T10:00:00Z";
        let t2 = "2024-05-01T10:10:00Z";
        let l = lookup(&[
            assume_role("h1", t1, alice(), &role(B, "Hop"), "alice", "ASIAHOP"),
            assume_role(
                "h2",
                t2,
                role_session(B, "Hop", "alice", Some("ASIAHOP"), t1),
                &role(C, "Target"),
                "chained",
                "ASIATARGET",
            ),
            call(
                "c1",
                "2024-05-01T10:15:00Z",
                role_session(C, "Target", "chained", Some("ASIATARGET"), t2),
                "GetObject",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIATARGET");
        assert_eq!(methods(&c), ["AssumeRole", "AssumeRole"]);
        assert_eq!(c.chain[0].event_id.as_deref(), Some("h1"));
        assert_eq!(c.chain[1].event_id.as_deref(), Some("h2"));
        assert!(c.chain.iter().all(|h| h.confidence == Confidence::Certain));
        assert_eq!(c.chain[1].caller.session_creation_date.as_deref(), Some(t1));
        assert!(c.origin.identifier.ends_with("user/alice"));
    }

    #[test]
    fn a_created_key_leads_back_to_its_creator() {
        let mallory = user(A, "mallory", Some("AKIAMALLORY000000001"));
        let t1 = "2024-05-01T10:00:00Z";
        let mut create = call(
            "ck",
            "2024-05-01T10:02:00Z",
            role_session(A, "Admin", "x", Some("ASIAADMIN"), t1),
            "CreateAccessKey",
            "198.51.100.66",
        );
        create["eventSource"] = json!("iam.amazonaws.com");
        create["requestParameters"] = json!({"userName": "victim"});
        create["responseElements"] = json!({"accessKey": {"accessKeyId": "AKIAVICTIM0000000001", "userName": "victim", "status": "Active"}});
        let l = lookup(&[
            assume_role("ar", t1, mallory, &role(A, "Admin"), "x", "ASIAADMIN"),
            create,
            call(
                "use",
                "2024-05-02T08:00:00Z",
                user(A, "victim", Some("AKIAVICTIM0000000001")),
                "ListUsers",
                "198.51.100.66",
            ),
        ]);
        let c = chain_of(&l, "AKIAVICTIM0000000001");
        assert_eq!(methods(&c), ["AssumeRole", "CreateAccessKey"]);
        assert_eq!(c.chain[1].confidence, Confidence::Certain);
        assert!(c.chain[1].reason.contains("user/victim"));
        assert!(c.origin.identifier.ends_with("user/mallory"));
    }

    #[test]
    fn a_backdoor_password_leads_back_to_whoever_set_it() {
        let bert = user(A, "bert", Some("AKIABERT000000000001"));
        let mut profile = call(
            "lp",
            "2024-05-01T10:00:00Z",
            bert,
            "CreateLoginProfile",
            "192.0.2.20",
        );
        profile["eventSource"] = json!("iam.amazonaws.com");
        profile["requestParameters"] =
            json!({"userName": "backdoor", "passwordResetRequired": false});
        let login = "2024-05-01T10:05:00Z";
        let l = lookup(&[
            profile,
            console_login("login", login, user(A, "backdoor", None)),
            console_call(
                "c1",
                "2024-05-01T10:06:00Z",
                user_console(A, "backdoor", "ASIABACKDOOR", login),
            ),
        ]);
        let c = chain_of(&l, "ASIABACKDOOR");
        assert_eq!(methods(&c), ["CreateLoginProfile", "ConsoleLogin"]);
        assert_eq!(c.chain[0].confidence, Confidence::Probable);
        assert!(c.origin.identifier.ends_with("user/bert"));
        // The sign-in record itself (no key, no creationDate) says the same.
        let r = who(&l, &Subject::parse("backdoor"), None, None).unwrap();
        assert_eq!(r.sessions.len(), 2);
        for s in &r.sessions {
            assert!(s.origin.identifier.ends_with("user/bert"), "{s:#?}");
            assert_eq!(s.chain.last().unwrap().method, "ConsoleLogin");
        }
    }

    fn saml(id: &str, at: &str, role_arn: &str, session: &str, key: &str) -> Value {
        let ident = json!({"type": "SAMLUser", "principalId": "idp+ExAmPlE=:jdoe@example.com", "userName": "jdoe@example.com", "identityProvider": "idp+ExAmPlE="});
        let mut v = assume_role(id, at, ident, role_arn, session, key);
        v["eventName"] = json!("AssumeRoleWithSAML");
        v["requestParameters"]["principalArn"] =
            json!(format!("arn:aws:iam::{A}:saml-provider/Okta"));
        v["responseElements"]["subject"] = json!("jdoe@example.com");
        v["responseElements"]["issuer"] = json!("http://www.okta.com/exk123");
        v
    }

    #[test]
    fn external_identities_are_origins() {
        let at = "2024-05-01T10:00:00Z";
        let mut oidc = assume_role(
            "wi",
            at,
            json!({"type": "WebIdentityUser", "principalId": "token.actions.githubusercontent.com:sts.amazonaws.com:repo:org/app:ref:refs/heads/main", "userName": "repo:org/app:ref:refs/heads/main", "identityProvider": "token.actions.githubusercontent.com"}),
            &role(A, "Deploy"),
            "gha",
            "ASIAWEB",
        );
        oidc["eventName"] = json!("AssumeRoleWithWebIdentity");
        oidc["responseElements"]["provider"] =
            json!("arn:aws:iam::111111111111:oidc-provider/token.actions.githubusercontent.com");
        oidc["responseElements"]["subjectFromWebIdentityToken"] =
            json!("repo:org/app:ref:refs/heads/main");
        let sso_role = "AWSReservedSSO_Admin_0123456789abcdef";
        let l = lookup(&[
            saml(
                "sa",
                at,
                &role(A, "Federated"),
                "jdoe@example.com",
                "ASIASAML",
            ),
            call(
                "c1",
                "2024-05-01T10:01:00Z",
                role_session(A, "Federated", "jdoe@example.com", Some("ASIASAML"), at),
                "ListBuckets",
                "198.51.100.7",
            ),
            saml(
                "ic",
                at,
                &format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{sso_role}"),
                "jdoe",
                "ASIASSO",
            ),
            call(
                "c2",
                "2024-05-01T10:01:00Z",
                role_session(A, sso_role, "jdoe", Some("ASIASSO"), at),
                "ListBuckets",
                "198.51.100.7",
            ),
            oidc,
            call(
                "c3",
                "2024-05-01T10:01:00Z",
                role_session(A, "Deploy", "gha", Some("ASIAWEB"), at),
                "PutObject",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIASAML");
        assert_eq!(methods(&c), ["AssumeRoleWithSAML"]);
        assert_eq!(c.origin.kind, OriginKind::SAMLUser);
        assert_eq!(c.origin.identifier, "jdoe@example.com");
        assert_eq!(
            c.origin.provider.as_deref(),
            Some("http://www.okta.com/exk123")
        );
        let c = chain_of(&l, "ASIASSO");
        assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
        assert_eq!(c.origin.identifier, "jdoe@example.com");
        let c = chain_of(&l, "ASIAWEB");
        assert_eq!(c.origin.kind, OriginKind::WebIdentityUser);
        assert_eq!(c.origin.identifier, "repo:org/app:ref:refs/heads/main");
        assert!(
            c.origin
                .provider
                .unwrap()
                .ends_with("token.actions.githubusercontent.com")
        );
    }

    /// dana federates through Identity Center into DeveloperAccess (AssumeRoleWithSAML returns
    /// ASIASAMLKEY at 10:00:00), signs in to the console with that key at 10:00:01, works with
    /// console keys (same ARN and creationDate, no issuing event) and switches into
    /// prod-support in account B at 10:20 (the console's AssumeRole pair is made with a
    /// console key).
    fn identity_center_console_records() -> Vec<Value> {
        let at = "2024-05-01T10:00:00Z";
        let switched = "2024-05-01T10:20:00Z";
        let sso_role = "AWSReservedSSO_DeveloperAccess_0123456789abcdef";
        let dana = "dana@example.com";
        let sso_arn = format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{sso_role}");
        let mut fed = saml("saml", at, &sso_arn, dana, "ASIASAMLKEY");
        fed["userIdentity"]["principalId"] = json!(format!("idp+ExAmPlE=:{dana}"));
        fed["userIdentity"]["userName"] = json!(dana);
        fed["responseElements"]["subject"] = json!(dana);
        let dev = |key: &str| role_session(A, sso_role, dana, Some(key), at);
        let mut switch = call(
            "sw",
            switched,
            role_session(B, "prod-support", dana, None, switched),
            "SwitchRole",
            "203.0.113.9",
        );
        switch["eventSource"] = json!("signin.amazonaws.com");
        switch["eventType"] = json!("AwsConsoleSignIn");
        switch["responseElements"] = json!({"SwitchRole": "Success"});
        switch["additionalEventData"] = json!({
            "SwitchFrom": format!("arn:aws:sts::{A}:assumed-role/{sso_role}/{dana}"),
            "RedirectTo": "https://console.aws.amazon.com"
        });
        let mut pair = assume_role(
            "pair",
            switched,
            dev("ASIACON1"),
            &role(B, "prod-support"),
            dana,
            "ASIAPAIR",
        );
        pair["sourceIPAddress"] = json!("AWS Internal");
        pair["userIdentity"]["invokedBy"] = json!("signin.amazonaws.com");
        vec![
            fed,
            console_login("login", "2024-05-01T10:00:01Z", dev("ASIASAMLKEY")),
            console_call("c1", "2024-05-01T10:01:00Z", dev("ASIACON1")),
            console_call("c2", "2024-05-01T10:05:00Z", dev("ASIACON2")),
            switch,
            pair,
            console_call(
                "c3",
                "2024-05-01T10:21:00Z",
                role_session(B, "prod-support", dana, Some("ASIAPROD1"), switched),
            ),
        ]
    }

    /// The federation and its console sign-in, as one hop.
    fn assert_one_sign_in_hop(h: &Hop, login_has_key: bool) {
        assert_eq!(h.method, "AssumeRoleWithSAML");
        assert_eq!(h.event_id.as_deref(), Some("saml"));
        assert_eq!(h.other_event_ids, ["login"]);
        assert_eq!(h.confidence, Confidence::Certain, "{}", h.reason);
        assert_eq!(h.caller.kind.as_deref(), Some("SAMLUser"));
        assert_eq!(
            h.issued_creation_date.as_deref(),
            Some("2024-05-01T10:00:00Z")
        );
        assert!(
            h.reason.contains("one step") && h.reason.contains("login"),
            "{}",
            h.reason
        );
        let how = if login_has_key {
            "signed with the key"
        } else {
            "without a key"
        };
        assert!(h.reason.contains(how), "{}", h.reason);
        assert!(
            h.candidates
                .iter()
                .all(|c| c.event_id != "saml" && c.event_id != "login"),
            "{:#?}",
            h.candidates
        );
    }

    #[test]
    fn a_federated_console_sign_in_is_one_hop_with_or_without_the_key() {
        for with_key in [true, false] {
            let mut rows = identity_center_console_records();
            if !with_key {
                let login = rows.iter_mut().find(|r| r["eventID"] == "login").unwrap();
                login["userIdentity"]
                    .as_object_mut()
                    .unwrap()
                    .remove("accessKeyId");
            }
            let l = lookup(&rows);
            let c = chain_of(&l, "ASIACON2");
            assert_eq!(c.access_key_ids.len(), 2, "{:?}", c.access_key_ids);
            assert_eq!(methods(&c), ["AssumeRoleWithSAML"], "{:#?}", c.chain);
            assert_one_sign_in_hop(&c.chain[0], with_key);
            assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
            assert_eq!(c.origin.identifier, "dana@example.com");
            assert_eq!(c.origin.evidence_event_ids, ["saml"]);

            // The switched session goes through the switch and the sign-in.
            let c = chain_of(&l, "ASIAPROD1");
            assert_eq!(methods(&c), ["AssumeRoleWithSAML", "SwitchRole"]);
            assert_one_sign_in_hop(&c.chain[0], with_key);
            let ids: Vec<_> = c.chain.iter().map(|h| h.event_id.as_deref()).collect();
            assert_eq!(ids, [Some("saml"), Some("sw")]);
            assert_eq!(c.chain[1].other_event_ids, ["pair"]);
            assert!(c.chain.iter().all(|h| h.confidence == Confidence::Certain));
            assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
            assert_eq!(c.origin.identifier, "dana@example.com");
            assert!(c.continue_at.is_none());
        }
    }

    #[test]
    fn federations_that_disagree_on_role_name_or_time_are_not_the_sign_in() {
        // The console sign-in was logged without a key; other federations of the same person
        // came into another role, under another session name, or a minute later.
        let mut rows = identity_center_console_records();
        let login = rows.iter_mut().find(|r| r["eventID"] == "login").unwrap();
        login["userIdentity"]
            .as_object_mut()
            .unwrap()
            .remove("accessKeyId");
        let sso =
            |name: &str| format!("arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/{name}");
        rows.push(saml(
            "other-role",
            "2024-05-01T10:00:00Z",
            &sso("AWSReservedSSO_ReadOnly_0123456789abcdef"),
            "dana@example.com",
            "ASIAOTHER1",
        ));
        rows.push(saml(
            "other-name",
            "2024-05-01T10:00:00Z",
            &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
            "dana.w@example.com",
            "ASIAOTHER2",
        ));
        rows.push(saml(
            "later",
            "2024-05-01T10:01:00Z",
            &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
            "dana@example.com",
            "ASIAOTHER3",
        ));
        let c = chain_of(&lookup(&rows), "ASIACON2");
        assert_eq!(methods(&c), ["AssumeRoleWithSAML"]);
        assert_one_sign_in_hop(&c.chain[0], false);

        // A second federation into the same role, session name and second is a true rival:
        // the data cannot say whose sign-in the console keys belong to.
        let mut twin = saml(
            "twin",
            "2024-05-01T10:00:00Z",
            &sso("AWSReservedSSO_DeveloperAccess_0123456789abcdef"),
            "dana@example.com",
            "ASIATWIN",
        );
        twin["userIdentity"]["userName"] = json!("mallory@example.com");
        twin["responseElements"]["subject"] = json!("mallory@example.com");
        rows.push(twin);
        let c = chain_of(&lookup(&rows), "ASIACON2");
        let unknown = c
            .chain
            .iter()
            .find(|h| h.confidence == Confidence::Unknown)
            .expect("an unknown hop");
        assert_eq!(unknown.method, "unknown");
        assert_eq!(unknown.event_id, None);
        let open: Vec<&str> = unknown
            .candidates
            .iter()
            .filter(|x| x.why_rejected_or_open.contains("callers differ"))
            .map(|x| x.event_id.as_str())
            .collect();
        assert_eq!(open, ["saml", "twin"]);
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        assert!(c.notes.iter().any(|n| n.contains("ambiguous")));
    }

    #[test]
    fn the_federation_keys_own_sign_in_record_is_issued_by_the_federation() {
        let l = lookup(&identity_center_console_records());
        let r = who(&l, &Subject::AccessKey("ASIASAMLKEY".into()), None, None).unwrap();
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(methods(&r.sessions[0]), ["AssumeRoleWithSAML"]);
        assert_eq!(r.sessions[0].origin.kind, OriginKind::IdentityCenterUser);
    }

    #[test]
    fn two_federated_sign_ins_by_different_sessions_stay_ambiguous() {
        // Two people federate into one role with the same session name in the same second and
        // both sign in to the console: a console key of that ARN and time could be either's.
        let at = "2024-05-01T10:00:00Z";
        let mut rows = Vec::new();
        for (n, who) in [(1, "jdoe@example.com"), (2, "rroe@example.com")] {
            let mut fed = saml(
                &format!("saml{n}"),
                at,
                &role(A, "Console"),
                "console",
                &format!("ASIASAML{n}"),
            );
            fed["userIdentity"]["userName"] = json!(who);
            fed["responseElements"]["subject"] = json!(who);
            rows.push(fed);
            rows.push(console_login(
                &format!("login{n}"),
                "2024-05-01T10:00:01Z",
                role_session(A, "Console", "console", Some(&format!("ASIASAML{n}")), at),
            ));
        }
        rows.push(console_call(
            "c1",
            "2024-05-01T10:03:00Z",
            role_session(A, "Console", "console", Some("ASIACONX"), at),
        ));
        let c = chain_of(&lookup(&rows), "ASIACONX");
        assert_eq!(c.chain.len(), 1);
        let h = &c.chain[0];
        assert_eq!(h.confidence, Confidence::Unknown);
        let open: Vec<&str> = h
            .candidates
            .iter()
            .filter(|x| x.why_rejected_or_open.contains("callers differ"))
            .map(|x| x.event_id.as_str())
            .collect();
        assert_eq!(open, ["login1", "login2"]);
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        assert!(c.notes.iter().any(|n| n.contains("ambiguous")));

        // Without the second sign-in, the second federation still fits on its own (its
        // sign-in may be missing from the data): still no choice.
        rows.retain(|r| r["eventID"] != "login2");
        let c = chain_of(&lookup(&rows), "ASIACONX");
        let h = &c.chain[0];
        assert_eq!(h.confidence, Confidence::Unknown);
        let open: Vec<&str> = h
            .candidates
            .iter()
            .filter(|x| x.why_rejected_or_open.contains("callers differ"))
            .map(|x| x.event_id.as_str())
            .collect();
        assert_eq!(open, ["saml2", "login1"]);

        // With one federation and its sign-in, the chain goes through both, as one hop.
        rows.retain(|r| r["eventID"] != "saml2");
        let c = chain_of(&lookup(&rows), "ASIACONX");
        let ids: Vec<_> = c.chain.iter().map(|h| h.event_id.as_deref()).collect();
        assert_eq!(ids, [Some("saml1")]);
        assert_eq!(c.chain[0].other_event_ids, ["login1"]);
        assert_eq!(c.origin.kind, OriginKind::SAMLUser);
        assert_eq!(c.origin.identifier, "jdoe@example.com");
    }

    #[test]
    fn identity_center_cli_credentials_match_by_role_user_and_time() {
        let at = "2024-05-01T10:00:00Z";
        let sso_role = "AWSReservedSSO_Dev_0123456789abcdef";
        let mut grc = call(
            "grc",
            at,
            json!({"type": "IdentityCenterUser", "accountId": A, "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4", "identityStoreArn": "arn:aws:identitystore::111111111111:identitystore/d-1234567890"}, "userName": "jdoe", "credentialId": "cred-1"}),
            "GetRoleCredentials",
            "198.51.100.7",
        );
        grc["eventSource"] = json!("sso.amazonaws.com");
        grc["requestParameters"] = json!({"roleName": sso_role, "accountId": A});
        grc["responseElements"] =
            json!({"roleCredentials": {"accessKeyId": "HIDDEN_DUE_TO_SECURITY_REASONS"}});
        let l = lookup(&[
            grc,
            call(
                "c1",
                "2024-05-01T10:00:30Z",
                role_session(A, sso_role, "jdoe", Some("ASIASSOCLI"), at),
                "ListBuckets",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIASSOCLI");
        assert_eq!(methods(&c), ["GetRoleCredentials"]);
        assert_eq!(c.chain[0].confidence, Confidence::Probable);
        assert!(c.chain[0].reason.contains("redacts"));
        assert_eq!(c.origin.kind, OriginKind::IdentityCenterUser);
        assert_eq!(c.origin.identifier, "94482488-3041-7026-18f3-be45837cd0e4");
        assert!(c.origin.provider.unwrap().contains("identitystore"));
    }

    #[test]
    fn session_and_federation_tokens_lead_to_the_user() {
        let at = "2024-05-01T10:00:00Z";
        let mut gst = assume_role(
            "gst",
            at,
            user(A, "carol", Some("AKIACAROL00000000001")),
            &role(A, "unused"),
            "x",
            "ASIACAROL",
        );
        gst["eventName"] = json!("GetSessionToken");
        gst["requestParameters"] = json!({"durationSeconds": 3600});
        gst["responseElements"] = json!({"credentials": {"accessKeyId": "ASIACAROL", "expiration": "Jan 1, 2030, 12:00:00 AM"}});
        let mut carol = user(A, "carol", Some("ASIACAROL"));
        carol["sessionContext"] =
            json!({"attributes": {"creationDate": at, "mfaAuthenticated": "true"}});
        let mut gft = call(
            "gft",
            at,
            user(A, "dave", Some("AKIADAVE000000000001")),
            "GetFederationToken",
            "198.51.100.7",
        );
        gft["eventSource"] = json!("sts.amazonaws.com");
        gft["requestParameters"] = json!({"name": "fed"});
        gft["responseElements"] = json!({"credentials": {"accessKeyId": "ASIAFED"}, "federatedUser": {"arn": format!("arn:aws:sts::{A}:federated-user/fed"), "federatedUserId": format!("{A}:fed")}});
        let fed = |key: &str, name: &str| {
            json!({"type": "FederatedUser", "principalId": format!("{A}:{name}"), "arn": format!("arn:aws:sts::{A}:federated-user/{name}"), "accountId": A, "accessKeyId": key,
                   "sessionContext": {"attributes": {"creationDate": at}, "sessionIssuer": {"type": "IAMUser", "arn": format!("arn:aws:iam::{A}:user/dave"), "accountId": A, "userName": "dave"}}})
        };
        let l = lookup(&[
            gst,
            call(
                "c1",
                "2024-05-01T10:01:00Z",
                carol,
                "ListBuckets",
                "198.51.100.7",
            ),
            gft,
            call(
                "c2",
                "2024-05-01T10:01:00Z",
                fed("ASIAFED", "fed"),
                "GetCallerIdentity",
                "198.51.100.7",
            ),
            call(
                "c3",
                "2024-05-01T10:01:00Z",
                fed("ASIAORPHAN", "orphan"),
                "GetCallerIdentity",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIACAROL");
        assert_eq!(methods(&c), ["GetSessionToken"]);
        assert_eq!(c.chain[0].confidence, Confidence::Certain);
        assert!(c.origin.identifier.ends_with("user/carol"));
        let c = chain_of(&l, "ASIAFED");
        assert_eq!(methods(&c), ["GetFederationToken"]);
        assert_eq!(c.origin.kind, OriginKind::IAMUser);
        assert!(c.origin.identifier.ends_with("user/dave"));
        // Without its GetFederationToken: a FederatedUser origin, the parent named, and where to look.
        let c = chain_of(&l, "ASIAORPHAN");
        assert_eq!(c.origin.kind, OriginKind::FederatedUser);
        assert!(c.notes.iter().any(|n| n.contains("user/dave")));
        assert_eq!(c.continue_at.unwrap().look_for[0], "GetFederationToken");
    }

    #[test]
    fn instances_functions_and_services_are_origins() {
        let at = "2024-05-01T10:00:00Z";
        let instance = |id: &str, svc: &str, role_name: &str, session: &str, key: &str| {
            let mut v = assume_role(id, at, service(svc), &role(A, role_name), session, key);
            v["sourceIPAddress"] = json!(svc);
            // Instance-profile and Lambda AssumeRole responses carry no assumedRoleUser.
            v["responseElements"]["assumedRoleUser"].take();
            v["responseElements"]
                .as_object_mut()
                .unwrap()
                .remove("assumedRoleUser");
            v
        };
        let mut scoped = role_session(A, "Web", "i-0abc12345def67890", Some("ASIAEC2"), at);
        scoped["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance", "credentialsIssuedTo": format!("arn:aws:ec2:eu-west-1:{A}:instance/i-0abc12345def67890")});
        let mut orphan = role_session(A, "Web", "i-0fff12345def67890", Some("ASIAORPHANEC2"), at);
        orphan["inScopeOf"] = json!({"issuerType": "AWS::EC2::Instance", "credentialsIssuedTo": format!("arn:aws:ec2:eu-west-1:{A}:instance/i-0fff12345def67890")});
        let l = lookup(&[
            instance(
                "ec2",
                "ec2.amazonaws.com",
                "Web",
                "i-0abc12345def67890",
                "ASIAEC2",
            ),
            call(
                "c1",
                "2024-05-01T10:01:00Z",
                scoped,
                "ListBuckets",
                "198.51.100.7",
            ),
            instance(
                "lam",
                "lambda.amazonaws.com",
                "FnRole",
                "my-function",
                "ASIALAMBDA",
            ),
            call(
                "c2",
                "2024-05-01T10:01:00Z",
                role_session(A, "FnRole", "my-function", Some("ASIALAMBDA"), at),
                "PutItem",
                "198.51.100.8",
            ),
            call(
                "c3",
                "2024-05-01T10:01:00Z",
                orphan,
                "ListBuckets",
                "198.51.100.9",
            ),
        ]);
        let c = chain_of(&l, "ASIAEC2");
        assert_eq!(methods(&c), ["EC2InstanceProfile"]);
        assert_eq!(c.chain[0].confidence, Confidence::Certain);
        assert_eq!(c.origin.kind, OriginKind::EC2Instance);
        assert_eq!(c.origin.identifier, "i-0abc12345def67890");
        let c = chain_of(&l, "ASIALAMBDA");
        assert_eq!(c.origin.kind, OriginKind::LambdaFunction);
        assert_eq!(c.origin.identifier, "my-function");
        let c = chain_of(&l, "ASIAORPHANEC2");
        assert!(c.chain.is_empty());
        assert_eq!(c.origin.kind, OriginKind::EC2Instance);
        assert_eq!(c.origin.identifier, "i-0fff12345def67890");
        assert!(c.notes.iter().any(|n| n.contains("inScopeOf")));
    }

    #[test]
    fn source_identity_is_checked_against_the_chain() {
        let at = "2024-05-01T10:00:00Z";
        let mut honest = assume_role("e1", at, alice(), &role(A, "R"), "s1", "ASIAHONEST");
        honest["requestParameters"]["sourceIdentity"] = json!("alice");
        let mut liar = assume_role("e2", at, alice(), &role(A, "R"), "s2", "ASIALIAR");
        liar["requestParameters"]["sourceIdentity"] = json!("mallory");
        let mut s2 = role_session(A, "R", "s2", Some("ASIALIAR"), at);
        s2["sessionContext"]["sourceIdentity"] = json!("mallory");
        let l = lookup(&[
            honest,
            liar,
            call(
                "c1",
                "2024-05-01T10:01:00Z",
                role_session(A, "R", "s1", Some("ASIAHONEST"), at),
                "ListBuckets",
                "198.51.100.7",
            ),
            call(
                "c2",
                "2024-05-01T10:01:00Z",
                s2,
                "ListBuckets",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIAHONEST");
        assert_eq!(c.asserted_source_identity.as_deref(), Some("alice"));
        assert!(
            !c.notes.iter().any(|n| n.contains("sourceIdentity")),
            "{:?}",
            c.notes
        );
        let c = chain_of(&l, "ASIALIAR");
        assert_eq!(c.asserted_source_identity.as_deref(), Some("mallory"));
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("'mallory' does not match")),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn cycles_and_overlong_chains_stop_with_a_note() {
        // Two sessions that claim to have issued each other (edited records).
        let (t1, t2) = ("2024-05-01T10:00:00Z", "2024-05-01T11:00:00Z");
        let l = lookup(&[
            assume_role(
                "x1",
                t1,
                role_session(A, "R2", "b", Some("ASIAB"), t2),
                &role(A, "R1"),
                "a",
                "ASIAA",
            ),
            assume_role(
                "x2",
                t2,
                role_session(A, "R1", "a", Some("ASIAA"), t1),
                &role(A, "R2"),
                "b",
                "ASIAB",
            ),
            call(
                "c1",
                "2024-05-01T11:30:00Z",
                role_session(A, "R1", "a", Some("ASIAA"), t1),
                "ListBuckets",
                "198.51.100.7",
            ),
        ]);
        let c = chain_of(&l, "ASIAA");
        assert_eq!(c.chain.len(), 2);
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        assert!(c.notes.iter().any(|n| n.starts_with("cycle")));

        // A chain of 40 role hops is cut at MAX_DEPTH.
        let base = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z").unwrap();
        let time = |i: i64| {
            (base + chrono::Duration::minutes(i)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        };
        let mut rows = vec![assume_role(
            "h0",
            &time(0),
            alice(),
            &role(A, "R0"),
            "s",
            "ASIAHOP0",
        )];
        for i in 1..40 {
            let caller = role_session(
                A,
                &format!("R{}", i - 1),
                "s",
                Some(&format!("ASIAHOP{}", i - 1)),
                &time(i - 1),
            );
            rows.push(assume_role(
                &format!("h{i}"),
                &time(i),
                caller,
                &role(A, &format!("R{i}")),
                "s",
                &format!("ASIAHOP{i}"),
            ));
        }
        rows.push(call(
            "use",
            &time(41),
            role_session(A, "R39", "s", Some("ASIAHOP39"), &time(39)),
            "ListBuckets",
            "198.51.100.7",
        ));
        let c = chain_of(&lookup(&rows), "ASIAHOP39");
        assert_eq!(c.chain.len(), MAX_DEPTH);
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        assert!(c.notes.iter().any(|n| n.contains("stopped after 32 hops")));
    }

    #[test]
    fn a_missing_issuer_says_what_to_ingest() {
        let at = "2024-05-01T10:00:00Z";
        let l = lookup(&[call(
            "c1",
            "2024-05-01T10:30:00Z",
            role_session(A, "Web", "i-0123456789abcdef0", Some("ASIALOST"), at),
            "ListBuckets",
            "198.51.100.7",
        )]);
        let c = chain_of(&l, "ASIALOST");
        assert!(c.chain.is_empty());
        assert_eq!(c.origin.kind, OriginKind::Unknown);
        let at = c.continue_at.as_ref().unwrap();
        assert_eq!(at.account.as_deref(), Some(A));
        assert_eq!(at.principal, role(A, "Web"));
        assert_eq!(at.window_start.as_deref(), Some("2024-05-01T09:55:00Z"));
        assert!(at.look_for.iter().any(|m| m == "AssumeRole"));
        assert!(c.notes.iter().any(|n| n.contains("instance id")));
    }

    #[test]
    fn service_minted_user_keys_have_no_issuer_and_invoked_by_is_reported() {
        let mut id = user(A, "alice", Some("ASIAFAS"));
        id["sessionContext"] = json!({"attributes": {"creationDate": "2024-05-01T11:57:49Z"}});
        id["invokedBy"] = json!("secretsmanager.amazonaws.com");
        let l = lookup(&[call(
            "c1",
            "2024-05-01T11:57:50Z",
            id,
            "Decrypt",
            "secretsmanager.amazonaws.com",
        )]);
        let c = chain_of(&l, "ASIAFAS");
        assert!(c.chain.is_empty());
        assert_eq!(c.origin.kind, OriginKind::IAMUser);
        assert_eq!(c.invoked_by, ["secretsmanager.amazonaws.com"]);
        assert!(
            c.notes
                .iter()
                .any(|n| n.contains("minted for secretsmanager.amazonaws.com"))
        );
        assert!(c.continue_at.is_none());
    }

    #[test]
    fn a_finding_is_traced_with_its_window_and_ip() {
        let l = lookup(&[
            assume_role(
                "e1",
                "2024-05-01T10:00:00Z",
                alice(),
                &role(A, "R"),
                "s",
                "ASIAK1",
            ),
            call(
                "c1",
                "2024-05-01T10:05:00Z",
                role_session(A, "R", "s", Some("ASIAK1"), "2024-05-01T10:00:00Z"),
                "ListBuckets",
                "203.0.113.50",
            ),
        ]);
        let f = Finding {
            access_key_id: Some("ASIAK1".into()),
            first_seen: Some(backtrail_model::time::parse_iso("2024-05-01T10:04:00Z").unwrap()),
            last_seen: Some(backtrail_model::time::parse_iso("2024-05-01T10:06:00Z").unwrap()),
            ip: Some("203.0.113.50".into()),
            ..Default::default()
        };
        let r = who_finding(&l, &f).unwrap();
        assert_eq!(r.window_start.as_deref(), Some("2024-05-01T10:04:00Z"));
        assert_eq!(r.sessions.len(), 1);
        assert_eq!(r.sessions[0].used_hint_ip, Some(true));
        assert!(r.sessions[0].origin.identifier.ends_with("user/alice"));
        let empty = who_finding(&l, &Finding::default()).unwrap();
        assert!(empty.sessions.is_empty() && !empty.notes.is_empty());
    }
}
