//! Typed rows straight from a [`Report`]: one column table (name, type, getter) shared by every row
//! format (CSV, JSON lines, Parquet), written with reused buffers and `itoa`/`zmij` (what serde_json uses) number
//! formatting — no JSON tree in between, no lookup by name per cell.
//!
//! Columns are typed: integers stay integers (also on error rows, where the grid point's own values
//! fill the axis columns), every what-if axis has its own column (`attention_transform`,
//! `moe_transform`, `dense`, one `set.FIELD` per edited config field), the engine's name and
//! release are two columns, warnings come as text and as stable codes. Other cells are those of
//! the report flattened with dotted keys ([`super::flatten`]), with the same text (a test
//! compares the two over the catalog).

use crate::chip::MemorySource;
use crate::engine::Accounting;
use crate::error::{Error, Result};
use crate::evaluate::{Parts, Report, WeightsSource};
use crate::kv::{KvSpec, LayerKv};
use crate::precision::TensorGroup;
use crate::scenario::knobs::Spec;
use std::fmt::Display;
use std::io::Write;

/// The type of a column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Unsigned integer (bytes, counts, tokens).
    U64,
    /// Floating point (fractions, seconds, ratios).
    F64,
    Bool,
    /// Text (names, labels, formats).
    Str,
    /// A list of texts (warnings, formats; CSV joins them with "; ").
    List,
}

/// One value of a row, borrowed from the report where it can be.
#[derive(Clone)]
pub enum Cell<'a> {
    /// Absent (no speed figures, no price): an empty CSV cell, JSON null.
    Null,
    U64(u64),
    /// Non-finite values are written as absent, as serde_json does.
    F64(f64),
    Bool(bool),
    Str(&'a str),
    /// Text from a value's `Display` (formats, engines).
    Show(&'a dyn Display),
    /// A list of texts.
    Strs(&'a [String]),
    /// What each layer keeps: `spec.kind=full spec.record=576 layers=61; …` in CSV.
    Layout(&'a [LayerKv]),
    /// Text made for the row (an engine release).
    Owned(String),
    /// A list of codes.
    Codes(&'a [&'static str]),
}

/// What a row is made from: the point's report (none when it could not be evaluated), the point's
/// spec (its axis values), and the error message of a failed point.
#[derive(Clone, Copy)]
pub struct Row<'a> {
    pub report: Option<&'a Report>,
    pub spec: &'a Spec,
    pub error: Option<&'a str>,
}

/// A column: its header name, type, and how to read it from a report.
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub get: for<'a> fn(&Row<'a>) -> Cell<'a>,
}

impl std::fmt::Debug for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({:?})", self.name, self.kind)
    }
}

fn accounting(a: Accounting) -> &'static str {
    match a {
        Accounting::Uniform => "uniform",
        Accounting::VllmHybrid => "vllm_hybrid",
        Accounting::SglangSwa => "sglang_swa",
        Accounting::PerSession => "per_session",
    }
}

fn memory_source(m: MemorySource) -> &'static str {
    match m {
        MemorySource::DeviceReported => "device_reported",
        MemorySource::SpecSheet => "spec_sheet",
        MemorySource::User => "user",
    }
}

fn weights_source(w: WeightsSource) -> &'static str {
    match w {
        WeightsSource::Computed => "computed",
        WeightsSource::Checkpoint => "checkpoint",
        WeightsSource::Measured => "measured",
    }
}

/// A column read from the report (absent on error rows).
macro_rules! col {
    ($name:literal, $kind:ident, |$r:ident| $e:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |row| match row.report {
                Some($r) => $e,
                None => Cell::Null,
            },
        }
    };
}

/// A column read from the report, or from the point's spec on error rows.
macro_rules! axis {
    ($name:literal, $kind:ident, |$r:ident| $e:expr, |$s:ident| $f:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |row| match row.report {
                Some($r) => $e,
                None => {
                    let $s = row.spec;
                    $f
                }
            },
        }
    };
}

/// A column read from the point's spec.
macro_rules! spec {
    ($name:literal, $kind:ident, |$s:ident| $f:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |row| {
                let $s = row.spec;
                $f
            },
        }
    };
}

macro_rules! speed {
    ($name:literal, $kind:ident, |$s:ident| $e:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |row| match row.report.and_then(|r| r.speed.as_ref()) {
                Some($s) => $e,
                None => Cell::Null,
            },
        }
    };
}

