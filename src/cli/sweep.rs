//! `kvsim sweep`: a grid of scenarios from the command line or a scenario file.

use crate::catalog;
use crate::cli::eval::{self, AXES};
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, Report};
use crate::sweep::{self, Axis, Grid, SweepFormat};
use clap::Args;
use std::io::{IsTerminal, Write};
use std::path::Path;

pub const EXAMPLES: &str = "Examples:
  kvsim sweep --model all --chip all --context 8k..1M:x2 --output sweep.csv
  kvsim sweep --model deepseek-v3,llama-3.1-70b --chip h100-sxm,ascend-910c --tp 8 --context 4k..1M:x2 --kv bf16,fp8
  kvsim sweep --scenario configs/scenarios/catalog.toml --format jsonl --output catalog.jsonl

Every flag of `kvsim eval` that takes a value takes a comma-separated list here; contexts also take
ranges: 8k..1M:x2 (geometric) or 1k..8k:+1k (arithmetic). `all` means the whole catalog for --model
and --chip. Rows come in grid order (the first flag listed in AXES varies slowest), one per point;
a point that cannot be evaluated gets its message in the `error` column and the sweep goes on.";

/// Arguments of `kvsim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub grid: GridArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SweepFormat::Csv)]
    pub format: SweepFormat,
    /// Write to this file (complete or not at all: written beside it, then renamed).
    #[arg(long)]
    pub output: Option<String>,
}

/// The grid flags shared by `sweep` and `compare`: each `eval` flag as a comma-separated list.
#[derive(Debug, Args)]
pub struct GridArgs {
    /// Scenario file (TOML): keys are flag names, values strings or lists.
    #[arg(long)]
    pub scenario: Option<String>,
    #[arg(long)]
    pub model: Option<String>,
    /// Config edits to vary, each `FIELD=v1,v2,…` (repeatable: one axis each).
    #[arg(long = "set", value_name = "FIELD=VALUES")]
    pub set: Vec<String>,
    /// Attention transforms to vary: keep, mha, gqa:N, mqa, `mla:RANK[:ROPE]`.
    #[arg(long)]
    pub attention: Option<String>,
    /// MoE reshapes to vary: keep or `E:K[:S]`.
    #[arg(long)]
    pub moe: Option<String>,
    /// Collapse MoE to dense: true, false or both.
    #[arg(long)]
    pub dense: Option<String>,
    #[arg(long)]
    pub chip: Option<String>,
    #[arg(long)]
    pub context: Option<String>,
    #[arg(long)]
    pub weights: Option<String>,
    #[arg(long)]
    pub kv: Option<String>,
    #[arg(long)]
    pub precision: Option<String>,
    #[arg(long)]
    pub engine: Option<String>,
    #[arg(long)]
    pub engine_version: Option<String>,
    #[arg(long)]
    pub tp: Option<String>,
    #[arg(long)]
    pub pp: Option<String>,
    #[arg(long)]
    pub ep: Option<String>,
    #[arg(long)]
    pub dp: Option<String>,
    #[arg(long)]
    pub batch: Option<String>,
    #[arg(long)]
    pub gpu_memory_utilization: Option<String>,
    #[arg(long)]
    pub block_size: Option<String>,
    #[arg(long)]
    pub prompt: Option<String>,
    #[arg(long)]
    pub price_per_hour: Option<String>,
    /// SGLang-style data-parallel attention for every point.
    #[arg(long)]
    pub dp_attention: bool,
    /// Include MTP layers for every point.
    #[arg(long)]
    pub mtp: bool,
}

