//! The `kvsim` binary end to end: output values, listings, and errors with exit code 2.
use assert_cmd::Command;
use serde_json::Value;
use std::io::Write;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn eval_json(args: &[&str]) -> Value {
    let mut all = vec!["eval", "--format", "json"];
    all.extend_from_slice(args);
    let out = kvsim(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

// The issue's acceptance line: 70,272 KV bytes per token in BF16 and 671,026,404,352 parameters.
#[test]
fn deepseek_v3_on_h100_json() {
    let j = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "h100-sxm",
        "--context",
        "32k",
        "--kv",
        "bf16",
    ]);
    assert_eq!(j["kv_bytes_per_token_per_chip"], 70_272);
    assert_eq!(j["params_total"], 671_026_404_352u64);
    assert_eq!(j["context"], 32_768);
    // 2,048 blocks of 16 tokens · 70,272 B.
    assert_eq!(j["kv_bytes_per_session_per_chip"], 2048u64 * 16 * 70_272);
    for key in [
        "params_active",
        "weights_bytes_per_chip",
        "kv_budget_bytes_per_chip",
        "kv_capacity_tokens_per_chip",
        "max_concurrency",
        "sessions_per_chip",
    ] {
        assert!(j.get(key).is_some(), "missing {key}");
    }
    // 671B parameters in FP8 do not fit one 80 GB chip.
    assert_eq!(j["sessions_per_chip"].as_f64(), Some(0.0));
}

// The worked example of issue #3 through the CLI: 475,952 tokens, 58.10× (see tests/kv.rs).
#[test]
fn measured_overheads_replace_estimates() {
    let j = eval_json(&[
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--context",
        "8192",
        "--gpu-memory-utilization",
        "0.95",
        "--weights-gib",
        "14.99",
        "--activation-gib",
        "1.89",
        "--non-torch-gib",
        "0.25",
        "--engine-version",
        "0.19",
    ]);
    assert_eq!(j["kv_capacity_tokens_per_chip"], 475_952);
    assert_eq!(j["sessions_per_chip"].as_f64(), Some(58.0));
    assert_eq!(j["weights_measured"], true);
}

#[test]
fn precision_flags_change_weights_and_kv() {
    let base = eval_json(&[
        "--model",
        "llama-3.1-70b",
        "--chip",
        "h200",
        "--context",
        "32k",
    ]);
    let fp8 = eval_json(&[
        "--model",
        "llama-3.1-70b",
        "--chip",
        "h200",
        "--context",
        "32k",
        "--weights",
        "fp8",
        "--kv",
        "fp8",
    ]);
    assert_eq!(base["kv_bytes_per_token_per_chip"], 327_680);
    assert_eq!(fp8["kv_bytes_per_token_per_chip"], 163_840);
    assert!(fp8["weights_bytes_per_chip"].as_u64() < base["weights_bytes_per_chip"].as_u64());
    assert!(fp8["sessions_per_chip"].as_f64() > base["sessions_per_chip"].as_f64());
    let bf16 = eval_json(&[
        "--model",
        "qwen3-30b-a3b",
        "--chip",
        "h200",
        "--context",
        "8k",
    ]);
    let mixed = eval_json(&[
        "--model",
        "qwen3-30b-a3b",
        "--chip",
        "h200",
        "--context",
        "8k",
        "--precision",
        "routed_experts=mxfp4",
    ]);
    assert_eq!(mixed["precision"]["routed_experts"], "mxfp4");
    assert_eq!(mixed["precision"]["attention"], "bf16");
    // 48 layers · 128 experts · (1536·2048 + 2048·768) elements: BF16 2 B each → MXFP4 0.5 B + 1 B per 32.
    let experts: u64 = 48 * 128 * (1536 * 2048 + 2048 * 768);
    let saved = bf16["weights_bytes_per_chip"].as_u64().unwrap()
        - mixed["weights_bytes_per_chip"].as_u64().unwrap();
    // On the H200 (Hopper, vLLM 0.33's Triton MXFP4 kernel) the swizzled scales sit beside the
    // loaded ones (rows padded to 256, columns to 2: nothing to pad here), and the values need
    // no padding (multiples of 64): 48 · 128 · (1536 · 64 + 2048 · 24) B more.
    let swizzled_scales: u64 = 48 * 128 * (1536 * 64 + 2048 * 24);
    assert_eq!(
        saved,
        2 * experts - (experts / 2 + experts / 32) - swizzled_scales
    );
}

