//! The rotary embeddings a decoder builds, read from its config as vLLM's model files pass them
//! to `get_rope` (vLLM `model_executor/layers/rotary_embedding.py` @ v0.6.3 / v0.8.3,
//! `rotary_embedding/__init__.py` @ v0.10.2): the rotated width, `max_position_embeddings` and
//! the scaling type, which together set the cos/sin table's shape (`engine::position_tables`).

use super::config::Cfg;
use super::table::{Arch, RopeRule};
use crate::error::Result;
use crate::model::position::{Rope, RopeScaling};
use crate::model::{Attention, Model};

/// Largest scaling factor accepted (real ones are at most a few hundred).
const MAX_FACTOR: f64 = 65536.0;

/// The decoder's distinct ropes, and notes on what was assumed or left out.
pub(super) fn ropes(arch: &Arch, c: &Cfg, m: &Model) -> Result<(Vec<Rope>, Vec<String>)> {
    let id = &m.id;
    let mut notes = Vec::new();
    if arch.rope == RopeRule::None {
        return Ok((Vec::new(), notes));
    }
    if arch.rope == RopeRule::NotModelled {
        notes.push(format!(
            "{id}: kvsim does not model the rotary tables of {} (cos/sin caches the engine \
             allocates besides the weights): none counted",
            arch.class
        ));
        return Ok((Vec::new(), notes));
    }
    // Zamba2's shared blocks rotate only under `use_mem_rope` (false by default).
    if arch.rope == RopeRule::Zamba2 && !c.flag("use_mem_rope", false)? {
        return Ok((Vec::new(), notes));
    }
    // Granite hybrids may build no rope (GraniteMoeHybridConfig.position_embedding_type).
    if let Some(kind) = c.string("position_embedding_type")? {
        if kind != "rope" {
            return Ok((Vec::new(), notes));
        }
    }
    // Falcon under ALiBi builds no rope (vLLM falcon.py: `use_rotary = config.rotary`, which
    // RWConfig sets to `not alibi`).
    if c.flag("alibi", false)? {
        return Ok((Vec::new(), notes));
    }
    let Some(max_position) = c.size_opt("max_position_embeddings")? else {
        notes.push(format!(
            "{id}: max_position_embeddings is missing: the rotary cos/sin table (its length) is \
             not counted in the weights"
        ));
        return Ok((Vec::new(), notes));
    };
    let params = c.nested("rope_parameters")?;
    let rope_scaling = c.nested("rope_scaling")?;
    let scaling_cfg = rope_scaling.as_ref().or(params.as_ref());
    match arch.rope {
        RopeRule::Mla => {
            let Some(dim) = m.groups.iter().find_map(|g| match &g.attention {
                Attention::Mla(a) => Some(a.qk_rope_head_dim),
                _ => None,
            }) else {
                return Ok((Vec::new(), notes));
            };
            let scaling = scaling_of(scaling_cfg, c, max_position, &mut notes, id)?;
            Ok((
                vec![Rope {
                    dim,
                    max_position,
                    scaling,
                    fp32: false,
                    mrope_pruning_only: false,
                }],
                notes,
            ))
        }
        RopeRule::DeepseekV4 => {
            let (mut dim, mut compressed, mut window) = (None, false, false);
            for g in &m.groups {
                if let Attention::Compressed(a) = &g.attention {
                    dim = Some(a.rope_dim);
                    if a.ratio > 1 {
                        compressed = true;
                    } else {
                        window = true;
                    }
                }
            }
            let Some(dim) = dim else {
                return Ok((Vec::new(), notes));
            };
            // Newer configs nest one rope_parameters per kind (`main`, `compress`).
            let compress = match &params {
                Some(p) if p.raw("compress").is_some() => p.nested("compress")?,
                _ => None,
            };
            let rope = |scaling| Rope {
                dim,
                max_position,
                scaling,
                fp32: true,
                mrope_pruning_only: false,
            };
            // Two bases (`compress_rope_theta`, `rope_theta`), so two `_ROPE_DICT` keys.
            let mut ropes = Vec::new();
            if compressed {
                let cfg = compress.as_ref().or(scaling_cfg);
                ropes.push(rope(scaling_of(cfg, c, max_position, &mut notes, id)?));
            }
            if window {
                ropes.push(rope(RopeScaling::None));
            }
            Ok((ropes, notes))
        }
        RopeRule::MiMoV2 => {
            let (mut full, mut window) = (false, false);
            for g in &m.groups {
                if let Attention::Gqa(a) = &g.attention {
                    if a.window.is_some() {
                        window = true;
                    } else {
                        full = true;
                    }
                }
            }
            // Fields the config leaves out take MiMoV2FlashConfig's defaults (the published
            // config states them at the top level, as vLLM's `getattr`s read them; its
            // `rope_parameters`: partial 0.334 on both kinds, bases 5,000,000 full and 10,000
            // sliding; `__post_init__` @ transformers 5.23.0).
            let per_kind = |kind: &str, key: &str| -> Result<Option<f64>> {
                match &params {
                    Some(p) => match p.nested(kind)? {
                        Some(k) => k.positive_opt(key, f64::MAX),
                        None => Ok(None),
                    },
                    None => Ok(None),
                }
            };
            let partial = match c.positive_opt("partial_rotary_factor", 1.0)? {
                Some(f) => f,
                None => per_kind("full_attention", "partial_rotary_factor")?.unwrap_or(0.334),
            };
            let rotary = |head: u64| (head as f64 * partial) as u64;
            let head = c.size("head_dim")?;
            let theta = match c.positive_opt("rope_theta", f64::MAX)? {
                Some(t) => t,
                None => per_kind("full_attention", "rope_theta")?.unwrap_or(5_000_000.0),
            };
            let swa_head = c.size_opt("swa_head_dim")?.unwrap_or(head);
            let swa_theta = match c.positive_opt("swa_rope_theta", f64::MAX)? {
                Some(t) => t,
                None => per_kind("sliding_attention", "rope_theta")?.unwrap_or(10_000.0),
            };
            let mut ropes = Vec::new();
            if full {
                ropes.push(Rope::plain(rotary(head), max_position, RopeScaling::None));
            }
            // The window layers' rope is another `_ROPE_DICT` key when its head or base differs.
            if window && (!full || swa_head != head || swa_theta != theta) {
                ropes.push(Rope::plain(
                    rotary(swa_head),
                    max_position,
                    RopeScaling::None,
                ));
            }
            Ok((ropes, notes))
        }
        RopeRule::Zamba2 => {
            let Some(dim) = m.groups.iter().find_map(|g| match &g.attention {
                Attention::Parallel(p) => p.parts.iter().find_map(|a| match a {
                    Attention::SharedBlock(b) => Some(b.head_dim),
                    _ => None,
                }),
                _ => None,
            }) else {
                return Ok((Vec::new(), notes));
            };
            let scaling = scaling_of(scaling_cfg, c, max_position, &mut notes, id)?;
            Ok((vec![Rope::plain(dim, max_position, scaling)], notes))
        }
        RopeRule::Gemma3 => {
            let Some(head) = head_dim(m) else {
                return Ok((Vec::new(), notes));
            };
            // transformers 5 nests one rope_parameters per layer type; older configs keep the
            // global scaling in rope_scaling and the local rope unscaled (vLLM 0.8.3 gemma3.py
            // sets {"rope_type": "default"} on sliding layers).
            let (global, local) = match &params {
                Some(p) if p.raw("full_attention").is_some() => {
                    let g = p.nested("full_attention")?;
                    let l = p.nested("sliding_attention")?;
                    (
                        scaling_of(g.as_ref(), c, max_position, &mut notes, id)?,
                        scaling_of(l.as_ref(), c, max_position, &mut notes, id)?,
                    )
                }
                _ => (
                    scaling_of(scaling_cfg, c, max_position, &mut notes, id)?,
                    RopeScaling::None,
                ),
            };
            let rope = |scaling| Rope {
                dim: head,
                max_position,
                scaling,
                fp32: false,
                mrope_pruning_only: false,
            };
            // Two bases, so two `_ROPE_DICT` keys and two tables even when both are unscaled.
            Ok((vec![rope(local), rope(global)], notes))
        }
        _ => {
            let Some(head) = head_dim(m) else {
                return Ok((Vec::new(), notes));
            };
            let dim = match c.size_opt("rotary_dim")? {
                Some(d) => d.min(head),
                None => {
                    let partial = match c.positive_opt("partial_rotary_factor", 1.0)? {
                        Some(f) => Some(f),
                        None => match &params {
                            Some(p) => p.positive_opt("partial_rotary_factor", 1.0)?,
                            None => None,
                        },
                    };
                    let partial = match partial {
                        Some(f) => Some(f),
                        None => c.positive_opt("rotary_pct", 1.0)?,
                    };
                    // vLLM get_rope: rotary_dim = int(head_size * partial_rotary_factor).
                    partial.map_or(head, |f| (head as f64 * f) as u64)
                }
            };
            let mut scaling = scaling_of(scaling_cfg, c, max_position, &mut notes, id)?;
            let mrope = matches!(arch.rope, RopeRule::MRope | RopeRule::MRopeQwen3Vl);
            if mrope && scaling != RopeScaling::MRope {
                notes.push(format!(
                    "{id}: the config has no rope_scaling.mrope_section, which {}'s published \
                     configs carry: kvsim sizes its rotary table as vLLM's MRotaryEmbedding",
                    arch.class
                ));
                scaling = RopeScaling::MRope;
            }
            Ok((
                vec![Rope {
                    dim,
                    max_position,
                    scaling,
                    fp32: arch.rope == RopeRule::StandardFp32,
                    mrope_pruning_only: arch.rope == RopeRule::MRopeQwen3Vl,
                }],
                notes,
            ))
        }
    }
}

