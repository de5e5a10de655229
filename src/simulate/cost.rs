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
use crate::evaluate::{Prepared, Report, WeightsSource};
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
    /// Pipeline stages (the bubble factor's p).
    stages: u64,
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
        let link = s
            .chip
            .interconnect
            .as_ref()
            .and_then(|i| i.bandwidth_gbps)
            .map(|g| g * 1e9 / 2.0);
        let layers = (stage.end - stage.start) as f64;
        let moe_layers = groups
            .iter()
            .filter(|g| matches!(g.ffn, Ffn::Moe(_)))
            .map(|g| g.count as f64)
            .sum::<f64>();
        let comm = Comm::bytes_per_token(
            m.hidden,
            layers,
            moe_layers,
            d.tp,
            d.ep,
            moe.map_or(0, |(_, k)| k),
            d.pp,
        );
        let total = comm.tp + comm.ep + comm.pp;
        let comm_per_token = match link {
            Some(bw) => total / bw,
            None if total > 0.0 => {
                warnings.push(format!(
                    "{} has no interconnect bandwidth figure: tensor/expert/pipeline communication is taken as free",
                    s.chip.id
                ));
                0.0
            }
            None => 0.0,
        };
        if total > 0.0 {
            warnings.push("communication is added to each step, not overlapped with compute; link latency is not modelled".into());
        }
        if d.ep > 1 {
            warnings.push("expert-parallel all-to-all: each token's top-k copies cross the link in BF16 for dispatch and combine, routed uniformly over the EP ranks".into());
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
            warnings.push("pipeline parallelism as eval's roofline counts it (pp micro-batches per step, weights read once per micro-batch), idle stages when a step has fewer sequences than stages".into());
        }
        // As eval's roofline: the position (rope) tables are held but a step reads a few of their
        // rows, and MLA matrices the decode replaces by derived ones are not read
        // (`Prepared::position_bytes`, `PreparedStage::decode_unread`; 0 for measured weights).
        let p = Prepared::new(s)?;
        let unread = p
            .stages
            .get(r.binding_stage as usize)
            .map_or(0, |st| st.decode_unread);
        let weights = r.weights_bytes_per_chip as f64 - vision - (p.position_bytes + unread) as f64;
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
                stages: d.pp.max(1),
                overhead: 0.0,
            },
            warnings,
        ))
    }

    /// Seconds of one step over the scheduled sequences.
    pub fn step(&self, work: impl Iterator<Item = Work>) -> f64 {
        let (mut flops, mut kv_bytes, mut tokens, mut seqs) = (0.0, 0.0, 0u64, 0u64);
        for w in work {
            tokens += w.new;
            seqs += 1;
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
        let bubble = pp_bubble_factor(self.stages, seqs);
        compute.max(memory) * bubble + tokens as f64 * self.comm_per_token + self.overhead
    }

    /// Seconds of `k` sequential draft passes over `seqs` sequences whose contexts sum to
    /// `context_sum` tokens: each pass the larger of reading the drafter's weights and KV and
    /// computing its FLOPs (attention FLOPs of a one-layer drafter left out).
    pub fn draft_seconds(
        &self,
        d: &super::spec::Drafter,
        k: u64,
        seqs: u64,
        context_sum: f64,
    ) -> f64 {
        if k == 0 || seqs == 0 {
            return 0.0;
        }
        let memory = (d.pass_weights_bytes + context_sum * d.kv_bytes_per_token) / self.bandwidth;
        let compute = seqs as f64 * d.flops_per_token * self.seconds_per_flop;
        k as f64 * memory.max(compute)
    }

    /// Seconds of communication per token (tensor, expert and pipeline traffic together).
    pub fn comm_seconds_per_token(&self) -> f64 {
        self.comm_per_token
    }
}

/// Bytes one rank sends per token of a step, by kind of traffic.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Comm {
    /// Tensor-parallel all-reduces.
    pub tp: f64,
    /// Expert-parallel all-to-all (dispatch and combine).
    pub ep: f64,
    /// Pipeline hand-offs.
    pub pp: f64,
}

