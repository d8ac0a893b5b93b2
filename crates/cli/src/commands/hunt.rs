//! `hunt`: Sigma rules over the store, hits grouped by session.

use crate::args::HuntArgs;
use crate::commands::investigate::time;
use crate::hunting::{rules, run};
use crate::output::{Format, Output};
use crate::{CliError, ExitStatus};
use backtrail_hunt::Filter;

/// `backtrail hunt`.
pub fn hunt(a: HuntArgs) -> Result<(), CliError> {
    let set = rules(&a.rules)?;
    for s in &set.skipped {
        crate::terminal::warn(&crate::terminal::clean(&format!(
            "rule not run: {} ({}): {}",
            s.title.as_deref().unwrap_or("-"),
            s.source,
            s.reason
        )));
    }
    if set.rules.is_empty() {
        return Err(CliError::new(
            ExitStatus::Input,
            "no rule that can run: every rule given was skipped (see the reasons above)",
        ));
    }
    let engine = crate::commands::open(&a.store)?;
    let filter = Filter {
        since: time("since", &a.since)?,
        until: time("until", &a.until)?,
        accounts: a.accounts.clone(),
    };
    let report = run(&engine, &set, &filter, &a.store.store)?;
    Output::json(&report)
        .text(Format::Text, || Ok(backtrail_render::hunt::render(&report)))
        .text(Format::Markdown, || {
            Ok(backtrail_render::hunt::markdown(&report))
        })
        .text(Format::Csv, || Ok(backtrail_render::hunt::csv(&report)))
        .print(a.format.into())
}
