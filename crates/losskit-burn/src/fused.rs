//! The fused CPU path: a burn backend extension on `Flex` (and `Autodiff<Flex>`) whose
//! forward runs the core's kernel once ([`losskit::evaluate_into`]) and keeps the gradient
//! for a custom `Backward`.
//!
//! The extension takes one float tensor, the loss's predictions flattened and concatenated
//! (one prediction, the common case, is only reshaped; `triplet_margin`'s three are
//! concatenated, and burn's own `cat` backward splits the gradient again). Targets, weights
//! and labels are copied to the host once per call and ride along in the call without
//! gradients.

use std::sync::{Arc, Mutex};

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Autodiff, Backend, Dispatch, Flex};
use burn::tensor::{DType, Device, Tensor, TensorData};
use losskit::{ArrayData, Buffers, LossInfo, NamedArray, Params, ReductionMode};

use crate::{Error, Input, InputData, Loss, Result};

/// One loss call as the extension sees it. Shared (an `Arc`) between the forward pass and
/// the backward step of reduction `none`, which reruns the core for the VJP.
#[derive(Debug, Clone)]
pub struct Call(Arc<CallInner>);

#[derive(Debug)]
struct CallInner {
    info: &'static LossInfo,
    params: Params,
    reduction: ReductionMode,
    /// The predictions in the flattened tensor: name, dimensions, element count.
    preds: Vec<(&'static str, Vec<usize>, usize)>,
    /// The other inputs: name, elements, dimensions.
    rest: Vec<(String, Riding, Vec<usize>)>,
    /// What the core said, for the wrapper: an error, or the loss's `none` shape.
    outcome: Mutex<Option<std::result::Result<Vec<usize>, losskit::Error>>>,
}

/// The extension: one method, implemented on `Flex` and `Autodiff<Flex>` only. The wrapper
/// moves the predictions to the `flex` device first, so no other backend ever reaches it.
#[backend_extension(Flex, Autodiff)]
pub trait FusedBackend: Backend {
    /// The loss of `call` on the flattened predictions `x`: `[1]` for a reduced loss, the
    /// per-element losses (flattened) for `none`.
    fn losskit_fused(x: FloatTensor<Self>, call: Call) -> FloatTensor<Self>;
}

impl FusedBackend for Flex {
    fn losskit_fused(x: FlexTensor, call: Call) -> FlexTensor {
        run(&x, &call, false, None).0
    }
}

/// What the backward step needs: the kept gradient, or (under `none`) the predictions and
/// the call, to run the core's VJP with the upstream gradient.
#[derive(Debug, Clone)]
enum State {
    Kept(FlexTensor),
    Vjp(FlexTensor, Call),
}

#[derive(Debug)]
struct FusedBackward;

impl Backward<Flex, 1> for FusedBackward {
    type State = State;

    fn backward(self, ops: Ops<State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let up = grads.consume::<Flex>(&ops.node);
        let Some(parent) = parent else {
            return;
        };
        let g = match ops.state {
            State::Kept(g) => scale(g, &up),
            State::Vjp(x, call) => {
                let up = contiguous(up);
                run(&x, &call, true, Some(&up)).1
            }
        };
        debug_assert!(g.is_some(), "the fused backward produced no gradient");
        if let Some(g) = g {
            grads.register::<Flex>(parent.id, g);
        }
    }
}

/// The kept gradient times the upstream gradient of a reduced loss (one value, the loss's
/// shape `[1]`); untouched when that is 1, as `loss.backward()` sends. `None` only for an
/// upstream gradient of another shape or dtype, which burn never sends for a `[1]` output.
fn scale(g: FlexTensor, up: &FlexTensor) -> Option<FlexTensor> {
    let up = contiguous(up.clone());
    if let (Some(u), Some(v)) = (up.as_slice::<f32>(), g.as_slice::<f32>()) {
        return Some(match u {
            [1.0] => g,
            [u] => host(v.iter().map(|x| x * u).collect()),
            _ => return None,
        });
    }
    if let (Some(u), Some(v)) = (up.as_slice::<f64>(), g.as_slice::<f64>()) {
        return Some(match u {
            [1.0] => g,
            [u] => host(v.iter().map(|x| x * u).collect()),
            _ => return None,
        });
    }
    None
}

impl<C: CheckpointStrategy> FusedBackend for Autodiff<Flex, C> {
    fn losskit_fused(x: FloatTensor<Self>, call: Call) -> FloatTensor<Self> {
        let (x, guard) = x.into_parts();
        match FusedBackward
            .prepare::<C>([guard])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                if call.0.reduction == ReductionMode::None {
                    let (out, _) = run(&x, &call, false, None);
                    prep.finish(State::Vjp(contiguous(x), call), out)
                } else {
                    let (out, g) = run(&x, &call, true, None);
                    let g = g.unwrap_or_else(|| host(vec![0.0f32; call.total()]));
                    prep.finish(State::Kept(g), out)
                }
            }
            OpsKind::UnTracked(prep) => prep.finish(run(&x, &call, false, None).0),
        }
    }
}

