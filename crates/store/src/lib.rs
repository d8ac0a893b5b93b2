//! The backtrail store: one directory of Parquet files (zstd) and a JSON manifest, readable
//! by any Parquet tool.
//!
//! ```text
//! STORE/manifest.json              what is committed (the only source of truth)
//! STORE/sources/sources-N.json     the source files read, named by the manifest (writers only)
//! STORE/events/seg-N.parquet       every record: normalized columns + the rest as JSON text
//! STORE/issuances/seg-N.parquet    credential-issuing and session-starting events
//! STORE/session_parts/seg-N.parquet  per-segment session aggregates
//! STORE/sessions/sessions-N.parquet  the merged sessions table
//! STORE/ids/seg-N.ids              event-id hashes per day, for duplicate checks
//! STORE/rejects/seg-N.jsonl        records and files not stored, with the reason
//! STORE/index/run-N.idx            identity index: which segments hold a key or ARN
//! ```
//! Row groups of the events table are sorted by access key, ARN and time and carry bloom
//! filters on event id, access key, ARN and principal id, so that looking one of them up
//! reads a small part of the store (see docs/store.md for the measurements).

pub mod columns;
pub mod compact;
pub mod ids;
pub mod index;
pub mod ingest;
pub mod manifest;
mod prepare;
pub mod sessions;

pub use ingest::{
    FileReport, IngestOptions, IngestRun, IngestSummary, NoProgress, PartitionOutput,
    PartitionWriter, Progress, SealedSegment,
};
pub use manifest::Manifest;

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use std::path::{Path, PathBuf};

/// Subdirectories holding table files.
pub const SUBDIRS: [&str; 8] = [
    "events",
    "issuances",
    "session_parts",
    "sessions",
    "ids",
    "rejects",
    "index",
    "sources",
];

/// Columns of the events table that carry bloom filters (point lookups).
pub const BLOOM_COLUMNS: [&str; 5] = [
    "event_id",
    "access_key_id",
    "arn",
    "principal_id",
    "shared_event_id",
];

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("store file {path} is damaged: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("{0} is not a backtrail store (no manifest.json); run `backtrail ingest` first")]
    NotAStore(PathBuf),
    #[error("{0}")]
    Other(String),
}

impl StoreError {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// A store directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub dir: PathBuf,
}

/// Held while an ingest writes; dropping it lets the next writer in.
pub struct WriteLock {
    _file: std::fs::File,
}

impl Store {
    /// Creates the directory layout if needed.
    pub fn create(dir: &Path) -> Result<Store, StoreError> {
        for sub in SUBDIRS {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| StoreError::io(&d, e))?;
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// Opens an existing store for reading.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        if !dir.join("manifest.json").is_file() {
            return Err(StoreError::NotAStore(dir.to_path_buf()));
        }
        Ok(Store {
            dir: dir.to_path_buf(),
        })
    }

    /// The committed manifest.
    pub fn manifest(&self) -> Result<Manifest, StoreError> {
        Manifest::load(&self.dir)
    }

    /// Waits for, then takes, the exclusive writer lock: two ingests into one store run one
    /// after the other, never interleaved.
    pub fn lock_for_writing(&self) -> Result<WriteLock, StoreError> {
        use fs4::fs_std::FileExt;
        let p = self.dir.join(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&p)
            .map_err(|e| StoreError::io(&p, e))?;
        if !f.try_lock_exclusive().map_err(|e| StoreError::io(&p, e))? {
            eprintln!(
                "waiting for another ingest into {} to finish",
                self.dir.display()
            );
            f.lock_exclusive().map_err(|e| StoreError::io(&p, e))?;
        }
        Ok(WriteLock { _file: f })
    }
}

/// Writer settings: zstd, page statistics, and bloom filters on lookup columns of events.
pub fn parquet_props(row_group_rows: usize, events: bool) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(1).expect("valid level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows));
    if events {
        // Unique per row: a dictionary would only be built to be thrown away.
        for c in ["event_id", "request_id", "shared_event_id"] {
            b = b.set_column_dictionary_enabled(c.into(), false);
        }
        for c in BLOOM_COLUMNS {
            b = b
                .set_column_bloom_filter_enabled(c.into(), true)
                .set_column_bloom_filter_fpp(c.into(), 0.01)
                .set_column_bloom_filter_max_ndv(c.into(), row_group_rows as u64);
        }
    }
    b.build()
}
