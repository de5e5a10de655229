//! vLLM V0's eager profiling forward as a sequence of tensor allocations and frees, replayed
//! through the caching allocator ([`super::allocator::Replay`]) to find what it reserves.
//!
//! Why: V0 up to 0.6.3 budgets the KV cache from `mem_get_info` after the profiling run with no
//! `empty_cache` between (`worker.py::Worker.determine_num_available_blocks` @ v0.5.1–v0.6.3), so
//! it charges every segment the forward made the allocator reserve, not the allocated peak. The
//! forward's tensors come in many sizes and a freed block only merges with its neighbours in its
//! own segment, so a later, larger tensor needs a new segment while the earlier ones sit cached:
//! DeepSeek-V2-Lite at TP2 over a 163,840-token profiling batch reserves 11.9 GiB for an allocated
//! peak of 6.9 GiB.
//!
//! What each layer allocates and when it is freed, read at v0.5.1 (per token on one rank, in the
//! activation dtype unless said; a Python local lives until it is rebound or its function returns,
//! a view keeps its base alive):
//! - the model's loop (`DeepseekV2Model.forward`, `LlamaModel.forward`): the embedding output,
//!   which becomes the residual (`fused_add_rms_norm` updates it in place); the first layer's input
//!   norm is a new tensor (`rms_norm`), later ones are in place; the loop holds each layer's input
//!   while the layer runs. The all-reduces of whole activations are in place: the custom
//!   all-reduce takes at most 8 MiB and PyNccl is off outside graph capture, so
//!   `torch.distributed.all_reduce` runs (`parallel_state.py::GroupCoordinator.all_reduce`).
//! - Attention with grouped K/V heads (`llama.py::LlamaAttention.forward`): `qkv_proj`'s output;
//!   the rotary embedding in place; the backend's `output = torch.empty_like(query)` and flash
//!   attention's own output, copied into it and freed; `o_proj`'s output. `qkv` and `output` are
//!   freed when the attention returns (`attention/backends/flash_attn.py` @ v0.5.1).
//! - DeepSeek-V2's attention before MLA support, K and V per head padded to 256
//!   (`deepseek_v2.py::DeepseekV2Attention.forward` @ v0.5.1): `q_proj`, the latent
//!   (`kv_a_proj_with_mqa`), `kv_a.contiguous()` and its norm, `kv_b_proj`; the pure-torch
//!   rotary embedding (`DeepseekScalingRotaryEmbedding.forward`: cos/sin gathers, the products and
//!   `_rotate_gptj`'s temporaries; new `q_pe`, `k_pe`); `k = empty_like(q)`, the three padded q, k,
//!   v; the backend's output and flash attention's; the attention output cut to `v_head_dim` and
//!   copied by `reshape`; `o_proj`'s output.
//! - Dense FFN (`LlamaMLP`, `DeepseekV2MLP`): `gate_up_proj`'s output, `SiluAndMul`'s, `down_proj`'s;
//!   the activation freed when `x` is rebound, `gate_up` at return.
//! - MoE (`DeepseekV2MoE.forward`, `fused_moe.py::fused_experts` @ v0.5.1): the shared experts'
//!   MLP (its output kept to the end), the router logits, the routing's weights and ids, the fused
//!   kernel's caches ([`super::overhead::FusedMoe`], sized by the chunk and freed on return), then
//!   with shared experts the routed output scaled by `routed_scaling_factor` and its sum with the
//!   shared output (two new rows).
//!
//! Left out: allocations below a few MiB (the block-alignment indices of each fused-MoE chunk, the
//! routing's temporaries), the sampler, which runs after the forward and reuses its cached blocks,
//! and kernels' own workspaces. Other attention families are replayed as grouped K/V attention of
//! their projection width.

use super::allocator::{CachingAllocator, Replay};
use super::overhead::{FusedMoe, MoeWorkspace};
use crate::model::{Attention, Ffn, LayerGroup, MlaLayout, Model};

/// A tensor's size at `t` batched tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    /// Bytes per batched token.
    PerToken(u64),
    /// Bytes per token of `min(t, chunk)` tokens.
    Chunk(u64, u64),
}

