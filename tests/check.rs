//! `kvsim check` over the corpus of public start-up logs (tests/data/logs/, index.toml): every
//! logged figure parsed as stated, the KV tokens reproduced from the log's own overheads where
//! the index says so, and the error distribution of kvsim's own estimates printed.

use kvsim::check::{check, error_summary, parse, CheckOptions, Figure, LogEngine, Logged};
use std::path::Path;

const GIB: f64 = (1u64 << 30) as f64;

fn index() -> Vec<toml::Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs");
    let text = std::fs::read_to_string(dir.join("index.toml")).unwrap();
    let v: toml::Value = toml::from_str(&text).unwrap();
    v["log"].as_array().unwrap().clone()
}

fn read_log(file: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(file);
    std::fs::read_to_string(p).unwrap()
}

/// The options `kvsim check` gets for an indexed log: the catalog model (or the served model's
/// config.json, `kvsim_config`, under tests/data/logs/) and chip, the engine
/// release kvsim models nearest the log's, the TP the source states, and the memory fraction
/// when the source states it outside the kept lines, an EAGLE head the run loaded, and the memory
/// other processes held (`check_other_processes`: the Windows host under WSL2). None for a log
/// with neither model nor config.
fn options(e: &toml::Value) -> Option<CheckOptions> {
    let model = match (e.get("kvsim_model"), e.get("kvsim_config")) {
        (Some(m), _) => m.as_str().unwrap().to_string(),
        (None, Some(c)) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/logs")
            .join(c.as_str().unwrap())
            .to_string_lossy()
            .into_owned(),
        (None, None) => return None,
    };
    Some(CheckOptions {
        model: Some(model),
        chip: Some(e["chip"].as_str().unwrap().to_string()),
        engine_version: Some(e["kvsim_version"].as_str().unwrap().to_string()),
        max_model_len: e
            .get("max_model_len_override")
            .and_then(|v| v.as_integer())
            .map(|v| v as u64),
        tp: Some(e["tp"].as_integer().unwrap() as u64),
        memory_fraction: e.get("check_memory_fraction").and_then(|v| v.as_float()),
        block_size: None,
        eagle: e
            .get("check_eagle")
            .and_then(|v| v.as_bool())
            .unwrap_or(false),
        other_processes_gib: e.get("check_other_processes").and_then(|v| v.as_float()),
    })
}

/// The indexed logs `kvsim check` rebuilds (a catalog model or the served model's config.json
/// fits them), with their options.
fn checked() -> Vec<(toml::Value, CheckOptions)> {
    index()
        .into_iter()
        .filter_map(|e| options(&e).map(|o| (e, o)))
        .collect()
}

fn number(v: &toml::Value) -> f64 {
    v.as_float()
        .or_else(|| v.as_integer().map(|i| i as f64))
        .unwrap()
}

/// The parsed figure the index names.
fn parsed(l: &Logged, key: &str) -> Option<f64> {
    let f = |x: Option<Figure<f64>>| x.map(|f| f.value);
    let u = |x: Option<Figure<u64>>| x.map(|f| f.value as f64);
    match key {
        "total_gib" => f(l.total_gib),
        "weights_gib" => f(l.weights_gib),
        "peak_torch_gib" => f(l.peak_torch_gib),
        "activation_gib" => f(l.activation_gib),
        "non_torch_gib" => f(l.non_torch_gib),
        "cuda_graph_gib" => f(l.cuda_graph_gib),
        "kv_gib" => f(l.kv_gib),
        "kv_tokens" => u(l.kv_tokens),
        "gpu_blocks" => u(l.gpu_blocks),
        "max_model_len" => u(l.max_model_len),
        "max_concurrency" => f(l.max_concurrency),
        "memory_fraction" => f(l.memory_fraction),
        "avail_before_weights_gib" => f(l.avail_before_weights_gib),
        "max_num_batched_tokens" => l.max_num_batched_tokens.map(|v| v as f64),
        // vLLM-Ascend logs bytes.
        "total_bytes" => f(l.total_gib).map(|g| (g * GIB).round()),
        "kv_bytes" => f(l.kv_gib).map(|g| (g * GIB).round()),
        k => panic!("index.toml: unknown figure {k}"),
    }
}

