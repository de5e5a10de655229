//! The event loop: arrivals from a [`Source`] and step ends of every replica, handled in global
//! time order, with a router in front of the replicas.
//!
//! Router: a request of a session goes to the replica its session id hashes to (its earlier
//! turns' pages are there); any other request goes to the replica with the fewest requests in
//! it, the lowest index on ties.

use super::cost::StepCost;
use super::engine::{Done, Limits, Live, Replica};
use super::kvpool::{byte_capacity, KvPool, Units};
use super::offload::{default_host_link, Offload, OffloadStats};
use super::spec::{tokens_per_step, Drafter, Spec};
use super::stats::{CompletionClock, Histogram, Sample, Summary};
use super::stats::{DisaggSummary, SpecSummary};
use super::workload::OrdF64;
use super::{mix, Source};
use crate::engine::Accounting;
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, Report};
use crate::scenario::Scenario;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Copies of the scenario's deployment (each data-parallel group of each is a replica).
    pub replicas: u64,
    pub prefix_caching: bool,
    pub ttft_slo: Option<f64>,
    pub tpot_slo: Option<f64>,
    /// Seconds between time-series samples (None: no series).
    pub series_interval: Option<f64>,
    /// Most samples kept: past it, every other sample is dropped and the interval doubles, so
    /// the series always spans the whole run.
    pub series_points: usize,
    /// Fixed seconds added to every step (scheduler, launches).
    pub step_overhead_s: f64,
    /// KV offload tier per chip, bytes (None: no tier).
    pub offload_bytes: Option<f64>,
    /// Its link, bytes per second in one direction (None: the chip's default host link).
    pub offload_link_bps: Option<f64>,
    /// Speculative decoding.
    pub spec: Option<Spec>,
    /// Disaggregated serving: x prefill and y decode copies of the deployment (replaces
    /// `replicas`).
    pub disagg: Option<(u64, u64)>,
    /// The link KV crosses from prefill to decode, bytes per second a direction per chip
    /// (None: one 400 Gb/s NIC per chip).
    pub disagg_link_bps: Option<f64>,
    pub workload: String,
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            replicas: 1,
            prefix_caching: true,
            ttft_slo: None,
            tpot_slo: None,
            series_interval: None,
            series_points: MAX_SAMPLES,
            step_overhead_s: 0.0,
            offload_bytes: None,
            offload_link_bps: None,
            spec: None,
            disagg: None,
            disagg_link_bps: None,
            workload: String::new(),
            seed: 0,
        }
    }
}

/// Most time-series samples kept.
pub const MAX_SAMPLES: usize = 100_000;

/// The pool one replica gets from the report.
pub fn pool_for(r: &Report, prefix_caching: bool) -> Result<KvPool> {
    if r.sessions_per_replica == 0 {
        return Err(Error::field(
            "scenario",
            "context",
            r.context,
            format!(
                "a context of which one session fits: {} holds none ({} B of KV budget per chip); lower --context or add chips",
                r.chip, r.kv_budget_bytes_per_chip
            ),
        ));
    }
    Ok(if r.kv_accounting == Accounting::Uniform {
        KvPool::new(
            Units::Pages {
                block: r.block_size,
            },
            r.kv_blocks_per_chip,
            prefix_caching,
        )
    } else {
        let units = Units::Bytes {
            specs: r.kv_layout.clone(),
            block: r.block_size,
        };
        let cap = byte_capacity(&units, r.max_concurrency, r.context)?;
        KvPool::new(units, cap, false)
    })
}

struct Acc {
    ttft: Histogram,
    tpot: Histogram,
    e2e: Histogram,
    queue_sum: f64,
    completed: u64,
    dropped: u64,
    good: u64,
    input: u64,
    output: u64,
    prompt_admitted: u64,
    hits: u64,
    clock: CompletionClock,
}

/// Counts the requests a replica could not hold as dropped at `t` (a disaggregated prefill
/// copy's request gets its output length back first); returns how many left the system.
fn retire_dropped(
    dropped: &mut Vec<Live>,
    outputs: &mut std::collections::HashMap<u64, u64>,
    acc: &mut Acc,
    source: &mut dyn Source,
    t: f64,
) -> u64 {
    let n = dropped.len() as u64;
    for mut l in dropped.drain(..) {
        if let Some(out) = outputs.remove(&l.req.id) {
            l.req.output = out;
        }
        acc.dropped += 1;
        source.finished(&l.req, t);
    }
    n
}

