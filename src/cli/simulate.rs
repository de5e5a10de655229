//! `kvsim simulate`: a workload or trace served by the scenario's deployment, event by event.

use crate::cli::knobs::EvalKnobs;
use crate::error::{Error, Result};
use crate::report::{Document, Format};
use crate::simulate::dist::Dist;
use crate::simulate::trace::Trace;
use crate::simulate::workload::{self, Arrival, Generator};
use crate::simulate::{self, Options, Source, Summary};
use clap::Args;

pub const EXAMPLES: &str = "Examples:
  kvsim simulate --model llama-3.1-8b --chip h100-sxm --context 32k --workload chat --rate 20 --requests 5000
  kvsim simulate --model llama-3.1-70b --chip h200 --tp 4 --workload agentic --rate 2 --requests 2000 \\
      --ttft-slo 2 --tpot-slo 0.05 --format json
  kvsim simulate --model qwen3-32b --chip ascend-950pr --tp 2 --workload my-workload.toml --seed 7
  kvsim simulate --model llama-3.1-8b --chip h100-sxm --trace mooncake_trace.jsonl --requests 10000
  kvsim simulate --model llama-3.1-8b --chip h100-sxm --workload chat --users 64 --think-s 1 --requests 5000

--workload is a built-in profile (chat, rag, code, agentic) or a TOML/JSON file (docs/simulate.md);
--trace reads kvsim JSONL/CSV, Mooncake JSONL or Azure LLM inference CSV traces as a stream.
--context is the engine's max_model_len: requests longer than it are dropped, as vLLM rejects them.";

/// Arguments of `kvsim simulate`.
#[derive(Debug, Clone, Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub knobs: EvalKnobs,
    #[command(flatten)]
    pub output: crate::cli::output::OutputArg,
    /// A built-in workload profile (chat, rag, code, agentic) or a workload file (TOML or JSON).
    #[arg(long, default_value = "chat", conflicts_with = "trace")]
    pub workload: String,
    /// A request trace (kvsim JSONL/CSV, Mooncake JSONL, Azure CSV), read as a stream.
    #[arg(long)]
    pub trace: Option<String>,
    /// Arrival rate in requests (sessions, for multi-turn workloads) per second; replaces the
    /// workload's rate.
    #[arg(long)]
    pub rate: Option<f64>,
    /// A closed loop of this many users instead of open arrivals.
    #[arg(long, conflicts_with = "rate")]
    pub users: Option<u64>,
    /// Seconds a closed-loop user waits after a response before the next request.
    #[arg(long, default_value_t = 0.0)]
    pub think_s: f64,
    /// Requests to simulate (for a trace: the first N rows).
    #[arg(long, default_value_t = 1000)]
    pub requests: u64,
    /// Seed of the workload's random draws: a run is a function of it.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Copies of the deployment behind the router.
    #[arg(long, default_value_t = 1)]
    pub replicas: u64,
    /// Turn vLLM's automatic prefix caching off.
    #[arg(long)]
    pub no_prefix_caching: bool,
    /// Time-to-first-token objective in seconds (goodput counts requests meeting every objective).
    #[arg(long)]
    pub ttft_slo: Option<f64>,
    /// Time-per-output-token objective in seconds.
    #[arg(long)]
    pub tpot_slo: Option<f64>,
    /// Seconds between samples of KV use and queue length (JSON `series`, for plots).
    #[arg(long)]
    pub series_interval: Option<f64>,
    /// Most samples in `series`: past it every other one is dropped and the interval doubles
    /// (default 100,000; 2,000 when only --plot asks for a series).
    #[arg(long)]
    pub series_points: Option<usize>,
    /// Draws KV use and requests running and waiting over time to FILE (.png or .svg).
    #[arg(long, value_name = "FILE")]
    pub plot: Option<String>,
    /// Fixed milliseconds added to every engine step (scheduler, kernel launches).
    #[arg(long, default_value_t = 0.0)]
    pub step_overhead_ms: f64,
    /// KV offload tier per chip, GiB of host DRAM (or NVMe): evicted prefix-cache pages are
    /// written back and reloaded on a hit; without prefix caching, preempted requests are
    /// swapped out instead of recomputed.
    #[arg(long)]
    pub offload_gib: Option<f64>,
    /// The offload tier's link, GB/s in one direction per chip (default: the chip's host link,
    /// PCIe Gen4/Gen5 x16 or NVLink-C2C on GB200/GB300).
    #[arg(long, requires = "offload_gib")]
    pub offload_link_gbps: Option<f64>,
    /// Speculative decoding: mtp (the model's next-n layers), eagle (a one-layer EAGLE head) or
    /// draft:MODEL (a separate draft model from the catalog).
    #[arg(long)]
    pub spec: Option<String>,
    /// Tokens the drafter proposes per step (K; default 1 for mtp, 3 otherwise).
    #[arg(long, requires = "spec")]
    pub spec_tokens: Option<u64>,
    /// Probability each proposed token is accepted (measured for the model, drafter and data).
    #[arg(long, requires = "spec")]
    pub acceptance: Option<f64>,
    /// Disaggregated prefill/decode: x prefill and y decode copies of the deployment (e.g. 1P2D);
    /// replaces --replicas.
    #[arg(long, conflicts_with = "replicas")]
    pub disagg: Option<String>,
    /// GB/s a direction per chip of the link KV crosses from prefill to decode (default 50: one
    /// 400 Gb/s NIC per chip).
    #[arg(long, requires = "disagg")]
    pub disagg_link_gbps: Option<f64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `xPyD` (case-insensitive): x prefill and y decode copies.
