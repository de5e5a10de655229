//! Position tables an engine allocates on every device at model load besides the parameters:
//! each distinct rope's cos/sin cache and a vision module's fixed sin-cos tables
//! ([`crate::model::position`]). They are registered buffers (`persistent=False`), so no
//! checkpoint stores them, but vLLM's "Model loading took" and SGLang's "Load weight end … mem
//! usage" measure the device memory load took, buffers included.
//!
//! vLLM (`model_executor/layers/rotary_embedding.py` `RotaryEmbedding.__init__` @ v0.6.3, v0.7.3,
//! v0.8.3; `rotary_embedding/base.py` @ v0.10.2, v0.33.0): `cos_sin_cache` is
//! `torch.cat((cos, sin), -1)` of `[positions, rotary_dim / 2]` each, so `positions × rotary_dim`
//! elements, cast to `dtype` (`get_rope`'s argument, `torch.get_default_dtype()` — the model dtype
//! while vLLM builds the model — unless the model file passes one). `get_rope` keeps instances
//! in `_ROPE_DICT` keyed by (head size, rotary dim, max position, base, neox style, scaling,
//! dtype), so all layers share one table per distinct rope. The layers are built on every TP
//! rank and the buffer is not sharded: every rank holds the whole table. Positions by class:
//! `RotaryEmbedding` and `Llama3RotaryEmbedding` `max_position`; `LinearScalingRotaryEmbedding`
//! and `DynamicNTKScalingRotaryEmbedding` `max_position × factor`; `YaRNScalingRotaryEmbedding`
//! and `DeepseekScalingRotaryEmbedding` `original_max_position × factor` (`get_rope` passes the
//! original length as their `max_position_embeddings`; `torch.arange` of a float end, so the
//! ceiling); `Phi3LongRoPEScaledRotaryEmbedding` a short table (`original_max_position`), a long
//! one (`max_position`) and their concatenation, over the whole head; `MRotaryEmbedding`
//! `max_position` up to v0.7.1 (v0.6.3, v0.6.5, v0.7.0, v0.7.1) and `max_position × 4` from v0.7.2
//! (`cache_max_position_num` @ v0.7.2, v0.7.3, v0.8.3, v0.10.2;
//! `get_rope(mrope_positions_factor=4)` at v0.33.0), except Qwen3-VL from v0.32.0, which passes
//! 1 unless video pruning is on (`qwen3_vl.py` `mrope_positions_factor` @ v0.32.0, v0.33.0;
//! absent at v0.31.0).
//!
//! Not modelled: vLLM 0.33.0's `DeepseekScalingRotaryEmbedding` keeps its table FP32 when its
//! FlashInfer path is on (`use_flashinfer`: the rotary custom op enabled, CUDA, FlashInfer
//! installed; `deepseek_scaling_rope.py`), which depends on the compilation settings; kvsim takes
//! the model dtype. Models whose rope kvsim does not model (`RopeRule::NotModelled`) say so.
//!
//! vLLM-Ascend (`vllm_ascend/ops/rotary_embedding.py` @ v0.10.2rc1, v0.11.0rc0, registered over
//! vLLM's classes in `vllm_ascend/utils.py` `register_ascend_customop`; @ v0.9.0rc2 the same
//! three buffers by patching `DeepseekScalingRotaryEmbedding.__init__` with
//! `deepseek_rope_init_func`): `AscendRotaryEmbedding` keeps vLLM's
//! table; `AscendDeepseekScalingRotaryEmbedding._set_cos_sin_cache` registers `cos_sin_cache`
//! plus `cos_cached` and `sin_cached`, each `[⌈original × factor⌉, rotary_dim]` in the model
//! dtype: three tables for an MLA model's yarn rope.
//!
//! SGLang (`srt/layers/rotary_embedding.py` `RotaryEmbedding.__init__` @ v0.4.6, v0.4.7, v0.5.3,
//! v0.5.4; `rotary_embedding/base.py` @ v0.5.23): the same classes and `_ROPE_DICT`, but "cache
//! needs to be in FP32 for numerical stability": the table stays FP32 on CUDA (and on ROCm at
//! v0.5.23; cast before), and `MRotaryEmbedding` keeps `max_position` rows. SGLang 0.3.3 and 0.3.4
//! import vLLM's `get_rope` (`models/llama.py`, `models/deepseek_v2.py`): the model dtype.
//!
//! MiniCPM-V's resampler tables: vLLM 0.10.2 `minicpmv.py` `MiniCPMV4_5.init_resampler` builds
//! `Resampler4_5` and moves it to `torch.get_default_dtype()` (the model dtype).

