//! Stored weight bytes from a checkpoint's safetensors headers, without reading any weight data.
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each
//! tensor name to `{dtype, shape, data_offsets: [begin, end]}` (plus an optional `__metadata__`
//! map), then the data buffer (docs/checkpoints.md §1). The rules checked here are those of the
//! reference reader (huggingface/safetensors, `safetensors/src/tensor.rs`,
//! `SafeTensors::read_metadata` and `Metadata::validate`, release 0.6.2): the header is at most
//! 100,000,000 bytes, the offsets tile the buffer from 0 without gaps, each span equals
//! `elements × dtype bits / 8`, and the buffer ends where the file ends.
//!
//! A sharded checkpoint lists its files in `model.safetensors.index.json` (`weight_map`: tensor →
//! file); the bytes of a checkpoint are the sum of every tensor's span over those files, so
//! quantised packs, scales and zero points count exactly as stored.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest header the reference reader accepts (`MAX_HEADER_SIZE`).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Largest `model.safetensors.index.json` kvsim reads (DeepSeek-V3's is 9 MB).
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// The index file of a sharded checkpoint.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// The file of a single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";

/// Bits per element of each safetensors dtype (`Dtype::bitsize`, release 0.6.2).
fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" => 64,
        _ => return None,
    })
}

/// One tensor of a header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorEntry {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<u64>,
    /// Stored bytes: the span of `data_offsets`.
    pub bytes: u64,
}

/// A parsed and validated header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Length of the JSON header (`n`).
    pub header_len: u64,
    pub tensors: Vec<TensorEntry>,
    /// End of the data buffer: the sum of the tensors' spans.
    pub data_bytes: u64,
}

impl Header {
    /// The whole file's size as the header describes it.
    pub fn file_len(&self) -> u64 {
        8 + self.header_len + self.data_bytes
    }
}

fn bad(
    file: &str,
    field: impl std::fmt::Display,
    found: impl std::fmt::Display,
    expected: &str,
) -> Error {
    Error::field(file, field, found, expected)
}

/// The header length from the first 8 bytes, checked against the reference limit and, when known,
/// against the file's size.
pub fn header_len(file: &str, first8: &[u8], file_len: Option<u64>) -> Result<u64> {
    let arr: [u8; 8] = first8
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            bad(
                file,
                "safetensors header length",
                format!("{} bytes", first8.len()),
                "at least 8 bytes (a truncated file)",
            )
        })?;
    let n = u64::from_le_bytes(arr);
    if n > MAX_HEADER_BYTES {
        return Err(bad(
            file,
            "safetensors header length",
            n,
            "at most 100,000,000 bytes (the safetensors limit); not a safetensors file?",
        ));
    }
    if let Some(len) = file_len.filter(|&len| n + 8 > len) {
        return Err(bad(
            file,
            "safetensors header length",
            format!("{n} bytes in a file of {len} bytes"),
            "a header that fits in the file (a truncated file)",
        ));
    }
    Ok(n)
}

/// Parses and validates the JSON header `json` of `file`.
pub fn parse_header(file: &str, json: &[u8]) -> Result<Header> {
    let text = std::str::from_utf8(json).map_err(|e| {
        bad(
            file,
            "safetensors header",
            format!("invalid UTF-8 ({e})"),
            "UTF-8 JSON",
        )
    })?;
    let root: Value = serde_json::from_str(text).map_err(|e| Error::Syntax {
        file: file.to_string(),
        reason: format!("safetensors header: {e} (a truncated or corrupt file)"),
    })?;
    let Value::Object(map) = root else {
        return Err(bad(
            file,
            "safetensors header",
            "not an object",
            "a JSON object",
        ));
    };
    let mut tensors = Vec::with_capacity(map.len());
    let mut spans = Vec::with_capacity(map.len());
    for (name, info) in &map {
        if name == "__metadata__" {
            continue;
        }
        let field = |f: &str| format!("{name}.{f}");
        let dtype = info.get("dtype").and_then(Value::as_str).ok_or_else(|| {
            bad(
                file,
                field("dtype"),
                "nothing",
                "a dtype string such as \"BF16\"",
            )
        })?;
        let shape = info
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
            .ok_or_else(|| {
                bad(
                    file,
                    field("shape"),
                    "nothing",
                    "a list of non-negative integers",
                )
            })?;
        let offsets = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_u64).collect::<Option<Vec<u64>>>())
            .filter(|o| o.len() == 2 && o[0] <= o[1])
            .ok_or_else(|| {
                bad(
                    file,
                    field("data_offsets"),
                    "nothing",
                    "[begin, end] with begin <= end",
                )
            })?;
        let span = offsets[1] - offsets[0];
        let elements = shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                bad(
                    file,
                    field("shape"),
                    format!("{shape:?}"),
                    "a shape whose element count fits in 64 bits",
                )
            })?;
        let bits = dtype_bits(dtype).ok_or_else(|| {
            bad(
                file,
                field("dtype"),
                format!("`{dtype}`"),
                "a safetensors dtype (F4, F6_E2M3, F6_E3M2, BOOL, U8, I8, F8_E5M2, F8_E4M3, F8_E8M0, I16, U16, F16, BF16, I32, U32, F32, I64, U64, F64)",
            )
        })?;
        let need_bits = elements
            .checked_mul(bits)
            .filter(|b| b % 8 == 0)
            .ok_or_else(|| {
                bad(
                    file,
                    field("shape"),
                    format!("{shape:?} of {dtype}"),
                    "a whole number of bytes",
                )
            })?;
        if need_bits / 8 != span {
            return Err(bad(
                file,
                field("data_offsets"),
                format!("a span of {span} bytes for shape {shape:?} of {dtype}"),
                &format!("{} bytes (elements × dtype size)", need_bits / 8),
            ));
        }
        spans.push((offsets[0], offsets[1], tensors.len()));
        tensors.push(TensorEntry {
            name: name.clone(),
            dtype: dtype.to_string(),
            shape,
            bytes: span,
        });
    }
    // The offsets must tile the buffer from 0 without gaps or overlaps.
    spans.sort_unstable();
    let mut end = 0u64;
    for (b, e, i) in spans {
        if b != end {
            return Err(bad(
                file,
                format!("{}.data_offsets", tensors[i].name),
                format!("[{b}, {e}]"),
                &format!("to start at byte {end}, where the previous tensor ends"),
            ));
        }
        end = e;
    }
    Ok(Header {
        header_len: json.len() as u64,
        tensors,
        data_bytes: end,
    })
}

