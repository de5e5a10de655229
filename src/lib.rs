//! kvsim: an attention / KV-cache memory simulator for LLM inference.
pub mod catalog;
pub mod chip;
pub mod claims;
pub mod cli;
pub mod compute;
pub mod deploy;
pub mod error;
pub mod kv;
pub mod memory;
pub mod model;
pub mod overhead;
pub mod plot;
pub mod precision;
pub mod report;
pub mod sweep;
pub mod units;
