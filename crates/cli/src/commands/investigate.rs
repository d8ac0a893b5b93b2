//! `who` (and the commands built on it): subject or finding in, report out.

use crate::args::{ReportArgs, SessionsArgs, SubjectArgs, WhoArgs};
use crate::commands::open;
use crate::output::{Format, Output};
use crate::{CliError, ExitStatus};
use backtrail_analysis::chain::{self, WhoReport};
use backtrail_analysis::subject::{Finding, Subject};
use backtrail_engine::Engine;
use backtrail_model::Window;
use backtrail_model::time::parse_iso;
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

/// `who`.
pub fn who(a: WhoArgs) -> Result<(), CliError> {
    let engine = open(&a.subject.store)?;
    let report = who_report(&engine, &a.subject)?;
    Output::json(&report)
        .text(Format::Text, || Ok(backtrail_render::who::render(&report)))
        .print(a.format.into())?;
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
pub fn report(a: ReportArgs, kind: Kind) -> Result<(), CliError> {
    use backtrail_analysis::investigate::{Options, investigate};
    use backtrail_render::investigate::{Parts, csv, markdown, render};
    if let Some(path) = &a.report.html {
        check_writable(path)?;
    }
    let engine = open(&a.subject.store)?;
    let who = who_report(&engine, &a.subject)?;
    if who.sessions.is_empty() {
        return Err(not_found(&who));
    }
    let geo = a
        .report
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
        source_ips: a.report.source_ips.clone(),
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
    let doc = crate::commands::integrity::WithIntegrity {
        investigation: &inv,
        integrity: integrity.as_ref(),
    };
    Output::json(&doc)
        .text(Format::Text, || {
            Ok(render(&inv, parts, terminal_width())
                + &backtrail_verify::render::evidence_text(integrity.as_ref()))
        })
        .text(Format::Markdown, || {
            Ok(markdown(&inv) + &backtrail_verify::render::evidence_markdown(integrity.as_ref()))
        })
        .text(Format::Csv, || Ok(csv(&inv)))
        .text(Format::Html, || html(&engine, &inv, integrity.as_ref()))
        .print(a.format.into())?;
    if let Some(path) = &a.report.html {
        std::fs::write(path, html(&engine, &inv, integrity.as_ref())?)
            .map_err(|e| CliError::new(ExitStatus::Failure, format!("{}: {e}", path.display())))?;
        crate::terminal::note(&format!("report written to {}", path.display()));
    }
    Ok(())
}

/// The HTML report with the evidence it embeds (credentials in it redacted) and the
/// integrity box.
fn html(
    engine: &Engine,
    inv: &backtrail_analysis::investigate::Investigation,
    integrity: Option<&backtrail_verify::EvidenceIntegrity>,
) -> Result<String, CliError> {
    let evidence = backtrail_analysis::evidence::report_events(engine, inv)?
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
pub fn sessions(a: SessionsArgs) -> Result<(), CliError> {
    use backtrail_analysis::triage::{Selection, ranked_sessions, signals};
    let engine = open(&a.store)?;
    let since = time("since", &a.since)?;
    let until = time("until", &a.until)?;
    let set = crate::hunting::rules(&a.rules)?;
    let filter = backtrail_hunt::Filter {
        since,
        until,
        accounts: a.accounts.clone(),
    };
    let hunt = crate::hunting::run(&engine, &set, &filter, &a.store.store)?;
    let select = Selection {
        since,
        until,
        accounts: a.accounts.clone(),
        limit: a.limit,
    };
    let ranked = ranked_sessions(&engine, &signals(&hunt), &select)?;
    // Only JSON has a form of its own; every other format prints the table.
    let format = match Format::from(a.format) {
        Format::Json => Format::Json,
        _ => Format::Text,
    };
    Output::json(&ranked)
        .text(Format::Text, || {
            Ok(backtrail_render::sessions::render(
                &ranked,
                terminal_width(),
            ))
        })
        .print(format)
}
