//! `who` (and the commands built on it): subject or finding in, report out.

use crate::args::{ReportFormat, SubjectArgs, WhoArgs};
use crate::{CliError, ExitStatus};
use backtrail_analysis::chain::{self, WhoReport};
use backtrail_analysis::subject::{Finding, Subject};
use backtrail_engine::Engine;
use backtrail_model::Window;
use backtrail_model::time::parse_iso;
use std::io::Write;
use std::path::Path;

const HOUR_MS: i64 = 3_600_000;

/// An optional RFC 3339 argument as milliseconds.
pub(crate) fn time(name: &str, v: &Option<String>) -> Result<Option<i64>, CliError> {
    v.as_deref()
        .map(|s| {
            parse_iso(s).ok_or_else(|| {
                CliError::new(
                    ExitStatus::Usage,
                    format!("--{name} {s:?}: expected RFC 3339"),
                )
            })
        })
        .transpose()
}

/// The window the arguments ask for, if any.
fn window(a: &SubjectArgs) -> Result<Option<Window>, CliError> {
    if let Some(t) = time("at", &a.at)? {
        return Ok(Some(Window {
            start: t - HOUR_MS,
            end: t + HOUR_MS,
        }));
    }
    let (since, until) = (time("since", &a.since)?, time("until", &a.until)?);
    Ok((since.is_some() || until.is_some()).then(|| Window {
        start: since.unwrap_or(i64::MIN),
        end: until.unwrap_or(i64::MAX),
    }))
}

/// Runs the chain walk for the subject or finding of `a`.
pub fn who_report(engine: &Engine, a: &SubjectArgs) -> Result<WhoReport, CliError> {
    let w = window(a)?;
    let report = match (&a.finding, &a.subject) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                CliError::new(ExitStatus::Input, format!("{}: {e}", path.display()))
            })?;
            let mut finding = Finding::parse(&text).map_err(|e| {
                CliError::new(ExitStatus::Input, format!("{}: {e}", path.display()))
            })?;
            if let Some(w) = w {
                finding.first_seen = Some(w.start);
                finding.last_seen = Some(w.end);
            }
            chain::who_finding(engine, &finding)?
        }
        (None, Some(s)) => chain::who(engine, &Subject::parse(s), w, None)?,
        (None, None) => unreachable!("clap requires a subject or a finding"),
    };
    Ok(report)
}

pub fn who(a: WhoArgs) -> Result<(), CliError> {
    let engine = a.subject.store.open()?;
    let report = who_report(&engine, &a.subject)?;
    let mut out = std::io::stdout().lock();
    match a.subject.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            writeln!(out)?;
        }
        ReportFormat::Text => write!(out, "{}", backtrail_render::who::render(&report))?,
        ReportFormat::Markdown | ReportFormat::Csv | ReportFormat::Html => {
            return Err(CliError::new(
                ExitStatus::Usage,
                "who prints text or json; use investigate for markdown, csv or html",
            ));
        }
    }
    if report.sessions.is_empty() {
        return Err(not_found(&report));
    }
    Ok(())
}

/// No session matches the subject (given, or read from a finding): the subject is echoed
/// inert, on one line.
fn not_found(report: &WhoReport) -> CliError {
    CliError::new(
        ExitStatus::NotFound,
        format!(
            "no session in the store matches {}",
            backtrail_model::text::inert(&report.subject)
        ),
    )
}

/// Checks that `--html` can be written before any work is done (and before the report is
/// printed): an existing file must open for writing, a new one needs a writable directory.
fn check_writable(path: &Path) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        CliError::new(
            ExitStatus::Failure,
            format!("{}: cannot write the report: {e}", path.display()),
        )
    };
    if path.is_dir() {
        return Err(fail(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    if path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(fail)?;
    } else {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    }
    Ok(())
}

/// Which report of the investigation family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    What,
    Where,
    All,
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(140)
        .max(60)
}

