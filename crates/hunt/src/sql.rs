//! SQL text for one field's values: Sigma's wildcards, modifiers and value lists as
//! predicates DataFusion evaluates over the `events` table.

use crate::field::{self, Field, Kind};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use yaml_serde::Value;

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The comparison a field's modifiers ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Contains,
    StartsWith,
    EndsWith,
    Re,
    Cidr,
    Lt,
    Lte,
    Gt,
    Gte,
    Exists,
    FieldRef,
}

/// How values are encoded before they are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encode {
    Plain,
    Base64,
    Base64Offset,
}

struct Mods {
    op: Op,
    all: bool,
    cased: bool,
    encode: Encode,
    re_flags: String,
}

fn parse_mods(mods: &[&str]) -> Result<Mods, String> {
    let mut m = Mods {
        op: Op::Eq,
        all: false,
        cased: false,
        encode: Encode::Plain,
        re_flags: String::new(),
    };
    let set = |m: &mut Mods, op: Op| {
        if m.op != Op::Eq {
            return Err(format!(
                "modifiers {:?} and {:?} together are not supported",
                m.op, op
            ));
        }
        m.op = op;
        Ok(())
    };
    for name in mods {
        match *name {
            "contains" => set(&mut m, Op::Contains)?,
            "startswith" => set(&mut m, Op::StartsWith)?,
            "endswith" => set(&mut m, Op::EndsWith)?,
            "re" => set(&mut m, Op::Re)?,
            "cidr" => set(&mut m, Op::Cidr)?,
            "lt" => set(&mut m, Op::Lt)?,
            "lte" => set(&mut m, Op::Lte)?,
            "gt" => set(&mut m, Op::Gt)?,
            "gte" => set(&mut m, Op::Gte)?,
            "exists" => set(&mut m, Op::Exists)?,
            "fieldref" => set(&mut m, Op::FieldRef)?,
            "all" => m.all = true,
            "cased" => m.cased = true,
            "base64" => m.encode = Encode::Base64,
            "base64offset" => m.encode = Encode::Base64Offset,
            "i" | "m" | "s" => m.re_flags.push_str(name),
            other => return Err(format!("unsupported modifier {other:?}")),
        }
    }
    if !m.re_flags.is_empty() && m.op != Op::Re {
        return Err("regular expression flags without re".into());
    }
    if m.encode == Encode::Base64Offset && m.op != Op::Contains {
        return Err("base64offset is supported only with contains".into());
    }
    if m.encode != Encode::Plain && !matches!(m.op, Op::Eq | Op::Contains | Op::StartsWith) {
        return Err("base64 is supported only with equality, contains and startswith".into());
    }
    Ok(m)
}

/// A Sigma string: literal text and the wildcards `*` and `?` (`\*`, `\?`, `\\` escape).
#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Star,
    One,
}

fn pieces(s: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                cur.push(chars.next().unwrap_or('\\'));
            }
            '*' | '?' => {
                if !cur.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut cur)));
                }
                out.push(if c == '*' { Piece::Star } else { Piece::One });
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(Piece::Text(cur));
    }
    out
}

fn plain(p: &[Piece]) -> Option<String> {
    match p {
        [] => Some(String::new()),
        [Piece::Text(t)] => Some(t.clone()),
        _ => None,
    }
}

fn like_pattern(p: &[Piece], lower: bool) -> String {
    let mut out = String::new();
    for x in p {
        match x {
            Piece::Star => out.push('%'),
            Piece::One => out.push('_'),
            Piece::Text(t) => {
                let t = if lower { t.to_lowercase() } else { t.clone() };
                for c in t.chars() {
                    if matches!(c, '%' | '_' | '\\') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
        }
    }
    out
}

fn scalar(v: &Value) -> Result<Option<String>, String> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(b.to_string())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err("a value must be a string, number, Boolean or null".into()),
    }
}

/// The three base64 forms of `v` at each byte offset, cut to the characters that do not
/// depend on the neighbouring bytes (Sigma's `base64offset`).
fn base64_offsets(v: &str) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [usize; 3] = [0, 3, 2];
    (0..3)
        .map(|i| {
            let enc = STANDARD.encode(format!("{}{v}", " ".repeat(i)));
            let cut = END[(v.len() + i) % 3];
            enc[START[i]..enc.len() - cut].to_string()
        })
        .collect()
}

