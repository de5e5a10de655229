//! `kvsim._native`: the kvsim library behind the `kvsim` Python package.
//!
//! A front end like the command line: settings arrive as `(knob name, text value)` pairs and go
//! through the library's knob table (`kvsim::scenario::knobs::KNOBS`), so every knob exists in one
//! place. Results leave as the same JSON the command line prints (`eval --format json`, `fit
//! --format json`, `models --format json`); the Python layer (`kvsim/__init__.py`) turns them into
//! dicts, and sweep rows into a `pyarrow.Table` (`kvsim/_rows.py`).

mod grid;

use kvsim::error::Error;
use kvsim::report::{Document, Format};
use kvsim::scenario::knobs::{knob, Knob, Spec, Values, KNOBS};
use pyo3::create_exception;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

create_exception!(
    kvsim,
    KvsimError,
    PyValueError,
    "An error kvsim reports: bad input (naming the argument or file, the value found and what was \
     expected) or a scenario that cannot be evaluated. The message is the command line's."
);

/// A kvsim error as a Python `KvsimError` with the command line's message.
fn py_err(e: Error) -> PyErr {
    KvsimError::new_err(e.to_string())
}

/// Engine argument names users bring from vLLM / SGLang, and the knob that says the same.
const ENGINE_NAMES: &[(&str, &str)] = &[
    ("tensor_parallel_size", "tp"),
    ("tensor_parallel", "tp"),
    ("tp_size", "tp"),
    ("pipeline_parallel_size", "pp"),
    ("pipeline_parallel", "pp"),
    ("pp_size", "pp"),
    ("expert_parallel_size", "ep"),
    ("ep_size", "ep"),
    ("data_parallel_size", "dp"),
    ("dp_size", "dp"),
    ("enable_dp_attention", "dp_attention"),
    ("max_model_len", "context"),
    ("context_length", "context"),
    ("kv_cache_dtype", "kv"),
    ("quantization", "weights"),
    ("dtype", "weights"),
    ("page_size", "block_size"),
];

/// The knob a Python keyword names (`engine_version` = `--engine-version`), or an error naming
/// the nearest knob: the one an engine argument of that name sets, else the closest spelling.
pub(crate) fn resolve(name: &str) -> Result<&'static Knob, Error> {
    knob(name).ok_or_else(|| {
        let py = |n: &str| n.replace('-', "_");
        let key = py(name.trim()).to_ascii_lowercase();
        let nearest = ENGINE_NAMES
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, k)| k.to_string())
            .or_else(|| {
                KNOBS
                    .iter()
                    .flat_map(|k| std::iter::once(k.name).chain(k.aliases.iter().copied()))
                    .min_by(|a, b| {
                        let d = |n: &str| strsim::normalized_levenshtein(&py(n), &key);
                        d(b).total_cmp(&d(a))
                    })
                    .map(py)
            })
            .unwrap_or_default();
        Error::field(
            "keyword arguments",
            name,
            "an unknown setting",
            format!("a knob of kvsim.knobs(); the nearest is `{nearest}`"),
        )
    })
}

/// The spec of single-valued settings, applied in the order given (`set` may repeat).
fn spec(settings: &[(String, String)]) -> Result<Spec, Error> {
    let mut s = Spec::default();
    for (name, value) in settings {
        resolve(name)?.apply(&mut s, value)?;
    }
    for required in ["model", "chip"] {
        if !settings
            .iter()
            .any(|(n, _)| knob(n).is_some_and(|k| k.name == required))
        {
            return Err(Error::field(
                "keyword arguments",
                required,
                "nothing",
                "a value (see kvsim.models() and kvsim.chips())",
            ));
        }
    }
    Ok(s)
}