#[test]
fn table_csv_markdown_views() {
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--context",
        "32k",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("GiB") && text.contains("sessions per chip") && text.contains("weights"),
        "{text}"
    );
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--format",
        "csv",
    ]);
    let csv = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].split(',').any(|h| h == "sessions_per_chip"));
    assert_eq!(lines[0].split(',').count(), lines[1].split(',').count());
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--format",
        "markdown",
    ]);
    let md = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = md
        .lines()
        .find(|l| l.starts_with("| kv_bytes_per_token_per_chip "))
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    assert_eq!(row, vec!["", "kv_bytes_per_token_per_chip", "131072", ""]);
}

#[test]
fn listings_cover_the_catalog() {
    let out = kvsim(&["models", "--format", "json"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.len(), 47);
    let ds = rows.iter().find(|r| r["id"] == "deepseek-v3").unwrap();
    assert_eq!(ds["params_total"], 671_026_404_352u64);
    let v4 = rows.iter().find(|r| r["id"] == "deepseek-v4-pro").unwrap();
    assert_eq!(v4["status"], "ok");
    // Unverified reference values stop a model with a precise message, never a guess.
    let minimax = rows.iter().find(|r| r["id"] == "minimax-text-01").unwrap();
    assert!(
        minimax["status"]
            .as_str()
            .unwrap()
            .contains("num_key_value_heads: found null (unverified)"),
        "{}",
        minimax["status"]
    );
    let ling = rows.iter().find(|r| r["id"] == "ling-mini-2.0").unwrap();
    assert_eq!(ling["status"], "ok");
    let out = kvsim(&["chips", "--format", "json"]);
    let chips: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(chips.len(), 36);
    let h100 = chips.iter().find(|r| r["id"] == "h100-sxm").unwrap();
    assert_eq!(h100["memory_gib"], 79.19);
    // Device totals from public start-up logs (configs/chips/*.toml `memory_source`).
    for (id, gib) in [
        ("ascend-910b", 60.96),
        ("ascend-910b4", 29.49),
        ("ascend-310p", 42.67),
        ("l4", 22.03),
        ("a100-40gb", 39.49),
        ("rtx-3090", 23.58),
        ("gaudi2", 94.62),
    ] {
        let c = chips.iter().find(|r| r["id"] == id).unwrap();
        assert_eq!(c["memory_gib"], gib, "{id}");
        assert_eq!(c["memory_source"], "DeviceReported", "{id}");
    }
}

fn temp_file(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kvsim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p.to_string_lossy().into_owned()
}

const LLAMA: &str = r#"{"architectures":["LlamaForCausalLM"],"hidden_size":4096,"num_hidden_layers":32,
"num_attention_heads":32,"num_key_value_heads":8,"intermediate_size":14336,"vocab_size":128256}"#;

fn with(key: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(LLAMA).unwrap();
    if value == "DELETE" {
        v.as_object_mut().unwrap().remove(key);
    } else {
        v[key] = serde_json::from_str(value).unwrap();
    }
    v.to_string()
}

