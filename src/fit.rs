//! Inverse questions: the smallest deployment for a target, the longest context that fits, the
//! cheapest chip.
//!
//! Deployments searched: replicas of one layout — TP ∈ {1, 2, 4, …, 64} (those the model's heads
//! allow), PP ∈ 1‥16, and for MoE models EP ∈ {1, TP} — each replica an independent engine, as many
//! as the target needs. The smallest is the one with the fewest chips (then fewer pipeline stages,
//! then less TP).

use crate::deploy::Deployment;
use crate::error::{Error, Result};
use crate::evaluate::Prepared;
use crate::model::Ffn;
use crate::scenario::Scenario;
use serde::Serialize;

/// A deployment that holds the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Layout {
    pub tp: u64,
    pub pp: u64,
    pub ep: u64,
    /// Independent replicas of the tp × pp layout.
    pub replicas: u64,
    pub chips: u64,
    pub sessions_per_replica: u64,
    pub sessions: u64,
}

fn total_memory(s: &Scenario) -> Result<u64> {
    match s.overrides.total_memory {
        Some(b) => Ok(b),
        None => s.chip.memory_bytes().map(|m| m.0).ok_or_else(|| {
            Error::field(s.chip.file.clone(), "memory_gb", "nothing", "a memory size")
        }),
    }
}

/// Sessions one replica of layout (tp, pp, ep) holds at `context` (None: the layout is invalid).
pub fn sessions_per_replica(
    base: &Scenario,
    tp: u64,
    pp: u64,
    ep: u64,
    context: u64,
) -> Result<Option<u64>> {
    let mut s = base.clone();
    s.deployment = Deployment {
        tp,
        pp,
        ep,
        dp: 1,
        dp_attention: false,
        ..base.deployment
    };
    s.context = context;
    let Ok(p) = Prepared::new(&s) else {
        return Ok(None);
    };
    Ok(Some(p.core(total_memory(&s)?, context)?.capacity.sessions))
}

