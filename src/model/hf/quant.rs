//! The precision a checkpoint is published in: `dtype` / `torch_dtype` and the
//! `quantization_config` of each method transformers knows (GPTQ, AWQ, compressed-tensors, FP8,
//! MXFP4, ModelOpt NVFP4/FP8, bitsandbytes). Values that change the storage and are not
//! understood are errors naming the field, never a silent default. Which tensor groups a method
//! quantises follows its `targets` / `ignore` / `modules_to_not_convert` lists, matched against
//! a representative module name per group (transformers naming).

use super::config::Cfg;
use crate::error::Result;
use crate::precision::{PrecisionPlan, TensorGroup, WeightFormat};

/// The linear tensor groups, with a module name of each as transformers names them; `targets` and
/// `ignore` entries are matched against these.
const LINEAR: [(TensorGroup, &[&str]); 4] = [
    (
        TensorGroup::Attention,
        &[
            "model.layers.0.self_attn.q_proj",
            "model.layers.0.self_attn.o_proj",
        ],
    ),
    (
        TensorGroup::DenseFfn,
        &[
            "model.layers.0.mlp.gate_proj",
            "model.layers.0.mlp.down_proj",
        ],
    ),
    (
        TensorGroup::RoutedExperts,
        &[
            "model.layers.1.mlp.experts.0.gate_proj",
            "model.layers.1.mlp.experts.0.down_proj",
        ],
    ),
    (
        TensorGroup::SharedExperts,
        &[
            "model.layers.1.mlp.shared_experts.gate_proj",
            "model.layers.1.mlp.shared_expert.gate_proj",
        ],
    ),
];

/// Whether a `targets` / `ignore` entry names a module of group `g`: `re:` entries are regular
/// expressions matched in full (compressed-tensors), others are module names or suffixes with `*`
/// wildcards (`model.layers.*.self_attn`, `lm_head`), or a kvsim group name.
fn matches(c: &Cfg, key: &str, entry: &str, g: TensorGroup, names: &[&str]) -> Result<bool> {
    // kvsim's own group names are accepted too.
    if entry == g.name() {
        return Ok(true);
    }
    let pattern = match entry.strip_prefix("re:") {
        Some(re) => format!("^(?:{re})$"),
        None => {
            // A module name: the whole name, a trailing part of it, or a leading part (a parent).
            let glob = regex::escape(entry).replace(r"\*", "[^.]*");
            format!(r"^(?:.*\.)?{glob}(?:\..*)?$")
        }
    };
    let re = regex::Regex::new(&pattern)
        .map_err(|e| c.invalid(key, format!("`{entry}`"), &format!("a valid pattern ({e})")))?;
    Ok(names.iter().any(|n| re.is_match(n)))
}

/// The linear groups a method's `targets` (None: every linear layer) reach, minus its `ignore`.
fn reached(
    c: &Cfg,
    targets: Option<&[&str]>,
    ignore_key: &str,
    ignore: &[&str],
) -> Result<Vec<TensorGroup>> {
    let mut out = Vec::new();
    for (g, names) in LINEAR {
        let targeted = match targets {
            None => true,
            Some(t) => {
                let mut any = false;
                for e in t {
                    any |= *e == "Linear" || matches(c, "targets", e, g, names)?;
                }
                any
            }
        };
        let mut ignored = false;
        for e in ignore {
            ignored |= matches(c, ignore_key, e, g, names)?;
        }
        if targeted && !ignored {
            out.push(g);
        }
    }
    Ok(out)
}

