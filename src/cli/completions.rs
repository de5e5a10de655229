//! `kvsim completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell,
//! generated from the same clap definitions (and so the same knob table) as the flags.

use crate::cli::output::OutputArg;
use crate::error::{Error, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

pub const EXAMPLES: &str = "Examples:
  kvsim completions bash > ~/.local/share/bash-completion/completions/kvsim
  kvsim completions zsh -o ~/.zfunc/_kvsim      # with fpath+=(~/.zfunc) before compinit
  kvsim completions fish -o ~/.config/fish/completions/kvsim.fish";

/// Arguments of `kvsim completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    pub shell: Shell,
    #[command(flatten)]
    pub output: OutputArg,
}

/// The completion script for `a.shell`.
pub fn run(a: &CompletionsArgs) -> Result<String> {
    let mut cmd = crate::cli::Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "kvsim", &mut buf);
    String::from_utf8(buf).map_err(|e| Error::internal(format!("completion script: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Every subcommand and a knob flag appear in the script, for each shell.
    #[test]
    fn scripts_name_subcommands_and_knobs() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let s = run(&CompletionsArgs {
                shell,
                output: OutputArg::default(),
            })
            .unwrap();
            for word in [
                "eval",
                "sweep",
                "completions",
                "engine-version",
                "dp-attention",
            ] {
                assert!(s.contains(word), "{shell:?} lacks {word}");
            }
        }
    }
}