#[test]
fn corpus_index_is_complete() {
    let logs = index();
    assert!(!logs.is_empty());
    for e in &logs {
        let file = e["file"].as_str().unwrap();
        for key in [
            "source", "date", "engine", "version", "gpu", "chip", "model", "tp", "pp", "dp",
        ] {
            assert!(e.get(key).is_some(), "{file}: {key} missing in index.toml");
        }
        // A log kvsim checks names the release it is checked with (check() rejects a release
        // kvsim does not model, in log_overheads_reproduce_kv_tokens).
        if e.get("kvsim_model").is_some() || e.get("kvsim_config").is_some() {
            assert!(
                e.get("kvsim_version").is_some(),
                "{file}: kvsim_version missing in index.toml"
            );
        } else {
            assert!(
                e.get("reproduced").is_none(),
                "{file}: a log without kvsim_model or kvsim_config is not checked"
            );
        }
        assert!(e["source"].as_str().unwrap().starts_with("https://"));
        let text = read_log(file);
        let first = text.lines().next().unwrap();
        assert!(
            first.starts_with("# source: https://"),
            "{file}: the first line must cite its source"
        );
        assert!(
            first.contains(e["source"].as_str().unwrap()),
            "{file}: header and index cite different sources"
        );
    }
    // Every file in the directory is indexed.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/logs");
    for f in std::fs::read_dir(dir).unwrap() {
        let name = f.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".log") {
            assert!(
                logs.iter().any(|e| e["file"].as_str() == Some(&name)),
                "{name} is not in index.toml"
            );
        }
    }
}

#[test]
fn every_logged_figure_is_parsed() {
    for e in index() {
        let file = e["file"].as_str().unwrap();
        let l = parse(file, &read_log(file)).unwrap();
        for (key, want) in e["figures"].as_table().unwrap() {
            let got = parsed(&l, key).unwrap_or_else(|| panic!("{file}: {key} not parsed"));
            assert!(
                (got - number(want)).abs() < 1e-9,
                "{file}: {key} = {got}, index says {want}"
            );
        }
        // The TP the index gives `check` is the log's, where the log states it.
        let tp = e["tp"].as_integer().unwrap() as u64;
        if let Some(t) = l.tp {
            assert_eq!(t, tp, "{file}: tp");
        }
        assert_eq!(
            l.dp.unwrap_or(1),
            e["dp"].as_integer().unwrap() as u64,
            "{file}: dp"
        );
    }
}

// With the log's own overheads fed back, kvsim's KV tokens must lie within what the rounding of
// the log's GiB figures allows (one block of slack), wherever the index expects it.
#[test]
fn log_overheads_reproduce_kv_tokens() {
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        let c = check(file, &read_log(file), &opts).unwrap();
        if let Some(want) = e.get("reproduced").and_then(|v| v.as_bool()) {
            assert_eq!(
                c.tokens_reproduced(),
                Some(want),
                "{file}: logged {:?}, kvsim {} ({:?})",
                c.logged_tokens(),
                c.measured.kv_capacity_tokens_per_chip,
                c.measured_tokens_range
            );
        }
        // Where the tokens reproduce, so does the logged concurrency, to its two decimals and
        // the tokens' slack (the rounding's range and a block either side); vLLM-Ascend before
        // 0.14 caches Seed-X's window in full: 45.03×.
        if let (Some(want), Some(true)) = (c.logged.max_concurrency, c.tokens_reproduced()) {
            let got = c.measured.max_concurrency;
            let (lo, hi) = c.measured_tokens_range;
            let slack = want.value * (hi - lo + 2 * c.measured.block_size) as f64
                / c.measured.kv_capacity_tokens_per_chip.max(1) as f64;
            assert!(
                (got - want.value).abs() <= 0.0051 + slack,
                "{file}: concurrency {got} vs {}",
                want.value
            );
        }
        // With overheads fed back the KV memory matches the log's to its rounding.
        if let (Some(kv), true) = (c.logged.kv_gib, e.get("reproduced").is_some()) {
            let got = c.measured.kv_budget_bytes_per_chip as f64 / (1u64 << 30) as f64;
            if e["reproduced"].as_bool() == Some(true) {
                assert!(
                    (got - kv.value).abs() <= 0.021,
                    "{file}: KV {got} vs {}",
                    kv.value
                );
            }
        }
    }
}

