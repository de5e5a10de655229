//! Estimates of the memory a serving engine takes besides weights and KV cache, used when the user
//! does not give measured values. Each is documented with where it comes from.

use crate::error::{Error, Result};
use crate::model::{Ffn, Mla, Model};
use serde::{Deserialize, Serialize};

/// Bytes per GiB, as an integer.
const GIB: u64 = 1 << 30;

/// The terms of the peak activation memory of vLLM's profiling run.
///
/// vLLM profiles one forward pass of `max_num_batched_tokens` tokens plus a sampler pass over
/// `max_num_seqs` dummy requests, and budgets the torch peak. Estimate (BF16 activations):
/// - forward: `T × (2·hidden + q/k/v width + 3·ffn width) × 2 B` — residual + normed hidden, the
///   q/k/v projection output, and the FFN's gate/up output (2·width) with its activation (width);
///   for MoE the ffn width is `top_k × expert width + shared width` (the fused-MoE intermediate);
/// - sampler: `max_num_seqs × vocab × B` bytes, `B` the bytes alive per logit at the sampler's
///   peak ([`SamplerRule`]).
///
/// How the two combine is the engine's [`SamplerRule`]: vLLM (V0 and V1) samples after the forward
/// pass has returned and freed its intermediates, so its peak is the larger of the forward peak
/// and the sampler's (with the hidden states the forward pass returned still held); other
/// engines keep kvsim's older estimate, the sum of the forward peak and 8 B per logit.
/// Checked on an RTX 3090 with vLLM V0 (T = 20,000 and 29,000, V0 batches `max_model_len`
/// tokens): 2.14 / 3.10 GiB against the logged 2.07 / 2.99 GiB
/// (github.com/vllm-project/vllm/issues/10517).
///
/// Under tensor parallelism the q/k/v and FFN widths shrink with the TP degree; the residual does
/// not; the sampler runs on the last pipeline stage only (`with_sampler`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Activation {
    /// Forward-pass bytes per batched token (the widest layer without a fused-MoE workspace).
    pub per_token: u64,
    /// With a fused-MoE workspace ([`FusedMoe`]): the MoE layer's bytes per batched token outside
    /// the workspace, the workspace's bytes per token, and the tokens it holds at once (0: none).
    pub moe_base: u64,
    pub moe_workspace: u64,
    pub moe_chunk: u64,
    /// Bytes per batched token of the fused-MoE output buffer the modular kernel holds for the
    /// whole batch when it runs in several chunks ([`FusedMoe::chunked_output`]).
    pub moe_chunked_output: u64,
    /// The fused-MoE workspace stays allocated after the layer that sized it: through the later
    /// layers and the sampler ([`FusedMoe::persistent`]).
    pub moe_persistent: bool,
    /// Sampler bytes.
    pub sampler: u64,
    /// The peak is the larger of forward and sampler, not their sum.
    pub separate: bool,
    /// Held while the sampler runs (with `separate`): bytes per batched token (the forward
    /// pass's output hidden states) and fixed bytes (the sampled rows' hidden states).
    pub held_per_token: u64,
    pub held: u64,
    /// Factor on the estimate (a calibrated profile's; 1 otherwise).
    pub scale: f64,
}

/// vLLM's Triton fused-MoE kernel: the buffers one MoE layer allocates for `M` tokens, `top_k`
/// experts each, `N = 2 · expert width / TP` (gate and up) and `K = hidden`, in the activation
/// dtype (`vllm/model_executor/layers/fused_moe/fused_moe.py`):
/// - [`MoeWorkspace::Separate`] (`fused_experts_impl` @ v0.7.3): `intermediate_cache1` M·top_k·N,
///   `intermediate_cache2` M·top_k·N/2, `intermediate_cache3` M·top_k·K;
/// - [`MoeWorkspace::SharedCache13`] (`fused_experts_impl` @ v0.10.1): caches 1 and 3 share one
///   buffer of M·top_k·max(N, K), plus cache 2;
/// - [`MoeWorkspace::Modular`] (`TritonExperts.workspace_shapes` and
///   `modular_kernel.py::FusedMoEModularKernel._allocate_buffers` @ v0.14.0, v0.17.0, v0.18.0,
///   v0.19.1, v0.20.2): M·top_k·max(N/2, K) (the output, M·K, shares it) and M·top_k·max(N, K).
///
/// `M = min(tokens, VLLM_FUSED_MOE_CHUNK_SIZE)`: 65,536 up to v0.5.5, 32,768 from v0.6.0 to
/// v0.11.0, 16,384 from v0.12.0 to v0.17.0 (`vllm/envs.py` of each); from v0.18.0 the modular
/// kernel no longer chunks (the variable is gone) and `M` is the whole batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoeWorkspace {
    Separate,
    SharedCache13,
    Modular,
}

/// The fused-MoE workspace an engine allocates on a chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FusedMoe {
    pub workspace: MoeWorkspace,
    /// Tokens the workspace holds at once (`u64::MAX`: the whole batch).
    pub chunk: u64,
    /// The rows alive beside the workspace are counted as vLLM V0's eager forward holds them
    /// ([`EagerMoeRows`]), not by kvsim's older estimate.
    pub eager_rows: bool,
    /// Bytes per hidden element of the experts' input quantised for the first GEMM (FP8 w8a8
    /// experts): one byte, plus FP32 scales per 128 elements with block quantisation.
    pub quantised_input: QuantisedInput,
    /// The workspace is vLLM's persistent one (v0.14 on): `_allocate_buffers` takes it from the
    /// worker's `WorkspaceManager` (`vllm/v1/worker/workspace.py::WorkspaceManager.
    /// get_simultaneous`, which grows one `uint8` tensor and never frees it; @ v0.14.0, v0.17.0,
    /// v0.19.1), shared by every MoE layer. It is still allocated when the profiling run's
    /// sampler runs, so it adds to the sampler's peak. Before v0.14 the default (unquantised)
    /// path called `fused_experts`, whose caches are freed on return
    /// (`UnquantizedFusedMoEMethod.forward_cuda` @ v0.10.2, v0.11.0, v0.12.0, v0.13.0; from
    /// v0.14.0 `self.kernel`, a `FusedMoEModularKernel` over `TritonExperts`).
    pub persistent: bool,
}

/// How the Triton fused-MoE kernel quantises the experts' input for FP8 (w8a8) experts
/// (`invoke_fused_moe_kernel`, `vllm/model_executor/layers/fused_moe/fused_moe.py` @ v0.7.3):
/// `ops.scaled_fp8_quant` (one scale) or, with a block shape, `per_token_group_quant_fp8(A,
/// block_k)` (`quantization/utils/fp8_utils.py`): an FP8 copy of the input, M × K bytes, and
/// M × K / 128 FP32 scales, alive while the first GEMM runs beside the three caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantisedInput {
    None,
    PerTensor,
    Block128,
}

impl QuantisedInput {
    /// Bytes per token for a hidden size `hidden`.
    pub fn bytes_per_token(&self, hidden: u64) -> u64 {
        match self {
            QuantisedInput::None => 0,
            QuantisedInput::PerTensor => hidden,
            QuantisedInput::Block128 => hidden + 4 * hidden.div_ceil(128),
        }
    }
}

/// The hidden rows vLLM V0's eager forward keeps alive while a MoE layer's routed experts run,
/// per token, read at v0.5.1 and v0.7.3 (`vllm/model_executor/models/deepseek_v2.py`,
/// `mixtral.py`, `qwen2_moe.py`): the residual; the decoder layer's input, which the model's loop
/// still references while the layer runs (`for i in range(...): hidden_states, residual =
/// layer(positions, hidden_states, ...)`; the input norm writes into it in place); the MoE
/// block's input, which `fused_experts(..., inplace=True)` overwrites with the output; and the
/// shared experts' output, computed before the routed experts (their own intermediates are freed
/// by then). Beside them: the router logits (one activation-dtype element per expert) and the
/// routing's FP32 weights and int32 ids (`top_k` each). Under V1 the forward is compiled and
/// Inductor frees a buffer after its last use, so this count is V0's only.
pub struct EagerMoeRows;

impl EagerMoeRows {
    /// Activation-dtype elements per token outside the fused-MoE workspace.
    pub fn elements_per_token(hidden: u64, experts: u64, top_k: u64, shared: bool) -> u64 {
        (3 + u64::from(shared)) * hidden + experts + 4 * top_k
    }
}

impl FusedMoe {
    /// Elements per batched token of the output buffer the modular kernel allocates for the
    /// whole batch when the batch takes several chunks (otherwise the output shares the first
    /// workspace, `if num_chunks == 1` in `_allocate_buffers` @ v0.14.0, v0.17.0): `hidden`.
    pub fn chunked_output(&self, hidden: u64) -> u64 {
        if self.workspace == MoeWorkspace::Modular && self.chunk != u64::MAX {
            hidden
        } else {
            0
        }
    }

    /// The workspace in elements per token, for `top_k` experts of width `width` on one rank and
    /// hidden size `hidden`.
    pub fn elements_per_token(&self, top_k: u64, width: u64, hidden: u64) -> u64 {
        let (n, k) = (2 * width, hidden);
        let per_slot = match self.workspace {
            MoeWorkspace::Separate => n + n / 2 + k,
            MoeWorkspace::SharedCache13 => n.max(k) + n / 2,
            MoeWorkspace::Modular => (n / 2).max(k) + n.max(k),
        };
        top_k.saturating_mul(per_slot)
    }
}

/// vLLM V0's MLA prefill, which decompresses K and V for every batched token and runs flash
/// attention over them; the layer peaks inside `o_proj`'s all-reduce, where these are alive (per
/// token on one rank, `h` = heads / TP, activation dtype):
/// - the decoder layer's residual and normed input (`2·hidden`);
/// - `DeepseekV2MLAAttention.forward` (`vllm/model_executor/models/deepseek_v2.py`): `ckq` and the
///   normed `q_c` (`2·q_lora_rank`, none without one), `kv_a_proj_with_mqa`'s output
///   (`kv_lora_rank + rope`; `kv_c` and `k_pe` are views of it) and `kv_c_normed` (`kv_lora_rank`);
/// - the backend's `forward`: `q = q_proj(q_c)` (`h·(nope + rope)`);
/// - `_forward_prefill`: `kv_nope = kv_b_proj(kv_c_normed)` (`h·(nope + v)`), `k = cat(k_nope,
///   k_pe)` and `v_padded` (each `h·(nope + rope)`), the attention output cut to `v` and copied by
///   `reshape` (`h·v`; flash attention's padded output is freed by the rebinding), `o_proj`'s
///   output (`hidden`) and the all-reduce's out-of-place result (`hidden`, at TP ≥ 2:
///   `GroupCoordinator.all_reduce`, `vllm/distributed/parallel_state.py` and
///   `PyNcclCommunicator.all_reduce`'s `torch.empty_like`, @ v0.7.3 and v0.8.0).
///
/// By release:
/// - [`MlaPrefill::Utils`] (`MLACommonImpl.forward` and `_forward_prefill_flash`,
///   `vllm/attention/backends/mla/utils.py` @ v0.7.3): the rotary embedding returns a new `k_pe`
///   (`rope`);
/// - [`MlaPrefill::Common`] (`MLACommonImpl.forward` and `_forward_prefill`,
///   `vllm/attention/backends/mla/common.py` @ v0.8.0): RoPE is written in place, but `forward`
///   allocates the layer's output (`hidden`) before the prefill runs and copies into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MlaPrefill {
    Utils,
    Common,
}

