//! One row per supported model class: every rule the importer applies to a class is a field of
//! its row. `Arch` has no `Default` and the rows use no struct-update syntax, so a new rule is a
//! compile error in every row until each states it; a new class is one new row.
//!
//! Rules that only concern GQA layers (biases, QK norm, sinks, gate) are `Never` / `None` / `false`
//! in MLA and compressed rows: kvsim builds none of them there.

/// How an architecture's config is read.
#[derive(Debug, Clone, Copy, PartialEq)]
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
    /// The transformers config class whose defaults apply to fields the config leaves out, with
    /// the version they were read at (`"Gemma3TextConfig @ transformers 5.23.0"`); "" for remote-code classes.
    pub config_class: &'static str,
    /// Fields of the language-model config that take the config class's default when absent
    /// (only those kvsim reads; a field with neither a value nor a default is an error).
    pub defaults: &'static [(&'static str, Dflt)],
    /// Vision (or audio) encoder and projector counted in [`TensorGroup::Vision`](crate::precision::TensorGroup::Vision).
    pub vision: VisionRule,
}

/// A config-class default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dflt {
    U64(u64),
    Bool(bool),
    Str(&'static str),
}

impl Dflt {
    pub fn json(self) -> serde_json::Value {
        match self {
            Dflt::U64(n) => n.into(),
            Dflt::Bool(b) => b.into(),
            Dflt::Str(s) => s.into(),
        }
    }
}

