//! The precision a checkpoint is published in, read from `dtype` / `torch_dtype` and the
//! `quantization_config` blocks of each method, as the named public checkpoints write them; and
//! the bytes of the new weight formats, by hand.

use kvsim::model::hf;
use kvsim::precision::{TensorGroup as G, WeightFormat as W};
use serde_json::{json, Value};

const LLAMA: &str = include_str!("../configs/models/llama-3.1-8b.json");
const QWEN_MOE: &str = include_str!("../configs/models/qwen3-30b-a3b.json");

/// `base` with `quantization_config` (and any other top-level fields) replaced.
fn with(base: &str, extra: Value) -> String {
    let mut v: Value = serde_json::from_str(base).unwrap();
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v.to_string()
}

fn plan(base: &str, extra: Value) -> kvsim::error::Result<kvsim::precision::PrecisionPlan> {
    hf::import("config.json", "q", &with(base, extra)).map(|m| m.default_plan)
}

fn err(base: &str, extra: Value) -> String {
    plan(base, extra).unwrap_err().to_string()
}

// TheBloke/Llama-2-7B-GPTQ (AutoGPTQ): 4 bits, group 128, qzeros and g_idx stored.
#[test]
fn gptq_4bit() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"bits": 4, "group_size": 128, "damp_percent": 0.1,
            "desc_act": false, "sym": true, "true_sequential": true, "model_name_or_path": null,
            "model_file_base_name": "model", "quant_method": "gptq"}}),
    )
    .unwrap();
    let f = W::IntGroup {
        bits: 4,
        group: 128,
        zeros: true,
        g_idx: true,
    };
    for g in [G::Attention, G::DenseFfn] {
        assert_eq!(p.weights[g], f);
    }
    assert_eq!(p.weights[G::Embeddings], W::Bf16);
}

// The issue: GPTQ `bits: 8` was counted as 4-bit (e.g. TheBloke/*-GPTQ gptq-8bit-128g-actorder_True
// branches: bits 8, group_size 128, desc_act true).
#[test]
fn gptq_8bit_is_8bit() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"bits": 8, "group_size": 128, "desc_act": true,
            "sym": true, "quant_method": "gptq"}}),
    )
    .unwrap();
    assert_eq!(
        p.weights[G::DenseFfn],
        W::IntGroup {
            bits: 8,
            group: 128,
            zeros: true,
            g_idx: true
        }
    );
    // group_size -1: one group per output channel.
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"bits": 3, "group_size": -1, "quant_method": "gptq"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::Attention].to_string(), "int3-ch-zp-gidx");
    assert!(err(
        LLAMA,
        json!({"quantization_config": {"bits": 5, "quant_method": "gptq"}})
    )
    .contains("quantization_config.bits: found 5, expected 2, 3, 4 or 8 bits"));
}

// TheBloke/Llama-2-7B-AWQ (AutoAWQ GEMM): zero_point true, group 128, 4 bits.
#[test]
fn awq() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"quant_method": "awq", "zero_point": true,
            "group_size": 128, "bits": 4, "version": "gemm"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::DenseFfn].to_string(), "int4-g128-zp");
    assert!(err(
        LLAMA,
        json!({"quantization_config": {"quant_method": "awq", "bits": 8, "group_size": 128}})
    )
    .contains("AWQ is 4-bit only"));
}

// RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8 (compressed-tensors): int8 channel weights,
// lm_head ignored. The issue: an 8-bit scheme left a dense Llama in BF16.
#[test]
fn compressed_tensors_int8_channel() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"config_groups": {"group_0": {
            "input_activations": {"dynamic": true, "num_bits": 8, "strategy": "token",
                "symmetric": true, "type": "int"},
            "targets": ["Linear"],
            "weights": {"dynamic": false, "num_bits": 8, "observer": "mse", "strategy": "channel",
                "symmetric": true, "type": "int"}}},
            "format": "int-quantized", "ignore": ["lm_head"], "quant_method": "compressed-tensors",
            "quantization_status": "compressed"}}),
    )
    .unwrap();
    for g in [G::Attention, G::DenseFfn] {
        assert_eq!(p.weights[g].to_string(), "int8-ch");
    }
    assert_eq!(p.weights[G::Embeddings], W::Bf16);
}

