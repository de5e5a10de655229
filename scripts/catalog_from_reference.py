#!/usr/bin/env python3
"""Writes configs/models/<id>.json (Hugging Face config.json form) from shared/reference/models.json.

Run by hand when the reference changes: python3 scripts/catalog_from_reference.py ../shared/reference/models.json
Field names follow each architecture's transformers config class. Values the reference left
null stay null, so kvsim reports them as unverified instead of guessing.
"""
import json
import re
import sys
from pathlib import Path

ref = json.loads(Path(sys.argv[1]).read_text())
out = Path(__file__).resolve().parent.parent / "configs" / "models"
out.mkdir(parents=True, exist_ok=True)

# Keys of the reference's nested dicts that are commentary, not config.json fields.
NOT_HF = {"note", "notes", "type", "state_per_layer", "moe_layers", "applies_to", "indexer_present_in",
          "counts", "verified", "scheme", "routed_experts_storage", "qk_head_dim"}
# Renames where the reference used another model family's name for the same field.
RENAME = {
    "Qwen3MoeForCausalLM": {"n_shared_experts": None},
    "Qwen3NextForCausalLM": {"n_shared_experts": None},
    "MixtralForCausalLM": {"n_shared_experts": None, "moe_intermediate_size": None},
    "GptOssForCausalLM": {"n_shared_experts": None, "moe_intermediate_size": None},
    "MiniMaxM2ForCausalLM": {"n_shared_experts": None},
}
ALIASES = {"Kimi-K2-Instruct": "kimi-k2-instruct"}


def model_id(name):
    return name.lower()


for name, m in ref.items():
    if name.startswith("_"):
        continue
    cls = m["architecture_class"].split(" ")[0]
    cfg = {"architectures": [cls], "model_type": m.get("model_type")}
    for key in ["hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                "intermediate_size", "vocab_size", "tie_word_embeddings", "max_position_embeddings",
                "rope_theta", "rope_scaling", "num_nextn_predict_layers", "sliding_window"]:
        cfg[key] = m.get(key)
    if not m.get("head_dim_is_derived"):
        cfg["head_dim"] = m.get("head_dim")
    for sub in ["mla", "moe", "sparse_attention", "linear_attention"]:
        for k, v in (m.get(sub) or {}).items():
            if k in NOT_HF:
                continue
            k2 = RENAME.get(cls, {}).get(k, k)
            if k2 is not None:
                cfg[k2] = v
    lp = m.get("layer_pattern") or {}
    if cls == "GptOssForCausalLM":
        n = m["num_hidden_layers"]
        cfg["layer_types"] = ["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(n)]
        cfg["attention_bias"] = True
    if cls.startswith("Gemma3"):
        n = m["num_hidden_layers"]
        glob = set(lp["global_layers_0indexed"])
        text = {k: v for k, v in cfg.items() if k not in ("architectures",)}
        text["model_type"] = "gemma3_text"
        text["sliding_window_pattern"] = lp["sliding_window_pattern"]
        text["layer_types"] = ["full_attention" if i in glob else "sliding_attention" for i in range(n)]
        text["query_pre_attn_scalar"] = lp["query_pre_attn_scalar"]
        text["rope_local_base_freq"] = lp["rope_local_base_freq"]
        cfg = {"architectures": [cls], "model_type": "gemma3", "text_config": text,
               "tie_word_embeddings": m.get("tie_word_embeddings")}
    if cls == "Qwen2ForCausalLM":
        cfg["use_sliding_window"] = False
        cfg["sliding_window"] = 131072
    if cls == "Qwen3ForCausalLM" or cls == "Qwen3MoeForCausalLM":
        cfg["attention_bias"] = False
    if cls == "Glm4MoeForCausalLM":
        cfg["attention_bias"] = True
        cfg["use_qk_norm"] = True
        cfg["partial_rotary_factor"] = 0.5
    if cls == "MiniMaxM2ForCausalLM":
        cfg["use_qk_norm"] = True
        cfg["qk_norm_type"] = "per_layer"
        cfg["rotary_dim"] = 64
        cfg["num_mtp_modules"] = cfg.pop("num_nextn_predict_layers")
    if cls == "Qwen3NextForCausalLM":
        cfg["full_attention_interval"] = lp["full_attention_interval"]
        cfg["shared_expert_intermediate_size"] = cfg.get("shared_expert_intermediate_size", 512)
    if cls == "KimiLinearForCausalLM":
        cfg["linear_attn_config"] = {
            "kda_layers": lp["kda_layers_1indexed"], "full_attn_layers": lp["full_attn_layers_1indexed"],
            "num_heads": m["linear_attention"]["num_heads"], "head_dim": m["linear_attention"]["head_dim"],
            "short_conv_kernel_size": m["linear_attention"]["short_conv_kernel_size"]}
        cfg["mla_use_nope"] = True
    if cls == "DeepseekV4ForCausalLM":
        cfg["compress_ratios"] = lp["compress_ratios"]
        cfg["compress_rope_theta"] = lp["compress_rope_theta"]
        for k, v in lp["hyper_connections"].items():
            cfg[k] = v
        cfg["expert_dtype"] = "fp4"
    if cls == "MiMoV2FlashForCausalLM":
        glob = set(lp["global_layers_0indexed"])
        cfg["hybrid_layer_pattern"] = [0 if i in glob else 1 for i in range(m["num_hidden_layers"])]
        cfg["swa_num_key_value_heads"] = lp["swa_num_key_value_heads"]
        cfg["v_head_dim"] = lp["v_head_dim"]
    if cls == "MiniMaxText01ForCausalLM":
        # 0 = lightning (linear), 1 = softmax: one softmax layer after every 7 lightning layers.
        every = lp["softmax_attention_every"]
        cfg["attn_type_list"] = [1 if i % every == every - 1 else 0 for i in range(m["num_hidden_layers"])]
        cfg["layernorm_full_attention_every"] = lp["softmax_attention_every"]
    q = m.get("quantization_config")
    if q and q.get("quant_method"):
        cfg["quantization_config"] = {k: v for k, v in q.items() if k not in ("note", "verified")}
        if q["quant_method"] == "compressed-tensors":
            # Kimi-K2-Thinking: INT4 (W4A16, group 32) on routed experts, per the reference.
            cfg["quantization_config"] = {"quant_method": "compressed-tensors", "format": "pack-quantized",
                                          "config_groups": {"group_0": {"targets": ["routed_experts"],
                                                                        "weights": {"num_bits": 4, "group_size": 32, "symmetric": True}}}}
    cfg["torch_dtype"] = "bfloat16"
    cfg["_kvsim_source"] = {"reference": f"shared/reference/models.json#{name}", "source": m.get("source"),
                            "confidence": m.get("confidence"), "notes": m.get("notes"),
                            "stated_total_params": m.get("stated_total_params"),
                            "stated_active_params": m.get("stated_active_params")}
    (out / f"{ALIASES.get(name, model_id(name))}.json").write_text(json.dumps(cfg, indent=2) + "\n")
    print(model_id(name), cls)
