//! The normalised architecture: embeddings, lm_head and the decoder as runs of identical layers
//! ("layer groups"), so every formula costs O(groups), not O(layers).

pub mod attention;
pub mod checkpoint;
pub mod ffn;
pub mod hf;

pub use attention::{Attention, Gqa, Mla, QkNorm};
pub use ffn::{Ffn, Moe};

use crate::error::{Error, Result};
use crate::kv::LayerKv;
use crate::precision::{KvFormat, PerGroup, PrecisionPlan, TensorGroup};
use serde::{Deserialize, Serialize};

/// How a tensor is split over the ranks of its tensor-parallel group (as vLLM and SGLang do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shard {
    /// Every rank holds it whole (norms, router, MLA down-projections, row-parallel biases).
    Replicated,
    /// Split along the output features (rows; a vector's length).
    Column,
    /// Split along the input features.
    Row,
    /// K/V projections: `heads` heads, `max(1, heads / tp)` per rank — replicated when tp > heads.
    KvHeads { heads: u64 },
    /// Embedding / lm_head: vocabulary padded to a multiple of 64, then split.
    Vocab,
}

/// The tensor-parallel degree each tensor group is split over, and the expert-parallel degree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sharding {
    /// TP degree of attention (tp, or tp / dp under DP-attention).
    pub attention_tp: u64,
    /// TP degree of dense FFN, shared experts and vocabulary.
    pub tp: u64,
    /// TP degree inside each expert (1 with full expert parallelism).
    pub expert_tp: u64,
    /// Expert-parallel degree: each rank holds ceil(experts / ep) routed experts.
    pub ep: u64,
    /// How the engine's MoE kernels pad quantised routed experts (none: 1 × 1).
    pub expert_pad: ExpertPad,
}

impl Sharding {
    /// One chip holds everything.
    pub const NONE: Sharding = Sharding {
        attention_tp: 1,
        tp: 1,
        expert_tp: 1,
        ep: 1,
        expert_pad: ExpertPad::NONE,
    };
}

/// Multiples a MoE kernel rounds each expert's per-rank intermediate size and the hidden size up
/// to when it allocates the weights (vLLM's MXFP4 kernels: see `engine::vllm::mxfp4_padding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpertPad {
    pub intermediate: u64,
    pub hidden: u64,
}

impl ExpertPad {
    /// No padding.
    pub const NONE: ExpertPad = ExpertPad {
        intermediate: 1,
        hidden: 1,
    };
}

/// What a routed-expert tensor is to the MoE kernel, so its padding can be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Not padded.
    #[default]
    Plain,
    /// Fused gate/up projection (or its bias): `projections` × intermediate rows, hidden columns.
    ExpertUp { projections: u64 },
    /// Down projection (or its bias): hidden rows, intermediate columns.
    ExpertDown,
}

/// One weight tensor (or `copies` identical ones, e.g. the experts of a layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    pub group: TensorGroup,
    /// Output features (1 for a vector).
    pub rows: u64,
    /// Input features (the length, for a vector).
    pub cols: u64,
    /// A vector (norm weight, bias, sink): stored in the plan's `vectors` format.
    pub vector: bool,
    /// Identical copies in one layer (experts).
    pub copies: u64,
    /// Copies used by one token.
    pub active: u64,
    pub shard: Shard,
    /// Its part in a routed expert (for kernel padding).
    #[serde(default)]
    pub role: Role,
}

impl Tensor {
    /// A `rows × cols` matrix.
    pub fn matrix(group: TensorGroup, rows: u64, cols: u64) -> Self {
        Tensor {
            group,
            rows,
            cols,
            vector: false,
            copies: 1,
            active: 1,
            shard: Shard::Replicated,
            role: Role::Plain,
        }
    }
    /// A vector of `n` elements.
    pub fn vector(group: TensorGroup, n: u64) -> Self {
        Tensor {
            group,
            rows: 1,
            cols: n,
            vector: true,
            copies: 1,
            active: 1,
            shard: Shard::Replicated,
            role: Role::Plain,
        }
    }
    /// Sets how the tensor splits under tensor parallelism.
    pub fn split(mut self, shard: Shard) -> Self {
        self.shard = shard;
        self
    }
    /// Marks the tensor's part in a routed expert.
    pub fn role(mut self, role: Role) -> Self {
        self.role = role;
        self
    }
    /// `copies` of this tensor of which `active` are used per token.
    pub fn times(mut self, copies: u64, active: u64) -> Self {
        self.copies = copies;
        self.active = active;
        self
    }
    /// Elements of all copies.
    pub fn elements(&self) -> u64 {
        self.rows
            .saturating_mul(self.cols)
            .saturating_mul(self.copies)
    }
    /// Elements of the copies one token uses.
    pub fn active_elements(&self) -> u64 {
        self.rows
            .saturating_mul(self.cols)
            .saturating_mul(self.active)
    }
    /// Bytes of all copies in the given plan, scales included.
    pub fn bytes(&self, plan: &PrecisionPlan) -> u128 {
        self.bytes_per_chip(plan, &Sharding::NONE)
    }

