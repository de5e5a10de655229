//! Attention blocks: each variant answers the same questions — its parameters, and what it keeps
//! per sequence on one chip (a [`KvSpec`]). A new attention family is a new variant here.

use super::{Shard, Tensor};
use crate::error::{Error, Result};
use crate::kv::KvSpec;
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
    /// Learned per-head attention sinks (gpt-oss, MiMo-V2-Flash window layers).
    pub sinks: bool,
    /// Sliding window in tokens, when the layer only attends to the last `window` tokens.
    pub window: Option<u64>,
    /// Output gate computed by q_proj (Qwen3-Next): q_proj is twice as wide.
    #[serde(default)]
    pub q_gate: bool,
}

/// DeepSeek sparse-attention indexer (DeepSeek-V3.2, GLM-5.1, DeepSeek-V4 CSA layers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indexer {
    pub heads: u64,
    pub head_dim: u64,
    /// Tokens each query attends to after selection.
    pub topk: u64,
}

impl Indexer {
    /// Key-cache bytes per indexed entry: FP8 keys plus one fp32 scale per 128 (formulas.md §1: 132 B).
    pub fn record_bytes(&self) -> u64 {
        self.head_dim + 4 * self.head_dim.div_ceil(128)
    }

    /// wq_b (from the query latent), wk, k_norm (LayerNorm weight and bias), weights_proj.
    fn tensors(&self, hidden: u64, q_latent: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        out.push(Tensor::matrix(a, self.heads * self.head_dim, q_latent));
        out.push(Tensor::matrix(a, self.head_dim, hidden));
        out.push(Tensor::vector(a, 2 * self.head_dim));
        // weights_proj scores heads like a router and stays in high precision like one.
        out.push(Tensor::matrix(TensorGroup::Router, self.heads, hidden));
    }
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

/// Linear-attention families: no per-token cache, a fixed state per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearKind {
    /// Qwen3-Next Gated DeltaNet.
    GatedDeltaNet,
    /// Kimi Delta Attention (Kimi-Linear).
    Kda,
    /// MiniMax lightning attention.
    Lightning,
}

/// A linear-attention layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub kind: LinearKind,
    pub k_heads: u64,
    pub v_heads: u64,
    pub head_k_dim: u64,
    pub head_v_dim: u64,
    /// Short causal convolution kernel (0 = none).
    pub conv_kernel: u64,
}

impl Linear {
    fn key_dim(&self) -> u64 {
        self.k_heads * self.head_k_dim
    }
    fn value_dim(&self) -> u64 {
        self.v_heads * self.head_v_dim
    }
    /// Channels of the short convolution (q, k and v).
    fn conv_dim(&self) -> u64 {
        2 * self.key_dim() + self.value_dim()
    }

    /// State elements per sequence on one chip: the recurrent matrix per value head
    /// (`head_k_dim × head_v_dim`) and the conv state (`conv_dim × (kernel − 1)`), heads split by TP.
    pub fn state_elements(&self, tp: u64) -> u64 {
        let tp = tp.max(1);
        let v_heads = self.v_heads.div_ceil(tp);
        let recurrent = v_heads * self.head_k_dim * self.head_v_dim;
        let conv = self.conv_dim().div_ceil(tp) * self.conv_kernel.saturating_sub(1);
        recurrent + conv
    }
}

/// DeepSeek-V4 compressed attention: one shared `head_dim` KV head (partial RoPE), a window of
/// raw tokens on every layer, and one compressed entry per `ratio` tokens (0 = window only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compressed {
    pub heads: u64,
    pub head_dim: u64,
    pub rope_dim: u64,
    pub q_lora_rank: u64,
    pub o_lora_rank: u64,
    pub o_groups: u64,
    pub window: u64,
    pub ratio: u64,
    /// Lightning indexer of the CSA (ratio-4) layers.
    pub indexer: Option<Indexer>,
}

/// The attention block of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "family", rename_all = "snake_case")]
pub enum Attention {
    Gqa(Gqa),
    Mla(Mla),
    Linear(Linear),
    Compressed(Compressed),
}

fn state_element_bytes(state: KvFormat) -> Result<u64> {
    match state {
        KvFormat::Fp32 => Ok(4),
        KvFormat::Bf16 | KvFormat::Fp16 => Ok(2),
        other => Err(Error::field(
            "precision plan",
            "state",
            other,
            "fp32, bf16 or fp16 for the recurrent state of linear-attention layers",
        )),
    }
}

