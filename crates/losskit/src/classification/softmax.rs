//! The fused softmax kernels behind the index-target losses (`cross_entropy`,
//! `softmax_focal`): per sample, one sweep for the maximum, one for the exponentials (stored
//! in the caller's gradient buffer) and one to turn them into the gradient. No temporaries
//! beyond a few per-position scalars.
//!
//! Two layouts:
//! - rows (`[N, C]`): the classes of a sample are contiguous; the sweeps run along the row
//!   in [`L`] independent lanes;
//! - columns (`[N, C, S]` with `S > 1`): the classes of a position are `S` apart; a block of
//!   up to [`B`] consecutive positions is processed together, so every sweep reads `C`
//!   contiguous runs of the block's length and the lanes are the positions.
//!
//! Accuracy: with `m` the maximum, `e_c = exp(x_c − m)`, the sum is kept as
//! `e_y + Σ_{c≠y} e_c`, so `ln Σ e_c = ln_1p(Σ_{c≠y} e_c)` when the target is the maximum
//! (the confident, correct case), and `1 − p_y = Σ_{c≠y} e_c / Σ e_c` without cancellation.

use crate::error::Result;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::tensor::Tensor;

use super::multiclass::{bad_logit, Layout};

/// Lanes of the row sweeps.
pub(crate) const L: usize = 16;
/// Positions per block of the column sweeps.
pub(crate) const B: usize = 64;

/// Per-class factors: 1 for every class, or a slice of length C.
pub(crate) trait ClassW<T: Real>: Copy + Sync {
    /// Whether every factor is 1 (lets the kernels skip the multiplications).
    const ONES: bool;
    fn get(self, c: usize) -> T;
    /// `L` factors from class `base` on (`base + L ≤ C`).
    fn lanes(self, base: usize) -> [T; L];
}

#[derive(Clone, Copy)]
pub(crate) struct Ones;

impl<T: Real> ClassW<T> for Ones {
    const ONES: bool = true;
    #[inline(always)]
    fn get(self, _c: usize) -> T {
        T::ONE
    }
    #[inline(always)]
    fn lanes(self, _base: usize) -> [T; L] {
        [T::ONE; L]
    }
}

#[derive(Clone, Copy)]
pub(crate) struct PerClass<'a, T>(pub(crate) &'a [T]);

impl<T: Real> ClassW<T> for PerClass<'_, T> {
    const ONES: bool = false;
    #[inline(always)]
    fn get(self, c: usize) -> T {
        self.0.get(c).copied().unwrap_or(T::ZERO)
    }
    #[inline(always)]
    fn lanes(self, base: usize) -> [T; L] {
        let mut out = [T::ZERO; L];
        if let Some(s) = self.0.get(base..base + L) {
            out.copy_from_slice(s);
        }
        out
    }
}

/// What the sweeps know about one position's softmax.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stats<T> {
    /// `Σ_{c≠y} exp(x_c − m)`.
    pub(crate) s_other: T,
    /// `exp(x_y − m)`.
    pub(crate) e_y: T,
    /// `x_y − m` (≤ 0; 0 when the target is the maximum).
    pub(crate) d_y: T,
    /// `Σ_c w_c (x_c − m)`, for label smoothing only.
    pub(crate) sd: T,
}

impl<T: Real> Stats<T> {
    /// `Σ_c exp(x_c − m)`.
    #[inline(always)]
    pub(crate) fn s(&self) -> T {
        self.e_y + self.s_other
    }

    /// `ln Σ_c exp(x_c − m)`: `ln_1p` of the other classes' mass when the target is the
    /// maximum, so a confident correct prediction keeps its tiny loss exactly.
    #[inline(always)]
    pub(crate) fn ln_s(&self) -> T {
        if self.d_y == T::ZERO {
            self.s_other.ln_1p()
        } else {
            self.s().ln()
        }
    }

    /// `−ln p_y ≥ 0`.
    #[inline(always)]
    pub(crate) fn nll(&self) -> T {
        self.ln_s() - self.d_y
    }
}

/// A position's loss and gradient coefficients: `g_c = e_c·k1 − k2·w_c` for `c ≠ y`,
/// `g_y = gy` (all with the reduction's scale in).
#[derive(Clone, Copy)]
pub(crate) struct Fin<T> {
    pub(crate) loss: T,
    pub(crate) k1: T,
    pub(crate) k2: T,
    pub(crate) gy: T,
}

/// The loss-specific part: what a position's softmax statistics become.
pub(crate) trait Head<T: Real>: Sync {
    /// Whether the kernels must accumulate `Stats::sd` and apply `k2`.
    const SMOOTH: bool;
    /// The loss and gradient coefficients of a position with target `y` (class factor
    /// `w_y`), gradient scale `scale`.
    fn finish(&self, st: &Stats<T>, w_y: T, scale: T) -> Fin<T>;
}

