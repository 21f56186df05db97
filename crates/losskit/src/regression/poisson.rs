//! The kernels of [`PoissonNll`]: one type per form (log input or rate, with or without
//! Stirling's term), chosen once per call.
//!
//! `log_input` and `full` are the same for every element, but behind a flag the element loop
//! held the code of every form and the compiler kept it scalar (`poisson_nll`'s
//! `value_grad_hess` took 3–4 ns per element, the log-link losses around it 0.5–1 ns). With
//! the form a type parameter, each loop holds its own form only and vectorises like the
//! other pointwise losses.

use super::pointwise::{self, Curv, Kernel};
use super::{Pointwise, PoissonNll};
use crate::error::Result;
use crate::eval::{Call, Out};
use crate::hessian::{Curvature, HessOut};
use crate::real::Real;
use crate::reduction::Reduction;

/// The Poisson `max_delta_step` both XGBoost (`count:poisson`, `max_delta_step` = 0.7,
/// `src/objective/regression_obj.cu` up to 3.4.1) and LightGBM (`poisson_max_delta_step` =
/// 0.7, `src/objective/regression_objective.hpp`) add to the exponent of the hessian.
const POISSON_MAX_DELTA_STEP: f64 = 0.7;

/// [`PoissonNll`] with `log_input = LOG` and `full = FULL`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Form<const LOG: bool, const FULL: bool> {
    eps: f64,
}

/// Stirling's approximation of `ln(y!)`, `y ln y − y + ½ ln(2πy)`, where `y > 1` (0 elsewhere),
/// as PyTorch's `full=True` adds it. A select over `ln_fast`: the loop stays vectorisable.
#[inline(always)]
fn stirling<T: Real>(t: T) -> T {
    let s = t * t.ln_fast() - t + T::HALF * (T::TWO * T::PI * t).ln_fast();
    if t > T::ONE {
        s
    } else {
        T::ZERO
    }
}

impl<T: Real, const LOG: bool, const FULL: bool> Kernel<T> for Form<LOG, FULL> {
    const NAME: &'static str = "poisson_nll";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        // `exp_fast` and `ln_fast` (within 2 ulp of `exp` and `ln`) and selects rather than
        // branches: a libm call per element would keep the loop scalar.
        let (l, g) = if LOG {
            let ex = x.exp_fast();
            (ex - t * x, ex - t)
        } else {
            let r = x + T::from_f64(self.eps);
            let (l, g) = (x - t * r.ln_fast(), T::ONE - t / r);
            // A zero count contributes x exactly (0·ln 0 would be NaN at x = ε = 0).
            if t == T::ZERO {
                (x, T::ONE)
            } else {
                (l, g)
            }
        };
        if FULL {
            (l + stirling(t), g)
        } else {
            (l, g)
        }
    }
    #[inline(always)]
    fn valid(&self, x: T, t: T) -> bool {
        // NaN passes (it propagates); only values known to be out of the domain fail.
        !(t < T::ZERO || (!LOG && x < T::ZERO))
    }
    fn why_invalid(&self, x: T, t: T) -> (&'static str, T, &'static str) {
        if t < T::ZERO {
            ("target", t, "a count >= 0")
        } else {
            ("input", x, "a rate >= 0 (`log_input` is false)")
        }
    }
}

impl<T: Real, const LOG: bool, const FULL: bool> Curv<T> for Form<LOG, FULL> {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, c: Curvature) -> (T, T, T) {
        let (v, g) = self.loss_grad(x, t);
        let h = if LOG {
            // The exact curvature is eˣ, which the gradient already computed (the compiler
            // merges the two).
            match c {
                Curvature::Exact => x.exp_fast(),
                Curvature::XGBoost | Curvature::LightGBM => {
                    (x + T::from_f64(POISSON_MAX_DELTA_STEP)).exp_fast()
                }
            }
        } else {
            let r = x + T::from_f64(self.eps);
            let h = t / (r * r);
            // A zero count: the loss is x itself.
            if t == T::ZERO {
                x * T::ZERO
            } else {
                h
            }
        };
        (v, g, h)
    }
}

/// `$body` with `$k` bound to the kernel of `$loss`'s form.
macro_rules! with_form {
    ($loss:expr, |$k:ident| $body:expr) => {{
        let eps = $loss.eps_value();
        match ($loss.is_log_input(), $loss.is_full()) {
            (true, false) => {
                let $k = &Form::<true, false> { eps };
                $body
            }
            (true, true) => {
                let $k = &Form::<true, true> { eps };
                $body
            }
            (false, false) => {
                let $k = &Form::<false, false> { eps };
                $body
            }
            (false, true) => {
                let $k = &Form::<false, true> { eps };
                $body
            }
        }
    }};
}

pub(super) fn value<T: Real>(
    loss: &PoissonNll,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
) -> Result<T> {
    with_form!(loss, |k| pointwise::value(k, inputs, reduction))
}

pub(super) fn value_and_grad<T: Real>(
    loss: &PoissonNll,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
    grad: &mut [T],
) -> Result<T> {
    with_form!(loss, |k| pointwise::value_and_grad(
        k, inputs, reduction, grad
    ))
}

pub(super) fn per_element<T: Real>(
    loss: &PoissonNll,
    inputs: &Pointwise<'_, T>,
    out: &mut [T],
) -> Result<()> {
    with_form!(loss, |k| pointwise::per_element(k, inputs, out))
}

pub(super) fn value_grad_hess<T: Real>(
    loss: &PoissonNll,
    inputs: &Pointwise<'_, T>,
    reduction: Reduction,
    c: Curvature,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<T> {
    with_form!(loss, |k| pointwise::value_grad_hess(
        k, inputs, reduction, c, grad, hess
    ))
}

/// The catalogue evaluator.
pub(super) fn evaluate<T: Real>(
    loss: &PoissonNll,
    call: &Call<'_, T>,
    out: &mut Out<T>,
) -> Result<()> {
    with_form!(loss, |k| pointwise::evaluate(k, call, out))
}

/// The catalogue's Hessian evaluator.
pub(super) fn evaluate_hess<T: Real>(
    loss: &PoissonNll,
    call: &Call<'_, T>,
    c: Curvature,
    out: &mut HessOut<'_, T>,
) -> Result<()> {
    with_form!(loss, |k| pointwise::evaluate_hess(k, call, c, out))
}
