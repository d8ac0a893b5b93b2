//! Calls that stop, weaken or hide logging: the trail's own API and its bucket's policy and
//! lifecycle. Each becomes a [`LoggingEvent`] with its event id.

use std::collections::BTreeSet;

use backtrail_model::Event;
use backtrail_model::time::format_iso;

use crate::report::LoggingEvent;

/// The CloudTrail APIs that change logging.
pub const TRAIL_EVENTS: [&str; 6] = [
    "StopLogging",
    "StartLogging",
    "DeleteTrail",
    "UpdateTrail",
    "PutEventSelectors",
    "PutInsightSelectors",
];

/// The S3 APIs that change a trail bucket's policy or lifecycle, or remove it.
pub const BUCKET_EVENTS: [&str; 6] = [
    "PutBucketPolicy",
    "DeleteBucketPolicy",
    "PutBucketLifecycle",
    "PutBucketLifecycleConfiguration",
    "DeleteBucketLifecycle",
    "DeleteBucket",
];

/// A string field of a JSON object given as text.
fn field(json: &Option<String>, name: &str) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(json.as_deref()?).ok()?;
    v.get(name).cloned()
}

/// The logging changes among `events`. S3 calls count when they name one of
/// `trail_buckets`, or any bucket when the trail's buckets are unknown.
pub fn logging_events(events: &[Event], trail_buckets: &BTreeSet<String>) -> Vec<LoggingEvent> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    sorted
        .into_iter()
        .filter_map(|e| {
            let params = &e.request_parameters;
            let text = |name: &str| field(params, name).and_then(|v| v.as_str().map(String::from));
            let (kind, target) = match (e.event_source.as_str(), e.event_name.as_str()) {
                ("cloudtrail.amazonaws.com", name) => {
                    let trail = text("name").or_else(|| text("trailName"));
                    let kind = match name {
                        "StopLogging" => "logging_stopped",
                        "StartLogging" => "logging_started",
                        "DeleteTrail" => "trail_deleted",
                        "UpdateTrail"
                            if field(params, "enableLogFileValidation")
                                == Some(serde_json::Value::Bool(false)) =>
                        {
                            "validation_disabled"
                        }
                        "UpdateTrail" => "trail_updated",
                        "PutEventSelectors" | "PutInsightSelectors" => "selectors_changed",
                        _ => return None,
                    };
                    (kind, trail)
                }
                ("s3.amazonaws.com", name) if BUCKET_EVENTS.contains(&name) => {
                    let bucket = text("bucketName");
                    let ours = trail_buckets.is_empty()
                        || bucket.as_ref().is_some_and(|b| trail_buckets.contains(b));
                    if !ours {
                        return None;
                    }
                    let kind = match name {
                        "PutBucketPolicy" | "DeleteBucketPolicy" => "bucket_policy_changed",
                        "DeleteBucket" => "bucket_deleted",
                        _ => "bucket_lifecycle_changed",
                    };
                    (kind, bucket)
                }
                _ => return None,
            };
            Some(LoggingEvent {
                event_id: e.event_id.clone(),
                time: format_iso(e.event_time),
                account: e.recipient_account_id.clone(),
                region: e.aws_region.clone(),
                event_name: e.event_name.clone(),
                kind: kind.into(),
                actor: e
                    .identity
                    .arn
                    .clone()
                    .or_else(|| e.identity.principal_id.clone()),
                target,
                error_code: e.error_code.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(source: &str, name: &str, params: &str) -> Event {
        Event {
            event_id: format!("id-{name}"),
            event_name: name.into(),
            event_source: source.into(),
            request_parameters: Some(params.into()),
            ..Event::default()
        }
    }

    #[test]
    fn classifies_trail_and_bucket_changes() {
        let buckets = BTreeSet::from(["trail-bucket".to_string()]);
        let events = [
            ev("cloudtrail.amazonaws.com", "StopLogging", r#"{"name":"t"}"#),
            ev(
                "cloudtrail.amazonaws.com",
                "UpdateTrail",
                r#"{"name":"t","enableLogFileValidation":false}"#,
            ),
            ev("cloudtrail.amazonaws.com", "DescribeTrails", "{}"),
            ev(
                "s3.amazonaws.com",
                "PutBucketLifecycle",
                r#"{"bucketName":"trail-bucket"}"#,
            ),
            ev(
                "s3.amazonaws.com",
                "PutBucketPolicy",
                r#"{"bucketName":"other"}"#,
            ),
        ];
        let events: Vec<Event> = events
            .into_iter()
            .enumerate()
            .map(|(i, e)| Event {
                event_time: i as i64 * 1000,
                ..e
            })
            .collect();
        let found = logging_events(&events, &buckets);
        let kinds: Vec<&str> = found.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "logging_stopped",
                "validation_disabled",
                "bucket_lifecycle_changed"
            ]
        );
        assert_eq!(found[0].event_id, "id-StopLogging");
        assert_eq!(found[0].target.as_deref(), Some("t"));
        // With the trail's buckets unknown, every bucket counts.
        assert_eq!(logging_events(&events, &BTreeSet::new()).len(), 4);
    }
}
