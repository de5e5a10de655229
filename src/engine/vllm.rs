//! vLLM by release: the legacy V0 engine (below 0.8) and the V1 engine, whose defaults and
//! accounting changed between releases — each change is a [`Profile`] in [`PROFILES`], chosen by
//! `--engine-version` (default: the latest release kvsim models). The V1 hybrid KV-cache
//! allocator handles models whose layers keep different things. The version code is
//! `minor · 100 + patch` of 0.minor.patch (0.20.1 → 2001).

use super::pool::{self, Accounting, Capacity, PlanKind, PoolParams};
use super::{overhead, settle, Batching, ServingEngine, Setup, StageMemory};
use crate::error::{Error, Result};
use crate::kv::{KvSpec, LayerKv};
use crate::model::{ExpertPad, MlaLayout};
use crate::precision::WeightFormat;
use std::sync::Arc;

/// What a vLLM-Ascend NPU shows in use at start-up, before the model loads: 61.27 − 60.86 GiB
/// (github.com/vllm-project/vllm-ascend/pull/8289, worker log of April 2026).
pub const ASCEND_STARTUP_BYTES: u64 = 41 * (1 << 30) / 100;

/// The first vLLM(-Ascend) release whose 310P worker halves the KV budget
/// ([`Vllm::chip_budget`]).
const ASCEND_310P_WORKER: u32 = release(18, 0);

/// The version code of 0.`minor`.`patch`.
/// The first vLLM(-Ascend) release whose NPU runner asks each attention layer for its KV spec
/// ([`ServingEngine::caches_windows_in_full`]).
const ASCEND_OWN_LAYER_SPECS: u32 = release(14, 0);

pub const fn release(minor: u32, patch: u32) -> u32 {
    minor * 100 + patch
}

/// The first release whose Qwen3-VL passes its own MRoPE positions factor (1 without video
/// pruning) to `get_rope` (`qwen3_vl.py` `mrope_positions_factor`): present at v0.32.0 and
/// v0.33.0, absent at v0.11.0, v0.20.0, v0.23.0, v0.26.0, v0.28.0, v0.30.0 and v0.31.0
/// (`MRotaryEmbedding` × 4 for every model there).
const QWEN3_VL_MROPE_FACTOR: u32 = release(32, 0);

/// The newest release kvsim models, used when no version is given.
pub const LATEST: u32 = release(33, 0);

/// vLLM.
pub struct Vllm;

/// What changed at a release; a release follows the last profile at or below it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub since: u32,
    /// The legacy V0 engine (no hybrid allocator).
    pub v0: bool,
    /// `gpu_memory_utilization` default.
    pub utilization: f64,
    /// The budget subtracts the estimated CUDA-graph memory (else graphs live in the headroom).
    pub subtracts_cuda_graphs: bool,
    /// Hybrid allocator: the group size is the largest layer count when `max < min · factor`.
    pub hybrid_factor: Option<f64>,
    /// "GPU KV cache size" is `int(max concurrency · max_model_len)` (else blocks per group × block).
    pub tokens_from_concurrency: bool,
    /// A window layer keeps `window − 1 + batches · max_num_batched_tokens` tokens in flight:
    /// 2 batches with async scheduling (or the PP size), else 1.
    pub async_batches: bool,
    /// V0: the batch chunked prefill takes when it turns itself on (`max_model_len` above 32K);
    /// None: it never turns itself on.
    pub v0_chunk: Option<u64>,
    /// How DeepSeek-V2/V3's MLA layers are cached.
    pub mla: MlaLayout,
    /// V0 leaves chunked prefill off for MLA models before sizing the batch, which is then
    /// `max(max_model_len, 2048)`.
    pub mla_whole_batch: bool,
    /// The MLA backend materialises the absorbed matrices `W_Q_UK` and `W_UV_O` after loading
    /// ([`mla_absorbed_bytes`]).
    pub mla_absorbed: bool,
}

/// The releases whose accounting differs (docs/facts.md §3, §4). Sources, vllm-project/vllm:
/// V0 `vllm/worker/worker.py::Worker.determine_num_available_blocks` @ v0.7.3; V1
/// `vllm/v1/worker/gpu_worker.py::Worker.determine_available_memory` @ v0.11.0 … v0.33.0
/// (CUDA graphs subtracted by default from v0.20.0, `vllm/envs.py`);
/// `vllm/config/cache.py::CacheConfig.gpu_memory_utilization` (0.92 from v0.20.0);
/// `vllm/v1/core/kv_cache_utils.py::_get_kv_cache_groups_uniform_page_size` (factor absent at
/// v0.11.0, 1.25 at v0.12.0–v0.17.0, 1.5 from v0.18.0); `_report_kv_cache_config` (tokens from
/// concurrency from v0.20.1); `vllm/config/vllm.py::VllmConfig.max_in_flight_tokens` (v0.26.0).
///
/// V0 by release (vllm-project/vllm at each tag; wheels from PyPI):
/// - chunked prefill turns itself on above 32K tokens from v0.5.3 (`EngineArgs.create_engine_config`,
///   `vllm/engine/arg_utils.py`: absent @ v0.5.1, v0.5.2; present @ v0.5.3), batching 512 tokens
///   (`SchedulerConfig.__init__`, `vllm/config.py` @ v0.5.3 … v0.6.4), 2048 from v0.6.5
///   (`SchedulerConfig.__post_init__` @ v0.6.5 … v0.7.3; PR 10544);
/// - DeepSeek-V2/V3 attention is cached per head: `Attention(self.num_local_heads, 256, …,
///   num_kv_heads=self.num_local_heads)` with q, k, v padded to 256
///   (`vllm/model_executor/models/deepseek_v2.py::DeepseekV2Attention.__init__` @ v0.5.1 …
///   v0.6.6.post1; `deepseek_v3.py::DeepseekV3Attention` the same @ v0.6.6), then at
///   `qk_head_dim` (nope + RoPE, v padded to it) @ v0.7.0; v0.5.0 had no DeepSeek-V2;
/// - the latent from v0.7.1 (`DeepseekV2MLAAttention`, chosen when `ModelConfig.use_mla`, PR
///   12601; `VLLM_MLA_DISABLE=1` restores the per-head cache, not modelled), except that v0.7.1 and
///   v0.7.2 disable MLA for quantisations other than FP8 (`ModelConfig.use_mla` @ v0.7.1, v0.7.2;
///   none from v0.7.3). v0.7.1 … v0.7.3 force chunked prefill off for MLA in
///   `VllmConfig.__post_init__` (PR 12642) after `SchedulerConfig` sized the batch, so the batch is
///   what it would have been (2048 above 32K);
/// - development builds after v0.7.3 (checked as "0.7.4"; PR 12639 made chunked prefill work
///   with MLA): V0 leaves it off for MLA models before the batch is sized
///   (`EngineArgs._set_default_args_v0`, `vllm/engine/arg_utils.py` @ v0.8.0: "Chunked prefill not
///   supported for Multimodal or MLA in V0"), so the batch is `max(max_model_len, 2048)`.
pub const PROFILES: &[Profile] = &[
    V0,
    Profile {
        since: release(5, 3),
        v0_chunk: Some(512),
        ..V0
    },
    Profile {
        since: release(6, 5),
        v0_chunk: Some(2048),
        ..V0
    },
    Profile {
        since: release(7, 0),
        v0_chunk: Some(2048),
        mla: MlaLayout::PerHead { pad_to: None },
        ..V0
    },
    Profile {
        since: release(7, 1),
        v0_chunk: Some(2048),
        mla: MlaLayout::Latent,
        mla_absorbed: true,
        ..V0
    },
    Profile {
        since: release(7, 4),
        v0_chunk: Some(2048),
        mla: MlaLayout::Latent,
        mla_whole_batch: true,
        ..V0
    },
    V1,
    Profile {
        since: release(12, 0),
        v0: false,
        utilization: 0.9,
        subtracts_cuda_graphs: false,
        hybrid_factor: Some(1.25),
        tokens_from_concurrency: false,
        async_batches: false,
        ..V1
    },
    Profile {
        since: release(18, 0),
        v0: false,
        utilization: 0.9,
        subtracts_cuda_graphs: false,
        hybrid_factor: Some(1.5),
        tokens_from_concurrency: false,
        async_batches: false,
        ..V1
    },
    Profile {
        since: release(20, 0),
        v0: false,
        utilization: 0.92,
        subtracts_cuda_graphs: true,
        hybrid_factor: Some(1.5),
        tokens_from_concurrency: false,
        async_batches: false,
        ..V1
    },
    Profile {
        since: release(20, 1),
        v0: false,
        utilization: 0.92,
        subtracts_cuda_graphs: true,
        hybrid_factor: Some(1.5),
        tokens_from_concurrency: true,
        async_batches: false,
        ..V1
    },
    Profile {
        since: release(26, 0),
        v0: false,
        utilization: 0.92,
        subtracts_cuda_graphs: true,
        hybrid_factor: Some(1.5),
        tokens_from_concurrency: true,
        async_batches: true,
        ..V1
    },
];

/// The first V0 release with DeepSeek-V2 (0.5.1; 0.5.0 had none).
const V0: Profile = Profile {
    since: 0,
    v0: true,
    utilization: 0.9,
    subtracts_cuda_graphs: false,
    hybrid_factor: None,
    tokens_from_concurrency: false,
    async_batches: false,
    v0_chunk: None,
    mla: MlaLayout::PerHead { pad_to: Some(256) },
    mla_whole_batch: false,
    mla_absorbed: false,
};

/// What V1 profiles share of the V0-era fields: the MLA latent, no V0 batching rules.
const V1: Profile = Profile {
    since: release(8, 0),
    v0: false,
    utilization: 0.9,
    subtracts_cuda_graphs: false,
    hybrid_factor: None,
    tokens_from_concurrency: false,
    async_batches: false,
    v0_chunk: None,
    mla: MlaLayout::Latent,
    mla_whole_batch: false,
    mla_absorbed: false,
};

/// What vLLM 0.7.1 … 0.7.3's MLA backends add to one rank per MLA layer after loading, with
/// `VLLM_MLA_PERFORM_MATRIX_ABSORPTION` at its default 1 (`MLACommonImpl.process_weights_after_loading`,
/// `vllm/attention/backends/mla/utils.py` @ v0.7.3; `vllm/envs.py`): with `N` local heads, latent
/// `L`, nope `P`, v `V`, RoPE `R`, query input `Lq` (`q_lora_rank`, else hidden) and hidden `H`,
/// - `W_Q_UK` (`Lq × N·L`) and `W_UV_O` (`N·L × H`): requantised to FP8 with the checkpoint's
///   group shapes for FP8 weights (plus fp32 scales per 128 × 128 block), else in the activation
///   dtype (2 B);
/// - `W_UK`, `W_UV`: views of `kv_b_proj`'s weight, dequantised to BF16 first when quantised
///   (`L × N·(P+V)` × 2 B), free otherwise;
/// - `W_QR` (`Lq × N·R`), copied in the activation dtype.
///
/// The checkpoint's own q/kv_b/o projections stay (the prefill path uses them). PR 14770 (March
/// 2025, before v0.8.0) stopped materialising them. DeepSeek-R1 at TP8 (FP8 blocks; Lq 1536, N 16,
/// L 512, H 7168): 12,582,912 + 3,072 + 58,720,256 + 14,336 + 4,194,304 + 3,145,728 = 78,660,608 B
/// per layer, 4.47 GiB over 61 layers.
pub fn mla_absorbed_bytes(mla: &crate::model::Mla, hidden: u64, tp: u64, w: WeightFormat) -> u64 {
    let n = (mla.heads / tp.max(1)).max(1);
    let (l, lq) = (mla.kv_lora_rank, mla.q_lora_rank.unwrap_or(hidden));
    let blocks = |r: u64, c: u64| 4 * r.div_ceil(128) * c.div_ceil(128);
    let absorbed = |r: u64, c: u64| match w {
        WeightFormat::Fp8Block128 => r * c + blocks(r, c),
        WeightFormat::Fp8 => r * c + 4,
        _ => 2 * r * c,
    };
    let kv_b = if kv_b_quantised(w) {
        kv_b_bf16_bytes(mla, n)
    } else {
        0
    };
    absorbed(lq, n * l) + absorbed(n * l, hidden) + kv_b + 2 * lq * n * mla.qk_rope_head_dim
}

/// What vLLM keeps per MLA layer on one rank after PR 14770 (merged 2025-03-13, before v0.8.0:
/// kvsim's "0.7.4" development builds on) stopped materialising the absorbed matrices: `W_UV` and
/// `W_UK_T` for the decode's BF16 bmm, split from `kv_b_proj`'s weight (`L × N·(P+V)`),
/// - on CUDA and ROCm, views of it (`MLACommonImpl.process_weights_after_loading`,
///   `vllm/attention/backends/mla/common.py` @ v0.8.0 and `vllm/v1/attention/backends/mla/
///   common.py` @ v0.9.2; `MLAAttention.process_weights_after_loading` and `split_kv_b_proj`,
///   `vllm/model_executor/layers/attention/mla_attention.py` @ v0.20.2, v0.33.0): nothing new for
///   a BF16/FP16 `kv_b_proj`, a whole dequantised copy in the activation dtype for a quantised one
///   (`get_and_maybe_dequant_weights`). The ROCm AITER FP8/FP4 bmm paths (off by default) are not
///   modelled;
/// - on Ascend, `.contiguous()` copies of both halves whatever the format (`AscendMLAImpl.
///   process_weights_after_loading`, `vllm_ascend/attention/mla_v1.py` @ v0.9.0rc2, v0.10.2rc1,
///   v0.11.0, v0.13.0, v0.18.0, v0.25.1rc1; the MLAPO and FA-quant paths are not modelled).
///
/// DeepSeek-V3 at TP8 with FP8 blocks: 512 × 16 × (128 + 128) × 2 B = 4,194,304 B per layer.
pub fn mla_kv_b_copy_bytes(
    mla: &crate::model::Mla,
    tp: u64,
    w: WeightFormat,
    setup: &Setup,
) -> u64 {
    let n = (mla.heads / tp.max(1)).max(1);
    if setup.npu || ((setup.cuda || setup.rocm) && kv_b_quantised(w)) {
        kv_b_bf16_bytes(mla, n)
    } else {
        0
    }
}

/// `kv_b_proj`'s weight for `n` local heads in BF16 (`L × N·(P+V)` × 2 B): what dequantising it
/// or copying its halves allocates.
fn kv_b_bf16_bytes(mla: &crate::model::Mla, n: u64) -> u64 {
    2 * mla.kv_lora_rank * n * (mla.qk_nope_head_dim + mla.v_head_dim)
}

/// Whether `kv_b_proj` stored in `w` must be dequantised for the decode's BF16 matrices.
fn kv_b_quantised(w: WeightFormat) -> bool {
    !matches!(
        w,
        WeightFormat::Bf16 | WeightFormat::Fp16 | WeightFormat::Fp32
    )
}

/// The NCCL NVLS layout of a vLLM release's NCCL, through its torch pin (`Requires-Dist:
/// torch==` of each vLLM wheel on PyPI: 0.5.1 2.3.0; 0.5.4–0.6.3 2.4.0; 0.6.4–0.7.3 2.5.1; 0.8.x
/// 2.6.0; 0.9 2.7.0; 0.10 2.7.1; 0.11 2.8.0) and torch's `nvidia-nccl-cu12` pin
/// ([`overhead::NcclNvls`]).
pub fn nccl_nvls(version: u32) -> overhead::NcclNvls {
    if version < release(6, 4) {
        overhead::NcclNvls::V2_20
    } else if version < release(9, 0) {
        overhead::NcclNvls::V2_21
    } else {
        overhead::NcclNvls::V2_22
    }
}

