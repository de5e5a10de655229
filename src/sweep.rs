//! Grids of scenarios: axes over knobs (from the command line or a scenario file), evaluated in
//! parallel with rayon and streamed in grid order task by task, so a million-point sweep never
//! holds all its rows.

use crate::catalog;
use crate::chip::Chip;
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, Parts, Prepared, Report};
use crate::model::Model;
use crate::report::parquet;
use crate::report::rows::{self, Col, Row, RowWriter};
use crate::scenario::knobs::{Knob, Spec, Values, KNOBS};
use crate::scenario::Scenario;
use crate::units::{parse_tokens, tokens_label};
use arrow_array::RecordBatch;
use std::collections::HashMap;
use std::io::Write;

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
    /// The context axis's values, when it is the only one of its knob and no axis after it has
    /// more than one value: then consecutive points within a run of contexts differ in the
    /// context alone.
    contexts: Option<Vec<u64>>,
}

impl Cache {
    fn new(grid: &Grid) -> Cache {
        let values = |name: &str, default: &str| -> Vec<String> {
            grid.axes
                .iter()
                .find(|a| a.knob.name == name)
                .map_or(vec![default.to_string()], |a| a.values.clone())
        };
        let axes = &grid.axes;
        let contexts = match axes.iter().position(|a| a.knob.name == "context") {
            Some(k)
                if axes[k + 1..].iter().all(|a| a.values.len() == 1)
                    && axes.iter().filter(|a| a.knob.name == "context").count() == 1 =>
            {
                axes[k]
                    .values
                    .iter()
                    .map(|v| {
                        let mut probe = Spec::default();
                        axes[k].knob.apply(&mut probe, v).map(|_| probe.context)
                    })
                    .collect::<Result<Vec<u64>>>()
                    .ok()
            }
            _ => None,
        };
        Cache {
            contexts,
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

/// The last point's scenario, prepared, and its report: the next point reuses them when only its
/// context differs (the grid's last axis, when it is swept, varies fastest).
struct Reuse {
    /// The point's spec with context 0.
    key: Spec,
    scenario: Scenario,
    prepared: Prepared,
    /// The last point's report (none when it failed).
    report: Option<Report>,
}

/// Where a sweep is: the current point's spec and what the next point may reuse.
struct Walk<'g> {
    grid: &'g Grid,
    cache: &'g Cache,
    parts: Parts,
    spec: Spec,
    /// The point `spec` is of.
    at: Option<u64>,
    reuse: Option<Reuse>,
    /// The run of points the last report belongs to: points of one run differ only in the
    /// context-dependent fields ([`rows::RowWriter::row_in_run`]); 0 for none.
    run: u64,
    runs: u64,
}

impl<'g> Walk<'g> {
    fn new(grid: &'g Grid, cache: &'g Cache, parts: Parts) -> Walk<'g> {
        Walk {
            grid,
            cache,
            parts,
            spec: grid.base.clone(),
            at: None,
            reuse: None,
            run: 0,
            runs: 0,
        }
    }

    /// Evaluates point `i`: its spec (in `self.spec`) and its report (in `self.reuse`) or error.
    fn point(&mut self, i: u64) -> Result<()> {
        // The next point of a run of contexts: the same deployment at another context.
        if let Some(ctx) = &self.cache.contexts {
            let n = ctx.len() as u64;
            if self.at == Some(i.wrapping_sub(1)) && i % n != 0 {
                self.at = Some(i);
                self.spec.context = ctx[(i % n) as usize];
                if let Some(r) = self.reuse.as_mut() {
                    r.scenario.context = self.spec.context;
                    let rebuilt = update(r, self.parts);
                    return self.follow(rebuilt);
                }
                return self.fresh();
            }
        }
        self.at = None;
        self.spec = match self.grid.spec(i) {
            Ok(s) => s,
            Err(e) => {
                self.spec = self.grid.base.clone();
                return Err(e);
            }
        };
        self.at = Some(i);
        let key = Spec {
            context: 0,
            ..self.spec.clone()
        };
        match self.reuse.as_mut().filter(|r| r.key == key) {
            Some(r) => {
                r.scenario.context = self.spec.context;
                let rebuilt = update(r, self.parts);
                self.follow(rebuilt)
            }
            None => self.fresh(),
        }
    }

    /// Builds and prepares the current spec's scenario.
    fn fresh(&mut self) -> Result<()> {
        self.reuse = None;
        let (scenario, prepared) = self
            .cache
            .scenario(&self.spec)
            .and_then(|s| Prepared::new(&s).map(|p| (s, p)))?;
        let key = Spec {
            context: 0,
            ..self.spec.clone()
        };
        let r = self.reuse.insert(Reuse {
            key,
            scenario,
            prepared,
            report: None,
        });
        let rebuilt = update(r, self.parts);
        self.follow(rebuilt)
    }

    /// Starts a new run when the report was rebuilt (no run when V0's batch follows the
    /// context: its fixed fields change at every point).
    fn follow(&mut self, rebuilt: Result<bool>) -> Result<()> {
        let v0 = self
            .reuse
            .as_ref()
            .is_some_and(|r| r.prepared.batching.is_some());
        match rebuilt {
            Ok(true) | Err(_) => {
                self.runs += 1;
                self.run = if v0 { 0 } else { self.runs };
            }
            Ok(false) => {}
        }
        rebuilt.map(|_| ())
    }
}

/// The report of the reused scenario at its (new) context: updated in place when the last point
/// had one, else made afresh. An error clears it.
fn update(r: &mut Reuse, parts: Parts) -> Result<bool> {
    let (done, rebuilt) = match r.report.as_mut() {
        Some(rep) => {
            let binding = rep.binding_stage;
            let done = r.prepared.update(&r.scenario, rep, parts);
            // A new binding stage rebuilds the fixed fields; a batch that follows the context
            // (vLLM V0) changes them at every point.
            let rebuilt = rep.binding_stage != binding || r.prepared.batching.is_some();
            (done, rebuilt)
        }
        None => (
            r.prepared
                .report_parts(&r.scenario, parts)
                .map(|rep| r.report = Some(rep)),
            true,
        ),
    };
    if done.is_err() {
        r.report = None;
    }
    done.map(|_| rebuilt)
}

/// Counts of a finished sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub points: u64,
    pub errors: u64,
}

