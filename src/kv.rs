//! What each layer keeps per sequence ([`KvSpec`], after vLLM's `vllm/v1/kv_cache_interface.py`):
//! the engines ([`crate::engine`]) turn a byte budget into blocks and sessions from these.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};

/// What one layer keeps per sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KvSpec {
    /// `record` bytes for every token of the context.
    Full { record: u64 },
    /// `record` bytes for the last `window` tokens.
    Window { record: u64, window: u64 },
    /// A fixed state of `bytes` per sequence (linear attention).
    State { bytes: u64 },
    /// DeepSeek-V4: a window of raw `record`s plus one `entry` per `ratio` tokens, plus the
    /// compressor's `state`: fixed bytes per sequence (its partial entries), whatever the context.
    Compressed {
        record: u64,
        window: u64,
        ratio: u64,
        entry: u64,
        #[serde(default)]
        state: u64,
    },
}

/// `layers` layers with the same spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerKv {
    pub spec: KvSpec,
    pub layers: u64,
}

fn mul(a: u64, b: u64) -> Result<u64> {
    a.checked_mul(b)
        .ok_or_else(|| Error::overflow("KV bytes per session"))
}

/// The specs as an engine that caches sliding-window layers in full holds them: each window
/// layer becomes a full layer of the same record, merged with full layers of that record.
/// Returns the window layers so changed. Cold: only vLLM-Ascend before 0.14 takes it.
#[cold]
pub fn windows_as_full(specs: &mut Vec<LayerKv>) -> u64 {
    let mut changed = 0;
    let mut out: Vec<LayerKv> = Vec::with_capacity(specs.len());
    for l in specs.drain(..) {
        let spec = match l.spec {
            KvSpec::Window { record, .. } => {
                changed += l.layers;
                KvSpec::Full { record }
            }
            other => other,
        };
        match out.iter_mut().find(|o| o.spec == spec) {
            Some(o) => o.layers += l.layers,
            None => out.push(LayerKv { spec, ..l }),
        }
    }
    *specs = out;
    changed
}

/// Tokens of a sliding window held in pages of `block`: the window, plus one page because the
/// window does not start on a page boundary, never more than the context.
fn window_pages(ctx: u64, window: u64, block: u64) -> u64 {
    let all = ctx.div_ceil(block);
    if block == 1 {
        return ctx.min(window);
    }
    all.min(window.div_ceil(block) + 1)
}

impl KvSpec {
    /// Bytes of a token in the layer's raw cache (the window part for windowed layers).
    pub fn record(&self) -> u64 {
        match *self {
            KvSpec::Full { record }
            | KvSpec::Window { record, .. }
            | KvSpec::Compressed { record, .. } => record,
            KvSpec::State { .. } => 0,
        }
    }

    /// Bytes one decode step at context `c` reads from a layer that keeps this (a state is read
    /// and written back; a compressor writes one partial entry per step and reads its window
    /// once per `ratio` tokens, left out).
    pub fn read_bytes(&self, c: f64) -> f64 {
        match *self {
            KvSpec::Full { record } => record as f64 * c,
            KvSpec::Window { record, window } => record as f64 * c.min(window as f64),
            KvSpec::State { bytes } => 2.0 * bytes as f64,
            KvSpec::Compressed {
                record,
                window,
                ratio,
                entry,
                ..
            } => record as f64 * c.min(window as f64) + entry as f64 * (c / ratio as f64).ceil(),
        }
    }

    /// Bytes one sequence of `ctx` tokens holds in one layer, in pages of `block` tokens
    /// (block 1 = no paging).
    pub fn session_bytes(&self, ctx: u64, block: u64) -> Result<u64> {
        match *self {
            KvSpec::Full { record } => mul(mul(ctx.div_ceil(block), block)?, record),
            KvSpec::Window { record, window } => {
                mul(mul(window_pages(ctx, window, block), block)?, record)
            }
            KvSpec::State { bytes } => Ok(bytes),
            KvSpec::Compressed {
                record,
                window,
                ratio,
                entry,
                state,
            } => {
                let raw = mul(mul(window_pages(ctx, window, block), block)?, record)?;
                let entries = ctx.div_ceil(ratio.max(1));
                let compressed = mul(mul(entries.div_ceil(block), block)?, entry)?;
                raw.checked_add(compressed)
                    .and_then(|b| b.checked_add(state))
                    .ok_or_else(|| Error::overflow("KV bytes per session"))
            }
        }
    }
}

/// Raw record bytes of one token summed over the layers that keep tokens.
pub fn record_bytes_per_token(specs: &[LayerKv]) -> Result<u64> {
    specs
        .iter()
        .try_fold(0u64, |acc, s| {
            s.spec
                .record()
                .checked_mul(s.layers)
                .and_then(|x| x.checked_add(acc))
        })
        .ok_or_else(|| Error::overflow("KV bytes per token"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // DeepSeek-V4 CSA layer at 1M tokens (BF16, block 1): 128 raw records of 1024 B plus
    // 262,144 entries of 1024 + 132 B plus the compressor state (the same at any context); an
    // HCA layer keeps 8192 entries of 1024 B.
    /// Window layers become full layers of their record, merged with full layers of it; states
    /// and other records stay apart.
    #[test]
    fn windows_as_full_merges_by_record() {
        let l = |spec, layers| LayerKv { spec, layers };
        let mut specs = vec![
            l(
                KvSpec::Window {
                    record: 2048,
                    window: 128,
                },
                12,
            ),
            l(KvSpec::Full { record: 2048 }, 12),
            l(
                KvSpec::Window {
                    record: 1024,
                    window: 4096,
                },
                3,
            ),
            l(KvSpec::State { bytes: 99 }, 2),
        ];
        assert_eq!(windows_as_full(&mut specs), 15);
        assert_eq!(
            specs,
            vec![
                l(KvSpec::Full { record: 2048 }, 24),
                l(KvSpec::Full { record: 1024 }, 3),
                l(KvSpec::State { bytes: 99 }, 2),
            ]
        );
        assert_eq!(windows_as_full(&mut specs), 0);
    }

    #[test]
    fn compressed_session_bytes() {
        let s = KvSpec::Compressed {
            record: 1024,
            window: 128,
            ratio: 4,
            entry: 1156,
            state: 122_880,
        };
        assert_eq!(
            s.session_bytes(1 << 20, 1).unwrap(),
            128 * 1024 + 262_144 * 1156 + 122_880
        );
        let h = KvSpec::Compressed {
            record: 1024,
            window: 128,
            ratio: 128,
            entry: 1024,
            state: 0,
        };
        assert_eq!(
            h.session_bytes(1 << 20, 1).unwrap(),
            128 * 1024 + 8192 * 1024
        );
    }

    // A window of 4096 in pages of 16 holds 257 pages (the window does not start on a page
    // boundary), never more than the context's pages.
    #[test]
    fn window_pages_and_reads() {
        let w = KvSpec::Window {
            record: 100,
            window: 4096,
        };
        assert_eq!(w.session_bytes(1 << 20, 16).unwrap(), 257 * 16 * 100);
        assert_eq!(w.session_bytes(100, 16).unwrap(), 112 * 100);
        assert_eq!(w.session_bytes(1 << 20, 1).unwrap(), 4096 * 100);
        assert_eq!(w.read_bytes(1e6), 4096.0 * 100.0);
    }
}