/// IPv4 CIDR as prefix matches on the dotted text (at most 128 patterns).
fn cidr(f: &str, v: &str) -> Result<String, String> {
    let bad = || format!("cidr {v:?}: only IPv4 a.b.c.d/n is supported");
    let (ip, len) = v.split_once('/').unwrap_or((v, "32"));
    let len: u32 = len.parse().map_err(|_| bad())?;
    let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    if len == 0 {
        return Ok(format!("{f} LIKE '%.%.%.%'"));
    }
    let octets = len.div_ceil(8);
    let free = octets * 8 - len;
    let base = u32::from(ip) & (u32::MAX << (32 - len));
    let mut alts = Vec::new();
    for i in 0..(1u32 << free) {
        let a = (base | (i << (32 - octets * 8))).to_be_bytes();
        let head: Vec<String> = a[..octets as usize].iter().map(|o| o.to_string()).collect();
        alts.push(if octets == 4 {
            format!("{f} = {}", lit(&head.join(".")))
        } else {
            format!("{f} LIKE {}", lit(&format!("{}.%", head.join("."))))
        });
    }
    Ok(format!("({})", alts.join(" OR ")))
}

/// The SQL for one `field|modifiers: values` entry of a selection, and, when it only
/// matches exact event names or sources, the `IN` list the scan can prune on first.
pub fn entry(key: &str, value: &Value) -> Result<(String, Option<String>), String> {
    let mut parts = key.split('|');
    let name = parts.next().unwrap_or_default();
    let mods: Vec<&str> = parts.collect();
    let m = parse_mods(&mods)?;
    let f = field::resolve(name)?;
    let values: Vec<&Value> = match value {
        Value::Sequence(s) => s.iter().collect(),
        v => vec![v],
    };
    if values.is_empty() {
        return Err(format!("{key}: empty value list"));
    }
    let mut preds = Vec::new();
    for v in &values {
        let s = scalar(v).map_err(|e| format!("{key}: {e}"))?;
        preds.extend(predicates(&f, &m, s, key)?);
    }
    let joined = if preds.len() == 1 {
        preds.remove(0)
    } else {
        format!("({})", preds.join(if m.all { " AND " } else { " OR " }))
    };
    let prune = (f.kind == Kind::Canonical
        && m.op == Op::Eq
        && m.encode == Encode::Plain
        && !(m.all && values.len() > 1))
        .then(|| {
            values
                .iter()
                .map(|v| match scalar(v) {
                    Ok(Some(s)) => plain(&pieces(&s)).map(|p| lit(&p)),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(|list| format!("{} IN ({})", f.sql, list.join(", ")))
        })
        .flatten();
    Ok((joined, prune))
}

/// The predicates of one value (several for base64offset).
fn predicates(f: &Field, m: &Mods, v: Option<String>, key: &str) -> Result<Vec<String>, String> {
    let need = |v: Option<String>| v.ok_or_else(|| format!("{key}: null with a modifier"));
    Ok(match m.op {
        Op::Exists => {
            let want = match v.as_deref() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(format!("{key}: exists takes true or false")),
            };
            vec![format!(
                "({} IS {}NULL)",
                f.sql,
                if want { "NOT " } else { "" }
            )]
        }
        Op::FieldRef => {
            let other = field::resolve(&need(v)?)?;
            if m.cased || f.kind == Kind::Canonical {
                vec![format!("({} = {})", f.sql, other.sql)]
            } else {
                vec![format!("(lower({}) = lower({}))", f.sql, other.sql)]
            }
        }
        Op::Re => {
            let pat = need(v)?;
            regex::Regex::new(&pat).map_err(|e| format!("{key}: bad regular expression: {e}"))?;
            if m.re_flags.is_empty() {
                vec![format!("regexp_like({}, {})", f.sql, lit(&pat))]
            } else {
                vec![format!(
                    "regexp_like({}, {}, {})",
                    f.sql,
                    lit(&pat),
                    lit(&m.re_flags)
                )]
            }
        }
        Op::Cidr => vec![cidr(&f.sql, &need(v)?)?],
        Op::Lt | Op::Lte | Op::Gt | Op::Gte => {
            let n: f64 = need(v)?
                .parse()
                .map_err(|_| format!("{key}: a number is needed"))?;
            let op = match m.op {
                Op::Lt => "<",
                Op::Lte => "<=",
                Op::Gt => ">",
                _ => ">=",
            };
            vec![format!("(TRY_CAST({} AS DOUBLE) {op} {n})", f.sql)]
        }
        Op::Eq | Op::Contains | Op::StartsWith | Op::EndsWith => {
            let Some(s) = v else {
                if m.op != Op::Eq || m.encode != Encode::Plain {
                    return Err(format!("{key}: null with a modifier"));
                }
                return Ok(vec![format!("({} IS NULL)", f.sql)]);
            };
            let texts = match m.encode {
                Encode::Plain => vec![s],
                Encode::Base64 => vec![STANDARD.encode(&s)],
                Encode::Base64Offset => base64_offsets(&s),
            };
            // Encoded text is case-sensitive; so are the canonical names.
            let cased = m.cased || m.encode != Encode::Plain || f.kind == Kind::Canonical;
            texts
                .into_iter()
                .map(|t| {
                    let mut p = if m.encode == Encode::Plain {
                        pieces(&t)
                    } else {
                        vec![Piece::Text(t)]
                    };
                    if matches!(m.op, Op::Contains | Op::EndsWith) {
                        p.insert(0, Piece::Star);
                    }
                    if matches!(m.op, Op::Contains | Op::StartsWith) {
                        p.push(Piece::Star);
                    }
                    let col = if cased {
                        f.sql.clone()
                    } else {
                        format!("lower({})", f.sql)
                    };
                    match plain(&p) {
                        Some(t) => {
                            let t = if cased { t } else { t.to_lowercase() };
                            format!("({col} = {})", lit(&t))
                        }
                        None => format!(
                            "({col} LIKE {} ESCAPE '\\')",
                            lit(&like_pattern(&p, !cased))
                        ),
                    }
                })
                .collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(k: &str, yaml: &str) -> (String, Option<String>) {
        entry(k, &yaml_serde::from_str(yaml).unwrap()).unwrap()
    }

    #[test]
    fn values_lists_wildcards_and_pruning() {
        assert_eq!(
            e("eventName", "[ListUsers, ListRoles]"),
            (
                "((event_name = 'ListUsers') OR (event_name = 'ListRoles'))".into(),
                Some("event_name IN ('ListUsers', 'ListRoles')".into())
            )
        );
        assert_eq!(
            e("eventName|startswith", "List").0,
            "(event_name LIKE 'List%' ESCAPE '\\')"
        );
        assert_eq!(e("eventName|startswith", "List").1, None);
        assert_eq!(
            e("userAgent|contains", "Kali_1%").0,
            "(lower(user_agent) LIKE '%kali\\_1\\%%' ESCAPE '\\')"
        );
        assert_eq!(
            e("userIdentity.type", "Root").0,
            "(lower(user_type) = 'root')"
        );
        assert_eq!(
            e("requestParameters.userName", "a?c\\*").0,
            "(lower(json_as_text(request_parameters, 'userName')) LIKE 'a_c*' ESCAPE '\\')"
        );
        assert_eq!(e("errorCode", "null").0, "(error_code IS NULL)");
        assert_eq!(
            e("userAgent|contains|all", "[a, b]").0,
            "((lower(user_agent) LIKE '%a%' ESCAPE '\\') AND (lower(user_agent) LIKE '%b%' ESCAPE '\\'))"
        );
        assert_eq!(
            e("readOnly", "false").0,
            "(lower(CAST(read_only AS VARCHAR)) = 'false')"
        );
    }

    #[test]
    fn modifiers() {
        assert_eq!(
            e(
                "requestParameters.userName|fieldref",
                "userIdentity.userName"
            )
            .0,
            "(lower(json_as_text(request_parameters, 'userName')) = lower(user_name))"
        );
        assert_eq!(e("errorCode|exists", "true").0, "(error_code IS NOT NULL)");
        assert_eq!(
            e("sourceIPAddress|cidr", "10.0.0.0/8").0,
            "(source_ip LIKE '10.%')"
        );
        let c = e("sourceIPAddress|cidr", "172.16.0.0/12").0;
        assert_eq!(c.matches(" OR ").count(), 15);
        assert!(c.contains("'172.31.%'") && !c.contains("'172.32.%'"));
        assert_eq!(
            e("sourceIPAddress|cidr", "192.0.2.7/32").0,
            "(source_ip = '192.0.2.7')"
        );
        assert_eq!(
            e("userAgent|re|i", "^boto3/1\\.").0,
            "regexp_like(user_agent, '^boto3/1\\.', 'i')"
        );
        assert_eq!(
            e("requestParameters.x|base64", "hi").0,
            "(json_as_text(request_parameters, 'x') = 'aGk=')"
        );
        // Sigma's reference forms of "http" at the three offsets.
        assert_eq!(base64_offsets("http"), ["aHR0c", "h0dH", "odHRw"]);
        assert!(
            entry("a|wide", &Value::from("x"))
                .unwrap_err()
                .contains("wide")
        );
        assert!(entry("sourceIPAddress|cidr", &Value::from("::1/128")).is_err());
        assert!(entry("userAgent|re", &Value::from("(")).is_err());
        assert!(entry("errorCode|contains", &Value::Null).is_err());
    }
}
