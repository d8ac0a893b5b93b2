//! Where CloudTrail log bytes come from: local files and directories, and `s3://` prefixes.
//!
//! This crate only finds and fetches files; what the bytes mean (compression, JSON) is
//! another crate's business. Discovery understands CloudTrail's delivery layout
//! (`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`) in local paths and S3 keys alike,
//! so a [`Filter`] on accounts, regions or time skips whole folders without listing them.
//!
//! The API is blocking: [`Sources`] owns a small tokio runtime for S3 and blocks on it, so
//! that callers on rayon threads need no async code. For that reason a [`Sources`] must not
//! be used (or dropped) from inside another tokio runtime.
//!
//! # S3 credentials and settings
//! [`Sources::new`] reads the standard `AWS_*` environment variables the way object_store
//! does: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` /
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT`), `AWS_ALLOW_HTTP`. Without
//! static keys it falls back to web identity (`AWS_WEB_IDENTITY_TOKEN_FILE` +
//! `AWS_ROLE_ARN`), then ECS / EKS Pod Identity container credentials, then the EC2
//! instance metadata service. Not supported: the shared `~/.aws/credentials` and
//! `~/.aws/config` files, `AWS_PROFILE`, SSO and `credential_process`; export the keys
//! (for example with `aws configure export-credentials --format env`) instead.
//!
//! With a custom endpoint, requests use path-style addressing, and plain HTTP is allowed
//! when the endpoint is on the loopback interface (a local S3-compatible server). Without an
//! endpoint or a configured region, the bucket's own region is asked of S3 once per bucket.

#![warn(missing_docs)]

mod layout;
mod local;
mod s3;

use std::path::PathBuf;

use backtrail_model::Millis;

pub use s3::S3Options;

/// What to ingest, used to skip folders of the CloudTrail layout that cannot match.
/// Empty lists and `None` bounds mean "no restriction".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Earliest event time wanted (milliseconds UTC). Day folders that end more than a
    /// day before it are skipped: a day's files hold events from either side of midnight.
    pub since: Option<Millis>,
    /// Latest event time wanted (milliseconds UTC), inclusive. Day folders that start more
    /// than a day after it are skipped.
    pub until: Option<Millis>,
    /// 12-digit account ids whose folders to keep.
    pub accounts: Vec<String>,
    /// Region names (`us-east-1`) whose folders to keep.
    pub regions: Vec<String>,
}

impl Filter {
    /// True when the filter lets everything through, so discovery need not descend.
    pub(crate) fn is_empty(&self) -> bool {
        self.since.is_none()
            && self.until.is_none()
            && self.accounts.is_empty()
            && self.regions.is_empty()
    }
}

/// Where to fetch a file's bytes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Location {
    /// An absolute local path.
    Local(PathBuf),
    /// An object in an S3 bucket.
    S3 {
        /// The bucket name.
        bucket: String,
        /// The object key within the bucket.
        key: String,
    },
}

/// One file found by discovery (serializable, so a cluster's plan can hand it to the
/// executor that reads it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SourceFile {
    /// Identity and display name: the absolute local path, or `s3://bucket/key`.
    pub key: String,
    /// Size in bytes when listed.
    pub size: u64,
    /// Changes when the file's content may have: the local modification time in
    /// nanoseconds, or the S3 ETag (the last-modified time when there is none). Lets a
    /// store tell an already-ingested file from a rewritten one without reading it.
    pub version: String,
    /// Where [`Sources::read`] fetches the bytes from.
    pub location: Location,
}

/// A path under an input that discovery could not take, and why: the rest is still found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    /// The path (as walked, through any symbolic links).
    pub path: String,
    /// What is wrong with it.
    pub reason: String,
    /// True when nothing is lost by passing it by (a symbolic link loop, a FIFO or other
    /// special file); false when it may hold logs that could not be read (an unreadable
    /// directory, a dangling link), which a later ingest looks at again.
    pub skipped: bool,
}

/// The files found under a set of inputs, with counts that show how much the filter saved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovery {
    /// Every file found, sorted by key, without duplicates.
    pub files: Vec<SourceFile>,
    /// Paths under a directory input that could not be taken, in the order met.
    pub problems: Vec<PathProblem>,
    /// Directories or S3 prefixes the filter let discovery skip without listing them.
    pub pruned_prefixes: u64,
    /// Directories read or S3 listing calls made (one per prefix, however many pages).
    pub listed_prefixes: u64,
}

