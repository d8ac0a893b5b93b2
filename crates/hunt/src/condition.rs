//! A rule's `detection`: its named selections as SQL and its `condition` (and, or, not,
//! parentheses, `1 of x*`, `all of them`, `N of`) combined over them.

use crate::sql::entry;
use std::collections::BTreeMap;
use yaml_serde::Value;

/// A compiled detection: the predicate, and a necessary condition on eventName/eventSource
/// alone (when there is one) that lets the scan skip everything else first.
#[derive(Debug, Clone, PartialEq)]
pub struct Compiled {
    pub sql: String,
    pub prune: Option<String>,
}

fn and(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => Some(format!("({a} AND {b})")),
        (a, b) => a.or(b),
    }
}

fn or(a: Option<String>, b: Option<String>) -> Option<String> {
    Some(format!("({} OR {})", a?, b?))
}

/// One selection: a map (every entry holds) or a list of maps (any holds).
fn selection(v: &Value) -> Result<Compiled, String> {
    match v {
        Value::Mapping(m) => {
            if m.is_empty() {
                return Err("empty selection".into());
            }
            let mut sql = Vec::new();
            let mut prune = None;
            for (k, v) in m {
                let k = k
                    .as_str()
                    .ok_or_else(|| "a field name must be a string".to_string())?;
                let (s, p) = entry(k, v)?;
                sql.push(s);
                prune = and(prune, p);
            }
            Ok(Compiled {
                sql: format!("({})", sql.join(" AND ")),
                prune,
            })
        }
        Value::Sequence(items) if items.iter().all(|i| matches!(i, Value::Mapping(_))) => {
            let parts: Vec<Compiled> = items.iter().map(selection).collect::<Result<_, _>>()?;
            let mut it = parts.iter();
            let first = it.next().ok_or("empty selection list")?;
            let mut prune = first.prune.clone();
            for p in it {
                prune = or(prune, p.prune.clone());
            }
            let sql: Vec<&str> = parts.iter().map(|p| p.sql.as_str()).collect();
            Ok(Compiled {
                sql: format!("({})", sql.join(" OR ")),
                prune,
            })
        }
        Value::Sequence(_) | Value::String(_) | Value::Number(_) => Err(
            "keyword selections (values without a field) are not supported: name the field".into(),
        ),
        _ => Err("a selection must be a map or a list of maps".into()),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Open,
    Close,
}

fn tokens(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c == '|' {
            return Err(
                "aggregation conditions (`| count() ...`) are not supported: use a correlation rule"
                    .into(),
            );
        }
        if c == '(' || c == ')' || c.is_whitespace() {
            if !cur.is_empty() {
                out.push(Tok::Word(std::mem::take(&mut cur)));
            }
            match c {
                '(' => out.push(Tok::Open),
                ')' => out.push(Tok::Close),
                _ => {}
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(Tok::Word(cur));
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    sel: &'a BTreeMap<String, Compiled>,
}

impl Parser<'_> {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w.to_lowercase()),
            _ => None,
        }
    }

    fn or_expr(&mut self) -> Result<Compiled, String> {
        let mut left = self.and_expr()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Compiled {
                sql: format!("({} OR {})", left.sql, right.sql),
                prune: or(left.prune, right.prune),
            };
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Compiled, String> {
        let mut left = self.not_expr()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            let right = self.not_expr()?;
            left = Compiled {
                sql: format!("({} AND {})", left.sql, right.sql),
                prune: and(left.prune, right.prune),
            };
        }
        Ok(left)
    }

    fn not_expr(&mut self) -> Result<Compiled, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            let inner = self.not_expr()?;
            // NOT x is true on NULL-free text only when x is false, not unknown.
            return Ok(Compiled {
                sql: format!("(NOT coalesce({}, FALSE))", inner.sql),
                prune: None,
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Compiled, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or_expr()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("unbalanced parentheses in condition".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                let lw = w.to_lowercase();
                if self.peek_word().as_deref() == Some("of") {
                    self.pos += 1;
                    let target = match self.toks.get(self.pos) {
                        Some(Tok::Word(t)) => t.clone(),
                        _ => return Err(format!("`{w} of` needs a name pattern or them")),
                    };
                    self.pos += 1;
                    return self.quantified(&lw, &target);
                }
                if matches!(lw.as_str(), "and" | "or" | "not" | "of") {
                    return Err(format!("unexpected `{w}` in condition"));
                }
                self.sel
                    .get(&w)
                    .cloned()
                    .ok_or_else(|| format!("condition names unknown selection {w:?}"))
            }
            Some(Tok::Close) => Err("unexpected `)` in condition".into()),
            None => Err("condition ends too early".into()),
        }
    }

    fn quantified(&self, count: &str, target: &str) -> Result<Compiled, String> {
        let names: Vec<&String> = if target == "them" {
            self.sel.keys().filter(|k| !k.starts_with('_')).collect()
        } else if let Some(prefix) = target.strip_suffix('*') {
            self.sel.keys().filter(|k| k.starts_with(prefix)).collect()
        } else {
            self.sel.keys().filter(|k| *k == target).collect()
        };
        if names.is_empty() {
            return Err(format!("`of {target}` matches no selection"));
        }
        let parts: Vec<&Compiled> = names.iter().map(|n| &self.sel[*n]).collect();
        let n: usize = match count {
            "all" => parts.len(),
            "any" => 1,
            c => c
                .parse()
                .map_err(|_| format!("`{count} of`: expected a number, any or all"))?,
        };
        if n == 0 || n > parts.len() {
            return Err(format!(
                "`{count} of {target}`: {} selection(s)",
                parts.len()
            ));
        }
        let fold = |joiner: &str, f: &dyn Fn(Option<String>, Option<String>) -> Option<String>| {
            let sql: Vec<&str> = parts.iter().map(|p| p.sql.as_str()).collect();
            let mut prune = parts[0].prune.clone();
            for p in &parts[1..] {
                prune = f(prune, p.prune.clone());
            }
            Compiled {
                sql: format!("({})", sql.join(joiner)),
                prune,
            }
        };
        Ok(if n == parts.len() {
            fold(" AND ", &and)
        } else if n == 1 {
            fold(" OR ", &or)
        } else {
            let sum: Vec<String> = parts
                .iter()
                .map(|p| format!("CASE WHEN {} THEN 1 ELSE 0 END", p.sql))
                .collect();
            let any = fold(" OR ", &or);
            Compiled {
                sql: format!("(({}) >= {n})", sum.join(" + ")),
                prune: any.prune,
            }
        })
    }
}

