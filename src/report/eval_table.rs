//! The human view of one evaluation: a memory breakdown readable at a glance (GiB, unit named).

use crate::chip::MemorySource;
use crate::evaluate::{Report, WeightsSource};
use crate::kv::KvSpec;
use crate::units::{thousands, to_gib};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

fn gib(b: u64) -> String {
    format!("{:.2}", to_gib(b))
}

fn table(header: [&str; 3]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    t.column_mut(1)
        .unwrap()
        .set_cell_alignment(CellAlignment::Right);
    t
}

/// Renders the report as text tables.
pub fn render(r: &Report) -> String {
    let mut out = format!(
        "{} on {}: context {} tokens, KV {} in blocks of {}\n{}: {}; {}\nparameters: {} total, {} active per token{}\n\
         deployment: TP{} × PP{} × DP{}{} (EP{}) = {} chip{}, engine {}\n\n",
        r.model,
        r.chip_name,
        thousands(r.context),
        r.precision.kv,
        r.block_size,
        r.architecture,
        r.attention,
        r.ffn,
        thousands(r.params_total),
        thousands(r.params_active),
        match (r.eagle_included, r.mtp_included) {
            (true, _) => " (EAGLE draft head included)",
            (false, true) => " (MTP layers included)",
            _ => "",
        },
        r.tp,
        r.pp,
        r.dp,
        if r.dp_attention { " with DP-attention" } else { "" },
        r.ep,
        r.chips,
        if r.chips == 1 { "" } else { "s" },
        r.engine,
    );

    let mut mem = table(["memory per chip", "GiB", "note"]);
    let src = match r.memory_source {
        MemorySource::DeviceReported => "device-reported total",
        MemorySource::SpecSheet => "spec-sheet total",
        MemorySource::User => "given (--total-memory-gib)",
    };
    mem.add_row(vec![
        Cell::new("device memory"),
        Cell::new(gib(r.total_memory_bytes_per_chip)),
        Cell::new(src),
    ]);
    if r.other_processes_bytes_per_chip > 0 {
        mem.add_row(vec![
            Cell::new("other processes"),
            Cell::new(gib(r.other_processes_bytes_per_chip)),
            Cell::new(if r.warning_codes.contains(&"engine_refuses_start") {
                "given (--other-processes): the engine refuses to start"
            } else {
                "given (--other-processes)"
            }),
        ]);
    }
    let p = &r.precision;
    let w = &r.weights_by_group;
    let note = match r.weights_source {
        WeightsSource::Measured => "given (--weights-gib)",
        WeightsSource::Checkpoint => "stored bytes (safetensors headers), kvsim's split",
        WeightsSource::Computed => "scales included",
    };
    mem.add_row(vec![
        Cell::new("weights"),
        Cell::new(gib(r.weights_bytes_per_chip)),
        Cell::new(note),
    ]);
    for (g, &bytes) in w.iter() {
        let (name, fmt) = (g.label(), p.get(g).to_string());
        if bytes > 0 && r.weights_source == WeightsSource::Computed {
            mem.add_row(vec![
                Cell::new(format!("    {name}")),
                Cell::new(gib(bytes)),
                Cell::new(fmt),
            ]);
        }
    }
    // What the engine allocates at load besides the parameters (MLA matrices derived from the
    // weights: vLLM 0.7.1–0.7.3, SGLang's w_kc / w_vc; rope cos/sin and position tables):
    // counted in the total, in no tensor group, each named in the warnings.
    let derived = r.weights_bytes_per_chip.saturating_sub(w.total());
    if derived > 0 && r.weights_source == WeightsSource::Computed {
        mem.add_row(vec![
            Cell::new("    allocated at load"),
            Cell::new(gib(derived)),
            Cell::new(format!(
                "{}: derived MLA matrices, position tables (named on stderr)",
                r.engine
            )),
        ]);
    }
    if r.engine.charges_overheads() {
        mem.add_row(vec![
            Cell::new("activation peak"),
            Cell::new(gib(r.activation_bytes_per_chip)),
            Cell::new("profiling pass"),
        ]);
        mem.add_row(vec![
            Cell::new("non-torch"),
            Cell::new(gib(r.non_torch_bytes_per_chip)),
            Cell::new("CUDA context, comm buffers"),
        ]);
        let graphs = if r.engine.subtracts_cuda_graphs() {
            "subtracted"
        } else {
            "inside the unused headroom"
        };
        mem.add_row(vec![
            Cell::new("CUDA graphs"),
            Cell::new(gib(r.cuda_graph_bytes_per_chip)),
            Cell::new(graphs),
        ]);
    }
    mem.add_row(vec![
        Cell::new("KV-cache budget"),
        Cell::new(gib(r.kv_budget_bytes_per_chip)),
        Cell::new(r.engine.formula(r.memory_fraction)),
    ]);
    out += &mem.to_string();
    out.push('\n');

    let mut kv = table(["KV cache", "value", "unit"]);
    for l in &r.kv_layout {
        let (what, value, unit) = match l.spec {
            KvSpec::Full { record } => (
                "full attention".to_string(),
                thousands(record),
                "B/token".to_string(),
            ),
            KvSpec::Window { record, window } => (
                format!("window {window}"),
                thousands(record),
                "B/token".to_string(),
            ),
            KvSpec::State { bytes } => (
                "linear state".to_string(),
                thousands(bytes),
                "B/session".to_string(),
            ),
            KvSpec::Compressed {
                record,
                window,
                ratio,
                entry,
                state,
            } => (
                format!("window {window} + 1/{ratio}"),
                thousands(record),
                if state > 0 {
                    format!(
                        "B/token, + {} B/entry, + {} B/session compressor state",
                        thousands(entry),
                        thousands(state)
                    )
                } else {
                    format!("B/token, + {} B/entry", thousands(entry))
                },
            ),
        };
        kv.add_row(vec![
            Cell::new(format!("{} × {what}", l.layers)),
            Cell::new(value),
            Cell::new(unit),
        ]);
    }
    kv.add_row(vec![
        Cell::new("per token, per chip"),
        Cell::new(thousands(r.kv_bytes_per_token_per_chip)),
        Cell::new(format!("bytes ({} layers)", r.kv_layers_per_chip)),
    ]);
    kv.add_row(vec![
        Cell::new("per session, per chip"),
        Cell::new(format!("{:.3}", to_gib(r.kv_bytes_per_session_per_chip))),
        Cell::new(if r.blocks_per_session > 0 {
            format!("GiB ({} blocks)", thousands(r.blocks_per_session))
        } else {
            "GiB (pages rounded per layer)".to_string()
        }),
    ]);
    let accounting = r.kv_accounting.label();
    kv.add_row(vec![
        Cell::new("accounting"),
        Cell::new(accounting),
        Cell::new(format!("block {} tokens", r.block_size)),
    ]);
    kv.add_row(vec![
        Cell::new("capacity per chip"),
        Cell::new(thousands(r.kv_capacity_tokens_per_chip)),
        Cell::new("tokens"),
    ]);
    kv.add_row(vec![
        Cell::new("max concurrency"),
        Cell::new(format!("{:.2}", r.max_concurrency)),
        Cell::new("× per replica (vLLM)"),
    ]);
    kv.add_row(vec![
        Cell::new("sessions per replica"),
        Cell::new(thousands(r.sessions_per_replica)),
        Cell::new("whole sessions"),
    ]);
    kv.add_row(vec![
        Cell::new("sessions per deployment"),
        Cell::new(thousands(r.sessions_per_deployment)),
        Cell::new(format!(
            "on {} chip{}",
            r.chips,
            if r.chips == 1 { "" } else { "s" }
        )),
    ]);
    kv.add_row(vec![
        Cell::new("sessions per chip"),
        Cell::new(if r.sessions_per_chip.fract() == 0.0 {
            thousands(r.sessions_per_chip as u64)
        } else {
            format!("{:.4}", r.sessions_per_chip)
        }),
        Cell::new("deployment ÷ chips"),
    ]);
    out += &kv.to_string();
    out.push('\n');
    if let Some(sp) = &r.speed {
        let mut t = table(["speed (roofline)", "value", "unit"]);
        let opt = |v: Option<f64>, digits: usize| {
            v.map_or("—".to_string(), |x| format!("{x:.digits$}"))
        };
        let rows: Vec<(String, String, String)> = vec![
            (
                "decode FLOPs per token".into(),
                format!("{:.1}", sp.flops_per_token_decode / 1e9),
                format!("GFLOP at {} tokens", thousands(r.context)),
            ),
            (
                "prefill FLOPs".into(),
                format!("{:.1}", sp.flops_prefill / 1e12),
                format!("TFLOP for {} tokens", thousands(sp.prompt_tokens)),
            ),
            (
                "batch".into(),
                thousands(sp.batch),
                format!("sessions (memory allows {})", thousands(sp.max_batch)),
            ),
            (
                "bytes per decode step".into(),
                format!("{:.2}", sp.bytes_per_decode_step / 1e9),
                "GB per chip".into(),
            ),
            (
                "compute time per step".into(),
                format!("{:.2}", sp.compute_seconds_per_step * 1e3),
                "ms".into(),
            ),
            (
                "memory time per step".into(),
                format!("{:.2}", sp.memory_seconds_per_step * 1e3),
                "ms".into(),
            ),
            (
                "decode step".into(),
                format!("{:.2}", sp.decode_step_seconds * 1e3),
                format!("ms, {}-bound", sp.decode_bound),
            ),
            (
                "time to first token".into(),
                format!("{:.3}", sp.ttft_seconds),
                "s".into(),
            ),
            (
                "tokens/s per session".into(),
                format!("{:.1}", sp.tokens_per_second_per_session),
                "".into(),
            ),
            (
                "tokens/s per chip".into(),
                format!("{:.0}", sp.tokens_per_second_per_chip),
                format!(
                    "{:.0} at the memory's max batch",
                    sp.tokens_per_second_per_chip_at_max_batch
                ),
            ),
            (
                "MFU / MBU".into(),
                format!("{:.0}% / {:.0}%", sp.mfu * 100.0, sp.mbu * 100.0),
                "of peak".into(),
            ),
            (
                "cost".into(),
                opt(sp.usd_per_million_tokens, 3),
                match sp.usd_per_hour_per_chip {
                    Some(p) => format!("USD per million tokens at {p} USD/h"),
                    None => "USD per million tokens (give --price-per-hour)".into(),
                },
            ),
            (
                "energy".into(),
                opt(sp.joules_per_token, 3),
                "J per token at TDP".into(),
            ),
        ];
        for (a, b, c) in rows {
            t.add_row(vec![Cell::new(a), Cell::new(b), Cell::new(c)]);
        }
        out += &t.to_string();
        out.push('\n');
        out += &format!("matmul formats: {}\n", sp.compute_formats.join("; "));
    }
    for w in &r.warnings {
        out += &format!("warning: {w}\n");
    }
    out
}
