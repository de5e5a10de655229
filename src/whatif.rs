//! What-if architecture edits: transforms of the normalised model that keep its width and depth
//! (`--set field=value` edits the config before import: see `catalog::load_model_with`).
//!
//! Transform rules (also in `kvsim eval --help`):
//! - `--attention mha|gqa:N|mqa`: every softmax-attention layer keeps its query heads and head
//!   dims and gets `heads` / N / 1 KV heads (MLA layers become GQA with head_dim = nope + rope and
//!   their v_head_dim); the K/V projections and cache are recomputed.
//! - `--attention mla:RANK[:ROPE]`: every softmax-attention layer becomes MLA with the same query
//!   heads, kv_lora_rank RANK, qk_rope_head_dim ROPE (default 64), qk_nope_head_dim = head_dim −
//!   ROPE, the same v_head_dim, and no query compression (as DeepSeek-V2-Lite).
//! - `--moe E:K[:S]`: every FFN becomes E routed experts of top-K plus S shared experts (default 0)
//!   of width w = active width / (K + S), where the active width is a dense FFN's width or an MoE's
//!   K·expert + shared width; a router (E × hidden) is added.
//! - `--dense`: every MoE FFN becomes a dense FFN of its active width (K·expert + shared).
//! - `--eagle`: an EAGLE draft head becomes the model's next-n layer ([`add_eagle_head`]).
//!
//! Linear-attention and DeepSeek-V4 compressed layers are left as they are.

use crate::error::{Error, Result};
use crate::model::{Attention, Ffn, Gqa, Mla, Model, Moe, Mtp, QkNorm, Tensor};
use crate::precision::TensorGroup;

fn bad(flag: &str, found: impl std::fmt::Display, expected: impl std::fmt::Display) -> Error {
    Error::field("command line", flag, found, expected)
}

/// The attention a layer is converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionTarget {
    Mha,
    Gqa(u64),
    Mqa,
    Mla { rank: u64, rope: u64 },
}

impl std::str::FromStr for AttentionTarget {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let expected = "mha, gqa:N, mqa or mla:RANK[:ROPE]";
        let num = |v: &str| {
            v.parse::<u64>()
                .ok()
                .filter(|&n| n > 0 && n <= 1 << 20)
                .ok_or_else(|| bad("--attention", s, expected))
        };
        let lower = s.trim().to_ascii_lowercase();
        let parts: Vec<&str> = lower.split(':').collect();
        Ok(match parts.as_slice() {
            ["mha"] => AttentionTarget::Mha,
            ["mqa"] => AttentionTarget::Mqa,
            ["gqa", n] => AttentionTarget::Gqa(num(n)?),
            ["mla", r] => AttentionTarget::Mla {
                rank: num(r)?,
                rope: 64,
            },
            ["mla", r, p] => AttentionTarget::Mla {
                rank: num(r)?,
                rope: p.parse().map_err(|_| bad("--attention", s, expected))?,
            },
            _ => return Err(bad("--attention", s, expected)),
        })
    }
}

/// A transformed model is no longer the checkpoint: its stored bytes stop applying.
fn mark_stale(m: &mut Model, why: &str) {
    if let Some(c) = m.checkpoint.as_mut().filter(|c| c.stale.is_none()) {
        c.stale = Some(why.to_string());
    }
}

/// Converts every softmax-attention layer.
pub fn convert_attention(m: &mut Model, target: AttentionTarget) -> Result<()> {
    mark_stale(m, "--attention converts the attention");
    for g in &mut m.groups {
        g.attention = convert(&g.attention, target)?;
    }
    m.regroup();
    if let Some(mtp) = &mut m.mtp {
        mtp.layer.attention = convert(&mtp.layer.attention, target)?;
    }
    m.id = format!("{} [attention {}]", m.id, describe(target)).into();
    Ok(())
}

