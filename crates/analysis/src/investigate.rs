//! Who + what + where in one report: the subject's sessions, every session on their
//! chains and every session those spawned (the attacker's whole path), each with its
//! activity and network sources, plus a total and the facts about the path as a whole.

use crate::activity::{Activity, summarize};
use crate::catalog::Catalog;
use crate::chain::{SessionChain, WhoReport};
use crate::forward::{self, Forward, SpawnedBy};
use crate::network::{GeoLookup, NetworkSources, analyze};
use crate::path::hop_sessions;
use crate::path_facts::{PathFlag, PathSession, path_flags};
use backtrail_model::time::{format_iso, parse_iso};
use backtrail_model::{Event, EventLookup, SessionKey, Window};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// The whole investigation, documented in docs/report-format.md.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Investigation {
    pub subject: String,
    /// The identity chains, as `backtrail who` prints them.
    pub who: WhoReport,
    /// One section per session: the subject's first, then the sessions along its chain
    /// from the origin onward, then the sessions the path spawned (in the order found).
    pub sessions: Vec<SessionSection>,
    /// Activity and network sources over every event of every section.
    pub combined: Body,
    /// Facts about the whole path: its hops and origin, the sessions it spawned and every
    /// section's calls (see path_facts.rs).
    #[serde(default)]
    pub path_flags: Vec<PathFlag>,
    /// The forward walk's bounds and where they cut it (`investigate` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<Forward>,
    /// The time window the events were restricted to, if any.
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    /// The source addresses the events were restricted to (empty: all).
    #[serde(default)]
    pub source_ip_filter: Vec<String>,
}

/// What one session did, and from where.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionSection {
    /// `subject`, `chain` (a session on the subject's identity chain) or `spawned` (a
    /// session a session on the path issued and that was used).
    pub role: String,
    pub arn: Option<String>,
    pub creation_date: Option<String>,
    /// Every key of the session (console sessions: all of the login's keys).
    pub access_key_ids: Vec<String>,
    /// For `spawned` sections: the issuing call and the parent session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawned_by: Option<SpawnedBy>,
    #[serde(flatten)]
    pub body: Body,
}

/// Activity and network sources of a set of events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Body {
    pub activity: Activity,
    /// Where the calls came from (`origins` in the JSON contract).
    #[serde(rename = "origins")]
    pub sources: NetworkSources,
}

/// A section to build: role, ARN, creation date and the session's rows.
type Planned = (String, Option<String>, Option<i64>, Vec<SessionKey>);

/// A planned section with its issuing call (spawned sections) and its events.
type Built = (Planned, Option<SpawnedBy>, Vec<Event>);

/// Everything `investigate` needs besides the store.
pub struct Options<'a> {
    pub window: Option<Window>,
    /// Only calls from these source addresses (empty: all). Separates an intruder's calls
    /// from the owner's when both used the same credentials (a leaked key, exfiltrated
    /// instance credentials).
    pub source_ips: Vec<String>,
    pub geo: Option<&'a dyn GeoLookup>,
    /// Whether to add the sessions along the chain, the sessions they spawned and the path
    /// facts (`what`/`where` look at the subject only).
    pub include_chain: bool,
}

/// The session rows (one per access key) of the session with this ARN and creation date;
/// for long-term keys (no creation date), the rows of that key.
pub(crate) fn rows_of<L: EventLookup>(
    lookup: &L,
    arn: &str,
    creation: Option<i64>,
    key: Option<&str>,
) -> Result<Vec<SessionKey>, L::Error> {
    let mut out: Vec<SessionKey> = lookup
        .sessions_by_arn(arn)?
        .into_iter()
        .filter(|s| s.creation_date == creation)
        .filter(|s| creation.is_some() || key.is_none() || s.access_key_id.as_deref() == key)
        .map(|s| s.key())
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}

fn subject_rows<L: EventLookup>(lookup: &L, s: &SessionChain) -> Result<Vec<SessionKey>, L::Error> {
    let creation = s.creation_date.as_deref().and_then(parse_iso);
    let Some(arn) = &s.arn else {
        return Ok(s
            .access_key_ids
            .iter()
            .map(|k| SessionKey {
                access_key_id: Some(k.clone()),
                arn: None,
                creation_date: creation,
            })
            .collect());
    };
    let keys: BTreeSet<&str> = s.access_key_ids.iter().map(String::as_str).collect();
    Ok(rows_of(lookup, arn, creation, None)?
        .into_iter()
        .filter(|r| {
            creation.is_some() || r.access_key_id.as_deref().is_none_or(|k| keys.contains(k))
        })
        .collect())
}

fn body(events: &[Event], known: &[String], geo: Option<&dyn GeoLookup>) -> Body {
    Body {
        activity: summarize(events, Catalog::builtin()),
        sources: analyze(events, known, geo),
    }
}

