//! The investigation's "Log integrity" section: whether each piece of evidence was read from
//! a file that `verify` found valid under a verified digest.

use crate::{CliError, ExitStatus};
use backtrail_analysis::investigate::Investigation;
use backtrail_verify::{EvidenceIntegrity, Integrity};
use serde::Serialize;
use std::path::Path;

/// The `Investigation` JSON with the `integrity` field added (null when the store was never
/// verified).
#[derive(Serialize)]
pub struct WithIntegrity<'a> {
    #[serde(flatten)]
    pub investigation: &'a Investigation,
    pub integrity: Option<&'a EvidenceIntegrity>,
}

/// The status of the investigation's evidence: every hop and origin event of the chains
/// (section `chain`), and every sample and flag event of each session (`session ARN`).
pub fn of_investigation(
    store: &Path,
    inv: &Investigation,
) -> Result<Option<EvidenceIntegrity>, CliError> {
    let Some(integrity) =
        Integrity::load(store).map_err(|e| CliError::new(ExitStatus::Input, e.to_string()))?
    else {
        return Ok(None);
    };
    let mut chain = Vec::new();
    for s in &inv.who.sessions {
        for h in &s.chain {
            chain.extend(h.event_id.iter().cloned());
            chain.extend(h.other_event_ids.iter().cloned());
        }
        chain.extend(s.origin.evidence_event_ids.iter().cloned());
    }
    let mut sections = vec![("chain".to_string(), dedup(chain))];
    for s in &inv.sessions {
        let mut ids = Vec::new();
        for r in &s.body.activity.rows {
            ids.extend(r.sample_event_ids.iter().cloned());
        }
        for f in &s.body.origins.flags {
            ids.extend(f.evidence_event_ids.iter().cloned());
        }
        let name = s
            .arn
            .clone()
            .or_else(|| s.access_key_ids.first().cloned())
            .unwrap_or_else(|| "?".into());
        sections.push((format!("session {name}"), dedup(ids)));
    }
    Ok(Some(integrity.evidence(&sections)))
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// The HTML report with the integrity box before its data block (after the drawn report).
pub fn with_html_box(page: String, integrity: Option<&EvidenceIntegrity>) -> String {
    const DATA: &str = "<script type=\"application/json\" id=\"data\">";
    let section = backtrail_verify::render::evidence_html(integrity);
    page.replacen(DATA, &format!("{section}{DATA}"), 1)
}
