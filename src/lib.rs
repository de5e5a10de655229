//! kvsim: an attention / KV-cache memory simulator for LLM inference.
//!
//! Load a model (a Hugging Face `config.json` or a catalog id) and a chip, build a [`scenario::Scenario`],
//! and [`evaluate::evaluate`] it: exact parameters, weight bytes with scales, KV bytes per token and
//! per session, the serving engine's KV budget, sessions per chip and per deployment, and roofline
//! speed. Every error is an [`error::Error`] naming the file and field at fault.
//!
//! ```
//! use kvsim::catalog::{load_chip, load_model};
//! use kvsim::evaluate::{evaluate, Report}; use kvsim::scenario::Scenario;
//!
//! let mut s = Scenario::new(load_model("deepseek-v3")?, load_chip("h200")?, 32 * 1024);
//! s.deployment.tp = 8;
//! let r = evaluate(&s)?;
//! assert_eq!(r.params_total, 671_026_404_352);
//! assert_eq!(r.kv_bytes_per_token_per_chip, 61 * 576 * 2); // the MLA latent, replicated over TP
//! assert!(r.sessions_per_deployment > 0);
//!
//! // Reports are serde types: their JSON reads back into the same value.
//! let json = serde_json::to_string(&r).unwrap();
//! let back: Report = serde_json::from_str(&json).unwrap();
//! assert_eq!(back.sessions_per_deployment, r.sessions_per_deployment);
//! # Ok::<(), kvsim::error::Error>(())
//! ```
pub mod calibrate;
pub mod catalog;
pub mod check;
pub mod chip;
pub mod claims;
pub mod cli;
pub mod compute;
pub mod deploy;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod fit;
pub mod fuzzing;
pub mod hub;
pub mod kv;
pub mod model;
pub mod plot;
pub mod precision;
pub mod report;
pub mod scenario;
pub mod simulate;
pub mod sweep;
pub mod text;
pub mod units;
pub mod whatif;
