//! FLOPs, memory traffic and roofline speed: decode and prefill, per chip and per format.
//!
//! Work per token is 2 FLOPs per multiply-add of the active parameters (lm_head included, the
//! embedding lookup free, MoE counting top-k + shared experts) plus each attention family's
//! context-dependent term. A decode step of B sessions reads the weights once (for MoE, the
//! experts B·top-k uniformly routed tokens are expected to touch), every session's KV and writes
//! one record per layer. Time = max(compute, memory) at the achievable fraction of peak.

use crate::error::Result;
use crate::model::figures::ModelFigures;
use crate::model::{Ffn, LayerGroup, Model, Stage};
use crate::precision::{PerGroup, PrecisionPlan, TensorGroup, WeightFormat};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Speed and cost figures of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    /// FLOPs of one decode token at `context` (whole model).
    pub flops_per_token_decode: f64,
    /// FLOPs to prefill a prompt of `prompt_tokens` (whole model, causal).
    pub flops_prefill: f64,
    pub prompt_tokens: u64,
    /// Sessions decoded together (deployment-wide).
    pub batch: u64,
    /// Bytes one chip moves per decode step (weights read, KV read and written).
    pub bytes_per_decode_step: f64,
    pub compute_seconds_per_step: f64,
    pub memory_seconds_per_step: f64,
    /// Time of one decode step: one token for every session of the batch.
    pub decode_step_seconds: f64,
    /// "memory" or "compute".
    pub decode_bound: std::borrow::Cow<'static, str>,
    pub ttft_seconds: f64,
    pub tokens_per_second_per_session: f64,
    pub tokens_per_second_per_chip: f64,
    /// Model FLOPs utilisation and memory-bandwidth utilisation at this batch.
    pub mfu: f64,
    pub mbu: f64,
    /// The formats the matmuls run in on this chip, with fallbacks stated (shared with the
    /// chip's and plan's roofline, which evaluations reuse).
    pub compute_formats: Arc<Vec<String>>,
    /// Batch the memory allows (sessions per deployment) and the speed there.
    pub max_batch: u64,
    pub tokens_per_second_per_chip_at_max_batch: f64,
    pub usd_per_hour_per_chip: Option<f64>,
    pub usd_per_million_tokens: Option<f64>,
    pub joules_per_token: Option<f64>,
}

fn context_flops(m: &Model, stage: &Stage, c: u64, prefill: bool) -> f64 {
    stage_groups(m, stage)
        .iter()
        .map(|g| g.attention.context_flops(c, prefill) * g.count as f64)
        .sum()
}

/// Decode FLOPs of one token at context `c`, whole model (MTP layers not included).
pub fn flops_per_token_decode(m: &Model, c: u64) -> f64 {
    let st = Stage::whole(m.layers());
    m.walked().matmul_flops.values().sum::<f64>() + context_flops(m, &st, c, false)
}

/// Decode FLOPs of one token at context `c`, whole model, as (matmuls by tensor group, the
/// context-dependent attention part): the two terms of [`flops_per_token_decode`].
pub fn decode_flops_parts(m: &Model, c: u64) -> (PerGroup<f64>, f64) {
    let st = Stage::whole(m.layers());
    (m.walked().matmul_flops, context_flops(m, &st, c, false))
}

/// FLOPs to prefill a prompt of `p` tokens, whole model.
pub fn flops_prefill(m: &Model, p: u64) -> f64 {
    let st = Stage::whole(m.layers());
    m.walked().matmul_flops.values().sum::<f64>() * p as f64 + context_flops(m, &st, p, true)
}

/// Compute class of a weight group's matmuls: weight-only INT4 runs in BF16.
fn class_of(f: WeightFormat) -> &'static str {
    match f {
        WeightFormat::Int4 { .. } | WeightFormat::IntGroup { .. } => "bf16",
        other => other.compute_class(),
    }
}

/// Seconds per FLOP-vector on a chip, and the format notes.
#[derive(Clone)]
struct Rates {
    /// Seconds for the given FLOPs per group (+ attention in BF16).
    per_group: PerGroup<f64>,
    attention: f64,
    formats: Arc<Vec<String>>,
    /// Peak of the dominant format, for MFU.
    peak: f64,
}

