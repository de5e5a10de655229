//! What each layer keeps per sequence ([`KvSpec`], after vLLM's `kv_cache_interface.py`) and how
//! the engines turn a byte budget into blocks, concurrency and sessions (formulas.md §3).

use crate::deploy::Engine;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What one layer keeps per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KvSpec {
    /// `record` bytes for every token of the context.
    Full { record: u64 },
    /// `record` bytes for the last `window` tokens.
    Window { record: u64, window: u64 },
    /// A fixed state of `bytes` per sequence (linear attention).
    State { bytes: u64 },
    /// DeepSeek-V4: a window of raw `record`s plus one `entry` per `ratio` tokens.
    Compressed {
        record: u64,
        window: u64,
        ratio: u64,
        entry: u64,
    },
}

/// `layers` layers with the same spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerKv {
    pub spec: KvSpec,
    pub layers: u64,
}

fn mul(a: u64, b: u64) -> Result<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Error::overflow("KV bytes per session"))
}

/// Tokens of a sliding window held in pages of `block`: the window, plus one page because the
/// window does not start on a page boundary, never more than the context.
fn window_pages(ctx: u64, window: u64, block: u64) -> u64 {
    let all = ctx.div_ceil(block);
    if block == 1 {
        return ctx.min(window);
    }
    all.min(window.div_ceil(block) + 1)
}

impl KvSpec {
    /// Bytes of a token in the layer's raw cache (the window part for windowed layers).
    pub fn record(&self) -> u64 {
        match *self {
            KvSpec::Full { record }
            | KvSpec::Window { record, .. }
            | KvSpec::Compressed { record, .. } => record,
            KvSpec::State { .. } => 0,
        }
    }

    /// Bytes one decode step at context `c` reads from a layer that keeps this (a state is read
    /// and written back).
    pub fn read_bytes(&self, c: f64) -> f64 {
        match *self {
            KvSpec::Full { record } => record as f64 * c,
            KvSpec::Window { record, window } => record as f64 * c.min(window as f64),
            KvSpec::State { bytes } => 2.0 * bytes as f64,
            KvSpec::Compressed {
                record,
                window,
                ratio,
                entry,
            } => record as f64 * c.min(window as f64) + entry as f64 * (c / ratio as f64).ceil(),
        }
    }

    /// Bytes one sequence of `ctx` tokens holds in one layer, in pages of `block` tokens
    /// (block 1 = no paging).
    pub fn session_bytes(&self, ctx: u64, block: u64) -> Result<u64> {
        match *self {
            KvSpec::Full { record } => mul(mul(ctx.div_ceil(block), block)?, record),
            KvSpec::Window { record, window } => {
                mul(mul(window_pages(ctx, window, block), block)?, record)
            }
            KvSpec::State { bytes } => Ok(bytes),
            KvSpec::Compressed {
                record,
                window,
                ratio,
                entry,
            } => {
                let raw = mul(mul(window_pages(ctx, window, block), block)?, record)?;
                let entries = ctx.div_ceil(ratio.max(1));
                let compressed = mul(mul(entries.div_ceil(block), block)?, entry)?;
                raw.checked_add(compressed)
                    .ok_or_else(|| Error::overflow("KV bytes per session"))
            }
        }
    }
}

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

/// The engine-facing parameters of a capacity computation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolParams {
    pub engine: Engine,
    /// Page size in tokens the user or engine asked for.
    pub block: u64,
    pub context: u64,
    /// vLLM `max_num_batched_tokens` (a window layer keeps window − 1 + this during chunked prefill).
    pub max_num_batched_tokens: u64,
    /// SGLang `swa_full_tokens_ratio`.
    pub swa_full_tokens_ratio: f64,
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

/// Capacity of `budget` bytes for the layers `specs` of one chip.
pub fn capacity(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let all_full_same = specs.windows(2).all(|w| w[0].spec == w[1].spec)
        && specs.iter().all(|s| matches!(s.spec, KvSpec::Full { .. }));
    let has = |f: fn(&KvSpec) -> bool| specs.iter().any(|s| f(&s.spec));
    let attention_only = !has(|s| matches!(s, KvSpec::State { .. } | KvSpec::Compressed { .. }));
    if specs.is_empty() {
        return per_session(specs, budget, p);
    }
    if all_full_same {
        return uniform(specs, budget, p);
    }
    match p.engine {
        Engine::Vllm { .. } if !has(|s| matches!(s, KvSpec::Compressed { .. })) => {
            vllm_hybrid(specs, budget, p).unwrap_or_else(|| per_session(specs, budget, p))
        }
        Engine::Sglang if attention_only && has(|s| matches!(s, KvSpec::Full { .. })) => {
            sglang_swa(specs, budget, p)
        }
        Engine::Sglang if attention_only => {
            // SGLang's SWA pool needs full layers beside the window ones; an all-window model
            // (Mistral-7B) is served as full attention.
            let full: Vec<LayerKv> = specs
                .iter()
                .map(|s| LayerKv {
                    spec: KvSpec::Full {
                        record: s.spec.record(),
                    },
                    layers: s.layers,
                })
                .collect();
            let merged = [LayerKv {
                spec: KvSpec::Full {
                    record: full.iter().map(|s| s.spec.record() * s.layers).sum(),
                },
                layers: 1,
            }];
            uniform(&merged, budget, p)
        }
        _ => per_session(specs, budget, p),
    }
}

