//! Margin losses on ±1 targets: [`Hinge`], [`SquaredHinge`], [`SoftMargin`],
//! [`HingeEmbedding`] and [`MarginRanking`].

use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{dispatch2, Call, Kept, Out, Vjp};
use crate::numerics::{block_sum, chunked_fold, chunked_fold_mut, logistic, simd, Lanes, SimdFn};
use crate::real::Real;
use crate::reduction::Reduction;

use crate::tensor::Tensor;

use super::binary::{self, binary_api, BinaryInputs, Kernel};

/// What a ±1 target must be, and why {0, 1} labels are rejected rather than mapped.
pub(crate) const SIGN_DOMAIN: &str =
    "-1 or +1 (map {0, 1} labels with 2y - 1 first: with y = 0 the loss is silently wrong)";

/// Whether `t` is ±1 (or NaN, which propagates).
#[inline(always)]
fn is_sign<T: Real>(t: T) -> bool {
    t == T::ONE || t == -T::ONE || t.is_nan()
}

/// `max(0, z)` with NaN kept (`Real::max` would return 0).
#[inline(always)]
fn relu<T: Real>(z: T) -> T {
    if z < T::ZERO {
        T::ZERO
    } else {
        z
    }
}

/// `1` where `z > 0`, `0` where `z ≤ 0` (the kink included, as PyTorch's autograd of
/// `clamp(z, min=0)`), NaN where `z` is NaN.
#[inline(always)]
fn active<T: Real>(z: T) -> T {
    if z > T::ZERO {
        T::ONE
    } else if z <= T::ZERO {
        T::ZERO
    } else {
        z
    }
}

fn sign_error<T: Real>(t: T) -> (&'static str, T, &'static str) {
    ("target", t, SIGN_DOMAIN)
}

fn check_margin(loss: &'static str, margin: f64) -> Result<f64> {
    if !margin.is_finite() {
        return Err(Error::InvalidParam {
            loss,
            param: "margin",
            value: margin,
            expected: "finite",
        });
    }
    Ok(margin)
}

/// Hinge loss $\max(0, m - y x)$: the SVM loss on a score and a ±1 label.
///
/// # Definition
/// $$\ell_i = \max(0,\ m - y_i x_i),\qquad y_i \in \{-1, +1\}$$
/// Zero once the score is on the right side by at least the margin $m$.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = -y_i$ where $m - y_i x_i > 0$, and 0 elsewhere,
/// including at the kink $y_i x_i = m$: the subgradient PyTorch's autograd gives for
/// `torch.clamp(margin - y*x, min=0)`.
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 1.0 | finite |
///
/// # Errors
/// [`Hinge::new`] rejects a NaN or infinite margin. A target other than −1 or +1 is an
/// [`Error::InvalidValue`]: with {0, 1} labels every negative (y = 0) would cost $m$ whatever
/// the score, with zero gradient, and nothing would flag it. Map them with $2y - 1$.
/// See also [`Hinge::value`].
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, Hinge, Reduction};
/// let scores = [2.0f32, 0.5, -0.25];
/// let labels = [1.0f32, 1.0, 1.0];
/// let mut grad = [0.0f32; 3];
/// let v = Hinge::default().value_and_grad(&BinaryInputs::new(&scores, &labels), Reduction::Sum, &mut grad)?;
/// assert_eq!(v, 0.0 + 0.5 + 1.25);
/// assert_eq!(grad, [0.0, -1.0, -1.0]);
/// assert!(Hinge::default().value(&BinaryInputs::new(&scores, &[1.0, 0.0, 1.0]), Reduction::Sum).is_err());
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// C. Cortes and V. Vapnik, "Support-Vector Networks", 1995. The reference is the formula,
/// evaluated with PyTorch autograd (`torch.clamp(margin - target * input, min=0)`); Keras
/// `Hinge` and optax `hinge_loss` are the same loss with $m = 1$.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hinge {
    margin: f64,
}

impl Hinge {
    /// The hinge loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(Hinge {
            margin: check_margin("hinge", margin)?,
        })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// `margin = 1`, the SVM convention.
impl Default for Hinge {
    fn default() -> Self {
        Hinge { margin: 1.0 }
    }
}

