//! What a file is (by its content, never its name) and the records in it.

use crate::record::parse_record_of_depth;
use crate::scan::{Scan, scan_string, scan_value, scan_value_depth, skip_ws};
use backtrail_model::Event;
use std::io::Read;

/// How the records were laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// `{"Records":[...]}` as CloudTrail delivers to S3.
    Records,
    /// A JSON array of events.
    Array,
    /// One event per line (CloudTrail Lake / Athena exports), or concatenated objects.
    JsonLines,
    /// `aws cloudtrail lookup-events` output (`Events[].CloudTrailEvent`).
    LookupEvents,
    /// A single event object.
    SingleEvent,
}

/// What became of a file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Records were looked for (some may still have been rejected).
    Read(Format),
    /// Recognised as something that is not CloudTrail events (digest, Insights, ...).
    Skipped(String),
    /// Could not be read at all.
    Rejected(String),
}

/// A record that was not stored, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordReject {
    /// Index of the record in the file (0-based).
    pub index: u64,
    /// Byte offset of the record in the (decompressed) file.
    pub offset: u64,
    pub reason: String,
}

/// A problem with the file that cost no record but that the user should know of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub offset: u64,
    pub message: String,
}

/// Rejected records of one file listed with their position and reason; the ones after are
/// counted in [`ParsedFile::unlisted_rejects`], so that a file of millions of bad lines does
/// not take memory in proportion.
pub const MAX_LISTED_REJECTS: u64 = 1000;

/// Everything read from one file.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    pub outcome: FileOutcome,
    pub events: Vec<Event>,
    pub rejects: Vec<RecordReject>,
    /// Rejected records beyond the first [`MAX_LISTED_REJECTS`]: counted, not listed.
    pub unlisted_rejects: u64,
    pub warnings: Vec<Warning>,
    /// Number of decompressed bytes.
    pub bytes: u64,
    /// Rejects listed so far (`rejects` may have been handed on).
    listed_rejects: u64,
}

impl ParsedFile {
    pub(crate) fn new(bytes: usize) -> Self {
        ParsedFile {
            outcome: FileOutcome::Rejected("not read".into()),
            events: Vec::new(),
            rejects: Vec::new(),
            unlisted_rejects: 0,
            warnings: Vec::new(),
            bytes: bytes as u64,
            listed_rejects: 0,
        }
    }

    /// Records found: stored-or-duplicate candidates plus rejects.
    pub fn records_seen(&self) -> u64 {
        (self.events.len() + self.rejects.len()) as u64 + self.unlisted_rejects
    }

    /// `depth`: how deeply `text` nests, when the scan that found it measured it (the
    /// parser then need not count again).
    pub(crate) fn record(&mut self, index: u64, offset: usize, text: &[u8], depth: Option<usize>) {
        match parse_record_of_depth(text, depth) {
            Ok(ev) if ev.event_source.starts_with("aws:") => self.reject(
                index,
                offset,
                format!(
                    "not a CloudTrail event (event notification from {})",
                    ev.event_source
                ),
            ),
            Ok(ev) => self.events.push(ev),
            Err(e) => self.reject(index, offset, e.to_string()),
        }
    }

    pub(crate) fn reject(&mut self, index: u64, offset: usize, reason: String) {
        if self.listed_rejects >= MAX_LISTED_REJECTS {
            self.unlisted_rejects += 1;
            return;
        }
        self.listed_rejects += 1;
        self.rejects.push(RecordReject {
            index,
            offset: offset as u64,
            reason,
        });
    }

    pub(crate) fn warn(&mut self, offset: usize, message: String) {
        self.warnings.push(Warning {
            offset: offset as u64,
            message,
        });
    }
}

/// Decompresses `raw` when its content is gzip (any number of members). A cut or corrupt
/// stream keeps what decompressed before the damage and says where it stopped. The whole
/// content is held: for measuring (`bench-floor`), not for reading untrusted files.
pub fn decode(raw: &[u8]) -> (std::borrow::Cow<'_, [u8]>, Option<String>) {
    if raw.len() >= 2 && raw[0] == 0x1f && raw[1] == 0x8b {
        let mut out = Vec::with_capacity(raw.len() * 8);
        let mut dec = flate2::read::MultiGzDecoder::new(raw);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match dec.read(&mut buf) {
                Ok(0) => return (out.into(), None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => {
                    let msg = format!(
                        "gzip stream damaged after {} decompressed bytes: {e}",
                        out.len()
                    );
                    return (out.into(), Some(msg));
                }
            }
        }
    }
    (raw.into(), None)
}

