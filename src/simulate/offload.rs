//! A KV offload tier below a replica's KV pool: host DRAM (or NVMe) reached over the chip's
//! host link, per chip.
//!
//! Two things go there. Prefix-cache pages the pool evicts are written back (a second cache
//! level, least recently stored dropped first), and a later request whose prefix continues in
//! the tier reloads those pages instead of recomputing them. A preempted request of a pool
//! without prefix caching is swapped out whole and swapped back in when readmitted, instead of
//! being recomputed — vLLM v0's `PreemptionMode.SWAP` (vllm/core/scheduler.py,
//! `Scheduler._preempt_by_swap`, v0.6.6), whose `--swap-space` is likewise GiB per GPU.
//!
//! Transfers are synchronous: the bytes a step moves are added to it at the link's rate, reads
//! and writes going opposite ways at once (a full-duplex link), so a reload shows in the TTFT
//! of the request it serves and in the step time of the requests beside it.

use super::kvpool::KeyHasher;
use crate::error::{Error, Result};
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

/// Default host link of a catalog chip, bytes per second in one direction, and what it is.
///
/// PCIe x16 per direction after 128b/130b encoding (PCI-SIG: Gen4 16 GT/s, Gen5 32 GT/s per
/// lane): Gen4 31.5 GB/s, Gen5 63.0 GB/s. NVLink-C2C between Grace and the GPU: 900 GB/s
/// bidirectional, 450 GB/s a direction (NVIDIA GB200 NVL72 and GB300 NVL72 product pages;
/// NVIDIA Grace Hopper Superchip Architecture whitepaper, 2023).
pub fn default_host_link(chip: &str) -> Option<(f64, &'static str)> {
    const GEN4: f64 = 16e9 * 16.0 / 8.0 * 128.0 / 130.0;
    const GEN5: f64 = 2.0 * GEN4;
    Some(match chip {
        // NVIDIA GB200/GB300 NVL72 pages: "NVLink-C2C … 900 GB/s".
        "gb200" | "gb300" => (450e9, "NVLink-C2C (900 GB/s bidirectional)"),
        // H100/H200/H20/H800 and HGX B200: PCIe Gen5 x16 host interface (NVIDIA datasheets).
        "h100-sxm" | "h100-pcie" | "h100-nvl" | "h200" | "h20" | "h800" | "b200" => {
            (GEN5, "PCIe Gen5 x16")
        }
        // AMD MI300X/MI325X/MI355X datasheets: PCIe Gen5 x16 host interface.
        "mi300x" | "mi325x" | "mi355x" => (GEN5, "PCIe Gen5 x16"),
        // RTX 5090: PCIe Gen5 x16; A100 SXM (40 and 80 GB), L40S, RTX 4090: PCIe Gen4 x16 (NVIDIA
        // datasheets).
        "rtx-5090" => (GEN5, "PCIe Gen5 x16"),
        "a100-sxm" | "a100-40gb" | "l40s" | "rtx-3090" | "rtx-4090" => (GEN4, "PCIe Gen4 x16"),
        _ => return None,
    })
}

/// What the tier did over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OffloadStats {
    /// Pages written back from the pool's evictions.
    pub pages_stored: u64,
    /// Pages dropped from the tier to make room.
    pub pages_dropped: u64,
    /// Pages reloaded for a request's prefix.
    pub pages_reloaded: u64,
    /// Requests swapped out on preemption, and swapped back in.
    pub swaps_out: u64,
    pub swaps_in: u64,
    /// Bytes per chip moved to the tier and back.
    pub bytes_out: f64,
    pub bytes_in: f64,
    /// Seconds steps spent on transfers.
    pub transfer_s: f64,
}

/// One replica's tier (figures per chip).
#[derive(Debug, Clone)]
pub struct Offload {
    capacity: f64,
    used: f64,
    /// Bytes of one pool unit on one chip (a page, or 1 for byte pools).
    pub unit_bytes: f64,
    /// Bytes per second in one direction.
    pub link: f64,
    pages: HashMap<u64, u64, BuildHasherDefault<KeyHasher>>,
    lru: VecDeque<(u64, u64)>,
    clock: u64,
    /// Bytes to move in the step being scheduled, each way.
    pending_out: f64,
    pending_in: f64,
    pub stats: OffloadStats,
}

impl Offload {
    /// A tier of `capacity` bytes per chip over a link of `link` bytes/s a direction.
    pub fn new(capacity: f64, link: f64, unit_bytes: f64) -> Result<Offload> {
        for (flag, v) in [("--offload-gib", capacity), ("--offload-link-gbps", link)] {
            if !(v.is_finite() && v > 0.0) {
                return Err(Error::field(
                    "command line",
                    flag,
                    v,
                    "a positive, finite number",
                ));
            }
        }
        Ok(Offload {
            capacity,
            used: 0.0,
            unit_bytes: unit_bytes.max(1.0),
            link,
            pages: HashMap::default(),
            lru: VecDeque::new(),
            clock: 0,
            pending_out: 0.0,
            pending_in: 0.0,
            stats: OffloadStats::default(),
        })
    }

