//! Small hand-made CloudTrail records, parsed the way ingest parses them.

use backtrail_model::MemoryLookup;
use backtrail_normalize::{SessionAggregator, issuance_of, parse_file};
use serde_json::{Value, json};

/// A lookup over `records`, with issuances and sessions derived as at ingest.
pub(crate) fn lookup(records: &[Value]) -> MemoryLookup {
    let text = json!({ "Records": records }).to_string();
    let pf = parse_file(text.as_bytes());
    assert!(pf.rejects.is_empty(), "{:?}", pf.rejects);
    let issuances = pf.events.iter().filter_map(issuance_of).collect();
    let mut agg = SessionAggregator::default();
    for e in &pf.events {
        agg.add(e);
    }
    MemoryLookup::new(pf.events, issuances, agg.finish())
}

/// An IAM user identity signing with `key` (None: a console sign-in record).
pub(crate) fn user(account: &str, name: &str, key: Option<&str>) -> Value {
    let mut v = json!({
        "type": "IAMUser",
        "principalId": format!("AIDA{}", name.to_uppercase().replace(['-', '_'], "")),
        "arn": format!("arn:aws:iam::{account}:user/{name}"),
        "accountId": account,
        "userName": name,
    });
    if let Some(k) = key {
        v["accessKeyId"] = json!(k);
    }
    v
}

/// An IAM user's console session (console-minted `key`, creationDate = sign-in time).
pub(crate) fn user_console(account: &str, name: &str, key: &str, created: &str) -> Value {
    let mut v = user(account, name, Some(key));
    v["sessionContext"] =
        json!({"attributes": {"creationDate": created, "mfaAuthenticated": "false"}});
    v
}

/// A role session identity.
pub(crate) fn role_session(
    account: &str,
    role: &str,
    session: &str,
    key: Option<&str>,
    created: &str,
) -> Value {
    let mut v = json!({
        "type": "AssumedRole",
        "principalId": format!("AROA{}:{session}", role.to_uppercase().replace(['-', '_'], "")),
        "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"),
        "accountId": account,
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "arn": format!("arn:aws:iam::{account}:role/{role}"),
                "accountId": account,
                "userName": role
            },
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"}
        }
    });
    if let Some(k) = key {
        v["accessKeyId"] = json!(k);
    }
    v
}

/// A plain API call by `identity` (recipient = the identity's account).
pub(crate) fn call(id: &str, time: &str, identity: Value, name: &str, ip: &str) -> Value {
    let account = identity["accountId"]
        .as_str()
        .unwrap_or("111111111111")
        .to_string();
    json!({
        "eventVersion": "1.08",
        "eventID": id,
        "eventTime": time,
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": ip,
        "userAgent": "aws-cli/2.15.0",
        "userIdentity": identity,
        "requestParameters": null,
        "responseElements": null,
        "eventType": "AwsApiCall",
        "recipientAccountId": account
    })
}

/// An AssumeRole by `caller` of `role_arn` as `session`, returning `key`.
pub(crate) fn assume_role(
    id: &str,
    time: &str,
    caller: Value,
    role_arn: &str,
    session: &str,
    key: &str,
) -> Value {
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let role = role_arn.rsplit('/').next().unwrap_or_default();
    let mut v = call(id, time, caller, "AssumeRole", "198.51.100.7");
    v["eventSource"] = json!("sts.amazonaws.com");
    v["recipientAccountId"] = json!(account);
    v["requestParameters"] = json!({"roleArn": role_arn, "roleSessionName": session});
    v["responseElements"] = json!({
        "credentials": {"accessKeyId": key, "expiration": "Jan 1, 2030, 12:00:00 AM"},
        "assumedRoleUser": {
            "assumedRoleId": format!("AROA{}:{session}", role.to_uppercase().replace(['-', '_'], "")),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
        }
    });
    v
}

/// A successful console sign-in of `identity`.
pub(crate) fn console_login(id: &str, time: &str, identity: Value) -> Value {
    let mut v = call(id, time, identity, "ConsoleLogin", "203.0.113.9");
    v["eventSource"] = json!("signin.amazonaws.com");
    v["eventType"] = json!("AwsConsoleSignIn");
    v["responseElements"] = json!({"ConsoleLogin": "Success"});
    v["additionalEventData"] =
        json!({"MFAUsed": "No", "LoginTo": "https://console.aws.amazon.com/"});
    v
}
