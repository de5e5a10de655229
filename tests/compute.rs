//! FLOPs, bytes moved and roofline speed against hand-computed figures.
use kvsim::catalog::{load_chip, load_model};
use kvsim::compute::{experts_touched, flops_per_token_decode, flops_prefill};
use kvsim::evaluate::evaluate;
use kvsim::precision::WeightFormat;
use kvsim::scenario::Scenario;

// Llama-3.1-8B at 8,192 tokens: 2 × (8,030,261,248 − 525,336,576 embedding − 266,240 norm weights)
// = 15,009,316,864 matmul FLOPs (lm_head included, lookup free) + attention 32 layers ×
// 2 · 32 heads · (128 + 128) · 8192 = 4,294,967,296.
#[test]
fn llama_8b_decode_flops_at_8k() {
    let m = load_model("llama-3.1-8b").unwrap();
    assert_eq!(
        flops_per_token_decode(&m, 8192),
        15_009_316_864.0 + 4_294_967_296.0
    );
    // ≈ 2 × params + attention term.
    let two_p = 2.0 * 8_030_261_248.0;
    assert!((flops_per_token_decode(&m, 1) / two_p - 0.935).abs() < 0.001);
}

// Causal prefill of p tokens: matmuls × p + Σ_i attention(i) = 32 · 2·32·256 · p(p+1)/2.
#[test]
fn llama_8b_prefill_flops() {
    let m = load_model("llama-3.1-8b").unwrap();
    let p = 1024.0;
    let expected = 15_009_316_864.0 * p + 32.0 * 16384.0 * p * (p + 1.0) / 2.0;
    assert_eq!(flops_prefill(&m, 1024), expected);
}

// DeepSeek-V3 decode uses active parameters: 2 × (37,552,282,624 active − 926,679,040 embedding −
// 1,006,592 norm weights) = 73,249,193,984, plus absorbed MLA attention 61 × 2·128·(2·512 + 64)·c.
#[test]
fn deepseek_v3_decode_flops_use_active_params() {
    let m = load_model("deepseek-v3").unwrap();
    let c = 32768.0;
    assert_eq!(
        flops_per_token_decode(&m, 32768),
        73_249_193_984.0 + 61.0 * 2.0 * 128.0 * 1088.0 * c
    );
}

#[test]
fn experts_touched_under_uniform_routing() {
    assert!((experts_touched(256, 8, 1.0) - 8.0 / 256.0).abs() < 1e-12);
    // 64 tokens × top-8 over 256 experts: 1 − (31/32)^64 = 0.868916.
    assert!((experts_touched(256, 8, 64.0) - 0.868916).abs() < 1e-6);
    assert!(experts_touched(256, 8, 10_000.0) > 0.999_999);
}

// One session of Llama-3.1-8B on one H100 is memory-bound: the step reads 16,060,522,496 B of
// weights + 8,192 × 131,072 B of KV + one 131,072 B record at 85% of 3.35 TB/s.
#[test]
fn single_session_roofline() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.batch = Some(1);
    s.price_per_hour = Some(3.0);
    let r = evaluate(&s).unwrap();
    let sp = r.speed.unwrap();
    let bytes = 16_060_522_496.0 + 8192.0 * 131_072.0 + 131_072.0;
    assert_eq!(sp.bytes_per_decode_step, bytes);
    assert_eq!(sp.decode_bound, "memory");
    let step = bytes / (3.35e12 * 0.85);
    assert!((sp.decode_step_seconds - step).abs() < 1e-12);
    assert!((sp.tokens_per_second_per_chip - 1.0 / step).abs() < 1e-9);
    assert!((sp.usd_per_million_tokens.unwrap() - 3.0 / 3600.0 * step * 1e6).abs() < 1e-9);
    assert!((sp.joules_per_token.unwrap() - 700.0 * step).abs() < 1e-9);
}

