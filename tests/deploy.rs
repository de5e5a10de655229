//! Deployments and engine budgets against hand-computed figures (docs/facts.md §2–§4).
use kvsim::catalog::{load_chip, load_model};
use kvsim::deploy::Deployment;
use kvsim::engine::Engine;
use kvsim::evaluate::{evaluate, Report};
use kvsim::precision::{KvFormat, TensorGroup};
use kvsim::scenario::Scenario;

const GIB: f64 = 1073741824.0;

fn gib(g: f64) -> u64 {
    (g * GIB).round() as u64
}

fn run(model: &str, chip: &str, context: u64, d: Deployment) -> Report {
    let mut s = Scenario::new(
        load_model(model).unwrap(),
        load_chip(chip).unwrap(),
        context,
    );
    s.deployment = d;
    evaluate(&s).unwrap()
}

fn tp(n: u64) -> Deployment {
    Deployment {
        tp: n,
        ..Deployment::default()
    }
}

// kvsim issue #3 worked example: vLLM 0.19 on one H100 logged "GPU KV cache size: 476,016 tokens"
// and "Maximum concurrency for 8,192 tokens per request: 58.11x" with weights 14.99 GiB, activation
// 1.89 GiB, non-torch 0.25 GiB (each rounded to 0.01 GiB in the log) and total 79.19 GiB.
// kvsim gives 475,952 tokens / 58.10× from the rounded inputs; the logged figures lie inside the
// range the ±0.005 GiB rounding of the four inputs allows.
#[test]
fn worked_example_within_input_rounding() {
    let eval = |total: f64, w: f64, a: f64, n: f64| {
        let mut s = Scenario::new(
            load_model("llama-3.1-8b").unwrap(),
            load_chip("h100-sxm").unwrap(),
            8192,
        );
        s.memory_fraction = Some(0.95);
        s.deployment.engine = Engine::vllm(19, 0);
        s.overrides = kvsim::scenario::Overrides {
            total_memory: Some(gib(total)),
            weights: Some(gib(w)),
            activation: Some(gib(a)),
            non_torch: Some(gib(n)),
            ..Default::default()
        };
        evaluate(&s).unwrap()
    };
    let mid = eval(79.19, 14.99, 1.89, 0.25);
    assert_eq!(mid.kv_capacity_tokens_per_chip, 475_952);
    let lo = eval(79.185, 14.995, 1.895, 0.255);
    let hi = eval(79.195, 14.985, 1.885, 0.245);
    assert!(lo.kv_capacity_tokens_per_chip <= 476_016 && 476_016 <= hi.kv_capacity_tokens_per_chip);
    assert!(lo.max_concurrency <= 58.11 && 58.11 <= hi.max_concurrency);
    // The logged 58.11 GiB of available KV memory is inside the same range.
    let (l, h) = (
        lo.kv_budget_bytes_per_chip as f64 / GIB,
        hi.kv_budget_bytes_per_chip as f64 / GIB,
    );
    assert!(l <= 58.11 && 58.11 <= h, "{l} {h}");
}

// docs/facts.md §2: the MLA latent is replicated on every TP rank.
#[test]
fn mla_kv_per_chip_unchanged_by_tp() {
    for n in [1, 2, 4, 8] {
        let r = run("deepseek-v3", "h200", 32768, tp(n));
        assert_eq!(r.kv_bytes_per_token_per_chip, 70_272, "tp {n}");
    }
}

// Llama-3.1-70B, 8 KV heads: 327,680 → 163,840 → 81,920 → 40,960 B/token per chip, then flat.
#[test]
fn gqa_kv_per_chip_halves_until_tp_reaches_kv_heads() {
    let per: Vec<u64> = [1, 2, 4, 8, 16]
        .iter()
        .map(|&n| {
            let m = load_model("llama-3.1-70b").unwrap();
            m.kv_bytes_per_token(KvFormat::Bf16, n, false).unwrap()
        })
        .collect();
    assert_eq!(per, vec![327_680, 163_840, 81_920, 40_960, 40_960]);
    assert_eq!(
        run("llama-3.1-70b", "h100-sxm", 8192, tp(8)).kv_bytes_per_token_per_chip,
        40_960
    );
}

// vLLM get_pp_indices: 61 layers over 4 stages = 15, 15, 16, 15 (the remainder goes to the stages
// before the last). Stage weights add up to the whole model's.
#[test]
fn pp_stages_sum_to_the_model() {
    let m = load_model("deepseek-v3").unwrap();
    let st = m.pp_stages(4);
    let sizes: Vec<u64> = st.iter().map(|s| s.end - s.start).collect();
    assert_eq!(sizes, vec![15, 15, 16, 15]);
    let plan = m.default_plan;
    let sum: u64 = st
        .iter()
        .map(|s| {
            m.stage_weight_bytes(s, &plan, &kvsim::model::Sharding::NONE, false)
                .unwrap()
                .total()
        })
        .sum();
    assert_eq!(sum, m.weight_bytes(&plan, false).unwrap().total());
    let kv: u64 = st
        .iter()
        .map(|s| {
            m.stage_kv_specs(s, KvFormat::Bf16, KvFormat::Bf16, 1, false)
                .unwrap()
                .iter()
                .map(|l| l.spec.record() * l.layers)
                .sum::<u64>()
        })
        .sum();
    assert_eq!(kv, 70_272);
    let q = load_model("qwen3-235b-a22b").unwrap(); // 94 layers: 23, 24, 24, 23
    let sizes: Vec<u64> = q.pp_stages(4).iter().map(|s| s.end - s.start).collect();
    assert_eq!(sizes, vec![23, 24, 24, 23]);
}

