//! `kvsim calibrate` and `--profile` on public start-up logs (tests/data/logs/).
use kvsim::calibrate::{calibrate, LogInput};
use kvsim::check::CheckOptions;
use kvsim::engine::overhead::OverheadProfile;
use std::path::Path;

fn log(file: &str) -> LogInput {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(file);
    LogInput {
        file: file.to_string(),
        text: std::fs::read_to_string(p).unwrap(),
        options: CheckOptions {
            model: Some("llama-3.1-8b".into()),
            chip: Some("rtx-4090".into()),
            engine_version: Some("0.6.4".into()),
            ..CheckOptions::default()
        },
    }
}

// The two RTX 3090 logs of vllm#10517 (vLLM 0.6, TP1; calibrated as 0.6.4, whose one-line memory
// summary they print and whose budget reads torch's allocated peak, as the corpus checks them): non-torch 0.35 GiB in both, so the fit is
// 0.35 at TP1 with kvsim's default per-rank slope (one TP degree determines no slope); the
// activation peaks (peak torch − weights) 17.06 − 14.9888 = 2.0712 and 17.98 − 14.9888 = 2.9912
// GiB against kvsim's 20,000 / 29,000 × 57,344 × 2 B = 2.1362 / 3.0975 GiB: ratios 0.9696 and
// 0.9657, median 0.9676; no CUDA-graph figure, so kvsim's 0.5 GiB stays.
#[test]
fn fits_the_rtx3090_logs() {
    let c = calibrate(&[
        log("vllm-0.6-v0-rtx3090-llama31-8b-20k.log"),
        log("vllm-0.6-v0-rtx3090-llama31-8b-29k.log"),
    ])
    .unwrap();
    let p = c.profile;
    assert_eq!(p.non_torch_base_gib, 0.35);
    assert_eq!(p.non_torch_per_rank_gib, 0.125);
    assert!(
        (p.activation_scale - 0.9676).abs() < 0.0002,
        "{}",
        p.activation_scale
    );
    assert_eq!(p.cuda_graph_gib, 0.5);
    assert_eq!(p.logs, 2);
    assert_eq!(c.defaulted, vec!["CUDA-graph memory"]);
    // With the fitted overheads neither log's KV tokens move away, and both lie within 1.25%: what
    // is left is kvsim's weight count, 14.96 GiB against the logged 14.99 (0.03 GiB of a 2.89 GiB
    // cache). At 29k the two corrections cancel (+0.10 GiB non-torch, −0.10 GiB activation).
    for l in &c.logs {
        let (before, after) = (l.error_before.unwrap(), l.error_after.unwrap());
        assert!(
            after.abs() < 0.0125 && after.abs() <= before.abs(),
            "{}: {before} → {after}",
            l.file
        );
    }
}

#[test]
fn unusable_logs_are_skipped_or_refused() {
    let mut bad = log("vllm-0.6-v0-rtx3090-llama31-8b-20k.log");
    bad.text = "nothing a serving engine prints\n".into();
    bad.file = "bad.log".into();
    let c = calibrate(&[bad, log("vllm-0.6-v0-rtx3090-llama31-8b-29k.log")]).unwrap();
    assert_eq!(c.logs.len(), 1);
    assert_eq!(c.skipped.len(), 1);
    assert!(c.skipped[0].1.contains("bad.log"), "{:?}", c.skipped);
    let mut bad = log("vllm-0.6-v0-rtx3090-llama31-8b-20k.log");
    bad.text = String::new();
    assert!(calibrate(&[bad]).is_err());
}

// `--profile FILE` replaces the estimates: non-torch 0.35 + 0.9 × 3 = 3.05 GiB at TP4, the
// activation scaled, the CUDA graphs as given; measured `--non-torch-gib` still wins.
#[test]
fn profile_applies_to_eval() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    let p = OverheadProfile {
        non_torch_base_gib: 0.35,
        non_torch_per_rank_gib: 0.9,
        activation_scale: 2.0,
        cuda_graph_gib: 1.25,
        logs: 3,
    };
    std::fs::write(&path, p.to_toml("test")).unwrap();
    let eval = |extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "eval",
            "--model",
            "llama-3.1-70b",
            "--chip",
            "h100-sxm",
            "--tp",
            "4",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let base = eval(&[]);
    let with = eval(&["--profile", path.to_str().unwrap()]);
    let gib = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap() as f64 / (1u64 << 30) as f64;
    assert!((gib(&with, "non_torch_bytes_per_chip") - 3.05).abs() < 1e-6);
    assert!((gib(&with, "cuda_graph_bytes_per_chip") - 1.25).abs() < 1e-6);
    let ratio = with["activation_bytes_per_chip"].as_f64().unwrap()
        / base["activation_bytes_per_chip"].as_f64().unwrap();
    assert!((ratio - 2.0).abs() < 1e-6, "{ratio}");
    let measured = eval(&[
        "--profile",
        path.to_str().unwrap(),
        "--non-torch-gib",
        "0.5",
    ]);
    assert!((gib(&measured, "non_torch_bytes_per_chip") - 0.5).abs() < 1e-6);
    // A bad profile names the file and the field.
    std::fs::write(&path, "non_torch_base_gib = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .args([
            "eval",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--profile",
        ])
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("p.toml"), "{err}");
}
