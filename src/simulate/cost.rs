//! Time of one engine step from kvsim's roofline (src/compute.rs): the step's FLOPs at the rate
//! `evaluate` found for the scenario (compute-bound prefill), the bytes each chip reads (weights
//! once per micro-batch, each scheduled sequence's KV, the new records written: memory-bound
//! decode), whichever is longer, plus tensor-parallel all-reduces and pipeline hand-offs over the
//! chip's scale-up link.
//!
//! Context-dependent terms (decode FLOPs per token, a causal prefill's FLOPs, KV bytes read per
//! sequence) are tabulated once on a grid of contexts 1/32 apart in ratio and interpolated
//! linearly: exact at grid points, within 0.1% between them.

use crate::compute::{experts_touched, flops_per_token_decode, flops_prefill};
use crate::error::{Error, Result};
use crate::evaluate::{Report, WeightsSource};
use crate::model::Ffn;
use crate::precision::TensorGroup;
use crate::scenario::Scenario;

/// Functions of context sampled on one grid: every integer to 64, then steps of 1/32.
#[derive(Debug, Clone)]
struct Grid {
    x: Vec<f64>,
    /// One column per function.
    y: Vec<Vec<f64>>,
}

/// Ratio between grid points past 64.
const GROWTH: f64 = 33.0 / 32.0;

impl Grid {
    fn new(max: u64, fs: &[&dyn Fn(u64) -> f64]) -> Grid {
        let mut xs: Vec<u64> = (0..=64).collect();
        let mut x = 64u64;
        while x < max {
            x = (x + x / 32).min(max);
            xs.push(x);
        }
        Grid {
            y: fs
                .iter()
                .map(|f| xs.iter().map(|&c| f(c)).collect())
                .collect(),
            x: xs.into_iter().map(|c| c as f64).collect(),
        }
    }

    /// Index i and weight w with c = (1 − w)·x[i−1] + w·x[i] (i ≥ 1), extrapolating past the end.
    fn locate(&self, c: u64) -> (usize, f64) {
        let n = self.x.len();
        let cf = c as f64;
        let mut i = if c <= 64 {
            c as usize
        } else {
            // The grid grows a little slower than 33/32 (integer steps): start at the geometric
            // guess and walk up.
            (64.0 + (cf / 64.0).ln() / GROWTH.ln()) as usize
        };
        i = i.clamp(1, n - 1);
        while i < n - 1 && self.x[i] < cf {
            i += 1;
        }
        while i > 1 && self.x[i - 1] >= cf {
            i -= 1;
        }
        let (x0, x1) = (self.x[i - 1], self.x[i]);
        (i, (cf - x0) / (x1 - x0))
    }

    fn at(&self, col: usize, (i, w): (usize, f64)) -> f64 {
        let y = &self.y[col];
        y[i - 1] + (y[i] - y[i - 1]) * w
    }
}

const DECODE: usize = 0;
const PREFILL: usize = 1;
const KV_READ: usize = 2;

/// Work one sequence does in a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Work {
    /// Tokens already in its KV cache.
    pub cached: u64,
    /// Tokens computed this step (1 for a decode step).
    pub new: u64,
}

/// Step-time model of one replica.
#[derive(Debug, Clone)]
pub struct StepCost {
    /// Seconds per FLOP of the whole replica (its chips together).
    seconds_per_flop: f64,
    /// Decode FLOPs per token, causal prefill FLOPs and KV bytes one sequence's step reads on
    /// one rank, by context.
    grid: Grid,
    /// Bytes of one token's new records on one rank.
    record_bytes: f64,
    weights: f64,
    routed: f64,
    moe: Option<(u64, u64)>,
    pp: f64,
    /// Bytes per second of one rank's memory.
    bandwidth: f64,
    /// Seconds of communication per token of a step.
    comm_per_token: f64,
    /// Fixed seconds per step (scheduling, kernel launches): 0 unless given.
    pub overhead: f64,
}

