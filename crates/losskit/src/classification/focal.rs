//! Sigmoid focal loss.

use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::numerics::{logistic, pow_with_log, PowKind};
use crate::real::Real;
use crate::reduction::Reduction;

use super::binary::{self, binary_api, binary_hess_api, weighted, BinaryInputs, Curv, Kernel};
use crate::hessian::{Curvature, HessOut};

const NAME: &str = "focal";

/// Sigmoid focal loss: binary cross-entropy on logits scaled down where the prediction is
/// already right, so training concentrates on the hard examples.
///
/// # Definition
/// With $p = \sigma(x)$ and $p_t = p\,y + (1 - p)(1 - y)$ (the probability given to the
/// target; torchvision's definition, which also covers soft targets):
/// $$\ell_i = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{BCE}(x_i, y_i),\qquad
/// \alpha_t = \alpha\,y + (1 - \alpha)(1 - y)$$
/// where $\mathrm{BCE}$ is [`BceWithLogits`](crate::BceWithLogits) without weights, and
/// $\alpha_t = 1$ when $\alpha < 0$. With $\gamma = 0$ and $\alpha < 0$ it is exactly
/// binary cross-entropy.
///
/// # Gradient
/// With $m = 1 - p_t = (1 - y)\,\sigma(x) + y\,\sigma(-x)$ and
/// $r = \sigma(x)\sigma(-x)/m$ (so that $\partial m/\partial x = (1 - 2y)\,m\,r$):
/// $$\frac{\partial \ell_i}{\partial x_i} = \alpha_t\,m^\gamma\Big[(1 - y)\sigma(x) - y\,\sigma(-x) +
///  \gamma\,(1 - 2y)\,r\,\mathrm{BCE}\Big]$$
/// the derivative torchvision's autograd takes, for any $y \in [0, 1]$. For $y = 1$ it is
/// $-\alpha\,\sigma(-x)^\gamma\big[\sigma(-x) + \gamma\,\sigma(x)\,\mathrm{BCE}\big]$.
///
/// # Numerical stability
/// $1 - p_t$ is never formed by subtraction: it is $m = (1 - y)\,\sigma(x) + y\,\sigma(-x)$, a
/// sum of non-negative terms, which for hard targets is exactly $\sigma(-z_t)$ ($z_t = \pm x$).
/// For a non-integer $\gamma$ the modulating factor is $\exp(\gamma \ln m)$ with $\ln m$ the
/// log-sigmoid $\ln \sigma(-z_t)$ for hard targets (finite where $\sigma$ underflows); for soft
/// targets $m \ge \min(y, 1 - y) > 0$ and its log is plain. So the gradient is finite for every $\gamma \ge 0$ at every logit, including
/// $\gamma < 1$ at saturated logits, where $(1 - p_t)^{\gamma - 1}$ is infinite.
///
/// # Deliberate differences from torchvision
/// - Where $1 - p_t$ rounds to 0 (logit 50, target 1, in f32 and f64) torchvision's
///   $(1 - p_t)^\gamma$ has an infinite derivative and its gradient is NaN for $\gamma < 1$;
///   here it is finite (at logit 50, $\gamma = 0.5$, $\alpha < 0$: loss
///   $\approx 2.7\cdot10^{-33}$, gradient $\approx -4.0\cdot10^{-33}$, where torchvision gives
///   loss 0 and gradient NaN).
/// - The default reduction is `Mean` (losskit's convention); torchvision's
///   `sigmoid_focal_loss` defaults to `reduction='none'`.
/// - A weight (not in torchvision) follows the rules of [`BinaryInputs`].
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `alpha` | 0.25 | ≤ 1, finite; negative disables the α-weighting |
/// | `gamma` | 2.0 | ≥ 0, finite |
///
/// α weighs the positive class: the default 0.25 gives *positives* a quarter of the weight,
/// which is right when γ already down-weights the many easy negatives (the RetinaNet setting).
///
/// # Errors
/// [`Focal::new`] rejects `alpha > 1` and `gamma < 0` (and NaN, infinities); evaluation
/// rejects a target outside [0, 1]; see [`Focal::value`].
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, Focal, Reduction};
/// let logits = [50.0f32, -2.0];
/// let labels = [1.0f32, 1.0];
/// let focal = Focal::new(-1.0, 0.5)?; // no alpha, gamma below 1
/// let mut grad = [0.0f32; 2];
/// focal.value_and_grad(&BinaryInputs::new(&logits, &labels), Reduction::Sum, &mut grad)?;
/// assert!(grad.iter().all(|g| g.is_finite()));
/// assert!(grad[0] <= 0.0 && grad[1] < -0.5);
/// // gamma = 0 and no alpha: plain binary cross-entropy.
/// let bce = Focal::new(-1.0, 0.0)?.value(&BinaryInputs::new(&[0.0f64], &[1.0]), Reduction::Mean)?;
/// assert_eq!(bce, 2f64.ln());
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// T.-Y. Lin, P. Goyal, R. Girshick, K. He and P. Dollár, "Focal Loss for Dense Object
/// Detection", ICCV 2017. torchvision `torchvision.ops.sigmoid_focal_loss` (the numbers
/// matched wherever torchvision is finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Focal {
    alpha: f64,
    gamma: f64,
    /// How `(1 − p_t)^γ` is computed, decided once from `gamma`.
    pow: PowKind,
}

