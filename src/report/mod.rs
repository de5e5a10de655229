//! Exporters of a [`Report`](crate::evaluate::Report): one file per format behind one function each.

pub mod table;

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::str::FromStr;

/// Output formats of `kvsim eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        <Format as clap::ValueEnum>::from_str(s, true)
    }
}

/// Flattens a serialisable value into `(dotted.key, text)` pairs, in field order.
pub fn flatten<T: Serialize>(value: &T) -> Result<Vec<(String, String)>> {
    let v = serde_json::to_value(value)
        .map_err(|e| Error::internal(format!("serialising the report: {e}")))?;
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One CSV line (no newline), quoting cells that need it.
pub fn csv_line(cells: &[String]) -> String {
    cells
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",")
}

/// One Markdown table line, escaping pipes.
pub fn markdown_line(cells: &[String]) -> String {
    format!(
        "| {} |",
        cells
            .iter()
            .map(|c| c.replace('|', "\\|"))
            .collect::<Vec<_>>()
            .join(" | ")
    )
}

/// CSV: a header line and one line per row.
pub fn csv(rows: &[Vec<(String, String)>]) -> String {
    let mut out = String::new();
    if let Some(first) = rows.first() {
        out += &first
            .iter()
            .map(|(k, _)| csv_field(k))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
    }
    for r in rows {
        out += &r
            .iter()
            .map(|(_, v)| csv_field(v))
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
    }
    out
}

/// Markdown: a two-column key/value table for one row, a wide table for several.
pub fn markdown(rows: &[Vec<(String, String)>]) -> String {
    let esc = |s: &str| s.replace('|', "\\|");
    let mut out = String::new();
    if rows.len() == 1 {
        out += "| field | value |\n|---|---|\n";
        for (k, v) in &rows[0] {
            out += &format!("| {} | {} |\n", esc(k), esc(v));
        }
        return out;
    }
    if let Some(first) = rows.first() {
        out += &format!(
            "| {} |\n",
            first
                .iter()
                .map(|(k, _)| esc(k))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        out += &format!("|{}\n", "---|".repeat(first.len()));
    }
    for r in rows {
        out += &format!(
            "| {} |\n",
            r.iter()
                .map(|(_, v)| esc(v))
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    out
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

    #[test]
    fn flatten_and_quote() {
        let r = Row {
            a: 1,
            b: Inner { x: "p,q".into() },
            c: vec!["u".into(), "v".into()],
        };
        let f = flatten(&r).unwrap();
        assert_eq!(
            f,
            vec![
                ("a".into(), "1".into()),
                ("b.x".into(), "p,q".into()),
                ("c".into(), "u; v".into())
            ]
        );
        assert_eq!(csv(std::slice::from_ref(&f)), "a,b.x,c\n1,\"p,q\",u; v\n");
        assert!(markdown(&[f]).contains("| b.x | p,q |"));
    }
}
