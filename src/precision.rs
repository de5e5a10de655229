//! Number formats and precision plans.
//!
//! A weight format knows the bytes a `rows × cols` matrix takes *including its scales*
//! (docs/facts.md §5), so FP8/FP4 figures never omit the scale bytes. Scales group along the input
//! (column) dimension, as every block format in use does. A KV format knows the record bytes of one
//! token in one layer for each attention family (docs/facts.md §1).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Storage format of a weight tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum WeightFormat {
    Fp32,
    Bf16,
    Fp16,
    /// FP8 with one fp32 scale per tensor.
    Fp8,
    /// FP8 with one fp32 scale per 128×128 block (DeepSeek-V3).
    Fp8Block128,
    /// INT8 with one fp32 scale per output channel.
    Int8,
    /// INT4, symmetric, one bf16 scale per `group` input elements (GPTQ/AWQ-style, Kimi-K2-Thinking g32).
    Int4 {
        group: u32,
    },
    /// OCP MXFP4: 4-bit E2M1 plus one E8M0 byte per 32 elements (4.25 bits).
    Mxfp4,
    /// NVFP4: 4-bit E2M1 plus one FP8 scale per 16 elements and one fp32 per tensor (4.5 bits).
    Nvfp4,
    /// Integer weights of `bits` bits (2, 3, 4 or 8) packed densely, one 16-bit scale per `group`
    /// input elements of each output row (`group` 0: one per row, GPTQ `group_size: -1`), plus
    /// `bits`-bit zero points per group when `zeros` (GPTQ and AWQ always store `qzeros`;
    /// compressed-tensors only when asymmetric) and one int32 group index per input feature when
    /// `g_idx` (GPTQ's `g_idx`). 4-bit symmetric groups without either are [`WeightFormat::Int4`].
    IntGroup {
        bits: u8,
        group: u32,
        zeros: bool,
        g_idx: bool,
    },
    /// bitsandbytes 4-bit (NF4 or FP4): two per byte, one fp32 absmax per 64-element block; with
    /// double quantisation the absmax is stored as one byte per block plus one fp32 per 256 blocks.
    Bnb4 {
        double_quant: bool,
    },
}

impl WeightFormat {
    /// Every format name `FromStr` accepts, for error messages.
    pub const NAMES: &'static str =
        "fp32, bf16, fp16, fp8, fp8-block128, int8, int4 (group 128), int4-g<N>, int<2|3|4|8>-g<N>|ch[-zp][-gidx], mxfp4, nvfp4, bnb4, bnb4-dq";

    /// The integer group format, as the one canonical variant (`Int4` for 4-bit symmetric groups
    /// without a group index, so the same storage never has two names).
    pub fn int_group(bits: u8, group: u32, zeros: bool, g_idx: bool) -> WeightFormat {
        if bits == 4 && group > 0 && !zeros && !g_idx {
            WeightFormat::Int4 { group }
        } else {
            WeightFormat::IntGroup {
                bits,
                group,
                zeros,
                g_idx,
            }
        }
    }

    /// Bytes a `rows × cols` matrix (rows = output features, cols = input features) occupies.
    pub fn matrix_bytes(self, rows: u128, cols: u128) -> u128 {
        let n = rows * cols;
        match self {
            WeightFormat::Fp32 => 4 * n,
            WeightFormat::Bf16 | WeightFormat::Fp16 => 2 * n,
            WeightFormat::Fp8 => n + 4,
            WeightFormat::Fp8Block128 => n + 4 * rows.div_ceil(128) * cols.div_ceil(128),
            WeightFormat::Int8 => n + 4 * rows,
            WeightFormat::Int4 { group } => n.div_ceil(2) + 2 * rows * cols.div_ceil(group as u128),
            WeightFormat::Mxfp4 => n.div_ceil(2) + rows * cols.div_ceil(32),
            WeightFormat::Nvfp4 => n.div_ceil(2) + rows * cols.div_ceil(16) + 4,
            WeightFormat::IntGroup {
                bits,
                group,
                zeros,
                g_idx,
            } => {
                let bits = bits as u128;
                let groups_per_row = if group == 0 {
                    1
                } else {
                    cols.div_ceil(group as u128)
                };
                let scales = rows * groups_per_row;
                (n * bits).div_ceil(8)
                    + 2 * scales
                    + if zeros {
                        (scales * bits).div_ceil(8)
                    } else {
                        0
                    }
                    + if g_idx { 4 * cols } else { 0 }
            }
            WeightFormat::Bnb4 { double_quant } => {
                let blocks = n.div_ceil(64);
                n.div_ceil(2)
                    + if double_quant {
                        blocks + 4 * blocks.div_ceil(256)
                    } else {
                        4 * blocks
                    }
            }
        }
    }