// DeepSeek-V3 on 8×H200, TP8: the latent is replicated, so sessions per deployment equal sessions
// per chip-group; DP-attention (SGLang, dp 8) gives each chip its own pool: 8 pools.
#[test]
fn deepseek_v3_on_8_h200() {
    let r = run("deepseek-v3", "h200", 32768, tp(8));
    assert_eq!(r.chips, 8);
    assert_eq!(r.kv_bytes_per_token_per_chip, 70_272);
    assert_eq!(r.sessions_per_deployment, r.sessions_per_replica);
    // FP8 experts sharded 8 ways: 654,068,416,512 B of routed experts / 8 (block scales split with them).
    assert_eq!(
        r.weights_by_group[TensorGroup::RoutedExperts],
        654_068_416_512 / 8
    );

    let dpa = Deployment {
        tp: 8,
        dp: 8,
        dp_attention: true,
        ep: 8,
        engine: Engine::SGLANG,
        ..Deployment::default()
    };
    let a = run("deepseek-v3", "h200", 32768, dpa);
    assert_eq!(a.chips, 8);
    assert_eq!(a.kv_bytes_per_token_per_chip, 70_272);
    // Attention is no longer split: every chip holds all of it.
    assert_eq!(a.weights_by_group[TensorGroup::Attention], 11_416_465_248);
    // SGLang 0.5.23 splits the input embedding over attention TP (8 / 8 = 1: whole,
    // 129,280 × 7,168 × 2 B = 1,853,358,080 B), the lm_head over TP8 (231,669,760 B)
    // (`vocab_parallel_embedding.py::get_embedding_tp_kwargs`, `deepseek_v2.py` @ v0.5.23).
    assert_eq!(
        a.weights_by_group[TensorGroup::Embeddings],
        1_853_358_080 + 231_669_760
    );
    assert_eq!(r.weights_by_group[TensorGroup::Embeddings], 2 * 231_669_760);
    // EP8: 32 whole experts per chip.
    assert_eq!(
        a.weights_by_group[TensorGroup::RoutedExperts],
        654_068_416_512 / 8
    );
    assert_eq!(a.sessions_per_deployment, 8 * a.sessions_per_replica);
    assert!(a.sessions_per_deployment > r.sessions_per_deployment);
}

// SGLang 0.5.23: kv = (free − weights) − free · (1 − mem_fraction_static), free = total − non-torch;
// max_total_num_tokens = kv // cell_size. Llama-3.1-8B BF16 on one H100 (79.19 GiB): fraction 0.829
// (see engine/sglang.rs), free = total − 268,435,456, weights 16,060,522,496 + the rope table SGLang
// keeps in FP32 on CUDA (131,072 × 128 × 4 B = 67,108,864; src/engine/position_tables.rs) + the
// free space of its allocator segments, which SGLang's before − after measurement counts (every
// matrix a whole 2 MiB of 10 MiB or more; 65 norms of 8,192 B in one 2 MiB small segment:
// 2,097,152 − 532,480 = 1,564,672; src/engine/allocator.rs), 131,072 B per token.
#[test]
fn sglang_max_total_num_tokens() {
    let r = run(
        "llama-3.1-8b",
        "h100-sxm",
        8192,
        Deployment {
            engine: Engine::SGLANG,
            ..Deployment::default()
        },
    );
    let total = (79.19 * GIB).round() as u64;
    let free = total - (1u64 << 28);
    let kv = free
        - 16_060_522_496
        - 67_108_864
        - 1_564_672
        - (free as f64 * (1.0 - 0.829)).ceil() as u64;
    assert_eq!(r.weight_segments_bytes_per_chip, 1_564_672);
    assert_eq!(r.memory_fraction, 0.829);
    assert_eq!(r.block_size, 1);
    assert_eq!(r.kv_budget_bytes_per_chip, kv);
    assert_eq!(r.kv_capacity_tokens_per_chip, kv / 131_072);
}

// TensorRT-LLM: 0.9 · (total − weights − activation − non-torch), blocks of 32 tokens.
#[test]
fn trtllm_budget() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.deployment.engine = Engine::TRTLLM;
    s.overrides.activation = Some(gib(1.0));
    s.overrides.non_torch = Some(gib(0.5));
    let r = evaluate(&s).unwrap();
    let free = gib(79.19) - 16_060_522_496 - gib(1.0) - gib(0.5);
    assert_eq!(
        r.kv_budget_bytes_per_chip,
        (free as f64 * 0.9).floor() as u64
    );
    assert_eq!(
        r.kv_blocks_per_chip,
        r.kv_budget_bytes_per_chip / (32 * 131_072)
    );
}

// Ideal: everything but the weights, no pages.
#[test]
fn ideal_is_the_physical_ceiling() {
    let r = run(
        "llama-3.1-8b",
        "h100-sxm",
        8192,
        Deployment {
            engine: Engine::IDEAL,
            ..Deployment::default()
        },
    );
    let budget = gib(79.19) - 16_060_522_496;
    assert_eq!(r.kv_budget_bytes_per_chip, budget);
    assert_eq!(r.kv_capacity_tokens_per_chip, budget / 131_072);
    let v = run("llama-3.1-8b", "h100-sxm", 8192, Deployment::default());
    assert!(r.sessions_per_chip > v.sessions_per_chip);
}