/// FlashInfer's all-reduce + RMSNorm fusion workspace on one rank, which vLLM creates while
/// compiling the model, after its init snapshot ([`overhead::flashinfer_ar_workspace_bytes`]).
/// The fusion is on by default (optimisation level O2) from v0.17.0 — off at v0.16.0 and before —
/// at TP > 1 on CUDA capability 9.0 or 10.x with FlashInfer installed (a dependency of vLLM's
/// wheel), without data or pipeline parallelism (`vllm/config/vllm.py::
/// enable_allreduce_rms_fusion`, `OPTIMIZATION_LEVEL_02` @ v0.16.0, v0.17.0, v0.18.0, v0.19.1,
/// v0.20.0, v0.33.0), for the TP sizes its table holds (`FI_ALLREDUCE_FUSION_MAX_SIZE_MB`,
/// `compilation/passes/fusion/allreduce_rms_fusion.py`: 9.0 → 64, 2, 0.5 MB at TP 2, 4, 8; 10.0 →
/// 64, 32, 1; 10.3 from v0.20 → 64, 64, 2, then 4 at TP8 by v0.33). vLLM pins FlashInfer 0.6.4
/// (v0.17) … 0.6.14 (v0.26), whose workspace needs multicast (NVSwitch: the chip's `nvls`) and
/// rounds each buffer up to the multicast granularity ([`overhead::FI_MULTICAST_GRANULARITY`]), and
/// 0.6.16.post3 (v0.27) on, which rounds to 2 MiB (wheel metadata of v0.17.0 … v0.33.0; v0.22, v0.24
/// and v0.28 … v0.32 were not read and follow their neighbours).
fn flashinfer_ar_workspace(version: u32, setup: &Setup) -> u64 {
    const MIB: u64 = 1 << 20;
    let Some(links) = setup.nccl else {
        return 0;
    };
    if version < release(17, 0) || !setup.cuda || !links.peer_access || setup.pp > 1 || setup.dp > 1
    {
        return 0;
    }
    let max_size = match (setup.cuda_capability, setup.tp) {
        (Some((9, 0)), 2) | (Some((10, 0)), 2) => 64 * MIB,
        (Some((9, 0)), 4) => 2 * MIB,
        (Some((9, 0)), 8) => MIB / 2,
        (Some((10, 0)), 4) => 32 * MIB,
        (Some((10, 0)), 8) => MIB,
        (Some((10, 3)), 2 | 4) if version >= release(20, 0) => 64 * MIB,
        (Some((10, 3)), 8) if version >= release(33, 0) => 4 * MIB,
        (Some((10, 3)), 8) if version >= release(20, 0) => 2 * MIB,
        _ => return 0,
    };
    if version < release(27, 0) {
        if !links.nvls {
            return 0;
        }
        overhead::flashinfer_ar_workspace_bytes(
            setup.tp,
            max_size,
            overhead::FI_MULTICAST_GRANULARITY,
        )
    } else {
        overhead::flashinfer_ar_workspace_bytes(setup.tp, max_size, 2 * MIB)
    }
}

/// How vLLM's MXFP4 MoE kernels pad the experts they allocate (`Mxfp4MoEMethod.create_weights`
/// and `get_mxfp4_backend`, `vllm/model_executor/layers/quantization/mxfp4.py` @ v0.10.1,
/// v0.11.0, v0.12.0): the per-rank intermediate size and the hidden size are rounded up by
/// - Marlin (CUDA below compute capability 9.0; Hopper before v0.12.0, whose wheels lack the
///   optional `triton_kernels` package — vendored from v0.12.0, `setup.py`): 128 and 256;
/// - FlashInfer (compute capability 10.0, the default where FlashInfer is installed): 256 and 256;
/// - Triton `matmul_ogs` (compute capability 9.0 to 10.x from v0.12.0): 64 and none;
/// - ROCm: 128 and none.
///
/// Scales (one byte per 32 elements) and biases follow the padded shapes. Checked against
/// gpt-oss-120b on one H100 with vLLM of August 2025 (Marlin): 65.97 GiB loaded
/// (github.com/vllm-project/vllm/issues/23278), and gpt-oss-20b on an A100 with 0.19.0: 13.72 GiB.
pub fn mxfp4_padding(version: u32, setup: &Setup) -> (ExpertPad, &'static str) {
    let pad = |intermediate, hidden| ExpertPad {
        intermediate,
        hidden,
    };
    match setup.cuda_capability {
        _ if setup.rocm => (pad(128, 1), "vLLM's ROCm MXFP4 MoE kernel"),
        Some((10, 0)) => (
            pad(256, 256),
            "vLLM's FlashInfer MXFP4 MoE kernel (assumes FlashInfer is installed, as in vLLM's images)",
        ),
        Some((9 | 10, _)) if version >= release(12, 0) => {
            (pad(64, 1), "vLLM's Triton MXFP4 MoE kernel")
        }
        Some(_) => (pad(128, 256), "vLLM's Marlin MXFP4 MoE kernel"),
        None => (ExpertPad::NONE, "no MXFP4 kernel padding known for this chip"),
    }
}

/// `VLLM_GRAPH_RESERVED_MEM`'s default: the share of the usable memory the HPU worker holds back
/// for HPU graphs (`vllm/worker/hpu_worker.py::HPUWorker.determine_num_available_blocks`,
/// vllm-project/vllm at commit 018ce62f; 0 with `enforce_eager`). The fork's first HPU worker
/// defaulted to 0.4; the logs state the value in force.
pub const HPU_GRAPH_RESERVED_MEM: f64 = 0.1;

/// The memory the HPU worker finds free after the weights and the profiling run, times the
/// utilization: what the cache and the HPU graphs share.
pub fn hpu_usable(m: &StageMemory, total: u64, fraction: f64) -> u64 {
    (total.saturating_sub(m.profiled()) as f64 * fraction).floor() as u64
}

/// The HPU worker's KV budget: the usable memory less the HPU-graph reserve `m.cuda_graph`.
fn hpu_budget(m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
    let usable = hpu_usable(m, total, fraction);
    let short = m.profiled().saturating_sub(total);
    (usable.saturating_sub(m.cuda_graph), short)
}

/// V1's "large GPU" defaults: up to v0.8.4 a GPU whose name holds "h100" or "h200"
/// (`EngineArgs._set_default_args_v1`, `vllm/engine/arg_utils.py` @ v0.8.4; 0.8.0–0.8.3 not read,
/// taken to match), from v0.8.5 at least 70 GiB (`get_device_total_memory() >= 70 * GiB_bytes`
/// @ v0.8.5), and from v0.9 not an A100 (`get_batch_defaults` @ v0.9.2: `"a100" not in
/// device_name`).
fn large_gpu(version: u32, b: &Batching<'_>) -> bool {
    let name = name_traits(&b.chip_name);
    if version < release(8, 5) {
        return name.h100_or_h200;
    }
    b.total_memory >= 70 << 30 && (version < release(9, 0) || !name.a100)
}

/// What vLLM's batch defaults read from the GPU's name (each a case-insensitive substring test,
/// as `device_name.lower()` and `in` in the functions cited at [`large_gpu`] and
/// `default_batched_tokens`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct NameTraits {
    /// "tpu", and then the tokens of the first of v6e / v5e / v5p the name holds.
    tpu: bool,
    tpu_tokens: Option<u64>,
    h100_or_h200: bool,
    a100: bool,
}

impl NameTraits {
    fn of(name: &str) -> NameTraits {
        let has = |needle| contains_ascii_lowercase(name, needle);
        let tpu = has("tpu");
        NameTraits {
            tpu,
            tpu_tokens: if tpu {
                [("v6e", 1024), ("v5e", 512), ("v5p", 256)]
                    .into_iter()
                    .find(|(g, _)| has(g))
                    .map(|(_, t)| t)
            } else {
                None
            },
            h100_or_h200: has("h100") || has("h200"),
            a100: has("a100"),
        }
    }
}

/// [`NameTraits::of`], remembered per thread for the last name: every evaluation asks twice (the
/// batched tokens and the sequences), and a sweep asks again for the same chip point after point;
/// comparing the name costs a tenth of searching it five times.
fn name_traits(name: &str) -> NameTraits {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(String, NameTraits)>> =
            const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some((n, t)) if n == name => *t,
            _ => {
                let t = NameTraits::of(name);
                *last = Some((name.to_string(), t));
                t
            }
        }
    })
}

/// Whether `hay`, lowercased, contains `needle` (lowercase ASCII) — `to_ascii_lowercase`
/// then `contains`, without the copy (every evaluation asks for the batch defaults).
fn contains_ascii_lowercase(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    let Some(&first) = n.first() else {
        return true;
    };
    // Compared in full only where the first byte matches (chip names are short: a plain loop).
    h.windows(n.len())
        .any(|w| w[0].to_ascii_lowercase() == first && w.eq_ignore_ascii_case(n))
}

/// The profile in force at release `version`.
#[inline]
pub fn profile(version: u32) -> &'static Profile {
    // Newest first: the default (latest) release is found at once.
    let mut i = PROFILES.len() - 1;
    while i > 0 && PROFILES[i].since > version {
        i -= 1;
    }
    &PROFILES[i]
}