impl MlaPrefill {
    /// Elements alive per batched token at the layer's peak, on one of `tp` attention ranks.
    pub fn elements_per_token(&self, mla: &Mla, hidden: u64, tp: u64) -> u64 {
        let tp = tp.max(1);
        let h = (mla.heads / tp).max(1);
        let (nope, rope, v) = (mla.qk_nope_head_dim, mla.qk_rope_head_dim, mla.v_head_dim);
        let layer = 2 * hidden;
        let projections = 2 * mla.q_lora_rank.unwrap_or(0) + 2 * mla.kv_lora_rank + rope;
        let q = h * (nope + rope);
        let prefill = h * (nope + v) + 2 * h * (nope + rope) + h * v;
        let o_proj = if tp > 1 { 2 * hidden } else { hidden };
        let by_release = match self {
            MlaPrefill::Utils => rope,
            MlaPrefill::Common => hidden,
        };
        layer + projections + q + prefill + o_proj + by_release
    }
}

/// How an engine's profiling run charges its sampler (see [`Activation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SamplerRule {
    /// Bytes alive per logit (`max_num_seqs × vocab` of them) at the sampler's peak.
    pub bytes_per_logit: u64,
    /// The sampler runs after the forward pass has freed its intermediates: the peak is the
    /// larger of the two, not their sum.
    pub after_forward: bool,
    /// Hidden-state rows (of `hidden` activation-dtype elements) the engine still holds while
    /// the sampler runs: per batched token (the forward pass's output) and per sequence (the
    /// sampled rows and their copies).
    pub held_rows_per_token: u64,
    pub held_rows_per_seq: u64,
    /// The GPU's multiprocessors when the sampler keeps a per-program FP32 scratch row of the
    /// vocabulary for each of up to that many rows (vLLM's Triton top-k/top-p kernel,
    /// [`SamplerRule::scratch_rows`]); 0: none.
    pub scratch_sms: u64,
}

impl SamplerRule {
    /// kvsim's estimate where no engine rule is modelled: fp32 logits and the probabilities
    /// derived from them (8 B per logit), added to the forward peak.
    pub const ESTIMATE: SamplerRule = SamplerRule {
        bytes_per_logit: 8,
        after_forward: false,
        held_rows_per_token: 0,
        held_rows_per_seq: 0,
        scratch_sms: 0,
    };

    /// Rows of the Triton kernel's scratch buffer for `rows` sampled rows: one per program,
    /// `min(num_SMs, rows)` programs, the buffer `min(next_power_of_2(programs), num_SMs)` rows
    /// of the vocabulary in FP32, cached on the device (`apply_top_k_top_p_triton`,
    /// `vllm/v1/sample/ops/topk_topp_triton.py` @ v0.19.1).
    pub fn scratch_rows(&self, rows: u64) -> u64 {
        if self.scratch_sms == 0 || rows == 0 {
            return 0;
        }
        self.scratch_sms
            .min(rows)
            .next_power_of_two()
            .min(self.scratch_sms)
    }
}

impl Activation {
    /// The terms for `model` on one rank; `fused_moe`: the engine's fused-MoE workspace, if it
    /// has one on this chip (else MoE layers are charged like a dense FFN of their routed width).
    pub fn new(
        model: &Model,
        attention_tp: u64,
        tp: u64,
        max_num_seqs: u64,
        with_sampler: bool,
        sampler: SamplerRule,
        fused_moe: Option<FusedMoe>,
    ) -> Activation {
        let h = model.hidden;
        let (atp, tp) = (attention_tp.max(1), tp.max(1));
        let (mut widest, mut moe_best) = (0u64, (0u64, 0u64));
        for g in &model.groups {
            let base = 2 * h + g.attention.projection_width().div_ceil(atp);
            match (&g.ffn, fused_moe) {
                (Ffn::Moe(m), Some(f)) => {
                    let b = if f.eager_rows {
                        EagerMoeRows::elements_per_token(
                            h,
                            m.experts,
                            m.top_k,
                            m.shared_intermediate > 0,
                        )
                    } else {
                        base + (3 * m.shared_intermediate).div_ceil(tp)
                    };
                    let ws = f.elements_per_token(m.top_k, m.expert_intermediate.div_ceil(tp), h)
                        + f.quantised_input.bytes_per_token(h).div_ceil(2);
                    if b + ws > moe_best.0 + moe_best.1 {
                        moe_best = (b, ws);
                    }
                }
                (ffn, _) => {
                    let width = match ffn {
                        Ffn::Dense { intermediate, .. } => *intermediate,
                        Ffn::Moe(m) => {
                            m.active_experts() * m.expert_intermediate + m.shared_intermediate
                        }
                    };
                    widest = widest.max(base + (3 * width).div_ceil(tp));
                }
            }
        }
        let with_moe = moe_best.1 > 0;
        Activation {
            per_token: widest.saturating_mul(2),
            moe_base: moe_best.0.saturating_mul(2),
            moe_workspace: moe_best.1.saturating_mul(2),
            moe_chunk: if with_moe {
                fused_moe.map_or(0, |f| f.chunk)
            } else {
                0
            },
            moe_chunked_output: match fused_moe {
                Some(f) if with_moe => f.chunked_output(h).saturating_mul(2),
                _ => 0,
            },
            moe_persistent: with_moe && fused_moe.is_some_and(|f| f.persistent),
            sampler: if with_sampler {
                max_num_seqs
                    .saturating_mul(model.vocab)
                    .saturating_mul(sampler.bytes_per_logit)
                    .saturating_add(
                        sampler
                            .scratch_rows(max_num_seqs)
                            .saturating_mul(model.vocab)
                            .saturating_mul(4),
                    )
            } else {
                0
            },
            separate: sampler.after_forward,
            held_per_token: if with_sampler {
                sampler
                    .held_rows_per_token
                    .saturating_mul(h)
                    .saturating_mul(2)
            } else {
                0
            },
            held: if with_sampler {
                (sampler.held_rows_per_seq.saturating_mul(max_num_seqs))
                    .saturating_mul(h)
                    .saturating_mul(2)
            } else {
                0
            },
            scale: 1.0,
        }
    }

    /// The peak at `max_num_batched_tokens` tokens (bytes).
    pub fn bytes(&self, max_num_batched_tokens: u64) -> u64 {
        let t = max_num_batched_tokens;
        let chunked_output = if t > self.moe_chunk {
            t.saturating_mul(self.moe_chunked_output)
        } else {
            0
        };
        let workspace = t
            .min(self.moe_chunk)
            .saturating_mul(self.moe_workspace)
            .saturating_add(chunked_output);
        let moe = t.saturating_mul(self.moe_base).saturating_add(workspace);
        // A persistent workspace stays beside every later layer and the sampler (an upper bound
        // for dense layers that precede the first MoE layer, where it is not yet allocated).
        let kept = if self.moe_persistent { workspace } else { 0 };
        let forward = t
            .saturating_mul(self.per_token)
            .saturating_add(kept)
            .max(moe);
        let peak = if self.separate {
            let held = t
                .saturating_mul(self.held_per_token)
                .saturating_add(self.held);
            forward.max(held.saturating_add(self.sampler).saturating_add(kept))
        } else {
            forward.saturating_add(self.sampler)
        };
        if self.scale == 1.0 {
            peak
        } else {
            (peak as f64 * self.scale).round() as u64
        }
    }
}

/// Memory outside torch's allocator that vLLM charges to the budget: CUDA context, cuBLAS
/// workspace and so on. vLLM 0.19 logs 0.25 GiB on one H100. At TP ≥ 2 NCCL communicator buffers
/// and the custom all-reduce's IPC buffers add to it: for vLLM and SGLang on an NVIDIA chip whose
/// `[nccl]` links the catalog states, [`NcclNonTorch`] builds them from the code; elsewhere (other
/// engines, chips without `[nccl]`) kvsim adds 1/8 GiB per extra TP rank (1.125 GiB at TP8) — an estimate,
/// not a rule (`non_torch_estimated` warns). docs/facts.md §4 has the code reading and the logs.
pub fn non_torch_bytes(tp: u64) -> u64 {
    GIB / 4 + (tp.max(1) - 1).min(1 << 16) * (GIB / 8)
}

/// How one chip kind's GPUs reach each other through NCCL inside a node (chip TOML `[nccl]`;
/// sources beside each chip's figures and in docs/facts.md §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NcclLinks {
    /// Ring/tree channels NCCL's topology search picks for a communicator of these GPUs
    /// (`src/graph/search.cc::ncclTopoCompute`, then `ncclTopoPostset`), from a published NCCL log.
    pub channels: u64,
    /// No NCCL log of this chip kind states its channel count: `channels` is assumed.
    #[serde(default)]
    pub channels_assumed: bool,
    /// The GPUs can map each other's memory (`cudaDeviceCanAccessPeer`): NVLink or PCIe P2P.
    pub peer_access: bool,
    /// NVLink SHARP: multicast through NVSwitch (`src/transport/nvls.cc::ncclNvlsInit`).
    #[serde(default)]
    pub nvls: bool,
}

/// 2 MiB: the granularity NCCL rounds each cuMem allocation to (`src/include/alloc.h::
/// ncclCuMemAlloc`, `CU_MEM_ALLOC_GRANULARITY_MINIMUM`) and the driver's `cudaMalloc` page for
/// allocations of this size.
const ALLOC_GRANULARITY: u64 = 2 << 20;

fn round_alloc(bytes: u64) -> u64 {
    bytes.next_multiple_of(ALLOC_GRANULARITY)
}

/// Device bytes a rank holds for one NCCL ring/tree connection set over the P2P transport: the
/// receive side of the connection from one neighbour and the send side of the connection to
/// another (every channel of a ring or chain has both on every rank). Each side is one
/// allocation rounded to `CUDA_IPC_MIN` (2 MiB): the receiver holds `ncclRecvMem` (4 KiB), the
/// LL buffer (8 lines · 512 threads · 8 steps · 16 B = 512 KiB), the LL128 buffer (120 · 640 ·
/// 8 · 8 B = 4,915,200 B) and the Simple buffer (`NCCL_BUFFSIZE`, 4 MiB) — 9,637,888 B, 10 MiB;
/// the sender `ncclSendMem` (4 KiB), 2 MiB. With P2P read (Ampere over NVLink) the Simple buffer
/// moves to the sender: 6 + 6 MiB. Either way [`NCCL_RECV_BYTES`] + [`NCCL_SEND_BYTES`] = 12 MiB
/// (`src/init.cc` `DEFAULT_LL_BUFFSIZE`, `DEFAULT_LL128_BUFFSIZE`, `DEFAULT_BUFFSIZE`;
/// `src/include/comm.h` `ncclSendMem`, `ncclRecvMem` padded to `MEM_ALIGN`;
/// `src/transport/p2p.cc::p2pSendSetup`, `p2pRecvSetup` (`ALIGN_SIZE(…, CUDA_IPC_MIN)`) @ NCCL
/// v2.21.5-1, v2.26.2-1, v2.27.3-1; 10,485,760 B receive allocations on 8× H100 in
/// github.com/NVIDIA/nccl/issues/1685). Before 2026-11-26 kvsim counted the receive side only
/// (10 MiB).
pub fn nccl_connection_bytes() -> u64 {
    NCCL_RECV_BYTES + NCCL_SEND_BYTES
}

/// NCCL's `ncclSendMem` / `ncclRecvMem` headers (`MEM_ALIGN`, 4 KiB each).
const NCCL_CONN_HEADER: u64 = 4096;
const NCCL_LL_BYTES: u64 = 8 * 512 * 8 * 16;
const NCCL_LL128_BYTES: u64 = 120 * 640 * 8 * 8;
const NCCL_SIMPLE_BYTES: u64 = 4 << 20;

/// The receive side of one P2P connection without P2P read: header, LL, LL128 and Simple.
pub const NCCL_RECV_BYTES: u64 =
    (NCCL_CONN_HEADER + NCCL_LL_BYTES + NCCL_LL128_BYTES + NCCL_SIMPLE_BYTES)
        .next_multiple_of(ALLOC_GRANULARITY);
/// The send side without P2P read: the header alone.
pub const NCCL_SEND_BYTES: u64 = NCCL_CONN_HEADER.next_multiple_of(ALLOC_GRANULARITY);
/// The receive side with P2P read (the Simple buffer is the sender's): header, LL and LL128.
pub const NCCL_RECV_READ_BYTES: u64 =
    (NCCL_CONN_HEADER + NCCL_LL_BYTES + NCCL_LL128_BYTES).next_multiple_of(ALLOC_GRANULARITY);

