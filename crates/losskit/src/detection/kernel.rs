//! The fused box kernel shared by the five box losses: format conversion, IoU, the enclosing
//! box, the centre distance, the aspect and side terms, and the gradient through all of them
//! back to the boxes in the format given, for eight boxes at a time.
//!
//! The arithmetic follows torchvision's order of operations (`_loss_inter_union`,
//! `generalized_box_iou_loss`, `_diou_iou_loss`, `complete_box_iou_loss`, `box_convert`), so
//! f32 results round like the reference; the backward pass is the one torch autograd takes
//! through those graphs, including its tie rule for `max`/`min` (half the gradient to each
//! side of a tie) and the detached CIoU α.

use crate::error::{check_buffer, Error, Result};
use crate::numerics::{rows_fold, rows_fold_mut, simd, Lanes, Partial, SimdCall};
use crate::real::Real;
use crate::reduction::Reduction;
#[cfg(test)]
use crate::tensor::Tensor;

use super::{BoxFormat, BoxInputs};

/// Which terms a box loss adds to `1 − IoU`.
pub(crate) trait Terms: Copy + Sync {
    /// The catalogue name.
    const NAME: &'static str;
    /// GIoU: `(C − U)/(C + eps)`, C the enclosing box's area.
    const ENCLOSING_AREA: bool = false;
    /// DIoU, CIoU, EIoU: `ρ²/(c² + eps)`, ρ the centre distance, c the enclosing diagonal.
    const CENTRES: bool = false;
    /// CIoU: `α·v` with `v = 4/π²·(atan(w_g/h_g) − atan(w/h))²` and α detached.
    const ASPECT: bool = false;
    /// EIoU: `(w − w_g)²/(c_w² + eps) + (h − h_g)²/(c_h² + eps)`.
    const SIDES: bool = false;
    /// The `eps` of the loss.
    fn eps(&self) -> f64;
}

/// The conversion of a box format to corners, as coefficients so one branch-free loop
/// serves all three formats: `x1 = c0 − a·c2`, `x2 = b·c0 + m·c2` (and the same for y with
/// `c1`, `c3`). Every coefficient is 0, ½ or 1, so the results are bitwise torchvision's
/// `box_convert` (`cx − 0.5·w`, `x + w`, …).
#[derive(Clone, Copy)]
struct Convert<T> {
    a: T,
    b: T,
    m: T,
    /// `c2 ≥ lo·c0` is the validity test: `x2 ≥ x1` for `xyxy` (lo = 1), `w ≥ 0` otherwise.
    lo: T,
}

impl<T: Real> Convert<T> {
    fn of(format: BoxFormat) -> Self {
        let (a, b, m, lo) = match format {
            BoxFormat::Xyxy => (0.0, 0.0, 1.0, 1.0),
            BoxFormat::Xywh => (0.0, 1.0, 1.0, 0.0),
            BoxFormat::Cxcywh => (0.5, 1.0, 0.5, 0.0),
        };
        Convert {
            a: T::from_f64(a),
            b: T::from_f64(b),
            m: T::from_f64(m),
            lo: T::from_f64(lo),
        }
    }
}

/// The share of the gradient of `max(a, b)` that goes to `a`: 1, ½ at a tie, 0 (torch's rule
/// for `maximum`).
#[inline(always)]
fn max_share<T: Real>(a: T, b: T) -> T {
    if a > b {
        T::ONE
    } else if a == b {
        T::HALF
    } else {
        T::ZERO
    }
}

/// The share of the gradient of `min(a, b)` that goes to `a`.
#[inline(always)]
fn min_share<T: Real>(a: T, b: T) -> T {
    max_share(b, a)
}

/// `max` written as the SSE/AVX instruction's select, so it vectorises to one instruction.
#[inline(always)]
fn vmax<T: Real>(a: T, b: T) -> T {
    if a > b {
        a
    } else {
        b
    }
}

#[inline(always)]
fn vmin<T: Real>(a: T, b: T) -> T {
    if a < b {
        a
    } else {
        b
    }
}

