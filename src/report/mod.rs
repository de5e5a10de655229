//! Exporters: one file per output format behind one trait ([`Exporter`]), used by every
//! subcommand. A record is a serialisable value; its flattened `(dotted.key, text)` pairs are the
//! cells of the row formats (CSV, Markdown, table), the value itself feeds JSON and JSON lines.
//! To add a format: its file with an [`Exporter`], a [`Format`] variant and one line in
//! [`Format::exporter`].

mod csv;
pub mod eval_table;
mod json;
mod jsonl;
mod markdown;
pub mod parquet;
pub mod rows;
mod table;

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Text tables for people.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
    /// A Markdown table.
    Markdown,
}

impl Format {
    /// The exporter of this format.
    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            Format::Table => &table::Table,
            Format::Json => &json::Json,
            Format::Jsonl => &jsonl::Jsonl,
            Format::Csv => &csv::Csv,
            Format::Markdown => &markdown::Markdown,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        <Format as clap::ValueEnum>::from_str(s, true)
    }
}

/// A document to export: its records as cells under `columns`, and as one JSON value (an object
/// for a single record, an array otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub value: Value,
}

fn to_value<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(format!("serialising the output: {e}")))
}

impl Document {
    /// One record (`eval`): JSON writes an object, Markdown a field/value table.
    pub fn one<T: Serialize>(record: &T) -> Result<Document> {
        let flat = flatten(record)?;
        Ok(Document {
            columns: flat.iter().map(|(k, _)| k.clone()).collect(),
            rows: vec![flat.into_iter().map(|(_, v)| v).collect()],
            value: to_value(record)?,
        })
    }

    /// A list of records of one shape (the first record's keys are the columns).
    pub fn records<T: Serialize>(records: &[T]) -> Result<Document> {
        let flat: Vec<Vec<(String, String)>> =
            records.iter().map(flatten).collect::<Result<_>>()?;
        Ok(Document {
            columns: flat
                .first()
                .map(|r| r.iter().map(|(k, _)| k.clone()).collect())
                .unwrap_or_default(),
            rows: flat
                .into_iter()
                .map(|r| r.into_iter().map(|(_, v)| v).collect())
                .collect(),
            value: to_value(&records)?,
        })
    }

    /// A table of display cells with its own JSON value (`compare`).
    pub fn table<T: Serialize>(
        columns: Vec<String>,
        rows: Vec<Vec<String>>,
        value: &T,
    ) -> Result<Document> {
        Ok(Document {
            columns,
            rows,
            value: to_value(value)?,
        })
    }
}

/// Writes records in one format. Row formats stream: `header` once, then `row` per record.
pub trait Exporter: Sync {
    /// Text before the first row (CSV header, Markdown header and rule; nothing for JSON lines).
    fn header(&self, columns: &[String]) -> Result<String>;
    /// One record, newline-terminated: its cells in column order and its value.
    fn row(&self, cells: &[String], value: &Value) -> Result<String>;
    /// A whole document.
    fn document(&self, doc: &Document) -> Result<String> {
        let mut out = self.header(&doc.columns)?;
        let values: Vec<&Value> = match &doc.value {
            Value::Array(a) if a.len() == doc.rows.len() => a.iter().collect(),
            v => vec![v; doc.rows.len()],
        };
        for (cells, value) in doc.rows.iter().zip(values) {
            out += &self.row(cells, value)?;
        }
        Ok(out)
    }
}

/// Flattens a serialisable value into `(dotted.key, text)` pairs, in field order.
pub fn flatten<T: Serialize>(value: &T) -> Result<Vec<(String, String)>> {
    let v = to_value(value)?;
    let mut out = Vec::new();
    walk("", &v, &mut out);
    Ok(out)
}

fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                walk(&key, x, out);
            }
        }
        Value::Array(a) => {
            // Lists become one cell: scalars joined by "; ", objects as space-separated key=value.
            let item = |x: &Value| match x {
                Value::String(s) => s.clone(),
                Value::Object(_) => {
                    let mut inner = Vec::new();
                    walk("", x, &mut inner);
                    inner
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
                other => other.to_string(),
            };
            out.push((
                prefix.to_string(),
                a.iter().map(item).collect::<Vec<_>>().join("; "),
            ));
        }
        Value::String(s) => out.push((prefix.to_string(), s.clone())),
        Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((prefix.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Row {
        a: u64,
        b: Inner,
        c: Vec<String>,
    }
    #[derive(Serialize)]
    struct Inner {
        x: String,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                a: 1,
                b: Inner { x: "p,q".into() },
                c: vec!["u".into(), "v".into()],
            },
            Row {
                a: 2,
                b: Inner { x: "a|b".into() },
                c: vec![],
            },
        ]
    }

    #[test]
    fn flatten_nests_and_joins() {
        assert_eq!(
            flatten(&rows()[0]).unwrap(),
            vec![
                ("a".into(), "1".into()),
                ("b.x".into(), "p,q".into()),
                ("c".into(), "u; v".into())
            ]
        );
    }

    #[test]
    fn every_format_renders_the_same_records() {
        let doc = Document::records(&rows()).unwrap();
        let csv = Format::Csv.exporter().document(&doc).unwrap();
        assert_eq!(csv, "a,b.x,c\n1,\"p,q\",u; v\n2,a|b,\n");
        let jsonl = Format::Jsonl.exporter().document(&doc).unwrap();
        assert_eq!(
            jsonl,
            "{\"a\":1,\"b\":{\"x\":\"p,q\"},\"c\":[\"u\",\"v\"]}\n{\"a\":2,\"b\":{\"x\":\"a|b\"},\"c\":[]}\n"
        );
        let json = Format::Json.exporter().document(&doc).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), doc.value);
        let md = Format::Markdown.exporter().document(&doc).unwrap();
        assert!(md.starts_with("| a "), "{md}");
        assert!(md.contains("a\\|b"), "{md}");
        let table = Format::Table.exporter().document(&doc).unwrap();
        assert!(table.contains("p,q") && table.contains("b.x"), "{table}");
    }

    #[test]
    fn one_record_is_an_object_and_a_field_table() {
        let doc = Document::one(&rows()[0]).unwrap();
        assert!(Format::Json
            .exporter()
            .document(&doc)
            .unwrap()
            .starts_with('{'));
        let md = Format::Markdown.exporter().document(&doc).unwrap();
        assert!(md.contains("| b.x   | p,q   |"), "{md}");
    }
}
