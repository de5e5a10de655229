//! The knob table: every setting a scenario takes, declared once — name, help, value type, default
//! and how it applies to a [`Spec`]. Command-line flags (`eval`, and as comma-separated lists in
//! `sweep`, `compare`, `plot`, `fit`), sweep axes and scenario-file keys are all generated from or
//! checked against [`KNOBS`]. To add a knob: a field in [`Spec`] (and in [`Spec::build`] if it is
//! not a plain scenario field), and one entry here.

use super::{Overrides, Scenario};
use crate::catalog;
use crate::chip::Chip;
use crate::deploy::Deployment;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::precision::{KvFormat, PrecisionPlan, WeightFormat};
use crate::units::{gib_to_bytes, parse_tokens};
use crate::whatif::{self, AttentionTarget};

/// What a knob's values are: how they parse, and whether a sweep may give them as a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Values {
    /// Free text checked by the knob (a catalog id, a format, an engine).
    Text,
    /// A token count: 8192, 32k, 1M; ranges `8k..1M:x2`, `1k..8k:+1k`.
    Tokens,
    /// A whole number; ranges `1..8:x2`.
    Integer,
    /// A real number.
    Number,
    /// true or false (a bare flag means true); `both` as a sweep axis.
    Switch,
    /// `FIELD=VALUE`, repeatable; as a sweep axis `FIELD=v1,v2` (one axis per field).
    FieldValue,
}

impl Values {
    /// Whether a sweep value may be a range (`lo..hi:step`).
    pub fn ranges(self) -> bool {
        matches!(self, Values::Tokens | Values::Integer)
    }
}

/// One setting of a scenario.
pub struct Knob {
    /// The flag's long name (`--tp`) and the scenario-file key (`tp`; `_` and `-` alike).
    pub name: &'static str,
    /// Other names the flag answers to.
    pub aliases: &'static [&'static str],
    /// Placeholder in help (`N`, `FMT`).
    pub value_name: &'static str,
    pub help: &'static str,
    /// The value when the knob is not given, as text ("" when there is none).
    pub default: &'static str,
    pub values: Values,
    apply: fn(&mut Spec, &str) -> Result<()>,
}

impl Knob {
    /// Sets this knob on `spec` from its text value; the error names the flag.
    pub fn apply(&self, spec: &mut Spec, value: &str) -> Result<()> {
        (self.apply)(spec, value)
    }

    /// The flag as users write it.
    pub fn flag(&self) -> String {
        format!("--{}", self.name)
    }
}

impl std::fmt::Debug for Knob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Knob({})", self.name)
    }
}

impl PartialEq for Knob {
    fn eq(&self, other: &Knob) -> bool {
        self.name == other.name
    }
}

/// The knob called `name` (`-` or `_`, with or without leading dashes, or an alias).
pub fn knob(name: &str) -> Option<&'static Knob> {
    let n = name.trim().trim_start_matches("--").replace('_', "-");
    KNOBS
        .iter()
        .find(|k| k.name == n || k.aliases.contains(&n.as_str()))
}

/// Every knob's name, for error messages.
pub fn names() -> String {
    KNOBS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// A scenario as the user states it, before the model and chip are loaded: the knobs' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub model: String,
    pub chip: String,
    pub context: u64,
    /// Config edits `(field path, JSON value)`, applied before import.
    pub sets: Vec<(String, serde_json::Value)>,
    pub attention: Option<AttentionTarget>,
    /// `E:K[:S]`, validated.
    pub moe: Option<String>,
    pub dense: bool,
    pub weights: Option<WeightFormat>,
    pub kv: Option<KvFormat>,
    /// `kv` stands for the engine's `auto` (kvsim check sets it from a log's dtype), so engine
    /// rules for `auto` still apply (not a knob).
    pub kv_is_auto: bool,
    /// `group=format,...`, validated, applied after `weights` and `kv`.
    pub precision: Option<String>,
    pub engine: String,
    pub engine_version: Option<String>,
    pub tp: u64,
    pub pp: u64,
    pub ep: u64,
    pub dp: u64,
    pub dp_attention: bool,
    pub memory_fraction: Option<f64>,
    /// Bytes other processes hold on each device when the engine starts.
    pub other_processes: u64,
    pub block_size: Option<u64>,
    pub max_num_batched_tokens: Option<u64>,
    pub max_num_seqs: Option<u64>,
    pub swa_full_tokens_ratio: f64,
    /// vLLM on Intel Gaudi: `VLLM_GRAPH_RESERVED_MEM` (None: the engine's default).
    pub hpu_graph_reserved_mem: Option<f64>,
    /// vLLM V0 0.7.3: the MLA entry padding (`VLLM_CUDA_MEM_ALIGN_KV_CACHE`; None: on).
    pub vllm_mla_align: Option<bool>,
    /// vLLM V1: the sampler runs on FlashInfer (kvsim check sets it from the log's line).
    pub flashinfer_sampler: Option<bool>,
    pub mtp: bool,
    /// Load a one-layer EAGLE draft head (`whatif::add_eagle_head`).
    pub eagle: bool,
    pub batch: Option<u64>,
    pub prompt: Option<u64>,
    pub compute_efficiency: f64,
    pub bandwidth_efficiency: f64,
    pub price_per_hour: Option<f64>,
    pub overrides: Overrides,
}

