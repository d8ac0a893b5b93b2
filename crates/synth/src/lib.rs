//! backtrail-synth: a deterministic, realistic multi-account CloudTrail trail with planted
//! incidents and their ground truth, so attribution can be tested end to end at any
//! size (a few thousand to tens of millions of records).
//!
//! [`generate`] writes, under `OUT/`:
//!
//! * `AWSLogs/o-<org>/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<16 alnum>.json.gz`:
//!   the organization trail exactly as S3 receives it, gzip of `{"Records":[...]}` with
//!   compact records. One file per account, region and 5-minute window; the time stamp is
//!   the window's end (the last window of a day is stamped `2359Z` so that every record
//!   lies in the day of its folder). Global services (IAM, STS global endpoint, sign-in,
//!   Organizations) are delivered in us-east-1. Four accounts are in the trail
//!   (management, prod, dev, security); an attacker account and a monitoring SaaS account
//!   appear only inside records.
//! * `.../CloudTrail-Digest/us-east-1/...`: digest files for the first two hours of every
//!   account (real SHA-256 of each covered log file's content, chained through
//!   `previousDigest*`), and one `.../CloudTrail-Insight/...` file with an
//!   `AwsCloudTrailInsight` Start/End pair. Neither counts towards `events`.
//! * `ground-truth/<incident>.json` ([`GroundTruth`]), `findings/<incident>.json`
//!   (GuardDuty finding schema 2.0 about the attacker's access key) and
//!   `ground-truth/index.json` (run parameters, accounts and the incident list).
//!
//! # Ground truth
//!
//! ```json
//! {
//!   "incident": "cross-account-role-chain",
//!   "description": "one paragraph",
//!   "selection": "how the attacker's events were chosen, in words",
//!   "finding": "findings/cross-account-role-chain.json",
//!   "subject": {"access_key_id": "ASIA...", "arn": "arn:aws:sts::...:assumed-role/admin/itadmin"},
//!   "origin": {"kind": "IAMUser", "identifier": "arn:aws:iam::...:user/...", "account": "...",
//!              "evidence_event_ids": ["..."]},
//!   "chain": [{"method": "AssumeRole", "event_id": "...", "shared_event_id": "..." | null,
//!              "other_copy_event_ids": ["..."], "time": "...Z", "caller_arn": "..." | null,
//!              "caller_access_key_id": "..." | null, "issued_access_key_id": "ASIA..." | null,
//!              "issued_arn": "...", "issued_creation_date": "...Z"}],
//!   "sessions": [{"access_key_ids": ["..."], "arn": "...", "creation_date": "...Z" | null,
//!                 "attacker_event_count": 42}],
//!   "api_counts": [{"event_source": "iam.amazonaws.com", "event_name": "ListUsers",
//!                   "occurrences": 3, "successes": 2, "failures": 1}],
//!   "source_ips": ["203.0.113.7"],
//!   "denied_targets": [{"event_name": "ListRoles", "target": "arn:aws:iam::...:role/"}],
//!   "flags": ["cross_account", "role_chain"],
//!   "decoys": [{"kind": "same_arn_other_session", "access_key_id": "...", "arn": "...",
//!               "creation_date": "...Z" | null, "event_ids_sample": ["..."]}],
//!   "spawned": [{"method": "CreateAccessKey", "event_id": "...",
//!                "parent_access_key_id": "AKIA...", "session": 1}],
//!   "path_flags": ["cross_account", "data_access"]
//! }
//! ```
//!
//! `spawned` (sessions an attacker session issued and used; `session` indexes `sessions`)
//! and `path_flags` (the `investigate` path facts the incident plants) are present only
//! when not empty.
//!
//! The attacker's events are, for every incident, the records whose `userIdentity`
//! matches one of `sessions` (`accessKeyId` in `access_key_ids`, same `arn`, same
//! `sessionContext.attributes.creationDate`, or none for long-term keys; a record logged
//! without a key, such as a console SwitchRole, belongs to the session whose `arn` and
//! creationDate it carries) **and** whose
//! `sourceIPAddress` is in `source_ips` ([`GroundTruth::selects`]). The address condition
//! only matters where the same session is also used legitimately (a leaked user key, the
//! exfiltrated instance and Lambda credentials). Issuing events count where they are
//! signed by an attacker session (the caller's copy of an AssumeRole, a ConsoleLogin with
//! the SAML key); the role owner's `AWSAccount` copies carry no key and never count.
//! `api_counts`, `source_ips`, `denied_targets` and `attacker_event_count` are computed
//! by applying that rule to the written records. `origin.kind` is one of `IAMUser`,
//! `Root`, `SAMLUser`, `WebIdentityUser`, `IdentityCenterUser`, `FederatedUser`,
//! `AWSService`, `EC2Instance`, `LambdaFunction` and `AWSAccount` (a principal of an
//! account outside the data); `origin.identifier` is the user's or root's ARN, the SAML or
//! token subject, the Identity Center user name, the service name, the instance id
//! (`i-…`) or the function name accordingly. `chain` is ordered from the origin to
//! the subject; `caller_arn` is null for callers without an ARN (SAML, web identity, AWS
//! services), `issued_access_key_id` is null for console hand-overs (ConsoleLogin,
//! SwitchRole), whose sessions sign with keys minted by the console. `denied_targets`
//! holds the text after "on resource: " of AccessDenied/UnauthorizedOperation messages;
//! messages that name no resource (EC2's encoded message, S3's "Access Denied",
//! `ListSecrets`) contribute none.
//!
//! # Incidents
//!
//! `leaked-iam-key`, `identity-center-console`, `ec2-credentials-exfiltration`,
//! `cross-account-role-chain`, `recycled-access-key`, `vpc-endpoint-stolen-credentials`,
//! `access-denied-storm`, `key-minting-leaked-key` (the leaked key mints a second key and a
//! cross-account role session and uses both), `quiet-data-theft` (a handful of object,
//! secret and parameter reads, below any bulk threshold), `sso-console-switch-renew` and
//! `sso-console-keyless-login` (an Identity Center console sign-in, SwitchRole into another
//! account and RenewRole, with the ConsoleLogin signed with the federation's key or logged
//! without one, and a benign twin of the same person sharing every ARN); each description
//! says what happened. They are placed at
//! fixed times of day on days spread over the period and do not depend on `events`, so
//! all of them are planted even with a few thousand events.
//!
//! # Determinism and memory
//!
//! Everything comes from one hand-written PRNG seeded by [`SynthOptions::seed`] (separate
//! streams for the world, the background, every incident and file names): the same
//! options give byte-identical output. Only the currently open 5-minute files are kept
//! in memory; closed files are compressed by a pool of threads behind a bounded queue.
//! Records are rendered by hand into the open file's buffer; gzip is most of the cost,
//! hence the default [`SynthOptions::gzip_level`] of 1 (about 4.5 CPU-microseconds per
//! event in release builds, roughly 25 MB of resident memory for 10 million events).

