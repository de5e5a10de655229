//! The knob table as clap arguments: every knob becomes a flag, single-valued for `eval` and `fit`
//! ([`EvalKnobs`]) or a comma-separated list for `sweep`, `compare` and `plot` ([`GridKnobs`]).

use crate::scenario::knobs::{Knob, Values, KNOBS};
use clap::{Arg, ArgAction, ArgMatches, Args, Command, FromArgMatches};

/// The knobs a command line gave, each with its values (several only for `set`), in table order.
#[derive(Debug, Clone, Default)]
pub struct Given(pub Vec<(&'static Knob, Vec<String>)>);

fn augment(mut cmd: Command, grid: bool, required: &[&str]) -> Command {
    for k in KNOBS {
        let mut help = k.help.to_string();
        if grid {
            help += match k.values {
                Values::FieldValue => " Here `FIELD=v1,v2,…`: one axis per field.",
                Values::Switch => " Here true, false or both.",
                v if v.ranges() => " A comma-separated list, or a range lo..hi:xN / lo..hi:+N.",
                _ => " A comma-separated list.",
            };
        }
        if !k.default.is_empty() {
            help += &format!(" [default: {}]", k.default);
        }
        let mut arg = Arg::new(k.name)
            .long(k.name)
            .value_name(k.value_name)
            .help(help)
            .required(!grid && required.contains(&k.name));
        for a in k.aliases {
            arg = arg.visible_alias(*a);
        }
        arg = match k.values {
            Values::FieldValue => arg.action(ArgAction::Append),
            // `--dense` alone means true.
            Values::Switch => arg
                .num_args(0..=1)
                .default_missing_value("true")
                .action(ArgAction::Set),
            _ => arg.action(ArgAction::Set),
        };
        cmd = cmd.arg(arg);
    }
    cmd
}

fn given(m: &ArgMatches) -> Given {
    Given(
        KNOBS
            .iter()
            .filter_map(|k| {
                m.get_many::<String>(k.name)
                    .map(|v| (k, v.cloned().collect::<Vec<_>>()))
            })
            .collect(),
    )
}

/// Declares a clap `Args` type over the knob table.
macro_rules! knob_args {
    ($name:ident, $grid:expr, $required:expr, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Default)]
        pub struct $name(pub Given);

        impl FromArgMatches for $name {
            fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
                Ok($name(given(m)))
            }
            fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
                *self = $name(given(m));
                Ok(())
            }
        }

        impl Args for $name {
            fn augment_args(cmd: Command) -> Command {
                augment(cmd, $grid, $required)
            }
            fn augment_args_for_update(cmd: Command) -> Command {
                augment(cmd, $grid, $required)
            }
        }
    };
}

knob_args!(
    EvalKnobs,
    false,
    &["model", "chip"],
    "Every knob as a single-valued flag (`--tp 8`)."
);
knob_args!(
    GridKnobs,
    true,
    &[],
    "Every knob as a list of values (`--tp 1,2,4`)."
);

impl Given {
    /// The files the model and chip values name (comma-separated lists split): an output must not
    /// be one of them.
    pub fn files(&self) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| matches!(k.name, "model" | "chip"))
            .flat_map(|(_, v)| v.iter().flat_map(|v| v.split(',')))
            .map(|v| v.trim().to_string())
            .filter(|v| std::path::Path::new(v).exists())
            .collect()
    }
}

impl EvalKnobs {
    /// The spec these flags describe (every other knob at its default).
    pub fn spec(&self) -> crate::error::Result<crate::scenario::knobs::Spec> {
        let mut s = crate::scenario::knobs::Spec::default();
        for (k, values) in &self.0 .0 {
            for v in values {
                k.apply(&mut s, v)?;
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Eval {
        #[command(flatten)]
        knobs: EvalKnobs,
    }

    #[derive(Parser)]
    struct Grid {
        #[command(flatten)]
        knobs: GridKnobs,
    }

    #[test]
    fn eval_flags_build_a_spec() {
        let e = Eval::try_parse_from([
            "kvsim",
            "--model",
            "llama-3.1-8b",
            "--chip",
            "h100-sxm",
            "--tp",
            "2",
            "--dense",
            "--set",
            "a=1",
            "--set",
            "b=2",
            "--mem-fraction-static",
            "0.8",
        ])
        .unwrap();
        let s = e.knobs.spec().unwrap();
        assert_eq!((s.tp, s.dense, s.sets.len()), (2, true, 2));
        assert_eq!(s.memory_fraction, Some(0.8));
        assert!(Eval::try_parse_from(["kvsim", "--chip", "h100-sxm"]).is_err());
    }

    // Every knob has help text, in both forms.
    #[test]
    fn every_flag_has_help() {
        for cmd in [
            <Eval as clap::CommandFactory>::command(),
            <Grid as clap::CommandFactory>::command(),
        ] {
            for a in cmd.get_arguments() {
                if a.get_id() != "help" {
                    assert!(
                        a.get_help().is_some_and(|h| h.to_string().len() > 10),
                        "{}",
                        a.get_id()
                    );
                }
            }
        }
    }
}
