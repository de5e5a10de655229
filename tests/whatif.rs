//! What-if transforms and inverse questions.
use kvsim::catalog::{load_chip, load_model, load_model_with};
use kvsim::evaluate::{evaluate, Prepared};
use kvsim::fit::{layouts, longest_context, smallest_deployment};
use kvsim::precision::KvFormat;
use kvsim::scenario::Scenario;
use kvsim::whatif::{convert_attention, to_dense, to_moe, AttentionTarget};
use proptest::prelude::*;

fn params(m: &kvsim::model::Model) -> u64 {
    m.params(false).unwrap().total
}

// Llama-3.1-405B has 128 query heads: gqa:128 is MHA, the same as --set num_key_value_heads=128.
#[test]
fn gqa_with_all_heads_is_mha() {
    let mut g = load_model("llama-3.1-405b").unwrap();
    convert_attention(&mut g, "gqa:128".parse().unwrap()).unwrap();
    let mut m = load_model("llama-3.1-405b").unwrap();
    convert_attention(&mut m, AttentionTarget::Mha).unwrap();
    let s = load_model_with(
        "llama-3.1-405b",
        &[("num_key_value_heads".to_string(), serde_json::json!(128))],
    )
    .unwrap();
    assert_eq!(params(&g), params(&m));
    assert_eq!(params(&g), params(&s));
    let kv = |x: &kvsim::model::Model| x.kv_bytes_per_token(KvFormat::Bf16, 1, false).unwrap();
    // 126 layers · 2 · 128 heads · 128 · 2 B.
    assert_eq!(kv(&g), 126 * 2 * 128 * 128 * 2);
    assert_eq!(kv(&g), kv(&s));
    assert_eq!(g.groups[0].attention.family(), "MHA");
}

// Invertible transforms give the original parameter count back.
#[test]
fn transforms_and_their_inverses() {
    let base = load_model("llama-3.1-8b").unwrap();
    let mut m = base.clone();
    convert_attention(&mut m, AttentionTarget::Gqa(32)).unwrap();
    assert!(params(&m) > params(&base));
    convert_attention(&mut m, AttentionTarget::Gqa(8)).unwrap();
    assert_eq!(params(&m), params(&base));
    // 64 experts of top-4 at equal active width: 14336 / 4 = 3584 wide; router 64 × 4096 per layer.
    let mut moe = base.clone();
    to_moe(&mut moe, "64:4").unwrap();
    assert_eq!(
        moe.params(false).unwrap().active,
        params(&base) + 32 * 64 * 4096
    );
    assert_eq!(
        params(&moe),
        params(&base) + 32 * (64 * 4096 + 60 * 3 * 4096 * 3584)
    );
    to_dense(&mut moe).unwrap();
    assert_eq!(params(&moe), params(&base));
    // Qwen3-30B-A3B (every layer 128 experts top-8 × 768) → dense (width 6144) → 128:8 again.
    let q = load_model("qwen3-30b-a3b").unwrap();
    let mut d = q.clone();
    to_dense(&mut d).unwrap();
    assert_eq!(
        d.params(false).unwrap().total,
        q.params(false).unwrap().active - 48 * 128 * 2048
    );
    to_moe(&mut d, "128:8").unwrap();
    assert_eq!(params(&d), params(&q));
    assert!(to_moe(&mut load_model("llama-3.1-8b").unwrap(), "64:5").is_err());
    assert!("gqa:0".parse::<AttentionTarget>().is_err());
}

