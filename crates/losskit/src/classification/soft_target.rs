//! Cross-entropy against probability targets (soft labels): the same three sweeps as the
//! index kernels of `softmax.rs`, with the target read alongside the logits.

use crate::error::{Error, Result};
use crate::numerics::{rows_fold, rows_fold_mut, simd, Lanes, SimdCall};
use crate::real::Real;
use crate::tensor::Tensor;

use super::multiclass::{bad_logit, Layout};
use super::softmax::{non_finite_row, row_max, vmax, ClassW, Mode, B, L};

const PROB_DOMAIN: &str = "a probability in [0, 1]";

/// `t' = (1 − ε)t + ε/C`, and whether `t` lies in [0, 1] (NaN passes: it propagates).
#[derive(Clone, Copy)]
struct Smooth<T> {
    keep: T,
    add: T,
}

impl<T: Real> Smooth<T> {
    #[inline(always)]
    fn apply(self, t: T) -> T {
        t * self.keep + self.add
    }
}

#[inline(always)]
fn in_unit<T: Real>(t: T) -> bool {
    !(t < T::ZERO || t > T::ONE)
}

/// One `[N, C]` sample. Returns its loss and whether it was well defined; `bad_target` is
/// cleared on a target outside [0, 1].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row<T: Real, W: ClassW<T>, const GRAD: bool>(
    w: W,
    sm: Smooth<T>,
    x: &[T],
    t: &[T],
    scale: T,
    g: &mut [T],
    targets_ok: &mut bool,
) -> (T, bool) {
    let c = x.len();
    let t = &t[..c];
    let m = row_max(x);
    let mut ok_t = true;
    for &tv in t {
        ok_t &= in_unit(tv);
    }
    *targets_ok &= ok_t;
    if !m.is_finite() {
        let (loss, state) = non_finite_row(x, g, m);
        return (loss, state == super::softmax::RowState::Ok);
    }
    let mut acc = SoftAcc {
        s: [T::ZERO; L],
        a: [T::ZERO; L],
        bs: [T::ZERO; L],
    };
    let full = c - c % L;
    if GRAD {
        let chunks = x[..full].chunks_exact(L).zip(t[..full].chunks_exact(L));
        for (k, ((xc, tc), gc)) in chunks.zip(g[..full].chunks_exact_mut(L)).enumerate() {
            let es = soft_step(w, sm, m, k * L, xc, tc, &mut acc);
            gc.copy_from_slice(&es);
        }
    } else {
        for (k, (xc, tc)) in x[..full]
            .chunks_exact(L)
            .zip(t[..full].chunks_exact(L))
            .enumerate()
        {
            soft_step(w, sm, m, k * L, xc, tc, &mut acc);
        }
    }
    let (mut s_tail, mut a_tail, mut bs_tail) = (T::ZERO, T::ZERO, T::ZERO);
    for k in full..c {
        let d = x[k] - m;
        let e = d.exp_fast();
        if GRAD {
            if let Some(slot) = g.get_mut(k) {
                *slot = e;
            }
        }
        s_tail += e;
        let wt = w.get(k) * sm.apply(t[k]);
        a_tail += wt;
        bs_tail += if wt == T::ZERO { T::ZERO } else { wt * d };
    }
    let SoftAcc { s, a, bs } = acc;
    let (s, a, bs) = (sum(s) + s_tail, sum(a) + a_tail, sum(bs) + bs_tail);
    let loss = a * s.ln_fast() - bs;
    if GRAD {
        let k1 = scale * a / s;
        for (k, gv) in g.iter_mut().enumerate().take(c) {
            *gv = *gv * k1 - scale * w.get(k) * sm.apply(t[k]);
        }
    }
    (loss, true)
}

/// The lane sums of [`row`]: `Σ e`, `Σ w·t'`, `Σ w·t'·(x − m)`.
struct SoftAcc<T> {
    s: [T; L],
    a: [T; L],
    bs: [T; L],
}