// vLLM 0.20+ also subtracts CUDA-graph memory (on by default from v0.20.0: `vllm/envs.py`,
// `gpu_worker.py::Worker.determine_available_memory`); 0.19 leaves it in the headroom.
#[test]
fn vllm_020_subtracts_cuda_graphs() {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("h100-sxm").unwrap(),
        8192,
    );
    s.overrides.cuda_graph = Some(gib(0.75));
    s.memory_fraction = Some(0.9);
    s.deployment.engine = Engine::vllm(19, 0);
    let old = evaluate(&s).unwrap();
    s.deployment.engine = Engine::vllm(20, 0);
    let new = evaluate(&s).unwrap();
    assert_eq!(
        old.kv_budget_bytes_per_chip - new.kv_budget_bytes_per_chip,
        gib(0.75)
    );
}

#[test]
fn invalid_layouts_are_refused() {
    let bad = |model: &str, d: Deployment, needle: &str| {
        let mut s = Scenario::new(load_model(model).unwrap(), load_chip("h200").unwrap(), 8192);
        s.deployment = d;
        let e = evaluate(&s).unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    };
    bad("llama-3.1-8b", tp(3), "num_attention_heads");
    bad(
        "llama-3.1-8b",
        Deployment {
            tp: 0,
            ..Deployment::default()
        },
        "tp",
    );
    bad(
        "mixtral-8x7b",
        Deployment {
            tp: 8,
            ep: 16,
            dp: 2,
            ..Deployment::default()
        },
        "number of experts",
    );
    bad(
        "llama-3.1-8b",
        Deployment {
            pp: 64,
            ..Deployment::default()
        },
        "number of layers",
    );
    bad(
        "deepseek-v3",
        Deployment {
            tp: 8,
            dp: 3,
            dp_attention: true,
            ..Deployment::default()
        },
        "divisor of tp",
    );
}

// Ascend 910C: two dies per chip, each its own 64 GB rank in vLLM-Ascend (npu-smi lists two
// 65536 MB chips per NPU: vllm-project/vllm-ascend issue 2035). With ranks_per_chip = 2, TP counts
// ranks: TP8 takes four 910C and each rank budgets from 64 GiB × 79.19/80 = 63.35 GiB.
#[test]
fn multi_rank_chip_tp_counts_ranks() {
    let mut chip = load_chip("ascend-910c").unwrap();
    chip.ranks_per_chip = Some(2);
    let at = |model: &str, ctx: u64, d: Deployment| {
        let mut s = Scenario::new(load_model(model).unwrap(), chip.clone(), ctx);
        s.deployment = d;
        evaluate(&s).unwrap()
    };
    let r = at("llama-3.1-70b", 32768, tp(8));
    assert_eq!(r.chips, 4);
    assert_eq!(
        r.total_memory_bytes_per_chip,
        (64.0 * GIB * 79.19 / 80.0).round() as u64
    );
    assert_eq!(r.sessions_per_chip, r.sessions_per_deployment as f64 / 4.0);
    // The same TP8 on one-rank chips takes eight.
    assert_eq!(run("llama-3.1-70b", "h100-sxm", 32768, tp(8)).chips, 8);
    // An odd number of ranks leaves half a chip idle, and says so.
    let r = at("llama-3.1-8b", 8192, tp(1));
    assert_eq!(r.chips, 1);
    assert!(
        r.warnings.iter().any(|w| w.contains("ranks per chip")),
        "{:?}",
        r.warnings
    );
}

fn on(model: &str, chip: &str, engine: Engine) -> Report {
    run(
        model,
        chip,
        8192,
        Deployment {
            engine,
            ..Deployment::default()
        },
    )
}

// vLLM's Marlin MXFP4 MoE kernel (Hopper before v0.12.0, every CUDA GPU below compute capability
// 9.0) rounds each expert's intermediate size up to a multiple of 128 and the hidden size to 256
// (`Mxfp4MoEMethod.create_weights`, vllm/model_executor/layers/quantization/mxfp4.py @ v0.10.1).
// gpt-oss-120b: hidden 2880 → 3072, intermediate 2880 → 2944, 128 experts × 36 layers; MXFP4 is
// half a byte per element plus one scale byte per 32, the biases BF16:
//   w13 5888 × 3072: 9,043,968 + 565,248 = 9,609,216 B;  w2 3072 × 2944: 4,521,984 + 282,624 = 4,804,608 B
//   biases (5888 + 3072) × 2 B = 17,920 B;  per expert 14,431,744 B;  × 4,608 = 66,501,476,352 B.
// Unpadded (vLLM's Triton kernel from v0.12.0 keeps 2880 here, a multiple of 64): 2880² × 3 / 2
// + 2880 × 90 × 3 + (5760 + 2880) × 2 = 12,441,600 + 777,600 + 17,280 = 13,236,480 B per expert.
#[test]
fn mxfp4_experts_padded_as_vllm_kernels_allocate_them() {
    let experts = |chip: &str, e: Engine| {
        on("gpt-oss-120b", chip, e).weights_by_group[TensorGroup::RoutedExperts]
    };
    assert_eq!(experts("h100-sxm", Engine::vllm(11, 0)), 66_501_476_352);
    assert_eq!(experts("a100-sxm", Engine::VLLM), 66_501_476_352);
    assert_eq!(experts("h100-sxm", Engine::vllm(12, 0)), 13_236_480 * 4608);
    // SGLang's kernels are not modelled: the checkpoint's shapes.
    assert_eq!(experts("h100-sxm", Engine::SGLANG), 13_236_480 * 4608);
    let r = on("gpt-oss-120b", "h100-sxm", Engine::vllm(11, 0));
    assert!(
        r.warnings.iter().any(|w| w.contains("Marlin")),
        "{:?}",
        r.warnings
    );
}

