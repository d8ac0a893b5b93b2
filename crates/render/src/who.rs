//! The identity chain as an indented tree, origin first.

use crate::{opt, text};
use backtrail_analysis::chain::{Confidence, Hop, SessionChain, WhoReport};
use std::fmt::Write;

fn confidence(c: Confidence) -> &'static str {
    match c {
        Confidence::Certain => "certain",
        Confidence::Probable => "PROBABLE",
        Confidence::Unknown => "UNKNOWN",
    }
}

fn hop(out: &mut String, h: &Hop, depth: usize) {
    let pad = "   ".repeat(depth);
    let _ = writeln!(
        out,
        "{pad}└─ {} at {}  [{}]  event {}",
        text(&h.method),
        opt(&h.time),
        confidence(h.confidence),
        opt(&h.event_id)
    );
    let _ = writeln!(
        out,
        "{pad}   by {} {} (account {}, key {})",
        opt(&h.caller.kind),
        h.caller
            .arn
            .as_deref()
            .or(h.caller.principal_id.as_deref())
            .map_or("-".into(), text),
        opt(&h.caller.account),
        opt(&h.caller.access_key_id)
    );
    let _ = writeln!(
        out,
        "{pad}   from {}  agent {}",
        opt(&h.source_ip),
        crate::cut(h.user_agent.as_deref().unwrap_or("-"), 80)
    );
    let _ = writeln!(
        out,
        "{pad}   issued {} key {} created {}",
        opt(&h.issued_arn),
        opt(&h.issued_access_key_id),
        opt(&h.issued_creation_date)
    );
    if !h.other_event_ids.is_empty() {
        let _ = writeln!(out, "{pad}   also {}", text(&h.other_event_ids.join(", ")));
    }
    if h.confidence != Confidence::Certain || !h.candidates.is_empty() {
        let _ = writeln!(out, "{pad}   why: {}", text(&h.reason));
        for c in &h.candidates {
            let _ = writeln!(
                out,
                "{pad}   candidate {} {} at {} -> {}: {}",
                text(&c.method),
                text(&c.event_id),
                text(&c.time),
                opt(&c.issued_arn),
                text(&c.why_rejected_or_open)
            );
        }
    }
}

fn session(out: &mut String, s: &SessionChain) {
    let _ = writeln!(
        out,
        "session {}  keys {}  created {}  seen {} .. {}  ({} events{})",
        opt(&s.arn),
        text(&s.access_key_ids.join(", ")),
        opt(&s.creation_date),
        opt(&s.first_seen),
        opt(&s.last_seen),
        s.events,
        if s.from_console { ", console" } else { "" }
    );
    let o = &s.origin;
    let _ = writeln!(
        out,
        "origin  {:?} {} (account {}{})  evidence {}",
        o.kind,
        text(&o.identifier),
        opt(&o.account),
        o.provider
            .as_deref()
            .map(|p| format!(", via {}", text(p)))
            .unwrap_or_default(),
        text(&o.evidence_event_ids.join(", "))
    );
    for (i, h) in s.chain.iter().enumerate() {
        hop(out, h, i);
    }
    if let Some(c) = &s.continue_at {
        let _ = writeln!(
            out,
            "continue: ingest account {} around {} .. {} and look for {} by {}: {}",
            opt(&c.account),
            opt(&c.window_start),
            opt(&c.window_end),
            text(&c.look_for.join("/")),
            text(&c.principal),
            text(&c.why)
        );
    }
    if let Some(si) = &s.asserted_source_identity {
        let _ = writeln!(out, "sourceIdentity asserted: {}", text(si));
    }
    for n in &s.notes {
        let _ = writeln!(out, "note: {}", text(n));
    }
}

/// The report as text for a terminal.
pub fn render(r: &WhoReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "who: {} ({}), {} matching session(s)",
        text(&r.subject),
        text(&r.subject_kind),
        r.sessions.len()
    );
    for n in &r.notes {
        let _ = writeln!(out, "note: {}", text(n));
    }
    for s in &r.sessions {
        out.push('\n');
        session(&mut out, s);
    }
    out
}
