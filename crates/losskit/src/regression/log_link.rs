//! The log-link losses of gradient boosting: gamma deviance and Tweedie, on the raw score
//! `s` with the predicted mean `μ = eˢ`, exactly as XGBoost's `reg:gamma` and `reg:tweedie`
//! (and LightGBM's `gamma` and `tweedie`) define them.

use super::pointwise::{self, pointwise_api, pointwise_hess_api, Curv, Kernel};
use crate::error::{Error, Result};
use crate::hessian::Curvature;
use crate::real::Real;
use crate::reduction::Reduction;
use crate::Pointwise;

/// Gamma deviance on the log-link raw score: the loss of gamma regression (positive,
/// right-skewed targets such as claim sizes or durations), XGBoost's `reg:gamma`.
///
/// # Definition
/// With the raw score $x$ (the log of the predicted mean $\mu = e^{x}$) and a target $y > 0$,
/// half the gamma unit deviance:
/// $$\ell_i = \frac{y_i}{\mu_i} - \ln\frac{y_i}{\mu_i} - 1 = y_i e^{-x_i} + x_i - \ln y_i - 1 \;\ge 0,$$
/// 0 exactly at $\mu = y$. It is XGBoost's `gamma-nloglik` metric (dispersion 1) minus
/// $\ln y + 1$, and half its `gamma-deviance` metric and scikit-learn's
/// `mean_gamma_deviance` (both $2(\ln(\mu/y) + y/\mu - 1)$).
///
/// # Gradient and Hessian
/// $\partial\ell/\partial x = 1 - y e^{-x}$ and $\partial^2\ell/\partial x^2 = y e^{-x}$: exactly
/// XGBoost's `reg:gamma` (`GammaDeviance` in `src/objective/regression_loss.h`, 3.4.1:
/// `1 - y/μ` and `y/μ`) and LightGBM's `gamma` (`regression_objective.hpp`). Every
/// [`Curvature`] gives this (positive) Hessian.
///
/// # Numerical stability
/// With $u = \ln y - x$, $\ell = e^u - u - 1$, which near the optimum is a difference of
/// nearly equal terms: for $|u| \le 1$ it is its Taylor series $\sum_{k \ge 2} u^k/k!$ (full
/// relative accuracy at tiny residuals), beyond $y e^{-x} - u - 1$. The gradient and the
/// Hessian use $y e^{-x}$ from the exact score (not $e^u$, whose rounding in $u$ the
/// exponential would amplify by $|u|$).
///
/// # Parameters
/// None.
///
/// # Errors
/// Evaluation rejects a target ≤ 0 ([`Error::InvalidValue`]: gamma regression takes positive
/// targets, as XGBoost's "label must be positive"); see [`GammaDeviance::value`].
///
/// # Example
/// One Newton step from the score 0 moves toward $\ln y$:
/// ```
/// use losskit::{Curvature, GammaDeviance, Pointwise, Reduction};
/// let (mut g, mut h) = ([0.0f64], [0.0f64]);
/// let y = [4.0f64];
/// let v = GammaDeviance.value_grad_hess(&Pointwise::new(&[0.0], &y), Reduction::Sum, Curvature::Exact, &mut g, &mut h)?;
/// assert!((v - (4.0 - 4f64.ln() - 1.0)).abs() < 1e-15);
/// assert_eq!((g[0], h[0]), (-3.0, 4.0));
/// let step = -g[0] / h[0]; // 0.75, toward ln 4 ≈ 1.386
/// assert!(step > 0.0 && step < 4f64.ln());
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// P. McCullagh and J. A. Nelder, *Generalized Linear Models*, 1989 (the gamma deviance).
/// XGBoost `reg:gamma` (`src/objective/regression_loss.h`) and its `gamma-deviance` and
/// `gamma-nloglik` metrics (`src/metric/elementwise_metric.cu`); LightGBM `gamma`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GammaDeviance;

/// `1/k!` for k = 2, 3, …, 19: the series of `eᵘ − u − 1`.
const EXP_TAIL: [f64; 18] = [
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
    1.0 / 1307674368000.0,
    1.0 / 20922789888000.0,
    1.0 / 355687428096000.0,
    1.0 / 6402373705728000.0,
    1.0 / 121645100408832000.0,
];

/// `eᵘ − u − 1` without cancellation.
#[inline(always)]
fn exp_minus_linear<T: Real>(u: T) -> T {
    // Both forms computed and one selected (no branch: the element loop vectorises).
    // Terms up to u¹⁹/19!: the next is below 2⁻⁵³ of u²/2 for |u| ≤ 1.
    let terms = if core::mem::size_of::<T>() == 4 {
        9
    } else {
        18
    };
    let mut acc = T::ZERO;
    for &c in EXP_TAIL[..terms].iter().rev() {
        acc = acc * u + T::from_f64(c);
    }
    let series = acc * u * u;
    let direct = u.exp_m1_fast() - u;
    if u.abs() <= T::ONE {
        series
    } else {
        direct
    }
}

