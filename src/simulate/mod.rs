//! `simulate`: a discrete-event simulation of a vLLM-like engine serving a stream of requests on
//! one replica or a fleet, with KV pages from the budget `evaluate` computes and step times from
//! kvsim's roofline. docs/simulate.md describes the event model, its assumptions and sources.
//!
//! Requests come from a [`Source`]: a generated workload ([`workload`]) or a trace read as a
//! stream ([`trace`]). [`fleet::run`] drives the replicas ([`engine`]) in global time order and
//! gathers the figures ([`stats`]).

pub mod cost;
pub mod dist;
pub mod engine;
pub mod fleet;
pub mod kvpool;
pub mod offload;
pub mod spec;
pub mod stats;
pub mod trace;
pub mod workload;

use crate::error::Result;

pub use fleet::{run, Options};
pub use stats::Summary;

/// One request as the engine sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Unique within a run, in arrival order.
    pub id: u64,
    /// Seconds from the start of the run.
    pub arrival: f64,
    pub prompt: u64,
    pub output: u64,
    /// What the tokens are, for prefix caching: `(content key, end token)` segments in order. A
    /// full page's hash is the key of the first segment reaching its last token, mixed with the
    /// page's index; tokens past the last segment are unique to the request.
    pub segments: Vec<(u64, u64)>,
    /// Conversation or agent session (routing keeps a session on one replica).
    pub session: Option<u64>,
}

/// A stream of requests in arrival order. Closed loops and multi-turn sessions learn of
/// completions through [`Source::finished`] and may then release further requests.
pub trait Source {
    /// Arrival time of the next request, if one is known now.
    fn peek(&mut self) -> Result<Option<f64>>;
    /// The next request (the one `peek` timed).
    fn pop(&mut self) -> Result<Option<Request>>;
    /// A request finished (or was dropped) at `t`.
    fn finished(&mut self, _req: &Request, _t: f64) {}
    /// Warnings about what the source assumed.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// SplitMix64's finaliser: the hash of page keys (not cryptographic; vLLM uses SHA-256 or
/// Python's hash of the token ids, any collision-free stand-in will do for a simulation).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a ^ b
        .wrapping_add(0x9E37_79B9_7F4A_7C15)
        .wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Request {
    /// Hash of full page `i` of `block` tokens.
    pub fn page_hash(&self, i: u64, block: u64) -> u64 {
        let end = (i + 1) * block;
        let key = self
            .segments
            .iter()
            .find(|(_, e)| *e >= end)
            .map_or_else(|| mix(0xDEAD_BEEF, self.id), |(k, _)| *k);
        mix(key, i)
    }
}
