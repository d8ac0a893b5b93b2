//! Loading Sigma rules: single-event rules and correlation rules (event_count,
//! value_count, temporal) whose logsource is AWS CloudTrail. A rule that cannot run is kept
//! in [`RuleSet::skipped`] with the reason, never dropped silently.

use crate::HuntError;
use crate::condition::{Compiled, compile};
use crate::field;
use serde::Serialize;
use std::path::{Path, PathBuf};
use yaml_serde::Value;

/// Sigma's levels, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Informational,
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "informational" => Level::Informational,
            "low" => Level::Low,
            "medium" => Level::Medium,
            "high" => Level::High,
            "critical" => Level::Critical,
            _ => return None,
        })
    }

    /// The name as Sigma writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// What every rule says about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Meta {
    pub title: String,
    pub id: Option<String>,
    pub name: Option<String>,
    pub level: Level,
    /// Every tag as written (`attack.t1098`, `attack.persistence`, ...).
    pub tags: Vec<String>,
    /// The file (and document number, when a file holds several) it came from.
    pub source: String,
}

impl Meta {
    /// The ATT&CK tags (`attack.*`).
    pub fn attack(&self) -> Vec<String> {
        self.tags
            .iter()
            .filter(|t| t.starts_with("attack."))
            .cloned()
            .collect()
    }
}

/// A single-event rule, compiled to SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub meta: Meta,
    pub compiled: Compiled,
    /// False when only correlations use it (their `generate` is off).
    pub report: bool,
}

/// Which correlation.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationKind {
    /// Matching events per group in the timespan.
    EventCount,
    /// Distinct values of a field per group in the timespan (name, SQL).
    ValueCount { field: String, sql: String },
    /// Every referenced rule matched for the group within the timespan.
    Temporal,
}

/// `gt`/`gte` thresholds (what a hunt asks: at least this many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub min: u64,
}

/// A correlation rule over the hits of single-event rules.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    pub meta: Meta,
    pub kind: CorrelationKind,
    /// Indexes into [`RuleSet::rules`].
    pub rules: Vec<usize>,
    /// Group-by fields: (name, SQL).
    pub group_by: Vec<(String, String)>,
    pub timespan_ms: i64,
    pub threshold: Threshold,
}

/// A rule that will not run, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Skipped {
    pub source: String,
    pub title: Option<String>,
    pub id: Option<String>,
    pub reason: String,
}

/// The loaded rules.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub correlations: Vec<Correlation>,
    pub skipped: Vec<Skipped>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

