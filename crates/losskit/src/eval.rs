//! Evaluation by name: the dynamic layer the CLI and framework adapters share.
//!
//! A caller hands over named arrays of any supported dtype, parameters as text and a
//! reduction; [`evaluate_with`] checks them against the catalogue, picks the compute type from the
//! prediction's dtype and runs the loss's typed API. [`evaluate_into`] does the same into
//! caller-owned gradient buffers and, with `reduction = none`, takes an upstream gradient
//! (a vector-Jacobian product), which is what a framework's autograd needs.

use std::borrow::Cow;

use crate::catalogue::{InputKind, InputSpec, LossInfo, ParamKind, Role};
use crate::error::{Error, Result};
pub(crate) use crate::evaluator::{Call, EvalFn, Out, Resolved};
pub use crate::evaluator::{ParamValue, Params};
use crate::hessian::{Curvature, HessFn, HessOut};
use crate::real::sealed::Typed;
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
    /// The gradients asked for, each of its input's shape, in the order asked (empty from
    /// [`evaluate_into`], which writes them into the caller's buffers).
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
    let checked = check(info, inputs, reduction, grads)?;
    if checked.f64_compute {
        run_owned::<f64>(info, &checked, params, reduction, (repeats, times))
    } else {
        run_owned::<f32>(info, &checked, params, reduction, (repeats, times))
    }
}

/// Caller-owned gradient buffers and, for [`ReductionMode::None`], the upstream gradient:
/// what [`evaluate_into`] writes into and reads.
///
/// # Example
/// The vector-Jacobian product of the per-element Huber loss with a cotangent `u`:
/// ```
/// use losskit::{evaluate_into, find, ArrayData, Buffers, NamedArray, Params, ReductionMode};
/// let info = find("huber")?;
/// let (x, t, dims) = ([0.5f64, 3.0, -1.0], [0.0f64, 0.0, 0.0], [3usize]);
/// let inputs = [
///     NamedArray { name: "input", data: ArrayData::F64(&x), dims: &dims },
///     NamedArray { name: "target", data: ArrayData::F64(&t), dims: &dims },
/// ];
/// let u = [2.0f64, -1.0, 0.0];
/// let mut grad = [f64::NAN; 3]; // overwritten, never accumulated into
/// let bufs = Buffers { grads: vec![("input", &mut grad[..])], cotangent: Some(&u) };
/// let e = evaluate_into(info, &inputs, &Params::defaults(info), ReductionMode::None, bufs)?;
/// assert!(e.grads.is_empty()); // the gradient is in `grad`
/// // ∂(Σ uᵢ ℓᵢ)/∂x with ℓ' = x inside the unit band, ±1 outside:
/// assert_eq!(grad, [2.0 * 0.5, -1.0 * 1.0, 0.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct Buffers<'a, T> {
    /// One buffer per prediction input whose gradient is wanted, each exactly as long as that
    /// input; overwritten (never accumulated into).
    pub grads: Vec<(&'a str, &'a mut [T])>,
    /// With [`ReductionMode::None`] only: the upstream gradient u, one value per element of
    /// the unreduced loss (row-major, the loss's `none` shape). The gradients are then the
    /// vector-Jacobian product ∂(Σ_i u_i ℓ_i)/∂x. `None` = all ones (the gradient of the sum,
    /// as [`evaluate_with`] gives). Non-finite values are allowed and propagate.
    pub cotangent: Option<&'a [T]>,
}