impl Default for Spec {
    /// Every knob at its default (model and chip empty).
    fn default() -> Spec {
        Spec {
            model: String::new(),
            chip: String::new(),
            context: 32 * 1024,
            sets: Vec::new(),
            attention: None,
            moe: None,
            dense: false,
            weights: None,
            kv: None,
            kv_is_auto: false,
            precision: None,
            engine: "vllm".into(),
            engine_version: None,
            tp: 1,
            pp: 1,
            ep: 1,
            dp: 1,
            dp_attention: false,
            memory_fraction: None,
            other_processes: 0,
            block_size: None,
            max_num_batched_tokens: None,
            max_num_seqs: None,
            swa_full_tokens_ratio: 0.8,
            hpu_graph_reserved_mem: None,
            vllm_mla_align: None,
            flashinfer_sampler: None,
            mtp: false,
            eagle: false,
            batch: None,
            prompt: None,
            compute_efficiency: super::DEFAULT_COMPUTE_EFFICIENCY,
            bandwidth_efficiency: super::DEFAULT_BANDWIDTH_EFFICIENCY,
            price_per_hour: None,
            overrides: Overrides::default(),
        }
    }
}

impl Spec {
    /// A spec for `model` on `chip` with every other knob at its default.
    pub fn new(model: &str, chip: &str) -> Spec {
        Spec {
            model: model.into(),
            chip: chip.into(),
            ..Spec::default()
        }
    }

    /// Sets the knob `name` from text, as the command line would.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let k = knob(name).ok_or_else(|| {
            Error::field(
                "command line",
                name,
                "an unknown setting",
                format!("one of {}", names()),
            )
        })?;
        k.apply(self, value)
    }

    /// The model with the `--set` edits applied (not yet transformed).
    pub fn load_model(&self) -> Result<Model> {
        catalog::load_model_with(&self.model, &self.sets)
    }

    /// Loads the model and chip and builds the scenario.
    pub fn load(&self) -> Result<Scenario> {
        self.build(self.load_model()?, catalog::load_chip(&self.chip)?)
    }

    /// Builds the scenario from an already-loaded model (with the `--set` edits) and chip:
    /// architecture transforms first, then the precision plan (`weights`, `kv`, then
    /// `precision`), the deployment and the engine knobs.
    pub fn build(&self, mut model: Model, chip: Chip) -> Result<Scenario> {
        if let Some(t) = self.attention {
            whatif::convert_attention(&mut model, t)?;
        }
        if let Some(m) = &self.moe {
            whatif::to_moe(&mut model, m)?;
        }
        if self.dense {
            whatif::to_dense(&mut model)?;
        }
        if self.eagle {
            if self.mtp && model.mtp.is_some() {
                return Err(bad(
                    "eagle",
                    "--eagle with --mtp",
                    "one drafter: the model's next-n layers (--mtp) or an EAGLE head (--eagle)",
                ));
            }
            whatif::add_eagle_head(&mut model)?;
        }
        let mut s = Scenario::new(model, chip, self.context);
        if let Some(w) = self.weights {
            s.plan.set_linear(w);
        }
        if let Some(k) = self.kv {
            s.plan.kv = k;
        }
        if let Some(p) = &self.precision {
            s.plan.apply_spec(p)?;
        }
        s.memory_fraction = self.memory_fraction;
        s.other_processes = self.other_processes;
        s.block_size = self.block_size;
        s.deployment = Deployment {
            tp: self.tp,
            pp: self.pp,
            ep: self.ep,
            dp: self.dp,
            dp_attention: self.dp_attention,
            engine: Engine::parse(&self.engine, self.engine_version.as_deref())?,
        };
        self.engine_kv_format(&mut s);
        s.max_num_batched_tokens = self.max_num_batched_tokens;
        s.max_num_seqs = self.max_num_seqs;
        s.mtp = self.mtp || self.eagle;
        s.eagle = self.eagle;
        s.swa_full_tokens_ratio = self.swa_full_tokens_ratio;
        s.hpu_graph_reserved_mem = self.hpu_graph_reserved_mem;
        s.vllm_mla_align = self.vllm_mla_align;
        s.flashinfer_sampler = self.flashinfer_sampler;
        s.batch = self.batch;
        s.prompt = self.prompt;
        s.compute_efficiency = self.compute_efficiency;
        s.bandwidth_efficiency = self.bandwidth_efficiency;
        s.price_per_hour = self.price_per_hour;
        s.overrides = self.overrides;
        Ok(s)
    }
}

