//! The investigation for a terminal (tables cut to fit the screen), as Markdown for a ticket,
//! and its activity rows as CSV.

use crate::{cut, text};
use backtrail_analysis::activity::{Activity, ActivityRow};
use backtrail_analysis::investigate::{Body, Investigation};
use backtrail_analysis::network::NetworkSources;
use backtrail_model::text::csv_field;
use backtrail_model::time::format_iso;
use std::fmt::Write;

/// Which parts of the investigation to show.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub who: bool,
    pub what: bool,
    pub r#where: bool,
}

impl Parts {
    /// Everything.
    pub const ALL: Parts = Parts {
        who: true,
        what: true,
        r#where: true,
    };
}

fn json_label<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// A plain text table: columns cut so that a row fits `width`.
fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], width: usize) {
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let n = head.len();
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    // Shrink the widest column until the row fits.
    let fits = |w: &[usize]| w.iter().sum::<usize>() + 2 * n + 2 <= width;
    while !fits(&w) {
        let (i, m) = w
            .iter()
            .enumerate()
            .max_by_key(|(_, m)| **m)
            .map(|(i, m)| (i, *m))
            .unwrap_or((0, 0));
        if m <= 8 {
            break;
        }
        w[i] = m - 1;
    }
    let line = |out: &mut String, cells: &[String]| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let c = cut(c, w[i]);
            let _ = write!(l, " {c:<width$}", width = w[i]);
            l.push(' ');
        }
        let _ = writeln!(out, "{}", l.trim_end());
    };
    line(out, &head.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    line(out, &w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>());
    for r in rows {
        line(out, r);
    }
}

fn target_summary(r: &ActivityRow) -> String {
    let mut t: Vec<String> = r.targets.iter().take(3).map(|c| c.value.clone()).collect();
    for d in r.denied_resources.iter().take(3) {
        if let Some(res) = &d.denial.resource {
            t.push(format!("denied: {res}"));
        } else if d.denial.encoded {
            t.push("denied (encoded message, no resource)".into());
        }
    }
    if r.distinct_targets > 3 {
        t.push(format!("+{} more", r.distinct_targets - 3));
    }
    t.join(", ")
}

fn activity_rows(a: &Activity, idx: &[usize]) -> Vec<Vec<String>> {
    idx.iter()
        .map(|&i| {
            let r = &a.rows[i];
            vec![
                format!(
                    "{} {}",
                    r.event_source.trim_end_matches(".amazonaws.com"),
                    r.event_name
                ),
                r.occurrences.to_string(),
                r.successes.to_string(),
                r.failures.to_string(),
                r.error_codes.keys().cloned().collect::<Vec<_>>().join(","),
                format_iso(r.first_seen),
                target_summary(r),
            ]
        })
        .collect()
}

fn activity(out: &mut String, a: &Activity, width: usize) {
    let head = ["api", "calls", "ok", "failed", "errors", "first", "targets"];
    let _ = writeln!(
        out,
        "  {} calls, {} succeeded, {} failed",
        a.totals.events, a.totals.successes, a.totals.failures
    );
    let _ = writeln!(out, "  changing calls:");
    table(out, &head, &activity_rows(a, &a.sections.changing), width);
    let _ = writeln!(out, "  sensitive read-only calls:");
    let mut rows = activity_rows(a, &a.sections.sensitive_read_only);
    for (row, &i) in rows.iter_mut().zip(&a.sections.sensitive_read_only) {
        if let Some(t) = &a.rows[i].tactic {
            row[0] = format!("{} [{}]", row[0], t);
        }
    }
    table(out, &head, &rows, width);
    let _ = writeln!(out, "  other read-only calls:");
    table(
        out,
        &head,
        &activity_rows(a, &a.sections.other_read_only),
        width,
    );
}

