//! The value, gradient and diagonal Hessian of [`CrossEntropy`] with probability targets, in
//! one pass over each row of logits. (With class-index targets, [`CrossEntropy`] and
//! [`SoftmaxFocal`] compute theirs in the vectorised softmax kernel, `softmax.rs`.)
//!
//! [`CrossEntropy`]: crate::CrossEntropy
//! [`SoftmaxFocal`]: crate::SoftmaxFocal

use crate::error::{Error, Result};
use crate::numerics::Lanes;
use crate::real::Real;
use crate::tensor::Tensor;

use super::multiclass::{bad_logit, Layout};
use super::softmax::HessPolicy;

/// XGBoost's floor of the softmax hessian: `fmax(2p(1 − p)·w, 1e-16)` in
/// `src/objective/multiclass_obj.cu`.
pub(crate) const XGBOOST_SOFTMAX_FLOOR: f64 = 1e-16;

/// The softmax of one row of logits, with what the stable forms need.
pub(crate) struct Soft<'a, T> {
    /// `e_k = exp(x_k − m)`, `m` the row's maximum.
    pub(crate) e: &'a [T],
    /// The logits shifted by the maximum, `x_k − m`.
    pub(crate) d: &'a [T],
    /// `Z = Σ e_k`.
    pub(crate) z: T,
    /// `ln Z`, as `ln_1p` of the sum without the maximum's 1.
    pub(crate) ln_z: T,
    /// The index of the (first) maximum.
    pub(crate) j: usize,
    /// `Σ_{k ≠ j} e_k`: `1 − p_j = rest/Z` without cancellation.
    pub(crate) rest: T,
}

impl<T: Real> Soft<'_, T> {
    /// `p_k`.
    #[inline]
    pub(crate) fn p(&self, k: usize) -> T {
        self.e[k] / self.z
    }

    /// `1 − p_k`: from the other classes for the maximum (where the subtraction would cancel),
    /// `1 − p_k` elsewhere (there `p_k ≤ ½`).
    #[inline]
    pub(crate) fn q(&self, k: usize) -> T {
        if k == self.j {
            self.rest / self.z
        } else {
            T::ONE - self.p(k)
        }
    }

    /// `−ln p_k = ln Z − (x_k − m)`.
    #[inline]
    pub(crate) fn nll(&self, k: usize) -> T {
        self.ln_z - self.d[k]
    }
}

