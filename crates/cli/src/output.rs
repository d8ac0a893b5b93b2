//! Writing a command's result to stdout in the `--format` asked for. Every command says
//! once how it writes each format it offers (its `--format` enum lists exactly those, so
//! clap refuses the others); JSON documents are written here, the same way for all.

use crate::{CliError, ExitStatus};
use serde::Serialize;
use std::io::Write;

/// Every output format of every command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    /// One pretty-printed JSON document (the contract of docs/report-format.md).
    Json,
    /// JSON Lines (query results).
    Jsonl,
    Csv,
    Markdown,
    Html,
    /// An aligned table (query results).
    Table,
}

/// Writes one format of a result.
type Writer<'a> = Box<dyn FnOnce(&mut dyn Write) -> Result<(), CliError> + 'a>;

/// A result and the way each of its formats is written.
#[derive(Default)]
pub struct Output<'a> {
    writers: Vec<(Format, Writer<'a>)>,
}

impl<'a> Output<'a> {
    /// A result with no format yet.
    pub fn new() -> Self {
        Output::default()
    }

    /// A result whose JSON is `doc`, pretty-printed with a final newline.
    pub fn json<T: Serialize + ?Sized>(doc: &'a T) -> Self {
        Output::new().stream(Format::Json, move |out| {
            serde_json::to_writer_pretty(&mut *out, doc)
                .map_err(|e| CliError::new(ExitStatus::Failure, e.to_string()))?;
            writeln!(out)?;
            Ok(())
        })
    }

    /// `format` is the text `render` makes.
    pub fn text(
        self,
        format: Format,
        render: impl FnOnce() -> Result<String, CliError> + 'a,
    ) -> Self {
        self.stream(format, move |out| {
            write!(out, "{}", render()?)?;
            Ok(())
        })
    }

    /// `format` is written by `write` as it goes (results too large to hold twice).
    pub fn stream(
        mut self,
        format: Format,
        write: impl FnOnce(&mut dyn Write) -> Result<(), CliError> + 'a,
    ) -> Self {
        self.writers.push((format, Box::new(write)));
        self
    }

    /// Writes the result in `format` to stdout.
    pub fn print(self, format: Format) -> Result<(), CliError> {
        let write = self
            .writers
            .into_iter()
            .find_map(|(f, w)| (f == format).then_some(w))
            .ok_or_else(|| {
                CliError::new(
                    ExitStatus::Usage,
                    format!("this command does not print {format:?}"),
                )
            })?;
        let mut out = std::io::stdout().lock();
        write(&mut out)?;
        out.flush()?;
        Ok(())
    }
}
