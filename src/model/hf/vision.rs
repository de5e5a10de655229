//! Vision encoders and projectors of multimodal checkpoints ([`VisionRule`]), as transformers
//! builds them: counted in [`TensorGroup::Vision`], held in memory, never used per generated
//! token (`active` 0), keeping no KV cache.
//!
//! Sharding follows vLLM's default `mm_encoder_tp_mode = "weights"` ("split the weights of each
//! layer across TP ranks"): q/k/v (`QKVParallelLinear`) and fc1 / gate_up (column-parallel) split
//! by output, o and fc2 / down (`RowParallelLinear`) by input, SigLIP's position embedding is a
//! `VocabParallelEmbedding` (padded to 64 rows, then split); the Conv2d patch embedding, norms,
//! row-parallel biases and plain `nn.Linear`/`nn.Parameter` projector weights stay whole on every
//! rank [vllm · `vllm/config/multimodal.py::MultiModalConfig.mm_encoder_tp_mode`;
//! `vllm/model_executor/models/siglip.py` (`SiglipVisionEmbeddings`, `SiglipAttention`,
//! `SiglipMLP`); `pixtral.py` (`PixtralHFAttention`, `PixtralHFMLP`); `mistral3.py`
//! (`Mistral3MultiModalProjector`: linear_1 column-, linear_2 row-parallel, patch merger plain);
//! `gemma3_mm.py::Gemma3MultiModalProjector` (a plain parameter) @ v0.11.0]. The models build the
//! encoder in their constructor with no pipeline-rank check, so every pipeline stage holds it
//! (`--limit-mm-per-prompt image=0` makes vLLM's Mistral3 skip it: not modelled).

use super::config::Cfg;
use super::table::{Arch, VisionRule};
use crate::error::Result;
use crate::model::{Shard, Tensor};
use crate::precision::TensorGroup;

const V: TensorGroup = TensorGroup::Vision;

/// `n` copies (one per encoder layer), none used per generated token.
fn per_layer(t: Tensor, n: u64) -> Tensor {
    t.times(n, 0)
}

fn once(t: Tensor) -> Tensor {
    t.times(1, 0)
}

/// The encoder and projector tensors of `arch` (empty for a text-only class). `top` is the
/// top-level config; `text_hidden` the language model's width.
pub(super) fn tensors(arch: &Arch, top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    match arch.vision {
        VisionRule::None => Ok(Vec::new()),
        VisionRule::Gemma3Siglip => gemma3_siglip(top, text_hidden),
        VisionRule::Mistral3Pixtral => mistral3_pixtral(top, text_hidden),
        VisionRule::Llama4 => llama4(top, text_hidden),
        VisionRule::Glm4v => glm4v(top, text_hidden),
        VisionRule::Qwen2Vl | VisionRule::Qwen25Vl | VisionRule::Qwen3Vl => {
            qwen_vl(arch.vision, top)
        }
        VisionRule::InternVl | VisionRule::InternVlChat => {
            intern_vit(arch.vision, top, text_hidden)
        }
        VisionRule::KimiK25 | VisionRule::KimiK25Remote | VisionRule::KimiVl => {
            moonvit(arch.vision, top, text_hidden)
        }
        VisionRule::Ernie45Vl => ernie45_vl(top, text_hidden),
        VisionRule::Step3Vl => step3_vit(top, text_hidden),
        VisionRule::Llava => llava(top, text_hidden),
        VisionRule::MiniCpmV45 => minicpmv45(top, text_hidden),
    }
}

/// The config object holding the language model: `llm_config` for InternVL's remote code,
/// `text_config` otherwise (absent: the top level).
pub(super) fn text_key(rule: VisionRule) -> &'static str {
    match rule {
        VisionRule::InternVlChat => "llm_config",
        _ => "text_config",
    }
}

/// Language models an InternVL wrapper may carry, by `text_config.model_type`: the
/// `AutoModel.from_config(config.text_config)` classes of transformers 5.23.0 with a kvsim row.
const TEXT_MODEL_TYPES: &[(&str, &str)] = &[
    ("qwen2", "Qwen2ForCausalLM"),
    ("qwen3", "Qwen3ForCausalLM"),
    ("qwen2_moe", "Qwen2MoeForCausalLM"),
    ("qwen3_moe", "Qwen3MoeForCausalLM"),
    ("llama", "LlamaForCausalLM"),
    ("mistral", "MistralForCausalLM"),
    ("gpt_oss", "GptOssForCausalLM"),
];

/// For a wrapper whose language model is any of several classes (InternVL), the row of that
/// language model: `text_config.model_type` (absent: the wrapper row's own rules, which are its
/// config class's default text model), or the class `llm_config.architectures` names (remote
/// code, required). None for every other row.
pub(super) fn text_row(arch: &Arch, top: &Cfg) -> Result<Option<&'static Arch>> {
    match arch.vision {
        VisionRule::InternVl | VisionRule::Llava => {
            let Some(t) = top.nested("text_config")? else {
                return Ok(None);
            };
            let Some(kind) = t.string("model_type")? else {
                return Ok(None);
            };
            match TEXT_MODEL_TYPES.iter().find(|(k, _)| *k == kind) {
                Some((_, class)) => Ok(super::table::find(class)),
                None => Err(t.invalid(
                    "model_type",
                    kind,
                    &format!(
                        "a language model kvsim reads under this wrapper: {}",
                        TEXT_MODEL_TYPES
                            .iter()
                            .map(|(k, _)| *k)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )),
            }
        }
        VisionRule::InternVlChat => {
            let t = top.nested("llm_config")?.ok_or_else(|| {
                top.invalid(
                    "llm_config",
                    "nothing",
                    "the language model's config (an object with architectures, hidden_size, ...)",
                )
            })?;
            let class = match t.list_str("architectures")? {
                Some(list) if !list.is_empty() => list[0],
                _ => {
                    return Err(t.invalid(
                        "architectures",
                        "nothing",
                        "a list naming the language model class, e.g. [\"Qwen3ForCausalLM\"]",
                    ))
                }
            };
            match super::table::find(class) {
                Some(row) if row.vision == VisionRule::None => Ok(Some(row)),
                _ => Err(t.invalid(
                    "architectures",
                    crate::text::escape_name(class),
                    "a text-only class kvsim supports (kvsim models --architectures)",
                )),
            }
        }
        _ => Ok(None),
    }
}

/// The `vision_config` object; absent, the wrapper builds its default encoder, which kvsim
/// refuses to guess.
fn vision_config<'a>(top: &Cfg<'a>) -> Result<Cfg<'a>> {
    top.nested("vision_config")?.ok_or_else(|| {
        top.invalid(
            "vision_config",
            "nothing",
            "the vision encoder's config (an object with hidden_size, num_hidden_layers, ...)",
        )
    })
}