/// The per-row work of one loss: given the row index (`n·S + position`) and its softmax,
/// writes `∂ℓ/∂x_k` into `g` and the Hessian diagonal into `h` (both unscaled) and returns
/// the row's loss, or `None` for an ignored row (zeros written by the driver).
pub(crate) trait RowKernel<T: Real> {
    fn row(&mut self, r: usize, sm: &Soft<'_, T>, g: &mut [T], h: &mut [T]) -> Result<Option<T>>;
}

/// Runs `k` over every row of `[N, C, S]` `input`, writing `scale·g` and `scale·h` into the
/// strided `grad` and `hess`, and returns `Σ ℓ` (f64, in eight lanes by row).
pub(crate) fn run<T: Real, K: RowKernel<T>>(
    loss: &'static str,
    input: &Tensor<'_, T>,
    lay: &Layout,
    scale: T,
    grad: &mut [T],
    hess: &mut [T],
    k: &mut K,
) -> Result<f64> {
    let x = input.data();
    let (c, s) = (lay.c, lay.s);
    let (mut xr, mut e, mut d, mut g, mut h) = (
        vec![T::ZERO; c],
        vec![T::ZERO; c],
        vec![T::ZERO; c],
        vec![T::ZERO; c],
        vec![T::ZERO; c],
    );
    let mut lanes = Lanes::default();
    for n in 0..lay.n {
        for p in 0..s {
            let r = n * s + p;
            for (i, v) in xr.iter_mut().enumerate() {
                *v = x[(n * c + i) * s + p];
            }
            // The maximum, NaN skipped (it reaches every output through the exponentials).
            let (mut m, mut j) = (-T::INFINITY, 0);
            for (i, &v) in xr.iter().enumerate() {
                if v > m {
                    m = v;
                    j = i;
                }
            }
            let sm = if m == T::INFINITY || m == -T::INFINITY {
                None
            } else {
                let mut rest = T::ZERO;
                for i in 0..c {
                    d[i] = xr[i] - m;
                    e[i] = d[i].exp();
                    if i != j {
                        rest += e[i];
                    }
                }
                Some(Soft {
                    e: &e,
                    d: &d,
                    z: T::ONE + rest,
                    ln_z: rest.ln_1p(),
                    j,
                    rest,
                })
            };
            let v = match sm {
                Some(sm) => k.row(r, &sm, &mut g, &mut h)?,
                None => {
                    // A row of −∞ only or with +∞: an error unless the row is ignored.
                    let (mut gz, mut hz) = (vec![T::ZERO; c], vec![T::ZERO; c]);
                    let fake = Soft {
                        e: &e,
                        d: &d,
                        z: T::ONE,
                        ln_z: T::ZERO,
                        j: 0,
                        rest: T::ZERO,
                    };
                    if k.row(r, &fake, &mut gz, &mut hz)?.is_some() {
                        return Err(bad_logit(loss, input, lay, |q| q != r));
                    }
                    None
                }
            };
            match v {
                Some(v) => {
                    lanes.add(r, v.to_f64());
                    for i in 0..c {
                        grad[(n * c + i) * s + p] = g[i] * scale;
                        hess[(n * c + i) * s + p] = h[i] * scale;
                    }
                }
                None => {
                    for i in 0..c {
                        grad[(n * c + i) * s + p] = T::ZERO;
                        hess[(n * c + i) * s + p] = T::ZERO;
                    }
                }
            }
        }
    }
    Ok(lanes.total())
}

/// Cross-entropy with probability targets: `a_k = w_k((1 − ε)t_k + ε/C)`.
pub(crate) struct CeProb<'a, T> {
    /// `[N, C, S]`, as `input`.
    pub(crate) t: &'a [T],
    pub(crate) c: usize,
    pub(crate) s: usize,
    pub(crate) weight: Option<&'a [T]>,
    pub(crate) eps: f64,
    pub(crate) pol: HessPolicy<T>,
}

impl<T: Real> RowKernel<T> for CeProb<'_, T> {
    fn row(&mut self, r: usize, sm: &Soft<'_, T>, g: &mut [T], h: &mut [T]) -> Result<Option<T>> {
        let (c, s) = (self.c, self.s);
        let (n, p) = (r / s, r % s);
        let one_m = T::from_f64(1.0 - self.eps);
        let eps_c = T::from_f64(self.eps / c as f64);
        let a = |k: usize| {
            let t = self.t[(n * c + k) * s + p];
            self.weight.map_or(T::ONE, |w| w[k]) * (one_m * t + eps_c)
        };
        let total: T = (0..c).map(a).sum();
        let mut v = T::ZERO;
        for k in 0..c {
            let a_k = a(k);
            if a_k != T::ZERO {
                v += a_k * sm.nll(k);
            }
            let (pk, qk) = (sm.p(k), sm.q(k));
            g[k] = total * pk - a_k;
            let v = total * pk * qk;
            h[k] = self.pol.apply(v, v);
        }
        Ok(Some(v))
    }
}

/// Validates probability targets: each in [0, 1] (NaN passes: it propagates).
pub(crate) fn check_probabilities<T: Real>(
    loss: &'static str,
    target: &Tensor<'_, T>,
) -> Result<()> {
    let t = target.data();
    if let Some(i) = t.iter().position(|&v| v < T::ZERO || v > T::ONE) {
        return Err(Error::InvalidValue {
            loss,
            arg: "target",
            index: target.shape().unravel(i),
            value: t[i].to_f64(),
            expected: "a probability in [0, 1]",
        });
    }
    Ok(())
}
