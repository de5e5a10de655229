//! `evaluate`: weights, budget, KV per token and per session, pages, sessions — per chip and per
//! deployment — and the roofline speed, for one [`Scenario`]. Pure: no I/O.

use crate::chip::MemorySource;
use crate::compute::{ChipState, Roofline, Speed};
use crate::engine::{
    overhead, Accounting, Batching, Capacity, Engine, PoolParams, PoolPlan, StageMemory,
};
use crate::error::{Error, Result};
use crate::kv::{self, KvSpec, LayerKv};
use crate::model::figures::{Described, ModelFigures};
use crate::model::{
    Attention, ExpertPad, Ffn, MlaLayout, Model, ParamCounts, Sharding, Stage, WeightBytes,
};
use crate::precision::{PrecisionPlan, TensorGroup};
use crate::scenario::Scenario;
use crate::units::{thousands, GibFixed};
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::sync::Arc;

/// The result of one evaluation. Per-chip figures are those of the binding pipeline stage (the
/// one with the fewest KV blocks, which the engine sizes every stage to). Bytes and counts are
/// integers; GiB figures are for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    // Shared texts (`Arc<str>`, serialised as strings): a report copies pointers, not text.
    pub model: Arc<str>,
    pub architecture: Arc<str>,
    pub attention: Arc<str>,
    pub ffn: Arc<str>,
    pub chip: Arc<str>,
    pub chip_name: Arc<str>,
    pub context: u64,
    pub engine: Engine,
    pub tp: u64,
    pub pp: u64,
    pub ep: u64,
    pub dp: u64,
    pub dp_attention: bool,
    pub chips: u64,
    pub block_size: u64,
    /// vLLM gpu_memory_utilization / SGLang mem_fraction_static / TensorRT-LLM free_gpu_memory_fraction.
    pub memory_fraction: f64,
    /// vLLM max_num_batched_tokens in force (the profiling batch; a window layer's chunk).
    pub max_num_batched_tokens: u64,
    pub precision: PrecisionPlan,
    pub mtp_included: bool,
    /// The next-n layer is a one-layer EAGLE draft head (`--eagle`), not the model's MTP layers.
    pub eagle_included: bool,
    pub params_total: u64,
    pub params_active: u64,
    pub weights_bytes_per_chip: u64,
    /// What the caching allocator's segments under the weights hold beyond the parameters and
    /// the engine's measurement counts (src/engine/allocator.rs): the blocks' rounding in vLLM's
    /// weights, the segments whole in SGLang's, the free space also in vLLM-Ascend ≤ 0.14's
    /// non-torch memory; already in those figures, 0 where not counted.
    pub weight_segments_bytes_per_chip: u64,
    /// kvsim's own count per tensor group (also when the total comes from the checkpoint).
    pub weights_by_group: WeightBytes,
    pub weights_measured: bool,
    /// Where `weights_bytes_per_chip` comes from: kvsim's own count, the checkpoint's
    /// safetensors headers (apportioned per chip as kvsim's count splits), or `--weights-gib`.
    pub weights_source: WeightsSource,
    /// Weight bytes summed over every chip (replicas included).
    pub weights_bytes_per_deployment: u64,
    pub total_memory_bytes_per_chip: u64,
    pub memory_source: MemorySource,
    /// Device memory other processes hold (`--other-processes`; absent when none).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_processes_bytes_per_chip: u64,
    pub activation_bytes_per_chip: u64,
    pub non_torch_bytes_per_chip: u64,
    pub cuda_graph_bytes_per_chip: u64,
    /// Bytes the engine gives the KV cache (0 when weights and overheads do not fit).
    pub kv_budget_bytes_per_chip: u64,
    /// Shortfall when the weights and overheads alone exceed the usable memory.
    pub shortfall_bytes_per_chip: u64,
    /// Pipeline stage that limits the block count (0-based).
    pub binding_stage: u64,
    pub kv_layers_per_chip: u64,
    /// Raw record bytes of one token summed over the layers that keep tokens (before windows,
    /// compression and fixed states are applied).
    pub kv_bytes_per_token_per_chip: u64,
    /// Bytes one session of `context` tokens holds on one chip, rounded up to whole blocks
    /// (windows, compression and linear-attention states included).
    pub kv_bytes_per_session_per_chip: u64,
    /// How capacity was computed: uniform blocks, vLLM's hybrid allocator, SGLang's SWA split,
    /// or per-session bytes.
    pub kv_accounting: Accounting,
    /// What each layer keeps (per chip), identical layers merged.
    pub kv_layout: Vec<LayerKv>,
    pub blocks_per_session: u64,
    pub kv_blocks_per_chip: u64,
    /// vLLM's "GPU KV cache size: N tokens" (SGLang: max_total_num_tokens).
    pub kv_capacity_tokens_per_chip: u64,
    /// vLLM's "Maximum concurrency for `<context>` tokens per request" (per DP replica).
    pub max_concurrency: f64,
    /// Whole sessions of `context` tokens one KV pool (one DP replica) holds.
    pub sessions_per_replica: u64,
    /// Whole sessions the deployment holds: replicas × sessions per replica.
    pub sessions_per_deployment: u64,
    /// Sessions per deployment divided by its chips, not rounded: 3 sessions on 16 chips are
    /// 0.1875 per chip, where rounding down said 0 (whole sessions stay integers per deployment).
    pub sessions_per_chip: f64,
    /// Roofline speed and cost (absent when the chip lacks bandwidth or peak figures).
    #[serde(flatten)]
    pub speed: Option<Speed>,
    pub warnings: Vec<String>,
    /// One stable code per warning, in the same order (`model_note`, `weights_computed`,
    /// `weights_from_checkpoint`, `batch_exceeds_sessions`, `no_speed_figures`, `no_kv_fits`,
    /// `context_exceeds_max_position`, `idle_ranks`, `spec_sheet_memory`, `non_torch_estimated`,
    /// `other_processes`, `engine_refuses_start`,
    /// `weight_segments`,
    /// and the engine's KV format rules: `kv_format_engine_default`, `kv_format_engine_rewrite`,
    /// `kv_format_refused`, `indexer_format_ignored`): the typed rows' list.
    #[serde(skip)]
    pub warning_codes: Vec<&'static str>,
}

/// Where the weights figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightsSource {
    Computed,
    Checkpoint,
    Measured,
}

/// The checkpoint's stored bytes (whole model, as loaded) when they describe this scenario, and
/// the warning that says so — or why kvsim computes instead.
fn checkpoint_weights(s: &Scenario, f: &ModelFigures<'_>) -> (Option<u64>, Option<String>) {
    let m = &s.model;
    let Some(c) = &m.checkpoint else {
        return (None, None);
    };
    let gib = crate::units::to_gib;
    if s.overrides.weights.is_some() {
        return (None, None);
    }
    if let Some(why) = &c.stale {
        return (
            None,
            Some(format!(
                "weights computed: {why}, so the stored bytes of the checkpoint ({}) no longer describe the model",
                c.source
            )),
        );
    }
    if s.plan.weights != m.default_plan.weights {
        return (
            None,
            Some(format!(
                "weights computed for the requested precision: the checkpoint ({}) stores {:.2} GiB in its own",
                c.source,
                gib(c.loaded_bytes(s.mtp))
            )),
        );
    }
    let bytes = c.loaded_bytes(s.mtp);
    let counted = f.weight_bytes(&s.plan, s.mtp).map_or(String::new(), |w| {
        format!(", kvsim counts {} B", thousands(w.total()))
    });
    let mut note = format!(
        "weights: {:.2} GiB from the checkpoint's safetensors headers ({}): {} B in {} tensors of {} files{counted}; each chip holds the share kvsim's count gives it",
        gib(bytes),
        c.source,
        thousands(bytes),
        c.tensors,
        c.files,
    );
    if c.mtp_bytes > 0 && m.mtp.is_none() {
        // Layers past num_hidden_layers that the config does not declare as MTP: say so loudly.
        note += &format!(
            "; {:.2} GiB of tensors sit in MTP or layers past the config's {} decoder layers, which it does not declare: {}",
            gib(c.mtp_bytes),
            m.layers(),
            if s.mtp { "counted (--mtp)" } else { "left out (--mtp counts them)" }
        );
    } else if c.mtp_bytes > 0 && !s.mtp {
        note += &format!(
            "; {:.2} GiB of MTP layers left out (--mtp counts them)",
            gib(c.mtp_bytes)
        );
    }
    (Some(bytes), Some(note))
}

/// `part / whole` of `bytes`, rounded to the nearest byte.
/// Whether `pad` changes any routed expert's shape on one rank.
fn pads_experts(m: &Model, sharding: &Sharding, pad: &ExpertPad) -> bool {
    let off = |n: u64, k: u64| n % k.max(1) != 0;
    m.groups.iter().any(|g| match &g.ffn {
        Ffn::Moe(e) => {
            off(m.hidden, pad.hidden)
                || off(
                    e.expert_intermediate.div_ceil(sharding.expert_tp.max(1)),
                    pad.intermediate,
                )
        }
        Ffn::Dense { .. } => false,
    })
}

