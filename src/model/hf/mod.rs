//! Import of Hugging Face `config.json` files into the normalised [`Model`].
//!
//! Parameter layouts follow each architecture's transformers modeling code, so parameter counts
//! equal what transformers instantiates. What differs between classes is a row of
//! [`ARCHITECTURES`]; the readers here apply a row's rules and never look at the class name.
//! A field the config leaves out takes the default of the row's transformers config class
//! ([`Arch::defaults`]), as transformers does; with neither a value nor a default it is an error
//! naming the field. An unknown class with the standard decoder fields is read as a generic
//! Llama-like decoder with warnings naming every assumption (`generic.rs`); without them it is
//! refused with the list of supported classes. Vision encoders are built by `vision.rs`.
//!
//! Every field the import reads is logged ([`Imported::read`]), and fields are read only where
//! their value shapes the model: `sliding_window` only when a standard layer slides,
//! `max_window_layers` only under `use_sliding_window`, MoE placement keys only when there are
//! experts.

mod config;
mod generic;
mod layers;
mod quant;
mod rope;
pub mod table;
#[cfg(test)]
mod tests;
mod vision;

pub use config::parse_strict;
pub use table::{supported, Arch, ARCHITECTURES};

use crate::error::{Error, Result};
use crate::model::attention::Indexer;
use crate::model::{group_layers, Attention, Ffn, Gqa, Mla, Model, Moe, QkNorm};
use config::{Cfg, ReadLog};
use layers::LayerKind;
use serde_json::Value;
use std::collections::BTreeSet;
use table::{AttnRule, Derive, FfnRule, LayerKinds, OBias, QkNormRule, QkvBias, Windows};

/// Most decoder layers kvsim accepts (the largest real models have under 200).
pub const MAX_LAYERS: u64 = 1 << 16;

/// An imported model and the config fields that shaped it.
#[derive(Debug, Clone)]
pub struct Imported {
    pub model: Model,
    /// Dotted paths of every field the import read (`num_hidden_layers`,
    /// `text_config.head_dim`, `quantization_config.quant_method`); a field outside it does not
    /// affect the model.
    pub read: BTreeSet<String>,
}

/// Parses `text` (the contents of `file`) as a config.json and normalises it; `id` names the model.
pub fn import(file: &str, id: &str, text: &str) -> Result<Model> {
    let root = parse_strict(file, text)?;
    import_value(file, id, &root).map(|i| i.model)
}

/// Normalises a parsed config.json (see [`parse_strict`]); `file` names it in errors and `id`
/// names the model.
pub fn import_value(file: &str, id: &str, root: &Value) -> Result<Imported> {
    let Value::Object(map) = root else {
        return Err(Error::field(
            file,
            "(top level)",
            "not an object",
            "a JSON object as in config.json",
        ));
    };
    let log = ReadLog::default();
    let mut model = {
        let top = Cfg::root(file, map, &log);
        let class = match top.list_str("architectures")? {
            Some(list) if !list.is_empty() => list[0],
            _ => {
                return Err(top.invalid(
                    "architectures",
                    "nothing",
                    "a list naming the model class, e.g. [\"LlamaForCausalLM\"]",
                ))
            }
        };
        let (arch, warnings) = match table::find(class) {
            Some(a) => (a, Vec::new()),
            None => generic::fallback(file, class, map)?,
        };
        // A wrapper whose language model may be any of several classes (InternVL) reads it with
        // that class's row, keeping its own vision rule and class name.
        let key = vision::text_key(arch.vision);
        let merged;
        let arch = match vision::text_row(arch, &top)? {
            Some(text) => {
                merged = Arch {
                    class: arch.class,
                    vision: arch.vision,
                    // Under text_config the wrapper's flag ties (transformers); under
                    // llm_config the language model's own class builds it.
                    // A multimodal rope belongs to the wrapper (Qwen-VL's MRoPE).
                    rope: if matches!(
                        arch.rope,
                        table::RopeRule::MRope | table::RopeRule::MRopeQwen3Vl
                    ) {
                        arch.rope
                    } else {
                        text.rope
                    },
                    tied_default: if key == "llm_config" {
                        text.tied_default
                    } else {
                        arch.tied_default
                    },
                    ..*text
                };
                &merged
            }
            None => arch,
        };
        // Fields the config leaves out take the config class's default, as transformers does.
        let filled = with_defaults(root, arch, key);
        let Value::Object(filled_map) = &filled else {
            unreachable!("with_defaults keeps an object")
        };
        let top = Cfg::root(file, filled_map, &log);
        // Multimodal configs nest the language model.
        let text_cfg = top.nested(key)?;
        let c = text_cfg.as_ref().unwrap_or(&top);
        let mut m = build(arch, c, &top, id)?;
        m.vision = vision::tensors(arch, &top, m.hidden)?;
        let (ropes, rope_notes) = rope::ropes(arch, c, &m)?;
        m.positions.ropes = ropes;
        m.positions.sincos = vision::sincos_tables(arch, m.hidden);
        m.notes.extend(rope_notes);
        let vision_notes = vision::notes(arch, &top, &m.vision, &m.id)?;
        m.notes.extend(vision_notes);
        // The class name comes from the file and reaches terminals: escaped, like the warnings
        // that name it.
        m.notes.splice(
            0..0,
            warnings.iter().map(|w| crate::text::escape_controls(w)),
        );
        if arch.class != class {
            m.architecture =
                format!("{} (as {})", crate::text::escape_name(class), arch.class).into();
        }
        m
    };
    model.source = file.to_string();
    let read = log.into_inner();
    model.notes.extend(unread_quantization_keys(root, &read));
    Ok(Imported { model, read })
}

