//! Credentials in the evidence of a report that leaves the team.
//!
//! CloudTrail logs the session token of every `AssumeRole`, `GetSessionToken`,
//! `GetFederationToken` and similar response (`responseElements.credentials.sessionToken`).
//! With the access key id (logged beside it) it is half of a live credential until it
//! expires, and it says nothing an investigation needs. The hand-over report shows its
//! length instead; `backtrail show EVENT_ID` still prints the event as logged.

/// Fields whose string values are credential material.
const SECRET_KEYS: [&str; 3] = ["sessionToken", "secretAccessKey", "SessionToken"];

/// `event_json` with every credential value replaced by a note saying how long it was.
/// Events without such a field come back unchanged, byte for byte.
pub fn credentials(event_json: &str) -> String {
    if !SECRET_KEYS.iter().any(|k| event_json.contains(k)) {
        return event_json.to_string();
    }
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(event_json) else {
        return event_json.to_string();
    };
    if !mask(&mut v) {
        return event_json.to_string();
    }
    serde_json::to_string(&v).unwrap_or_else(|_| event_json.to_string())
}

/// Masks in place; true when something was masked.
fn mask(v: &mut serde_json::Value) -> bool {
    let mut masked = false;
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if SECRET_KEYS.contains(&k.as_str())
                    && let serde_json::Value::String(s) = val
                {
                    *s = format!("<redacted: {} characters>", s.chars().count());
                    masked = true;
                } else {
                    masked |= mask(val);
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                masked |= mask(item);
            }
        }
        _ => {}
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tokens_are_masked_and_the_rest_kept_in_order() {
        let ev = r#"{"eventName":"AssumeRole","responseElements":{"credentials":{"accessKeyId":"ASIAEXAMPLE","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Oct 1, 2026, 4:00:00 PM"},"assumedRoleUser":{"arn":"arn:aws:sts::1:assumed-role/r/s"}},"eventID":"e1"}"#;
        let out = credentials(ev);
        assert!(!out.contains("IQoJb3JpZ2luX2VjEXAMPLE"), "{out}");
        assert!(
            out.contains(r#""sessionToken":"<redacted: 23 characters>""#),
            "{out}"
        );
        assert!(out.contains("ASIAEXAMPLE"));
        let keys: Vec<&str> = ["eventName", "responseElements", "eventID"].to_vec();
        let pos: Vec<usize> = keys.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{out}");
    }

    #[test]
    fn events_without_credentials_are_untouched() {
        for ev in [
            r#"{"eventName":"GetObject","requestParameters":{"key":"a  b"},"n":1.50}"#,
            r#"{"eventName":"x","note":"mentions sessionToken in text"}"#,
            "not json but sessionToken",
        ] {
            assert_eq!(credentials(ev), ev);
        }
    }
}
