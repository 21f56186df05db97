//! Binary and multi-label losses, and the margin losses on ±1 targets: the shared inputs
//! ([`BinaryInputs`]), shape and weight checks, reductions and fused loops.
//!
//! Each loss supplies a per-element kernel ([`Kernel`]); the loops here run it once per element,
//! writing the gradient in the same pass. The weight may be broadcast along leading dimensions
//! (a `[C]` weight against `[N, C]` logits), and `bce_with_logits`'s `pos_weight` along the last
//! one; the loops walk the input in segments over which both are contiguous slices, so the
//! inner loop is a plain zip of slices with no index arithmetic.

use core::ops::Range;

use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{dispatch, Call, Kept, Out, Vjp};
use crate::hessian::{Curvature, HessOut};
use crate::numerics::{chunked_fold, chunked_fold_mut, chunked_fold_mut2, simd, Lanes, Partial, SimdCall, BLOCK};
use crate::real::Real;
use crate::reduction::weight_total;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

pub(crate) use super::binary_catalogue::CATALOGUE;

/// The inputs of a binary or multi-label loss: `input` (logits, probabilities or scores),
/// `target` of the same shape, and an optional `weight`.
///
/// The weight has the shape of `input`, or a trailing part of it: a `[C]` weight against
/// `[N, C]` logits weighs each label (column) the same in every row, a `[H, W]` weight against
/// `[N, H, W]` each pixel in every image. Leading dimensions of size 1 are ignored (`[1, C]`
/// is `[C]`) and a one-element weight is a constant. Nothing else is broadcast: a per-sample
/// `[N]` weight against `[N, C]` is an error (spell it `[N, C]`), as is a `[N, 1]` target
/// against `[N]` logits.
///
/// With a weight, per-element losses are `w·ℓ`, `Sum` is `Σ w·ℓ` and `Mean` is `Σ w·ℓ / Σ w`
/// where the sums run over every element of `input` (a broadcast weight counts once per
/// element it covers). PyTorch's BCE losses divide by N instead: see the crate docs. Weights
/// must be finite and non-negative; an element whose weight is 0 contributes exactly 0 to the
/// loss and gradient (even where its loss is infinite); when all weights are 0, `Mean` is 0
/// with zero gradients.
///
/// ```
/// use losskit::{BinaryInputs, Tensor};
/// let logits = [2.0f32, -1.0, 0.5, 0.0, 3.0, -2.0];
/// let labels = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
/// let per_label = [1.0f32, 4.0, 0.5]; // one weight per column of [2, 3]
/// let inputs = BinaryInputs::new(Tensor::new(&logits, &[2, 3])?, Tensor::new(&labels, &[2, 3])?)
///     .weight(&per_label);
/// assert_eq!(inputs.input().dims(), &[2, 3]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct BinaryInputs<'a, T> {
    input: Tensor<'a, T>,
    target: Tensor<'a, T>,
    weight: Option<Tensor<'a, T>>,
}

impl<'a, T> BinaryInputs<'a, T> {
    /// The prediction and the target (their shapes are checked by the loss).
    pub fn new(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, T>>) -> Self {
        BinaryInputs {
            input: input.into(),
            target: target.into(),
            weight: None,
        }
    }

    /// Adds a weight: the shape of `input`, or a trailing part of it.
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

    /// The weight, if any.
    pub fn weight_tensor(&self) -> Option<Tensor<'a, T>> {
        self.weight
    }
}

impl<T> Clone for BinaryInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for BinaryInputs<'_, T> {}

/// One binary loss: the per-element loss of a prediction `x` against a target `t` (with the
/// positive-class weight `pw`, 1 for every loss but `bce_with_logits`), and its derivative
/// with respect to `x`.
pub(crate) trait Kernel<T: Real>: Sync {
    const NAME: &'static str;
    fn loss(&self, x: T, t: T, pw: T) -> T;
    fn loss_grad(&self, x: T, t: T, pw: T) -> (T, T);
    /// Whether the element is in the loss's domain (NaN passes: it propagates).
    fn valid(&self, x: T, t: T) -> bool;
    /// For an invalid element: the argument, the offending value and the domain.
    fn why_invalid(&self, x: T, t: T) -> (&'static str, T, &'static str);
    /// The positive-class weights, one per label of the last dimension (or one for all).
    fn positive_weights(&self) -> Option<&[f64]> {
        None
    }
}

