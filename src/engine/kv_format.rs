//! Which KV-cache format an engine really stores when a model is served: the format `auto`
//! resolves to, formats an engine rewrites (vLLM turns `fp8` into `fp8_ds_mla` for
//! DeepSeek-V4; SGLang picks the FP8 layout of DeepSeek sparse attention by kernel), formats it
//! refuses, and whether it stores the indexer's keys in MXFP4. Each rule cites the engine's code.

use super::Setup;
use crate::precision::{IndexerCache, KvFormat};

/// What an engine's KV-format choice depends on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KvRequest {
    /// The format the user asked for (None: the engine's `auto`).
    pub requested: Option<KvFormat>,
    /// What `auto` means without engine rules: the model's own KV format (its dtype).
    pub model_default: KvFormat,
    /// The indexer key cache asked for.
    pub indexer: IndexerCache,
    /// DeepSeek-V4 compressed attention.
    pub compressed: bool,
    /// MLA with the DeepSeek sparse-attention indexer (DeepSeek-V3.2, GLM-5).
    pub dsa: bool,
    pub setup: Setup,
}

/// The formats the engine stores, and why they differ from the request.
#[derive(Debug, Clone, PartialEq)]
pub struct KvChoice {
    pub kv: KvFormat,
    pub indexer: IndexerCache,
    /// (warning code, text) for every format kvsim changed or doubts.
    pub notes: Vec<(&'static str, String)>,
}

impl KvRequest {
    /// The request taken as asked (`auto` = the model's format): engines without rules.
    pub fn as_asked(&self) -> KvChoice {
        KvChoice {
            kv: self.requested.unwrap_or(self.model_default),
            indexer: self.indexer,
            notes: Vec::new(),
        }
    }
}

/// vLLM release code of 0.33.0: the first release read with the MXFP4 indexer cache at its
/// real size (68 B); at 0.20.2 `use_fp4_indexer_cache` still allocated the FP8 size.
const VLLM_FP4_INDEXER_SIZED: u32 = 3300;

/// vLLM. DeepSeek-V4 is served from an `fp8_ds_mla` cache only on its default backends: `auto`
/// and `fp8` become `fp8_ds_mla` (584 B per entry), anything else is refused
/// (`vllm/model_executor/layers/deepseek_v4_attention.py::DeepseekV4MLAAttention.__init__`
/// asserts `fp8*` and rewrites it @ v0.20.2;
/// `vllm/models/deepseek_v4/attention.py::_resolve_dsv4_kv_cache_dtype` raises ValueError @
/// v0.33.0, where only `--attention-backend FLASHINFER_MLA_SPARSE_DSV4` off SM12 keeps plain
/// BF16 or per-tensor FP8 rows, `models/deepseek_v4/nvidia/model.py::_select_dsv4_attn_cls`).
/// The MXFP4 indexer cache is a V4 option (`vllm/v1/attention/backends/mla/indexer.py::
/// dsa_indexer_uses_fp4` is used by the V4 attention only @ v0.33.0).
pub fn vllm(version: u32, r: &KvRequest) -> KvChoice {
    let mut c = r.as_asked();
    if r.compressed {
        match r.requested {
            None => {
                c.kv = KvFormat::Fp8DsMla;
                c.notes.push((
                    "kv_format_engine_default",
                    "vLLM serves DeepSeek-V4 from an fp8_ds_mla cache (448 FP8 NoPE + 64 BF16 RoPE + 8 B of UE8M0 scales = 584 B per entry): kvsim takes it as the KV format (--kv to change)".into(),
                ));
            }
            Some(KvFormat::Fp8 | KvFormat::Fp8PerTokenHead) => {
                c.kv = KvFormat::Fp8DsMla;
                c.notes.push((
                    "kv_format_engine_rewrite",
                    "vLLM rewrites an fp8 cache to fp8_ds_mla for DeepSeek-V4 (584 B per entry, not 512): kvsim does the same".into(),
                ));
            }
            Some(KvFormat::Fp8DsMla) => {}
            Some(k) => c.notes.push((
                "kv_format_refused",
                format!(
                    "vLLM refuses a {k} cache for DeepSeek-V4 on its default backends (AssertionError at 0.20.2; ValueError at 0.33.0 unless --attention-backend FLASHINFER_MLA_SPARSE_DSV4 on SM100): kvsim computes the {k} figures as asked"
                ),
            )),
        }
    }
    if r.indexer == IndexerCache::Mxfp4 && (r.compressed || r.dsa) {
        if !r.compressed {
            c.indexer = IndexerCache::Fp8;
            c.notes.push((
                "indexer_format_ignored",
                "vLLM's MXFP4 indexer cache is a DeepSeek-V4 option (0.33.0); the DeepSeek-V3.2 indexer keeps FP8 keys (132 B): kvsim keeps 132 B".into(),
            ));
        } else if version < VLLM_FP4_INDEXER_SIZED {
            c.indexer = IndexerCache::Fp8;
            c.notes.push((
                "indexer_format_ignored",
                "vLLM 0.20.2 allocates the FP8 size (132 B) for an MXFP4 indexer cache (use_fp4_indexer_cache uses half of it); 0.33.0 allocates 68 B. The release in between that changed it is not pinned: kvsim keeps 132 B before 0.33.0".into(),
            ));
        }
    }
    c
}

/// SGLang 0.5.23, DeepSeek sparse attention (V3.2, GLM-5): `auto` becomes FP8 on CUDA GPUs of
/// compute capability 10 and up and BF16 elsewhere (`python/sglang/srt/arg_groups/overrides.py::
/// _dsa_kv_cache_dtype_default`; ROCm reports capability 9.x). The FP8 record depends on the
/// attention kernels the defaults pick (`_dsa_split_backend_resolution`): `trtllm` on
/// Blackwell and `triton` on ROCm keep the raw 576-byte latent, `flashmla_kv` on Hopper the
/// scaled 656-byte `fp8_ds_mla` layout (`python/sglang/srt/mem_cache/kv_cache_configurator.py::
/// calculate_mla_kv_cache_dim` @ v0.5.23). Earlier releases differ (docs/facts.md §1).
pub fn sglang(version: u32, r: &KvRequest) -> KvChoice {
    let mut c = r.as_asked();
    if r.indexer == IndexerCache::Mxfp4 && (r.dsa || r.compressed) {
        c.indexer = IndexerCache::Fp8;
        c.notes.push((
            "indexer_format_ignored",
            "kvsim does not model an MXFP4 indexer cache in SGLang: it keeps FP8 keys (132 B)"
                .into(),
        ));
    }
    if !r.dsa || version < 500 {
        return c;
    }
    let major = r.setup.cuda_capability.map(|(m, _)| m);
    let blackwell = r.setup.cuda && major.is_some_and(|m| m >= 10);
    if version < 523 {
        return sglang_v053(version, r, c, blackwell);
    }
    match r.requested {
        None if blackwell => {
            c.kv = KvFormat::Fp8;
            c.notes.push((
                "kv_format_engine_default",
                "SGLang 0.5.23 runs DeepSeek sparse attention with an FP8 cache on Blackwell, in the raw 576 B latent of its default trtllm kernels (+ 132 B indexer): kvsim takes it as the KV format (--kv to change)".into(),
            ));
        }
        None if r.setup.cuda && major.is_none() => c.notes.push((
            "kv_format_engine_default",
            "SGLang picks the DeepSeek sparse-attention KV format by compute capability (FP8 from 10.0, else BF16); the chip states none, so kvsim keeps the model's format".into(),
        )),
        Some(KvFormat::Fp8) if r.setup.cuda && major.is_some_and(|m| m < 10) => {
            c.kv = KvFormat::Fp8DsMla;
            c.notes.push((
                "kv_format_engine_rewrite",
                "SGLang's FP8 DeepSeek sparse-attention cache on Hopper uses flashmla_kv, whose scaled layout is 656 B per layer-token (512 FP8 + 4 fp32 scales + 64 BF16 RoPE), not 576: kvsim takes fp8-ds-mla".into(),
            ));
        }
        _ => {}
    }
    c
}

/// SGLang 0.5.3–0.5.4 on DeepSeek sparse attention (`server_args.py::ServerArgs.
/// _handle_model_specific_adjustments`, `model_executor/model_runner.py::ModelRunner.
/// profile_max_num_token` @ v0.5.3, v0.5.4): FP8 forced from compute capability 10 (Blackwell);
/// tokens = budget ÷ cell size, the cell being `(kv_lora_rank + qk_rope_head_dim) · layers · element
/// size` — 576 B per FP8 layer-token whatever layout the kernels allocate (FlashMLA's 656 B
/// `fp8_ds_mla`) — plus, from v0.5.3.post1 (PR 11309), the indexer's 132 B; v0.5.3 left the
/// indexer out.
fn sglang_v053(version: u32, r: &KvRequest, mut c: KvChoice, blackwell: bool) -> KvChoice {
    if r.requested.is_none() && blackwell {
        c.kv = KvFormat::Fp8;
        c.notes.push((
            "kv_format_engine_default",
            "SGLang 0.5.3–0.5.4 forces an FP8 cache for DeepSeek sparse attention on Blackwell and counts it at 576 B per layer-token (its FlashMLA layout takes 656 B): kvsim takes FP8 (--kv to change)".into(),
        ));
    }
    if version == 503 && c.indexer == IndexerCache::Fp8 {
        c.indexer = IndexerCache::Unbudgeted;
        c.notes.push((
            "indexer_unbudgeted",
            "SGLang 0.5.3 allocates the sparse-attention indexer's keys (132 B per layer-token) outside the cell size it divides its budget by: kvsim counts them as 0 B toward capacity, as that release did (fixed in 0.5.3.post1 by PR 11309)".into(),
        ));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(requested: Option<KvFormat>, v4: bool, cap: Option<(u32, u32)>) -> KvRequest {
        KvRequest {
            requested,
            model_default: KvFormat::Bf16,
            indexer: IndexerCache::Fp8,
            compressed: v4,
            dsa: !v4,
            setup: Setup {
                cuda: cap.is_some(),
                cuda_capability: cap,
                ..Setup::default()
            },
        }
    }

    #[test]
    fn vllm_serves_v4_in_fp8_ds_mla() {
        let c = vllm(3300, &req(None, true, Some((9, 0))));
        assert_eq!(c.kv, KvFormat::Fp8DsMla);
        assert_eq!(c.notes[0].0, "kv_format_engine_default");
        assert_eq!(
            vllm(2002, &req(Some(KvFormat::Fp8), true, None)).kv,
            KvFormat::Fp8DsMla
        );
        let bf16 = vllm(3300, &req(Some(KvFormat::Bf16), true, None));
        assert_eq!(bf16.kv, KvFormat::Bf16);
        assert_eq!(bf16.notes[0].0, "kv_format_refused");
        // V3.2 under vLLM: the request stands.
        assert_eq!(vllm(3300, &req(None, false, None)).kv, KvFormat::Bf16);
    }

    #[test]
    fn vllm_fp4_indexer_by_release() {
        let mut r = req(None, true, None);
        r.indexer = IndexerCache::Mxfp4;
        assert_eq!(vllm(3300, &r).indexer, IndexerCache::Mxfp4);
        assert_eq!(vllm(2002, &r).indexer, IndexerCache::Fp8);
        r.compressed = false;
        r.dsa = true;
        assert_eq!(vllm(3300, &r).indexer, IndexerCache::Fp8);
    }

    #[test]
    fn sglang_dsa_format_by_gpu() {
        assert_eq!(
            sglang(523, &req(None, false, Some((10, 0)))).kv,
            KvFormat::Fp8
        );
        assert_eq!(
            sglang(523, &req(None, false, Some((9, 0)))).kv,
            KvFormat::Bf16
        );
        assert_eq!(
            sglang(523, &req(Some(KvFormat::Fp8), false, Some((9, 0)))).kv,
            KvFormat::Fp8DsMla
        );
        assert_eq!(
            sglang(523, &req(Some(KvFormat::Fp8), false, Some((10, 0)))).kv,
            KvFormat::Fp8
        );
        // ROCm: raw FP8 (triton kernels), BF16 by default.
        let mut rocm = req(Some(KvFormat::Fp8), false, None);
        rocm.setup.rocm = true;
        assert_eq!(sglang(523, &rocm).kv, KvFormat::Fp8);
        rocm.requested = None;
        assert_eq!(sglang(523, &rocm).kv, KvFormat::Bf16);
        // Table-era releases had no DeepSeek sparse attention.
        assert_eq!(
            sglang(407, &req(None, false, Some((10, 0)))).kv,
            KvFormat::Bf16
        );
    }

    // SGLang 0.5.3 / 0.5.4 (model_runner.py::profile_max_num_token): FP8 forced on Blackwell and
    // counted at 576 B, no 656 B rewrite on Hopper; 0.5.3's cell size leaves the indexer out.
    #[test]
    fn sglang_v053_cell_size() {
        let b200 = sglang(503, &req(None, false, Some((10, 0))));
        assert_eq!(b200.kv, KvFormat::Fp8);
        assert_eq!(b200.indexer, IndexerCache::Unbudgeted);
        assert_eq!(IndexerCache::Unbudgeted.key_bytes(128), 0);
        let after = sglang(504, &req(None, false, Some((10, 0))));
        assert_eq!(
            (after.kv, after.indexer),
            (KvFormat::Fp8, IndexerCache::Fp8)
        );
        let hopper = sglang(504, &req(Some(KvFormat::Fp8), false, Some((9, 0))));
        assert_eq!(hopper.kv, KvFormat::Fp8);
        assert_eq!(
            sglang(504, &req(None, false, Some((9, 0)))).kv,
            KvFormat::Bf16
        );
        // An MXFP4 indexer request still falls back to FP8 first, then goes unbudgeted in 0.5.3.
        let mut r = req(None, false, Some((10, 0)));
        r.indexer = IndexerCache::Mxfp4;
        assert_eq!(sglang(503, &r).indexer, IndexerCache::Unbudgeted);
    }
}