macro_rules! per_group {
    ($prefix:literal, $field:ident, $cell:ident) => {
        [
            per_group!(@one $prefix, "attention", $field, $cell, Attention),
            per_group!(@one $prefix, "dense_ffn", $field, $cell, DenseFfn),
            per_group!(@one $prefix, "routed_experts", $field, $cell, RoutedExperts),
            per_group!(@one $prefix, "shared_experts", $field, $cell, SharedExperts),
            per_group!(@one $prefix, "router", $field, $cell, Router),
            per_group!(@one $prefix, "embeddings", $field, $cell, Embeddings),
            per_group!(@one $prefix, "vectors", $field, $cell, Vectors),
            per_group!(@one $prefix, "vision", $field, $cell, Vision),
        ]
    };
    (@one $prefix:literal, $g:literal, precision, $cell:ident, $variant:ident) => {
        Column {
            name: concat!($prefix, ".", $g),
            kind: Kind::Str,
            get: |row| match row.report {
                Some(r) => Cell::Show(&r.precision.weights[TensorGroup::$variant]),
                None => Cell::Null,
            },
        }
    };
    (@one $prefix:literal, $g:literal, weights_by_group, $cell:ident, $variant:ident) => {
        Column {
            name: concat!($prefix, ".", $g),
            kind: Kind::U64,
            get: |row| match row.report {
                Some(r) => Cell::U64(r.weights_by_group[TensorGroup::$variant]),
                None => Cell::Null,
            },
        }
    };
}

const PRECISION: [Column; 8] = per_group!("precision", precision, Show);
const WEIGHTS_BY_GROUP: [Column; 8] = per_group!("weights_by_group", weights_by_group, U64);

const HEAD: [Column; 20] = [
    // The id as given, without the what-if tags the report's label carries: those have columns.
    axis!("model", Str, |r| Cell::Str(base_id(&r.model)), |s| {
        Cell::Str(&s.model)
    }),
    col!("architecture", Str, |r| Cell::Str(&r.architecture)),
    col!("attention", Str, |r| Cell::Str(&r.attention)),
    col!("ffn", Str, |r| Cell::Str(&r.ffn)),
    spec!("attention_transform", Str, |s| match &s.attention {
        Some(a) => Cell::Owned(crate::whatif::describe(*a)),
        None => Cell::Null,
    }),
    spec!("moe_transform", Str, |s| s
        .moe
        .as_deref()
        .map_or(Cell::Null, Cell::Str)),
    spec!("dense", Bool, |s| Cell::Bool(s.dense)),
    // The `set.FIELD` columns of a grid go here.
    axis!("chip", Str, |r| Cell::Str(&r.chip), |s| Cell::Str(&s.chip)),
    col!("chip_name", Str, |r| Cell::Str(&r.chip_name)),
    axis!("context", U64, |r| Cell::U64(r.context), |s| Cell::U64(
        s.context
    )),
    axis!(
        "engine",
        Str,
        |r| Cell::Str(r.engine.name()),
        |s| Cell::Str(&s.engine)
    ),
    // On error rows, the release the spec resolves to (its default when none is named).
    axis!(
        "engine_version",
        Str,
        |r| engine_version(&r.engine.to_string()),
        |s| crate::engine::Engine::parse(&s.engine, s.engine_version.as_deref())
            .map_or(Cell::Null, |e| engine_version(&e.to_string()))
    ),
    axis!("tp", U64, |r| Cell::U64(r.tp), |s| Cell::U64(s.tp)),
    axis!("pp", U64, |r| Cell::U64(r.pp), |s| Cell::U64(s.pp)),
    axis!("ep", U64, |r| Cell::U64(r.ep), |s| Cell::U64(s.ep)),
    axis!("dp", U64, |r| Cell::U64(r.dp), |s| Cell::U64(s.dp)),
    axis!("dp_attention", Bool, |r| Cell::Bool(r.dp_attention), |s| {
        Cell::Bool(s.dp_attention)
    }),
    col!("chips", U64, |r| Cell::U64(r.chips)),
    col!("block_size", U64, |r| Cell::U64(r.block_size)),
    col!("memory_fraction", F64, |r| Cell::F64(r.memory_fraction)),
];

/// The model id before the first what-if tag (` [set …]`, ` [attention …]`).
fn base_id(id: &str) -> &str {
    id.split_once(" [").map_or(id, |(b, _)| b)
}

/// The release part of an engine label (`vllm 0.11.0` → `0.11.0`), absent when it has none.
fn engine_version(label: &str) -> Cell<'static> {
    label
        .split_once(' ')
        .map_or(Cell::Null, |(_, v)| Cell::Owned(v.to_string()))
}

const MIDDLE: [Column; 7] = [
    col!("max_num_batched_tokens", U64, |r| Cell::U64(
        r.max_num_batched_tokens
    )),
    // The precision columns go here.
    col!("precision.kv", Str, |r| Cell::Show(&r.precision.kv)),
    col!("precision.state", Str, |r| Cell::Show(&r.precision.state)),
    col!("mtp_included", Bool, |r| Cell::Bool(r.mtp_included)),
    col!("eagle_included", Bool, |r| Cell::Bool(r.eagle_included)),
    col!("params_total", U64, |r| Cell::U64(r.params_total)),
    col!("params_active", U64, |r| Cell::U64(r.params_active)),
];

