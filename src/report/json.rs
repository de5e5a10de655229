//! One pretty-printed JSON document.

use super::{Document, Exporter};
use crate::error::{Error, Result};
use serde_json::Value;

/// JSON: the document's value, indented.
pub struct Json;

fn pretty(v: &Value) -> Result<String> {
    serde_json::to_string_pretty(v)
        .map(|s| s + "\n")
        .map_err(|e| Error::internal(format!("serialising JSON: {e}")))
}

impl Exporter for Json {
    /// A stream of JSON documents has no header: each row is a document of its own.
    fn header(&self, _columns: &[String]) -> Result<String> {
        Ok(String::new())
    }

    fn row(&self, _cells: &[String], value: &Value) -> Result<String> {
        pretty(value)
    }

    fn document(&self, doc: &Document) -> Result<String> {
        pretty(&doc.value)
    }
}
