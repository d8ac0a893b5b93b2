//! Streams records into the S3 delivery layout of an organization trail.
//!
//! Only the currently open 5-minute files are held in memory (one per account, region
//! and window, kept a minute past the window's end for slightly late records). A closed
//! file is handed to a pool of compression threads through a bounded channel, so memory
//! stays bounded however many events are written. Every file is compressed on its own,
//! so the bytes do not depend on which thread does it.

use std::collections::HashSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::json;

use crate::SynthError;
use crate::rng::Rng;
use crate::time::{day_path, file_stamp, iso};
use crate::world::{HOME, MGMT, REGIONS, World};

/// Length of a delivery window.
const WINDOW: i64 = 300;
/// How long a window's files stay open after the window ends.
const GRACE: i64 = 60;
/// Digest files cover the first hours of the trail, in us-east-1.
const DIGEST_HOURS: i64 = 2;

struct OpenFile {
    window: i64,
    acct: usize,
    region: usize,
    buf: String,
    count: u64,
    oldest: i64,
    newest: i64,
}

mod digest;

/// What a digest needs to know about a log file.
#[derive(Clone, Debug)]
struct LogMeta {
    acct: usize,
    region: usize,
    period: usize,
    key: String,
    oldest: i64,
    newest: i64,
}

struct Job {
    path: PathBuf,
    data: String,
    digest: Option<LogMeta>,
}

type WorkerResult = Result<Vec<(LogMeta, String)>, SynthError>;

/// Log file writer of one generation run.
pub(crate) struct Output {
    root: PathBuf,
    prefix: String,
    accounts: Vec<String>,
    bucket: String,
    trail: &'static str,
    start: i64,
    end: i64,
    level: u32,
    /// Signed digests for every account, region and hour ([`digest`]) instead of the
    /// unsigned first two hours of us-east-1.
    signed: bool,
    open: Vec<OpenFile>,
    names: Rng,
    tx: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<WorkerResult>>,
    dirs: HashSet<PathBuf>,
    files: u64,
    records: u64,
}