impl Attention {
    /// "MHA", "GQA", "MQA", "MLA", "linear" or "compressed".
    pub fn family(&self) -> &'static str {
        match self {
            Attention::Gqa(g) if g.window.is_some() => "SWA",
            Attention::Gqa(g) if g.kv_heads == g.heads => "MHA",
            Attention::Gqa(g) if g.kv_heads == 1 => "MQA",
            Attention::Gqa(_) => "GQA",
            Attention::Mla(m) if m.indexer.is_some() => "MLA+DSA",
            Attention::Mla(_) => "MLA",
            Attention::Linear(_) => "linear",
            Attention::Compressed(_) => "compressed",
        }
    }

    /// A one-line description, e.g. "GQA 32q/8kv×128" or "MLA 512+64 (128 heads)".
    pub fn describe(&self) -> String {
        match self {
            Attention::Gqa(g) => {
                let kind = if g.kv_heads == g.heads {
                    "MHA"
                } else if g.kv_heads == 1 {
                    "MQA"
                } else {
                    "GQA"
                };
                let w = g
                    .window
                    .map(|w| format!(", window {w}"))
                    .unwrap_or_default();
                format!("{kind} {}q/{}kv×{}{w}", g.heads, g.kv_heads, g.head_dim)
            }
            Attention::Mla(m) => {
                let idx = m
                    .indexer
                    .as_ref()
                    .map(|i| format!(" + indexer top-{}", i.topk))
                    .unwrap_or_default();
                format!(
                    "MLA {}+{} ({} heads){idx}",
                    m.kv_lora_rank, m.qk_rope_head_dim, m.heads
                )
            }
            Attention::Linear(l) => format!("{:?} {}×{}", l.kind, l.v_heads, l.head_v_dim),
            Attention::Compressed(c) => match c.ratio {
                0 => format!("V4 window {}", c.window),
                4 => format!("V4 CSA 1/{} + window {}", c.ratio, c.window),
                r => format!("V4 HCA 1/{r} + window {}", c.window),
            },
        }
    }

    /// Sliding window of the layer, if any.
    pub fn window(&self) -> Option<u64> {
        match self {
            Attention::Gqa(g) => g.window,
            Attention::Compressed(c) => Some(c.window),
            _ => None,
        }
    }

    /// Appends this block's tensors (rows = out features, cols = in features).
    pub fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        match self {
            Attention::Gqa(g) => {
                let q = g.heads * g.head_dim;
                let kvh = Shard::KvHeads { heads: g.kv_heads };
                let q_rows = if g.q_gate { 2 * q } else { q };
                out.push(Tensor::matrix(a, q_rows, hidden).split(Shard::Column));
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
                    None => out.push(Tensor::matrix(a, m.heads * qk, hidden).split(Shard::Column)),
                }
                out.push(Tensor::matrix(
                    a,
                    m.kv_lora_rank + m.qk_rope_head_dim,
                    hidden,
                )); // kv_a_proj_with_mqa
                out.push(Tensor::vector(a, m.kv_lora_rank)); // kv_a_layernorm
                let kv_b = m.heads * (m.qk_nope_head_dim + m.v_head_dim);
                out.push(Tensor::matrix(a, kv_b, m.kv_lora_rank).split(Shard::Column));
                out.push(Tensor::matrix(a, hidden, m.heads * m.v_head_dim).split(Shard::Row));
                if let Some(i) = &m.indexer {
                    i.tensors(hidden, m.q_lora_rank.unwrap_or(hidden), out);
                }
            }
            Attention::Linear(l) => l.tensors(hidden, out),
            Attention::Compressed(c) => {
                // From the V4 checkpoint shapes: wq_a, q_norm, wq_b, wkv, kv_norm, grouped low-rank
                // output (wo_a per group, wo_b), per-head sinks. Compressor and hyper-connection
                // mixing weights (< 0.1% of parameters) are not counted.
                let q = c.heads * c.head_dim;
                out.push(Tensor::matrix(a, c.q_lora_rank, hidden));
                out.push(Tensor::vector(a, c.q_lora_rank));
                out.push(Tensor::matrix(a, q, c.q_lora_rank).split(Shard::Column));
                out.push(Tensor::matrix(a, c.head_dim, hidden));
                out.push(Tensor::vector(a, c.head_dim));
                out.push(
                    Tensor::matrix(a, c.o_groups * c.o_lora_rank, q / c.o_groups.max(1))
                        .split(Shard::Column),
                );
                out.push(Tensor::matrix(a, hidden, c.o_groups * c.o_lora_rank).split(Shard::Row));
                out.push(Tensor::vector(a, c.heads).split(Shard::Column));
                if let Some(i) = &c.indexer {
                    i.tensors(hidden, c.q_lora_rank, out);
                }
            }
        }
    }

    /// What one layer keeps per sequence on one chip under attention TP degree `tp`.
    ///
    /// GQA keeps `max(1, kv_heads / tp)` heads per chip (replicated when tp > kv_heads); the MLA
    /// latent and V4's shared KV head are one head, replicated on every TP rank (formulas.md §2);
    /// linear layers split their state heads over TP.
    pub fn kv_spec(&self, kv: KvFormat, state: KvFormat, tp: u64) -> Result<KvSpec> {
        match self {
            Attention::Gqa(g) => {
                let heads = (g.kv_heads / tp.max(1)).max(1);
                let record = kv.gqa_record_bytes(heads, g.head_dim, g.v_head_dim)?;
                Ok(match g.window {
                    Some(window) => KvSpec::Window { record, window },
                    None => KvSpec::Full { record },
                })
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
                let index = m.indexer.as_ref().map_or(0, Indexer::record_bytes);
                Ok(KvSpec::Full {
                    record: kv.mla_record_bytes(m.kv_lora_rank, m.qk_rope_head_dim) + index,
                })
            }
            Attention::Linear(l) => Ok(KvSpec::State {
                bytes: l.state_elements(tp) * state_element_bytes(state)?,
            }),
            Attention::Compressed(c) => {
                let record = kv.mla_record_bytes(c.head_dim - c.rope_dim, c.rope_dim);
                Ok(if c.ratio == 0 {
                    KvSpec::Window {
                        record,
                        window: c.window,
                    }
                } else {
                    let entry = record + c.indexer.as_ref().map_or(0, Indexer::record_bytes);
                    KvSpec::Compressed {
                        record,
                        window: c.window,
                        ratio: c.ratio,
                        entry,
                    }
                })
            }
        }
    }
}