mod background;
mod catalog;
mod cred;
mod emit;
mod incidents;
mod output;
mod record;
mod rng;
mod time;
mod truth;
mod world;

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

pub use truth::{
    ApiCount, ChainLink, Decoy, DeniedTarget, GroundTruth, Origin, SessionTruth, SpawnedTruth,
    Subject, denied_target, is_denial,
};

/// What to generate. Build it with [`SynthOptions::new`] and adjust the public fields.
#[derive(Clone, Debug)]
pub struct SynthOptions {
    /// Output directory; must be missing or empty, so two runs never mix.
    pub out: PathBuf,
    /// Total number of CloudTrail records (background plus incidents).
    pub events: u64,
    /// Seed of everything random: same options, same bytes.
    pub seed: u64,
    /// Start of the covered period (UTC).
    pub start: DateTime<Utc>,
    /// Length of the period in days (at least 1).
    pub days: u32,
    /// gzip level of the log files (0-9). The default 1 is what makes tens of millions
    /// of events practical (compression is most of the work); 6 gives files about a third
    /// smaller at about half the speed.
    pub gzip_level: u32,
    /// Write digest files as CloudTrail does with log file validation on: one an hour for
    /// every account and region, chained, signed (SHA256withRSA) with a test key generated
    /// from the seed, with the key in `ground-truth/public-keys.json` (the JSON of `aws
    /// cloudtrail list-public-keys`) and every digest's signature, which S3 would keep in
    /// the object's `x-amz-meta-signature`, in `ground-truth/digest-signatures.json`.
    /// Off: the first two hours of us-east-1 only, with placeholder signatures.
    pub signed_digests: bool,
}

impl SynthOptions {
    /// Options with the default period: starting 2026-10-01T00:00:00Z, one day for up
    /// to 200,000 events, otherwise one day per 400,000 events (at most 60 days), which
    /// keeps the per-day volume of a mid-sized organization.
    pub fn new(out: PathBuf, events: u64, seed: u64) -> Self {
        let days = if events <= 200_000 {
            1
        } else {
            events.div_ceil(400_000).min(60) as u32
        };
        SynthOptions {
            out,
            events,
            seed,
            start: Utc
                .with_ymd_and_hms(2026, 10, 1, 0, 0, 0)
                .single()
                .expect("valid date"),
            days,
            gzip_level: 1,
            signed_digests: false,
        }
    }
}

/// What was written.
#[derive(Clone, Debug)]
pub struct SynthSummary {
    /// CloudTrail records written (equals [`SynthOptions::events`]).
    pub events_written: u64,
    /// CloudTrail log files written (not counting digest, insight, ground truth and
    /// finding files).
    pub files_written: u64,
    /// The planted incidents.
    pub incidents: Vec<IncidentSummary>,
}

/// One planted incident and where its ground truth and finding are.
#[derive(Clone, Debug)]
pub struct IncidentSummary {
    /// Incident name (file stem of its ground truth and finding).
    pub name: String,
    /// Path of `ground-truth/<name>.json`.
    pub ground_truth: PathBuf,
    /// Path of `findings/<name>.json`.
    pub finding: PathBuf,
    /// What happened, in one paragraph.
    pub description: String,
}