fn io_err(path: &Path, source: std::io::Error) -> SynthError {
    SynthError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// gzip with the fixed header flate2 writes (mtime 0), so output is reproducible.
pub(crate) fn gzip(data: &[u8], level: u32, path: &Path) -> Result<Vec<u8>, SynthError> {
    let mut enc = GzEncoder::new(
        Vec::with_capacity(data.len() / 6 + 64),
        Compression::new(level),
    );
    enc.write_all(data).map_err(|e| io_err(path, e))?;
    enc.finish().map_err(|e| io_err(path, e))
}

fn worker(rx: Arc<Mutex<Receiver<Job>>>, level: u32) -> WorkerResult {
    let mut hashed = Vec::new();
    loop {
        let job = {
            let guard = match rx.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            match guard.recv() {
                Ok(j) => j,
                Err(_) => return Ok(hashed),
            }
        };
        let gz = gzip(job.data.as_bytes(), level, &job.path)?;
        fs::write(&job.path, &gz).map_err(|e| io_err(&job.path, e))?;
        if let Some(meta) = job.digest {
            hashed.push((meta, sha256_hex(job.data.as_bytes())));
        }
    }
}

impl Output {
    pub(crate) fn create(
        root: &Path,
        world: &World,
        seed: u64,
        start: i64,
        end: i64,
        level: u32,
        signed: bool,
    ) -> Result<Self, SynthError> {
        fs::create_dir_all(root).map_err(|e| io_err(root, e))?;
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 8);
        let (tx, rx) = sync_channel::<Job>(threads * 2);
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|i| {
                let rx = Arc::clone(&rx);
                std::thread::Builder::new()
                    .name(format!("synth-gzip-{i}"))
                    .spawn(move || worker(rx, level))
                    .map_err(|e| io_err(root, e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Output {
            root: root.to_path_buf(),
            prefix: format!("AWSLogs/{}", world.org_id),
            accounts: world.accounts.iter().map(|a| a.id.clone()).collect(),
            bucket: world.bucket.clone(),
            trail: world.trail_name,
            start,
            end,
            level,
            signed,
            open: Vec::new(),
            names: Rng::stream(seed, 2),
            tx: Some(tx),
            workers,
            dirs: HashSet::new(),
            files: 0,
            records: 0,
        })
    }

    /// Number of records written so far.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Buffer of the file that receives a record of `acct`/`region` at time `t`, with the
    /// separator already written: append exactly one record.
    pub(crate) fn slot(
        &mut self,
        acct: usize,
        region: usize,
        t: i64,
    ) -> Result<&mut String, SynthError> {
        debug_assert!(t >= self.start && t < self.end, "record outside the period");
        while let Some(first) = self.open.first() {
            if first.window + WINDOW + GRACE <= t {
                let f = self.open.remove(0);
                self.close(f)?;
            } else {
                break;
            }
        }
        let window = t - t.rem_euclid(WINDOW);
        let key = (window, acct, region);
        let idx = match self
            .open
            .binary_search_by(|f| (f.window, f.acct, f.region).cmp(&key))
        {
            Ok(i) => i,
            Err(i) => {
                let mut buf = String::with_capacity(64 * 1024);
                buf.push_str("{\"Records\":[");
                self.open.insert(
                    i,
                    OpenFile {
                        window,
                        acct,
                        region,
                        buf,
                        count: 0,
                        oldest: t,
                        newest: t,
                    },
                );
                i
            }
        };
        self.records += 1;
        let f = &mut self.open[idx];
        if f.count > 0 {
            f.buf.push(',');
        }
        f.count += 1;
        f.oldest = f.oldest.min(t);
        f.newest = f.newest.max(t);
        Ok(&mut f.buf)
    }

    /// Appends an already rendered record.
    pub(crate) fn push_raw(
        &mut self,
        acct: usize,
        region: usize,
        t: i64,
        json: &str,
    ) -> Result<(), SynthError> {
        self.slot(acct, region, t)?.push_str(json);
        Ok(())
    }

    fn ensure_dir(&mut self, dir: &Path) -> Result<(), SynthError> {
        if !self.dirs.contains(dir) {
            fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            self.dirs.insert(dir.to_path_buf());
        }
        Ok(())
    }

    /// Object key (relative to the bucket) of a file of `kind` ("CloudTrail", ...).
    fn key(&mut self, kind: &str, acct: usize, region: usize, stamp_time: i64) -> (String, String) {
        let a = &self.accounts[acct];
        let r = REGIONS[region];
        let dir = format!("{}/{a}/{kind}/{r}/{}", self.prefix, day_path(stamp_time));
        let name = format!(
            "{a}_{kind}_{r}_{}_{}.json.gz",
            file_stamp(stamp_time),
            self.names.mixed_alnum(16)
        );
        (dir, name)
    }

    fn digest_period(&self, region: usize, window_end: i64) -> Option<usize> {
        if window_end <= self.start || (region != HOME && !self.signed) {
            return None;
        }
        let period = ((window_end - self.start - 1) / 3600) as usize;
        (self.signed || period < DIGEST_HOURS as usize).then_some(period)
    }

    fn close(&mut self, mut f: OpenFile) -> Result<(), SynthError> {
        f.buf.push_str("]}");
        let window_end = f.window + WINDOW;
        // Name the file after the end of its window, but keep the last window of a day
        // inside that day's folder (stamped 2359Z) so every record's eventTime falls in
        // the day of its path.
        let stamp_time = if window_end.rem_euclid(86_400) == 0 {
            window_end - 60
        } else {
            window_end
        };
        let (dir, name) = self.key("CloudTrail", f.acct, f.region, stamp_time);
        let dir_path = self.root.join(&dir);
        self.ensure_dir(&dir_path)?;
        let path = dir_path.join(&name);
        let digest = self
            .digest_period(f.region, window_end)
            .map(|period| LogMeta {
                acct: f.acct,
                region: f.region,
                period,
                key: format!("{dir}/{name}"),
                oldest: f.oldest,
                newest: f.newest,
            });
        self.files += 1;
        self.send(Job {
            path,
            data: f.buf,
            digest,
        })
    }

    fn send(&mut self, job: Job) -> Result<(), SynthError> {
        let tx = self.tx.as_ref().expect("output not finished");
        if tx.send(job).is_err() {
            // every worker stopped: report the first error
            self.tx = None;
            for w in std::mem::take(&mut self.workers) {
                match w.join() {
                    Ok(Err(e)) => return Err(e),
                    Ok(Ok(_)) => {}
                    Err(_) => return Err(SynthError::Worker),
                }
            }
            return Err(SynthError::Worker);
        }
        Ok(())
    }

    /// Flushes everything, waits for the writers and writes the digest and insight
    /// files. Returns the number of CloudTrail log files written.
    pub(crate) fn finish(mut self, seed: u64) -> Result<u64, SynthError> {
        for f in std::mem::take(&mut self.open) {
            self.close(f)?;
        }
        self.tx = None;
        let mut hashed = Vec::new();
        let mut first_err = None;
        for w in std::mem::take(&mut self.workers) {
            match w.join() {
                Ok(Ok(h)) => hashed.extend(h),
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => {
                    first_err.get_or_insert(SynthError::Worker);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        hashed.sort_by(|a, b| {
            (a.0.acct, a.0.region, a.0.period, &a.0.key)
                .cmp(&(b.0.acct, b.0.region, b.0.period, &b.0.key))
        });
        let mut rng = Rng::stream(seed, 3);
        if self.signed {
            self.write_signed_digests(&hashed, seed)?;
        } else {
            self.write_digests(&hashed, &mut rng)?;
        }
        self.write_insight(&mut rng)?;
        Ok(self.files)
    }

    fn write_gz(&mut self, dir: &str, name: &str, data: &[u8]) -> Result<(), SynthError> {
        let dir_path = self.root.join(dir);
        self.ensure_dir(&dir_path)?;
        let path = dir_path.join(name);
        let gz = gzip(data, self.level, &path)?;
        fs::write(&path, gz).map_err(|e| io_err(&path, e))
    }

    fn write_digests(
        &mut self,
        hashed: &[(LogMeta, String)],
        rng: &mut Rng,
    ) -> Result<(), SynthError> {
        let fingerprint = rng.hex(32);
        for acct in 0..self.accounts.len() {
            let mut previous: Option<(String, String, String)> = None;
            let mut period_start = self.start;
            for period in 0..DIGEST_HOURS as usize {
                let period_end = (self.start + 3600 * (period as i64 + 1)).min(self.end);
                if period_end <= period_start {
                    break;
                }
                let files: Vec<&(LogMeta, String)> = hashed
                    .iter()
                    .filter(|(m, _)| m.acct == acct && m.period == period)
                    .collect();
                // A placeholder: these digests are not signed.
                let previous_signed = previous.take().map(|(k, h, _)| (k, h, rng.hex(512)));
                let (key, text) = self.digest_doc(
                    acct,
                    HOME,
                    (period_start, period_end),
                    &files,
                    previous_signed.as_ref(),
                    &fingerprint,
                );
                let (dir, name) = key.rsplit_once('/').expect("a digest key has folders");
                self.write_gz(dir, name, text.as_bytes())?;
                let hash = sha256_hex(text.as_bytes());
                previous = Some((key, hash, String::new()));
                period_start = period_end;
            }
        }
        Ok(())
    }

    fn write_insight(&mut self, rng: &mut Rng) -> Result<(), SynthError> {
        let t_start = self.start + (self.end - self.start) / 3;
        let t_end = t_start + 1200;
        let shared = rng.uuid();
        let acct_id = self.accounts[MGMT].clone();
        let record = |state: &str, t: i64, rng: &mut Rng| {
            let mut details = json!({
                "state": state,
                "eventSource": "ssm.amazonaws.com",
                "eventName": "UpdateInstanceInformation",
                "insightType": "ApiCallRateInsight",
                "insightContext": {
                    "statistics": {
                        "baseline": {"average": 85.4202380952},
                        "insight": {"average": 664.0}
                    }
                }
            });
            if state == "End" {
                details["insightContext"]["statistics"]["insightDuration"] = json!(20);
            }
            json!({
                "eventVersion": "1.08",
                "eventTime": iso(t),
                "awsRegion": REGIONS[HOME],
                "eventID": rng.uuid(),
                "eventType": "AwsCloudTrailInsight",
                "recipientAccountId": acct_id,
                "sharedEventID": shared,
                "insightDetails": details,
                "eventCategory": "Insight"
            })
        };
        let doc = json!({"Records": [record("Start", t_start, rng), record("End", t_end, rng)]});
        let stamp = t_end + WINDOW - t_end.rem_euclid(WINDOW);
        let stamp = if stamp.rem_euclid(86_400) == 0 {
            stamp - 60
        } else {
            stamp
        };
        let (dir, name) = self.key("CloudTrail-Insight", MGMT, HOME, stamp);
        self.write_gz(&dir, &name, doc.to_string().as_bytes())
    }
}

/// Hex SHA-256, as digest files give the hash of each log file.
fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