/// As [`evaluate_with`], with the gradients written into caller-owned buffers and, with
/// [`ReductionMode::None`], an optional cotangent: the gradients are then the
/// vector-Jacobian product ∂(Σ_i u_i ℓ_i)/∂x, for every loss (also those in which one
/// prediction element moves several loss elements: a softmax over classes, `batch=true`, the
/// in-batch metric losses, a broadcast `var`). No gradient is allocated.
///
/// The compute type is `T`: every prediction with a buffer, and the first prediction (which
/// decides the compute type), must have dtype float32 for `f32` buffers, float64 for `f64`.
/// The returned [`Evaluation`] has `grads` empty and everything else as [`evaluate_with`]
/// gives; the gradients are bit-identical to its.
///
/// # Errors
/// Every error of [`evaluate_with`], checked first; then [`Error::GradDtype`],
/// [`Error::GradLength`], [`Error::DuplicateGrad`], [`Error::NotDifferentiable`] for a
/// buffer of a non-prediction, [`Error::CotangentReduction`] for a cotangent with another
/// reduction than `none`, and [`Error::CotangentLength`] for one without a value per loss
/// element. On error the buffers hold unspecified values.
///
/// # Example
/// See [`Buffers`].
pub fn evaluate_into<T: Real>(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    bufs: Buffers<'_, T>,
) -> Result<Evaluation> {
    match T::typed_parts((bufs.grads, bufs.cotangent)) {
        Typed::F32((grads, cotangent)) => {
            let b = Buffers { grads, cotangent };
            into::<f32>(info, inputs, params, reduction, b, Dtype::F32)
        }
        Typed::F64((grads, cotangent)) => {
            let b = Buffers { grads, cotangent };
            into::<f64>(info, inputs, params, reduction, b, Dtype::F64)
        }
    }
}

fn into<T: Real + Wrap>(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    bufs: Buffers<'_, T>,
    dtype: Dtype,
) -> Result<Evaluation> {
    let loss = info.name;
    let names: Vec<&str> = bufs.grads.iter().map(|(n, _)| *n).collect();
    let checked = check(info, inputs, reduction, &names)?;
    let want = match dtype {
        Dtype::F32 => "float32",
        Dtype::F64 => "float64",
    };
    let first = checked
        .given
        .iter()
        .find(|(s, _)| s.role == Role::Prediction);
    let buffered = checked
        .given
        .iter()
        .filter(|(s, _)| checked.grad_specs.iter().any(|g| g.name == s.name));
    for (spec, arr) in first.into_iter().chain(buffered) {
        if arr.data.dtype() != want {
            return Err(Error::GradDtype {
                loss,
                arg: spec.name,
                buffer: dtype.name(),
                actual: arr.data.dtype(),
            });
        }
    }
    let mut grads = Vec::with_capacity(bufs.grads.len());
    for ((_, buf), spec) in bufs.grads.into_iter().zip(&checked.grad_specs) {
        // A buffered prediction is given (an absent one would have no buffer to fill).
        let expected = checked
            .given
            .iter()
            .find(|(s, _)| s.name == spec.name)
            .map_or(0, |(_, a)| a.data.len());
        if buf.len() != expected {
            return Err(Error::GradLength {
                loss,
                arg: spec.name,
                actual: buf.len(),
                expected,
            });
        }
        grads.push((spec.name, buf));
    }
    if bufs.cotangent.is_some() && reduction != ReductionMode::None {
        return Err(Error::CotangentReduction {
            loss,
            reduction: reduction.name(),
        });
    }
    let f = T::pick(info.eval.f32, info.eval.f64);
    let out = run(
        info,
        &checked.given,
        params,
        reduction,
        f,
        (grads, false),
        bufs.cotangent,
        (1, &mut Vec::new()),
    )?;
    Ok(Evaluation {
        loss,
        reduction,
        dtype,
        shape: out.shape,
        value: out.value,
        per_element: out.per_element.map(T::wrap),
        grads: Vec::new(),
    })
}