/// The point-to-point receive buffers vLLM V0's logits `gather` leaves on its destination, TP
/// rank 0 of the last pipeline stage, the rank V0 sizes every cache by (it also samples). V0
/// gathers the logits on CUDA (`LogitsProcessor._gather_logits`: all-gather only under V1 or
/// the external launcher, `platforms/interface.py::Platform.use_all_gather` @ v0.8.3) with
/// `torch.distributed.gather` on the TP group's device group (`DeviceCommunicatorBase.gather`
/// @ v0.8.3), which PyTorch runs as one NCCL receive from each peer. NCCL connects a peer's
/// point-to-point channels at the first operation with it, all `p2pnChannelsPerPeer` of them
/// whatever the size (`src/enqueue.cc`, `ncclGroupCommPreconnect` on `p2pnChannelsPerPeer`
/// channels @ v2.21.5-1): `nextPow2(min(p2p channels, 2 × NVLinks))`, the ring channels rounded
/// up to a power of two on NVSwitch boards (`src/graph/paths.cc::ncclTopoComputeP2pChannels`,
/// `ncclTopoGetNchannels`; 24 ring channels give "32 p2p channels per peer", as NCCL logged it on
/// A100, github.com/surajssd/llm-k8s). Each is a receive side of [`NCCL_RECV_BYTES`], or
/// [`NCCL_RECV_READ_BYTES`] with P2P read, which NCCL turns on between compute-capability-8.0
/// GPUs over NVLink only (`ncclTopoCheckP2p` @ v2.21.5-1).
pub fn v0_gather_bytes(links: NcclLinks, cc: Option<(u32, u32)>, tp: u64) -> u64 {
    if !links.peer_access || tp < 2 {
        return 0;
    }
    let per_peer = links.channels.max(1).next_power_of_two();
    let recv = if cc == Some((8, 0)) {
        NCCL_RECV_READ_BYTES
    } else {
        NCCL_RECV_BYTES
    };
    (tp - 1) * per_peer * recv
}

/// NCCL's shared buffer for point-to-point sends through its local network proxy, which every
/// communicator allocates in device memory when it connects at init: `p2pnChannels ×
/// NCCL_SHARED_STEPS × p2pChunkSize` (`src/transport/net.cc::proxySharedInit` →
/// `sharedNetBuffersInit`, `NCCL_SHARED_STEPS` = 16, allocated with `ncclCudaCalloc` when cuMem is
/// off), called from `initTransportsRank` under "Connect to local net proxy" — unconditionally at
/// NCCL v2.21.5-1, and from v2.22.3-1 (v2.26.2-1, v2.27.3-1, v2.28.9-1 read) only when the
/// communicator does not connect at run time (`comm->runtimeConn` needs cuMem), i.e. whenever
/// vLLM ≤ 0.10 or SGLang turn cuMem off (`src/init.cc`). `p2pnChannels` is the ring channel count
/// rounded up to a power of two (`ncclTopoComputeP2pChannels`, `src/graph/paths.cc`; at most
/// `MAXCHANNELS`, 32 at v2.21.5-1 and 64 at v2.27.3-1, which the ring count never exceeds)
/// and `p2pChunkSize` `NCCL_P2P_NVL_CHUNKSIZE`, 512 KiB, when every GPU pair is NVLink-connected
/// (`src/init.cc`): 32 × 16 × 512 KiB = 256 MiB on 24 or 32 channels. NCCL's own report of the
/// buffer: 536,870,912 B (64 channels, NCCL 2.28.9 on B300) in github.com/NVIDIA/nccl/issues/2363,
/// and 512 MiB less at init once skipped in github.com/NVIDIA/nccl/pull/2366. Counted for chips
/// whose GPUs reach each other's memory over NVLink (the catalog's `peer_access` chips); on PCIe
/// boards without peer access the chunk is 128 KiB over a handful of channels and is not counted.
pub fn nccl_net_shared_bytes(links: NcclLinks) -> u64 {
    if !links.peer_access {
        return 0;
    }
    const NCCL_SHARED_STEPS: u64 = 16;
    const P2P_NVL_CHUNK: u64 = 512 << 10;
    links.channels.clamp(1, 64).next_power_of_two() * NCCL_SHARED_STEPS * P2P_NVL_CHUNK
}

/// The NCCL release whose NVLink SHARP buffer layout applies (vLLM loads the NCCL of torch's
/// `nvidia-nccl-cu12` pin: torch 2.3.0 and 2.4.0 pin 2.20.5, 2.5.1 and 2.6.0 pin 2.21.5, 2.7.0
/// pins 2.26.2 — PyPI metadata of each torch wheel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcclNvls {
    /// 2.20: per ring channel, `NCCL_BUFFSIZE` (4 MiB) plus 2 MiB of head/tail memory.
    V2_20,
    /// 2.21: per ring channel, 128 KiB × 8 steps (1 MiB) plus 2 MiB of head/tail memory.
    V2_21,
    /// 2.22 on: per NVLS channel (16 on 9.x, 32 on 10.x), 1 MiB, credits apart.
    V2_22,
}

/// NVLink SHARP buffers of one communicator of `ranks` GPUs on a chip of compute capability
/// `major` with `ring_channels` ring channels: `channels · 2 · per-channel bytes · nHeads`, nHeads =
/// the node's GPUs, rounded to the 2 MiB allocation granularity, by NCCL release:
/// - [`NcclNvls::V2_20`], [`NcclNvls::V2_21`] (`src/transport/nvls.cc::ncclNvlsSetup` @
///   v2.20.5-1, v2.21.5-1): `nChannels = comm->nChannels` (the ring channels), per channel
///   `buffSize + NVLS_MEM_ALIGN_SIZE`, buffSize `comm->buffSizes[NCCL_PROTO_SIMPLE]` (4 MiB) at
///   2.20 and `NVLS_CHUNKSIZE` × `NCCL_STEPS` (128 KiB × 8) at 2.21. At 2.20, 24 channels on 8×
///   H200 give 24 · 2 · 6 MiB · 8 = 2,415,919,104 B, as NCCL logged it in vLLM issue 9699
///   ("buffSize 4194304 memSize 2097152 nvlsPerRankSize 301989888 nvlsTotalSize 2415919104");
/// - [`NcclNvls::V2_22`] (`ncclNvlsBufferSetup`, `NVLS_NCHANNELS_SM90`, `NVLS_NCHANNELS_SM100`
///   @ v2.22.3-1, v2.26.2-1, v2.27.3-1): 16 NVLS channels on 9.x and 32 on 10.x, 128 KiB × 8
///   steps each; the credit buffers are not counted.
///
/// Only with more than 2 GPUs (`ncclNvlsInit`). The multicast object's granularity was 2 MiB in
/// a published NCCL log ("ucgran 2097152 … mcgran 2097152", 8 GPUs); the driver's multicast
/// object is not counted.
pub fn nvls_bytes(major: u32, ranks: u64, ring_channels: u64, release: NcclNvls) -> u64 {
    if ranks <= 2 || major < 9 {
        return 0;
    }
    const MIB: u64 = 1 << 20;
    let step = (128 << 10) * 8;
    let (channels, per_channel) = match release {
        NcclNvls::V2_20 => (ring_channels, 4 * MIB + 2 * MIB),
        NcclNvls::V2_21 => (ring_channels, step + 2 * MIB),
        NcclNvls::V2_22 => (if major >= 10 { 32 } else { 16 }, step),
    };
    round_alloc(channels * 2 * per_channel * ranks)
}

/// Bytes of vLLM's custom all-reduce on one rank with `max_size`: one IPC buffer of `max_size`
/// and one of `meta_size() + max_size` (`meta_size` is the `Signal` struct, a few KiB), each
/// `cudaMalloc`ed and rounded to 2 MiB; the peers' buffers are mapped, not allocated
/// (`vllm/distributed/device_communicators/custom_all_reduce.py::CustomAllreduce.__init__`,
/// `create_shared_buffer` @ v0.9.2, v0.11.0). Its 8 MiB `rank_data` is a torch tensor.
pub fn custom_all_reduce_bytes(max_size: u64) -> u64 {
    const SIGNAL: u64 = 4 << 10;
    round_alloc(max_size) + round_alloc(SIGNAL + max_size)
}

/// The custom all-reduce's `max_size` on a chip of capability `cc` at TP `tp`: 8 MiB, and from
/// v0.11 (`symm_mem`: symmetric memory on) on 9.0 / 10.0 the smaller of that and
/// `CUSTOM_ALL_REDUCE_MAX_SIZES` (9.0: 64, 32 MiB, 512, 256 KiB at TP 2, 4, 6, 8; 10.0: 2, 2, 1,
/// 1 MiB) (`vllm/distributed/device_communicators/all_reduce_utils.py`, `custom_all_reduce.py`
/// @ v0.11.0).
pub fn custom_all_reduce_max_size(cc: Option<(u32, u32)>, tp: u64, symm_mem: bool) -> u64 {
    const MIB: u64 = 1 << 20;
    let table = match (symm_mem, cc, tp) {
        (true, Some((9, 0)), 2) => 64 * MIB,
        (true, Some((9, 0)), 4) => 32 * MIB,
        (true, Some((9, 0)), 6) => MIB / 2,
        (true, Some((9, 0)), 8) => MIB / 4,
        (true, Some((10, 0)), 2 | 4) => 2 * MIB,
        (true, Some((10, 0)), 6 | 8) => MIB,
        _ => u64::MAX,
    };
    table.min(8 * MIB)
}

/// vLLM's torch symmetric-memory all-reduce buffer (`symm_mem.py::SymmMemCommunicator`, on by
/// default from v0.11.0, `VLLM_ALLREDUCE_USE_SYMM_MEM`): `SYMM_MEM_ALL_REDUCE_MAX_SIZES` (9.0:
/// 64, 32, 64, 64 MiB at TP 2, 4, 6, 8; 10.0: 8, 32, 128, 128 MiB), none on other capabilities
/// or TP sizes (`all_reduce_utils.py` @ v0.11.0).
pub fn symm_mem_bytes(cc: Option<(u32, u32)>, tp: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    match (cc, tp) {
        (Some((9, 0)), 2) => 64 * MIB,
        (Some((9, 0)), 4) => 32 * MIB,
        (Some((9, 0)), 6 | 8) => 64 * MIB,
        (Some((10, 0)), 2) => 8 * MIB,
        (Some((10, 0)), 4) => 32 * MIB,
        (Some((10, 0)), 6 | 8) => 128 * MIB,
        _ => 0,
    }
}

