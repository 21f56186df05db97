//! Regression losses: a real-valued prediction against a real-valued target, element by
//! element.
//!
//! Every loss here takes [`Pointwise`] inputs (`input`, `target` of the same shape, an
//! optional element-wise `weight`), except [`GaussianNll`], which also takes a variance.

mod adaptive_wing;
mod catalogue;
mod gaussian_nll;
mod hessian;
mod log_link;
pub(crate) mod pointwise;
mod poisson;
mod pseudo_huber;

pub use adaptive_wing::AdaptiveWing;
pub(crate) use catalogue::CATALOGUE;
pub use gaussian_nll::{GaussianInputs, GaussianNll};
pub use log_link::{GammaDeviance, Tweedie};
pub use pointwise::Pointwise;
pub use pseudo_huber::PseudoHuber;

use crate::error::{Error, Result};
use crate::numerics::{log_cosh, log_cosh_tanh};
use crate::real::Real;
use crate::reduction::Reduction;
use pointwise::{pointwise_api, Kernel};

/// `sign(e)` with `sign(0) = 0` and NaN kept, as `torch.sign`: the subgradient of `|e|`
/// that PyTorch's `l1_loss` uses.
#[inline(always)]
fn sign<T: Real>(e: T) -> T {
    if e > T::ZERO {
        T::ONE
    } else if e < T::ZERO {
        -T::ONE
    } else {
        e * T::ZERO
    }
}

/// Mean squared error: $\ell = (x - y)^2$.
///
/// # Definition
/// $$\ell_i = (x_i - y_i)^2,\qquad \text{mean: } \frac{\sum_i w_i \ell_i}{\sum_i w_i}$$
/// (without a weight, $w_i = 1$). No ½: this is PyTorch's `mse_loss`; the textbook form with
/// ½ is [`L2`].
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = 2(x_i - y_i)$, times $w_i$ and the reduction's scale.
///
/// # Numerical stability
/// Finite wherever $(x - y)^2$ is; it overflows only past $|x - y| \approx 1.8\cdot10^{19}$
/// in f32. Sums accumulate in f64.
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`Mse::value`].
///
/// # Example
/// ```
/// use losskit::{Mse, Pointwise, Reduction};
/// let x = [1.0f32, 2.0, 4.0];
/// let y = [1.0f32, 1.0, 2.0];
/// let mut grad = [0.0f32; 3];
/// let v = Mse.value_and_grad(&Pointwise::new(&x, &y), Reduction::Mean, &mut grad)?;
/// assert_eq!(v, 5.0 / 3.0);
/// assert_eq!(grad, [0.0, 2.0 / 3.0, 4.0 / 3.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.mse_loss` (the numbers matched, including its `weight`
/// argument's weighted mean).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mse;

impl<T: Real> Kernel<T> for Mse {
    const NAME: &'static str = "mse";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        let e = x - t;
        e * e
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let e = x - t;
        (e * e, e + e)
    }
}
pointwise_api!(Mse);

/// Half squared error: $\ell = \tfrac12 (x - y)^2$, the textbook form.
///
/// # Definition
/// $$\ell_i = \tfrac12 (x_i - y_i)^2$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = x_i - y_i$: the ½ is there so the gradient is the
/// residual itself.
///
/// # Numerical stability
/// As [`Mse`].
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`L2::value`].
///
/// # Example
/// ```
/// use losskit::{L2, Pointwise, Reduction};
/// let v = L2.value(&Pointwise::new(&[3.0f64], &[1.0]), Reduction::Sum)?;
/// assert_eq!(v, 2.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// optax `l2_loss` (= ½ · `squared_error`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct L2;

impl<T: Real> Kernel<T> for L2 {
    const NAME: &'static str = "l2";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        let e = x - t;
        T::HALF * e * e
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let e = x - t;
        (T::HALF * e * e, e)
    }
}
pointwise_api!(L2);

/// Mean absolute error: $\ell = |x - y|$.
///
/// # Definition
/// $$\ell_i = |x_i - y_i|$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = \operatorname{sign}(x_i - y_i)$, and 0 where
/// $x_i = y_i$ (the subgradient PyTorch's `l1_loss` uses).
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`Mae::value`].
///
/// # Example
/// ```
/// use losskit::{Mae, Pointwise, Reduction};
/// let mut g = [9.0f64; 3];
/// let v = Mae.value_and_grad(&Pointwise::new(&[1.0, 2.0, 0.0], &[1.0, 0.0, 1.0]), Reduction::Sum, &mut g)?;
/// assert_eq!(v, 3.0);
/// assert_eq!(g, [0.0, 1.0, -1.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.l1_loss`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mae;

impl<T: Real> Kernel<T> for Mae {
    const NAME: &'static str = "mae";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        (x - t).abs()
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let e = x - t;
        (e.abs(), sign(e))
    }
}
pointwise_api!(Mae);