/// `w·v`, and exactly 0 where `w = 0`: a zero weight removes the element, even where its loss
/// is infinite (0·∞ would be NaN).
#[inline(always)]
pub(crate) fn weighted<T: Real>(w: T, v: T) -> T {
    if w == T::ZERO {
        T::ZERO
    } else {
        w * v
    }
}

/// The weight as the loops see it.
#[derive(Clone, Copy)]
enum WeightSrc<'a, T> {
    None,
    Const(T),
    /// Repeats with period `len` (equal to the input's length when not broadcast).
    Periodic(&'a [T]),
}

/// `pos_weight` as the loops see it.
#[derive(Clone, Copy)]
enum PosSrc<'a, T> {
    Const(T),
    /// One per label of the last dimension; repeats with period `len`.
    Periodic(&'a [f64]),
}

/// Checked inputs, ready for the loops.
struct Plan<'a, T> {
    x: &'a [T],
    t: &'a [T],
    w: WeightSrc<'a, T>,
    pw: PosSrc<'a, T>,
    /// Segments end at multiples of this, so periodic operands are contiguous within one.
    step: usize,
    /// `Σ w` over every element (broadcast counted), when there is a weight.
    weight_sum: Option<f64>,
}

const WEIGHT_BECAUSE: &str =
    "the shape of `input`, or a trailing part of it such as [C] against [N, C]";

fn plan<'a, T: Real, K: Kernel<T>>(k: &'a K, inputs: &BinaryInputs<'a, T>) -> Result<Plan<'a, T>> {
    let dims = inputs.input.dims();
    if inputs.target.dims() != dims {
        return Err(Error::ShapeMismatch {
            loss: K::NAME,
            arg: "target",
            actual: inputs.target.dims().to_vec(),
            expected: dims.to_vec(),
            because: "the shape of `input`",
        });
    }
    let n = inputs.input.len();
    let mut step = usize::MAX;
    let (w, weight_sum) = match &inputs.weight {
        None => (WeightSrc::None, None),
        Some(w) => {
            let wd = w.dims();
            let core = &wd[wd.iter().take_while(|&&d| d == 1).count()..];
            if wd.len() > dims.len().max(1) || !dims.ends_with(core) {
                return Err(Error::ShapeMismatch {
                    loss: K::NAME,
                    arg: "weight",
                    actual: wd.to_vec(),
                    expected: dims.to_vec(),
                    because: WEIGHT_BECAUSE,
                });
            }
            let total = weight_total(K::NAME, w)?;
            let data = w.data();
            match data {
                [c] => (WeightSrc::Const(*c), Some(total * n as f64)),
                _ if n == 0 => (WeightSrc::None, Some(0.0)),
                _ => {
                    step = data.len();
                    (
                        WeightSrc::Periodic(data),
                        Some(total * (n / data.len()) as f64),
                    )
                }
            }
        }
    };
    let pw = match k.positive_weights() {
        None => PosSrc::Const(T::ONE),
        Some([c]) => PosSrc::Const(T::from_f64(*c)),
        Some(p) => {
            let c = dims.last().copied().unwrap_or(1);
            if p.len() != c {
                return Err(Error::ShapeMismatch {
                    loss: K::NAME,
                    arg: "pos_weight",
                    actual: vec![p.len()],
                    expected: vec![c],
                    because: "the last dimension of `input`, or 1 for one weight for every label",
                });
            }
            if n > 0 {
                // `c` divides the weight's period, which also ends with the last dimension.
                step = c;
            }
            PosSrc::Periodic(p)
        }
    };
    Ok(Plan {
        x: inputs.input.data(),
        t: inputs.target.data(),
        w,
        pw,
        step,
        weight_sum,
    })
}