/// One `L`-chunk of [`row`]'s sweep from class `base`; returns the exponentials.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn soft_step<T: Real, W: ClassW<T>>(
    w: W,
    sm: Smooth<T>,
    m: T,
    base: usize,
    xc: &[T],
    tc: &[T],
    acc: &mut SoftAcc<T>,
) -> [T; L] {
    let (xc, tc) = (&xc[..L], &tc[..L]);
    let ws = if W::ONES { [T::ONE; L] } else { w.lanes(base) };
    let mut es = [T::ZERO; L];
    for l in 0..L {
        let d = xc[l] - m;
        let e = d.exp_fast();
        es[l] = e;
        acc.s[l] += e;
        let wt = ws[l] * sm.apply(tc[l]);
        acc.a[l] += wt;
        // 0·ln 0 = 0: a class without target mass adds nothing, even at p = 0.
        acc.bs[l] += if wt == T::ZERO { T::ZERO } else { wt * d };
    }
    es
}

#[inline(always)]
fn sum<T: Real>(v: [T; L]) -> T {
    // A left fold (see `softmax::row_max`).
    v.iter().fold(T::ZERO, |a, &x| a + x)
}

/// A block of `bl ≤ B` positions of one `[N, C, S]` sample (class `k` of position `b` at
/// `k·stride + b` in `x`, `t` and `g`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn cols<T: Real, W: ClassW<T>, const GRAD: bool>(
    w: W,
    sm: Smooth<T>,
    x: &[T],
    t: &[T],
    stride: usize,
    c: usize,
    bl: usize,
    scale: T,
    g: &mut [T],
    losses: &mut [T; B],
    targets_ok: &mut bool,
) -> bool {
    let mut m = [-T::INFINITY; B];
    let m = &mut m[..bl];
    let mut ok_t = true;
    for k in 0..c {
        let (xs, ts) = (&x[k * stride..][..bl], &t[k * stride..][..bl]);
        for b in 0..bl {
            m[b] = vmax(m[b], xs[b]);
            ok_t &= in_unit(ts[b]);
        }
    }
    *targets_ok &= ok_t;
    let (mut s, mut a, mut bs) = ([T::ZERO; B], [T::ZERO; B], [T::ZERO; B]);
    for k in 0..c {
        let (xs, ts) = (&x[k * stride..][..bl], &t[k * stride..][..bl]);
        let wk = w.get(k);
        for b in 0..bl {
            let d = xs[b] - m[b];
            let e = d.exp_fast();
            if GRAD {
                g[k * stride + b] = e;
            }
            s[b] += e;
            let wt = wk * sm.apply(ts[b]);
            a[b] += wt;
            bs[b] += if wt == T::ZERO { T::ZERO } else { wt * d };
        }
    }
    let mut ok = true;
    let mut k1 = [T::ZERO; B];
    for b in 0..bl {
        if m[b].is_finite() {
            losses[b] = a[b] * s[b].ln_fast() - bs[b];
            k1[b] = scale * a[b] / s[b];
        } else if m[b] == -T::INFINITY && (0..c).any(|k| x[k * stride + b].is_nan()) {
            losses[b] = T::from_f64(f64::NAN);
            k1[b] = losses[b];
        } else {
            losses[b] = T::ZERO;
            ok = false;
        }
    }
    if GRAD {
        for k in 0..c {
            let ts = &t[k * stride..][..bl];
            let gs = &mut g[k * stride..][..bl];
            let wk = scale * w.get(k);
            for b in 0..bl {
                gs[b] = gs[b] * k1[b] - wk * sm.apply(ts[b]);
            }
        }
    }
    ok
}

#[derive(Clone, Copy)]
struct Partial {
    sum: f64,
    ok: bool,
    targets_ok: bool,
}

