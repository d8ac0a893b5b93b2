//! backtrail on an Apache DataFusion Ballista cluster.
//!
//! The embedded engine and the cluster run the same DataFusion plans over the same store;
//! only where they execute differs. This crate provides:
//!
//! - the cluster roles ([`roles::run_scheduler`], [`roles::run_executor`]), started with
//!   backtrail's JSON functions and its [`codec::BacktrailCodec`] registered, so that
//!   executors can run every plan backtrail sends;
//! - [`connect`]: an [`Engine`] whose SQL runs on the cluster, so every analysis (who,
//!   what, where, investigate, sessions) works unchanged;
//! - [`ingest::ingest`]: files parsed on the executors, shuffled by event identity so that
//!   each duplicate meets its original on one writer, written as segments into the shared
//!   store and listed in the manifest by the caller, with the embedded ingest's accounting.
//!
//! The store must be on storage every executor and the client see at the same path (a
//! shared file system); sources may be local paths on that storage or `s3://` URLs.

pub mod codec;
pub mod ingest;
pub mod roles;

use backtrail_engine::{Engine, EngineError};
use ballista_core::extension::SessionStateExt;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use std::path::Path;

/// Errors of the cluster roles and of work sent to a cluster.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A `ballista://host:port` address that cannot be used.
    #[error("bad engine address {0:?}: expected ballista://HOST:PORT")]
    BadUrl(String),
    /// The store could not be read, locked or written.
    #[error(transparent)]
    Store(#[from] backtrail_store::StoreError),
    /// Sources could not be listed.
    #[error(transparent)]
    Source(#[from] backtrail_sources::SourceError),
    /// A query failed (on the cluster or while planning it).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The cluster failed the work or could not be reached.
    #[error("cluster: {0}")]
    Cluster(String),
    /// The client's async runtime (or a path) could not be set up.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

impl From<datafusion::error::DataFusionError> for ClusterError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        ClusterError::Cluster(e.to_string())
    }
}

impl From<ballista_core::error::BallistaError> for ClusterError {
    fn from(e: ballista_core::error::BallistaError) -> Self {
        ClusterError::Cluster(e.to_string())
    }
}

/// The scheduler address of `ballista://HOST:PORT` as `(host, port)`.
pub fn parse_url(url: &str) -> Result<(String, u16), ClusterError> {
    let bad = || ClusterError::BadUrl(url.to_string());
    let rest = url.strip_prefix("ballista://").ok_or_else(bad)?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    if host.is_empty() || host.contains('/') {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// The scheduler's gRPC URL for Ballista's client.
fn scheduler_url(url: &str) -> Result<String, ClusterError> {
    let (host, port) = parse_url(url)?;
    Ok(format!("http://{host}:{port}"))
}

/// Opens the store at `dir` (a path the executors see too) with queries running on the
/// Ballista cluster at `url`.
pub fn connect(dir: &Path, url: &str) -> Result<Engine, ClusterError> {
    let scheduler = scheduler_url(url)?;
    let dir = std::path::absolute(dir).map_err(ClusterError::Runtime)?;
    Ok(Engine::open_with(&dir, move |config| {
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .build()
            .upgrade_for_ballista(scheduler)
            .map_err(EngineError::from)?;
        Ok(SessionContext::new_with_state(state))
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_addresses() {
        assert_eq!(
            parse_url("ballista://10.0.0.5:50050").unwrap(),
            ("10.0.0.5".to_string(), 50050)
        );
        assert_eq!(
            parse_url("ballista://sched.internal:7/").unwrap(),
            ("sched.internal".to_string(), 7)
        );
        for bad in [
            "http://h:1",
            "ballista://h",
            "ballista://:5",
            "ballista://h:x",
            "ballista://h:99999",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