const TAIL: [Column; 27] = [
    col!("weights_measured", Bool, |r| Cell::Bool(r.weights_measured)),
    col!("weights_source", Str, |r| Cell::Str(weights_source(
        r.weights_source
    ))),
    col!("weights_bytes_per_deployment", U64, |r| Cell::U64(
        r.weights_bytes_per_deployment
    )),
    col!("total_memory_bytes_per_chip", U64, |r| Cell::U64(
        r.total_memory_bytes_per_chip
    )),
    col!("memory_source", Str, |r| Cell::Str(memory_source(
        r.memory_source
    ))),
    col!("other_processes_bytes_per_chip", U64, |r| Cell::U64(
        r.other_processes_bytes_per_chip
    )),
    col!("activation_bytes_per_chip", U64, |r| Cell::U64(
        r.activation_bytes_per_chip
    )),
    col!("non_torch_bytes_per_chip", U64, |r| Cell::U64(
        r.non_torch_bytes_per_chip
    )),
    col!("cuda_graph_bytes_per_chip", U64, |r| Cell::U64(
        r.cuda_graph_bytes_per_chip
    )),
    col!("kv_budget_bytes_per_chip", U64, |r| Cell::U64(
        r.kv_budget_bytes_per_chip
    )),
    col!("shortfall_bytes_per_chip", U64, |r| Cell::U64(
        r.shortfall_bytes_per_chip
    )),
    col!("binding_stage", U64, |r| Cell::U64(r.binding_stage)),
    col!("kv_layers_per_chip", U64, |r| Cell::U64(
        r.kv_layers_per_chip
    )),
    col!("kv_bytes_per_token_per_chip", U64, |r| Cell::U64(
        r.kv_bytes_per_token_per_chip
    )),
    col!("kv_bytes_per_session_per_chip", U64, |r| Cell::U64(
        r.kv_bytes_per_session_per_chip
    )),
    col!("kv_accounting", Str, |r| Cell::Str(accounting(
        r.kv_accounting
    ))),
    col!("kv_layout", Str, |r| Cell::Layout(&r.kv_layout)),
    col!("blocks_per_session", U64, |r| Cell::U64(
        r.blocks_per_session
    )),
    col!("kv_blocks_per_chip", U64, |r| Cell::U64(
        r.kv_blocks_per_chip
    )),
    col!("kv_capacity_tokens_per_chip", U64, |r| Cell::U64(
        r.kv_capacity_tokens_per_chip
    )),
    col!("max_concurrency", F64, |r| Cell::F64(r.max_concurrency)),
    col!("sessions_per_replica", U64, |r| Cell::U64(
        r.sessions_per_replica
    )),
    col!("sessions_per_deployment", U64, |r| Cell::U64(
        r.sessions_per_deployment
    )),
    col!("sessions_per_chip", F64, |r| Cell::F64(r.sessions_per_chip)),
    // The speed columns go here.
    col!("warnings", List, |r| Cell::Strs(&r.warnings)),
    col!("warning_codes", List, |r| Cell::Codes(&r.warning_codes)),
    // Filled on error rows only.
    Column {
        name: "error",
        kind: Kind::Str,
        get: |row| row.error.map_or(Cell::Null, Cell::Str),
    },
];

fn opt(v: Option<f64>) -> Cell<'static> {
    v.map_or(Cell::Null, Cell::F64)
}

const SPEED: [Column; 20] = [
    speed!("flops_per_token_decode", F64, |s| Cell::F64(
        s.flops_per_token_decode
    )),
    speed!("flops_prefill", F64, |s| Cell::F64(s.flops_prefill)),
    speed!("prompt_tokens", U64, |s| Cell::U64(s.prompt_tokens)),
    speed!("batch", U64, |s| Cell::U64(s.batch)),
    speed!("bytes_per_decode_step", F64, |s| Cell::F64(
        s.bytes_per_decode_step
    )),
    speed!("compute_seconds_per_step", F64, |s| Cell::F64(
        s.compute_seconds_per_step
    )),
    speed!("memory_seconds_per_step", F64, |s| Cell::F64(
        s.memory_seconds_per_step
    )),
    speed!("decode_step_seconds", F64, |s| Cell::F64(
        s.decode_step_seconds
    )),
    speed!("decode_bound", Str, |s| Cell::Str(&s.decode_bound)),
    speed!("ttft_seconds", F64, |s| Cell::F64(s.ttft_seconds)),
    speed!("tokens_per_second_per_session", F64, |s| Cell::F64(
        s.tokens_per_second_per_session
    )),
    speed!("tokens_per_second_per_chip", F64, |s| Cell::F64(
        s.tokens_per_second_per_chip
    )),
    speed!("mfu", F64, |s| Cell::F64(s.mfu)),
    speed!("mbu", F64, |s| Cell::F64(s.mbu)),
    speed!("compute_formats", List, |s| Cell::Strs(&s.compute_formats)),
    speed!("max_batch", U64, |s| Cell::U64(s.max_batch)),
    speed!("tokens_per_second_per_chip_at_max_batch", F64, |s| {
        Cell::F64(s.tokens_per_second_per_chip_at_max_batch)
    }),
    speed!("usd_per_hour_per_chip", F64, |s| opt(
        s.usd_per_hour_per_chip
    )),
    speed!("usd_per_million_tokens", F64, |s| opt(
        s.usd_per_million_tokens
    )),
    speed!("joules_per_token", F64, |s| opt(s.joules_per_token)),
];

