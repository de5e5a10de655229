//! One replica: vLLM v1's scheduler step (vllm/v1/core/sched/scheduler.py, `Scheduler.schedule`,
//! v0.10.0) over a [`KvPool`], timed by a [`StepCost`].
//!
//! Each step has a budget of `max_num_batched_tokens`. Running requests come first, in the order
//! they were admitted: each gets the tokens it still needs (its prompt, in chunks when it does
//! not fit — chunked prefill; then one per decode step) up to the budget left, and pages for
//! them. When the pool lacks pages, the request admitted last is preempted — its pages freed,
//! its progress lost, and it goes back to the front of the queue to be recomputed (FCFS policy:
//! `self.running.pop()`, `PreemptionMode.RECOMPUTE`). Only in a step that preempted nothing are
//! waiting requests admitted, first come first served, while fewer than `max_num_seqs` run and
//! budget and pages remain. A request emits a token at the end of the step that computed its
//! last needed token.

use super::cost::{StepCost, Work};
use super::kvpool::{Holding, KvPool};
use super::offload::Offload;
use super::spec::{tokens_per_step, Drafter};
use super::Request;
use std::collections::VecDeque;

/// A request inside a replica.
#[derive(Debug, Clone)]
pub struct Live {
    pub req: Request,
    /// Tokens whose KV is computed (prefix-cache hits included).
    pub computed: u64,
    /// Output tokens emitted.
    pub generated: u64,
    pub first_token: Option<f64>,
    /// First time the request was scheduled.
    pub started: Option<f64>,
    pub hold: Holding,
    /// Tokens scheduled in the step under way.
    sched: u64,
    pub hit_tokens: u64,
    pub preemptions: u32,
    /// Tokens and pool units of a preemption swapped out to the offload tier.
    pub swapped: Option<(u64, u64)>,
    /// Speculative decoding: tokens proposed in the step under way, and the fraction of a token
    /// carried over from earlier steps' expected emissions.
    spec_k: u64,
    spec_credit: f64,
    /// Tokens whose KV arrived with the request (disaggregated decode).
    ready: u64,
}

impl Live {
    fn needed(&self) -> u64 {
        self.req.prompt + self.generated
    }
}

/// A finished request.
#[derive(Debug, Clone)]
pub struct Done {
    pub live: Live,
    pub finish: f64,
}

/// Engine limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_num_seqs: u64,
    pub max_num_batched_tokens: u64,
}

/// One replica's state.
#[derive(Debug)]
pub struct Replica {
    pub pool: KvPool,
    pub waiting: VecDeque<Live>,
    pub running: Vec<Live>,
    pub limits: Limits,
    /// End of the step under way (None: idle).
    pub busy_until: Option<f64>,
    pub preemptions: u64,
    pub steps: u64,
    pub peak_running: u64,
    /// Most requests past their prefill (holding their whole context) at once.
    pub peak_decoding: u64,
    /// Time-weighted running count (for the mean).
    pub running_area: f64,
    /// The KV offload tier, if any.
    pub offload: Option<Offload>,
    /// Speculative decoding: the drafter, tokens proposed per step and acceptance rate.
    pub spec: Option<(Drafter, u64, f64)>,
    /// Verify steps' sequences and the tokens they emitted.
    pub spec_verifies: u64,
    pub spec_emitted: u64,
}

impl Replica {
    pub fn new(pool: KvPool, limits: Limits) -> Replica {
        Replica {
            pool,
            waiting: VecDeque::new(),
            running: Vec::new(),
            limits,
            busy_until: None,
            preemptions: 0,
            steps: 0,
            peak_running: 0,
            peak_decoding: 0,
            running_area: 0.0,
            offload: None,
            spec: None,
            spec_verifies: 0,
            spec_emitted: 0,
        }
    }

    /// Adds an offload tier: evicted prefix pages are written back to it.
    pub fn with_offload(mut self, tier: Offload) -> Replica {
        if self.pool.caching() {
            self.pool.spill = Some(Vec::new());
        }
        self.offload = Some(tier);
        self
    }

    /// Moves the pages the pool evicted to the tier.
    fn spill(&mut self) {
        if let (Some(v), Some(t)) = (&mut self.pool.spill, &mut self.offload) {
            for h in v.drain(..) {
                t.store_page(h);
            }
        }
    }

    /// Requests in the replica (waiting or running).
    pub fn in_system(&self) -> usize {
        self.waiting.len() + self.running.len()
    }

    /// Queues an arrival.
    pub fn enqueue(&mut self, req: Request) {
        self.waiting.push_back(Live {
            req,
            computed: 0,
            generated: 0,
            first_token: None,
            started: None,
            hold: Holding::default(),
            sched: 0,
            hit_tokens: 0,
            preemptions: 0,
            swapped: None,
            spec_k: 0,
            spec_credit: 0.0,
            ready: 0,
        });
    }

