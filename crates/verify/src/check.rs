//! The verification itself: digests (signature, location, chain), then every log file.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use backtrail_model::Millis;
use backtrail_model::time::{format_iso, parse_iso};
use backtrail_sources::{Discovery, Filter, Location, SourceFile, Sources};
use rayon::prelude::*;

use crate::digest::{DigestFile, sha256_hex};
use crate::index::EventIndex;
use crate::keys::{PublicKeys, SignatureCheck};
use crate::layout::{Kind, Place, place, rel_key};
use crate::report::{
    ChainIssue, ChainIssueKind, DigestResult, DigestStatus, FileResult, Gap, Outcome, Report, Scope,
};

const HOUR: Millis = 3_600_000;
const MINUTE: Millis = 60_000;
/// Consecutive digests may leave this much between one's end and the next one's start.
const CHAIN_SLACK: Millis = 2 * MINUTE;

/// A verification's report and the map from event id to the file it was read from.
pub struct Verification {
    /// What was found.
    pub report: Report,
    /// Event id hashes to indexes into `report.files`.
    pub index: EventIndex,
}

/// A digest file as read.
struct ReadDigest {
    file: SourceFile,
    place: Place,
    parsed: Result<DigestFile, String>,
    /// Hex SHA-256 of the decompressed content.
    sha: String,
    /// The signed string, when the file parsed.
    message: Option<String>,
    /// `x-amz-meta-signature` and `-signature-algorithm` of an S3 object.
    s3_signature: Option<String>,
    s3_algorithm: Option<String>,
    start: Option<Millis>,
    end: Option<Millis>,
}

impl ReadDigest {
    fn doc(&self) -> Option<&DigestFile> {
        self.parsed.as_ref().ok()
    }

    /// `digestEndTime`, else the file name's stamp.
    fn end(&self) -> Millis {
        self.end.unwrap_or(self.place.stamp)
    }

    fn start(&self) -> Millis {
        self.start.unwrap_or(self.end() - HOUR)
    }

    fn previous_rel(&self) -> Option<&str> {
        self.doc()?
            .previous_digest_s3_object
            .as_deref()
            .map(rel_key)
    }

    fn chain(&self) -> (String, String, String, String) {
        let (trail, home) = self.place.trail.clone().unwrap_or_default();
        (
            self.place.account.clone(),
            self.place.region.clone(),
            trail,
            home,
        )
    }
}

fn read_digest(sources: &Sources, file: &SourceFile, place: Place) -> ReadDigest {
    let (raw, meta, read_error) = match sources.read_with_metadata(file) {
        Ok((raw, meta)) => (raw, meta, None),
        Err(e) => (Vec::new(), BTreeMap::new(), Some(e.to_string())),
    };
    let (plain, damage) = backtrail_normalize::decode(&raw);
    let parsed = match (read_error, damage) {
        (Some(e), _) => Err(format!("cannot be read: {e}")),
        (None, Some(d)) => Err(format!("not a digest file: {d}")),
        (None, None) => DigestFile::parse(&plain).map_err(|e| format!("not a digest file: {e}")),
    };
    let message = parsed.as_ref().ok().map(|d| d.string_to_sign(&plain));
    let (start, end) = match &parsed {
        Ok(d) => (
            parse_iso(&d.digest_start_time),
            parse_iso(&d.digest_end_time),
        ),
        Err(_) => (None, None),
    };
    let is_s3 = matches!(file.location, Location::S3 { .. });
    ReadDigest {
        file: file.clone(),
        place,
        sha: sha256_hex(&plain),
        parsed,
        message,
        s3_signature: is_s3.then(|| meta.get("signature").cloned()).flatten(),
        s3_algorithm: is_s3
            .then(|| meta.get("signature-algorithm").cloned())
            .flatten(),
        start,
        end,
    }
}

/// Whether a file of `place` is in the filter's scope (`[from, to]` is its time span).
fn in_scope(filter: &Filter, place: &Place, from: Millis, to: Millis) -> bool {
    (filter.accounts.is_empty() || filter.accounts.contains(&place.account))
        && (filter.regions.is_empty()
            || filter
                .regions
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&place.region)))
        && filter.since.is_none_or(|s| to >= s)
        && filter.until.is_none_or(|u| from <= u)
}