/// `max(a, b)` that compiles to one instruction; NaN in `b` is skipped (it reaches the loss
/// through its exponential instead).
#[inline(always)]
pub(crate) fn vmax<T: Real>(a: T, b: T) -> T {
    if b > a {
        b
    } else {
        a
    }
}

#[inline(always)]
pub(crate) fn row_max<T: Real>(x: &[T]) -> T {
    let mut acc = [-T::INFINITY; L];
    let mut chunks = x.chunks_exact(L);
    for ch in &mut chunks {
        for l in 0..L {
            acc[l] = vmax(acc[l], ch[l]);
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        acc[l] = vmax(acc[l], v);
    }
    let mut w = L;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] = vmax(acc[l], acc[l + w]);
        }
    }
    acc[0]
}

#[inline(always)]
fn lanes_total<T: Real>(mut acc: [T; L]) -> T {
    let mut w = L;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] += acc[l + w];
        }
    }
    acc[0]
}

/// How a position came out of a kernel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowState {
    Ok,
    /// A `+∞` logit, or only `−∞` logits: the softmax is undefined (an error).
    Bad,
}

/// One sample of `[N, C]`: `x` its `C` logits, `y < C` its target. With `GRAD`, writes the
/// gradient (scale included) into `g` (length `C`).
#[inline(always)]
pub(crate) fn row<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool>(
    h: &H,
    w: W,
    x: &[T],
    y: usize,
    scale: T,
    g: &mut [T],
) -> (T, RowState) {
    let c = x.len();
    let m = row_max(x);
    if !m.is_finite() {
        return non_finite_row(x, g, m);
    }
    let mut so = [T::ZERO; L];
    let mut sd = [T::ZERO; L];
    let full = c - c % L;
    // Sweep 2: exponentials (kept in `g`), the mass of the other classes, the smoothing sum.
    {
        let mut step = |base: usize, xs: &[T], gs: &mut [T]| {
            let ws = if H::SMOOTH && !W::ONES {
                w.lanes(base)
            } else {
                [T::ONE; L]
            };
            for l in 0..L {
                let d = xs[l] - m;
                let e = d.exp_fast();
                if GRAD {
                    gs[l] = e;
                }
                so[l] += if base + l == y { T::ZERO } else { e };
                if H::SMOOTH {
                    sd[l] += if W::ONES { d } else { ws[l] * d };
                }
            }
        };
        if GRAD {
            for (k, (xs, gs)) in x[..full]
                .chunks_exact(L)
                .zip(g[..full].chunks_exact_mut(L))
                .enumerate()
            {
                step(k * L, xs, gs);
            }
        } else {
            let mut dummy = [T::ZERO; L];
            for (k, xs) in x[..full].chunks_exact(L).enumerate() {
                step(k * L, xs, &mut dummy);
            }
        }
    }
    for (l, &xv) in x[full..].iter().enumerate() {
        let cls = full + l;
        let d = xv - m;
        let e = d.exp_fast();
        if GRAD {
            if let Some(slot) = g.get_mut(cls) {
                *slot = e;
            }
        }
        if cls != y {
            so[l] += e;
        }
        if H::SMOOTH {
            sd[l] += w.get(cls) * d;
        }
    }
    let d_y = x.get(y).map_or(T::ZERO, |&v| v - m);
    let st = Stats {
        s_other: lanes_total(so),
        e_y: d_y.exp_fast(),
        d_y,
        sd: if H::SMOOTH { lanes_total(sd) } else { T::ZERO },
    };
    let fin = h.finish(&st, w.get(y), scale);
    if GRAD {
        // Sweep 3: exponentials to gradient.
        let (k1, k2) = (fin.k1, fin.k2);
        if H::SMOOTH {
            for (k, gs) in g[..full].chunks_exact_mut(L).enumerate() {
                let ws = if W::ONES { [T::ONE; L] } else { w.lanes(k * L) };
                for l in 0..L {
                    gs[l] = gs[l] * k1 - k2 * ws[l];
                }
            }
            for (l, gv) in g[full..].iter_mut().enumerate() {
                *gv = *gv * k1 - k2 * w.get(full + l);
            }
        } else {
            for gv in g.iter_mut() {
                *gv *= k1;
            }
        }
        if let Some(slot) = g.get_mut(y) {
            *slot = fin.gy;
        }
    }
    (fin.loss, RowState::Ok)
}

