//! The scenario: everything one evaluation needs — model, chip, precision plan, context,
//! deployment, engine knobs and measured overrides. Front ends (command line, scenario files,
//! Python) build it through the knob table in [`knobs`].

pub mod file;
pub mod knobs;

use crate::chip::Chip;
use crate::deploy::Deployment;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::precision::PrecisionPlan;
use serde::{Deserialize, Serialize};

/// Achievable fraction of the tensor-core peak (default): large decode GEMMs reach 60–80% on
/// H100-class parts in published MLPerf-style measurements; kvsim takes 0.7.
pub const DEFAULT_COMPUTE_EFFICIENCY: f64 = 0.7;
/// Achievable fraction of HBM bandwidth (default): STREAM-like kernels reach 85–92% of the
/// spec-sheet figure on H100/MI300X; kvsim takes 0.85.
pub const DEFAULT_BANDWIDTH_EFFICIENCY: f64 = 0.85;

/// Measured values that replace kvsim's estimates (bytes per chip).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    pub total_memory: Option<u64>,
    pub weights: Option<u64>,
    pub activation: Option<u64>,
    pub non_torch: Option<u64>,
    pub cuda_graph: Option<u64>,
    /// Overhead terms fitted to logs (`--profile`), in place of kvsim's estimates.
    pub profile: Option<crate::engine::overhead::OverheadProfile>,
}

/// Everything one evaluation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub model: Model,
    pub chip: Chip,
    pub plan: PrecisionPlan,
    /// Tokens per session (prompt + output), vLLM's `max_model_len`.
    pub context: u64,
    /// KV block (page) size in tokens; None = the engine's default on this chip.
    pub block_size: Option<u64>,
    /// The engine's memory fraction (vLLM `gpu_memory_utilization`, SGLang `mem_fraction_static`,
    /// TensorRT-LLM `free_gpu_memory_fraction`); None = the engine's default.
    pub memory_fraction: Option<f64>,
    /// Bytes other processes hold on each device when the engine starts (`--other-processes`;
    /// [`crate::engine::ServingEngine::other_processes`]).
    #[serde(default)]
    pub other_processes: u64,
    /// vLLM's `max_num_batched_tokens` (the profiling batch that sets the activation peak); None =
    /// the engine's default for the chip.
    pub max_num_batched_tokens: Option<u64>,
    /// vLLM's `max_num_seqs` (sampler profiling; None: the engine's default for the chip).
    pub max_num_seqs: Option<u64>,
    /// Include MTP / next-n layers (weights and KV).
    pub mtp: bool,
    /// The next-n layer is an EAGLE draft head (`--eagle`), which `mtp` counts.
    pub eagle: bool,
    /// SGLang `swa_full_tokens_ratio`: the SWA pool's size relative to the full pool.
    pub swa_full_tokens_ratio: f64,
    /// vLLM on Intel Gaudi: `VLLM_GRAPH_RESERVED_MEM`, the share of the usable memory held back
    /// for HPU graphs (None: the engine's default).
    #[serde(default)]
    pub hpu_graph_reserved_mem: Option<f64>,
    /// vLLM V0 0.7.3: `VLLM_CUDA_MEM_ALIGN_KV_CACHE`, the 256-byte padding of MLA cache entries
    /// (None: the release's default, on).
    #[serde(default)]
    pub vllm_mla_align: Option<bool>,
    /// vLLM V1: its sampler runs on FlashInfer (installed and not turned off); None: the
    /// release's default as pip installs it ([`crate::engine::ServingEngine::sampler_rule`]).
    #[serde(default)]
    pub flashinfer_sampler: Option<bool>,
    /// Sessions decoded together, deployment-wide (None: as many as the memory holds).
    pub batch: Option<u64>,
    /// Prompt tokens for the time to first token (None: the context).
    pub prompt: Option<u64>,
    /// Achievable fraction of the compute peak.
    pub compute_efficiency: f64,
    /// Achievable fraction of the memory bandwidth.
    pub bandwidth_efficiency: f64,
    /// Price of one chip per hour (USD), replacing the catalog's.
    pub price_per_hour: Option<f64>,
    pub deployment: Deployment,
    pub overrides: Overrides,
    /// (warning code, text) of the engine's KV-format rules applied by `Spec::build`
    /// ([`crate::engine::ServingEngine::kv_format`]), reported as warnings.
    #[serde(skip)]
    pub engine_notes: Vec<(&'static str, String)>,
}

