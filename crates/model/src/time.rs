//! Parsing and printing of the time formats CloudTrail and its neighbours use.

use crate::Millis;
use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};

/// Parses an ISO-8601 / RFC 3339 timestamp (`2023-07-10T11:42:00Z`, with optional fraction,
/// `Z` or offset, and the space-separated form lookup-events uses). Returns None when it is
/// not one.
pub fn parse_iso(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Some(ms) = parse_fast(s.as_bytes()) {
        return Some(ms);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, f) {
            return Some(t.timestamp_millis());
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    None
}

/// The common `YYYY-MM-DDTHH:MM:SSZ` form, without chrono's general parser.
fn parse_fast(b: &[u8]) -> Option<Millis> {
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' || b[19] != b'Z' {
        return None;
    }
    let n = |i: usize, len: usize| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[i..i + len] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    let d = NaiveDate::from_ymd_opt(n(0, 4)? as i32, n(5, 2)?, n(8, 2)?)?;
    let t = d.and_hms_opt(n(11, 2)?, n(14, 2)?, n(17, 2)?)?;
    Some(t.and_utc().timestamp_millis())
}

/// Parses STS's `expiration`: ISO form or the "Jul 10, 2023, 12:42:00 PM" form AWS logs.
pub fn parse_expiration(s: &str) -> Option<Millis> {
    if let Some(ms) = parse_iso(s) {
        return Some(ms);
    }
    for f in [
        "%b %e, %Y, %l:%M:%S %p",
        "%b %d, %Y, %I:%M:%S %p",
        "%b %e, %Y %l:%M:%S %p",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s.trim(), f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    // Epoch seconds or milliseconds, as some exports write them.
    if let Ok(n) = s.trim().parse::<i64>() {
        return Some(if n > 100_000_000_000 { n } else { n * 1000 });
    }
    None
}

/// `2023-07-10T11:42:00Z` (milliseconds only when there are some).
pub fn format_iso(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) if ms % 1000 == 0 => t.to_rfc3339_opts(SecondsFormat::Secs, true),
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

/// The UTC day `YYYY-MM-DD` of a time.
pub fn day_of(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => "invalid".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_seen_in_real_logs() {
        let base = parse_iso("2023-07-10T11:42:00Z").unwrap();
        assert_eq!(format_iso(base), "2023-07-10T11:42:00Z");
        assert_eq!(parse_iso("2023-07-10T11:42:00.250Z"), Some(base + 250));
        assert_eq!(parse_iso("2023-07-10 21:42:00+10:00"), Some(base));
        assert_eq!(parse_iso("2023-07-10T11:42:00"), Some(base));
        assert_eq!(parse_expiration("Jul 10, 2023, 11:42:00 AM"), Some(base));
        assert_eq!(
            parse_expiration("Jul 10, 2023, 1:42:00 PM"),
            Some(base + 2 * 3_600_000)
        );
        assert_eq!(parse_iso("2023-13-10T11:42:00Z"), None);
        assert_eq!(parse_iso("garbage"), None);
        assert_eq!(day_of(base), "2023-07-10");
    }
}
