//! The value, gradient and diagonal Hessian of the softmax losses ([`CrossEntropy`] and
//! [`SoftmaxFocal`]) in one pass over each row of logits: what gradient boosting consumes,
//! one score per class.
//!
//! [`CrossEntropy`]: crate::CrossEntropy
//! [`SoftmaxFocal`]: crate::SoftmaxFocal

use crate::error::{Error, Result};
use crate::hessian::Curvature;
use crate::numerics::Lanes;
use crate::real::Real;
use crate::tensor::Tensor;

use super::multiclass::{bad_logit, Layout};

/// XGBoost's floor of the softmax hessian: `fmax(2p(1 − p)·w, 1e-16)` in
/// `src/objective/multiclass_obj.cu`.
const XGBOOST_SOFTMAX_FLOOR: f64 = 1e-16;

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

    /// `Σ_{c ≠ k} e_c / Z` computed from the other classes directly: `1 − p_k` with full
    /// relative accuracy for any `k`.
    pub(crate) fn others(&self, k: usize) -> T {
        let s: T = self
            .e
            .iter()
            .enumerate()
            .filter(|&(c, _)| c != k)
            .map(|(_, &v)| v)
            .sum();
        s / self.z
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

/// The policy applied to `A·p(1 − p)`, the exact cross-entropy diagonal of a row with total
/// target weight `A` over `C` classes.
#[inline]
fn ce_policy<T: Real>(a_pq: T, classes: usize, c: Curvature) -> T {
    match c {
        Curvature::Exact => a_pq,
        // `fmax(2p(1 − p)·w, 1e-16)`: XGBoost's multi:softprob (src/objective/multiclass_obj.cu).
        Curvature::XGBoost => {
            let v = T::TWO * a_pq;
            if v.is_nan() {
                v
            } else {
                v.max(T::from_f64(XGBOOST_SOFTMAX_FLOOR))
            }
        }
        // `factor_·p(1 − p)`, factor_ = K/(K − 1): LightGBM's multiclass
        // (src/objective/multiclass_objective.hpp).
        Curvature::LightGBM => {
            if classes > 1 {
                T::from_f64(classes as f64 / (classes as f64 - 1.0)) * a_pq
            } else {
                a_pq
            }
        }
    }
}

/// Cross-entropy with class-index targets: `a_k = (1 − ε)w_y[k = y] + (ε/C)w_k`.
pub(crate) struct CeIndex<'a, T> {
    pub(crate) ys: &'a [i64],
    pub(crate) ignore: i64,
    pub(crate) weight: Option<&'a [T]>,
    pub(crate) eps: f64,
    /// `Σ_c w_c` (`C` without a weight).
    pub(crate) w_total: f64,
    pub(crate) curvature: Curvature,
}

impl<T: Real> RowKernel<T> for CeIndex<'_, T> {
    fn row(&mut self, r: usize, sm: &Soft<'_, T>, g: &mut [T], h: &mut [T]) -> Result<Option<T>> {
        let y = self.ys[r];
        if y == self.ignore {
            return Ok(None);
        }
        let y = y as usize; // checked by `scan_targets`
        let c = g.len();
        let w = |k: usize| self.weight.map_or(T::ONE, |w| w[k]);
        let one_m = T::from_f64(1.0 - self.eps);
        let eps_c = T::from_f64(self.eps / c as f64);
        let a_y_hard = one_m * w(y);
        let total = a_y_hard + eps_c * T::from_f64(self.w_total);
        let mut v = T::ZERO;
        for k in 0..c {
            let a_k = eps_c * w(k) + if k == y { a_y_hard } else { T::ZERO };
            if a_k != T::ZERO {
                v += a_k * sm.nll(k);
            }
            let (p, q) = (sm.p(k), sm.q(k));
            g[k] = if k == y {
                // A·p_y − a_y = (A − a_y) − A·(1 − p_y), with 1 − p_y from the other classes.
                (total - a_k) - total * sm.others(y)
            } else {
                total * p - a_k
            };
            h[k] = ce_policy(total * p * q, c, self.curvature);
        }
        Ok(Some(v))
    }
}