impl Call {
    fn total(&self) -> usize {
        self.0.preds.iter().map(|p| p.2).sum()
    }

    fn set(&self, outcome: std::result::Result<Vec<usize>, losskit::Error>) {
        if let Ok(mut slot) = self.0.outcome.lock() {
            *slot = Some(outcome);
        }
    }
}

fn contiguous(x: FlexTensor) -> FlexTensor {
    if x.is_contiguous() {
        x
    } else {
        x.to_contiguous()
    }
}

/// A 1-D host vector as a flex tensor.
fn host<T: burn::tensor::Element>(v: Vec<T>) -> FlexTensor {
    let n = v.len();
    FlexTensor::from_data(TensorData::new(v, [n]))
}

/// The compute types.
trait Float: losskit::Real + burn::tensor::Element + bytemuck_free::Pod {
    fn array(s: &[Self]) -> ArrayData<'_>;
    fn from_array(a: losskit::FloatArray) -> Vec<Self>;
}

/// `bytemuck::Pod` without naming bytemuck: flex's `as_slice` bound, met by f32 and f64.
mod bytemuck_free {
    pub trait Pod: Copy {
        fn slice(t: &burn::backend::flex::FlexTensor) -> Option<&[Self]>;
    }
    impl Pod for f32 {
        fn slice(t: &burn::backend::flex::FlexTensor) -> Option<&[f32]> {
            t.as_slice::<f32>()
        }
    }
    impl Pod for f64 {
        fn slice(t: &burn::backend::flex::FlexTensor) -> Option<&[f64]> {
            t.as_slice::<f64>()
        }
    }
}

impl Float for f32 {
    fn array(s: &[f32]) -> ArrayData<'_> {
        ArrayData::F32(s)
    }
    fn from_array(a: losskit::FloatArray) -> Vec<f32> {
        match a {
            losskit::FloatArray::F32(v) => v,
            other => other.to_f64().into_iter().map(|x| x as f32).collect(),
        }
    }
}

impl Float for f64 {
    fn array(s: &[f64]) -> ArrayData<'_> {
        ArrayData::F64(s)
    }
    fn from_array(a: losskit::FloatArray) -> Vec<f64> {
        match a {
            losskit::FloatArray::F64(v) => v,
            other => other.to_f64(),
        }
    }
}

/// Runs the core on the flattened predictions `x`: the loss and, when `grads`, the gradient
/// of the flattened predictions (the VJP with `cotangent` under `none`). On an error of the
/// core, the error goes to the call and the loss is a placeholder the wrapper drops.
fn run(
    x: &FlexTensor,
    call: &Call,
    grads: bool,
    cotangent: Option<&FlexTensor>,
) -> (FlexTensor, Option<FlexTensor>) {
    let x = contiguous(x.clone());
    let out = if x.dtype() == DType::F64 {
        run_typed::<f64>(&x, call, grads, cotangent)
    } else {
        run_typed::<f32>(&x, call, grads, cotangent)
    };
    match out {
        Ok(r) => r,
        Err(e) => {
            call.set(Err(e));
            (host(vec![f32::NAN]), None)
        }
    }
}

