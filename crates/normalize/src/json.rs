//! A validating JSON walker over borrowed text: the record parser reads a record's members
//! with it in the one pass that also validates the record.
//!
//! Values come back as slices of the record (a string is unescaped only when it holds an
//! escape), so nothing is built for a value the parser does not keep. It validates as
//! RFC 8259 says (strings without raw control characters and with valid escapes, numbers
//! in their grammar, literals, structure); the text is a `&str`, so UTF-8 is already
//! checked. Containers recurse, at most [`MAX_DEPTH`](crate::record::MAX_DEPTH) levels,
//! whatever the caller checked before.

use crate::record::MAX_DEPTH;
use crate::scan::skip_ws as ws;
use std::borrow::Cow;

/// Where and why the text is not JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    /// Byte offset in the text given to [`members`].
    pub at: usize,
    pub what: &'static str,
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.what, self.at)
    }
}

/// The JSON type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Object,
    Array,
    String,
    Number,
    Bool,
    Null,
}

/// One value: its text as written, and its type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Value<'a> {
    raw: &'a str,
    kind: Kind,
    /// A string with at least one escape (its text must be unescaped to be read).
    escaped: bool,
}

impl<'a> Value<'a> {
    /// The value's text exactly as written in the record.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The string a JSON string holds; `None` for any other type.
    pub fn as_str(&self) -> Option<Cow<'a, str>> {
        if self.kind != Kind::String {
            return None;
        }
        let inner = &self.raw[1..self.raw.len() - 1];
        Some(if self.escaped {
            Cow::Owned(unescape(inner))
        } else {
            Cow::Borrowed(inner)
        })
    }

    /// `true` or `false`; `None` for any other value.
    pub fn as_bool(&self) -> Option<bool> {
        match (self.kind, self.raw) {
            (Kind::Bool, "true") => Some(true),
            (Kind::Bool, _) => Some(false),
            _ => None,
        }
    }

    /// The members of an object (validated again, as any text given to [`members`]).
    pub fn members(&self) -> Members<'a> {
        members(self.raw)
    }
}

/// The members of the object that `text` starts with (after whitespace), in order, each
/// validated before it is returned; the first error ends the walk. Text after the object's
/// closing brace is not looked at.
pub(crate) fn members(text: &str) -> Members<'_> {
    Members {
        text,
        i: 0,
        state: State::Start,
    }
}

enum State {
    Start,
    Next,
    Done,
}

/// Iterator returned by [`members`].
pub(crate) struct Members<'a> {
    text: &'a str,
    i: usize,
    state: State,
}

impl<'a> Members<'a> {
    /// The next member, `None` after the closing brace; the caller ends the walk on an
    /// error.
    fn step(&mut self) -> Result<Option<(Cow<'a, str>, Value<'a>)>, JsonError> {
        let b = self.text.as_bytes();
        let mut j = ws(b, self.i);
        match self.state {
            State::Done => return Ok(None),
            State::Start => {
                if b.get(j) != Some(&b'{') {
                    return err(j, "expected an object");
                }
                j = ws(b, j + 1);
                if b.get(j) == Some(&b'}') {
                    self.i = j + 1;
                    self.state = State::Done;
                    return Ok(None);
                }
            }
            State::Next => match b.get(j) {
                Some(b',') => j = ws(b, j + 1),
                Some(b'}') => {
                    self.i = j + 1;
                    self.state = State::Done;
                    return Ok(None);
                }
                Some(_) => return err(j, "expected ',' or '}'"),
                None => return err(j, "the text ends inside an object"),
            },
        }
        if b.get(j) != Some(&b'"') {
            return err(j, "expected a key");
        }
        let (kend, kesc) = string_end(b, j)?;
        let kraw = &self.text[j + 1..kend - 1];
        let key = if kesc {
            Cow::Owned(unescape(kraw))
        } else {
            Cow::Borrowed(kraw)
        };
        j = ws(b, kend);
        if b.get(j) != Some(&b':') {
            return err(j, "expected ':'");
        }
        j = ws(b, j + 1);
        let (end, kind, escaped) = value_end(b, j, 1)?;
        self.i = end;
        self.state = State::Next;
        let raw = &self.text[j..end];
        Ok(Some((key, Value { raw, kind, escaped })))
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = Result<(Cow<'a, str>, Value<'a>), JsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        let step = self.step();
        if step.is_err() {
            self.state = State::Done;
        }
        step.transpose()
    }
}

fn err<T>(at: usize, what: &'static str) -> Result<T, JsonError> {
    Err(JsonError { at, what })
}

