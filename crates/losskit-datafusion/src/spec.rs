//! Which catalogue losses become SQL functions, and how their arguments bind: read from the
//! catalogue (inputs, parameters, documentation) and checked on the loss's own sample.

use std::fmt::Write as _;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{DocSection, Documentation, Signature, TypeSignature, Volatility};
use losskit::sample::Rng;
use losskit::{
    evaluate_with, ArrayData, Dtype, InputKind, InputSpec, LossInfo, NamedArray, ParamKind, Params,
    ReductionMode, Role,
};

/// The section of `SHOW FUNCTIONS` / the function docs the losses appear in.
pub(crate) const SECTION: DocSection = DocSection {
    include: true,
    label: "losskit losses",
    description: Some("Loss functions of the losskit catalogue, computed by losskit's kernels"),
};

/// One catalogue loss as SQL sees it.
#[derive(Debug, Clone)]
pub struct LossSpec {
    /// The catalogue entry.
    pub info: &'static LossInfo,
    /// The inputs that are columns, in argument order: the required ones, then the optional
    /// element-wise ones (a `weight` of `input`'s shape).
    pub columns: Vec<&'static InputSpec>,
    /// How many of `columns` are required.
    pub required: usize,
    /// Loss values per row (1: one per row, so a per-row scalar function exists too).
    pub per_row: usize,
}

impl LossSpec {
    /// The loss as an SQL function, if its inputs fit in table rows: every input a number or a
    /// list of numbers per row, and the loss of a row independent of the other rows (checked
    /// on the catalogue's sample: each of up to 65 rows alone gives the same bits as in the batch). Losses
    /// over a whole batch (the in-batch contrastive ones, batch-hard mining) and those whose
    /// rows are images (segmentation) are left out.
    pub fn from_catalogue(info: &'static LossInfo) -> Option<LossSpec> {
        let columns: Vec<&'static InputSpec> = info
            .inputs
            .iter()
            .filter(|i| i.required || is_elementwise(i))
            .collect();
        let required = columns.iter().filter(|i| i.required).count();
        if columns[..required].iter().any(|i| !i.required) {
            return None;
        }
        let sample = (info.sample)(640, &mut Rng::new(11));
        let arrays = sample.arrays(Dtype::F64);
        let named: Vec<NamedArray<'_>> = arrays
            .named()
            .into_iter()
            .filter(|a| columns.iter().any(|c| c.name == a.name))
            .collect();
        let n = *named.first()?.dims.first()?;
        if n < 2 || named.iter().any(|a| a.dims.len() > 2 || a.dims[0] != n) {
            return None;
        }
        let params = Params::defaults(info);
        let whole = evaluate_with(info, &named, &params, ReductionMode::None, &[]).ok()?;
        let pe = whole.per_element?.to_f64();
        if whole.shape.first() != Some(&n) || pe.len() % n != 0 {
            return None;
        }
        let per_row = pe.len() / n;
        let step = n.div_ceil(64);
        for row in (0..n).step_by(step).chain([n - 1]) {
            let dims: Vec<Vec<usize>> = named
                .iter()
                .map(|a| {
                    let mut d = a.dims.to_vec();
                    d[0] = 1;
                    d
                })
                .collect();
            let sliced: Vec<NamedArray<'_>> = named
                .iter()
                .zip(&dims)
                .map(|(a, d)| NamedArray {
                    name: a.name,
                    dims: d,
                    data: slice_row(a.data, row, a.data.len() / n),
                })
                .collect();
            let one = evaluate_with(info, &sliced, &params, ReductionMode::None, &[]).ok()?;
            let one = one.per_element?.to_f64();
            let want = &pe[row * per_row..(row + 1) * per_row];
            if one.len() != per_row
                || one
                    .iter()
                    .zip(want)
                    .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                return None;
            }
        }
        Some(LossSpec {
            info,
            columns,
            required,
            per_row,
        })
    }

    /// The signature: any argument types (checked when the arguments are bound), listed in
    /// `SHOW FUNCTIONS` with the required inputs as float64 (int64 for class indices).
    pub(crate) fn signature(&self) -> Signature {
        let example: Vec<DataType> = self.columns[..self.required]
            .iter()
            .map(|c| match c.kind {
                InputKind::Index | InputKind::FloatOrIndex => DataType::Int64,
                _ => DataType::Float64,
            })
            .collect();
        Signature::one_of(
            vec![TypeSignature::UserDefined, TypeSignature::Exact(example)],
            Volatility::Immutable,
        )
    }

    /// The name of the per-row scalar function, `<loss>_loss`.
    pub fn scalar_name(&self) -> String {
        format!("{}_loss", self.info.name)
    }

    /// The index target's `ignore_index` parameter, if the loss has one.
    pub(crate) fn has_ignore_index(&self) -> bool {
        self.info
            .params
            .iter()
            .any(|p| p.name == "ignore_index" && matches!(p.kind, ParamKind::Int { .. }))
    }

    /// The SQL signature, e.g. `huber(input, target [, weight] [, delta])`.
    pub fn syntax(&self, name: &str) -> String {
        let required: Vec<&str> = self.columns[..self.required]
            .iter()
            .map(|c| c.name)
            .collect();
        let mut s = format!("{name}({}", required.join(", "));
        for c in &self.columns[self.required..] {
            let _ = write!(s, " [, {}]", c.name);
        }
        for p in self.info.params {
            let _ = write!(s, " [, {}]", p.name);
        }
        s.push(')');
        s
    }

    /// The function docs: the catalogue's summary, formula, arguments and parameters.
    pub(crate) fn documentation(&self, aggregate: bool) -> Documentation {
        let info = self.info;
        let name = if aggregate {
            info.name.to_owned()
        } else {
            self.scalar_name()
        };
        let what = if aggregate {
            "Aggregate: the mean over the rows (Σ w·ℓ / Σ w with a weight column; `'reduction=sum'` for the sum), summed exactly so any partitioning gives the same bits; NULL rows are skipped."
        } else {
            "Scalar: the loss of each row (times its weight, if given)."
        };
        let mut b = Documentation::builder(
            SECTION,
            format!(
                "{} ({}). {} Definition: {}",
                info.summary, info.family, what, info.formula
            ),
            self.syntax(&name),
        );
        for c in &self.columns {
            let kind = match (c.kind, c.role) {
                (InputKind::Index, _) => "integer column (class indices)",
                (InputKind::FloatOrIndex, _) => {
                    "integer column (class indices) or list-of-float column (probabilities)"
                }
                (_, Role::Weight) => "numeric column of weights >= 0",
                _ => "numeric column, or a list-of-float column for a vector per row",
            };
            b = b.with_argument(c.name, format!("{kind}; catalogue shape: {}", c.shape));
        }
        for p in info.params {
            let default = match p.kind {
                ParamKind::Float { default, range } => format!("{default}, {range}"),
                ParamKind::Int { default, range } => format!("{default}, {range}"),
                ParamKind::Bool { default } => format!("{default}"),
                ParamKind::Choice { default, options } => {
                    format!("'{default}', one of {}", options.join(", "))
                }
                _ => String::new(),
            };
            b = b.with_argument(
                p.name,
                format!(
                    "literal parameter (by position, or '{}=VALUE'): {} (default {default})",
                    p.name, p.doc
                ),
            );
        }
        let example = sql_example(self, &name);
        b.with_sql_example(example).build()
    }
}

