//! `kvsim claims`: published claims beside kvsim's figures, with verdicts.

use crate::claims;
use crate::error::Result;
use crate::report::{self, Format};
use clap::Args;

/// Arguments of `kvsim claims`.
#[derive(Debug, Args)]
pub struct ClaimsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs `kvsim claims`.
pub fn run(a: &ClaimsArgs) -> Result<String> {
    let list = claims::all()?;
    Ok(match a.format {
        Format::Json => serde_json::to_string_pretty(&list).unwrap_or_default() + "\n",
        Format::Csv => report::csv(
            &list
                .iter()
                .map(report::flatten)
                .collect::<Result<Vec<_>>>()?,
        ),
        Format::Markdown => report::markdown(
            &list
                .iter()
                .map(report::flatten)
                .collect::<Result<Vec<_>>>()?,
        ),
        Format::Table => {
            let mut out = String::new();
            for c in &list {
                out += &format!(
                    "{}\n  published: {}   kvsim: {}   verdict: {}\n  scenario: {}\n  why: {}\n\n",
                    c.claim, c.published, c.kvsim, c.verdict, c.scenario, c.why
                );
            }
            out
        }
    })
}