/// Every replica layout kvsim searches, with its sessions per replica at `context`.
pub fn layouts(base: &Scenario, context: u64) -> Result<Vec<(u64, u64, u64, u64)>> {
    let moe = base
        .model
        .groups
        .iter()
        .any(|g| matches!(g.ffn, Ffn::Moe(_)));
    let mut out = Vec::new();
    for tp in (0..7).map(|i| 1u64 << i) {
        for pp in 1..=16u64.min(base.model.layers()) {
            let eps: &[u64] = if moe && tp > 1 { &[1, tp] } else { &[1] };
            for &ep in eps {
                if let Some(n) = sessions_per_replica(base, tp, pp, ep, context)? {
                    if n > 0 {
                        out.push((tp, pp, ep, n));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The smallest deployment holding `sessions` sessions of `context` tokens (None: no layout holds
/// even one session).
pub fn smallest_deployment(base: &Scenario, sessions: u64, context: u64) -> Result<Option<Layout>> {
    if sessions == 0 {
        return Err(Error::field(
            "command line",
            "--sessions",
            0,
            "a positive number of sessions",
        ));
    }
    let mut best: Option<Layout> = None;
    for (tp, pp, ep, n) in layouts(base, context)? {
        // Checked: --sessions is a user number and can be as large as 2^64 - 1.
        let replicas = sessions.div_ceil(n);
        let (Some(chips), Some(total)) = (
            tp.checked_mul(pp)
                .and_then(|c| c.checked_mul(replicas))
                .map(|ranks| base.chip.chips_for_ranks(ranks)),
            n.checked_mul(replicas),
        ) else {
            return Err(Error::overflow(format!(
                "--sessions {sessions}: the number of chips"
            )));
        };
        let l = Layout {
            tp,
            pp,
            ep,
            replicas,
            chips,
            sessions_per_replica: n,
            sessions: total,
        };
        if best
            .as_ref()
            .is_none_or(|b| (l.chips, l.pp, l.tp, l.ep) < (b.chips, b.pp, b.tp, b.ep))
        {
            best = Some(l);
        }
    }
    Ok(best)
}

/// The longest context (up to `limit`) at which the scenario's deployment holds `sessions`
/// sessions: a binary search over the capacity function, exact to the token (capacity is
/// monotone in context; it is not linear for hybrid models).
pub fn longest_context(base: &Scenario, sessions: u64, limit: u64) -> Result<Option<u64>> {
    let p = Prepared::new(base)?;
    let mem = total_memory(base)?;
    let fits = |c: u64| -> Result<bool> { Ok(p.core(mem, c)?.sessions_per_deployment >= sessions) };
    if !fits(1)? {
        return Ok(None);
    }
    if fits(limit)? {
        return Ok(Some(limit));
    }
    let (mut lo, mut hi) = (1u64, limit); // fits(lo), !fits(hi)
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(mid)? {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(Some(lo))
}

/// Service-level targets for [`smallest_for_sla`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlaTarget {
    /// Requests (sessions, for multi-turn workloads) per second.
    pub rate: f64,
    pub ttft_p90: Option<f64>,
    pub tpot_p90: Option<f64>,
    /// Requests each trial simulates.
    pub requests: u64,
    pub seed: u64,
}

/// A deployment meeting the targets, with what the simulation measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SlaLayout {
    pub tp: u64,
    pub pp: u64,
    pub ep: u64,
    pub replicas: u64,
    pub chips: u64,
    pub ttft_p90_s: f64,
    pub tpot_p90_s: f64,
    pub completion_rate_per_s: f64,
    pub output_tokens_per_s: f64,
}

/// Most replicas the SLA search tries per layout.
pub const MAX_SLA_REPLICAS: u64 = 4096;

/// The fewest chips meeting `t` for workload `w`: for each layout of TP ∈ {1, 2, 4, 8} (PP 1,
/// EP = TP for MoE), the fewest replicas whose simulation meets every p90 target without
/// dropping requests or falling behind the rate (doubling, then bisecting: latency is taken as falling with replicas),
/// then the layout with the fewest chips (less TP on ties). None: no layout meets them.
pub fn smallest_for_sla(
    base: &Scenario,
    w: &crate::simulate::workload::Workload,
    t: &SlaTarget,
) -> Result<Option<SlaLayout>> {
    use crate::simulate::workload::{Arrival, Generator};
    use crate::simulate::{run, Options};
    if !(t.rate.is_finite() && t.rate > 0.0) {
        return Err(Error::field(
            "command line",
            "--rate",
            t.rate,
            "a positive request rate",
        ));
    }
    let moe = base
        .model
        .groups
        .iter()
        .any(|g| matches!(g.ffn, Ffn::Moe(_)));
    let mut w = w.clone();
    w.arrival = match w.arrival {
        Arrival::Bursty { burstiness, .. } => Arrival::Bursty {
            rate: t.rate,
            burstiness,
        },
        _ => Arrival::Poisson { rate: t.rate },
    };
    let mut best: Option<SlaLayout> = None;
    for tp in [1u64, 2, 4, 8] {
        let ep = if moe { tp } else { 1 };
        if sessions_per_replica(base, tp, 1, ep, base.context)?.unwrap_or(0) == 0 {
            continue;
        }
        let mut s = base.clone();
        s.deployment = Deployment {
            tp,
            pp: 1,
            ep,
            dp: 1,
            dp_attention: false,
            ..base.deployment
        };
        let trial = |replicas: u64| -> Result<Option<SlaLayout>> {
            let mut g = Generator::new(w.clone(), &w.name, t.seed, t.requests, s.context)?;
            let o = Options {
                replicas,
                ..Options::default()
            };
            let r = run(&s, &mut g, &o)?;
            // Keeping up: over the second half of the arrivals, one-turn requests complete as fast
            // as they arrive (a growing backlog lowers the completions; the warm-up and the drain
            // after the last arrival, which every finite run has, do not count).
            let keeps_up = w.session.is_some()
                || r.steady_completion_rate_per_s >= 0.9 * r.steady_arrival_rate_per_s;
            let ok = r.dropped == 0
                && keeps_up
                && t.ttft_p90.is_none_or(|x| r.ttft_s.p90 <= x)
                && t.tpot_p90.is_none_or(|x| r.tpot_s.p90 <= x);
            Ok(ok.then(|| SlaLayout {
                tp,
                pp: 1,
                ep,
                replicas,
                chips: s.chip.chips_for_ranks(tp * replicas),
                ttft_p90_s: r.ttft_s.p90,
                tpot_p90_s: r.tpot_s.p90,
                completion_rate_per_s: r.completion_rate_per_s,
                output_tokens_per_s: r.output_tokens_per_s,
            }))
        };
        // A layout cannot beat the best so far with more chips than it.
        let cap = best.map_or(MAX_SLA_REPLICAS, |b| (b.chips / tp).min(MAX_SLA_REPLICAS));
        let (mut lo, mut hi) = (0u64, 1u64);
        let mut found = None;
        while hi <= cap {
            if let Some(l) = trial(hi)? {
                found = Some(l);
                break;
            }
            lo = hi;
            hi *= 2;
        }
        let Some(mut fit) = found else { continue };
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            match trial(mid)? {
                Some(l) => {
                    fit = l;
                    hi = mid;
                }
                None => lo = mid,
            }
        }
        if best.is_none_or(|b| (fit.chips, fit.tp) < (b.chips, b.tp)) {
            best = Some(fit);
        }
    }
    Ok(best)
}