/// A `quantization_config` key kvsim did not read may change how the checkpoint is stored: say so
/// rather than assume it does not (issue: "present but not understood is a stated warning").
fn unread_quantization_keys(root: &Value, read: &BTreeSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["", "text_config."] {
        let path = format!("{prefix}quantization_config");
        let object = match prefix {
            "" => root.get("quantization_config"),
            _ => root
                .get("text_config")
                .and_then(|t| t.get("quantization_config")),
        };
        let Some(Value::Object(q)) = object else {
            continue;
        };
        let unread: Vec<String> = q
            .keys()
            .filter(|k| !read.contains(&format!("{path}.{k}")))
            .map(|k| crate::text::escape_name(k))
            .collect();
        if !unread.is_empty() {
            out.push(format!(
                "{path}: {} not read by kvsim; if it changes how the weights are stored, the weight bytes do not show it",
                unread.join(", ")
            ));
        }
    }
    out
}

/// A copy of `root` whose language-model object (`text_config`, else the top level) carries the
/// row's defaults for the fields it leaves out. An explicit null is left alone: it means unknown.
fn with_defaults(root: &Value, arch: &Arch, text_key: &str) -> Value {
    let mut v = root.clone();
    let target = match v.get(text_key) {
        Some(Value::Object(_)) => v.get_mut(text_key),
        _ => Some(&mut v),
    };
    if let Some(Value::Object(m)) = target {
        let aliases: &[(&str, &str)] = match arch.derive {
            Derive::Falcon | Derive::RefinedWeb => &FALCON_ALIASES,
            // The remote ExaoneConfig's attribute_map: num_hidden_layers is num_layers.
            Derive::Exaone => &[("num_layers", "num_hidden_layers")],
            _ => &[],
        };
        for &(alias, key) in aliases {
            if let (false, Some(x)) = (m.contains_key(key), m.get(alias).cloned()) {
                m.insert(key.to_string(), x);
            }
        }
        for (key, d) in arch.defaults {
            m.entry(key.to_string()).or_insert_with(|| d.json());
        }
        // InternVL's remote code builds the language model from llm_config alone: its own
        // class's tie default applies, not the wrapper's top-level flag.
        if text_key == "llm_config" {
            m.entry("tie_word_embeddings".to_string())
                .or_insert(Value::Bool(arch.tied_default));
        }
        match arch.derive {
            Derive::Falcon => falcon_derived(m, false),
            Derive::RefinedWeb => falcon_derived(m, true),
            Derive::Mamba => mamba_derived(m),
            Derive::Zamba2 => {
                if m.get("use_long_context").and_then(Value::as_bool) == Some(true) {
                    m.insert("max_position_embeddings".into(), 16384.into());
                }
            }
            Derive::None | Derive::Exaone => {}
        }
    }
    v
}

/// Falcon's key aliases (vLLM 0.11.0 `RWConfig.attribute_map`; `n_embed` as FalconConfig's
/// `__post_init__` reads it), alias first.
const FALCON_ALIASES: [(&str, &str); 4] = [
    ("n_head", "num_attention_heads"),
    ("n_layer", "num_hidden_layers"),
    ("n_head_kv", "num_kv_heads"),
    ("n_embed", "hidden_size"),
];

/// FalconConfig.__post_init__ (transformers 5.23.0): `ffn_hidden_size` defaults to 4 × hidden and
/// `num_kv_heads` to all heads; FalconAttention keeps `num_kv_heads` K/V heads under
/// `new_decoder_architecture`, one under `multi_query`, else all heads. The result is written as
/// `num_key_value_heads`, which the GQA reader takes. Values of the wrong type are left for the
/// readers to refuse.
///
/// `rw`: vLLM 0.11.0 `RWConfig.__init__` (transformers_utils/configs/falcon.py, the config of the
/// pre-transformers `RWForCausalLM` checkpoints) instead takes 1 KV head when `n_head_kv` is
/// absent or null, and sets `new_decoder_architecture` whenever `hidden_size` is 8192 ("Hack for
/// falcon-40b", whose config.json has no such key).
fn falcon_derived(m: &mut serde_json::Map<String, Value>, rw: bool) {
    let flag = |m: &serde_json::Map<String, Value>, k: &str, d: bool| {
        m.get(k).and_then(Value::as_bool).unwrap_or(d)
    };
    if !m.contains_key("ffn_hidden_size") || m["ffn_hidden_size"].is_null() {
        if let Some(h) = m.get("hidden_size").and_then(Value::as_u64) {
            m.insert("ffn_hidden_size".into(), h.saturating_mul(4).into());
        }
    }
    if rw && m.get("hidden_size").and_then(Value::as_u64) == Some(8192) {
        m.insert("new_decoder_architecture".into(), true.into());
    }
    let heads = m.get("num_attention_heads").cloned();
    let kv = if flag(m, "new_decoder_architecture", false) {
        match m.get("num_kv_heads") {
            Some(Value::Null) | None if rw => Some(1.into()),
            Some(Value::Null) | None => heads,
            x => x.cloned(),
        }
    } else if flag(m, "multi_query", true) {
        Some(1.into())
    } else {
        heads
    };
    if let Some(kv) = kv {
        m.insert("num_key_value_heads".into(), kv);
    }
}

/// MambaConfig / FalconMambaConfig.__post_init__ (transformers 5.23.0): `intermediate_size` is
/// `expand` × hidden and `time_step_rank` `"auto"` is ⌈hidden / 16⌉ (an explicit value in the
/// config wins, as `from_dict` sets it after `__post_init__`).
fn mamba_derived(m: &mut serde_json::Map<String, Value>) {
    let Some(h) = m.get("hidden_size").and_then(Value::as_u64) else {
        return;
    };
    if !m.contains_key("intermediate_size") {
        if let Some(e) = m.get("expand").and_then(Value::as_u64) {
            m.insert("intermediate_size".into(), e.saturating_mul(h).into());
        }
    }
    if matches!(m.get("time_step_rank"), None | Some(Value::String(_)))
        && m.get("time_step_rank").is_none_or(|v| v == "auto")
    {
        m.insert("time_step_rank".into(), h.div_ceil(16).into());
    }
}

