//! SGLang: `mem_fraction_static` reserves a share of the device for everything but weights and KV;
//! page size 1; hybrid SWA models split the budget into a full pool and a sliding-window pool.

use super::pool::{self, mul, Accounting, Capacity, PoolParams};
use super::{settle, ServingEngine, StageMemory};
use crate::error::{Error, Result};
use crate::kv::{KvSpec, LayerKv};

/// SGLang.
pub struct Sglang;

impl ServingEngine for Sglang {
    fn name(&self) -> &'static str {
        "sglang"
    }

    /// `mem_fraction_static` by TP size, the classic table of `server_args.py`: 0.88 at TP1, 0.87
    /// TP2, 0.85 TP4, 0.81 TP8, 0.79 TP16.
    fn default_fraction(&self, _version: u32, tp: u64) -> f64 {
        match tp {
            t if t >= 16 => 0.79,
            t if t >= 8 => 0.81,
            t if t >= 4 => 0.85,
            t if t >= 2 => 0.87,
            _ => 0.88,
        }
    }

    fn default_block_size(&self, _version: u32, _chip_default: u64) -> u64 {
        1
    }

    /// `free after weights − total · (1 − mem_fraction_static)`, free being the device less the
    /// non-torch memory (`model_runner.py::profile_max_num_token`).
    fn budget(&self, _version: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        settle(
            total.saturating_sub(m.non_torch),
            m.weights
                .saturating_add((total as f64 * (1.0 - fraction)).ceil() as u64),
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

    fn formula(&self, _version: u32, f: f64) -> String {
        format!("SGLang: total − non-torch − weights − (1 − {f}) × total")
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

    #[test]
    fn fraction_by_tp() {
        assert_eq!(Sglang.default_fraction(0, 1), 0.88);
        assert_eq!(Sglang.default_fraction(0, 8), 0.81);
    }

    // F = budget / (full B/token + 0.8 · SWA B/token); SWA pool 0.8·F.
    #[test]
    fn swa_split_of_gpt_oss() {
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
        let c = Sglang
            .capacity(0, &specs, budget, &params(1, 8192))
            .unwrap();
        let f = (budget as f64 / (36_864.0 + 0.8 * 36_864.0)).floor() as u64;
        assert_eq!(c.accounting, Accounting::SglangSwa);
        assert_eq!(c.capacity_tokens, f);
        assert_eq!(c.sessions, (f / 8192).min((f as f64 * 0.8) as u64 / 129));
    }

    // 80 GiB, 0.81: the budget is 80 − 1 − 40 − 0.19 · 80 GiB.
    #[test]
    fn budget_reserves_the_static_fraction() {
        let g = 1u64 << 30;
        let m = StageMemory {
            weights: 40 * g,
            activation: 5 * g,
            non_torch: g,
            cuda_graph: g,
        };
        let (b, short) = Sglang.budget(0, &m, 80 * g, 0.81);
        assert_eq!(short, 0);
        assert_eq!(b, 79 * g - 40 * g - (80.0 * g as f64 * 0.19).ceil() as u64);
    }
}