/// Reads a whole file: decompression, format detection and every record. The file is read
/// through [`crate::stream::parse_stream`], so only the records found are held, never more
/// than a bounded piece of the decompressed content.
pub fn parse_file(raw: &[u8]) -> ParsedFile {
    let mut pf = ParsedFile::new(0);
    let end = crate::stream::parse_stream(raw, &mut |b| {
        pf.events.extend(b.events);
        pf.rejects.extend(b.rejects);
        pf.unlisted_rejects += b.unlisted_rejects;
        pf.warnings.extend(b.warnings);
        true
    });
    pf.outcome = end.outcome;
    pf.bytes = end.bytes;
    pf
}

pub(crate) const EVENT_KEYS: &[&str] = &[
    "eventVersion",
    "eventTime",
    "eventName",
    "eventSource",
    "userIdentity",
    "eventID",
    "CloudTrailEvent",
    "EventId",
    "@timestamp",
    "detail-type",
    "eventtime",
    "eventname",
    "useridentity",
];

/// Reads decompressed content.
pub fn parse_decoded(b: &[u8]) -> ParsedFile {
    let mut pf = ParsedFile::new(b.len());
    let mut i = 0;
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        i = 3;
    }
    i = skip_ws(b, i);
    if i >= b.len() {
        pf.outcome = FileOutcome::Rejected("empty file".into());
        return pf;
    }
    match b[i] {
        b'[' => {
            pf.outcome = FileOutcome::Read(Format::Array);
            walk_array(b, i, &mut pf);
        }
        b'{' => {
            // `{"Records":[...]}`: walking it finds where it ends, which the test for JSON
            // Lines below would otherwise scan the whole file for. A walk that is not clean
            // is thrown away and the file read as before.
            let k = skip_ws(b, i + 1);
            if b[k..].starts_with(b"\"Records\"") || b[k..].starts_with(b"\"Events\"") {
                let mut fast = ParsedFile::new(b.len());
                if let Some(end) = walk_top_object(b, i, &mut fast)
                    && b.get(skip_ws(b, end)) != Some(&b'{')
                {
                    return fast;
                }
            }
            read_top_object(b, i, &mut pf);
        }
        _ => {
            pf.outcome = FileOutcome::Skipped("not JSON".into());
        }
    }
    pf
}

/// A file that starts with `{` at `i`: JSON Lines, or one object.
fn read_top_object(b: &[u8], i: usize, pf: &mut ParsedFile) {
    match scan_value(b, i) {
        Scan::Complete(end) if b.get(skip_ws(b, end)) == Some(&b'{') => {
            pf.outcome = FileOutcome::Read(Format::JsonLines);
            walk_sequence(b, i, pf);
        }
        _ => {
            walk_top_object(b, i, pf);
        }
    }
}

