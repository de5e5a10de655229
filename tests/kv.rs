//! KV bytes per token and sessions per chip against figures computed by hand from the configs.
use kvsim::catalog::{load_chip, load_model};
use kvsim::engine::Engine;
use kvsim::evaluate::evaluate;
use kvsim::precision::KvFormat;
use kvsim::scenario::Scenario;

fn kv_per_token(id: &str, kv: KvFormat) -> u64 {
    load_model(id)
        .unwrap()
        .kv_bytes_per_token(kv, 1, false)
        .unwrap()
}

// docs/facts.md §1: DeepSeek-V3 BF16 = 61 layers · (512 + 64) · 2 B = 70,272 B/token;
// vLLM fp8_ds_mla = 61 · 656 = 40,016 B/token.
#[test]
fn deepseek_v3_mla_record() {
    assert_eq!(kv_per_token("deepseek-v3", KvFormat::Bf16), 70_272);
    assert_eq!(kv_per_token("deepseek-v3", KvFormat::Fp8DsMla), 40_016);
    assert_eq!(kv_per_token("deepseek-v3", KvFormat::Fp8), 35_136);
}

// GQA: layers · 2 · kv_heads · head_dim · 2 B.
#[test]
fn gqa_records_from_configs() {
    // Llama-3.1-8B: 32 · 2 · 8 · 128 · 2 = 131,072.
    assert_eq!(kv_per_token("llama-3.1-8b", KvFormat::Bf16), 131_072);
    // Llama-3.1-70B: 80 · 2 · 8 · 128 · 2 = 327,680.
    assert_eq!(kv_per_token("llama-3.1-70b", KvFormat::Bf16), 327_680);
    // Qwen3-235B-A22B: 94 layers, 4 KV heads, explicit head_dim 128: 94 · 2 · 4 · 128 · 2 = 192,512.
    assert_eq!(kv_per_token("qwen3-235b-a22b", KvFormat::Bf16), 192_512);
    // DeepSeek-LLM-67B (GQA 8 KV heads, 95 layers): 95 · 4096 = 389,120.
    assert_eq!(kv_per_token("deepseek-llm-67b", KvFormat::Bf16), 389_120);
    // Kimi-K2 is MLA with 61 layers: same 70,272 as DeepSeek-V3 although it has 64 heads.
    assert_eq!(kv_per_token("kimi-k2", KvFormat::Bf16), 70_272);
}

// MTP draft layer holds KV too: 62 layers · 1152 B.
#[test]
fn mtp_layer_adds_kv() {
    let m = load_model("deepseek-v3").unwrap();
    assert_eq!(
        m.kv_bytes_per_token(KvFormat::Bf16, 1, true).unwrap(),
        62 * 1152
    );
}

// kvsim issue #3 worked example (vLLM 0.19, one H100 reporting 79.19 GiB, utilisation 0.95, block 16,
// Llama-3.1-8B BF16, max_model_len 8192, weights 14.99 GiB, activation 1.89 GiB, non-torch 0.25 GiB):
// budget = 0.95 · 79.19 − 17.13 = 58.1005 GiB → 29,747 blocks of 2 MiB (16 tokens · 131,072 B)
// → 475,952 tokens, 58.10× concurrency at 512 blocks per request. vLLM logged 476,016 tokens and
// 58.11×: its inputs were the unrounded GiB values behind the two-decimal log lines.
#[test]
fn llama_8b_h100_worked_example() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.memory_fraction = Some(0.95);
    s.deployment.engine = Engine::vllm(19, 0);
    let gib = |g: f64| (g * 1073741824.0f64).round() as u64;
    s.overrides.weights = Some(gib(14.99));
    s.overrides.activation = Some(gib(1.89));
    s.overrides.non_torch = Some(gib(0.25));
    let r = evaluate(&s).unwrap();
    assert_eq!(r.blocks_per_session, 512);
    assert_eq!(r.kv_blocks_per_chip, 29_747);
    assert_eq!(r.kv_capacity_tokens_per_chip, 475_952);
    assert!(
        (r.max_concurrency - 58.100).abs() < 0.001,
        "{}",
        r.max_concurrency
    );
    assert_eq!(r.sessions_per_chip, 58.0);
    assert!((r.kv_budget_bytes_per_chip as f64 / 1073741824.0 - 58.1005).abs() < 1e-6);
}

