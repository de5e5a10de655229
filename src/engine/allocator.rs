//! The caching allocator's segments under the weights: how much device memory the segments that
//! hold a model's parameters reserve beyond the parameters themselves.
//!
//! PyTorch's caching allocator (and torch_npu's copy of it) rounds every request to 512 B, serves
//! requests up to 1 MiB from 2 MiB segments, requests below 10 MiB from 20 MiB segments and larger
//! ones from a segment of their own rounded up to 2 MiB; a block is split when the rest of its
//! segment would be more than 1 MiB (large pool) or at least 512 B (small pool), the rest staying
//! free in the segment, else the request takes the whole block. torch_npu adds 32 B to every
//! request before rounding, so a parameter whose size is a multiple of 2 MiB — most of them —
//! reserves 2 MiB more and leaves 2 MiB − 512 B free behind it (`NPUCachingAllocator.cpp`
//! `round_size` "size = size + 32", `get_allocation_size`, `should_split`, `get_free_block`, the
//! constants `kMinBlockSize` … `kRoundLarge`, at torch_npu v2.5.1-7.0.0, v2.6.0-7.1.0,
//! v7.2.0-pytorch2.7.1 and v26.0.0-pytorch2.7.1 — the torch-npu 2.5.1 and 2.7.1 vLLM-Ascend
//! 0.9–0.11 require; expandable segments are off unless `PYTORCH_NPU_ALLOC_CONF` turns them on).
//! CUDA's allocator has the same rules without the 32 B.
//!
//! What the engines measure ([`Charge`]): torch's allocated bytes hold each block's rounding
//! and the rests too small to split off, so an engine whose weights figure is allocated bytes
//! (vLLM's "Model loading took") counts those. Nothing frees a parameter, so the free tails stay
//! reserved — `empty_cache` releases only segments with no live block — and an engine that counts
//! "device memory in use − torch allocated" after `empty_cache` as non-torch memory (vLLM-Ascend
//! up to 0.14) charges them there; one that measures its weights as free device memory before −
//! after loading (SGLang) charges everything reserved as weights. CUDA's allocator: `c10/cuda/CUDACachingAllocator.cpp` `round_size`, `should_split`,
//! `get_allocation_size`, `get_free_block`, `release_blocks` and the same constants (read at
//! pytorch commit 001074d), the same in ROCm builds.

use std::collections::BTreeMap;

const MIN_BLOCK: u64 = 512;
const SMALL_SIZE: u64 = 1 << 20;
const SMALL_BUFFER: u64 = 2 << 20;
const LARGE_BUFFER: u64 = 20 << 20;
const MIN_LARGE_ALLOC: u64 = 10 << 20;
const ROUND_LARGE: u64 = 2 << 20;

/// A caching allocator's request rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachingAllocator {
    /// Bytes added to every request before rounding.
    pub pad: u64,
}

/// What an engine's measurement counts of the weights' segments beyond the bytes requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charge {
    /// Its weights figure is torch's allocated bytes (vLLM's "Loading model weights took"): the
    /// blocks' rounding and unsplit rests count as weights, the free space nowhere.
    Allocated,
    /// As [`Charge::Allocated`], and the free space in non-torch memory (device memory in use
    /// less torch's allocated bytes after `empty_cache`: vLLM-Ascend ≤ 0.14).
    AllocatedAndFreeAsNonTorch,
    /// Its weights figure is free device memory before less after loading (SGLang): every
    /// reserved byte beyond the request counts as weights.
    Reserved,
    /// Its budget charges the device memory in use after the profiling run less at start-up,
    /// with no `empty_cache` between (vLLM V0 ≤ 0.6.3): the weights' segments count whole, as
    /// with [`Charge::Reserved`], and so do the profiling run's cached blocks (replayed by
    /// [`super::eager_trace`]).
    ReservedAfterProfile,
}

/// The allocator an engine's weights sit in, and what its measurement counts of their segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentRule {
    pub allocator: CachingAllocator,
    pub charge: Charge,
}

