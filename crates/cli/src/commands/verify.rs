//! `backtrail verify`: digest signatures and chains, log file hashes, logging changes; the
//! result is kept in the store for `investigate`.

use crate::args::VerifyArgs;
use crate::output::{Format, Output};
use crate::{CliError, ExitStatus};
use backtrail_sources::Sources;
use backtrail_verify::PublicKeys;

pub fn run(a: VerifyArgs) -> Result<(), CliError> {
    let filter = crate::commands::ingest::filter(&a.scope)?;
    let mut keys = PublicKeys::default();
    for p in &a.public_keys {
        let fail = |m: String| CliError::new(ExitStatus::Input, format!("{}: {m}", p.display()));
        let text = std::fs::read_to_string(p).map_err(|e| fail(e.to_string()))?;
        keys.add_json(&text).map_err(|e| fail(e.to_string()))?;
    }
    let sources = Sources::new()?;
    let discovery = sources.discover(&a.sources, &filter)?;
    let mut v = backtrail_verify::verify(&sources, &a.sources, &discovery, &keys, &filter);
    let store = &a.store.store;
    if store.join("manifest.json").is_file() {
        crate::verification::attach_logging(store, &filter, &mut v)?;
        crate::verification::save(store, &v)?;
    } else {
        v.report.notes.push(format!(
            "{} is not a backtrail store: logging changes were not looked for and the result \
             was not kept",
            store.display()
        ));
    }
    Output::json(&v.report)
        .text(Format::Text, || {
            Ok(backtrail_verify::render::text(&v.report))
        })
        .text(Format::Markdown, || {
            Ok(backtrail_verify::render::markdown(&v.report))
        })
        .print(a.format.into())?;
    if v.report.summary.problems {
        return Err(CliError::new(
            ExitStatus::Problems,
            "verification found problems (see the report)",
        ));
    }
    Ok(())
}
