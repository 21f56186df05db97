//! The fused softmax kernels behind the index-target losses (`cross_entropy`,
//! `softmax_focal`): per sample, one sweep for the maximum, one for the exponentials (stored
//! in the caller's gradient buffer) and one to turn them into the gradient, while the sample
//! is in cache. No temporaries beyond a few per-position scalars; no allocation.
//!
//! Three paths, all computing the same numbers in the same summation order:
//! - rows (`[N, C]`, C > [`SMALL_C`]): the classes of a sample are contiguous; the sweeps
//!   run along the row in [`L`] independent lanes, and the next sample's maximum is taken
//!   during this sample's exponential sweep, so its first read from memory overlaps with
//!   arithmetic;
//! - columns (`[N, C, S]` with `S > 1`): the classes of a position are `S` apart; a block of
//!   up to [`B`] consecutive positions is processed together, so every sweep reads `C`
//!   contiguous runs of the block's length and the lanes are the positions (no transposing
//!   copy of the input);
//! - small rows (`[N, C]`, C ≤ [`SMALL_C`]): a row is shorter than a vector, so blocks of
//!   [`B`] rows are transposed into a stack buffer and run through the column sweeps.
//!
//! Every path is entered through [`simd`](crate::numerics::simd) (AVX2 where the CPU has
//! it) and uses the vectorisable `exp_fast`/`ln_fast`.
//!
//! With [`Mode::Hess`] the column sweeps also write the diagonal of the Hessian (what gradient
//! boosting consumes), from the same exponentials in the same pass; `[N, C]` rows of any `C`
//! then go through the transposed blocks.
//!
//! Accuracy: with `m` the maximum, `e_c = exp(x_c − m)`, the sum is kept as
//! `e_y + Σ_{c≠y} e_c`, so `ln Σ e_c = ln_1p(Σ_{c≠y} e_c)` when the target is the maximum
//! (the confident, correct case), and `1 − p_y = Σ_{c≠y} e_c / Σ e_c` without cancellation.

use crate::error::Result;
use crate::numerics::{rows_fold, rows_fold_mut, rows_fold_mut2, simd, Lanes, Partial, SimdCall};
use crate::real::Real;
use crate::tensor::Tensor;

use super::multiclass::{bad_logit, Layout};

/// Lanes of the row sweeps (one AVX2 register of f32; the order of every sum is fixed by
/// them, not by the vector width the code runs at).
pub(crate) const L: usize = 8;
/// `0, 1, …, L − 1`: lane indices, as u32 so comparing them vectorises at f32 width.
const IOTA: [u32; L] = {
    let mut a = [0u32; L];
    let mut i = 0;
    while i < L {
        a[i] = i as u32;
        i += 1;
    }
    a
};
/// Positions per block of the column sweeps.
pub(crate) const B: usize = 128;
/// The target of an ignored position in the column sweeps.
const NO_CLASS: u32 = u32::MAX;

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
        let s = self.s();
        let l = s.ln_fast();
        // With the target at the maximum, s = 1 + s_other and ln_1p(s_other) is
        // s_other·ln(s)/(s − 1) (Kahan's form, exact to a few ulp; s_other itself when
        // s rounds to 1). Written as selects so the caller's loop vectorises.
        let one = s == T::ONE;
        let ln_1p = if one {
            self.s_other
        } else {
            self.s_other * l / (s - T::ONE)
        };
        if self.d_y == T::ZERO {
            ln_1p
        } else {
            l
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
    /// The Hessian coefficients of a position (unscaled; see [`HessCoef`]). Only the heads of
    /// the losses with a Hessian are run with [`Mode::Hess`]; the others keep this default,
    /// NaN, so a misuse shows in the output.
    #[inline(always)]
    fn hess(&self, _st: &Stats<T>, _w_y: T) -> HessCoef<T> {
        let nan = T::from_f64(f64::NAN);
        HessCoef {
            a: nan,
            b: nan,
            inv_q: nan,
        }
    }
}

/// A position's Hessian diagonal, before the policy and the scale: with `p_c` the softmax,
/// `q_c = 1 − p_c` (from the other classes where `p_c` is the largest or `c` the target, so
/// no cancellation) and `r_c = p_c·inv_q` (`r_y = 1`),
/// `h_c = a·p_c·q_c − b·r_c²` (the second term only where both factors are non-zero, so a
/// `0·∞` never appears). Cross-entropy: `a` the row's total target weight, `b = 0`; focal: see
/// `SoftmaxFocal::value_grad_hess`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HessCoef<T> {
    pub(crate) a: T,
    pub(crate) b: T,
    pub(crate) inv_q: T,
}