/// Cross-entropy with probability targets: `a_k = w_k((1 − ε)t_k + ε/C)`.
pub(crate) struct CeProb<'a, T> {
    /// `[N, C, S]`, as `input`.
    pub(crate) t: &'a [T],
    pub(crate) c: usize,
    pub(crate) s: usize,
    pub(crate) weight: Option<&'a [T]>,
    pub(crate) eps: f64,
    pub(crate) curvature: Curvature,
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
            h[k] = ce_policy(total * pk * qk, c, self.curvature);
        }
        Ok(Some(v))
    }
}

/// The softmax focal loss with class-index targets, `ℓ = −α_t(1 − p_t)^γ ln p_t`.
///
/// With `u = p_t`, `q = 1 − p_t`, `L = −ln u`, `ρ = L/q` and `G = α_t q^γ(1 + γuρ)`, the
/// gradient is `G(p_k − [k = t])` and the Hessian diagonal
/// `h_k = G·p_k(1 − p_k) − α_t·γ·u·q^(γ+1)·r_k²·(L − 2 − (γ − 1)uρ)`, `r_k = (p_k − [k = t])/q`
/// (bounded by 1): no power of `q` below `γ`, so it is finite at saturated logits for any γ.
pub(crate) struct Focal<'a, T> {
    pub(crate) ys: &'a [i64],
    pub(crate) ignore: i64,
    pub(crate) alpha: Option<&'a [T]>,
    pub(crate) gamma: f64,
    pub(crate) curvature: Curvature,
}

impl<T: Real> RowKernel<T> for Focal<'_, T> {
    fn row(&mut self, r: usize, sm: &Soft<'_, T>, g: &mut [T], h: &mut [T]) -> Result<Option<T>> {
        let y = self.ys[r];
        if y == self.ignore {
            return Ok(None);
        }
        let t = y as usize;
        let c = g.len();
        let alpha = self.alpha.map_or(T::ONE, |a| a[t]);
        let gamma = T::from_f64(self.gamma);
        let u = sm.p(t);
        let q = sm.others(t);
        let l = sm.nll(t);
        let qg = if self.gamma == 0.0 {
            T::ONE
        } else {
            q.powf(gamma)
        };
        let rho = if q > T::ZERO { l / q } else { T::ONE };
        // u·ρ → 0 where p_t underflows (ρ may be +∞ there: a −∞ target logit).
        let u_rho = if u == T::ZERO { T::ZERO } else { u * rho };
        let big_g = alpha * qg * (T::ONE + gamma * u_rho);
        let second = alpha * gamma * u * qg * q * (l - T::TWO - (gamma - T::ONE) * u_rho);
        for k in 0..c {
            let (pk, qk, r2) = if k == t {
                (u, q, T::ONE)
            } else {
                let pk = sm.p(k);
                let rk = if q > T::ZERO { pk / q } else { T::ZERO };
                (pk, sm.q(k), rk * rk)
            };
            g[k] = if k == t { -big_g * q } else { big_g * pk };
            let gn = big_g * pk * qk;
            let exact = if r2 == T::ZERO || second == T::ZERO {
                gn
            } else {
                gn - second * r2
            };
            h[k] = match self.curvature {
                Curvature::Exact => exact,
                // Neither library has a softmax focal objective: the larger of the exact value
                // and G·p_k(1 − p_k), the cross-entropy curvature with the focal factor held
                // fixed (positive; the exact value at γ = 0).
                Curvature::XGBoost | Curvature::LightGBM => {
                    if exact.is_nan() || exact > gn {
                        exact
                    } else {
                        gn
                    }
                }
            };
        }
        Ok(Some(alpha * qg * l))
    }
}

/// Validates probability targets: each in [0, 1] (NaN passes: it propagates).
pub(crate) fn check_probabilities<T: Real>(loss: &'static str, target: &Tensor<'_, T>) -> Result<()> {
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
