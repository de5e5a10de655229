//! Sweeps, comparisons, plots and claims through the binary.
use assert_cmd::Command;
use serde_json::Value;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

/// Splits one CSV line, honouring double-quoted cells.
fn cells(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn tmp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kvsim-sweep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_string_lossy().into_owned()
}

// One row per grid point, in grid order: model slowest, context fastest.
#[test]
fn csv_rows_in_grid_order() {
    let out = kvsim(&[
        "sweep",
        "--model",
        "llama-3.1-8b,qwen3-8b",
        "--chip",
        "h100,h200",
        "--context",
        "4k..32k:x2",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 2 * 2 * 4);
    let header = cells(lines[0]);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let (m, c, x) = (col("model"), col("chip"), col("context"));
    let mut seen = Vec::new();
    for l in &lines[1..] {
        let row = cells(l);
        assert_eq!(row.len(), header.len(), "{l}");
        seen.push((row[m].clone(), row[c].clone(), row[x].clone()));
    }
    let mut expected = Vec::new();
    for model in ["llama-3.1-8b", "qwen3-8b"] {
        for chip in ["h100-sxm", "h200"] {
            for ctx in [4096, 8192, 16384, 32768] {
                expected.push((model.to_string(), chip.to_string(), ctx.to_string()));
            }
        }
    }
    assert_eq!(seen, expected);
    for name in [
        "error",
        "sessions_per_chip",
        "tokens_per_second_per_chip",
        "kv_bytes_per_session_per_chip",
    ] {
        assert!(header.iter().any(|h| h == name), "{name}");
    }
}

// A point that cannot be evaluated is reported in its row and the sweep goes on.
#[test]
fn jsonl_with_error_rows_to_a_file() {
    let path = tmp("sweep.jsonl");
    let out = kvsim(&[
        "sweep",
        "--model",
        "minimax-text-01,llama-3.1-8b",
        "--chip",
        "h100,mlu590",
        "--context",
        "8k",
        "--format",
        "jsonl",
        "--output",
        &path,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 4);
    assert!(rows[0]["error"]
        .as_str()
        .unwrap()
        .contains("num_key_value_heads"));
    assert!(rows[3]["error"].as_str().unwrap().contains("memory_gb"));
    assert!(rows[2]["error"].is_null());
    assert_eq!(rows[2]["kv_bytes_per_token_per_chip"], 131_072);
    assert!(String::from_utf8_lossy(&out.stderr).contains("4 points"));
    // Nothing but the output is left behind (other tests write beside it at the same time: look
    // only at this output's temporary files).
    let dir = std::path::Path::new(&path).parent().unwrap();
    assert!(std::fs::read_dir(dir).unwrap().all(|e| {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        !(name.contains("sweep.jsonl") && name.contains(".tmp"))
    }));
}

#[test]
fn scenario_file_and_markdown() {
    let path = tmp("s.toml");
    std::fs::write(&path, "model = [\"llama-3.1-8b\"]\nchip = \"h100-sxm,ascend-910c\"\ncontext = \"8k..16k:x2\"\ntp = [1, 2]\n").unwrap();
    let out = kvsim(&["sweep", "--scenario", &path, "--format", "markdown"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 2 + 2 * 2 * 2);
    std::fs::write(&path, "modle = \"x\"\n").unwrap();
    let out = kvsim(&["sweep", "--scenario", &path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("modle"));
}

#[test]
fn compare_has_ratios_against_the_first_column() {
    let out = kvsim(&[
        "compare",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200,ascend-910c",
        "--context",
        "32k",
        "--tp",
        "8",
        "--format",
        "json",
    ]);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["columns"], serde_json::json!(["h200", "ascend-910c"]));
    let out = kvsim(&[
        "compare",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200,ascend-910c",
        "--context",
        "32k",
        "--tp",
        "8",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("sessions per deployment") && text.contains("(×"),
        "{text}"
    );
}

fn png_size(path: &str) -> (u32, u32) {
    let b = std::fs::read(path).unwrap();
    assert_eq!(&b[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&b[12..16], b"IHDR");
    (
        u32::from_be_bytes(b[16..20].try_into().unwrap()),
        u32::from_be_bytes(b[20..24].try_into().unwrap()),
    )
}

#[test]
fn plots_are_valid_files_of_the_requested_size() {
    let png = tmp("sessions.png");
    let out = kvsim(&[
        "plot",
        "sessions",
        "--model",
        "deepseek-v3",
        "--chip",
        "h100-sxm,h200,ascend-910c,ascend-950pr",
        "--tp",
        "8",
        "--pp",
        "2",
        "--context",
        "4k..1M:x4",
        "--output",
        &png,
        "--width",
        "800",
        "--height",
        "500",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(png_size(&png), (800, 500));
    let svg = tmp("memory.svg");
    let out = kvsim(&[
        "plot",
        "memory",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200,b200",
        "--tp",
        "8",
        "--context",
        "32k",
        "--output",
        &svg,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.starts_with("<svg")
            && text.contains("width=\"1200\"")
            && text.contains("height=\"700\"")
    );
    assert!(text.contains("KV cache in use") && text.contains("GiB"));
    let out = kvsim(&[
        "plot",
        "kv",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--output",
        &tmp("x.gif"),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

// The article's 93.3% from the two models' configs (DeepSeek-V2 cache at ~6 bits, 67B in BF16).
#[test]
fn claims_reproduce_the_mla_figure() {
    let c = kvsim::claims::mla_claims().unwrap();
    assert!((c[0].kvsim - 93.3).abs() < 0.5, "{}", c[0].kvsim);
    assert!((c[1].kvsim - 82.2).abs() < 0.05);
    let out = kvsim(&["claims", "--format", "json"]);
    let all: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for id in [
        "mla-93",
        "mla-10x-sessions",
        "v4-kv-at-1m",
        "v4-flops-at-1m",
        "fp4-4-8x",
        "moe-fraction",
        "950pr-vs-h100-speed",
        "gb300-3.6x",
    ] {
        assert!(all.iter().any(|c| c["id"] == id), "{id}");
    }
    assert!(all
        .iter()
        .all(|c| !c["verdict"].as_str().unwrap().is_empty()));
}

// `--columns` writes the named columns in the order given, error rows included; an unknown name
// stops the sweep with the valid names.
#[test]
fn columns_choose_what_is_written() {
    let out = kvsim(&[
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--context",
        "8k",
        "--tp",
        "1,3",
        "--columns",
        "tp,model,sessions_per_deployment,error",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "tp,model,sessions_per_deployment,error");
    let row = cells(lines[1]);
    assert_eq!(row[..2], ["1", "llama-3.1-8b"]);
    assert!(row[2].parse::<u64>().unwrap() > 10, "{}", lines[1]);
    assert_eq!(row[3], "");
    let bad = cells(lines[2]);
    assert_eq!(bad[0], "3");
    assert!(bad[3].contains("tp"), "{}", lines[2]);

    let out = kvsim(&[
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--columns",
        "context,sessions",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--columns")
            && err.contains("`sessions`")
            && err.contains("sessions_per_chip"),
        "{err}"
    );
}

// compare in CSV gives numbers a reader can compute with, not "131,072 (×2.00)": Llama-3.1-8B at
// 16 and 32 layers keeps 16 × 4096 and 32 × 4096 B per token.
#[test]
fn compare_csv_has_plain_numbers() {
    let out = kvsim(&[
        "compare",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--set",
        "num_hidden_layers=16,32",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let row = text
        .lines()
        .find(|l| l.starts_with("KV per token per chip"))
        .unwrap();
    assert_eq!(cells(row)[1..], ["65536", "131072"]);
    assert!(
        !text.contains("(×2.00)") && !text.contains("131,072"),
        "{text}"
    );
}
