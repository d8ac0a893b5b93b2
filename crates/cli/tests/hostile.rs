//! A hostile corpus ingested beside valid files: gzip bombs, a string over the record cap,
//! 10,000 levels of nesting, a symbolic link loop, a dangling link, a FIFO and a file that
//! cannot be read. Every valid record is stored, every bad one accounted for with its reason,
//! the ingest exits 0, and its peak memory (the child's maximum resident set, from
//! `getrusage`) stays under 512 MiB with the default threads.

use assert_cmd::cargo::CommandCargoExt;
use std::io::Write;
use std::path::Path;
use std::process::Command;

const GOOD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAEXAMPLE","userName":"alice"},"eventTime":"2026-10-01T12:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.7","userAgent":"aws-cli/2.15","requestParameters":null,"responseElements":null,"requestID":"0f4d4c4e","eventID":"ID","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management"}"#;

/// Bytes of whitespace or zeros in each bomb: far over the 16 MiB window, 128 KiB gzipped.
const BOMB: usize = 128 << 20;

fn good(tag: &str, i: usize) -> String {
    GOOD.replace("\"ID\"", &format!("\"{tag}-{i:07}\""))
}

fn bt() -> Command {
    let mut c = Command::cargo_bin("backtrail").unwrap();
    c.env_remove("BACKTRAIL_STORE").env("NO_COLOR", "1");
    c
}

/// Writes a gzip file from pieces, without holding the content.
fn gz(path: &Path, write: impl FnOnce(&mut dyn Write)) {
    let f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut e = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
    write(&mut e);
    e.finish().unwrap().flush().unwrap();
}

fn repeat(w: &mut dyn Write, byte: u8, n: usize) {
    let block = vec![byte; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        w.write_all(&block[..k]).unwrap();
        left -= k;
    }
}

fn records(tag: &str, n: usize) -> String {
    let recs: Vec<String> = (0..n).map(|i| good(tag, i)).collect();
    format!("{{\"Records\":[{}]}}", recs.join(","))
}

/// The peak resident memory the binary reported at exit (`BACKTRAIL_IO_STATS`), in bytes.
fn peak_rss(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("io: peak_rss_kib="))
        .and_then(|k| k.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no peak memory reported: {stderr}"))
        * 1024
}

/// Builds the corpus; returns (valid records in it, records that must be rejected).
fn corpus(dir: &Path) -> (u64, u64) {
    let valid = dir.join("valid");
    std::fs::create_dir_all(&valid).unwrap();
    std::fs::write(valid.join("a.json"), records("a", 200)).unwrap();
    gz(&valid.join("b.json.gz"), |w| {
        w.write_all(records("b", 200).as_bytes()).unwrap()
    });
    // One legitimate file larger than the window: read a batch at a time.
    const BIG: usize = 60_000;
    gz(&valid.join("big.jsonl.gz"), |w| {
        for i in 0..BIG {
            writeln!(w, "{}", good("big", i)).unwrap();
        }
    });

    let bombs = dir.join("bombs");
    std::fs::create_dir_all(&bombs).unwrap();
    gz(&bombs.join("zeros.json.gz"), |w| repeat(w, 0, BOMB));
    gz(&bombs.join("spaces.json.gz"), |w| repeat(w, b' ', BOMB));
    gz(&bombs.join("records-in-spaces.json.gz"), |w| {
        write!(w, "{{\"Records\":[{},", good("s", 0)).unwrap();
        repeat(w, b' ', BOMB);
        write!(w, "{}]}}", good("s", 1)).unwrap();
    });
    // A field decompressing to a string over the record cap (16 MiB): rejected, not held.
    gz(&bombs.join("huge-string.json.gz"), |w| {
        write!(w, "{{\"Records\":[{},", good("h", 0)).unwrap();
        let huge = good("h", 9);
        let (head, tail) = huge.split_once("\"requestParameters\":null").unwrap();
        write!(w, "{head}\"requestParameters\":{{\"policy\":\"").unwrap();
        repeat(w, b'A', 24 << 20);
        write!(w, "\"}}{tail},{}]}}", good("h", 1)).unwrap();
    });
    // 10,000 levels of nesting in requestParameters.
    let deep = good("d", 9).replace(
        "\"requestParameters\":null",
        &format!(
            "\"requestParameters\":{}1{}",
            "{\"a\":".repeat(10_000),
            "}".repeat(10_000)
        ),
    );
    std::fs::write(
        dir.join("deep.json"),
        format!("{{\"Records\":[{},{deep},{}]}}", good("d", 0), good("d", 1)),
    )
    .unwrap();

    let odd = dir.join("odd");
    std::fs::create_dir_all(&odd).unwrap();
    std::os::unix::fs::symlink("..", odd.join("loop")).unwrap();
    std::os::unix::fs::symlink(dir.join("gone.json"), odd.join("dangling.json")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(odd.join("fifo.json"))
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    // Opens, but every read fails (EIO): a file that cannot be read, even by root.
    std::os::unix::fs::symlink("/proc/self/mem", odd.join("mem.json")).unwrap();

    let valid_records = 200 + 200 + BIG as u64 + 2 + 2 + 2;
    (valid_records, 2)
}

fn ingest(store: &Path, corpus: &Path) -> (serde_json::Value, String) {
    let out = bt()
        .env("BACKTRAIL_IO_STATS", "1")
        .args(["ingest", "--json", "--store"])
        .arg(store)
        .arg(corpus)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    (serde_json::from_slice(&out.stdout).unwrap(), stderr)
}

fn n(s: &serde_json::Value, k: &str) -> u64 {
    s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"))
}

fn reason_of<'a>(s: &'a serde_json::Value, list: &str, file_end: &str) -> &'a str {
    s[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with(file_end))
        .and_then(|r| r["reason"].as_str())
        .unwrap_or_else(|| panic!("no {list} entry for {file_end}: {s}"))
}

