//! The normalised architecture: embeddings, lm_head and the decoder as its distinct layer kinds
//! ("layer groups", each with its number of layers) and their order ([`LayerOrder`]), so every
//! formula costs O(kinds) — not O(layers), nor O(runs) when kinds alternate (gpt-oss, Gemma-3).

pub mod attention;
pub mod checkpoint;
pub mod ffn;
pub mod figures;
pub mod hf;
pub mod position;

pub use attention::{Attention, Gqa, Mla, MlaLayout, QkNorm};
pub use ffn::{Ffn, Moe, VisionExperts};

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
    /// TP degree of the input embedding when the engine splits it otherwise than the vocabulary
    /// of the lm_head (SGLang's DeepSeek models under DP attention); 0: as `tp`.
    pub embedding_tp: u64,
    /// TP degree of the vision encoder's split tensors when the engine splits them otherwise
    /// than `tp` (1: whole on every rank, as vLLM before 0.14 builds Kimi-VL's MoonViT); 0: as
    /// `tp`.
    #[serde(default)]
    pub vision_tp: u64,
}

impl Sharding {
    /// One chip holds everything.
    pub const NONE: Sharding = Sharding {
        attention_tp: 1,
        tp: 1,
        expert_tp: 1,
        ep: 1,
        expert_pad: ExpertPad::NONE,
        embedding_tp: 0,
        vision_tp: 0,
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
    /// The input embedding (split by [`Sharding::embedding_tp`]).
    InputEmbedding,
    /// Stored in the same parameter as the tensor before it: vLLM's `QKVParallelLinear` holds
    /// q, k and v (and their biases) as one allocation.
    FusedWithPrevious,
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
    /// Identical copies in one layer (experts); 0 for weights another layer holds (a shared
    /// block's later uses).
    pub copies: u64,
    /// Copies used by one token (FLOPs); at most `copies`, except for weights held elsewhere.
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
        let (data, scales) = self.parts_per_chip(plan, sharding);
        data + scales
    }

