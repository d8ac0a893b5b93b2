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
/// log values cannot move the cursor or recolour the terminal; CSV fields are quoted and
/// neutralised the same way, and cannot start a spreadsheet formula.
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
        QueryFormat::Csv => write_csv(batches, out)?,
    }
    Ok(())
}

/// CSV with a header, every field quoted. Text goes through
/// [`backtrail_model::text::csv_field`] (no formula, nothing that acts on a terminal);
/// numbers and booleans are written as they are, since `-5` is a number, not a formula.
fn write_csv(batches: &[RecordBatch], out: &mut dyn std::io::Write) -> Result<(), EngineError> {
    use backtrail_model::text::csv_field;
    let io = |e: std::io::Error| EngineError::Query(e.to_string());
    let Some(first) = batches.first() else {
        return Ok(());
    };
    let schema = first.schema();
    let head: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| csv_field(f.name()))
        .collect();
    writeln!(out, "{}", head.join(",")).map_err(io)?;
    let literal: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| {
            f.data_type().is_numeric() || *f.data_type() == arrow::datatypes::DataType::Boolean
        })
        .collect();
    let opts = FormatOptions::default().with_null("");
    let mut line = String::new();
    for b in batches {
        let fmts = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Query(e.to_string()))?;
        for r in 0..b.num_rows() {
            line.clear();
            for (i, f) in fmts.iter().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                let v = f.value(r).to_string();
                if literal[i] {
                    line.push('"');
                    line.push_str(&v);
                    line.push('"');
                } else {
                    line.push_str(&csv_field(&v));
                }
            }
            line.push('\n');
            out.write_all(line.as_bytes()).map_err(io)?;
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
        fields.push(Field::new(clean_cell(f.name()), DataType::Utf8, true));
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