impl Spec {
    /// The engine's KV-format rules (what `auto` becomes, formats it rewrites or refuses, the
    /// indexer cache it allocates), applied to the plan and the model's indexers.
    fn engine_kv_format(&self, s: &mut Scenario) {
        let explicit = self
            .precision
            .as_deref()
            .is_some_and(crate::precision::spec_sets_kv)
            || (self.kv.is_some() && !self.kv_is_auto);
        let req = crate::engine::KvRequest {
            requested: explicit.then_some(s.plan.kv),
            model_default: s.plan.kv,
            indexer: s.plan.indexer,
            compressed: s.model.has_compressed_attention(),
            dsa: s.model.has_dsa_indexer(),
            setup: s.setup(),
        };
        let choice = s.deployment.engine.kv_format(&req);
        s.plan.kv = choice.kv;
        s.plan.indexer = choice.indexer;
        s.model.set_indexer_cache(choice.indexer);
        s.engine_notes = choice.notes;
    }
}

fn bad(flag: &str, found: impl std::fmt::Display, expected: impl std::fmt::Display) -> Error {
    Error::field("command line", format!("--{flag}"), found, expected)
}

fn integer(flag: &str, v: &str) -> Result<u64> {
    v.trim()
        .parse()
        .map_err(|_| bad(flag, format!("`{v}`"), "a non-negative integer"))
}

fn positive(flag: &str, v: &str, expected: &str) -> Result<u64> {
    match integer(flag, v)? {
        0 => Err(bad(flag, format!("`{v}`"), expected)),
        n => Ok(n),
    }
}

fn number(flag: &str, v: &str) -> Result<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad(flag, format!("`{v}`"), "a finite number"))
}

/// A switch's value: true/yes/1/on or false/no/0/off; anything else is an error, never false.
pub fn switch(flag: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" | "on" => Ok(true),
        "false" | "no" | "0" | "off" => Ok(false),
        _ => Err(bad(flag, format!("`{v}`"), "true or false")),
    }
}

fn tokens(flag: &str, v: &str) -> Result<u64> {
    parse_tokens(&format!("--{flag}"), v)
}

fn gib(flag: &str, v: &str) -> Result<u64> {
    gib_to_bytes(&format!("--{flag}"), number(flag, v)?)
}

/// `keep` (or nothing) leaves the architecture alone.
fn keep(v: &str) -> bool {
    let v = v.trim();
    v.is_empty() || v.eq_ignore_ascii_case("keep")
}

/// `FIELD=VALUE`: the value is JSON when it parses as JSON (numbers, booleans, null, lists), a
/// string otherwise. A later edit of the same field replaces an earlier one.
fn field_value(s: &mut Spec, v: &str) -> Result<()> {
    let (key, raw) = v.split_once('=').ok_or_else(|| {
        bad(
            "set",
            format!("`{v}`"),
            "FIELD=VALUE, e.g. num_key_value_heads=8",
        )
    })?;
    let key = key.trim();
    if key.is_empty() || key.split('.').any(str::is_empty) {
        return Err(bad(
            "set",
            format!("`{v}`"),
            "a field name (dotted for nested fields) before `=`",
        ));
    }
    let value = serde_json::from_str(raw.trim())
        .unwrap_or_else(|_| serde_json::Value::String(raw.trim().to_string()));
    s.sets.retain(|(k, _)| k != key);
    s.sets.push((key.to_string(), value));
    Ok(())
}

