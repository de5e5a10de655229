//! Serving engines behind one trait ([`ServingEngine`]): the default memory fraction and page size,
//! the KV budget of one chip, and how a budget becomes blocks, concurrency and sessions from the
//! per-layer KV specs. One file per engine; to add one, write its file and list it in [`ENGINES`].

pub mod allocator;
pub mod eager_trace;
mod ideal;
pub mod kv_format;
pub mod other_processes;
pub mod overhead;
mod pool;
pub mod position_tables;
mod sglang;
pub mod sglang_mla;
mod trtllm;
mod vllm;

pub use kv_format::{KvChoice, KvRequest};
use pool::PlanKind;
pub use pool::{Accounting, Capacity, PoolParams, PoolPlan};

use crate::error::{Error, Result};
use crate::kv::{KvSpec, LayerKv};
use crate::model::ExpertPad;
use crate::precision::WeightFormat;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What one chip of a pipeline stage spends besides the KV cache (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StageMemory {
    pub weights: u64,
    pub activation: u64,
    pub non_torch: u64,
    pub cuda_graph: u64,
}

impl StageMemory {
    /// Weights, activation peak and non-torch memory: what every profiling engine charges.
    fn profiled(&self) -> u64 {
        self.weights
            .saturating_add(self.activation)
            .saturating_add(self.non_torch)
    }
}

/// What an engine's defaults may depend on besides its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setup {
    pub tp: u64,
    pub pp: u64,
    /// Data-parallel replicas (vLLM turns some fusions off under data parallelism).
    pub dp: u64,
    /// Attention data-parallel groups (SGLang DP-attention), 1 without it.
    pub attention_dp: u64,
    /// Device memory in bytes as the runtime reports it (0 when unknown).
    pub total_memory: u64,
    /// An NVIDIA GPU (CUDA-only defaults such as SGLang's prefill CUDA graphs apply).
    pub cuda: bool,
    /// The model has MLA layers (MLA attention backends reserve more).
    pub mla: bool,
    /// The model has DeepSeek sparse-attention (NSA) indexers (DeepSeek-V3.2): SGLang 0.5.3
    /// overrides its memory settings for them.
    pub dsa: bool,
    /// The NVIDIA GPU's compute capability, when the chip states it (picks kernels).
    pub cuda_capability: Option<(u32, u32)>,
    /// An AMD GPU (ROCm kernels).
    pub rocm: bool,
    /// An Intel Gaudi (HPU): vLLM's HPU worker sizes the cache by its own rule.
    pub hpu: bool,
    /// A Huawei Ascend NPU (vLLM-Ascend's NPU model runner profiles without a sampler).
    pub npu: bool,
    /// An Ascend 310P (the chip's `soc`): vLLM-Ascend runs its own worker there.
    pub ascend_310p: bool,
    /// How NCCL connects the chip's GPUs (the chip's `[nccl]`), when the catalog states it.
    pub nccl: Option<overhead::NcclLinks>,
    /// The model has routed experts (vLLM-Ascend's fused-MoE layers open an HCCL communicator).
    pub moe: bool,
    /// vLLM V1's sampler runs on FlashInfer (a log says so); otherwise the release's default.
    pub flashinfer_sampler: bool,
    /// The GPU's streaming multiprocessors, when the chip states them.
    pub sm_count: Option<u64>,
}

/// What an engine's batch defaults (`max_num_batched_tokens`, `max_num_seqs`) depend on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batching<'a> {
    /// The chip's name as the runtime reports it ("NVIDIA A100-SXM4-80GB"; kvsim's chip name),
    /// borrowed from the chip while an evaluation asks.
    pub chip_name: std::borrow::Cow<'a, str>,
    /// Device memory in bytes as the runtime reports it (0 when unknown).
    pub total_memory: u64,
    /// `max_model_len`: kvsim's context.
    pub max_model_len: u64,
    /// The model has sliding-window layers.
    pub windowed: bool,
    /// The model has DeepSeek MLA layers (vLLM V0 batched them by a rule of their own).
    pub mla: bool,
}

