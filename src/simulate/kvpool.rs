//! One replica's KV pool, allocated on demand as requests grow, with vLLM's prefix cache.
//!
//! Pages: when every layer keeps every token with one record size (kvsim's `uniform`
//! accounting), the pool is `evaluate`'s block count and a request of n tokens holds ⌈n/block⌉
//! pages — exactly as vLLM's `KVCacheManager.allocate_slots` (vllm/v1/core/kv_cache_manager.py,
//! v0.10.0). Otherwise (windows, linear-attention states, DeepSeek-V4 compression, hybrid
//! groups) a request holds the page-rounded bytes its layers keep at n tokens
//! ([`crate::kv::KvSpec::session_bytes`]), against a byte pool sized so that `evaluate`'s sessions of its
//! context fit exactly.
//!
//! Prefix cache (uniform pools only), after vLLM's `BlockPool` (vllm/v1/core/block_pool.py,
//! v0.10.0): full pages are hashed and stay cached after their request ends; a new request reuses
//! the longest run of cached pages from its start (never its last prompt token, which must be
//! computed, `KVCacheManager.get_computed_blocks`); free cached pages are evicted least recently
//! freed first, a request's pages being freed tail first.

use crate::error::Result;
use crate::kv::LayerKv;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Page keys are already mixed 64-bit hashes: the map uses them as they are.
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Keyed<V> = HashMap<u64, V, BuildHasherDefault<KeyHasher>>;

/// How a request's holding is counted.
#[derive(Debug, Clone)]
pub enum Units {
    /// Pages of `block` tokens.
    Pages { block: u64 },
    /// Bytes of the per-layer specs with pages of `block` tokens.
    Bytes { specs: Vec<LayerKv>, block: u64 },
}

