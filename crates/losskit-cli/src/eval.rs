//! `losskit eval`: one loss and its gradients on `.npy` arrays.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::builder::{PossibleValuesParser, TypedValueParser};
use losskit::{Dtype, Evaluation, FloatArray, NamedArray, Params, ReductionMode};

use crate::npy::{self, Array, Data, Staged};
use crate::{emit, Failure};

const LONG_ABOUT: &str = "\
Evaluate a loss, and optionally its gradients, on arrays saved as NumPy .npy files.

Inputs are little-endian, C-order .npy files of dtype float16 (`<f2`), bfloat16 (`<V2`, as \
np.save stores an ml_dtypes bfloat16 array: every 2-byte void array is read as bfloat16), \
float32, float64, int32, int64, uint8 or bool. The compute type is f64 if the first \
prediction input (`input` for most losses) is float64, else f32; other float inputs are \
converted to it. A half-precision input's gradient is written in its own dtype. A file is \
read header first (at most 10000 bytes, exactly the keys descr, fortran_order and shape), \
then exactly the data its header declares; a file of any other size is refused.

On success stdout holds exactly one JSON object on one line:
  {\"loss\":\"huber\",\"reduction\":\"mean\",\"dtype\":\"f32\",\"shape\":[4],\"value\":0.1875}
`shape` is the shape of the unreduced loss. `value` is the reduced loss, printed as the \
shortest decimal that reads back to the same f32 (or f64) value. JSON has no infinities or \
NaN: a non-finite value is printed as the string \"inf\", \"-inf\" or \"nan\" (Python's \
float() reads all three). With `--reduction none`, `value` is null and the per-element losses \
go to the file given with `--out`, which is then required (`--out` with any other reduction is \
an error, since only `none` produces per-element losses).

Outputs are written only after the whole evaluation succeeded, each first to a temporary file \
beside its destination; after the JSON line they are all renamed into place, so a failed run \
leaves no partial file and no output of a failed run replaces an old one. A destination that \
is a symbolic link is replaced by the file (the link's target is not written); one that is an \
input file, a directory, a path ending in `/` or a device (`/dev/null`) is refused.

Errors (unknown loss, input or parameter, a missing input, mismatched shapes, a value out of \
its domain, an unreadable file...) exit with status 2, print nothing on stdout and one message \
on stderr naming the loss, the argument and the shapes or values at fault.";

const AFTER_HELP: &str = "\
Example:
  losskit eval huber --input input=pred.npy --input target=y.npy --param delta=0.5 --grad input=g.npy

`losskit explain LOSS` lists a loss's inputs and parameters.";

/// Evaluate a loss and its gradients on .npy arrays; print the result as one JSON line.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Args {
    /// The loss, by its catalogue name (`losskit list` shows them).
    #[arg(value_name = "LOSS")]
    pub loss: String,

    /// An input array: NAME is one of the loss's inputs (`input`, `target`, `weight`, `var`, ...).
    #[arg(long = "input", value_name = "NAME=FILE", value_parser = name_path)]
    pub inputs: Vec<(String, PathBuf)>,

    /// A parameter: numbers (`delta=0.5`), booleans (`full=true`) or words.
    #[arg(long = "param", value_name = "KEY=VALUE", value_parser = key_value)]
    pub params: Vec<(String, String)>,

    /// How the per-element losses are reduced.
    #[arg(long, value_name = "MODE", default_value = "mean", value_parser = reduction())]
    pub reduction: ReductionMode,

    /// Write d(loss)/d(NAME) to FILE as .npy, with the shape and dtype of input NAME (with
    /// `none`: the gradient of the sum). NAME must be a prediction.
    #[arg(long = "grad", value_name = "NAME=FILE", value_parser = name_path)]
    pub grads: Vec<(String, PathBuf)>,

    /// With `--reduction none`: write the per-element losses to FILE as .npy, in the compute type.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn split_pair(s: &str, what: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("expected {what}, e.g. `input=pred.npy`")),
    }
}

pub(crate) fn name_path(s: &str) -> Result<(String, PathBuf), String> {
    split_pair(s, "NAME=FILE").map(|(k, v)| (k, PathBuf::from(v)))
}

pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err("expected KEY=VALUE, e.g. `delta=0.5`".to_owned()),
    }
}

fn reduction() -> impl TypedValueParser<Value = ReductionMode> {
    PossibleValuesParser::new(ReductionMode::ALL.map(ReductionMode::name))
        .try_map(|s| s.parse::<ReductionMode>())
}

/// The `--input NAME=FILE` arrays of `loss`, read.
pub(crate) fn read_inputs(loss: &str, inputs: &[(String, PathBuf)]) -> Result<Vec<Array>, Failure> {
    inputs
        .iter()
        .map(|(name, path)| {
            npy::read(path).map_err(|e| {
                Failure(format!(
                    "{loss}: cannot read `{name}` from {}: {e}",
                    path.display()
                ))
            })
        })
        .collect()
}

