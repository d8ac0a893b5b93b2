//! Facts about the attacker's whole path, not only about one session's events: the chain's
//! hops and origin (which belong to no section: the AssumeRoleWithWebIdentity that issued a
//! GitHub Actions role session was signed by nobody), the sessions it spawned, and the calls
//! of every session on it. Each fact names the events that prove it.
//!
//! The API lists behind `data_access` and `exfiltration` and the error codes behind
//! `access_denied_burst` are reviewed data files (`data/data_access.tsv`,
//! `data/exfiltration.tsv`, `data/denied_codes.tsv`).

mod rules;
#[cfg(test)]
mod tests;

use crate::calls::{api_name, json_of, parse_denial};
use crate::catalog::Catalog;
use crate::chain::{OriginKind, WhoReport};
use crate::forward::SpawnedBy;
use crate::network::{EVIDENCE_IDS, list};
use backtrail_model::time::format_iso;
use backtrail_model::{Event, EventLookup, Millis};
use rules::{RULES, data_read, grantees};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Denied calls within [`BURST_WINDOW_MS`] that make an `access_denied_burst`. Tools that
/// probe permissions (Pacu, enumerate-iam, a pipeline trying what its role may do) are
/// refused tens of times a minute; a person meets a handful of denials in a day.
pub const BURST_CALLS: usize = 10;
/// Window of the burst count.
pub const BURST_WINDOW_MS: Millis = 5 * 60 * 1000;
/// The other way to a burst: one session whose calls were denied at least this often ...
pub const SHARE_MIN_DENIED: usize = 10;
/// ... and for at least this share (percent) of all its calls.
pub const SHARE_PERCENT: usize = 50;

/// What a path fact says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathFlagKind {
    CrossAccount,
    WebIdentity,
    SamlFederation,
    IdentityCenter,
    FederatedUser,
    ConsoleSession,
    MfaUsed,
    AccessDeniedBurst,
    DataAccess,
    Exfiltration,
}

/// One fact about the path, with the events that prove it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathFlag {
    pub kind: PathFlagKind,
    /// What was seen, in plain words, with the values that support it.
    pub detail: String,
    /// Ids of the events behind the fact (at most [`EVIDENCE_IDS`], the most telling
    /// first).
    pub evidence_event_ids: Vec<String>,
    /// Events behind the fact.
    pub count: u64,
}

/// One session on the path, as the facts see it.
pub struct PathSession<'a> {
    pub arn: Option<&'a str>,
    pub access_key_ids: &'a [String],
    pub spawned_by: Option<&'a SpawnedBy>,
    /// Its events (already restricted to the investigation's window and addresses).
    pub events: &'a [Event],
}

#[derive(Default)]
struct Evidence {
    ids: Vec<String>,
    count: u64,
    what: BTreeSet<String>,
}

impl Evidence {
    fn add(&mut self, id: Option<&str>, what: String) {
        self.count += 1;
        if let Some(id) = id.filter(|i| !i.is_empty())
            && self.ids.len() < EVIDENCE_IDS
            && !self.ids.iter().any(|x| x == id)
        {
            self.ids.push(id.to_string());
        }
        self.what.insert(what);
    }

    fn flag(self, kind: PathFlagKind, head: &str) -> Option<PathFlag> {
        (self.count > 0).then(|| PathFlag {
            kind,
            detail: format!("{head}: {}", list(self.what)),
            evidence_event_ids: self.ids,
            count: self.count,
        })
    }
}

/// The account of an ARN (`arn:aws:sts::ACCOUNT:...`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// `origin is WHAT IDENTIFIER of PROVIDER`.
fn origin_of(what: &str, o: &crate::chain::Origin) -> String {
    format!(
        "origin is {what} {} of {}",
        o.identifier,
        o.provider.as_deref().unwrap_or("an unnamed provider")
    )
}

fn is_sso_role(arn: &str) -> bool {
    arn.contains("/AWSReservedSSO_")
}

