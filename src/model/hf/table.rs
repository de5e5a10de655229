//! One row per supported model class: every rule the importer applies to a class is a field of
//! its row. `Arch` has no `Default` and the rows use no struct-update syntax, so a new rule is a
//! compile error in every row until each states it; a new class is one new row.
//!
//! Rules that only concern GQA layers (biases, QK norm, sinks, gate) are `Never` / `None` / `false`
//! in MLA and compressed rows: kvsim builds none of them there.

/// How an architecture's config is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// The class named first in `architectures`.
    pub class: &'static str,
    /// The attention the generic reader builds for layers the layer kinds leave standard.
    pub attention: AttnRule,
    /// Which standard layers use a sliding window (a `layer_types` list overrides this).
    pub windows: Windows,
    /// Bias on the Q, K and V projections.
    pub qkv_bias: QkvBias,
    /// Bias on the output projection.
    pub o_bias: OBias,
    /// RMSNorm on queries and keys.
    pub qk_norm: QkNormRule,
    /// One learned attention sink per query head.
    pub sinks: bool,
    /// A sigmoid output gate computed by a doubled q_proj.
    pub q_gate: bool,
    /// Dense or MoE FFN, layer by layer.
    pub ffn: FfnRule,
    /// The key of the number of routed experts per token (read by MoE rules only).
    pub top_k_key: &'static str,
    /// Router and expert biases (read by MoE rules only).
    pub moe_biases: bool,
    /// Layers whose attention is not the standard one (linear, compressed, hybrid heads).
    pub layer_kinds: LayerKinds,
    /// Multi-token-prediction layers shipped with the checkpoint.
    pub mtp: MtpRule,
    /// Hidden-sized norm weights per decoder layer.
    pub norms_per_layer: u64,
    /// `tie_word_embeddings` when the config leaves it out (the config class's default).
    pub tied_default: bool,
}

/// The attention of standard layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttnRule {
    /// Grouped-query attention: `num_key_value_heads` (absent = MHA), `head_dim`, `v_head_dim`.
    Gqa,
    /// DeepSeek multi-head latent attention; `indexer` reads the optional `index_n_heads`,
    /// `index_head_dim`, `index_topk` (the DeepSeek-V3.2 / GLM-5 lightning indexer).
    Mla { indexer: bool },
    /// DeepSeek-V4 compressed attention: no standard layers, [`LayerKinds::DeepseekV4`] builds
    /// every layer.
    Compressed,
}

/// Sliding-window layers, when the config has no `layer_types` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Windows {
    /// Full attention everywhere.
    None,
    /// Every layer uses `sliding_window` (full attention when it is absent or null).
    All,
    /// Layers from `max_window_layers` on, only when `use_sliding_window` is true.
    QwenUseSlidingWindow,
    /// Every layer but each `sliding_window_pattern`-th (default 6) is a window layer.
    Gemma3Pattern,
    /// Even-numbered layers (0, 2, ...) are window layers.
    EvenLayers,
}

/// Bias on Q, K and V.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkvBias {
    Never,
    Always,
    /// The flag `key`, with its default when absent.
    Key(&'static str, bool),
}

/// Bias on the output projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OBias {
    Never,
    /// The same flag as Q, K and V (one `attention_bias` for all four projections).
    SameAsQkv,
    /// The flag `key`, with its default when absent.
    Key(&'static str, bool),
}

/// Norms on queries and keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkNormRule {
    None,
    /// One head_dim-sized norm each for Q and K, shared by the heads.
    PerHead,
    /// Per-head norms when the flag `key` (default when absent) is true.
    PerHeadIf(&'static str, bool),
    /// MiniMax-M2: `use_qk_norm` (default true), then `qk_norm_type` `per_head`, or else one norm
    /// over all Q heads and one over all K heads.
    MiniMaxM2,
}