// Bad input: exit code 2, one clear line naming the file and the field, never a panic.
#[test]
fn malformed_inputs_exit_2_and_name_the_field() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        // Absent, LlamaConfig's default would apply; an explicit null is unknown and refused.
        (
            vec![with("num_attention_heads", "null")],
            "num_attention_heads",
        ),
        (
            vec![with("num_attention_heads", "0")],
            "num_attention_heads",
        ),
        (
            vec![with("num_key_value_heads", "5")],
            "num_key_value_heads",
        ),
        (vec![with("hidden_size", "-4096")], "hidden_size"),
        (
            vec![with("num_hidden_layers", "1000000000000000")],
            "num_hidden_layers",
        ),
        (vec![with("vocab_size", "\"lots\"")], "vocab_size"),
        (vec![with("intermediate_size", "1.5")], "intermediate_size"),
        // An unknown class without the standard decoder fields.
        (
            vec![{
                let mut v: Value =
                    serde_json::from_str(&with("architectures", "[\"FooForCausalLM\"]")).unwrap();
                v.as_object_mut().unwrap().remove("intermediate_size");
                v.to_string()
            }],
            "FooForCausalLM",
        ),
        (vec![with("architectures", "DELETE")], "architectures"),
        (vec!["{not json".to_string()], "line 1"),
    ];
    for (i, (files, needle)) in cases.iter().enumerate() {
        let path = temp_file(&format!("bad{i}.json"), &files[0]);
        let out = kvsim(&["eval", "--model", &path, "--chip", "h100-sxm"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "case {i}: {err}");
        assert!(
            err.contains(needle) && err.contains(&path),
            "case {i}: {err}"
        );
        assert!(!err.contains("panicked"), "case {i}: {err}");
    }
    let chip = temp_file(
        "bad.toml",
        "id = 'x'\nname = 'X'\nvendor = 'V'\nmemory_gb = 0\n",
    );
    let out = kvsim(&["eval", "--model", "llama-3.1-8b", "--chip", &chip]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("memory_gb"));
    for (args, needle) in [
        (
            vec!["--model", "no-such-model", "--chip", "h100"],
            "no-such-model",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--chip", "no-such-chip"],
            "no-such-chip",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--chip",
                "h100",
                "--context",
                "0",
            ],
            "--context",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--chip", "h100", "--kv", "fp5"],
            "--kv",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--chip",
                "h100",
                "--weights",
                "int3",
            ],
            "--weights",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--chip",
                "h100",
                "--gpu-memory-utilization",
                "1.5",
            ],
            "gpu_memory_utilization",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--chip",
                "h100",
                "--weights-gib",
                "NaN",
            ],
            "--weights-gib",
        ),
        (
            vec![
                "--model",
                "llama-3.1-8b",
                "--chip",
                "h100",
                "--kv",
                "fp8-ds-mla",
            ],
            "fp8-ds-mla",
        ),
        (
            vec!["--model", "llama-3.1-8b", "--chip", "mlu590"],
            "--total-memory-gib",
        ),
        (
            vec!["--model", "/nonexistent/x.json", "--chip", "h100"],
            "/nonexistent/x.json",
        ),
    ] {
        let mut all = vec!["eval"];
        all.extend(args);
        let out = kvsim(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(needle), "{all:?}: {err}");
    }
}

#[test]
fn deployment_flags() {
    let j = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "h200",
        "--context",
        "32k",
        "--tp",
        "8",
    ]);
    assert_eq!(j["chips"], 8);
    assert_eq!(j["kv_bytes_per_token_per_chip"], 70_272);
    assert!(j["sessions_per_deployment"].as_u64().unwrap() > 0);
    for key in [
        "activation_bytes_per_chip",
        "non_torch_bytes_per_chip",
        "cuda_graph_bytes_per_chip",
    ] {
        assert!(j[key].as_u64().unwrap() > 0, "{key}");
    }
    let dpa = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "h200",
        "--context",
        "32k",
        "--tp",
        "8",
        "--dp",
        "8",
        "--dp-attention",
        "--ep",
        "8",
        "--engine",
        "sglang",
    ]);
    assert_eq!(dpa["chips"], 8);
    // SGLang 0.5.23 on an H200 of 143,165.44 MiB with 8 attention-DP ranks: reserved = 512 +
    // 12,288 + 1,024 + (2 + 8·3 + 8·1.5)·512 + 1,536 (MLA prefill graphs) = 34,816 MiB →
    // (143,165.44 − 34,816) / 143,165.44 = 0.7568 → 0.757.
    assert_eq!(dpa["memory_fraction"], 0.757);
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--engine",
        "tgi",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--engine"));
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--tp",
        "3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("num_attention_heads"));
}