    /// The elements' own bytes of a `rows × cols` matrix, without scales, zero points or group
    /// indices: what the engine allocates as the weight parameter, the rest of
    /// [`WeightFormat::matrix_bytes`] being separate scale parameters.
    pub fn matrix_data_bytes(self, rows: u128, cols: u128) -> u128 {
        let n = rows * cols;
        match self {
            WeightFormat::Fp32 => 4 * n,
            WeightFormat::Bf16 | WeightFormat::Fp16 => 2 * n,
            WeightFormat::Fp8 | WeightFormat::Fp8Block128 | WeightFormat::Int8 => n,
            WeightFormat::Int4 { .. }
            | WeightFormat::Mxfp4
            | WeightFormat::Nvfp4
            | WeightFormat::Bnb4 { .. } => n.div_ceil(2),
            WeightFormat::IntGroup { bits, .. } => (n * bits as u128).div_ceil(8),
        }
    }

    /// Bytes of a 1-D tensor (norm weight, bias, sink). Quantised formats do not apply to vectors:
    /// checkpoints keep them in BF16.
    pub fn vector_bytes(self, n: u128) -> u128 {
        match self {
            WeightFormat::Fp32 => 4 * n,
            _ => 2 * n,
        }
    }

    /// Effective bits per element of a large matrix, scales included (for display).
    pub fn bits_per_element(self) -> f64 {
        let (r, c) = (4096u128, 4096u128);
        self.matrix_bytes(r, c) as f64 * 8.0 / (r * c) as f64
    }

    /// The format the tensor units compute in (used to look up a chip's peak rate).
    pub fn compute_class(self) -> &'static str {
        match self {
            WeightFormat::Fp32 => "fp32",
            WeightFormat::Bf16 => "bf16",
            WeightFormat::Fp16 => "fp16",
            WeightFormat::Fp8 | WeightFormat::Fp8Block128 => "fp8",
            WeightFormat::Int8 => "int8",
            WeightFormat::Int4 { .. } => "int4",
            WeightFormat::IntGroup { bits: 8, .. } => "int8",
            WeightFormat::IntGroup { .. } => "int4",
            // bitsandbytes dequantises to bf16 before the matmul.
            WeightFormat::Bnb4 { .. } => "bf16",
            WeightFormat::Mxfp4 | WeightFormat::Nvfp4 => "fp4",
        }
    }
}

impl fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightFormat::Fp32 => write!(f, "fp32"),
            WeightFormat::Bf16 => write!(f, "bf16"),
            WeightFormat::Fp16 => write!(f, "fp16"),
            WeightFormat::Fp8 => write!(f, "fp8"),
            WeightFormat::Fp8Block128 => write!(f, "fp8-block128"),
            WeightFormat::Int8 => write!(f, "int8"),
            WeightFormat::Int4 { group } => write!(f, "int4-g{group}"),
            WeightFormat::Mxfp4 => write!(f, "mxfp4"),
            WeightFormat::Nvfp4 => write!(f, "nvfp4"),
            WeightFormat::IntGroup {
                bits,
                group,
                zeros,
                g_idx,
            } => {
                write!(f, "int{bits}-")?;
                if *group == 0 {
                    write!(f, "ch")?;
                } else {
                    write!(f, "g{group}")?;
                }
                if *zeros {
                    write!(f, "-zp")?;
                }
                if *g_idx {
                    write!(f, "-gidx")?;
                }
                Ok(())
            }
            WeightFormat::Bnb4 { double_quant } => {
                write!(f, "bnb4{}", if *double_quant { "-dq" } else { "" })
            }
        }
    }
}