/// Hidden-sized norm vectors per decoder layer: the row's count, or Falcon's LayerNorms (weight
/// and bias each) by FalconDecoderLayer (transformers 5.23.0): two without `parallel_attn`,
/// else `num_ln_in_parallel_attn` (2 by default under `new_decoder_architecture`, else 1).
fn norms_per_layer(arch: &Arch, c: &Cfg) -> Result<u64> {
    if !matches!(arch.derive, Derive::Falcon | Derive::RefinedWeb) {
        return Ok(arch.norms_per_layer);
    }
    if !c.flag("parallel_attn", true)? {
        return Ok(4);
    }
    let default = if c.flag("new_decoder_architecture", false)? {
        2
    } else {
        1
    };
    match c.count_or("num_ln_in_parallel_attn", default)? {
        2 => Ok(4),
        _ => Ok(2),
    }
}

fn build(arch: &Arch, c: &Cfg, top: &Cfg, id: &str) -> Result<Model> {
    let hidden = c.size("hidden_size")?;
    let layers = layer_count(arch, c)?;
    // Layers are walked one by one while grouping: keep the count to what a model could have.
    if layers > MAX_LAYERS {
        return Err(c.invalid(
            "num_hidden_layers",
            layers,
            &format!("at most {MAX_LAYERS} layers"),
        ));
    }
    let vocab = c.size("vocab_size")?;
    // Gemma3 keeps tie_word_embeddings at the top level of a multimodal config.
    let tied = match c.raw("tie_word_embeddings") {
        Some(_) => c.flag("tie_word_embeddings", false)?,
        None => top.flag("tie_word_embeddings", arch.tied_default)?,
    };
    let mut warnings = Vec::new();
    // transformers (5.23.0) ties a wrapper's lm_head by the top-level flag (the wrapper config
    // class's default when absent) and ignores text_config's; kvsim follows text_config, which
    // describes the language model's own checkpoint, and says so when the two disagree.
    if !std::ptr::eq(c, top)
        && top.peek("text_config").is_some()
        && c.raw("tie_word_embeddings").is_some()
    {
        let outer = match top.peek("tie_word_embeddings") {
            Some(Value::Bool(b)) => *b,
            _ => arch.tied_default,
        };
        if outer != tied {
            warnings.push(format!(
                "{id}: text_config.tie_word_embeddings is {tied} but the top-level value is {outer}{}: \
                 kvsim counts the embeddings as {}; transformers 5.23.0 would follow the top level",
                if top.peek("tie_word_embeddings").is_none() { " (the class default)" } else { "" },
                if tied { "tied" } else { "untied" },
            ));
        }
    }
    let kinds = layers::layer_kinds(arch, c, hidden, layers)?;
    let windows = layer_windows(arch, c, &kinds)?;

    let mut per_layer = Vec::with_capacity(layers as usize);
    for (i, (kind, window)) in kinds.into_iter().zip(windows).enumerate() {
        let attention = match kind {
            LayerKind::Standard => attention(arch, c, hidden, window)?,
            LayerKind::Special(a) => a,
        };
        let ffn = ffn(arch, c, i as u64)?;
        per_layer.push((attention, ffn));
    }
    if per_layer
        .iter()
        .any(|(a, _)| matches!(a, Attention::SharedKv(_)))
    {
        warnings.push(format!(
            "{id}: use_cla: every cla_share_factor-th layer keeps K and V, the others read them \
             (q and o projections only, no KV of their own), as vLLM 0.11.0 hunyuan_v1.py builds \
             them; transformers 5.23.0 ignores use_cla, and vLLM also registers a cross-attention \
             cache spec for the reading layers, which kvsim does not model"
        ));
    }
    if arch.layer_kinds == LayerKinds::LongcatFlash {
        // LongcatFlashMLA biases q_a, kv_a and o under attention_bias; kvsim's MLA has none.
        if c.flag("attention_bias", false)? {
            return Err(c.invalid(
                "attention_bias",
                true,
                "false for LongCat-Flash (biased MLA projections are not modelled)",
            ));
        }
        warnings.push(format!(
            "{id}: each of the {} LongCat-Flash layers is held as two sublayers (MLA + MoE + first \
             MLP, MLA + second MLP), each attention with its own latent cache as vLLM 0.11.0 \
             builds them; pipeline stages split sublayers, where vLLM splits whole layers; \
             active parameters count the expected real experts of the top-k picks under even \
             routing (zero-compute experts are free); MTP layers are not counted",
            layers / 2
        ));
    }
    if arch.layer_kinds == LayerKinds::Zamba2 {
        warnings.push(zamba2_note(id, c, &per_layer)?);
    }
    if arch.layer_kinds == LayerKinds::MiMoV2 {
        warnings.extend(layers::mimo_v2_note(id, c));
    }
    let mtp = layers::mtp(arch, c, hidden, &per_layer, layers)?;
    let (groups, order) = group_layers(per_layer, norms_per_layer(arch, c)?);
    Ok(Model {
        // The id comes from a file name or the user: escaped, since it reaches terminals.
        id: crate::text::escape_name(id).into(),
        architecture: arch.class.into(),
        source: String::new(),
        hidden,
        vocab,
        tied_embeddings: tied,
        final_norm: arch.final_norm,
        lm_head_bias: flag_rule(c, arch.lm_head_bias)?,
        max_position_embeddings: c.size_opt("max_position_embeddings")?,
        groups,
        order,
        mtp,
        default_plan: quant::default_plan(c, top)?,
        checkpoint: None,
        vision: Vec::new(),
        positions: Default::default(),
        notes: warnings,
        figures: Default::default(),
    })
}

