//! SGLang: `mem_fraction_static` reserves a share of the device for everything but weights and KV;
//! page size 1; hybrid SWA models split the budget into a full pool and a sliding-window pool.
//! Releases (code `minor · 100 + patch` of 0.minor.patch): 0.3.3–0.3.4 take the default fraction
//! from a TP table on every GPU; 0.4.6–0.4.7 from another TP table, GPUs above 80 GiB apart;
//! 0.5.3–0.5.4 and 0.5.23 derive it from the GPU's memory, the chunked-prefill size, the
//! CUDA-graph batch sizes and TP × PP (0.5.3 fixes it at 0.8 for DeepSeek sparse attention).
//! Releases in between are not modelled. The MLA weights SGLang derives after loading are in
//! [`sglang_mla`].

use super::pool::{self, mul, Accounting, Capacity, PoolParams};
use super::{overhead, settle, sglang_mla, ServingEngine, Setup, StageMemory};
use crate::error::{Error, Result};
use crate::kv::{KvSpec, LayerKv};
use crate::precision::WeightFormat;

/// SGLang.
pub struct Sglang;

/// The newest release kvsim models, used when no version is given.
pub const LATEST: u32 = 523;
/// The releases kvsim models.
const MODELLED: &[(u32, &str)] = &[
    (303, "0.3.3"),
    (304, "0.3.4"),
    (406, "0.4.6"),
    (407, "0.4.7"),
    (503, "0.5.3"),
    (504, "0.5.4"),
    (523, "0.5.23"),
];

const MIB: f64 = 1048576.0;

/// 0.3.3–0.3.4 `ServerArgs.__post_init__` (`python/sglang/srt/server_args.py` @ v0.3.3, v0.3.4):
/// 0.88 at TP1, 0.87 TP2, 0.85 TP4, 0.83 TP8, 0.79 TP16, whatever the GPU's memory.
fn table_fraction_v03(setup: &Setup) -> f64 {
    match setup.tp {
        t if t >= 16 => 0.79,
        t if t >= 8 => 0.83,
        t if t >= 4 => 0.85,
        t if t >= 2 => 0.87,
        _ => 0.88,
    }
}

/// 0.4.6–0.4.7 `ServerArgs.__post_init__`: 0.88 at TP1, 0.87 TP2, 0.85 TP4, 0.81 TP8, 0.79 TP16 on
/// GPUs of at most 80 GiB; larger GPUs reserve 13 GiB.
fn table_fraction(setup: &Setup) -> f64 {
    let gpu = setup.total_memory as f64 / MIB;
    if gpu > 80.0 * 1024.0 {
        return (gpu - 13.0 * 1024.0) / gpu;
    }
    match setup.tp {
        t if t >= 16 => 0.79,
        t if t >= 8 => 0.81,
        t if t >= 4 => 0.85,
        t if t >= 2 => 0.87,
        _ => 0.88,
    }
}

/// Prefill CUDA-graph capture sizes up to `max_bs` (`cuda_graph_hook.py::
/// generate_prefill_cuda_graph_batch_sizes` @ v0.5.23).
fn prefill_graph_sizes(max_bs: u64) -> usize {
    let steps: [(u64, u64, u64); 6] = [
        (4, 32, 4),
        (48, 256, 16),
        (288, 512, 32),
        (576, 1024, 64),
        (1280, 4096, 256),
        (4608, u64::MAX, 512),
    ];
    steps
        .iter()
        .map(|&(lo, hi, step)| {
            let top = hi.min(max_bs);
            if top < lo {
                0
            } else {
                ((top - lo) / step + 1) as usize
            }
        })
        .sum()
}