/// Verifies the discovered files: every digest and every log file in the filter's scope.
pub fn verify(
    sources: &Sources,
    given: &[String],
    discovery: &Discovery,
    keys: &PublicKeys,
    filter: &Filter,
) -> Verification {
    let mut report = Report {
        format: crate::report::FORMAT,
        verified_at: format_iso(now_ms()),
        sources: given.to_vec(),
        scope: Scope {
            since: filter.since.map(format_iso),
            until: filter.until.map(format_iso),
            accounts: filter.accounts.clone(),
            regions: filter.regions.clone(),
        },
        public_keys: keys.len(),
        ..Report::default()
    };
    let mut logs = Vec::new();
    let mut digest_files = Vec::new();
    for f in &discovery.files {
        match place(&f.key) {
            Some(p) if p.kind == Kind::Digest => digest_files.push((f, p)),
            Some(p) => logs.push((f, p)),
            None => report.summary.files_not_judged += 1,
        }
    }
    let digests: Vec<ReadDigest> = digest_files
        .into_par_iter()
        .map(|(f, p)| read_digest(sources, f, p))
        .collect();
    let by_rel: HashMap<&str, usize> = digests
        .iter()
        .enumerate()
        .map(|(i, d)| (d.place.rel.as_str(), i))
        .collect();
    let mut next_of: HashMap<&str, usize> = HashMap::new();
    for (i, d) in digests.iter().enumerate() {
        if !d.place.backfill
            && let Some(prev) = d.previous_rel()
        {
            next_of.entry(prev).or_insert(i);
        }
    }
    let digest_scope: Vec<bool> = digests
        .iter()
        .map(|d| in_scope(filter, &d.place, d.start(), d.end()))
        .collect();

    // Newest digest of each chain.
    let mut chains: BTreeMap<_, Vec<usize>> = BTreeMap::new();
    for (i, d) in digests.iter().enumerate() {
        if !d.place.backfill {
            chains.entry(d.chain()).or_default().push(i);
        }
    }
    for members in chains.values_mut() {
        members.sort_by_key(|&i| (digests[i].end(), digests[i].place.rel.clone()));
    }
    let newest: HashSet<usize> = chains.values().filter_map(|m| m.last().copied()).collect();

    let mut statuses = vec![DigestStatus::NotChecked; digests.len()];
    for (i, d) in digests.iter().enumerate() {
        let next = next_of.get(d.place.rel.as_str()).map(|&n| &digests[n]);
        let result = judge_digest(d, next, keys, newest.contains(&i));
        statuses[i] = result.status;
        if digest_scope[i] {
            report.digests.push(result);
        }
    }

    // Chain breaks, restarts and gaps, reported where the later digest is in scope.
    let mut entering = 0;
    for ((account, region, trail, _), members) in &chains {
        for (pos, &i) in members.iter().enumerate() {
            if !digest_scope[i] {
                continue;
            }
            let d = &digests[i];
            let issue = |kind, from: Option<Millis>, detail: String| ChainIssue {
                kind,
                account: account.clone(),
                region: region.clone(),
                trail: trail.clone(),
                from: from.map(format_iso),
                to: Some(format_iso(d.start())),
                digest: d.file.key.clone(),
                detail,
                evidence_event_ids: Vec::new(),
            };
            let before = pos.checked_sub(1).map(|p| &digests[members[p]]);
            match d.previous_rel() {
                Some(prev) => match by_rel.get(prev) {
                    Some(&p) if d.start() > digests[p].end() + CHAIN_SLACK => {
                        report.chain.push(issue(
                            ChainIssueKind::Gap,
                            Some(digests[p].end()),
                            "no digest covers the time between this digest and the previous one"
                                .into(),
                        ));
                    }
                    Some(_) => {}
                    // A hole: an earlier digest of the chain is in the sources.
                    None if before.is_some() => {
                        report.chain.push(issue(
                            ChainIssueKind::MissingDigest,
                            before.map(|b| b.end()),
                            format!("names a previous digest that is not in the sources: {prev}"),
                        ));
                    }
                    // The sources start in the middle of the chain.
                    None => entering += 1,
                },
                None if d.doc().is_some() => {
                    if let Some(b) = before {
                        report.chain.push(issue(
                            ChainIssueKind::Restart,
                            Some(b.end()),
                            "starts a new chain: log file validation or logging was off since the \
                             previous digest, or the chain was cut"
                                .into(),
                        ));
                    }
                }
                None => {}
            }
        }
    }

    // Coverage of each account and region, and what the digests list.
    let mut covered: HashMap<(String, String), Vec<(Millis, Millis)>> = HashMap::new();
    let mut listed: HashMap<&str, Vec<(usize, &crate::digest::LogFileEntry)>> = HashMap::new();
    let mut listed_hours: HashSet<(String, String, Millis)> = HashSet::new();
    let mut buckets = BTreeSet::new();
    for (i, d) in digests.iter().enumerate() {
        let Some(doc) = d.doc() else { continue };
        buckets.insert(doc.digest_s3_bucket.clone());
        buckets.extend(doc.log_files.iter().map(|f| f.s3_bucket.clone()));
        let key = (d.place.account.clone(), d.place.region.clone());
        covered.entry(key).or_default().push((d.start(), d.end()));
        for entry in &doc.log_files {
            let rel = rel_key(&entry.s3_object);
            listed.entry(rel).or_default().push((i, entry));
            if let Some(p) = place(rel) {
                listed_hours.insert((p.account, p.region, p.stamp.div_euclid(HOUR)));
            }
        }
    }
    for spans in covered.values_mut() {
        spans.sort();
        let mut merged: Vec<(Millis, Millis)> = Vec::new();
        for &(s, e) in spans.iter() {
            match merged.last_mut() {
                Some(last) if s <= last.1 + CHAIN_SLACK => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        *spans = merged;
    }
    let is_covered = |account: &str, region: &str, from: Millis, to: Millis| {
        covered
            .get(&(account.to_string(), region.to_string()))
            .is_some_and(|spans| spans.iter().any(|&(s, e)| s <= from && to <= e))
    };

    // Every log file in scope.
    // Every log file found counts as present, in scope or not: a digest in scope may list a
    // file delivered just outside it.
    let present: HashSet<String> = logs.iter().map(|(_, p)| p.rel.clone()).collect();
    let in_scope_logs: Vec<(&SourceFile, Place)> = logs
        .into_iter()
        .filter(|(_, p)| in_scope(filter, p, p.stamp, p.stamp))
        .collect();
    let mut judged: Vec<(FileResult, Vec<u64>)> = in_scope_logs
        .par_iter()
        .map(|(f, p)| {
            let (raw, read_error) = match sources.read(f) {
                Ok(b) => (b, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let (plain, _) = backtrail_normalize::decode(&raw);
            let sha = sha256_hex(&plain);
            let parsed = backtrail_normalize::container::parse_decoded(&plain);
            // Hashes only: a file's events are dropped here, so memory does not grow with
            // the trail (beyond 8 bytes an event).
            let ids: Vec<u64> = parsed
                .events
                .iter()
                .map(|e| EventIndex::hash(&e.event_id))
                .collect();
            let mut r = FileResult {
                key: f.key.clone(),
                account: p.account.clone(),
                region: p.region.clone(),
                time: format_iso(p.stamp),
                outcome: Outcome::NotCovered,
                digest: None,
                digest_status: None,
                expected_sha256: None,
                actual_sha256: None,
                events: ids.len() as u64,
            };
            match listed.get(p.rel.as_str()) {
                Some(entries) => {
                    let hit = entries
                        .iter()
                        .find(|(_, e)| e.hash_value.eq_ignore_ascii_case(&sha))
                        .or(entries.first());
                    let &(di, entry) = hit.expect("a listed file has an entry");
                    r.digest = Some(digests[di].file.key.clone());
                    r.digest_status = Some(statuses[di]);
                    if entry.hash_value.eq_ignore_ascii_case(&sha) && read_error.is_none() {
                        r.outcome = Outcome::Valid;
                    } else {
                        r.outcome = Outcome::Modified;
                        r.expected_sha256 = Some(entry.hash_value.clone());
                        r.actual_sha256 = Some(sha);
                    }
                }
                // The name gives the minute only: a file within a minute of the edge of the
                // covered time may belong to the uncovered side.
                None if is_covered(&p.account, &p.region, p.stamp - MINUTE, p.stamp + MINUTE) => {
                    r.outcome = Outcome::Unlisted;
                }
                None => {}
            }
            (r, ids)
        })
        .collect();
    // Listed by a digest in scope, not in the sources.
    let mut missing = BTreeSet::new();
    for (rel, entries) in &listed {
        if present.contains(*rel) {
            continue;
        }
        for &(di, entry) in entries {
            if digest_scope[di] && missing.insert(*rel) {
                let p = place(rel);
                judged.push((
                    FileResult {
                        key: format!("{}/{}", entry.s3_bucket, entry.s3_object),
                        account: digests[di].place.account.clone(),
                        region: digests[di].place.region.clone(),
                        time: format_iso(p.map_or(digests[di].end(), |p| p.stamp)),
                        outcome: Outcome::Missing,
                        digest: Some(digests[di].file.key.clone()),
                        digest_status: Some(statuses[di]),
                        expected_sha256: Some(entry.hash_value.clone()),
                        actual_sha256: None,
                        events: 0,
                    },
                    Vec::new(),
                ));
            }
        }
    }
    judged.sort_by(|a, b| a.0.key.cmp(&b.0.key));

    // Delivery gaps: hours without a file for an account and region active around them.
    let mut hours: BTreeMap<(String, String), BTreeSet<Millis>> = BTreeMap::new();
    for (_, p) in &in_scope_logs {
        hours
            .entry((p.account.clone(), p.region.clone()))
            .or_default()
            .insert(p.stamp.div_euclid(HOUR));
    }
    for ((account, region), set) in &hours {
        let mut prev: Option<Millis> = None;
        for &h in set {
            if let Some(p) = prev
                && h > p + 1
            {
                let (from, to) = ((p + 1) * HOUR, h * HOUR);
                let listed_inside = (p + 1..h)
                    .any(|x| listed_hours.contains(&(account.clone(), region.clone(), x)));
                report.gaps.push(Gap {
                    account: account.clone(),
                    region: region.clone(),
                    from: format_iso(from),
                    to: format_iso(to),
                    vouched_by_digests: !listed_inside && is_covered(account, region, from, to),
                });
            }
            prev = Some(h);
        }
    }

    let mut index = EventIndex::default();
    for (i, (_, ids)) in judged.iter().enumerate() {
        for &h in ids {
            index.push_hash(h, i as u32);
        }
    }
    index.finish();
    report.files = judged.into_iter().map(|(r, _)| r).collect();
    report.buckets = buckets.into_iter().collect();
    if keys.is_empty() {
        report.notes.push(
            "no public keys given (--public-keys): digest signatures were not checked; hashes, \
             chain links and coverage were"
                .into(),
        );
    }
    if report
        .digests
        .iter()
        .any(|d| d.status == DigestStatus::Unverifiable && !d.backfill)
    {
        report.notes.push(
            "the newest digest of a chain read from a local copy cannot be verified: its signature \
             is only in the S3 object's metadata (x-amz-meta-signature); verify from s3:// to \
             check it"
                .into(),
        );
    }
    if entering > 0 {
        report.notes.push(format!(
            "{entering} chain(s) begin with a digest whose previous digest is not in the sources \
             (the sources start in the middle of the chain): what came before was not checked"
        ));
    }
    if digests.is_empty() {
        report
            .notes
            .push("no digest files in the sources: nothing can be verified".into());
    }
    crate::summarize(&mut report);
    Verification { report, index }
}

/// The status of one digest, with its next digest (whose `previousDigest*` fields vouch for
/// it) if the sources hold one.
fn judge_digest(
    d: &ReadDigest,
    next: Option<&ReadDigest>,
    keys: &PublicKeys,
    newest: bool,
) -> DigestResult {
    let (trail, _) = d.place.trail.clone().unwrap_or_default();
    let mut r = DigestResult {
        key: d.file.key.clone(),
        account: d.place.account.clone(),
        region: d.place.region.clone(),
        trail,
        start: d.doc().map(|x| x.digest_start_time.clone()),
        end: d.doc().map(|x| x.digest_end_time.clone()),
        log_files: d.doc().map_or(0, |x| x.log_files.len() as u64),
        backfill: d.place.backfill,
        newest,
        signature_source: None,
        status: DigestStatus::Failed,
        problems: Vec::new(),
    };
    let doc = match &d.parsed {
        Ok(doc) => doc,
        Err(e) => {
            r.problems.push(e.clone());
            return r;
        }
    };
    let mut problems = Vec::new();
    let recorded = rel_key(&doc.digest_s3_object);
    let moved = match &d.file.location {
        Location::S3 { bucket, key } => {
            *bucket != doc.digest_s3_bucket || *key != doc.digest_s3_object
        }
        Location::Local(_) => recorded != d.place.rel,
    };
    if moved {
        problems.push(format!(
            "moved: CloudTrail delivered it to s3://{}/{}",
            doc.digest_s3_bucket, doc.digest_s3_object
        ));
    }
    if doc.digest_signature_algorithm != "SHA256withRSA" {
        problems.push(format!(
            "unsupported signature algorithm {:?}",
            doc.digest_signature_algorithm
        ));
    }
    if let Some(a) = &d.s3_algorithm
        && a != "SHA256withRSA"
    {
        problems.push(format!("S3 metadata names signature algorithm {a:?}"));
    }
    let next_doc = next.and_then(|n| n.doc());
    if let Some(h) = next_doc.and_then(|n| n.previous_digest_hash_value.as_deref())
        && !h.eq_ignore_ascii_case(&d.sha)
    {
        problems.push(format!(
            "changed since the next digest recorded it: SHA-256 {} there, {} now",
            h, d.sha
        ));
    }
    let next_sig = next_doc.and_then(|n| n.previous_digest_signature.as_deref());
    let signature = match (d.s3_signature.as_deref(), next_sig) {
        (Some(s3), Some(n)) => {
            if !s3.eq_ignore_ascii_case(n) {
                problems
                    .push("its S3 signature differs from the one the next digest records".into());
            }
            r.signature_source = Some("s3_metadata".into());
            Some(s3)
        }
        (Some(s3), None) => {
            r.signature_source = Some("s3_metadata".into());
            Some(s3)
        }
        (None, Some(n)) => {
            r.signature_source = Some("next_digest".into());
            Some(n)
        }
        (None, None) => None,
    };
    let checked = match (signature, &d.message) {
        (None, _) => {
            r.problems.push(if d.place.backfill {
                "a backfill digest outside S3: its signature is only in the S3 object's metadata"
                    .into()
            } else if newest {
                "newest digest of its chain outside S3: its signature is only in the S3 object's \
                 metadata"
                    .into()
            } else {
                "outside S3, and no later digest in the sources repeats its signature (the next \
                 one is missing)"
                    .into()
            });
            DigestStatus::Unverifiable
        }
        (Some(_), _) if keys.is_empty() => DigestStatus::NotChecked,
        (Some(sig), Some(message)) => {
            let fp = &doc.digest_public_key_fingerprint;
            match keys.check(fp, message.as_bytes(), sig) {
                SignatureCheck::Valid => DigestStatus::Verified,
                SignatureCheck::Invalid => {
                    problems.push("signature does not verify".into());
                    DigestStatus::Failed
                }
                SignatureCheck::NoKey => {
                    problems.push(format!(
                        "no public key with fingerprint {fp} among the given keys"
                    ));
                    DigestStatus::Failed
                }
                SignatureCheck::Malformed => {
                    problems.push("the signature is not hex".into());
                    DigestStatus::Failed
                }
            }
        }
        (Some(_), None) => DigestStatus::Failed,
    };
    r.status = if problems.is_empty() {
        checked
    } else {
        DigestStatus::Failed
    };
    r.problems.extend(problems);
    r
}

fn now_ms() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}
