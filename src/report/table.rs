//! The human view of one evaluation: a memory breakdown readable at a glance (GiB, unit named).

use crate::chip::MemorySource;
use crate::memory::Report;
use crate::units::to_gib;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

fn gib(b: u64) -> String {
    format!("{:.2}", to_gib(b))
}

/// Thousands separators for integers.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
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
        "{} on {}: context {} tokens, KV {} in blocks of {}\n{}: {}; {}\nparameters: {} total, {} active per token{}\n\n",
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
        if r.mtp_included { " (MTP layers included)" } else { "" },
    );

    let mut mem = table(["memory per chip", "GiB", "note"]);
    let src = match r.memory_source {
        MemorySource::DeviceReported => "device-reported total",
        MemorySource::SpecSheet => "spec-sheet total",
        MemorySource::User => "given (--total-memory-gib)",
    };
    let usable = (r.total_memory_bytes_per_chip as f64 * r.gpu_memory_utilization).floor() as u64;
    mem.add_row(vec![
        Cell::new("device memory"),
        Cell::new(gib(r.total_memory_bytes_per_chip)),
        Cell::new(src),
    ]);
    mem.add_row(vec![
        Cell::new("usable"),
        Cell::new(gib(usable)),
        Cell::new(format!(
            "gpu_memory_utilization {}",
            r.gpu_memory_utilization
        )),
    ]);
    let p = &r.precision;
    let w = &r.weights_by_group;
    let note = if r.weights_measured {
        "given (--weights-gib)".to_string()
    } else {
        "scales included".to_string()
    };
    mem.add_row(vec![
        Cell::new("− weights"),
        Cell::new(gib(r.weights_bytes_per_chip)),
        Cell::new(note),
    ]);
    for (name, bytes, fmt) in [
        ("attention", w.attention, p.attention.to_string()),
        ("dense FFN", w.dense_ffn, p.dense_ffn.to_string()),
        (
            "routed experts",
            w.routed_experts,
            p.routed_experts.to_string(),
        ),
        (
            "shared experts",
            w.shared_experts,
            p.shared_experts.to_string(),
        ),
        ("router", w.router, p.router.to_string()),
        (
            "embeddings + lm_head",
            w.embeddings,
            p.embeddings.to_string(),
        ),
        ("norms, biases", w.vectors, p.vectors.to_string()),
    ] {
        if bytes > 0 && !r.weights_measured {
            mem.add_row(vec![
                Cell::new(format!("    {name}")),
                Cell::new(gib(bytes)),
                Cell::new(fmt),
            ]);
        }
    }
    mem.add_row(vec![
        Cell::new("− activation peak"),
        Cell::new(gib(r.activation_bytes_per_chip)),
        Cell::new("profiling pass"),
    ]);
    mem.add_row(vec![
        Cell::new("− non-torch"),
        Cell::new(gib(r.non_torch_bytes_per_chip)),
        Cell::new("CUDA context, buffers"),
    ]);
    mem.add_row(vec![
        Cell::new("= KV-cache budget"),
        Cell::new(gib(r.kv_budget_bytes_per_chip)),
        Cell::new(""),
    ]);
    mem.add_row(vec![
        Cell::new("(CUDA graphs)"),
        Cell::new(gib(r.cuda_graph_bytes_per_chip)),
        Cell::new("inside the unused headroom"),
    ]);
    out += &mem.to_string();
    out.push('\n');

    let mut kv = table(["KV cache", "value", "unit"]);
    kv.add_row(vec![
        Cell::new("per token"),
        Cell::new(thousands(r.kv_bytes_per_token_per_chip)),
        Cell::new(format!("bytes ({} layers)", r.kv_layers)),
    ]);
    kv.add_row(vec![
        Cell::new("per session"),
        Cell::new(format!("{:.3}", to_gib(r.kv_bytes_per_session_per_chip))),
        Cell::new(format!("GiB ({} blocks)", thousands(r.blocks_per_session))),
    ]);
    kv.add_row(vec![
        Cell::new("capacity"),
        Cell::new(thousands(r.kv_capacity_tokens_per_chip)),
        Cell::new("tokens"),
    ]);
    kv.add_row(vec![
        Cell::new("max concurrency"),
        Cell::new(format!("{:.2}", r.max_concurrency)),
        Cell::new("× (vLLM)"),
    ]);
    kv.add_row(vec![
        Cell::new("sessions per chip"),
        Cell::new(thousands(r.sessions_per_chip)),
        Cell::new("whole sessions"),
    ]);
    out += &kv.to_string();
    out.push('\n');
    for w in &r.warnings {
        out += &format!("warning: {w}\n");
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(671026404352), "671,026,404,352");
    }
}
