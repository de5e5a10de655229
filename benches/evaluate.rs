//! Evaluations per second: one scenario (full report, and the core memory figures), every catalog
//! model (alternating layer kinds included) and gpt-oss with 4,096 alternating layers, the
//! whole loadable catalog × every chip with a memory figure × 16 contexts × 3 KV formats, and
//! vLLM 0.5.1's replay of its profiling forward through the caching allocator.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
// `std::hint::black_box`, not criterion 0.5's stable one: that copies what a routine returns
// with a volatile read, element by element — about 9 ns for the core figures' 13 words and more
// for a report — so the routines keep their results here and return nothing.
use kvsim::catalog::{chip_ids, load_chip, load_model, load_model_with, model_ids};
use kvsim::evaluate::{evaluate, Prepared};
use kvsim::precision::KvFormat;
use kvsim::scenario::Scenario;
use rayon::prelude::*;
use std::hint::black_box;

const KVS: [KvFormat; 3] = [KvFormat::Bf16, KvFormat::Fp8, KvFormat::Nvfp4];

fn contexts() -> Vec<u64> {
    // 4k … 1M, two points per octave: 16 contexts.
    (0..16)
        .map(|i| (4096u64 << (i / 2)) + if i % 2 == 1 { 2048 << (i / 2) } else { 0 })
        .collect()
}

fn single(c: &mut Criterion) {
    let s = Scenario::new(
        load_model("deepseek-v3").unwrap(),
        load_chip("h100-sxm").unwrap(),
        32_768,
    );
    let mut g = c.benchmark_group("single");
    g.throughput(Throughput::Elements(1));
    g.bench_function("evaluate (full report)", |b| {
        b.iter(|| {
            black_box(&evaluate(black_box(&s)));
        })
    });
    let p = Prepared::new(&s).unwrap();
    let mem = s.chip.memory_bytes().unwrap().0;
    g.bench_function("core memory figures", |b| {
        b.iter(|| {
            black_box(&p.core(black_box(mem), black_box(32_768)));
        })
    });
    // The same out-of-line call, which computes and writes all 13 words of the result, one field
    // kept: the line above less the cost of keeping the whole result.
    g.bench_function("core memory figures, sessions only", |b| {
        b.iter(|| {
            p.core(black_box(mem), black_box(32_768))
                .unwrap()
                .sessions_per_deployment
        })
    });
    g.finish();
}

/// Full evaluate of every catalog model on one H100 at 32k tokens (TP 8 where one chip is too
/// small does not matter: the figures are computed either way).
fn per_model(c: &mut Criterion) {
    let mut g = c.benchmark_group("evaluate per model");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(300));
    g.measurement_time(std::time::Duration::from_millis(700));
    for id in model_ids() {
        let Ok(m) = load_model(id) else { continue };
        let s = Scenario::new(m, load_chip("h100-sxm").unwrap(), 32_768);
        if evaluate(&s).is_err() {
            continue;
        }
        g.bench_function(id, |b| {
            b.iter(|| {
                black_box(&evaluate(black_box(&s)));
            })
        });
    }
    g.finish();
}

/// gpt-oss-120b with 4,096 layers alternating sliding-window and full attention: the cost of an
/// evaluation must not grow with the depth.
fn deep_alternating(c: &mut Criterion) {
    let types: Vec<&str> = (0..4096)
        .map(|i| {
            if i % 2 == 0 {
                "sliding_attention"
            } else {
                "full_attention"
            }
        })
        .collect();
    let m = load_model_with(
        "gpt-oss-120b",
        &[
            ("num_hidden_layers".into(), 4096.into()),
            ("layer_types".into(), serde_json::json!(types)),
        ],
    )
    .unwrap();
    let mut s = Scenario::new(m, load_chip("h100-sxm").unwrap(), 32_768);
    s.overrides.total_memory = Some(1 << 50);
    let mut g = c.benchmark_group("4096 alternating layers");
    g.sample_size(20);
    g.bench_function("evaluate (full report)", |b| {
        b.iter(|| {
            black_box(&evaluate(black_box(&s)));
        })
    });
    let p = Prepared::new(&s).unwrap();
    g.bench_function("core memory figures", |b| {
        b.iter(|| {
            black_box(&p.core(black_box(1 << 50), black_box(32_768)));
        })
    });
    g.finish();
}