/// Dense or MoE FFN per layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfnRule {
    /// A gated MLP of `intermediate_size` (bias from `mlp_bias`) in every layer.
    Dense,
    /// MoE in every layer: `experts_key` experts of width `width_key`, no shared expert.
    Mixtral {
        experts_key: &'static str,
        width_key: &'static str,
    },
    /// MoE on every `decoder_sparse_step`-th layer outside `mlp_only_layers`, with an optional
    /// gated shared expert of `shared_expert_intermediate_size`.
    Qwen3Moe,
    /// Dense for the first `first_k_dense_replace` layers, then MoE every `moe_layer_freq`-th layer
    /// with `shared_key` shared experts of `moe_intermediate_size` each.
    DeepseekMoe {
        experts_key: &'static str,
        shared_key: &'static str,
    },
    /// Mixtral-style, but the expert width is `intermediate_size` when present, else
    /// `moe_intermediate_size`.
    MiniMaxText01,
}

/// Multi-token-prediction (next-n) layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtpRule {
    None,
    /// `num_nextn_predict_layers`, `default` when absent.
    Key {
        default: u64,
    },
}

/// Per-layer attention kinds of hybrid architectures (builders in `layers.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKinds {
    /// Every layer is standard.
    Uniform,
    /// Gated DeltaNet layers, full attention every `full_attention_interval`-th layer.
    Qwen3Next,
    /// KDA layers, MLA on the 1-indexed `linear_attn_config.full_attn_layers`.
    KimiLinear,
    /// `attn_type_list`: 0 lightning (linear), 1 softmax.
    MiniMaxText01,
    /// `compress_ratios`: compressed attention at ratio 0, 4 (with indexer) or 128 per layer.
    DeepseekV4,
    /// `hybrid_layer_pattern`: 1 sliding window with its own KV heads and sinks, 0 global.
    MiMoV2,
}

const TOP_K: &str = "num_experts_per_tok";