/// Gemma3ForConditionalGeneration: `SiglipVisionModel` (transformers
/// `models/siglip/modeling_siglip.py`: Conv2d patch embedding with bias, learned positions,
/// pre-norm layers with LayerNorms and biased q/k/v/o and fc1/fc2, post LayerNorm, and the
/// attention-pooling head unless `vision_use_head` (default true) is false) and `Gemma3MultiModalProjector`
/// (`mm_input_projection_weight` vision × text, `mm_soft_emb_norm`) @ transformers 5.23.0. SiglipVisionConfig
/// defaults: hidden 768, intermediate 3072, 12 layers, 3 channels, image 224, patch 16.
fn gemma3_siglip(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let h = v.count_or("hidden_size", 768)?;
    let i = v.count_or("intermediate_size", 3072)?;
    let n = v.count_or("num_hidden_layers", 12)?;
    let ch = v.count_or("num_channels", 3)?;
    let image = v.count_or("image_size", 224)?;
    let patch = v.count_or("patch_size", 16)?;
    if h == 0 || i == 0 || patch == 0 || image < patch {
        return Err(v.invalid(
            "patch_size",
            patch,
            "positive sizes with patch_size at most image_size",
        ));
    }
    // SiglipVisionTransformer: use_head is True unless the config has vision_use_head.
    let head = v.flag("vision_use_head", true)?;
    let positions = (image / patch) * (image / patch);
    let mut t = vec![
        once(Tensor::matrix(V, h, ch * patch * patch)),
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, positions, h).split(Shard::Vocab)),
    ];
    t.extend(siglip_block(h, i).into_iter().map(|x| per_layer(x, n)));
    t.push(once(Tensor::vector(V, 2 * h)));
    if head {
        // SiglipMultiheadAttentionPoolingHead: probe, torch nn.MultiheadAttention (packed in_proj
        // and out_proj, both biased; whole on every rank in vLLM), LayerNorm, and a SiglipMLP
        // (split like the layers' MLP).
        t.push(once(Tensor::vector(V, h)));
        t.push(once(Tensor::matrix(V, 3 * h, h)));
        t.push(once(Tensor::vector(V, 3 * h)));
        t.push(once(Tensor::matrix(V, h, h)));
        t.push(once(Tensor::vector(V, h + 2 * h)));
        t.push(once(Tensor::matrix(V, i, h).split(Shard::Column)));
        t.push(once(Tensor::vector(V, i).split(Shard::Column)));
        t.push(once(Tensor::matrix(V, h, i).split(Shard::Row)));
        t.push(once(Tensor::vector(V, h)));
    }
    // Gemma3MultiModalProjector: a plain parameter and a norm, whole on every rank in vLLM.
    t.push(once(Tensor::matrix(V, text_hidden, h)));
    t.push(once(Tensor::vector(V, h)));
    Ok(t)
}

/// One SigLIP encoder layer: q, k, v, o (h × h, biased), two LayerNorms, fc1 and fc2 (biased).
fn siglip_block(h: u64, i: u64) -> Vec<Tensor> {
    let col = Shard::Column;
    vec![
        Tensor::matrix(V, 3 * h, h).split(col),
        Tensor::vector(V, 3 * h).split(col),
        Tensor::matrix(V, h, h).split(Shard::Row),
        Tensor::vector(V, h),
        Tensor::vector(V, 4 * h),
        Tensor::matrix(V, i, h).split(col),
        Tensor::vector(V, i).split(col),
        Tensor::matrix(V, h, i).split(Shard::Row),
        Tensor::vector(V, h),
    ]
}

/// Mistral3ForConditionalGeneration: `PixtralVisionModel` (transformers
/// `models/pixtral/modeling_pixtral.py`: bias-free Conv2d patches, `ln_pre` RMSNorm, layers of
/// RMSNorm + bias-free q/k/v/o (h × h) + RMSNorm + gated MLP, rotary positions without weights)
/// and `Mistral3MultiModalProjector` (`models/mistral3/modeling_mistral3.py`: RMSNorm, patch
/// merger `h·s² → h`, linear_1 `h·feature_layers → text`, linear_2 `text → text`, biases from
/// `multimodal_projector_bias`) @ transformers 5.23.0. PixtralVisionConfig defaults: hidden 1024,
/// intermediate 4096, 24 layers, 3 channels, patch 16; Mistral3Config: spatial_merge_size 2,
/// vision_feature_layer -1, multimodal_projector_bias false.
fn mistral3_pixtral(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    // The row reads the language model with Mistral's rules and MistralConfig's defaults.
    if let Some(t) = top.nested("text_config")? {
        match t.string("model_type")? {
            None | Some("mistral") => {}
            Some(other) => {
                return Err(t.invalid(
                    "model_type",
                    other,
                    "mistral (the language model kvsim reads for Mistral3)",
                ))
            }
        }
    }
    let v = vision_config(top)?;
    match v.string("model_type")? {
        None | Some("pixtral") => {}
        Some(other) => {
            return Err(v.invalid("model_type", other, "pixtral (the encoder kvsim models)"))
        }
    }
    let (mut t, h) = pixtral_tower(&v)?;
    let merge = top.count_or("spatial_merge_size", 2)?;
    let features = feature_layers(top);
    let bias = top.flag("multimodal_projector_bias", false)?;
    let col = Shard::Column;
    // Projector: norm and patch merger whole, linear_1 column- and linear_2 row-parallel.
    t.push(once(Tensor::vector(V, h)));
    t.push(once(Tensor::matrix(V, h, h * merge * merge)));
    t.push(once(
        Tensor::matrix(V, text_hidden, h * features).split(col),
    ));
    t.push(once(
        Tensor::matrix(V, text_hidden, text_hidden).split(Shard::Row),
    ));
    if bias {
        t.push(once(Tensor::vector(V, text_hidden).split(col)));
        t.push(once(Tensor::vector(V, text_hidden)));
    }
    Ok(t)
}

/// A ViT layer of width `h` and MLP `i`: biased q, k, v, o and fc1, fc2, two LayerNorms with
/// biases (`norm_vectors` hidden-sized vectors in all), split as the other encoders.
fn vit_block(h: u64, i: u64, norm_vectors: u64) -> Vec<Tensor> {
    let col = Shard::Column;
    vec![
        Tensor::matrix(V, 3 * h, h).split(col),
        Tensor::vector(V, 3 * h).split(col),
        Tensor::matrix(V, h, h).split(Shard::Row),
        Tensor::vector(V, h),
        Tensor::vector(V, norm_vectors * h),
        Tensor::matrix(V, i, h).split(col),
        Tensor::vector(V, i).split(col),
        Tensor::matrix(V, h, i).split(Shard::Row),
        Tensor::vector(V, h),
    ]
}