impl<T: Real> Kernel<T> for GammaDeviance {
    const NAME: &'static str = "gamma_deviance";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad_hess(x, t, Curvature::Exact).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let (v, g, _) = self.loss_grad_hess(x, t, Curvature::Exact);
        (v, g)
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        // NaN passes (it propagates); only values known to be out of the domain fail.
        t > T::ZERO || t.is_nan()
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        (
            "target",
            t,
            "a target > 0 (gamma regression takes positive targets)",
        )
    }
}
pointwise_api!(GammaDeviance);

impl<T: Real> Curv<T> for GammaDeviance {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        // `ln_fast`/`exp_fast` (within 1–2 ulp of `ln`/`exp`) and a select: the element
        // loop vectorises (a libm call per element kept it scalar, 3–6 ns per element).
        let u = t.ln_fast() - x;
        // y·e^{−x} from the exact score, not e^u: u carries the rounding of ln y − x, which
        // e^u would amplify by |u| (150 ε at x = −600).
        let r = t * (-x).exp_fast();
        let near = exp_minus_linear(u);
        let far = r - u - T::ONE;
        let v = if u.abs() <= T::ONE { near } else { far };
        (v, T::ONE - r, r)
    }
}
pointwise_hess_api!(GammaDeviance);

/// Tweedie negative log-likelihood on the log-link raw score, power `p` in (1, 2): compound
/// Poisson–gamma targets (many exact zeros and a skewed positive part: insurance claims,
/// rainfall), XGBoost's `reg:tweedie`.
///
/// # Definition
/// With the raw score $x$ (the log of the predicted mean $\mu = e^{x}$), a target $y \ge 0$
/// and the variance power $\rho$:
/// $$\ell_i = -\frac{y_i\, e^{(1-\rho)x_i}}{1-\rho} + \frac{e^{(2-\rho)x_i}}{2-\rho},$$
/// XGBoost's `tweedie-nloglik@ρ` metric (`src/metric/elementwise_metric.cu`), the Tweedie
/// negative log-likelihood without the terms in $y$ alone. It is not 0 at $\mu = y$ and can be
/// negative; the deviance is $2(\ell(x) - \ell(\ln y))$.
///
/// # Gradient and Hessian
/// $$\frac{\partial\ell}{\partial x} = -y e^{(1-\rho)x} + e^{(2-\rho)x},\qquad
/// \frac{\partial^2\ell}{\partial x^2} = -(1-\rho)\,y e^{(1-\rho)x} + (2-\rho)\,e^{(2-\rho)x} > 0,$$
/// exactly XGBoost's `reg:tweedie` (`src/objective/regression_obj.cu`, 3.4.1) and LightGBM's
/// `tweedie` (`regression_objective.hpp`). Every [`Curvature`] gives this Hessian.
///
/// # Numerical stability
/// Two exponentials of the score; finite wherever $e^{(2-\rho)x}$ is ($x$ up to about
/// $88/(2-\rho)$ in f32). Both Hessian terms are non-negative for $y \ge 0$: no cancellation.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `power` | 1.5 | (1, 2) |
///
/// The default is XGBoost's and LightGBM's `tweedie_variance_power`. $\rho \to 1$ is Poisson,
/// $\rho \to 2$ gamma; both ends are excluded (the formula divides by $1 - \rho$ and $2 - \rho$).
///
/// # Errors
/// [`Tweedie::new`] rejects a power outside (1, 2); evaluation rejects a negative target; see
/// [`Tweedie::value`].
///
/// # Example
/// ```
/// use losskit::{Curvature, Pointwise, Reduction, Tweedie};
/// let loss = Tweedie::new(1.5)?;
/// let (mut g, mut h) = ([0.0f64; 2], [0.0f64; 2]);
/// let inputs = Pointwise::new(&[0.0, 1.0], &[0.0, 2.0]);
/// loss.value_grad_hess(&inputs, Reduction::Sum, Curvature::Exact, &mut g, &mut h)?;
/// assert_eq!((g[0], h[0]), (1.0, 0.5)); // y = 0: e^{0.5·0} and 0.5·e^{0}
/// assert!(h[1] > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// B. Jørgensen, *The Theory of Dispersion Models*, 1997; Y. Yang, W. Qian and H. Zou,
/// "Insurance Premium Prediction via Gradient Tree-Boosted Tweedie Compound Poisson Models",
/// 2018. XGBoost `reg:tweedie` and `tweedie-nloglik`; LightGBM `tweedie`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tweedie {
    power: f64,
}

