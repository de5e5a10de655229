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
        (&["--model", "ling-mini-2.0"], "vocab_size"),
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
