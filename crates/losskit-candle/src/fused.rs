//! The fused CPU path: one `CustomOp1/2/3` over the predictions whose `cpu_fwd` runs the
//! core's kernel once ([`losskit::evaluate_into`]) and keeps the gradient for `bwd`.
//!
//! The op's tensor arguments are the loss's predictions (at most three in the catalogue:
//! `triplet_margin`'s anchor, positive and negative); targets, weights and index labels ride
//! along in the op as detached CPU tensors, read in place each time the core runs, without
//! gradients.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use candle_core::backend::BackendStorage;
use candle_core::{
    CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Device, Layout, Result, Shape, Storage,
    Tensor,
};
use losskit::{ArrayData, Buffers, FloatArray, LossInfo, NamedArray, Params, ReductionMode};

use crate::core_error;

/// A non-differentiable input as the op keeps it: on the CPU, contiguous, of a dtype the
/// core reads in place (`u32` labels, candle's usual index type, and `i16` become `i64`).
/// Its storage is borrowed, not copied, each time the core runs.
pub(crate) fn riding(loss: &str, name: &str, t: &Tensor) -> Result<Tensor> {
    let t = t.detach().to_device(&CPU)?;
    let t = match t.dtype() {
        DType::F32
        | DType::F64
        | DType::F16
        | DType::BF16
        | DType::I64
        | DType::I32
        | DType::U8 => t,
        DType::U32 | DType::I16 => t.to_dtype(DType::I64)?,
        other => {
            return Err(candle_core::Error::Msg(format!(
                "{loss}: `{name}` has dtype {other:?}; expected f32, f64, f16, bf16, i64, i32, \
                 i16, u32 or u8"
            )))
        }
    };
    t.contiguous()
}

/// The elements of a tensor made by [`riding`], borrowed from its storage guard.
fn borrowed<'a>(loss: &str, s: &'a Storage, l: &Layout) -> Result<ArrayData<'a>> {
    let (Storage::Cpu(cpu), Some((a, b))) = (s, l.contiguous_offsets()) else {
        return Err(candle_core::Error::Msg(format!(
            "{loss}: an input reached the fused op off the CPU or strided"
        )));
    };
    Ok(match cpu {
        CpuStorage::F32(v) => ArrayData::F32(&v[a..b]),
        CpuStorage::F64(v) => ArrayData::F64(&v[a..b]),
        CpuStorage::F16(v) => ArrayData::F16(&v[a..b]),
        CpuStorage::BF16(v) => ArrayData::BF16(&v[a..b]),
        CpuStorage::I64(v) => ArrayData::I64(&v[a..b]),
        CpuStorage::I32(v) => ArrayData::I32(&v[a..b]),
        CpuStorage::U8(v) => ArrayData::U8(&v[a..b]),
        other => {
            return Err(candle_core::Error::Msg(format!(
                "{loss}: an input of dtype {:?} reached the fused op",
                other.dtype()
            )))
        }
    })
}

/// Runs the core on `rest` alone (no prediction given): for the core's error naming the
/// missing input.
pub(crate) fn check_without_predictions(
    info: &'static LossInfo,
    params: &Params,
    reduction: ReductionMode,
    rest: &[(String, Tensor)],
) -> Result<()> {
    let guards: Vec<_> = rest.iter().map(|(_, t)| t.storage_and_layout()).collect();
    let mut named = Vec::with_capacity(rest.len());
    for ((name, _), (g, l)) in rest.iter().zip(&guards) {
        named.push(NamedArray {
            name,
            data: borrowed(info.name, g, l)?,
            dims: l.dims(),
        });
    }
    losskit::evaluate_with(info, &named, params, reduction, &[]).map_err(core_error)?;
    Ok(())
}

/// The compute types of the fused op.
pub(crate) trait Float: losskit::Real + candle_core::WithDType {
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    fn array(s: &[Self]) -> ArrayData<'_>;
    fn storage(v: Vec<Self>) -> CpuStorage;
    /// The core's per-element output, computed in `Self`.
    fn from_array(a: FloatArray) -> Vec<Self>;
    fn saved(v: Vec<Vec<Self>>) -> Saved;
    fn unsave(s: Saved) -> Option<Vec<Vec<Self>>>;
}

impl Float for f32 {
    fn slice(s: &CpuStorage) -> Option<&[f32]> {
        match s {
            CpuStorage::F32(v) => Some(v),
            _ => None,
        }
    }
    fn array(s: &[f32]) -> ArrayData<'_> {
        ArrayData::F32(s)
    }
    fn storage(v: Vec<f32>) -> CpuStorage {
        CpuStorage::F32(v)
    }
    fn from_array(a: FloatArray) -> Vec<f32> {
        match a {
            FloatArray::F32(v) => v,
            other => other.to_f64().into_iter().map(|x| x as f32).collect(),
        }
    }
    fn saved(v: Vec<Vec<f32>>) -> Saved {
        Saved::F32(v)
    }
    fn unsave(s: Saved) -> Option<Vec<Vec<f32>>> {
        match s {
            Saved::F32(v) => Some(v),
            Saved::F64(_) => None,
        }
    }
}