/// Huber loss: quadratic near zero, linear beyond `delta`.
///
/// # Definition
/// $$\ell_i = \begin{cases} \tfrac12 e_i^2 & |e_i| \le \delta \\\\ \delta\\,(|e_i| - \tfrac12\delta) & \text{otherwise} \end{cases}\qquad e_i = x_i - y_i$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = \operatorname{clamp}(e_i, -\delta, \delta)$.
///
/// # Numerical stability
/// Exact; the two branches meet with equal value and slope at $|e| = \delta$.
/// `huber(δ) = δ · smooth_l1(β = δ)`.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `delta` | 1.0 | > 0, finite |
///
/// # Errors
/// [`Huber::new`] rejects `delta ≤ 0`, NaN and infinities; see also [`Huber::value`].
///
/// # Weighted mean (a deliberate difference)
/// With a `weight`, `Mean` is $\sum w\ell / \sum w$. PyTorch's `huber_loss(weight=…)`
/// divides by N instead, unlike its own `mse_loss` and `l1_loss`; losskit uses one rule for
/// every loss.
///
/// # Example
/// ```
/// use losskit::{Huber, Pointwise, Reduction};
/// let huber = Huber::new(0.5)?;
/// let v = huber.value(&Pointwise::new(&[0.0f64, 2.0], &[0.25, 0.0]), Reduction::Sum)?;
/// assert_eq!(v, 0.5 * 0.25 * 0.25 + 0.5 * (2.0 - 0.25));
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// P. J. Huber, "Robust Estimation of a Location Parameter", 1964. PyTorch
/// `torch.nn.functional.huber_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Huber {
    delta: f64,
}

impl Huber {
    /// Huber loss with threshold `delta`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `delta > 0` and finite.
    pub fn new(delta: f64) -> Result<Self> {
        if !(delta > 0.0 && delta.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "huber",
                param: "delta",
                value: delta,
                expected: "> 0 and finite",
            });
        }
        Ok(Huber { delta })
    }

    /// The threshold.
    pub fn delta(&self) -> f64 {
        self.delta
    }
}

/// `delta = 1`, PyTorch's default.
impl Default for Huber {
    fn default() -> Self {
        Huber { delta: 1.0 }
    }
}

/// `e` clamped to `[−d, d]`, NaN kept.
///
/// Each select is written in the operand order of the SSE/AVX `min`/`max` instructions
/// (`a < b ? a : b`, which yields `b` when either is NaN), so each compiles to one
/// instruction and a NaN `e` falls through both: `f32::min`/`max` would need four more
/// instructions each to drop the NaN, and branches would stop vectorisation.
#[inline(always)]
fn clamp<T: Real>(e: T, d: T) -> T {
    let upper = if d < e { d } else { e };
    if -d > upper {
        -d
    } else {
        upper
    }
}

impl<T: Real> Kernel<T> for Huber {
    const NAME: &'static str = "huber";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        // With c = clamp(e, −δ, δ): c·(e − c/2) is ½e² inside and δ(|e| − δ/2) outside.
        let c = clamp(x - t, T::from_f64(self.delta));
        (c * (x - t - T::HALF * c), c)
    }
}
pointwise_api!(Huber);

/// Smooth L1 loss: Huber divided by its threshold, so the linear part has slope 1.
///
/// # Definition
/// $$\ell_i = \begin{cases} \tfrac12 e_i^2/\beta & |e_i| < \beta \\\\ |e_i| - \tfrac12\beta & \text{otherwise} \end{cases}$$
/// With $\beta = 0$ it is exactly [`Mae`] (value and gradient), as in PyTorch.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = e_i/\beta$ inside, $\operatorname{sign}(e_i)$ outside
/// (0 at $e_i = 0$ when $\beta = 0$).
///
/// # Numerical stability
/// $\beta = 0$ never divides: the quadratic branch is empty. (PyTorch once returned NaN
/// gradients there, pytorch#96813.)
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `beta` | 1.0 | ≥ 0, finite |
///
/// # Errors
/// [`SmoothL1::new`] rejects a negative, NaN or infinite `beta`; see also [`SmoothL1::value`].
///
/// # Example
/// ```
/// use losskit::{Pointwise, Reduction, SmoothL1};
/// let v = SmoothL1::new(2.0)?.value(&Pointwise::new(&[1.0f64, 5.0], &[0.0, 0.0]), Reduction::Sum)?;
/// assert_eq!(v, 0.25 + 4.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// R. Girshick, "Fast R-CNN", 2015. PyTorch `torch.nn.functional.smooth_l1_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothL1 {
    beta: f64,
}

impl SmoothL1 {
    /// Smooth L1 with threshold `beta`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `beta >= 0` and finite.
    pub fn new(beta: f64) -> Result<Self> {
        if !(beta >= 0.0 && beta.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "smooth_l1",
                param: "beta",
                value: beta,
                expected: ">= 0 and finite",
            });
        }
        Ok(SmoothL1 { beta })
    }

    /// The threshold.
    pub fn beta(&self) -> f64 {
        self.beta
    }
}

