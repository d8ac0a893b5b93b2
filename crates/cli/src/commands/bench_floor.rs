//! `bench-floor` (hidden): what the benchmarks measure ingest against, the least reading,
//! decompressing, parsing or encoding costs with the ingest's own readers and settings.

use crate::args::BenchFloorArgs;
use crate::{CliError, ExitStatus};

/// Reads and decompresses every source in parallel with the ingest's own reader and
/// decompressor, and prints what that cost: the floor that ingest speed is measured against.
pub fn run(a: BenchFloorArgs) -> Result<(), CliError> {
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
