//! Step3's multi-matrix factorisation attention (MFA): queries through a low-rank bottleneck
//! (`qkv_proj` gives a `q_rank`-wide query, `inter_norm`, then `wq` to every head) and one shared
//! K/V head (`num_attention_groups = 1`) of `head_dim`, so the KV record is that of MQA
//! [vLLM · `vllm/model_executor/models/step3_text.py::Step3TextAttention` @ v0.11.0].

use super::{seen, AttentionFamily};
use crate::error::Result;
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// A Step3 attention layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mfa {
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Width of the query bottleneck (`share_q_dim`).
    pub q_rank: u64,
}

impl AttentionFamily for Mfa {
    fn family(&self) -> &'static str {
        "MFA"
    }

    fn describe(&self) -> String {
        format!(
            "MFA {}q/{}kv×{}, query rank {}",
            self.heads, self.kv_heads, self.head_dim, self.q_rank
        )
    }

    fn window(&self) -> Option<u64> {
        None
    }

    /// vLLM v0.11.0 keeps the fused `qkv_proj` (query bottleneck, K and V) whole on every rank
    /// (`ReplicatedLinear`), splits `wq` by output (column) and `o_proj` by input (row); the
    /// RMSNorm `inter_norm` is whole.
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let kv = self.kv_heads * self.head_dim;
        out.push(Tensor::matrix(a, self.q_rank + 2 * kv, hidden));
        out.push(Tensor::vector(a, self.q_rank));
        out.push(Tensor::matrix(a, self.heads * self.head_dim, self.q_rank).split(Shard::Column));
        out.push(Tensor::matrix(a, hidden, self.heads * self.head_dim).split(Shard::Row));
    }

    /// The shared K/V head is held whole on every rank: `max(1, kv_heads / tp)` heads per chip,
    /// as for GQA (vLLM `ModelConfig.get_num_kv_heads`).
    fn kv_spec(&self, kv: KvFormat, _state: KvFormat, tp: u64) -> Result<KvSpec> {
        let heads = (self.kv_heads / tp.max(1)).max(1);
        Ok(KvSpec::Full {
            record: kv.gqa_record_bytes(heads, self.head_dim, self.head_dim)?,
        })
    }

    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let per = 2.0 * self.heads as f64 * (2 * self.head_dim) as f64;
        per * seen(c as f64, prefill, 1.0, None)
    }

    /// `Step3TextAttention` asserts the query heads divide by TP.
    fn tp_constraint(&self, tp: u64) -> Option<String> {
        (self.heads % tp != 0).then(|| format!("a divisor of num_attention_heads ({})", self.heads))
    }

    fn projection_width(&self) -> u64 {
        self.q_rank + self.heads * self.head_dim + 2 * self.kv_heads * self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    // Step3 (vLLM 0.11.0 Step3TextConfig defaults): hidden 7168, 64 heads × 256, one KV head,
    // share_q_dim 2048: qkv_proj (2048 + 512) × 7168 = 18,350,080, inter_norm 2048, wq
    // 16,384 × 2048 = 33,554,432, o_proj 7168 × 16,384 = 117,440,512. KV: 2 × 256 × 2 B =
    // 1024 B per token per layer, the same at TP 8 (the one head is replicated).
    #[test]
    fn step3_layer() {
        let a = Attention::Mfa(Mfa {
            heads: 64,
            kv_heads: 1,
            head_dim: 256,
            q_rank: 2048,
        });
        let mut t = Vec::new();
        a.tensors(7168, &mut t);
        let n: u64 = t.iter().map(|x| x.elements()).sum();
        assert_eq!(n, 18_350_080 + 2048 + 33_554_432 + 117_440_512);
        for tp in [1, 8] {
            match a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, tp).unwrap() {
                KvSpec::Full { record } => assert_eq!(record, 1024),
                other => panic!("{other:?}"),
            }
        }
        assert!(a.tp_constraint(3).is_some());
        assert!(a.tp_constraint(8).is_none());
    }
}
