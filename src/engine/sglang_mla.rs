//! SGLang's MLA absorption weights: after loading, SGLang splits each MLA layer's `kv_b_proj`
//! into `w_kc` (per head `qk_nope_head_dim × kv_lora_rank`) and `w_vc` (`kv_lora_rank ×
//! v_head_dim`) for the absorbed decode path, as new tensors, and from 0.4.6 keeps `kv_b_proj`
//! beside them for the MHA prefill path. The copies are alive when SGLang measures the memory
//! left for the KV cache (`model_runner.py::ModelRunner.profile_max_num_token` runs after
//! `load_model`, whose `load_weights` ends in `post_load_weights`), and they count in its logged
//! "Load weight end … mem usage".
//!
//! Read in `python/sglang/srt/models/deepseek_v2.py` (sgl-project/sglang):
//! - 0.3.3, 0.3.4 `DeepseekV2ForCausalLM.load_weights`: `w_kc = w_kc.transpose(1, 2).contiguous()
//!   .transpose(1, 2)`, `w_vc = w_vc.contiguous().transpose(1, 2)` from `kv_b_proj.weight` as
//!   stored, then `del self_attn.kv_b_proj`: the copies replace it.
//! - 0.4.6 `post_load_weights`: FP8 128×128 blocks stay FP8 — on CUDA compute capability 9.0 the
//!   DeepGEMM bmm path (`_ENABLE_JIT_DEEPGEMM`, `SGL_ENABLE_JIT_DEEPGEMM` default true, BF16
//!   model dtype) copies the blocks as they are (`w_kc.transpose(1, 2).contiguous()`,
//!   `w_vc.contiguous()`), elsewhere `block_quant_to_tensor_quant` requantises the whole matrix
//!   to per-tensor FP8 first; per-channel FP8 goes through `channel_quant_to_tensor_quant`
//!   (FP8); INT8 and AWQ are dequantised to BF16 (`int8_block_dequant`, `awq_dequantize`).
//!   `kv_b_proj` is kept (`forward_normal` uses it).
//! - 0.4.7, 0.5.3, 0.5.4 `post_load_weights`, 0.5.23 `deepseek_common/deepseek_weight_loader.py::
//!   DeepseekV2WeightLoaderMixin.post_load_weights`: FP8 128×128 blocks on CUDA are dequantised
//!   to BF16 (`block_quant_dequant(…, torch.bfloat16)`) unless `SGL_USE_DEEPGEMM_BMM` (default
//!   false) picks DeepGEMM's FP8 bmm on Hopper; on every other device (ROCm, NPU; 0.5.23 adds
//!   MUSA and XPU to the BF16 branch) `block_quant_to_tensor_quant` makes per-tensor FP8. The rest
//!   as at 0.4.6. The copies are bound once (`bind_or_assign`) and never freed.
//!
//! Heads are local to the attention TP group (`num_local_heads = num_heads // attn_tp_size`,
//! `kv_b_proj = ColumnParallelLinear(…, tp_size=attn_tp_size)`): under DP attention at TP = DP
//! every rank holds all heads. The same split, with `kv_b_proj` kept, is in every class kvsim
//! imports as MLA at 0.5.23: `DeepseekV2/V3/V32ForCausalLM`, `GlmMoeDsaForCausalLM` (subclass,
//! `glm4_moe.py`), `KimiK25ForConditionalGeneration` and `KimiVLForConditionalGeneration` (their
//! language model is a `DeepseekV3/V2ForCausalLM`), `LongcatFlashForCausalLM.post_load_weights`
//! (`longcat_flash.py`, the same branches) and `KimiLinearForCausalLM.post_load_weights`
//! (`kimi_linear.py`, BF16 as stored). MiniCPM3 deletes `kv_b_proj` (`minicpm3.py`); kvsim does
//! not import it. Block scales copied for the DeepGEMM path (32 B per head per layer) and the
//! per-tensor scale are not counted.

use super::Setup;
use crate::model::Mla;
use crate::precision::WeightFormat;