/// The head size the rope rotates: the first softmax attention's.
fn head_dim(m: &Model) -> Option<u64> {
    fn of(a: &Attention) -> Option<u64> {
        match a {
            Attention::Gqa(g) => Some(g.head_dim),
            Attention::Mfa(f) => Some(f.head_dim),
            Attention::Parallel(p) => p.parts.iter().find_map(of),
            _ => None,
        }
    }
    m.groups.iter().find_map(|g| of(&g.attention))
}

/// A `rope_scaling` / `rope_parameters` object as vLLM's `get_rope` dispatches on it.
fn scaling_of(
    s: Option<&Cfg>,
    root: &Cfg,
    max_position: u64,
    notes: &mut Vec<String>,
    id: &str,
) -> Result<RopeScaling> {
    let Some(s) = s else {
        return Ok(RopeScaling::None);
    };
    // vLLM 0.10.2 get_rope: a "default" rope with an mrope_section is MRotaryEmbedding; vLLM's
    // config patching renames Qwen2-VL's "mrope" type to "default".
    if s.raw("mrope_section").is_some() {
        return Ok(RopeScaling::MRope);
    }
    let kind = match s.string("rope_type")? {
        Some(k) => Some(k),
        None => s.string("type")?,
    };
    let factor = s.positive_opt("factor", MAX_FACTOR)?.unwrap_or(1.0);
    let original = |notes: &mut Vec<String>| -> Result<u64> {
        // Phi-3 keeps it beside rope_scaling, and vLLM's config patching copies it in.
        let o = match s.size_opt("original_max_position_embeddings")? {
            Some(o) => Some(o),
            None => root.size_opt("original_max_position_embeddings")?,
        };
        Ok(match o {
            Some(o) => o,
            None => {
                notes.push(format!(
                    "{id}: {} has no original_max_position_embeddings: kvsim takes \
                     max_position_embeddings ({max_position}) for the rotary table's length",
                    s.path("rope_type")
                ));
                max_position
            }
        })
    };
    Ok(match kind {
        None | Some("default" | "llama3" | "mllama4") => RopeScaling::None,
        // vLLM 0.10.2 get_rope: a dynamic rope with an `alpha` (HunYuan) keeps max_position rows
        // (DynamicNTKAlphaRotaryEmbedding).
        Some("dynamic") if s.raw("alpha").is_some() => RopeScaling::None,
        Some("linear" | "dynamic") => RopeScaling::Stretched { factor },
        Some("yarn" | "deepseek_yarn") => RopeScaling::Yarn {
            factor,
            original_max_position: original(notes)?,
        },
        Some("longrope" | "su") => RopeScaling::LongRope {
            original_max_position: original(notes)?,
        },
        Some("mrope") => RopeScaling::MRope,
        Some(other) => {
            notes.push(format!(
                "{id}: rope type \"{}\" is not one kvsim knows: its rotary table is counted \
                 unscaled (max_position_embeddings rows)",
                crate::text::escape_controls(other)
            ));
            RopeScaling::Unknown {
                name: crate::text::escape_controls(other),
            }
        }
    })
}