impl Tweedie {
    /// Tweedie loss with variance power `power`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `1 < power < 2`.
    pub fn new(power: f64) -> Result<Self> {
        if !(power > 1.0 && power < 2.0) {
            return Err(Error::InvalidParam {
                loss: "tweedie",
                param: "power",
                value: power,
                expected: "in (1, 2)",
            });
        }
        Ok(Tweedie { power })
    }

    /// The variance power.
    pub fn power(&self) -> f64 {
        self.power
    }
}

/// `power = 1.5`, XGBoost's and LightGBM's default `tweedie_variance_power`.
impl Default for Tweedie {
    fn default() -> Self {
        Tweedie { power: 1.5 }
    }
}

impl<T: Real> Kernel<T> for Tweedie {
    const NAME: &'static str = "tweedie";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad_hess(x, t, Curvature::Exact).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let (v, g, _) = self.loss_grad_hess(x, t, Curvature::Exact);
        (v, g)
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        t >= T::ZERO || t.is_nan()
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        (
            "target",
            t,
            "a target >= 0 (Tweedie regression takes non-negative targets)",
        )
    }
}
pointwise_api!(Tweedie);

impl<T: Real> Curv<T> for Tweedie {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        let (a, b) = (T::from_f64(1.0 - self.power), T::from_f64(2.0 - self.power));
        // `exp_fast` (within 2 ulp of `exp`) and a select: the element loop vectorises.
        let (e1, e2) = ((a * x).exp_fast(), (b * x).exp_fast());
        // A zero target drops its term (0·∞ would be NaN at very negative scores).
        let te1 = t * e1;
        let ye1 = if t == T::ZERO { T::ZERO } else { te1 };
        (-ye1 / a + e2 / b, -ye1 + e2, -a * ye1 + b * e2)
    }
}
pointwise_hess_api!(Tweedie);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_is_zero_at_the_mean_and_keeps_accuracy_near_it() {
        for &y in &[0.01f64, 1.0, 7.5, 1e6] {
            let x = y.ln();
            let (v, g, h) = GammaDeviance.loss_grad_hess(x, y, Curvature::Exact);
            assert!(
                v.abs() < 1e-15 && g.abs() < 1e-15 && (h - 1.0).abs() < 1e-15,
                "{y}"
            );
        }
        // u = 1e-5: ℓ = u²/2 + u³/6 + …, where exp(u) − u − 1 loses 6 digits.
        let u = 1e-5f64;
        let v = GammaDeviance.loss(-u, 1.0);
        let exact = u * u / 2.0 + u * u * u / 6.0 + u.powi(4) / 24.0;
        assert!((v - exact).abs() <= 2.0 * f64::EPSILON * exact);
        // Continuity at |u| = 1, where the series hands over to exp_m1.
        let (a, b) = (exp_minus_linear(1.0f64), exp_minus_linear(1.0f64 + 1e-15));
        assert!((a - (1f64.exp() - 2.0)).abs() < 4e-16 && (a - b).abs() < 1e-14);
        let (a32, b32) = (exp_minus_linear(-1.0f32), exp_minus_linear(-1.0f32 - 1e-7));
        assert!((a32 - (-1f32).exp()).abs() < 2e-7 && (a32 - b32).abs() < 1e-6);
    }

    #[test]
    fn tweedie_matches_xgboost_formulas() {
        let rho = 1.3f64;
        for &(x, y) in &[
            (0.0f64, 0.0f64),
            (-2.0, 1.0),
            (1.5, 3.0),
            (-40.0, 0.0),
            (5.0, 0.5),
        ] {
            let (v, g, h) = Tweedie::new(rho)
                .unwrap()
                .loss_grad_hess(x, y, Curvature::Exact);
            let gx = -y * ((1.0 - rho) * x).exp() + ((2.0 - rho) * x).exp();
            let hx =
                -y * (1.0 - rho) * ((1.0 - rho) * x).exp() + (2.0 - rho) * ((2.0 - rho) * x).exp();
            let p = x.exp();
            let vx = -y * ((1.0 - rho) * p.ln()).exp() / (1.0 - rho)
                + ((2.0 - rho) * p.ln()).exp() / (2.0 - rho);
            assert!((g - gx).abs() <= 1e-14 * gx.abs().max(1.0), "{x} {y}");
            assert!(
                (h - hx).abs() <= 1e-14 * hx.abs().max(1.0) && h > 0.0,
                "{x} {y}"
            );
            assert!((v - vx).abs() <= 1e-13 * vx.abs().max(1.0), "{x} {y}");
        }
        for bad in [1.0, 2.0, 0.5, f64::NAN] {
            assert!(Tweedie::new(bad).is_err());
        }
    }
}
