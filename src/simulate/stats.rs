//! What a run measured: counts, means, percentiles from log-spaced histograms (memory bounded
//! whatever the number of requests; 0.5% resolution), and the optional time series.

use serde::Serialize;

/// A histogram of positive values in buckets 1% apart, from 1 µs to ~10^6 s.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    n: u64,
    sum: f64,
    max: f64,
}

const LO: f64 = 1e-6;
const STEP: f64 = 0.00995033085; // ln(1.01)
const BUCKETS: usize = 2800;

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            n: 0,
            sum: 0.0,
            max: 0.0,
        }
    }
}

impl Histogram {
    pub fn add(&mut self, v: f64) {
        let i = if v <= LO {
            0
        } else {
            (((v / LO).ln() / STEP) as usize + 1).min(BUCKETS - 1)
        };
        self.counts[i] += 1;
        self.n += 1;
        self.sum += v;
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    pub fn mean(&self) -> f64 {
        if self.n == 0 {
            0.0
        } else {
            self.sum / self.n as f64
        }
    }

    /// The `q` quantile (0–1): the middle of the bucket holding it.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.n == 0 {
            return 0.0;
        }
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                if i == 0 {
                    return LO;
                }
                let mid = LO * ((i as f64 - 0.5) * STEP).exp();
                return mid.min(self.max);
            }
        }
        self.max
    }

    pub fn percentiles(&self) -> Percentiles {
        Percentiles {
            mean: self.mean(),
            p50: self.quantile(0.5),
            p90: self.quantile(0.9),
            p99: self.quantile(0.99),
            max: self.max,
        }
    }
}

/// Mean and percentiles of one latency, in seconds.
/// Completions counted by time in at most `MAX` buckets (pairs merge and the width doubles as
/// time grows), so a run of any length keeps bounded memory; `rate_between` reads the completion
/// rate over a window to the bucket width.
#[derive(Debug, Clone)]
pub struct CompletionClock {
    width: f64,
    buckets: Vec<u64>,
}

impl Default for CompletionClock {
    fn default() -> Self {
        CompletionClock {
            width: 0.01,
            buckets: Vec::new(),
        }
    }
}

impl CompletionClock {
    const MAX: usize = 4096;

    pub fn add(&mut self, t: f64) {
        if !(t.is_finite() && t >= 0.0) {
            return;
        }
        while t / self.width >= Self::MAX as f64 {
            let merged: Vec<u64> = self.buckets.chunks(2).map(|c| c.iter().sum()).collect();
            self.buckets = merged;
            self.width *= 2.0;
        }
        let i = (t / self.width) as usize;
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, 0);
        }
        self.buckets[i] += 1;
    }

    /// Completions per second over [a, b): whole buckets from the one holding `a` to the one
    /// before the one holding `b`.
    pub fn rate_between(&self, a: f64, b: f64) -> f64 {
        let (i, j) = ((a / self.width) as usize, (b / self.width) as usize);
        if j <= i {
            return 0.0;
        }
        let n: u64 = self.buckets.iter().take(j).skip(i).sum();
        n as f64 / ((j - i) as f64 * self.width)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

/// One sample of the time series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Sample {
    pub t_s: f64,
    /// KV units in use over the fleet's capacity.
    pub kv_used_fraction: f64,
    /// Requests running and waiting, summed over the replicas.
    pub running: u64,
    pub waiting: u64,
}

/// Speculative decoding's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpecSummary {
    pub method: String,
    /// Tokens proposed per step (K) and the acceptance rate given.
    pub tokens: u64,
    pub acceptance: f64,
    /// (1 − a^(K+1)) / (1 − a).
    pub expected_tokens_per_step: f64,
    /// Tokens emitted per verify step in the run (lower near the end of outputs).
    pub tokens_per_verify: f64,
    pub draft_weights_bytes_per_chip: f64,
    pub draft_kv_bytes_per_token_per_chip: f64,
    /// Share of the KV pool left beside the drafter.
    pub kv_pool_share: f64,
}

/// What the KV offload tier did, summed over replicas (bytes per chip).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OffloadSummary {
    /// Prefix pages written back on eviction, dropped from the tier, reloaded on a hit.
    pub pages_stored: u64,
    pub pages_dropped: u64,
    pub pages_reloaded: u64,
    /// Preempted requests swapped out, and back in.
    pub swaps_out: u64,
    pub swaps_in: u64,
    /// Bytes per chip moved to the tier and back.
    pub bytes_out: f64,
    pub bytes_in: f64,
    /// Seconds of steps spent on transfers (summed over replicas).
    pub transfer_s: f64,
}

