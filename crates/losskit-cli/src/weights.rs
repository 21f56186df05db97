//! `losskit weights`: class-imbalance weights from counts or a label file, as a table or JSON,
//! optionally saved as `.npy` for `losskit eval`.
//!
//! A printer over [`losskit::weights`]: every number comes from the library unchanged.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use clap::{ArgGroup, ValueEnum};
use losskit::weights::{
    Absent, ClassWeightTable, ClassWeights, PosWeight, PosWeightTable, Scheme, DEFAULT_BETA,
};
use losskit::{FloatArray, Real, Tensor};
use serde_json::json;

use crate::npy::{self, Array, Data, Staged};
use crate::{emit, Failure};

/// The name every message of this subcommand starts with, as the library's.
const NAME: &str = "weights";

const LONG_ABOUT: &str = "\
Class-imbalance weights from class counts or a label file: per-class `weight`s for cross \
entropy, NLL, Dice..., or with `--pos-weight` per-label `pos_weight`s for BCE with logits.

Class weights, with n_c the count of class c, N the number of samples and C the number of \
classes (`--scheme`):
  inverse        N / (C n_c)                  scikit-learn's \"balanced\" weights (the default)
  inverse_sqrt   sqrt(N / (C n_c))            a milder correction
  effective      (1 - beta) / (1 - beta^n_c)  Cui et al. 2019; `--beta` in [0, 1), default 0.999
`--normalize` scales them to sum to C. A class with no samples is an error; with `--absent \
zero` it gets weight 0 and the others are computed over the classes that have samples.

Counts come from `--counts 900,90,10` or from `--labels FILE`, a .npy of integer class \
indices (int32, int64, uint8 or bool) of any shape; C is the largest label plus one unless \
`--num-classes` is given, so pass it when the last classes may have no label. With \
`--counts`, `--num-classes C` adds classes with 0 samples up to C (under `--absent error` \
that is an error naming the first one; `--absent zero` gives them weight 0); fewer than the \
counts given is an error.

