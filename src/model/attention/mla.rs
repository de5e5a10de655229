//! DeepSeek multi-head latent attention (V2, V3, Kimi-K2, GLM-5), with the DeepSeek sparse-attention
//! indexer of V3.2 and GLM-5.1.

use super::{seen, AttentionFamily};
use crate::error::{Error, Result};
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{IndexerCache, KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// DeepSeek sparse-attention indexer (DeepSeek-V3.2, GLM-5.1, DeepSeek-V4 CSA layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indexer {
    pub heads: u64,
    pub head_dim: u64,
    /// Tokens each query attends to after selection.
    pub topk: u64,
    /// How the engine stores the keys (set from the precision plan by `Spec::build`).
    #[serde(default, skip_serializing_if = "IndexerCache::is_fp8")]
    pub cache: IndexerCache,
}

impl Indexer {
    /// Key-cache bytes per indexed entry: FP8 keys plus one fp32 scale per 128 (132 B for
    /// DeepSeek-V3.2's 128-dim keys), or MXFP4 keys (68 B; docs/facts.md §1).
    pub fn record_bytes(&self) -> u64 {
        self.cache.key_bytes(self.head_dim)
    }

    /// wq_b (from the query latent), wk, k_norm (LayerNorm weight and bias), weights_proj, all
    /// whole on every TP rank (the default shard) as SGLang builds them: `ReplicatedLinear` for
    /// `wq_b`, `wk` and `weights_proj` (`sglang/srt/layers/attention/dsa/dsa_indexer.py::
    /// Indexer.__init__` @ 0.5.23; with its fused indexer option `wk` and `weights_proj` are one
    /// BF16 matrix, not modelled).
    pub(crate) fn tensors(&self, hidden: u64, q_latent: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        out.push(Tensor::matrix(a, self.heads * self.head_dim, q_latent));
        out.push(Tensor::matrix(a, self.head_dim, hidden));
        out.push(Tensor::vector(a, 2 * self.head_dim));
        // weights_proj scores heads like a router and stays in high precision like one.
        out.push(Tensor::matrix(TensorGroup::Router, self.heads, hidden));
    }
}

/// How an engine caches an MLA layer (chosen by the engine's release).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MlaLayout {
    /// One latent + RoPE record per token, replicated on every TP rank.
    #[default]
    Latent,
    /// K and V per local head, as for multi-head attention: each `pad_to` elements, or the q/k
    /// head size (nope + RoPE; V padded to it) when None. vLLM before MLA support.
    PerHead { pad_to: Option<u64> },
}

/// DeepSeek multi-head latent attention.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mla {
    pub heads: u64,
    /// None: queries are projected directly (DeepSeek-V2-Lite, Kimi-Linear).
    pub q_lora_rank: Option<u64>,
    pub kv_lora_rank: u64,
    pub qk_nope_head_dim: u64,
    pub qk_rope_head_dim: u64,
    pub v_head_dim: u64,
    /// Sparse-attention indexer (DeepSeek-V3.2, GLM-5.1).
    #[serde(default)]
    pub indexer: Option<Indexer>,
}

impl Mla {
    /// The layer's cache under `layout`: the latent record ([`AttentionFamily::kv_spec`]), or K
    /// and V of `heads / tp` heads of the padded size — 2 × heads/TP × head × dtype bytes per
    /// token (DeepSeek-Coder-V2-Lite at TP2, BF16, 256: 2 × 8 × 256 × 2 = 8,192 B per layer).
    pub fn kv_spec_as(&self, layout: MlaLayout, kv: KvFormat, tp: u64) -> Result<KvSpec> {
        match layout {
            MlaLayout::Latent => self.kv_spec(kv, kv, tp),
            MlaLayout::PerHead { pad_to } => {
                let qk = self.qk_nope_head_dim + self.qk_rope_head_dim;
                let head = pad_to.unwrap_or(qk).max(qk).max(self.v_head_dim);
                let heads = (self.heads / tp.max(1)).max(1);
                let record = kv.gqa_record_bytes(heads, head, head)?;
                Ok(KvSpec::Full {
                    record: record + self.indexer.as_ref().map_or(0, Indexer::record_bytes),
                })
            }
        }
    }
}

