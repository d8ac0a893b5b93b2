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
    let sections = backtrail_analysis::evidence::integrity_sections(inv);
    Ok(Some(integrity.evidence(&sections)))
}

/// The HTML report with the integrity box before its data block (after the drawn report).
pub fn with_html_box(page: String, integrity: Option<&EvidenceIntegrity>) -> String {
    const DATA: &str = "<script type=\"application/json\" id=\"data\">";
    page.replacen(DATA, &format!("{}{DATA}", html_box(integrity)), 1)
}

/// A static box (escaped text, no script) with the lines of the text section.
fn html_box(e: Option<&EvidenceIntegrity>) -> String {
    use backtrail_render::html::escape;
    let mut out = String::from(
        "<section class=\"card integrity\" id=\"integrity\">\n<h2>Log integrity</h2>\n",
    );
    match e {
        None => out.push_str(
            "<p class=\"muted\">Not checked: run <code>backtrail verify SOURCES --public-keys \
             FILE</code> on this store.</p>\n",
        ),
        Some(e) => {
            let class = if e.summary.problems { "bad" } else { "muted" };
            let lines = backtrail_verify::render::evidence_lines(e);
            out.push_str(&format!(
                "<p class=\"{class}\">{}</p>\n<ul>\n",
                escape(&lines[0])
            ));
            for l in &lines[1..] {
                out.push_str(&format!("<li><code>{}</code></li>\n", escape(l)));
            }
            out.push_str("</ul>\n");
        }
    }
    out.push_str("</section>\n");
    out
}
