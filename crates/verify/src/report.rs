//! The result of a verification: what `backtrail verify --format json` prints and what the
//! store keeps (docs/report-format.md, "verify").

use serde::{Deserialize, Serialize};

/// Format of a stored report; a store with another one is verified again.
pub const FORMAT: u32 = 1;

/// Everything one verification found.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Report {
    /// [`FORMAT`].
    pub format: u32,
    /// When the verification ran (RFC 3339 UTC).
    pub verified_at: String,
    /// The sources as given.
    pub sources: Vec<String>,
    /// The restrictions applied.
    pub scope: Scope,
    /// Public keys loaded; 0 means signatures were not checked.
    pub public_keys: usize,
    /// The buckets the digests say CloudTrail delivered to.
    pub buckets: Vec<String>,
    /// The counts; `files_checked` is the sum of the five outcomes.
    pub summary: Summary,
    /// Every digest file in scope, oldest first per trail and region.
    pub digests: Vec<DigestResult>,
    /// Breaks, restarts and gaps of the digest chains.
    pub chain: Vec<ChainIssue>,
    /// Every log file in scope (found or listed), by key.
    pub files: Vec<FileResult>,
    /// Hours without any log file for an account and region active before and after.
    pub gaps: Vec<Gap>,
    /// Calls that change or stop logging, from the store.
    pub logging: Vec<LoggingEvent>,
    /// What could not be checked, and why.
    pub notes: Vec<String>,
}

/// The `--since/--until/--account/--region` restrictions.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Scope {
    /// Earliest delivery time judged (RFC 3339), if restricted.
    pub since: Option<String>,
    /// Latest delivery time judged, if restricted.
    pub until: Option<String>,
    /// Accounts judged (empty: all).
    pub accounts: Vec<String>,
    /// Regions judged (empty: all).
    pub regions: Vec<String>,
}

/// The counts of a verification.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// `valid + modified + missing + unlisted + not_covered`.
    pub files_checked: u64,
    /// Listed in a digest, hash matches.
    pub valid: u64,
    /// Listed, but the decompressed content's SHA-256 differs.
    pub modified: u64,
    /// Listed in a digest, not among the sources.
    pub missing: u64,
    /// Present in a period that digests cover, listed by none of them.
    pub unlisted: u64,
    /// Present where no digest covers its account, region and time.
    pub not_covered: u64,
    /// Files in the sources that are not CloudTrail log or digest deliveries (Insights,
    /// exports, anything outside the layout): not judged.
    pub files_not_judged: u64,
    /// Digest files in scope.
    pub digests: u64,
    /// Digests whose signature verified.
    pub digests_verified: u64,
    /// Digests whose signature is nowhere in the sources (the newest of a local copy).
    pub digests_unverifiable: u64,
    /// Digests that failed: signature, format, location or the next digest's hash of it.
    pub digests_failed: u64,
    /// Digests whose signature was not checked (no public keys given).
    pub digests_not_checked: u64,
    /// Chain problems (missing digests, restarts, gaps).
    pub chain_issues: u64,
    /// Delivery gaps.
    pub gaps: u64,
    /// Logging changes found in the store.
    pub logging_events: u64,
    /// True when anything in scope is modified, missing, unlisted, failed its signature, or
    /// a digest the chain names is missing: `verify` then exits non-zero.
    pub problems: bool,
}

/// The signature status of a digest.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum DigestStatus {
    /// Its signature verified (from S3 metadata or the next digest).
    Verified,
    /// No signature to check: only the S3 object's metadata holds it.
    Unverifiable,
    /// No public keys were given.
    NotChecked,
    /// Something failed; `problems` says what.
    Failed,
}