// Loaded weights against public logs: gpt-oss-120b on one H100 with vLLM of August 2025 (Marlin,
// torch 2.7.1): "Model loading took 65.9651 GiB" (github.com/vllm-project/vllm/issues/23278);
// gpt-oss-20b on an A100 80GB with vLLM 0.19.0: "Model loading took 13.72 GiB"
// (myoceane.fr/index.php/ai-vllm-a100-gemma-4/). kvsim's unpadded count was 60.77 GiB (−7.9%).
#[test]
fn mxfp4_loaded_weights_match_logs() {
    let w = |m: &str, c: &str, e: Engine| on(m, c, e).weights_bytes_per_chip as f64 / GIB;
    let err = |a: f64, b: f64| (a - b).abs() / b;
    assert!(err(w("gpt-oss-120b", "h100-sxm", Engine::vllm(10, 1)), 65.9651) < 0.002);
    assert!(err(w("gpt-oss-20b", "a100-sxm", Engine::vllm(19, 0)), 13.72) < 0.005);
}

// vLLM V0 batches max_model_len tokens in its profiling run (SchedulerConfig @ v0.6.3) and
// samples 256 sequences after the forward pass. The logs print 0.6.4's one-line memory summary,
// whose budget reads torch's allocated peak (0.6.3 and earlier charge what the allocator reserved,
// src/engine/eager_trace.rs): on one RTX 3090 (23.58 GiB as logged, util 0.90,
// non-torch 0.35 GiB as logged) Llama-3.1-8B logged activation peaks of 2.07 / 2.99 GiB and
// 31,232 / 23,648 KV tokens at max_model_len 20,000 / 29,000 (github.com/vllm-project/vllm/issues/10517).
// Hand estimate at 20,000: 20,000 × (2·4096 + 6144 + 3·14336) × 2 B = 2.14 GiB. The estimate runs
// 3–4% above the logged peaks; with the weights now as logged (14.989 GiB: parameters plus the
// 32 MiB rope table, src/engine/position_tables.rs; 14.9888 logged) that excess alone leaves
// 1.7% / 3.5% fewer KV tokens (30,688 / 22,816; kvsim's previous 2048-token, 1024-sequence
// default: +26% and +67% tokens with its own overheads).
#[test]
fn v0_profiling_batch_is_max_model_len() {
    for (context, act, tokens) in [(20_000, 2.07, 31_232.0), (29_000, 2.99, 23_648.0)] {
        let mut s = Scenario::new(
            load_model("llama-3.1-8b").unwrap(),
            load_chip("rtx-4090").unwrap(),
            context,
        );
        s.deployment.engine = Engine::vllm(6, 4);
        s.overrides.total_memory = Some(gib(23.58));
        s.overrides.non_torch = Some(gib(0.35));
        let r = evaluate(&s).unwrap();
        assert_eq!(r.max_num_batched_tokens, context);
        // 0.6.3 charges the forward's reserved segments: never less than the allocated peak.
        s.deployment.engine = Engine::vllm(6, 3);
        let reserved = evaluate(&s).unwrap().activation_bytes_per_chip;
        assert!(reserved >= r.activation_bytes_per_chip, "{context}");
        let a = r.activation_bytes_per_chip as f64 / GIB;
        assert!(
            (a - act).abs() / act < 0.04,
            "{context}: activation {a:.3} GiB vs {act}"
        );
        let t = r.kv_capacity_tokens_per_chip as f64;
        assert!(
            t < tokens && (t - tokens).abs() / tokens < 0.04,
            "{context}: {t} tokens vs {tokens}"
        );
    }
    assert_eq!(
        (20_000u64 * (2 * 4096 + 6144 + 3 * 14336) * 2) as f64 / GIB,
        2.13623046875
    );
}

// With V0 the batch follows the context, so a Prepared reused across contexts (fit's longest
// context search) must give what a fresh evaluation at that context gives.
#[test]
fn v0_prepared_follows_context() {
    // 0.7.3 (the allocated peak) and 0.5.1 (the replayed forward's reserved segments).
    for engine in [Engine::vllm(7, 3), Engine::vllm(5, 1)] {
        v0_prepared_follows_context_on(engine);
    }
}

fn v0_prepared_follows_context_on(engine: Engine) {
    let mut s = Scenario::new(
        load_model("llama-3.1-8b").unwrap(),
        load_chip("l40s").unwrap(),
        8192,
    );
    s.deployment.engine = engine;
    let p = kvsim::evaluate::Prepared::new(&s).unwrap();
    let mem = s.total_memory().unwrap();
    for context in [4096, 20_000, 32_768, 40_000] {
        let mut t = s.clone();
        t.context = context;
        let fresh = evaluate(&t).unwrap();
        let core = p.core(mem, context).unwrap();
        assert_eq!(
            core.capacity.capacity_tokens, fresh.kv_capacity_tokens_per_chip,
            "{context}"
        );
        assert_eq!(core.budget, fresh.kv_budget_bytes_per_chip, "{context}");
        // What a sweep does when only the context changes: the same report as a fresh evaluation.
        assert_eq!(p.report(&t).unwrap(), fresh, "{context}");
    }
}