/// A row whose maximum is not finite: NaN somewhere with everything else `−∞` propagates
/// NaN; otherwise (`+∞`, or `−∞` only) the softmax is undefined.
#[cold]
pub(crate) fn non_finite_row<T: Real>(x: &[T], g: &mut [T], m: T) -> (T, RowState) {
    if m == -T::INFINITY && x.iter().any(|v| v.is_nan()) {
        let nan = T::from_f64(f64::NAN);
        g.fill(nan);
        return (nan, RowState::Ok);
    }
    g.fill(T::ZERO);
    (T::ZERO, RowState::Bad)
}

/// A block of `bl ≤ B` positions of one sample of `[N, C, S]`: class `k` of position `b` is
/// `x[k·stride + b]` (and `g[k·stride + b]`); `ys` holds the block's targets.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn cols<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool>(
    h: &H,
    w: W,
    x: &[T],
    stride: usize,
    c: usize,
    ys: &[i64],
    ignore: i64,
    scale: T,
    g: &mut [T],
    losses: &mut [T; B],
) -> RowState {
    let bl = ys.len().min(B);
    // Target per position; `usize::MAX` (never a class) for ignored ones.
    let mut yv = [usize::MAX; B];
    for (slot, &y) in yv.iter_mut().zip(ys) {
        if y != ignore {
            *slot = y as usize;
        }
    }
    let yv = &yv[..bl];
    let mut m = [-T::INFINITY; B];
    let m = &mut m[..bl];
    for k in 0..c {
        let xs = &x[k * stride..][..bl];
        for b in 0..bl {
            m[b] = vmax(m[b], xs[b]);
        }
    }
    let mut so = [T::ZERO; B];
    let mut sd = [T::ZERO; B];
    let mut dy = [T::ZERO; B];
    let (so, sd, dy) = (&mut so[..bl], &mut sd[..bl], &mut dy[..bl]);
    for k in 0..c {
        let xs = &x[k * stride..][..bl];
        let wk = w.get(k);
        let mut body = |b: usize, e: T, d: T| {
            let hit = yv[b] == k;
            so[b] += if hit { T::ZERO } else { e };
            dy[b] = if hit { d } else { dy[b] };
            if H::SMOOTH {
                sd[b] += if W::ONES { d } else { wk * d };
            }
        };
        if GRAD {
            let gs = &mut g[k * stride..][..bl];
            for b in 0..bl {
                let d = xs[b] - m[b];
                let e = d.exp_fast();
                gs[b] = e;
                body(b, e, d);
            }
        } else {
            for b in 0..bl {
                let d = xs[b] - m[b];
                body(b, d.exp_fast(), d);
            }
        }
    }
    let mut k1 = [T::ZERO; B];
    let mut k2 = [T::ZERO; B];
    let mut gy = [T::ZERO; B];
    let mut state = RowState::Ok;
    for b in 0..bl {
        if yv[b] == usize::MAX {
            losses[b] = T::ZERO;
            continue;
        }
        if !m[b].is_finite() {
            let nan_row = m[b] == -T::INFINITY && (0..c).any(|k| x[k * stride + b].is_nan());
            if nan_row {
                let nan = T::from_f64(f64::NAN);
                losses[b] = nan;
                k1[b] = nan;
                gy[b] = nan;
            } else {
                losses[b] = T::ZERO;
                state = RowState::Bad;
            }
            continue;
        }
        let st = Stats {
            s_other: so[b],
            e_y: dy[b].exp_fast(),
            d_y: dy[b],
            sd: sd[b],
        };
        let fin = h.finish(&st, w.get(yv[b]), scale);
        losses[b] = fin.loss;
        k1[b] = fin.k1;
        k2[b] = fin.k2;
        gy[b] = fin.gy;
    }
    if GRAD {
        for k in 0..c {
            let gs = &mut g[k * stride..][..bl];
            let wk = w.get(k);
            if H::SMOOTH {
                for b in 0..bl {
                    gs[b] = gs[b] * k1[b] - k2[b] * wk;
                }
            } else {
                for b in 0..bl {
                    gs[b] *= k1[b];
                }
            }
        }
        for b in 0..bl {
            if yv[b] == usize::MAX || (!m[b].is_finite() && !k1[b].is_nan()) {
                // Ignored (or undefined) positions get exact zeros whatever their logits.
                for k in 0..c {
                    g[k * stride + b] = T::ZERO;
                }
            } else if let Some(slot) = g.get_mut(yv[b] * stride + b) {
                *slot = gy[b];
            }
        }
    }
    state
}

