//! Published efficiency claims, recomputed from the catalog: each claim beside kvsim's own figure,
//! the scenario used, and a verdict.

use crate::catalog::{load_chip, load_model};
use crate::engine::Engine;
use crate::error::Result;
use crate::evaluate::{evaluate, Report};
use crate::kv::LayerKv;
use crate::model::attention::Attention;
use crate::model::{Model, Stage};
use crate::precision::{IndexerCache, KvFormat};
use crate::precision::{PrecisionPlan, WeightFormat};
use crate::scenario::Scenario;
use crate::units::thousands;
use crate::units::GIB;
use serde::Serialize;

/// One claim checked.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub id: &'static str,
    pub claim: String,
    pub source: &'static str,
    pub scenario: String,
    /// The published figure (a ratio or percentage, as the claim states it).
    pub published: f64,
    /// kvsim's figure in the same unit.
    pub kvsim: f64,
    /// The unit of `published` and `kvsim` ("%", "×", "% points of reduction").
    pub unit: &'static str,
    /// How far kvsim may be from the published figure and still be consistent, in `unit`
    /// (None: a figure to read, not a test).
    pub tolerance: Option<f64>,
    /// The verdict, naming its tolerance and unit.
    pub verdict: String,
    pub why: String,
}

/// Unpaged KV bytes one session of `ctx` tokens holds on one chip (TP1), every layer.
pub fn session_bytes(m: &Model, kv: KvFormat, ctx: u64) -> Result<u64> {
    let specs: Vec<LayerKv> =
        m.stage_kv_specs(&Stage::whole(m.layers()), kv, KvFormat::Bf16, 1, false)?;
    specs.iter().try_fold(0u64, |acc, l| {
        Ok(acc + l.spec.session_bytes(ctx, 1)? * l.layers)
    })
}

/// "consistent" within `tolerance` of the published figure, else which side kvsim falls on and
/// by how much; always with the tolerance and unit.
fn verdict(published: f64, kvsim: f64, tolerance: f64, unit: &str) -> String {
    let d = kvsim - published;
    let tol = format!("tolerance ±{tolerance} {unit}");
    if d.abs() <= tolerance {
        format!("consistent ({tol})")
    } else if d < 0.0 {
        format!("kvsim lower by {:.2} {unit} ({tol})", -d)
    } else {
        format!("kvsim higher by {:.2} {unit} ({tol})", d)
    }
}

/// A verdict that is a reading, not a test.
fn reading(text: &str, unit: &str) -> String {
    format!("{text} (no tolerance: a figure to read, in {unit})")
}

/// Percent of V3.2 (the unit of the V4 claims).
const PCT: &str = "% of DeepSeek-V3.2";

/// DeepSeek-V4 vs DeepSeek-V3.2 KV cache at 1M tokens (model card: Pro 10%, Flash 7%), with
/// both caches alike (BF16; the FP8 latent layouts) and in each model's native formats: V4 with
/// FP8 NoPE + BF16 RoPE records (584 B) and an FP4 indexer (68 B keys), V3.2 with vLLM's
/// `fp8_ds_mla` (656 B) and its FP8 indexer (132 B; docs/facts.md §1).
pub fn v4_kv_claims() -> Result<Vec<Claim>> {
    const M: u64 = 1 << 20;
    let v32 = load_model("deepseek-v3.2-exp")?;
    let mut out = Vec::new();
    for (id, published) in [("deepseek-v4-pro", 10.0), ("deepseek-v4-flash", 7.0)] {
        let v4 = load_model(id)?;
        let mut v4_fp4 = v4.clone();
        v4_fp4.set_indexer_cache(IndexerCache::Mxfp4);
        for (label, a_model, kv, note) in [
            ("KV bf16", &v4, KvFormat::Bf16, "both caches in BF16 (indexer keys FP8 + fp32 scale on both sides)"),
            ("KV fp8-ds-mla", &v4, KvFormat::Fp8DsMla, "both in the FP8 latent + BF16 RoPE layout (656 B per V3.2 layer, 584 B per V4 record), indexer keys FP8 on both sides"),
            ("native formats", &v4_fp4, KvFormat::Fp8DsMla, "each in its native formats: V4 FP8 NoPE + BF16 RoPE (584 B) with an FP4 indexer (68 B keys), V3.2 fp8_ds_mla (656 B) with its FP8 indexer (132 B)"),
        ] {
            let a = session_bytes(a_model, kv, M)? as f64;
            let b = session_bytes(&v32, kv, M)? as f64;
            let pct = 100.0 * a / b;
            out.push(Claim {
                id: "v4-kv-at-1m",
                claim: format!("{id} needs {published}% of DeepSeek-V3.2's KV cache at 1M tokens"),
                source: "DeepSeek-V4 model card (docs/facts.md §1)",
                scenario: format!(
                    "1,048,576 tokens, one chip, no paging, {label}: {} B vs {} B per session",
                    thousands(a as u64),
                    thousands(b as u64)
                ),
                published,
                kvsim: (pct * 10.0).round() / 10.0,
                unit: PCT,
                tolerance: Some(1.5),
                verdict: verdict(published, pct, 1.5, PCT),
                why: format!(
                    "{note}. V4 keeps a 128-token window per layer plus one entry per 4 tokens (CSA, with the indexer key) or per 128 tokens (HCA), and a fixed FP32 compressor state per session; V3.2 keeps a 576-element latent + indexer key for every token in 61 layers"
                ),
            });
        }
    }
    Ok(out)
}

