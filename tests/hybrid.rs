//! Windowed, hybrid, linear, sparse-indexer and compressed attention against hand-computed figures.
use kvsim::catalog::{load_chip, load_model};
use kvsim::deploy::Deployment;
use kvsim::engine::{Accounting, Engine};
use kvsim::evaluate::{evaluate, Report};
use kvsim::kv::{KvSpec, LayerKv};
use kvsim::precision::KvFormat;
use kvsim::scenario::{Overrides, Scenario};

fn gib(g: f64) -> u64 {
    (g * 1073741824.0f64).round() as u64
}

/// vLLM 0.19 defaults, measured overheads so the budget is exact.
fn measured(model: &str, chip: &str, context: u64, weights_gib: f64) -> Report {
    let mut s = Scenario::new(
        load_model(model).unwrap(),
        load_chip(chip).unwrap(),
        context,
    );
    s.overrides = Overrides {
        weights: Some(gib(weights_gib)),
        activation: Some(gib(2.0)),
        non_torch: Some(gib(0.25)),
        ..Overrides::default()
    };
    s.deployment.engine = Engine::vllm(19, 0);
    s.max_num_batched_tokens = Some(8192);
    evaluate(&s).unwrap()
}

fn budget(total: u64, weights_gib: f64) -> u64 {
    (total as f64 * 0.9).floor() as u64 - gib(weights_gib) - gib(2.0) - gib(0.25)
}

fn layout(id: &str, kv: KvFormat) -> Vec<LayerKv> {
    let m = load_model(id).unwrap();
    m.stage_kv_specs(
        &kvsim::model::Stage::whole(m.layers()),
        kv,
        KvFormat::Bf16,
        1,
        false,
    )
    .unwrap()
}

// gpt-oss-120b (layer_types: even layers sliding, window 128): 8 KV heads × 64 × (K+V) × 2 B =
// 2,048 B per layer. vLLM: 2 groups of 18 layers, page 16 · 2,048 B; a 32k request needs
// 2,048 full blocks + cdiv(127 + 8192, 16) + 1 = 521 window blocks.
#[test]
fn gpt_oss_120b_vllm_hybrid() {
    assert_eq!(
        layout("gpt-oss-120b", KvFormat::Bf16),
        vec![
            LayerKv {
                spec: KvSpec::Window {
                    record: 2048,
                    window: 128
                },
                layers: 18
            },
            LayerKv {
                spec: KvSpec::Full { record: 2048 },
                layers: 18
            },
        ]
    );
    let r = measured("gpt-oss-120b", "h100-sxm", 32768, 60.0);
    let b = budget(gib(79.19), 60.0);
    assert_eq!(r.kv_accounting, Accounting::VllmHybrid);
    assert_eq!(r.kv_budget_bytes_per_chip, b);
    assert_eq!(r.kv_blocks_per_chip, b / 32768 / 18);
    assert_eq!(r.blocks_per_session, 2569);
    assert_eq!(r.sessions_per_replica, r.kv_blocks_per_chip / 2569);
    assert_eq!(r.kv_capacity_tokens_per_chip, r.kv_blocks_per_chip / 2 * 16);
    assert_eq!(r.kv_bytes_per_token_per_chip, 36 * 2048);
}

// Gemma-3-27B: 52 local layers (window 1024) and 10 global, 16 KV heads × 128 × 2 × 2 B = 8,192 B.
#[test]
fn gemma_3_27b_layout_and_groups() {
    assert_eq!(
        layout("gemma-3-27b", KvFormat::Bf16),
        vec![
            LayerKv {
                spec: KvSpec::Window {
                    record: 8192,
                    window: 1024
                },
                layers: 52
            },
            LayerKv {
                spec: KvSpec::Full { record: 8192 },
                layers: 10
            },
        ]
    );
    let r = measured("gemma-3-27b", "h200", 131072, 50.0);
    // Groups of 10: 6 window groups (the last padded) + 1 full group.
    let window_blocks = (1023u64 + 8192).div_ceil(16) + 1;
    assert_eq!(r.blocks_per_session, 6 * window_blocks + 8192);
    assert_eq!(
        r.kv_blocks_per_chip,
        r.kv_budget_bytes_per_chip / (16 * 8192) / 10
    );
}

// Mistral-7B: window 4096 on every layer. Past window − 1 + max_num_batched_tokens the session
// stops growing: cdiv(4095 + 8192, 16) + 1 = 769 blocks of 32 layers.
#[test]
fn mistral_window_caps_the_session() {
    let a = measured("mistral-7b-v0.1", "h100-sxm", 16384, 13.5);
    let b = measured("mistral-7b-v0.1", "h100-sxm", 32768, 13.5);
    assert_eq!(a.blocks_per_session, 769);
    assert_eq!(a.sessions_per_replica, b.sessions_per_replica);
    assert_eq!(
        a.kv_blocks_per_chip,
        a.kv_budget_bytes_per_chip / (16 * 4096) / 32
    );
}

