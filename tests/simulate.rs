//! Checks of `kvsim simulate`: determinism, Little's law, conservation of requests, the
//! saturation point `eval` predicts, an M/D/1 queue against its closed form, prefix reuse, and
//! streamed traces.

use kvsim::catalog::{load_chip, load_model};
use kvsim::evaluate::evaluate;
use kvsim::scenario::Scenario;
use kvsim::simulate::cost::{StepCost, Work};
use kvsim::simulate::dist::Dist;
use kvsim::simulate::engine::{Limits, Replica};
use kvsim::simulate::kvpool::{KvPool, Units};
use kvsim::simulate::offload::Offload;
use kvsim::simulate::spec::{Method, Spec};
use kvsim::simulate::trace::Trace;
use kvsim::simulate::workload::{profile, Arrival, Generator, Workload};
use kvsim::simulate::{run, Options, Request, Summary};
use proptest::prelude::*;

fn scenario(context: u64) -> Scenario {
    Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        context,
    )
}

fn fixed(prompt: u64, output: u64, arrival: Arrival) -> Workload {
    Workload {
        name: "fixed".into(),
        prompt: Dist::Fixed {
            value: prompt as f64,
        },
        output: Dist::Fixed {
            value: output as f64,
        },
        arrival,
        prefix: None,
        session: None,
    }
}

fn simulate(s: &Scenario, w: Workload, seed: u64, n: u64, o: &Options) -> Summary {
    let mut g = Generator::new(w, "test", seed, n, s.context).unwrap();
    run(s, &mut g, o).unwrap()
}

#[test]
fn deterministic_for_a_seed() {
    let s = scenario(32 * 1024);
    let mut w = profile("agentic").unwrap();
    w.arrival = Arrival::Poisson { rate: 2.0 };
    let o = Options::default();
    let a = simulate(&s, w.clone(), 11, 400, &o);
    let b = simulate(&s, w.clone(), 11, 400, &o);
    assert_eq!(a, b);
    let c = simulate(&s, w, 12, 400, &o);
    assert_ne!(a.e2e_s, c.e2e_s);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    // Little's law: the time-averaged number in the system, integrated from the event stream,
    // equals completion rate × mean latency computed from the requests' own times. Every
    // request arrives after 0 and leaves before the end, so the two agree to rounding; a
    // bookkeeping slip (a request counted in or out twice, an event out of order) breaks it.
    // Every request is accounted for: completed or dropped.
    #[test]
    fn littles_law_and_conservation(
        rate in 0.5f64..40.0,
        median in 50f64..3000.0,
        out in 1u64..300,
        seed in 0u64..1000,
        replicas in 1u64..3,
        seqs in prop::sample::select(vec![1u64, 8, 256]),
        mode in 0u8..4,
    ) {
        let mut s = scenario(8192);
        s.max_num_seqs = Some(seqs);
        let w = Workload {
            name: "p".into(),
            prompt: Dist::Lognormal { median, sigma: 1.0, max: Some(12_000.0) },
            output: Dist::Fixed { value: out as f64 },
            arrival: Arrival::Poisson { rate },
            prefix: None,
            session: None,
        };
        // The same books with each feature on: an offload tier (small, to be used), a drafter,
        // disaggregated prefill and decode.
        let o = match mode {
            1 => Options { replicas, offload_bytes: Some(1e9), ..Options::default() },
            2 => Options { replicas, ..with_spec("eagle", 3, 0.6) },
            3 => Options { disagg: Some((1, replicas)), ..Options::default() },
            _ => Options { replicas, ..Options::default() },
        };
        let mut g = Generator::new(w, "p", seed, 300, 1 << 20).unwrap();
        let r = run(&s, &mut g, &o).unwrap();
        prop_assert_eq!(r.completed + r.dropped, r.requests);
        prop_assert_eq!(r.requests, 300);
        let little = r.completion_rate_per_s * r.mean_latency_s;
        prop_assert!((r.mean_in_flight / little - 1.0).abs() < 1e-6, "{} vs {}", r.mean_in_flight, little);
    }
}