/// `n / d`, and 0 where `d = 0` (only reachable with `eps = 0`: a 0/0 of two degenerate
/// boxes, whose limit the loss takes as 0 rather than NaN).
#[inline(always)]
fn div<T: Real>(n: T, d: T) -> T {
    let q = n / d;
    if d > T::ZERO {
        q
    } else {
        T::ZERO
    }
}

/// Whether `c` is a box in the format: no infinite coordinate, and `c2 ≥ lo·c0`,
/// `c3 ≥ lo·c1`. A NaN coordinate passes: it is not refused but propagates to the loss and
/// the gradients (the catalogue's rule), see [`any_nan`].
#[inline(always)]
fn valid<T: Real>(c: [T; 4], lo: T) -> bool {
    let inf = |v: T| !v.is_finite() & !v.is_nan();
    let finite = !(inf(c[0]) | inf(c[1]) | inf(c[2]) | inf(c[3]));
    // `>=` or a NaN on either side: a NaN coordinate is not an ordering violation.
    let ordered = |a: T, b: T| (a >= b) | a.is_nan() | b.is_nan();
    finite & ordered(c[2], lo * c[0]) & ordered(c[3], lo * c[1])
}

/// Whether a box pair holds a NaN: its loss and gradient are then NaN (the kernel's `max`,
/// `min` and guarded divisions would otherwise turn a NaN into a finite number).
#[inline(always)]
fn any_nan<T: Real>(c: [T; 4], d: [T; 4]) -> bool {
    c.iter().chain(&d).fold(false, |a, v| a | v.is_nan())
}

/// The angle term of CIoU: `atan(w_g/h_g) − atan(w/h)` as one arctangent of the angle
/// difference, `atan2(w_g·h − w·h_g, h_g·h + w_g·w)`: the second argument is never
/// negative, so the difference stays in [−π/2, π/2], and a zero-height box (where w/h is
/// infinite) or a point box needs no special case.
#[inline(always)]
fn angle_gap<T: Real>(wp: T, hp: T, wg: T, hg: T) -> T {
    let num = wg * hp - wp * hg;
    let den = hg * hp + wg * wp;
    if den > T::ZERO {
        (num / den).atan_fast()
    } else if num > T::ZERO {
        T::HALF * T::PI
    } else if num < T::ZERO {
        -(T::HALF * T::PI)
    } else {
        T::ZERO
    }
}

