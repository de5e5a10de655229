//! Grids of scenarios: axes over knobs (from the command line or a scenario file), evaluated in
//! parallel with rayon and streamed in grid order in chunks, so a million-point sweep never holds
//! all its rows.

use crate::catalog;
use crate::chip::Chip;
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, Prepared, Report};
use crate::model::Model;
use crate::report::rows::{self, RowWriter};
use crate::scenario::knobs::{Knob, Spec, Values, KNOBS};
use crate::scenario::Scenario;
use crate::units::{parse_tokens, tokens_label};
use rayon::prelude::*;
use std::collections::HashMap;
use std::io::Write;

/// Points evaluated together before their rows are written.
const CHUNK: u64 = 4096;
/// Most values one range may give.
const MAX_RANGE: usize = 1 << 20;

/// One varied knob and its values (as text, each checked when the grid is built).
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    pub knob: &'static Knob,
    pub values: Vec<String>,
}

/// Parses `8k..1M:x2` (geometric) or `1k..8k:+1k` (arithmetic).
fn range(k: &Knob, text: &str) -> Result<Vec<String>> {
    let flag = k.flag();
    let bad = |why: &str| Error::field("command line", &flag, format!("`{text}`"), why);
    let (span, step) = text.split_once(':').unwrap_or((text, "x2"));
    let (lo, hi) = span
        .split_once("..")
        .ok_or_else(|| bad("a range such as 8k..1M:x2 or 1k..8k:+1k"))?;
    let (lo, hi) = (parse_tokens(&flag, lo)?, parse_tokens(&flag, hi)?);
    if lo > hi {
        return Err(bad("a range whose start is not above its end"));
    }
    let show = |v: u64| {
        if k.values == Values::Tokens {
            tokens_label(v)
        } else {
            v.to_string()
        }
    };
    // Count the values before building any (a range of 10^10 values is refused at once).
    let step = if let Some(f) = step.strip_prefix('x') {
        Step::Times(
            f.parse()
                .ok()
                .filter(|&f| f >= 2)
                .ok_or_else(|| bad("a factor of at least 2 after :x"))?,
        )
    } else if let Some(d) = step.strip_prefix('+') {
        Step::Plus(parse_tokens(&flag, d)?)
    } else {
        return Err(bad("a step :xN (geometric) or :+N (arithmetic)"));
    };
    let count = range_len(lo, hi, &step);
    if count > MAX_RANGE as u64 {
        return Err(bad(&format!(
            "a range of at most 1,048,576 values (this one has {count})"
        )));
    }
    let mut out = Vec::with_capacity(count as usize);
    let mut v = lo;
    for _ in 0..count {
        out.push(show(v));
        v = match step {
            Step::Times(f) => v.saturating_mul(f),
            Step::Plus(d) => v.saturating_add(d),
        };
    }
    Ok(out)
}

/// A range's step.
enum Step {
    Times(u64),
    Plus(u64),
}

/// Values of lo..hi: arithmetic (hi - lo) / d + 1, geometric the powers of f up to hi; a step
/// that does not move (+0, or x2 from 0) gives one value.
fn range_len(lo: u64, hi: u64, step: &Step) -> u64 {
    match *step {
        Step::Plus(0) => 1,
        Step::Plus(d) => (hi - lo) / d + 1,
        Step::Times(_) if lo == 0 => 1,
        Step::Times(f) => {
            let (mut n, mut v) = (1, lo);
            // At most 64 turns: v at least doubles.
            while let Some(next) = v.checked_mul(f).filter(|&x| x <= hi) {
                v = next;
                n += 1;
            }
            n
        }
    }
}