impl Comm {
    /// Bytes per token over one direction of one rank's link.
    ///
    /// - TP: two all-reduces per layer (after attention and after the MLP, Megatron-LM's split,
    ///   Shoeybi et al. 2019 §3) of the token's BF16 hidden state; a ring all-reduce sends
    ///   2(tp−1)/tp of the buffer from each rank (Patarasuk & Yuan 2009). The stage's layers
    ///   run once per stage, so the TP traffic of every stage adds up: × pp.
    /// - EP: per MoE layer, each token's hidden state goes to its top-k experts and their outputs
    ///   come back (dispatch then combine, DeepEP's `dispatch`/`combine` pair,
    ///   github.com/deepseek-ai/DeepEP README), both BF16 here; with the experts spread uniformly,
    ///   (ep−1)/ep of the copies leave the rank. Tokens are spread over the EP ranks, so one
    ///   rank sends 1/ep of the step's tokens: per token of the step,
    ///   k·hidden·2·2·(ep−1)/ep / ep bytes. × pp as for TP.
    /// - PP: the BF16 hidden state crosses each of the pp−1 stage boundaries once.
    pub fn bytes_per_token(
        hidden: u64,
        layers_per_stage: f64,
        moe_layers_per_stage: f64,
        tp: u64,
        ep: u64,
        top_k: u64,
        pp: u64,
    ) -> Comm {
        let token = hidden as f64 * 2.0;
        let stages = pp.max(1) as f64;
        let mut c = Comm::default();
        if tp > 1 {
            let t = tp as f64;
            c.tp = stages * layers_per_stage * 2.0 * 2.0 * (t - 1.0) / t * token;
        }
        if ep > 1 && top_k > 0 {
            let e = ep as f64;
            c.ep = stages * moe_layers_per_stage * top_k as f64 * token * 2.0 * (e - 1.0) / e / e;
        }
        if pp > 1 {
            c.pp = (stages - 1.0) * token;
        }
        c
    }
}

/// How much longer a step takes than a full pipeline would: `p` stages, `seqs` sequences
/// scheduled. vLLM keeps pp batches in flight (`EngineCore.step_with_batch_queue`,
/// vllm/v1/engine/core.py, v0.10.0, a batch queue of `pipeline_parallel_size`), so with at
/// least p sequences every stage is busy and the roofline's time stands; with m < p sequences
/// only m micro-batches exist and each stage idles (p − m)/p of the time: the step takes p/m as
/// long.
pub fn pp_bubble_factor(p: u64, seqs: u64) -> f64 {
    if p <= 1 || seqs == 0 || seqs >= p {
        1.0
    } else {
        p as f64 / seqs as f64
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

    // Hand-computed bytes per token. Llama-3.1-70B shape (hidden 8192, 80 layers) at TP 4:
    // 80 × 2 × 2 × 3/4 × 16384 B = 3,932,160 B. A DeepSeek-V3 shape (hidden 7168, 58 MoE layers
    // of 61, top-8) at EP 8, TP 1: 58 × 8 × 14336 × 2 × 7/8 / 8 = 1,455,104 B. PP 4 of 80 layers
    // (20 per stage): 3 hand-offs of 16384 B.
    #[test]
    fn comm_bytes_by_hand() {
        let c = Comm::bytes_per_token(8192, 80.0, 0.0, 4, 1, 0, 1);
        assert_eq!((c.tp, c.ep, c.pp), (3_932_160.0, 0.0, 0.0));
        let c = Comm::bytes_per_token(7168, 61.0, 58.0, 1, 8, 8, 1);
        assert_eq!((c.tp, c.ep, c.pp), (0.0, 1_455_104.0, 0.0));
        let c = Comm::bytes_per_token(8192, 20.0, 0.0, 1, 1, 0, 4);
        assert_eq!((c.tp, c.ep, c.pp), (0.0, 0.0, 49_152.0));
    }

    #[test]
    fn bubble_factor() {
        assert_eq!(pp_bubble_factor(1, 1), 1.0);
        assert_eq!(pp_bubble_factor(4, 1), 4.0);
        assert_eq!(pp_bubble_factor(4, 2), 2.0);
        assert_eq!(pp_bubble_factor(4, 4), 1.0);
        assert_eq!(pp_bubble_factor(4, 100), 1.0);
    }

    // An EP deployment pays the all-to-all: qwen3-30b-a3b (48 MoE layers, hidden 2048, top-8)
    // at TP 2 / EP 2 on H100 (NVLink 4, 450 GB/s a direction) sends, per token,
    // TP 48 × 2 × 2 × ½ × 4096 = 393,216 B and EP 48 × 8 × 4096 × 2 × ½ / 2 = 786,432 B.
    #[test]
    fn ep_all_to_all_is_charged() {
        let mut s = Scenario::new(
            load_model("qwen3-30b-a3b").unwrap(),
            load_chip("h100-sxm").unwrap(),
            8192,
        );
        s.deployment.tp = 2;
        s.deployment.ep = 2;
        let r = evaluate(&s).unwrap();
        let (c, w) = StepCost::new(&s, &r).unwrap();
        let expect = (393_216.0 + 786_432.0) / 450e9;
        assert!(
            (c.comm_seconds_per_token() / expect - 1.0).abs() < 1e-9,
            "{} vs {expect}",
            c.comm_seconds_per_token()
        );
        assert!(w.iter().any(|x| x.contains("all-to-all")), "{w:?}");
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
