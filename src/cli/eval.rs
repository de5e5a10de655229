//! `kvsim eval`: one model, one chip, one context.

use crate::catalog;
use crate::chip::Chip;
use crate::deploy::Deployment;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::evaluate::evaluate;
use crate::model::Model;
use crate::precision::{KvFormat, WeightFormat};
use crate::report::{self, Format};
use crate::scenario::Scenario;
use crate::units::{gib_to_bytes, parse_tokens};
use crate::whatif;
use clap::Args;

pub const EXAMPLES: &str = "Examples:
  kvsim eval --model deepseek-v3 --chip h100-sxm --context 32k
  kvsim eval --model llama-3.1-70b --chip ascend-910c --context 128k --kv fp8 --format json
  kvsim eval --model gpt-oss-120b --chip h200 --context 8k --precision routed_experts=mxfp4,attention=fp8
  kvsim eval --model deepseek-v3 --chip h200 --context 32k --tp 8
  kvsim eval --model deepseek-v3 --chip h200 --context 32k --tp 8 --dp 8 --dp-attention --ep 8 --engine sglang
  kvsim eval --model llama-3.1-405b --chip h100-sxm --context 128k --tp 8 --pp 2 --kv fp8
  kvsim eval --model qwen3-next-80b-a3b --chip h200 --context 256k --tp 2
  kvsim eval --model deepseek-v4-flash --chip b200 --context 1M
  kvsim eval --model gpt-oss-120b --chip h100-sxm --context 128k --engine sglang --swa-full-tokens-ratio 0.5
  kvsim eval --model deepseek-v3 --chip h100-sxm --context 32k --tp 8 --pp 2 --batch 64 --price-per-hour 2.5
  kvsim eval --model deepseek-v3 --chip h100-sxm --tp 8 --pp 2 --context 32k --attention gqa:8
  kvsim eval --model llama-3.1-70b --chip h200 --tp 2 --moe 64:4 --precision routed_experts=mxfp4
  kvsim eval --model deepseek-v3 --chip h200 --tp 8 --set kv_lora_rank=256 --set num_hidden_layers=48
  kvsim eval --model ./my/config.json --chip ./my/chip.toml --context 1M --weights nvfp4
  kvsim eval --model llama-3.1-8b --chip h100-sxm --context 8192 --gpu-memory-utilization 0.95 \\
      --weights-gib 14.99 --activation-gib 1.89 --non-torch-gib 0.25

Context accepts plain tokens or k (×1024) / M (×1048576) suffixes. Sizes given in GiB (2^30 bytes).";

