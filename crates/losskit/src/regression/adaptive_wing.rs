//! Adaptive wing loss (Wang et al. 2019) for heatmap regression.

use crate::error::{Error, Result};
use crate::real::Real;
use crate::reduction::Reduction;

use super::pointwise::{self, pointwise_api, Kernel};
use super::Pointwise;

const NAME: &str = "adaptive_wing";

/// Adaptive wing loss: a wing loss whose shape adapts to the target heatmap value, so
/// foreground pixels (target near 1) keep the large log-regime gradients of the wing loss
/// while background pixels (target near 0) get a smooth, quadratic-like loss near 0.
///
/// # Definition
/// Per element, with $e = x - y$ ($x$ the predicted and $y \in [0, 1]$ the target heatmap
/// value), exponent $a = \alpha - y$ and $r = \theta/\epsilon$:
/// $$\ell = \begin{cases} \omega \ln\big(1 + (|e|/\epsilon)^{a}\big) & |e| < \theta \\\\
/// A\\,|e| - C & \text{else} \end{cases},\qquad
/// A = \frac{\omega\\,a\\,r^{a-1}}{\epsilon\\,(1 + r^{a})},\quad C = \theta A - \omega\ln(1 + r^{a}).$$
/// $A$ and $C$ make the pieces meet at $|e| = \theta$ with equal slopes.
///
/// # Gradient
/// $\partial \ell / \partial x = \operatorname{sign}(e)\\,\dfrac{\omega\\,a\\,(|e|/\epsilon)^{a-1}}{\epsilon\\,(1 + (|e|/\epsilon)^{a})}$
/// inside, $\operatorname{sign}(e)\\,A$ beyond; 0 at $e = 0$. Continuous at $|e| = \theta$; at
/// $e = 0$ continuous for $a > 1$ (every target in [0, 1] at the default α = 2.1), infinite
/// in the limit for $a < 1$ (there the value at exactly 0 is the subgradient 0). The target
/// is a label: no gradient flows to it (the exponent's dependence on $y$ is not
/// differentiated).
///
/// # Numerical stability
/// $(|e|/\epsilon)^{a}$ is $\exp(a \ln(|e|/\epsilon))$ and the log is `ln_1p`, accurate for the
/// small residuals of a well-fit heatmap; the gradient is written with
/// $(|e|/\epsilon)^{a-1} = (|e|/\epsilon)^a \cdot \epsilon/|e|$ only for $|e| > 0$. $A$ and $C$
/// depend on $y$ and are computed per element (in the element's type).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `omega` | 14.0 | > 0, finite |
/// | `theta` | 0.5 | > 0, finite |
/// | `epsilon` | 1.0 | > 0, finite |
/// | `alpha` | 2.1 | > 1, finite (so that $a = \alpha - y > 0$ for every target) |
///
/// # Errors
/// [`AdaptiveWing::new`] rejects parameters outside their ranges; evaluation rejects a target
/// outside [0, 1] (heatmap values), and the shape and weight errors of [`Pointwise`].
///
/// # Example
/// ```
/// use losskit::{AdaptiveWing, Pointwise, Reduction};
/// let aw = AdaptiveWing::default(); // ω = 14, θ = 0.5, ε = 1, α = 2.1
/// let x = [0.1f64, 0.9];
/// let y = [0.0f64, 1.0];
/// let mut per = [0.0; 2];
/// aw.per_element(&Pointwise::new(&x, &y), &mut per)?;
/// assert!((per[0] - 14.0 * 0.1f64.powf(2.1).ln_1p()).abs() < 1e-14);
/// assert!((per[1] - 14.0 * 0.1f64.powf(1.1).ln_1p()).abs() < 1e-14);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// X. Wang, L. Bo and L. Fuxin, "Adaptive Wing Loss for Robust Face Alignment via Heatmap
/// Regression", ICCV 2019 (eq. 6). No library in the reference set ships it (the authors'
/// repository has no training code); the reference values are the paper's formula in float64
/// torch, its gradient checked against torch autograd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveWing {
    omega: f64,
    theta: f64,
    epsilon: f64,
    alpha: f64,
}

