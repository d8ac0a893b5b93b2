//! End to end with hostile log values: records planted with markup and control characters
//! go through ingest and `investigate --html`, and headless Chromium shows them as text
//! without running anything (the renderer's own tests cover the page in depth).

mod common;
use common::bt;
use predicates::prelude::*;

const PAYLOAD: &str = r#"<script>document.title='PWNED'</script></script><img src=x onerror="document.body.id='pwned'">"#;

fn record(id: &str, name: &str, ua: &str, params: &str, error: Option<&str>) -> serde_json::Value {
    let mut r = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEHOSTILE", "arn": "arn:aws:iam::111122223333:user/mallory",
            "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLEHOSTILE1", "userName": format!("mallory{PAYLOAD}")},
        "eventTime": "2024-03-01T10:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.66", "userAgent": ua,
        "requestParameters": serde_json::from_str::<serde_json::Value>(params).unwrap(),
        "responseElements": null, "requestID": "r", "eventID": id, "readOnly": true,
        "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    });
    if let Some(e) = error {
        r["errorCode"] = "AccessDenied".into();
        r["errorMessage"] = e.into();
    }
    r
}

#[test]
fn hostile_values_from_the_logs_stay_text_in_the_html_report() {
    let Some(chrome) = backtrail_testkit::chromium() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let ua = format!("{PAYLOAD}\u{1b}[2J\u{202e}javascript:alert(1)");
    let records = serde_json::json!({"Records": [
        record("h1", "ListBuckets", &ua, "{}", None),
        record("h2", "GetObject", &ua, &serde_json::json!({"bucketName": PAYLOAD, "key": "&lt;b&gt;x"}).to_string(),
            Some(&format!("User: arn:aws:iam::111122223333:user/mallory is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::{PAYLOAD} because no identity-based policy allows the s3:GetObject action"))),
    ]});
    std::fs::write(input.join("hostile.json"), records.to_string()).unwrap();
    let store = tmp.path().join("store");
    bt().args(["ingest", "--store"])
        .arg(&store)
        .arg(&input)
        .assert()
        .success();
    let html = tmp.path().join("report.html");
    bt().args(["investigate", "AKIAEXAMPLEHOSTILE1", "--store"])
        .arg(&store)
        .arg("--html")
        .arg(&html)
        .assert()
        .success()
        // The terminal report escapes the same values: no raw escape sequence reaches it.
        .stdout(predicates::str::contains("\u{1b}").not());
    let out = backtrail_testkit::headless_chromium(&chrome, &tmp.path().join("profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}", html.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("data-rendered=\"ok\""),
        "the page did not draw"
    );
    assert!(
        !dom.contains("PWNED") || !dom.contains("<title>PWNED"),
        "a planted script ran"
    );
    assert!(!dom.contains("id=\"pwned\""), "a planted handler ran");
    assert!(
        !dom.contains("<img src=\"x\""),
        "planted markup became an element"
    );
    // The planted text is on the page, escaped.
    assert!(
        dom.contains("&lt;script&gt;document.title='PWNED'&lt;/script&gt;"),
        "payload not shown as text"
    );
}

#[test]
fn the_hand_over_report_carries_no_session_token() {
    let fx = common::Fixture::new(20_000, 7);
    let html = fx.trail.join("report.html");
    common::bt()
        .args(["investigate", "--store"])
        .arg(&fx.store)
        .arg("--finding")
        .arg(fx.trail.join("findings/cross-account-role-chain.json"))
        .arg("--html")
        .arg(&html)
        .assert()
        .success();
    let report = std::fs::read_to_string(&html).unwrap();
    let out = common::bt()
        .args(["query", "--format", "json", "--store"])
        .arg(&fx.store)
        .arg(
            "SELECT json_get_str(response_elements, 'credentials', 'sessionToken') AS t \
             FROM events WHERE json_get_str(response_elements, 'credentials', 'sessionToken') IS NOT NULL",
        )
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out).unwrap();
    let tokens: Vec<String> = rows
        .iter()
        .map(|r| r["t"].as_str().unwrap().to_string())
        .collect();
    assert!(tokens.len() > 10);
    for t in &tokens {
        assert!(!report.contains(t.as_str()), "token {t} in the report");
    }
    // The chain's AssumeRole events are in the evidence, their tokens masked.
    assert!(
        report.contains("redacted: "),
        "no masked token in the evidence"
    );
}