/// vLLM's HPU-graph reserve on a Gaudi: `share` (`VLLM_GRAPH_RESERVED_MEM`) of the memory free
/// after the weights and the profiling run, times the utilization (`vllm/worker/hpu_worker.py::
/// HPUWorker.determine_num_available_blocks`, vllm-project/vllm at commit 018ce62f).
pub fn hpu_graph_bytes(m: &StageMemory, total: u64, fraction: f64, share: f64) -> u64 {
    (vllm::hpu_usable(m, total, fraction) as f64 * share).floor() as u64
}

/// Which chip's own budget rule an engine may apply ([`Engine::budget_on`]); `Standard`: the
/// engine's general rule, which the planned fast paths take as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChipBudget {
    #[default]
    Standard,
    /// An Intel Gaudi ([`ServingEngine::chip_budget`]).
    Hpu,
    /// An Ascend 310P ([`ServingEngine::chip_budget`]).
    Ascend310P,
}

impl Setup {
    /// The chip's budget rule kind.
    pub fn chip_budget(&self) -> ChipBudget {
        if self.hpu {
            ChipBudget::Hpu
        } else if self.ascend_310p {
            ChipBudget::Ascend310P
        } else {
            ChipBudget::Standard
        }
    }
}

/// The KV budget when `usable` bytes are available and `spent` are taken: (budget, shortfall).
fn settle(usable: u64, spent: u64) -> (u64, u64) {
    (usable.saturating_sub(spent), spent.saturating_sub(usable))
}

/// A budget rule as data applied (as `Vllm::budget`): Python's int(total * fraction), less what
/// the profile charges.
#[inline(always)]
fn rule_budget(rule: pool::BudgetRule, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
    let usable = (total as f64 * fraction) as u64;
    let spent = if rule.cuda_graphs {
        m.profiled().saturating_add(m.cuda_graph)
    } else {
        m.profiled()
    };
    settle(usable, spent)
}

/// Whether `specs` is the one full-attention spec a uniform plan was made for.
#[inline(always)]
fn one_full_spec(specs: &[LayerKv], record: u64, layers: u64) -> bool {
    matches!(specs, [l] if l.layers == layers
        && matches!(l.spec, KvSpec::Full { record: r } if r == record))
}

/// `c` with its token capacity taken from the concurrency when the release does (vLLM from
/// 0.20.1).
#[inline(always)]
fn tokens_from(mut c: Capacity, from_concurrency: bool, p: &PoolParams) -> Capacity {
    if from_concurrency {
        c.capacity_tokens = (c.max_concurrency * p.context as f64) as u64;
    }
    c
}

