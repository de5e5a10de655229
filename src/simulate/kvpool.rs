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
use hashbrown::HashTable;
use std::hash::Hasher;

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

/// No slot: the end of the eviction list.
const NIL: u32 = u32::MAX;

/// A cached page: its hash, the requests referencing it, and its place in the eviction list
/// (linked while nobody references it).
#[derive(Debug, Clone, Copy)]
struct Slot {
    hash: u64,
    refs: u32,
    prev: u32,
    next: u32,
}

/// What a request holds in the pool.
#[derive(Debug, Clone, Default)]
pub struct Holding {
    /// Units held privately (not in the prefix cache).
    pub private: u64,
    /// Cached pages it references (slots of the pool's cache), in page order.
    shared: Vec<u32>,
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
    /// Cached pages by hash: their slot (the hash itself lives in the slot, so the table is
    /// four bytes an entry and stays in cache). A request holds slots, so only registering,
    /// looking up a prefix and evicting touch the table.
    index: HashTable<u32>,
    slots: Vec<Slot>,
    /// Slots of evicted pages, for reuse.
    vacant: Vec<u32>,
    /// The eviction list (least recently freed first) of the cached pages nobody references,
    /// as vLLM's `FreeKVCacheBlockQueue` (vllm/v1/core/kv_cache_utils.py, v0.10.0).
    head: u32,
    tail: u32,
    /// Cached pages nobody references (evictable): the list's length.
    evictable: u64,
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
            index: HashTable::new(),
            slots: Vec::new(),
            vacant: Vec::new(),
            head: NIL,
            tail: NIL,
            evictable: 0,
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

    /// The slot caching the page of hash `h`.
    fn find(&self, h: u64) -> Option<u32> {
        self.index
            .find(h, |&s| self.slots[s as usize].hash == h)
            .copied()
    }

    /// Takes slot `s` out of the eviction list.
    fn unlink(&mut self, s: u32) {
        let Slot { prev, next, .. } = self.slots[s as usize];
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
        self.evictable -= 1;
    }

    /// Appends slot `s` to the eviction list (the most recently freed).
    fn push_back(&mut self, s: u32) {
        let tail = self.tail;
        let slot = &mut self.slots[s as usize];
        slot.prev = tail;
        slot.next = NIL;
        match tail {
            NIL => self.head = s,
            t => self.slots[t as usize].next = s,
        }
        self.tail = s;
        self.evictable += 1;
    }