impl SegmentRule {
    /// What `s` adds to the weights and to non-torch memory under this rule.
    pub fn charged(&self, s: &Segments) -> (u64, u64) {
        let allocated = s.allocated - s.requested;
        match self.charge {
            Charge::Allocated => (allocated, 0),
            Charge::AllocatedAndFreeAsNonTorch => (allocated, s.free()),
            Charge::Reserved | Charge::ReservedAfterProfile => (s.reserved - s.requested, 0),
        }
    }

    /// The warning kvsim gives when it adds `weights` and `non_torch` bytes per chip.
    pub fn describe(&self, engine: impl std::fmt::Display, weights: u64, non_torch: u64) -> String {
        let gib = |b| crate::units::GibFixed::new(b, 3);
        let why = if self.allocator.pad > 0 {
            "torch_npu pads every allocation by 32 B, so a parameter of a multiple of 2 MiB reserves a 2 MiB larger segment"
        } else {
            "the caching allocator rounds a parameter of 10 MiB or more up to 2 MiB, keeping a rest of up to 1 MiB in its block and splitting off a larger one, and packs parameters of 1–10 MiB into 20 MiB segments"
        };
        let what = match self.charge {
            Charge::Allocated => format!(
                "{engine} measures the weights as torch's allocated bytes, which hold the blocks' rounding: {} GiB per chip",
                gib(weights)
            ),
            Charge::AllocatedAndFreeAsNonTorch => format!(
                "{engine} measures the weights as torch's allocated bytes, which hold the blocks' rounding ({} GiB per chip), and non-torch memory as device memory in use less those, which holds the free space inside the weights' segments ({} GiB)",
                gib(weights),
                gib(non_torch)
            ),
            Charge::Reserved => format!(
                "{engine} measures the weights as free device memory before less after loading (empty_cache, mem_get_info), which holds their allocator segments whole: {} GiB per chip beyond the parameters",
                gib(weights)
            ),
            Charge::ReservedAfterProfile => format!(
                "{engine} charges the device memory in use after the profiling run less at start-up (mem_get_info, no empty_cache between), which holds the weights' allocator segments whole: {} GiB per chip beyond the parameters (the profiling run's cached blocks count too: kvsim replays the forward through the allocator, warning `activation_reserved`)",
                gib(weights)
            ),
        };
        format!(
            "weights: {what} ({why}; expandable segments off, the allocator's default); kvsim adds it"
        )
    }
}

/// What a sequence of never-freed allocations occupies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Segments {
    /// Bytes the allocator counts as allocated (blocks, rounding and unsplit rests included).
    pub allocated: u64,
    /// Bytes of the segments it reserved from the device.
    pub reserved: u64,
    /// Bytes requested.
    pub requested: u64,
}

impl Segments {
    /// Free bytes inside reserved segments: what `empty_cache` cannot return.
    pub fn free(&self) -> u64 {
        self.reserved - self.allocated
    }

    /// Reserved bytes beyond those requested: the free space and the allocated blocks'
    /// rounding and unsplit rests.
    pub fn beyond_requested(&self) -> u64 {
        self.reserved - self.requested
    }
}

impl CachingAllocator {
    /// torch_npu's allocator (32 B padding on every request).
    pub const TORCH_NPU: CachingAllocator = CachingAllocator { pad: 32 };
    /// PyTorch's CUDA allocator.
    pub const CUDA: CachingAllocator = CachingAllocator { pad: 0 };

    /// A request's block size (`round_size`).
    pub fn round(&self, size: u64) -> u64 {
        size.saturating_add(self.pad)
            .max(MIN_BLOCK)
            .checked_next_multiple_of(MIN_BLOCK)
            .unwrap_or(u64::MAX)
    }

    /// The segment a block of `size` that finds no free block gets (`get_allocation_size`).
    fn segment(size: u64) -> u64 {
        if size <= SMALL_SIZE {
            SMALL_BUFFER
        } else if size < MIN_LARGE_ALLOC {
            LARGE_BUFFER
        } else {
            size.checked_next_multiple_of(ROUND_LARGE)
                .unwrap_or(u64::MAX)
        }
    }

