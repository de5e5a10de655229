//! Mamba state-space layers (Mamba1: Mamba, Jamba; Mamba2: Mamba2, Nemotron-H, Bamba,
//! GraniteMoeHybrid): no per-token cache, a conv state and an SSM state per sequence.
//!
//! State shapes follow vLLM v0.11.0 `vllm/model_executor/layers/mamba/mamba_utils.py`
//! (`MambaStateShapeCalculator.mamba1_state_shape`, `.mamba2_state_shape`,
//! `.extra_groups_for_head_shards`): Mamba2 conv `(d_conv − 1) × (intermediate + 2·n_groups·
//! d_state) / tp` with `n_groups` raised to `tp` when tp does not divide it, SSM `heads / tp ×
//! head_dim × d_state`; Mamba1 conv `(d_conv − 1) × intermediate / tp`, SSM `intermediate / tp ×
//! d_state`. Both in the state dtype: `MambaStateDtypeCalculator._mamba_state_dtype` gives the
//! conv state the cache dtype (`mamba_cache_dtype`, auto = the model dtype) and the SSM state
//! `mamba_ssm_cache_dtype` (auto = the conv state's), so kvsim's `state` format sizes both.

use super::AttentionFamily;
use crate::error::{Error, Result};
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// Mamba generations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MambaKind {
    /// Selective scan with per-channel A (transformers `MambaMixer`, `JambaMambaMixer`).
    Mamba1,
    /// SSD with per-head A and grouped B/C (transformers `Mamba2Mixer` and its copies).
    Mamba2,
}

/// A Mamba mixer layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mamba {
    pub kind: MambaKind,
    /// Inner width (`expand · hidden`, or Mamba2 `heads · head_dim`).
    pub intermediate: u64,
    /// SSM state size per channel (`d_state`).
    pub state_size: u64,
    /// Causal conv kernel (`d_conv`).
    pub conv_kernel: u64,
    /// Mamba2 heads and head dim (0 for Mamba1).
    pub heads: u64,
    pub head_dim: u64,
    /// Mamba2 B/C groups (0 for Mamba1).
    pub n_groups: u64,
    /// Mamba1 time-step rank (0 for Mamba2).
    pub dt_rank: u64,
    pub conv_bias: bool,
    /// Bias on in_proj / out_proj.
    pub in_bias: bool,
    pub out_bias: bool,
    /// Mamba2 gated RMSNorm before out_proj.
    pub gated_norm: bool,
    /// Jamba's dt / B / C RMSNorms inside the mixer.
    pub dt_norms: bool,
}

fn state_element_bytes(state: KvFormat) -> Result<u64> {
    match state {
        KvFormat::Fp32 => Ok(4),
        KvFormat::Bf16 | KvFormat::Fp16 => Ok(2),
        other => Err(Error::field(
            "precision plan",
            "state",
            other,
            "fp32, bf16 or fp16 for the conv and SSM states of Mamba layers",
        )),
    }
}

impl Mamba {
    /// Conv channels: Mamba2 convolves x, B and C; Mamba1 only x.
    fn conv_dim(&self, groups: u64) -> u64 {
        match self.kind {
            MambaKind::Mamba1 => self.intermediate,
            MambaKind::Mamba2 => self.intermediate + 2 * groups * self.state_size,
        }
    }

    /// (conv, SSM) state elements per sequence on one chip at TP `tp`.
    pub fn state_parts(&self, tp: u64) -> (u64, u64) {
        let tp = tp.max(1);
        let taps = self.conv_kernel.saturating_sub(1);
        match self.kind {
            MambaKind::Mamba1 => {
                let i = self.intermediate.div_ceil(tp);
                (taps * i, i * self.state_size)
            }
            MambaKind::Mamba2 => {
                // extra_groups_for_head_shards: groups replicated up to tp when tp does not divide them.
                let groups = if self.n_groups % tp == 0 {
                    self.n_groups
                } else {
                    self.n_groups + tp.saturating_sub(self.n_groups)
                };
                let conv = taps * self.conv_dim(groups).div_ceil(tp);
                let ssm = self.heads.div_ceil(tp) * self.head_dim * self.state_size;
                (conv, ssm)
            }
        }
    }
}

