//! Feed-forward blocks: dense (gated or not) and mixture-of-experts.

use super::{Role, Shard, Tensor};
use crate::precision::TensorGroup;
use serde::{Deserialize, Serialize};

/// A mixture-of-experts FFN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Moe {
    /// Routed experts.
    pub experts: u64,
    /// Routed experts active per token.
    pub top_k: u64,
    /// Width of one routed expert.
    pub expert_intermediate: u64,
    /// Total width of the shared (always-on) experts; 0 when there are none.
    pub shared_intermediate: u64,
    /// A gate on the shared expert (a 1 × hidden weight: Qwen's sigmoid gate, MiniMax-Text-01's
    /// `coefficient`).
    pub shared_gate: bool,
    /// Bias on the router (gpt-oss).
    pub router_bias: bool,
    /// Biases on the expert projections (gpt-oss).
    pub expert_bias: bool,
    /// SwiGLU experts (gate, up, down) rather than up, down.
    pub gated: bool,
    /// A second routed-expert set for image and video tokens, with its own router (ERNIE 4.5 VL's
    /// `vision_moe`): held and split like the text experts, never used by a text token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vision_experts: Option<VisionExperts>,
    /// Zero-compute (identity) experts the router also picks from (LongCat-Flash
    /// `zero_expert_num`): a router row each, no weights, no FLOPs.
    #[serde(default)]
    pub zero_experts: u64,
}

impl Moe {
    /// Routed experts with weights one token uses: `top_k` of the `experts + zero_experts` the
    /// router picks from, of which a share `experts / (experts + zero_experts)` has weights
    /// (rounded up) under even routing. LongCat-Flash: 12 × 512 / 768 = 8, which gives its
    /// published average of ~27B active parameters (technical report, arXiv 2509.01322: 18.6B to
    /// 31.3B per token, ~27B on average; 31.3B is all 12 picks real).
    pub fn active_experts(&self) -> u64 {
        let all = self.experts + self.zero_experts;
        if self.zero_experts == 0 || all == 0 {
            return self.top_k;
        }
        (self.top_k * self.experts).div_ceil(all).min(self.top_k)
    }
}

/// Routed experts used only by image and video tokens (shaped like the text experts: same
/// gating, no biases; their router carries a correction-bias vector when `router_bias`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisionExperts {
    pub experts: u64,
    /// Width of one vision expert.
    pub intermediate: u64,
    pub router_bias: bool,
}

/// The FFN block of a layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ffn {
    Dense {
        intermediate: u64,
        gated: bool,
        bias: bool,
        /// Learned scalars of the activation (Apertus xIELU: `alpha_p`, `alpha_n`).
        #[serde(default)]
        act_params: u64,
    },
    Moe(Moe),
}

/// One gated or plain MLP shape (a dense FFN, an expert, or the shared experts).
struct Mlp {
    width: u64,
    gated: bool,
    bias: bool,
}

impl Mlp {
    /// Appends gate+up (fused: transformers and vLLM both count them as 2·width rows) and down.
    fn tensors(
        &self,
        group: TensorGroup,
        hidden: u64,
        copies: u64,
        active: u64,
        out: &mut Vec<Tensor>,
    ) {
        let projections = if self.gated { 2 } else { 1 };
        // Routed experts are what MoE kernels pad (`Sharding::expert_pad`).
        let (up_role, down_role) = if group == TensorGroup::RoutedExperts {
            (Role::ExpertUp { projections }, Role::ExpertDown)
        } else {
            (Role::Plain, Role::Plain)
        };
        let up = Tensor::matrix(group, projections * self.width, hidden);
        out.push(up.split(Shard::Column).times(copies, active).role(up_role));
        out.push(
            Tensor::matrix(group, hidden, self.width)
                .split(Shard::Row)
                .times(copies, active)
                .role(down_role),
        );
        if self.bias {
            let up_bias = Tensor::vector(group, projections * self.width).split(Shard::Column);
            out.push(up_bias.times(copies, active).role(up_role));
            out.push(
                Tensor::vector(group, hidden)
                    .times(copies, active)
                    .role(down_role),
            );
        }
    }
}

impl Ffn {
    /// A one-line description.
    pub fn describe(&self) -> String {
        match self {
            // Mamba and Nemotron-H mixer-only layers: no feed-forward block.
            Ffn::Dense {
                intermediate: 0, ..
            } => "no FFN".to_string(),
            Ffn::Dense {
                intermediate,
                gated,
                ..
            } => {
                format!(
                    "dense {}{intermediate}",
                    if *gated { "SwiGLU " } else { "" }
                )
            }
            // "MoE {experts} experts{zero} top-{k} × {intermediate}{shared}{vision}", written
            // into one buffer (every evaluation describes its layers).
            Ffn::Moe(m) => {
                use std::fmt::Write;
                let mut out = String::with_capacity(96);
                let _ = write!(out, "MoE {} experts", m.experts);
                if m.zero_experts > 0 {
                    let _ = write!(out, " (+{} zero-compute)", m.zero_experts);
                }
                let _ = write!(out, " top-{} × {}", m.top_k, m.expert_intermediate);
                if m.shared_intermediate > 0 {
                    let _ = write!(out, " + shared {}", m.shared_intermediate);
                }
                if let Some(v) = m.vision_experts {
                    let _ = write!(out, " + {} vision experts × {}", v.experts, v.intermediate);
                }
                out
            }
        }
    }

