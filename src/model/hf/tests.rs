use super::table::{AttnRule, LayerKinds, OBias, QkNormRule, QkvBias};
use super::*;
use crate::catalog::MODELS;
use crate::precision::{KvFormat, TensorGroup};
use serde_json::json;

/// Catalog configs that kvsim refuses because a field is unverified (null): a stand-in value lets
/// their rows be exercised here.
const STAND_INS: &[(&str, &str, u64)] = &[("minimax-text-01", "num_key_value_heads", 8)];

/// A row without a catalog model.
fn gemma3_text() -> Value {
    json!({
        "architectures": ["Gemma3ForCausalLM"],
        "hidden_size": 1152, "num_hidden_layers": 26, "num_attention_heads": 4,
        "num_key_value_heads": 1, "head_dim": 256, "intermediate_size": 6912,
        "vocab_size": 262144, "sliding_window": 512, "sliding_window_pattern": 6
    })
}

fn catalog(id: &str) -> Value {
    let (_, text) = MODELS
        .iter()
        .find(|(m, _)| *m == id)
        .unwrap_or_else(|| panic!("{id} is not in the catalog"));
    parse_strict(id, text).unwrap()
}

fn read(id: &str) -> BTreeSet<String> {
    import_value(id, id, &catalog(id)).unwrap().read
}

#[test]
fn every_row_imports_a_config() {
    let mut configs: Vec<(String, Value)> = MODELS
        .iter()
        .map(|(id, _)| {
            let mut v = catalog(id);
            for (_, key, value) in STAND_INS.iter().filter(|(m, ..)| m == id) {
                v[*key] = json!(value);
            }
            (id.to_string(), v)
        })
        .collect();
    configs.push(("gemma3-text".into(), gemma3_text()));
    // Rows without a catalog model: their test configs.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/configs");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let text = std::fs::read_to_string(&p).unwrap();
        configs.push((p.display().to_string(), parse_strict("t", &text).unwrap()));
    }
    let mut imported = BTreeSet::new();
    for (id, v) in &configs {
        let m = import_value(id, id, v)
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .model;
        assert_eq!(*m.architecture, v["architectures"][0], "{id}");
        imported.insert(m.architecture);
    }
    for arch in ARCHITECTURES {
        assert!(
            imported.contains(arch.class),
            "no config imports {}",
            arch.class
        );
    }
}

#[test]
fn stand_ins_are_still_needed() {
    // If a catalog config gets its verified value, drop its stand-in.
    for (id, key, _) in STAND_INS {
        let e = import_value(id, id, &catalog(id)).unwrap_err().to_string();
        assert!(e.contains(key), "{id}: {e}");
    }
}

#[test]
fn table_rows_are_consistent() {
    let classes: BTreeSet<_> = supported().collect();
    assert_eq!(
        classes.len(),
        ARCHITECTURES.len(),
        "a class is listed twice"
    );
    for a in ARCHITECTURES {
        // Compressed attention has no standard layer: only its layer kinds can build it.
        assert_eq!(
            a.attention == AttnRule::Compressed,
            a.layer_kinds == LayerKinds::DeepseekV4,
            "{}",
            a.class
        );
        // GQA-only rules are never read for MLA or compressed layers: state them as off.
        if a.attention != AttnRule::Gqa {
            assert_eq!(a.qkv_bias, QkvBias::Never, "{}", a.class);
            assert_eq!(a.o_bias, OBias::Never, "{}", a.class);
            assert_eq!(a.qk_norm, QkNormRule::None, "{}", a.class);
            assert!(!a.sinks && !a.q_gate, "{}", a.class);
        }
        // Only OLMo's weightless LayerNorms leave a layer without norm weights; the final norm
        // follows the layer norms' kind.
        assert!(
            a.norms_per_layer > 0 || a.class == "OlmoForCausalLM",
            "{}",
            a.class
        );
        assert_eq!(a.final_norm == 0, a.norms_per_layer == 0, "{}", a.class);
    }
}

