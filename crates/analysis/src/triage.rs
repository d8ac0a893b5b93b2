//! `sessions`: which sessions to look at first. Every session of the store is ranked (so
//! that "never used before" looks at each principal's whole history) with the hunting
//! rules' hits as extra signals; the window and accounts then pick the rows shown.

use crate::risk::{RankedSession, Signal, rank_sessions};
use backtrail_hunt::HuntReport;
use backtrail_model::time::parse_iso;
use backtrail_model::{EventLookup, SessionKey};
use std::collections::BTreeMap;

/// Which ranked sessions to show.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only sessions active on or after this time (ms).
    pub since: Option<i64>,
    /// Only sessions active on or before this time (ms).
    pub until: Option<i64>,
    /// Only sessions of these accounts (all when empty).
    pub accounts: Vec<String>,
    /// At most this many.
    pub limit: usize,
}

/// A hunt's hits as risk signals, keyed by the session they hit.
pub fn signals(hunt: &HuntReport) -> BTreeMap<SessionKey, Vec<Signal>> {
    let mut signals: BTreeMap<_, Vec<Signal>> = BTreeMap::new();
    for s in &hunt.sessions {
        let key = SessionKey {
            access_key_id: s.access_key_id.clone(),
            arn: s.arn.clone(),
            creation_date: s.creation_ms,
        };
        signals
            .entry(key)
            .or_default()
            .extend(s.hits.iter().map(|h| Signal {
                rule: h.title.clone(),
                level: h.level,
                events: h.events,
                evidence_event_ids: h.sample_event_ids.clone(),
            }));
    }
    signals
}

/// Every session of the store ranked with `signals`, riskiest first, then those `select`
/// picks.
pub fn ranked_sessions<L: EventLookup>(
    lookup: &L,
    signals: &BTreeMap<SessionKey, Vec<Signal>>,
    select: &Selection,
) -> Result<Vec<RankedSession>, L::Error> {
    let ranked = rank_sessions(lookup.all_sessions()?, signals);
    let shown = |r: &RankedSession| {
        let first = parse_iso(&r.first_seen).unwrap_or(i64::MIN);
        let last = parse_iso(&r.last_seen).unwrap_or(i64::MAX);
        select.since.is_none_or(|s| last >= s)
            && select.until.is_none_or(|u| first <= u)
            && (select.accounts.is_empty()
                || r.account_id
                    .as_ref()
                    .is_some_and(|x| select.accounts.contains(x)))
    };
    Ok(ranked
        .into_iter()
        .filter(shown)
        .take(select.limit)
        .collect())
}