fn run_typed<T: Float>(
    x: &FlexTensor,
    call: &Call,
    want: bool,
    cotangent: Option<&FlexTensor>,
) -> std::result::Result<(FlexTensor, Option<FlexTensor>), losskit::Error> {
    let c = &call.0;
    let loss = c.info.name;
    let all: &[T] = T::slice(x).unwrap_or(&[]);
    let mut named: Vec<NamedArray<'_>> = Vec::with_capacity(c.preds.len() + c.rest.len());
    let mut at = 0;
    for (name, dims, n) in &c.preds {
        let end = (at + n).min(all.len());
        named.push(NamedArray {
            name,
            data: T::array(&all[at..end]),
            dims,
        });
        at = end;
    }
    for (name, data, dims) in &c.rest {
        // `riding` made every riding input one of the dtypes `borrowed` reads.
        let Some(d) = borrowed(data) else {
            return Err(losskit::Error::Dtype {
                loss,
                arg: c.info.input(name).map_or("an input", |s| s.name),
                actual: crate::dtype_name(data.dtype()),
                expected: "float32, float64, int64, int32, uint8 or bool",
            });
        };
        named.push(NamedArray {
            name,
            data: d,
            dims,
        });
    }
    let mut buf = if want {
        vec![T::ZERO; all.len()]
    } else {
        Vec::new()
    };
    let u: Option<&[T]> = cotangent.and_then(T::slice);
    let e = {
        let mut bufs = Vec::with_capacity(c.preds.len());
        let mut rest: &mut [T] = &mut buf;
        if want {
            for (name, _, n) in &c.preds {
                let (a, b) = rest.split_at_mut((*n).min(rest.len()));
                bufs.push((*name, a));
                rest = b;
            }
        }
        let b = Buffers {
            grads: bufs,
            cotangent: u,
        };
        losskit::evaluate_into(c.info, &named, &c.params, c.reduction, b)?
    };
    call.set(Ok(e.shape.clone()));
    let out = match (e.value, e.per_element) {
        // Exact: the core computed the value in T.
        (Some(v), _) => host(vec![T::from_f64(v)]),
        (None, Some(p)) => host(T::from_array(p)),
        (None, None) => host(Vec::<T>::new()),
    };
    Ok((out, want.then(|| host(buf))))
}

/// A non-differentiable input as the call keeps it.
#[derive(Debug)]
enum Riding {
    /// The input's own flex tensor (contiguous), read in place each time the core runs.
    Flex(FlexTensor),
    /// A host copy.
    Host(TensorData),
}

impl Riding {
    fn dtype(&self) -> DType {
        match self {
            Riding::Flex(t) => t.dtype(),
            Riding::Host(d) => d.dtype(),
        }
    }
}

/// An input as the core reads it, borrowed.
fn borrowed(d: &Riding) -> Option<ArrayData<'_>> {
    Some(match d {
        Riding::Flex(t) => match t.dtype() {
            DType::F32 => ArrayData::F32(t.as_slice()?),
            DType::F64 => ArrayData::F64(t.as_slice()?),
            DType::I64 => ArrayData::I64(t.as_slice()?),
            DType::I32 => ArrayData::I32(t.as_slice()?),
            DType::U8 => ArrayData::U8(t.as_slice()?),
            _ => return None,
        },
        Riding::Host(d) => match d.dtype() {
            DType::F32 => ArrayData::F32(d.as_slice().ok()?),
            DType::F64 => ArrayData::F64(d.as_slice().ok()?),
            DType::I64 => ArrayData::I64(d.as_slice().ok()?),
            DType::I32 => ArrayData::I32(d.as_slice().ok()?),
            DType::U8 => ArrayData::U8(d.as_slice().ok()?),
            _ => return None,
        },
    })
}

/// The flex tensor behind a float or int input on the `flex` device (with or without
/// autodiff), contiguous, when the core reads its dtype in place: no copy (an `Arc` is
/// shared). `None` elsewhere.
fn on_flex(data: &InputData) -> Option<FlexTensor> {
    let t: FlexTensor = match data {
        InputData::Float(t) => t.clone().try_into_primitive::<Flex>().ok().or_else(|| {
            t.clone()
                .try_into_primitive::<Autodiff<Flex>>()
                .ok()
                .map(|a| a.into_primitive())
        })?,
        InputData::Int(t) => t
            .clone()
            .try_into_primitive::<Flex>()
            .ok()
            .or_else(|| t.clone().try_into_primitive::<Autodiff<Flex>>().ok())?,
        InputData::Bool(_) => return None,
    };
    matches!(
        t.dtype(),
        DType::F32 | DType::F64 | DType::I64 | DType::I32 | DType::U8
    )
    .then(|| contiguous(t))
}

/// A non-differentiable input as the core reads it: its flex tensor in place, or a host copy.
fn riding(loss: &'static str, name: &str, input: Input) -> Result<(Riding, Vec<usize>)> {
    if let Some(t) = on_flex(&input.data) {
        return Ok((Riding::Flex(t), input.dims));
    }
    let (d, dims) = to_host(loss, name, input)?;
    Ok((Riding::Host(d), dims))
}

