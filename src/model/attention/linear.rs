//! Linear attention and recurrent layers (Qwen3-Next Gated DeltaNet, Kimi Delta Attention,
//! MiniMax lightning attention): no per-token cache, a fixed state per sequence.

use super::AttentionFamily;
use crate::error::{Error, Result};
use crate::kv::KvSpec;
use crate::model::{Shard, Tensor};
use crate::precision::{KvFormat, TensorGroup};
use serde::{Deserialize, Serialize};

/// Linear-attention families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearKind {
    /// Qwen3-Next Gated DeltaNet.
    GatedDeltaNet,
    /// Kimi Delta Attention (Kimi-Linear).
    Kda,
    /// MiniMax lightning attention.
    Lightning,
}

/// A linear-attention layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub kind: LinearKind,
    pub k_heads: u64,
    pub v_heads: u64,
    pub head_k_dim: u64,
    pub head_v_dim: u64,
    /// Short causal convolution kernel (0 = none).
    pub conv_kernel: u64,
}

fn state_element_bytes(state: KvFormat) -> Result<u64> {
    match state {
        KvFormat::Fp32 => Ok(4),
        KvFormat::Bf16 | KvFormat::Fp16 => Ok(2),
        other => Err(Error::field(
            "precision plan",
            "state",
            other,
            "fp32, bf16 or fp16 for the recurrent state of linear-attention layers",
        )),
    }
}

impl Linear {
    fn key_dim(&self) -> u64 {
        self.k_heads * self.head_k_dim
    }
    fn value_dim(&self) -> u64 {
        self.v_heads * self.head_v_dim
    }
    /// Channels of the short convolution (q, k and v).
    fn conv_dim(&self) -> u64 {
        2 * self.key_dim() + self.value_dim()
    }

    /// State elements per sequence on one chip, heads split by TP: the recurrent matrix per value
    /// head (`head_k_dim × head_v_dim`) and the conv state (`conv_dim × (kernel − 1)`).
    pub fn state_parts(&self, tp: u64) -> (u64, u64) {
        let tp = tp.max(1);
        let v_heads = self.v_heads.div_ceil(tp);
        let recurrent = v_heads * self.head_k_dim * self.head_v_dim;
        let conv = self.conv_dim().div_ceil(tp) * self.conv_kernel.saturating_sub(1);
        (recurrent, conv)
    }

    /// All state elements per sequence on one chip.
    pub fn state_elements(&self, tp: u64) -> u64 {
        let (recurrent, conv) = self.state_parts(tp);
        recurrent + conv
    }

    /// Bytes per recurrent-state element: vLLM keeps KDA's recurrent state in FP32 whatever the
    /// cache dtype (`vllm/model_executor/layers/mamba/mamba_utils.py::MambaStateDtypeCalculator.
    /// kda_state_dtype` @ v0.20.2: recurrent `torch.float32`); the other families follow `state`.
    fn recurrent_element_bytes(&self, state: KvFormat) -> Result<u64> {
        match self.kind {
            LinearKind::Kda => Ok(4),
            _ => state_element_bytes(state),
        }
    }
}

