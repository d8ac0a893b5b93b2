//! Forward from the path: the credentials a session on the path issued and that were then
//! used. `who` walks back from a key to the key that minted it; an intruder who mints a new
//! key, a role session or a console password and goes on with it is still on the path, so
//! `investigate` follows those too (recursively, within [`Bounds`]).
//!
//! What counts as issued, read from the issuing records the store derived at ingest:
//! - `CreateAccessKey`: the returned key, as soon as a record is signed with it;
//! - `AssumeRole`, `GetSessionToken`, `GetFederationToken`: the returned key, used with the
//!   issued ARN and a creation date within [`SKEW_MS`] of the call (temporary key ids are
//!   recycled, so the key alone is not enough);
//! - `CreateLoginProfile`, `UpdateLoginProfile`: a later successful `ConsoleLogin` of that
//!   user, and the console session it opened (same ARN, creation date within [`SKEW_MS`] of
//!   the login), with the user's keyless sign-in records.

use backtrail_model::time::format_iso;
use backtrail_model::{Event, EventLookup, Issuance, Millis, SessionKey, SessionSummary, Window};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Clock skew allowed between an issuing call and the first use or creation date of what
/// it issued (CloudTrail times are per service and rounded to the second).
pub const SKEW_MS: Millis = 5 * 60 * 1000;

/// Calls whose issued credentials the forward walk follows.
pub const FORWARD_EVENTS: &[&str] = &[
    "CreateAccessKey",
    "AssumeRole",
    "GetSessionToken",
    "GetFederationToken",
    "CreateLoginProfile",
    "UpdateLoginProfile",
];

/// How far the forward walk goes. A bound that stops it is reported in
/// [`Forward::cut`], never silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    /// Generations followed from a session on the path (1: what the path's sessions
    /// issued; 2: also what those issued; ...).
    pub max_depth: u32,
    /// Issuing calls followed per session.
    pub max_per_session: usize,
    /// Spawned sessions in one investigation.
    pub max_sessions: usize,
}

impl Bounds {
    /// Three generations, 100 issuing calls per session, 50 spawned sessions: more than any
    /// intrusion we have seen (a Stratus Red Team run from one key: 14), few enough that an
    /// automation account that mints a session per minute cannot bury the report.
    pub const DEFAULT: Bounds = Bounds {
        max_depth: 3,
        max_per_session: 100,
        max_sessions: 50,
    };
}

/// The forward walk's limits and where they cut it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    pub bounds: Bounds,
    /// Issuing calls of chain sessions (not the subject's or spawned ones) are followed
    /// from this time on: the earliest hop of the chains, when the intruder is known to be
    /// on the path.
    pub chain_sessions_from: Option<String>,
    /// Each place a bound stopped the walk, in words.
    pub cut: Vec<String>,
}

/// Where a spawned session came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnedBy {
    /// The issuing call: CreateAccessKey, AssumeRole, GetSessionToken, GetFederationToken,
    /// CreateLoginProfile or UpdateLoginProfile.
    pub method: String,
    /// The issuing call's event id.
    pub event_id: String,
    /// Records that complete the hand-over (the ConsoleLogin that used a login profile).
    #[serde(default)]
    pub other_event_ids: Vec<String>,
    /// Time of the issuing call.
    pub time: String,
    /// The session that made the issuing call.
    pub parent_arn: Option<String>,
    pub parent_creation_date: Option<String>,
    pub parent_access_key_ids: Vec<String>,
    /// 1 for what a session of the subject's chain issued, 2 for what that issued, ...
    pub depth: u32,
}

/// The session that issued: what the walk knows of it.
pub struct Parent<'a> {
    pub arn: Option<&'a str>,
    pub creation_date: Option<Millis>,
    pub access_key_ids: &'a [String],
    /// Depth of the parent (0 for sessions of the chain itself).
    pub depth: u32,
    /// Issuing calls before this time are not followed.
    pub since: Option<Millis>,
}

