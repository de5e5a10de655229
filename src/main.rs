//! The `kvsim` binary: parse, dispatch, print errors on one line with the right exit code.
use clap::Parser;
use kvsim::error::ExitKind;

fn main() {
    let cli = kvsim::cli::Cli::parse();
    if let Err(e) = kvsim::cli::run(cli) {
        eprintln!("kvsim: error: {e}");
        std::process::exit(match e.exit_kind() {
            ExitKind::Input => 2,
            ExitKind::Internal => 1,
        });
    }
}
