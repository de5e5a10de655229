//! Typed rows straight from a [`Report`]: one column table (name, type, getter) shared by every row
//! format (CSV, JSON lines, Parquet), written with reused buffers and `itoa`/`zmij` (what serde_json uses) number
//! formatting — no JSON tree in between, no lookup by name per cell.
//!
//! The cells are those of the report flattened with dotted keys ([`super::flatten`]): the same
//! text for the same report, byte for byte (a test compares the two over the catalog).

use crate::chip::MemorySource;
use crate::engine::Accounting;
use crate::error::{Error, Result};
use crate::evaluate::{Report, WeightsSource};
use crate::kv::{KvSpec, LayerKv};
use crate::precision::TensorGroup;
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
#[derive(Clone, Copy)]
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
}

/// A column: its header name, type, and how to read it from a report.
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    pub get: for<'a> fn(&'a Report) -> Cell<'a>,
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

macro_rules! col {
    ($name:literal, $kind:ident, |$r:ident| $e:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |$r| $e,
        }
    };
}

macro_rules! speed {
    ($name:literal, $kind:ident, |$s:ident| $e:expr) => {
        Column {
            name: $name,
            kind: Kind::$kind,
            get: |r| match &r.speed {
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
            get: |r| Cell::Show(&r.precision.weights[TensorGroup::$variant]),
        }
    };
    (@one $prefix:literal, $g:literal, weights_by_group, $cell:ident, $variant:ident) => {
        Column {
            name: concat!($prefix, ".", $g),
            kind: Kind::U64,
            get: |r| Cell::U64(r.weights_by_group[TensorGroup::$variant]),
        }
    };
}

const PRECISION: [Column; 8] = per_group!("precision", precision, Show);
const WEIGHTS_BY_GROUP: [Column; 8] = per_group!("weights_by_group", weights_by_group, U64);

const HEAD: [Column; 16] = [
    col!("model", Str, |r| Cell::Str(&r.model)),
    col!("architecture", Str, |r| Cell::Str(&r.architecture)),
    col!("attention", Str, |r| Cell::Str(&r.attention)),
    col!("ffn", Str, |r| Cell::Str(&r.ffn)),
    col!("chip", Str, |r| Cell::Str(&r.chip)),
    col!("chip_name", Str, |r| Cell::Str(&r.chip_name)),
    col!("context", U64, |r| Cell::U64(r.context)),
    col!("engine", Str, |r| Cell::Show(&r.engine)),
    col!("tp", U64, |r| Cell::U64(r.tp)),
    col!("pp", U64, |r| Cell::U64(r.pp)),
    col!("ep", U64, |r| Cell::U64(r.ep)),
    col!("dp", U64, |r| Cell::U64(r.dp)),
    col!("dp_attention", Bool, |r| Cell::Bool(r.dp_attention)),
    col!("chips", U64, |r| Cell::U64(r.chips)),
    col!("block_size", U64, |r| Cell::U64(r.block_size)),
    col!("memory_fraction", F64, |r| Cell::F64(r.memory_fraction)),
];

const MIDDLE: [Column; 6] = [
    col!("max_num_batched_tokens", U64, |r| Cell::U64(
        r.max_num_batched_tokens
    )),
    // The precision columns go here.
    col!("precision.kv", Str, |r| Cell::Show(&r.precision.kv)),
    col!("precision.state", Str, |r| Cell::Show(&r.precision.state)),
    col!("mtp_included", Bool, |r| Cell::Bool(r.mtp_included)),
    col!("params_total", U64, |r| Cell::U64(r.params_total)),
    col!("params_active", U64, |r| Cell::U64(r.params_active)),
];

const TAIL: [Column; 25] = [
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
    // Filled on error rows only.
    col!("error", Str, |_r| Cell::Null),
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

/// Every column of a sweep, in header order: the report's fields flattened (as `eval --format
/// json` nests them), then `error`.
pub fn columns() -> Vec<&'static Column> {
    let (tail_a, tail_b) = TAIL.split_at(TAIL.len() - 2);
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

/// `weights_bytes_per_chip` then the per-group bytes.
fn weights_block() -> impl Iterator<Item = &'static Column> {
    std::iter::once(&WEIGHTS_PER_CHIP).chain(&WEIGHTS_BY_GROUP)
}

const WEIGHTS_PER_CHIP: Column = col!("weights_bytes_per_chip", U64, |r| Cell::U64(
    r.weights_bytes_per_chip
));

/// The columns named in `names` (comma-separated header names, in the order given); an unknown
/// name is an error naming `--columns` and listing the valid ones.
pub fn select(names: &str) -> Result<Vec<&'static Column>> {
    let all = columns();
    let chosen = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            all.iter().copied().find(|c| c.name == n).ok_or_else(|| {
                Error::field(
                    "command line",
                    "--columns",
                    format!("`{n}`"),
                    format!(
                        "column names from the header: {}",
                        all.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
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
        } => {
            out.extend_from_slice(b"spec.kind=compressed");
            int(" spec.record=", record, out);
            int(" spec.window=", window, out);
            int(" spec.ratio=", ratio, out);
            int(" spec.entry=", entry, out);
        }
    }
    int(" layers=", l.layers, out);
}

/// Appends `field` to a CSV record as the `csv` crate writes it (RFC 4180, quoted only when it
/// holds a comma, a quote or a newline; quotes doubled).
fn csv_field(field: &[u8], out: &mut Vec<u8>) {
    if field.iter().any(|&b| matches!(b, b',' | b'"' | b'\n')) {
        out.push(b'"');
        for &b in field {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
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

/// Row formats that stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    Csv,
    Jsonl,
    Markdown,
}

/// Writes rows of chosen columns in one format into byte buffers (one per chunk of points,
/// reused), so many threads can fill their own and the writer keeps the order.
#[derive(Debug, Clone)]
pub struct RowWriter {
    pub format: RowFormat,
    pub columns: Vec<&'static Column>,
    /// Every column in table order: JSON lines then writes the nested report as `eval` does.
    full: bool,
}

/// One report, with `error: null`, as JSON lines have always written it.
#[derive(serde::Serialize)]
struct Nested<'a> {
    #[serde(flatten)]
    report: &'a Report,
    error: Option<&'a str>,
}

impl RowWriter {
    /// A writer of `columns` (every column when `None`).
    pub fn new(format: RowFormat, columns: Option<Vec<&'static Column>>) -> RowWriter {
        let full = columns.is_none();
        RowWriter {
            format,
            columns: columns.unwrap_or_else(self::columns),
            full,
        }
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
                    csv_field(c.name.as_bytes(), out);
                }
                csv_end(start, out);
            }
            RowFormat::Jsonl => {}
            RowFormat::Markdown => {
                let names: Vec<String> = self.columns.iter().map(|c| c.name.to_string()).collect();
                if let Ok(h) = super::Format::Markdown.exporter().header(&names) {
                    out.extend_from_slice(h.as_bytes());
                }
            }
        }
    }

    /// One report's row; `scratch` is a reused buffer.
    pub fn report(&self, r: &Report, scratch: &mut Vec<u8>, out: &mut Vec<u8>) {
        match self.format {
            RowFormat::Csv => {
                let start = out.len();
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    scratch.clear();
                    text((c.get)(r), scratch);
                    csv_field(scratch, out);
                }
                csv_end(start, out);
            }
            RowFormat::Jsonl if self.full => {
                // Writing to a Vec cannot fail, and a report always serialises.
                let _ = serde_json::to_writer(
                    &mut *out,
                    &Nested {
                        report: r,
                        error: None,
                    },
                );
                out.push(b'\n');
            }
            RowFormat::Jsonl => {
                out.push(b'{');
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    json_str(c.name, out);
                    out.push(b':');
                    json((c.get)(r), scratch, out);
                }
                out.extend_from_slice(b"}\n");
            }
            RowFormat::Markdown => {
                let cells: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| {
                        scratch.clear();
                        text((c.get)(r), scratch);
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

    /// The row of a point that could not be evaluated: its axis values (`(knob name, value)`)
    /// under the columns of the same name, and the message under `error`.
    pub fn error(&self, axes: &[(&str, &str)], message: &str, out: &mut Vec<u8>) {
        let cell = |name: &str| -> Option<&str> {
            if name == "error" {
                return Some(message);
            }
            axes.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        };
        match self.format {
            RowFormat::Csv => {
                let start = out.len();
                for (i, c) in self.columns.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    csv_field(cell(c.name).unwrap_or("").as_bytes(), out);
                }
                csv_end(start, out);
            }
            RowFormat::Jsonl => {
                out.push(b'{');
                let mut first = true;
                let mut pair = |k: &str, v: &str, out: &mut Vec<u8>| {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    json_str(k, out);
                    out.push(b':');
                    json_str(v, out);
                };
                if self.full {
                    for (k, v) in axes {
                        pair(k, v, out);
                    }
                    pair("error", message, out);
                } else {
                    for c in &self.columns {
                        match cell(c.name) {
                            Some(v) => pair(c.name, v, out),
                            None => {
                                pair(c.name, "", out);
                                // An absent value: null, not an empty string.
                                out.truncate(out.len() - 2);
                                out.extend_from_slice(b"null");
                            }
                        }
                    }
                }
                out.extend_from_slice(b"}\n");
            }
            RowFormat::Markdown => {
                let cells: Vec<String> = self
                    .columns
                    .iter()
                    .map(|c| cell(c.name).unwrap_or("").to_string())
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
        Cell::Str(s) => json_str(s, out),
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
    use crate::scenario::knobs::Spec;

    fn cells(r: &Report) -> Vec<(String, String)> {
        columns()
            .iter()
            .map(|c| {
                let mut b = Vec::new();
                text((c.get)(r), &mut b);
                (c.name.to_string(), String::from_utf8(b).unwrap())
            })
            .collect()
    }

    // The typed table gives the flattened JSON keys and text of every catalog model on chips with
    // and without speed figures and prices (the golden sweep pins the same over every chip).
    #[test]
    fn same_cells_as_the_flattened_report() {
        let reference =
            crate::evaluate::evaluate(&Spec::new("llama-3.1-8b", "h100-sxm").load().unwrap())
                .unwrap();
        let mut names: Vec<String> = super::super::flatten(&reference)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        names.push("error".into());
        let ours: Vec<&str> = columns().iter().map(|c| c.name).collect();
        assert_eq!(ours, names);
        let mut checked = 0;
        for model in catalog::model_ids() {
            for chip in ["h100-sxm", "ascend-910c", "mi355x"] {
                let Ok(s) = Spec::new(model, chip).load() else {
                    continue;
                };
                let Ok(r) = crate::evaluate::evaluate(&s) else {
                    continue;
                };
                let flat: std::collections::HashMap<String, String> =
                    super::super::flatten(&r).unwrap().into_iter().collect();
                for (k, v) in cells(&r) {
                    assert_eq!(
                        flat.get(&k).cloned().unwrap_or_default(),
                        v,
                        "{model} on {chip}: {k}"
                    );
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "{checked}");
    }

    #[test]
    fn select_by_name() {
        assert!(select(" , ").is_err());
        let c = select("context, sessions_per_chip").unwrap();
        assert_eq!(c[0].name, "context");
        assert_eq!(c[1].kind, Kind::F64);
        let e = select("context,sessions").unwrap_err().to_string();
        assert!(
            e.contains("--columns") && e.contains("`sessions`") && e.contains("sessions_per_chip"),
            "{e}"
        );
    }
}
