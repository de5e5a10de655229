//! The scenario and `evaluate`: weights, budget, KV per token and per session, pages, sessions.

use crate::chip::{Chip, MemorySource};
use crate::error::{Error, Result};
use crate::model::{Model, ParamCounts, WeightBytes};
use crate::overhead;
use crate::precision::PrecisionPlan;
use serde::{Deserialize, Serialize};

/// Measured values that replace kvsim's estimates (bytes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    pub total_memory: Option<u64>,
    pub weights: Option<u64>,
    pub activation: Option<u64>,
    pub non_torch: Option<u64>,
    pub cuda_graph: Option<u64>,
}

/// Everything one evaluation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scenario {
    pub model: Model,
    pub chip: Chip,
    pub plan: PrecisionPlan,
    /// Tokens per session (prompt + output), vLLM's `max_model_len`.
    pub context: u64,
    /// KV block (page) size in tokens.
    pub block_size: u64,
    /// vLLM's `gpu_memory_utilization`.
    pub gpu_memory_utilization: f64,
    /// vLLM's `max_num_batched_tokens` (the profiling batch that sets the activation peak).
    pub max_num_batched_tokens: u64,
    /// vLLM's `max_num_seqs` (sampler profiling).
    pub max_num_seqs: u64,
    /// Include MTP / next-n layers (weights and KV).
    pub mtp: bool,
    pub overrides: Overrides,
}

impl Scenario {
    /// A scenario with vLLM's defaults on this chip (utilisation 0.9, the chip's block size,
    /// 8192 batched tokens and 1024 sequences as `vllm serve` uses on ≥ 70 GiB GPUs) and the
    /// checkpoint's own precision.
    pub fn new(model: Model, chip: Chip, context: u64) -> Self {
        let plan = model.default_plan;
        let block_size = chip.block_size();
        Scenario {
            model,
            chip,
            plan,
            context,
            block_size,
            gpu_memory_utilization: 0.9,
            max_num_batched_tokens: 8192,
            max_num_seqs: 1024,
            mtp: false,
            overrides: Overrides::default(),
        }
    }

    fn validate(&self) -> Result<()> {
        let u = self.gpu_memory_utilization;
        if !(u.is_finite() && u > 0.0 && u <= 1.0) {
            return Err(Error::field(
                "scenario",
                "gpu_memory_utilization",
                u,
                "a fraction in (0, 1]",
            ));
        }
        if self.context == 0 {
            return Err(Error::field(
                "scenario",
                "context",
                0,
                "a positive number of tokens",
            ));
        }
        if self.block_size == 0 || self.block_size > 1 << 20 {
            return Err(Error::field(
                "scenario",
                "block_size",
                self.block_size,
                "a positive number of tokens up to 1M",
            ));
        }
        Ok(())
    }
}

/// The result of one evaluation. Bytes and counts are integers; GiB figures are for display.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub model: String,
    pub architecture: String,
    pub attention: String,
    pub ffn: String,
    pub chip: String,
    pub chip_name: String,
    pub context: u64,
    pub block_size: u64,
    pub gpu_memory_utilization: f64,
    pub precision: PrecisionPlan,
    pub mtp_included: bool,
    pub params_total: u64,
    pub params_active: u64,
    pub weights_bytes_per_chip: u64,
    pub weights_by_group: WeightBytes,
    pub weights_measured: bool,
    pub total_memory_bytes_per_chip: u64,
    pub memory_source: MemorySource,
    pub activation_bytes_per_chip: u64,
    pub non_torch_bytes_per_chip: u64,
    pub cuda_graph_bytes_per_chip: u64,
    /// Bytes vLLM gives the KV cache (0 when weights and overheads do not fit).
    pub kv_budget_bytes_per_chip: u64,
    /// Budget shortfall when the weights and overheads alone exceed the usable memory.
    pub shortfall_bytes_per_chip: u64,
    pub kv_layers: u64,
    pub kv_bytes_per_token_per_chip: u64,
    /// Bytes one session of `context` tokens holds, rounded up to whole blocks.
    pub kv_bytes_per_session_per_chip: u64,
    pub blocks_per_session: u64,
    pub kv_blocks_per_chip: u64,
    /// vLLM's "GPU KV cache size: N tokens".
    pub kv_capacity_tokens_per_chip: u64,
    /// vLLM's "Maximum concurrency for <context> tokens per request".
    pub max_concurrency: f64,
    /// Whole sessions of `context` tokens that fit at once.
    pub sessions_per_chip: u64,
    pub warnings: Vec<String>,
}

