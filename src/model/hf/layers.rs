//! Per-layer attention of hybrid architectures ([`LayerKinds`]) and the multi-token-prediction
//! layers ([`MtpRule`]).

use super::config::Cfg;
use super::table::{Arch, LayerKinds, MtpRule};
use super::{gqa, indexer};
use crate::error::Result;
use crate::model::attention::{
    Absent, Compressed, Linear, LinearKind, Mamba, MambaKind, Mfa, Parallel, SharedBlock, SharedKv,
};
use crate::model::{Attention, Ffn, Gqa, LayerGroup, Mtp, Tensor};
use crate::precision::TensorGroup;
use serde_json::Value;

/// A layer whose attention the row's [`AttnRule`](super::table::AttnRule) builds, or one its
/// layer kinds built.
pub(super) enum LayerKind {
    Standard,
    Special(Attention),
}

/// The kind of each of the `layers` layers.
pub(super) fn layer_kinds(
    arch: &Arch,
    c: &Cfg,
    hidden: u64,
    layers: u64,
) -> Result<Vec<LayerKind>> {
    match arch.layer_kinds {
        LayerKinds::Uniform | LayerKinds::LongcatFlash => {
            Ok((0..layers).map(|_| LayerKind::Standard).collect())
        }
        LayerKinds::Qwen3Next => qwen3_next(c, layers),
        LayerKinds::KimiLinear => kimi_linear(c, layers),
        LayerKinds::MiniMaxText01 => minimax_text_01(c, layers),
        LayerKinds::MiniMax => minimax(c, hidden, layers),
        LayerKinds::DeepseekV4 => deepseek_v4(c, layers),
        LayerKinds::MiMoV2 => mimo_v2(arch, c, hidden, layers),
        LayerKinds::HunyuanCla => {
            let factor = if c.flag("use_cla", false)? {
                c.count_or("cla_share_factor", 1)?.max(1)
            } else {
                1
            };
            if factor == 1 {
                return Ok((0..layers).map(|_| LayerKind::Standard).collect());
            }
            let g = gqa(arch, c, hidden, None)?;
            // vLLM 0.11.0 hunyuan_v1.py HunYuanCrossAttention: q_proj hidden → hidden and o_proj
            // heads·head_dim → hidden, both biased by attention_bias, per-head query/key norms.
            let follower = Attention::SharedKv(SharedKv {
                heads: g.heads,
                kv_heads: g.kv_heads,
                head_dim: g.head_dim,
                q_rows: hidden,
                bias: g.qkv_bias,
                qk_norm: g.qk_norm,
            });
            Ok((0..layers)
                .map(|i| {
                    if i % factor == 0 {
                        LayerKind::Standard
                    } else {
                        LayerKind::Special(follower.clone())
                    }
                })
                .collect())
        }
        LayerKinds::Step3 => {
            let kv_heads = c.size("num_attention_groups")?;
            if kv_heads != 1 {
                return Err(c.invalid(
                    "num_attention_groups",
                    kv_heads,
                    "1 (vLLM 0.11.0 Step3TextAttention accepts one shared K/V head only)",
                ));
            }
            let a = Attention::Mfa(Mfa {
                heads: c.size("num_attention_heads")?,
                kv_heads,
                head_dim: c.size("head_dim")?,
                q_rank: c.size("share_q_dim")?,
            });
            Ok((0..layers).map(|_| LayerKind::Special(a.clone())).collect())
        }
        LayerKinds::Mamba2 => {
            let m = mamba2(c, hidden, "")?;
            Ok((0..layers).map(|_| special(m.clone())).collect())
        }
        LayerKinds::Mamba1 => {
            let m = Attention::Mamba(Mamba {
                kind: MambaKind::Mamba1,
                intermediate: c.size("intermediate_size")?,
                state_size: c.size("state_size")?,
                conv_kernel: c.size("conv_kernel")?,
                heads: 0,
                head_dim: 0,
                n_groups: 0,
                dt_rank: c.size("time_step_rank")?,
                conv_bias: c.flag("use_conv_bias", true)?,
                in_bias: c.flag("use_bias", false)?,
                out_bias: c.flag("use_bias", false)?,
                gated_norm: false,
                dt_norms: false,
            });
            Ok((0..layers).map(|_| LayerKind::Special(m.clone())).collect())
        }
        LayerKinds::NemotronH => {
            let pattern = nemotron_h_pattern(c, layers)?;
            let m = mamba2(c, hidden, "nemotron_h")?;
            Ok(pattern
                .iter()
                .map(|p| match p {
                    'M' => special(m.clone()),
                    '*' => LayerKind::Standard,
                    _ => LayerKind::Special(Attention::Absent(Absent {})),
                })
                .collect())
        }
        LayerKinds::Jamba => {
            let period = c.size("attn_layer_period")?;
            let offset = c.count_or("attn_layer_offset", 0)?;
            let i = c.size("mamba_expand")? * hidden;
            let m = Attention::Mamba(Mamba {
                kind: MambaKind::Mamba1,
                intermediate: i,
                state_size: c.size("mamba_d_state")?,
                conv_kernel: c.size("mamba_d_conv")?,
                heads: 0,
                head_dim: 0,
                n_groups: 0,
                dt_rank: c.size("mamba_dt_rank")?,
                conv_bias: c.flag("mamba_conv_bias", true)?,
                in_bias: c.flag("mamba_proj_bias", false)?,
                out_bias: c.flag("mamba_proj_bias", false)?,
                gated_norm: false,
                dt_norms: true,
            });
            Ok((0..layers)
                .map(|l| {
                    if l % period == offset {
                        LayerKind::Standard
                    } else {
                        LayerKind::Special(m.clone())
                    }
                })
                .collect())
        }
        LayerKinds::GraniteMoeHybrid => {
            let types = c.list_str("layer_types")?.ok_or_else(|| {
                c.invalid(
                    "layer_types",
                    "nothing",
                    "one entry per layer: mamba or attention",
                )
            })?;
            if types.len() as u64 != layers {
                return Err(c.invalid(
                    "layer_types",
                    format!("{} entries", types.len()),
                    &format!("{layers} entries"),
                ));
            }
            let m = mamba2(c, hidden, "granite")?;
            types
                .iter()
                .enumerate()
                .map(|(i, t)| match *t {
                    "mamba" => Ok(special(m.clone())),
                    "attention" => Ok(LayerKind::Standard),
                    other => {
                        Err(c.invalid(&format!("layer_types[{i}]"), other, "mamba or attention"))
                    }
                })
                .collect()
        }
        LayerKinds::FalconH1 => {
            let attention = Attention::Gqa(gqa(arch, c, hidden, None)?);
            let both = Attention::Parallel(Parallel {
                parts: vec![attention, falcon_h1_mixer(c, hidden)?],
            });
            Ok((0..layers).map(|_| special(both.clone())).collect())
        }
        LayerKinds::Zamba2 => zamba2(c, hidden, layers),
        LayerKinds::Bamba => {
            let listed = c.list_u64("attn_layer_indices")?.unwrap_or_default();
            let attn = layer_set(c, "attn_layer_indices", &listed, layers, false)?;
            let m = mamba2(c, hidden, "granite")?;
            Ok(attn
                .iter()
                .map(|&a| {
                    if a {
                        LayerKind::Standard
                    } else {
                        special(m.clone())
                    }
                })
                .collect())
        }
    }
}