/// One session the parent issued and that was used.
#[derive(Debug, Clone)]
pub struct Found {
    pub by: SpawnedBy,
    pub arn: Option<String>,
    pub creation_date: Option<Millis>,
    pub rows: Vec<SessionKey>,
}

fn near(a: Millis, b: Millis) -> bool {
    (a - b).abs() <= SKEW_MS
}

/// Session rows that used `iss`'s issued key after the call.
fn key_rows<L: EventLookup>(lookup: &L, iss: &Issuance) -> Result<Vec<SessionSummary>, L::Error> {
    let Some(key) = iss
        .issued_access_key_id
        .as_deref()
        .filter(|k| !k.is_empty())
    else {
        return Ok(Vec::new());
    };
    let temporary = iss.event_name != "CreateAccessKey";
    let until = iss.expiration.unwrap_or(Millis::MAX);
    Ok(lookup
        .sessions_by_key(key)?
        .into_iter()
        .filter(|s| s.last_seen + SKEW_MS >= iss.event_time && s.first_seen <= until)
        .filter(|s| {
            iss.issued_arn.is_none()
                || s.arn.is_none()
                || s.arn.as_deref() == iss.issued_arn.as_deref()
        })
        .filter(|s| !temporary || s.creation_date.is_none_or(|c| near(c, iss.event_time)))
        .collect())
}

/// Console sessions opened with a login profile `iss` created or reset, and their
/// ConsoleLogin ids.
fn login_rows<L: EventLookup>(
    lookup: &L,
    iss: &Issuance,
    until: Millis,
) -> Result<Vec<(String, Vec<SessionSummary>)>, L::Error> {
    let Some(user) = iss.issued_arn.as_deref() else {
        return Ok(Vec::new());
    };
    let mut logins: Vec<Issuance> = lookup
        .issuances_by_issued_arn(user)?
        .into_iter()
        .filter(|l| l.event_name == "ConsoleLogin")
        .filter(|l| l.event_time >= iss.event_time && l.event_time <= until)
        .filter(|l| l.error_code.is_none() && l.outcome.as_deref() != Some("Failure"))
        .collect();
    logins.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let sessions = lookup.sessions_by_arn(user)?;
    Ok(logins
        .into_iter()
        .map(|l| {
            // The console's keys (creation date = the login), and the keyless row that
            // holds the user's sign-in records themselves.
            let rows = sessions
                .iter()
                .filter(|s| {
                    s.creation_date.is_some_and(|c| near(c, l.event_time))
                        || (s.creation_date.is_none() && s.access_key_id.is_none())
                })
                .cloned()
                .collect();
            (l.event_id, rows)
        })
        .collect())
}