/// How many FP8 FLOPs one FLOP in `f` is worth on tensor cores that run FP4 at twice and BF16
/// at half the FP8 rate (H100 / B200 dense peaks; weight-only INT4 runs in BF16).
fn fp8_equivalent(f: WeightFormat) -> f64 {
    match f {
        WeightFormat::Int4 { .. } | WeightFormat::IntGroup { .. } | WeightFormat::Bnb4 { .. } => {
            2.0
        }
        other => match other.compute_class() {
            "fp4" => 0.5,
            "fp8" | "int8" => 1.0,
            "fp32" => 4.0,
            _ => 2.0,
        },
    }
}

/// Decode FLOPs of the sparse-attention indexers at context `c` (one token, every layer): 2 ·
/// heads · head_dim per key scored, over every token (V3.2) or every compressed entry (V4 CSA).
fn indexer_flops(m: &Model, c: u64) -> f64 {
    m.groups
        .iter()
        .map(|g| {
            let (idx, ratio) = match &g.attention {
                Attention::Mla(a) => (a.indexer.as_ref(), 1),
                Attention::Compressed(a) => (a.indexer.as_ref(), a.ratio.max(1)),
                _ => (None, 1),
            };
            idx.map_or(0.0, |i| {
                2.0 * (i.heads * i.head_dim) as f64 * c.div_ceil(ratio) as f64 * g.count as f64
            })
        })
        .sum()
}

/// FP8-equivalent decode FLOPs of one token at `c`: matmuls weighted by their weight format,
/// the indexer by `indexer` (1 for FP8 keys, 0.5 for FP4), the attention core as BF16 (2).
fn fp8_equivalent_flops(m: &Model, c: u64, indexer: f64) -> f64 {
    let (by_group, context) = crate::compute::decode_flops_parts(m, c);
    let idx = indexer_flops(m, c);
    by_group
        .iter()
        .map(|(g, f)| f * fp8_equivalent(m.default_plan.get(g)))
        .sum::<f64>()
        + idx * indexer
        + (context - idx) * 2.0
}