/// One box pair: the loss and (with `GRAD`) its gradient with respect to the prediction's
/// four numbers in the given format.
#[inline(always)]
fn pair<T: Real, K: Terms, const GRAD: bool>(
    p: [T; 4],
    q: [T; 4],
    cv: Convert<T>,
    eps: T,
    eps_area: T,
) -> (T, [T; 4]) {
    let (zero, one, two) = (T::ZERO, T::ONE, T::TWO);
    // box_convert to corners.
    let (x1, y1) = (p[0] - cv.a * p[2], p[1] - cv.a * p[3]);
    let (x2, y2) = (cv.b * p[0] + cv.m * p[2], cv.b * p[1] + cv.m * p[3]);
    let (gx1, gy1) = (q[0] - cv.a * q[2], q[1] - cv.a * q[3]);
    let (gx2, gy2) = (cv.b * q[0] + cv.m * q[2], cv.b * q[1] + cv.m * q[3]);

    // Intersection and union (_loss_inter_union).
    let (xk1, yk1) = (vmax(x1, gx1), vmax(y1, gy1));
    let (xk2, yk2) = (vmin(x2, gx2), vmin(y2, gy2));
    let (iw, ih) = (xk2 - xk1, yk2 - yk1);
    let overlap = (yk2 > yk1) & (xk2 > xk1);
    let inter = if overlap { iw * ih } else { zero };
    let (wp, hp) = (x2 - x1, y2 - y1);
    let (wg, hg) = (gx2 - gx1, gy2 - gy1);
    let union = wp * hp + wg * hg - inter;
    let du = union + eps_area;
    let iou = div(inter, du);

    // The smallest enclosing box.
    let (xc1, yc1) = (vmin(x1, gx1), vmin(y1, gy1));
    let (xc2, yc2) = (vmax(x2, gx2), vmax(y2, gy2));
    let (cw, ch) = (xc2 - xc1, yc2 - yc1);

    let mut loss = one - iou;
    // Adjoints (∂loss/∂·) of the intermediate quantities.
    let mut a_iou = -one;
    let (mut a_union, mut a_wp, mut a_hp, mut a_cw, mut a_ch) = (zero, zero, zero, zero, zero);
    let (mut a_xp, mut a_yp) = (zero, zero);

    if K::ENCLOSING_AREA {
        let area_c = cw * ch;
        let dc = area_c + eps_area;
        let r = div(area_c - union, dc);
        loss = one - (iou - r);
        a_iou = -one;
        // ∂r/∂C = (1 − r)/(C + eps), ∂r/∂U = −1/(C + eps).
        let a_c = div(one - r, dc);
        a_union -= div(one, dc);
        a_cw += a_c * ch;
        a_ch += a_c * cw;
    }
    if K::CENTRES {
        let diag = cw * cw + ch * ch + eps_area;
        let (xp, yp) = ((x2 + x1) / two, (y2 + y1) / two);
        let (xg, yg) = ((gx1 + gx2) / two, (gy1 + gy2) / two);
        let (dx, dy) = (xp - xg, yp - yg);
        let rho = dx * dx + dy * dy;
        let r = div(rho, diag);
        loss += r;
        let a_rho = div(one, diag);
        let a_diag = -div(r, diag);
        a_cw += a_diag * (two * cw);
        a_ch += a_diag * (two * ch);
        a_xp = a_rho * (two * dx);
        a_yp = a_rho * (two * dy);
    }
    if K::ASPECT {
        let k = T::from_f64(4.0 / (core::f64::consts::PI * core::f64::consts::PI));
        let gap = angle_gap(wp, hp, wg, hg);
        let v = k * (gap * gap);
        // α = v / (1 − IoU + v + eps), a constant of the gradient (torchvision's no_grad).
        let alpha = div(v, one - iou + v + eps);
        loss += alpha * v;
        // gap = θ_g − θ, θ = atan2(w, h): ∂θ/∂w = h/(w² + h²), ∂θ/∂h = −w/(w² + h²).
        let a_theta = -(alpha * k * (two * gap));
        let r2 = wp * wp + hp * hp;
        a_wp += a_theta * div(hp, r2);
        a_hp -= a_theta * div(wp, r2);
    }
    if K::SIDES {
        let (ew, eh) = (wp - wg, hp - hg);
        let (dw, dh) = (cw * cw + eps_area, ch * ch + eps_area);
        let (rw, rh) = (div(ew * ew, dw), div(eh * eh, dh));
        loss = loss + rw + rh;
        a_wp += div(two * ew, dw);
        a_hp += div(two * eh, dh);
        a_cw -= div(rw, dw) * (two * cw);
        a_ch -= div(rh, dh) * (two * ch);
    }
    if !GRAD {
        return (loss, [zero; 4]);
    }
    // iou = I / (U + eps); U = w·h + w_g·h_g − I.
    let a_inter_direct = div(a_iou, du);
    a_union -= a_iou * div(iou, du);
    let a_inter = a_inter_direct - a_union;
    a_wp += a_union * hp;
    a_hp += a_union * wp;
    let (a_iw, a_ih) = if overlap {
        (a_inter * ih, a_inter * iw)
    } else {
        (zero, zero)
    };
    let half = T::HALF;
    let dx1 = -a_wp + half * a_xp - a_iw * max_share(x1, gx1) - a_cw * min_share(x1, gx1);
    let dx2 = a_wp + half * a_xp + a_iw * min_share(x2, gx2) + a_cw * max_share(x2, gx2);
    let dy1 = -a_hp + half * a_yp - a_ih * max_share(y1, gy1) - a_ch * min_share(y1, gy1);
    let dy2 = a_hp + half * a_yp + a_ih * min_share(y2, gy2) + a_ch * max_share(y2, gy2);
    // The chain rule through box_convert.
    (
        loss,
        [
            dx1 + cv.b * dx2,
            dy1 + cv.b * dy2,
            cv.m * dx2 - cv.a * dx1,
            cv.m * dy2 - cv.a * dy1,
        ],
    )
}