fn special(a: Attention) -> LayerKind {
    LayerKind::Special(a)
}

/// A Mamba2 mixer by one of three key sets: "" (Mamba2Config: `num_heads`, `head_dim`, `expand`,
/// `state_size`, `n_groups`, `conv_kernel`, `use_conv_bias`, `use_bias`), "nemotron_h"
/// (`mamba_num_heads`, `mamba_head_dim`, `ssm_state_size`, `n_groups`, `conv_kernel`;
/// inner width heads × head_dim), "granite" (GraniteMoeHybrid / Bamba: `mamba_n_heads`,
/// `mamba_d_head`, `mamba_expand`, `mamba_d_state`, `mamba_n_groups`, `mamba_d_conv`,
/// `mamba_conv_bias`, `mamba_proj_bias`).
fn mamba2(c: &Cfg, hidden: u64, keys: &str) -> Result<Attention> {
    let (heads, head_dim, intermediate, state, groups, conv, conv_bias, bias) = match keys {
        "nemotron_h" => {
            let heads = c.size("mamba_num_heads")?;
            let hd = c.size("mamba_head_dim")?;
            (
                heads,
                hd,
                heads * hd,
                c.size("ssm_state_size")?,
                c.size("n_groups")?,
                c.size("conv_kernel")?,
                c.flag("use_conv_bias", true)?,
                c.flag("use_bias", false)?,
            )
        }
        // Zamba2Config (transformers 5.23.0): inner width mamba_expand × hidden, head dim
        // mamba_headdim (derived as inner / n_mamba_heads unless the config gives it, which then
        // wins, as from_dict sets it after __post_init__); Zamba2MambaMixer builds conv1d with a
        // bias whatever use_conv_bias says, and in/out_proj biases by add_bias_linear.
        "zamba2" => {
            let heads = c.size("n_mamba_heads")?;
            let inner = c.size("mamba_expand")? * hidden;
            (
                heads,
                c.size_opt("mamba_headdim")?.unwrap_or(inner / heads),
                inner,
                c.size("mamba_d_state")?,
                c.size("mamba_ngroups")?,
                c.size("mamba_d_conv")?,
                true,
                c.flag("add_bias_linear", false)?,
            )
        }
        "granite" => (
            c.size("mamba_n_heads")?,
            c.size("mamba_d_head")?,
            c.size("mamba_expand")? * hidden,
            c.size("mamba_d_state")?,
            c.size("mamba_n_groups")?,
            c.size("mamba_d_conv")?,
            c.flag("mamba_conv_bias", true)?,
            c.flag("mamba_proj_bias", false)?,
        ),
        _ => (
            c.size("num_heads")?,
            c.size("head_dim")?,
            c.size("expand")? * hidden,
            c.size("state_size")?,
            c.size("n_groups")?,
            c.size("conv_kernel")?,
            c.flag("use_conv_bias", true)?,
            c.flag("use_bias", false)?,
        ),
    };
    if head_dim == 0 {
        // Only a derived head dim can be 0 (Zamba2: inner width / n_mamba_heads).
        return Err(c.invalid(
            "n_mamba_heads",
            heads,
            &format!("at most the Mamba inner width ({intermediate})"),
        ));
    }
    if intermediate % groups != 0 {
        return Err(c.invalid(
            match keys {
                "granite" => "mamba_n_groups",
                "zamba2" => "mamba_ngroups",
                _ => "n_groups",
            },
            groups,
            &format!("a divisor of the Mamba inner width ({intermediate})"),
        ));
    }
    Ok(Attention::Mamba(Mamba {
        kind: MambaKind::Mamba2,
        intermediate,
        state_size: state,
        conv_kernel: conv,
        heads,
        head_dim,
        n_groups: groups,
        dt_rank: 0,
        conv_bias,
        in_bias: bias,
        out_bias: bias,
        gated_norm: true,
        dt_norms: false,
    }))
}