/// The encoder a multimodal checkpoint holds besides its language model (builders in `vision.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisionRule {
    None,
    /// Gemma3: SigLIP vision tower (`vision_config`) and `Gemma3MultiModalProjector`.
    Gemma3Siglip,
    /// Mistral3: Pixtral vision tower (`vision_config`) and `Mistral3MultiModalProjector`.
    Mistral3Pixtral,
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
    /// Qwen2-MoE: under `use_sliding_window`, even layers below `max_window_layers` slide
    /// (Qwen2MoeConfig.layer_types @ transformers 5.23.0).
    Qwen2MoeEven,
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
    /// One norm over all Q heads and one over all K heads (OLMo2).
    PerLayer,
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
    /// As `Dense`, with the MLP bias flag under another key (ERNIE 4.5: `use_bias`).
    DenseBiasKey(&'static str),
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
        config_class: "LlamaConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32000)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(11008)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(2048)),
            ("attention_bias", Dflt::Bool(false)),
            ("mlp_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
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
        config_class: "MistralConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32000)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(14336)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("sliding_window", Dflt::U64(4096)),
        ],
        vision: VisionRule::None,
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
        config_class: "MixtralConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32000)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(14336)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("num_experts_per_tok", Dflt::U64(2)),
            ("num_local_experts", Dflt::U64(8)),
        ],
        vision: VisionRule::None,
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
        config_class: "Qwen2Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151936)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(22016)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(32768)),
            ("sliding_window", Dflt::U64(4096)),
            ("use_sliding_window", Dflt::Bool(false)),
            ("max_window_layers", Dflt::U64(28)),
        ],
        vision: VisionRule::None,
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
        config_class: "Qwen3Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151936)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(22016)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(32)),
            ("head_dim", Dflt::U64(128)),
            ("max_position_embeddings", Dflt::U64(32768)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(4096)),
            ("use_sliding_window", Dflt::Bool(false)),
            ("max_window_layers", Dflt::U64(28)),
        ],
        vision: VisionRule::None,
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
        config_class: "Qwen3MoeConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151936)),
            ("hidden_size", Dflt::U64(2048)),
            ("intermediate_size", Dflt::U64(6144)),
            ("num_hidden_layers", Dflt::U64(24)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(4)),
            ("max_position_embeddings", Dflt::U64(32768)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(4096)),
            ("use_sliding_window", Dflt::Bool(false)),
            ("num_experts", Dflt::U64(128)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(768)),
            ("decoder_sparse_step", Dflt::U64(1)),
        ],
        vision: VisionRule::None,
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
        config_class: "Qwen3NextConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151936)),
            ("hidden_size", Dflt::U64(2048)),
            ("intermediate_size", Dflt::U64(5632)),
            ("num_hidden_layers", Dflt::U64(48)),
            ("num_attention_heads", Dflt::U64(16)),
            ("num_key_value_heads", Dflt::U64(2)),
            ("head_dim", Dflt::U64(256)),
            ("max_position_embeddings", Dflt::U64(32768)),
            ("attention_bias", Dflt::Bool(false)),
            ("num_experts", Dflt::U64(512)),
            ("num_experts_per_tok", Dflt::U64(10)),
            ("moe_intermediate_size", Dflt::U64(512)),
            ("shared_expert_intermediate_size", Dflt::U64(512)),
            ("decoder_sparse_step", Dflt::U64(1)),
            ("linear_num_key_heads", Dflt::U64(16)),
            ("linear_num_value_heads", Dflt::U64(32)),
            ("linear_key_head_dim", Dflt::U64(128)),
            ("linear_value_head_dim", Dflt::U64(128)),
            ("linear_conv_kernel_dim", Dflt::U64(4)),
        ],
        vision: VisionRule::None,
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
        config_class: "DeepseekV2Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(102400)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(11008)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(2048)),
            ("attention_bias", Dflt::Bool(false)),
            ("mlp_bias", Dflt::Bool(false)),
            ("moe_intermediate_size", Dflt::U64(1407)),
            ("n_routed_experts", Dflt::U64(64)),
            ("n_shared_experts", Dflt::U64(2)),
            ("first_k_dense_replace", Dflt::U64(0)),
            ("kv_lora_rank", Dflt::U64(512)),
            ("q_lora_rank", Dflt::U64(1536)),
            ("qk_nope_head_dim", Dflt::U64(128)),
            ("qk_rope_head_dim", Dflt::U64(64)),
            ("v_head_dim", Dflt::U64(128)),
        ],
        vision: VisionRule::None,
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
        config_class: "DeepseekV3Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(129280)),
            ("hidden_size", Dflt::U64(7168)),
            ("intermediate_size", Dflt::U64(18432)),
            ("num_hidden_layers", Dflt::U64(61)),
            ("num_attention_heads", Dflt::U64(128)),
            ("num_key_value_heads", Dflt::U64(128)),
            ("max_position_embeddings", Dflt::U64(4096)),
            ("attention_bias", Dflt::Bool(false)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(2048)),
            ("n_routed_experts", Dflt::U64(256)),
            ("n_shared_experts", Dflt::U64(1)),
            ("first_k_dense_replace", Dflt::U64(3)),
            ("kv_lora_rank", Dflt::U64(512)),
            ("q_lora_rank", Dflt::U64(1536)),
            ("qk_nope_head_dim", Dflt::U64(128)),
            ("qk_rope_head_dim", Dflt::U64(64)),
            ("v_head_dim", Dflt::U64(128)),
        ],
        vision: VisionRule::None,
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
        config_class: "",
        defaults: &[],
        vision: VisionRule::None,
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
        config_class: "DeepseekV4Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(129280)),
            ("hidden_size", Dflt::U64(4096)),
            ("num_hidden_layers", Dflt::U64(43)),
            ("num_attention_heads", Dflt::U64(64)),
            ("num_key_value_heads", Dflt::U64(1)),
            ("head_dim", Dflt::U64(512)),
            ("max_position_embeddings", Dflt::U64(1048576)),
            ("attention_bias", Dflt::Bool(false)),
            ("mlp_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(128)),
            ("num_experts_per_tok", Dflt::U64(6)),
            ("moe_intermediate_size", Dflt::U64(2048)),
            ("n_routed_experts", Dflt::U64(256)),
            ("n_shared_experts", Dflt::U64(1)),
            ("q_lora_rank", Dflt::U64(1024)),
        ],
        vision: VisionRule::None,
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
        config_class: "Glm4MoeConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151552)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(10944)),
            ("num_hidden_layers", Dflt::U64(46)),
            ("num_attention_heads", Dflt::U64(96)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("attention_bias", Dflt::Bool(false)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(1408)),
            ("n_routed_experts", Dflt::U64(128)),
            ("n_shared_experts", Dflt::U64(1)),
            ("first_k_dense_replace", Dflt::U64(1)),
            ("use_qk_norm", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
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
        config_class: "GlmMoeDsaConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(154880)),
            ("hidden_size", Dflt::U64(6144)),
            ("intermediate_size", Dflt::U64(12288)),
            ("num_hidden_layers", Dflt::U64(78)),
            ("num_attention_heads", Dflt::U64(64)),
            ("num_key_value_heads", Dflt::U64(64)),
            ("head_dim", Dflt::U64(64)),
            ("max_position_embeddings", Dflt::U64(202752)),
            ("attention_bias", Dflt::Bool(false)),
            ("mlp_bias", Dflt::Bool(false)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(2048)),
            ("n_routed_experts", Dflt::U64(256)),
            ("n_shared_experts", Dflt::U64(1)),
            ("first_k_dense_replace", Dflt::U64(3)),
            ("kv_lora_rank", Dflt::U64(512)),
            ("q_lora_rank", Dflt::U64(2048)),
            ("qk_nope_head_dim", Dflt::U64(192)),
            ("qk_rope_head_dim", Dflt::U64(64)),
            ("v_head_dim", Dflt::U64(256)),
        ],
        vision: VisionRule::None,
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
        config_class: "GptOssConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(201088)),
            ("hidden_size", Dflt::U64(2880)),
            ("intermediate_size", Dflt::U64(2880)),
            ("num_hidden_layers", Dflt::U64(36)),
            ("num_attention_heads", Dflt::U64(64)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("head_dim", Dflt::U64(64)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("attention_bias", Dflt::Bool(true)),
            ("sliding_window", Dflt::U64(128)),
            ("num_experts_per_tok", Dflt::U64(4)),
            ("num_local_experts", Dflt::U64(128)),
        ],
        vision: VisionRule::None,
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
        config_class: "Gemma3TextConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(262208)),
            ("hidden_size", Dflt::U64(2304)),
            ("intermediate_size", Dflt::U64(9216)),
            ("num_hidden_layers", Dflt::U64(26)),
            ("num_attention_heads", Dflt::U64(8)),
            ("num_key_value_heads", Dflt::U64(4)),
            ("head_dim", Dflt::U64(256)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(4096)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.gemma3.modeling_gemma3 (Gemma3ForConditionalGeneration): the language
    // model of Gemma3ForCausalLM under text_config (Gemma3TextConfig defaults), SigLIP vision tower
    // and projector.
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
        config_class: "Gemma3TextConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(262208)),
            ("hidden_size", Dflt::U64(2304)),
            ("intermediate_size", Dflt::U64(9216)),
            ("num_hidden_layers", Dflt::U64(26)),
            ("num_attention_heads", Dflt::U64(8)),
            ("num_key_value_heads", Dflt::U64(4)),
            ("head_dim", Dflt::U64(256)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(4096)),
        ],
        vision: VisionRule::Gemma3Siglip,
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
        config_class: "KimiLinearConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(163840)),
            ("hidden_size", Dflt::U64(2304)),
            ("intermediate_size", Dflt::U64(9216)),
            ("num_hidden_layers", Dflt::U64(27)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(1048576)),
            ("attention_bias", Dflt::Bool(false)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(1024)),
            ("num_local_experts", Dflt::U64(256)),
            ("n_shared_experts", Dflt::U64(1)),
            ("kv_lora_rank", Dflt::U64(512)),
            ("qk_nope_head_dim", Dflt::U64(128)),
            ("qk_rope_head_dim", Dflt::U64(64)),
            ("v_head_dim", Dflt::U64(128)),
            ("linear_conv_kernel_dim", Dflt::U64(4)),
        ],
        vision: VisionRule::None,
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
        config_class: "MiniMaxM2Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(200064)),
            ("hidden_size", Dflt::U64(3072)),
            ("intermediate_size", Dflt::U64(1536)),
            ("num_hidden_layers", Dflt::U64(62)),
            ("num_attention_heads", Dflt::U64(48)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("head_dim", Dflt::U64(128)),
            ("max_position_embeddings", Dflt::U64(196608)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("num_local_experts", Dflt::U64(256)),
        ],
        vision: VisionRule::None,
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
        config_class: "",
        defaults: &[],
        vision: VisionRule::None,
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
        config_class: "MiMoV2FlashConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(152576)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(16384)),
            ("num_hidden_layers", Dflt::U64(48)),
            ("num_attention_heads", Dflt::U64(64)),
            ("num_key_value_heads", Dflt::U64(4)),
            ("head_dim", Dflt::U64(192)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(129)),
            ("num_experts_per_tok", Dflt::U64(8)),
            ("moe_intermediate_size", Dflt::U64(2048)),
            ("n_routed_experts", Dflt::U64(256)),
            ("v_head_dim", Dflt::U64(128)),
        ],
        vision: VisionRule::None,
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
        config_class: "",
        defaults: &[],
        vision: VisionRule::None,
    },
    // transformers.models.gemma.modeling_gemma: Llama layout, head_dim 256 and tied embeddings by default.
    Arch {
        class: "GemmaForCausalLM",
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
        tied_default: true,
        config_class: "GemmaConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(256000)),
            ("hidden_size", Dflt::U64(3072)),
            ("intermediate_size", Dflt::U64(24576)),
            ("num_hidden_layers", Dflt::U64(28)),
            ("num_attention_heads", Dflt::U64(16)),
            ("num_key_value_heads", Dflt::U64(16)),
            ("head_dim", Dflt::U64(256)),
            ("max_position_embeddings", Dflt::U64(8192)),
            ("attention_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.gemma2.modeling_gemma2: sandwich norms (four per layer), even layers slide (Gemma2Config.layer_types).
    Arch {
        class: "Gemma2ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::EvenLayers,
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
        norms_per_layer: 4,
        tied_default: true,
        config_class: "Gemma2Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(256000)),
            ("hidden_size", Dflt::U64(2304)),
            ("intermediate_size", Dflt::U64(9216)),
            ("num_hidden_layers", Dflt::U64(26)),
            ("num_attention_heads", Dflt::U64(8)),
            ("num_key_value_heads", Dflt::U64(4)),
            ("head_dim", Dflt::U64(256)),
            ("max_position_embeddings", Dflt::U64(8192)),
            ("attention_bias", Dflt::Bool(false)),
            ("sliding_window", Dflt::U64(4096)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.granite.modeling_granite: Llama layout (attention_bias, mlp_bias); the multipliers hold no weights.
    Arch {
        class: "GraniteForCausalLM",
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
        config_class: "GraniteConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32000)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(11008)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(2048)),
            ("attention_bias", Dflt::Bool(false)),
            ("mlp_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.phi3.modeling_phi3: fused qkv_proj and gate_up_proj (the same weights as separate ones), no biases, sliding_window on every layer.
    Arch {
        class: "Phi3ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::All,
        qkv_bias: QkvBias::Never,
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
        config_class: "Phi3Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32064)),
            ("hidden_size", Dflt::U64(3072)),
            ("intermediate_size", Dflt::U64(8192)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(4096)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.qwen2_moe.modeling_qwen2_moe: q/k/v bias from qkv_bias, MoE with a gated shared expert on every decoder_sparse_step-th layer outside mlp_only_layers.
    Arch {
        class: "Qwen2MoeForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::Qwen2MoeEven,
        qkv_bias: QkvBias::Key("qkv_bias", true),
        o_bias: OBias::Never,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Qwen3Moe,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
        config_class: "Qwen2MoeConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(151936)),
            ("hidden_size", Dflt::U64(2048)),
            ("intermediate_size", Dflt::U64(5632)),
            ("num_hidden_layers", Dflt::U64(24)),
            ("num_attention_heads", Dflt::U64(16)),
            ("num_key_value_heads", Dflt::U64(16)),
            ("max_position_embeddings", Dflt::U64(32768)),
            ("qkv_bias", Dflt::Bool(true)),
            ("sliding_window", Dflt::U64(4096)),
            ("use_sliding_window", Dflt::Bool(false)),
            ("max_window_layers", Dflt::U64(28)),
            ("num_experts", Dflt::U64(60)),
            ("num_experts_per_tok", Dflt::U64(4)),
            ("moe_intermediate_size", Dflt::U64(1408)),
            ("shared_expert_intermediate_size", Dflt::U64(5632)),
            ("decoder_sparse_step", Dflt::U64(1)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.olmo2.modeling_olmo2: QK norm over all heads, norms after attention and after the MLP.
    Arch {
        class: "Olmo2ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::PerLayer,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::Dense,
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: false,
        config_class: "Olmo2Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(50304)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(11008)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(2048)),
            ("attention_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.mistral3.modeling_mistral3: a Mistral language model under text_config (MistralConfig defaults), Pixtral vision tower and projector;
    // Mistral3Config.tie_word_embeddings defaults to true and is the flag the wrapper ties by.
    Arch {
        class: "Mistral3ForConditionalGeneration",
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
        tied_default: true,
        config_class: "MistralConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(32000)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(14336)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("max_position_embeddings", Dflt::U64(131072)),
            ("sliding_window", Dflt::U64(4096)),
        ],
        vision: VisionRule::Mistral3Pixtral,
    },
    // transformers.models.seed_oss.modeling_seed_oss: q/k/v bias from attention_bias (default
    // true), o bias from attention_out_bias.
    Arch {
        class: "SeedOssForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("attention_bias", true),
        o_bias: OBias::Key("attention_out_bias", false),
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
        config_class: "SeedOssConfig @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(155136)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(27648)),
            ("num_hidden_layers", Dflt::U64(64)),
            ("num_attention_heads", Dflt::U64(80)),
            ("num_key_value_heads", Dflt::U64(8)),
            ("head_dim", Dflt::U64(128)),
            ("max_position_embeddings", Dflt::U64(524288)),
            ("attention_bias", Dflt::Bool(true)),
            ("mlp_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.hunyuan_v1_dense.modeling_hunyuan_v1_dense: Llama layout with per-head
    // query_layernorm and key_layernorm.
    Arch {
        class: "HunYuanDenseV1ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
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
        config_class: "HunYuanDenseV1Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(290943)),
            ("hidden_size", Dflt::U64(4096)),
            ("intermediate_size", Dflt::U64(11008)),
            ("num_hidden_layers", Dflt::U64(32)),
            ("num_attention_heads", Dflt::U64(32)),
            ("max_position_embeddings", Dflt::U64(2048)),
            ("attention_bias", Dflt::Bool(false)),
        ],
        vision: VisionRule::None,
    },
    // transformers.models.ernie4_5.modeling_ernie4_5: Llama layout; use_bias covers q, k, v, o
    // and the MLP; embeddings tied by default.
    Arch {
        class: "Ernie4_5ForCausalLM",
        attention: AttnRule::Gqa,
        windows: Windows::None,
        qkv_bias: QkvBias::Key("use_bias", false),
        o_bias: OBias::SameAsQkv,
        qk_norm: QkNormRule::None,
        sinks: false,
        q_gate: false,
        ffn: FfnRule::DenseBiasKey("use_bias"),
        top_k_key: TOP_K,
        moe_biases: false,
        layer_kinds: LayerKinds::Uniform,
        mtp: MtpRule::None,
        norms_per_layer: 2,
        tied_default: true,
        config_class: "Ernie4_5Config @ transformers 5.23.0",
        defaults: &[
            ("vocab_size", Dflt::U64(103424)),
            ("hidden_size", Dflt::U64(1024)),
            ("intermediate_size", Dflt::U64(3072)),
            ("num_hidden_layers", Dflt::U64(18)),
            ("num_attention_heads", Dflt::U64(16)),
            ("num_key_value_heads", Dflt::U64(2)),
            ("head_dim", Dflt::U64(128)),
            ("max_position_embeddings", Dflt::U64(131072)),
        ],
        vision: VisionRule::None,
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