/// The coordinate magnitude above which a box pair is rescaled before the kernel: its square,
/// summed four times, stays far below the type's largest number (2^30 in f32, whose squares
/// overflow at 2^64; 2^500 in f64).
#[inline(always)]
fn huge_threshold<T: Real>() -> T {
    if T::EPSILON.to_f64() > 1e-10 {
        T::from_f64(2f64.powi(30))
    } else {
        T::from_f64(2f64.powi(500))
    }
}

/// Boxes per block: the width the lane loops are written for.
const B: usize = 8;

/// One block of up to [`B`] box pairs (`p`, `q` hold `4·len` numbers): the losses' f64 sum
/// into `lanes`, the gradient (scaled) into `g` with `GRAD`, the losses into `out` with
/// `OUT`. Returns whether every box was valid.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<T: Real, K: Terms, const GRAD: bool, const OUT: bool>(
    p: &[T],
    q: &[T],
    cv: Convert<T>,
    eps: T,
    scale: T,
    lanes: &mut [f64; B],
    g: &mut [T],
    out: &mut [T],
) -> bool {
    let len = p.len() / 4;
    // Pad a short block with unit boxes so the lane loops always run B wide.
    let mut pb = [T::ZERO; 4 * B];
    let mut qb = [T::ZERO; 4 * B];
    for l in len..B {
        pb[4 * l + 2] = T::ONE;
        pb[4 * l + 3] = T::ONE;
        qb[4 * l + 2] = T::ONE;
        qb[4 * l + 3] = T::ONE;
    }
    pb[..4 * len].copy_from_slice(p);
    qb[..4 * len].copy_from_slice(q);
    let at = |b: &[T; 4 * B], l: usize| [b[4 * l], b[4 * l + 1], b[4 * l + 2], b[4 * l + 3]];
    let mut ok = true;
    let mut loss = [T::ZERO; B];
    let mut grad = [T::ZERO; 4 * B];
    // Coordinates so large that the areas and squared distances would overflow: checked once
    // per block, so blocks of ordinary boxes run the loop below unchanged.
    let big = huge_threshold::<T>();
    let huge = pb.iter().chain(&qb).fold(false, |h, v| h | (v.abs() > big));
    if huge {
        for l in 0..B {
            let (c, d) = (at(&pb, l), at(&qb, l));
            ok &= valid(c, cv.lo) & valid(d, cv.lo);
            // Every box loss is invariant to scaling both boxes: scale the pair by a power
            // of two (exact) so its largest coordinate is in [1, 2), and the gradient back.
            // `eps` is an area (or squared length) and scales with it; α's is a ratio.
            let m = c.iter().chain(&d).fold(T::ZERO, |m, v| vmax(m, v.abs()));
            let k = if m.is_finite() && m > big {
                T::from_f64(2f64.powi(-(m.to_f64().log2().floor() as i32)))
            } else {
                T::ONE
            };
            let (cs, ds) = (c.map(|v| v * k), d.map(|v| v * k));
            let (v, gr) = pair::<T, K, GRAD>(cs, ds, cv, eps, eps * k * k);
            let nan = any_nan(c, d);
            let poison = |x: T| if nan { T::from_f64(f64::NAN) } else { x };
            loss[l] = poison(v);
            for j in 0..4 {
                grad[4 * l + j] = poison(gr[j] * k * scale);
            }
        }
    } else {
        for l in 0..B {
            let (c, d) = (at(&pb, l), at(&qb, l));
            ok &= valid(c, cv.lo) & valid(d, cv.lo);
            let (v, gr) = pair::<T, K, GRAD>(c, d, cv, eps, eps);
            let nan = any_nan(c, d);
            let poison = |x: T| if nan { T::from_f64(f64::NAN) } else { x };
            loss[l] = poison(v);
            for j in 0..4 {
                grad[4 * l + j] = poison(gr[j] * scale);
            }
        }
    }
    for l in 0..len {
        lanes[l] += loss[l].to_f64();
    }
    if GRAD {
        g[..4 * len].copy_from_slice(&grad[..4 * len]);
    }
    if OUT {
        out[..len].copy_from_slice(&loss[..len]);
    }
    ok
}