/// Every column of the table, in header order: the report's fields flattened (as `eval --format
/// json` nests them, `engine` split into name and release) with the what-if axes beside the model,
/// then `warning_codes` and `error`. A grid adds its `set.FIELD` columns ([`Col::Set`]).
pub fn columns() -> Vec<&'static Column> {
    let (tail_a, tail_b) = TAIL.split_at(TAIL.len() - 3);
    HEAD.iter()
        .chain(&MIDDLE[..1])
        .chain(&PRECISION)
        .chain(&MIDDLE[1..])
        .chain(weights_block())
        .chain(tail_a)
        .chain(&SPEED)
        .chain(tail_b)
        .collect()
}

/// `weights_bytes_per_chip`, the allocator segments' free space, then the per-group bytes.
fn weights_block() -> impl Iterator<Item = &'static Column> {
    [&WEIGHTS_PER_CHIP, &WEIGHT_SEGMENTS]
        .into_iter()
        .chain(&WEIGHTS_BY_GROUP)
}

const WEIGHTS_PER_CHIP: Column = col!("weights_bytes_per_chip", U64, |r| Cell::U64(
    r.weights_bytes_per_chip
));

const WEIGHT_SEGMENTS: Column = col!("weight_segments_bytes_per_chip", U64, |r| Cell::U64(
    r.weight_segments_bytes_per_chip
));

/// A column of a grid's rows: one of the table's, or the value of one `--set` field.
#[derive(Debug, Clone)]
pub enum Col {
    Table(&'static Column),
    /// `set.FIELD`: the value the point gives the config field (absent when it sets none).
    Set {
        name: String,
        field: String,
        kind: Kind,
    },
}

impl Col {
    pub fn name(&self) -> &str {
        match self {
            Col::Table(c) => c.name,
            Col::Set { name, .. } => name,
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Col::Table(c) => c.kind,
            Col::Set { kind, .. } => *kind,
        }
    }

    /// The cell of this column in `row`.
    pub fn get<'a>(&'a self, row: &Row<'a>) -> Cell<'a> {
        match self {
            Col::Table(c) => (c.get)(row),
            Col::Set { field, kind, .. } => row
                .spec
                .sets
                .iter()
                .find(|(f, _)| f == field)
                .map_or(Cell::Null, |(_, v)| json_cell(v, *kind)),
        }
    }
}

/// A config value as a cell of a `set.FIELD` column of type `kind`.
fn json_cell(v: &serde_json::Value, kind: Kind) -> Cell<'_> {
    use serde_json::Value;
    match (kind, v) {
        (Kind::U64, Value::Number(n)) if n.as_u64().is_some() => Cell::U64(n.as_u64().unwrap_or(0)),
        (Kind::F64, Value::Number(n)) => n.as_f64().map_or(Cell::Null, Cell::F64),
        (Kind::Bool, Value::Bool(b)) => Cell::Bool(*b),
        (_, Value::String(s)) => Cell::Str(s),
        (_, Value::Null) => Cell::Null,
        (_, other) => Cell::Owned(other.to_string()),
    }
}

/// The type of a `set.FIELD` column holding `values`: integers, numbers, switches, else text.
pub fn set_kind<'a>(values: impl Iterator<Item = &'a serde_json::Value> + Clone) -> Kind {
    use serde_json::Value;
    if values.clone().all(|v| v.as_u64().is_some()) {
        Kind::U64
    } else if values.clone().all(Value::is_number) {
        Kind::F64
    } else if values.clone().all(Value::is_boolean) {
        Kind::Bool
    } else {
        Kind::Str
    }
}

/// The parts of a report that `cols` read: the speed figures for a speed column, the warnings
/// for `warnings` or `warning_codes`. A sweep computes only those.
pub fn parts(cols: &[Col]) -> Parts {
    let speed: Vec<&str> = SPEED.iter().map(|s| s.name).collect();
    Parts {
        speed: cols.iter().any(|c| speed.contains(&c.name())),
        warnings: cols
            .iter()
            .any(|c| ["warnings", "warning_codes"].contains(&c.name())),
    }
}

