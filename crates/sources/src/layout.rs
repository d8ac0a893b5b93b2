//! The CloudTrail delivery layout, read from a path so that discovery can skip whole
//! directories (or S3 prefixes) that a filter excludes without listing them.
//!
//! CloudTrail writes `.../AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>`, and for an
//! organization trail `.../AWSLogs/<o-orgid>/<account>/CloudTrail/...`; digest and Insights
//! files use `CloudTrail-Digest` and `CloudTrail-Insight` in place of `CloudTrail`. A path
//! that strays from this shape is never pruned: it may be anything, such as a plain directory
//! of exports.

use crate::Filter;
use chrono::{Days, Months, NaiveDate};

/// One day in milliseconds: how far the date filter is widened on each side, since a day's
/// files also hold events from a few minutes either side of midnight.
const SLACK_MS: i64 = 86_400_000;

/// The service folders under an account that hold CloudTrail's own deliveries.
const SERVICES: [&str; 3] = ["CloudTrail", "CloudTrail-Digest", "CloudTrail-Insight"];

/// What discovery does with a directory or prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// The filter excludes everything below: do not list it at all.
    Prune,
    /// Something below may still be excluded: list one level and decide for each child.
    Descend,
    /// Nothing below can be excluded: take everything under it in one go.
    KeepAll,
}

/// The layout level that the next path segment should fill.
#[derive(Debug, Clone, Copy)]
enum Next {
    AccountOrOrg,
    Account,
    Service,
    Region,
    Year,
    Month(i32),
    Day(i32, u32),
    Files,
}

/// Decides for a directory given as its path segments, from the root (or bucket) down.
pub(crate) fn decide<'a>(segments: impl IntoIterator<Item = &'a str>, filter: &Filter) -> Decision {
    if filter.is_empty() {
        return Decision::KeepAll;
    }
    let mut segments = segments.into_iter().skip_while(|s| *s != "AWSLogs");
    if segments.next().is_none() {
        // Not inside the layout yet, but an `AWSLogs` folder may lie further down.
        return Decision::Descend;
    }
    let mut next = Next::AccountOrOrg;
    for seg in segments {
        next = match next {
            Next::AccountOrOrg | Next::Account if is_account(seg) => {
                if !filter.accounts.is_empty() && !filter.accounts.iter().any(|a| a == seg) {
                    return Decision::Prune;
                }
                Next::Service
            }
            Next::AccountOrOrg if is_org(seg) => Next::Account,
            Next::Service if SERVICES.contains(&seg) => Next::Region,
            Next::Region if is_region(seg) => {
                let wanted = |r: &String| r.eq_ignore_ascii_case(seg);
                if !filter.regions.is_empty() && !filter.regions.iter().any(wanted) {
                    return Decision::Prune;
                }
                Next::Year
            }
            Next::Year => {
                let Some(y) = number(seg, 4).map(|y| y as i32) else {
                    return Decision::KeepAll;
                };
                match NaiveDate::from_ymd_opt(y, 1, 1) {
                    Some(d) if overlaps(d, d.checked_add_months(Months::new(12)), filter) => {
                        Next::Month(y)
                    }
                    Some(_) => return Decision::Prune,
                    None => return Decision::KeepAll,
                }
            }
            Next::Month(y) => {
                let Some(m) = number(seg, 2) else {
                    return Decision::KeepAll;
                };
                match NaiveDate::from_ymd_opt(y, m, 1) {
                    Some(d) if overlaps(d, d.checked_add_months(Months::new(1)), filter) => {
                        Next::Day(y, m)
                    }
                    Some(_) => return Decision::Prune,
                    None => return Decision::KeepAll,
                }
            }
            Next::Day(y, m) => {
                let Some(day) = number(seg, 2) else {
                    return Decision::KeepAll;
                };
                match NaiveDate::from_ymd_opt(y, m, day) {
                    Some(d) if overlaps(d, d.checked_add_days(Days::new(1)), filter) => Next::Files,
                    Some(_) => return Decision::Prune,
                    None => return Decision::KeepAll,
                }
            }
            // Off the layout (or below the day): nothing here can be pruned.
            _ => return Decision::KeepAll,
        };
    }
    // Listing level by level only pays while a level that the filter constrains lies ahead.
    let accounts_ahead = matches!(next, Next::AccountOrOrg | Next::Account);
    let regions_ahead = accounts_ahead || matches!(next, Next::Service | Next::Region);
    let dates_ahead = !matches!(next, Next::Files);
    if (accounts_ahead && !filter.accounts.is_empty())
        || (regions_ahead && !filter.regions.is_empty())
        || (dates_ahead && (filter.since.is_some() || filter.until.is_some()))
    {
        Decision::Descend
    } else {
        Decision::KeepAll
    }
}

