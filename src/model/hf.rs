//! Import of Hugging Face `config.json` files into the normalised [`Model`].
//!
//! Parameter layouts follow each architecture's transformers modeling code, so parameter counts
//! equal what transformers instantiates. Architectures whose attention kvsim does not model yet are
//! recognised and refused with the reason, never approximated.

use super::attention::{Compressed, Indexer, Linear, LinearKind};
use super::json::Cfg;
use super::{group_layers, Attention, Ffn, Gqa, Mla, Model, Moe, Mtp, QkNorm, Tensor};
use crate::error::{Error, Result};
use crate::precision::{PrecisionPlan, TensorGroup, WeightFormat};
use serde_json::Value;

/// Most decoder layers kvsim accepts (the largest real models have under 200).
pub const MAX_LAYERS: u64 = 1 << 16;

/// Classes kvsim imports.
pub const SUPPORTED: &[&str] = &[
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "MixtralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "Qwen3NextForCausalLM",
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "DeepseekV32ForCausalLM",
    "DeepseekV4ForCausalLM",
    "Glm4MoeForCausalLM",
    "GlmMoeDsaForCausalLM",
    "GptOssForCausalLM",
    "Gemma3ForCausalLM",
    "Gemma3ForConditionalGeneration",
    "KimiLinearForCausalLM",
    "MiniMaxM2ForCausalLM",
    "MiniMaxText01ForCausalLM",
    "MiMoV2FlashForCausalLM",
    "BailingMoeV2ForCausalLM",
];

/// MLA-family classes (DeepSeek latent attention; V3.2 and GLM-5 add the indexer).
const MLA_CLASSES: &[&str] = &[
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "DeepseekV32ForCausalLM",
    "GlmMoeDsaForCausalLM",
];

/// Parses `text` (the contents of `file`) as a config.json and normalises it; `id` names the model.
pub fn import(file: &str, id: &str, text: &str) -> Result<Model> {
    let root: Value = super::json::parse_strict(file, text)?;
    let Value::Object(map) = &root else {
        return Err(Error::field(
            file,
            "(top level)",
            "not an object",
            "a JSON object as in config.json",
        ));
    };
    let top = Cfg {
        file,
        prefix: String::new(),
        map,
    };
    let class = match top.list_str("architectures")? {
        Some(list) if !list.is_empty() => list[0].to_string(),
        _ => {
            return Err(top.invalid(
                "architectures",
                "nothing",
                "a list naming the model class, e.g. [\"LlamaForCausalLM\"]",
            ))
        }
    };
    if !SUPPORTED.contains(&class.as_str()) {
        return Err(Error::UnknownArchitecture {
            file: file.to_string(),
            class,
            supported: SUPPORTED.join(", "),
        });
    }
    // Multimodal configs nest the language model (formulas.md §6).
    let text_cfg = top.nested("text_config")?;
    let c = text_cfg.as_ref().unwrap_or(&top);
    let mut model = build(&class, c, &top, id)?;
    model.source = file.to_string();
    Ok(model)
}

fn build(class: &str, c: &Cfg, top: &Cfg, id: &str) -> Result<Model> {
    let hidden = c.size("hidden_size")?;
    let layers = c.size("num_hidden_layers")?;
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
        None => top.flag("tie_word_embeddings", class.starts_with("Gemma3"))?,
    };
    let norms = if class.starts_with("Gemma3") { 4 } else { 2 };
    let windows = layer_windows(class, c, layers)?;

    let mut per_layer = Vec::with_capacity(layers as usize);
    let kinds = layer_kinds(class, c, layers)?;
    for (i, window) in windows.iter().enumerate() {
        let attention = match &kinds[i] {
            LayerKind::Standard => attention(class, c, hidden, *window)?,
            LayerKind::Special(a) => a.clone(),
        };
        let ffn = ffn(class, c, i as u64)?;
        per_layer.push((attention, ffn));
    }
    let mtp = mtp(class, c, hidden, &per_layer, layers)?;
    Ok(Model {
        id: id.to_string(),
        architecture: class.to_string(),
        source: String::new(),
        hidden,
        vocab,
        tied_embeddings: tied,
        max_position_embeddings: c.size_opt("max_position_embeddings")?,
        groups: group_layers(per_layer, norms),
        mtp,
        default_plan: default_plan(c, top)?,
    })
}

