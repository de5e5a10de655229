//! `kvsim calibrate LOG...`: fits kvsim's overhead terms to start-up logs and writes a profile
//! that `--profile FILE` applies.

use super::output;
use crate::calibrate::{calibrate, Calibration, LogInput};
use crate::catalog;
use crate::check::CheckOptions;
use crate::error::{Error, Result};
use clap::Args;
use std::fmt::Write;
use std::path::Path;

pub const EXAMPLES: &str = "Examples:
  kvsim calibrate node1.log node2.log --model llama-3.1-70b --chip h100-sxm -o h100.toml
  kvsim calibrate --index tests/data/logs/index.toml -o corpus.toml
  kvsim eval --model llama-3.1-70b --chip h100-sxm --tp 4 --profile h100.toml

Each log is read as `kvsim check` reads it. Non-torch memory is fitted as base + per-rank × (TP − 1)
by least squares; the activation scale is the median of logged / estimated peaks; CUDA-graph
memory the median logged. A term no log states keeps kvsim's estimate. The summary (stderr) shows
each log's KV-token error with kvsim's estimates and with the profile: in-sample, so an optimistic
measure on few logs.";

/// Arguments of `kvsim calibrate`.
#[derive(Debug, Clone, Args)]
pub struct CalibrateArgs {
    /// Start-up logs (vLLM V0 or V1, SGLang), all read with the options below.
    pub logs: Vec<String>,
    /// A log index (the format of tests/data/logs/index.toml: per log `file`, `kvsim_model`,
    /// `chip`, and optionally `kvsim_version`, `tp`, `max_model_len_override`).
    #[arg(long)]
    pub index: Option<String>,
    /// Model for every log given on the command line: a catalog id or config.json path.
    #[arg(long)]
    pub model: Option<String>,
    /// Chip for every log given on the command line.
    #[arg(long)]
    pub chip: Option<String>,
    /// Engine release for every log given on the command line.
    #[arg(long)]
    pub engine_version: Option<String>,
    #[command(flatten)]
    pub output: output::OutputArg,
}

fn index_inputs(path: &str) -> Result<Vec<LogInput>> {
    let text = catalog::read(path)?;
    let v: toml::Value = toml::from_str(&text).map_err(|e| Error::Syntax {
        file: path.to_string(),
        reason: e.to_string().trim().replace('\n', " "),
    })?;
    let dir = Path::new(path).parent().unwrap_or(Path::new("."));
    let entries = v
        .get("log")
        .and_then(|l| l.as_array())
        .ok_or_else(|| Error::field(path, "log", "nothing", "[[log]] entries"))?;
    let mut out = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let s = |k: &str| e.get(k).and_then(|x| x.as_str()).filter(|x| !x.is_empty());
        let file = s("file").ok_or_else(|| {
            Error::field(path, format!("log[{i}].file"), "nothing", "a log file name")
        })?;
        // Logs whose model kvsim cannot rebuild are listed in the index but not fitted.
        let Some(model) = s("kvsim_model") else {
            continue;
        };
        let full = dir.join(file);
        let full = full.to_string_lossy().to_string();
        out.push(LogInput {
            text: catalog::read(&full)?,
            file: full,
            options: CheckOptions {
                model: Some(model.to_string()),
                chip: s("chip").map(str::to_string),
                engine_version: s("kvsim_version").map(str::to_string),
                max_model_len: e
                    .get("max_model_len_override")
                    .and_then(|x| x.as_integer())
                    .and_then(|x| u64::try_from(x).ok()),
                ..CheckOptions::default()
            },
        });
    }
    Ok(out)
}

fn summary(c: &Calibration) -> String {
    let pct = |e: Option<f64>| e.map_or("—".to_string(), |e| format!("{:+.1}%", e * 100.0));
    let mut s = String::new();
    let p = &c.profile;
    let _ = writeln!(
        s,
        "kvsim calibrate: {} logs; non-torch {:.3} + {:.3} × (TP − 1) GiB, activation × {:.3}, CUDA graphs {:.2} GiB",
        c.logs.len(),
        p.non_torch_base_gib,
        p.non_torch_per_rank_gib,
        p.activation_scale,
        p.cuda_graph_gib
    );
    for d in &c.defaulted {
        let _ = writeln!(s, "  {d}: no log states it; kvsim's estimate kept");
    }
    let _ = writeln!(s, "  KV tokens, kvsim's estimates → with the profile:");
    for l in &c.logs {
        let _ = writeln!(
            s,
            "    {} (TP{}): {} → {}",
            l.file,
            l.tp,
            pct(l.error_before),
            pct(l.error_after)
        );
    }
    for (f, why) in &c.skipped {
        let _ = writeln!(s, "  skipped {f}: {why}");
    }
    s.trim_end().to_string()
}

/// Runs `kvsim calibrate`: the profile as data (standard output or `-o`), the summary as notes
/// (standard error).
pub fn run(a: &CalibrateArgs) -> Result<output::Printed> {
    let mut inputs = match &a.index {
        Some(i) => index_inputs(i)?,
        None => Vec::new(),
    };
    for l in &a.logs {
        inputs.push(LogInput {
            text: catalog::read(l)?,
            file: l.clone(),
            options: CheckOptions {
                model: a.model.clone(),
                chip: a.chip.clone(),
                engine_version: a.engine_version.clone(),
                ..CheckOptions::default()
            },
        });
    }
    if inputs.is_empty() {
        return Err(Error::field(
            "command line",
            "LOG",
            "nothing",
            "start-up logs, or --index with a log index",
        ));
    }
    let c = calibrate(&inputs)?;
    let comment = format!(
        "kvsim overhead profile fitted by `kvsim calibrate` to {} start-up logs; apply with --profile",
        c.logs.len()
    );
    Ok(output::Printed {
        data: c.profile.to_toml(&comment),
        notes: vec![summary(&c)],
    })
}

/// The files `kvsim calibrate` reads (never to be overwritten by `-o`).
pub fn inputs(a: &CalibrateArgs) -> Vec<String> {
    a.logs.iter().chain(&a.index).cloned().collect()
}