/// The end of the value at `b[i]` (exclusive), its type, and whether it is a string with
/// escapes. `depth`: how many containers enclose it.
fn value_end(b: &[u8], i: usize, depth: usize) -> Result<(usize, Kind, bool), JsonError> {
    match b.get(i) {
        Some(b'"') => string_end(b, i).map(|(e, esc)| (e, Kind::String, esc)),
        Some(b'{') => container_end(b, i, depth + 1, b'}').map(|e| (e, Kind::Object, false)),
        Some(b'[') => container_end(b, i, depth + 1, b']').map(|e| (e, Kind::Array, false)),
        Some(b'-' | b'0'..=b'9') => number_end(b, i).map(|e| (e, Kind::Number, false)),
        Some(b't') => literal_end(b, i, b"true").map(|e| (e, Kind::Bool, false)),
        Some(b'f') => literal_end(b, i, b"false").map(|e| (e, Kind::Bool, false)),
        Some(b'n') => literal_end(b, i, b"null").map(|e| (e, Kind::Null, false)),
        Some(_) => err(i, "expected a value"),
        None => err(i, "the text ends where a value should be"),
    }
}

fn literal_end(b: &[u8], i: usize, word: &[u8]) -> Result<usize, JsonError> {
    if b[i..].starts_with(word) {
        Ok(i + word.len())
    } else {
        err(i, "invalid literal")
    }
}

fn number_end(b: &[u8], i: usize) -> Result<usize, JsonError> {
    let digits = |mut j: usize| {
        while let Some(b'0'..=b'9') = b.get(j) {
            j += 1;
        }
        j
    };
    let mut j = i;
    if b[j] == b'-' {
        j += 1;
    }
    match b.get(j) {
        Some(b'0') => j += 1,
        Some(b'1'..=b'9') => j = digits(j + 1),
        _ => return err(j, "invalid number"),
    }
    if b.get(j) == Some(&b'.') {
        let k = digits(j + 1);
        if k == j + 1 {
            return err(k, "invalid number");
        }
        j = k;
    }
    if let Some(b'e' | b'E') = b.get(j) {
        j += 1;
        if let Some(b'+' | b'-') = b.get(j) {
            j += 1;
        }
        let k = digits(j);
        if k == j {
            return err(k, "invalid number");
        }
        j = k;
    }
    Ok(j)
}

/// An object (`close` `}`) or array (`]`) at `b[i]`.
fn container_end(b: &[u8], i: usize, depth: usize, close: u8) -> Result<usize, JsonError> {
    if depth > MAX_DEPTH {
        return err(i, "nested too deep");
    }
    let object = close == b'}';
    let mut j = ws(b, i + 1);
    if b.get(j) == Some(&close) {
        return Ok(j + 1);
    }
    loop {
        if object {
            if b.get(j) != Some(&b'"') {
                return err(j, "expected a key");
            }
            j = ws(b, string_end(b, j)?.0);
            if b.get(j) != Some(&b':') {
                return err(j, "expected ':'");
            }
            j = ws(b, j + 1);
        }
        j = ws(b, value_end(b, j, depth)?.0);
        match b.get(j) {
            Some(b',') => j = ws(b, j + 1),
            Some(&c) if c == close => return Ok(j + 1),
            Some(_) => return err(j, "expected ',' or the container's end"),
            None => return err(j, "the text ends inside a container"),
        }
    }
}

/// The end of the string at `b[i] == '"'` (after its closing quote), and whether it holds
/// an escape.
fn string_end(b: &[u8], i: usize) -> Result<(usize, bool), JsonError> {
    let mut j = i + 1;
    let mut escaped = false;
    loop {
        j = crate::scan::special_byte(b, j);
        match b.get(j) {
            None => return err(b.len(), "the text ends inside a string"),
            Some(b'"') => return Ok((j + 1, escaped)),
            Some(b'\\') => {}
            Some(_) => return err(j, "control character in a string"),
        }
        escaped = true;
        match b.get(j + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => j += 2,
            Some(b'u') => {
                let hex = b.get(j + 2..j + 6);
                if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                    return err(j, "invalid \\u escape");
                }
                j += 6;
            }
            _ => return err(j, "invalid escape"),
        }
    }
}