/// Llama4ForConditionalGeneration: `Llama4VisionModel` (transformers
/// `models/llama4/modeling_llama4.py`: unfold patch embedding `ch·p² → h` without bias, class
/// embedding, learned positions for `(image/patch)² + 1` patches, `layernorm_pre` and
/// `layernorm_post` (LayerNorms with bias), layers of biased q/k/v/o and fc1/fc2 with two
/// LayerNorms, and the pixel-shuffle adapter `Llama4VisionMLP2`: fc1 `intermediate_size →
/// projector_input_dim`, fc2 `projector_output_dim²`, no biases) and `Llama4MultiModalProjector`
/// (`vision_output_dim → text hidden`, no bias) @ transformers 5.23.0. Llama4VisionConfig
/// defaults: hidden 768, intermediate 5632, 34 layers, 3 channels, image 448, patch 14,
/// projector_input_dim and projector_output_dim 4096, vision_output_dim 7680. Splits follow the
/// other encoders (q/k/v, fc1 column; o, fc2 row; the rest whole).
fn llama4(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let h = v.count_or("hidden_size", 768)?;
    let i = v.count_or("intermediate_size", 5632)?;
    let n = v.count_or("num_hidden_layers", 34)?;
    let ch = v.count_or("num_channels", 3)?;
    let image = v.count_or("image_size", 448)?;
    let patch = v.count_or("patch_size", 14)?;
    let p_in = v.count_or("projector_input_dim", 4096)?;
    let p_out = v.count_or("projector_output_dim", 4096)?;
    let out_dim = v.count_or("vision_output_dim", 7680)?;
    if h == 0 || patch == 0 || image < patch {
        return Err(v.invalid(
            "patch_size",
            patch,
            "positive sizes with patch_size at most image_size",
        ));
    }
    let positions = (image / patch) * (image / patch) + 1;
    let mut t = vec![
        once(Tensor::matrix(V, h, ch * patch * patch)),
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, positions, h)),
        once(Tensor::vector(V, 4 * h)),
    ];
    t.extend(vit_block(h, i, 4).into_iter().map(|x| per_layer(x, n)));
    t.push(once(Tensor::matrix(V, p_in, i).split(Shard::Column)));
    t.push(once(Tensor::matrix(V, p_out, p_out).split(Shard::Row)));
    t.push(once(Tensor::matrix(V, text_hidden, out_dim)));
    Ok(t)
}

/// The Qwen-VL vision towers @ transformers 5.23.0 (`models/qwen2_vl`, `qwen2_5_vl`,
/// `qwen3_vl/modeling_*.py`), split as vLLM v0.11.0 splits them (`qwen2_vl.py`,
/// `qwen2_5_vl.py`, `qwen3_vl.py`: qkv and fc1 / gate_up column-parallel, proj and fc2 / down
/// row-parallel, merger fc1 column- and fc2 row-parallel; the Conv3d patch embedding, norms,
/// row-parallel biases and Qwen3-VL's position `nn.Embedding` whole):
///
/// - Qwen2-VL: Conv3d `embed_dim × (in_channels · temporal_patch_size · patch²)` without bias;
///   blocks of two LayerNorms, biased qkv and proj, biased fc1 / fc2 of `mlp_ratio · embed_dim`;
///   merger LayerNorm `ln_q`, `mlp.0` `(embed·m²)²` and `mlp.2` `hidden_size × embed·m²`, biased.
///   Qwen2VLVisionConfig defaults: depth 32, embed_dim 1280, hidden_size 3584, mlp_ratio 4,
///   in_channels 3, patch 14, temporal 2, merge 2.
/// - Qwen2.5-VL: the same with RMSNorms and a gated, biased MLP of `intermediate_size`; the
///   merger maps to `out_hidden_size`. Defaults: depth 32, hidden 3584, intermediate 3420,
///   out_hidden_size 3584, patch 14.
/// - Qwen3-VL: Conv3d with bias, `num_position_embeddings × hidden` learned positions,
///   LayerNorm blocks with ungated biased fc1 / fc2 of `intermediate_size`, a merger with a
///   LayerNorm over `hidden`, and per `deepstack_visual_indexes` entry a merger with a LayerNorm
///   over `hidden·m²`. Defaults: depth 27, hidden 1152, intermediate 4304, out_hidden_size 3584,
///   patch 16, num_position_embeddings 2304, deepstack indexes [8, 16, 24].
fn qwen_vl(rule: VisionRule, top: &Cfg) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let col = Shard::Column;
    let row = Shard::Row;
    let (depth_d, patch_d) = match rule {
        VisionRule::Qwen3Vl => (27, 16),
        _ => (32, 14),
    };
    let n = v.count_or("depth", depth_d)?;
    let ch = v.count_or("in_channels", 3)?;
    let patch = v.count_or("patch_size", patch_d)?;
    let temporal = v.count_or("temporal_patch_size", 2)?;
    let merge = v.count_or("spatial_merge_size", 2)?;
    let (h, out, mlp) = match rule {
        VisionRule::Qwen2Vl => {
            let e = v.count_or("embed_dim", 1280)?;
            (
                e,
                v.count_or("hidden_size", 3584)?,
                v.count_or("mlp_ratio", 4)? * e,
            )
        }
        VisionRule::Qwen25Vl => (
            v.count_or("hidden_size", 3584)?,
            v.count_or("out_hidden_size", 3584)?,
            v.count_or("intermediate_size", 3420)?,
        ),
        _ => (
            v.count_or("hidden_size", 1152)?,
            v.count_or("out_hidden_size", 3584)?,
            v.count_or("intermediate_size", 4304)?,
        ),
    };
    if h == 0 || patch == 0 || merge == 0 {
        return Err(v.invalid("patch_size", patch, "positive vision sizes"));
    }
    let mut t = vec![once(Tensor::matrix(V, h, ch * temporal * patch * patch))];
    // LayerNorm with bias (Qwen2-VL, Qwen3-VL) or RMSNorm (Qwen2.5-VL).
    let ln = if rule == VisionRule::Qwen25Vl { 1 } else { 2 };
    if rule == VisionRule::Qwen3Vl {
        t.push(once(Tensor::vector(V, h)));
        let positions = v.count_or("num_position_embeddings", 2304)?;
        t.push(once(Tensor::matrix(V, positions, h)));
    }
    let mut block = vec![
        Tensor::vector(V, 2 * ln * h),
        Tensor::matrix(V, 3 * h, h).split(col),
        Tensor::vector(V, 3 * h).split(col),
        Tensor::matrix(V, h, h).split(row),
        Tensor::vector(V, h),
    ];
    let gates = if rule == VisionRule::Qwen25Vl { 2 } else { 1 };
    block.push(Tensor::matrix(V, gates * mlp, h).split(col));
    block.push(Tensor::vector(V, gates * mlp).split(col));
    block.push(Tensor::matrix(V, h, mlp).split(row));
    block.push(Tensor::vector(V, h));
    t.extend(block.into_iter().map(|x| per_layer(x, n)));
    let wide = h * merge * merge;
    let merger = |norm: u64| {
        vec![
            Tensor::vector(V, norm),
            Tensor::matrix(V, wide, wide).split(col),
            Tensor::vector(V, wide).split(col),
            Tensor::matrix(V, out, wide).split(row),
            Tensor::vector(V, out),
        ]
    };
    t.extend(merger(ln * h).into_iter().map(once));
    if rule == VisionRule::Qwen3Vl {
        let deep = match v.raw("deepstack_visual_indexes") {
            Some(serde_json::Value::Array(a)) => a.len() as u64,
            Some(_) => {
                return Err(v.invalid(
                    "deepstack_visual_indexes",
                    "not a list",
                    "a list of encoder layer indexes",
                ))
            }
            None => 3,
        };
        if deep > 0 {
            t.extend(merger(2 * wide).into_iter().map(|x| per_layer(x, deep)));
        }
    }
    Ok(t)
}