impl AttentionFamily for Mamba {
    fn family(&self) -> &'static str {
        "mamba"
    }

    fn describe(&self) -> String {
        match self.kind {
            MambaKind::Mamba1 => format!("Mamba1 {}×{}", self.intermediate, self.state_size),
            MambaKind::Mamba2 => format!(
                "Mamba2 {}h×{}, state {}",
                self.heads, self.head_dim, self.state_size
            ),
        }
    }

    fn window(&self) -> Option<u64> {
        None
    }

    /// Parameters as transformers' mixers instantiate them; split as vLLM's `MambaMixer` /
    /// `MambaMixer2` do (in_proj, conv, dt, A, D column-parallel; out_proj row-parallel).
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let col = Shard::Column;
        let i = self.intermediate;
        let conv = self.conv_dim(self.n_groups);
        let in_rows = match self.kind {
            MambaKind::Mamba1 => 2 * i,
            MambaKind::Mamba2 => i + conv + self.heads,
        };
        out.push(Tensor::matrix(a, in_rows, hidden).split(col));
        if self.in_bias {
            out.push(Tensor::vector(a, in_rows).split(col));
        }
        out.push(Tensor::vector(a, conv * self.conv_kernel).split(col));
        if self.conv_bias {
            out.push(Tensor::vector(a, conv).split(col));
        }
        match self.kind {
            MambaKind::Mamba1 => {
                let r = self.dt_rank;
                // x_proj (dt, B, C), dt_proj with bias, A_log (channel × state), D.
                out.push(Tensor::matrix(a, r + 2 * self.state_size, i).split(Shard::Row));
                out.push(Tensor::matrix(a, i, r).split(col));
                out.push(Tensor::vector(a, i).split(col));
                out.push(Tensor::matrix(a, i, self.state_size).split(Shard::Column));
                out.push(Tensor::vector(a, i).split(col));
                if self.dt_norms {
                    out.push(Tensor::vector(a, r + 2 * self.state_size));
                }
            }
            MambaKind::Mamba2 => {
                // dt_bias, A_log, D per head; the gated norm over the inner width.
                out.push(Tensor::vector(a, 3 * self.heads).split(col));
                if self.gated_norm {
                    out.push(Tensor::vector(a, i).split(col));
                }
            }
        }
        out.push(Tensor::matrix(a, hidden, i).split(Shard::Row));
        if self.out_bias {
            out.push(Tensor::vector(a, hidden));
        }
    }

    fn kv_spec(&self, _kv: KvFormat, state: KvFormat, tp: u64) -> Result<KvSpec> {
        let (conv, ssm) = self.state_parts(tp);
        let b = state_element_bytes(state)?;
        Ok(KvSpec::State {
            bytes: (conv + ssm) * b,
        })
    }

    /// The scan reads, decays and updates every SSM state element per token (≈ 6 FLOPs each, as
    /// kvsim counts the delta-rule layers).
    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let (_, ssm) = self.state_parts(1);
        let tokens = if prefill { c as f64 } else { 1.0 };
        6.0 * ssm as f64 * tokens
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        let heads = if self.kind == MambaKind::Mamba2 {
            self.heads
        } else {
            self.intermediate
        };
        (heads % tp != 0 || self.intermediate % tp != 0).then(|| {
            format!(
                "a divisor of the Mamba heads ({heads}) and inner width ({})",
                self.intermediate
            )
        })
    }

    fn projection_width(&self) -> u64 {
        match self.kind {
            MambaKind::Mamba1 => 2 * self.intermediate,
            MambaKind::Mamba2 => self.intermediate + self.conv_dim(self.n_groups) + self.heads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    fn mamba2(heads: u64, head_dim: u64, groups: u64, state: u64) -> Mamba {
        Mamba {
            kind: MambaKind::Mamba2,
            intermediate: heads * head_dim,
            state_size: state,
            conv_kernel: 4,
            heads,
            head_dim,
            n_groups: groups,
            dt_rank: 0,
            conv_bias: true,
            in_bias: false,
            out_bias: false,
            gated_norm: true,
            dt_norms: false,
        }
    }

    // Nemotron-H-8B layout (mamba_num_heads 128, head_dim 64, n_groups 8, d_state 128, d_conv 4):
    // conv 3 × (8192 + 2·8·128) = 3 × 10,240 = 30,720; SSM 128 × 64 × 128 = 1,048,576 elements;
    // × 2 B in BF16 = 2,158,592 B per sequence per layer.
    #[test]
    fn mamba2_state_bf16() {
        let a = Attention::Mamba(mamba2(128, 64, 8, 128));
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap(),
            KvSpec::State {
                bytes: (30_720 + 1_048_576) * 2
            }
        );
        // FP32 states (mamba_ssm_cache_dtype float32 with an fp32 cache) double it.
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Fp32, 1).unwrap(),
            KvSpec::State {
                bytes: (30_720 + 1_048_576) * 4
            }
        );
    }

    // Mamba2 with 1 group at TP 4: vLLM raises the groups to 4, conv 3 × (4096 + 2·4·128) / 4 =
    // 3 × 1280 = 3840; SSM 64/4 × 64 × 128 = 131,072.
    #[test]
    fn groups_replicate_to_tp() {
        let m = mamba2(64, 64, 1, 128);
        assert_eq!(m.state_parts(4), (3840, 131_072));
        // TP 1: conv 3 × (4096 + 256) = 13,056.
        assert_eq!(m.state_parts(1), (13_056, 64 * 64 * 128));
    }

    // Mamba1 (Jamba-v0.1: hidden 4096, expand 2, d_state 16, d_conv 4): conv 3 × 8192 = 24,576,
    // SSM 8192 × 16 = 131,072 elements.
    #[test]
    fn mamba1_state() {
        let m = Mamba {
            kind: MambaKind::Mamba1,
            intermediate: 8192,
            state_size: 16,
            conv_kernel: 4,
            heads: 0,
            head_dim: 0,
            n_groups: 0,
            dt_rank: 256,
            conv_bias: true,
            in_bias: false,
            out_bias: false,
            gated_norm: false,
            dt_norms: true,
        };
        assert_eq!(m.state_parts(1), (24_576, 131_072));
        assert_eq!(m.state_parts(2), (12_288, 65_536));
        assert!(m.tp_constraint(3).is_some());
    }
}