    /// Queues a request whose prompt's KV arrived from a prefill replica (disaggregated
    /// serving). As vLLM's P/D proxy does (vllm-project/vllm
    /// benchmarks/disagg_benchmarks/disagg_prefill_proxy_server.py, `process_request`, main at
    /// 03b32f5), the prefill side ran the request with `max_tokens=1` and the decode side gets
    /// the original request and streams every token: it takes the prompt's pages as computed
    /// but its last token, which its first step computes to emit the first token.
    pub fn enqueue_transferred(&mut self, req: Request, started: Option<f64>, hits: u64) {
        let ready = req.prompt.saturating_sub(1);
        self.waiting.push_back(Live {
            req,
            computed: 0,
            generated: 0,
            first_token: None,
            started,
            hold: Holding::default(),
            sched: 0,
            hit_tokens: hits,
            preemptions: 0,
            swapped: None,
            spec_k: 0,
            spec_credit: 0.0,
            ready,
        });
    }

    fn preempt_last(&mut self) {
        if let Some(mut v) = self.running.pop() {
            // Without a prefix cache to keep its pages, a preempted request is swapped out whole
            // when the tier has room (with one, its full pages stay cached and are written back
            // when evicted).
            if !self.pool.caching() && v.computed > 0 {
                let units = self.pool.units.need(v.computed);
                if let Some(t) = &mut self.offload {
                    if t.swap_out(units) {
                        v.swapped = Some((v.computed, units));
                    }
                }
            }
            self.pool.release(&mut v.hold);
            v.computed = 0;
            v.sched = 0;
            v.spec_k = 0;
            v.ready = 0;
            v.preemptions += 1;
            self.preemptions += 1;
            self.waiting.push_front(v);
        }
    }

    /// Schedules a step starting at `now` and returns its end, or None when there is nothing to
    /// run. Requests that can never fit are moved to `dropped`.
    pub fn start_step(
        &mut self,
        now: f64,
        cost: &StepCost,
        dropped: &mut Vec<Live>,
    ) -> Option<f64> {
        let block = match &self.pool.units {
            super::kvpool::Units::Pages { block } | super::kvpool::Units::Bytes { block, .. } => {
                *block
            }
        };
        let mut budget = self.limits.max_num_batched_tokens;
        let mut preempted = false;
        let mut i = 0;
        while i < self.running.len() && budget > 0 {
            let need = self.running[i].needed() - self.running[i].computed;
            // A decoding request with a drafter verifies K proposals beside its own token.
            let decoding = self.running[i].computed >= self.running[i].req.prompt;
            let k = match &self.spec {
                Some((_, k, _)) if decoding && need == 1 => {
                    let left = self.running[i].req.output - self.running[i].generated;
                    (*k).min(left.saturating_sub(1))
                        .min(budget.saturating_sub(1))
                }
                _ => 0,
            };
            let n = (need + k).min(budget);
            self.running[i].spec_k = k;
            loop {
                let r = &mut self.running[i];
                let to = r.computed + n;
                if self.pool.grow(&mut r.hold, to) {
                    r.sched = n;
                    break;
                }
                let last = self.running.len() - 1;
                self.preempt_last();
                preempted = true;
                if last == i {
                    break; // it preempted itself
                }
            }
            if i < self.running.len() {
                budget -= self.running[i].sched;
                i += 1;
            }
        }
        if !preempted {
            while budget > 0 && (self.running.len() as u64) < self.limits.max_num_seqs {
                self.spill();
                let Some(w) = self.waiting.front_mut() else {
                    break;
                };
                // Prefix-cache hits, never the whole prompt: its last token is computed; then
                // pages the offload tier holds past them.
                let swapped = w.swapped;
                let (hits, host, hash) = if let Some((tokens, _)) = swapped {
                    (0, 0, (tokens, w.req.clone()))
                } else if w.ready > 0 {
                    (0, 0, (w.ready, w.req.clone()))
                } else if w.computed == 0 && self.pool.caching() {
                    let req = &w.req;
                    let max = (w.needed() - 1) / block;
                    let h = self.pool.hits(max, |p| req.page_hash(p, block));
                    let host = self
                        .offload
                        .as_ref()
                        .map_or(0, |t| t.run_from(h, max, |p| req.page_hash(p, block)));
                    (h, host, ((h + host) * block, req.clone()))
                } else {
                    (0, 0, (0, w.req.clone()))
                };
                let (computed, hash) = hash;
                let n = (w.needed() - computed).min(budget);
                let ok = self.pool.admit(&mut w.hold, hits, computed + n, |p| {
                    hash.page_hash(p, block)
                });
                if !ok {
                    if self.running.is_empty() {
                        // Not even alone: it can never run.
                        if let Some(w) = self.waiting.pop_front() {
                            if let (Some((_, units)), Some(t)) = (w.swapped, &mut self.offload) {
                                t.discard(units);
                            }
                            dropped.push(w);
                        }
                        continue;
                    }
                    break;
                }
                let Some(mut w) = self.waiting.pop_front() else {
                    break;
                };
                if let Some(t) = &mut self.offload {
                    if let Some((_, units)) = w.swapped.take() {
                        t.swap_in(units);
                    } else if host > 0 {
                        t.reload(hits, host, |p| hash.page_hash(p, block));
                    }
                }
                self.spill();
                w.computed = computed;
                // Hit rate counts first admissions: a recomputed request re-hitting its own pages
                // is a saving of preemption, not prefix reuse (nor is KV sent by a prefill
                // replica).
                if w.preemptions == 0 && w.ready == 0 {
                    w.hit_tokens = computed;
                }
                w.started.get_or_insert(now);
                w.sched = n;
                budget -= n;
                self.running.push(w);
            }
        }
        if self.running.is_empty() {
            return None;
        }
        self.peak_running = self.peak_running.max(self.running.len() as u64);
        let decoding = self
            .running
            .iter()
            .filter(|r| r.computed >= r.req.prompt)
            .count();
        self.peak_decoding = self.peak_decoding.max(decoding as u64);
        self.spill();
        let draft = match &self.spec {
            Some((d, _, _)) => {
                let spec = self.running.iter().filter(|r| r.sched > 0 && r.spec_k > 0);
                let (seqs, ctx, k) = spec.fold((0u64, 0.0, 0u64), |(n, c, k), r| {
                    (n + 1, c + r.computed as f64, k.max(r.spec_k))
                });
                cost.draft_seconds(d, k, seqs, ctx)
            }
            None => 0.0,
        };
        let transfer = self
            .offload
            .as_mut()
            .map_or(0.0, |t| t.take_transfer_seconds());
        let dt = cost.step(self.running.iter().filter(|r| r.sched > 0).map(|r| Work {
            cached: r.computed,
            new: r.sched,
        })) + transfer
            + draft;
        self.steps += 1;
        let end = now + dt.max(1e-9);
        self.running_area += self.running.len() as f64 * (end - now);
        self.busy_until = Some(end);
        Some(end)
    }