/// The target as `--attention` takes it (`gqa:8`, `mla:512:64`).
pub fn describe(t: AttentionTarget) -> String {
    match t {
        AttentionTarget::Mha => "mha".into(),
        AttentionTarget::Mqa => "mqa".into(),
        AttentionTarget::Gqa(n) => format!("gqa:{n}"),
        AttentionTarget::Mla { rank, rope } => format!("mla:{rank}:{rope}"),
    }
}

fn convert(a: &Attention, target: AttentionTarget) -> Result<Attention> {
    // The query side every target keeps: heads, q/k head dim, v head dim, window.
    let (heads, head_dim, v_head_dim, window, base) = match a {
        Attention::Gqa(g) => (g.heads, g.head_dim, g.v_head_dim, g.window, Some(g.clone())),
        Attention::Mla(m) => (
            m.heads,
            m.qk_nope_head_dim + m.qk_rope_head_dim,
            m.v_head_dim,
            None,
            None,
        ),
        other => return Ok(other.clone()),
    };
    let gqa = |kv_heads: u64| -> Result<Attention> {
        if heads % kv_heads != 0 {
            return Err(bad(
                "--attention",
                format!("{kv_heads} KV heads"),
                format!("a divisor of the {heads} query heads"),
            ));
        }
        let g = base.clone().unwrap_or(Gqa {
            heads,
            kv_heads,
            head_dim,
            v_head_dim,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            sinks: false,
            window,
            q_gate: false,
        });
        Ok(Attention::Gqa(Gqa { kv_heads, ..g }))
    };
    match target {
        AttentionTarget::Mha => gqa(heads),
        AttentionTarget::Mqa => gqa(1),
        AttentionTarget::Gqa(n) => gqa(n),
        AttentionTarget::Mla { rank, rope } => {
            if window.is_some() {
                return Err(bad(
                    "--attention",
                    "mla",
                    "layers without a sliding window (windowed MLA is not modelled)",
                ));
            }
            if rope >= head_dim {
                return Err(bad(
                    "--attention",
                    format!("rope {rope}"),
                    format!("less than the head dim {head_dim}"),
                ));
            }
            Ok(Attention::Mla(Mla {
                heads,
                q_lora_rank: match a {
                    Attention::Mla(m) => m.q_lora_rank,
                    _ => None,
                },
                kv_lora_rank: rank,
                qk_nope_head_dim: head_dim - rope,
                qk_rope_head_dim: rope,
                v_head_dim,
                indexer: match a {
                    Attention::Mla(m) => m.indexer.clone(),
                    _ => None,
                },
            }))
        }
    }
}

/// Active FFN width of a layer: a dense width, or top-k experts plus the shared ones.
fn active_width(f: &Ffn) -> u64 {
    match f {
        Ffn::Dense { intermediate, .. } => *intermediate,
        Ffn::Moe(m) => m.active_experts() * m.expert_intermediate + m.shared_intermediate,
    }
}

/// Parses `E:K[:S]` (experts, top-k, shared).
pub fn parse_moe(spec: &str) -> Result<(u64, u64, u64)> {
    let expected = "E:K or E:K:S (experts, top-k, shared), e.g. 64:4 or 256:8:1";
    let nums: Vec<u64> = spec
        .split(':')
        .map(|x| x.trim().parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| bad("--moe", spec, expected))?;
    let (e, k, sh) = match nums.as_slice() {
        [e, k] => (*e, *k, 0),
        [e, k, s] => (*e, *k, *s),
        _ => return Err(bad("--moe", spec, expected)),
    };
    if e == 0 || k == 0 || k > e || e > 1 << 20 {
        return Err(bad("--moe", spec, "1 ≤ top-k ≤ experts ≤ 1048576"));
    }
    Ok((e, k, sh))
}