/// vLLM's non-torch memory on one CUDA rank at TP ≥ 2, built from what the code allocates
/// (docs/facts.md §4): the TP1 figure ([`non_torch_bytes`] at TP1: CUDA context, cuBLAS) plus,
/// with peer access, two NCCL communicators per TP group — vLLM's `PyNcclCommunicator`
/// (`cuda_communicator.py::CudaCommunicator.__init__`, warm-up all-reduce in `pynccl.py::
/// PyNcclCommunicator.__init__`) and torch's process group on `device_group`, initialised by
/// its first collective, the logits' all-gather (V1) or gather (V0) — each `channels × sets`
/// connections of [`nccl_connection_bytes`] plus [`nvls_bytes`], the custom all-reduce and, from
/// v0.11, the symmetric-memory buffer. Without peer access NCCL uses the SHM transport, whose
/// buffers are host memory (`src/transport/shm.cc`), and the custom all-reduce is off
/// (`_can_p2p`): only the TP1 figure remains.
///
/// Connection sets per channel: a ring connects to `prev` and `next`, a tree (a chain in ring
/// order inside a node) to `up` and `down`, and a connection already made is reused
/// (`src/transport.cc::ncclTransportP2pConnect`, `src/transport/generic.cc::
/// ncclTransportRingConnect`, `ncclTransportTreeConnect`): 2 receive sets per channel on the
/// rank with the most (the rank that sizes the cache), 1 at TP2, where every neighbour is the one
/// peer. Up to vLLM 0.10 (`NCCL_CUMEM_ENABLE=0`, `vllm/env_override.py` @ v0.9.2, v0.10.1;
/// logged as set by the environment at 0.8.3, github.com/surajssd/llm-k8s; earlier releases
/// not read) both communicators connect rings, trees and NVLS at `ncclCommInitRank`. From 0.11
/// (cuMem on) NCCL connects at a collective's first call only the algorithm it picks
/// (`src/init.cc::initTransportsRank`, `comm->runtimeConn` @ v2.27.3-1): torch's
/// communicator then has the ring alone (NCCL's all-gather has no tree algorithm); vLLM's, whose
/// warm-up and profiling all-reduces the tuner places by size, and NVLS on both, are still counted
/// whole (an upper bound: the tuner's picks were not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NcclNonTorch {
    pub links: NcclLinks,
    pub tp: u64,
    /// Communicators per TP group.
    pub communicators: u64,
    /// Connection sets per channel of vLLM's communicator and of torch's.
    pub sets: (u64, u64),
    /// NVLink SHARP bytes per communicator, and the NCCL layout they follow.
    pub nvls: u64,
    pub nvls_release: NcclNvls,
    pub custom_all_reduce: u64,
    pub symm_mem: u64,
    /// V0's logits `gather` on its destination rank ([`v0_gather_bytes`]).
    pub v0_gather: u64,
    /// NCCL's network-proxy shared buffer per communicator connected at init
    /// ([`nccl_net_shared_bytes`]; 0 when NCCL connects at run time).
    pub net_shared: u64,
    /// NCCL connects lazily (vLLM ≥ 0.11).
    pub lazy: bool,
    /// Whose communicators these are (the engines open different ones).
    pub owner: NcclOwner,
    /// vLLM takes its init snapshot after NCCL's initialisation (≥ 0.11): only what is
    /// allocated later is charged — torch's TP communicator, created at its first collective,
    /// and FlashInfer's all-reduce workspace ([`NcclNonTorch::bytes`]).
    pub after_snapshot: bool,
    /// NCCL's set-up of one communicator through cuMem ([`nccl_cumem_setup_bytes`]).
    pub comm_setup: u64,
    /// FlashInfer's all-reduce-fusion workspace ([`flashinfer_ar_workspace_bytes`]; 0 where
    /// vLLM does not create it).
    pub fi_workspace: u64,
    /// NVLS data buffers vLLM's PyNccl communicator connects after the init snapshot when an
    /// all-reduce larger than `pynccl_above` reaches it ([`NcclNonTorch::pynccl_nvls`]; 0: none).
    pub pynccl_nvls: u64,
    pub pynccl_above: u64,
}

/// What vLLM ≥ 0.11 charges as non-torch memory on a worker of several GPUs besides the buffers
/// allocated after its init snapshot: 0.07 GiB, as llm-d-planner's sweep of vLLM 0.19.0 on H100
/// logs it for TP1 × PP2 and × PP4 runs, where nothing of NCCL's is allocated after the snapshot
/// (github.com/llm-d-incubation/llm-d-planner @ d3121e0, `accuracy/results/v0.19.0/logs/`), against
/// 0.25 GiB on one GPU (unverified: the 0.18 GiB apart are taken to be CUDA state NCCL's
/// initialisation loads before the snapshot; not traced to code).
pub const VLLM_MULTI_GPU_NON_TORCH: u64 = GIB * 7 / 100;

/// NCCL's device memory for setting up one communicator when it allocates through cuMem (vLLM ≥
/// 0.11 leaves `NCCL_CUMEM_ENABLE` at NCCL's default, on): every `ncclCudaCallocAsync` is its own
/// allocation rounded up to the minimum granularity, 2 MiB (`src/include/alloc.h::ncclCuMemAlloc`
/// @ v2.27.5-1). `initChannel` makes three per channel (the shared `devPeers`, the channel's
/// `devPeers`, `devRingUserRanks`; `src/channel.cc`), for every point-to-point channel —
/// `p2pnChannels`, the ring channels rounded up to a power of two (`src/graph/paths.cc::
/// ncclTopoComputeP2pChannels`) — and `devCommSetup` two more (`devCommAndChans`,
/// `rankToLocalRank`; `src/init.cc`): (3 · p2pnChannels + 2) · 2 MiB, 196 MiB on 24 channels.
pub fn nccl_cumem_setup_bytes(channels: u64) -> u64 {
    (3 * channels.clamp(1, 64).next_power_of_two() + 2) * ALLOC_GRANULARITY
}

/// The multicast granularity FlashInfer ≤ 0.6.14 rounds its all-reduce workspace's allocations up
/// to on H100 (`CU_MULTICAST_GRANULARITY_RECOMMENDED`): 512 MiB (unverified — the driver reports
/// it; inferred from llm-d-planner's sweep of vLLM 0.19.0 on H100, whose TP2 and TP4 runs charge
/// the same 2.06–2.21 GiB whether the workspace's buffers sum to 0.03 or 0.50 GiB, which only a
/// granularity of at least 386 MiB does; granularities are powers of two).
pub const FI_MULTICAST_GRANULARITY: u64 = 512 << 20;

/// FlashInfer's trtllm all-reduce + RMSNorm fusion workspace on one rank of `tp`, for messages of
/// up to `max_size` bytes per rank (`max_token_num · hidden · 2 B`, at most vLLM's
/// `FI_ALLREDUCE_FUSION_MAX_SIZE_MB`): three buffers — `tp · max_size`, the barrier flags (`tp ·
/// 256 · 4 B`) and the Lamport buffers (3 · `tp · max_size`) — each a `SymmDeviceMemory` of its
/// size plus a 2 KiB signal pad, rounded up to the allocation granularity (2 MiB) and, with
/// `granularity` above it, to the multicast granularity (`flashinfer/comm/trtllm_ar.py::
/// trtllm_create_ipc_workspace_for_all_reduce_fusion`, `mnnvl.py::SymmDeviceMemory.
/// _get_allocation_prop`: unconditional @ flashinfer 0.6.4, 0.6.6, 0.6.8.post1, 0.6.14; only with
/// multicast on, which the workspace turns off, @ 0.6.16, 0.7.2.post1). `max_size` is the bound:
/// vLLM sizes by `min(max_size / (hidden · 2 B), max_num_batched_tokens)` tokens, the bound itself
/// at H100's default batch for hidden ≥ 4096.
pub fn flashinfer_ar_workspace_bytes(tp: u64, max_size: u64, granularity: u64) -> u64 {
    const SIGNAL_PAD: u64 = 2048;
    let buffer = tp.saturating_mul(max_size);
    [buffer, tp * 256 * 4, buffer.saturating_mul(3)]
        .iter()
        .map(|&b| round_alloc(b.saturating_add(SIGNAL_PAD)).next_multiple_of(granularity.max(1)))
        .sum()
}

/// The engine whose NCCL communicators [`NcclNonTorch`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NcclOwner {
    Vllm,
    Sglang,
}

impl NcclNonTorch {
    /// The terms for vLLM at TP `tp` on a chip of capability `cc` with `links`; `lazy`: vLLM
    /// ≥ 0.11 (cuMem on, symmetric memory on by default).
    pub fn vllm(
        links: NcclLinks,
        cc: Option<(u32, u32)>,
        tp: u64,
        lazy: bool,
        release: NcclNvls,
        v0: bool,
        fi_workspace: u64,
    ) -> NcclNonTorch {
        let (tp, p2p, full) = Self::shape(links, tp);
        NcclNonTorch {
            after_snapshot: lazy && p2p,
            comm_setup: if p2p {
                nccl_cumem_setup_bytes(links.channels)
            } else {
                0
            },
            fi_workspace: if p2p { fi_workspace } else { 0 },
            links,
            tp,
            communicators: if tp > 1 { 2 } else { 0 },
            sets: if !p2p {
                (0, 0)
            } else if lazy {
                (full, 1)
            } else {
                (full, full)
            },
            nvls: if p2p && links.nvls {
                nvls_bytes(cc.map_or(0, |c| c.0), tp, links.channels, release)
            } else {
                0
            },
            nvls_release: release,
            custom_all_reduce: if p2p {
                custom_all_reduce_bytes(custom_all_reduce_max_size(cc, tp, lazy))
            } else {
                0
            },
            symm_mem: if p2p && lazy {
                symm_mem_bytes(cc, tp)
            } else {
                0
            },
            v0_gather: if v0 && !lazy {
                v0_gather_bytes(links, cc, tp)
            } else {
                0
            },
            net_shared: if p2p && !lazy {
                nccl_net_shared_bytes(links)
            } else {
                0
            },
            lazy,
            owner: NcclOwner::Vllm,
            pynccl_nvls: if lazy && p2p && links.nvls && tp == 8 && cc.is_some_and(|c| c.0 == 9) {
                nvls_bytes(9, tp, links.channels, NcclNvls::V2_22)
            } else {
                0
            },
            pynccl_above: symm_mem_bytes(cc, tp).max(custom_all_reduce_max_size(cc, tp, lazy)),
        }
    }

    /// The NVLS data buffers an all-reduce of `bytes` connects on vLLM's own communicator after
    /// the init snapshot (vLLM ≥ 0.11, TP8 on Hopper with NVSwitch). vLLM sends an all-reduce
    /// above the custom all-reduce's and the symmetric memory's limits (256 KiB, 64 MiB at TP8 on
    /// 9.0) to PyNccl (`cuda_communicator.py::CudaCommunicator.all_reduce`, `all_reduce_utils.py`
    /// @ v0.19.1, v0.33.0); NCCL's tuner picks NVLS for an all-reduce of about 1.15 MB or more on
    /// 8 ranks of one node (never on 4), and with runtime connection (cuMem on from vLLM 0.11)
    /// allocates NVLS's data buffers, 16 channels × 2 × 1 MiB × 8 = 256 MiB, at that first NVLS
    /// collective (`tuning.cc::ncclTopoTuneModel`, `enqueue.cc::ncclPrepareTasks`, `group.cc::
    /// ncclCollPreconnectFunc` → `nvls.cc::ncclNvlsBufferSetup` @ v2.27.3-1, v2.27.5-1;
    /// docs/facts.md §4). The profiling run all-reduces its whole batch of hidden states.
    pub fn pynccl_nvls(&self, bytes: u64) -> u64 {
        if bytes > self.pynccl_above {
            self.pynccl_nvls
        } else {
            0
        }
    }

