//! The ranked session list for a terminal.

use crate::{cut, opt, text};
use backtrail_analysis::risk::RankedSession;
use std::fmt::Write;

/// One block per session, riskiest first.
pub fn render(rows: &[RankedSession], width: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} session(s), riskiest first", rows.len());
    for r in rows {
        let key = match (&r.access_key_id, r.access_key_ids.len()) {
            (Some(k), _) => text(k),
            (None, 0) => "-".to_string(),
            (None, 1) => text(&r.access_key_ids[0]),
            (None, n) => format!("{n} console keys"),
        };
        let _ = writeln!(
            out,
            "\n{:>3}  {}  key {}  created {}",
            r.score,
            cut(r.arn.as_deref().unwrap_or("-"), width.saturating_sub(50)),
            key,
            opt(&r.creation_date)
        );
        let _ = writeln!(
            out,
            "     {} .. {}  {} calls, {} failed{}  from {}",
            r.first_seen,
            r.last_seen,
            r.events,
            r.errors,
            if r.from_console { ", console" } else { "" },
            cut(&r.source_ips.join(", "), 60)
        );
        if !r.reasons.is_empty() {
            let _ = writeln!(out, "     why: {}", text(&r.reasons.join("; ")));
        }
        if !r.evidence_event_ids.is_empty() {
            let _ = writeln!(
                out,
                "     events: {}",
                text(&r.evidence_event_ids.join(" "))
            );
        }
    }
    out
}