/// GLM-4.1V / GLM-4.5V: `Glm4vVisionModel` @ transformers 5.23.0 (`models/glm4v/modeling_glm4v.py`:
/// learned positions for `(image/patch)²` patches, Conv3d patch embedding with bias, blocks of two
/// RMSNorms, qkv (biased under `attention_bias`) and proj without bias, a gated MLP of
/// `out_hidden_size` without biases; `post_conv_layernorm`, a Conv2d downsample `out_hidden ×
/// hidden × merge²` with bias, the patch merger (proj `out²`, LayerNorm with bias, gated MLP of
/// `intermediate_size`), `post_layernorm`). Glm4vVisionConfig defaults: depth 24, hidden 1536,
/// in_channels 3, image 336, patch 14, temporal 2, merge 2, out_hidden_size 4096, intermediate
/// 13696, attention_bias false. Split as vLLM v0.11.0 `glm4_1v.py` splits it: qkv, gate_up and
/// the merger's proj and gate_up column-parallel, proj and down row-parallel; the convolutions,
/// position `nn.Embedding` and norms whole. `text_hidden` must equal `out_hidden_size`.
fn glm4v(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let col = Shard::Column;
    let row = Shard::Row;
    let n = v.count_or("depth", 24)?;
    let h = v.count_or("hidden_size", 1536)?;
    let ch = v.count_or("in_channels", 3)?;
    let image = v.count_or("image_size", 336)?;
    let patch = v.count_or("patch_size", 14)?;
    let temporal = v.count_or("temporal_patch_size", 2)?;
    let merge = v.count_or("spatial_merge_size", 2)?;
    let out = v.count_or("out_hidden_size", 4096)?;
    let i = v.count_or("intermediate_size", 13696)?;
    let bias = v.flag("attention_bias", false)?;
    if h == 0 || patch == 0 || image < patch {
        return Err(v.invalid(
            "patch_size",
            patch,
            "positive sizes with patch_size at most image_size",
        ));
    }
    if out != text_hidden {
        return Err(v.invalid(
            "out_hidden_size",
            out,
            &format!("the language model's hidden_size ({text_hidden})"),
        ));
    }
    let positions = (image / patch) * (image / patch);
    let mut t = vec![
        once(Tensor::matrix(V, positions, h)),
        once(Tensor::matrix(V, h, ch * temporal * patch * patch)),
        once(Tensor::vector(V, h)),
    ];
    let mut block = vec![
        Tensor::vector(V, 2 * h),
        Tensor::matrix(V, 3 * h, h).split(col),
        Tensor::matrix(V, h, h).split(row),
        Tensor::matrix(V, 2 * out, h).split(col),
        Tensor::matrix(V, h, out).split(row),
    ];
    if bias {
        block.push(Tensor::vector(V, 3 * h).split(col));
    }
    t.extend(block.into_iter().map(|x| per_layer(x, n)));
    for x in [
        Tensor::vector(V, h),
        Tensor::matrix(V, out, h * merge * merge),
        Tensor::vector(V, out),
        Tensor::matrix(V, out, out).split(col),
        Tensor::vector(V, 2 * out),
        Tensor::matrix(V, 2 * i, out).split(col),
        Tensor::matrix(V, out, i).split(row),
        Tensor::vector(V, h),
    ] {
        t.push(once(x));
    }
    Ok(t)
}

/// A size given as an integer or a `[height, width]` list (transformers' `image_size` /
/// `patch_size`): the two sides.
fn sides(v: &Cfg, key: &str, default: u64) -> Result<(u64, u64)> {
    match v.raw(key) {
        Some(serde_json::Value::Array(_)) => match v.list_u64(key)?.as_deref() {
            Some(&[a, b]) if a > 0 && b > 0 => Ok((a, b)),
            _ => Err(v.invalid(key, "a list", "a positive integer or [height, width]")),
        },
        Some(_) => {
            let n = v.size(key)?;
            Ok((n, n))
        }
        None => Ok((default, default)),
    }
}

/// InternVL's pixel-shuffle factor `int(1 / downsample_ratio)` (InternVLConfig default 0.5).
fn shuffle_factor(top: &Cfg, default: Option<f64>) -> Result<u64> {
    let ratio = match (top.raw("downsample_ratio"), default) {
        (Some(serde_json::Value::Number(n)), _) => n.as_f64(),
        (Some(_), _) => None,
        (None, Some(d)) => Some(d),
        (None, None) => {
            return Err(top.invalid(
                "downsample_ratio",
                "nothing",
                "the pixel-shuffle ratio, e.g. 0.5",
            ))
        }
    };
    match ratio {
        Some(r) if r > 0.0 && r <= 1.0 => Ok((1.0 / r) as u64),
        _ => Err(top.invalid(
            "downsample_ratio",
            "not a number in (0, 1]",
            "a pixel-shuffle ratio in (0, 1], e.g. 0.5",
        )),
    }
}