/// The text of a string's inside (between its quotes, already validated by [`string_end`])
/// with its escapes replaced; a `\u` escape of a lone surrogate becomes U+FFFD.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let hex = |at: usize| -> Option<u32> {
        s.get(at..at + 4)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
    };
    while let Some(k) = memchr::memchr(b'\\', &b[i..]) {
        out.push_str(&s[i..i + k]);
        i += k;
        let c = match b.get(i + 1) {
            Some(b'n') => '\n',
            Some(b't') => '\t',
            Some(b'r') => '\r',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'u') => {
                let hi = hex(i + 2).unwrap_or(0xFFFD);
                i += 6;
                let c = if (0xD800..0xDC00).contains(&hi)
                    && b.get(i..i + 2) == Some(b"\\u")
                    && let Some(lo) = hex(i + 2)
                    && (0xDC00..0xE000).contains(&lo)
                {
                    i += 6;
                    char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))
                } else {
                    char::from_u32(hi)
                };
                out.push(c.unwrap_or('\u{FFFD}'));
                continue;
            }
            // '"', '\\', '/'
            Some(&c) => c as char,
            None => break,
        };
        out.push(c);
        i += 2;
    }
    out.push_str(&s[i..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(t: &str) -> Result<Vec<(String, String, Kind)>, JsonError> {
        members(t)
            .map(|m| m.map(|(k, v)| (k.into_owned(), v.raw().to_string(), v.kind())))
            .collect()
    }

    #[test]
    fn reads_members_as_written() {
        let t =
            r#" { "a" : 1 , "b":"x\"y", "c":{"d":[1,-2.5e+3,true,null,{}]},"e\u0041":[] } tail"#;
        let m = walk(t).unwrap();
        let keys: Vec<&str> = m.iter().map(|(k, ..)| k.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c", "eA"]);
        assert_eq!(m[1].1, r#""x\"y""#);
        assert_eq!(m[2].1, r#"{"d":[1,-2.5e+3,true,null,{}]}"#);
        assert_eq!(m[2].2, Kind::Object);
        let b = members(t).nth(1).unwrap().unwrap().1;
        assert_eq!(b.as_str().unwrap(), "x\"y");
        assert!(walk("{}").unwrap().is_empty());
    }

    #[test]
    fn unescapes_as_json_says() {
        let v = members(r#"{"k":"a\n\t\\\/\u00e9\ud83d\ude00\ud800x"}"#)
            .next()
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(v.as_str().unwrap(), "a\n\t\\/é😀\u{FFFD}x");
    }

    /// Every text serde_json accepts as an object is walked to its end, and every text it
    /// rejects fails the walk: the two agree on a set of valid and damaged records.
    #[test]
    fn agrees_with_serde_json_on_what_is_json() {
        let cases = [
            r#"{"a":1}"#,
            r#"{"a":01}"#,
            r#"{"a":-}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":.5}"#,
            r#"{"a":1.5E-7}"#,
            r#"{"a":tru}"#,
            r#"{"a":nul,"b":1}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":[,1]}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":{"b" 1}}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            r#"{"a":"\u12G4"}"#,
            "{\"a\":\"tab\there\"}",
            "{\"a\":\"nl\nhere\"}",
            r#"{"a":"ok\u001f"}"#,
            r#"{"a" :[ {"b":[[]]} , "x" ] }"#,
            r#"{"a":1"b":2}"#,
            r#"{"a":1,}"#,
            r#"{a:1}"#,
            r#"{"a":[1,2}"#,
            r#"{"a":{"b":1]}"#,
            r#"{"a":"unterminated}"#,
            r#"{"a":1"#,
            r#"{"a":true false}"#,
            r#"{"a":-0.0e0}"#,
            r#"{"a":"\ud800"}"#,
        ];
        for t in cases {
            let ours = walk(t).is_ok();
            let serde = serde_json::from_str::<serde_json::Value>(t).is_ok()
                // serde_json refuses lone surrogates when it builds a String; the text is
                // still JSON, and the walker reads it as U+FFFD.
                || t.contains(r"\ud800");
            assert_eq!(ours, serde, "{t}");
        }
    }

    proptest::proptest! {
        /// Texts built from JSON's own characters: the walker accepts exactly what
        /// serde_json accepts (texts with a `\\u` escape aside, where serde_json also
        /// refuses lone surrogates that are still JSON).
        #[test]
        fn accepts_what_serde_json_accepts(t in r#"\{("[a\\"ué\x01 ]{0,4}":[-0-9.eE+tfnrul\[\]{}",: ]{0,12},?){0,4}\}"#) {
            if !t.contains("\\u") {
                let serde = serde_json::from_str::<serde_json::Value>(&t).is_ok();
                proptest::prop_assert_eq!(whole(&t), serde, "{}", t);
            }
        }
    }

    proptest::proptest! {
        /// A record with one byte changed, inserted or removed: the walker and serde_json
        /// agree on whether it is still JSON.
        #[test]
        fn agrees_on_damaged_records(pos in 0usize..200, c in proptest::sample::select(br#"{}[]":,. 0-9eEtfnul\/ax"#.to_vec()), op in 0u8..3) {
            let base = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/r/s","sessionContext":{"attributes":{"mfaAuthenticated":false}}},"n":-1.5e3,"a":[1,true,null,{},"x\"y\u00e9"]}"#;
            let mut v = base.as_bytes().to_vec();
            let p = pos % v.len();
            match op {
                0 => v[p] = c,
                1 => v.insert(p, c),
                _ => { v.remove(p); }
            }
            let t = String::from_utf8(v).unwrap();
            let serde = serde_json::from_str::<serde_json::Value>(&t).is_ok();
            proptest::prop_assert_eq!(whole(&t), serde, "{}", t);
        }
    }

    /// Whether `t` is one object and nothing after it but whitespace.
    fn whole(t: &str) -> bool {
        let mut m = members(t);
        let ok = m.by_ref().all(|item| item.is_ok());
        ok && t[m.i..].trim_matches([' ', '\t', '\n', '\r']).is_empty()
    }

    #[test]
    fn depth_is_capped_without_overflow() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(walk(&deep).unwrap_err().what, "nested too deep");
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(walk(&ok).is_ok());
    }
}