impl AttentionFamily for Mla {
    fn family(&self) -> &'static str {
        if self.indexer.is_some() {
            "MLA+DSA"
        } else {
            "MLA"
        }
    }

    fn describe(&self) -> String {
        let idx = self
            .indexer
            .as_ref()
            .map(|i| format!(" + indexer top-{}", i.topk))
            .unwrap_or_default();
        format!(
            "MLA {}+{} ({} heads){idx}",
            self.kv_lora_rank, self.qk_rope_head_dim, self.heads
        )
    }

    fn window(&self) -> Option<u64> {
        None
    }

    /// vLLM: the down-projections (q_a, kv_a) are replicated, the up-projections split by heads,
    /// o_proj by rows.
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let qk = self.qk_nope_head_dim + self.qk_rope_head_dim;
        match self.q_lora_rank {
            Some(r) => {
                out.push(Tensor::matrix(a, r, hidden)); // q_a_proj
                out.push(Tensor::vector(a, r)); // q_a_layernorm
                out.push(Tensor::matrix(a, self.heads * qk, r).split(Shard::Column));
                // q_b_proj
            }
            None => out.push(Tensor::matrix(a, self.heads * qk, hidden).split(Shard::Column)),
        }
        out.push(Tensor::matrix(
            a,
            self.kv_lora_rank + self.qk_rope_head_dim,
            hidden,
        )); // kv_a_proj_with_mqa
        out.push(Tensor::vector(a, self.kv_lora_rank)); // kv_a_layernorm
        let kv_b = self.heads * (self.qk_nope_head_dim + self.v_head_dim);
        out.push(Tensor::matrix(a, kv_b, self.kv_lora_rank).split(Shard::Column));
        out.push(Tensor::matrix(a, hidden, self.heads * self.v_head_dim).split(Shard::Row));
        if let Some(i) = &self.indexer {
            i.tensors(hidden, self.q_lora_rank.unwrap_or(hidden), out);
        }
    }

    /// One latent + RoPE record per token, replicated on every TP rank (vLLM reports one KV head
    /// for MLA; docs/facts.md §2), plus the indexer's key when there is one.
    fn kv_spec(&self, kv: KvFormat, _state: KvFormat, _tp: u64) -> Result<KvSpec> {
        if kv == KvFormat::Fp8DsMla && (self.kv_lora_rank != 512 || self.qk_rope_head_dim != 64) {
            return Err(Error::field(
                "precision plan",
                "kv",
                "fp8-ds-mla",
                "fp8-ds-mla needs kv_lora_rank 512 and qk_rope_head_dim 64 (the FlashMLA layout)",
            ));
        }
        let index = self.indexer.as_ref().map_or(0, Indexer::record_bytes);
        Ok(KvSpec::Full {
            record: kv.mla_record_bytes(self.kv_lora_rank, self.qk_rope_head_dim) + index,
        })
    }

    /// Decode uses weight absorption (scores over the 512+64 latent, values over the 512 latent,
    /// per head); prefill expands the latent (scores over nope+rope, values over v).
    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let c = c as f64;
        let h = self.heads as f64;
        let per = if prefill {
            2.0 * h * (self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim) as f64
        } else {
            2.0 * h * (2 * self.kv_lora_rank + self.qk_rope_head_dim) as f64
        };
        match &self.indexer {
            None => per * seen(c, prefill, 1.0, None),
            Some(i) => {
                per * seen(c, prefill, 1.0, Some(i.topk as f64))
                    + 2.0 * (i.heads * i.head_dim) as f64 * seen(c, prefill, 1.0, None)
            }
        }
    }

    /// With an indexer, a step reads every indexer key but only the top-k latents.
    fn kv_read_bytes(&self, kv: KvFormat, state: KvFormat, tp: u64, c: u64) -> Result<f64> {
        let spec = self.kv_spec(kv, state, tp)?;
        let c = c as f64;
        Ok(match (&self.indexer, spec) {
            (Some(i), KvSpec::Full { record }) => {
                let idx = i.record_bytes() as f64;
                (record as f64 - idx) * c.min(i.topk as f64) + idx * c
            }
            (_, spec) => spec.read_bytes(c),
        })
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        (self.heads % tp != 0).then(|| format!("a divisor of num_attention_heads ({})", self.heads))
    }

    fn projection_width(&self) -> u64 {
        self.heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
            + self.kv_lora_rank
            + self.qk_rope_head_dim
    }
}