impl Size {
    fn bytes(self, t: u64) -> u64 {
        match self {
            Size::PerToken(b) => b.saturating_mul(t),
            Size::Chunk(b, chunk) => b.saturating_mul(t.min(chunk)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Alloc(u16, Size),
    Free(u16),
    /// The tensor in the first slot is now known by the second (an in-place result).
    Rename(u16, u16),
}

/// One kind of decoder layer: its steps, and how many layers of it run in a row. The layer's
/// input is slot [`INPUT`] and its output must end in slot [`OUTPUT`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layer {
    count: u64,
    steps: Vec<Step>,
}

/// The residual (the embedding output), the layer's input and its output.
const RESIDUAL: u16 = 0;
const INPUT: u16 = 1;
const OUTPUT: u16 = 2;
/// Model inputs alive through the forward: token ids, positions, slot mapping (int64 each).
const INPUTS: u16 = 3;

/// What one rank runs: its share of the attention (`attention_tp`) and of the FFN (`tp`), the
/// activation dtype's bytes, how the engine lays out MLA (per head, padded, before vLLM's MLA
/// support) and the fused-MoE kernel's caches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rank {
    pub attention_tp: u64,
    pub tp: u64,
    pub dtype: u64,
    pub mla: MlaLayout,
    pub fused: Option<FusedMoe>,
}

/// The profiling forward of one pipeline stage's layers, ready to replay at any batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    hidden_bytes: u64,
    layers: Vec<Layer>,
}

/// Builds the steps of one layer with named slots.
struct Builder {
    steps: Vec<Step>,
    next: u16,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            steps: Vec::new(),
            next: 8,
        }
    }

    /// A new tensor of `bytes` per token.
    fn new_tensor(&mut self, bytes: u64) -> u16 {
        self.put(Size::PerToken(bytes))
    }

    fn put(&mut self, size: Size) -> u16 {
        let id = self.next;
        self.next += 1;
        self.steps.push(Step::Alloc(id, size));
        id
    }

    fn free(&mut self, ids: &[u16]) {
        self.steps.extend(ids.iter().map(|&i| Step::Free(i)));
    }

    /// Allocates into a fixed slot (the layer's output).
    fn alloc_slot(&mut self, slot: u16, bytes: u64) {
        self.steps.push(Step::Alloc(slot, Size::PerToken(bytes)));
    }

    fn rename(&mut self, from: u16, to: u16) {
        self.steps.push(Step::Rename(from, to));
    }
}

impl Trace {
    /// The forward of a stage's layers, `runs` of identical consecutive layers in layer order
    /// ([`Model::runs`]), on one rank; `first`: the stage starts the model (its first layer norms
    /// into a new tensor).
    pub fn v0(hidden: u64, runs: &[LayerGroup], first: bool, rank: &Rank) -> Trace {
        let (atp, tp, dtype) = (rank.attention_tp.max(1), rank.tp.max(1), rank.dtype);
        let h = hidden.saturating_mul(dtype);
        let mut layers = Vec::with_capacity(runs.len() + 1);
        for (i, g) in runs.iter().enumerate() {
            let split = i == 0 && first;
            for (new_norm, count) in [
                (true, u64::from(split)),
                (false, g.count - u64::from(split)),
            ] {
                if count == 0 {
                    continue;
                }
                let mut b = Builder::new();
                let normed = new_norm.then(|| b.new_tensor(h));
                let o = attention(&mut b, &g.attention, atp, dtype, h, rank.mla);
                if let Some(n) = normed {
                    b.free(&[n]);
                }
                ffn(&mut b, &g.ffn, tp, dtype, h, rank.fused, o);
                // The layer's local rebinding frees the attention output; the loop's, its input.
                b.free(&[o, INPUT]);
                layers.push(Layer {
                    count,
                    steps: b.steps,
                });
            }
        }
        Trace {
            hidden_bytes: h,
            layers,
        }
    }

    /// [`Trace::v0`] for the layers `start..end` of `model`.
    pub fn v0_stage(model: &Model, start: u64, end: u64, rank: &Rank) -> Trace {
        Trace::v0(model.hidden, &model.runs_in(start, end), start == 0, rank)
    }