/// Zamba2 (transformers 5.23.0 `Zamba2Config`, `Zamba2Model.get_layers`): a Mamba2 layer per
/// `layers_block_type` entry (`mamba` / `linear_attention`), and on `hybrid` ones also a use of
/// shared transformer block `j % num_mem_blocks` (j counting hybrid layers; the first
/// `num_mem_blocks` uses hold the blocks' weights) with its own adapters, `linear` projection and
/// KV cache (vLLM 0.11.0 `zamba2.py`: one `Attention` per hybrid layer). Attention width
/// `attention_hidden_size` (2 × hidden) and head dim `attention_head_dim` (alias `head_dim`;
/// 2 × hidden / heads) as `Zamba2Config.__post_init__` derives them, a value in the config
/// winning as it does there; MLP `intermediate_size` (absent or 0: 4 × hidden).
fn zamba2(c: &Cfg, hidden: u64, layers: u64) -> Result<Vec<LayerKind>> {
    let hybrid = zamba2_hybrid_layers(c, layers)?;
    let mamba = mamba2(c, hidden, "zamba2")?;
    let heads = c.size("num_attention_heads")?;
    let kv_heads = super::kv_heads(c, heads)?;
    let head_dim = match c.size_opt("attention_head_dim")? {
        Some(d) => d,
        None => match c.size_opt("head_dim")? {
            Some(d) => d,
            None => 2 * hidden / heads,
        },
    };
    if head_dim == 0 {
        return Err(c.invalid(
            "num_attention_heads",
            heads,
            &format!("at most 2 × hidden_size ({})", 2 * hidden),
        ));
    }
    let intermediate = match c.count_or("intermediate_size", 0)? {
        0 => 4 * hidden,
        n => n,
    };
    let blocks = c.size("num_mem_blocks")?;
    let block = |holds_weights| -> Result<Attention> {
        Ok(Attention::SharedBlock(SharedBlock {
            heads,
            kv_heads,
            head_dim,
            input: c.size_opt("attention_hidden_size")?.unwrap_or(2 * hidden),
            intermediate,
            mlp_bias: c.flag("add_bias_linear", false)?,
            adapter_rank: c.size("adapter_rank")?,
            attn_adapters: c.flag("use_shared_attention_adapter", false)?,
            holds_weights,
        }))
    };
    let (owner, reader) = (block(true)?, block(false)?);
    let mut j = 0;
    Ok(hybrid
        .iter()
        .map(|&h| {
            if !h {
                return special(mamba.clone());
            }
            let shared = if j < blocks { &owner } else { &reader };
            j += 1;
            special(Attention::Parallel(Parallel {
                parts: vec![shared.clone(), mamba.clone()],
            }))
        })
        .collect())
}