impl Linear {
    /// Parameters as the transformers / fla modules instantiate them.
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let (kd, vd) = (self.key_dim(), self.value_dim());
        let col = Shard::Column;
        match self.kind {
            LinearKind::GatedDeltaNet => {
                // in_proj_qkvz, in_proj_ba, conv1d (depthwise), dt_bias, A_log, gated RMSNorm, out_proj.
                out.push(Tensor::matrix(a, 2 * kd + 2 * vd, hidden).split(col));
                out.push(Tensor::matrix(a, 2 * self.v_heads, hidden).split(col));
                out.push(Tensor::vector(a, self.conv_dim() * self.conv_kernel).split(col));
                out.push(Tensor::vector(a, 2 * self.v_heads).split(col));
                out.push(Tensor::vector(a, self.head_v_dim));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
            }
            LinearKind::Kda => {
                // q/k/v projections and their short convs, low-rank forget gate (f_a, f_b), beta
                // (b_proj), A_log, dt_bias, low-rank output gate (g_a, g_b), o_norm, o_proj.
                let hd = self.head_k_dim;
                out.push(Tensor::matrix(a, 2 * kd + vd, hidden).split(col));
                out.push(Tensor::vector(a, self.conv_dim() * self.conv_kernel).split(col));
                out.push(Tensor::matrix(a, hd, hidden));
                out.push(Tensor::matrix(a, kd, hd).split(col));
                out.push(Tensor::matrix(a, self.v_heads, hidden).split(col));
                out.push(Tensor::vector(a, self.v_heads + kd).split(col));
                out.push(Tensor::matrix(a, hd, hidden));
                out.push(Tensor::matrix(a, vd, hd).split(col));
                out.push(Tensor::vector(a, self.head_v_dim));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
            }
            LinearKind::Lightning => {
                // MiniMax-Text-01: qkv_proj, output_gate, norm, out_proj.
                out.push(Tensor::matrix(a, 2 * kd + vd, hidden).split(col));
                out.push(Tensor::matrix(a, vd, hidden).split(col));
                out.push(Tensor::vector(a, vd).split(col));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
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
            indexer: None,
        })
    }

    fn record(a: &Attention, kv: KvFormat, tp: u64) -> u64 {
        match a.kv_spec(kv, KvFormat::Bf16, tp).unwrap() {
            KvSpec::Full { record } => record,
            other => panic!("{other:?}"),
        }
    }

    // formulas.md §1 / DeepSeek-V3 config: 512 + 64 = 576 elements, 1152 B in BF16, replicated over TP.
    #[test]
    fn mla_record_is_latent_plus_rope_and_ignores_tp() {
        let a = deepseek_v3_mla();
        assert_eq!(record(&a, KvFormat::Bf16, 1), 1152);
        assert_eq!(record(&a, KvFormat::Bf16, 8), 1152);
        assert_eq!(record(&a, KvFormat::Fp8DsMla, 1), 656);
    }

    // DeepSeek-V3.2: the indexer adds 128 FP8 + 4 B scale = 132 B per token per layer (formulas.md §1).
    #[test]
    fn indexer_adds_132_bytes() {
        let Attention::Mla(mut m) = deepseek_v3_mla() else {
            unreachable!()
        };
        m.indexer = Some(Indexer {
            heads: 64,
            head_dim: 128,
            topk: 2048,
        });
        let a = Attention::Mla(m);
        assert_eq!(record(&a, KvFormat::Bf16, 1), 1152 + 132);
        assert_eq!(record(&a, KvFormat::Fp8DsMla, 1), 656 + 132);
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
            q_gate: false,
        });
        let r: Vec<u64> = [1, 2, 8, 16]
            .iter()
            .map(|&tp| record(&a, KvFormat::Bf16, tp))
            .collect();
        assert_eq!(r, vec![4096, 2048, 512, 512]);
        assert_eq!(a.family(), "GQA");
    }

    // Qwen3-Next Gated DeltaNet (linear_num_value_heads 32, key/value head dim 128, 16 key heads,
    // conv kernel 4): 32·128·128 = 524,288 recurrent + (2·2048 + 4096)·3 = 24,576 conv elements;
    // 1,097,728 B per sequence per layer in BF16, half of it per chip at TP2.
    #[test]
    fn gated_deltanet_state() {
        let l = Linear {
            kind: LinearKind::GatedDeltaNet,
            k_heads: 16,
            v_heads: 32,
            head_k_dim: 128,
            head_v_dim: 128,
            conv_kernel: 4,
        };
        assert_eq!(l.state_elements(1), 524_288 + 24_576);
        let a = Attention::Linear(l);
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap(),
            KvSpec::State { bytes: 1_097_728 }
        );
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Fp32, 1).unwrap(),
            KvSpec::State { bytes: 2_195_456 }
        );
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 2).unwrap(),
            KvSpec::State { bytes: 548_864 }
        );
        assert!(a.kv_spec(KvFormat::Bf16, KvFormat::Fp8, 1).is_err());
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

