//! Hits grouped by the session behind them: the store's session identity (access key, ARN,
//! creationDate), with a console session's many keys folded into one session.

use crate::correlate::fire;
use crate::rule::{CorrelationKind, Level, Meta, RuleSet, Skipped};
use crate::{Plan, Row};
use backtrail_model::Millis;
use backtrail_model::time::format_iso;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Sample event ids kept per rule and session.
pub const SAMPLES: usize = 5;

/// One rule's hits in one session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleHit {
    pub title: String,
    pub id: Option<String>,
    pub level: Level,
    /// `attack.*` tags.
    pub attack: Vec<String>,
    /// `rule`, or the correlation type (`event_count`, `value_count`, `temporal`).
    pub kind: &'static str,
    /// The session's events that matched (for a correlation: its events in the firings).
    pub events: u64,
    pub first: String,
    pub last: String,
    pub sample_event_ids: Vec<String>,
    /// Correlations: each firing's group and what it counted, e.g.
    /// `userIdentity.arn=...: 9 distinct eventName in 10m`.
    pub firings: Vec<String>,
    #[serde(skip)]
    first_ms: Millis,
    #[serde(skip)]
    last_ms: Millis,
}

/// The hits of one session.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SessionHits {
    /// The session's key (`None` for a console session: see `access_key_ids`).
    pub access_key_id: Option<String>,
    /// Every key the session signed with (a console session mints many).
    pub access_key_ids: Vec<String>,
    pub arn: Option<String>,
    pub identity_type: Option<String>,
    pub creation_date: Option<String>,
    pub from_console: bool,
    /// Highest level among the hits.
    pub level: Level,
    pub first: String,
    pub last: String,
    pub hits: Vec<RuleHit>,
    /// The command line that investigates this session.
    pub investigate: Option<String>,
    #[serde(skip)]
    pub creation_ms: Option<Millis>,
}

/// What a hunt found, and which rules it could not run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HuntReport {
    pub rules_run: usize,
    pub correlations_run: usize,
    pub skipped: Vec<Skipped>,
    /// Events that matched at least one rule.
    pub events_matched: usize,
    /// Riskiest first.
    pub sessions: Vec<SessionHits>,
}

/// The session a row belongs to, with console keys folded into their sign-in.
type SessionId = (Option<String>, Option<String>, Option<Millis>);

fn session_of(r: &Row) -> SessionId {
    let key = if r.from_console && r.creation_date.is_some() {
        None
    } else {
        r.access_key_id.clone()
    };
    (key, r.arn.clone(), r.creation_date)
}

/// A shell word: quoted unless it is plainly safe.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:@=+-,".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[derive(Default)]
struct Acc {
    keys: BTreeSet<String>,
    identity_type: Option<String>,
    from_console: bool,
    hits: BTreeMap<usize, RuleHit>,
}

fn hit(meta: &Meta, kind: &'static str) -> RuleHit {
    RuleHit {
        title: meta.title.clone(),
        id: meta.id.clone(),
        level: meta.level,
        attack: meta.attack(),
        kind,
        events: 0,
        first: String::new(),
        last: String::new(),
        sample_event_ids: Vec::new(),
        firings: Vec::new(),
        first_ms: i64::MAX,
        last_ms: i64::MIN,
    }
}

impl RuleHit {
    fn add(&mut self, r: &Row) {
        self.events += 1;
        self.first_ms = self.first_ms.min(r.time);
        self.last_ms = self.last_ms.max(r.time);
        if self.sample_event_ids.len() < SAMPLES {
            self.sample_event_ids.push(r.event_id.clone());
        }
    }
}

