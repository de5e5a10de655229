//! `kvsim eval`: one model, one chip, one context.

use crate::catalog;
use crate::error::{Error, Result};
use crate::memory::{evaluate, Scenario};
use crate::precision::{KvFormat, WeightFormat};
use crate::report::{self, Format};
use crate::units::{gib_to_bytes, parse_tokens};
use clap::Args;

pub const EXAMPLES: &str = "Examples:
  kvsim eval --model deepseek-v3 --chip h100-sxm --context 32k
  kvsim eval --model llama-3.1-70b --chip ascend-910c --context 128k --kv fp8 --format json
  kvsim eval --model gpt-oss-120b --chip h200 --context 8k --precision routed_experts=mxfp4,attention=fp8
  kvsim eval --model ./my/config.json --chip ./my/chip.toml --context 1M --weights nvfp4
  kvsim eval --model llama-3.1-8b --chip h100-sxm --context 8192 --gpu-memory-utilization 0.95 \\
      --weights-gib 14.99 --activation-gib 1.89 --non-torch-gib 0.25

Context accepts plain tokens or k (×1024) / M (×1048576) suffixes. Sizes given in GiB (2^30 bytes).";

/// Arguments of `kvsim eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model: a catalog id (see `kvsim models`) or a path to a Hugging Face config.json.
    #[arg(long)]
    pub model: String,
    /// Chip: a catalog id (see `kvsim chips`) or a path to a chip TOML.
    #[arg(long)]
    pub chip: String,
    /// Tokens per session (vLLM's max_model_len): 8192, 32k, 128k, 1M.
    #[arg(long, default_value = "32k")]
    pub context: String,
    /// Format of every linear layer (attention, dense FFN, experts); embeddings and router keep theirs.
    /// One of fp32, bf16, fp16, fp8, fp8-block128, int8, int4, int4-g<N>, mxfp4, nvfp4.
    #[arg(long)]
    pub weights: Option<String>,
    /// KV-cache format: bf16, fp16, fp32, fp8, fp8-per-token-head, int8-per-token-head, fp8-ds-mla, nvfp4.
    #[arg(long)]
    pub kv: Option<String>,
    /// Per-group formats, e.g. `routed_experts=mxfp4,attention=fp8,kv=fp8`. Groups: attention,
    /// dense_ffn, routed_experts, shared_experts, router, embeddings, vectors, experts, linear, all, kv.
    /// Applied after --weights and --kv.
    #[arg(long)]
    pub precision: Option<String>,
    /// Fraction of device memory the engine may use (vLLM default 0.9).
    #[arg(long, default_value_t = 0.9)]
    pub gpu_memory_utilization: f64,
    /// KV block size in tokens (default: 16, or 128 on Ascend).
    #[arg(long)]
    pub block_size: Option<u64>,
    /// vLLM max_num_batched_tokens: the profiling batch behind the activation estimate.
    #[arg(long, default_value_t = 8192)]
    pub max_num_batched_tokens: u64,
    /// vLLM max_num_seqs: the sampler profiling batch behind the activation estimate.
    #[arg(long, default_value_t = 1024)]
    pub max_num_seqs: u64,
    /// Include the MTP / next-n layers (weights and KV), as speculative decoding with them does.
    #[arg(long)]
    pub mtp: bool,
    /// Device memory in GiB, replacing the catalog figure.
    #[arg(long)]
    pub total_memory_gib: Option<f64>,
    /// Measured weight memory in GiB ("Model loading took X GiB").
    #[arg(long)]
    pub weights_gib: Option<f64>,
    /// Measured activation peak in GiB.
    #[arg(long)]
    pub activation_gib: Option<f64>,
    /// Measured non-torch memory in GiB.
    #[arg(long)]
    pub non_torch_gib: Option<f64>,
    /// Measured CUDA-graph memory in GiB.
    #[arg(long)]
    pub cuda_graph_gib: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn gib(field: &str, v: Option<f64>) -> Result<Option<u64>> {
    v.map(|g| gib_to_bytes(field, g)).transpose()
}

/// Builds the scenario the arguments describe.
pub fn scenario(a: &EvalArgs) -> Result<Scenario> {
    let model = catalog::load_model(&a.model)?;
    let chip = catalog::load_chip(&a.chip)?;
    let context = parse_tokens("--context", &a.context)?;
    let mut s = Scenario::new(model, chip, context);
    if let Some(w) = &a.weights {
        let f: WeightFormat = w
            .parse()
            .map_err(|e| Error::field("command line", "--weights", w, e))?;
        s.plan.set_linear(f);
    }
    if let Some(k) = &a.kv {
        s.plan.kv = k
            .parse::<KvFormat>()
            .map_err(|e| Error::field("command line", "--kv", k, e))?;
    }
    if let Some(p) = &a.precision {
        s.plan.apply_spec(p)?;
    }
    s.gpu_memory_utilization = a.gpu_memory_utilization;
    if let Some(b) = a.block_size {
        s.block_size = b;
    }
    s.max_num_batched_tokens = a.max_num_batched_tokens;
    s.max_num_seqs = a.max_num_seqs;
    s.mtp = a.mtp;
    s.overrides.total_memory = gib("--total-memory-gib", a.total_memory_gib)?;
    s.overrides.weights = gib("--weights-gib", a.weights_gib)?;
    s.overrides.activation = gib("--activation-gib", a.activation_gib)?;
    s.overrides.non_torch = gib("--non-torch-gib", a.non_torch_gib)?;
    s.overrides.cuda_graph = gib("--cuda-graph-gib", a.cuda_graph_gib)?;
    Ok(s)
}

/// Runs `kvsim eval` and returns its output.
pub fn run(a: &EvalArgs) -> Result<String> {
    let r = evaluate(&scenario(a)?)?;
    Ok(match a.format {
        Format::Table => report::table::render(&r),
        Format::Json => {
            serde_json::to_string_pretty(&r)
                .map_err(|e| Error::overflow(format!("serialising the report: {e}")))?
                + "\n"
        }
        Format::Csv => report::csv(&[report::flatten(&r)?]),
        Format::Markdown => report::markdown(&[report::flatten(&r)?]),
    })
}