    /// Places `allocations` — (bytes, how many), in order, none freed — best fit into free
    /// blocks first, as the allocator does, and returns what they occupy. Runs of identical
    /// requests are placed a block size (or a segment's worth) at a time, so the cost follows
    /// the distinct sizes, not the layer count.
    pub fn place(&self, allocations: impl IntoIterator<Item = (u64, u64)>) -> Segments {
        // Free blocks by size with their multiplicity, per pool (small, large): sizes are all
        // that matters when nothing is freed, as blocks never coalesce.
        let mut free: [BTreeMap<u64, u64>; 2] = [BTreeMap::new(), BTreeMap::new()];
        let mut s = Segments::default();
        for (bytes, count) in allocations {
            if bytes == 0 {
                continue;
            }
            let size = self.round(bytes);
            s.requested = s.requested.saturating_add(bytes.saturating_mul(count));
            let small = size <= SMALL_SIZE;
            let splits = |rest: u64| {
                if small {
                    rest >= MIN_BLOCK
                } else {
                    rest > SMALL_SIZE
                }
            };
            let pool = &mut free[usize::from(!small)];
            let mut left = count;
            while left > 0 {
                // The smallest free block that fits (no other free block lies between the
                // request and it), else a fresh segment; requests take it in turn from its rest
                // while the rest fits — the rest is then the smallest block that fits — and each
                // further copy of it the same way.
                let (block, copies, fresh) = match pool.range(size..).next() {
                    Some((&b, &c)) => (b, c, false),
                    None => (Self::segment(size), u64::MAX, true),
                };
                let (mut per, mut used, mut rest) = (0u64, 0u64, block);
                loop {
                    per += 1;
                    rest -= size;
                    if !splits(rest) {
                        used += size + rest;
                        rest = 0;
                        break;
                    }
                    used += size;
                    if rest < size || per == left {
                        break;
                    }
                }
                let whole = (left / per).clamp(1, copies);
                if fresh {
                    s.reserved = s.reserved.saturating_add(block.saturating_mul(whole));
                } else if copies == whole {
                    pool.remove(&block);
                } else {
                    pool.insert(block, copies - whole);
                }
                s.allocated = s.allocated.saturating_add(used.saturating_mul(whole));
                if rest > 0 {
                    *pool.entry(rest).or_default() += whole;
                }
                left -= per * whole;
            }
        }
        s
    }
}

/// A segment: whether it is the small pool's, and its blocks in address order, each its size and
/// the live handle in it (none: free).
type Segment = (bool, Vec<(u64, Option<u32>)>);

/// A caching allocator replaying allocations and frees in order, to find what it reserves from the
/// device at most: the rules of [`CachingAllocator::place`] (rounding, segment sizes, best fit,
/// splitting), and a freed block merging with its free neighbours in its own segment only — never
/// across segments, which is why the reserved peak of a sequence of differently sized tensors can
/// exceed the allocated peak by far (`free_block`, `try_merge_blocks` in
/// `c10/cuda/CUDACachingAllocator.cpp`, read at pytorch commit 001074d; the torch 2.3 the vLLM 0.5
/// wheels pin has the same rules). No `empty_cache`, one stream, no `max_split_size`.
#[derive(Debug, Clone)]
pub struct Replay {
    allocator: CachingAllocator,
    segments: Vec<Segment>,
    /// Where each live handle's block is: (segment, bytes).
    live: Vec<Option<(usize, u64)>>,
    pub reserved: u64,
    pub allocated: u64,
    pub peak_reserved: u64,
    pub peak_allocated: u64,
}

impl Replay {
    pub fn new(allocator: CachingAllocator) -> Replay {
        Replay {
            allocator,
            segments: Vec::new(),
            live: Vec::new(),
            reserved: 0,
            allocated: 0,
            peak_reserved: 0,
            peak_allocated: 0,
        }
    }

