//! Grids of scenarios: axes from the command line or a scenario file, evaluated in parallel with
//! rayon, streamed in grid order in chunks so a million-point sweep never holds all its rows.

use crate::catalog;
use crate::chip::Chip;
use crate::cli::eval::{self, EvalArgs};
use crate::error::{Error, Result};
use crate::evaluate::evaluate;
use crate::model::Model;
use crate::report;
use crate::units::parse_tokens;
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;

/// Points evaluated together before their rows are written.
const CHUNK: u64 = 4096;

/// One varied flag and its values.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

/// Output formats of a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SweepFormat {
    Csv,
    Jsonl,
    Markdown,
}

fn human(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{}k", n >> 10),
        n => n.to_string(),
    }
}

/// Parses `8k..1M:x2` (geometric), `1k..8k:+1k` (arithmetic) or a single value.
fn range(key: &str, text: &str) -> Result<Vec<String>> {
    let bad =
        |why: &str| Error::field("command line", format!("--{key}"), format!("`{text}`"), why);
    let (span, step) = text.split_once(':').unwrap_or((text, "x2"));
    let (lo, hi) = span
        .split_once("..")
        .ok_or_else(|| bad("a range such as 8k..1M:x2 or 1k..8k:+1k"))?;
    let (lo, hi) = (
        parse_tokens(&format!("--{key}"), lo)?,
        parse_tokens(&format!("--{key}"), hi)?,
    );
    if lo > hi {
        return Err(bad("a range whose start is not above its end"));
    }
    let mut out = Vec::new();
    let mut v = lo;
    if let Some(f) = step.strip_prefix('x') {
        let f: u64 = f
            .parse()
            .ok()
            .filter(|&f| f >= 2)
            .ok_or_else(|| bad("a factor of at least 2 after :x"))?;
        while v <= hi {
            out.push(human(v));
            v = v.saturating_mul(f);
        }
    } else if let Some(d) = step.strip_prefix('+') {
        let d = parse_tokens(&format!("--{key}"), d)?;
        while v <= hi {
            out.push(human(v));
            v = v.saturating_add(d);
        }
    } else {
        return Err(bad("a step :xN (geometric) or :+N (arithmetic)"));
    }
    if out.len() > 1 << 20 {
        return Err(bad("a range of at most 1,048,576 values"));
    }
    Ok(out)
}

/// Parses an axis's comma-separated values (`all` = the whole catalog for model and chip).
pub fn axis(key: &str, text: &str) -> Result<Axis> {
    let mut values = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match (key, part) {
            ("model", "all") => values.extend(catalog::model_ids().map(String::from)),
            ("chip", "all") => values.extend(catalog::chip_ids().map(String::from)),
            (_, p) if p.contains("..") => values.extend(range(key, p)?),
            (_, p) => values.push(p.to_string()),
        }
    }
    if values.is_empty() {
        return Err(Error::field(
            "command line",
            format!("--{key}"),
            "no values",
            "a comma-separated list",
        ));
    }
    Ok(Axis {
        key: key.to_string(),
        values,
    })
}

/// A full factorial grid: the first axis varies slowest, the last fastest.
#[derive(Debug, Clone)]
pub struct Grid {
    pub axes: Vec<Axis>,
}

impl Grid {
    /// Number of points (an error if it does not fit in 64 bits).
    pub fn len(&self) -> Result<u64> {
        self.axes
            .iter()
            .try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64))
            .ok_or_else(|| Error::overflow("the number of grid points"))
    }

    /// True when the grid has no points.
    pub fn is_empty(&self) -> bool {
        self.axes.iter().any(|a| a.values.is_empty())
    }

    /// The axis values of point `i`.
    pub fn point(&self, mut i: u64) -> Vec<(&str, &str)> {
        let mut out = vec![("", ""); self.axes.len()];
        for (slot, a) in out.iter_mut().zip(&self.axes).rev() {
            let n = a.values.len() as u64;
            *slot = (a.key.as_str(), a.values[(i % n) as usize].as_str());
            i /= n;
        }
        out
    }
}

/// Models and chips of a sweep, loaded once each.
struct Cache {
    models: HashMap<String, Result<Model>>,
    chips: HashMap<String, Result<Chip>>,
}

impl Cache {
    fn new(base: &EvalArgs, grid: &Grid) -> Cache {
        let values = |key: &str, default: &str| -> Vec<String> {
            grid.axes
                .iter()
                .find(|a| a.key == key)
                .map_or(vec![default.to_string()], |a| a.values.clone())
        };
        Cache {
            models: values("model", &base.model)
                .into_iter()
                .map(|m| (m.clone(), catalog::load_model(&m)))
                .collect(),
            chips: values("chip", &base.chip)
                .into_iter()
                .map(|c| (c.clone(), catalog::load_chip(&c)))
                .collect(),
        }
    }
}

/// Counts of a finished sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub points: u64,
    pub errors: u64,
}

/// The column names of a sweep: every key of `eval`'s JSON, then `error`.
pub fn columns() -> Result<Vec<String>> {
    let mut a = eval::defaults();
    a.model = "llama-3.1-8b".into();
    a.chip = "h100-sxm".into();
    let r = evaluate(&eval::scenario(&a)?)?;
    let mut cols: Vec<String> = report::flatten(&r)?.into_iter().map(|(k, _)| k).collect();
    cols.push("error".into());
    Ok(cols)
}