/// The memory accounting of one serving engine. `version` is the engine's own release code (see
/// [`ServingEngine::parse_version`]); engines without modelled releases use 0.
pub trait ServingEngine: Sync {
    /// The name `--engine` takes and reports show.
    fn name(&self) -> &'static str;
    /// Other names `--engine` accepts.
    fn aliases(&self) -> &'static [&'static str] {
        &[]
    }
    /// Parses `--engine-version` (None: the default release).
    fn parse_version(&self, version: Option<&str>) -> Result<u32> {
        match version {
            None => Ok(0),
            Some(v) => Err(Error::field(
                "command line",
                "--engine-version",
                v,
                format!(
                    "no version for --engine {} (kvsim models one release of it)",
                    self.name()
                ),
            )),
        }
    }
    /// The engine and release as reports show them ("vllm 0.19").
    fn label(&self, version: u32) -> String {
        let mut s = String::new();
        let _ = self.write_label(version, &mut s);
        s
    }
    /// [`ServingEngine::label`] written to `out` (notes and tables show it without a copy).
    fn write_label(&self, _version: u32, out: &mut dyn fmt::Write) -> fmt::Result {
        out.write_str(self.name())
    }
    /// The default memory fraction (vLLM `gpu_memory_utilization`, SGLang `mem_fraction_static`,
    /// TensorRT-LLM `free_gpu_memory_fraction`).
    fn default_fraction(&self, version: u32, setup: &Setup) -> f64;
    /// The fraction the budget uses when `requested` is in force.
    fn fraction_in_force(&self, requested: f64) -> f64 {
        requested
    }
    /// The default `max_num_batched_tokens` (the profiling batch, and the chunk a window layer
    /// keeps in flight).
    fn default_batched_tokens(&self, _version: u32, _b: &Batching<'_>) -> u64 {
        8192
    }
    /// Whether the default `max_num_batched_tokens` follows `max_model_len` (vLLM V0).
    fn batched_tokens_follow_context(&self, _version: u32) -> bool {
        false
    }
    /// The default `max_num_seqs` (the sampler's profiling batch).
    fn default_max_num_seqs(&self, _version: u32, _b: &Batching<'_>) -> u64 {
        1024
    }
    /// How the profiling run charges the sampler on this setup (kvsim's estimate unless the
    /// engine's rule is modelled).
    fn sampler_rule(&self, _version: u32, _setup: &Setup) -> overhead::SamplerRule {
        overhead::SamplerRule::ESTIMATE
    }
    /// Whether the profiling run on `setup` computes the logits of its `max_num_seqs` rows
    /// without sampling them (the peak is then those logits in the activation dtype, after the
    /// forward pass), instead of running the sampler.
    fn profiles_logits_only(&self, _version: u32, _setup: &Setup) -> bool {
        false
    }
    /// Bytes the engine's non-torch measurement holds beyond kvsim's estimate (a baseline-free
    /// rule counts the runtime's own start-up footprint).
    fn non_torch_context(&self, _version: u32, _setup: &Setup) -> u64 {
        0
    }
    /// How the engine's memory measurement sees device memory other processes hold when it
    /// starts ([`other_processes`]); default: lost to the budget, as kvsim's assumption.
    fn other_processes(&self, _version: u32, _setup: &Setup) -> other_processes::OtherProcesses {
        other_processes::OtherProcesses::Lost { read: false }
    }
    /// The caching allocator the weights sit in and what the engine's measurement counts of
    /// their segments beyond the parameters, and where ([`allocator`]; None: nothing counted).
    fn weight_segments(&self, _version: u32, _setup: &Setup) -> Option<allocator::SegmentRule> {
        None
    }
    /// Non-torch memory of one rank built from the collective-communication buffers (NCCL and
    /// all-reduce, HCCL) the engine's code allocates on this setup (None: kvsim's TP-proportional
    /// estimate, [`overhead::non_torch_bytes`]).
    fn comm_non_torch(&self, _version: u32, _setup: &Setup) -> Option<overhead::CommNonTorch> {
        None
    }
    /// The default KV page size in tokens on a chip whose vLLM default is `chip_default`.
    fn default_block_size(&self, version: u32, chip_default: u64) -> u64;
    /// The KV budget of one chip holding `m`, with `total` bytes of device memory, as
    /// (budget, shortfall when weights and overheads alone do not fit).
    fn budget(&self, version: u32, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64);
    /// The KV budget on a chip with a rule of its own in this engine (a Gaudi: the HPU-graph
    /// reserve is `m.cuda_graph`; an Ascend 310P). None: [`ServingEngine::budget`] applies.
    fn chip_budget(
        &self,
        _version: u32,
        _chip: ChipBudget,
        _m: &StageMemory,
        _total: u64,
        _fraction: f64,
    ) -> Option<(u64, u64)> {
        None
    }
    /// What the engine's own rule for the chip does, for a warning (None: no rule of its own).
    fn chip_budget_note(&self, _version: u32, _chip: ChipBudget) -> Option<&'static str> {
        None
    }
    /// The fused-MoE workspace the engine's kernel allocates for routed experts stored in `format`
    /// on this setup (None: MoE layers are charged like a dense FFN of their routed width).
    fn fused_moe(
        &self,
        _version: u32,
        _setup: &Setup,
        _format: WeightFormat,
    ) -> Option<overhead::FusedMoe> {
        None
    }
    /// The MLA prefill path whose decompressed K/V set the attention layer's activation peak
    /// ([`overhead::MlaPrefill`]) for MLA weights stored in `attention` (None: kvsim's estimate).
    fn mla_prefill(
        &self,
        _version: u32,
        _setup: &Setup,
        _attention: WeightFormat,
    ) -> Option<overhead::MlaPrefill> {
        None
    }
    /// The byte multiple the engine pads each MLA cache entry to on this setup (None: unpadded).
    fn mla_entry_align(&self, _version: u32, _setup: &Setup) -> Option<u64> {
        None
    }
    /// How the engine caches MLA layers whose attention weights are stored in `attention`
    /// (default: the latent).
    fn mla_layout(
        &self,
        _version: u32,
        _setup: &Setup,
        _attention: WeightFormat,
    ) -> crate::model::MlaLayout {
        crate::model::MlaLayout::Latent
    }
    /// Whether the engine caches sliding-window layers as full attention on this setup: every
    /// token of the context, the window ignored by the cache (default: no).
    fn caches_windows_in_full(&self, _version: u32, _setup: &Setup) -> bool {
        false
    }
    /// Bytes one rank holds for an MLA layer (`layer`, on the chip `setup` describes) besides its
    /// checkpoint weights: matrices the engine derives from them after loading and keeps
    /// alive when it measures the memory left for the KV cache (default: none).
    fn mla_derived_weights(&self, _version: u32, _setup: &Setup, _layer: MlaRank<'_>) -> u64 {
        0
    }
    /// Bytes one rank holds for one MoE layer besides its routed experts' weights and scales —
    /// tensors the engine's MoE method allocates for `experts` local experts of width
    /// `intermediate` on this rank (routed experts stored in `format`) and keeps alive when it
    /// measures the memory left for the KV cache, with why (default: none).
    fn moe_layer_extra(
        &self,
        _version: u32,
        _setup: &Setup,
        _format: WeightFormat,
        _shape: MoeShape,
    ) -> Option<(u64, &'static str)> {
        None
    }
    /// Bytes of one MLA layer's weights on a rank — checkpoint or derived — that a decode step
    /// does not read, because the engine's decode path uses matrices derived from them (the
    /// roofline's weight traffic leaves them out; default: none).
    fn mla_decode_unread(&self, _version: u32, _setup: &Setup, _layer: MlaRank<'_>) -> u64 {
        0
    }
    /// What [`ServingEngine::mla_derived_weights`] holds, for the weights note: a phrase that
    /// follows the engine's name ("materialises … after loading"), naming any path that depends
    /// on the chip.
    fn mla_derived_note(&self, _version: u32, _setup: &Setup, _attention: WeightFormat) -> String {
        "derives matrices from the MLA weights after loading".to_string()
    }
    /// How the release sizes the position tables it allocates at load besides the parameters
    /// (rotary cos/sin caches, fixed sin-cos tables; [`position_tables`]); None when kvsim does
    /// not model them for this engine.
    fn position_rule(
        &self,
        _version: u32,
        _setup: &Setup,
    ) -> Option<position_tables::PositionRule> {
        None
    }
    /// The HPU-graph reserve as a share of the usable memory when the user gives none.
    fn hpu_graph_share(&self, _version: u32) -> Option<f64> {
        None
    }
    /// TP degree of the input embedding of a model of class `architecture` (default: split over
    /// the whole TP group like the lm_head, `setup.tp`).
    fn embedding_tp(&self, _version: u32, setup: &Setup, _architecture: &str) -> u64 {
        setup.tp
    }
    /// TP degree of the vision encoder's split tensors for a model of class `architecture`
    /// (0: as `setup.tp`). Kimi-VL's MoonViT is whole on every rank unless the engine is known to
    /// split it ([`crate::model::Sharding::vision_tp`]).
    fn vision_tp(&self, _version: u32, _setup: &Setup, architecture: &str) -> u64 {
        u64::from(architecture == "KimiVLForConditionalGeneration")
    }
    /// Whether the budget charges the activation peak and non-torch memory.
    fn charges_overheads(&self) -> bool {
        true
    }
    /// Whether the budget subtracts the CUDA-graph memory (else it lives in the headroom).
    fn subtracts_cuda_graphs(&self, _version: u32) -> bool {
        false
    }
    /// Blocks, concurrency and sessions of `budget` bytes for the layers `specs` of one chip:
    /// uniform pages when every layer keeps every token alike, else each session's page-rounded
    /// bytes (engines with their own allocators override this).
    fn capacity(
        &self,
        _version: u32,
        specs: &[LayerKv],
        budget: u64,
        p: &PoolParams,
    ) -> Result<Capacity> {
        pool::common(specs, budget, p).unwrap_or_else(|| pool::per_session(specs, budget, p))
    }
    /// What [`ServingEngine::capacity`] owes to `specs` and the page size `block` alone, worked
    /// out once per deployment (default: uniform pages when every layer keeps one full record,
    /// else `capacity` at each call). Engines that override `capacity` for uniform pages or plan
    /// more override this too.
    fn plan(&self, _version: u32, specs: &[LayerKv], block: u64) -> PlanKind {
        pool::uniform_plan(specs, block, false).unwrap_or(PlanKind::Other)
    }
    /// [`ServingEngine::budget`] as data, when the engine's rule is `⌊total × fraction⌋` less the
    /// profiled memory (None: `budget` is called).
    fn budget_rule(&self, _version: u32) -> Option<pool::BudgetRule> {
        None
    }
    /// The budget formula in words, for reports.
    fn formula(&self, version: u32, fraction: f64) -> String;
    /// The KV-cache formats the engine stores for `r` (default: as asked).
    fn kv_format(&self, _version: u32, r: &KvRequest) -> KvChoice {
        r.as_asked()
    }
    /// How the MoE kernels pad routed experts stored in `format` on this setup, and why.
    fn expert_padding(
        &self,
        _version: u32,
        _setup: &Setup,
        _format: WeightFormat,
    ) -> Option<(ExpertPad, &'static str)> {
        None
    }
}