    /// Allocates `bytes` (0 allocates nothing) and returns its handle.
    pub fn alloc(&mut self, bytes: u64) -> u32 {
        let id = u32::try_from(self.live.len()).unwrap_or(u32::MAX);
        if bytes == 0 {
            self.live.push(None);
            return id;
        }
        let size = self.allocator.round(bytes);
        let small = size <= SMALL_SIZE;
        // The smallest free block of the pool that fits.
        let mut best: Option<(usize, usize, u64)> = None;
        for (si, (seg_small, blocks)) in self.segments.iter().enumerate() {
            if *seg_small != small {
                continue;
            }
            for (bi, &(b, owner)) in blocks.iter().enumerate() {
                if owner.is_none() && b >= size && best.is_none_or(|(_, _, s)| b < s) {
                    best = Some((si, bi, b));
                }
            }
        }
        let (si, bi, block) = best.unwrap_or_else(|| {
            let seg = CachingAllocator::segment(size);
            self.segments.push((small, vec![(seg, None)]));
            self.reserved = self.reserved.saturating_add(seg);
            self.peak_reserved = self.peak_reserved.max(self.reserved);
            (self.segments.len() - 1, 0, seg)
        });
        let rest = block.saturating_sub(size);
        let split = if small {
            rest >= MIN_BLOCK
        } else {
            rest > SMALL_SIZE
        };
        let taken = if split { size } else { block };
        let blocks = &mut self.segments[si].1;
        blocks[bi] = (taken, Some(id));
        if split {
            blocks.insert(bi + 1, (rest, None));
        }
        self.live.push(Some((si, taken)));
        self.allocated = self.allocated.saturating_add(taken);
        self.peak_allocated = self.peak_allocated.max(self.allocated);
        id
    }

    /// Frees a handle's block (twice, or an unknown handle: nothing), merging it with free
    /// neighbours in its segment.
    pub fn free(&mut self, id: u32) {
        let Some(Some((si, taken))) = self.live.get_mut(id as usize).map(Option::take) else {
            return;
        };
        self.allocated -= taken;
        let blocks = &mut self.segments[si].1;
        let Some(mut i) = blocks.iter().position(|b| b.1 == Some(id)) else {
            return;
        };
        blocks[i].1 = None;
        if i + 1 < blocks.len() && blocks[i + 1].1.is_none() {
            blocks[i].0 += blocks.remove(i + 1).0;
        }
        if i > 0 && blocks[i - 1].1.is_none() {
            let b = blocks.remove(i).0;
            i -= 1;
            blocks[i].0 += b;
        }
    }

