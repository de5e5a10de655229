//! Text tables for people (comfy-table). `eval` has its own view in [`super::eval_table`].

use super::{Document, Exporter};
use crate::error::Result;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use serde_json::Value;

/// A text table.
pub struct Table;

impl Exporter for Table {
    /// A table needs every row to size its columns: streaming writes tab-separated lines.
    fn header(&self, columns: &[String]) -> Result<String> {
        Ok(columns.join("\t") + "\n")
    }

    fn row(&self, cells: &[String], _value: &Value) -> Result<String> {
        Ok(cells.join("\t") + "\n")
    }

    fn document(&self, doc: &Document) -> Result<String> {
        let mut t = comfy_table::Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(doc.columns.clone());
        for r in &doc.rows {
            t.add_row(r.clone());
        }
        Ok(t.to_string() + "\n")
    }
}
