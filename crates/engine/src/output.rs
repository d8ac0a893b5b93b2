//! Query results as a terminal table, JSON, JSON Lines or CSV.

use crate::EngineError;
use arrow::array::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// Output formats of `backtrail query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryFormat {
    Table,
    Json,
    Jsonl,
    Csv,
}

/// Writes `batches` in `format`. Table cells have control characters replaced, so that
/// log values cannot move the cursor or recolour the terminal.
pub fn write(
    batches: &[RecordBatch],
    format: QueryFormat,
    out: &mut dyn std::io::Write,
) -> Result<(), EngineError> {
    let io = |e: std::io::Error| EngineError::Query(e.to_string());
    let ar = |e: arrow::error::ArrowError| EngineError::Query(e.to_string());
    match format {
        QueryFormat::Table => {
            let cleaned: Vec<RecordBatch> =
                batches.iter().map(sanitize).collect::<Result<_, _>>()?;
            let t = arrow::util::pretty::pretty_format_batches(&cleaned).map_err(ar)?;
            writeln!(out, "{t}").map_err(io)?;
        }
        QueryFormat::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b).map_err(ar)?;
            }
            w.finish().map_err(ar)?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                // The writer prints nothing for no rows; an empty array is still JSON.
                write!(out, "[]").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
        QueryFormat::Jsonl => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut *out);
            for b in batches {
                w.write(b).map_err(ar)?;
            }
            w.finish().map_err(ar)?;
        }
        QueryFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut *out);
            for b in batches {
                w.write(b).map_err(ar)?;
            }
        }
    }
    Ok(())
}

/// Every column as display strings with control characters made visible.
fn sanitize(b: &RecordBatch) -> Result<RecordBatch, EngineError> {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;
    let opts = FormatOptions::default().with_null("");
    let mut cols: Vec<ArrayRef> = Vec::new();
    let mut fields = Vec::new();
    for (i, f) in b.schema().fields().iter().enumerate() {
        let fmt = ArrayFormatter::try_new(b.column(i).as_ref(), &opts)
            .map_err(|e| EngineError::Query(e.to_string()))?;
        let vals: StringArray = (0..b.num_rows())
            .map(|r| Some(clean_cell(&fmt.value(r).to_string())))
            .collect();
        cols.push(Arc::new(vals));
        fields.push(Field::new(f.name(), DataType::Utf8, true));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)
        .map_err(|e| EngineError::Query(e.to_string()))
}

/// Replaces control characters (ANSI escapes, bidi overrides, newlines) with visible
/// escapes and cuts very long cells.
pub fn clean_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(200));
    for (n, c) in s.chars().enumerate() {
        if n >= 120 {
            out.push('…');
            break;
        }
        if backtrail_model::text::acts(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}