    /// The most the caching allocator reserves over the forward at `t` batched tokens.
    pub fn reserved_peak(&self, allocator: CachingAllocator, t: u64) -> u64 {
        self.peaks(allocator, t).1
    }

    /// The allocated and the reserved peak over the forward at `t` batched tokens.
    pub fn peaks(&self, allocator: CachingAllocator, t: u64) -> (u64, u64) {
        let mut r = Replay::new(allocator);
        // Slot → handle; the first layer's input is the embedding output, the residual.
        let mut slots: Vec<Option<u32>> = vec![None; 64];
        for i in 0..3 {
            slots[usize::from(INPUTS) + i] = Some(r.alloc(t.saturating_mul(8)));
        }
        slots[usize::from(RESIDUAL)] = Some(r.alloc(self.hidden_bytes.saturating_mul(t)));
        for layer in &self.layers {
            let mut before: Option<(u64, Vec<(bool, u64)>)> = None;
            for _ in 0..layer.count {
                // The layer's input: the previous layer's output, or (first layer) the embedding
                // output, which stays as the residual: no handle to free then.
                slots[usize::from(INPUT)] = slots[usize::from(OUTPUT)].take();
                for step in &layer.steps {
                    match *step {
                        Step::Alloc(slot, size) => {
                            let s = usize::from(slot);
                            if s >= slots.len() {
                                slots.resize(s + 1, None);
                            }
                            slots[s] = Some(r.alloc(size.bytes(t)));
                        }
                        Step::Free(slot) => {
                            if let Some(id) =
                                slots.get_mut(usize::from(slot)).and_then(Option::take)
                            {
                                r.free(id);
                            }
                        }
                        Step::Rename(from, to) => {
                            let id = slots.get_mut(usize::from(from)).and_then(Option::take);
                            if let Some(slot) = slots.get_mut(usize::from(to)) {
                                *slot = id;
                            }
                        }
                    }
                }
                // Layers of one kind repeat: once one leaves the allocator as it found it (no
                // new segment, the same free blocks), every later one does too.
                let now = (r.reserved, r.free_blocks());
                if before.as_ref() == Some(&now) {
                    break;
                }
                before = Some(now);
            }
        }
        (r.peak_allocated, r.peak_reserved)
    }
}

/// The attention's steps; returns the slot of its output (hidden-wide).
fn attention(b: &mut Builder, a: &Attention, atp: u64, dtype: u64, h: u64, mla: MlaLayout) -> u16 {
    if let (Attention::Mla(m), MlaLayout::PerHead { pad_to }) = (a, mla) {
        let heads = (m.heads / atp).max(1);
        let (nope, rope, v) = (m.qk_nope_head_dim, m.qk_rope_head_dim, m.v_head_dim);
        let qk = nope + rope;
        let pad = pad_to.unwrap_or(qk).max(qk).max(v);
        let e = |n: u64| n.saturating_mul(dtype);
        let mut live = Vec::new();
        // With a query LoRA, `q` is rebound through q_a_proj, its norm and q_b_proj.
        let lora = m.q_lora_rank.map(|r| {
            let ckq = b.new_tensor(e(r));
            let normed = b.new_tensor(e(r));
            b.free(&[ckq]);
            normed
        });
        live.push(b.new_tensor(e(heads * qk))); // q
        if let Some(normed) = lora {
            b.free(&[normed]);
        }
        live.push(b.new_tensor(e(m.kv_lora_rank + rope))); // the latent
        let contiguous = b.new_tensor(e(m.kv_lora_rank));
        live.push(b.new_tensor(e(m.kv_lora_rank))); // its norm
        b.free(&[contiguous]);
        live.push(b.new_tensor(e(heads * (nope + v)))); // kv_b_proj
                                                        // The rotary embedding in torch: cos_sin, cos, sin; the query's products and
                                                        // `_rotate_gptj`'s negation and stack; the key's the same at one head.
        let tables: Vec<u16> = (0..3).map(|_| b.new_tensor(e(rope))).collect();
        for width in [heads * rope, rope] {
            let t1 = b.new_tensor(e(width));
            let neg = b.new_tensor(e(width / 2));
            let stack = b.new_tensor(e(width));
            b.free(&[neg]);
            let t2 = b.new_tensor(e(width));
            b.free(&[stack]);
            live.push(b.new_tensor(e(width)));
            b.free(&[t1, t2]);
        }
        b.free(&tables);
        let k = b.new_tensor(e(heads * qk));
        live.push(b.new_tensor(e(heads * pad))); // q padded
        live.push(b.new_tensor(e(heads * pad))); // k padded
        b.free(&[k]);
        live.push(b.new_tensor(e(heads * pad))); // v padded
        let output = b.new_tensor(e(heads * pad));
        let flash = b.new_tensor(e(heads * pad));
        b.free(&[flash]);
        live.push(b.new_tensor(e(heads * v))); // the reshape copy
        b.free(&[output]);
        let o = b.new_tensor(h);
        b.free(&live);
        return o;
    }
    let q_out = match a {
        Attention::Gqa(g) => (g.heads / atp).max(1) * g.v_head_dim,
        _ => h / dtype.max(1),
    };
    let qkv = b.new_tensor(a.projection_width().div_ceil(atp).saturating_mul(dtype));
    let output = b.new_tensor(q_out.saturating_mul(dtype));
    let flash = b.new_tensor(q_out.saturating_mul(dtype));
    b.free(&[flash]);
    let o = b.new_tensor(h);
    b.free(&[qkv, output]);
    o
}

