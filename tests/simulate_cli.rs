//! `kvsim simulate` end to end: the JSON fields the issue names, and errors naming the line and
//! field of a malformed trace or workload (exit code 2, never a panic).
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

#[test]
fn json_carries_the_named_fields() {
    let out = kvsim(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--context",
        "16k",
        "--workload",
        "chat",
        "--rate",
        "5",
        "--requests",
        "300",
        "--seed",
        "3",
        "--ttft-slo",
        "1",
        "--tpot-slo",
        "0.05",
        "--series-interval",
        "5",
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in [
        "completed",
        "dropped",
        "mean_in_flight",
        "completion_rate_per_s",
        "mean_latency_s",
        "output_tokens_per_s",
        "goodput_per_s",
        "preemptions",
        "prefix_hit_rate",
        "peak_kv_fraction",
        "series",
    ] {
        assert!(j.get(k).is_some(), "{k}");
    }
    for k in ["ttft_s", "tpot_s", "e2e_s"] {
        for p in ["p50", "p90", "p99"] {
            assert!(j[k][p].as_f64().unwrap() > 0.0, "{k}.{p}");
        }
    }
    assert_eq!(
        j["completed"].as_u64().unwrap() + j["dropped"].as_u64().unwrap(),
        300
    );
    assert!(j["series"].as_array().unwrap().len() > 5);
}

#[test]
fn malformed_inputs_name_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("t.jsonl", "{\"timestamp\": 0, \"input_length\": 10, \"output_length\": 2}\n{\"timestamp\": 5, \"input_length\": \"many\", \"output_length\": 2}\n", "--trace", &["line 2", "input_length"][..]),
        ("t.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0,12x,1\n", "--trace", &["line 3", "ContextTokens"][..]),
        ("w.toml", "prompt = { kind = \"fixed\", value = 10 }\noutput = { kind = \"gaussian\", mean = 5 }\n[arrival]\nkind = \"poisson\"\nrate = 1\n", "--workload", &["w.toml", "line 2", "gaussian"][..]),
        ("w2.toml", "prompt = { kind = \"uniform\", min = 10, max = 2 }\noutput = { kind = \"fixed\", value = 5 }\n[arrival]\nkind = \"poisson\"\nrate = 1\n", "--workload", &["w2.toml", "prompt.max"][..]),
    ];
    for (name, text, flag, want) in cases {
        let p = dir.path().join(name);
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = kvsim(&[
            "simulate",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--context",
            "8k",
            flag,
            p.to_str().unwrap(),
            "--requests",
            "10",
        ]);
        assert_eq!(out.status.code(), Some(2), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{err}");
        for w in want {
            assert!(err.contains(w), "{name}: {w} not in {err}");
        }
    }
    let out = kvsim(&[
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--workload",
        "chat",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--rate"));
}

// The new deployments from the command line: offload, speculative decoding and xPyD carry their
// JSON objects; --plot draws the series to an SVG; bad values name their flag.
#[test]
fn offload_spec_disagg_and_plot_from_the_command_line() {
    let dir = std::env::temp_dir().join(format!("kvsim-sim-plot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg = dir.join("timeline.svg");
    let svg_s = svg.to_string_lossy().to_string();
    let base = [
        "simulate",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--context",
        "16k",
        "--workload",
        "chat",
        "--rate",
        "5",
        "--requests",
        "200",
        "--format",
        "json",
    ];
    let mut args = base.to_vec();
    args.extend([
        "--offload-gib",
        "8",
        "--spec",
        "eagle",
        "--spec-tokens",
        "2",
        "--acceptance",
        "0.6",
        "--disagg",
        "1p1d",
        "--plot",
        &svg_s,
    ]);
    let out = kvsim(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["disagg"]["decode_replicas"].as_u64(), Some(1));
    assert_eq!(j["spec"]["tokens"].as_u64(), Some(2));
    // (1 − 0.6³)/0.4 = 1.96
    assert!((j["spec"]["expected_tokens_per_step"].as_f64().unwrap() - 1.96).abs() < 1e-12);
    assert!(j["offload"]["bytes_in"].as_f64().is_some());
    assert!(j["series"].as_array().unwrap().len() > 10);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("KV in use") && text.contains("waiting"));
    for (flag, value, field) in [
        ("--disagg", "2x3", "--disagg"),
        ("--plot", "timeline.txt", "--plot"),
        ("--offload-gib", "0", "--offload-gib"),
    ] {
        let mut args = base.to_vec();
        args.extend([flag, value]);
        let out = kvsim(&args);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(field), "{flag}: {err}");
    }
    // --spec without --acceptance.
    let mut args = base.to_vec();
    args.extend(["--spec", "mtp"]);
    let out = kvsim(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--acceptance"));
    std::fs::remove_dir_all(&dir).unwrap();
}
