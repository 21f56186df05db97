//! The shared driver of the pointwise regression losses: shape and weight checks, the
//! reductions, and the fused loops.

use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{dispatch, Call, Kept, Out, Vjp};
use crate::hessian::{Curvature, HessOut};
use crate::numerics::{chunked_fold, chunked_fold_mut, chunked_fold_mut2, simd, Lanes, Partial, SimdCall, BLOCK};
use crate::real::Real;
use crate::reduction::weight_total;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

/// The inputs of a pointwise regression loss: `input` (the prediction), `target` of the same
/// shape, and an optional element-wise `weight` of the same shape.
///
/// With a weight, per-element losses are `w·ℓ`, `Sum` is `Σ w·ℓ` and `Mean` is
/// `Σ w·ℓ / Σ w` for every regression loss (PyTorch divides by N for `huber_loss`; losskit
/// does not, see the crate docs). Weights must be finite and non-negative; when they sum to
/// 0, `Mean` is 0 with zero gradients.
///
/// ```
/// use losskit::{Pointwise, Tensor};
/// let x = [1.0f64, 2.0, 3.0];
/// let y = [1.5, 2.0, 2.0];
/// let w = [1.0, 1.0, 2.0];
/// let inputs = Pointwise::new(&x, &y).weight(&w);
/// assert_eq!(inputs.input().dims(), &[3]);
/// // Shapes other than a vector: build the tensors explicitly.
/// let grid = Pointwise::new(Tensor::new(&x, &[3, 1])?, Tensor::new(&y, &[3, 1])?);
/// # let _ = grid;
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct Pointwise<'a, T> {
    input: Tensor<'a, T>,
    target: Tensor<'a, T>,
    weight: Option<Tensor<'a, T>>,
}

impl<'a, T> Pointwise<'a, T> {
    /// The prediction and the target (their shapes are checked by the loss).
    pub fn new(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, T>>) -> Self {
        Pointwise {
            input: input.into(),
            target: target.into(),
            weight: None,
        }
    }

    /// Adds an element-wise weight (same shape as `input`).
    #[must_use]
    pub fn weight(mut self, weight: impl Into<Tensor<'a, T>>) -> Self {
        self.weight = Some(weight.into());
        self
    }

    /// The prediction.
    pub fn input(&self) -> Tensor<'a, T> {
        self.input
    }

    /// The target.
    pub fn target(&self) -> Tensor<'a, T> {
        self.target
    }

    /// The element-wise weight, if any.
    pub fn weight_tensor(&self) -> Option<Tensor<'a, T>> {
        self.weight
    }
}

/// One pointwise loss: the per-element loss of a prediction `x` and a target `t`, and its
/// derivative with respect to `x`.
pub(crate) trait Kernel<T: Real>: Sync + Copy {
    const NAME: &'static str;
    fn loss(&self, x: T, t: T) -> T;
    fn loss_grad(&self, x: T, t: T) -> (T, T);
    /// Whether the element is in the loss's domain; checked inside the fused loop.
    #[inline(always)]
    fn valid(&self, _x: T, _t: T) -> bool {
        true
    }
    /// For the first invalid element: the argument, the offending value and the domain.
    fn why_invalid(&self, _x: T, _t: T) -> (&'static str, T, &'static str) {
        ("input", T::ZERO, "")
    }
}

fn check<T: Real>(name: &'static str, inputs: &Pointwise<'_, T>) -> Result<()> {
    let dims = inputs.input.dims();
    let mismatch = |arg, t: &Tensor<'_, T>| Error::ShapeMismatch {
        loss: name,
        arg,
        actual: t.dims().to_vec(),
        expected: dims.to_vec(),
        because: "the shape of `input`",
    };
    if inputs.target.dims() != dims {
        return Err(mismatch("target", &inputs.target));
    }
    if let Some(w) = &inputs.weight {
        if w.dims() != dims {
            return Err(mismatch("weight", w));
        }
    }
    Ok(())
}

fn invalid<T: Real, K: Kernel<T>>(k: &K, inputs: &Pointwise<'_, T>) -> Error {
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let i = x
        .iter()
        .zip(t)
        .position(|(&a, &b)| !k.valid(a, b))
        .unwrap_or(0);
    let (arg, value, expected) = k.why_invalid(x[i], t[i]);
    Error::InvalidValue {
        loss: K::NAME,
        arg,
        index: inputs.input.shape().unravel(i),
        value: value.to_f64(),
        expected,
    }
}

