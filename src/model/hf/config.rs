//! Typed, path-aware reads from a config.json object: every error names the file and the field,
//! and every field read is logged by path, so callers learn which fields shape the model.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Largest size kvsim accepts for any dimension or count (2^26 ≈ 67M): far above any real model,
/// low enough that products of sizes stay within u128 and absurd inputs are rejected early.
pub(crate) const MAX_SIZE: u64 = 1 << 26;

/// Largest head count, head dimension, kernel or group count (2^16): products of three such
/// sizes with a hidden size must stay far inside 64 bits.
pub(crate) const MAX_HEAD_SIZE: u64 = 1 << 16;

/// The limit of a field, by what it counts.
fn limit(key: &str) -> u64 {
    let k = key.rsplit('.').next().unwrap_or(key);
    if k.contains("heads")
        || k.contains("head_dim")
        || k.contains("kernel")
        || k == "o_groups"
        || k == "num_hidden_layers"
    {
        MAX_HEAD_SIZE
    } else {
        MAX_SIZE
    }
}

/// Paths of the fields read so far (`num_hidden_layers`, `text_config.head_dim`, ...), shared by a
/// view and the views nested in it.
pub(crate) type ReadLog = RefCell<BTreeSet<String>>;

/// A view of one JSON object with the path that leads to it. The object is private: every access
/// goes through a reader that logs the field, so the log cannot miss a field that was looked at.
pub(crate) struct Cfg<'a> {
    file: &'a str,
    prefix: String,
    map: &'a Map<String, Value>,
    log: &'a ReadLog,
    /// Keys of this view already logged: layers re-read the same keys, and this spares building
    /// their paths each time.
    noted: RefCell<BTreeSet<String>>,
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
    /// The top-level object of `file`, logging into `log`.
    pub fn root(file: &'a str, map: &'a Map<String, Value>, log: &'a ReadLog) -> Self {
        Cfg {
            file,
            prefix: String::new(),
            map,
            log,
            noted: RefCell::default(),
        }
    }

    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// Records that `key` was read.
    fn note(&self, key: &str) {
        if self.noted.borrow().contains(key) {
            return;
        }
        self.noted.borrow_mut().insert(key.to_string());
        self.log.borrow_mut().insert(self.path(key));
    }

    fn err(&self, key: &str, found: impl std::fmt::Display, expected: &str) -> Error {
        Error::field(self.file, self.path(key), found, expected)
    }

    /// The value, or None when absent or null; logged, since presence alone can steer the import.
    pub fn raw(&self, key: &str) -> Option<&'a Value> {
        self.note(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value, not logged: for warnings only, never for a value that shapes the model (the log
    /// tells `--set` which fields matter).
    pub fn peek(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Whether the field is present with an explicit null (logged like any read).
    pub fn is_null(&self, key: &str) -> bool {
        self.note(key);
        self.map.get(key).is_some_and(Value::is_null)
    }

    /// Keys of this object, in file order. Not logged: the object itself was logged when it was
    /// reached, and each value read from it is logged by its reader.
    pub fn keys(&self) -> impl Iterator<Item = &'a str> {
        self.map.keys().map(String::as_str)
    }

    /// A nested object (e.g. `text_config`).
    pub fn nested(&self, key: &str) -> Result<Option<Cfg<'a>>> {
        match self.raw(key) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(Cfg {
                file: self.file,
                prefix: self.path(key),
                map: m,
                log: self.log,
                noted: RefCell::default(),
            })),
            Some(v) => Err(self.err(key, kind(v), "an object")),
        }
    }

    fn integer(&self, key: &str, v: &Value, min: u64) -> Result<u64> {
        let max = limit(key);
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
            Some(n) if n > max => {
                Err(self.err(key, kind(v), &format!("{expected} no larger than {max}")))
            }
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

    /// An optional positive finite number no larger than `max` (scaling factors, fractions).
    pub fn positive_opt(&self, key: &str, max: f64) -> Result<Option<f64>> {
        match self.raw(key) {
            None => Ok(None),
            Some(v @ Value::Number(n)) => match n.as_f64() {
                Some(f) if f > 0.0 && f <= max => Ok(Some(f)),
                _ => Err(self.err(key, kind(v), &format!("a number above 0, at most {max}"))),
            },
            Some(v) => Err(self.err(key, kind(v), &format!("a number above 0, at most {max}"))),
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

/// A JSON value parsed strictly: a key twice in one object is an error (serde_json would keep the
/// last one silently, and a config with two `num_key_value_heads` is ambiguous).
struct Strict(Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        serde::Deserialize::deserialize(d).map(|s: Strict| s.0)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Parses config text, rejecting duplicate keys; errors carry line and column.
pub fn parse_strict(file: &str, text: &str) -> Result<Value> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed =
        <Strict as serde::Deserialize>::deserialize(&mut de).and_then(|v| de.end().map(|_| v.0));
    parsed.map_err(|e| {
        // serde_json does not say whose value a bad number is (`1e400`): name the key before it.
        let field = e
            .to_string()
            .starts_with("number out of range")
            .then(|| key_before(text, e.line(), e.column()))
            .flatten()
            .map(|k| format!(" (the value of `{k}`)"))
            .unwrap_or_default();
        Error::Syntax {
            file: file.to_string(),
            reason: format!(
                "invalid JSON at line {}, column {}{field}: {e}",
                e.line(),
                e.column()
            ),
        }
    })
}

/// The last object key (`"key":`) before 1-based `line`, `column` of `text`.
fn key_before(text: &str, line: usize, column: usize) -> Option<String> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let end = text.floor_char_boundary_compat(start + column);
    let before = &text[..end];
    let colon = before.rfind(':')?;
    let head = before[..colon].trim_end().strip_suffix('"')?;
    let open = head.rfind('"')?;
    Some(crate::text::escape_name(&head[open + 1..]))
}

/// `str::floor_char_boundary` for the stable toolchain.
trait FloorBoundary {
    fn floor_char_boundary_compat(&self, i: usize) -> usize;
}

impl FloorBoundary for str {
    fn floor_char_boundary_compat(&self, i: usize) -> usize {
        let mut i = i.min(self.len());
        while !self.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
