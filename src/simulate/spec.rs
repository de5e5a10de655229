//! Speculative decoding: a drafter proposes K tokens per decode step, the target verifies them
//! in one forward pass over K + 1 positions, and accepts a run of them plus one token of its own.
//!
//! With each proposal accepted with probability a (independently, the standard simplification),
//! a step emits (1 − a^(K+1)) / (1 − a) tokens on average (Leviathan, Kalman & Matias, "Fast
//! Inference from Transformers via Speculative Decoding", ICML 2023, eq. 1); the simulator emits
//! exactly that mean, carrying the fractional part from step to step (deterministic).
//!
//! Drafters:
//! - `mtp`: the model's own next-n prediction layers (DeepSeek-V3's MTP module, run K times in
//!   sequence when K exceeds the layers, as vLLM's `DeepSeekMTP` does); `eval --mtp` counts
//!   their weights and KV in memory;
//! - `eagle`: one decoder layer of the target's first layer kind (no input norm) plus EAGLE's
//!   feature-fusion matrix (2·hidden × hidden, whole on every rank), sharing the target's
//!   embedding and lm_head (Li et al., "EAGLE", ICML 2024, §4.1), with one layer of KV — the
//!   head `--eagle` counts (`whatif::add_eagle_head`, as vLLM 0.9.2 loads it);
//! - `draft:<model>`: a separate small model, its weights and KV counted whole.
//!
//! A step pays K sequential draft passes over the speculating sequences (each the larger of
//! reading the drafter's weights and KV, and its FLOPs), then the verify pass, which the
//! roofline costs like a prefill chunk of K + 1 tokens.

use crate::catalog::load_model;
use crate::error::{Error, Result};
use crate::model::{LayerGroup, Model, Tensor};
use crate::precision::TensorGroup;
use crate::scenario::Scenario;

/// Expected tokens a verify step emits: (1 − a^(K+1)) / (1 − a), K + 1 when a = 1.
pub fn tokens_per_step(acceptance: f64, k: u64) -> f64 {
    if acceptance >= 1.0 {
        (k + 1) as f64
    } else {
        (1.0 - acceptance.powi(k as i32 + 1)) / (1.0 - acceptance)
    }
}

/// Which drafter.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    Mtp,
    Eagle,
    Draft(String),
}

impl Method {
    /// `mtp`, `eagle` or `draft:<model>`.
    pub fn parse(s: &str) -> Result<Method> {
        match s {
            "mtp" => Ok(Method::Mtp),
            "eagle" => Ok(Method::Eagle),
            _ => match s.strip_prefix("draft:") {
                Some(m) if !m.is_empty() => Ok(Method::Draft(m.to_string())),
                _ => Err(Error::field(
                    "command line",
                    "--spec",
                    s,
                    "mtp, eagle or draft:<model>",
                )),
            },
        }
    }

    pub fn label(&self) -> String {
        match self {
            Method::Mtp => "mtp".into(),
            Method::Eagle => "eagle".into(),
            Method::Draft(m) => format!("draft:{m}"),
        }
    }
}

/// Speculative decoding as asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    pub method: Method,
    /// Tokens proposed per step (K).
    pub tokens: u64,
    /// Probability each proposal is accepted.
    pub acceptance: f64,
}

/// The drafter's figures, per chip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drafter {
    /// Weight bytes it adds on one chip (0 for MTP: `eval --mtp` counts them).
    pub extra_weights_bytes: f64,
    /// Weight bytes one draft pass reads on one chip.
    pub pass_weights_bytes: f64,
    /// FLOPs of one draft token (2 per active parameter).
    pub flops_per_token: f64,
    /// KV bytes of one token on one chip (for MTP, inside `eval`'s figure already).
    pub kv_bytes_per_token: f64,
    /// Whether `eval` already counts it (MTP).
    pub counted_by_eval: bool,
}

/// One chip's weight bytes of layer `g` plus `extra` over `tp` ranks, and their active
/// parameters: matrices split over TP, norms and biases (the vectors group) whole on every rank,
/// as the evaluation holds them.
fn layer_bytes(g: &LayerGroup, m: &Model, s: &Scenario, extra: &[Tensor], tp: f64) -> (f64, f64) {
    let mut bytes = 0.0;
    let mut active = 0.0;
    for t in g.tensors(m.hidden).iter().chain(extra) {
        let b = t.bytes(&s.plan) as f64;
        bytes += if t.group == TensorGroup::Vectors {
            b
        } else {
            b / tp
        };
        active += t.active_elements() as f64;
    }
    (bytes, active)
}

fn one_layer_kv(m: &Model, g: &LayerGroup, s: &Scenario) -> Result<f64> {
    let mut one = m.clone();
    one.groups = vec![LayerGroup {
        count: 1,
        ..g.clone()
    }];
    one.mtp = None;
    one.regroup();
    Ok(one.kv_bytes_per_token(s.plan.kv, s.deployment.attention_tp(), false)? as f64)
}

