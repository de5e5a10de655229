//! `kvsim sweep`: a grid of scenarios from the command line or a scenario file.

use crate::cli::knobs::GridKnobs;
use crate::cli::output::write_to;
use crate::error::{Error, Result};
use crate::report::rows::{self, RowFormat, RowWriter};
use crate::scenario::{self, knobs::Spec};
use crate::sweep::{self, Grid};
use clap::{Args, ValueEnum};
use std::io::IsTerminal;

pub const EXAMPLES: &str = "Examples:
  kvsim sweep --model all --chip all --context 8k..1M:x2 --output sweep.csv
  kvsim sweep --model deepseek-v3,llama-3.1-70b --chip h100-sxm,ascend-910c --tp 8 --context 4k..1M:x2 --kv bf16,fp8
  kvsim sweep --model llama-3.1-8b --chip h100-sxm --set num_hidden_layers=16,32 --dense both
  kvsim sweep --scenario configs/scenarios/catalog.toml --format jsonl --output catalog.jsonl
  kvsim sweep --model all --chip h200 --context 8k..1M:x2 --columns model,context,sessions_per_chip

Every flag of `kvsim eval` takes a comma-separated list here; token counts and integers also take
ranges: 8k..1M:x2 (geometric) or 1k..8k:+1k (arithmetic); switches take true, false or both. `all`
means the whole catalog for --model and --chip. Rows come in grid order (flags in the order of
`kvsim eval --help`, the first varying slowest), one per point; a point that cannot be evaluated
gets its message in the `error` column and the sweep goes on.";

/// Grid points a sweep evaluates unless `--max-points` says otherwise (a million CSV rows is
/// about 1 GB).
pub const DEFAULT_MAX_POINTS: u64 = 1_000_000;
/// Sweeps from this many points on announce their size on standard error.
const LARGE: u64 = 10_000;

/// Output formats a sweep streams (the same typed columns in each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SweepFormat {
    Csv,
    Jsonl,
    Markdown,
    /// Apache Parquet: integers as integers, lists as lists (for pandas, polars, DuckDB).
    Parquet,
}

impl SweepFormat {
    /// The text format, or `None` for Parquet.
    fn rows(self) -> Option<RowFormat> {
        match self {
            SweepFormat::Csv => Some(RowFormat::Csv),
            SweepFormat::Jsonl => Some(RowFormat::Jsonl),
            SweepFormat::Markdown => Some(RowFormat::Markdown),
            SweepFormat::Parquet => None,
        }
    }
}

/// Arguments of `kvsim sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    #[command(flatten)]
    pub grid: GridArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = SweepFormat::Csv)]
    pub format: SweepFormat,
    /// Write to this file (complete or not at all: written beside it, then renamed).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Write only these columns, in this order (names as in the CSV header, comma-separated),
    /// e.g. `model,chip,context,sessions_per_chip`.
    #[arg(long, value_name = "NAME,NAME,…")]
    pub columns: Option<String>,
}

/// The grid flags shared by `sweep`, `compare` and `plot`: a scenario file and every knob as a
/// list.
#[derive(Debug, Args)]
pub struct GridArgs {
    /// Scenario file (TOML): keys are knob names (`tp`, `context`, `set`…), values strings,
    /// numbers, booleans or lists. Flags given on the command line replace the file's.
    #[arg(long)]
    pub scenario: Option<String>,
    #[command(flatten)]
    pub knobs: GridKnobs,
    /// Most grid points to evaluate (default: 1,000,000 for sweep, 64 for compare, 4,096 for
    /// plot); a guard against a typo starting a billion-point run.
    #[arg(long, value_name = "N")]
    pub max_points: Option<u64>,
}

impl GridArgs {
    /// The largest grid the command evaluates: `--max-points`, else `default`.
    pub fn max_points(&self, default: u64) -> u64 {
        self.max_points.unwrap_or(default)
    }

    /// The grid the scenario file and the flags describe, refused if it has more than
    /// `--max-points` (else `default`) points: counted from the axes, before anything runs.
    pub fn grid(&self, default: u64) -> Result<Grid> {
        let grid = self.unchecked_grid()?;
        let n = grid.len()?;
        let max = self.max_points(default);
        if n > max {
            return Err(Error::field(
                "command line",
                "--max-points",
                format!("a grid of {n} points"),
                format!("at most {max} points; raise --max-points if you mean it"),
            ));
        }
        Ok(grid)
    }

    fn unchecked_grid(&self) -> Result<Grid> {
        let mut settings = match &self.scenario {
            Some(p) => scenario::file::read(p)?,
            None => Vec::new(),
        };
        for (k, values) in &self.knobs.0 .0 {
            settings.retain(|(s, _)| s.name != k.name);
            settings.extend(values.iter().map(|v| (*k, v.clone())));
        }
        Grid::new(Spec::default(), &settings)
    }

    /// The files the grid reads (the scenario file, model and chip paths): an output must not be
    /// one of them.
    pub fn inputs(&self, grid: &Grid) -> Vec<String> {
        let mut files: Vec<String> = self.scenario.iter().cloned().collect();
        files.push(grid.base.model.clone());
        files.push(grid.base.chip.clone());
        for a in &grid.axes {
            if matches!(a.knob.name, "model" | "chip") {
                files.extend(a.values.iter().cloned());
            }
        }
        files.retain(|f| std::path::Path::new(f).exists());
        files
    }
}

/// `bytes` as MiB below a GiB, GiB above (one decimal).
fn size_label(bytes: u64) -> String {
    let gib = crate::units::to_gib(bytes);
    if gib < 1.0 {
        format!("{:.1} MiB", gib * 1024.0)
    } else {
        format!("{gib:.1} GiB")
    }
}

/// Writes the sweep in `format`.
fn write(
    format: SweepFormat,
    grid: &Grid,
    w: &RowWriter,
    out: &mut dyn std::io::Write,
    tick: &dyn Fn(u64),
) -> Result<sweep::Stats> {
    match format {
        SweepFormat::Parquet => sweep::run_parquet(grid, &w.columns, out, tick),
        _ => sweep::run(grid, w, out, tick),
    }
}

/// Runs `kvsim sweep`. Returns a one-line summary for standard error.
pub fn run(a: &SweepArgs) -> Result<String> {
    let grid = a.grid.grid(DEFAULT_MAX_POINTS)?;
    let total = grid.len()?;
    let all = sweep::columns(&grid);
    let columns = match a.columns.as_deref() {
        Some(names) => rows::select(&all, names)?,
        None => all,
    };
    let exporter = RowWriter::new(a.format.rows().unwrap_or(RowFormat::Csv), columns);
    // Say up front what a large sweep will produce, before it starts filling a disk (Parquet
    // compresses: no estimate).
    if total >= LARGE && a.format != SweepFormat::Parquet {
        let bytes = sweep::estimate_bytes(&grid, &exporter)?;
        crate::cli::output::note(&format!(
            "kvsim: sweeping {} points, about {} of output",
            crate::units::thousands(total),
            size_label(bytes)
        ));
    }
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
    let stats = match &a.output {
        Some(path) => {
            let mut stats = None;
            let inputs = a.grid.inputs(&grid);
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            write_to(path, &inputs, |w| {
                stats = Some(write(a.format, &grid, &exporter, w, &tick)?);
                Ok(())
            })?;
            stats
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = std::io::BufWriter::new(stdout.lock());
            Some(
                write(a.format, &grid, &exporter, &mut lock, &tick)
                    .map_err(|e| e.written_to("standard output"))?,
            )
        }
    };
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