impl AttentionFamily for Linear {
    fn family(&self) -> &'static str {
        "linear"
    }

    fn describe(&self) -> String {
        format!("{:?} {}×{}", self.kind, self.v_heads, self.head_v_dim)
    }

    fn window(&self) -> Option<u64> {
        None
    }

    /// Parameters as the transformers / fla modules instantiate them.
    fn tensors(&self, hidden: u64, out: &mut Vec<Tensor>) {
        let a = TensorGroup::Attention;
        let (kd, vd) = (self.key_dim(), self.value_dim());
        let col = Shard::Column;
        match self.kind {
            LinearKind::GatedDeltaNet => {
                // in_proj_qkvz, in_proj_ba, conv1d (depthwise), dt_bias, A_log, gated RMSNorm, out_proj.
                out.push(Tensor::matrix(a, 2 * kd + 2 * vd, hidden).split(col));
                out.push(Tensor::matrix(a, 2 * self.v_heads, hidden).split(col));
                out.push(Tensor::vector(a, self.conv_dim() * self.conv_kernel).split(col));
                out.push(Tensor::vector(a, 2 * self.v_heads).split(col));
                out.push(Tensor::vector(a, self.head_v_dim));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
            }
            LinearKind::Kda => {
                // q/k/v projections and their short convs, low-rank forget gate (f_a, f_b), beta
                // (b_proj), A_log, dt_bias, low-rank output gate (g_a, g_b), o_norm, o_proj.
                let hd = self.head_k_dim;
                out.push(Tensor::matrix(a, 2 * kd + vd, hidden).split(col));
                out.push(Tensor::vector(a, self.conv_dim() * self.conv_kernel).split(col));
                out.push(Tensor::matrix(a, hd, hidden));
                out.push(Tensor::matrix(a, kd, hd).split(col));
                out.push(Tensor::matrix(a, self.v_heads, hidden).split(col));
                out.push(Tensor::vector(a, self.v_heads + kd).split(col));
                out.push(Tensor::matrix(a, hd, hidden));
                out.push(Tensor::matrix(a, vd, hd).split(col));
                out.push(Tensor::vector(a, self.head_v_dim));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
            }
            LinearKind::Lightning => {
                // MiniMax-Text-01: qkv_proj, output_gate, norm, out_proj.
                out.push(Tensor::matrix(a, 2 * kd + vd, hidden).split(col));
                out.push(Tensor::matrix(a, vd, hidden).split(col));
                out.push(Tensor::vector(a, vd).split(col));
                out.push(Tensor::matrix(a, hidden, vd).split(Shard::Row));
            }
        }
    }

    /// The state's heads split over TP; the conv state in `state`, the recurrent state as the
    /// family keeps it.
    fn kv_spec(&self, _kv: KvFormat, state: KvFormat, tp: u64) -> Result<KvSpec> {
        let (recurrent, conv) = self.state_parts(tp);
        Ok(KvSpec::State {
            bytes: recurrent * self.recurrent_element_bytes(state)?
                + conv * state_element_bytes(state)?,
        })
    }

    /// Delta-rule recurrences read, correct and update a dk × dv state per value head (≈ 6 FLOPs
    /// per state element); lightning attention reads and updates it (4).
    fn context_flops(&self, c: u64, prefill: bool) -> f64 {
        let per_elem = if self.kind == LinearKind::Lightning {
            4.0
        } else {
            6.0
        };
        let tokens = if prefill { c as f64 } else { 1.0 };
        per_elem * (self.v_heads * self.head_k_dim * self.head_v_dim) as f64 * tokens
    }

    fn tp_constraint(&self, tp: u64) -> Option<String> {
        (self.v_heads % tp != 0 || self.k_heads % tp != 0).then(|| {
            format!(
                "a divisor of the linear-attention heads ({} key, {} value)",
                self.k_heads, self.v_heads
            )
        })
    }

    fn projection_width(&self) -> u64 {
        2 * self.k_heads * self.head_k_dim + 2 * self.v_heads * self.head_v_dim
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    // Qwen3-Next Gated DeltaNet (linear_num_value_heads 32, key/value head dim 128, 16 key heads,
    // conv kernel 4): 32·128·128 = 524,288 recurrent + (2·2048 + 4096)·3 = 24,576 conv elements;
    // 1,097,728 B per sequence per layer in BF16, half of it per chip at TP2.
    #[test]
    fn gated_deltanet_state() {
        let l = Linear {
            kind: LinearKind::GatedDeltaNet,
            k_heads: 16,
            v_heads: 32,
            head_k_dim: 128,
            head_v_dim: 128,
            conv_kernel: 4,
        };
        assert_eq!(l.state_elements(1), 524_288 + 24_576);
        let a = Attention::Linear(l);
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap(),
            KvSpec::State { bytes: 1_097_728 }
        );
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Fp32, 1).unwrap(),
            KvSpec::State { bytes: 2_195_456 }
        );
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 2).unwrap(),
            KvSpec::State { bytes: 548_864 }
        );
        assert!(a.kv_spec(KvFormat::Bf16, KvFormat::Fp8, 1).is_err());
        // A decode step reads and writes the state.
        assert_eq!(
            a.kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 1 << 20)
                .unwrap(),
            2.0 * 1_097_728.0
        );
        assert!(a.tp_constraint(3).unwrap().contains("16 key, 32 value"));
    }

    // Kimi-Linear KDA (32 heads × 128, conv kernel 4): recurrent 32·128·128 = 524,288 elements in
    // FP32 = 2,097,152 B, conv (3 · 4096) · 3 = 36,864 elements in BF16 = 73,728 B.
    #[test]
    fn kda_recurrent_state_is_fp32() {
        let a = Attention::Linear(Linear {
            kind: LinearKind::Kda,
            k_heads: 32,
            v_heads: 32,
            head_k_dim: 128,
            head_v_dim: 128,
            conv_kernel: 4,
        });
        assert_eq!(
            a.kv_spec(KvFormat::Bf16, KvFormat::Bf16, 1).unwrap(),
            KvSpec::State {
                bytes: 2_097_152 + 73_728
            }
        );
    }
}