/// `beta = 1`, PyTorch's default.
impl Default for SmoothL1 {
    fn default() -> Self {
        SmoothL1 { beta: 1.0 }
    }
}

impl<T: Real> Kernel<T> for SmoothL1 {
    const NAME: &'static str = "smooth_l1";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        if self.beta == 0.0 {
            // Exactly L1, as PyTorch routes it: no division by β.
            let e = x - t;
            return (e.abs(), sign(e));
        }
        // huber(δ = β) / β, in the same select form.
        let b = T::from_f64(self.beta);
        let c = clamp(x - t, b);
        (c * (x - t - T::HALF * c) / b, c / b)
    }
}
pointwise_api!(SmoothL1);

/// Log-cosh loss: $\ell = \ln\cosh(x - y)$, quadratic near 0 and linear far out, smooth
/// everywhere.
///
/// # Definition
/// $$\ell_i = \ln\cosh(x_i - y_i)$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = \tanh(x_i - y_i)$.
///
/// # Numerical stability
/// $\cosh$ overflows at $|e| \approx 89$ in f32 and 710 in f64, so the naive form returns
/// ∞. losskit computes $|e| + \ln(1 + e^{-2|e|}) - \ln 2$ for $|e| \ge 1$, finite for every
/// finite residual (`ln cosh 100 = 99.30685281944005`), and $\ln(1 + 2\sinh^2(e/2))$ below,
/// which keeps full relative accuracy where the first form cancels (at $e = 10^{-8}$ it gives
/// $5\cdot10^{-17}$; the first form gives $1.1\cdot10^{-16}$, the naive one 0).
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`LogCosh::value`].
///
/// # Example
/// ```
/// use losskit::{LogCosh, Pointwise, Reduction};
/// let mut g = [0.0f32];
/// let v = LogCosh.value_and_grad(&Pointwise::new(&[1e4f32], &[0.0]), Reduction::Mean, &mut g)?;
/// assert_eq!(v, 1e4 - std::f32::consts::LN_2);
/// assert_eq!(g, [1.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// optax `log_cosh`; Keras `LogCosh`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LogCosh;

impl<T: Real> Kernel<T> for LogCosh {
    const NAME: &'static str = "log_cosh";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        log_cosh(x - t)
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        log_cosh_tanh(x - t)
    }
}
pointwise_api!(LogCosh);

/// Mean squared logarithmic error: the squared difference of $\ln(1 + \cdot)$ of the
/// prediction and the target, each floored at $\varepsilon = 10^{-7}$ (Keras's `epsilon()`).
///
/// # Definition
/// $$\ell_i = \big(\ln(1 + \hat x_i) - \ln(1 + \hat y_i)\big)^2,\qquad
/// \hat x = \max(x, \varepsilon),\ \hat y = \max(y, \varepsilon)$$
/// A relative error: it costs a prediction of 110 for a target of 100 about what 11 costs
/// for 10, and under-prediction more than over-prediction.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = 2 d_i / (1 + x_i)$ for $x_i \ge \varepsilon$, with
/// $d_i = \ln(1 + \hat x_i) - \ln(1 + \hat y_i)$; 0 below $\varepsilon$, where the floor holds
/// the prediction (Keras's too, through `maximum`; at exactly $x = \varepsilon$ PyTorch's
/// `maximum` would split the gradient in half, losskit takes the side above).
///
/// # Numerical stability
/// $d$ is computed as $\ln\big(1 + (\hat x - \hat y)/(1 + \hat y)\big)$ with `ln_1p`: the
/// difference of two logarithms of nearby values cancels (at $x = 10^{-3}$, $y = 1.001\cdot
/// 10^{-3}$ in f32 the naive form keeps no correct digit), the quotient does not. Finite for
/// every finite input.
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`Msle::value`]. Negative values are not an error: the floor maps them to
/// $\varepsilon$, as Keras does.
///
/// # Example
/// ```
/// use losskit::{Msle, Pointwise, Reduction};
/// let (x, y) = ([11.0f64, 110.0], [10.0, 100.0]);
/// let mut g = [0.0; 2];
/// let v = Msle.value_and_grad(&Pointwise::new(&x, &y), Reduction::Sum, &mut g)?;
/// let d = [(12f64 / 11.0).ln(), (111f64 / 101.0).ln()];
/// assert!((v - (d[0] * d[0] + d[1] * d[1])).abs() < 1e-15);
/// assert!((g[0] - 2.0 * d[0] / 12.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Keras `keras.losses.MeanSquaredLogarithmicError` (the numbers matched, Keras 3 on its
/// PyTorch backend; Keras then averages over the last axis, losskit over every element, the
/// same for a rectangular input).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Msle;

impl Msle {
    /// Keras's `backend.epsilon()`: the floor of both the prediction and the target.
    const EPS: f64 = 1e-7;

