//! `backtrail`: who did it, what did they do, and from where, from CloudTrail logs.
//!
//! A thin binary: arguments are parsed here, the work happens in the library crates, and
//! their typed errors become exit codes in [`ExitStatus`]. Data goes to stdout; progress,
//! warnings and errors go to stderr.

mod args;
mod cluster;
mod commands;
mod hunting;
mod output;
mod terminal;
mod verification;

use clap::Parser;

/// Ingest allocates small strings on worker threads and frees them on the writer thread;
/// glibc's allocator spent more time on those cross-thread frees than the writer spent on
/// its work (docs/benchmarks.md), mimalloc does not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Exit codes, stable for scripts (docs/exit-status.md says when each is used).
#[derive(Debug, Clone, Copy)]
pub enum ExitStatus {
    /// Done.
    Success = 0,
    /// Something went wrong that is not one of the cases below.
    Failure = 1,
    /// Bad arguments (clap also uses 2).
    Usage = 2,
    /// An input (source, finding, store) could not be found or read.
    Input = 3,
    /// The query was rejected (syntax, unknown column..., or it would write: `query` reads).
    Query = 4,
    /// The subject was not found in the store.
    NotFound = 5,
    /// `verify` found modified, missing or unlisted files, or digests that failed.
    Problems = 6,
}

/// An error with the exit status it maps to.
#[derive(Debug)]
pub struct CliError {
    pub status: ExitStatus,
    pub message: String,
}

impl CliError {
    fn new(status: ExitStatus, message: impl Into<String>) -> Self {
        CliError {
            status,
            message: message.into(),
        }
    }
}

impl From<backtrail_store::StoreError> for CliError {
    fn from(e: backtrail_store::StoreError) -> Self {
        let status = match e {
            backtrail_store::StoreError::NotAStore(_) | backtrail_store::StoreError::Io { .. } => {
                ExitStatus::Input
            }
            _ => ExitStatus::Failure,
        };
        CliError::new(status, e.to_string())
    }
}

impl From<backtrail_sources::SourceError> for CliError {
    fn from(e: backtrail_sources::SourceError) -> Self {
        CliError::new(ExitStatus::Input, e.to_string())
    }
}

impl From<backtrail_engine::EngineError> for CliError {
    fn from(e: backtrail_engine::EngineError) -> Self {
        use backtrail_engine::EngineError as E;
        match e {
            E::Store(s) => s.into(),
            E::Query(q) => CliError::new(ExitStatus::Query, q),
            E::ReadOnly(_) => CliError::new(ExitStatus::Query, e.to_string()),
            E::Read(_) => CliError::new(ExitStatus::Input, e.to_string()),
            other => CliError::new(ExitStatus::Failure, other.to_string()),
        }
    }
}

impl From<backtrail_synth::SynthError> for CliError {
    fn from(e: backtrail_synth::SynthError) -> Self {
        CliError::new(ExitStatus::Failure, e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        // A closed pipe (`| head`) is not an error worth a message.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        CliError::new(ExitStatus::Failure, e.to_string())
    }
}

/// With `BACKTRAIL_IO_STATS` set, the bytes this process read (from `/proc/self/io`) and its
/// peak resident memory (`VmHWM` from `/proc/self/status`) go to stderr at exit: the
/// benchmarks compare reads with a full scan, and the hostile-input test bounds memory.
fn io_stats() {
    if std::env::var_os("BACKTRAIL_IO_STATS").is_none() {
        return;
    }
    if let Ok(io) = std::fs::read_to_string("/proc/self/io")
        && let Some(rchar) = io.lines().find_map(|l| l.strip_prefix("rchar: "))
    {
        eprintln!("io: rchar={rchar}");
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status")
        && let Some(hwm) = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))
    {
        let kib = hwm.trim().trim_end_matches("kB").trim();
        eprintln!("io: peak_rss_kib={kib}");
    }
}

/// Help and version as clap prints them; an argument error echoes what was typed (a
/// subject, a path), so it is printed inert like every other message, with exit status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit()
    }
    eprint!("{}", terminal::inert_lines(&e.render().to_string()));
    ExitCode::from(ExitStatus::Usage as u8)
}

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = commands::run(cli);
    io_stats();
    match result {
        Ok(()) => ExitCode::from(ExitStatus::Success as u8),
        Err(e) => {
            terminal::error(&e.message);
            ExitCode::from(e.status as u8)
        }
    }
}