    /// [`Tensor::bytes_per_chip`] as (the elements' own bytes, the scales' and other
    /// quantisation tensors' bytes): the engine allocates them as separate parameters.
    pub fn parts_per_chip(&self, plan: &PrecisionPlan, sharding: &Sharding) -> (u128, u128) {
        let degree = match self.group {
            _ if self.role == Role::InputEmbedding && sharding.embedding_tp > 0 => {
                sharding.embedding_tp
            }
            TensorGroup::Vision if sharding.vision_tp > 0 => sharding.vision_tp,
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
            (Role::Plain | Role::InputEmbedding | Role::FusedWithPrevious, _)
            | (_, ExpertPad::NONE) => (out, inp),
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
        let (data, scales) = if self.vector {
            (plan.get(TensorGroup::Vectors).vector_bytes(out as u128), 0)
        } else {
            let f = plan.get(self.group);
            let data = f.matrix_data_bytes(out as u128, inp as u128);
            (data, f.matrix_bytes(out as u128, inp as u128) - data)
        };
        let copies = if self.group == TensorGroup::RoutedExperts {
            self.copies.div_ceil(sharding.ep.max(1))
        } else {
            self.copies
        } as u128;
        (data * copies, scales * copies)
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
    /// Same attention, FFN and norms (the count aside).
    pub fn same_kind(&self, other: &LayerGroup) -> bool {
        self.attention == other.attention && self.ffn == other.ffn && self.norms == other.norms
    }

    /// Tensors of one layer of this group.
    pub fn tensors(&self, hidden: u64) -> Vec<Tensor> {
        let mut t = Vec::with_capacity(16);
        self.tensors_into(hidden, &mut t);
        t
    }

    /// Appends the tensors of one layer of this group to `out` (a reused buffer: no allocation
    /// per call once it has grown).
    pub fn tensors_into(&self, hidden: u64, out: &mut Vec<Tensor>) {
        self.attention.tensors(hidden, out);
        self.ffn.tensors(hidden, out);
        for _ in 0..self.norms {
            out.push(Tensor::vector(TensorGroup::Vectors, hidden));
        }
    }
}

/// Multi-token-prediction (next-n) layers: a decoder layer plus its projection and norms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mtp {
    pub layer: LayerGroup,
    /// Extra tensors of each MTP module (DeepSeek: enorm, hnorm, eh_proj, shared_head.norm).
    pub extra: Vec<Tensor>,
}

thread_local! {
    /// The tensors of one layer kind, reused by [`Model::each_stage_tensor`].
    static TENSORS: std::cell::Cell<Vec<Tensor>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A model normalised for evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Catalog id or file stem (shared with every report of the model).
    pub id: std::sync::Arc<str>,
    /// Architecture class from the config.
    pub architecture: std::sync::Arc<str>,
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
    /// The decoder's distinct layer kinds, in order of first appearance, each with its number of
    /// layers (after a change to them, [`Model::regroup`] merges kinds that became identical).
    pub groups: Vec<LayerGroup>,
    /// Where each kind's layers sit (only pipeline stages need it).
    #[serde(skip)]
    pub order: LayerOrder,
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
    /// Rotary tables and fixed position tables: not parameters, but engines allocate them at
    /// load time ([`position`]).
    #[serde(default, skip_serializing_if = "position::PositionTables::is_empty")]
    pub positions: position::PositionTables,
    /// Parameter counts and matmul FLOPs, kept after the first evaluation ([`figures`]).
    #[serde(skip)]
    figures: figures::Figures,
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
    /// DeepSeek-V4 compressed attention on some layer.
    pub fn has_compressed_attention(&self) -> bool {
        self.groups
            .iter()
            .any(|g| matches!(g.attention, attention::Attention::Compressed(_)))
    }

    /// Some layer routes tokens to experts.
    pub fn has_moe(&self) -> bool {
        self.groups.iter().any(|g| matches!(g.ffn, Ffn::Moe(_)))
    }

    /// An MLA layer with the DeepSeek sparse-attention indexer (DeepSeek-V3.2, GLM-5).
    pub fn has_dsa_indexer(&self) -> bool {
        self.groups
            .iter()
            .any(|g| matches!(&g.attention, attention::Attention::Mla(m) if m.indexer.is_some()))
    }

    /// Stores every sparse-attention indexer's keys as `cache` (MTP layer included).
    pub fn set_indexer_cache(&mut self, cache: crate::precision::IndexerCache) {
        let mtp = self.mtp.as_mut().map(|m| &mut m.layer);
        for g in self.groups.iter_mut().chain(mtp) {
            let idx = match &mut g.attention {
                attention::Attention::Mla(m) => m.indexer.as_mut(),
                attention::Attention::Compressed(c) => c.indexer.as_mut(),
                _ => None,
            };
            if let Some(i) = idx {
                i.cache = cache;
            }
        }
    }

    /// Number of decoder layers (MTP excluded).
    pub fn layers(&self) -> u64 {
        self.groups.iter().map(|g| g.count).sum()
    }

    /// The layer kinds of layers `start..end`, each with its number of layers there, in order of
    /// first appearance in that range: O(kinds · log kinds + log runs).
    pub fn groups_in(&self, start: u64, end: u64) -> Vec<LayerGroup> {
        let total = self.layers();
        let end = end.min(total);
        if start == 0 && end == total {
            return self.groups.clone();
        }
        if start >= end {
            return Vec::new();
        }
        match self.order.counts(self.groups.len(), total, start, end) {
            Some(counts) => counts
                .into_iter()
                .map(|(k, n)| LayerGroup {
                    count: n,
                    ..self.groups[k].clone()
                })
                .collect(),
            // No order recorded (a model built by hand): the kinds follow one another.
            None => clip_runs(&self.groups, start, end),
        }
    }

    /// [`Model::groups_in`], borrowed when the range is the whole decoder (no copy of the kinds).
    pub fn stage_groups(&self, start: u64, end: u64) -> std::borrow::Cow<'_, [LayerGroup]> {
        if start == 0 && end >= self.layers() {
            std::borrow::Cow::Borrowed(&self.groups)
        } else {
            std::borrow::Cow::Owned(self.groups_in(start, end))
        }
    }