/// What the catalogue lets [`check`] tell before computing.
struct Checked<'i, 'a> {
    given: Vec<(&'static InputSpec, &'i NamedArray<'a>)>,
    grad_specs: Vec<&'static InputSpec>,
    f64_compute: bool,
}

/// Every check the catalogue allows before computing: the reduction, the inputs' names,
/// dtypes and lengths, the gradients asked for.
fn check<'i, 'a>(
    info: &'static LossInfo,
    inputs: &'i [NamedArray<'a>],
    reduction: ReductionMode,
    grads: &[&str],
) -> Result<Checked<'i, 'a>> {
    let loss = info.name;
    if !info.reductions.contains(&reduction) {
        return Err(Error::UnsupportedReduction {
            loss,
            reduction: reduction.name().to_owned(),
            supported: info.reductions.iter().map(|r| r.name()).collect(),
        });
    }
    // Every name known and given once.
    let mut given: Vec<(&'static InputSpec, &NamedArray<'_>)> = Vec::new();
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
    let mut grad_specs: Vec<&'static InputSpec> = Vec::new();
    for &g in grads {
        match info.input(g) {
            Some(spec) if spec.role == Role::Prediction => {
                if grad_specs.iter().any(|s| s.name == spec.name) {
                    return Err(Error::DuplicateGrad {
                        loss,
                        arg: spec.name,
                    });
                }
                grad_specs.push(spec);
            }
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
    Ok(Checked {
        given,
        grad_specs,
        f64_compute,
    })
}

/// [`evaluate_repeated`] after the checks: allocates the gradients, runs into them, and
/// returns them in the input's dtype.
fn run_owned<T: Real + Wrap>(
    info: &'static LossInfo,
    checked: &Checked<'_, '_>,
    params: &Params,
    reduction: ReductionMode,
    repeats: (usize, &mut Vec<std::time::Duration>),
) -> Result<Evaluation> {
    let given = &checked.given;
    let mut owned: Vec<Vec<T>> = checked
        .grad_specs
        .iter()
        .map(|spec| {
            let n = given
                .iter()
                .find(|(s, _)| s.name == spec.name)
                .map_or(0, |(_, a)| a.data.len());
            vec![T::ZERO; n]
        })
        .collect();
    let grads = checked
        .grad_specs
        .iter()
        .map(|s| s.name)
        .zip(owned.iter_mut().map(Vec::as_mut_slice))
        .collect();
    let f = T::pick(info.eval.f32, info.eval.f64);
    // Freshly zeroed above: `run` need not zero them again.
    let out = run(
        info,
        given,
        params,
        reduction,
        f,
        (grads, true),
        None,
        repeats,
    )?;
    let dtype = if checked.f64_compute {
        Dtype::F64
    } else {
        Dtype::F32
    };
    Ok(Evaluation {
        loss: info.name,
        reduction,
        dtype,
        shape: out.shape,
        value: out.value,
        per_element: out.per_element.map(T::wrap),
        grads: checked
            .grad_specs
            .iter()
            .zip(owned)
            .map(|(spec, g)| {
                // A half-precision input gets its gradient back in its own dtype.
                let data = given
                    .iter()
                    .find(|(s, _)| s.name == spec.name)
                    .map(|(_, a)| a.data);
                let g = match data {
                    Some(ArrayData::F16(_)) => {
                        FloatArray::F16(g.iter().map(|x| half::f16::from_f64(x.to_f64())).collect())
                    }
                    Some(ArrayData::BF16(_)) => FloatArray::BF16(
                        g.iter().map(|x| half::bf16::from_f64(x.to_f64())).collect(),
                    ),
                    _ => T::wrap(g),
                };
                (spec.name, g)
            })
            .collect(),
    })
}

/// What [`run`] hands back: the evaluator's [`Out`] without the lent buffers.
struct Ran<T> {
    shape: Vec<usize>,
    value: Option<f64>,
    per_element: Option<Vec<T>>,
}

/// The one evaluation path: converts the inputs to `T`, zeroes the gradient buffers (unless
/// `zeroed` says they are) and runs the evaluator `repeats` times into them.
#[allow(clippy::too_many_arguments)]
fn run<T: Real + Wrap>(
    info: &'static LossInfo,
    given: &[(&'static InputSpec, &NamedArray<'_>)],
    params: &Params,
    reduction: ReductionMode,
    f: EvalFn<T>,
    (grads, zeroed): (Vec<(&'static str, &mut [T])>, bool),
    cotangent: Option<&[T]>,
    (repeats, times): (usize, &mut Vec<std::time::Duration>),
) -> Result<Ran<T>> {
    let mut items = Vec::with_capacity(given.len());
    for (spec, arr) in given {
        let shape = Shape::new(arr.dims)?;
        items.push((spec.name, resolve(spec, arr), shape));
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
        grads,
        cotangent,
    };
    // Overwritten, never accumulated into: an evaluator may leave an element it has no
    // gradient for (an ignored row) as it found it.
    if !zeroed {
        for (_, g) in &mut out.grads {
            g.fill(T::ZERO);
        }
    }
    for _ in 0..repeats.max(1) {
        let start = std::time::Instant::now();
        f(&call, &mut out)?;
        times.push(start.elapsed());
    }
    Ok(Ran {
        shape: out.shape,
        value: out.value,
        per_element: out.per_element,
    })
}

/// One checked input as the evaluator sees it: class indices, or floats in `T` (borrowed
/// when already of that type).
pub(crate) fn resolve<'a, T: Real + Wrap>(
    spec: &InputSpec,
    arr: &NamedArray<'a>,
) -> Resolved<'a, T> {
    match (spec.kind, arr.data.is_float()) {
        (InputKind::Index, _) | (InputKind::FloatOrIndex, false) => {
            Resolved::Index(arr.data.to_index())
        }
        _ => Resolved::Float(T::borrow_or_convert(arr.data)),
    }
}

/// The checks of [`crate::evaluate_hess`] before computing: those of [`evaluate_with`] with
/// the gradient of `input` asked for, then the buffers' dtype and lengths.
pub(crate) fn check_hess<'i, 'a>(
    info: &'static LossInfo,
    inputs: &'i [NamedArray<'a>],
    reduction: ReductionMode,
    dtype: Dtype,
    grad_len: usize,
    hess_len: usize,
) -> Result<Vec<(&'static InputSpec, &'i NamedArray<'a>)>> {
    let checked = check(info, inputs, reduction, &["input"])?;
    let want = match dtype {
        Dtype::F32 => "float32",
        Dtype::F64 => "float64",
    };
    let Some((spec, arr)) = checked.given.iter().find(|(s, _)| s.name == "input") else {
        return Err(Error::MissingInput {
            loss: info.name,
            name: "input",
        });
    };
    if arr.data.dtype() != want {
        return Err(Error::GradDtype {
            loss: info.name,
            arg: spec.name,
            buffer: dtype.name(),
            actual: arr.data.dtype(),
        });
    }
    for len in [grad_len, hess_len] {
        if len != arr.data.len() {
            return Err(Error::GradLength {
                loss: info.name,
                arg: spec.name,
                actual: len,
                expected: arr.data.len(),
            });
        }
    }
    Ok(checked.given)
}

/// Conversions between the compute type and the dynamic arrays.
pub(crate) trait Wrap: Sized + Clone + 'static {
    fn wrap(v: Vec<Self>) -> FloatArray;
    fn borrow_or_convert(d: ArrayData<'_>) -> Cow<'_, [Self]>;
    /// The evaluator of this compute type out of a loss's two.
    fn pick(f32: EvalFn<f32>, f64: EvalFn<f64>) -> EvalFn<Self>;
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
    fn pick(f32: EvalFn<f32>, _: EvalFn<f64>) -> EvalFn<f32> {
        f32
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
    fn pick(_: EvalFn<f32>, f64: EvalFn<f64>) -> EvalFn<f64> {
        f64
    }
}

/// The prediction axes a separable loss keeps: prediction element `x[i0, i1, …]` moves only
/// the loss element indexed by its kept indices (bit `k` set: axis `k` kept). Each family
/// declares it next to its dispatch; it is never guessed from the sizes (N may equal C).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kept(u32);

impl Kept {
    /// Element-wise: the loss has the prediction's shape.
    pub(crate) const ALL: Kept = Kept(u32::MAX);
    /// One loss element for the whole prediction (`[1]` or `[]`).
    pub(crate) const NONE: Kept = Kept(0);
    /// One loss element per row (axis 0): boxes `[N, 4]`, embeddings `[N, D]`, images.
    pub(crate) const ROWS: Kept = Kept(1);

    /// Every axis but `axis` (the class axis of the multiclass losses).
    pub(crate) const fn all_but(axis: usize) -> Kept {
        Kept(!(1 << axis))
    }

    fn has(self, axis: usize) -> bool {
        self.0 & (1 << axis) != 0
    }
}

/// How a loss turns its gradient into a vector-Jacobian product with `reduction = none`.
pub(crate) enum Vjp<F> {
    /// Every prediction element moves one loss element: the gradient of the sum, times the
    /// cotangent broadcast along the axes the loss reduces ([`apply_cotangent`]).
    Separable(Kept),
    /// A prediction element moves several loss elements: the kernel weights each loss
    /// element's backward contribution by its cotangent (`F(u, gradient buffers…)`).
    Coupled(F),
}

/// `g[i] *= u[loss element of i]` for a separable loss whose prediction has dimensions
/// `dims`, the loss keeping the axes `kept`. A cotangent of ones changes no bit.
pub(crate) fn apply_cotangent<T: Real>(g: &mut [T], dims: &[usize], kept: Kept, u: &[T]) {
    let rank = dims.len();
    let Some(last) = rank.checked_sub(1) else {
        if let (Some(x), Some(&w)) = (g.first_mut(), u.first()) {
            *x *= w;
        }
        return;
    };
    // The loss's stride along each prediction axis (0 along a reduced one).
    let mut stride = [0usize; crate::tensor::MAX_RANK];
    let mut s = 1;
    for a in (0..rank).rev() {
        if kept.has(a) {
            stride[a] = s;
            s *= dims[a];
        }
    }
    debug_assert_eq!(s, u.len(), "kept axes and cotangent disagree");
    let inner = dims[last];
    if inner == 0 || u.len() != s {
        return;
    }
    let mut idx = [0usize; crate::tensor::MAX_RANK];
    for row in g.chunks_exact_mut(inner) {
        let base: usize = (0..last).map(|a| idx[a] * stride[a]).sum();
        if kept.has(last) {
            for (x, &w) in row.iter_mut().zip(&u[base..base + inner]) {
                *x *= w;
            }
        } else {
            let w = u[base];
            for x in row {
                *x *= w;
            }
        }
        for a in (0..last).rev() {
            idx[a] += 1;
            if idx[a] < dims[a] {
                break;
            }
            idx[a] = 0;
        }
    }
}

/// The dimensions of the float input `name` (empty if absent).
pub(crate) fn dims_of<T: Real>(call: &Call<'_, T>, name: &str) -> Vec<usize> {
    call.float(name)
        .map_or_else(Vec::new, |t| t.dims().to_vec())
}

/// A coupled loss's VJP with one prediction: `(cotangent, gradient)`.
pub(crate) type Vjp1<'f, T> = Vjp<&'f dyn Fn(&[T], &mut [T]) -> Result<()>>;

/// The shared tail of the evaluators of losses with one prediction, `input`: `mean`/`sum`
/// through `value`, or `value_and_grad` when the gradient of `input` is asked for; `none`
/// through `per_element`, and for the gradient `value_and_grad` of the sum (times the
/// cotangent, [`Vjp::Separable`]) or the loss's own VJP ([`Vjp::Coupled`]).
pub(crate) fn dispatch<T: Real>(
    call: &Call<'_, T>,
    out: &mut Out<'_, T>,
    loss_shape: &[usize],
    vjp: Vjp1<'_, T>,
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
            let u = out.cotangent(call.loss, loss_shape)?;
            let mut losses = vec![T::ZERO; loss_shape.iter().product()];
            per_element(&mut losses)?;
            if let Some(g) = out.grad("input") {
                match (u, vjp) {
                    (Some(u), Vjp::Coupled(f)) => f(u, g)?,
                    (u, vjp) => {
                        value_and_grad(Reduction::Sum, g)?;
                        if let (Some(u), Vjp::Separable(kept)) = (u, vjp) {
                            apply_cotangent(g, &dims_of(call, "input"), kept, u);
                        }
                    }
                }
            }
            out.per_element = Some(losses);
        }
    }
    Ok(())
}