/// How one release stores `w_kc` / `w_vc` for attention weights in one format on one chip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvBSplit {
    /// Bytes per element of the copies.
    pub bytes: u64,
    /// Whether the split is taken from a converted copy of `kv_b_proj` (dequantised or
    /// requantised) rather than from its stored weight.
    pub converted: bool,
    /// The path, for the weights note.
    pub what: &'static str,
}

/// The path `post_load_weights` takes at `version` (`minor · 100 + patch`) on `setup` for
/// `kv_b_proj` stored in `attention`.
pub fn kv_b_split(version: u32, setup: &Setup, attention: WeightFormat) -> KvBSplit {
    let split = |bytes, converted, what| KvBSplit {
        bytes,
        converted,
        what,
    };
    let stored = |bytes| split(bytes, false, "as stored");
    match attention {
        WeightFormat::Bf16 | WeightFormat::Fp16 => stored(2),
        WeightFormat::Fp32 => stored(4),
        _ if version < 400 => match attention {
            WeightFormat::Fp8 | WeightFormat::Fp8Block128 | WeightFormat::Int8 => stored(1),
            _ => split(2, false, "assumed BF16, a format kvsim does not model for this release"),
        },
        WeightFormat::Fp8Block128 if version < 407 => {
            if setup.cuda && setup.cuda_capability == Some((9, 0)) {
                split(1, false, "FP8 blocks copied for DeepGEMM's bmm, SGLang's path on Hopper")
            } else {
                split(
                    1,
                    true,
                    "FP8 requantised per tensor, SGLang's path off Hopper",
                )
            }
        }
        WeightFormat::Fp8Block128 if setup.cuda => split(
            2,
            true,
            "BF16 dequantised from the FP8 blocks, SGLang's CUDA path; FP8 per tensor on other GPUs, FP8 blocks on Hopper with SGL_USE_DEEPGEMM_BMM=1",
        ),
        WeightFormat::Fp8Block128 => split(
            1,
            true,
            "FP8 requantised per tensor from the FP8 blocks, SGLang's path off CUDA; BF16 on CUDA",
        ),
        WeightFormat::Fp8 => split(1, true, "FP8 requantised per tensor"),
        WeightFormat::Int8 => split(2, true, "BF16 dequantised from INT8"),
        WeightFormat::Int4 { .. } | WeightFormat::IntGroup { .. } => {
            split(2, true, "BF16 dequantised, AWQ's path")
        }
        _ => split(
            2,
            true,
            "assumed BF16, a format whose path kvsim does not model",
        ),
    }
}

/// The local heads `N`, nope `P`, value `V` and latent `L` widths of one MLA layer on a rank, and
/// how SGLang splits its `kv_b_proj` there.
fn local_split(
    version: u32,
    setup: &Setup,
    mla: &Mla,
    attn_tp: u64,
    attention: WeightFormat,
) -> (u64, u64, u64, u64, KvBSplit) {
    (
        (mla.heads / attn_tp.max(1)).max(1),
        mla.qk_nope_head_dim,
        mla.v_head_dim,
        mla.kv_lora_rank,
        kv_b_split(version, setup, attention),
    )
}

/// Bytes one rank holds for `w_kc` and `w_vc` of one MLA layer beyond its stored `kv_b_proj`,
/// with `attn_tp` attention ranks. With `N` local heads, nope `P`, value `V`, latent `L` and `b`
/// bytes per element: `N·(P + V)·L·b`. At one local head `w_vc.contiguous()` is a view, not a
/// copy: of `kv_b_proj` itself (nothing more) or of the converted matrix, which it then keeps
/// alive whole. At 0.3.x the copies replace `kv_b_proj`: nothing more, but at one head `w_kc`.
pub fn w_kc_w_vc_bytes(
    version: u32,
    setup: &Setup,
    mla: &Mla,
    attn_tp: u64,
    attention: WeightFormat,
) -> u64 {
    let (n, p, v, l, s) = local_split(version, setup, mla, attn_tp, attention);
    let kc = n * p * l * s.bytes;
    match (version < 400, n) {
        (true, 1) => kc,
        (true, _) => 0,
        (false, 1) if s.converted => kc + (p + v) * l * s.bytes,
        (false, 1) => kc,
        (false, _) => n * (p + v) * l * s.bytes,
    }
}