/// 0.5.3–0.5.4 `ServerArgs._handle_gpu_memory_settings` (`python/sglang/srt/server_args.py` @
/// v0.5.3, v0.5.3.post1, v0.5.4; the CUDA branches are the same in all three): chunked-prefill size
/// and decode CUDA-graph batch by GPU memory (MiB), then the reserve is
/// `512 + 1.5 · max(chunk, 2048) + 2 · max_bs + TP·PP/8 GiB`, with DP attention also
/// `3 · max_bs · dp` (and `1.5 · max_bs · dp` more when `max_bs > 300`), at least 10 GiB on GPUs
/// above 60 GiB; `fraction = round((gpu − reserved) / gpu, 3)`. No prefill-graph reserve yet.
/// Then v0.5.3's `_handle_model_specific_adjustments` overwrites the fraction with 0.8 for
/// DeepSeek sparse attention on CUDA ("Setting mem fraction static to 0.8 for DeepSeek NSA", a
/// user's value included; kvsim keeps a given `--memory-fraction`); sgl-project/sglang PR 11309
/// removed that (v0.5.3.post1). SGLang reads `gpu` from `nvidia-smi`
/// (`utils/common.py::get_nvgpu_memory_capacity`); kvsim takes the device total. Speculative
/// decoding's reserve and the multimodal adjustment are not modelled.
fn fraction_v053(version: u32, setup: &Setup) -> f64 {
    if version == 503 && setup.dsa && setup.cuda {
        return 0.8;
    }
    if setup.total_memory == 0 {
        return 0.88;
    }
    let gpu = setup.total_memory as f64 / MIB;
    let big_tp = setup.tp >= 4;
    let (chunk, max_bs) = match gpu {
        g if g < 20.0 * 1024.0 => (2048u64, 8u64),
        g if g < 35.0 * 1024.0 => (2048, if big_tp { 80 } else { 16 }),
        g if g < 60.0 * 1024.0 => (4096, if big_tp { 160 } else { 32 }),
        g if g < 160.0 * 1024.0 => (8192, if big_tp { 512 } else { 256 }),
        _ => (16384, 512),
    };
    let bs = max_bs as f64;
    let mut reserved = 512.0
        + chunk.max(2048) as f64 * 1.5
        + 2.0 * bs
        + (setup.tp * setup.pp) as f64 / 8.0 * 1024.0;
    if setup.attention_dp > 1 {
        let dp = setup.attention_dp as f64;
        reserved += bs * dp * 3.0;
        if max_bs > 300 {
            reserved += bs * dp * 1.5;
        }
    }
    if gpu > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    ((gpu - reserved) / gpu * 1000.0).round() / 1000.0
}

/// 0.5.23 `arg_groups/memory_hook.py::handle_gpu_memory_settings` and `reserve_for_graph_mb`:
/// chunked-prefill size and decode CUDA-graph batch by GPU memory (MiB), then
/// `reserved = 512 + 1.5 · max(chunk, 2048) + TP·PP/8 GiB + graph reserve` (at least 10 GiB on
/// GPUs above 60 GiB) and `fraction = round((gpu − reserved) / gpu, 3)`. The graph reserve is 2 MiB
/// per decode batch size slot, 3 (4.5 above 300) per slot and attention-DP rank with DP-attention,
/// and on CUDA without PP 8 MiB per prefill capture size (1.5 GiB for MLA backends). The
/// multimodal adjustment and DeepEP buffers are not modelled.
fn current_fraction(setup: &Setup) -> f64 {
    if setup.total_memory == 0 {
        return 0.95;
    }
    let gpu = setup.total_memory as f64 / MIB;
    let big_tp = setup.tp >= 4;
    let (chunk, max_bs) = match gpu {
        g if g < 20.0 * 1024.0 => (2048u64, 8u64),
        g if g < 35.0 * 1024.0 => (4096, if big_tp { 160 } else { 48 }),
        g if g < 60.0 * 1024.0 => (4096, if big_tp { 160 } else { 32 }),
        g if g < 160.0 * 1024.0 => (8192, if big_tp { 512 } else { 256 }),
        _ => (16384, 512),
    };
    let mut graph = 2.0 * max_bs as f64;
    if setup.attention_dp > 1 {
        let dp = setup.attention_dp as f64;
        graph += max_bs as f64 * dp * 3.0;
        if max_bs > 300 {
            graph += max_bs as f64 * dp * 1.5;
        }
    }
    if setup.cuda && setup.pp <= 1 {
        graph += if setup.mla {
            1.5 * 1024.0
        } else {
            prefill_graph_sizes(chunk) as f64 * 8.0
        };
    }
    let mut reserved =
        512.0 + chunk.max(2048) as f64 * 1.5 + (setup.tp * setup.pp) as f64 / 8.0 * 1024.0 + graph;
    if gpu > 60.0 * 1024.0 {
        reserved = reserved.max(10.0 * 1024.0);
    }
    ((gpu - reserved) / gpu * 1000.0).round() / 1000.0
}

