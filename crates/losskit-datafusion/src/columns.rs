//! Arrow columns to the core's named arrays, and one batch through the core.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use datafusion::arrow::compute::{cast, filter, or};
use datafusion::arrow::datatypes::{
    DataType, Float16Type, Float32Type, Float64Type, Int32Type, Int64Type, UInt8Type,
};
use datafusion::common::{DataFusionError, Result};
use losskit::{evaluate_with, ArrayData, FloatArray, NamedArray, ReductionMode};

use crate::spec::{core_err, Binding, LossSpec};

/// One input's values, flattened to a primitive array, with its dims (`[n]` or `[n, c]`).
struct Col {
    name: &'static str,
    values: ArrayRef,
    dims: Vec<usize>,
}

impl Col {
    fn data(&self) -> ArrayData<'_> {
        let v = &self.values;
        match v.data_type() {
            DataType::Float64 => ArrayData::F64(v.as_primitive::<Float64Type>().values()),
            DataType::Float32 => ArrayData::F32(v.as_primitive::<Float32Type>().values()),
            DataType::Float16 => ArrayData::F16(v.as_primitive::<Float16Type>().values()),
            DataType::Int64 => ArrayData::I64(v.as_primitive::<Int64Type>().values()),
            DataType::Int32 => ArrayData::I32(v.as_primitive::<Int32Type>().values()),
            // `to_col` leaves no other type.
            _ => ArrayData::U8(v.as_primitive::<UInt8Type>().values()),
        }
    }
}

fn arg_err(loss: &str, input: &str, msg: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("loss `{loss}`: argument `{input}`: {msg}"))
}

/// The element types the core takes as they are; others are cast (booleans and small
/// integers to a wider integer, decimals to float64) or refused.
fn normalize(loss: &str, input: &str, v: ArrayRef) -> Result<ArrayRef> {
    let to = match v.data_type() {
        DataType::Float64
        | DataType::Float32
        | DataType::Float16
        | DataType::Int64
        | DataType::Int32
        | DataType::UInt8 => return Ok(v),
        DataType::Boolean => DataType::UInt8,
        DataType::Int8
        | DataType::Int16
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => DataType::Int64,
        DataType::Decimal32(..)
        | DataType::Decimal64(..)
        | DataType::Decimal128(..)
        | DataType::Decimal256(..) => DataType::Float64,
        t => {
            return Err(arg_err(
                loss,
                input,
                format!("has type {t}; expected numbers, or a list of numbers per row"),
            ))
        }
    };
    Ok(cast(&v, &to)?)
}

fn to_col(loss: &str, name: &'static str, arr: &ArrayRef) -> Result<Col> {
    let n = arr.len();
    let (values, dims) = match arr.data_type() {
        DataType::FixedSizeList(_, c) => {
            let l = arr.as_fixed_size_list();
            let c = *c as usize;
            let start = if n > 0 { l.value_offset(0) as usize } else { 0 };
            (l.values().slice(start, n * c), vec![n, c])
        }
        DataType::List(_) => {
            let l = arr.as_list::<i32>();
            let o: Vec<usize> = l.value_offsets().iter().map(|&x| x as usize).collect();
            let c = uniform(loss, name, &o)?;
            (l.values().slice(o[0], n * c), vec![n, c])
        }
        DataType::LargeList(_) => {
            let l = arr.as_list::<i64>();
            let o: Vec<usize> = l.value_offsets().iter().map(|&x| x as usize).collect();
            let c = uniform(loss, name, &o)?;
            (l.values().slice(o[0], n * c), vec![n, c])
        }
        _ => (arr.clone(), vec![n]),
    };
    if dims.len() == 2 && values.null_count() > 0 {
        return Err(arg_err(loss, name, "a NULL inside a list"));
    }
    if matches!(
        values.data_type(),
        DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
    ) {
        return Err(arg_err(loss, name, "lists of lists are not supported"));
    }
    Ok(Col {
        name,
        values: normalize(loss, name, values)?,
        dims,
    })
}

/// The common length of a list column's rows.
fn uniform(loss: &str, name: &str, offsets: &[usize]) -> Result<usize> {
    let c = offsets.windows(2).next().map_or(0, |w| w[1] - w[0]);
    if let Some(w) = offsets.windows(2).find(|w| w[1] - w[0] != c) {
        return Err(arg_err(
            loss,
            name,
            format!(
                "list rows of lengths {c} and {} in one batch; every row needs the same length",
                w[1] - w[0]
            ),
        ));
    }
    Ok(c)
}

