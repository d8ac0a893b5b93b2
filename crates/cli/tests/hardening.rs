//! What a hostile or careless user can do with the binary: `query` only reads, CSV and
//! terminal messages are inert whatever the logs or the arguments hold, and bad arguments
//! are usage errors, checked before any work.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use backtrail_model::text::acts;
use common::bt;

/// The access key of the planted session.
const KEY: &str = "ASIAHOSTILE000000001";

/// CloudTrail records whose values attack a terminal and a spreadsheet: escape sequences,
/// BEL, a C1 control, a bidirectional override, and cells that start formulas.
fn hostile_records() -> String {
    let record = |id: &str, name: &str, source: &str, agent: &str| {
        serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": "AROAHOSTILE000000001:\u{1b}]0;pwned\u{7}",
                "arn": "arn:aws:sts::111122223333:assumed-role/ops/\u{1b}[2J\u{202e}sess",
                "accountId": "111122223333",
                "accessKeyId": KEY,
                "sessionContext": {
                    "sessionIssuer": {
                        "type": "Role",
                        "principalId": "AROAHOSTILE000000001",
                        "arn": "arn:aws:iam::111122223333:role/ops",
                        "accountId": "111122223333",
                        "userName": "ops"
                    },
                    "attributes": {
                        "creationDate": "2026-10-01T10:00:00Z",
                        "mfaAuthenticated": "false"
                    }
                }
            },
            "eventTime": "2026-10-01T10:05:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.7",
            "userAgent": agent,
            "requestParameters": null,
            "responseElements": null,
            "requestID": format!("req-{id}"),
            "eventID": id,
            "readOnly": true,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": "111122223333",
            "eventCategory": "Management"
        })
    };
    serde_json::json!({"Records": [
        record(
            "00000000-0000-4000-8000-000000000001",
            "=HYPERLINK(\"http://evil.example/\",\"x\")",
            "+sts.amazonaws.com",
            "-2+3+cmd|' /C calc'!A0",
        ),
        record(
            "00000000-0000-4000-8000-000000000002",
            "@SUM(1+1)\u{7}",
            "\u{1b}[31ms3.amazonaws.com\u{85}",
            "\tTAB\u{202e}",
        ),
    ]})
    .to_string()
}

struct Hostile {
    dir: tempfile::TempDir,
    store: PathBuf,
}

/// The hostile records ingested into a store shared by the tests of this file.
fn hostile() -> &'static Hostile {
    static H: OnceLock<Hostile> = OnceLock::new();
    H.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::write(logs.join("hostile.json"), hostile_records()).unwrap();
        let store = dir.path().join("store");
        bt().args(["ingest", "--store"])
            .arg(&store)
            .arg(&logs)
            .assert()
            .success();
        Hostile { dir, store }
    })
}