/// The columns of a grid's rows, in header order: the table's ([`rows::columns`]) with one
/// `set.FIELD` column per config field the grid edits (after `dense`), typed by its values.
pub fn columns(grid: &Grid) -> Vec<Col> {
    // Every value each field takes: the base spec's, then each `set` axis value's.
    let mut fields: Vec<(String, Vec<serde_json::Value>)> = Vec::new();
    let mut add = |sets: &[(String, serde_json::Value)]| {
        for (f, v) in sets {
            match fields.iter_mut().find(|(g, _)| g == f) {
                Some((_, vs)) => vs.push(v.clone()),
                None => fields.push((f.clone(), vec![v.clone()])),
            }
        }
    };
    add(&grid.base.sets);
    for a in grid.axes.iter().filter(|a| a.knob.name == "set") {
        for v in &a.values {
            let mut probe = Spec::default();
            if a.knob.apply(&mut probe, v).is_ok() {
                add(&probe.sets);
            }
        }
    }
    let mut out = Vec::new();
    for c in rows::columns() {
        out.push(Col::Table(c));
        if c.name == "dense" {
            out.extend(fields.iter().map(|(f, vs)| Col::Set {
                name: format!("set.{f}"),
                field: f.clone(),
                kind: rows::set_kind(vs.iter()),
            }));
        }
    }
    out
}

/// Points one task evaluates and formats into its own buffer. Each task prepares its first
/// deployment afresh (tens of thousands of instructions), so fewer, larger tasks cost less per
/// row: 1,024 takes 6% off a narrow sweep's instructions against 256.
const TASK: u64 = 1024;