    /// `(d, x ≥ ε)`: the log-ratio and whether the prediction is above the floor. NaN stays
    /// NaN (it counts as above, so it reaches the value and the gradient).
    #[inline(always)]
    fn log_ratio<T: Real>(x: T, t: T) -> (T, bool) {
        let eps = T::from_f64(Self::EPS);
        let above = x >= eps || x.is_nan();
        let x = if above { x } else { eps };
        let t = if t < eps { eps } else { t };
        // ln(1 + x) − ln(1 + t) = ln(1 + (x − t)/(1 + t)), without the cancellation; an
        // infinite target would make the quotient ∞/∞.
        let d = if t.is_finite() {
            ((x - t) / (T::ONE + t)).ln_1p()
        } else {
            x.ln_1p() - t.ln_1p()
        };
        (d, above)
    }
}

impl<T: Real> Kernel<T> for Msle {
    const NAME: &'static str = "msle";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        let (d, _) = Self::log_ratio(x, t);
        d * d
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let (d, above) = Self::log_ratio(x, t);
        let g = if above {
            (d + d) / (T::ONE + x)
        } else {
            T::ZERO
        };
        (d * d, g)
    }
}
pointwise_api!(Msle);

/// Cauchy (Lorentzian) loss: quadratic near zero, logarithmic far away, so a gross outlier's
/// pull on the fit fades instead of staying constant (as with huber) or growing (mse).
///
/// # Definition
/// $$\ell_i = \tfrac12 c^2 \ln\big(1 + (e_i/c)^2\big),\qquad e_i = x_i - y_i$$
/// SciPy's `least_squares(loss="cauchy", f_scale=c)` cost of one residual.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = e_i / (1 + (e_i/c)^2)$: largest at $|e| = c$, then
/// decreasing to 0. The loss is not convex beyond $|e| = c$.
///
/// # Numerical stability
/// With $z = e/c$: $\ln(1 + z^2)$ is `ln_1p(z²)` for $|z| \le 1$ and $2\ln|z| + \ln(1 + z^{-2})$
/// beyond, so $z^2$ never overflows (the naive form gives ∞ at $|z| \approx 1.8\cdot10^{19}$ in
/// f32); the gradient is $c/(z + 1/z)$ beyond $|z| = 1$ for the same reason.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `c` | 1.0 | > 0, finite |
///
/// # Errors
/// [`Cauchy::new`] rejects `c ≤ 0`, NaN and infinities; see also [`Cauchy::value`].
///
/// # Example
/// ```
/// use losskit::{Cauchy, Pointwise, Reduction};
/// let loss = Cauchy::new(1.0)?;
/// let mut g = [0.0f64; 2];
/// let v = loss.value_and_grad(&Pointwise::new(&[1.0, 100.0], &[0.0, 0.0]), Reduction::Sum, &mut g)?;
/// assert!((v - 0.5 * (2f64.ln() + 10001f64.ln())).abs() < 1e-14);
/// assert!((g[0] - 0.5).abs() < 1e-15 && (g[1] - 100.0 / 10001.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// P. W. Holland and R. E. Welsch, "Robust regression using iteratively reweighted
/// least-squares", 1977; SciPy `scipy.optimize.least_squares` with `loss="cauchy"` (the
/// numbers matched: its cost ½·f_scale²·ρ(z) and gradient ρ'(z)·f per residual).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cauchy {
    c: f64,
}

impl Cauchy {
    /// The Cauchy loss with scale `c`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `c > 0` and finite.
    pub fn new(c: f64) -> Result<Self> {
        if !(c > 0.0 && c.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "cauchy",
                param: "c",
                value: c,
                expected: "> 0 and finite",
            });
        }
        Ok(Cauchy { c })
    }

    /// The scale: residuals well below it are quadratic, well above it logarithmic.
    pub fn c(&self) -> f64 {
        self.c
    }
}

/// `c = 1`, SciPy's default `f_scale`.
impl Default for Cauchy {
    fn default() -> Self {
        Cauchy { c: 1.0 }
    }
}

impl<T: Real> Kernel<T> for Cauchy {
    const NAME: &'static str = "cauchy";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let c = T::from_f64(self.c);
        let half_c2 = T::from_f64(0.5 * self.c * self.c);
        let e = x - t;
        let z = e / c;
        let a = z.abs();
        if a <= T::ONE {
            let z2 = z * z;
            (half_c2 * z2.ln_1p(), e / (T::ONE + z2))
        } else {
            // Beyond |z| = 1 (NaN too): no z² to overflow.
            let r = T::ONE / a;
            let log = (a.ln() + a.ln()) + (r * r).ln_1p();
            (half_c2 * log, c / (z + T::ONE / z))
        }
    }
}
pointwise_api!(Cauchy);