/// The columns named in `names` (comma-separated header names, in the order given) among `all`;
/// an unknown name is an error naming `--columns` and listing the valid ones.
pub fn select(all: &[Col], names: &str) -> Result<Vec<Col>> {
    let chosen = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            all.iter().find(|c| c.name() == n).cloned().ok_or_else(|| {
                Error::field(
                    "command line",
                    "--columns",
                    format!("`{n}`"),
                    format!(
                        "column names from the header: {}",
                        all.iter().map(Col::name).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if chosen.is_empty() {
        return Err(Error::field(
            "command line",
            "--columns",
            "no names",
            "a comma-separated list of column names",
        ));
    }
    Ok(chosen)
}

/// Appends a cell as CSV text (before quoting) to `out`.
pub fn text(cell: Cell<'_>, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => {}
        Cell::U64(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
        Cell::F64(v) if v.is_finite() => {
            out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes())
        }
        Cell::F64(_) => {}
        Cell::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
        Cell::Str(s) => out.extend_from_slice(s.as_bytes()),
        Cell::Show(d) => {
            let _ = write!(out, "{d}");
        }
        Cell::Strs(list) => {
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"; ");
                }
                out.extend_from_slice(s.as_bytes());
            }
        }
        Cell::Layout(layers) => {
            for (i, l) in layers.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"; ");
                }
                layout_item(l, out);
            }
        }
        Cell::Owned(s) => out.extend_from_slice(s.as_bytes()),
        Cell::Codes(list) => {
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    out.extend_from_slice(b"; ");
                }
                out.extend_from_slice(s.as_bytes());
            }
        }
    }
}

/// One layer kind as the flattened `key=value` pairs of its JSON object.
fn layout_item(l: &LayerKv, out: &mut Vec<u8>) {
    let int = |key: &str, v: u64, out: &mut Vec<u8>| {
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    };
    match l.spec {
        KvSpec::Full { record } => {
            out.extend_from_slice(b"spec.kind=full");
            int(" spec.record=", record, out);
        }
        KvSpec::Window { record, window } => {
            out.extend_from_slice(b"spec.kind=window");
            int(" spec.record=", record, out);
            int(" spec.window=", window, out);
        }
        KvSpec::State { bytes } => {
            out.extend_from_slice(b"spec.kind=state");
            int(" spec.bytes=", bytes, out);
        }
        KvSpec::Compressed {
            record,
            window,
            ratio,
            entry,
            state,
        } => {
            out.extend_from_slice(b"spec.kind=compressed");
            int(" spec.record=", record, out);
            int(" spec.window=", window, out);
            int(" spec.ratio=", ratio, out);
            int(" spec.entry=", entry, out);
            int(" spec.state=", state, out);
        }
    }
    int(" layers=", l.layers, out);
}

/// Appends `field` to a CSV record as the `csv` crate writes it (RFC 4180, quoted only when it
/// holds a comma, a quote or a newline; quotes doubled).
fn csv_field(field: &[u8], out: &mut Vec<u8>) {
    if memchr::memchr3(b',', b'"', b'\n', field).is_some() {
        out.push(b'"');
        let mut rest = field;
        while let Some(i) = memchr::memchr(b'"', rest) {
            out.extend_from_slice(&rest[..=i]);
            out.push(b'"');
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'"');
    } else {
        out.extend_from_slice(field);
    }
}

/// Ends a CSV record: a record with no bytes at all (one empty field) is written `""`, as the
/// `csv` crate does, so that it is not read as a blank line.
fn csv_end(start: usize, out: &mut Vec<u8>) {
    if out.len() == start {
        out.extend_from_slice(b"\"\"");
    }
    out.push(b'\n');
}

/// A run's formatted fixed cells and the last value of each varying one, for
/// [`RowWriter::row_in_run`] (one per task of points, serving one writer).
#[derive(Debug, Default)]
pub struct RunCache {
    run: u64,
    fixed: Vec<u8>,
    pieces: Vec<Piece>,
    scratch: Vec<u8>,
    /// Per column: the last value written and its bytes. Within a run many varying cells repeat
    /// from one context to the next (the budget, the accounting, sessions that change every few
    /// hundred contexts, warnings): copying their bytes costs less than formatting them again.
    memos: Vec<Memo>,
}

/// A column's last value in a sweep's rows and the bytes it was written as ([`RunCache`]). The
/// bytes of a cell depend on its column and value alone, so an equal value gets them again.
#[derive(Debug, Default)]
struct Memo {
    key: Option<Key>,
    /// Text values: the text, or a list's items one after another (`lens` their lengths).
    text: Vec<u8>,
    lens: Vec<usize>,
    /// What the cell was written as (separator or key included).
    out: Vec<u8>,
}

/// A value's kind and, for numbers and switches, its bits (text in [`Memo::text`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Null,
    U64(u64),
    /// The bits: equal bits, equal digits (-0 and 0 differ, as their text may).
    F64(u64),
    Bool(bool),
    Str,
    Strs,
    Codes,
}

