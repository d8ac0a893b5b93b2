//! Which events back an investigation: the bounded sample the HTML report embeds, and the
//! sections whose events the "Log integrity" check looks up.

use crate::investigate::{Investigation, SessionSection};
use backtrail_model::{Event, EventLookup};
use std::collections::BTreeSet;

/// Sample event ids per activity row in the HTML report's evidence.
pub const SAMPLES_PER_ROW: usize = 5;

/// The ids of the HTML report's evidence, sorted and unique: every hop's events, the chain
/// origins', the flags' and spawned sessions' evidence and a few sample events per API row,
/// so that a huge session still gives a small file.
pub fn report_ids(inv: &Investigation) -> Vec<String> {
    let mut ids = BTreeSet::new();
    ids.extend(chain_ids(inv));
    for s in &inv.sessions {
        ids.extend(session_ids(s, SAMPLES_PER_ROW));
        if let Some(b) = &s.spawned_by {
            ids.insert(b.event_id.clone());
            ids.extend(b.other_event_ids.iter().cloned());
        }
    }
    for f in &inv.path_flags {
        ids.extend(f.evidence_event_ids.iter().cloned());
    }
    ids.into_iter().collect()
}

/// The HTML report's evidence events ([`report_ids`]) as the store holds them.
pub fn report_events<L: EventLookup>(
    lookup: &L,
    inv: &Investigation,
) -> Result<Vec<Event>, L::Error> {
    lookup.events_by_ids(&report_ids(inv))
}

/// The evidence the integrity check covers, by section: `chain` (every hop's and chain
/// origin's events) and one `session NAME` per session (every sample and flag event), each
/// sorted and unique.
pub fn integrity_sections(inv: &Investigation) -> Vec<(String, Vec<String>)> {
    let mut sections = vec![("chain".to_string(), dedup(chain_ids(inv)))];
    for s in &inv.sessions {
        let ids = session_ids(s, usize::MAX);
        let name = s
            .arn
            .clone()
            .or_else(|| s.access_key_ids.first().cloned())
            .unwrap_or_else(|| "?".into());
        sections.push((format!("session {name}"), dedup(ids)));
    }
    sections
}

/// A session's sample events (at most `per_row` an activity row) and its network flags'
/// evidence.
fn session_ids(s: &SessionSection, per_row: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for r in &s.body.activity.rows {
        ids.extend(r.sample_event_ids.iter().take(per_row).cloned());
    }
    for f in &s.body.sources.flags {
        ids.extend(f.evidence_event_ids.iter().cloned());
    }
    ids
}

/// Every hop's events and each chain's origin evidence, in chain order.
fn chain_ids(inv: &Investigation) -> Vec<String> {
    let mut ids = Vec::new();
    for s in &inv.who.sessions {
        for h in &s.chain {
            ids.extend(h.event_id.iter().cloned());
            ids.extend(h.other_event_ids.iter().cloned());
        }
        ids.extend(s.origin.evidence_event_ids.iter().cloned());
    }
    ids
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}