`--pos-weight`: per label, negatives / positives (PyTorch's `pos_weight` of \
BCEWithLogitsLoss), from `--targets FILE`, a .npy of 0/1 targets of shape [N] or [N, L] \
(float, int or bool), or from each label's positive count with `--counts P,P,... --total N`. \
A label with no positive sample is an error, or gets 0 with `--absent zero`.

Output: a table under a header line naming the scheme. With `--json`, one JSON object on one \
line instead, for class weights:
  {\"scheme\":\"inverse\",\"beta\":null,\"normalized\":false,\"absent\":\"error\",\"classes\":3,\"total\":1000,\"counts\":[900,90,10],\"weights\":[0.37037037037037035,3.7037037037037037,33.333333333333336]}
(`beta` is a number for `effective`), and for `--pos-weight`:
  {\"scheme\":\"pos_weight\",\"absent\":\"error\",\"labels\":2,\"total\":4,\"positives\":[1,2],\"negatives\":[3,2],\"weights\":[3.0,1.0]}
Weights are computed in f64; JSON prints each as the shortest decimal that reads back to the \
same f64, the table rounds them to six significant digits of the smallest.

`--out FILE` also writes the weights as a one-dimensional .npy (float32, or float64 with \
`--dtype f64`), ready for `losskit eval LOSS --input weight=FILE` (`pos_weight=FILE` with \
`--pos-weight`). It is written only once everything succeeded.

Errors (a class with no samples under `--absent error`, empty counts, a count that is not a \
whole number, a label out of range, `beta` outside [0, 1), an unreadable file...) exit with \
status 2, print nothing on stdout and one message on stderr.";

const AFTER_HELP: &str = "\
Examples:
  losskit weights --counts 900,90,10
  losskit weights --counts 900,90,10 --scheme effective --beta 0.999 --normalize --json
  losskit weights --labels y.npy --num-classes 5 --out class_weight.npy
  losskit weights --pos-weight --targets y.npy --out pos_weight.npy";

/// Class-imbalance weights from counts or labels: a table, or one JSON line.
#[derive(Debug, clap::Args)]
#[command(long_about = LONG_ABOUT, after_help = AFTER_HELP)]
#[command(group(ArgGroup::new("source").required(true).args(["counts", "labels", "targets"])))]
pub struct Args {
    /// Sample counts per class, comma-separated (with `--pos-weight`: positive counts per
    /// label, with `--total`).
    #[arg(long, value_name = "N,N,...", value_parser = count_list, allow_hyphen_values = true)]
    pub counts: Option<Counts>,

    /// A .npy of integer class indices (int32, int64, uint8 or bool), any shape.
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,

    /// The number of classes C: with `--labels`, needed when a class at the end has no label
    /// (default: the largest label plus one); with `--counts`, classes after the counts given
    /// have 0 samples (the `--absent` rule applies to them). Fewer than the counts is an error.
    #[arg(long, value_name = "C")]
    pub num_classes: Option<usize>,

    /// How a class's weight follows from its count.
    #[arg(long, value_enum, value_name = "SCHEME")]
    pub scheme: Option<SchemeArg>,

    /// beta of `--scheme effective`, in [0, 1) [default: 0.999].
    #[arg(long, value_name = "BETA", allow_negative_numbers = true)]
    pub beta: Option<f64>,

    /// Scale the class weights to sum to the number of classes.
    #[arg(long)]
    pub normalize: bool,

    /// Per-label `pos_weight` (negatives / positives) for BCE instead of class weights.
    #[arg(long, conflicts_with_all = ["scheme", "beta", "normalize"])]
    pub pos_weight: bool,

    /// With `--pos-weight`: a .npy of 0/1 targets, `[N]` or `[N, L]` (float, int or bool).
    #[arg(long, value_name = "FILE", requires = "pos_weight")]
    pub targets: Option<PathBuf>,

    /// With `--pos-weight --counts`: the number of samples.
    #[arg(
        long,
        value_name = "N",
        requires = "pos_weight",
        conflicts_with = "targets"
    )]
    pub total: Option<u64>,

    /// What a class with no samples (a label with no positives) gets.
    #[arg(long, value_enum, value_name = "POLICY", default_value_t = AbsentArg::Error)]
    pub absent: AbsentArg,

    /// Print one JSON object on one line instead of the table.
    #[arg(long)]
    pub json: bool,

    /// Also write the weights to FILE as a one-dimensional .npy.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// The dtype of `--out`.
    #[arg(long, value_enum, requires = "out", default_value_t = DtypeArg::F32)]
    pub dtype: DtypeArg,
}

/// The counts of `--counts`, possibly none (`--counts ''`, refused by the library).
#[derive(Debug, Clone, PartialEq)]
pub struct Counts(pub Vec<u64>);

/// `900,90,10` (spaces allowed around the numbers); an empty string is no counts at all.
fn count_list(s: &str) -> Result<Counts, String> {
    if s.trim().is_empty() {
        return Ok(Counts(Vec::new()));
    }
    s.split(',')
        .map(|item| {
            let item = item.trim();
            item.parse::<u64>()
                .map_err(|_| format!("`{item}` is not a count (a whole number >= 0)"))
        })
        .collect::<Result<Vec<u64>, String>>()
        .map(Counts)
}

/// `--scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemeArg {
    /// N / (C n_c), scikit-learn's "balanced" (the default).
    Inverse,
    /// sqrt(N / (C n_c)).
    #[value(name = "inverse_sqrt")]
    InverseSqrt,
    /// (1 - beta) / (1 - beta^n_c), Cui et al.'s class-balanced weights.
    Effective,
}

/// `--absent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AbsentArg {
    /// An error naming the class.
    Error,
    /// Weight 0; the others computed over the classes that have samples.
    Zero,
}

/// `--dtype`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DtypeArg {
    /// float32.
    F32,
    /// float64.
    F64,
}