/// DeepSeek-V4 vs DeepSeek-V3.2 decode FLOPs per token at 1M tokens (model card: Pro 27%, Flash
/// 10%), as plain FLOPs and as FP8-equivalent FLOPs in the native formats (V4's FP4 experts and
/// FP4 indexer at half an FP8 FLOP; V3.2 FP8 weights and indexer).
pub fn v4_flops_claims() -> Result<Vec<Claim>> {
    const M: u64 = 1 << 20;
    let v32 = load_model("deepseek-v3.2-exp")?;
    let base = crate::compute::flops_per_token_decode(&v32, M);
    let base8 = fp8_equivalent_flops(&v32, M, 1.0);
    let mut out = Vec::new();
    for (id, published) in [("deepseek-v4-pro", 27.0), ("deepseek-v4-flash", 10.0)] {
        let v4 = load_model(id)?;
        let f = crate::compute::flops_per_token_decode(&v4, M);
        let pct = 100.0 * f / base;
        out.push(Claim {
            id: "v4-flops-at-1m",
            claim: format!("{id} needs {published}% of DeepSeek-V3.2's per-token FLOPs at 1M tokens"),
            source: "DeepSeek-V4 model card (docs/facts.md §1)",
            scenario: format!("one decode token at 1,048,576 tokens of context: {:.0} vs {:.0} GFLOP", f / 1e9, base / 1e9),
            published,
            kvsim: (pct * 10.0).round() / 10.0,
            unit: PCT,
            tolerance: Some(3.0),
            verdict: verdict(published, pct, 3.0, PCT),
            why: "2 FLOPs per active parameter plus attention: V3.2 attends to its top-2048 tokens but its indexer scores all 1M (64 heads × 128 dims per token per layer, which dominates); V4 scores and attends to compressed entries only (1/4 for CSA, 1/128 for HCA) plus a 128-token window".into(),
        });
        let f8 = fp8_equivalent_flops(&v4, M, 0.5);
        let pct8 = 100.0 * f8 / base8;
        out.push(Claim {
            id: "v4-flops-at-1m-fp8-equivalent",
            claim: format!("{id} needs {published}% of DeepSeek-V3.2's per-token FLOPs at 1M tokens (FP8-equivalent)"),
            source: "DeepSeek-V4 model card (docs/facts.md §1)",
            scenario: format!("one decode token at 1,048,576 tokens of context, native formats: {:.0} vs {:.0} FP8-equivalent GFLOP", f8 / 1e9, base8 / 1e9),
            published,
            kvsim: (pct8 * 10.0).round() / 10.0,
            unit: PCT,
            tolerance: Some(3.0),
            verdict: verdict(published, pct8, 3.0, PCT),
            why: "FLOPs weighted by the tensor-core rate of their format against FP8: V4's FP4 experts and FP4 indexer count 0.5, FP8 weights and V3.2's FP8 indexer 1, BF16 tensors (embeddings, attention core on both sides) 2".into(),
        });
    }
    Ok(out)
}

/// DeepSeek-V2 paper: MLA cut the KV cache by 93.3% against DeepSeek 67B (per token). The paper
/// served V2 with its cache quantised to ~6 bits per element on average, the 67B in BF16.
pub fn mla_claims() -> Result<Vec<Claim>> {
    let v2 = load_model("deepseek-v2")?.kv_bytes_per_token(KvFormat::Bf16, 1, false)? as f64;
    let dense =
        load_model("deepseek-llm-67b")?.kv_bytes_per_token(KvFormat::Bf16, 1, false)? as f64;
    let six_bit = v2 * 6.0 / 16.0;
    let as_published = 100.0 * (1.0 - six_bit / dense);
    let same_precision = 100.0 * (1.0 - v2 / dense);
    Ok(vec![
        Claim {
            id: "mla-93",
            claim: "MLA cut DeepSeek's KV cache by 93.3% (DeepSeek-V2 vs DeepSeek-LLM-67B, per token)".into(),
            source: "DeepSeek-V2 paper (arXiv 2405.04434)",
            scenario: format!(
                "per token, all layers: V2 60 × 576 elements at 6 bits = {six_bit:.0} B vs 67B 95 × 2 × 8 × 128 in BF16 = {dense:.0} B"
            ),
            published: 93.3,
            kvsim: (as_published * 100.0).round() / 100.0,
            unit: "% reduction",
            tolerance: Some(0.5),
            verdict: verdict(93.3, as_published, 0.5, "% reduction"),
            why: "as published: V2's cache quantised to ~6 bits per element, the 67B's in BF16".into(),
        },
        Claim {
            id: "mla-93-same-precision",
            claim: "MLA's own share of the 93.3% cut, both caches in BF16".into(),
            source: "DeepSeek-V2 paper (arXiv 2405.04434)",
            scenario: format!("per token: {v2:.0} B vs {dense:.0} B, both BF16"),
            published: 93.3,
            kvsim: (same_precision * 10.0).round() / 10.0,
            unit: "% reduction",
            tolerance: None,
            verdict: reading("MLA alone", "% reduction"),
            why: "the latent (512 + 64 per layer, 60 layers) against 8 GQA heads × 95 layers: the remaining 11 points come from quantising the cache".into(),
        },
    ])
}

