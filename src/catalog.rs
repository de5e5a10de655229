//! The built-in catalog (configs/ embedded at build time) and loading of user files.

use crate::chip::Chip;
use crate::error::{Error, Result};
use crate::model::{hf, Model};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// Short names people use for catalog entries.
const ALIASES: &[(&str, &str)] = &[
    ("kimi-k2", "kimi-k2-instruct"),
    ("qwen2.5-72b", "qwen2.5-72b-instruct"),
    ("mistral-7b", "mistral-7b-v0.1"),
    ("mixtral-8x7b", "mixtral-8x7b-v0.1"),
    ("mixtral-8x22b", "mixtral-8x22b-v0.1"),
    ("h100", "h100-sxm"),
    ("a100", "a100-sxm"),
    ("h200-sxm", "h200"),
    ("gaudi-3", "gaudi3"),
];

fn resolve(id: &str) -> String {
    let l = id.trim().to_ascii_lowercase();
    ALIASES
        .iter()
        .find(|(a, _)| *a == l)
        .map_or(l, |(_, t)| t.to_string())
}

/// Ids of the built-in models.
pub fn model_ids() -> impl Iterator<Item = &'static str> {
    MODELS.iter().map(|(id, _)| *id)
}

/// Ids of the built-in chips.
pub fn chip_ids() -> impl Iterator<Item = &'static str> {
    CHIPS.iter().map(|(id, _)| *id)
}

fn looks_like_path(spec: &str) -> bool {
    spec.contains('/') || spec.contains('\\') || spec.ends_with(".json") || spec.ends_with(".toml")
}

fn read(path: &str) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::Io {
        file: path.to_string(),
        reason: e.to_string(),
    })
}

/// Loads a model by catalog id or from a config.json path.
pub fn load_model(spec: &str) -> Result<Model> {
    load_model_with(spec, &[])
}

/// Loads a model and applies `--set field=value` edits to its config before importing it; the
/// edited config is validated like a file, and errors name the edits.
pub fn load_model_with(spec: &str, sets: &[String]) -> Result<Model> {
    let (file, id, text) = if looks_like_path(spec) {
        let id = Path::new(spec)
            .file_stem()
            .map_or(spec.into(), |s| s.to_string_lossy().into_owned());
        (spec.to_string(), id, read(spec)?)
    } else {
        let id = resolve(spec);
        match MODELS.iter().find(|(m, _)| *m == id) {
            Some((m, text)) => (
                format!("configs/models/{m}.json"),
                m.to_string(),
                text.to_string(),
            ),
            None => {
                return Err(Error::UnknownId {
                    kind: "model",
                    id: spec.to_string(),
                    known: model_ids().collect::<Vec<_>>().join(", "),
                })
            }
        }
    };
    if sets.is_empty() {
        return hf::import(&file, &id, &text);
    }
    let mut value = hf::parse_strict(&file, &text)?;
    crate::whatif::apply_sets(&mut value, sets)?;
    let label = sets.join(", ");
    hf::import_value(
        &format!("{file} (with --set {label})"),
        &format!("{id} [set {label}]"),
        &value,
    )
    .map(|imported| imported.model)
}

/// Loads a chip by catalog id or from a TOML path.
pub fn load_chip(spec: &str) -> Result<Chip> {
    if looks_like_path(spec) {
        return Chip::from_toml(spec, &read(spec)?);
    }
    let id = resolve(spec);
    match CHIPS.iter().find(|(c, _)| *c == id) {
        Some((c, text)) => Chip::from_toml(&format!("configs/chips/{c}.toml"), text),
        None => Err(Error::UnknownId {
            kind: "chip",
            id: spec.to_string(),
            known: chip_ids().collect::<Vec<_>>().join(", "),
        }),
    }
}
