//! JSON-valued columns as JSON text, whatever shape the source gave them.

use std::borrow::Cow;

/// Text of a JSON-valued column as JSON: Athena-style exports store these fields as a JSON
/// string that holds the object, so both `{"a":1}` and `"{\"a\":1}"` yield the object text.
/// `None` when the value is neither an object nor an array (scalars, `null`, damage).
pub fn json_text(raw: &str) -> Option<Cow<'_, str>> {
    let t = raw.trim_start();
    if t.starts_with('"') {
        let v: String = serde_json::from_str(t).ok()?;
        if v.trim_start().starts_with('{') || v.trim_start().starts_with('[') {
            return Some(v.into());
        }
        return None;
    }
    if t.starts_with('{') || t.starts_with('[') {
        return Some(raw.into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::json_text;

    #[test]
    fn objects_plain_or_string_wrapped() {
        assert_eq!(json_text(r#"{"a":1}"#).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(json_text(r#" "{\"a\":1}""#).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(json_text(r#""[1]""#).as_deref(), Some("[1]"));
        assert_eq!(json_text("null"), None);
        assert_eq!(json_text(r#""plain""#), None);
        assert_eq!(json_text(r#""unterminated"#), None);
    }
}