/// Sliding window of each layer (None = full attention).
fn layer_windows(class: &str, c: &Cfg, layers: u64) -> Result<Vec<Option<u64>>> {
    let window = c.size_opt("sliding_window")?;
    let n = layers as usize;
    if let Some(types) = c.list_str("layer_types")? {
        if types.len() != n {
            return Err(c.invalid(
                "layer_types",
                format!("{} entries", types.len()),
                &format!("one entry per layer ({n})"),
            ));
        }
        return types
            .iter()
            .enumerate()
            .map(|(i, t)| match *t {
                "full_attention" => Ok(None),
                "sliding_attention" => window.map(Some).ok_or_else(|| {
                    c.invalid(
                        "sliding_window",
                        "nothing",
                        "a window size, since layer_types has sliding layers",
                    )
                }),
                other => Err(c.invalid(
                    &format!("layer_types[{i}]"),
                    other,
                    "full_attention or sliding_attention",
                )),
            })
            .collect();
    }
    Ok(match class {
        "MistralForCausalLM" | "MixtralForCausalLM" => vec![window; n],
        "Qwen2ForCausalLM" | "Qwen3ForCausalLM" | "Qwen3MoeForCausalLM" => {
            // transformers: SWA only when use_sliding_window, on layers >= max_window_layers.
            if c.flag("use_sliding_window", false)? {
                let from = c.count_or("max_window_layers", 0)?;
                (0..layers)
                    .map(|i| if i >= from { window } else { None })
                    .collect()
            } else {
                vec![None; n]
            }
        }
        "Gemma3ForCausalLM" | "Gemma3ForConditionalGeneration" => {
            let pattern = c.count_or("sliding_window_pattern", 6)?.max(1);
            (0..layers)
                .map(|i| if (i + 1) % pattern != 0 { window } else { None })
                .collect()
        }
        "GptOssForCausalLM" => (0..layers)
            .map(|i| if i % 2 == 0 { window } else { None })
            .collect(),
        _ => vec![None; n],
    })
}