    /// The decoder as runs of identical consecutive layers, in layer order: O(runs), for
    /// listings and tests (formulas use [`Model::groups_in`]).
    pub fn runs(&self) -> Vec<LayerGroup> {
        if self.order.0.kinds != self.groups.len()
            || self.order.0.starts.last() != Some(&self.layers())
        {
            return self.groups.clone();
        }
        self.order
            .0
            .runs
            .iter()
            .map(|&(k, n)| LayerGroup {
                count: n,
                ..self.groups[k].clone()
            })
            .collect()
    }

    /// [`Model::runs`] cut to the layers `start..end`.
    pub fn runs_in(&self, start: u64, end: u64) -> Vec<LayerGroup> {
        clip_runs(&self.runs(), start, end)
    }

    /// Merges layer kinds that became identical (after a what-if transform changed them), keeping
    /// the layer order.
    pub fn regroup(&mut self) {
        let mut kinds: Vec<LayerGroup> = Vec::with_capacity(self.groups.len());
        // Each old kind's new index, and its layers (the order when none is recorded).
        let mut map: Vec<(usize, u64)> = Vec::with_capacity(self.groups.len());
        for g in std::mem::take(&mut self.groups) {
            let n = g.count;
            match kinds.iter().position(|k| k.same_kind(&g)) {
                Some(i) => {
                    kinds[i].count += n;
                    map.push((i, n));
                }
                None => {
                    map.push((kinds.len(), n));
                    kinds.push(g);
                }
            }
        }
        let runs = if self.order.0.kinds != map.len() || self.order.0.runs.is_empty() {
            map
        } else {
            self.order
                .0
                .runs
                .iter()
                .map(|&(k, n)| (map[k].0, n))
                .collect()
        };
        self.order = LayerOrder::new(runs, kinds.len());
        self.groups = kinds;
    }

    /// Every (tensor, multiplicity) pair a pipeline stage holds: its layers, the embedding on the
    /// first stage, final norm and lm_head on the last (a tied embedding is held by both ends when
    /// they differ, as vLLM does), and the MTP layers on the last stage when requested.
    pub fn stage_tensors(&self, stage: &Stage, with_mtp: bool) -> Vec<(Tensor, u64)> {
        let mut out = Vec::new();
        self.each_stage_tensor(stage, with_mtp, |t, n| out.push((*t, n)));
        out
    }

    /// Calls `f` with every (tensor, multiplicity) pair of [`Model::stage_tensors`], in the same
    /// order, without building the list (evaluations walk it several times).
    pub fn each_stage_tensor(
        &self,
        stage: &Stage,
        with_mtp: bool,
        mut f: impl FnMut(&Tensor, u64),
    ) {
        let e =
            Tensor::matrix(TensorGroup::Embeddings, self.vocab, self.hidden).split(Shard::Vocab);
        if stage.first {
            let input = Tensor {
                role: Role::InputEmbedding,
                ..e
            };
            f(&input, 1);
        }
        // vLLM builds the encoder in the model's constructor, outside the pipeline-split layers,
        // so every stage holds it (see vision.rs).
        for t in &self.vision {
            f(t, 1);
        }
        if stage.last {
            for _ in 0..self.final_norm {
                f(&Tensor::vector(TensorGroup::Vectors, self.hidden), 1);
            }
            if !self.tied_embeddings || !stage.first {
                f(&e, 1);
            }
            if self.lm_head_bias {
                let b = Tensor::vector(TensorGroup::Embeddings, self.vocab).split(Shard::Vocab);
                f(&b, 1);
            }
        }
        // The thread's buffer, taken (a nested walk finds it empty and makes its own) and given
        // back: an evaluation walks tensors per stage, and a fresh buffer each time was one of
        // its costlier allocations.
        let mut buf = TENSORS.take();
        for g in self.stage_groups(stage.start, stage.end).iter() {
            buf.clear();
            g.tensors_into(self.hidden, &mut buf);
            for t in &buf {
                f(t, g.count);
            }
        }
        if with_mtp && stage.last {
            if let Some(m) = &self.mtp {
                buf.clear();
                m.layer.tensors_into(self.hidden, &mut buf);
                for t in buf.iter().chain(&m.extra) {
                    f(t, m.layer.count);
                }
            }
        }
        buf.clear();
        TENSORS.set(buf);
    }