/// Calls `f` with the row of every point of `a..b` in grid order, computing the parts of each
/// report that `parts` names; returns the number of error rows.
fn each_row(
    grid: &Grid,
    cache: &Cache,
    parts: Parts,
    a: u64,
    b: u64,
    mut f: impl FnMut(&Row<'_>, u64),
) -> u64 {
    let mut errors = 0;
    let mut walk = Walk::new(grid, cache, parts);
    for i in a..b {
        match walk.point(i) {
            Ok(()) => f(
                &Row {
                    report: walk.reuse.as_ref().and_then(|r| r.report.as_ref()),
                    spec: &walk.spec,
                    error: None,
                },
                walk.run,
            ),
            Err(e) => {
                errors += 1;
                let message = e.to_string();
                f(
                    &Row {
                        report: None,
                        spec: &walk.spec,
                        error: Some(&message),
                    },
                    0,
                )
            }
        }
    }
    errors
}

/// Tasks computed or waiting for the writer at any time: enough to keep every thread busy while
/// the writer catches up, few enough to bound the memory (a task of full-width CSV rows is about
/// 1 MB).
const IN_FLIGHT: u64 = 8;

/// Computes the grid's points in tasks of [`TASK`] points (`make(a, b)`, on rayon's threads)
/// while this thread hands each task's result to `consume` in grid order, so output and
/// computation overlap; `tick(points)` follows each task. A task is started each time one is
/// consumed, [`IN_FLIGHT`] ahead, with no barrier between groups of tasks: waiting for the
/// slowest task of each chunk of four left a thread idle and held two threads to about 1.6× one.
fn pipeline<T: Send>(
    total: u64,
    make: impl Fn(u64, u64) -> T + Sync,
    mut consume: impl FnMut(T) -> Result<()>,
    tick: &dyn Fn(u64),
) -> Result<()> {
    type Done<T> = (u64, std::thread::Result<T>);
    let tasks = total.div_ceil(TASK);
    let (send, done) = std::sync::mpsc::channel::<Done<T>>();
    // Set when the consumer fails: tasks not yet started return at once.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let (make, stop) = (&make, &stop);
    rayon::in_place_scope_fifo(|scope| -> Result<()> {
        let start = |t: u64| {
            let send = send.clone();
            scope.spawn_fifo(move |_| {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let (a, b) = (t * TASK, ((t + 1) * TASK).min(total));
                // A panic is handed to the consumer, which re-raises it, rather than leaving it
                // waiting for a result that never comes.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| make(a, b)));
                // The consumer stopped (an output error): nothing to hand over.
                let _ = send.send((t, r));
            });
        };
        let mut started = 0;
        while started < tasks.min(IN_FLIGHT) {
            start(started);
            started += 1;
        }
        // Results that arrived before the one the writer needs next, by task index.
        let mut early = std::collections::BTreeMap::new();
        let mut next = 0;
        let fail = |e| {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            e
        };
        while next < tasks {
            let r = match early.remove(&next) {
                Some(r) => r,
                None => {
                    // Task `next` was started and has not reported: `send` is alive, so this
                    // waits for it.
                    let Some((t, r)) = wait(&done) else {
                        return Err(fail(Error::internal("a sweep task ended without its rows")));
                    };
                    if t != next {
                        early.insert(t, r);
                        continue;
                    }
                    r
                }
            };
            let part = r.unwrap_or_else(|p| {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                std::panic::resume_unwind(p)
            });
            consume(part).map_err(fail)?;
            tick(((next + 1) * TASK).min(total) - next * TASK);
            next += 1;
            if started < tasks {
                start(started);
                started += 1;
            }
        }
        Ok(())
    })
}

/// The next result on `done`. Called from one of rayon's own threads (a library user's
/// `par_iter`), it runs other rayon work while it waits, so a pool of one thread still gets to
/// the tasks it waits for.
fn wait<T>(done: &std::sync::mpsc::Receiver<T>) -> Option<T> {
    if rayon::current_thread_index().is_none() {
        return done.recv().ok();
    }
    loop {
        match done.try_recv() {
            Ok(x) => return Some(x),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return None,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                if rayon::yield_now() != Some(rayon::Yield::Executed) {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Expected output size of the whole grid: the header and the first point's row times the number
/// of points (rows differ by a few digits; an estimate to warn by, not a promise).
pub fn estimate_bytes(grid: &Grid, w: &RowWriter) -> Result<u64> {
    // One point: load its model and chip alone, not the grid's.
    let cache = Cache {
        models: HashMap::new(),
        chips: HashMap::new(),
        contexts: None,
    };
    let mut header = Vec::new();
    w.header(&mut header);
    let mut row = Vec::new();
    each_row(grid, &cache, rows::parts(&w.columns), 0, 1, |r, _| {
        w.row(r, &mut Vec::new(), &mut row)
    });
    Ok((header.len() as u64).saturating_add((row.len() as u64).saturating_mul(grid.len()?)))
}

/// Runs the grid, writing one row per point in grid order through `w`. `tick` is called after
/// each task's rows with their number.
pub fn run(grid: &Grid, w: &RowWriter, out: &mut dyn Write, tick: &dyn Fn(u64)) -> Result<Stats> {
    let total = grid.len()?;
    let cache = Cache::new(grid);
    let io = |e: std::io::Error| Error::write("sweep output", &e);
    let mut header = Vec::new();
    w.header(&mut header);
    out.write_all(&header).map_err(io)?;
    let mut errors = 0;
    let parts = rows::parts(&w.columns);
    // Written buffers go back to the tasks: a fresh buffer per task cost a page fault per 4 KiB
    // of output (the allocator returned the freed pages to the system), a third of a one-thread
    // full-width sweep's time. At most the tasks in flight are kept (a few MB).
    let spare = std::sync::Mutex::new(Vec::<Vec<u8>>::new());
    pipeline(
        total,
        |a, b| {
            let mut bytes = spare
                .lock()
                .map(|mut s| s.pop())
                .ok()
                .flatten()
                .unwrap_or_default();
            bytes.clear();
            let mut runs = rows::RunCache::default();
            let n = each_row(grid, &cache, parts, a, b, |r, run| {
                w.row_in_run(r, run, &mut runs, &mut bytes);
                if bytes.capacity() < 4096 {
                    // Room for the task's rows at the first one's length and an eighth more.
                    bytes.reserve((bytes.len() + bytes.len() / 8) * (b - a) as usize);
                }
            });
            (bytes, n)
        },
        |(bytes, n)| {
            errors += n;
            out.write_all(&bytes).map_err(io)?;
            if let Ok(mut s) = spare.lock() {
                s.push(bytes);
            }
            Ok(())
        },
        tick,
    )?;
    out.flush().map_err(io)?;
    Ok(Stats {
        points: total,
        errors,
    })
}

/// Calls `f` with every point's typed row, in grid order (one thread; for the library and tests).
pub fn for_each_row(grid: &Grid, mut f: impl FnMut(&Row<'_>)) -> Result<Stats> {
    let total = grid.len()?;
    let cache = Cache::new(grid);
    let errors = each_row(grid, &cache, Parts::ALL, 0, total, |r, _| f(r));
    Ok(Stats {
        points: total,
        errors,
    })
}

/// The grid as Arrow record batches of `columns` (every column of [`columns`] when `None`), one
/// per task of 1,024 points, in grid order: what the Python package turns into a `pyarrow.Table`.
pub fn record_batches(grid: &Grid, columns: Option<Vec<Col>>) -> Result<Vec<RecordBatch>> {
    let cols = columns.unwrap_or_else(|| self::columns(grid));
    let schema = parquet::schema(&cols);
    let cache = Cache::new(grid);
    let mut out = Vec::new();
    pipeline(
        grid.len()?,
        |a, b| batch(grid, &cache, &cols, &schema, a, b),
        |x| {
            out.push(x?.0);
            Ok(())
        },
        &|_| {},
    )?;
    Ok(out)
}

/// The batch of points `a..b`, and its number of error rows.
fn batch(
    grid: &Grid,
    cache: &Cache,
    cols: &[Col],
    schema: &arrow_schema::SchemaRef,
    a: u64,
    b: u64,
) -> Result<(RecordBatch, u64)> {
    let mut builder = parquet::BatchBuilder::new(cols, schema.clone(), (b - a) as usize);
    let n = each_row(grid, cache, rows::parts(cols), a, b, |r, _| {
        builder.append(cols, r)
    });
    Ok((builder.finish()?, n))
}

/// Runs the grid into a Parquet file of `columns` written to `out` (typed columns; see
/// [`crate::report::parquet`]).
pub fn run_parquet(
    grid: &Grid,
    columns: &[Col],
    out: &mut dyn Write,
    tick: &dyn Fn(u64),
) -> Result<Stats> {
    let total = grid.len()?;
    let cache = Cache::new(grid);
    let schema = parquet::schema(columns);
    let mut sink = parquet::ParquetSink::new(schema.clone(), out)?;
    let mut errors = 0;
    pipeline(
        total,
        |a, b| batch(grid, &cache, columns, &schema, a, b),
        |x| {
            let (batch, n) = x?;
            errors += n;
            sink.write(&batch)
        },
        tick,
    )?;
    sink.finish()?;
    Ok(Stats {
        points: total,
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::rows::{RowFormat, RowWriter};
    use crate::scenario::knobs::knob;

    fn axis(name: &str, text: &str) -> Result<Axis> {
        Axis::parse(knob(name).unwrap(), text)
    }

    // The pipeline hands every task to the consumer once, in order, whatever order rayon's
    // threads finish them in; a consumer's error stops it, and a task's panic reaches the caller.
    #[test]
    fn pipeline_in_order_errors_and_panics() {
        let total = 20 * TASK + 7;
        let ticks = std::sync::atomic::AtomicU64::new(0);
        let tick = |n: u64| {
            ticks.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let mut got = Vec::new();
        pipeline(
            total,
            |a, b| {
                // Later tasks finish first.
                std::thread::sleep(std::time::Duration::from_micros(200 * (20 - a / TASK)));
                (a, b)
            },
            |x| {
                got.push(x);
                Ok(())
            },
            &tick,
        )
        .unwrap();
        let want: Vec<(u64, u64)> = (0..21)
            .map(|t| (t * TASK, ((t + 1) * TASK).min(total)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(ticks.into_inner(), total);

        let mut seen = 0;
        let r = pipeline(
            total,
            |a, _| a,
            |_| {
                seen += 1;
                if seen == 3 {
                    Err(Error::internal("disk full"))
                } else {
                    Ok(())
                }
            },
            &|_| {},
        );
        assert!(r.unwrap_err().to_string().contains("disk full"));
        assert_eq!(seen, 3);

        // From inside a pool of one thread, whose only thread is the consumer.
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let n = pool.install(|| {
            let mut n = 0;
            pipeline(
                total,
                |a, b| b - a,
                |x| {
                    n += x;
                    Ok(())
                },
                &|_| {},
            )
            .unwrap();
            n
        });
        assert_eq!(n, total);

        let panicked = std::panic::catch_unwind(|| {
            let _ = pipeline(
                total,
                |a, _| assert!(a != 5 * TASK, "task 5"),
                |_| Ok(()),
                &|_| {},
            );
        });
        assert!(panicked.is_err());
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

    // A sweep updates one report in place across a run of contexts, computing only the parts its
    // columns read: every point's report (all parts) equals a fresh evaluation, errors included,
    // and every narrower selection gives the same cells as the full one. The grid has pipeline
    // stages (the binding stage may move with the context), vLLM V0 (the batch follows the
    // context), contexts past max_position and past what fits, a chip without speed figures and
    // a point that fails (tp 3). Warnings come and go with the context (batch_exceeds_sessions,
    // context_exceeds_max_position, no_kv_fits) before and after ones fixed for the deployment
    // (idle_ranks on the two-rank 910C at TP 1, non_torch_estimated), whose text an update keeps.
    #[test]
    fn reused_reports_equal_fresh_ones_for_any_columns() {
        let k = |n| knob(n).unwrap();
        let grid = Grid::new(
            Spec::default(),
            &[
                (
                    k("model"),
                    "llama-3.1-8b,gpt-oss-120b,qwen3-next-80b-a3b,deepseek-v3".into(),
                ),
                (k("chip"), "h100-sxm,ascend-910c,tpu-v5e".into()),
                (k("engine-version"), "0.6.3,0.11.0".into()),
                (k("tp"), "1,2,3".into()),
                (k("pp"), "1,3".into()),
                (k("batch"), "64".into()),
                (k("context"), "1k..4M:x4".into()),
            ],
        )
        .unwrap();
        let all = columns(&grid);
        let mut full: Vec<Vec<String>> = Vec::new();
        let mut i = 0;
        for_each_row(&grid, |row| {
            let spec = grid.spec(i).unwrap();
            i += 1;
            let fresh = spec.load().and_then(|s| evaluate(&s));
            match (row.report, &fresh) {
                (Some(r), Ok(f)) => assert_eq!(r, f, "point {}", i - 1),
                (None, Err(e)) => assert_eq!(row.error, Some(e.to_string().as_str())),
                _ => panic!("point {}: {:?} vs {:?}", i - 1, row.error, fresh.err()),
            }
            full.push(all.iter().map(|c| cell(c, row)).collect());
        })
        .unwrap();
        assert_eq!(i, grid.len().unwrap());
        assert!(full.iter().any(|r| !r[all.len() - 1].is_empty()));
        let codes = all
            .iter()
            .position(|c| c.name() == "warning_codes")
            .unwrap();
        let has = |r: &Vec<String>, c: &str| r[codes].contains(c);
        assert!(full
            .iter()
            .any(|r| has(r, "batch_exceeds_sessions") && has(r, "idle_ranks")));
        assert!(full
            .iter()
            .any(|r| !has(r, "batch_exceeds_sessions") && has(r, "idle_ranks")));
        let names = |n: &[&str]| -> Vec<usize> {
            n.iter()
                .map(|n| all.iter().position(|c| c.name() == *n).unwrap())
                .collect()
        };
        for pick in [
            names(&[
                "model",
                "context",
                "sessions_per_chip",
                "kv_budget_bytes_per_chip",
            ]),
            names(&["context", "decode_step_seconds", "compute_formats", "error"]),
            names(&["warning_codes", "binding_stage", "weights_bytes_per_chip"]),
            names(&["warnings", "kv_layout", "block_size"]),
        ] {
            let cols: Vec<Col> = pick.iter().map(|&j| all[j].clone()).collect();
            let cache = Cache::new(&grid);
            let mut n = 0;
            each_row(
                &grid,
                &cache,
                rows::parts(&cols),
                0,
                grid.len().unwrap(),
                |row, _| {
                    for (c, &j) in cols.iter().zip(&pick) {
                        assert_eq!(cell(c, row), full[n][j], "row {n}, {}", c.name());
                    }
                    n += 1;
                },
            );
        }
    }

    // Rows written in runs (fixed cells formatted once per run of contexts) are byte for byte
    // those written cell by cell, in CSV and JSON lines, every column or a few.
    #[test]
    fn rows_in_runs_are_the_rows() {
        let k = |n| knob(n).unwrap();
        let grid = Grid::new(
            Spec::default(),
            &[
                (
                    k("model"),
                    "llama-3.1-8b,qwen3-next-80b-a3b,deepseek-v3".into(),
                ),
                (k("chip"), "h100-sxm,ascend-910c,tpu-v5e".into()),
                (k("engine-version"), "0.6.3,0.11.0".into()),
                (k("tp"), "2,3".into()),
                (k("pp"), "1,3".into()),
                (k("context"), "1k..4M:x4".into()),
            ],
        )
        .unwrap();
        let all = columns(&grid);
        let some = rows::select(
            &all,
            "model,context,pp,sessions_per_chip,kv_layout,warnings",
        )
        .unwrap();
        let (mut runs_seen, mut rows_seen) = (std::collections::HashSet::new(), 0);
        for format in [RowFormat::Csv, RowFormat::Jsonl] {
            for cols in [all.clone(), some.clone()] {
                let w = RowWriter::new(format, cols);
                let cache = Cache::new(&grid);
                let mut runs = rows::RunCache::default();
                let parts = rows::parts(&w.columns);
                each_row(&grid, &cache, parts, 0, grid.len().unwrap(), |row, run| {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    w.row(row, &mut Vec::new(), &mut a);
                    w.row_in_run(row, run, &mut runs, &mut b);
                    assert_eq!(String::from_utf8(a).unwrap(), String::from_utf8(b).unwrap());
                    runs_seen.insert(run);
                    rows_seen += 1;
                });
            }
        }
        // Runs of several points were written from their cache (19 runs of V1 points that fit:
        // 20 before a tie in whole sessions between PP stages went to the smaller pool, which
        // stopped the binding stage flipping at long contexts; more before vLLM-Ascend 0.11's
        // profile and non-torch rules).
        assert!(
            runs_seen.len() >= 19 && runs_seen.len() * 3 < rows_seen,
            "{} {}",
            runs_seen.len(),
            rows_seen
        );
    }

    fn cell(c: &Col, row: &Row<'_>) -> String {
        let mut b = Vec::new();
        rows::text(c.get(row), &mut b);
        String::from_utf8(b).unwrap()
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
