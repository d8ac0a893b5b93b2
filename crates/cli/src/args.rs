//! Command-line arguments.

use crate::output::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Answers who did it, what they did and from where, from AWS CloudTrail logs.
#[derive(Debug, Parser)]
#[command(name = "backtrail", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Most worker threads (or executor task slots) one process may be asked for: more than
/// most machines have cores, few enough that the threads and the files they hold in memory
/// fit. Beyond it the request is a usage error, not a failure to start the threads.
pub const MAX_THREADS: usize = 256;

/// A thread count: 0 (one per core) to [`MAX_THREADS`].
fn threads(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|e| format!("{e}: expected a number from 0 (one per core) to {MAX_THREADS}"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "{n} is more than {MAX_THREADS}; use 0 for one thread per core"
        ));
    }
    Ok(n)
}

/// The store to use.
#[derive(Debug, Args, Clone)]
pub struct StoreArg {
    /// Store directory (Parquet files and a manifest).
    #[arg(
        long,
        short = 's',
        env = "BACKTRAIL_STORE",
        default_value = "backtrail-store"
    )]
    pub store: PathBuf,
    /// Run on a Ballista cluster, ballista://HOST:PORT (the store must be on storage the
    /// executors share, at the same path); needs a build with `--features ballista`.
    #[arg(long, env = "BACKTRAIL_ENGINE", value_name = "URL")]
    pub engine: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read CloudTrail logs (files, directories, s3://bucket/prefix) into the store.
    Ingest(IngestArgs),
    /// Run SQL over the tables events, issuances and sessions.
    Query(QueryArgs),
    /// Print one event as AWS wrote it.
    Show(ShowArgs),
    /// Write a synthetic multi-account trail with planted incidents and their ground truth.
    Synth(SynthArgs),
    /// Who did it: follow a session's identity chain back to its origin.
    Who(WhoArgs),
    /// What did they do: the session's calls per API.
    What(ReportArgs),
    /// From where: source addresses, user agents, VPC endpoints and flags.
    Where(ReportArgs),
    /// Who + what + where for the subject and every session on its chain.
    Investigate(ReportArgs),
    /// Every session in a window with its origin, counts and flags, riskiest first.
    Sessions(SessionsArgs),
    /// Can these logs be trusted? Check digest signatures and chains, every log file's hash,
    /// and the store's logging changes (offline).
    Verify(VerifyArgs),
    /// Run Sigma rules for CloudTrail over the store; hits grouped by session.
    Hunt(HuntArgs),
    /// Generate a small trail, ingest it and investigate one planted incident.
    Demo(DemoArgs),
    /// Merge many small segments into fewer, so lookups open fewer files.
    Compact(CompactArgs),
    /// Run a Ballista scheduler or executor with backtrail's functions and plan codec.
    #[cfg(feature = "ballista")]
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Benchmark floor: read and decompress the sources in parallel, nothing else.
    #[command(hide = true)]
    BenchFloor(BenchFloorArgs),
}

#[derive(Debug, Args)]
pub struct BenchFloorArgs {
    /// Files, directories or s3://bucket/prefix URLs.
    #[arg(required_unless_present = "reencode")]
    pub sources: Vec<String>,
    /// Worker threads (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_parser = threads)]
    pub threads: usize,
    /// Also parse each file into a JSON document (sonic-rs), building no column: the
    /// least any JSON ingest pays before it stores anything.
    #[arg(long)]
    pub json: bool,
    /// Instead: encode the events of this store again with the store's Parquet settings
    /// (read first, untimed): the least writing the columns costs.
    #[arg(long, value_name = "STORE")]
    pub reencode: Option<PathBuf>,
}

/// Which part of the sources to read: the CloudTrail layout lets discovery skip the rest.
#[derive(Debug, Args)]
pub struct ScopeArgs {
    /// Only days on or after this time (RFC 3339 or YYYY-MM-DD); prunes the S3 layout.
    #[arg(long)]
    pub since: Option<String>,
    /// Only days on or before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only these accounts (repeatable).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Only these regions (repeatable).
    #[arg(long = "region")]
    pub regions: Vec<String>,
}

