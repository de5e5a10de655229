//! Property tests of the core formulas over random architectures.
use kvsim::catalog::load_chip;
use kvsim::deploy::Deployment;
use kvsim::engine::Engine;
use kvsim::evaluate::evaluate;
use kvsim::model::{hf, Attention, Gqa, Mla, Model, QkNorm};
use kvsim::precision::{KvFormat, WeightFormat};
use kvsim::scenario::Scenario;
use proptest::prelude::*;
use serde_json::json;

/// A random Llama/Mixtral/DeepSeek-style config, built as config.json so the importer is exercised.
fn arb_config() -> impl Strategy<Value = serde_json::Value> {
    (
        1u64..=64,             // head multiple
        prop::sample::select(vec![1u64, 2, 4, 8]), // kv heads
        prop::sample::select(vec![64u64, 128]), // head dim
        1u64..=96,             // layers
        1u64..=64,             // ffn width / 128
        1u64..=200_000,        // vocab
        any::<bool>(),         // MLA?
        0u64..=64,             // experts (0 = dense)
        1u64..=8,              // top-k
        0u64..=2,              // shared experts
    )
        .prop_map(|(hm, kv, hd, layers, ffn, vocab, mla, experts, k, shared)| {
            let heads = kv * hm;
            let hidden = heads * hd;
            if mla {
                json!({"architectures": ["DeepseekV3ForCausalLM"], "hidden_size": hidden,
                       "num_hidden_layers": layers, "num_attention_heads": heads, "num_key_value_heads": heads,
                       "intermediate_size": ffn * 128, "vocab_size": vocab, "q_lora_rank": 256, "kv_lora_rank": 512,
                       "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
                       "n_routed_experts": experts, "num_experts_per_tok": k.min(experts.max(1)),
                       "n_shared_experts": shared, "moe_intermediate_size": 256, "first_k_dense_replace": 1})
            } else if experts > 0 {
                json!({"architectures": ["MixtralForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                       "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": ffn * 128,
                       "vocab_size": vocab, "num_local_experts": experts, "num_experts_per_tok": k.min(experts)})
            } else {
                json!({"architectures": ["LlamaForCausalLM"], "hidden_size": hidden, "num_hidden_layers": layers,
                       "num_attention_heads": heads, "num_key_value_heads": kv, "intermediate_size": ffn * 128,
                       "vocab_size": vocab})
            }
        })
}

fn import(v: &serde_json::Value) -> Model {
    hf::import("generated.json", "generated", &v.to_string()).unwrap()
}

fn scenario(m: Model, context: u64, block: u64, mem_gib: u64) -> Scenario {
    let mut s = Scenario::new(m, load_chip("h200").unwrap(), context);
    s.block_size = Some(block);
    s.overrides.total_memory = Some(mem_gib << 30);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn active_params_never_exceed_total(cfg in arb_config()) {
        let m = import(&cfg);
        for mtp in [false, true] {
            let p = m.params(mtp).unwrap();
            prop_assert!(p.active <= p.total);
            prop_assert!(p.active > 0);
        }
    }

    // Full attention: a session of k·c tokens (c a whole number of blocks) holds exactly k times the KV.
    #[test]
    fn kv_per_session_is_linear_in_context(cfg in arb_config(), blocks in 1u64..512, k in 1u64..16,
                                           block in prop::sample::select(vec![1u64, 16, 128])) {
        let m = import(&cfg);
        let one = evaluate(&scenario(m.clone(), blocks * block, block, 141)).unwrap();
        let many = evaluate(&scenario(m, k * blocks * block, block, 141)).unwrap();
        prop_assert_eq!(many.kv_bytes_per_session_per_chip, k * one.kv_bytes_per_session_per_chip);
        prop_assert_eq!(one.kv_bytes_per_session_per_chip, blocks * block * one.kv_bytes_per_token_per_chip);
    }

    // Whole sessions fit the budget; one more does not.
    #[test]
    fn sessions_fill_the_budget_and_no_more(cfg in arb_config(), context in 1u64..300_000,
                                            mem in 8u64..400, block in prop::sample::select(vec![1u64, 16, 128])) {
        let r = evaluate(&scenario(import(&cfg), context, block, mem)).unwrap();
        let per = r.kv_bytes_per_session_per_chip as u128;
        let budget = r.kv_budget_bytes_per_chip as u128;
        prop_assert!(r.sessions_per_replica as u128 * per <= budget);
        prop_assert!(budget < (r.sessions_per_replica as u128 + 1) * per);
        prop_assert!(r.max_concurrency + 1e-9 >= r.sessions_per_chip);
        prop_assert!(r.max_concurrency < r.sessions_per_chip + 1.0);
    }

    // Memory held by other processes: an engine that budgets from free memory (SGLang) never
    // holds more sessions with more of it held; vLLM V1, which measures from a start-up
    // snapshot, holds the same sessions or, once it refuses to start, none.
    #[test]
    fn other_processes_never_add_sessions(cfg in arb_config(), context in 1u64..100_000,
                                          mem in 8u64..200, held in 0u64..64, more in 1u64..64) {
        let m = import(&cfg);
        for engine in [Engine::parse("sglang", None).unwrap(), Engine::vllm(19, 0)] {
            let mut s = scenario(m.clone(), context, 16, mem);
            s.deployment.engine = engine;
            let none = evaluate(&s).unwrap();
            s.other_processes = held << 28;
            let some = evaluate(&s).unwrap();
            s.other_processes = (held + more) << 28;
            let most = evaluate(&s).unwrap();
            prop_assert!(most.sessions_per_deployment <= some.sessions_per_deployment);
            prop_assert!(some.sessions_per_deployment <= none.sessions_per_deployment);
            if engine.to_string().starts_with("vllm") {
                for r in [&some, &most] {
                    prop_assert!(r.sessions_per_deployment == none.sessions_per_deployment
                        || (r.sessions_per_deployment == 0 && r.warning_codes.contains(&"engine_refuses_start")));
                }
            }
        }
    }

    // An MLA latent is never larger than the full K/V it replaces when it compresses
    // (kv_lora_rank ≤ heads · head_dim), for the same number of heads.
    #[test]
    fn mla_record_not_above_mha(heads in 1u64..=128, rank_frac in 1u64..=8, rope in prop::sample::select(vec![0u64, 32, 64]),
                                nope in prop::sample::select(vec![64u64, 128]), kv in prop::sample::select(vec![KvFormat::Bf16, KvFormat::Fp8, KvFormat::Fp32])) {
        let head_dim = nope + rope;
        let rank = (heads * nope * rank_frac / 8).max(1);
        let mla = Attention::Mla(Mla { heads, q_lora_rank: None, kv_lora_rank: rank, qk_nope_head_dim: nope, qk_rope_head_dim: rope, v_head_dim: nope, indexer: None });
        let mha = Attention::Gqa(Gqa { heads, kv_heads: heads, head_dim, v_head_dim: nope, qkv_bias: false, o_bias: false, qk_norm: QkNorm::None, sinks: false, window: None, q_gate: false });
        let rec = |a: &Attention| a.kv_spec(kv, KvFormat::Bf16, 1).unwrap().record();
        prop_assert!(rec(&mla) <= rec(&mha));
    }

    // Fewer bits never cost more bytes, scales included (layer-shaped matrices: inputs a multiple of 128).
    #[test]
    fn lower_bit_weight_formats_never_use_more_bytes(rows in 1u128..20_000, cols128 in 1u128..160) {
        let cols = cols128 * 128;
        let b = |f: WeightFormat| f.matrix_bytes(rows, cols);
        let sixteen = b(WeightFormat::Bf16);
        prop_assert!(b(WeightFormat::Fp32) > sixteen);
        prop_assert_eq!(b(WeightFormat::Fp16), sixteen);
        let eights = [WeightFormat::Fp8, WeightFormat::Fp8Block128, WeightFormat::Int8];
        let fours = [WeightFormat::Mxfp4, WeightFormat::Nvfp4, WeightFormat::Int4 { group: 32 }, WeightFormat::Int4 { group: 128 }];
        for e in eights {
            prop_assert!(b(e) < sixteen);
            for f in fours {
                prop_assert!(b(f) < b(e), "{} vs {}", f, e);
            }
        }
    }

    #[test]
    fn lower_bit_kv_formats_never_use_more_bytes(cfg in arb_config()) {
        let m = import(&cfg);
        let kv = |f| m.kv_bytes_per_token(f, 1, false).unwrap();
        prop_assert!(kv(KvFormat::Fp32) > kv(KvFormat::Bf16));
        prop_assert!(kv(KvFormat::Bf16) > kv(KvFormat::Fp8));
        prop_assert!(kv(KvFormat::Fp8PerTokenHead) >= kv(KvFormat::Fp8));
        prop_assert!(kv(KvFormat::Nvfp4) < kv(KvFormat::Fp8));
    }

    // More memory never holds fewer sessions; a longer context never holds more.
    #[test]
    fn sessions_monotone(cfg in arb_config(), c in 1u64..100_000, extra in 1u64..100_000, mem in 8u64..200, more in 1u64..200) {
        let m = import(&cfg);
        let base = evaluate(&scenario(m.clone(), c, 16, mem)).unwrap().sessions_per_chip;
        prop_assert!(evaluate(&scenario(m.clone(), c + extra, 16, mem)).unwrap().sessions_per_chip <= base);
        prop_assert!(evaluate(&scenario(m, c, 16, mem + more)).unwrap().sessions_per_chip >= base);
    }

    // Sharding only replicates: the weights summed over every chip are at least the model's.
    #[test]
    fn deployment_bytes_not_below_the_model(cfg in arb_config(), tp_pow in 0u32..4, pp in 1u64..4, dp in 1u64..3, use_ep in any::<bool>()) {
        let m = import(&cfg);
        let tp = 1u64 << tp_pow;
        let ep = if use_ep { tp * dp } else { 1 };
        let mut s = scenario(m.clone(), 4096, 16, 1000);
        s.deployment = Deployment { tp, pp, ep, dp, dp_attention: false, engine: Engine::IDEAL };
        // Layouts the engines refuse are refused here too; the rest must not lose bytes.
        if let Ok(r) = evaluate(&s) {
            let single = m.weight_bytes(&s.plan, false).unwrap().total();
            prop_assert!(r.weights_bytes_per_deployment >= single);
            prop_assert!(r.weights_bytes_per_chip <= r.weights_bytes_per_deployment);
            // One stage: every chip holds its TP shard. With stages the per-chip figure is the
            // binding stage's, which may be a middle stage without the embeddings (it was
            // asserted against single / pp: 10 layers of hidden 64 and a 111,361 vocabulary
            // at PP3 bind on a middle stage of a few hundred KB against about 9.8 MB).
            if pp == 1 {
                prop_assert!(r.weights_bytes_per_chip * r.chips >= single);
            }
        }
    }

    // Deployments: longer context never more sessions, more memory never fewer — with the engine's
    // knobs fixed (their defaults step with the GPU's size: vLLM batches 8192 tokens from 70 GiB,
    // SGLang reserves at least 10 GiB above 60 GiB, so a slightly larger GPU can hold less).
    #[test]
    fn deployment_sessions_monotone(cfg in arb_config(), tp_pow in 0u32..4, c in 1u64..200_000, extra in 1u64..200_000,
                                    mem in 16u64..200, more in 1u64..100,
                                    engine in prop::sample::select(vec![Engine::vllm(19, 0), Engine::SGLANG, Engine::TRTLLM, Engine::IDEAL])) {
        let m = import(&cfg);
        let d = Deployment { tp: 1 << tp_pow, engine, ..Deployment::default() };
        let run = |ctx: u64, gib: u64| {
            let mut s = scenario(m.clone(), ctx, 16, gib);
            s.block_size = None;
            s.deployment = d;
            s.memory_fraction = Some(0.88);
            s.max_num_batched_tokens = Some(8192);
            evaluate(&s).map(|r| r.sessions_per_deployment)
        };
        if let Ok(base) = run(c, mem) {
            prop_assert!(run(c + extra, mem).unwrap() <= base);
            prop_assert!(run(c, mem + more).unwrap() >= base);
        }
    }

    // A window-only model stops needing more memory once the context passes the window
    // (vLLM: window − 1 + max_num_batched_tokens; ideal engine: the window itself).
    #[test]
    fn window_only_capacity_constant_past_the_window(window in 16u64..8192, extra1 in 0u64..100_000, extra2 in 0u64..100_000,
                                                     ideal in any::<bool>()) {
        let cfg = json!({"architectures": ["MistralForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 32000,
            "sliding_window": window});
        let m = import(&cfg);
        // vLLM (latest): two batches of 8192 in flight under async scheduling.
        let reach = if ideal { window } else { window - 1 + 2 * 8192 };
        let run = |ctx: u64| {
            let mut s = scenario(m.clone(), ctx, 16, 80);
            s.block_size = None;
            if ideal { s.deployment.engine = Engine::IDEAL; }
            evaluate(&s).unwrap()
        };
        let (a, b) = (run(reach + extra1), run(reach + extra2));
        prop_assert_eq!(a.sessions_per_replica, b.sessions_per_replica);
        prop_assert_eq!(a.kv_bytes_per_session_per_chip, b.kv_bytes_per_session_per_chip);
    }

    // A hybrid's KV per session lies between its all-window and all-full versions.
    #[test]
    fn hybrid_between_all_window_and_all_full(types in prop::collection::vec(any::<bool>(), 2..40), window in 1u64..4096, ctx in 1u64..200_000) {
        let n = types.len();
        let cfg = |t: Vec<&str>| json!({"architectures": ["GptOssForCausalLM"], "hidden_size": 2880, "num_hidden_layers": n,
            "num_attention_heads": 64, "num_key_value_heads": 8, "head_dim": 64, "intermediate_size": 2880, "vocab_size": 201088,
            "num_local_experts": 4, "num_experts_per_tok": 2, "sliding_window": window, "layer_types": t});
        let name = |w: bool| if w { "sliding_attention" } else { "full_attention" };
        let bytes = |t: Vec<&str>| {
            let mut s = scenario(import(&cfg(t)), ctx, 1, 200);
            s.deployment.engine = Engine::IDEAL;
            evaluate(&s).unwrap().kv_bytes_per_session_per_chip
        };
        let hybrid = bytes(types.iter().map(|&w| name(w)).collect());
        let all_window = bytes(vec!["sliding_attention"; n]);
        let all_full = bytes(vec!["full_attention"; n]);
        prop_assert!(all_window <= hybrid && hybrid <= all_full, "{} {} {}", all_window, hybrid, all_full);
    }

    // Linear-attention state does not depend on the context: only the full layers grow.
    #[test]
    fn linear_state_independent_of_context(k_heads in prop::sample::select(vec![4u64, 8, 16]), v_mult in 1u64..4,
                                           dim in prop::sample::select(vec![64u64, 128]), c1 in 1u64..100_000, c2 in 1u64..100_000) {
        let cfg = json!({"architectures": ["Qwen3NextForCausalLM"], "hidden_size": 2048, "num_hidden_layers": 8,
            "num_attention_heads": 16, "num_key_value_heads": 2, "head_dim": 256, "intermediate_size": 5120, "vocab_size": 151936,
            "num_experts": 16, "num_experts_per_tok": 2, "moe_intermediate_size": 512, "shared_expert_intermediate_size": 512,
            "full_attention_interval": 4, "linear_num_key_heads": k_heads, "linear_num_value_heads": k_heads * v_mult,
            "linear_key_head_dim": dim, "linear_value_head_dim": dim, "linear_conv_kernel_dim": 4});
        let m = import(&cfg);
        let bytes = |ctx: u64| {
            let mut s = scenario(m.clone(), ctx, 1, 200);
            s.deployment.engine = Engine::IDEAL;
            evaluate(&s).unwrap().kv_bytes_per_session_per_chip
        };
        // 2 full layers of 2 KV heads × 256 × (K+V) × 2 B = 2,048 B per token each.
        let full_per_token = 2 * 2048;
        prop_assert_eq!(bytes(c1) as i128 - bytes(c2) as i128, (c1 as i128 - c2 as i128) * full_per_token);
    }

    // FLOPs never fall as the context grows (decode and prefill).
    #[test]
    fn flops_non_decreasing_in_context(cfg in arb_config(), c in 1u64..500_000, extra in 1u64..500_000) {
        let m = import(&cfg);
        prop_assert!(kvsim::compute::flops_per_token_decode(&m, c + extra) >= kvsim::compute::flops_per_token_decode(&m, c));
        prop_assert!(kvsim::compute::flops_prefill(&m, (c + extra).min(200_000)) >= kvsim::compute::flops_prefill(&m, c.min(200_000)));
    }

    // A decode step never gets faster with more sessions in it, and the bound is the slower side:
    // compute exactly when the step's arithmetic intensity exceeds the chip's ridge point.
    #[test]
    fn decode_step_monotone_in_batch_and_bound_by_ridge(cfg in arb_config(), c in 1u64..50_000, b in 1u64..2048, more in 1u64..2048) {
        let m = import(&cfg);
        let run = |batch: u64| {
            let mut s = scenario(m.clone(), c, 16, 141);
            s.batch = Some(batch);
            evaluate(&s).unwrap().speed.unwrap()
        };
        let (x, y) = (run(b), run(b + more));
        prop_assert!(y.decode_step_seconds >= x.decode_step_seconds * (1.0 - 1e-12));
        let compute_bound = x.compute_seconds_per_step >= x.memory_seconds_per_step;
        prop_assert_eq!(x.decode_bound == "compute", compute_bound);
    }
}
