//! The walk itself: from a principal to the record that issued its credentials, hop by hop,
//! until an origin or the end of the data.

use super::cursor::{
    CONSOLE_METHODS, Class, Cursor, FEDERATED_METHODS, ROLE_METHODS, ROOT_METHODS, SWITCH_METHODS,
    USER_METHODS,
};
use super::origins::{
    looks_like_instance_id, root_origin, service_origin, unknown_origin, user_origin,
};
use super::score::{Eval, Found, Search, candidate, choose, evaluate};
use super::{
    CONSOLE_LIFE_MS, Caller, Candidate, Confidence, ContinueAt, Hop, MAX_DEPTH, NEAR_MS, Origin,
    OriginKind,
};
use crate::subject::{
    MAX_CREDENTIAL_LIFE_MS, SAME_TIME_MS, arn_account, assumed_role_parts, role_name,
};
use backtrail_model::time::format_iso;
use backtrail_model::{EventLookup, Issuance, Millis, Window};
use std::collections::HashSet;

/// The outcome of a step.
pub(super) enum Next {
    Continue(Box<Cursor>),
    Done(Origin),
}

/// One walk's state: the hops found so far, what they noted, and the guards against loops.
pub(super) struct Walker<'a, L: EventLookup> {
    pub(super) lookup: &'a L,
    /// Hops from the subject towards the origin.
    pub(super) hops: Vec<Hop>,
    pub(super) notes: Vec<String>,
    pub(super) continue_at: Option<ContinueAt>,
    /// sourceIdentity values seen, subject side first.
    pub(super) source_identities: Vec<String>,
    pub(super) visited: HashSet<Fingerprint>,
    /// Event ids already on the chain: a later step cannot have issued an earlier one.
    pub(super) used: HashSet<String>,
}

/// What tells two principals apart for the cycle guard: key, ARN, creationDate, "before".
pub(super) type Fingerprint = (
    Option<String>,
    Option<String>,
    Option<Millis>,
    Option<Millis>,
);

impl<L: EventLookup> Walker<'_, L> {
    pub(super) fn walk(&mut self, start: Cursor) -> Result<Origin, L::Error> {
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

    pub(super) fn step(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
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
    pub(super) fn step_user(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
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
    pub(super) fn step_root(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
        let long_term = cur.key.as_deref().is_some_and(|k| k.starts_with("AKIA"));
        if long_term || (cur.key.is_none() && cur.creation.is_none() && cur.before.is_none()) {
            return Ok(Next::Done(root_origin(cur, Vec::new())));
        }
        self.step_session(cur, ROOT_METHODS)
    }

    /// A user "session" with neither key nor creationDate is the sign-in record itself (the
    /// ConsoleLogin is logged as the user): its hop is that sign-in, and the password's setter.
    pub(super) fn step_sign_in_record(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
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

    pub(super) fn step_long_term_key(&mut self, cur: &Cursor, key: &str) -> Result<Next, L::Error> {
        let mut made: Vec<Issuance> = self
            .lookup
            .issuances_by_issued_key(key)?
            .into_iter()
            .filter(|i| i.event_name == "CreateAccessKey" && issued_ok(i))
            .filter(|i| i.issued_arn.is_none() || i.issued_arn == cur.arn)
            .collect();
        made.sort_by(tie_order);
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
    pub(super) fn step_session(
        &mut self,
        cur: &Cursor,
        methods: &[&str],
    ) -> Result<Next, L::Error> {
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
    pub(super) fn not_found(&mut self, cur: &Cursor) -> Result<Next, L::Error> {
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
    pub(super) fn missing(&mut self, cur: &Cursor, look_for: &[&str], what: &str) {
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
    pub(super) fn search(&mut self, cur: &Cursor, methods: &[&str]) -> Result<Search, L::Error> {
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
        // Records that share an event id (samples and exports copy them) are told apart by
        // content before the first of each is kept, so the choice does not depend on the
        // order the store returns them in.
        raw.sort_by(tie_order);
        let mut seen = HashSet::new();
        raw.retain(|i| {
            methods.contains(&i.event_name.as_str())
                && seen.insert((
                    i.event_id.clone(),
                    i.recipient_account_id.clone(),
                    i.event_time,
                ))
        });
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
    pub(super) fn role_credentials(&self, cur: &Cursor) -> Result<Vec<Issuance>, L::Error> {
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
    pub(super) fn follow(&mut self, cur: &Cursor, mut f: Box<Found>) -> Result<Next, L::Error> {
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
    pub(super) fn switch_pair(&self, switch: &Issuance) -> Result<Vec<Issuance>, L::Error> {
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
        pair.sort_by(tie_order);
        pair.dedup_by(|a, b| a.event_id == b.event_id);
        Ok(pair)
    }

    /// Other records of the call `iss` (other accounts' copies): by sharedEventID, and by
    /// requestID + time when the caller's side is still missing.
    pub(super) fn other_copies(
        &self,
        iss: &Issuance,
        known: &[Issuance],
    ) -> Result<Vec<Issuance>, L::Error> {
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

    pub(super) fn push_hop(
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
}

/// The hop's method name: AssumeRole by the EC2 service is the instance profile.
pub(super) fn method_of(iss: &Issuance) -> String {
    if iss.event_name == "AssumeRole"
        && iss.caller_type.as_deref() == Some("AWSService")
        && iss.caller_invoked_by.as_deref() == Some("ec2.amazonaws.com")
    {
        "EC2InstanceProfile".into()
    } else {
        iss.event_name.clone()
    }
}

pub(super) fn issued_ok(i: &Issuance) -> bool {
    i.error_code.as_deref().is_none_or(str::is_empty) && i.outcome.as_deref() != Some("Failure")
}

/// A total order of issuances: by time and event id, then by what the records say, so that
/// records sharing both (copied samples, exports) come out the same way whatever order the
/// store returned them in.
pub(super) fn tie_order(a: &Issuance, b: &Issuance) -> std::cmp::Ordering {
    fn key(i: &Issuance) -> impl Ord + '_ {
        (
            i.event_time,
            &i.event_id,
            &i.caller_arn,
            &i.caller_principal_id,
            &i.caller_user_name,
            &i.caller_access_key_id,
            &i.issued_access_key_id,
            &i.issued_arn,
            &i.source_ip,
            &i.user_agent,
        )
    }
    key(a).cmp(&key(b))
}
