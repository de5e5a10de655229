//! Markdown tables: comfy-table's Markdown preset for whole documents, plain `| a | b |` lines
//! when streaming (a sweep cannot know its column widths in advance).

use super::{Document, Exporter};
use crate::error::Result;
use serde_json::Value;

/// A Markdown table.
pub struct Markdown;

/// Pipes would end a cell early.
fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

fn line(cells: &[String]) -> String {
    format!(
        "| {} |\n",
        cells
            .iter()
            .map(|c| escape(c))
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

fn aligned(header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    t.set_header(header);
    for r in rows {
        t.add_row(r);
    }
    t.to_string() + "\n"
}

impl Exporter for Markdown {
    fn header(&self, columns: &[String]) -> Result<String> {
        Ok(line(columns) + &format!("|{}\n", "---|".repeat(columns.len())))
    }

    fn row(&self, cells: &[String], _value: &Value) -> Result<String> {
        Ok(line(cells))
    }

    /// One record reads best as a field/value table; several as one row each.
    fn document(&self, doc: &Document) -> Result<String> {
        let esc = |r: &Vec<String>| r.iter().map(|c| escape(c)).collect::<Vec<_>>();
        if doc.rows.len() == 1 {
            let rows = doc
                .columns
                .iter()
                .zip(&doc.rows[0])
                .map(|(k, v)| vec![escape(k), escape(v)])
                .collect();
            return Ok(aligned(vec!["field".into(), "value".into()], rows));
        }
        Ok(aligned(
            esc(&doc.columns),
            doc.rows.iter().map(esc).collect(),
        ))
    }
}