/// What was computed, ready to print.
enum Table {
    Class(ClassWeightTable),
    /// The table and the number of samples.
    Pos(PosWeightTable, u64),
}

/// Runs `losskit weights`.
pub fn run(args: &Args) -> Result<(), Failure> {
    let absent = match args.absent {
        AbsentArg::Error => Absent::Error,
        AbsentArg::Zero => Absent::Zero,
    };
    if let Some(out) = &args.out {
        let inputs = [("--labels", &args.labels), ("--targets", &args.targets)];
        if let Some((flag, _)) = inputs
            .iter()
            .find(|(_, p)| p.as_ref().is_some_and(|p| npy::same_file(p, out)))
        {
            return Err(Failure(format!(
                "{NAME}: `--out` would overwrite the `{flag}` file ({}); write it to another file",
                out.display()
            )));
        }
    }
    let table = if args.pos_weight {
        pos_weights(args, absent)?
    } else {
        class_weights(args, absent)?
    };
    let staged = match &args.out {
        Some(path) => Some(stage(path, table.weights(), args.dtype)?),
        None => None,
    };
    if args.json {
        emit(&format!("{}\n", table.json()))?;
    } else {
        emit(&format!(
            "{}{}\n",
            table.text(),
            hint(&table, args.out.as_deref(), args.dtype)
        ))?;
    }
    match (staged, &args.out) {
        (Some(s), Some(path)) => npy::commit_all(vec![s]).map_err(|(_, e)| write_failure(path, e)),
        _ => Ok(()),
    }
}

fn class_weights(args: &Args, absent: Absent) -> Result<Table, Failure> {
    let scheme = match (args.scheme, args.beta) {
        (None | Some(SchemeArg::Inverse), None) => Scheme::Inverse,
        (Some(SchemeArg::InverseSqrt), None) => Scheme::InverseSqrt,
        (Some(SchemeArg::Effective), beta) => Scheme::Effective {
            beta: beta.unwrap_or(DEFAULT_BETA),
        },
        (scheme, Some(_)) => {
            let name = scheme.map_or("inverse", |s| match s {
                SchemeArg::InverseSqrt => "inverse_sqrt",
                _ => "inverse",
            });
            return Err(Failure(format!(
                "{NAME}: `--beta` is the parameter of `--scheme effective`; the `{name}` scheme has none"
            )));
        }
    };
    let weights = ClassWeights::new(scheme)?
        .normalize(args.normalize)
        .absent(absent);
    let table = match (&args.counts, &args.labels) {
        (Some(Counts(counts)), _) => match args.num_classes {
            Some(c) if c < counts.len() => {
                return Err(Failure(format!(
                    "{NAME}: `--num-classes {c}` is fewer than the {} counts given",
                    counts.len()
                )))
            }
            Some(c) => {
                let mut padded = counts.clone();
                padded.resize(c, 0);
                weights.from_counts(&padded)
            }
            None => weights.from_counts(counts),
        },
        (None, Some(path)) => {
            let array = read(path, "labels")?;
            let labels = class_indices(&array)?;
            weights.from_labels(tensor(&labels, &array.dims, "labels")?, args.num_classes)
        }
        // clap requires one source, and `--targets` requires `--pos-weight`.
        (None, None) => {
            return Err(Failure(format!(
                "{NAME}: class weights need `--counts N,N,...` or `--labels FILE`"
            )))
        }
    };
    table.map(Table::Class).map_err(failure)
}

