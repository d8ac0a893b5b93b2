//! The report for people: terminal text and Markdown. Keys, ids and ARNs come from logs and
//! paths an attacker may have chosen, so every one is made inert (`model::text`).

use std::fmt::Write as _;

use backtrail_model::text::inert;

use crate::report::{DigestStatus, Outcome, Report};

fn opt(v: &Option<String>) -> String {
    v.as_deref().map_or_else(|| "-".into(), inert)
}

/// The counts as one line each; they add up.
fn summary_lines(r: &Report) -> Vec<String> {
    let s = &r.summary;
    vec![
        format!(
            "files:   {} checked = {} valid + {} modified + {} missing + {} unlisted + {} not covered ({} other files not judged)",
            s.files_checked,
            s.valid,
            s.modified,
            s.missing,
            s.unlisted,
            s.not_covered,
            s.files_not_judged
        ),
        format!(
            "digests: {} = {} verified + {} unverifiable + {} failed + {} not checked",
            s.digests,
            s.digests_verified,
            s.digests_unverifiable,
            s.digests_failed,
            s.digests_not_checked
        ),
        format!(
            "chain issues: {}   delivery gaps: {}   logging changes: {}",
            s.chain_issues, s.gaps, s.logging_events
        ),
    ]
}

/// Everything that is not plainly fine, one line each.
fn findings(r: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for f in r.files.iter().filter(|f| f.outcome != Outcome::Valid) {
        let what = match f.outcome {
            Outcome::Modified => format!(
                "MODIFIED     {}  (digest lists SHA-256 {}, content has {})",
                inert(&f.key),
                opt(&f.expected_sha256),
                opt(&f.actual_sha256)
            ),
            Outcome::Missing => format!(
                "MISSING      {}  (listed by {})",
                inert(&f.key),
                opt(&f.digest)
            ),
            Outcome::Unlisted => format!(
                "UNLISTED     {}  (no digest of {} {} lists it)",
                inert(&f.key),
                inert(&f.account),
                inert(&f.region)
            ),
            Outcome::NotCovered => format!("NOT COVERED  {}", inert(&f.key)),
            Outcome::Valid => continue,
        };
        out.push(what);
    }
    for d in &r.digests {
        let label = match d.status {
            DigestStatus::Failed => "DIGEST FAILED",
            DigestStatus::Unverifiable => "DIGEST UNVERIFIABLE",
            DigestStatus::Verified | DigestStatus::NotChecked => continue,
        };
        let problems: Vec<String> = d.problems.iter().map(|p| inert(p)).collect();
        out.push(format!(
            "{label}  {}: {}",
            inert(&d.key),
            problems.join("; ")
        ));
    }
    for c in &r.chain {
        out.push(format!(
            "CHAIN {:?}  {} {} {}  {} .. {}: {} ({}){}",
            c.kind,
            inert(&c.account),
            inert(&c.region),
            inert(&c.trail),
            opt(&c.from),
            opt(&c.to),
            inert(&c.detail),
            inert(&c.digest),
            ids(&c.evidence_event_ids)
        ));
    }
    for g in &r.gaps {
        out.push(format!(
            "GAP    {} {}  {} .. {}: no log file{}",
            inert(&g.account),
            inert(&g.region),
            inert(&g.from),
            inert(&g.to),
            if g.vouched_by_digests {
                " (the digests covering it list none: nothing delivered)"
            } else {
                " (no digest vouches for the hours)"
            }
        ));
    }
    for l in &r.logging {
        out.push(format!(
            "LOGGING {}  {} {}  by {}  on {}{}  event {}",
            inert(&l.time),
            inert(&l.kind),
            inert(&l.event_name),
            opt(&l.actor),
            opt(&l.target),
            l.error_code
                .as_deref()
                .map_or_else(String::new, |e| format!("  failed: {}", inert(e))),
            inert(&l.event_id)
        ));
    }
    out
}

fn ids(v: &[String]) -> String {
    if v.is_empty() {
        String::new()
    } else {
        let v: Vec<String> = v.iter().map(|i| inert(i)).collect();
        format!("  evidence: {}", v.join(", "))
    }
}