    /// The free blocks' sizes, sorted: with the live blocks' placement, what the next
    /// allocations depend on.
    pub fn free_blocks(&self) -> Vec<(bool, u64)> {
        let mut v: Vec<(bool, u64)> = self
            .segments
            .iter()
            .flat_map(|(small, blocks)| {
                blocks
                    .iter()
                    .filter(|b| b.1.is_none())
                    .map(move |b| (*small, b.0))
            })
            .collect();
        v.sort_unstable();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn torch_npu_pads_a_two_mib_multiple_into_a_larger_segment() {
        let a = CachingAllocator::TORCH_NPU;
        // Qwen3-8B's fused qkv_proj in BF16: (4096 + 2 × 1024) × 4096 × 2 B = 48 MiB; + 32 B
        // rounds to 48 MiB + 512 B, whose segment is 50 MiB: 2 MiB − 512 B stay free.
        let s = a.place([(48 * MIB, 1)]);
        assert_eq!(s.reserved, 50 * MIB);
        assert_eq!(s.allocated, 48 * MIB + 512);
        assert_eq!(s.free(), 2 * MIB - 512);
        // CUDA's allocator fits it exactly.
        assert_eq!(CachingAllocator::CUDA.place([(48 * MIB, 1)]).free(), 0);
    }

    #[test]
    fn a_rest_of_one_mib_or_less_is_not_split() {
        // Qwen3-32B's qkv_proj at TP4: 2560 × 5120 × 2 B = 25 MiB → 26 MiB segment; the 1 MiB −
        // 512 B rest is not split off (large pool: more than 1 MiB), so it counts as allocated.
        let s = CachingAllocator::TORCH_NPU.place([(25 * MIB, 1)]);
        assert_eq!((s.reserved, s.allocated, s.free()), (26 * MIB, 26 * MIB, 0));
        // Its down_proj, 5120 × 6400 × 2 B = 62.5 MiB → 64 MiB: 1.5 MiB − 512 B split off.
        let s = CachingAllocator::TORCH_NPU.place([(62 * MIB + MIB / 2, 1)]);
        assert_eq!(s.free(), 3 * MIB / 2 - 512);
    }

    #[test]
    fn mid_sized_requests_share_twenty_mib_segments_and_reuse_free_tails() {
        let a = CachingAllocator::TORCH_NPU;
        // Three 8 MiB requests: two fit a 20 MiB segment (8 MiB + 512 B each, 4 MiB − 1 KiB
        // left), the third opens another.
        let s = a.place([(8 * MIB, 3)]);
        assert_eq!(s.reserved, 40 * MIB);
        assert_eq!(s.free(), 40 * MIB - 3 * (8 * MIB + 512));
        // A 1.5 MiB request after a 48 MiB one takes the 2 MiB − 512 B tail the first left.
        let s = a.place([(48 * MIB, 1), (3 * MIB / 2, 1)]);
        assert_eq!(s.reserved, 50 * MIB);
        // Small requests (≤ 1 MiB) come from 2 MiB segments of their own pool.
        let s = a.place([(1000, 3)]);
        assert_eq!((s.reserved, s.allocated), (2 * MIB, 3 * 1536));
    }

    // Freed blocks merge within their segment only: two 100 MiB tensors freed, then a 150 MiB
    // request finds no block that fits and reserves a third segment; a 60 MiB request after it
    // takes one of the free 100 MiB blocks and splits off 40 MiB; freeing it merges them back.
    #[test]
    fn replay_does_not_merge_across_segments() {
        let mut r = Replay::new(CachingAllocator::CUDA);
        let (a, b) = (r.alloc(100 * MIB), r.alloc(100 * MIB));
        r.free(a);
        r.free(b);
        assert_eq!((r.reserved, r.allocated), (200 * MIB, 0));
        let c = r.alloc(150 * MIB);
        assert_eq!((r.reserved, r.peak_allocated), (350 * MIB, 200 * MIB));
        let d = r.alloc(60 * MIB);
        assert_eq!(r.reserved, 350 * MIB);
        assert_eq!(r.free_blocks(), [(false, 40 * MIB), (false, 100 * MIB)]);
        r.free(d);
        r.free(c);
        r.free(c);
        assert_eq!(
            r.free_blocks(),
            [(false, 100 * MIB), (false, 100 * MIB), (false, 150 * MIB)]
        );
        // Within a segment the allocator splits and merges: a 1 MiB rest stays in the block.
        let mut r = Replay::new(CachingAllocator::CUDA);
        let x = r.alloc(11 * MIB);
        assert_eq!((r.reserved, r.allocated), (12 * MIB, 12 * MIB));
        r.free(x);
        let y = r.alloc(5 * MIB);
        assert_eq!((r.reserved, r.allocated), (12 * MIB, 5 * MIB));
        r.free(y);
        assert_eq!(r.free_blocks(), [(false, 12 * MIB)]);
    }

    /// vLLM-Ascend 0.11 (torch_npu pads, the baseline-free non-torch rule) on Qwen3-8B at TP1:
    /// the free tails the weights leave, by hand. Per layer (36) qkv 48 MiB, o 32 MiB, gate_up
    /// 192 MiB, down 96 MiB — multiples of 2 MiB, each leaving 2 MiB − 512 B; the embedding and
    /// lm_head (151,936 × 4096 × 2 B = 1187 MiB) rest 1 MiB − 512 B in a 1188 MiB segment, not
    /// split; the 10 MiB rotary table leaves 2 MiB − 512 B; 73 norm vectors of 8 KiB (8,704 B
    /// blocks) and 36 q/k-norm vectors (1,024 B blocks) share one 2 MiB small segment.
    #[test]
    fn qwen3_8b_on_vllm_ascend_by_hand() {
        use crate::catalog::{load_chip, load_model};
        use crate::engine::Engine;
        let m = load_model("qwen3-8b").unwrap();
        let mut s = crate::scenario::Scenario::new(m, load_chip("ascend-910b4").unwrap(), 10000);
        s.deployment.engine = Engine::vllm(11, 0);
        let p = crate::evaluate::Prepared::new(&s).unwrap();
        let tail = 2 * MIB - 512;
        let small = 2 * MIB - (73 * 8704 + 36 * 1024);
        let st = &p.stages[0];
        assert_eq!(st.segment_non_torch, 144 * tail + tail + small);
        assert_eq!(st.segment_non_torch, 305_437_696);
        // In the weights (torch's allocated bytes): 512 B of rounding on each of the 145 large
        // and 109 small blocks, and the embedding's and lm_head's whole 1188 MiB segments.
        let rounding = (145 + 73 + 36) * 512 + 2 * MIB;
        assert_eq!(st.segment_weights, rounding);
        assert_eq!(st.segment_tails, 305_437_696 + rounding);
        // From vLLM-Ascend 0.15 (a start-up baseline) the free space is not charged; on a GPU
        // (no padding) only the embedding's and lm_head's rests, 1 MiB each, are.
        s.deployment.engine = Engine::vllm(15, 0);
        let st = &crate::evaluate::Prepared::new(&s).unwrap().stages[0];
        assert_eq!((st.segment_weights, st.segment_non_torch), (rounding, 0));
        let mut gpu = s.clone();
        gpu.chip = load_chip("h100-sxm").unwrap();
        gpu.deployment.engine = Engine::vllm(11, 0);
        let st = &crate::evaluate::Prepared::new(&gpu).unwrap().stages[0];
        assert_eq!((st.segment_weights, st.segment_non_torch), (2 * MIB, 0));
    }
}

#[cfg(test)]
mod sglang {
    use crate::catalog::{load_chip, load_model};
    use crate::engine::Engine;