impl Axis {
    /// Parses a knob's comma-separated values: `all` is the whole catalog for model and chip,
    /// `both` is false and true for a switch, `lo..hi:step` a range for token and integer knobs.
    /// Every value is checked against the knob now, so a typo stops the sweep before it starts.
    pub fn parse(knob: &'static Knob, text: &str) -> Result<Axis> {
        let (field, list) = match knob.values {
            // FIELD=v1,v2: one axis over the field's values.
            Values::FieldValue => {
                let (f, l) = text.split_once('=').ok_or_else(|| {
                    Error::field("command line", knob.flag(), text, "FIELD=v1,v2,…")
                })?;
                (Some(f.trim()), l)
            }
            _ => (None, text),
        };
        let mut values = Vec::new();
        for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match (knob.name, knob.values, part) {
                ("model", _, "all") => values.extend(catalog::model_ids().map(String::from)),
                ("chip", _, "all") => values.extend(catalog::chip_ids().map(String::from)),
                (_, Values::Switch, p) if p.eq_ignore_ascii_case("both") => {
                    values.extend(["false".to_string(), "true".to_string()])
                }
                (_, v, p) if v.ranges() && p.contains("..") => values.extend(range(knob, p)?),
                (_, _, p) => values.push(p.to_string()),
            }
        }
        if let Some(f) = field {
            values = values.into_iter().map(|v| format!("{f}={v}")).collect();
        }
        if values.is_empty() {
            return Err(Error::field(
                "command line",
                knob.flag(),
                "no values",
                "a comma-separated list",
            ));
        }
        let mut probe = Spec::default();
        for v in &values {
            knob.apply(&mut probe, v)?;
        }
        Ok(Axis { knob, values })
    }
}

/// A full factorial grid over a base spec: the first axis varies slowest, the last fastest.
#[derive(Debug, Clone)]
pub struct Grid {
    pub base: Spec,
    pub axes: Vec<Axis>,
}