// Without measured overheads kvsim estimates them; on the worked example its estimate
// (weights 14.99 GiB as logged: 14.96 GiB of parameters and the 131,072 × 128 × 2 B = 33,554,432 B
// rope table, src/engine/position_tables.rs; activation 1.79 GiB, non-torch 0.25 GiB) lands within
// 0.15 GiB of vLLM.
// The activation peak is the sampler's (vLLM 0.19 on CUDA, docs/facts.md §4): 1024 sequences ×
// 128,256 logits × 14 B = 1,838,678,016 B, plus the hidden states still held, (8192 + 2 · 1024) ·
// 4096 · 2 B = 83,886,080 B, plus the Triton top-k/top-p kernel's scratch rows, one per program on
// the H100's 132 SMs: 132 · 128,256 · 4 B = 67,719,168 B: 1,990,283,264 B = 1.85 GiB; the forward
// pass's 8192 · 114,688 B = 0.88 GiB is smaller. The log says 1.89 GiB.
#[test]
fn llama_8b_h100_estimates_are_close_to_the_log() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.memory_fraction = Some(0.95);
    s.deployment.engine = Engine::vllm(19, 0);
    let r = evaluate(&s).unwrap();
    assert_eq!(r.weights_bytes_per_chip, 16_060_522_496 + 33_554_432);
    assert_eq!(r.activation_bytes_per_chip, 1_990_283_264);
    let budget_gib = r.kv_budget_bytes_per_chip as f64 / 1073741824.0;
    assert!((budget_gib - 58.11).abs() < 0.15, "{budget_gib}");
}

// Sessions hold whole blocks: a 1,000-token session takes 63 blocks of 16.
#[test]
fn sessions_round_up_to_blocks() {
    let s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h200").unwrap(),
        1000,
    );
    let r = evaluate(&s).unwrap();
    assert_eq!(r.blocks_per_session, 63);
    assert_eq!(r.kv_bytes_per_session_per_chip, 63 * 16 * 131_072);
    assert_eq!(r.sessions_per_chip, (r.kv_blocks_per_chip / 63) as f64);
}

// Ascend chips default to block 128 (vLLM-Ascend with prefix caching).
#[test]
fn ascend_block_size() {
    let s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("ascend-910c").unwrap(),
        32768,
    );
    assert_eq!(evaluate(&s).unwrap().block_size, 128);
}

// vLLM V0 runs its sampler on the driver of the last pipeline stage only and sizes every cache by
// the fewest-block worker (`ExecutorBase.determine_num_available_blocks` @ v0.8.3). Llama-3.1-70B
// at TP4 × PP2 and 131,072 tokens on A100s (V0: 256 sequences, chunked prefill of 2048 tokens,
// sessions of 5 GiB): the last stage, whose activation peak is the sampler's 256 · 128,256 · 38 B
// + 2048 · 8192 · 2 B = 1,281,228,800 B (docs/facts.md §4) against the first stage's 0.15 GiB,
// binds, also where both hold the same whole sessions.
#[test]
fn vllm_v0_binds_on_the_sampling_stage() {
    let mut s = Scenario::new(
        load_model("llama-3.1-70b").unwrap(),
        load_chip("a100-sxm").unwrap(),
        131_072,
    );
    s.deployment.engine = Engine::vllm(7, 4);
    s.deployment.tp = 4;
    s.deployment.pp = 2;
    // The A100-SXM4-40GB of the corpus log (39.49 GiB): 3 whole sessions on either stage.
    s.overrides.total_memory = Some((39.49 * 1073741824.0f64).round() as u64);
    let r = evaluate(&s).unwrap();
    assert_eq!(r.sessions_per_replica, 3);
    assert_eq!(r.binding_stage, 1);
    assert_eq!(r.activation_bytes_per_chip, 1_281_228_800);
}
