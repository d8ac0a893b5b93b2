//! The sessions a hop of a chain touches, so that `investigate` gives every session on the
//! attacker's path its own section: the hop's caller, the session the hop started, and for
//! a console role switch the session the user switched from.
//!
//! The caller alone is not enough. A console `SwitchRole` (and `RenewRole`) is logged as
//! the *new* session, so the session the user left only shows up as the caller of the
//! `AssumeRole` the console made on the user's behalf; a federated console sign-in is one
//! hop whose caller (the SAML user) has no session in the data, while the console session
//! it started does; a password sign-in names the user, not the console session it began.

use crate::chain::Hop;
use crate::investigate::rows_of;
use backtrail_model::time::parse_iso;
use backtrail_model::{EventLookup, Millis, SessionKey};

/// A session on the path: ARN, creation date and its session rows (one per key).
pub(crate) struct PathSession {
    pub arn: String,
    pub creation: Option<Millis>,
    pub rows: Vec<SessionKey>,
}

/// The sessions `hop` touches, from the origin side onward: its caller, for a SwitchRole
/// or RenewRole the session behind the AssumeRole made for it, and the session it started.
pub(crate) fn hop_sessions<L: EventLookup>(
    lookup: &L,
    hop: &Hop,
) -> Result<Vec<PathSession>, L::Error> {
    let mut out = Vec::new();
    let mut add = |arn: &str, creation: Option<Millis>, key: Option<&str>| {
        rows_of(lookup, arn, creation, key).map(|rows| {
            out.push(PathSession {
                arn: arn.to_string(),
                creation,
                rows,
            })
        })
    };
    let c = &hop.caller;
    if let Some(arn) = &c.arn {
        let creation = c.session_creation_date.as_deref().and_then(parse_iso);
        add(arn, creation, c.access_key_id.as_deref())?;
    }
    if matches!(hop.method.as_str(), "SwitchRole" | "RenewRole") {
        for id in &hop.other_event_ids {
            let Some(e) = lookup.event_by_id(id)? else {
                continue;
            };
            if let ("AssumeRole", Some(arn), Some(creation)) = (
                e.event_name.as_str(),
                &e.identity.arn,
                e.identity.session_creation_date,
            ) {
                add(arn, Some(creation), None)?;
            }
        }
    }
    // A session has a creation date or a key; a password (CreateLoginProfile) is neither.
    if let Some(arn) = &hop.issued_arn
        && (hop.issued_creation_date.is_some() || hop.issued_access_key_id.is_some())
    {
        let creation = hop.issued_creation_date.as_deref().and_then(parse_iso);
        add(arn, creation, hop.issued_access_key_id.as_deref())?;
    }
    Ok(out)
}
