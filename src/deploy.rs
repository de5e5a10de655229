//! Deployments: TP / PP / EP / DP and DP-attention, how each tensor group is split, and the
//! layouts the engines refuse (docs/facts.md §2).

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::model::{Ffn, Model, Sharding};
use serde::{Deserialize, Serialize};
use std::fmt;

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
            engine: Engine::VLLM,
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
            expert_pad: crate::model::ExpertPad::NONE,
            embedding_tp: 0,
            vision_tp: 0,
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