/// `int<bits>-g<group>` or `int<bits>-ch`, then `-zp` and `-gidx` as the format's `Display`
/// writes them (bits 2, 3, 4 or 8; a 4-bit symmetric group without g_idx is `Int4`).
fn parse_int_group(s: &str) -> Option<WeightFormat> {
    let rest = s.strip_prefix("int")?;
    let (bits, rest) = rest.split_once('-')?;
    let bits: u8 = bits.parse().ok().filter(|b| matches!(b, 2 | 3 | 4 | 8))?;
    let mut parts = rest.split('-');
    let group = match parts.next()? {
        "ch" => 0,
        g => g
            .strip_prefix('g')?
            .parse::<u32>()
            .ok()
            .filter(|&g| g > 0)?,
    };
    let (mut zeros, mut g_idx) = (false, false);
    for p in parts {
        match p {
            "zp" if !zeros && !g_idx => zeros = true,
            "gidx" if !g_idx => g_idx = true,
            _ => return None,
        }
    }
    Some(WeightFormat::int_group(bits, group, zeros, g_idx))
}

impl FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let l = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match l.as_str() {
            "fp32" | "float32" => WeightFormat::Fp32,
            "bf16" | "bfloat16" => WeightFormat::Bf16,
            "fp16" | "float16" | "half" => WeightFormat::Fp16,
            "fp8" | "fp8-tensor" => WeightFormat::Fp8,
            "fp8-block128" | "fp8-block" | "fp8-128x128" => WeightFormat::Fp8Block128,
            "int8" | "w8a8" => WeightFormat::Int8,
            "int4" => WeightFormat::Int4 { group: 128 },
            "mxfp4" => WeightFormat::Mxfp4,
            "nvfp4" => WeightFormat::Nvfp4,
            "bnb4" | "nf4" => WeightFormat::Bnb4 {
                double_quant: false,
            },
            "bnb4-dq" | "nf4-dq" => WeightFormat::Bnb4 { double_quant: true },
            other => match parse_int_group(other) {
                Some(f) => f,
                None => {
                    return Err(format!(
                        "`{s}` is not a weight format; use one of {}",
                        Self::NAMES
                    ))
                }
            },
        })
    }
}

impl From<WeightFormat> for String {
    fn from(f: WeightFormat) -> String {
        f.to_string()
    }
}

impl TryFrom<String> for WeightFormat {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

/// Storage format of the KV cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum KvFormat {
    Fp32,
    Bf16,
    Fp16,
    /// vLLM `fp8`: one byte per element, per-tensor scale, no per-token overhead.
    Fp8,
    /// vLLM per-token-head FP8: + one fp32 scale for K and one for V per head per token.
    Fp8PerTokenHead,
    /// Same layout with INT8 elements.
    Int8PerTokenHead,
    /// vLLM `fp8_ds_mla`: FP8 latent + fp32 scale per 128 + BF16 RoPE part (656 B for 512+64).
    Fp8DsMla,
    /// NVFP4: half a byte per element + one FP8 scale per 16 elements.
    Nvfp4,
}

impl KvFormat {
    /// Every format name `FromStr` accepts, for error messages.
    pub const NAMES: &'static str =
        "bf16, fp16, fp32, fp8, fp8-per-token-head, int8-per-token-head, fp8-ds-mla, nvfp4";

    /// Record bytes of `heads` K/V head pairs with key width `dk` and value width `dv` (GQA family).
    pub fn gqa_record_bytes(self, heads: u64, dk: u64, dv: u64) -> Result<u64> {
        let elems = heads * (dk + dv);
        Ok(match self {
            KvFormat::Fp32 => 4 * elems,
            KvFormat::Bf16 | KvFormat::Fp16 => 2 * elems,
            KvFormat::Fp8 => elems,
            KvFormat::Fp8PerTokenHead | KvFormat::Int8PerTokenHead => elems + 2 * heads * 4,
            KvFormat::Nvfp4 => {
                heads * (dk.div_ceil(2) + dk.div_ceil(16) + dv.div_ceil(2) + dv.div_ceil(16))
            }
            KvFormat::Fp8DsMla => {
                return Err(Error::field(
                    "precision plan",
                    "kv",
                    "fp8-ds-mla",
                    "fp8-ds-mla only for MLA models (it stores a latent + RoPE record)",
                ))
            }
        })
    }