/// Which layers are hybrid: `layers_block_type` (or its alias `layer_types`), else
/// Zamba2Config's default 54-layer pattern; a `hybrid_layer_ids` list, when given, must name the
/// same layers (transformers places the adapters by it).
fn zamba2_hybrid_layers(c: &Cfg, layers: u64) -> Result<Vec<bool>> {
    let key = if c.peek("layers_block_type").is_some() {
        "layers_block_type"
    } else {
        "layer_types"
    };
    let hybrid: Vec<bool> = match c.list_str(key)? {
        Some(types) => types
            .iter()
            .enumerate()
            .map(|(i, t)| match *t {
                "hybrid" => Ok(true),
                "mamba" | "linear_attention" => Ok(false),
                other => Err(c.invalid(&format!("{key}[{i}]"), other, "mamba or hybrid")),
            })
            .collect::<Result<_>>()?,
        // Zamba2Config.__post_init__: 1 + (5 + 1) × 7 + 4 + 1 + 3 + 1 + 2 = 54 layers.
        None => {
            let mut p = vec![false];
            for _ in 0..7 {
                p.extend([false; 5]);
                p.push(true);
            }
            p.extend([false; 4]);
            p.push(true);
            p.extend([false; 3]);
            p.push(true);
            p.extend([false; 2]);
            p
        }
    };
    if hybrid.len() as u64 != layers {
        return Err(c.invalid(
            key,
            format!("{} entries", hybrid.len()),
            &format!("one entry per layer (num_hidden_layers {layers}; Zamba2Config's default pattern has 54)"),
        ));
    }
    let ids: Vec<u64> = (0..layers).filter(|&i| hybrid[i as usize]).collect();
    if let Some(given) = c.list_u64("hybrid_layer_ids")? {
        if given != ids {
            return Err(c.invalid(
                "hybrid_layer_ids",
                format!("{given:?}"),
                &format!("the hybrid layers of {key}: {ids:?}"),
            ));
        }
    }
    Ok(hybrid)
}