/// `what`, `where` and `investigate`.
pub fn report(a: WhoArgs, kind: Kind) -> Result<(), CliError> {
    use backtrail_analysis::investigate::{Options, investigate};
    use backtrail_render::investigate::{Parts, csv, markdown, render};
    if let Some(path) = &a.html {
        check_writable(path)?;
    }
    let engine = a.subject.store.open()?;
    let who = who_report(&engine, &a.subject)?;
    if who.sessions.is_empty() {
        return Err(not_found(&who));
    }
    let geo = a
        .geoip
        .iter()
        .map(|p| {
            backtrail_analysis::network::MaxMindDb::open(p)
                .map_err(|e| CliError::new(ExitStatus::Input, format!("{}: {e}", p.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let opts = Options {
        window: if a.subject.finding.is_some() {
            None
        } else {
            window(&a.subject)?
        },
        geo: (!geo.is_empty()).then_some(&geo as &dyn backtrail_analysis::network::GeoLookup),
        source_ips: a.source_ips.clone(),
        include_chain: kind == Kind::All,
    };
    let inv = investigate(&engine, who, &opts)?;
    let parts = match kind {
        Kind::What => Parts {
            who: false,
            what: true,
            r#where: false,
        },
        Kind::Where => Parts {
            who: false,
            what: false,
            r#where: true,
        },
        Kind::All => Parts::ALL,
    };
    let integrity = crate::commands::integrity::of_investigation(&a.subject.store.store, &inv)?;
    let mut out = std::io::stdout().lock();
    match a.subject.format {
        ReportFormat::Json => {
            let doc = crate::commands::integrity::WithIntegrity {
                investigation: &inv,
                integrity: integrity.as_ref(),
            };
            serde_json::to_writer_pretty(&mut out, &doc)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            writeln!(out)?;
        }
        ReportFormat::Text => {
            write!(out, "{}", render(&inv, parts, terminal_width()))?;
            let section = backtrail_verify::render::evidence_text(integrity.as_ref());
            write!(out, "{section}")?;
        }
        ReportFormat::Markdown => {
            write!(out, "{}", markdown(&inv))?;
            let section = backtrail_verify::render::evidence_markdown(integrity.as_ref());
            write!(out, "{section}")?;
        }
        ReportFormat::Csv => write!(out, "{}", csv(&inv))?,
        ReportFormat::Html => write!(out, "{}", html(&engine, &inv, integrity.as_ref())?)?,
    }
    if let Some(path) = &a.html {
        std::fs::write(path, html(&engine, &inv, integrity.as_ref())?)
            .map_err(|e| CliError::new(ExitStatus::Failure, format!("{}: {e}", path.display())))?;
        crate::terminal::note(&format!("report written to {}", path.display()));
    }
    Ok(())
}

/// Sample event ids per activity row in the HTML report's evidence.
const EVIDENCE_PER_ROW: usize = 5;

/// The HTML report with a bounded sample of evidence: every hop's events, the path facts'
/// and spawned sessions' evidence and a few sample events per API row, so that a huge session still gives a small file.
fn html(
    engine: &Engine,
    inv: &backtrail_analysis::investigate::Investigation,
    integrity: Option<&backtrail_verify::EvidenceIntegrity>,
) -> Result<String, CliError> {
    let mut ids = std::collections::BTreeSet::new();
    for s in &inv.who.sessions {
        for h in &s.chain {
            ids.extend(h.event_id.iter().cloned());
            ids.extend(h.other_event_ids.iter().cloned());
        }
        ids.extend(s.origin.evidence_event_ids.iter().cloned());
    }
    for s in &inv.sessions {
        for r in &s.body.activity.rows {
            ids.extend(r.sample_event_ids.iter().take(EVIDENCE_PER_ROW).cloned());
        }
        for f in &s.body.sources.flags {
            ids.extend(f.evidence_event_ids.iter().cloned());
        }
        if let Some(b) = &s.spawned_by {
            ids.insert(b.event_id.clone());
            ids.extend(b.other_event_ids.iter().cloned());
        }
    }
    for f in &inv.path_flags {
        ids.extend(f.evidence_event_ids.iter().cloned());
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let evidence = engine
        .events_by_ids(&ids)?
        .iter()
        .map(|e| {
            let json = backtrail_normalize::to_json(e);
            (
                e.event_id.clone(),
                backtrail_render::redact::credentials(&json),
            )
        })
        .collect();
    let page = backtrail_render::html::render(inv, &evidence);
    Ok(crate::commands::integrity::with_html_box(page, integrity))
}

/// `sessions`: every session in the window, riskiest first. The hunting rules run over the
/// same window and their hits add to the score of the session they hit.
pub fn sessions(a: crate::args::SessionsArgs) -> Result<(), CliError> {
    use backtrail_analysis::risk::{Signal, rank_sessions};
    let engine = a.store.open()?;
    let since = time("since", &a.since)?;
    let until = time("until", &a.until)?;
    let set = crate::commands::hunt::rules(&a.rules)?;
    let filter = backtrail_hunt::Filter {
        since,
        until,
        accounts: a.accounts.clone(),
    };
    let hunt = crate::commands::hunt::run(&engine, &set, &filter, &a.store.store)?;
    let mut signals: std::collections::BTreeMap<_, Vec<Signal>> = Default::default();
    for s in hunt.sessions {
        let key = backtrail_model::SessionKey {
            access_key_id: s.access_key_id.clone(),
            arn: s.arn.clone(),
            creation_date: s.creation_ms,
        };
        signals
            .entry(key)
            .or_default()
            .extend(s.hits.iter().map(|h| Signal {
                rule: h.title.clone(),
                level: h.level,
                events: h.events,
                evidence_event_ids: h.sample_event_ids.clone(),
            }));
    }
    // Every session of the store is ranked, so that "never used before" looks at the
    // principal's whole history; the window and accounts then pick the rows shown.
    let rows: Vec<backtrail_model::SessionSummary> = engine.select("SELECT * FROM sessions")?;
    let ranked = rank_sessions(rows, &signals);
    let shown = |r: &backtrail_analysis::risk::RankedSession| {
        let first = parse_iso(&r.first_seen).unwrap_or(i64::MIN);
        let last = parse_iso(&r.last_seen).unwrap_or(i64::MAX);
        since.is_none_or(|s| last >= s)
            && until.is_none_or(|u| first <= u)
            && (a.accounts.is_empty()
                || r.account_id
                    .as_ref()
                    .is_some_and(|x| a.accounts.contains(x)))
    };
    let ranked: Vec<_> = ranked.into_iter().filter(shown).take(a.limit).collect();
    let mut out = std::io::stdout().lock();
    match a.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &ranked)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            writeln!(out)?;
        }
        _ => write!(
            out,
            "{}",
            backtrail_render::sessions::render(&ranked, terminal_width())
        )?,
    }
    Ok(())
}