fn sql_example(spec: &LossSpec, name: &str) -> String {
    let cols: Vec<&str> = spec.columns[..spec.required]
        .iter()
        .map(|c| c.name)
        .collect();
    format!(
        "```sql\nSELECT {name}({}) FROM 'preds/*.parquet';\n```",
        cols.join(", ")
    )
}

/// An optional input given per element of `input` (a weight), which SQL takes as a column;
/// per-class weights (`[C]`) are not per row and are left out.
fn is_elementwise(i: &InputSpec) -> bool {
    i.shape.starts_with("same as")
}

fn slice_row<'a>(d: ArrayData<'a>, row: usize, per: usize) -> ArrayData<'a> {
    let r = row * per..(row + 1) * per;
    match d {
        ArrayData::F32(v) => ArrayData::F32(&v[r]),
        ArrayData::F64(v) => ArrayData::F64(&v[r]),
        ArrayData::I32(v) => ArrayData::I32(&v[r]),
        ArrayData::I64(v) => ArrayData::I64(&v[r]),
        ArrayData::U8(v) => ArrayData::U8(&v[r]),
        ArrayData::Bool(v) => ArrayData::Bool(&v[r]),
        ArrayData::F16(v) => ArrayData::F16(&v[r]),
        ArrayData::BF16(v) => ArrayData::BF16(&v[r]),
    }
}

/// What an argument of a call is: a column, or a literal value.
#[derive(Debug, Clone)]
pub(crate) enum ArgKind {
    Column,
    Literal(ScalarValue),
}

/// A call's arguments bound to the loss: which argument feeds which input, the parameters.
#[derive(Debug, Clone)]
pub(crate) struct Binding {
    /// (input name, argument index).
    pub inputs: Vec<(&'static str, usize)>,
    /// The argument index of the element-wise weight, if given.
    pub weight: Option<usize>,
    pub params: Params,
    /// The `ignore_index` value, if the loss has one.
    pub ignore_index: Option<i64>,
    pub sum: bool,
}

/// A planning error naming the loss.
pub(crate) fn plan_err(loss: &str, msg: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Plan(format!("loss `{loss}`: {msg}"))
}

/// A core error (it names the loss itself).
pub(crate) fn core_err(e: losskit::Error) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

impl LossSpec {
    /// Checks the argument count (at planning, from the types alone).
    pub(crate) fn check_arity(&self, n: usize) -> Result<()> {
        let max = self.columns.len() + self.info.params.len() + 1;
        if n < self.required || n > max {
            return Err(plan_err(
                self.info.name,
                format!(
                    "takes {} to {max} arguments, got {n}: {}",
                    self.required,
                    self.syntax(self.info.name)
                ),
            ));
        }
        Ok(())
    }