/// torchvision's defaults: `alpha = 0.25`, `gamma = 2`.
impl Default for Focal {
    fn default() -> Self {
        Focal {
            alpha: 0.25,
            gamma: 2.0,
            pow: PowKind::Two,
        }
    }
}

impl Focal {
    /// The focal loss with balance `alpha` (negative: none) and focusing exponent `gamma`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `alpha ≤ 1` and `gamma ≥ 0`, both finite.
    pub fn new(alpha: f64, gamma: f64) -> Result<Self> {
        if !(alpha <= 1.0 && alpha.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "alpha",
                value: alpha,
                expected: "<= 1 and finite (a negative value disables it)",
            });
        }
        if !(gamma >= 0.0 && gamma.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "gamma",
                value: gamma,
                expected: ">= 0 and finite",
            });
        }
        Ok(Focal {
            alpha,
            gamma,
            pow: PowKind::of(gamma),
        })
    }

    /// The balance between the classes (negative: none).
    pub fn alpha(&self) -> f64 {
        self.alpha
    }

    /// The focusing exponent.
    pub fn gamma(&self) -> f64 {
        self.gamma
    }
}

/// [`Focal`] with the evaluation of `(1 − p_t)^γ` fixed at compile time (`P` is a
/// [`PowKind`] as `u8`), so the element loops over it have no branch per element and
/// vectorise; [`with_kernel!`] picks the instance once per call.
#[derive(Clone, Copy)]
struct Fixed<const P: u8>(Focal);

/// Runs `$body` with `$k` bound to the [`Fixed`] instance of `$focal`'s exponent.
macro_rules! with_kernel {
    ($focal:expr, |$k:ident| $body:expr) => {{
        let f: Focal = *$focal;
        match f.pow {
            PowKind::Zero => {
                let $k = &Fixed::<0>(f);
                $body
            }
            PowKind::One => {
                let $k = &Fixed::<1>(f);
                $body
            }
            PowKind::Two => {
                let $k = &Fixed::<2>(f);
                $body
            }
            PowKind::Three => {
                let $k = &Fixed::<3>(f);
                $body
            }
            PowKind::Four => {
                let $k = &Fixed::<4>(f);
                $body
            }
            PowKind::General => {
                let $k = &Fixed::<5>(f);
                $body
            }
        }
    }};
}