/// Falcon-H1's Mamba2 mixer (FalconH1Mixer @ transformers 5.23.0): inner width `mamba_d_ssm`
/// (null: `mamba_expand` × hidden), head dim `mamba_d_head` (absent or "auto": inner / heads),
/// in_proj bias `mamba_proj_bias`, out_proj bias `projectors_bias`, the gated RMSNorm only under
/// `mamba_rms_norm`.
fn falcon_h1_mixer(c: &Cfg, hidden: u64) -> Result<Attention> {
    let intermediate = match c.size_opt("mamba_d_ssm")? {
        Some(d) => d,
        None => c.size("mamba_expand")? * hidden,
    };
    let heads = c.size("mamba_n_heads")?;
    let head_dim = match c.peek("mamba_d_head") {
        None => intermediate / heads,
        Some(Value::String(s)) if s == "auto" => intermediate / heads,
        Some(_) => c.size("mamba_d_head")?,
    };
    let groups = c.size("mamba_n_groups")?;
    if intermediate % groups != 0 || head_dim == 0 {
        return Err(c.invalid(
            "mamba_n_groups",
            groups,
            &format!("a divisor of the Mamba inner width ({intermediate}), with at most {intermediate} heads"),
        ));
    }
    Ok(Attention::Mamba(Mamba {
        kind: MambaKind::Mamba2,
        intermediate,
        state_size: c.size("mamba_d_state")?,
        conv_kernel: c.size("mamba_d_conv")?,
        heads,
        head_dim,
        n_groups: groups,
        dt_rank: 0,
        conv_bias: c.flag("mamba_conv_bias", true)?,
        in_bias: c.flag("mamba_proj_bias", false)?,
        out_bias: c.flag("projectors_bias", false)?,
        gated_norm: c.flag("mamba_rms_norm", false)?,
        dt_norms: false,
    }))
}

/// Nemotron-H's per-layer block kinds as pattern characters: `hybrid_override_pattern`
/// (M, *, -, E) or `layers_block_type` (mamba / linear_attention, attention / full_attention,
/// mlp, moe), one per layer.
pub(super) fn nemotron_h_pattern(c: &Cfg, layers: u64) -> Result<Vec<char>> {
    let pattern: Vec<char> = if let Some(p) = c.string("hybrid_override_pattern")? {
        p.chars().collect()
    } else if let Some(list) = c.list_str("layers_block_type")? {
        list.iter()
            .enumerate()
            .map(|(i, t)| match *t {
                "mamba" | "linear_attention" => Ok('M'),
                "attention" | "full_attention" => Ok('*'),
                "mlp" => Ok('-'),
                "moe" => Ok('E'),
                other => Err(c.invalid(
                    &format!("layers_block_type[{i}]"),
                    other,
                    "mamba, attention, mlp or moe",
                )),
            })
            .collect::<Result<_>>()?
    } else {
        return Err(c.invalid(
            "hybrid_override_pattern",
            "nothing",
            "a pattern such as \"M-M*-\" (or a layers_block_type list)",
        ));
    };
    if pattern.len() as u64 != layers {
        return Err(c.invalid(
            "hybrid_override_pattern",
            format!("{} layers", pattern.len()),
            &format!("one character per layer (num_hidden_layers {layers})"),
        ));
    }
    if let Some((i, ch)) = pattern
        .iter()
        .enumerate()
        .find(|(_, ch)| !"M*-E".contains(**ch))
    {
        return Err(c.invalid(
            &format!("hybrid_override_pattern[{i}]"),
            ch,
            "M (Mamba2), * (attention), - (MLP) or E (MoE)",
        ));
    }
    Ok(pattern)
}