// Requests longer than the context (max_model_len) are dropped and counted, as vLLM rejects them.
#[test]
fn too_long_requests_are_dropped() {
    let s = scenario(4096);
    let mut t = Trace::from_reader(
        "t.csv",
        Box::new(std::io::Cursor::new(
            "arrival_s,prompt_tokens,output_tokens\n0,100,10\n0.1,5000,10\n0.2,4000,96\n0.3,4000,97\n",
        )),
        u64::MAX,
        s.context,
    );
    let r = run(&s, &mut t, &Options::default()).unwrap();
    assert_eq!((r.requests, r.completed, r.dropped), (4, 2, 2));
    assert!(r.warnings.iter().any(|w| w.contains("dropped")));
}

// The steady completion rate (second half of the arrivals) tells a replica that keeps up from
// one that falls behind, with few requests: below capacity it matches the arrivals in that window
// although the long outputs' drain pulls the whole-run rate well under them; with decode steps
// forced slow (1 s of overhead each, so at most 256 sequences × 1 token/s of 100-token outputs:
// 2.56 requests/s) at 20 requests/s it stays near that capacity.
#[test]
fn steady_rate_sees_a_backlog_not_the_drain() {
    let s = scenario(4096);
    let w = fixed(500, 1000, Arrival::Poisson { rate: 4.0 });
    let r = simulate(&s, w, 1, 200, &Options::default());
    assert!(
        r.completion_rate_per_s < 0.9 * r.steady_arrival_rate_per_s,
        "{r:?}"
    );
    assert!(
        r.steady_completion_rate_per_s >= 0.9 * r.steady_arrival_rate_per_s,
        "{} vs {}",
        r.steady_completion_rate_per_s,
        r.steady_arrival_rate_per_s
    );
    let slow = Options {
        step_overhead_s: 1.0,
        ..Options::default()
    };
    let w = fixed(100, 100, Arrival::Poisson { rate: 20.0 });
    let r = simulate(&s, w, 1, 2000, &slow);
    assert!(r.steady_arrival_rate_per_s > 15.0);
    assert!(
        r.steady_completion_rate_per_s < 3.0,
        "{}",
        r.steady_completion_rate_per_s
    );
}

// Requests arriving at one instant are prefilled in one step, as vLLM schedules everything
// queued; a too-long request among them (last of the instant) is dropped without stalling the
// others: 4 prompts of 100 in one prefill step, then 9 decode steps for 10 output tokens.
#[test]
fn simultaneous_arrivals_share_a_step() {
    let s = scenario(4096);
    let mut t = Trace::from_reader(
        "t.csv",
        Box::new(std::io::Cursor::new(
            "arrival_s,prompt_tokens,output_tokens\n0,100,10\n0,100,10\n0,100,10\n0,100,10\n0,5000,10\n",
        )),
        u64::MAX,
        s.context,
    );
    let r = run(&s, &mut t, &Options::default()).unwrap();
    assert_eq!((r.requests, r.completed, r.dropped), (5, 4, 1));
    assert_eq!((r.steps, r.peak_running), (10, 4));
}

// One request length, no reuse, arrivals saturating (a closed loop of twice as many users as
// fit, no think time): the requests decoding at once are exactly eval's sessions of that
// context. 8177 prompt + 15 output tokens fill 512 pages of 16 from the first decode step, like
// a session of 8192. (One more may run mid-prefill on a chunk's pages, and be preempted when it
// grows, as in vLLM.)
#[test]
fn saturation_matches_eval_sessions() {
    let mut s = scenario(8192);
    s.max_num_batched_tokens = Some(32768);
    let sessions = evaluate(&s).unwrap().sessions_per_replica;
    assert!(sessions > 20, "{sessions}");
    let w = fixed(
        8177,
        15,
        Arrival::Closed {
            users: 2 * sessions,
            think_s: Dist::Fixed { value: 0.0 },
        },
    );
    let o = Options {
        prefix_caching: false,
        ..Options::default()
    };
    let r = simulate(&s, w, 1, 20 * sessions, &o);
    assert_eq!(r.sessions_per_replica_eval, sessions);
    assert_eq!(r.peak_decoding, sessions);
    assert!(r.peak_running <= sessions + 1);
    assert!(r.mean_running > sessions as f64 - 2.0, "{}", r.mean_running);
    assert!(r.peak_kv_fraction > 0.95 && r.peak_kv_fraction <= 1.0);
}