impl Drafter {
    /// The drafter of `spec` for scenario `s` (the target).
    pub fn new(spec: &Spec, s: &Scenario) -> Result<Drafter> {
        let m = &s.model;
        let tp = s.deployment.tp.max(1) as f64;
        match &spec.method {
            Method::Mtp => {
                if s.eagle {
                    return Err(Error::field(
                        "command line",
                        "--spec",
                        "mtp",
                        "eagle with --eagle (the EAGLE head is the drafter then)",
                    ));
                }
                let mtp = m.mtp.as_ref().ok_or_else(|| {
                    Error::field(
                        "command line",
                        "--spec",
                        "mtp",
                        format!(
                            "a model with next-n prediction (MTP) layers: {} has none (try eagle or draft:<model>)",
                            m.id
                        ),
                    )
                })?;
                let (bytes, active) = layer_bytes(&mtp.layer, m, s, &mtp.extra, tp);
                Ok(Drafter {
                    extra_weights_bytes: 0.0,
                    pass_weights_bytes: bytes,
                    flops_per_token: 2.0 * active,
                    kv_bytes_per_token: one_layer_kv(m, &mtp.layer, s)?,
                    counted_by_eval: true,
                })
            }
            Method::Eagle => {
                // The head `--eagle` loads (`whatif::add_eagle_head`: one layer of the first kind
                // without its input norm, split over TP, and the fusion matrix, a plain
                // `nn.Linear` whole on every rank). With `--eagle` the evaluation already holds
                // it as the next-n layer and counts its weights and KV.
                let built;
                let head = if s.eagle {
                    m.mtp.as_ref()
                } else {
                    let mut with = m.clone();
                    crate::whatif::add_eagle_head(&mut with)?;
                    built = with.mtp;
                    built.as_ref()
                }
                .ok_or_else(|| Error::field(&m.source, "layers", 0, "an EAGLE draft head"))?;
                let (layer, layer_active) = layer_bytes(&head.layer, m, s, &[], tp);
                let (fusion, fusion_active) = head.extra.iter().fold((0.0, 0.0), |(b, a), t| {
                    (b + t.bytes(&s.plan) as f64, a + t.active_elements() as f64)
                });
                let bytes = layer + fusion;
                Ok(Drafter {
                    extra_weights_bytes: if s.eagle { 0.0 } else { bytes },
                    pass_weights_bytes: bytes,
                    flops_per_token: 2.0 * (layer_active + fusion_active),
                    kv_bytes_per_token: one_layer_kv(m, &head.layer, s)?,
                    counted_by_eval: s.eagle,
                })
            }
            Method::Draft(id) => {
                let d = load_model(id)?;
                let bytes = d.weight_bytes(&s.plan, false)?.total() as f64;
                let active = d.params(false)?.active as f64;
                let kv = d.kv_bytes_per_token(s.plan.kv, s.deployment.attention_tp(), false)?;
                Ok(Drafter {
                    extra_weights_bytes: bytes / tp,
                    pass_weights_bytes: bytes / tp,
                    flops_per_token: 2.0 * active,
                    kv_bytes_per_token: kv as f64,
                    counted_by_eval: false,
                })
            }
        }
    }

    /// Share of the KV pool left when the drafter's weights come out of a budget of `budget`
    /// bytes per chip and each token also keeps the drafter's KV beside the target's `kv`
    /// bytes: (budget − weights)/budget × kv/(kv + draft kv). 1 for MTP (`eval` counts it).
    pub fn pool_share(&self, budget: f64, kv: f64) -> f64 {
        if self.counted_by_eval || budget <= 0.0 {
            return 1.0;
        }
        ((budget - self.extra_weights_bytes) / budget).max(0.0) * kv
            / (kv + self.kv_bytes_per_token).max(1e-300)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Leviathan et al. eq. 1 by hand: a = 0.8, K = 3: (1 − 0.8⁴)/0.2 = 2.952; a = 0: 1;
    // a = 1: K + 1.
    #[test]
    fn expected_tokens() {
        assert!((tokens_per_step(0.8, 3) - 2.952).abs() < 1e-12);
        assert_eq!(tokens_per_step(0.0, 5), 1.0);
        assert_eq!(tokens_per_step(1.0, 4), 5.0);
        assert!((tokens_per_step(0.5, 1) - 1.5).abs() < 1e-15);
    }

    #[test]
    fn parse_methods() {
        assert_eq!(Method::parse("mtp").unwrap(), Method::Mtp);
        assert_eq!(
            Method::parse("draft:llama-3.2-1b").unwrap(),
            Method::Draft("llama-3.2-1b".into())
        );
        assert!(Method::parse("draft:").is_err());
        assert!(Method::parse("medusa").is_err());
    }
}