fn share(bytes: u64, part: u64, whole: u64) -> Result<u64> {
    let v = (bytes as u128 * part as u128 + whole as u128 / 2) / whole.max(1) as u128;
    u64::try_from(v).map_err(|_| Error::overflow("checkpoint weight share"))
}

fn checked_mul(a: u64, b: u64, what: &str) -> Result<u64> {
    a.checked_mul(b).ok_or_else(|| Error::overflow(what))
}

/// One pipeline stage's per-chip inputs that do not depend on context or memory size.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedStage {
    pub stage: Stage,
    pub weights: WeightBytes,
    /// The activation estimate's terms (the memory figure is at the batch in force).
    pub activation: overhead::Activation,
    /// Weights (measured or computed) and the engine's overheads, per chip.
    pub memory: StageMemory,
    /// What each layer keeps per sequence on one chip.
    pub specs: Vec<LayerKv>,
    /// Weights held but not read by a decode step: MLA matrices the engine's decode replaces by
    /// matrices derived from them ([`crate::engine::ServingEngine::mla_decode_unread`]; 0 for
    /// measured weights).
    pub decode_unread: u64,
    /// What the weights' allocator segments add that `memory.weights` and `memory.non_torch`
    /// include ([`crate::engine::ServingEngine::weight_segments`]; 0 when not charged).
    pub segment_tails: u64,
    /// The part of `segment_tails` in `memory.weights`, and in `memory.non_torch`.
    pub segment_weights: u64,
    pub segment_non_torch: u64,
    /// What the engine's capacity owes to `specs` and the page size (used while they and the
    /// engine are those it was made from).
    plan: PoolPlan,
    /// The profiling forward replayed through the caching allocator, when the engine charges
    /// what it reserved (vLLM V0 ≤ 0.6.3, [`crate::engine::allocator::Charge::ReservedAfterProfile`]).
    pub eager: Option<std::sync::Arc<EagerReserve>>,
}

/// A stage's profiling forward and the allocator it runs in ([`crate::engine::eager_trace`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EagerReserve {
    pub trace: crate::engine::eager_trace::Trace,
    pub allocator: crate::engine::allocator::CachingAllocator,
}

impl PreparedStage {
    /// The activation charged at `batched` tokens: the estimate's peak, or what the caching
    /// allocator reserves over the replayed forward where the engine charges that and it is more.
    pub fn activation_at(&self, batched: u64) -> u64 {
        activation_with(&self.activation, self.eager.as_deref(), batched)
    }
}

/// The activation charged at `batched` tokens: the estimate's peak, or what the caching allocator
/// reserves over the replayed forward where the engine charges that and it is more.
fn activation_with(a: &overhead::Activation, eager: Option<&EagerReserve>, batched: u64) -> u64 {
    let estimate = a.bytes(batched);
    eager.map_or(estimate, |e| {
        estimate.max(e.trace.reserved_peak(e.allocator, batched))
    })
}

/// Everything of a scenario but the context and the chip's memory size: per-stage weights,
/// overheads and KV layouts. Sweeps reuse it across contexts and chips of the same deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub stages: Vec<PreparedStage>,
    pub weights_source: WeightsSource,
    /// What the weights figure rests on, when it is not kvsim's plain count.
    pub weights_note: Option<String>,
    pub engine: Engine,
    pub fraction: f64,
    pub pool: PoolParams,
    pub dp: u64,
    /// Set when the default batch follows the context (vLLM V0) and no activation was given:
    /// `core` then re-derives the batch and the activation peak at its context.
    pub batching: Option<crate::engine::Batching<'static>>,
    /// The chip's own budget rule, if the engine has one for it (a Gaudi, an Ascend 310P:
    /// [`Engine::budget_on`]).
    pub chip_budget: crate::engine::ChipBudget,
    /// What the engine's measurement counts of the weights' allocator segments
    /// ([`crate::engine::ServingEngine::weight_segments`]), for the warning.
    pub segments: Option<crate::engine::allocator::SegmentRule>,
    /// On a Gaudi with no measured graph memory: the HPU-graph reserve as a share of the usable
    /// memory (`VLLM_GRAPH_RESERVED_MEM`), from which `core` derives the graph bytes.
    pub hpu_graph_share: Option<f64>,
    /// How the engine caches MLA layers (per head before vLLM 0.7.1).
    pub mla_layout: crate::model::MlaLayout,
    /// The engine cached sliding-window layers in full (vLLM-Ascend before 0.14), for the
    /// warning (a flag: `Prepared` is moved by value on every evaluation).
    pub windows_cached_in_full: bool,
    /// Position tables in each chip's computed weights (rope cos/sin caches): held, but a decode
    /// step reads only a few of their rows, so the roofline leaves them out.
    pub position_bytes: u64,
    /// Bytes other processes hold on each device (`--other-processes`), and how the engine's
    /// measurement sees them.
    pub others: u64,
    pub others_rule: crate::engine::other_processes::OtherProcesses,
    /// The roofline's context-independent part, built by the first report that needs it.
    roofline: std::sync::OnceLock<Option<Roofline>>,
}

/// Which of a report's costlier parts to compute ([`Prepared::update`]); the others are left empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    /// The roofline speed and cost (`speed`).
    pub speed: bool,
    /// `warnings` and `warning_codes` (one of them depends on the speed figures, computed then).
    pub warnings: bool,
}

impl Parts {
    pub const ALL: Parts = Parts {
        speed: true,
        warnings: true,
    };
    pub const NONE: Parts = Parts {
        speed: false,
        warnings: false,
    };
}

/// The memory figures of one context on one memory size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Core {
    /// Pipeline stage whose capacity binds.
    pub binding: usize,
    pub budget: u64,
    pub shortfall: u64,
    pub capacity: Capacity,
    pub sessions_per_deployment: u64,
    /// Graph memory of the binding stage (the HPU reserve depends on the memory size).
    pub cuda_graph: u64,
}

impl Prepared {
    /// Prepares a validated scenario.
    pub fn new(s: &Scenario) -> Result<Prepared> {
        Prepared::with_figures(s, &s.model.figures())
    }