impl<T: Real> Kernel<T> for Hinge {
    const NAME: &'static str = "hinge";
    #[inline(always)]
    fn loss(&self, x: T, y: T, _pw: T) -> T {
        relu(T::from_f64(self.margin) - y * x)
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        let z = T::from_f64(self.margin) - y * x;
        (relu(z), -y * active(z))
    }
    #[inline(always)]
    fn valid(&self, _x: T, y: T) -> bool {
        is_sign(y)
    }
    fn why_invalid(&self, _x: T, y: T) -> (&'static str, T, &'static str) {
        sign_error(y)
    }
}
binary_api!(Hinge);

/// Squared hinge loss $\max(0, m - y x)^2$: the hinge with a continuous gradient.
///
/// # Definition
/// $$\ell_i = \max(0,\ m - y_i x_i)^2,\qquad y_i \in \{-1, +1\}$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = -2 y_i \max(0,\ m - y_i x_i)$: continuous, 0 at the kink.
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 1.0 | finite |
///
/// # Errors
/// As [`Hinge`]: a target other than ±1 is an error (map {0, 1} labels with $2y - 1$).
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, Reduction, SquaredHinge};
/// let mut grad = [0.0f64; 2];
/// let v = SquaredHinge::default()
///     .value_and_grad(&BinaryInputs::new(&[0.5, 3.0], &[1.0, -1.0]), Reduction::Sum, &mut grad)?;
/// assert_eq!(v, 0.25 + 16.0);
/// assert_eq!(grad, [-1.0, 8.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Keras `SquaredHinge` (with $m = 1$); the reference is the formula, evaluated with PyTorch
/// autograd (`torch.clamp(margin - target * input, min=0) ** 2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SquaredHinge {
    margin: f64,
}

impl SquaredHinge {
    /// The squared hinge loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(SquaredHinge {
            margin: check_margin("squared_hinge", margin)?,
        })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// `margin = 1`.
impl Default for SquaredHinge {
    fn default() -> Self {
        SquaredHinge { margin: 1.0 }
    }
}

impl<T: Real> Kernel<T> for SquaredHinge {
    const NAME: &'static str = "squared_hinge";
    #[inline(always)]
    fn loss(&self, x: T, y: T, pw: T) -> T {
        self.loss_grad(x, y, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        let h = relu(T::from_f64(self.margin) - y * x);
        (h * h, -(y + y) * h)
    }
    #[inline(always)]
    fn valid(&self, _x: T, y: T) -> bool {
        is_sign(y)
    }
    fn why_invalid(&self, _x: T, y: T) -> (&'static str, T, &'static str) {
        sign_error(y)
    }
}
binary_api!(SquaredHinge);

/// Soft margin loss $\ln(1 + e^{-y x})$: logistic regression on ±1 labels.
///
/// # Definition
/// $$\ell_i = \ln\big(1 + e^{-y_i x_i}\big) = \mathrm{softplus}(-y_i x_i),\qquad y_i \in \{-1, +1\}$$
/// the same numbers as [`BceWithLogits`](crate::BceWithLogits) with the label $(y + 1)/2$.
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = -y_i\,\sigma(-y_i x_i)$.
///
/// # Numerical stability
/// Computed as a softplus, finite for every finite score. PyTorch's `soft_margin_loss`
/// evaluates `log1p(exp(-y*x))` literally: it returns ∞ once $-y x \gtrsim 89$ in f32
/// (710 in f64), and a NaN gradient there; here the loss is $-y x$ to rounding and the
/// gradient $-y$ (a deliberate difference).
///
/// # Parameters
/// None.
///
/// # Errors
/// As [`Hinge`]: a target other than ±1 is an error. See also [`SoftMargin::value`].
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, Reduction, SoftMargin};
/// let mut grad = [0.0f32; 2];
/// let v = SoftMargin.value_and_grad(&BinaryInputs::new(&[0.0f32, -100.0], &[-1.0, 1.0]), Reduction::Sum, &mut grad)?;
/// assert_eq!(v, std::f32::consts::LN_2 + 100.0);
/// assert_eq!(grad, [0.5, -1.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.soft_margin_loss` (the numbers matched wherever it is
/// finite).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SoftMargin;