// A format the chip lacks runs at the next supported one, and the output says so.
#[test]
fn format_fallbacks_are_stated() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.plan.set_linear(WeightFormat::Nvfp4);
    let sp = evaluate(&s).unwrap().speed.unwrap();
    assert!(
        sp.compute_formats
            .iter()
            .any(|f| f.contains("fp4 runs at the fp8 rate on h100-sxm")),
        "{:?}",
        sp.compute_formats
    );
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("a100-sxm").unwrap(),
        8192,
    );
    s.plan.set_linear(WeightFormat::Fp8);
    let sp = evaluate(&s).unwrap().speed.unwrap();
    assert!(
        sp.compute_formats
            .iter()
            .any(|f| f.contains("fp8 runs at the bf16 rate on a100-sxm")),
        "{:?}",
        sp.compute_formats
    );
}

// The acceptance scenario: DeepSeek-V3, 32k, batch 64 on H100 and Ascend 950PR (16 chips,
// TP8 × PP2): same bytes per chip, the 950PR's 1.6 TB/s against the H100's 3.35 TB/s decides.
#[test]
fn deepseek_v3_h100_vs_950pr() {
    let run = |chip: &str| {
        let mut s = Scenario::new(
            load_model("deepseek-v3").unwrap(),
            load_chip(chip).unwrap(),
            32768,
        );
        s.deployment.tp = 8;
        s.deployment.pp = 2;
        s.batch = Some(64);
        s.price_per_hour = Some(2.5);
        evaluate(&s).unwrap().speed.unwrap()
    };
    let (h, a) = (run("h100-sxm"), run("ascend-950pr"));
    assert_eq!(h.decode_bound, "memory");
    assert_eq!(a.decode_bound, "memory");
    assert_eq!(h.bytes_per_decode_step, a.bytes_per_decode_step);
    assert!(
        (h.tokens_per_second_per_chip / a.tokens_per_second_per_chip - 3.35 / 1.6).abs() < 1e-9
    );
    assert!(a.usd_per_million_tokens.unwrap() > h.usd_per_million_tokens.unwrap());
}

#[test]
fn v4_flops_claims() {
    // Plain FLOPs, then FP8-equivalent (FP4 experts and indexer at half an FP8 FLOP).
    let c = kvsim::claims::v4_flops_claims().unwrap();
    let got: Vec<(&str, f64)> = c.iter().map(|c| (c.id, c.kvsim)).collect();
    assert_eq!(
        got,
        [
            ("v4-flops-at-1m", 26.0),
            ("v4-flops-at-1m-fp8-equivalent", 24.4),
            ("v4-flops-at-1m", 12.1),
            ("v4-flops-at-1m-fp8-equivalent", 9.4)
        ]
    );
}

// The roofline's rates are remembered per chip and plan (src/compute.rs, `rates`): a chip or plan
// edited after an evaluation is rated afresh. Halving the H100's BF16 peak doubles a BF16 model's
// compute time exactly (every matmul and the attention run at 1 / (peak · efficiency)); dropping
// its FP8 figure makes an FP8 plan fall back to BF16, and the format line says so.
#[test]
fn edited_chips_and_plans_are_rated_afresh() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.batch = Some(1);
    let before = evaluate(&s).unwrap().speed.unwrap();
    let bf16 = s.chip.dense_tflops["bf16"];
    s.chip.dense_tflops.insert("bf16".into(), bf16 / 2.0);
    let after = evaluate(&s).unwrap().speed.unwrap();
    assert_eq!(
        after.compute_seconds_per_step,
        2.0 * before.compute_seconds_per_step
    );
    s.chip.dense_tflops.insert("bf16".into(), bf16);
    assert_eq!(evaluate(&s).unwrap().speed.unwrap(), before);

    s.plan.set_linear(WeightFormat::Fp8);
    let fp8 = evaluate(&s).unwrap().speed.unwrap();
    assert!(fp8.compute_formats.iter().any(|f| f == "attention: fp8"));
    s.chip.dense_tflops.remove("fp8");
    let fallback = evaluate(&s).unwrap().speed.unwrap();
    assert!(
        fallback
            .compute_formats
            .iter()
            .any(|f| f.contains("fp8 runs at the bf16 rate on h100-sxm")),
        "{:?}",
        fallback.compute_formats
    );
    assert!(fallback.compute_seconds_per_step > fp8.compute_seconds_per_step);
}