/// DeepSeek-V3's attention (its config.json), shared by the tests of every module that sizes MLA.
#[cfg(test)]
impl Mla {
    pub(crate) fn deepseek_v3() -> Mla {
        Mla {
            heads: 128,
            q_lora_rank: Some(1536),
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
            indexer: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    fn deepseek_v3_mla() -> Mla {
        Mla::deepseek_v3()
    }

    fn record(a: &Attention, kv: KvFormat, tp: u64) -> u64 {
        match a.kv_spec(kv, KvFormat::Bf16, tp).unwrap() {
            KvSpec::Full { record } => record,
            other => panic!("{other:?}"),
        }
    }

    // DeepSeek-V3 config: 512 + 64 = 576 elements, 1152 B in BF16, replicated over TP;
    // vLLM's fp8_ds_mla: 512 FP8 + 4 fp32 scales + 64 BF16 = 656 B.
    #[test]
    fn record_is_latent_plus_rope_and_ignores_tp() {
        let a = Attention::Mla(deepseek_v3_mla());
        assert_eq!(record(&a, KvFormat::Bf16, 1), 1152);
        assert_eq!(record(&a, KvFormat::Bf16, 8), 1152);
        assert_eq!(record(&a, KvFormat::Fp8DsMla, 1), 656);
    }

    // vLLM 0.5.1–0.6.6 caches K and V per head padded to 256 (deepseek_v2.py: `Attention(
    // num_local_heads, 256, …, num_kv_heads=num_local_heads)`), 0.7.0 at the q/k head size 192.
    // DeepSeek-Coder-V2-Lite (16 heads, nope 128 + RoPE 64, v 128) at TP2, FP16:
    // 2 × 8 × 256 × 2 B = 8,192 B per layer (221,184 B per token over 27 layers); at 192: 6,144 B.
    #[test]
    fn per_head_layouts() {
        let lite = Mla {
            heads: 16,
            q_lora_rank: None,
            kv_lora_rank: 512,
            qk_nope_head_dim: 128,
            qk_rope_head_dim: 64,
            v_head_dim: 128,
            indexer: None,
        };
        let rec = |layout, tp| match lite.kv_spec_as(layout, KvFormat::Fp16, tp).unwrap() {
            KvSpec::Full { record } => record,
            other => panic!("{other:?}"),
        };
        let padded = MlaLayout::PerHead { pad_to: Some(256) };
        assert_eq!(rec(padded, 2), 8192);
        assert_eq!(27 * rec(padded, 2), 221_184);
        assert_eq!(rec(MlaLayout::PerHead { pad_to: None }, 2), 6144);
        assert_eq!(rec(MlaLayout::Latent, 2), 1152);
        assert_eq!(rec(padded, 1), 16384);
    }

    // DeepSeek-V3.2: the indexer adds 128 FP8 + 4 B scale = 132 B per token per layer.
    #[test]
    fn indexer_adds_132_bytes() {
        let mut m = deepseek_v3_mla();
        m.indexer = Some(Indexer {
            cache: IndexerCache::Fp8,
            heads: 64,
            head_dim: 128,
            topk: 2048,
        });
        let a = Attention::Mla(m);
        assert_eq!(record(&a, KvFormat::Bf16, 1), 1152 + 132);
        assert_eq!(record(&a, KvFormat::Fp8DsMla, 1), 656 + 132);
        // A decode step at 8192 tokens reads 2048 latents and 8192 indexer keys.
        assert_eq!(
            a.kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 8192)
                .unwrap(),
            1152.0 * 2048.0 + 132.0 * 8192.0
        );
    }

    // DeepSeek-V3 attention parameters per layer, from its config (q_lora 1536, kv_lora 512, 128 heads):
    // 7168·1536 + 1536 + 1536·24576 + 7168·576 + 512 + 512·32768 + 16384·7168 = 187,107,328.
    #[test]
    fn parameters_per_layer() {
        let mut t = Vec::new();
        deepseek_v3_mla().tensors(7168, &mut t);
        let n: u64 = t.iter().map(|x| x.elements()).sum();
        assert_eq!(n, 187_107_328);
    }
}
