//! Hunting rules over the store: the query a rule set becomes, run by the engine, its rows
//! grouped by session (used by `hunt` and by `sessions`, whose score the hits raise).

use crate::{CliError, ExitStatus};
use backtrail_engine::Engine;
use backtrail_engine::output::{QueryFormat, write};
use backtrail_hunt::{Filter, HuntReport, Plan, RuleSet};

impl From<backtrail_hunt::HuntError> for CliError {
    fn from(e: backtrail_hunt::HuntError) -> Self {
        let status = match e {
            backtrail_hunt::HuntError::Io { .. } => ExitStatus::Input,
            backtrail_hunt::HuntError::Row(_) => ExitStatus::Failure,
        };
        CliError::new(status, e.to_string())
    }
}

/// The rules of `--rules`, or the shipped ones when there are none.
pub fn rules(paths: &[std::path::PathBuf]) -> Result<RuleSet, CliError> {
    if paths.is_empty() {
        Ok(backtrail_hunt::builtin::rules())
    } else {
        Ok(RuleSet::load(paths)?)
    }
}

/// Runs `set` over the store in one query and groups the hits by session.
pub fn run(
    engine: &Engine,
    set: &RuleSet,
    filter: &Filter,
    store: &std::path::Path,
) -> Result<HuntReport, CliError> {
    let mut rows = Vec::new();
    let plan = Plan::new(set, filter);
    if let Some(plan) = &plan {
        let batches = engine.sql(&plan.sql)?;
        let mut buf = Vec::new();
        write(&batches, QueryFormat::Jsonl, &mut buf)?;
        for line in buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let obj: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(line)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            rows.push(plan.row(&obj)?);
        }
    }
    let store = store.display().to_string();
    Ok(match &plan {
        Some(plan) => backtrail_hunt::report::build(set, plan, &rows, &store),
        None => HuntReport {
            rules_run: 0,
            correlations_run: 0,
            skipped: set.skipped.clone(),
            events_matched: 0,
            sessions: Vec::new(),
        },
    })
}