/// The engine family and chip a log is grouped under in the error table.
fn group(e: &toml::Value, c: &kvsim::check::Check) -> String {
    let engine = match (e["engine"].as_str().unwrap(), c.logged.engine) {
        ("sglang", _) => "SGLang",
        ("vllm-ascend", _) => "vLLM-Ascend",
        (x, _) if x.starts_with("vllm-hpu") => "vLLM HPU fork",
        (_, LogEngine::VllmV0) => "vLLM V0",
        _ => "vLLM V1",
    };
    format!("{engine} | {}", e["chip"].as_str().unwrap())
}

fn table_row(name: &str, errors: &[f64]) -> String {
    let (median, p90, worst) = error_summary(errors).unwrap();
    format!(
        "| {name} | {} | {:.1}% | {:.1}% | {:+.1}% |",
        errors.len(),
        median * 100.0,
        p90 * 100.0,
        worst * 100.0
    )
}

/// Prints the error distribution of kvsim's own KV-token estimate over the logs `check` can fully
/// parse and rebuild (run with `cargo test --test check error_distribution -- --nocapture`), per
/// engine and chip and overall, and checks it covers every such log that states a capacity.
#[test]
fn error_distribution_of_own_estimates() {
    let mut errors = Vec::new();
    let mut groups: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    let mut with_tokens = 0;
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        let c = check(file, &read_log(file), &opts).unwrap();
        let f = e["figures"].as_table().unwrap();
        if f.contains_key("kv_tokens") || f.contains_key("gpu_blocks") {
            with_tokens += 1;
        }
        if let Some(err) = c.estimated_tokens_error() {
            println!(
                "{file}: logged {} tokens, kvsim {} ({:+.1}%)",
                c.logged_tokens().unwrap(),
                c.estimated.kv_capacity_tokens_per_chip,
                err * 100.0
            );
            errors.push(err);
            groups.entry(group(&e, &c)).or_default().push(err);
        }
    }
    assert_eq!(errors.len(), with_tokens);
    println!(
        "\n| engine | chip | logs | median abs. error | p90 | worst |\n|---|---|---|---|---|---|"
    );
    for (g, errs) in &groups {
        println!("{}", table_row(g, errs));
    }
    println!("{}", table_row("all | all", &errors));
    let (median, p90, worst) = error_summary(&errors).unwrap();
    println!(
        "KV tokens, kvsim's own estimates vs {} logs: median |error| {:.1}%, p90 {:.1}%, worst {:+.1}%",
        errors.len(),
        median * 100.0,
        p90 * 100.0,
        worst * 100.0
    );
    assert!(median.is_finite() && median >= 0.0 && p90 >= median && worst.abs() >= p90);
    // The same over the logs check parses fully: nothing taken at a default the log does not
    // show (the goal: no overestimate above 5% there).
    let mut full = Vec::new();
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        let c = check(file, &read_log(file), &opts).unwrap();
        match (c.estimated_tokens_error(), c.rebuilt.assumed.is_empty()) {
            (Some(err), true) => full.push(err),
            (Some(_), false) => println!("not fully parsed: {file}: {:?}", c.rebuilt.assumed),
            _ => {}
        }
    }
    let (median, p90, worst) = error_summary(&full).unwrap();
    let over = full.iter().filter(|e| **e > 0.05).count();
    println!(
        "KV tokens over the {} fully parsed logs: median |error| {:.1}%, p90 {:.1}%, worst {:+.1}%; {} overestimate by more than 5%",
        full.len(),
        median * 100.0,
        p90 * 100.0,
        worst * 100.0,
        over
    );
    assert!(full.len() < errors.len());
    // The KV memory itself, over every log that states it (some give no token count).
    let mut gib_errors = Vec::new();
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        let c = check(file, &read_log(file), &opts).unwrap();
        if let Some(r) = c.rows.iter().find(|r| r.figure == "KV cache") {
            if let Some(err) = r.error(r.estimated) {
                println!(
                    "{file}: logged {:.2} GiB of KV memory, kvsim {:.2} GiB ({:+.1}%)",
                    r.logged.unwrap(),
                    r.estimated,
                    err * 100.0
                );
                gib_errors.push(err);
            }
        }
    }
    let (median, p90, worst) = error_summary(&gib_errors).unwrap();
    println!(
        "KV memory, kvsim's own estimates vs {} logs: median |error| {:.1}%, p90 {:.1}%, worst {:+.1}%",
        gib_errors.len(),
        median * 100.0,
        p90 * 100.0,
        worst * 100.0
    );
    // The weights, over every log that states them (what load allocates, buffers included).
    let mut weight_errors = Vec::new();
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        let c = check(file, &read_log(file), &opts).unwrap();
        if let Some(r) = c.rows.iter().find(|r| r.figure == "weights") {
            if let Some(err) = r.error(r.estimated) {
                println!(
                    "{file}: logged {:.2} GiB of weights, kvsim {:.3} GiB ({:+.2}%)",
                    r.logged.unwrap(),
                    r.estimated,
                    err * 100.0
                );
                weight_errors.push(err);
            }
        }
    }
    let (median, p90, worst) = error_summary(&weight_errors).unwrap();
    println!(
        "weights, kvsim's own estimates vs {} logs: median |error| {:.2}%, p90 {:.2}%, worst {:+.2}%",
        weight_errors.len(),
        median * 100.0,
        p90 * 100.0,
        worst * 100.0
    );
}

