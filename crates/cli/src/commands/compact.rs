//! `backtrail compact`.

use crate::CliError;
use crate::args::CompactArgs;
use crate::output::{Format, Output};
use backtrail_store::Store;
use backtrail_store::compact::CompactOptions;

/// Merges the store's small segments and prints what changed.
pub fn run(a: CompactArgs) -> Result<(), CliError> {
    let store = Store::open(&a.store)?;
    let s = store.compact(&CompactOptions {
        segment_rows: a.segment_rows.max(1),
        ..CompactOptions::default()
    })?;
    Output::json(&s)
        .text(Format::Text, || {
            Ok(format!(
                "compacted {} segments into {} ({} events rewritten) in {:.1}s\n",
                s.segments_before, s.segments_after, s.events_rewritten, s.seconds
            ))
        })
        .print(if a.json { Format::Json } else { Format::Text })
}