/// Wing loss (Feng et al. 2018) for landmark regression: logarithmic for small and medium
/// residuals, so they keep a large gradient, and linear beyond `w`.
///
/// # Definition
/// $$\ell_i = \begin{cases} w \ln(1 + |e_i|/\epsilon) & |e_i| < w\\ |e_i| - C & \text{else}
/// \end{cases},\qquad C = w - w\ln(1 + w/\epsilon),\ e_i = x_i - y_i$$
/// $C$ makes the two pieces meet at $|e| = w$.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = \operatorname{sign}(e_i)\, w/(\epsilon + |e_i|)$ inside,
/// $\operatorname{sign}(e_i)$ beyond; 0 at $e_i = 0$. The gradient jumps at $|e| = w$ (from
/// $w/(\epsilon + w)$ to 1) and at 0: both are kinks.
///
/// # Numerical stability
/// `ln_1p(|e|/ε)`: accurate at small residuals, where most landmarks end up.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `w` | 10.0 | > 0, finite |
/// | `epsilon` | 2.0 | > 0, finite |
///
/// # Errors
/// [`Wing::new`] rejects a `w` or `epsilon` ≤ 0, NaN or infinite; see also [`Wing::value`].
///
/// # Example
/// ```
/// use losskit::{Pointwise, Reduction, Wing};
/// let wing = Wing::default(); // w = 10, ε = 2
/// let mut g = [0.0f64; 2];
/// let v = wing.value_and_grad(&Pointwise::new(&[2.0, 12.0], &[0.0, 0.0]), Reduction::Sum, &mut g)?;
/// let c = 10.0 - 10.0 * 6f64.ln();
/// assert!((v - (10.0 * 2f64.ln() + 12.0 - c)).abs() < 1e-13);
/// assert_eq!(g, [2.5, 1.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Z.-H. Feng, J. Kittler, M. Awais, P. Huber and X.-J. Wu, "Wing Loss for Robust Facial
/// Landmark Localisation with Convolutional Neural Networks", CVPR 2018 (eq. 5). The
/// reference values are the paper's formula through PyTorch autograd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wing {
    w: f64,
    epsilon: f64,
}

impl Wing {
    /// The wing loss with width `w` and curvature `epsilon`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless both are > 0 and finite.
    pub fn new(w: f64, epsilon: f64) -> Result<Self> {
        for (param, value) in [("w", w), ("epsilon", epsilon)] {
            if !(value > 0.0 && value.is_finite()) {
                return Err(Error::InvalidParam {
                    loss: "wing",
                    param,
                    value,
                    expected: "> 0 and finite",
                });
            }
        }
        Ok(Wing { w, epsilon })
    }

    /// The width of the logarithmic part.
    pub fn w(&self) -> f64 {
        self.w
    }

    /// The curvature of the logarithmic part.
    pub fn epsilon(&self) -> f64 {
        self.epsilon
    }
}

/// `w = 10`, `epsilon = 2`, the paper's defaults.
impl Default for Wing {
    fn default() -> Self {
        Wing {
            w: 10.0,
            epsilon: 2.0,
        }
    }
}

impl<T: Real> Kernel<T> for Wing {
    const NAME: &'static str = "wing";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let (w, eps) = (T::from_f64(self.w), T::from_f64(self.epsilon));
        let e = x - t;
        let a = e.abs();
        if a < w {
            (w * (a / eps).ln_1p(), sign(e) * w / (eps + a))
        } else {
            // C = w − w·ln(1 + w/ε), in f64 once per call. NaN lands here and stays NaN.
            let c = T::from_f64(self.w - self.w * (self.w / self.epsilon).ln_1p());
            (a - c, sign(e))
        }
    }
}
pointwise_api!(Wing);

/// Mean absolute percentage error: the absolute error as a percentage of the target, the
/// target's size floored at $\varepsilon = 10^{-7}$ (Keras's `epsilon()`).
///
/// # Definition
/// $$\ell_i = 100\,\frac{|y_i - x_i|}{\max(|y_i|, \varepsilon)}$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = 100\,\operatorname{sign}(x_i - y_i) / \max(|y_i|, \varepsilon)$,
/// 0 at $x_i = y_i$ (the subgradient PyTorch's `abs` takes, through which Keras's runs).
///
/// # Numerical stability
/// The quotient is formed as Keras forms it, $(y - x)/\max(|y|, \varepsilon)$ then its
/// absolute value, so the numbers are Keras's to the last bit in f32. A target of 0 makes the
/// loss $10^9\,|x|$: finite, and what Keras gives, but it dominates any mean; see the pitfalls.
///
/// # Parameters
/// None.
///
/// # Errors
/// See [`Mape::value`].
///
/// # Example
/// ```
/// use losskit::{Mape, Pointwise, Reduction};
/// let (x, y) = ([110.0f64, 9.0], [100.0, 10.0]);
/// let mut g = [0.0; 2];
/// let v = Mape.value_and_grad(&Pointwise::new(&x, &y), Reduction::Mean, &mut g)?;
/// assert!((v - 10.0).abs() < 1e-12); // 10% off both times
/// assert_eq!(g, [0.5, -5.0]); // 100·sign(e)/|y|, halved by the mean
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Keras `keras.losses.MeanAbsolutePercentageError` (the numbers matched, Keras 3 on its
/// PyTorch backend).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Mape;

impl Mape {
    /// Keras's `backend.epsilon()`: the floor of the target's size.
    const EPS: f64 = 1e-7;

    /// `max(|t|, ε)`, NaN kept.
    #[inline(always)]
    fn scale<T: Real>(t: T) -> T {
        let a = t.abs();
        let eps = T::from_f64(Self::EPS);
        if a < eps {
            eps
        } else {
            a
        }
    }
}

impl<T: Real> Kernel<T> for Mape {
    const NAME: &'static str = "mape";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        T::from_f64(100.0) * ((t - x) / Self::scale(t)).abs()
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let d = Self::scale(t);
        let hundred = T::from_f64(100.0);
        let q = (t - x) / d;
        (hundred * q.abs(), -hundred * sign(q) / d)
    }
}
pointwise_api!(Mape);

