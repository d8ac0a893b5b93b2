//! Where a file sits in CloudTrail's S3 delivery layout, read from its path or key.
//!
//! Log files: `AWSLogs/[o-org/]<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random>.json.gz`.
//! Digest files: `AWSLogs/[o-org/]<account>/CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_<trail>_<home region>_<YYYYMMDDTHHMMSSZ>[_backfill].json.gz`
//! (CloudTrail user guide, "CloudTrail digest file structure"). A local copy keeps the part
//! from `AWSLogs/` on, which is what files and digest entries are matched by.

use backtrail_model::Millis;

/// What a file in the layout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A log file (`CloudTrail/`).
    Log,
    /// A digest file (`CloudTrail-Digest/`).
    Digest,
}

/// A file's place in the delivery layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Log or digest.
    pub kind: Kind,
    /// The path from `AWSLogs/` on: the same for the S3 object and any local copy of it.
    pub rel: String,
    /// The account folder.
    pub account: String,
    /// The region folder (where the file was delivered from).
    pub region: String,
    /// The time stamp of the file name: delivery minute of a log file, end of a digest's
    /// period.
    pub stamp: Millis,
    /// Digest files: the trail name and its home region.
    pub trail: Option<(String, String)>,
    /// A `_backfill` digest (late log files, outside the hourly chain).
    pub backfill: bool,
}

/// The place of `key` (a local path or `s3://bucket/key`), or `None` when it is not a log or
/// digest file of the layout (Insights files, exports, anything else).
pub fn place(key: &str) -> Option<Place> {
    let segs: Vec<&str> = key.split(['/', '\\']).collect();
    let start = segs.iter().rposition(|s| *s == "AWSLogs")?;
    let mut it = segs[start + 1..].iter().copied();
    let mut account = it.next()?;
    if account.starts_with("o-") {
        account = it.next()?;
    }
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind = match it.next()? {
        "CloudTrail" => Kind::Log,
        "CloudTrail-Digest" => Kind::Digest,
        _ => return None,
    };
    let region = it.next()?;
    let (_y, _m, _d) = (it.next()?, it.next()?, it.next()?);
    let name = it.next()?;
    if it.next().is_some() {
        return None;
    }
    let stem = name.strip_suffix(".json.gz")?;
    let rel = segs[start..].join("/");
    let (stamp, trail, backfill) = match kind {
        Kind::Log => {
            let rest = stem.strip_prefix(&format!("{account}_CloudTrail_{region}_"))?;
            (parse_stamp(rest.get(..14)?)?, None, false)
        }
        Kind::Digest => {
            let rest = stem.strip_prefix(&format!("{account}_CloudTrail-Digest_{region}_"))?;
            let (rest, backfill) = match rest.strip_suffix("_backfill") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let (rest, stamp) = rest.rsplit_once('_')?;
            // The trail name may hold underscores; the home region never does.
            let (trail, home) = rest.rsplit_once('_')?;
            if trail.is_empty() || home.is_empty() {
                return None;
            }
            let trail = Some((trail.to_string(), home.to_string()));
            (parse_stamp(stamp)?, trail, backfill)
        }
    };
    Some(Place {
        kind,
        rel,
        account: account.to_string(),
        region: region.to_string(),
        stamp,
        trail,
        backfill,
    })
}

/// The part of an S3 object key from `AWSLogs/` on (the whole key when it has none).
pub fn rel_key(key: &str) -> &str {
    match key.find("AWSLogs/") {
        Some(0) => key,
        Some(i) if key[..i].ends_with('/') => &key[i..],
        _ => key,
    }
}

/// `YYYYMMDDTHHMMZ` or `YYYYMMDDTHHMMSSZ` to milliseconds UTC.
fn parse_stamp(s: &str) -> Option<Millis> {
    let b = s.as_bytes();
    let seconds = match b.len() {
        14 => false,
        16 => true,
        _ => return None,
    };
    if b[8] != b'T' || b[b.len() - 1] != b'Z' {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let iso = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        digits(0..4)?,
        digits(4..6)?,
        digits(6..8)?,
        digits(9..11)?,
        digits(11..13)?,
        if seconds { digits(13..15)? } else { 0 }
    );
    backtrail_model::time::parse_iso(&iso)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_model::time::parse_iso;

    #[test]
    fn log_file_of_an_organization_trail() {
        let p = place("/copy/trail/AWSLogs/o-abcdef1234/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz").unwrap();
        assert_eq!(p.kind, Kind::Log);
        assert_eq!(p.account, "111122223333");
        assert_eq!(p.region, "us-east-2");
        assert_eq!(p.stamp, parse_iso("2015-08-17T14:45:00Z").unwrap());
        assert!(
            p.rel
                .starts_with("AWSLogs/o-abcdef1234/111122223333/CloudTrail/")
        );
    }

    #[test]
    fn digest_names_with_underscores_and_backfill() {
        let key = "s3://b/prefix/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_my_trail_us-east-1_20150817T150131Z_backfill.json.gz";
        let p = place(key).unwrap();
        assert_eq!(p.kind, Kind::Digest);
        assert_eq!(p.trail, Some(("my_trail".into(), "us-east-1".into())));
        assert!(p.backfill);
        assert_eq!(p.stamp, parse_iso("2015-08-17T15:01:31Z").unwrap());
        assert_eq!(
            p.rel,
            rel_key(
                "prefix/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_my_trail_us-east-1_20150817T150131Z_backfill.json.gz"
            )
        );
    }

    #[test]
    fn other_files_have_no_place() {
        assert!(
            place("/x/AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2026/10/01/f.json.gz")
                .is_none()
        );
        assert!(place("/x/export.json").is_none());
        assert!(
            place("/x/AWSLogs/111122223333/CloudTrail/us-east-1/2026/10/01/bad.json.gz").is_none()
        );
        assert_eq!(rel_key("notAWSLogs/x"), "notAWSLogs/x");
    }
}