impl<T: Real> Kernel<T> for SoftMargin {
    const NAME: &'static str = "soft_margin";
    #[inline(always)]
    fn loss(&self, x: T, y: T, pw: T) -> T {
        self.loss_grad(x, y, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        // softplus(z) = −ln(1 − σ(z)) and σ(z) from one exponential.
        let b = logistic(-y * x);
        (-b.log_q, -y * b.p)
    }
    #[inline(always)]
    fn valid(&self, _x: T, y: T) -> bool {
        is_sign(y)
    }
    fn why_invalid(&self, _x: T, y: T) -> (&'static str, T, &'static str) {
        sign_error(y)
    }
}
binary_api!(SoftMargin);

/// Hinge embedding loss: the input itself for a similar pair (+1), $\max(0, m - x)$ for a
/// dissimilar one (−1); the input is usually a distance.
///
/// # Definition
/// $$\ell_i = \begin{cases} x_i & y_i = 1\\ \max(0,\ m - x_i) & y_i = -1\end{cases}$$
///
/// # Gradient
/// $\partial \ell_i / \partial x_i = 1$ for $y_i = 1$; $-1$ for $y_i = -1$ where $m - x_i > 0$,
/// 0 elsewhere, including at the kink $x_i = m$ (PyTorch's autograd of its `clamp_min`).
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 1.0 | finite |
///
/// # Errors
/// [`HingeEmbedding::new`] rejects a NaN or infinite margin. A target other than −1 or +1 is an
/// [`Error::InvalidValue`] (PyTorch adds both branches for any other value, so a 0/1 label
/// gives `x + max(0, m − x)` silently). See also [`HingeEmbedding::value`].
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, HingeEmbedding, Reduction};
/// let distances = [0.25f32, 0.25, 1.5];
/// let labels = [1.0f32, -1.0, -1.0];
/// let mut grad = [0.0f32; 3];
/// let loss = HingeEmbedding::default();
/// let v = loss.value_and_grad(&BinaryInputs::new(&distances, &labels), Reduction::Sum, &mut grad)?;
/// assert_eq!(v, 0.25 + 0.75 + 0.0);
/// assert_eq!(grad, [1.0, -1.0, 0.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.hinge_embedding_loss` (the numbers matched); R. Hadsell,
/// S. Chopra and Y. LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", 2006.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HingeEmbedding {
    margin: f64,
}

impl HingeEmbedding {
    /// The hinge embedding loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(HingeEmbedding {
            margin: check_margin("hinge_embedding", margin)?,
        })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// `margin = 1`, PyTorch's default.
impl Default for HingeEmbedding {
    fn default() -> Self {
        HingeEmbedding { margin: 1.0 }
    }
}

impl<T: Real> Kernel<T> for HingeEmbedding {
    const NAME: &'static str = "hinge_embedding";
    #[inline(always)]
    fn loss(&self, x: T, y: T, pw: T) -> T {
        self.loss_grad(x, y, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, y: T, _pw: T) -> (T, T) {
        if y == T::ONE {
            (x, T::ONE)
        } else if y == -T::ONE {
            let z = T::from_f64(self.margin) - x;
            (relu(z), -active(z))
        } else {
            // A NaN target (the only other value `valid` lets through) propagates.
            (y, y)
        }
    }
    #[inline(always)]
    fn valid(&self, _x: T, y: T) -> bool {
        is_sign(y)
    }
    fn why_invalid(&self, _x: T, y: T) -> (&'static str, T, &'static str) {
        sign_error(y)
    }
}
binary_api!(HingeEmbedding);

/// The inputs of [`MarginRanking`]: two scores `x1`, `x2` and a `target` of ±1, all of the
/// same shape. `target = 1` means `x1` should rank higher than `x2`.
///
/// ```
/// use losskit::RankingInputs;
/// let inputs = RankingInputs::new(&[0.3f32, 1.0], &[0.5f32, -1.0], &[1.0f32, -1.0]);
/// assert_eq!(inputs.x1().dims(), &[2]);
/// ```
#[derive(Debug)]
pub struct RankingInputs<'a, T> {
    x1: Tensor<'a, T>,
    x2: Tensor<'a, T>,
    target: Tensor<'a, T>,
}

impl<'a, T> RankingInputs<'a, T> {
    /// The two scores and the target (their shapes are checked by the loss).
    pub fn new(
        x1: impl Into<Tensor<'a, T>>,
        x2: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
    ) -> Self {
        RankingInputs {
            x1: x1.into(),
            x2: x2.into(),
            target: target.into(),
        }
    }

    /// The first score.
    pub fn x1(&self) -> Tensor<'a, T> {
        self.x1
    }

    /// The second score.
    pub fn x2(&self) -> Tensor<'a, T> {
        self.x2
    }

    /// The target.
    pub fn target(&self) -> Tensor<'a, T> {
        self.target
    }
}