impl StepCost {
    /// The model for a scenario and its report; `replicas` is the scenario's data-parallel
    /// degree (each replica gets its share of the chips). Warnings for what it assumes.
    pub fn new(s: &Scenario, r: &Report) -> Result<(StepCost, Vec<String>)> {
        let mut warnings = Vec::new();
        let speed = r.speed.as_ref().ok_or_else(|| {
            Error::field(
                &s.chip.file,
                "memory_bandwidth_tbps / dense_tflops",
                "nothing",
                "bandwidth and peak compute figures: the simulator needs the roofline",
            )
        })?;
        let m = &s.model;
        let d = &s.deployment;
        let dp = d.dp.max(1) as f64;
        let chips = r.chips.max(1) as f64;
        let replica_chips = chips / dp;
        // The rate evaluate used, per chip: its compute time × chips over its FLOPs.
        let spf_chip = speed.compute_seconds_per_step * chips
            / (speed.batch.max(1) as f64 * speed.flops_per_token_decode.max(1.0));
        let max = s.context.max(2);
        let stage = m.pp_stages(d.pp)[r.binding_stage as usize];
        let groups = m.groups_in(stage.start, stage.end);
        let (kv, state, atp) = (s.plan.kv, s.plan.state, d.attention_tp());
        let kv_read = |c: u64| -> f64 {
            groups
                .iter()
                .map(|g| {
                    g.attention.kv_read_bytes(kv, state, atp, c).unwrap_or(0.0) * g.count as f64
                })
                .sum()
        };
        let decode = |c: u64| flops_per_token_decode(m, c);
        let prefill = |c: u64| flops_prefill(m, c);
        let grid = Grid::new(max, &[&decode, &prefill, &kv_read]);
        let bandwidth = s.chip.memory_bandwidth_tbps.unwrap_or(0.0) * 1e12 * s.bandwidth_efficiency
            / s.chip.ranks() as f64;
        let vision = match r.weights_source {
            WeightsSource::Measured => 0.0,
            _ => r.weights_by_group[TensorGroup::Vision] as f64,
        };
        let routed = match r.weights_source {
            WeightsSource::Measured => 0.0,
            WeightsSource::Computed => r.weights_by_group[TensorGroup::RoutedExperts] as f64,
            WeightsSource::Checkpoint => {
                r.weights_by_group[TensorGroup::RoutedExperts] as f64
                    * r.weights_bytes_per_chip as f64
                    / r.weights_by_group.total().max(1) as f64
            }
        };
        let moe = m.groups.iter().find_map(|g| match &g.ffn {
            Ffn::Moe(x) => Some((x.experts, x.active_experts())),
            _ => None,
        });
        // Tensor parallelism: two all-reduces per layer (after attention and after the MLP, as
        // Megatron-LM splits them, Shoeybi et al. 2019 §3) of each token's BF16 hidden state, a
        // ring moving 2(tp−1)/tp of it over one direction of the link; pipeline stages hand the
        // hidden state on once per boundary.
        let link = s
            .chip
            .interconnect
            .as_ref()
            .and_then(|i| i.bandwidth_gbps)
            .map(|g| g * 1e9 / 2.0);
        let layers = (stage.end - stage.start) as f64;
        let token_bytes = m.hidden as f64 * 2.0;
        let tp = d.tp.max(1) as f64;
        let mut comm_bytes = 0.0;
        if d.tp > 1 {
            comm_bytes += layers * 2.0 * 2.0 * (tp - 1.0) / tp * token_bytes;
        }
        if d.pp > 1 {
            comm_bytes += token_bytes;
        }
        let comm_per_token = match link {
            Some(bw) => comm_bytes * d.pp.max(1) as f64 / bw,
            None if comm_bytes > 0.0 => {
                warnings.push(format!(
                    "{} has no interconnect bandwidth figure: tensor/pipeline communication is taken as free",
                    s.chip.id
                ));
                0.0
            }
            None => 0.0,
        };
        if comm_bytes > 0.0 {
            warnings.push("communication is added to each step, not overlapped with compute; link latency is not modelled".into());
        }
        if d.ep > 1 {
            warnings.push("expert-parallel all-to-all is not modelled: EP steps cost what TP steps of the same chips do".into());
        }
        if d.dp > 1 {
            warnings.push(format!(
                "dp {}: each data-parallel group is simulated as an independent replica{}",
                d.dp,
                if d.dp_attention {
                    " (DP-attention's shared MoE layers are not synchronised)"
                } else {
                    ""
                }
            ));
        }
        if d.pp > 1 {
            warnings.push("pipeline parallelism as eval's roofline counts it: pp micro-batches per step, weights read once per micro-batch, no bubbles".into());
        }
        let weights = r.weights_bytes_per_chip as f64 - vision;
        Ok((
            StepCost {
                seconds_per_flop: spf_chip / replica_chips,
                grid,
                record_bytes: r.kv_bytes_per_token_per_chip as f64,
                weights,
                routed,
                moe,
                pp: d.pp.max(1) as f64,
                bandwidth,
                comm_per_token,
                overhead: 0.0,
            },
            warnings,
        ))
    }