    /// [`Prepared::new`] with the model's figures already checked.
    fn with_figures(s: &Scenario, figures: &ModelFigures<'_>) -> Result<Prepared> {
        let setup = s.setup();
        s.validate_with(&setup)?;
        let (m, d) = (&s.model, &s.deployment);
        let fraction = d.engine.fraction_in_force(s.fraction_with(&setup));
        let (batched, max_num_seqs) = s.effective_batch_limits();
        // vLLM V0's default batch is max_model_len: it moves with the context.
        let batching = (s.max_num_batched_tokens.is_none()
            && d.engine.batched_tokens_follow_context())
        .then(|| {
            let b = s.batching(s.context);
            Batching {
                chip_name: b.chip_name.into_owned().into(),
                ..b
            }
        });
        let hpu_graph_share = (setup.hpu && s.overrides.cuda_graph.is_none())
            .then(|| s.hpu_graph_reserved_mem.or(d.engine.hpu_graph_share()))
            .flatten();
        // vLLM V0 0.7.3 pads MLA entries (every attention layer of an MLA model is MLA).
        let mla_align = d
            .engine
            .mla_entry_align(&setup)
            .filter(|_| s.vllm_mla_align != Some(false));
        // vLLM before 0.7.1 caches MLA layers per head.
        let mla_layout = d
            .engine
            .mla_layout(&setup, s.plan.get(TensorGroup::Attention));
        // vLLM-Ascend before 0.14 caches sliding-window layers in full.
        let windows_in_full = d.engine.caches_windows_in_full(&setup);
        let mut sharding = d.sharding();
        sharding.embedding_tp = d.engine.embedding_tp(&setup, &m.architecture);
        sharding.vision_tp = d.engine.vision_tp(&setup, &m.architecture);
        let (ckpt, mut weights_note) = checkpoint_weights(s, figures);
        let padding = d
            .engine
            .expert_padding(&setup, s.plan.get(TensorGroup::RoutedExperts))
            .filter(|(pad, _)| *pad != ExpertPad::NONE)
            .filter(|(pad, _)| s.overrides.weights.is_none() && pads_experts(m, &sharding, pad));
        // A checkpoint stores its experts unpadded: the engine loads the padded shapes, so the
        // stored share of each chip grows by what the padding adds to kvsim's count.
        let ckpt_padded = padding.filter(|_| ckpt.is_some()).map(|(pad, kernel)| {
            (
                Sharding {
                    expert_pad: pad,
                    ..sharding
                },
                pad,
                kernel,
            )
        });
        if let Some((pad, kernel)) = padding.filter(|_| ckpt.is_none()) {
            sharding.expert_pad = pad;
            append_note(&mut weights_note, |t| {
                let _ = write!(
                    t,
                    "weights: routed experts padded as {kernel} allocates them (intermediate per rank to a multiple of {}, hidden to {})",
                    pad.intermediate, pad.hidden
                );
            });
        }
        // The whole model's computed bytes: the denominator of each chip's share.
        let whole = match ckpt {
            Some(_) => figures.weight_bytes(&s.plan, s.mtp)?.total(),
            None => 0,
        };
        let ckpt = ckpt.filter(|_| whole > 0);
        let weights_source = match (s.overrides.weights, ckpt) {
            (Some(_), _) => WeightsSource::Measured,
            (None, Some(_)) => WeightsSource::Checkpoint,
            (None, None) => WeightsSource::Computed,
        };
        // Rotary cos/sin tables and fixed position tables the engine allocates at load on every
        // device (src/engine/position_tables.rs): not parameters, but in the weights it reports.
        let position_rule = d.engine.position_rule(&setup);
        let positions = position_rule.map_or(0, |r| {
            crate::engine::position_tables::bytes(&r, &m.positions, setup.mla)
        });
        let block = s.effective_block_size();
        // Charged where the engine's measurement puts it, unless that figure is given.
        let segments = d.engine.weight_segments(&setup);
        let non_torch_given = s.overrides.non_torch.is_some() || s.overrides.profile.is_some();
        let make = |stage: Stage| -> Result<(PreparedStage, u64, u64, Option<&'static str>, bool)> {
            let weights = figures.stage_weight_bytes(&stage, &s.plan, &sharding, s.mtp)?;
            let mut activation = overhead::Activation::new(
                m,
                d.attention_tp(),
                d.tp,
                max_num_seqs,
                stage.last,
                d.engine.sampler_rule(&setup),
                d.engine
                    .fused_moe(&setup, s.plan.get(TensorGroup::RoutedExperts)),
            );
            if d.engine.profiles_logits_only(&setup) {
                // Logits in the activation dtype (2 B) after the forward pass, no sampler.
                activation.sampler = if stage.last {
                    max_num_seqs.saturating_mul(m.vocab).saturating_mul(2)
                } else {
                    0
                };
                activation.separate = true;
            }
            if let Some(p) = &s.overrides.profile {
                activation.scale = p.activation_scale;
            }
            let computed = match ckpt {
                Some(c) => {
                    let pad = match &ckpt_padded {
                        Some((padded, _, _)) => figures
                            .stage_weight_bytes(&stage, &s.plan, padded, s.mtp)?
                            .total()
                            .saturating_sub(weights.total()),
                        None => 0,
                    };
                    share(c, weights.total(), whole)?
                        .checked_add(pad)
                        .ok_or_else(|| Error::overflow("weights per chip"))?
                }
                None => weights.total(),
            };
            // Matrices the engine derives from MLA weights after loading (vLLM's W_UK_T / W_UV
            // copy, 0.7.1–0.7.3's absorbed matrices; SGLang's w_kc / w_vc), and the weights its
            // decode then leaves unread.
            let attention_format = s.plan.get(TensorGroup::Attention);
            let (derived, unread) = m.stage_groups(stage.start, stage.end).iter().fold(
                (0u64, 0u64),
                |(derived, unread), g| match &g.attention {
                    Attention::Mla(a) => {
                        let layer = crate::engine::MlaRank {
                            mla: a,
                            hidden: m.hidden,
                            tp: d.attention_tp(),
                            attention: attention_format,
                        };
                        let layers = |b: u64| g.count.saturating_mul(b);
                        (
                            derived.saturating_add(layers(
                                d.engine.mla_derived_weights(&setup, layer),
                            )),
                            unread
                                .saturating_add(layers(d.engine.mla_decode_unread(&setup, layer))),
                        )
                    }
                    _ => (derived, unread),
                },
            );
            let decode_unread = if s.overrides.weights.is_some() {
                0
            } else {
                unread
            };
            // Tensors the engine's MoE method keeps per MoE layer besides the experts' weights.
            let routed_format = s.plan.get(TensorGroup::RoutedExperts);
            let (moe_extra, moe_why) = m.stage_groups(stage.start, stage.end).iter().fold(
                (0u64, None),
                |(sum, why), g| match &g.ffn {
                    Ffn::Moe(moe) => {
                        let shape = crate::engine::MoeShape {
                            experts: moe.experts.div_ceil(sharding.ep.max(1)),
                            hidden: m.hidden,
                            intermediate: moe.expert_intermediate / sharding.expert_tp.max(1),
                            bias: moe.expert_bias,
                        };
                        match d.engine.moe_layer_extra(&setup, routed_format, shape) {
                            Some((b, w)) => {
                                (sum.saturating_add(g.count.saturating_mul(b)), Some(w))
                            }
                            None => (sum, why),
                        }
                    }
                    _ => (sum, why),
                },
            );
            let moe_extra = if s.overrides.weights.is_some() {
                0
            } else {
                moe_extra
            };
            let computed = computed
                .saturating_add(derived)
                .saturating_add(moe_extra)
                .saturating_add(positions);
            // The MLA prefill's decompressed K/V (vLLM V0), when it outweighs the estimate.
            if let Some(prefill) = d.engine.mla_prefill(&setup, attention_format) {
                for g in &m.groups {
                    if let Attention::Mla(a) = &g.attention {
                        let e = prefill.elements_per_token(a, m.hidden, d.attention_tp());
                        activation.per_token = activation.per_token.max(e.saturating_mul(2));
                    }
                }
            }
            // What the weights' allocator segments add beyond the parameters, charged where the
            // engine's measurement counts it (src/engine/allocator.rs `Charge`); the load-time
            // position tables are one allocation.
            let others_in_non_torch = match d.engine.other_processes(&setup) {
                crate::engine::other_processes::OtherProcesses::NonTorch => s.other_processes,
                _ => 0,
            };
            let (tails_in_weights, tails_in_non_torch) = segments.map_or((0, 0), |r| {
                let [w, n] = figures.stage_allocation_figure(
                    &stage,
                    &s.plan,
                    &sharding,
                    s.mtp,
                    // What the figure depends on besides the stage: the rule and the tables.
                    [r.allocator.pad << 8 | r.charge as u64, positions],
                    |mut allocs| {
                        allocs.push((positions, 1));
                        let (w, n) = r.charged(&r.allocator.place(allocs));
                        [w, n]
                    },
                );
                (
                    if s.overrides.weights.is_some() { 0 } else { w },
                    if non_torch_given { 0 } else { n },
                )
            });
            let segment_tails = tails_in_weights + tails_in_non_torch;
            let eager = segments
                .filter(|r| r.charge == crate::engine::allocator::Charge::ReservedAfterProfile)
                .filter(|_| s.overrides.activation.is_none() && s.overrides.profile.is_none())
                .map(|r| {
                    std::sync::Arc::new(EagerReserve {
                        trace: crate::engine::eager_trace::Trace::v0_stage(
                            m,
                            stage.start,
                            stage.end,
                            &crate::engine::eager_trace::Rank {
                                attention_tp: d.attention_tp(),
                                tp: d.tp,
                                dtype: 2,
                                mla: mla_layout,
                                fused: d
                                    .engine
                                    .fused_moe(&setup, s.plan.get(TensorGroup::RoutedExperts)),
                            },
                        ),
                        allocator: r.allocator,
                    })
                });
            let activation_bytes = activation_with(&activation, eager.as_deref(), batched);
            let memory = StageMemory {
                weights: s
                    .overrides
                    .weights
                    .unwrap_or(computed.saturating_add(tails_in_weights)),
                activation: s.overrides.activation.unwrap_or(activation_bytes),
                non_torch: s.overrides.non_torch.unwrap_or_else(|| {
                    s.overrides
                        .profile
                        .map(|p| p.non_torch_bytes(d.tp))
                        .unwrap_or_else(|| {
                            d.engine
                                .comm_non_torch(&setup)
                                .map_or_else(
                                    || overhead::non_torch_bytes(d.tp),
                                    |n| {
                                        n.bytes_on_stage(stage.last)
                                            .saturating_add(n.pynccl_nvls(batched, m.hidden))
                                    },
                                )
                                .saturating_add(d.engine.non_torch_context(&setup))
                                .saturating_add(tails_in_non_torch)
                        })
                        // A measurement with no baseline counts other processes' memory too.
                        .saturating_add(others_in_non_torch)
                }),
                cuda_graph: s
                    .overrides
                    .cuda_graph
                    .or_else(|| s.overrides.profile.map(|p| p.cuda_graph_bytes()))
                    .unwrap_or_else(overhead::cuda_graph_bytes),
            };
            let mut specs = m.stage_kv_specs_as(
                &stage,
                s.plan.kv,
                s.plan.state,
                d.attention_tp(),
                s.mtp,
                mla_layout,
            )?;
            if let Some(align) = mla_align {
                for l in &mut specs {
                    if let KvSpec::Full { record } = &mut l.spec {
                        *record = record.next_multiple_of(align);
                    }
                }
            }
            let windows_full = windows_in_full && crate::kv::windows_as_full(&mut specs) > 0;
            let plan = d.engine.plan(&specs, block, s.context);
            Ok((
                PreparedStage {
                    stage,
                    weights,
                    activation,
                    memory,
                    specs,
                    decode_unread,
                    segment_tails,
                    segment_weights: tails_in_weights,
                    segment_non_torch: tails_in_non_torch,
                    plan,
                    eager,
                },
                derived,
                moe_extra,
                moe_why,
                windows_full,
            ))
        };
        // One allocation for the stages (most deployments have one).
        let mut stages = Vec::with_capacity(d.pp.clamp(1, 64) as usize);
        let mut derived = 0;
        let (mut moe_extra, mut moe_why) = (0, None);
        let mut windows_cached_in_full = false;
        for stage in m.pp_stage_iter(d.pp) {
            let (st, added, extra, why, windows_full) = make(stage)?;
            windows_cached_in_full |= windows_full;
            derived = derived.max(added);
            if extra > moe_extra {
                (moe_extra, moe_why) = (extra, why);
            }
            stages.push(st);
        }
        if let (true, Some(why)) = (moe_extra > 0, moe_why) {
            append_note(&mut weights_note, |t| {
                let _ = write!(t, "weights: {} {why}: ", d.engine);
                let _ = GibFixed::new(moe_extra, 2).write_to(t);
                t.push_str(" GiB per chip besides the experts' weights, which kvsim adds");
            });
        }
        if derived > 0 && s.overrides.weights.is_none() {
            append_note(&mut weights_note, |t| {
                let _ = write!(
                    t,
                    "weights: {} {}: ",
                    d.engine,
                    d.engine
                        .mla_derived_note(&setup, s.plan.get(TensorGroup::Attention))
                );
                let _ = GibFixed::new(derived, 2).write_to(t);
                t.push_str(" GiB per chip more than the checkpoint's share, which kvsim adds");
            });
        }
        if let (Some(rule), true) = (
            position_rule,
            positions > 0 && s.overrides.weights.is_none(),
        ) {
            // Every evaluation on vLLM or SGLang makes it: its text is remembered.
            append_note(&mut weights_note, |t| {
                write_position_note(t, d.engine, &m.positions, &rule, positions)
            });
        }
        if position_rule.is_none()
            && !m.positions.is_empty()
            && s.overrides.weights.is_none()
            && d.engine.charges_overheads()
        {
            append_note(&mut weights_note, |t| {
                let _ = write!(
                    t,
                    "weights: the rotary cos/sin and position tables {} may allocate at load are not counted (not modelled for this engine)",
                    d.engine
                );
            });
        }
        if let (Some((padded, pad, kernel)), Some(_)) = (&ckpt_padded, ckpt) {
            // The largest addition over the stages, and the stored share it adds to there.
            let mut most = (0u64, 0u64);
            for st in &stages {
                let added = figures
                    .stage_weight_bytes(&st.stage, &s.plan, padded, s.mtp)?
                    .total()
                    .saturating_sub(st.weights.total());
                if added >= most.0 {
                    most = (added, st.memory.weights.saturating_sub(added));
                }
            }
            let gib = crate::units::to_gib;
            append_note(&mut weights_note, |t| {
                let _ = write!(
                    t,
                    "weights: the checkpoint stores its MXFP4 routed experts unpadded, but {kernel} allocates them padded (intermediate per rank to a multiple of {}, hidden to {}): a chip loads {:.2} GiB ({} B) more than its stored share ({:.2} → {:.2} GiB), which kvsim adds",
                    pad.intermediate,
                    pad.hidden,
                    gib(most.0),
                    thousands(most.0),
                    gib(most.1),
                    gib(most.1 + most.0)
                );
            });
        }
        Ok(Prepared {
            stages,
            weights_source,
            weights_note,
            engine: d.engine,
            fraction,
            pool: PoolParams {
                block,
                context: s.context,
                max_num_batched_tokens: batched,
                pipeline_stages: d.pp,
                swa_full_tokens_ratio: s.swa_full_tokens_ratio,
            },
            dp: d.dp,
            batching: batching.filter(|_| s.overrides.activation.is_none()),
            chip_budget: setup.chip_budget(),
            segments,
            others: s.other_processes,
            others_rule: d.engine.other_processes(&setup),
            hpu_graph_share,
            mla_layout,
            windows_cached_in_full,
            position_bytes: if s.overrides.weights.is_some() {
                0
            } else {
                positions
            },
            roofline: std::sync::OnceLock::new(),
        })
    }