fn verdict(r: &Report) -> &'static str {
    if r.summary.problems {
        "PROBLEMS FOUND: modified, missing or unlisted files, failed digests or missing digests"
    } else {
        "no problems found"
    }
}

/// Terminal text.
pub fn text(r: &Report) -> String {
    let mut out = String::new();
    for l in summary_lines(r) {
        let _ = writeln!(out, "{l}");
    }
    for l in findings(r) {
        let _ = writeln!(out, "{l}");
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", inert(n));
    }
    let _ = writeln!(out, "result: {}", verdict(r));
    out
}

/// Markdown for a ticket: the counts, then the findings as a list.
pub fn markdown(r: &Report) -> String {
    let esc = |s: &str| s.replace('|', "\\|").replace('`', "'");
    let mut out = String::from("## Log integrity\n\n");
    let _ = writeln!(out, "**Result:** {}\n", verdict(r));
    for l in summary_lines(r) {
        let _ = writeln!(out, "- {}", esc(&l));
    }
    let f = findings(r);
    if !f.is_empty() {
        out.push_str("\n### Findings\n\n");
        for l in f {
            let _ = writeln!(out, "- `{}`", esc(&l));
        }
    }
    if !r.notes.is_empty() {
        out.push_str("\n### Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(out, "- {}", esc(&inert(n)));
        }
    }
    out
}

/// Non-verified evidence listed in text before pointing at `--format json`.
const SHOWN_EVIDENCE: usize = 20;

/// The investigation's integrity section as lines: the verification's verdict, each
/// section's counts, then the evidence that is not verified.
pub fn evidence_lines(e: &crate::EvidenceIntegrity) -> Vec<String> {
    let mut out = vec![format!(
        "sources verified at {}: {} (backtrail verify)",
        inert(&e.verified_at),
        if e.summary.problems {
            "PROBLEMS FOUND"
        } else {
            "no problems found"
        }
    )];
    for s in &e.sections {
        let counts: Vec<String> = s
            .counts
            .iter()
            .map(|(k, n)| format!("{n} {}", status_name(*k)))
            .collect();
        out.push(format!(
            "{}: {} evidence event(s): {}",
            inert(&s.section),
            s.events,
            counts.join(", ")
        ));
    }
    let doubtful: Vec<&crate::EvidenceItem> = e
        .evidence
        .iter()
        .filter(|i| i.status != crate::EvidenceStatus::Verified)
        .collect();
    for i in doubtful.iter().take(SHOWN_EVIDENCE) {
        out.push(format!(
            "{}  {}  {}",
            inert(&i.event_id),
            status_name(i.status),
            opt(&i.file)
        ));
    }
    if doubtful.len() > SHOWN_EVIDENCE {
        out.push(format!(
            "... and {} more not verified (see --format json)",
            doubtful.len() - SHOWN_EVIDENCE
        ));
    }
    out
}

fn status_name(s: crate::EvidenceStatus) -> &'static str {
    use crate::EvidenceStatus::*;
    match s {
        Verified => "verified",
        HashMatchesUnsignedDigest => "hash matches, digest signature unchecked",
        DigestFailed => "digest failed",
        Modified => "modified file",
        Unlisted => "unlisted file",
        NotCovered => "no digest covers the file",
        NotChecked => "not checked",
    }
}

/// The investigation's "Log integrity" section for the terminal; `None`: `verify` never ran
/// on the store.
pub fn evidence_text(e: Option<&crate::EvidenceIntegrity>) -> String {
    let mut out = String::from("\nLog integrity\n");
    match e {
        None => out.push_str(
            "  not checked: run `backtrail verify SOURCES --public-keys FILE` on this store\n",
        ),
        Some(e) => {
            for l in evidence_lines(e) {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    out
}

/// The same section in Markdown.
pub fn evidence_markdown(e: Option<&crate::EvidenceIntegrity>) -> String {
    let mut out = String::from("\n## Log integrity\n\n");
    match e {
        None => out.push_str(
            "Not checked: run `backtrail verify SOURCES --public-keys FILE` on this store.\n",
        ),
        Some(e) => {
            for l in evidence_lines(e) {
                let _ = writeln!(out, "- {}", l.replace('|', "\\|").replace('`', "'"));
            }
        }
    }
    out
}