/// The paper's defaults: `omega = 14`, `theta = 0.5`, `epsilon = 1`, `alpha = 2.1`.
impl Default for AdaptiveWing {
    fn default() -> Self {
        AdaptiveWing {
            omega: 14.0,
            theta: 0.5,
            epsilon: 1.0,
            alpha: 2.1,
        }
    }
}

impl AdaptiveWing {
    /// The adaptive wing loss with scale `omega`, threshold `theta`, curvature `epsilon`
    /// and exponent `alpha`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `omega`, `theta`, `epsilon` are > 0 and `alpha` > 1,
    /// all finite.
    pub fn new(omega: f64, theta: f64, epsilon: f64, alpha: f64) -> Result<Self> {
        for (param, value, lo, expected) in [
            ("omega", omega, 0.0, "> 0 and finite"),
            ("theta", theta, 0.0, "> 0 and finite"),
            ("epsilon", epsilon, 0.0, "> 0 and finite"),
            ("alpha", alpha, 1.0, "> 1 and finite"),
        ] {
            if !(value > lo && value.is_finite()) {
                return Err(Error::InvalidParam {
                    loss: NAME,
                    param,
                    value,
                    expected,
                });
            }
        }
        Ok(AdaptiveWing {
            omega,
            theta,
            epsilon,
            alpha,
        })
    }

    /// The scale ω.
    pub fn omega(&self) -> f64 {
        self.omega
    }

    /// The threshold θ between the log and the linear part.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    /// The curvature ε.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }

    /// The exponent α (the element's exponent is α − target).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }
}

impl<T: Real> Kernel<T> for AdaptiveWing {
    const NAME: &'static str = NAME;
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let omega = T::from_f64(self.omega);
        let theta = T::from_f64(self.theta);
        let eps = T::from_f64(self.epsilon);
        let a = T::from_f64(self.alpha) - t;
        let e = x - t;
        let d = e.abs();
        let s = if e > T::ZERO {
            T::ONE
        } else if e < T::ZERO {
            -T::ONE
        } else {
            e * T::ZERO // 0, or NaN
        };
        if d < theta {
            let u = d / eps;
            let ua = if d > T::ZERO {
                (a * u.ln()).exp()
            } else {
                T::ZERO
            };
            let loss = omega * ua.ln_1p();
            // ω·a·u^(a−1)/(ε(1 + u^a)) with u^(a−1) = u^a/u (u > 0); 0 at e = 0.
            let g = if d > T::ZERO {
                s * omega * a * (ua / d) / (T::ONE + ua)
            } else {
                T::ZERO
            };
            (loss, g)
        } else {
            // NaN lands here and stays NaN.
            let r = theta / eps;
            let ra = (a * r.ln()).exp();
            let big_a = omega * a * (ra / theta) / (T::ONE + ra);
            let c = theta * big_a - omega * ra.ln_1p();
            (big_a * d - c, s * big_a)
        }
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        !(t < T::ZERO || t > T::ONE)
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        ("target", t, "a heatmap value in [0, 1]")
    }
}
pointwise_api!(AdaptiveWing);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_meet_with_equal_slopes_at_theta() {
        let aw = AdaptiveWing::default();
        for t in [0.0f64, 0.3, 1.0] {
            let theta = 0.5;
            let (lo, glo) = Kernel::<f64>::loss_grad(&aw, t + theta * (1.0 - 1e-12), t);
            let (hi, ghi) = Kernel::<f64>::loss_grad(&aw, t + theta, t);
            assert!((lo - hi).abs() < 1e-10, "t={t}: {lo} vs {hi}");
            assert!((glo - ghi).abs() < 1e-10, "t={t}: {glo} vs {ghi}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            AdaptiveWing::new(14.0, 0.5, 1.0, 1.0)
                .unwrap_err()
                .to_string(),
            "adaptive_wing: `alpha` must be > 1 and finite, got 1"
        );
        let x = [0.0f32, 0.5];
        let y = [0.0f32, 1.5];
        assert_eq!(
            AdaptiveWing::default()
                .value(&Pointwise::new(&x, &y), Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "adaptive_wing: `target` at [1] is 1.5, expected a heatmap value in [0, 1]"
        );
    }
}
