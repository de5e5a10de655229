//! An architecture class kvsim has no row for, read as a generic Llama-like decoder when its
//! config has the standard decoder fields, with a warning naming every assumption; otherwise
//! the unknown-architecture error listing the supported classes.

use super::table::{self, Arch};
use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Fields a generic decoder needs.
pub const STANDARD_FIELDS: [&str; 5] = [
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "vocab_size",
];

/// The row unknown classes are read with.
pub const GENERIC_ROW: &str = "LlamaForCausalLM";

/// Fields that mean the model is not a plain Llama-like decoder, and what kvsim leaves out.
const IGNORED: &[(&str, &str)] = &[
    ("num_experts", "experts (MoE) are not counted"),
    ("num_local_experts", "experts (MoE) are not counted"),
    ("n_routed_experts", "experts (MoE) are not counted"),
    ("kv_lora_rank", "latent (MLA) attention is read as GQA"),
    (
        "sliding_window",
        "the sliding window is ignored: every layer keeps full KV",
    ),
    ("layer_types", "per-layer attention types are ignored"),
    ("vision_config", "the vision encoder is not counted"),
    ("audio_config", "the audio encoder is not counted"),
];

/// The generic row and its warnings, or the unknown-architecture error.
pub(super) fn fallback(
    file: &str,
    class: &str,
    top: &Map<String, Value>,
) -> Result<(&'static Arch, Vec<String>)> {
    let lm = match top.get("text_config") {
        Some(Value::Object(m)) => m,
        _ => top,
    };
    let present = |k: &str| lm.get(k).is_some_and(|v| !v.is_null());
    if !STANDARD_FIELDS.iter().all(|k| present(k)) {
        let missing: Vec<&str> = STANDARD_FIELDS
            .iter()
            .copied()
            .filter(|k| !present(k))
            .collect();
        return Err(Error::UnknownArchitecture {
            file: file.to_string(),
            class: format!(
                "{class} (not read as a generic decoder: no {})",
                missing.join(", ")
            ),
            supported: table::supported().collect::<Vec<_>>().join(", "),
        });
    }
    let arch = table::find(GENERIC_ROW).expect("the generic row is in the table");
    let mut w = vec![format!(
        "{file}: {class} is not a class kvsim knows; read as a generic Llama-like decoder \
         (use --treat-as CLASS to pick a row): q/k/v/o projections without bias \
         (attention_bias honoured), head_dim from the config or hidden_size / num_attention_heads, \
         num_key_value_heads from the config or MHA, a gated MLP (gate, up, down) of \
         intermediate_size in every layer, two RMSNorm weights per layer and a final norm, \
         full attention on every layer, embeddings untied unless tie_word_embeddings is true, \
         no multi-token-prediction layers; fields it leaves out take LlamaConfig's defaults (transformers 5.23.0)"
    )];
    for (key, what) in IGNORED {
        if present(key) || top.get(*key).is_some_and(|v| !v.is_null()) {
            w.push(format!("{file}: {class} has `{key}`: {what}"));
        }
    }
    Ok((arch, w))
}