/// `kvsim check` of one indexed log with its index options.
fn check_indexed(file: &str) -> kvsim::check::Check {
    check_indexed_without(file, None)
}

/// [`check_indexed`] with the lines containing `drop` removed from the log (what the rebuild
/// does without them).
fn check_indexed_without(file: &str, drop: Option<&str>) -> kvsim::check::Check {
    let e = index()
        .into_iter()
        .find(|e| e["file"].as_str() == Some(file))
        .unwrap();
    let text: String = read_log(file)
        .lines()
        .filter(|l| drop.is_none_or(|d| !l.contains(d)))
        .map(|l| format!("{l}\n"))
        .collect();
    check(file, &text, &options(&e).unwrap()).unwrap()
}

// DeepSeek-R1 at TP8 under the "0.7.4" V0 profile profiles all 163,840 tokens of max_model_len;
// the peak is the MLA prefill's o_proj all-reduce (`mla/common.py` @ v0.8.0): 55,360 elements per
// token on a rank (by hand in `overhead::tests::mla_prefill_peak_by_release`), 163,840 · 55,360 ·
// 2 B = 18,140,364,800 B, above the MoE layer's chunked fused-MoE peak and the sampler.
#[test]
fn r1_v0_activation_is_the_mla_prefill_peak() {
    let file = "vllm-0.7.4dev-v0-h200-deepseek-r1-tp8-mlaalign0.log";
    let c = check_indexed(file);
    assert_eq!(c.estimated.activation_bytes_per_chip, 18_140_364_800);
}

