//! TensorRT-LLM: `free_gpu_memory_fraction` of what is free after weights and runtime buffers;
//! pages of `tokens_per_block` = 32.

use super::{ServingEngine, StageMemory};

/// TensorRT-LLM.
pub struct Trtllm;

impl ServingEngine for Trtllm {
    fn name(&self) -> &'static str {
        "trtllm"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["tensorrt-llm"]
    }

    /// `KvCacheConfig.free_gpu_memory_fraction` defaults to 0.9.
    fn default_fraction(&self, _version: u32, _setup: &super::Setup) -> f64 {
        0.9
    }

    /// `tokens_per_block` defaults to 32.
    fn default_block_size(&self, _version: u32, _chip_default: u64) -> u64 {
        32
    }

    fn budget(&self, _version: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        let spent = m.profiled();
        let short = spent.saturating_sub(total);
        (
            (total.saturating_sub(spent) as f64 * fraction).floor() as u64,
            short,
        )
    }

    fn formula(&self, _version: u32, f: f64) -> String {
        format!("TensorRT-LLM: {f} × (total − weights − activation − non-torch)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 0.9 × (80 − 40 − 5 − 1) GiB; nothing when weights and buffers exceed the device.
    #[test]
    fn budget_is_a_fraction_of_the_free_memory() {
        let g = 1u64 << 30;
        let m = StageMemory {
            weights: 40 * g,
            activation: 5 * g,
            non_torch: g,
            cuda_graph: 0,
        };
        assert_eq!(
            Trtllm.budget(0, &m, 80 * g, 0.9),
            ((34.0 * g as f64 * 0.9).floor() as u64, 0)
        );
        assert_eq!(Trtllm.budget(0, &m, 40 * g, 0.9), (0, 6 * g));
    }
}
