//! Simulation speed: a 10,000-request trace on one replica (target < 1 s on one core) and a
//! 1,000,000-request run on a fleet of 16 replicas (target < 60 s).
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kvsim::catalog::{load_chip, load_model};
use kvsim::scenario::Scenario;
use kvsim::simulate::trace::Trace;
use kvsim::simulate::workload::{profile, Arrival, Generator};
use kvsim::simulate::{run, Options};
use rand::{RngExt, SeedableRng};

fn scenario() -> Scenario {
    Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        32 * 1024,
    )
}

/// A CSV trace of `n` chat-like requests at 15 per second, generated in memory.
fn trace_text(n: usize) -> String {
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
    let mut t = 0.0;
    let mut out = String::from("arrival_s,prompt_tokens,output_tokens\n");
    for _ in 0..n {
        t += -(1.0 - rng.random::<f64>()).ln() / 15.0;
        let p = 100 + rng.random_range(0..4000u64);
        let o = 10 + rng.random_range(0..400u64);
        out += &format!("{t:.4},{p},{o}\n");
    }
    out
}

fn one_replica(c: &mut Criterion) {
    let s = scenario();
    let text = trace_text(10_000);
    let mut g = c.benchmark_group("simulate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("10k-request trace, one replica", |b| {
        b.iter(|| {
            let mut t = Trace::from_reader(
                "bench",
                Box::new(std::io::Cursor::new(text.clone())),
                u64::MAX,
                s.context,
            );
            let r = run(&s, &mut t, &Options::default()).unwrap();
            assert_eq!(r.completed, 10_000);
        })
    });
    g.finish();
}

fn fleet(c: &mut Criterion) {
    let s = scenario();
    let mut w = profile("chat").unwrap();
    w.arrival = Arrival::Poisson { rate: 200.0 };
    let mut g = c.benchmark_group("simulate-fleet");
    g.sample_size(10);
    g.measurement_time(std::time::Duration::from_secs(60));
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("1M-request chat, 16 replicas", |b| {
        b.iter(|| {
            let mut gen = Generator::new(w.clone(), "chat", 1, 1_000_000, s.context).unwrap();
            let o = Options {
                replicas: 16,
                ..Options::default()
            };
            let r = run(&s, &mut gen, &o).unwrap();
            assert_eq!(r.completed + r.dropped, 1_000_000);
        })
    });
    g.finish();
}

criterion_group!(benches, one_replica, fleet);
criterion_main!(benches);