/// A call an AWS service made for the identity (its follow-up calls are not the caller's).
fn made_by_aws(ev: &Event) -> bool {
    ev.identity.invoked_by.is_some()
        || ev
            .source_ip
            .as_deref()
            .is_some_and(|s| s == "AWS Internal" || s.ends_with(".amazonaws.com"))
}

// ---- the facts -----------------------------------------------------------------------------------

/// The path facts of an investigation: the chains in `who`, and every session on the path
/// (the subject's, the chains', the spawned ones) with its events. `known_accounts` are the
/// store's accounts ("ours").
pub fn path_flags<L: EventLookup>(
    lookup: &L,
    who: &WhoReport,
    sessions: &[PathSession<'_>],
    known_accounts: &[String],
) -> Result<Vec<PathFlag>, L::Error> {
    let rules = &*RULES;
    let catalog = Catalog::builtin();
    let mut cross = Evidence::default();
    let mut web = Evidence::default();
    let mut saml = Evidence::default();
    let mut sso = Evidence::default();
    let mut fed = Evidence::default();
    let mut console = Evidence::default();
    let mut mfa = Evidence::default();
    let mut routes: Vec<String> = Vec::new();

    for chain in &who.sessions {
        let o = &chain.origin;
        let first_evidence = o.evidence_event_ids.first().map(String::as_str);
        // The accounts in the order the path visits them.
        let mut accounts: Vec<String> = Vec::new();
        let visit = |a: Option<&str>, accounts: &mut Vec<String>| {
            if let Some(a) = a.filter(|a| !a.is_empty())
                && accounts.last().map(String::as_str) != Some(a)
            {
                accounts.push(a.to_string());
            }
        };
        visit(o.account.as_deref(), &mut accounts);
        match o.kind {
            OriginKind::WebIdentityUser => {
                web.add(first_evidence, origin_of("the web identity", o));
            }
            OriginKind::SAMLUser => saml.add(first_evidence, origin_of("the SAML user", o)),
            OriginKind::IdentityCenterUser => sso.add(
                first_evidence,
                format!("origin is the Identity Center user {}", o.identifier),
            ),
            OriginKind::FederatedUser => fed.add(
                first_evidence,
                format!("origin is the federated user {}", o.identifier),
            ),
            OriginKind::AWSAccount => {
                cross.add(
                    first_evidence,
                    format!("origin is {} of another account", o.identifier),
                );
            }
            _ => {}
        }
        for hop in &chain.chain {
            let id = hop.event_id.as_deref();
            let issued = hop.issued_arn.as_deref().unwrap_or("?");
            let issued_account = hop
                .issued_arn
                .as_deref()
                .and_then(account_of)
                .or(chain.account.as_deref());
            // A console SwitchRole or RenewRole is logged as the session it starts, so its
            // caller's account is the new one: the path came from where it stood before.
            let before = accounts.last().cloned();
            let from = match (hop.caller.account.as_deref(), before.as_deref()) {
                (Some(c), Some(b)) if Some(c) == issued_account && b != c => Some(b),
                (Some(c), _) => Some(c),
                (None, b) => b,
            }
            .map(str::to_string);
            visit(hop.caller.account.as_deref(), &mut accounts);
            if let (Some(from), Some(to)) = (from.as_deref(), issued_account)
                && from != to
            {
                let foreign = if known_accounts.iter().any(|k| k == from) {
                    ""
                } else {
                    " (caller's account not in the store)"
                };
                cross.add(
                    id,
                    format!("{} from {from} into {to}{foreign}: {issued}", hop.method),
                );
            }
            visit(issued_account, &mut accounts);
            let time = hop.time.as_deref().unwrap_or("?");
            match hop.method.as_str() {
                "AssumeRoleWithWebIdentity" => {
                    web.add(id, format!("AssumeRoleWithWebIdentity at {time} into {issued}"))
                }
                "AssumeRoleWithSAML" if is_sso_role(issued) => sso.add(
                    id,
                    format!("AssumeRoleWithSAML at {time} into the Identity Center role session {issued}"),
                ),
                "AssumeRoleWithSAML" => {
                    saml.add(id, format!("AssumeRoleWithSAML at {time} into {issued}"))
                }
                "GetRoleCredentials" => sso.add(
                    id,
                    format!("GetRoleCredentials (Identity Center portal) at {time}"),
                ),
                "GetFederationToken" => {
                    fed.add(id, format!("GetFederationToken at {time}: {issued}"))
                }
                "ConsoleLogin" | "SwitchRole" | "RenewRole" | "GetSigninToken" => {
                    console.add(id, format!("{} at {time} into {issued}", hop.method));
                }
                _ => {}
            }
            if let Some(eid) = id
                && matches!(hop.method.as_str(), "ConsoleLogin" | "GetSessionToken")
                && let Some(ev) = lookup.event_by_id(eid)?
                && used_mfa(&ev)
            {
                mfa.add(Some(eid), format!("{} with MFA at {time}", hop.method));
            }
        }
        visit(chain.account.as_deref(), &mut accounts);
        if accounts.len() > 1 {
            routes.push(accounts.join(" → "));
        }
        if chain.arn.as_deref().is_some_and(is_sso_role) && chain.chain.is_empty() {
            sso.add(
                None,
                format!(
                    "the session {} is an Identity Center permission set",
                    chain.arn.as_deref().unwrap_or("?")
                ),
            );
        }
    }

    // Spawned sessions: their hand-over is part of the path too.
    for s in sessions {
        let Some(by) = s.spawned_by else { continue };
        let to = s.arn.and_then(account_of);
        let from = by.parent_arn.as_deref().and_then(account_of);
        if let (Some(from), Some(to)) = (from, to)
            && from != to
        {
            cross.add(
                Some(by.event_id.as_str()),
                format!(
                    "{} from {from} into {to}: {}",
                    by.method,
                    s.arn.unwrap_or("?")
                ),
            );
            routes.push(format!("{from} → {to} (spawned)"));
        }
        match by.method.as_str() {
            "GetFederationToken" => fed.add(
                Some(by.event_id.as_str()),
                format!(
                    "GetFederationToken at {}: {}",
                    by.time,
                    s.arn.unwrap_or("?")
                ),
            ),
            "CreateLoginProfile" | "UpdateLoginProfile" => {
                let login = by.other_event_ids.first().map(String::as_str);
                console.add(
                    login.or(Some(by.event_id.as_str())),
                    format!(
                        "console sign-in of {} with the password set by {} at {}",
                        s.arn.unwrap_or("?"),
                        by.method,
                        by.time
                    ),
                );
            }
            _ => {}
        }
    }

    // The sessions' own calls.
    let mut denied: Vec<&Event> = Vec::new();
    let mut share_hits: Vec<String> = Vec::new();
    let mut reads: BTreeMap<(String, String), (u64, BTreeSet<String>, String)> = BTreeMap::new();
    let mut data_ev = Evidence::default();
    let mut exfil = Evidence::default();
    for s in sessions {
        let mut session_denied = 0usize;
        for ev in s.events {
            let id = &ev.identity;
            let kind = id.kind.as_deref().unwrap_or("");
            let label = id.arn.as_deref().unwrap_or("?");
            if kind == "WebIdentityUser" {
                web.add(
                    Some(ev.event_id.as_str()),
                    format!("{} signed by the web identity {label}", ev.event_name),
                );
            }
            if kind == "SAMLUser" {
                saml.add(
                    Some(ev.event_id.as_str()),
                    format!("calls by the SAML user {label}"),
                );
            }
            if kind == "IdentityCenterUser" {
                sso.add(
                    Some(ev.event_id.as_str()),
                    format!("calls by the Identity Center user {label}"),
                );
            }
            if kind == "FederatedUser" {
                fed.add(
                    Some(ev.event_id.as_str()),
                    format!("calls by the federated user {label}"),
                );
            }
            if ev.session_credential_from_console == Some(true)
                || matches!(ev.event_name.as_str(), "ConsoleLogin" | "SwitchRole")
            {
                console.add(
                    Some(ev.event_id.as_str()),
                    format!("console session {label}"),
                );
            }
            if id.mfa_authenticated == Some(true) || used_mfa(ev) {
                mfa.add(
                    Some(ev.event_id.as_str()),
                    format!("{label} authenticated with MFA"),
                );
            }
            if ev
                .error_code
                .as_deref()
                .is_some_and(|c| rules.denied.contains(c))
            {
                denied.push(ev);
                session_denied += 1;
            }
            if let Some(rule) = data_read(rules, ev) {
                let e = reads
                    .entry((
                        ev.event_source.clone(),
                        api_name(&ev.event_name).to_string(),
                    ))
                    .or_insert_with(|| (0, BTreeSet::new(), rule.what.clone()));
                e.0 += 1;
                e.1.extend(catalog.targets(ev));
                data_ev.add(Some(ev.event_id.as_str()), String::new());
            }
            if !ev.failed()
                && let Some(rule) = rules.exfil.get(&(
                    ev.event_source.clone(),
                    api_name(&ev.event_name).to_string(),
                ))
            {
                let own = ev.recipient_account_id.clone();
                let ours = |a: &str| {
                    own.as_deref() == Some(a)
                        || id.account_id.as_deref() == Some(a)
                        || known_accounts.iter().any(|k| k == a)
                };
                let to = grantees(rule.shape, ev, &ours);
                if !to.is_empty() {
                    let target = catalog.targets(ev).into_iter().next().unwrap_or_default();
                    exfil.add(
                        Some(ev.event_id.as_str()),
                        format!(
                            "{} at {}: {} {target} opened to {}",
                            ev.event_name,
                            format_iso(ev.event_time),
                            rule.what,
                            to.join(", ")
                        ),
                    );
                }
            }
        }
        let calls = s.events.len();
        if session_denied >= SHARE_MIN_DENIED && session_denied * 100 >= calls * SHARE_PERCENT {
            share_hits.push(format!(
                "{} of the {calls} calls of {} were denied",
                session_denied,
                s.arn
                    .or(s.access_key_ids.first().map(String::as_str))
                    .unwrap_or("?")
            ));
        }
    }

    let mut flags = Vec::new();
    if cross.count > 0 {
        let mut head = String::from("the path crosses account boundaries");
        if !routes.is_empty() {
            routes.dedup();
            head.push_str(&format!(" ({})", routes.join("; ")));
        }
        flags.extend(cross.flag(PathFlagKind::CrossAccount, &head));
    }
    flags.extend(web.flag(
        PathFlagKind::WebIdentity,
        "web-identity (OIDC) federation on the path",
    ));
    flags.extend(saml.flag(PathFlagKind::SamlFederation, "SAML federation on the path"));
    flags.extend(sso.flag(
        PathFlagKind::IdentityCenter,
        "IAM Identity Center on the path",
    ));
    flags.extend(fed.flag(
        PathFlagKind::FederatedUser,
        "federated-user credentials on the path",
    ));
    flags.extend(console.flag(PathFlagKind::ConsoleSession, "console sessions on the path"));
    flags.extend(mfa.flag(PathFlagKind::MfaUsed, "MFA was used on the path"));
    flags.extend(burst(&denied, share_hits, catalog));
    if data_ev.count > 0 {
        let what = reads
            .into_iter()
            .map(|((source, name), (n, targets, what))| {
                let shown: Vec<String> = targets.iter().take(5).cloned().collect();
                let more = targets.len().saturating_sub(shown.len());
                format!(
                    "{} {name} ×{n} ({what}){}{}",
                    source.trim_end_matches(".amazonaws.com"),
                    if shown.is_empty() {
                        String::new()
                    } else {
                        format!(" on {}", shown.join(", "))
                    },
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                )
            });
        flags.push(PathFlag {
            kind: PathFlagKind::DataAccess,
            detail: format!(
                "{} successful reads of data or secrets: {}",
                data_ev.count,
                list(what)
            ),
            evidence_event_ids: data_ev.ids,
            count: data_ev.count,
        });
    }
    flags.extend(exfil.flag(
        PathFlagKind::Exfiltration,
        "data moved out of the organization's reach",
    ));
    Ok(flags)
}

/// ConsoleLogin with `MFAUsed: Yes`, or GetSessionToken with an MFA device and code.
fn used_mfa(ev: &Event) -> bool {
    match ev.event_name.as_str() {
        "ConsoleLogin" => json_of(ev.additional_event_data.as_deref())
            .and_then(|v| v.get("MFAUsed")?.as_str().map(|s| s == "Yes"))
            .unwrap_or(false),
        "GetSessionToken" => json_of(ev.request_parameters.as_deref())
            .is_some_and(|v| v.get("serialNumber").is_some() && !ev.failed()),
        _ => false,
    }
}

/// `access_denied_burst`: at least [`BURST_CALLS`] denied calls within
/// [`BURST_WINDOW_MS`] anywhere on the path, or a session with at least
/// [`SHARE_MIN_DENIED`] denied calls that are at least [`SHARE_PERCENT`]% of its calls.
fn burst(denied: &[&Event], share_hits: Vec<String>, catalog: &Catalog) -> Option<PathFlag> {
    let mut order: Vec<&Event> = denied.to_vec();
    order.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    order.dedup_by(|a, b| a.event_id == b.event_id);
    let (mut best, mut start, mut lo) = (0usize, 0usize, 0usize);
    for hi in 0..order.len() {
        while order[hi].event_time - order[lo].event_time > BURST_WINDOW_MS {
            lo += 1;
        }
        if hi + 1 - lo > best {
            best = hi + 1 - lo;
            start = lo;
        }
    }
    if best < BURST_CALLS && share_hits.is_empty() {
        return None;
    }
    // Denied actions and what they were refused on.
    let mut actions: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    for ev in &order {
        let denial = ev.error_message.as_deref().and_then(parse_denial);
        let action = denial
            .as_ref()
            .and_then(|d| d.action.clone())
            .unwrap_or_else(|| {
                format!(
                    "{}:{}",
                    ev.event_source.trim_end_matches(".amazonaws.com"),
                    ev.event_name
                )
            });
        let e = actions.entry(action).or_default();
        e.0 += 1;
        let targets = denial
            .and_then(|d| d.resource)
            .map(|r| vec![r])
            .unwrap_or_else(|| catalog.targets(ev));
        e.1.extend(targets);
    }
    let mut rule = format!(
        "rule: at least {BURST_CALLS} AccessDenied/UnauthorizedOperation-type errors within {} minutes, \
         or a session with at least {SHARE_MIN_DENIED} denied calls making {SHARE_PERCENT}% or more of its calls",
        BURST_WINDOW_MS / 60_000
    );
    if best >= BURST_CALLS {
        let w = &order[start..start + best];
        rule.push_str(&format!(
            "; {best} denied within {} minutes from {} to {}",
            BURST_WINDOW_MS / 60_000,
            format_iso(w[0].event_time),
            format_iso(w[best - 1].event_time)
        ));
    }
    for s in &share_hits {
        rule.push_str(&format!("; {s}"));
    }
    let what = actions.into_iter().map(|(a, (n, t))| {
        let shown: Vec<String> = t.iter().take(3).cloned().collect();
        if shown.is_empty() {
            format!("{a} ×{n}")
        } else {
            format!("{a} ×{n} on {}", shown.join(", "))
        }
    });
    let burst_ids: Vec<String> = order[start..start + best]
        .iter()
        .chain(order.iter())
        .map(|e| e.event_id.clone())
        .fold(Vec::new(), |mut v, id| {
            if v.len() < EVIDENCE_IDS && !v.contains(&id) {
                v.push(id);
            }
            v
        });
    Some(PathFlag {
        kind: PathFlagKind::AccessDeniedBurst,
        detail: format!(
            "{} denied calls on the path ({rule}); denied: {}",
            order.len(),
            list(what)
        ),
        evidence_event_ids: burst_ids,
        count: order.len() as u64,
    })
}