    /// Drops the least recently stored page; false when none is left.
    fn drop_oldest(&mut self) -> bool {
        while let Some((stamp, h)) = self.lru.pop_front() {
            if self.pages.get(&h) == Some(&stamp) {
                self.pages.remove(&h);
                self.used -= self.unit_bytes;
                self.stats.pages_dropped += 1;
                return true;
            }
        }
        false
    }

    /// Makes room for `bytes`: false (nothing dropped) when even an empty page area would not do.
    fn room(&mut self, bytes: f64) -> bool {
        let pages_bytes = self.pages.len() as f64 * self.unit_bytes;
        if self.used - pages_bytes + bytes > self.capacity {
            return false;
        }
        while self.used + bytes > self.capacity {
            if !self.drop_oldest() {
                return false;
            }
        }
        true
    }

    /// Writes back a page the pool evicted.
    pub fn store_page(&mut self, hash: u64) {
        if self.pages.contains_key(&hash) {
            // Still there from an earlier write-back: the copy is current.
            self.touch(hash);
            return;
        }
        if !self.room(self.unit_bytes) {
            return;
        }
        self.clock += 1;
        self.pages.insert(hash, self.clock);
        self.lru.push_back((self.clock, hash));
        self.used += self.unit_bytes;
        self.pending_out += self.unit_bytes;
        self.stats.pages_stored += 1;
        self.stats.bytes_out += self.unit_bytes;
        if self.lru.len() > 2 * self.pages.len() + 1024 {
            let pages = &self.pages;
            self.lru.retain(|(s, h)| pages.get(h) == Some(s));
        }
    }

    fn touch(&mut self, hash: u64) {
        self.clock += 1;
        self.pages.insert(hash, self.clock);
        self.lru.push_back((self.clock, hash));
    }

    /// Pages `from..max` of a prefix found in the tier, in a run from `from`.
    pub fn run_from(&self, from: u64, max: u64, hash: impl Fn(u64) -> u64) -> u64 {
        (from..max)
            .take_while(|&i| self.pages.contains_key(&hash(i)))
            .count() as u64
    }

    /// Reloads pages `from..from + n` (the tier keeps its copy, now most recently used).
    pub fn reload(&mut self, from: u64, n: u64, hash: impl Fn(u64) -> u64) {
        for i in from..from + n {
            self.touch(hash(i));
        }
        let bytes = n as f64 * self.unit_bytes;
        self.pending_in += bytes;
        self.stats.pages_reloaded += n;
        self.stats.bytes_in += bytes;
    }

    /// Swaps out `units` of a preempted request: false when the tier cannot hold them.
    pub fn swap_out(&mut self, units: u64) -> bool {
        let bytes = units as f64 * self.unit_bytes;
        if !self.room(bytes) {
            return false;
        }
        self.used += bytes;
        self.pending_out += bytes;
        self.stats.swaps_out += 1;
        self.stats.bytes_out += bytes;
        true
    }

    /// Swaps a request's `units` back in.
    pub fn swap_in(&mut self, units: u64) {
        let bytes = units as f64 * self.unit_bytes;
        self.used = (self.used - bytes).max(0.0);
        self.pending_in += bytes;
        self.stats.swaps_in += 1;
        self.stats.bytes_in += bytes;
    }

    /// Forgets a swapped request that will not come back (dropped).
    pub fn discard(&mut self, units: u64) {
        self.used = (self.used - units as f64 * self.unit_bytes).max(0.0);
    }

    /// Seconds the step being scheduled spends moving its bytes, and resets the count.
    pub fn take_transfer_seconds(&mut self) -> f64 {
        let t = self.pending_out.max(self.pending_in) / self.link;
        self.pending_out = 0.0;
        self.pending_in = 0.0;
        self.stats.transfer_s += t;
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A tier of 3 pages of 1 MB: a fourth page drops the oldest; reloading moves 1 MB a page;
    // a step's transfer time is the larger direction over the link.
    #[test]
    fn lru_and_transfer_time() {
        let mut t = Offload::new(3e6, 1e9, 1e6).unwrap();
        for h in [10, 11, 12, 13] {
            t.store_page(h);
        }
        assert_eq!((t.stats.pages_stored, t.stats.pages_dropped), (4, 1));
        assert_eq!(t.run_from(0, 4, |i| 10 + i), 0);
        assert_eq!(t.run_from(1, 4, |i| 10 + i), 3);
        assert!((t.take_transfer_seconds() - 4e-3).abs() < 1e-15);
        t.reload(1, 2, |i| 10 + i);
        assert!((t.take_transfer_seconds() - 2e-3).abs() < 1e-15);
        // A swap of 2 pages' worth drops the two least recently used pages (13, then 11).
        assert!(t.swap_out(2));
        assert_eq!(t.run_from(0, 1, |_| 12), 1);
        assert_eq!(t.run_from(0, 1, |_| 13), 0);
        // Nothing can make room for 4 pages beside the swapped 2.
        assert!(!t.swap_out(2));
    }

    #[test]
    fn default_links() {
        let (gen5, _) = default_host_link("h100-sxm").unwrap();
        assert!((gen5 / 1e9 - 63.015).abs() < 1e-3, "{gen5}");
        assert_eq!(default_host_link("gb300").unwrap().0, 450e9);
        assert!(default_host_link("tpu-v5e").is_none());
    }
}
