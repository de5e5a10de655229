//! Layers without a token mixer (Nemotron-H's MLP-only and MoE-only layers): no weights, no KV.
//! vLLM builds no attention module for them, so they get no KV cache spec; kvsim leaves them out
//! of the KV specs ([`AttentionFamily::keeps_kv`] is false).

use super::AttentionFamily;
use crate::error::Result;
use crate::kv::KvSpec;
use crate::model::Tensor;
use crate::precision::KvFormat;
use serde::{Deserialize, Serialize};

/// No attention in this layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absent {}

impl AttentionFamily for Absent {
    fn family(&self) -> &'static str {
        "none"
    }

    fn describe(&self) -> String {
        "no attention".to_string()
    }

    fn window(&self) -> Option<u64> {
        None
    }

    fn tensors(&self, _hidden: u64, _out: &mut Vec<Tensor>) {}

    fn kv_spec(&self, _kv: KvFormat, _state: KvFormat, _tp: u64) -> Result<KvSpec> {
        Ok(KvSpec::State { bytes: 0 })
    }

    fn keeps_kv(&self) -> bool {
        false
    }

    fn context_flops(&self, _c: u64, _prefill: bool) -> f64 {
        0.0
    }

    fn tp_constraint(&self, _tp: u64) -> Option<String> {
        None
    }

    fn projection_width(&self) -> u64 {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attention;

    #[test]
    fn holds_nothing() {
        let a = Attention::Absent(Absent {});
        let mut t = Vec::new();
        a.tensors(4096, &mut t);
        assert!(t.is_empty());
        assert!(!a.keeps_kv());
        assert_eq!(
            a.kv_read_bytes(KvFormat::Bf16, KvFormat::Bf16, 1, 1000)
                .unwrap(),
            0.0
        );
    }
}
