//! `kvsim fit`: inverse questions — chips needed, longest context, cheapest chip.

use crate::catalog;
use crate::cli::knobs::EvalKnobs;
use crate::error::{Error, Result};
use crate::fit::{self, Layout};
use crate::report::Format;
use crate::units::thousands;
use crate::units::{parse_tokens, tokens_label};
use clap::{Args, ValueEnum};
use serde::Serialize;

pub const EXAMPLES: &str = "Examples:
  kvsim fit chips --model kimi-k2 --chip h100-sxm,h200,b200,ascend-910c,ascend-950pr --sessions 1000 --context 32k
  kvsim fit context --model qwen3-next-80b-a3b --chip h200 --tp 2 --sessions 8
  kvsim fit cheapest --model deepseek-v3 --chip h100-sxm,h200,b200,mi355x --sessions 200 --context 64k \\
      --prices h100-sxm=2.5,h200=3.5,b200=5.5,mi355x=4

chips: for each chip, the fewest chips (replicas of one TP × PP layout, EP = TP or 1 for MoE) that
hold --sessions sessions of --context tokens. context: the longest context at which the given
deployment holds --sessions sessions (binary search over the capacity function, exact to the token).
cheapest: the chip whose smallest deployment costs least per hour (prices from --prices or the catalog).
sla: for each chip, the fewest chips (replicas of TP 1, 2, 4 or 8) whose simulation (`kvsim simulate`)
serves --workload at --rate with p90 TTFT and TPOT under --sla-ttft-p90 / --sla-tpot-p90 seconds:
  kvsim fit sla --model llama-3.1-70b --chip h100-sxm,b200,ascend-950pr --context 32k \\
      --workload agentic --rate 2 --sla-ttft-p90 2 --sla-tpot-p90 0.05";

/// Which question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Question {
    /// Smallest deployment per chip kind.
    Chips,
    /// Longest context for N sessions on the given deployment.
    Context,
    /// Cheapest chip kind for N sessions of the context.
    Cheapest,
    /// Fewest chips per chip kind serving a workload at a rate within p90 latency targets.
    Sla,
}

/// Arguments of `kvsim fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    pub question: Question,
    #[command(flatten)]
    pub knobs: EvalKnobs,
    /// Concurrent sessions to hold (chips, context, cheapest).
    #[arg(long)]
    pub sessions: Option<u64>,
    /// Workload for `fit sla`: a built-in profile or a workload file.
    #[arg(long, default_value = "chat")]
    pub workload: String,
    /// Request (session) rate `fit sla` must serve, per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// p90 time-to-first-token target in seconds.
    #[arg(long)]
    pub sla_ttft_p90: Option<f64>,
    /// p90 time-per-output-token target in seconds.
    #[arg(long)]
    pub sla_tpot_p90: Option<f64>,
    /// Requests each `fit sla` trial simulates.
    #[arg(long, default_value_t = 2000)]
    pub requests: u64,
    /// Seed of the `fit sla` workload.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Prices per chip-hour in USD: `h100-sxm=2.5,h200=3.5`.
    #[arg(long)]
    pub prices: Option<String>,
    /// Largest context `fit context` searches.
    #[arg(long, default_value = "16M")]
    pub max_context: String,
    /// Output format: table (text) or json.
    #[arg(long, alias = "fit-format", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub output: crate::cli::output::OutputArg,
}

impl FitArgs {
    fn sessions(&self) -> Result<u64> {
        self.sessions.ok_or_else(|| {
            Error::field(
                "command line",
                "--sessions",
                "nothing",
                "the number of concurrent sessions to hold",
            )
        })
    }
}

#[derive(Serialize)]
struct ChipFit {
    chip: String,
    layout: Option<Layout>,
    usd_per_hour: Option<f64>,
}

fn chips(spec: &str) -> Vec<String> {
    spec.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .flat_map(|c| {
            if c == "all" {
                catalog::chip_ids().map(String::from).collect()
            } else {
                vec![c.to_string()]
            }
        })
        .collect()
}