/// Arguments of `kvsim eval`.
#[derive(Debug, Clone, Args)]
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
    /// Change a config field before the model is built, by its Hugging Face name (repeatable):
    /// `--set num_key_value_heads=8`, `--set text_config.sliding_window=4096`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    pub set: Vec<String>,
    /// Convert the attention, keeping heads, head dims and depth: mha, gqa:N, mqa (KV heads =
    /// heads, N, 1), or `mla:RANK[:ROPE]` (latent RANK, RoPE dims ROPE (64), nope = head_dim − ROPE,
    /// no query compression). Linear and compressed layers are left alone. `keep` = no change.
    #[arg(long)]
    pub attention: Option<String>,
    /// Make every FFN E routed experts of top-K (+S shared) at equal active width: expert width =
    /// active width / (K + S), router added. `keep` = no change.
    #[arg(long, value_name = "E:K[:S]")]
    pub moe: Option<String>,
    /// Collapse every MoE FFN to a dense FFN of its active width (top-k experts + shared).
    #[arg(long)]
    pub dense: bool,
    /// Format of every linear layer (attention, dense FFN, experts); embeddings and router keep theirs.
    /// One of fp32, bf16, fp16, fp8, fp8-block128, int8, int4, `int4-g<N>`, mxfp4, nvfp4.
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
    /// Serving engine whose memory accounting to follow: vllm, sglang, trtllm, or ideal
    /// (all memory but the weights, no pages: the physical ceiling).
    #[arg(long, default_value = "vllm")]
    pub engine: String,
    /// vLLM release (0.19 default; below 0.8 the legacy V0 engine; 0.21+ also subtracts CUDA graphs).
    #[arg(long)]
    pub engine_version: Option<String>,
    /// Tensor-parallel degree.
    #[arg(long, default_value_t = 1)]
    pub tp: u64,
    /// Pipeline-parallel degree (layers split as vLLM's get_pp_indices does).
    #[arg(long, default_value_t = 1)]
    pub pp: u64,
    /// Expert-parallel degree: routed experts split over this many ranks of the MoE group.
    #[arg(long, default_value_t = 1)]
    pub ep: u64,
    /// Data-parallel degree (replicas; with --dp-attention, attention groups inside the TP group).
    #[arg(long, default_value_t = 1)]
    pub dp: u64,
    /// SGLang-style data-parallel attention: attention TP = tp / dp, MLA latent not replicated.
    #[arg(long)]
    pub dp_attention: bool,
    /// The engine's memory fraction: vLLM gpu_memory_utilization (0.9), SGLang mem_fraction_static
    /// (0.88 … 0.79 by TP), TensorRT-LLM free_gpu_memory_fraction (0.9).
    #[arg(long, visible_aliases = ["mem-fraction-static", "free-gpu-memory-fraction"])]
    pub gpu_memory_utilization: Option<f64>,
    /// KV block (page) size in tokens (default: vLLM 16, 128 on Ascend; SGLang 1; TensorRT-LLM 32).
    #[arg(long)]
    pub block_size: Option<u64>,
    /// vLLM max_num_batched_tokens: the profiling batch behind the activation estimate.
    #[arg(long, default_value_t = 8192)]
    pub max_num_batched_tokens: u64,
    /// vLLM max_num_seqs: the sampler profiling batch behind the activation estimate.
    #[arg(long, default_value_t = 1024)]
    pub max_num_seqs: u64,
    /// SGLang swa_full_tokens_ratio: size of the sliding-window pool relative to the full pool.
    #[arg(long, default_value_t = 0.8)]
    pub swa_full_tokens_ratio: f64,
    /// Sessions decoded together, deployment-wide (default: as many as fit).
    #[arg(long)]
    pub batch: Option<u64>,
    /// Prompt tokens for the time to first token (default: the context). Accepts 8k, 1M.
    #[arg(long)]
    pub prompt: Option<String>,
    /// Achievable fraction of the compute peak.
    #[arg(long, default_value_t = crate::compute::DEFAULT_COMPUTE_EFFICIENCY)]
    pub compute_efficiency: f64,
    /// Achievable fraction of the memory bandwidth.
    #[arg(long, default_value_t = crate::compute::DEFAULT_BANDWIDTH_EFFICIENCY)]
    pub bandwidth_efficiency: f64,
    /// Price of one chip per hour in USD (for $ per million tokens).
    #[arg(long)]
    pub price_per_hour: Option<f64>,
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
    configure(
        a,
        catalog::load_model_with(&a.model, &a.set)?,
        catalog::load_chip(&a.chip)?,
    )
}

/// The arguments' defaults, as clap sets them (model and chip left empty).
pub fn defaults() -> EvalArgs {
    use clap::{CommandFactory, FromArgMatches};
    #[derive(clap::Parser)]
    struct Wrap {
        #[command(flatten)]
        eval: EvalArgs,
    }
    let m = Wrap::command().get_matches_from(["kvsim", "--model", "", "--chip", ""]);
    Wrap::from_arg_matches(&m)
        .map(|w| w.eval)
        .unwrap_or_else(|e| unreachable!("eval defaults parse: {e}"))
}