/// The sessions the path spawned ([`forward::walk`] from every planned section), as
/// sections to add.
fn follow_forward<L: EventLookup>(
    lookup: &L,
    who: &WhoReport,
    found: &[Built],
    seen: &mut BTreeSet<SessionKey>,
    keep: &dyn Fn(&Event) -> bool,
    until: i64,
) -> Result<(Vec<Built>, Forward), L::Error> {
    let keys: Vec<Vec<String>> = found
        .iter()
        .map(|((_, _, _, rows), _, _)| {
            rows.iter()
                .filter_map(|r| r.access_key_id.clone())
                .collect()
        })
        .collect();
    let starts: Vec<forward::Start> = found
        .iter()
        .zip(&keys)
        .map(|((p, _, events), keys)| forward::Start {
            arn: p.1.as_deref(),
            creation_date: p.2,
            access_key_ids: keys,
            events,
            chain: p.0 == "chain",
        })
        .collect();
    let chain_from = who
        .sessions
        .iter()
        .flat_map(|s| &s.chain)
        .filter_map(|h| h.time.as_deref().and_then(parse_iso))
        .min();
    let (spawned, walk) = forward::walk(
        lookup,
        &starts,
        seen,
        keep,
        &forward::Bounds::DEFAULT,
        chain_from,
        until,
    )?;
    let sections = spawned
        .into_iter()
        .map(|(f, events)| {
            (
                ("spawned".to_string(), f.arn, f.creation_date, f.rows),
                Some(f.by),
                events,
            )
        })
        .collect();
    Ok((sections, walk))
}

/// Builds the investigation of the sessions in `who`.
pub fn investigate<L: EventLookup>(
    lookup: &L,
    who: WhoReport,
    opts: &Options<'_>,
) -> Result<Investigation, L::Error> {
    let known = lookup.known_accounts()?;
    let mut seen: BTreeSet<SessionKey> = BTreeSet::new();
    let mut planned: Vec<Planned> = Vec::new();
    let mut plan =
        |role: &str, arn: Option<String>, creation: Option<i64>, rows: Vec<SessionKey>| {
            let mut fresh: Vec<SessionKey> = rows
                .into_iter()
                .filter(|r| seen.insert(r.clone()))
                .collect();
            if fresh.is_empty() {
                return;
            }
            // One section per session: rows of a session already planned join it.
            let same = |p: &&mut Planned| creation.is_some() && p.1 == arn && p.2 == creation;
            match planned.iter_mut().find(same) {
                Some(p) => {
                    p.3.append(&mut fresh);
                    p.3.sort();
                }
                None => planned.push((role.to_string(), arn, creation, fresh)),
            }
        };
    for s in &who.sessions {
        let rows = subject_rows(lookup, s)?;
        plan(
            "subject",
            s.arn.clone(),
            s.creation_date.as_deref().and_then(parse_iso),
            rows,
        );
    }
    if opts.include_chain {
        for s in &who.sessions {
            for hop in &s.chain {
                for p in hop_sessions(lookup, hop)? {
                    plan("chain", Some(p.arn), p.creation, p.rows);
                }
            }
        }
    }
    let in_window = |e: &Event| {
        opts.window.is_none_or(|w| w.contains(e.event_time))
            && (opts.source_ips.is_empty()
                || e.source_ip
                    .as_ref()
                    .is_some_and(|ip| opts.source_ips.contains(ip)))
    };
    let mut found: Vec<Built> = Vec::new();
    for (role, arn, creation, rows) in planned {
        let events: Vec<Event> = lookup
            .events_of_sessions(&rows)?
            .into_iter()
            .filter(in_window)
            .collect();
        found.push(((role, arn, creation, rows), None, events));
    }
    let mut forward = None;
    if opts.include_chain {
        let until = opts.window.map_or(i64::MAX, |w| w.end);
        let (spawned, walk) = follow_forward(lookup, &who, &found, &mut seen, &in_window, until)?;
        found.extend(spawned);
        forward = Some(walk);
    }
    let mut all = Vec::new();
    let mut sections = Vec::new();
    for ((role, arn, creation, rows), spawned_by, events) in &found {
        let mut keys: Vec<String> = rows
            .iter()
            .filter_map(|r| r.access_key_id.clone())
            .collect();
        keys.sort();
        keys.dedup();
        sections.push(SessionSection {
            role: role.clone(),
            arn: arn.clone(),
            creation_date: creation.map(format_iso),
            access_key_ids: keys,
            spawned_by: spawned_by.clone(),
            body: body(events, &known, opts.geo),
        });
    }
    let path_flags = if opts.include_chain {
        let on_path: Vec<PathSession> = found
            .iter()
            .zip(&sections)
            .map(|((_, by, events), s)| PathSession {
                arn: s.arn.as_deref(),
                access_key_ids: &s.access_key_ids,
                spawned_by: by.as_ref(),
                events,
            })
            .collect();
        path_flags(lookup, &who, &on_path, &known)?
    } else {
        Vec::new()
    };
    for (_, _, events) in found {
        all.extend(events);
    }
    Ok(Investigation {
        subject: who.subject.clone(),
        combined: body(&all, &known, opts.geo),
        path_flags,
        forward,
        who,
        sessions: sections,
        window_start: opts
            .window
            .filter(|w| w.start != i64::MIN)
            .map(|w| format_iso(w.start)),
        window_end: opts
            .window
            .filter(|w| w.end != i64::MAX)
            .map(|w| format_iso(w.end)),
        source_ip_filter: opts.source_ips.clone(),
    })
}