/// The denominator of the reduction: `1`, `N` or `Σ w`. `None` when the weighted mean has
/// nothing to average (every weight 0): the loss is then 0 with zero gradients.
fn denominator<T: Real>(
    name: &'static str,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
) -> Result<Option<f64>> {
    let n = inputs.input.len();
    let total = match &inputs.weight {
        Some(w) => Some(weight_total(name, w)?),
        None => None,
    };
    Ok(match (reduction, total) {
        (Reduction::Sum, _) => Some(1.0),
        (Reduction::Mean, _) if n == 0 => return Err(Error::EmptyMean { loss: name }),
        (Reduction::Mean, None) => Some(n as f64),
        (Reduction::Mean, Some(s)) if s > 0.0 => Some(s),
        (Reduction::Mean, Some(_)) => None,
    })
}

/// `Σ w(i)·ℓᵢ` over one chunk, in eight `f64` lanes. Block-wise: a plain indexed loop with
/// no loop-carried dependency writes the element losses of [`BLOCK`] elements into a stack
/// buffer, so the compiler vectorises the whole element map (transcendentals included), then
/// the buffer is added to the lanes ([`Lanes::add_block`], an order fixed by the block
/// boundaries, not by the thread count or SIMD width). Unweighted callers pass `|_| 1`, which the compiler folds away.
#[inline(always)]
fn sum_chunk<T: Real, K: Kernel<T>>(k: &K, x: &[T], t: &[T], w: impl Fn(usize) -> T) -> Partial {
    // A local copy: the compiler cannot keep parameters behind a reference in registers
    // across the loop's stores, and reloading them stops vectorisation (Huber ran 4x slower).
    let k = *k;
    let mut lanes = Lanes::default();
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
    let t = &t[..x.len()];
    for (c, (xb, tb)) in x.chunks(BLOCK).zip(t.chunks(BLOCK)).enumerate() {
        let base = c * BLOCK;
        let m = xb.len();
        let (tb, lb) = (&tb[..m], &mut buf[..m]);
        for i in 0..m {
            ok &= k.valid(xb[i], tb[i]);
            lb[i] = w(base + i) * k.loss(xb[i], tb[i]);
        }
        lanes.add_block(lb);
    }
    Partial {
        sum: lanes.total(),
        ok,
    }
}

/// As [`sum_chunk`], also writing `w(i)·scale·∂ℓᵢ/∂xᵢ` into `g`.
#[inline(always)]
fn grad_chunk<T: Real, K: Kernel<T>>(
    k: &K,
    x: &[T],
    t: &[T],
    g: &mut [T],
    w: impl Fn(usize) -> T,
    scale: T,
) -> Partial {
    let k = *k; // see `sum_chunk`
    let mut lanes = Lanes::default();
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
    let n = x.len();
    let (t, g) = (&t[..n], &mut g[..n]);
    for (c, ((xb, tb), gb)) in x
        .chunks(BLOCK)
        .zip(t.chunks(BLOCK))
        .zip(g.chunks_mut(BLOCK))
        .enumerate()
    {
        let base = c * BLOCK;
        let m = xb.len();
        let (tb, gb, lb) = (&tb[..m], &mut gb[..m], &mut buf[..m]);
        for i in 0..m {
            ok &= k.valid(xb[i], tb[i]);
            let (v, d) = k.loss_grad(xb[i], tb[i]);
            let wi = w(base + i);
            gb[i] = d * wi * scale;
            lb[i] = wi * v;
        }
        lanes.add_block(lb);
    }
    Partial {
        sum: lanes.total(),
        ok,
    }
}

/// One chunk of [`value`] (`g: None`) or [`value_and_grad`], for [`simd`]: the loops are
/// generated inside the target-feature function, so they vectorise at its width.
struct Chunk<'a, T, K> {
    k: &'a K,
    x: &'a [T],
    t: &'a [T],
    w: Option<&'a [T]>,
    g: Option<&'a mut [T]>,
    scale: T,
}

impl<T: Real, K: Kernel<T>> SimdCall for Chunk<'_, T, K> {
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        let Chunk {
            k,
            x,
            t,
            w,
            g,
            scale,
        } = self;
        match (g, w) {
            (None, None) => sum_chunk(k, x, t, |_| T::ONE),
            (None, Some(w)) => {
                let w = &w[..x.len()];
                sum_chunk(k, x, t, |i| w[i])
            }
            (Some(g), None) => grad_chunk(k, x, t, g, |_| T::ONE, scale),
            (Some(g), Some(w)) => {
                let w = &w[..x.len()];
                grad_chunk(k, x, t, g, |i| w[i], scale)
            }
        }
    }
}

