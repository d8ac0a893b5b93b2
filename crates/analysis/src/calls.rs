//! What one call record says, read the same way by every analysis: the API name without
//! its version suffix, JSON-valued columns, the resources it names, the authorization
//! failure it reports; and the shapes the reports share (a value with its count, times as
//! RFC 3339 text).

use backtrail_model::json::json_text;
use backtrail_model::time::{format_iso, parse_iso};
use backtrail_model::{Event, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The API name without the version suffix Lambda and CloudFront log
/// (`GetFunction20150331v2` → `GetFunction`, `CreateFunction2020_05_31` → `CreateFunction`),
/// so that one data row covers every version.
pub fn api_name(event_name: &str) -> &str {
    let b = event_name.as_bytes();
    // `...YYYYMMDD` optionally followed by `vN`.
    let mut end = b.len();
    if let Some(v) = event_name.rfind('v')
        && v + 1 < b.len()
        && b[v + 1..].iter().all(u8::is_ascii_digit)
    {
        end = v;
    }
    if end >= 9 && b[end - 8..end].iter().all(u8::is_ascii_digit) {
        return &event_name[..end - 8];
    }
    // `..._YYYY_MM_DD`.
    if b.len() > 10 {
        let tail = &b[b.len() - 10..];
        let shape = tail.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        });
        if shape {
            return &event_name[..b.len() - 10];
        }
    }
    event_name
}

/// Parses a JSON-valued column (possibly a JSON string holding JSON, as Athena exports
/// write them).
pub(crate) fn json_of(raw: Option<&str>) -> Option<Value> {
    serde_json::from_str(json_text(raw?)?.as_ref()).ok()
}

/// A string value, or a number/boolean as text.
pub(crate) fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// ARNs in the record's `resources` list (`ARN` or `arn` keys).
pub fn resource_arns(ev: &Event) -> Vec<String> {
    let Some(Value::Array(items)) = json_of(ev.resources.as_deref()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|r| {
            r.get("ARN")
                .or_else(|| r.get("arn"))
                .and_then(Value::as_str)
        })
        .map(str::to_string)
        .collect()
}

/// What an authorization failure message says was refused.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Denial {
    /// `service:Action` as IAM evaluated it.
    pub action: Option<String>,
    /// The resource named after `on resource:` (an ARN, `*`, or IAM's `user NAME` /
    /// `role NAME` / `policy ARN` form).
    pub resource: Option<String>,
    /// Why: `no identity-based policy allows`, `explicit deny in a service control
    /// policy`, ...
    pub reason: Option<String>,
    /// EC2's encoded form, which names no resource unless the message also spells it out
    /// (decode it with `aws sts decode-authorization-message`).
    pub encoded: bool,
}

