//! vLLM: the legacy V0 engine (below 0.8), V1 up to 0.20, and 0.21+ which also subtracts the
//! CUDA-graph memory; the V1 hybrid KV-cache allocator for models whose layers keep different
//! things. The version code is the 0.x minor release (0.19 → 19; 1.0 → 100).

use super::pool::{self, Accounting, Capacity, PoolParams};
use super::{settle, ServingEngine, StageMemory};
use crate::error::{Error, Result};
use crate::kv::{KvSpec, LayerKv};

/// The release kvsim assumes when none is given (the one its calibration log comes from).
pub const DEFAULT_MINOR: u32 = 19;
/// Releases from 1.0 on.
const MAJOR_ONE: u32 = 100;

/// vLLM.
pub struct Vllm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Era {
    /// V0: `total · util − peak torch memory (weights + activation) − non-torch`.
    V0,
    /// V1 ≤ 0.20 (`Worker.determine_available_memory`): `util · total − (weights + activation +
    /// non-torch)`; CUDA graphs are captured afterwards inside the `1 − util` headroom.
    V1,
    /// ≥ 0.21: V1 minus the estimated CUDA-graph memory.
    V1Graphs,
}

fn era(minor: u32) -> Era {
    match minor {
        m if m < 8 => Era::V0,
        m if m <= 20 => Era::V1,
        _ => Era::V1Graphs,
    }
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
                "a vLLM release such as 0.19 or 0.21, or v0",
            )
        };
        Ok(match version {
            None | Some("v1" | "V1") => DEFAULT_MINOR,
            Some("v0" | "V0" | "legacy") => 0,
            Some(v) => {
                // MAJOR[.MINOR[.PATCH]], numbers only: 0.M (M below 100) or 1.x; 2.0 or 99 is
                // not a vLLM release kvsim can model, so it is an error, not "vllm 1.0".
                let parts: Vec<&str> = v.trim_start_matches('v').split('.').collect();
                if parts.len() > 3
                    || parts
                        .iter()
                        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(bad(v));
                }
                let num = |p: &str| p.parse::<u32>().map_err(|_| bad(v));
                match (num(parts[0])?, parts.get(1)) {
                    (0, Some(m)) if num(m)? < MAJOR_ONE => num(m)?,
                    (1, _) => MAJOR_ONE,
                    _ => return Err(bad(v)),
                }
            }
        })
    }

    fn label(&self, minor: u32) -> String {
        match minor {
            m if m < 8 => "vllm v0".into(),
            m if m >= MAJOR_ONE => "vllm 1.0".into(),
            m => format!("vllm 0.{m}"),
        }
    }

    /// `gpu_memory_utilization` defaults to 0.9 (`vllm/config/cache.py`).
    fn default_fraction(&self, _minor: u32, _tp: u64) -> f64 {
        0.9
    }

    /// 16 tokens on CUDA; the chip may say otherwise (Ascend: 128).
    fn default_block_size(&self, _minor: u32, chip_default: u64) -> u64 {
        chip_default
    }

    fn budget(&self, minor: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        let usable = (total as f64 * fraction).floor() as u64;
        match era(minor) {
            Era::V0 | Era::V1 => settle(usable, m.profiled()),
            Era::V1Graphs => settle(usable, m.profiled().saturating_add(m.cuda_graph)),
        }
    }

    fn subtracts_cuda_graphs(&self, minor: u32) -> bool {
        era(minor) == Era::V1Graphs
    }

    fn capacity(
        &self,
        _minor: u32,
        specs: &[LayerKv],
        budget: u64,
        p: &PoolParams,
    ) -> Result<Capacity> {
        if let Some(c) = pool::common(specs, budget, p) {
            return c;
        }
        // vLLM's V4 paging is not reproduced: compressed layers fall back to per-session bytes.
        if specs
            .iter()
            .any(|s| matches!(s.spec, KvSpec::Compressed { .. }))
        {
            return pool::per_session(specs, budget, p);
        }
        hybrid(specs, budget, p).unwrap_or_else(|| pool::per_session(specs, budget, p))
    }

    fn formula(&self, minor: u32, f: f64) -> String {
        match era(minor) {
            Era::V0 => format!("vLLM V0: {f} × total − peak torch memory − non-torch"),
            Era::V1 => format!("vLLM V1: {f} × total − weights − activation − non-torch"),
            Era::V1Graphs => {
                format!("vLLM ≥ 0.21: {f} × total − weights − activation − non-torch − CUDA graphs")
            }
        }
    }
}

/// vLLM v1 `_get_kv_cache_groups_uniform_page_size` + `get_max_concurrency_for_kv_cache_config`
/// (`vllm/v1/core/kv_cache_utils.py`). None when the page sizes cannot be unified (vLLM raises
/// NotImplementedError there).
fn hybrid(specs: &[LayerKv], budget: u64, p: &PoolParams) -> Option<Result<Capacity>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::pool::params;
    use crate::engine::Engine;

    fn capacity(specs: &[LayerKv], budget: u64, block: u64, context: u64) -> Capacity {
        Engine::VLLM
            .capacity(specs, budget, &params(block, context))
            .unwrap()
    }

    #[test]
    fn versions_pick_eras() {
        let v = |s: Option<&str>| era(Vllm.parse_version(s).unwrap());
        assert_eq!(v(None), Era::V1);
        assert_eq!(v(Some("0.20")), Era::V1);
        assert_eq!(v(Some("0.21.1")), Era::V1Graphs);
        assert_eq!(v(Some("v0")), Era::V0);
        assert_eq!(v(Some("0.6.3")), Era::V0);
        assert_eq!(v(Some("1.0")), Era::V1Graphs);
        assert!(Vllm.parse_version(Some("banana")).is_err());
    }

    // The 0.21 budget also subtracts CUDA graphs: 0.9 × 80 GiB − (15 + 2 + 0.25) GiB, less 0.5 GiB.
    #[test]
    fn budget_by_era() {
        let g = 1u64 << 30;
        let m = StageMemory {
            weights: 15 * g,
            activation: 2 * g,
            non_torch: g / 4,
            cuda_graph: g / 2,
        };
        let usable = (80.0 * g as f64 * 0.9).floor() as u64;
        let v1 = usable - (17 * g + g / 4);
        assert_eq!(Vllm.budget(19, &m, 80 * g, 0.9), (v1, 0));
        assert_eq!(Vllm.budget(21, &m, 80 * g, 0.9), (v1 - g / 2, 0));
        assert_eq!(
            Vllm.budget(19, &m, 16 * g, 0.9).1,
            17 * g + g / 4 - (14.4 * g as f64) as u64
        );
    }

    // gpt-oss-120b on one chip, BF16 KV: 8 KV heads × 64 × 2 (K, V) × 2 B = 2048 B per layer per
    // token; 18 window-128 layers and 18 full layers → 2 groups of 18, page 16 · 2048 = 32 KiB.
    // num_blocks = budget // 32 KiB // 18. A 32k request needs 2048 full blocks +
    // cdiv(min(127 + 8192, 32768), 16) + 1 = 521 window blocks.
    #[test]
    fn hybrid_gpt_oss() {
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