pub(crate) fn value<T: Real, K: Kernel<T>>(
    k: &K,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
) -> Result<T> {
    check(K::NAME, inputs)?;
    let Some(denom) = denominator(K::NAME, inputs, reduction)? else {
        return Ok(T::ZERO);
    };
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let w = inputs.weight.map(|w| w.data());
    let p = chunked_fold(
        x.len(),
        Partial::ZERO,
        |r| {
            simd(Chunk {
                k,
                x: &x[r.clone()],
                t: &t[r.clone()],
                w: w.map(|w| &w[r.clone()]),
                g: None,
                scale: T::ONE,
            })
        },
        Partial::combine,
    );
    if !p.ok {
        return Err(invalid(k, inputs));
    }
    Ok(T::from_f64(p.sum / denom))
}

pub(crate) fn value_and_grad<T: Real, K: Kernel<T>>(
    k: &K,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
    grad: &mut [T],
) -> Result<T> {
    check(K::NAME, inputs)?;
    check_buffer(
        K::NAME,
        "gradient of `input`",
        grad.len(),
        inputs.input.len(),
    )?;
    let Some(denom) = denominator(K::NAME, inputs, reduction)? else {
        grad.fill(T::ZERO);
        return Ok(T::ZERO);
    };
    let scale = T::from_f64(1.0 / denom);
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let w = inputs.weight.map(|w| w.data());
    let p = chunked_fold_mut(
        grad,
        Partial::ZERO,
        |r, g| {
            simd(Chunk {
                k,
                x: &x[r.clone()],
                t: &t[r.clone()],
                w: w.map(|w| &w[r.clone()]),
                g: Some(g),
                scale,
            })
        },
        Partial::combine,
    );
    if !p.ok {
        return Err(invalid(k, inputs));
    }
    Ok(T::from_f64(p.sum / denom))
}

pub(crate) fn per_element<T: Real, K: Kernel<T>>(
    k: &K,
    inputs: &Pointwise<'_, T>,
    out: &mut [T],
) -> Result<()> {
    check(K::NAME, inputs)?;
    check_buffer(K::NAME, "per-element output", out.len(), inputs.input.len())?;
    if let Some(w) = &inputs.weight {
        weight_total(K::NAME, w)?;
    }
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let mut ok = true;
    match inputs.weight.map(|w| w.data()) {
        None => {
            for ((o, &a), &b) in out.iter_mut().zip(x).zip(t) {
                ok &= k.valid(a, b);
                *o = k.loss(a, b);
            }
        }
        Some(w) => {
            for (((o, &a), &b), &wi) in out.iter_mut().zip(x).zip(t).zip(w) {
                ok &= k.valid(a, b);
                *o = wi * k.loss(a, b);
            }
        }
    }
    if !ok {
        return Err(invalid(k, inputs));
    }
    Ok(())
}

/// The catalogue evaluator shared by the pointwise losses.
pub(crate) fn evaluate<T: Real, K: Kernel<T>>(
    k: &K,
    call: &Call<'_, T>,
    out: &mut Out<T>,
) -> Result<()> {
    let inputs = Pointwise {
        input: call.float_req("input")?,
        target: call.float_req("target")?,
        weight: call.float("weight"),
    };
    dispatch(
        call,
        out,
        inputs.input.dims(),
        Vjp::Separable(Kept::ALL), // element-wise
        |r| value(k, &inputs, r),
        |r, g| value_and_grad(k, &inputs, r, g),
        |o| per_element(k, &inputs, o),
    )
}

/// A pointwise loss with a second derivative: `(ℓ, ∂ℓ/∂x, ∂²ℓ/∂x²)` under the curvature
/// policy `c` (see [`Curvature`]).
pub(crate) trait Curv<T: Real>: Kernel<T> {
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T);
}