    /// Appends this block's tensors; routed experts carry `copies = experts`, `active = top_k`.
    pub fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        match self {
            Ffn::Dense {
                intermediate,
                gated,
                bias,
                act_params,
            } => {
                Mlp {
                    width: *intermediate,
                    gated: *gated,
                    bias: *bias,
                }
                .tensors(TensorGroup::DenseFfn, hidden, 1, 1, out);
                if *act_params > 0 {
                    out.push(Tensor::vector(TensorGroup::DenseFfn, *act_params));
                }
            }
            Ffn::Moe(m) => {
                // The router scores the zero-compute experts too.
                let scored = m.experts + m.zero_experts;
                out.push(Tensor::matrix(TensorGroup::Router, scored, hidden));
                if m.router_bias {
                    out.push(Tensor::vector(TensorGroup::Router, scored));
                }
                Mlp {
                    width: m.expert_intermediate,
                    gated: m.gated,
                    bias: m.expert_bias,
                }
                .tensors(
                    TensorGroup::RoutedExperts,
                    hidden,
                    m.experts,
                    m.active_experts(),
                    out,
                );
                if let Some(v) = m.vision_experts {
                    // Image and video tokens only: none of it is active for a text token.
                    out.push(Tensor::matrix(TensorGroup::Router, v.experts, hidden).times(1, 0));
                    if v.router_bias {
                        out.push(Tensor::vector(TensorGroup::Router, v.experts).times(1, 0));
                    }
                    Mlp {
                        width: v.intermediate,
                        gated: m.gated,
                        bias: m.expert_bias,
                    }
                    .tensors(
                        TensorGroup::RoutedExperts,
                        hidden,
                        v.experts,
                        0,
                        out,
                    );
                }
                if m.shared_intermediate > 0 {
                    Mlp {
                        width: m.shared_intermediate,
                        gated: m.gated,
                        bias: false,
                    }
                    .tensors(TensorGroup::SharedExperts, hidden, 1, 1, out);
                    if m.shared_gate {
                        out.push(Tensor::matrix(TensorGroup::SharedExperts, 1, hidden));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // DeepSeek-V3 MoE layer: router 256·7168, 256 experts of 3·7168·2048, one shared expert of width 2048.
    #[test]
    fn deepseek_moe_counts_total_and_active() {
        let f = Ffn::Moe(Moe {
            experts: 256,
            top_k: 8,
            expert_intermediate: 2048,
            shared_intermediate: 2048,
            shared_gate: false,
            router_bias: false,
            expert_bias: false,
            gated: true,
            vision_experts: None,
            zero_experts: 0,
        });
        let mut t = Vec::new();
        f.tensors(7168, &mut t);
        let total: u64 = t.iter().map(|x| x.elements()).sum();
        let active: u64 = t.iter().map(|x| x.active_elements()).sum();
        let expert = 3 * 7168 * 2048;
        assert_eq!(total, 256 * 7168 + 256 * expert + expert);
        assert_eq!(active, 256 * 7168 + 8 * expert + expert);
    }

    // LongCat-Flash MoE layer (hidden 6144): router (512 + 256) × 6144, 512 experts of
    // 3 × 6144 × 2048, the zero-compute experts weightless; of top-12 picks, 12 × 512 / 768 = 8
    // are real experts under even routing, so 8 experts count as active, not 12.
    #[test]
    fn zero_compute_experts_are_free() {
        let m = Moe {
            experts: 512,
            top_k: 12,
            expert_intermediate: 2048,
            shared_intermediate: 0,
            shared_gate: false,
            router_bias: false,
            expert_bias: false,
            gated: true,
            vision_experts: None,
            zero_experts: 256,
        };
        assert_eq!(m.active_experts(), 8);
        let mut t = Vec::new();
        Ffn::Moe(m).tensors(6144, &mut t);
        let total: u64 = t.iter().map(|x| x.elements()).sum();
        let active: u64 = t.iter().map(|x| x.active_elements()).sum();
        let expert = 3 * 6144 * 2048;
        assert_eq!(total, 768 * 6144 + 512 * expert);
        assert_eq!(active, 768 * 6144 + 8 * expert);
    }
}
