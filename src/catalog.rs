//! The built-in catalog (configs/ embedded at build time) and loading of user files.

use crate::chip::Chip;
use crate::error::{Error, Result};
use crate::hub::{self, HubConfig, HubId};
use crate::model::checkpoint::{self, ShardSource};
use crate::model::{hf, Model};
use serde_json::Value;
use std::path::{Path, PathBuf};

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

/// Largest input file kvsim reads: the largest real config.json is under 1 MB, so anything near
/// this is not a config (a disk image, /dev/zero) and is refused before it fills memory.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads a whole input file; the error names it. Only regular files are read (a FIFO or device
/// could block forever or never end), and at most [`MAX_INPUT_BYTES`] of them.
pub fn read(path: &str) -> Result<String> {
    use std::io::Read;
    let io = |reason: String| Error::Io {
        file: path.to_string(),
        reason,
    };
    // Metadata first (following symlinks): opening a FIFO for reading would block until a writer
    // comes.
    let meta = std::fs::metadata(path).map_err(|e| io(e.to_string()))?;
    if !meta.is_file() {
        return Err(io(if meta.is_dir() {
            "it is a directory, not a file".into()
        } else {
            "not a regular file (a FIFO, device or socket); kvsim reads files only".into()
        }));
    }
    let too_big = || {
        io(format!(
            "larger than {} MiB; a config file is far smaller",
            MAX_INPUT_BYTES >> 20
        ))
    };
    if meta.len() > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    let file = std::fs::File::open(path).map_err(|e| io(e.to_string()))?;
    // Bounded even if the file grows while it is read.
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io(e.to_string()))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(too_big());
    }
    String::from_utf8(bytes).map_err(|e| io(format!("not UTF-8 text ({e})")))
}

/// Loads a model by catalog id, from a config.json path, a checkpoint directory or a hub id
/// (`hf:ORG/NAME[@REVISION]`).
pub fn load_model(spec: &str) -> Result<Model> {
    load_model_with(spec, &[])
}

/// A `--set` edit as labels show it: `field=value`, strings unquoted.
fn edit_label((key, value): &(String, Value)) -> String {
    match value {
        Value::String(s) => format!("{key}={s}"),
        v => format!("{key}={v}"),
    }
}

/// Puts `value` at the dotted `key` of `config`, creating objects on the way.
fn insert_path(config: &mut Value, key: &str, value: &Value) -> Result<()> {
    let parts: Vec<&str> = key.split('.').collect();
    let mut node = config;
    for (i, part) in parts.iter().enumerate() {
        let obj = node.as_object_mut().ok_or_else(|| {
            Error::field(
                "command line",
                "--set",
                key,
                format!("`{}` to be an object", parts[..i].join(".")),
            )
        })?;
        if i == parts.len() - 1 {
            obj.insert(part.to_string(), value.clone());
            return Ok(());
        }
        node = obj
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Default::default()));
    }
    Ok(())
}

/// Loads a model and applies `--set field=value` edits to its parsed config before importing it.
/// Each edited field must be one the importer reads for that architecture (a typo, or a field the
/// model ignores, is an error naming the nearest field it does read); in a multimodal config a
/// plain name that the language model reads under `text_config` goes there.
pub fn load_model_with(spec: &str, sets: &[(String, Value)]) -> Result<Model> {
    // Edits change what the checkpoint's stored bytes describe: its headers are not read then.
    let src = source(spec, sets.is_empty())?;
    let mut model = import_with(&src, sets)?;
    if let Some(label) = &src.checkpoint {
        match &src.shards {
            Some(shards) if sets.is_empty() => {
                model.checkpoint = Some(checkpoint::summarise(label, shards, model.layers())?);
            }
            _ if !sets.is_empty() => model.notes.push(format!(
                "weights computed: --set edits the config, so the stored bytes of the checkpoint ({label}) no longer describe it"
            )),
            _ => {}
        }
    }
    model.notes.extend(src.notes);
    Ok(model)
}

fn import_with(src: &Source, sets: &[(String, Value)]) -> Result<Model> {
    let (file, id, text) = (&src.file, &src.id, &src.text);
    if sets.is_empty() {
        return hf::import(file, id, text);
    }
    let original = hf::parse_strict(file, text)?;
    let mut edits: Vec<(String, Value)> = sets.to_vec();
    // Twice at most: the second pass imports with plain names moved under text_config.
    for _ in 0..2 {
        let mut value = original.clone();
        for (key, v) in &edits {
            insert_path(&mut value, key, v)?;
        }
        let label = edits.iter().map(edit_label).collect::<Vec<_>>().join(", ");
        let imported = hf::import_value(
            &format!("{file} (with --set {label})"),
            &format!("{id} [set {label}]"),
            &value,
        )?;
        let mut moved = false;
        for (key, _) in edits.iter_mut() {
            if imported.read.contains(key.as_str()) {
                continue;
            }
            let nested = format!("text_config.{key}");
            if !key.contains('.') && imported.read.contains(&nested) {
                *key = nested;
                moved = true;
                continue;
            }
            let nearest = imported
                .read
                .iter()
                .min_by_key(|f| strsim::levenshtein(f, key))
                .map(|f| format!("; the nearest it reads is `{f}`"))
                .unwrap_or_default();
            return Err(Error::field(
                "command line",
                "--set",
                format!("`{key}`"),
                format!(
                    "a field the {} importer reads{nearest}",
                    imported.model.architecture
                ),
            ));
        }
        if !moved {
            return Ok(imported.model);
        }
    }
    Err(Error::internal("--set edits did not settle"))
}

