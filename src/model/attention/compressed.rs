//! DeepSeek-V4 compressed attention: one shared KV head (partial RoPE), a window of raw tokens on
//! every layer, and one compressed entry per `ratio` tokens — CSA layers (ratio 4) with a lightning
//! indexer, HCA layers (ratio 128) without.

use super::{seen, AttentionFamily, Indexer};
use crate::error::{Error, Result};
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// A DeepSeek-V4 attention layer (`ratio` 0 = window only).
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

impl Compressed {
    /// FP32 compressor state one sequence holds in this layer, whatever its context: the
    /// partial entries not yet compressed. vLLM keeps it as a sliding window of `coff · ratio`
    /// slots (coff = 2 for overlapping ratio-4 windows, else 1) of `2 · coff · head_dim` fp32
    /// (KV state + score state), in pages of 4 slots (ratio 4) or 8 (ratio 128), so a sequence
    /// holds `window / page + 1` pages; the CSA indexer has its own compressor over its 128-dim
    /// keys (`vllm/model_executor/layers/deepseek_compressor.py::CompressorStateCache` and
    /// `DeepseekCompressor.__init__` @ v0.20.2; `vllm/models/deepseek_v4/compressor.py` @
    /// v0.33.0, unchanged). DeepSeek's reference code sizes the same buffers by the batch
    /// (`max_batch_size`), not the context. Ratio 4 with 512 + 128-dim keys: 12 · 8192 +
    /// 12 · 2048 = 122,880 B; ratio 128: 136 · 4096 = 557,056 B.
    pub fn compressor_state_bytes(&self) -> u64 {
        let one = |head_dim: u64| {
            let coff = 1 + u64::from(self.ratio == 4);
            let page = if self.ratio == 4 { 4 } else { 8 };
            let slots = ((coff * self.ratio).div_ceil(page) + 1) * page;
            slots * 2 * coff * head_dim * 4
        };
        match self.ratio {
            0 => 0,
            _ => one(self.head_dim) + self.indexer.as_ref().map_or(0, |i| one(i.head_dim)),
        }
    }
}