impl ServingEngine for Vllm {
    fn name(&self) -> &'static str {
        "vllm"
    }

    fn parse_version(&self, version: Option<&str>) -> Result<u32> {
        let bad = |v: &str| {
            Error::field(
                "command line",
                "--engine-version",
                v,
                format!(
                    "a vLLM release 0.MINOR[.PATCH] up to {} (the newest kvsim models), v0, or latest",
                    self.label(LATEST).trim_start_matches("vllm ")
                ),
            )
        };
        let v = match version.map(str::trim) {
            None | Some("latest" | "v1" | "V1") => return Ok(LATEST),
            // The legacy engine at its last release (V1 became the default in 0.8.0).
            Some("v0" | "V0" | "legacy") => return Ok(release(7, 3)),
            Some(v) => v,
        };
        let mut parts = v.trim_start_matches('v').split('.');
        let num = |p: Option<&str>| p.map(|x| x.parse::<u32>().map_err(|_| bad(v))).transpose();
        let (major, minor, patch) = (num(parts.next())?, num(parts.next())?, num(parts.next())?);
        match (major, minor, parts.next()) {
            (Some(0), Some(m), None) if release(m, 0) <= LATEST && patch.unwrap_or(0) < 100 => {
                Ok(release(m, patch.unwrap_or(0)))
            }
            _ => Err(bad(v)),
        }
    }

    /// "vllm 0.{minor}", ".{patch}" when it is not 0 or the release runs V0, then " (V0)";
    /// "vllm v0" for the generic V0. Written piece by piece: every weights note names it.
    fn write_label(&self, version: u32, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
        let (m, p) = (version / 100, version % 100);
        if m == 0 {
            return out.write_str("vllm v0");
        }
        let v0 = profile(version).v0;
        let mut digits = itoa::Buffer::new();
        out.write_str("vllm 0.")?;
        out.write_str(digits.format(m))?;
        if v0 || p != 0 {
            out.write_str(".")?;
            out.write_str(digits.format(p))?;
        }
        if v0 {
            out.write_str(" (V0)")?;
        }
        Ok(())
    }

    fn default_fraction(&self, version: u32, _setup: &super::Setup) -> f64 {
        profile(version).utilization
    }

    /// 16 tokens on CUDA; the chip may say otherwise (Ascend: 128).
    fn default_block_size(&self, _minor: u32, chip_default: u64) -> u64 {
        chip_default
    }

    /// V0 and V1 alike: `util · total − (weights + activation peak + non-torch)`, V0 counting the
    /// weights inside its peak torch memory; from 0.20 also minus the CUDA-graph estimate.
    fn budget(&self, version: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        // Python's int(total * fraction): `as u64` truncates (the floor of a non-negative value)
        // and saturates, without the software `floor` call (no SSE4.1 in the baseline target).
        let usable = (total as f64 * fraction) as u64;
        if profile(version).subtracts_cuda_graphs {
            settle(usable, m.profiled().saturating_add(m.cuda_graph))
        } else {
            settle(usable, m.profiled())
        }
    }

    /// On a Gaudi, the HPU worker: `free × gpu_memory_utilization × (1 − VLLM_GRAPH_RESERVED_MEM)`,
    /// `free` being the device memory left after the weights and the profiling run
    /// (`vllm/worker/hpu_worker.py::HPUWorker.determine_num_available_blocks`, vllm-project/vllm
    /// at commit 018ce62f of early 2025; the HPU fork's `habana_worker.py` of September 2024 logs
    /// the same "Free device memory … reserved for HPUGraphs" line). The graph reserve is
    /// `m.cuda_graph`, i.e. `free × utilization × VLLM_GRAPH_RESERVED_MEM` when estimated.
    ///
    /// On an Ascend 310P, vLLM-Ascend's 310P worker from v0.18.0rc1 (`vllm_ascend/_310p/
    /// worker_310p.py::NPUWorker310.determine_available_memory` @ v0.18.0rc1, v0.18.0, v0.23.0,
    /// v0.25.1rc1): `(requested − non_kv − non-torch cleared) // 2` — half of what the general
    /// rule leaves, "to reserve more memory for other operators' workspace" — where the cleared
    /// term is the non-torch memory in use after the profile run less its increase since
    /// start-up, i.e. the runtime's start-up footprint, which the baseline-subtracted `non_kv`
    /// left out: kvsim's estimate of it, 0.41 GiB ([`ASCEND_STARTUP_BYTES`]). Up to v0.17 the
    /// 310P worker inherits the NPU worker's rule ([`Vllm::budget`]). RC parts (host memory
    /// shared) use `(requested − used system memory) // 2` instead, not modelled.
    fn chip_budget(
        &self,
        version: u32,
        chip: super::ChipBudget,
        m: &StageMemory,
        total: u64,
        fraction: f64,
    ) -> Option<(u64, u64)> {
        match chip {
            super::ChipBudget::Hpu => Some(hpu_budget(m, total, fraction)),
            super::ChipBudget::Ascend310P if version >= ASCEND_310P_WORKER => {
                let usable = (total as f64 * fraction) as u64;
                let (budget, shortfall) =
                    settle(usable, m.profiled().saturating_add(ASCEND_STARTUP_BYTES));
                Some((budget / 2, shortfall))
            }
            _ => None,
        }
    }

    fn chip_budget_note(&self, version: u32, chip: super::ChipBudget) -> Option<&'static str> {
        (chip == super::ChipBudget::Ascend310P && version >= ASCEND_310P_WORKER).then_some(
            "vLLM-Ascend's 310P worker (from 0.18) keeps half of what the general rule leaves for the KV cache: (requested − non-KV memory − the runtime's start-up footprint) / 2, the footprint being kvsim's estimate, 0.41 GiB",
        )
    }

    /// The Triton fused-MoE kernel, which vLLM runs for BF16/FP16 and FP8 experts on CUDA and ROCm
    /// (`vllm/model_executor/layers/fused_moe/fused_moe.py`); its buffers by release
    /// ([`overhead::MoeWorkspace`]): read at v0.5.1, v0.5.5, v0.6.0 and v0.7.3 (V0 releases
    /// follow them), v0.10.1, v0.10.2, v0.11.0, v0.12.0 and v0.13.0 (V1 up to 0.13: `fused_experts`,
    /// caches 1 and 3 shared, freed on return; the release that merged caches 1 and 3 was not
    /// pinned), v0.14.0 to v0.19.1 and v0.20.2 (the modular kernel over `TritonExperts`, its
    /// workspace persistent, [`overhead::FusedMoe::persistent`]). `VLLM_FUSED_MOE_CHUNK_SIZE`
    /// defaults to 65,536 tokens up to v0.5.5, 32,768 from v0.6.0 to v0.11.0 and 16,384 from
    /// v0.12.0 to v0.17.0; v0.18.0 removed the chunking (`vllm/envs.py` of each release).
    /// Quantised experts (INT4, MXFP4, NVFP4) run other kernels (Marlin, FlashInfer, CUTLASS),
    /// whose workspaces are not modelled. Under V0 the rows beside the workspace are counted as
    /// the eager forward holds them ([`overhead::EagerMoeRows`], read at v0.5.1 and v0.7.3), and
    /// FP8 experts add the FP8 copy of their input ([`overhead::QuantisedInput`], v0.7.3); V1's
    /// compiled forward keeps kvsim's older count (its buffers were not traced).
    fn fused_moe(
        &self,
        version: u32,
        setup: &Setup,
        format: WeightFormat,
    ) -> Option<overhead::FusedMoe> {
        use overhead::{FusedMoe, MoeWorkspace, QuantisedInput};
        let triton = matches!(
            format,
            WeightFormat::Bf16 | WeightFormat::Fp16 | WeightFormat::Fp8 | WeightFormat::Fp8Block128
        );
        if !(triton && (setup.cuda || setup.rocm)) {
            return None;
        }
        let chunk = if version < release(6, 0) {
            65_536
        } else if version < release(12, 0) {
            32_768
        } else if version < release(18, 0) {
            16_384
        } else {
            u64::MAX
        };
        Some(if profile(version).v0 {
            FusedMoe {
                workspace: MoeWorkspace::Separate,
                chunk,
                eager_rows: true,
                quantised_input: match format {
                    WeightFormat::Fp8 => QuantisedInput::PerTensor,
                    WeightFormat::Fp8Block128 => QuantisedInput::Block128,
                    _ => QuantisedInput::None,
                },
                persistent: false,
            }
        } else if version < release(14, 0) {
            FusedMoe {
                workspace: MoeWorkspace::SharedCache13,
                chunk,
                eager_rows: false,
                quantised_input: QuantisedInput::None,
                persistent: false,
            }
        } else {
            FusedMoe {
                workspace: MoeWorkspace::Modular,
                chunk,
                eager_rows: false,
                quantised_input: QuantisedInput::None,
                persistent: true,
            }
        })
    }

    /// vLLM's Triton MXFP4 MoE kernel on Hopper (v0.12 on, [`mxfp4_padding`]) converts each MoE
    /// layer's experts after loading (`Mxfp4MoEMethod.process_weights_after_loading` @ v0.12.0,
    /// v0.16.0; `oracle/mxfp4.py::convert_to_mxfp4_moe_kernel_format` and `_swizzle_mxfp4` @
    /// v0.19.1, v0.20.0, v0.33.0): the values are swizzled into triton_kernels' Hopper layout,
    /// both dimensions of each transposed matrix padded to 64 (`HopperMXValueLayout.swizzle_data`,
    /// `third_party/triton_kernels/tensor_details/layout_details/hopper_value.py` @ v0.19.1); the
    /// scales are swizzled into a new tensor, rows padded to 256 and columns to 2
    /// (`HopperMXScaleLayout`, `hopper_scale.py`, num_warps 8), kept in the precision configs while
    /// the loaded scales stay registered; the biases are widened to FP32. The old values are freed.
    /// Per layer on a rank: swizzled values − loaded values + swizzled scales + 2 B per bias
    /// element. gpt-oss-20b on an H100 under 0.19.0: +0.787 GiB at TP1 (13.64 GiB logged) and
    /// +0.441 at TP2 (7.01 logged; llm-d-planner's sweep @ d3121e0).
    fn moe_layer_extra(
        &self,
        version: u32,
        setup: &Setup,
        format: WeightFormat,
        shape: super::MoeShape,
    ) -> Option<(u64, &'static str)> {
        if format != WeightFormat::Mxfp4
            || setup.rocm
            || version < release(12, 0)
            || !matches!(setup.cuda_capability, Some((9, _)))
        {
            return None;
        }
        let (e, h) = (shape.experts, shape.hidden);
        let i = shape.intermediate.next_multiple_of(64);
        let up = |x: u64, m: u64| x.next_multiple_of(m);
        let loaded = e * (2 * i * (h / 2) + h * (i / 2));
        let swizzled = e * (up(2 * i, 64) * up(h / 2, 64) + up(h, 64) * up(i / 2, 64));
        let scales = e * (up(2 * i, 256) * up(h / 32, 2) + up(h, 256) * up(i / 32, 2));
        let bias = if shape.bias { e * (2 * i + h) * 2 } else { 0 };
        Some((
            swizzled.saturating_sub(loaded) + scales + bias,
            "swizzles the MXFP4 experts for its Triton kernel on Hopper after loading (values padded to 64 B, the scales re-laid out in a second tensor beside the loaded ones, biases widened to FP32)",
        ))
    }

    /// V0 from v0.7.3 on CUDA pads every MLA cache entry to a multiple of 256 B (576 BF16 elements
    /// → 640: 1,280 B instead of 1,152), unless `VLLM_CUDA_MEM_ALIGN_KV_CACHE=0`
    /// (`vllm/worker/cache_engine.py::CacheEngine._align_cache`, `get_cache_block_size` and
    /// `vllm/utils.py::align_to_256bytes` @ v0.7.3; added by PR 12676, removed by PR 14842 before
    /// v0.8.0). V1 never padded.
    fn mla_entry_align(&self, version: u32, setup: &Setup) -> Option<u64> {
        (profile(version).v0 && version >= release(7, 3) && setup.cuda && setup.mla).then_some(256)
    }

    /// Per head before v0.7.1, the latent after ([`PROFILES`]); v0.7.1 and v0.7.2 fall back to
    /// the per-head cache at the q/k head size for checkpoints quantised other than in FP8
    /// (`ModelConfig.use_mla`, `vllm/config.py` @ v0.7.1, v0.7.2).
    fn mla_layout(&self, version: u32, _setup: &Setup, attention: WeightFormat) -> MlaLayout {
        let fp8_or_none = matches!(
            attention,
            WeightFormat::Bf16
                | WeightFormat::Fp16
                | WeightFormat::Fp32
                | WeightFormat::Fp8
                | WeightFormat::Fp8Block128
        );
        match profile(version).mla {
            MlaLayout::Latent
                if (release(7, 1)..release(7, 3)).contains(&version) && !fp8_or_none =>
            {
                MlaLayout::PerHead { pad_to: None }
            }
            layout => layout,
        }
    }

    /// vLLM-Ascend's V1 runner built a `FullAttentionSpec` for every decoder attention layer,
    /// its window ignored, until the layers gave their own spec
    /// (`NPUModelRunner.get_kv_cache_spec`, `vllm_ascend/worker/model_runner_v1.py`, read at
    /// v0.9.0rc2, v0.9.2rc1, v0.11.0rc0, v0.13.0; `attn_module.get_kv_cache_spec` from v0.14.0rc1,
    /// vllm-ascend PR 5834). vLLM-Ascend releases carry the vLLM release they run on.
    fn caches_windows_in_full(&self, version: u32, setup: &Setup) -> bool {
        setup.npu && !profile(version).v0 && version < ASCEND_OWN_LAYER_SPECS
    }

    /// V0's MLA backend prefills over K/V decompressed for the whole batch
    /// ([`overhead::MlaPrefill`]): `mla/utils.py` read at v0.7.3, `mla/common.py` at v0.8.0 for the
    /// development builds after 0.7.3 (checked as "0.7.4"; PR 12639 moved the backend to
    /// `common.py`). 0.7.1 and 0.7.2 were not read; V1's chunked prefill path is not modelled.
    fn mla_prefill(
        &self,
        version: u32,
        setup: &Setup,
        attention: WeightFormat,
    ) -> Option<overhead::MlaPrefill> {
        let p = profile(version);
        let latent = self.mla_layout(version, setup, attention) == MlaLayout::Latent;
        if !(p.v0 && latent && (setup.cuda || setup.rocm)) {
            return None;
        }
        if p.mla_whole_batch {
            Some(overhead::MlaPrefill::Common)
        } else if version >= release(7, 3) {
            Some(overhead::MlaPrefill::Utils)
        } else {
            None
        }
    }

    /// The absorbed MLA matrices of 0.7.1 … 0.7.3 ([`mla_absorbed_bytes`]), then the BF16
    /// `W_UV` / `W_UK_T` ([`mla_kv_b_copy_bytes`]), where the layer caches the latent.
    fn mla_derived_weights(&self, version: u32, setup: &Setup, l: super::MlaRank<'_>) -> u64 {
        let latent = self.mla_layout(version, &Setup::default(), l.attention) == MlaLayout::Latent;
        let copies = if setup.npu {
            version >= release(9, 0)
        } else {
            version >= release(7, 4) && !setup.hpu
        };
        if !latent {
            0
        } else if profile(version).mla_absorbed {
            mla_absorbed_bytes(l.mla, l.hidden, l.tp, l.attention)
        } else if copies {
            mla_kv_b_copy_bytes(l.mla, l.tp, l.attention, setup)
        } else {
            0
        }
    }

    /// The decode reads the derived matrices instead of what they came from: from PR 14770 (0.7.4
    /// on) the BF16 `W_UK_T` / `W_UV` copy instead of the quantised `kv_b_proj`, which only the
    /// prefill reads (`MLACommonImpl._forward_decode` @ v0.8.0; `mla_attention.py` @ v0.33.0;
    /// vLLM-Ascend's copies likewise); in 0.7.1–0.7.3 `W_Q_UK`, `W_QR` and `W_UV_O` instead of
    /// `q_b_proj` (or `q_proj`), `kv_b_proj`, `o_proj` and the `W_UK` / `W_UV` copies
    /// (`_q_proj_and_k_up_proj`, `_v_up_proj_and_o_proj` @ v0.7.3). Nothing when the engine
    /// derives nothing (a BF16 `kv_b_proj` is read through views).
    fn mla_decode_unread(&self, version: u32, setup: &Setup, layer: super::MlaRank<'_>) -> u64 {
        if self.mla_derived_weights(version, setup, layer) == 0 {
            return 0;
        }
        let super::MlaRank {
            mla,
            hidden,
            tp,
            attention,
        } = layer;
        let n = (mla.heads / tp.max(1)).max(1);
        let stored = |r: u64, c: u64| {
            u64::try_from(attention.matrix_bytes(r.into(), c.into())).unwrap_or(u64::MAX)
        };
        let (p, v, r) = (mla.qk_nope_head_dim, mla.v_head_dim, mla.qk_rope_head_dim);
        let kv_b = stored(n * (p + v), mla.kv_lora_rank);
        if profile(version).mla_absorbed {
            let lq = mla.q_lora_rank.unwrap_or(hidden);
            let copies = if kv_b_quantised(attention) {
                kv_b_bf16_bytes(mla, n)
            } else {
                0
            };
            stored(n * (p + r), lq)
                .saturating_add(kv_b)
                .saturating_add(stored(hidden, n * v))
                .saturating_add(copies)
        } else {
            kv_b
        }
    }

    /// Rope tables in the model dtype, MRoPE over 4 × max_position from 0.7.2 (1 × up to 0.7.1;
    /// Qwen3-VL 1 × again from 0.32 without video pruning), three tables per MLA yarn rope under
    /// vLLM-Ascend (0.9.0rc2–0.11.0rc0), MiniCPM-V's resampler tables in the model dtype
    /// (src/engine/position_tables.rs cites the code). Not for the HPU fork, whose rotary layers
    /// kvsim has not read.
    fn position_rule(
        &self,
        version: u32,
        setup: &Setup,
    ) -> Option<super::position_tables::PositionRule> {
        use super::position_tables::{PositionRule, MODEL_DTYPE_BYTES};
        if setup.hpu {
            return None;
        }
        Some(PositionRule {
            rope_bytes: MODEL_DTYPE_BYTES,
            mrope_rows: if version >= release(7, 2) { 4 } else { 1 },
            mrope_factor_by_model: version >= QWEN3_VL_MROPE_FACTOR,
            mla_yarn_copies: if setup.npu { 3 } else { 1 },
            sincos_bytes: MODEL_DTYPE_BYTES,
            source: if setup.npu {
                "vllm-ascend ops/rotary_embedding.py @ 0.9.0rc2–0.11.0rc0 over vLLM's get_rope"
            } else {
                "vLLM get_rope in rotary_embedding @ 0.6.3–0.33.0"
            },
        })
    }

    fn mla_derived_note(&self, version: u32, setup: &Setup, _attention: WeightFormat) -> String {
        if profile(version).mla_absorbed {
            "materialises the absorbed MLA matrices (W_Q_UK, W_UV_O) after loading".to_string()
        } else if setup.npu {
            "copies each MLA layer's kv_b_proj into contiguous W_UV / W_UK_T after loading"
                .to_string()
        } else {
            "dequantises each MLA layer's kv_b_proj to a BF16 copy (W_UV / W_UK_T) after loading"
                .to_string()
        }
    }

    /// `VLLM_GRAPH_RESERVED_MEM` defaults to 0.1 (same function).
    fn hpu_graph_share(&self, _version: u32) -> Option<f64> {
        Some(HPU_GRAPH_RESERVED_MEM)
    }

    fn subtracts_cuda_graphs(&self, version: u32) -> bool {
        profile(version).subtracts_cuda_graphs
    }

    fn expert_padding(
        &self,
        version: u32,
        setup: &Setup,
        format: WeightFormat,
    ) -> Option<(ExpertPad, &'static str)> {
        (format == WeightFormat::Mxfp4).then(|| mxfp4_padding(version, setup))
    }

    /// V0 (`SchedulerConfig.__init__`, `vllm/config.py` @ v0.6.3, v0.7.3): `max(max_model_len,
    /// 2048)`, or the profile's chunk (512, 2048 from v0.6.5) when chunked prefill is on — by
    /// default from v0.5.3 for `max_model_len` above 32,768 on GPUs without sliding windows
    /// (`EngineArgs.create_engine_config`, `arg_utils.py` @ v0.5.3, v0.6.3), and never for MLA
    /// models in the development builds after v0.7.3 ([`PROFILES`]).
    /// V1 (`EngineArgs._set_default_args_v1` @ v0.8.4, v0.8.5, `get_batch_defaults` @ v0.9.2 …
    /// v0.20.2): the OpenAI server batches 8192 tokens on H100/H200 up to v0.8.4 and on GPUs of at
    /// least 70 GiB from v0.8.5, 2048 elsewhere; from v0.9 the A100 takes the small default too;
    /// TPUs v6e/v5e/v5p take 1024/512/256. (The offline `LLM` class batches twice as many: 16,384
    /// / 8,192; kvsim models the server.)
    fn default_batched_tokens(&self, version: u32, b: &Batching<'_>) -> u64 {
        let prof = profile(version);
        if prof.v0 {
            let chunked =
                b.max_model_len > 32_768 && !b.windowed && !(b.mla && prof.mla_whole_batch);
            return match prof.v0_chunk {
                Some(chunk) if chunked => chunk,
                _ => b.max_model_len.max(2048),
            };
        }
        if let Some(tokens) = name_traits(&b.chip_name).tpu_tokens {
            return tokens;
        }
        if large_gpu(version, b) {
            8192
        } else {
            2048
        }
    }

    fn batched_tokens_follow_context(&self, version: u32) -> bool {
        profile(version).v0
    }

    /// V0: 256 (`EngineArgs.max_num_seqs` @ v0.6.3); V1: 1024 on the GPUs that batch 8192 tokens,
    /// 256 elsewhere (same functions as the batched tokens).
    fn default_max_num_seqs(&self, version: u32, b: &Batching<'_>) -> u64 {
        if !profile(version).v0 && large_gpu(version, b) {
            1024
        } else {
            256
        }
    }

    /// The sampler's profiling peak (docs/facts.md §4).
    ///
    /// V0's `profile_run` samples after the forward pass has freed its intermediates
    /// (`ModelRunner._dummy_run` → `execute_model`, `vllm/worker/model_runner.py` @ v0.6.3,
    /// v0.7.3, v0.8.3) with top-k = vocab − 1 and top-p = 0.99. `execute_model` still holds the
    /// output hidden states (one row per token) and the logits in the model's dtype, gathered
    /// whole (not vocab/TP) on TP rank 0 (`LogitsProcessor._gather_logits`,
    /// `vllm/model_executor/layers/logits_processor.py`); only the driver of the last pipeline
    /// stage (TP rank 0, `is_driver_worker`, `vllm/executor/ray_distributed_executor.py`) runs
    /// the sampler, and V0 sizes every worker's cache by the fewest blocks, so kvsim charges the
    /// last stage with it. On CUDA, alive per logit at its peak (`Sampler.forward` and
    /// `_apply_top_k_top_p`, `vllm/model_executor/layers/sampler.py` @ v0.6.3, v0.7.3, v0.8.3):
    /// the model-dtype logits (2 B), their fp32 copy (4 B), and `logits.sort`'s values (4 B),
    /// int64 indices (8 B) and PyTorch/CUB sort buffers (8 + 12 B, as V1's below): **38 B**; the
    /// softmax, cumsum and masks after the sort, and `probs`/`logprobs`/`_multinomial`'s noise
    /// after it returns, stay below that. FlashInfer's sampler is opt-in
    /// (`VLLM_USE_FLASHINFER_SAMPLER`, `vllm/envs.py`, unset by default at these releases).
    ///
    /// V1 (`GPUModelRunner.profile_run`, `vllm/v1/worker/gpu_model_runner.py` @ v0.8.5 … v0.33.0)
    /// runs `_dummy_run(max_num_batched_tokens)`, which returns the output hidden states (one
    /// row per token) and the last token's rows, then `_dummy_sampler_run` over `max_num_seqs`
    /// rows (a `rand_like` copy of them, @ v0.9.2 on; v0.8.5 returns the sampled rows only) with
    /// top-k = vocab − 1 and top-p = 0.9.
    /// Alive per logit at the sampler's peak, on CUDA:
    /// - v0.8 … v0.16: the logits in the model's dtype (2 B, held by `_dummy_sampler_run`), their
    ///   fp32 copy (`Sampler.forward`, 4 B), and `logits.sort` in `apply_top_k_top_p`
    ///   (`vllm/v1/sample/ops/topk_topp_sampler.py` @ v0.10.1, v0.14.0, v0.16.0): sorted values
    ///   (4 B), int64 indices (8 B), PyTorch's int64 `reverse_indices` and CUB's alternate key and
    ///   value buffers (8 + 12 B; `segmented_sort_pairs`, `aten/src/ATen/native/cuda/SortStable.cu`,
    ///   for ≥ 128 rows; `DeviceSegmentedRadixSort::SortPairs` without a double buffer): **38 B**.
    ///   FlashInfer's sampler avoids the sort, but vLLM's wheels list `flashinfer-python`
    ///   only as an extra up to v0.11 and make it opt-in (`VLLM_USE_FLASHINFER_SAMPLER=1`) from
    ///   v0.12.0, when it became a dependency. Where FlashInfer ≥ 0.2.3 is installed (vLLM's
    ///   images) V1 up to v0.11 samples on it unless `VLLM_USE_FLASHINFER_SAMPLER=0`, and says
    ///   "Using FlashInfer for top-p & top-k sampling" (`TopKTopPSampler.__init__`,
    ///   `forward_cuda` → `flashinfer_sample` → `top_k_top_p_sampling_from_logits` @ v0.10.1.1):
    ///   the held and fp32 logits, the top-k-masked logits and their softmax, **14 B**, when
    ///   [`Setup::flashinfer_sampler`] says so (`kvsim check` reads the line);
    /// - v0.17 on: `apply_top_k_top_p_triton` masks the fp32 logits in place (batches ≥ 8,
    ///   `topk_topp_sampler.py` @ v0.17.0, v0.19.0, v0.20.2, v0.33.0), then `softmax` (4 B) and
    ///   `random_sample`'s exponential noise (4 B): **14 B** — as FlashInfer's path when it is on
    ///   (v0.33.0's default; `top_k_mask_logits` and `softmax`, `flashinfer/sampling.py` @ 0.5.3).
    ///
    /// The per-SM Triton scratch rows (`num_SMs × vocab × 4 B`) are not counted. Other platforms
    /// (ROCm, TPU, Ascend, Gaudi) run other sort or sampling kernels: kvsim's estimate.
    fn sampler_rule(&self, version: u32, setup: &Setup) -> overhead::SamplerRule {
        if profile(version).v0 {
            return if setup.cuda {
                overhead::SamplerRule {
                    bytes_per_logit: 38,
                    after_forward: true,
                    held_rows_per_token: 1,
                    held_rows_per_seq: 0,
                    scratch_sms: 0,
                }
            } else {
                overhead::SamplerRule {
                    after_forward: true,
                    ..overhead::SamplerRule::ESTIMATE
                }
            };
        }
        if !setup.cuda {
            return overhead::SamplerRule::ESTIMATE;
        }
        // v0.8 returns only the sampled rows from `_dummy_run`; from v0.9 it returns the whole
        // output as well, and `_dummy_sampler_run` samples a `rand_like` copy of the rows.
        let v0_8 = version < release(9, 0);
        overhead::SamplerRule {
            bytes_per_logit: if version < release(17, 0) && !setup.flashinfer_sampler {
                38
            } else {
                14
            },
            after_forward: true,
            held_rows_per_token: if v0_8 { 0 } else { 1 },
            held_rows_per_seq: if v0_8 { 1 } else { 2 },
            // The Triton top-k/top-p kernel (v0.17 until FlashInfer's sampler became the default
            // at v0.33) keeps a scratch row per program ([`overhead::SamplerRule::scratch_rows`]).
            scratch_sms: if (release(17, 0)..release(33, 0)).contains(&version)
                && !setup.flashinfer_sampler
            {
                setup.sm_count.unwrap_or(0)
            } else {
                0
            },
        }
    }

    /// vLLM-Ascend's V1 `NPUModelRunner.profile_run` runs the forward pass of
    /// `max_num_batched_tokens` tokens and then only `model.compute_logits` on `max_num_seqs`
    /// rows ("TODO: need to run a dummy sampler for generate task"), and skips the multimodal
    /// encoder (`vllm_ascend/worker/model_runner_v1.py` @ v0.9.0rc2, v0.10.0rc1, v0.10.2rc1,
    /// v0.11.0rc3, v0.12.0rc1); from v0.13.0 it runs the sampler too. Its V0 fallback was not read.
    fn profiles_logits_only(&self, version: u32, setup: &Setup) -> bool {
        setup.npu && !profile(version).v0 && version < release(13, 0)
    }

    /// Kimi-VL's MoonViT: every linear a `ReplicatedLinear` up to v0.13.0, the whole tower on
    /// every rank; from v0.14.0 `QKVParallelLinear` / `ColumnParallelLinear` /
    /// `RowParallelLinear` unless `mm_encoder_tp_mode = "data"` (`moonvit.py::MLP2`,
    /// `MoonVitEncoderLayer` @ v0.11.0, v0.12.0, v0.13.0, v0.14.0, v0.18.0, v0.19.1); the
    /// projector stays replicated (`kimi_vl.py::KimiVLMultiModalProjector`).
    fn vision_tp(&self, version: u32, _setup: &Setup, architecture: &str) -> u64 {
        u64::from(architecture == "KimiVLForConditionalGeneration" && version < release(14, 0))
    }

    /// vLLM-Ascend's NPU worker up to v0.14.0rc1 keeps V1's first rule: non-torch = `(total −
    /// free) − torch allocated` after the profile run, with no baseline, so the ACL runtime's own
    /// start-up footprint counts (`vllm_ascend/worker/worker_v1.py::NPUWorker.
    /// determine_available_memory` @ v0.9.0rc2, v0.10.0rc1, v0.11.0rc3; `worker.py` @ v0.14.0rc1;
    /// `memory_profiling` with a start-up baseline from v0.15.0rc1). kvsim's non-torch estimate
    /// is the baseline-subtracted kind, so it adds that footprint: 0.41 GiB, what a vLLM-Ascend
    /// log shows in use at start-up ("Free memory on device (60.86/61.27 GiB) on startup",
    /// github.com/vllm-project/vllm-ascend/pull/8289) (unverified: one published figure, a 2026
    /// runtime; the code does not size it).
    /// NCCL and all-reduce buffers on an NVIDIA GPU whose `[nccl]` links the catalog states
    /// ([`overhead::NcclNonTorch::vllm`]): connected eagerly up to v0.10 (cuMem off), lazily with
    /// symmetric memory from v0.11.0 (`vllm/env_override.py` @ v0.10.1, v0.11.0; `vllm/envs.py`
    /// `VLLM_ALLREDUCE_USE_SYMM_MEM` @ v0.11.0); under V0 also the point-to-point receive buffers
    /// its logits gather leaves on the destination rank ([`overhead::v0_gather_bytes`]). On an
    /// Ascend NPU at TP ≥ 2 (vLLM-Ascend, V1),
    /// HCCL's communicators ([`overhead::HcclNonTorch::vllm_ascend`]).
    fn comm_non_torch(&self, version: u32, setup: &Setup) -> Option<overhead::CommNonTorch> {
        if setup.npu && !profile(version).v0 && setup.tp > 1 {
            return Some(overhead::CommNonTorch::Hccl(
                overhead::HcclNonTorch::vllm_ascend(setup.tp, setup.moe),
            ));
        }
        let nvidia = setup.cuda && !setup.npu && !setup.hpu && !setup.rocm;
        if nvidia && setup.tp == 1 && setup.pp > 1 && version >= release(11, 0) {
            return Some(overhead::CommNonTorch::PipelineRank);
        }
        let links = setup.nccl?;
        (nvidia && setup.tp > 1).then(|| {
            overhead::CommNonTorch::Nccl(overhead::NcclNonTorch::vllm(
                links,
                setup.cuda_capability,
                setup.tp,
                version >= release(11, 0),
                nccl_nvls(version),
                profile(version).v0,
                flashinfer_ar_workspace(version, setup),
            ))
        })
    }

    /// vLLM's weights figure is torch's allocated bytes across loading (`DeviceMemoryProfiler`,
    /// `get_current_memory_usage` = `max_memory_allocated` after a peak reset: "Model loading
    /// took" @ v0.7.3, v0.10.2), so the allocator's rounding of each parameter counts. V0 up to
    /// 0.6.3 budgets from `init_gpu_memory − free` read by `mem_get_info()` after the profiling
    /// run, with no `empty_cache` between (`worker.py::Worker.determine_num_available_blocks` @
    /// v0.5.1, v0.5.4, v0.6.0, v0.6.3; 0.6.4 reads torch's allocated peak): the weights'
    /// segments count whole. The
    /// baseline-free rule of vLLM-Ascend up to 0.14 (above) also takes non-torch memory after
    /// `empty_cache` as device memory in use − torch allocated, so the free tails torch_npu's
    /// 32 B padding leaves in the weights' segments count there ([`super::allocator`]).
    fn weight_segments(
        &self,
        version: u32,
        setup: &Setup,
    ) -> Option<super::allocator::SegmentRule> {
        use super::allocator::{CachingAllocator, Charge, SegmentRule};
        if setup.npu && !setup.hpu {
            let charge = if !profile(version).v0 && version < release(15, 0) {
                Charge::AllocatedAndFreeAsNonTorch
            } else {
                Charge::Allocated
            };
            return Some(SegmentRule {
                allocator: CachingAllocator::TORCH_NPU,
                charge,
            });
        }
        ((setup.cuda || setup.rocm) && !setup.hpu).then_some(SegmentRule {
            allocator: CachingAllocator::CUDA,
            charge: if profile(version).v0 && version < release(6, 4) {
                Charge::ReservedAfterProfile
            } else {
                Charge::Allocated
            },
        })
    }

    /// - Gaudi: the HPU worker sizes the cache from `mem_get_info` after the profile run, so
    ///   others are lost (`vllm/worker/hpu_worker.py::HPUWorker.determine_num_available_blocks`
    ///   @ v0.7.3).
    /// - vLLM-Ascend V1 before v0.15.0rc1: non-torch is `(total − free) − torch allocated` with no
    ///   baseline ([`Vllm::non_torch_context`]), so others are charged as non-torch memory; from
    ///   v0.15.0rc1 a start-up baseline (whether the NPU worker then refuses was not read).
    /// - V0 on a GPU other than at v0.6.4: the peak is measured from a start-up baseline (`init_gpu_memory` in
    ///   `vllm/worker/worker.py::Worker.determine_num_available_blocks` @ v0.5.1; the
    ///   `baseline_snapshot` of `memory_profiling` @ v0.7.3), with no start-up check.
    /// - V1 on a GPU from v0.9 (PR 19312): `requested_memory = total × utilization` less what
    ///   was added since the init snapshot, and a refusal to start when the snapshot's free
    ///   memory is below it ([`super::other_processes::refusal`]; `gpu_worker.py` @ v0.9.1,
    ///   v0.9.2). V1 0.8.x measures with no baseline, so others are lost, and has no such check
    ///   (@ v0.8.5).
    fn other_processes(
        &self,
        version: u32,
        setup: &Setup,
    ) -> super::other_processes::OtherProcesses {
        use super::other_processes::OtherProcesses::{Baseline, Lost, NonTorch};
        let v0 = profile(version).v0;
        if setup.hpu {
            Lost { read: true }
        } else if setup.npu {
            if !v0 && version < release(15, 0) {
                NonTorch
            } else {
                Baseline {
                    refuses: false,
                    read: false,
                }
            }
        } else if (setup.cuda || setup.rocm)
            && (version == release(6, 4) || (!v0 && version < release(9, 0)))
        {
            // V0 at v0.6.4 and V1 before PR 19312 (0.8.x) charge non-torch memory as device memory
            // in use less torch's, with no baseline, and V1 0.8.x has no start-up check
            // (`gpu_worker.py::Worker.determine_available_memory` @ v0.8.5; docs/facts.md §4):
            // others count as non-torch.
            NonTorch
        } else if setup.cuda || setup.rocm {
            Baseline {
                refuses: !v0,
                read: true,
            }
        } else {
            Lost { read: false }
        }
    }

    fn non_torch_context(&self, version: u32, setup: &Setup) -> u64 {
        if setup.npu && !profile(version).v0 && version < release(15, 0) {
            ASCEND_STARTUP_BYTES
        } else {
            0
        }
    }

    fn capacity(
        &self,
        version: u32,
        specs: &[LayerKv],
        budget: u64,
        p: &PoolParams,
    ) -> Result<Capacity> {
        let prof = profile(version);
        let mut c = match pool::common(specs, budget, p) {
            Some(c) => c?,
            // vLLM's V4 paging is not reproduced: compressed layers fall back to per-session
            // bytes, and so does V0, which has no hybrid allocator.
            None if prof.v0
                || specs
                    .iter()
                    .any(|s| matches!(s.spec, KvSpec::Compressed { .. })) =>
            {
                return pool::per_session(specs, budget, p)
            }
            None => match hybrid(specs, budget, p, prof) {
                Some(c) => c?,
                None => return pool::per_session(specs, budget, p),
            },
        };
        if prof.tokens_from_concurrency {
            c.capacity_tokens = (c.max_concurrency * p.context as f64) as u64;
        }
        Ok(c)
    }

    fn plan(&self, version: u32, specs: &[LayerKv], block: u64) -> PlanKind {
        // As `capacity` decides, once: uniform pages, the hybrid layout, or per-session bytes.
        let prof = profile(version);
        if let Some(u) = pool::uniform_plan(specs, block, prof.tokens_from_concurrency) {
            return u;
        }
        if pool::is_common(specs)
            || prof.v0
            || specs
                .iter()
                .any(|s| matches!(s.spec, KvSpec::Compressed { .. }))
        {
            return PlanKind::Other;
        }
        match remembered_layout(specs, block, prof) {
            Some(layout) => PlanKind::Hybrid {
                layout,
                async_batches: prof.async_batches,
                tokens_from_concurrency: prof.tokens_from_concurrency,
            },
            None => PlanKind::Other,
        }
    }

    fn budget_rule(&self, version: u32) -> Option<pool::BudgetRule> {
        // `budget` below, as data.
        Some(pool::BudgetRule {
            cuda_graphs: profile(version).subtracts_cuda_graphs,
        })
    }

    fn kv_format(&self, version: u32, r: &super::KvRequest) -> super::KvChoice {
        super::kv_format::vllm(version, r)
    }

    fn formula(&self, version: u32, f: f64) -> String {
        let name = self.label(version);
        if profile(version).v0 {
            format!("{name}: {f} × total − peak torch memory − non-torch")
        } else if profile(version).subtracts_cuda_graphs {
            format!("{name}: {f} × total − weights − activation − non-torch − CUDA graphs")
        } else {
            format!("{name}: {f} × total − weights − activation − non-torch")
        }
    }
}

