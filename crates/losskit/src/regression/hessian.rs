//! The second derivatives of the pointwise regression losses defined in `mod.rs`, under each
//! [`Curvature`] policy (the table and the sources are on [`Curvature`]).

use super::pointwise::{self, pointwise_hess_api, Curv, Kernel};
use super::poisson;
use super::{sign, Huber, LogCosh, Mae, Mse, PoissonNll, Quantile, SmoothL1, L2};
use crate::error::Result;
use crate::hessian::Curvature;
use crate::numerics::log_cosh_tanh;
use crate::real::Real;
use crate::reduction::Reduction;
use crate::Pointwise;

/// `one`, or NaN where `e` is NaN: the constant curvature of the boosting conventions, with
/// NaN propagated like the value and the gradient.
#[inline(always)]
fn constant<T: Real>(e: T, one: T) -> T {
    if e.is_nan() {
        e
    } else {
        one
    }
}

impl<T: Real> Curv<T> for Mse {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        (v, g, constant(x - t, T::TWO))
    }
}
pointwise_hess_api!(Mse);

impl<T: Real> Curv<T> for L2 {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        (v, g, constant(x - t, T::ONE))
    }
}
pointwise_hess_api!(L2);

impl<T: Real> Curv<T> for Mae {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T) {
        let e = x - t;
        let h = match c {
            Curvature::Exact => e * T::ZERO,
            // XGBoost ≤ 3.2 `reg:absoluteerror` and LightGBM `regression_l1`: the weight.
            Curvature::XGBoost | Curvature::LightGBM => constant(e, T::ONE),
        };
        (e.abs(), sign(e), h)
    }
}
pointwise_hess_api!(Mae);

impl<T: Real> Curv<T> for Huber {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        let e = x - t;
        let h = match c {
            // 1 in the quadratic zone |e| ≤ δ (the two branches meet there with slope δ;
            // the one-sided second derivatives are 1 and 0, we take the inner one).
            Curvature::Exact => {
                if e.is_nan() {
                    e
                } else if e.abs() <= T::from_f64(self.delta()) {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
            // LightGBM `huber`: 1; XGBoost has no Huber objective: the same constant.
            Curvature::XGBoost | Curvature::LightGBM => constant(e, T::ONE),
        };
        (v, g, h)
    }
}
pointwise_hess_api!(Huber);

impl<T: Real> Curv<T> for SmoothL1 {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        let e = x - t;
        let beta = self.beta();
        let inner = if beta == 0.0 {
            T::ONE
        } else {
            T::from_f64(1.0 / beta)
        };
        let h = match c {
            Curvature::Exact => {
                if e.is_nan() {
                    e
                } else if e.abs() < T::from_f64(beta) {
                    inner
                } else {
                    T::ZERO
                }
            }
            // The quadratic zone's curvature everywhere (as LightGBM's huber).
            Curvature::XGBoost | Curvature::LightGBM => constant(e, inner),
        };
        (v, g, h)
    }
}
pointwise_hess_api!(SmoothL1);

impl<T: Real> Curv<T> for LogCosh {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        let e = x - t;
        let (v, th) = log_cosh_tanh(e);
        let a = e.abs();
        let ta = th.abs();
        // sech² = 1 − tanh²; from |e| = 1 on, 1 − |tanh e| = 2e^{−2|e|}/(1 + e^{−2|e|}) with no
        // cancellation, so the curvature keeps its relative accuracy far out (it underflows
        // to 0 only past |e| ≈ 355 in f64).
        // Both forms computed and one selected, with the vectorising `exp_fast`: no branch,
        // no libm call, so the element loop vectorises.
        let g2 = (-(a + a)).exp_fast();
        let inner = (T::ONE - ta) * (T::ONE + ta);
        let outer = (T::ONE + ta) * (g2 + g2) / (T::ONE + g2);
        let h = if a < T::ONE { inner } else { outer };
        (v, th, h)
    }
}
pointwise_hess_api!(LogCosh);

impl<T: Real> Curv<T> for Quantile {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        let e = x - t;
        let h = match c {
            Curvature::Exact => e * T::ZERO,
            // XGBoost ≤ 3.2 `reg:quantileerror` and LightGBM `quantile`: the weight.
            Curvature::XGBoost | Curvature::LightGBM => constant(e, T::ONE),
        };
        (v, g, h)
    }
}
pointwise_hess_api!(Quantile);

hess_api!(PoissonNll, Pointwise, poisson);