// moonshotai/Kimi-K2.5 text_config (compressed-tensors pack-quantized): INT4 g32 on Linear,
// attention, shared experts and dense MLPs ignored by regex → only routed experts are INT4.
#[test]
fn compressed_tensors_kimi_ignore_regexes() {
    let p = plan(
        QWEN_MOE,
        json!({"quantization_config": {"config_groups": {"group_0": {"input_activations": null,
            "output_activations": null, "targets": ["Linear"], "weights": {"actorder": null,
            "block_structure": null, "dynamic": false, "group_size": 32, "num_bits": 4,
            "observer": "minmax", "observer_kwargs": {}, "strategy": "group", "symmetric": true,
            "type": "int"}}}, "format": "pack-quantized", "ignore": ["re:.*self_attn.*",
            "re:.*shared_experts.*", "re:.*mlp\\.(gate|up|gate_up|down)_proj.*", "re:.*lm_head.*",
            "re:vision_tower.*", "re:mm_projector.*"], "kv_cache_scheme": null,
            "quant_method": "compressed-tensors", "quantization_status": "compressed"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::RoutedExperts], W::Int4 { group: 32 });
    assert_eq!(p.weights[G::Attention], W::Bf16);
    assert_eq!(p.weights[G::DenseFfn], W::Bf16);
    assert_eq!(p.weights[G::SharedExperts], W::Bf16);
}

// The issue: Qwen3-30B-A3B with an 8-bit compressed-tensors scheme got INT4 experts (e.g.
// RedHatAI/Qwen3-30B-A3B-quantized.w8a8: int8 channel on Linear, gates ignored).
#[test]
fn compressed_tensors_8bit_moe_is_not_int4() {
    let p = plan(
        QWEN_MOE,
        json!({"quantization_config": {"config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 8, "strategy": "channel", "symmetric": true, "type": "int"}}},
            "ignore": ["lm_head", "re:.*mlp.gate$"], "quant_method": "compressed-tensors"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::RoutedExperts].to_string(), "int8-ch");
    assert_eq!(p.weights[G::Attention].to_string(), "int8-ch");
}

// RedHatAI/*-FP8-dynamic: float 8-bit per-channel is not modelled → an error, not a guess;
// NVFP4 (RedHatAI/*-NVFP4): float 4-bit tensor_group 16.
#[test]
fn compressed_tensors_float_schemes() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 4, "strategy": "tensor_group", "group_size": 16,
            "symmetric": true, "type": "float"}}}, "ignore": ["lm_head"],
            "quant_method": "compressed-tensors"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::DenseFfn], W::Nvfp4);
    let e = err(
        LLAMA,
        json!({"quantization_config": {"config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 8, "strategy": "channel", "type": "float"}}},
            "quant_method": "compressed-tensors"}}),
    );
    assert!(e.contains("config_groups.group_0.weights.type"), "{e}");
}

// nvidia/Llama-3.1-8B-Instruct-FP4 (ModelOpt): quant_algo NVFP4, lm_head excluded.
#[test]
fn modelopt_nvfp4() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"quant_method": "modelopt", "quant_algo": "NVFP4",
            "kv_cache_quant_algo": "FP8", "group_size": 16, "exclude_modules": ["lm_head"]}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::Attention], W::Nvfp4);
    assert!(err(
        LLAMA,
        json!({"quantization_config": {"quant_method": "modelopt", "quant_algo": "W4A8_AWQ"}})
    )
    .contains("expected NVFP4 or FP8"));
}

// unsloth/llama-3-8b-bnb-4bit: NF4 with double quantisation; LLM.int8 for load_in_8bit.
#[test]
fn bitsandbytes() {
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"bnb_4bit_compute_dtype": "bfloat16",
            "bnb_4bit_quant_type": "nf4", "bnb_4bit_use_double_quant": true,
            "llm_int8_enable_fp32_cpu_offload": false, "llm_int8_has_fp16_weight": false,
            "llm_int8_skip_modules": null, "llm_int8_threshold": 6.0, "load_in_4bit": true,
            "load_in_8bit": false, "quant_method": "bitsandbytes"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::DenseFfn], W::Bnb4 { double_quant: true });
    let p = plan(
        LLAMA,
        json!({"quantization_config": {"load_in_8bit": true, "quant_method": "bitsandbytes"}}),
    )
    .unwrap();
    assert_eq!(p.weights[G::DenseFfn], W::Int8);
    assert!(err(
        LLAMA,
        json!({"quantization_config": {"quant_method": "bitsandbytes"}})
    )
    .contains("exactly one of load_in_4bit and load_in_8bit"));
}

// transformers >= 4.56 writes `dtype` instead of `torch_dtype`.
#[test]
fn dtype_key_is_read() {
    let mut v: Value = serde_json::from_str(LLAMA).unwrap();
    v.as_object_mut().unwrap().remove("torch_dtype");
    v["dtype"] = json!("float16");
    let p = hf::import("config.json", "q", &v.to_string())
        .unwrap()
        .default_plan;
    assert_eq!(p.weights[G::DenseFfn], W::Fp16);
    v["torch_dtype"] = json!("bfloat16");
    let e = hf::import("config.json", "q", &v.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("torch_dtype") && e.contains("the same dtype as dtype"),
        "{e}"
    );
    // A quantization_config without a method cannot be read: an error, not BF16.
    assert!(err(LLAMA, json!({"quantization_config": {"bits": 4}})).contains("quant_method"));
}

