//! Messages on stderr, honouring NO_COLOR and the terminal.
//!
//! A message may echo what the user or a log gave us (a subject, a path, a finding's
//! contents, a file name from a bucket), so every message goes through the renderers'
//! inert-text rule ([`backtrail_model::text`]) before it is printed: nothing in it can move
//! the cursor, recolour or clear the terminal, or reorder the text. Line breaks of the
//! message itself (a multi-line error from the query engine) are kept; a value that should
//! stay on one line is made inert with [`clean`] where it is put into the message.

use std::io::IsTerminal;

/// Whether stderr is a terminal and colour is allowed.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// `msg` made inert line by line.
pub fn inert_lines(msg: &str) -> String {
    msg.split('\n')
        .map(backtrail_model::text::inert)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Prints an error.
pub fn error(msg: &str) {
    let msg = inert_lines(msg);
    if color() {
        eprintln!("\x1b[1;31merror\x1b[0m: {msg}");
    } else {
        eprintln!("error: {msg}");
    }
}

/// Prints a warning.
pub fn warn(msg: &str) {
    let msg = inert_lines(msg);
    if color() {
        eprintln!("\x1b[1;33mwarning\x1b[0m: {msg}");
    } else {
        eprintln!("warning: {msg}");
    }
}

/// Prints a notice (not a problem: where a file was written, what is waited for).
pub fn note(msg: &str) {
    eprintln!("{}", inert_lines(msg));
}

/// A log value made safe to print: control characters and bidirectional overrides are
/// shown escaped, so that a user agent cannot move the cursor or recolour the terminal.
pub fn clean(s: &str) -> String {
    backtrail_engine::output::clean_cell(s)
}
