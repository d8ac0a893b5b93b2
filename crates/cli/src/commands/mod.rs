//! One function per subcommand.

mod compact;
mod demo;
mod hunt;
mod ingest;
mod integrity;
pub mod investigate;
mod verify;

use crate::args::{BenchFloorArgs, Cli, Command, QueryArgs, QueryFormatArg, ShowArgs, SynthArgs};
use crate::{CliError, ExitStatus};
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
        Command::Cluster(c) => crate::cluster::role(c),
        Command::BenchFloor(a) => bench_floor(a),
    }
}

fn query(a: QueryArgs) -> Result<(), CliError> {
    let engine = a.store.open()?;
    let batches = engine.sql(&a.sql)?;
    let format = match a.format {
        Some(QueryFormatArg::Table) => QueryFormat::Table,
        Some(QueryFormatArg::Json) => QueryFormat::Json,
        Some(QueryFormatArg::Jsonl) => QueryFormat::Jsonl,
        Some(QueryFormatArg::Csv) => QueryFormat::Csv,
        None if std::io::stdout().is_terminal() => QueryFormat::Table,
        None => QueryFormat::Jsonl,
    };
    let mut out = std::io::stdout().lock();
    write(&batches, format, &mut out)?;
    out.flush()?;
    Ok(())
}

fn show(a: ShowArgs) -> Result<(), CliError> {
    let engine = a.store.open()?;
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

/// Times encoding a store's events again with its own writer settings, one file per
/// thread, from batches read beforehand.
fn reencode(store: &std::path::Path, threads: usize) -> Result<(), CliError> {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use rayon::prelude::*;
    let fail = |e: &dyn std::fmt::Display| CliError::new(ExitStatus::Failure, e.to_string());
    let manifest = backtrail_store::Store::open(store)?.manifest()?;
    let mut files = Vec::new();
    for seg in &manifest.segments {
        let f = std::fs::File::open(store.join(&seg.events_file))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(f)
            .map_err(|e| fail(&e))?
            .with_batch_size(65_536)
            .build()
            .map_err(|e| fail(&e))?;
        files.push(
            reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| fail(&e))?,
        );
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| fail(&e))?;
    let started = std::time::Instant::now();
    let written: Result<Vec<usize>, parquet::errors::ParquetError> = pool.install(|| {
        files
            .par_iter()
            .filter(|b| !b.is_empty())
            .map(|batches| {
                let props = backtrail_store::parquet_props(65_536, true);
                let mut w = ArrowWriter::try_new(Vec::new(), batches[0].schema(), Some(props))?;
                for b in batches {
                    w.write(b)?;
                    w.flush()?;
                }
                Ok(w.into_inner()?.len())
            })
            .collect()
    });
    let written = written.map_err(|e| fail(&e))?;
    let rows: usize = files.iter().flatten().map(|b| b.num_rows()).sum();
    let json = serde_json::json!({
        "rows": rows,
        "bytes_written": written.iter().sum::<usize>(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{json}");
    Ok(())
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

/// Reads and decompresses every source in parallel with the ingest's own reader and
/// decompressor, and prints what that cost: the floor that ingest speed is measured against.
fn bench_floor(a: BenchFloorArgs) -> Result<(), CliError> {
    use rayon::prelude::*;
    if let Some(store) = &a.reencode {
        return reencode(store, a.threads);
    }
    let sources = backtrail_sources::Sources::new()?;
    let d = sources.discover(&a.sources, &backtrail_sources::Filter::default())?;
    let started = std::time::Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads)
        .build()
        .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
    let (raw, plain) = pool.install(|| {
        d.files
            .par_iter()
            .map(|f| match sources.read(f) {
                Ok(bytes) => {
                    let plain = backtrail_normalize::decode(&bytes).0;
                    if a.json {
                        // Parsed to be measured, then dropped; a damaged file costs the same.
                        let _ = sonic_rs::from_slice::<sonic_rs::Value>(&plain);
                    }
                    (bytes.len() as u64, plain.len() as u64)
                }
                Err(_) => (0, 0),
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    let json = serde_json::json!({
        "files": d.files.len(),
        "bytes_read": raw,
        "bytes_decompressed": plain,
        "seconds": started.elapsed().as_secs_f64(),
    });
    println!("{json}");
    Ok(())
}