impl Grid {
    /// The grid of `settings` (knob, comma-separated values) over `base`: a knob with one value
    /// sets the base, several make an axis; axes follow the knob table's order (`set` axes in the
    /// order given), whatever order the settings came in. Model and chip are required.
    pub fn new(base: Spec, settings: &[(&'static Knob, String)]) -> Result<Grid> {
        let mut axes = Vec::new();
        for k in KNOBS {
            for (_, text) in settings.iter().filter(|(s, _)| s.name == k.name) {
                axes.push(Axis::parse(k, text)?);
            }
        }
        for required in ["model", "chip"] {
            if !axes.iter().any(|a| a.knob.name == required) {
                return Err(Error::field(
                    "command line",
                    format!("--{required}"),
                    "nothing",
                    "at least one value (or `all`)",
                ));
            }
        }
        Ok(Grid { base, axes })
    }

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
    pub fn point(&self, mut i: u64) -> Vec<(&'static Knob, &str)> {
        let mut out = Vec::with_capacity(self.axes.len());
        for a in self.axes.iter().rev() {
            let n = a.values.len() as u64;
            out.push((a.knob, a.values[(i % n) as usize].as_str()));
            i /= n;
        }
        out.reverse();
        out
    }

    /// The spec of point `i`.
    pub fn spec(&self, i: u64) -> Result<Spec> {
        let mut s = self.base.clone();
        for (k, v) in self.point(i) {
            k.apply(&mut s, v)?;
        }
        Ok(s)
    }

    /// Evaluates every point of a small grid (at most `limit`), each labelled by the values of the
    /// axes that vary (other than `unlabelled`). An error in any point is an error of the command.
    pub fn labelled_reports(
        &self,
        limit: u64,
        what: &str,
        unlabelled: &str,
    ) -> Result<Vec<(String, Report)>> {
        let n = self.len()?;
        if n > limit {
            return Err(Error::field(
                "command line",
                what,
                format!("{n} points"),
                format!("at most {limit}; use `kvsim sweep` for grids, or raise --max-points"),
            ));
        }
        (0..n)
            .map(|i| {
                let spec = self.spec(i)?;
                let label: Vec<&str> = self
                    .point(i)
                    .into_iter()
                    .zip(&self.axes)
                    .filter(|(_, a)| a.values.len() > 1 && a.knob.name != unlabelled)
                    .map(|((_, v), _)| v)
                    .collect();
                let label = if label.is_empty() {
                    format!("{} on {}", spec.model, spec.chip)
                } else {
                    label.join(" / ")
                };
                Ok((label, evaluate(&spec.load()?)?))
            })
            .collect()
    }
}

/// Models and chips of a sweep, loaded once each (models without `--set` edits).
struct Cache {
    models: HashMap<String, Result<Model>>,
    chips: HashMap<String, Result<Chip>>,
}

impl Cache {
    fn new(grid: &Grid) -> Cache {
        let values = |name: &str, default: &str| -> Vec<String> {
            grid.axes
                .iter()
                .find(|a| a.knob.name == name)
                .map_or(vec![default.to_string()], |a| a.values.clone())
        };
        Cache {
            models: values("model", &grid.base.model)
                .into_iter()
                .map(|m| (m.clone(), catalog::load_model(&m)))
                .collect(),
            chips: values("chip", &grid.base.chip)
                .into_iter()
                .map(|c| (c.clone(), catalog::load_chip(&c)))
                .collect(),
        }
    }

    /// The scenario of `spec`, from the loaded model and chip.
    fn scenario(&self, spec: &Spec) -> Result<Scenario> {
        let model = match self.models.get(&spec.model) {
            Some(m) if spec.sets.is_empty() => m.clone()?,
            _ => spec.load_model()?,
        };
        let chip = self
            .chips
            .get(&spec.chip)
            .cloned()
            .unwrap_or_else(|| catalog::load_chip(&spec.chip))?;
        spec.build(model, chip)
    }
}

/// The last point's scenario, prepared: the next point reuses it when only its context differs
/// (the grid's last axis, when it is swept, varies fastest).
struct Reuse {
    /// The point's spec with context 0.
    key: Spec,
    scenario: Scenario,
    prepared: Prepared,
}

/// The report of point `i`, reusing the previous point's preparation when only the context
/// changed.
fn evaluate_point(grid: &Grid, cache: &Cache, i: u64, reuse: &mut Option<Reuse>) -> Result<Report> {
    let spec = grid.spec(i)?;
    let key = Spec {
        context: 0,
        ..spec.clone()
    };
    if let Some(r) = reuse.as_mut().filter(|r| r.key == key) {
        r.scenario.context = spec.context;
        return r.prepared.report(&r.scenario);
    }
    let scenario = cache.scenario(&spec)?;
    let prepared = Prepared::new(&scenario)?;
    let report = prepared.report(&scenario);
    *reuse = Some(Reuse {
        key,
        scenario,
        prepared,
    });
    report
}

/// Counts of a finished sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub points: u64,
    pub errors: u64,
}

/// The column names of a sweep: every key of `eval`'s JSON, flattened, then `error`.
pub fn columns() -> Vec<String> {
    rows::columns().iter().map(|c| c.name.to_string()).collect()
}

/// Points one task evaluates and formats into its own buffer.
const TASK: u64 = 256;

/// Appends the row of point `i` to `out`; true when the point is an error row.
fn point_row(
    grid: &Grid,
    cache: &Cache,
    w: &RowWriter,
    i: u64,
    reuse: &mut Option<Reuse>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> bool {
    match evaluate_point(grid, cache, i, reuse) {
        Ok(r) => {
            w.report(&r, scratch, out);
            false
        }
        Err(e) => {
            let axes: Vec<(&str, &str)> = grid.point(i).iter().map(|(k, v)| (k.name, *v)).collect();
            w.error(&axes, &e.to_string(), out);
            true
        }
    }
}

/// The rows of points `start..end`, formatted in parallel and joined in grid order, and the
/// number of error rows among them.
fn chunk(grid: &Grid, cache: &Cache, w: &RowWriter, start: u64, end: u64) -> Vec<(Vec<u8>, u64)> {
    let tasks = (end - start).div_ceil(TASK);
    (0..tasks)
        .into_par_iter()
        .map(|t| {
            let (a, b) = (start + t * TASK, (start + (t + 1) * TASK).min(end));
            let mut out = Vec::with_capacity(1024 * (b - a) as usize);
            let mut scratch = Vec::with_capacity(256);
            let (mut errors, mut reuse) = (0, None);
            for i in a..b {
                errors += point_row(grid, cache, w, i, &mut reuse, &mut scratch, &mut out) as u64;
            }
            (out, errors)
        })
        .collect()
}

/// Expected output size of the whole grid: the header and the first point's row times the number
/// of points (rows differ by a few digits; an estimate to warn by, not a promise).
pub fn estimate_bytes(grid: &Grid, w: &RowWriter) -> Result<u64> {
    let cache = Cache::new(grid);
    let mut header = Vec::new();
    w.header(&mut header);
    let mut row = Vec::new();
    point_row(grid, &cache, w, 0, &mut None, &mut Vec::new(), &mut row);
    Ok((header.len() as u64).saturating_add((row.len() as u64).saturating_mul(grid.len()?)))
}

/// Chunks formatted ahead of the writer: enough to keep both sides busy, few enough to bound the
/// memory (a chunk of full-width CSV rows is about 4 MB).
const AHEAD: usize = 2;

/// Runs the grid, writing one row per point in grid order through `w`. `tick` is called after
/// each chunk. One thread writes while the others format the next chunks (in parallel, with
/// rayon), so output and computation overlap.
pub fn run(grid: &Grid, w: &RowWriter, out: &mut dyn Write, tick: &dyn Fn(u64)) -> Result<Stats> {
    let total = grid.len()?;
    let cache = Cache::new(grid);
    let io = |e: std::io::Error| Error::write("sweep output", &e);
    let mut header = Vec::new();
    w.header(&mut header);
    out.write_all(&header).map_err(io)?;
    let mut errors = 0;
    std::thread::scope(|scope| -> Result<()> {
        let (send, chunks) = std::sync::mpsc::sync_channel::<(u64, Vec<(Vec<u8>, u64)>)>(AHEAD);
        let cache = &cache;
        scope.spawn(move || {
            let mut start = 0;
            while start < total {
                let end = (start + CHUNK).min(total);
                // The writer stopped (an output error): stop computing.
                if send
                    .send((end - start, chunk(grid, cache, w, start, end)))
                    .is_err()
                {
                    return;
                }
                start = end;
            }
        });
        // Leaving early drops `chunks`, which ends the computing thread at its next send.
        for (n, parts) in chunks {
            for (bytes, err) in parts {
                out.write_all(&bytes).map_err(io)?;
                errors += err;
            }
            tick(n);
        }
        Ok(())
    })?;
    out.flush().map_err(io)?;
    Ok(Stats {
        points: total,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::knobs::knob;

    fn axis(name: &str, text: &str) -> Result<Axis> {
        Axis::parse(knob(name).unwrap(), text)
    }

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
        assert_eq!(axis("tp", "1..8").unwrap().values, vec!["1", "2", "4", "8"]);
        assert_eq!(axis("kv", "bf16, fp8").unwrap().values, vec!["bf16", "fp8"]);
        assert!(axis("context", "64k..8k").is_err());
        assert!(axis("context", "8k..64k:x1").is_err());
        assert!(axis("context", "8k..64k:/2").is_err());
        assert_eq!(
            axis("chip", "all").unwrap().values.len(),
            catalog::chip_ids().count()
        );
    }

    // A model path with `..` is a value, not a range; a bad value stops the grid up front.
    #[test]
    fn values_are_checked_and_paths_are_not_ranges() {
        assert_eq!(
            axis("model", "../configs/models/x.json").unwrap().values,
            vec!["../configs/models/x.json"]
        );
        let e = axis("tp", "1,two").unwrap_err().to_string();
        assert!(e.contains("--tp") && e.contains("two"), "{e}");
        assert_eq!(axis("dense", "both").unwrap().values, vec!["false", "true"]);
        assert!(axis("dense", "ture").is_err());
        assert_eq!(
            axis("set", "num_hidden_layers=16,32").unwrap().values,
            vec!["num_hidden_layers=16", "num_hidden_layers=32"]
        );
    }

    #[test]
    fn grid_order_last_axis_fastest() {
        let k = |n| knob(n).unwrap();
        let g = Grid::new(
            Spec::default(),
            &[
                (k("context"), "1,2,3".into()),
                (k("chip"), "h100-sxm".into()),
                (k("model"), "a,b".into()),
            ],
        )
        .unwrap();
        assert_eq!(g.len().unwrap(), 6);
        let names = |p: Vec<(&Knob, &str)>| -> Vec<String> {
            p.iter().map(|(k, v)| format!("{}={v}", k.name)).collect()
        };
        assert_eq!(
            names(g.point(0)),
            vec!["model=a", "chip=h100-sxm", "context=1"]
        );
        assert_eq!(
            names(g.point(4)),
            vec!["model=b", "chip=h100-sxm", "context=2"]
        );
        assert_eq!(g.spec(4).unwrap().context, 2);
    }
}