/// The unquantised dtype: `dtype` (transformers ≥ 4.56 writes it) or `torch_dtype`, at the top or
/// under `text_config`; both present and different is an error. Absent means bf16.
fn dtype(c: &Cfg, top: &Cfg) -> Result<WeightFormat> {
    let mut found: Option<(String, &str)> = None;
    for cfg in [top, c] {
        for key in ["dtype", "torch_dtype"] {
            let Some(v) = cfg.string(key)? else { continue };
            if let Some((k, prev)) = &found {
                if *prev != v {
                    return Err(cfg.invalid(
                        key,
                        format!("`{v}`"),
                        &format!("the same dtype as {k} (`{prev}`)"),
                    ));
                }
                continue;
            }
            match v {
                "bfloat16" | "float16" | "float32" => found = Some((cfg.path(key), v)),
                other => {
                    return Err(cfg.invalid(
                        key,
                        format!("`{other}`"),
                        "bfloat16, float16 or float32",
                    ))
                }
            }
        }
    }
    Ok(match found.map(|f| f.1) {
        Some("float16") => WeightFormat::Fp16,
        Some("float32") => WeightFormat::Fp32,
        _ => WeightFormat::Bf16,
    })
}

/// An integer field that may be -1 (GPTQ `group_size: -1`: one group per output channel → 0).
fn group_size(q: &Cfg, key: &str, default: u32) -> Result<u32> {
    match q.raw(key) {
        None => Ok(default),
        Some(v) => match v.as_i64() {
            Some(-1) => Ok(0),
            Some(g) if g > 0 && g <= u32::MAX as i64 => Ok(g as u32),
            _ => Err(q.invalid(
                key,
                v,
                "a positive group size, or -1 for one group per output channel",
            )),
        },
    }
}

/// Bits of GPTQ / AWQ (`bits`, or AutoAWQ's older `w_bit`).
fn bits(q: &Cfg, allowed: &[u8], what: &str) -> Result<u8> {
    let key = if q.raw("bits").is_none() && q.raw("w_bit").is_some() {
        "w_bit"
    } else {
        "bits"
    };
    let b = q.count_or(key, 4)?;
    allowed
        .iter()
        .copied()
        .find(|&a| a as u64 == b)
        .ok_or_else(|| q.invalid(key, b, what))
}

/// The format of a compressed-tensors `weights` block.
fn ct_weights(w: &Cfg) -> Result<WeightFormat> {
    let kind = w.string("type")?.unwrap_or("int");
    let bits = w.count_or("num_bits", 8)?;
    // compressed-tensors infers the strategy when absent: group with a group_size, else tensor.
    let strategy = match w.string("strategy")? {
        Some(s) => Some(s),
        None if w.raw("group_size").is_some() => Some("group"),
        None => Some("tensor"),
    };
    let symmetric = w.flag("symmetric", true)?;
    let g_idx = matches!(w.string("actorder")?, Some("group") | Some("weight"));
    match (kind, bits, strategy) {
        ("int", 2 | 3 | 4 | 8, Some("group")) => {
            let g = group_size(w, "group_size", 128)?;
            if g == 0 {
                return Err(w.invalid(
                    "group_size",
                    -1,
                    "a positive group size under strategy group",
                ));
            }
            Ok(WeightFormat::int_group(bits as u8, g, !symmetric, g_idx))
        }
        // One scale per output channel; the scale is stored in the model dtype (16-bit).
        ("int", 2 | 3 | 4 | 8, Some("channel")) => {
            Ok(WeightFormat::int_group(bits as u8, 0, !symmetric, g_idx))
        }
        ("float", 8, Some("tensor")) => Ok(WeightFormat::Fp8),
        ("float", 8, Some("block")) => match w.list_u64("block_structure")?.as_deref() {
            Some([128, 128]) => Ok(WeightFormat::Fp8Block128),
            other => Err(w.invalid(
                "block_structure",
                format!("{other:?}"),
                "[128, 128] (the FP8 block kvsim models)",
            )),
        },
        ("float", 4, Some("tensor_group")) if w.count_or("group_size", 16)? == 16 => {
            Ok(WeightFormat::Nvfp4)
        }
        _ => Err(w.invalid(
            "type",
            format!(
                "type {kind}, num_bits {bits}, strategy {}",
                strategy.unwrap_or("(none)")
            ),
            "int 2/3/4/8-bit with strategy group or channel, float 8-bit tensor or block \
             [128,128], or float 4-bit tensor_group 16 (NVFP4)",
        )),
    }
}