/// Sets the flag `key` (its long name without dashes) to `value`, as the command line would.
pub fn set(a: &mut EvalArgs, key: &str, value: &str) -> Result<()> {
    let num = |v: &str| -> Result<u64> {
        v.trim()
            .parse()
            .map_err(|_| Error::field("command line", format!("--{key}"), v, "a positive integer"))
    };
    let frac = |v: &str| -> Result<f64> {
        v.trim()
            .parse()
            .map_err(|_| Error::field("command line", format!("--{key}"), v, "a number"))
    };
    let v = value.to_string();
    match key {
        "model" => a.model = v,
        "chip" => a.chip = v,
        "context" => a.context = v,
        "weights" => a.weights = Some(v),
        "kv" => a.kv = Some(v),
        "precision" => a.precision = Some(v),
        "engine" => a.engine = v,
        "engine-version" => a.engine_version = Some(v),
        "tp" => a.tp = num(value)?,
        "pp" => a.pp = num(value)?,
        "ep" => a.ep = num(value)?,
        "dp" => a.dp = num(value)?,
        "batch" => a.batch = Some(num(value)?),
        "block-size" => a.block_size = Some(num(value)?),
        "gpu-memory-utilization" => a.gpu_memory_utilization = Some(frac(value)?),
        "prompt" => a.prompt = Some(v),
        "set" => {
            let field = value.split_once('=').map_or(value, |(k, _)| k);
            a.set
                .retain(|s| s.split_once('=').map_or(s.as_str(), |(k, _)| k) != field);
            a.set.push(v);
        }
        "attention" => a.attention = Some(v).filter(|x| x != "keep"),
        "moe" => a.moe = Some(v).filter(|x| x != "keep"),
        "dense" => a.dense = matches!(value, "true" | "yes" | "1"),
        "price-per-hour" => a.price_per_hour = Some(frac(value)?),
        other => {
            return Err(Error::field(
                "command line",
                other,
                "an unknown axis",
                format!("one of {}", AXES.join(", ")),
            ));
        }
    }
    Ok(())
}

/// Flags a sweep or comparison can vary, in grid order (first = slowest).
pub const AXES: &[&str] = &[
    "model",
    "set",
    "attention",
    "moe",
    "dense",
    "chip",
    "engine",
    "engine-version",
    "tp",
    "pp",
    "ep",
    "dp",
    "weights",
    "precision",
    "kv",
    "gpu-memory-utilization",
    "block-size",
    "batch",
    "prompt",
    "price-per-hour",
    "context",
];

/// Builds the scenario for already-loaded model and chip.
pub fn configure(a: &EvalArgs, mut model: Model, chip: Chip) -> Result<Scenario> {
    if let Some(t) = &a.attention {
        whatif::convert_attention(&mut model, t.parse()?)?;
    }
    if let Some(spec) = &a.moe {
        whatif::to_moe(&mut model, spec)?;
    }
    if a.dense {
        whatif::to_dense(&mut model)?;
    }
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
    s.memory_fraction = a.gpu_memory_utilization;
    s.block_size = a.block_size;
    s.deployment = Deployment {
        tp: a.tp,
        pp: a.pp,
        ep: a.ep,
        dp: a.dp,
        dp_attention: a.dp_attention,
        engine: Engine::parse(&a.engine, a.engine_version.as_deref())?,
    };
    s.max_num_batched_tokens = a.max_num_batched_tokens;
    s.max_num_seqs = a.max_num_seqs;
    s.mtp = a.mtp;
    s.swa_full_tokens_ratio = a.swa_full_tokens_ratio;
    s.batch = a.batch;
    s.prompt = a
        .prompt
        .as_deref()
        .map(|p| parse_tokens("--prompt", p))
        .transpose()?;
    s.compute_efficiency = a.compute_efficiency;
    s.bandwidth_efficiency = a.bandwidth_efficiency;
    s.price_per_hour = a.price_per_hour;
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
                .map_err(|e| Error::internal(format!("serialising the report: {e}")))?
                + "\n"
        }
        Format::Csv => report::csv(&[report::flatten(&r)?]),
        Format::Markdown => report::markdown(&[report::flatten(&r)?]),
    })
}
