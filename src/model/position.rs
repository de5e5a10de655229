//! Position tables a model builds besides its parameters: the rotary embeddings' cos/sin tables
//! and fixed sin-cos position embeddings. They are not in the checkpoint, but the engines that
//! build them allocate them on the device at load time, so their bytes count among the weights
//! the engine reports (the engine rule is `engine::position_tables`).

use serde::{Deserialize, Serialize};

/// One distinct rotary embedding of the decoder. Engines build one table per distinct rope
/// (vLLM's and SGLang's `get_rope` cache instances in `_ROPE_DICT`), shared by all layers that
/// use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rope {
    /// Rotated dimensions per head: head_dim × partial_rotary_factor, `qk_rope_head_dim` for MLA.
    pub dim: u64,
    /// The `max_position_embeddings` the model passes to `get_rope`.
    pub max_position: u64,
    pub scaling: RopeScaling,
    /// The model file asks for an FP32 table whatever the model dtype (vLLM's gpt-oss).
    #[serde(default)]
    pub fp32: bool,
    /// An MRoPE table that the model file lengthens only under video pruning (Qwen3-VL in
    /// recent vLLM releases; the engine rule says from which).
    #[serde(default)]
    pub mrope_pruning_only: bool,
}

impl Rope {
    /// A rope in the model dtype, not MRoPE-pruning-only.
    pub fn plain(dim: u64, max_position: u64, scaling: RopeScaling) -> Rope {
        Rope {
            dim,
            max_position,
            scaling,
            fp32: false,
            mrope_pruning_only: false,
        }
    }
}

/// `rope_scaling` (or `rope_parameters`) as the engines read it: what sets the table's length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RopeScaling {
    /// No scaling, `default`, or a scaling that only changes frequencies (`llama3`).
    None,
    /// `linear` and `dynamic`: the table covers `max_position × factor` positions.
    Stretched { factor: f64 },
    /// `yarn` (and DeepSeek's yarn): the table covers `original_max_position × factor`.
    Yarn {
        factor: f64,
        original_max_position: u64,
    },
    /// Phi-3's `longrope`: a short and a long table, and both again concatenated.
    LongRope { original_max_position: u64 },
    /// Multimodal rope (`mrope_section`): Qwen2-VL and its successors.
    MRope,
    /// A scaling type kvsim does not know: counted as unscaled, with a warning.
    Unknown { name: String },
}

/// A fixed sin-cos position table of a vision module (MiniCPM-V's resampler).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SinCosTable {
    /// What holds it, for notes ("MiniCPM-V 4.5 resampler").
    pub owner: String,
    /// Positions × width, in elements.
    pub elements: u64,
}

/// Every position table a model builds.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PositionTables {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ropes: Vec<Rope>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sincos: Vec<SinCosTable>,
}

impl PositionTables {
    pub fn is_empty(&self) -> bool {
        self.ropes.is_empty() && self.sincos.is_empty()
    }
}