impl Memo {
    /// True when `cell` is the value last remembered (never for values formatted through
    /// `Display` or layouts, which are not remembered).
    fn holds(&self, cell: &Cell<'_>) -> bool {
        let Some(key) = self.key else {
            return false;
        };
        match cell {
            Cell::Null => key == Key::Null,
            Cell::U64(v) => key == Key::U64(*v),
            Cell::F64(v) => key == Key::F64(v.to_bits()),
            Cell::Bool(b) => key == Key::Bool(*b),
            Cell::Str(s) => key == Key::Str && self.text == s.as_bytes(),
            Cell::Owned(s) => key == Key::Str && self.text == s.as_bytes(),
            Cell::Strs(list) => {
                key == Key::Strs && self.same_items(list.iter().map(|s| s.as_str()))
            }
            Cell::Codes(list) => key == Key::Codes && self.same_items(list.iter().copied()),
            Cell::Show(_) | Cell::Layout(_) => false,
        }
    }

    fn same_items<'s>(&self, items: impl ExactSizeIterator<Item = &'s str>) -> bool {
        if items.len() != self.lens.len() {
            return false;
        }
        let mut at = 0;
        for (item, &n) in items.zip(&self.lens) {
            if item.len() != n || self.text[at..at + n] != *item.as_bytes() {
                return false;
            }
            at += n;
        }
        true
    }

    /// Remembers `cell` (the caller then stores the bytes it is written as in `out`).
    fn remember(&mut self, cell: &Cell<'_>) {
        self.text.clear();
        self.lens.clear();
        let mut items = |list: &mut dyn Iterator<Item = &str>| {
            for s in list {
                self.text.extend_from_slice(s.as_bytes());
                self.lens.push(s.len());
            }
        };
        self.key = match cell {
            Cell::Null => Some(Key::Null),
            Cell::U64(v) => Some(Key::U64(*v)),
            Cell::F64(v) => Some(Key::F64(v.to_bits())),
            Cell::Bool(b) => Some(Key::Bool(*b)),
            Cell::Str(s) => {
                items(&mut std::iter::once(*s));
                Some(Key::Str)
            }
            Cell::Owned(s) => {
                items(&mut std::iter::once(s.as_str()));
                Some(Key::Str)
            }
            Cell::Strs(list) => {
                items(&mut list.iter().map(|s| s.as_str()));
                Some(Key::Strs)
            }
            Cell::Codes(list) => {
                items(&mut list.iter().copied());
                Some(Key::Codes)
            }
            Cell::Show(_) | Cell::Layout(_) => None,
        };
    }
}

#[derive(Debug, Clone, Copy)]
enum Piece {
    /// Bytes `a..b` of the fixed cells.
    Fixed(usize, usize),
    /// Column `i`, formatted per row.
    Cell(usize),
}

/// Columns whose value may change when only the context does: the report's fields that
/// `Prepared::update` rewrites (crate::evaluate's `fill`), the speed figures, and `error`. Every
/// other column of a report is fixed for a deployment and its binding stage.
const VARYING: [&str; 16] = [
    "context",
    "block_size",
    "kv_budget_bytes_per_chip",
    "shortfall_bytes_per_chip",
    "kv_bytes_per_session_per_chip",
    "kv_accounting",
    "blocks_per_session",
    "kv_blocks_per_chip",
    "kv_capacity_tokens_per_chip",
    "max_concurrency",
    "sessions_per_replica",
    "sessions_per_deployment",
    "sessions_per_chip",
    "warnings",
    "warning_codes",
    "error",
];

/// Whether column `c` may change along a run of contexts ([`VARYING`] or a speed column).
fn varies(c: &Col) -> bool {
    match c {
        Col::Table(t) => VARYING.contains(&t.name) || SPEED.iter().any(|s| s.name == t.name),
        Col::Set { .. } => false,
    }
}

/// Row formats that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    Csv,
    Jsonl,
    Markdown,
}

/// Writes rows of chosen columns in one format into byte buffers (one per task of points, reused
/// cell by cell), so many threads can fill their own and the writer keeps the order.
#[derive(Debug, Clone)]
pub struct RowWriter {
    pub format: RowFormat,
    pub columns: Vec<Col>,
}

impl RowWriter {
    pub fn new(format: RowFormat, columns: Vec<Col>) -> RowWriter {
        RowWriter { format, columns }
    }

