//! The `kvsim` binary: parse, dispatch, print errors on one line with the right exit code.
use clap::Parser;
use kvsim::error::ExitKind;
use std::io::Write;

fn main() {
    let cli = kvsim::cli::Cli::parse();
    kvsim::cli::init_threads();
    if let Err(e) = kvsim::cli::run(cli) {
        if e == kvsim::error::Error::BrokenPipe {
            // The reader went away (`kvsim … | head`): end quietly with 128 + SIGPIPE, the status
            // a shell reports for `cat` or `yes` in the same place, so `set -o pipefail` scripts
            // see kvsim as they see any other filter.
            std::process::exit(141);
        }
        // Writing to stderr can fail too (closed or full); nothing is left to tell then.
        let _ = writeln!(
            std::io::stderr(),
            "kvsim: error: {}",
            kvsim::text::escape_controls(&e.to_string())
        );
        std::process::exit(match e.exit_kind() {
            ExitKind::Input => 2,
            ExitKind::Internal => 1,
        });
    }
}