/// Evaluates point `i`: its report flattened into `(key, value)` pairs, or the error.
fn point_row(
    base: &EvalArgs,
    grid: &Grid,
    cache: &Cache,
    i: u64,
) -> (Vec<(String, String)>, Option<String>, serde_json::Value) {
    let coords = grid.point(i);
    let mut a = base.clone();
    let result = (|| -> Result<crate::evaluate::Report> {
        for (k, v) in &coords {
            eval::set(&mut a, k, v)?;
        }
        let model = match cache.models.get(&a.model) {
            Some(m) if a.set.is_empty() => m.clone()?,
            _ => catalog::load_model_with(&a.model, &a.set)?,
        };
        let chip = cache
            .chips
            .get(&a.chip)
            .cloned()
            .unwrap_or_else(|| catalog::load_chip(&a.chip))?;
        evaluate(&eval::configure(&a, model, chip)?)
    })();
    match result {
        Ok(r) => {
            let json = serde_json::to_value(&r).unwrap_or(serde_json::Value::Null);
            (report::flatten(&r).unwrap_or_default(), None, json)
        }
        Err(e) => {
            let pairs: Vec<(String, String)> = coords
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let mut json = serde_json::Map::new();
            for (k, v) in &pairs {
                json.insert(k.clone(), serde_json::Value::String(v.clone()));
            }
            json.insert("error".into(), serde_json::Value::String(e.to_string()));
            (pairs, Some(e.to_string()), serde_json::Value::Object(json))
        }
    }
}

/// Runs the grid, writing one row per point in grid order. `tick` is called after each chunk.
pub fn run(
    base: &EvalArgs,
    grid: &Grid,
    format: SweepFormat,
    out: &mut dyn Write,
    tick: &dyn Fn(u64),
) -> Result<Stats> {
    let total = grid.len()?;
    let cols = columns()?;
    let index: HashMap<&str, usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let cache = Cache::new(base, grid);
    let io = |e: std::io::Error| Error::Io {
        file: "sweep output".into(),
        reason: e.to_string(),
    };
    match format {
        SweepFormat::Csv => writeln!(out, "{}", cols.join(",")).map_err(io)?,
        SweepFormat::Markdown => {
            writeln!(out, "| {} |", cols.join(" | ")).map_err(io)?;
            writeln!(out, "|{}", "---|".repeat(cols.len())).map_err(io)?;
        }
        SweepFormat::Jsonl => {}
    }
    let mut errors = 0;
    let mut start = 0;
    while start < total {
        let end = (start + CHUNK).min(total);
        let lines: Vec<(String, bool)> = (start..end)
            .into_par_iter()
            .map(|i| {
                let (pairs, err, json) = point_row(base, grid, &cache, i);
                let line = match format {
                    SweepFormat::Jsonl => {
                        let mut j = json;
                        if let serde_json::Value::Object(m) = &mut j {
                            m.entry("error").or_insert(serde_json::Value::Null);
                        }
                        j.to_string()
                    }
                    SweepFormat::Csv | SweepFormat::Markdown => {
                        let mut cells = vec![String::new(); cols.len()];
                        for (k, v) in pairs {
                            if let Some(&at) = index.get(k.as_str()) {
                                cells[at] = v;
                            }
                        }
                        if let Some(e) = &err {
                            cells[cols.len() - 1] = e.clone();
                        }
                        if format == SweepFormat::Csv {
                            report::csv_line(&cells)
                        } else {
                            report::markdown_line(&cells)
                        }
                    }
                };
                (line, err.is_some())
            })
            .collect();
        for (line, err) in lines {
            writeln!(out, "{line}").map_err(io)?;
            errors += err as u64;
        }
        tick(end - start);
        start = end;
    }
    out.flush().map_err(io)?;
    Ok(Stats {
        points: total,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            axis("context", "8k..64k:x2").unwrap().values,
            vec!["8k", "16k", "32k", "64k"]
        );
        assert_eq!(
            axis("context", "1k..3k:+1k").unwrap().values,
            vec!["1k", "2k", "3k"]
        );
        assert_eq!(axis("context", "512..1M:x4").unwrap().values.len(), 6);
        assert_eq!(axis("kv", "bf16, fp8").unwrap().values, vec!["bf16", "fp8"]);
        assert!(axis("context", "64k..8k").is_err());
        assert!(axis("context", "8k..64k:x1").is_err());
        assert!(axis("context", "8k..64k:/2").is_err());
        assert_eq!(
            axis("chip", "all").unwrap().values.len(),
            catalog::chip_ids().count()
        );
    }

    #[test]
    fn grid_order_last_axis_fastest() {
        let g = Grid {
            axes: vec![
                axis("model", "a,b").unwrap(),
                axis("context", "1,2,3").unwrap(),
            ],
        };
        assert_eq!(g.len().unwrap(), 6);
        assert_eq!(g.point(0), vec![("model", "a"), ("context", "1")]);
        assert_eq!(g.point(4), vec![("model", "b"), ("context", "2")]);
    }
}