fn catalog_grid(c: &mut Criterion) {
    let models: Vec<_> = model_ids().filter_map(|id| load_model(id).ok()).collect();
    let chips: Vec<_> = chip_ids()
        .filter_map(|id| load_chip(id).ok())
        .filter(|c| c.memory_bytes().is_some())
        .collect();
    let ctx = contexts();
    let points = (models.len() * chips.len() * ctx.len() * KVS.len()) as u64;

    // Core figures: prepared once per model, KV format and block size; every chip and context is
    // then a budget and a capacity computation.
    let prepared: Vec<(Prepared, Prepared)> = models
        .iter()
        .flat_map(|m| {
            KVS.iter().map(move |&kv| {
                let mut s = Scenario::new(m.clone(), load_chip("h100-sxm").unwrap(), 4096);
                s.plan.kv = kv;
                let p16 = Prepared::new(&s).unwrap();
                s.block_size = Some(128);
                (p16, Prepared::new(&s).unwrap())
            })
        })
        .collect();
    let chip_mem: Vec<(u64, bool)> = chips
        .iter()
        .map(|c| (c.memory_bytes().unwrap().0, c.block_size() == 128))
        .collect();
    let mut g = c.benchmark_group("catalog sweep");
    g.throughput(Throughput::Elements(points));
    g.sample_size(20);
    g.bench_function(format!("core figures, {points} points, rayon"), |b| {
        b.iter(|| {
            prepared
                .par_iter()
                .map(|(p16, p128)| {
                    let mut n = 0u64;
                    for &(mem, ascend) in &chip_mem {
                        let p = if ascend { p128 } else { p16 };
                        for &c in &ctx {
                            n += p.core(mem, c).map_or(0, |x| x.sessions_per_deployment);
                        }
                    }
                    n
                })
                .sum::<u64>()
        })
    });

    let mut scenarios: Vec<Scenario> = Vec::with_capacity(points as usize);
    for m in &models {
        for ch in &chips {
            for &c in &ctx {
                for &kv in &KVS {
                    let mut s = Scenario::new(m.clone(), ch.clone(), c);
                    s.plan.kv = kv;
                    scenarios.push(s);
                }
            }
        }
    }
    g.sample_size(10);
    g.bench_function(format!("full reports, {points} points, rayon"), |b| {
        b.iter(|| {
            scenarios
                .par_iter()
                .filter_map(|s| evaluate(s).ok())
                .map(|r| r.sessions_per_chip)
                .sum::<f64>()
        })
    });
    g.finish();
}

/// vLLM V0 up to 0.6.3 replays its eager profiling forward through the caching allocator at
/// every preparation (and, as the batch follows the context, at every context): DeepSeek-V2-Lite
/// at TP2 on an L40S at 163,840 tokens, the corpus's L40 log.
fn v0_reserved_forward(c: &mut Criterion) {
    let mut s = Scenario::new(
        load_model("deepseek-v2-lite").unwrap(),
        load_chip("l40s").unwrap(),
        163_840,
    );
    s.deployment.tp = 2;
    s.deployment.engine = kvsim::engine::Engine::vllm(5, 1);
    let mut g = c.benchmark_group("vllm 0.5.1 reserved forward");
    g.bench_function("evaluate (full report)", |b| {
        b.iter(|| {
            black_box(evaluate(black_box(&s)).unwrap());
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    single,
    per_model,
    deep_alternating,
    catalog_grid,
    v0_reserved_forward
);
criterion_main!(benches);
