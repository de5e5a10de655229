//! Where each subcommand's output goes: data on standard output or in the `-o/--output` file
//! (the same bytes either way), warnings and notes on standard error, never in the data.
use assert_cmd::Command;
use clap::CommandFactory;

fn kvsim(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kvsim")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const LOG: &str = "tests/data/logs/vllm-0.10-v1-h100-gpt-oss-120b.log";

/// One invocation of every subcommand that prints data to standard output.
fn data_commands() -> Vec<Vec<&'static str>> {
    vec![
        vec![
            "eval",
            "--model",
            "deepseek-v3",
            "--chip",
            "h200",
            "--tp",
            "8",
        ],
        vec![
            "eval",
            "--model",
            "deepseek-v3",
            "--chip",
            "h200",
            "--tp",
            "8",
            "--format",
            "json",
        ],
        vec!["models", "--format", "csv"],
        vec!["chips"],
        vec!["claims", "--format", "json"],
        vec![
            "compare",
            "--model",
            "deepseek-v3",
            "--chip",
            "h100-sxm,h200",
            "--tp",
            "8",
        ],
        vec![
            "fit",
            "context",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--sessions",
            "4",
        ],
        vec![
            "check",
            LOG,
            "--model",
            "gpt-oss-120b",
            "--chip",
            "h100-sxm",
        ],
        vec!["completions", "bash"],
        vec!["man", "eval"],
        vec![
            "sweep",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm,h200",
            "--context",
            "8k,16k",
        ],
    ]
}

// `-o FILE` writes exactly what standard output would have shown, and nothing reaches standard
// output then; standard error is the same either way.
#[test]
fn output_file_holds_the_stdout_bytes() {
    let dir = tempfile::tempdir().unwrap();
    for (i, args) in data_commands().into_iter().enumerate() {
        let plain = kvsim(&args);
        assert!(plain.status.success(), "{args:?}: {}", text(&plain.stderr));
        assert!(!plain.stdout.is_empty(), "{args:?}");
        let path = dir.path().join(format!("out{i}"));
        let p = path.to_str().unwrap();
        let mut with = args.clone();
        with.extend(["-o", p]);
        let out = kvsim(&with);
        assert!(out.status.success(), "{with:?}: {}", text(&out.stderr));
        assert!(
            out.stdout.is_empty(),
            "{with:?} printed {}",
            text(&out.stdout)
        );
        assert_eq!(std::fs::read(&path).unwrap(), plain.stdout, "{args:?}");
        // The sweep's summary names the file; every other note is the same.
        if args[0] != "sweep" {
            assert_eq!(text(&out.stderr), text(&plain.stderr), "{args:?}");
        }
    }
}

// Every subcommand takes -o/--output: listed by clap, so a new subcommand without it fails here.
#[test]
fn every_subcommand_has_an_output_flag() {
    let cmd = kvsim::cli::Cli::command();
    for sub in cmd.get_subcommands() {
        let o = sub.get_arguments().find(|a| a.get_long() == Some("output"));
        let o = o.unwrap_or_else(|| panic!("{} has no --output", sub.get_name()));
        assert_eq!(o.get_short(), Some('o'), "{}", sub.get_name());
    }
}

