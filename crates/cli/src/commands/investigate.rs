//! `who` (and the commands built on it): subject or finding in, report out.

use crate::args::{ReportFormat, SubjectArgs, WhoArgs};
use crate::{CliError, ExitStatus};
use backtrail_analysis::chain::{self, WhoReport};
use backtrail_analysis::subject::{Finding, Subject};
use backtrail_engine::Engine;
use backtrail_model::Window;
use backtrail_model::time::parse_iso;
use std::io::Write;

const HOUR_MS: i64 = 3_600_000;

fn time(name: &str, v: &Option<String>) -> Result<Option<i64>, CliError> {
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
    let engine = Engine::open(&a.subject.store.store)?;
    let report = who_report(&engine, &a.subject)?;
    let mut out = std::io::stdout().lock();
    match a.subject.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &report)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            writeln!(out)?;
        }
        ReportFormat::Text => write!(out, "{}", backtrail_render::who::render(&report))?,
    }
    if report.sessions.is_empty() {
        return Err(CliError::new(
            ExitStatus::NotFound,
            format!("no session in the store matches {}", report.subject),
        ));
    }
    Ok(())
}