use crate::model::position::{PositionTables, Rope, RopeScaling};

/// How one engine release sizes position tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PositionRule {
    /// Bytes per element of a rope table the model file leaves to the default dtype.
    pub rope_bytes: u64,
    /// MRoPE tables cover `max_position × mrope_rows`.
    pub mrope_rows: u64,
    /// The release sizes a model's MRoPE table by its own positions factor, 1 without video
    /// pruning ([`Rope::mrope_pruning_only`]).
    pub mrope_factor_by_model: bool,
    /// Tables kept per yarn rope of an MLA model (vLLM-Ascend keeps three).
    pub mla_yarn_copies: u64,
    /// Bytes per element of a vision module's sin-cos tables; 0 when not counted.
    pub sincos_bytes: u64,
    /// The engine code the rule follows, for the note.
    pub source: &'static str,
}

/// The model dtype's bytes: kvsim's activation dtype (BF16/FP16; vLLM runs FP32 checkpoints
/// in FP16/BF16 by default).
pub const MODEL_DTYPE_BYTES: u64 = 2;

/// One rope's table in bytes.
pub fn rope_bytes(rule: &PositionRule, rope: &Rope, mla: bool) -> u64 {
    let dim = rope.dim;
    let scaled = |rows: u64, factor: f64| -> u64 {
        // torch.arange(rows * factor): ⌈rows × factor⌉ positions.
        let n = (rows as f64 * factor).ceil();
        if n.is_finite() && n >= 0.0 && n < u64::MAX as f64 {
            n as u64
        } else {
            u64::MAX
        }
    };
    let (rows, copies) = match &rope.scaling {
        RopeScaling::None | RopeScaling::Unknown { .. } => (rope.max_position, 1),
        RopeScaling::Stretched { factor } => (scaled(rope.max_position, *factor), 1),
        RopeScaling::Yarn {
            factor,
            original_max_position,
        } => (
            scaled(*original_max_position, *factor),
            if mla { rule.mla_yarn_copies } else { 1 },
        ),
        // short + long, then both concatenated again: 2 × (short + long) rows.
        RopeScaling::LongRope {
            original_max_position,
        } => (
            original_max_position
                .saturating_add(rope.max_position)
                .saturating_mul(2),
            1,
        ),
        RopeScaling::MRope if rope.mrope_pruning_only && rule.mrope_factor_by_model => {
            (rope.max_position, 1)
        }
        RopeScaling::MRope => (rope.max_position.saturating_mul(rule.mrope_rows), 1),
    };
    let bytes = if rope.fp32 { 4 } else { rule.rope_bytes };
    rows.saturating_mul(dim)
        .saturating_mul(bytes)
        .saturating_mul(copies)
}