/// Raw record bytes of one token summed over the layers that keep tokens.
pub fn record_bytes_per_token(specs: &[LayerKv]) -> Result<u64> {
    specs
        .iter()
        .try_fold(0u64, |acc, s| {
            s.spec
                .record()
                .checked_mul(s.layers)
                .and_then(|x| x.checked_add(acc))
        })
        .ok_or_else(|| Error::overflow("KV bytes per token"))
}

fn uniform(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let per_token = record_bytes_per_token(specs)?;
    let block_bytes = mul(per_token, p.block)?;
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

/// vLLM v1 `_get_kv_cache_groups_uniform_page_size` + `get_max_concurrency_for_kv_cache_config`.
/// None when the page sizes cannot be unified (vLLM raises NotImplementedError there).
fn vllm_hybrid(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Option<Result<Capacity>> {
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
    let mut block = p.block as u128;
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
    let mut groups: Vec<(KvSpec, u128, u128)> = Vec::new(); // spec, layers, block size
    for s in specs {
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
    let min_layers = groups.iter().map(|g| g.1).min()?;
    let max_layers = groups.iter().map(|g| g.1).max()?;
    let group_size = if (max_layers as f64) < min_layers as f64 * 1.25 {
        max_layers
    } else {
        min_layers
    };
    let ctx = p.context as u128;
    let (mut n_groups, mut per_request) = (0u128, 0u128);
    for (spec, layers, b) in &groups {
        let k = layers.div_ceil(group_size);
        n_groups += k;
        let need = match *spec {
            KvSpec::Full { .. } => ctx.div_ceil(*b),
            KvSpec::Window { window, .. } => {
                ((window as u128).saturating_sub(1) + p.max_num_batched_tokens as u128)
                    .min(ctx)
                    .div_ceil(*b)
                    + 1
            }
            KvSpec::State { .. } => 1,
            KvSpec::Compressed { .. } => return None,
        };
        per_request += k * need;
    }
    let blocks = budget as u128 / max_page / group_size;
    let min_block = groups.iter().map(|g| g.2).min().unwrap_or(block);
    let fit = |v: u128, what: &str| u64::try_from(v).map_err(|_| Error::overflow(what));
    let per_request = per_request.max(1);
    Some((|| {
        Ok(Capacity {
            accounting: Accounting::VllmHybrid,
            block_size: fit(block, "KV block size")?,
            blocks: fit(blocks, "KV blocks")?,
            blocks_per_session: fit(per_request, "blocks per session")?,
            bytes_per_session: fit(per_request * max_page * group_size, "KV bytes per session")?,
            capacity_tokens: fit(
                blocks / n_groups.max(1) * min_block,
                "KV capacity in tokens",
            )?,
            max_concurrency: blocks as f64 / per_request as f64,
            sessions: fit(blocks / per_request, "sessions")?,
        })
    })())
}

/// SGLang hybrid SWA: full pool of F tokens and SWA pool of r·F tokens sharing the budget.
fn sglang_swa(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
    let (mut full_bpt, mut swa_bpt, mut window) = (0u64, 0u64, 0u64);
    for s in specs {
        match s.spec {
            KvSpec::Full { record } => {
                full_bpt = full_bpt
                    .checked_add(mul(record, s.layers)?)
                    .ok_or_else(|| Error::overflow("KV bytes per token"))?
            }
            KvSpec::Window { record, window: w } => {
                swa_bpt = swa_bpt
                    .checked_add(mul(record, s.layers)?)
                    .ok_or_else(|| Error::overflow("KV bytes per token"))?;
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
    let conc = by_full.min(by_swa);
    Ok(Capacity {
        accounting: Accounting::SglangSwa,
        block_size: page,
        blocks: full_tokens / page,
        blocks_per_session: full_need / page,
        bytes_per_session: mul(full_need, full_bpt)?.saturating_add(mul(swa_need, swa_bpt)?),
        capacity_tokens: full_tokens,
        max_concurrency: conc,
        sessions: (full_tokens / full_need).min(swa_tokens / swa_need),
    })
}

fn per_session(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn params(engine: Engine, block: u64, context: u64) -> PoolParams {
        PoolParams {
            engine,
            block,
            context,
            max_num_batched_tokens: 8192,
            swa_full_tokens_ratio: 0.8,
        }
    }
    const VLLM: Engine = Engine::Vllm { minor: 19 };

    // gpt-oss-120b on one chip, BF16 KV: 8 KV heads × 64 × 2 (K, V) × 2 B = 2048 B per layer per
    // token; 18 window-128 layers and 18 full layers → 2 groups of 18, page 16 · 2048 = 32 KiB.
    // num_blocks = budget // 32 KiB // 18. A 32k request needs 2048 full blocks +
    // cdiv(min(127 + 8192, 32768), 16) + 1 = 521 window blocks.
    #[test]
    fn vllm_hybrid_gpt_oss() {
        let specs = [
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
        ];
        let budget = 40u64 << 30;
        let c = capacity(&specs, budget, &params(VLLM, 16, 32768)).unwrap();
        assert_eq!(c.accounting, Accounting::VllmHybrid);
        assert_eq!(c.blocks, budget / 32768 / 18);
        assert_eq!(c.blocks_per_session, 2048 + 521);
        assert_eq!(c.sessions, c.blocks / 2569);
        assert_eq!(c.capacity_tokens, c.blocks / 2 * 16);
    }

    // Gemma-3-27B: 52 window-1024 layers and 10 full: group size 10 → 6 window groups + 1 full.
    #[test]
    fn vllm_hybrid_gemma_groups() {
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
        let c = capacity(&specs, 60 << 30, &params(VLLM, 16, 131072)).unwrap();
        let window_blocks = (1023u64 + 8192).div_ceil(16) + 1;
        assert_eq!(c.blocks_per_session, 6 * window_blocks + 131072 / 16);
        assert_eq!(c.blocks, (60u64 << 30) / (16 * 8192) / 10);
        assert_eq!(c.capacity_tokens, c.blocks / 7 * 16);
    }

    // Qwen3-Next, TP1: full-attention record 2 heads × 512 × 2 B = 2048 B, Gated DeltaNet state
    // 1,097,728 B. vLLM raises the attention block to 16 · cdiv(1,097,728, 16 · 2048) = 544, so a
    // page is 544 · 2048 = 1,114,112 B; 36 linear + 12 full layers → 4 groups of 12.
    #[test]
    fn vllm_hybrid_mamba_pages() {
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
        let c = capacity(&specs, budget, &params(VLLM, 16, 262144)).unwrap();
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
        let a = capacity(&specs, 50 << 30, &params(VLLM, 16, 65536)).unwrap();
        let b = capacity(&specs, 50 << 30, &params(VLLM, 16, 1 << 20)).unwrap();
        assert_eq!(a.sessions, b.sessions);
        assert_eq!(a.blocks_per_session, (4095u64 + 8192).div_ceil(16) + 1);
    }

    // DeepSeek-V4 CSA layer at 1M tokens (BF16, block 1): 128 raw records of 1024 B plus
    // 262,144 entries of 1024 + 132 B.
    #[test]
    fn compressed_session_bytes() {
        let s = KvSpec::Compressed {
            record: 1024,
            window: 128,
            ratio: 4,
            entry: 1156,
        };
        assert_eq!(
            s.session_bytes(1 << 20, 1).unwrap(),
            128 * 1024 + 262_144 * 1156
        );
        let h = KvSpec::Compressed {
            record: 1024,
            window: 128,
            ratio: 128,
            entry: 1024,
        };
        assert_eq!(
            h.session_bytes(1 << 20, 1).unwrap(),
            128 * 1024 + 8192 * 1024
        );
    }

    // SGLang: F = budget / (full B/token + 0.8 · SWA B/token); SWA pool 0.8·F.
    #[test]
    fn sglang_swa_split() {
        let specs = [
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
        ];
        let budget = 36_864u64 * 1_000_000;
        let c = capacity(&specs, budget, &params(Engine::Sglang, 1, 8192)).unwrap();
        let f = (budget as f64 / (36_864.0 + 0.8 * 36_864.0)).floor() as u64;
        assert_eq!(c.capacity_tokens, f);
        assert_eq!(c.sessions, (f / 8192).min((f as f64 * 0.8) as u64 / 129));
    }
}