#[test]
fn unknown_class_lists_the_table() {
    let mut v = catalog("llama-3.1-8b");
    v["architectures"] = json!(["FooForCausalLM"]);
    // Without a standard decoder field it is not read as a generic decoder.
    v.as_object_mut().unwrap().remove("intermediate_size");
    let e = import_value("x.json", "x", &v).unwrap_err();
    let Error::UnknownArchitecture {
        class, supported, ..
    } = e
    else {
        panic!("{e}")
    };
    assert!(class.starts_with("FooForCausalLM") && class.contains("intermediate_size"));
    let listed: Vec<&str> = supported.split(", ").collect();
    assert_eq!(listed, super::supported().collect::<Vec<_>>());
    assert_eq!(listed.len(), 90);
}

#[test]
fn import_matches_import_value() {
    for (id, text) in MODELS.iter().take(5) {
        let a = import(id, id, text);
        let b = import_value(id, id, &parse_strict(id, text).unwrap()).map(|i| i.model);
        assert_eq!(a, b, "{id}");
    }
}

#[test]
fn read_log_of_a_plain_model() {
    let r = read("llama-3.1-8b");
    for key in [
        "architectures",
        "hidden_size",
        "num_hidden_layers",
        "num_key_value_heads",
        "intermediate_size",
        "tie_word_embeddings",
        "torch_dtype",
        "layer_types",
    ] {
        assert!(r.contains(key), "{key} missing from {r:?}");
    }
    // No layer slides, no MTP rule, and the rope base does not change memory (its table
    // length does: max_position_embeddings and rope_scaling are read).
    for key in ["sliding_window", "num_nextn_predict_layers", "rope_theta"] {
        assert!(!r.contains(key), "{key} in {r:?}");
    }
}

#[test]
fn read_log_follows_text_config() {
    let r = read("gemma-3-27b");
    for key in [
        "text_config",
        "text_config.num_hidden_layers",
        "text_config.layer_types",
        "text_config.sliding_window",
        "text_config.tie_word_embeddings",
        "torch_dtype",
        // Read to catch a text_config dtype that disagrees with the top-level one.
        "text_config.torch_dtype",
    ] {
        assert!(r.contains(key), "{key} missing from {r:?}");
    }
    // layer_types settles the windows, and text_config's own tie flag is the one used.
    for key in [
        "num_hidden_layers",
        "text_config.sliding_window_pattern",
        "tie_word_embeddings",
    ] {
        assert!(!r.contains(key), "{key} in {r:?}");
    }
}

#[test]
fn read_log_is_lazy() {
    // Qwen2.5: use_sliding_window is false, so neither the window nor its first layer matters.
    let r = read("qwen2.5-72b-instruct");
    assert!(r.contains("use_sliding_window"));
    assert!(!r.contains("max_window_layers") && !r.contains("sliding_window"));
    // Mistral slides on every layer.
    assert!(read("mistral-7b-v0.1").contains("sliding_window"));
    // Qwen3-30B-A3B is MoE in every layer: the dense width is never used.
    let r = read("qwen3-30b-a3b");
    assert!(r.contains("moe_intermediate_size") && r.contains("decoder_sparse_step"));
    assert!(!r.contains("intermediate_size"));
    // MLA reads neither GQA nor window fields.
    let r = read("deepseek-v3");
    assert!(r.contains("kv_lora_rank") && r.contains("num_nextn_predict_layers"));
    assert!(!r.contains("num_key_value_heads") && !r.contains("layer_types"));
    assert!(r.contains("quantization_config.quant_method"));
    assert!(r.contains("quantization_config.weight_block_size"));
    // Nested hybrid config.
    let r = read("kimi-linear-48b-a3b");
    assert!(r.contains("linear_attn_config.full_attn_layers"));
    assert!(r.contains("num_experts_per_token") && !r.contains("num_experts_per_tok"));
}

#[test]
fn window_fields_are_read_only_when_used() {
    let mut v = gemma3_text();
    let with = import_value("g.json", "g", &v).unwrap().read;
    assert!(with.contains("sliding_window") && with.contains("sliding_window_pattern"));
    // One global layer every layer: nothing slides.
    v["sliding_window_pattern"] = json!(1);
    let without = import_value("g.json", "g", &v).unwrap().read;
    assert!(without.contains("sliding_window_pattern"));
    assert!(!without.contains("sliding_window"));
    // Qwen: max_window_layers only under use_sliding_window.
    let mut q = catalog("qwen3-8b");
    q["use_sliding_window"] = json!(true);
    q["sliding_window"] = json!(4096);
    let r = import_value("q.json", "q", &q).unwrap().read;
    assert!(r.contains("max_window_layers") && r.contains("sliding_window"));
}