/// `backtrail compact`.
#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Store directory (compaction always runs in this process, on the store's files).
    #[arg(
        long,
        short = 's',
        env = "BACKTRAIL_STORE",
        default_value = "backtrail-store"
    )]
    pub store: PathBuf,
    /// Most events a compacted segment holds.
    #[arg(long, default_value_t = 1_000_000)]
    pub segment_rows: u64,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, directories or s3://bucket/prefix URLs.
    #[arg(required = true)]
    pub sources: Vec<String>,
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Worker threads (0: one per core; at most 256).
    #[arg(long, default_value_t = 0, value_parser = threads)]
    pub threads: usize,
    /// Events per commit (tests use small values to exercise many commits).
    #[arg(long, hide = true)]
    pub segment_rows: Option<u64>,
    /// Committed event ids held in memory for duplicate checks (benchmarks vary it).
    #[arg(long, hide = true)]
    pub id_budget: Option<usize>,
}

/// Output format of query results.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum QueryFormatArg {
    Table,
    Json,
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The SQL statement.
    pub sql: String,
    #[command(flatten)]
    pub store: StoreArg,
    /// Output format (default: table on a terminal, JSON Lines otherwise).
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<QueryFormatArg>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The eventID.
    pub event_id: String,
    #[command(flatten)]
    pub store: StoreArg,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Output directory (created).
    #[arg(long)]
    pub out: PathBuf,
    /// Number of CloudTrail records to write.
    #[arg(long, default_value_t = 100_000)]
    pub events: u64,
    /// Seed: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of days the trail spans (default: from the event count).
    #[arg(long)]
    pub days: Option<u32>,
    /// Write signed digest files for every account, region and hour, with the test public
    /// key in ground-truth/public-keys.json (for `verify --public-keys`).
    #[arg(long)]
    pub signed_digests: bool,
}

/// Output format of `verify`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum VerifyFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Files, directories or s3://bucket/prefix URLs: the same sources as `ingest`.
    #[arg(required = true)]
    pub sources: Vec<String>,
    /// The JSON of `aws cloudtrail list-public-keys` (repeatable: keys are per region).
    #[arg(long = "public-keys", value_name = "FILE")]
    pub public_keys: Vec<PathBuf>,
    /// The store whose logging changes are looked for and that keeps the result.
    #[command(flatten)]
    pub store: StoreArg,
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: VerifyFormat,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of events to generate.
    #[arg(long, default_value_t = 20_000)]
    pub events: u64,
    /// Keep the generated trail and store in this directory instead of a temporary one.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Output format of the investigation commands.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ReportFormat {
    Text,
    Json,
    /// Markdown, for a ticket (what, where, investigate).
    Markdown,
    /// One self-contained HTML file (investigate).
    Html,
    /// The activity rows (what, investigate).
    Csv,
}

/// What to investigate.
#[derive(Debug, Args, Clone)]
pub struct SubjectArgs {
    /// Access key id (AKIA/ASIA), ARN, principal id (AROA...:name) or role session name.
    #[arg(required_unless_present = "finding", conflicts_with = "finding")]
    pub subject: Option<String>,
    /// Start from a GuardDuty finding (JSON file: a finding, a get-findings output or an
    /// EventBridge event).
    #[arg(long)]
    pub finding: Option<PathBuf>,
    /// Only sessions active around this time (RFC 3339), within an hour either side.
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub at: Option<String>,
    /// Only sessions active on or after this time.
    #[arg(long)]
    pub since: Option<String>,
    /// Only sessions active on or before this time.
    #[arg(long)]
    pub until: Option<String>,
    #[command(flatten)]
    pub store: StoreArg,
}

/// Output format of `who`: the chain, as text or JSON (the other reports are built on it).
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum WhoFormat {
    Text,
    Json,
}

/// `who`.
#[derive(Debug, Args)]
pub struct WhoArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Output format (default: text); use investigate for markdown, csv or html.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: WhoFormat,
}