    fn take(&mut self, n: u64) -> bool {
        if self.available() < n {
            return false;
        }
        let from_free = n.min(self.free);
        self.free -= from_free;
        // Evict the least recently freed cached pages.
        for _ in from_free..n {
            let s = self.head;
            self.unlink(s);
            let h = self.slots[s as usize].hash;
            if let Ok(e) = self.index.find_entry(h, |&x| x == s) {
                e.remove();
            }
            self.vacant.push(s);
            self.evictions += 1;
            if let Some(v) = &mut self.spill {
                v.push(h);
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
            .take_while(|&i| self.find(hash(i)).is_some())
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
        let slots: Vec<u32> = (0..n).filter_map(|i| self.find(hash(i))).collect();
        // Pages that leave the evictable list when referenced again.
        let revived = slots
            .iter()
            .filter(|&&s| self.slots[s as usize].refs == 0)
            .count() as u64;
        let extra = self.units.need(tokens).saturating_sub(n);
        if self.available() < extra + revived {
            return false;
        }
        for &s in &slots {
            if self.slots[s as usize].refs == 0 {
                self.unlink(s);
            }
            self.slots[s as usize].refs += 1;
        }
        h.shared = slots;
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
            if self.find(x).is_some() {
                // Computed twice at once: vLLM keeps this copy uncached; so does kvsim, and the
                // request's later pages can no longer be registered in order.
                return;
            }
            let slot = Slot {
                hash: x,
                refs: 1,
                prev: NIL,
                next: NIL,
            };
            let next = match self.vacant.pop() {
                Some(s) => {
                    self.slots[s as usize] = slot;
                    s
                }
                None => {
                    self.slots.push(slot);
                    self.slots.len() as u32 - 1
                }
            };
            let slots = &self.slots;
            self.index
                .insert_unique(x, next, |&s| slots[s as usize].hash);
            h.private -= 1;
            h.shared.push(next);
        }
    }

    /// Frees a request's pages: private units return to the free pool, cached pages become
    /// evictable, the tail first.
    pub fn release(&mut self, h: &mut Holding) {
        self.free += h.private;
        h.private = 0;
        for s in h.shared.drain(..).rev() {
            let slot = &mut self.slots[s as usize];
            slot.refs -= 1;
            if slot.refs == 0 {
                self.push_back(s);
            }
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

    /// The cache as a plain list, for the property below: cached pages (hash, refs) in
    /// eviction order among the unreferenced ones.
    #[derive(Default)]
    struct Naive {
        cached: Vec<(u64, u32)>,
        order: Vec<u64>,
    }

    proptest::proptest! {
        // Random admissions, growth, registration and releases: the pool evicts exactly the
        // pages a plain least-recently-freed list does, and its counts stay consistent.
        #[test]
        fn evicts_as_a_plain_lru_list(ops in proptest::collection::vec((0u64..6, 1u64..200, 0u8..3), 1..120)) {
            let block = 16;
            let mut p = KvPool::new(Units::Pages { block }, 40, true);
            p.spill = Some(Vec::new());
            let mut naive = Naive::default();
            let mut live: Vec<(u64, Holding)> = Vec::new();
            for (group, tokens, op) in ops {
                // Requests of one group share their pages' contents.
                let hash = move |i: u64| crate::simulate::mix(group, i);
                match op {
                    0 if live.len() < 4 => {
                        let max = (tokens - 1) / block;
                        let hits = p.hits(max, hash);
                        let expect = (0..max)
                            .take_while(|&i| naive.cached.iter().any(|c| c.0 == hash(i)))
                            .count() as u64;
                        proptest::prop_assert_eq!(hits, expect);
                        let mut h = Holding::default();
                        if p.admit(&mut h, hits, tokens, hash) {
                            for i in 0..hits {
                                let c = naive.cached.iter_mut().find(|c| c.0 == hash(i)).unwrap();
                                if c.1 == 0 {
                                    naive.order.retain(|&x| x != c.0);
                                }
                                c.1 += 1;
                            }
                            live.push((group, h));
                        }
                    }
                    1 if !live.is_empty() => {
                        let (g, mut h) = live.remove(0);
                        let full = h.units();
                        let hash = move |i: u64| crate::simulate::mix(g, i);
                        let before = h.shared.len() as u64;
                        p.register(&mut h, full, hash);
                        for i in before..h.shared.len() as u64 {
                            naive.cached.push((hash(i), 1));
                        }
                        for i in (0..h.shared.len() as u64).rev() {
                            let c = naive.cached.iter_mut().find(|c| c.0 == hash(i)).unwrap();
                            c.1 -= 1;
                            if c.1 == 0 {
                                naive.order.push(c.0);
                            }
                        }
                        p.release(&mut h);
                    }
                    _ => {
                        if let Some((_, h)) = live.last_mut() {
                            p.grow(h, h.units() * block + tokens);
                        }
                    }
                }
                // Evictions the pool made, in order, are the naive list's front.
                for x in p.spill.as_mut().unwrap().drain(..) {
                    proptest::prop_assert_eq!(naive.order.first().copied(), Some(x));
                    naive.order.remove(0);
                    naive.cached.retain(|c| c.0 != x);
                }
                // Private units plus cached pages in use (a shared page counts once).
                let held: u64 = live.iter().map(|(_, h)| h.private).sum::<u64>()
                    + naive.cached.iter().filter(|c| c.1 > 0).count() as u64;
                proptest::prop_assert_eq!(p.used(), held);
                proptest::prop_assert_eq!(p.evictable, naive.order.len() as u64);
            }
        }
    }
}
