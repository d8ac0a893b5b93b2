//! Property tests: hostile input never panics or hangs the parser, and every record that
//! goes in is accounted for. The coverage-guided twin is `fuzz/fuzz_targets/parse_file.rs`.

use backtrail_normalize::{FileOutcome, parse_file, to_json};
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
