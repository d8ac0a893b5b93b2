//! `backtrail demo`: the whole path on an embedded default, in one command.

use crate::args::{DemoArgs, SynthArgs};
use crate::commands::ingest::{ingest_into, print_summary};
use crate::commands::synth;
use crate::{CliError, ExitStatus};
use backtrail_engine::Engine;
use backtrail_engine::output::{QueryFormat, write};
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
    let finding: serde_json::Value = serde_json::from_slice(&std::fs::read(&incident.finding)?)
        .map_err(|e| CliError::new(ExitStatus::Input, e.to_string()))?;
    let key = finding["resource"]["accessKeyDetails"]["accessKeyId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    writeln!(
        out,
        "finding {} names access key {key}",
        incident.finding.display()
    )?;
    let engine = Engine::open(&store)?;
    let sql = format!(
        "SELECT access_key_id, arn, creation_date, first_seen, last_seen, events, errors, source_ips \
         FROM sessions WHERE access_key_id = {}",
        backtrail_engine::lit(&key)
    );
    writeln!(out, "sessions that used it:")?;
    write(&engine.sql(&sql)?, QueryFormat::Table, &mut out)?;
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