// The table's warnings go to standard error; JSON keeps them in its `warnings` field (data) and
// prints nothing else.
#[test]
fn warnings_are_on_stderr() {
    let t = kvsim(&[
        "eval",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200",
        "--tp",
        "8",
    ]);
    let (out, err) = (text(&t.stdout), text(&t.stderr));
    assert!(!out.contains("warning"), "{out}");
    assert_eq!(
        err,
        "kvsim: warning: weights: vllm 0.33 dequantises each MLA layer's kv_b_proj to a BF16 \
         copy (W_UV / W_UK_T) after loading: 0.24 GiB per chip more than the checkpoint's share, \
         which kvsim adds; weights: vllm 0.33 allocates 1 rotary cos/sin table (rotary dim 64) at \
         load (vLLM get_rope in rotary_embedding @ 0.6.3–0.33.0): 0.020 GiB (20971520 B) per chip \
         besides the parameters; kvsim adds them\n\
         kvsim: warning: weights: vllm 0.33 measures the weights as torch's allocated bytes, \
         which hold the blocks' rounding: 0.025 GiB per chip (the caching allocator rounds a \
         parameter of 10 MiB or more up to 2 MiB, keeping a rest of up to 1 MiB in its block and \
         splitting off a larger one, and packs parameters of 1–10 MiB into 20 MiB segments; \
         expandable segments off, the allocator's default); kvsim adds it\n\
         kvsim: warning: non-torch memory at TP 8 is kvsim's estimate from the buffers vLLM and \
         NCCL allocate, 0.814 GiB per rank: vLLM ≥ 0.11 charges what is allocated after its init \
         snapshot, which follows NCCL's initialisation (vLLM's own communicator, the custom \
         all-reduce's 4 MiB and the symmetric memory's 64 MiB are outside it): 0.07 GiB on a \
         multi-GPU worker (a logged figure) + torch's TP communicator, created at its first \
         collective: NCCL's cuMem set-up 196 MiB + its ring, 24 channels (from a published NCCL \
         log of this GPU kind) × 12 MiB + FlashInfer's all-reduce-fusion workspace 22 MiB (three \
         buffers, each rounded up to the allocation granularity) + the NVLS buffers vLLM's \
         PyNccl communicator connects for an all-reduce above 64 MiB (the symmetric-memory limit; \
         NCCL picks NVLS for it at TP8), 256 MiB, when the profiling batch's hidden states exceed \
         that; NCCL picks its channels at run time, and \
         pipeline-parallel communicators are not counted; give --non-torch-gib from a start-up \
         log or --profile\n"
    );
    assert!(out.contains("sessions"), "{out}");
    let j = kvsim(&[
        "eval",
        "--model",
        "deepseek-v3",
        "--chip",
        "h200",
        "--tp",
        "8",
        "--format",
        "json",
    ]);
    assert!(j.stderr.is_empty(), "{}", text(&j.stderr));
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["warnings"].as_array().unwrap().len(), 3);
    // check: the table on stdout, its warnings on stderr.
    let c = kvsim(&[
        "check",
        LOG,
        "--model",
        "gpt-oss-120b",
        "--chip",
        "h100-sxm",
    ]);
    assert!(c.status.success(), "{}", text(&c.stderr));
    assert!(!text(&c.stdout).contains("warning"), "{}", text(&c.stdout));
    let err = text(&c.stderr);
    assert!(
        err.contains("kvsim: warning: tp: not in the log; 1 assumed"),
        "{err}"
    );
    assert!(
        err.lines().all(|l| l.starts_with("kvsim: warning: ")),
        "{err}"
    );
}

// An output path that is one of the command's inputs is refused, and the input is left whole.
#[test]
fn output_over_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::copy("configs/models/llama-3.1-8b.json", &cfg).unwrap();
    let before = std::fs::read(&cfg).unwrap();
    let c = cfg.to_str().unwrap();
    for args in [
        vec!["eval", "--model", c, "--chip", "h100-sxm", "-o", c],
        vec![
            "fit",
            "context",
            "--model",
            c,
            "--chip",
            "h100-sxm",
            "--sessions",
            "1",
            "-o",
            c,
        ],
    ] {
        let out = kvsim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains("other than the input"),
            "{}",
            text(&out.stderr)
        );
        assert_eq!(std::fs::read(&cfg).unwrap(), before);
    }
    let log = dir.path().join("startup.log");
    std::fs::copy(LOG, &log).unwrap();
    let l = log.to_str().unwrap();
    let out = kvsim(&[
        "check",
        l,
        "--model",
        "gpt-oss-120b",
        "--chip",
        "h100-sxm",
        "-o",
        l,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read(&log).unwrap(), std::fs::read(LOG).unwrap());
}

// The completion script and the man page are generated from the same definitions as the flags.
#[test]
fn completions_and_man_pages() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = kvsim(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(
            text(&out.stdout).contains("max-num-batched-tokens"),
            "{shell}"
        );
    }
    let bad = kvsim(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
    let man = text(&kvsim(&["man"]).stdout);
    assert!(man.contains(".TH kvsim 1"), "{}", &man[..200]);
    for sub in [
        "eval",
        "sweep",
        "compare",
        "plot",
        "fit",
        "check",
        "completions",
    ] {
        assert!(man.contains(sub), "{sub}");
    }
    let eval = text(&kvsim(&["man", "eval"]).stdout);
    assert!(eval.contains(".TH kvsim-eval 1"), "{}", &eval[..200]);
    assert!(eval.contains("\\fBkvsim eval\\fR"), "synopsis");
}