    /// Seconds of one step over the scheduled sequences.
    pub fn step(&self, work: impl Iterator<Item = Work>) -> f64 {
        let (mut flops, mut kv_bytes, mut tokens) = (0.0, 0.0, 0u64);
        for w in work {
            tokens += w.new;
            let g = &self.grid;
            if w.new == 1 {
                let at = g.locate(w.cached + 1);
                flops += g.at(DECODE, at);
                kv_bytes += g.at(KV_READ, at);
            } else {
                let start = g.locate(w.cached);
                flops += g.at(PREFILL, g.locate(w.cached + w.new)) - g.at(PREFILL, start);
                // A chunk reads the cache before it once; its own keys stay on chip.
                kv_bytes += g.at(KV_READ, start);
            }
        }
        if tokens == 0 {
            return 0.0;
        }
        let compute = flops * self.seconds_per_flop;
        let share = self
            .moe
            .map_or(1.0, |(e, k)| experts_touched(e, k, tokens as f64 / self.pp));
        let weights = self.weights - self.routed * (1.0 - share);
        let bytes = self.pp * weights + kv_bytes + tokens as f64 * self.record_bytes;
        let memory = bytes / self.bandwidth;
        compute.max(memory) + tokens as f64 * self.comm_per_token + self.overhead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{load_chip, load_model};
    use crate::evaluate::evaluate;

    // A decode step of eval's batch at eval's context costs eval's decode step time (TP1, so no
    // communication): the simulator and `eval` share one roofline.
    #[test]
    fn decode_step_matches_eval() {
        for (model, chip) in [("llama-3.1-8b", "h100-sxm"), ("qwen3-30b-a3b", "h200")] {
            let s = Scenario::new(load_model(model).unwrap(), load_chip(chip).unwrap(), 8192);
            let r = evaluate(&s).unwrap();
            let (c, _) = StepCost::new(&s, &r).unwrap();
            let sp = r.speed.as_ref().unwrap();
            let b = sp.batch;
            let t = c.step((0..b).map(|_| Work {
                cached: 8191,
                new: 1,
            }));
            let rel = (t / sp.decode_step_seconds - 1.0).abs();
            assert!(rel < 0.01, "{model}: {t} vs {}", sp.decode_step_seconds);
        }
    }

    // Prefill of a whole prompt in one step costs its FLOPs at eval's rate: 8B at 8k tokens is
    // compute-bound on an H100.
    #[test]
    fn prefill_is_compute_bound() {
        let s = Scenario::new(
            load_model("llama-3.1-8b").unwrap(),
            load_chip("h100-sxm").unwrap(),
            8192,
        );
        let r = evaluate(&s).unwrap();
        let (c, _) = StepCost::new(&s, &r).unwrap();
        let t = c.step(std::iter::once(Work {
            cached: 0,
            new: 8192,
        }));
        let expect = flops_prefill(&s.model, 8192) * c.seconds_per_flop;
        assert!((t / expect - 1.0).abs() < 1e-3, "{t} {expect}");
        assert!(t > 0.05 && t < 0.5, "{t}");
    }

    #[test]
    fn grid_interpolates() {
        let sq = |c: u64| (c * c) as f64;
        let t = Grid::new(1 << 20, &[&sq]);
        assert_eq!(t.at(0, t.locate(64)), 4096.0);
        assert_eq!(t.at(0, t.locate(7)), 49.0);
        for x in [65u64, 1000, 300_000, 1 << 20] {
            assert!((t.at(0, t.locate(x)) / sq(x) - 1.0).abs() < 1e-3, "{x}");
        }
        // Past the grid the last segment extends.
        assert!(t.at(0, t.locate(2 << 20)) > sq(1 << 20));
        // Every grid point is found exactly.
        for (i, &x) in t.x.iter().enumerate().skip(1) {
            let (j, w) = t.locate(x as u64);
            assert!(j == i && w == 1.0, "{x}: {j} {w}");
        }
    }
}
