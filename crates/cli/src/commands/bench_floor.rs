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

/// Times encoding a store's events again with its own writer settings, one segment per
/// thread, from batches read beforehand (not timed). Segments are read and encoded
/// `threads` at a time and the output only counted, so memory holds that many decoded
/// segments, not the store (the whole 10M-event store read at once did not fit in 23 GB).
fn reencode(store: &std::path::Path, threads: usize) -> Result<(), CliError> {
    use parquet::arrow::ArrowWriter;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use rayon::prelude::*;
    let fail = |e: &dyn std::fmt::Display| CliError::new(ExitStatus::Failure, e.to_string());
    let manifest = backtrail_store::Store::open(store)?.manifest()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| fail(&e))?;
    let (mut rows, mut bytes, mut seconds) = (0usize, 0usize, 0f64);
    for group in manifest.segments.chunks(threads.max(1)) {
        let mut files = Vec::new();
        for seg in group {
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
        let started = std::time::Instant::now();
        let written: Result<Vec<usize>, parquet::errors::ParquetError> = pool.install(|| {
            files
                .par_iter()
                .filter(|b| !b.is_empty())
                .map(|batches| {
                    let props = backtrail_store::parquet_props(65_536, true);
                    let mut w = ArrowWriter::try_new(Counted(0), batches[0].schema(), Some(props))?;
                    for b in batches {
                        w.write(b)?;
                        w.flush()?;
                    }
                    Ok(w.into_inner()?.0)
                })
                .collect()
        });
        seconds += started.elapsed().as_secs_f64();
        bytes += written.map_err(|e| fail(&e))?.iter().sum::<usize>();
        rows += files.iter().flatten().map(|b| b.num_rows()).sum::<usize>();
    }
    let json = serde_json::json!({
        "rows": rows,
        "bytes_written": bytes,
        "seconds": seconds,
    });
    println!("{json}");
    Ok(())
}

/// A writer that keeps only the count of bytes written to it.
struct Counted(usize);

impl std::io::Write for Counted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