/// What a curvature policy does to the exact diagonal `h` (with `gn = a·p·q`):
/// `mult·h`, raised to `floor` (NaN kept), then, with `bound`, `max(h, gn)` (NaN kept).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HessPolicy<T> {
    pub(crate) mult: T,
    pub(crate) floor: T,
    pub(crate) bound: bool,
}

impl<T: Real> HessPolicy<T> {
    /// The exact diagonal.
    pub(crate) fn exact() -> Self {
        HessPolicy {
            mult: T::ONE,
            floor: -T::INFINITY,
            bound: false,
        }
    }

    #[inline(always)]
    pub(crate) fn apply(self, exact: T, gn: T) -> T {
        let v = self.mult * exact;
        let v = if v < self.floor { self.floor } else { v };
        if self.bound && !(v.is_nan() || v > gn) {
            gn
        } else {
            v
        }
    }
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
        // As a whole-array update: LLVM then maps the lanes onto one vector register.
        acc = core::array::from_fn(|l| vmax(acc[l], ch[l]));
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(-T::INFINITY, |a, &v| vmax(a, v));
    // A left fold, not a tree: a tree here makes LLVM split the lanes into 2-wide pieces.
    acc.iter().fold(tail, |a, &v| vmax(a, v))
}

#[inline(always)]
fn lanes_total<T: Real>(acc: [T; L]) -> T {
    // A left fold (see `row_max`).
    acc.iter().fold(T::ZERO, |a, &v| a + v)
}

/// How a position came out of a kernel.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowState {
    Ok,
    /// A `+∞` logit, or only `−∞` logits: the softmax is undefined (an error).
    Bad,
}

/// The lane accumulators of [`sweep`].
struct Acc<T> {
    so: [T; L],
    sd: [T; L],
    next: [T; L],
}

/// Sweep 2 of [`row`] over the `L`-chunks `chunks` of the row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn sweep<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool, const MASK: bool>(
    w: W,
    x: &[T],
    next: &[T],
    g: &mut [T],
    m: T,
    chunks: core::ops::Range<usize>,
    y: usize,
    acc: &mut Acc<T>,
) {
    let (lo, hi) = (chunks.start * L, chunks.end * L);
    if lo >= hi {
        return;
    }
    let (xs, ns) = (&x[lo..hi], &next[lo..hi]);
    let yl = (y.wrapping_sub(lo) as u32).min(u32::MAX - 1);
    if GRAD {
        let gs = &mut g[lo..hi];
        for (k, ((xc, nc), gc)) in xs
            .chunks_exact(L)
            .zip(ns.chunks_exact(L))
            .zip(gs.chunks_exact_mut(L))
            .enumerate()
        {
            let es = lanes_step::<T, H, W, MASK>(w, xc, nc, m, lo + k * L, yl, acc);
            gc.copy_from_slice(&es);
        }
    } else {
        for (k, (xc, nc)) in xs.chunks_exact(L).zip(ns.chunks_exact(L)).enumerate() {
            lanes_step::<T, H, W, MASK>(w, xc, nc, m, lo + k * L, yl, acc);
        }
    }
}

/// One `L`-chunk of [`sweep`]: returns the exponentials. (A function, not a closure:
/// closures are not always inlined, and code that is not inlined into the
/// [`simd`](crate::numerics::simd) entry point runs at the baseline width.)
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn lanes_step<T: Real, H: Head<T>, W: ClassW<T>, const MASK: bool>(
    w: W,
    xc: &[T],
    nc: &[T],
    m: T,
    base: usize,
    yl: u32,
    acc: &mut Acc<T>,
) -> [T; L] {
    let (xc, nc) = (&xc[..L], &nc[..L]);
    acc.next = core::array::from_fn(|l| vmax(acc.next[l], nc[l]));
    let ws = if H::SMOOTH && !W::ONES {
        w.lanes(base)
    } else {
        [T::ONE; L]
    };
    let mut es = [T::ZERO; L];
    for l in 0..L {
        let d = xc[l] - m;
        let e = d.exp_fast();
        es[l] = e;
        acc.so[l] += if MASK && IOTA[l] == yl { T::ZERO } else { e };
        if H::SMOOTH {
            acc.sd[l] += if W::ONES { d } else { ws[l] * d };
        }
    }
    es
}