fn origins(out: &mut String, o: &NetworkSources, width: usize) {
    let rows: Vec<Vec<String>> = o
        .source_ips
        .iter()
        .map(|s| {
            vec![
                s.source_ip.clone(),
                json_label(&s.class),
                s.count.to_string(),
                format!(
                    "{} .. {}",
                    format_iso(s.first_seen),
                    format_iso(s.last_seen)
                ),
                s.vpc_endpoints.join(","),
                s.user_agents
                    .first()
                    .map(|u| u.value.clone())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let _ = writeln!(out, "  source addresses:");
    table(
        out,
        &[
            "source",
            "class",
            "calls",
            "seen",
            "vpc endpoint",
            "main user agent",
        ],
        &rows,
        width,
    );
    let rows: Vec<Vec<String>> = o
        .user_agents
        .iter()
        .map(|u| {
            vec![
                json_label(&u.kind),
                u.count.to_string(),
                u.user_agent.clone(),
            ]
        })
        .collect();
    let _ = writeln!(out, "  user agents:");
    table(out, &["kind", "calls", "user agent"], &rows, width);
    let _ = writeln!(out, "  flags:");
    let rows: Vec<Vec<String>> = o
        .flags
        .iter()
        .map(|f| {
            fact_row(
                json_label(&f.kind),
                f.count,
                &f.detail,
                &f.evidence_event_ids,
            )
        })
        .collect();
    table(out, &["flag", "events", "detail", "evidence"], &rows, width);
}

/// A flag's or path fact's table row: kind, events, detail and the first two evidence ids
/// (raw: [`table`] makes every cell inert).
fn fact_row(kind: String, count: u64, detail: &str, ids: &[String]) -> Vec<String> {
    vec![
        kind,
        count.to_string(),
        detail.to_string(),
        ids.iter().take(2).cloned().collect::<Vec<_>>().join(","),
    ]
}

fn body(out: &mut String, b: &Body, parts: Parts, width: usize) {
    if parts.what {
        activity(out, &b.activity, width);
    }
    if parts.r#where {
        origins(out, &b.sources, width);
    }
}

/// The path facts and the forward walk's cuts, as terminal text: one fact per line, its
/// detail whole (a table would cut it), then its evidence ids.
fn glance(out: &mut String, inv: &Investigation) {
    let cuts = inv.forward.as_ref().map_or(&[][..], |f| &f.cut[..]);
    if inv.path_flags.is_empty() && cuts.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n== at a glance: facts about the whole path");
    for f in &inv.path_flags {
        let _ = writeln!(
            out,
            "  {} ({} events): {}\n    evidence: {}",
            json_label(&f.kind),
            f.count,
            text(&f.detail),
            text(&f.evidence_event_ids.join(", "))
        );
    }
    for c in cuts {
        let _ = writeln!(out, "  forward walk cut: {}", text(c));
    }
}

/// `spawned by METHOD EVENT at TIME from PARENT` (raw log values: escape before showing).
fn spawned_note(s: &backtrail_analysis::investigate::SessionSection) -> String {
    s.spawned_by.as_ref().map_or(String::new(), |b| {
        format!(
            "spawned by {} {} at {} from {}",
            b.method,
            b.event_id,
            b.time,
            b.parent_arn
                .as_deref()
                .or(b.parent_access_key_ids.first().map(String::as_str))
                .unwrap_or("-")
        )
    })
}

/// The investigation as terminal text, `width` columns wide.
pub fn render(inv: &Investigation, parts: Parts, width: usize) -> String {
    let mut out = String::new();
    if parts.who {
        out.push_str(&crate::who::render(&inv.who));
        glance(&mut out, inv);
    } else {
        let _ = writeln!(out, "subject: {}", text(&inv.subject));
    }
    for s in &inv.sessions {
        let _ = writeln!(
            out,
            "\n== {} session {}  created {}  keys {}{}",
            text(&s.role),
            s.arn.as_deref().map_or("-".into(), text),
            s.creation_date.as_deref().unwrap_or("-"),
            text(&s.access_key_ids.join(", ")),
            if s.spawned_by.is_some() {
                format!("  {}", text(&spawned_note(s)))
            } else {
                String::new()
            }
        );
        body(&mut out, &s.body, parts, width);
    }
    if inv.sessions.len() > 1 {
        let _ = writeln!(out, "\n== all {} sessions together", inv.sessions.len());
        body(&mut out, &inv.combined, parts, width);
    }
    out
}

/// Markdown cell: pipes and newlines would break the table; backticks and HTML would be
/// interpreted by the ticket system.
pub(crate) fn md(s: &str) -> String {
    let t = text(s);
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The investigation as Markdown, for a ticket.
pub fn markdown(inv: &Investigation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Investigation of {}\n", md(&inv.subject));
    for s in &inv.who.sessions {
        let o = &s.origin;
        let _ = writeln!(
            out,
            "## Session {}\n\n- created: {}\n- keys: {}\n- origin: **{:?}** {} (account {}), evidence {}\n",
            md(s.arn.as_deref().unwrap_or("-")),
            md(s.creation_date.as_deref().unwrap_or("-")),
            md(&s.access_key_ids.join(", ")),
            o.kind,
            md(&o.identifier),
            md(o.account.as_deref().unwrap_or("-")),
            md(&o.evidence_event_ids.join(", "))
        );
        let _ = writeln!(
            out,
            "| step | method | time | caller | issued | event | confidence |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for (i, h) in s.chain.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                i + 1,
                md(&h.method),
                md(h.time.as_deref().unwrap_or("-")),
                md(h.caller
                    .arn
                    .as_deref()
                    .or(h.caller.principal_id.as_deref())
                    .unwrap_or("-")),
                md(h.issued_arn.as_deref().unwrap_or("-")),
                md(h.event_id.as_deref().unwrap_or("-")),
                md(&json_label(&h.confidence))
            );
        }
        for n in &s.notes {
            let _ = writeln!(out, "\n> {}", md(n));
        }
        out.push('\n');
    }
    let cuts = inv.forward.as_ref().map_or(&[][..], |f| &f.cut[..]);
    if !inv.path_flags.is_empty() || !cuts.is_empty() {
        let _ = writeln!(out, "## At a glance\n");
        for f in &inv.path_flags {
            let _ = writeln!(
                out,
                "- **{}** ({} events): {} — evidence {}",
                json_label(&f.kind),
                f.count,
                md(&f.detail),
                md(&f.evidence_event_ids.join(", "))
            );
        }
        for c in cuts {
            let _ = writeln!(out, "- forward walk cut: {}", md(c));
        }
        out.push('\n');
    }
    let spawned: Vec<_> = inv
        .sessions
        .iter()
        .filter(|s| s.spawned_by.is_some())
        .collect();
    if !spawned.is_empty() {
        let _ = writeln!(out, "## Spawned sessions\n");
        let _ = writeln!(out, "| session | created | keys | calls | issued by |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for s in spawned {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                md(s.arn.as_deref().unwrap_or("-")),
                md(s.creation_date.as_deref().unwrap_or("-")),
                md(&s.access_key_ids.join(", ")),
                s.body.activity.totals.events,
                md(&spawned_note(s))
            );
        }
        out.push('\n');
    }
    let b = &inv.combined;
    let _ = writeln!(out, "## Activity ({} calls)\n", b.activity.totals.events);
    let _ = writeln!(out, "| api | calls | ok | failed | sensitive | targets |");
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for r in &b.activity.rows {
        let _ = writeln!(
            out,
            "| {} {} | {} | {} | {} | {} | {} |",
            md(&r.event_source),
            md(&r.event_name),
            r.occurrences,
            r.successes,
            r.failures,
            if r.sensitive {
                md(r.tactic.as_deref().unwrap_or("yes"))
            } else {
                String::new()
            },
            md(&target_summary(r))
        );
    }
    let _ = writeln!(
        out,
        "\n## Sources\n\n| source | class | calls |\n|---|---|---|"
    );
    for s in &b.sources.source_ips {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            md(&s.source_ip),
            json_label(&s.class),
            s.count
        );
    }
    let _ = writeln!(out, "\n## Flags\n");
    for f in &b.sources.flags {
        let _ = writeln!(
            out,
            "- **{}** ({} events): {} — evidence {}",
            json_label(&f.kind),
            f.count,
            md(&f.detail),
            md(&f.evidence_event_ids.join(", "))
        );
    }
    out
}