impl Units {
    /// Units a request of `tokens` tokens holds.
    pub fn need(&self, tokens: u64) -> u64 {
        match self {
            Units::Pages { block } => tokens.div_ceil(*block),
            Units::Bytes { specs, block } => specs
                .iter()
                .map(|s| {
                    s.spec
                        .session_bytes(tokens, *block)
                        .unwrap_or(u64::MAX)
                        .saturating_mul(s.layers)
                })
                .fold(0u64, u64::saturating_add),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Cached {
    refs: u32,
    stamp: u64,
}

/// What a request holds in the pool.
#[derive(Debug, Clone, Default)]
pub struct Holding {
    /// Units held privately (not in the prefix cache).
    pub private: u64,
    /// Cached pages it references, in page order.
    pub shared: Vec<u64>,
}

impl Holding {
    /// Units held in all.
    pub fn units(&self) -> u64 {
        self.private + self.shared.len() as u64
    }
}

/// The pool.
#[derive(Debug, Clone)]
pub struct KvPool {
    pub units: Units,
    pub capacity: u64,
    /// Units not held by any request and not caching a page.
    free: u64,
    caching: bool,
    cache: Keyed<Cached>,
    /// Cached pages as they were freed, (stamp, hash): the eviction order. Entries whose page
    /// was reused or evicted since (stamp no longer matches) are skipped, and swept out when
    /// they outnumber the live ones.
    lru: VecDeque<(u64, u64)>,
    /// Cached pages nobody references (evictable).
    evictable: u64,
    clock: u64,
    pub peak_used: u64,
    pub evictions: u64,
    /// Hashes of evicted pages, collected for an offload tier (None: not collected).
    pub spill: Option<Vec<u64>>,
}

impl KvPool {
    /// A pool of `capacity` units; prefix caching only for page pools.
    pub fn new(units: Units, capacity: u64, caching: bool) -> KvPool {
        let caching = caching && matches!(units, Units::Pages { .. });
        KvPool {
            units,
            capacity,
            free: capacity,
            caching,
            cache: Keyed::default(),
            lru: VecDeque::new(),
            evictable: 0,
            clock: 0,
            peak_used: 0,
            evictions: 0,
            spill: None,
        }
    }

    /// Whether prefix caching is on.
    pub fn caching(&self) -> bool {
        self.caching
    }

    /// Units that can be handed out now (free, or caching a page nobody uses).
    pub fn available(&self) -> u64 {
        self.free + self.evictable
    }

    /// Units held by running requests.
    pub fn used(&self) -> u64 {
        self.capacity - self.available()
    }

    fn take(&mut self, n: u64) -> bool {
        if self.available() < n {
            return false;
        }
        let from_free = n.min(self.free);
        self.free -= from_free;
        let mut need = n - from_free;
        // Evict the least recently freed cached pages.
        while need > 0 {
            let Some((stamp, h)) = self.lru.pop_front() else {
                break;
            };
            if self
                .cache
                .get(&h)
                .is_some_and(|c| c.refs == 0 && c.stamp == stamp)
            {
                self.cache.remove(&h);
                self.evictable -= 1;
                self.evictions += 1;
                if let Some(v) = &mut self.spill {
                    v.push(h);
                }
                need -= 1;
            }
        }
        self.peak_used = self.peak_used.max(self.used());
        true
    }

    /// Cached pages from the start of a request (`hash(i)` for page i), at most `max_pages`.
    pub fn hits(&self, max_pages: u64, hash: impl Fn(u64) -> u64) -> u64 {
        if !self.caching {
            return 0;
        }
        (0..max_pages)
            .take_while(|&i| self.cache.contains_key(&hash(i)))
            .count() as u64
    }

    /// Takes the first `n` cached pages for a request and grows it to `tokens` tokens: false
    /// (and nothing changed) if the pool lacks room.
    pub fn admit(
        &mut self,
        h: &mut Holding,
        n: u64,
        tokens: u64,
        hash: impl Fn(u64) -> u64,
    ) -> bool {
        let hashes: Vec<u64> = (0..n).map(&hash).collect();
        // Pages that leave the evictable list when referenced again.
        let revived = hashes
            .iter()
            .filter(|x| self.cache.get(x).is_some_and(|c| c.refs == 0))
            .count() as u64;
        let extra = self.units.need(tokens).saturating_sub(n);
        if self.available() < extra + revived {
            return false;
        }
        for x in &hashes {
            if let Some(c) = self.cache.get_mut(x) {
                if c.refs == 0 {
                    self.evictable -= 1;
                }
                c.refs += 1;
            }
        }
        h.shared = hashes;
        self.take(extra);
        h.private = extra;
        true
    }

    /// Grows a holding to `tokens` tokens: false (nothing changed) if the pool lacks room.
    pub fn grow(&mut self, h: &mut Holding, tokens: u64) -> bool {
        let extra = self.units.need(tokens).saturating_sub(h.units());
        if extra == 0 {
            return true;
        }
        if !self.take(extra) {
            return false;
        }
        h.private += extra;
        true
    }

    /// Registers full pages `from..to` of a request as cached (they now hold known content).
    pub fn register(&mut self, h: &mut Holding, to: u64, hash: impl Fn(u64) -> u64) {
        if !self.caching {
            return;
        }
        for i in h.shared.len() as u64..to {
            if h.private == 0 {
                return;
            }
            let x = hash(i);
            if self.cache.contains_key(&x) {
                // Computed twice at once: vLLM keeps this copy uncached; so does kvsim, and the
                // request's later pages can no longer be registered in order.
                return;
            }
            self.clock += 1;
            self.cache.insert(
                x,
                Cached {
                    refs: 1,
                    stamp: self.clock,
                },
            );
            h.private -= 1;
            h.shared.push(x);
        }
    }

    /// Frees a request's pages: private units return to the free pool, cached pages become
    /// evictable, the tail first.
    pub fn release(&mut self, h: &mut Holding) {
        self.free += h.private;
        h.private = 0;
        for x in h.shared.drain(..).rev() {
            if let Some(c) = self.cache.get_mut(&x) {
                c.refs -= 1;
                if c.refs == 0 {
                    self.clock += 1;
                    c.stamp = self.clock;
                    self.lru.push_back((self.clock, x));
                    self.evictable += 1;
                }
            }
        }
        if self.lru.len() as u64 > 2 * self.evictable + 1024 {
            let cache = &self.cache;
            self.lru
                .retain(|(s, h)| cache.get(h).is_some_and(|c| c.refs == 0 && c.stamp == *s));
        }
    }
}

/// A byte pool's capacity: `evaluate`'s max concurrency × the bytes one session of its context
/// holds, so that its sessions fit exactly.
pub fn byte_capacity(units: &Units, max_concurrency: f64, context: u64) -> Result<u64> {
    let per = units.need(context) as f64;
    Ok((max_concurrency * per).floor().min(u64::MAX as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pages of 16: 33 tokens hold 3 pages; a pool of 10 refuses a request of 161 tokens.
    #[test]
    fn pages_on_demand() {
        let mut p = KvPool::new(Units::Pages { block: 16 }, 10, false);
        let mut h = Holding::default();
        assert!(p.grow(&mut h, 33));
        assert_eq!((h.units(), p.available()), (3, 7));
        let mut g = Holding::default();
        assert!(!p.grow(&mut g, 161));
        assert_eq!(g.units(), 0);
        p.release(&mut h);
        assert_eq!(p.available(), 10);
    }

    // A finished request's full pages serve the next one; freed tail pages go first.
    #[test]
    fn prefix_cache_reuse_and_lru() {
        let mut p = KvPool::new(Units::Pages { block: 16 }, 6, true);
        let hash = |i: u64| 100 + i;
        let mut a = Holding::default();
        assert!(p.admit(&mut a, 0, 64, hash));
        p.register(&mut a, 4, hash);
        assert_eq!((a.private, a.shared.len()), (0, 4));
        p.release(&mut a);
        assert_eq!(p.available(), 6);
        assert_eq!(p.hits(3, hash), 3);
        // Two fresh pages plus three more evict the two tail pages of a (103, then 102).
        let mut b = Holding::default();
        assert!(p.admit(&mut b, 0, 80, |i| 900 + i));
        assert_eq!(p.evictions, 3);
        assert_eq!(p.hits(4, hash), 1);
        p.release(&mut b);
        // The cached first page is revived, not double-counted.
        let mut c = Holding::default();
        assert!(p.admit(&mut c, 1, 32, hash));
        assert_eq!((c.shared.len(), c.private), (1, 1));
        assert_eq!(p.used(), 2);
    }
}