pub fn parse_disagg(v: &str) -> Result<(u64, u64)> {
    let bad = || {
        Error::field(
            "command line",
            "--disagg",
            v,
            "xPyD with whole numbers of prefill and decode copies, e.g. 1P2D",
        )
    };
    let up = v.trim().to_ascii_uppercase();
    let (x, rest) = up.split_once('P').ok_or_else(bad)?;
    let y = rest.strip_suffix('D').ok_or_else(bad)?;
    let x: u64 = x.parse().map_err(|_| bad())?;
    let y: u64 = y.parse().map_err(|_| bad())?;
    if x == 0 || y == 0 {
        return Err(bad());
    }
    Ok((x, y))
}

fn positive(flag: &str, v: Option<f64>) -> Result<Option<f64>> {
    match v {
        Some(x) if !(x.is_finite() && x > 0.0) => Err(Error::field(
            "command line",
            flag,
            x,
            "a positive, finite number",
        )),
        v => Ok(v),
    }
}

/// The run `a` describes.
pub fn summary(a: &SimulateArgs) -> Result<Summary> {
    let spec = a.knobs.spec()?;
    let s = spec.load()?;
    let rate = positive("--rate", a.rate)?;
    let ttft_slo = positive("--ttft-slo", a.ttft_slo)?;
    let tpot_slo = positive("--tpot-slo", a.tpot_slo)?;
    let series_interval = positive("--series-interval", a.series_interval)?;
    let offload_gib = positive("--offload-gib", a.offload_gib)?;
    let offload_link = positive("--offload-link-gbps", a.offload_link_gbps)?;
    let disagg = a.disagg.as_deref().map(parse_disagg).transpose()?;
    let disagg_link = positive("--disagg-link-gbps", a.disagg_link_gbps)?;
    if !(a.think_s.is_finite() && a.think_s >= 0.0) {
        return Err(Error::field(
            "command line",
            "--think-s",
            a.think_s,
            "seconds ≥ 0",
        ));
    }
    if !(a.step_overhead_ms.is_finite() && a.step_overhead_ms >= 0.0) {
        return Err(Error::field(
            "command line",
            "--step-overhead-ms",
            a.step_overhead_ms,
            "milliseconds ≥ 0",
        ));
    }
    let spec = match &a.spec {
        None => None,
        Some(m) => {
            let method = crate::simulate::spec::Method::parse(m)?;
            let acceptance = a.acceptance.ok_or_else(|| {
                Error::field(
                    "command line",
                    "--acceptance",
                    "nothing",
                    "the drafter's acceptance rate (0–1) with --spec: it decides the speed-up",
                )
            })?;
            let tokens = a
                .spec_tokens
                .unwrap_or(if method == crate::simulate::spec::Method::Mtp {
                    1
                } else {
                    3
                });
            Some(crate::simulate::spec::Spec {
                method,
                tokens,
                acceptance,
            })
        }
    };
    let (mut source, label): (Box<dyn Source>, String) = match &a.trace {
        Some(path) => {
            if rate.is_some() || a.users.is_some() {
                return Err(Error::field(
                    "command line",
                    if rate.is_some() { "--rate" } else { "--users" },
                    "given with --trace",
                    "no arrival process: a trace carries its own arrival times",
                ));
            }
            (
                Box::new(Trace::open(path, a.requests, s.context)?),
                format!("trace {path}"),
            )
        }
        None => {
            let mut w = workload::load(&a.workload)?;
            if let Some(r) = rate {
                w.arrival = match w.arrival {
                    Arrival::Bursty { burstiness, .. } => Arrival::Bursty {
                        rate: r,
                        burstiness,
                    },
                    Arrival::Closed { .. } => {
                        return Err(Error::field(
                            "command line",
                            "--rate",
                            r,
                            "no rate: this workload is a closed loop of users (give --users)",
                        ))
                    }
                    Arrival::Poisson { .. } => Arrival::Poisson { rate: r },
                };
            } else if a.users.is_none() && workload::profile(&a.workload).is_some() {
                return Err(Error::field(
                    "command line",
                    "--rate",
                    "nothing",
                    "an arrival rate (or --users) for a built-in profile",
                ));
            }
            if let Some(u) = a.users {
                w.arrival = Arrival::Closed {
                    users: u,
                    think_s: Dist::Fixed { value: a.think_s },
                };
            }
            let label = match (&w.arrival, w.name.is_empty()) {
                (_, true) => a.workload.clone(),
                (Arrival::Closed { users, .. }, _) => format!("{} ({users} users)", w.name),
                (Arrival::Poisson { rate }, _) => format!("{} (Poisson {rate}/s)", w.name),
                (Arrival::Bursty { rate, burstiness }, _) => {
                    format!("{} (bursty {rate}/s, burstiness {burstiness})", w.name)
                }
            };
            (
                Box::new(Generator::new(
                    w,
                    &a.workload,
                    a.seed,
                    a.requests,
                    s.context,
                )?),
                label,
            )
        }
    };
    simulate::run(
        &s,
        source.as_mut(),
        &Options {
            replicas: a.replicas,
            prefix_caching: !a.no_prefix_caching,
            ttft_slo,
            tpot_slo,
            // A plot without an interval starts fine and lets downsampling widen it.
            series_interval: series_interval.or(a.plot.as_ref().map(|_| 0.01)),
            series_points: a.series_points.unwrap_or(match (&a.plot, series_interval) {
                (Some(_), None) => 2_000,
                _ => crate::simulate::fleet::MAX_SAMPLES,
            }),
            step_overhead_s: a.step_overhead_ms / 1e3,
            offload_bytes: offload_gib.map(|g| g * crate::units::GIB),
            offload_link_bps: offload_link.map(|g| g * 1e9),
            spec,
            disagg,
            disagg_link_bps: disagg_link.map(|g| g * 1e9),
            workload: label,
            seed: a.seed,
        },
    )
}

