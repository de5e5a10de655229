//! `kvsim compare`: chips, models or precision plans side by side for one scenario, with ratios
//! against the first column.

use crate::cli::sweep::GridArgs;
use crate::error::Result;
use crate::evaluate::Report;
use crate::report::{Document, Format};
use crate::units::thousands;
use crate::units::to_gib;
use clap::Args;
use serde::Serialize;

pub const EXAMPLES: &str = "Examples:
  kvsim compare --model deepseek-v3 --chip h100-sxm,ascend-910c,ascend-950pr,mi355x --context 32k --tp 8
  kvsim compare --model deepseek-v3,kimi-k2,qwen3-235b-a22b --chip h200 --tp 8 --context 128k
  kvsim compare --model llama-3.1-70b --chip h100-sxm --tp 2 --weights bf16,fp8,nvfp4 --kv bf16,fp8

Takes the flags of `kvsim sweep`; each combination becomes a column, compared with the first.";

/// Arguments of `kvsim compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub grid: GridArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub output: crate::cli::output::OutputArg,
}

#[derive(Serialize)]
struct Row {
    metric: &'static str,
    unit: &'static str,
    values: Vec<Option<f64>>,
}

fn metrics(r: &Report) -> Vec<(&'static str, &'static str, Option<f64>)> {
    let sp = r.speed.as_ref();
    vec![
        ("chips", "", Some(r.chips as f64)),
        (
            "weights per chip",
            "GiB",
            Some(to_gib(r.weights_bytes_per_chip)),
        ),
        (
            "KV budget per chip",
            "GiB",
            Some(to_gib(r.kv_budget_bytes_per_chip)),
        ),
        (
            "KV per token per chip",
            "B",
            Some(r.kv_bytes_per_token_per_chip as f64),
        ),
        (
            "KV per session per chip",
            "GiB",
            Some(to_gib(r.kv_bytes_per_session_per_chip)),
        ),
        (
            "sessions per deployment",
            "",
            Some(r.sessions_per_deployment as f64),
        ),
        (
            "sessions per chip",
            "",
            Some(r.sessions_per_deployment as f64 / r.chips as f64),
        ),
        ("max concurrency", "×", Some(r.max_concurrency)),
        (
            "decode FLOPs per token",
            "GFLOP",
            sp.map(|s| s.flops_per_token_decode / 1e9),
        ),
        ("decode step", "ms", sp.map(|s| s.decode_step_seconds * 1e3)),
        (
            "tokens/s per chip",
            "",
            sp.map(|s| s.tokens_per_second_per_chip),
        ),
        ("time to first token", "s", sp.map(|s| s.ttft_seconds)),
        (
            "USD per million tokens",
            "",
            sp.and_then(|s| s.usd_per_million_tokens),
        ),
        ("joules per token", "J", sp.and_then(|s| s.joules_per_token)),
    ]
}

fn cell(v: Option<f64>, first: Option<f64>) -> String {
    let Some(v) = v else { return "—".into() };
    let text = if v.abs() >= 1000.0 || (v.fract() == 0.0 && v.abs() < 1e15) {
        thousands(v.round() as u64)
    } else {
        format!("{v:.2}")
    };
    match first {
        Some(f) if f != 0.0 && v != f => format!("{text} (×{:.2})", v / f),
        _ => text,
    }
}

/// A value as a plain number for machine formats (CSV): whole values as integers, others in
/// shortest round-trip form, absent values empty — never thousands separators or ratios.
fn number(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 => (v as i64).to_string(),
        Some(v) if v.is_finite() => zmij::Buffer::new().format_finite(v).to_string(),
        _ => String::new(),
    }
}

/// Runs `kvsim compare`.
pub fn run(a: &CompareArgs) -> Result<String> {
    let (labels, reports): (Vec<String>, Vec<Report>) = a
        .grid
        .grid(64)?
        .labelled_reports(a.grid.max_points(64), "compare", "")?
        .into_iter()
        .unzip();
    let names: Vec<(&str, &str)> = metrics(&reports[0])
        .iter()
        .map(|(m, u, _)| (*m, *u))
        .collect();
    let rows: Vec<Row> = names
        .iter()
        .enumerate()
        .map(|(i, (metric, unit))| Row {
            metric,
            unit,
            values: reports.iter().map(|r| metrics(r)[i].2).collect(),
        })
        .collect();
    let scenario = format!(
        "{} tokens, engine {}, TP{} PP{} DP{}",
        thousands(reports[0].context),
        reports[0].engine,
        reports[0].tp,
        reports[0].pp,
        reports[0].dp
    );
    #[derive(Serialize)]
    struct Out<'a> {
        columns: &'a [String],
        scenario: &'a str,
        rows: &'a [Row],
    }
    let value = Out {
        columns: &labels,
        scenario: &scenario,
        rows: &rows,
    };
    let mut header = vec!["metric".to_string()];
    header.extend(labels.iter().cloned());
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let name = if r.unit.is_empty() {
                r.metric.to_string()
            } else {
                format!("{} ({})", r.metric, r.unit)
            };
            let mut line = vec![name];
            match a.format {
                // Machine formats: numbers a reader can compute with (ratios are one division).
                Format::Csv | Format::Jsonl => line.extend(r.values.iter().map(|v| number(*v))),
                _ => line.extend(r.values.iter().map(|v| cell(*v, r.values[0]))),
            }
            line
        })
        .collect();
    // JSON lines: one object per metric (`metric`, `unit`, `values` in column order).
    let doc = match a.format {
        Format::Jsonl => Document::table(header, body, &rows)?,
        _ => Document::table(header, body, &value)?,
    };
    let out = a.format.exporter().document(&doc)?;
    Ok(match a.format {
        Format::Table => format!("{scenario}; ratios against the first column\n{out}"),
        _ => out,
    })
}