// Qwen3-Next-80B-A3B on one H200 at 256k: 36 Gated DeltaNet layers hold a fixed state of
// 32·128·128 + (2·2048 + 4096)·3 = 548,864 BF16 elements = 1,097,728 B each; 12 gated-attention
// layers hold 2 KV heads × 256 × 2 × 2 B = 2,048 B per token. vLLM raises the attention block to
// 16·cdiv(1,097,728, 16·2,048) = 544 tokens (page 1,114,112 B), groups of 12 → 3 state groups + 1
// full: a 262,144-token request needs 3 + cdiv(262,144, 544) = 485 blocks.
#[test]
fn qwen3_next_at_256k() {
    assert_eq!(
        layout("qwen3-next-80b-a3b", KvFormat::Bf16),
        vec![
            LayerKv {
                spec: KvSpec::State { bytes: 1_097_728 },
                layers: 36
            },
            LayerKv {
                spec: KvSpec::Full { record: 2048 },
                layers: 12
            },
        ]
    );
    let r = measured("qwen3-next-80b-a3b", "h200", 262144, 80.0);
    assert_eq!(r.block_size, 544);
    assert_eq!(r.blocks_per_session, 485);
    assert_eq!(
        r.kv_blocks_per_chip,
        r.kv_budget_bytes_per_chip / 1_114_112 / 12
    );
    assert_eq!(r.sessions_per_replica, r.kv_blocks_per_chip / 485);
    // The checkpoint census (models.json): 81,324,862,720 elements including the MTP block.
    let m = load_model("qwen3-next-80b-a3b").unwrap();
    assert_eq!(m.params(true).unwrap().total, 81_324_862_720);
}

// Kimi-Linear lists its MLA layers 1-indexed ([4, 8, …, 24, 27] = layers 3, 7, …, 23, 26).
// KDA state: 32·128·128 recurrent elements in FP32 (vLLM forces it) = 2,097,152 B, plus a BF16
// conv state of (3·4096)·3 = 36,864 elements = 73,728 B: 2,170,880 B per layer.
#[test]
fn kimi_linear_layers_and_state() {
    let m = load_model("kimi-linear-48b-a3b").unwrap();
    let mut mla_layers = Vec::new();
    let mut at = 0;
    for g in m.runs() {
        if g.attention.family() == "MLA" {
            mla_layers.extend(at..at + g.count);
        }
        at += g.count;
    }
    assert_eq!(mla_layers, vec![3, 7, 11, 15, 19, 23, 26]);
    // Groups are kinds: fewer than the runs they alternate in.
    assert!(m.groups.len() < m.runs().len());
    assert_eq!(
        layout("kimi-linear-48b-a3b", KvFormat::Bf16),
        vec![
            LayerKv {
                spec: KvSpec::State { bytes: 2_170_880 },
                layers: 20
            },
            LayerKv {
                spec: KvSpec::Full { record: 1152 },
                layers: 7
            },
        ]
    );
    // Checkpoint census 49,122,681,728 = parameters + 26 MoE layers' e_score_correction_bias (256).
    assert_eq!(m.params(false).unwrap().total + 26 * 256, 49_122_681_728);
}

// Sparse-attention indexers: + 128 FP8 + 4 B scale per token per layer (docs/facts.md §1).
#[test]
fn indexer_key_cache() {
    assert_eq!(
        load_model("deepseek-v3.2-exp")
            .unwrap()
            .kv_bytes_per_token(KvFormat::Bf16, 1, false)
            .unwrap(),
        61 * (1152 + 132)
    );
    assert_eq!(
        load_model("glm-5.1")
            .unwrap()
            .kv_bytes_per_token(KvFormat::Bf16, 1, false)
            .unwrap(),
        78 * (1152 + 132)
    );
    // GLM-5.1 BF16 census: 753,864,139,008 = parameters with the MTP layer + 76 × 256 router biases.
    let m = load_model("glm-5.1").unwrap();
    assert_eq!(m.params(true).unwrap().total + 76 * 256, 753_864_139_008);
}

