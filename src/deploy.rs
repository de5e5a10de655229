//! Deployments (TP / PP / EP / DP, DP-attention) and the serving engines' KV budget rules
//! (formulas.md §2–§4).

use crate::error::{Error, Result};
use crate::model::{Ffn, Model, Sharding};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The serving engine whose memory accounting kvsim reproduces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Engine {
    /// vLLM; `minor` is the 0.x version (0.19 → 19). Below 0.8 the legacy V0 engine.
    Vllm {
        minor: u32,
    },
    Sglang,
    Trtllm,
    /// All memory but the weights, no pages: the physical ceiling.
    Ideal,
}

/// Which budget formula an engine version uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetRule {
    /// vLLM V0: `total · util − peak torch memory (weights + activation) − non-torch`.
    VllmV0,
    /// vLLM V1 ≤ 0.20: `util · total − (weights + activation + non-torch)`.
    VllmV1,
    /// vLLM ≥ 0.21: V1 minus the estimated CUDA-graph memory.
    VllmV1Graphs,
    /// SGLang: `free after weights − total · (1 − mem_fraction_static)`.
    Sglang,
    /// TensorRT-LLM: `free after weights and runtime buffers · free_gpu_memory_fraction`.
    Trtllm,
    /// `total − weights`.
    Ideal,
}

impl Engine {
    /// The vLLM release kvsim assumes when none is given (the one its calibration logs come from).
    pub const DEFAULT_VLLM_MINOR: u32 = 19;

    /// The budget formula.
    pub fn rule(self) -> BudgetRule {
        match self {
            Engine::Vllm { minor } if minor < 8 => BudgetRule::VllmV0,
            Engine::Vllm { minor } if minor <= 20 => BudgetRule::VllmV1,
            Engine::Vllm { .. } => BudgetRule::VllmV1Graphs,
            Engine::Sglang => BudgetRule::Sglang,
            Engine::Trtllm => BudgetRule::Trtllm,
            Engine::Ideal => BudgetRule::Ideal,
        }
    }

    /// The engine's default memory fraction: vLLM `gpu_memory_utilization` 0.9; SGLang
    /// `mem_fraction_static` by TP size (server_args.py: 0.88 at TP1, 0.87 TP2, 0.85 TP4, 0.81
    /// TP8, 0.79 TP16); TensorRT-LLM `free_gpu_memory_fraction` 0.9.
    pub fn default_fraction(self, tp: u64) -> f64 {
        match self {
            Engine::Vllm { .. } | Engine::Trtllm => 0.9,
            Engine::Sglang => match tp {
                t if t >= 16 => 0.79,
                t if t >= 8 => 0.81,
                t if t >= 4 => 0.85,
                t if t >= 2 => 0.87,
                _ => 0.88,
            },
            Engine::Ideal => 1.0,
        }
    }

    /// Default KV page size in tokens: vLLM 16 (the chip may say otherwise: Ascend 128),
    /// SGLang 1, TensorRT-LLM 32 (`tokens_per_block`), ideal 1.
    pub fn default_block_size(self, chip_default: u64) -> u64 {
        match self {
            Engine::Vllm { .. } => chip_default,
            Engine::Sglang | Engine::Ideal => 1,
            Engine::Trtllm => 32,
        }
    }

    /// Parses `--engine` and `--engine-version` (vLLM only: `0.19`, `0.21`, `v0`).
    pub fn parse(name: &str, version: Option<&str>) -> Result<Engine> {
        let bad_version = |v: &str| {
            Error::field(
                "command line",
                "--engine-version",
                v,
                "a vLLM release such as 0.19 or 0.21, or v0",
            )
        };
        match name.to_ascii_lowercase().as_str() {
            "vllm" => {
                let minor = match version.map(str::trim) {
                    None => Engine::DEFAULT_VLLM_MINOR,
                    Some("v0" | "V0" | "legacy") => 0,
                    Some("v1" | "V1") => Engine::DEFAULT_VLLM_MINOR,
                    Some(v) => {
                        let mut parts = v.trim_start_matches('v').split('.');
                        match (parts.next(), parts.next()) {
                            (Some("0"), Some(m)) => m.parse().map_err(|_| bad_version(v))?,
                            (Some(major), _) if major.parse::<u32>().is_ok_and(|x| x >= 1) => 100,
                            _ => return Err(bad_version(v)),
                        }
                    }
                };
                Ok(Engine::Vllm { minor })
            }
            other => {
                if let Some(v) = version {
                    return Err(Error::field(
                        "command line",
                        "--engine-version",
                        v,
                        "only with --engine vllm",
                    ));
                }
                match other {
                    "sglang" => Ok(Engine::Sglang),
                    "trtllm" | "tensorrt-llm" => Ok(Engine::Trtllm),
                    "ideal" => Ok(Engine::Ideal),
                    _ => Err(Error::field(
                        "command line",
                        "--engine",
                        name,
                        "vllm, sglang, trtllm or ideal",
                    )),
                }
            }
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Vllm { minor } if *minor < 8 => write!(f, "vllm v0"),
            Engine::Vllm { minor } if *minor >= 100 => write!(f, "vllm 1.0"),
            Engine::Vllm { minor } => write!(f, "vllm 0.{minor}"),
            Engine::Sglang => write!(f, "sglang"),
            Engine::Trtllm => write!(f, "trtllm"),
            Engine::Ideal => write!(f, "ideal"),
        }
    }
}

impl From<Engine> for String {
    fn from(e: Engine) -> String {
        e.to_string()
    }
}

impl TryFrom<String> for Engine {
    type Error = Error;
    fn try_from(s: String) -> Result<Engine> {
        let mut parts = s.split_whitespace();
        Engine::parse(parts.next().unwrap_or(""), parts.next())
    }
}