/// The model classes whose input embedding SGLang lays out by DP attention: the entry classes of
/// `python/sglang/srt/models/deepseek_v2.py` (@ v0.4.6, v0.4.7, v0.5.3, v0.5.4, v0.5.23).
const DP_ATTENTION_EMBEDDING: &[&str] = &[
    "DeepseekV2ForCausalLM",
    "DeepseekV3ForCausalLM",
    "DeepseekV32ForCausalLM",
];

/// TP degree of the input embedding (`deepseek_v2.py::DeepseekV2Model.__init__`). Without DP
/// attention it is split over the TP group like every vocabulary-parallel tensor. With it:
/// 0.4.6–0.5.4 build `VocabParallelEmbedding(enable_tp=not enable_dp_attention)`, a whole table
/// on every rank (@ v0.4.6, v0.4.7, v0.5.3, v0.5.4); 0.5.23 takes `get_embedding_tp_kwargs()`
/// (`layers/vocab_parallel_embedding.py` @ v0.5.23): `use_attn_tp_group=True`, split over the
/// attention TP group (`tp / dp`), whole only with `SGLANG_ENABLE_EMBED_REPLICATION` (default
/// off). 0.3.3–0.3.4 have no DP attention in this model: always the TP group. Everything else keeps
/// its split under DP attention at these releases: the lm_head is `ParallelLMHead` over the TP
/// group (`use_attn_tp_group=enable_dp_lm_head`, off by default), the dense first-k layers' MLP
/// over the TP group (`tp_size=None` unless `moe_dense_tp_size == 1`, default None), the shared
/// experts over the TP group (without DeepEP), and attention over `tp / dp` (already kvsim's
/// attention TP).
fn embedding_tp(version: u32, setup: &Setup, architecture: &str) -> u64 {
    // Kimi-K2.5 (0.5.23 only here) wraps `DeepseekV3ForCausalLM` (`models/kimi_k25.py` @ v0.5.23).
    let deepseek = DP_ATTENTION_EMBEDDING.contains(&architecture)
        || (version >= 523 && architecture == "KimiK25ForConditionalGeneration");
    if setup.attention_dp <= 1 || version < 406 || !deepseek {
        return setup.tp;
    }
    if version >= 523 {
        (setup.tp / setup.attention_dp).max(1)
    } else {
        1
    }
}