fn attention(class: &str, c: &Cfg, hidden: u64, window: Option<u64>) -> Result<Attention> {
    let heads = c.size("num_attention_heads")?;
    if MLA_CLASSES.contains(&class) {
        return Ok(Attention::Mla(mla(c, heads, indexer(c)?)?));
    }
    // Absent means MHA (transformers' default); an explicit null means the value is unknown, and
    // guessing MHA would overstate the cache up to heads/kv_heads-fold.
    if c.map
        .get("num_key_value_heads")
        .is_some_and(|v| v.is_null())
    {
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
    let qkv_bias = match class {
        "Qwen2ForCausalLM" => true,
        "BailingMoeV2ForCausalLM" => c.flag("use_qkv_bias", false)?,
        _ => c.flag("attention_bias", false)?,
    };
    let o_bias = match class {
        "GptOssForCausalLM" => qkv_bias,
        "LlamaForCausalLM"
        | "MistralForCausalLM"
        | "MixtralForCausalLM"
        | "Qwen3ForCausalLM"
        | "Qwen3MoeForCausalLM" => qkv_bias,
        "BailingMoeV2ForCausalLM" => c.flag("use_bias", false)?,
        _ => false,
    };
    let qk_norm = match class {
        "Qwen3ForCausalLM"
        | "Qwen3MoeForCausalLM"
        | "Qwen3NextForCausalLM"
        | "Gemma3ForCausalLM"
        | "Gemma3ForConditionalGeneration" => QkNorm::PerHead,
        "BailingMoeV2ForCausalLM" => {
            if c.flag("use_qk_norm", true)? {
                QkNorm::PerHead
            } else {
                QkNorm::None
            }
        }
        "Glm4MoeForCausalLM" if c.flag("use_qk_norm", false)? => QkNorm::PerHead,
        "MiniMaxM2ForCausalLM" if c.flag("use_qk_norm", true)? => match c.string("qk_norm_type")? {
            Some("per_head") => QkNorm::PerHead,
            _ => QkNorm::PerLayer,
        },
        _ => QkNorm::None,
    };
    Ok(Attention::Gqa(Gqa {
        heads,
        kv_heads,
        head_dim,
        v_head_dim: c.size_opt("v_head_dim")?.unwrap_or(head_dim),
        qkv_bias,
        o_bias,
        qk_norm,
        sinks: class == "GptOssForCausalLM",
        window,
        q_gate: class == "Qwen3NextForCausalLM",
    }))
}

fn dense(c: &Cfg) -> Result<Ffn> {
    Ok(Ffn::Dense {
        intermediate: c.size("intermediate_size")?,
        gated: true,
        bias: c.flag("mlp_bias", false)?,
    })
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

/// The FFN of layer `i`, by each architecture's dense/MoE placement rule.
fn ffn(class: &str, c: &Cfg, i: u64) -> Result<Ffn> {
    // Kimi-Linear spells the top-k key differently.
    let top_k_key = if class == "KimiLinearForCausalLM" {
        "num_experts_per_token"
    } else {
        "num_experts_per_tok"
    };
    let moe = |experts_key: &str, width_key: &str, shared: u64, gate: bool| -> Result<Ffn> {
        let experts = c.size(experts_key)?;
        Ok(Ffn::Moe(Moe {
            experts,
            top_k: check_top_k(c, top_k_key, c.size(top_k_key)?, experts)?,
            expert_intermediate: c.size(width_key)?,
            shared_intermediate: shared,
            shared_gate: gate,
            router_bias: class == "GptOssForCausalLM",
            expert_bias: class == "GptOssForCausalLM",
            gated: true,
        }))
    };
    match class {
        "MixtralForCausalLM" | "GptOssForCausalLM" | "MiniMaxM2ForCausalLM" => {
            moe("num_local_experts", "intermediate_size", 0, false)
        }
        // MiniMax-Text-01's expert width is intermediate_size in its config (Mixtral-style).
        "MiniMaxText01ForCausalLM" => {
            let key = if c.raw("intermediate_size").is_some() {
                "intermediate_size"
            } else {
                "moe_intermediate_size"
            };
            moe("num_local_experts", key, 0, false)
        }
        "Qwen3MoeForCausalLM" | "Qwen3NextForCausalLM" => {
            let step = c.count_or("decoder_sparse_step", 1)?;
            let dense_layers = c.list_u64("mlp_only_layers")?.unwrap_or_default();
            let experts = c.count_or("num_experts", 0)?;
            if dense_layers.contains(&i) || experts == 0 || step == 0 || (i + 1) % step != 0 {
                return dense(c);
            }
            // Qwen3-Next: one shared expert of shared_expert_intermediate_size behind a sigmoid gate.
            let shared = c.count_or("shared_expert_intermediate_size", 0)?;
            moe("num_experts", "moe_intermediate_size", shared, shared > 0)
        }
        "DeepseekV2ForCausalLM"
        | "DeepseekV3ForCausalLM"
        | "DeepseekV32ForCausalLM"
        | "DeepseekV4ForCausalLM"
        | "Glm4MoeForCausalLM"
        | "GlmMoeDsaForCausalLM"
        | "MiMoV2FlashForCausalLM"
        | "KimiLinearForCausalLM"
        | "BailingMoeV2ForCausalLM" => {
            let (experts_key, shared_key) = match class {
                "BailingMoeV2ForCausalLM" | "KimiLinearForCausalLM" => {
                    ("num_experts", "num_shared_experts")
                }
                _ => ("n_routed_experts", "n_shared_experts"),
            };
            let first_dense = c.count_or("first_k_dense_replace", 0)?;
            let freq = c.count_or("moe_layer_freq", 1)?.max(1);
            if c.count_or(experts_key, 0)? == 0 || i < first_dense || i % freq != 0 {
                return dense(c);
            }
            // Shared experts are n_shared × moe_intermediate_size wide (formulas.md §5).
            let shared = c.count_or(shared_key, 0)? * c.size("moe_intermediate_size")?;
            moe(experts_key, "moe_intermediate_size", shared, false)
        }
        _ => dense(c),
    }
}

/// Next-n (MTP) layers: one more decoder layer per module plus DeepSeek's enorm, hnorm,
/// eh_proj (hidden × 2·hidden) and shared-head norm (Qwen3-Next: pre_fc norms, fc, norm — the same
/// shapes); embedding and head are shared with the model. The layer is a copy of the last layer
/// with full (or, for V4, the config's MTP-entry) attention.
fn mtp(
    class: &str,
    c: &Cfg,
    hidden: u64,
    layers: &[(Attention, Ffn)],
    n_layers: u64,
) -> Result<Option<Mtp>> {
    let n = match class {
        "DeepseekV3ForCausalLM"
        | "DeepseekV32ForCausalLM"
        | "DeepseekV4ForCausalLM"
        | "Glm4MoeForCausalLM"
        | "GlmMoeDsaForCausalLM"
        | "MiMoV2FlashForCausalLM" => c.count_or("num_nextn_predict_layers", 0)?,
        // Qwen3-Next's config has no key for it; its checkpoint carries one MTP block.
        "Qwen3NextForCausalLM" => c.count_or("num_nextn_predict_layers", 1)?,
        _ => 0,
    };
    let full = layers
        .iter()
        .rev()
        .find(|(a, _)| !matches!(a, Attention::Linear(_)));
    let Some((attention, ffn)) = full.cloned().filter(|_| n > 0) else {
        return Ok(None);
    };
    let attention = match (class, attention) {
        ("DeepseekV4ForCausalLM", Attention::Compressed(mut a)) => {
            let ratios = c.list_u64("compress_ratios")?.unwrap_or_default();
            a.ratio = ratios.get(n_layers as usize).copied().unwrap_or(0);
            if a.ratio != 4 {
                a.indexer = None;
            }
            Attention::Compressed(a)
        }
        (_, a) => a,
    };
    let v = |_| Tensor::vector(TensorGroup::Vectors, hidden);
    let mut extra: Vec<Tensor> = (0..3).map(v).collect();
    extra.push(Tensor::matrix(TensorGroup::Attention, hidden, 2 * hidden));
    Ok(Some(Mtp {
        layer: super::LayerGroup {
            count: n,
            attention,
            ffn,
            norms: 2,
        },
        extra,
    }))
}

/// A layer whose attention the generic GQA reader handles, or one built by its architecture.
enum LayerKind {
    Standard,
    Special(Attention),
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
            heads,
            head_dim: c.size("index_head_dim")?,
            topk: c.size("index_topk")?,
        })),
    }
}