// Bytes by hand for a 4096 × 4096 matrix (n = 16,777,216).
#[test]
fn new_format_bytes() {
    let n: u128 = 4096 * 4096;
    // GPTQ 4-bit g128: n/2 packed + 4096·32 fp16 scales + 4096·32 4-bit zeros + 4096 int32 g_idx.
    let gptq4 = W::IntGroup {
        bits: 4,
        group: 128,
        zeros: true,
        g_idx: true,
    };
    assert_eq!(
        gptq4.matrix_bytes(4096, 4096),
        8_388_608 + 262_144 + 65_536 + 16_384
    );
    // GPTQ 3-bit g128: 3n/8 + scales + 3-bit zeros (131,072·3/8) + g_idx.
    let gptq3 = W::IntGroup {
        bits: 3,
        group: 128,
        zeros: true,
        g_idx: true,
    };
    assert_eq!(
        gptq3.matrix_bytes(4096, 4096),
        6_291_456 + 262_144 + 49_152 + 16_384
    );
    // INT8 per channel with a 16-bit scale per row.
    assert_eq!(
        W::int_group(8, 0, false, false).matrix_bytes(4096, 4096),
        n + 8192
    );
    // INT2 g64 symmetric: n/4 + 4096·64·2.
    assert_eq!(
        W::int_group(2, 64, false, false).matrix_bytes(4096, 4096),
        4_194_304 + 524_288
    );
    // bitsandbytes NF4: one fp32 absmax per 64 (262,144 blocks); double-quantised: one byte per
    // block plus one fp32 per 256 blocks (1,024).
    assert_eq!(
        W::Bnb4 {
            double_quant: false
        }
        .matrix_bytes(4096, 4096),
        8_388_608 + 1_048_576
    );
    assert_eq!(
        W::Bnb4 { double_quant: true }.matrix_bytes(4096, 4096),
        8_388_608 + 262_144 + 4_096
    );
    // 4-bit symmetric groups have one name; names round-trip.
    assert_eq!(W::int_group(4, 32, false, false), W::Int4 { group: 32 });
    for f in [gptq4, gptq3, W::Bnb4 { double_quant: true }] {
        assert_eq!(f.to_string().parse::<W>().unwrap(), f);
    }
    assert!("int5-g128".parse::<W>().is_err());
}

// Storage kvsim does not model is refused: a quantised lm_head (GPTQModel `lm_head: true`),
// per-module overrides (GPTQModel `dynamic`), 2:4 sparsity (compressed-tensors `sparsity_config`).
#[test]
fn unmodelled_storage_is_refused() {
    let e = err(
        LLAMA,
        json!({"quantization_config": {"bits": 4, "group_size": 128, "lm_head": true,
            "quant_method": "gptq"}}),
    );
    assert!(e.contains("quantization_config.lm_head"), "{e}");
    let e = err(
        LLAMA,
        json!({"quantization_config": {"bits": 4, "group_size": 128, "quant_method": "gptq",
            "dynamic": {"-:.*down_proj.*": {}}}}),
    );
    assert!(e.contains("quantization_config.dynamic"), "{e}");
    let e = err(
        LLAMA,
        json!({"quantization_config": {"config_groups": {"group_0": {"targets": ["Linear"],
            "weights": {"num_bits": 8, "strategy": "channel", "type": "int"}}},
            "quant_method": "compressed-tensors",
            "sparsity_config": {"format": "sparse-24-bitmask", "sparsity_structure": "2:4"}}}),
    );
    assert!(e.contains("quantization_config.sparsity_config"), "{e}");
    // An empty `dynamic` (GPTQModel writes `{}`) and `lm_head: false` are fine.
    assert!(plan(
        LLAMA,
        json!({"quantization_config": {"bits": 4, "group_size": 128, "quant_method": "gptq",
            "dynamic": {}, "lm_head": false}}),
    )
    .is_ok());
}

// A quantization_config key kvsim does not read is named in a warning, never passed over in silence
// (TheBloke/Llama-2-7B-GPTQ's `model_name_or_path` and `model_file_base_name`, and an invented one).
#[test]
fn unread_quantization_keys_are_named() {
    let m = hf::import(
        "config.json",
        "q",
        &with(
            LLAMA,
            json!({"quantization_config": {"quant_method": "gptq", "bits": 4, "group_size": 128,
                "desc_act": false, "sym": true, "model_file_base_name": "model", "frobnicate": 3}}),
        ),
    )
    .unwrap();
    let note = m
        .notes
        .iter()
        .find(|n| n.starts_with("quantization_config:"))
        .unwrap();
    assert!(
        note.contains("frobnicate") && note.contains("model_file_base_name"),
        "{note}"
    );
    assert!(
        !note.contains("bits") && !note.contains("group_size"),
        "{note}"
    );
}