    /// SGLang's communication memory on one CUDA rank at TP `tp`, what its free-memory reading
    /// after `initialize_model_parallel` holds beyond the CUDA context (`ModelRunner.
    /// init_torch_distributed` → `min_per_gpu_memory`, `model_runner.py` @ v0.4.7, v0.4.9.post2;
    /// the same order @ v0.5.4). SGLang turns NCCL's cuMem and NVLink SHARP off unless asked
    /// (`_set_envs_and_config`: `NCCL_CUMEM_ENABLE=0`, `NCCL_NVLS_ENABLE=0` in `server.py` @ v0.3.3,
    /// `entrypoints/engine.py` @ v0.4.7, v0.4.9.post2; `= enable_symm_mem`, `enable_nccl_nvls`,
    /// both off by default, @ v0.5.4, v0.5.23), so a communicator connects rings and trees in full
    /// when it is created (`comm->runtimeConn` needs cuMem, `src/init.cc` @ v2.27.3-1). At that
    /// point a rank holds one communicator: the TP group's `PyNcclCommunicator`
    /// (`distributed/parallel_state.py::GroupCoordinator.__init__`, warm-up all-reduce in
    /// `pynccl.py`); torch's process groups are created without a device and connect at their
    /// first collective, after the KV cache is sized; the world, PP (one rank per group at PP1),
    /// MoE-EP and DP-attention groups run no PyNccl of their own at these defaults
    /// (`initialize_model_parallel` @ v0.5.4, v0.5.23; `SYNC_TOKEN_IDS_ACROSS_TP` off). The custom
    /// all-reduce adds its two IPC buffers of 8 MiB and, because SGLang reads free memory rather
    /// than torch's counters, its 8 MiB `rank_data` tensor (`custom_all_reduce.py::
    /// CustomAllreduce.__init__`, `_MAX_CAR_SIZE` on CUDA @ v0.4.7, v0.5.4, v0.5.23). Without peer
    /// access NCCL's buffers are host memory and the custom all-reduce is off, as for vLLM.
    /// FlashInfer's all-reduce-fusion workspaces, which 0.5.23 turns on for some models, are not
    /// counted. SGLang logs what its distributed init allocates ("Init torch distributed ends. mem
    /// usage"): on 8 H200 (github.com/sgl-project/sglang/pull/11716) 2.01 GB on the middle ranks,
    /// 1.96 on TP0 and 1.77 on TP7 — the chain's head and tail lack one receive side (10 MiB) or
    /// one send side (2 MiB) per channel, and 24 × 10 and 24 × 2 MiB are the logged differences,
    /// which confirms one communicator of 24 channels and [`nccl_connection_bytes`]' two sides.
    /// With the communicator's network-proxy buffer ([`nccl_net_shared_bytes`], 256 MiB) about
    /// 1.0 GiB more on every H200 rank (0.3 GiB on the B200 log of sglang#5390) is in no buffer
    /// read in the code, so this is a lower bound.
    pub fn sglang(links: NcclLinks, tp: u64) -> NcclNonTorch {
        const MIB: u64 = 1 << 20;
        let (tp, p2p, full) = Self::shape(links, tp);
        NcclNonTorch {
            links,
            tp,
            communicators: if tp > 1 { 1 } else { 0 },
            sets: if p2p { (full, 0) } else { (0, 0) },
            nvls: 0,
            nvls_release: NcclNvls::V2_22,
            custom_all_reduce: if p2p {
                custom_all_reduce_bytes(8 * MIB) + 8 * MIB
            } else {
                0
            },
            symm_mem: 0,
            v0_gather: 0,
            net_shared: if p2p { nccl_net_shared_bytes(links) } else { 0 },
            lazy: false,
            owner: NcclOwner::Sglang,
            after_snapshot: false,
            comm_setup: 0,
            fi_workspace: 0,
            pynccl_nvls: 0,
            pynccl_above: u64::MAX,
        }
    }

    /// TP (at least 1), whether the ranks reach each other's memory, and the connection sets per
    /// channel on the rank with the most: 2 above TP2, 1 at TP2 (the one peer is every neighbour).
    fn shape(links: NcclLinks, tp: u64) -> (u64, bool, u64) {
        let tp = tp.max(1);
        (tp, links.peer_access && tp > 1, if tp > 2 { 2 } else { 1 })
    }

    /// How the channel count was found, for the warning.
    fn channels_source(&self) -> &'static str {
        if self.links.channels_assumed {
            " (assumed: no NCCL log of this GPU kind)"
        } else {
            " (from a published NCCL log of this GPU kind)"
        }
    }

    /// NCCL's ring/tree, NVLS and network-proxy bytes over the communicators.
    pub fn nccl(&self) -> u64 {
        let conn = nccl_connection_bytes();
        let per = |sets: u64| self.links.channels * sets * conn;
        let nvls = if self.communicators > 0 && self.sets.0 > 0 {
            self.nvls * self.communicators
        } else {
            0
        };
        per(self.sets.0) + per(self.sets.1) + nvls + self.net_shared * self.communicators
    }

    /// The share of torch's TP communicator (the second of vLLM's two; none for SGLang's one).
    pub fn torch_communicator(&self) -> u64 {
        if self.owner != NcclOwner::Vllm || self.communicators < 2 {
            return 0;
        }
        if self.after_snapshot {
            return self.comm_setup + self.links.channels * nccl_connection_bytes();
        }
        let nvls = if self.sets.0 > 0 { self.nvls } else { 0 };
        self.links.channels * self.sets.1 * nccl_connection_bytes() + nvls + self.net_shared
    }

    /// Non-torch bytes of one rank: the TP1 figure and the terms above.
    /// From vLLM 0.11 the init snapshot follows NCCL's initialisation (`gpu_worker.py::
    /// Worker.init_device` @ v0.11.0, v0.12.0, v0.14.0, v0.16.0–v0.20.0, v0.33.0; PR 25359), so
    /// vLLM's own communicator, its warm-up connections, the custom all-reduce and the
    /// symmetric-memory buffer are outside the charge; what it charges is
    /// [`VLLM_MULTI_GPU_NON_TORCH`], torch's TP communicator — created at its first collective,
    /// after the snapshot (vLLM passes no `device_id` to `init_process_group`), with its ring
    /// (one connection set: a ring rank receives from one neighbour and sends to the other) — and
    /// FlashInfer's workspace; and, added by the caller for the profiling batch's all-reduce,
    /// the NVLS buffers vLLM's PyNccl connects at TP8 ([`NcclNonTorch::pynccl_nvls`]; at TP4
    /// NCCL never picks NVLS, so the sweep's TP4 runs' 0.09–0.17 GiB is not NVLS; docs/facts.md
    /// §4).
    pub fn bytes(&self) -> u64 {
        if self.after_snapshot {
            return VLLM_MULTI_GPU_NON_TORCH + self.torch_communicator() + self.fi_workspace;
        }
        non_torch_bytes(1) + self.nccl() + self.custom_all_reduce + self.symm_mem + self.v0_gather
    }

    /// What was assumed, for the `non_torch_estimated` warning.
    pub fn describe(&self) -> String {
        const MIB: f64 = (1 << 20) as f64;
        let mib = |b: u64| b as f64 / MIB;
        if self.sets == (0, 0) {
            return "no GPU peer access: NCCL's buffers are host memory (SHM transport) and the custom all-reduce is off, so the TP1 figure, 0.25 GiB".to_string();
        }
        if self.owner == NcclOwner::Sglang {
            return format!(
                "0.25 GiB at TP1 + 1 NCCL communicator (the TP group's PyNccl; torch's connect after the KV cache is sized) × {} channels{} × {} connection sets × {} MiB + its network-proxy shared buffer {} MiB + custom all-reduce {} MiB (its IPC buffers and rank_data); everything connected at init, NVLink SHARP off (SGLang sets NCCL_CUMEM_ENABLE=0, NCCL_NVLS_ENABLE=0); a lower bound: SGLang's logged init footprints at TP8 are 0.3–1.0 GiB per rank larger, not traced to code (docs/facts.md, SGLang)",
                self.links.channels,
                self.channels_source(),
                self.sets.0,
                mib(nccl_connection_bytes()),
                mib(self.net_shared),
                mib(self.custom_all_reduce)
            );
        }
        if self.after_snapshot {
            let mut s = format!(
                "vLLM ≥ 0.11 charges what is allocated after its init snapshot, which follows NCCL's initialisation (vLLM's own communicator, the custom all-reduce's {} MiB and the symmetric memory's {} MiB are outside it): {:.2} GiB on a multi-GPU worker (a logged figure) + torch's TP communicator, created at its first collective: NCCL's cuMem set-up {} MiB + its ring, {} channels{} × {} MiB",
                mib(self.custom_all_reduce),
                mib(self.symm_mem),
                VLLM_MULTI_GPU_NON_TORCH as f64 / GIB as f64,
                mib(self.comm_setup),
                self.links.channels,
                self.channels_source(),
                mib(nccl_connection_bytes())
            );
            if self.fi_workspace > 0 {
                s += &format!(
                    " + FlashInfer's all-reduce-fusion workspace {} MiB (three buffers, each rounded up to the allocation granularity{})",
                    mib(self.fi_workspace),
                    if self.fi_workspace >= 3 * FI_MULTICAST_GRANULARITY {
                        " and to the multicast granularity, 512 MiB — inferred from H100 logs, unverified"
                    } else {
                        ""
                    }
                );
            }
            if self.pynccl_nvls > 0 {
                use std::fmt::Write as _;
                let _ = write!(
                    s,
                    " + the NVLS buffers vLLM's PyNccl communicator connects for an all-reduce above {} MiB (the symmetric-memory limit; NCCL picks NVLS for it at TP8), {} MiB, when the profiling batch's hidden states exceed that",
                    mib(self.pynccl_above),
                    mib(self.pynccl_nvls)
                );
            }
            return s;
        }
        let mut s = format!(
            "0.25 GiB at TP1 + {} NCCL communicators (vLLM's, torch's) × {} channels{} × ({} + {}) connection sets × {} MiB",
            self.communicators,
            self.links.channels,
            self.channels_source(),
            self.sets.0,
            self.sets.1,
            mib(nccl_connection_bytes())
        );
        if self.nvls > 0 {
            s += &format!(
                " + NVLS {} MiB per communicator ({})",
                mib(self.nvls),
                match self.nvls_release {
                    NcclNvls::V2_20 => "NCCL 2.20's layout, per ring channel",
                    NcclNvls::V2_21 => "NCCL 2.21's layout, per ring channel",
                    NcclNvls::V2_22 => "NCCL ≥ 2.22's layout",
                }
            );
        }
        if self.net_shared > 0 {
            s += &format!(
                " + network-proxy shared buffer {} MiB per communicator",
                mib(self.net_shared)
            );
        }
        s += &format!(" + custom all-reduce {} MiB", mib(self.custom_all_reduce));
        if self.symm_mem > 0 {
            s += &format!(" + symmetric memory {} MiB", mib(self.symm_mem));
        }
        if self.v0_gather > 0 {
            s += &format!(
                " + V0's logits gather on its destination rank, {} MiB ({} peers × {} point-to-point channels × {} MiB of receive buffers)",
                mib(self.v0_gather),
                self.tp - 1,
                self.links.channels.max(1).next_power_of_two(),
                mib(self.v0_gather / ((self.tp - 1) * self.links.channels.max(1).next_power_of_two()))
            );
        }
        s += if self.lazy {
            "; NCCL connects lazily here (vLLM ≥ 0.11): vLLM's communicator and NVLS are counted whole, an upper bound"
        } else {
            "; everything connected at init (vLLM ≤ 0.10 turns cuMem off)"
        };
        s
    }
}

/// HCCL's default communication buffer: `HCCL_BUFFSIZE` (and a process group's
/// `hccl_buffer_size`) defaults to 200 MB — HCCL's MB, 2^20 B — and every communicator holds two
/// of them, one to send and one to receive, outside torch's allocator (CANN's `HCCL_BUFFSIZE`
/// reference, hiascend.com/document/detail/en/canncommercial/800/apiref/envvar/envref_07_0080.html:
/// "Each communicator occupies 2 × HCCL_BUFFSIZE memory"; `HcclGetHcclBuffer`: "the default size
/// is 400 MB"). vllm-ascend keeps 200 for every group but its DP group (`utils.py::
/// _DEFAULT_BUFFER_SIZE`, `get_hccl_config_for_pg_options` @ v0.11.0rc3).
pub const HCCL_BUFFER_BYTES: u64 = 2 * (200 << 20);

