//! Import of Hugging Face `config.json` files into the normalised [`Model`].
//!
//! Parameter layouts follow each architecture's transformers modeling code, so parameter counts
//! equal what transformers instantiates. Architectures whose attention kvsim does not model yet are
//! recognised and refused with the reason, never approximated.

use super::json::Cfg;
use super::{group_layers, Attention, Ffn, Gqa, Mla, Model, Moe, Mtp, QkNorm, Tensor};
use crate::error::{Error, Result};
use crate::precision::{PrecisionPlan, TensorGroup, WeightFormat};
use serde_json::Value;

/// Classes imported in full.
pub const SUPPORTED: &[&str] = &[
    "LlamaForCausalLM",
    "MistralForCausalLM",
    "MixtralForCausalLM",
    "Qwen2ForCausalLM",
    "Qwen3ForCausalLM",
    "Qwen3MoeForCausalLM",
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "Glm4MoeForCausalLM",
    "GptOssForCausalLM",
    "Gemma3ForCausalLM",
    "Gemma3ForConditionalGeneration",
    "MiniMaxM2ForCausalLM",
    "BailingMoeV2ForCausalLM",
];

/// Classes recognised but whose attention is not modelled yet, with what is missing.
const NOT_YET: &[(&str, &str)] = &[
    (
        "DeepseekV32ForCausalLM",
        "DeepSeek sparse attention (the lightning indexer's key cache and weights)",
    ),
    (
        "GlmMoeDsaForCausalLM",
        "DeepSeek-style sparse attention (the indexer's key cache and weights)",
    ),
    (
        "DeepseekV4ForCausalLM",
        "DeepSeek-V4 compressed attention (CSA/HCA layers, 128-token window, hyper-connections)",
    ),
    (
        "Qwen3NextForCausalLM",
        "Gated DeltaNet linear attention (a fixed recurrent state per sequence)",
    ),
    (
        "KimiLinearForCausalLM",
        "Kimi Delta Attention linear layers (a fixed recurrent state per sequence)",
    ),
    (
        "MiniMaxText01ForCausalLM",
        "lightning linear attention (a fixed recurrent state per sequence)",
    ),
    (
        "MiMoV2FlashForCausalLM",
        "hybrid sliding-window layers with their own KV heads and head dims",
    ),
];

/// Parses `text` (the contents of `file`) as a config.json and normalises it; `id` names the model.
pub fn import(file: &str, id: &str, text: &str) -> Result<Model> {
    let root: Value = serde_json::from_str(text).map_err(|e| Error::Syntax {
        file: file.to_string(),
        reason: format!(
            "invalid JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ),
    })?;
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
    if let Some((_, what)) = NOT_YET.iter().find(|(c, _)| *c == class) {
        return Err(Error::NotModelled {
            model: id.to_string(),
            what: format!("{class}: {what}"),
        });
    }
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
    let vocab = c.size("vocab_size")?;
    // Gemma3 keeps tie_word_embeddings at the top level of a multimodal config.
    let tied = match c.raw("tie_word_embeddings") {
        Some(_) => c.flag("tie_word_embeddings", false)?,
        None => top.flag("tie_word_embeddings", class.starts_with("Gemma3"))?,
    };
    let norms = if class.starts_with("Gemma3") { 4 } else { 2 };
    let windows = layer_windows(class, c, layers)?;

    let mut per_layer = Vec::with_capacity(layers as usize);
    for (i, window) in windows.iter().enumerate() {
        let attention = attention(class, c, hidden, *window)?;
        let ffn = ffn(class, c, i as u64)?;
        per_layer.push((attention, ffn));
    }
    let mtp = mtp(class, c, hidden, &per_layer)?;
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
    if matches!(class, "DeepseekV2ForCausalLM" | "DeepseekV3ForCausalLM") {
        return Ok(Attention::Mla(Mla {
            heads,
            // DeepSeek's own configs write 0 for "no query compression".
            q_lora_rank: c
                .count_or("q_lora_rank", 0)
                .map(|r| Some(r).filter(|&r| r > 0))?,
            kv_lora_rank: c.size("kv_lora_rank")?,
            qk_nope_head_dim: c.size("qk_nope_head_dim")?,
            qk_rope_head_dim: c.size("qk_rope_head_dim")?,
            v_head_dim: c.size("v_head_dim")?,
        }));
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
    let moe = |experts_key: &str, width_key: &str, shared: u64, gate: bool| -> Result<Ffn> {
        let experts = c.size(experts_key)?;
        Ok(Ffn::Moe(Moe {
            experts,
            top_k: check_top_k(
                c,
                "num_experts_per_tok",
                c.size("num_experts_per_tok")?,
                experts,
            )?,
            expert_intermediate: c.size(width_key)?,
            shared_intermediate: shared,
            shared_gate: gate,
            router_bias: class == "GptOssForCausalLM",
            expert_bias: class == "GptOssForCausalLM",
            gated: true,
        }))
    };
    match class {
        "MixtralForCausalLM" => moe("num_local_experts", "intermediate_size", 0, false),
        "GptOssForCausalLM" => moe("num_local_experts", "intermediate_size", 0, false),
        "MiniMaxM2ForCausalLM" => moe("num_local_experts", "intermediate_size", 0, false),
        "Qwen3MoeForCausalLM" => {
            let step = c.count_or("decoder_sparse_step", 1)?;
            let dense_layers = c.list_u64("mlp_only_layers")?.unwrap_or_default();
            let experts = c.count_or("num_experts", 0)?;
            if dense_layers.contains(&i) || experts == 0 || step == 0 || (i + 1) % step != 0 {
                dense(c)
            } else {
                moe("num_experts", "moe_intermediate_size", 0, false)
            }
        }
        "DeepseekV2ForCausalLM"
        | "DeepseekV3ForCausalLM"
        | "Glm4MoeForCausalLM"
        | "BailingMoeV2ForCausalLM" => {
            let (experts_key, shared_key) = if class == "BailingMoeV2ForCausalLM" {
                ("num_experts", "num_shared_experts")
            } else {
                ("n_routed_experts", "n_shared_experts")
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

/// DeepSeek-V3 / GLM-4.5 next-n layers: one more MoE decoder layer plus enorm, hnorm,
/// eh_proj (hidden × 2·hidden) and the shared head's norm; embedding and head are shared.
fn mtp(class: &str, c: &Cfg, hidden: u64, layers: &[(Attention, Ffn)]) -> Result<Option<Mtp>> {
    if !matches!(class, "DeepseekV3ForCausalLM" | "Glm4MoeForCausalLM") {
        return Ok(None);
    }
    let n = c.count_or("num_nextn_predict_layers", 0)?;
    let Some((attention, ffn)) = layers.last().cloned().filter(|_| n > 0) else {
        return Ok(None);
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
                plan.attention = dtype;
            }
        }
        Some("mxfp4") => plan.routed_experts = WeightFormat::Mxfp4,
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
            plan.routed_experts = fmt;
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
        plan.routed_experts = WeightFormat::Mxfp4;
    }
    Ok(plan)
}