/// One chunk of box pairs, for [`simd`].
struct Chunk<'a, T, K, const GRAD: bool, const OUT: bool> {
    k: K,
    p: &'a [T],
    q: &'a [T],
    cv: Convert<T>,
    scale: T,
    g: &'a mut [T],
    out: &'a mut [T],
}

impl<T: Real, K: Terms, const GRAD: bool, const OUT: bool> SimdCall for Chunk<'_, T, K, GRAD, OUT> {
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        let Chunk {
            k,
            p,
            q,
            cv,
            scale,
            g,
            out,
        } = self;
        let eps = T::from_f64(k.eps());
        let mut lanes = [0.0f64; B];
        let mut ok = true;
        let n = p.len() / 4;
        let blocks = n.div_ceil(B);
        for b in 0..blocks {
            let (lo, hi) = (b * B, ((b + 1) * B).min(n));
            let gs: &mut [T] = if GRAD {
                &mut g[4 * lo..4 * hi]
            } else {
                &mut []
            };
            let os: &mut [T] = if OUT { &mut out[lo..hi] } else { &mut [] };
            ok &= block::<T, K, GRAD, OUT>(
                &p[4 * lo..4 * hi],
                &q[4 * lo..4 * hi],
                cv,
                eps,
                scale,
                &mut lanes,
                gs,
                os,
            );
        }
        Partial {
            sum: Lanes(lanes).total(),
            ok,
        }
    }
}

/// `[N, 4]` boxes, the same N in both; returns N.
fn check<T>(name: &'static str, inputs: &BoxInputs<'_, T>) -> Result<usize> {
    let dims = inputs.input.dims();
    if dims.len() != 2 || dims[1] != 4 {
        return Err(Error::BadShape {
            loss: name,
            arg: "input",
            actual: dims.to_vec(),
            expected: "[N, 4] (one box per row)",
        });
    }
    if inputs.target.dims() != dims {
        return Err(Error::ShapeMismatch {
            loss: name,
            arg: "target",
            actual: inputs.target.dims().to_vec(),
            expected: dims.to_vec(),
            because: "the shape of `input`",
        });
    }
    Ok(dims[0])
}

/// The first box of `input`, then `target`, that is not a box, as an error.
fn invalid<T: Real>(name: &'static str, inputs: &BoxInputs<'_, T>) -> Error {
    let lo = Convert::<T>::of(inputs.format).lo;
    let format = inputs.format.name();
    let xyxy = inputs.format == BoxFormat::Xyxy;
    for (arg, t) in [("input", &inputs.input), ("target", &inputs.target)] {
        let rows = t.data().chunks_exact(4);
        for (row, c) in rows.enumerate() {
            let c = [c[0], c[1], c[2], c[3]];
            if valid(c, lo) {
                continue;
            }
            let problem = if !c.iter().all(|v| v.is_finite() || v.is_nan()) {
                "a coordinate is infinite"
            } else if c[2] < lo * c[0] {
                if xyxy {
                    "x2 < x1 (an inverted box)"
                } else {
                    "the width is negative"
                }
            } else if xyxy {
                "y2 < y1 (an inverted box)"
            } else {
                "the height is negative"
            };
            return Error::InvalidBox {
                loss: name,
                arg,
                row,
                coords: c.map(Real::to_f64),
                format,
                problem,
            };
        }
    }
    // Unreachable when called after a failed check; a harmless fallback.
    Error::EmptyMean { loss: name }
}