    const MIB: u64 = 1 << 20;

    /// SGLang on an H100, Llama-3.1-8B at TP8, by hand. Per rank: qkv 768 × 4096 × 2 B = 6 MiB
    /// and o_proj 4 MiB (below 10 MiB: 20 MiB segments), gate_up 28 MiB and down 14 MiB (own
    /// segments, whole 2 MiB), embedding and lm_head 16,032 × 4096 × 2 B = 125.25 MiB (a 126 MiB
    /// segment, the 0.75 MiB rest not split), the FP32 rotary table 64 MiB, 65 norms of 8 KiB.
    /// The 32 qkv fill ten segments three at a time (2 MiB free in each) and two in an
    /// eleventh (8 MiB free); the first two o_proj take those 8 MiB, the other 30 fill six
    /// segments exactly; the norms use 520 KiB of a 2 MiB small segment. SGLang's weights
    /// figure (free memory before − after loading) holds the free space and the embedding's and
    /// lm_head's 0.75 MiB rests; vLLM's (torch's allocated bytes) the rests alone.
    #[test]
    fn llama_8b_tp8_weights_by_hand() {
        let m = load_model("llama-3.1-8b").unwrap();
        let mut s = crate::scenario::Scenario::new(m, load_chip("h100-sxm").unwrap(), 8192);
        s.deployment.engine = Engine::SGLANG;
        s.deployment.tp = 8;
        let with = crate::evaluate::Prepared::new(&s).unwrap();
        let rests = 2 * (MIB * 3 / 4);
        let tails = 10 * 2 * MIB + (2 * MIB - 65 * 8192) + rests;
        assert_eq!(with.stages[0].segment_tails, tails);
        assert_eq!(with.stages[0].segment_weights, tails);
        assert_eq!(tails, 24_109_056);
        // In the weights, not the non-torch figure; a measured weights figure replaces both.
        s.overrides.weights = Some(with.stages[0].memory.weights);
        let measured = crate::evaluate::Prepared::new(&s).unwrap();
        assert_eq!(measured.stages[0].segment_tails, 0);
        assert_eq!(
            measured.stages[0].memory.non_torch,
            with.stages[0].memory.non_torch
        );
        s.overrides.weights = None;
        s.deployment.engine = Engine::VLLM;
        let vllm = crate::evaluate::Prepared::new(&s).unwrap();
        assert_eq!(vllm.stages[0].segment_tails, rests);
        assert_eq!(
            with.stages[0].memory.weights - vllm.stages[0].weights.total(),
            tails + 64 * MIB,
            "SGLang's weights: parameters, its FP32 rotary table and the free space"
        );
    }