fn io(file: &str, e: impl std::fmt::Display) -> Error {
    Error::Io {
        file: file.to_string(),
        reason: e.to_string(),
    }
}

/// Reads the header of the safetensors file at `path` (only the header: no weight data), and
/// checks that the file is as long as the header says. A file holding only the first `8 + n`
/// bytes (a cached header) is read with `prefix_only`.
pub fn read_header(path: &Path, prefix_only: bool) -> Result<Header> {
    let file = path.display().to_string();
    let mut f = std::fs::File::open(path).map_err(|e| io(&file, e))?;
    let len = f.metadata().map_err(|e| io(&file, e))?.len();
    let mut first8 = Vec::with_capacity(8);
    (&mut f)
        .take(8)
        .read_to_end(&mut first8)
        .map_err(|e| io(&file, e))?;
    let n = header_len(&file, &first8, Some(len))?;
    let mut json = Vec::with_capacity(n as usize);
    (&mut f)
        .take(n)
        .read_to_end(&mut json)
        .map_err(|e| io(&file, e))?;
    let h = parse_header(&file, &json)?;
    if prefix_only {
        return Ok(h);
    }
    if h.file_len() != len {
        return Err(bad(
            &file,
            "safetensors data",
            format!("a file of {len} bytes"),
            &format!(
                "{} bytes as its header describes (8 + {n} header + {} data; an incomplete download?)",
                h.file_len(),
                h.data_bytes
            ),
        ));
    }
    Ok(h)
}

/// The shard files named by an index file's `weight_map`, and its `metadata.total_size`.
pub fn parse_index(file: &str, text: &str) -> Result<(Vec<String>, Option<u64>)> {
    let root: Value = serde_json::from_str(text).map_err(|e| Error::Syntax {
        file: file.to_string(),
        reason: e.to_string(),
    })?;
    let map = root
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad(
                file,
                "weight_map",
                "nothing",
                "an object mapping tensor names to files",
            )
        })?;
    let mut files = BTreeSet::new();
    for (tensor, v) in map {
        let name = v
            .as_str()
            .ok_or_else(|| bad(file, format!("weight_map.{tensor}"), v, "a file name"))?;
        files.insert(shard_name(file, &format!("weight_map.{tensor}"), name)?);
    }
    if files.is_empty() {
        return Err(bad(file, "weight_map", "no tensors", "at least one tensor"));
    }
    let total = root.pointer("/metadata/total_size").and_then(Value::as_u64);
    Ok((files.into_iter().collect(), total))
}

/// A shard's file name, refused unless it is a plain `*.safetensors` name in the same directory
/// (an index from the network must not point elsewhere).
pub fn shard_name(file: &str, field: &str, name: &str) -> Result<String> {
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name.ends_with(".safetensors")
        && !name.contains(['/', '\\', ':', '\0']);
    if plain {
        Ok(name.to_string())
    } else {
        Err(bad(
            file,
            field,
            format!("`{name}`"),
            "a plain *.safetensors file name",
        ))
    }
}

/// Where one shard's header is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardSource {
    /// The whole safetensors file.
    File(PathBuf),
    /// A cached copy of its first `8 + n` bytes.
    Prefix(PathBuf),
}