/// Quantile (pinball) loss: the loss whose minimiser is the `tau`-quantile of the target.
///
/// # Definition
/// $$\ell_i = \max\big(\tau r_i,\ (\tau - 1) r_i\big),\qquad r_i = y_i - x_i$$
/// Under-prediction costs $\tau$ per unit, over-prediction $1 - \tau$. At $\tau = 0.5$ it is
/// half the absolute error.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = -\tau$ where $x_i < y_i$, $1 - \tau$ where $x_i > y_i$,
/// and $\tfrac12 - \tau$ at $x_i = y_i$ (the mean of the two one-sided slopes: 0 at
/// $\tau = \tfrac12$, like [`Mae`]; it is also what autograd gives for
/// `torch.maximum(tau*e, (tau-1)*e)`).
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `tau` | 0.5 | (0, 1) |
///
/// # Errors
/// [`Quantile::new`] rejects `tau` outside (0, 1) and NaN; see also [`Quantile::value`].
///
/// # Example
/// ```
/// use losskit::{Pointwise, Quantile, Reduction};
/// let q90 = Quantile::new(0.9)?;
/// // Under-predicting by 1 costs 0.9, over-predicting by 1 costs 0.1.
/// let v = q90.value(&Pointwise::new(&[0.0f64, 2.0], &[1.0, 1.0]), Reduction::Sum)?;
/// assert!((v - 1.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// R. Koenker and G. Bassett, "Regression Quantiles", Econometrica 1978. The reference is
/// the formula, evaluated with PyTorch autograd in float64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantile {
    tau: f64,
}

impl Quantile {
    /// The pinball loss of quantile `tau`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `0 < tau < 1`.
    pub fn new(tau: f64) -> Result<Self> {
        if !(tau > 0.0 && tau < 1.0) {
            return Err(Error::InvalidParam {
                loss: "quantile",
                param: "tau",
                value: tau,
                expected: "in (0, 1)",
            });
        }
        Ok(Quantile { tau })
    }

    /// The quantile.
    pub fn tau(&self) -> f64 {
        self.tau
    }
}

/// `tau = 0.5`: the median.
impl Default for Quantile {
    fn default() -> Self {
        Quantile { tau: 0.5 }
    }
}

impl<T: Real> Kernel<T> for Quantile {
    const NAME: &'static str = "quantile";
    #[inline(always)]
    fn loss(&self, x: T, t: T) -> T {
        self.loss_grad(x, t).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T) -> (T, T) {
        let tau = T::from_f64(self.tau);
        let e = t - x;
        let slope = if e > T::ZERO { tau } else { tau - T::ONE };
        // Selects only (no branch per element); a NaN residual stays NaN in both outputs.
        let g = if e > T::ZERO {
            -tau
        } else if e < T::ZERO {
            T::ONE - tau
        } else {
            T::HALF - tau + e
        };
        (slope * e, g)
    }
}
pointwise_api!(Quantile);