#[test]
fn presence_checks_are_logged() {
    // MiniMax-Text-01 picks its expert width by whether intermediate_size is present.
    let mut v = catalog("minimax-text-01");
    v["num_key_value_heads"] = json!(8);
    let r = import_value("m.json", "m", &v).unwrap().read;
    assert!(r.contains("intermediate_size"));
    // An explicit null is refused, and the error names the field.
    let mut l = catalog("llama-3.1-8b");
    l["num_key_value_heads"] = Value::Null;
    let e = import_value("l.json", "l", &l).unwrap_err().to_string();
    assert!(e.contains("l.json: num_key_value_heads"), "{e}");
}

#[test]
fn unknown_class_with_standard_fields_reads_as_generic() {
    let mut v = catalog("llama-3.1-8b");
    v["architectures"] = json!(["FooForCausalLM"]);
    v["num_local_experts"] = json!(8);
    let m = import_value("x.json", "x", &v).unwrap().model;
    let llama = import_value("l.json", "l", &catalog("llama-3.1-8b"))
        .unwrap()
        .model;
    assert_eq!(m.params(false).unwrap(), llama.params(false).unwrap());
    assert_eq!(&*m.architecture, "FooForCausalLM (as LlamaForCausalLM)");
    assert_eq!(m.notes.len(), 2, "{:?}", m.notes);
    assert!(m.notes[0].contains("generic Llama-like decoder"));
    assert!(m.notes[1].contains("num_local_experts"));
}

// The case: Gemma-3-12B's published text_config omits vocab_size and head_dim, which
// Gemma3TextConfig defaults to 262,208 and 256 (not 3840 / 16 = 240).
#[test]
fn missing_fields_take_the_config_class_default() {
    let v = json!({
        "architectures": ["Gemma3ForConditionalGeneration"],
        "text_config": {"hidden_size": 3840, "intermediate_size": 15360, "num_attention_heads": 16,
            "num_hidden_layers": 48, "num_key_value_heads": 8, "sliding_window": 1024},
        "vision_config": {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27,
            "num_attention_heads": 16, "image_size": 896, "patch_size": 14, "vision_use_head": false}
    });
    let m = import_value("g.json", "g", &v).unwrap().model;
    assert_eq!(m.vocab, 262_208);
    let Attention::Gqa(g) = &m.groups[0].attention else {
        panic!()
    };
    assert_eq!(g.head_dim, 256);
    // A field with neither a value nor a default is an error naming it.
    let mut l = catalog("llama-3.1-8b");
    l.as_object_mut().unwrap().remove("rms_norm_eps");
    l.as_object_mut().unwrap().remove("num_key_value_heads");
    assert!(import_value("l.json", "l", &l).is_ok());
    let mut q = catalog("qwen3-30b-a3b");
    q.as_object_mut().unwrap().remove("moe_intermediate_size");
    // Qwen3MoeConfig defaults moe_intermediate_size to 768: taken, not an error.
    let m = import_value("q.json", "q", &q).unwrap().model;
    assert!(m.ffn_summary().contains("768"), "{}", m.ffn_summary());
}

// tests/data/configs/gemma3-vl.json: SigLIP hidden 32, intermediate 48, 2 layers, image 64, patch
// 8, no head; text hidden 64. By hand: patch conv 32·3·8·8 = 6,144 + bias 32; positions
// (64/8)² · 32 = 2,048; per layer q/k/v 3,072 + 96, o 1,024 + 32, two LayerNorms 128, fc1
// 1,536 + 48, fc2 1,536 + 32 = 7,504 (× 2); post LayerNorm 64; projector 32 · 64 + 32 = 2,080:
// 25,376 elements. At TP2 one rank holds positions 32 · 32 = 1,024 (64 rows, padded to 64, split),
// per layer 1,536 + 48 + 512 + 32 + 128 + 768 + 24 + 768 + 32 = 3,848 (× 2), the rest whole:
// 17,040 elements, 34,080 B in BF16.
#[test]
fn siglip_vision_tower_by_hand() {
    use crate::model::{Sharding, Stage};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/configs/gemma3-vl.json"
    );
    let m = import(path, "g", &std::fs::read_to_string(path).unwrap()).unwrap();
    let all: u64 = m.vision.iter().map(|t| t.elements()).sum();
    assert_eq!(all, 25_376);
    assert!(m.vision.iter().all(|t| t.active == 0));
    let tp2 = Sharding {
        attention_tp: 2,
        tp: 2,
        expert_tp: 2,
        ep: 1,
        ..Sharding::NONE
    };
    let w = m
        .stage_weight_bytes(&Stage::whole(m.layers()), &m.default_plan, &tp2, false)
        .unwrap();
    assert_eq!(w[TensorGroup::Vision], 34_080);
    // Every pipeline stage holds the encoder.
    for s in m.pp_stages(2) {
        let w = m
            .stage_weight_bytes(&s, &m.default_plan, &Sharding::NONE, false)
            .unwrap();
        assert_eq!(w[TensorGroup::Vision], 2 * 25_376);
    }
}