// A log cut off at any line, or with a number garbled, gives an error or a result, never a panic;
// cut before the KV figures it says so.
#[test]
fn truncated_and_garbled_logs_never_panic() {
    for e in index() {
        let file = e["file"].as_str().unwrap();
        let opts = options(&e).unwrap_or_default();
        let text = read_log(file);
        let lines: Vec<&str> = text.lines().collect();
        for n in 0..lines.len() {
            let cut = lines[..n].join("\n");
            let _ = check(file, &cut, &opts);
            // Each line cut mid-way too.
            if let Some(l) = lines.get(n) {
                for end in (1..l.len()).step_by(7).filter(|e| l.is_char_boundary(*e)) {
                    let _ = parse(file, &format!("{cut}\n{}", &l[..end]));
                }
            }
        }
        let garbled = text.replace(|c: char| c.is_ascii_digit(), "x");
        if let Err(err) = check(file, &garbled, &opts) {
            assert!(err.to_string().contains(file), "{err}");
        }
    }
    // Each new line kind with its number garbled names its line.
    for (text, line) in [
        ("INFO 03-14 [executor_base.py:111] # cuda blocks: x, # CPU blocks: 954\n", 1),
        ("INFO [executor_base.py:113] # npu blocks: many, # CPU blocks: 1820\n", 1),
        ("INFO habana_executor.py:85] # HPU blocks: ?, # CPU blocks: 256\n", 1),
        ("INFO [worker_v1.py:198] Available memory: , total memory: 65452113920\n", 1),
        ("INFO [kv_cache_utils.py:864] GPU KV cache size: 1 tokens\nINFO [worker_v1.py:198] Available memory: 39442891776, total memory: x\n", 2),
        ("INFO habana_worker.py:177] Free device memory: 79.22 GiB, 71.3 GiB usable (gpu_memory_utilization=0.9), x GiB reserved for KV cache\n", 1),
        ("INFO habana_model_runner.py:640] Loading model weights took in total x GiB of device memory\n# HPU blocks: 1, # CPU blocks: 0\n", 1),
        ("INFO worker.py:267] model weights take 83.88GiB; the rest of the memory reserved \nfor KV Cache is x.\n", 1),
        ("INFO worker.py:267] model weights take 83.88GiB; the rest of the memory reserved \n# cuda blocks: 1, # CPU blocks: 1\n", 1),
        ("INFO [executor_base.py:116] Maximum concurrency for 163840 tokens per request: x\n# cuda blocks: 1, # CPU blocks: 1\n", 1),
    ] {
        let e = parse("new.log", text).unwrap_err();
        assert!(e.to_string().contains(&format!("new.log:{line}")), "{text}: {e}");
    }
    let e = parse("cut.log", "INFO 04-24 16:33:00 [gpu_model_runner.py:1316] Model loading took 14.9889 GiB and 3.65 seconds\n")
        .unwrap_err();
    assert!(e.to_string().contains("cut off"), "{e}");
    let e = parse("bad.log", "INFO [kv_cache_utils.py:634] GPU KV cache size: 1x8,656 tokens\nINFO Maximum concurrency for tokens per request: 4.84x\n")
        .unwrap_err();
    assert!(e.to_string().contains("bad.log:2"), "{e}");
}

// SGLang's w_kc / w_vc (src/engine/sglang_mla.rs): on the B200 DeepSeek-V3.2 logs (TP8 with DP
// attention, so all 128 heads per rank) 0.5.3 and 0.5.4 dequantise the FP8 kv_b_proj to BF16 on
// CUDA and keep new copies beside it: 61 × 128 × (128 + 128) × 512 × 2 B = 2,046,820,352 B per
// rank in kvsim's own weights, named in `kvsim check`'s warnings; besides them the rope's FP32
// cos/sin table (SGLang keeps it FP32 on CUDA): DeepSeek-V3.2's yarn 40 × 4096 = 163,840
// positions × 64 rotary dims × 4 B = 41,943,040 B.
#[test]
fn sglang_b200_estimate_counts_the_mla_copies() {
    for (e, opts) in checked() {
        let file = e["file"].as_str().unwrap();
        if !file.contains("b200-deepseek-v32") {
            continue;
        }
        let c = check(file, &read_log(file), &opts).unwrap();
        let r = &c.estimated;
        // Besides the free space of the weights' allocator segments, which SGLang's weights
        // measurement counts (src/engine/allocator.rs), named in a warning too.
        assert!(r.weight_segments_bytes_per_chip > 0, "{file}");
        assert_eq!(
            r.weights_bytes_per_chip
                - r.weights_by_group.total()
                - r.weight_segments_bytes_per_chip,
            2_046_820_352 + 41_943_040,
            "{file}"
        );
        let w = kvsim::cli::check::warnings(&c);
        assert!(
            w.iter()
                .any(|w| w.contains("w_kc / w_vc") && w.contains("1.91 GiB")),
            "{file}: {w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("kvsim: warning: weights: sglang")
                    && w.contains("allocator segments")),
            "{file}: {w:?}"
        );
    }
}

// A release that captures its CUDA graphs after the budget (vLLM 0.11) only reports their memory:
// with the log's KV memory lumping the rest, the logged graph figure is still fed back (shown
// beside the log's, not as 0 and −100%), and the budget does not change. The granite log gives
// 0.72 GiB of graphs and 35.34 GiB of KV memory.
#[test]
fn graphs_after_the_budget_are_fed_back_without_moving_it() {
    let file = "vllm-0.11.0-v1-l40s-granite-4.0-micro-fp8.log";
    let c = check_indexed(file);
    let graphs = c.rows.iter().find(|r| r.figure == "CUDA graphs").unwrap();
    assert_eq!(graphs.logged, Some(0.72));
    assert!(
        (graphs.measured - 0.72).abs() < 0.005,
        "{}",
        graphs.measured
    );
    let kv = c.measured.kv_budget_bytes_per_chip as f64 / GIB;
    assert!((kv - 35.34).abs() <= 0.005, "{kv}");
}

