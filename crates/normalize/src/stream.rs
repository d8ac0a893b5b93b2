//! Reading a file a bounded piece at a time, so that memory does not follow the size of one
//! file (a gzip bomb, or one legitimate file of half a million events).
//!
//! Decompressed content up to [`WHOLE_FILE_BYTES`] (nearly every CloudTrail delivery) is read
//! whole and walked by [`parse_decoded`], which knows every layout and every kind of damage.
//! Larger content is walked through a window: the records of a `Records` / `Events` array,
//! a JSON array or JSON Lines are found one at a time by the scanner, each at most
//! [`MAX_RECORD_BYTES`] (a larger one is rejected and skipped without being held), and handed
//! on in batches of at most [`BATCH_EVENTS`] events or [`BATCH_BYTES`] of record text.

use crate::container::{
    EVENT_KEYS, FileOutcome, Format, ParsedFile, RecordReject, Warning, first_line_is_record,
    not_cloudtrail_records, parse_decoded, resync,
};
use crate::record::MAX_RECORD_BYTES;
use crate::scan::{Scan, scan_string, scan_value, scan_value_depth, skip_ws};
use backtrail_model::Event;
use std::cell::{Cell, RefCell};
use std::io::{BufReader, Read};

/// Decompressed content up to this size is read whole; larger content through a window of
/// about this size (one record at the cap, plus what is being read).
pub const WHOLE_FILE_BYTES: usize = MAX_RECORD_BYTES;

/// Events handed on at a time from a file read through the window.
pub const BATCH_EVENTS: usize = 4096;

/// Record text handed on at a time from a file read through the window.
pub const BATCH_BYTES: usize = 16 * 1024 * 1024;

/// How much more the window reads at a time.
const READ_CHUNK: usize = 1024 * 1024;

/// Compressed bytes read from the source at a time.
const SOURCE_BUFFER: usize = 256 * 1024;

/// Records found in one piece of a file.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<Event>,
    pub rejects: Vec<RecordReject>,
    /// Rejected records beyond the listing cap ([`crate::container::MAX_LISTED_REJECTS`]).
    pub unlisted_rejects: u64,
    pub warnings: Vec<Warning>,
}

impl Batch {
    /// Records in the batch: events and rejected ones.
    pub fn records(&self) -> u64 {
        (self.events.len() + self.rejects.len()) as u64 + self.unlisted_rejects
    }
}

/// How a file read by [`parse_stream`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEnd {
    pub outcome: FileOutcome,
    /// Bytes read from the source (compressed, when it was).
    pub raw_bytes: u64,
    /// Decompressed bytes looked at.
    pub bytes: u64,
    /// Reading the source failed (an I/O error, not damage in its content). The records
    /// before the failure were handed on; the file should be read again later.
    pub failed: Option<String>,
}

/// Counts what is read from the source and keeps its first error, which tells a failing
/// disk or network (the file is read again later) from a damaged gzip stream (it is not).
struct Tracked<'a, R> {
    inner: R,
    read: &'a Cell<u64>,
    error: &'a RefCell<Option<String>>,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.inner.read(buf);
        match &r {
            Ok(n) => self.read.set(self.read.get() + *n as u64),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                self.error.borrow_mut().get_or_insert_with(|| e.to_string());
            }
        }
        r
    }
}

/// Reads a file from `src`: decompression (gzip, detected by content), format detection and
/// every record, handed to `sink` in batches as they are found. `sink` returns false to stop
/// reading (the outcome then covers what was read). Memory stays bounded whatever the file
/// holds.
pub fn parse_stream(src: impl Read, sink: &mut dyn FnMut(Batch) -> bool) -> StreamEnd {
    parse_stream_with(src, Limits::default(), sink)
}