#[test]
fn a_hostile_corpus_beside_valid_files_costs_only_the_bad_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let (valid, bad) = corpus(&dir);
    // A directory that cannot be listed: only possible when not root (root reads anyway).
    let root = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&dir).unwrap().uid() == 0
    };
    let locked = dir.join("locked");
    if root {
        eprintln!("notice: running as root; the unreadable-directory case is not built");
    } else {
        std::fs::create_dir_all(&locked).unwrap();
        std::fs::write(locked.join("x.json"), records("x", 1)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let store = tmp.path().join("store");

    let (s, stderr) = ingest(&store, &dir);
    let peak = peak_rss(&stderr);
    assert!(peak < 512 << 20, "peak memory {} MiB", peak >> 20);
    eprintln!("hostile corpus: peak memory {} MiB", peak >> 20);

    assert_eq!(n(&s, "stored"), valid, "{s}");
    assert_eq!(n(&s, "duplicates"), 0);
    assert_eq!(n(&s, "rejected"), bad, "{s}");
    assert_eq!(
        n(&s, "records_seen"),
        n(&s, "stored") + n(&s, "duplicates") + n(&s, "rejected")
    );
    assert_eq!(
        n(&s, "files_seen"),
        n(&s, "files_read")
            + n(&s, "files_skipped")
            + n(&s, "files_rejected")
            + n(&s, "files_unchanged"),
        "{s}"
    );
    // valid 3, bombs 4, deep 1; the loop, the FIFO and the zeros are skipped; the spaces,
    // the dangling link and the unreadable file are rejected (and the locked directory).
    assert_eq!(n(&s, "files_read"), 6, "{s}");
    assert_eq!(n(&s, "files_skipped"), 3, "{s}");
    assert_eq!(n(&s, "files_rejected"), 3 + u64::from(!root), "{s}");
    assert!(reason_of(&s, "rejects", "huge-string.json.gz").contains("over the cap"));
    assert!(reason_of(&s, "rejects", "deep.json").contains("nested more than 128"));
    assert!(reason_of(&s, "rejects", "spaces.json.gz").contains("empty file"));
    assert!(reason_of(&s, "rejects", "dangling.json").contains("dangling"));
    assert!(reason_of(&s, "rejects", "mem.json").contains("unreadable"));
    assert!(reason_of(&s, "skipped", "zeros.json.gz").contains("not JSON"));
    assert!(reason_of(&s, "skipped", "loop").contains("loop"));
    assert!(reason_of(&s, "skipped", "fifo.json").contains("not a regular file"));
    if !root {
        assert!(reason_of(&s, "rejects", "locked").contains("unreadable"));
    }

    // Every valid record is in the store, once.
    let out = bt()
        .args(["query", "--format", "json", "--store"])
        .arg(&store)
        .arg("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((n(&v[0], "n"), n(&v[0], "d")), (valid, valid));

    // Again: what was read is unchanged; the file that could not be read is tried again.
    let (again, _) = ingest(&store, &dir);
    assert_eq!(n(&again, "stored"), 0, "{again}");
    assert!(reason_of(&again, "rejects", "mem.json").contains("unreadable"));
    assert_eq!(n(&again, "files_unchanged"), 8, "{again}");

    if !root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}
