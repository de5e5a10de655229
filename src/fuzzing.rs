//! Entry points shared by the cargo-fuzz targets (fuzz/) and the corpus regression test: each
//! takes arbitrary bytes and must return without panicking, whatever they are.

use crate::catalog::load_chip;
use crate::evaluate::evaluate;
use crate::scenario::Scenario;

/// Imports `data` as a config.json and, if it imports, evaluates it on an H100 and on a deployment.
pub fn import_and_evaluate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(model) = crate::model::hf::import("fuzz.json", "fuzz", &text) else {
        return;
    };
    let _ = model.params(true);
    let Ok(chip) = load_chip("h100-sxm") else {
        return;
    };
    for (context, tp) in [(1, 1), (4096, 1), (1 << 20, 8)] {
        let mut s = Scenario::new(model.clone(), chip.clone(), context);
        s.deployment.tp = tp;
        s.batch = Some(16);
        let _ = evaluate(&s);
    }
}

/// Parses `data` as a chip TOML and as a sweep scenario file.
pub fn parse_tomls(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(chip) = crate::chip::Chip::from_toml("fuzz.toml", &text) {
        let _ = chip.memory_bytes();
        let _ = chip.peak_tflops("fp4");
    }
    let _ = crate::scenario::file::parse("fuzz.toml", &text);
}

/// Most grid points a fuzzed sweep evaluates (the fuzzer looks for panics, not for big grids).
const FUZZ_POINTS: u64 = 64;

/// Runs a sweep grid into nothing, if it is small.
fn sweep_quietly(grid: &crate::sweep::Grid) {
    if grid.len().is_ok_and(|n| n <= FUZZ_POINTS) {
        let w = crate::report::rows::RowWriter::new(
            crate::report::rows::RowFormat::Csv,
            crate::sweep::columns(grid),
        );
        let _ = crate::sweep::run(grid, &w, &mut std::io::sink(), &|_| {});
    }
}

/// Splits `data` into command-line arguments (at NUL and newline bytes) after `kvsim`, parses them
/// with clap's `try_parse_from` and runs the command without printing or writing a file: output
/// that would go to standard output is computed and dropped; `plot` and any `--output` are
/// skipped (a fuzzer must not write files where its input says).
pub fn command_line(data: &[u8]) {
    use crate::cli::{Cli, Command};
    use clap::Parser;
    let text = String::from_utf8_lossy(data);
    let args: Vec<&str> = std::iter::once("kvsim")
        .chain(text.split(['\0', '\n']))
        .collect();
    let Ok(cli) = Cli::try_parse_from(args) else {
        return;
    };
    let _ = match cli.command {
        Command::Eval(a) => crate::cli::eval::run(&a).map(drop),
        Command::Models(a) => crate::cli::list::models(&a).map(drop),
        Command::Chips(a) => crate::cli::list::chips(&a).map(drop),
        Command::Claims(a) => crate::cli::claims::run(&a).map(drop),
        Command::Compare(a) => crate::cli::compare::run(&a).map(drop),
        Command::Fit(a) => crate::cli::fit::run(&a).map(drop),
        Command::Completions(a) => crate::cli::completions::run(&a).map(drop),
        Command::Man(a) => crate::cli::man::run(&a).map(drop),
        // Files: plots are written, logs are read from disk.
        Command::Plot(_) | Command::Check(_) | Command::Calibrate(_) => Ok(()),
        // Small runs of built-in profiles only: files are read from disk, and a run lasts as
        // long as --requests says.
        Command::Simulate(a) => {
            let small = a.trace.is_none()
                && crate::simulate::workload::profile(&a.workload).is_some()
                && a.requests <= 100
                && a.replicas <= 4
                && a.users.is_none_or(|u| u <= 1000);
            if small {
                crate::cli::simulate::run(&a).map(drop)
            } else {
                Ok(())
            }
        }
        Command::Sweep(a) => {
            if a.output.is_none() {
                if let Ok(grid) = a.grid.grid(FUZZ_POINTS) {
                    sweep_quietly(&grid);
                }
            }
            Ok(())
        }
    };
}

/// Parses `data` as a sweep scenario file and runs its grid end to end (if small) into nothing.
pub fn scenario_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(settings) = crate::scenario::file::parse("fuzz.toml", &text) else {
        return;
    };
    if let Ok(grid) = crate::sweep::Grid::new(crate::scenario::knobs::Spec::default(), &settings) {
        sweep_quietly(&grid);
    }
}