/// The sizes the window works with. The defaults are the ingest's; small ones let tests and
/// the fuzz target reach every path of the windowed reader with small inputs.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Content up to this size is read whole.
    pub whole: usize,
    /// The most one record may take in the window (records are also held to
    /// [`MAX_RECORD_BYTES`] when parsed).
    pub record: usize,
    /// How much more the window reads at a time (at least 1 byte).
    pub chunk: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            whole: WHOLE_FILE_BYTES,
            record: MAX_RECORD_BYTES,
            chunk: READ_CHUNK,
        }
    }
}

/// [`parse_stream`] with other [`Limits`].
pub fn parse_stream_with(
    src: impl Read,
    limits: Limits,
    sink: &mut dyn FnMut(Batch) -> bool,
) -> StreamEnd {
    let limits = Limits {
        chunk: limits.chunk.max(1),
        ..limits
    };
    let read = Cell::new(0);
    let error = RefCell::new(None);
    let mut src = Tracked {
        inner: src,
        read: &read,
        error: &error,
    };
    let mut head = Vec::with_capacity(2);
    let _ = (&mut src).take(2).read_to_end(&mut head);
    let gzip = head == [0x1f, 0x8b];
    let chained = BufReader::with_capacity(SOURCE_BUFFER, head.as_slice().chain(src));
    let reader: Box<dyn Read + '_> = if gzip {
        Box::new(flate2::bufread::MultiGzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    let mut win = Window {
        src: reader,
        buf: Vec::new(),
        base: 0,
        eof: false,
        error: None,
        limits,
    };
    let mut walker = Walker {
        acc: ParsedFile::new(0),
        acc_bytes: 0,
        records: 0,
        sink,
        stopped: false,
    };
    let mut outcome = walker.walk(&mut win);
    let bytes = win.base + win.buf.len() as u64;
    let failed = error
        .borrow()
        .as_ref()
        .map(|e| format!("read failed after {} bytes: {e}", read.get()));
    match (&failed, &win.error) {
        (Some(f), _) if bytes == 0 => outcome = FileOutcome::Rejected(f.clone()),
        // Damage in the gzip stream: what decompressed before it was read; say where.
        (None, Some(e)) => {
            let msg = format!("gzip stream damaged after {bytes} decompressed bytes: {e}");
            if bytes == 0 {
                outcome = FileOutcome::Rejected(msg);
            } else {
                walker.acc.warn(bytes as usize, msg);
            }
        }
        _ => {}
    }
    walker.flush();
    StreamEnd {
        outcome,
        raw_bytes: read.get(),
        bytes,
        failed,
    }
}

/// The decompressed content being looked at: `buf` holds the bytes from file offset `base`.
struct Window<'r> {
    src: Box<dyn Read + 'r>,
    buf: Vec<u8>,
    base: u64,
    eof: bool,
    /// The first read error; reading stops there.
    error: Option<String>,
    limits: Limits,
}

