//! Any bytes through decompression, format detection and record parsing: no panic, no hang,
//! and the record accounting holds. Run: `cargo +nightly fuzz run parse_file` in `fuzz/`.
//!
//! Each input is read three ways: whole; through the windowed reader with limits small
//! enough (taken from the first byte) that the input is read in pieces, with records over
//! the cap skipped; and as the `requestParameters` of a record nested under as many levels
//! as the second byte says times 100 (up to 25,500: beyond the depth cap, never a stack
//! overflow).
#![no_main]

use backtrail_normalize::{Limits, parse_file, parse_stream_with};
use libfuzzer_sys::fuzz_target;

fn check(ev: &backtrail_model::Event) {
    let _ = backtrail_normalize::to_json(ev);
    let _ = backtrail_normalize::issuance_of(ev);
}

fuzz_target!(|data: &[u8]| {
    let pf = parse_file(data);
    pf.events.iter().for_each(check);

    if let [k, depth, rest @ ..] = data {
        let k = *k as usize;
        let limits = Limits {
            whole: k % 64,
            record: 16 + k % 200,
            chunk: 1 + k % 17,
        };
        let mut records = 0u64;
        let end = parse_stream_with(rest, limits, &mut |b| {
            records += b.records();
            b.events.iter().for_each(check);
            true
        });
        assert!(end.bytes as usize <= rest.len() || rest.starts_with(&[0x1f, 0x8b]));

        let levels = *depth as usize * 100;
        let mut rec = String::from(
            r#"{"eventTime":"2024-01-01T00:00:00Z","eventName":"X","eventSource":"s","requestParameters":"#,
        );
        rec.push_str(&"{\"a\":[".repeat(levels));
        rec.push_str(&String::from_utf8_lossy(rest));
        rec.push_str(&"]}".repeat(levels));
        rec.push('}');
        parse_file(rec.as_bytes()).events.iter().for_each(check);
    }
});