    /// Bytes one rank holds under `sharding`, scales included (scales shard with their blocks).
    pub fn bytes_per_chip(&self, plan: &PrecisionPlan, sharding: &Sharding) -> u128 {
        let degree = match self.group {
            TensorGroup::Attention => sharding.attention_tp,
            TensorGroup::RoutedExperts => sharding.expert_tp,
            _ => sharding.tp,
        }
        .max(1);
        // A vector's length plays the role of a matrix's output features.
        let (out, inp) = if self.vector {
            (self.cols, 1)
        } else {
            (self.rows, self.cols)
        };
        let (out, inp) = match self.shard {
            Shard::Replicated => (out, inp),
            Shard::Column => (out.div_ceil(degree), inp),
            Shard::Row => (out, inp.div_ceil(degree)),
            Shard::KvHeads { heads } => (out / heads.max(1) * (heads / degree).max(1), inp),
            Shard::Vocab => ((out.div_ceil(64) * 64).div_ceil(degree), inp),
        };
        // Bias vectors pad their length only (`inp` is 1).
        let pad_inp = |inp: u64, m: u64| {
            if self.vector {
                inp
            } else {
                inp.next_multiple_of(m.max(1))
            }
        };
        let (out, inp) = match (self.role, sharding.expert_pad) {
            (Role::Plain, _) | (_, ExpertPad::NONE) => (out, inp),
            (Role::ExpertUp { projections }, pad) => {
                let p = projections.max(1);
                (
                    p * (out / p).next_multiple_of(pad.intermediate.max(1)),
                    pad_inp(inp, pad.hidden),
                )
            }
            (Role::ExpertDown, pad) => (
                out.next_multiple_of(pad.hidden.max(1)),
                pad_inp(inp, pad.intermediate),
            ),
        };
        let one = if self.vector {
            plan.get(TensorGroup::Vectors).vector_bytes(out as u128)
        } else {
            plan.get(self.group).matrix_bytes(out as u128, inp as u128)
        };
        let copies = if self.group == TensorGroup::RoutedExperts {
            self.copies.div_ceil(sharding.ep.max(1))
        } else {
            self.copies
        };
        one * copies as u128
    }
}

/// A pipeline stage: layers `start..end`, and whether it holds the embedding / the lm_head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    pub start: u64,
    pub end: u64,
    pub first: bool,
    pub last: bool,
}

impl Stage {
    /// The whole model on one stage.
    pub fn whole(layers: u64) -> Stage {
        Stage {
            start: 0,
            end: layers,
            first: true,
            last: true,
        }
    }
}

/// A run of `count` identical decoder layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerGroup {
    pub count: u64,
    pub attention: Attention,
    pub ffn: Ffn,
    /// Hidden-sized norm weights per layer (2 for pre-norm Llama, 4 for Gemma3's sandwich norms).
    pub norms: u64,
}

impl LayerGroup {
    /// Tensors of one layer of this group.
    pub fn tensors(&self, hidden: u64) -> Vec<Tensor> {
        let mut t = Vec::with_capacity(16);
        self.attention.tensors(hidden, &mut t);
        self.ffn.tensors(hidden, &mut t);
        for _ in 0..self.norms {
            t.push(Tensor::vector(TensorGroup::Vectors, hidden));
        }
        t
    }
}

/// Multi-token-prediction (next-n) layers: a decoder layer plus its projection and norms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mtp {
    pub layer: LayerGroup,
    /// Extra tensors of each MTP module (DeepSeek: enorm, hnorm, eh_proj, shared_head.norm).
    pub extra: Vec<Tensor>,
}