// Mistral3 with text_config.tie_word_embeddings false and no top-level flag: transformers 5.23.0
// ties by Mistral3Config's default (true, 222,976 parameters for this config); kvsim follows
// text_config (untied: + 256 × 64 = 16,384 parameters) and warns.
#[test]
fn wrapper_tie_disagreement_warns() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/configs/mistral3.json"
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let m = import_value("m", "m", &v).unwrap().model;
    assert!(m.notes.is_empty() && m.tied_embeddings);
    v["text_config"]["tie_word_embeddings"] = json!(false);
    let m = import_value("m", "m", &v).unwrap().model;
    assert!(!m.tied_embeddings);
    assert_eq!(m.params(false).unwrap().total, 222_976 + 16_384);
    assert_eq!(m.notes.len(), 1);
    assert!(m.notes[0].contains("(the class default)"), "{}", m.notes[0]);
}

/// Hunyuan cross-layer attention (use_cla, cla_share_factor 2) by hand: hidden 64, 4 layers,
/// 4 heads, 2 KV heads × 16, MLP 96, vocab 256 untied. Leaders (layers 0, 2): q 64·64 + k, v
/// 2 · 32·64 + o 64·64 = 12,288, QK norms 32, MLP 3·64·96 = 18,432, norms 128: 30,880.
/// Followers (1, 3): q 64·64 + o 64·64 = 8192, 32, 18,432, 128: 26,784. Embeddings 2·256·64 =
/// 32,768, final norm 64: 148,160 in all. KV: only the leaders, 2 × 2 × 2 × 16 × 2 B = 256 B per
/// token.
#[test]
fn hunyuan_cross_layer_attention() {
    let v = json!({
        "architectures": ["HunYuanDenseV1ForCausalLM"],
        "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 16, "intermediate_size": 96, "vocab_size": 256,
        "use_cla": true, "cla_share_factor": 2
    });
    let m = import_value("cla.json", "cla", &v).unwrap().model;
    assert_eq!(m.params(false).unwrap().total, 148_160);
    assert_eq!(m.kv_bytes_per_token(KvFormat::Bf16, 1, false).unwrap(), 256);
    assert_eq!(m.kv_layers(false), 2);
    assert!(m.notes.iter().any(|n| n.contains("use_cla")));
    // Without use_cla every layer keeps its own KV.
    let mut plain = v.clone();
    plain["use_cla"] = json!(false);
    let p = import_value("x.json", "x", &plain).unwrap().model;
    assert_eq!(p.kv_bytes_per_token(KvFormat::Bf16, 1, false).unwrap(), 512);
}

// Falcon configs written with the RefinedWeb keys (n_head, n_layer, n_head_kv, n_embed; vLLM
// 0.11.0 RWConfig.attribute_map) read as the canonical ones: a falcon-40b-like layout either way,
// with 2 KV heads of 64 / 4 = 16 under new_decoder_architecture, 1 under multi_query alone.
#[test]
fn falcon_aliases_read_as_canonical_keys() {
    let import = |v: Value| import_value("falcon.json", "f", &v).unwrap().model;
    let canonical = import(json!({
        "architectures": ["FalconForCausalLM"], "hidden_size": 64, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_kv_heads": 2, "new_decoder_architecture": true,
        "vocab_size": 256
    }));
    let aliased = import(json!({
        "architectures": ["FalconForCausalLM"], "n_embed": 64, "n_layer": 3, "n_head": 4,
        "n_head_kv": 2, "new_decoder_architecture": true, "vocab_size": 256
    }));
    assert_eq!(
        canonical.params(false).unwrap(),
        aliased.params(false).unwrap()
    );
    assert_eq!(aliased.layers(), 3);
    // 3 layers × 2 × 2 KV heads × 16 × 2 B.
    assert_eq!(
        aliased
            .kv_bytes_per_token(KvFormat::Bf16, 1, false)
            .unwrap(),
        384
    );
    let mq = import(json!({
        "architectures": ["FalconForCausalLM"], "n_embed": 64, "n_layer": 3, "n_head": 4,
        "n_head_kv": 2, "vocab_size": 256
    }));
    assert_eq!(
        mq.kv_bytes_per_token(KvFormat::Bf16, 1, false).unwrap(),
        192
    );
}