// vLLM V0 up to 0.6.3 charges what the caching allocator reserved over the profiling run: the
// replayed forward of DeepSeek-V2-Lite at TP2 on an L40S, 163,840 tokens, reserves 11.92 GiB for
// an allocated peak of 6.89 (src/engine/eager_trace.rs), and the output says so. The L40 start-up
// of vllm#6156 (0.5.x) refused 163,840 tokens with 63,040 in its cache; kvsim gives 62,768.
#[test]
fn v0_charges_the_reserved_forward() {
    let mut s = Scenario::new(
        load_model("deepseek-v2-lite").unwrap(),
        load_chip("l40s").unwrap(),
        163_840,
    );
    s.deployment.tp = 2;
    s.deployment.engine = Engine::vllm(5, 1);
    let r = evaluate(&s).unwrap();
    assert!(r.warning_codes.contains(&"activation_reserved"));
    let gib = r.activation_bytes_per_chip as f64 / GIB;
    assert!((gib - 11.92).abs() < 0.01, "{gib}");
    assert_eq!(r.kv_capacity_tokens_per_chip, 62_768);
    // 0.6.4 reads torch's allocated peak: no replay.
    s.deployment.engine = Engine::vllm(6, 4);
    let r = evaluate(&s).unwrap();
    assert!(!r.warning_codes.contains(&"activation_reserved"));
    assert!(r.activation_bytes_per_chip < (8u64 << 30));
}

// DeepSeek-Coder-V2-Lite (DeepSeek-V2-Lite's shapes: 27 layers, 16 heads, nope 128 + RoPE 64,
// v 128, latent 512 + 64) at TP2 on vLLM by release (deepseek_v2.py @ v0.5.1, v0.7.0, v0.7.1):
// per head padded to 256, 2 × 8 × 256 × 2 B × 27 = 221,184 B per token per rank; at the q/k head
// size 192, 2 × 8 × 192 × 2 × 27 = 165,888; the latent, 576 × 2 × 27 = 31,104 (replicated).
// 0.5.1 has no automatic chunked prefill, so at 163,840 tokens the whole context is the batch.
#[test]
fn deepseek_v2_per_head_cache_by_release() {
    let at = |minor, patch| {
        let mut s = Scenario::new(
            load_model("deepseek-v2-lite").unwrap(),
            load_chip("l40s").unwrap(),
            163_840,
        );
        s.deployment = tp(2);
        s.deployment.engine = Engine::vllm(minor, patch);
        evaluate(&s).unwrap()
    };
    let r = at(5, 1);
    assert_eq!(r.kv_bytes_per_token_per_chip, 221_184);
    assert_eq!(r.max_num_batched_tokens, 163_840);
    assert!(r.warning_codes.contains(&"mla_cached_per_head"));
    assert_eq!(at(6, 6).kv_bytes_per_token_per_chip, 221_184);
    assert_eq!(at(6, 6).max_num_batched_tokens, 2048);
    assert_eq!(at(7, 0).kv_bytes_per_token_per_chip, 165_888);
    let latent = at(7, 1);
    assert_eq!(latent.kv_bytes_per_token_per_chip, 31_104);
    assert!(!latent.warning_codes.contains(&"mla_cached_per_head"));
    assert_eq!(at(19, 0).kv_bytes_per_token_per_chip, 31_104);
}

// DeepSeek-R1 at TP8, 163,840 tokens: V0 0.7.3 batches 2048 tokens (chunked prefill forced off for
// MLA after the batch was sized, config.py @ v0.7.3); the builds after it (kvsim's 0.7.4, as
// arg_utils.py::_set_default_args_v0 @ v0.8.0) leave chunked prefill off for MLA and batch the
// whole max_model_len; a dense model at 0.7.4 still takes 2048-token chunks.
#[test]
fn v0_mla_batch_by_release() {
    let batch = |model, minor, patch| {
        let mut s = Scenario::new(
            load_model(model).unwrap(),
            load_chip("h200").unwrap(),
            163_840,
        );
        s.deployment = tp(8);
        s.deployment.engine = Engine::vllm(minor, patch);
        evaluate(&s).unwrap().max_num_batched_tokens
    };
    assert_eq!(batch("deepseek-r1", 7, 3), 2048);
    assert_eq!(batch("deepseek-r1", 7, 4), 163_840);
    assert_eq!(batch("llama-3.1-70b", 7, 4), 2048);
}