impl GridArgs {
    fn flag(&self, key: &str) -> Option<&String> {
        match key {
            "model" => self.model.as_ref(),
            "attention" => self.attention.as_ref(),
            "moe" => self.moe.as_ref(),
            "dense" => self.dense.as_ref(),
            "chip" => self.chip.as_ref(),
            "context" => self.context.as_ref(),
            "weights" => self.weights.as_ref(),
            "kv" => self.kv.as_ref(),
            "precision" => self.precision.as_ref(),
            "engine" => self.engine.as_ref(),
            "engine-version" => self.engine_version.as_ref(),
            "tp" => self.tp.as_ref(),
            "pp" => self.pp.as_ref(),
            "ep" => self.ep.as_ref(),
            "dp" => self.dp.as_ref(),
            "batch" => self.batch.as_ref(),
            "gpu-memory-utilization" => self.gpu_memory_utilization.as_ref(),
            "block-size" => self.block_size.as_ref(),
            "prompt" => self.prompt.as_ref(),
            "price-per-hour" => self.price_per_hour.as_ref(),
            _ => None,
        }
    }
}

/// Reads a scenario file: `key = "a,b"` or `key = ["a", "b"]` (numbers allowed), plus booleans
/// `dp-attention` and `mtp`.
/// A scenario file's axes (flag, values) and its dp-attention and mtp switches.
pub type ScenarioFile = (Vec<(String, String)>, bool, bool);

pub fn scenario_file(path: &str) -> Result<ScenarioFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        file: path.into(),
        reason: e.to_string(),
    })?;
    parse_scenario(path, &text)
}

/// Parses the text of a scenario file (`file` names it in errors).
pub fn parse_scenario(path: &str, text: &str) -> Result<ScenarioFile> {
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| Error::Syntax {
        file: path.into(),
        reason: e.to_string().trim().replace('\n', " "),
    })?;
    let (mut axes, mut dpa, mut mtp) = (Vec::new(), false, false);
    for (k, v) in &table {
        let key = k.replace('_', "-");
        let bad = |expected: &str| Error::field(path, k, v.to_string(), expected);
        match (key.as_str(), v) {
            ("dp-attention", toml::Value::Boolean(b)) => dpa = *b,
            ("mtp", toml::Value::Boolean(b)) => mtp = *b,
            (name, _) if !AXES.contains(&name) => {
                return Err(bad(&format!("one of {}", AXES.join(", "))))
            }
            (_, toml::Value::String(s)) => axes.push((key, s.clone())),
            (_, toml::Value::Integer(i)) => axes.push((key, i.to_string())),
            (_, toml::Value::Float(f)) => axes.push((key, f.to_string())),
            (_, toml::Value::Array(a)) => {
                let parts: Vec<String> = a
                    .iter()
                    .map(|x| match x {
                        toml::Value::String(s) => Ok(s.clone()),
                        toml::Value::Integer(i) => Ok(i.to_string()),
                        toml::Value::Float(f) => Ok(f.to_string()),
                        _ => Err(bad("a list of strings or numbers")),
                    })
                    .collect::<Result<_>>()?;
                axes.push((key, parts.join(",")));
            }
            _ => return Err(bad("a string, a number or a list")),
        }
    }
    Ok((axes, dpa, mtp))
}

