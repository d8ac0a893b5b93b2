//! Session rows built from events: one per (access key, ARN, creation date), the same
//! whatever order the events and store segments arrive in. Here rather than in the parser
//! crate so that the query side (analysis) folds rows without compiling the parser.

use crate::{Event, SessionSummary};
use std::collections::HashMap;

/// Bound on the distinct values a session row keeps per list; the events keep them all.
pub const SESSION_LIST_CAP: usize = 64;

/// Builds session rows from events, one per (access key, ARN, creation date).
///
/// Rows are found by a 128-bit hash of the key so that counting an event allocates
/// nothing (the ingest writer calls this for every event).
#[derive(Debug, Default)]
pub struct SessionAggregator {
    map: HashMap<u128, SessionSummary>,
}

fn key_hash(key: Option<&str>, arn: Option<&str>, creation: Option<i64>) -> u128 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for part in [key, arn] {
        match part {
            Some(s) => {
                h.update(&[1]);
                h.update(s.as_bytes());
                h.update(&[0]);
            }
            None => h.update(&[2]),
        }
    }
    match creation {
        Some(c) => h.update(&c.to_le_bytes()),
        None => h.update(&[3]),
    }
    h.digest128()
}

/// Keeps the smallest `SESSION_LIST_CAP` distinct values: unlike the first ones seen, they
/// do not depend on the order events arrive in, so a store ingested in any order (or on a
/// cluster) lists the same values.
fn push_capped(list: &mut Vec<String>, v: &Option<String>) {
    let Some(v) = v else { return };
    if list.iter().any(|x| x == v) {
        return;
    }
    if list.len() < SESSION_LIST_CAP {
        list.push(v.clone());
    } else if let Some(max) = list.iter_mut().max()
        && *v < *max
    {
        *max = v.clone();
    }
}

/// A session's identity fields as one event (or one partial row) shows them. The row keeps
/// those of its earliest event (ties: the smallest values), so it does not depend on the
/// order events and segments arrive in, even when a session's events disagree.
#[derive(PartialEq, PartialOrd)]
struct Who<'a> {
    first_seen: i64,
    identity_type: Option<&'a String>,
    principal_id: Option<&'a String>,
    account_id: Option<&'a String>,
    user_name: Option<&'a String>,
    issuer_arn: Option<&'a String>,
}

impl Who<'_> {
    fn apply_if_earlier(&self, s: &mut SessionSummary) {
        let current = Who {
            first_seen: s.first_seen,
            identity_type: s.identity_type.as_ref(),
            principal_id: s.principal_id.as_ref(),
            account_id: s.account_id.as_ref(),
            user_name: s.user_name.as_ref(),
            issuer_arn: s.issuer_arn.as_ref(),
        };
        if *self < current {
            s.first_seen = self.first_seen;
            s.identity_type = self.identity_type.cloned();
            s.principal_id = self.principal_id.cloned();
            s.account_id = self.account_id.cloned();
            s.user_name = self.user_name.cloned();
            s.issuer_arn = self.issuer_arn.cloned();
        }
    }
}

impl SessionAggregator {
    /// Counts one event.
    pub fn add(&mut self, ev: &Event) {
        let id = &ev.identity;
        let key = id.access_key_id.as_deref().filter(|k| !k.is_empty());
        let arn = id.arn.as_deref();
        if key.is_none() && arn.is_none() {
            return;
        }
        let h = key_hash(key, arn, id.session_creation_date);
        let s = self.map.entry(h).or_insert_with(|| SessionSummary {
            access_key_id: key.map(str::to_string),
            arn: id.arn.clone(),
            creation_date: id.session_creation_date,
            identity_type: id.kind.clone(),
            principal_id: id.principal_id.clone(),
            account_id: id.account_id.clone(),
            user_name: id.user_name.clone(),
            issuer_arn: id.issuer_arn.clone(),
            first_seen: ev.event_time,
            last_seen: ev.event_time,
            ..Default::default()
        });
        let seen = Who {
            first_seen: ev.event_time,
            identity_type: id.kind.as_ref(),
            principal_id: id.principal_id.as_ref(),
            account_id: id.account_id.as_ref(),
            user_name: id.user_name.as_ref(),
            issuer_arn: id.issuer_arn.as_ref(),
        };
        seen.apply_if_earlier(s);
        s.last_seen = s.last_seen.max(ev.event_time);
        s.events += 1;
        if ev.failed() {
            s.errors += 1;
        }
        push_capped(&mut s.source_ips, &ev.source_ip);
        push_capped(&mut s.user_agents, &ev.user_agent);
        push_capped(&mut s.regions, &ev.aws_region);
        if ev.session_credential_from_console == Some(true) {
            s.from_console = true;
        }
    }

    /// Folds in a row built elsewhere (another segment of the store).
    pub fn merge(&mut self, row: SessionSummary) {
        let h = key_hash(
            row.access_key_id.as_deref(),
            row.arn.as_deref(),
            row.creation_date,
        );
        match self.map.get_mut(&h) {
            None => {
                self.map.insert(h, row);
            }
            Some(s) => {
                Who {
                    first_seen: row.first_seen,
                    identity_type: row.identity_type.as_ref(),
                    principal_id: row.principal_id.as_ref(),
                    account_id: row.account_id.as_ref(),
                    user_name: row.user_name.as_ref(),
                    issuer_arn: row.issuer_arn.as_ref(),
                }
                .apply_if_earlier(s);
                s.last_seen = s.last_seen.max(row.last_seen);
                s.events += row.events;
                s.errors += row.errors;
                for v in row.source_ips {
                    push_capped(&mut s.source_ips, &Some(v));
                }
                for v in row.user_agents {
                    push_capped(&mut s.user_agents, &Some(v));
                }
                for v in row.regions {
                    push_capped(&mut s.regions, &Some(v));
                }
                s.from_console |= row.from_console;
            }
        }
    }

    /// The rows, in a stable order, their lists sorted: the same whatever order the
    /// events and segments came in.
    pub fn finish(self) -> Vec<SessionSummary> {
        let mut v: Vec<SessionSummary> = self.map.into_values().collect();
        v.sort_by_key(SessionSummary::key);
        for s in &mut v {
            s.regions.sort_unstable();
            s.source_ips.sort_unstable();
            s.user_agents.sort_unstable();
        }
        v
    }

    /// Number of sessions so far.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no session was seen.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}
