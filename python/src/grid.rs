//! Sweep grids from Python lists: each keyword's list is one axis (`set` gives one axis per field),
//! each element read as the command line reads one value (`all`, `both`, `8k..1M:x2` expand), but
//! never split at commas, so `precision="attention=fp8,kv=fp8"` is one value.

use kvsim::error::{Error, Result};
use kvsim::report::rows::{RowFormat, RowWriter};
use kvsim::scenario::knobs::{Spec, Values, KNOBS};
use kvsim::sweep::{Axis, Grid};

/// The field of a `FIELD=VALUE` value.
fn field_of(v: &str) -> &str {
    v.split_once('=').map_or("", |(f, _)| f.trim())
}

/// The grid of `settings` (keyword, values), axes in the knob table's order as on the command line.
pub fn grid(settings: &[(String, Vec<String>)]) -> Result<Grid> {
    let mut given = Vec::new();
    for (name, values) in settings {
        given.push((super::resolve(name)?, values));
    }
    let mut axes: Vec<Axis> = Vec::new();
    for k in KNOBS {
        for (_, values) in given.iter().filter(|(g, _)| g.name == k.name) {
            if k.values == Values::FieldValue {
                // FIELD=VALUE elements: one axis per field, in the order the fields first appear.
                for v in values.iter() {
                    let mut probe = Spec::default();
                    k.apply(&mut probe, v)?;
                    let field = field_of(v);
                    match axes
                        .iter_mut()
                        .find(|a| a.knob.name == k.name && field_of(&a.values[0]) == field)
                    {
                        Some(a) => a.values.push(v.clone()),
                        None => axes.push(Axis {
                            knob: k,
                            values: vec![v.clone()],
                        }),
                    }
                }
                continue;
            }
            let mut out = Vec::new();
            for v in values.iter() {
                if v.contains(',') {
                    // One value with commas (a precision plan): checked, kept whole.
                    k.apply(&mut Spec::default(), v)?;
                    out.push(v.clone());
                } else {
                    out.extend(Axis::parse(k, v)?.values);
                }
            }
            if out.is_empty() {
                return Err(Error::field(
                    "keyword arguments",
                    k.name.replace('-', "_"),
                    "an empty list",
                    "at least one value",
                ));
            }
            axes.push(Axis {
                knob: k,
                values: out,
            });
        }
    }
    for required in ["model", "chip"] {
        if !axes.iter().any(|a| a.knob.name == required) {
            return Err(Error::field(
                "keyword arguments",
                required,
                "nothing",
                "at least one value (or \"all\")",
            ));
        }
    }
    Ok(Grid {
        base: Spec::default(),
        axes,
    })
}

/// Runs the grid (refused above `max_points`) and returns its rows as JSON lines, in grid order.
pub fn sweep_jsonl(settings: &[(String, Vec<String>)], max_points: u64) -> Result<Vec<u8>> {
    let g = grid(settings)?;
    let n = g.len()?;
    if n > max_points {
        return Err(Error::field(
            "keyword arguments",
            "max_points",
            format!("a grid of {n} points"),
            format!("at most {max_points} points; raise max_points if you mean it"),
        ));
    }
    let mut out = Vec::new();
    let writer = RowWriter::new(RowFormat::Jsonl, kvsim::sweep::columns(&g));
    kvsim::sweep::run(&g, &writer, &mut out, &|_| {})?;
    Ok(out)
}