fn pos_weights(args: &Args, absent: Absent) -> Result<Table, Failure> {
    if args.num_classes.is_some() {
        return Err(Failure(format!(
            "{NAME}: `--num-classes` counts classes, for class weights; `--pos-weight` takes its labels from the columns of `--targets` or the `--counts` given"
        )));
    }
    let weights = PosWeight::new().absent(absent);
    match (&args.counts, &args.targets) {
        (Some(Counts(positives)), _) => {
            let Some(total) = args.total else {
                return Err(Failure(format!(
                    "{NAME}: `--pos-weight --counts` takes the positive count of each label; pass the number of samples with `--total N`"
                )));
            };
            let table = weights.from_counts(positives, total).map_err(failure)?;
            Ok(Table::Pos(table, total))
        }
        (None, Some(path)) => {
            let array = read(path, "targets")?;
            let dims = &array.dims;
            let table = match &array.data {
                Data::F32(v) => from_targets(weights, v, dims),
                Data::F64(v) => from_targets(weights, v, dims),
                Data::I32(v) => from_targets(weights, &widen(v, f64::from), dims),
                Data::I64(v) => from_targets(weights, &widen(v, |x| x as f64), dims),
                Data::U8(v) => from_targets(weights, &widen(v, f64::from), dims),
                Data::Bool(v) => from_targets(weights, &widen(v, |x| f64::from(u8::from(x))), dims),
                Data::F16(v) => from_targets(weights, &widen(v, f64::from), dims),
                Data::BF16(v) => from_targets(weights, &widen(v, f64::from), dims),
            }?;
            // `from_targets` accepted `[N]` or `[N, L]`, N >= 1.
            let total = dims.first().map_or(0, |&n| n as u64);
            Ok(Table::Pos(table, total))
        }
        // `--labels` is the only other source clap lets through.
        (None, None) => Err(Failure(format!(
            "{NAME}: `--pos-weight` reads 0/1 targets from `--targets FILE` (or positive counts from `--counts P,P,... --total N`); `--labels` holds class indices, for class weights"
        ))),
    }
}

fn from_targets<T: Real>(
    weights: PosWeight,
    data: &[T],
    dims: &[usize],
) -> Result<PosWeightTable, Failure> {
    weights
        .from_targets(tensor(data, dims, "targets")?)
        .map_err(failure)
}

fn widen<T: Copy>(v: &[T], f: impl Fn(T) -> f64) -> Vec<f64> {
    v.iter().map(|&x| f(x)).collect()
}

/// The labels as `i64` class indices; float labels are refused rather than truncated.
fn class_indices(array: &Array) -> Result<Cow<'_, [i64]>, Failure> {
    Ok(match &array.data {
        Data::I64(v) => Cow::Borrowed(v.as_slice()),
        Data::I32(v) => Cow::Owned(v.iter().map(|&x| i64::from(x)).collect()),
        Data::U8(v) => Cow::Owned(v.iter().map(|&x| i64::from(x)).collect()),
        Data::Bool(v) => Cow::Owned(v.iter().map(|&x| i64::from(x)).collect()),
        Data::F32(_) | Data::F64(_) | Data::F16(_) | Data::BF16(_) => {
            return Err(losskit::Error::Dtype {
                loss: NAME,
                arg: "labels",
                actual: array.data().dtype(),
                expected: "integer class indices (int32, int64, uint8 or bool); save them with `arr.astype(np.int64)`",
            }
            .into())
        }
    })
}

fn tensor<'a, T>(data: &'a [T], dims: &[usize], arg: &str) -> Result<Tensor<'a, T>, Failure> {
    Tensor::new(data, dims).map_err(|e| Failure(format!("{NAME}: `{arg}`: {e}")))
}

fn read(path: &Path, arg: &str) -> Result<Array, Failure> {
    npy::read(path).map_err(|e| {
        Failure(format!(
            "{NAME}: cannot read `{arg}` from {}: {e}",
            path.display()
        ))
    })
}

/// The library's message, with the flag that changes the absent policy.
fn failure(e: losskit::Error) -> Failure {
    match e {
        losskit::Error::ZeroCount { class: Some(_), .. } => {
            Failure(format!("{e} (`--absent zero`)"))
        }
        e => Failure::from(e),
    }
}

fn write_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure(format!(
        "{NAME}: cannot write the weights to {}: {e}",
        path.display()
    ))
}

