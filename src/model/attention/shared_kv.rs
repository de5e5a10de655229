//! Cross-layer KV sharing (CLA, Hunyuan-Large): a follower layer projects only queries and
//! attends over the K and V its leader layer cached. It stores nothing of its own, so it is left
//! out of the KV specs ([`AttentionFamily::keeps_kv`] is false); a decode step still reads the
//! leader's KV, which [`AttentionFamily::kv_read_bytes`] counts.

use super::{seen, AttentionFamily, QkNorm};
use crate::error::Result;
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// A follower layer of cross-layer attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedKv {
    pub heads: u64,
    /// The leader's KV heads and head dim (what this layer reads).
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Output features of q_proj (Hunyuan-Large: `hidden_size`, whatever `heads · head_dim`).
    pub q_rows: u64,
    /// Bias on q_proj and o_proj.
    pub bias: bool,
    /// Per-head query and key norms (applied to the leader's keys).
    pub qk_norm: QkNorm,
}

impl AttentionFamily for SharedKv {
    fn family(&self) -> &'static str {
        "CLA"
    }

    fn describe(&self) -> String {
        format!(
            "CLA follower {}q/{}kv×{} (reads the leader's KV)",
            self.heads, self.kv_heads, self.head_dim
        )
    }

    fn window(&self) -> Option<u64> {
        None
    }

    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        out.push(Tensor::matrix(a, self.q_rows, hidden).split(Shard::Column));
        out.push(Tensor::matrix(a, hidden, self.heads * self.head_dim).split(Shard::Row));
        if self.bias {
            out.push(Tensor::vector(a, self.q_rows).split(Shard::Column));
            out.push(Tensor::vector(a, hidden));
        }
        match self.qk_norm {
            QkNorm::None => {}
            QkNorm::PerHead => out.push(Tensor::vector(a, 2 * self.head_dim)),
            QkNorm::PerLayer => {
                out.push(Tensor::vector(a, self.heads * self.head_dim).split(Shard::Column));
                out.push(Tensor::vector(a, self.kv_heads * self.head_dim));
            }
        }
    }

    /// What the layer would hold if it kept its own KV; it keeps none ([`Self::keeps_kv`]).
    fn kv_spec(&self, kv: KvFormat, _state: KvFormat, tp: u64) -> Result<KvSpec> {
        let heads = (self.kv_heads / tp.max(1)).max(1);
        Ok(KvSpec::Full {
            record: kv.gqa_record_bytes(heads, self.head_dim, self.head_dim)?,
        })
    }

    fn keeps_kv(&self) -> bool {
        false
    }

    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let per = 2.0 * self.heads as f64 * (2 * self.head_dim) as f64;
        per * seen(c as f64, prefill, 1.0, None)
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        (self.heads % tp != 0).then(|| format!("a divisor of num_attention_heads ({})", self.heads))
    }

    fn projection_width(&self) -> u64 {
        self.q_rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    // Hunyuan-Large follower: 80 heads × 128, 8 KV heads, hidden 6400: q 6400², o 6400 × 10,240,
    // per-head norms 2 × 128; no KV of its own, but a decode step at 1000 tokens reads the
    // leader's 2 × 8 × 128 × 2 B = 4096 B per token.
    #[test]
    fn follower_holds_q_and_o_only() {
        let a = Attention::SharedKv(SharedKv {
            heads: 80,
            kv_heads: 8,
            head_dim: 128,
            q_rows: 6400,
            bias: false,
            qk_norm: QkNorm::PerHead,
        });
        let mut t = Vec::new();
        a.tensors(6400, &mut t);
        let n: u64 = t.iter().map(|x| x.elements()).sum();
        assert_eq!(n, 6400 * 6400 + 6400 * 10_240 + 256);
        assert!(!a.keeps_kv());
        assert_eq!(
            a.kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 1000)
                .unwrap(),
            4096.0 * 1000.0
        );
    }
}