/// One MLA layer as a rank holds it: the layer, the model width, the attention TP ranks and the
/// format its attention weights are stored in.
#[derive(Debug, Clone, Copy)]
pub struct MlaRank<'a> {
    pub mla: &'a crate::model::Mla,
    pub hidden: u64,
    pub tp: u64,
    pub attention: WeightFormat,
}

/// One MoE layer as a rank holds it: its local routed experts, the model width, each local
/// expert's intermediate width and whether the expert projections carry biases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoeShape {
    pub experts: u64,
    pub hidden: u64,
    pub intermediate: u64,
    pub bias: bool,
}

/// Every engine kvsim models, in the order `--engine` lists them.
pub const ENGINES: &[&dyn ServingEngine] =
    &[&vllm::Vllm, &sglang::Sglang, &trtllm::Trtllm, &ideal::Ideal];

/// A serving engine at one release: what a scenario names.
#[derive(Clone, Copy, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Engine {
    imp: &'static dyn ServingEngine,
    version: u32,
}

impl Engine {
    /// vLLM at the newest release kvsim models.
    pub const VLLM: Engine = Engine {
        imp: &vllm::Vllm,
        version: vllm::LATEST,
    };
    /// SGLang at the newest release kvsim models.
    pub const SGLANG: Engine = Engine {
        imp: &sglang::Sglang,
        version: sglang::LATEST,
    };
    /// TensorRT-LLM.
    pub const TRTLLM: Engine = Engine {
        imp: &trtllm::Trtllm,
        version: 0,
    };
    /// All memory but the weights, no pages: the physical ceiling.
    pub const IDEAL: Engine = Engine {
        imp: &ideal::Ideal,
        version: 0,
    };