const KINDS: [PowKind; 6] = [
    PowKind::Zero,
    PowKind::One,
    PowKind::Two,
    PowKind::Three,
    PowKind::Four,
    PowKind::General,
];

impl<T: Real, const P: u8> Kernel<T> for Fixed<P> {
    const NAME: &'static str = NAME;
    #[inline(always)]
    fn loss(&self, x: T, t: T, pw: T) -> T {
        self.loss_grad(x, t, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        let (v, d, _) = self.parts::<T, false>(x, y, Curvature::Exact);
        (v, d)
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        !(t < T::ZERO || t > T::ONE)
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        ("target", t, "a target in [0, 1]")
    }
}

impl<const P: u8> Fixed<P> {
    /// `(ℓ, ℓ', ℓ'')`, the last only with `HESS` (0 otherwise), under the policy `c`.
    #[inline(always)]
    fn parts<T: Real, const HESS: bool>(&self, x: T, y: T, c: Curvature) -> (T, T, T) {
        let Focal { alpha, gamma, .. } = self.0;
        let b = logistic(x);
        let neg = T::ONE - y;
        // BCE as two non-negative softplus terms; a zero coefficient drops its term (x = ±∞).
        let ce = weighted(neg, -b.log_q) + weighted(y, -b.log_p);
        let dce = neg * b.p - y * b.q;
        // 1 − p_t = (1 − y)σ(x) + yσ(−x): a sum of non-negative terms, never a difference,
        // and exactly σ(∓x) for a hard label. For a soft label it is at least min(y, 1 − y),
        // so its log and r = σ(x)σ(−x)/(1 − p_t) are plain; for a hard label ln(1 − p_t) is
        // the log-sigmoid (finite where σ underflows) and r = σ(±x). Every case is computed
        // and one selected: no branch per element, so the loop vectorises.
        let m = neg * b.p + y * b.q;
        let (hard1, hard0) = (y == T::ONE, y == T::ZERO);
        let kind = KINDS[P as usize];
        // Only the general exponent reads the log; for the integer ones it folds away.
        let log_m = if hard1 {
            b.log_q
        } else if hard0 {
            b.log_p
        } else {
            m.ln_fast()
        };
        let r = if hard1 {
            b.p
        } else if hard0 {
            b.q
        } else {
            b.p * b.q / m
        };
        let gamma = T::from_f64(gamma);
        // (1 − p_t)^γ: repeated products for γ ∈ {0, …, 4} (γ = 0 is 1 even where 1 − p_t = 0,
        // where 0·ln 0 would be NaN), exp(γ·ln(1 − p_t)) otherwise.
        let f = pow_with_log(kind, m, log_m, gamma, T::exp_fast);
        let alpha_t = if alpha < 0.0 {
            T::ONE
        } else {
            let a = T::from_f64(alpha);
            a * y + (T::ONE - a) * neg
        };
        // r = 0 only at x = ±∞ (or where σ(x)σ(−x) underflows), where BCE·r → 0 even when
        // BCE = ∞.
        let ce_r = if r == T::ZERO { T::ZERO } else { ce * r };
        let cy = neg - y; // 1 − 2y: ∂m/∂x = (1 − 2y)·σ(x)σ(−x)
        let d = alpha_t * f * (dce + gamma * cy * ce_r);
        if !HESS {
            return (alpha_t * (ce * f), d, T::ZERO);
        }
        // With F = m^γ, s = σ(x)σ(−x), r = s/m (bounded: the singular powers m^(γ−1),
        // m^(γ−2) of the textbook form are absorbed into r):
        //   ℓ''/α_t = F·[γ·c·r·((γ − 1)·c·r + 1 − 2σ)·BCE + 2γ·c·r·(σ − y) + s],
        // c = 1 − 2y. Finite at every logit for every γ ≥ 0.
        let s = b.p * b.q;
        let ce_r2 = if r == T::ZERO { T::ZERO } else { ce_r * r };
        let one_m_2p = b.q - b.p;
        let curv = gamma * cy * ((gamma - T::ONE) * cy * ce_r2 + one_m_2p * ce_r)
            + (gamma + gamma) * cy * r * dce
            + s;
        let exact = alpha_t * f * curv;
        let h = match c {
            Curvature::Exact => exact,
            // The curvature of cross-entropy with the focal factor held fixed: positive, and
            // the exact value for γ = 0. The larger of the two (NaN kept).
            Curvature::XGBoost | Curvature::LightGBM => {
                let bound = alpha_t * f * s;
                if exact.is_nan() || exact > bound {
                    exact
                } else {
                    bound
                }
            }
        };
        (alpha_t * (ce * f), d, h)
    }
}

impl<T: Real, const P: u8> Curv<T> for Fixed<P> {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, y: T, _pw: T, c: Curvature) -> (T, T, T) {
        self.parts::<T, true>(x, y, c)
    }
}