/// Why discovery or a read failed. Every variant names the path or URL involved.
#[derive(thiserror::Error, Debug)]
pub enum SourceError {
    /// An input or file that does not exist (an S3 prefix with nothing under it).
    #[error("{path}: not found")]
    NotFound {
        /// The local path or `s3://` URL.
        path: String,
    },
    /// A local I/O failure.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An S3 request or client setup that failed.
    #[error("{url}: {message}")]
    S3 {
        /// The `s3://` URL involved.
        url: String,
        /// What object_store reported.
        message: String,
    },
    /// An input that looks like a URL but is not a usable `s3://bucket/prefix`.
    #[error("bad URL {0:?}: expected s3://bucket/prefix")]
    BadUrl(String),
    /// The runtime for S3 requests could not be started.
    #[error("cannot start the S3 I/O runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The entry point for finding and reading files; cheap to share across threads.
pub struct Sources {
    rt: tokio::runtime::Runtime,
    s3: s3::S3Clients,
}

impl Sources {
    /// Sources whose S3 settings come from the standard `AWS_*` environment variables.
    pub fn new() -> Result<Self, SourceError> {
        Self::with_s3_options(S3Options {
            use_env: true,
            ..S3Options::default()
        })
    }

    /// Sources with explicit S3 settings, so that a caller (or a test) need not touch the
    /// process environment.
    pub fn with_s3_options(options: S3Options) -> Result<Self, SourceError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("backtrail-s3")
            .enable_all()
            .build()
            .map_err(SourceError::Runtime)?;
        Ok(Sources {
            rt,
            s3: s3::S3Clients::new(options),
        })
    }

    /// Lists every file under the inputs, sorted by key, pruned by the filter using the
    /// CloudTrail S3 layout in the path.
    ///
    /// An input is a local file (always included, whatever the filter), a local directory
    /// (walked recursively, skipping names that start with `.`), or `s3://bucket/prefix`
    /// (the prefix is a folder, or the key of one object).
    pub fn discover(&self, inputs: &[String], filter: &Filter) -> Result<Discovery, SourceError> {
        let mut found = Discovery::default();
        for input in inputs {
            if let Some(url) = s3::parse_url(input)? {
                self.rt
                    .block_on(self.s3.discover(&url, filter, &mut found))?;
            } else {
                local::discover(input, filter, &mut found)?;
            }
        }
        found.files.sort_by(|a, b| a.key.cmp(&b.key));
        found.files.dedup_by(|a, b| a.key == b.key);
        Ok(found)
    }

    /// Reads one file whole. Safe to call from many threads at once.
    pub fn read(&self, f: &SourceFile) -> Result<Vec<u8>, SourceError> {
        match &f.location {
            Location::Local(path) => std::fs::read(path).map_err(|e| local::error(path, e)),
            Location::S3 { bucket, key } => {
                self.rt.block_on(self.s3.read(bucket, key)).map(|r| r.0)
            }
        }
    }

    /// Reads one file whole with its user-defined metadata: an S3 object's `x-amz-meta-*`
    /// headers without that prefix (a CloudTrail digest's signature is `signature`); a local
    /// file has none.
    pub fn read_with_metadata(
        &self,
        f: &SourceFile,
    ) -> Result<(Vec<u8>, std::collections::BTreeMap<String, String>), SourceError> {
        match &f.location {
            Location::Local(_) => Ok((self.read(f)?, Default::default())),
            Location::S3 { bucket, key } => self.rt.block_on(self.s3.read(bucket, key)),
        }
    }

    /// Opens one file to be read a piece at a time, so that its size costs no memory: a
    /// local file, or an S3 object's body as it arrives. Safe to call from many threads at
    /// once; the reader blocks (for S3, on this [`Sources`]' runtime).
    pub fn open(&self, f: &SourceFile) -> Result<Box<dyn std::io::Read + '_>, SourceError> {
        match &f.location {
            Location::Local(path) => local::open(path).map(|r| Box::new(r) as _),
            Location::S3 { bucket, key } => {
                let body = self.rt.block_on(self.s3.open(bucket, key))?;
                Ok(Box::new(s3::BodyReader::new(&self.rt, body)))
            }
        }
    }
}
