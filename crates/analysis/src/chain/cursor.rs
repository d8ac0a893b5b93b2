//! The principal the walk explains next, and the calls that can start each kind of session.

use crate::subject::{arn_account, arn_resource};
use backtrail_model::time::format_iso;
use backtrail_model::{Issuance, Millis};

/// A principal whose credentials the walk explains next.
#[derive(Debug, Clone, Default)]
pub(super) struct Cursor {
    pub(super) kind: Option<String>,
    pub(super) arn: Option<String>,
    pub(super) key: Option<String>,
    pub(super) creation: Option<Millis>,
    pub(super) principal_id: Option<String>,
    pub(super) account: Option<String>,
    pub(super) user_name: Option<String>,
    pub(super) issuer_arn: Option<String>,
    pub(super) invoked_by: Option<String>,
    /// Console session: signed with console-minted keys, issued by a sign-in.
    pub(super) console: bool,
    /// No creationDate known: the session began at or before this time (latest sign-in).
    pub(super) before: Option<Millis>,
    /// Restricts the issuing events considered (RenewRole: the previous switch).
    pub(super) only: Option<&'static [&'static str]>,
    /// When the principal was seen acting.
    pub(super) seen_at: Option<Millis>,
    /// `inScopeOf` of the session's calls: issuer type and resource.
    pub(super) in_scope: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    Role,
    Federated,
    User,
    Root,
    Other,
}

impl Cursor {
    pub(super) fn class(&self) -> Class {
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

    pub(super) fn label(&self) -> String {
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

    pub(super) fn account(&self) -> Option<String> {
        self.account.clone().or_else(|| {
            self.arn
                .as_deref()
                .and_then(arn_account)
                .map(str::to_string)
        })
    }

    /// The caller of an issuing record, as the next principal to explain.
    pub(super) fn caller_of(iss: &Issuance) -> Cursor {
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

/// Methods that start each kind of session.
pub(super) const ROLE_METHODS: &[&str] = &[
    "AssumeRole",
    "AssumeRoleWithSAML",
    "AssumeRoleWithWebIdentity",
    "GetRoleCredentials",
    "SwitchRole",
    "RenewRole",
    "ConsoleLogin",
    "GetSigninToken",
];
pub(super) const FEDERATED_METHODS: &[&str] =
    &["GetFederationToken", "ConsoleLogin", "GetSigninToken"];
pub(super) const USER_METHODS: &[&str] = &["GetSessionToken", "ConsoleLogin"];
pub(super) const ROOT_METHODS: &[&str] = &["ConsoleLogin", "GetSessionToken", "AssumeRoot"];
pub(super) const SWITCH_METHODS: &[&str] = &["SwitchRole", "RenewRole"];
/// Sign-ins: they return no key; the console mints keys that carry the sign-in's time.
pub(super) const CONSOLE_METHODS: &[&str] =
    &["ConsoleLogin", "SwitchRole", "RenewRole", "GetSigninToken"];
/// What issues a console session when a sign-in and an AssumeRole fit equally.
pub(super) const CONSOLE_PREFERRED: &[&str] = &[
    "ConsoleLogin",
    "SwitchRole",
    "RenewRole",
    "GetSigninToken",
    "AssumeRoleWithSAML",
];