// M/D/1: one request at a time (max_num_seqs 1), fixed lengths, so a fixed service time D;
// Poisson arrivals at λ. The mean wait in queue is ρ/(2μ(1−ρ)) = ρD/(2(1−ρ)) (Pollaczek–
// Khinchine with zero service variance; Kleinrock, Queueing Systems vol. 1, §5.6).
#[test]
fn m_d_1_mean_wait() {
    let mut s = scenario(4096);
    s.max_num_seqs = Some(1);
    let o = Options::default();
    let one = simulate(&s, fixed(200, 8, Arrival::Poisson { rate: 1.0 }), 0, 1, &o);
    let d = one.e2e_s.mean;
    assert!(d > 0.0 && one.mean_queue_s == 0.0);
    for rho in [0.3, 0.7] {
        let lambda = rho / d;
        let r = simulate(
            &s,
            fixed(200, 8, Arrival::Poisson { rate: lambda }),
            3,
            200_000,
            &o,
        );
        let expect = rho * d / (2.0 * (1.0 - rho));
        let rel = r.mean_queue_s / expect - 1.0;
        assert!(
            rel.abs() < 0.05,
            "ρ {rho}: wait {} vs {expect} ({rel:+.3})",
            r.mean_queue_s
        );
        // Service time is the same for every request.
        assert!((r.mean_latency_s - r.mean_queue_s - d).abs() < 1e-9 * d.max(1.0) + 1e-12);
    }
}

// An agentic workload's turns reuse their session's pages: most prompt tokens hit the cache,
// and time to first token falls against the same run without caching.
#[test]
fn prefix_cache_serves_agent_turns() {
    let s = scenario(32 * 1024);
    let mut w = profile("agentic").unwrap();
    w.arrival = Arrival::Poisson { rate: 1.0 };
    let on = simulate(&s, w.clone(), 5, 600, &Options::default());
    let off = simulate(
        &s,
        w,
        5,
        600,
        &Options {
            prefix_caching: false,
            ..Options::default()
        },
    );
    assert!(on.prefix_hit_rate > 0.6, "{}", on.prefix_hit_rate);
    assert_eq!(off.prefix_hit_rate, 0.0);
    assert!(
        on.ttft_s.mean < off.ttft_s.mean,
        "{} {}",
        on.ttft_s.mean,
        off.ttft_s.mean
    );
}

// A trace is read as a stream: an endless one still gives its first N requests.
#[test]
fn traces_stream() {
    struct Endless(u64, Vec<u8>);
    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.1.is_empty() {
                self.1 = format!(
                    "{{\"timestamp\": {}, \"input_length\": 700, \"output_length\": 20, \"hash_ids\": [1, {}]}}\n",
                    self.0 * 100,
                    self.0 + 2
                )
                .into_bytes();
                self.0 += 1;
            }
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            self.1.drain(..n);
            Ok(n)
        }
    }
    let s = scenario(8192);
    let mut t = Trace::from_reader("endless", Box::new(Endless(0, Vec::new())), 3000, s.context);
    let r = run(&s, &mut t, &Options::default()).unwrap();
    assert_eq!(r.completed, 3000);
    // Every row shares its first 512-token block (hash id 1): 32 pages of 16 of each 700-token
    // prompt hit after the first.
    assert!(
        (r.prefix_hit_rate - 512.0 / 700.0).abs() < 0.01,
        "{}",
        r.prefix_hit_rate
    );
}

// Hybrid and windowed models run against a byte pool sized to eval's sessions.
#[test]
fn windowed_model_runs() {
    let s = Scenario::new(
        load_model("gpt-oss-120b").unwrap(),
        load_chip("h200").unwrap(),
        32 * 1024,
    );
    let r = simulate(&s, profile("chat").unwrap(), 1, 300, &Options::default());
    assert_eq!(r.completed + r.dropped, 300);
    assert!(r.warnings.iter().any(|w| w.contains("page-rounded bytes")));
}