impl FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Engine> {
        Engine::parse(s, None)
    }
}

/// How a model is laid out over chips.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    pub tp: u64,
    pub pp: u64,
    /// Expert parallelism: routed experts split over `ep` ranks of the MoE group.
    pub ep: u64,
    pub dp: u64,
    /// SGLang DP-attention: attention is data-parallel over `dp` groups inside the TP group
    /// (attention TP = tp / dp), so MLA's latent is no longer replicated TP-fold.
    pub dp_attention: bool,
    pub engine: Engine,
}

impl Default for Deployment {
    fn default() -> Self {
        Deployment {
            tp: 1,
            pp: 1,
            ep: 1,
            dp: 1,
            dp_attention: false,
            engine: Engine::Vllm {
                minor: Engine::DEFAULT_VLLM_MINOR,
            },
        }
    }
}

fn bad(field: &str, found: impl fmt::Display, expected: impl fmt::Display) -> Error {
    Error::field("deployment", field, found, expected)
}

impl Deployment {
    /// Chips the deployment occupies.
    pub fn chips(&self) -> u64 {
        self.tp * self.pp * if self.dp_attention { 1 } else { self.dp }
    }

    /// TP degree of the attention layers.
    pub fn attention_tp(&self) -> u64 {
        if self.dp_attention {
            self.tp / self.dp
        } else {
            self.tp
        }
    }

    /// Ranks the MoE layers are spread over: the TP group, or TP × DP when DP replicas share
    /// their experts (vLLM: "MoE layers form an EP or TP group of size DP × TP").
    pub fn moe_group(&self) -> u64 {
        if self.dp_attention {
            self.tp
        } else {
            self.tp * self.dp
        }
    }

    /// How each tensor group is split per chip.
    pub fn sharding(&self) -> Sharding {
        Sharding {
            attention_tp: self.attention_tp(),
            tp: self.tp,
            expert_tp: self.moe_group() / self.ep,
            ep: self.ep,
        }
    }

    /// Checks the layout against the model as the engines do (they refuse what does not divide).
    pub fn validate(&self, m: &Model) -> Result<()> {
        for (name, v) in [
            ("tp", self.tp),
            ("pp", self.pp),
            ("ep", self.ep),
            ("dp", self.dp),
        ] {
            if v == 0 || v > 1 << 16 {
                return Err(bad(name, v, "a positive degree up to 65536"));
            }
        }
        if self.dp_attention && self.tp % self.dp != 0 {
            return Err(bad(
                "dp",
                self.dp,
                format!("a divisor of tp ({}) with --dp-attention", self.tp),
            ));
        }
        if self.pp > m.layers() {
            return Err(bad(
                "pp",
                self.pp,
                format!("at most the number of layers ({})", m.layers()),
            ));
        }
        let group = self.moe_group();
        if self.ep > 1 && group % self.ep != 0 {
            return Err(bad(
                "ep",
                self.ep,
                format!("a divisor of the MoE group tp × dp = {group}"),
            ));
        }
        let atp = self.attention_tp();
        for g in &m.groups {
            if let Some(expected) = g.attention.tp_constraint(atp) {
                return Err(bad("tp", atp, expected));
            }
            match &g.ffn {
                Ffn::Dense { intermediate, .. } if intermediate % self.tp != 0 => {
                    return Err(bad(
                        "tp",
                        self.tp,
                        format!("a divisor of intermediate_size ({intermediate})"),
                    ));
                }
                Ffn::Moe(moe) => {
                    if self.ep > moe.experts {
                        return Err(bad(
                            "ep",
                            self.ep,
                            format!("at most the number of experts ({})", moe.experts),
                        ));
                    }
                    let etp = group / self.ep;
                    if moe.expert_intermediate % etp != 0 {
                        return Err(bad(
                            "ep",
                            self.ep,
                            format!("a degree that leaves the expert width {} divisible by the expert TP {etp}", moe.expert_intermediate),
                        ));
                    }
                    if moe.shared_intermediate % self.tp != 0 {
                        return Err(bad(
                            "tp",
                            self.tp,
                            format!(
                                "a divisor of the shared-expert width ({})",
                                moe.shared_intermediate
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_versions_pick_rules() {
        assert_eq!(
            Engine::parse("vllm", None).unwrap().rule(),
            BudgetRule::VllmV1
        );
        assert_eq!(
            Engine::parse("vllm", Some("0.20")).unwrap().rule(),
            BudgetRule::VllmV1
        );
        assert_eq!(
            Engine::parse("vllm", Some("0.21.1")).unwrap().rule(),
            BudgetRule::VllmV1Graphs
        );
        assert_eq!(
            Engine::parse("vllm", Some("v0")).unwrap().rule(),
            BudgetRule::VllmV0
        );
        assert_eq!(
            Engine::parse("vllm", Some("0.6.3")).unwrap().rule(),
            BudgetRule::VllmV0
        );
        assert_eq!(
            Engine::parse("vllm", Some("1.0")).unwrap().rule(),
            BudgetRule::VllmV1Graphs
        );
        assert!(Engine::parse("vllm", Some("banana")).is_err());
        assert!(Engine::parse("sglang", Some("0.4")).is_err());
        assert!(Engine::parse("tgi", None)
            .unwrap_err()
            .to_string()
            .contains("--engine"));
    }

    #[test]
    fn sglang_fraction_by_tp() {
        assert_eq!(Engine::Sglang.default_fraction(1), 0.88);
        assert_eq!(Engine::Sglang.default_fraction(8), 0.81);
    }
}