/// InternVL's InternViT and projector, in two spellings:
///
/// - transformers `InternVLForConditionalGeneration` @ 5.23.0 (`models/internvl/modeling_internvl.py`):
///   `cls_token`, `mask_token` under `use_mask_token`, Conv2d patch embedding with bias, learned
///   positions for `patches + 1` under `use_absolute_position_embeddings`; layers of q/k/v
///   (biased under `attention_bias`), `projection_layer` (biased), per-layer RMSNorm `q_norm` /
///   `k_norm` over the full width under `use_qk_norm`, fc1 / fc2 (biased), two norms
///   (`norm_type` `layer_norm` with bias, or `rms_norm`) and the layer scales `lambda_1`,
///   `lambda_2`; a final LayerNorm unless `use_mean_pooling`. InternVLVisionConfig defaults:
///   hidden 1024, intermediate 4096, 24 layers, 3 channels, image 448, patch 14, no attention
///   bias, no QK norm, layer_norm, no mask token, absolute positions, mean pooling.
///   Split as vLLM 0.11.0 splits it (`interns1_vit.py`: q/k/v/projection_layer plain
///   `nn.Linear`, whole; fc1 column-, fc2 row-parallel; `interns1.py::InternS1MultiModalProjector`
///   plain, whole).
/// - remote code `InternVLChatModel` (OpenGVLab `modeling_intern_vit.py`, as vLLM 0.11.0
///   `intern_vit.py` builds it): `class_embedding`, Conv2d patches with bias, positions for
///   `patches + 1`; layers of a fused qkv (biased under `qkv_bias`), biased `proj`, RMSNorm
///   `q_norm` / `k_norm` under `qk_normalization`, biased fc1 / fc2, `norm1` / `norm2` by
///   `norm_type`, `ls1` / `ls2`; no final norm. No defaults (remote code). vLLM splits qkv
///   (`QKVParallelLinear`) and proj (`RowParallelLinear`) when the heads divide by TP (else it
///   keeps the attention whole: not modelled), fc1 column-, fc2 row-parallel, `mlp1` plain.
///
/// Both projectors: LayerNorm over `hidden · f²`, linear `hidden · f² → text` and `text → text`,
/// biased, with `f = int(1 / downsample_ratio)`.
fn intern_vit(rule: VisionRule, top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let col = Shard::Column;
    let row = Shard::Row;
    let hf = rule == VisionRule::InternVl;
    let (h, i, n, ch) = if hf {
        (
            v.count_or("hidden_size", 1024)?,
            v.count_or("intermediate_size", 4096)?,
            v.count_or("num_hidden_layers", 24)?,
            v.count_or("num_channels", 3)?,
        )
    } else {
        (
            v.size("hidden_size")?,
            v.size("intermediate_size")?,
            v.size("num_hidden_layers")?,
            v.count_or("num_channels", 3)?,
        )
    };
    let (image, patch) = if hf {
        (sides(&v, "image_size", 448)?, sides(&v, "patch_size", 14)?)
    } else {
        let image = v.size("image_size")?;
        let patch = v.size("patch_size")?;
        ((image, image), (patch, patch))
    };
    if h == 0 || i == 0 || image.0 < patch.0 || image.1 < patch.1 {
        return Err(v.invalid(
            "patch_size",
            patch.0,
            "positive sizes with patch_size at most image_size",
        ));
    }
    let norm = match v.string("norm_type")? {
        None | Some("layer_norm") => 2,
        Some("rms_norm") => 1,
        Some(other) => {
            return Err(v.invalid("norm_type", other, "layer_norm or rms_norm"));
        }
    };
    let (qkv_bias, qk_norm) = if hf {
        (
            v.flag("attention_bias", false)?,
            v.flag("use_qk_norm", false)?,
        )
    } else {
        (
            v.flag("qkv_bias", false)?,
            v.flag("qk_normalization", false)?,
        )
    };
    let patches = (image.0 / patch.0) * (image.1 / patch.1);
    // Attention: whole on every rank for the transformers layout (vLLM's interns1_vit), split
    // for the remote one (intern_vit).
    let (acol, arow) = if hf {
        (Shard::Replicated, Shard::Replicated)
    } else {
        (col, row)
    };
    let mut t = vec![
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, h, ch * patch.0 * patch.1)),
        once(Tensor::vector(V, h)),
    ];
    if !hf || v.flag("use_absolute_position_embeddings", true)? {
        t.push(once(Tensor::matrix(V, patches + 1, h)));
    }
    if hf && v.flag("use_mask_token", false)? {
        t.push(once(Tensor::vector(V, h)));
    }
    let mut block = vec![
        Tensor::matrix(V, 3 * h, h).split(acol),
        Tensor::matrix(V, h, h).split(arow),
        Tensor::vector(V, h),
        Tensor::matrix(V, i, h).split(col),
        Tensor::vector(V, i).split(col),
        Tensor::matrix(V, h, i).split(row),
        Tensor::vector(V, h),
        // Two norms, and the two layer scales.
        Tensor::vector(V, 2 * norm * h + 2 * h),
    ];
    if qkv_bias {
        block.push(Tensor::vector(V, 3 * h).split(acol));
    }
    if qk_norm {
        block.push(Tensor::vector(V, 2 * h));
    }
    t.extend(block.into_iter().map(|x| per_layer(x, n)));
    if hf && !v.flag("use_mean_pooling", true)? {
        t.push(once(Tensor::vector(V, 2 * h)));
    }
    let f = shuffle_factor(top, if hf { Some(0.5) } else { None })?;
    let wide = h * f * f;
    for x in [
        Tensor::vector(V, 2 * wide),
        Tensor::matrix(V, text_hidden, wide),
        Tensor::vector(V, text_hidden),
        Tensor::matrix(V, text_hidden, text_hidden),
        Tensor::vector(V, text_hidden),
    ] {
        t.push(once(x));
    }
    Ok(t)
}

/// A `[height, width]` kernel (MoonViT's `merge_kernel_size`): its area.
fn kernel_area(v: &Cfg, key: &str, default: Option<u64>) -> Result<u64> {
    match (v.list_u64(key)?, default) {
        (Some(l), _) if l.len() == 2 && l[0] > 0 && l[1] > 0 => Ok(l[0] * l[1]),
        (None, Some(d)) => Ok(d),
        (found, _) => Err(v.invalid(
            key,
            found.map_or("nothing".to_string(), |l| format!("{} entries", l.len())),
            "[height, width], e.g. [2, 2]",
        )),
    }
}

/// MoonViT (Kimi-VL, Kimi-K2.5) and its patch-merger projector: Conv2d patch embedding `h × 3·p²`
/// with bias, a learned `pos_h × pos_w × h` position grid, layers of biased q/k/v (fused `wqkv`
/// in the checkpoints), biased o, two LayerNorms and a biased fc0 / fc1 MLP, a final LayerNorm;
/// projector: LayerNorm over `norm_width`, linear `h·k² → h·k²` and `h·k² → text`, biased
/// (`k²` = merge kernel area). Keys and placement by class:
///
/// - `Kimi_K25ForConditionalGeneration` (transformers 5.23.0 `models/kimi_k25`): `hidden_size`,
///   `num_hidden_layers`, `intermediate_size`, `patch_size`, `pos_emb_height`, `pos_emb_width`,
///   `merge_kernel_size` (Kimi_K25VisionConfig defaults 1152, 27, 4304, 14, 64, 64, [2, 2]); the
///   projector norm over the top-level `projection_hidden_size` (default 1152).
/// - `KimiK25ForConditionalGeneration` (remote code): `vt_hidden_size`, `vt_num_hidden_layers`,
///   `vt_intermediate_size`, `patch_size`, `init_pos_emb_height`, `init_pos_emb_width`,
///   `merge_kernel_size`, norm over `mm_hidden_size`; all required.
///   Both split as vLLM 0.18.0 `kimi_k25_vit.py` splits them (first in vLLM after 0.11.0):
///   `wqkv` QKVParallel, `wo` row-, fc0 column-, fc1 row-parallel; the projector
///   (`KimiK25MultiModalProjector`: `ReplicatedLinear`), convolution, positions and norms whole.
/// - `KimiVLForConditionalGeneration` (remote code; MoonViTConfig defaults 1152, 27, 4304, 14,
///   64, 64, [2, 2] as vLLM 0.11.0 `transformers_utils/configs/moonvit.py`): `hidden_size`,
///   `num_hidden_layers`, `intermediate_size`, `patch_size`, `init_pos_emb_height`,
///   `init_pos_emb_width`, `merge_kernel_size`, norm over `hidden_size`. vLLM up to 0.13.0
///   `moonvit.py` builds every linear as `ReplicatedLinear` (the whole tower on every rank), from
///   0.14.0 as the K2.5 tower above; the projector (`kimi_vl.py::KimiVLMultiModalProjector`)
///   stays replicated. The tensors carry the split; an engine that keeps them whole says so
///   (`ServingEngine::vision_tp`).
fn moonvit(rule: VisionRule, top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let (h, n, i, patch, ph, pw, area, norm_width) = match rule {
        VisionRule::KimiK25 => (
            v.count_or("hidden_size", 1152)?,
            v.count_or("num_hidden_layers", 27)?,
            v.count_or("intermediate_size", 4304)?,
            v.count_or("patch_size", 14)?,
            v.count_or("pos_emb_height", 64)?,
            v.count_or("pos_emb_width", 64)?,
            kernel_area(&v, "merge_kernel_size", Some(4))?,
            top.count_or("projection_hidden_size", 1152)?,
        ),
        VisionRule::KimiK25Remote => (
            v.size("vt_hidden_size")?,
            v.size("vt_num_hidden_layers")?,
            v.size("vt_intermediate_size")?,
            v.size("patch_size")?,
            v.size("init_pos_emb_height")?,
            v.size("init_pos_emb_width")?,
            kernel_area(&v, "merge_kernel_size", None)?,
            v.size("mm_hidden_size")?,
        ),
        _ => {
            let h = v.count_or("hidden_size", 1152)?;
            (
                h,
                v.count_or("num_hidden_layers", 27)?,
                v.count_or("intermediate_size", 4304)?,
                v.count_or("patch_size", 14)?,
                v.count_or("init_pos_emb_height", 64)?,
                v.count_or("init_pos_emb_width", 64)?,
                kernel_area(&v, "merge_kernel_size", Some(4))?,
                h,
            )
        }
    };
    if h == 0 || i == 0 || patch == 0 {
        return Err(v.invalid("patch_size", patch, "positive vision sizes"));
    }
    // Split as `kimi_k25_vit.py` and, from vLLM 0.14, `moonvit.py` split them; whether an engine
    // keeps Kimi-VL's whole is its rule (`ServingEngine::vision_tp`).
    let block = vit_block(h, i, 4);
    let mut t = vec![
        once(Tensor::matrix(V, h, 3 * patch * patch)),
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, ph * pw, h)),
    ];
    t.extend(block.into_iter().map(|x| per_layer(x, n)));
    let wide = h * area;
    for x in [
        Tensor::vector(V, 2 * h),
        Tensor::vector(V, 2 * norm_width),
        Tensor::matrix(V, wide, wide),
        Tensor::vector(V, wide),
        Tensor::matrix(V, text_hidden, wide),
        Tensor::vector(V, text_hidden),
    ] {
        t.push(once(x));
    }
    Ok(t)
}