/// The activity rows of every session as CSV (one row per session and API). Every field
/// is quoted and neutralised ([`backtrail_model::text::csv_field`]): log values cannot start
/// a spreadsheet formula or drive a terminal.
pub fn csv(inv: &Investigation) -> String {
    let head = [
        "session_arn",
        "session_creation_date",
        "event_source",
        "event_name",
        "read_only",
        "sensitive",
        "occurrences",
        "successes",
        "failures",
        "first_seen",
        "last_seen",
        "targets",
        "denied_resources",
        "sample_event_ids",
    ];
    let mut out = head.map(csv_field).join(",");
    out.push('\n');
    for s in &inv.sessions {
        for r in &s.body.activity.rows {
            let denied: Vec<String> = r
                .denied_resources
                .iter()
                .filter_map(|d| d.denial.resource.clone())
                .collect();
            let cells = [
                s.arn.clone().unwrap_or_default(),
                s.creation_date.clone().unwrap_or_default(),
                r.event_source.clone(),
                r.event_name.clone(),
                r.read_only.to_string(),
                r.sensitive.to_string(),
                r.occurrences.to_string(),
                r.successes.to_string(),
                r.failures.to_string(),
                format_iso(r.first_seen),
                format_iso(r.last_seen),
                r.targets
                    .iter()
                    .map(|t| t.value.clone())
                    .collect::<Vec<_>>()
                    .join(" "),
                denied.join(" "),
                r.sample_event_ids.join(" "),
            ];
            let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
            out.push_str(&line.join(","));
            out.push('\n');
        }
    }
    out
}
