//! `--model DIR`: a checkpoint directory's safetensors headers give the stored weight bytes.
//! The fixtures are written here: a 2-layer Llama (hidden 64, 4 heads, 2 KV heads of 16, FFN 128,
//! vocabulary 256, untied) in BF16, whose tensors are exactly what transformers'
//! LlamaForCausalLM stores: 106,816 parameters = 213,632 bytes (embedding and lm_head 2 × 256 × 64, per layer
//! q 64×64, k and v 32×64, o 64×64, gate/up 128×64, down 64×128 and two norms of 64, final norm 64).
use assert_cmd::Command;
use kvsim::model::checkpoint::{self, ShardSource};
use serde_json::{json, Value};
use std::path::Path;

const CONFIG: &str = r#"{"architectures": ["LlamaForCausalLM"], "model_type": "llama",
 "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "intermediate_size": 128, "vocab_size": 256, "torch_dtype": "bfloat16",
 "tie_word_embeddings": false, "max_position_embeddings": 65536}"#;

/// Hand count of the fixture above, in BF16.
const LLAMA_BYTES: u64 = 213_632;
/// kvsim's per-chip count at TP 2: q/o and gate/up/down split, one KV head of 16 per rank,
/// vocabulary 256 split in two, norms replicated: 53,568 parameters.
const LLAMA_TP2_BYTES: u64 = 107_136;
/// The rotary cos/sin table vLLM allocates at load besides the parameters, whole on every rank
/// (src/engine/position_tables.rs): max_position_embeddings 65,536 × head_dim 16 × 2 B (BF16).
const LLAMA_ROPE: u64 = 65_536 * 16 * 2;

/// The tensors of the 2-layer Llama: (name, dtype, shape).
fn llama_tensors() -> Vec<(String, &'static str, Vec<u64>)> {
    let mut t = vec![
        (
            "model.embed_tokens.weight".to_string(),
            "BF16",
            vec![256, 64],
        ),
        ("lm_head.weight".into(), "BF16", vec![256, 64]),
        ("model.norm.weight".into(), "BF16", vec![64]),
    ];
    for i in 0..2 {
        let p = format!("model.layers.{i}.");
        for (n, s) in [
            ("self_attn.q_proj.weight", vec![64, 64]),
            ("self_attn.k_proj.weight", vec![32, 64]),
            ("self_attn.v_proj.weight", vec![32, 64]),
            ("self_attn.o_proj.weight", vec![64, 64]),
            ("mlp.gate_proj.weight", vec![128, 64]),
            ("mlp.up_proj.weight", vec![128, 64]),
            ("mlp.down_proj.weight", vec![64, 128]),
            ("input_layernorm.weight", vec![64]),
            ("post_attention_layernorm.weight", vec![64]),
        ] {
            t.push((format!("{p}{n}"), "BF16", s));
        }
    }
    t
}

fn bits(dtype: &str) -> u64 {
    match dtype {
        "F4" => 4,
        "U8" | "I8" | "F8_E4M3" | "F8_E8M0" => 8,
        "BF16" | "F16" => 16,
        "F32" | "I32" => 32,
        _ => panic!("fixture dtype {dtype}"),
    }
}

/// The bytes of a safetensors file holding `tensors` (zeros as data), the header padded to 8
/// bytes with spaces as the reference writer does.
fn safetensors(tensors: &[(String, &str, Vec<u64>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let mut at = 0u64;
    for (name, dtype, shape) in tensors {
        let n = shape.iter().product::<u64>() * bits(dtype) / 8;
        header.insert(
            name.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [at, at + n]}),
        );
        at += n;
    }
    let mut j = serde_json::to_vec(&Value::Object(header)).unwrap();
    while j.len() % 8 != 0 {
        j.push(b' ');
    }
    let mut out = (j.len() as u64).to_le_bytes().to_vec();
    out.extend(j);
    out.resize(out.len() + at as usize, 0);
    out
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn llama_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config.json", CONFIG.as_bytes());
    write(
        d.path(),
        "model.safetensors",
        &safetensors(&llama_tensors()),
    );
    d
}