/// Walks `{ key: value, ... }` at the top of the file, looking for `Records` / `Events`.
/// Returns the offset after the closing '}' when the object was well-formed enough that
/// [`scan_value`] would end it there too: every array of records valid JSON and no damage.
fn walk_top_object(b: &[u8], start: usize, pf: &mut ParsedFile) -> Option<usize> {
    let mut i = start + 1;
    let mut found_container = false;
    let mut clean = true;
    loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            if !found_container {
                pf.outcome = FileOutcome::Rejected(format!(
                    "truncated JSON: file ends at byte {i} before any record"
                ));
            } else {
                pf.warn(i, "file ends before the closing '}'".into());
            }
            return None;
        }
        match b[i] {
            b'}' => break,
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => {
                if !found_container {
                    pf.outcome = FileOutcome::Rejected(format!(
                        "invalid JSON at byte {i} before any record"
                    ));
                } else {
                    pf.warn(i, format!("invalid JSON at byte {i} after the records"));
                }
                return None;
            }
        }
        let Scan::Complete(kend) = scan_string(b, i) else {
            pf.outcome = FileOutcome::Rejected(format!("truncated JSON at byte {i}"));
            return None;
        };
        let key = &b[i + 1..kend - 1];
        i = skip_ws(b, kend);
        if b.get(i) != Some(&b':') {
            if !found_container {
                pf.outcome = FileOutcome::Rejected(format!("invalid JSON at byte {i}"));
            }
            return None;
        }
        i = skip_ws(b, i + 1);
        if !found_container {
            match key {
                b"Records" | b"Events" if b.get(i) == Some(&b'[') => {
                    let format = if key == b"Events" {
                        Format::LookupEvents
                    } else {
                        Format::Records
                    };
                    pf.outcome = FileOutcome::Read(format);
                    found_container = true;
                    if let Some(reason) = not_cloudtrail_records(b, i) {
                        pf.outcome = FileOutcome::Skipped(reason);
                        return None;
                    }
                    let (end, valid) = walk_array_checked(b, i, pf);
                    clean &= valid;
                    match end {
                        Some(end) => {
                            i = end;
                            continue;
                        }
                        None => return None,
                    }
                }
                b"digestStartTime"
                | b"digestEndTime"
                | b"digestPublicKeyFingerprint"
                | b"logFiles" => {
                    pf.outcome = FileOutcome::Skipped("CloudTrail digest file".into());
                    return None;
                }
                k if EVENT_KEYS.iter().any(|e| e.as_bytes() == k) => {
                    // A single event, or a line-oriented file whose first line is damaged.
                    pf.outcome = FileOutcome::Read(Format::SingleEvent);
                    walk_sequence(b, start, pf);
                    if pf.records_seen() > 1 {
                        pf.outcome = FileOutcome::Read(Format::JsonLines);
                    }
                    return None;
                }
                _ => {}
            }
        }
        match scan_value(b, i) {
            Scan::Complete(e) => i = e,
            Scan::Truncated => {
                if found_container {
                    pf.warn(i, "file ends inside a value after the records".into());
                } else {
                    pf.outcome = FileOutcome::Rejected(format!(
                        "truncated JSON: file ends at byte {} before any record",
                        b.len()
                    ));
                }
                return None;
            }
            Scan::Invalid(p) => {
                if !found_container {
                    pf.outcome = FileOutcome::Rejected(format!("invalid JSON at byte {p}"));
                } else {
                    pf.warn(p, format!("invalid JSON at byte {p} after the records"));
                }
                return None;
            }
        }
    }
    if !found_container {
        pf.outcome = FileOutcome::Skipped("JSON object without Records or Events".into());
    }
    clean.then_some(i + 1)
}

/// Event notifications (S3, SNS, SQS) and Insights also come as `{"Records":[...]}`;
/// the first record tells them apart from CloudTrail API events.
pub(crate) fn not_cloudtrail_records(b: &[u8], array_start: usize) -> Option<String> {
    let first = skip_ws(b, array_start + 1);
    if b.get(first) != Some(&b'{') {
        return None;
    }
    let Scan::Complete(end) = scan_value(b, first) else {
        return None;
    };
    // sonic-rs recurses into nested values: a record nested too deep is left to the parser,
    // which rejects it.
    if crate::record::too_deep(&b[first..end]) {
        return None;
    }
    let text = std::str::from_utf8(&b[first..end]).ok()?;
    let get = |k: &str| -> Option<String> {
        let v = sonic_rs::get(text, [k]).ok()?;
        sonic_rs::JsonValueTrait::as_str(&v).map(str::to_string)
    };
    if let Some(src) = get("eventSource")
        && src.starts_with("aws:")
    {
        return Some(format!("event notification ({src}), not CloudTrail"));
    }
    if get("eventType").as_deref() == Some("AwsCloudTrailInsight")
        || get("eventCategory").as_deref() == Some("Insight")
    {
        return Some("CloudTrail Insights file".into());
    }
    None
}

/// Walks the array starting at `b[start] == '['`; returns the offset after it, or None when
/// the file ended first.
fn walk_array(b: &[u8], start: usize, pf: &mut ParsedFile) -> Option<usize> {
    walk_array_checked(b, start, pf).0
}

