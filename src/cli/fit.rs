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
cheapest: the chip whose smallest deployment costs least per hour (prices from --prices or the catalog).";

/// Which question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Question {
    /// Smallest deployment per chip kind.
    Chips,
    /// Longest context for N sessions on the given deployment.
    Context,
    /// Cheapest chip kind for N sessions of the context.
    Cheapest,
}

/// Arguments of `kvsim fit`.
#[derive(Debug, Args)]
pub struct FitArgs {
    pub question: Question,
    #[command(flatten)]
    pub knobs: EvalKnobs,
    /// Concurrent sessions to hold.
    #[arg(long)]
    pub sessions: u64,
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
            Ok((catalog::load_chip(c.trim())?.id, v))
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
                .find(|(id, _)| *id == chip.id)
                .map(|p| p.1)
                .or(chip.price_per_hour_usd);
            let base = spec.build(model.clone(), chip.clone())?;
            let layout = if chip.memory_bytes().is_some() {
                fit::smallest_deployment(&base, a.sessions, context)?
            } else {
                None
            };
            Ok(ChipFit {
                chip: chip.id,
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
        Question::Chips => {
            let fits = chip_fits(a)?;
            if json {
                return Ok(serde_json::to_string_pretty(&fits).unwrap_or_default() + "\n");
            }
            let mut out = format!(
                "{} sessions of {} tokens of {}:\n",
                thousands(a.sessions),
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
                    thousands(a.sessions)
                );
            }
            Ok(out)
        }
        Question::Context => {
            let base = spec.load()?;
            let limit = parse_tokens("--max-context", &a.max_context)?;
            let c = fit::longest_context(&base, a.sessions, limit)?;
            if json {
                return Ok(serde_json::json!({ "longest_context": c, "sessions": a.sessions, "limit": limit }).to_string() + "\n");
            }
            Ok(match c {
                Some(c) if c == limit => format!(
                    "{} sessions fit at every context up to the search limit {}\n",
                    a.sessions,
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
                    format!("longest context for {} sessions: {} tokens (one token more does not fit{note})\n", a.sessions, thousands(c))
                }
                None => format!(
                    "{} sessions do not fit even at one token of context\n",
                    a.sessions
                ),
            })
        }
    }
}