    /// The header: the CSV line of names, Markdown's header and rule, nothing for JSON lines.
    pub fn header(&self, out: &mut Vec<u8>) {
        match self.format {
            RowFormat::Csv => {
                let start = out.len();
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_field(c.name().as_bytes(), out);
                }
                csv_end(start, out);
            }
            RowFormat::Jsonl => {}
            RowFormat::Markdown => {
                let names: Vec<String> =
                    self.columns.iter().map(|c| c.name().to_string()).collect();
                if let Ok(h) = super::Format::Markdown.exporter().header(&names) {
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
    }

    /// One row; `scratch` is a reused buffer.
    pub fn row(&self, row: &Row<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        match self.format {
            RowFormat::Csv => {
                let start = out.len();
                for i in 0..self.columns.len() {
                    self.cell(i, row, scratch, out);
                }
                csv_end(start, out);
            }
            RowFormat::Jsonl => {
                out.push(b'{');
                for i in 0..self.columns.len() {
                    self.cell(i, row, scratch, out);
                }
                out.extend_from_slice(b"}\n");
            }
            RowFormat::Markdown => {
                let cells: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| {
                        scratch.clear();
                        text(c.get(row), scratch);
                        String::from_utf8_lossy(scratch).into_owned()
                    })
                    .collect();
                if let Ok(line) = super::Format::Markdown
                    .exporter()
                    .row(&cells, &serde_json::Value::Null)
                {
                    out.extend_from_slice(line.as_bytes());
                }
            }
        }
    }

    /// Column `i` of `row` with the separator before it (CSV text; a JSON key and value).
    fn cell(&self, i: usize, row: &Row<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        self.write_cell(i, self.columns[i].get(row), scratch, out)
    }

    /// Writes `cell` as column `i`'s.
    fn write_cell(&self, i: usize, cell: Cell<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        let c = &self.columns[i];
        if i > 0 {
            out.push(b',');
        }
        match self.format {
            RowFormat::Csv => match cell {
                // Numbers and switches never need quotes; text is checked where it lies.
                cell @ (Cell::Null | Cell::U64(_) | Cell::F64(_) | Cell::Bool(_)) => {
                    text(cell, out)
                }
                Cell::Str(s) => csv_field(s.as_bytes(), out),
                Cell::Owned(s) => csv_field(s.as_bytes(), out),
                cell => {
                    scratch.clear();
                    text(cell, scratch);
                    csv_field(scratch, out);
                }
            },
            _ => {
                json_str(c.name(), out);
                out.push(b':');
                json(cell, scratch, out);
            }
        }
    }

    /// One row of a run of points whose reports differ only in their context-dependent fields
    /// (the `VARYING` columns and the speed figures): the other cells are formatted once per run
    /// (`run` names it; 0 = no run) and copied after. The bytes are those of [`RowWriter::row`].
    pub fn row_in_run(&self, row: &Row<'_>, run: u64, cache: &mut RunCache, out: &mut Vec<u8>) {
        if run == 0 || row.report.is_none() || self.format == RowFormat::Markdown {
            return self.row(row, &mut cache.scratch, out);
        }
        if cache.memos.len() != self.columns.len() {
            cache.memos = (0..self.columns.len()).map(|_| Memo::default()).collect();
        }
        if cache.run != run {
            cache.run = run;
            cache.fixed.clear();
            cache.pieces.clear();
            let mut open = 0;
            for (i, c) in self.columns.iter().enumerate() {
                if varies(c) {
                    if open < cache.fixed.len() {
                        cache.pieces.push(Piece::Fixed(open, cache.fixed.len()));
                    }
                    cache.pieces.push(Piece::Cell(i));
                    open = cache.fixed.len();
                } else {
                    self.cell(i, row, &mut cache.scratch, &mut cache.fixed);
                }
            }
            if open < cache.fixed.len() {
                cache.pieces.push(Piece::Fixed(open, cache.fixed.len()));
            }
        }
        let start = out.len();
        if self.format == RowFormat::Jsonl {
            out.push(b'{');
        }
        for p in &cache.pieces {
            match *p {
                Piece::Fixed(a, b) => out.extend_from_slice(&cache.fixed[a..b]),
                Piece::Cell(i) => {
                    let cell = self.columns[i].get(row);
                    let memo = &mut cache.memos[i];
                    if memo.holds(&cell) {
                        out.extend_from_slice(&memo.out);
                    } else {
                        memo.remember(&cell);
                        let at = out.len();
                        self.write_cell(i, cell, &mut cache.scratch, out);
                        memo.out.clear();
                        memo.out.extend_from_slice(&out[at..]);
                    }
                }
            }
        }
        match self.format {
            RowFormat::Jsonl => out.extend_from_slice(b"}\n"),
            _ => csv_end(start, out),
        }
    }
}

/// A JSON string.
fn json_str(s: &str, out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, s);
}

