//! Offline CloudTrail log file integrity validation: can these logs be trusted?
//!
//! [`verify`] reads the digest files and log files of the same sources `ingest` reads (local
//! trees and `s3://`) and checks, as `aws cloudtrail validate-logs` does but without calling
//! AWS and over every account and region of an organization trail at once:
//!
//! * each digest's SHA256withRSA (PKCS#1 v1.5) signature over the documented string, against
//!   the public keys the user gives (the JSON of `aws cloudtrail list-public-keys`). The
//!   signature is the S3 object's `x-amz-meta-signature`; a local copy lost it, but each
//!   digest's signature is repeated as the next digest's `previousDigestSignature`, so only
//!   the newest digest of a local chain is unverifiable (and said to be);
//! * the chain per account, region and trail: missing digests, restarts and gaps, with times;
//! * each listed log file's SHA-256 of its decompressed content against `hashValue`, and every
//!   log file's outcome: valid, modified, missing, unlisted or not covered.
//!
//! [`logging::logging_events`] finds the calls that stopped or weakened logging among the
//! store's events, and [`Integrity`] answers, for an investigation, whether an event was read
//! from a verified file.

pub mod check;
pub mod digest;
pub mod index;
pub mod keys;
pub mod layout;
pub mod logging;
pub mod render;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use check::{Verification, verify};
pub use index::EventIndex;
pub use keys::{KeyError, PublicKeys};
pub use report::{DigestStatus, LoggingEvent, Outcome, Report, Summary};

use backtrail_model::time::parse_iso;

/// The file in the store that names the current verification result.
pub const POINTER: &str = "integrity.json";
/// The store subdirectory holding reports and event indexes.
pub const DIR: &str = "integrity";

/// Why a stored verification result could not be read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file is not what it should be.
    #[error("{path}: damaged verification result: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// What [`POINTER`] holds: the report and the event index of the current result, relative
/// to the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pointer {
    /// [`report::FORMAT`].
    pub format: u32,
    /// The report (JSON).
    pub report: String,
    /// The event index ([`EventIndex::to_bytes`]).
    pub events: String,
}

impl Pointer {
    /// Names for a result written at `millis` (unique per run).
    pub fn new(millis: i64) -> Pointer {
        Pointer {
            format: report::FORMAT,
            report: format!("{DIR}/report-{millis}.json"),
            events: format!("{DIR}/events-{millis}.bin"),
        }
    }
}

/// Fills in the summary counts and `problems` from the report's lists.
pub fn summarize(r: &mut Report) {
    let mut s = Summary {
        files_not_judged: r.summary.files_not_judged,
        ..Summary::default()
    };
    for f in &r.files {
        match f.outcome {
            Outcome::Valid => s.valid += 1,
            Outcome::Modified => s.modified += 1,
            Outcome::Missing => s.missing += 1,
            Outcome::Unlisted => s.unlisted += 1,
            Outcome::NotCovered => s.not_covered += 1,
        }
    }
    s.files_checked = s.valid + s.modified + s.missing + s.unlisted + s.not_covered;
    s.digests = r.digests.len() as u64;
    for d in &r.digests {
        match d.status {
            DigestStatus::Verified => s.digests_verified += 1,
            DigestStatus::Unverifiable => s.digests_unverifiable += 1,
            DigestStatus::NotChecked => s.digests_not_checked += 1,
            DigestStatus::Failed => s.digests_failed += 1,
        }
    }
    s.chain_issues = r.chain.len() as u64;
    s.gaps = r.gaps.len() as u64;
    s.logging_events = r.logging.len() as u64;
    s.problems = s.modified + s.missing + s.unlisted + s.digests_failed > 0
        || r.chain
            .iter()
            .any(|c| c.kind == report::ChainIssueKind::MissingDigest);
    r.summary = s;
}

/// Adds the logging changes found in the store, and names those within an hour of each chain
/// break as its evidence.
pub fn attach_logging(r: &mut Report, events: Vec<LoggingEvent>) {
    const HOUR: i64 = 3_600_000;
    for issue in &mut r.chain {
        let from = issue.from.as_deref().and_then(parse_iso);
        let to = issue.to.as_deref().and_then(parse_iso);
        let (Some(lo), Some(hi)) = (from.or(to), to.or(from)) else {
            continue;
        };
        issue.evidence_event_ids = events
            .iter()
            .filter(|e| parse_iso(&e.time).is_some_and(|t| t >= lo - HOUR && t <= hi + HOUR))
            .map(|e| e.event_id.clone())
            .collect();
    }
    r.logging = events;
    summarize(r);
}

/// The buckets CloudTrail delivered the verified files to (from the digests' records and the
/// `s3://` sources): the buckets whose policy and lifecycle matter.
pub fn trail_buckets(r: &Report) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for key in r.digests.iter().map(|d| &d.key).chain(r.sources.iter()) {
        if let Some(rest) = key.strip_prefix("s3://") {
            out.insert(rest.split('/').next().unwrap_or_default().to_string());
        }
    }
    out.extend(r.buckets.iter().cloned());
    out
}