/// Gated DeltaNet layers with a standard (gated) attention layer every `full_attention_interval`.
fn qwen3_next(c: &Cfg, layers: u64) -> Result<Vec<LayerKind>> {
    let interval = c.size("full_attention_interval")?;
    let linear = Attention::Linear(Linear {
        kind: LinearKind::GatedDeltaNet,
        k_heads: c.size("linear_num_key_heads")?,
        v_heads: c.size("linear_num_value_heads")?,
        head_k_dim: c.size("linear_key_head_dim")?,
        head_v_dim: c.size("linear_value_head_dim")?,
        conv_kernel: c.count_or("linear_conv_kernel_dim", 4)?,
    });
    Ok((0..layers)
        .map(|i| {
            if (i + 1) % interval == 0 {
                LayerKind::Standard
            } else {
                LayerKind::Special(linear.clone())
            }
        })
        .collect())
}

/// KDA layers; the MLA layers are standard, built by the row's MLA rule.
fn kimi_linear(c: &Cfg, layers: u64) -> Result<Vec<LayerKind>> {
    let la = c.nested("linear_attn_config")?.ok_or_else(|| {
        c.invalid(
            "linear_attn_config",
            "nothing",
            "an object with full_attn_layers, num_heads, head_dim",
        )
    })?;
    // Kimi-Linear lists its full-attention (MLA) layers 1-indexed.
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
    Ok(full
        .iter()
        .map(|&f| {
            if f {
                LayerKind::Standard
            } else {
                LayerKind::Special(kda.clone())
            }
        })
        .collect())
}

/// Lightning (linear) and softmax layers by `attn_type_list`.
fn minimax_text_01(c: &Cfg, layers: u64) -> Result<Vec<LayerKind>> {
    let n = layers as usize;
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
        .collect()
}

/// MiniMax (transformers MiniMaxForCausalLM): `attn_type_list` when given (vLLM 0.11.0
/// minimax_text_01.py reads it before `layer_types`), else `layer_types`, else MiniMaxConfig's
/// default: `full_attention` where `(i + 1) % 2` is 1, lightning elsewhere.
fn minimax(c: &Cfg, hidden: u64, layers: u64) -> Result<Vec<LayerKind>> {
    if c.peek("attn_type_list").is_some() {
        return minimax_text_01(c, layers);
    }
    let heads = c.size("num_attention_heads")?;
    let hd = match c.size_opt("head_dim")? {
        Some(d) => d,
        None => hidden / heads,
    };
    let lightning = Attention::Linear(Linear {
        kind: LinearKind::Lightning,
        k_heads: heads,
        v_heads: heads,
        head_k_dim: hd,
        head_v_dim: hd,
        conv_kernel: 0,
    });
    let Some(types) = c.list_str("layer_types")? else {
        return Ok((0..layers)
            .map(|i| {
                if (i + 1) % 2 == 1 {
                    LayerKind::Standard
                } else {
                    special(lightning.clone())
                }
            })
            .collect());
    };
    if types.len() as u64 != layers {
        return Err(c.invalid(
            "layer_types",
            format!("{} entries", types.len()),
            &format!("{layers} entries"),
        ));
    }
    types
        .iter()
        .enumerate()
        .map(|(i, t)| match *t {
            "full_attention" => Ok(LayerKind::Standard),
            "linear_attention" => Ok(special(lightning.clone())),
            other => Err(c.invalid(
                &format!("layer_types[{i}]"),
                other,
                "full_attention or linear_attention",
            )),
        })
        .collect()
}

/// Compressed attention on every layer, at the ratio `compress_ratios` gives it.
fn deepseek_v4(c: &Cfg, layers: u64) -> Result<Vec<LayerKind>> {
    let n = layers as usize;
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
        .collect()
}

/// The MTP layer's compressed attention: the `compress_ratios` entry after the decoder layers.
fn deepseek_v4_mtp(c: &Cfg, mut a: Compressed, layers: u64) -> Result<Compressed> {
    let ratios = c.list_u64("compress_ratios")?.unwrap_or_default();
    a.ratio = ratios.get(layers as usize).copied().unwrap_or(0);
    if a.ratio != 4 {
        a.indexer = None;
    }
    Ok(a)
}

