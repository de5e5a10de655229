//! `kvsim plot`: charts of sessions vs context, memory per chip, KV per token by attention family.

use crate::cli::output::write_via_temp;
use crate::cli::sweep::GridArgs;
use crate::error::{Error, Result};
use crate::evaluate::Report;
use crate::plot::{self, Chart, MemoryBar, Scale, Series};
use crate::precision::TensorGroup;
use clap::{Args, ValueEnum};

pub const EXAMPLES: &str = "Examples:
  kvsim plot sessions --model deepseek-v3 --chip h100-sxm,h200,ascend-910c,ascend-950pr --tp 8 --pp 2 --context 4k..1M:x2 --output sessions.png
  kvsim plot sessions --model deepseek-v3 --chip h100-sxm,ascend-950pr --kv bf16,fp8 --tp 8 --pp 2 --context 4k..1M:x2 --y-scale log -o sessions.svg
  kvsim plot sessions --metric usd-per-mtok --model llama-3.1-70b --chip h100-sxm,h200 --price-per-hour 2.5 --tp 4 --context 4k..128k:x2 -o cost.png
  kvsim plot memory --model deepseek-v3 --chip h100-sxm,h200,b200,mi355x,ascend-910c,ascend-950pr --tp 8 --pp 2 --context 32k --output memory.svg
  kvsim plot kv --model llama-3.1-70b,deepseek-llm-67b,deepseek-v3,gpt-oss-120b,gemma-3-27b,qwen3-next-80b-a3b --chip b200 --context 128k --output kv.png";

/// Which chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// A metric (--metric: sessions by default) vs context length (log x), one line per other
    /// combination.
    Sessions,
    /// Stacked memory per chip: weights, runtime overheads, KV in use, free.
    Memory,
    /// KV bytes per token (a session's bytes / its tokens) per model, labelled by attention family.
    Kv,
}

/// What the lines of a `sessions` chart show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Metric {
    /// Whole concurrent sessions per deployment.
    Sessions,
    /// Concurrent sessions per chip (deployment sessions / its chips, not rounded).
    SessionsPerChip,
    /// Decode tokens per second per chip at the batch decoded (--batch, else every session).
    TokensPerSecond,
    /// USD per million decoded tokens (needs --price-per-hour).
    UsdPerMtok,
}

impl Metric {
    /// The axis title.
    fn describe(self) -> &'static str {
        match self {
            Metric::Sessions => "concurrent sessions per deployment",
            Metric::SessionsPerChip => "concurrent sessions per chip",
            Metric::TokensPerSecond => "decode tokens/s per chip",
            Metric::UsdPerMtok => "USD per million decoded tokens",
        }
    }

    /// The chart title's subject.
    fn title(self) -> &'static str {
        match self {
            Metric::Sessions => "Concurrent sessions",
            Metric::SessionsPerChip => "Sessions per chip",
            Metric::TokensPerSecond => "Decode tokens/s per chip",
            Metric::UsdPerMtok => "USD per million tokens",
        }
    }

    /// The value of a report, None when it has none (no speed figures, no price).
    fn value(self, r: &Report) -> Option<f64> {
        match self {
            Metric::Sessions => Some(r.sessions_per_deployment as f64),
            Metric::SessionsPerChip => Some(r.sessions_per_chip),
            Metric::TokensPerSecond => r.speed.as_ref().map(|s| s.tokens_per_second_per_chip),
            Metric::UsdPerMtok => r.speed.as_ref().and_then(|s| s.usd_per_million_tokens),
        }
    }
}

