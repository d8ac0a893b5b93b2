//! Correlation rules over the hits of single-event rules: per group of field values, a
//! sliding window of the timespan; every event inside a window that meets the condition
//! belongs to the firing.

use crate::Row;
use crate::rule::{Correlation, CorrelationKind};
use std::collections::{BTreeMap, HashMap};

/// One firing of a correlation: the group, the events, and what was counted.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// `field=value` for each group-by field.
    pub group: Vec<String>,
    /// Indexes into the rows given to [`fire`].
    pub rows: Vec<usize>,
    /// Events, distinct values, or rules seen, as the correlation counts.
    pub measured: u64,
}

/// The window's running state.
#[derive(Default)]
struct Counts {
    events: u64,
    values: HashMap<String, u64>,
    rules: HashMap<usize, u64>,
}

impl Counts {
    fn change(&mut self, c: &Correlation, value: Option<&String>, row: &Row, add: bool) {
        let step = |m: &mut u64| {
            if add { *m += 1 } else { *m -= 1 }
        };
        step(&mut self.events);
        if let Some(v) = value {
            let e = self.values.entry(v.clone()).or_default();
            step(e);
            if *e == 0 {
                self.values.remove(v);
            }
        }
        for &r in &c.rules {
            if row.rules[r] {
                let e = self.rules.entry(r).or_default();
                step(e);
                if *e == 0 {
                    self.rules.remove(&r);
                }
            }
        }
    }

    fn measure(&self, c: &Correlation) -> u64 {
        match c.kind {
            CorrelationKind::EventCount => self.events,
            CorrelationKind::ValueCount { .. } => self.values.len() as u64,
            CorrelationKind::Temporal => self.rules.len() as u64,
        }
    }
}

/// Every firing of `c` over `rows` (sorted by time). `fields` are the plan's field SQL,
/// whose values each row carries.
pub fn fire(c: &Correlation, rows: &[Row], fields: &[String]) -> Vec<Firing> {
    let pos = |sql: &str| fields.iter().position(|f| f == sql);
    let group_pos: Vec<Option<usize>> = c.group_by.iter().map(|(_, s)| pos(s)).collect();
    let value_pos = match &c.kind {
        CorrelationKind::ValueCount { sql, .. } => pos(sql),
        _ => None,
    };
    let mut groups: BTreeMap<Vec<Option<String>>, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if c.rules.iter().any(|&x| r.rules[x]) {
            let key = group_pos
                .iter()
                .map(|p| p.and_then(|p| r.values[p].clone()))
                .collect();
            groups.entry(key).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (key, idx) in groups {
        let value = |i: usize| value_pos.and_then(|p| rows[idx[i]].values[p].as_ref());
        let mut counts = Counts::default();
        let mut marked = vec![false; idx.len()];
        let mut left = 0;
        let mut marked_upto = 0;
        for right in 0..idx.len() {
            counts.change(c, value(right), &rows[idx[right]], true);
            while rows[idx[right]].time - rows[idx[left]].time > c.timespan_ms {
                counts.change(c, value(left), &rows[idx[left]], false);
                left += 1;
            }
            if counts.measure(c) >= c.threshold.min {
                for m in marked
                    .iter_mut()
                    .take(right + 1)
                    .skip(left.max(marked_upto))
                {
                    *m = true;
                }
                marked_upto = right + 1;
            }
        }
        let group: Vec<String> = c
            .group_by
            .iter()
            .zip(&key)
            .map(|((name, _), v)| format!("{name}={}", v.as_deref().unwrap_or("-")))
            .collect();
        let mut i = 0;
        while i < idx.len() {
            if !marked[i] {
                i += 1;
                continue;
            }
            let mut run = Vec::new();
            let mut total = Counts::default();
            while i < idx.len() && marked[i] {
                total.change(c, value(i), &rows[idx[i]], true);
                run.push(idx[i]);
                i += 1;
            }
            out.push(Firing {
                group: group.clone(),
                rows: run,
                measured: total.measure(c),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::{Level, Meta, Threshold};

    fn corr(kind: CorrelationKind, rules: Vec<usize>, min: u64) -> Correlation {
        Correlation {
            meta: Meta {
                title: "t".into(),
                id: None,
                name: None,
                level: Level::High,
                tags: vec![],
                source: "s".into(),
            },
            kind,
            rules,
            group_by: vec![("userIdentity.arn".into(), "arn".into())],
            timespan_ms: 60_000,
            threshold: Threshold { min },
        }
    }

    fn row(t: i64, arn: &str, rules: Vec<bool>, v: &str) -> Row {
        Row {
            event_id: format!("e{t}"),
            time: t,
            rules,
            values: vec![Some(arn.into()), Some(v.into())],
            ..Default::default()
        }
    }

    #[test]
    fn windows_groups_and_kinds() {
        let fields = vec!["arn".to_string(), "event_name".to_string()];
        let rows = vec![
            row(0, "a", vec![true, false], "ListUsers"),
            row(10_000, "a", vec![true, false], "ListRoles"),
            row(20_000, "b", vec![true, false], "ListUsers"),
            row(30_000, "a", vec![true, true], "ListUsers"),
            row(200_000, "a", vec![true, false], "ListPolicies"),
        ];
        let f = fire(
            &corr(CorrelationKind::EventCount, vec![0], 3),
            &rows,
            &fields,
        );
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].rows.clone(), f[0].measured), (vec![0, 1, 3], 3));
        assert_eq!(f[0].group, ["userIdentity.arn=a"]);
        let vc = CorrelationKind::ValueCount {
            field: "eventName".into(),
            sql: "event_name".into(),
        };
        // Three calls but two distinct names within a minute: not three.
        assert!(fire(&corr(vc.clone(), vec![0], 3), &rows, &fields).is_empty());
        assert_eq!(fire(&corr(vc, vec![0], 2), &rows, &fields)[0].measured, 2);
        let t = fire(
            &corr(CorrelationKind::Temporal, vec![0, 1], 2),
            &rows,
            &fields,
        );
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].rows, vec![0, 1, 3]);
    }
}