impl ServingEngine for Sglang {
    fn name(&self) -> &'static str {
        "sglang"
    }

    fn parse_version(&self, version: Option<&str>) -> Result<u32> {
        let v = match version.map(str::trim) {
            None | Some("latest") => return Ok(LATEST),
            Some(v) => v.trim_start_matches('v'),
        };
        MODELLED
            .iter()
            .find(|(_, name)| *name == v)
            .map(|(code, _)| *code)
            .ok_or_else(|| {
                Error::field(
                    "command line",
                    "--engine-version",
                    v,
                    "an SGLang release kvsim models: 0.3.3, 0.3.4, 0.4.6, 0.4.7, 0.5.3, 0.5.4 or 0.5.23 (latest)",
                )
            })
    }

    fn embedding_tp(&self, version: u32, setup: &Setup, architecture: &str) -> u64 {
        embedding_tp(version, setup, architecture)
    }

    /// `w_kc` / `w_vc` split from `kv_b_proj` after loading ([`sglang_mla`]).
    fn mla_derived_weights(&self, version: u32, setup: &Setup, l: super::MlaRank<'_>) -> u64 {
        sglang_mla::w_kc_w_vc_bytes(version, setup, l.mla, l.tp, l.attention)
    }

    /// The absorbed decode (`forward_absorb`) reads `w_kc` / `w_vc`, not `kv_b_proj`
    /// ([`sglang_mla::decode_unread_bytes`]).
    fn mla_decode_unread(&self, version: u32, setup: &Setup, l: super::MlaRank<'_>) -> u64 {
        sglang_mla::decode_unread_bytes(version, setup, l.mla, l.tp, l.attention)
    }

    /// Rope tables kept in FP32 on CUDA from 0.4.6 (SGLang's own `get_rope`; on ROCm too at
    /// 0.5.23), in the model dtype through vLLM's `get_rope` at 0.3.3–0.3.4 (`models/llama.py`,
    /// `deepseek_v2.py` import it there); MRoPE over max_position (src/engine/position_tables.rs
    /// cites the code); vision sin-cos tables not counted (SGLang's MiniCPM-V not read).
    fn position_rule(
        &self,
        version: u32,
        setup: &Setup,
    ) -> Option<super::position_tables::PositionRule> {
        use super::position_tables::{PositionRule, MODEL_DTYPE_BYTES};
        let own = version >= 406;
        let fp32 = own && (setup.cuda || (setup.rocm && version >= 523));
        Some(PositionRule {
            rope_bytes: if fp32 { 4 } else { MODEL_DTYPE_BYTES },
            mrope_rows: 1,
            mrope_factor_by_model: false,
            mla_yarn_copies: 1,
            sincos_bytes: 0,
            source: match (own, fp32) {
                (false, _) => "SGLang 0.3 through vLLM's get_rope (rotary_embedding @ vLLM 0.6.3)",
                (true, true) => "SGLang get_rope with an FP32 cos/sin cache (srt/layers/rotary_embedding @ 0.4.6–0.5.23)",
                (true, false) => "SGLang get_rope (srt/layers/rotary_embedding @ 0.4.6–0.5.23)",
            },
        })
    }

    fn mla_derived_note(&self, version: u32, setup: &Setup, attention: WeightFormat) -> String {
        let what = sglang_mla::kv_b_split(version, setup, attention).what;
        if version < 400 {
            format!("splits each MLA layer's kv_b_proj into w_kc / w_vc after loading ({what}) and deletes it, but at one local head w_vc is a view that keeps kv_b_proj alive beside w_kc")
        } else {
            format!("splits each MLA layer's kv_b_proj into new w_kc / w_vc tensors after loading ({what}) and keeps kv_b_proj for the MHA prefill")
        }
    }

    fn write_label(&self, version: u32, out: &mut dyn std::fmt::Write) -> std::fmt::Result {
        write!(out, "sglang 0.{}.{}", version / 100, version % 100)
    }

    fn default_fraction(&self, version: u32, setup: &Setup) -> f64 {
        if version < 400 {
            table_fraction_v03(setup)
        } else if version < 408 {
            table_fraction(setup)
        } else if version < 523 {
            fraction_v053(version, setup)
        } else {
            current_fraction(setup)
        }
    }

    fn default_block_size(&self, _version: u32, _chip_default: u64) -> u64 {
        1
    }

    /// The index tensors of compressed-tensors' WNA16 MoE method on ROCm. On ROCm 0.5.23 serves
    /// symmetric INT4/INT8 group-quantised experts with `CompressedTensorsWNA16TritonMoE`
    /// (`compressed_tensors.py::CompressedTensorsConfig.get_moe_scheme`: `elif _is_hip`), which
    /// inherits `CompressedTensorsWNA16MoE.create_weights` — `w13_weight_g_idx` and
    /// `w13_g_idx_sort_indices` of experts × hidden int32, `w2_weight_g_idx` and
    /// `w2_g_idx_sort_indices` of experts × intermediate int32 — but its
    /// `process_weights_after_loading` only repacks weights and scales, where the Marlin method
    /// replaces the four by empty tensors (`schemes/compressed_tensors_wNa16_moe.py` @ v0.5.9,
    /// v0.5.23): 2 × experts × (hidden + intermediate) × 4 B per layer, alive when the KV cache is
    /// sized. Kimi-K2.5 at TP8: 2 × 384 × (7,168 + 256) × 4 B × 60 layers = 1.27 GiB per rank.
    /// 0.5.3–0.5.4 have no Triton WNA16 method (ROCm went to Marlin); on Blackwell 0.5.23 picks
    /// the Triton method too when the MoE backend is `auto`, unless it resolves to FlashInfer's
    /// TRT-LLM kernels first, which was not read: CUDA keeps none.
    fn moe_layer_extra(
        &self,
        version: u32,
        setup: &Setup,
        format: WeightFormat,
        shape: super::MoeShape,
    ) -> Option<(u64, &'static str)> {
        let wna16 = matches!(
            format,
            WeightFormat::Int4 { .. }
                | WeightFormat::IntGroup {
                    bits: 4 | 8,
                    zeros: false,
                    g_idx: false,
                    ..
                }
        );
        (setup.rocm && version >= 523 && wna16).then(|| {
            (
                2 * shape.experts * (shape.hidden + shape.intermediate) * 4,
                "keeps the WNA16 Triton MoE method's int32 g_idx and sort-index tensors (experts × (hidden + intermediate) each, ×2) on ROCm",
            )
        })
    }

    /// SGLang sizes its weights as free device memory before less after loading them, each
    /// read after `torch.cuda.empty_cache()` (`model_runner.py::ModelRunner.load_model`,
    /// `utils.py::get_available_gpu_memory` @ v0.3.5, v0.4.9.post2; `utils/common.py` @
    /// v0.5.8.post1), so the weights' allocator segments count there whole (free space, rounding
    /// and rests); it
    /// sets no `PYTORCH_CUDA_ALLOC_CONF` (expandable segments off). CUDA and ROCm alike, and an
    /// Ascend NPU: the same function reads `torch.npu.empty_cache()` then
    /// `torch.npu.mem_get_info()` (@ v0.5.8.post1), through torch_npu's allocator, which pads
    /// every request by 32 B (`NPUCachingAllocator.cpp::round_size`; from torch_npu v26.1.0 not on
    /// an Ascend 950 or later with a new CANN, `AddPadSize` — kvsim keeps the 32 B, as the
    /// torch_npu an SGLang release runs on such a chip is not pinned).
    fn weight_segments(
        &self,
        _version: u32,
        setup: &Setup,
    ) -> Option<super::allocator::SegmentRule> {
        use super::allocator::{CachingAllocator, Charge, SegmentRule};
        let allocator = match setup {
            s if s.hpu => return None,
            s if s.npu => CachingAllocator::TORCH_NPU,
            s if s.cuda || s.rocm => CachingAllocator::CUDA,
            _ => return None,
        };
        Some(SegmentRule {
            allocator,
            charge: Charge::Reserved,
        })
    }

    /// NCCL and custom all-reduce buffers on an NVIDIA GPU whose `[nccl]` links the catalog
    /// states, at every modelled release ([`overhead::NcclNonTorch::sglang`]).
    fn comm_non_torch(&self, _version: u32, setup: &Setup) -> Option<overhead::CommNonTorch> {
        let links = setup.nccl?;
        (setup.cuda && !setup.npu && !setup.hpu && !setup.rocm && setup.tp > 1)
            .then(|| overhead::CommNonTorch::Nccl(overhead::NcclNonTorch::sglang(links, setup.tp)))
    }

    /// Both terms of the budget are free device memory ([`Sglang::budget`]; the first measured
    /// after `init_torch_distributed`, `model_runner.py` @ v0.4.7, v0.4.10): what other processes
    /// hold is lost to it.
    fn other_processes(
        &self,
        _version: u32,
        _setup: &Setup,
    ) -> super::other_processes::OtherProcesses {
        super::other_processes::OtherProcesses::Lost { read: true }
    }

    /// `free after weights − free before weights · (1 − mem_fraction_static)`: both are free device
    /// memory, the second measured before the model loads, i.e. the device less the non-torch
    /// (CUDA/NCCL context) memory (`model_runner.py::ModelRunner.profile_max_num_token` @ v0.4.10,
    /// `mem_cache/kv_cache_configurator.py::_profile_available_bytes` @ v0.5.23).
    fn budget(&self, _version: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        let free = total.saturating_sub(m.non_torch);
        settle(
            free,
            m.weights
                .saturating_add((free as f64 * (1.0 - fraction)).ceil() as u64),
        )
    }

    fn capacity(
        &self,
        _version: u32,
        specs: &[LayerKv],
        budget: u64,
        p: &PoolParams,
    ) -> Result<Capacity> {
        if let Some(c) = pool::common(specs, budget, p) {
            return c;
        }
        let attention_only = specs
            .iter()
            .all(|s| matches!(s.spec, KvSpec::Full { .. } | KvSpec::Window { .. }));
        let has_full = specs.iter().any(|s| matches!(s.spec, KvSpec::Full { .. }));
        match (attention_only, has_full) {
            (true, true) => swa_split(specs, budget, p),
            (true, false) => {
                // The SWA pool needs full layers beside the window ones; an all-window model
                // (Mistral-7B) is served as full attention.
                let merged = [LayerKv {
                    spec: KvSpec::Full {
                        record: specs.iter().map(|s| s.spec.record() * s.layers).sum(),
                    },
                    layers: 1,
                }];
                pool::uniform(&merged, budget, p)
            }
            _ => pool::per_session(specs, budget, p),
        }
    }

    fn kv_format(&self, version: u32, r: &super::KvRequest) -> super::KvChoice {
        super::kv_format::sglang(version, r)
    }

    fn formula(&self, version: u32, f: f64) -> String {
        format!(
            "{}: (total − non-torch) × {f} − weights",
            self.label(version)
        )
    }
}