    /// Budget, capacity and sessions at `context` tokens on chips of `total_mem` bytes: the stage
    /// with the fewest sessions binds, as the engine sizes every stage to the smallest.
    pub fn core(&self, total_mem: u64, context: u64) -> Result<Core> {
        if self.others != 0 {
            return self.core_with_others(total_mem, context);
        }
        self.core_at(total_mem, context)
    }

    /// [`Prepared::core`] with memory other processes hold: lost to a budget measured from free
    /// memory; under a start-up baseline free, unless the engine refuses to start (then no
    /// KV cache, no session).
    #[inline(never)]
    fn core_with_others(&self, total_mem: u64, context: u64) -> Result<Core> {
        use crate::engine::other_processes::{refusal, OtherProcesses};
        match self.others_rule {
            OtherProcesses::Lost { .. } => {
                self.core_at(total_mem.saturating_sub(self.others), context)
            }
            // Already in each stage's non-torch memory (`Prepared::with_figures`).
            OtherProcesses::NonTorch => self.core_at(total_mem, context),
            OtherProcesses::Baseline { refuses, .. } => {
                let mut core = self.core_at(total_mem, context)?;
                if refuses && refusal(total_mem, self.others, self.fraction).is_some() {
                    let c = &mut core.capacity;
                    (c.blocks, c.capacity_tokens, c.max_concurrency, c.sessions) = (0, 0, 0.0, 0);
                    core.budget = 0;
                    core.sessions_per_deployment = 0;
                }
                Ok(core)
            }
        }
    }

    /// [`Prepared::core`] on devices of `total_mem` bytes as the budget sees them.
    #[inline(always)]
    fn core_at(&self, total_mem: u64, context: u64) -> Result<Core> {
        // One stage whose overheads do not move (no batch following the context, no HPU-graph
        // reserve following the memory) on uniform pages under a budget rule as data: the
        // commonest deployment, answered from the plan alone.
        if let ([st], None) = (self.stages.as_slice(), self.hpu_graph_share) {
            if self.batching.is_none() || context == self.pool.context {
                let pool = PoolParams {
                    context,
                    ..self.pool
                };
                if let Some(r) = self.engine.uniform_planned(
                    &st.plan,
                    &st.specs,
                    self.chip_budget,
                    &st.memory,
                    total_mem,
                    self.fraction,
                    &pool,
                ) {
                    let (budget, shortfall, capacity) = r?;
                    return self.one_stage(st, budget, shortfall, capacity);
                }
            }
        }
        self.core_general(total_mem, context)
    }

    /// The figures of a deployment whose one stage binds.
    #[inline(always)]
    fn one_stage(
        &self,
        st: &PreparedStage,
        budget: u64,
        shortfall: u64,
        capacity: Capacity,
    ) -> Result<Core> {
        Ok(Core {
            binding: 0,
            budget,
            shortfall,
            capacity,
            sessions_per_deployment: checked_mul(
                capacity.sessions,
                self.dp,
                "sessions per deployment",
            )?,
            cuda_graph: st.memory.cuda_graph,
        })
    }