    /// vLLM V0 up to 0.6.3 charges the memory in use after the profiling run less at start-up
    /// (`worker.py::Worker.determine_num_available_blocks` @ v0.5.1–v0.6.3): the weights'
    /// segments whole, as SGLang's measurement — Llama-3.1-8B at TP8 on an H100, the same
    /// 24,109,056 B as `llama_8b_tp8_weights_by_hand` above (vLLM's rotary table, 131,072 ×
    /// 128 × 2 B = 32 MiB, fills its segment as SGLang's FP32 one does); from 0.6.4, torch's
    /// allocated peak: the embedding's and lm_head's 0.75 MiB rests alone.
    #[test]
    fn vllm_v0_up_to_0_6_3_holds_the_segments_whole() {
        let m = load_model("llama-3.1-8b").unwrap();
        let mut s = crate::scenario::Scenario::new(m, load_chip("h100-sxm").unwrap(), 8192);
        s.deployment.tp = 8;
        s.deployment.engine = Engine::vllm(6, 3);
        let st = &crate::evaluate::Prepared::new(&s).unwrap().stages[0];
        assert_eq!((st.segment_weights, st.segment_non_torch), (24_109_056, 0));
        s.deployment.engine = Engine::vllm(6, 4);
        let st = &crate::evaluate::Prepared::new(&s).unwrap().stages[0];
        assert_eq!(st.segment_weights, 2 * (MIB * 3 / 4));
    }