/// Positions of the layers of a 1-indexed or 0-indexed list, checked against the layer count.
fn layer_set(
    c: &Cfg,
    key: &str,
    list: &[u64],
    layers: u64,
    one_indexed: bool,
) -> Result<Vec<bool>> {
    let mut set = vec![false; layers as usize];
    for (i, &l) in list.iter().enumerate() {
        let idx = if one_indexed {
            l.checked_sub(1)
        } else {
            Some(l)
        };
        match idx.filter(|&x| x < layers) {
            Some(x) => set[x as usize] = true,
            None => {
                let range = if one_indexed {
                    format!("1..={layers} (1-indexed)")
                } else {
                    format!("0..{layers}")
                };
                return Err(c.invalid(
                    &format!("{key}[{i}]"),
                    l,
                    &format!("a layer number in {range}"),
                ));
            }
        }
    }
    Ok(set)
}

/// Architectures whose layers differ in kind: linear vs full attention, compressed, hybrid heads.
fn layer_kinds(class: &str, c: &Cfg, layers: u64) -> Result<Vec<LayerKind>> {
    let n = layers as usize;
    let standard = || (0..n).map(|_| LayerKind::Standard).collect();
    Ok(match class {
        "Qwen3NextForCausalLM" => {
            let interval = c.size("full_attention_interval")?;
            let linear = Attention::Linear(Linear {
                kind: LinearKind::GatedDeltaNet,
                k_heads: c.size("linear_num_key_heads")?,
                v_heads: c.size("linear_num_value_heads")?,
                head_k_dim: c.size("linear_key_head_dim")?,
                head_v_dim: c.size("linear_value_head_dim")?,
                conv_kernel: c.count_or("linear_conv_kernel_dim", 4)?,
            });
            (0..layers)
                .map(|i| {
                    if (i + 1) % interval == 0 {
                        LayerKind::Standard
                    } else {
                        LayerKind::Special(linear.clone())
                    }
                })
                .collect()
        }
        "KimiLinearForCausalLM" => {
            // Kimi-Linear lists its full-attention (MLA) layers 1-indexed (formulas.md §6).
            let la = c.nested("linear_attn_config")?.ok_or_else(|| {
                c.invalid(
                    "linear_attn_config",
                    "nothing",
                    "an object with full_attn_layers, num_heads, head_dim",
                )
            })?;
            let full = la.list_u64("full_attn_layers")?.unwrap_or_default();
            let full = layer_set(&la, "full_attn_layers", &full, layers, true)?;
            let heads = la.size("num_heads")?;
            let hd = la.size("head_dim")?;
            let kda = Attention::Linear(Linear {
                kind: LinearKind::Kda,
                k_heads: heads,
                v_heads: heads,
                head_k_dim: hd,
                head_v_dim: hd,
                conv_kernel: la.count_or("short_conv_kernel_size", 4)?,
            });
            let m = Attention::Mla(mla(c, c.size("num_attention_heads")?, None)?);
            full.iter()
                .map(|&f| LayerKind::Special(if f { m.clone() } else { kda.clone() }))
                .collect()
        }
        "MiniMaxText01ForCausalLM" => {
            let types = c.list_u64("attn_type_list")?.ok_or_else(|| {
                c.invalid(
                    "attn_type_list",
                    "nothing",
                    "one entry per layer: 0 lightning (linear), 1 softmax",
                )
            })?;
            if types.len() != n {
                return Err(c.invalid(
                    "attn_type_list",
                    format!("{} entries", types.len()),
                    &format!("{n} entries"),
                ));
            }
            let heads = c.size("num_attention_heads")?;
            let hd = c.size("head_dim")?;
            let lightning = Attention::Linear(Linear {
                kind: LinearKind::Lightning,
                k_heads: heads,
                v_heads: heads,
                head_k_dim: hd,
                head_v_dim: hd,
                conv_kernel: 0,
            });
            types
                .iter()
                .enumerate()
                .map(|(i, &t)| match t {
                    0 => Ok(LayerKind::Special(lightning.clone())),
                    1 => Ok(LayerKind::Standard),
                    other => Err(c.invalid(
                        &format!("attn_type_list[{i}]"),
                        other,
                        "0 (lightning) or 1 (softmax)",
                    )),
                })
                .collect::<Result<_>>()?
        }
        "DeepseekV4ForCausalLM" => {
            let ratios = c.list_u64("compress_ratios")?.ok_or_else(|| {
                c.invalid(
                    "compress_ratios",
                    "nothing",
                    "one compression ratio per layer (0, 4 or 128)",
                )
            })?;
            if ratios.len() < n {
                return Err(c.invalid(
                    "compress_ratios",
                    format!("{} entries", ratios.len()),
                    &format!("at least {n}"),
                ));
            }
            let index = indexer(c)?;
            let base = Compressed {
                heads: c.size("num_attention_heads")?,
                head_dim: c.size("head_dim")?,
                rope_dim: c.size("qk_rope_head_dim")?,
                q_lora_rank: c.size("q_lora_rank")?,
                o_lora_rank: c.size("o_lora_rank")?,
                o_groups: c.size("o_groups")?,
                window: c.size("sliding_window")?,
                ratio: 0,
                indexer: None,
            };
            if base.rope_dim >= base.head_dim || base.heads % base.o_groups != 0 {
                return Err(c.invalid(
                    "o_groups",
                    base.o_groups,
                    "a divisor of num_attention_heads, with qk_rope_head_dim < head_dim",
                ));
            }
            ratios[..n]
                .iter()
                .enumerate()
                .map(|(i, &r)| match r {
                    0 | 4 | 128 => Ok(LayerKind::Special(Attention::Compressed(Compressed {
                        ratio: r,
                        indexer: if r == 4 { index.clone() } else { None },
                        ..base.clone()
                    }))),
                    other => Err(c.invalid(&format!("compress_ratios[{i}]"), other, "0, 4 or 128")),
                })
                .collect::<Result<_>>()?
        }
        "MiMoV2FlashForCausalLM" => {
            // hybrid_layer_pattern: 1 = sliding-window layer (own KV heads, attention sinks), 0 = global.
            let pattern = c.list_u64("hybrid_layer_pattern")?.ok_or_else(|| {
                c.invalid(
                    "hybrid_layer_pattern",
                    "nothing",
                    "one entry per layer: 1 sliding window, 0 global",
                )
            })?;
            if pattern.len() != n {
                return Err(c.invalid(
                    "hybrid_layer_pattern",
                    format!("{} entries", pattern.len()),
                    &format!("{n} entries"),
                ));
            }
            let Attention::Gqa(global) = attention(class, c, c.size("hidden_size")?, None)? else {
                unreachable!("MiMo attention is GQA")
            };
            let swa_kv = c.size("swa_num_key_value_heads")?;
            if global.heads % swa_kv != 0 {
                return Err(c.invalid(
                    "swa_num_key_value_heads",
                    swa_kv,
                    "a divisor of num_attention_heads",
                ));
            }
            let swa = Gqa {
                kv_heads: swa_kv,
                window: Some(c.size("sliding_window")?),
                sinks: true,
                ..global.clone()
            };
            pattern
                .iter()
                .enumerate()
                .map(|(i, &p)| match p {
                    0 => Ok(LayerKind::Special(Attention::Gqa(global.clone()))),
                    1 => Ok(LayerKind::Special(Attention::Gqa(swa.clone()))),
                    other => Err(c.invalid(
                        &format!("hybrid_layer_pattern[{i}]"),
                        other,
                        "0 (global) or 1 (sliding window)",
                    )),
                })
                .collect::<Result<_>>()?
        }
        _ => standard(),
    })
}