fn deployment_eval(
    model: &str,
    chip: &str,
    tp: u64,
    pp: u64,
    kv: Option<KvFormat>,
    dpa: bool,
) -> Result<Report> {
    let mut s = Scenario::new(load_model(model)?, load_chip(chip)?, 32768);
    s.deployment.tp = tp;
    s.deployment.pp = pp;
    if dpa {
        s.deployment.dp = tp;
        s.deployment.dp_attention = true;
        s.deployment.engine = Engine::SGLANG;
    }
    if let Some(k) = kv {
        s.plan.kv = k;
    }
    evaluate(&s)
}

/// "Each conversation occupies roughly a tenth of the memory, so a chip holds ~10× the sessions".
pub fn sessions_claims() -> Result<Vec<Claim>> {
    let v2m = load_model("deepseek-v2")?;
    let dm = load_model("deepseek-llm-67b")?;
    let per = |m: &Model| session_bytes(m, KvFormat::Bf16, 32768).map(|b| b as f64);
    let (v2, dense) = (per(&v2m)?, per(&dm)?);
    let mut out = vec![Claim {
        id: "mla-tenth-per-conversation",
        claim: "each DeepSeek-V2 conversation occupies roughly a tenth of the memory of a DeepSeek-67B one".into(),
        source: "the article kvsim grew from",
        scenario: format!(
            "one 32k conversation, all layers: {:.2} GiB vs {:.2} GiB in BF16; V2 at 6 bits {:.2} GiB",
            v2 / GIB,
            dense / GIB,
            v2 * 6.0 / 16.0 / GIB
        ),
        published: 10.0,
        kvsim: (dense / v2 * 100.0).round() / 100.0,
        unit: "×",
        tolerance: None,
        verdict: reading(&format!("BF16 {:.1}×, 6-bit {:.1}×: ~10× lies between", dense / v2, dense / (v2 * 6.0 / 16.0)), "×"),
        why: "at equal KV budget, sessions scale with these ratios".into(),
    }];
    for (label, kv, dpa) in [
        ("vLLM TP8, both caches BF16", None, false),
        (
            "vLLM TP8, V2's cache in FP8 (the nearest format to its 6 bits)",
            Some(KvFormat::Fp8),
            false,
        ),
        ("SGLang TP8 with DP-attention, both BF16", None, true),
    ] {
        let dense = deployment_eval("deepseek-llm-67b", "h200", 8, 1, None, dpa)?;
        let v2 = deployment_eval("deepseek-v2", "h200", 8, 1, kv, dpa)?;
        let ratio = v2.sessions_per_deployment as f64 / dense.sessions_per_deployment.max(1) as f64;
        out.push(Claim {
            id: "mla-10x-sessions",
            claim: "so a chip holds ~10× the sessions (DeepSeek-V2 vs DeepSeek-LLM-67B)".into(),
            source: "the article kvsim grew from",
            scenario: format!(
                "8 × H200, 32k context, {label}: {} vs {} sessions",
                v2.sessions_per_deployment, dense.sessions_per_deployment
            ),
            published: 10.0,
            kvsim: (ratio * 100.0).round() / 100.0,
            unit: "×",
            tolerance: Some(2.0),
            verdict: verdict(10.0, ratio, 2.0, "×"),
            why: "per chip, tensor parallelism splits the 67B's 8 KV heads 8 ways but replicates V2's latent on every rank, and V2's 236B weights leave less room; DP-attention gives each rank its own latent pool".into(),
        });
    }
    Ok(out)
}