/// `--moe E:K[:S]`.
pub fn to_moe(m: &mut Model, spec: &str) -> Result<()> {
    mark_stale(m, "--moe converts the FFN");
    let (e, k, sh) = parse_moe(spec)?;
    for g in m.groups.iter_mut() {
        let width = active_width(&g.ffn);
        if width % (k + sh) != 0 {
            return Err(bad(
                "--moe",
                spec,
                format!("top-k + shared dividing the active FFN width {width}"),
            ));
        }
        let w = width / (k + sh);
        let gated = !matches!(g.ffn, Ffn::Dense { gated: false, .. });
        g.ffn = Ffn::Moe(Moe {
            experts: e,
            top_k: k,
            expert_intermediate: w,
            shared_intermediate: sh * w,
            shared_gate: false,
            router_bias: false,
            expert_bias: false,
            gated,
            vision_experts: None,
            zero_experts: 0,
        });
    }
    m.regroup();
    m.id = format!("{} [moe {spec}]", m.id).into();
    Ok(())
}

/// `--dense`.
pub fn to_dense(m: &mut Model) -> Result<()> {
    mark_stale(m, "--dense converts the FFN");
    for g in m.groups.iter_mut() {
        if let Ffn::Moe(x) = &g.ffn {
            g.ffn = Ffn::Dense {
                intermediate: active_width(&g.ffn),
                gated: x.gated,
                bias: false,
                act_params: 0,
            };
        }
    }
    m.regroup();
    if let Some(mtp) = &mut m.mtp {
        if let Ffn::Moe(x) = &mtp.layer.ffn {
            mtp.layer.ffn = Ffn::Dense {
                intermediate: active_width(&mtp.layer.ffn),
                gated: x.gated,
                bias: false,
                act_params: 0,
            };
        }
    }
    m.id = format!("{} [dense]", m.id).into();
    Ok(())
}

/// `--eagle`: a one-layer EAGLE draft head as vLLM loads it for speculative decoding, held as
/// the model's next-n layer so that the MTP accounting counts it on the last stage (weights and
/// KV): one decoder layer of the target's first layer kind and the feature-fusion `fc`
/// (2·hidden → hidden, a plain `nn.Linear`, so whole on every rank), with the embeddings and
/// lm_head shared with the target (vLLM `model_executor/models/llama_eagle.py::LlamaModel`,
/// `v1/spec_decode/eagle.py::EagleProposer.load_model` @ v0.9.2). Its attention layer joins the
/// KV pool: `gpu_model_runner.py::GPUModelRunner.get_kv_cache_spec` collects every attention
/// layer, the drafter's included (@ v0.9.2). EAGLE-3 heads (own lm_head, 3·hidden fusion) and
/// heads of more than one layer are not this shape, and a head for a MoE target is counted
/// with the target's first layer kind, whatever its own FFN.
pub fn add_eagle_head(m: &mut Model) -> Result<()> {
    let Some(first) = m.groups.first().cloned() else {
        return Err(Error::field(
            m.source.clone(),
            "layers",
            0,
            "at least one decoder layer for --eagle to copy",
        ));
    };
    mark_stale(m, "--eagle adds a draft head the checkpoint does not hold");
    let mut layer = first;
    layer.count = 1;
    // The head's first (only) layer has no input norm (`LlamaDecoderLayer` with
    // `disable_input_layernorm`, llama_eagle.py @ v0.9.2).
    layer.norms = layer.norms.saturating_sub(1);
    if m.mtp.is_some() {
        m.notes.push(format!(
            "{}: --eagle replaces the model's next-n (MTP) layers as the drafter",
            m.id
        ));
    }
    m.mtp = Some(Mtp {
        layer,
        extra: vec![Tensor::matrix(
            TensorGroup::Attention,
            m.hidden,
            2 * m.hidden,
        )],
    });
    m.notes.push(format!(
        "{}: EAGLE draft head counted as vLLM loads it: one decoder layer of the first layer \
         kind and a 2·hidden × hidden fusion matrix (weights on the last stage), its KV in the \
         same pool, embeddings and lm_head shared",
        m.id
    ));
    Ok(())
}
