//! One knob table for every front end: the bugs it removed stay removed.
use assert_cmd::Command;
use serde_json::Value;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn stdout(args: &[&str]) -> String {
    let out = kvsim(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn error(args: &[&str]) -> String {
    let out = kvsim(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

// compare used to drop --set and print two identical columns. Llama-3.1-8B at 16 layers keeps half
// the KV of 32 layers: 16 × 4096 B = 65,536 B per token against 131,072 B.
#[test]
fn compare_honours_set() {
    let j: Value = serde_json::from_str(&stdout(&[
        "compare",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--set",
        "num_hidden_layers=16,32",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(
        j["columns"],
        serde_json::json!(["num_hidden_layers=16", "num_hidden_layers=32"])
    );
    let kv = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "KV per token per chip")
        .unwrap();
    assert_eq!(kv["values"], serde_json::json!([65536.0, 131072.0]));
}

// --dense both used to give one point; Qwen3-30B-A3B's dense form has a 6144-wide FFN (top-8 × 768).
#[test]
fn dense_both_gives_both_points() {
    let csv = stdout(&[
        "sweep",
        "--model",
        "qwen3-30b-a3b",
        "--chip",
        "h100-sxm",
        "--dense",
        "both",
        "--format",
        "jsonl",
    ]);
    let ffn: Vec<String> = csv
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["ffn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ffn,
        vec!["MoE 128 experts top-8 × 768", "dense SwiGLU 6144"]
    );
}

#[test]
fn unknown_booleans_are_errors() {
    for args in [
        &[
            "sweep",
            "--model",
            "qwen3-30b-a3b",
            "--chip",
            "h100-sxm",
            "--dense",
            "ture",
        ][..],
        &[
            "eval",
            "--model",
            "qwen3-30b-a3b",
            "--chip",
            "h100-sxm",
            "--dense",
            "ture",
        ],
    ] {
        let e = error(args);
        assert!(
            e.contains("--dense: found `ture`, expected true or false"),
            "{e}"
        );
    }
}

// A typo, and a field Llama's importer ignores, are errors naming the nearest field it reads.
#[test]
fn set_must_hit_a_field_the_importer_reads() {
    let e = error(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--set",
        "num_hidden_layer=16",
    ]);
    assert!(
        e.contains("`num_hidden_layer`") && e.contains("nearest it reads is `num_hidden_layers`"),
        "{e}"
    );
    // In a sweep the point carries the error (another model of the grid may read the field).
    let row: Value = serde_json::from_str(&stdout(&[
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--set",
        "sliding_window=4096",
        "--format",
        "jsonl",
    ]))
    .unwrap();
    let e = row["error"].as_str().unwrap();
    assert!(
        e.contains("`sliding_window`") && e.contains("LlamaForCausalLM"),
        "{e}"
    );
}

// Gemma-3 nests its language model: a plain field name reaches text_config. A 512-token window
// shrinks what its 52 sliding layers keep.
#[test]
fn set_reaches_text_config() {
    let eval = |extra: &[&str]| -> Value {
        let mut a = vec![
            "eval",
            "--model",
            "gemma-3-27b",
            "--chip",
            "h200",
            "--context",
            "128k",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        serde_json::from_str(&stdout(&a)).unwrap()
    };
    let base = eval(&[]);
    let small = eval(&["--set", "sliding_window=512"]);
    assert_eq!(
        small["model"],
        "gemma-3-27b [set text_config.sliding_window=512]"
    );
    assert!(
        small["kv_bytes_per_session_per_chip"].as_u64().unwrap()
            < base["kv_bytes_per_session_per_chip"].as_u64().unwrap()
    );
}

// Every eval flag is also a sweep axis: two memory sizes give two budgets 32 GiB apart.
#[test]
fn every_eval_flag_is_an_axis() {
    let rows: Vec<Value> = stdout(&[
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--total-memory-gib",
        "48,80",
        "--engine",
        "ideal",
        "--format",
        "jsonl",
    ])
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    let budget = |r: &Value| r["kv_budget_bytes_per_chip"].as_u64().unwrap();
    assert_eq!(budget(&rows[1]) - budget(&rows[0]), 32 << 30);
}

// fit used to ignore --format (it took --fit-format).
#[test]
fn fit_takes_format() {
    let j: Value = serde_json::from_str(&stdout(&[
        "fit",
        "context",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--sessions",
        "4",
        "--format",
        "json",
    ]))
    .unwrap();
    assert!(j["longest_context"].as_u64().unwrap() > 100_000);
}

// Scenario files take every knob, `set` included (it used to be refused).
#[test]
fn scenario_file_takes_set() {
    let dir = std::env::temp_dir().join(format!("kvsim-knobs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        "model = \"llama-3.1-8b\"\nchip = \"h100-sxm\"\nset = \"num_hidden_layers=16,32\"\n",
    )
    .unwrap();
    let out = stdout(&[
        "sweep",
        "--scenario",
        path.to_str().unwrap(),
        "--format",
        "jsonl",
    ]);
    let kv: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kv_bytes_per_token_per_chip"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(kv, vec![65536, 131072]);
    std::fs::remove_dir_all(&dir).unwrap();
}
