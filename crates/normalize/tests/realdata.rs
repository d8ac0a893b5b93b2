//! Every real capture in ../shared/realdata: records are read, kept and printed back as
//! AWS wrote them.

use backtrail_normalize::{FileOutcome, parse_file, to_json};

/// The records of a file as serde_json sees them (None when serde_json cannot read it).
fn reference_records(text: &str) -> Option<Vec<serde_json::Value>> {
    let v: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => {
            let mut out = Vec::new();
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                out.push(serde_json::from_str(l).ok()?);
            }
            return Some(out);
        }
    };
    Some(match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(ref o) if o.contains_key("Records") => {
            o["Records"].as_array()?.clone()
        }
        other => vec![other],
    })
}

#[test]
fn every_real_record_is_read_and_printed_back_unchanged() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    // The captures' own notes and helper scripts are not logs.
    let mut all: Vec<_> = backtrail_testkit::files_under(&root)
        .into_iter()
        .filter(|p| {
            !matches!(p.extension().and_then(|x| x.to_str()), Some("md" | "py"))
                && p.file_name().is_some_and(|n| n != "manifest.json")
        })
        .collect();
    all.sort();
    let (mut stored, mut rejected, mut compared) = (0, 0, 0);
    let mut problems = Vec::new();
    for path in &all {
        let raw = std::fs::read(path).unwrap();
        let pf = parse_file(&raw);
        stored += pf.events.len();
        rejected += pf.rejects.len();
        let text = String::from_utf8_lossy(&raw);
        let Some(reference) = reference_records(&text) else {
            continue;
        };
        if !matches!(pf.outcome, FileOutcome::Read(_)) {
            continue;
        }
        let reference: Vec<_> = reference
            .into_iter()
            .map(
                |r| match r.get("CloudTrailEvent").and_then(|c| c.as_str()) {
                    Some(inner) => serde_json::from_str(inner).unwrap(),
                    None => r,
                },
            )
            .collect();
        // Hand-edited fixtures without a usable eventTime are the only rejects expected.
        if pf.records_seen() as usize != reference.len()
            || pf
                .rejects
                .iter()
                .any(|r| !r.reason.contains("eventTime") && !r.reason.starts_with("not an event"))
        {
            problems.push(format!("{}: {:?}", path.display(), pf.rejects));
            continue;
        }
        let rejected_at: Vec<u64> = pf.rejects.iter().map(|r| r.index).collect();
        let kept = reference
            .iter()
            .enumerate()
            .filter(|(i, _)| !rejected_at.contains(&(*i as u64)))
            .map(|(_, r)| r);
        for (ev, want) in pf.events.iter().zip(kept) {
            let back: serde_json::Value = serde_json::from_str(&to_json(ev)).unwrap();
            let keys: Vec<&String> = want.as_object().unwrap().keys().collect();
            let back_keys: Vec<&String> = back.as_object().unwrap().keys().collect();
            if &back != want || keys != back_keys {
                problems.push(format!(
                    "{} {}: {back} != {want}",
                    path.display(),
                    ev.event_id
                ));
            }
            compared += 1;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The README's totals: 4,306 events; the one malformed file still gives its records.
    assert!(
        stored >= 4_270 && rejected < 30,
        "stored {stored}, rejected {rejected}"
    );
    assert!(compared > 4_000, "compared {compared}");
}

#[test]
fn malformed_real_file_keeps_its_records_and_says_why() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    let p =
        root.join("zmallen-cloudtrail2sightings/cloudtrail.zip/aws.execution.ec2-user-data.json");
    let pf = parse_file(&std::fs::read(p).unwrap());
    assert_eq!(pf.events.len(), 3, "{:?}", pf.rejects);
    assert!(pf.rejects.is_empty());
    assert!(
        pf.warnings
            .iter()
            .any(|w| w.message.contains("not separated by ','")),
        "{:?}",
        pf.warnings
    );
    // The Datadog reshaping moved the IP; the column still gets it.
    assert_eq!(pf.events[0].source_ip.as_deref(), Some("62.167.105.104"));
}

#[test]
fn lookup_events_rows_yield_the_embedded_event() {
    let Some(root) = backtrail_testkit::realdata() else {
        return;
    };
    let p = root.join("plaso/test_data/jsonl/aws_cloudtrail.jsonl");
    let pf = parse_file(&std::fs::read(p).unwrap());
    assert_eq!(pf.events.len(), 6, "{:?}", pf.rejects);
    assert!(pf.events.iter().all(|e| e.identity.arn.is_some() || e.event_type.as_deref() == Some("AwsServiceEvent")));
}