impl Window<'_> {
    /// Reads up to `n` more bytes; false when nothing more came.
    fn fill(&mut self, n: usize) -> bool {
        if self.eof {
            return false;
        }
        let before = self.buf.len();
        match (&mut self.src).take(n as u64).read_to_end(&mut self.buf) {
            Ok(got) if got < n => self.eof = true,
            Ok(_) => {}
            Err(e) => {
                self.error = Some(e.to_string());
                self.eof = true;
            }
        }
        self.buf.len() > before
    }

    /// Forgets the bytes before `i`, which becomes offset 0.
    fn consume(&mut self, i: &mut usize) {
        if *i > 0 {
            self.buf.drain(..*i);
            self.base += *i as u64;
            *i = 0;
        }
    }

    /// Skips whitespace from `i` (reading more as needed); the byte there, or None at the end.
    fn peek(&mut self, i: &mut usize) -> Option<u8> {
        loop {
            *i = skip_ws(&self.buf, *i);
            if *i < self.buf.len() {
                return Some(self.buf[*i]);
            }
            self.consume(i);
            if !self.fill(self.limits.chunk) {
                return None;
            }
        }
    }

    /// Finds where the value at `i` ends, reading more as needed (forgetting what lies
    /// before `i`, so `i` may move). A value that would take more than the record cap is
    /// not read: [`Scanned::TooLarge`].
    fn scan(&mut self, i: &mut usize) -> Scanned {
        loop {
            let cap = self.limits.record;
            let limit = self.buf.len().min(*i + cap);
            // A number or literal that ends where the bytes end may go on after them.
            let scalar = !matches!(self.buf[*i], b'{' | b'[' | b'"');
            let more_may_follow = limit < self.buf.len() || !self.eof;
            let (scan, depth) = scan_value_depth(&self.buf[..limit], *i);
            match scan {
                Scan::Complete(e) if !(scalar && e == limit && more_may_follow) => {
                    return Scanned::Complete(e, depth);
                }
                Scan::Invalid(p) => return Scanned::Invalid(p),
                _ if limit - *i >= cap => return Scanned::TooLarge,
                _ if self.eof => return Scanned::Truncated,
                _ => {
                    self.consume(i);
                    // Grow by what is held already, so a large value is rescanned few times.
                    let more = self.limits.chunk.max(self.buf.len());
                    self.fill(more);
                }
            }
        }
    }

    /// Skips the value at `i` without holding it; false when the content ends first.
    fn skip(&mut self, i: &mut usize) -> bool {
        let mut skip = Skip::new(self.buf[*i]);
        loop {
            if let Some(k) = skip.feed(&self.buf[*i..]) {
                *i += k;
                return true;
            }
            *i = self.buf.len();
            self.consume(i);
            if !self.fill(self.limits.chunk) {
                return false;
            }
        }
    }

    /// Moves `i` past the next line break without holding the line; false when the
    /// content ends first.
    fn skip_line(&mut self, i: &mut usize) -> bool {
        loop {
            if let Some(k) = memchr::memchr(b'\n', &self.buf[*i..]) {
                *i += k + 1;
                return true;
            }
            *i = self.buf.len();
            self.consume(i);
            if !self.fill(self.limits.chunk) {
                return false;
            }
        }
    }

    /// After damage at `p`, moves `i` to the next place a record plausibly starts
    /// ([`resync`]); false when the content ends first.
    fn resync(&mut self, i: &mut usize, mut p: usize) -> bool {
        loop {
            if let Some(n) = resync(&self.buf, p) {
                *i = n;
                return true;
            }
            if self.eof {
                return false;
            }
            // Keep a little: resync looks back for the line break or ',' before a '{'.
            let len = self.buf.len();
            let mut cut = len.saturating_sub(4096);
            self.consume(&mut cut);
            p = len - (len - self.buf.len()) - 1;
            if !self.fill(self.limits.chunk) {
                return false;
            }
        }
    }
}

/// Outcome of [`Window::scan`].
enum Scanned {
    /// The value's end, and how deeply it nests.
    Complete(usize, usize),
    Truncated,
    Invalid(usize),
    TooLarge,
}

/// Finds the end of a value fed a piece at a time: nesting, strings and escapes carry over
/// from one piece to the next. Brackets are counted, not matched: the value is rejected anyway.
struct Skip {
    depth: u64,
    in_string: bool,
    escaped: bool,
    scalar: bool,
}

impl Skip {
    fn new(first: u8) -> Self {
        Skip {
            depth: 0,
            in_string: false,
            escaped: false,
            scalar: !matches!(first, b'{' | b'[' | b'"'),
        }
    }

    /// The offset in `b` just after the value, if it ends in `b`.
    fn feed(&mut self, b: &[u8]) -> Option<usize> {
        let mut j = 0;
        while j < b.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    j += 1;
                    continue;
                }
                match memchr::memchr2(b'"', b'\\', &b[j..]) {
                    None => return None,
                    Some(k) => {
                        j += k;
                        if b[j] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                            if self.depth == 0 {
                                return Some(j + 1);
                            }
                        }
                        j += 1;
                        continue;
                    }
                }
            }
            let c = b[j];
            if self.scalar {
                if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                    return Some(j);
                }
                j += 1;
                continue;
            }
            match c {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(j + 1);
                    }
                }
                _ => {}
            }
            j += 1;
        }
        None
    }
}