    /// Binds the arguments: the first `required` are the required inputs; then columns are
    /// the optional inputs in order and literals the parameters (by position in the
    /// catalogue's order, or as `'name=value'` strings, several separated by commas).
    pub(crate) fn bind(&self, args: &[ArgKind], aggregate: bool) -> Result<Binding> {
        let loss = self.info.name;
        self.check_arity(args.len())?;
        let mut inputs: Vec<(&'static str, usize)> = Vec::new();
        let mut weight = None;
        let mut next_col = self.required;
        let mut next_param = 0;
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut sum = false;
        let mut seen_literal = false;
        for (i, a) in args.iter().enumerate() {
            if i < self.required {
                inputs.push((self.columns[i].name, i));
                continue;
            }
            match a {
                ArgKind::Column if !seen_literal && next_col < self.columns.len() => {
                    let c = self.columns[next_col];
                    next_col += 1;
                    if c.role == Role::Weight {
                        weight = Some(i);
                    }
                    inputs.push((c.name, i));
                }
                ArgKind::Column => {
                    return Err(plan_err(
                        loss,
                        format!(
                        "argument {} is a column, but only literal parameters can follow here: {}",
                        i + 1,
                        self.syntax(loss)
                    ),
                    ))
                }
                ArgKind::Literal(v) => {
                    seen_literal = true;
                    match literal_text(v) {
                        None => {
                            return Err(plan_err(
                                loss,
                                format!(
                                "argument {} must be a number, a boolean or a string, got {v:?}",
                                i + 1
                            ),
                            ))
                        }
                        Some(t) if t.contains('=') => {
                            for kv in t.split(',') {
                                let (k, v) = kv.split_once('=').ok_or_else(|| {
                                    plan_err(
                                        loss,
                                        format!("argument {}: `{kv}` is not NAME=VALUE", i + 1),
                                    )
                                })?;
                                let (k, v) = (k.trim(), v.trim());
                                if k == "reduction" && aggregate {
                                    sum = match v {
                                        "mean" => false,
                                        "sum" => true,
                                        _ => return Err(plan_err(loss, format!("parameter `reduction`: `{v}` is not `mean` or `sum`"))),
                                    };
                                } else {
                                    pairs.push((k.to_owned(), v.to_owned()));
                                }
                            }
                        }
                        Some(t) => {
                            let p = self.info.params.get(next_param).ok_or_else(|| {
                                plan_err(
                                    loss,
                                    format!(
                                        "argument {} (`{t}`): the loss takes {} parameter(s): {}",
                                        i + 1,
                                        self.info.params.len(),
                                        self.syntax(loss)
                                    ),
                                )
                            })?;
                            next_param += 1;
                            pairs.push((p.name.to_owned(), t));
                        }
                    }
                }
            }
        }
        let params = Params::parse(self.info, &pairs).map_err(core_err)?;
        self.check_params(&params)?;
        let ignore_index = self.has_ignore_index().then(|| params.int("ignore_index"));
        Ok(Binding {
            inputs,
            weight,
            params,
            ignore_index,
            sum,
        })
    }

    /// Runs the loss once on its sample with these parameters, so a parameter out of its
    /// range is reported when the query is planned, not at the first batch (or never, on an
    /// empty table).
    fn check_params(&self, params: &Params) -> Result<()> {
        let sample = (self.info.sample)(2, &mut Rng::new(1));
        let arrays = sample.arrays(Dtype::F64);
        match evaluate_with(self.info, &arrays.named(), params, ReductionMode::None, &[]) {
            Err(
                e @ (losskit::Error::InvalidParam { .. } | losskit::Error::InvalidIntParam { .. }),
            ) => Err(DataFusionError::Plan(e.to_string())),
            _ => Ok(()),
        }
    }
}

/// A literal as the text `Params::parse` reads.
fn literal_text(v: &ScalarValue) -> Option<String> {
    Some(match v {
        ScalarValue::Float64(Some(x)) => format!("{x:?}"),
        ScalarValue::Float32(Some(x)) => format!("{x:?}"),
        ScalarValue::Int64(Some(x)) => x.to_string(),
        ScalarValue::Int32(Some(x)) => x.to_string(),
        ScalarValue::Int16(Some(x)) => x.to_string(),
        ScalarValue::Int8(Some(x)) => x.to_string(),
        ScalarValue::UInt64(Some(x)) => x.to_string(),
        ScalarValue::UInt32(Some(x)) => x.to_string(),
        ScalarValue::UInt16(Some(x)) => x.to_string(),
        ScalarValue::UInt8(Some(x)) => x.to_string(),
        ScalarValue::Boolean(Some(b)) => b.to_string(),
        ScalarValue::Decimal128(Some(x), _, s) => {
            (*x as f64 / 10f64.powi(i32::from(*s))).to_string()
        }
        ScalarValue::Utf8(Some(s))
        | ScalarValue::LargeUtf8(Some(s))
        | ScalarValue::Utf8View(Some(s)) => s.clone(),
        _ => return None,
    })
}

/// Every catalogue loss that fits in table rows.
pub fn specs() -> Vec<LossSpec> {
    losskit::catalogue()
        .filter_map(LossSpec::from_catalogue)
        .collect()
}
