//! A driver for instruction counts (`valgrind --tool=callgrind`), where wall-clock timings on a
//! shared machine mean little: runs the full `evaluate` (or, with `core`, `Prepared::core`) of one
//! catalog model on an H100 at 32k tokens N times, as benches/evaluate.rs does once per iteration.
//! Instructions per call are the difference of two runs over the difference of their N:
//!
//! ```text
//! cargo build --release --example evaluate_loop
//! valgrind --tool=callgrind target/release/examples/evaluate_loop deepseek-v3 full 1
//! valgrind --tool=callgrind target/release/examples/evaluate_loop deepseek-v3 full 1001
//! ```
use kvsim::catalog::{load_chip, load_model};
use kvsim::evaluate::{evaluate, Prepared};
use kvsim::scenario::Scenario;
use std::hint::black_box;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(model), Some(what), Some(n)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: evaluate_loop MODEL full|core N");
        std::process::exit(2);
    };
    let n: u64 = n.parse().expect("N: a count");
    let s = Scenario::new(
        load_model(model).expect("a catalog model"),
        load_chip("h100-sxm").expect("the h100-sxm chip"),
        32_768,
    );
    let mut sum = 0u64;
    match what.as_str() {
        "full" => {
            for _ in 0..n {
                sum += evaluate(black_box(&s))
                    .expect("an evaluation")
                    .kv_blocks_per_chip;
            }
        }
        "core" => {
            let p = Prepared::new(&s).expect("a prepared scenario");
            let mem = s.chip.memory_bytes().expect("a memory size").0;
            for _ in 0..n {
                sum += p
                    .core(black_box(mem), black_box(32_768))
                    .expect("core figures")
                    .capacity
                    .blocks;
            }
        }
        _ => {
            eprintln!("usage: evaluate_loop MODEL full|core N");
            std::process::exit(2);
        }
    }
    println!("{sum}");
}
