//! Command-line interface (clap definitions, one file per subcommand).

pub mod calibrate;
pub mod check;
pub mod claims;
pub mod compare;
pub mod completions;
pub mod eval;
pub mod fit;
pub mod knobs;
pub mod list;
pub mod man;
pub mod output;
pub mod plot;
pub mod simulate;
pub mod sweep;

use crate::error::Result;
use clap::{Parser, Subcommand};

/// kvsim: weights, KV cache and concurrent sessions per chip for LLM inference.
#[derive(Debug, Parser)]
#[command(name = "kvsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate one model on one chip at one context length.
    #[command(after_help = eval::EXAMPLES)]
    Eval(Box<eval::EvalArgs>),
    /// List the built-in models (or, with --architectures, every config class kvsim imports).
    Models(list::ModelsArgs),
    /// List the built-in chips.
    Chips(list::ListArgs),
    /// Evaluate a grid of scenarios (every value combination), streamed in grid order.
    #[command(after_help = sweep::EXAMPLES)]
    Sweep(Box<sweep::SweepArgs>),
    /// Compare chips, models or precision plans side by side, with ratios to the first.
    #[command(after_help = compare::EXAMPLES)]
    Compare(Box<compare::CompareArgs>),
    /// Draw a chart (PNG or SVG): sessions vs context, memory per chip, KV per token.
    #[command(after_help = plot::EXAMPLES)]
    Plot(Box<plot::PlotArgs>),
    /// Inverse questions: chips needed, longest context, cheapest chip.
    #[command(after_help = fit::EXAMPLES)]
    Fit(Box<fit::FitArgs>),
    /// Check published efficiency claims against kvsim's own figures.
    Claims(claims::ClaimsArgs),
    /// Set a vLLM or SGLang start-up log beside kvsim's prediction of each figure.
    #[command(after_help = check::EXAMPLES)]
    Check(Box<check::CheckArgs>),
    /// Fit kvsim's overhead terms to start-up logs; write a profile for `--profile`.
    #[command(after_help = calibrate::EXAMPLES)]
    Calibrate(Box<calibrate::CalibrateArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = completions::EXAMPLES)]
    Completions(completions::CompletionsArgs),
    /// Print the man page of kvsim or of one subcommand (roff).
    #[command(after_help = man::EXAMPLES)]
    Man(man::ManArgs),
    /// Serve a workload or trace event by event: latency percentiles, throughput, goodput, KV use.
    #[command(after_help = simulate::EXAMPLES)]
    Simulate(Box<simulate::SimulateArgs>),
}

/// Most worker threads kvsim starts, whatever RAYON_NUM_THREADS says: beyond the cores they only
/// cost memory, and rayon panics when the system refuses to start threads by the thousand.
pub const MAX_THREADS: usize = 256;

/// Builds rayon's global pool with a bounded thread count: RAYON_NUM_THREADS if it is a number
/// from 1 to [`MAX_THREADS`], else the number of cores (capped), with a warning for a value that
/// is not used as given.
pub fn init_threads() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = match std::env::var("RAYON_NUM_THREADS") {
        Err(_) => cores.min(MAX_THREADS),
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_THREADS).contains(&n) => n,
            _ => {
                let n = cores.min(MAX_THREADS);
                output::note(&format!(
                    "kvsim: warning: RAYON_NUM_THREADS={v} is not a thread count from 1 to \
                     {MAX_THREADS}; using {n}"
                ));
                n
            }
        },
    };
    // Fails only if the pool was already built (a second call): nothing to do then. If threads
    // cannot be started, rayon runs the work on the calling thread.
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global();
}

/// Runs the parsed command: data to standard output or `-o FILE`, notes and warnings to standard
/// error.
pub fn run(cli: Cli) -> Result<()> {
    let none: Vec<String> = Vec::new();
    match cli.command {
        Command::Eval(a) => a.output.emit(&eval::run(&a)?, &a.knobs.0.files()),
        Command::Models(a) => a.output.emit(&list::models(&a)?.into(), &none),
        Command::Chips(a) => a.output.emit(&list::chips(&a)?.into(), &none),
        Command::Claims(a) => a.output.emit(&claims::run(&a)?.into(), &none),
        Command::Check(a) => {
            let mut inputs = vec![a.log.clone()];
            inputs.extend(a.model.iter().chain(&a.chip).cloned());
            a.output.emit(&check::run(&a)?, &inputs)
        }
        Command::Compare(a) => {
            let mut inputs: Vec<String> = a.grid.scenario.iter().cloned().collect();
            inputs.extend(a.grid.knobs.0.files());
            a.output.emit(&compare::run(&a)?.into(), &inputs)
        }
        Command::Fit(a) => a.output.emit(&fit::run(&a)?.into(), &a.knobs.0.files()),
        Command::Completions(a) => a.output.emit(&completions::run(&a)?.into(), &none),
        Command::Man(a) => a.output.emit(&man::run(&a)?.into(), &none),
        Command::Calibrate(a) => a.output.emit(&calibrate::run(&a)?, &calibrate::inputs(&a)),
        Command::Simulate(a) => {
            let mut inputs = a.knobs.0.files();
            inputs.extend(a.trace.iter().cloned());
            inputs.push(a.workload.clone());
            a.output.emit(&simulate::run(&a)?.into(), &inputs)
        }
        Command::Plot(a) => {
            output::note(&plot::run(&a)?);
            Ok(())
        }
        Command::Sweep(a) => {
            output::note(&sweep::run(&a)?);
            Ok(())
        }
    }
}