impl Partial {
    const ZERO: Partial = Partial {
        sum: 0.0,
        ok: true,
        targets_ok: true,
    };
    fn combine(a: Partial, b: Partial) -> Partial {
        Partial {
            sum: a.sum + b.sum,
            ok: a.ok && b.ok,
            targets_ok: a.targets_ok && b.targets_ok,
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk<T: Real, W: ClassW<T>, const GRAD: bool, const OUT: bool>(
    w: W,
    sm: Smooth<T>,
    x: &[T],
    t: &[T],
    c: usize,
    s: usize,
    scale: T,
    g: &mut [T],
    out: &mut [T],
) -> Partial {
    let mut lanes = Lanes::default();
    let (mut ok, mut targets_ok) = (true, true);
    if s == 1 {
        for (r, (xr, tr)) in x.chunks_exact(c).zip(t.chunks_exact(c)).enumerate() {
            let gr: &mut [T] = if GRAD { &mut g[r * c..][..c] } else { &mut [] };
            let (loss, fine) = row::<T, W, GRAD>(w, sm, xr, tr, scale, gr, &mut targets_ok);
            ok &= fine;
            if OUT {
                out[r] = loss;
            }
            lanes.add(r, loss.to_f64());
        }
    } else {
        let mut losses = [T::ZERO; B];
        for (n, (xn, tn)) in x.chunks_exact(c * s).zip(t.chunks_exact(c * s)).enumerate() {
            for s0 in (0..s).step_by(B) {
                let bl = B.min(s - s0);
                let gn: &mut [T] = if GRAD {
                    &mut g[n * c * s + s0..(n + 1) * c * s]
                } else {
                    &mut []
                };
                ok &= cols::<T, W, GRAD>(
                    w,
                    sm,
                    &xn[s0..],
                    &tn[s0..],
                    s,
                    c,
                    bl,
                    scale,
                    gn,
                    &mut losses,
                    &mut targets_ok,
                );
                for (b, &l) in losses[..bl].iter().enumerate() {
                    lanes.add(b, l.to_f64());
                }
                if OUT {
                    out[n * s + s0..][..bl].copy_from_slice(&losses[..bl]);
                }
            }
        }
    }
    Partial {
        sum: lanes.total(),
        ok,
        targets_ok,
    }
}

/// [`chunk`]'s arguments, for [`simd`].
struct Chunk<'a, T, W, const GRAD: bool, const OUT: bool> {
    w: W,
    sm: Smooth<T>,
    x: &'a [T],
    t: &'a [T],
    c: usize,
    s: usize,
    scale: T,
    g: &'a mut [T],
    out: &'a mut [T],
}

impl<T: Real, W: ClassW<T>, const GRAD: bool, const OUT: bool> SimdCall
    for Chunk<'_, T, W, GRAD, OUT>
{
    type Output = Partial;
    #[inline(always)]
    fn call(self) -> Partial {
        chunk::<T, W, GRAD, OUT>(
            self.w, self.sm, self.x, self.t, self.c, self.s, self.scale, self.g, self.out,
        )
    }
}

/// Cross-entropy of `input` `[N, C, S]` against probabilities `target` (same shape, checked
/// by the caller) with smoothing `eps`. Returns the f64 sum of the per-element losses.
pub(crate) fn run<T: Real, W: ClassW<T>>(
    loss: &'static str,
    w: W,
    eps: f64,
    input: &Tensor<'_, T>,
    target: &Tensor<'_, T>,
    lay: &Layout,
    mode: Mode<'_, T>,
) -> Result<f64> {
    let (c, s) = (lay.c, lay.s);
    let sm = Smooth {
        keep: T::from_f64(1.0 - eps),
        add: T::from_f64(eps / c as f64),
    };
    let (x, t) = (input.data(), target.data());
    let work = c * s;
    let slices = |r: core::ops::Range<usize>| {
        (
            &x[r.start * work..r.end * work],
            &t[r.start * work..r.end * work],
        )
    };
    let p = match mode {
        Mode::Value => rows_fold(
            lay.n,
            work,
            Partial::ZERO,
            |r| {
                let (xs, ts) = slices(r);
                simd(Chunk::<T, W, false, false> {
                    w,
                    sm,
                    x: xs,
                    t: ts,
                    c,
                    s,
                    scale: T::ONE,
                    g: &mut [],
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
                let (xs, ts) = slices(r);
                simd(Chunk::<T, W, true, false> {
                    w,
                    sm,
                    x: xs,
                    t: ts,
                    c,
                    s,
                    scale,
                    g: gc,
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
                let (xs, ts) = slices(r);
                simd(Chunk::<T, W, false, true> {
                    w,
                    sm,
                    x: xs,
                    t: ts,
                    c,
                    s,
                    scale: T::ONE,
                    g: &mut [],
                    out: oc,
                })
            },
            Partial::combine,
        ),
        // Probability targets take their Hessian from `softmax_hess::run`; no caller asks
        // this kernel for one.
        Mode::Hess(..) => return Err(Error::NoHessian { loss }),
    };
    if !p.targets_ok {
        if let Some(i) = t.iter().position(|&v| !in_unit(v)) {
            return Err(Error::InvalidValue {
                loss,
                arg: "target",
                index: target.shape().unravel(i),
                value: t[i].to_f64(),
                expected: PROB_DOMAIN,
            });
        }
    }
    if !p.ok {
        return Err(bad_logit(loss, input, lay, |_| false));
    }
    Ok(p.sum)
}