/// What `parent` issued among its `events` (already restricted to the investigation's
/// window and addresses) and what of it was used. `until` bounds the logins that may use a
/// login profile. The second value counts issuing calls left out by
/// [`Bounds::max_per_session`].
pub fn spawned<L: EventLookup>(
    lookup: &L,
    parent: &Parent<'_>,
    events: &[Event],
    bounds: &Bounds,
    until: Millis,
) -> Result<(Vec<Found>, usize), L::Error> {
    let mut issuing: Vec<&Event> = events
        .iter()
        .filter(|e| !e.failed() && FORWARD_EVENTS.contains(&e.event_name.as_str()))
        .filter(|e| parent.since.is_none_or(|s| e.event_time >= s))
        .collect();
    issuing.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let left_out = issuing.len().saturating_sub(bounds.max_per_session);
    issuing.truncate(bounds.max_per_session);
    if issuing.is_empty() {
        return Ok((Vec::new(), left_out));
    }
    let ids: BTreeSet<&str> = issuing.iter().map(|e| e.event_id.as_str()).collect();
    let window = Window {
        start: issuing[0].event_time,
        end: issuing[issuing.len() - 1].event_time,
    };
    let callers: BTreeSet<&str> = issuing
        .iter()
        .filter_map(|e| e.identity.arn.as_deref())
        .collect();
    let mut issuances: BTreeMap<String, Issuance> = BTreeMap::new();
    for arn in callers {
        for iss in lookup.issuances_by_caller_arn(arn, window)? {
            if ids.contains(iss.event_id.as_str()) {
                issuances.entry(iss.event_id.clone()).or_insert(iss);
            }
        }
    }
    let mut issuances: Vec<Issuance> = issuances.into_values().collect();
    issuances.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let by = |iss: &Issuance, other: Vec<String>| SpawnedBy {
        method: iss.event_name.clone(),
        event_id: iss.event_id.clone(),
        other_event_ids: other,
        time: format_iso(iss.event_time),
        parent_arn: parent.arn.map(str::to_string),
        parent_creation_date: parent.creation_date.map(format_iso),
        parent_access_key_ids: parent.access_key_ids.to_vec(),
        depth: parent.depth + 1,
    };
    let mut found = Vec::new();
    for iss in &issuances {
        let groups: Vec<(Vec<String>, Vec<SessionSummary>)> = match iss.event_name.as_str() {
            "CreateLoginProfile" | "UpdateLoginProfile" => login_rows(lookup, iss, until)?
                .into_iter()
                .map(|(id, rows)| (vec![id], rows))
                .collect(),
            _ => vec![(Vec::new(), key_rows(lookup, iss)?)],
        };
        let login = matches!(
            iss.event_name.as_str(),
            "CreateLoginProfile" | "UpdateLoginProfile"
        );
        for (other, rows) in groups {
            if login {
                // One console session: its keys and the sign-in records.
                let creation_date = rows.iter().filter_map(|s| s.creation_date).min();
                let arn = iss.issued_arn.clone();
                let mut rows: Vec<SessionKey> = rows.iter().map(SessionSummary::key).collect();
                rows.sort();
                rows.dedup();
                if !rows.is_empty() {
                    found.push(Found {
                        by: by(iss, other),
                        arn,
                        creation_date,
                        rows,
                    });
                }
                continue;
            }
            // One section per (ARN, creation date): a console session has many keys.
            let mut per: BTreeMap<(Option<String>, Option<Millis>), Vec<SessionKey>> =
                BTreeMap::new();
            for s in rows {
                per.entry((s.arn.clone(), s.creation_date))
                    .or_default()
                    .push(s.key());
            }
            for ((arn, creation_date), mut rows) in per {
                rows.sort();
                rows.dedup();
                found.push(Found {
                    by: by(iss, other.clone()),
                    arn,
                    creation_date,
                    rows,
                });
            }
        }
    }
    Ok((found, left_out))
}

/// A session on the path the walk starts from.
pub struct Start<'a> {
    pub arn: Option<&'a str>,
    pub creation_date: Option<Millis>,
    pub access_key_ids: &'a [String],
    /// Its events, restricted as the investigation's.
    pub events: &'a [Event],
    /// A session of the chain (not the subject's): followed from
    /// [`Forward::chain_sessions_from`] on.
    pub chain: bool,
}

/// A spawned session with its events.
pub type Spawned = (Found, Vec<Event>);

fn label(arn: Option<&str>, keys: &[String]) -> String {
    arn.map(str::to_string)
        .or_else(|| keys.first().cloned())
        .unwrap_or_else(|| "a session".into())
}

