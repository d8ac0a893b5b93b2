//! Time formatting in the exact shapes CloudTrail uses, without going through chrono's
//! formatter in the hot path.

use std::fmt::Write as _;

/// Civil date-time of a Unix timestamp (UTC): (year, month, day, hour, minute, second).
pub(crate) fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        (rem / 3600) as u32,
        ((rem % 3600) / 60) as u32,
        (rem % 60) as u32,
    )
}

fn push2(out: &mut String, v: u32) {
    out.push((b'0' + (v / 10) as u8) as char);
    out.push((b'0' + (v % 10) as u8) as char);
}

/// `2026-10-01T12:34:56Z` (eventTime, creationDate).
pub(crate) fn push_iso(out: &mut String, secs: i64) {
    let (y, mo, d, h, mi, s) = civil(secs);
    let _ = write!(out, "{y:04}-");
    push2(out, mo);
    out.push('-');
    push2(out, d);
    out.push('T');
    push2(out, h);
    out.push(':');
    push2(out, mi);
    out.push(':');
    push2(out, s);
    out.push('Z');
}

pub(crate) fn iso(secs: i64) -> String {
    let mut s = String::with_capacity(20);
    push_iso(&mut s, secs);
    s
}

/// `20261001T1235Z` (log file names).
pub(crate) fn file_stamp(secs: i64) -> String {
    let (y, mo, d, h, mi, _) = civil(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}Z")
}

/// `20261001T123456Z` (digest file names).
pub(crate) fn digest_stamp(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// `YYYY/MM/DD` path component.
pub(crate) fn day_path(secs: i64) -> String {
    let (y, mo, d, ..) = civil(secs);
    format!("{y:04}/{mo:02}/{d:02}")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn twelve_hour(h: u32) -> (u32, &'static str) {
    match h {
        0 => (12, "AM"),
        1..=11 => (h, "AM"),
        12 => (12, "PM"),
        _ => (h - 12, "PM"),
    }
}

/// STS credential expiration: `Oct 1, 2026, 1:34:56 PM`.
pub(crate) fn sts_expiration(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    let (h12, ampm) = twelve_hour(h);
    format!(
        "{} {d}, {y}, {h12}:{mi:02}:{s:02} {ampm}",
        MONTHS[mo as usize - 1]
    )
}

/// IAM createDate in responses: `Oct 1, 2026 1:34:56 PM`.
pub(crate) fn iam_date(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    let (h12, ampm) = twelve_hour(h);
    format!(
        "{} {d}, {y} {h12}:{mi:02}:{s:02} {ampm}",
        MONTHS[mo as usize - 1]
    )
}

/// UTC hour of day and whether the day is a weekday (Monday..Friday).
pub(crate) fn hour_and_weekday(secs: i64) -> (u32, bool) {
    let days = secs.div_euclid(86_400);
    // 1970-01-01 was a Thursday: (days + 3) % 7 gives Monday = 0.
    let dow = (days + 3).rem_euclid(7);
    ((secs.rem_euclid(86_400) / 3600) as u32, dow < 5)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // 2026-10-01T13:34:56Z
        let t = 1_790_861_696;
        assert_eq!(iso(t), "2026-10-01T13:34:56Z");
        assert_eq!(sts_expiration(t), "Oct 1, 2026, 1:34:56 PM");
        assert_eq!(iam_date(t), "Oct 1, 2026 1:34:56 PM");
        assert_eq!(file_stamp(t), "20261001T1334Z");
        assert_eq!(digest_stamp(t), "20261001T133456Z");
        assert_eq!(day_path(t), "2026/10/01");
        assert_eq!(sts_expiration(1_790_812_800), "Oct 1, 2026, 12:00:00 AM");
        // 2026-10-01 is a Thursday
        assert_eq!(hour_and_weekday(t), (13, true));
        assert_eq!(hour_and_weekday(t + 2 * 86_400), (13, false));
    }
}