    /// Pipeline stages as vLLM's `get_pp_indices` splits layers: `layers / pp` each, and the
    /// remainder one extra layer each on the stages just before the last.
    pub fn pp_stages(&self, pp: u64) -> Vec<Stage> {
        self.pp_stage_iter(pp).collect()
    }

    /// [`Model::pp_stages`] one at a time, without the list.
    pub fn pp_stage_iter(&self, pp: u64) -> impl Iterator<Item = Stage> {
        let n = self.layers();
        let pp = pp.clamp(1, n.max(1));
        // Stage i holds n / pp layers, one more for the n % pp stages just before the last.
        let extra = move |i: u64| u64::from(i + 1 < pp && i + 1 + n % pp >= pp);
        let mut start = 0;
        (0..pp).map(move |i| {
            let k = n / pp + extra(i);
            let s = Stage {
                start,
                end: start + k,
                first: i == 0,
                last: i == pp - 1,
            };
            start += k;
            s
        })
    }

    /// Parameters as transformers instantiates them (buffers such as DeepSeek's
    /// `e_score_correction_bias` are not parameters, weights shared by several layers count
    /// once); `with_mtp` adds the next-n layers.
    pub fn params(&self, with_mtp: bool) -> Result<ParamCounts> {
        match self.walked().params[usize::from(with_mtp)] {
            Some(p) => Ok(p),
            None => self.count_params(with_mtp),
        }
    }

    /// [`Model::params`] counted by walking the tensors.
    pub(crate) fn count_params(&self, with_mtp: bool) -> Result<ParamCounts> {
        let (mut total, mut active) = (0u128, 0u128);
        self.each_stage_tensor(&Stage::whole(self.layers()), with_mtp, |t, n| {
            let per = t.rows as u128 * t.cols as u128;
            total += per * t.copies as u128 * n as u128;
            // A tensor held elsewhere (a shared block's later uses: 0 copies, 1 active) is computed
            // but not a parameter of its own: active parameters are distinct parameters.
            active += per * t.active.min(t.copies) as u128 * n as u128;
        });
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

    /// Weight bytes one chip of a pipeline stage holds under `sharding`, walking its tensors
    /// ([`Model::stage_weight_bytes`] keeps them).
    pub(crate) fn walk_weights(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
    ) -> Result<WeightBytes> {
        let mut acc = PerGroup::<u128>::default();
        self.each_stage_tensor(stage, with_mtp, |t, n| {
            acc[t.group] += t.bytes_per_chip(plan, sharding) * n as u128;
        });
        to_u64(acc.values().sum::<u128>(), "weight bytes")?;
        let mut w = WeightBytes::default();
        for (g, &v) in acc.iter() {
            w[g] = to_u64(v, "weight bytes")?;
        }
        Ok(w)
    }

    /// The device allocations one chip of a pipeline stage makes for its weights under
    /// `sharding`, as (bytes, how many), in the order [`Model::each_stage_tensor`] walks them:
    /// one per parameter — a tensor and the ones fused into it ([`Role::FusedWithPrevious`]),
    /// experts stacked in one — and one for its scales when the format has them.
    pub fn stage_allocations(
        &self,
        stage: &Stage,
        plan: &PrecisionPlan,
        sharding: &Sharding,
        with_mtp: bool,
    ) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        // The parameter being built: (data, scales, multiplicity).
        let mut open: Option<(u128, u128, u64)> = None;
        let flush = |o: Option<(u128, u128, u64)>, out: &mut Vec<(u64, u64)>| {
            if let Some((data, scales, n)) = o {
                for part in [data, scales] {
                    if part > 0 && n > 0 {
                        out.push((u64::try_from(part).unwrap_or(u64::MAX), n));
                    }
                }
            }
        };
        self.each_stage_tensor(stage, with_mtp, |t, n| {
            let (data, scales) = t.parts_per_chip(plan, sharding);
            match &mut open {
                Some((d, s, m)) if t.role == Role::FusedWithPrevious && *m == n => {
                    *d += data;
                    *s += scales;
                }
                _ => flush(open.replace((data, scales, n)), &mut out),
            }
        });
        flush(open, &mut out);
        out
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
        self.stage_kv_specs_as(stage, kv, state, tp, with_mtp, MlaLayout::Latent)
    }