/// vLLM-Ascend's non-torch memory on one rank, built from the HCCL communicators that exist on a
/// rank when the NPU worker measures its memory (torch_npu's process groups create theirs at a
/// group's first collective, or when `get_hccl_comm_name` asks for it):
/// - at TP ≥ 2 the TP group's device group, whose first all-reduce runs in the profiling forward
///   pass (`vllm_ascend/distributed/communicator.py::NPUCommunicator` has no PyHccl of its own @
///   v0.9.0rc2; its collectives are `torch.distributed` calls on `device_group`);
/// - for an MoE model, the expert group's communicator, which the fused-MoE method asks for by
///   name while the model is built (`ops/fused_moe.py::AscendFusedMoE.__init__` on the EP group @
///   v0.9.0rc2, on the MC2 group @ v0.10.0rc1; `quantization/w8a8_dynamic.py` @ v0.9.0rc2,
///   v0.10.0rc1; `ops/moe/token_dispatcher.py` @ v0.11.0rc3; `ops/fused_moe/token_dispatcher.py`
///   @ v0.25.1rc1), counted whole: whether HCCL allocates its buffers when a communicator is
///   created or at its first collective was not read.
///
/// Each is [`HCCL_BUFFER_BYTES`], whatever the ranks: HCCL's buffers do not grow with the group
/// as NCCL's connections do. Pipeline-parallel and DP groups are not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HcclNonTorch {
    pub tp: u64,
    /// Communicators counted on the rank.
    pub communicators: u64,
    /// The expert group's communicator is one of them.
    pub moe: bool,
}

impl HcclNonTorch {
    /// The communicators of vLLM-Ascend at TP `tp` for a model with (`moe`) or without routed
    /// experts; none at TP1 (single-rank groups run no HCCL collective).
    pub fn vllm_ascend(tp: u64, moe: bool) -> HcclNonTorch {
        let tp = tp.max(1);
        let moe = moe && tp > 1;
        HcclNonTorch {
            tp,
            communicators: u64::from(tp > 1) + u64::from(moe),
            moe,
        }
    }

    /// Non-torch bytes of one rank: the TP1 figure and the communicators' buffers.
    pub fn bytes(&self) -> u64 {
        non_torch_bytes(1) + self.communicators * HCCL_BUFFER_BYTES
    }

    /// What was assumed, for the `non_torch_estimated` warning.
    pub fn describe(&self) -> String {
        format!(
            "0.25 GiB at TP1 + {} HCCL communicator{} ({}) × 2 × 200 MiB (HCCL_BUFFSIZE's default, send and receive); pipeline-parallel and DP groups are not counted{}",
            self.communicators,
            if self.communicators == 1 { "" } else { "s" },
            if self.moe {
                "the TP group's, the expert group's the fused-MoE layers ask for"
            } else {
                "the TP group's"
            },
            if self.moe {
                "; the expert group's is counted whole (an upper bound if HCCL allocates at its first collective)"
            } else {
                ""
            }
        )
    }
}

/// The collective-communication buffers of one rank, by library, when kvsim builds them from
/// the engine's code rather than [`non_torch_bytes`]' estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommNonTorch {
    Nccl(NcclNonTorch),
    Hccl(HcclNonTorch),
    /// A TP1 rank of a pipeline under vLLM ≥ 0.11, whose init snapshot follows the distributed
    /// set-up: nothing of NCCL's is allocated after it at TP1 (the stages' send/recv connect
    /// after the KV cache is sized), so the charge is [`VLLM_MULTI_GPU_NON_TORCH`], not one
    /// GPU's 0.25 GiB — llm-d-planner's sweep of vLLM 0.19.0 on H100 logs 0.07 GiB at TP1 × PP2
    /// and × PP4 (github.com/llm-d-incubation/llm-d-planner @ d3121e0,
    /// `accuracy/results/v0.19.0/logs/`).
    PipelineRank,
}

impl CommNonTorch {
    pub fn bytes(&self) -> u64 {
        match self {
            CommNonTorch::Nccl(n) => n.bytes(),
            CommNonTorch::Hccl(h) => h.bytes(),
            CommNonTorch::PipelineRank => VLLM_MULTI_GPU_NON_TORCH,
        }
    }

    /// The bytes of a rank of the last pipeline stage (`last`) or of another. When vLLM measures,
    /// torch's TP communicator exists on the last stage only: its first collective is the
    /// logits' gather (V0) or all-gather (V1), and the profiling forward pass of the other stages
    /// all-reduces through vLLM's own communicator (V0: `ModelRunner.profile_run` →
    /// `execute_model`, no `broadcast_tensor_dict`, @ v0.8.3; V1: `GPUModelRunner.profile_run`,
    /// the sampler's dummy run on the last rank only, @ v0.10.1; neither passes `device_id` to
    /// `init_process_group`, so torch's groups connect at their first collective). Other stages
    /// lose torch's connections, NVLS and network-proxy buffer, and V0's gather.
    pub fn bytes_on_stage(&self, last: bool) -> u64 {
        match self {
            CommNonTorch::Nccl(n) if !last => n.bytes() - n.v0_gather - n.torch_communicator(),
            _ => self.bytes(),
        }
    }

    /// [`NcclNonTorch::pynccl_nvls`] for the profiling run, which all-reduces its batch of
    /// `batched` tokens' hidden states of `hidden` elements in the activation dtype (2 B); 0 for
    /// other libraries.
    pub fn pynccl_nvls(&self, batched: u64, hidden: u64) -> u64 {
        match self {
            CommNonTorch::Nccl(n) => {
                n.pynccl_nvls(batched.saturating_mul(hidden).saturating_mul(2))
            }
            _ => 0,
        }
    }

    /// The warning's text after "kvsim's estimate … per rank: ".
    pub fn describe(&self) -> String {
        match self {
            CommNonTorch::Nccl(n) => format!(
                "{}; NCCL picks its channels at run time, and pipeline-parallel communicators are not counted",
                n.describe()
            ),
            CommNonTorch::Hccl(h) => h.describe(),
            CommNonTorch::PipelineRank => "vLLM ≥ 0.11 takes its init snapshot after the distributed set-up and a TP1 rank allocates nothing of NCCL's after it before the KV cache is sized: 0.07 GiB, what llm-d-planner's sweep of vLLM 0.19.0 logs at TP1 × PP2 and × PP4, not one GPU's 0.25".to_string(),
        }
    }

    /// The library, for the warning's lead.
    pub fn library(&self) -> &'static str {
        match self {
            CommNonTorch::Nccl(n) => match n.owner {
                NcclOwner::Vllm => "vLLM and NCCL",
                NcclOwner::Sglang => "SGLang and NCCL",
            },
            CommNonTorch::Hccl(_) => "vLLM-Ascend and HCCL",
            CommNonTorch::PipelineRank => "vLLM and NCCL",
        }
    }
}

/// CUDA-graph capture memory: vLLM logs a few hundred MiB to ~1.5 GiB on H100 depending on the
/// number of captured batch sizes; kvsim takes 0.5 GiB. vLLM up to 0.20 does not subtract it from
/// the KV budget (it lives in the `1 − gpu_memory_utilization` headroom).
pub fn cuda_graph_bytes() -> u64 {
    GIB / 2
}

/// Overhead terms fitted to start-up logs by `kvsim calibrate` and applied with `--profile FILE`
/// in place of the estimates above (measured `--*-gib` values still win).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverheadProfile {
    /// Non-torch memory of one rank at TP1 (GiB).
    pub non_torch_base_gib: f64,
    /// Non-torch memory each further TP rank adds to every rank (GiB).
    pub non_torch_per_rank_gib: f64,
    /// Factor on kvsim's activation estimate.
    pub activation_scale: f64,
    /// CUDA-graph memory per rank (GiB).
    pub cuda_graph_gib: f64,
    /// Logs the fit rests on (for the record).
    #[serde(default)]
    pub logs: u32,
}

impl OverheadProfile {
    /// kvsim's own estimates as a profile (the starting point of a fit).
    pub const DEFAULT: OverheadProfile = OverheadProfile {
        non_torch_base_gib: 0.25,
        non_torch_per_rank_gib: 0.125,
        activation_scale: 1.0,
        cuda_graph_gib: 0.5,
        logs: 0,
    };

    /// Parses and checks a profile file.
    pub fn from_toml(file: &str, text: &str) -> Result<OverheadProfile> {
        let p: OverheadProfile = toml::from_str(text).map_err(|e| Error::Syntax {
            file: file.to_string(),
            reason: e.to_string().trim().replace('\n', " "),
        })?;
        for (field, v, max) in [
            ("non_torch_base_gib", p.non_torch_base_gib, 1024.0),
            ("non_torch_per_rank_gib", p.non_torch_per_rank_gib, 1024.0),
            ("activation_scale", p.activation_scale, 100.0),
            ("cuda_graph_gib", p.cuda_graph_gib, 1024.0),
        ] {
            if !v.is_finite() || v < 0.0 || v > max {
                return Err(Error::field(
                    file,
                    field,
                    v,
                    format!("a finite number from 0 to {max}"),
                ));
            }
        }
        Ok(p)
    }

    /// The profile as a TOML file, with a comment saying what made it.
    pub fn to_toml(&self, comment: &str) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        let mut out = String::new();
        for line in comment.lines() {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
        out + &body
    }

    /// Non-torch bytes of one rank at TP `tp`.
    pub fn non_torch_bytes(&self, tp: u64) -> u64 {
        let gib = self.non_torch_base_gib + self.non_torch_per_rank_gib * (tp.max(1) - 1) as f64;
        (gib * GIB as f64).round() as u64
    }

