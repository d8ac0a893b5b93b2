//! Hunt results: per session, the rules that hit, and the command to investigate it.
//! Rule titles come from rule files and everything else from the logs: all of it is
//! escaped for the medium it is printed to.

use crate::investigate::md;
use crate::{opt, text};
use backtrail_hunt::{HuntReport, SessionHits};
use backtrail_model::text::csv_field;
use std::fmt::Write;

fn keys(s: &SessionHits) -> String {
    match s.access_key_ids.len() {
        0 => "-".into(),
        1 => s.access_key_ids[0].clone(),
        n => format!("{} console keys ({} ...)", n, s.access_key_ids[0]),
    }
}

fn summary(r: &HuntReport) -> String {
    format!(
        "{} rule(s) and {} correlation(s) run, {} skipped; {} event(s) matched in {} session(s)",
        r.rules_run,
        r.correlations_run,
        r.skipped.len(),
        r.events_matched,
        r.sessions.len()
    )
}

/// For a terminal.
pub fn render(r: &HuntReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", summary(r));
    for s in &r.skipped {
        let _ = writeln!(
            out,
            "  not run: {} ({}): {}",
            opt(&s.title),
            text(&s.source),
            text(&s.reason)
        );
    }
    for s in &r.sessions {
        let _ = writeln!(
            out,
            "\n[{}] {}  key {}  created {}  {} .. {}",
            s.level.as_str(),
            opt(&s.arn),
            text(&keys(s)),
            opt(&s.creation_date),
            s.first,
            s.last
        );
        for h in &s.hits {
            let _ = writeln!(
                out,
                "  {:<13} {}  ({}, {} event(s), {} .. {})  {}",
                h.level.as_str(),
                text(&h.title),
                h.kind,
                h.events,
                h.first,
                h.last,
                text(&h.attack.join(" "))
            );
            for f in &h.firings {
                let _ = writeln!(out, "                {}", text(f));
            }
            let _ = writeln!(
                out,
                "                events: {}",
                text(&h.sample_event_ids.join(" "))
            );
        }
        if let Some(cmd) = &s.investigate {
            let _ = writeln!(out, "  investigate: {}", text(cmd));
        }
    }
    out
}

/// For a ticket.
pub fn markdown(r: &HuntReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Hunt\n\n{}\n", summary(r));
    if !r.skipped.is_empty() {
        let _ = writeln!(out, "## Rules not run\n");
        for s in &r.skipped {
            let _ = writeln!(
                out,
                "- {} ({}): {}",
                md(s.title.as_deref().unwrap_or("-")),
                md(&s.source),
                md(&s.reason)
            );
        }
        out.push('\n');
    }
    for s in &r.sessions {
        let _ = writeln!(
            out,
            "## {} — {}\n\n- key: {}\n- created: {}\n- hits: {} .. {}",
            s.level.as_str(),
            md(s.arn.as_deref().unwrap_or("-")),
            md(&keys(s)),
            md(s.creation_date.as_deref().unwrap_or("-")),
            s.first,
            s.last
        );
        if let Some(cmd) = &s.investigate {
            // A code span cannot be broken out of when its fence is longer than any run of
            // backticks inside.
            let fence = "`".repeat(cmd.matches('`').count() + 1);
            let _ = writeln!(out, "- investigate: {fence} {} {fence}", text(cmd));
        }
        let _ = writeln!(
            out,
            "\n| level | rule | kind | events | first | last | ATT&CK | sample events |\n|---|---|---|---|---|---|---|---|"
        );
        for h in &s.hits {
            let mut rule = md(&h.title);
            for f in &h.firings {
                rule.push_str(&format!("<br>{}", md(f)));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                h.level.as_str(),
                rule,
                h.kind,
                h.events,
                h.first,
                h.last,
                md(&h.attack.join(" ")),
                md(&h.sample_event_ids.join(" "))
            );
        }
        out.push('\n');
    }
    out
}

/// One row per session and rule.
pub fn csv(r: &HuntReport) -> String {
    let mut out = String::from(
        "arn,access_key_ids,creation_date,rule,rule_id,level,kind,events,first,last,attack,sample_event_ids,investigate\n",
    );
    for s in &r.sessions {
        for h in &s.hits {
            let cells = [
                s.arn.clone().unwrap_or_default(),
                s.access_key_ids.join(" "),
                s.creation_date.clone().unwrap_or_default(),
                h.title.clone(),
                h.id.clone().unwrap_or_default(),
                h.level.as_str().to_string(),
                h.kind.to_string(),
                h.events.to_string(),
                h.first.clone(),
                h.last.clone(),
                h.attack.join(" "),
                h.sample_event_ids.join(" "),
                s.investigate.clone().unwrap_or_default(),
            ];
            let row: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            let _ = writeln!(out, "{}", row.join(","));
        }
    }
    out
}
