//! Evaluations per second: one scenario, and the whole loadable catalog × all chips × contexts × KV formats.
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use kvsim::catalog::{chip_ids, load_chip, load_model, model_ids};
use kvsim::memory::{evaluate, Scenario};
use kvsim::precision::KvFormat;

fn single(c: &mut Criterion) {
    let s = Scenario::new(
        load_model("deepseek-v3").unwrap(),
        load_chip("h100-sxm").unwrap(),
        32_768,
    );
    let mut g = c.benchmark_group("evaluate");
    g.throughput(Throughput::Elements(1));
    g.bench_function("deepseek-v3/h100/32k", |b| {
        b.iter(|| evaluate(black_box(&s)).unwrap())
    });
    g.finish();
}

fn catalog_grid(c: &mut Criterion) {
    let models: Vec<_> = model_ids().filter_map(|id| load_model(id).ok()).collect();
    let chips: Vec<_> = chip_ids()
        .filter_map(|id| load_chip(id).ok())
        .filter(|c| c.memory_bytes().is_some())
        .collect();
    let contexts: Vec<u64> = (0..16)
        .map(|i| 4096u64 << (i / 2) | if i % 2 == 1 { 2048 << (i / 2) } else { 0 })
        .collect();
    let kvs = [KvFormat::Bf16, KvFormat::Fp8, KvFormat::Nvfp4];
    let mut scenarios = Vec::new();
    for m in &models {
        for ch in &chips {
            for &ctx in &contexts {
                for &kv in &kvs {
                    let mut s = Scenario::new(m.clone(), ch.clone(), ctx);
                    s.plan.kv = kv;
                    scenarios.push(s);
                }
            }
        }
    }
    let mut g = c.benchmark_group("sweep");
    g.throughput(Throughput::Elements(scenarios.len() as u64));
    g.sample_size(10);
    g.bench_function("catalog x chips x 16 contexts x 3 kv", |b| {
        b.iter(|| {
            scenarios
                .iter()
                .filter_map(|s| evaluate(s).ok())
                .map(|r| r.sessions_per_chip)
                .sum::<u64>()
        })
    });
    g.finish();
}

criterion_group!(benches, single, catalog_grid);
criterion_main!(benches);