impl Scenario {
    /// A scenario on one chip with the default engine's defaults (its batched tokens for the chip,
    /// 1024 sequences) and the checkpoint's own precision.
    pub fn new(model: Model, chip: Chip, context: u64) -> Self {
        let plan = model.default_plan;
        Scenario {
            model,
            chip,
            plan,
            context,
            block_size: None,
            memory_fraction: None,
            other_processes: 0,
            max_num_batched_tokens: None,
            max_num_seqs: None,
            mtp: false,
            eagle: false,
            swa_full_tokens_ratio: 0.8,
            hpu_graph_reserved_mem: None,
            vllm_mla_align: None,
            flashinfer_sampler: None,
            batch: None,
            prompt: None,
            compute_efficiency: DEFAULT_COMPUTE_EFFICIENCY,
            bandwidth_efficiency: DEFAULT_BANDWIDTH_EFFICIENCY,
            price_per_hour: None,
            deployment: Deployment::default(),
            overrides: Overrides::default(),
            engine_notes: Vec::new(),
        }
    }

    /// The block size in force.
    pub fn effective_block_size(&self) -> u64 {
        self.block_size.unwrap_or_else(|| {
            self.deployment
                .engine
                .default_block_size(self.chip.block_size())
        })
    }

    /// The device memory in bytes: the user's figure, else the chip's (None when it has none).
    pub fn total_memory(&self) -> Option<u64> {
        self.overrides
            .total_memory
            .or_else(|| self.chip.memory_bytes().map(|m| m.0))
    }