fn meta(doc: &Value, source: &str) -> Result<Meta, String> {
    let title = text(doc, "title").ok_or("no title")?;
    let level = match text(doc, "level") {
        None => Level::default(),
        Some(l) => Level::parse(&l).ok_or_else(|| format!("unknown level {l:?}"))?,
    };
    let tags = match doc.get("tags") {
        None => Vec::new(),
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|t| t.as_str().map(str::to_string).ok_or("tags must be text"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("tags must be a list".into()),
    };
    Ok(Meta {
        title,
        id: text(doc, "id"),
        name: text(doc, "name"),
        level,
        tags,
        source: source.to_string(),
    })
}

/// Parses a timespan such as `30s`, `10m`, `1h`, `2d`.
fn timespan(s: &str) -> Result<i64, String> {
    let bad = || format!("timespan {s:?}: expected a number and s, m, h or d");
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
    let n: i64 = n.parse().map_err(|_| bad())?;
    let ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    Ok(n * ms)
}

fn threshold(c: &Value) -> Result<Threshold, String> {
    let map = c
        .as_mapping()
        .ok_or("correlation condition must be a map")?;
    let mut min = None;
    for (k, v) in map {
        let k = k.as_str().unwrap_or_default();
        let n = || {
            v.as_u64()
                .ok_or_else(|| format!("condition {k}: a number is needed"))
        };
        match k {
            "field" => {}
            "gte" => min = Some(n()?),
            "gt" => min = Some(n()? + 1),
            "lt" | "lte" | "eq" | "neq" => {
                return Err(format!(
                    "correlation condition {k} is not supported (a hunt looks for at least N: gt/gte)"
                ));
            }
            other => return Err(format!("unknown correlation condition {other:?}")),
        }
    }
    Ok(Threshold {
        min: min.ok_or("correlation condition needs gt or gte")?,
    })
}

/// A correlation before its rule references are resolved.
struct Pending {
    meta: Meta,
    refs: Vec<String>,
    kind: CorrelationKind,
    group_by: Vec<(String, String)>,
    timespan_ms: i64,
    threshold: Threshold,
    generate: bool,
}

fn correlation(doc: &Value, c: &Value, meta: Meta) -> Result<Pending, String> {
    let kind = text(c, "type").ok_or("correlation has no type")?;
    let refs: Vec<String> = match c.get("rules") {
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_string)
                    .ok_or("rule references must be text")
            })
            .collect::<Result<_, _>>()?,
        Some(Value::String(s)) => vec![s.clone()],
        _ => return Err("correlation has no rules".into()),
    };
    if c.get("aliases").is_some() {
        return Err("correlation aliases are not supported".into());
    }
    let group_by = match c.get("group-by") {
        None => Vec::new(),
        Some(Value::Sequence(s)) => s
            .iter()
            .map(|g| {
                let name = g.as_str().ok_or("group-by fields must be text")?;
                Ok((name.to_string(), field::resolve(name)?.sql))
            })
            .collect::<Result<_, String>>()?,
        Some(_) => return Err("group-by must be a list".into()),
    };
    let timespan_ms = timespan(&text(c, "timespan").ok_or("correlation has no timespan")?)?;
    let generate = c
        .get("generate")
        .or_else(|| doc.get("generate"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let (kind, threshold) = match kind.as_str() {
        "event_count" => (
            CorrelationKind::EventCount,
            threshold(c.get("condition").ok_or("event_count needs a condition")?)?,
        ),
        "value_count" => {
            let cond = c.get("condition").ok_or("value_count needs a condition")?;
            let f = text(cond, "field").ok_or("value_count condition needs a field")?;
            let sql = field::resolve(&f)?.sql;
            (
                CorrelationKind::ValueCount { field: f, sql },
                threshold(cond)?,
            )
        }
        "temporal" => (
            CorrelationKind::Temporal,
            Threshold {
                min: refs.len() as u64,
            },
        ),
        other => return Err(format!("correlation type {other:?} is not supported")),
    };
    Ok(Pending {
        meta,
        refs,
        kind,
        group_by,
        timespan_ms,
        threshold,
        generate,
    })
}

impl RuleSet {
    /// Loads rule files and directories (every `*.yml`/`*.yaml` below, in name order).
    pub fn load(paths: &[PathBuf]) -> Result<RuleSet, HuntError> {
        let mut files = Vec::new();
        for p in paths {
            collect(p, &mut files)?;
        }
        let mut texts = Vec::new();
        for f in files {
            let t = std::fs::read_to_string(&f).map_err(|e| HuntError::Io {
                path: f.clone(),
                source: e,
            })?;
            texts.push((f.display().to_string(), t));
        }
        Ok(RuleSet::from_texts(&texts))
    }

    /// Parses rules from (source name, YAML text) pairs; a file may hold several documents.
    pub fn from_texts(texts: &[(String, String)]) -> RuleSet {
        let mut set = RuleSet::default();
        let mut pending = Vec::new();
        for (name, text) in texts {
            let mut docs: Vec<Result<Value, String>> = Vec::new();
            for d in yaml_serde::Deserializer::from_str(text) {
                let doc = serde::Deserialize::deserialize(d)
                    .map_err(|e: yaml_serde::Error| e.to_string());
                let failed = doc.is_err();
                docs.push(doc);
                // The parser cannot find the next document after a syntax error.
                if failed {
                    break;
                }
            }
            let many = docs.len() > 1;
            for (i, doc) in docs.into_iter().enumerate() {
                let source = if many {
                    format!("{name}#{}", i + 1)
                } else {
                    name.clone()
                };
                let doc = match doc {
                    Ok(d) => d,
                    Err(e) => {
                        set.skip(&source, None, format!("YAML: {e}"));
                        continue;
                    }
                };
                if doc.is_null() {
                    continue;
                }
                if let Err(reason) = set.add(&doc, &source, &mut pending) {
                    set.skip(&source, Some(&doc), reason);
                }
            }
        }
        set.resolve(pending);
        set
    }

    fn skip(&mut self, source: &str, doc: Option<&Value>, reason: String) {
        self.skipped.push(Skipped {
            source: source.to_string(),
            title: doc.and_then(|d| text(d, "title")),
            id: doc.and_then(|d| text(d, "id")),
            reason,
        });
    }

    fn add(&mut self, doc: &Value, source: &str, pending: &mut Vec<Pending>) -> Result<(), String> {
        let meta = meta(doc, source)?;
        if let Some(c) = doc.get("correlation") {
            pending.push(correlation(doc, c, meta)?);
            return Ok(());
        }
        let ls = doc.get("logsource").ok_or("no logsource")?;
        let (product, service) = (text(ls, "product"), text(ls, "service"));
        if product.as_deref() != Some("aws") || service.as_deref() != Some("cloudtrail") {
            return Err(format!(
                "logsource is not AWS CloudTrail (product {}, service {})",
                product.as_deref().unwrap_or("-"),
                service.as_deref().unwrap_or("-")
            ));
        }
        let compiled = compile(doc.get("detection").ok_or("no detection")?)?;
        self.rules.push(Rule {
            meta,
            compiled,
            report: true,
        });
        Ok(())
    }

    fn resolve(&mut self, pending: Vec<Pending>) {
        for p in pending {
            let idx: Result<Vec<usize>, String> = p
                .refs
                .iter()
                .map(|r| {
                    self.rules
                        .iter()
                        .position(|x| {
                            x.meta.name.as_deref() == Some(r) || x.meta.id.as_deref() == Some(r)
                        })
                        .ok_or_else(|| {
                            format!(
                                "correlation refers to {r:?}, which is not a loaded CloudTrail rule"
                            )
                        })
                })
                .collect();
            match idx {
                Ok(rules) => {
                    if !p.generate {
                        for &i in &rules {
                            self.rules[i].report = false;
                        }
                    }
                    self.correlations.push(Correlation {
                        meta: p.meta,
                        kind: p.kind,
                        rules,
                        group_by: p.group_by,
                        timespan_ms: p.timespan_ms,
                        threshold: p.threshold,
                    });
                }
                Err(reason) => self.skipped.push(Skipped {
                    source: p.meta.source.clone(),
                    title: Some(p.meta.title.clone()),
                    id: p.meta.id.clone(),
                    reason,
                }),
            }
        }
    }
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> Result<(), HuntError> {
    let io = |e| HuntError::Io {
        path: p.to_path_buf(),
        source: e,
    };
    let meta = std::fs::metadata(p).map_err(io)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            let is_rule = e.extension().is_some_and(|x| x == "yml" || x == "yaml");
            if e.is_dir() || is_rule {
                collect(&e, out)?;
            }
        }
    } else {
        out.push(p.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(t: &str) -> RuleSet {
        RuleSet::from_texts(&[("t.yml".into(), t.into())])
    }

    #[test]
    fn rules_correlations_and_reasons() {
        let set = load(
            "
title: list
name: list_calls
level: low
tags: [attack.discovery, attack.t1087, cve.x]
logsource: {product: aws, service: cloudtrail}
detection:
  sel: {eventName: [ListUsers, ListRoles]}
  condition: sel
---
title: burst
level: high
correlation:
  type: value_count
  rules: [list_calls]
  group-by: [userIdentity.arn]
  timespan: 10m
  condition: {field: eventName, gte: 2}
---
title: windows
logsource: {product: windows, service: security}
detection: {sel: {EventID: 1}, condition: sel}
---
title: wide
logsource: {product: aws, service: cloudtrail}
detection: {sel: {userAgent|wide: x}, condition: sel}
---
title: dangling
correlation: {type: temporal, rules: [nope], timespan: 1h}
---
title: fewer
correlation: {type: event_count, rules: [list_calls], timespan: 1h, condition: {lt: 3}}
",
        );
        assert_eq!(set.rules.len(), 1);
        assert!(!set.rules[0].report, "used only by a correlation");
        assert_eq!(
            set.rules[0].meta.attack(),
            ["attack.discovery", "attack.t1087"]
        );
        assert_eq!(set.correlations.len(), 1);
        let c = &set.correlations[0];
        assert_eq!(c.timespan_ms, 600_000);
        assert_eq!(c.threshold.min, 2);
        assert_eq!(
            c.group_by,
            [("userIdentity.arn".to_string(), "arn".to_string())]
        );
        let reasons: Vec<&str> = set.skipped.iter().map(|s| s.reason.as_str()).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert!(reasons[0].contains("not AWS CloudTrail"));
        assert!(reasons[1].contains("wide"));
        assert!(reasons[2].contains("lt"));
        assert!(reasons[3].contains("\"nope\""));
        assert_eq!(set.skipped[0].source, "t.yml#3");
    }

    #[test]
    fn broken_yaml_is_a_reason_not_a_failure() {
        let set = load("title: [unclosed\n");
        assert_eq!(set.rules.len(), 0);
        assert!(set.skipped[0].reason.starts_with("YAML"));
    }
}