/// The arrays of [`read_inputs`] under their names.
pub(crate) fn named<'a>(
    inputs: &'a [(String, PathBuf)],
    arrays: &'a [Array],
) -> Vec<NamedArray<'a>> {
    inputs
        .iter()
        .zip(arrays)
        .map(|((name, _), a)| NamedArray {
            name,
            data: a.data(),
            dims: &a.dims,
        })
        .collect()
}

/// One output file and what goes into it.
struct Output<'a> {
    /// What the file holds, for messages: "the gradient of `input`".
    what: String,
    path: &'a Path,
    dims: Vec<usize>,
    data: FloatArray,
}

/// Runs `losskit eval`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let info = losskit::find(&args.loss)?;
    let loss = info.name;

    let mut seen = HashSet::new();
    for (key, _) in &args.params {
        if !seen.insert(key.as_str()) {
            return Err(Failure(format!(
                "{loss}: parameter `{key}` is given more than once"
            )));
        }
    }
    let params = Params::parse(info, &args.params)?;

    match (args.reduction, &args.out) {
        (ReductionMode::None, None) => {
            return Err(Failure(format!(
                "{loss}: reduction `none` gives one loss per element; pass `--out FILE` to receive them as .npy"
            )))
        }
        (r, Some(_)) if r != ReductionMode::None => {
            return Err(Failure(format!(
                "{loss}: `--out` receives per-element losses, which only `--reduction none` produces (got `{r}`)"
            )))
        }
        _ => {}
    }
    check_outputs(loss, args)?;
    check_not_inputs(loss, args)?;

    let arrays = read_inputs(loss, &args.inputs)?;
    let named = named(&args.inputs, &arrays);
    let grad_names: Vec<&str> = args.grads.iter().map(|(n, _)| n.as_str()).collect();

    let result = losskit::evaluate_with(info, &named, &params, args.reduction, &grad_names)?;

    let line = json_line(&result);
    let mut outputs = Vec::new();
    for (name, grad) in result.grads {
        let path = args
            .grads
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_path());
        let input = args
            .inputs
            .iter()
            .zip(&arrays)
            .find(|((n, _), _)| n == name);
        let (Some(path), Some((_, array))) = (path, input) else {
            return Err(Failure(format!(
                "{loss}: `--grad {name}` needs the input itself: pass `--input {name}=FILE`"
            )));
        };
        outputs.push(Output {
            what: format!("the gradient of `{name}`"),
            path,
            dims: array.dims.clone(),
            data: in_dtype_of(grad, array),
        });
    }
    if let (Some(path), Some(losses)) = (&args.out, result.per_element) {
        outputs.push(Output {
            what: "the per-element losses".to_owned(),
            path,
            dims: result.shape,
            data: losses,
        });
    }
    write_all(loss, &outputs, &line)
}

/// Refuses two outputs aimed at one file (the second would silently replace the first) and
/// a gradient asked twice.
fn check_outputs(loss: &str, args: &Args) -> Result<(), Failure> {
    let mut names = HashSet::new();
    let mut targets: Vec<(String, &Path)> = Vec::new();
    for (name, path) in &args.grads {
        if !names.insert(name.as_str()) {
            return Err(Failure(format!(
                "{loss}: `--grad {name}` is given more than once"
            )));
        }
        targets.push((format!("`--grad {name}`"), path));
    }
    if let Some(path) = &args.out {
        targets.push(("`--out`".to_owned(), path));
    }
    // `./g.npy` and `g.npy` are one file (symbolic links are not followed: the files need
    // not exist yet).
    let same = |a: &Path, b: &Path| match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    for (i, (a, pa)) in targets.iter().enumerate() {
        if let Some((b, _)) = targets[..i].iter().find(|(_, pb)| same(pb, pa)) {
            return Err(Failure(format!(
                "{loss}: {b} and {a} both write to {}",
                pa.display()
            )));
        }
    }
    Ok(())
}

/// Refuses an output that would replace one of the inputs (the same file, symbolic links
/// followed): the run would destroy what it read.
fn check_not_inputs(loss: &str, args: &Args) -> Result<(), Failure> {
    let outs = args
        .grads
        .iter()
        .map(|(n, p)| (format!("`--grad {n}`"), p))
        .chain(args.out.iter().map(|p| ("`--out`".to_owned(), p)));
    for (flag, out) in outs {
        if let Some((name, _)) = args.inputs.iter().find(|(_, p)| npy::same_file(p, out)) {
            return Err(Failure(format!(
                "{loss}: {flag} would overwrite input `{name}` ({}); write it to another file",
                out.display()
            )));
        }
    }
    Ok(())
}