/// Runs the simulation of `s` serving the requests of `source`.
pub fn run(s: &Scenario, source: &mut dyn Source, o: &Options) -> Result<Summary> {
    // MTP drafting loads the model's next-n layers: `eval --mtp` counts their weights and KV.
    let with_mtp;
    let s = match &o.spec {
        Some(sp) if sp.method == super::spec::Method::Mtp && !s.mtp => {
            with_mtp = Scenario {
                mtp: true,
                ..s.clone()
            };
            &with_mtp
        }
        _ => s,
    };
    let drafter = match &o.spec {
        Some(sp) => {
            if !(sp.acceptance.is_finite() && (0.0..=1.0).contains(&sp.acceptance)) {
                return Err(Error::field(
                    "command line",
                    "--acceptance",
                    sp.acceptance,
                    "a probability from 0 to 1",
                ));
            }
            if !(1..=64).contains(&sp.tokens) {
                return Err(Error::field(
                    "command line",
                    "--spec-tokens",
                    sp.tokens,
                    "1 to 64 proposed tokens per step",
                ));
            }
            Some(Drafter::new(sp, s)?)
        }
        None => None,
    };
    let report = evaluate(s)?;
    let (mut cost, mut warnings) = StepCost::new(s, &report)?;
    cost.overhead = o.step_overhead_s;
    if o.replicas == 0 {
        return Err(Error::field(
            "command line",
            "--replicas",
            0,
            "at least one replica",
        ));
    }
    let dp = s.deployment.dp.max(1);
    let (np, nd) = match o.disagg {
        None => ((o.replicas * dp) as usize, 0usize),
        Some((x, y)) => {
            if x == 0 || y == 0 {
                return Err(Error::field(
                    "command line",
                    "--disagg",
                    format!("{x}P{y}D"),
                    "at least one prefill and one decode copy (xPyD, e.g. 1P2D)",
                ));
            }
            if o.replicas != 1 {
                return Err(Error::field(
                    "command line",
                    "--replicas",
                    o.replicas,
                    "1 with --disagg (xPyD gives the copies)",
                ));
            }
            ((x * dp) as usize, (y * dp) as usize)
        }
    };
    let n = np + nd;
    let mut pool = pool_for(&report, o.prefix_caching)?;
    let mut pool_share = 1.0;
    if let (Some(d), Some(sp)) = (&drafter, &o.spec) {
        pool_share = d.pool_share(
            report.kv_budget_bytes_per_chip as f64,
            report.kv_bytes_per_token_per_chip as f64,
        );
        let cap = (pool.capacity as f64 * pool_share).floor() as u64;
        if cap == 0 || pool.units.need(2) > cap {
            return Err(Error::field(
                "command line",
                "--spec",
                sp.method.label(),
                format!(
                    "a drafter that leaves room for KV: its {:.2} GiB of weights per chip leave none of the {:.2} GiB budget",
                    d.extra_weights_bytes / crate::units::GIB,
                    report.kv_budget_bytes_per_chip as f64 / crate::units::GIB
                ),
            ));
        }
        pool = KvPool::new(pool.units.clone(), cap, pool.caching());
        warnings.push(format!(
            "speculative decoding ({}, K = {}, acceptance {}): {:.3} tokens per verify step expected; acceptance independent per token; the drafter's weights and KV take {:.1}% of the KV pool{}",
            sp.method.label(),
            sp.tokens,
            sp.acceptance,
            tokens_per_step(sp.acceptance, sp.tokens),
            100.0 * (1.0 - pool_share),
            match (d.counted_by_eval, s.eagle) {
                (true, true) => " (the EAGLE head counted in the deployment's memory by --eagle)",
                (true, false) => " (MTP layers counted by eval --mtp)",
                _ => "",
            }
        ));
    }
    if o.prefix_caching && !pool.caching() {
        warnings.push(format!(
            "prefix caching is simulated for uniform page pools only; off for this model's {} accounting",
            report.kv_accounting.label()
        ));
    }
    if report.kv_accounting != Accounting::Uniform {
        warnings.push(format!(
            "KV held as each request's page-rounded bytes per layer ({}), in a pool sized to eval's {} sessions of {} tokens",
            report.kv_accounting.label(),
            report.sessions_per_replica,
            report.context
        ));
    }
    warnings.push("engine: vLLM v1 scheduler (FCFS, chunked prefill, preemption by recompute); step time from kvsim's roofline, no CPU or launch overhead unless --step-overhead-ms".into());
    let limits = Limits {
        max_num_seqs: s.effective_max_num_seqs().max(1),
        max_num_batched_tokens: report.max_num_batched_tokens.max(1),
    };
    let unit_bytes = match pool.units {
        Units::Pages { block } => (block * report.kv_bytes_per_token_per_chip) as f64,
        Units::Bytes { .. } => 1.0,
    };
    let tier = match o.offload_bytes {
        None => None,
        Some(bytes) => {
            let link = match o.offload_link_bps {
                Some(l) => l,
                None => {
                    let (l, name) = default_host_link(&s.chip.id).ok_or_else(|| {
                        Error::field(
                            "command line",
                            "--offload-link-gbps",
                            "nothing",
                            format!(
                                "the host link's GB/s a direction: kvsim knows no default for {}",
                                s.chip.id
                            ),
                        )
                    })?;
                    warnings.push(format!(
                        "offload link: {name}, {:.1} GB/s a direction (the chip's default; --offload-link-gbps to change)",
                        l / 1e9
                    ));
                    l
                }
            };
            warnings.push(format!(
                "KV offload: {:.1} GiB per chip at {:.1} GB/s; {}; transfers are synchronous, added to the step that needs them",
                bytes / crate::units::GIB,
                link / 1e9,
                if pool.caching() {
                    "evicted prefix pages are written back and reloaded on a later hit"
                } else {
                    "preempted requests are swapped out and back in instead of recomputed"
                }
            ));
            Some(Offload::new(bytes, link, unit_bytes)?)
        }
    };
    // DGX H100 / DGX B200: eight 400 Gb/s ConnectX-7 NICs, one per GPU (NVIDIA DGX H100/H200
    // and DGX B200 user guides, "Network ports"): 50 GB/s a direction per chip.
    const NIC: f64 = 50e9;
    let kv_link = o.disagg_link_bps.unwrap_or(NIC);
    if let Some((x, y)) = o.disagg {
        if !(kv_link.is_finite() && kv_link > 0.0) {
            return Err(Error::field(
                "command line",
                "--disagg-link-gbps",
                kv_link / 1e9,
                "a positive, finite number",
            ));
        }
        warnings.push(format!(
            "disaggregated {x}P{y}D: prefill copies compute each prompt (max_tokens 1, as vLLM's P/D proxy), its KV crosses to a decode copy at {:.1} GB/s a direction per chip{}, and the decode copy emits every token (TTFT = prefill + transfer + its first step); transfers do not contend with each other",
            kv_link / 1e9,
            if o.disagg_link_bps.is_none() {
                " (one 400 Gb/s NIC per chip, as in DGX H100/B200; --disagg-link-gbps to change)"
            } else {
                ""
            }
        ));
    }
    let mut reps: Vec<Replica> = (0..n)
        .map(|_| {
            let mut r = Replica::new(pool.clone(), limits);
            if let (Some(d), Some(sp)) = (drafter, &o.spec) {
                r.spec = Some((d, sp.tokens, sp.acceptance));
            }
            match &tier {
                Some(t) => r.with_offload(t.clone()),
                None => r,
            }
        })
        .collect();
    let max_len = s.context;
    let mut heap: BinaryHeap<Reverse<(OrdF64, usize)>> = BinaryHeap::new();
    // Disaggregated serving: outputs held back while prefill copies run to one token, and the
    // KV transfers under way (arrival at the decode side, request id).
    let mut outputs: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut handoffs: BinaryHeap<Reverse<(OrdF64, u64)>> = BinaryHeap::new();
    let mut moving: std::collections::HashMap<u64, Live> = std::collections::HashMap::new();
    let (mut kv_moved, mut kv_moved_s, mut kv_moves) = (0.0f64, 0.0f64, 0u64);
    let transfer_bytes = |prompt: u64| -> f64 {
        match pool.units {
            Units::Pages { .. } => (prompt * report.kv_bytes_per_token_per_chip) as f64,
            Units::Bytes { .. } => pool.units.need(prompt) as f64,
        }
    };
    let mut acc = Acc {
        ttft: Histogram::default(),
        tpot: Histogram::default(),
        e2e: Histogram::default(),
        queue_sum: 0.0,
        completed: 0,
        dropped: 0,
        good: 0,
        input: 0,
        output: 0,
        prompt_admitted: 0,
        hits: 0,
        clock: CompletionClock::default(),
    };
    let (mut requests, mut in_flight, mut area, mut last) = (0u64, 0u64, 0.0f64, 0.0f64);
    let mut last_arrival = 0.0f64;
    let mut arrivals = CompletionClock::default();
    let mut series = Vec::new();
    let mut next_sample = o.series_interval.map_or(f64::INFINITY, |_| 0.0);
    let mut interval = o.series_interval.unwrap_or(f64::INFINITY);
    // Sample k is at k × interval exactly (no drift from repeated additions).
    let mut next_index = 0u64;
    let mut done: Vec<Done> = Vec::new();
    let mut dropped: Vec<Live> = Vec::new();
    // Replicas that received requests at the current instant and may need a step started.
    let mut touched: Vec<usize> = Vec::new();
    let capacity_total: f64 = reps.iter().map(|r| r.pool.capacity as f64).sum();
    loop {
        let ta = source.peek()?;
        // The last request of an instant is in (or was dropped): start the steps it waited for.
        if !touched.is_empty() && ta != Some(last) {
            for k in touched.drain(..) {
                if reps[k].busy_until.is_none() {
                    if let Some(end) = reps[k].start_step(last, &cost, &mut dropped) {
                        heap.push(Reverse((OrdF64(end), k)));
                    }
                }
            }
            let n = retire_dropped(&mut dropped, &mut outputs, &mut acc, source, last);
            in_flight -= n;
        }
        let tb = heap.peek().map(|Reverse((t, _))| t.0);
        let tc = handoffs.peek().map(|Reverse((t, _))| t.0);
        // Earliest event; on ties arrivals first, then step ends, then transfers.
        let mut event = None;
        for (i, x) in [ta, tb, tc].into_iter().enumerate() {
            if let Some(x) = x {
                if event.is_none_or(|(_, y)| x < y) {
                    event = Some((i, x));
                }
            }
        }
        let Some((kind, t)) = event else { break };
        // The state is constant between events: integrate it and sample it up to t.
        while next_sample <= t {
            if series.len() >= o.series_points.max(2) {
                downsample(&mut series);
                interval *= 2.0;
                next_index = series.len() as u64;
                next_sample = next_index as f64 * interval;
                continue;
            }
            let used: f64 = reps.iter().map(|r| r.pool.used() as f64).sum();
            series.push(Sample {
                t_s: next_sample,
                kv_used_fraction: used / capacity_total.max(1.0),
                running: reps.iter().map(|r| r.running.len() as u64).sum(),
                waiting: reps.iter().map(|r| r.waiting.len() as u64).sum(),
            });
            next_index += 1;
            next_sample = next_index as f64 * interval;
        }
        area += in_flight as f64 * (t - last);
        last = t;
        let mut from_prefill = false;
        if kind == 0 {
            let Some(mut req) = source.pop()? else {
                continue;
            };
            requests += 1;
            last_arrival = t;
            arrivals.add(t);
            if req.prompt + req.output > max_len {
                acc.dropped += 1;
                source.finished(&req, t);
                continue;
            }
            let k = match req.session {
                Some(sid) => (mix(0x0004_007E, sid) % np as u64) as usize,
                None => (0..np)
                    .min_by_key(|&i| (reps[i].in_system(), i))
                    .unwrap_or(0),
            };
            if nd > 0 && req.output > 1 {
                outputs.insert(req.id, req.output);
                req.output = 1;
            }
            reps[k].enqueue(req);
            in_flight += 1;
            // Requests arriving at the same instant join one batch: vLLM's scheduler takes
            // everything already queued, so no step starts until the last of them is in.
            if !touched.contains(&k) {
                touched.push(k);
            }
        } else if kind == 1 {
            let Some(Reverse((_, k))) = heap.pop() else {
                continue;
            };
            reps[k].end_step(t, &mut done);
            from_prefill = nd > 0 && k < np;
            if let Some(end) = reps[k].start_step(t, &cost, &mut dropped) {
                heap.push(Reverse((OrdF64(end), k)));
            }
        } else {
            let Some(Reverse((_, id))) = handoffs.pop() else {
                continue;
            };
            let Some(l) = moving.remove(&id) else {
                continue;
            };
            let k = match l.req.session {
                Some(sid) => np + (mix(0x0004_007E, sid) % nd as u64) as usize,
                None => (np..n)
                    .min_by_key(|&i| (reps[i].in_system(), i))
                    .unwrap_or(np),
            };
            reps[k].enqueue_transferred(l.req, l.started, l.hit_tokens);
            if reps[k].busy_until.is_none() {
                if let Some(end) = reps[k].start_step(t, &cost, &mut dropped) {
                    heap.push(Reverse((OrdF64(end), k)));
                }
            }
        }
        if from_prefill {
            // Prompts done: their KV leaves for a decode copy, which emits every token.
            let mut i = 0;
            while i < done.len() {
                let id = done[i].live.req.id;
                if let Some(out) = outputs.remove(&id) {
                    let mut d = done.swap_remove(i);
                    d.live.req.output = out;
                    let bytes = transfer_bytes(d.live.req.prompt);
                    let secs = bytes / kv_link;
                    kv_moved += bytes * report.chips as f64;
                    kv_moved_s += secs;
                    kv_moves += 1;
                    handoffs.push(Reverse((OrdF64(d.finish + secs), id)));
                    moving.insert(id, d.live);
                } else {
                    i += 1;
                }
            }
        }
        in_flight -= retire_dropped(&mut dropped, &mut outputs, &mut acc, source, t);
        for d in done.drain(..) {
            in_flight -= 1;
            let l = &d.live;
            let first = l.first_token.unwrap_or(d.finish);
            let ttft = first - l.req.arrival;
            let e2e = d.finish - l.req.arrival;
            acc.ttft.add(ttft);
            acc.e2e.add(e2e);
            let tpot = (l.generated > 1).then(|| (d.finish - first) / (l.generated - 1) as f64);
            if let Some(x) = tpot {
                acc.tpot.add(x);
            }
            acc.queue_sum += l.started.unwrap_or(d.finish) - l.req.arrival;
            acc.completed += 1;
            acc.clock.add(d.finish);
            acc.input += l.req.prompt;
            acc.output += l.generated;
            acc.prompt_admitted += l.req.prompt;
            acc.hits += l.hit_tokens;
            let ok_ttft = o.ttft_slo.is_none_or(|s| ttft <= s);
            let ok_tpot = o.tpot_slo.is_none_or(|s| tpot.is_none_or(|x| x <= s));
            if ok_ttft && ok_tpot {
                acc.good += 1;
            }
            source.finished(&l.req, d.finish);
        }
    }
    warnings.extend(source.warnings());
    if acc.dropped > 0 {
        warnings.push(format!(
            "{} requests dropped: longer than the context (max_model_len {max_len}) or larger than a replica's whole KV pool",
            acc.dropped
        ));
    }
    let duration = last;
    let per = |x: f64| if duration > 0.0 { x / duration } else { 0.0 };
    let rate = per(acc.completed as f64);
    let mean_latency = acc.e2e.mean();
    let mean_in_flight = per(area);
    let page_bytes = unit_bytes;
    let mut off = OffloadStats::default();
    for t in reps.iter().filter_map(|r| r.offload.as_ref()) {
        let x = &t.stats;
        off.pages_stored += x.pages_stored;
        off.pages_dropped += x.pages_dropped;
        off.pages_reloaded += x.pages_reloaded;
        off.swaps_out += x.swaps_out;
        off.swaps_in += x.swaps_in;
        off.bytes_out += x.bytes_out;
        off.bytes_in += x.bytes_in;
        off.transfer_s += x.transfer_s;
    }
    let peak_units = reps.iter().map(|r| r.pool.peak_used).max().unwrap_or(0);
    let copies = match o.disagg {
        Some((x, y)) => x + y,
        None => o.replicas,
    };
    let chips = report.chips as f64 * copies as f64;
    Ok(Summary {
        model: s.model.id.to_string(),
        chip: s.chip.id.to_string(),
        workload: o.workload.clone(),
        seed: o.seed,
        replicas: n as u64,
        chips,
        requests,
        completed: acc.completed,
        dropped: acc.dropped,
        duration_s: duration,
        mean_in_flight,
        completion_rate_per_s: rate,
        steady_completion_rate_per_s: acc.clock.rate_between(last_arrival / 2.0, last_arrival),
        steady_arrival_rate_per_s: arrivals.rate_between(last_arrival / 2.0, last_arrival),
        mean_latency_s: mean_latency,
        littles_law_ratio: if rate * mean_latency > 0.0 {
            mean_in_flight / (rate * mean_latency)
        } else {
            1.0
        },
        mean_queue_s: if acc.completed > 0 {
            acc.queue_sum / acc.completed as f64
        } else {
            0.0
        },
        ttft_s: acc.ttft.percentiles(),
        tpot_s: acc.tpot.percentiles(),
        e2e_s: acc.e2e.percentiles(),
        input_tokens_per_s: per(acc.input as f64),
        output_tokens_per_s: per(acc.output as f64),
        output_tokens_per_s_per_chip: per(acc.output as f64) / chips.max(1e-12),
        ttft_slo_s: o.ttft_slo,
        tpot_slo_s: o.tpot_slo,
        goodput_per_s: per(acc.good as f64),
        slo_attainment: if acc.completed > 0 {
            acc.good as f64 / acc.completed as f64
        } else {
            0.0
        },
        preemptions: reps.iter().map(|r| r.preemptions).sum(),
        prefix_hit_rate: if acc.prompt_admitted > 0 {
            acc.hits as f64 / acc.prompt_admitted as f64
        } else {
            0.0
        },
        prefix_evictions: reps.iter().map(|r| r.pool.evictions).sum(),
        peak_kv_fraction: peak_units as f64 / pool.capacity.max(1) as f64,
        peak_kv_bytes_per_chip: peak_units as f64 * page_bytes,
        kv_capacity_bytes_per_chip: pool.capacity as f64 * page_bytes,
        peak_running: reps.iter().map(|r| r.peak_running).max().unwrap_or(0),
        peak_decoding: reps.iter().map(|r| r.peak_decoding).max().unwrap_or(0),
        mean_running: if duration > 0.0 {
            reps.iter().map(|r| r.running_area).sum::<f64>() / duration / n as f64
        } else {
            0.0
        },
        steps: reps.iter().map(|r| r.steps).sum(),
        sessions_per_replica_eval: report.sessions_per_replica,
        offload: o.offload_bytes.map(|_| off.into()),
        disagg: o.disagg.map(|(x, y)| DisaggSummary {
            prefill_replicas: x,
            decode_replicas: y,
            link_gbps: kv_link / 1e9,
            transfers: kv_moves,
            kv_transfer_bytes: kv_moved,
            mean_transfer_bytes_per_request: if kv_moves > 0 {
                kv_moved / kv_moves as f64
            } else {
                0.0
            },
            mean_transfer_s: if kv_moves > 0 {
                kv_moved_s / kv_moves as f64
            } else {
                0.0
            },
        }),
        spec: match (&o.spec, &drafter) {
            (Some(sp), Some(d)) => {
                let verifies: u64 = reps.iter().map(|r| r.spec_verifies).sum();
                let emitted: u64 = reps.iter().map(|r| r.spec_emitted).sum();
                Some(SpecSummary {
                    method: sp.method.label(),
                    tokens: sp.tokens,
                    acceptance: sp.acceptance,
                    expected_tokens_per_step: tokens_per_step(sp.acceptance, sp.tokens),
                    tokens_per_verify: if verifies > 0 {
                        emitted as f64 / verifies as f64
                    } else {
                        0.0
                    },
                    draft_weights_bytes_per_chip: d.pass_weights_bytes,
                    draft_kv_bytes_per_token_per_chip: d.kv_bytes_per_token,
                    kv_pool_share: pool_share,
                })
            }
            _ => None,
        },
        warnings,
        series_interval_s: o.series_interval.map(|_| interval),
        series,
    })
}

/// Keeps every other sample, the first included: the series at twice the interval.
pub fn downsample(series: &mut Vec<Sample>) {
    let mut i = 0;
    series.retain(|_| {
        i += 1;
        i % 2 == 1
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downsample_keeps_every_other() {
        let mut v: Vec<Sample> = (0..5)
            .map(|i| Sample {
                t_s: i as f64,
                kv_used_fraction: 0.0,
                running: i,
                waiting: 0,
            })
            .collect();
        downsample(&mut v);
        assert_eq!(v.iter().map(|x| x.running).collect::<Vec<_>>(), [0, 2, 4]);
    }
}