/// Supported classes, in the order the unknown-architecture error lists them.
pub const ARCHITECTURES: &[Arch] = &[
    // transformers.models.llama.modeling_llama: attention_bias covers q, k, v and o.
    Arch {
        class: "LlamaForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.mistral.modeling_mistral: sliding_window on every layer.
    Arch {
        class: "MistralForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::All,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.mixtral.modeling_mixtral: Mistral attention, MoE in every layer.
    Arch {
        class: "MixtralForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::All,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Mixtral {
            experts_key: "num_local_experts",
            width_key: "intermediate_size",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.qwen2.modeling_qwen2: q, k, v always biased, o never.
    Arch {
        class: "Qwen2ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::QwenUseSlidingWindow,
        qkv_bias: QkvBias::Always,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.qwen3.modeling_qwen3: per-head q_norm and k_norm.
    Arch {
        class: "Qwen3ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::QwenUseSlidingWindow,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::PerHead,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.qwen3_moe.modeling_qwen3_moe: Qwen3 attention, sparse-step MoE.
    Arch {
        class: "Qwen3MoeForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::QwenUseSlidingWindow,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::PerHead,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Qwen3Moe,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.qwen3_next.modeling_qwen3_next: gated full attention between Gated
    // DeltaNet layers; the config has no MTP key but the checkpoint carries one MTP block.
    Arch {
        class: "Qwen3NextForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::PerHead,
        sinks: false,
        q_gate: true,
        ffn: FfnRule::Qwen3Moe,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Qwen3Next,
        mtp: MtpRule::Key { default: 1 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.deepseek_v2.modeling_deepseek_v2: MLA, dense first layers then MoE.
    Arch {
        class: "DeepseekV2ForCausalLM",
        attention: AttnRule::Mla { indexer: true },
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.deepseek_v3.modeling_deepseek_v3: V2's layout plus next-n layers.
    Arch {
        class: "DeepseekV3ForCausalLM",
        attention: AttnRule::Mla { indexer: true },
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.deepseek_v3.modeling_deepseek_v3 with the lightning indexer of
    // deepseek-ai/DeepSeek-V3.2-Exp (inference/model.py).
    Arch {
        class: "DeepseekV32ForCausalLM",
        attention: AttnRule::Mla { indexer: true },
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.deepseek_v4.modeling_deepseek_v4: compressed attention per layer.
    Arch {
        class: "DeepseekV4ForCausalLM",
        attention: AttnRule::Compressed,
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::DeepseekV4,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.glm4_moe.modeling_glm4_moe: attention_bias on q, k, v only; optional
    // per-head QK norm.
    Arch {
        class: "Glm4MoeForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::PerHeadIf("use_qk_norm", false),
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.glm_moe_dsa.modeling_glm_moe_dsa: GLM-5, MLA with the indexer.
    Arch {
        class: "GlmMoeDsaForCausalLM",
        attention: AttnRule::Mla { indexer: true },
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.gpt_oss.modeling_gpt_oss: alternating window layers, sinks, biased
    // attention, router and experts.
    Arch {
        class: "GptOssForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::EvenLayers,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::None,
        sinks: true,
        q_gate: false,
        ffn: FfnRule::Mixtral {
            experts_key: "num_local_experts",
            width_key: "intermediate_size",
        },
        top_k_key: TOP_K,
        moe_biases: true,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.gemma3.modeling_gemma3 (Gemma3ForCausalLM): sandwich norms (four per
    // layer), QK norm, five window layers per global one; Gemma3TextConfig ties embeddings.
    Arch {
        class: "Gemma3ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::Gemma3Pattern,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::PerHead,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 4,
        tied_default: true,
    },
    // transformers.models.gemma3.modeling_gemma3 (Gemma3ForConditionalGeneration): the language
    // model of Gemma3ForCausalLM under text_config; the vision tower is not counted.
    Arch {
        class: "Gemma3ForConditionalGeneration",
        attention: AttnRule::Gqa,
        windows: Windows::Gemma3Pattern,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::PerHead,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 4,
        tied_default: true,
    },
    // transformers.models.kimi_linear.modeling_kimi_linear: KDA layers and MLA layers (no
    // indexer); DeepSeek-style MoE under Kimi's own key names.
    Arch {
        class: "KimiLinearForCausalLM",
        attention: AttnRule::Mla { indexer: false },
        windows: Windows::None,
        qkv_bias: QkvBias::Never,
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "num_experts",
            shared_key: "num_shared_experts",
        },
        top_k_key: "num_experts_per_token",
        moe_biases: false,
        layer_kinds: LayerKinds::KimiLinear,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.minimax_m2.modeling_minimax_m2: Mixtral layout with QK norm over all
    // heads unless qk_norm_type is per_head.
    Arch {
        class: "MiniMaxM2ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::MiniMaxM2,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Mixtral {
            experts_key: "num_local_experts",
            width_key: "intermediate_size",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.minimax.modeling_minimax (MiniMax-Text-01): lightning and softmax
    // layers, Mixtral-style MoE.
    Arch {
        class: "MiniMaxText01ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::MiniMaxText01,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::MiniMaxText01,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
    // transformers.models.mimo_v2_flash.modeling_mimo_v2_flash: global and sliding-window layers
    // with different KV heads, DeepSeek-style MoE, next-n layers.
    Arch {
        class: "MiMoV2FlashForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "n_routed_experts",
            shared_key: "n_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::MiMoV2,
        mtp: MtpRule::Key { default: 0 },
        norms_per_layer: 2,
        tied_default: false,
    },
    // inclusionAI/Ling-mini-2.0 modeling_bailing_moe_v2.py (remote code, not in transformers):
    // separate q/k/v and o bias flags, QK norm by default, DeepSeek-style MoE.
    Arch {
        class: "BailingMoeV2ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("use_qkv_bias", false),
        o_bias: OBias::Key("use_bias", false),
        qk_norm: QkNormRule::PerHeadIf("use_qk_norm", true),
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DeepseekMoe {
            experts_key: "num_experts",
            shared_key: "num_shared_experts",
        },
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
    },
];

/// The row of `class`.
pub fn find(class: &str) -> Option<&'static Arch> {
    ARCHITECTURES.iter().find(|a| a.class == class)
}

/// Classes kvsim imports, in table order.
pub fn supported() -> impl Iterator<Item = &'static str> {
    ARCHITECTURES.iter().map(|a| a.class)
}
