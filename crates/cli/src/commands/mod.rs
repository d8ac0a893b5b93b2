//! One function per subcommand.

mod bench_floor;
mod compact;
mod demo;
mod hunt;
mod ingest;
mod integrity;
pub mod investigate;
mod verify;

use crate::args::{Cli, Command, QueryArgs, QueryFormatArg, ShowArgs, StoreArg, SynthArgs};
use crate::output::{Format, Output};
use crate::{CliError, ExitStatus};
use backtrail_engine::Engine;
use backtrail_engine::output::{QueryFormat, write};
use backtrail_model::EventLookup;
use std::io::{IsTerminal, Write};

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Ingest(a) => ingest::run(a),
        Command::Query(a) => query(a),
        Command::Show(a) => show(a),
        Command::Synth(a) => synth(a).map(|_| ()),
        Command::Who(a) => investigate::who(a),
        Command::What(a) => investigate::report(a, investigate::Kind::What),
        Command::Where(a) => investigate::report(a, investigate::Kind::Where),
        Command::Investigate(a) => investigate::report(a, investigate::Kind::All),
        Command::Sessions(a) => investigate::sessions(a),
        Command::Verify(a) => verify::run(a),
        Command::Hunt(a) => hunt::hunt(a),
        Command::Demo(a) => demo::run(a),
        Command::Compact(a) => compact::run(a),
        #[cfg(feature = "ballista")]
        Command::Cluster(c) => cluster(c),
        Command::BenchFloor(a) => bench_floor::run(a),
    }
}

/// The store with the chosen engine: in this process, or on the cluster.
pub(crate) fn open(a: &StoreArg) -> Result<Engine, CliError> {
    match &a.engine {
        None => Ok(Engine::open(&a.store)?),
        Some(url) => crate::cluster::connect(&a.store, url),
    }
}

/// `backtrail cluster`: the role's arguments as the cluster's options.
#[cfg(feature = "ballista")]
fn cluster(c: crate::args::ClusterCommand) -> Result<(), CliError> {
    use crate::args::ClusterCommand;
    use backtrail_cluster::roles::{ExecutorOptions, SchedulerOptions};
    match c {
        ClusterCommand::Scheduler {
            bind,
            port,
            external_host,
        } => crate::cluster::scheduler(SchedulerOptions {
            bind,
            port,
            external_host,
        }),
        ClusterCommand::Executor {
            scheduler,
            bind,
            external_host,
            port,
            grpc_port,
            slots,
            work_dir,
        } => crate::cluster::executor(&scheduler, |scheduler| ExecutorOptions {
            bind,
            external_host,
            port,
            grpc_port,
            scheduler,
            slots,
            work_dir,
        }),
    }
}

fn query(a: QueryArgs) -> Result<(), CliError> {
    let engine = open(&a.store)?;
    let batches = engine.sql(&a.sql)?;
    let format = match a.format {
        Some(f) => f.into(),
        None if std::io::stdout().is_terminal() => Format::Table,
        None => Format::Jsonl,
    };
    let mut output = Output::new();
    for (f, q) in [
        (QueryFormatArg::Table, QueryFormat::Table),
        (QueryFormatArg::Json, QueryFormat::Json),
        (QueryFormatArg::Jsonl, QueryFormat::Jsonl),
        (QueryFormatArg::Csv, QueryFormat::Csv),
    ] {
        let batches = &batches;
        output = output.stream(f.into(), move |out| Ok(write(batches, q, out)?));
    }
    output.print(format)
}

fn show(a: ShowArgs) -> Result<(), CliError> {
    let engine = open(&a.store)?;
    match engine.event_by_id(&a.event_id)? {
        Some(ev) => {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", backtrail_normalize::to_json(&ev))?;
            Ok(())
        }
        None => Err(CliError::new(
            ExitStatus::NotFound,
            format!("no event with id {:?} in the store", a.event_id),
        )),
    }
}

/// Writes a synthetic trail and prints where everything went.
pub fn synth(a: SynthArgs) -> Result<backtrail_synth::SynthSummary, CliError> {
    let mut opts = backtrail_synth::SynthOptions::new(a.out.clone(), a.events, a.seed);
    if let Some(d) = a.days {
        opts.days = d;
    }
    opts.signed_digests = a.signed_digests;
    let s = backtrail_synth::generate(&opts)?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "wrote {} events in {} files to {}",
        s.events_written,
        s.files_written,
        a.out.display()
    )?;
    for i in &s.incidents {
        writeln!(
            out,
            "  incident {:<32} finding {}  ground truth {}",
            i.name,
            i.finding.display(),
            i.ground_truth.display()
        )?;
    }
    Ok(s)
}