/// One sample of `[N, C]`: `x` its `C` logits, `m` their maximum ([`row_max`]), `y < C` its
/// target. With `GRAD`, writes the gradient (scale included) into `g` (length `C`).
///
/// `next` is the next sample's logits (or `x` again for the last one): its maximum is
/// computed during this sample's exponential sweep and returned, so the next sample's first
/// read from memory overlaps with this sample's arithmetic instead of being a sweep of its
/// own.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn row<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool>(
    h: &H,
    w: W,
    x: &[T],
    m: T,
    next: &[T],
    y: usize,
    scale: T,
    g: &mut [T],
) -> (T, RowState, T) {
    let c = x.len();
    if !m.is_finite() || next.len() != c {
        let (loss, state) = non_finite_row(x, g, m);
        return (loss, state, row_max(next));
    }
    let full = c - c % L;
    let chunks = full / L;
    let ky = y / L; // the chunk holding the target (≥ `chunks` if it is in the tail)
                    // Sweep 2: exponentials (kept in `g`), the mass of the other classes, the smoothing
                    // sum, and the next sample's maximum. Only the target's chunk pays for the mask.
    let mut acc = Acc {
        so: [T::ZERO; L],
        sd: [T::ZERO; L],
        next: [-T::INFINITY; L],
    };
    let split = ky.min(chunks);
    sweep::<T, H, W, GRAD, false>(w, x, next, g, m, 0..split, y, &mut acc);
    if ky < chunks {
        sweep::<T, H, W, GRAD, true>(w, x, next, g, m, ky..ky + 1, y, &mut acc);
    }
    sweep::<T, H, W, GRAD, false>(w, x, next, g, m, (ky + 1).min(chunks)..chunks, y, &mut acc);
    let Acc { so, sd, next: nacc } = acc;
    let (mut so_tail, mut sd_tail) = (T::ZERO, T::ZERO);
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
            so_tail += e;
        }
        if H::SMOOTH {
            sd_tail += w.get(cls) * d;
        }
    }
    let next_tail = next[full..].iter().fold(-T::INFINITY, |a, &v| vmax(a, v));
    let next_m = nacc.iter().fold(next_tail, |a, &v| vmax(a, v));
    let d_y = x.get(y).map_or(T::ZERO, |&v| v - m);
    let st = Stats {
        s_other: lanes_total(so) + so_tail,
        e_y: d_y.exp_fast(),
        d_y,
        sd: if H::SMOOTH {
            lanes_total(sd) + sd_tail
        } else {
            T::ZERO
        },
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
    (fin.loss, RowState::Ok, next_m)
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
pub(crate) fn cols<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool, const HESS: bool>(
    h: &H,
    w: W,
    x: &[T],
    stride: usize,
    c: usize,
    ys: &[i64],
    ignore: i64,
    scale: T,
    g: &mut [T],
    hs: &mut [T],
    pol: HessPolicy<T>,
    losses: &mut [T; B],
) -> RowState {
    debug_assert!(
        GRAD || !HESS,
        "the Hessian pass needs the exponentials in `g`"
    );
    let bl = ys.len().min(B);
    // Target per position as u32 (the lane width of f32, so the class compare vectorises);
    // `u32::MAX`, never a class (C < 2³² − 1 is checked by `run`), for ignored ones.
    let mut yv = [NO_CLASS; B];
    for (slot, &y) in yv.iter_mut().zip(ys) {
        if y != ignore {
            *slot = y as u32;
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
    // For the Hessian: the mass of the non-target classes below the maximum, and how many
    // non-target classes reach it (`1 − p_c` of a maximum without cancellation).
    let mut sneg = [T::ZERO; B];
    let mut nmax = [T::ZERO; B];
    let (sneg, nmax) = (&mut sneg[..bl], &mut nmax[..bl]);
    for k in 0..c {
        let xs = &x[k * stride..][..bl];
        let wk = w.get(k);
        let k32 = k as u32;
        if GRAD {
            let gs = &mut g[k * stride..][..bl];
            for b in 0..bl {
                let d = xs[b] - m[b];
                let e = d.exp_fast();
                gs[b] = e;
                let hit = yv[b] == k32;
                so[b] += if hit { T::ZERO } else { e };
                dy[b] = if hit { d } else { dy[b] };
                if H::SMOOTH {
                    sd[b] += if W::ONES { d } else { wk * d };
                }
                if HESS {
                    sneg[b] += if !hit && d < T::ZERO { e } else { T::ZERO };
                    nmax[b] += if !hit && d == T::ZERO {
                        T::ONE
                    } else {
                        T::ZERO
                    };
                }
            }
        } else {
            for b in 0..bl {
                let d = xs[b] - m[b];
                let e = d.exp_fast();
                let hit = yv[b] == k32;
                so[b] += if hit { T::ZERO } else { e };
                dy[b] = if hit { d } else { dy[b] };
                if H::SMOOTH {
                    sd[b] += if W::ONES { d } else { wk * d };
                }
            }
        }
    }
    let mut k1 = [T::ZERO; B];
    let mut k2 = [T::ZERO; B];
    let mut gy = [T::ZERO; B];
    // The Hessian's per-position coefficients: `HessCoef`, 1/s, and q of the target and of
    // a non-target maximum.
    let mut ha = [T::ZERO; B];
    let mut hb = [T::ZERO; B];
    let mut hiq = [T::ZERO; B];
    let mut his = [T::ZERO; B];
    let mut hqy = [T::ZERO; B];
    let mut hqm = [T::ZERO; B];
    // Every lane through the head (a loop that vectorises), then the rare special lanes
    // (ignored, or a row without a finite maximum) fixed one by one.
    let mut special = false;
    for b in 0..bl {
        let st = Stats {
            s_other: so[b],
            e_y: dy[b].exp_fast(),
            d_y: dy[b],
            sd: sd[b],
        };
        let w_y = w.get(yv[b] as usize);
        let fin = h.finish(&st, w_y, scale);
        losses[b] = fin.loss;
        k1[b] = fin.k1;
        k2[b] = fin.k2;
        gy[b] = fin.gy;
        if HESS {
            let hc = h.hess(&st, w_y);
            let inv_s = T::ONE / st.s();
            ha[b] = hc.a;
            hb[b] = hc.b;
            hiq[b] = hc.inv_q;
            his[b] = inv_s;
            hqy[b] = st.s_other * inv_s;
            hqm[b] = (st.e_y + sneg[b] + (nmax[b] - T::ONE)) * inv_s;
        }
        special |= yv[b] == NO_CLASS || !m[b].is_finite();
    }
    let mut state = RowState::Ok;
    if special {
        for b in 0..bl {
            if yv[b] == NO_CLASS {
                (losses[b], k1[b], k2[b], gy[b]) = (T::ZERO, T::ZERO, T::ZERO, T::ZERO);
                (ha[b], hb[b]) = (T::ZERO, T::ZERO);
            } else if !m[b].is_finite() {
                let nan_row = m[b] == -T::INFINITY && (0..c).any(|k| x[k * stride + b].is_nan());
                let v = if nan_row {
                    T::from_f64(f64::NAN)
                } else {
                    T::ZERO
                };
                (losses[b], k1[b], k2[b], gy[b]) = (v, v, T::ZERO, v);
                (ha[b], hb[b]) = (v, T::ZERO);
                if !nan_row {
                    state = RowState::Bad;
                }
            }
        }
    }
    if GRAD {
        for k in 0..c {
            let gs = &mut g[k * stride..][..bl];
            if HESS {
                // From the exponentials still in `g`, before they become the gradient.
                let xs = &x[k * stride..][..bl];
                let hk = &mut hs[k * stride..][..bl];
                let k32 = k as u32;
                for b in 0..bl {
                    let p = gs[b] * his[b];
                    let hit = yv[b] == k32;
                    let q = if hit {
                        hqy[b]
                    } else if xs[b] == m[b] {
                        hqm[b]
                    } else {
                        T::ONE - p
                    };
                    let gn = ha[b] * p * q;
                    let r = p * hiq[b];
                    let r2 = if hit { T::ONE } else { r * r };
                    let corr = hb[b] * r2;
                    let exact = if r2 == T::ZERO || hb[b] == T::ZERO {
                        gn
                    } else {
                        gn - corr
                    };
                    hk[b] = pol.apply(exact, gn) * scale;
                }
            }
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
            if special && (yv[b] == NO_CLASS || (!m[b].is_finite() && !k1[b].is_nan())) {
                // Ignored (or undefined) positions get exact zeros whatever their logits.
                for k in 0..c {
                    g[k * stride + b] = T::ZERO;
                    if HESS {
                        hs[k * stride + b] = T::ZERO;
                    }
                }
            } else if let Some(slot) = g.get_mut(yv[b] as usize * stride + b) {
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
    /// The sum, the gradient (times the scale) into the first buffer and the Hessian's
    /// diagonal under the policy (times the scale) into the second (both input's length).
    Hess(&'g mut [T], &'g mut [T], T, HessPolicy<T>),
}

/// Classes up to which `[N, C]` rows are processed as transposed blocks (lanes = rows)
/// rather than along the row (lanes = classes): a 10-class row is shorter than one vector.
pub(crate) const SMALL_C: usize = 32;

/// One chunk of samples: `x`/`g` hold its samples' `C·S` logits/gradients, `ys` its
/// `S`-per-sample targets, `out` its per-element losses (or nothing).
///
/// The per-element losses are added to eight f64 lanes by their index in the chunk, in the
/// same order whichever path (rows, transposed blocks, columns) computes them.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool, const OUT: bool, const HESS: bool>(
    h: &H,
    w: W,
    x: &[T],
    ys: &[i64],
    c: usize,
    s: usize,
    ignore: i64,
    scale: T,
    g: &mut [T],
    hs: &mut [T],
    pol: HessPolicy<T>,
    out: &mut [T],
) -> Partial {
    let mut lanes = Lanes::default();
    let mut ok = true;
    if HESS && s == 1 {
        // Rows of any length through transposed blocks (the row sweeps have no Hessian):
        // buffers of `C·B` per chunk, on the heap (C may exceed SMALL_C).
        let mut xt = vec![T::ZERO; c * B];
        let mut gt = vec![T::ZERO; c * B];
        let mut ht = vec![T::ZERO; c * B];
        let mut losses = [T::ZERO; B];
        for (blk, (yb, xb)) in ys.chunks(B).zip(x.chunks(B * c)).enumerate() {
            let bl = yb.len();
            transpose_block(xb, c, &mut xt);
            let st = cols::<T, H, W, true, true>(
                h,
                w,
                &xt,
                B,
                c,
                yb,
                ignore,
                scale,
                &mut gt,
                &mut ht,
                pol,
                &mut losses,
            );
            ok &= st == RowState::Ok;
            let gb = &mut g[blk * B * c..][..bl * c];
            let hb = &mut hs[blk * B * c..][..bl * c];
            for k in 0..c {
                let (gcol, hcol) = (&gt[k * B..k * B + B], &ht[k * B..k * B + B]);
                for ((&v, gr), (&u, hr)) in gcol
                    .iter()
                    .zip(gb.chunks_exact_mut(c))
                    .zip(hcol.iter().zip(hb.chunks_exact_mut(c)))
                {
                    gr[k] = v;
                    hr[k] = u;
                }
            }
            for (b, &l) in losses[..bl].iter().enumerate() {
                lanes.add(blk * B + b, l.to_f64());
            }
        }
    } else if s == 1 && c <= SMALL_C {
        // Small rows: transpose blocks of B rows into [C][B] so the sweeps run across rows.
        let mut xt = [T::ZERO; SMALL_C * B];
        let mut gt = [T::ZERO; SMALL_C * B];
        let mut losses = [T::ZERO; B];
        for (blk, (yb, xb)) in ys.chunks(B).zip(x.chunks(B * c)).enumerate() {
            let bl = yb.len();
            transpose_block(xb, c, &mut xt);
            let st = cols::<T, H, W, GRAD, false>(
                h,
                w,
                &xt,
                B,
                c,
                yb,
                ignore,
                scale,
                &mut gt,
                &mut [],
                pol,
                &mut losses,
            );
            ok &= st == RowState::Ok;
            if GRAD {
                let gb = &mut g[blk * B * c..][..bl * c];
                for k in 0..c {
                    let col = &gt[k * B..k * B + B];
                    for (&v, gr) in col.iter().zip(gb.chunks_exact_mut(c)) {
                        gr[k] = v;
                    }
                }
            }
            for (b, &l) in losses[..bl].iter().enumerate() {
                lanes.add(blk * B + b, l.to_f64());
            }
            if OUT {
                out[blk * B..][..bl].copy_from_slice(&losses[..bl]);
            }
        }
    } else if s == 1 {
        let mut m = x.get(..c).map_or(T::ZERO, row_max);
        for (r, (&y, xr)) in ys.iter().zip(x.chunks_exact(c)).enumerate() {
            let gr: &mut [T] = if GRAD { &mut g[r * c..][..c] } else { &mut [] };
            let next = x.get((r + 1) * c..(r + 2) * c).unwrap_or(xr);
            let loss = if y == ignore {
                gr.fill(T::ZERO);
                m = row_max(next);
                T::ZERO
            } else {
                let (loss, st, next_m) =
                    row::<T, H, W, GRAD>(h, w, xr, m, next, y as usize, scale, gr);
                ok &= st == RowState::Ok;
                m = next_m;
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
                let hn: &mut [T] = if HESS {
                    &mut hs[n * c * s + s0..(n + 1) * c * s]
                } else {
                    &mut []
                };
                let st = cols::<T, H, W, GRAD, HESS>(
                    h,
                    w,
                    &xn[s0..],
                    s,
                    c,
                    yb,
                    ignore,
                    scale,
                    gn,
                    hn,
                    pol,
                    &mut losses,
                );
                ok &= st == RowState::Ok;
                for (b, &l) in losses[..yb.len()].iter().enumerate() {
                    lanes.add(n * s + s0 + b, l.to_f64());
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

/// [`chunk`]'s arguments, for [`simd`].
struct Chunk<'a, T, H, W, const GRAD: bool, const OUT: bool, const HESS: bool> {
    h: &'a H,
    w: W,
    x: &'a [T],
    ys: &'a [i64],
    c: usize,
    s: usize,
    ignore: i64,
    scale: T,
    g: &'a mut [T],
    hs: &'a mut [T],
    pol: HessPolicy<T>,
    out: &'a mut [T],
}

impl<T: Real, H: Head<T>, W: ClassW<T>, const GRAD: bool, const OUT: bool, const HESS: bool>
    SimdCall for Chunk<'_, T, H, W, GRAD, OUT, HESS>
{
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        chunk::<T, H, W, GRAD, OUT, HESS>(
            self.h,
            self.w,
            self.x,
            self.ys,
            self.c,
            self.s,
            self.ignore,
            self.scale,
            self.g,
            self.hs,
            self.pol,
            self.out,
        )
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
    if c >= NO_CLASS as usize {
        return Err(crate::error::Error::BadShape {
            loss,
            arg: "input",
            actual: input.dims().to_vec(),
            expected: "fewer than 2^32 - 1 classes",
        });
    }
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
                simd(Chunk::<T, H, W, false, false, false> {
                    h,
                    w,
                    x: xs,
                    ys: yr,
                    c,
                    s,
                    ignore,
                    scale: T::ONE,
                    g: &mut [],
                    hs: &mut [],
                    pol: HessPolicy::exact(),
                    out: &mut [],
                })
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
                simd(Chunk::<T, H, W, true, false, false> {
                    h,
                    w,
                    x: xs,
                    ys: yr,
                    c,
                    s,
                    ignore,
                    scale,
                    g: gc,
                    hs: &mut [],
                    pol: HessPolicy::exact(),
                    out: &mut [],
                })
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
                simd(Chunk::<T, H, W, false, true, false> {
                    h,
                    w,
                    x: xs,
                    ys: yr,
                    c,
                    s,
                    ignore,
                    scale: T::ONE,
                    g: &mut [],
                    hs: &mut [],
                    pol: HessPolicy::exact(),
                    out: oc,
                })
            },
            Partial::combine,
        ),
        Mode::Hess(g, hs, scale, pol) => rows_fold_mut2(
            g,
            hs,
            work,
            lay.n,
            work,
            Partial::ZERO,
            |r, gc, hc| {
                let (xs, yr) = (
                    &x[r.start * work..r.end * work],
                    &ys[r.start * s..r.end * s],
                );
                simd(Chunk::<T, H, W, true, false, true> {
                    h,
                    w,
                    x: xs,
                    ys: yr,
                    c,
                    s,
                    ignore,
                    scale,
                    g: gc,
                    hs: hc,
                    pol,
                    out: &mut [],
                })
            },
            Partial::combine,
        ),
    };
    if !p.ok {
        return Err(bad_logit(loss, input, lay, |i| ys.get(i) == Some(&ignore)));
    }
    Ok(p.sum)
}

/// Copies a block of up to `B` rows of `c` logits (`xb`, row-major) into `xt` as `c` columns
/// of `B` slots each (`xt[k·B + b]` = row b's logit k), so the sweeps run across rows.
#[inline(always)]
fn transpose_block<T: Copy>(xb: &[T], c: usize, xt: &mut [T]) {
    for k in 0..c {
        let col = &mut xt[k * B..k * B + B];
        for (slot, xr) in col.iter_mut().zip(xb.chunks_exact(c)) {
            *slot = xr[k];
        }
    }
}