/// ERNIE 4.5 VL @ transformers 5.23.0 (`models/ernie4_5_vl_moe/modeling_ernie4_5_vl_moe.py`):
/// `Ernie4_5_VLMoePatchEmbed` (a bias-free linear `in_channels · patch² → hidden`), blocks of two
/// LayerNorms, biased qkv and proj, biased fc1 / fc2 of `intermediate_size`, a final LayerNorm;
/// the resampler with `s = hidden · spatial_merge_size²`: `spatial_linear` (fc1 `s → s`, fc2
/// `s → s`, LayerNorm), `temporal_linear` (fc1 `s · temporal_merge_size → s`, fc2, LayerNorm),
/// `mlp` `s → text` (all biased) and the RMSNorm `after_norm`. Ernie4_5_VLMoeVisionConfig
/// defaults: depth 32, hidden 1280, intermediate 5120, in_channels 3, patch 14, merge 2,
/// temporal merge 2. Split as vLLM 0.11.0 `ernie45_vl.py` splits it: qkv and fc1 column-, proj and
/// fc2 row-parallel, every resampler linear `ColumnParallelLinear` (biases split with them); the
/// patch embedding and norms whole. The vision experts inside the decoder layers are routed
/// experts (`FfnRule::Ernie45VlMoe`), not part of this group. Only the transformers layout (a
/// `text_config` object) is read: the original checkpoints' remote-code layout keeps the
/// language model's fields at the top level with list-valued `moe_num_experts`.
fn ernie45_vl(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    if top.nested("text_config")?.is_none() {
        return Err(top.invalid(
            "text_config",
            "nothing",
            "the transformers 5.23.0 layout with text_config and vision_config (the remote-code \
             layout with the language model at the top level is not read)",
        ));
    }
    let v = vision_config(top)?;
    let col = Shard::Column;
    let n = v.count_or("depth", 32)?;
    let h = v.count_or("hidden_size", 1280)?;
    let i = v.count_or("intermediate_size", 5120)?;
    let ch = v.count_or("in_channels", 3)?;
    let patch = v.count_or("patch_size", 14)?;
    let merge = v.count_or("spatial_merge_size", 2)?;
    let temporal = v.count_or("temporal_merge_size", 2)?;
    if h == 0 || i == 0 || patch == 0 || merge == 0 || temporal == 0 {
        return Err(v.invalid("patch_size", patch, "positive vision sizes"));
    }
    let mut t = vec![once(Tensor::matrix(V, h, ch * patch * patch))];
    t.extend(vit_block(h, i, 4).into_iter().map(|x| per_layer(x, n)));
    t.push(once(Tensor::vector(V, 2 * h)));
    let s = h * merge * merge;
    for x in [
        // spatial_linear
        Tensor::matrix(V, s, s).split(col),
        Tensor::vector(V, s).split(col),
        Tensor::matrix(V, s, s).split(col),
        Tensor::vector(V, s).split(col),
        Tensor::vector(V, 2 * s),
        // temporal_linear
        Tensor::matrix(V, s, s * temporal).split(col),
        Tensor::vector(V, s).split(col),
        Tensor::matrix(V, s, s).split(col),
        Tensor::vector(V, s).split(col),
        Tensor::vector(V, 2 * s),
        // mlp and after_norm
        Tensor::matrix(V, text_hidden, s).split(col),
        Tensor::vector(V, text_hidden).split(col),
        Tensor::vector(V, text_hidden),
    ] {
        t.push(once(x));
    }
    Ok(t)
}

/// Warnings about a vision config that leaves a field to a default known not to describe the
/// published checkpoint. Step3: vLLM 0.11.0 `Step3VisionEncoderConfig` defaults
/// `intermediate_size` to 3072 (kept from the class's first, CLIP-sized defaults when the other
/// sizes became Step3's), which makes a 1.90B encoder; StepFun's Step3 system report (arXiv
/// 2507.19427, §2: "an additional vision encoder of 5 billion parameters", 316B LLM, 321B in all)
/// and deployment guide (stepfun-ai/Step3 `docs/deploy_guidance.md`: about 642 GB in BF16) put
/// the published tower near 5B, so its config.json must set a wider MLP.
pub(super) fn notes(arch: &Arch, top: &Cfg, vision: &[Tensor], id: &str) -> Result<Vec<String>> {
    if arch.vision == VisionRule::MiniCpmV45 {
        return Ok(minicpmv45_notes(top, id));
    }
    if arch.vision != VisionRule::Step3Vl || vision_config(top)?.raw("intermediate_size").is_some()
    {
        return Ok(Vec::new());
    }
    let n: u64 = vision.iter().map(Tensor::elements).sum();
    Ok(vec![format!(
        "{id}: vision_config.intermediate_size is missing: kvsim takes vLLM 0.11.0 \
         Step3VisionEncoderConfig's default 3072, a vision encoder of {:.2}B parameters; StepFun \
         reports 5B for stepfun-ai/step3 (arXiv 2507.19427), so its config sets a wider MLP: \
         give the value from the checkpoint's config.json",
        n as f64 / 1e9
    )])
}

