//! Where the walk goes after a hop: the caller as the next principal, or the origin the
//! chain starts at (a user, root, an external identity, a service, another account).

use super::cursor::Cursor;
use super::walk::{Next, Walker, issued_ok};
use super::{Confidence, ContinueAt, NEAR_MS, Origin, OriginKind, last_segment};
use crate::subject::{arn_resource, assumed_role_parts, role_name};
use backtrail_model::time::format_iso;
use backtrail_model::{EventLookup, Issuance};

impl<L: EventLookup> Walker<'_, L> {
    /// The next principal: the caller of `iss`, or an origin when the caller is not issued
    /// by anything in AWS (external identities, services).
    pub(super) fn after_caller(&mut self, cur: &Cursor, iss: &Issuance) -> Next {
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
            Some("WebIdentityUser") => {
                Next::Done(federated_origin(OriginKind::WebIdentityUser, iss, evidence))
            }
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
    pub(super) fn is_console(&self, c: &Cursor) -> bool {
        let Some(k) = &c.key else { return false };
        self.lookup.sessions_by_key(k).is_ok_and(|rows| {
            rows.iter()
                .any(|r| r.from_console && r.arn == c.arn && r.creation_date == c.creation)
        })
    }

    /// The role owner's copy names only the foreign account: stop there and say where the
    /// caller's copy lives.
    pub(super) fn foreign_caller(&mut self, iss: &Issuance) -> Origin {
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
    pub(super) fn after_switch(&mut self, iss: &Issuance, pair: &[Issuance]) -> Next {
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
    pub(super) fn after_password(
        &mut self,
        cur: &Cursor,
        login: &Issuance,
    ) -> Result<Next, L::Error> {
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
        set.sort_by(super::walk::tie_order);
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

    pub(super) fn saml_origin(&mut self, iss: &Issuance, evidence: Vec<String>) -> Origin {
        let role = iss.role_arn.as_deref().and_then(role_name).or_else(|| {
            iss.issued_arn
                .as_deref()
                .and_then(assumed_role_parts)
                .map(|p| p.0)
        });
        if role.is_some_and(|r| r.starts_with("AWSReservedSSO_")) {
            return self.identity_center_origin(iss, evidence);
        }
        federated_origin(OriginKind::SAMLUser, iss, evidence)
    }

    /// Identity Center users: the `onBehalfOf` user id when the record has it (read from the
    /// record itself; issuances do not keep it), else the SAML subject / user name.
    pub(super) fn identity_center_origin(
        &mut self,
        iss: &Issuance,
        evidence: Vec<String>,
    ) -> Origin {
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

pub(super) fn kind_of_arn(arn: &str) -> Option<&'static str> {
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

pub(super) fn looks_like_instance_id(s: &str) -> bool {
    s.strip_prefix("i-")
        .is_some_and(|h| (8..=17).contains(&h.len()) && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

pub(super) fn user_origin(cur: &Cursor, evidence: Vec<String>) -> Origin {
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

pub(super) fn root_origin(cur: &Cursor, evidence: Vec<String>) -> Origin {
    Origin {
        kind: OriginKind::Root,
        identifier: cur.arn.clone().unwrap_or_default(),
        account: cur.account(),
        provider: None,
        evidence_event_ids: evidence,
    }
}

pub(super) fn unknown_origin(cur: &Cursor) -> Origin {
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
pub(super) fn service_origin(
    cur: &Cursor,
    svc: &str,
    session: Option<&str>,
    evidence: Vec<String>,
) -> Origin {
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

/// The origin of a SAML or web-identity federation: the subject the provider asserted (else
/// the caller's name or principal id), in the account that received the call.
fn federated_origin(kind: OriginKind, iss: &Issuance, evidence: Vec<String>) -> Origin {
    Origin {
        kind,
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