/// Hybrid SWA: a full pool of F tokens and a SWA pool of r·F tokens sharing the budget.
fn swa_split(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let (mut full_bpt, mut swa_bpt, mut window) = (0u64, 0u64, 0u64);
    let add = |acc: u64, record: u64, layers: u64| {
        acc.checked_add(mul(record, layers)?)
            .ok_or_else(|| Error::overflow("KV bytes per token"))
    };
    for s in specs {
        match s.spec {
            KvSpec::Full { record } => full_bpt = add(full_bpt, record, s.layers)?,
            KvSpec::Window { record, window: w } => {
                swa_bpt = add(swa_bpt, record, s.layers)?;
                window = window.max(w);
            }
            _ => {}
        }
    }
    let r = p.swa_full_tokens_ratio;
    let page = p.block.max(1);
    let full_tokens =
        (budget as f64 / (full_bpt as f64 + r * swa_bpt as f64)).floor() as u64 / page * page;
    let swa_tokens = (full_tokens as f64 * r).floor() as u64 / page * page;
    let full_need = p.context.div_ceil(page) * page;
    let swa_need = p.context.min(window + page).div_ceil(page) * page;
    let by_full = full_tokens as f64 / full_need as f64;
    let by_swa = swa_tokens as f64 / swa_need as f64;
    Ok(Capacity {
        accounting: Accounting::SglangSwa,
        block_size: page,
        blocks: full_tokens / page,
        blocks_per_session: full_need / page,
        bytes_per_session: mul(full_need, full_bpt)?.saturating_add(mul(swa_need, swa_bpt)?),
        capacity_tokens: full_tokens,
        max_concurrency: by_full.min(by_swa),
        sessions: (full_tokens / full_need).min(swa_tokens / swa_need),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pool::params;

    fn setup(gib: f64, tp: u64, mla: bool) -> Setup {
        Setup {
            tp,
            pp: 1,
            attention_dp: 1,
            total_memory: (gib * (1u64 << 30) as f64) as u64,
            cuda: true,
            mla,
            ..Setup::default()
        }
    }

    /// NCCL's share on CUDA with `[nccl]` links at TP ≥ 2; the estimate elsewhere (ROCm's RCCL,
    /// chips without links, TP1).
    #[test]
    fn comm_non_torch_on_cuda_only() {
        let links = overhead::NcclLinks {
            channels: 24,
            channels_assumed: false,
            peer_access: true,
            nvls: true,
        };
        let h100 = Setup {
            nccl: Some(links),
            cuda_capability: Some((9, 0)),
            ..setup(79.19, 4, false)
        };
        let got = Sglang.comm_non_torch(406, &h100).map(|c| c.bytes());
        assert_eq!(got, Some(1114 << 20));
        assert_eq!(Sglang.comm_non_torch(523, &h100).map(|c| c.bytes()), got);
        let rocm = Setup { rocm: true, ..h100 };
        assert_eq!(Sglang.comm_non_torch(523, &rocm), None);
        assert_eq!(Sglang.comm_non_torch(523, &setup(79.19, 4, false)), None);
        let tp1 = Setup { tp: 1, ..h100 };
        assert_eq!(Sglang.comm_non_torch(523, &tp1), None);
    }

    /// Kimi-K2.5 at TP8 on ROCm (0.5.23): 2 × 384 × (7,168 + 256) × 4 B = 22,806,528 B per MoE
    /// layer; none on CUDA, before 0.5.23, or for FP8 experts.
    #[test]
    fn wna16_triton_moe_index_tensors_on_rocm() {
        let shape = super::super::MoeShape {
            experts: 384,
            hidden: 7168,
            intermediate: 256,
            bias: false,
        };
        let int4 = WeightFormat::Int4 { group: 32 };
        let rocm = Setup {
            rocm: true,
            ..setup(288.0, 8, true)
        };
        let got = Sglang.moe_layer_extra(523, &rocm, int4, shape).map(|x| x.0);
        assert_eq!(got, Some(22_806_528));
        assert_eq!(Sglang.moe_layer_extra(504, &rocm, int4, shape), None);
        assert_eq!(
            Sglang.moe_layer_extra(523, &setup(80.0, 8, true), int4, shape),
            None
        );
        assert_eq!(
            Sglang.moe_layer_extra(523, &rocm, WeightFormat::Fp8Block128, shape),
            None
        );
    }

    // Input embedding TP under DP attention (`deepseek_v2.py::DeepseekV2Model` @ v0.4.6, v0.5.3,
    // v0.5.4: `enable_tp=not enable_dp_attention`; @ v0.5.23: `get_embedding_tp_kwargs`, attention TP).
    #[test]
    fn dp_attention_embedding_tp() {
        let dpa = |dp: u64| Setup {
            attention_dp: dp,
            ..setup(178.18, 8, true)
        };
        let v3 = "DeepseekV3ForCausalLM";
        assert_eq!(embedding_tp(504, &dpa(1), v3), 8);
        assert_eq!(embedding_tp(503, &dpa(8), v3), 1);
        assert_eq!(embedding_tp(406, &dpa(4), "DeepseekV2ForCausalLM"), 1);
        assert_eq!(embedding_tp(523, &dpa(4), "DeepseekV32ForCausalLM"), 2);
        assert_eq!(
            embedding_tp(523, &dpa(2), "KimiK25ForConditionalGeneration"),
            4
        );
        assert_eq!(
            embedding_tp(504, &dpa(2), "KimiK25ForConditionalGeneration"),
            8
        );
        assert_eq!(embedding_tp(304, &dpa(8), v3), 8);
        assert_eq!(embedding_tp(523, &dpa(8), "Qwen3MoeForCausalLM"), 8);
    }

    #[test]
    fn table_era_fraction_by_tp() {
        assert_eq!(Sglang.default_fraction(406, &setup(79.19, 1, false)), 0.88);
        assert_eq!(Sglang.default_fraction(407, &setup(79.19, 8, false)), 0.81);
        // 0.3.x has no large-GPU branch: an MI300X (191.33 GiB free) at TP1 takes 0.88, where
        // 0.4.6 reserves 13 GiB; TP8 is 0.83 (server_args.py @ v0.3.3, v0.3.4).
        let mi300x = setup(191.98, 1, false);
        assert_eq!(Sglang.default_fraction(304, &mi300x), 0.88);
        assert!(Sglang.default_fraction(406, &mi300x) > 0.93);
        assert_eq!(Sglang.default_fraction(303, &setup(79.19, 8, false)), 0.83);
    }

    // 0.5.23 on an H100 (79.19 GiB = 81,090.56 MiB), TP1, GQA: chunk 8192, decode batch 256,
    // 58 prefill capture sizes up to 8192 → reserved = 512 + 12,288 + 128 + 512 + 464 = 13,904 MiB;
    // (81,090.56 − 13,904) / 81,090.56 = 0.8285 → 0.829. DeepSeek-V3 (MLA) on an H200 of
    // 139.81 GiB (143,165.44 MiB), TP8: batch 512, reserved = 512 + 12,288 + 1,024 + 1,024 + 1,536
    // = 16,384 → (143,165.44 − 16,384) / 143,165.44 = 0.8856 → 0.886.
    #[test]
    fn current_fraction_from_memory_and_graphs() {
        assert_eq!(prefill_graph_sizes(8192), 58);
        assert_eq!(
            Sglang.default_fraction(LATEST, &setup(79.19, 1, false)),
            0.829
        );
        assert_eq!(
            Sglang.default_fraction(LATEST, &setup(139.81, 8, true)),
            0.886
        );
        // A 24 GiB GPU: chunk 4096, batch 48, 50 prefill sizes, no floor: 512 + 6144 + 128 + 96 + 400.
        assert_eq!(prefill_graph_sizes(4096), 50);
        let g: f64 = 24.0 * 1024.0;
        let want = ((g - (512.0 + 6144.0 + 128.0 + 96.0 + 400.0)) / g * 1000.0).round() / 1000.0;
        assert_eq!(
            Sglang.default_fraction(LATEST, &setup(24.0, 1, false)),
            want
        );
    }

    // 0.5.3 / 0.5.4 (server_args.py::_handle_gpu_memory_settings): a B200 of 178.18 GiB
    // (182,456.3 MiB), TP8 with 8 DP-attention ranks: chunk 16,384, batch 512 → reserved = 512 +
    // 24,576 + 1,024 + 1,024 + 12,288 + 6,144 = 45,568 MiB → 0.750; v0.5.3 fixes DeepSeek sparse
    // attention at 0.8 on CUDA. An H100 (81,090.56 MiB) at TP1: 512 + 12,288 + 512 + 128 = 13,440
    // → 0.834 (0.5.23 adds 464 MiB of prefill graphs: 0.829).
    #[test]
    fn v053_fraction() {
        let mut b200 = setup(178.18, 8, true);
        b200.attention_dp = 8;
        assert_eq!(Sglang.default_fraction(504, &b200), 0.75);
        assert_eq!(Sglang.default_fraction(503, &b200), 0.75);
        b200.dsa = true;
        assert_eq!(Sglang.default_fraction(503, &b200), 0.8);
        assert_eq!(Sglang.default_fraction(504, &b200), 0.75);
        assert_eq!(Sglang.default_fraction(504, &setup(79.19, 1, false)), 0.834);
        // 24 GiB, TP1: chunk 2048, batch 16, no floor: 512 + 3072 + 32 + 128.
        let g: f64 = 24.0 * 1024.0;
        let want = ((g - (512.0 + 3072.0 + 32.0 + 128.0)) / g * 1000.0).round() / 1000.0;
        assert_eq!(Sglang.default_fraction(504, &setup(24.0, 1, false)), want);
    }

    #[test]
    fn versions() {
        assert_eq!(Sglang.parse_version(None).unwrap(), LATEST);
        assert_eq!(Sglang.parse_version(Some("0.4.6")).unwrap(), 406);
        let e = Sglang.parse_version(Some("0.5.0")).unwrap_err().to_string();
        assert!(e.contains("0.4.7, 0.5.3, 0.5.4 or 0.5.23"), "{e}");
        assert_eq!(Sglang.parse_version(Some("0.5.3")).unwrap(), 503);
        assert_eq!(Sglang.parse_version(Some("v0.5.4")).unwrap(), 504);
        assert_eq!(Sglang.parse_version(Some("0.3.4")).unwrap(), 304);
        assert_eq!(Sglang.label(523), "sglang 0.5.23");
    }

    // F = budget / (full B/token + 0.8 · SWA B/token); SWA pool 0.8·F.
    #[test]
    fn swa_split_of_gpt_oss() {
        let specs = crate::engine::pool::gpt_oss_specs();
        let budget = 36_864u64 * 1_000_000;
        let c = Sglang
            .capacity(0, &specs, budget, &params(1, 8192))
            .unwrap();
        let f = (budget as f64 / (36_864.0 + 0.8 * 36_864.0)).floor() as u64;
        assert_eq!(c.accounting, Accounting::SglangSwa);
        assert_eq!(c.capacity_tokens, f);
        assert_eq!(c.sessions, (f / 8192).min((f as f64 * 0.8) as u64 / 129));
    }

    // 80 GiB, 0.81, 1 GiB of context: the budget is 79 − 40 − 0.19 · 79 GiB.
    #[test]
    fn budget_reserves_the_static_fraction() {
        let g = 1u64 << 30;
        let m = StageMemory {
            weights: 40 * g,
            activation: 5 * g,
            non_torch: g,
            cuda_graph: g,
        };
        let (b, short) = Sglang.budget(LATEST, &m, 80 * g, 0.81);
        assert_eq!(short, 0);
        assert_eq!(b, 79 * g - 40 * g - (79.0 * g as f64 * 0.19).ceil() as u64);
    }
}