/// A batch's rows with no NULL in any bound argument: the arrays to use (filtered if needed)
/// and the mask of the rows kept (`None`: all).
pub(crate) fn valid_rows(
    binding: &Binding,
    values: &[ArrayRef],
) -> Result<(Vec<ArrayRef>, Option<BooleanArray>)> {
    let mut nulls: Option<BooleanArray> = None;
    for &(_, i) in &binding.inputs {
        if let Some(nb) = values[i].logical_nulls() {
            if nb.null_count() > 0 {
                let is_null = BooleanArray::new(!nb.inner(), None);
                nulls = Some(match nulls {
                    None => is_null,
                    Some(m) => or(&m, &is_null)?,
                });
            }
        }
    }
    match nulls {
        None => Ok((values.to_vec(), None)),
        Some(is_null) => {
            let keep = BooleanArray::new(!is_null.values(), None);
            let mut out = values.to_vec();
            for &(_, i) in &binding.inputs {
                out[i] = filter(&values[i], &keep)?;
            }
            Ok((out, Some(keep)))
        }
    }
}

/// What one batch contributes: the per-element losses and, per element, the denominator's
/// share (the weight, 0/1 for an ignored target, or `None`: 1 each).
pub(crate) struct BatchLoss {
    pub per_element: FloatArray,
    pub denominators: Option<Vec<f64>>,
}

/// Runs the loss on a batch (rows with NULLs already removed).
pub(crate) fn run(spec: &LossSpec, b: &Binding, values: &[ArrayRef]) -> Result<BatchLoss> {
    let loss = spec.info.name;
    let cols: Vec<Col> = b
        .inputs
        .iter()
        .map(|&(name, i)| to_col(loss, name, &values[i]))
        .collect::<Result<_>>()?;
    let named: Vec<NamedArray<'_>> = cols
        .iter()
        .map(|c| NamedArray {
            name: c.name,
            data: c.data(),
            dims: &c.dims,
        })
        .collect();
    let e =
        evaluate_with(spec.info, &named, &b.params, ReductionMode::None, &[]).map_err(core_err)?;
    let per_element = e.per_element.unwrap_or(FloatArray::F64(Vec::new()));
    let elems = |name: &str| -> Option<Vec<f64>> {
        let c = cols.iter().find(|c| c.name == name)?;
        Some(match c.data() {
            ArrayData::F64(v) => v.to_vec(),
            ArrayData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            ArrayData::F16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            ArrayData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            ArrayData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            ArrayData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            _ => return None,
        })
    };
    let mut denominators = None;
    if let Some(wi) = b.weight {
        let name = b.inputs.iter().find(|(_, i)| *i == wi).map(|(n, _)| *n);
        denominators = name.and_then(elems);
    } else if let Some(ii) = b.ignore_index {
        let target = cols.iter().find(|c| c.name == "target");
        if let Some(t) = target {
            let idx: Option<Vec<f64>> = match t.data() {
                ArrayData::I64(v) => {
                    Some(v.iter().map(|&x| f64::from(u8::from(x != ii))).collect())
                }
                ArrayData::I32(v) => Some(
                    v.iter()
                        .map(|&x| f64::from(u8::from(i64::from(x) != ii)))
                        .collect(),
                ),
                ArrayData::U8(v) => Some(
                    v.iter()
                        .map(|&x| f64::from(u8::from(i64::from(x) != ii)))
                        .collect(),
                ),
                _ => None,
            };
            denominators = idx;
        }
    }
    if let Some(d) = &denominators {
        if d.len() != per_element.len() {
            return Err(DataFusionError::Execution(format!(
                "loss `{loss}`: {} loss values but {} weights in a batch",
                per_element.len(),
                d.len()
            )));
        }
    }
    Ok(BatchLoss {
        per_element,
        denominators,
    })
}

/// A column of `n` copies of a scalar argument (what a scalar UDF receives for a literal).
pub(crate) fn broadcast(v: &datafusion::logical_expr::ColumnarValue, n: usize) -> Result<ArrayRef> {
    v.to_array(n)
}
