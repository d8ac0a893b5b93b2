//! Log values made inert for display: the one rule every renderer shares.

/// Whether `c` would act on a terminal or reorder text instead of showing: control
/// characters (C0 such as ESC and BEL, DEL, C1), the line and paragraph separators, and the
/// bidirectional marks, embeddings, overrides and isolates.
pub fn acts(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// `s` with every character that [`acts`] shown as a `\u{..}` escape.
pub fn inert(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_inert(&mut out, s);
    out
}

fn push_inert(out: &mut String, s: &str) {
    for c in s.chars() {
        if acts(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
}

/// Whether a spreadsheet would read a cell starting with `c` as a formula (OWASP's CSV
/// injection list: = + - @ tab and carriage return; and the full-width = + - @ that some
/// spreadsheets take for the ASCII ones).
fn starts_formula(c: char) -> bool {
    matches!(
        c,
        '=' | '+' | '-' | '@' | '\t' | '\r' | '\u{FF1D}' | '\u{FF0B}' | '\u{FF0D}' | '\u{FF20}'
    )
}

/// One CSV field holding the text `s`, safe in a spreadsheet and on a terminal, as OWASP
/// recommends for CSV built from untrusted values: a value that could start a formula gets
/// a leading `'`, characters that [`acts`] are escaped as [`inert`] shows them, and the
/// field is always quoted, its quotes doubled.
pub fn csv_field(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    out.push('"');
    if s.starts_with(starts_formula) {
        out.push('\'');
    }
    push_inert(&mut out, &s.replace('"', "\"\""));
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped() {
        assert_eq!(inert("a\u{1b}[2Jb\u{7}"), "a\\u{1b}[2Jb\\u{7}");
        assert_eq!(
            inert("x\u{202e}y\u{2067}z\u{61c}"),
            "x\\u{202e}y\\u{2067}z\\u{61c}"
        );
        assert_eq!(inert("c1\u{9b}31m"), "c1\\u{9b}31m");
        assert_eq!(inert("l\u{2028}p\u{2029}"), "l\\u{2028}p\\u{2029}");
        assert_eq!(inert("plain é ✓"), "plain é ✓");
    }

    #[test]
    fn csv_fields_stay_text_in_a_spreadsheet() {
        for (value, want) in [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1+cmd|' /C calc'!A0", "\"'+1+cmd|' /C calc'!A0\""),
            ("-2+3", "\"'-2+3\""),
            ("@SUM(A1)", "\"'@SUM(A1)\""),
            ("\t=1", "\"'\\u{9}=1\""),
            ("\r=1", "\"'\\u{d}=1\""),
            ("\u{FF1D}1+1", "\"'\u{FF1D}1+1\""),
            ("a,b", "\"a,b\""),
            ("", "\"\""),
            ("ListAccounts", "\"ListAccounts\""),
            (
                "a\u{1b}[2J\u{7}\u{202e}\u{85}\nb",
                "\"a\\u{1b}[2J\\u{7}\\u{202e}\\u{85}\\u{a}b\"",
            ),
        ] {
            assert_eq!(csv_field(value), want, "{value:?}");
        }
    }
}