/// What kvsim assumes of a Zamba2 model: shared blocks held once, where vLLM 0.11.0 differs.
fn zamba2_note(id: &str, c: &Cfg, per_layer: &[(Attention, Ffn)]) -> Result<String> {
    let blocks = per_layer
        .iter()
        .filter(|(a, _)| match a {
            Attention::Parallel(p) => p
                .parts
                .iter()
                .any(|x| matches!(x, Attention::SharedBlock(b) if b.holds_weights)),
            _ => false,
        })
        .count();
    let hybrid = per_layer
        .iter()
        .filter(|(a, _)| matches!(a, Attention::Parallel(_)))
        .count();
    let mut note = format!(
        "{id}: {hybrid} hybrid layers share {blocks} transformer block(s), whose weights are held \
         once (on the first hybrid layers using them) while every hybrid layer keeps its own KV, \
         adapters and linear projection, as vLLM 0.11.0 zamba2.py builds them; decode weight \
         traffic counts each block once per step, though each hybrid layer reads it again; vLLM \
         0.11.0 Zamba2ForCausalLM has no pipeline parallelism (no SupportsPP), and a kvsim pipeline \
         stage whose hybrid layers only reuse a block is counted without its weights"
    );
    let heads = c.size("num_attention_heads")?;
    if c.size_opt("num_key_value_heads")?
        .is_some_and(|kv| kv != heads)
    {
        note.push_str(&format!(
            "; num_key_value_heads differs from num_attention_heads ({heads}): kvsim follows \
             transformers 5.23.0, but vLLM 0.11.0 Zamba2Attention builds every head's K and V"
        ));
    }
    Ok(note)
}

/// Decoder layers as kvsim holds them: `num_hidden_layers`, or for LongCat-Flash two sublayers
/// per `num_layers` layer (LongcatFlashConfig.num_hidden_layers = 2 × num_layers @ transformers
/// 5.23.0).
fn layer_count(arch: &Arch, c: &Cfg) -> Result<u64> {
    if arch.layer_kinds != LayerKinds::LongcatFlash {
        return c.size("num_hidden_layers");
    }
    let n = c.size("num_layers")?;
    let doubled = n
        .checked_mul(2)
        .ok_or_else(|| c.invalid("num_layers", n, "a layer count"))?;
    // vLLM 0.11.0 FlashConfig reads num_hidden_layers as the number of decoder layers and
    // transformers as twice it: a config giving it is ambiguous unless both readings agree with
    // num_layers' doubled count, so only that value is accepted.
    if let Some(h) = c.size_opt("num_hidden_layers")? {
        if h != doubled {
            return Err(c.invalid(
                "num_hidden_layers",
                h,
                &format!("absent, or 2 × num_layers ({doubled}): transformers 5.23.0 reads it as two sublayers per layer, vLLM 0.11.0 as layers"),
            ));
        }
    }
    Ok(doubled)
}

/// Sliding window of each layer (None = full attention). Only standard GQA layers have one, so
/// nothing is read for a model without them, and `sliding_window` only when one of them slides.
fn layer_windows(arch: &Arch, c: &Cfg, kinds: &[LayerKind]) -> Result<Vec<Option<u64>>> {
    let n = kinds.len();
    let standard = |i: usize| matches!(kinds[i], LayerKind::Standard);
    // GraniteMoeHybrid's and MiniMax's layer_types name mixers, not windows.
    if arch.attention != AttnRule::Gqa
        || !(0..n).any(standard)
        || arch.layer_kinds == LayerKinds::GraniteMoeHybrid
        || arch.layer_kinds == LayerKinds::MiniMax
    {
        return Ok(vec![None; n]);
    }
    let (sliding, listed) = sliding_layers(arch, c, n)?;
    if !(0..n).any(|i| sliding[i] && standard(i)) {
        return Ok(vec![None; n]);
    }
    // Llama4's chunked layers keep at most attention_chunk_size tokens: kvsim holds them as a
    // window of that size (an upper bound: a chunk restarts every attention_chunk_size tokens).
    let key = match arch.windows {
        Windows::Llama4Chunked => "attention_chunk_size",
        _ => "sliding_window",
    };
    let window = c.size_opt(key)?;
    // A rule leaves a layer full when the config has no window; layer_types asks for one.
    let window = match window {
        None if listed => {
            return Err(c.invalid(
                key,
                "nothing",
                "a window size, since layer_types has sliding layers",
            ))
        }
        w => w,
    };
    Ok(sliding
        .iter()
        .map(|&s| if s { window } else { None })
        .collect())
}