impl<T: Real> Plan<'_, T> {
    /// The denominator of the reduction: `1`, `N` or `Σ w`; `None` when the weighted mean has
    /// nothing to average (every weight 0): the loss is then 0 with zero gradients.
    fn denominator(&self, name: &'static str, reduction: Reduction) -> Result<Option<f64>> {
        Ok(match (reduction, self.weight_sum) {
            (Reduction::Sum, _) => Some(1.0),
            (Reduction::Mean, _) if self.x.is_empty() => {
                return Err(Error::EmptyMean { loss: name })
            }
            (Reduction::Mean, None) => Some(self.x.len() as f64),
            (Reduction::Mean, Some(s)) if s > 0.0 => Some(s),
            (Reduction::Mean, Some(_)) => None,
        })
    }

    /// Calls `f` on each segment of `r` (a sub-range of the input), with the weight and
    /// `pos_weight` cut to the segment.
    #[inline(always)]
    fn segments(&self, r: Range<usize>, mut f: impl FnMut(Range<usize>, Seg<'_, T>)) {
        let mut a = r.start;
        while a < r.end {
            let b = a.saturating_add(self.step - a % self.step).min(r.end);
            let m = b - a;
            let w = match self.w {
                WeightSrc::None => WSeg::None,
                WeightSrc::Const(c) => WSeg::Const(c),
                WeightSrc::Periodic(d) => {
                    let o = a % d.len();
                    WSeg::Slice(&d[o..o + m])
                }
            };
            let pw = match self.pw {
                PosSrc::Const(c) => PSeg::Const(c),
                PosSrc::Periodic(d) => {
                    let o = a % d.len();
                    PSeg::Slice(&d[o..o + m])
                }
            };
            f(a..b, Seg { w, pw });
            a = b;
        }
    }
}

/// The weight and `pos_weight` over one segment.
struct Seg<'a, T> {
    w: WSeg<'a, T>,
    pw: PSeg<'a, T>,
}

#[derive(Clone, Copy)]
enum WSeg<'a, T> {
    None,
    Const(T),
    Slice(&'a [T]),
}

#[derive(Clone, Copy)]
enum PSeg<'a, T> {
    Const(T),
    Slice(&'a [f64]),
}

/// Runs `$body` with `$fw: Fn(usize) -> T` (the weight of the segment's k-th element) and
/// `$fp` (its `pos_weight`) bound to the segment's sources, one monomorphic loop per case, so
/// a missing weight costs nothing.
macro_rules! with_sources {
    ($seg:expr, $m:expr, |$fw:ident, $fp:ident| $body:expr) => {{
        let m = $m;
        match ($seg.w, $seg.pw) {
            (WSeg::None, PSeg::Const(c)) => {
                let $fw = |_: usize| T::ONE;
                let $fp = |_: usize| c;
                $body
            }
            (WSeg::Const(wc), PSeg::Const(c)) => {
                let $fw = |_: usize| wc;
                let $fp = |_: usize| c;
                $body
            }
            (WSeg::Slice(w), PSeg::Const(c)) => {
                let w = &w[..m];
                let $fw = |k: usize| w[k];
                let $fp = |_: usize| c;
                $body
            }
            (WSeg::None, PSeg::Slice(p)) => {
                let p = &p[..m];
                let $fw = |_: usize| T::ONE;
                let $fp = |k: usize| T::from_f64(p[k]);
                $body
            }
            (WSeg::Const(wc), PSeg::Slice(p)) => {
                let p = &p[..m];
                let $fw = |_: usize| wc;
                let $fp = |k: usize| T::from_f64(p[k]);
                $body
            }
            (WSeg::Slice(w), PSeg::Slice(p)) => {
                let (w, p) = (&w[..m], &p[..m]);
                let $fw = |k: usize| w[k];
                let $fp = |k: usize| T::from_f64(p[k]);
                $body
            }
        }
    }};
}

