//! `kvsim eval`: one model, one chip, one context.

use crate::cli::knobs::EvalKnobs;
use crate::cli::output::{OutputArg, Printed};
use crate::error::Result;
use crate::evaluate::evaluate;
use crate::report::{self, Document, Format};
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
    #[command(flatten)]
    pub knobs: EvalKnobs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub output: OutputArg,
}

/// Runs `kvsim eval`. The table's warnings are notes for standard error; the data formats keep
/// them in their `warnings` field (they are part of the record).
pub fn run(a: &EvalArgs) -> Result<Printed> {
    let mut r = evaluate(&a.knobs.spec()?.load()?)?;
    match a.format {
        Format::Table => {
            let notes = std::mem::take(&mut r.warnings)
                .into_iter()
                .map(|w| format!("kvsim: warning: {}", crate::text::escape_controls(&w)))
                .collect();
            Ok(Printed {
                data: report::eval_table::render(&r),
                notes,
            })
        }
        f => Ok(f.exporter().document(&Document::one(&r)?)?.into()),
    }
}