// DeepSeek-V4-Flash at 1M tokens, BF16, pages of 16: record (448 + 64) × 2 = 1,024 B.
// 43 layers keep 9 pages of window (147,456 B); 21 CSA layers 262,144 entries × (1,024 + 132) B;
// 20 HCA layers 8,192 entries × 1,024 B; FP32 compressor states of 122,880 B per CSA layer and
// 557,056 B per HCA layer (docs/facts.md §1): 6,537,920,512 + 13,721,600 = 6,551,642,112 B per
// session. (A scenario built directly keeps the plan's BF16; `Spec::build` applies vLLM's
// fp8_ds_mla.)
#[test]
fn deepseek_v4_flash_at_1m() {
    let m = load_model("deepseek-v4-flash").unwrap();
    let specs = layout("deepseek-v4-flash", KvFormat::Bf16);
    let count = |ratio: u64| {
        specs
            .iter()
            .filter(|l| matches!(l.spec, KvSpec::Compressed { ratio: r, .. } if r == ratio))
            .map(|l| l.layers)
            .sum::<u64>()
    };
    assert_eq!((count(4), count(128)), (21, 20));
    let mut s = Scenario::new(m, load_chip("b200").unwrap(), 1 << 20);
    s.deployment = Deployment::default();
    let r = evaluate(&s).unwrap();
    assert_eq!(r.kv_accounting, Accounting::PerSession);
    assert_eq!(r.kv_bytes_per_session_per_chip, 6_551_642_112);
    assert_eq!(
        r.sessions_per_replica,
        r.kv_budget_bytes_per_chip / 6_551_642_112
    );
    // Stated sizes: 284B total / 13B active (Flash), 1.6T / 49B (Pro).
    let p = load_model("deepseek-v4-flash")
        .unwrap()
        .params(false)
        .unwrap();
    assert_eq!(
        (p.total / 1_000_000_000, p.active / 1_000_000_000),
        (284, 13)
    );
    let p = load_model("deepseek-v4-pro")
        .unwrap()
        .params(false)
        .unwrap();
    assert_eq!(
        (p.total / 100_000_000_000, p.active / 1_000_000_000),
        (15, 48)
    );
}

#[test]
fn v4_kv_claims_are_reported() {
    let c = kvsim::claims::v4_kv_claims().unwrap();
    let flash = c
        .iter()
        .find(|c| c.claim.contains("flash") && c.scenario.contains("bf16"))
        .unwrap();
    assert_eq!(flash.kvsim, 8.0);
    let pro = c
        .iter()
        .find(|c| c.claim.contains("pro") && c.scenario.contains("bf16"))
        .unwrap();
    assert_eq!(pro.kvsim, 11.4);
    // Native formats at 1M, by hand: V4-Flash 2·128·584 (window-only layers) + 21·(128·584 +
    // 262,144·(584 + 68) + 122,880) + 20·(128·584 + 8,192·584 + 557,056) = 3,701,894,144 B;
    // V3.2 61 · 1,048,576 · (656 + 132) = 50,402,951,168 B: 7.3%.
    let native = c
        .iter()
        .find(|c| c.claim.contains("flash") && c.scenario.contains("native formats"))
        .unwrap();
    assert!(
        native
            .scenario
            .contains("3,701,894,144 B vs 50,402,951,168 B"),
        "{}",
        native.scenario
    );
    assert_eq!(native.kvsim, 7.3);
}

// MTP: the draft layer holds KV (DeepSeek-V3: 62 layers).
#[test]
fn mtp_draft_layer_holds_kv() {
    let mut s = Scenario::new(
        load_model("deepseek-v3").unwrap(),
        load_chip("h200").unwrap(),
        32768,
    );
    s.deployment.tp = 8;
    let without = evaluate(&s).unwrap();
    s.mtp = true;
    let with = evaluate(&s).unwrap();
    assert_eq!(with.kv_bytes_per_token_per_chip, 62 * 1152);
    assert!(with.weights_bytes_per_chip > without.weights_bytes_per_chip);
    assert!(with.sessions_per_deployment <= without.sessions_per_deployment);
}

#[test]
fn unverified_reference_values_are_errors() {
    let e = load_model("minimax-text-01").unwrap_err().to_string();
    assert!(
        e.contains("num_key_value_heads") && e.contains("unverified"),
        "{e}"
    );
}

// The latest vLLM profile (0.26+) keeps two batches in flight under async scheduling: Mistral-7B's
// window layers hold cdiv(4095 + 2 · 8192, 16) + 1 = 1,281 blocks; from 0.20.1 the logged token
// capacity is int(max concurrency · max_model_len) (`_report_kv_cache_config`).
#[test]
fn latest_vllm_profile_windows_and_logged_tokens() {
    let mut s = Scenario::new(
        load_model("mistral-7b-v0.1").unwrap(),
        load_chip("h100-sxm").unwrap(),
        32768,
    );
    s.overrides.weights = Some(gib(13.5));
    s.max_num_batched_tokens = Some(8192);
    let r = evaluate(&s).unwrap();
    assert_eq!(r.engine, Engine::VLLM);
    assert_eq!(r.blocks_per_session, 1281);
    assert_eq!(
        r.kv_capacity_tokens_per_chip,
        (r.max_concurrency * 32768.0) as u64
    );
    assert_eq!(r.memory_fraction, 0.92);
}