fn ms(x: f64) -> String {
    if x >= 10.0 {
        format!("{x:.1} s")
    } else {
        format!("{:.1} ms", x * 1e3)
    }
}

/// The table form.
pub fn table(r: &Summary) -> String {
    let p = |name: &str, x: &simulate::stats::Percentiles| {
        format!(
            "  {name:<5} mean {:>9}  p50 {:>9}  p90 {:>9}  p99 {:>9}\n",
            ms(x.mean),
            ms(x.p50),
            ms(x.p90),
            ms(x.p99)
        )
    };
    let mut out = format!(
        "{} on {} chips of {} ({} replicas), {}, seed {}\n",
        r.model, r.chips, r.chip, r.replicas, r.workload, r.seed
    );
    out += &format!(
        "requests: {} completed, {} dropped of {} in {:.1} s; {:.2} completed/s\n",
        r.completed, r.dropped, r.requests, r.duration_s, r.completion_rate_per_s
    );
    out += &format!(
        // In flight covers the fleet; running and eval's sessions are per replica.
        "in flight: mean {:.2} (Little: rate × latency = {:.2}); running per replica: mean {:.1}, peak {} (eval: {} sessions of the context)\n",
        r.mean_in_flight,
        r.completion_rate_per_s * r.mean_latency_s,
        r.mean_running,
        r.peak_running,
        r.sessions_per_replica_eval
    );
    out += "latency:\n";
    out += &p("TTFT", &r.ttft_s);
    out += &p("TPOT", &r.tpot_s);
    out += &p("E2E", &r.e2e_s);
    out += &format!(
        "throughput: {:.0} output tok/s ({:.0} per chip), {:.0} prompt tok/s\n",
        r.output_tokens_per_s, r.output_tokens_per_s_per_chip, r.input_tokens_per_s
    );
    if r.ttft_slo_s.is_some() || r.tpot_slo_s.is_some() {
        out += &format!(
            "goodput: {:.2} requests/s meet the SLO ({:.1}% of completed)\n",
            r.goodput_per_s,
            100.0 * r.slo_attainment
        );
    }
    out += &format!(
        "KV: peak {:.1}% of the pool ({:.2} GiB of {:.2} GiB per chip); prefix hits {:.1}% of prompt tokens; {} preemptions\n",
        100.0 * r.peak_kv_fraction,
        r.peak_kv_bytes_per_chip / crate::units::GIB,
        r.kv_capacity_bytes_per_chip / crate::units::GIB,
        100.0 * r.prefix_hit_rate,
        r.preemptions
    );
    if let Some(x) = &r.spec {
        out += &format!(
            "speculative decoding: {} with K = {} at acceptance {}: {:.3} tokens per verify step expected, {:.3} in the run; drafter {:.2} GiB of weights per chip, KV pool {:.1}% of its size without\n",
            x.method,
            x.tokens,
            x.acceptance,
            x.expected_tokens_per_step,
            x.tokens_per_verify,
            x.draft_weights_bytes_per_chip / crate::units::GIB,
            100.0 * x.kv_pool_share
        );
    }
    if let Some(x) = &r.disagg {
        out += &format!(
            "disaggregated {}P{}D: {} KV transfers, {:.1} MiB each on average over all chips, {:.2} ms each at {:.1} GB/s a chip\n",
            x.prefill_replicas,
            x.decode_replicas,
            x.transfers,
            x.mean_transfer_bytes_per_request / 1_048_576.0,
            x.mean_transfer_s * 1e3,
            x.link_gbps
        );
    }
    if let Some(o) = &r.offload {
        out += &format!(
            "offload: {} pages reloaded, {} written back ({} dropped), {} swaps out / {} in; {:.2} GiB out, {:.2} GiB in per chip, {:.2} s of transfers\n",
            o.pages_reloaded,
            o.pages_stored,
            o.pages_dropped,
            o.swaps_out,
            o.swaps_in,
            o.bytes_out / crate::units::GIB,
            o.bytes_in / crate::units::GIB,
            o.transfer_s
        );
    }
    for w in &r.warnings {
        out += &format!("note: {w}\n");
    }
    out
}