/// Step3 (remote code; vLLM 0.11.0 `step3_vl.py`, whose `Step3VisionEncoderConfig` carries the
/// defaults hidden 1792, intermediate 3072, output_hidden_size 4096, 63 layers, 3 channels,
/// image 728, patch 14): `class_embedding`, a Conv2d patch embedding with bias, an
/// `nn.Embedding` of `patches + 1` positions; layers of two LayerNorms, biased qkv
/// (`QKVParallelLinear`) and `out_proj` (row), biased fc1 (column) and fc2 (row); then
/// `vit_downsampler` (Conv2d `hidden → output_hidden_size`, kernel 2, biased),
/// `vit_downsampler2` (Conv2d `output → 2·output`, kernel 3, biased) and `vit_large_projector`
/// (`2·output → text`, biased under the top-level `projector_bias`, default true), all whole on
/// every rank.
fn step3_vit(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let h = v.count_or("hidden_size", 1792)?;
    let i = v.count_or("intermediate_size", 3072)?;
    let out = v.count_or("output_hidden_size", 4096)?;
    let n = v.count_or("num_hidden_layers", 63)?;
    let ch = v.count_or("num_channels", 3)?;
    let image = v.count_or("image_size", 728)?;
    let patch = v.count_or("patch_size", 14)?;
    if h == 0 || i == 0 || out == 0 || patch == 0 || image < patch {
        return Err(v.invalid(
            "patch_size",
            patch,
            "positive sizes with patch_size at most image_size",
        ));
    }
    let patches = (image / patch) * (image / patch);
    let mut t = vec![
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, h, ch * patch * patch)),
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, patches + 1, h)),
    ];
    t.extend(vit_block(h, i, 4).into_iter().map(|x| per_layer(x, n)));
    t.push(once(Tensor::matrix(V, out, h * 4)));
    t.push(once(Tensor::vector(V, out)));
    t.push(once(Tensor::matrix(V, 2 * out, out * 9)));
    t.push(once(Tensor::vector(V, 2 * out)));
    t.push(once(Tensor::matrix(V, text_hidden, 2 * out)));
    if top.flag("projector_bias", true)? {
        t.push(once(Tensor::vector(V, text_hidden)));
    }
    Ok(t)
}

/// `PixtralVisionModel`'s tensors (bias-free Conv2d patches, `ln_pre` RMSNorm, layers of an
/// RMSNorm, bias-free q/k/v/o, an RMSNorm and a gated MLP; PixtralVisionConfig defaults hidden
/// 1024, intermediate 4096, 24 layers, 3 channels, patch 16) and its width.
fn pixtral_tower(v: &Cfg) -> Result<(Vec<Tensor>, u64)> {
    let h = v.count_or("hidden_size", 1024)?;
    let i = v.count_or("intermediate_size", 4096)?;
    let n = v.count_or("num_hidden_layers", 24)?;
    let ch = v.count_or("num_channels", 3)?;
    let patch = v.count_or("patch_size", 16)?;
    let col = Shard::Column;
    let mut t = vec![
        once(Tensor::matrix(V, h, ch * patch * patch)),
        once(Tensor::vector(V, h)),
    ];
    for x in [
        Tensor::vector(V, h),
        Tensor::matrix(V, 3 * h, h).split(col),
        Tensor::matrix(V, h, h).split(Shard::Row),
        Tensor::vector(V, h),
        Tensor::matrix(V, 2 * i, h).split(col),
        Tensor::matrix(V, h, i).split(Shard::Row),
    ] {
        t.push(per_layer(x, n));
    }
    Ok((t, h))
}

/// Encoder layers the projector concatenates: the length of a `vision_feature_layer` list, else 1.
fn feature_layers(top: &Cfg) -> u64 {
    match top.raw("vision_feature_layer") {
        Some(serde_json::Value::Array(a)) => a.len() as u64,
        _ => 1,
    }
}

/// LLaVA @ transformers 5.23.0 (`models/llava/modeling_llava.py`): the tower
/// `AutoModel.from_config(vision_config)` and `LlavaMultiModalProjector` (linear_1
/// `vision hidden · feature layers → text`, linear_2 `text → text`, biased under
/// `multimodal_projector_bias`, default true). Towers by `vision_config.model_type`:
///
/// - `clip_vision_model`: `CLIPVisionModel` (`models/clip/modeling_clip.py`): `class_embedding`,
///   bias-free Conv2d patches, `patches + 1` learned positions, `pre_layrnorm`, layers of two
///   LayerNorms, biased q/k/v/out_proj and fc1 / fc2, `post_layernorm`. CLIPVisionConfig
///   defaults: hidden 768, intermediate 3072, 12 layers, 3 channels, image 224, patch 32.
///   Split as vLLM 0.11.0 `clip.py` splits it (qkv `QKVParallelLinear`, out_proj row-, fc1
///   column-, fc2 row-parallel; embeddings and norms whole).
/// - `pixtral`: the Pixtral tower of Mistral3 (above).
///
/// The projector splits as vLLM 0.11.0 `llava.py::LlavaMultiModalProjector` (linear_1 column-,
/// linear_2 row-parallel). vLLM builds the tower only up to `vision_feature_layer` and without
/// the post-norm (`init_vision_tower_for_llava`, `require_post_norm=False`): with the default
/// -2 it holds one layer fewer than the checkpoint; kvsim counts the checkpoint's layers.
fn llava(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    let v = vision_config(top)?;
    let col = Shard::Column;
    let (mut t, h) = match v.string("model_type")? {
        Some("clip_vision_model") => {
            let h = v.count_or("hidden_size", 768)?;
            let i = v.count_or("intermediate_size", 3072)?;
            let n = v.count_or("num_hidden_layers", 12)?;
            let ch = v.count_or("num_channels", 3)?;
            let image = v.count_or("image_size", 224)?;
            let patch = v.count_or("patch_size", 32)?;
            if h == 0 || patch == 0 || image < patch {
                return Err(v.invalid(
                    "patch_size",
                    patch,
                    "positive sizes with patch_size at most image_size",
                ));
            }
            let positions = (image / patch) * (image / patch) + 1;
            let mut t = vec![
                once(Tensor::vector(V, h)),
                once(Tensor::matrix(V, h, ch * patch * patch)),
                once(Tensor::matrix(V, positions, h)),
                once(Tensor::vector(V, 2 * h)),
            ];
            t.extend(vit_block(h, i, 4).into_iter().map(|x| per_layer(x, n)));
            t.push(once(Tensor::vector(V, 2 * h)));
            (t, h)
        }
        Some("pixtral") => pixtral_tower(&v)?,
        other => {
            return Err(v.invalid(
                "model_type",
                other.unwrap_or("nothing"),
                "clip_vision_model or pixtral (the LLaVA towers kvsim models)",
            ))
        }
    };
    let bias = top.flag("multimodal_projector_bias", true)?;
    t.push(once(
        Tensor::matrix(V, text_hidden, h * feature_layers(top)).split(col),
    ));
    t.push(once(
        Tensor::matrix(V, text_hidden, text_hidden).split(Shard::Row),
    ));
    if bias {
        t.push(once(Tensor::vector(V, text_hidden).split(col)));
        t.push(once(Tensor::vector(V, text_hidden)));
    }
    Ok(t)
}

