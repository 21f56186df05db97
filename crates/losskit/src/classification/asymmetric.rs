//! Asymmetric loss (ASL) for multi-label classification, timm's `AsymmetricLossMultiLabel`.

use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::numerics::logistic;
use crate::real::Real;
use crate::reduction::Reduction;

use super::binary::{self, binary_api, weighted, BinaryInputs, Kernel};

const NAME: &str = "asymmetric";

/// Asymmetric loss (ASL): binary cross-entropy per label with separate focusing exponents
/// for positives and negatives, and the negatives' probability shifted by `clip` so that
/// easy negatives (p ≤ `clip`) drop out entirely.
///
/// # Definition
/// Per element, with $p = \sigma(x)$, target $y \in [0, 1]$, the shifted negative probability
/// $p_- = \min(1 - p + \text{clip}, 1)$ (just $1 - p$ when clip = 0), $p_t = y\\,p + (1 -
/// y)\\,p_-$ and $\gamma = \gamma_+ y + \gamma_- (1 - y)$:
/// $$\ell = -\big[y \ln\max(p, \epsilon) + (1 - y) \ln\max(p_-, \epsilon)\big]\\,(1 - p_t)^{\gamma}.$$
/// `Sum` is timm's `reduction='sum'` (the original ASL reduction), `Mean` divides by the
/// number of elements (timm's `'mean'`; timm's default `'batchmean'` is `Sum` divided by N).
///
/// # Gradient
/// The derivative timm's autograd takes with its default `disable_torch_grad_focal_loss =
/// False` (the focusing weight is differentiated): with $u = 1 - p_t$ and $c$ the bracket
/// above,
/// $$\frac{\partial \ell}{\partial x} = -\big[y\\,a' + (1 - y)\\,b'\big]\\,u^{\gamma} - c\\,\gamma\\,u^{\gamma-1}\\,u',$$
/// $a' = 1 - p$ where $p \ge \epsilon$ (else 0), $b' = p_-'/p_-$ where $p_- \ge \epsilon$
/// (else 0), $p_-' = -p(1 - p)$ where $1 - p + \text{clip} \le 1$ (else 0: the shifted
/// region is flat), $u' = -[y\\,p(1 - p) + (1 - y)\\,p_-']$. With
/// `disable_torch_grad_focal_loss = True` timm drops the second term: that variant is not
/// what this type computes.
///
/// # Numerical stability
/// $1 - p$ is $\sigma(-x)$, $\ln p$ and $\ln(1 - p)$ are log-sigmoids, and $1 - p_-$ is
/// $\max(p - \text{clip}, 0)$: no subtraction of nearly equal numbers (timm forms `1 - sigmoid`
/// and `1 - pt` in float32, so its small focusing weights carry absolute errors of
/// ~1e-7). $u^{\gamma - 1}$ is never formed at $u = 0$: there the second term is 0 (γ > 1, or
/// $u' = 0$), $u'$ (γ = 1), or its limit 0 (γ < 1, where autograd gives 0·∞ = NaN).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `gamma_neg` | 4.0 | ≥ 0, finite |
/// | `gamma_pos` | 1.0 | ≥ 0, finite |
/// | `clip` | 0.05 | [0, 1] (0 disables the shift, as timm's `None` or 0) |
/// | `eps` | 1e-8 | [0, 1) (0: no clamp of the logs) |
///
/// # Errors
/// [`Asymmetric::new`] rejects parameters outside their ranges (and NaN); evaluation rejects a
/// target outside [0, 1], and the shape and weight errors of [`BinaryInputs`].
///
/// # Example
/// ```
/// use losskit::{Asymmetric, BinaryInputs, Reduction};
/// let logits = [2.0f64, -1.0, -4.0, 0.5];
/// let labels = [1.0f64, 0.0, 0.0, 1.0];
/// let asl = Asymmetric::default();
/// let mut per = [0.0; 4];
/// asl.per_element(&BinaryInputs::new(&logits, &labels), &mut per)?;
/// // An easy negative (p = σ(−4) ≈ 0.018 < clip = 0.05) is dropped entirely.
/// assert_eq!(per[2], 0.0);
/// // A positive: −ln σ(x)·(1 − σ(x))^1.
/// let p = 1.0 / (1.0 + (-2.0f64).exp());
/// assert!((per[0] + p.ln() * (1.0 - p)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// T. Ridnik, E. Ben-Baruch, N. Zamir, A. Noy, I. Friedman, M. Protter, L. Zelnik-Manor,
/// "Asymmetric Loss For Multi-Label Classification", ICCV 2021. timm
/// `timm.loss.AsymmetricLossMultiLabel` (the numbers matched in float32, and in float64 with
/// timm's own forward run in float64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asymmetric {
    gamma_neg: f64,
    gamma_pos: f64,
    clip: f64,
    eps: f64,
}