/// The weights as a `.npy` staged beside `path` (moved into place after stdout's line).
fn stage(path: &Path, weights: &[f64], dtype: DtypeArg) -> Result<Staged, Failure> {
    let data = match dtype {
        DtypeArg::F32 => FloatArray::F32(weights.iter().map(|&w| w as f32).collect()),
        DtypeArg::F64 => FloatArray::F64(weights.to_vec()),
    };
    let fail = |e| write_failure(path, e);
    let bytes = npy::encode(&[weights.len()], &data).map_err(fail)?;
    Staged::write(path, &bytes).map_err(fail)
}

impl Table {
    fn weights(&self) -> &[f64] {
        match self {
            Table::Class(t) => t.weights(),
            Table::Pos(t, _) => t.weights(),
        }
    }

    /// The `losskit eval` input these weights feed.
    fn input(&self) -> &'static str {
        match self {
            Table::Class(_) => "weight",
            Table::Pos(..) => "pos_weight",
        }
    }

    fn json(&self) -> String {
        let value = match self {
            Table::Class(t) => json!({
                "scheme": t.scheme().name(),
                "beta": t.scheme().beta(),
                "normalized": t.normalized(),
                "absent": t.absent().name(),
                "classes": t.num_classes(),
                "total": t.total(),
                "counts": t.counts(),
                "weights": t.weights(),
            }),
            Table::Pos(t, total) => json!({
                "scheme": t.scheme_name(),
                "absent": t.absent().name(),
                "labels": t.num_labels(),
                "total": total,
                "positives": t.positives(),
                "negatives": t.negatives(),
                "weights": t.weights(),
            }),
        };
        value.to_string()
    }

    /// The header line and the table.
    fn text(&self) -> String {
        match self {
            Table::Class(t) => {
                let mut header = format!("{} weights", t.scheme().name());
                if let Some(beta) = t.scheme().beta() {
                    header.push_str(&format!(" (beta {beta})"));
                }
                if t.normalized() {
                    let present = t.counts().iter().filter(|&&n| n > 0).count();
                    header.push_str(&format!(", normalized to sum to {present}"));
                } else {
                    header.push_str(", not normalized");
                }
                if t.absent() == Absent::Zero {
                    header.push_str(", 0 for classes with no samples");
                }
                header.push_str(&format!(
                    ": {}, {}\n",
                    plural(t.num_classes() as u64, "class", "classes"),
                    plural(t.total(), "sample", "samples")
                ));
                let classes = t.rows().map(|(c, _, _)| c.to_string()).collect();
                let counts = t.rows().map(|(_, n, _)| n.to_string()).collect();
                header
                    + &columns(&[
                        ("class", classes),
                        ("count", counts),
                        ("weight", decimals(t.weights())),
                    ])
            }
            Table::Pos(t, total) => {
                let mut header = "pos_weight = negatives / positives".to_owned();
                if t.absent() == Absent::Zero {
                    header.push_str(", 0 for labels with no positives");
                }
                header.push_str(&format!(
                    ": {}, {}\n",
                    plural(t.num_labels() as u64, "label", "labels"),
                    plural(*total, "sample", "samples")
                ));
                let labels = t.rows().map(|(l, ..)| l.to_string()).collect();
                let positives = t.rows().map(|(_, p, _, _)| p.to_string()).collect();
                let negatives = t.rows().map(|(_, _, n, _)| n.to_string()).collect();
                header
                    + &columns(&[
                        ("label", labels),
                        ("positives", positives),
                        ("negatives", negatives),
                        ("pos_weight", decimals(t.weights())),
                    ])
            }
        }
    }
}