/// The FFN's steps, ending with the layer's output in [`OUTPUT`]; `input`: its input's slot (the
/// attention output, normed in place).
fn ffn(b: &mut Builder, f: &Ffn, tp: u64, dtype: u64, h: u64, fused: Option<FusedMoe>, input: u16) {
    let e = |n: u64| n.saturating_mul(dtype);
    let mlp = |b: &mut Builder, width: u64, gated: bool, out: Option<u16>| -> Option<u16> {
        let up = b.new_tensor(e(if gated { 2 * width } else { width }));
        let act = b.new_tensor(e(width));
        let down = match out {
            Some(slot) => {
                b.alloc_slot(slot, h);
                None
            }
            None => Some(b.new_tensor(h)),
        };
        b.free(&[act, up]);
        down
    };
    match f {
        Ffn::Dense {
            intermediate,
            gated,
            ..
        } => {
            mlp(b, intermediate.div_ceil(tp), *gated, Some(OUTPUT));
        }
        // Without the Triton kernel (quantised experts on Marlin and the like, whose buffers
        // are not modelled) the MoE layer runs as kvsim's estimate has it: a dense FFN of the
        // active width.
        Ffn::Moe(m) if fused.is_none() => {
            let width = m.active_experts() * m.expert_intermediate + m.shared_intermediate;
            mlp(b, width.div_ceil(tp), m.gated, Some(OUTPUT));
        }
        Ffn::Moe(m) => {
            let shared = (m.shared_intermediate > 0)
                .then(|| mlp(b, m.shared_intermediate.div_ceil(tp), m.gated, None))
                .flatten();
            let logits = b.new_tensor(e(m.experts));
            let weights = b.new_tensor(4 * m.top_k);
            let ids = b.new_tensor(8 * m.top_k);
            let (n, k) = (2 * m.expert_intermediate.div_ceil(tp), h / dtype.max(1));
            let chunk = fused.map_or(u64::MAX, |f| f.chunk);
            let cache = |b: &mut Builder, width: u64| {
                b.put(Size::Chunk(e(m.top_k.saturating_mul(width)), chunk))
            };
            let caches: Vec<u16> = match fused.map(|f| f.workspace) {
                Some(MoeWorkspace::SharedCache13) | Some(MoeWorkspace::Modular) => {
                    vec![cache(b, n.max(k)), cache(b, n / 2)]
                }
                _ => vec![cache(b, n), cache(b, n / 2), cache(b, k)],
            };
            b.free(&caches);
            match shared {
                // DeepSeek-V2: the routed output times `routed_scaling_factor`, then its sum
                // with the shared output.
                Some(s) => {
                    let scaled = b.new_tensor(h);
                    b.alloc_slot(OUTPUT, h);
                    b.free(&[scaled, s]);
                }
                // The experts write their output into their input (`inplace=True`) and the
                // all-reduce is in place: the layer's output is that tensor.
                None => b.rename(input, OUTPUT),
            }
            b.free(&[logits, weights, ids]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::load_model;

    const GIB: f64 = (1u64 << 30) as f64;

    /// One GPU, BF16, no fused-MoE caches.
    const ONE_GPU: Rank = Rank {
        attention_tp: 1,
        tp: 1,
        dtype: 2,
        mla: MlaLayout::Latent,
        fused: None,
    };

    // DeepSeek-V2-Lite at TP2 under vLLM 0.5.1 (per-head K/V padded to 256, fused-MoE caches at
    // 65,536 tokens): a 163,840-token profiling batch allocates at most 6.9 GiB and reserves
    // 11.9 GiB — the first layer's dense MLP (gate_up 3,420 MiB, act 1,710 MiB) finds only the
    // attention's 160–640 MiB blocks cached and takes new segments, and so does every MoE layer's
    // 1,056 and 1,536 MiB caches the first time. The L40 start-up of vllm#6156 leaves 12.2 GiB
    // besides weights and KV (0.9 × 44.42 − 14.75 − 12.99), with about 0.4 GiB of non-torch
    // memory.
    #[test]
    fn deepseek_v2_lite_tp2_reserves_far_more_than_it_allocates() {
        let m = load_model("deepseek-v2-lite").unwrap();
        let fused = FusedMoe {
            workspace: MoeWorkspace::Separate,
            chunk: 65_536,
            eager_rows: true,
            quantised_input: crate::engine::overhead::QuantisedInput::None,
            persistent: false,
        };
        let rank = Rank {
            attention_tp: 2,
            tp: 2,
            dtype: 2,
            mla: MlaLayout::PerHead { pad_to: Some(256) },
            fused: Some(fused),
        };
        let t = Trace::v0_stage(&m, 0, m.layers(), &rank);
        let (allocated, reserved) = t.peaks(CachingAllocator::CUDA, 163_840);
        let (allocated, reserved) = (allocated as f64 / GIB, reserved as f64 / GIB);
        assert!((allocated - 6.89).abs() < 0.01, "{allocated}");
        assert!((reserved - 11.93).abs() < 0.01, "{reserved}");
    }

    // Without the Triton kernel's caches (quantised experts), a MoE layer replays as a dense FFN
    // of the active width: Qwen3-30B-A3B's 8 × 768.
    #[test]
    fn moe_without_the_triton_kernel_runs_as_its_active_width() {
        let m = load_model("qwen3-30b-a3b").unwrap();
        let mut dense = m.clone();
        for g in &mut dense.groups {
            g.ffn = Ffn::Dense {
                intermediate: 8 * 768,
                gated: true,
                bias: false,
                act_params: 0,
            };
        }
        let rank = ONE_GPU;
        let n = m.layers();
        assert_eq!(
            Trace::v0_stage(&m, 0, n, &rank),
            Trace::v0_stage(&dense, 0, n, &rank)
        );
    }

    // Llama-3-8B on one GPU, 8,192 tokens: q/k/v 6,144 elements, the attention output and flash
    // attention's 4,096 each, o_proj's and the residual 4,096, gate_up 28,672 and act 14,336 —
    // the MLP's two tensors are the largest and come first in layer 0, so later layers reuse them.
    #[test]
    fn llama_reuses_its_first_layer_segments() {
        let m = load_model("llama-3.1-8b").unwrap();
        let rank = ONE_GPU;
        let t = Trace::v0_stage(&m, 0, m.layers(), &rank);
        let reserved = t.reserved_peak(CachingAllocator::CUDA, 8192);
        // By hand, MiB at 8,192 tokens (1 MiB per 64 elements a token): the inputs, 3 × 64 KiB,
        // share one 2 MiB small-pool segment; the embedding 64, the first layer's normed input
        // 64, qkv 96, the backend's output 64 and flash attention's 64 each take a segment;
        // o_proj's output (64) takes flash attention's freed block; then gate_up 448 and act 224
        // find no free block that fits and take segments, and down_proj (64) a freed block of
        // 64. Every later layer finds its blocks free: 1,026 MiB in all.
        let mib = 1u64 << 20;
        assert_eq!(
            reserved,
            2 * mib + (64 + 64 + 96 + 64 + 64 + 448 + 224) * mib
        );
    }
}