/// timm's defaults (the paper's): `gamma_neg = 4`, `gamma_pos = 1`, `clip = 0.05`,
/// `eps = 1e-8`.
impl Default for Asymmetric {
    fn default() -> Self {
        Asymmetric {
            gamma_neg: 4.0,
            gamma_pos: 1.0,
            clip: 0.05,
            eps: 1e-8,
        }
    }
}

fn check(param: &'static str, v: f64, ok: bool, expected: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidParam {
            loss: NAME,
            param,
            value: v,
            expected,
        })
    }
}

impl Asymmetric {
    /// ASL with focusing exponents `gamma_neg`, `gamma_pos`, probability shift `clip` and log
    /// clamp `eps`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless both exponents are ≥ 0 and finite, `clip` is in
    /// [0, 1] and `eps` in [0, 1).
    pub fn new(gamma_neg: f64, gamma_pos: f64, clip: f64, eps: f64) -> Result<Self> {
        let g = ">= 0 and finite";
        check(
            "gamma_neg",
            gamma_neg,
            gamma_neg >= 0.0 && gamma_neg.is_finite(),
            g,
        )?;
        check(
            "gamma_pos",
            gamma_pos,
            gamma_pos >= 0.0 && gamma_pos.is_finite(),
            g,
        )?;
        check("clip", clip, (0.0..=1.0).contains(&clip), "in [0, 1]")?;
        check("eps", eps, (0.0..1.0).contains(&eps), "in [0, 1)")?;
        Ok(Asymmetric {
            gamma_neg,
            gamma_pos,
            clip,
            eps,
        })
    }

    /// The focusing exponent of the negatives.
    pub fn gamma_neg(&self) -> f64 {
        self.gamma_neg
    }

    /// The focusing exponent of the positives.
    pub fn gamma_pos(&self) -> f64 {
        self.gamma_pos
    }

    /// The probability shift of the negatives.
    pub fn clip(&self) -> f64 {
        self.clip
    }

    /// The clamp of the probabilities inside the logs.
    pub fn eps(&self) -> f64 {
        self.eps
    }
}