mod ropes {
    use super::*;
    use crate::model::position::{Rope, RopeScaling};

    fn ropes(id: &str) -> Vec<Rope> {
        import_value(id, id, &catalog(id))
            .unwrap()
            .model
            .positions
            .ropes
    }

    fn rope(dim: u64, max_position: u64, scaling: RopeScaling) -> Rope {
        Rope::plain(dim, max_position, scaling)
    }

    #[test]
    fn catalog_ropes_follow_their_configs() {
        // Llama-3.1: head 4096 / 32 = 128, llama3 scaling changes frequencies only.
        assert_eq!(
            ropes("llama-3.1-8b"),
            [rope(128, 131072, RopeScaling::None)]
        );
        let r = read("llama-3.1-8b");
        assert!(r.contains("rope_scaling") && r.contains("max_position_embeddings"));
        // DeepSeek-V3: the MLA rope over qk_rope_head_dim, yarn 40 × 4096.
        assert_eq!(
            ropes("deepseek-v3"),
            [rope(
                64,
                163840,
                RopeScaling::Yarn {
                    factor: 40.0,
                    original_max_position: 4096
                }
            )]
        );
        // GLM-4.5: partial_rotary_factor 0.5 of head_dim 128.
        assert_eq!(ropes("glm-4.5"), [rope(64, 131072, RopeScaling::None)]);
        // gpt-oss: yarn 32 × 4096, FP32 by vLLM's gpt_oss.py.
        let g = ropes("gpt-oss-120b");
        assert_eq!(g.len(), 1);
        assert!(g[0].fp32);
        assert_eq!(
            g[0].scaling,
            RopeScaling::Yarn {
                factor: 32.0,
                original_max_position: 4096
            }
        );
        // Gemma-3: an unscaled local rope and the linear global one (factor 8).
        assert_eq!(
            ropes("gemma-3-27b"),
            [
                rope(128, 131072, RopeScaling::None),
                rope(128, 131072, RopeScaling::Stretched { factor: 8.0 })
            ]
        );
        // Qwen3-VL: MRoPE even though the catalog config leaves out mrope_section (warned).
        let m = import_value("q", "q", &catalog("qwen3-vl-30b-a3b"))
            .unwrap()
            .model;
        assert_eq!(
            m.positions.ropes,
            [Rope {
                mrope_pruning_only: true,
                ..rope(128, 262144, RopeScaling::MRope)
            }]
        );
        assert!(m.notes.iter().any(|n| n.contains("mrope_section")));
        // No rope in Mamba; MiniCPM-V 4.5's resampler: (70 × 70 + 36000) × 4096 elements.
        let v = import_value("v", "v", &catalog("minicpm-v-4.5"))
            .unwrap()
            .model;
        assert_eq!(v.positions.sincos.len(), 1);
        assert_eq!(v.positions.sincos[0].elements, 40_900 * 4096);
        assert_eq!(v.positions.ropes, [rope(128, 40960, RopeScaling::None)]);
    }