/// Which of the `n` layers slide, and whether `layer_types` said so (it overrides the row's rule).
fn sliding_layers(arch: &Arch, c: &Cfg, n: usize) -> Result<(Vec<bool>, bool)> {
    if let Some(types) = c.list_str("layer_types")? {
        if types.len() != n {
            return Err(c.invalid(
                "layer_types",
                format!("{} entries", types.len()),
                &format!("one entry per layer ({n})"),
            ));
        }
        let sliding = types
            .iter()
            .enumerate()
            .map(|(i, t)| match *t {
                "full_attention" => Ok(false),
                "sliding_attention" => Ok(true),
                "chunked_attention" if arch.windows == Windows::Llama4Chunked => Ok(true),
                other => Err(c.invalid(
                    &format!("layer_types[{i}]"),
                    other,
                    if arch.windows == Windows::Llama4Chunked {
                        "full_attention or chunked_attention"
                    } else {
                        "full_attention or sliding_attention"
                    },
                )),
            })
            .collect::<Result<_>>()?;
        return Ok((sliding, true));
    }
    let layers = n as u64;
    let sliding = match arch.windows {
        Windows::None => vec![false; n],
        Windows::All => vec![true; n],
        Windows::QwenUseSlidingWindow => {
            // transformers: SWA only when use_sliding_window, on layers >= max_window_layers.
            if c.flag("use_sliding_window", false)? {
                let from = c.count_or("max_window_layers", 0)?;
                (0..layers).map(|i| i >= from).collect()
            } else {
                vec![false; n]
            }
        }
        Windows::Pattern(default) => {
            let pattern = c.count_or("sliding_window_pattern", default)?.max(1);
            (0..layers).map(|i| (i + 1) % pattern != 0).collect()
        }
        Windows::Llama4Chunked => {
            // Llama4TextConfig.layer_types: RoPE layers (no_rope_layers[i] == 1; by default all
            // but every no_rope_layer_interval-th) are chunked, NoPE layers full.
            match c.list_u64("no_rope_layers")? {
                Some(l) if l.len() == n => l.iter().map(|&r| r != 0).collect(),
                Some(l) if !l.is_empty() => {
                    return Err(c.invalid(
                        "no_rope_layers",
                        format!("{} entries", l.len()),
                        &format!("one entry per layer ({n})"),
                    ))
                }
                _ => {
                    let every = c.count_or("no_rope_layer_interval", 4)?.max(1);
                    (0..layers).map(|i| (i + 1) % every != 0).collect()
                }
            }
        }
        Windows::SmolLM3 => {
            // SmolLM3Config.layer_types: a window only on NoPE layers (no_rope_layers[i] == 0,
            // by default every no_rope_layer_interval-th layer), under use_sliding_window.
            if c.flag("use_sliding_window", false)? {
                let uses_rope = match c.list_u64("no_rope_layers")? {
                    Some(l) if l.len() == n => l.iter().map(|&r| r != 0).collect(),
                    Some(l) => {
                        return Err(c.invalid(
                            "no_rope_layers",
                            format!("{} entries", l.len()),
                            &format!("one entry per layer ({n})"),
                        ))
                    }
                    None => {
                        let every = c.count_or("no_rope_layer_interval", 4)?.max(1);
                        (0..layers)
                            .map(|i| (i + 1) % every != 0)
                            .collect::<Vec<_>>()
                    }
                };
                uses_rope.iter().map(|r| !r).collect()
            } else {
                vec![false; n]
            }
        }
        Windows::EvenLayers => (0..layers).map(|i| i % 2 == 0).collect(),
        Windows::Qwen2MoeEven => {
            if c.flag("use_sliding_window", false)? {
                let below = c.count_or("max_window_layers", 0)?;
                (0..layers).map(|i| i % 2 == 0 && i < below).collect()
            } else {
                vec![false; n]
            }
        }
    };
    Ok((sliding, false))
}

/// The attention of a standard layer, by the row's attention rule.
fn attention(arch: &Arch, c: &Cfg, hidden: u64, window: Option<u64>) -> Result<Attention> {
    match arch.attention {
        AttnRule::Gqa => Ok(Attention::Gqa(gqa(arch, c, hidden, window)?)),
        AttnRule::Mla {
            indexer: with_indexer,
        } => {
            let heads = c.size("num_attention_heads")?;
            let index = if with_indexer { indexer(c)? } else { None };
            Ok(Attention::Mla(mla(c, heads, index)?))
        }
        AttnRule::Compressed => Err(Error::internal(format!(
            "{}: compressed attention has no standard layers; its layer kinds build every layer",
            arch.class
        ))),
    }
}

/// `num_key_value_heads`, checked against `heads`. Absent means MHA (transformers' default); an
/// explicit null means the value is unknown, and guessing MHA would overstate the cache up to
/// heads/kv_heads-fold.
pub(super) fn kv_heads(c: &Cfg, heads: u64) -> Result<u64> {
    if c.is_null("num_key_value_heads") {
        return Err(c.invalid(
            "num_key_value_heads",
            "null (unverified)",
            "a positive integer",
        ));
    }
    let kv_heads = c.size_opt("num_key_value_heads")?.unwrap_or(heads);
    if heads % kv_heads != 0 {
        return Err(c.invalid(
            "num_key_value_heads",
            kv_heads,
            &format!("a divisor of num_attention_heads ({heads})"),
        ));
    }
    Ok(kv_heads)
}

/// A GQA layer with the row's bias, norm, sink and gate rules.
fn gqa(arch: &Arch, c: &Cfg, hidden: u64, window: Option<u64>) -> Result<Gqa> {
    let heads = c.size("num_attention_heads")?;
    let kv_heads = kv_heads(c, heads)?;
    let head_dim = match c.size_opt("head_dim")? {
        Some(d) => d,
        None if hidden % heads == 0 => hidden / heads,
        None => {
            return Err(c.invalid(
                "head_dim",
                "nothing",
                &format!("an explicit head_dim, since hidden_size {hidden} is not divisible by {heads} heads"),
            ))
        }
    };
    let qkv_bias = flag_rule(c, arch.qkv_bias)?;
    let o_bias = match arch.o_bias {
        OBias::Never => false,
        OBias::SameAsQkv => qkv_bias,
        OBias::Key(key, default) => c.flag(key, default)?,
    };
    let qk_norm = match arch.qk_norm {
        QkNormRule::None => QkNorm::None,
        QkNormRule::PerHead => QkNorm::PerHead,
        QkNormRule::PerLayer => QkNorm::PerLayer,
        QkNormRule::PerHeadIf(key, default) => {
            if c.flag(key, default)? {
                QkNorm::PerHead
            } else {
                QkNorm::None
            }
        }
        QkNormRule::PerLayerIf(key, default) => {
            if c.flag(key, default)? {
                QkNorm::PerLayer
            } else {
                QkNorm::None
            }
        }
        QkNormRule::MiniMaxM2 => {
            if c.flag("use_qk_norm", true)? {
                match c.string("qk_norm_type")? {
                    Some("per_head") => QkNorm::PerHead,
                    _ => QkNorm::PerLayer,
                }
            } else {
                QkNorm::None
            }
        }
    };
    Ok(Gqa {
        heads,
        kv_heads,
        head_dim,
        v_head_dim: c.size_opt("v_head_dim")?.unwrap_or(head_dim),
        qkv_bias,
        o_bias,
        qk_norm,
        sinks: arch.sinks,
        window,
        q_gate: arch.q_gate,
    })
}

/// A never / always / config-flag rule's value.
fn flag_rule(c: &Cfg, rule: QkvBias) -> Result<bool> {
    Ok(match rule {
        QkvBias::Never => false,
        QkvBias::Always => true,
        QkvBias::Key(key, default) => c.flag(key, default)?,
    })
}

