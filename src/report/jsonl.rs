//! JSON lines: one compact object per record.

use super::Exporter;
use crate::error::Result;
use serde_json::Value;

/// One JSON object per line.
pub struct Jsonl;

impl Exporter for Jsonl {
    fn header(&self, _columns: &[String]) -> Result<String> {
        Ok(String::new())
    }

    fn row(&self, _cells: &[String], value: &Value) -> Result<String> {
        Ok(value.to_string() + "\n")
    }
}
