//! Pseudo-Huber loss: XGBoost's `reg:pseudohubererror`.

use super::pointwise::{self, pointwise_api, pointwise_hess_api, Curv, Kernel};
use crate::error::{Error, Result};
use crate::hessian::Curvature;
use crate::real::Real;
use crate::reduction::Reduction;
use crate::Pointwise;

/// Pseudo-Huber loss: a smooth Huber, quadratic near zero and asymptotically linear with slope
/// `delta`, twice differentiable everywhere with a positive second derivative.
///
/// # Definition
/// $$\ell_i = \delta^2\Big(\sqrt{1 + (e_i/\delta)^2} - 1\Big),\qquad e_i = x_i - y_i$$
/// the form of XGBoost's `reg:pseudohubererror` (its `huber_slope` is δ) and optax's
/// `pseudo_huber_loss`.
///
/// # Gradient and Hessian
/// With $s = \sqrt{1 + (e/\delta)^2}$: $\partial\ell/\partial x = e/s$ and
/// $\partial^2\ell/\partial x^2 = s^{-3} = \delta^2 / \big((\delta^2 + e^2)\,s\big)$, XGBoost's
/// hessian exactly; every [`Curvature`] gives it.
///
/// # Numerical stability
/// $s - 1$ is never formed by subtraction near 0: $\ell = e^2/(s + 1)$ for $|e| \le \delta$
/// (full relative accuracy at tiny residuals, where the definition gives 0). Beyond, $s$ is
/// $|e/\delta|\sqrt{1 + (\delta/e)^2}$, so $e^2$ never overflows (|e| up to f32::MAX is finite).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `delta` | 1.0 | > 0, finite |
///
/// # Errors
/// [`PseudoHuber::new`] rejects `delta ≤ 0`, NaN and infinities; see also [`PseudoHuber::value`].
///
/// # Example
/// ```
/// use losskit::{Curvature, Pointwise, PseudoHuber, Reduction};
/// let loss = PseudoHuber::new(1.0)?;
/// let inputs = Pointwise::new(&[3.0f64], &[0.0]);
/// let (mut g, mut h) = ([0.0], [0.0]);
/// let v = loss.value_grad_hess(&inputs, Reduction::Sum, Curvature::Exact, &mut g, &mut h)?;
/// let s = 10f64.sqrt();
/// assert!((v - (s - 1.0)).abs() < 1e-15);
/// assert!((g[0] - 3.0 / s).abs() < 1e-15 && (h[0] - 1.0 / (s * s * s)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// P. J. Huber, 1964; R. Hartley and A. Zisserman, *Multiple View Geometry*, 2003 (A6.8).
/// XGBoost `reg:pseudohubererror` (`src/objective/regression_obj.cu`, 3.4.1) and its `mphe`
/// metric; optax `pseudo_huber_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PseudoHuber {
    delta: f64,
}

impl PseudoHuber {
    /// Pseudo-Huber loss with slope `delta`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `delta > 0` and finite.
    pub fn new(delta: f64) -> Result<Self> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "pseudo_huber",
                param: "delta",
                value: delta,
                expected: "> 0 and finite",
            });
        }
        Ok(PseudoHuber { delta })
    }

    /// The slope of the linear tails.
    pub fn delta(&self) -> f64 {
        self.delta
    }
}

/// `delta = 1`, XGBoost's default `huber_slope`.
impl Default for PseudoHuber {
    fn default() -> Self {
        PseudoHuber { delta: 1.0 }
    }
}

impl PseudoHuber {
    /// `(ℓ, ℓ', ℓ'')` of a residual.
    #[inline(always)]
    fn parts<T: Real>(&self, e: T) -> (T, T, T) {
        let d = T::from_f64(self.delta);
        let a = e.abs();
        if a <= d {
            let z = e / d;
            let s = (T::ONE + z * z).sqrt();
            (e * e / (s + T::ONE), e / s, T::ONE / (s * s * s))
        } else {
            // s = |z|·√(1 + 1/z²): no e² to overflow. NaN lands here and stays NaN.
            let r = d / a;
            let k = (T::ONE + r * r).sqrt();
            let s = (a / d) * k;
            let g = if e < T::ZERO { -d / k } else { d / k };
            let g = if e.is_nan() { e } else { g };
            (d * d * (s - T::ONE), g, T::ONE / (s * s * s))
        }
    }
}

impl<T: Real> Kernel<T> for PseudoHuber {
    const NAME: &'static str = "pseudo_huber";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.parts(x - t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let (v, g, _) = self.parts(x - t);
        (v, g)
    }
}
pointwise_api!(PseudoHuber);

impl<T: Real> Curv<T> for PseudoHuber {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, _c: Curvature) -> (T, T, T) {
        self.parts(x - t)
    }
}
pointwise_hess_api!(PseudoHuber);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_xgboost_formulas_and_stays_finite_far_out() {
        for &e in &[-30.0f64, -2.0, -0.5, 0.0, 1e-9, 0.3, 1.0, 4.0, 1e3] {
            let (v, g, h) = PseudoHuber::new(1.5).unwrap().parts(e);
            let d: f64 = 1.5;
            let s = (1.0 + (e / d) * (e / d)).sqrt();
            // XGBoost: grad = z / sqrt(1 + z²/slope²), hess = slope² / ((slope² + z²)·sqrt(...)).
            let (gx, hx) = (e / s, d * d / ((d * d + e * e) * s));
            assert!((g - gx).abs() <= 4.0 * f64::EPSILON * gx.abs().max(1e-300), "{e}");
            assert!((h - hx).abs() <= 8.0 * f64::EPSILON * hx, "{e}");
            let vx = d * d * (s - 1.0);
            assert!((v - vx).abs() <= 1e-12 * vx.max(1e-300) || e.abs() < 1e-6, "{e}");
        }
        assert_eq!(PseudoHuber::default().parts(1e-9f64).0, 0.5e-18);
        let (v, g, h) = PseudoHuber::default().parts(f32::MAX);
        assert!(v.is_finite() && g == 1.0 && h == 0.0);
    }
}