/// A non-differentiable input on the host, in a dtype the core reads in place.
fn to_host(loss: &'static str, name: &str, input: Input) -> Result<(TensorData, Vec<usize>)> {
    fn read<E: std::fmt::Debug>(
        loss: &str,
        name: &str,
        r: std::result::Result<TensorData, E>,
    ) -> Result<TensorData> {
        r.map_err(|e| Error::msg(format!("{loss}: reading `{name}` failed: {e:?}")))
    }
    let data = match input.data {
        InputData::Float(t) => {
            let d = read(loss, name, t.try_into_data())?;
            match d.dtype() {
                DType::F32 | DType::F64 => d,
                _ => d.convert_dtype(DType::F32),
            }
        }
        InputData::Int(t) => {
            let d = read(loss, name, t.try_into_data())?;
            match d.dtype() {
                DType::I64 | DType::I32 | DType::U8 => d,
                _ => d.convert_dtype(DType::I64),
            }
        }
        InputData::Bool(t) => read(loss, name, t.int().try_into_data())?.convert_dtype(DType::U8),
    };
    Ok((data, input.dims))
}

/// The loss through the extension on the `flex` device (the predictions moved there and the
/// loss moved back when they live elsewhere): the flattened loss and its `none` shape.
pub(crate) fn forward(l: &Loss, inputs: Vec<(&str, Input)>) -> Result<(Tensor<1>, Vec<usize>)> {
    let info = l.info();
    let loss = info.name;
    let mut preds: Vec<Tensor<1>> = Vec::new();
    let mut meta = Vec::new();
    let mut rest = Vec::new();
    let mut home: Option<(Device, DType)> = None;
    for (name, input) in inputs {
        match info.input(name) {
            Some(spec) if l.is_prediction(name) => {
                let InputData::Float(t) = input.data else {
                    return Err(losskit::Error::Dtype {
                        loss,
                        arg: spec.name,
                        actual: input.dtype_name(),
                        expected: "float32 or float64",
                    }
                    .into());
                };
                let (_, first) = *home.get_or_insert_with(|| (t.device(), t.dtype()));
                // The compute type is the first prediction's (half precision in f32, as the
                // core computes its own half inputs); others are converted to it,
                // differentiably, as the core converts other float inputs.
                let compute = if first == DType::F64 {
                    DType::F64
                } else {
                    DType::F32
                };
                let t = if t.dtype() == compute {
                    t
                } else {
                    t.cast(compute)
                };
                let dev = t.device();
                let t = if crate::is_flex(&dev) {
                    t
                } else if dev.is_autodiff() {
                    t.to_device(&Device::flex().autodiff())
                } else {
                    t.to_device(&Device::flex())
                };
                let n = input.dims.iter().product();
                meta.push((spec.name, input.dims, n));
                preds.push(t);
            }
            // Unknown names go to the core too, which names them in its error.
            _ => {
                let (d, dims) = riding(loss, name, input)?;
                rest.push((name.to_owned(), d, dims));
            }
        }
    }
    let call = Call(Arc::new(CallInner {
        info,
        params: l.params().clone(),
        reduction: l.reduction_mode(),
        preds: meta,
        rest,
        outcome: Mutex::new(None),
    }));
    let Some((device, dtype)) = home else {
        return Err(no_prediction(&call));
    };
    let flat = if preds.len() == 1 {
        preds.pop().expect("one prediction")
    } else {
        Tensor::cat(preds, 0)
    };
    let out = <Dispatch as FusedBackend>::losskit_fused(flat.into_dispatch(), call.clone());
    let out = Tensor::<1>::from_dispatch(out);
    let shape = match call.0.outcome.lock().ok().and_then(|mut s| s.take()) {
        Some(Ok(shape)) => shape,
        Some(Err(e)) => return Err(e.into()),
        None => return Err(Error::msg(format!("{loss}: the fused path did not run"))),
    };
    let out = if out.dtype() == dtype || !matches!(dtype, DType::F16 | DType::BF16) {
        out
    } else {
        out.cast(dtype)
    };
    let out = if crate::is_flex(&device) {
        out
    } else {
        out.to_device(&device)
    };
    Ok((out, shape))
}

/// No prediction given: the core's error naming the missing one.
fn no_prediction(call: &Call) -> Error {
    let c = &call.0;
    let mut named = Vec::new();
    for (name, data, dims) in &c.rest {
        if let Some(d) = borrowed(data) {
            named.push(NamedArray {
                name,
                data: d,
                dims,
            });
        }
    }
    match losskit::evaluate_with(c.info, &named, &c.params, c.reduction, &[]) {
        Err(e) => e.into(),
        Ok(_) => Error::msg(format!("{}: no prediction given", c.info.name)),
    }
}