fn prices(spec: Option<&str>) -> Result<Vec<(String, f64)>> {
    let Some(spec) = spec else {
        return Ok(Vec::new());
    };
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|p| {
            let (c, v) = p
                .split_once('=')
                .ok_or_else(|| Error::field("command line", "--prices", p, "chip=usd pairs"))?;
            let v: f64 = v
                .trim()
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && *x >= 0.0)
                .ok_or_else(|| {
                    Error::field(
                        "command line",
                        "--prices",
                        p,
                        "a non-negative price in USD per chip-hour",
                    )
                })?;
            Ok((catalog::load_chip(c.trim())?.id.to_string(), v))
        })
        .collect()
}

fn chip_fits(a: &FitArgs) -> Result<Vec<ChipFit>> {
    let spec = a.knobs.spec()?;
    let context = spec.context;
    let price_list = prices(a.prices.as_deref())?;
    let model = spec.load_model()?;
    chips(&spec.chip)
        .iter()
        .map(|c| {
            let chip = catalog::load_chip(c)?;
            let price = price_list
                .iter()
                .find(|(id, _)| **id == *chip.id)
                .map(|p| p.1)
                .or(chip.price_per_hour_usd);
            let base = spec.build(model.clone(), chip.clone())?;
            let layout = if chip.memory_bytes().is_some() {
                fit::smallest_deployment(&base, a.sessions()?, context)?
            } else {
                None
            };
            Ok(ChipFit {
                chip: chip.id.to_string(),
                usd_per_hour: layout.and_then(|l| price.map(|p| p * l.chips as f64)),
                layout,
            })
        })
        .collect()
}

fn layout_text(l: &Option<Layout>) -> String {
    match l {
        Some(l) => format!(
            "{} chips = {} × TP{} PP{}{} ({} sessions each, {} in all)",
            thousands(l.chips),
            l.replicas,
            l.tp,
            l.pp,
            if l.ep > 1 {
                format!(" EP{}", l.ep)
            } else {
                String::new()
            },
            l.sessions_per_replica,
            thousands(l.sessions)
        ),
        None => "no layout up to TP64 × PP16 holds one session".into(),
    }
}

#[derive(Serialize)]
struct SlaFit {
    chip: String,
    layout: Option<fit::SlaLayout>,
}