// 0.7.1 … 0.7.3 materialise the absorbed MLA matrices after loading (mla/utils.py @ v0.7.3):
// DeepSeek-R1 at TP8 holds 61 × 78,660,608 B = 4.47 GiB more weights per rank than at 0.7.0
// (per head, nothing absorbed); the builds after 0.7.3 (PR 14770 dropped them) keep only kv_b_proj's
// BF16 copy.
#[test]
fn v0_absorbed_mla_weights() {
    let weights = |minor, patch| {
        let mut s = Scenario::new(
            load_model("deepseek-r1").unwrap(),
            load_chip("h200").unwrap(),
            8192,
        );
        s.deployment = tp(8);
        s.deployment.engine = Engine::vllm(minor, patch);
        let r = evaluate(&s).unwrap();
        let noted = r.warnings.iter().any(|w| w.contains("W_Q_UK"));
        (r.weights_bytes_per_chip, noted)
    };
    let (w73, noted73) = weights(7, 3);
    let (w74, noted74) = weights(7, 4);
    // From 0.7.4 only the BF16 copy of kv_b_proj stays (512 × 16 × 256 × 2 B a layer), which
    // 0.7.3's figure includes and 0.7.0 lacks.
    assert_eq!(w73 - w74, 61 * (78_660_608 - 4_194_304));
    assert_eq!(w74 - weights(7, 0).0, 61 * 4_194_304);
    assert!(noted73 && !noted74);
}

// SGLang DP attention and the input embedding of DeepSeek-V3 (vocab 129,280 × hidden 7,168, BF16):
// 926,679,040 × 2 B = 1,853,358,080 B whole, 231,669,760 B per rank over TP8 (129,280 is a
// multiple of 64, no padding). 0.4.6–0.5.4 build `VocabParallelEmbedding(enable_tp=not
// enable_dp_attention)` (`deepseek_v2.py::DeepseekV2Model` @ v0.5.3, v0.5.4): the whole table on
// every rank, 1,621,688,320 B (1.51 GiB) more than kvsim's TP split. 0.5.23 splits it over the
// attention TP group (`vocab_parallel_embedding.py::get_embedding_tp_kwargs` @ v0.5.23): at TP8 DP4
// over 2 ranks, 926,679,040 B, 695,009,280 B more than over 8. The lm_head stays over the TP group,
// and so does everything else but attention (already tp / dp).
#[test]
fn sglang_dp_attention_embedding_by_release() {
    let at = |version: &str, dp: u64, dp_attention: bool| {
        run(
            "deepseek-v3",
            "b200",
            32768,
            Deployment {
                tp: 8,
                dp,
                dp_attention,
                engine: Engine::parse("sglang", Some(version)).unwrap(),
                ..Deployment::default()
            },
        )
    };
    // kvsim's count per tensor group: SGLang's w_kc / w_vc (in no group) are tested below.
    let w = |r: &Report| r.weights_by_group.total();
    // The same splits under vLLM's engine, which has no embedding rule.
    let vllm = |dp: u64, dp_attention: bool| {
        run(
            "deepseek-v3",
            "b200",
            32768,
            Deployment {
                tp: 8,
                dp,
                dp_attention,
                engine: Engine::parse("vllm", None).unwrap(),
                ..Deployment::default()
            },
        )
    };
    let dp_attn_on = |v: &str, dp: u64| {
        let on = at(v, dp, true);
        // Without DP attention the embedding is split over TP8 as vLLM splits it.
        assert_eq!(w(&at(v, 1, false)), w(&vllm(1, false)));
        // The same attention split without the embedding rule: DP attention under vLLM's engine.
        w(&on) - w(&vllm(dp, true))
    };
    assert_eq!(dp_attn_on("0.5.3", 8), 1_621_688_320);
    assert_eq!(dp_attn_on("0.5.4", 8), 1_621_688_320);
    assert_eq!(dp_attn_on("0.5.4", 4), 1_621_688_320);
    assert_eq!(dp_attn_on("0.5.23", 8), 1_621_688_320);
    assert_eq!(dp_attn_on("0.5.23", 4), 695_009_280);
    // 0.3.x had no DP attention in this model: the TP split.
    assert_eq!(dp_attn_on("0.3.4", 8), 0);
}

// SGLang's w_kc / w_vc (src/engine/sglang_mla.rs; `deepseek_v2.py::DeepseekV2ForCausalLM.
// post_load_weights` @ v0.4.6, v0.4.7, v0.5.3, v0.5.4, `deepseek_weight_loader.py` @ v0.5.23):
// DeepSeek-V3's FP8 kv_b_proj (128 heads × (128 + 128) rows × 512) split per local head after
// loading, kept beside kv_b_proj. On CUDA from 0.4.7, BF16: at TP8, 16 heads × 256 × 512 × 2 B ×
// 61 layers = 255,852,544 B per rank; at TP8 with DP attention over 8 groups (attention TP 1),
// 128 heads: 2,046,820,352 B (1.91 GiB). On ROCm, FP8 per tensor: half. 0.4.6: FP8 on every GPU.
// 0.3.4 deletes kv_b_proj: nothing more.
#[test]
fn sglang_mla_weight_copies_by_release_and_gpu() {
    let derived = |version: &str, chip: &str, dp: u64| {
        let r = run(
            "deepseek-v3",
            chip,
            32768,
            Deployment {
                tp: 8,
                dp,
                dp_attention: dp > 1,
                engine: Engine::parse("sglang", Some(version)).unwrap(),
                ..Deployment::default()
            },
        );
        let noted = r.warnings.iter().any(|w| w.contains("w_kc / w_vc"));
        // Beside the copies, the rope table: yarn 40 × 4,096 = 163,840 positions × 64 dims, FP32
        // on CUDA from 0.4.6 and on ROCm from 0.5.23, BF16 otherwise (0.3.x uses vLLM's
        // get_rope; src/engine/position_tables.rs).
        let fp32 = !version.starts_with("0.3") && (chip != "mi300x" || version == "0.5.23");
        let rope = 163_840 * 64 * if fp32 { 4 } else { 2 };
        let d = r.weights_bytes_per_chip
            - r.weights_by_group.total()
            - rope
            - r.weight_segments_bytes_per_chip;
        assert_eq!(noted, d > 0, "{version} {chip}: {:?}", r.warnings);
        d
    };
    for v in ["0.4.7", "0.5.3", "0.5.4", "0.5.23"] {
        assert_eq!(derived(v, "b200", 1), 255_852_544);
        assert_eq!(derived(v, "b200", 8), 2_046_820_352);
        assert_eq!(derived(v, "h100-sxm", 8), 2_046_820_352);
        assert_eq!(derived(v, "mi300x", 1), 127_926_272);
        assert_eq!(derived(v, "mi300x", 8), 1_023_410_176);
    }
    assert_eq!(derived("0.4.6", "h100-sxm", 1), 127_926_272);
    assert_eq!(derived("0.4.6", "b200", 8), 1_023_410_176);
    assert_eq!(derived("0.3.4", "h100-sxm", 1), 0);
}