// vLLM says why it turned its custom all-reduce off: no peer access (NCCL's SHM transport) or a
// TP group across nodes (its network transport; no GPUDirect RDMA assumed). Either way NCCL keeps
// no buffers on the GPU, so the own estimate's non-torch memory is the TP1 figure, 0.25 GiB,
// where an A100 with peer access carries two communicators' buffers at TP2.
#[test]
fn ranks_without_device_links_hold_no_nccl_buffers() {
    for (file, cause) in [
        (
            "vllm-0.10.1-v1-2xa100-qwen2-7b-tp2-nop2p-util050.log",
            "lack peer access",
        ),
        (
            "vllm-0.10.1-v1-2node-a100-40gb-qwen2-7b-tp2-util050.log",
            "spans nodes",
        ),
        (
            "vllm-0.10.1-v1-4node-a100-gpt-oss-120b-tp4-util080.log",
            "spans nodes",
        ),
    ] {
        let c = check_indexed(file);
        assert_eq!(c.estimated.non_torch_bytes_per_chip, 1 << 28, "{file}");
        assert!(
            c.rebuilt.warnings.iter().any(|w| w.contains(cause)),
            "{file}: {:?}",
            c.rebuilt.warnings
        );
    }
    // The same run with peer access assumed (the line removed) charges NCCL's buffers.
    let linked = check_indexed_without(
        "vllm-0.10.1-v1-2xa100-qwen2-7b-tp2-nop2p-util050.log",
        Some("Custom allreduce"),
    );
    assert!(linked.estimated.non_torch_bytes_per_chip > 1 << 29);
}

// vLLM V1 up to 0.16 samples on FlashInfer where it is installed and says so ("Using FlashInfer
// for top-p & top-k sampling", topk_topp_sampler.py @ v0.10.1.1): 14 B per logit at the
// profiling run's sampler peak instead of PyTorch's sort, 38 B. Qwen2-7B on one A100 80GB: 256
// sequences × 152,064 logits × 24 B = 934,281,216 B less activation than without the line.
#[test]
fn flashinfer_sampler_line_lowers_the_sampler_peak() {
    let file = "vllm-0.10.1-v1-a100-qwen2-7b-util050.log";
    let with = check_indexed(file);
    assert_eq!(with.logged.flashinfer_sampler, Some(true));
    let without = check_indexed_without(file, Some("Using FlashInfer for top-p"));
    assert_eq!(without.logged.flashinfer_sampler, None);
    assert_eq!(
        without.estimated.activation_bytes_per_chip - with.estimated.activation_bytes_per_chip,
        256 * 152_064 * 24
    );
    // A log that says FlashInfer is missing keeps the sort.
    let c = check_indexed("vllm-0.9.2-v1-a100-40gb-qwen3-8b.log");
    assert_eq!(c.logged.flashinfer_sampler, Some(false));
}

// A setting the log's launch arguments leave out is the engine's default, stated by omission; one
// the log shows no trace of is assumed, and the log is not fully parsed.
#[test]
fn launch_arguments_state_the_defaults() {
    let shown = check_indexed("vllm-0.9.2-v1-a100-40gb-qwen3-8b.log");
    assert!(shown.logged.launch_args && shown.logged.memory_fraction.is_none());
    assert!(
        shown.rebuilt.assumed.is_empty(),
        "{:?}",
        shown.rebuilt.assumed
    );
    let bare = check_indexed("vllm-0.8-v1-l40s-llama31-8b.log");
    assert!(!bare.logged.launch_args);
    assert_eq!(bare.rebuilt.assumed, ["memory fraction"]);
}