/// Poisson negative log-likelihood of a count `target` given a predicted rate.
///
/// # Definition
/// With `log_input` (the default), `input` is the log-rate:
/// $$\ell_i = e^{x_i} - y_i x_i$$
/// Without it, `input` is the rate itself:
/// $$\ell_i = x_i - y_i \ln(x_i + \varepsilon)$$
/// With `full`, Stirling's term $y\ln y - y + \tfrac12\ln(2\pi y)$ is added where $y > 1$.
///
/// # Gradient
/// $e^{x_i} - y_i$ (log input), $1 - y_i/(x_i + \varepsilon)$ (rate input). Stirling's term
/// does not depend on the input.
///
/// # Numerical stability
/// The log-input form is finite wherever $e^{x}$ is (x < 88 in f32). In the rate form a zero
/// count contributes $x_i$ exactly ($0 \cdot \ln 0 = 0$, where PyTorch gives NaN at
/// $x_i = 0, \varepsilon = 0$).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `log_input` | true | |
/// | `full` | false | |
/// | `eps` | 1e-8 | ≥ 0, finite |
///
/// # Errors
/// [`PoissonNll::eps`] rejects a negative or non-finite `eps`; evaluation rejects a negative
/// `target` (counts are ≥ 0) and, without `log_input`, a negative rate.
///
/// # Example
/// ```
/// use losskit::{Pointwise, PoissonNll, Reduction};
/// let loss = PoissonNll::default(); // log_input = true
/// let v = loss.value(&Pointwise::new(&[0.0f64], &[3.0]), Reduction::Mean)?;
/// assert_eq!(v, 1.0); // e^0 - 3·0
/// let rate = PoissonNll::default().log_input(false).eps(0.0)?;
/// let v = rate.value(&Pointwise::new(&[2.0f64], &[0.0]), Reduction::Mean)?;
/// assert_eq!(v, 2.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.poisson_nll_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonNll {
    log_input: bool,
    full: bool,
    eps: f64,
}

/// PyTorch's defaults: `log_input = true`, `full = false`, `eps = 1e-8`.
impl Default for PoissonNll {
    fn default() -> Self {
        PoissonNll {
            log_input: true,
            full: false,
            eps: 1e-8,
        }
    }
}

impl PoissonNll {
    /// Whether `input` is the log of the rate (true) or the rate itself.
    #[must_use]
    pub fn log_input(mut self, log_input: bool) -> Self {
        self.log_input = log_input;
        self
    }

    /// Whether to add Stirling's approximation of $\ln(y!)$.
    #[must_use]
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// The offset inside $\ln(x + \varepsilon)$ of the rate form.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `eps >= 0` and finite.
    pub fn eps(mut self, eps: f64) -> Result<Self> {
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "poisson_nll",
                param: "eps",
                value: eps,
                expected: ">= 0 and finite",
            });
        }
        self.eps = eps;
        Ok(self)
    }

    pub(crate) fn is_log_input(&self) -> bool {
        self.log_input
    }

    pub(crate) fn is_full(&self) -> bool {
        self.full
    }

    pub(crate) fn eps_value(&self) -> f64 {
        self.eps
    }
}