fn mla(c: &Cfg, heads: u64, indexer: Option<Indexer>) -> Result<Mla> {
    Ok(Mla {
        heads,
        // DeepSeek's own configs write 0 for "no query compression".
        q_lora_rank: c
            .count_or("q_lora_rank", 0)
            .map(|r| Some(r).filter(|&r| r > 0))?,
        kv_lora_rank: c.size("kv_lora_rank")?,
        qk_nope_head_dim: c.size("qk_nope_head_dim")?,
        qk_rope_head_dim: c.size("qk_rope_head_dim")?,
        v_head_dim: c.size("v_head_dim")?,
        indexer,
    })
}

fn indexer(c: &Cfg) -> Result<Option<Indexer>> {
    match c.size_opt("index_n_heads")? {
        None => Ok(None),
        Some(heads) => Ok(Some(Indexer {
            cache: crate::precision::IndexerCache::Fp8,
            heads,
            head_dim: c.size("index_head_dim")?,
            topk: c.size("index_topk")?,
        })),
    }
}

fn dense(c: &Cfg) -> Result<Ffn> {
    dense_with(c, "mlp_bias")
}

/// A gated MLP whose bias flag is `bias_key`.
fn dense_with(c: &Cfg, bias_key: &str) -> Result<Ffn> {
    Ok(Ffn::Dense {
        intermediate: c.size("intermediate_size")?,
        gated: true,
        bias: c.flag(bias_key, false)?,
        act_params: 0,
    })
}

/// A positive count given once (an integer) or per layer (a list): layer `i`'s value.
fn per_layer_count(c: &Cfg, key: &str, i: u64) -> Result<u64> {
    if !matches!(c.peek(key), Some(Value::Array(_))) {
        return c.size(key);
    }
    let list = c.list_u64(key)?.unwrap_or_default();
    match list.get(i as usize) {
        Some(&v) if v > 0 => Ok(v),
        _ => Err(c.invalid(
            key,
            format!("{} entries", list.len()),
            &format!("a positive integer, or one positive entry per layer (layer {i})"),
        )),
    }
}

fn check_top_k(c: &Cfg, key: &str, top_k: u64, experts: u64) -> Result<u64> {
    if top_k > experts {
        return Err(c.invalid(
            key,
            top_k,
            &format!("at most the number of experts ({experts})"),
        ));
    }
    Ok(top_k)
}