/// A cell as a JSON value: numbers as numbers, lists as arrays, absent as null.
fn json(cell: Cell<'_>, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => out.extend_from_slice(b"null"),
        Cell::U64(_) | Cell::F64(_) | Cell::Bool(_) => {
            let start = out.len();
            text(cell, out);
            if out.len() == start {
                out.extend_from_slice(b"null");
            }
        }
        Cell::Strs(list) => {
            out.push(b'[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(s, out);
            }
            out.push(b']');
        }
        Cell::Codes(list) => {
            out.push(b'[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_str(s, out);
            }
            out.push(b']');
        }
        Cell::Str(s) => json_str(s, out),
        Cell::Owned(s) => json_str(&s, out),
        Cell::Show(_) | Cell::Layout(_) => {
            scratch.clear();
            text(cell, scratch);
            json_str(&String::from_utf8_lossy(scratch), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    fn cell_text(c: &Col, row: &Row<'_>) -> String {
        let mut b = Vec::new();
        text(c.get(row), &mut b);
        String::from_utf8(b).unwrap()
    }

    fn table() -> Vec<Col> {
        columns().into_iter().map(Col::Table).collect()
    }

    // The typed table gives the flattened JSON's keys and text for every report field (bar the
    // model label and engine, split on purpose) of every catalog model on chips with and without
    // speed figures and prices.
    #[test]
    fn same_cells_as_the_flattened_report() {
        let mut checked = 0;
        for model in catalog::model_ids() {
            for chip in ["h100-sxm", "ascend-910c", "mi355x", "tpu-v5e"] {
                let spec = Spec::new(model, chip);
                let Ok(s) = spec.load() else { continue };
                let Ok(r) = crate::evaluate::evaluate(&s) else {
                    continue;
                };
                let row = Row {
                    report: Some(&r),
                    spec: &spec,
                    error: None,
                };
                let flat = super::super::flatten(&r).unwrap();
                let cols = table();
                for (k, v) in flat.iter().filter(|(k, _)| k != "model" && k != "engine") {
                    let Some(c) = cols.iter().find(|c| c.name() == k) else {
                        // Speed fields a chip without figures lacks are columns all the same.
                        panic!("{model} on {chip}: no column {k}");
                    };
                    assert_eq!(&cell_text(c, &row), v, "{model} on {chip}: {k}");
                }
                let get = |n: &str| cell_text(cols.iter().find(|c| c.name() == n).unwrap(), &row);
                assert_eq!(get("model"), model);
                assert_eq!(get("engine"), "vllm");
                assert_eq!(
                    format!("vllm {}", get("engine_version")),
                    r.engine.to_string()
                );
                assert_eq!(
                    get("warning_codes").split("; ").count(),
                    r.warnings.len().max(1)
                );
                checked += 1;
            }
        }
        assert!(checked > 60, "{checked}");
    }

    // A failed point still has typed axis values: integers stay integers, the message is in
    // `error`, the report's columns are absent.
    #[test]
    fn error_rows_keep_the_axis_types() {
        let mut spec = Spec::new("llama-3.1-8b", "h100-sxm");
        spec.tp = 3;
        spec.context = 8192;
        let w = RowWriter::new(RowFormat::Jsonl, table());
        let mut out = Vec::new();
        w.row(
            &Row {
                report: None,
                spec: &spec,
                error: Some("tp 3"),
            },
            &mut Vec::new(),
            &mut out,
        );
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["context"], 8192);
        assert_eq!(v["tp"], 3);
        assert_eq!(v["model"], "llama-3.1-8b");
        assert_eq!(v["dense"], false);
        assert_eq!(v["error"], "tp 3");
        assert!(v["sessions_per_chip"].is_null());
        assert!(v["kv_budget_bytes_per_chip"].is_null());
    }

    // Fields are quoted and their quotes doubled as the csv crate does it.
    #[test]
    fn csv_fields_as_the_csv_crate_writes_them() {
        for f in [
            "",
            "plain",
            "a,b",
            "say \"hi\"",
            "\"",
            "\"\"x,\"",
            "line\nbreak",
            "end\"",
        ] {
            let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
            w.write_record([f, "x"]).unwrap();
            let want = String::from_utf8(w.into_inner().unwrap()).unwrap();
            let mut out = Vec::new();
            csv_field(f.as_bytes(), &mut out);
            out.extend_from_slice(b",x\n");
            assert_eq!(String::from_utf8(out).unwrap(), want, "{f:?}");
        }
    }

    #[test]
    fn select_by_name() {
        let all = table();
        assert!(select(&all, " , ").is_err());
        let c = select(&all, "context, sessions_per_chip").unwrap();
        assert_eq!(c[0].name(), "context");
        assert_eq!(c[1].kind(), Kind::F64);
        let e = select(&all, "context,sessions").unwrap_err().to_string();
        assert!(
            e.contains("--columns") && e.contains("`sessions`") && e.contains("sessions_per_chip"),
            "{e}"
        );
    }

    #[test]
    fn set_columns_are_typed_by_their_values() {
        use serde_json::json;
        let v = [json!(16), json!(32)];
        assert_eq!(set_kind(v.iter()), Kind::U64);
        let v = [json!(16), json!(0.5)];
        assert_eq!(set_kind(v.iter()), Kind::F64);
        let v = [json!(true)];
        assert_eq!(set_kind(v.iter()), Kind::Bool);
        let v = [json!(1), json!("x")];
        assert_eq!(set_kind(v.iter()), Kind::Str);
        assert!(matches!(json_cell(&json!(16), Kind::F64), Cell::F64(x) if x == 16.0));
    }
}