    /// vLLM 0.`minor`.`patch` (below 0.8: the legacy V0 engine).
    pub const fn vllm(minor: u32, patch: u32) -> Engine {
        Engine {
            imp: &vllm::Vllm,
            version: vllm::release(minor, patch),
        }
    }

    /// Parses `--engine` and `--engine-version`.
    pub fn parse(name: &str, version: Option<&str>) -> Result<Engine> {
        let lower = name.trim().to_ascii_lowercase();
        let imp = ENGINES
            .iter()
            .find(|e| e.name() == lower || e.aliases().contains(&lower.as_str()))
            .ok_or_else(|| {
                Error::field("command line", "--engine", name, Engine::names().join(", "))
            })?;
        Ok(Engine {
            imp: *imp,
            version: imp.parse_version(version.map(str::trim))?,
        })
    }

    /// The names `--engine` takes.
    pub fn names() -> Vec<&'static str> {
        ENGINES.iter().map(|e| e.name()).collect()
    }

    /// The engine's name, without its release.
    pub fn name(&self) -> &'static str {
        self.imp.name()
    }

    /// The default memory fraction for this setup.
    pub fn default_fraction(&self, setup: &Setup) -> f64 {
        self.imp.default_fraction(self.version, setup)
    }

    /// The fraction the budget uses when `requested` is in force.
    #[inline]
    pub fn fraction_in_force(&self, requested: f64) -> f64 {
        self.imp.fraction_in_force(requested)
    }

    /// See [`ServingEngine::default_batched_tokens`].
    pub fn default_batched_tokens(&self, b: &Batching<'_>) -> u64 {
        self.imp.default_batched_tokens(self.version, b)
    }

    /// See [`ServingEngine::batched_tokens_follow_context`].
    pub fn batched_tokens_follow_context(&self) -> bool {
        self.imp.batched_tokens_follow_context(self.version)
    }

    /// See [`ServingEngine::default_max_num_seqs`].
    pub fn default_max_num_seqs(&self, b: &Batching<'_>) -> u64 {
        self.imp.default_max_num_seqs(self.version, b)
    }

    /// See [`ServingEngine::sampler_rule`].
    pub fn sampler_rule(&self, setup: &Setup) -> overhead::SamplerRule {
        self.imp.sampler_rule(self.version, setup)
    }

    /// See [`ServingEngine::profiles_logits_only`].
    pub fn profiles_logits_only(&self, setup: &Setup) -> bool {
        self.imp.profiles_logits_only(self.version, setup)
    }

    /// See [`ServingEngine::non_torch_context`].
    pub fn non_torch_context(&self, setup: &Setup) -> u64 {
        self.imp.non_torch_context(self.version, setup)
    }

    /// See [`ServingEngine::other_processes`].
    pub fn other_processes(&self, setup: &Setup) -> other_processes::OtherProcesses {
        self.imp.other_processes(self.version, setup)
    }

    /// See [`ServingEngine::weight_segments`].
    pub fn weight_segments(&self, setup: &Setup) -> Option<allocator::SegmentRule> {
        self.imp.weight_segments(self.version, setup)
    }

    /// See [`ServingEngine::comm_non_torch`].
    pub fn comm_non_torch(&self, setup: &Setup) -> Option<overhead::CommNonTorch> {
        self.imp.comm_non_torch(self.version, setup)
    }

    /// The default page size on a chip whose vLLM default is `chip_default`.
    pub fn default_block_size(&self, chip_default: u64) -> u64 {
        self.imp.default_block_size(self.version, chip_default)
    }

    /// See [`ServingEngine::budget`].
    #[inline]
    pub fn budget(&self, m: &StageMemory, total: u64, fraction: f64) -> (u64, u64) {
        self.imp.budget(self.version, m, total, fraction)
    }

    /// The budget on the chip `setup` describes: the engine's rule for that chip where it has
    /// one (a Gaudi, an Ascend 310P), else [`Engine::budget`].
    #[inline]
    pub fn budget_on(
        &self,
        chip: ChipBudget,
        m: &StageMemory,
        total: u64,
        fraction: f64,
    ) -> (u64, u64) {
        let v = self.version;
        match chip {
            ChipBudget::Standard => None,
            c => self.imp.chip_budget(v, c, m, total, fraction),
        }
        .unwrap_or_else(|| self.imp.budget(v, m, total, fraction))
    }

    /// See [`ServingEngine::chip_budget_note`].
    pub fn chip_budget_note(&self, chip: ChipBudget) -> Option<&'static str> {
        self.imp.chip_budget_note(self.version, chip)
    }

    /// See [`ServingEngine::fused_moe`].
    pub fn fused_moe(&self, setup: &Setup, format: WeightFormat) -> Option<overhead::FusedMoe> {
        self.imp.fused_moe(self.version, setup, format)
    }

    /// See [`ServingEngine::mla_layout`].
    pub fn mla_layout(&self, setup: &Setup, attention: WeightFormat) -> crate::model::MlaLayout {
        self.imp.mla_layout(self.version, setup, attention)
    }

    /// See [`ServingEngine::caches_windows_in_full`].
    pub fn caches_windows_in_full(&self, setup: &Setup) -> bool {
        self.imp.caches_windows_in_full(self.version, setup)
    }

    /// See [`ServingEngine::mla_decode_unread`].
    pub fn mla_decode_unread(&self, setup: &Setup, layer: MlaRank<'_>) -> u64 {
        self.imp.mla_decode_unread(self.version, setup, layer)
    }

    /// See [`ServingEngine::moe_layer_extra`].
    pub fn moe_layer_extra(
        &self,
        setup: &Setup,
        format: WeightFormat,
        shape: MoeShape,
    ) -> Option<(u64, &'static str)> {
        self.imp.moe_layer_extra(self.version, setup, format, shape)
    }

    /// See [`ServingEngine::mla_derived_weights`].
    pub fn mla_derived_weights(&self, setup: &Setup, layer: MlaRank<'_>) -> u64 {
        self.imp.mla_derived_weights(self.version, setup, layer)
    }

    /// See [`ServingEngine::position_rule`].
    pub fn position_rule(&self, setup: &Setup) -> Option<position_tables::PositionRule> {
        self.imp.position_rule(self.version, setup)
    }

    /// See [`ServingEngine::mla_derived_note`].
    pub fn mla_derived_note(&self, setup: &Setup, attention: WeightFormat) -> String {
        self.imp.mla_derived_note(self.version, setup, attention)
    }

    /// See [`ServingEngine::mla_prefill`].
    pub fn mla_prefill(
        &self,
        setup: &Setup,
        attention: WeightFormat,
    ) -> Option<overhead::MlaPrefill> {
        self.imp.mla_prefill(self.version, setup, attention)
    }

    /// See [`ServingEngine::mla_entry_align`].
    pub fn mla_entry_align(&self, setup: &Setup) -> Option<u64> {
        self.imp.mla_entry_align(self.version, setup)
    }

    /// See [`ServingEngine::hpu_graph_share`].
    pub fn hpu_graph_share(&self) -> Option<f64> {
        self.imp.hpu_graph_share(self.version)
    }

    /// See [`ServingEngine::embedding_tp`].
    pub fn embedding_tp(&self, setup: &Setup, architecture: &str) -> u64 {
        self.imp.embedding_tp(self.version, setup, architecture)
    }

    /// See [`ServingEngine::vision_tp`].
    pub fn vision_tp(&self, setup: &Setup, architecture: &str) -> u64 {
        self.imp.vision_tp(self.version, setup, architecture)
    }

    /// See [`ServingEngine::charges_overheads`].
    pub fn charges_overheads(&self) -> bool {
        self.imp.charges_overheads()
    }

    /// See [`ServingEngine::subtracts_cuda_graphs`].
    pub fn subtracts_cuda_graphs(&self) -> bool {
        self.imp.subtracts_cuda_graphs(self.version)
    }

    /// See [`ServingEngine::capacity`].
    #[inline]
    pub fn capacity(&self, specs: &[LayerKv], budget: u64, p: &PoolParams) -> Result<Capacity> {
        self.imp.capacity(self.version, specs, budget, p)
    }

    /// What [`Engine::capacity`] owes to `specs` and the page size `block` alone, and the blocks a
    /// session of `context` tokens needs: a deployment's stages plan once, then
    /// [`Engine::capacity_planned`] answers each context and budget.
    pub fn plan(&self, specs: &[LayerKv], block: u64, context: u64) -> PoolPlan {
        PoolPlan {
            engine: *self,
            block,
            kind: self.imp.plan(self.version, specs, block),
            budget: self.imp.budget_rule(self.version),
            session: pool::SessionBlocks::new(context, block),
        }
    }

    /// [`Engine::budget_on`] through `plan`'s rule when this engine made it, else the engine's.
    #[inline(always)]
    pub fn budget_planned(
        &self,
        plan: &PoolPlan,
        chip: ChipBudget,
        m: &StageMemory,
        total: u64,
        fraction: f64,
    ) -> (u64, u64) {
        match plan.budget {
            Some(rule) if chip == ChipBudget::Standard && plan.engine.same(self) => {
                rule_budget(rule, m, total, fraction)
            }
            _ => self.budget_on(chip, m, total, fraction),
        }
    }

    /// [`Engine::budget_planned`] and [`Engine::capacity_planned`] at once where `plan` answers
    /// both from its data alone — uniform pages, and the engine's budget rule off a Gaudi — with
    /// the same guards (this engine made it, for these specs and page size); None otherwise.
    /// The most common deployment, computed without moving a capacity through two calls.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub fn uniform_planned(
        &self,
        plan: &PoolPlan,
        specs: &[LayerKv],
        chip: ChipBudget,
        m: &StageMemory,
        total: u64,
        fraction: f64,
        p: &PoolParams,
    ) -> Option<Result<(u64, u64, Capacity)>> {
        let (
            &PlanKind::Uniform {
                record,
                layers,
                block_bytes,
                tokens_from_concurrency,
            },
            Some(rule),
        ) = (&plan.kind, plan.budget)
        else {
            return None;
        };
        if chip != ChipBudget::Standard
            || plan.block != p.block
            || !plan.engine.same(self)
            || !one_full_spec(specs, record, layers)
        {
            return None;
        }
        // As `budget_planned`, then `capacity_planned`'s uniform arm.
        let (budget, shortfall) = rule_budget(rule, m, total, fraction);
        Some(
            pool::uniform_blocks_planned(block_bytes, plan.session, budget, p).map(|c| {
                (
                    budget,
                    shortfall,
                    tokens_from(c, tokens_from_concurrency, p),
                )
            }),
        )
    }

    /// [`Engine::capacity`] through `plan` (made by [`Engine::plan`]), which is used only when it
    /// was made by this engine for these specs and this page size — else the capacity is
    /// computed afresh.
    #[inline(always)]
    pub fn capacity_planned(
        &self,
        plan: &PoolPlan,
        specs: &[LayerKv],
        budget: u64,
        p: &PoolParams,
    ) -> Result<Capacity> {
        if plan.block == p.block && plan.engine.same(self) {
            match &plan.kind {
                &PlanKind::Uniform {
                    record,
                    layers,
                    block_bytes,
                    tokens_from_concurrency,
                } if one_full_spec(specs, record, layers) => {
                    let c = pool::uniform_blocks_planned(block_bytes, plan.session, budget, p)?;
                    return Ok(tokens_from(c, tokens_from_concurrency, p));
                }
                PlanKind::Hybrid {
                    layout,
                    async_batches,
                    tokens_from_concurrency,
                } if layout.specs == specs => {
                    let c = vllm::layout_capacity(layout, budget, p, *async_batches)?;
                    return Ok(tokens_from(c, *tokens_from_concurrency, p));
                }
                _ => {}
            }
        }
        self.capacity(specs, budget, p)
    }

    /// Whether `other` is this engine at this release, at the cost of two comparisons: the
    /// same implementation (its data and vtable pointers; a duplicated vtable only answers
    /// false, never a wrong true) and the same version.
    #[inline]
    fn same(&self, other: &Engine) -> bool {
        self.version == other.version && std::ptr::eq(self.imp, other.imp)
    }

    /// See [`ServingEngine::kv_format`].
    pub fn kv_format(&self, r: &KvRequest) -> KvChoice {
        self.imp.kv_format(self.version, r)
    }

    /// See [`ServingEngine::expert_padding`].
    pub fn expert_padding(
        &self,
        setup: &Setup,
        format: WeightFormat,
    ) -> Option<(ExpertPad, &'static str)> {
        self.imp.expert_padding(self.version, setup, format)
    }

    /// The engine's label (as `Display` writes it) appended to `out`.
    pub fn write_label(&self, out: &mut dyn fmt::Write) -> fmt::Result {
        self.imp.write_label(self.version, out)
    }

    /// See [`ServingEngine::formula`].
    pub fn formula(&self, fraction: f64) -> String {
        self.imp.formula(self.version, fraction)
    }
}