    /// Record bytes of one MLA latent (`latent` compressed dims + `rope` decoupled RoPE dims).
    pub fn mla_record_bytes(self, latent: u64, rope: u64) -> u64 {
        let elems = latent + rope;
        match self {
            KvFormat::Fp32 => 4 * elems,
            KvFormat::Bf16 | KvFormat::Fp16 => 2 * elems,
            KvFormat::Fp8 => elems,
            // One shared "head": one fp32 scale for the whole record.
            KvFormat::Fp8PerTokenHead | KvFormat::Int8PerTokenHead => elems + 4,
            KvFormat::Fp8DsMla => latent + 4 * latent.div_ceil(128) + 2 * rope,
            KvFormat::Nvfp4 => elems.div_ceil(2) + elems.div_ceil(16),
        }
    }
}

impl fmt::Display for KvFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvFormat::Fp32 => "fp32",
            KvFormat::Bf16 => "bf16",
            KvFormat::Fp16 => "fp16",
            KvFormat::Fp8 => "fp8",
            KvFormat::Fp8PerTokenHead => "fp8-per-token-head",
            KvFormat::Int8PerTokenHead => "int8-per-token-head",
            KvFormat::Fp8DsMla => "fp8-ds-mla",
            KvFormat::Nvfp4 => "nvfp4",
        })
    }
}

impl FromStr for KvFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let l = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match l.as_str() {
            "fp32" | "float32" => KvFormat::Fp32,
            "bf16" | "bfloat16" | "auto" => KvFormat::Bf16,
            "fp16" | "float16" => KvFormat::Fp16,
            "fp8" | "fp8-e4m3" | "fp8-e5m2" => KvFormat::Fp8,
            "fp8-per-token-head" => KvFormat::Fp8PerTokenHead,
            "int8-per-token-head" => KvFormat::Int8PerTokenHead,
            "fp8-ds-mla" => KvFormat::Fp8DsMla,
            "nvfp4" | "fp4" => KvFormat::Nvfp4,
            _ => {
                return Err(format!(
                    "`{s}` is not a KV-cache format; use one of {}",
                    Self::NAMES
                ))
            }
        })
    }
}

impl From<KvFormat> for String {
    fn from(f: KvFormat) -> String {
        f.to_string()
    }
}

impl TryFrom<String> for KvFormat {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        s.parse()
    }
}

/// The tensor groups a precision plan assigns formats to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TensorGroup {
    /// Attention projections (q/k/v/o, MLA down/up projections).
    Attention,
    /// FFN of dense layers.
    DenseFfn,
    /// Routed experts of MoE layers.
    RoutedExperts,
    /// Shared (always active) experts of MoE layers.
    SharedExperts,
    /// MoE router (gate) weights: kept in high precision by every quantised checkpoint.
    Router,
    /// Token embedding and lm_head.
    Embeddings,
    /// Norm weights, biases, attention sinks.
    Vectors,
    /// Vision / audio encoder and projector of a multimodal checkpoint (its norms and biases
    /// included): held in memory, unused per generated token.
    Vision,
}

impl TensorGroup {
    /// Number of groups.
    pub const COUNT: usize = 8;
    /// All groups, in display order.
    pub const ALL: [TensorGroup; TensorGroup::COUNT] = [
        TensorGroup::Attention,
        TensorGroup::DenseFfn,
        TensorGroup::RoutedExperts,
        TensorGroup::SharedExperts,
        TensorGroup::Router,
        TensorGroup::Embeddings,
        TensorGroup::Vectors,
        TensorGroup::Vision,
    ];