/// Compiles a `detection` block.
pub fn compile(detection: &Value) -> Result<Compiled, String> {
    let map = detection
        .as_mapping()
        .ok_or("detection must be a map of selections and a condition")?;
    let mut sel = BTreeMap::new();
    let mut condition = None;
    for (k, v) in map {
        let k = k.as_str().ok_or("selection names must be strings")?;
        if k == "condition" {
            condition = Some(match v {
                Value::String(s) => s.clone(),
                Value::Sequence(list) if list.len() == 1 => list[0]
                    .as_str()
                    .ok_or("condition must be text")?
                    .to_string(),
                Value::Sequence(_) => {
                    return Err("several conditions in one rule are not supported".into());
                }
                _ => return Err("condition must be text".into()),
            });
        } else if k == "timeframe" {
            return Err("timeframe belongs to aggregations: use a correlation rule".into());
        } else {
            sel.insert(
                k.to_string(),
                selection(v).map_err(|e| format!("selection {k}: {e}"))?,
            );
        }
    }
    let condition = condition.ok_or("detection has no condition")?;
    let mut p = Parser {
        toks: tokens(&condition)?,
        pos: 0,
        sel: &sel,
    };
    let c = p.or_expr()?;
    if p.pos != p.toks.len() {
        return Err(format!(
            "condition {condition:?}: unexpected text after the end"
        ));
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(yaml: &str) -> Result<Compiled, String> {
        compile(&yaml_serde::from_str(yaml).unwrap())
    }

    #[test]
    fn conditions_and_pruning() {
        let r = c("
sel:
  eventSource: iam.amazonaws.com
  eventName: [CreateAccessKey, CreateLoginProfile]
filter:
  errorCode|exists: true
condition: sel and not filter
")
        .unwrap();
        assert_eq!(
            r.prune.as_deref(),
            Some(
                "(event_source IN ('iam.amazonaws.com') AND event_name IN ('CreateAccessKey', 'CreateLoginProfile'))"
            )
        );
        assert!(
            r.sql
                .contains("(NOT coalesce(((error_code IS NOT NULL)), FALSE))")
        );

        let r = c("
sel_a: {eventName: StopLogging}
sel_b: {eventName: DeleteTrail}
other: {userAgent|contains: x}
condition: 1 of sel_* or (other and not sel_a)
")
        .unwrap();
        // `other` alone has no event-name condition, so nothing can be pruned on.
        assert_eq!(r.prune, None);
        let r = c("
sel_a: {eventName: StopLogging}
sel_b: {eventName: DeleteTrail}
condition: 1 of sel_*
")
        .unwrap();
        assert_eq!(
            r.prune.as_deref(),
            Some("(event_name IN ('StopLogging') OR event_name IN ('DeleteTrail'))")
        );
        let r = c("
a: {eventName: X}
b: {userAgent: y}
c: {errorCode: z}
condition: 2 of them
")
        .unwrap();
        assert!(r.sql.contains(">= 2"));
        let r = c("
a: [{eventName: X}, {eventName: Y, userAgent: z}]
condition: all of them
")
        .unwrap();
        assert_eq!(
            r.prune.as_deref(),
            Some("(event_name IN ('X') OR event_name IN ('Y'))")
        );
    }

    #[test]
    fn unsupported_forms_say_why() {
        assert!(
            c("a: {eventName: X}\ncondition: a | count() > 5")
                .unwrap_err()
                .contains("correlation")
        );
        assert!(
            c("a: [evil, word]\ncondition: a")
                .unwrap_err()
                .contains("keyword")
        );
        assert!(
            c("a: {eventName: X}\ncondition: b")
                .unwrap_err()
                .contains("unknown selection")
        );
        assert!(
            c("a: {eventName: X}\ncondition: (a")
                .unwrap_err()
                .contains("parentheses")
        );
        assert!(
            c("a: {eventName: X}\ncondition: 1 of z*")
                .unwrap_err()
                .contains("matches no")
        );
        assert!(c("a: {eventName: X}").unwrap_err().contains("no condition"));
    }
}