/// The knobs, in sweep-grid order: the first varies slowest, `context` fastest.
pub static KNOBS: &[Knob] = &[
    Knob {
        name: "model",
        aliases: &[],
        value_name: "MODEL",
        help: "Model: a catalog id (see `kvsim models`), a path to a Hugging Face config.json, a \
               checkpoint directory (config.json and *.safetensors: the weights are the stored \
               bytes of its safetensors headers) or a hub id hf:ORG/NAME[@REVISION].",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            s.model = v.trim().into();
            Ok(())
        },
    },
    Knob {
        name: "set",
        aliases: &[],
        value_name: "FIELD=VALUE",
        help: "Change a config field before the model is built, by its Hugging Face name \
               (repeatable): `--set num_key_value_heads=8`. The field must be one the importer \
               reads; in a multimodal config a plain name reaches `text_config`.",
        default: "",
        values: Values::FieldValue,
        apply: field_value,
    },
    Knob {
        name: "treat-as",
        aliases: &[],
        value_name: "CLASS",
        help: "Import the config with the rules of this architecture class (a row of \
               docs/architectures.md), whatever its `architectures` says: for a renamed or \
               unknown class that shares a supported layout. `keep` = the config's own class.",
        default: "keep",
        values: Values::Text,
        apply: |s, v| {
            let v = v.trim();
            s.sets.retain(|(k, _)| k != "architectures");
            if keep(v) {
                return Ok(());
            }
            if crate::model::hf::table::find(v).is_none() {
                return Err(bad(
                    "treat-as",
                    format!("`{v}`"),
                    "a supported architecture class, e.g. LlamaForCausalLM (see docs/architectures.md)",
                ));
            }
            s.sets
                .push(("architectures".into(), serde_json::json!([v])));
            Ok(())
        },
    },
    Knob {
        name: "attention",
        aliases: &[],
        value_name: "KIND",
        help: "Convert the attention, keeping heads, head dims and depth: mha, gqa:N, mqa (KV \
               heads = heads, N, 1), or `mla:RANK[:ROPE]` (latent RANK, RoPE dims ROPE (64), \
               nope = head_dim − ROPE, no query compression). Linear and compressed layers are \
               left alone. `keep` = no change.",
        default: "keep",
        values: Values::Text,
        apply: |s, v| {
            s.attention = if keep(v) { None } else { Some(v.parse()?) };
            Ok(())
        },
    },
    Knob {
        name: "moe",
        aliases: &[],
        value_name: "E:K[:S]",
        help: "Make every FFN E routed experts of top-K (+S shared) at equal active width: expert \
               width = active width / (K + S), router added. `keep` = no change.",
        default: "keep",
        values: Values::Text,
        apply: |s, v| {
            s.moe = if keep(v) {
                None
            } else {
                whatif::parse_moe(v)?;
                Some(v.trim().to_string())
            };
            Ok(())
        },
    },
    Knob {
        name: "dense",
        aliases: &[],
        value_name: "BOOL",
        help: "Collapse every MoE FFN to a dense FFN of its active width (top-k experts + shared).",
        default: "false",
        values: Values::Switch,
        apply: |s, v| {
            s.dense = switch("dense", v)?;
            Ok(())
        },
    },
    Knob {
        name: "chip",
        aliases: &[],
        value_name: "CHIP",
        help: "Chip: a catalog id (see `kvsim chips`) or a path to a chip TOML.",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            s.chip = v.trim().into();
            Ok(())
        },
    },
    Knob {
        name: "engine",
        aliases: &[],
        value_name: "ENGINE",
        help: "Serving engine whose memory accounting to follow: vllm, sglang, trtllm, or ideal \
               (all memory but the weights, no pages: the physical ceiling).",
        default: "vllm",
        values: Values::Text,
        apply: |s, v| {
            Engine::parse(v, None)?;
            s.engine = v.trim().into();
            Ok(())
        },
    },
    Knob {
        name: "engine-version",
        aliases: &[],
        value_name: "VERSION",
        help: "vLLM release, 0.MINOR[.PATCH] (default: the latest kvsim models; below 0.8 the \
               legacy V0 engine; the defaults and accounting of each release are in \
               src/engine/vllm.rs).",
        default: "latest",
        values: Values::Text,
        apply: |s, v| {
            s.engine_version = Some(v.trim().to_string()).filter(|v| v != "latest");
            Ok(())
        },
    },
    Knob {
        name: "tp",
        aliases: &[],
        value_name: "N",
        help: "Tensor-parallel degree.",
        default: "1",
        values: Values::Integer,
        apply: |s, v| {
            s.tp = integer("tp", v)?;
            Ok(())
        },
    },
    Knob {
        name: "pp",
        aliases: &[],
        value_name: "N",
        help: "Pipeline-parallel degree (layers split as vLLM's get_pp_indices does).",
        default: "1",
        values: Values::Integer,
        apply: |s, v| {
            s.pp = integer("pp", v)?;
            Ok(())
        },
    },
    Knob {
        name: "ep",
        aliases: &[],
        value_name: "N",
        help: "Expert-parallel degree: routed experts split over this many ranks of the MoE group.",
        default: "1",
        values: Values::Integer,
        apply: |s, v| {
            s.ep = integer("ep", v)?;
            Ok(())
        },
    },
    Knob {
        name: "dp",
        aliases: &[],
        value_name: "N",
        help: "Data-parallel degree (replicas; with --dp-attention, attention groups inside the \
               TP group).",
        default: "1",
        values: Values::Integer,
        apply: |s, v| {
            s.dp = integer("dp", v)?;
            Ok(())
        },
    },
    Knob {
        name: "dp-attention",
        aliases: &[],
        value_name: "BOOL",
        help: "SGLang-style data-parallel attention: attention TP = tp / dp, MLA latent not \
               replicated.",
        default: "false",
        values: Values::Switch,
        apply: |s, v| {
            s.dp_attention = switch("dp-attention", v)?;
            Ok(())
        },
    },
    Knob {
        name: "weights",
        aliases: &[],
        value_name: "FMT",
        help:
            "Format of every linear layer (attention, dense FFN, experts); embeddings and router \
               keep theirs. One of fp32, bf16, fp16, fp8, fp8-block128, int8, int4, `int4-g<N>`, \
               mxfp4, nvfp4.",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            s.weights = Some(v.parse().map_err(|e| bad("weights", v, e))?);
            Ok(())
        },
    },
    Knob {
        name: "precision",
        aliases: &[],
        value_name: "GROUP=FMT,...",
        help: "Per-group formats, e.g. `routed_experts=mxfp4,attention=fp8,kv=fp8`. Groups: \
               attention, dense_ffn, routed_experts, shared_experts, router, embeddings, vectors, \
               experts, linear, all, kv, state, indexer (fp8 or mxfp4: the sparse-attention \
               indexer's key cache). Applied after --weights and --kv.",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            PrecisionPlan::uniform(WeightFormat::Bf16).apply_spec(v)?;
            s.precision = Some(v.trim().into());
            Ok(())
        },
    },
    Knob {
        name: "kv",
        aliases: &[],
        value_name: "FMT",
        help: "KV-cache format: bf16, fp16, fp32, fp8, fp8-per-token-head, int8-per-token-head, \
               fp8-ds-mla, nvfp4, or auto (the engine's choice: the model's dtype, or the format \
               the engine serves the model in, e.g. fp8-ds-mla for DeepSeek-V4 under vLLM).",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            // `auto` is the engine's choice, as in the engines themselves.
            if v.trim().eq_ignore_ascii_case("auto") {
                s.kv = None;
                s.kv_is_auto = false;
                return Ok(());
            }
            s.kv = Some(v.parse().map_err(|e| bad("kv", v, e))?);
            s.kv_is_auto = false;
            Ok(())
        },
    },
    Knob {
        name: "gpu-memory-utilization",
        aliases: &["mem-fraction-static", "free-gpu-memory-fraction"],
        value_name: "FRACTION",
        help: "The engine's memory fraction: vLLM gpu_memory_utilization (0.9), SGLang \
               mem_fraction_static (0.88 … 0.79 by TP), TensorRT-LLM free_gpu_memory_fraction \
               (0.9).",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.memory_fraction = Some(number("gpu-memory-utilization", v)?);
            Ok(())
        },
    },
    Knob {
        name: "other-processes",
        aliases: &[],
        value_name: "GIB",
        help: "Device memory other processes hold on each GPU when the engine starts (a \
               desktop, the Windows host under WSL2, another server), in GiB. SGLang, \
               TensorRT-LLM and vLLM on Gaudi lose it from the KV cache at their fraction, vLLM \
               V1 0.8 and vLLM-Ascend before 0.15 all of it; vLLM from 0.9 loses none, but \
               refuses to start when free memory is below its utilization × total.",
        default: "0",
        values: Values::Number,
        apply: |s, v| {
            s.other_processes =
                crate::units::gib_to_bytes("--other-processes", number("other-processes", v)?)?;
            Ok(())
        },
    },
    Knob {
        name: "block-size",
        aliases: &[],
        value_name: "TOKENS",
        help: "KV block (page) size in tokens (default: vLLM 16, 128 on Ascend; SGLang 1; \
               TensorRT-LLM 32).",
        default: "",
        values: Values::Integer,
        apply: |s, v| {
            s.block_size = Some(integer("block-size", v)?);
            Ok(())
        },
    },
    Knob {
        name: "max-num-batched-tokens",
        aliases: &[],
        value_name: "TOKENS",
        help:
            "vLLM max_num_batched_tokens: the profiling batch behind the activation estimate and \
               the chunk a sliding-window layer keeps in flight (default: vLLM's for the GPU, \
               8192 on GPUs of 70 GiB or more other than the A100, else 2048).",
        default: "",
        values: Values::Tokens,
        apply: |s, v| {
            s.max_num_batched_tokens = Some(tokens("max-num-batched-tokens", v)?);
            Ok(())
        },
    },
    Knob {
        name: "max-num-seqs",
        aliases: &[],
        value_name: "N",
        help: "vLLM max_num_seqs: the sampler profiling batch behind the activation estimate \
               (default: the engine's for the chip and release).",
        default: "",
        values: Values::Integer,
        apply: |s, v| {
            s.max_num_seqs = Some(positive(
                "max-num-seqs",
                v,
                "a positive number of sequences",
            )?);
            Ok(())
        },
    },
    Knob {
        name: "swa-full-tokens-ratio",
        aliases: &[],
        value_name: "RATIO",
        help: "SGLang swa_full_tokens_ratio: size of the sliding-window pool relative to the full \
               pool.",
        default: "0.8",
        values: Values::Number,
        apply: |s, v| {
            s.swa_full_tokens_ratio = number("swa-full-tokens-ratio", v)?;
            Ok(())
        },
    },
    Knob {
        name: "mtp",
        aliases: &[],
        value_name: "BOOL",
        help:
            "Include the MTP / next-n layers (weights and KV), as speculative decoding with them \
               does.",
        default: "false",
        values: Values::Switch,
        apply: |s, v| {
            s.mtp = switch("mtp", v)?;
            Ok(())
        },
    },
    Knob {
        name: "eagle",
        aliases: &[],
        value_name: "BOOL",
        help: "Load a one-layer EAGLE draft head, as vLLM's EAGLE speculative decoding does: one \
               decoder layer of the target's first kind and a 2·hidden × hidden fusion matrix \
               (weights), its KV in the same pool; embeddings and lm_head shared.",
        default: "false",
        values: Values::Switch,
        apply: |s, v| {
            s.eagle = switch("eagle", v)?;
            Ok(())
        },
    },
    Knob {
        name: "batch",
        aliases: &[],
        value_name: "N",
        help: "Sessions decoded together, deployment-wide (default: as many as fit).",
        default: "",
        values: Values::Integer,
        apply: |s, v| {
            s.batch = Some(integer("batch", v)?);
            Ok(())
        },
    },
    Knob {
        name: "prompt",
        aliases: &[],
        value_name: "TOKENS",
        help: "Prompt tokens for the time to first token (default: the context). Accepts 8k, 1M.",
        default: "",
        values: Values::Tokens,
        apply: |s, v| {
            s.prompt = Some(tokens("prompt", v)?);
            Ok(())
        },
    },
    Knob {
        name: "compute-efficiency",
        aliases: &[],
        value_name: "FRACTION",
        help: "Achievable fraction of the compute peak.",
        default: "0.7",
        values: Values::Number,
        apply: |s, v| {
            s.compute_efficiency = number("compute-efficiency", v)?;
            Ok(())
        },
    },
    Knob {
        name: "bandwidth-efficiency",
        aliases: &[],
        value_name: "FRACTION",
        help: "Achievable fraction of the memory bandwidth.",
        default: "0.85",
        values: Values::Number,
        apply: |s, v| {
            s.bandwidth_efficiency = number("bandwidth-efficiency", v)?;
            Ok(())
        },
    },
    Knob {
        name: "price-per-hour",
        aliases: &[],
        value_name: "USD",
        help: "Price of one chip per hour in USD (for $ per million tokens).",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.price_per_hour = Some(number("price-per-hour", v)?);
            Ok(())
        },
    },
    Knob {
        name: "total-memory-gib",
        aliases: &[],
        value_name: "GIB",
        help: "Device memory in GiB, replacing the catalog figure.",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            // Zero memory answers "0 sessions" for every model: a mistake, not a question.
            let bytes = gib("total-memory-gib", v)?;
            if bytes == 0 {
                return Err(bad(
                    "total-memory-gib",
                    format!("`{v}`"),
                    "a positive amount of memory",
                ));
            }
            s.overrides.total_memory = Some(bytes);
            Ok(())
        },
    },
    Knob {
        name: "profile",
        aliases: &[],
        value_name: "FILE",
        help: "Overhead profile fitted to start-up logs by `kvsim calibrate` (non-torch, \
               activation scale, CUDA graphs), used in place of kvsim's estimates.",
        default: "",
        values: Values::Text,
        apply: |s, v| {
            let text = catalog::read(v)?;
            s.overrides.profile = Some(crate::engine::overhead::OverheadProfile::from_toml(
                v, &text,
            )?);
            Ok(())
        },
    },
    Knob {
        name: "weights-gib",
        aliases: &[],
        value_name: "GIB",
        help: "Measured weight memory in GiB (\"Model loading took X GiB\").",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.overrides.weights = Some(gib("weights-gib", v)?);
            Ok(())
        },
    },
    Knob {
        name: "activation-gib",
        aliases: &[],
        value_name: "GIB",
        help: "Measured activation peak in GiB.",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.overrides.activation = Some(gib("activation-gib", v)?);
            Ok(())
        },
    },
    Knob {
        name: "non-torch-gib",
        aliases: &[],
        value_name: "GIB",
        help: "Measured non-torch memory in GiB.",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.overrides.non_torch = Some(gib("non-torch-gib", v)?);
            Ok(())
        },
    },
    Knob {
        name: "cuda-graph-gib",
        aliases: &[],
        value_name: "GIB",
        help: "Measured CUDA-graph memory in GiB.",
        default: "",
        values: Values::Number,
        apply: |s, v| {
            s.overrides.cuda_graph = Some(gib("cuda-graph-gib", v)?);
            Ok(())
        },
    },
    Knob {
        name: "context",
        aliases: &[],
        value_name: "TOKENS",
        help: "Tokens per session (vLLM's max_model_len): 8192, 32k, 128k, 1M.",
        default: "32k",
        values: Values::Tokens,
        apply: |s, v| {
            s.context = tokens("context", v)?;
            Ok(())
        },
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    // A knob's stated default is what Spec::default holds: applying it changes nothing.
    #[test]
    fn defaults_agree_with_spec_default() {
        for k in KNOBS.iter().filter(|k| !k.default.is_empty()) {
            let mut s = Spec::default();
            k.apply(&mut s, k.default).unwrap();
            assert_eq!(s, Spec::default(), "--{} default {}", k.name, k.default);
        }
    }

    #[test]
    fn names_are_unique_and_found_by_any_spelling() {
        for (i, k) in KNOBS.iter().enumerate() {
            assert!(KNOBS[..i].iter().all(|o| o.name != k.name), "{}", k.name);
            assert_eq!(knob(&k.name.replace('-', "_")), Some(k));
        }
        assert_eq!(
            knob("--mem-fraction-static").unwrap().name,
            "gpu-memory-utilization"
        );
        assert!(knob("tensor-parallel").is_none());
    }

    #[test]
    fn switches_refuse_anything_but_true_or_false() {
        assert!(switch("dense", "yes").unwrap());
        assert!(!switch("dense", "off").unwrap());
        let e = switch("dense", "ture").unwrap_err().to_string();
        assert!(e.contains("--dense") && e.contains("ture"), "{e}");
    }

    #[test]
    fn set_replaces_the_same_field_and_parses_json() {
        let mut s = Spec::default();
        s.set("set", "num_hidden_layers=16").unwrap();
        s.set("set", "num_hidden_layers=32").unwrap();
        s.set("set", "model_type=llama").unwrap();
        assert_eq!(
            s.sets,
            vec![
                ("num_hidden_layers".into(), serde_json::json!(32)),
                ("model_type".into(), serde_json::json!("llama"))
            ]
        );
        assert!(s.set("set", "=3").is_err());
        assert!(s.set("set", "a..b=3").is_err());
    }

    // The order of application matches the command line's: --weights, then --kv, then --precision.
    #[test]
    fn build_applies_precision_last() {
        let mut s = Spec::new("llama-3.1-8b", "h100-sxm");
        s.set("precision", "attention=fp8,kv=fp8").unwrap();
        s.set("weights", "nvfp4").unwrap();
        s.set("kv", "bf16").unwrap();
        let sc = s.load().unwrap();
        assert_eq!(
            sc.plan.get(crate::precision::TensorGroup::Attention),
            WeightFormat::Fp8
        );
        assert_eq!(
            sc.plan.get(crate::precision::TensorGroup::DenseFfn),
            WeightFormat::Nvfp4
        );
        assert_eq!(sc.plan.kv, KvFormat::Fp8);
    }

    // DeepSeek-V4-Flash (43 layers: 2 window-only, 21 CSA, 20 HCA; docs/facts.md §1) at 65,536
    // tokens, pages of 1. vLLM's default fp8_ds_mla (584 B records, 716 B CSA entries with the
    // 132 B indexer key) with the FP32 compressor states (122,880 B per CSA layer, 557,056 per
    // HCA layer): 2·128·584 + 21·(128·584 + 16,384·716 + 122,880) + 20·(128·584 + 512·584 +
    // 557,056) = 269,265,920 B. The BF16 records kvsim took before (1024 B, CSA entries 1156 B):
    // 427,581,440 B, +58.8%. The MXFP4 indexer (68 B keys, vLLM 0.33.0): 247,245,824 B.
    #[test]
    fn deepseek_v4_kv_format_by_engine() {
        let session = |sets: &[(&str, &str)]| {
            let mut sp = Spec::new("deepseek-v4-flash", "h100-sxm");
            sp.context = 65_536;
            sp.set("block-size", "1").unwrap();
            for (k, v) in sets {
                sp.set(k, v).unwrap();
            }
            let r = crate::evaluate::evaluate(&sp.load().unwrap()).unwrap();
            (
                r.kv_bytes_per_session_per_chip,
                r.precision.kv,
                r.warning_codes,
            )
        };
        let (b, kv, codes) = session(&[]);
        assert_eq!((b, kv), (269_265_920, KvFormat::Fp8DsMla));
        assert!(codes.contains(&"kv_format_engine_default"), "{codes:?}");
        let (b, kv, codes) = session(&[("kv", "bf16")]);
        assert_eq!((b, kv), (427_581_440, KvFormat::Bf16));
        assert!(codes.contains(&"kv_format_refused"), "{codes:?}");
        assert_eq!(session(&[("kv", "fp8")]).0, 269_265_920);
        // `--kv auto` is the engine's choice, as in vLLM.
        assert_eq!(session(&[("kv", "auto")]).1, KvFormat::Fp8DsMla);
        assert_eq!(session(&[("precision", "indexer=mxfp4")]).0, 247_245_824);
        // Before 0.33.0 vLLM allocated the FP8 size for MXFP4 keys.
        let (b, _, codes) =
            session(&[("precision", "indexer=mxfp4"), ("engine-version", "0.20.2")]);
        assert_eq!(b, 269_265_920);
        assert!(codes.contains(&"indexer_format_ignored"), "{codes:?}");
        // SGLang has no such rule in kvsim: the model's BF16.
        assert_eq!(session(&[("engine", "sglang")]).1, KvFormat::Bf16);
    }

    // SGLang 0.5.23 with DeepSeek-V3.2 (61 layers, 132 B indexer keys): FP8 by default on B200 in
    // the raw layout of its trtllm kernels, 61 · (576 + 132) = 43,188 B/token; BF16 by default
    // on H100, 61 · (1152 + 132) = 78,324; FP8 asked on H100 runs flashmla_kv's scaled layout,
    // 61 · (656 + 132) = 48,068 (docs/facts.md §1).
    #[test]
    fn sglang_dsa_kv_format_by_gpu() {
        let per_token = |chip: &str, kv: Option<&str>| {
            let mut sp = Spec::new("deepseek-v3.2-exp", chip);
            sp.set("engine", "sglang").unwrap();
            if let Some(k) = kv {
                sp.set("kv", k).unwrap();
            }
            let r = crate::evaluate::evaluate(&sp.load().unwrap()).unwrap();
            r.kv_bytes_per_token_per_chip
        };
        assert_eq!(per_token("b200", None), 43_188);
        assert_eq!(per_token("h100-sxm", None), 78_324);
        assert_eq!(per_token("h100-sxm", Some("fp8")), 48_068);
        assert_eq!(per_token("b200", Some("bf16")), 78_324);
    }
}