    // DeepSeek-V4-Flash (catalog config: qk_rope_head_dim 64, max_position_embeddings 1,048,576,
    // yarn × 16 of 65,536, compress_ratios of 0, 4 and 128): vLLM builds one FP32 table for the
    // compressed layers (65,536 × 16 positions) and one for the window-only layers (1,048,576
    // positions unscaled), 1,048,576 × 64 × 4 B = 268,435,456 B each, 536,870,912 B (0.5 GiB)
    // per rank (`build_deepseek_v4_rope` @ v0.33.0, `DeepseekV4ScalingRotaryEmbedding`).
    #[test]
    fn deepseek_v4_two_fp32_tables() {
        let fp32 = |scaling| Rope {
            fp32: true,
            ..rope(64, 1_048_576, scaling)
        };
        let yarn = RopeScaling::Yarn {
            factor: 16.0,
            original_max_position: 65_536,
        };
        assert_eq!(
            ropes("deepseek-v4-flash"),
            [fp32(yarn.clone()), fp32(RopeScaling::None)]
        );
        // V4-Pro's decoder layers are all compressed (its one 0 ratio is the MTP layer's, which
        // vLLM builds only for speculative decoding): one table.
        assert_eq!(ropes("deepseek-v4-pro"), [fp32(yarn.clone())]);
        // Through an evaluation on vLLM (0.33, the default): the weights note counts them.
        let s = crate::scenario::Scenario::new(
            crate::catalog::load_model("deepseek-v4-flash").unwrap(),
            crate::catalog::load_chip("h200").unwrap(),
            32_768,
        );
        let r = crate::evaluate::evaluate(&s).unwrap();
        assert!(
            r.warnings.iter().any(|w| w.contains("(536870912 B)")),
            "{:?}",
            r.warnings
        );
        // Only compressed layers: one table, read from a nested `compress` rope.
        let mut v = catalog("deepseek-v4-flash");
        let n = v["num_hidden_layers"].as_u64().unwrap() as usize;
        v["compress_ratios"] = json!(vec![4u64; n + 1]);
        v["rope_parameters"] = json!({"main": {"rope_type": "default"},
            "compress": {"rope_type": "yarn", "factor": 4, "original_max_position_embeddings": 65536}});
        v.as_object_mut().unwrap().remove("rope_scaling");
        let one = import_value("c", "c", &v).unwrap().model.positions.ropes;
        assert_eq!(
            one,
            [fp32(RopeScaling::Yarn {
                factor: 4.0,
                original_max_position: 65_536
            })]
        );
    }

    // MiMo-V2-Flash (catalog config: head_dim 192, max_position_embeddings 262,144, rope_theta
    // 5,000,000, partial 0.334, sliding base 10,000, as MiMoV2FlashConfig's defaults) gives two tables of int(192 × 0.334) = 64 dims, 262,144 × 64 × 2 B = 32 MiB each;
    // with one base and head for both kinds, one table. Kimi-Linear's MLA has no rope.
    #[test]
    fn mimo_v2_and_kimi_linear_ropes() {
        let r = rope(64, 262_144, RopeScaling::None);
        assert_eq!(ropes("mimo-v2-flash"), [r.clone(), r.clone()]);
        let mut v = catalog("mimo-v2-flash");
        v["swa_rope_theta"] = json!(5_000_000);
        v["partial_rotary_factor"] = json!(0.5);
        assert_eq!(
            import_value("m", "m", &v).unwrap().model.positions.ropes,
            [rope(96, 262_144, RopeScaling::None)]
        );
        v["swa_head_dim"] = json!(128);
        assert_eq!(
            import_value("m", "m", &v).unwrap().model.positions.ropes,
            [
                rope(96, 262_144, RopeScaling::None),
                rope(64, 262_144, RopeScaling::None)
            ]
        );
        assert_eq!(ropes("kimi-linear-48b-a3b"), []);
        let k = import_value("k", "k", &catalog("kimi-linear-48b-a3b"))
            .unwrap()
            .model;
        assert!(
            !k.notes.iter().any(|n| n.contains("rotary")),
            "{:?}",
            k.notes
        );
    }