    /// The name in the human table.
    pub fn label(self) -> &'static str {
        match self {
            TensorGroup::Attention => "attention",
            TensorGroup::DenseFfn => "dense FFN",
            TensorGroup::RoutedExperts => "routed experts",
            TensorGroup::SharedExperts => "shared experts",
            TensorGroup::Router => "router",
            TensorGroup::Embeddings => "embeddings + lm_head",
            TensorGroup::Vectors => "norms, biases",
            TensorGroup::Vision => "vision encoder",
        }
    }

    /// The name used on the command line and in reports (`--precision attention=fp8,...`).
    pub fn name(self) -> &'static str {
        match self {
            TensorGroup::Attention => "attention",
            TensorGroup::DenseFfn => "dense_ffn",
            TensorGroup::RoutedExperts => "routed_experts",
            TensorGroup::SharedExperts => "shared_experts",
            TensorGroup::Router => "router",
            TensorGroup::Embeddings => "embeddings",
            TensorGroup::Vectors => "vectors",
            TensorGroup::Vision => "vision",
        }
    }
}

/// One value per tensor group, indexed by [`TensorGroup`]: formats of a plan, weight bytes, compute
/// rates. Serialises as a map from group name to value, in [`TensorGroup::ALL`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PerGroup<T>([T; TensorGroup::COUNT]);

impl<T: Copy> PerGroup<T> {
    /// The same value for every group.
    pub const fn splat(v: T) -> Self {
        PerGroup([v; TensorGroup::COUNT])
    }
}

impl<T> PerGroup<T> {
    /// `(group, value)` pairs in display order.
    pub fn iter(&self) -> impl Iterator<Item = (TensorGroup, &T)> {
        TensorGroup::ALL.iter().copied().zip(self.0.iter())
    }
    /// The values in display order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
    /// A new value per group.
    pub fn map<U>(&self, f: impl Fn(TensorGroup, &T) -> U) -> PerGroup<U> {
        PerGroup(std::array::from_fn(|i| f(TensorGroup::ALL[i], &self.0[i])))
    }
}

impl PerGroup<u64> {
    /// Sum of all groups (saturating: each model's total is checked where it is computed).
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, &b| a.saturating_add(b))
    }
}

impl<T> std::ops::Index<TensorGroup> for PerGroup<T> {
    type Output = T;
    fn index(&self, g: TensorGroup) -> &T {
        &self.0[g as usize]
    }
}

impl<T> std::ops::IndexMut<TensorGroup> for PerGroup<T> {
    fn index_mut(&mut self, g: TensorGroup) -> &mut T {
        &mut self.0[g as usize]
    }
}

