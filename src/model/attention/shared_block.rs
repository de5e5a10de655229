//! A transformer block whose weights several layers share (Zamba2: `num_mem_blocks` blocks
//! cycled over the hybrid layers, transformers 5.23.0 `modeling_zamba2.py`, vLLM 0.11.0
//! `zamba2.py`). Each use of a block is one layer's attention with its own KV cache (vLLM gives
//! every hybrid layer its own `Attention`: "Even though in Zamba2 weights are shared between
//! attention layers, KV cache is unique for every attention layer"), its own LoRA-style adapters
//! (`Zamba2LoRA`: q/k/v under `use_shared_attention_adapter`, gate_up always) and its own
//! `linear` projection; only the first use of a block holds the block's weights.
//!
//! The shared weights appear on every use as tensors of 0 copies and 1 active copy: held once
//! (weights, parameter totals), computed at every hybrid layer (FLOPs). The attention reads the
//! concatenation of the layer's input and the original embeddings (`input` = 2 × hidden wide).

use super::{seen, AttentionFamily};
use crate::error::Result;
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// One hybrid layer's use of a shared transformer block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedBlock {
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    /// Input width of q/k/v and of the input norm (`attention_hidden_size`, 2 × hidden).
    pub input: u64,
    /// Width of the block's gated MLP (`intermediate_size`).
    pub intermediate: u64,
    /// Biases on the MLP's gate_up and down projections (`add_bias_linear`).
    pub mlp_bias: bool,
    /// Rank of the per-layer adapters (`adapter_rank`).
    pub adapter_rank: u64,
    /// q, k and v adapters (`use_shared_attention_adapter`); the gate_up adapter always exists.
    pub attn_adapters: bool,
    /// The first use of its block: holds the shared weights (later uses read them).
    pub holds_weights: bool,
}

impl SharedBlock {
    /// The shared weights: 1 copy on the first use of a block, 0 (but used once per token) on the
    /// others.
    fn shared(&self, t: Tensor) -> Tensor {
        t.times(u64::from(self.holds_weights), 1)
    }
}

impl AttentionFamily for SharedBlock {
    fn family(&self) -> &'static str {
        if self.kv_heads == self.heads {
            "MHA"
        } else {
            "GQA"
        }
    }

    fn describe(&self) -> String {
        format!(
            "shared block {} {}q/{}kv×{} + MLP {}{}",
            self.family(),
            self.heads,
            self.kv_heads,
            self.head_dim,
            self.intermediate,
            if self.holds_weights {
                ""
            } else {
                " (weights held by an earlier layer)"
            }
        )
    }

    fn window(&self) -> Option<u64> {
        None
    }

    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let (a, f, v) = (
            TensorGroup::Attention,
            TensorGroup::DenseFfn,
            TensorGroup::Vectors,
        );
        let q = self.heads * self.head_dim;
        let kvh = Shard::KvHeads {
            heads: self.kv_heads,
        };
        let kv = self.kv_heads * self.head_dim;
        // Shared: q/k/v from the 2 × hidden input, o back to hidden; the gated MLP; the input norm
        // (2 × hidden) and pre-MLP norm (hidden).
        out.push(self.shared(Tensor::matrix(a, q, self.input).split(Shard::Column)));
        out.push(self.shared(Tensor::matrix(a, kv, self.input).split(kvh)));
        out.push(self.shared(Tensor::matrix(a, kv, self.input).split(kvh)));
        out.push(self.shared(Tensor::matrix(a, hidden, q).split(Shard::Row)));
        let i = self.intermediate;
        out.push(self.shared(Tensor::matrix(f, 2 * i, hidden).split(Shard::Column)));
        out.push(self.shared(Tensor::matrix(f, hidden, i).split(Shard::Row)));
        if self.mlp_bias {
            out.push(self.shared(Tensor::vector(f, 2 * i).split(Shard::Column)));
            out.push(self.shared(Tensor::vector(f, hidden)));
        }
        out.push(self.shared(Tensor::vector(v, self.input)));
        out.push(self.shared(Tensor::vector(v, hidden)));
        // This layer's own: adapters A (input → rank) and B (rank → output), column-parallel in
        // vLLM 0.11.0 Zamba2LoRA; the `linear` hidden → hidden (ReplicatedLinear).
        let r = self.adapter_rank;
        if self.attn_adapters {
            // transformers 5.23.0 Zamba2Attention: each adapter maps attention_hidden_size to
            // attention_hidden_size, k and v included.
            for _ in 0..3 {
                out.push(Tensor::matrix(a, r, self.input).split(Shard::Column));
                out.push(Tensor::matrix(a, self.input, r).split(Shard::Column));
            }
        }
        out.push(Tensor::matrix(f, r, hidden).split(Shard::Column));
        out.push(Tensor::matrix(f, 2 * i, r).split(Shard::Column));
        out.push(Tensor::matrix(a, hidden, hidden));
    }

    /// K and V of `max(1, kv_heads / tp)` heads per token, as GQA.
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

    /// vLLM 0.11.0 Zamba2Attention asserts that TP divides the heads.
    fn tp_constraint(&self, tp: u64) -> Option<String> {
        super::gqa::tp_constraint(self.heads, self.kv_heads, tp)
    }

    fn projection_width(&self) -> u64 {
        (self.heads + 2 * self.kv_heads) * self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(holds_weights: bool) -> SharedBlock {
        SharedBlock {
            heads: 4,
            kv_heads: 4,
            head_dim: 32,
            input: 128,
            intermediate: 96,
            mlp_bias: false,
            adapter_rank: 8,
            attn_adapters: true,
            holds_weights,
        }
    }

    // hidden 64, 4 heads × 32 over a 128-wide input: q, k, v 3 × 128 × 128 + o 64 × 128 = 57,344;
    // MLP gate_up 192 × 64 + down 64 × 96 = 18,432; norms 128 + 64: shared 75,968. Own: q/k/v
    // adapters 3 × 2 × 8 × 128 = 6,144, gate_up adapter 8 × 64 + 192 × 8 = 2,048, linear 64 × 64 =
    // 4,096: 12,288. A later use holds only its own and still computes all of it.
    #[test]
    fn later_uses_hold_only_their_own_weights() {
        let held = |b: &SharedBlock| {
            let mut t = Vec::new();
            b.tensors(64, &mut t);
            let total: u64 = t.iter().map(|x| x.elements()).sum();
            let matmul: u64 = t
                .iter()
                .filter(|x| !x.vector)
                .map(|x| x.active_elements())
                .sum();
            (total, matmul)
        };
        assert_eq!(
            held(&block(true)),
            (75_968 + 12_288, 57_344 + 18_432 + 12_288)
        );
        assert_eq!(held(&block(false)), (12_288, 57_344 + 18_432 + 12_288));
    }

    // K and V: 2 × 4 heads × 32 × 2 B = 512 B per token; 256 at TP2.
    #[test]
    fn every_use_keeps_its_own_kv() {
        let b = block(false);
        assert!(b.keeps_kv());
        assert_eq!(
            b.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap(),
            KvSpec::Full { record: 512 }
        );
        assert_eq!(
            b.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 2).unwrap(),
            KvSpec::Full { record: 256 }
        );
    }
}