/// Parses `User: ARN is not authorized to perform: ACTION on resource: RES because ...`
/// and its variants (no resource, `with an explicit deny in ...`, EC2's encoded message).
/// `None` when the message is not an authorization failure.
pub fn parse_denial(msg: &str) -> Option<Denial> {
    const MARK: &str = "not authorized to perform: ";
    let encoded = msg.contains("Encoded authorization failure message");
    let mut d = Denial {
        action: None,
        resource: None,
        reason: None,
        encoded,
    };
    if let Some(pos) = msg.find(MARK) {
        let rest = &msg[pos + MARK.len()..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let action = rest[..end].trim_end_matches(['.', ',']);
        if !action.is_empty() {
            d.action = Some(action.to_string());
        }
        let after = &rest[end..];
        if let Some(res) = after.strip_prefix(" on resource: ") {
            let stop = [
                " because ",
                " with an explicit deny",
                ". Encoded authorization failure message",
                " (Service:",
                "\n",
            ]
            .iter()
            .filter_map(|s| res.find(s))
            .min()
            .unwrap_or(res.len());
            let r = res[..stop].trim().trim_end_matches('.').trim();
            if !r.is_empty() {
                d.resource = Some(r.to_string());
            }
        }
    } else if !encoded {
        return None;
    }
    if let Some(p) = msg.find("with an explicit deny in ") {
        let tail = &msg[p + "with an explicit deny in ".len()..];
        let end = tail.find(['.', ':']).unwrap_or(tail.len());
        d.reason = Some(format!("explicit deny in {}", tail[..end].trim()));
    } else if msg.contains("with an explicit deny") {
        d.reason = Some("explicit deny".into());
    } else if let Some(p) = msg.find("because no ") {
        let tail = &msg[p + "because ".len()..];
        if let Some(e) = tail.find(" allows") {
            d.reason = Some(format!("{} allows", &tail[..e]));
        }
    }
    Some(d)
}

/// Serde for [`Millis`] as RFC 3339 text (readable JSON, still typed in Rust).
pub(crate) mod iso {
    use super::{Millis, format_iso, parse_iso};
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ms: &Millis, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_iso(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Millis, D::Error> {
        let s = String::deserialize(d)?;
        parse_iso(&s).ok_or_else(|| D::Error::custom(format!("not a timestamp: {s:?}")))
    }
}

/// A value and how many calls carried it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counted {
    pub value: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_lose_version_suffixes_only() {
        assert_eq!(api_name("GetFunction20150331v2"), "GetFunction");
        assert_eq!(api_name("ListFunctions20150331"), "ListFunctions");
        assert_eq!(api_name("CreateFunction2020_05_31"), "CreateFunction");
        assert_eq!(api_name("ListObjectsV2"), "ListObjectsV2");
        assert_eq!(api_name("GetObject"), "GetObject");
        assert_eq!(api_name("v2"), "v2");
        assert_eq!(api_name("20150331"), "20150331");
    }

    #[test]
    fn denials_of_every_shape() {
        let d = parse_denial(
            "User: arn:aws:iam::1:user/u is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::1:role/r",
        )
        .unwrap();
        assert_eq!(d.action.as_deref(), Some("sts:AssumeRole"));
        assert_eq!(d.resource.as_deref(), Some("arn:aws:iam::1:role/r"));
        assert_eq!(d.reason, None);
        assert!(!d.encoded);

        let d = parse_denial("User: arn:aws:iam::1:user/u is not authorized to perform: iam:SetDefaultPolicyVersion on resource: policy arn:aws:iam::1:policy/P version v2 because no identity-based policy allows the iam:SetDefaultPolicyVersion action").unwrap();
        assert_eq!(
            d.resource.as_deref(),
            Some("policy arn:aws:iam::1:policy/P version v2")
        );
        assert_eq!(d.reason.as_deref(), Some("no identity-based policy allows"));

        let d = parse_denial("User: arn:aws:sts::1:assumed-role/r/s is not authorized to perform: organizations:LeaveOrganization on resource: * with an explicit deny in a service control policy").unwrap();
        assert_eq!(d.resource.as_deref(), Some("*"));
        assert_eq!(
            d.reason.as_deref(),
            Some("explicit deny in a service control policy")
        );

        let d = parse_denial("User: arn:aws:iam::1:user/u is not authorized to perform: route53:CreateHostedZone because no identity-based policy allows the route53:CreateHostedZone action").unwrap();
        assert_eq!(d.action.as_deref(), Some("route53:CreateHostedZone"));
        assert_eq!(d.resource, None);

        let d = parse_denial("User is not authorized to perform: rds:ModifyDBInstance").unwrap();
        assert_eq!(d.action.as_deref(), Some("rds:ModifyDBInstance"));

        let d = parse_denial(
            "You are not authorized to perform this operation. Encoded authorization failure message: abc-_",
        )
        .unwrap();
        assert!(d.encoded);
        assert_eq!((d.action, d.resource), (None, None));

        let d = parse_denial("You are not authorized to perform this operation. User: arn:aws:iam::1:user/u is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:us-east-1:1:instance/* because no identity-based policy allows the ec2:RunInstances action. Encoded authorization failure message: xyz").unwrap();
        assert!(d.encoded);
        assert_eq!(
            d.resource.as_deref(),
            Some("arn:aws:ec2:us-east-1:1:instance/*")
        );

        assert_eq!(parse_denial("The bucket policy does not exist"), None);
        assert_eq!(parse_denial("Access Denied"), None);
    }
}
