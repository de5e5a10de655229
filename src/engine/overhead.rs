//! Estimates of the memory a serving engine takes besides weights and KV cache, used when the user
//! does not give measured values. Each is documented with where it comes from.

use crate::model::{Ffn, Model};

/// Bytes per GiB, as an integer.
const GIB: u64 = 1 << 30;

/// The terms of the peak activation memory of vLLM's profiling run.
///
/// vLLM profiles one forward pass of `max_num_batched_tokens` tokens plus a sampler pass over
/// `max_num_seqs` dummy requests, and budgets the torch peak. Estimate (BF16 activations):
/// - forward: `T × (2·hidden + q/k/v width + 3·ffn width) × 2 B` — residual + normed hidden, the
///   q/k/v projection output, and the FFN's gate/up output (2·width) with its activation (width);
///   for MoE the ffn width is `top_k × expert width + shared width` (the fused-MoE intermediate);
/// - sampler: `max_num_seqs × vocab × 4 B × 2` — fp32 logits and the probabilities derived from them.
///
/// V1 sums the two: calibrated on vLLM 0.19, Llama-3.1-8B, H100, T = 8192, max_num_seqs = 1024
/// (estimate 1.85 GiB against the logged 1.89 GiB). V0 samples after the forward pass has freed
/// its intermediates, so its peak is the larger of the two (`separate`); on an RTX 3090 with
/// T = 20,000 and 29,000 (V0 batches `max_model_len` tokens) the estimate is 2.14 / 3.10 GiB
/// against the logged 2.07 / 2.99 GiB (github.com/vllm-project/vllm/issues/10517).
///
/// Under tensor parallelism the q/k/v and FFN widths shrink with the TP degree; the residual does
/// not; the sampler runs on the last pipeline stage only (`with_sampler`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activation {
    /// Forward-pass bytes per batched token.
    pub per_token: u64,
    /// Sampler bytes.
    pub sampler: u64,
    /// The peak is the larger of forward and sampler, not their sum.
    pub separate: bool,
}

impl Activation {
    /// The terms for `model` on one rank.
    pub fn new(
        model: &Model,
        attention_tp: u64,
        tp: u64,
        max_num_seqs: u64,
        with_sampler: bool,
        separate: bool,
    ) -> Activation {
        let h = model.hidden;
        let (atp, tp) = (attention_tp.max(1), tp.max(1));
        let widest = model
            .groups
            .iter()
            .map(|g| {
                let qkv = g.attention.projection_width();
                let ffn = match &g.ffn {
                    Ffn::Dense { intermediate, .. } => *intermediate,
                    Ffn::Moe(m) => m.top_k * m.expert_intermediate + m.shared_intermediate,
                };
                2 * h + qkv.div_ceil(atp) + (3 * ffn).div_ceil(tp)
            })
            .max()
            .unwrap_or(0);
        Activation {
            per_token: widest.saturating_mul(2),
            sampler: if with_sampler {
                max_num_seqs.saturating_mul(model.vocab).saturating_mul(8)
            } else {
                0
            },
            separate,
        }
    }

    /// The peak at `max_num_batched_tokens` tokens (bytes).
    pub fn bytes(&self, max_num_batched_tokens: u64) -> u64 {
        let forward = max_num_batched_tokens.saturating_mul(self.per_token);
        if self.separate {
            forward.max(self.sampler)
        } else {
            forward.saturating_add(self.sampler)
        }
    }
}

/// Memory outside torch's allocator that vLLM charges to the budget: CUDA context, cuBLAS
/// workspace and so on. vLLM 0.19 logs 0.25 GiB on one H100. At TP ≥ 2 NCCL communicator buffers
/// and the custom all-reduce's IPC buffers add to it; start-up logs of TP-8 H100 deployments show
/// roughly 1–1.5 GiB, so kvsim adds 1/8 GiB per extra TP rank (1.125 GiB at TP8).
pub fn non_torch_bytes(tp: u64) -> u64 {
    GIB / 4 + (tp.max(1) - 1).min(1 << 16) * (GIB / 8)
}

/// CUDA-graph capture memory: vLLM logs a few hundred MiB to ~1.5 GiB on H100 depending on the
/// number of captured batch sizes; kvsim takes 0.5 GiB. vLLM up to 0.20 does not subtract it from
/// the KV budget (it lives in the `1 − gpu_memory_utilization` headroom).
pub fn cuda_graph_bytes() -> u64 {
    GIB / 2
}