fn sla(a: &FitArgs, json: bool) -> Result<String> {
    let spec = a.knobs.spec()?;
    let rate = a.rate.ok_or_else(|| {
        Error::field(
            "command line",
            "--rate",
            "nothing",
            "the request rate to serve",
        )
    })?;
    if a.sla_ttft_p90.is_none() && a.sla_tpot_p90.is_none() {
        return Err(Error::field(
            "command line",
            "--sla-ttft-p90 / --sla-tpot-p90",
            "nothing",
            "at least one latency target in seconds",
        ));
    }
    for (flag, v) in [
        ("--sla-ttft-p90", a.sla_ttft_p90),
        ("--sla-tpot-p90", a.sla_tpot_p90),
    ] {
        if let Some(x) = v.filter(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(Error::field(
                "command line",
                flag,
                x,
                "a positive number of seconds",
            ));
        }
    }
    let w = crate::simulate::workload::load(&a.workload)?;
    let target = fit::SlaTarget {
        rate,
        ttft_p90: a.sla_ttft_p90,
        tpot_p90: a.sla_tpot_p90,
        requests: a.requests.max(1),
        seed: a.seed,
    };
    let model = spec.load_model()?;
    let fits = chips(&spec.chip)
        .iter()
        .map(|c| {
            let chip = catalog::load_chip(c)?;
            let base = spec.build(model.clone(), chip.clone())?;
            let layout = if chip.memory_bytes().is_some() && chip.memory_bandwidth_tbps.is_some() {
                fit::smallest_for_sla(&base, &w, &target)?
            } else {
                None
            };
            Ok(SlaFit {
                chip: chip.id.to_string(),
                layout,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if json {
        return Ok(serde_json::to_string_pretty(&fits).unwrap_or_default() + "\n");
    }
    let goal = [
        a.sla_ttft_p90.map(|x| format!("p90 TTFT ≤ {x} s")),
        a.sla_tpot_p90.map(|x| format!("p90 TPOT ≤ {x} s")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(", ");
    let mut out = format!(
        "{} at {rate}/s of {} ({} tokens max), {goal}, {} simulated requests per trial:\n",
        spec.model,
        a.workload,
        thousands(spec.context),
        target.requests
    );
    for f in &fits {
        out += &match &f.layout {
            Some(l) => format!(
                "  {:<14} {} chips = {} × TP{}{}: p90 TTFT {:.3} s, p90 TPOT {:.1} ms, {:.0} output tok/s\n",
                f.chip,
                l.chips,
                l.replicas,
                l.tp,
                if l.ep > 1 { format!(" EP{}", l.ep) } else { String::new() },
                l.ttft_p90_s,
                l.tpot_p90_s * 1e3,
                l.output_tokens_per_s
            ),
            None => format!(
                "  {:<14} no layout up to TP8 × {} replicas meets the targets\n",
                f.chip,
                fit::MAX_SLA_REPLICAS
            ),
        };
    }
    out += "note: latency figures from kvsim's simulator (docs/simulate.md): roofline step times, no per-step CPU overhead\n";
    Ok(out)
}

/// Runs `kvsim fit`.
pub fn run(a: &FitArgs) -> Result<String> {
    let json = match a.format {
        Format::Json => true,
        Format::Table => false,
        other => {
            return Err(Error::field(
                "command line",
                "--format",
                format!("{other:?}").to_lowercase(),
                "table or json",
            ))
        }
    };
    let spec = a.knobs.spec()?;
    match a.question {
        Question::Sla => sla(a, json),
        Question::Chips => {
            let fits = chip_fits(a)?;
            if json {
                return Ok(serde_json::to_string_pretty(&fits).unwrap_or_default() + "\n");
            }
            let mut out = format!(
                "{} sessions of {} tokens of {}:\n",
                thousands(a.sessions()?),
                tokens_label(spec.context),
                spec.model
            );
            for f in &fits {
                out += &format!("  {:<14} {}\n", f.chip, layout_text(&f.layout));
            }
            Ok(out)
        }
        Question::Cheapest => {
            let mut fits: Vec<ChipFit> = chip_fits(a)?
                .into_iter()
                .filter(|f| f.usd_per_hour.is_some())
                .collect();
            if fits.is_empty() {
                return Err(Error::field(
                    "command line",
                    "--prices",
                    "no price for any chip that fits",
                    "chip=usd pairs for the chips compared",
                ));
            }
            fits.sort_by(|x, y| {
                x.usd_per_hour
                    .partial_cmp(&y.usd_per_hour)
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
            if json {
                return Ok(serde_json::to_string_pretty(&fits).unwrap_or_default() + "\n");
            }
            let line = |f: &ChipFit| {
                format!(
                    "{} at {:.2} USD/h: {}",
                    f.chip,
                    f.usd_per_hour.unwrap_or(0.0),
                    layout_text(&f.layout)
                )
            };
            let mut out = format!("cheapest: {}\n", line(&fits[0]));
            if let Some(second) = fits.get(1) {
                out += &format!("runner-up: {}\n", line(second));
                let (a0, b0) = (
                    fits[0].usd_per_hour.unwrap_or(0.0),
                    second.usd_per_hour.unwrap_or(0.0),
                );
                out += &format!(
                    "why: {:.0}% cheaper per hour for the same {} sessions\n",
                    100.0 * (1.0 - a0 / b0.max(1e-12)),
                    thousands(a.sessions()?)
                );
            }
            Ok(out)
        }
        Question::Context => {
            let base = spec.load()?;
            let limit = parse_tokens("--max-context", &a.max_context)?;
            let c = fit::longest_context(&base, a.sessions()?, limit)?;
            if json {
                return Ok(serde_json::json!({ "longest_context": c, "sessions": a.sessions()?, "limit": limit }).to_string() + "\n");
            }
            Ok(match c {
                Some(c) if c == limit => format!(
                    "{} sessions fit at every context up to the search limit {}\n",
                    a.sessions()?,
                    thousands(limit)
                ),
                Some(c) => {
                    let note = base
                        .model
                        .max_position_embeddings
                        .filter(|&p| c > p)
                        .map(|p| {
                            format!(
                                "; beyond the model's max_position_embeddings {}",
                                thousands(p)
                            )
                        })
                        .unwrap_or_default();
                    format!("longest context for {} sessions: {} tokens (one token more does not fit{note})\n", a.sessions()?, thousands(c))
                }
                None => format!(
                    "{} sessions do not fit even at one token of context\n",
                    a.sessions()?
                ),
            })
        }
    }
}