/// What the hybrid allocator's layout owes to the specs, the block and the hybrid factor alone
/// (not to the context or the budget): a sweep computes it once per deployment ([`HYBRID`]), and
/// a deployment's stages keep it ([`PlanKind::Hybrid`]).
#[derive(Debug, Clone, PartialEq)]
pub struct HybridLayout {
    /// The specs it was made from.
    pub(crate) specs: Vec<LayerKv>,
    block: u128,
    max_page: u128,
    /// (spec, layers, block size) per distinct spec.
    groups: Vec<Group>,
    group_size: u128,
    n_groups: u128,
    min_block: u128,
    /// The same in 64-bit figures, when they fit (None: every call takes the 128-bit path).
    narrow: Option<Narrow>,
}

type Group = (KvSpec, u128, u128);

/// A [`HybridLayout`] in u64: per group (spec, its groups of `group_size` layers, its block
/// size), `max_page · group_size`, and the layout's block, group count and smallest block.
#[derive(Debug, Clone, PartialEq)]
struct Narrow {
    groups: Vec<(KvSpec, u64, u64)>,
    page_group: u64,
    block: u64,
    n_groups: u64,
    min_block: u64,
}

impl Narrow {
    fn of(l: &HybridLayout) -> Option<Narrow> {
        let n = |v: u128| u64::try_from(v).ok();
        Some(Narrow {
            groups: l
                .groups
                .iter()
                .map(|(spec, layers, b)| Some((*spec, n(layers.div_ceil(l.group_size))?, n(*b)?)))
                .collect::<Option<_>>()?,
            page_group: n(l.max_page.checked_mul(l.group_size)?).filter(|&v| v > 0)?,
            block: n(l.block)?,
            n_groups: n(l.n_groups)?,
            min_block: n(l.min_block)?,
        })
    }