typed_api!(
    PoissonNll,
    Pointwise,
    poisson,
    "[`Error::ShapeMismatch`](crate::Error::ShapeMismatch) when `target` or `weight` differs in shape from `input`;"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn log_cosh_agrees_with_the_naive_form_where_that_is_safe_and_stays_finite_beyond() {
        for &e in &[-20.0f64, -3.0, -1.0, 0.0, 1.5, 3.0, 20.0] {
            let stable = LogCosh
                .value(&Pointwise::new(&[e], &[0.0]), Reduction::Sum)
                .unwrap();
            assert!(
                (stable - e.cosh().ln()).abs() <= 4.0 * f64::EPSILON * stable,
                "{e}"
            );
        }
        for &e in &[89.0f32, 100.0, 1e4, -1e4, 3e38] {
            let mut g = [0.0f32];
            let v = LogCosh
                .value_and_grad(&Pointwise::new(&[e], &[0.0]), Reduction::Mean, &mut g)
                .unwrap();
            assert!(v.is_finite() && (v - (e.abs() - core::f32::consts::LN_2)).abs() <= v * 1e-6);
            assert_eq!(g[0], e.signum());
        }
    }

    #[test]
    fn kinks_take_the_documented_subgradient() {
        let x = [1.0f64, 2.0];
        let mut g = [9.0; 2];
        Mae.value_and_grad(&Pointwise::new(&x, &x), Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!(g, [0.0, 0.0]);
        SmoothL1::new(0.0)
            .unwrap()
            .value_and_grad(&Pointwise::new(&x, &x), Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!(g, [0.0, 0.0]);
        // Huber at |e| = δ: both branches agree.
        let v = Huber::new(0.5)
            .unwrap()
            .value_and_grad(&Pointwise::new(&[0.5], &[0.0]), Reduction::Sum, &mut g[..1])
            .unwrap();
        assert_eq!((v, g[0]), (0.125, 0.5));
        // smooth_l1(β) = huber(δ = β) / β, away from the boundary.
        let (xs, ys) = ([0.1f64, -0.3, 2.0, -5.0], [0.0f64; 4]);
        let s = SmoothL1::new(0.5)
            .unwrap()
            .value(&Pointwise::new(&xs, &ys), Reduction::Sum)
            .unwrap();
        let h = Huber::new(0.5)
            .unwrap()
            .value(&Pointwise::new(&xs, &ys), Reduction::Sum)
            .unwrap();
        assert!((s - h / 0.5).abs() < 1e-15);
    }

    #[test]
    fn nan_in_gives_nan_out_and_nothing_else_is_nan() {
        let x = [f64::NAN, 1.0];
        let y = [0.0, 1.0];
        let mut g = [0.0; 2];
        let v = Quantile::default()
            .value_and_grad(&Pointwise::new(&x, &y), Reduction::Sum, &mut g)
            .unwrap();
        assert!(v.is_nan() && g[0].is_nan() && g[1] == 0.0);
        let v = Mae
            .value_and_grad(&Pointwise::new(&x, &y), Reduction::Sum, &mut g)
            .unwrap();
        assert!(v.is_nan() && g[0].is_nan() && g[1] == 0.0);
    }

    #[test]
    fn bad_input_is_an_error_that_names_it() {
        let x = [1.0f32, 2.0];
        let col = Tensor::new(&x, &[2, 1]).unwrap();
        let err = Mse
            .value(&Pointwise::new(col, &x), Reduction::Mean)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mse: `target` has shape [2], expected [2, 1] (the shape of `input`); nothing is broadcast"
        );
        let empty: [f32; 0] = [];
        assert_eq!(
            Huber::default()
                .value(&Pointwise::new(&empty, &empty), Reduction::Mean)
                .unwrap_err(),
            Error::EmptyMean { loss: "huber" }
        );
        assert_eq!(
            Huber::default()
                .value(&Pointwise::new(&empty, &empty), Reduction::Sum)
                .unwrap(),
            0.0
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Huber::new(bad),
                Err(Error::InvalidParam { param: "delta", .. })
            ));
        }
        for bad in [0.0, 1.0, 1.5, f64::NAN] {
            assert!(matches!(
                Quantile::new(bad),
                Err(Error::InvalidParam { param: "tau", .. })
            ));
        }
        assert!(SmoothL1::new(-0.1).is_err() && GaussianNll::default().eps(0.0).is_err());
        let err = Mse
            .value(
                &Pointwise::new(&x, &x).weight(&[1.0, -2.0]),
                Reduction::Mean,
            )
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mse: `weight` at [1] is -2, expected a finite weight >= 0"
        );
        let mut g = [0.0f32; 3];
        let err = Mse
            .value_and_grad(&Pointwise::new(&x, &x), Reduction::Mean, &mut g)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "mse: the buffer for the gradient of `input` has length 3, expected 2"
        );
        let err = PoissonNll::default()
            .value(&Pointwise::new(&x, &[1.0, -3.0]), Reduction::Sum)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "poisson_nll: `target` at [1] is -3, expected a count >= 0"
        );
        let var = [1.0f32, -0.5];
        let err = GaussianNll::default()
            .value(&GaussianInputs::new(&x, &x, &var), Reduction::Mean)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "gaussian_nll: `var` at [1] is -0.5, expected a variance >= 0"
        );
    }

    #[test]
    fn zero_weights_give_a_zero_mean_with_zero_gradients() {
        let mut g = [7.0f64; 2];
        let v = Huber::default()
            .value_and_grad(
                &Pointwise::new(&[1.0, 5.0], &[0.0, 0.0]).weight(&[0.0, 0.0]),
                Reduction::Mean,
                &mut g,
            )
            .unwrap();
        assert_eq!((v, g), (0.0, [0.0, 0.0]));
    }

    #[test]
    fn gaussian_variance_may_be_shared_along_the_last_dimension() {
        let x = [1.0f64, 2.0, 3.0, 4.0];
        let t = [0.0f64; 4];
        let full = [2.0, 2.0, 0.5, 0.5];
        let loss = GaussianNll::default();
        let shape = |d: &'static [usize]| d;
        let xi = Tensor::new(&x, shape(&[2, 2])).unwrap();
        let ti = Tensor::new(&t, &[2, 2]).unwrap();
        let (mut gx_full, mut gv_full) = ([0.0; 4], [0.0; 4]);
        let a = loss
            .value_and_grad(
                &GaussianInputs::new(xi, ti, Tensor::new(&full, &[2, 2]).unwrap()),
                Reduction::Mean,
                &mut gx_full,
                &mut gv_full,
            )
            .unwrap();
        for dims in [&[2usize][..], &[2, 1][..]] {
            let (mut gx, mut gv) = ([0.0; 4], [0.0; 2]);
            let var = Tensor::new(&[2.0, 0.5], dims).unwrap();
            let b = loss
                .value_and_grad(
                    &GaussianInputs::new(xi, ti, var),
                    Reduction::Mean,
                    &mut gx,
                    &mut gv,
                )
                .unwrap();
            assert_eq!(a, b);
            assert_eq!(gx, gx_full);
            assert_eq!(gv, [gv_full[0] + gv_full[1], gv_full[2] + gv_full[3]]);
        }
        let err = loss
            .value(
                &GaussianInputs::new(xi, ti, Tensor::new(&[1.0, 1.0, 1.0], &[3]).unwrap()),
                Reduction::Mean,
            )
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { arg: "var", .. }));
    }
}
