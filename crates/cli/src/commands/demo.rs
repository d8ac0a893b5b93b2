//! `backtrail demo`: the whole path on an embedded default, in one command.

use crate::args::{DemoArgs, SynthArgs};
use crate::commands::ingest::{ingest_into, print_summary};
use crate::commands::synth;
use crate::{CliError, ExitStatus};
use backtrail_sources::Filter;
use backtrail_store::IngestOptions;
use std::io::Write;

/// The incident the demo investigates.
const DEMO_INCIDENT: &str = "cross-account-role-chain";

pub fn run(a: DemoArgs) -> Result<(), CliError> {
    let tmp;
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("backtrail-demo-")
                .tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let trail = dir.join("trail");
    // The report outlives a temporary demo directory.
    let report = match &a.dir {
        Some(d) => d.join("report.html"),
        None => std::env::temp_dir().join("backtrail-demo-report.html"),
    };
    let store = dir.join("store");
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "== 1. generating a synthetic trail with planted incidents"
    )?;
    let s = synth(SynthArgs {
        out: trail.clone(),
        events: a.events,
        seed: 1,
        days: None,
        signed_digests: false,
    })?;
    writeln!(out, "\n== 2. ingesting {}", trail.join("AWSLogs").display())?;
    let summary = ingest_into(
        &store,
        &[trail.join("AWSLogs").display().to_string()],
        &Filter::default(),
        IngestOptions::default(),
    )?;
    print_summary(&mut out, &summary, &store)?;
    let incident = s
        .incidents
        .iter()
        .find(|i| i.name == DEMO_INCIDENT)
        .ok_or_else(|| CliError::new(ExitStatus::Failure, "the demo incident was not planted"))?;
    writeln!(
        out,
        "\n== 3. investigating {}: {}",
        incident.name, incident.description
    )?;
    writeln!(
        out,
        "$ backtrail investigate --finding {} --store {}\n",
        incident.finding.display(),
        store.display()
    )?;
    drop(out);
    crate::commands::investigate::report(
        crate::args::ReportArgs {
            subject: crate::args::SubjectArgs {
                subject: None,
                finding: Some(incident.finding.clone()),
                at: None,
                since: None,
                until: None,
                store: crate::args::StoreArg {
                    store: store.clone(),
                    engine: None,
                },
            },
            format: crate::args::ReportFormat::Text,
            report: crate::args::ReportOptions {
                html: Some(report.clone()),
                geoip: Vec::new(),
                source_ips: Vec::new(),
            },
        },
        crate::commands::investigate::Kind::All,
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nHTML report: {}", report.display())?;
    writeln!(
        out,
        "\nstore kept in {}",
        if a.dir.is_some() {
            store.display().to_string()
        } else {
            "a temporary directory (use --dir to keep it)".into()
        }
    )?;
    Ok(())
}