// The position tables each chip holds besides the parameters (src/engine/position_tables.rs), as
// the weights beyond kvsim's per-group count on a model without MLA-derived matrices:
// - Llama-3.1-8B under vLLM: 131,072 × 128 × 2 B = 33,554,432; SGLang on CUDA keeps it FP32
//   (67,108,864); TensorRT-LLM and the HPU fork: none counted.
// - DeepSeek-V3 (yarn 40 × 4,096 = 163,840 positions × 64): 20,971,520 B under vLLM on CUDA,
//   three tables under vLLM-Ascend (cos_sin_cache, cos_cached, sin_cached): 62,914,560 B.
// - Qwen3-VL-30B-A3B (MRoPE, 262,144 × 128 × 2 B): × 1 up to vLLM 0.7.1, × 4 from 0.7.2 to 0.31,
//   × 1 from 0.32.
// - Gemma-3-27B: local 131,072 and global linear 8 × 131,072 positions × 128 × 2 B = 301,989,888.
#[test]
fn position_tables_by_engine_release_and_chip() {
    let extra = |model: &str, chip: &str, engine: Engine| {
        // Less the allocator segments' free space SGLang counts in its weights (tested apart).
        let r = on(model, chip, engine);
        r.weights_bytes_per_chip - r.weights_by_group.total() - r.weight_segments_bytes_per_chip
    };
    let v = Engine::VLLM;
    assert_eq!(extra("llama-3.1-8b", "h100-sxm", v), 33_554_432);
    assert_eq!(
        extra("llama-3.1-8b", "h100-sxm", Engine::SGLANG),
        67_108_864
    );
    assert_eq!(extra("llama-3.1-8b", "h100-sxm", Engine::TRTLLM), 0);
    assert_eq!(extra("llama-3.1-8b", "gaudi2", v), 0);
    // Plus its MLA layers' kv_b_proj copies (src/engine/vllm.rs `mla_kv_b_copy_bytes`): FP8 blocks
    // dequantised to BF16 on CUDA, 61 × 512 × 128 heads × 256 × 2 B at TP1; copied on Ascend too
    // (TP1: one die of the 910C).
    assert_eq!(
        extra("deepseek-v3", "h200", v),
        20_971_520 + 61 * 33_554_432
    );
    assert_eq!(
        extra("deepseek-v3", "ascend-910c", v),
        62_914_560 + 61 * 33_554_432
    );
    let mrope = 262_144 * 128 * 2;
    assert_eq!(
        extra("qwen3-vl-30b-a3b", "h200", Engine::vllm(31, 0)),
        4 * mrope
    );
    assert_eq!(
        extra("qwen3-vl-30b-a3b", "h200", Engine::vllm(32, 0)),
        mrope
    );
    assert_eq!(extra("gemma-3-27b", "h200", v), 301_989_888);
}

// gpt-oss-20b (24 layers: 12 of window 128, 12 full; 8 KV heads × 64 × 2 (K, V) × 2 B = 2,048 B
// per layer per token) on a 910B at 32,768 tokens, 128-token blocks. vLLM-Ascend's runner gives
// every decoder layer a FullAttentionSpec before 0.14 (`NPUModelRunner.get_kv_cache_spec` @
// v0.13.0; the layer's own spec from v0.14.0rc1): 24 × 2,048 × 32,768 = 1,610,612,736 B per
// session. From 0.14 a window layer keeps what vLLM's `SlidingWindowSpec.max_memory_usage_bytes`
// allows a request (kv_cache_interface.py @ v0.9.2): cdiv(128 − 1 + 2,048 batched tokens, 128) + 1
// = 18 blocks, so 12 × 2,048 × 32,768 + 12 × 2,048 × 2,304 = 861,929,472 B. On a GPU the window
// is kept at any release.
#[test]
fn ascend_caches_windows_in_full_before_0_14() {
    let at = |chip: &str, minor| {
        let mut s = Scenario::new(
            load_model("gpt-oss-20b").unwrap(),
            load_chip(chip).unwrap(),
            32_768,
        );
        s.deployment.engine = Engine::vllm(minor, 0);
        evaluate(&s).unwrap()
    };
    let old = at("ascend-910b", 13);
    assert_eq!(old.kv_bytes_per_session_per_chip, 1_610_612_736);
    assert!(old.warning_codes.contains(&"windows_cached_in_full"));
    let new = at("ascend-910b", 14);
    assert_eq!(new.kv_bytes_per_session_per_chip, 861_929_472);
    assert!(!new.warning_codes.contains(&"windows_cached_in_full"));
    let gpu = at("h100-sxm", 13);
    assert!(gpu.kv_bytes_per_session_per_chip < old.kv_bytes_per_session_per_chip);
    assert!(!gpu.warning_codes.contains(&"windows_cached_in_full"));
}