    /// SGLang on an Ascend NPU (910B4), Qwen3-8B at TP1, by hand: the same free-memory
    /// measurement through torch_npu's padded allocator (`get_available_gpu_memory`'s
    /// `torch.npu.empty_cache()` and `mem_get_info()` @ v0.5.8.post1). The parameters are placed
    /// as in `qwen3_8b_on_vllm_ascend_by_hand` above, with SGLang's FP32 rotary table (40,960 ×
    /// 128 × 4 B = 20 MiB, like vLLM's 10 MiB a whole number of 2 MiB): 145 tails of 2 MiB −
    /// 512 B and the norms' small segment free (305,437,696 B), 512 B of rounding on each of the
    /// 145 large and 109 small blocks, and the embedding's and lm_head's 1 MiB rests. SGLang's
    /// weights figure holds all of it; nothing goes to non-torch memory.
    #[test]
    fn qwen3_8b_on_sglang_npu_by_hand() {
        let m = load_model("qwen3-8b").unwrap();
        let mut s = crate::scenario::Scenario::new(m, load_chip("ascend-910b4").unwrap(), 8192);
        s.deployment.engine = Engine::SGLANG;
        let st = &crate::evaluate::Prepared::new(&s).unwrap().stages[0];
        let tail = 2 * MIB - 512;
        let free = 145 * tail + (2 * MIB - (73 * 8704 + 36 * 1024));
        assert_eq!(free, 305_437_696);
        let rounding = (145 + 73 + 36) * 512 + 2 * MIB;
        assert_eq!(st.segment_weights, free + rounding);
        assert_eq!(st.segment_weights, 307_664_896);
        assert_eq!(st.segment_non_torch, 0);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// The allocator one request at a time, as `DeviceCachingAllocator::malloc` runs.
    fn one_at_a_time(a: CachingAllocator, allocs: &[(u64, u64)]) -> Segments {
        let mut free: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
        let mut s = Segments::default();
        for &(bytes, count) in allocs {
            s.requested += bytes * count;
            let size = a.round(bytes);
            let small = size <= SMALL_SIZE;
            let pool = &mut free[usize::from(!small)];
            for _ in 0..count {
                let best = (0..pool.len())
                    .filter(|&i| pool[i] >= size)
                    .min_by_key(|&i| pool[i]);
                let block = match best {
                    Some(i) => pool.swap_remove(i),
                    None => {
                        let seg = CachingAllocator::segment(size);
                        s.reserved += seg;
                        seg
                    }
                };
                let rest = block - size;
                if (small && rest >= MIN_BLOCK) || (!small && rest > SMALL_SIZE) {
                    pool.push(rest);
                    s.allocated += size;
                } else {
                    s.allocated += block;
                }
            }
        }
        s
    }

    proptest! {
        /// Replaying allocations and frees: what is allocated never exceeds what is reserved,
        /// reserved memory never shrinks (no `empty_cache`), freeing everything leaves nothing
        /// allocated and merges each segment back into one free block, and never-freed requests
        /// reserve what [`CachingAllocator::place`] says.
        #[test]
        fn replay_bounds(
            ops in prop::collection::vec(
                (prop_oneof![1u64..4096, 1u64..(24 << 20), 1u64..(300 << 20)], any::<bool>()),
                1..60,
            ),
        ) {
            let a = CachingAllocator::CUDA;
            let mut r = Replay::new(a);
            let mut live = Vec::new();
            let mut reserved = 0;
            for &(bytes, free_one) in &ops {
                if free_one && !live.is_empty() {
                    r.free(live.remove(live.len() / 2));
                } else {
                    live.push(r.alloc(bytes));
                }
                prop_assert!(r.allocated <= r.reserved);
                prop_assert!(r.reserved >= reserved);
                reserved = r.reserved;
            }
            prop_assert!(r.peak_allocated <= r.peak_reserved);
            for h in live {
                r.free(h);
            }
            prop_assert_eq!(r.allocated, 0);
            prop_assert_eq!(r.free_blocks().len(), r.segments.len());
            let mut kept = Replay::new(a);
            for &(bytes, _) in &ops {
                kept.alloc(bytes);
            }
            let placed = a.place(ops.iter().map(|&(b, _)| (b, 1)));
            prop_assert_eq!((kept.reserved, kept.allocated), (placed.reserved, placed.allocated));
            // A saturated request (an overflowed size upstream) is served, never a panic.
            let mut huge = Replay::new(a);
            let h = huge.alloc(u64::MAX);
            huge.free(h);
            prop_assert_eq!(huge.allocated, 0);
        }

        /// Placing runs of identical requests at once gives what one at a time gives.
        #[test]
        fn runs_place_as_single_requests(
            allocs in prop::collection::vec(
                (prop_oneof![1u64..4096, 1u64..(2 << 20), 1u64..(24 << 20), 1u64..(200 << 20)],
                 1u64..70),
                1..25),
        ) {
            for a in [CachingAllocator::CUDA, CachingAllocator::TORCH_NPU] {
                prop_assert_eq!(a.place(allocs.iter().copied()), one_at_a_time(a, &allocs));
            }
        }

        /// Reserved ≥ allocated ≥ the rounded requests; without padding, requests of whole
        /// 2 MiB multiples from 10 MiB up leave nothing free, and torch_npu's 32 B leave
        /// 2 MiB − 512 B behind each.
        #[test]
        fn segments_hold_their_blocks(
            allocs in prop::collection::vec((1u64..(300 << 20), 1u64..40), 1..30),
            whole in prop::collection::vec((5u64..200, 1u64..40), 1..20),
        ) {
            for a in [CachingAllocator::CUDA, CachingAllocator::TORCH_NPU] {
                let s = a.place(allocs.iter().copied());
                let rounded: u64 = allocs.iter().map(|&(b, n)| a.round(b) * n).sum();
                prop_assert!(s.allocated >= rounded);
                prop_assert!(s.reserved >= s.allocated);
            }
            let sizes = whole.iter().map(|&(mib2, n)| (mib2 * (2 << 20), n));
            prop_assert_eq!(CachingAllocator::CUDA.place(sizes.clone()).free(), 0);
            let count: u64 = whole.iter().map(|&(_, n)| n).sum();
            prop_assert_eq!(
                CachingAllocator::TORCH_NPU.place(sizes).free(),
                count * ((2 << 20) - 512)
            );
        }
    }
}