impl<T: Serialize> Serialize for PerGroup<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(TensorGroup::COUNT))?;
        for (g, v) in self.iter() {
            m.serialize_entry(g.name(), v)?;
        }
        m.end()
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for PerGroup<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = PerGroup<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a map with one entry per tensor group")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<PerGroup<T>, A::Error> {
                let mut slots: [Option<T>; TensorGroup::COUNT] = Default::default();
                while let Some(key) = map.next_key::<String>()? {
                    match TensorGroup::ALL.iter().find(|g| g.name() == key) {
                        Some(g) => slots[*g as usize] = Some(map.next_value()?),
                        // Flattened into a larger struct: the other fields pass by.
                        None => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                let mut out = Vec::with_capacity(TensorGroup::COUNT);
                for (g, v) in TensorGroup::ALL.iter().zip(slots) {
                    out.push(v.ok_or_else(|| serde::de::Error::missing_field(g.name()))?);
                }
                out.try_into()
                    .map(PerGroup)
                    .map_err(|_| serde::de::Error::custom("tensor groups"))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A number format for every tensor group, plus the KV-cache format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrecisionPlan {
    #[serde(flatten)]
    pub weights: PerGroup<WeightFormat>,
    pub kv: KvFormat,
    /// Recurrent state of linear-attention layers (fp32, bf16 or fp16; vLLM's default follows the
    /// model dtype).
    #[serde(default = "default_state")]
    pub state: KvFormat,
    /// Key cache of the DeepSeek sparse-attention indexer (`--precision indexer=mxfp4`).
    #[serde(default, skip_serializing_if = "IndexerCache::is_fp8")]
    pub indexer: IndexerCache,
}

/// Whether a `--precision` value names the KV cache (`kv=` or `kv_cache=`): the user then chose
/// the format, and engine defaults that replace `auto` do not apply.
pub fn spec_sets_kv(spec: &str) -> bool {
    spec.split(',').any(|item| {
        item.split_once('=').is_some_and(|(g, _)| {
            matches!(
                g.trim().to_ascii_lowercase().replace('-', "_").as_str(),
                "kv" | "kv_cache"
            )
        })
    })
}

fn default_state() -> KvFormat {
    KvFormat::Bf16
}

/// Storage of the sparse-attention indexer's key cache (DeepSeek-V3.2, GLM-5, DeepSeek-V4 CSA
/// layers; docs/facts.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndexerCache {
    /// FP8 keys plus one fp32 scale per 128: 132 B for 128-dim keys.
    #[default]
    Fp8,
    /// MXFP4 keys (two per byte) plus one UE8M0 byte per 32: 64 + 4 = 68 B for 128-dim keys
    /// (vLLM `--attention-config.indexer_kv_dtype mxfp4`,
    /// `vllm/models/deepseek_v4/attention.py::DeepseekV4Indexer.__init__` @ v0.33.0).
    Mxfp4,
    /// FP8 keys (132 B) that the engine allocates beside the pool but leaves out of the cell size
    /// it divides its budget by: SGLang 0.5.3 (`ModelRunner.profile_max_num_token` counts the MLA
    /// latent only; sgl-project/sglang PR 11309, in v0.5.3.post1, added the indexer). They count
    /// 0 B toward capacity, which is how that release sized its pool; the memory they take is
    /// not in the KV budget.
    Unbudgeted,
}

impl IndexerCache {
    pub(crate) fn is_fp8(&self) -> bool {
        *self == IndexerCache::Fp8
    }

    /// Key-cache bytes of one indexed entry with `head_dim`-wide keys.
    pub fn key_bytes(self, head_dim: u64) -> u64 {
        match self {
            IndexerCache::Fp8 => head_dim + 4 * head_dim.div_ceil(128),
            IndexerCache::Mxfp4 => head_dim.div_ceil(2) + head_dim.div_ceil(32),
            IndexerCache::Unbudgeted => 0,
        }
    }
}

impl fmt::Display for IndexerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IndexerCache::Fp8 => "fp8",
            IndexerCache::Mxfp4 => "mxfp4",
            IndexerCache::Unbudgeted => "fp8 (not budgeted)",
        })
    }
}

impl PrecisionPlan {
    /// Everything in one float format (e.g. BF16), KV cache in the matching format.
    pub fn uniform(w: WeightFormat) -> Self {
        PrecisionPlan {
            weights: PerGroup::splat(w),
            state: KvFormat::Bf16,
            indexer: IndexerCache::Fp8,
            kv: if w == WeightFormat::Fp16 {
                KvFormat::Fp16
            } else if w == WeightFormat::Fp32 {
                KvFormat::Fp32
            } else {
                KvFormat::Bf16
            },
        }
    }

    /// The format of one group.
    pub fn get(&self, g: TensorGroup) -> WeightFormat {
        self.weights[g]
    }

    /// Sets the format of one group.
    pub fn set(&mut self, g: TensorGroup, f: WeightFormat) {
        self.weights[g] = f;
    }

    /// `--weights FMT`: every linear layer of the decoder (attention, dense FFN, experts).
    /// Embeddings, lm_head, router and norms keep their format, as real quantised checkpoints do.
    pub fn set_linear(&mut self, f: WeightFormat) {
        for g in [
            TensorGroup::Attention,
            TensorGroup::DenseFfn,
            TensorGroup::RoutedExperts,
            TensorGroup::SharedExperts,
        ] {
            self.set(g, f);
        }
    }

