//! The same answers on a Ballista cluster: a scheduler and two executors on 127.0.0.1,
//! each its own process, ingest a generated trail and answer every planted incident's
//! investigation with the JSON the embedded engine gives.
#![cfg(feature = "ballista")]

mod common;

use common::{bt, synth};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the cluster's processes when the test ends, however it ends.
struct Procs(Vec<Child>);

impl Drop for Procs {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spawn(args: &[&str], log: &Path) -> Child {
    let log = std::fs::File::create(log).unwrap();
    Command::new(assert_cmd::cargo::cargo_bin("backtrail"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

fn wait_for_port(port: u16) {
    let until = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Cluster {
    url: String,
    procs: Procs,
    logs: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let logs = dir.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let sched = free_port();
        let mut procs = Procs(vec![spawn(
            &["cluster", "scheduler", "--port", &sched.to_string()],
            &logs.join("scheduler.log"),
        )]);
        wait_for_port(sched);
        for i in 0..2 {
            let (flight, grpc) = (free_port(), free_port());
            let work = dir.join(format!("work{i}"));
            std::fs::create_dir_all(&work).unwrap();
            procs.0.push(spawn(
                &[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &format!("127.0.0.1:{sched}"),
                    "--port",
                    &flight.to_string(),
                    "--grpc-port",
                    &grpc.to_string(),
                    "--slots",
                    "2",
                    "--work-dir",
                    work.to_str().unwrap(),
                ],
                &logs.join(format!("executor{i}.log")),
            ));
            wait_for_port(flight);
        }
        // Executors register with the scheduler right after they listen.
        std::thread::sleep(Duration::from_secs(2));
        Cluster {
            url: format!("ballista://127.0.0.1:{sched}"),
            procs,
            logs,
        }
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for e in std::fs::read_dir(&self.logs).unwrap().flatten() {
            s += &format!("== {}\n", e.path().display());
            s += &std::fs::read_to_string(e.path()).unwrap_or_default();
        }
        s
    }
}

/// Starts a command on the cluster without waiting for it.
fn start_on(engine: &str, args: &[&str]) -> Child {
    Command::new(assert_cmd::cargo::cargo_bin("backtrail"))
        .args(args)
        .args(["--engine", engine])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// The child's output once it exits; a child still running after `limit` (long past the
/// scheduler's 30 s executor timeout, after which lost tasks are re-run) is killed and the
/// test fails: a query that neither answers nor fails is the one outcome not allowed.
fn wait_at_most(mut child: Child, limit: Duration) -> std::process::Output {
    let until = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > until {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "the query in flight when an executor died neither answered nor failed within \
                 {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    child.wait_with_output().unwrap()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn ingest(store: &Path, trail: &Path, engine: Option<&str>) -> serde_json::Value {
    let mut c = bt();
    c.args(["ingest", "--json", "--store"])
        .arg(store)
        .arg(trail);
    if let Some(e) = engine {
        c.args(["--engine", e]);
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn query(store: &Path, sql: &str, engine: Option<&str>) -> std::process::Output {
    let mut c = bt();
    c.args(["query", "--format", "json", "--store"])
        .arg(store)
        .arg(sql);
    if let Some(e) = engine {
        c.args(["--engine", e]);
    }
    c.output().unwrap()
}

const COUNT_SQL: &str = "SELECT count(*) AS n, count(DISTINCT event_id) AS ids, \
    sum(CASE WHEN error_code IS NULL THEN 0 ELSE 1 END) AS errors FROM events";

#[test]
fn cluster_gives_the_embedded_answers() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth(dir.path(), 30000, 11);
    // A re-delivered file (every event a duplicate, which must meet its original on one
    // writer) and a cut one (records rejected with reasons).
    let gz: Vec<PathBuf> = walk(&trail.join("AWSLogs"))
        .into_iter()
        .filter(|p| {
            p.to_string_lossy().ends_with(".json.gz") && !p.to_string_lossy().contains("Digest")
        })
        .collect();
    let first = &gz[0];
    std::fs::copy(
        first,
        first.with_file_name("redelivered_CloudTrail.json.gz"),
    )
    .unwrap();
    let bytes = std::fs::read(&gz[1]).unwrap();
    std::fs::write(
        gz[1].with_file_name("cut_CloudTrail.json.gz"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    let cluster = Cluster::start(dir.path());
    let local = dir.path().join("local");
    let remote = dir.path().join("remote");
    let logs = || cluster.logs();

    let a = ingest(&local, &trail.join("AWSLogs"), None);
    let b = ingest(&remote, &trail.join("AWSLogs"), Some(&cluster.url));
    for k in [
        "files_seen",
        "files_read",
        "files_skipped",
        "files_rejected",
        "records_seen",
        "stored",
        "duplicates",
        "rejected",
    ] {
        assert_eq!(a[k], b[k], "{k} differs\n{}", logs());
    }
    assert!(b["duplicates"].as_u64().unwrap() > 0);
    assert!(!b["rejects"].as_array().unwrap().is_empty());
    assert_eq!(a["rejects"], b["rejects"]);
    assert!(b["stored"].as_u64().unwrap() > 29_000);

    // Idempotent: a second cluster ingest finds nothing new.
    let again = ingest(&remote, &trail.join("AWSLogs"), Some(&cluster.url));
    assert_eq!(again["stored"], 0);
    assert_eq!(again["files_unchanged"], b["files_seen"]);

    let embedded = query(&local, COUNT_SQL, None);
    let on_cluster = query(&remote, COUNT_SQL, Some(&cluster.url));
    assert!(
        on_cluster.status.success(),
        "{}",
        String::from_utf8_lossy(&on_cluster.stderr)
    );
    assert_eq!(embedded.stdout, on_cluster.stdout);

    let mut findings: Vec<PathBuf> = std::fs::read_dir(trail.join("findings"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    findings.sort();
    assert!(findings.len() >= 7);
    // The same JSON from every report command, on each engine's own store.
    let same = |args: &[&str]| {
        let run = |store: &Path, engine: Option<&str>| {
            let mut c = bt();
            c.args(args).arg("--store").arg(store);
            if let Some(e) = engine {
                c.args(["--engine", e]);
            }
            c.output().unwrap()
        };
        let want = run(&local, None);
        let got = run(&remote, Some(&cluster.url));
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        assert!(want.status.success(), "{args:?}: {}", text(&want.stderr));
        assert!(
            got.status.success(),
            "{args:?}: {}\n{}",
            text(&got.stderr),
            logs()
        );
        assert_eq!(text(&want.stdout), text(&got.stdout), "{args:?}");
    };
    for f in &findings {
        for command in ["investigate", "who"] {
            same(&[command, "--format", "json", "--finding", path(f)]);
        }
    }
    same(&["sessions", "--format", "json", "--limit", "500"]);

    // Real captures (every shape, malformed files, re-delivered events) give the same
    // accounting and the same tables through the cluster.
    if let Some(real) = backtrail_testkit::realdata() {
        let (rl, rr) = (
            dir.path().join("real-local"),
            dir.path().join("real-remote"),
        );
        let a = ingest(&rl, &real, None);
        let b = ingest(&rr, &real, Some(&cluster.url));
        for k in [
            "files_read",
            "files_skipped",
            "files_rejected",
            "records_seen",
            "stored",
        ] {
            assert_eq!(a[k], b[k], "realdata {k}");
        }
        assert_eq!(
            (a["duplicates"].clone(), a["rejected"].clone()),
            (b["duplicates"].clone(), b["rejected"].clone())
        );
        let sorted = |v: &serde_json::Value| {
            let mut r: Vec<String> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.to_string())
                .collect();
            r.sort();
            r
        };
        assert_eq!(sorted(&a["rejects"]), sorted(&b["rejects"]));
        for sql in [
            "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events",
            "SELECT * FROM sessions ORDER BY access_key_id, arn, creation_date",
            "SELECT event_id, issued_access_key_id, issued_arn FROM issuances ORDER BY 1, 2, 3",
        ] {
            let want = query(&rl, sql, None);
            let got = query(&rr, sql, Some(&cluster.url));
            assert!(
                got.status.success(),
                "{}",
                String::from_utf8_lossy(&got.stderr)
            );
            assert_eq!(want.stdout, got.stdout, "realdata: {sql}");
        }
    }

    // One executor dies while a query runs: the answer is right or the error is clear.
    let mut procs = cluster.procs;
    let sql = "SELECT event_name, count(*) AS n FROM events GROUP BY event_name ORDER BY n DESC, event_name";
    let want = query(&local, sql, None);
    let running = start_on(
        &cluster.url,
        &["query", "--format", "json", "--store", path(&remote), sql],
    );
    std::thread::sleep(Duration::from_millis(150));
    procs.0[2].kill().unwrap();
    let out = wait_at_most(running, Duration::from_secs(180));
    if out.status.success() {
        assert_eq!(
            out.stdout, want.stdout,
            "a wrong answer after losing an executor"
        );
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error"), "unclear failure: {err}");
    }
    // The cluster carries on with the executor it has left.
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let out = query(&remote, sql, Some(&cluster.url));
        if out.status.success() {
            assert_eq!(out.stdout, want.stdout);
            break;
        }
        assert!(
            Instant::now() < until,
            "the cluster did not recover: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_secs(2));
    }
    drop(procs);
}

#[test]
fn engine_without_cluster_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth(dir.path(), 1_000, 3);
    let store = dir.path().join("store");
    ingest(&store, &trail.join("AWSLogs"), None);
    let nobody = format!("ballista://127.0.0.1:{}", free_port());
    let out = query(&store, "SELECT count(*) FROM events", Some(&nobody));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("error"), "{err}");
    let out = query(
        &store,
        "SELECT count(*) FROM events",
        Some("ballista://nohost"),
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn losing_an_executor_during_ingest_loses_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let trail = synth(dir.path(), 40000, 5);
    let local = dir.path().join("local");
    let want = ingest(&local, &trail.join("AWSLogs"), None);
    let cluster = Cluster::start(dir.path());
    let mut procs = cluster.procs;
    let remote = dir.path().join("remote");
    let logs_dir = trail.join("AWSLogs");
    let running = start_on(
        &cluster.url,
        &[
            "ingest",
            "--json",
            "--store",
            path(&remote),
            path(&logs_dir),
        ],
    );
    std::thread::sleep(Duration::from_millis(1500));
    procs.0[1].kill().unwrap();
    let first = running.wait_with_output().unwrap();
    // Whatever the first attempt did (finished on the survivor, or failed and committed
    // nothing), ingesting again completes the store, and every record is there once.
    let second = ingest(&remote, &trail.join("AWSLogs"), Some(&cluster.url));
    let stored = |v: &serde_json::Value| v["stored"].as_u64().unwrap();
    let total = if first.status.success() {
        let first: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
        assert_eq!(first["duplicates"], want["duplicates"]);
        stored(&first) + stored(&second)
    } else {
        stored(&second)
    };
    assert_eq!(total, stored(&want));
    let sql = "SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events";
    assert_eq!(
        query(&remote, sql, None).stdout,
        query(&local, sql, None).stdout
    );
    drop(procs);
}