/// `what`, `where` and `investigate`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub subject: SubjectArgs,
    /// Output format (default: text).
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: ReportFormat,
    #[command(flatten)]
    pub report: ReportOptions,
}

/// What the investigation reports look at and write besides the subject.
#[derive(Debug, Args, Clone, Default)]
pub struct ReportOptions {
    /// Also write the report as one self-contained HTML file (investigate).
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// MaxMind-format databases (GeoLite2/GeoIP2 Country or City, ASN) for the country
    /// and network of public source addresses (repeatable).
    #[arg(long)]
    pub geoip: Vec<PathBuf>,
    /// Only calls from this source address (repeatable): separates an intruder's calls from
    /// the owner's when both used the same credentials.
    #[arg(long = "source-ip")]
    pub source_ips: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub store: StoreArg,
    /// Only sessions active on or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Only sessions active on or before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only sessions of these accounts (repeatable).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// How many sessions to list.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Sigma rule files or directories whose hits add to the score (default: the shipped
    /// rules).
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: ReportFormat,
}

/// Output format of `hunt`.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum HuntFormat {
    Text,
    Json,
    Markdown,
    /// One row per session and rule.
    Csv,
}

#[derive(Debug, Args)]
pub struct HuntArgs {
    /// Sigma rule files or directories (every *.yml/*.yaml below); default: the rules
    /// shipped with backtrail (rules/ in its repository).
    #[arg(long, num_args = 1..)]
    pub rules: Vec<PathBuf>,
    #[command(flatten)]
    pub store: StoreArg,
    /// Only events on or after this time (RFC 3339 or YYYY-MM-DD).
    #[arg(long)]
    pub since: Option<String>,
    /// Only events on or before this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Only events received by these accounts (repeatable).
    #[arg(long = "account")]
    pub accounts: Vec<String>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "text")]
    pub format: HuntFormat,
}

/// The cluster roles.
#[cfg(feature = "ballista")]
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The scheduler: clients send it work, it plans stages and hands tasks to executors.
    Scheduler {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// gRPC port.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Host name others reach this scheduler by (default: the bind address).
        #[arg(long)]
        external_host: Option<String>,
    },
    /// An executor: runs tasks and serves its shuffle output to the others.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "127.0.0.1:50050")]
        scheduler: String,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Host name others reach this executor by (default: the bind address).
        #[arg(long)]
        external_host: Option<String>,
        /// Arrow Flight port (shuffle data).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// gRPC port (task control).
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Tasks run at once (0: one per core; at most 256).
        #[arg(long, default_value_t = 0, value_parser = threads)]
        slots: usize,
        /// Directory for shuffle files (default: a temporary directory).
        #[arg(long)]
        work_dir: Option<String>,
    },
}

impl From<QueryFormatArg> for Format {
    fn from(f: QueryFormatArg) -> Format {
        match f {
            QueryFormatArg::Table => Format::Table,
            QueryFormatArg::Json => Format::Json,
            QueryFormatArg::Jsonl => Format::Jsonl,
            QueryFormatArg::Csv => Format::Csv,
        }
    }
}

impl From<VerifyFormat> for Format {
    fn from(f: VerifyFormat) -> Format {
        match f {
            VerifyFormat::Text => Format::Text,
            VerifyFormat::Json => Format::Json,
            VerifyFormat::Markdown => Format::Markdown,
        }
    }
}

impl From<WhoFormat> for Format {
    fn from(f: WhoFormat) -> Format {
        match f {
            WhoFormat::Text => Format::Text,
            WhoFormat::Json => Format::Json,
        }
    }
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Text => Format::Text,
            ReportFormat::Json => Format::Json,
            ReportFormat::Markdown => Format::Markdown,
            ReportFormat::Html => Format::Html,
            ReportFormat::Csv => Format::Csv,
        }
    }
}

impl From<HuntFormat> for Format {
    fn from(f: HuntFormat) -> Format {
        match f {
            HuntFormat::Text => Format::Text,
            HuntFormat::Json => Format::Json,
            HuntFormat::Markdown => Format::Markdown,
            HuntFormat::Csv => Format::Csv,
        }
    }
}
