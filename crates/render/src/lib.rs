//! Renderers for people: terminal text and Markdown (JSON is the analyses' own serde form).
//!
//! Every value that comes from the logs is attacker-controlled. [`text`] makes it inert for
//! a terminal (no escape sequences, no cursor movement, no bidirectional overrides);
//! the HTML renderer escapes for HTML in the same spirit.

pub mod html;
pub mod hunt;
pub mod investigate;
pub mod redact;
pub mod sessions;
pub mod who;

/// A log value made inert for a terminal: control characters, escape sequences and
/// bidirectional overrides are shown as `\u{..}` escapes instead of acting.
pub fn text(s: &str) -> String {
    backtrail_model::text::inert(s)
}

/// [`text`] of an optional value, `-` when absent.
pub fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "-".to_string(), text)
}

/// [`text`] cut to `max` characters with `…`, for table cells.
pub fn cut(s: &str, max: usize) -> String {
    let t = text(s);
    if t.chars().count() <= max {
        t
    } else {
        let mut c: String = t.chars().take(max.saturating_sub(1)).collect();
        c.push('…');
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_values_cannot_drive_the_terminal() {
        assert_eq!(text("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(text("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(text("line\nnext"), "line\\u{a}next");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(opt(&None), "-");
    }
}