/// Whether the days `[start, end)` meet the filter's time window widened by [`SLACK_MS`].
/// An `end` past chrono's range counts as open.
fn overlaps(start: NaiveDate, end: Option<NaiveDate>, filter: &Filter) -> bool {
    let ms = |d: NaiveDate| {
        d.and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis()
    };
    let after_since = match (filter.since, end) {
        (Some(since), Some(end)) => ms(end) > since.saturating_sub(SLACK_MS),
        _ => true,
    };
    let before_until = filter
        .until
        .is_none_or(|until| ms(start) <= until.saturating_add(SLACK_MS));
    after_since && before_until
}

/// Parses exactly `len` ASCII digits.
fn number(s: &str, len: usize) -> Option<u32> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `o-` and 10 to 32 lowercase letters or digits, as AWS Organizations ids are.
fn is_org(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|id| {
        (10..=32).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// Loosely the shape of a region name (`us-east-1`, `us-gov-west-1`, `cn-north-1`).
fn is_region(s: &str) -> bool {
    s.len() >= 4
        && s.contains('-')
        && s.ends_with(|c: char| c.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtrail_model::time::parse_iso;

    const ACCT: &str = "111122223333";

    fn d(path: &str, filter: &Filter) -> Decision {
        decide(path.split('/'), filter)
    }

    fn accounts(a: &[&str]) -> Filter {
        Filter {
            accounts: a.iter().map(|s| s.to_string()).collect(),
            ..Filter::default()
        }
    }

    fn regions(r: &[&str]) -> Filter {
        Filter {
            regions: r.iter().map(|s| s.to_string()).collect(),
            ..Filter::default()
        }
    }

    fn window(since: Option<&str>, until: Option<&str>) -> Filter {
        Filter {
            since: since.map(|s| parse_iso(s).unwrap()),
            until: until.map(|s| parse_iso(s).unwrap()),
            ..Filter::default()
        }
    }

    #[test]
    fn empty_filter_keeps_everything_without_descending() {
        let f = Filter::default();
        assert_eq!(d("", &f), Decision::KeepAll);
        assert_eq!(d("AWSLogs/999999999999/CloudTrail", &f), Decision::KeepAll);
    }

    #[test]
    fn outside_the_layout_descends_to_find_awslogs() {
        let f = accounts(&[ACCT]);
        assert_eq!(d("", &f), Decision::Descend);
        assert_eq!(d("trail-prefix/sub", &f), Decision::Descend);
        assert_eq!(d("trail-prefix/AWSLogs", &f), Decision::Descend);
    }

    #[test]
    fn account_filter_plain_trail() {
        let f = accounts(&[ACCT]);
        assert_eq!(d("p/AWSLogs/999999999999", &f), Decision::Prune);
        assert_eq!(
            d("p/AWSLogs/999999999999/CloudTrail/us-east-1", &f),
            Decision::Prune
        );
        // Past the account level nothing else is filtered: take it all in one listing.
        assert_eq!(d(&format!("p/AWSLogs/{ACCT}"), &f), Decision::KeepAll);
    }

    #[test]
    fn account_filter_org_trail() {
        let f = accounts(&[ACCT]);
        assert_eq!(d("AWSLogs/o-abcdef1234", &f), Decision::Descend);
        assert_eq!(d("AWSLogs/o-abcdef1234/999999999999", &f), Decision::Prune);
        assert_eq!(
            d(&format!("AWSLogs/o-abcdef1234/{ACCT}"), &f),
            Decision::KeepAll
        );
        // A too-short org id is not the layout.
        assert_eq!(d("AWSLogs/o-abc/999999999999", &f), Decision::KeepAll);
    }

    #[test]
    fn region_filter_on_every_service_folder() {
        let f = regions(&["eu-west-1"]);
        assert_eq!(d(&format!("AWSLogs/{ACCT}"), &f), Decision::Descend);
        assert_eq!(
            d(&format!("AWSLogs/{ACCT}/CloudTrail"), &f),
            Decision::Descend
        );
        for service in SERVICES {
            let base = format!("AWSLogs/o-abcdef1234/{ACCT}/{service}");
            assert_eq!(d(&format!("{base}/us-east-1"), &f), Decision::Prune);
            assert_eq!(d(&format!("{base}/EU-WEST-1"), &f), Decision::KeepAll);
            assert_eq!(
                d(&format!("{base}/eu-west-1/2024/01/02"), &f),
                Decision::KeepAll
            );
        }
    }

    #[test]
    fn other_services_under_an_account_are_not_the_layout() {
        let f = regions(&["eu-west-1"]);
        let p = format!("AWSLogs/{ACCT}/vpcflowlogs/us-east-1/2024/01/02");
        assert_eq!(d(&p, &f), Decision::KeepAll);
        // But the account filter applies before the service is known.
        let f = accounts(&["444455556666"]);
        assert_eq!(
            d(&format!("AWSLogs/{ACCT}/vpcflowlogs"), &f),
            Decision::Prune
        );
    }

    #[test]
    fn date_filter_keeps_overlapping_days_with_a_day_of_slack() {
        let f = window(Some("2024-03-10T12:00:00Z"), Some("2024-03-12T08:00:00Z"));
        let r = format!("AWSLogs/{ACCT}/CloudTrail/us-east-1");
        assert_eq!(d(&r, &f), Decision::Descend);
        assert_eq!(d(&format!("{r}/2023"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2025"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2024"), &f), Decision::Descend);
        assert_eq!(d(&format!("{r}/2024/02"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2024/04"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2024/03"), &f), Decision::Descend);
        let day = |n: u32| d(&format!("{r}/2024/03/{n:02}"), &f);
        let kept: Vec<u32> = (1..=31).filter(|&n| day(n) == Decision::KeepAll).collect();
        // 10..=12 overlap the window; 9 and 13 are the slack; the rest are pruned.
        assert_eq!(kept, vec![9, 10, 11, 12, 13]);
        assert_eq!(day(8), Decision::Prune);
        assert_eq!(day(14), Decision::Prune);
    }

    #[test]
    fn date_slack_crosses_month_and_year_ends() {
        let f = window(Some("2024-01-01T00:30:00Z"), None);
        let r = format!("AWSLogs/{ACCT}/CloudTrail/us-east-1");
        assert_eq!(d(&format!("{r}/2023"), &f), Decision::Descend);
        assert_eq!(d(&format!("{r}/2023/12"), &f), Decision::Descend);
        assert_eq!(d(&format!("{r}/2023/12/31"), &f), Decision::KeepAll);
        assert_eq!(d(&format!("{r}/2023/12/30"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2023/11"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2031/05/05"), &f), Decision::KeepAll);

        let f = window(None, Some("2023-12-31T23:59:59Z"));
        assert_eq!(d(&format!("{r}/2024/01/01"), &f), Decision::KeepAll);
        assert_eq!(d(&format!("{r}/2024/01/02"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/2024/02"), &f), Decision::Prune);
        assert_eq!(d(&format!("{r}/1999/01/01"), &f), Decision::KeepAll);
    }

    #[test]
    fn non_layout_paths_are_never_pruned() {
        let f = Filter {
            since: parse_iso("2024-03-10T00:00:00Z"),
            until: parse_iso("2024-03-10T23:59:59Z"),
            accounts: vec![ACCT.into()],
            regions: vec!["us-east-1".into()],
        };
        for p in [
            "AWSLogs/not-an-account/CloudTrail/eu-west-1",
            "AWSLogs/12345/CloudTrail",
            &format!("AWSLogs/{ACCT}/Trail/eu-west-1"),
            &format!("AWSLogs/{ACCT}/CloudTrail/EU_WEST_1"),
            &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/24"),
            &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/2024/13"),
            &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/2024/03/32"),
            &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/2024/03/1"),
            &format!("AWSLogs/{ACCT}/CloudTrail/us-east-1/2024/03/10/extra"),
        ] {
            assert_eq!(d(p, &f), Decision::KeepAll, "{p}");
        }
    }

    #[test]
    fn all_filters_together() {
        let f = Filter {
            since: parse_iso("2024-03-10T00:00:00Z"),
            until: None,
            accounts: vec![ACCT.into()],
            regions: vec!["us-east-1".into()],
        };
        let ok = format!("AWSLogs/o-abcdef1234/{ACCT}/CloudTrail-Digest/us-east-1/2024/03/09");
        assert_eq!(d(&ok, &f), Decision::KeepAll);
        assert_eq!(d(&ok.replace("/09", "/08"), &f), Decision::Prune);
        assert_eq!(
            d(&ok.replace("us-east-1", "us-west-2"), &f),
            Decision::Prune
        );
        assert_eq!(d(&ok.replace(ACCT, "999999999999"), &f), Decision::Prune);
    }

    #[test]
    fn shapes() {
        assert!(is_account("000011112222"));
        assert!(!is_account("00001111222"));
        assert!(!is_account("00001111222a"));
        assert!(is_org("o-a1b2c3d4e5"));
        assert!(!is_org("o-A1B2C3D4E5"));
        assert!(!is_org("a1b2c3d4e5f6"));
        assert!(is_region("us-gov-west-1"));
        assert!(is_region("cn-north-1"));
        assert!(!is_region("CloudTrail"));
        assert!(!is_region("us-east"));
    }
}