fn checked_mul(a: u64, b: u64, what: &str) -> Result<u64> {
    a.checked_mul(b).ok_or_else(|| Error::overflow(what))
}

/// Weights, budget and sessions for one scenario, following vLLM v1 (≤ 0.20):
/// `kv = gpu_memory_utilization × total − (weights + activation peak + non-torch)` (formulas.md §4),
/// `num_blocks = kv // (block_size × bytes per token)` (formulas.md §3).
pub fn evaluate(s: &Scenario) -> Result<Report> {
    s.validate()?;
    let m = &s.model;
    let ParamCounts { total, active } = m.params(s.mtp)?;
    let by_group = m.weight_bytes(&s.plan, s.mtp)?;
    let weights = s.overrides.weights.unwrap_or(by_group.total());
    let (total_mem, memory_source) = match s.overrides.total_memory {
        Some(b) => (b, MemorySource::User),
        None => s.chip.memory_bytes().ok_or_else(|| {
            Error::field(
                format!("configs/chips/{}.toml", s.chip.id),
                "memory_gb",
                "nothing (no verified figure)",
                "a memory size; pass --total-memory-gib to evaluate this chip",
            )
        })?,
    };
    let activation = s
        .overrides
        .activation
        .unwrap_or_else(|| overhead::activation_bytes(m, s.max_num_batched_tokens, s.max_num_seqs));
    let non_torch = s
        .overrides
        .non_torch
        .unwrap_or_else(overhead::non_torch_bytes);
    let cuda_graph = s
        .overrides
        .cuda_graph
        .unwrap_or_else(overhead::cuda_graph_bytes);

    let usable = (total_mem as f64 * s.gpu_memory_utilization).floor() as u64;
    let spent = weights.saturating_add(activation).saturating_add(non_torch);
    let budget = usable.saturating_sub(spent);
    let shortfall = spent.saturating_sub(usable);

    let per_token = m.kv_bytes_per_token(s.plan.kv, 1, s.mtp)?;
    let block_bytes = checked_mul(per_token, s.block_size, "KV bytes per block")?;
    let blocks_per_session = s.context.div_ceil(s.block_size);
    let per_session = checked_mul(block_bytes, blocks_per_session, "KV bytes per session")?;
    let blocks = budget.checked_div(block_bytes).unwrap_or(0);

    let mut warnings = Vec::new();
    if shortfall > 0 {
        warnings.push(format!(
            "weights and overheads exceed {:.0}% of memory by {:.2} GiB: no KV cache fits",
            s.gpu_memory_utilization * 100.0,
            crate::units::to_gib(shortfall)
        ));
    }
    if let Some(maxp) = m.max_position_embeddings.filter(|&p| s.context > p) {
        warnings.push(format!(
            "context {} exceeds the model's max_position_embeddings {maxp}",
            s.context
        ));
    }
    if memory_source == MemorySource::SpecSheet {
        warnings.push("memory is the spec-sheet figure; the device reports somewhat less".into());
    }
    Ok(Report {
        model: m.id.clone(),
        architecture: m.architecture.clone(),
        attention: m.attention_summary(),
        ffn: m.ffn_summary(),
        chip: s.chip.id.clone(),
        chip_name: s.chip.name.clone(),
        context: s.context,
        block_size: s.block_size,
        gpu_memory_utilization: s.gpu_memory_utilization,
        precision: s.plan,
        mtp_included: s.mtp,
        params_total: total,
        params_active: active,
        weights_bytes_per_chip: weights,
        weights_by_group: by_group,
        weights_measured: s.overrides.weights.is_some(),
        total_memory_bytes_per_chip: total_mem,
        memory_source,
        activation_bytes_per_chip: activation,
        non_torch_bytes_per_chip: non_torch,
        cuda_graph_bytes_per_chip: cuda_graph,
        kv_budget_bytes_per_chip: budget,
        shortfall_bytes_per_chip: shortfall,
        kv_layers: m.kv_layers(s.mtp),
        kv_bytes_per_token_per_chip: per_token,
        kv_bytes_per_session_per_chip: per_session,
        blocks_per_session,
        kv_blocks_per_chip: blocks,
        kv_capacity_tokens_per_chip: checked_mul(blocks, s.block_size, "KV capacity in tokens")?,
        max_concurrency: blocks as f64 / blocks_per_session as f64,
        sessions_per_chip: blocks / blocks_per_session,
        warnings,
    })
}