    /// [`hybrid_capacity`] in u64 arithmetic; None when a figure overflows (the 128-bit path
    /// then answers, or names the overflow).
    fn capacity(&self, budget: u64, p: &PoolParams, async_batches: bool) -> Option<Capacity> {
        let in_flight = p.max_num_batched_tokens.checked_mul(if async_batches {
            p.pipeline_stages.max(2)
        } else {
            1
        })?;
        let ctx = p.context;
        let mut per_request = 0u64;
        for &(spec, k, b) in &self.groups {
            let need = match spec {
                KvSpec::Full { .. } => ctx.div_ceil(b),
                KvSpec::Window { window, .. } => window
                    .saturating_sub(1)
                    .checked_add(in_flight)?
                    .min(ctx)
                    .div_ceil(b)
                    .checked_add(1)?,
                KvSpec::State { .. } => 1,
                KvSpec::Compressed { .. } => 0,
            };
            per_request = per_request.checked_add(k.checked_mul(need)?)?;
        }
        // ⌊⌊budget / max_page⌋ / group_size⌋ = ⌊budget / (max_page · group_size)⌋.
        let blocks = budget / self.page_group;
        let per_request = per_request.max(1);
        Some(Capacity {
            accounting: Accounting::VllmHybrid,
            block_size: self.block,
            blocks,
            blocks_per_session: per_request,
            bytes_per_session: per_request.checked_mul(self.page_group)?,
            capacity_tokens: (blocks / self.n_groups.max(1)).checked_mul(self.min_block)?,
            max_concurrency: blocks as f64 / per_request as f64,
            sessions: blocks / per_request,
        })
    }
}

/// Layouts recently computed on this thread, keyed on what they depend on.
#[derive(PartialEq)]
struct HybridKey {
    specs: Vec<LayerKv>,
    block: u64,
    factor: Option<u64>,
}

const HYBRID_MEMO: usize = 4;

