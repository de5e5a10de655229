//! Multi-head, grouped-query and multi-query attention, with or without a sliding window: all
//! share one KV layout (K and V heads per token).

use super::{seen, AttentionFamily};
use crate::error::Result;
use crate::kv::KvSpec;
use crate::model::{Role, Shard, Tensor};
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

/// Multi-head, grouped-query or multi-query attention.
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
    /// Learned per-head attention sinks (gpt-oss, MiMo-V2-Flash window layers).
    pub sinks: bool,
    /// Sliding window in tokens, when the layer only attends to the last `window` tokens.
    pub window: Option<u64>,
    /// Output gate computed by q_proj (Qwen3-Next): q_proj is twice as wide.
    #[serde(default)]
    pub q_gate: bool,
}

impl Gqa {
    fn kind(&self) -> &'static str {
        if self.kv_heads == self.heads {
            "MHA"
        } else if self.kv_heads == 1 {
            "MQA"
        } else {
            "GQA"
        }
    }
}

impl AttentionFamily for Gqa {
    fn family(&self) -> &'static str {
        if self.window.is_some() {
            "SWA"
        } else {
            self.kind()
        }
    }

    fn describe(&self) -> String {
        let w = self
            .window
            .map(|w| format!(", window {w}"))
            .unwrap_or_default();
        format!(
            "{} {}q/{}kv×{}{w}",
            self.kind(),
            self.heads,
            self.kv_heads,
            self.head_dim
        )
    }

    fn window(&self) -> Option<u64> {
        self.window
    }

    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let q = self.heads * self.head_dim;
        let kvh = Shard::KvHeads {
            heads: self.kv_heads,
        };
        let q_rows = if self.q_gate { 2 * q } else { q };
        // k and v (and the k/v bias) live in q's parameter (vLLM's QKVParallelLinear).
        let fused = Role::FusedWithPrevious;
        out.push(Tensor::matrix(a, q_rows, hidden).split(Shard::Column));
        out.push(
            Tensor::matrix(a, self.kv_heads * self.head_dim, hidden)
                .split(kvh)
                .role(fused),
        );
        out.push(
            Tensor::matrix(a, self.kv_heads * self.v_head_dim, hidden)
                .split(kvh)
                .role(fused),
        );
        out.push(Tensor::matrix(a, hidden, self.heads * self.v_head_dim).split(Shard::Row));
        if self.qkv_bias {
            out.push(Tensor::vector(a, q).split(Shard::Column));
            out.push(
                Tensor::vector(a, self.kv_heads * (self.head_dim + self.v_head_dim))
                    .split(kvh)
                    .role(fused),
            );
        }
        if self.o_bias {
            out.push(Tensor::vector(a, hidden));
        }
        match self.qk_norm {
            QkNorm::None => {}
            QkNorm::PerHead => out.push(Tensor::vector(a, 2 * self.head_dim)),
            QkNorm::PerLayer => {
                out.push(Tensor::vector(a, q).split(Shard::Column));
                out.push(Tensor::vector(a, self.kv_heads * self.head_dim).split(kvh));
            }
        }
        if self.sinks {
            out.push(Tensor::vector(a, self.heads).split(Shard::Column));
        }
    }

    /// `max(1, kv_heads / tp)` heads per chip: replicated when tp > kv_heads (vLLM
    /// `ModelConfig.get_num_kv_heads`).
    fn kv_spec(&self, kv: KvFormat, _state: KvFormat, tp: u64) -> Result<KvSpec> {
        let heads = (self.kv_heads / tp.max(1)).max(1);
        let record = kv.gqa_record_bytes(heads, self.head_dim, self.v_head_dim)?;
        Ok(match self.window {
            Some(window) => KvSpec::Window { record, window },
            None => KvSpec::Full { record },
        })
    }

    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let per = 2.0 * self.heads as f64 * (self.head_dim + self.v_head_dim) as f64;
        per * seen(c as f64, prefill, 1.0, self.window.map(|w| w as f64))
    }

    /// vLLM refuses a TP degree that does not divide the query heads; the KV heads must divide it
    /// or be divided by it (replication).
    fn tp_constraint(&self, tp: u64) -> Option<String> {
        tp_constraint(self.heads, self.kv_heads, tp)
    }

    fn projection_width(&self) -> u64 {
        self.heads * self.head_dim + self.kv_heads * (self.head_dim + self.v_head_dim)
    }
}

/// vLLM's TP rule for grouped K/V heads: TP divides the query heads, and the KV heads divide TP or
/// are divided by it (replication).
pub(super) fn tp_constraint(heads: u64, kv_heads: u64, tp: u64) -> Option<String> {
    if heads % tp != 0 {
        return Some(format!("a divisor of num_attention_heads ({heads})"));
    }
    if (tp >= kv_heads && tp % kv_heads != 0) || (tp < kv_heads && kv_heads % tp != 0) {
        return Some(format!(
            "a divisor or multiple of num_key_value_heads ({kv_heads})"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    fn llama(heads: u64, kv_heads: u64) -> Attention {
        Attention::Gqa(Gqa {
            heads,
            kv_heads,
            head_dim: 128,
            v_head_dim: 128,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            sinks: false,
            window: None,
            q_gate: false,
        })
    }

    fn record(a: &Attention, tp: u64) -> u64 {
        match a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, tp).unwrap() {
            KvSpec::Full { record } => record,
            other => panic!("{other:?}"),
        }
    }

    // Llama-3.1-70B: 8 KV heads × 128: 4096 B per layer at TP1, 2048 at TP2, 512 at TP8, still 512 at TP16.
    #[test]
    fn record_shards_until_heads_run_out() {
        let a = llama(64, 8);
        let r: Vec<u64> = [1, 2, 8, 16].iter().map(|&tp| record(&a, tp)).collect();
        assert_eq!(r, vec![4096, 2048, 512, 512]);
        assert_eq!(a.family(), "GQA");
        assert_eq!(llama(32, 32).family(), "MHA");
        assert_eq!(llama(32, 1).family(), "MQA");
    }

    // Llama-3.1-8B layer at 8192 tokens of context: 2 · 32 heads · (128 + 128) · 8192 = 134,217,728.
    #[test]
    fn decode_and_prefill_flops() {
        let a = llama(32, 8);
        assert_eq!(a.context_flops(8192, false), 134_217_728.0);
        // Causal prefill of 4 tokens: 2·32·256 · (1+2+3+4).
        assert_eq!(a.context_flops(4, true), 16384.0 * 10.0);
    }

    // TP 3 does not divide 64 query heads; TP 16 replicates the 8 KV heads.
    #[test]
    fn tp_constraints() {
        let a = llama(64, 8);
        assert!(a.tp_constraint(3).unwrap().contains("num_attention_heads"));
        assert_eq!(a.tp_constraint(16), None);
        // 48 query heads split over 24 ranks, but 16 KV heads neither divide nor are divided by 24.
        assert!(llama(48, 16)
            .tp_constraint(24)
            .unwrap()
            .contains("num_key_value_heads (16)"));
    }
}
