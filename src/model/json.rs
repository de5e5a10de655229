//! Typed, path-aware reads from a config.json object: every error names the file and the field.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Largest size kvsim accepts for any dimension or count (2^26 ≈ 67M): far above any real model,
/// low enough that products of sizes stay within u128 and absurd inputs are rejected early.
pub(crate) const MAX_SIZE: u64 = 1 << 26;

/// A view of one JSON object with the path that leads to it.
pub(crate) struct Cfg<'a> {
    pub file: &'a str,
    pub prefix: String,
    pub map: &'a Map<String, Value>,
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null (unverified or missing)".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

impl<'a> Cfg<'a> {
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn err(&self, key: &str, found: impl std::fmt::Display, expected: &str) -> Error {
        Error::field(self.file, self.path(key), found, expected)
    }

    /// The value, or None when absent or null.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A nested object (e.g. `text_config`).
    pub fn nested(&self, key: &str) -> Result<Option<Cfg<'a>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Cfg {
                file: self.file,
                prefix: self.path(key),
                map: m,
            })),
            Some(v) => Err(self.err(key, kind(v), "an object")),
        }
    }

    fn integer(&self, key: &str, v: &Value, min: u64) -> Result<u64> {
        let expected = if min == 0 {
            "a non-negative integer"
        } else {
            "a positive integer"
        };
        let n = match v {
            Value::Number(n) => n.as_u64().or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1e18)
                    .map(|f| f as u64)
            }),
            _ => None,
        };
        match n {
            Some(n) if n < min => Err(self.err(key, kind(v), expected)),
            Some(n) if n > MAX_SIZE => Err(self.err(
                key,
                kind(v),
                &format!("{expected} no larger than {MAX_SIZE}"),
            )),
            Some(n) => Ok(n),
            None => Err(self.err(key, kind(v), expected)),
        }
    }

    /// A required positive size.
    pub fn size(&self, key: &str) -> Result<u64> {
        match self.raw(key) {
            Some(v) => self.integer(key, v, 1),
            None => Err(self.err(
                key,
                if self.map.contains_key(key) {
                    "null (unverified)"
                } else {
                    "nothing"
                },
                "a positive integer",
            )),
        }
    }

    /// An optional positive size.
    pub fn size_opt(&self, key: &str) -> Result<Option<u64>> {
        self.raw(key).map(|v| self.integer(key, v, 1)).transpose()
    }

    /// An optional count that may be zero.
    pub fn count_or(&self, key: &str, default: u64) -> Result<u64> {
        self.raw(key)
            .map_or(Ok(default), |v| self.integer(key, v, 0))
    }

    /// An optional boolean.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(self.err(key, kind(v), "true or false")),
        }
    }

    /// An optional string.
    pub fn string(&self, key: &str) -> Result<Option<&'a str>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(self.err(key, kind(v), "a string")),
        }
    }

    /// An optional list of non-negative integers.
    pub fn list_u64(&self, key: &str) -> Result<Option<Vec<u64>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| self.integer(&format!("{key}[{i}]"), v, 0))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.err(key, kind(v), "a list of integers")),
        }
    }

    /// An optional list of strings.
    pub fn list_str(&self, key: &str) -> Result<Option<Vec<&'a str>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Array(a)) => a
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str()
                        .ok_or_else(|| self.err(&format!("{key}[{i}]"), kind(v), "a string"))
                })
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(v) => Err(self.err(key, kind(v), "a list of strings")),
        }
    }

    /// A field error at `key` (for checks that span fields).
    pub fn invalid(&self, key: &str, found: impl std::fmt::Display, expected: &str) -> Error {
        self.err(key, found, expected)
    }
}