/// The binary driver over the [`Fixed`] kernel of a [`Focal`].
mod driver {
    use super::*;

    pub(super) fn value<T: Real>(
        f: &Focal,
        inputs: &BinaryInputs<'_, T>,
        reduction: Reduction,
    ) -> Result<T> {
        with_kernel!(f, |k| binary::value(k, inputs, reduction))
    }

    pub(super) fn value_and_grad<T: Real>(
        f: &Focal,
        inputs: &BinaryInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        with_kernel!(f, |k| binary::value_and_grad(k, inputs, reduction, grad))
    }

    pub(super) fn per_element<T: Real>(
        f: &Focal,
        inputs: &BinaryInputs<'_, T>,
        out: &mut [T],
    ) -> Result<()> {
        with_kernel!(f, |k| binary::per_element(k, inputs, out))
    }

    pub(super) fn value_grad_hess<T: Real>(
        f: &Focal,
        inputs: &BinaryInputs<'_, T>,
        reduction: Reduction,
        c: Curvature,
        grad: &mut [T],
        hess: &mut [T],
    ) -> Result<T> {
        with_kernel!(f, |k| binary::value_grad_hess(k, inputs, reduction, c, grad, hess))
    }
}
binary_api!(Focal, driver);
binary_hess_api!(Focal, driver);

pub(crate) fn hess_focal<T: Real>(
    call: &Call<'_, T>,
    c: Curvature,
    out: &mut HessOut<'_, T>,
) -> Result<()> {
    let loss = Focal::new(call.params.float("alpha"), call.params.float("gamma"))?;
    with_kernel!(&loss, |k| binary::evaluate_hess(k, call, c, out))
}

