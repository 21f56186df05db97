//! `losskit list`: the catalogue, as a table grouped by family or as JSON.

use losskit::{Bound, Family, InputKind, InputSpec, LossInfo, ParamKind, ParamSpec, Range, Role};
use serde_json::{json, Value};

use crate::{emit, Failure};

/// List every loss: name, family, inputs, parameters with defaults and ranges, summary.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print a JSON array with every catalogue field of every loss instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Runs `losskit list`.
pub fn run(args: &Args) -> Result<(), Failure> {
    if args.json {
        let all: Vec<Value> = losskit::catalogue().map(to_json).collect();
        // Serialising a `Value` built from strings, numbers and bools cannot fail.
        let text = serde_json::to_string_pretty(&Value::Array(all))
            .map_err(|e| Failure(format!("cannot serialise the catalogue: {e}")))?;
        emit(&format!("{text}\n"))
    } else {
        emit(&table())
    }
}

/// The losses grouped by family, in catalogue order.
fn by_family() -> Vec<(Family, Vec<&'static LossInfo>)> {
    let mut groups: Vec<(Family, Vec<&'static LossInfo>)> = Vec::new();
    for info in losskit::catalogue() {
        match groups.iter_mut().find(|(f, _)| *f == info.family) {
            Some((_, v)) => v.push(info),
            None => groups.push((info.family, vec![info])),
        }
    }
    groups
}

fn table() -> String {
    let width = losskit::catalogue()
        .map(|l| l.name.len())
        .max()
        .unwrap_or(0)
        + 2;
    let pad = " ".repeat(width + 2);
    let count = losskit::catalogue().count();
    let mut s = format!("{count} losses; `losskit explain LOSS` shows one in full.\n");
    for (family, losses) in by_family() {
        s.push_str(&format!("\n{family}\n"));
        for l in losses {
            s.push_str(&format!("  {:<width$}{}\n", l.name, l.summary));
            s.push_str(&format!("{pad}inputs  {}\n", input_list(l.inputs)));
            if !l.params.is_empty() {
                let params: Vec<String> = l.params.iter().map(param_short).collect();
                s.push_str(&format!("{pad}params  {}\n", params.join(", ")));
            }
        }
    }
    s
}

/// `input, target, [weight]`: optional inputs in brackets.
pub fn input_list(inputs: &[InputSpec]) -> String {
    let names: Vec<String> = inputs
        .iter()
        .map(|i| {
            if i.required {
                i.name.to_owned()
            } else {
                format!("[{}]", i.name)
            }
        })
        .collect();
    names.join(", ")
}

/// `delta=1 (> 0)`, `log_input=true`, `reduction=mean (mean|sum)`: the parameter as
/// `--param` takes it, at its default, with its range.
pub fn param_short(p: &ParamSpec) -> String {
    match p.kind {
        ParamKind::Float { default, range } => format!("{}={} ({range})", p.name, number(default)),
        ParamKind::Int { default, range } => format!("{}={default} ({range})", p.name),
        ParamKind::Bool { default } => format!("{}={default}", p.name),
        ParamKind::Choice { default, options } => {
            format!("{}={default} ({})", p.name, options.join("|"))
        }
        _ => p.name.to_owned(),
    }
}

/// A default as people write it: `1`, `0.5`, `1e-8`.
pub fn number(v: f64) -> String {
    if v == 0.0 || (1e-4..1e6).contains(&v.abs()) {
        format!("{v}")
    } else {
        format!("{v:e}")
    }
}

pub fn role(r: Role) -> &'static str {
    match r {
        Role::Prediction => "prediction",
        Role::Target => "target",
        Role::Weight => "weight",
        _ => "other",
    }
}

pub fn kind(k: InputKind) -> &'static str {
    match k {
        InputKind::Float => "float",
        InputKind::Index => "index",
        InputKind::FloatOrIndex => "float_or_index",
        _ => "other",
    }
}

fn bound(b: Bound) -> Value {
    match b {
        Bound::Unbounded => Value::Null,
        Bound::Inclusive(v) => json!({ "value": v, "inclusive": true }),
        Bound::Exclusive(v) => json!({ "value": v, "inclusive": false }),
    }
}

fn range(r: Range) -> Value {
    json!({ "text": r.to_string(), "min": bound(r.lo), "max": bound(r.hi) })
}

fn to_json(l: &LossInfo) -> Value {
    let inputs: Vec<Value> = l
        .inputs
        .iter()
        .map(|i| {
            json!({
                "name": i.name,
                "role": role(i.role),
                "kind": kind(i.kind),
                "required": i.required,
                "shape": i.shape,
            })
        })
        .collect();
    let params: Vec<Value> = l
        .params
        .iter()
        .map(|p| {
            let (kind, default, range, options) = match p.kind {
                ParamKind::Float { default, range: r } => {
                    ("float", json!(default), range(r), Value::Null)
                }
                ParamKind::Int { default, range: r } => {
                    ("int", json!(default), range(r), Value::Null)
                }
                ParamKind::Bool { default } => ("bool", json!(default), Value::Null, Value::Null),
                ParamKind::Choice { default, options } => {
                    ("choice", json!(default), Value::Null, json!(options))
                }
                _ => ("other", Value::Null, Value::Null, Value::Null),
            };
            json!({
                "name": p.name,
                "kind": kind,
                "default": default,
                "range": range,
                "options": options,
                "doc": p.doc,
            })
        })
        .collect();
    let reductions: Vec<&str> = l.reductions.iter().map(|r| r.name()).collect();
    json!({
        "name": l.name,
        "family": l.family.name(),
        "summary": l.summary,
        "inputs": inputs,
        "params": params,
        "reductions": reductions,
        "formula": l.formula,
        "gradient": l.gradient,
        "when_to_use": l.when_to_use,
        "pitfalls": l.pitfalls,
        "reference": l.reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_written() {
        assert_eq!(number(1.0), "1");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(1e-8), "1e-8");
        assert_eq!(number(1e-6), "1e-6");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(-2.5), "-2.5");
    }

    #[test]
    fn huber_row_shows_its_parameter_at_its_default() {
        let huber = losskit::find("huber").unwrap();
        assert_eq!(input_list(huber.inputs), "input, target, [weight]");
        assert_eq!(param_short(&huber.params[0]), "delta=1 (> 0)");
        let quantile = losskit::find("quantile").unwrap();
        assert_eq!(param_short(&quantile.params[0]), "tau=0.5 (in (0, 1))");
    }
}
