//! A table of malformed inputs: each must exit with code 2, name the field (or flag) at fault, and
//! never panic.
use assert_cmd::Command;
use serde_json::{json, Value};

const LLAMA: &str = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"num_hidden_layers":32,
"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"vocab_size":128256}"#;
const DEEPSEEK: &str = r#"{"architectures":["DeepseekV3ForCausalLM"],"hidden_size":7168,"num_hidden_layers":61,
"num_attention_heads":128,"num_key_value_heads":128,"intermediate_size":18432,"vocab_size":129280,
"q_lora_rank":1536,"kv_lora_rank":512,"qk_nope_head_dim":128,"qk_rope_head_dim":64,"v_head_dim":128,
"n_routed_experts":256,"num_experts_per_tok":8,"n_shared_experts":1,"moe_intermediate_size":2048,"first_k_dense_replace":3}"#;
const CHIP: &str = "id = 'x'\nname = 'X'\nvendor = 'V'\nmemory_gb = 80\nmemory_bandwidth_tbps = 3\n[dense_tflops]\nbf16 = 900\n";

fn edit(base: &str, key: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(base).unwrap();
    let obj = v.as_object_mut().unwrap();
    if value == json!("DELETE") {
        obj.remove(key);
    } else {
        obj.insert(key.to_string(), value);
    }
    v.to_string()
}

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kvsim-malformed-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn check(args: &[String], needle: &str, case: &str) {
    let out = Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{case}: {args:?}\n{err}");
    assert!(!err.contains("panicked"), "{case}: {err}");
    assert!(
        err.contains(needle),
        "{case}: expected `{needle}` in: {err}"
    );
    assert!(err.lines().count() <= 2, "{case}: {err}");
}