/// Groups `rows` (the plan's result, sorted by time) into sessions. `store` is the store
/// path shown in the investigate commands.
pub fn build(set: &RuleSet, plan: &Plan, rows: &[Row], store: &str) -> HuntReport {
    let mut sessions: BTreeMap<SessionId, Acc> = BTreeMap::new();
    let mut touch = |r: &Row, slot: usize, make: &dyn Fn() -> RuleHit| {
        let acc = sessions.entry(session_of(r)).or_default();
        if let Some(k) = &r.access_key_id {
            acc.keys.insert(k.clone());
        }
        acc.from_console |= r.from_console;
        if acc.identity_type.is_none() {
            acc.identity_type = r.identity_type.clone();
        }
        acc.hits.entry(slot).or_insert_with(make).add(r);
    };
    for (i, rule) in set.rules.iter().enumerate() {
        if !rule.report {
            continue;
        }
        for r in rows.iter().filter(|r| r.rules[i]) {
            touch(r, i, &|| hit(&rule.meta, "rule"));
        }
    }
    let mut firing_notes: BTreeMap<(SessionId, usize), Vec<String>> = BTreeMap::new();
    for (ci, c) in set.correlations.iter().enumerate() {
        let slot = set.rules.len() + ci;
        let (kind, what) = match &c.kind {
            CorrelationKind::EventCount => ("event_count", "events".to_string()),
            CorrelationKind::ValueCount { field, .. } => {
                ("value_count", format!("distinct {field}"))
            }
            CorrelationKind::Temporal => ("temporal", "of the rules".to_string()),
        };
        for f in fire(c, rows, &plan.fields) {
            let note = format!(
                "{}{}{} {what} within {}",
                f.group.join(", "),
                if f.group.is_empty() { "" } else { ": " },
                f.measured,
                span(c.timespan_ms)
            );
            for &ri in &f.rows {
                let r = &rows[ri];
                touch(r, slot, &|| hit(&c.meta, kind));
                let notes = firing_notes.entry((session_of(r), slot)).or_default();
                if !notes.contains(&note) {
                    notes.push(note.clone());
                }
            }
        }
    }
    let mut out: Vec<SessionHits> = sessions
        .into_iter()
        .map(|(id, acc)| {
            let hits: Vec<RuleHit> = acc
                .hits
                .into_iter()
                .map(|(slot, mut h)| {
                    h.first = format_iso(h.first_ms);
                    h.last = format_iso(h.last_ms);
                    h.firings = firing_notes.remove(&(id.clone(), slot)).unwrap_or_default();
                    h
                })
                .collect();
            let first = hits.iter().map(|h| h.first_ms).min().unwrap_or_default();
            let last = hits.iter().map(|h| h.last_ms).max().unwrap_or_default();
            let (key, arn, cd) = id;
            let subject = key.clone().or_else(|| arn.clone());
            let investigate = subject.map(|s| {
                format!(
                    "backtrail investigate {} --since {} --until {} --store {}",
                    shell_word(&s),
                    format_iso(first),
                    format_iso(last),
                    shell_word(store)
                )
            });
            let mut sorted = hits;
            sorted.sort_by(|a, b| b.level.cmp(&a.level).then(b.events.cmp(&a.events)));
            SessionHits {
                access_key_id: key,
                access_key_ids: acc.keys.into_iter().collect(),
                arn,
                identity_type: acc.identity_type,
                creation_date: cd.map(format_iso),
                from_console: acc.from_console,
                level: sorted.iter().map(|h| h.level).max().unwrap_or_default(),
                first: format_iso(first),
                last: format_iso(last),
                hits: sorted,
                investigate,
                creation_ms: cd,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.hits.len().cmp(&a.hits.len()))
            .then(a.first.cmp(&b.first))
    });
    HuntReport {
        rules_run: set.rules.len(),
        correlations_run: set.correlations.len(),
        skipped: set.skipped.clone(),
        events_matched: rows.len(),
        sessions: out,
    }
}

fn span(ms: i64) -> String {
    match ms {
        m if m % 86_400_000 == 0 => format!("{}d", m / 86_400_000),
        m if m % 3_600_000 == 0 => format!("{}h", m / 3_600_000),
        m if m % 60_000 == 0 => format!("{}m", m / 60_000),
        m => format!("{}s", m / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Filter;

    #[test]
    fn console_keys_fold_and_correlations_attach_to_sessions() {
        let set = RuleSet::from_texts(&[(
            "t.yml".into(),
            "
title: denied
name: denied
level: low
logsource: {product: aws, service: cloudtrail}
detection: {sel: {errorCode: AccessDenied}, condition: sel}
---
title: policy
level: high
tags: [attack.persistence, attack.t1098]
logsource: {product: aws, service: cloudtrail}
detection: {sel: {eventName: PutUserPolicy}, condition: sel}
---
title: denied burst
level: medium
correlation: {type: event_count, rules: [denied], group-by: [userIdentity.arn], timespan: 1m,
  condition: {gte: 2}}
"
            .into(),
        )]);
        let plan = Plan::new(&set, &Filter::default()).unwrap();
        let console = |id: &str, t: i64, key: &str, rules: Vec<bool>| Row {
            event_id: id.into(),
            time: t,
            access_key_id: Some(key.into()),
            arn: Some("arn:aws:iam::1:root".into()),
            creation_date: Some(0),
            from_console: true,
            identity_type: Some("Root".into()),
            rules,
            values: vec![Some("arn:aws:iam::1:root".into())],
        };
        let rows = vec![
            console("a", 1_000, "ASIA1", vec![true, false]),
            console("b", 2_000, "ASIA2", vec![true, false]),
            Row {
                event_id: "c".into(),
                time: 3_000,
                access_key_id: Some("AKIA9".into()),
                arn: Some("arn:aws:iam::1:user/x y".into()),
                rules: vec![false, true],
                values: vec![Some("arn:aws:iam::1:user/x y".into())],
                ..Default::default()
            },
        ];
        let rep = build(&set, &plan, &rows, "/tmp/my store");
        assert_eq!(rep.sessions.len(), 2);
        let top = &rep.sessions[0];
        assert_eq!(top.level, Level::High);
        assert_eq!(top.hits[0].attack, ["attack.persistence", "attack.t1098"]);
        assert_eq!(
            top.investigate.as_deref(),
            Some(
                "backtrail investigate AKIA9 --since 1970-01-01T00:00:03Z --until 1970-01-01T00:00:03Z --store '/tmp/my store'"
            )
        );
        let root = &rep.sessions[1];
        assert_eq!(root.access_key_ids, ["ASIA1", "ASIA2"]);
        assert_eq!(root.access_key_id, None);
        // `denied` feeds only the correlation, which fired once over both console keys.
        assert_eq!(root.hits.len(), 1);
        assert_eq!(root.hits[0].kind, "event_count");
        assert_eq!(root.hits[0].events, 2);
        assert_eq!(
            root.hits[0].firings,
            ["userIdentity.arn=arn:aws:iam::1:root: 2 events within 1m"]
        );
        assert_eq!(shell_word("it's"), "'it'\\''s'");
    }
}