/// One digest file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DigestResult {
    /// Where it was read (local path or `s3://bucket/key`).
    pub key: String,
    /// Account, delivery region, trail and its home region.
    pub account: String,
    /// The region the digest covers.
    pub region: String,
    /// The trail name from the file name.
    pub trail: String,
    /// `digestStartTime` and `digestEndTime` as written.
    pub start: Option<String>,
    /// See `start`.
    pub end: Option<String>,
    /// Log files it lists.
    pub log_files: u64,
    /// A `_backfill` digest.
    pub backfill: bool,
    /// The newest digest of its chain in the sources.
    pub newest: bool,
    /// Where the signature came from: `s3_metadata`, `next_digest` or null.
    pub signature_source: Option<String>,
    /// The result.
    pub status: DigestStatus,
    /// Why it failed or could not be verified.
    pub problems: Vec<String>,
}

/// What is wrong with a chain.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChainIssueKind {
    /// A digest names a previous digest that is not in the sources.
    MissingDigest,
    /// A digest starts a new chain after an earlier one: validation or logging was off in
    /// between (or the chain was cut).
    Restart,
    /// Consecutive digests leave time uncovered between them.
    Gap,
}

/// A break in a digest chain, with its time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainIssue {
    /// What happened.
    pub kind: ChainIssueKind,
    /// Account, region and trail of the chain.
    pub account: String,
    /// See `account`.
    pub region: String,
    /// See `account`.
    pub trail: String,
    /// The uncovered period: from the end of the last digest before it.
    pub from: Option<String>,
    /// To the start of the first digest after it.
    pub to: Option<String>,
    /// The digest that shows it.
    pub digest: String,
    /// In words.
    pub detail: String,
    /// Logging changes in the store within an hour of the period: the likely reason.
    pub evidence_event_ids: Vec<String>,
}

/// The outcome of one log file.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Listed in a digest; the hash matches.
    Valid,
    /// Listed; the hash differs.
    Modified,
    /// Listed; not in the sources.
    Missing,
    /// In the sources, inside a covered period, listed by no digest.
    Unlisted,
    /// In the sources, where no digest covers it.
    NotCovered,
}

/// One log file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileResult {
    /// Local path or `s3://bucket/key`; for a missing file, `bucket/key` as listed.
    pub key: String,
    /// Account and region folders.
    pub account: String,
    /// See `account`.
    pub region: String,
    /// Delivery time from the file name.
    pub time: String,
    /// The outcome.
    pub outcome: Outcome,
    /// The digest that lists it.
    pub digest: Option<String>,
    /// That digest's status: a valid file is only as trustworthy as its digest.
    pub digest_status: Option<DigestStatus>,
    /// The hash the digest lists, when it differs from the content's.
    pub expected_sha256: Option<String>,
    /// The content's hash, when it differs.
    pub actual_sha256: Option<String>,
    /// Records in the file.
    pub events: u64,
}

/// An hour without log files.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Gap {
    /// Account and region.
    pub account: String,
    /// See `account`.
    pub region: String,
    /// First hour without a file.
    pub from: String,
    /// End of the last hour without a file.
    pub to: String,
    /// True when valid digests cover the whole gap and list no file in it: CloudTrail
    /// itself says nothing was delivered (no activity), rather than files being removed.
    pub vouched_by_digests: bool,
}

/// A call that changes or stops logging.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LoggingEvent {
    /// The event id: `backtrail show` prints it.
    pub event_id: String,
    /// When.
    pub time: String,
    /// Recipient account and region.
    pub account: Option<String>,
    /// See `account`.
    pub region: Option<String>,
    /// The API (`StopLogging`, `PutBucketLifecycle`, ...).
    pub event_name: String,
    /// `logging_stopped`, `logging_started`, `trail_deleted`, `validation_disabled`,
    /// `trail_updated`, `selectors_changed`, `bucket_policy_changed`,
    /// `bucket_lifecycle_changed`, `bucket_deleted`.
    pub kind: String,
    /// Who (ARN, else principal id).
    pub actor: Option<String>,
    /// The trail or bucket named in the request.
    pub target: Option<String>,
    /// The error code when the call failed (an attempt).
    pub error_code: Option<String>,
}