/// FP4 weights against FP16 / FP32, scales included; DeepSeek-V4's FP4-expert / FP8 mix.
pub fn fp4_claims() -> Result<Vec<Claim>> {
    let (r, c) = (7168u128, 2048u128);
    let mut out = Vec::new();
    for (name, f) in [
        ("MXFP4", WeightFormat::Mxfp4),
        ("NVFP4", WeightFormat::Nvfp4),
    ] {
        let b = f.matrix_bytes(r, c) as f64;
        for (base, bf) in [("FP16", WeightFormat::Fp16), ("FP32", WeightFormat::Fp32)] {
            let ratio = bf.matrix_bytes(r, c) as f64 / b;
            let published = if base == "FP16" { 4.0 } else { 8.0 };
            out.push(Claim {
                id: "fp4-4-8x",
                claim: format!("FP4 weights are a {published}× memory reduction against {base}"),
                source: "the article kvsim grew from",
                scenario: format!("one 7168 × 2048 expert matrix, {name} ({:.2} bits with scales) vs {base}", f.bits_per_element()),
                published,
                kvsim: (ratio * 100.0).round() / 100.0,
                unit: "×",
                tolerance: Some(0.5),
                verdict: verdict(published, ratio, 0.5, "×"),
                why: "block scales cost 0.25 (MXFP4) or 0.5 (NVFP4) bits per element: slightly under the 4× / 8× of the raw bit widths".into(),
            });
        }
    }
    let v4 = load_model("deepseek-v4-flash")?;
    let mixed = v4.weight_bytes(&v4.default_plan, false)?.total() as f64;
    let bf16 = v4
        .weight_bytes(&PrecisionPlan::uniform(WeightFormat::Bf16), false)?
        .total() as f64;
    out.push(Claim {
        id: "fp4-fp8-mix",
        claim: "an FP4/FP8 mix (DeepSeek-V4 experts in FP4, the rest FP8) shrinks the weights against BF16".into(),
        source: "DeepSeek-V4 release (checkpoint census in models.json)",
        scenario: format!("deepseek-v4-flash: {:.1} GiB as released vs {:.1} GiB in BF16", mixed / GIB, bf16 / GIB),
        published: 4.0,
        kvsim: (bf16 / mixed * 100.0).round() / 100.0,
        unit: "×",
        tolerance: None,
        verdict: reading("see figure", "×"),
        why: "routed experts (97% of the parameters) in MXFP4 at 4.25 bits, attention and shared experts FP8 block-128, embeddings BF16".into(),
    });
    Ok(out)
}

/// MoE uses a fraction of its parameters per token.
pub fn moe_claims() -> Result<Vec<Claim>> {
    let mut out = Vec::new();
    for (id, published_active, published_total) in [
        ("kimi-k2-instruct", 32.0f64, 1000.0f64),
        ("deepseek-v3", 37.0, 671.0),
    ] {
        let p = load_model(id)?.params(false)?;
        let pct = 100.0 * p.active as f64 / p.total as f64;
        let published: f64 = 100.0 * published_active / published_total;
        out.push(Claim {
            id: "moe-fraction",
            claim: format!("{id} activates {published_active}B of {published_total}B parameters per token"),
            source: "model cards",
            scenario: format!("{:.2}B active of {:.2}B (embedding included)", p.active as f64 / 1e9, p.total as f64 / 1e9),
            published: (published * 100.0).round() / 100.0,
            kvsim: (pct * 100.0).round() / 100.0,
            unit: "% of parameters",
            tolerance: Some(0.5),
            verdict: verdict(published, pct, 0.5, "% of parameters"),
            why: "active = attention, router, shared experts, top-k routed experts, embeddings and lm_head".into(),
        });
    }
    Ok(out)
}