    /// [`Prepared::core`] for every deployment (kept out of line, so that the common case's
    /// call stays small).
    #[inline(never)]
    fn core_general(&self, total_mem: u64, context: u64) -> Result<Core> {
        // One stage whose overheads do not move: it binds, with the memory figures prepared.
        if let ([st], None) = (self.stages.as_slice(), self.hpu_graph_share) {
            if self.batching.is_none() || context == self.pool.context {
                let pool = PoolParams {
                    context,
                    ..self.pool
                };
                let (budget, shortfall) = self.engine.budget_planned(
                    &st.plan,
                    self.chip_budget,
                    &st.memory,
                    total_mem,
                    self.fraction,
                );
                let capacity = self
                    .engine
                    .capacity_planned(&st.plan, &st.specs, budget, &pool)?;
                return self.one_stage(st, budget, shortfall, capacity);
            }
        }
        let mut pool = PoolParams {
            context,
            ..self.pool
        };
        if let Some(b) = self
            .batching
            .as_ref()
            .filter(|_| context != self.pool.context)
        {
            pool.max_num_batched_tokens = self.engine.default_batched_tokens(&Batching {
                max_model_len: context,
                ..b.clone()
            });
        }
        let mut best: Option<Core> = None;
        for (i, st) in self.stages.iter().enumerate() {
            let mut memory = st.memory;
            if pool.max_num_batched_tokens != self.pool.max_num_batched_tokens {
                memory.activation = st.activation_at(pool.max_num_batched_tokens);
            }
            if let Some(share) = self.hpu_graph_share {
                memory.cuda_graph =
                    crate::engine::hpu_graph_bytes(&memory, total_mem, self.fraction, share);
            }
            let (budget, shortfall) = self.engine.budget_planned(
                &st.plan,
                self.chip_budget,
                &memory,
                total_mem,
                self.fraction,
            );
            let capacity = self
                .engine
                .capacity_planned(&st.plan, &st.specs, budget, &pool)?;
            // Whole sessions tie easily at long contexts (3 and 3 at 131,072 tokens); the
            // engines keep the smallest pool (vLLM V0: `num_gpu_blocks = min(...)` over every
            // worker, `vllm/executor/executor_base.py::ExecutorBase.determine_num_available_blocks` @
            // v0.8.3),
            // so a tie goes to the stage with the lower concurrency — with V0's sampler, the last.
            if best.as_ref().is_none_or(|b| {
                (capacity.sessions, capacity.max_concurrency)
                    < (b.capacity.sessions, b.capacity.max_concurrency)
            }) {
                best = Some(Core {
                    binding: i,
                    budget,
                    shortfall,
                    capacity,
                    sessions_per_deployment: 0,
                    cuda_graph: memory.cuda_graph,
                });
            }
        }
        let mut core =
            best.ok_or_else(|| Error::field("deployment", "pp", 0, "at least one stage"))?;
        core.sessions_per_deployment =
            checked_mul(core.capacity.sessions, self.dp, "sessions per deployment")?;
        Ok(core)
    }
}

/// Weights, budget and sessions for one scenario. The budget follows the engine's rule
/// (docs/facts.md §4); `num_blocks = budget // (block_size × bytes per token)` per stage, the
/// engine keeping the smallest stage's count (docs/facts.md §3).
pub fn evaluate(s: &Scenario) -> Result<Report> {
    let figures = s.model.figures();
    let prepared = Prepared::with_figures(s, &figures)?;
    report(s, &prepared, Parts::ALL, Roof::Once(&figures))
}

/// Where a report's roofline comes from.
#[derive(Clone, Copy)]
enum Roof<'a> {
    /// The prepared deployment's, built by the first report that needs it and kept.
    Shared,
    /// Built for this report alone (a one-off evaluation), its texts moved into the figures.
    Once(&'a ModelFigures<'a>),
}

impl Prepared {
    /// The report of `s`, which this was prepared from or differs from it in the context alone
    /// (a sweep over contexts prepares once per deployment).
    pub fn report(&self, s: &Scenario) -> Result<Report> {
        if s.context != self.pool.context {
            // vLLM V0's batch (and so its activation peak) follows the context: prepare afresh.
            if self.batching.is_some() {
                return evaluate(s);
            }
            s.validate()?;
        }
        report(s, self, Parts::ALL, Roof::Shared)
    }

    /// [`Prepared::report`] with only `parts` of the speed and warnings (the others empty).
    pub fn report_parts(&self, s: &Scenario, parts: Parts) -> Result<Report> {
        if s.context != self.pool.context {
            if self.batching.is_some() {
                let mut r = evaluate(s)?;
                strip(&mut r, parts)?;
                return Ok(r);
            }
            s.validate()?;
        }
        report(s, self, parts, Roof::Shared)
    }

    /// Brings `r` — a report of `s` at another context, made by this (`report` or `update`) — to
    /// `s`'s context, computing only `parts` of the speed and warnings (those not asked for are
    /// left empty): what a sweep over contexts does per point. With [`Parts::ALL`], `r` ends equal
    /// to `self.report(s)`; on an error `r` is left unusable.
    pub fn update(&self, s: &Scenario, r: &mut Report, parts: Parts) -> Result<()> {
        if s.context != self.pool.context {
            if self.batching.is_some() {
                *r = evaluate(s)?;
                return strip(r, parts);
            }
            // The rest of the scenario passed `validate` when `r` was made: the context's check
            // comes first among those that can fail now.
            s.validate_context()?;
        }
        let core = self.core(r.total_memory_bytes_per_chip, s.context)?;
        if core.binding as u64 != r.binding_stage {
            // Another stage binds: its weights, overheads and layout are the report's now.
            let described = Described {
                params: ParamCounts {
                    total: r.params_total,
                    active: r.params_active,
                },
                attention: std::mem::take(&mut r.attention),
                ffn: std::mem::take(&mut r.ffn),
            };
            let memory = (r.total_memory_bytes_per_chip, r.memory_source);
            *r = fixed(s, self, &core, described, memory)?;
        }
        fill(s, self, &core, r, parts, Roof::Shared)
    }

    fn roofline(&self, s: &Scenario) -> Option<&Roofline> {
        self.roofline.get_or_init(|| Roofline::new(s)).as_ref()
    }
}

/// Empties the parts of a full report not asked for, as `update` leaves them.
fn strip(r: &mut Report, parts: Parts) -> Result<()> {
    if !parts.speed && !parts.warnings {
        r.speed = None;
    }
    if !parts.warnings {
        r.warnings.clear();
        r.warning_codes.clear();
    }
    Ok(())
}

fn report(s: &Scenario, prepared: &Prepared, parts: Parts, roof: Roof<'_>) -> Result<Report> {
    let described = match roof {
        Roof::Once(f) => f.described(s.mtp)?,
        Roof::Shared => s.model.described(s.mtp)?,
    };
    let memory = total_memory(s)?;
    let core = prepared.core(memory.0, s.context)?;
    // Filled where `fixed` wrote it: the report (about a kilobyte) is not copied out of one
    // `Result` into another.
    let mut out = fixed(s, prepared, &core, described, memory);
    if let Ok(r) = &mut out {
        fill(s, prepared, &core, r, parts, roof)?;
    }
    out
}

/// The chip's total memory per rank and where the figure comes from.
fn total_memory(s: &Scenario) -> Result<(u64, MemorySource)> {
    match s.overrides.total_memory {
        Some(b) => Ok((b, MemorySource::User)),
        None => s.chip.memory_bytes().ok_or_else(|| {
            Error::field(
                s.chip.file.clone(),
                "memory_gb",
                "nothing (no verified figure)",
                "a memory size; pass --total-memory-gib to evaluate this chip",
            )
        }),
    }
}

/// A report's fields that do not depend on the context (given the binding stage); the others
/// are zero or empty until [`fill`].
fn fixed(
    s: &Scenario,
    prepared: &Prepared,
    core: &Core,
    described: Described,
    (total_mem, memory_source): (u64, MemorySource),
) -> Result<Report> {
    let binding = core.binding;
    let (m, d) = (&s.model, &s.deployment);
    let ParamCounts { total, active } = described.params;
    let b = &prepared.stages[binding];
    let stage_chips = d.tp * if d.dp_attention { 1 } else { d.dp };
    let weights_deployment = prepared
        .stages
        .iter()
        .try_fold(0u64, |acc, x| {
            x.memory
                .weights
                .checked_mul(stage_chips)
                .and_then(|w| acc.checked_add(w))
        })
        .ok_or_else(|| Error::overflow("weights per deployment"))?;
    let per_token = kv::record_bytes_per_token(&b.specs)?;
    Ok(Report {
        model: m.id.clone(),
        architecture: m.architecture.clone(),
        attention: described.attention,
        ffn: described.ffn,
        chip: s.chip.id.clone(),
        chip_name: s.chip.name.clone(),
        context: 0,
        engine: d.engine,
        tp: d.tp,
        pp: d.pp,
        ep: d.ep,
        dp: d.dp,
        dp_attention: d.dp_attention,
        chips: s.chip.chips_for_ranks(d.chips()),
        block_size: 0,
        memory_fraction: prepared.fraction,
        max_num_batched_tokens: prepared.pool.max_num_batched_tokens,
        precision: s.plan,
        mtp_included: s.mtp,
        eagle_included: s.eagle,
        params_total: total,
        params_active: active,
        weights_bytes_per_chip: b.memory.weights,
        weight_segments_bytes_per_chip: b.segment_tails,
        weights_by_group: b.weights,
        weights_measured: s.overrides.weights.is_some(),
        weights_source: prepared.weights_source,
        weights_bytes_per_deployment: weights_deployment,
        total_memory_bytes_per_chip: total_mem,
        memory_source,
        other_processes_bytes_per_chip: s.other_processes,
        activation_bytes_per_chip: b.memory.activation,
        non_torch_bytes_per_chip: b.memory.non_torch,
        cuda_graph_bytes_per_chip: core.cuda_graph,
        kv_budget_bytes_per_chip: 0,
        shortfall_bytes_per_chip: 0,
        binding_stage: binding as u64,
        kv_layers_per_chip: b.specs.iter().map(|l| l.layers).sum(),
        kv_bytes_per_token_per_chip: per_token,
        kv_bytes_per_session_per_chip: 0,
        kv_accounting: Accounting::Uniform,
        kv_layout: b.specs.clone(),
        blocks_per_session: 0,
        kv_blocks_per_chip: 0,
        kv_capacity_tokens_per_chip: 0,
        max_concurrency: 0.0,
        sessions_per_replica: 0,
        sessions_per_deployment: 0,
        sessions_per_chip: 0.0,
        speed: None,
        warnings: Vec::new(),
        warning_codes: Vec::new(),
    })
}

