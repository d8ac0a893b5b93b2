//! Property tests: hostile input never panics or hangs the parser, and every record that
//! goes in is accounted for. The coverage-guided twin is `fuzz/fuzz_targets/parse_file.rs`.

use backtrail_normalize::{
    FileOutcome, Limits, MAX_DEPTH, MAX_FIELD_BYTES, MAX_RECORD_BYTES, parse_file,
    parse_stream_with, to_json,
};
use proptest::prelude::*;

const GOOD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDA","arn":"arn:aws:iam::1:user/a","accountId":"1","accessKeyId":"AKIA1"},"eventTime":"2024-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","eventName":"ListBuckets","awsRegion":"us-east-1","sourceIPAddress":"1.2.3.4","userAgent":"x","requestParameters":null,"responseElements":null,"eventID":"ID","readOnly":true,"eventType":"AwsApiCall","recipientAccountId":"1"}"#;

fn records(n: usize) -> String {
    let recs: Vec<String> = (0..n)
        .map(|i| GOOD.replace("\"ID\"", &format!("\"id-{i}\"")))
        .collect();
    format!("{{\"Records\":[{}]}}", recs.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let pf = parse_file(&data);
        for ev in &pf.events {
            let _ = to_json(ev);
        }
    }

    #[test]
    fn json_like_noise_never_panics(s in r#"[\[\]{}",:\\ a-z0-9\n]{0,400}"#) {
        let _ = parse_file(s.as_bytes());
    }

    #[test]
    fn cutting_a_file_anywhere_keeps_the_records_before_the_cut(n in 1usize..20, cut in 0.0f64..1.0) {
        let text = records(n);
        let at = (text.len() as f64 * cut) as usize;
        let pf = parse_file(&text.as_bytes()[..at]);
        // Every complete record before the cut is stored; at most one partial one is rejected.
        let complete = text[..at].matches("\"recipientAccountId\":\"1\"}").count();
        prop_assert_eq!(pf.events.len(), complete);
        prop_assert!(pf.rejects.len() <= 1);
        if let FileOutcome::Read(_) = pf.outcome {
            prop_assert_eq!(pf.records_seen() as usize, complete + pf.rejects.len());
        }
    }

    #[test]
    fn flipping_one_byte_never_panics_or_invents_records(n in 2usize..10, pos in 0usize..10_000, byte in any::<u8>()) {
        let mut bytes = records(n).into_bytes();
        let p = pos % bytes.len();
        bytes[p] = byte;
        let pf = parse_file(&bytes);
        prop_assert!(pf.events.len() <= n);
        // A damaged quote can swallow the rest of the file, but the damage is reported.
        if pf.events.len() < n && matches!(pf.outcome, FileOutcome::Read(_)) {
            prop_assert!(!pf.rejects.is_empty() || !pf.warnings.is_empty());
        }
    }
}