    /// Applies `group=fmt,group=fmt` (the `--precision` flag). `kv=` sets the KV format,
    /// `linear=` the four linear groups, `all=` every weight group.
    /// A group named twice is an error: which value was meant is not clear (a broad group such as
    /// `linear=` followed by a narrow one such as `attention=` is an override, and allowed).
    pub fn apply_spec(&mut self, spec: &str) -> Result<()> {
        let mut seen: Vec<String> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (g, f) = item.split_once('=').ok_or_else(|| {
                Error::field(
                    "command line",
                    "--precision",
                    format!("`{item}`"),
                    "group=format pairs, e.g. routed_experts=mxfp4,kv=fp8",
                )
            })?;
            let g = g.trim().to_ascii_lowercase().replace('-', "_");
            let canonical = if g == "kv_cache" {
                "kv".to_string()
            } else {
                g.clone()
            };
            if seen.contains(&canonical) {
                return Err(Error::field(
                    "command line",
                    "--precision",
                    format!("group `{canonical}` twice"),
                    "each group at most once",
                ));
            }
            seen.push(canonical);
            if g == "state" {
                self.state = f
                    .parse()
                    .map_err(|e| Error::field("command line", "--precision state", f, e))?;
                continue;
            }
            if g == "indexer" {
                self.indexer = match f.trim().to_ascii_lowercase().as_str() {
                    "fp8" => IndexerCache::Fp8,
                    "mxfp4" | "fp4" => IndexerCache::Mxfp4,
                    _ => {
                        return Err(Error::field(
                            "command line",
                            "--precision indexer",
                            f,
                            "fp8 or mxfp4 (the sparse-attention indexer's key cache)",
                        ))
                    }
                };
                continue;
            }
            if g == "kv" || g == "kv_cache" {
                self.kv = f
                    .parse()
                    .map_err(|e| Error::field("command line", "--precision kv", f, e))?;
                continue;
            }
            let fmt: WeightFormat = f
                .parse()
                .map_err(|e| Error::field("command line", format!("--precision {g}"), f, e))?;
            match g.as_str() {
                "linear" => self.set_linear(fmt),
                "all" => TensorGroup::ALL.iter().for_each(|&t| self.set(t, fmt)),
                "experts" => {
                    self.set(TensorGroup::RoutedExperts, fmt);
                    self.set(TensorGroup::SharedExperts, fmt);
                }
                name => {
                    let grp = TensorGroup::ALL.iter().find(|t| t.name() == name).ok_or_else(|| {
                        Error::field(
                            "command line",
                            "--precision",
                            format!("group `{name}`"),
                            "one of attention, dense_ffn, routed_experts, shared_experts, router, embeddings, vectors, vision, experts, linear, all, kv",
                        )
                    })?;
                    self.set(*grp, fmt);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements' bytes are what is left of a matrix without its scales: DeepSeek-V3's
    /// 2048 × 7168 FP8 expert projection is 14,680,064 B of elements and 16 × 56 fp32 block
    /// scales; an MXFP4 one of the same shape 7,340,032 B and one E8M0 byte per 32 elements.
    #[test]
    fn data_bytes_leave_the_scales_out() {
        let (r, c) = (2048u128, 7168u128);
        let f = WeightFormat::Fp8Block128;
        assert_eq!(f.matrix_data_bytes(r, c), 14_680_064);
        assert_eq!(
            f.matrix_bytes(r, c) - f.matrix_data_bytes(r, c),
            4 * 16 * 56
        );
        let f = WeightFormat::Mxfp4;
        assert_eq!(f.matrix_data_bytes(r, c), 7_340_032);
        assert_eq!(f.matrix_bytes(r, c) - f.matrix_data_bytes(r, c), r * c / 32);
        for f in [
            WeightFormat::Fp32,
            WeightFormat::Bf16,
            WeightFormat::Fp8,
            WeightFormat::Int8,
            WeightFormat::Int4 { group: 128 },
            WeightFormat::Nvfp4,
            WeightFormat::int_group(3, 64, true, true),
            WeightFormat::Bnb4 { double_quant: true },
        ] {
            for (r, c) in [(1, 1), (7, 33), (4096, 4096)] {
                assert!(f.matrix_data_bytes(r, c) <= f.matrix_bytes(r, c), "{f:?}");
            }
        }
    }

    // docs/facts.md §5: MXFP4 is 4 + 8/32 = 4.25 bits, NVFP4 4 + 8/16 = 4.5 bits (+ one fp32 per tensor),
    // FP8 block-128 adds one fp32 per 16,384 weights = 8.002 bits.
    #[test]
    fn bits_per_element_include_scales() {
        assert_eq!(
            WeightFormat::Mxfp4.matrix_bytes(4096, 4096),
            4096 * 4096 / 2 + 4096 * 128
        );
        assert!((WeightFormat::Mxfp4.bits_per_element() - 4.25).abs() < 1e-12);
        assert!(
            (WeightFormat::Nvfp4.bits_per_element() - (4.5 + 32.0 / (4096.0 * 4096.0))).abs()
                < 1e-12
        );
        assert!(
            (WeightFormat::Fp8Block128.bits_per_element() - (8.0 + 32.0 / 16384.0)).abs() < 1e-12
        );
        // Kimi-K2-Thinking: INT4, group 32, bf16 scale: 4 + 16/32 = 4.5 bits.
        assert!((WeightFormat::Int4 { group: 32 }.bits_per_element() - 4.5).abs() < 1e-12);
        assert_eq!(WeightFormat::Bf16.bits_per_element(), 16.0);
    }

    // DeepSeek-V3 kv_b_proj is 32768 × 512: 256 × 4 blocks of 128×128 → 1024 fp32 scales.
    #[test]
    fn fp8_block_scales_of_a_deepseek_tensor() {
        assert_eq!(
            WeightFormat::Fp8Block128.matrix_bytes(32768, 512),
            32768 * 512 + 1024 * 4
        );
        // Ragged edge: 7168 × 576 (kv_a_proj_with_mqa) → 56 × 5 blocks.
        assert_eq!(
            WeightFormat::Fp8Block128.matrix_bytes(576, 7168),
            576 * 7168 + 5 * 56 * 4
        );
    }

    // docs/facts.md §1: fp8_ds_mla = 512 + 16 + 128 = 656 B; NVFP4 head 128 = 64 + 8 = 72 B per K (or V).
    #[test]
    fn kv_records_from_the_facts() {
        assert_eq!(KvFormat::Fp8DsMla.mla_record_bytes(512, 64), 656);
        assert_eq!(KvFormat::Bf16.mla_record_bytes(512, 64), 1152);
        assert_eq!(KvFormat::Nvfp4.gqa_record_bytes(1, 128, 128).unwrap(), 144);
        // Llama-3.1-8B per layer: 8 heads × 256 × 2 B = 4096 B; per-token-head fp8 adds 2·8·4 = 64 B.
        assert_eq!(KvFormat::Bf16.gqa_record_bytes(8, 128, 128).unwrap(), 4096);
        assert_eq!(
            KvFormat::Fp8PerTokenHead
                .gqa_record_bytes(8, 128, 128)
                .unwrap(),
            2048 + 64
        );
        assert!(KvFormat::Fp8DsMla.gqa_record_bytes(8, 128, 128).is_err());
    }

    #[test]
    fn parse_round_trips() {
        for n in [
            "fp32",
            "bf16",
            "fp16",
            "fp8",
            "fp8-block128",
            "int8",
            "int4-g32",
            "mxfp4",
            "nvfp4",
        ] {
            let f: WeightFormat = n.parse().unwrap();
            assert_eq!(f.to_string().parse::<WeightFormat>().unwrap(), f);
        }
        assert!("fp5".parse::<WeightFormat>().is_err());
        assert!("int4-g0".parse::<WeightFormat>().is_err());
        for n in ["bf16", "fp8", "fp8_ds_mla", "nvfp4", "fp8-per-token-head"] {
            let f: KvFormat = n.parse().unwrap();
            assert_eq!(f.to_string().parse::<KvFormat>().unwrap(), f);
        }
    }

    #[test]
    fn precision_spec_sets_groups() {
        let mut p = PrecisionPlan::uniform(WeightFormat::Bf16);
        p.apply_spec("routed_experts=mxfp4, kv=fp8").unwrap();
        assert_eq!(p.get(TensorGroup::RoutedExperts), WeightFormat::Mxfp4);
        assert_eq!(p.get(TensorGroup::Attention), WeightFormat::Bf16);
        assert_eq!(p.kv, KvFormat::Fp8);
        assert!(p
            .apply_spec("foo=fp8")
            .unwrap_err()
            .to_string()
            .contains("foo"));
        assert!(p
            .apply_spec("attention=fp5")
            .unwrap_err()
            .to_string()
            .contains("fp5"));
    }
}
