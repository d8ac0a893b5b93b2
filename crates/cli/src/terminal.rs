//! Messages on stderr, honouring NO_COLOR and the terminal.

use std::io::IsTerminal;

/// Whether stderr is a terminal and colour is allowed.
pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// Prints an error.
pub fn error(msg: &str) {
    if color() {
        eprintln!("\x1b[1;31merror\x1b[0m: {msg}");
    } else {
        eprintln!("error: {msg}");
    }
}

/// Prints a warning.
pub fn warn(msg: &str) {
    if color() {
        eprintln!("\x1b[1;33mwarning\x1b[0m: {msg}");
    } else {
        eprintln!("warning: {msg}");
    }
}

/// A log value made safe to print: control characters and bidirectional overrides are
/// shown escaped, so that a user agent cannot move the cursor or recolour the terminal.
pub fn clean(s: &str) -> String {
    backtrail_engine::output::clean_cell(s)
}