/// A chip's peak for one compute class ([`crate::chip::Chip::peak_tflops`]): TFLOPS, the format
/// used, a note when assumed.
type Peak = (f64, &'static str, Option<String>);

/// What [`rates`] reads: the chip's name and peaks, each tensor group's format (its compute
/// class is what counts; formats compare without string comparisons), the efficiency and
/// whether the model has MoE layers.
#[derive(PartialEq)]
struct RatesKey {
    chip: String,
    peaks: std::collections::BTreeMap<String, f64>,
    formats: PerGroup<WeightFormat>,
    eff: u64,
    moe: bool,
}

/// Rates recently computed on this thread: every one-off evaluation builds its roofline afresh,
/// and the chip's lookups and format lines cost more than the rest of the speed figures.
const RATES_MEMO: usize = 4;

thread_local! {
    static RATES: std::cell::RefCell<Vec<(RatesKey, Option<Rates>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// [`rates_uncached`], remembered per chip, plan formats, efficiency and MoE-ness.
fn rates(s: &Scenario, plan: &PrecisionPlan, eff: f64) -> Option<Rates> {
    let formats = PerGroup::splat(WeightFormat::Bf16).map(|g, _| plan.get(g));
    let moe = s.model.groups.iter().any(|g| matches!(g.ffn, Ffn::Moe(_)));
    let hit = |k: &RatesKey| {
        k.eff == eff.to_bits()
            && k.moe == moe
            && k.formats == formats
            && *k.chip == *s.chip.id
            && k.peaks == s.chip.dense_tflops
    };
    if let Some(r) =
        RATES.with_borrow(|memo| memo.iter().find(|(k, _)| hit(k)).map(|x| x.1.clone()))
    {
        return r;
    }
    let r = rates_uncached(s, plan, eff);
    RATES.with_borrow_mut(|memo| {
        if memo.len() >= RATES_MEMO {
            memo.remove(0);
        }
        memo.push((
            RatesKey {
                chip: s.chip.id.to_string(),
                peaks: s.chip.dense_tflops.clone(),
                formats,
                eff: eff.to_bits(),
                moe,
            },
            r.clone(),
        ));
    });
    r
}

fn rates_uncached(s: &Scenario, plan: &PrecisionPlan, eff: f64) -> Option<Rates> {
    let mut per_group = PerGroup::<f64>::default();
    let mut formats: Vec<String> = Vec::new();
    // Each line is written into one buffer and copied only when it is new; neighbouring groups
    // of one class share the chip's lookup (every evaluation builds these).
    let mut line = String::new();
    let mut last: Option<(&str, Peak)> = None;
    for g in TensorGroup::ALL {
        let class = class_of(plan.get(g));
        if last.as_ref().is_none_or(|(c, _)| *c != class) {
            last = Some((class, s.chip.peak_tflops(class)?));
        }
        let Some((_, (t, used, note))) = &last else {
            return None;
        };
        per_group[g] = 1.0 / (t * 1e12 * eff);
        // Norms take no matmul time, and the vision encoder does not run per generated token.
        if matches!(g, TensorGroup::Vectors | TensorGroup::Vision) {
            continue;
        }
        // "{group}: {used}", then " ({note})" when the format falls back.
        line.clear();
        line.push_str(g.name());
        line.push_str(": ");
        line.push_str(used);
        if let Some(n) = note {
            line.push_str(" (");
            line.push_str(n);
            line.push(')');
        }
        if !formats.contains(&line) {
            formats.push(line.clone());
        }
    }
    let (t, _, _) = s.chip.peak_tflops("bf16")?;
    let main = if s.model.groups.iter().any(|g| matches!(g.ffn, Ffn::Moe(_))) {
        TensorGroup::RoutedExperts
    } else {
        TensorGroup::DenseFfn
    };
    let peak = 1.0 / per_group[main] / eff;
    Some(Rates {
        per_group,
        attention: 1.0 / (t * 1e12 * eff),
        formats: Arc::new(formats),
        peak,
    })
}

/// Expected fraction of a layer's routed experts that `tokens` uniformly routed tokens touch.
pub fn experts_touched(experts: u64, top_k: u64, tokens: f64) -> f64 {
    if experts == 0 {
        return 0.0;
    }
    1.0 - (1.0 - top_k as f64 / experts as f64).powf(tokens)
}

/// Per-chip inputs of the roofline that the memory evaluation already computed.
pub struct ChipState {
    pub stage: Stage,
    pub weights_bytes: f64,
    pub routed_expert_bytes: f64,
    pub record_bytes_per_token: f64,
    pub chips: u64,
    pub sessions_max: u64,
}

/// Roofline speed and cost for the scenario on its deployment.
pub fn speed(s: &Scenario, cs: &ChipState) -> Result<Option<Speed>> {
    let mut out = None;
    if let Some(r) = Roofline::new(s) {
        r.speed_into(s, cs, &mut out);
    }
    Ok(out)
}

/// The layer kinds of a stage, borrowed when the stage is the whole model (no copy per call).
fn stage_groups<'a>(m: &'a Model, st: &Stage) -> std::borrow::Cow<'a, [LayerGroup]> {
    m.stage_groups(st.start, st.end)
}

/// What the roofline of a scenario does not owe to its context: the chip's rates and bandwidth,
/// the matmul FLOPs per token and their time. A sweep over contexts builds it once.
#[derive(Debug, Clone, PartialEq)]
pub struct Roofline {
    /// Achievable bandwidth of one rank, bytes/s.
    bw: f64,
    per_group: PerGroup<f64>,
    attention: f64,
    formats: Arc<Vec<String>>,
    peak: f64,
    /// Matmul FLOPs of one token (whole model, lm_head included) and their time at the rates.
    mm_flops: f64,
    mm_seconds: f64,
    /// Experts and top-k of the first MoE kind.
    moe: Option<(u64, u64)>,
}

impl Roofline {
    /// None when the chip lacks a bandwidth or compute figure.
    pub fn new(s: &Scenario) -> Option<Roofline> {
        Roofline::with_walked(s, &s.model.figures())
    }

    /// [`Roofline::new`] with the model's figures already checked.
    pub(crate) fn with_walked(s: &Scenario, f: &ModelFigures<'_>) -> Option<Roofline> {
        let m = &s.model;
        let bw = s
            .chip
            .memory_bandwidth_tbps
            // Each rank of a multi-rank chip (Ascend 910C) reads its own memory at its share.
            .map(|b| b * 1e12 * s.bandwidth_efficiency / s.chip.ranks() as f64)?;
        let r = rates(s, &s.plan, s.compute_efficiency)?;
        let mm = f.walked().matmul_flops;
        Some(Roofline {
            bw,
            mm_flops: mm.values().sum::<f64>(),
            mm_seconds: mm
                .values()
                .zip(r.per_group.values())
                .map(|(f, t)| f * t)
                .sum::<f64>(),
            per_group: r.per_group,
            attention: r.attention,
            formats: r.formats,
            peak: r.peak,
            moe: m.groups.iter().find_map(|g| match &g.ffn {
                // Zero-compute experts touch no weights: only the real experts a token picks count.
                Ffn::Moe(x) => Some((x.experts, x.active_experts())),
                _ => None,
            }),
        })
    }

    /// The speed of `s` (the scenario this was built from, at any context) into `out`, reusing
    /// its lists and text when it already holds figures.
    pub fn speed_into(&self, s: &Scenario, cs: &ChipState, out: &mut Option<Speed>) {
        self.speed_with(s, cs, out, None);
    }

    /// [`Roofline::speed_into`] for a roofline used once (its format lines are shared either way).
    pub fn into_speed(self, s: &Scenario, cs: &ChipState, out: &mut Option<Speed>) {
        let formats = Arc::clone(&self.formats);
        self.speed_with(s, cs, out, Some(formats));
    }

    /// The speed into `out`; `owned` holds this roofline's format lines when they were moved out.
    fn speed_with(
        &self,
        s: &Scenario,
        cs: &ChipState,
        out: &mut Option<Speed>,
        owned: Option<Arc<Vec<String>>>,
    ) {
        let (m, d) = (&s.model, &s.deployment);
        let bw = self.bw;
        if s.batch.is_none() && cs.sessions_max == 0 {
            // Nothing fits: there is no batch to run at.
            *out = None;
            return;
        }
        let c = s.context;
        let prompt = s.prompt.unwrap_or(c);
        let whole = Stage::whole(m.layers());
        let decode_context = context_flops(m, &whole, c, false);
        let prefill_context = context_flops(m, &whole, prompt, true);
        let decode_tok = self.mm_flops + decode_context;
        let prefill = self.mm_flops * prompt as f64 + prefill_context;
        let chips = cs.chips.max(1) as f64;
        let batch = s.batch.unwrap_or(cs.sessions_max).max(1);

        // Time of the compute: each group's FLOPs at its format's rate, spread over all chips.
        let seconds_per_token = self.mm_seconds + decode_context * self.attention;
        let pools = d.dp.max(1) as f64;
        let pp = d.pp.max(1) as f64;
        let per_session_read: f64 = stage_groups(m, &cs.stage)
            .iter()
            .map(|g| {
                g.attention
                    .kv_read_bytes(s.plan.kv, s.plan.state, d.attention_tp(), c)
                    .unwrap_or(0.0)
                    * g.count as f64
            })
            .sum();
        // One full step gives every session one token. With pipeline parallelism the batch runs as
        // `pp` micro-batches: each chip reads its weights once per micro-batch and its KV once per step.
        let at = |b: u64| -> (f64, f64, f64, f64) {
            let b = b as f64;
            let compute = seconds_per_token * b / chips;
            let per_micro_batch = b / pools / pp;
            let expert_share = self
                .moe
                .map(|(experts, top_k)| experts_touched(experts, top_k, per_micro_batch))
                .unwrap_or(1.0);
            let weights = cs.weights_bytes - cs.routed_expert_bytes * (1.0 - expert_share);
            let kv = (b / pools) * (per_session_read + cs.record_bytes_per_token);
            let bytes = pp * weights + kv;
            let memory = bytes / bw;
            (compute, memory, bytes, compute.max(memory))
        };
        let (compute, memory, bytes, step) = at(batch);
        let tps_chip = batch as f64 / step / chips;
        let max_batch = cs.sessions_max;
        let tps_max = if max_batch > 0 {
            max_batch as f64 / at(max_batch).3 / chips
        } else {
            0.0
        };

        // TTFT: one prompt alone, its FLOPs over every chip, or the weights read once if slower.
        let prefill_seconds = self.mm_seconds * prompt as f64 + prefill_context * self.attention;
        // One prompt alone runs on one tensor-parallel group, stage after stage.
        let ttft = (prefill_seconds / d.tp.max(1) as f64).max(pp * cs.weights_bytes / bw);
        let price = s.price_per_hour.or(s.chip.price_per_hour_usd);
        let achieved = decode_tok * batch as f64 / step / chips;
        let bound = if compute >= memory {
            "compute"
        } else {
            "memory"
        };
        let (decode_bound, compute_formats) = match out.take() {
            Some(old) => {
                let mut formats = old.compute_formats;
                match owned {
                    Some(f) => formats = f,
                    None if !Arc::ptr_eq(&formats, &self.formats) => {
                        formats = Arc::clone(&self.formats)
                    }
                    None => {}
                }
                (std::borrow::Cow::Borrowed(bound), formats)
            }
            None => (
                std::borrow::Cow::Borrowed(bound),
                owned.unwrap_or_else(|| self.formats.clone()),
            ),
        };
        *out = Some(Speed {
            flops_per_token_decode: decode_tok,
            flops_prefill: prefill,
            prompt_tokens: prompt,
            batch,
            bytes_per_decode_step: bytes,
            compute_seconds_per_step: compute,
            memory_seconds_per_step: memory,
            decode_step_seconds: step,
            decode_bound,
            ttft_seconds: ttft,
            tokens_per_second_per_session: 1.0 / step,
            tokens_per_second_per_chip: tps_chip,
            mfu: achieved / self.peak,
            mbu: bytes / step / (bw / s.bandwidth_efficiency),
            compute_formats,
            max_batch,
            tokens_per_second_per_chip_at_max_batch: tps_max,
            usd_per_hour_per_chip: price,
            usd_per_million_tokens: price.map(|p| p / 3600.0 / tps_chip * 1e6),
            joules_per_token: s.chip.tdp_w.map(|w| w / tps_chip),
        });
    }
}