/// Follows what `starts` issued, recursively within `bounds`. Sessions already in `seen`
/// (rows of the path) are not added again; `keep` restricts a spawned session's events as
/// the investigation restricts every section's. `chain_from` is the earliest hop of the
/// chains; `until` bounds the console logins that may use a login profile.
pub fn walk<L: EventLookup>(
    lookup: &L,
    starts: &[Start<'_>],
    seen: &mut BTreeSet<SessionKey>,
    keep: &dyn Fn(&Event) -> bool,
    bounds: &Bounds,
    chain_from: Option<Millis>,
    until: Millis,
) -> Result<(Vec<Spawned>, Forward), L::Error> {
    let mut out: Vec<Spawned> = Vec::new();
    let mut cut: Vec<String> = Vec::new();
    let mut dropped = 0usize;
    let mut follow = |parent: &Parent<'_>,
                      events: &[Event],
                      out_len: usize,
                      cut: &mut Vec<String>,
                      dropped: &mut usize|
     -> Result<Vec<Spawned>, L::Error> {
        let name = label(parent.arn, parent.access_key_ids);
        if parent.depth >= bounds.max_depth {
            let n = events
                .iter()
                .filter(|e| !e.failed() && FORWARD_EVENTS.contains(&e.event_name.as_str()))
                .count();
            if n > 0 {
                cut.push(format!(
                    "{name}: {n} issuing calls not followed (at most {} generations)",
                    bounds.max_depth
                ));
            }
            return Ok(Vec::new());
        }
        let (found, left_out) = spawned(lookup, parent, events, bounds, until)?;
        if left_out > 0 {
            cut.push(format!(
                "{name}: {left_out} issuing calls not followed (at most {} per session)",
                bounds.max_per_session
            ));
        }
        let mut new = Vec::new();
        for f in found {
            let fresh: Vec<SessionKey> = f
                .rows
                .iter()
                .filter(|r| !seen.contains(*r))
                .cloned()
                .collect();
            if fresh.is_empty() {
                continue;
            }
            if out_len + new.len() >= bounds.max_sessions {
                *dropped += 1;
                continue;
            }
            seen.extend(fresh.iter().cloned());
            let events: Vec<Event> = lookup
                .events_of_sessions(&fresh)?
                .into_iter()
                .filter(|e| keep(e))
                .collect();
            new.push((Found { rows: fresh, ..f }, events));
        }
        Ok(new)
    };
    for s in starts {
        let parent = Parent {
            arn: s.arn,
            creation_date: s.creation_date,
            access_key_ids: s.access_key_ids,
            depth: 0,
            since: if s.chain { chain_from } else { None },
        };
        let new = follow(&parent, s.events, out.len(), &mut cut, &mut dropped)?;
        out.extend(new);
    }
    let mut i = 0;
    while i < out.len() {
        let (f, events) = &out[i];
        let keys: Vec<String> = f
            .rows
            .iter()
            .filter_map(|r| r.access_key_id.clone())
            .collect();
        let parent = Parent {
            arn: f.arn.as_deref(),
            creation_date: f.creation_date,
            access_key_ids: &keys,
            depth: f.by.depth,
            since: None,
        };
        let new = follow(&parent, events, out.len(), &mut cut, &mut dropped)?;
        out.extend(new);
        i += 1;
    }
    if dropped > 0 {
        cut.push(format!(
            "{dropped} spawned sessions not added (at most {} per investigation)",
            bounds.max_sessions
        ));
    }
    Ok((
        out,
        Forward {
            bounds: *bounds,
            chain_sessions_from: chain_from.map(format_iso),
            cut,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_model::{Identity, MemoryLookup};

    fn event(id: &str, t: Millis, name: &str, key: &str, arn: &str) -> Event {
        Event {
            event_time: t,
            event_id: id.into(),
            event_name: name.into(),
            event_source: "iam.amazonaws.com".into(),
            identity: Identity {
                arn: Some(arn.into()),
                access_key_id: Some(key.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn summary(key: &str, arn: &str, creation: Option<Millis>, first: Millis) -> SessionSummary {
        SessionSummary {
            access_key_id: Some(key.into()),
            arn: Some(arn.into()),
            creation_date: creation,
            first_seen: first,
            last_seen: first + 60_000,
            events: 3,
            ..Default::default()
        }
    }

    const USER: &str = "arn:aws:iam::111122223333:user/marco";
    const ROLE: &str = "arn:aws:sts::111122223333:assumed-role/ops/x";

    #[test]
    fn follows_new_keys_and_sessions_but_not_recycled_ids_or_failures() {
        let t = 1_000_000_000_000;
        let events = vec![
            event("e1", t, "CreateAccessKey", "AKIAOLD", USER),
            event("e2", t + 10_000, "AssumeRole", "AKIAOLD", USER),
            {
                let mut e = event("e3", t + 20_000, "CreateAccessKey", "AKIAOLD", USER);
                e.error_code = Some("AccessDenied".into());
                e
            },
        ];
        let iss = |id: &str, name: &str, at: Millis, key: &str, arn: &str| Issuance {
            event_time: at,
            event_id: id.into(),
            event_name: name.into(),
            caller_arn: Some(USER.into()),
            issued_access_key_id: Some(key.into()),
            issued_arn: Some(arn.into()),
            ..Default::default()
        };
        let lookup = MemoryLookup::new(
            Vec::new(),
            vec![
                iss("e1", "CreateAccessKey", t, "AKIANEW", USER),
                iss("e2", "AssumeRole", t + 10_000, "ASIAROLE", ROLE),
            ],
            vec![
                summary("AKIANEW", USER, None, t + 60_000),
                summary("ASIAROLE", ROLE, Some(t + 10_000), t + 70_000),
                // The same temporary id, recycled a day later for another session.
                summary("ASIAROLE", ROLE, Some(t + 86_400_000), t + 86_400_000),
            ],
        );
        let keys = vec!["AKIAOLD".to_string()];
        let parent = Parent {
            arn: Some(USER),
            creation_date: None,
            access_key_ids: &keys,
            depth: 0,
            since: None,
        };
        let (found, left) =
            spawned(&lookup, &parent, &events, &Bounds::DEFAULT, Millis::MAX).unwrap();
        assert_eq!(left, 0);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].by.method, "CreateAccessKey");
        assert_eq!(found[0].rows[0].access_key_id.as_deref(), Some("AKIANEW"));
        assert_eq!(found[1].by.event_id, "e2");
        assert_eq!(found[1].creation_date, Some(t + 10_000));
        assert_eq!(found[1].by.depth, 1);

        // Each generation mints the next key; one generation is followed, the cut said.
        let gen2 = vec![event("e4", t + 90_000, "CreateAccessKey", "AKIANEW", USER)];
        let mut chained = lookup.clone();
        chained.events = gen2.clone();
        chained
            .issuances
            .push(iss("e4", "CreateAccessKey", t + 90_000, "AKIATHIRD", USER));
        chained
            .sessions
            .push(summary("AKIATHIRD", USER, None, t + 120_000));
        let start = [Start {
            arn: Some(USER),
            creation_date: None,
            access_key_ids: &keys,
            events: &events,
            chain: false,
        }];
        let one = Bounds {
            max_depth: 1,
            ..Bounds::DEFAULT
        };
        let mut seen = BTreeSet::new();
        let (out, walk_info) = walk(
            &chained,
            &start,
            &mut seen,
            &|_| true,
            &one,
            None,
            Millis::MAX,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(walk_info.cut.len(), 1, "{:?}", walk_info.cut);
        assert!(walk_info.cut[0].contains("at most 1 generations"));
        let deeper = Bounds {
            max_depth: 2,
            ..Bounds::DEFAULT
        };
        let mut seen = BTreeSet::new();
        let (out, walk_info) = walk(
            &chained,
            &start,
            &mut seen,
            &|_| true,
            &deeper,
            None,
            Millis::MAX,
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[2].0.by.depth, 2);
        assert!(walk_info.cut.is_empty());

        let tight = Bounds {
            max_per_session: 1,
            ..Bounds::DEFAULT
        };
        let (found, left) = spawned(&lookup, &parent, &events, &tight, Millis::MAX).unwrap();
        assert_eq!((found.len(), left), (1, 1));
    }
}
