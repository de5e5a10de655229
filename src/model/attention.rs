//! Attention blocks: each variant answers the same questions — parameters, and KV record bytes per
//! token per layer on one chip. A new attention family is a new variant here.

use super::{Shard, Tensor};
use crate::error::{Error, Result};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// How query/key norms are shaped (Qwen3, Gemma3, GLM-4.5: per head; MiniMax-M2: over all heads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QkNorm {
    None,
    /// One `head_dim` weight for q and one for k (shared across heads).
    PerHead,
    /// One weight over all q heads and one over all k heads.
    PerLayer,
}

/// Multi-head, grouped-query or multi-query attention (all share one KV layout).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gqa {
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub v_head_dim: u64,
    /// Bias on q, k and v projections (Qwen2, GLM-4.5, gpt-oss).
    pub qkv_bias: bool,
    /// Bias on the output projection (gpt-oss).
    pub o_bias: bool,
    pub qk_norm: QkNorm,
    /// Learned per-head attention sinks (gpt-oss).
    pub sinks: bool,
    /// Sliding window in tokens, when the layer only attends to the last `window` tokens.
    pub window: Option<u64>,
}

/// DeepSeek multi-head latent attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mla {
    pub heads: u64,
    /// None: queries are projected directly (DeepSeek-V2-Lite).
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
}

/// The attention block of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Attention {
    Gqa(Gqa),
    Mla(Mla),
}