/// Every table of the model on one device (each stage builds its layers' ropes; kvsim counts
/// them on every stage).
pub fn bytes(rule: &PositionRule, tables: &PositionTables, mla: bool) -> u64 {
    let ropes = tables
        .ropes
        .iter()
        .map(|r| rope_bytes(rule, r, mla))
        .fold(0u64, u64::saturating_add);
    let sincos = tables
        .sincos
        .iter()
        .map(|t| t.elements.saturating_mul(rule.sincos_bytes))
        .fold(0u64, u64::saturating_add);
    ropes.saturating_add(sincos)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::position::SinCosTable;

    const VLLM: PositionRule = PositionRule {
        rope_bytes: 2,
        mrope_rows: 4,
        mrope_factor_by_model: true,
        mla_yarn_copies: 1,
        sincos_bytes: 2,
        source: "test",
    };

    fn rope(dim: u64, max_position: u64, scaling: RopeScaling) -> Rope {
        Rope::plain(dim, max_position, scaling)
    }

    #[test]
    fn llama31_8b_table() {
        // Llama-3.1-8B: max_position_embeddings 131072, head_dim 128, llama3 scaling (frequencies
        // only): 131072 × 128 × 2 B = 33,554,432 B, the 0.031 GiB by which vLLM's "Model loading
        // took 14.99 GiB" exceeds the parameters (tests/data/logs/vllm-0.8-v1-l40s-llama31-8b.log).
        assert_eq!(
            rope_bytes(&VLLM, &rope(128, 131072, RopeScaling::None), false),
            33_554_432
        );
    }

    #[test]
    fn deepseek_v3_yarn_table() {
        // DeepSeek-V3 config.json: qk_rope_head_dim 64, rope_scaling yarn factor 40,
        // original_max_position_embeddings 4096: 4096 × 40 = 163,840 positions × 64 × 2 B
        // = 20,971,520 B; vLLM-Ascend keeps it three times (62,914,560 B).
        let y = rope(
            64,
            163840,
            RopeScaling::Yarn {
                factor: 40.0,
                original_max_position: 4096,
            },
        );
        assert_eq!(rope_bytes(&VLLM, &y, true), 20_971_520);
        let ascend = PositionRule {
            mla_yarn_copies: 3,
            ..VLLM
        };
        assert_eq!(rope_bytes(&ascend, &y, true), 62_914_560);
        // Outside MLA a yarn rope is one table (gpt-oss: 4096 × 32 × 64 × 4 B, FP32 by its file).
        let g = Rope {
            fp32: true,
            ..rope(
                64,
                131072,
                RopeScaling::Yarn {
                    factor: 32.0,
                    original_max_position: 4096,
                },
            )
        };
        assert_eq!(rope_bytes(&ascend, &g, false), 33_554_432);
    }

    #[test]
    fn stretched_longrope_and_mrope_tables() {
        // Gemma-3 27B's global rope: linear factor 8 over 131072 positions, head 128:
        // 1,048,576 × 128 × 2 B = 268,435,456 B.
        let lin = rope(128, 131072, RopeScaling::Stretched { factor: 8.0 });
        assert_eq!(rope_bytes(&VLLM, &lin, false), 268_435_456);
        // Phi-3-mini-128k: 4096 short + 131072 long, both again: 2 × 135168 × 96 × 2 B.
        let long = rope(
            96,
            131072,
            RopeScaling::LongRope {
                original_max_position: 4096,
            },
        );
        assert_eq!(rope_bytes(&VLLM, &long, false), 2 * 135_168 * 96 * 2);
        // Qwen2.5-VL-7B: 128000 positions × 4 (vLLM ≥ 0.7.2) × 128 × 2 B.
        let m = rope(128, 128000, RopeScaling::MRope);
        assert_eq!(rope_bytes(&VLLM, &m, false), 128_000 * 4 * 128 * 2);
        // Qwen3-VL-30B-A3B: 262144 positions × 128 × 2 B, × 4 only before the release that sizes
        // it by the model's factor (1 without video pruning).
        let q = Rope {
            mrope_pruning_only: true,
            ..rope(128, 262144, RopeScaling::MRope)
        };
        assert_eq!(rope_bytes(&VLLM, &q, false), 262_144 * 128 * 2);
        let older = PositionRule {
            mrope_factor_by_model: false,
            ..VLLM
        };
        assert_eq!(rope_bytes(&older, &q, false), 262_144 * 4 * 128 * 2);
        let sglang = PositionRule {
            rope_bytes: 4,
            mrope_rows: 1,
            ..VLLM
        };
        assert_eq!(rope_bytes(&sglang, &m, false), 128_000 * 128 * 4);
    }

    #[test]
    fn minicpm_v45_resampler_tables() {
        // Resampler4_5 over hidden 4096: (70 × 70 + 36000) × 4096 × 2 B = 335,052,800 B
        // (0.312 GiB).
        let t = PositionTables {
            ropes: Vec::new(),
            sincos: vec![SinCosTable {
                owner: "r".into(),
                elements: (4900 + 36000) * 4096,
            }],
        };
        assert_eq!(bytes(&VLLM, &t, false), 335_052_800);
        let none = PositionRule {
            sincos_bytes: 0,
            ..VLLM
        };
        assert_eq!(bytes(&none, &t, false), 0);
    }

    proptest::proptest! {
        // More positions, a wider rope or a larger factor never shrink the table, and the table
        // is positions × width × bytes exactly when unscaled.
        #[test]
        fn tables_grow_with_their_shape(dim in 1u64..1024, pos in 1u64..(1 << 24), f in 1.0f64..64.0) {
            let r = rope(dim, pos, RopeScaling::None);
            proptest::prop_assert_eq!(rope_bytes(&VLLM, &r, false), pos * dim * 2);
            let s = rope(dim, pos, RopeScaling::Stretched { factor: f });
            proptest::prop_assert!(rope_bytes(&VLLM, &s, false) >= rope_bytes(&VLLM, &r, false));
            let wider = rope(dim + 1, pos, RopeScaling::Stretched { factor: f });
            proptest::prop_assert!(rope_bytes(&VLLM, &wider, false) >= rope_bytes(&VLLM, &s, false));
        }
    }
}