#[test]
fn malformed_model_configs() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            // Absent, LlamaConfig's default applies (as in transformers); null means unknown.
            "null heads",
            edit(LLAMA, "num_attention_heads", Value::Null),
            "num_attention_heads",
        ),
        (
            "zero heads",
            edit(LLAMA, "num_attention_heads", json!(0)),
            "num_attention_heads",
        ),
        (
            "negative hidden",
            edit(LLAMA, "hidden_size", json!(-4096)),
            "hidden_size",
        ),
        (
            "fractional ffn",
            edit(LLAMA, "intermediate_size", json!(1.5)),
            "intermediate_size",
        ),
        (
            "string vocab",
            edit(LLAMA, "vocab_size", json!("lots")),
            "vocab_size",
        ),
        (
            "null vocab",
            edit(LLAMA, "vocab_size", Value::Null),
            "vocab_size",
        ),
        (
            "absurd layers",
            edit(LLAMA, "num_hidden_layers", json!(1_000_000_000_000_000u64)),
            "num_hidden_layers",
        ),
        (
            "huge hidden",
            edit(LLAMA, "hidden_size", json!(1u64 << 40)),
            "hidden_size",
        ),
        (
            "kv not dividing",
            edit(LLAMA, "num_key_value_heads", json!(5)),
            "num_key_value_heads",
        ),
        (
            "kv null",
            edit(LLAMA, "num_key_value_heads", Value::Null),
            "num_key_value_heads",
        ),
        (
            "kv as list",
            edit(LLAMA, "num_key_value_heads", json!([8])),
            "num_key_value_heads",
        ),
        (
            "bool as number",
            edit(LLAMA, "tie_word_embeddings", json!(1)),
            "tie_word_embeddings",
        ),
        (
            "head_dim zero",
            edit(LLAMA, "head_dim", json!(0)),
            "head_dim",
        ),
        (
            "hidden not divisible",
            edit(
                &edit(LLAMA, "hidden_size", json!(4001)),
                "num_attention_heads",
                json!(32),
            ),
            "head_dim",
        ),
        (
            "unknown class",
            // Without the standard decoder fields it is not read as a generic decoder.
            edit(
                &edit(LLAMA, "architectures", json!(["FooForCausalLM"])),
                "intermediate_size",
                json!("DELETE"),
            ),
            "FooForCausalLM",
        ),
        (
            "no class",
            edit(LLAMA, "architectures", json!("DELETE")),
            "architectures",
        ),
        (
            "class not a list",
            edit(LLAMA, "architectures", json!("LlamaForCausalLM")),
            "architectures",
        ),
        (
            "empty class list",
            edit(LLAMA, "architectures", json!([])),
            "architectures",
        ),
        (
            "class not a string",
            edit(LLAMA, "architectures", json!([7])),
            "architectures[0]",
        ),
        (
            "bad layer type",
            edit(
                &edit(LLAMA, "layer_types", json!(vec!["full_attention"; 31])),
                "sliding_window",
                json!(128),
            ),
            "layer_types",
        ),
        (
            "window missing",
            edit(LLAMA, "layer_types", json!(vec!["sliding_attention"; 32])),
            "sliding_window",
        ),
        (
            "unknown quant",
            edit(
                LLAMA,
                "quantization_config",
                json!({"quant_method": "magic"}),
            ),
            "quant_method",
        ),
        (
            "bad block",
            edit(
                LLAMA,
                "quantization_config",
                json!({"quant_method": "fp8", "weight_block_size": [64, 64]}),
            ),
            "weight_block_size",
        ),
        (
            "bad dtype",
            edit(LLAMA, "torch_dtype", json!("float8")),
            "torch_dtype",
        ),
        (
            "text_config wrong type",
            edit(
                &edit(
                    LLAMA,
                    "architectures",
                    json!(["Gemma3ForConditionalGeneration"]),
                ),
                "text_config",
                json!(3),
            ),
            "text_config",
        ),
        (
            "mla missing rank",
            edit(DEEPSEEK, "kv_lora_rank", Value::Null),
            "kv_lora_rank",
        ),
        (
            "mla zero rope",
            edit(DEEPSEEK, "qk_rope_head_dim", json!(0)),
            "qk_rope_head_dim",
        ),
        (
            "top-k above experts",
            edit(DEEPSEEK, "num_experts_per_tok", json!(300)),
            "num_experts_per_tok",
        ),
        (
            "experts missing width",
            edit(DEEPSEEK, "moe_intermediate_size", Value::Null),
            "moe_intermediate_size",
        ),
        (
            "negative shared",
            edit(DEEPSEEK, "n_shared_experts", json!(-1)),
            "n_shared_experts",
        ),
        (
            "duplicate key",
            LLAMA.replacen(
                "\"vocab_size\":128256",
                "\"vocab_size\":128256,\"vocab_size\":32000",
                1,
            ),
            "duplicate key `vocab_size`",
        ),
        (
            "truncated json",
            LLAMA[..60].to_string(),
            "line 1, column 60",
        ),
        ("not an object", "[1, 2, 3]".to_string(), "top level"),
        ("trailing garbage", format!("{LLAMA} x"), "trailing"),
    ];
    assert!(cases.len() >= 30);
    for (i, (case, text, needle)) in cases.iter().enumerate() {
        let path = dir().join(format!("m{i}.json"));
        std::fs::write(&path, text).unwrap();
        let p = path.to_string_lossy().into_owned();
        check(
            &[
                "eval".into(),
                "--model".into(),
                p.clone(),
                "--chip".into(),
                "h100".into(),
            ],
            needle,
            case,
        );
        assert!(String::from_utf8_lossy(
            &Command::cargo_bin("kvsim")
                .unwrap()
                .args(["eval", "--model", &p, "--chip", "h100"])
                .output()
                .unwrap()
                .stderr
        )
        .contains(&p));
    }
}