fn invalid<T: Real, K: Kernel<T>>(k: &K, inputs: &BinaryInputs<'_, T>) -> Error {
    let (x, t) = (inputs.input.data(), inputs.target.data());
    let i = x
        .iter()
        .zip(t)
        .position(|(&a, &b)| !k.valid(a, b))
        .unwrap_or(0);
    let (arg, value, expected) = match (x.get(i), t.get(i)) {
        (Some(&a), Some(&b)) => k.why_invalid(a, b),
        _ => ("input", T::ZERO, "a value in the loss's domain"),
    };
    Error::InvalidValue {
        loss: K::NAME,
        arg,
        index: inputs.input.shape().unravel(i),
        value: value.to_f64(),
        expected,
    }
}

/// `Σ w(i)·ℓᵢ` over one segment into eight `f64` lanes (segments of a chunk share them, in
/// order), returning whether every element was in the domain. Block-wise: a plain indexed
/// loop with no loop-carried dependency writes the element losses of [`BLOCK`] elements into a
/// stack buffer, so the compiler vectorises the whole element map (transcendentals included),
/// then the buffer goes into the lanes ([`Lanes::add_block`], an order fixed by the block
/// boundaries, not by the thread count or SIMD width). `w = |_| 1` folds away.
#[inline(always)]
fn sum_seg<T: Real, K: Kernel<T>>(
    k: &K,
    x: &[T],
    t: &[T],
    w: impl Fn(usize) -> T,
    p: impl Fn(usize) -> T,
    lanes: &mut Lanes,
) -> bool {
    let n = x.len();
    let t = &t[..n];
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
    for (c, (xb, tb)) in x.chunks(BLOCK).zip(t.chunks(BLOCK)).enumerate() {
        let base = c * BLOCK;
        let m = xb.len();
        let (tb, lb) = (&tb[..m], &mut buf[..m]);
        for i in 0..m {
            ok &= k.valid(xb[i], tb[i]);
            lb[i] = weighted(w(base + i), k.loss(xb[i], tb[i], p(base + i)));
        }
        lanes.add_block(lb);
    }
    ok
}

/// As [`sum_seg`], also writing `w(i)·scale·∂ℓᵢ/∂xᵢ` into `g`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn grad_seg<T: Real, K: Kernel<T>>(
    k: &K,
    x: &[T],
    t: &[T],
    g: &mut [T],
    w: impl Fn(usize) -> T,
    p: impl Fn(usize) -> T,
    scale: T,
    lanes: &mut Lanes,
) -> bool {
    let n = g.len();
    let (x, t) = (&x[..n], &t[..n]);
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
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
            let (v, d) = k.loss_grad(xb[i], tb[i], p(base + i));
            let wi = w(base + i);
            gb[i] = weighted(wi, d) * scale;
            lb[i] = weighted(wi, v);
        }
        lanes.add_block(lb);
    }
    ok
}

/// One chunk of [`value`] (`g: None`) or [`value_and_grad`], for [`simd`]: the loops are
/// generated inside the target-feature function, so they vectorise at its width.
struct Chunk<'a, 'p, T, K> {
    k: &'a K,
    plan: &'a Plan<'p, T>,
    r: Range<usize>,
    g: Option<&'a mut [T]>,
    scale: T,
}

impl<T: Real, K: Kernel<T>> SimdCall for Chunk<'_, '_, T, K> {
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        let Chunk {
            k,
            plan,
            r,
            g,
            scale,
        } = self;
        let (mut lanes, mut ok) = (Lanes::default(), true);
        let start = r.start;
        match g {
            // `inline(always)`: the closures must be generated inside the target-feature
            // function `simd` runs this in, or they would run at the baseline width.
            None => plan.segments(
                r,
                #[inline(always)]
                |s, seg| {
                    let x = &plan.x[s.clone()];
                    let t = &plan.t[s][..x.len()];
                    ok &=
                        with_sources!(seg, x.len(), |fw, fp| sum_seg(k, x, t, fw, fp, &mut lanes));
                },
            ),
            Some(g) => plan.segments(
                r,
                #[inline(always)]
                |s, seg| {
                    let g = &mut g[s.start - start..s.end - start];
                    let x = &plan.x[s.clone()][..g.len()];
                    let t = &plan.t[s][..g.len()];
                    ok &= with_sources!(seg, g.len(), |fw, fp| grad_seg(
                        k, x, t, g, fw, fp, scale, &mut lanes
                    ));
                },
            ),
        }
        Partial {
            sum: lanes.total(),
            ok,
        }
    }
}