/// Walks the window, handing records on in batches.
struct Walker<'s> {
    /// Records found since the last batch.
    acc: ParsedFile,
    /// Record text in `acc`.
    acc_bytes: usize,
    /// Records found in the whole file.
    records: u64,
    sink: &'s mut dyn FnMut(Batch) -> bool,
    /// The sink wants no more.
    stopped: bool,
}

impl Walker<'_> {
    fn flush(&mut self) {
        if self.stopped {
            return;
        }
        let acc = &mut self.acc;
        if acc.events.is_empty()
            && acc.rejects.is_empty()
            && acc.unlisted_rejects == 0
            && acc.warnings.is_empty()
        {
            return;
        }
        let batch = Batch {
            events: std::mem::take(&mut acc.events),
            rejects: std::mem::take(&mut acc.rejects),
            unlisted_rejects: std::mem::take(&mut acc.unlisted_rejects),
            warnings: std::mem::take(&mut acc.warnings),
        };
        self.acc_bytes = 0;
        self.stopped = !(self.sink)(batch);
    }

    /// `depth`: how deeply the record nests, when the scan that found it measured it.
    fn record(&mut self, index: u64, offset: u64, text: &[u8], depth: Option<usize>) {
        self.acc.record(index, offset as usize, text, depth);
        self.counted(text.len());
    }

    fn reject(&mut self, index: u64, offset: u64, reason: String) {
        self.acc.reject(index, offset as usize, reason);
        self.counted(0);
    }

    fn counted(&mut self, bytes: usize) {
        self.records += 1;
        self.acc_bytes += bytes;
        if self.acc.events.len() + self.acc.rejects.len() >= BATCH_EVENTS
            || self.acc_bytes >= BATCH_BYTES
        {
            self.flush();
        }
    }

    fn walk(&mut self, win: &mut Window<'_>) -> FileOutcome {
        let whole = win.limits.whole;
        win.fill(whole + 1);
        if win.eof && win.buf.len() <= whole {
            let pf = parse_decoded(&win.buf);
            self.acc.events = pf.events;
            self.acc.rejects = pf.rejects;
            self.acc.unlisted_rejects = pf.unlisted_rejects;
            self.acc.warnings = pf.warnings;
            return pf.outcome;
        }
        // Enough to tell the layout by: the first record whole, if it is within the cap.
        while win.buf.len() <= win.limits.record {
            let more = win.limits.chunk.max(win.buf.len());
            if !win.fill(more) {
                break;
            }
        }
        let mut i = 0;
        if win.buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
            i = 3;
        }
        let Some(first) = win.peek(&mut i) else {
            return FileOutcome::Rejected("empty file".into());
        };
        match first {
            b'[' => {
                self.array(win, &mut i);
                FileOutcome::Read(Format::Array)
            }
            b'{' => self.top_object(win, &mut i),
            _ => FileOutcome::Skipped("not JSON".into()),
        }
    }

    /// A file that starts with `{` at `i`: JSON Lines, one object, or `{"Records":[...]}`.
    fn top_object(&mut self, win: &mut Window<'_>, i: &mut usize) -> FileOutcome {
        let k = skip_ws(&win.buf, *i + 1);
        let first_key = match scan_string(&win.buf, k) {
            Scan::Complete(e) if win.buf[k] == b'"' => &win.buf[k + 1..e - 1],
            _ => &[][..],
        };
        let record_like = EVENT_KEYS.iter().any(|e| e.as_bytes() == first_key);
        let first_end = match scan_value(&win.buf, *i) {
            Scan::Complete(e) => Some(e),
            _ => None,
        };
        let followed_by_object =
            first_end.is_some_and(|e| win.buf.get(skip_ws(&win.buf, e)) == Some(&b'{'));
        if record_like || followed_by_object {
            let line_mode = match first_end {
                Some(e) => !win.buf[*i..e].contains(&b'\n'),
                None => first_line_is_record(&win.buf, *i),
            };
            self.sequence(win, i, line_mode);
            return FileOutcome::Read(if self.records == 1 {
                Format::SingleEvent
            } else {
                Format::JsonLines
            });
        }
        self.records_object(win, i)
    }

    /// `{ key: value, ... }` at the top of the file: the records are in `Records` / `Events`.
    fn records_object(&mut self, win: &mut Window<'_>, i: &mut usize) -> FileOutcome {
        *i += 1;
        let mut outcome: Option<FileOutcome> = None;
        loop {
            let Some(c) = win.peek(i) else {
                return match outcome {
                    None => {
                        FileOutcome::Rejected("truncated JSON: file ends before any record".into())
                    }
                    Some(o) => {
                        self.warn(win, *i, "file ends before the closing '}'".into());
                        o
                    }
                };
            };
            match c {
                b'}' => break,
                b',' => {
                    *i += 1;
                    continue;
                }
                b'"' => {}
                _ => return self.damaged(win, *i, outcome),
            }
            let kend = match win.scan(i) {
                Scanned::Complete(e, _) => e,
                _ => return self.damaged(win, *i, outcome),
            };
            let key = win.buf[*i + 1..kend - 1].to_vec();
            *i = kend;
            if win.peek(i) != Some(b':') {
                return self.damaged(win, *i, outcome);
            }
            *i += 1;
            let value = win.peek(i);
            if outcome.is_none() {
                match key.as_slice() {
                    b"Records" | b"Events" if value == Some(b'[') => {
                        if let Some(reason) = not_cloudtrail_records(&win.buf, *i) {
                            return FileOutcome::Skipped(reason);
                        }
                        let read = FileOutcome::Read(if key == b"Events" {
                            Format::LookupEvents
                        } else {
                            Format::Records
                        });
                        outcome = Some(read.clone());
                        if !self.array(win, i) || self.stopped {
                            return read;
                        }
                        continue;
                    }
                    b"digestStartTime"
                    | b"digestEndTime"
                    | b"digestPublicKeyFingerprint"
                    | b"logFiles" => {
                        return FileOutcome::Skipped("CloudTrail digest file".into());
                    }
                    _ => {}
                }
            }
            if value.is_none() {
                continue;
            }
            match win.scan(i) {
                Scanned::Complete(e, _) => *i = e,
                Scanned::TooLarge => {
                    if !win.skip(i) {
                        continue;
                    }
                }
                Scanned::Truncated | Scanned::Invalid(_) => {
                    return self.damaged(win, *i, outcome);
                }
            }
        }
        outcome
            .unwrap_or_else(|| FileOutcome::Skipped("JSON object without Records or Events".into()))
    }

    /// Damage in the top object: before the records it costs the file, after them a warning.
    fn damaged(&mut self, win: &Window<'_>, i: usize, outcome: Option<FileOutcome>) -> FileOutcome {
        let at = win.base + i as u64;
        match outcome {
            None => FileOutcome::Rejected(format!("invalid JSON at byte {at} before any record")),
            Some(o) => {
                self.warn(
                    win,
                    i,
                    format!("invalid JSON at byte {at} after the records"),
                );
                o
            }
        }
    }

    fn warn(&mut self, win: &Window<'_>, i: usize, message: String) {
        self.acc.warn((win.base + i as u64) as usize, message);
    }

    /// The array at `win.buf[*i] == '['`; true when it ended with its ']'.
    fn array(&mut self, win: &mut Window<'_>, i: &mut usize) -> bool {
        *i += 1;
        let mut index = 0u64;
        let mut missing_commas = 0u64;
        let mut first_missing = 0u64;
        let ended = loop {
            let Some(c) = win.peek(i) else {
                self.warn(
                    win,
                    *i,
                    "file ends inside the records array (no closing ']')".into(),
                );
                break false;
            };
            match c {
                b']' => {
                    *i += 1;
                    break true;
                }
                b',' => {
                    *i += 1;
                    continue;
                }
                _ => {}
            }
            let step = self.element(win, i, index);
            index += 1;
            match step {
                Step::Next => {}
                Step::Resynced => continue,
                Step::End => break false,
            }
            if self.stopped {
                break false;
            }
            match win.peek(i) {
                Some(b',' | b']') | None => {}
                Some(_) => {
                    if missing_commas == 0 {
                        first_missing = win.base + *i as u64;
                    }
                    missing_commas += 1;
                }
            }
        };
        if missing_commas > 0 {
            self.acc.warn(
                first_missing as usize,
                format!(
                    "{missing_commas} record(s) not separated by ',' (malformed array); records read anyway"
                ),
            );
        }
        ended
    }

    /// One record at `i` (not whitespace): read, rejected, or skipped when too large.
    fn element(&mut self, win: &mut Window<'_>, i: &mut usize, index: u64) -> Step {
        match win.scan(i) {
            Scanned::Complete(e, depth) => {
                let at = win.base + *i as u64;
                self.record(index, at, &win.buf[*i..e], Some(depth));
                *i = e;
                Step::Next
            }
            Scanned::Truncated => {
                let at = win.base + *i as u64;
                self.reject(
                    index,
                    at,
                    "truncated: the file ends inside this record".into(),
                );
                Step::End
            }
            Scanned::Invalid(p) => {
                let at = win.base + *i as u64;
                let bad = win.base + p as u64;
                self.reject(index, at, format!("invalid JSON at byte {bad}"));
                if win.resync(i, p) {
                    Step::Resynced
                } else {
                    Step::End
                }
            }
            Scanned::TooLarge => {
                let at = win.base + *i as u64;
                self.reject(index, at, over_the_cap(win.limits.record));
                if win.skip(i) {
                    Step::Next
                } else {
                    self.warn(win, *i, "file ends inside a record over the cap".into());
                    Step::End
                }
            }
        }
    }

    /// Objects one after another: one per line, or pretty-printed one after another.
    fn sequence(&mut self, win: &mut Window<'_>, i: &mut usize, line_mode: bool) {
        let mut index = 0u64;
        if !line_mode {
            while !self.stopped && win.peek(i).is_some() {
                let step = self.element(win, i, index);
                index += 1;
                if let Step::End = step {
                    return;
                }
            }
            return;
        }
        while !self.stopped {
            // The next line, whole, unless it is over the cap.
            let mut from = *i;
            let end = loop {
                if let Some(k) = memchr::memchr(b'\n', &win.buf[from..]) {
                    break Some(from + k);
                }
                if win.eof {
                    break None;
                }
                if win.buf.len() - *i > win.limits.record {
                    let at = win.base + *i as u64;
                    self.reject(index, at, over_the_cap(win.limits.record));
                    index += 1;
                    if !win.skip_line(i) {
                        return;
                    }
                    from = *i;
                    continue;
                }
                let searched = win.buf.len() - *i;
                win.consume(i);
                from = searched;
                win.fill(win.limits.chunk.max(win.buf.len()));
            };
            let stop = end.unwrap_or(win.buf.len());
            let here = win.base + *i as u64;
            let line = &win.buf[*i..stop];
            if line.len() > win.limits.record {
                self.reject(index, here, over_the_cap(win.limits.record));
                index += 1;
            } else if !line.iter().all(|c| c.is_ascii_whitespace()) {
                match scan_value(line, skip_ws(line, 0)) {
                    Scan::Truncated => self.reject(
                        index,
                        here,
                        "truncated: the line ends inside this record".into(),
                    ),
                    _ => self.record(index, here, line, None),
                }
                index += 1;
            }
            let Some(e) = end else { return };
            *i = e + 1;
            if *i > win.limits.chunk {
                win.consume(i);
            }
        }
    }
}