pub(crate) fn eval_focal<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = Focal::new(call.params.float("alpha"), call.params.float("gamma"))?;
    with_kernel!(&loss, |k| binary::evaluate(k, call, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BceWithLogits;

    fn run<T: Real>(f: &Focal, x: &[T], y: &[T]) -> (Vec<T>, Vec<T>) {
        let inputs = BinaryInputs::new(x, y);
        let mut out = vec![T::ZERO; x.len()];
        let mut g = vec![T::ZERO; x.len()];
        f.per_element(&inputs, &mut out).unwrap();
        f.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap();
        (out, g)
    }

    #[test]
    fn gradients_are_finite_for_every_gamma_at_saturated_logits() {
        let x = [
            50.0f32,
            -50.0,
            1e4,
            -1e4,
            50.0,
            -50.0,
            1e4,
            -1e4,
            f32::INFINITY,
            -f32::INFINITY,
        ];
        let y = [1.0f32, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        for gamma in [0.0, 0.5, 1.0, 2.0] {
            for alpha in [-1.0, 0.25] {
                let (l, g) = run(&Focal::new(alpha, gamma).unwrap(), &x, &y);
                assert!(
                    l.iter().all(|v| v.is_finite() && *v >= 0.0),
                    "{gamma} {l:?}"
                );
                assert!(g.iter().all(|v| v.is_finite()), "{gamma} {g:?}");
                let (_, g64) = run(
                    &Focal::new(alpha, gamma).unwrap(),
                    &x.map(f64::from),
                    &y.map(f64::from),
                );
                assert!(g64.iter().all(|v| v.is_finite()), "{gamma} {g64:?}");
            }
        }
    }

    #[test]
    fn gamma_one_half_at_logit_fifty_is_tiny_not_nan() {
        let (l, g) = run(&Focal::new(-1.0, 0.5).unwrap(), &[50.0f64], &[1.0]);
        let e = (-50.0f64).exp();
        let (p, q) = (1.0 / (1.0 + e), e / (1.0 + e));
        let ce = e.ln_1p(); // −ln σ(50)
        assert!(((l[0] - ce * q.sqrt()) / l[0]).abs() < 1e-14, "{}", l[0]);
        let expected = -q.sqrt() * (q + 0.5 * p * ce);
        assert!(
            ((g[0] - expected) / expected).abs() < 1e-14,
            "{} {expected}",
            g[0]
        );
        assert!((l[0] - 2.7e-33).abs() < 0.05e-33 && (g[0] + 4.0e-33).abs() < 0.05e-33);
    }

    #[test]
    fn gamma_zero_without_alpha_is_bce_with_logits() {
        let x = [-3.0f64, -0.2, 0.0, 1.5, 30.0, -1e4];
        let y = [0.0f64, 1.0, 0.4, 0.9, 1.0, 0.0];
        let (l, g) = run(&Focal::new(-1.0, 0.0).unwrap(), &x, &y);
        let mut bl = [0.0; 6];
        let mut bg = [0.0; 6];
        let bce = BceWithLogits::default();
        bce.per_element(&BinaryInputs::new(&x, &y), &mut bl)
            .unwrap();
        bce.value_and_grad(&BinaryInputs::new(&x, &y), Reduction::Sum, &mut bg)
            .unwrap();
        assert_eq!(l, bl);
        assert_eq!(g, bg);
    }

    #[test]
    fn soft_targets_follow_the_torchvision_definition() {
        // Against a direct evaluation of torchvision's expression in f64, and a central
        // difference of it.
        let direct = |x: f64, y: f64, a: f64, gm: f64| {
            let p = 1.0 / (1.0 + (-x).exp());
            let ce = -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
            let pt = p * y + (1.0 - p) * (1.0 - y);
            (a * y + (1.0 - a) * (1.0 - y)) * ce * (1.0 - pt).powf(gm)
        };
        let f = Focal::new(0.3, 1.5).unwrap();
        for &(x, y) in &[(0.7, 0.2), (-1.3, 0.65), (2.5, 0.5), (-0.1, 0.999)] {
            let (l, g) = run(&f, &[x], &[y]);
            assert!((l[0] - direct(x, y, 0.3, 1.5)).abs() < 1e-14, "{x} {y}");
            let h = 1e-6;
            let num = (direct(x + h, y, 0.3, 1.5) - direct(x - h, y, 0.3, 1.5)) / (2.0 * h);
            assert!((g[0] - num).abs() < 1e-8, "{x} {y}: {} vs {num}", g[0]);
        }
    }

    #[test]
    fn parameters_are_checked() {
        assert_eq!(
            Focal::new(1.5, 2.0).unwrap_err().to_string(),
            "focal: `alpha` must be <= 1 and finite (a negative value disables it), got 1.5"
        );
        assert_eq!(
            Focal::new(0.25, -1.0).unwrap_err().to_string(),
            "focal: `gamma` must be >= 0 and finite, got -1"
        );
        assert!(Focal::new(f64::NAN, 2.0).is_err() && Focal::new(0.25, f64::INFINITY).is_err());
        assert_eq!(Focal::default(), Focal::new(0.25, 2.0).unwrap());
    }
}
