//! Generates a trail: `cargo run --release -p backtrail-synth --example synth -- OUT EVENTS SEED [DAYS]`.
//! Prints the summary and the throughput; the CLI's `backtrail synth` does the same.

use std::io::Write as _;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: synth OUT EVENTS SEED [DAYS]");
        std::process::exit(2);
    }
    let mut opts = backtrail_synth::SynthOptions::new(
        PathBuf::from(&args[1]),
        args[2].parse().expect("EVENTS"),
        args[3].parse().expect("SEED"),
    );
    if let Some(d) = args.get(4) {
        opts.days = d.parse().expect("DAYS");
    }
    let t0 = std::time::Instant::now();
    match backtrail_synth::generate(&opts) {
        Ok(s) => {
            let secs = t0.elapsed().as_secs_f64();
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "{} events in {} log files over {} days, {secs:.2}s ({:.0} events/s)",
                s.events_written,
                s.files_written,
                opts.days,
                s.events_written as f64 / secs
            );
            for i in &s.incidents {
                let _ = writeln!(out, "{}: {}", i.name, i.ground_truth.display());
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