/// Why a record over the cap was rejected.
fn over_the_cap(cap: usize) -> String {
    format!("record over the cap of {cap} bytes (not read)")
}

/// Where the walk goes after one record.
enum Step {
    /// On after the record.
    Next,
    /// On at the next plausible record after damage.
    Resynced,
    /// The content ended.
    End,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> (ParsedFile, StreamEnd) {
        run(bytes, Limits::default())
    }

    const GOOD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","accessKeyId":"AKIA1"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","requestParameters":{"a":[1,{"b":"x]}\""}]},"eventID":"ID"}"#;

    /// Small enough that a few records take the windowed path, with many refills.
    const SMALL: Limits = Limits {
        whole: 700,
        record: 400,
        chunk: 64,
    };

    fn rec(i: usize) -> String {
        GOOD.replace("\"ID\"", &format!("\"id-{i}\""))
    }

    fn run(bytes: &[u8], limits: Limits) -> (ParsedFile, StreamEnd) {
        let mut pf = ParsedFile::new(0);
        let end = parse_stream_with(bytes, limits, &mut |b| {
            pf.events.extend(b.events);
            pf.rejects.extend(b.rejects);
            pf.unlisted_rejects += b.unlisted_rejects;
            pf.warnings.extend(b.warnings);
            true
        });
        (pf, end)
    }

    fn ids(pf: &ParsedFile) -> Vec<String> {
        pf.events.iter().map(|e| e.event_id.clone()).collect()
    }

    fn layouts(n: usize) -> Vec<(String, Format)> {
        let recs: Vec<String> = (0..n).map(rec).collect();
        let lookup: Vec<String> = recs
            .iter()
            .map(|r| {
                let mut s = String::from("{\"EventId\":\"x\",\"CloudTrailEvent\":");
                crate::record::push_json_string(&mut s, r);
                s.push('}');
                s
            })
            .collect();
        vec![
            (
                format!("{{\"Records\":[{}]}}", recs.join(",")),
                Format::Records,
            ),
            (
                format!("{{\"Events\":[{}],\"NextToken\":\"t\"}}", lookup.join(",")),
                Format::LookupEvents,
            ),
            (format!("[{}]", recs.join(",\n")), Format::Array),
            (recs.join("\n") + "\n", Format::JsonLines),
            (
                recs.iter()
                    .map(|r| r.replace(",\"", ",\n  \""))
                    .collect::<Vec<_>>()
                    .join("\n"),
                Format::JsonLines,
            ),
        ]
    }

    #[test]
    fn windowed_reading_finds_what_whole_reading_finds() {
        for (text, format) in layouts(12) {
            let (whole, end_whole) = run(text.as_bytes(), Limits::default());
            let (win, end) = run(text.as_bytes(), SMALL);
            assert_eq!(end_whole.outcome, FileOutcome::Read(format), "{text}");
            assert_eq!(end.outcome, FileOutcome::Read(format), "{text}");
            assert_eq!(whole.events.len(), 12, "{text}");
            assert_eq!(ids(&win), ids(&whole), "{text}");
            assert!(win.rejects.is_empty(), "{:?}", win.rejects);
            assert!(win.warnings.is_empty(), "{:?}", win.warnings);
            assert_eq!(end.bytes, text.len() as u64);
        }
    }

    #[test]
    fn records_over_the_cap_are_rejected_and_skipped_without_being_held() {
        let huge = GOOD.replace("\"x]}\\\"\"", &format!("\"{}\"", "A\\\"[{".repeat(300)));
        for (text, _) in layouts(8) {
            // (lookup-events rows carry the record as an escaped string)
            if !text.contains(&rec(3)) {
                continue;
            }
            let text = text.replacen(&rec(3), &huge, 1);
            let (pf, end) = run(text.as_bytes(), SMALL);
            assert!(matches!(end.outcome, FileOutcome::Read(_)), "{text}");
            assert_eq!(pf.events.len(), 7, "{text}: {:?}", pf.rejects);
            assert_eq!(pf.rejects.len(), 1, "{text}");
            assert_eq!(pf.rejects[0].index, 3);
            assert!(
                pf.rejects[0].reason.contains("over the cap"),
                "{:?}",
                pf.rejects
            );
            assert!(!ids(&pf).contains(&"id-3".to_string()));
        }
    }

    #[test]
    fn damage_in_a_windowed_file_costs_only_the_damaged_records() {
        for (text, _) in layouts(10) {
            // A record cut short by garbage, and the file cut inside the last record.
            let bad = text.replacen(&rec(4), &rec(4)[..50], 1);
            let cut = &bad[..bad.len() - 30];
            let (pf, _) = run(cut.as_bytes(), SMALL);
            let (whole, _) = run(cut.as_bytes(), Limits::default());
            assert!(pf.events.len() >= 7, "{cut}: {:?}", pf.rejects);
            assert!(!pf.rejects.is_empty() || !pf.warnings.is_empty());
            // Every record found is stored or rejected; none is invented.
            assert!(pf.events.len() <= whole.events.len() + 1, "{cut}");
            for id in ids(&pf) {
                assert!(text.contains(id.as_str()), "{id}");
            }
        }
    }

    #[test]
    fn a_windowed_file_of_whitespace_or_zeros_is_not_held() {
        let (pf, end) = run(&vec![b' '; 10_000], SMALL);
        assert_eq!(end.outcome, FileOutcome::Rejected("empty file".into()));
        assert_eq!(pf.records_seen(), 0);
        let (_, end) = run(&vec![0u8; 10_000], SMALL);
        assert_eq!(end.outcome, FileOutcome::Skipped("not JSON".into()));
        // A string that never ends is one record over the cap.
        let text = format!("{{\"Records\":[{},\"{}", rec(0), "x".repeat(5000));
        let (pf, end) = run(text.as_bytes(), SMALL);
        assert_eq!(end.outcome, FileOutcome::Read(Format::Records));
        assert_eq!((pf.events.len(), pf.rejects.len()), (1, 1));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, .. Default::default() })]

        #[test]
        fn windowed_reading_accounts_for_every_record(
            n in 1usize..12,
            layout in 0usize..5,
            chunk in 1usize..300,
            record in 400usize..800,
            flips in proptest::collection::vec((0usize..100_000, proptest::prelude::any::<u8>()), 0..3),
        ) {
            let (text, _) = layouts(n).swap_remove(layout);
            let mut bytes = text.into_bytes();
            for (pos, byte) in &flips {
                let p = pos % bytes.len();
                bytes[p] = *byte;
            }
            let limits = Limits { whole: 100, record, chunk };
            let (pf, end) = run(&bytes, limits);
            proptest::prop_assert!(pf.events.len() <= n);
            proptest::prop_assert!(end.bytes <= bytes.len() as u64);
            if flips.is_empty() {
                proptest::prop_assert_eq!(pf.events.len(), n);
            }
        }
    }

    #[test]
    fn skip_finds_the_end_across_pieces() {
        let v = br#"{"a":["x\"]}",{"b":1}]} tail"#;
        for cut in 1..v.len() {
            let mut s = Skip::new(v[0]);
            let r = match s.feed(&v[..cut]) {
                Some(k) => k,
                None => cut + s.feed(&v[cut..]).unwrap(),
            };
            assert_eq!(r, v.len() - 5, "cut at {cut}");
        }
        let mut s = Skip::new(b'1');
        assert_eq!(s.feed(b"12"), None);
        assert_eq!(s.feed(b"3,"), Some(1));
    }

    #[test]
    fn a_read_failure_is_told_from_damage() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("disk on fire"));
                }
                let n = self.0.min(buf.len());
                buf[..n].fill(b' ');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut batches = 0;
        let end = parse_stream(Failing(10), &mut |_| {
            batches += 1;
            true
        });
        assert!(end.failed.as_deref().unwrap().contains("disk on fire"));
        assert_eq!(end.raw_bytes, 10);
        let (_, end) = collect(&[0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(end.failed, None);
        assert!(matches!(end.outcome, FileOutcome::Rejected(r) if r.contains("gzip")));
    }
}