/// Why generation failed.
#[derive(thiserror::Error, Debug)]
pub enum SynthError {
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Serializing ground truth failed.
    #[error("cannot serialize {path}: {source}")]
    Json {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// The options cannot be honoured.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
    /// `events` is smaller than the records the incidents need.
    #[error("{requested} events requested, but the planted incidents alone need {minimum}")]
    TooFewEvents {
        /// The requested number of events.
        requested: u64,
        /// Records of all incidents together.
        minimum: u64,
    },
    /// The output directory already has content.
    #[error("output directory {0} is not empty")]
    OutputNotEmpty(PathBuf),
    /// A file writer thread stopped unexpectedly.
    #[error("a log file writer thread stopped unexpectedly")]
    Worker,
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), SynthError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| SynthError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    fs::write(path, text + "\n").map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn create_dir(path: &Path) -> Result<(), SynthError> {
    fs::create_dir_all(path).map_err(|source| SynthError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the trail, ground truth and findings described by `opts`.
///
/// # Errors
///
/// [`SynthError::InvalidOptions`] for `days == 0` or a gzip level above 9,
/// [`SynthError::OutputNotEmpty`] when `opts.out` has content,
/// [`SynthError::TooFewEvents`] when `events` cannot hold the incidents, and
/// [`SynthError::Io`]/[`SynthError::Json`]/[`SynthError::Worker`] when writing fails.
pub fn generate(opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    if opts.days == 0 {
        return Err(SynthError::InvalidOptions("days must be at least 1".into()));
    }
    if opts.gzip_level > 9 {
        return Err(SynthError::InvalidOptions("gzip_level must be 0-9".into()));
    }
    if let Ok(mut entries) = fs::read_dir(&opts.out)
        && entries.next().is_some()
    {
        return Err(SynthError::OutputNotEmpty(opts.out.clone()));
    }
    let start = opts.start.timestamp();
    let end = start + opts.days as i64 * 86_400;
    let world = world::World::new(opts.seed);
    let incidents = incidents::build_all(&world, opts.seed, start, opts.days);
    let mut planted: Vec<emit::Produced> = incidents
        .iter()
        .flat_map(|i| i.records.iter().cloned())
        .collect();
    planted.sort_by_key(|p| p.time);
    let minimum = planted.len() as u64;
    if opts.events < minimum {
        return Err(SynthError::TooFewEvents {
            requested: opts.events,
            minimum,
        });
    }
    debug_assert!(planted.iter().all(|p| p.time >= start && p.time < end));

    let mut out = output::Output::create(
        &opts.out,
        &world,
        opts.seed,
        start,
        end,
        opts.gzip_level,
        opts.signed_digests,
    )?;
    let mut bg = background::Background::new(&world, opts.seed);
    bg.run(&mut out, opts.events - minimum, start, end, &planted)?;
    drop(planted);
    let events_written = out.records();
    let files_written = out.finish(opts.seed)?;

    let gt_dir = opts.out.join("ground-truth");
    let finding_dir = opts.out.join("findings");
    create_dir(&gt_dir)?;
    create_dir(&finding_dir)?;
    let mut summaries = Vec::new();
    for inc in &incidents {
        let name = &inc.truth.incident;
        let gt = gt_dir.join(format!("{name}.json"));
        let finding = finding_dir.join(format!("{name}.json"));
        write_json(&gt, &inc.truth)?;
        write_json(&finding, &inc.finding)?;
        summaries.push(IncidentSummary {
            name: name.clone(),
            ground_truth: gt,
            finding,
            description: inc.truth.description.clone(),
        });
    }
    let mut accounts: Vec<_> = world
        .accounts
        .iter()
        .map(|a| json!({"id": a.id, "name": a.name, "in_trail": true}))
        .collect();
    accounts.push(json!({"id": world::ATTACKER_ACCOUNT.to_string(), "name": "attacker-controlled (outside the organization)", "in_trail": false}));
    accounts.push(json!({"id": world::SAAS_ACCOUNT.to_string(), "name": "monitoring SaaS (outside the organization)", "in_trail": false}));
    let index = json!({
        "generator": "backtrail-synth",
        "seed": opts.seed,
        "events": events_written,
        "start": time::iso(start),
        "end": time::iso(end),
        "days": opts.days,
        "organization_id": world.org_id,
        "trail": world.trail_name,
        "bucket": world.bucket,
        "accounts": accounts,
        "regions": world::REGIONS,
        "incidents": incidents.iter().map(|i| json!({
            "incident": i.truth.incident,
            "ground_truth": format!("ground-truth/{}.json", i.truth.incident),
            "finding": i.truth.finding,
            "description": i.truth.description,
        })).collect::<Vec<_>>(),
    });
    write_json(&gt_dir.join("index.json"), &index)?;
    Ok(SynthSummary {
        events_written,
        files_written,
        incidents: summaries,
    })
}
