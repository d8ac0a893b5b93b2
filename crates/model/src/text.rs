//! Log values made inert for display: the one rule every renderer shares.

/// Whether `c` would act on a terminal or reorder text instead of showing: control
/// characters (ANSI escapes, newlines) and the bidirectional marks and overrides.
pub fn acts(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// `s` with every character that [`acts`] shown as a `\u{..}` escape.
pub fn inert(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if acts(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}