    /// What the engine's batch defaults depend on, at `context` tokens.
    pub fn batching(&self, context: u64) -> crate::engine::Batching<'_> {
        crate::engine::Batching {
            chip_name: std::borrow::Cow::Borrowed(&self.chip.name),
            total_memory: self.total_memory().unwrap_or(0),
            max_model_len: context,
            windowed: self
                .model
                .groups
                .iter()
                .any(|g| g.attention.window().is_some()),
            // The one field of `setup` this needs, without the rest (every evaluation asks twice).
            mla: self.has_mla(),
        }
    }

    /// Whether any layer is MLA ([`crate::engine::Setup::mla`]).
    fn has_mla(&self) -> bool {
        self.model
            .groups
            .iter()
            .any(|g| g.attention.family().starts_with("MLA"))
    }

    /// `max_num_batched_tokens` in force: the user's, else the engine's default for the chip.
    pub fn effective_batched_tokens(&self) -> u64 {
        self.max_num_batched_tokens.unwrap_or_else(|| {
            self.deployment
                .engine
                .default_batched_tokens(&self.batching(self.context))
        })
    }

    /// [`Scenario::effective_batched_tokens`] and [`Scenario::effective_max_num_seqs`], the
    /// engine's defaults read from one [`crate::engine::Batching`].
    pub fn effective_batch_limits(&self) -> (u64, u64) {
        if let (Some(t), Some(n)) = (self.max_num_batched_tokens, self.max_num_seqs) {
            return (t, n);
        }
        let b = self.batching(self.context);
        let e = &self.deployment.engine;
        (
            self.max_num_batched_tokens
                .unwrap_or_else(|| e.default_batched_tokens(&b)),
            self.max_num_seqs
                .unwrap_or_else(|| e.default_max_num_seqs(&b)),
        )
    }

    /// `max_num_seqs` in force: the user's, else the engine's default for the chip.
    pub fn effective_max_num_seqs(&self) -> u64 {
        self.max_num_seqs.unwrap_or_else(|| {
            self.deployment
                .engine
                .default_max_num_seqs(&self.batching(self.context))
        })
    }

    /// What the engine's defaults depend on.
    pub fn setup(&self) -> crate::engine::Setup {
        let d = &self.deployment;
        crate::engine::Setup {
            tp: d.tp,
            pp: d.pp,
            dp: d.dp,
            attention_dp: if d.dp_attention { d.dp } else { 1 },
            total_memory: self.total_memory().unwrap_or(0),
            cuda: self.chip.vendor.eq_ignore_ascii_case("nvidia"),
            mla: self.has_mla(),
            dsa: self.model.has_dsa_indexer(),
            cuda_capability: self.chip.cuda_capability(),
            rocm: self.chip.vendor.eq_ignore_ascii_case("amd"),
            // "intel…" in any case, without a lowercased copy (every evaluation asks).
            hpu: self
                .chip
                .vendor
                .as_bytes()
                .get(..5)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"intel")),
            npu: self.chip.vendor.eq_ignore_ascii_case("huawei"),
            ascend_310p: self.chip.is_ascend_310p(),
            nccl: self.chip.nccl,
            flashinfer_sampler: self.flashinfer_sampler == Some(true),
            sm_count: self.chip.sm_count,
            moe: self.model.has_moe(),
        }
    }

    /// The memory fraction in force.
    pub fn effective_fraction(&self) -> f64 {
        self.memory_fraction
            .unwrap_or_else(|| self.deployment.engine.default_fraction(&self.setup()))
    }

    /// [`Scenario::effective_fraction`] given this scenario's [`Scenario::setup`] (computed once
    /// by a caller that needs it anyway).
    pub fn fraction_with(&self, setup: &crate::engine::Setup) -> f64 {
        self.memory_fraction
            .unwrap_or_else(|| self.deployment.engine.default_fraction(setup))
    }

    /// Checks the context alone: what changes between points of a sweep over contexts.
    pub fn validate_context(&self) -> Result<()> {
        if self.context == 0 || self.context > 1 << 40 {
            return Err(Error::field(
                "scenario",
                "context",
                self.context,
                "a positive number of tokens up to 2^40",
            ));
        }
        Ok(())
    }

    /// Checks every knob against its range, and the deployment against the model.
    pub fn validate(&self) -> Result<()> {
        self.validate_with(&self.setup())
    }

    /// [`Scenario::validate`] given this scenario's [`Scenario::setup`].
    pub fn validate_with(&self, setup: &crate::engine::Setup) -> Result<()> {
        let u = self.fraction_with(setup);
        if !(u.is_finite() && u > 0.0 && u <= 1.0) {
            return Err(Error::field(
                "scenario",
                "gpu_memory_utilization",
                u,
                "a fraction in (0, 1]",
            ));
        }
        if let Some(g) = self
            .hpu_graph_reserved_mem
            .filter(|g| !(g.is_finite() && (0.0..1.0).contains(g)))
        {
            return Err(Error::field(
                "scenario",
                "VLLM_GRAPH_RESERVED_MEM",
                g,
                "a fraction in [0, 1)",
            ));
        }
        self.validate_context()?;
        let r = self.swa_full_tokens_ratio;
        if !(r.is_finite() && r > 0.0 && r <= 16.0) {
            return Err(Error::field(
                "scenario",
                "swa_full_tokens_ratio",
                r,
                "a positive ratio up to 16",
            ));
        }
        for (field, v) in [
            ("compute_efficiency", self.compute_efficiency),
            ("bandwidth_efficiency", self.bandwidth_efficiency),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(Error::field("scenario", field, v, "a fraction in (0, 1]"));
            }
        }
        if let Some(p) = self
            .price_per_hour
            .filter(|p| !(p.is_finite() && *p >= 0.0 && *p < 1e9))
        {
            return Err(Error::field(
                "command line",
                "--price-per-hour",
                p,
                "a non-negative price in USD",
            ));
        }
        if self.batch == Some(0) || self.batch.is_some_and(|b| b > 1 << 32) {
            return Err(Error::field(
                "command line",
                "--batch",
                self.batch.unwrap_or(0),
                "a positive number of sessions",
            ));
        }
        if self.prompt == Some(0) || self.prompt.is_some_and(|p| p > 1 << 40) {
            return Err(Error::field(
                "command line",
                "--prompt",
                self.prompt.unwrap_or(0),
                "a positive number of tokens",
            ));
        }
        let b = self.effective_block_size();
        if b == 0 || b > 1 << 20 {
            return Err(Error::field(
                "scenario",
                "block_size",
                b,
                "a positive number of tokens up to 1M",
            ));
        }
        self.deployment.validate(&self.model)
    }
}
