//! `kvsim check LOGFILE`: a vLLM or SGLang start-up log beside kvsim's prediction, twice — with
//! the log's own overheads fed back as measured values, and with kvsim's own estimates.

use crate::catalog;
use crate::check::{check, Check, CheckOptions};
use crate::error::Result;
use clap::Args;
use std::fmt::Write;

pub const EXAMPLES: &str = "Examples:
  kvsim check vllm-startup.log
  kvsim check sglang.log --chip h100-sxm
  kvsim check vllm.log --model ./config.json --chip h200 --engine-version 0.10
  kvsim check ascend.log --model qwen3-30b-a3b --chip ascend-910b4 --tp 8 --memory-fraction 0.9

The model is matched to a catalog id from the name the log gives (meta-llama/Llama-3.1-8B-Instruct
→ llama-3.1-8b); --model supplies a config otherwise. The chip defaults to the catalog chip whose
device total is nearest the log's.";

/// Arguments of `kvsim check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The start-up log (vLLM V0 or V1, INFO or DEBUG; SGLang).
    pub log: String,
    /// Model: a catalog id or config.json path, replacing the one the log names.
    #[arg(long)]
    pub model: Option<String>,
    /// Chip: a catalog id or chip TOML (default: matched from the logged device total).
    #[arg(long)]
    pub chip: Option<String>,
    /// Engine release, replacing the one the log names.
    #[arg(long)]
    pub engine_version: Option<String>,
    /// max_model_len, replacing the log's.
    #[arg(long)]
    pub max_model_len: Option<u64>,
    /// Tensor-parallel size, when the log does not state it (or to replace it).
    #[arg(long)]
    pub tp: Option<u64>,
    /// gpu_memory_utilization (vLLM) / mem_fraction_static (SGLang), when the log does not
    /// state it (or to replace it).
    #[arg(long)]
    pub memory_fraction: Option<f64>,
    /// KV block size in tokens, replacing the log's, the platform's and the chip's default.
    #[arg(long)]
    pub block_size: Option<u64>,
    /// The run loaded a one-layer EAGLE draft head (start-up logs do not name it).
    #[arg(long)]
    pub eagle: bool,
    /// GiB other processes held on each GPU when the engine started (a desktop, the Windows
    /// host under WSL2), for kvsim's own estimate: start-up logs do not state it.
    #[arg(long, value_name = "GIB")]
    pub other_processes: Option<f64>,
    #[command(flatten)]
    pub output: crate::cli::output::OutputArg,
}

/// Runs `kvsim check`: the table for standard output, the warnings for standard error.
pub fn run(a: &CheckArgs) -> Result<crate::cli::output::Printed> {
    let text = catalog::read(&a.log)?;
    let c = check(
        &a.log,
        &text,
        &CheckOptions {
            model: a.model.clone(),
            chip: a.chip.clone(),
            engine_version: a.engine_version.clone(),
            max_model_len: a.max_model_len,
            tp: a.tp,
            memory_fraction: a.memory_fraction,
            block_size: a.block_size,
            eagle: a.eagle,
            other_processes_gib: a.other_processes,
        },
    )?;
    Ok(crate::cli::output::Printed {
        data: render(&c),
        notes: warnings(&c),
    })
}

fn cell(v: f64, unit: &str) -> String {
    match unit {
        "tokens" => crate::units::thousands(v.round() as u64),
        "x" => format!("{v:.2}x"),
        _ => format!("{v:.2}"),
    }
}

fn err(e: Option<f64>) -> String {
    e.map_or(String::new(), |e| format!("{:+.1}%", e * 100.0))
}

/// The comparison as a table under the scenario (the warnings are in [`warnings`]).
pub fn render(c: &Check) -> String {
    let s = &c.rebuilt.spec;
    let mut out = String::new();
    let _ = write!(
        out,
        "{} on {} ({}), TP{} PP{} DP{}, max_model_len {}, fraction {:.2}, block {}",
        c.measured.model,
        c.measured.chip_name,
        c.measured.engine,
        s.tp,
        s.pp,
        s.dp,
        s.context,
        c.measured.memory_fraction,
        c.measured.block_size
    );
    let others = c.estimated.other_processes_bytes_per_chip;
    if others > 0 {
        let _ = write!(
            out,
            ", other processes {:.2} GiB (own estimates)",
            crate::units::to_gib(others)
        );
    }
    out.push('\n');
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::ASCII_MARKDOWN);
    t.set_header([
        "figure",
        "logged",
        "kvsim (log's overheads)",
        "error",
        "kvsim (own estimates)",
        "error",
    ]);
    for r in &c.rows {
        let label = if r.unit == "GiB" {
            format!("{} (GiB)", r.figure)
        } else {
            r.figure.to_string()
        };
        t.add_row([
            label,
            r.logged.map_or("—".into(), |l| cell(l, r.unit)),
            cell(r.measured, r.unit),
            err(r.error(r.measured)),
            cell(r.estimated, r.unit),
            err(r.error(r.estimated)),
        ]);
    }
    let _ = writeln!(out, "{t}");
    if let Some(ok) = c.tokens_reproduced() {
        let (lo, hi) = c.measured_tokens_range;
        let _ = writeln!(
            out,
            "KV tokens with the log's overheads: {} (the rounding of the logged GiB figures allows \
             {} … {}): {}",
            crate::units::thousands(c.measured.kv_capacity_tokens_per_chip),
            crate::units::thousands(lo),
            crate::units::thousands(hi),
            if ok { "reproduced" } else { "NOT reproduced" }
        );
    }
    // What the rebuild took at a default the log does not show: the comparison holds only if
    // the run used it.
    if !c.rebuilt.assumed.is_empty() {
        let _ = writeln!(
            out,
            "Not fully parsed: the log does not give {} (taken at the default, as warned)",
            c.rebuilt.assumed.join(", ")
        );
    }
    out
}

/// The warnings of both evaluations, once each, for standard error: the measured one's, and what
/// the estimate says of its own weights (bytes an engine derives or pads beyond the checkpoint)
/// and of the allocator segments its non-torch figure counts.
pub fn warnings(c: &Check) -> Vec<String> {
    let own_weights = c
        .estimated
        .warnings
        .iter()
        .zip(&c.estimated.warning_codes)
        .filter(|(_, code)| code.starts_with("weights_") || **code == "weight_segments")
        .map(|(w, _)| w);
    c.rebuilt
        .warnings
        .iter()
        .chain(&c.measured.warnings)
        .chain(own_weights)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|w| format!("kvsim: warning: {}", crate::text::escape_controls(w)))
        .collect()
}