/// A coupled loss's VJP with two predictions: `(cotangent, gradient a, gradient b)`.
pub(crate) type Vjp2<'f, T> = Vjp<&'f dyn Fn(&[T], &mut [T], &mut [T]) -> Result<()>>;

/// [`dispatch`] for losses with two predictions (`gaussian_nll`'s `input` and `var`,
/// `margin_ranking`'s `x1` and `x2`), whose fused pass fills both gradients: when either is
/// asked for, both are computed and the asked ones kept.
#[allow(clippy::too_many_arguments)]
pub(crate) fn dispatch2<T: Real>(
    call: &Call<'_, T>,
    out: &mut Out<'_, T>,
    loss_shape: &[usize],
    predictions: [(&str, usize); 2],
    vjp: Vjp2<'_, T>,
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
            let u = out.cotangent(call.loss, loss_shape)?;
            let mut losses = vec![T::ZERO; loss_shape.iter().product()];
            per_element(&mut losses)?;
            if wants {
                match (u, vjp) {
                    (Some(u), Vjp::Coupled(f)) => f(u, &mut ga, &mut gb)?,
                    (u, vjp) => {
                        value_and_grad(Reduction::Sum, &mut ga, &mut gb)?;
                        if let (Some(u), Vjp::Separable(kept)) = (u, vjp) {
                            apply_cotangent(&mut ga, &dims_of(call, a), kept, u);
                            apply_cotangent(&mut gb, &dims_of(call, b), kept, u);
                        }
                    }
                }
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

/// As [`evaluate_into`](evaluate_into) for the second derivative: the loss `info`
/// reduced with `reduction`, the gradient of `input` written to `grad` and the diagonal of
/// its Hessian to `hess` (both as long as `input`, overwritten), with the curvature policy
/// `curvature`, in one pass. With [`ReductionMode::None`] the returned [`Evaluation`] holds
/// the per-element losses and the buffers the gradient and Hessian of their sum (what a
/// gradient-boosting objective returns).
///
/// The compute type is `T`; `input` must be float32 for `f32` buffers, float64 for `f64`.
/// [`LossInfo::hessian`] tells which losses have a Hessian.
///
/// # Example
/// ```
/// use losskit::{evaluate_hess, find, ArrayData, Curvature, NamedArray, Params, ReductionMode};
/// let info = find("huber")?;
/// let (x, t, dims) = ([0.5f64, 3.0], [0.0f64, 0.0], [2usize]);
/// let inputs = [
///     NamedArray { name: "input", data: ArrayData::F64(&x), dims: &dims },
///     NamedArray { name: "target", data: ArrayData::F64(&t), dims: &dims },
/// ];
/// let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
/// let params = Params::defaults(info);
/// evaluate_hess(info, &inputs, &params, ReductionMode::Sum, Curvature::Exact, &mut g, &mut h)?;
/// assert_eq!((g, h), ([0.5, 1.0], [1.0, 0.0]));
/// evaluate_hess(info, &inputs, &params, ReductionMode::Sum, Curvature::LightGBM, &mut g, &mut h)?;
/// assert_eq!(h, [1.0, 1.0]); // LightGBM's huber: a constant hessian
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # Errors
/// [`Error::NoHessian`] for a loss without one; every error of
/// [`evaluate_with`](evaluate_with); [`Error::GradDtype`] when `input`'s dtype is not
/// `T`'s; [`Error::GradLength`] for a buffer not as long as `input`; whatever the loss
/// rejects. On error the buffers hold unspecified values.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_hess<T: Real>(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    curvature: Curvature,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<Evaluation> {
    let Some(h) = info.hessian else {
        return Err(Error::NoHessian { loss: info.name });
    };
    match T::typed_pair(grad, hess) {
        Typed::F32((g, hh)) => {
            let given = check_hess(info, inputs, reduction, Dtype::F32, g.len(), hh.len())?;
            run_hess::<f32>(
                info, &given, params, reduction, curvature, h.eval.f32, g, hh,
            )
        }
        Typed::F64((g, hh)) => {
            let given = check_hess(info, inputs, reduction, Dtype::F64, g.len(), hh.len())?;
            run_hess::<f64>(
                info, &given, params, reduction, curvature, h.eval.f64, g, hh,
            )
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn run_hess<T: Real + Wrap>(
    info: &'static LossInfo,
    given: &[(&'static crate::catalogue::InputSpec, &NamedArray<'_>)],
    params: &Params,
    reduction: ReductionMode,
    curvature: Curvature,
    f: HessFn<T>,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<Evaluation> {
    let mut items = Vec::with_capacity(given.len());
    for (spec, arr) in given {
        let shape = Shape::new(arr.dims)?;
        let data: Resolved<'_, T> = crate::eval::resolve(spec, arr);
        items.push((spec.name, data, shape));
    }
    let call = Call {
        loss: info.name,
        items,
        params,
        reduction,
    };
    let mut out = HessOut {
        shape: Vec::new(),
        value: None,
        per_element: None,
        grad,
        hess,
    };
    f(&call, curvature, &mut out)?;
    Ok(Evaluation {
        loss: info.name,
        reduction,
        dtype: if T::NAME == "f64" {
            Dtype::F64
        } else {
            Dtype::F32
        },
        shape: out.shape,
        value: out.value,
        per_element: out.per_element.map(T::wrap),
        grads: Vec::new(),
    })
}

/// A parameter value as an adapter takes it from its caller (`losskit-candle`'s and
/// `losskit-burn`'s `Loss::param`), before [`Params::parse`] checks it against the catalogue:
/// its `Display` is the text the parser takes (floats print exactly, in Rust's shortest
/// round-trip form).
#[derive(Debug, Clone, PartialEq)]
pub enum ParamArg {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// One of the parameter's words.
    Word(String),
}

impl From<f64> for ParamArg {
    fn from(v: f64) -> ParamArg {
        ParamArg::Float(v)
    }
}
impl From<f32> for ParamArg {
    fn from(v: f32) -> ParamArg {
        ParamArg::Float(f64::from(v))
    }
}
impl From<i64> for ParamArg {
    fn from(v: i64) -> ParamArg {
        ParamArg::Int(v)
    }
}
impl From<i32> for ParamArg {
    fn from(v: i32) -> ParamArg {
        ParamArg::Int(i64::from(v))
    }
}
impl From<bool> for ParamArg {
    fn from(v: bool) -> ParamArg {
        ParamArg::Bool(v)
    }
}
impl From<&str> for ParamArg {
    fn from(v: &str) -> ParamArg {
        ParamArg::Word(v.to_owned())
    }
}

impl std::fmt::Display for ParamArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamArg::Float(v) => write!(f, "{v:?}"),
            ParamArg::Int(v) => write!(f, "{v}"),
            ParamArg::Bool(v) => write!(f, "{v}"),
            ParamArg::Word(w) => f.write_str(w),
        }
    }
}