/// The warnings of a report, written over the previous ones' text (no allocation once a sweep
/// has seen each kind).
struct Warnings<'a> {
    text: &'a mut Vec<String>,
    codes: &'a mut Vec<&'static str>,
    n: usize,
}

impl Warnings<'_> {
    fn push(&mut self, code: &'static str, write: impl FnOnce(&mut String)) {
        if self.n < self.text.len() {
            self.text[self.n].clear();
            write(&mut self.text[self.n]);
            self.codes[self.n] = code;
        } else {
            // Room for most warnings' text at once, instead of growing by doubling (the
            // allocator-segment note runs to about 400 bytes).
            let mut t = String::with_capacity(512);
            write(&mut t);
            self.text.push(t);
            self.codes.push(code);
        }
        self.n += 1;
    }

    /// A warning whose text is fixed for the deployment (it depends on nothing `update`
    /// changes, or on what did not change): kept when the slot already holds its code — a report
    /// being updated wrote it there last time, since what comes before it is fixed too or would
    /// have moved another code into the slot — else written.
    fn push_fixed(&mut self, code: &'static str, write: impl FnOnce(&mut String)) {
        if self.codes.get(self.n) == Some(&code) {
            self.n += 1;
        } else {
            self.push(code, write);
        }
    }

    /// [`Warnings::push_fixed`] of a text given whole: a new slot gets a copy of exactly its size.
    fn push_text(&mut self, code: &'static str, text: &str) {
        if self.codes.get(self.n) == Some(&code) {
            self.n += 1;
        } else if self.n < self.text.len() {
            self.push(code, |t| t.push_str(text));
        } else {
            self.text.push(text.to_owned());
            self.codes.push(code);
            self.n += 1;
        }
    }

    fn finish(self) {
        self.text.truncate(self.n);
        self.codes.truncate(self.n);
    }
}

/// The context-dependent fields of `r` (made by [`fixed`] for `core`'s binding stage).
fn fill(
    s: &Scenario,
    prepared: &Prepared,
    core: &Core,
    r: &mut Report,
    parts: Parts,
    roof: Roof<'_>,
) -> Result<()> {
    let (m, d) = (&s.model, &s.deployment);
    let b = &prepared.stages[core.binding];
    let c = core.capacity;
    let sessions_deployment = core.sessions_per_deployment;
    let total_mem = r.total_memory_bytes_per_chip;
    // The last point's shortfall: its warning's text is kept when the shortfall is the same.
    let last_shortfall = r.shortfall_bytes_per_chip;
    r.context = s.context;
    r.block_size = c.block_size;
    r.kv_budget_bytes_per_chip = core.budget;
    r.shortfall_bytes_per_chip = core.shortfall;
    r.kv_bytes_per_session_per_chip = c.bytes_per_session;
    r.kv_accounting = c.accounting;
    r.blocks_per_session = c.blocks_per_session;
    r.kv_blocks_per_chip = c.blocks;
    r.kv_capacity_tokens_per_chip = c.capacity_tokens;
    r.max_concurrency = c.max_concurrency;
    r.sessions_per_replica = c.sessions;
    r.sessions_per_deployment = sessions_deployment;
    r.sessions_per_chip = sessions_deployment as f64 / s.chip.chips_for_ranks(d.chips()) as f64;

    // Nothing fits and no batch is asked for: there is no batch to run at, so no speed figures
    // (and no warning about them) — the roofline is not built.
    let runs = s.batch.is_some() || sessions_deployment > 0;
    if runs && (parts.speed || parts.warnings) {
        // The binding stage's inputs to the roofline.
        let chip_state = ChipState {
            stage: b.stage,
            // The vision encoder stays in memory but is not read to generate text tokens.
            // Nor are the rope tables, of which a step reads a few rows, nor MLA matrices the
            // decode replaces by derived ones, nor the allocator's rounding.
            weights_bytes: b.memory.weights as f64
                - match prepared.weights_source {
                    WeightsSource::Measured => 0.0,
                    _ => b.weights[TensorGroup::Vision] as f64,
                }
                - prepared.position_bytes as f64
                - b.decode_unread as f64
                - b.segment_weights as f64,
            routed_expert_bytes: match prepared.weights_source {
                WeightsSource::Measured => 0.0,
                WeightsSource::Computed => b.weights[TensorGroup::RoutedExperts] as f64,
                // The stored bytes split as kvsim's count does.
                WeightsSource::Checkpoint => {
                    b.weights[TensorGroup::RoutedExperts] as f64
                        * (b.memory.weights - b.segment_weights) as f64
                        / b.weights.total().max(1) as f64
                }
            },
            record_bytes_per_token: r.kv_bytes_per_token_per_chip as f64,
            chips: s.chip.chips_for_ranks(d.chips()),
            sessions_max: sessions_deployment,
        };
        match roof {
            Roof::Shared => match prepared.roofline(s) {
                Some(roofline) => roofline.speed_into(s, &chip_state, &mut r.speed),
                None => r.speed = None,
            },
            Roof::Once(f) => match Roofline::with_walked(s, f) {
                Some(roofline) => roofline.into_speed(s, &chip_state, &mut r.speed),
                None => r.speed = None,
            },
        }
    } else {
        r.speed = None;
    }
    if !parts.warnings {
        r.warnings.clear();
        r.warning_codes.clear();
        return Ok(());
    }
    let speed_none = r.speed.is_none();
    let mut w = Warnings {
        text: &mut r.warnings,
        codes: &mut r.warning_codes,
        n: 0,
    };
    for note in &m.notes {
        w.push_text("model_note", note);
    }
    for (code, text) in &s.engine_notes {
        w.push_text(code, text);
    }
    if let Some(n) = &prepared.weights_note {
        w.push_text(
            match prepared.weights_source {
                WeightsSource::Checkpoint => "weights_from_checkpoint",
                _ => "weights_computed",
            },
            n,
        );
    }
    if let Some(note) = d.engine.chip_budget_note(prepared.chip_budget) {
        w.push_text("chip_budget_rule", note);
    }
    let tails = prepared
        .stages
        .iter()
        .max_by_key(|st| st.segment_tails)
        .filter(|st| st.segment_tails > 0);
    if let (Some(st), Some(rule)) = (tails, prepared.segments) {
        w.push_fixed("weight_segments", |t| {
            write_segment_note(t, d.engine, rule, st.segment_weights, st.segment_non_torch);
        });
    }
    let mla = m
        .groups
        .iter()
        .any(|g| matches!(g.attention, Attention::Mla(_)));
    if let (true, MlaLayout::PerHead { pad_to }) = (mla, prepared.mla_layout) {
        w.push_fixed("mla_cached_per_head", |t| {
            let _ = write!(
                t,
                "{} caches MLA layers per head, not as the latent: K and V of each TP rank's heads, {}",
                d.engine,
                match pad_to {
                    Some(n) => format!("padded to {n} elements"),
                    None => "at the q/k head size (nope + RoPE)".to_string(),
                }
            );
        });
    }
    if prepared.windows_cached_in_full {
        // Counted here, off the hot path: the stages' specs no longer tell window layers apart.
        let windows: u64 = m
            .groups
            .iter()
            .filter(|g| {
                !matches!(g.attention, Attention::Compressed(_)) && g.attention.window().is_some()
            })
            .map(|g| g.count)
            .sum();
        w.push_fixed("windows_cached_in_full", |t| {
            let _ = write!(
                t,
                "{} on an Ascend NPU caches the {} sliding-window layers in full, every token of the context (vLLM-Ascend's runner gives every decoder layer a full-attention KV spec before 0.14)",
                d.engine, windows
            );
        });
    }
    if let Some(e) = &prepared.stages[core.binding].eager {
        let batched = r.max_num_batched_tokens;
        let (allocated, reserved) = e.trace.peaks(e.allocator, batched);
        w.push("activation_reserved", |t| {
            let _ = write!(
                t,
                "activation: {} charges what the caching allocator reserved over the profiling run (mem_get_info after it, no empty_cache between): kvsim replays the eager forward's allocations, {} GiB reserved for an allocated peak of {} GiB at {} batched tokens (freed blocks merge only within their segment), and charges the larger of that and its estimate",
                d.engine,
                GibFixed::new(reserved, 2),
                GibFixed::new(allocated, 2),
                batched
            );
        });
    }
    if let Some(b) = s.batch.filter(|&b| b > sessions_deployment) {
        w.push("batch_exceeds_sessions", |t| {
            let _ = write!(
                t,
                "batch {b} exceeds the {sessions_deployment} sessions of {} tokens the KV cache holds: the speed figures assume they fit",
                s.context
            );
        });
    }
    if speed_none && (s.batch.is_some() || sessions_deployment > 0) {
        w.push_fixed("no_speed_figures", |t| {
            let _ = write!(
                t,
                "{} lacks a bandwidth or compute figure: no speed estimate",
                s.chip.id
            );
        });
    }
    if core.shortfall > 0 {
        let write = |t: &mut String| {
            t.push_str("weights and overheads exceed the usable memory by ");
            let _ = write!(t, "{}", GibFixed::new(core.shortfall, 2));
            t.push_str(" GiB per chip: no KV cache fits");
        };
        if core.shortfall == last_shortfall {
            w.push_fixed("no_kv_fits", write);
        } else {
            w.push("no_kv_fits", write);
        }
    }
    if prepared.others > 0 {
        other_processes_warnings(&mut w, d.engine, prepared, total_mem);
    }
    if let Some(maxp) = m.max_position_embeddings.filter(|&p| s.context > p) {
        w.push("context_exceeds_max_position", |t| {
            t.push_str("context ");
            t.push_str(itoa::Buffer::new().format(s.context));
            t.push_str(" exceeds the model's max_position_embeddings ");
            t.push_str(itoa::Buffer::new().format(maxp));
        });
    }
    if s.chip.ranks() > 1 && d.chips() % s.chip.ranks() != 0 {
        w.push_fixed("idle_ranks", |t| {
            let _ = write!(
                t,
                "{} has {} ranks per chip: {} ranks leave part of a chip idle",
                s.chip.id,
                s.chip.ranks(),
                d.chips()
            );
        });
    }
    if (d.tp > 1 || d.pp > 1)
        && d.engine.charges_overheads()
        && s.overrides.non_torch.is_none()
        && s.overrides.profile.is_none()
        && (d.tp > 1 || d.engine.comm_non_torch(&s.setup()).is_some())
    {
        // NCCL sizes its buffers by the channels its topology search picks at run time and, from
        // vLLM 0.11 (cuMem on, lazy connection), by the algorithms its tuner picks
        // (docs/facts.md §4): even the code-derived figure rests on an assumed channel count;
        // HCCL's rests on the default buffer size and the communicators counted.
        let setup = s.setup();
        w.push_fixed("non_torch_estimated", |t| {
            let _ = match d.engine.comm_non_torch(&setup) {
                Some(n) => write!(
                    t,
                    "non-torch memory at TP {} is kvsim's estimate from the buffers {} allocate, {} GiB per rank: {}; give --non-torch-gib from a start-up log or --profile",
                    d.tp,
                    n.library(),
                    GibFixed::new(
                        n.bytes()
                            .saturating_add(n.pynccl_nvls(r.max_num_batched_tokens, m.hidden)),
                        3
                    ),
                    n.describe()
                ),
                None => write!(
                    t,
                    "non-torch memory at TP {} is kvsim's estimate, {} GiB per rank (0.25 + 0.125 per further rank): the communication library's buffers (NCCL, HCCL) are not modelled for this chip or engine; give --non-torch-gib from a start-up log or --profile",
                    d.tp,
                    GibFixed::new(overhead::non_torch_bytes(d.tp), 3)
                ),
            };
        });
    }
    if r.memory_source == MemorySource::SpecSheet {
        w.push_fixed("spec_sheet_memory", |t| {
            let _ = write!(
                t,
                "{} has no device-reported memory figure: kvsim takes {} GiB ({} nominal GiB{} × 79.19/80, as an H100 reports)",
                s.chip.id,
                GibFixed::new(total_mem, 2),
                s.chip.memory_gb.unwrap_or(0.0) / s.chip.ranks() as f64,
                if s.chip.ranks() > 1 { " per rank" } else { "" }
            );
        });
    }
    w.finish();
    Ok(())
}

