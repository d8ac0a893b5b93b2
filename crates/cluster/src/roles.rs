//! The scheduler and executor processes, with backtrail's functions and codec.
//!
//! Stock Ballista roles cannot run backtrail's work: the scheduler would not know the JSON
//! functions that queries may use, and executors could not decode the ingest nodes. These
//! start the same Ballista services with both registered.

use crate::ClusterError;
use crate::codec::BacktrailCodec;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::utils::default_session_builder;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::start_server;
use datafusion::execution::SessionState;
use datafusion::prelude::SessionConfig;
use std::net::SocketAddr;
use std::sync::Arc;

/// Where the scheduler listens.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Address to bind, e.g. `0.0.0.0`.
    pub bind: String,
    /// gRPC port that clients and executors connect to.
    pub port: u16,
    /// Host name executors and clients use to reach this scheduler.
    pub external_host: Option<String>,
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// Address to bind.
    pub bind: String,
    /// Host name other executors and clients use to fetch shuffle data from this one.
    pub external_host: Option<String>,
    /// Arrow Flight port (shuffle data).
    pub port: u16,
    /// gRPC port (task control).
    pub grpc_port: u16,
    /// The scheduler, as host and port.
    pub scheduler: (String, u16),
    /// Tasks run at once (0: one per core).
    pub slots: usize,
    /// Directory for shuffle files (default: a temporary directory).
    pub work_dir: Option<String>,
}

/// A session state with DataFusion's and Ballista's functions plus backtrail's JSON ones:
/// the scheduler's sessions, and the functions executors resolve plans with.
fn session_state(config: SessionConfig) -> datafusion::common::Result<SessionState> {
    let mut state = default_session_builder(config)?;
    datafusion_functions_json::register_all(&mut state)?;
    Ok(state)
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(opts: SchedulerOptions) -> Result<(), ClusterError> {
    let addr: SocketAddr = format!("{}:{}", opts.bind, opts.port)
        .parse()
        .map_err(|e| ClusterError::Cluster(format!("scheduler address: {e}")))?;
    let config = SchedulerConfig {
        bind_host: opts.bind.clone(),
        bind_port: opts.port,
        external_host: opts.external_host.unwrap_or_else(|| opts.bind.clone()),
        override_session_builder: Some(Arc::new(session_state)),
        override_physical_codec: Some(Arc::new(BacktrailCodec::default())),
        // An executor that stops sending heartbeats is given up on (and its tasks re-run
        // elsewhere) after this long.
        executor_timeout_seconds: 30,
        // When the last executor is gone, running jobs fail after this long instead of
        // waiting for one to come back.
        no_executors_grace_period_seconds: 30,
        // Shuffle files of a finished job are not read again (the client has its
        // result); an ingest round writes a copy of its events there, so free it soon.
        finished_job_data_clean_up_interval_seconds: 30,
        ..SchedulerConfig::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    eprintln!("backtrail scheduler listening on {addr}");
    start_server(cluster, addr, Arc::new(config)).await?;
    Ok(())
}

/// Runs an executor until the process is stopped.
pub async fn run_executor(opts: ExecutorOptions) -> Result<(), ClusterError> {
    let functions = BallistaFunctionRegistry::from(&session_state(SessionConfig::new())?);
    let mut config = ExecutorProcessConfig {
        bind_host: opts.bind,
        external_host: opts.external_host,
        port: opts.port,
        grpc_port: opts.grpc_port,
        scheduler_host: opts.scheduler.0,
        scheduler_port: opts.scheduler.1,
        scheduler_connect_timeout_seconds: 30,
        work_dir: opts.work_dir,
        override_function_registry: Some(Arc::new(functions)),
        override_physical_codec: Some(Arc::new(BacktrailCodec::default())),
        executor_heartbeat_interval_seconds: 5,
        ..ExecutorProcessConfig::default()
    };
    if opts.slots > 0 {
        config.vcores = opts.slots;
    }
    eprintln!(
        "backtrail executor on {}:{} serving scheduler {}:{}",
        config.bind_host, config.port, config.scheduler_host, config.scheduler_port
    );
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}
