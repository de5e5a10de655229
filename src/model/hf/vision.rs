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
    let h = v.count_or("hidden_size", 1024)?;
    let i = v.count_or("intermediate_size", 4096)?;
    let n = v.count_or("num_hidden_layers", 24)?;
    let ch = v.count_or("num_channels", 3)?;
    let patch = v.count_or("patch_size", 16)?;
    let merge = top.count_or("spatial_merge_size", 2)?;
    let features = match top.raw("vision_feature_layer") {
        Some(serde_json::Value::Array(a)) => a.len() as u64,
        _ => 1,
    };
    let bias = top.flag("multimodal_projector_bias", false)?;
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
