//! Random extreme configurations driven through evaluate: every figure is correct or an error —
//! never a panic, an overflow or a NaN (tests run with overflow checks on).
use kvsim::catalog::load_chip;
use kvsim::engine::Engine;
use kvsim::evaluate::evaluate;
use kvsim::model::hf;
use kvsim::scenario::Scenario;
use proptest::prelude::*;
use serde_json::json;

fn size() -> impl Strategy<Value = u64> {
    prop_oneof![
        1u64..=8,
        1u64..=4096,
        Just(1u64 << 26),
        (1u64 << 20)..=(1u64 << 26)
    ]
}

/// Head counts and head dims: kvsim accepts up to 2^16.
fn head() -> impl Strategy<Value = u64> {
    prop_oneof![1u64..=8, 1u64..=512, Just(1u64 << 16)]
}

fn config() -> impl Strategy<Value = serde_json::Value> {
    (size(), head(), head(), head(), size(), size(), 0u8..5, head(), size())
        .prop_map(|(hidden, layers, heads, kv_div, ffn, vocab, kind, a, b)| {
            let kv = (heads / kv_div.max(1)).max(1);
            let heads = kv * (heads / kv).max(1);
            match kind {
                0 => json!({"architectures": ["LlamaForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": a, "intermediate_size": ffn, "vocab_size": vocab}),
                1 => json!({"architectures": ["DeepseekV3ForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "intermediate_size": ffn, "vocab_size": vocab, "q_lora_rank": a, "kv_lora_rank": b,
                    "qk_nope_head_dim": a, "qk_rope_head_dim": b, "v_head_dim": a, "n_routed_experts": b, "num_experts_per_tok": 1,
                    "n_shared_experts": 1, "moe_intermediate_size": a, "first_k_dense_replace": 1, "index_n_heads": a,
                    "index_head_dim": b, "index_topk": a}),
                2 => json!({"architectures": ["GptOssForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": a, "intermediate_size": ffn,
                    "vocab_size": vocab, "num_local_experts": b, "num_experts_per_tok": 1, "sliding_window": a,
                    "layer_types": vec!["sliding_attention"; (layers as usize).min(64)]}),
                3 => json!({"architectures": ["Qwen3NextForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                    "num_attention_heads": heads, "num_key_value_heads": kv, "head_dim": a, "intermediate_size": ffn,
                    "vocab_size": vocab, "num_experts": b, "num_experts_per_tok": 1, "moe_intermediate_size": a,
                    "shared_expert_intermediate_size": b, "full_attention_interval": 4, "linear_num_key_heads": a,
                    "linear_num_value_heads": a, "linear_key_head_dim": b, "linear_value_head_dim": b}),
                _ => json!({"architectures": ["DeepseekV4ForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers.min(64),
                    "num_attention_heads": heads, "head_dim": a.max(2), "qk_rope_head_dim": 1, "q_lora_rank": b, "o_lora_rank": a,
                    "o_groups": 1, "sliding_window": b, "vocab_size": vocab, "n_routed_experts": a, "num_experts_per_tok": 1,
                    "moe_intermediate_size": b, "index_n_heads": a, "index_head_dim": b, "index_topk": a,
                    "compress_ratios": vec![4; 64]}),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn extreme_configs_never_panic(cfg in config(), ctx in prop_oneof![Just(1u64), 1u64..=(1 << 20), Just(1u64 << 40)],
                                   tp in prop_oneof![Just(1u64), Just(8), Just(1 << 16)],
                                   engine in prop::sample::select(vec![Engine::vllm(19, 0), Engine::vllm(21, 0), Engine::SGLANG, Engine::TRTLLM, Engine::IDEAL]),
                                   batch in prop_oneof![Just(None), (1u64..=(1 << 32)).prop_map(Some)]) {
        let Ok(model) = hf::import("x.json", "x", &cfg.to_string()) else { return Ok(()) };
        let _ = model.params(true);
        let mut s = Scenario::new(model, load_chip("b200").unwrap(), ctx);
        s.deployment.tp = tp;
        s.deployment.engine = engine;
        s.batch = batch;
        if let Ok(r) = evaluate(&s) {
            prop_assert!(r.max_concurrency.is_finite() || r.max_concurrency == f64::INFINITY);
            prop_assert!(r.sessions_per_replica as u128 * r.kv_bytes_per_session_per_chip as u128 <= r.kv_budget_bytes_per_chip as u128
                || r.kv_bytes_per_session_per_chip == 0);
            if let Some(sp) = &r.speed {
                prop_assert!(!sp.decode_step_seconds.is_nan() && !sp.flops_per_token_decode.is_nan());
            }
        }
    }
}
