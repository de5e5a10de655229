//! Page accounting every engine shares: one uniform block pool, and per-session bytes.

use crate::error::{Error, Result};
use crate::kv::{record_bytes_per_token, KvSpec, LayerKv};
use serde::{Deserialize, Serialize};
use strength_reduce::StrengthReducedU64;

/// How the capacity was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Accounting {
    /// Every layer keeps every token with one record size: one block pool, blocks per request =
    /// ceil(context / block).
    Uniform,
    /// vLLM's hybrid allocator: layers grouped by spec, groups padded to equal size, one shared
    /// pool of equal-size pages (Mamba pages padded, attention block raised to cover them).
    VllmHybrid,
    /// SGLang's split of the budget into a full pool and a SWA pool (`swa_full_tokens_ratio`).
    SglangSwa,
    /// Each session's page-rounded bytes summed over layers, divided into the budget.
    PerSession,
}

impl Accounting {
    /// The accounting in words, for reports.
    pub fn label(self) -> &'static str {
        match self {
            Accounting::Uniform => "uniform pages",
            Accounting::VllmHybrid => "vLLM hybrid allocator",
            Accounting::SglangSwa => "SGLang SWA + full pools",
            Accounting::PerSession => "per-session bytes",
        }
    }
}

/// The engine-facing parameters of a capacity computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolParams {
    /// Page size in tokens the user or engine asked for.
    pub block: u64,
    pub context: u64,
    /// vLLM `max_num_batched_tokens` (a window layer keeps window − 1 + this during chunked prefill).
    pub max_num_batched_tokens: u64,
    /// SGLang `swa_full_tokens_ratio`.
    pub swa_full_tokens_ratio: f64,
    /// Pipeline stages (batches in flight under vLLM's async scheduling).
    pub pipeline_stages: u64,
}

/// Capacity of one chip's KV pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub accounting: Accounting,
    /// Attention page size in tokens actually used (vLLM raises it for Mamba state pages).
    pub block_size: u64,
    /// Blocks in the pool (0 for per-session accounting).
    pub blocks: u64,
    /// Blocks one request of `context` tokens needs, summed over groups (0 for per-session).
    pub blocks_per_session: u64,
    /// Bytes one session occupies on this chip.
    pub bytes_per_session: u64,
    /// vLLM "GPU KV cache size" / SGLang `max_total_num_tokens` (per-session: tokens at this mix).
    pub capacity_tokens: u64,
    pub max_concurrency: f64,
    pub sessions: u64,
}

pub(crate) fn mul(a: u64, b: u64) -> Result<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Error::overflow("KV bytes per session"))
}

/// The cases every engine handles alike: no KV layers (per-session), and one full-attention record
/// on every layer (uniform pages). None: the engine's own rules apply.
pub(crate) fn common(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Option<Result<Capacity>> {
    if specs.is_empty() {
        return Some(per_session(specs, budget, p));
    }
    let all_full_same = specs.windows(2).all(|w| w[0].spec == w[1].spec)
        && specs.iter().all(|s| matches!(s.spec, KvSpec::Full { .. }));
    all_full_same.then(|| uniform(specs, budget, p))
}

/// Whether [`common`] answers for `specs`: no KV layers, or one full-attention record on every
/// layer.
pub(crate) fn is_common(specs: &[LayerKv]) -> bool {
    specs.is_empty()
        || (specs.windows(2).all(|w| w[0].spec == w[1].spec)
            && specs.iter().all(|s| matches!(s.spec, KvSpec::Full { .. })))
}

/// One pool of blocks of `block` tokens, every layer keeping every token.
pub(crate) fn uniform(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let per_token = record_bytes_per_token(specs)?;
    uniform_blocks(mul(per_token, p.block)?, budget, p)
}

/// [`uniform`] given the bytes of one block (`block` tokens of every layer's record).
#[inline(always)]
pub(crate) fn uniform_blocks(block_bytes: u64, budget: u64, p: &PoolParams) -> Result<Capacity> {
    let blocks = budget.checked_div(block_bytes).unwrap_or(0);
    let bps = p.context.div_ceil(p.block);
    Ok(Capacity {
        accounting: Accounting::Uniform,
        block_size: p.block,
        blocks,
        blocks_per_session: bps,
        bytes_per_session: mul(block_bytes, bps)?,
        capacity_tokens: mul(blocks, p.block)?,
        max_concurrency: blocks as f64 / bps as f64,
        sessions: blocks / bps,
    })
}

/// [`uniform_blocks`] through a plan's divisors: the block bytes', and the session's blocks when
/// `session` is at `p`'s context. The same figures, bit for bit.
#[inline(always)]
pub(crate) fn uniform_blocks_planned(
    block_bytes: Divisor,
    session: Option<SessionBlocks>,
    budget: u64,
    p: &PoolParams,
) -> Result<Capacity> {
    let blocks = block_bytes.div(budget);
    let (bps, sessions) = match session {
        Some(s) if s.context == p.context => (s.blocks.get(), s.blocks.div(blocks)),
        _ => {
            let bps = p.context.div_ceil(p.block);
            (bps, blocks / bps)
        }
    };
    Ok(Capacity {
        accounting: Accounting::Uniform,
        block_size: p.block,
        blocks,
        blocks_per_session: bps,
        bytes_per_session: mul(block_bytes.get(), bps)?,
        capacity_tokens: mul(blocks, p.block)?,
        max_concurrency: blocks as f64 / bps as f64,
        sessions,
    })
}

/// What a stage's capacity owes to its per-layer specs, the page size and the engine alone — not
/// to the context, the budget or the batch — worked out once per deployment
/// ([`super::Engine::plan`]); [`super::Engine::capacity_planned`] with it answers as
/// [`super::Engine::capacity`] does. It keeps what it was made from and is used only while
/// those are unchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan {
    pub(crate) engine: super::Engine,
    pub(crate) block: u64,
    pub(crate) kind: PlanKind,
    /// The engine's budget rule off a Gaudi, when it is `⌊total × fraction⌋` less what the
    /// profiling charges ([`super::ServingEngine::budget_rule`]).
    pub(crate) budget: Option<BudgetRule>,
    /// Blocks one session of the prepared context needs, `⌈context / block⌉`, as a divisor: the
    /// context a deployment is evaluated at most often.
    pub(crate) session: Option<SessionBlocks>,
}