/// SiglipVisionConfig's `num_channels` default (the remote `modeling_navit_siglip.py` of
/// openbmb/MiniCPM-V-4_5, as transformers' SiglipVisionConfig): the one MiniCPM-V encoder field
/// the published config.json leaves out.
const MINICPMV_CHANNELS: u64 = 3;

/// MiniCPM-V 4.5 as vLLM 0.10.2 builds it (`vllm/model_executor/models/minicpmv.py`:
/// `MiniCPMV.__new__` dispatches on `version`; `MiniCPMV4_5.init_vision_module`,
/// `init_resampler`; `MiniCPMVBaseModel.__init__`):
///
/// - `vpm`: `Idefics2VisionTransformer(config.vision_config)` (`idefics2_vision_model.py` @
///   v0.10.2): Conv2d patch embedding `hidden × ch·patch²` with bias, an `nn.Embedding` of
///   `(image_size / patch_size)²` positions, layers of biased `qkv_proj` (`QKVParallelLinear`)
///   and `out_proj` (`RowParallelLinear`), two LayerNorms, biased fc1 (`ColumnParallelLinear`)
///   and fc2 (`RowParallelLinear`), and `post_layernorm` (`require_post_norm` defaults true).
///   Parallel linears split over TP under the default `mm_encoder_tp_mode = "weights"`
///   (`disable_tp` only with `"data"`); the convolution, positions and norms stay whole.
///   `drop_vision_last_layer` true drops the last layer (as the remote modeling file does).
/// - `resampler`: `Resampler4_5(num_queries = query_num, embed_dim = hidden_size, num_heads =
///   hidden_size / 128, kv_dim = vision hidden)` over `BaseResampler`
///   (`vllm/model_executor/layers/resampler.py` @ v0.10.2): `query` (an `nn.Parameter`),
///   `kv_proj` (`ReplicatedLinear`, no bias; absent when the widths agree), a torch
///   `nn.MultiheadAttention` (packed in_proj and out_proj, biased), `ln_q`, `ln_kv`, `ln_post`
///   (LayerNorms with bias) and `proj` (an `nn.Parameter`): all whole on every rank. Its
///   sin-cos position tables are non-persistent buffers, not parameters, and not counted.
///
/// Every field that sizes a tensor is required (`vision_config.hidden_size`,
/// `intermediate_size`, `num_hidden_layers`, `image_size`, `patch_size`; top-level `version`,
/// `query_num`, `drop_vision_last_layer`), except `vision_config.num_channels`, which the
/// published config leaves out: 3, with a warning ([`minicpmv45_notes`]).
fn minicpmv45(top: &Cfg, text_hidden: u64) -> Result<Vec<Tensor>> {
    // vLLM reads `str(config.version)` split at "."; without it, it guesses 2.0 or 2.5 from the
    // widths. The other versions pair the encoder with other language models (MiniCPM, Llama 3,
    // Qwen2), which this row does not read.
    let version = match top.raw("version") {
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(serde_json::Value::String(s)) => crate::text::escape_name(s),
        Some(_) => "not a number".to_string(),
        None => "nothing".to_string(),
    };
    if version != "4.5" {
        return Err(top.invalid(
            "version",
            version,
            "4.5 (MiniCPM-V 4.5, a Qwen3 language model: the MiniCPMV version kvsim reads)",
        ));
    }
    let v = vision_config(top)?;
    let h = v.size("hidden_size")?;
    let i = v.size("intermediate_size")?;
    let layers = v.size("num_hidden_layers")?;
    let image = v.size("image_size")?;
    let patch = v.size("patch_size")?;
    let ch = v.count_or("num_channels", MINICPMV_CHANNELS)?;
    if image < patch {
        return Err(v.invalid(
            "patch_size",
            patch,
            &format!("at most image_size ({image})"),
        ));
    }
    let queries = top.size("query_num")?;
    let drop_last =
        match top.raw("drop_vision_last_layer") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(_) => {
                return Err(top.invalid("drop_vision_last_layer", "not a boolean", "true or false"))
            }
            None => return Err(top.invalid(
                "drop_vision_last_layer",
                "nothing",
                "true or false (MiniCPMVConfig's default is true, the published 4.5 config says \
                 false: state it)",
            )),
        };
    let n = layers - u64::from(drop_last);
    let positions = (image / patch) * (image / patch);
    let mut t = vec![
        once(Tensor::matrix(V, h, ch * patch * patch)),
        once(Tensor::vector(V, h)),
        once(Tensor::matrix(V, positions, h)),
    ];
    t.extend(vit_block(h, i, 4).into_iter().map(|x| per_layer(x, n)));
    t.push(once(Tensor::vector(V, 2 * h)));
    // Resampler4_5, whole on every rank.
    let e = text_hidden;
    t.push(once(Tensor::matrix(V, queries, e)));
    if h != e {
        t.push(once(Tensor::matrix(V, e, h)));
    }
    for x in [
        Tensor::matrix(V, 3 * e, e),
        Tensor::vector(V, 3 * e),
        Tensor::matrix(V, e, e),
        Tensor::vector(V, e),
        Tensor::vector(V, 3 * 2 * e),
        Tensor::matrix(V, e, e),
    ] {
        t.push(once(x));
    }
    Ok(t)
}

/// The warning for a MiniCPM-V encoder field left to its default: `vision_config.num_channels`.
fn minicpmv45_notes(top: &Cfg, id: &str) -> Vec<String> {
    let missing = match top.peek("vision_config") {
        Some(serde_json::Value::Object(m)) => m.get("num_channels").is_none_or(|x| x.is_null()),
        _ => false,
    };
    if missing {
        vec![format!(
            "{id}: vision_config.num_channels is missing: kvsim takes SiglipVisionConfig's \
             default {MINICPMV_CHANNELS} (RGB) for the encoder's patch embedding"
        )]
    } else {
        Vec::new()
    }
}

/// Fixed sin-cos position tables a vision module registers as buffers (not parameters).
/// MiniCPM-V 4.5: vLLM 0.10.2 `minicpmv.py` `Resampler4_5` keeps `pos_embed` over a 70 × 70 grid
/// (`Resampler2_5._set_2d_pos_cache`, `max_size=(70, 70)`) and `temporal_pos_embed` over 36,000
/// positions (`_set_temporal_pos_cache`, `max_temporal_size=36000`), each `embed_dim` wide, where
/// `MiniCPMV4_5.init_resampler` is given the language model's `hidden_size`.
pub(super) fn sincos_tables(
    arch: &Arch,
    text_hidden: u64,
) -> Vec<crate::model::position::SinCosTable> {
    match arch.vision {
        VisionRule::MiniCpmV45 => vec![crate::model::position::SinCosTable {
            owner: "MiniCPM-V 4.5 resampler (Resampler4_5 pos_embed + temporal_pos_embed)".into(),
            elements: (70 * 70 + 36_000u64).saturating_mul(text_hidden),
        }],
        _ => Vec::new(),
    }
}