#[test]
fn malformed_chips_flags_and_deployments() {
    let chip_cases: Vec<(&str, String, &str)> = vec![
        (
            "zero memory",
            CHIP.replace("memory_gb = 80", "memory_gb = 0"),
            "memory_gb",
        ),
        (
            "nan memory",
            CHIP.replace("memory_gb = 80", "memory_gb = nan"),
            "memory_gb",
        ),
        (
            "inf bandwidth",
            CHIP.replace("memory_bandwidth_tbps = 3", "memory_bandwidth_tbps = inf"),
            "memory_bandwidth_tbps",
        ),
        (
            "string memory",
            CHIP.replace("memory_gb = 80", "memory_gb = 'lots'"),
            "memory_gb",
        ),
        (
            "unknown field",
            CHIP.replace("memory_gb", "memroy_gb"),
            "memroy_gb",
        ),
        ("syntax error", CHIP.replace("= 80", "== 80"), "line 4"),
        (
            "duplicate key",
            format!("{CHIP}[dense_tflops]\nbf16 = 1\n"),
            "dense_tflops",
        ),
        (
            "negative tflops",
            CHIP.replace("bf16 = 900", "bf16 = -900"),
            "dense_tflops.bf16",
        ),
        (
            "zero block",
            format!("default_block_size = 0\n{CHIP}"),
            "default_block_size",
        ),
    ];
    for (i, (case, text, needle)) in chip_cases.iter().enumerate() {
        let path = dir().join(format!("c{i}.toml"));
        std::fs::write(&path, text).unwrap();
        check(
            &[
                "eval".into(),
                "--model".into(),
                "llama-3.1-8b".into(),
                "--chip".into(),
                path.to_string_lossy().into_owned(),
            ],
            needle,
            case,
        );
    }
    let flag_cases: &[(&[&str], &str)] = &[
        (&["--model", "nope"], "nope"),
        (&["--chip", "nope"], "nope"),
        (&["--context", "0"], "--context"),
        (&["--context=-5"], "--context"),
        (&["--context", "12q"], "--context"),
        (&["--context", "99999999999999999999"], "--context"),
        (&["--kv", "fp5"], "--kv"),
        (&["--weights", "int3"], "--weights"),
        (&["--precision", "foo=fp8"], "foo"),
        (&["--precision", "attention"], "--precision"),
        (&["--gpu-memory-utilization", "0"], "gpu_memory_utilization"),
        (
            &["--gpu-memory-utilization", "NaN"],
            "--gpu-memory-utilization: found `NaN`, expected a finite number",
        ),
        (&["--weights-gib=-1"], "--weights-gib"),
        (&["--total-memory-gib", "inf"], "--total-memory-gib"),
        (&["--block-size", "0"], "block_size"),
        (&["--tp", "3"], "num_attention_heads"),
        (&["--tp", "0"], "tp"),
        (&["--pp", "33"], "number of layers"),
        (
            &["--dp", "3", "--dp-attention", "--tp", "8"],
            "divisor of tp",
        ),
        (&["--engine", "tgi"], "--engine"),
        (
            &["--engine", "sglang", "--engine-version", "0.4"],
            "--engine-version",
        ),
        (&["--engine-version", "banana"], "--engine-version"),
        (&["--batch", "0"], "--batch"),
        (&["--prompt", "0"], "--prompt"),
        (&["--price-per-hour=-2"], "--price-per-hour"),
        (&["--compute-efficiency", "2"], "compute_efficiency"),
        (&["--swa-full-tokens-ratio", "0"], "swa_full_tokens_ratio"),
        (&["--kv", "fp8-ds-mla"], "fp8-ds-mla"),
        (
            &["--precision", "state=fp8", "--model", "qwen3-next-80b-a3b"],
            "state",
        ),
        (&["--set", "hidden_size=-1"], "hidden_size"),
        (&["--set", "=3"], "--set"),
        (&["--attention", "gqa:5"], "--attention"),
        (&["--moe", "4:8"], "--moe"),
        (&["--chip", "mlu590"], "memory_gb"),
        (&["--model", "minimax-text-01"], "num_key_value_heads"),
    ];
    for (args, needle) in flag_cases {
        let mut all: Vec<String> = vec!["eval".into()];
        if !args.contains(&"--model") {
            all.extend(["--model".into(), "llama-3.1-8b".into()]);
        }
        if !args.contains(&"--chip") {
            all.extend(["--chip".into(), "h100".into()]);
        }
        all.extend(args.iter().map(|s| s.to_string()));
        check(&all, needle, needle);
    }
    let ep = [
        "eval",
        "--model",
        "mixtral-8x7b",
        "--chip",
        "h200",
        "--tp",
        "8",
        "--dp",
        "2",
        "--ep",
        "16",
    ]
    .map(String::from);
    check(&ep, "number of experts", "ep above experts");
    let sweep = [
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--context",
        "64k..8k",
    ]
    .map(String::from);
    check(&sweep, "--context", "reversed range");
    let fit = [
        "fit",
        "chips",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--sessions",
        "0",
    ]
    .map(String::from);
    check(&fit, "--sessions", "zero sessions");
}