impl Attention {
    /// "MHA", "GQA", "MQA" or "MLA".
    pub fn family(&self) -> &'static str {
        match self {
            Attention::Gqa(g) if g.kv_heads == g.heads => "MHA",
            Attention::Gqa(g) if g.kv_heads == 1 => "MQA",
            Attention::Gqa(_) => "GQA",
            Attention::Mla(_) => "MLA",
        }
    }

    /// A one-line description, e.g. "GQA 32q/8kv×128" or "MLA 512+64".
    pub fn describe(&self) -> String {
        match self {
            Attention::Gqa(g) => {
                let w = g
                    .window
                    .map(|w| format!(", window {w}"))
                    .unwrap_or_default();
                format!(
                    "{} {}q/{}kv×{}{w}",
                    self.family(),
                    g.heads,
                    g.kv_heads,
                    g.head_dim
                )
            }
            Attention::Mla(m) => format!(
                "MLA {}+{} ({} heads)",
                m.kv_lora_rank, m.qk_rope_head_dim, m.heads
            ),
        }
    }

    /// Sliding window of the layer, if any.
    pub fn window(&self) -> Option<u64> {
        match self {
            Attention::Gqa(g) => g.window,
            Attention::Mla(_) => None,
        }
    }

    /// Appends this block's tensors (rows = out features, cols = in features).
    pub fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        match self {
            Attention::Gqa(g) => {
                let q = g.heads * g.head_dim;
                let kvh = Shard::KvHeads { heads: g.kv_heads };
                out.push(Tensor::matrix(a, q, hidden).split(Shard::Column));
                out.push(Tensor::matrix(a, g.kv_heads * g.head_dim, hidden).split(kvh));
                out.push(Tensor::matrix(a, g.kv_heads * g.v_head_dim, hidden).split(kvh));
                out.push(Tensor::matrix(a, hidden, g.heads * g.v_head_dim).split(Shard::Row));
                if g.qkv_bias {
                    out.push(Tensor::vector(a, q).split(Shard::Column));
                    out.push(
                        Tensor::vector(a, g.kv_heads * (g.head_dim + g.v_head_dim)).split(kvh),
                    );
                }
                if g.o_bias {
                    out.push(Tensor::vector(a, hidden));
                }
                match g.qk_norm {
                    QkNorm::None => {}
                    QkNorm::PerHead => out.push(Tensor::vector(a, 2 * g.head_dim)),
                    QkNorm::PerLayer => {
                        out.push(Tensor::vector(a, q).split(Shard::Column));
                        out.push(Tensor::vector(a, g.kv_heads * g.head_dim).split(kvh));
                    }
                }
                if g.sinks {
                    out.push(Tensor::vector(a, g.heads).split(Shard::Column));
                }
            }
            Attention::Mla(m) => {
                // vLLM: the down-projections (q_a, kv_a) are replicated, the up-projections split
                // by heads, o_proj by rows.
                let qk = m.qk_nope_head_dim + m.qk_rope_head_dim;
                match m.q_lora_rank {
                    Some(r) => {
                        out.push(Tensor::matrix(a, r, hidden)); // q_a_proj
                        out.push(Tensor::vector(a, r)); // q_a_layernorm
                        out.push(Tensor::matrix(a, m.heads * qk, r).split(Shard::Column));
                        // q_b_proj
                    }
                    None => out.push(Tensor::matrix(a, m.heads * qk, hidden).split(Shard::Column)), // q_proj
                }
                // kv_a_proj_with_mqa, kv_a_layernorm, kv_b_proj, o_proj
                out.push(Tensor::matrix(
                    a,
                    m.kv_lora_rank + m.qk_rope_head_dim,
                    hidden,
                ));
                out.push(Tensor::vector(a, m.kv_lora_rank));
                out.push(
                    Tensor::matrix(
                        a,
                        m.heads * (m.qk_nope_head_dim + m.v_head_dim),
                        m.kv_lora_rank,
                    )
                    .split(Shard::Column),
                );
                out.push(Tensor::matrix(a, hidden, m.heads * m.v_head_dim).split(Shard::Row));
            }
        }
    }

    /// KV bytes one token occupies in one layer on one chip under tensor parallelism `tp`.
    ///
    /// GQA keeps `max(1, kv_heads / tp)` heads per chip (replicated when tp > kv_heads);
    /// the MLA latent is one shared head, replicated on every TP rank (formulas.md §2).
    pub fn kv_record_bytes(&self, kv: KvFormat, tp: u64) -> Result<u64> {
        match self {
            Attention::Gqa(g) => {
                let heads = (g.kv_heads / tp.max(1)).max(1);
                kv.gqa_record_bytes(heads, g.head_dim, g.v_head_dim)
            }
            Attention::Mla(m) => {
                if kv == KvFormat::Fp8DsMla && (m.kv_lora_rank != 512 || m.qk_rope_head_dim != 64) {
                    return Err(Error::field(
                        "precision plan",
                        "kv",
                        "fp8-ds-mla",
                        "fp8-ds-mla needs kv_lora_rank 512 and qk_rope_head_dim 64 (the FlashMLA layout)",
                    ));
                }
                Ok(kv.mla_record_bytes(m.kv_lora_rank, m.qk_rope_head_dim))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deepseek_v3_mla() -> Attention {
        Attention::Mla(Mla {
            heads: 128,
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
        })
    }

    // formulas.md §1 / DeepSeek-V3 config: 512 + 64 = 576 elements, 1152 B in BF16, replicated over TP.
    #[test]
    fn mla_record_is_latent_plus_rope_and_ignores_tp() {
        let a = deepseek_v3_mla();
        assert_eq!(a.kv_record_bytes(KvFormat::Bf16, 1).unwrap(), 1152);
        assert_eq!(a.kv_record_bytes(KvFormat::Bf16, 8).unwrap(), 1152);
        assert_eq!(a.kv_record_bytes(KvFormat::Fp8DsMla, 1).unwrap(), 656);
    }

    // Llama-3.1-70B: 8 KV heads × 128: 4096 B per layer at TP1, 2048 at TP2, 512 at TP8, still 512 at TP16.
    #[test]
    fn gqa_record_shards_until_heads_run_out() {
        let a = Attention::Gqa(Gqa {
            heads: 64,
            kv_heads: 8,
            head_dim: 128,
            v_head_dim: 128,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            sinks: false,
            window: None,
        });
        let r: Vec<u64> = [1, 2, 8, 16]
            .iter()
            .map(|&tp| a.kv_record_bytes(KvFormat::Bf16, tp).unwrap())
            .collect();
        assert_eq!(r, vec![4096, 2048, 512, 512]);
        assert_eq!(a.family(), "GQA");
    }

    // DeepSeek-V3 attention parameters per layer, from its config (q_lora 1536, kv_lora 512, 128 heads):
    // 7168·1536 + 1536 + 1536·24576 + 7168·576 + 512 + 512·32768 + 16384·7168 = 187,107,328.
    #[test]
    fn mla_parameters_per_layer() {
        let mut t = Vec::new();
        deepseek_v3_mla().tensors(7168, &mut t);
        let n: u64 = t.iter().map(|x| x.elements()).sum();
        assert_eq!(n, 187_107_328);
    }
}
