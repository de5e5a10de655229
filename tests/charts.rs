//! `kvsim plot` end to end: titles name what every line shares and what tells them apart, the
//! metric and y scale choices, and their errors.
use assert_cmd::Command;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

/// Draws an SVG with `args` and returns its text.
fn svg(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chart.svg");
    let mut all = vec!["plot"];
    all.extend_from_slice(args);
    all.extend(["-o", path.to_str().unwrap()]);
    let out = kvsim(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(&path).unwrap()
}

/// The chart's title: the first text element.
fn title(svg: &str) -> String {
    let start = svg.find("<text").unwrap();
    let body = &svg[start..];
    let open = body.find('>').unwrap() + 1;
    let close = body.find("</text>").unwrap();
    body[open..close].trim().to_string()
}

// The example: lines for two chips and two KV formats. The title used to say
// "h100-sxm … KV bf16" over all four lines; now it names only what they share.
#[test]
fn title_names_what_varies() {
    let s = svg(&[
        "sessions",
        "--model",
        "deepseek-v3",
        "--chip",
        "h100-sxm,ascend-950pr",
        "--kv",
        "bf16,fp8",
        "--tp",
        "8",
        "--pp",
        "2",
        "--context",
        "4k..64k:x4",
    ]);
    assert_eq!(
        title(&s),
        "Concurrent sessions vs context: deepseek-v3, TP8 PP2, weights fp8-block128, vllm 0.33 \
         — lines by chip, KV format"
    );
    for label in [
        "h100-sxm / bf16",
        "h100-sxm / fp8",
        "ascend-950pr / bf16",
        "ascend-950pr / fp8",
    ] {
        assert!(s.contains(label), "{label}");
    }
    let m = svg(&[
        "memory",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200,b200",
        "--tp",
        "8",
        "--context",
        "32k",
    ]);
    assert_eq!(
        title(&m),
        "Memory per chip at 32,768 tokens: deepseek-v3, TP8 PP1, weights fp8-block128, KV bf16, \
         vllm 0.33 — bars by chip"
    );
}

#[test]
fn metrics_and_log_scale() {
    let s = svg(&[
        "sessions",
        "--metric",
        "usd-per-mtok",
        "--model",
        "llama-3.1-70b",
        "--chip",
        "h100-sxm,h200",
        "--price-per-hour",
        "2.5",
        "--tp",
        "4",
        "--context",
        "8k,32k",
        "--y-scale",
        "log",
    ]);
    assert!(title(&s).starts_with("USD per million tokens vs context: llama-3.1-70b, TP4 PP1"));
    assert!(title(&s).contains("USD 2.5/chip-hour") && title(&s).ends_with("lines by chip"));
    assert!(s.contains("USD per million decoded tokens (log scale)"));
    let t = svg(&[
        "sessions",
        "--metric",
        "tokens-per-second",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "--context",
        "8k,32k",
    ]);
    assert!(t.contains("decode tokens/s per chip"));
    // No price anywhere: said so, nothing drawn.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.png");
    let out = kvsim(&[
        "plot",
        "sessions",
        "--metric",
        "usd-per-mtok",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "-o",
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("usd-per-mtok") && err.contains("--price-per-hour"),
        "{err}"
    );
    assert!(!p.exists());
    // A metric or scale on a chart that is not over context is refused.
    let out = kvsim(&[
        "plot",
        "memory",
        "--y-scale",
        "log",
        "--model",
        "llama-3.1-8b",
        "--chip",
        "h100-sxm",
        "-o",
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--y-scale"));
}