impl<T: Real> Kernel<T> for Asymmetric {
    const NAME: &'static str = NAME;
    #[inline(always)]
    fn loss(&self, x: T, t: T, pw: T) -> T {
        self.loss_grad(x, t, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        let b = logistic(x);
        let neg = T::ONE - y;
        let ln_eps = T::from_f64(self.eps.ln());
        let clip = T::from_f64(self.clip);
        let s = b.p * b.q; // σ(x)σ(−x) = dσ/dx
                           // Positive term: ln max(p, eps); its derivative 1 − p where p ≥ eps (torch's clamp
                           // passes the gradient at the bound).
        let a = if b.log_p >= ln_eps { b.log_p } else { ln_eps };
        let da = if b.log_p >= ln_eps { b.q } else { T::ZERO };
        // Negative term: p₋ = min(1 − p + clip, 1) with 1 − p₋ = max(p − clip, 0).
        let (ln_n, dln_n, one_m_n, dn) = if self.clip > 0.0 {
            let raw = b.q + clip;
            let inside = raw <= T::ONE;
            let n = if inside { raw } else { T::ONE };
            let dn = if inside { -s } else { T::ZERO };
            let gap = b.p - clip;
            (
                n.ln(),
                dn / n,
                if gap > T::ZERO { gap } else { T::ZERO },
                dn,
            )
        } else {
            // p₋ = σ(−x): ln p₋ = ln σ(−x), d ln p₋ / dx = −p.
            (b.log_q, -b.p, b.p, -s)
        };
        let bb = if ln_n >= ln_eps { ln_n } else { ln_eps };
        let dbb = if ln_n >= ln_eps { dln_n } else { T::ZERO };
        // 1 − p_t and its derivative.
        let u = y * b.q + neg * one_m_n;
        let du = -(y * s + neg * dn);
        let gamma = T::from_f64(self.gamma_pos) * y + T::from_f64(self.gamma_neg) * neg;
        let w = if gamma == T::ZERO {
            T::ONE
        } else {
            u.powf(gamma)
        };
        let c = weighted(y, a) + weighted(neg, bb);
        // d(u^γ)/dx = γ·u^(γ−1)·u' = γ·(w/u)·u' for u > 0; at u = 0 its limit.
        let dw = if gamma == T::ZERO || du == T::ZERO {
            T::ZERO
        } else if u > T::ZERO {
            gamma * (w / u) * du
        } else if gamma == T::ONE {
            du
        } else {
            // γ > 1: 0; γ < 1: u = 0 with u' ≠ 0 only where σ(∓x) underflows, and c·u' → 0.
            T::ZERO
        };
        let dc = weighted(y, da) + weighted(neg, dbb);
        let c_dw = if dw == T::ZERO { T::ZERO } else { c * dw };
        (-(c * w), -(dc * w) - c_dw)
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        !(t < T::ZERO || t > T::ONE)
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        ("target", t, "a target in [0, 1]")
    }
}

binary_api!(Asymmetric);

pub(crate) fn eval_asymmetric<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = Asymmetric::new(
        call.params.float("gamma_neg"),
        call.params.float("gamma_pos"),
        call.params.float("clip"),
        call.params.float("eps"),
    )?;
    binary::evaluate(&loss, call, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// timm's formula, term by term in f64 (its `1 − sigmoid` and `1 − pt` included).
    fn timm(x: f64, y: f64, a: &Asymmetric) -> f64 {
        let p = 1.0 / (1.0 + (-x).exp());
        let mut n = 1.0 - p;
        if a.clip > 0.0 {
            n = (n + a.clip).min(1.0);
        }
        let l = y * p.max(a.eps).ln() + (1.0 - y) * n.max(a.eps).ln();
        let pt = p * y + n * (1.0 - y);
        let g = a.gamma_pos * y + a.gamma_neg * (1.0 - y);
        -l * (1.0 - pt).powf(g)
    }

    #[test]
    fn matches_timm_formula_and_central_differences() {
        let xs = [-6.0, -3.0, -1.0, -0.2, 0.0, 0.3, 1.5, 4.0];
        for a in [
            Asymmetric::default(),
            Asymmetric::new(2.0, 0.0, 0.0, 1e-8).unwrap(),
            Asymmetric::new(0.5, 1.5, 0.2, 0.0).unwrap(),
        ] {
            for &x in &xs {
                for y in [0.0, 1.0, 0.3] {
                    let (v, d) = Kernel::<f64>::loss_grad(&a, x, y, 1.0);
                    let want = timm(x, y, &a);
                    assert!((v - want).abs() < 1e-13, "{a:?} x={x} y={y}: {v} vs {want}");
                    let h = 1e-6;
                    let fd = (timm(x + h, y, &a) - timm(x - h, y, &a)) / (2.0 * h);
                    assert!((d - fd).abs() < 1e-7, "{a:?} x={x} y={y}: {d} vs {fd}");
                }
            }
        }
    }

    #[test]
    fn saturated_logits_stay_finite() {
        let a = Asymmetric::new(0.5, 0.5, 0.0, 0.0).unwrap();
        for x in [-1e4f64, -60.0, 60.0, 1e4] {
            for y in [0.0, 1.0] {
                let (v, d) = Kernel::<f64>::loss_grad(&a, x, y, 1.0);
                assert!(v.is_finite() && d.is_finite(), "x={x} y={y}: {v} {d}");
            }
        }
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            Asymmetric::new(-1.0, 1.0, 0.05, 1e-8)
                .unwrap_err()
                .to_string(),
            "asymmetric: `gamma_neg` must be >= 0 and finite, got -1"
        );
        assert_eq!(
            Asymmetric::new(4.0, 1.0, 1.5, 1e-8)
                .unwrap_err()
                .to_string(),
            "asymmetric: `clip` must be in [0, 1], got 1.5"
        );
        let x = [0.0f32, 1.0];
        let y = [0.0f32, 2.0];
        assert_eq!(
            Asymmetric::default()
                .value(&BinaryInputs::new(&x, &y), Reduction::Sum)
                .unwrap_err()
                .to_string(),
            "asymmetric: `target` at [1] is 2, expected a target in [0, 1]"
        );
    }
}
