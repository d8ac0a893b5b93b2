//! `hunt`: Sigma rules for AWS CloudTrail run over the store, with no finding to start from.
//!
//! Rules are parsed here (YAML with `yaml_serde`) and translated to one SQL query over the
//! `events` table: each rule's necessary condition on eventName/eventSource comes first, so
//! the scan skips the rows no rule can match before any JSON text is read, and each rule's
//! full predicate is evaluated only on the rows its own names allow. Correlation rules
//! (event_count, value_count, temporal) run over the hits. The hits are grouped by the
//! session behind them, with the command that investigates it.
//!
//! `sigma-rust` (0.7) was considered: it evaluates one rule on one JSON event at a time,
//! keeps its condition tree and modifiers private (so it cannot be translated to SQL) and has
//! no correlation rules, so this crate parses the rule structure itself.

pub mod builtin;
pub mod condition;
pub mod correlate;
pub mod field;
pub mod report;
pub mod rule;
pub mod sql;

pub use report::{HuntReport, RuleHit, SessionHits};
pub use rule::{Level, RuleSet, Skipped};

use backtrail_model::Millis;
use serde_json::{Map, Value};
use std::path::PathBuf;

/// Errors that stop a hunt (a rule that cannot run is not one: it is reported as skipped).
#[derive(Debug, thiserror::Error)]
pub enum HuntError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("result row: {0}")]
    Row(String),
}

/// Which events to hunt over.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub since: Option<Millis>,
    pub until: Option<Millis>,
    pub accounts: Vec<String>,
}

/// One matching event: its session and which rules it matched.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Row {
    pub event_id: String,
    pub time: Millis,
    pub access_key_id: Option<String>,
    pub arn: Option<String>,
    pub creation_date: Option<Millis>,
    pub from_console: bool,
    pub identity_type: Option<String>,
    /// One flag per rule of the set, in order.
    pub rules: Vec<bool>,
    /// The values of [`Plan::fields`], in order.
    pub values: Vec<Option<String>>,
}

/// The query that finds every event any rule matches, in one scan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub sql: String,
    /// SQL of the fields correlations group or count by (columns `v0`, `v1`, ...).
    pub fields: Vec<String>,
    rules: usize,
}

impl Plan {
    /// The query for `set` within `filter`; `None` when no rule can run.
    pub fn new(set: &RuleSet, filter: &Filter) -> Option<Plan> {
        if set.rules.is_empty() {
            return None;
        }
        let mut fields: Vec<String> = Vec::new();
        for c in &set.correlations {
            let mut need: Vec<&String> = c.group_by.iter().map(|(_, s)| s).collect();
            if let rule::CorrelationKind::ValueCount { sql, .. } = &c.kind {
                need.push(sql);
            }
            for s in need {
                if !fields.contains(s) {
                    fields.push(s.clone());
                }
            }
        }
        let mut scope = Vec::new();
        if let Some(s) = filter.since {
            scope.push(format!("CAST(event_time AS BIGINT) >= {s}"));
        }
        if let Some(u) = filter.until {
            scope.push(format!("CAST(event_time AS BIGINT) <= {u}"));
        }
        if !filter.accounts.is_empty() {
            let list: Vec<String> = filter.accounts.iter().map(|a| sql::lit(a)).collect();
            scope.push(format!("recipient_account_id IN ({})", list.join(", ")));
        }
        // Rows no rule's names allow are dropped before any rule's predicate runs; when a
        // rule has no such condition every row is a candidate.
        let prunes: Option<Vec<&str>> = set
            .rules
            .iter()
            .map(|r| r.compiled.prune.as_deref())
            .collect();
        if let Some(p) = prunes {
            scope.push(format!("({})", p.join(" OR ")));
        }
        let mut cols = vec![
            "event_id".to_string(),
            "CAST(event_time AS BIGINT) AS t".to_string(),
            "access_key_id".to_string(),
            "arn".to_string(),
            "CAST(session_creation_date AS BIGINT) AS cd".to_string(),
            "session_credential_from_console AS console".to_string(),
            "user_type".to_string(),
        ];
        for (i, r) in set.rules.iter().enumerate() {
            cols.push(match &r.compiled.prune {
                Some(p) => format!(
                    "coalesce(CASE WHEN {p} THEN {} END, FALSE) AS r{i}",
                    r.compiled.sql
                ),
                None => format!("coalesce({}, FALSE) AS r{i}", r.compiled.sql),
            });
        }
        for (i, f) in fields.iter().enumerate() {
            cols.push(format!("{f} AS v{i}"));
        }
        let any: Vec<String> = (0..set.rules.len()).map(|i| format!("r{i}")).collect();
        let scope = if scope.is_empty() {
            "TRUE".to_string()
        } else {
            scope.join(" AND ")
        };
        let sql = format!(
            "SELECT * FROM (SELECT {} FROM events WHERE {scope}) AS m WHERE {} ORDER BY t, event_id",
            cols.join(", "),
            any.join(" OR ")
        );
        Some(Plan {
            sql,
            fields,
            rules: set.rules.len(),
        })
    }

    /// Reads one result row (as the JSON object the engine writes; NULLs may be absent).
    pub fn row(&self, o: &Map<String, Value>) -> Result<Row, HuntError> {
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        let n = |k: &str| o.get(k).and_then(Value::as_i64);
        let b = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(Row {
            event_id: s("event_id").ok_or_else(|| HuntError::Row("no event_id".into()))?,
            time: n("t").ok_or_else(|| HuntError::Row("no time".into()))?,
            access_key_id: s("access_key_id").filter(|k| !k.is_empty()),
            arn: s("arn"),
            creation_date: n("cd"),
            from_console: b("console"),
            identity_type: s("user_type"),
            rules: (0..self.rules).map(|i| b(&format!("r{i}"))).collect(),
            values: (0..self.fields.len())
                .map(|i| match o.get(&format!("v{i}")) {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(s.clone()),
                    Some(v) => Some(v.to_string()),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_query_prunes_on_names_before_any_predicate() {
        let set = RuleSet::from_texts(&[(
            "t.yml".into(),
            "
title: a
name: a
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: PutUserPolicy, requestParameters.policyDocument|contains: '\"*\"'}
  condition: sel
---
title: b
correlation: {type: value_count, rules: [a], group-by: [userIdentity.arn], timespan: 5m,
  condition: {field: requestParameters.userName, gte: 2}}
"
            .into(),
        )]);
        let plan = Plan::new(
            &set,
            &Filter {
                since: Some(5),
                until: None,
                accounts: vec!["1".into()],
            },
        )
        .unwrap();
        assert!(plan.sql.contains(
            "WHERE CAST(event_time AS BIGINT) >= 5 AND recipient_account_id IN ('1') AND (event_name IN ('PutUserPolicy'))"
        ));
        assert!(
            plan.sql
                .contains("CASE WHEN event_name IN ('PutUserPolicy') THEN")
        );
        assert_eq!(
            plan.fields,
            ["arn", "json_as_text(request_parameters, 'userName')"]
        );
        let mut o = Map::new();
        o.insert("event_id".into(), "e1".into());
        o.insert("t".into(), 7.into());
        o.insert("r0".into(), true.into());
        o.insert("v1".into(), "bob".into());
        let r = plan.row(&o).unwrap();
        assert_eq!(
            (r.rules, r.values),
            (vec![true], vec![None, Some("bob".into())])
        );
    }
}