/// As [`grad_chunk`], also writing `w(i)·scale·∂²ℓᵢ/∂xᵢ²` into `h`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn hess_chunk<T: Real, K: Curv<T>>(
    k: &K,
    x: &[T],
    t: &[T],
    g: &mut [T],
    h: &mut [T],
    w: impl Fn(usize) -> T,
    scale: T,
    c: Curvature,
) -> Partial {
    let k = *k; // see `sum_chunk`
    let mut lanes = Lanes::default();
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
    let n = x.len();
    let (t, g, h) = (&t[..n], &mut g[..n], &mut h[..n]);
    for (b, (((xb, tb), gb), hb)) in x
        .chunks(BLOCK)
        .zip(t.chunks(BLOCK))
        .zip(g.chunks_mut(BLOCK))
        .zip(h.chunks_mut(BLOCK))
        .enumerate()
    {
        let base = b * BLOCK;
        let m = xb.len();
        let (tb, gb, hb, lb) = (&tb[..m], &mut gb[..m], &mut hb[..m], &mut buf[..m]);
        for i in 0..m {
            ok &= k.valid(xb[i], tb[i]);
            let (v, d, d2) = k.loss_grad_hess(xb[i], tb[i], c);
            let wi = w(base + i);
            gb[i] = d * wi * scale;
            hb[i] = d2 * wi * scale;
            lb[i] = wi * v;
        }
        lanes.add_block(lb);
    }
    Partial {
        sum: lanes.total(),
        ok,
    }
}

/// One chunk of [`value_grad_hess`], for [`simd`].
struct HessChunk<'a, T, K> {
    k: &'a K,
    x: &'a [T],
    t: &'a [T],
    w: Option<&'a [T]>,
    g: &'a mut [T],
    h: &'a mut [T],
    scale: T,
    c: Curvature,
}

impl<T: Real, K: Curv<T>> SimdCall for HessChunk<'_, T, K> {
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        let HessChunk {
            k,
            x,
            t,
            w,
            g,
            h,
            scale,
            c,
        } = self;
        match w {
            None => hess_chunk(k, x, t, g, h, |_| T::ONE, scale, c),
            Some(w) => {
                let w = &w[..x.len()];
                hess_chunk(k, x, t, g, h, |i| w[i], scale, c)
            }
        }
    }
}

pub(crate) fn value_grad_hess<T: Real, K: Curv<T>>(
    k: &K,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
    c: Curvature,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<T> {
    check(K::NAME, inputs)?;
    let n = inputs.input.len();
    check_buffer(K::NAME, "gradient of `input`", grad.len(), n)?;
    check_buffer(K::NAME, "Hessian of `input`", hess.len(), n)?;
    let Some(denom) = denominator(K::NAME, inputs, reduction)? else {
        grad.fill(T::ZERO);
        hess.fill(T::ZERO);
        return Ok(T::ZERO);
    };
    let scale = T::from_f64(1.0 / denom);
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let w = inputs.weight.map(|w| w.data());
    let p = chunked_fold_mut2(
        grad,
        hess,
        Partial::ZERO,
        |r, g, h| {
            simd(HessChunk {
                k,
                x: &x[r.clone()],
                t: &t[r.clone()],
                w: w.map(|w| &w[r.clone()]),
                g,
                h,
                scale,
                c,
            })
        },
        Partial::combine,
    );
    if !p.ok {
        return Err(invalid(k, inputs));
    }
    Ok(T::from_f64(p.sum / denom))
}

/// The catalogue's Hessian evaluator shared by the pointwise losses.
pub(crate) fn evaluate_hess<T: Real, K: Curv<T>>(
    k: &K,
    call: &Call<'_, T>,
    c: Curvature,
    out: &mut HessOut<'_, T>,
) -> Result<()> {
    let inputs = Pointwise {
        input: call.float_req("input")?,
        target: call.float_req("target")?,
        weight: call.float("weight"),
    };
    out.dispatch(
        call,
        inputs.input.dims(),
        |r, g, h| value_grad_hess(k, &inputs, r, c, g, h),
        |o| per_element(k, &inputs, o),
    )
}

/// Generates `value_grad_hess` for a pointwise loss.
macro_rules! pointwise_hess_api {
    ($ty:ident) => {
        hess_api!($ty, Pointwise, pointwise);
    };
}
pub(crate) use pointwise_hess_api;

/// Generates the typed API of a pointwise loss.
macro_rules! pointwise_api {
    ($ty:ident) => {
        typed_api!(
            $ty,
            Pointwise,
            pointwise,
            "[`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `target` or `weight` differs in shape from `input`;"
        );
    };
}
pub(crate) use pointwise_api;

impl<T> Clone for Pointwise<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Pointwise<'_, T> {}
