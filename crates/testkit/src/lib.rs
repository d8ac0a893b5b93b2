//! What the tests of every crate share: where the real captures are, and how to run the
//! headless browser.
//!
//! Optional inputs follow one rule, the S3 test's: a missing one fails the test under CI
//! (env `CI` set), where it must be there; elsewhere the test prints a notice and passes, so
//! a fresh clone without `../shared` or Chromium still runs `cargo test`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `../shared/realdata` beside the project root, or `BACKTRAIL_REALDATA`; `None` (after a
/// notice) when it is missing outside CI. Panics when it is missing under CI or when
/// `BACKTRAIL_REALDATA` names no directory: the caller asked for data that is not there.
pub fn realdata() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BACKTRAIL_REALDATA") {
        let p = PathBuf::from(p);
        assert!(
            p.is_dir(),
            "BACKTRAIL_REALDATA={} is not a directory",
            p.display()
        );
        return Some(p);
    }
    // `cargo test` names the package under test at run time; every package sits at
    // `crates/NAME`. The compile-time path is only a fallback: this crate's build can be
    // reused from another checkout of the workspace (a shared target dir, as in CI),
    // and then names that checkout.
    let package = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let p = package.join("../../../shared/realdata");
    if p.is_dir() {
        return Some(p);
    }
    missing(&format!(
        "real CloudTrail captures not found at {} (set BACKTRAIL_REALDATA)",
        p.display()
    ))
}

/// Every file below `dir`, depth first with each folder's entries in name order (the same
/// order on every machine).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The Chromium binary, or `None` (after a notice) when it is missing outside CI.
pub fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(move |dir| dir.join(name))
                .collect::<Vec<_>>()
        })
        .find(|p| p.is_file());
    match found {
        Some(p) => Some(p),
        None => missing("chromium not found: run scripts/install-browser.sh to install it"),
    }
}

/// Headless Chromium with a fresh profile in `profile` and nothing that reaches the
/// network or depends on the machine's screen; the caller adds its own flags and the URL.
pub fn headless_chromium(chrome: &Path, profile: &Path) -> Command {
    let mut c = Command::new(chrome);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--virtual-time-budget=3000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// Fails under CI; elsewhere says what is missing and lets the test pass.
fn missing<T>(what: &str) -> Option<T> {
    assert!(std::env::var_os("CI").is_none(), "{what}");
    eprintln!("notice: {what}; skipping this test");
    None
}