// DeepSeek-V3's attention as GQA-8 instead of MLA (the README example): per token 61 · 8 · (192 +
// 128) · 2 B = 312,320 B in all vs 70,272 for MLA; but per chip under TP8 GQA keeps one head
// (39,040 B) while MLA's latent is replicated (70,272 B), so on 16 H100 (TP8 × PP2) GQA-8 holds more.
#[test]
fn deepseek_v3_gqa8_vs_mla() {
    let mut g = load_model("deepseek-v3").unwrap();
    convert_attention(&mut g, AttentionTarget::Gqa(8)).unwrap();
    assert_eq!(
        g.kv_bytes_per_token(KvFormat::Bf16, 1, false).unwrap(),
        312_320
    );
    let run = |m: kvsim::model::Model| {
        let mut s = Scenario::new(m, load_chip("h100-sxm").unwrap(), 32768);
        s.deployment.tp = 8;
        s.deployment.pp = 2;
        evaluate(&s).unwrap()
    };
    let (gq, ml) = (run(g), run(load_model("deepseek-v3").unwrap()));
    assert_eq!(
        (
            gq.kv_bytes_per_token_per_chip,
            ml.kv_bytes_per_token_per_chip
        ),
        (19_200, 34_560)
    );
    // The README's table; vLLM 0.33 charges the fused-MoE workspace (8192 tokens × 8 experts ×
    // (7168 + 7168) × 2 B = 1.75 GiB per rank, overhead.rs). Non-torch memory from NCCL's buffers
    // on an H100 at TP8, counted after vLLM's init snapshot (0.56 GiB on the last stage, 0.07 on
    // the first), gave 49 and 27 while the workspace and the sampler's peak (1024 × 129,280
    // logits × 14 B = 1.73 GiB) were taken as alternatives. From v0.14 the workspace is vLLM's
    // persistent one, still allocated when the sampler peaks (`WorkspaceManager`,
    // docs/facts.md §4), so the two add up on the last stage: 46 and 25. At TP8 each stage's
    // 8,192 × 7,168 × 2 B all-reduce (112 MiB, above the symmetric memory's 64 MiB) goes through
    // PyNccl, whose NVLS buffers take 256 MiB per rank (overhead.rs `pynccl_nvls`): 45 and 25.
    assert_eq!(
        (gq.sessions_per_deployment, ml.sessions_per_deployment),
        (45, 25)
    );
}

// The README's inverse example: chips of each kind for 1,000 concurrent 32k sessions of Kimi-K2.
#[test]
fn kimi_k2_thousand_sessions() {
    let need = |chip: &str| {
        let s = Scenario::new(
            load_model("kimi-k2").unwrap(),
            load_chip(chip).unwrap(),
            32768,
        );
        smallest_deployment(&s, 1000, 32768).unwrap().unwrap()
    };
    let got: Vec<(u64, u64, u64)> = ["h100-sxm", "h200", "b200", "ascend-910c", "ascend-950pr"]
        .iter()
        .map(|c| need(c))
        .map(|l| (l.chips, l.tp, l.pp))
        .collect();
    assert_eq!(
        got,
        vec![
            (128, 2, 16),
            (48, 1, 16),
            (32, 1, 16),
            // 910C: two 64 GB ranks per chip; TP2 PP16 is 32 ranks on 16 chips, 6 replicas.
            (96, 2, 16),
            (48, 1, 16)
        ]
    );
}

fn small_scenario(model: &str, chip: &str, ctx: u64) -> Scenario {
    Scenario::new(load_model(model).unwrap(), load_chip(chip).unwrap(), ctx)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    // The smallest deployment holds the target; with one chip less no searched layout does.
    #[test]
    fn smallest_deployment_is_minimal(model in prop::sample::select(vec!["llama-3.1-70b", "qwen3-30b-a3b", "deepseek-v2-lite", "gpt-oss-20b"]),
                                      chip in prop::sample::select(vec!["h100-sxm", "ascend-910c", "l40s"]),
                                      sessions in 1u64..3000, ctx_k in 1u64..64) {
        let ctx = ctx_k * 1024;
        let s = small_scenario(model, chip, ctx);
        if let Some(best) = smallest_deployment(&s, sessions, ctx).unwrap() {
            prop_assert!(best.sessions >= sessions);
            for (tp, pp, _, n) in layouts(&s, ctx).unwrap() {
                let replicas = (best.chips - 1) / (tp * pp);
                prop_assert!(replicas * n < sessions, "TP{} PP{} holds {} on {} chips", tp, pp, replicas * n, best.chips - 1);
            }
        }
    }

    // The longest context c holds the sessions; c + 1 and c + one block do not.
    #[test]
    fn longest_context_is_exact(model in prop::sample::select(vec!["llama-3.1-8b", "qwen3-8b", "gpt-oss-20b", "mistral-7b-v0.1", "qwen3-next-80b-a3b"]),
                                sessions in 1u64..200, tp in prop::sample::select(vec![1u64, 2])) {
        let mut s = small_scenario(model, "h200", 4096);
        s.deployment.tp = tp;
        let limit = 1 << 24;
        if let Some(c) = longest_context(&s, sessions, limit).unwrap() {
            let p = Prepared::new(&s).unwrap();
            let mem = s.chip.memory_bytes().unwrap().0;
            prop_assert!(p.core(mem, c).unwrap().sessions_per_deployment >= sessions);
            if c < limit {
                prop_assert!(p.core(mem, c + 1).unwrap().sessions_per_deployment < sessions);
                prop_assert!(p.core(mem, c + p.pool.block).unwrap().sessions_per_deployment < sessions);
            }
        }
    }
}

