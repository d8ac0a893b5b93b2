//! `--engine ballista://...` and `backtrail cluster`: present in every build, working in
//! builds with the `ballista` feature, and saying so in the others.

use crate::{CliError, ExitStatus};
use backtrail_engine::Engine;
use std::path::Path;

#[cfg(feature = "ballista")]
impl From<backtrail_cluster::ClusterError> for CliError {
    fn from(e: backtrail_cluster::ClusterError) -> Self {
        use backtrail_cluster::ClusterError as E;
        match e {
            E::Store(s) => s.into(),
            E::Engine(q) => q.into(),
            E::Source(s) => s.into(),
            E::BadUrl(_) => CliError::new(ExitStatus::Usage, e.to_string()),
            other => CliError::new(ExitStatus::Failure, other.to_string()),
        }
    }
}

/// The store queried on the cluster at `url`.
#[cfg(feature = "ballista")]
pub fn connect(store: &Path, url: &str) -> Result<Engine, CliError> {
    Ok(backtrail_cluster::connect(store, url)?)
}

/// Ingest on the cluster at `url`.
#[cfg(feature = "ballista")]
pub fn ingest(
    url: &str,
    store: &Path,
    discovery: backtrail_sources::Discovery,
    opts: &backtrail_store::IngestOptions,
) -> Result<backtrail_store::IngestSummary, CliError> {
    use backtrail_cluster::ingest::ClusterIngestOptions;
    let cluster = ClusterIngestOptions {
        s3_endpoint: std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok(),
        s3_region: std::env::var("AWS_REGION")
            .or_else(|_| std::env::var("AWS_DEFAULT_REGION"))
            .ok(),
        ..ClusterIngestOptions::default()
    };
    let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = |done: u64, total: u64| {
        if !quiet {
            eprintln!("cluster ingest: {done}/{total} files committed");
        }
    };
    Ok(backtrail_cluster::ingest::ingest(
        url, store, discovery, opts, &cluster, &progress,
    )?)
}

/// A runtime for a cluster role (deep plans need large stacks).
#[cfg(feature = "ballista")]
fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 * 1024 * 1024)
        .build()
        .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))
}

/// Runs a scheduler until stopped.
#[cfg(feature = "ballista")]
pub fn scheduler(opts: backtrail_cluster::roles::SchedulerOptions) -> Result<(), CliError> {
    let rt = runtime()?;
    rt.block_on(backtrail_cluster::roles::run_scheduler(opts))?;
    Ok(())
}

/// Runs an executor of the scheduler at `scheduler` (HOST:PORT) until stopped; `opts` gets
/// the scheduler's parsed address.
#[cfg(feature = "ballista")]
pub fn executor(
    scheduler: &str,
    opts: impl FnOnce((String, u16)) -> backtrail_cluster::roles::ExecutorOptions,
) -> Result<(), CliError> {
    let rt = runtime()?;
    let addr = backtrail_cluster::parse_url(&format!("ballista://{scheduler}"))?;
    rt.block_on(backtrail_cluster::roles::run_executor(opts(addr)))?;
    Ok(())
}

#[cfg(not(feature = "ballista"))]
fn not_built() -> CliError {
    CliError::new(
        ExitStatus::Usage,
        "this backtrail was built without Ballista support; rebuild with \
         `cargo build --release --features ballista` to use --engine ballista://",
    )
}

#[cfg(not(feature = "ballista"))]
pub fn connect(_store: &Path, _url: &str) -> Result<Engine, CliError> {
    Err(not_built())
}

#[cfg(not(feature = "ballista"))]
pub fn ingest(
    _url: &str,
    _store: &Path,
    _discovery: backtrail_sources::Discovery,
    _opts: &backtrail_store::IngestOptions,
) -> Result<backtrail_store::IngestSummary, CliError> {
    Err(not_built())
}