    /// CUDA-graph bytes of one rank.
    pub fn cuda_graph_bytes(&self) -> u64 {
        (self.cuda_graph_gib * GIB as f64).round() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn links(channels: u64, peer_access: bool, nvls: bool) -> NcclLinks {
        NcclLinks {
            channels,
            channels_assumed: false,
            peer_access,
            nvls,
        }
    }

    /// Hand-computed per docs/facts.md §4 (NCCL constants, vLLM's all-reduce tables).
    // HCCL (CANN's HCCL_BUFFSIZE reference: 200 MB default, 2 × per communicator): DeepSeek-V3
    // on vLLM-Ascend at TP16 keeps the TP group's and the expert group's, 256 + 2 × 400 = 1,056
    // MiB per rank, against 256 + 15 × 128 = 2,176 MiB by the TP-proportional estimate; a dense
    // model at TP4 keeps one (656 MiB; 640 by the estimate); nothing at TP1.
    #[test]
    fn hccl_non_torch_by_hand() {
        let v3 = HcclNonTorch::vllm_ascend(16, true);
        assert_eq!(v3.communicators, 2);
        assert_eq!(v3.bytes(), 1056 * MIB);
        assert_eq!(non_torch_bytes(16), 2176 * MIB);
        assert_eq!(HcclNonTorch::vllm_ascend(4, false).bytes(), 656 * MIB);
        assert_eq!(HcclNonTorch::vllm_ascend(2, true).bytes(), 1056 * MIB);
        assert_eq!(
            HcclNonTorch::vllm_ascend(1, true).bytes(),
            non_torch_bytes(1)
        );
        assert_eq!(HcclNonTorch::vllm_ascend(1, true).communicators, 0);
        let d = CommNonTorch::Hccl(v3).describe();
        assert!(d.contains("2 HCCL communicators"), "{d}");
        assert!(d.contains("expert group"), "{d}");
    }

    #[test]
    fn nccl_non_torch_by_hand() {
        const V2_26: NcclNvls = NcclNvls::V2_22;
        // vLLM's terms without a FlashInfer workspace.
        let eager =
            |l, cc, tp, lazy, release, v0| NcclNonTorch::vllm(l, cc, tp, lazy, release, v0, 0);
        // Receive side header + LL + LL128 + Simple = 9,637,888 B -> 10 MiB; send side 4 KiB -> 2 MiB.
        assert_eq!(NCCL_RECV_BYTES, 10 * MIB);
        assert_eq!(NCCL_SEND_BYTES, 2 * MIB);
        assert_eq!(nccl_connection_bytes(), 12 * MIB);
        // NCCL's network-proxy shared buffer: 24 channels → 32 p2p channels × 16 steps × 512 KiB.
        assert_eq!(nccl_net_shared_bytes(links(24, true, false)), 256 * MIB);
        assert_eq!(nccl_net_shared_bytes(links(16, true, true)), 128 * MIB);
        assert_eq!(nccl_net_shared_bytes(links(0, false, false)), 0);
        // 64 channels (NCCL ≥ 2.27 on B300): 512 MiB, the 536,870,912 B of nccl issue 2363.
        assert_eq!(nccl_net_shared_bytes(links(64, true, true)), 536_870_912);
        // A100 TP4, vLLM 0.8 (eager, 24 logged channels, no NVLS): 256 MiB at TP1
        // + 2 communicators × (24 × 2 sets × 12 MiB + 256 MiB) = 1,664 + custom all-reduce 8 + 10
        // MiB = 1,938 MiB.
        let a100 = eager(links(24, true, false), Some((8, 0)), 4, false, V2_26, false);
        assert_eq!(a100.nccl(), 1664 * MIB);
        assert_eq!(a100.custom_all_reduce, 18 * MIB);
        assert_eq!(a100.bytes(), 1938 * MIB);
        // The same at TP8: the rank's neighbours, not the TP size, set the connections.
        let a100_tp8 = eager(links(24, true, false), Some((8, 0)), 8, false, V2_26, false);
        assert_eq!(a100_tp8.bytes(), 1938 * MIB);
        // From v0.11 the init snapshot follows NCCL's set-up: 0.07 GiB + torch's communicator,
        // created after it — (3 · 32 + 2) · 2 MiB of cuMem set-up + its ring, 24 · 12 MiB.
        let lazy = eager(links(24, true, false), Some((8, 0)), 4, true, V2_26, false);
        assert_eq!(lazy.bytes(), 75_161_927 + (196 + 288) * MIB);
        assert_eq!(lazy.torch_communicator(), (196 + 288) * MIB);
        // H100 TP8 up to v0.10 (eager): 2 × (24 × 2 × 12 MiB + NVLS 16 × 2 × 1 MiB × 8 = 256 MiB
        // + proxy buffer 256 MiB) = 2,176 MiB + custom all-reduce 18 MiB + 256 MiB = 2,450 MiB.
        let h100 = eager(links(24, true, true), Some((9, 0)), 8, false, V2_26, false);
        assert_eq!(h100.nvls, 256 * MIB);
        assert_eq!(h100.bytes(), 2450 * MIB);
        // H100 TP8 from v0.11: the custom all-reduce (256 KiB in two 2 MiB allocations) and the
        // symmetric memory (64 MiB) come before the snapshot; charged: 0.07 GiB + 484 MiB of
        // torch's communicator + FlashInfer's workspace at 0.19 (3 · 512 MiB).
        let fi = flashinfer_ar_workspace_bytes(8, MIB / 2, FI_MULTICAST_GRANULARITY);
        assert_eq!(fi, 1536 * MIB);
        let h100 = NcclNonTorch::vllm(
            links(24, true, true),
            Some((9, 0)),
            8,
            true,
            V2_26,
            false,
            fi,
        );
        assert_eq!(h100.custom_all_reduce, 4 * MIB);
        assert_eq!(h100.symm_mem, 64 * MIB);
        assert_eq!(h100.bytes(), 75_161_927 + (484 + 1536) * MIB);
        // And the NVLS buffers PyNccl connects when the profiling batch's all-reduce exceeds the
        // symmetric memory's 64 MiB: DeepSeek-V3's 8,192 × 7,168 × 2 B = 112 MiB does, 16 × 2 ×
        // 1 MiB × 8 = 256 MiB; Llama-3.1-8B's 8,192 × 4,096 × 2 B = 64 MiB (≤ the limit) does
        // not; nor does TP4 (NCCL never picks NVLS there) or any release before 0.11.
        assert_eq!(h100.pynccl_above, 64 * MIB);
        assert_eq!(h100.pynccl_nvls(8192 * 7168 * 2), 256 * MIB);
        assert_eq!(h100.pynccl_nvls(8192 * 4096 * 2), 0);
        assert!(h100.describe().contains("256 MiB"));
        let tp4 = NcclNonTorch::vllm(
            links(24, true, true),
            Some((9, 0)),
            4,
            true,
            V2_26,
            false,
            0,
        );
        assert_eq!(tp4.pynccl_nvls(u64::MAX), 0);
        let eager_tp8 = eager(links(24, true, true), Some((9, 0)), 8, false, V2_26, false);
        assert_eq!(eager_tp8.pynccl_nvls(u64::MAX), 0);
        // TP2: one connection set (the one peer is both neighbours), no NVLS.
        let h100_tp2 = eager(links(24, true, true), Some((9, 0)), 2, false, V2_26, false);
        assert_eq!(h100_tp2.bytes(), (256 + 2 * (288 + 256) + 18) * MIB);
        // RTX 4090 TP2: no peer access, so the TP1 figure alone.
        let rtx = eager(links(0, false, false), Some((8, 9)), 2, true, V2_26, false);
        assert_eq!(rtx.bytes(), 256 * MIB);
        assert!(rtx.describe().contains("no GPU peer access"));
        assert!(h100.describe().contains("24 channels"));
        // Blackwell NVLS: 32 channels.
        assert_eq!(nvls_bytes(10, 8, 24, V2_26), 512 * MIB);
        assert_eq!(nvls_bytes(9, 2, 24, V2_26), 0);
        assert_eq!(nvls_bytes(8, 8, 24, V2_26), 0);
        // NCCL 2.20 on 8× H200 with 24 ring channels, as vLLM issue 9699 logged it.
        assert_eq!(nvls_bytes(9, 8, 24, NcclNvls::V2_20), 2_415_919_104);
        // NCCL 2.21 (vLLM 0.6.4–0.8): 24 · 2 · (1 + 2) MiB · 8 = 1,152 MiB a communicator, so
        // H100 TP8 up to 0.8: 256 + 1,152 + 2 × (1,152 + 256) + 18 = 4,242 MiB.
        assert_eq!(nvls_bytes(9, 8, 24, NcclNvls::V2_21), 1152 * MIB);
        assert_eq!(nvls_bytes(9, 4, 24, NcclNvls::V2_21), 576 * MIB);
        let h100_21 = eager(
            links(24, true, true),
            Some((9, 0)),
            8,
            false,
            NcclNvls::V2_21,
            false,
        );
        assert_eq!(h100_21.bytes(), 4242 * MIB);
        // V0's logits gather at TP4 on A100 (P2P read between 8.0 GPUs over NVLink): 3 peers ×
        // 32 channels (24 rounded up) × 6 MiB of receive side = 576 MiB on the destination; on
        // H200 at TP8 (no read) 7 × 32 × 10 MiB = 2,240 MiB; none without peer access.
        assert_eq!(NCCL_RECV_READ_BYTES, 6 * MIB);
        assert_eq!(
            v0_gather_bytes(links(24, true, false), Some((8, 0)), 4),
            576 * MIB
        );
        assert_eq!(
            v0_gather_bytes(links(24, true, true), Some((9, 0)), 8),
            2240 * MIB
        );
        assert_eq!(v0_gather_bytes(links(0, false, false), Some((8, 9)), 2), 0);
        let a100_v0 = eager(
            links(24, true, false),
            Some((8, 0)),
            4,
            false,
            NcclNvls::V2_21,
            true,
        );
        assert_eq!(a100_v0.bytes(), (1938 + 576) * MIB);
        assert!(a100_v0
            .describe()
            .contains("3 peers × 32 point-to-point channels × 6 MiB"));
        // Only the last pipeline stage gathers the logits.
        let c = CommNonTorch::Nccl(a100_v0);
        assert_eq!(c.bytes_on_stage(true), (1938 + 576) * MIB);
        // Other stages have no torch communicator yet: 1,938 − (576 + 256) = 1,106 MiB (the
        // A100 log's first-stage workers logged 0.89–1.07 GiB, 911–1,096 MiB).
        assert_eq!(a100_v0.torch_communicator(), (576 + 256) * MIB);
        assert_eq!(c.bytes_on_stage(false), 1106 * MIB);
        // SGLang counts one communicator, vLLM's: nothing to take off.
        assert_eq!(
            NcclNonTorch::sglang(links(24, true, true), 4).torch_communicator(),
            0
        );
    }

    /// SGLang (`NCCL_CUMEM_ENABLE=0`, `NCCL_NVLS_ENABLE=0`; one PyNccl communicator before its
    /// free-memory reading; custom all-reduce 8 + 10 MiB of IPC buffers and 8 MiB of rank_data),
    /// hand-computed.
    #[test]
    fn sglang_nccl_non_torch_by_hand() {
        // H100 TP4: 256 MiB + 24 channels × 2 sets × 12 MiB = 576 MiB + the proxy buffer 256 MiB
        // + 26 MiB = 1,114 MiB (1.088 GiB), against 640 MiB by the TP-proportional estimate; NVLS
        // off although the H100 has it.
        let h100 = NcclNonTorch::sglang(links(24, true, true), 4);
        assert_eq!(h100.nccl(), (576 + 256) * MIB);
        assert_eq!(h100.nvls, 0);
        assert_eq!(h100.custom_all_reduce, 26 * MIB);
        assert_eq!(h100.bytes(), 1114 * MIB);
        assert!(non_torch_bytes(4) == 640 * MIB);
        // TP8 on a B200 (32 logged channels): 256 + 768 + 256 + 26 = 1,306 MiB, whatever the TP
        // above 2.
        assert_eq!(
            NcclNonTorch::sglang(links(32, true, true), 8).bytes(),
            1306 * MIB
        );
        // TP2: one connection set per channel: 256 + 288 + 256 + 26 = 826 MiB.
        assert_eq!(
            NcclNonTorch::sglang(links(24, true, true), 2).bytes(),
            826 * MIB
        );
        // No peer access (RTX 4090): the SHM transport and no custom all-reduce.
        let rtx = NcclNonTorch::sglang(links(0, false, false), 2);
        assert_eq!(rtx.bytes(), 256 * MIB);
        assert!(rtx.describe().contains("no GPU peer access"));
        let d = h100.describe();
        assert!(
            d.contains("1 NCCL communicator") && d.contains("NCCL_NVLS_ENABLE=0"),
            "{d}"
        );
        // TP1: nothing beyond the context.
        assert_eq!(
            NcclNonTorch::sglang(links(24, true, true), 1).bytes(),
            256 * MIB
        );
    }

    // The fused-MoE workspace of Qwen3-235B-A22B at TP4 (hidden 4096, 8 of 128 experts of width
    // 1536: 384 per rank, N = 768): v0.7.3 8 · (768 + 384 + 4096) = 41,984 elements per token,
    // v0.10.1 8 · (4096 + 384) = 35,840, v0.20.2 8 · (4096 + 4096) = 65,536.
    #[test]
    fn fused_moe_workspace_by_release() {
        let w = |workspace| FusedMoe {
            workspace,
            chunk: 32_768,
            eager_rows: false,
            quantised_input: QuantisedInput::None,
            persistent: false,
        };
        assert_eq!(
            w(MoeWorkspace::Separate).elements_per_token(8, 384, 4096),
            41_984
        );
        assert_eq!(
            w(MoeWorkspace::SharedCache13).elements_per_token(8, 384, 4096),
            35_840
        );
        assert_eq!(
            w(MoeWorkspace::Modular).elements_per_token(8, 384, 4096),
            65_536
        );
        // A wide expert (N > K): DeepSeek-V2-Lite at TP1, 6 × 1408, hidden 2048: N = 2816.
        assert_eq!(
            w(MoeWorkspace::SharedCache13).elements_per_token(6, 1408, 2048),
            6 * (2816 + 1408)
        );
        // Chunked: 65,536 batched tokens hold the workspace for 32,768 of them.
        let a = Activation {
            per_token: 100,
            moe_base: 10,
            moe_workspace: 1000,
            moe_chunk: 32_768,
            moe_chunked_output: 0,
            moe_persistent: false,
            sampler: 0,
            separate: false,
            held_per_token: 0,
            held: 0,
            scale: 1.0,
        };
        assert_eq!(a.bytes(65_536), 65_536 * 10 + 32_768 * 1000);
        // Below the chunk the MoE layer (10 + 1000 per token) outweighs the dense one (100).
        assert_eq!(a.bytes(8), 8 * (10 + 1000));
        // Persistent (vLLM ≥ 0.14) and chunked (0.14–0.17): one chunk's workspace (4 · 1000) and
        // the whole batch's output (8 · 7) stay beside the dense layers (8 · 100) and the sampler.
        let p = Activation {
            moe_chunk: 4,
            moe_chunked_output: 7,
            moe_persistent: true,
            sampler: 1_000_000,
            separate: true,
            ..a
        };
        assert_eq!(p.bytes(8), 1_000_000 + 4 * 1000 + 8 * 7);
        assert_eq!(
            Activation { sampler: 0, ..p }.bytes(8),
            8 * 100 + 4 * 1000 + 8 * 7
        );
        // At or below one chunk there is no separate output buffer.
        assert_eq!(Activation { sampler: 0, ..p }.bytes(4), 4 * 100 + 4 * 1000);
    }

    // DeepSeek-R1 (hidden 7168, 128 heads, q_lora 1536, kv_lora 512, nope 128, RoPE 64, v 128) at
    // TP8 (16 heads per rank), by hand: 2·7168 + (2·1536 + 2·512 + 64) + 16·192 + (16·256 +
    // 2·16·192 + 16·128) + 2·7168 = 48,192 elements, + 64 (v0.7.3's new k_pe) = 48,256, or
    // + 7168 (v0.8.0's preallocated output) = 55,360. At the 163,840-token V0 batch in BF16:
    // 163,840 · 55,360 · 2 B = 18,140,364,800 B = 16.89 GiB per rank.
    #[test]
    fn mla_prefill_peak_by_release() {
        let r1 = crate::model::Mla::deepseek_v3();
        assert_eq!(MlaPrefill::Utils.elements_per_token(&r1, 7168, 8), 48_256);
        assert_eq!(MlaPrefill::Common.elements_per_token(&r1, 7168, 8), 55_360);
        assert_eq!(
            163_840 * 2 * MlaPrefill::Common.elements_per_token(&r1, 7168, 8),
            18_140_364_800
        );
        // One GPU: no all-reduce result; all 128 heads (16·8 per head-width term).
        let one = 2 * 7168 + 4160 + 128 * 192 + (128 * 256 + 2 * 128 * 192 + 128 * 128) + 7168;
        assert_eq!(MlaPrefill::Utils.elements_per_token(&r1, 7168, 1), one + 64);
        // Without a query LoRA (DeepSeek-V2-Lite) nothing is charged for `ckq`/`q_c`.
        let lite = Mla {
            q_lora_rank: None,
            heads: 16,
            ..r1.clone()
        };
        assert_eq!(
            MlaPrefill::Common.elements_per_token(&r1, 7168, 8)
                - MlaPrefill::Common.elements_per_token(
                    &Mla {
                        q_lora_rank: None,
                        ..r1.clone()
                    },
                    7168,
                    8
                ),
            2 * 1536
        );
        assert_eq!(
            MlaPrefill::Common.elements_per_token(&lite, 2048, 1),
            2 * 2048 + 1088 + 16 * 192 + (16 * 256 + 2 * 16 * 192 + 16 * 128) + 2048 + 2048
        );
    }

    // vLLM V1's profiling peak is the larger of the forward pass and the sampler with the hidden
    // states still held. gpt-oss-120b (hidden 2880, vocab 201,088) at v0.11 on an H100 with
    // `--max-num-batched-tokens 1024` and 1024 sequences: 1024 · 201,088 · 38 B = 7,824,736,256 B
    // of logits, sort buffers and copies, plus (1024 + 2 · 1024) · 2880 · 2 B = 17,694,720 B of
    // hidden rows: 7.30 GiB. Issue 27508's log leaves 75.23 − 1.71 − 65.97 = 7.55 GiB for the
    // activation peak and non-torch memory (github.com/vllm-project/vllm/issues/27508).
    #[test]
    fn sampler_peak_after_the_forward_pass() {
        let rule = SamplerRule {
            bytes_per_logit: 38,
            after_forward: true,
            held_rows_per_token: 1,
            held_rows_per_seq: 2,
            scratch_sms: 0,
        };
        let (seqs, vocab, hidden) = (1024u64, 201_088u64, 2880u64);
        let a = Activation {
            per_token: 1000,
            moe_base: 0,
            moe_workspace: 0,
            moe_chunk: 0,
            moe_chunked_output: 0,
            moe_persistent: false,
            sampler: seqs * vocab * rule.bytes_per_logit,
            separate: rule.after_forward,
            held_per_token: rule.held_rows_per_token * hidden * 2,
            held: rule.held_rows_per_seq * seqs * hidden * 2,
            scale: 1.0,
        };
        assert_eq!(a.bytes(1024), 7_824_736_256 + 17_694_720);
        // A forward pass larger than the sampler's peak is the peak on its own.
        let wide = Activation {
            per_token: 10_000_000,
            ..a
        };
        assert_eq!(wide.bytes(1024), 10_240_000_000);
        // Summed (kvsim's estimate for engines whose rule is not modelled).
        let sum = Activation {
            separate: false,
            ..a
        };
        assert_eq!(sum.bytes(1024), 1_024_000 + 7_824_736_256);
    }

    // The default profile reproduces kvsim's own estimates: 0.25 + 0.125 · 7 = 1.125 GiB at TP8.
    #[test]
    fn default_profile_is_kvsims_estimate() {
        let p = OverheadProfile::DEFAULT;
        for tp in [1, 2, 8, 64] {
            assert_eq!(p.non_torch_bytes(tp), non_torch_bytes(tp));
        }
        assert_eq!(p.cuda_graph_bytes(), cuda_graph_bytes());
        let back = OverheadProfile::from_toml("p.toml", &p.to_toml("test")).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_profiles_name_the_field() {
        let e = OverheadProfile::from_toml(
            "p.toml",
            "non_torch_base_gib = -1\nnon_torch_per_rank_gib = 0\nactivation_scale = 1\ncuda_graph_gib = 0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("p.toml") && e.contains("non_torch_base_gib"),
            "{e}"
        );
        let e = OverheadProfile::from_toml("p.toml", "activation_scale = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.toml") && e.contains("missing"), "{e}");
        let e = OverheadProfile::from_toml("p.toml", "nonsense = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("nonsense"), "{e}");
    }

    proptest::proptest! {
        // FlashInfer's workspace: three allocations, each a whole number of granules and never
        // less than its buffer; the Triton sampler's scratch rows: never more than the SMs or
        // the next power of two of the rows, and all the rows when they fit.
        #[test]
        fn workspace_and_scratch_bounds(
            tp in 1u64..17,
            max_size in 0u64..(128 << 20),
            coarse in proptest::bool::ANY,
            sms in 0u64..200,
            rows in 0u64..5000,
        ) {
            let g = if coarse { FI_MULTICAST_GRANULARITY } else { ALLOC_GRANULARITY };
            let w = flashinfer_ar_workspace_bytes(tp, max_size, g);
            proptest::prop_assert_eq!(w % g, 0);
            proptest::prop_assert!(w >= 4 * tp * max_size + tp * 1024);
            proptest::prop_assert!(w <= 4 * tp * max_size + tp * 1024 + 3 * (g + ALLOC_GRANULARITY));
            let rule = SamplerRule { scratch_sms: sms, ..SamplerRule::ESTIMATE };
            let r = rule.scratch_rows(rows);
            proptest::prop_assert!(r <= sms && r <= rows.next_power_of_two());
            if sms > 0 && rows > 0 && rows <= sms {
                proptest::prop_assert!(r >= rows);
            }
        }

        // A persistent fused-MoE workspace never lowers the peak, and raises it by at most the
        // workspace itself (it sits beside the forward's layers and the sampler, once); more
        // batched tokens never lower either.
        #[test]
        fn persistent_workspace_bounds(
            per_token in 0u64..100_000,
            base in 0u64..100_000,
            ws in 0u64..300_000,
            chunk in 1u64..70_000,
            out in 0u64..10_000,
            sampler in 0u64..(8 << 30),
            held in 0u64..10_000,
            t in 1u64..70_000,
        ) {
            let freed = Activation {
                per_token,
                moe_base: base,
                moe_workspace: ws,
                moe_chunk: chunk,
                moe_chunked_output: out,
                moe_persistent: false,
                sampler,
                separate: true,
                held_per_token: held,
                held: 0,
                scale: 1.0,
            };
            let kept = Activation { moe_persistent: true, ..freed };
            let workspace = t.min(chunk) * ws + if t > chunk { t * out } else { 0 };
            proptest::prop_assert!(kept.bytes(t) >= freed.bytes(t));
            proptest::prop_assert!(kept.bytes(t) <= freed.bytes(t) + workspace);
            proptest::prop_assert!(kept.bytes(t + 1) >= kept.bytes(t));
        }

        // NVLS buffers: none on two GPUs or before Hopper; otherwise a whole number of 2 MiB
        // allocations that grows with the GPUs and the ring channels, and the older layouts
        // (per ring channel, with head/tail memory) never hold less than the later one once
        // there are at least 16 ring channels (2.22's NVLS channel count on 9.x).
        #[test]
        fn nvls_layouts(ranks in 1u64..72, channels in 1u64..64, major in 7u32..12) {
            let b = |r, c, rel| nvls_bytes(major, r, c, rel);
            for rel in [NcclNvls::V2_20, NcclNvls::V2_21, NcclNvls::V2_22] {
                let x = b(ranks, channels, rel);
                proptest::prop_assert_eq!(x % (2 << 20), 0);
                if ranks <= 2 || major < 9 {
                    proptest::prop_assert_eq!(x, 0);
                }
                proptest::prop_assert!(b(ranks + 1, channels, rel) >= x);
                proptest::prop_assert!(b(ranks, channels + 1, rel) >= x);
            }
            proptest::prop_assert!(
                b(ranks, channels, NcclNvls::V2_20) >= b(ranks, channels, NcclNvls::V2_21)
            );
            if channels >= 16 && major == 9 {
                proptest::prop_assert!(
                    b(ranks, channels, NcclNvls::V2_21) >= b(ranks, channels, NcclNvls::V2_22)
                );
            }
        }

        // The network-proxy buffer: a power-of-two number of p2p channels × 16 × 512 KiB on
        // peer-access chips, none when NCCL connects at run time; and a rank of an earlier
        // pipeline stage never holds more than one of the last (torch's communicator and V0's
        // gather are the last stage's).
        #[test]
        fn net_shared_and_stages(
            channels in 0u64..65,
            tp in 1u64..17,
            peer in proptest::bool::ANY,
            lazy in proptest::bool::ANY,
            v0 in proptest::bool::ANY,
            fi in 0u64..(2 << 30),
        ) {
            let l = links(channels, peer, true);
            let ns = nccl_net_shared_bytes(l);
            if peer {
                proptest::prop_assert!((ns / (8 << 20)).is_power_of_two());
                proptest::prop_assert_eq!(ns % (8 << 20), 0);
            } else {
                proptest::prop_assert_eq!(ns, 0);
            }
            let n = NcclNonTorch::vllm(l, Some((9, 0)), tp, lazy, NcclNvls::V2_22, v0, fi);
            if lazy {
                proptest::prop_assert_eq!(n.net_shared, 0);
            }
            let c = CommNonTorch::Nccl(n);
            proptest::prop_assert!(c.bytes_on_stage(false) <= c.bytes_on_stage(true));
            // After the init snapshot (v0.11 on, with peer access) a multi-GPU worker charges
            // its logged 0.07 GiB at least; before, the TP1 figure at least.
            let floor = if n.after_snapshot { VLLM_MULTI_GPU_NON_TORCH } else { non_torch_bytes(1) };
            proptest::prop_assert!(c.bytes_on_stage(false) >= floor);
            // What the snapshot leaves out is never charged.
            if n.after_snapshot {
                proptest::prop_assert_eq!(c.bytes_on_stage(true), VLLM_MULTI_GPU_NON_TORCH + n.torch_communicator() + n.fi_workspace);
            }
        }
    }
}