// `fit sla`: the deployment found meets the targets in its own simulation, and one replica
// fewer of the same layout does not; a stricter target never needs fewer chips.
#[test]
fn fit_sla_is_minimal() {
    use kvsim::fit::{smallest_for_sla, SlaTarget};
    let s = scenario(16 * 1024);
    let w = profile("chat").unwrap();
    let t = SlaTarget {
        rate: 30.0,
        ttft_p90: Some(1.0),
        tpot_p90: Some(0.03),
        requests: 1500,
        seed: 2,
    };
    let f = smallest_for_sla(&s, &w, &t).unwrap().unwrap();
    assert!(f.ttft_p90_s <= 1.0 && f.tpot_p90_s <= 0.03);
    // Fewer chips fail: the same layout with one replica fewer, and TP1 on one chip fewer.
    let meets = |tp: u64, replicas: u64| {
        let mut s1 = s.clone();
        s1.deployment.tp = tp;
        let mut w1 = w.clone();
        w1.arrival = Arrival::Poisson { rate: 30.0 };
        let o = Options {
            replicas,
            ..Options::default()
        };
        let r = simulate(&s1, w1, 2, 1500, &o);
        // `fit sla`'s own test of keeping up: over the second half of the arrivals, requests
        // complete at least 90% as fast as they arrive (the whole run's rate includes the drain).
        r.dropped == 0
            && r.ttft_s.p90 <= 1.0
            && r.tpot_s.p90 <= 0.03
            && r.steady_completion_rate_per_s >= 0.9 * r.steady_arrival_rate_per_s
    };
    assert!(meets(f.tp, f.replicas), "{f:?}");
    if f.replicas > 1 {
        assert!(!meets(f.tp, f.replicas - 1), "{f:?}");
    }
    assert!(f.chips == 1 || !meets(1, f.chips - 1), "{f:?}");
    let strict = smallest_for_sla(
        &s,
        &w,
        &SlaTarget {
            tpot_p90: Some(0.015),
            ..t
        },
    )
    .unwrap()
    .unwrap();
    assert!(strict.chips >= f.chips);
}

fn one_shot(id: u64, prompt: u64, key: u64) -> Request {
    Request {
        id,
        arrival: 0.0,
        prompt,
        output: 1,
        segments: vec![(key, prompt)],
        session: None,
    }
}

// Offload reload time = bytes / bandwidth, by hand. A pool of 10 pages of 16 tokens, a tier of
// 1 MB pages over 1 GB/s. A (64 tokens, key 1) caches 4 pages; B (160 tokens, key 2) needs all
// 10, evicting A's 4 to the tier; A again finds 3 of them there (never its last token) and
// evicts B's 4 tail pages; B again hits its first 6 pages on the device, reloads pages 6–8 from
// the tier (3 MB) and evicts A's pages, already in the tier (no bytes): its step is the
// roofline's step over 16 new tokens after 144 cached, plus 3 MB / 1 GB/s = 3 ms.
#[test]
fn offload_reload_is_bytes_over_bandwidth() {
    let s = scenario(8192);
    let report = evaluate(&s).unwrap();
    let (cost, _) = StepCost::new(&s, &report).unwrap();
    let limits = Limits {
        max_num_seqs: 8,
        max_num_batched_tokens: 8192,
    };
    let pool = KvPool::new(Units::Pages { block: 16 }, 10, true);
    let mut rep = Replica::new(pool, limits).with_offload(Offload::new(1e9, 1e9, 1e6).unwrap());
    let (mut done, mut dropped, mut t) = (Vec::new(), Vec::new(), 0.0);
    let mut durations = Vec::new();
    for (id, prompt, key) in [(0, 64, 1), (1, 160, 2), (2, 64, 1), (3, 160, 2)] {
        rep.enqueue(one_shot(id, prompt, key));
        let end = rep.start_step(t, &cost, &mut dropped).unwrap();
        rep.end_step(end, &mut done);
        assert!(rep.running.is_empty());
        durations.push(end - t);
        t = end;
    }
    let stats = rep.offload.as_ref().unwrap().stats;
    assert_eq!(stats.pages_stored, 8);
    assert_eq!(stats.pages_reloaded, 6);
    assert_eq!(stats.bytes_in, 6e6);
    let base = cost.step(std::iter::once(Work {
        cached: 144,
        new: 16,
    }));
    assert!(
        (durations[3] - base - 3e-3).abs() < 1e-12,
        "{} vs {base} + 3 ms",
        durations[3]
    );
    // B's step wrote A's 4 pages: 4 ms beside its prefill.
    let b = cost.step(std::iter::once(Work {
        cached: 0,
        new: 160,
    }));
    assert!((durations[1] - b - 4e-3).abs() < 1e-12);
    // Both prefix hits count: B's second time 144 of 160 tokens.
    assert_eq!(done[3].live.hit_tokens, 144);
}