    /// [`Model::stage_kv_specs`] with MLA layers cached as `mla` lays them out (an engine release
    /// that caches them per head).
    pub fn stage_kv_specs_as(
        &self,
        stage: &Stage,
        kv: KvFormat,
        state: KvFormat,
        tp: u64,
        with_mtp: bool,
        mla: MlaLayout,
    ) -> Result<Vec<LayerKv>> {
        let groups = self.stage_groups(stage.start, stage.end);
        let mtp = self
            .mtp
            .as_ref()
            .filter(|_| with_mtp && stage.last)
            .map(|m| &m.layer);
        let mut out: Vec<LayerKv> = Vec::new();
        for g in groups.iter().chain(mtp) {
            // A layer without KV of its own (no attention; cross-layer KV sharing) gets no spec;
            // one of parallel mixers gets one per mixer.
            let mut add = |spec| match out.iter_mut().find(|l| l.spec == spec) {
                Some(l) => l.layers += g.count,
                None => out.push(LayerKv {
                    spec,
                    layers: g.count,
                }),
            };
            match (&g.attention, mla) {
                (Attention::Mla(a), MlaLayout::PerHead { .. }) => add(a.kv_spec_as(mla, kv, tp)?),
                (a, _) => a.each_kv_spec(kv, state, tp, &mut add)?,
            }
        }
        Ok(out)
    }

    /// Layers that hold KV cache (for page accounting): decoder layers with KV of their own, plus
    /// MTP when included.
    pub fn kv_layers(&self, with_mtp: bool) -> u64 {
        let own = |g: &LayerGroup| g.count * g.attention.kv_layers_per_layer();
        self.groups.iter().map(own).sum::<u64>()
            + if with_mtp {
                self.mtp.as_ref().map_or(0, |m| own(&m.layer))
            } else {
                0
            }
    }

    /// Attention families present, e.g. "MLA" or "GQA".
    pub fn attention_summary(&self) -> String {
        summary(&self.groups, |g| &g.attention, |a| a.describe())
    }

    /// FFN kinds present, e.g. "dense SwiGLU 18432 + MoE 256 experts top-8 × 2048 + shared 2048".
    pub fn ffn_summary(&self) -> String {
        summary(&self.groups, |g| &g.ffn, Ffn::describe)
    }
}

/// The distinct descriptions of one part of each layer kind, in order, joined by " + ". A part
/// equal to an earlier kind's is not described again (every evaluation builds these).
fn summary<T: PartialEq>(
    groups: &[LayerGroup],
    part: impl Fn(&LayerGroup) -> &T,
    describe: impl Fn(&T) -> String,
) -> String {
    let mut seen: Vec<String> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let p = part(g);
        if groups[..i].iter().any(|h| part(h) == p) {
            continue;
        }
        let d = describe(p);
        if !seen.contains(&d) {
            seen.push(d);
        }
    }
    match seen.len() {
        1 => seen.pop().unwrap_or_default(),
        _ => seen.join(" + "),
    }
}

/// The distinct kinds of a decoder given layer by layer, in order of first appearance, and their
/// order.
pub(crate) fn group_layers(
    layers: Vec<(Attention, Ffn)>,
    norms: u64,
) -> (Vec<LayerGroup>, LayerOrder) {
    let mut kinds: Vec<LayerGroup> = Vec::new();
    let mut runs: Vec<(usize, u64)> = Vec::new();
    for (attention, ffn) in layers {
        let k = match kinds
            .iter()
            .position(|g| g.attention == attention && g.ffn == ffn)
        {
            Some(k) => {
                kinds[k].count += 1;
                k
            }
            None => {
                kinds.push(LayerGroup {
                    count: 1,
                    attention,
                    ffn,
                    norms,
                });
                kinds.len() - 1
            }
        };
        runs.push((k, 1));
    }
    let n = kinds.len();
    (kinds, LayerOrder::new(runs, n))
}