/// A gradient in the dtype of the input it belongs to (the compute type may differ when, say,
/// `var` is float64 and `input` float32; half-precision gradients come back as such).
fn in_dtype_of(grad: FloatArray, input: &Array) -> FloatArray {
    match (grad, &input.data) {
        (FloatArray::F32(g), Data::F64(_)) => {
            FloatArray::F64(g.into_iter().map(f64::from).collect())
        }
        (FloatArray::F64(g), Data::F32(_)) => {
            FloatArray::F32(g.into_iter().map(|x| x as f32).collect())
        }
        (g, _) => g,
    }
}

/// Stages every output beside its destination, prints `line`, then moves them all into place
/// at once ([`npy::commit_all`]): on any failure before the line, nothing is printed and no
/// output is left. The renames come last; they fail only if the directory changed since
/// staging, and then every output is taken back out (the error still exits 2).
fn write_all(loss: &str, outputs: &[Output<'_>], line: &str) -> Result<(), Failure> {
    let fail = |o: &Output<'_>, e: std::io::Error| {
        Failure(format!(
            "{loss}: cannot write {} to {}: {e}",
            o.what,
            o.path.display()
        ))
    };
    let mut staged = Vec::with_capacity(outputs.len());
    for o in outputs {
        let bytes = npy::encode(&o.dims, &o.data).map_err(|e| fail(o, e))?;
        staged.push(Staged::write(o.path, &bytes).map_err(|e| fail(o, e))?);
    }
    emit(line)?;
    npy::commit_all(staged).map_err(|(i, e)| fail(&outputs[i], e))
}

/// The result as one line of JSON, fields in the documented order.
fn json_line(e: &Evaluation) -> String {
    let shape: Vec<String> = e.shape.iter().map(usize::to_string).collect();
    let value = e
        .value
        .map_or_else(|| "null".to_owned(), |v| json_number(v, e.dtype));
    format!(
        "{{\"loss\":{},\"reduction\":\"{}\",\"dtype\":\"{}\",\"shape\":[{}],\"value\":{}}}\n",
        serde_json::Value::from(e.loss),
        e.reduction.name(),
        e.dtype.name(),
        shape.join(","),
        value
    )
}

/// A finite value as the shortest decimal that reads back to the same value of the compute
/// type (Rust's `{:?}` is that, and valid JSON: `0.1875`, `1e-7`, `3.0`); a non-finite one as
/// the string `"inf"`, `"-inf"` or `"nan"`, since JSON has no such numbers.
fn json_number(v: f64, dtype: Dtype) -> String {
    if v.is_nan() {
        "\"nan\"".to_owned()
    } else if v == f64::INFINITY {
        "\"inf\"".to_owned()
    } else if v == f64::NEG_INFINITY {
        "\"-inf\"".to_owned()
    } else {
        match dtype {
            // The kernel computed an f32: its f64 widening would print spurious digits.
            Dtype::F32 => format!("{:?}", v as f32),
            Dtype::F64 => format!("{v:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evaluation(dtype: Dtype, value: Option<f64>) -> Evaluation {
        Evaluation {
            loss: "huber",
            reduction: ReductionMode::Mean,
            dtype,
            shape: vec![2, 3],
            value,
            per_element: None,
            grads: Vec::new(),
        }
    }

    #[test]
    fn json_prints_the_compute_type_shortest_form() {
        let line = json_line(&evaluation(Dtype::F32, Some(f64::from(0.1f32))));
        assert_eq!(line, "{\"loss\":\"huber\",\"reduction\":\"mean\",\"dtype\":\"f32\",\"shape\":[2,3],\"value\":0.1}\n");
        let line = json_line(&evaluation(Dtype::F64, Some(f64::from(0.1f32))));
        assert!(line.ends_with("\"value\":0.10000000149011612}\n"), "{line}");
        let line = json_line(&evaluation(Dtype::F64, Some(1e-300)));
        assert!(line.ends_with("\"value\":1e-300}\n"), "{line}");
        let line = json_line(&evaluation(Dtype::F32, Some(3.0)));
        assert!(line.ends_with("\"value\":3.0}\n"), "{line}");
    }

    #[test]
    fn json_spells_non_finite_values_as_strings() {
        for (v, s) in [
            (f64::INFINITY, "\"inf\""),
            (f64::NEG_INFINITY, "\"-inf\""),
            (f64::NAN, "\"nan\""),
        ] {
            for dtype in [Dtype::F32, Dtype::F64] {
                let line = json_line(&evaluation(dtype, Some(v)));
                assert!(line.ends_with(&format!("\"value\":{s}}}\n")), "{line}");
            }
        }
        assert!(json_line(&evaluation(Dtype::F32, None)).ends_with("\"value\":null}\n"));
    }

    #[test]
    fn pairs_split_at_the_first_equals_sign() {
        assert_eq!(
            name_path("input=a=b.npy").unwrap(),
            ("input".to_owned(), PathBuf::from("a=b.npy"))
        );
        assert!(name_path("a.npy").is_err());
        assert!(name_path("=a.npy").is_err());
        assert!(name_path("input=").is_err());
        assert_eq!(
            key_value("delta=").unwrap(),
            ("delta".to_owned(), String::new())
        );
    }
}