// ---- issue 16: never damage what is not ours, never answer wrong in silence ----

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Stdio;

fn kvsim() -> std::process::Command {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("kvsim"))
}

fn small_sweep(output: &str) -> Vec<String> {
    [
        "sweep",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--context",
        "1k,2k",
        "--output",
        output,
    ]
    .map(String::from)
    .to_vec()
}

fn fresh_dir(name: &str) -> std::path::PathBuf {
    let d = dir().join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn temps_in(d: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".kvsim-"))
        .collect()
}

#[test]
fn output_to_a_device_writes_it_in_place() {
    let out = kvsim().args(small_sweep("/dev/null")).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Still the null device (a rename would have made it a regular file, as root).
    let m = std::fs::metadata("/dev/null").unwrap();
    assert!(m.file_type().is_char_device());
}

#[test]
fn output_keeps_fifos_symlinks_and_permissions() {
    let d = fresh_dir("out");
    // A FIFO: written through, still a FIFO.
    let fifo = d.join("f");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
    };
    let out = kvsim()
        .args(small_sweep(fifo.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = reader.join().unwrap();
    assert_eq!(text.lines().count(), 3, "{text}"); // header + 2 points
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());

    // A 0600 file keeps 0600; a symlink stays a symlink and its target gets the rows.
    let file = d.join("private.csv");
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = d.join("link.csv");
    std::os::unix::fs::symlink("private.csv", &link).unwrap();
    let out = kvsim()
        .args(small_sweep(link.to_str().unwrap()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let m = std::fs::metadata(&file).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with("model,"));
    assert!(temps_in(&d).is_empty());

    // A read-only file is refused and left as it was.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read_to_string(&file).unwrap();
    check(
        &small_sweep(file.to_str().unwrap()),
        "cannot write: the file is read-only",
        "read-only output",
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
}

#[test]
fn output_never_overwrites_an_input() {
    let d = fresh_dir("inputs");
    let scenario = d.join("s.toml");
    let text = "model = \"llama-3.1-8b\"\nchip = \"h100\"\ncontext = [\"1k\", \"2k\"]\n";
    std::fs::write(&scenario, text).unwrap();
    let s = scenario.to_str().unwrap();
    check(
        &["sweep", "--scenario", s, "--output", s].map(String::from),
        "a path other than the input",
        "output = scenario",
    );
    assert_eq!(std::fs::read_to_string(&scenario).unwrap(), text);
    let model = d.join("m.json");
    std::fs::write(&model, LLAMA).unwrap();
    let m = model.to_str().unwrap();
    check(
        &["sweep", "--model", m, "--chip", "h100", "--output", m].map(String::from),
        "a path other than the input",
        "output = model",
    );
    assert_eq!(std::fs::read_to_string(&model).unwrap(), LLAMA);
}

#[test]
fn sigterm_removes_the_temporary_file() {
    let d = fresh_dir("signal");
    let target = d.join("big.csv");
    let mut child = kvsim()
        .args([
            "sweep",
            "--model",
            "all",
            "--chip",
            "all",
            "--context",
            "1k..64k:+1k",
            "--max-points",
            "100000000",
            "--output",
            target.to_str().unwrap(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the temporary file to appear, then stop the sweep.
    let start = std::time::Instant::now();
    while temps_in(&d).is_empty() && start.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!temps_in(&d).is_empty(), "no temporary file appeared");
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
    assert!(temps_in(&d).is_empty(), "{:?}", temps_in(&d));
    assert!(!target.exists());
}

#[test]
fn full_disk_and_closed_pipes() {
    // A full device: an error naming standard output, not a panic (exit 101).
    let out = kvsim()
        .arg("models")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("standard output: cannot write"), "{err}");
    // A reader that goes away (`| head -1`): quiet, exit 141 (128 + SIGPIPE).
    let mut child = kvsim()
        .args([
            "sweep",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100",
            "--context",
            "1..20000:+1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("error") && !err.contains("panicked"), "{err}");
}

#[test]
fn unbounded_inputs_are_refused() {
    let d = fresh_dir("bounds");
    let fast = |args: &[&str], needle: &str, case: &str| {
        let start = std::time::Instant::now();
        check(
            &args.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            needle,
            case,
        );
        assert!(start.elapsed().as_secs() < 30, "{case} took too long");
    };
    let base = ["sweep", "--model", "llama-3.1-8b", "--chip", "h100"];
    fast(
        &[&base[..], &["--context", "1..10000000000:+1"]].concat(),
        "this one has 10000000000",
        "10^10-value range",
    );
    fast(
        &[
            "sweep",
            "--model",
            "all",
            "--chip",
            "all",
            "--context",
            "1k..1M:+1",
            "--kv",
            "bf16,fp8",
        ],
        "--max-points",
        "billion-point grid",
    );
    fast(
        &[&base[..], &["--context", "1k,2k", "--max-points", "1"]].concat(),
        "at most 1 points",
        "--max-points 1",
    );
    // A FIFO as --model must not block; /dev/zero and a 65 MiB file are not read.
    let fifo = d.join("model.json");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let eval = |m: &str| ["eval", "--model", m, "--chip", "h100"].map(String::from);
    fast(
        &eval(fifo.to_str().unwrap())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "not a regular file",
        "FIFO model",
    );
    fast(
        &eval("/dev/zero")
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "not a regular file",
        "/dev/zero model",
    );
    let big = d.join("big.json");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(65 << 20)
        .unwrap();
    fast(
        &eval(big.to_str().unwrap())
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "larger than 64 MiB",
        "65 MiB model",
    );
    // fit --sessions 2^64 - 1 overflows cleanly.
    fast(
        &[
            "fit",
            "chips",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100",
            "--sessions",
            "18446744073709551615",
            "--context",
            "1k",
        ],
        "--sessions 18446744073709551615",
        "huge --sessions",
    );
}

#[test]
fn huge_thread_counts_are_capped() {
    let out = kvsim()
        .args(small_sweep("/dev/null"))
        .env("RAYON_NUM_THREADS", "100000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("RAYON_NUM_THREADS=100000"), "{err}");
}

#[test]
fn strict_flags_of_issue_16() {
    let eval = |extra: &[&str]| {
        let mut v: Vec<String> = ["eval", "--model", "llama-3.1-8b", "--chip", "h100"]
            .map(String::from)
            .to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    for v in ["99", "2.0", "0.100", "0.19.x"] {
        check(&eval(&["--engine-version", v]), "--engine-version", v);
    }
    check(
        &eval(&["--precision", "kv=fp8,kv=bf16"]),
        "group `kv` twice",
        "repeated --precision group",
    );
    check(
        &eval(&["--max-num-seqs", "0"]),
        "--max-num-seqs",
        "zero seqs",
    );
    check(
        &eval(&["--total-memory-gib", "0"]),
        "--total-memory-gib",
        "zero memory",
    );
    check(&eval(&["--context", "1e400"]), "--context", "1e400 context");
    check(
        &eval(&["--gpu-memory-utilization", "1e400"]),
        "--gpu-memory-utilization",
        "1e400 fraction",
    );
    // A chip without memory names the user's file, not a catalog path that does not exist.
    let d = fresh_dir("strict");
    let chip = d.join("nomem.toml");
    std::fs::write(&chip, "id = 'nomem'\nname = 'N'\nvendor = 'V'\n").unwrap();
    let c = chip.to_str().unwrap();
    check(
        &["eval", "--model", "llama-3.1-8b", "--chip", c].map(String::from),
        &format!("{c}: memory_gb"),
        "chip without memory",
    );
    // Scenario files: unknown keys and bad booleans.
    let s = d.join("s.toml");
    std::fs::write(&s, "model = 'llama-3.1-8b'\nchip = 'h100'\ncontex = 5\n").unwrap();
    check(
        &["sweep", "--scenario", s.to_str().unwrap()].map(String::from),
        "contex",
        "unknown scenario key",
    );
    std::fs::write(&s, "model = 'llama-3.1-8b'\nchip = 'h100'\nmtp = 'maybe'\n").unwrap();
    check(
        &["sweep", "--scenario", s.to_str().unwrap()].map(String::from),
        "true or false",
        "bad boolean in a scenario",
    );
}

#[test]
fn control_characters_are_escaped() {
    let d = fresh_dir("escape");
    let chip = d.join("c.toml");
    std::fs::write(&chip, CHIP.replace("name = 'X'", "name = \"X\\u001b[2J\"")).unwrap();
    let out = kvsim()
        .args([
            "eval",
            "--model",
            "llama-3.1-8b",
            "--chip",
            chip.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{1b}') && text.contains("X\\u{1b}[2J"),
        "{text}"
    );
    let model = d.join("m.json");
    std::fs::write(
        &model,
        edit(LLAMA, "architectures", json!(["Llama\u{1b}]0;pwned\u{7}"])),
    )
    .unwrap();
    let out = kvsim()
        .args(["eval", "--model", model.to_str().unwrap(), "--chip", "h100"])
        .output()
        .unwrap();
    // An unknown class evaluates as a generic decoder, naming the class in a warning.
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !all.contains('\u{1b}') && all.contains("\\u{1b}]0;pwned\\u{7}"),
        "{all}"
    );
}

// sessions per chip is not floored: deepseek-llm-67b on 8 × H200 at 10k under vLLM 0.19 holds 228
// sessions per deployment, 228 / 8 = 28.5 per chip (floored: 28; 3 sessions on 16 chips was 0).
// At 8k it held 287 (35.875 per chip) until the H200's device total became the logged 139.81 GiB
// (288, a whole 36 per chip); 230 at 10k until 0.19's non-torch memory followed its init snapshot
// (FlashInfer's all-reduce workspace, 1.5 GiB per rank), 229 until the NVLS buffers PyNccl
// connects at TP8 for the profiling batch's 8,192 × 8,192 × 2 B all-reduce (256 MiB per rank).
#[test]
fn sessions_per_chip_is_a_fraction() {
    let out = kvsim()
        .args([
            "eval",
            "--model",
            "deepseek-llm-67b",
            "--chip",
            "h200",
            "--context",
            "10k",
            "--tp",
            "8",
            "--engine-version",
            "0.19",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["sessions_per_deployment"], 228);
    assert_eq!(j["sessions_per_chip"].as_f64(), Some(28.5));
}

// A GPTQ 8-bit config reaches the report as 8-bit (the issue: it was counted as 4-bit).
#[test]
fn gptq_8bit_reaches_the_report() {
    let d = fresh_dir("gptq");
    let model = d.join("m.json");
    let cfg = edit(
        LLAMA,
        "quantization_config",
        json!({"bits": 8, "group_size": 128, "desc_act": true, "sym": true, "quant_method": "gptq"}),
    );
    std::fs::write(&model, cfg).unwrap();
    let out = kvsim()
        .args([
            "eval",
            "--model",
            model.to_str().unwrap(),
            "--chip",
            "h100",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["precision"]["dense_ffn"], "int8-g128-zp-gidx");
    let bad = edit(
        LLAMA,
        "quantization_config",
        json!({"bits": 8, "quant_method": "awq"}),
    );
    std::fs::write(&model, bad).unwrap();
    check(
        &["eval", "--model", model.to_str().unwrap(), "--chip", "h100"].map(String::from),
        "quantization_config.bits",
        "8-bit AWQ",
    );
}

// `1e400` in a config.json names its field (serde_json's message alone does not).
#[test]
fn out_of_range_numbers_name_their_field() {
    let d = fresh_dir("e400");
    let model = d.join("m.json");
    std::fs::write(
        &model,
        LLAMA.replace("\"hidden_size\":4096", "\"hidden_size\": 1e400"),
    )
    .unwrap();
    check(
        &["eval", "--model", model.to_str().unwrap(), "--chip", "h100"].map(String::from),
        "(the value of `hidden_size`)",
        "1e400 in a config",
    );
}