/// Where each layer kind sits in the decoder: runs of one kind in layer order, with running counts
/// so that the kinds of any layer range (a pipeline stage) come out in O(kinds) after a binary
/// search, however the kinds alternate. Shared, so a model clones in O(kinds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerOrder(std::sync::Arc<Runs>);

#[derive(Debug, Default, PartialEq, Eq)]
struct Runs {
    /// (kind, layers) in layer order, neighbours of one kind merged.
    runs: Vec<(usize, u64)>,
    /// First layer of each run, then the number of layers.
    starts: Vec<u64>,
    /// Layers of kind k before run r: `before[r * kinds + k]` (one row past the last run).
    before: Vec<u64>,
    /// First run at or after r of kind k: `next[r * kinds + k]` (`runs.len()` if none).
    next: Vec<usize>,
    kinds: usize,
}

impl LayerOrder {
    /// The order of `runs` over `kinds` kinds.
    fn new(runs: Vec<(usize, u64)>, kinds: usize) -> LayerOrder {
        let mut merged: Vec<(usize, u64)> = Vec::with_capacity(runs.len());
        for (k, n) in runs.into_iter().filter(|r| r.1 > 0) {
            match merged.last_mut() {
                Some(last) if last.0 == k => last.1 += n,
                _ => merged.push((k, n)),
            }
        }
        let r = merged.len();
        let mut starts = Vec::with_capacity(r + 1);
        let mut before = vec![0u64; (r + 1) * kinds];
        let mut at = 0;
        for (i, &(k, n)) in merged.iter().enumerate() {
            starts.push(at);
            let (row, next_row) = before.split_at_mut((i + 1) * kinds);
            next_row[..kinds].copy_from_slice(&row[i * kinds..]);
            next_row[k] += n;
            at += n;
        }
        starts.push(at);
        let mut next = vec![r; (r + 1) * kinds];
        for i in (0..r).rev() {
            let (row, later) = next.split_at_mut((i + 1) * kinds);
            row[i * kinds..].copy_from_slice(&later[..kinds]);
            row[i * kinds + merged[i].0] = i;
        }
        LayerOrder(std::sync::Arc::new(Runs {
            runs: merged,
            starts,
            before,
            next,
            kinds,
        }))
    }

    /// The run holding layer `x` (`runs.len()` at the end).
    fn run_of(&self, x: u64) -> usize {
        self.0.starts[1..].partition_point(|&s| s <= x)
    }

    /// Layers of kind `k` before layer `x`, given the run `r` holding it.
    fn count_before(&self, r: usize, k: usize, x: u64) -> u64 {
        let mut n = self.0.before[r * self.0.kinds + k];
        if r < self.0.runs.len() && self.0.runs[r].0 == k {
            n += x - self.0.starts[r];
        }
        n
    }