/// The last line of the table: where the weights went, or how to save them.
fn hint(table: &Table, out: Option<&Path>, dtype: DtypeArg) -> String {
    let input = table.input();
    match out {
        Some(path) => {
            let dtype = match dtype {
                DtypeArg::F32 => "float32",
                DtypeArg::F64 => "float64",
            };
            format!(
                "wrote {} ({dtype}, shape [{}]): `losskit eval LOSS ... --input {input}={}`",
                path.display(),
                table.weights().len(),
                path.display()
            )
        }
        None => format!(
            "`--out FILE` saves these weights as .npy for `losskit eval LOSS ... --input {input}=FILE`"
        ),
    }
}

/// `1 class`, `3 classes`.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Right-aligned columns under their titles, two spaces apart.
fn columns(cols: &[(&str, Vec<String>)]) -> String {
    let widths: Vec<usize> = cols
        .iter()
        .map(|(title, cells)| cells.iter().map(String::len).fold(title.len(), usize::max))
        .collect();
    let rows = cols.first().map_or(0, |(_, cells)| cells.len());
    let line = |cell: &dyn Fn(usize) -> String| {
        let cells: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| format!("{:>w$}", cell(i)))
            .collect();
        cells.join("  ") + "\n"
    };
    let mut s = line(&|i| cols[i].0.to_owned());
    for r in 0..rows {
        s.push_str(&line(&|i| cols[i].1.get(r).cloned().unwrap_or_default()));
    }
    s
}

/// The weights with one number of decimals, so that the points line up: enough for six
/// significant digits of the smallest non-zero weight, at least one. Scientific notation
/// when that would take more than 12 decimals.
fn decimals(weights: &[f64]) -> Vec<String> {
    let smallest = weights
        .iter()
        .copied()
        .filter(|&w| w > 0.0)
        .fold(f64::INFINITY, f64::min);
    let places = if smallest.is_finite() {
        5 - smallest.log10().floor() as i64
    } else {
        1
    };
    if places > 12 {
        weights.iter().map(|w| format!("{w:.5e}")).collect()
    } else {
        let places = places.max(1) as usize;
        weights.iter().map(|w| format!("{w:.places$}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_parse_as_whole_numbers() {
        assert_eq!(count_list("900,90,10"), Ok(Counts(vec![900, 90, 10])));
        assert_eq!(count_list(" 1 , 2 "), Ok(Counts(vec![1, 2])));
        assert_eq!(count_list(""), Ok(Counts(vec![])));
        assert_eq!(
            count_list("900,9.5"),
            Err("`9.5` is not a count (a whole number >= 0)".to_owned())
        );
        assert_eq!(
            count_list("1,,2"),
            Err("`` is not a count (a whole number >= 0)".to_owned())
        );
        assert_eq!(
            count_list("-1"),
            Err("`-1` is not a count (a whole number >= 0)".to_owned())
        );
    }

    #[test]
    fn decimals_keep_six_digits_of_the_smallest_weight() {
        assert_eq!(
            decimals(&[1000.0 / 2700.0, 1000.0 / 270.0, 1000.0 / 30.0]),
            ["0.370370", "3.703704", "33.333333"]
        );
        assert_eq!(decimals(&[1.0, 1.0]), ["1.00000", "1.00000"]);
        assert_eq!(decimals(&[2.0e6, 4.0e6]), ["2000000.0", "4000000.0"]);
        assert_eq!(decimals(&[1e-4, 0.0]), ["0.000100000", "0.000000000"]);
        assert_eq!(decimals(&[0.0, 0.0]), ["0.0", "0.0"]);
        assert_eq!(decimals(&[2e-12, 2.0]), ["2.00000e-12", "2.00000e0"]);
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(plural(1, "class", "classes"), "1 class");
        assert_eq!(plural(0, "label", "labels"), "0 labels");
        assert_eq!(plural(12, "sample", "samples"), "12 samples");
    }

    #[test]
    fn columns_align_right_under_their_titles() {
        let text = columns(&[
            ("class", vec!["0".into(), "10".into()]),
            ("weight", vec!["0.5".into(), "12.25".into()]),
        ]);
        assert_eq!(text, "class  weight\n    0     0.5\n   10   12.25\n");
    }
}