/// `blocks` = ⌈`context` / block⌉ for one context, kept as a divisor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SessionBlocks {
    pub(crate) context: u64,
    pub(crate) blocks: Divisor,
}

impl SessionBlocks {
    pub(crate) fn new(context: u64, block: u64) -> Option<SessionBlocks> {
        Some(SessionBlocks {
            context,
            blocks: Divisor::new(context.checked_div(block)? + u64::from(context % block != 0))?,
        })
    }
}

/// A nonzero divisor fixed when a deployment is planned, divided by with multiplications and
/// shifts (`strength_reduce`): the quotients are exactly `/`'s, without the 64-bit division
/// that dominates the core figures' latency.
#[derive(Debug, Clone, Copy)]
pub struct Divisor(StrengthReducedU64);

impl Divisor {
    /// None for 0.
    pub(crate) fn new(d: u64) -> Option<Divisor> {
        (d > 0).then(|| Divisor(StrengthReducedU64::new(d)))
    }

    #[inline(always)]
    pub(crate) fn get(self) -> u64 {
        self.0.get()
    }

    /// `n / self`.
    #[inline(always)]
    pub(crate) fn div(self, n: u64) -> u64 {
        n / self.0
    }
}

impl PartialEq for Divisor {
    fn eq(&self, other: &Divisor) -> bool {
        self.get() == other.get()
    }
}

/// A budget rule an engine states as data: `usable = ⌊total × fraction⌋`, less the weights,
/// activation and non-torch memory, and the CUDA graphs when `cuda_graphs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetRule {
    pub cuda_graphs: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum PlanKind {
    /// Uniform pages of one merged spec, `layers` full-attention layers of `record` bytes per
    /// token: `block_bytes` per block; vLLM from 0.20.1 then takes the token capacity from the
    /// concurrency.
    Uniform {
        record: u64,
        layers: u64,
        block_bytes: Divisor,
        tokens_from_concurrency: bool,
    },
    /// vLLM's hybrid allocator over `layout.specs`.
    Hybrid {
        layout: std::sync::Arc<super::vllm::HybridLayout>,
        async_batches: bool,
        tokens_from_concurrency: bool,
    },
    /// The engine's `capacity`, computed at each call.
    Other,
}

impl PoolPlan {
    /// Whether the plan holds vLLM's hybrid layout.
    #[cfg(test)]
    pub(crate) fn is_hybrid(&self) -> bool {
        matches!(self.kind, PlanKind::Hybrid { .. })
    }
}

/// The uniform plan of `specs` when they are one full-attention spec whose block bytes do not
/// overflow (an overflow is left to `capacity`, which reports it).
pub(crate) fn uniform_plan(
    specs: &[LayerKv],
    block: u64,
    tokens_from_concurrency: bool,
) -> Option<PlanKind> {
    match *specs {
        [LayerKv {
            spec: KvSpec::Full { record },
            layers,
        }] => {
            let block_bytes = record_bytes_per_token(specs).ok()?.checked_mul(block)?;
            Some(PlanKind::Uniform {
                record,
                layers,
                block_bytes: Divisor::new(block_bytes)?,
                tokens_from_concurrency,
            })
        }
        _ => None,
    }
}