impl PartialEq for Engine {
    fn eq(&self, other: &Engine) -> bool {
        self.imp.name() == other.imp.name() && self.version == other.version
    }
}

impl Eq for Engine {}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Engine({})", self)
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.imp.write_label(self.version, f)
    }
}

impl From<Engine> for String {
    fn from(e: Engine) -> String {
        e.to_string()
    }
}

impl TryFrom<String> for Engine {
    type Error = Error;
    fn try_from(s: String) -> Result<Engine> {
        let mut parts = s.split_whitespace();
        Engine::parse(parts.next().unwrap_or(""), parts.next())
    }
}

impl FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Engine> {
        Engine::parse(s, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_round_trip() {
        for e in [
            Engine::VLLM,
            Engine::vllm(21, 0),
            Engine::vllm(20, 1),
            Engine::vllm(7, 3),
            Engine::vllm(5, 1),
            Engine::SGLANG,
            Engine::TRTLLM,
            Engine::IDEAL,
        ] {
            let back: Engine = String::from(e).try_into().unwrap();
            assert_eq!(back, e);
        }
        assert_eq!(Engine::parse("tensorrt-llm", None).unwrap(), Engine::TRTLLM);
        assert!(Engine::parse("tgi", None)
            .unwrap_err()
            .to_string()
            .contains("vllm, sglang, trtllm, ideal"));
        assert!(Engine::parse("sglang", Some("0.4")).is_err());
    }
}
