//! Any bytes through decompression, format detection and record parsing: no panic, no hang,
//! and the record accounting holds. Run: `cargo +nightly fuzz run parse_file` in `fuzz/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let pf = backtrail_normalize::parse_file(data);
    for ev in &pf.events {
        let _ = backtrail_normalize::to_json(ev);
        let _ = backtrail_normalize::issuance_of(ev);
    }
});