impl AttentionFamily for Compressed {
    fn family(&self) -> &'static str {
        "compressed"
    }

    fn describe(&self) -> String {
        match self.ratio {
            0 => format!("V4 window {}", self.window),
            4 => format!("V4 CSA 1/{} + window {}", self.ratio, self.window),
            r => format!("V4 HCA 1/{r} + window {}", self.window),
        }
    }

    fn window(&self) -> Option<u64> {
        Some(self.window)
    }

    /// From the V4 checkpoint shapes: wq_a, q_norm, wq_b, wkv, kv_norm, grouped low-rank output
    /// (wo_a per group, wo_b), per-head sinks. Compressor and hyper-connection mixing weights
    /// (< 0.1% of parameters) are not counted.
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let q = self.heads * self.head_dim;
        out.push(Tensor::matrix(a, self.q_lora_rank, hidden));
        out.push(Tensor::vector(a, self.q_lora_rank));
        out.push(Tensor::matrix(a, q, self.q_lora_rank).split(Shard::Column));
        out.push(Tensor::matrix(a, self.head_dim, hidden));
        out.push(Tensor::vector(a, self.head_dim));
        out.push(
            Tensor::matrix(
                a,
                self.o_groups * self.o_lora_rank,
                q / self.o_groups.max(1),
            )
            .split(Shard::Column),
        );
        out.push(Tensor::matrix(a, hidden, self.o_groups * self.o_lora_rank).split(Shard::Row));
        out.push(Tensor::vector(a, self.heads).split(Shard::Column));
        if let Some(i) = &self.indexer {
            i.tensors(hidden, self.q_lora_rank, out);
        }
    }

    /// The shared head is one record (NoPE part + RoPE part), replicated on every TP rank like
    /// MLA's latent; compressed entries carry the indexer key on CSA layers.
    fn kv_spec(&self, kv: KvFormat, _state: KvFormat, _tp: u64) -> Result<KvSpec> {
        let nope = self.head_dim - self.rope_dim;
        let record = if kv == KvFormat::Fp8DsMla {
            // vLLM's V4 layout: 448 FP8 NoPE + 64 BF16 RoPE + 7 UE8M0 scales (one per 64) and one
            // pad byte = 584 B (`vllm/v1/kv_cache_interface.py::MLAAttentionSpec.
            // real_page_size_bytes` @ v0.20.2, docs/facts.md §1). Only that shape exists.
            if nope != 448 || self.rope_dim != 64 {
                return Err(Error::field(
                    "precision plan",
                    "kv",
                    "fp8-ds-mla",
                    "fp8-ds-mla for DeepSeek-V4 needs head_dim 512 with 64 RoPE dims (vLLM's layout)",
                ));
            }
            nope + 2 * self.rope_dim + nope.div_ceil(64) + 1
        } else {
            kv.mla_record_bytes(nope, self.rope_dim)
        };
        Ok(if self.ratio == 0 {
            KvSpec::Window {
                record,
                window: self.window,
            }
        } else {
            let entry = record + self.indexer.as_ref().map_or(0, Indexer::record_bytes);
            KvSpec::Compressed {
                record,
                window: self.window,
                ratio: self.ratio,
                entry,
                state: self.compressor_state_bytes(),
            }
        })
    }

    /// One shared head serves as key and value: 4 · heads · head_dim per entry attended.
    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let c = c as f64;
        let per = 4.0 * (self.heads * self.head_dim) as f64;
        let window = per * seen(c, prefill, 1.0, Some(self.window as f64));
        let entries = match (self.ratio, &self.indexer) {
            (0, _) => 0.0,
            (r, Some(i)) => {
                per * seen(c, prefill, r as f64, Some(i.topk as f64))
                    + 2.0 * (i.heads * i.head_dim) as f64 * seen(c, prefill, r as f64, None)
            }
            (r, None) => per * seen(c, prefill, r as f64, None),
        };
        window + entries
    }

    /// CSA layers read every indexer key but only the top-k entries' records.
    fn kv_read_bytes(&self, kv: KvFormat, state: KvFormat, tp: u64, c: u64) -> Result<f64> {
        let spec = self.kv_spec(kv, state, tp)?;
        let c = c as f64;
        Ok(match (spec, &self.indexer) {
            (
                KvSpec::Compressed {
                    record,
                    window,
                    ratio,
                    entry,
                    ..
                },
                Some(i),
            ) => {
                let n = (c / ratio as f64).ceil();
                record as f64 * c.min(window as f64)
                    + record as f64 * n.min(i.topk as f64)
                    + (entry - record) as f64 * n
            }
            (spec, _) => spec.read_bytes(c),
        })
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        (self.heads % tp != 0).then(|| format!("a divisor of num_attention_heads ({})", self.heads))
    }

    fn projection_width(&self) -> u64 {
        self.heads * self.head_dim + self.head_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(ratio: u64, indexer: Option<Indexer>) -> Compressed {
        Compressed {
            heads: 64,
            head_dim: 512,
            rope_dim: 64,
            q_lora_rank: 1024,
            o_lora_rank: 1024,
            o_groups: 8,
            window: 128,
            ratio,
            indexer,
        }
    }

    // BF16 record of the 512-dim shared head: 1024 B. A CSA layer's entry adds the indexer key
    // (128 FP8 + 4 B scale); at 1M tokens a step reads 128 window records, 512 of the 262,144
    // entries (top-k) and every indexer key.
    #[test]
    fn csa_spec_and_reads() {
        let idx = Indexer {
            cache: crate::precision::IndexerCache::Fp8,
            heads: 64,
            head_dim: 128,
            topk: 512,
        };
        let a = v4(4, Some(idx));
        let spec = a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 8).unwrap();
        assert_eq!(
            spec,
            KvSpec::Compressed {
                record: 1024,
                window: 128,
                ratio: 4,
                entry: 1156,
                state: 122_880,
            }
        );
        // HCA: 136 slots of 2 · 512 fp32 (docs/facts.md §1).
        assert_eq!(v4(128, None).compressor_state_bytes(), 557_056);
        let read = a
            .kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 1 << 20)
            .unwrap();
        assert_eq!(read, 128.0 * 1024.0 + 512.0 * 1024.0 + 262_144.0 * 132.0);
        assert_eq!(
            v4(0, None)
                .kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1)
                .unwrap(),
            KvSpec::Window {
                record: 1024,
                window: 128
            }
        );
    }
}