/// The stored weight bytes of a checkpoint, from its headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointWeights {
    /// The directory or hub id the headers came from.
    pub source: String,
    /// Bytes of every tensor but the multi-token-prediction layers.
    pub bytes: u64,
    /// Bytes of the multi-token-prediction (next-n) layers.
    pub mtp_bytes: u64,
    pub tensors: u64,
    pub files: u64,
    /// Why the figure no longer describes the model (an edit or an architecture transform).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale: Option<String>,
}

impl CheckpointWeights {
    /// Bytes the engine loads: MTP layers only when they are counted.
    pub fn loaded_bytes(&self, with_mtp: bool) -> u64 {
        self.bytes + if with_mtp { self.mtp_bytes } else { 0 }
    }
}

/// Whether a tensor belongs to the multi-token-prediction layers: a decoder layer index at or
/// past `layers` (DeepSeek-V3, GLM-4.5: `model.layers.61.*`) or a name part `mtp` / `mtp_*`
/// (Qwen3-Next `mtp.*`, MiMo `model.mtp_layers.*`).
pub fn is_mtp(name: &str, layers: u64) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    let mtp_part = parts.iter().any(|p| *p == "mtp" || p.starts_with("mtp_"));
    // Only the language model's own layer list: a vision encoder's `encoder.layers.N` is not MTP.
    let extra_layer = parts.windows(3).any(|w| {
        matches!(w[0], "model" | "language_model")
            && w[1] == "layers"
            && w[2].parse::<u64>().is_ok_and(|i| i >= layers)
    });
    mtp_part || extra_layer
}

/// Sums the headers of `shards` (each read once) into the checkpoint's weights; `layers` is the
/// decoder's layer count, to tell the MTP layers apart. Returns the weights and notes.
pub fn summarise(source: &str, shards: &[ShardSource], layers: u64) -> Result<CheckpointWeights> {
    let mut w = CheckpointWeights {
        source: source.to_string(),
        bytes: 0,
        mtp_bytes: 0,
        tensors: 0,
        files: shards.len() as u64,
        stale: None,
    };
    let mut seen = BTreeSet::new();
    for s in shards {
        let h = match s {
            ShardSource::File(p) => read_header(p, false)?,
            ShardSource::Prefix(p) => read_header(p, true)?,
        };
        for t in h.tensors {
            if !seen.insert(t.name.clone()) {
                // A tensor stored twice would be loaded once: a broken checkpoint, not a figure.
                return Err(bad(
                    source,
                    &t.name,
                    "in two shard files",
                    "each tensor in one file",
                ));
            }
            let slot = if is_mtp(&t.name, layers) {
                &mut w.mtp_bytes
            } else {
                &mut w.bytes
            };
            *slot = slot
                .checked_add(t.bytes)
                .ok_or_else(|| Error::overflow("checkpoint bytes"))?;
            w.tensors += 1;
        }
    }
    Ok(w)
}

/// The shard files of a local checkpoint directory: the index's files, else `model.safetensors`,
/// else every `*.safetensors` file (with a note naming them). None when it holds no safetensors.
pub fn local_shards(dir: &Path) -> Result<Option<(Vec<ShardSource>, Vec<String>)>> {
    let index = dir.join(INDEX_FILE);
    let mut notes = Vec::new();
    let names = if index.is_file() {
        let file = index.display().to_string();
        let text = read_capped(&index, MAX_INDEX_BYTES)?;
        let (names, _) = parse_index(&file, &text)?;
        for n in &names {
            if !dir.join(n).is_file() {
                return Err(bad(
                    &file,
                    "weight_map",
                    format!("`{n}`, which is not in {}", dir.display()),
                    "every listed shard present (an incomplete download?)",
                ));
            }
        }
        names
    } else if dir.join(SINGLE_FILE).is_file() {
        vec![SINGLE_FILE.to_string()]
    } else {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(|e| io(&dir.display().to_string(), e))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".safetensors") && dir.join(n).is_file())
            .collect();
        names.sort();
        if names.is_empty() {
            return Ok(None);
        }
        notes.push(format!(
            "{} has no {INDEX_FILE} nor {SINGLE_FILE}: kvsim sums every *.safetensors file in it ({})",
            dir.display(),
            names.join(", ")
        ));
        names
    };
    Ok(Some((
        names
            .iter()
            .map(|n| ShardSource::File(dir.join(n)))
            .collect(),
        notes,
    )))
}

/// Reads a text file of at most `cap` bytes; a larger file is refused before it is read.
pub fn read_capped(path: &Path, cap: u64) -> Result<String> {
    let file = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| io(&file, e))?;
    let len = f.metadata().map_err(|e| io(&file, e))?.len();
    if len > cap {
        return Err(bad(
            &file,
            "(size)",
            format!("{len} bytes"),
            &format!("at most {} MiB", cap >> 20),
        ));
    }
    let mut text = String::new();
    f.take(cap + 1)
        .read_to_string(&mut text)
        .map_err(|e| io(&file, e))?;
    if text.len() as u64 > cap {
        return Err(bad(
            &file,
            "(size)",
            "more than the limit",
            &format!("at most {} MiB", cap >> 20),
        ));
    }
    Ok(text)
}