    /// Applies the step ending at `t`: tokens computed, tokens emitted, requests finished.
    pub fn end_step(&mut self, t: f64, done: &mut Vec<Done>) {
        self.busy_until = None;
        let block = match &self.pool.units {
            super::kvpool::Units::Pages { block } | super::kvpool::Units::Bytes { block, .. } => {
                *block
            }
        };
        let mut k = 0;
        while k < self.running.len() {
            let r = &mut self.running[k];
            if r.sched > 0 && r.spec_k > 0 {
                // A verify step: the expected accepted run plus the target's own token, the
                // fraction carried to the next step.
                let a = self.spec.as_ref().map_or(0.0, |s| s.2);
                r.spec_credit += tokens_per_step(a, r.spec_k);
                let left = r.req.output - r.generated;
                let e = (r.spec_credit.floor() as u64).clamp(1, left);
                r.spec_credit -= e as f64;
                r.computed += e;
                r.generated += e;
                r.sched = 0;
                r.spec_k = 0;
                self.spec_verifies += 1;
                self.spec_emitted += e;
                if self.pool.caching() {
                    let req = &r.req;
                    let full = r.computed / block;
                    self.pool
                        .register(&mut r.hold, full, |p| req.page_hash(p, block));
                }
                if r.generated >= r.req.output {
                    let mut live = self.running.remove(k);
                    self.pool.release(&mut live.hold);
                    done.push(Done { live, finish: t });
                    continue;
                }
                k += 1;
                continue;
            }
            if r.sched > 0 {
                r.computed += r.sched;
                r.sched = 0;
                if self.pool.caching() {
                    let req = &r.req;
                    let full = r.computed / block;
                    self.pool
                        .register(&mut r.hold, full, |p| req.page_hash(p, block));
                }
                if r.computed == r.needed() {
                    r.generated += 1;
                    r.first_token.get_or_insert(t);
                    if r.generated >= r.req.output {
                        let mut live = self.running.remove(k);
                        self.pool.release(&mut live.hold);
                        done.push(Done { live, finish: t });
                        continue;
                    }
                }
            }
            k += 1;
        }
    }
}