impl Float for f64 {
    fn slice(s: &CpuStorage) -> Option<&[f64]> {
        match s {
            CpuStorage::F64(v) => Some(v),
            _ => None,
        }
    }
    fn array(s: &[f64]) -> ArrayData<'_> {
        ArrayData::F64(s)
    }
    fn storage(v: Vec<f64>) -> CpuStorage {
        CpuStorage::F64(v)
    }
    fn from_array(a: FloatArray) -> Vec<f64> {
        match a {
            FloatArray::F64(v) => v,
            other => other.to_f64(),
        }
    }
    fn saved(v: Vec<Vec<f64>>) -> Saved {
        Saved::F64(v)
    }
    fn unsave(s: Saved) -> Option<Vec<Vec<f64>>> {
        match s {
            Saved::F64(v) => Some(v),
            Saved::F32(_) => None,
        }
    }
}

/// The gradients the forward pass computed, one per prediction, for `bwd`.
#[derive(Debug)]
pub(crate) enum Saved {
    F32(Vec<Vec<f32>>),
    F64(Vec<Vec<f64>>),
}

/// One loss call as a candle op.
pub(crate) struct Fused {
    pub(crate) info: &'static LossInfo,
    pub(crate) params: Params,
    pub(crate) reduction: ReductionMode,
    /// The names of the op's tensor arguments, in order.
    pub(crate) preds: Vec<&'static str>,
    /// The other inputs (made by [`riding`]), by name.
    pub(crate) rest: Vec<(String, Tensor)>,
    /// Whether the forward pass computes the gradient (some prediction is tracked).
    pub(crate) keep_grad: bool,
    pub(crate) saved: Mutex<Option<Saved>>,
}

/// A strided argument's elements, row-major (borrowed when contiguous).
fn elements<'a, T: Float>(loss: &str, s: &'a CpuStorage, l: &Layout) -> Result<Cow<'a, [T]>> {
    let all = T::slice(s).ok_or_else(|| {
        candle_core::Error::Msg(format!(
            "{loss}: the predictions must all have the same dtype, f32 or f64 (got {:?})",
            s.dtype()
        ))
    })?;
    // The wrapper makes every prediction contiguous before the op.
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(Cow::Borrowed(&all[a..b])),
        None => Err(candle_core::Error::Msg(format!(
            "{loss}: a prediction reached the fused op strided"
        ))),
    }
}

