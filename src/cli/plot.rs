//! `kvsim plot`: charts of sessions vs context, memory per chip, KV per token by attention family.

use crate::cli::output::write_via_temp;
use crate::cli::sweep::GridArgs;
use crate::error::{Error, Result};
use crate::evaluate::Report;
use crate::plot::{self, Chart, MemoryBar, Series};
use clap::{Args, ValueEnum};

pub const EXAMPLES: &str = "Examples:
  kvsim plot sessions --model deepseek-v3 --chip h100-sxm,h200,ascend-910c,ascend-950pr --tp 8 --pp 2 --context 4k..1M:x2 --output sessions.png
  kvsim plot memory --model deepseek-v3 --chip h100-sxm,h200,b200,mi355x,ascend-910c,ascend-950pr --tp 8 --pp 2 --context 32k --output memory.svg
  kvsim plot kv --model llama-3.1-70b,deepseek-llm-67b,deepseek-v3,gpt-oss-120b,gemma-3-27b,qwen3-next-80b-a3b --chip b200 --context 128k --output kv.png";

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Sessions per deployment vs context length (log x), one line per other combination.
    Sessions,
    /// Stacked memory per chip: weights, runtime overheads, KV in use, free.
    Memory,
    /// KV bytes per token (a session's bytes / its tokens) per model, labelled by attention family.
    Kv,
}

/// Arguments of `kvsim plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    pub kind: Kind,
    #[command(flatten)]
    pub grid: GridArgs,
    /// Output file: .png or .svg.
    #[arg(short = 'o', long)]
    pub output: String,
    #[arg(long, default_value_t = 1200)]
    pub width: u32,
    #[arg(long, default_value_t = 700)]
    pub height: u32,
}

/// Runs `kvsim plot`.
pub fn run(a: &PlotArgs) -> Result<String> {
    let grid = a.grid.grid(4096)?;
    let inputs = a.grid.inputs(&grid);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let points: Vec<(String, u64, Report)> = grid
        .labelled_reports(a.grid.max_points(4096), "plot", "context")?
        .into_iter()
        .map(|(l, r)| (l, r.context, r))
        .collect();
    let varying_model = points.windows(2).any(|w| w[0].2.model != w[1].2.model);
    let first = &points[0].2;
    let setup = format!(
        "TP{} PP{} DP{}, KV {}, {}",
        first.tp, first.pp, first.dp, first.precision.kv, first.engine
    );
    let chart = match a.kind {
        Kind::Sessions => {
            let mut series: Vec<Series> = Vec::new();
            for (label, ctx, r) in &points {
                match series.iter_mut().find(|s| &s.label == label) {
                    Some(s) => s.points.push((*ctx, r.sessions_per_deployment)),
                    None => series.push(Series {
                        label: label.clone(),
                        points: vec![(*ctx, r.sessions_per_deployment)],
                    }),
                }
            }
            let who = if varying_model {
                first.chip.clone()
            } else {
                first.model.clone()
            };
            Chart::Sessions {
                title: format!("Concurrent sessions vs context: {who}, {setup}"),
                series,
            }
        }
        Kind::Memory => Chart::Memory {
            title: format!(
                "Memory per chip at {} tokens: {} {setup}",
                crate::units::thousands(first.context),
                first.model
            ),
            bars: points
                .iter()
                .map(|(l, _, r)| MemoryBar::from_report(l.clone(), r))
                .collect(),
        },
        Kind::Kv => Chart::Kv {
            title: format!(
                "KV cache per token at {} tokens of context ({}, per chip)",
                crate::units::thousands(first.context),
                first.precision.kv
            ),
            bars: points
                .iter()
                .map(|(l, ctx, r)| {
                    let family = if r.attention.contains(" + ") {
                        "hybrid".to_string()
                    } else {
                        r.attention
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_string()
                    };
                    (
                        format!("{l} ({family})"),
                        r.kv_bytes_per_session_per_chip as f64 / *ctx as f64,
                    )
                })
                .collect(),
        },
    };
    let lower = a.output.to_ascii_lowercase();
    if !(lower.ends_with(".png") || lower.ends_with(".svg")) {
        return Err(Error::field(
            "command line",
            "--output",
            &a.output,
            "a file name ending in .png or .svg",
        ));
    }
    // Draw beside the target, then rename: the file appears complete or not at all.
    write_via_temp(&a.output, &inputs, |tmp| {
        plot::render(&chart, &tmp.to_string_lossy(), a.width, a.height).map_err(|e| match e {
            Error::Field { .. } => e,
            other => Error::Io {
                file: a.output.clone(),
                reason: other.to_string(),
            },
        })
    })?;
    Ok(format!(
        "kvsim: wrote {} ({}×{}, {} points)",
        a.output,
        a.width,
        a.height,
        points.len()
    ))
}