    // MiMo-V2's window layers take their own heads and head dims (vLLM 0.20.2 mimo_v2_flash.py
    // `MiMoV2FlashDecoderLayer.__init__`): with 32 query heads of 128 (V 64) and 8 KV heads, a
    // window layer caches 8 × (128 + 64) × 2 B = 3,072 B per token, not 8 × (192 + 128) × 2 =
    // 5,120; the global layers keep 64 heads, 4 KV heads, 192 / 128. Without the fields the
    // window layers take the global values, with a warning naming what was absent.
    #[test]
    fn mimo_v2_window_layer_shapes() {
        let layer = |m: &crate::model::Model, windowed: bool| {
            m.groups
                .iter()
                .find_map(|g| match &g.attention {
                    Attention::Gqa(a) if a.window.is_some() == windowed => Some(a.clone()),
                    _ => None,
                })
                .unwrap()
        };
        let window = |m: &crate::model::Model| layer(m, true);
        let m = import_value("m", "m", &catalog("mimo-v2-flash"))
            .unwrap()
            .model;
        let w = window(&m);
        assert_eq!(
            (w.heads, w.kv_heads, w.head_dim, w.v_head_dim),
            (64, 8, 192, 128)
        );
        assert!(!m.notes.iter().any(|n| n.contains("swa_")), "{:?}", m.notes);
        let mut v = catalog("mimo-v2-flash");
        v["swa_num_attention_heads"] = json!(32);
        v["swa_head_dim"] = json!(128);
        v["swa_v_head_dim"] = json!(64);
        let m = import_value("m", "m", &v).unwrap().model;
        let w = window(&m);
        assert_eq!(
            (w.heads, w.kv_heads, w.head_dim, w.v_head_dim),
            (32, 8, 128, 64)
        );
        assert_eq!(w.kv_heads * (w.head_dim + w.v_head_dim) * 2, 3_072);
        let global = layer(&m, false);
        assert_eq!(
            (
                global.heads,
                global.kv_heads,
                global.head_dim,
                global.v_head_dim
            ),
            (64, 4, 192, 128)
        );
        let mut v = catalog("mimo-v2-flash");
        for k in ["swa_num_attention_heads", "swa_v_head_dim"] {
            v.as_object_mut().unwrap().remove(k);
        }
        let m = import_value("m", "m", &v).unwrap().model;
        assert_eq!(window(&m).heads, 64);
        assert!(
            m.notes
                .iter()
                .any(|n| n.contains("swa_num_attention_heads, swa_v_head_dim absent")),
            "{:?}",
            m.notes
        );
        v["swa_num_attention_heads"] = json!(12);
        let e = import_value("m", "m", &v).unwrap_err().to_string();
        assert!(
            e.contains("swa_num_key_value_heads") && e.contains("a divisor"),
            "{e}"
        );
    }

    // Zamba2: no rope unless `use_mem_rope` (Zamba2Config's default is false; the 2.7B config
    // leaves it out); with it, one table over the shared blocks' attention_head_dim.
    #[test]
    fn zamba2_rope_only_with_use_mem_rope() {
        assert_eq!(ropes("zamba2-2.7b"), []);
        let m = import_value("z", "z", &catalog("zamba2-2.7b"))
            .unwrap()
            .model;
        assert!(
            !m.notes.iter().any(|n| n.contains("rotary")),
            "{:?}",
            m.notes
        );
        let mut v = catalog("zamba2-2.7b");
        v["use_mem_rope"] = json!(true);
        let head = v["attention_head_dim"].as_u64().unwrap_or(160);
        let max = v["max_position_embeddings"].as_u64().unwrap();
        assert_eq!(
            import_value("z", "z", &v).unwrap().model.positions.ropes,
            [rope(head, max, RopeScaling::None)]
        );
    }