/// The knob table as JSON: name, Python keyword, aliases, value kind, default, help.
#[pyfunction]
fn knobs() -> String {
    let rows: Vec<serde_json::Value> = KNOBS
        .iter()
        .map(|k| {
            serde_json::json!({
                "name": k.name,
                "keyword": k.name.replace('-', "_"),
                "aliases": k.aliases.iter().map(|a| a.replace('-', "_")).collect::<Vec<_>>(),
                "value_name": k.value_name,
                "values": match k.values {
                    Values::Text => "text",
                    Values::Tokens => "tokens",
                    Values::Integer => "integer",
                    Values::Number => "number",
                    Values::Switch => "switch",
                    Values::FieldValue => "field_value",
                },
                "default": k.default,
                "help": k.help,
            })
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// `eval --format json` of the scenario the settings describe.
#[pyfunction]
fn evaluate(py: Python<'_>, settings: Vec<(String, String)>) -> PyResult<String> {
    py.detach(|| {
        let r = kvsim::evaluate::evaluate(&spec(&settings)?.load()?)?;
        Format::Json.exporter().document(&Document::one(&r)?)
    })
    .map_err(py_err)
}

/// A sweep's rows as JSON lines (the boundary `kvsim/_rows.py` reads).
#[pyfunction]
fn sweep_jsonl(
    py: Python<'_>,
    settings: Vec<(String, Vec<String>)>,
    max_points: u64,
) -> PyResult<Vec<u8>> {
    py.detach(|| grid::sweep_jsonl(&settings, max_points))
        .map_err(py_err)
}

/// `fit sla`'s fields: workload, rate, p90 TTFT, p90 TPOT, requests, seed.
type SlaArgs = (String, Option<f64>, Option<f64>, Option<f64>, u64, u64);

/// `fit QUESTION --format json`.
#[pyfunction]
#[pyo3(signature = (question, settings, sessions, prices=None, max_context="16M".to_string(), sla=None))]
fn fit(
    py: Python<'_>,
    question: &str,
    settings: Vec<(String, String)>,
    sessions: Option<u64>,
    prices: Option<String>,
    max_context: String,
    sla: Option<SlaArgs>,
) -> PyResult<String> {
    use kvsim::cli::fit::{FitArgs, Question};
    py.detach(|| {
        let question = <Question as clap::ValueEnum>::from_str(question, true).map_err(|_| {
            Error::field(
                "keyword arguments",
                "question",
                format!("`{question}`"),
                "chips, context, cheapest or sla",
            )
        })?;
        let mut given: Vec<(&'static Knob, Vec<String>)> = Vec::new();
        for (name, value) in &settings {
            let k = resolve(name)?;
            match given.iter_mut().find(|(g, _)| g.name == k.name) {
                Some((_, v)) if k.values == Values::FieldValue => v.push(value.clone()),
                Some((_, v)) => *v = vec![value.clone()],
                None => given.push((k, vec![value.clone()])),
            }
        }
        // Table order, as clap gives them to the command line.
        given.sort_by_key(|(k, _)| KNOBS.iter().position(|x| x.name == k.name));
        spec(&settings)?;
        // `fit sla`'s simulation fields; the CLI's defaults when not given.
        let (workload, rate, sla_ttft_p90, sla_tpot_p90, requests, seed) =
            sla.unwrap_or(("chat".to_string(), None, None, None, 2000, 0));
        let args = FitArgs {
            question,
            knobs: kvsim::cli::knobs::EvalKnobs(kvsim::cli::knobs::Given(given)),
            sessions,
            workload,
            rate,
            sla_ttft_p90,
            sla_tpot_p90,
            requests,
            seed,
            prices,
            max_context,
            format: Format::Json,
            output: Default::default(),
        };
        kvsim::cli::fit::run(&args)
    })
    .map_err(py_err)
}

/// `simulate --format json` with command-line arguments built from the keywords (`kvsim/__init__.py`).
#[pyfunction]
fn simulate(py: Python<'_>, args: Vec<String>) -> PyResult<String> {
    use clap::Parser;
    use kvsim::cli::{Cli, Command};
    py.detach(|| {
        let argv = ["kvsim", "simulate"]
            .into_iter()
            .map(String::from)
            .chain(args)
            .chain(["--format".to_string(), "json".to_string()]);
        let cli = Cli::try_parse_from(argv).map_err(|e| {
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            Error::field(
                "keyword arguments",
                "simulate",
                first.replace("--", "").replace('-', "_"),
                "the keywords of kvsim.simulate (the flags of `kvsim simulate`, - as _)",
            )
        })?;
        match cli.command {
            Command::Simulate(a) => kvsim::cli::simulate::run(&a),
            _ => unreachable!("the first argument is `simulate`"),
        }
    })
    .map_err(py_err)
}

/// `models --format json`.
#[pyfunction]
fn models(py: Python<'_>) -> PyResult<String> {
    py.detach(|| {
        kvsim::cli::list::models(&kvsim::cli::list::ModelsArgs {
            format: Format::Json,
            architectures: false,
            output: Default::default(),
        })
    })
    .map_err(py_err)
}

/// `chips --format json`.
#[pyfunction]
fn chips(py: Python<'_>) -> PyResult<String> {
    py.detach(|| {
        kvsim::cli::list::chips(&kvsim::cli::list::ListArgs {
            format: Format::Json,
            output: Default::default(),
        })
    })
    .map_err(py_err)
}

/// A token count as the command line reads it (`8192`, `32k`, `1M`).
#[pyfunction]
fn parse_tokens(text: &str) -> PyResult<u64> {
    kvsim::units::parse_tokens("tokens", text).map_err(py_err)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("KvsimError", m.py().get_type::<KvsimError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(knobs, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_jsonl, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(simulate, m)?)?;
    m.add_function(wrap_pyfunction!(models, m)?)?;
    m.add_function(wrap_pyfunction!(chips, m)?)?;
    m.add_function(wrap_pyfunction!(parse_tokens, m)?)?;
    Ok(())
}