/// [`walk_array`], also saying whether the array was undamaged: every element found whole,
/// separated by commas, and the array closed (the records themselves may still be rejected
/// by the parser, which validates each one).
///
/// The scanner splits the array without validating it, measuring each record's depth as it
/// goes; the parser then validates every record in the one pass that reads it. (Splitting
/// with a validating parser first walked every byte twice more: once for the depth cap of
/// the whole array, once for the validation the record parser repeats anyway.)
fn walk_array_checked(b: &[u8], start: usize, pf: &mut ParsedFile) -> (Option<usize>, bool) {
    let mut i = start + 1;
    let mut index = 0u64;
    let mut missing_commas = 0u64;
    let mut first_missing = 0usize;
    let mut clean = true;
    let end = loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            pf.warn(
                i,
                "file ends inside the records array (no closing ']')".into(),
            );
            break None;
        }
        match b[i] {
            b']' => break Some(i + 1),
            b',' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        match scan_value_depth(b, i) {
            (Scan::Complete(e), depth) => {
                pf.record(index, i, &b[i..e], Some(depth));
                index += 1;
                let j = skip_ws(b, e);
                match b.get(j) {
                    Some(b',') => i = j + 1,
                    Some(b']') | None => i = j,
                    Some(_) => {
                        if missing_commas == 0 {
                            first_missing = j;
                        }
                        missing_commas += 1;
                        i = j;
                    }
                }
            }
            (Scan::Truncated, _) => {
                pf.reject(
                    index,
                    i,
                    "truncated: the file ends inside this record".into(),
                );
                break None;
            }
            (Scan::Invalid(p), _) => {
                clean = false;
                pf.reject(index, i, format!("invalid JSON at byte {p}"));
                index += 1;
                match resync(b, p) {
                    Some(n) => i = n,
                    None => break None,
                }
            }
        }
    };
    if missing_commas > 0 {
        clean = false;
        pf.warn(
            first_missing,
            format!(
                "{missing_commas} record(s) not separated by ',' (malformed array); records read anyway"
            ),
        );
    }
    (end, clean && end.is_some())
}

/// After damage at `p`, the next place where a record plausibly starts: a '{' that opens a
/// line or follows a ','.
pub(crate) fn resync(b: &[u8], p: usize) -> Option<usize> {
    let mut j = p + 1;
    while j < b.len() {
        if b[j] == b'{' {
            let mut k = j;
            while k > 0 && matches!(b[k - 1], b' ' | b'\t' | b'\r') {
                k -= 1;
            }
            if k == 0 || matches!(b[k - 1], b'\n' | b',') {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

/// Objects one after another: JSON Lines, or pretty-printed concatenated objects.
fn walk_sequence(b: &[u8], start: usize, pf: &mut ParsedFile) {
    let line_mode = match scan_value(b, start) {
        Scan::Complete(e) => !b[start..e].contains(&b'\n'),
        _ => !b[start..].contains(&b'\n') || first_line_is_record(b, start),
    };
    let mut index = 0u64;
    if line_mode {
        let mut off = start;
        for line in b[start..].split(|&c| c == b'\n') {
            let here = off;
            off += line.len() + 1;
            if line.iter().all(|c| c.is_ascii_whitespace()) {
                continue;
            }
            match scan_value(line, skip_ws(line, 0)) {
                Scan::Truncated => {
                    pf.reject(
                        index,
                        here,
                        "truncated: the line ends inside this record".into(),
                    );
                }
                _ => pf.record(index, here, line, None),
            }
            index += 1;
        }
        return;
    }
    let mut i = start;
    loop {
        i = skip_ws(b, i);
        if i >= b.len() {
            return;
        }
        match scan_value(b, i) {
            Scan::Complete(e) => {
                pf.record(index, i, &b[i..e], None);
                i = e;
            }
            Scan::Truncated => {
                pf.reject(
                    index,
                    i,
                    "truncated: the file ends inside this record".into(),
                );
                return;
            }
            Scan::Invalid(p) => {
                pf.reject(index, i, format!("invalid JSON at byte {p}"));
                match resync(b, p) {
                    Some(n) => i = n,
                    None => return,
                }
            }
        }
        index += 1;
    }
}

/// Whether the first line alone holds something that starts and looks like a record
/// (a damaged JSON Lines file, as opposed to one pretty-printed object).
pub(crate) fn first_line_is_record(b: &[u8], start: usize) -> bool {
    let line_end = b[start..]
        .iter()
        .position(|&c| c == b'\n')
        .map(|p| start + p);
    match line_end {
        Some(e) => b[start..e].len() > 40 && b[start..e].starts_with(b"{\""),
        None => true,
    }
}
