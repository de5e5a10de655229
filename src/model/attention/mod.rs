//! Attention families, one file each (and `parallel` for two mixers in one layer, `shared_block`
//! for a transformer block several layers share), behind one trait ([`AttentionFamily`]): the tensors a layer
//! holds, what it keeps per sequence on one chip (a [`KvSpec`], after vLLM's
//! `vllm/v1/kv_cache_interface.py`: one spec per family, and the allocator never asks which family
//! a layer is), its context-dependent FLOPs and KV reads, and its tensor-parallel constraints.
//!
//! To add a family: write its file with a struct implementing [`AttentionFamily`], then add one
//! line to the `families!` list below.

mod absent;
mod compressed;
mod gqa;
mod linear;
mod mamba;
mod mfa;
mod mla;
mod parallel;
mod shared_block;
mod shared_kv;

pub use absent::Absent;
pub use compressed::Compressed;
pub use gqa::{Gqa, QkNorm};
pub use linear::{Linear, LinearKind};
pub use mamba::{Mamba, MambaKind};
pub use mfa::Mfa;
pub use mla::{Indexer, Mla, MlaLayout};
pub use parallel::Parallel;
pub use shared_block::SharedBlock;
pub use shared_kv::SharedKv;

use super::Tensor;
use crate::error::Result;
use crate::kv::KvSpec;
use crate::precision::KvFormat;
use serde::{Deserialize, Serialize};

/// What every attention family answers.
pub trait AttentionFamily {
    /// Short family name: MHA, GQA, MQA, SWA, MLA, MLA+DSA, linear, compressed.
    fn family(&self) -> &'static str;
    /// A one-line description, e.g. "GQA 32q/8kv×128" or "MLA 512+64 (128 heads)".
    fn describe(&self) -> String;
    /// Sliding window of the layer, if any.
    fn window(&self) -> Option<u64>;
    /// Appends the layer's tensors (rows = out features, cols = in features).
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>);
    /// What one layer keeps per sequence on one chip under attention TP degree `tp`.
    fn kv_spec(&self, kv: KvFormat, state: KvFormat, tp: u64) -> Result<KvSpec>;
    /// False for a layer that keeps nothing of its own (no attention, or one reading another
    /// layer's KV): it is left out of the KV specs, as vLLM gives it no cache.
    fn keeps_kv(&self) -> bool {
        true
    }
    /// Every cache one layer keeps (one spec, or none when [`Self::keeps_kv`] is false; a layer
    /// of parallel mixers keeps one per mixer).
    fn kv_specs(&self, kv: KvFormat, state: KvFormat, tp: u64) -> Result<Vec<KvSpec>> {
        let mut out = Vec::new();
        self.each_kv_spec(kv, state, tp, &mut |s| out.push(s))?;
        Ok(out)
    }
    /// Calls `f` with each spec of [`Self::kv_specs`], in order, without building the list.
    fn each_kv_spec(
        &self,
        kv: KvFormat,
        state: KvFormat,
        tp: u64,
        f: &mut dyn FnMut(KvSpec),
    ) -> Result<()> {
        if self.keeps_kv() {
            f(self.kv_spec(kv, state, tp)?);
        }
        Ok(())
    }
    /// Caches one layer keeps, as the engine counts its KV layers (the length of
    /// [`Self::kv_specs`]).
    fn kv_layers_per_layer(&self) -> u64 {
        u64::from(self.keeps_kv())
    }
    /// FLOPs of the context-dependent part (scores and values, indexer scoring, state update) for
    /// one token at context `c` (decode), or summed over a causal prompt of `c` tokens (prefill).
    /// Projections are not included: they are 2 FLOPs per active parameter.
    fn context_flops(&self, c: u64, prefill: bool) -> f64;
    /// KV bytes one decode step of one sequence at context `c` reads from this layer on one chip.
    /// Dense families read what their spec keeps; sparse ones override this.
    fn kv_read_bytes(&self, kv: KvFormat, state: KvFormat, tp: u64, c: u64) -> Result<f64> {
        Ok(self.kv_spec(kv, state, tp)?.read_bytes(c as f64))
    }
    /// What an attention TP degree must satisfy, when `tp` does not (the engines refuse it).
    fn tp_constraint(&self, tp: u64) -> Option<String>;
    /// Output width of the q/k/v projections (one token), for the activation-peak estimate.
    fn projection_width(&self) -> u64;
}

/// Declares the attention enum (serialised with a `family` tag) and its dispatch to the trait.
macro_rules! families {
    ($($variant:ident),* $(,)?) => {
        /// The attention block of a layer.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "family", rename_all = "snake_case")]
        pub enum Attention {
            $($variant($variant)),*
        }

        impl std::ops::Deref for Attention {
            type Target = dyn AttentionFamily;
            fn deref(&self) -> &(dyn AttentionFamily + 'static) {
                match self {
                    $(Attention::$variant(a) => a),*
                }
            }
        }
    };
}

families!(
    Gqa,
    Mla,
    Linear,
    Compressed,
    Mamba,
    Absent,
    SharedKv,
    Mfa,
    Parallel,
    SharedBlock
);

/// Σ_{i=1..p} min(i / slope, cap): the entries a layer attends to summed over a causal prompt.
pub(crate) fn sum_capped(p: f64, slope: f64, cap: Option<f64>) -> f64 {
    let full = p * (p + 1.0) / (2.0 * slope);
    match cap {
        Some(k) if p / slope > k => {
            let knee = (k * slope).floor();
            knee * (knee + 1.0) / (2.0 * slope) + (p - knee) * k
        }
        _ => full,
    }
}

/// Entries one query sees at context `c` when one entry stands for `slope` tokens and at most
/// `cap` are attended (decode), or that sum over a causal prompt of `c` tokens (prefill).
pub(crate) fn seen(c: f64, prefill: bool, slope: f64, cap: Option<f64>) -> f64 {
    if prefill {
        sum_capped(c, slope, cap)
    } else {
        let n = (c / slope).ceil();
        cap.map_or(n, |k| n.min(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_capped_matches_a_loop() {
        for (p, slope, cap) in [
            (100u64, 1.0, Some(10.0)),
            (1000, 4.0, Some(64.0)),
            (37, 128.0, None),
            (5000, 1.0, None),
        ] {
            let direct: f64 = (1..=p)
                .map(|i| cap.map_or(i as f64 / slope, |k: f64| (i as f64 / slope).min(k)))
                .sum();
            assert!(
                (sum_capped(p as f64, slope, cap) - direct).abs() < 1e-6 * direct.max(1.0),
                "{p} {slope} {cap:?}"
            );
        }
    }

    // The tag names the family, so a serialised model reads back.
    #[test]
    fn serde_tag_round_trips() {
        let a = Attention::Linear(Linear {
            kind: LinearKind::Kda,
            k_heads: 32,
            v_heads: 32,
            head_k_dim: 128,
            head_v_dim: 128,
            conv_kernel: 4,
        });
        let j = serde_json::to_value(&a).unwrap();
        assert_eq!(j["family"], "linear");
        assert_eq!(serde_json::from_value::<Attention>(j).unwrap(), a);
    }
}