#[test]
fn speed_keys_and_table() {
    let j = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "h100-sxm",
        "--context",
        "32k",
        "--tp",
        "8",
        "--pp",
        "2",
        "--batch",
        "64",
        "--price-per-hour",
        "2.5",
    ]);
    for key in [
        "flops_per_token_decode",
        "flops_prefill",
        "bytes_per_decode_step",
        "decode_step_seconds",
        "decode_bound",
        "ttft_seconds",
        "tokens_per_second_per_chip",
        "usd_per_million_tokens",
        "joules_per_token",
    ] {
        assert!(!j[key].is_null(), "{key}");
    }
    assert_eq!(j["decode_bound"], "memory");
    // Without a price the cost is null; the 950PR publishes no TDP, so energy is null too.
    let j = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "ascend-950pr",
        "--context",
        "32k",
        "--tp",
        "8",
        "--batch",
        "64",
    ]);
    assert!(j["usd_per_million_tokens"].is_null());
    assert!(j["joules_per_token"].is_null());
    let out = kvsim(&[
        "eval",
        "--model",
        "deepseek-v3",
        "--chip",
        "ascend-950pr",
        "--context",
        "32k",
        "--tp",
        "8",
        "--batch",
        "64",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("tokens/s per chip") && text.contains("memory-bound"),
        "{text}"
    );
    let out = kvsim(&[
        "eval",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100",
        "--batch",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn what_if_flags_and_fit() {
    let j = eval_json(&[
        "--model",
        "deepseek-v3",
        "--chip",
        "h200",
        "--tp",
        "8",
        "--set",
        "kv_lora_rank=256",
    ]);
    assert_eq!(j["model"], "deepseek-v3 [set kv_lora_rank=256]");
    assert_eq!(j["kv_bytes_per_token_per_chip"], 61 * (256 + 64) * 2);
    let j = eval_json(&[
        "--model",
        "llama-3.1-70b",
        "--chip",
        "h200",
        "--tp",
        "2",
        "--moe",
        "64:4",
    ]);
    assert!(
        j["ffn"]
            .as_str()
            .unwrap()
            .contains("MoE 64 experts top-4 × 7168"),
        "{}",
        j["ffn"]
    );
    for (args, needle) in [
        (
            vec!["--set", "num_key_value_heads=5"],
            "num_key_value_heads",
        ),
        (vec!["--set", "novalue"], "--set"),
        (vec!["--attention", "gqa:3"], "--attention"),
        (vec!["--attention", "bogus"], "--attention"),
        (vec!["--moe", "8:16"], "--moe"),
    ] {
        let mut all = vec!["eval", "--model", "llama-3.1-8b", "--chip", "h100"];
        all.extend(args);
        let out = kvsim(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(needle),
            "{all:?}"
        );
    }
    let out = kvsim(&[
        "fit",
        "chips",
        "--model",
        "kimi-k2",
        "--chip",
        "h100-sxm,b200",
        "--sessions",
        "1000",
        "--context",
        "32k",
        "--fit-format",
        "json",
    ]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["layout"]["chips"], 128);
    assert_eq!(rows[1]["layout"]["chips"], 32);
    let out = kvsim(&[
        "fit",
        "cheapest",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm,h200",
        "--sessions",
        "100",
        "--prices",
        "h100-sxm=2,h200=3",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("cheapest:") && text.contains("runner-up:"),
        "{text}"
    );
}

// `kvsim check` on a corpus log (vllm issue 10517: Llama-3.1-8B on an RTX 3090, 1952 blocks of
// 16 = 31,232 tokens, "1.56x" for 20,000 tokens): the log's own figures reproduce the tokens; a
// missing file or a log cut off before the KV cache is an input error naming the file.
#[test]
fn check_a_startup_log() {
    let log = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/logs/vllm-0.6-v0-rtx3090-llama31-8b-20k.log"
    );
    let out = kvsim(&[
        "check",
        log,
        "--model",
        "llama-3.1-8b",
        "--chip",
        "rtx-4090",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("| KV tokens"), "{text}");
    assert!(text.contains("31,232"), "{text}");
    assert!(text.contains(": reproduced"), "{text}");
    let out = kvsim(&["check", "/nonexistent/startup.log"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/startup.log"));
    let mut cut = tempfile_in_target("cut.log");
    writeln!(
        cut.1,
        "INFO 04-24 16:33:00 [gpu_model_runner.py:1316] Model loading took 14.9889 GiB and 3.6 seconds"
    )
    .unwrap();
    let out = kvsim(&[
        "check",
        &cut.0,
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.log") && err.contains("cut off"), "{err}");
}

fn tempfile_in_target(name: &str) -> (String, std::fs::File) {
    let dir = std::env::temp_dir().join(format!("kvsim-cli-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let f = std::fs::File::create(&path).unwrap();
    (path.to_string_lossy().into_owned(), f)
}

// An unknown class with the standard decoder fields evaluates as a generic decoder and says so;
// --treat-as picks a row instead.
#[test]
fn unknown_class_is_generic_with_a_warning() {
    let path = temp_file("foo.json", &with("architectures", "[\"FooForCausalLM\"]"));
    let out = kvsim(&["eval", "--model", &path, "--chip", "h100-sxm"]);
    assert_eq!(out.status.code(), Some(0));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("generic Llama-like decoder"), "{all}");
    let out = kvsim(&[
        "eval",
        "--model",
        &path,
        "--chip",
        "h100-sxm",
        "--treat-as",
        "Phi3ForCausalLM",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let all = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        all.contains("Phi3ForCausalLM") && !all.contains("generic"),
        "{all}"
    );
    let out = kvsim(&[
        "eval",
        "--model",
        &path,
        "--chip",
        "h100-sxm",
        "--treat-as",
        "Nope",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--treat-as"));
}

// `--other-processes`: the JSON carries the held bytes, vLLM V1 refusing to start says so with
// the utilization that starts, SGLang's capacity falls, and a bad value names the flag (eval and
// check alike).
#[test]
fn other_processes_from_the_command_line() {
    let args = [
        "--model",
        "llama-3.1-8b",
        "--chip",
        "rtx-4090",
        "--context",
        "8k",
    ];
    let mut refused = args.to_vec();
    refused.extend(["--other-processes", "2"]);
    let j = eval_json(&refused);
    assert_eq!(j["other_processes_bytes_per_chip"], 2u64 << 30);
    assert_eq!(j["sessions_per_deployment"], 0);
    let out = kvsim(&[&["eval"][..], &refused].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refuses to start") && err.contains("0.89 or less starts"),
        "{err}"
    );
    let bare = eval_json(&args);
    assert!(bare.get("other_processes_bytes_per_chip").is_none());
    let mut sg = args.to_vec();
    sg.extend(["--engine", "sglang"]);
    let free = eval_json(&sg);
    sg.extend(["--other-processes", "1"]);
    let held = eval_json(&sg);
    assert!(
        held["kv_capacity_tokens_per_chip"].as_u64() < free["kv_capacity_tokens_per_chip"].as_u64()
    );
    for cmd in [
        vec![
            "eval",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--other-processes=-1",
        ],
        vec![
            "check",
            "tests/data/logs/vllm-0.19.0-v1-h100-llama31-8b-tp1.log",
            "--other-processes=-1",
        ],
    ] {
        let out = kvsim(&cmd);
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--other-processes") && err.contains("non-negative"),
            "{err}"
        );
    }
}
