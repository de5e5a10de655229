//! Golden outputs: `kvsim eval --format json` for every catalog model on four chips (each with its
//! own engine and deployment) at three contexts, and the README's catalog sweep CSV. A refactor must
//! leave these bytes as they are; a deliberate change re-blesses them with
//! `KVSIM_BLESS=1 cargo test --test golden` and lists the change in its commit.
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;

const CHIPS: [(&str, &[&str]); 4] = [
    ("h100-sxm", &[]),
    ("h200", &["--tp", "8"]),
    ("ascend-910c", &["--engine", "sglang", "--tp", "2"]),
    ("mi355x", &["--engine", "trtllm", "--kv", "fp8"]),
];
const CONTEXTS: [&str; 3] = ["8k", "128k", "1M"];

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args(args)
        .output()
        .expect("the kvsim binary runs")
}

fn blessing() -> bool {
    std::env::var_os("KVSIM_BLESS").is_some()
}

fn write_gz(name: &str, text: &str) {
    std::fs::create_dir_all(golden("")).unwrap();
    let mut e = GzEncoder::new(
        std::fs::File::create(golden(name)).unwrap(),
        flate2::Compression::best(),
    );
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap();
}

fn read_gz(name: &str) -> String {
    let f = std::fs::File::open(golden(name))
        .unwrap_or_else(|e| panic!("{name}: {e}; bless with KVSIM_BLESS=1"));
    let mut s = String::new();
    GzDecoder::new(f).read_to_string(&mut s).unwrap();
    s
}

/// Compares line by line so a failure names the first differing row.
fn check(name: &str, actual: &str) {
    if blessing() {
        write_gz(name, actual);
        return;
    }
    let expected = read_gz(name);
    for (i, (a, e)) in actual.lines().zip(expected.lines()).enumerate() {
        assert_eq!(a, e, "{name}: line {} differs", i + 1);
    }
    assert_eq!(
        actual.lines().count(),
        expected.lines().count(),
        "{name}: line count differs"
    );
    assert!(actual == expected, "{name}: bytes differ (line endings?)");
}

fn model_ids() -> Vec<String> {
    let out = kvsim(&["models", "--format", "json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn eval_json_of_the_catalog() {
    let mut lines = String::new();
    for model in model_ids() {
        for (chip, extra) in CHIPS {
            for ctx in CONTEXTS {
                let mut args = vec![
                    "eval",
                    "--model",
                    &model,
                    "--chip",
                    chip,
                    "--context",
                    ctx,
                    "--format",
                    "json",
                ];
                args.extend_from_slice(extra);
                let out = kvsim(&args);
                let record = json!({
                    "args": args.join(" "),
                    "exit": out.status.code(),
                    "stdout": String::from_utf8_lossy(&out.stdout),
                    "stderr": String::from_utf8_lossy(&out.stderr),
                });
                lines += &record.to_string();
                lines.push('\n');
            }
        }
    }
    check("eval.jsonl.gz", &lines);
}

#[test]
fn readme_catalog_sweep_csv() {
    let dir = std::env::temp_dir().join(format!("kvsim-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sweep.csv");
    let out = kvsim(&[
        "sweep",
        "--model",
        "all",
        "--chip",
        "all",
        "--context",
        "8k..1M:x2",
        "--output",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    check("sweep.csv.gz", &csv);
}

#[test]
fn listings_claims_and_compare() {
    let mut text = String::new();
    for args in [
        &["models", "--format", "json"][..],
        &["chips", "--format", "json"],
        &["claims"],
        &[
            "compare",
            "--model",
            "deepseek-v3",
            "--chip",
            "h100-sxm,ascend-910c,ascend-950pr,mi355x",
            "--context",
            "32k",
            "--tp",
            "8",
            "--format",
            "json",
        ],
        &[
            "fit",
            "chips",
            "--model",
            "kimi-k2-instruct",
            "--chip",
            "h100-sxm,h200,b200,ascend-910c",
            "--sessions",
            "1000",
            "--context",
            "32k",
        ],
    ] {
        let out = kvsim(args);
        text += &format!(
            "$ kvsim {}\nexit {:?}\n{}{}\n",
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    check("commands.txt.gz", &text);
}