/// Where a model's config (and checkpoint headers) came from.
struct Source {
    /// The config file, for messages.
    file: String,
    id: String,
    text: String,
    /// The checkpoint directory or hub id, when the model names one.
    checkpoint: Option<String>,
    /// Its shard headers, when read.
    shards: Option<Vec<ShardSource>>,
    notes: Vec<String>,
}

impl Source {
    fn config(file: String, id: String, text: String) -> Source {
        Source {
            file,
            id,
            text,
            checkpoint: None,
            shards: None,
            notes: Vec::new(),
        }
    }
}

/// The model id of a checkpoint directory: `ORG/NAME` inside a hub cache
/// (`models--ORG--NAME/snapshots/<commit>`), else the directory's name.
fn dir_id(dir: &Path) -> String {
    let parts: Vec<String> = dir
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let [.., repo, snaps, _] = parts.as_slice() {
        if snaps == "snapshots" {
            if let Some(r) = repo.strip_prefix("models--") {
                return r.replace("--", "/");
            }
        }
    }
    dir.file_name().map_or(dir.display().to_string(), |n| {
        n.to_string_lossy().into_owned()
    })
}

/// A checkpoint directory: its config.json and, when `headers`, its shard headers.
fn dir_source(dir: &Path, headers: bool) -> Result<Source> {
    let config = dir.join("config.json");
    let file = config.display().to_string();
    if !config.is_file() {
        return Err(Error::Io {
            file,
            reason: "missing: a checkpoint directory holds config.json".into(),
        });
    }
    let mut src = Source::config(file.clone(), dir_id(dir), read(&file)?);
    src.checkpoint = Some(dir.display().to_string());
    if headers {
        match checkpoint::local_shards(dir)? {
            Some((shards, notes)) => {
                src.shards = Some(shards);
                src.notes = notes;
            }
            None => src.notes.push(format!(
                "weights computed: {} holds no *.safetensors file",
                dir.display()
            )),
        }
    }
    Ok(src)
}

/// Hub lookups already made by this process: a sweep reloads a model at every point with `--set`
/// edits, and one request per model is enough.
static FETCHED: std::sync::Mutex<Vec<(HubId, bool, hub::Fetched)>> =
    std::sync::Mutex::new(Vec::new());

fn fetch_once(id: &HubId, headers: bool) -> Result<hub::Fetched> {
    let known = |list: &Vec<(HubId, bool, hub::Fetched)>| {
        list.iter()
            .find(|(i, h, _)| i == id && (*h || !headers))
            .map(|(_, _, f)| f.clone())
    };
    if let Some(f) = FETCHED.lock().ok().and_then(|l| known(&l)) {
        return Ok(f);
    }
    let f = hub::fetch(id, &HubConfig::from_env()?, headers)?;
    if let Ok(mut l) = FETCHED.lock() {
        l.push((id.clone(), headers, f.clone()));
    }
    Ok(f)
}

/// A hub id: fetched into (or read from) the Hugging Face cache.
fn hub_source(spec: &str, headers: bool) -> Result<Source> {
    let id = HubId::parse(spec)?;
    let f = fetch_once(&id, headers)?;
    let file = f.config.display().to_string();
    let text = read(&file)?;
    let mut src = Source::config(file, id.repo.clone(), text);
    src.checkpoint = Some(id.label());
    src.shards = f.shards;
    src.notes = f.notes;
    Ok(src)
}

/// The config of a model given by catalog id, path, directory or hub id.
fn source(spec: &str, headers: bool) -> Result<Source> {
    let spec = spec.trim();
    if spec.starts_with("hf:") {
        return hub_source(spec, headers);
    }
    let path = PathBuf::from(spec);
    // A directory, unless a bare name is also a catalog id.
    let catalog_id = MODELS.iter().any(|(m, _)| *m == resolve(spec));
    if path.is_dir() && (looks_like_path(spec) || !catalog_id) {
        return dir_source(&path, headers);
    }
    Ok(if looks_like_path(spec) {
        let id = Path::new(spec)
            .file_stem()
            .map_or(spec.into(), |s| s.to_string_lossy().into_owned());
        Source::config(spec.to_string(), id, read(spec)?)
    } else {
        let id = resolve(spec);
        match MODELS.iter().find(|(m, _)| *m == id) {
            Some((m, text)) => Source::config(
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
    })
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