// Under memory pressure (about 6 GiB of KV), agent sessions evicted from the device come back from a
// 64 GiB host tier: prefix hits rise, the run stays deterministic and Little's law holds.
#[test]
fn offload_keeps_sessions_warm() {
    let mut s = scenario(16 * 1024);
    s.memory_fraction = Some(0.3);
    let mut w = profile("agentic").unwrap();
    w.arrival = Arrival::Poisson { rate: 2.0 };
    let plain = simulate(&s, w.clone(), 3, 400, &Options::default());
    let o = Options {
        offload_bytes: Some(64.0 * 1_073_741_824.0),
        ..Options::default()
    };
    let a = simulate(&s, w.clone(), 3, 400, &o);
    let b = simulate(&s, w, 3, 400, &o);
    assert_eq!(a, b);
    let off = a.offload.unwrap();
    assert!(off.pages_reloaded > 0 && off.pages_stored > 0, "{off:?}");
    // 16-token pages of llama-3.1-8b's 128 KiB a token: 2 MiB each.
    assert_eq!(off.bytes_in, off.pages_reloaded as f64 * 2.0 * 1_048_576.0);
    assert!(
        a.prefix_hit_rate > plain.prefix_hit_rate,
        "{} {}",
        a.prefix_hit_rate,
        plain.prefix_hit_rate
    );
    assert!(
        (a.littles_law_ratio - 1.0).abs() < 1e-6,
        "{}",
        a.littles_law_ratio
    );
    assert_eq!(a.completed + a.dropped, a.requests);
}

fn with_spec(method: &str, k: u64, a: f64) -> Options {
    Options {
        spec: Some(Spec {
            method: Method::parse(method).unwrap(),
            tokens: k,
            acceptance: a,
        }),
        ..Options::default()
    }
}

// Tokens per step by hand: one request of 100 prompt and 100 output tokens. At acceptance 1
// with K = 3 each verify emits 4 (the last, with 3 left, K = 2: 3): 1 prefill step + 24 + 1
// verify steps = 26. At acceptance 0.5 with K = 1, (1 − 0.5²)/0.5 = 1.5 a step: 1, 2, 1, 2, …
// so 99 tokens take 66 steps: 67.
#[test]
fn spec_tokens_per_step_by_hand() {
    let s = scenario(4096);
    let w = fixed(100, 100, Arrival::Poisson { rate: 1.0 });
    let plain = simulate(&s, w.clone(), 0, 1, &Options::default());
    assert_eq!(plain.steps, 100);
    let r = simulate(&s, w.clone(), 0, 1, &with_spec("eagle", 3, 1.0));
    assert_eq!(r.steps, 26);
    let x = r.spec.as_ref().unwrap();
    assert_eq!(x.expected_tokens_per_step, 4.0);
    assert!((x.tokens_per_verify - 99.0 / 25.0).abs() < 1e-12);
    let r = simulate(&s, w, 0, 1, &with_spec("eagle", 1, 0.5));
    assert_eq!(r.steps, 67);
    // Fewer, longer steps: each token costs less than without a drafter.
    assert!(
        r.tpot_s.mean < plain.tpot_s.mean,
        "{} {}",
        r.tpot_s.mean,
        plain.tpot_s.mean
    );
}