/// What one pass computes.
enum Mode<'a, T> {
    Value,
    Grad(&'a mut [T], T),
    PerElement(&'a mut [T]),
}

fn run<T: Real, K: Terms>(
    k: &K,
    inputs: &BoxInputs<'_, T>,
    n: usize,
    mode: Mode<'_, T>,
) -> Result<f64> {
    let cv = Convert::of(inputs.format);
    let (p, q) = (inputs.input.data(), inputs.target.data());
    let k = *k;
    let slices =
        |r: core::ops::Range<usize>| (&p[4 * r.start..4 * r.end], &q[4 * r.start..4 * r.end]);
    let part = match mode {
        Mode::Value => rows_fold(
            n,
            4,
            Partial::ZERO,
            |r| {
                let (p, q) = slices(r);
                simd(Chunk::<T, K, false, false> {
                    k,
                    p,
                    q,
                    cv,
                    scale: T::ONE,
                    g: &mut [],
                    out: &mut [],
                })
            },
            Partial::combine,
        ),
        Mode::Grad(g, scale) => rows_fold_mut(
            g,
            4,
            n,
            4,
            Partial::ZERO,
            |r, g| {
                let (p, q) = slices(r);
                simd(Chunk::<T, K, true, false> {
                    k,
                    p,
                    q,
                    cv,
                    scale,
                    g,
                    out: &mut [],
                })
            },
            Partial::combine,
        ),
        Mode::PerElement(out) => rows_fold_mut(
            out,
            1,
            n,
            4,
            Partial::ZERO,
            |r, out| {
                let (p, q) = slices(r);
                simd(Chunk::<T, K, false, true> {
                    k,
                    p,
                    q,
                    cv,
                    scale: T::ONE,
                    g: &mut [],
                    out,
                })
            },
            Partial::combine,
        ),
    };
    if !part.ok {
        return Err(invalid(K::NAME, inputs));
    }
    Ok(part.sum)
}

fn denominator(name: &'static str, n: usize, reduction: Reduction) -> Result<f64> {
    match reduction {
        Reduction::Sum => Ok(1.0),
        Reduction::Mean if n == 0 => Err(Error::EmptyMean { loss: name }),
        Reduction::Mean => Ok(n as f64),
    }
}

pub(crate) fn value<T: Real, K: Terms>(
    k: &K,
    inputs: &BoxInputs<'_, T>,
    reduction: Reduction,
) -> Result<T> {
    let n = check(K::NAME, inputs)?;
    let denom = denominator(K::NAME, n, reduction)?;
    Ok(T::from_f64(run(k, inputs, n, Mode::Value)? / denom))
}

pub(crate) fn value_and_grad<T: Real, K: Terms>(
    k: &K,
    inputs: &BoxInputs<'_, T>,
    reduction: Reduction,
    grad: &mut [T],
) -> Result<T> {
    let n = check(K::NAME, inputs)?;
    check_buffer(K::NAME, "gradient of `input`", grad.len(), 4 * n)?;
    let denom = denominator(K::NAME, n, reduction)?;
    let scale = T::from_f64(1.0 / denom);
    Ok(T::from_f64(
        run(k, inputs, n, Mode::Grad(grad, scale))? / denom,
    ))
}

pub(crate) fn per_element<T: Real, K: Terms>(
    k: &K,
    inputs: &BoxInputs<'_, T>,
    out: &mut [T],
) -> Result<()> {
    let n = check(K::NAME, inputs)?;
    check_buffer(K::NAME, "per-element output", out.len(), n)?;
    run(k, inputs, n, Mode::PerElement(out)).map(|_| ())
}

/// Used by the catalogue's evaluators: the loss shape `[N]` of valid-shaped inputs.
pub(crate) fn loss_shape<T>(name: &'static str, inputs: &BoxInputs<'_, T>) -> Result<[usize; 1]> {
    check(name, inputs).map(|n| [n])
}

#[cfg(test)]
mod tests {
    use super::super::{Ciou, Eiou, Giou, Iou};
    use super::*;

    fn rows(b: &[f64]) -> Tensor<'_, f64> {
        Tensor::new(b, &[b.len() / 4, 4]).unwrap()
    }

    #[test]
    fn empty_batches_sum_to_zero_and_have_no_mean() {
        let i = BoxInputs::new(rows(&[]), rows(&[]));
        assert_eq!(Giou::default().value(&i, Reduction::Sum), Ok(0.0));
        assert_eq!(
            Giou::default().value(&i, Reduction::Mean),
            Err(Error::EmptyMean { loss: "giou" })
        );
        let mut out: [f64; 0] = [];
        assert_eq!(Giou::default().per_element(&i, &mut out), Ok(()));
    }

    #[test]
    fn bad_boxes_and_buffers_are_named() {
        let good = [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 2.0, 2.0];
        let inf = [0.0, 0.0, 1.0, 1.0, 0.0, f64::INFINITY, 2.0, 2.0];
        let i = BoxInputs::new(rows(&good), rows(&inf)).format(BoxFormat::Xywh);
        assert_eq!(
            Iou::default().value(&i, Reduction::Sum).unwrap_err().to_string(),
            "iou: `target` row 1 is [0.0, inf, 2.0, 2.0] in format `xywh`: a coordinate is infinite"
        );
        // A NaN is not refused: it propagates to the row's loss and gradient.
        let nan = [0.0, 0.0, 1.0, 1.0, 0.0, f64::NAN, 2.0, 2.0];
        let i = BoxInputs::new(rows(&good), rows(&nan)).format(BoxFormat::Xywh);
        let mut per = [0.0; 2];
        Iou::default().per_element(&i, &mut per).unwrap();
        assert!(per[0] < 1e-6 && per[1].is_nan(), "{per:?}");
        let i = BoxInputs::new(rows(&good), rows(&good));
        let mut g = [0.0; 7];
        assert_eq!(
            Eiou::default()
                .value_and_grad(&i, Reduction::Mean, &mut g)
                .unwrap_err(),
            Error::BufferLength {
                loss: "eiou",
                arg: "gradient of `input`",
                actual: 7,
                expected: 8
            }
        );
        assert!(Ciou::new(f64::INFINITY).is_err() && Ciou::new(-1e-9).is_err());
        assert_eq!(Ciou::new(0.0).map(|c| c.eps()), Ok(0.0));
    }

    #[test]
    fn eps_zero_takes_zero_over_zero_as_zero() {
        // Two identical points: every denominator is 0 with eps = 0.
        let p = [1.0, 1.0, 1.0, 1.0];
        let i = BoxInputs::new(rows(&p), rows(&p));
        let mut g = [9.0; 4];
        let v = Ciou::new(0.0)
            .unwrap()
            .value_and_grad(&i, Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!(v, 1.0);
        assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    }

    #[test]
    fn avx2_and_baseline_give_the_same_bits() {
        use crate::numerics::BASELINE_ONLY;
        use std::sync::atomic::Ordering;
        let n = 1003;
        let mut s = 7u64;
        let mut next = || {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (s >> 40) as f32 / (1u64 << 24) as f32
        };
        let (mut p, mut t) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let (x, y, w, h) = (next() * 10.0, next() * 10.0, next() * 5.0, next() * 5.0);
            t.extend([x, y, w, h]);
            p.extend([x + next() - 0.5, y + next() - 0.5, w * (next() + 0.5), h]);
        }
        let i = BoxInputs::new(
            Tensor::new(&p, &[n, 4]).unwrap(),
            Tensor::new(&t, &[n, 4]).unwrap(),
        )
        .format(BoxFormat::Cxcywh);
        let run = || {
            let mut g = vec![0.0f32; 4 * n];
            let v = Ciou::default()
                .value_and_grad(&i, Reduction::Mean, &mut g)
                .unwrap();
            let w = Giou::default().value(&i, Reduction::Sum).unwrap();
            (
                v.to_bits(),
                w.to_bits(),
                g.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
            )
        };
        let fast = run();
        BASELINE_ONLY.store(true, Ordering::Relaxed);
        let base = run();
        BASELINE_ONLY.store(false, Ordering::Relaxed);
        assert_eq!(fast, base);
    }
}