/// Each session's page-rounded bytes summed over layers, divided into the budget.
pub(crate) fn per_session(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let bytes = specs.iter().try_fold(0u64, |acc, s| {
        s.spec
            .session_bytes(p.context, p.block)?
            .checked_mul(s.layers)
            .and_then(|x| x.checked_add(acc))
            .ok_or_else(|| Error::overflow("KV bytes per session"))
    })?;
    let sessions = budget.checked_div(bytes).unwrap_or(u64::MAX);
    let tokens = (budget as u128 * p.context as u128)
        .checked_div(bytes as u128)
        .unwrap_or(u64::MAX as u128);
    Ok(Capacity {
        accounting: Accounting::PerSession,
        block_size: p.block,
        blocks: 0,
        blocks_per_session: 0,
        bytes_per_session: bytes,
        capacity_tokens: u64::try_from(tokens).unwrap_or(u64::MAX),
        max_concurrency: if bytes == 0 {
            f64::INFINITY
        } else {
            budget as f64 / bytes as f64
        },
        sessions,
    })
}

/// gpt-oss-120b on one chip, BF16 KV: 8 KV heads × 64 × 2 (K, V) × 2 B = 2,048 B per layer per
/// token; 18 window-128 layers and 18 full layers.
#[cfg(test)]
pub(crate) fn gpt_oss_specs() -> [LayerKv; 2] {
    [
        LayerKv {
            spec: KvSpec::Window {
                record: 2048,
                window: 128,
            },
            layers: 18,
        },
        LayerKv {
            spec: KvSpec::Full { record: 2048 },
            layers: 18,
        },
    ]
}

#[cfg(test)]
pub(crate) fn params(block: u64, context: u64) -> PoolParams {
    PoolParams {
        block,
        context,
        max_num_batched_tokens: 8192,
        swa_full_tokens_ratio: 0.8,
        pipeline_stages: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Llama-3.1-8B: 32 layers × 4096 B = 128 KiB per token, 2 MiB per block of 16; 8192 tokens
    // need 512 blocks.
    #[test]
    fn uniform_blocks() {
        let specs = [LayerKv {
            spec: KvSpec::Full { record: 4096 },
            layers: 32,
        }];
        let c = common(&specs, 10 << 30, &params(16, 8192))
            .unwrap()
            .unwrap();
        assert_eq!(c.accounting, Accounting::Uniform);
        assert_eq!(c.blocks, (10u64 << 30) / (2 << 20));
        assert_eq!(c.blocks_per_session, 512);
        assert_eq!(c.sessions, c.blocks / 512);
        assert_eq!(c.capacity_tokens, c.blocks * 16);
    }

    // DeepSeek-V4 CSA layer at 1M tokens (BF16, block 1): 128 raw records of 1024 B plus
    // 262,144 entries of 1024 + 132 B, plus 122,880 B of compressor state.
    #[test]
    fn per_session_bytes_of_a_compressed_layer() {
        let specs = [LayerKv {
            spec: KvSpec::Compressed {
                record: 1024,
                window: 128,
                ratio: 4,
                entry: 1156,
                state: 122_880,
            },
            layers: 2,
        }];
        let c = per_session(&specs, 1 << 40, &params(1, 1 << 20)).unwrap();
        assert_eq!(
            c.bytes_per_session,
            2 * (128 * 1024 + 262_144 * 1156 + 122_880)
        );
        assert_eq!(c.sessions, (1u64 << 40) / c.bytes_per_session);
    }

    // The planned uniform figures are `uniform_blocks`'s, bit for bit: at the planned context
    // (both divisors) and at another (the block bytes' divisor alone), for power-of-two and other
    // divisors (Llama-3.1-8B's 2 MiB blocks; 61 MLA layers' 16 × 61 × 656 B = 640,256 B).
    #[test]
    fn planned_uniform_blocks_are_uniform_blocks() {
        for (block_bytes, block, planned, context, budget) in [
            (2u64 << 20, 16, 8192, 8192, 10u64 << 30),
            (640_256, 16, 32_768, 32_768, 57_000_000_007),
            (640_256, 16, 32_768, 1_000_001, 57_000_000_007),
            (3, 1, 5, 5, u64::MAX),
        ] {
            let p = params(block, context);
            let want = super::uniform_blocks(block_bytes, budget, &p).unwrap();
            let got = uniform_blocks_planned(
                Divisor::new(block_bytes).unwrap(),
                SessionBlocks::new(planned, block),
                budget,
                &p,
            )
            .unwrap();
            assert_eq!(got, want);
        }
    }

    proptest::proptest! {
        // The divisors divide exactly as `/` and `div_ceil` do, over the whole range.
        #[test]
        fn divisors_divide_exactly(n in proptest::num::u64::ANY, d in 1u64.., small in 1u64..100_000) {
            proptest::prop_assert_eq!(Divisor::new(d).unwrap().div(n), n / d);
            proptest::prop_assert_eq!(Divisor::new(small).unwrap().div(n), n / small);
            proptest::prop_assert_eq!(Divisor::new(1 << (small % 64)).unwrap().div(n), n >> (small % 64));
            let s = SessionBlocks::new(n, small).map(|s| s.blocks.get());
            proptest::prop_assert_eq!(s, Some(n.div_ceil(small)).filter(|&b| b > 0));
        }
    }

    #[test]
    fn zero_divisors_are_refused() {
        assert!(Divisor::new(0).is_none());
        assert!(SessionBlocks::new(0, 16).is_none());
        assert!(SessionBlocks::new(16, 0).is_none());
    }
}