// The EAGLE head of llama-3.1-8b, by hand, as `--eagle` counts it (vLLM 0.9.2 llama_eagle.py: no
// input norm): q and o 4096², k and v 4096 × 1024, SwiGLU 3 × 4096 × 14336, 1 norm of 4096,
// fusion 2 × 4096² = 251,662,336 parameters, 503,324,672 B in BF16 (at TP2 the layer halves and
// the fusion matrix, a plain nn.Linear, stays whole); one layer of KV, 2 × 8 × 128 × 2 = 4096 B
// a token. The pool keeps
// (budget − weights)/budget × 128 KiB/(128 KiB + 4 KiB) of its pages.
#[test]
fn spec_drafter_memory_by_hand() {
    let s = scenario(8192);
    let report = evaluate(&s).unwrap();
    let w = fixed(500, 50, Arrival::Poisson { rate: 4.0 });
    let plain = simulate(&s, w.clone(), 1, 200, &Options::default());
    let r = simulate(&s, w, 1, 200, &with_spec("eagle", 3, 0.7));
    let x = r.spec.as_ref().unwrap();
    assert_eq!(x.draft_weights_bytes_per_chip, 503_324_672.0);
    let mut s2 = scenario(8192);
    s2.deployment.tp = 2;
    let w2 = fixed(100, 20, Arrival::Poisson { rate: 4.0 });
    let r2 = simulate(&s2, w2, 1, 50, &with_spec("eagle", 3, 0.7));
    let fusion = 2.0 * 4096.0 * 4096.0 * 2.0;
    // As `eval --eagle --tp 2` holds it (tests/whatif.rs): the matrices halve, the norm and
    // the fusion matrix stay whole.
    assert_eq!(
        r2.spec.as_ref().unwrap().draft_weights_bytes_per_chip,
        (503_324_672.0 - fusion - 8192.0) / 2.0 + 8192.0 + fusion
    );
    assert_eq!(x.draft_kv_bytes_per_token_per_chip, 4096.0);
    let budget = report.kv_budget_bytes_per_chip as f64;
    let share = (budget - 503_324_672.0) / budget * 131_072.0 / (131_072.0 + 4096.0);
    assert!((x.kv_pool_share - share).abs() < 1e-12);
    let pages = (report.kv_blocks_per_chip as f64 * share).floor();
    assert_eq!(r.kv_capacity_bytes_per_chip, pages * 16.0 * 131_072.0);
    assert!(r.kv_capacity_bytes_per_chip < plain.kv_capacity_bytes_per_chip);
    assert!(
        (r.littles_law_ratio - 1.0).abs() < 1e-6,
        "{}",
        r.littles_law_ratio
    );
    assert_eq!(r.completed, 200);
    // A model without next-n layers has no MTP drafter.
    let mut g = Generator::new(
        fixed(10, 10, Arrival::Poisson { rate: 1.0 }),
        "t",
        0,
        1,
        s.context,
    )
    .unwrap();
    let e = run(&s, &mut g, &with_spec("mtp", 1, 0.8)).unwrap_err();
    assert!(e.to_string().contains("MTP"), "{e}");
    // With --eagle the deployment's memory holds the head (its weights and its layer of KV in
    // the pool): the simulator counts it there once, so its pool is the evaluation's, whole.
    let mut spec = kvsim::scenario::knobs::Spec::new("llama-3.1-8b", "h100-sxm");
    spec.context = 8192;
    spec.eagle = true;
    let se = spec.load().unwrap();
    let re = evaluate(&se).unwrap();
    assert_eq!(re.kv_bytes_per_token_per_chip, 131_072 + 4096);
    let w = fixed(500, 50, Arrival::Poisson { rate: 4.0 });
    let r = simulate(&se, w, 1, 200, &with_spec("eagle", 3, 0.7));
    let x = r.spec.as_ref().unwrap();
    assert_eq!(x.kv_pool_share, 1.0);
    assert_eq!(
        r.kv_capacity_bytes_per_chip,
        re.kv_blocks_per_chip as f64 * 16.0 * 135_168.0
    );
    let e = run(&se, &mut g, &with_spec("mtp", 1, 0.8)).unwrap_err();
    assert!(e.to_string().contains("--eagle"), "{e}");
}

// P/D transfer by hand: one request of 1000 prompt and 10 output tokens, llama-3.1-8b (128 KiB
// of KV a token) on H100s, 1P1D over 50 GB/s a chip. Its KV is 1000 × 131,072 B; at TP 1 it
// crosses in 131,072,000 / 50e9 = 2.62144 ms, and the decode copy's first step (the last prompt
// token after 999 cached) emits the first token: TTFT = prefill step + 2.62144 ms + that step.
// At TP 2 each chip sends half: the same bytes in all, half the time.
#[test]
fn disagg_transfer_by_hand() {
    for tp in [1u64, 2] {
        let mut s = scenario(4096);
        s.deployment.tp = tp;
        let report = evaluate(&s).unwrap();
        let (cost, _) = StepCost::new(&s, &report).unwrap();
        let prefill = cost.step(std::iter::once(Work {
            cached: 0,
            new: 1000,
        }));
        let first = cost.step(std::iter::once(Work {
            cached: 999,
            new: 1,
        }));
        let o = Options {
            disagg: Some((1, 1)),
            ..Options::default()
        };
        let r = simulate(
            &s,
            fixed(1000, 10, Arrival::Poisson { rate: 1.0 }),
            0,
            1,
            &o,
        );
        let d = r.disagg.unwrap();
        assert_eq!(d.transfers, 1);
        assert_eq!(d.kv_transfer_bytes, 131_072_000.0);
        let secs = 131_072_000.0 / 50e9 / tp as f64;
        assert!(
            (d.mean_transfer_s - secs).abs() < 1e-15,
            "{}",
            d.mean_transfer_s
        );
        assert!(
            (r.ttft_s.mean - prefill - secs - first).abs() < 1e-12,
            "tp {tp}: {} vs {prefill} + {secs} + {first}",
            r.ttft_s.mean
        );
        assert_eq!(r.chips, 2.0 * tp as f64);
        assert_eq!(r.completed, 1);
    }
}