// Under WSL2 the Windows host holds GPU memory before SGLang starts. SGLang budgets from the free
// memory it measures after `init_torch_distributed` (`model_runner.py::ModelRunner.
// profile_max_num_token` @ v0.4.7), so the host's share is lost to the KV pool. The index gives
// that share (`check_other_processes`) as kvsim's own free memory for SGLang alone on the card —
// the device total less its non-torch estimate — less the free memory the log states before the
// weights (or implies: free after + weights); this test derives it again, so the index cannot be
// tuned. With it, kvsim's own KV tokens land within the native TP1 logs' spread.
#[test]
fn wsl2_host_share_is_the_free_memory_kvsim_does_not_see() {
    for (file, logged_free_before) in [
        ("sglang-2025-02-rtx3090-r1-distill-qwen-7b-tp1.log", 22.76),
        (
            "sglang-2025-07-rtx4090-wsl2-llama31-8b-tp1.log",
            7.37 + 15.02,
        ),
    ] {
        let e = index()
            .into_iter()
            .find(|e| e["file"].as_str() == Some(file))
            .unwrap();
        let given = e["check_other_processes"].as_float().unwrap();
        let mut o = options(&e).unwrap();
        o.other_processes_gib = None;
        let bare = check(file, &read_log(file), &o).unwrap();
        let own_free = (bare.estimated.total_memory_bytes_per_chip
            - bare.estimated.non_torch_bytes_per_chip) as f64
            / GIB;
        let derived = own_free - logged_free_before;
        assert!(
            (derived - given).abs() <= 0.005,
            "{file}: index {given}, derived {derived:.3}"
        );
        let with = check_indexed(file);
        let logged = with.logged_tokens().unwrap() as f64;
        let err =
            |c: &kvsim::check::Check| c.estimated.kv_capacity_tokens_per_chip as f64 / logged - 1.0;
        assert!(
            err(&bare) > 0.09,
            "{file}: without the host's share {:+.3}",
            err(&bare)
        );
        assert!(
            err(&with).abs() < 0.01,
            "{file}: with it {:+.3}",
            err(&with)
        );
        assert!(with.estimated.warning_codes.contains(&"other_processes"));
        // Without the option, `check` hints at the value; with it, no hint.
        let hint = format!("give --other-processes {given:.2}");
        assert!(
            bare.rebuilt.warnings.iter().any(|w| w.contains(&hint)),
            "{file}"
        );
        assert!(!with
            .rebuilt
            .warnings
            .iter()
            .any(|w| w.contains("--other-processes")));
    }
    // A native run's free memory is within half a GiB of kvsim's: no hint (0.13 GiB apart on
    // the H100 of SGLang's docs).
    let native = check_indexed("sglang-2025-01-h100-llama31-8b-tp1.log");
    assert!(!native
        .rebuilt
        .warnings
        .iter()
        .any(|w| w.contains("--other-processes")));
}

// A log of a refused start (vLLM V1 stops when the free memory at its init snapshot is below
// utilization × total) sizes no KV cache: `check` says so, with what other processes held and the
// utilization that starts. The line as pytorch/pytorch issue 175666 quotes it (vLLM under torch
// 2.11's release tests, an L4: 19.77 of 22.05 GiB free, 0.9 asks 19.84): 22.05 − 19.77 − 0.51 =
// 1.77 GiB, and ⌊19.77 / 22.05 · 100⌋ / 100 = 0.89.
#[test]
fn refused_start_names_what_other_processes_held() {
    let text =
        "(EngineCore_DP0 pid=6940) ValueError: Free memory on device cuda:1 (19.77/22.05 GiB) \
                on startup is less than desired GPU memory utilization (0.9, 19.84 GiB). Decrease \
                GPU memory utilization or reduce GPU memory used by other processes.\n";
    let e = parse("refused.log", text).unwrap_err().to_string();
    assert!(
        e.contains("refused.log") && e.contains("a refused start"),
        "{e}"
    );
    assert!(e.contains("19.77 of 22.05 GiB free"), "{e}");
    assert!(e.contains("--other-processes 1.77"), "{e}");
    assert!(e.contains("0.89 or less"), "{e}");
    // Garbled figures fall back to the general error, never a panic.
    let garbled = text.replace("19.77/22.05", "x/y");
    let e = parse("refused.log", &garbled).unwrap_err().to_string();
    assert!(!e.contains("a refused start"), "{e}");
}
