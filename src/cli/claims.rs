//! `kvsim claims`: published claims beside kvsim's figures, with verdicts.

use crate::claims;
use crate::error::Result;
use crate::report::{Document, Format};
use clap::Args;

/// Arguments of `kvsim claims`.
#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub output: crate::cli::output::OutputArg,
}

/// Runs `kvsim claims`.
pub fn run(a: &ClaimsArgs) -> Result<String> {
    let list = claims::all()?;
    Ok(match a.format {
        Format::Table => {
            let mut out = String::new();
            for c in &list {
                out += &format!(
                    "{}\n  published: {} {unit}   kvsim: {} {unit}   verdict: {}\n  scenario: {}\n  why: {}\n\n",
                    c.claim,
                    c.published,
                    c.kvsim,
                    c.verdict,
                    c.scenario,
                    c.why,
                    unit = c.unit
                );
            }
            out
        }
        f => f.exporter().document(&Document::records(&list)?)?,
    })
}