// Memory other processes hold (`--other-processes`), by each engine's measurement. Llama-3.1-8B
// on an RTX 4090 (23.64 GiB) at 8,192 tokens with 1.5 GiB held:
// - SGLang budgets from free memory (`profile_max_num_token`): its pool loses 1.5 GiB × the
//   static fraction, as if the card were 1.5 GiB smaller;
// - vLLM V1 measures from its start-up snapshot: nothing lost at 0.9 (free 23.64 − 1.5 − 0.51 =
//   21.63 GiB covers ⌈0.9 × 23.64⌉ = 21.28); with 2 GiB held at 0.92 (21.75 asked, 21.13 free) it
//   refuses to start: no KV cache, no session, and the warning says which utilization starts;
// - vLLM V0 (0.7.3) measures from a baseline and has no start-up check: nothing changes.
#[test]
fn other_processes_by_engine() {
    let base = |engine: Engine, others: f64| {
        let mut s = Scenario::new(
            load_model("llama-3.1-8b").unwrap(),
            load_chip("rtx-4090").unwrap(),
            8192,
        );
        s.deployment.engine = engine;
        s.other_processes = gib(others);
        s
    };
    let sg = Engine::parse("sglang", None).unwrap();
    let free = evaluate(&base(sg, 0.0)).unwrap();
    let held = evaluate(&base(sg, 1.5)).unwrap();
    // A card 1.5 GiB smaller at the same fraction (SGLang's default fraction follows the
    // device's total, which other processes do not change).
    let mut smaller = base(sg, 0.0);
    smaller.overrides.total_memory = Some(free.total_memory_bytes_per_chip - gib(1.5));
    smaller.memory_fraction = Some(free.memory_fraction);
    let expect = evaluate(&smaller).unwrap();
    assert_eq!(
        held.kv_budget_bytes_per_chip,
        expect.kv_budget_bytes_per_chip
    );
    let lost = free.kv_budget_bytes_per_chip - held.kv_budget_bytes_per_chip;
    let by_hand = 1.5 * GIB * free.memory_fraction;
    assert!((lost as f64 - by_hand).abs() <= 2.0, "{lost} vs {by_hand}");
    assert!(held.warning_codes.contains(&"other_processes"));
    assert_eq!(
        held.total_memory_bytes_per_chip,
        free.total_memory_bytes_per_chip
    );

    let mut v1 = base(Engine::vllm(19, 0), 1.5);
    v1.memory_fraction = Some(0.9);
    let r = evaluate(&v1).unwrap();
    v1.other_processes = 0;
    assert_eq!(
        r.kv_capacity_tokens_per_chip,
        evaluate(&v1).unwrap().kv_capacity_tokens_per_chip
    );
    assert!(r.kv_capacity_tokens_per_chip > 0);
    assert!(!r.warning_codes.contains(&"engine_refuses_start"));
    v1.other_processes = gib(2.0);
    v1.memory_fraction = Some(0.92);
    let r = evaluate(&v1).unwrap();
    assert_eq!(
        (r.sessions_per_deployment, r.kv_capacity_tokens_per_chip),
        (0, 0)
    );
    let i = r
        .warning_codes
        .iter()
        .position(|c| *c == "engine_refuses_start")
        .unwrap();
    assert!(
        r.warnings[i].contains("21.13 GiB free"),
        "{}",
        r.warnings[i]
    );
    assert!(
        r.warnings[i].contains("0.89 or less starts"),
        "{}",
        r.warnings[i]
    );
    v1.memory_fraction = Some(0.89);
    assert!(evaluate(&v1).unwrap().sessions_per_deployment > 0);

    // V1 0.8.x (before PR 19312) and V0 0.6.4 count non-torch memory with no baseline: the
    // budget loses all of it, as non-torch memory, and nothing refuses.
    for engine in [Engine::vllm(8, 0), Engine::vllm(6, 4)] {
        let mut held = base(engine, 1.5);
        held.memory_fraction = Some(0.9);
        let r = evaluate(&held).unwrap();
        held.other_processes = 0;
        let none = evaluate(&held).unwrap();
        assert_eq!(
            r.non_torch_bytes_per_chip,
            none.non_torch_bytes_per_chip + gib(1.5),
            "{engine}"
        );
        assert_eq!(
            r.kv_budget_bytes_per_chip,
            none.kv_budget_bytes_per_chip - gib(1.5),
            "{engine}"
        );
    }

    let v0 = base(Engine::vllm(7, 3), 2.0);
    let r = evaluate(&v0).unwrap();
    let mut none = v0.clone();
    none.other_processes = 0;
    assert_eq!(
        r.kv_capacity_tokens_per_chip,
        evaluate(&none).unwrap().kv_capacity_tokens_per_chip
    );
    assert!(!r.warning_codes.contains(&"engine_refuses_start"));
}