/// Bytes of one MLA layer's weights on a rank that the absorbed decode does not read: it reads
/// `w_kc` and `w_vc` (`DeepseekV2AttentionMLA.forward_absorb`), never `kv_b_proj`. Where the split
/// makes copies, `kv_b_proj` (kept from 0.4.6) is unread; at one local head `w_vc` is a view —
/// of `kv_b_proj` as stored, or of the converted copy — and only the `w_kc` half beside it is
/// unread; at 0.3.x with several heads the copies replace `kv_b_proj` and everything is read.
pub fn decode_unread_bytes(
    version: u32,
    setup: &Setup,
    mla: &Mla,
    attn_tp: u64,
    attention: WeightFormat,
) -> u64 {
    let (n, p, v, l, s) = local_split(version, setup, mla, attn_tp, attention);
    let kv_b =
        u64::try_from(attention.matrix_bytes((n * (p + v)).into(), l.into())).unwrap_or(u64::MAX);
    // The rows of `kv_b_proj` that hold `w_kc`, scales shared out by rows.
    let kc_rows = kv_b / (p + v).max(1) * p;
    match (version < 400, n) {
        (true, 1) => kc_rows,
        (true, _) => 0,
        (false, 1) if s.converted => kv_b.saturating_add(p * l * s.bytes),
        (false, 1) => kc_rows,
        (false, _) => kv_b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deepseek_v3() -> Mla {
        Mla::deepseek_v3()
    }

    fn chip(cuda: bool, capability: Option<(u32, u32)>) -> Setup {
        Setup {
            cuda,
            rocm: !cuda,
            cuda_capability: capability,
            ..Setup::default()
        }
    }

    // DeepSeek-V3 (FP8 128×128 blocks), 61 MLA layers. TP8: 16 local heads, each 128 + 128 rows
    // of 512: 16 × 256 × 512 = 2,097,152 elements per layer. TP8 with DP attention over 8 groups:
    // attention TP 1, all 128 heads: 16,777,216 elements per layer.
    // 0.4.7–0.5.23 on CUDA (BF16): 4,194,304 B per layer, 255,852,544 B (0.24 GiB) over 61 layers
    // at TP8; 33,554,432 B per layer, 2,046,820,352 B (1.91 GiB) at TP8 DP8.
    // On ROCm (per-tensor FP8) and at 0.4.6 everywhere (FP8): half that. 0.3.x: nothing (deleted).
    #[test]
    fn deepseek_v3_tp8_and_dp_attention() {
        let m = deepseek_v3();
        let fp8 = WeightFormat::Fp8Block128;
        let (b200, h100, mi300x) = (
            chip(true, Some((10, 0))),
            chip(true, Some((9, 0))),
            chip(false, None),
        );
        let per_layer = |v, s: &Setup, tp| w_kc_w_vc_bytes(v, s, &m, tp, fp8);
        for v in [407, 503, 504, 523] {
            assert_eq!(per_layer(v, &b200, 8), 4_194_304);
            assert_eq!(per_layer(v, &h100, 1), 33_554_432);
            assert_eq!(61 * per_layer(v, &b200, 8), 255_852_544);
            assert_eq!(61 * per_layer(v, &b200, 1), 2_046_820_352);
            assert_eq!(per_layer(v, &mi300x, 8), 2_097_152);
            assert_eq!(per_layer(v, &mi300x, 1), 16_777_216);
        }
        assert_eq!(per_layer(406, &h100, 8), 2_097_152);
        assert_eq!(61 * per_layer(406, &b200, 1), 1_023_410_176);
        assert_eq!(per_layer(304, &h100, 8), 0);
        assert_eq!(per_layer(303, &h100, 1), 0);
    }

    // BF16 checkpoints (DeepSeek-V2, Kimi-K2-Thinking's attention) are split as stored, on any
    // chip: DeepSeek-V2 at TP8, 16 × 256 × 512 × 2 = 4,194,304 B per layer.
    #[test]
    fn bf16_split_as_stored() {
        let m = deepseek_v3();
        for s in [chip(true, Some((9, 0))), chip(false, None)] {
            assert_eq!(
                w_kc_w_vc_bytes(523, &s, &m, 8, WeightFormat::Bf16),
                4_194_304
            );
        }
        assert!(!kv_b_split(523, &chip(false, None), WeightFormat::Bf16).converted);
    }

    // One local head (128 heads at attention TP 128): w_vc.contiguous() of a [1, 128, 512] slice is
    // a view. Of kv_b_proj's own BF16 weight: only w_kc is new (128 × 512 × 2 = 131,072 B). Of the
    // BF16 matrix dequantised from FP8 blocks: w_kc plus the whole dequantised matrix it keeps
    // alive (131,072 + 256 × 512 × 2 = 393,216 B). 0.3.x deletes kv_b_proj, but the view keeps its
    // storage: w_kc alone (FP8 as stored: 65,536 B).
    #[test]
    fn one_local_head_views() {
        let m = deepseek_v3();
        let b200 = chip(true, Some((10, 0)));
        assert_eq!(
            w_kc_w_vc_bytes(504, &b200, &m, 128, WeightFormat::Bf16),
            131_072
        );
        assert_eq!(
            w_kc_w_vc_bytes(504, &b200, &m, 128, WeightFormat::Fp8Block128),
            393_216
        );
        assert_eq!(
            w_kc_w_vc_bytes(
                406,
                &chip(true, Some((9, 0))),
                &m,
                128,
                WeightFormat::Fp8Block128
            ),
            65_536
        );
        assert_eq!(
            w_kc_w_vc_bytes(304, &b200, &m, 128, WeightFormat::Fp8),
            65_536
        );
    }

    // GLM-5 (64 heads, nope 192, v 256) FP8 blocks on an MI355X at TP8, 0.5.23: 8 × 448 × 512 ×
    // 1 B = 1,835,008 B per layer (per-tensor FP8, `block_quant_to_tensor_quant`).
    #[test]
    fn glm5_on_rocm() {
        let glm = Mla {
            heads: 64,
            qk_nope_head_dim: 192,
            v_head_dim: 256,
            ..deepseek_v3()
        };
        assert_eq!(
            w_kc_w_vc_bytes(523, &chip(false, None), &glm, 8, WeightFormat::Fp8Block128),
            1_835_008
        );
        // INT8 and the other quantised formats are dequantised to BF16.
        assert_eq!(
            kv_b_split(504, &chip(true, None), WeightFormat::Int8).bytes,
            2
        );
    }

    // What the absorbed decode leaves unread, DeepSeek-V3 (FP8 128-blocks, 4 B a block): at 16
    // local heads kv_b_proj, 4,096 × 512 + 32 × 4 × 4 = 2,097,664 B; at one local head (TP 128)
    // the w_kc rows of kv_b_proj beside the w_vc view, 128 × 512 = 65,536 B, and with a
    // converted copy (0.5.23 on ROCm, per-tensor FP8) kv_b_proj whole (131,104 B) and the copy's
    // w_kc rows (65,536 B); 0.3.x's copies replace kv_b_proj: nothing at 16 heads.
    #[test]
    fn decode_unread_by_head_count() {
        let v3 = deepseek_v3();
        let fp8 = WeightFormat::Fp8Block128;
        let h100 = chip(true, Some((9, 0)));
        let mi = chip(false, None);
        assert_eq!(decode_unread_bytes(523, &h100, &v3, 8, fp8), 2_097_664);
        assert_eq!(decode_unread_bytes(406, &h100, &v3, 128, fp8), 65_536);
        assert_eq!(
            decode_unread_bytes(523, &mi, &v3, 128, fp8),
            131_104 + 65_536
        );
        assert_eq!(decode_unread_bytes(303, &h100, &v3, 8, fp8), 0);
    }
}