thread_local! {
    static HYBRID: std::cell::RefCell<Vec<(HybridKey, Option<Arc<HybridLayout>>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The layout of `specs` at `block` under `prof`, from the thread's recent layouts when there.
fn remembered_layout(specs: &[LayerKv], block: u64, prof: &Profile) -> Option<Arc<HybridLayout>> {
    let factor = prof.hybrid_factor.map(f64::to_bits);
    let hit = |k: &HybridKey| k.block == block && k.factor == factor && k.specs == specs;
    HYBRID.with_borrow_mut(|memo| {
        if let Some((_, l)) = memo.iter().find(|(k, _)| hit(k)) {
            return l.clone();
        }
        if memo.len() >= HYBRID_MEMO {
            memo.remove(0);
        }
        let key = HybridKey {
            specs: specs.to_vec(),
            block,
            factor,
        };
        let l = hybrid_layout(specs, block, prof).map(Arc::new);
        memo.push((key, l.clone()));
        l
    })
}

/// vLLM v1 `_get_kv_cache_groups_uniform_page_size` (`vllm/v1/core/kv_cache_utils.py`): the
/// block size, page size and groups. None when the page sizes cannot be unified (vLLM raises
/// NotImplementedError there).
fn hybrid_layout(specs: &[LayerKv], block: u64, prof: &Profile) -> Option<HybridLayout> {
    // u128 throughout: pages of huge records times raised blocks must not wrap.
    let attn_record = specs.iter().map(|s| s.spec.record()).max().unwrap_or(0) as u128;
    let state = specs
        .iter()
        .filter_map(|s| match s.spec {
            KvSpec::State { bytes } => Some(bytes as u128),
            _ => None,
        })
        .max();
    // HybridAttentionMambaModelConfig: attention block = 16 · cdiv(mamba page, 16 · attention
    // page per token) when the user's block is smaller; Mamba pages padded to the attention page.
    let mut block = block as u128;
    if let (Some(st), true) = (state, attn_record > 0) {
        block = block.max(16 * st.div_ceil(16 * attn_record));
    }
    // Page of each spec at `block`, then unify_kv_cache_spec_page_size: smaller pages grow their
    // block size by the ratio.
    let page = |s: &KvSpec| match *s {
        KvSpec::State { .. } => attn_record * block,
        _ => s.record() as u128 * block,
    };
    let max_page = specs.iter().map(|s| page(&s.spec)).max()?;
    if max_page == 0 {
        return None;
    }
    let mut groups: Vec<Group> = Vec::with_capacity(specs.len());
    for s in specs {
        if matches!(s.spec, KvSpec::Compressed { .. }) {
            return None;
        }
        let pg = page(&s.spec);
        if pg == 0 || max_page % pg != 0 {
            return None;
        }
        let b = if matches!(s.spec, KvSpec::State { .. }) {
            block
        } else {
            block * (max_page / pg)
        };
        match groups.iter_mut().find(|g| g.0 == s.spec) {
            Some(g) => g.1 += s.layers as u128,
            None => groups.push((s.spec, s.layers as u128, b)),
        }
    }
    let gs = &groups;
    let min_layers = gs.iter().map(|g| g.1).min()?;
    let max_layers = gs.iter().map(|g| g.1).max()?;
    let group_size = match prof.hybrid_factor {
        Some(f) if (max_layers as f64) < min_layers as f64 * f => max_layers,
        _ => min_layers,
    };
    let n_groups = gs.iter().map(|g| g.1.div_ceil(group_size)).sum();
    let min_block = gs.iter().map(|g| g.2).min().unwrap_or(block);
    let mut l = HybridLayout {
        specs: specs.to_vec(),
        block,
        max_page,
        groups,
        group_size,
        n_groups,
        min_block,
        narrow: None,
    };
    l.narrow = Narrow::of(&l);
    Some(l)
}

/// vLLM v1 `_get_kv_cache_groups_uniform_page_size` + `get_max_concurrency_for_kv_cache_config`
/// (`vllm/v1/core/kv_cache_utils.py`). None when the page sizes cannot be unified (vLLM raises
/// NotImplementedError there).
fn hybrid(
    specs: &[LayerKv],
    budget: u64,
    p: &PoolParams,
    prof: &Profile,
) -> Option<Result<Capacity>> {
    let l = remembered_layout(specs, p.block, prof)?;
    Some(layout_capacity(&l, budget, p, prof.async_batches))
}

/// The capacity of a layout: in u64 when its figures fit, else in u128.
#[inline]
pub(crate) fn layout_capacity(
    l: &HybridLayout,
    budget: u64,
    p: &PoolParams,
    async_batches: bool,
) -> Result<Capacity> {
    match l
        .narrow
        .as_ref()
        .and_then(|n| n.capacity(budget, p, async_batches))
    {
        Some(c) => Ok(c),
        None => hybrid_capacity(l, budget, p, async_batches),
    }
}

/// `get_max_concurrency_for_kv_cache_config` and the pool's figures for one context and budget.
fn hybrid_capacity(
    l: &HybridLayout,
    budget: u64,
    p: &PoolParams,
    async_batches: bool,
) -> Result<Capacity> {
    let (block, max_page, group_size) = (l.block, l.max_page, l.group_size);
    // Tokens a window layer holds while requests are in flight (chunked prefill).
    let in_flight = p.max_num_batched_tokens as u128
        * if async_batches {
            p.pipeline_stages.max(2) as u128
        } else {
            1
        };
    let ctx = p.context as u128;
    let mut per_request = 0u128;
    for (spec, layers, b) in &l.groups {
        let k = layers.div_ceil(group_size);
        let need = match *spec {
            KvSpec::Full { .. } => ctx.div_ceil(*b),
            KvSpec::Window { window, .. } => {
                ((window as u128).saturating_sub(1) + in_flight)
                    .min(ctx)
                    .div_ceil(*b)
                    + 1
            }
            KvSpec::State { .. } => 1,
            // hybrid_layout refuses compressed layers.
            KvSpec::Compressed { .. } => 0,
        };
        per_request += k * need;
    }
    let blocks = budget as u128 / max_page / group_size;
    let fit = |v: u128, what: &str| u64::try_from(v).map_err(|_| Error::overflow(what));
    let per_request = per_request.max(1);
    Ok(Capacity {
        accounting: Accounting::VllmHybrid,
        block_size: fit(block, "KV block size")?,
        blocks: fit(blocks, "KV blocks")?,
        blocks_per_session: fit(per_request, "blocks per session")?,
        bytes_per_session: fit(per_request * max_page * group_size, "KV bytes per session")?,
        capacity_tokens: fit(
            blocks / l.n_groups.max(1) * l.min_block,
            "KV capacity in tokens",
        )?,
        max_concurrency: blocks as f64 / per_request as f64,
        sessions: fit(blocks / per_request, "sessions")?,
    })
}

#[cfg(test)]
mod tests {

    // Labels as reports show them: generic V0, a V0 release (patch 0 kept), V1 releases with and
    // without a patch; and `label` is what `Display` writes.
    #[test]
    fn labels_by_release() {
        for (e, want) in [
            (Engine::vllm(0, 0), "vllm v0"),
            (Engine::vllm(6, 0), "vllm 0.6.0 (V0)"),
            (Engine::vllm(7, 4), "vllm 0.7.4 (V0)"),
            (Engine::vllm(8, 3), "vllm 0.8.3"),
            (Engine::vllm(19, 0), "vllm 0.19"),
            (Engine::vllm(20, 1), "vllm 0.20.1"),
        ] {
            assert_eq!(e.to_string(), want);
            assert_eq!(Vllm.label(e.version), want);
        }
    }
    use super::*;

    /// The search answers as lowercasing and `contains` do, at every position, in any case, for
    /// the needles the batch defaults look for.
    #[test]
    fn chip_name_search() {
        let names = [
            "NVIDIA H100 80GB HBM3",
            "NVIDIA A100-SXM4-80GB",
            "a100",
            "A10",
            "xa100",
            "TPU v6e",
            "Google TPU V5P",
            "tp",
            "",
            "NVIDIA GeForce RTX 4090 with a very long marketing name past sixty-four bytes A100",
        ];
        for name in names {
            for needle in ["a100", "tpu", "v6e", "v5e", "v5p", "h100", "h200", "x", ""] {
                assert_eq!(
                    contains_ascii_lowercase(name, needle),
                    name.to_ascii_lowercase().contains(needle),
                    "{name:?} {needle:?}"
                );
            }
        }
    }
    // The remembered traits answer as searching the name afresh, whatever the order of the
    // names asked (a stale memo would answer for the previous chip).
    #[test]
    fn name_traits_remembered_per_thread() {
        let names = [
            "NVIDIA H100 80GB HBM3",
            "NVIDIA A100-SXM4-80GB",
            "Google TPU V5P",
            "TPU v6e",
            "TPU",
            "NVIDIA H200",
            "NVIDIA H100 80GB HBM3",
            "",
        ];
        for (i, name) in names.iter().chain(names.iter().rev()).enumerate() {
            let t = name_traits(name);
            let lower = name.to_ascii_lowercase();
            assert_eq!(t, NameTraits::of(name), "{i}: {name:?}");
            assert_eq!(t.tpu, lower.contains("tpu"));
            assert_eq!(t.a100, lower.contains("a100"));
            assert_eq!(
                t.h100_or_h200,
                lower.contains("h100") || lower.contains("h200")
            );
            let gen = ["v6e", "v5e", "v5p"].iter().position(|g| lower.contains(g));
            assert_eq!(
                t.tpu_tokens,
                gen.filter(|_| t.tpu).map(|g| [1024, 512, 256][g]),
                "{name:?}"
            );
        }
    }

    use crate::engine::pool::params;
    use crate::engine::Engine;

    /// Capacity under vLLM 0.19 (hybrid factor 1.5, one batch in flight, tokens from blocks).
    fn capacity(specs: &[LayerKv], budget: u64, block: u64, context: u64) -> Capacity {
        Engine::vllm(19, 0)
            .capacity(specs, budget, &params(block, context))
            .unwrap()
    }

    #[test]
    fn versions_pick_profiles() {
        let v = |s: Option<&str>| Vllm.parse_version(s).unwrap();
        assert_eq!(v(None), LATEST);
        assert_eq!(v(Some("0.20")), release(20, 0));
        assert_eq!(v(Some("0.20.1")), release(20, 1));
        assert!(profile(v(Some("v0"))).v0 && profile(v(Some("0.6.3"))).v0);
        assert!(!profile(v(Some("0.19"))).subtracts_cuda_graphs);
        assert!(profile(v(Some("0.20"))).subtracts_cuda_graphs);
        assert_eq!(profile(v(Some("0.19"))).utilization, 0.9);
        assert_eq!(profile(v(Some("0.21"))).utilization, 0.92);
        assert_eq!(profile(v(Some("0.17.1"))).hybrid_factor, Some(1.25));
        assert_eq!(profile(v(Some("0.19"))).hybrid_factor, Some(1.5));
        assert_eq!(profile(v(Some("0.11"))).hybrid_factor, None);
        assert!(!profile(v(Some("0.20"))).tokens_from_concurrency);
        assert!(profile(v(Some("0.20.1"))).tokens_from_concurrency);
        for bad in ["banana", "1.0", "99", "0.99", "0.19.1.2", "0.x"] {
            let e = Vllm.parse_version(Some(bad)).unwrap_err().to_string();
            assert!(
                e.contains("--engine-version") && e.contains("0.33"),
                "{bad}: {e}"
            );
        }
        assert_eq!(Vllm.label(release(20, 1)), "vllm 0.20.1");
        assert_eq!(Vllm.label(release(19, 0)), "vllm 0.19");
        assert_eq!(Vllm.label(release(6, 3)), "vllm 0.6.3 (V0)");
        assert_eq!(v(Some("v0")), release(7, 3));
        assert_eq!(Vllm.label(0), "vllm v0");
    }

    // The 0.20 budget also subtracts CUDA graphs: 0.9 × 80 GiB − (15 + 2 + 0.25) GiB, less 0.5 GiB.
    #[test]
    fn budget_by_release() {
        let g = 1u64 << 30;
        let m = StageMemory {
            weights: 15 * g,
            activation: 2 * g,
            non_torch: g / 4,
            cuda_graph: g / 2,
        };
        let usable = (80.0 * g as f64 * 0.9).floor() as u64;
        let v1 = usable - (17 * g + g / 4);
        assert_eq!(Vllm.budget(release(19, 0), &m, 80 * g, 0.9), (v1, 0));
        assert_eq!(
            Vllm.budget(release(20, 0), &m, 80 * g, 0.9),
            (v1 - g / 2, 0)
        );
        assert_eq!(
            Vllm.budget(release(19, 0), &m, 16 * g, 0.9).1,
            17 * g + g / 4 - (14.4 * g as f64) as u64
        );
    }

    // The HPU worker on a Gaudi2 (vllm-gaudi docs/configuration/performance_tuning.md, the fork of
    // September 2024): 94.62 GiB, 15.05 GiB of weights + 0.35 GiB profiling run leave 79.22 GiB
    // free; × 0.9 = 71.30 usable, 10% of it (7.13) for HPU graphs, 64.17 GiB for the KV cache.
    #[test]
    fn hpu_worker_budget() {
        let gib = |x: f64| (x * (1u64 << 30) as f64).round() as u64;
        let mut m = StageMemory {
            weights: gib(15.05),
            activation: gib(0.35),
            non_torch: 0,
            cuda_graph: 0,
        };
        let total = gib(94.62);
        m.cuda_graph = crate::engine::hpu_graph_bytes(&m, total, 0.9, HPU_GRAPH_RESERVED_MEM);
        let (budget, short) = Vllm
            .chip_budget(0, crate::engine::ChipBudget::Hpu, &m, total, 0.9)
            .unwrap();
        let to_gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        assert_eq!(short, 0);
        assert!(
            (to_gib(m.cuda_graph) - 7.13).abs() < 0.005,
            "{}",
            to_gib(m.cuda_graph)
        );
        assert!((to_gib(budget) - 64.17).abs() < 0.005, "{}", to_gib(budget));
        // The CUDA rule would leave 0.9 × 94.62 − 15.40 = 69.76 GiB.
        assert!(to_gib(Vllm.budget(0, &m, total, 0.9).0 + m.cuda_graph) > 69.7);
        // The engine applies the HPU rule only on a Gaudi.
        let e = Engine::vllm(6, 3);
        use crate::engine::ChipBudget;
        assert_eq!(e.budget_on(ChipBudget::Hpu, &m, total, 0.9).0, budget);
        assert_ne!(e.budget_on(ChipBudget::Standard, &m, total, 0.9).0, budget);
        assert_eq!(Engine::SGLANG.hpu_graph_share(), None);
    }

    // vLLM-Ascend's 310P worker from 0.18 (`_310p/worker_310p.py` @ v0.18.0): by hand, a 310P's
    // 45,816,029,184 B at utilisation 0.9 = 41,234,426,265 B requested; 7 GiB of weights,
    // 0.5 GiB of activation and 0.5 GiB of non-torch memory charged (8,589,934,592 B) plus the
    // runtime's 0.41 GiB start-up footprint (440,234,147 B): (41,234,426,265 − 9,030,168,739)
    // // 2 = 16,102,128,763 B. Up to 0.17 the NPU worker's rule, undivided.
    #[test]
    fn ascend_310p_worker_halves_the_budget() {
        use crate::engine::ChipBudget;
        let m = StageMemory {
            weights: 7 * (1 << 30),
            activation: 1 << 29,
            non_torch: 1 << 29,
            cuda_graph: 0,
        };
        let total = 45_816_029_184;
        let e = Engine::vllm(18, 0);
        assert_eq!(ASCEND_STARTUP_BYTES, 440_234_147);
        assert_eq!(
            e.budget_on(ChipBudget::Ascend310P, &m, total, 0.9),
            (16_102_128_763, 0)
        );
        let general = Engine::vllm(17, 0).budget_on(ChipBudget::Ascend310P, &m, total, 0.9);
        assert_eq!(general, (41_234_426_265 - 8_589_934_592, 0));
        assert_eq!(general, Engine::vllm(17, 0).budget(&m, total, 0.9));
        // Short of memory, the shortfall is the general rule's plus the footprint, not halved.
        let (b, short) = e.budget_on(ChipBudget::Ascend310P, &m, 8 << 30, 0.9);
        assert_eq!(
            (b, short),
            (
                0,
                8_589_934_592 + 440_234_147 - (7.2 * (1u64 << 30) as f64) as u64
            )
        );
    }

    // V0's sampler on the last pipeline stage: Llama-3.3-70B (Llama-3.1-70B's shapes: hidden
    // 8192, vocab 128,256) at TP4 × PP2 with the V0 defaults of a chunked-prefill server (256
    // sequences, 2048 batched tokens). By hand: 256 · 128,256 · 38 B = 1,247,674,368 B of logits
    // and sort buffers, plus the 2048 · 8192 · 2 B = 33,554,432 B output hidden states still
    // held: 1,281,228,800 B = 1.19 GiB, above the forward pass's peak, on the last stage only.
    // The sampling rank of vLLM 0.8.3's V0 log logs 1.27 GiB, the others 0.25
    // (tests/data/logs/vllm-0.8.3-v0-a100-40gb-llama33-70b-tp4-pp2.log).
    #[test]
    fn v0_sampler_on_the_last_stage() {
        let m = crate::catalog::load_model("llama-3.1-70b").unwrap();
        assert_eq!((m.hidden, m.vocab), (8192, 128_256));
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let rule = Vllm.sampler_rule(release(7, 4), &cuda);
        let act = |last| overhead::Activation::new(&m, 4, 4, 256, last, rule, None);
        assert_eq!(act(true).sampler, 1_247_674_368);
        assert_eq!(act(true).bytes(2048), 1_281_228_800);
        // The first stage runs the forward pass only (well under the sampler's peak).
        assert_eq!(act(false).sampler, 0);
        assert!(act(false).bytes(2048) < 200_000_000);
    }

    // gpt-oss-20b's MoE layer on an H100 under the Triton MXFP4 kernel (32 experts, hidden 2880,
    // intermediate 2880 → 1440 per rank at TP2, padded to 1472), by hand: values 32 · (2944 ·
    // 1472 + 2880 · 768) − 32 · (2944 · 1440 + 2880 · 736) = 5,963,776 B; swizzled scales 32 ·
    // (3072 · 90 + 3072 · 46) = 13,369,344 B; biases 32 · (2944 + 2880) · 2 = 372,736 B:
    // 19,705,856 B a layer, × 24 = 0.4405 GiB (7.01 GiB logged at TP2 against 6.58 before); at
    // TP1 35,205,120 B a layer, 0.787 GiB (13.64 logged, 12.87 before). Not before v0.12 (Marlin),
    // not on Blackwell (another layout) nor for other formats.
    #[test]
    fn triton_mxfp4_swizzle_on_hopper() {
        let cuda = |cc| Setup {
            cuda: true,
            cuda_capability: Some(cc),
            ..Setup::default()
        };
        let shape = |intermediate| crate::engine::MoeShape {
            experts: 32,
            hidden: 2880,
            intermediate,
            bias: true,
        };
        let x = |v, cc, f, i| Vllm.moe_layer_extra(v, &cuda(cc), f, shape(i)).map(|e| e.0);
        assert_eq!(
            x(release(19, 0), (9, 0), WeightFormat::Mxfp4, 1440),
            Some(19_705_856)
        );
        assert_eq!(
            x(release(19, 0), (9, 0), WeightFormat::Mxfp4, 2880),
            Some(35_205_120)
        );
        assert_eq!(x(release(11, 0), (9, 0), WeightFormat::Mxfp4, 1440), None);
        assert_eq!(x(release(19, 0), (10, 0), WeightFormat::Mxfp4, 1440), None);
        assert_eq!(x(release(19, 0), (9, 0), WeightFormat::Bf16, 1440), None);
    }

    // FlashInfer's all-reduce-fusion workspace by release and GPU. H100 (9.0, NVSwitch) at TP2
    // under 0.17-0.26 (FlashInfer <= 0.6.14): three buffers (2 · 64 MiB, 2 KiB of flags, 3 · 128
    // MiB), each rounded to 512 MiB = 1,536 MiB; from 0.27 rounded to 2 MiB: 130 + 2 + 386 =
    // 518 MiB. None before 0.17, off 9.0/10.x, without NVSwitch (FlashInfer <= 0.6.14 needs
    // multicast), under pipeline or data parallelism. With it, Llama-3.1-8B TP2 at 0.19 charges
    // 0.07 GiB + torch's communicator ((3 · 32 + 2) · 2 + 24 · 12 MiB) + 1,536 MiB =
    // 2,193,285,447 B = 2.04 GiB, against 2.07 logged by llm-d-planner's sweep (corpus log
    // vllm-0.19.0-v1-h100-llama31-8b-tp2); before 0.11, 0.89 GiB from the buffers the snapshot
    // now leaves out.
    #[test]
    fn flashinfer_all_reduce_workspace_by_release() {
        const MIB: u64 = 1 << 20;
        let nvswitch = overhead::NcclLinks {
            channels: 24,
            channels_assumed: false,
            peer_access: true,
            nvls: true,
        };
        let h100 = |tp, pp, dp| Setup {
            cuda: true,
            cuda_capability: Some((9, 0)),
            nccl: Some(nvswitch),
            tp,
            pp,
            dp,
            ..Setup::default()
        };
        let w = |v, s: &Setup| flashinfer_ar_workspace(v, s);
        assert_eq!(w(release(16, 0), &h100(2, 1, 1)), 0);
        assert_eq!(w(release(17, 0), &h100(2, 1, 1)), 1536 * MIB);
        assert_eq!(w(release(19, 0), &h100(8, 1, 1)), 1536 * MIB);
        assert_eq!(w(release(27, 0), &h100(2, 1, 1)), 518 * MIB);
        assert_eq!(w(release(33, 0), &h100(8, 1, 1)), (6 + 2 + 14) * MIB);
        assert_eq!(w(release(19, 0), &h100(2, 2, 1)), 0);
        assert_eq!(w(release(19, 0), &h100(2, 1, 2)), 0);
        assert_eq!(w(release(19, 0), &h100(16, 1, 1)), 0);
        let pcie = Setup {
            nccl: Some(overhead::NcclLinks {
                nvls: false,
                ..nvswitch
            }),
            ..h100(2, 1, 1)
        };
        assert_eq!(w(release(19, 0), &pcie), 0);
        assert_eq!(w(release(27, 0), &pcie), 518 * MIB);
        let a100 = Setup {
            cuda_capability: Some((8, 0)),
            ..h100(2, 1, 1)
        };
        assert_eq!(w(release(19, 0), &a100), 0);
        // The charge at 0.19, Llama-3.1-8B TP2 on H100.
        let n = match Vllm.comm_non_torch(release(19, 0), &h100(2, 1, 1)) {
            Some(overhead::CommNonTorch::Nccl(n)) => n,
            other => panic!("{other:?}"),
        };
        assert_eq!(n.bytes(), 2_193_285_447);
        // Up to 0.10 the snapshot came first: vLLM's and torch's communicators, the custom
        // all-reduce (and no FlashInfer workspace).
        let old = match Vllm.comm_non_torch(release(10, 0), &h100(2, 1, 1)) {
            Some(overhead::CommNonTorch::Nccl(n)) => n,
            other => panic!("{other:?}"),
        };
        assert!(!old.after_snapshot);
        assert_eq!(old.fi_workspace, 0);
        // A TP1 rank of a pipeline: from 0.11, 0.07 GiB (the sweep's TP1 × PP2 and × PP4 logs);
        // before, nothing is built (one GPU's 0.25 GiB applies).
        let pipe = Vllm.comm_non_torch(release(19, 0), &h100(1, 2, 1));
        assert_eq!(pipe, Some(overhead::CommNonTorch::PipelineRank));
        assert_eq!(pipe.unwrap().bytes(), 75_161_927);
        assert_eq!(Vllm.comm_non_torch(release(10, 0), &h100(1, 2, 1)), None);
        assert_eq!(Vllm.comm_non_torch(release(19, 0), &h100(1, 1, 1)), None);
    }

    // V0's MoE-layer peak for DeepSeek-R1 (FP8 block-128 experts) at TP8, 32,000 batched tokens
    // (under the 32,768-token chunk), by hand from the 0.7.3 code: rows beside the workspace
    // 4 · 7168 (residual, the layer's input the model's loop holds, the experts' input, the
    // shared expert's output) + 256 router logits + 4 · 8 (FP32 weights, int32 ids) = 28,960
    // elements; the caches 8 · (512 + 256 + 7168) = 63,488; the FP8 input 7168 B + 56 FP32
    // scales = 7,392 B = 3,696 elements: 96,144 elements, 192,288 B per token, 6,153,216,000 B
    // (5.73 GiB) at 32,000 tokens — above the sampler's 5.11 GiB, against 6.37 GiB logged
    // (corpus log vllm-0.7.3-v0-h200-deepseek-r1-tp8-util085). V1 keeps the older estimate.
    #[test]
    fn v0_moe_peak_counts_the_eager_rows_and_the_fp8_input() {
        let m = crate::catalog::load_model("deepseek-r1").unwrap();
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let f = Vllm
            .fused_moe(release(7, 3), &cuda, WeightFormat::Fp8Block128)
            .unwrap();
        assert!(f.eager_rows);
        assert_eq!(f.quantised_input, overhead::QuantisedInput::Block128);
        let a = overhead::Activation::new(
            &m,
            8,
            8,
            1024,
            false,
            Vllm.sampler_rule(release(7, 3), &cuda),
            Some(f),
        );
        assert_eq!(a.moe_base, 2 * 28_960);
        assert_eq!(a.moe_workspace, 2 * (63_488 + 3_696));
        assert_eq!(a.bytes(32_000), 6_153_216_000);
        // BF16 experts quantise nothing; V1 keeps kvsim's older count.
        let bf16 = Vllm
            .fused_moe(release(7, 3), &cuda, WeightFormat::Bf16)
            .unwrap();
        assert_eq!(bf16.quantised_input, overhead::QuantisedInput::None);
        let v1 = Vllm
            .fused_moe(release(10, 0), &cuda, WeightFormat::Fp8Block128)
            .unwrap();
        assert!(!v1.eager_rows);
        assert_eq!(v1.quantised_input, overhead::QuantisedInput::None);
    }

    // The sampler's profiling peak by release: PyTorch's sort up to v0.16.0, the in-place Triton
    // top-k/top-p from v0.17.0 (topk_topp_sampler.py @ v0.16.0, v0.17.0); V0 and non-CUDA chips
    // keep kvsim's estimate.
    // From v0.14 the fused-MoE workspace is vLLM's persistent one, still allocated when the
    // profiling run's sampler peaks. Qwen3-30B-A3B on one H100 at 0.19 (8,192 batched tokens, 8 of
    // 128 experts of width 768: N = 1536, K = 2048): 8192 · 8 · (max(768, 2048) + max(1536, 2048))
    // · 2 B = 536,870,912 B on top of the sampler's peak, which outweighs the forward here
    // (llm-d-planner's 0.19.0 log: 2.68 GiB; without the workspace kvsim gave 2.14).
    #[test]
    fn persistent_moe_workspace_adds_to_the_sampler_peak() {
        let model = crate::catalog::load_model("qwen3-30b-a3b").unwrap();
        let cuda = Setup {
            cuda: true,
            sm_count: Some(132),
            ..Setup::default()
        };
        let v = release(19, 0);
        let fused = Vllm.fused_moe(v, &cuda, WeightFormat::Bf16).unwrap();
        let rule = Vllm.sampler_rule(v, &cuda);
        let kept = overhead::Activation::new(&model, 1, 1, 1024, true, rule, Some(fused));
        let freed = overhead::Activation::new(
            &model,
            1,
            1,
            1024,
            true,
            rule,
            Some(overhead::FusedMoe {
                persistent: false,
                ..fused
            }),
        );
        assert_eq!(kept.bytes(8192) - freed.bytes(8192), 536_870_912);
        let gib = kept.bytes(8192) as f64 / (1u64 << 30) as f64;
        assert!((gib - 2.68).abs() / 2.68 < 0.02, "{gib}");
        // Chunked (0.14–0.17, 16,384 tokens a chunk): the workspace for one chunk and the output
        // for the whole batch, 32,768 · 2048 · 2 B.
        let chunked = overhead::Activation::new(
            &model,
            1,
            1,
            1024,
            true,
            rule,
            Some(
                Vllm.fused_moe(release(14, 0), &cuda, WeightFormat::Bf16)
                    .unwrap(),
            ),
        );
        let ws = |t: u64| 8 * (2048 + 2048) * 2 * t;
        assert_eq!(
            chunked.moe_workspace * 16_384 + chunked.moe_chunked_output * 32_768,
            ws(16_384) + 32_768 * 2048 * 2
        );
    }

    // Kimi-VL's MoonViT: whole on every rank up to vLLM 0.13, split from 0.14. At TP2 a rank
    // holds half of each layer's q/k/v (3 · 1152² + 3456 bias), o (1152²), fc0 (4304 · 1152 +
    // 4304 bias) and fc1 (1152 · 4304): 15,232,592 elements × 27 layers × 2 B / 2 =
    // 411,279,984 B less (llm-d-planner's 0.19.0 TP2 log: 15.53 GiB of weights; kvsim 15.77 with
    // the tower whole, 15.39 split).
    #[test]
    fn kimi_vl_vision_tower_split_from_0_14() {
        let m = crate::catalog::load_model("kimi-vl-a3b-instruct").unwrap();
        let arch = "KimiVLForConditionalGeneration";
        let s = Setup::default();
        assert_eq!(Vllm.vision_tp(release(13, 0), &s, arch), 1);
        assert_eq!(Vllm.vision_tp(release(14, 0), &s, arch), 0);
        assert_eq!(
            Vllm.vision_tp(release(13, 0), &s, "Qwen2_5_VLForConditionalGeneration"),
            0
        );
        let bytes = |vision_tp| -> u128 {
            let sharding = crate::model::Sharding {
                attention_tp: 2,
                tp: 2,
                vision_tp,
                ..crate::model::Sharding::NONE
            };
            m.vision
                .iter()
                .map(|t| t.bytes_per_chip(&m.default_plan, &sharding))
                .sum()
        };
        assert_eq!(bytes(1) - bytes(0), 411_279_984);
    }

    #[test]
    fn sampler_rule_by_release() {
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let r = |v| Vllm.sampler_rule(v, &cuda);
        assert_eq!(r(release(8, 0)).bytes_per_logit, 38);
        assert_eq!(r(release(16, 0)).bytes_per_logit, 38);
        assert_eq!(r(release(17, 0)).bytes_per_logit, 14);
        assert_eq!(r(LATEST).bytes_per_logit, 14);
        // FlashInfer's sampler where a log says it ran (v0.10.1.1's default once installed):
        // held, fp32 and top-k-masked logits and their softmax, 2 + 4 + 4 + 4 B.
        let flashinfer = Setup {
            flashinfer_sampler: true,
            ..cuda
        };
        for v in [release(8, 0), release(10, 1), release(16, 0), LATEST] {
            assert_eq!(Vllm.sampler_rule(v, &flashinfer).bytes_per_logit, 14);
        }
        assert!(r(release(8, 0)).after_forward && r(LATEST).after_forward);
        let held = |v| (r(v).held_rows_per_token, r(v).held_rows_per_seq);
        assert_eq!(held(release(8, 5)), (0, 1));
        assert_eq!(held(release(9, 0)), (1, 2));
        // V0 on CUDA: PyTorch's sort (38 B per logit) with the forward pass's output held;
        // elsewhere kvsim's 8 B estimate.
        let v0 = Vllm.sampler_rule(release(6, 3), &cuda);
        assert_eq!((v0.bytes_per_logit, v0.after_forward), (38, true));
        assert_eq!((v0.held_rows_per_token, v0.held_rows_per_seq), (1, 0));
        let v0_other = Vllm.sampler_rule(release(7, 3), &Setup::default());
        assert_eq!(
            (v0_other.bytes_per_logit, v0_other.after_forward),
            (8, true)
        );
        assert_eq!(v0_other.held_rows_per_token + v0_other.held_rows_per_seq, 0);
        assert_eq!(
            Vllm.sampler_rule(LATEST, &Setup::default()),
            overhead::SamplerRule::ESTIMATE
        );
        // The Triton kernel's scratch rows (v0.17 to v0.32, not under FlashInfer's sampler): on
        // an H100 (132 SMs) 1024 rows take 132 programs, a buffer of min(256, 132) = 132 rows;
        // 100 rows take 100 programs and min(128, 132) = 128 rows; an A100 (108) at its 256
        // default sequences min(128, 108) = 108.
        let h100 = Setup {
            sm_count: Some(132),
            ..cuda
        };
        let sms = |v, s: &Setup| Vllm.sampler_rule(v, s).scratch_sms;
        assert_eq!(sms(release(19, 0), &h100), 132);
        assert_eq!(sms(release(16, 0), &h100), 0);
        assert_eq!(sms(LATEST, &h100), 0);
        let fi = Setup {
            flashinfer_sampler: true,
            ..h100
        };
        assert_eq!(sms(release(19, 0), &fi), 0);
        let rule = Vllm.sampler_rule(release(19, 0), &h100);
        assert_eq!(
            (rule.scratch_rows(1024), rule.scratch_rows(100)),
            (132, 128)
        );
        let a100 = Setup {
            sm_count: Some(108),
            ..cuda
        };
        assert_eq!(
            Vllm.sampler_rule(release(19, 0), &a100).scratch_rows(256),
            108
        );
    }

    // MLA entries padded to 256 B on CUDA by V0 from v0.7.3 only (cache_engine.py @ v0.7.3).
    #[test]
    fn mla_alignment_by_release() {
        let s = Setup {
            cuda: true,
            mla: true,
            ..Setup::default()
        };
        assert_eq!(Vllm.mla_entry_align(release(7, 3), &s), Some(256));
        assert_eq!(Vllm.mla_entry_align(release(7, 2), &s), None);
        assert_eq!(Vllm.mla_entry_align(release(8, 0), &s), None);
        let rocm = Setup { cuda: false, ..s };
        assert_eq!(Vllm.mla_entry_align(release(7, 3), &rocm), None);
        let gqa = Setup { mla: false, ..s };
        assert_eq!(Vllm.mla_entry_align(release(7, 3), &gqa), None);
    }

    // vLLM-Ascend's V1 profile run computes logits without sampling (model_runner_v1.py @
    // v0.9.0rc2 … v0.11.0rc3); CUDA and the V0 engine sample.
    #[test]
    fn ascend_profiles_logits_only() {
        let npu = Setup {
            npu: true,
            ..Setup::default()
        };
        assert!(Vllm.profiles_logits_only(release(11, 0), &npu));
        assert!(!Vllm.profiles_logits_only(release(13, 0), &npu));
        // The baseline-free non-torch rule up to v0.14 counts the start-up footprint.
        assert_eq!(
            Vllm.non_torch_context(release(11, 0), &npu),
            ASCEND_STARTUP_BYTES
        );
        assert_eq!(Vllm.non_torch_context(release(15, 0), &npu), 0);
        assert_eq!(Vllm.non_torch_context(release(11, 0), &Setup::default()), 0);
        assert!(!Vllm.profiles_logits_only(release(6, 3), &npu));
        assert!(!Vllm.profiles_logits_only(release(11, 0), &Setup::default()));
        // HCCL's buffers at TP ≥ 2 on V1 (none at TP1, none for V0, whose Ascend rules were
        // not read); an MoE model adds the expert group's communicator.
        let tp = |tp, moe| Setup { tp, moe, ..npu };
        let hccl = |v, s: &Setup| Vllm.comm_non_torch(v, s).map(|c| c.bytes());
        assert_eq!(hccl(release(9, 0), &tp(1, true)), None);
        assert_eq!(hccl(release(6, 3), &tp(4, false)), None);
        assert_eq!(hccl(release(9, 0), &tp(4, false)), Some((256 + 400) << 20));
        assert_eq!(hccl(release(10, 0), &tp(8, true)), Some((256 + 800) << 20));
        assert!(!crate::engine::Engine::SGLANG.profiles_logits_only(&npu));
    }

    fn batching(chip: &str, gib: f64, max_model_len: u64, windowed: bool) -> Batching<'_> {
        Batching {
            chip_name: chip.into(),
            total_memory: (gib * (1u64 << 30) as f64) as u64,
            max_model_len,
            windowed,
            mla: false,
        }
    }

    // V1: 8192 batched tokens and 1024 sequences on an H100 (79.19 GiB); 2048 and 256 on a 48 GiB
    // L40S, and on an A100 80GB from v0.9 (get_batch_defaults @ v0.9.2) and up to v0.8.4 (by name,
    // _set_default_args_v1 @ v0.8.4) but not in v0.8.5 (by memory).
    #[test]
    fn batch_defaults_by_gpu_and_release() {
        let h100 = batching("NVIDIA H100 SXM5 80GB", 79.19, 32768, false);
        let a100 = batching("NVIDIA A100 SXM4 80GB", 79.19, 32768, false);
        let l40s = batching("NVIDIA L40S", 44.99, 32768, false);
        let v6e = batching("Google TPU v6e", 31.25, 32768, false);
        let both = |v, b: &Batching<'_>| {
            (
                Vllm.default_batched_tokens(v, b),
                Vllm.default_max_num_seqs(v, b),
            )
        };
        assert_eq!(both(LATEST, &h100), (8192, 1024));
        assert_eq!(both(LATEST, &a100), (2048, 256));
        assert_eq!(both(release(8, 5), &a100), (8192, 1024));
        // v0.8.4 picked by name: H100 and H200 only (an 80 GB A100 and a 178 GiB B200 batch small).
        assert_eq!(both(release(8, 4), &a100), (2048, 256));
        assert_eq!(both(release(8, 4), &h100), (8192, 1024));
        let b200 = batching("NVIDIA B200", 178.18, 32768, false);
        assert_eq!(both(release(8, 0), &b200), (2048, 256));
        assert_eq!(both(release(8, 5), &b200), (8192, 1024));
        assert_eq!(both(LATEST, &l40s), (2048, 256));
        assert_eq!(both(LATEST, &v6e), (1024, 256));
    }

    // V0 (SchedulerConfig @ v0.6.3): max(max_model_len, 2048), 512 with the chunked prefill that
    // turns on above 32K tokens unless the model has sliding windows; 256 sequences.
    #[test]
    fn v0_batch_follows_max_model_len() {
        let v0 = release(6, 3);
        let b = |len, windowed| {
            Vllm.default_batched_tokens(
                v0,
                &batching("NVIDIA GeForce RTX 3090", 23.58, len, windowed),
            )
        };
        assert_eq!(b(20_000, false), 20_000);
        assert_eq!(b(1_024, false), 2048);
        assert_eq!(b(32_768, false), 32_768);
        assert_eq!(b(32_769, false), 512);
        assert_eq!(b(65_536, true), 65_536);
        assert!(
            Vllm.batched_tokens_follow_context(v0) && !Vllm.batched_tokens_follow_context(LATEST)
        );
        assert_eq!(
            Vllm.default_max_num_seqs(v0, &batching("NVIDIA H100", 79.19, 8192, false)),
            256
        );
    }

    // V0's batch by release above 32K tokens (arg_utils.py, config.py @ v0.5.1, v0.5.3, v0.6.4,
    // v0.6.5, v0.7.3, v0.8.0's V0 path): no automatic chunked prefill before 0.5.3, chunks of 512
    // then 2048; an MLA model batches max_model_len in the builds after 0.7.3.
    #[test]
    fn v0_batch_by_release() {
        let b = |v, len, mla| {
            let mut x = batching("NVIDIA H200", 139.81, len, false);
            x.mla = mla;
            Vllm.default_batched_tokens(v, &x)
        };
        assert_eq!(b(release(5, 1), 163_840, true), 163_840);
        assert_eq!(b(release(5, 1), 163_840, false), 163_840);
        assert_eq!(b(release(5, 3), 163_840, false), 512);
        assert_eq!(b(release(6, 4), 163_840, false), 512);
        assert_eq!(b(release(6, 5), 163_840, false), 2048);
        assert_eq!(b(release(7, 3), 163_840, true), 2048);
        assert_eq!(b(release(7, 4), 163_840, true), 163_840);
        assert_eq!(b(release(7, 4), 163_840, false), 2048);
        assert_eq!(b(release(7, 4), 8192, true), 8192);
        assert_eq!(b(release(7, 4), 1024, true), 2048);
    }

    // V0's MLA prefill peak by release: mla/utils.py @ v0.7.3, mla/common.py @ v0.8.0 (the
    // "0.7.4" development builds); none for unread 0.7.2, per-head caches (0.7.0), V1 or off CUDA.
    #[test]
    fn mla_prefill_by_release() {
        use crate::engine::overhead::MlaPrefill;
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let p = |v, s: &Setup| Vllm.mla_prefill(v, s, WeightFormat::Fp8Block128);
        assert_eq!(p(release(7, 4), &cuda), Some(MlaPrefill::Common));
        assert_eq!(p(release(7, 3), &cuda), Some(MlaPrefill::Utils));
        assert_eq!(p(release(7, 2), &cuda), None);
        assert_eq!(p(release(7, 0), &cuda), None);
        assert_eq!(p(release(8, 0), &cuda), None);
        assert_eq!(p(LATEST, &cuda), None);
        assert_eq!(p(release(7, 4), &Setup::default()), None);
    }

    // The fused-MoE chunk by release: `VLLM_FUSED_MOE_CHUNK_SIZE` is "65536" in vllm/envs.py
    // @ v0.5.1 and v0.5.5, "32768" @ v0.6.0 and v0.7.3; V1 up to 0.19 chunks at 32,768 too, 0.20
    // holds the whole batch. None off CUDA/ROCm or for MXFP4 experts (other kernels).
    #[test]
    fn fused_moe_chunk_by_release() {
        use crate::engine::overhead::MoeWorkspace;
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let f = |v, s: &Setup, w| Vllm.fused_moe(v, s, w).map(|f| (f.workspace, f.chunk));
        let bf16 = WeightFormat::Bf16;
        let (sep, shared, modular) = (
            MoeWorkspace::Separate,
            MoeWorkspace::SharedCache13,
            MoeWorkspace::Modular,
        );
        for (v, w, want) in [
            (release(5, 1), bf16, (sep, 65_536)),
            (release(5, 5), bf16, (sep, 65_536)),
            (release(6, 0), bf16, (sep, 32_768)),
            (release(7, 3), WeightFormat::Fp8, (sep, 32_768)),
            (release(10, 1), bf16, (shared, 32_768)),
            (release(12, 0), bf16, (shared, 16_384)),
            (release(14, 0), bf16, (modular, 16_384)),
            (release(18, 0), bf16, (modular, u64::MAX)),
            (LATEST, bf16, (modular, u64::MAX)),
        ] {
            assert_eq!(f(v, &cuda, w), Some(want), "{v}");
        }
        // The workspace persists from 0.14 (the worker's WorkspaceManager).
        let kept = |v| Vllm.fused_moe(v, &cuda, bf16).map(|f| f.persistent);
        assert_eq!(kept(release(13, 0)), Some(false));
        assert_eq!(kept(release(14, 0)), Some(true));
        assert_eq!(f(LATEST, &cuda, WeightFormat::Mxfp4), None);
        assert_eq!(f(LATEST, &Setup::default(), bf16), None);
    }

    // DeepSeek's MLA cache by release (deepseek_v2.py @ v0.5.1 … v0.6.6.post1, v0.7.0, v0.7.1;
    // ModelConfig.use_mla @ v0.7.1, v0.7.2, v0.7.3); V1 always the latent.
    #[test]
    fn mla_layout_by_release() {
        let s = Setup::default();
        let l = |v, f| Vllm.mla_layout(v, &s, f);
        let padded = MlaLayout::PerHead { pad_to: Some(256) };
        let qk = MlaLayout::PerHead { pad_to: None };
        assert_eq!(l(release(5, 1), WeightFormat::Bf16), padded);
        assert_eq!(l(release(6, 6), WeightFormat::Fp8Block128), padded);
        assert_eq!(l(release(7, 0), WeightFormat::Bf16), qk);
        assert_eq!(
            l(release(7, 1), WeightFormat::Fp8Block128),
            MlaLayout::Latent
        );
        assert_eq!(l(release(7, 2), WeightFormat::Int4 { group: 128 }), qk);
        assert_eq!(
            l(release(7, 3), WeightFormat::Int4 { group: 128 }),
            MlaLayout::Latent
        );
        assert_eq!(l(LATEST, WeightFormat::Bf16), MlaLayout::Latent);
        assert_eq!(
            Engine::SGLANG.mla_layout(&s, WeightFormat::Bf16),
            MlaLayout::Latent
        );
    }

    // DeepSeek-R1 at TP8 (FP8 blocks of 128): W_Q_UK 1536 × 8192 B + 12·64·4 B scales, W_UV_O
    // 8192 × 7168 B + 64·56·4, kv_b dequantised 512 × 16 × 256 × 2 B, W_QR 1536 × 1024 × 2 B
    // (utils.py::MLACommonImpl.process_weights_after_loading @ v0.7.3): 78,660,608 B per layer;
    // only 0.7.1 … 0.7.3 materialise them.
    #[test]
    fn absorbed_mla_matrices() {
        let r1 = crate::model::Mla::deepseek_v3();
        let fp8 = WeightFormat::Fp8Block128;
        let per_layer = 12_582_912 + 3_072 + 58_720_256 + 14_336 + 4_194_304 + 3_145_728;
        assert_eq!(per_layer, 78_660_608);
        assert_eq!(mla_absorbed_bytes(&r1, 7168, 8, fp8), per_layer);
        let rank = |tp, attention| super::super::MlaRank {
            mla: &r1,
            hidden: 7168,
            tp,
            attention,
        };
        let d = |v| Vllm.mla_derived_weights(v, &Setup::default(), rank(8, fp8));
        assert_eq!(d(release(7, 3)), per_layer);
        assert_eq!(d(release(7, 1)), per_layer);
        assert_eq!((d(release(7, 0)), d(release(7, 4)), d(LATEST)), (0, 0, 0));
        // BF16 weights: both products in BF16, kv_b's weight viewed in place.
        assert_eq!(
            mla_absorbed_bytes(&r1, 7168, 8, WeightFormat::Bf16),
            2 * (1536 * 8192 + 8192 * 7168) + 2 * 1536 * 1024
        );
        // At 0.7.2 an INT4 checkpoint runs per head, with nothing absorbed.
        assert_eq!(
            Vllm.mla_derived_weights(
                release(7, 2),
                &Setup::default(),
                rank(8, WeightFormat::Int4 { group: 128 })
            ),
            0
        );
    }

    // After PR 14770 (kvsim's 0.7.4 on): one BF16 copy of kv_b_proj per MLA layer when it is
    // quantised, split into W_UV / W_UK_T (mla_attention.py @ v0.20.2, v0.33.0; common.py @
    // v0.8.0, v0.9.2). DeepSeek-V3 at TP8: 512 (kv_lora_rank) × 16 heads × (128 nope + 128 v) × 2 B
    // = 4,194,304 B; at attention TP1 (DP attention) 128 heads: 33,554,432 B, × 61 layers =
    // 2,046,820,352 B (1.91 GiB) per rank. Ascend copies both halves whatever the format.
    #[test]
    fn mla_kv_b_proj_copies() {
        let v3 = crate::model::Mla::deepseek_v3();
        let (fp8, bf16) = (WeightFormat::Fp8Block128, WeightFormat::Bf16);
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let npu = Setup {
            npu: true,
            ..Setup::default()
        };
        let hpu = Setup {
            hpu: true,
            ..Setup::default()
        };
        let rank = |tp, attention| super::super::MlaRank {
            mla: &v3,
            hidden: 7168,
            tp,
            attention,
        };
        let d = |v, s: &Setup, tp, w| Vllm.mla_derived_weights(v, s, rank(tp, w));
        assert_eq!(d(LATEST, &cuda, 8, fp8), 4_194_304);
        assert_eq!(d(release(7, 4), &cuda, 8, fp8), 4_194_304);
        assert_eq!(d(release(9, 2), &cuda, 1, fp8), 33_554_432);
        assert_eq!(61 * d(LATEST, &cuda, 1, fp8), 2_046_820_352);
        assert_eq!(d(LATEST, &cuda, 8, bf16), 0);
        // 0.7.3 still materialises the absorbed matrices (which include the kv_b copy).
        assert_eq!(d(release(7, 3), &cuda, 8, fp8), 78_660_608);
        assert_eq!(d(release(10, 0), &npu, 8, bf16), 4_194_304);
        assert_eq!(d(release(10, 0), &npu, 16, bf16), 2_097_152);
        assert_eq!(d(LATEST, &hpu, 8, fp8), 0);
        assert!(Vllm
            .mla_derived_note(LATEST, &cuda, fp8)
            .contains("BF16 copy"));
        assert!(Vllm
            .mla_derived_note(release(7, 3), &cuda, fp8)
            .contains("absorbed"));
        // What the decode leaves unread, DeepSeek-V3 at TP8 (16 heads; FP8 128-blocks carry 4 B
        // per block): kv_b_proj 4,096 × 512 = 2,097,152 B + 32 × 4 blocks × 4 B = 2,097,664 B.
        // At 0.7.3 also q_b_proj (3,072 × 1,536: 4,718,592 + 24 × 12 × 4 = 4,719,744 B), o_proj
        // (7,168 × 2,048: 14,680,064 + 56 × 16 × 4 = 14,683,648 B) and the BF16 W_UK / W_UV
        // (4,194,304 B): 25,695,360 B. A BF16 kv_b_proj is read through views: nothing.
        let u = |v, s: &Setup, w| Vllm.mla_decode_unread(v, s, rank(8, w));
        assert_eq!(u(LATEST, &cuda, fp8), 2_097_664);
        assert_eq!(u(release(7, 3), &cuda, fp8), 25_695_360);
        assert_eq!(u(LATEST, &cuda, bf16), 0);
        assert_eq!(u(release(10, 0), &npu, bf16), 4 * 1024 * 512 * 2);
        assert_eq!(u(LATEST, &hpu, fp8), 0);
    }

    proptest::proptest! {
        // The kv_b copy is 2·L·N·(P+V) bytes for N = heads / TP local heads on CUDA when
        // quantised (none in BF16), on Ascend whatever the format: it never grows with TP.
        #[test]
        fn kv_b_copy_by_heads_and_tp(heads in 1u64..256, tp in 1u64..64, l in 1u64..1024) {
            let mut mla = crate::model::Mla::deepseek_v3();
            mla.heads = heads;
            mla.kv_lora_rank = l;
            let cuda = Setup { cuda: true, ..Setup::default() };
            let npu = Setup { npu: true, ..Setup::default() };
            let n = (heads / tp).max(1);
            let fp8 = WeightFormat::Fp8Block128;
            proptest::prop_assert_eq!(mla_kv_b_copy_bytes(&mla, tp, fp8, &cuda), 2 * l * n * 256);
            proptest::prop_assert_eq!(mla_kv_b_copy_bytes(&mla, tp, WeightFormat::Bf16, &cuda), 0);
            proptest::prop_assert_eq!(
                mla_kv_b_copy_bytes(&mla, tp, WeightFormat::Bf16, &npu),
                mla_kv_b_copy_bytes(&mla, tp, fp8, &cuda)
            );
            proptest::prop_assert!(
                mla_kv_b_copy_bytes(&mla, tp + 1, fp8, &cuda) <= mla_kv_b_copy_bytes(&mla, tp, fp8, &cuda)
            );
        }
    }

    // gpt-oss-120b on one chip, BF16 KV: 8 KV heads × 64 × 2 (K, V) × 2 B = 2048 B per layer per
    // token; 18 window-128 layers and 18 full layers → 2 groups of 18, page 16 · 2048 = 32 KiB.
    // num_blocks = budget // 32 KiB // 18. A 32k request needs 2048 full blocks +
    // cdiv(min(127 + 8192, 32768), 16) + 1 = 521 window blocks.
    /// The remembered layouts (`HYBRID`) answer as a fresh computation, through hits and
    /// evictions: six layouts (gpt-oss at three block sizes, and with 24 window layers) cycled
    /// twice on one thread, four remembered at a time. gpt-oss at block b: 18 full layers need
    /// 32768 / b blocks, 18 window layers ⌈(128 − 1 + 8192) / b⌉ + 1, one group each.
    #[test]
    fn remembered_layouts_match_fresh_ones() {
        let gpt_oss = crate::engine::pool::gpt_oss_specs();
        let mut wider = gpt_oss;
        for s in &mut wider {
            if matches!(s.spec, KvSpec::Window { .. }) {
                s.layers = 24;
            }
        }
        let prof = profile(release(19, 0));
        let budget = 40u64 << 30;
        for _ in 0..2 {
            for specs in [&gpt_oss, &wider] {
                for block in [16u64, 32, 64] {
                    let p = crate::engine::pool::params(block, 32768);
                    let got = hybrid(specs, budget, &p, prof).unwrap().unwrap();
                    let fresh = hybrid_capacity(
                        &hybrid_layout(specs, block, prof).unwrap(),
                        budget,
                        &p,
                        prof.async_batches,
                    )
                    .unwrap();
                    assert_eq!(got, fresh);
                    if specs == &gpt_oss {
                        assert_eq!(got.blocks, budget / (2048 * block) / 18);
                        assert_eq!(
                            got.blocks_per_session,
                            32768 / block + 8319u64.div_ceil(block) + 1
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn hybrid_gpt_oss() {
        let specs = crate::engine::pool::gpt_oss_specs();
        let budget = 40u64 << 30;
        let c = capacity(&specs, budget, 16, 32768);
        assert_eq!(c.accounting, Accounting::VllmHybrid);
        assert_eq!(c.blocks, budget / 32768 / 18);
        assert_eq!(c.blocks_per_session, 2048 + 521);
        assert_eq!(c.sessions, c.blocks / 2569);
        assert_eq!(c.capacity_tokens, c.blocks / 2 * 16);
    }

    // Gemma-3-27B: 52 window-1024 layers and 10 full: group size 10 → 6 window groups + 1 full.
    #[test]
    fn hybrid_gemma_groups() {
        let specs = [
            LayerKv {
                spec: KvSpec::Window {
                    record: 8192,
                    window: 1024,
                },
                layers: 52,
            },
            LayerKv {
                spec: KvSpec::Full { record: 8192 },
                layers: 10,
            },
        ];
        let c = capacity(&specs, 60 << 30, 16, 131072);
        let window_blocks = (1023u64 + 8192).div_ceil(16) + 1;
        assert_eq!(c.blocks_per_session, 6 * window_blocks + 131072 / 16);
        assert_eq!(c.blocks, (60u64 << 30) / (16 * 8192) / 10);
        assert_eq!(c.capacity_tokens, c.blocks / 7 * 16);
    }

    // Qwen3-Next, TP1: full-attention record 2 heads × 512 × 2 B = 2048 B, Gated DeltaNet state
    // 1,097,728 B. vLLM raises the attention block to 16 · cdiv(1,097,728, 16 · 2048) = 544, so a
    // page is 544 · 2048 = 1,114,112 B; 36 linear + 12 full layers → 4 groups of 12.
    #[test]
    fn hybrid_mamba_pages() {
        let specs = [
            LayerKv {
                spec: KvSpec::State { bytes: 1_097_728 },
                layers: 36,
            },
            LayerKv {
                spec: KvSpec::Full { record: 2048 },
                layers: 12,
            },
        ];
        let budget = 100u64 << 30;
        let c = capacity(&specs, budget, 16, 262144);
        assert_eq!(c.block_size, 544);
        assert_eq!(c.blocks, budget / 1_114_112 / 12);
        assert_eq!(c.blocks_per_session, 3 + 262144u64.div_ceil(544));
    }

    // Window-only model (Mistral-7B, window 4096): capacity per session stops growing past the window.
    #[test]
    fn window_only_caps_at_the_window() {
        let specs = [LayerKv {
            spec: KvSpec::Window {
                record: 4096,
                window: 4096,
            },
            layers: 32,
        }];
        let a = capacity(&specs, 50 << 30, 16, 65536);
        let b = capacity(&specs, 50 << 30, 16, 1 << 20);
        assert_eq!(a.sessions, b.sessions);
        assert_eq!(a.blocks_per_session, (4095u64 + 8192).div_ceil(16) + 1);
    }
}

#[cfg(test)]
mod mxfp4_tests {
    use super::*;

    fn setup(cc: Option<(u32, u32)>, rocm: bool) -> Setup {
        Setup {
            cuda_capability: cc,
            rocm,
            ..Setup::default()
        }
    }

    // The backend `get_mxfp4_backend` picks per GPU and release (mxfp4.py @ v0.11.0, v0.12.0).
    #[test]
    fn mxfp4_backend_by_gpu_and_release() {
        let pad = |cc, rocm, v| {
            let (p, _) = mxfp4_padding(v, &setup(cc, rocm));
            (p.intermediate, p.hidden)
        };
        assert_eq!(pad(Some((9, 0)), false, release(11, 0)), (128, 256)); // Marlin
        assert_eq!(pad(Some((9, 0)), false, release(12, 0)), (64, 1)); // Triton
        assert_eq!(pad(Some((8, 0)), false, LATEST), (128, 256)); // Marlin below SM90
        assert_eq!(pad(Some((8, 9)), false, LATEST), (128, 256));
        assert_eq!(pad(Some((10, 0)), false, LATEST), (256, 256)); // FlashInfer
        assert_eq!(pad(Some((10, 3)), false, LATEST), (64, 1)); // SM103 is not SM100
        assert_eq!(pad(Some((12, 0)), false, LATEST), (128, 256));
        assert_eq!(pad(None, true, LATEST), (128, 1)); // ROCm
        assert_eq!(pad(None, false, LATEST), (1, 1)); // unknown: none
    }
}
