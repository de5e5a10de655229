//! CSV (RFC 4180, quoting only where needed) through the `csv` crate.

use super::Exporter;
use crate::error::{Error, Result};
use serde_json::Value;

/// Comma-separated values with a header line.
pub struct Csv;

fn line(cells: &[String]) -> Result<String> {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::with_capacity(cells.iter().map(|c| c.len() + 1).sum()));
    w.write_record(cells)
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))?;
    let bytes = w
        .into_inner()
        .map_err(|e| Error::internal(format!("writing CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::internal(format!("writing CSV: {e}")))
}

impl Exporter for Csv {
    fn header(&self, columns: &[String]) -> Result<String> {
        line(columns)
    }

    fn row(&self, cells: &[String], _value: &Value) -> Result<String> {
        line(cells)
    }
}