/// Σ_{i=1..p} min(i / slope, cap): the entries a layer attends to summed over a causal prompt.
fn sum_capped(p: f64, slope: f64, cap: Option<f64>) -> f64 {
    let full = p * (p + 1.0) / (2.0 * slope);
    match cap {
        Some(k) if p / slope > k => {
            let knee = (k * slope).floor();
            knee * (knee + 1.0) / (2.0 * slope) + (p - knee) * k
        }
        _ => full,
    }
}

impl Attention {
    /// FLOPs of the context-dependent part (scores and values, indexer scoring, state update) for
    /// one token at context `c` (decode), or summed over a causal prompt of `p` tokens (prefill).
    /// Projections are not included: they are 2 FLOPs per active parameter.
    ///
    /// Decode MLA uses weight absorption (scores over the 512+64 latent, values over the 512
    /// latent, per head); prefill MLA expands the latent (scores over nope+rope, values over v).
    pub fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let c = c as f64;
        // Sum over the prompt (prefill) or the single last token (decode) of min(i/slope, cap).
        let seen = |slope: f64, cap: Option<f64>| {
            if prefill {
                sum_capped(c, slope, cap)
            } else {
                let n = (c / slope).ceil();
                cap.map_or(n, |k| n.min(k))
            }
        };
        let all = |slope: f64| seen(slope, None);
        match self {
            Attention::Gqa(g) => {
                let per = 2.0 * g.heads as f64 * (g.head_dim + g.v_head_dim) as f64;
                per * seen(1.0, g.window.map(|w| w as f64))
            }
            Attention::Mla(m) => {
                let h = m.heads as f64;
                let per = if prefill {
                    2.0 * h * (m.qk_nope_head_dim + m.qk_rope_head_dim + m.v_head_dim) as f64
                } else {
                    2.0 * h * (2 * m.kv_lora_rank + m.qk_rope_head_dim) as f64
                };
                match &m.indexer {
                    None => per * all(1.0),
                    Some(i) => {
                        per * seen(1.0, Some(i.topk as f64))
                            + 2.0 * (i.heads * i.head_dim) as f64 * all(1.0)
                    }
                }
            }
            Attention::Linear(l) => {
                // Delta-rule recurrences read, correct and update a dk × dv state per value head
                // (≈ 6 FLOPs per state element); lightning attention reads and updates it (4).
                let per_elem = if l.kind == LinearKind::Lightning {
                    4.0
                } else {
                    6.0
                };
                let tokens = if prefill { c } else { 1.0 };
                per_elem * (l.v_heads * l.head_k_dim * l.head_v_dim) as f64 * tokens
            }
            Attention::Compressed(v) => {
                // One shared 512-dim head serves as key and value: 4 · heads · head_dim per entry.
                let per = 4.0 * (v.heads * v.head_dim) as f64;
                let window = per * seen(1.0, Some(v.window as f64));
                let entries = match (v.ratio, &v.indexer) {
                    (0, _) => 0.0,
                    (r, Some(i)) => {
                        per * seen(r as f64, Some(i.topk as f64))
                            + 2.0 * (i.heads * i.head_dim) as f64 * all(r as f64)
                    }
                    (r, None) => per * all(r as f64),
                };
                window + entries
            }
        }
    }

    /// KV bytes one decode step of one sequence at context `c` reads from this layer on one chip
    /// (sparse layers read only their top-k entries' records, but every indexer key; linear layers
    /// read and write their state).
    pub fn kv_read_bytes(&self, kv: KvFormat, state: KvFormat, tp: u64, c: u64) -> Result<f64> {
        let spec = self.kv_spec(kv, state, tp)?;
        let c = c as f64;
        Ok(match (self, spec) {
            (Attention::Mla(m), KvSpec::Full { record }) => match &m.indexer {
                Some(i) => {
                    let idx = i.record_bytes() as f64;
                    (record as f64 - idx) * c.min(i.topk as f64) + idx * c
                }
                None => record as f64 * c,
            },
            (_, KvSpec::Full { record }) => record as f64 * c,
            (_, KvSpec::Window { record, window }) => record as f64 * c.min(window as f64),
            (_, KvSpec::State { bytes }) => 2.0 * bytes as f64,
            (
                Attention::Compressed(v),
                KvSpec::Compressed {
                    record,
                    window,
                    ratio,
                    entry,
                },
            ) => {
                let n = (c / ratio as f64).ceil();
                let raw = record as f64 * c.min(window as f64);
                match &v.indexer {
                    Some(i) => {
                        raw + record as f64 * n.min(i.topk as f64) + (entry - record) as f64 * n
                    }
                    None => raw + entry as f64 * n,
                }
            }
            (
                _,
                KvSpec::Compressed {
                    record,
                    window,
                    ratio,
                    entry,
                },
            ) => record as f64 * c.min(window as f64) + entry as f64 * (c / ratio as f64).ceil(),
        })
    }
}

#[cfg(test)]
mod flop_tests {
    use super::*;

    // Llama-3.1-8B layer at 8192 tokens of context: 2 · 32 heads · (128 + 128) · 8192 = 134,217,728.
    #[test]
    fn gqa_decode_and_prefill() {
        let a = Attention::Gqa(Gqa {
            heads: 32,
            kv_heads: 8,
            head_dim: 128,
            v_head_dim: 128,
            qkv_bias: false,
            o_bias: false,
            qk_norm: QkNorm::None,
            sinks: false,
            window: None,
            q_gate: false,
        });
        assert_eq!(a.context_flops(8192, false), 134_217_728.0);
        // Causal prefill of 4 tokens: 2·32·256 · (1+2+3+4).
        assert_eq!(a.context_flops(4, true), 16384.0 * 10.0);
    }

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
}