/// The plan the checkpoint is published in.
pub fn default_plan(c: &Cfg, top: &Cfg) -> Result<PrecisionPlan> {
    let dtype = dtype(c, top)?;
    let mut plan = PrecisionPlan::uniform(dtype);
    let q = match top.nested("quantization_config")? {
        Some(q) => Some(q),
        None => c.nested("quantization_config")?,
    };
    let Some(q) = q else {
        if top.string("expert_dtype")? == Some("fp4") {
            plan.set(TensorGroup::RoutedExperts, WeightFormat::Mxfp4);
        }
        return Ok(plan);
    };
    let method = q.string("quant_method")?;
    // Storage kvsim does not model is refused rather than counted as if absent: a quantised
    // lm_head (GPTQModel / AutoRound `lm_head: true`), per-module overrides (GPTQModel `dynamic`),
    // 2:4 sparsity (compressed-tensors `sparsity_config`).
    if q.flag("lm_head", false)? {
        return Err(q.invalid(
            "lm_head",
            true,
            "false (a quantised lm_head is not modelled)",
        ));
    }
    for key in ["dynamic", "sparsity_config"] {
        match q.raw(key) {
            None => {}
            Some(serde_json::Value::Object(m)) if m.is_empty() => {}
            Some(v) => {
                return Err(q.invalid(
                    key,
                    v,
                    "nothing (per-module overrides and sparse formats are not modelled)",
                ))
            }
        }
    }
    let set = |plan: &mut PrecisionPlan, groups: &[TensorGroup], f: WeightFormat| {
        for g in groups {
            plan.set(*g, f);
        }
    };
    match method {
        // transformers FineGrainedFP8Config / DeepSeek-V3: e4m3 weights, one fp32 scale per
        // 128×128 block (or per tensor without weight_block_size).
        Some("fp8") => {
            let skip = q.list_str("modules_to_not_convert")?.unwrap_or_default();
            let f = match q.list_u64("weight_block_size")?.as_deref() {
                None => WeightFormat::Fp8,
                Some([128, 128]) => WeightFormat::Fp8Block128,
                Some(other) => {
                    return Err(q.invalid(
                        "weight_block_size",
                        format!("{other:?}"),
                        "[128, 128] or absent",
                    ))
                }
            };
            match q.string("activation_scheme")? {
                None | Some("dynamic") | Some("static") => {}
                Some(other) => {
                    return Err(q.invalid("activation_scheme", other, "dynamic or static"))
                }
            }
            if let Some(fmt) = q.string("fmt")? {
                if !matches!(fmt, "e4m3" | "float8_e4m3fn") {
                    return Err(q.invalid("fmt", fmt, "e4m3 (the FP8 format kvsim models)"));
                }
            }
            let groups = reached(&q, None, "modules_to_not_convert", &skip)?;
            set(&mut plan, &groups, f);
        }
        // gpt-oss: MXFP4 routed experts, everything else in the dtype.
        Some("mxfp4") => plan.set(TensorGroup::RoutedExperts, WeightFormat::Mxfp4),
        // GPTQ (AutoGPTQ / GPTQModel): qweight packed, fp16 scales and packed qzeros per group,
        // int32 g_idx per input feature; qzeros are stored even when sym is true.
        Some("gptq") => {
            let b = bits(&q, &[2, 3, 4, 8], "2, 3, 4 or 8 bits")?;
            let g = group_size(&q, "group_size", 128)?;
            q.flag("sym", true)?;
            q.flag("desc_act", false)?;
            let skip = q.list_str("modules_to_not_convert")?.unwrap_or_default();
            let groups = reached(&q, None, "modules_to_not_convert", &skip)?;
            set(
                &mut plan,
                &groups,
                WeightFormat::int_group(b, g, true, true),
            );
        }
        // AutoAWQ (GEMM/GEMV): 4-bit only, fp16 scales per group, qzeros when zero_point.
        Some("awq") => {
            let b = bits(&q, &[4], "4 bits (AWQ is 4-bit only)")?;
            let g = group_size(&q, "group_size", 128)?;
            if g == 0 {
                return Err(q.invalid("group_size", -1, "a positive group size for AWQ"));
            }
            let zeros = q.flag("zero_point", true)?;
            let skip = q.list_str("modules_to_not_convert")?.unwrap_or_default();
            let groups = reached(&q, None, "modules_to_not_convert", &skip)?;
            set(
                &mut plan,
                &groups,
                WeightFormat::int_group(b, g, zeros, false),
            );
        }
        Some("compressed-tensors") => {
            let ignore = q.list_str("ignore")?.unwrap_or_default();
            let Some(groups_cfg) = q.nested("config_groups")? else {
                return Err(q.invalid(
                    "config_groups",
                    "nothing",
                    "the quantisation groups of a compressed-tensors checkpoint",
                ));
            };
            for key in groups_cfg.keys() {
                let Some(scheme) = groups_cfg.nested(key)? else {
                    continue;
                };
                let Some(w) = scheme.nested("weights")? else {
                    continue; // activation-only scheme: weights keep the dtype
                };
                let f = ct_weights(&w)?;
                let targets = scheme.list_str("targets")?.unwrap_or_default();
                let groups = reached(&scheme, Some(&targets), "ignore", &ignore)?;
                set(&mut plan, &groups, f);
            }
        }
        // NVIDIA ModelOpt: quant_algo NVFP4 (E2M1, FP8 scale per 16, fp32 per tensor) or FP8.
        Some("modelopt") => {
            let f = match q.string("quant_algo")? {
                Some("NVFP4") => WeightFormat::Nvfp4,
                Some("FP8") => WeightFormat::Fp8,
                other => {
                    return Err(q.invalid("quant_algo", other.unwrap_or("nothing"), "NVFP4 or FP8"))
                }
            };
            let key = if q.raw("exclude_modules").is_some() {
                "exclude_modules"
            } else {
                "ignore"
            };
            let skip = q.list_str(key)?.unwrap_or_default();
            let groups = reached(&q, None, key, &skip)?;
            set(&mut plan, &groups, f);
        }
        // bitsandbytes: LLM.int8 (int8 + one fp32 scale per row) or 4-bit NF4/FP4 in blocks of 64.
        Some("bitsandbytes") => {
            let four = q.flag("load_in_4bit", false)?;
            let eight = q.flag("load_in_8bit", false)?;
            let f = match (four, eight) {
                (true, false) => {
                    match q.string("bnb_4bit_quant_type")? {
                        None | Some("nf4") | Some("fp4") => {}
                        Some(other) => {
                            return Err(q.invalid("bnb_4bit_quant_type", other, "nf4 or fp4"))
                        }
                    }
                    WeightFormat::Bnb4 {
                        double_quant: q.flag("bnb_4bit_use_double_quant", false)?,
                    }
                }
                (false, true) => WeightFormat::Int8,
                _ => {
                    return Err(q.invalid(
                        "load_in_4bit",
                        format!("load_in_4bit {four}, load_in_8bit {eight}"),
                        "exactly one of load_in_4bit and load_in_8bit true",
                    ))
                }
            };
            let skip = q.list_str("llm_int8_skip_modules")?.unwrap_or_default();
            let groups = reached(&q, None, "llm_int8_skip_modules", &skip)?;
            set(&mut plan, &groups, f);
        }
        Some(other) => {
            return Err(q.invalid(
                "quant_method",
                other,
                "one of fp8, mxfp4, gptq, awq, compressed-tensors, modelopt, bitsandbytes",
            ));
        }
        None => {
            return Err(q.invalid(
                "quant_method",
                "nothing",
                "the quantisation method (a quantization_config without one cannot be read)",
            ))
        }
    }
    if top.string("expert_dtype")? == Some("fp4") {
        plan.set(TensorGroup::RoutedExperts, WeightFormat::Mxfp4);
    }
    Ok(plan)
}