/// A model normalised for evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Catalog id or file stem.
    pub id: String,
    /// Architecture class from the config.
    pub architecture: String,
    /// File the model was read from (for messages).
    pub source: String,
    pub hidden: u64,
    pub vocab: u64,
    pub tied_embeddings: bool,
    /// Hidden-sized vectors of the final norm: 1 for RMSNorm, 2 for LayerNorm with a bias,
    /// 0 for a norm without weights (OLMo).
    #[serde(default = "one")]
    pub final_norm: u64,
    /// A bias on the lm_head (vocab-sized; PhiMoE, ERNIE 4.5 MoE under `use_bias`).
    #[serde(default)]
    pub lm_head_bias: bool,
    pub max_position_embeddings: Option<u64>,
    /// The decoder, in layer order.
    pub groups: Vec<LayerGroup>,
    /// Next-n prediction layers (counted only on request).
    pub mtp: Option<Mtp>,
    /// Precision the checkpoint is published in (from `quantization_config` / `torch_dtype`).
    pub default_plan: PrecisionPlan,
    /// Stored weight bytes from the checkpoint's safetensors headers, when loaded from one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<checkpoint::CheckpointWeights>,
    /// What loading assumed or left out, shown with every report of this model.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Vision / audio encoder and projector tensors ([`TensorGroup::Vision`]): held in memory,
    /// never used per generated token (their `active` is 0), keeping no KV.
    #[serde(default)]
    pub vision: Vec<Tensor>,
}

/// Total and per-token-active parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamCounts {
    pub total: u64,
    pub active: u64,
}

/// Weight bytes per tensor group, scales included.
pub type WeightBytes = PerGroup<u64>;

fn one() -> u64 {
    1
}

fn to_u64(v: u128, what: &str) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::overflow(what))
}