/// `hybrid_layer_pattern`: 1 = sliding-window layer (own heads and head dims, attention sinks),
/// 0 = global.
fn mimo_v2(arch: &Arch, c: &Cfg, hidden: u64, layers: u64) -> Result<Vec<LayerKind>> {
    let n = layers as usize;
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
    let global = gqa(arch, c, hidden, None)?;
    // The window layers' own shape (`MiMoV2FlashDecoderLayer.__init__`, vLLM 0.20.2
    // `mimo_v2_flash.py`: `swa_num_attention_heads`, `swa_num_key_value_heads`, `swa_head_dim`,
    // `swa_v_head_dim`); absent ones take the global layers' (warned in `mimo_v2_note`).
    let swa_heads = c
        .size_opt("swa_num_attention_heads")?
        .unwrap_or(global.heads);
    let swa_kv = c.size("swa_num_key_value_heads")?;
    if swa_heads % swa_kv != 0 {
        return Err(c.invalid(
            "swa_num_key_value_heads",
            swa_kv,
            "a divisor of swa_num_attention_heads (else num_attention_heads)",
        ));
    }
    let swa = Gqa {
        heads: swa_heads,
        kv_heads: swa_kv,
        head_dim: c.size_opt("swa_head_dim")?.unwrap_or(global.head_dim),
        v_head_dim: c.size_opt("swa_v_head_dim")?.unwrap_or(global.v_head_dim),
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
        .collect()
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

/// Next-n (MTP) layers: one more decoder layer per module plus DeepSeek's enorm, hnorm,
/// eh_proj (hidden × 2·hidden) and shared-head norm (Qwen3-Next: pre_fc norms, fc, norm — the same
/// shapes); embedding and head are shared with the model. The layer is a copy of the last layer
/// with full (or, for V4, the config's MTP-entry) attention.
pub(super) fn mtp(
    arch: &Arch,
    c: &Cfg,
    hidden: u64,
    layers: &[(Attention, Ffn)],
    n_layers: u64,
) -> Result<Option<Mtp>> {
    let n = match arch.mtp {
        MtpRule::None => 0,
        MtpRule::Key { default } => c.count_or("num_nextn_predict_layers", default)?,
    };
    let full = layers
        .iter()
        .rev()
        .find(|(a, _)| !matches!(a, Attention::Linear(_)));
    let Some((attention, ffn)) = full.cloned().filter(|_| n > 0) else {
        return Ok(None);
    };
    let attention = match (arch.layer_kinds, attention) {
        (LayerKinds::DeepseekV4, Attention::Compressed(a)) => {
            Attention::Compressed(deepseek_v4_mtp(c, a, n_layers)?)
        }
        (_, a) => a,
    };
    let v = |_| Tensor::vector(TensorGroup::Vectors, hidden);
    let mut extra: Vec<Tensor> = (0..3).map(v).collect();
    extra.push(Tensor::matrix(TensorGroup::Attention, hidden, 2 * hidden));
    Ok(Some(Mtp {
        layer: LayerGroup {
            count: n,
            attention,
            ffn,
            norms: 2,
        },
        extra,
    }))
}

/// The window-layer fields a MiMo-V2 config leaves out, which take the global layers' values.
pub(super) fn mimo_v2_note(id: &str, c: &Cfg) -> Option<String> {
    let missing: Vec<&str> = ["swa_num_attention_heads", "swa_head_dim", "swa_v_head_dim"]
        .into_iter()
        .filter(|k| c.peek(k).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "{id}: {} absent: kvsim gives the sliding-window layers the global layers' values (the \
             published MiMo-V2-Flash config states them equal); vLLM 0.20.2 requires \
             swa_num_attention_heads and swa_head_dim, and without swa_v_head_dim sizes V at \
             swa_head_dim",
            missing.join(", ")
        )
    })
}