/// What to do besides summing the losses.
pub(crate) enum Mode<'g, T> {
    /// The sum only.
    Value,
    /// The sum, and the gradient (times `scale`) into the buffer (input's length).
    Grad(&'g mut [T], T),
    /// The per-element losses into the buffer (length `N·S`).
    PerElement(&'g mut [T]),
}

#[derive(Clone, Copy)]
struct Partial {
    sum: f64,
    ok: bool,
}

impl Partial {
    const ZERO: Partial = Partial { sum: 0.0, ok: true };
    fn combine(a: Partial, b: Partial) -> Partial {
        Partial {
            sum: a.sum + b.sum,
            ok: a.ok && b.ok,
        }
    }
}

/// One chunk of samples: `x`/`g` hold its samples' `C·S` logits/gradients, `ys` its
/// `S`-per-sample targets, `out` its per-element losses (or nothing).
#[allow(clippy::too_many_arguments)]
fn chunk<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool, const OUT: bool>(
    h: &H,
    w: W,
    x: &[T],
    ys: &[i64],
    c: usize,
    s: usize,
    ignore: i64,
    scale: T,
    g: &mut [T],
    out: &mut [T],
) -> Partial {
    let mut lanes = Lanes::default();
    let mut ok = true;
    if s == 1 {
        for (r, (&y, xr)) in ys.iter().zip(x.chunks_exact(c)).enumerate() {
            let gr: &mut [T] = if GRAD { &mut g[r * c..][..c] } else { &mut [] };
            let loss = if y == ignore {
                gr.fill(T::ZERO);
                T::ZERO
            } else {
                let (loss, st) = row::<T, H, W, GRAD>(h, w, xr, y as usize, scale, gr);
                ok &= st == RowState::Ok;
                loss
            };
            if OUT {
                out[r] = loss;
            }
            lanes.add(r, loss.to_f64());
        }
    } else {
        let mut losses = [T::ZERO; B];
        for (n, (yn, xn)) in ys.chunks_exact(s).zip(x.chunks_exact(c * s)).enumerate() {
            for s0 in (0..s).step_by(B) {
                let yb = &yn[s0..(s0 + B).min(s)];
                let gn: &mut [T] = if GRAD {
                    &mut g[n * c * s + s0..(n + 1) * c * s]
                } else {
                    &mut []
                };
                let st = cols::<T, H, W, GRAD>(
                    h,
                    w,
                    &xn[s0..],
                    s,
                    c,
                    yb,
                    ignore,
                    scale,
                    gn,
                    &mut losses,
                );
                ok &= st == RowState::Ok;
                for (b, &l) in losses[..yb.len()].iter().enumerate() {
                    lanes.add(b, l.to_f64());
                }
                if OUT {
                    out[n * s + s0..][..yb.len()].copy_from_slice(&losses[..yb.len()]);
                }
            }
        }
    }
    Partial {
        sum: lanes.total(),
        ok,
    }
}

/// Runs a softmax head over `input` `[N, C, S]` with index targets `ys` (already validated:
/// each in `[0, C)` or `ignore`). Returns `Σ` of the per-element losses, in f64, summed in an
/// order that depends on the shapes only (not on the mode or the thread count).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run<T: Real, H: Head<T>, W: ClassW<T>>(
    loss: &'static str,
    h: &H,
    w: W,
    input: &Tensor<'_, T>,
    lay: &Layout,
    ys: &[i64],
    ignore: i64,
    mode: Mode<'_, T>,
) -> Result<f64> {
    let (c, s) = (lay.c, lay.s);
    let x = input.data();
    let work = c * s;
    let p = match mode {
        Mode::Value => rows_fold(
            lay.n,
            work,
            Partial::ZERO,
            |r| {
                let (xs, yr) = (
                    &x[r.start * work..r.end * work],
                    &ys[r.start * s..r.end * s],
                );
                chunk::<T, H, W, false, false>(h, w, xs, yr, c, s, ignore, T::ONE, &mut [], &mut [])
            },
            Partial::combine,
        ),
        Mode::Grad(g, scale) => rows_fold_mut(
            g,
            work,
            lay.n,
            work,
            Partial::ZERO,
            |r, gc| {
                let (xs, yr) = (
                    &x[r.start * work..r.end * work],
                    &ys[r.start * s..r.end * s],
                );
                chunk::<T, H, W, true, false>(h, w, xs, yr, c, s, ignore, scale, gc, &mut [])
            },
            Partial::combine,
        ),
        Mode::PerElement(out) => rows_fold_mut(
            out,
            s,
            lay.n,
            work,
            Partial::ZERO,
            |r, oc| {
                let (xs, yr) = (
                    &x[r.start * work..r.end * work],
                    &ys[r.start * s..r.end * s],
                );
                chunk::<T, H, W, false, true>(h, w, xs, yr, c, s, ignore, T::ONE, &mut [], oc)
            },
            Partial::combine,
        ),
    };
    if !p.ok {
        return Err(bad_logit(loss, input, lay, |i| ys.get(i) == Some(&ignore)));
    }
    Ok(p.sum)
}