/// What the points have in common and what varies, as `(constant parts, varying names)`: the
/// title states the first, the legend tells the second apart.
pub fn describe(reports: &[&Report]) -> (Vec<String>, Vec<&'static str>) {
    type Part = (&'static str, fn(&Report) -> String);
    let parts: [Part; 7] = [
        ("model", |r| r.model.to_string()),
        ("chip", |r| r.chip.to_string()),
        ("deployment", |r| {
            let mut d = format!("TP{} PP{}", r.tp, r.pp);
            if r.ep > 1 {
                d += &format!(" EP{}", r.ep);
            }
            if r.dp > 1 {
                d += &format!(
                    " DP{}{}",
                    r.dp,
                    if r.dp_attention { "-attention" } else { "" }
                );
            }
            d
        }),
        ("weights", |r| {
            let (a, e) = (
                r.precision.get(TensorGroup::Attention),
                r.precision.get(TensorGroup::RoutedExperts),
            );
            if a == e {
                format!("weights {a}")
            } else {
                format!("weights {a} / experts {e}")
            }
        }),
        ("KV format", |r| format!("KV {}", r.precision.kv)),
        ("engine", |r| r.engine.to_string()),
        ("price", |r| {
            r.speed
                .as_ref()
                .and_then(|s| s.usd_per_hour_per_chip)
                .map_or(String::new(), |p| format!("USD {p}/chip-hour"))
        }),
    ];
    let (mut same, mut varies) = (Vec::new(), Vec::new());
    for (name, f) in parts {
        let first = reports.first().map(|r| f(r));
        if reports.iter().all(|r| Some(f(r)) == first) {
            same.extend(first.filter(|t| !t.is_empty()));
        } else {
            varies.push(name);
        }
    }
    (same, varies)
}

/// A title: the subject, what every point shares, and what the lines or bars tell apart.
fn title(subject: &str, reports: &[&Report], lines: &str) -> String {
    let (same, varies) = describe(reports);
    let mut t = subject.to_string();
    if !same.is_empty() {
        t += &format!(": {}", same.join(", "));
    }
    if !varies.is_empty() {
        t += &format!(" — {lines} by {}", varies.join(", "));
    }
    t
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
    /// What the lines of a `sessions` chart show.
    #[arg(long, value_enum)]
    pub metric: Option<Metric>,
    /// The y axis of a `sessions` chart: linear, or log (zeros are left out).
    #[arg(long, value_enum)]
    pub y_scale: Option<Scale>,
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
    let reports: Vec<&Report> = points.iter().map(|p| &p.2).collect();
    let first = &points[0].2;
    if a.kind != Kind::Sessions && (a.metric.is_some() || a.y_scale.is_some()) {
        return Err(Error::field(
            "command line",
            if a.metric.is_some() {
                "--metric"
            } else {
                "--y-scale"
            },
            format!("{:?}", a.kind).to_lowercase(),
            "a `sessions` chart (the only one over context)",
        ));
    }
    let chart = match a.kind {
        Kind::Sessions => {
            let metric = a.metric.unwrap_or(Metric::Sessions);
            let mut series: Vec<Series> = Vec::new();
            for (label, ctx, r) in &points {
                let Some(v) = metric.value(r) else { continue };
                match series.iter_mut().find(|s| &s.label == label) {
                    Some(s) => s.points.push((*ctx, v)),
                    None => series.push(Series {
                        label: label.clone(),
                        points: vec![(*ctx, v)],
                    }),
                }
            }
            if series.is_empty() {
                return Err(Error::field(
                    "command line",
                    "--metric",
                    metric
                        .to_possible_value()
                        .map_or(String::new(), |v| v.get_name().to_string()),
                    match metric {
                        Metric::UsdPerMtok => {
                            "a price: give --price-per-hour (the catalog has no prices)"
                        }
                        _ => "chips with bandwidth and compute figures (no point has a speed)",
                    },
                ));
            }
            Chart::Lines {
                title: title(&format!("{} vs context", metric.title()), &reports, "lines"),
                y_desc: metric.describe().to_string(),
                series,
                scale: a.y_scale.unwrap_or(Scale::Linear),
            }
        }
        Kind::Memory => Chart::Memory {
            title: title(
                &format!(
                    "Memory per chip at {} tokens",
                    crate::units::thousands(first.context)
                ),
                &reports,
                "bars",
            ),
            bars: points
                .iter()
                .map(|(l, _, r)| MemoryBar::from_report(l.clone(), r))
                .collect(),
        },
        Kind::Kv => Chart::Kv {
            title: title(
                &format!(
                    "KV cache per token per chip at {} tokens",
                    crate::units::thousands(first.context)
                ),
                &reports,
                "bars",
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