    /// (kind, layers) of layers `start..end`, in order of first appearance there; `None` when
    /// this order does not describe `kinds` kinds over `total` layers.
    fn counts(&self, kinds: usize, total: u64, start: u64, end: u64) -> Option<Vec<(usize, u64)>> {
        if self.0.kinds != kinds || self.0.starts.last() != Some(&total) {
            return None;
        }
        let (rs, re) = (self.run_of(start), self.run_of(end));
        let mut out: Vec<(u64, usize, u64)> = (0..kinds)
            .filter_map(|k| {
                let n = self.count_before(re, k, end) - self.count_before(rs, k, start);
                // Where the kind first appears from `start` on.
                let first = if self.0.runs[rs].0 == k {
                    start
                } else {
                    self.0.starts[self.0.next[rs * kinds + k]]
                };
                (n > 0).then_some((first, k, n))
            })
            .collect();
        out.sort_unstable();
        Some(out.into_iter().map(|(_, k, n)| (k, n)).collect())
    }
}
/// Consecutive runs of layers cut to the layers `start..end`.
fn clip_runs(runs: &[LayerGroup], start: u64, end: u64) -> Vec<LayerGroup> {
    let mut out = Vec::new();
    let mut at = 0;
    for g in runs {
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

#[cfg(test)]
mod tests {
    use super::*;

    // The stage sizes are those of vLLM's `get_pp_indices` (vllm/distributed/utils.py @ v0.11.0):
    // `layers // pp` each, and the remainder one more each on the stages just before the last,
    // here written as that function's loop (`for i in range(2, remaining_layers + 2):
    // partitions[-i] += 1`) for every depth up to 70 and every pp up to 9.
    #[test]
    fn pp_stages_split_as_vllm() {
        let mut m = crate::catalog::load_model("llama-3.1-8b").unwrap();
        for n in 1..=70u64 {
            m.groups[0].count = n;
            m.groups.truncate(1);
            m.order = LayerOrder::default();
            for pp in 1..=9u64.min(n) {
                let mut want = vec![n / pp; pp as usize];
                for i in 2..(n % pp) + 2 {
                    want[(pp - i) as usize] += 1;
                }
                let st = m.pp_stages(pp);
                let sizes: Vec<u64> = st.iter().map(|s| s.end - s.start).collect();
                assert_eq!(sizes, want, "{n} layers, pp {pp}");
                assert!(st.windows(2).all(|w| w[0].end == w[1].start));
                assert!(st[0].first && st[pp as usize - 1].last && st[0].start == 0);
                assert_eq!(
                    st.iter().filter(|s| s.first || s.last).count(),
                    2.min(pp) as usize
                );
            }
        }
    }

    // Every layer range of interleaved decoders gives the kinds a layer-by-layer walk gives, with
    // the same counts and in the same order of first appearance.
    #[test]
    fn kinds_of_any_range_match_a_walk_over_the_layers() {
        let attention = crate::catalog::load_model("llama-3.1-8b").unwrap().groups[0]
            .attention
            .clone();
        let ffn = |k: u64| Ffn::Dense {
            intermediate: 1000 + k,
            gated: true,
            bias: false,
            act_params: 0,
        };
        let patterns: [&[u64]; 4] = [
            &[0, 1, 0, 1, 0, 1, 0],
            &[0, 0, 0, 1, 2, 2, 1, 0, 0, 2],
            &[3, 3, 3, 3],
            &[0, 1, 1, 1, 1, 1, 0, 2, 1, 0, 0, 1],
        ];
        for p in patterns {
            let layers = p.iter().map(|&k| (attention.clone(), ffn(k))).collect();
            let (groups, order) = group_layers(layers, 2);
            let mut m = crate::catalog::load_model("llama-3.1-8b").unwrap();
            m.groups = groups;
            m.order = order;
            assert_eq!(m.layers(), p.len() as u64);
            for start in 0..p.len() {
                for end in start..=p.len() {
                    let mut walk: Vec<(u64, u64)> = Vec::new();
                    for &k in &p[start..end] {
                        match walk.iter_mut().find(|w| w.0 == k) {
                            Some(w) => w.1 += 1,
                            None => walk.push((k, 1)),
                        }
                    }
                    let got: Vec<(u64, u64)> = m
                        .groups_in(start as u64, end as u64)
                        .iter()
                        .map(|g| match g.ffn {
                            Ffn::Dense { intermediate, .. } => (intermediate - 1000, g.count),
                            _ => unreachable!(),
                        })
                        .collect();
                    assert_eq!(got, walk, "{p:?} {start}..{end}");
                }
            }
            // Kinds made identical merge, and the order still splits stages right.
            for g in &mut m.groups {
                g.ffn = ffn(0);
            }
            m.regroup();
            assert_eq!(m.groups.len(), 1);
            assert_eq!(m.groups_in(1, 3)[0].count, 2.min(p.len() as u64 - 1));
        }
    }
}