impl Model {
    /// Number of decoder layers (MTP excluded).
    pub fn layers(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// The layer groups of layers `start..end` (clipped runs).
    pub fn groups_in(&self, start: u64, end: u64) -> Vec<LayerGroup> {
        let mut out = Vec::new();
        let mut at = 0;
        for g in &self.groups {
            let (lo, hi) = (at.max(start), (at + g.count).min(end));
            if lo < hi {
                out.push(LayerGroup {
                    count: hi - lo,
                    ..g.clone()
                });
            }
            at += g.count;
        }
        out
    }

    /// Every (tensor, multiplicity) pair a pipeline stage holds: its layers, the embedding on the
    /// first stage, final norm and lm_head on the last (a tied embedding is held by both ends when
    /// they differ, as vLLM does), and the MTP layers on the last stage when requested.
    pub fn stage_tensors(&self, stage: &Stage, with_mtp: bool) -> Vec<(Tensor, u64)> {
        let e =
            Tensor::matrix(TensorGroup::Embeddings, self.vocab, self.hidden).split(Shard::Vocab);
        let mut out = Vec::new();
        if stage.first {
            out.push((e, 1));
        }
        // vLLM builds the encoder in the model's constructor, outside the pipeline-split layers,
        // so every stage holds it (see vision.rs).
        out.extend(self.vision.iter().map(|&t| (t, 1)));
        if stage.last {
            for _ in 0..self.final_norm {
                out.push((Tensor::vector(TensorGroup::Vectors, self.hidden), 1));
            }
            if !self.tied_embeddings || !stage.first {
                out.push((e, 1));
            }
            if self.lm_head_bias {
                let b = Tensor::vector(TensorGroup::Embeddings, self.vocab).split(Shard::Vocab);
                out.push((b, 1));
            }
        }
        for g in self.groups_in(stage.start, stage.end) {
            out.extend(g.tensors(self.hidden).into_iter().map(|t| (t, g.count)));
        }
        if with_mtp && stage.last {
            if let Some(m) = &self.mtp {
                out.extend(
                    m.layer
                        .tensors(self.hidden)
                        .into_iter()
                        .map(|t| (t, m.layer.count)),
                );
                out.extend(m.extra.iter().map(|&t| (t, m.layer.count)));
            }
        }
        out
    }

    /// The model as one stage: every tensor once.
    fn all_tensors(&self, with_mtp: bool) -> Vec<(Tensor, u64)> {
        self.stage_tensors(&Stage::whole(self.layers()), with_mtp)
    }

    /// Pipeline stages as vLLM's `get_pp_indices` splits layers: `layers / pp` each, and the
    /// remainder one extra layer each on the stages just before the last.
    pub fn pp_stages(&self, pp: u64) -> Vec<Stage> {
        let n = self.layers();
        let pp = pp.clamp(1, n.max(1));
        let mut sizes = vec![n / pp; pp as usize];
        for i in 2..(n % pp) + 2 {
            sizes[(pp - i) as usize] += 1;
        }
        let mut start = 0;
        sizes
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let s = Stage {
                    start,
                    end: start + k,
                    first: i == 0,
                    last: i as u64 == pp - 1,
                };
                start += k;
                s
            })
            .collect()
    }

    /// Parameters as transformers instantiates them (buffers such as DeepSeek's
    /// `e_score_correction_bias` are not parameters); `with_mtp` adds the next-n layers.
    pub fn params(&self, with_mtp: bool) -> Result<ParamCounts> {
        let (mut total, mut active) = (0u128, 0u128);
        for (t, n) in self.all_tensors(with_mtp) {
            let per = t.rows as u128 * t.cols as u128;
            total += per * t.copies as u128 * n as u128;
            active += per * t.active as u128 * n as u128;
        }
        Ok(ParamCounts {
            total: to_u64(total, "parameter count")?,
            active: to_u64(active, "active parameter count")?,
        })
    }

    /// Weight bytes per group in `plan`, with every format's scale bytes.
    pub fn weight_bytes(&self, plan: &PrecisionPlan, with_mtp: bool) -> Result<WeightBytes> {
        self.stage_weight_bytes(
            &Stage::whole(self.layers()),
            plan,
            &Sharding::NONE,
            with_mtp,
        )
    }

    /// Weight bytes one chip of a pipeline stage holds under `sharding`.
    pub fn stage_weight_bytes(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
    ) -> Result<WeightBytes> {
        let mut acc = PerGroup::<u128>::default();
        for (t, n) in self.stage_tensors(stage, with_mtp) {
            acc[t.group] += t.bytes_per_chip(plan, sharding) * n as u128;
        }
        to_u64(acc.values().sum::<u128>(), "weight bytes")?;
        let mut w = WeightBytes::default();
        for (g, &v) in acc.iter() {
            w[g] = to_u64(v, "weight bytes")?;
        }
        Ok(w)
    }

    /// Raw KV record bytes of one token summed over every layer that keeps tokens (full, window
    /// and the window part of compressed layers), on one chip under attention TP `tp`. What a
    /// session really holds depends on windows, compression and states: see [`Model::stage_kv_specs`].
    pub fn kv_bytes_per_token(&self, kv: KvFormat, tp: u64, with_mtp: bool) -> Result<u64> {
        let specs = self.stage_kv_specs(
            &Stage::whole(self.layers()),
            kv,
            KvFormat::Bf16,
            tp,
            with_mtp,
        )?;
        crate::kv::record_bytes_per_token(&specs)
    }

    /// What each layer of a pipeline stage keeps per sequence on one chip, identical specs merged.
    pub fn stage_kv_specs(
        &self,
        stage: &Stage,
        kv: KvFormat,
        state: KvFormat,
        tp: u64,
        with_mtp: bool,
    ) -> Result<Vec<LayerKv>> {
        let groups = self.groups_in(stage.start, stage.end);
        let mtp = self
            .mtp
            .as_ref()
            .filter(|_| with_mtp && stage.last)
            .map(|m| &m.layer);
        let mut out: Vec<LayerKv> = Vec::new();
        for g in groups.iter().chain(mtp) {
            // A layer without KV of its own (no attention; cross-layer KV sharing) gets no spec.
            if !g.attention.keeps_kv() {
                continue;
            }
            let spec = g.attention.kv_spec(kv, state, tp)?;
            match out.iter_mut().find(|l| l.spec == spec) {
                Some(l) => l.layers += g.count,
                None => out.push(LayerKv {
                    spec,
                    layers: g.count,
                }),
            }
        }
        Ok(out)
    }

    /// Layers that hold KV cache (for page accounting): decoder layers with KV of their own, plus
    /// MTP when included.
    pub fn kv_layers(&self, with_mtp: bool) -> u64 {
        let own = |g: &LayerGroup| if g.attention.keeps_kv() { g.count } else { 0 };
        self.groups.iter().map(own).sum::<u64>()
            + if with_mtp {
                self.mtp.as_ref().map_or(0, |m| own(&m.layer))
            } else {
                0
            }
    }

    /// Attention families present, e.g. "MLA" or "GQA".
    pub fn attention_summary(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        for g in &self.groups {
            let d = g.attention.describe();
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
        seen.join(" + ")
    }

    /// FFN kinds present, e.g. "dense SwiGLU 18432 + MoE 256 experts top-8 × 2048 + shared 2048".
    pub fn ffn_summary(&self) -> String {
        let mut seen: Vec<String> = Vec::new();
        for g in &self.groups {
            let d = g.ffn.describe();
            if !seen.contains(&d) {
                seen.push(d);
            }
        }
        seen.join(" + ")
    }
}

/// Run-length groups identical consecutive layers.
pub(crate) fn group_layers(layers: Vec<(Attention, Ffn)>, norms: u64) -> Vec<LayerGroup> {
    let mut groups: Vec<LayerGroup> = Vec::new();
    for (attention, ffn) in layers {
        match groups.last_mut() {
            Some(g) if g.attention == attention && g.ffn == ffn => g.count += 1,
            _ => groups.push(LayerGroup {
                count: 1,
                attention,
                ffn,
                norms,
            }),
        }
    }
    groups
}