/// Writes `path` atomically: to a temporary file beside it, renamed when complete.
pub fn write_atomically(path: &str, f: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let p = Path::new(path);
    let tmp = p.with_file_name(format!(
        ".{}.kvsim-{}.tmp",
        p.file_name()
            .map_or("out".into(), |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let io = |e: std::io::Error| Error::Io {
        file: path.into(),
        reason: e.to_string(),
    };
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut w = std::io::BufWriter::new(file);
    let result = f(&mut w).and_then(|_| w.flush().map_err(io));
    drop(w);
    match result {
        Ok(()) => std::fs::rename(&tmp, p).map_err(io),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl GridArgs {
    /// The base arguments and the grid these flags (and the scenario file) describe.
    pub fn grid(&self) -> Result<(eval::EvalArgs, Grid)> {
        let mut base = eval::defaults();
        let (mut specs, mut dpa, mut mtp) = match &self.scenario {
            Some(p) => scenario_file(p)?,
            None => (Vec::new(), false, false),
        };
        dpa |= self.dp_attention;
        mtp |= self.mtp;
        for key in AXES {
            if let Some(v) = self.flag(key) {
                specs.retain(|(k, _)| k != key);
                specs.push((key.to_string(), v.clone()));
            }
        }
        base.dp_attention = dpa;
        base.mtp = mtp;
        // Grid order follows AXES, whatever order the flags came in; each --set is its own axis.
        let mut axes: Vec<Axis> = Vec::new();
        for key in AXES {
            if *key == "set" {
                for spec in &self.set {
                    let (field, values) = spec.split_once('=').ok_or_else(|| {
                        Error::field("command line", "--set", spec, "FIELD=v1,v2,…")
                    })?;
                    let mut ax = sweep::axis("set", values)?;
                    ax.values = ax
                        .values
                        .into_iter()
                        .map(|v| format!("{field}={v}"))
                        .collect();
                    axes.push(ax);
                }
                continue;
            }
            if let Some((_, v)) = specs.iter().find(|(k, _)| k == key) {
                axes.push(sweep::axis(key, v)?);
            }
        }
        for required in ["model", "chip"] {
            if !axes.iter().any(|x| x.key == required) {
                return Err(Error::field(
                    "command line",
                    format!("--{required}"),
                    "nothing",
                    "at least one value (or `all`)",
                ));
            }
        }
        Ok((base, Grid { axes }))
    }
}

/// Evaluates every point of a small grid (at most `limit`), each labelled by the values of the
/// axes that vary (other than `unlabelled`). An error in any point is an error of the command.
pub fn labelled_reports(
    a: &GridArgs,
    limit: u64,
    what: &str,
    unlabelled: &str,
) -> Result<Vec<(String, Report)>> {
    let (base, grid) = a.grid()?;
    let n = grid.len()?;
    if n > limit {
        return Err(Error::field(
            "command line",
            what,
            format!("{n} points"),
            format!("at most {limit}; use `kvsim sweep` for grids"),
        ));
    }
    let varying: Vec<&str> = grid
        .axes
        .iter()
        .filter(|x| x.values.len() > 1 && x.key != unlabelled)
        .map(|x| x.key.as_str())
        .collect();
    (0..n)
        .map(|i| {
            let coords = grid.point(i);
            let mut args = base.clone();
            for (k, v) in &coords {
                eval::set(&mut args, k, v)?;
            }
            let label: Vec<&str> = coords
                .iter()
                .filter(|(k, _)| varying.contains(k))
                .map(|(_, v)| *v)
                .collect();
            let label = if label.is_empty() {
                format!("{} on {}", args.model, args.chip)
            } else {
                label.join(" / ")
            };
            let r = evaluate(&eval::configure(
                &args,
                catalog::load_model(&args.model)?,
                catalog::load_chip(&args.chip)?,
            )?)?;
            Ok((label, r))
        })
        .collect()
}

/// Runs `kvsim sweep`. Returns a one-line summary for standard error.
pub fn run(a: &SweepArgs) -> Result<String> {
    let (base, grid) = a.grid.grid()?;
    let total = grid.len()?;
    let bar = (std::io::stderr().is_terminal() && total >= 1000).then(|| {
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} points {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let tick = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let mut stats = None;
    match &a.output {
        Some(path) => write_atomically(path, |w| {
            stats = Some(sweep::run(&base, &grid, a.format, w, &tick)?);
            Ok(())
        })?,
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            stats = Some(sweep::run(&base, &grid, a.format, &mut lock, &tick)?);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let s = stats.unwrap_or(sweep::Stats {
        points: 0,
        errors: 0,
    });
    Ok(format!(
        "kvsim: {} points{}, {} with an error{}",
        s.points,
        a.output
            .as_ref()
            .map(|p| format!(" written to {p}"))
            .unwrap_or_default(),
        s.errors,
        if s.errors > 0 {
            " (see the error column)"
        } else {
            ""
        }
    ))
}
