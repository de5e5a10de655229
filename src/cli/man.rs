//! `kvsim man [SUBCOMMAND]`: the man page (roff) of kvsim or of one subcommand, generated from the
//! clap definitions.

use crate::cli::output::OutputArg;
use crate::error::{Error, Result};
use clap::{Args, CommandFactory};

pub const EXAMPLES: &str = "Examples:
  kvsim man | man -l -
  kvsim man -o ~/.local/share/man/man1/kvsim.1
  kvsim man eval -o ~/.local/share/man/man1/kvsim-eval.1";

/// Arguments of `kvsim man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The subcommand whose page to write (default: kvsim's own page, which lists them all).
    pub subcommand: Option<String>,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The page in roff.
pub fn run(a: &ManArgs) -> Result<String> {
    let root = crate::cli::Cli::command();
    let cmd = match &a.subcommand {
        None => root,
        Some(name) => {
            let names: Vec<String> = root
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let sub = root.find_subcommand(name).cloned().ok_or_else(|| {
                Error::field(
                    "command line",
                    "SUBCOMMAND",
                    format!("`{name}`"),
                    format!("one of {}", names.join(", ")),
                )
            })?;
            // The page is named kvsim-NAME, as git and cargo name theirs; the synopsis reads
            // `kvsim NAME`.
            let display = format!("kvsim-{}", sub.get_name());
            let bin = format!("kvsim {}", sub.get_name());
            sub.display_name(display)
                .bin_name(bin)
                .version(env!("CARGO_PKG_VERSION"))
        }
    };
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::internal(format!("man page: {e}")))?;
    String::from_utf8(buf).map_err(|e| Error::internal(format!("man page: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_roff_with_the_flags() {
        let top = run(&ManArgs {
            subcommand: None,
            output: OutputArg::default(),
        })
        .unwrap();
        assert!(
            top.starts_with(".ie") || top.contains(".TH kvsim"),
            "{}",
            &top[..200]
        );
        assert!(top.contains("completions"), "subcommands listed");
        let eval = run(&ManArgs {
            subcommand: Some("eval".into()),
            output: OutputArg::default(),
        })
        .unwrap();
        assert!(eval.contains(".TH kvsim-eval"), "{}", &eval[..200]);
        assert!(eval.contains("engine\\-version"), "knob flags documented");
        let e = run(&ManArgs {
            subcommand: Some("evl".into()),
            output: OutputArg::default(),
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("evl") && e.contains("eval"), "{e}");
    }
}