// Disaggregated runs keep the books: deterministic, every request completed or dropped, and
// Little's law with the time in transit inside each request's latency.
#[test]
fn disagg_littles_law() {
    let s = scenario(16 * 1024);
    let mut w = profile("chat").unwrap();
    w.arrival = Arrival::Poisson { rate: 12.0 };
    let o = Options {
        disagg: Some((1, 2)),
        ..Options::default()
    };
    let a = simulate(&s, w.clone(), 4, 1500, &o);
    assert_eq!(a, simulate(&s, w, 4, 1500, &o));
    assert_eq!(a.completed + a.dropped, a.requests);
    assert!(
        (a.littles_law_ratio - 1.0).abs() < 1e-6,
        "{}",
        a.littles_law_ratio
    );
    let d = a.disagg.unwrap();
    assert!(d.transfers > 1000, "{d:?}");
    assert_eq!(a.replicas, 3);
}

// A series capped at 50 points spans the whole run at a doubled interval, and its samples are
// the full series' samples at the same times (downsampling drops, never alters).
#[test]
fn series_downsamples_to_its_cap() {
    let s = scenario(8192);
    let mut w = profile("chat").unwrap();
    w.arrival = Arrival::Poisson { rate: 8.0 };
    let full = Options {
        series_interval: Some(0.05),
        ..Options::default()
    };
    let capped = Options {
        series_points: 50,
        ..full.clone()
    };
    let a = simulate(&s, w.clone(), 2, 600, &full);
    let b = simulate(&s, w, 2, 600, &capped);
    assert!(a.series.len() > 200, "{}", a.series.len());
    assert!(
        b.series.len() <= 50 && b.series.len() >= 25,
        "{}",
        b.series.len()
    );
    let step = b.series_interval_s.unwrap();
    let ratio = step / 0.05;
    assert!(
        (ratio.log2() - ratio.log2().round()).abs() < 1e-9 && ratio >= 4.0,
        "{step}"
    );
    assert!(b.series.last().unwrap().t_s + step > b.duration_s);
    for x in &b.series {
        let i = (x.t_s / 0.05).round() as usize;
        assert_eq!(a.series[i], *x);
    }
    // The rest of the summary does not depend on sampling.
    assert_eq!(a.e2e_s, b.e2e_s);
}

// Without a prefix cache, preempted requests are swapped to the tier and back instead of being
// recomputed: every swap out comes back in, and the bytes each way match.
#[test]
fn offload_swaps_preempted_requests() {
    let mut s = scenario(16 * 1024);
    s.memory_fraction = Some(0.3);
    let w = fixed(6000, 400, Arrival::Poisson { rate: 3.0 });
    let recompute = Options {
        prefix_caching: false,
        ..Options::default()
    };
    let swap = Options {
        offload_bytes: Some(64.0 * 1_073_741_824.0),
        ..recompute.clone()
    };
    let a = simulate(&s, w.clone(), 9, 150, &recompute);
    let b = simulate(&s, w, 9, 150, &swap);
    assert!(a.preemptions > 0, "{}", a.preemptions);
    let off = b.offload.unwrap();
    assert!(off.swaps_out > 0, "{off:?}");
    assert_eq!(off.swaps_in, off.swaps_out);
    assert_eq!(off.bytes_in, off.bytes_out);
    assert_eq!(off.pages_stored, 0);
    assert!((b.littles_law_ratio - 1.0).abs() < 1e-6);
    assert_eq!(b.completed, 150);
    // Swapping back beats recomputing 6000-token prompts.
    assert!(
        b.e2e_s.mean < a.e2e_s.mean,
        "{} {}",
        b.e2e_s.mean,
        a.e2e_s.mean
    );
}