/// The timeline chart of a run's series.
pub fn timeline(r: &Summary) -> crate::plot::Chart {
    let pts = |f: &dyn Fn(&simulate::stats::Sample) -> f64| -> Vec<(f64, f64)> {
        r.series.iter().map(|x| (x.t_s, f(x))).collect()
    };
    crate::plot::Chart::Timeline {
        title: format!(
            "{} on {} ({} replica{}), {}",
            r.model,
            r.chip,
            r.replicas,
            if r.replicas == 1 { "" } else { "s" },
            r.workload
        ),
        kv_percent: pts(&|x| 100.0 * x.kv_used_fraction),
        running: pts(&|x| x.running as f64),
        waiting: pts(&|x| x.waiting as f64),
    }
}

/// Draws the timeline to `path` (beside it first, then renamed), refusing to overwrite inputs.
pub fn plot_to(r: &Summary, path: &str, inputs: &[String]) -> Result<()> {
    let chart = timeline(r);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    crate::cli::output::write_via_temp(path, &inputs, |tmp| {
        crate::plot::render(&chart, &tmp.to_string_lossy(), 1000, 700).map_err(|e| match e {
            Error::Field { .. } => e,
            other => Error::Io {
                file: path.to_string(),
                reason: other.to_string(),
            },
        })
    })
}

/// Runs `kvsim simulate`.
pub fn run(a: &SimulateArgs) -> Result<String> {
    if let Some(p) = &a.plot {
        let lower = p.to_ascii_lowercase();
        if !(lower.ends_with(".png") || lower.ends_with(".svg")) {
            return Err(Error::field(
                "command line",
                "--plot",
                p,
                "a file name ending in .png or .svg",
            ));
        }
    }
    if a.series_points.is_some_and(|n| n < 2) {
        return Err(Error::field(
            "command line",
            "--series-points",
            a.series_points.unwrap_or(0),
            "at least 2 samples",
        ));
    }
    let r = summary(a)?;
    if let Some(p) = &a.plot {
        let mut inputs = a.knobs.0.files();
        inputs.extend(a.trace.iter().cloned());
        inputs.push(a.workload.clone());
        plot_to(&r, p, &inputs)?;
        crate::cli::output::note(&format!(
            "kvsim: wrote {p} ({} samples, {} s apart)",
            r.series.len(),
            r.series_interval_s.unwrap_or(0.0)
        ));
    }
    match a.format {
        Format::Table => Ok(table(&r)),
        f => f.exporter().document(&Document::one(&r)?),
    }
}