/// "Ascend 950PR is roughly on par with the H100": sessions per chip and decode speed.
pub fn ascend_950pr_claims() -> Result<Vec<Claim>> {
    let mut out = Vec::new();
    for (model, tp, pp) in [("deepseek-v3", 8, 2), ("llama-3.1-70b", 8, 1)] {
        let h = deployment_eval(model, "h100-sxm", tp, pp, None, false)?;
        let a = deployment_eval(model, "ascend-950pr", tp, pp, None, false)?;
        let sessions = a.sessions_per_deployment as f64 / h.sessions_per_deployment.max(1) as f64;
        out.push(Claim {
            id: "950pr-vs-h100-sessions",
            claim: format!("Ascend 950PR is roughly on par with the H100 (sessions, {model})"),
            source: "the article kvsim grew from",
            scenario: format!("32k context, TP{tp} × PP{pp}: {} vs {} sessions", a.sessions_per_deployment, h.sessions_per_deployment),
            published: 1.0,
            kvsim: (sessions * 100.0).round() / 100.0,
            unit: "×",
            tolerance: Some(0.25),
            verdict: verdict(1.0, sessions, 0.25, "×"),
            why: "128 GB against 80 GB: after the same weights the 950PR keeps far more for the KV cache".into(),
        });
        let speed = |r: &Report| {
            r.speed
                .as_ref()
                .map_or(0.0, |s| s.tokens_per_second_per_chip)
        };
        let ratio = speed(&a) / speed(&h).max(1e-12);
        out.push(Claim {
            id: "950pr-vs-h100-speed",
            claim: format!("Ascend 950PR is roughly on par with the H100 (decode speed, {model})"),
            source: "the article kvsim grew from",
            scenario: format!(
                "32k context, TP{tp} × PP{pp}, each at the batch its memory allows: {:.0} vs {:.0} tokens/s per chip",
                speed(&a),
                speed(&h)
            ),
            published: 1.0,
            kvsim: (ratio * 100.0).round() / 100.0,
            unit: "×",
            tolerance: Some(0.25),
            verdict: verdict(1.0, ratio, 0.25, "×"),
            why: "decode is memory-bound here: 1.6 TB/s (950PR, announced) against 3.35 TB/s; its larger batch recovers part of it".into(),
        });
    }
    Ok(out)
}

/// "A GB300 has 3.6× the memory of an H100".
pub fn gb300_claim() -> Result<Vec<Claim>> {
    let gb = load_chip("gb300")?;
    let h = load_chip("h100-sxm")?;
    let spec = gb.memory_gb.unwrap_or(0.0) / h.memory_gb.unwrap_or(1.0);
    let usable =
        gb.memory_bytes().map_or(0, |m| m.0) as f64 / h.memory_bytes().map_or(1, |m| m.0) as f64;
    Ok(vec![Claim {
        id: "gb300-3.6x",
        claim: "a GB300 has 3.6× the memory of an H100".into(),
        source: "the article kvsim grew from; NVIDIA spec sheets",
        scenario: format!("288 GB vs 80 GB as sold ({spec:.2}×); as the runtime sees them {usable:.2}×"),
        published: 3.6,
        kvsim: (usable * 100.0).round() / 100.0,
        unit: "×",
        tolerance: Some(0.1),
        verdict: verdict(3.6, usable, 0.1, "×"),
        why: "spec-sheet sizes; kvsim takes the GB300's visible memory as 288 GiB × 79.19/80 (no device-reported figure)".into(),
    }])
}

/// Every claim kvsim checks.
pub fn all() -> Result<Vec<Claim>> {
    let mut out = mla_claims()?;
    out.extend(sessions_claims()?);
    out.extend(v4_kv_claims()?);
    out.extend(v4_flops_claims()?);
    out.extend(fp4_claims()?);
    out.extend(moe_claims()?);
    out.extend(ascend_950pr_claims()?);
    out.extend(gb300_claim()?);
    out.extend(gb300_realtime_claims()?);
    Ok(out)
}

/// Best decode tokens per second per chip with every decode step within `tpot` seconds: the
/// largest batch (up to what the KV cache holds) whose step fits, by bisection (step time
/// grows with batch). None when not even one session fits the time or the memory.
pub fn tokens_per_chip_at_interactivity(s: &Scenario, tpot: f64) -> Result<Option<(u64, f64)>> {
    let cap = evaluate(s)?.sessions_per_deployment;
    let at = |b: u64| -> Result<Option<(f64, f64)>> {
        let mut x = s.clone();
        x.batch = Some(b);
        Ok(evaluate(&x)?
            .speed
            .map(|sp| (sp.decode_step_seconds, sp.tokens_per_second_per_chip)))
    };
    if cap == 0 || at(1)?.is_none_or(|(t, _)| t > tpot) {
        return Ok(None);
    }
    let (mut lo, mut hi) = (1u64, cap + 1); // lo fits, hi does not
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if at(mid)?.is_some_and(|(t, _)| t <= tpot) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(at(lo)?.map(|(_, tps)| (lo, tps)))
}