// A model keeps its parameter counts and matmul FLOPs after the first use (kvsim::model::figures).
// Editing it afterwards — a what-if transform on the same object, or on a clone that shares the
// kept figures — must not answer from the model as it was: the edited model's report differs from
// the unedited one and equals the report of a model edited before any use. Uniform and
// alternating-layer models (gpt-oss, Gemma-3, Qwen3-Next).
#[test]
fn edits_after_an_evaluation_are_not_answered_from_kept_figures() {
    for id in [
        "deepseek-v3",
        "gpt-oss-120b",
        "gemma-3-27b",
        "qwen3-next-80b-a3b",
    ] {
        // One session: speed figures even where the KV cache holds none at TP 1.
        let at = |m| {
            let mut s = Scenario::new(m, load_chip("h100-sxm").unwrap(), 32_768);
            s.batch = Some(1);
            s
        };
        let mut used = load_model(id).unwrap();
        let before = evaluate(&at(used.clone())).unwrap();
        // Fill this object's kept figures, then share them with a clone.
        assert_eq!(used.params(false).unwrap().total, before.params_total);
        let shared = used.clone();
        let mut fresh = load_model(id).unwrap();
        let edit = |m: &mut kvsim::model::Model| {
            if m.groups
                .iter()
                .any(|g| matches!(g.ffn, kvsim::model::Ffn::Moe(_)))
            {
                to_dense(m).unwrap()
            } else {
                to_moe(m, "8:2").unwrap()
            }
        };
        edit(&mut used);
        edit(&mut fresh);
        let after = evaluate(&at(used)).unwrap();
        let want = evaluate(&at(fresh)).unwrap();
        assert_eq!(after, want, "{id}");
        assert_ne!(after.params_total, before.params_total, "{id}");
        let flops = |r: &kvsim::evaluate::Report| r.speed.as_ref().unwrap().flops_per_token_decode;
        assert_ne!(flops(&after), flops(&before), "{id}");
        // The clone made before the edit still answers for the unedited model.
        assert_eq!(evaluate(&at(shared)).unwrap(), before);
    }
}

// `--eagle` on Llama-3.1-8B (hidden 4096, 32/8 heads × 128, FFN 14,336), by hand: one decoder
// layer without its input norm — q and o 4096 × 4096, k and v 1024 × 4096, gate, up and down
// 3 × 14,336 × 4096, one 4096 norm — and the fusion matrix 4096 × 8192: 251,662,336 parameters,
// 503,324,672 B in BF16 on the one chip; one more layer of KV, 33 × 4096 B per token (vLLM
// llama_eagle.py and eagle.py @ v0.9.2). Under TP2 the layer splits and the fusion matrix does
// not. With --mtp as well on a model that has next-n layers, kvsim refuses two drafters.
#[test]
fn eagle_head_weights_and_kv() {
    use kvsim::scenario::knobs::Spec;
    let spec = |eagle: bool, tp: u64| {
        let mut s = Spec::new("llama-3.1-8b", "h100-sxm");
        s.eagle = eagle;
        s.tp = tp;
        s.load().unwrap()
    };
    let (base, eagle) = (
        evaluate(&spec(false, 1)).unwrap(),
        evaluate(&spec(true, 1)).unwrap(),
    );
    let layer = 2 * 4096 * 4096 + 2 * 1024 * 4096 + 3 * 14_336 * 4096 + 4096;
    let fc = 4096 * 8192;
    assert_eq!(layer + fc, 251_662_336u64);
    assert_eq!(
        eagle.weights_bytes_per_chip - base.weights_bytes_per_chip,
        2 * (layer + fc)
    );
    assert_eq!(base.kv_bytes_per_token_per_chip, 32 * 4096);
    assert_eq!(eagle.kv_bytes_per_token_per_chip, 33 * 4096);
    assert!(eagle
        .warnings
        .iter()
        .any(|w| w.contains("EAGLE draft head")));
    // The report says which drafter the next-n layer is (field, CSV column, table line).
    assert!(eagle.eagle_included && eagle.mtp_included && !base.eagle_included);
    let table = kvsim::report::eval_table::render(&eagle);
    assert!(table.contains("(EAGLE draft head included)"), "{table}");
    assert!(!table.contains("MTP layers"), "{table}");
    let (b2, e2) = (
        evaluate(&spec(false, 2)).unwrap(),
        evaluate(&spec(true, 2)).unwrap(),
    );
    assert_eq!(
        e2.weights_bytes_per_chip - b2.weights_bytes_per_chip,
        2 * (layer / 2 + 2048 + fc)
    );
    let mut both = Spec::new("deepseek-v3", "h200");
    both.eagle = true;
    both.mtp = true;
    let e = both.load().unwrap_err().to_string();
    assert!(e.contains("--eagle") && e.contains("one drafter"), "{e}");
}