fn eval(args: &[&str]) -> Value {
    let out = Command::cargo_bin("kvsim")
        .unwrap()
        .args([
            "eval",
            "--chip",
            "h100-sxm",
            "--context",
            "8k",
            "--format",
            "json",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn eval_err(args: &[&str]) -> String {
    let out = Command::cargo_bin("kvsim")
        .unwrap()
        .args(["eval", "--chip", "h100-sxm", "--context", "8k"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn warnings(r: &Value) -> Vec<String> {
    r["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_checkpoint_matching_kvsims_count_gives_the_same_bytes() {
    let d = llama_dir();
    let dir = d.path().to_str().unwrap();
    let r = eval(&["--model", dir]);
    assert_eq!(r["weights_source"], "checkpoint");
    assert_eq!(stored_weights(&r), LLAMA_BYTES + LLAMA_ROPE);
    // The tiny tensors' 512 B rounding is in vLLM's weights figure (torch's allocated bytes).
    assert!(r["weight_segments_bytes_per_chip"].as_u64().unwrap() > 0);
    let w = warnings(&r);
    assert!(
        w.iter().any(|w| w.starts_with(&format!(
            "weights: 0.00 GiB from the checkpoint's safetensors headers ({dir}): 213,632 B in 21 tensors of 1 files, kvsim counts 213,632 B"
        ))),
        "{w:?}"
    );
    // The config file alone keeps kvsim's count.
    let c = eval(&["--model", &format!("{dir}/config.json"), "--tp", "2"]);
    assert_eq!(c["weights_source"], "computed");
    assert_eq!(stored_weights(&c), LLAMA_TP2_BYTES + LLAMA_ROPE);
    let t = eval(&["--model", dir, "--tp", "2"]);
    assert_eq!(stored_weights(&t), LLAMA_TP2_BYTES + LLAMA_ROPE);
}

#[test]
fn stored_scales_count_and_split_as_kvsims_count_does() {
    // A sharded checkpoint with FP32 scales kvsim's BF16 plan does not have: 64 + 128 floats.
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config.json", CONFIG.as_bytes());
    let mut t = llama_tensors();
    let second = t.split_off(12);
    let mut first = t;
    first.push((
        "model.layers.0.mlp.down_proj.weight_scale".into(),
        "F32",
        vec![64],
    ));
    let mut second = second;
    second.push((
        "model.layers.1.mlp.down_proj.weight_scale".into(),
        "F32",
        vec![128],
    ));
    write(
        d.path(),
        "model-00001-of-00002.safetensors",
        &safetensors(&first),
    );
    write(
        d.path(),
        "model-00002-of-00002.safetensors",
        &safetensors(&second),
    );
    let mut map = serde_json::Map::new();
    for (n, _, _) in &first {
        map.insert(n.clone(), json!("model-00001-of-00002.safetensors"));
    }
    for (n, _, _) in &second {
        map.insert(n.clone(), json!("model-00002-of-00002.safetensors"));
    }
    let index = json!({"metadata": {"total_size": 0}, "weight_map": map});
    write(
        d.path(),
        "model.safetensors.index.json",
        index.to_string().as_bytes(),
    );
    // A stray file outside the index is not counted.
    write(
        d.path(),
        "consolidated.safetensors",
        &safetensors(&llama_tensors()),
    );
    let dir = d.path().to_str().unwrap();
    let total = LLAMA_BYTES + 4 * 64 + 4 * 128; // 214,400
    assert_eq!(stored_weights(&eval(&["--model", dir])), total + LLAMA_ROPE);
    // TP 2: 214,400 × 107,136 / 213,632 = 107,521.0…, rounded to the nearest byte.
    let r = eval(&["--model", dir, "--tp", "2"]);
    assert_eq!(stored_weights(&r), 107_521 + LLAMA_ROPE);
    assert_eq!(r["weights_source"], "checkpoint");
    // PP 2: each stage holds its own layers, the first the embedding, the last the lm_head.
    let p = eval(&["--model", dir, "--pp", "2"]);
    let stage = p["weights_bytes_per_chip"].as_u64().unwrap();
    assert!(stage > LLAMA_ROPE && stage < total + LLAMA_ROPE, "{stage}");
}

#[test]
fn precision_edits_and_measurements_keep_their_own_figures() {
    let d = llama_dir();
    let dir = d.path().to_str().unwrap();
    let fp8 = eval(&["--model", dir, "--weights", "fp8"]);
    assert_eq!(fp8["weights_source"], "computed");
    assert!(warnings(&fp8)
        .iter()
        .any(|w| w.starts_with("weights computed for the requested precision")));
    let kv = eval(&["--model", dir, "--kv", "fp8"]);
    assert_eq!(
        kv["weights_source"], "checkpoint",
        "a KV format is not a weight format"
    );
    let set = eval(&["--model", dir, "--set", "num_hidden_layers=1"]);
    assert_eq!(set["weights_source"], "computed");
    assert!(warnings(&set)
        .iter()
        .any(|w| w.contains("--set edits the config")));
    assert_eq!(set["params_total"], 106_816 - 36_992);
    let moe = eval(&["--model", dir, "--moe", "8:2"]);
    assert_eq!(moe["weights_source"], "computed");
    assert!(warnings(&moe)
        .iter()
        .any(|w| w.contains("--moe converts the FFN")));
    let measured = eval(&["--model", dir, "--weights-gib", "1"]);
    assert_eq!(measured["weights_source"], "measured");
    assert_eq!(stored_weights(&measured), 1u64 << 30);
}

#[test]
fn mtp_layers_count_only_with_mtp() {
    assert!(checkpoint::is_mtp("model.layers.61.eh_proj.weight", 61));
    assert!(!checkpoint::is_mtp("model.layers.60.mlp.gate.weight", 61));
    assert!(checkpoint::is_mtp(
        "mtp.layers.0.mlp.experts.0.up_proj.weight",
        48
    ));
    assert!(checkpoint::is_mtp(
        "model.mtp_layers.0.input_proj.weight",
        36
    ));
    assert!(!checkpoint::is_mtp(
        "vision_tower.encoder.layers.40.mlp.fc1.weight",
        26
    ));
    let d = tempfile::tempdir().unwrap();
    let mut t = llama_tensors();
    t.push((
        "model.layers.2.eh_proj.weight".into(),
        "BF16",
        vec![64, 128],
    ));
    write(d.path(), "model.safetensors", &safetensors(&t));
    let w = checkpoint::summarise(
        "fixture",
        &[ShardSource::File(d.path().join("model.safetensors"))],
        2,
    )
    .unwrap();
    assert_eq!(
        (w.bytes, w.mtp_bytes, w.tensors, w.files),
        (LLAMA_BYTES, 16_384, 22, 1)
    );
    assert_eq!(w.loaded_bytes(true), LLAMA_BYTES + 16_384);
    // Through eval: the extra layer is left out, and said to be undeclared by the config.
    write(d.path(), "config.json", CONFIG.as_bytes());
    let dir = d.path().to_str().unwrap();
    let r = eval(&["--model", dir]);
    assert_eq!(stored_weights(&r), LLAMA_BYTES + LLAMA_ROPE);
    assert!(
        warnings(&r)
            .iter()
            .any(|w| w.contains("layers past the config's 2 decoder layers")),
        "{:?}",
        warnings(&r)
    );
    let with = eval(&["--model", dir, "--mtp"]);
    assert_eq!(stored_weights(&with), LLAMA_BYTES + 16_384 + LLAMA_ROPE);
}

/// Writes `bytes` as a model.safetensors next to the config and returns the error of eval.
fn broken(bytes: &[u8]) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config.json", CONFIG.as_bytes());
    write(d.path(), "model.safetensors", bytes);
    let e = eval_err(&["--model", d.path().to_str().unwrap()]);
    (d, e)
}

#[test]
fn broken_headers_are_errors_naming_the_file() {
    let good = safetensors(&llama_tensors());
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    // Five bytes: not even the length.
    let (_d, e) = broken(&good[..5]);
    assert!(
        e.contains("model.safetensors") && e.contains("truncated"),
        "{e}"
    );
    // The length claims more than the file holds.
    let mut long = good[..8 + n].to_vec();
    long[..8].copy_from_slice(&(n as u64 + 1000).to_le_bytes());
    let (_d, e) = broken(&long);
    assert!(
        e.contains("model.safetensors") && e.contains("fits in the file"),
        "{e}"
    );
    // A length over the safetensors limit.
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let (_d, e) = broken(&huge);
    assert!(e.contains("100,000,000"), "{e}");
    // The JSON cut short.
    let mut cut = good[..8 + n / 2].to_vec();
    cut[..8].copy_from_slice(&((n / 2) as u64).to_le_bytes());
    let (_d, e) = broken(&cut);
    assert!(
        e.contains("model.safetensors") && e.contains("safetensors header"),
        "{e}"
    );
    // Data missing at the end: an incomplete download.
    let (_d, e) = broken(&good[..good.len() - 10]);
    assert!(e.contains("incomplete download"), "{e}");
}

/// A one-tensor header with the given JSON entry, no data.
fn one_tensor(entry: Value) -> Vec<u8> {
    let j = serde_json::to_vec(&json!({ "w": entry })).unwrap();
    let mut out = (j.len() as u64).to_le_bytes().to_vec();
    out.extend(j);
    out
}

#[test]
fn impossible_tensors_are_errors() {
    // 10^15 elements of F32 cannot sit in a 4-byte span.
    let (_d, e) = broken(&one_tensor(
        json!({"dtype": "F32", "shape": [1_000_000_000_000_000u64], "data_offsets": [0, 4]}),
    ));
    assert!(
        e.contains("w.data_offsets") && e.contains("4000000000000000 bytes"),
        "{e}"
    );
    // A shape whose element count overflows 64 bits.
    let (_d, e) = broken(&one_tensor(
        json!({"dtype": "U8", "shape": [1u64 << 40, 1u64 << 40], "data_offsets": [0, 0]}),
    ));
    assert!(e.contains("w.shape") && e.contains("64 bits"), "{e}");
    let (_d, e) = broken(&one_tensor(
        json!({"dtype": "Q4_K", "shape": [2], "data_offsets": [0, 1]}),
    ));
    assert!(e.contains("w.dtype") && e.contains("Q4_K"), "{e}");
    // A gap before the first tensor.
    let (_d, e) = broken(&one_tensor(
        json!({"dtype": "U8", "shape": [2], "data_offsets": [4, 6]}),
    ));
    assert!(e.contains("start at byte 0"), "{e}");
    // Packed FP4: two elements per byte (safetensors bitsize 4).
    let h = checkpoint::parse_header(
        "f",
        br#"{"w":{"dtype":"F4","shape":[3,4],"data_offsets":[0,6]}}"#,
    )
    .unwrap();
    assert_eq!(h.data_bytes, 6);
}

#[test]
fn index_files_are_checked() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config.json", CONFIG.as_bytes());
    let dir = d.path().to_str().unwrap();
    write(
        d.path(),
        "model.safetensors.index.json",
        br#"{"weight_map": {"a": "../../etc/passwd.safetensors"}}"#,
    );
    let e = eval_err(&["--model", dir]);
    assert!(
        e.contains("weight_map.a") && e.contains("plain *.safetensors"),
        "{e}"
    );
    write(
        d.path(),
        "model.safetensors.index.json",
        br#"{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"#,
    );
    let e = eval_err(&["--model", dir]);
    assert!(e.contains("incomplete download"), "{e}");
    // A directory without safetensors keeps kvsim's count and says why.
    std::fs::remove_file(d.path().join("model.safetensors.index.json")).unwrap();
    let r = eval(&["--model", dir]);
    assert_eq!(r["weights_source"], "computed");
    assert!(warnings(&r)
        .iter()
        .any(|w| w.contains("holds no *.safetensors")));
}

#[test]
fn a_200_mb_config_is_refused_unread() {
    let d = tempfile::tempdir().unwrap();
    let f = std::fs::File::create(d.path().join("config.json")).unwrap();
    f.set_len(200 << 20).unwrap(); // sparse: nothing is written
    let e = eval_err(&["--model", d.path().to_str().unwrap()]);
    assert!(
        e.contains("config.json") && e.contains("larger than 64 MiB"),
        "{e}"
    );
    let e = eval_err(&["--model", d.path().join("config.json").to_str().unwrap()]);
    assert!(e.contains("64 MiB"), "{e}");
}

/// A 2-layer gpt-oss (hidden 64, 4 experts of intermediate 96, MXFP4 experts as the release
/// stores them: 16-byte blocks of 32 FP4 values, one E8M0 scale per block, BF16 biases).
const GPT_OSS: &str = r#"{"architectures": ["GptOssForCausalLM"], "model_type": "gpt_oss",
 "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "head_dim": 16, "intermediate_size": 96, "vocab_size": 256, "tie_word_embeddings": false,
 "max_position_embeddings": 65536, "sliding_window": 128, "num_local_experts": 4,
 "num_experts_per_tok": 2, "layer_types": ["sliding_attention", "full_attention"],
 "attention_bias": true, "torch_dtype": "bfloat16",
 "quantization_config": {"quant_method": "mxfp4", "modules_to_not_convert":
  ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"]}}"#;

// vLLM on an H100 (Triton matmul_ogs from 0.12.0) pads each expert's intermediate size to a
// multiple of 64: 96 → 128. Per expert, MXFP4 bytes = r·c/2 + r·c/32: gate_up 192×64 = 6,528 →
// 256×64 = 8,704, down 64×96 = 3,264 → 64×128 = 4,352, the BF16 gate_up bias 384 → 512 B:
// 3,392 B per expert, 4 experts × 2 layers = 27,136 B the stored bytes do not hold.
#[test]
fn padded_mxfp4_experts_of_a_checkpoint_are_added_and_said() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "config.json", GPT_OSS.as_bytes());
    let mut t = vec![(
        "model.embed_tokens.weight".to_string(),
        "BF16",
        vec![256, 64],
    )];
    for i in 0..2 {
        let p = format!("model.layers.{i}.mlp.experts.");
        t.push((format!("{p}gate_up_proj_blocks"), "U8", vec![4, 192, 2, 16]));
        t.push((format!("{p}gate_up_proj_scales"), "U8", vec![4, 192, 2]));
        t.push((format!("{p}gate_up_proj_bias"), "BF16", vec![4, 192]));
        t.push((format!("{p}down_proj_blocks"), "U8", vec![4, 64, 3, 16]));
        t.push((format!("{p}down_proj_scales"), "U8", vec![4, 64, 3]));
        t.push((format!("{p}down_proj_bias"), "BF16", vec![4, 64]));
    }
    let stored: u64 = t
        .iter()
        .map(|(_, dt, s)| s.iter().product::<u64>() * bits(dt) / 8)
        .sum();
    write(d.path(), "model.safetensors", &safetensors(&t));
    let r = eval(&["--model", d.path().to_str().unwrap()]);
    assert_eq!(r["weights_source"], "checkpoint");
    // Beside them the rope table in FP32 (vLLM gpt_oss.py passes dtype=torch.float32):
    // 65,536 × 16 × 4 B; and what the Triton kernel's Hopper swizzle adds after loading
    // (vllm.rs `moe_layer_extra`): values 4 · (256 · 64 + 64 · 64) − 4 · (256 · 32 + 64 · 64) =
    // 32,768 B, scales 4 · (256 · 2 + 256 · 4) = 6,144 B, FP32 biases 4 · (256 + 64) · 2 =
    // 2,560 B: 41,472 B a layer, 82,944 B.
    let rope = 65_536 * 16 * 4;
    assert_eq!(stored_weights(&r), stored + 27_136 + rope + 82_944);
    let w = warnings(&r);
    assert!(
        w.iter()
            .any(|w| w.contains("stores its MXFP4 routed experts unpadded")
                && w.contains("multiple of 64")
                && w.contains("(27,136 B) more than its stored share")),
        "{w:?}"
    );
    // Without padding (SGLang here), the stored bytes stand, and SGLang's FP32 rope table on CUDA.
    let s = eval(&["--model", d.path().to_str().unwrap(), "--engine", "sglang"]);
    // SGLang's weights measurement also counts the free space of their allocator segments.
    let segments = s["weight_segments_bytes_per_chip"].as_u64().unwrap();
    assert_eq!(
        s["weights_bytes_per_chip"].as_u64().unwrap(),
        stored + rope + segments
    );
}

/// The weights figure less what the caching allocator's rounding adds to it (the engine's
/// measurement counts it; src/engine/allocator.rs tests it by hand): the stored bytes and
/// position tables these tests check.
fn stored_weights(r: &Value) -> u64 {
    r["weights_bytes_per_chip"].as_u64().unwrap()
        - r["weight_segments_bytes_per_chip"].as_u64().unwrap()
}