/// NVIDIA: a GB300 NVL72 gives 30× the real-time inference of an H100 cluster at 25× lower
/// energy per inference. NVIDIA's footnote for the same claim on GB200 NVL72 (product page):
/// a 1.8T-parameter MoE, 32,768 input and 1,024 output tokens, 50 ms per output token, per-GPU
/// throughput of 72 liquid-cooled GPUs against 8 × HGX H100 (64 GPUs). kvsim has no GPT-MoE-1.8T:
/// DeepSeek-V3 (671B MoE) stands in, and the factors are kvsim's roofline, not a measurement.
pub fn gb300_realtime_claims() -> Result<Vec<Claim>> {
    const TPOT: f64 = 0.05;
    let ctx = 32_768 + 1_024;
    let scenario = |chip: &str, tp: u64, pp: u64, dp: u64, fp4: bool| -> Result<Scenario> {
        let mut s = Scenario::new(load_model("deepseek-v3")?, load_chip(chip)?, ctx);
        s.deployment.tp = tp;
        s.deployment.pp = pp;
        s.deployment.dp = dp;
        s.deployment.ep = tp;
        if fp4 {
            s.plan.set_linear(WeightFormat::Nvfp4);
        }
        Ok(s)
    };
    let h100 = scenario("h100-sxm", 8, 2, 1, false)?;
    let gb_fp8 = scenario("gb300", 8, 1, 1, false)?;
    let gb_fp4 = scenario("gb300", 8, 1, 1, true)?;
    let tps = |s: &Scenario| -> Result<(u64, f64)> {
        Ok(tokens_per_chip_at_interactivity(s, TPOT)?.unwrap_or((0, 0.0)))
    };
    let (hb, ht) = tps(&h100)?;
    let (g8b, g8t) = tps(&gb_fp8)?;
    let (g4b, g4t) = tps(&gb_fp4)?;
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let total = g4t / ht.max(1e-12);
    let bw = 8.0 / 3.35;
    let fp4 = g4t / g8t.max(1e-12);
    let rest = total / (bw * fp4);
    let (h_tdp, g_tdp) = (
        load_chip("h100-sxm")?.tdp_w.unwrap_or(0.0),
        load_chip("gb300")?.tdp_w.unwrap_or(0.0),
    );
    let energy = (h_tdp / ht.max(1e-12)) / (g_tdp / g4t.max(1e-12));
    let source = "NVIDIA GB300 NVL72 product page; scenario from NVIDIA's GB200 NVL72 footnote";
    let setup = format!(
        "DeepSeek-V3 (stand-in for a 1.8T MoE), {} tokens, every decode step ≤ 50 ms: 16 H100 (TP8 PP2, FP8 weights) batch {hb}, {ht:.0} tok/s per GPU; 72 GB300 as 9 replicas of TP8 EP8 (NVFP4 weights; figures of one) batch {g4b}, {g4t:.0} tok/s per GPU",
        thousands(ctx)
    );
    // Prices are inputs of the comparison, not quotes: the catalog has none for these chips.
    let (hp, gp) = (2.5, 6.0);
    let usd = |p: f64, t: f64| p / 3600.0 / t.max(1e-12) * 1e6;
    Ok(vec![
        Claim {
            id: "gb300-30x-realtime",
            claim: "a GB300 NVL72 delivers 30× faster real-time inference than an H100 cluster (per GPU, at 50 ms per token)".into(),
            source,
            scenario: setup.clone(),
            published: 30.0,
            kvsim: round(total),
            unit: "×",
            tolerance: Some(3.0),
            verdict: verdict(30.0, total, 3.0, "×"),
            why: format!(
                "kvsim's factors: bandwidth 8.0/3.35 = {bw:.2}×; NVFP4 over FP8 weights on the GB300 {fp4:.2}× (FP8 batch {g8b}, {g8t:.0} tok/s per GPU); the rest, {rest:.2}×, from memory per GPU and the batch a 50 ms step allows (the roofline charges no communication across the 72-GPU NVLink domain, nor the InfiniBand hops an 8-node H100 cluster adds, which NVIDIA's comparison includes)"
            ),
        },
        Claim {
            id: "gb300-25x-energy",
            claim: "a GB300 NVL72 needs 25× less energy per inference than an H100 cluster".into(),
            source,
            scenario: format!("{setup}; energy per token = TDP ({h_tdp:.0} W, {g_tdp:.0} W) / tokens per second per GPU"),
            published: 25.0,
            kvsim: round(energy),
            unit: "×",
            tolerance: Some(3.0),
            verdict: verdict(25.0, energy, 3.0, "×"),
            why: "TDP over throughput per GPU: the GB300's higher power is repaid by its throughput at the same interactivity; CPUs, switches and cooling are not counted".into(),
        },
        Claim {
            id: "gb300-usd-per-mtok",
            claim: "cost per million output tokens, GB300 NVL72 against an H100 cluster".into(),
            source: "kvsim's roofline at given prices",
            scenario: format!(
                "{setup}; at {hp:.2} USD per H100-hour and {gp:.2} USD per GB300-hour (inputs, not quotes): {:.2} vs {:.2} USD per million tokens",
                usd(hp, ht),
                usd(gp, g4t)
            ),
            published: 0.0,
            kvsim: round(usd(hp, ht) / usd(gp, g4t).max(1e-12)),
            unit: "×",
            tolerance: None,
            verdict: reading("see figure", "×"),
            why: "H100 cost over GB300 cost per million output tokens; the ratio moves with the prices given".into(),
        },
    ])
}