/// The FFN of layer `i`, by the row's dense/MoE placement rule. Placement keys are read only
/// when the config has experts, since they change nothing otherwise.
fn ffn(arch: &Arch, c: &Cfg, i: u64) -> Result<Ffn> {
    let moe = |experts_key: &str, width_key: &str, shared: u64, gate: bool| -> Result<Ffn> {
        let experts = c.size(experts_key)?;
        let top_k = c.size(arch.top_k_key)?;
        Ok(Ffn::Moe(Moe {
            experts,
            top_k: check_top_k(c, arch.top_k_key, top_k, experts)?,
            expert_intermediate: c.size(width_key)?,
            shared_intermediate: shared,
            shared_gate: gate,
            router_bias: arch.moe_biases,
            expert_bias: arch.moe_biases,
            gated: true,
            vision_experts: None,
            zero_experts: 0,
        }))
    };
    match arch.ffn {
        FfnRule::Dense => dense(c),
        FfnRule::DenseBiasKey(key) => dense_with(c, key),
        FfnRule::Mixtral {
            experts_key,
            width_key,
            shared_key,
        } => {
            let shared = match shared_key {
                "" => 0,
                key => c.count_or(key, 0)?,
            };
            // GraniteMoeHybrid with num_local_experts 0 builds only its shared MLP.
            if shared > 0 && c.count_or(experts_key, 0)? == 0 {
                return Ok(Ffn::Dense {
                    intermediate: shared,
                    gated: true,
                    bias: false,
                    act_params: 0,
                });
            }
            moe(experts_key, width_key, shared, false)
        }
        FfnRule::Ungated { width_key, bias } => Ok(Ffn::Dense {
            intermediate: c.size(width_key)?,
            gated: false,
            bias: flag_rule(c, bias)?,
            act_params: 0,
        }),
        FfnRule::Ernie45Moe => {
            let experts = c.count_or("moe_num_experts", 0)?;
            let start = c.count_or("moe_layer_start_index", 0)?;
            // Ernie4_5_MoeDecoderLayer: layer_idx <= moe_layer_end_index (-1 in some configs:
            // no upper bound here, as the comparison with -1 would exclude every layer).
            let end = match c.raw("moe_layer_end_index") {
                Some(Value::Number(n)) if n.as_i64().is_some_and(|v| v < 0) => {
                    return Err(c.invalid(
                        "moe_layer_end_index",
                        n,
                        "a layer index (transformers 5.23.0 compares layer_idx <= it)",
                    ))
                }
                _ => c.count_or("moe_layer_end_index", u64::MAX)?,
            };
            let interval = c.count_or("moe_layer_interval", 1)?.max(1);
            if experts == 0 || i < start || i > end || (i + 1) % interval != 0 {
                return dense_with(c, "use_bias");
            }
            if c.flag("use_bias", false)? {
                // Ernie4_5_MoeMLP gives the shared experts biases under use_bias; kvsim's shared
                // experts have none, so it refuses rather than undercount.
                return Err(c.invalid(
                    "use_bias",
                    true,
                    "false for an ERNIE 4.5 MoE config (biased shared experts are not modelled)",
                ));
            }
            let top_k = c.size("moe_k")?;
            let width = c.size("moe_intermediate_size")?;
            Ok(Ffn::Moe(Moe {
                experts,
                top_k: check_top_k(c, "moe_k", top_k, experts)?,
                expert_intermediate: width,
                shared_intermediate: c.count_or("moe_num_shared_experts", 0)? * width,
                shared_gate: false,
                // e_score_correction_bias is an nn.Parameter here (Ernie4_5_MoeStatics), one
                // per expert, so it counts as a router vector.
                router_bias: true,
                expert_bias: false,
                gated: true,
                vision_experts: None,
                zero_experts: 0,
            }))
        }
        FfnRule::Ernie45VlMoe => {
            let layers = c.size("num_hidden_layers")?;
            // Ernie4_5_VLMoeTextConfig: mlp_layer_types defaults to layer 0 dense, the rest sparse.
            let sparse = match c.list_str("mlp_layer_types")? {
                Some(types) if types.len() as u64 == layers => match types[i as usize] {
                    "sparse" => true,
                    "dense" => false,
                    other => {
                        return Err(c.invalid(
                            &format!("mlp_layer_types[{i}]"),
                            other,
                            "dense or sparse",
                        ))
                    }
                },
                Some(types) => {
                    return Err(c.invalid(
                        "mlp_layer_types",
                        format!("{} entries", types.len()),
                        &format!("one entry per layer ({layers})"),
                    ))
                }
                None => i > 0,
            };
            if !sparse {
                return dense_with(c, "use_bias");
            }
            if c.flag("use_bias", false)? {
                // The shared experts take use_bias; kvsim's shared experts have no biases.
                return Err(c.invalid(
                    "use_bias",
                    true,
                    "false for an ERNIE 4.5 VL config (biased shared experts are not modelled)",
                ));
            }
            // [text, vision] widths; Ernie4_5_VLMoeTextConfig's default is [1536, 512].
            let (text_w, vision_w) = match c.list_u64("moe_intermediate_size")?.as_deref() {
                None => (1536, 512),
                Some(&[t, v]) if t > 0 && v > 0 => (t, v),
                Some(other) => {
                    return Err(c.invalid(
                        "moe_intermediate_size",
                        format!("{} entries", other.len()),
                        "[text expert width, vision expert width], both positive",
                    ))
                }
            };
            let experts = c.size("moe_num_experts")?;
            let top_k = c.size("moe_k")?;
            Ok(Ffn::Moe(Moe {
                experts,
                top_k: check_top_k(c, "moe_k", top_k, experts)?,
                expert_intermediate: text_w,
                shared_intermediate: c.count_or("moe_num_shared_experts", 0)? * text_w,
                shared_gate: false,
                // Each set's e_score_correction_bias is an nn.Parameter (Ernie4_5_VLMoeMoeStatics).
                router_bias: true,
                expert_bias: false,
                gated: true,
                vision_experts: Some(crate::model::VisionExperts {
                    experts,
                    intermediate: vision_w,
                    router_bias: true,
                }),
                zero_experts: 0,
            }))
        }
        FfnRule::Step3Moe => {
            let layers = c.size("num_hidden_layers")?;
            if !step3_moe_layers(c, layers)?.contains(&i) {
                return dense(c);
            }
            let experts = c.size("moe_num_experts")?;
            let top_k = c.size("moe_top_k")?;
            Ok(Ffn::Moe(Moe {
                experts,
                top_k: check_top_k(c, "moe_top_k", top_k, experts)?,
                expert_intermediate: c.size("moe_intermediate_size")?,
                // Step3TextDecoderLayer.share_expert: a gated MLP of share_expert_dim.
                shared_intermediate: c.size("share_expert_dim")?,
                shared_gate: false,
                router_bias: false,
                expert_bias: false,
                gated: true,
                vision_experts: None,
                zero_experts: 0,
            }))
        }
        FfnRule::Llama4 => {
            // Llama4TextConfig.moe_layers, by default every interleave_moe_layer_step-th layer.
            let is_moe = match c.list_u64("moe_layers")? {
                Some(l) => l.contains(&i),
                None => {
                    let step = c.count_or("interleave_moe_layer_step", 1)?;
                    step > 0 && (i + 1) % step == 0
                }
            };
            if !is_moe {
                return Ok(Ffn::Dense {
                    intermediate: c.size("intermediate_size_mlp")?,
                    gated: true,
                    bias: false,
                    act_params: 0,
                });
            }
            // Llama4TextMoe: routed experts and one shared expert, both intermediate_size wide.
            let shared = c.size("intermediate_size")?;
            moe("num_local_experts", "intermediate_size", shared, false)
        }
        FfnRule::None => Ok(Ffn::Dense {
            intermediate: 0,
            gated: false,
            bias: false,
            act_params: 0,
        }),
        FfnRule::NemotronH => {
            let layers = c.size("num_hidden_layers")?;
            match layers::nemotron_h_pattern(c, layers)?[i as usize] {
                '-' => Ok(Ffn::Dense {
                    intermediate: c.size("intermediate_size")?,
                    gated: false,
                    bias: c.flag("mlp_bias", false)?,
                    act_params: 0,
                }),
                'E' => {
                    if !matches!(c.peek("moe_latent_size"), None | Some(Value::Null)) {
                        return Err(c.invalid(
                            "moe_latent_size",
                            "a value",
                            "null (latent expert projections are not modelled)",
                        ));
                    }
                    let experts = c.size("n_routed_experts")?;
                    let top_k = c.size(arch.top_k_key)?;
                    Ok(Ffn::Moe(Moe {
                        experts,
                        top_k: check_top_k(c, arch.top_k_key, top_k, experts)?,
                        expert_intermediate: c.size("moe_intermediate_size")?,
                        shared_intermediate: c
                            .count_or("moe_shared_expert_intermediate_size", 0)?,
                        shared_gate: false,
                        router_bias: false,
                        expert_bias: false,
                        gated: false,
                        vision_experts: None,
                        zero_experts: 0,
                    }))
                }
                _ => Ok(Ffn::Dense {
                    intermediate: 0,
                    gated: false,
                    bias: false,
                    act_params: 0,
                }),
            }
        }
        FfnRule::Jamba => {
            let period = c.size("expert_layer_period")?;
            let offset = c.count_or("expert_layer_offset", 0)?;
            if c.count_or("num_experts", 0)? > 1 && i % period == offset {
                moe("num_experts", "intermediate_size", 0, false)
            } else {
                dense(c)
            }
        }
        FfnRule::HunyuanMoe => {
            let experts = per_layer_count(c, "num_experts", i)?;
            let top_k = per_layer_count(c, "moe_topk", i)?;
            let width = c.size("intermediate_size")?;
            Ok(Ffn::Moe(Moe {
                experts,
                top_k: check_top_k(c, "moe_topk", top_k, experts)?,
                expert_intermediate: width,
                // HunYuanMoEV1Moe.shared_mlp = HunYuanMoEV1MLP(config): intermediate_size wide.
                shared_intermediate: width,
                shared_gate: false,
                router_bias: false,
                expert_bias: false,
                gated: true,
                vision_experts: None,
                zero_experts: 0,
            }))
        }
        FfnRule::LongcatFlash => {
            let dense = c.size("ffn_hidden_size")?;
            if i % 2 == 1 {
                return Ok(Ffn::Dense {
                    intermediate: dense,
                    gated: true,
                    bias: false,
                    act_params: 0,
                });
            }
            let experts = c.size("n_routed_experts")?;
            let top_k = c.size(arch.top_k_key)?;
            let zero = c.count_or("zero_expert_num", 0)?;
            Ok(Ffn::Moe(Moe {
                experts,
                top_k: check_top_k(c, arch.top_k_key, top_k, experts + zero)?,
                expert_intermediate: c.size("expert_ffn_hidden_size")?,
                // mlps[0]: always on, gated, hidden → ffn_hidden_size → hidden, like a shared expert.
                shared_intermediate: dense,
                shared_gate: false,
                router_bias: c.flag("router_bias", false)?,
                expert_bias: false,
                gated: true,
                vision_experts: None,
                zero_experts: zero,
            }))
        }
        FfnRule::UngatedXielu => Ok(Ffn::Dense {
            intermediate: c.size("intermediate_size")?,
            gated: false,
            bias: false,
            act_params: if c.string("hidden_act")? == Some("xielu") {
                2
            } else {
                0
            },
        }),
        FfnRule::MiniMaxText01 => {
            let key = if c.raw("intermediate_size").is_some() {
                "intermediate_size"
            } else {
                "moe_intermediate_size"
            };
            // vLLM 0.11.0 minimax_text_01.py MiniMaxText01DecoderLayer.__init__: a positive
            // shared_intermediate_size (an int, or a per-layer list, 0 past its end) adds a gated
            // shared_mlp of that width and a `coefficient` gate (ReplicatedLinear hidden → 1) that
            // mixes it with the experts (shared_moe_mode softmax or sigmoid; no weights of its own).
            let shared = match c.peek("shared_intermediate_size") {
                Some(Value::Array(_)) => {
                    let list = c.list_u64("shared_intermediate_size")?.unwrap_or_default();
                    list.get(i as usize).copied().unwrap_or(0)
                }
                _ => c.count_or("shared_intermediate_size", 0)?,
            };
            moe("num_local_experts", key, shared, shared > 0)
        }
        FfnRule::Qwen3Moe => {
            if c.count_or("num_experts", 0)? == 0
                || c.list_u64("mlp_only_layers")?
                    .unwrap_or_default()
                    .contains(&i)
            {
                return dense(c);
            }
            let step = c.count_or("decoder_sparse_step", 1)?;
            if step == 0 || (i + 1) % step != 0 {
                return dense(c);
            }
            // Qwen3-Next: one shared expert of shared_expert_intermediate_size behind a sigmoid gate.
            let shared = c.count_or("shared_expert_intermediate_size", 0)?;
            moe("num_experts", "moe_intermediate_size", shared, shared > 0)
        }
        FfnRule::DeepseekMoe {
            experts_key,
            shared_key,
        } => {
            // ExaoneMoeConfig.mlp_layer_types ("dense" / "sparse") overrides first_k_dense_replace.
            let listed = match c.list_str("mlp_layer_types")? {
                Some(types) => match types.get(i as usize) {
                    Some(&"dense") => Some(true),
                    Some(&"sparse") => Some(false),
                    other => {
                        return Err(c.invalid(
                            &format!("mlp_layer_types[{i}]"),
                            other.copied().unwrap_or("nothing"),
                            "dense or sparse, one entry per layer",
                        ))
                    }
                },
                None => None,
            };
            let dense_layer = match listed {
                Some(d) => d,
                None => {
                    i < c.count_or("first_k_dense_replace", 0)?
                        || i % c.count_or("moe_layer_freq", 1)?.max(1) != 0
                }
            };
            if c.count_or(experts_key, 0)? == 0 || dense_layer {
                return dense(c);
            }
            // Shared experts are n_shared × moe_intermediate_size wide, as DeepseekV3MoE builds them.
            let shared = c.count_or(shared_key, 0)? * c.size("moe_intermediate_size")?;
            moe(experts_key, "moe_intermediate_size", shared, false)
        }
    }
}

/// Step3's MoE layers: `moe_layers_enum`, a comma-separated string of layer indexes as the
/// published config writes it (vLLM 0.11.0 `step3_text.py` splits it on commas), or a list.
fn step3_moe_layers(c: &Cfg, layers: u64) -> Result<Vec<u64>> {
    let list = match c.raw("moe_layers_enum") {
        Some(Value::String(s)) => s
            .split(',')
            .map(|x| x.trim().parse::<u64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| {
                c.invalid(
                    "moe_layers_enum",
                    crate::text::escape_name(s),
                    "comma-separated layer indexes, e.g. \"4,5,6\"",
                )
            })?,
        Some(Value::Array(_)) => c.list_u64("moe_layers_enum")?.unwrap_or_default(),
        _ => {
            return Err(c.invalid(
                "moe_layers_enum",
                "nothing",
                "the MoE layer indexes (a comma-separated string or a list)",
            ))
        }
    };
    if let Some(&bad) = list.iter().find(|&&l| l >= layers) {
        return Err(c.invalid(
            "moe_layers_enum",
            bad,
            &format!("layer indexes below num_hidden_layers ({layers})"),
        ));
    }
    Ok(list)
}
