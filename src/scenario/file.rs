//! Scenario files (TOML): one key per knob (`tp = 8`, `context = "8k..1M:x2"`,
//! `kv = ["bf16", "fp8"]`, `dp_attention = true`, `set = ["num_hidden_layers=16,32"]`), read into
//! the same `(knob, values)` pairs the command line gives a sweep.

use super::knobs::{self, Knob, Values};
use crate::error::{Error, Result};

/// The knobs a scenario file sets, each with its comma-separated values (one entry per `set` axis).
pub type Settings = Vec<(&'static Knob, String)>;

/// Reads a scenario file.
pub fn read(path: &str) -> Result<Settings> {
    let text = crate::catalog::read(path)?;
    parse(path, &text)
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses the text of a scenario file (`path` names it in errors).
pub fn parse(path: &str, text: &str) -> Result<Settings> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Syntax {
        file: path.into(),
        reason: e.to_string().trim().replace('\n', " "),
    })?;
    let mut out = Vec::new();
    for (key, v) in &table {
        let bad = |expected: &str| Error::field(path, key, v.to_string(), expected);
        let k = knobs::knob(key).ok_or_else(|| bad(&format!("one of {}", knobs::names())))?;
        let items: Vec<String> = match v {
            toml::Value::Array(a) => a
                .iter()
                .map(|x| scalar(x).ok_or_else(|| bad("a list of strings, numbers or booleans")))
                .collect::<Result<_>>()?,
            other => {
                vec![scalar(other).ok_or_else(|| bad("a string, a number, a boolean or a list"))?]
            }
        };
        if k.values == Values::FieldValue {
            // Each `FIELD=v1,v2` is its own axis.
            out.extend(items.into_iter().map(|i| (k, i)));
        } else {
            out.push((k, items.join(",")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_knobs_and_lists_are_values() {
        let s = parse(
            "s.toml",
            "model = \"llama-3.1-8b\"\ntp = [1, 2]\ndp_attention = true\nset = [\"num_hidden_layers=16,32\", \"vocab_size=1000\"]\n",
        )
        .unwrap();
        let pairs: Vec<(&str, &str)> = s.iter().map(|(k, v)| (k.name, v.as_str())).collect();
        assert_eq!(
            pairs,
            vec![
                ("dp-attention", "true"),
                ("model", "llama-3.1-8b"),
                ("set", "num_hidden_layers=16,32"),
                ("set", "vocab_size=1000"),
                ("tp", "1,2")
            ]
        );
        let e = parse("s.toml", "tensor_parallel = 8")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("s.toml: tensor_parallel") && e.contains("one of model"),
            "{e}"
        );
    }
}