    // Llama-4 Scout's text fields (meta-llama/Llama-4-Scout-17B-16E config.json: head_dim 128,
    // max_position_embeddings 10,485,760, llama3 scaling × 16 of 8192): one table of every
    // position, which vLLM (BF16, `get_rope` in llama4.py @ v0.11.0) holds on every rank:
    // 10,485,760 × 128 × 2 B = 2,684,354,560 B (2.5 GiB).
    #[test]
    fn llama4_scout_rope_table() {
        let text = json!({
            "hidden_size": 5120, "num_hidden_layers": 4, "num_attention_heads": 40,
            "num_key_value_heads": 8, "head_dim": 128, "intermediate_size": 8192,
            "intermediate_size_mlp": 16384, "vocab_size": 202048, "num_local_experts": 16,
            "num_experts_per_tok": 1, "interleave_moe_layer_step": 1,
            "attention_chunk_size": 8192, "max_position_embeddings": 10485760,
            "rope_scaling": {"factor": 16.0, "high_freq_factor": 1.0, "low_freq_factor": 1.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"}
        });
        let mut causal = text.clone();
        causal["architectures"] = json!(["Llama4ForCausalLM"]);
        let multimodal = json!({
            "architectures": ["Llama4ForConditionalGeneration"], "text_config": text,
            "vision_config": {"hidden_size": 1408, "num_hidden_layers": 2,
                              "num_attention_heads": 16, "intermediate_size": 5632,
                              "image_size": 336, "patch_size": 14, "projector_input_dim": 4096,
                              "projector_output_dim": 4096, "vision_output_dim": 4096,
                              "pixel_shuffle_ratio": 0.5}
        });
        for v in [causal, multimodal] {
            let m = import_value("scout.json", "scout", &v).unwrap().model;
            assert_eq!(
                m.positions.ropes,
                [rope(128, 10_485_760, RopeScaling::None)]
            );
            assert!(
                !m.notes.iter().any(|n| n.contains("rotary tables")),
                "{:?}",
                m.notes
            );
            let rule = crate::engine::Engine::VLLM
                .position_rule(&crate::engine::Setup::default())
                .unwrap();
            assert_eq!(
                crate::engine::position_tables::bytes(&rule, &m.positions, false),
                10_485_760 * 128 * 2
            );
            // SGLang builds the same rope (`llama4.py::Llama4Attention`, `get_rope(head_dim,
            // max_position=max_position_embeddings, ...)` @ 0.5.8.post1) and keeps the table FP32
            // on CUDA (`rotary_embedding.py::RotaryEmbedding.__init__` @ 0.5.8.post1): 5 GiB.
            let cuda = crate::engine::Setup {
                cuda: true,
                ..crate::engine::Setup::default()
            };
            let rule = crate::engine::Engine::SGLANG.position_rule(&cuda).unwrap();
            assert_eq!(
                crate::engine::position_tables::bytes(&rule, &m.positions, false),
                10_485_760 * 128 * 4
            );
        }
    }

    #[test]
    fn rope_fields_are_checked_and_gaps_warned() {
        let base = json!({
            "architectures": ["LlamaForCausalLM"],
            "hidden_size": 1024, "num_hidden_layers": 2, "num_attention_heads": 8,
            "num_key_value_heads": 8, "intermediate_size": 2048, "vocab_size": 1000,
            "max_position_embeddings": 4096
        });
        let import = |v: &Value| import_value("c.json", "c", v);
        // A factor that is not a positive number names the field.
        let mut bad = base.clone();
        bad["rope_scaling"] = json!({"rope_type": "linear", "factor": -2});
        let e = import(&bad).unwrap_err().to_string();
        assert!(
            e.contains("c.json") && e.contains("rope_scaling.factor"),
            "{e}"
        );
        // Yarn without its original length: the full length, with a warning.
        let mut yarn = base.clone();
        yarn["rope_scaling"] = json!({"rope_type": "yarn", "factor": 4});
        let m = import(&yarn).unwrap().model;
        assert_eq!(
            m.positions.ropes[0].scaling,
            RopeScaling::Yarn {
                factor: 4.0,
                original_max_position: 4096
            }
        );
        assert!(m
            .notes
            .iter()
            .any(|n| n.contains("original_max_position_embeddings")));
        // An unknown type: unscaled, warned.
        let mut odd = base.clone();
        odd["rope_scaling"] = json!({"rope_type": "banana", "factor": 4});
        let m = import(&odd).unwrap().model;
        assert!(matches!(
            m.positions.ropes[0].scaling,
            RopeScaling::Unknown { .. }
        ));
        assert!(m.notes.iter().any(|n| n.contains("banana")));
        // No max_position_embeddings (LlamaConfig's default fills it in), rotary_dim wins over the
        // head, a partial factor above 1 is refused.
        let mut partial = base.clone();
        partial["rotary_dim"] = json!(32);
        assert_eq!(import(&partial).unwrap().model.positions.ropes[0].dim, 32);
        let mut over = base.clone();
        over["partial_rotary_factor"] = json!(1.5);
        let e = import(&over).unwrap_err().to_string();
        assert!(e.contains("partial_rotary_factor"), "{e}");
        // Mamba builds none.
        let mamba = json!({
            "architectures": ["MambaForCausalLM"], "hidden_size": 768, "num_hidden_layers": 2,
            "vocab_size": 1000, "state_size": 16, "conv_kernel": 4, "expand": 2
        });
        assert!(import(&mamba).unwrap().model.positions.ropes.is_empty());
    }
}