/// How far one piece of evidence can be trusted.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceStatus {
    /// Read from a file whose hash a verified digest lists.
    Verified,
    /// The hash matches its digest, but that digest's signature could not be checked (the
    /// newest digest of a local copy, or no public keys).
    HashMatchesUnsignedDigest,
    /// Its file's hash matches a digest whose signature failed.
    DigestFailed,
    /// Its file was changed after delivery.
    Modified,
    /// Its file is listed by no digest of a covered period (inserted).
    Unlisted,
    /// No digest covers its file.
    NotCovered,
    /// Not read by the verification (another copy, another scope, or ingested from files
    /// outside the delivery layout).
    NotChecked,
}

/// The stored verification result, for investigations.
pub struct Integrity {
    /// The report.
    pub report: Report,
    /// Event id to file.
    pub index: EventIndex,
}

impl Integrity {
    /// The current result of the store at `dir`, if `verify` ever ran on it.
    pub fn load(dir: &Path) -> Result<Option<Integrity>, VerifyError> {
        let read = |p: &Path| std::fs::read(p);
        let pointer_path = dir.join(POINTER);
        let bytes = match read(&pointer_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(VerifyError::Io {
                    path: pointer_path,
                    source,
                });
            }
        };
        let corrupt = |path: &Path, message: String| VerifyError::Corrupt {
            path: path.to_path_buf(),
            message,
        };
        let pointer: Pointer =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(&pointer_path, e.to_string()))?;
        if pointer.format != report::FORMAT {
            return Ok(None);
        }
        let (rp, ip) = (dir.join(&pointer.report), dir.join(&pointer.events));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| VerifyError::Io { path, source }
        };
        let report: Report = serde_json::from_slice(&read(&rp).map_err(io(&rp))?)
            .map_err(|e| corrupt(&rp, e.to_string()))?;
        let index = EventIndex::from_bytes(&read(&ip).map_err(io(&ip))?)
            .ok_or_else(|| corrupt(&ip, "not an event index".into()))?;
        Ok(Some(Integrity { report, index }))
    }

    /// The status of one event, and the file it was read from (the worst, if several).
    pub fn status_of(&self, event_id: &str) -> (EvidenceStatus, Option<&report::FileResult>) {
        self.index
            .files_of(event_id)
            .filter_map(|i| self.report.files.get(i as usize))
            .map(|f| (file_status(f), Some(f)))
            .max_by_key(|(s, _)| *s)
            .unwrap_or((EvidenceStatus::NotChecked, None))
    }

    /// The status of every event of every section (`(name, event ids)`), with counts.
    pub fn evidence(&self, sections: &[(String, Vec<String>)]) -> EvidenceIntegrity {
        let mut evidence = BTreeMap::new();
        let mut out_sections = Vec::new();
        for (name, ids) in sections {
            let mut counts = BTreeMap::new();
            for id in ids {
                let (status, file) = self.status_of(id);
                *counts.entry(status).or_insert(0u64) += 1;
                evidence.entry(id.clone()).or_insert_with(|| EvidenceItem {
                    event_id: id.clone(),
                    status,
                    file: file.map(|f| f.key.clone()),
                });
            }
            out_sections.push(SectionIntegrity {
                section: name.clone(),
                events: ids.len() as u64,
                counts,
            });
        }
        EvidenceIntegrity {
            verified_at: self.report.verified_at.clone(),
            scope: self.report.scope.clone(),
            summary: self.report.summary.clone(),
            sections: out_sections,
            evidence: evidence.into_values().collect(),
        }
    }
}

fn file_status(f: &report::FileResult) -> EvidenceStatus {
    match (f.outcome, f.digest_status) {
        (Outcome::Valid, Some(DigestStatus::Verified)) => EvidenceStatus::Verified,
        (Outcome::Valid, Some(DigestStatus::Failed)) => EvidenceStatus::DigestFailed,
        (Outcome::Valid, _) => EvidenceStatus::HashMatchesUnsignedDigest,
        (Outcome::Modified | Outcome::Missing, _) => EvidenceStatus::Modified,
        (Outcome::Unlisted, _) => EvidenceStatus::Unlisted,
        (Outcome::NotCovered, _) => EvidenceStatus::NotCovered,
    }
}

/// Whether an investigation's evidence comes from verified files.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceIntegrity {
    /// When the store's sources were verified.
    pub verified_at: String,
    /// The scope of that verification.
    pub scope: report::Scope,
    /// Its counts.
    pub summary: Summary,
    /// Per section of the report: events and how many have each status.
    pub sections: Vec<SectionIntegrity>,
    /// Every evidence event id with its status and file.
    pub evidence: Vec<EvidenceItem>,
}

/// The statuses of one section's events.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SectionIntegrity {
    /// The section (`chain`, `session <arn>`).
    pub section: String,
    /// Evidence events in it.
    pub events: u64,
    /// How many have each status.
    pub counts: BTreeMap<EvidenceStatus, u64>,
}

/// One evidence event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceItem {
    /// The event id.
    pub event_id: String,
    /// How far it can be trusted.
    pub status: EvidenceStatus,
    /// The file it was read from, when verification read it.
    pub file: Option<String>,
}
