//! Evaluation by name: the dynamic layer the CLI and framework adapters share.
//!
//! A caller hands over named arrays of any supported dtype, parameters as text and a
//! reduction; [`evaluate_with`] checks them against the catalogue, picks the compute type from the
//! prediction's dtype and runs the loss's typed API.

use std::borrow::Cow;

use crate::catalogue::{InputKind, LossInfo, ParamKind, Role};
use crate::error::{Error, Result};
pub(crate) use crate::evaluator::{Call, EvalFn, Out, Resolved};
pub use crate::evaluator::{ParamValue, Params};
use crate::real::Real;
use crate::reduction::{Reduction, ReductionMode};
use crate::sample::{Sample, SampleData};
use crate::tensor::Shape;

/// Borrowed array data of any dtype `eval` accepts.
#[derive(Debug, Clone, Copy)]
pub enum ArrayData<'a> {
    /// float32.
    F32(&'a [f32]),
    /// float64.
    F64(&'a [f64]),
    /// int32.
    I32(&'a [i32]),
    /// int64.
    I64(&'a [i64]),
    /// uint8.
    U8(&'a [u8]),
    /// bool.
    Bool(&'a [bool]),
    /// IEEE float16 (NumPy's `<f2`): computed in f32, gradients returned as float16.
    F16(&'a [half::f16]),
    /// bfloat16 (`ml_dtypes.bfloat16`): computed in f32, gradients returned as bfloat16.
    BF16(&'a [half::bf16]),
}

impl ArrayData<'_> {
    /// The NumPy name of the dtype (`"float32"`, `"int64"`, …).
    pub fn dtype(&self) -> &'static str {
        match self {
            ArrayData::F32(_) => "float32",
            ArrayData::F64(_) => "float64",
            ArrayData::I32(_) => "int32",
            ArrayData::I64(_) => "int64",
            ArrayData::U8(_) => "uint8",
            ArrayData::Bool(_) => "bool",
            ArrayData::F16(_) => "float16",
            ArrayData::BF16(_) => "bfloat16",
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            ArrayData::F32(d) => d.len(),
            ArrayData::F64(d) => d.len(),
            ArrayData::I32(d) => d.len(),
            ArrayData::I64(d) => d.len(),
            ArrayData::U8(d) => d.len(),
            ArrayData::Bool(d) => d.len(),
            ArrayData::F16(d) => d.len(),
            ArrayData::BF16(d) => d.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_float(&self) -> bool {
        matches!(
            self,
            ArrayData::F32(_) | ArrayData::F64(_) | ArrayData::F16(_) | ArrayData::BF16(_)
        )
    }

    fn to_real<T: Real>(self) -> Cow<'static, [T]> {
        let v: Vec<T> = match self {
            ArrayData::F32(d) => d.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
            ArrayData::F64(d) => d.iter().map(|&x| T::from_f64(x)).collect(),
            ArrayData::I32(d) => d.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
            ArrayData::I64(d) => d.iter().map(|&x| T::from_f64(x as f64)).collect(),
            ArrayData::U8(d) => d.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
            ArrayData::Bool(d) => d
                .iter()
                .map(|&x| if x { T::ONE } else { T::ZERO })
                .collect(),
            // Exact: every half value is an f32.
            ArrayData::F16(d) => d.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
            ArrayData::BF16(d) => d.iter().map(|&x| T::from_f64(f64::from(x))).collect(),
        };
        Cow::Owned(v)
    }

    fn to_index(self) -> Cow<'static, [i64]> {
        let v: Vec<i64> = match self {
            ArrayData::I32(d) => d.iter().map(|&x| i64::from(x)).collect(),
            ArrayData::U8(d) => d.iter().map(|&x| i64::from(x)).collect(),
            ArrayData::Bool(d) => d.iter().map(|&x| i64::from(x)).collect(),
            ArrayData::I64(d) => d.to_vec(),
            ArrayData::F32(_) | ArrayData::F64(_) | ArrayData::F16(_) | ArrayData::BF16(_) => {
                Vec::new()
            }
        };
        Cow::Owned(v)
    }
}

/// One named input array.
#[derive(Debug, Clone, Copy)]
pub struct NamedArray<'a> {
    /// The input's name in the catalogue (`input`, `target`, …).
    pub name: &'a str,
    /// The elements, row-major.
    pub data: ArrayData<'a>,
    /// The dimensions.
    pub dims: &'a [usize],
}

/// The compute type of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// f32.
    F32,
    /// f64.
    F64,
}

impl Dtype {
    /// `"f32"` or `"f64"`.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// An owned float array in the compute type.
#[derive(Debug, Clone, PartialEq)]
pub enum FloatArray {
    /// f32 elements.
    F32(Vec<f32>),
    /// f64 elements.
    F64(Vec<f64>),
    /// float16 elements: the gradient of a float16 input, rounded from the f32 computation.
    F16(Vec<half::f16>),
    /// bfloat16 elements: the gradient of a bfloat16 input, rounded from the f32 computation.
    BF16(Vec<half::bf16>),
}

impl FloatArray {
    /// The elements widened to `f64` (exact for every variant).
    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            FloatArray::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FloatArray::F64(v) => v.clone(),
            FloatArray::F16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            FloatArray::BF16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            FloatArray::F32(v) => v.len(),
            FloatArray::F64(v) => v.len(),
            FloatArray::F16(v) => v.len(),
            FloatArray::BF16(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Params {
    /// Every parameter of `info` at its default.
    pub fn defaults(info: &LossInfo) -> Params {
        let values = info
            .params
            .iter()
            .map(|p| {
                let v = match p.kind {
                    ParamKind::Float { default, .. } => ParamValue::Float(default),
                    ParamKind::Int { default, .. } => ParamValue::Int(default),
                    ParamKind::Bool { default } => ParamValue::Bool(default),
                    ParamKind::Choice { default, .. } => ParamValue::Word(default),
                };
                (p.name, v)
            })
            .collect();
        Params { values }
    }

    /// The defaults of `info`, overridden by `KEY=VALUE` pairs given as text.
    ///
    /// # Errors
    /// [`Error::UnknownParam`] for a key the loss does not take; [`Error::ParamParse`] for a
    /// value of the wrong type (numbers: `1.5`, `1e-3`; booleans: exactly `true` or `false`; words: one
    /// of the parameter's options).
    pub fn parse<K: AsRef<str>, V: AsRef<str>>(
        info: &LossInfo,
        pairs: &[(K, V)],
    ) -> Result<Params> {
        let mut params = Params::defaults(info);
        for (k, v) in pairs {
            let (key, text) = (k.as_ref(), v.as_ref().trim());
            let spec = info.param(key).ok_or_else(|| Error::UnknownParam {
                loss: info.name,
                name: key.to_owned(),
                known: info.params.iter().map(|p| p.name).collect(),
            })?;
            let bad = |expected| Error::ParamParse {
                loss: info.name,
                param: spec.name,
                value: text.to_owned(),
                expected,
            };
            let value =
                match spec.kind {
                    ParamKind::Float { .. } => {
                        ParamValue::Float(text.parse::<f64>().map_err(|_| bad("a number"))?)
                    }
                    ParamKind::Int { .. } => {
                        ParamValue::Int(text.parse::<i64>().map_err(|_| bad("an integer"))?)
                    }
                    ParamKind::Bool { .. } => ParamValue::Bool(match text {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("`true` or `false`")),
                    }),
                    ParamKind::Choice { options, .. } => {
                        ParamValue::Word(options.iter().copied().find(|o| *o == text).ok_or_else(
                            || bad("one of the words `losskit explain` lists for it"),
                        )?)
                    }
                };
            if let Some(slot) = params.values.iter_mut().find(|(n, _)| *n == spec.name) {
                slot.1 = value;
            }
        }
        Ok(params)
    }
}

/// What [`evaluate`](crate::evaluate) returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The loss.
    pub loss: &'static str,
    /// The reduction used.
    pub reduction: ReductionMode,
    /// The compute type.
    pub dtype: Dtype,
    /// The shape of the unreduced loss.
    pub shape: Vec<usize>,
    /// The reduced loss (`None` with [`ReductionMode::None`]).
    pub value: Option<f64>,
    /// The per-element losses (with [`ReductionMode::None`] only), of `shape`.
    pub per_element: Option<FloatArray>,
    /// The gradients asked for, each of its input's shape, in the order asked.
    pub grads: Vec<(&'static str, FloatArray)>,
}

/// Evaluates the loss `info` on named arrays, its parameters already parsed
/// ([`Params::parse`]); [`evaluate`](crate::evaluate) does the lookup by name first.
///
/// The compute type is f64 if the first prediction input is float64, else f32; other float
/// inputs are converted to it. Integer and boolean arrays are accepted for non-prediction
/// float inputs (a target of counts, a 0/1 mask) and converted.
///
/// # Errors
/// Everything the catalogue can tell before computing (unknown input or parameter, missing
/// or duplicate input, wrong dtype, a gradient asked for a target, an unsupported
/// reduction), then whatever the loss itself rejects (shapes, values, parameter ranges).
pub fn evaluate_with(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    grads: &[&str],
) -> Result<Evaluation> {
    evaluate_repeated(info, inputs, params, reduction, grads, 1, &mut Vec::new())
}

/// As [`evaluate_with`], running the loss `repeats` times (at least once) on the same
/// converted inputs and into the same gradient buffers, and pushing the wall time of each run
/// onto `times`: what `losskit bench` measures. Only the loss's own evaluation is timed (the
/// checks, conversions and buffer allocation happen once, before); the returned
/// [`Evaluation`] is that of the last run.
///
/// # Errors
/// As [`evaluate_with`].
pub fn evaluate_repeated(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    grads: &[&str],
    repeats: usize,
    times: &mut Vec<std::time::Duration>,
) -> Result<Evaluation> {
    let loss = info.name;
    if !info.reductions.contains(&reduction) {
        return Err(Error::UnsupportedReduction {
            loss,
            reduction: reduction.name().to_owned(),
            supported: info.reductions.iter().map(|r| r.name()).collect(),
        });
    }
    // Every name known and given once.
    let mut given: Vec<(&'static crate::catalogue::InputSpec, &NamedArray<'_>)> = Vec::new();
    for arr in inputs {
        let spec = info.input(arr.name).ok_or_else(|| Error::UnknownInput {
            loss,
            name: arr.name.to_owned(),
            known: info.inputs.iter().map(|i| i.name).collect(),
        })?;
        if given.iter().any(|(s, _)| s.name == spec.name) {
            return Err(Error::DuplicateInput {
                loss,
                name: spec.name,
            });
        }
        given.push((spec, arr));
    }
    for spec in info.inputs.iter().filter(|s| s.required) {
        if !given.iter().any(|(s, _)| s.name == spec.name) {
            return Err(Error::MissingInput {
                loss,
                name: spec.name,
            });
        }
    }
    let mut grad_specs = Vec::new();
    for &g in grads {
        match info.input(g) {
            Some(spec) if spec.role == Role::Prediction => grad_specs.push(spec),
            _ => {
                return Err(Error::NotDifferentiable {
                    loss,
                    arg: g.to_owned(),
                    predictions: info.predictions(),
                })
            }
        }
    }
    // Dtypes, and the compute type from the first prediction.
    for (spec, arr) in &given {
        let ok = match (spec.kind, spec.role) {
            (InputKind::Float, Role::Prediction) => arr.data.is_float(),
            (InputKind::Float, _) | (InputKind::FloatOrIndex, _) => true,
            (InputKind::Index, _) => !arr.data.is_float(),
        };
        if !ok {
            let expected = match spec.kind {
                InputKind::Index => "an integer type (int32, int64, uint8 or bool)",
                _ => "float32 or float64",
            };
            return Err(Error::Dtype {
                loss,
                arg: spec.name,
                actual: arr.data.dtype(),
                expected,
            });
        }
        if arr.dims.len() > crate::tensor::MAX_RANK {
            return Err(Error::TooManyDims {
                loss,
                arg: spec.name,
                rank: arr.dims.len(),
            });
        }
        if arr.data.len() != Shape::new(arr.dims)?.numel() {
            return Err(Error::DataLength {
                dims: arr.dims.to_vec(),
                len: arr.data.len(),
            });
        }
    }
    let f64_compute = given
        .iter()
        .find(|(s, _)| s.role == Role::Prediction)
        .is_some_and(|(_, a)| matches!(a.data, ArrayData::F64(_)));
    if f64_compute {
        run::<f64>(
            info,
            &given,
            params,
            reduction,
            &grad_specs,
            Dtype::F64,
            info.eval.f64,
            (repeats, times),
        )
    } else {
        run::<f32>(
            info,
            &given,
            params,
            reduction,
            &grad_specs,
            Dtype::F32,
            info.eval.f32,
            (repeats, times),
        )
    }
}

#[allow(clippy::too_many_arguments)]
fn run<T: Real + Wrap>(
    info: &'static LossInfo,
    given: &[(&'static crate::catalogue::InputSpec, &NamedArray<'_>)],
    params: &Params,
    reduction: ReductionMode,
    grad_specs: &[&'static crate::catalogue::InputSpec],
    dtype: Dtype,
    f: EvalFn<T>,
    (repeats, times): (usize, &mut Vec<std::time::Duration>),
) -> Result<Evaluation> {
    let mut items = Vec::with_capacity(given.len());
    for (spec, arr) in given {
        let shape = Shape::new(arr.dims)?;
        let data = match (spec.kind, arr.data.is_float()) {
            (InputKind::Index, _) | (InputKind::FloatOrIndex, false) => {
                Resolved::Index(arr.data.to_index())
            }
            _ => Resolved::Float(T::borrow_or_convert(arr.data)),
        };
        items.push((spec.name, data, shape));
    }
    let call = Call {
        loss: info.name,
        items,
        params,
        reduction,
    };
    let mut out = Out::<T> {
        shape: Vec::new(),
        value: None,
        per_element: None,
        grads: Vec::new(),
    };
    for spec in grad_specs {
        let n = call
            .items
            .iter()
            .find(|(n, _, _)| *n == spec.name)
            .map_or(0, |(_, _, s)| s.numel());
        out.grads.push((spec.name, vec![T::ZERO; n]));
    }
    for _ in 0..repeats.max(1) {
        let start = std::time::Instant::now();
        f(&call, &mut out)?;
        times.push(start.elapsed());
    }
    Ok(Evaluation {
        loss: info.name,
        reduction,
        dtype,
        shape: out.shape,
        value: out.value,
        per_element: out.per_element.map(T::wrap),
        grads: out
            .grads
            .into_iter()
            .map(|(n, g)| {
                // A half-precision input gets its gradient back in its own dtype.
                let data = given.iter().find(|(s, _)| s.name == n).map(|(_, a)| a.data);
                let g = match data {
                    Some(ArrayData::F16(_)) => {
                        FloatArray::F16(g.iter().map(|x| half::f16::from_f64(x.to_f64())).collect())
                    }
                    Some(ArrayData::BF16(_)) => FloatArray::BF16(
                        g.iter().map(|x| half::bf16::from_f64(x.to_f64())).collect(),
                    ),
                    _ => T::wrap(g),
                };
                (n, g)
            })
            .collect(),
    })
}

/// Conversions between the compute type and the dynamic arrays.
pub(crate) trait Wrap: Sized + Clone + 'static {
    fn wrap(v: Vec<Self>) -> FloatArray;
    fn borrow_or_convert(d: ArrayData<'_>) -> Cow<'_, [Self]>;
}

impl Wrap for f32 {
    fn wrap(v: Vec<f32>) -> FloatArray {
        FloatArray::F32(v)
    }
    fn borrow_or_convert(d: ArrayData<'_>) -> Cow<'_, [f32]> {
        match d {
            ArrayData::F32(s) => Cow::Borrowed(s),
            other => other.to_real(),
        }
    }
}

impl Wrap for f64 {
    fn wrap(v: Vec<f64>) -> FloatArray {
        FloatArray::F64(v)
    }
    fn borrow_or_convert(d: ArrayData<'_>) -> Cow<'_, [f64]> {
        match d {
            ArrayData::F64(s) => Cow::Borrowed(s),
            other => other.to_real(),
        }
    }
}

/// The shared tail of the evaluators of losses with one prediction, `input`: `mean`/`sum`
/// through `value`, or `value_and_grad` when the gradient of `input` is asked for; `none`
/// through `per_element` (and `value_and_grad` of the sum for the gradient).
pub(crate) fn dispatch<T: Real>(
    call: &Call<'_, T>,
    out: &mut Out<T>,
    loss_shape: &[usize],
    value: impl Fn(Reduction) -> Result<T>,
    value_and_grad: impl Fn(Reduction, &mut [T]) -> Result<T>,
    per_element: impl Fn(&mut [T]) -> Result<()>,
) -> Result<()> {
    out.shape = loss_shape.to_vec();
    match call.reduction() {
        Some(r) => {
            let v = match out.grad("input") {
                Some(g) => value_and_grad(r, g)?,
                None => value(r)?,
            };
            out.value = Some(v.to_f64());
        }
        None => {
            let mut losses = vec![T::ZERO; loss_shape.iter().product()];
            per_element(&mut losses)?;
            if let Some(g) = out.grad("input") {
                value_and_grad(Reduction::Sum, g)?;
            }
            out.per_element = Some(losses);
        }
    }
    Ok(())
}

/// [`dispatch`] for losses with two predictions (`gaussian_nll`'s `input` and `var`,
/// `margin_ranking`'s `x1` and `x2`), whose fused pass fills both gradients: when either is
/// asked for, both are computed and the asked ones kept.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dispatch2<T: Real>(
    call: &Call<'_, T>,
    out: &mut Out<T>,
    loss_shape: &[usize],
    predictions: [(&str, usize); 2],
    value: impl Fn(Reduction) -> Result<T>,
    value_and_grad: impl Fn(Reduction, &mut [T], &mut [T]) -> Result<T>,
    per_element: impl Fn(&mut [T]) -> Result<()>,
) -> Result<()> {
    out.shape = loss_shape.to_vec();
    let [(a, na), (b, nb)] = predictions;
    let wants = out.grad(a).is_some() || out.grad(b).is_some();
    let (mut ga, mut gb) = if wants {
        (vec![T::ZERO; na], vec![T::ZERO; nb])
    } else {
        (Vec::new(), Vec::new())
    };
    match call.reduction() {
        Some(r) if wants => out.value = Some(value_and_grad(r, &mut ga, &mut gb)?.to_f64()),
        Some(r) => out.value = Some(value(r)?.to_f64()),
        None => {
            let mut losses = vec![T::ZERO; loss_shape.iter().product()];
            per_element(&mut losses)?;
            if wants {
                value_and_grad(Reduction::Sum, &mut ga, &mut gb)?;
            }
            out.per_element = Some(losses);
        }
    }
    if let Some(g) = out.grad(a) {
        g.copy_from_slice(&ga);
    }
    if let Some(g) = out.grad(b) {
        g.copy_from_slice(&gb);
    }
    Ok(())
}

/// A generated [`Sample`] in a compute type, owning its arrays; [`named`](Self::named) lends
/// them to [`evaluate_with`].
#[derive(Debug, Clone)]
pub struct SampleArrays {
    arrays: Vec<(&'static str, Vec<usize>, OwnedData)>,
}

#[derive(Debug, Clone)]
enum OwnedData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Sample {
    /// The sample's arrays with floats in `dtype` (integers stay int64).
    pub fn arrays(&self, dtype: Dtype) -> SampleArrays {
        let arrays = self
            .arrays
            .iter()
            .map(|a| {
                let data = match (&a.data, dtype) {
                    (SampleData::Float(v), Dtype::F64) => OwnedData::F64(v.clone()),
                    (SampleData::Float(v), Dtype::F32) => {
                        OwnedData::F32(v.iter().map(|&x| x as f32).collect())
                    }
                    (SampleData::Index(v), _) => OwnedData::I64(v.clone()),
                };
                (a.name, a.dims.clone(), data)
            })
            .collect();
        SampleArrays { arrays }
    }
}

impl SampleArrays {
    /// The arrays as [`NamedArray`]s.
    pub fn named(&self) -> Vec<NamedArray<'_>> {
        self.arrays
            .iter()
            .map(|(name, dims, d)| NamedArray {
                name,
                dims,
                data: match d {
                    OwnedData::F32(v) => ArrayData::F32(v),
                    OwnedData::F64(v) => ArrayData::F64(v),
                    OwnedData::I64(v) => ArrayData::I64(v),
                },
            })
            .collect()
    }
}