impl<T> Clone for RankingInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for RankingInputs<'_, T> {}

const RANKING: &str = "margin_ranking";

/// Margin ranking loss $\max(0, -y (x_1 - x_2) + m)$: learns an order of two scores.
///
/// # Definition
/// $$\ell_i = \max\big(0,\ -y_i\,(x_{1,i} - x_{2,i}) + m\big),\qquad y_i \in \{-1, +1\}$$
/// With $y = 1$ it is zero once $x_1 \ge x_2 + m$; with $y = -1$, once $x_2 \ge x_1 + m$.
///
/// # Gradient
/// $\partial \ell_i / \partial x_{1,i} = -y_i$ and $\partial \ell_i / \partial x_{2,i} = y_i$
/// where the loss is positive, both 0 elsewhere (the kink included, as PyTorch's autograd).
///
/// # Numerical stability
/// Exact; no transcendental functions.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 0.0 | finite |
///
/// # Errors
/// [`MarginRanking::new`] rejects a NaN or infinite margin. Evaluation rejects `x2` or
/// `target` of a shape other than `x1`'s ([`Error::ShapeMismatch`]), a target other than
/// ±1 ([`Error::InvalidValue`]), `Mean` over no elements ([`Error::EmptyMean`]) and gradient
/// buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{MarginRanking, RankingInputs, Reduction};
/// let loss = MarginRanking::new(0.5)?;
/// let inputs = RankingInputs::new(&[1.0f64, 0.0], &[0.0, 0.2], &[1.0, 1.0]);
/// let (mut g1, mut g2) = ([0.0; 2], [0.0; 2]);
/// let v = loss.value_and_grad(&inputs, Reduction::Sum, &mut g1, &mut g2)?;
/// assert!((v - 0.7).abs() < 1e-15); // 0 + (0.2 + 0.5)
/// assert_eq!((g1, g2), ([0.0, -1.0], [0.0, 1.0]));
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.margin_ranking_loss`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MarginRanking {
    margin: f64,
}

impl MarginRanking {
    /// The ranking loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite.
    pub fn new(margin: f64) -> Result<Self> {
        Ok(MarginRanking {
            margin: check_margin(RANKING, margin)?,
        })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }

    fn check<T: Real>(&self, inputs: &RankingInputs<'_, T>, reduction: Reduction) -> Result<f64> {
        let dims = inputs.x1.dims();
        for (arg, t) in [("x2", &inputs.x2), ("target", &inputs.target)] {
            if t.dims() != dims {
                return Err(Error::ShapeMismatch {
                    loss: RANKING,
                    arg,
                    actual: t.dims().to_vec(),
                    expected: dims.to_vec(),
                    because: "the shape of `x1`",
                });
            }
        }
        match reduction {
            Reduction::Sum => Ok(1.0),
            Reduction::Mean if inputs.x1.is_empty() => Err(Error::EmptyMean { loss: RANKING }),
            Reduction::Mean => Ok(inputs.x1.len() as f64),
        }
    }

    fn invalid<T: Real>(&self, inputs: &RankingInputs<'_, T>) -> Error {
        let t = inputs.target.data();
        let i = t.iter().position(|&y| !is_sign(y)).unwrap_or(0);
        Error::InvalidValue {
            loss: RANKING,
            arg: "target",
            index: inputs.target.shape().unravel(i),
            value: t.get(i).map_or(0.0, |y| y.to_f64()),
            expected: SIGN_DOMAIN,
        }
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &RankingInputs<'_, T>, reduction: Reduction) -> Result<T> {
        let denom = self.check(inputs, reduction)?;
        let m = T::from_f64(self.margin);
        let (a, b, t) = (inputs.x1.data(), inputs.x2.data(), inputs.target.data());
        let (sum, ok) = chunked_fold(
            a.len(),
            (0.0, true),
            |r| {
                let a = &a[r.clone()];
                let (b, t) = (&b[r.clone()][..a.len()], &t[r][..a.len()]);
                simd(SimdFn(
                    #[inline(always)]
                    || {
                        let (mut lanes, mut ok) = (Lanes::default(), true);
                        block_sum(
                            a.len(),
                            &mut lanes,
                            #[inline(always)]
                            |r, lb| {
                                let k = lb.len();
                                let (a, b, t) =
                                    (&a[r.clone()][..k], &b[r.clone()][..k], &t[r][..k]);
                                for i in 0..k {
                                    ok &= is_sign(t[i]);
                                    lb[i] = relu(-t[i] * (a[i] - b[i]) + m);
                                }
                            },
                        );
                        (lanes.total(), ok)
                    },
                ))
            },
            |x, y| (x.0 + y.0, x.1 && y.1),
        );
        if !ok {
            return Err(self.invalid(inputs));
        }
        Ok(T::from_f64(sum / denom))
    }

    /// The loss reduced with `reduction`, and its gradients with respect to `x1` (into
    /// `grad_x1`) and `x2` (into `grad_x2`), the reduction's scale included, in one pass.
    ///
    /// # Errors
    /// See the type's docs. On error the buffers hold unspecified values.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &RankingInputs<'_, T>,
        reduction: Reduction,
        grad_x1: &mut [T],
        grad_x2: &mut [T],
    ) -> Result<T> {
        let denom = self.check(inputs, reduction)?;
        let n = inputs.x1.len();
        check_buffer(RANKING, "gradient of `x1`", grad_x1.len(), n)?;
        check_buffer(RANKING, "gradient of `x2`", grad_x2.len(), n)?;
        let m = T::from_f64(self.margin);
        let scale = T::from_f64(1.0 / denom);
        let (a, b, t) = (inputs.x1.data(), inputs.x2.data(), inputs.target.data());
        let (sum, ok) = chunked_fold_mut(
            grad_x1,
            (0.0, true),
            |r, g| {
                let (a, b, t) = (
                    &a[r.clone()][..g.len()],
                    &b[r.clone()][..g.len()],
                    &t[r][..g.len()],
                );
                simd(SimdFn(
                    #[inline(always)]
                    || {
                        let (mut lanes, mut ok) = (Lanes::default(), true);
                        block_sum(
                            g.len(),
                            &mut lanes,
                            #[inline(always)]
                            |r, lb| {
                                let k = lb.len();
                                let (a, b) = (&a[r.clone()][..k], &b[r.clone()][..k]);
                                let (t, g) = (&t[r.clone()][..k], &mut g[r][..k]);
                                for i in 0..k {
                                    ok &= is_sign(t[i]);
                                    let z = -t[i] * (a[i] - b[i]) + m;
                                    g[i] = -t[i] * active(z) * scale;
                                    lb[i] = relu(z);
                                }
                            },
                        );
                        (lanes.total(), ok)
                    },
                ))
            },
            |x, y| (x.0 + y.0, x.1 && y.1),
        );
        if !ok {
            return Err(self.invalid(inputs));
        }
        // ∂ℓ/∂x2 = −∂ℓ/∂x1 exactly: a copy, not a second evaluation.
        for (g2, &g1) in grad_x2.iter_mut().zip(grad_x1.iter()) {
            *g2 = -g1;
        }
        Ok(T::from_f64(sum / denom))
    }

    /// The per-element losses, of `x1`'s shape, into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &RankingInputs<'_, T>, out: &mut [T]) -> Result<()> {
        self.check(inputs, Reduction::Sum)?;
        check_buffer(RANKING, "per-element output", out.len(), inputs.x1.len())?;
        let m = T::from_f64(self.margin);
        let (a, b, t) = (inputs.x1.data(), inputs.x2.data(), inputs.target.data());
        let mut ok = true;
        for (((o, &a), &b), &t) in out.iter_mut().zip(a).zip(b).zip(t) {
            ok &= is_sign(t);
            *o = relu(-t * (a - b) + m);
        }
        if !ok {
            return Err(self.invalid(inputs));
        }
        Ok(())
    }
}

pub(crate) fn eval_hinge<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(&Hinge::new(call.params.float("margin"))?, call, out)
}

pub(crate) fn eval_squared_hinge<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(&SquaredHinge::new(call.params.float("margin"))?, call, out)
}

pub(crate) fn eval_hinge_embedding<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(
        &HingeEmbedding::new(call.params.float("margin"))?,
        call,
        out,
    )
}

pub(crate) fn eval_soft_margin<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(&SoftMargin, call, out)
}

pub(crate) fn eval_margin_ranking<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = MarginRanking::new(call.params.float("margin"))?;
    let inputs = RankingInputs::new(
        call.float_req("x1")?,
        call.float_req("x2")?,
        call.float_req("target")?,
    );
    let n = inputs.x1.len();
    dispatch2(
        call,
        out,
        inputs.x1.dims(),
        [("x1", n), ("x2", n)],
        Vjp::Separable(Kept::ALL), // element-wise in both
        |r| loss.value(&inputs, r),
        |r, g1, g2| loss.value_and_grad(&inputs, r, g1, g2),
        |o| loss.per_element(&inputs, o),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hinge_kink_takes_the_zero_subgradient() {
        let mut g = [9.0f64; 3];
        let v = Hinge::default()
            .value_and_grad(
                &BinaryInputs::new(&[1.0, -1.0, 0.5], &[1.0, -1.0, 1.0]),
                Reduction::Sum,
                &mut g,
            )
            .unwrap();
        assert_eq!(v, 0.5);
        assert_eq!(g, [0.0, 0.0, -1.0]);
    }

    #[test]
    fn zero_one_labels_are_rejected_with_the_reason() {
        let e = Hinge::default()
            .value(
                &BinaryInputs::new(&[0.3f32, 0.1], &[1.0, 0.0]),
                Reduction::Mean,
            )
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "hinge: `target` at [1] is 0, expected -1 or +1 (map {0, 1} labels with 2y - 1 \
             first: with y = 0 the loss is silently wrong)"
        );
        for r in [Reduction::Mean, Reduction::Sum] {
            assert!(SquaredHinge::default()
                .value(&BinaryInputs::new(&[0.0f64], &[0.5]), r)
                .is_err());
            assert!(SoftMargin
                .value(&BinaryInputs::new(&[0.0f64], &[2.0]), r)
                .is_err());
        }
        let e = MarginRanking::default()
            .value(
                &RankingInputs::new(&[0.0f32, 1.0], &[1.0, 0.0], &[-1.0, 0.0]),
                Reduction::Sum,
            )
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("margin_ranking: `target` at [1] is 0, expected -1 or +1"));
    }

    #[test]
    fn soft_margin_is_finite_where_pytorch_overflows() {
        let x = [-100.0f32, -1e4, 100.0];
        let y = [1.0f32, 1.0, -1.0];
        let mut out = [0.0f32; 3];
        SoftMargin
            .per_element(&BinaryInputs::new(&x, &y), &mut out)
            .unwrap();
        assert_eq!(out, [100.0, 1e4, 100.0]);
        let mut g = [0.0f32; 3];
        SoftMargin
            .value_and_grad(&BinaryInputs::new(&x, &y), Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!(g, [-1.0, -1.0, 1.0]);
    }

    #[test]
    fn nan_propagates_through_the_kinks() {
        let x = [f64::NAN];
        let y = [1.0];
        for v in [
            Hinge::default()
                .value(&BinaryInputs::new(&x, &y), Reduction::Sum)
                .unwrap(),
            SquaredHinge::default()
                .value(&BinaryInputs::new(&x, &y), Reduction::Sum)
                .unwrap(),
            MarginRanking::default()
                .value(&RankingInputs::new(&x, &[0.0], &y), Reduction::Sum)
                .unwrap(),
        ] {
            assert!(v.is_nan());
        }
        let mut g = [0.0];
        Hinge::default()
            .value_and_grad(&BinaryInputs::new(&x, &y), Reduction::Sum, &mut g)
            .unwrap();
        assert!(g[0].is_nan());
    }

    #[test]
    fn ranking_checks_shapes_and_buffers() {
        let loss = MarginRanking::default();
        let e = loss.value(
            &RankingInputs::new(&[0.0f32, 1.0], &[1.0], &[1.0, 1.0]),
            Reduction::Sum,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "margin_ranking: `x2` has shape [1], expected [2] (the shape of `x1`); nothing is broadcast"
        );
        let mut g1 = [0.0f32; 2];
        let mut g2 = [0.0f32; 1];
        let inputs = RankingInputs::new(&[0.0f32, 1.0], &[1.0, 0.0], &[1.0, 1.0]);
        assert!(matches!(
            loss.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2),
            Err(Error::BufferLength { .. })
        ));
        let empty: [f32; 0] = [];
        assert_eq!(
            loss.value(&RankingInputs::new(&empty, &empty, &empty), Reduction::Mean),
            Err(Error::EmptyMean {
                loss: "margin_ranking"
            })
        );
        assert_eq!(
            loss.value(&RankingInputs::new(&empty, &empty, &empty), Reduction::Sum),
            Ok(0.0)
        );
    }
}