/// What a position-table note was written from.
#[derive(PartialEq)]
struct PositionNoteKey {
    engine: Engine,
    tables: crate::model::position::PositionTables,
    rule: crate::engine::position_tables::PositionRule,
    bytes: u64,
}

thread_local! {
    /// The last position-table note written and what it was written from: repeated evaluations
    /// of one deployment write the same 200-odd characters (about 900 instructions) each time.
    static POSITION_NOTE: std::cell::RefCell<Option<(PositionNoteKey, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// What a segment note was written from: engine, rule, bytes in the weights and in non-torch.
type SegmentNoteKey = (Engine, crate::engine::allocator::SegmentRule, u64, u64);

thread_local! {
    /// The last allocator-segment note written and what it was written from (as the position
    /// note: repeated evaluations of one deployment write the same 300-odd characters).
    static SEGMENT_NOTE: std::cell::RefCell<Option<(SegmentNoteKey, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// Appends the allocator-segment note ([`crate::engine::allocator::SegmentRule::describe`]) to
/// `out`, the last one written on this thread when it was written from the same figures.
fn write_segment_note(
    out: &mut String,
    engine: Engine,
    rule: crate::engine::allocator::SegmentRule,
    weights: u64,
    non_torch: u64,
) {
    SEGMENT_NOTE.with_borrow_mut(|memo| {
        let key = (engine, rule, weights, non_torch);
        match memo {
            Some((k, text)) if *k == key => out.push_str(text),
            _ => {
                let text = rule.describe(engine, weights, non_torch);
                out.push_str(&text);
                *memo = Some((key, text));
            }
        }
    })
}

/// Appends one part to the weights note, `; `-separated, writing in place: the note is made at
/// every preparation, so it is one string grown once rather than a `format!` per part.
fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// What memory held by other processes does under the engine's measurement, and whether it
/// refuses to start (`other_processes`, `engine_refuses_start`).
#[inline(never)]
fn other_processes_warnings(w: &mut Warnings, engine: Engine, p: &Prepared, total_mem: u64) {
    use crate::engine::other_processes::{
        largest_fraction, refusal, OtherProcesses, START_UP_BYTES,
    };
    let held = GibFixed::new(p.others, 2);
    w.push("other_processes", |t| {
        let _ = match p.others_rule {
            OtherProcesses::Lost { read } => write!(
                t,
                "other processes hold {held} GiB per device: {engine} sizes its KV cache from free device memory, so it is lost to the cache{}",
                if read { "" } else { " (assumed: the engine's measurement was not read)" }
            ),
            OtherProcesses::NonTorch => write!(
                t,
                "other processes hold {held} GiB per device: {engine} measures non-torch memory as device memory in use less torch's, with no start-up baseline, so it charges theirs as its own non-torch memory"
            ),
            OtherProcesses::Baseline { refuses, read } => write!(
                t,
                "other processes hold {held} GiB per device: {engine} measures its own use from a start-up snapshot, so they cost the KV cache nothing{}",
                match (refuses, read) {
                    (true, _) => ", but it refuses to start unless the free memory then (total less theirs and the worker's own 0.51 GiB at start-up) covers the utilization × total",
                    (false, true) => "",
                    (false, false) => " (whether it refuses to start with too little free was not read)",
                }
            ),
        };
    });
    if let OtherProcesses::Baseline { refuses: true, .. } = p.others_rule {
        if let Some((free, requested)) = refusal(total_mem, p.others, p.fraction) {
            w.push("engine_refuses_start", |t| {
                let _ = write!(
                    t,
                    "{engine} refuses to start: {} GiB free at start-up ({} GiB less {held} GiB held by other processes and its own {} GiB) is less than the {} GiB that utilization {} asks (\"Free memory on device … is less than desired GPU memory utilization\"): no KV cache, no session; a utilization of {} or less starts",
                    GibFixed::new(free, 2),
                    GibFixed::new(total_mem, 2),
                    GibFixed::new(START_UP_BYTES, 2),
                    GibFixed::new(requested, 2),
                    p.fraction,
                    largest_fraction(total_mem, p.others)
                );
            });
        }
    }
}

fn append_note(note: &mut Option<String>, write: impl FnOnce(&mut String)) {
    let n = note.get_or_insert_with(|| String::with_capacity(512));
    if !n.is_empty() {
        n.push_str("; ");
    }
    write(n);
}

/// Appends "weights: {engine} allocates {tables} at load ({source}): {GiB:.3} GiB ({bytes} B)
/// per chip besides the parameters; kvsim adds them" to `out`, the last one written on this
/// thread again when its inputs are the same.
fn write_position_note(
    out: &mut String,
    engine: Engine,
    tables: &crate::model::position::PositionTables,
    rule: &crate::engine::position_tables::PositionRule,
    bytes: u64,
) {
    POSITION_NOTE.with_borrow_mut(|memo| {
        if let Some((k, text)) = memo.as_ref() {
            if k.engine == engine && k.bytes == bytes && k.rule == *rule && k.tables == *tables {
                out.push_str(text);
                return;
            }
        }
        let start = out.len();
        render_position_note(out, engine, tables, rule, bytes);
        let key = PositionNoteKey {
            engine,
            tables: tables.clone(),
            rule: *rule,
            bytes,
        };
        *memo = Some((key, out[start..].to_owned()));
    })
}

/// [`write_position_note`]'s text, written piece by piece.
fn render_position_note(
    out: &mut String,
    engine: Engine,
    tables: &crate::model::position::PositionTables,
    rule: &crate::engine::position_tables::PositionRule,
    bytes: u64,
) {
    out.push_str("weights: ");
    let _ = engine.write_label(out);
    out.push_str(" allocates ");
    write_position_tables(out, tables, rule);
    out.push_str(" at load (");
    out.push_str(rule.source);
    out.push_str("): ");
    let _ = GibFixed::new(bytes, 3).write_to(out);
    out.push_str(" GiB (");
    out.push_str(itoa::Buffer::new().format(bytes));
    out.push_str(" B) per chip besides the parameters; kvsim adds them");
}

/// What the position tables are, for the weights note.
fn write_position_tables(
    out: &mut String,
    t: &crate::model::position::PositionTables,
    rule: &crate::engine::position_tables::PositionRule,
) {
    // "{n} rotary cos/sin table(s) (rotary dim {a} and {b})" and "the {owner}" of each sin-cos
    // table, joined by " and ", piece by piece.
    let mut first = true;
    let mut and = |out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push_str(" and ");
        }
    };
    let mut digits = itoa::Buffer::new();
    if !t.ropes.is_empty() {
        and(out);
        out.push_str(digits.format(t.ropes.len()));
        out.push_str(if t.ropes.len() == 1 {
            " rotary cos/sin table (rotary dim "
        } else {
            " rotary cos/sin tables (rotary dim "
        });
        for (i, r) in t.ropes.iter().enumerate() {
            if i > 0 {
                out.push_str(" and ");
            }
            out.push_str(digits.format(r.dim));
        }
        out.push(')');
    }
    if rule.sincos_bytes > 0 {
        for x in &t.sincos {
            and(out);
            out.push_str("the ");
            out.push_str(&x.owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{load_chip, load_model, model_ids};

    /// The remembered position-table note is the one written afresh, whatever the order of
    /// engines, releases, models and chips (a fresh one after every change of input).
    #[test]
    fn remembered_position_notes_are_fresh_ones() {
        use crate::engine::Setup;
        let cuda = Setup {
            cuda: true,
            ..Setup::default()
        };
        let engines = [Engine::VLLM, Engine::vllm(7, 3), Engine::SGLANG];
        let models = [
            "llama-3.1-8b",
            "gemma-3-27b",
            "deepseek-v3",
            "minicpm-v-4.5",
        ];
        let mut seen = 0;
        for round in 0..3 {
            for (i, id) in models.iter().enumerate() {
                let m = load_model(id).unwrap();
                for e in engines.iter().cycle().skip(i + round).take(3) {
                    let Some(rule) = e.position_rule(&cuda) else {
                        continue;
                    };
                    let bytes = crate::engine::position_tables::bytes(
                        &rule,
                        &m.positions,
                        id == &"deepseek-v3",
                    );
                    let (mut got, mut want) = ("x; ".to_string(), "x; ".to_string());
                    write_position_note(&mut got, *e, &m.positions, &rule, bytes);
                    render_position_note(&mut want, *e, &m.positions, &rule, bytes);
                    assert_eq!(got, want, "{id} {e}");
                    // Twice in a row: the remembered text.
                    let mut again = String::new();
                    write_position_note(&mut again, *e, &m.positions, &rule, bytes);
                    assert_eq!(again, want["x; ".len()..], "{id} {e}");
                    seen += 1;
                }
            }
        }
        assert!(seen >= 30, "{seen}");
    }
    /// The binding stage's capacity without its plan: the engine's `capacity` from the specs and
    /// the budget `core` found.
    fn unplanned(p: &Prepared, core: &Core, total_mem: u64, context: u64) -> Capacity {
        let pool = PoolParams { context, ..p.pool };
        let st = &p.stages[core.binding];
        // On an H100 at the prepared batch the stage's memory figures are those prepared.
        assert_eq!(
            (core.budget, core.shortfall),
            p.engine
                .budget_on(p.chip_budget, &st.memory, total_mem, p.fraction)
        );
        p.engine.capacity(&st.specs, core.budget, &pool).unwrap()
    }

    /// The stages' capacity plans (uniform block bytes, vLLM's hybrid layout in u64) answer as
    /// the engines' `capacity` does, for every catalog model under each engine and accounting
    /// release, at short and long contexts and small and huge memories; and a plan whose specs,
    /// page size or engine changed after it was made is not used (the fresh capacity answers).
    #[test]
    fn planned_capacity_is_the_engines_and_never_stale() {
        let engines = [
            Engine::VLLM,
            Engine::vllm(19, 0),
            Engine::vllm(20, 0),
            Engine::vllm(7, 3),
            Engine::SGLANG,
            Engine::TRTLLM,
            Engine::IDEAL,
        ];
        let (mut hybrid, mut shortcut) = (0, 0);
        for id in model_ids() {
            let Ok(m) = load_model(id) else { continue };
            for engine in engines {
                let mut s = Scenario::new(m.clone(), load_chip("h100-sxm").unwrap(), 32_768);
                s.deployment.engine = engine;
                s.deployment.tp = 8;
                let Ok(p) = Prepared::new(&s) else { continue };
                hybrid += usize::from(p.stages[0].plan.is_hybrid());
                // vLLM V0's batch follows the context (the pool's batch with it): its own context.
                let contexts: &[u64] = if p.batching.is_some() {
                    &[32_768]
                } else {
                    &[1000, 32_768, 1 << 20]
                };
                for mem in [1u64 << 30, 80 << 30, 1 << 50] {
                    for &context in contexts {
                        let core = p.core(mem, context).unwrap();
                        assert_eq!(
                            core.capacity,
                            unplanned(&p, &core, mem, context),
                            "{id} {engine}"
                        );
                        // The uniform shortcut is the general path, budget included.
                        assert_eq!(core, p.core_general(mem, context).unwrap(), "{id} {engine}");
                        let st = &p.stages[core.binding];
                        let (budget, shortfall) =
                            p.engine
                                .budget_on(p.chip_budget, &st.memory, mem, p.fraction);
                        if p.stages.len() == 1 && p.hpu_graph_share.is_none() {
                            assert_eq!((core.budget, core.shortfall), (budget, shortfall));
                        }
                        shortcut += usize::from(
                            p.engine
                                .uniform_planned(
                                    &st.plan,
                                    &st.specs,
                                    p.chip_budget,
                                    &st.memory,
                                    mem,
                                    p.fraction,
                                    &PoolParams { context, ..p.pool },
                                )
                                .is_some(),
                        );
                    }
                }
                // Stale plans: other specs, another page size, another engine.
                let mut edited = p.clone();
                for l in &mut edited.stages[0].specs {
                    l.layers += 1;
                }
                let core = edited.core(1 << 50, 32_768).unwrap();
                assert_eq!(core.capacity, unplanned(&edited, &core, 1 << 50, 32_768));
                let mut edited = p.clone();
                edited.pool.block *= 2;
                let core = edited.core(1 << 50, 32_768).unwrap();
                assert_eq!(core.capacity, unplanned(&edited, &core, 1 << 50, 32_768));
                let mut edited = p.clone();
                edited.engine = if engine == Engine::SGLANG {
                    Engine::vllm(7, 3)
                } else {
                    Engine::SGLANG
                };
                let core = edited.core(1 << 50, 32_768).unwrap();
                assert_eq!(core.capacity, unplanned(&edited, &core, 1 << 50, 32_768));
            }
        }
        assert!(hybrid > 10, "hybrid plans exercised: {hybrid}");
        assert!(shortcut > 100, "uniform shortcuts exercised: {shortcut}");
    }
}