/// The checkpoint's own precision: `torch_dtype` for everything, then `quantization_config`.
fn default_plan(c: &Cfg, top: &Cfg) -> Result<PrecisionPlan> {
    let dtype = match top.string("torch_dtype")?.or(c.string("torch_dtype")?) {
        None | Some("bfloat16") => WeightFormat::Bf16,
        Some("float16") => WeightFormat::Fp16,
        Some("float32") => WeightFormat::Fp32,
        Some(other) => {
            return Err(top.invalid("torch_dtype", other, "bfloat16, float16 or float32"))
        }
    };
    let mut plan = PrecisionPlan::uniform(dtype);
    let Some(q) = top.nested("quantization_config")? else {
        return Ok(plan);
    };
    let skip = q.list_str("modules_to_not_convert")?.unwrap_or_default();
    let keeps_attention = skip.iter().any(|m| m.contains("self_attn"));
    match q.string("quant_method")? {
        Some("fp8") => {
            let block = q.list_u64("weight_block_size")?;
            let f = match block.as_deref() {
                None => WeightFormat::Fp8,
                Some([128, 128]) => WeightFormat::Fp8Block128,
                Some(other) => {
                    return Err(q.invalid(
                        "weight_block_size",
                        format!("{other:?}"),
                        "[128, 128] or absent",
                    ))
                }
            };
            plan.set_linear(f);
            if keeps_attention {
                plan.set(TensorGroup::Attention, dtype);
            }
        }
        Some("mxfp4") => plan.set(TensorGroup::RoutedExperts, WeightFormat::Mxfp4),
        Some("awq") | Some("gptq") => {
            let g = q.count_or("group_size", 128)?.clamp(1, u32::MAX as u64) as u32;
            plan.set_linear(WeightFormat::Int4 { group: g });
        }
        Some("compressed-tensors") => {
            // kvsim reads the first 4-bit weight group: its group size, applied to routed experts.
            let groups = q.nested("config_groups")?;
            let mut fmt = WeightFormat::Int4 { group: 128 };
            if let Some(g) = groups.as_ref() {
                for key in g.map.keys() {
                    if let Some(w) = g
                        .nested(key)?
                        .and_then(|x| x.nested("weights").ok().flatten())
                    {
                        if w.count_or("num_bits", 4)? == 4 {
                            fmt = WeightFormat::Int4 {
                                group: w.count_or("group_size", 128)?.clamp(1, u32::MAX as u64)
                                    as u32,
                            };
                        }
                    }
                }
            }
            plan.set(TensorGroup::RoutedExperts, fmt);
        }
        Some(other) => {
            return Err(q.invalid(
                "quant_method",
                other,
                "one of fp8, mxfp4, awq, gptq, compressed-tensors",
            ));
        }
        None => {}
    }
    if top.string("expert_dtype")? == Some("fp4") {
        plan.set(TensorGroup::RoutedExperts, WeightFormat::Mxfp4);
    }
    Ok(plan)
}