impl From<super::offload::OffloadStats> for OffloadSummary {
    fn from(x: super::offload::OffloadStats) -> Self {
        OffloadSummary {
            pages_stored: x.pages_stored,
            pages_dropped: x.pages_dropped,
            pages_reloaded: x.pages_reloaded,
            swaps_out: x.swaps_out,
            swaps_in: x.swaps_in,
            bytes_out: x.bytes_out,
            bytes_in: x.bytes_in,
            transfer_s: x.transfer_s,
        }
    }
}

/// Disaggregated serving's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DisaggSummary {
    pub prefill_replicas: u64,
    pub decode_replicas: u64,
    /// GB/s a direction per chip.
    pub link_gbps: f64,
    /// Requests whose KV moved (those with more than one output token).
    pub transfers: u64,
    /// Bytes moved over all chips: prompt tokens × KV bytes a token (per chip × chips).
    pub kv_transfer_bytes: f64,
    pub mean_transfer_bytes_per_request: f64,
    /// Seconds one transfer takes, on average (each chip sends its share at once).
    pub mean_transfer_s: f64,
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub model: String,
    pub chip: String,
    pub workload: String,
    pub seed: u64,
    pub replicas: u64,
    pub chips: f64,
    pub requests: u64,
    pub completed: u64,
    pub dropped: u64,
    /// Seconds from the start to the last event.
    pub duration_s: f64,
    /// Time-averaged requests in the system (queued or running), from the event stream.
    pub mean_in_flight: f64,
    pub completion_rate_per_s: f64,
    /// Completions per second over the second half of the arrival period: without the warm-up
    /// nor the drain after the last arrival, so a replica that keeps up shows the offered rate
    /// however few requests the run has.
    pub steady_completion_rate_per_s: f64,
    /// Arrivals per second over the same window (what a replica that keeps up completes).
    pub steady_arrival_rate_per_s: f64,
    pub mean_latency_s: f64,
    /// Little's law check: mean_in_flight / (completion_rate × mean_latency).
    pub littles_law_ratio: f64,
    /// Mean seconds from arrival to first scheduled.
    pub mean_queue_s: f64,
    pub ttft_s: Percentiles,
    pub tpot_s: Percentiles,
    pub e2e_s: Percentiles,
    pub input_tokens_per_s: f64,
    pub output_tokens_per_s: f64,
    pub output_tokens_per_s_per_chip: f64,
    pub ttft_slo_s: Option<f64>,
    pub tpot_slo_s: Option<f64>,
    /// Completed requests per second meeting both SLOs.
    pub goodput_per_s: f64,
    /// Share of completed requests meeting both SLOs.
    pub slo_attainment: f64,
    pub preemptions: u64,
    /// Prompt tokens served from the prefix cache over all prompt tokens admitted.
    pub prefix_hit_rate: f64,
    pub prefix_evictions: u64,
    /// Most KV in use at once, as a share of the pool (the largest over replicas).
    pub peak_kv_fraction: f64,
    /// Most KV bytes in use at once on one chip (page pools: pages × page bytes).
    pub peak_kv_bytes_per_chip: f64,
    pub kv_capacity_bytes_per_chip: f64,
    /// Most requests running at once on one replica, and the time-averaged running count.
    pub peak_running: u64,
    /// Most requests past their prefill at once on one replica (each holding its whole context).
    pub peak_decoding: u64,
    pub mean_running: f64,
    pub steps: u64,
    pub sessions_per_replica_eval: u64,
    /// What the KV offload tier did (with `--offload-gib`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload: Option<OffloadSummary>,
    /// Disaggregated prefill/decode (with `--disagg`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disagg: Option<DisaggSummary>,
    /// Speculative decoding (with `--spec`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<SpecSummary>,
    pub warnings: Vec<String>,
    /// Seconds between the samples of `series` (the interval asked for, doubled each time the
    /// series was downsampled to stay within its points).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_interval_s: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // Percentiles of 1..=1000 ms land within 1% of the exact order statistics.
    #[test]
    fn quantiles_within_a_percent() {
        let mut h = Histogram::default();
        for i in 1..=1000 {
            h.add(i as f64 * 1e-3);
        }
        for (q, exact) in [(0.5, 0.5), (0.9, 0.9), (0.99, 0.99)] {
            let v = h.quantile(q);
            assert!((v / exact - 1.0).abs() < 0.01, "{q}: {v}");
        }
        assert!((h.mean() - 0.5005).abs() < 1e-12);
        assert_eq!(h.quantile(1.0), 1.0);
    }
}