impl Fused {
    /// Runs the core: the loss (reduced, or per element) and, into fresh buffers, the
    /// gradients when `grads` (the VJP with `cotangent` under `none`).
    fn run<T: Float>(
        &self,
        preds: &[(Cow<'_, [T]>, Vec<usize>)],
        grads: bool,
        cotangent: Option<&[T]>,
    ) -> Result<(losskit::Evaluation, Vec<Vec<T>>)> {
        let loss = self.info.name;
        let mut named: Vec<NamedArray<'_>> = self
            .preds
            .iter()
            .zip(preds)
            .map(|(name, (data, dims))| NamedArray {
                name,
                data: Float::array(data),
                dims,
            })
            .collect();
        // Read in place: the guards live until the core has run.
        let guards: Vec<_> = self
            .rest
            .iter()
            .map(|(_, t)| t.storage_and_layout())
            .collect();
        for ((name, _), (g, l)) in self.rest.iter().zip(&guards) {
            named.push(NamedArray {
                name,
                data: borrowed(loss, g, l)?,
                dims: l.dims(),
            });
        }
        let mut bufs: Vec<Vec<T>> = if grads {
            preds.iter().map(|(d, _)| vec![T::ZERO; d.len()]).collect()
        } else {
            Vec::new()
        };
        let b = Buffers {
            grads: self
                .preds
                .iter()
                .copied()
                .zip(bufs.iter_mut().map(Vec::as_mut_slice))
                .collect(),
            cotangent,
        };
        let e = losskit::evaluate_into(self.info, &named, &self.params, self.reduction, b)
            .map_err(core_error)?;
        Ok((e, bufs))
    }

    fn fwd<T: Float>(&self, args: &[(&CpuStorage, &Layout)]) -> Result<(CpuStorage, Shape)> {
        let loss = self.info.name;
        let mut preds = Vec::with_capacity(args.len());
        for (s, l) in args {
            preds.push((elements::<T>(loss, s, l)?, l.dims().to_vec()));
        }
        // Under `none` the gradient is a VJP with the upstream gradient `bwd` receives.
        let keep = self.keep_grad && self.reduction != ReductionMode::None;
        let (e, grads) = self.run::<T>(&preds, keep, None)?;
        if keep {
            if let Ok(mut slot) = self.saved.lock() {
                *slot = Some(T::saved(grads));
            }
        }
        match (e.value, e.per_element) {
            // Exact: the core computed the value in T.
            (Some(v), _) => Ok((
                T::storage(vec![<T as losskit::Real>::from_f64(v)]),
                Shape::from(()),
            )),
            (None, Some(p)) => Ok((T::storage(T::from_array(p)), Shape::from(e.shape))),
            (None, None) => Err(candle_core::Error::Msg(format!(
                "{loss}: the core returned neither a value nor per-element losses"
            ))),
        }
    }

    fn fwd_any(&self, args: &[(&CpuStorage, &Layout)]) -> Result<(CpuStorage, Shape)> {
        match args.first().map(|(s, _)| s.dtype()) {
            Some(DType::F64) => self.fwd::<f64>(args),
            _ => self.fwd::<f32>(args),
        }
    }

    fn bwd_typed<T: Float>(&self, args: &[&Tensor], grad_res: &Tensor) -> Result<Vec<Tensor>> {
        // Taken, not copied: a second backward pass over the same graph (rare) recomputes.
        let cached = match self.saved.lock() {
            Ok(mut slot) => slot.take().and_then(T::unsave),
            Err(_) => None,
        };
        let grads = match cached {
            Some(g) => g,
            None => {
                let mut preds = Vec::with_capacity(args.len());
                for a in args {
                    let v: Vec<T> = a.flatten_all()?.to_vec1()?;
                    preds.push((Cow::Owned(v), a.dims().to_vec()));
                }
                let u: Option<Vec<T>> = if self.reduction == ReductionMode::None {
                    Some(grad_res.flatten_all()?.to_vec1()?)
                } else {
                    None
                };
                self.run::<T>(&preds, true, u.as_deref())?.1
            }
        };
        let mut out = Vec::with_capacity(args.len());
        for (a, g) in args.iter().zip(grads) {
            let g = Tensor::from_vec(g, a.shape(), a.device())?;
            // The VJP already holds the upstream gradient; a reduced loss's is a scalar.
            // (`loss.backward()` itself sends 1: no pass over the gradient for it.)
            let one = grad_res.dims().is_empty()
                && grad_res.to_scalar::<T>()? == <T as losskit::Real>::ONE;
            out.push(if self.reduction == ReductionMode::None || one {
                g
            } else {
                g.broadcast_mul(grad_res)?
            });
        }
        Ok(out)
    }

    fn bwd_any(&self, args: &[&Tensor], grad_res: &Tensor) -> Result<Vec<Option<Tensor>>> {
        let g = match args.first().map(|a| a.dtype()) {
            Some(DType::F64) => self.bwd_typed::<f64>(args, grad_res)?,
            _ => self.bwd_typed::<f32>(args, grad_res)?,
        };
        Ok(g.into_iter().map(Some).collect())
    }
}

impl CustomOp1 for Fused {
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        self.fwd_any(&[(s, l)])
    }
    fn bwd(&self, a: &Tensor, _res: &Tensor, g: &Tensor) -> Result<Option<Tensor>> {
        Ok(self.bwd_any(&[a], g)?.pop().flatten())
    }
}

impl CustomOp2 for Fused {
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd_any(&[(s1, l1), (s2, l2)])
    }
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let mut it = self.bwd_any(&[a, b], g)?.into_iter();
        Ok((it.next().flatten(), it.next().flatten()))
    }
}

impl CustomOp3 for Fused {
    fn name(&self) -> &'static str {
        self.info.name
    }
    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd_any(&[(s1, l1), (s2, l2), (s3, l3)])
    }
    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        c: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let mut it = self.bwd_any(&[a, b, c], g)?.into_iter();
        Ok((
            it.next().flatten(),
            it.next().flatten(),
            it.next().flatten(),
        ))
    }
}

/// Applies the fused op to `preds` (on the CPU, of one float dtype); with no prediction
/// tracked, outside the graph.
pub(crate) fn apply(op: Fused, preds: &[Tensor]) -> Result<Tensor> {
    let loss = op.info.name;
    let track = op.keep_grad;
    match (preds, track) {
        ([a], false) => a.apply_op1_no_bwd(&op),
        ([a, b], false) => a.apply_op2_no_bwd(b, &op),
        ([a, b, c], false) => a.apply_op3_no_bwd(b, c, &op),
        ([a], true) => a.apply_op1_arc(Arc::new(Box::new(op))),
        ([a, b], true) => a.apply_op2_arc(b, Arc::new(Box::new(op))),
        ([a, b, c], true) => a.apply_op3_arc(b, c, Arc::new(Box::new(op))),
        _ => Err(candle_core::Error::Msg(format!(
            "{loss}: {} predictions given; the fused op takes one to three",
            preds.len()
        ))),
    }
}

/// The CPU device.
pub(crate) const CPU: Device = Device::Cpu;