pub(crate) fn value<T: Real, K: Kernel<T>>(
    k: &K,
    inputs: &BinaryInputs<'_, T>,
    reduction: Reduction,
) -> Result<T> {
    let plan = plan(k, inputs)?;
    let Some(denom) = plan.denominator(K::NAME, reduction)? else {
        return Ok(T::ZERO);
    };
    let p = chunked_fold(
        plan.x.len(),
        Partial::ZERO,
        |r| {
            simd(Chunk {
                k,
                plan: &plan,
                r,
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
    inputs: &BinaryInputs<'_, T>,
    reduction: Reduction,
    grad: &mut [T],
) -> Result<T> {
    let plan = plan(k, inputs)?;
    check_buffer(K::NAME, "gradient of `input`", grad.len(), plan.x.len())?;
    let Some(denom) = plan.denominator(K::NAME, reduction)? else {
        grad.fill(T::ZERO);
        return Ok(T::ZERO);
    };
    let scale = T::from_f64(1.0 / denom);
    let p = chunked_fold_mut(
        grad,
        Partial::ZERO,
        |r, g| {
            simd(Chunk {
                k,
                plan: &plan,
                r,
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
    inputs: &BinaryInputs<'_, T>,
    out: &mut [T],
) -> Result<()> {
    let plan = plan(k, inputs)?;
    check_buffer(K::NAME, "per-element output", out.len(), plan.x.len())?;
    let ok = chunked_fold_mut(
        out,
        true,
        |r, o| {
            let start = r.start;
            let mut ok = true;
            plan.segments(r, |s, seg| {
                let o = &mut o[s.start - start..s.end - start];
                let x = &plan.x[s.clone()][..o.len()];
                let t = &plan.t[s][..o.len()];
                with_sources!(seg, o.len(), |fw, fp| {
                    for i in 0..o.len() {
                        ok &= k.valid(x[i], t[i]);
                        o[i] = weighted(fw(i), k.loss(x[i], t[i], fp(i)));
                    }
                });
            });
            ok
        },
        |a, b| a && b,
    );
    if !ok {
        return Err(invalid(k, inputs));
    }
    Ok(())
}

/// Reads `input`, `target` and `weight` of a catalogue call.
pub(crate) fn call_inputs<'c, T: Real>(call: &'c Call<'_, T>) -> Result<BinaryInputs<'c, T>> {
    Ok(BinaryInputs {
        input: call.float_req("input")?,
        target: call.float_req("target")?,
        weight: call.float("weight"),
    })
}

/// The catalogue evaluator shared by the binary losses.
pub(crate) fn evaluate<T: Real, K: Kernel<T>>(
    k: &K,
    call: &Call<'_, T>,
    out: &mut Out<T>,
) -> Result<()> {
    let inputs = call_inputs(call)?;
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

/// A binary loss with a second derivative: `(ℓ, ∂ℓ/∂x, ∂²ℓ/∂x²)` under the curvature policy
/// `c` (see [`Curvature`]).
pub(crate) trait Curv<T: Real>: Kernel<T> {
    fn loss_grad_hess(&self, x: T, t: T, pw: T, c: Curvature) -> (T, T, T);
}

/// As [`grad_seg`], also writing `w(i)·scale·∂²ℓᵢ/∂xᵢ²` into `h`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn hess_seg<T: Real, K: Curv<T>>(
    k: &K,
    x: &[T],
    t: &[T],
    (g, h): (&mut [T], &mut [T]),
    w: impl Fn(usize) -> T,
    p: impl Fn(usize) -> T,
    (scale, c): (T, Curvature),
    lanes: &mut Lanes,
) -> bool {
    let n = g.len();
    let (x, t, h) = (&x[..n], &t[..n], &mut h[..n]);
    let mut ok = true;
    let mut buf = [T::ZERO; BLOCK];
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
            let (v, d, d2) = k.loss_grad_hess(xb[i], tb[i], p(base + i), c);
            let wi = w(base + i);
            gb[i] = weighted(wi, d) * scale;
            hb[i] = weighted(wi, d2) * scale;
            lb[i] = weighted(wi, v);
        }
        lanes.add_block(lb);
    }
    ok
}

/// One chunk of [`value_grad_hess`], for [`simd`].
struct HessChunk<'a, 'p, T, K> {
    k: &'a K,
    plan: &'a Plan<'p, T>,
    r: Range<usize>,
    g: &'a mut [T],
    h: &'a mut [T],
    scale: T,
    c: Curvature,
}

impl<T: Real, K: Curv<T>> SimdCall for HessChunk<'_, '_, T, K> {
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        let HessChunk {
            k,
            plan,
            r,
            g,
            h,
            scale,
            c,
        } = self;
        let (mut lanes, mut ok) = (Lanes::default(), true);
        let start = r.start;
        plan.segments(
            r,
            #[inline(always)]
            |s, seg| {
                let g = &mut g[s.start - start..s.end - start];
                let h = &mut h[s.start - start..s.end - start];
                let x = &plan.x[s.clone()][..g.len()];
                let t = &plan.t[s][..g.len()];
                ok &= with_sources!(seg, g.len(), |fw, fp| hess_seg(
                    k,
                    x,
                    t,
                    (&mut *g, &mut *h),
                    fw,
                    fp,
                    (scale, c),
                    &mut lanes
                ));
            },
        );
        Partial {
            sum: lanes.total(),
            ok,
        }
    }
}

pub(crate) fn value_grad_hess<T: Real, K: Curv<T>>(
    k: &K,
    inputs: &BinaryInputs<'_, T>,
    reduction: Reduction,
    c: Curvature,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<T> {
    let plan = plan(k, inputs)?;
    check_buffer(K::NAME, "gradient of `input`", grad.len(), plan.x.len())?;
    check_buffer(K::NAME, "Hessian of `input`", hess.len(), plan.x.len())?;
    let Some(denom) = plan.denominator(K::NAME, reduction)? else {
        grad.fill(T::ZERO);
        hess.fill(T::ZERO);
        return Ok(T::ZERO);
    };
    let scale = T::from_f64(1.0 / denom);
    let p = chunked_fold_mut2(
        grad,
        hess,
        Partial::ZERO,
        |r, g, h| {
            simd(HessChunk {
                k,
                plan: &plan,
                r,
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

/// The catalogue's Hessian evaluator shared by the binary losses.
pub(crate) fn evaluate_hess<T: Real, K: Curv<T>>(
    k: &K,
    call: &Call<'_, T>,
    c: Curvature,
    out: &mut HessOut<'_, T>,
) -> Result<()> {
    let inputs = call_inputs(call)?;
    out.dispatch(
        call,
        inputs.input.dims(),
        |r, g, h| value_grad_hess(k, &inputs, r, c, g, h),
        |o| per_element(k, &inputs, o),
    )
}

/// Generates the typed API of a binary loss.
macro_rules! binary_api {
    ($ty:ident) => {
        binary_api!($ty, binary);
    };
    // `$driver`: a module with `value`, `value_and_grad` and `per_element` over `&$ty`.
    ($ty:ident, $driver:ident) => {
        typed_api!(
            $ty,
            BinaryInputs,
            $driver,
            "[`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `target` differs in shape from `input`, or `weight` is neither `input`'s shape nor a trailing part of it;"
        );
    };
}
pub(crate) use binary_api;

/// Generates `value_grad_hess` for a binary loss (over `$driver`, `binary` by default).
macro_rules! binary_hess_api {
    ($ty:ident) => {
        hess_api!($ty, BinaryInputs, binary);
    };
    ($ty:ident, $driver:ident) => {
        hess_api!($ty, BinaryInputs, $driver);
    };
}
pub(crate) use binary_hess_api;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::CHUNK;
    use crate::BceWithLogits;

    /// A deterministic spread of logits and soft labels.
    fn data(n: usize) -> (Vec<f64>, Vec<f64>) {
        let x = (0..n)
            .map(|i| ((i * 37 % 101) as f64 - 50.0) / 7.0)
            .collect();
        let y = (0..n).map(|i| (i * 13 % 11) as f64 / 10.0).collect();
        (x, y)
    }

    fn all<K: Kernel<f64>>(
        k: &K,
        inputs: &BinaryInputs<'_, f64>,
        r: Reduction,
    ) -> (f64, Vec<f64>, Vec<f64>) {
        let n = inputs.input().len();
        let mut g = vec![0.0; n];
        let mut o = vec![0.0; n];
        let v = value_and_grad(k, inputs, r, &mut g).unwrap();
        assert_eq!(v.to_bits(), value(k, inputs, r).unwrap().to_bits());
        per_element(k, inputs, &mut o).unwrap();
        (v, g, o)
    }

    #[test]
    fn broadcast_weight_equals_the_expanded_weight_across_chunks() {
        // 7 labels do not divide the chunk length, so segments straddle chunk boundaries.
        let (c, rows) = (7usize, CHUNK / 7 + 5);
        let n = c * rows;
        let (x, y) = data(n);
        let w: Vec<f64> = (0..c).map(|j| 0.5 + j as f64).collect();
        let full: Vec<f64> = (0..n).map(|i| w[i % c]).collect();
        let dims = [rows, c];
        fn t<'a>(d: &'a [f64], dims: &[usize]) -> Tensor<'a, f64> {
            Tensor::new(d, dims).unwrap()
        }
        let loss = BceWithLogits::default()
            .pos_weight(&[2.0, 1.0, 0.5, 3.0, 1.0, 1.0, 4.0])
            .unwrap();
        for r in [Reduction::Mean, Reduction::Sum] {
            let a = all(
                &loss,
                &BinaryInputs::new(t(&x, &dims), t(&y, &dims)).weight(&w[..]),
                r,
            );
            let b = all(
                &loss,
                &BinaryInputs::new(t(&x, &dims), t(&y, &dims)).weight(t(&full, &dims)),
                r,
            );
            assert!((a.0 - b.0).abs() <= 1e-12 * b.0.abs(), "{r}");
            assert_eq!(a.1, b.1);
            assert_eq!(a.2, b.2);
            let w1c = Tensor::new(&w, &[1, c]).unwrap();
            let c1 = all(
                &loss,
                &BinaryInputs::new(t(&x, &dims), t(&y, &dims)).weight(w1c),
                r,
            );
            assert_eq!(a.0.to_bits(), c1.0.to_bits());
        }
        // Per-element outputs are the weighted losses.
        let plain = all(
            &loss,
            &BinaryInputs::new(t(&x, &dims), t(&y, &dims)),
            Reduction::Sum,
        );
        let weighted = all(
            &loss,
            &BinaryInputs::new(t(&x, &dims), t(&y, &dims)).weight(&w[..]),
            Reduction::Sum,
        );
        for i in [0, 1, 6, 7, CHUNK - 1, CHUNK, n - 1] {
            assert_eq!(weighted.2[i], w[i % c] * plain.2[i]);
            assert_eq!(weighted.1[i], w[i % c] * plain.1[i]);
        }
    }

    #[test]
    fn weighted_mean_divides_by_the_broadcast_weight_sum() {
        let x = [0.3f64, -1.0, 2.0, 0.5];
        let y = [1.0, 0.0, 0.5, 1.0];
        let dims = [2, 2];
        let inputs = |w: &'static [f64]| {
            BinaryInputs::new(
                Tensor::new(&x, &dims).unwrap(),
                Tensor::new(&y, &dims).unwrap(),
            )
            .weight(w)
        };
        let k = BceWithLogits::default();
        let (_, _, per) = all(&k, &inputs(&[1.0, 3.0]), Reduction::Sum);
        let (mean, _, _) = all(&k, &inputs(&[1.0, 3.0]), Reduction::Mean);
        assert!((mean - per.iter().sum::<f64>() / 8.0).abs() < 1e-15);
        // A constant weight leaves the mean alone.
        let (m1, _, _) = all(&k, &inputs(&[4.0]), Reduction::Mean);
        let plain = BinaryInputs::new(
            Tensor::new(&x, &dims).unwrap(),
            Tensor::new(&y, &dims).unwrap(),
        );
        let (m0, _, _) = all(&k, &plain, Reduction::Mean);
        assert!((m1 - m0).abs() < 1e-15);
        // All weights zero: mean 0, zero gradients.
        let (m, g, _) = all(&k, &inputs(&[0.0, 0.0]), Reduction::Mean);
        assert_eq!((m, g), (0.0, vec![0.0; 4]));
    }

    #[test]
    fn zero_weight_removes_an_infinite_loss() {
        let x = [f64::INFINITY, 1.0];
        let y = [0.0, 1.0];
        let (v, g, o) = all(
            &BceWithLogits::default(),
            &BinaryInputs::new(&x, &y).weight(&[0.0, 1.0]),
            Reduction::Mean,
        );
        assert_eq!(v, (-1.0f64).exp().ln_1p());
        assert_eq!(g[0], 0.0);
        assert_eq!(o[0], 0.0);
    }

    #[test]
    fn weight_shapes_other_than_a_trailing_part_are_errors() {
        let x = [0.0f32; 6];
        let dims = [2, 3];
        let inputs = || {
            BinaryInputs::new(
                Tensor::new(&x, &dims).unwrap(),
                Tensor::new(&x, &dims).unwrap(),
            )
        };
        let k = BceWithLogits::default();
        let per_sample = [1.0f32, 2.0];
        let e = value(&k, &inputs().weight(&per_sample), Reduction::Mean).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bce_with_logits: `weight` has shape [2], expected [2, 3] (the shape of `input`, or a \
             trailing part of it such as [C] against [N, C]); nothing is broadcast"
        );
        let col = Tensor::new(&per_sample, &[2, 1]).unwrap();
        assert!(value(&k, &inputs().weight(col), Reduction::Mean).is_err());
        let too_deep = Tensor::new(&x, &[1, 2, 3]).unwrap();
        assert!(value(&k, &inputs().weight(too_deep), Reduction::Mean).is_err());
        let neg = [1.0f32, -1.0, 1.0];
        assert_eq!(
            value(&k, &inputs().weight(&neg), Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "bce_with_logits: `weight` at [1] is -1, expected a finite weight >= 0"
        );
        // Target shape: exact, [N, 1] against [N] included.
        let t = Tensor::new(&x[..2], &[2, 1]).unwrap();
        let e = value(&k, &BinaryInputs::new(&x[..2], t), Reduction::Mean).unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { arg: "target", .. }));
    }

    #[test]
    fn empty_inputs() {
        let e: [f32; 0] = [];
        let k = BceWithLogits::default().pos_weight(&[2.0, 3.0]).unwrap();
        let t = || Tensor::new(&e, &[0, 2]).unwrap();
        assert_eq!(
            value(&k, &BinaryInputs::new(t(), t()), Reduction::Mean),
            Err(Error::EmptyMean {
                loss: "bce_with_logits"
            })
        );
        assert_eq!(
            value(
                &k,
                &BinaryInputs::new(t(), t()).weight(&[1.0f32, 2.0]),
                Reduction::Sum
            ),
            Ok(0.0)
        );
        let mut g: [f32; 0] = [];
        assert_eq!(
            value_and_grad(&k, &BinaryInputs::new(t(), t()), Reduction::Sum, &mut g),
            Ok(0.0)
        );
    }

    #[test]
    fn buffers_of_the_wrong_length_are_errors() {
        let x = [0.0f64; 3];
        let mut g = [0.0; 2];
        let e = value_and_grad(
            &BceWithLogits::default(),
            &BinaryInputs::new(&x, &x),
            Reduction::Sum,
            &mut g,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "bce_with_logits: the buffer for the gradient of `input` has length 2, expected 3"
        );
        assert!(per_element(
            &BceWithLogits::default(),
            &BinaryInputs::new(&x, &x),
            &mut g
        )
        .is_err());
    }
}