/// Runs `query` and returns (exit code, stdout, stderr).
fn query(store: &Path, sql: &str, format: &str) -> (i32, String, String) {
    let out = bt()
        .args(["query", "--format", format, "--store"])
        .arg(store)
        .arg(sql)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn query_refuses_every_statement_that_is_not_a_query() {
    let h = hostile();
    let store = &h.store;
    let victim = h.dir.path().join("victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let manifest = store.join("manifest.json");
    let manifest_before = std::fs::read(&manifest).unwrap();
    let created = h.dir.path().join("created.csv");
    let p = |p: &Path| p.display().to_string();
    let refused = [
        format!(
            "COPY (SELECT 'owned' AS a) TO '{}' STORED AS CSV",
            p(&victim)
        ),
        format!(
            "COPY (SELECT 'owned' AS a) TO '{}' STORED AS CSV",
            p(&manifest)
        ),
        format!("COPY events TO '{}' STORED AS CSV", p(&created)),
        format!(
            "EXPLAIN ANALYZE COPY (SELECT 1 AS a) TO '{}' STORED AS CSV",
            p(&created)
        ),
        "CREATE EXTERNAL TABLE pw (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".into(),
        "DROP TABLE events".into(),
        "CREATE TABLE t (a INT)".into(),
        "CREATE TABLE t AS SELECT * FROM events".into(),
        "CREATE VIEW v AS SELECT 1".into(),
        "CREATE SCHEMA s".into(),
        "INSERT INTO events SELECT * FROM events".into(),
        "DELETE FROM events".into(),
        "SET datafusion.execution.batch_size = 1".into(),
        "PREPARE p AS SELECT 1".into(),
        "EXPLAIN CREATE TABLE t (a INT)".into(),
    ];
    for sql in &refused {
        let (code, stdout, stderr) = query(store, sql, "jsonl");
        assert_eq!(code, 4, "{sql}: {stderr}");
        assert!(stderr.contains("query is read-only"), "{sql}: {stderr}");
        assert!(stdout.is_empty(), "{sql}: {stdout}");
    }
    // Files outside the store can neither be read as tables nor be named by a function; what
    // DataFusion cannot plan at all is rejected too.
    for sql in [
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT 1; DROP TABLE events",
        "BEGIN TRANSACTION",
    ] {
        let (code, _, stderr) = query(store, sql, "jsonl");
        assert_eq!(code, 4, "{sql}: {stderr}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert_eq!(std::fs::read(&manifest).unwrap(), manifest_before);
    assert!(!created.exists());
    // Reading still works, in every form a query may take.
    for sql in [
        "SELECT count(*) AS n FROM events",
        "WITH e AS (SELECT event_id FROM events) SELECT count(*) AS n FROM e",
        "EXPLAIN SELECT * FROM sessions",
        "DESCRIBE events",
        "SHOW TABLES",
        "SHOW COLUMNS FROM issuances",
        "SELECT * FROM generate_series(1, 3)",
    ] {
        let (code, stdout, stderr) = query(store, sql, "jsonl");
        assert_eq!(code, 0, "{sql}: {stderr}");
        assert!(!stdout.is_empty(), "{sql}");
    }
    let (_, n, _) = query(store, "SELECT count(*) AS n FROM events", "jsonl");
    assert_eq!(n.trim(), r#"{"n":2}"#);
}

/// `--engine ballista://` plans on the client, through the same check: refused before the
/// cluster is even contacted (none listens at the address).
#[cfg(feature = "ballista")]
#[test]
fn query_on_a_cluster_is_read_only_too() {
    let h = hostile();
    let victim = h.dir.path().join("cluster-victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for sql in [
        format!(
            "COPY (SELECT 'owned' AS a) TO '{}' STORED AS CSV",
            victim.display()
        ),
        "CREATE EXTERNAL TABLE pw (line VARCHAR) STORED AS CSV LOCATION '/etc/passwd'".into(),
        "SET datafusion.execution.batch_size = 1".into(),
    ] {
        bt().args(["query", "--engine", &format!("ballista://127.0.0.1:{port}")])
            .arg("--store")
            .arg(&h.store)
            .arg(&sql)
            .assert()
            .code(4)
            .stderr(predicates::str::contains("query is read-only"));
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}

/// The fields of a CSV text, every one of which must be quoted.
fn csv_fields(text: &str) -> Vec<String> {
    let mut fields = Vec::new();
    for line in text.lines() {
        let mut chars = line.chars().peekable();
        loop {
            assert_eq!(chars.next(), Some('"'), "unquoted field in {line:?}");
            let mut f = String::new();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        f.push('"');
                    }
                    Some('"') => break,
                    Some(c) => f.push(c),
                    None => panic!("unterminated field in {line:?}"),
                }
            }
            fields.push(f);
            match chars.next() {
                Some(',') => continue,
                None => break,
                Some(c) => panic!("{c:?} after a field in {line:?}"),
            }
        }
    }
    fields
}

/// No character of `text` acts on a terminal but line ends, and no field but a number
/// starts a formula.
fn assert_inert_csv(text: &str) {
    assert!(
        !text.chars().any(|c| c != '\n' && acts(c)),
        "raw control character in {text:?}"
    );
    for f in csv_fields(text) {
        if f.parse::<f64>().is_ok() {
            continue;
        }
        assert!(
            !f.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "formula {f:?} in {text}"
        );
    }
}

#[test]
fn query_csv_is_inert_in_a_terminal_and_a_spreadsheet() {
    let h = hostile();
    let (code, csv, stderr) = query(
        &h.store,
        "SELECT event_name, event_source, user_agent, arn, principal_id, -5 AS n \
         FROM events ORDER BY event_id",
        "csv",
    );
    assert_eq!(code, 0, "{stderr}");
    assert_inert_csv(&csv);
    assert!(
        csv.contains(r#""'=HYPERLINK(""http://evil.example/"",""x"")""#),
        "{csv}"
    );
    assert!(csv.contains(r#""'+sts.amazonaws.com""#), "{csv}");
    assert!(csv.contains(r#""'-2+3+cmd|' /C calc'!A0""#), "{csv}");
    assert!(csv.contains(r#""'@SUM(1+1)\u{7}""#), "{csv}");
    assert!(
        csv.contains(r#""\u{1b}[31ms3.amazonaws.com\u{85}""#),
        "{csv}"
    );
    assert!(csv.contains(r#""'\u{9}TAB\u{202e}""#), "{csv}");
    // Numbers stay numbers: a negative number is not a formula.
    assert!(csv.contains(r#","-5""#), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
}

#[test]
fn report_csv_is_inert_in_a_terminal_and_a_spreadsheet() {
    let h = hostile();
    for command in ["what", "investigate"] {
        let out = bt()
            .args([command, KEY, "--format", "csv", "--store"])
            .arg(&h.store)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let csv = String::from_utf8(out).unwrap();
        assert_inert_csv(&csv);
        assert!(
            csv.contains(r#""'=HYPERLINK(""http://evil.example/"",""x"")""#),
            "{command}: {csv}"
        );
        assert!(csv.contains("[2J\\u{202e}sess"), "{command}: {csv}");
    }
}

/// stderr of a failed run: no character in it acts on a terminal.
fn assert_inert_stderr(out: &std::process::Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert!(
        !err.chars().any(|c| c != '\n' && acts(c)),
        "raw control character in {err:?}"
    );
    err
}

#[test]
fn messages_echo_subjects_and_arguments_inert() {
    let h = hostile();
    // A subject given on the command line.
    let out = bt()
        .args([
            "who",
            "AKIA\u{1b}[2J\u{1b}]0;pwned\u{7}\u{202e}x",
            "--store",
        ])
        .arg(&h.store)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = assert_inert_stderr(&out);
    assert!(err.contains("AKIA\\u{1b}[2J"), "{err}");
    // A subject read from a finding.
    let finding = h.dir.path().join("finding.json");
    std::fs::write(
        &finding,
        serde_json::json!({
            "type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            "resource": {"accessKeyDetails": {"accessKeyId": "ASIA\u{1b}[2J\u{9b}31m\u{202e}"}}
        })
        .to_string(),
    )
    .unwrap();
    for command in ["who", "investigate"] {
        let out = bt()
            .args([command, "--store"])
            .arg(&h.store)
            .arg("--finding")
            .arg(&finding)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5), "{command}");
        let err = assert_inert_stderr(&out);
        assert!(err.contains("ASIA\\u{1b}[2J\\u{9b}31m"), "{command}: {err}");
    }
    // An argument clap rejects, and SQL the engine rejects, are echoed too.
    // (clap's plain rendering drops escape sequences; what is left is shown escaped).
    let out = bt()
        .args(["who", KEY, "--format", "\u{1b}[2J\u{7}\u{202e}text\u{85}"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(assert_inert_stderr(&out).contains("\\u{202e}text\\u{85}"));
    let out = bt()
        .args(["query", "--store"])
        .arg(&h.store)
        .arg("SELECT \"\u{1b}[2J\u{7}\" FROM events")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(assert_inert_stderr(&out).contains("\\u{1b}[2J"));
}

#[test]
fn thread_counts_beyond_the_bound_are_usage_errors() {
    let h = hostile();
    for n in ["100000", "257", "lots"] {
        bt().args(["ingest", "--threads", n, "--store"])
            .arg(&h.store)
            .arg(h.dir.path().join("logs"))
            .assert()
            .code(2)
            .stderr(predicates::str::contains("256"));
    }
    bt().args(["bench-floor", "--threads", "100000"])
        .arg(h.dir.path().join("logs"))
        .assert()
        .code(2);
}

#[test]
fn an_unwritable_html_path_fails_before_the_report_is_printed() {
    let h = hostile();
    let not_a_dir = h.dir.path().join("plain-file");
    std::fs::write(&not_a_dir, "x").unwrap();
    for target in [not_a_dir.join("report.html"), h.dir.path().to_path_buf()] {
        let out = bt()
            .args(["investigate", KEY, "--store"])
            .arg(&h.store)
            .arg("--html")
            .arg(&target)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", target.display());
        assert!(out.stdout.is_empty(), "the report was printed");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("cannot write the report"), "{err}");
    }
    // A writable path gets the report.
    let ok = h.dir.path().join("report.html");
    bt().args(["investigate", KEY, "--store"])
        .arg(&h.store)
        .arg("--html")
        .arg(&ok)
        .assert()
        .success();
    assert!(std::fs::read_to_string(&ok).unwrap().contains("<html"));
}