/// A record whose requestParameters nests `levels` objects and arrays (alternating).
fn nested(levels: usize) -> String {
    let open: String = (0..levels)
        .map(|i| if i % 2 == 0 { "{\"a\":" } else { "[" })
        .collect();
    let close: String = (0..levels)
        .rev()
        .map(|i| if i % 2 == 0 { "}" } else { "]" })
        .collect();
    GOOD.replace(
        "\"requestParameters\":null",
        &format!("\"requestParameters\":{open}1{close}"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// The record is level 1 and requestParameters level 2: up to MAX_DEPTH - 1 levels in
    /// it are stored; one more is rejected with its reason, whatever the depth.
    #[test]
    fn nesting_is_stored_up_to_the_cap_and_rejected_beyond(levels in 0usize..400) {
        let text = format!("{{\"Records\":[{},{}]}}", nested(levels), GOOD.replace("\"ID\"", "\"other\""));
        let pf = parse_file(text.as_bytes());
        if levels < MAX_DEPTH {
            prop_assert_eq!(pf.events.len(), 2);
            for ev in &pf.events {
                let _ = to_json(ev);
            }
        } else {
            prop_assert_eq!(pf.events.len(), 1);
            prop_assert_eq!(pf.rejects.len(), 1);
            prop_assert!(pf.rejects[0].reason.contains("nested more than"), "{:?}", pf.rejects);
        }
    }

    /// Records over the window's cap are rejected and skipped, wherever the pieces end.
    #[test]
    fn records_over_the_cap_are_rejected_in_any_layout(
        big in 0usize..6,
        size in 300usize..3000,
        chunk in 1usize..500,
        lines in any::<bool>(),
    ) {
        let mut recs: Vec<String> = (0..6).map(|i| GOOD.replace("\"ID\"", &format!("\"id-{i}\""))).collect();
        recs[big] = recs[big].replace("\"userAgent\":\"x\"", &format!("\"userAgent\":\"{}\"", "y".repeat(size)));
        let text = if lines { recs.join("\n") } else { format!("{{\"Records\":[{}]}}", recs.join(",")) };
        let limits = Limits { whole: 0, record: 1000, chunk };
        let (mut events, mut rejects) = (0, 0);
        parse_stream_with(text.as_bytes(), limits, &mut |b| {
            events += b.events.len();
            rejects += b.rejects.len();
            true
        });
        let over = recs[big].len() > 1000;
        prop_assert_eq!((events, rejects), (6 - usize::from(over), usize::from(over)));
    }
}

#[test]
fn ten_thousand_levels_of_nesting_are_rejected_not_a_stack_overflow() {
    for levels in [10_000, 200_000] {
        let text = format!("{{\"Records\":[{},{}]}}", nested(levels), GOOD);
        let pf = parse_file(text.as_bytes());
        assert_eq!(pf.events.len(), 1);
        assert_eq!(pf.rejects.len(), 1);
        assert!(pf.rejects[0].reason.contains("nested more than"));
        // The same as one line of JSON Lines, and as a lookup-events string.
        let pf = parse_file(format!("{}\n{}\n", nested(levels), GOOD).as_bytes());
        assert_eq!((pf.events.len(), pf.rejects.len()), (1, 1));
        let mut row = String::from("{\"Events\":[{\"CloudTrailEvent\":");
        backtrail_normalize::record::push_json_string(&mut row, &nested(levels));
        row.push_str("}]}");
        let pf = parse_file(row.as_bytes());
        assert_eq!(
            (pf.events.len(), pf.rejects.len()),
            (0, 1),
            "{:?}",
            pf.rejects
        );
    }
}

#[test]
fn fields_and_records_over_the_caps_are_rejected_with_the_cap() {
    let field = GOOD.replace(
        "\"userAgent\":\"x\"",
        &format!("\"userAgent\":\"{}\"", "u".repeat(MAX_FIELD_BYTES)),
    );
    let pf = parse_file(format!("{{\"Records\":[{field},{GOOD}]}}").as_bytes());
    assert_eq!(pf.events.len(), 1);
    assert!(
        pf.rejects[0].reason.contains("field userAgent"),
        "{:?}",
        pf.rejects
    );
    // A record over the cap in a file read whole, and in one read through the window.
    let huge = GOOD.replace(
        "\"userAgent\":\"x\"",
        &format!("\"userAgent\":\"{}\"", "y".repeat(MAX_RECORD_BYTES)),
    );
    let pf = parse_file(format!("[{huge}]").as_bytes());
    assert_eq!(pf.events.len(), 0);
    assert!(
        pf.rejects[0].reason.contains("over the cap"),
        "{:?}",
        pf.rejects
    );
    let pf = parse_file(format!("[{huge},{GOOD}]").as_bytes());
    assert_eq!((pf.events.len(), pf.rejects.len()), (1, 1));
    assert!(
        pf.rejects[0].reason.contains("over the cap"),
        "{:?}",
        pf.rejects
    );
}

#[test]
fn a_bomb_of_whitespace_is_an_empty_file() {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &vec![b' '; 40 << 20]).unwrap();
    let gz = e.finish().unwrap();
    assert!(gz.len() < 1 << 20);
    let pf = parse_file(&gz);
    assert_eq!(pf.outcome, FileOutcome::Rejected("empty file".into()));
    assert_eq!(pf.bytes, 40 << 20);
}

#[test]
fn deeply_nested_and_huge_inputs_are_handled() {
    let deep = format!(
        "{{\"Records\":[{}{}]}}",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let pf = parse_file(deep.as_bytes());
    assert_eq!(pf.events.len(), 0);
    assert_eq!(pf.rejects.len(), 1);
    let gz_bomb_like = vec![0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0xff];
    let pf = parse_file(&gz_bomb_like);
    assert!(pf.events.is_empty());
}