#[cfg(test)]
mod realtime_tests {
    use super::*;

    // The batch found is the largest whose decode step stays within the time (or all the memory
    // holds), and the headline ratio is the ratio of the two per-GPU figures.
    #[test]
    fn interactivity_batch_is_the_largest_that_fits() {
        let mut s = Scenario::new(
            load_model("llama-3.1-8b").unwrap(),
            load_chip("h100-sxm").unwrap(),
            8192,
        );
        let (b, _) = tokens_per_chip_at_interactivity(&s, 0.02).unwrap().unwrap();
        let step = |s: &mut Scenario, b: u64| {
            s.batch = Some(b);
            evaluate(s).unwrap().speed.unwrap().decode_step_seconds
        };
        assert!(step(&mut s, b) <= 0.02);
        let cap = evaluate(&Scenario {
            batch: None,
            ..s.clone()
        })
        .unwrap()
        .sessions_per_deployment;
        assert!(b == cap || step(&mut s, b + 1) > 0.02, "{b} {cap}");
        let c = gb300_realtime_claims().unwrap();
        assert!(c[0].kvsim > 2.39 && c[0].kvsim < 30.0, "{}", c[0].kvsim);
    }
}

#[cfg(test)]
mod v4_tests {
    use super::*;

    // Indexer FLOPs at 1M tokens: V3.2 scores every token in 61 layers, 2 · 64 · 128 =
    // 16,384 FLOPs per key; V4-Flash scores one entry per 4 tokens in its 21 CSA layers.
    #[test]
    fn indexer_flops_by_hand() {
        const M: u64 = 1 << 20;
        let v32 = load_model("deepseek-v3.2-exp").unwrap();
        assert_eq!(indexer_flops(&v32, M), 16_384.0 * M as f64 * 61.0);
        let flash = load_model("deepseek-v4-flash").unwrap();
        assert_eq!(indexer_flops(&flash, M), 16_384.0 * 262_144.0 * 21.0);
        assert_eq!(fp8_equivalent(WeightFormat::Mxfp4), 0.5);
        assert_eq!(fp8_equivalent(WeightFormat::Fp8Block128), 1.0);
        assert_eq!(fp8_equivalent(WeightFormat::Bf16), 2.0);
        assert_eq!(fp8_equivalent(WeightFormat::Int4 { group: 32 }), 2.0);
    }

    // Every verdict names its tolerance and unit, or says it is a reading.
    #[test]
    fn verdicts_show_tolerance_and_unit() {
        assert_eq!(
            verdict(10.0, 11.4, 1.5, PCT),
            "consistent (tolerance ±1.5 % of DeepSeek-V3.2)"
        );
        assert_eq!(
            verdict(10.0, 12.0, 1.5, "×"),
            "kvsim higher by 2.00 × (tolerance ±1.5 ×)"
        );
        for c in all().unwrap() {
            assert!(
                c.verdict.contains(c.unit)
                    && (c.tolerance.is_some() == c.verdict.contains("tolerance ±")),
                "{}: {}",
                c.id,
                c.verdict
            );
        }
    }
}
