//! Two mixers in one decoder layer (Falcon-H1: attention and a Mamba2 mixer read the same input
//! and their outputs are summed; Zamba2's hybrid layers: a shared transformer block, then the
//! layer's Mamba2 mixer, vLLM 0.11.0 `zamba2.py` registering both caches). Each part keeps its own cache: vLLM 0.11.0
//! `falcon_h1.py` `FalconH1ParallelHybrid` gives the SSM branch its own layer index
//! (`num_hidden_layers + layer_idx`, "in V1 all attention/ssm layers must have different index in
//! prefix"), so the KV-cache manager sees one attention layer (a full-attention spec) and one
//! Mamba layer (a state spec) per decoder layer. [`AttentionFamily::kv_specs`] returns both.

use super::{Attention, AttentionFamily};
use crate::error::{Error, Result};
use crate::kv::KvSpec;
use crate::model::Tensor;
use crate::precision::KvFormat;
use serde::{Deserialize, Serialize};

/// Mixers run in parallel on a layer's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Parallel {
    pub parts: Vec<Attention>,
}

impl AttentionFamily for Parallel {
    fn family(&self) -> &'static str {
        "parallel"
    }

    fn describe(&self) -> String {
        let parts: Vec<String> = self.parts.iter().map(|p| p.describe()).collect();
        parts.join(" ∥ ")
    }

    fn window(&self) -> Option<u64> {
        self.parts.iter().find_map(|p| p.window())
    }

    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        for p in &self.parts {
            p.tensors(hidden, out);
        }
    }

    /// The first part's spec; [`Self::kv_specs`] holds every part's.
    fn kv_spec(&self, kv: KvFormat, state: KvFormat, tp: u64) -> Result<KvSpec> {
        self.kv_specs(kv, state, tp)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal("a parallel layer without a part that keeps KV"))
    }

    fn each_kv_spec(
        &self,
        kv: KvFormat,
        state: KvFormat,
        tp: u64,
        f: &mut dyn FnMut(KvSpec),
    ) -> Result<()> {
        for p in &self.parts {
            p.each_kv_spec(kv, state, tp, f)?;
        }
        Ok(())
    }

    fn keeps_kv(&self) -> bool {
        self.parts.iter().any(|p| p.keeps_kv())
    }

    fn kv_layers_per_layer(&self) -> u64 {
        self.parts.iter().map(|p| p.kv_layers_per_layer()).sum()
    }

    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        self.parts.iter().map(|p| p.context_flops(c, prefill)).sum()
    }

    fn kv_read_bytes(&self, kv: KvFormat, state: KvFormat, tp: u64, c: u64) -> Result<f64> {
        let mut sum = 0.0;
        for p in &self.parts {
            sum += p.kv_read_bytes(kv, state, tp, c)?;
        }
        Ok(sum)
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        self.parts.iter().find_map(|p| p.tp_constraint(tp))
    }

    fn projection_width(&self) -> u64 {
        self.parts.iter().map(|p| p.projection_width()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::{Gqa, Mamba, MambaKind, QkNorm};

    // A Falcon-H1-like layer: GQA 8q/2kv × 16 beside a Mamba2 mixer (inner 128, 8 heads × 16,
    // 1 group, d_state 16, d_conv 4). Two specs: K and V 2 × 2 × 16 × 2 B = 128 B per token, and
    // a state of conv 3 × (128 + 2 × 16) = 480 + SSM 8 × 16 × 16 = 2048 elements × 2 B = 5056 B.
    #[test]
    fn both_parts_keep_their_own_cache() {
        let gqa = Attention::Gqa(Gqa {
            heads: 8,
            kv_heads: 2,
            head_dim: 16,
            v_head_dim: 16,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            sinks: false,
            window: None,
            q_gate: false,
        });
        let mamba = Attention::Mamba(Mamba {
            kind: MambaKind::Mamba2,
            intermediate: 128,
            state_size: 16,
            conv_kernel: 4,
            heads: 8,
            head_dim: 16,
            n_groups: 1,
            dt_rank: 0,
            conv_bias: true,
            in_bias: false,
            out_bias: false,
            gated_norm: false,
            dt_norms: false,
        });
        let p = Parallel {
            parts: vec![gqa.clone(), mamba.clone()],
        };
        let specs = p.kv_specs(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap();
        assert_eq!(
            specs,
            vec![KvSpec::Full { record: 128 }, KvSpec::State { bytes: 5056 }]
        );
        assert_eq!(p.kv_layers_per_layer(), 2);
        let (mut a, mut b, mut both) = (Vec::new(), Vec::new(), Vec::new());
        gqa.tensors(64, &mut a);
        mamba.tensors(64, &mut b);
        p.tensors(64, &mut both);
        assert_eq!(both.len(), a.len() + b.len());
        let read = p
            .kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 100)
            .unwrap();
        assert_eq!(read, 128.0 * 100.0 + 2.0 * 5056.0);
    }
}
