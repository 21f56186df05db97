//! Binary cross-entropy, on logits ([`BceWithLogits`]) and on probabilities ([`Bce`]).

use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::numerics::logistic;
use crate::real::Real;
use crate::reduction::Reduction;

use super::binary::{self, binary_api, binary_hess_api, weighted, BinaryInputs, Curv, Kernel};
use crate::hessian::{Curvature, HessOut};

const TARGET_DOMAIN: &str = "a target in [0, 1]";

/// Whether `t` is outside [0, 1] (NaN is not: it propagates).
#[inline(always)]
fn outside_unit<T: Real>(t: T) -> bool {
    t < T::ZERO || t > T::ONE
}

/// Binary cross-entropy on logits: the loss for binary and multi-label classification.
///
/// # Definition
/// With $p = \sigma(x)$ and a positive-class weight $p_w$ (1 unless set):
/// $$\ell_i = -\big[\,p_w\, y_i \ln \sigma(x_i) + (1 - y_i)\ln\big(1 - \sigma(x_i)\big)\big]
///  = p_w\, y_i\,\mathrm{softplus}(-x_i) + (1 - y_i)\,\mathrm{softplus}(x_i)$$
/// times the weight $w_i$ if one is given. The target may be soft (any value in [0, 1]).
/// `pos_weight` holds one $p_w$ per label of the last dimension (`[C]` against `[N, C]`
/// logits) or one for all; $p_w > 1$ raises recall on rare positives
/// ($p_w = n_\text{neg}/n_\text{pos}$ is the usual choice).
///
/// # Gradient
/// $$\frac{\partial \ell_i}{\partial x_i} = (1 - y_i)\,\sigma(x_i) - p_w\, y_i\,\sigma(-x_i)
///  = (p_w y_i + 1 - y_i)\,\sigma(x_i) - p_w y_i$$
/// times $w_i$ and the reduction's scale: PyTorch's formula, evaluated in the first form so
/// that $1 - \sigma(x)$ is never formed.
///
/// # Numerical stability
/// Both softplus terms and both sigmoids come from one $e^{-|x|}$
/// ([`logistic`](crate::numerics::logistic)): no overflow at any logit, and no cancellation
/// (the loss is a sum of two non-negative terms). A large wrong logit costs what it should,
/// with no hidden clamp: $x = -10^4, y = 1$ gives $10^4$ and gradient $-1$.
///
/// Infinite logits give the limit of the loss: $x = +\infty, y = 1$ and
/// $x = -\infty, y = 0$ give 0 (PyTorch returns NaN there, pytorch#102894);
/// $x = -\infty, y = 1$ gives $+\infty$ (PyTorch: NaN); a term whose coefficient is 0 is
/// dropped, so $0\cdot\infty$ never appears. The gradient is finite at every logit.
///
/// # Weighted mean (a deliberate difference)
/// With a `weight`, `Mean` is $\sum w\ell / \sum w$ (the weight broadcast over `input`);
/// PyTorch's `binary_cross_entropy_with_logits` divides $\sum w\ell$ by N. `Sum` and
/// per-element values are the same in both. `pos_weight` is not part of the denominator in
/// either.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `pos_weight` | none (1 for every label) | one value or one per label of the last dimension; each ≥ 0 and finite |
///
/// # Errors
/// [`BceWithLogits::pos_weight`] rejects an empty list and a negative, NaN or infinite
/// value. Evaluation rejects a target outside [0, 1] ([`Error::InvalidValue`], naming its
/// position; PyTorch accepts it and returns a meaningless loss), a `pos_weight` whose length
/// is neither 1 nor the last dimension of `input`, and the shape errors of
/// [`BinaryInputs`]; see [`BceWithLogits::value`].
///
/// # Example
/// ```
/// use losskit::{BceWithLogits, BinaryInputs, Reduction, Tensor};
/// let logits = [0.0f64, 2.0, -1e4, 1e4];
/// let labels = [1.0, 0.0, 1.0, 1.0];
/// let mut grad = [0.0; 4];
/// let v = BceWithLogits::default()
///     .value_and_grad(&BinaryInputs::new(&logits, &labels), Reduction::Sum, &mut grad)?;
/// let expected = 2f64.ln() + (1.0 + 2f64.exp()).ln() + 1e4 + 0.0;
/// assert!((v - expected).abs() < 1e-12);
/// assert_eq!(grad[2..], [-1.0, 0.0]);
///
/// // Label 0 has three negatives per positive: weigh its positives by 3.
/// let x = Tensor::new(&[0.5f32, -0.5, 1.0, 2.0], &[2, 2])?;
/// let y = Tensor::new(&[1.0f32, 0.0, 0.0, 1.0], &[2, 2])?;
/// let bce = BceWithLogits::default().pos_weight(&[3.0f32, 1.0])?;
/// let v = bce.value(&BinaryInputs::new(x, y), Reduction::Mean)?;
/// assert!(v > BceWithLogits::default().value(&BinaryInputs::new(x, y), Reduction::Mean)?);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.binary_cross_entropy_with_logits` (the numbers matched,
/// `pos_weight` included, except the weighted mean and the infinite logits above).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BceWithLogits {
    pos_weight: Option<Vec<f64>>,
}

impl BceWithLogits {
    /// The loss of one logit `x` against one target `t ∈ [0, 1]` and its derivative with
    /// respect to `x`, without weight or `pos_weight`: the element kernel of this loss (the
    /// same bits as an element of [`value_and_grad`](Self::value_and_grad) with `Sum`), for
    /// kernels that fuse it with another pass over the same logits (`bce_dice`) and for
    /// framework adapters. The target is not checked.
    #[inline(always)]
    pub fn element<T: Real>(x: T, t: T) -> (T, T) {
        element(x, t, T::ONE)
    }

    /// Sets the positive-class weight: one value for every label, or one per label of the
    /// last dimension of `input` (checked when the loss is evaluated).
    ///
    /// A weight of 0 drops the positive term of its label; that is what
    /// [`PosWeight`](crate::weights::PosWeight) gives a label whose every sample is positive,
    /// so its output can be passed here as it is.
    ///
    /// # Errors
    /// [`Error::BadShape`] for an empty list; [`Error::InvalidValue`] for a negative, NaN or
    /// infinite value.
    pub fn pos_weight<P: Real>(mut self, pos_weight: &[P]) -> Result<Self> {
        if pos_weight.is_empty() {
            return Err(Error::BadShape {
                loss: NAME_LOGITS,
                arg: "pos_weight",
                actual: vec![0],
                expected: "at least one value (one for every label, or one per label)",
            });
        }
        let mut out = Vec::with_capacity(pos_weight.len());
        for (i, &v) in pos_weight.iter().enumerate() {
            let v = v.to_f64();
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::InvalidValue {
                    loss: NAME_LOGITS,
                    arg: "pos_weight",
                    index: vec![i],
                    value: v,
                    expected: "a finite weight >= 0",
                });
            }
            out.push(v);
        }
        self.pos_weight = Some(out);
        Ok(self)
    }
}

const NAME_LOGITS: &str = "bce_with_logits";

/// The loss of one element and its derivative, with the positive-class weight `pw`.
#[inline(always)]
fn element<T: Real>(x: T, t: T, pw: T) -> (T, T) {
    let b = logistic(x);
    let (neg, pos) = (T::ONE - t, pw * t);
    // −ln σ and −ln(1 − σ) are the two softplus terms; a zero coefficient drops its term,
    // which is what makes x = ±∞ with the matching label 0 rather than 0·∞ = NaN.
    let l = weighted(neg, -b.log_q) + weighted(pos, -b.log_p);
    (l, neg * b.p - pos * b.q)
}

impl<T: Real> Kernel<T> for BceWithLogits {
    const NAME: &'static str = NAME_LOGITS;
    #[inline(always)]
    fn loss(&self, x: T, t: T, pw: T) -> T {
        self.loss_grad(x, t, pw).0
    }
    #[inline(always)]
    fn loss_grad(&self, x: T, t: T, pw: T) -> (T, T) {
        element(x, t, pw)
    }
    #[inline(always)]
    fn valid(&self, _x: T, t: T) -> bool {
        !outside_unit(t)
    }
    fn why_invalid(&self, _x: T, t: T) -> (&'static str, T, &'static str) {
        ("target", t, TARGET_DOMAIN)
    }
    fn positive_weights(&self) -> Option<&[f64]> {
        self.pos_weight.as_deref()
    }
}
binary_api!(BceWithLogits);

/// XGBoost's floor of the logistic hessian, `fmaxf(p(1 − p), 1e-16f)` in
/// `src/objective/regression_loss.h` (`LogisticRegression::SecondOrderGradient`), needed to
/// reproduce its `binary:logistic` where p saturates.
const XGBOOST_LOGISTIC_FLOOR: f64 = 1e-16;

impl<T: Real> Curv<T> for BceWithLogits {
    #[inline(always)]
    fn loss_grad_hess(&self, x: T, t: T, pw: T, c: Curvature) -> (T, T, T) {
        let (l, g) = element(x, t, pw);
        // σ(x)σ(−x) from the two tails: no 1 − σ cancellation, never negative.
        let b = logistic(x);
        let s = b.p * b.q;
        let s = match c {
            Curvature::XGBoost => s.max(T::from_f64(XGBOOST_LOGISTIC_FLOOR)),
            Curvature::Exact | Curvature::LightGBM => s,
        };
        let s = if x.is_nan() { x } else { s };
        (l, g, (T::ONE - t + pw * t) * s)
    }
}
binary_hess_api!(BceWithLogits);

/// Binary cross-entropy on probabilities, with PyTorch's clamp of each log at −100.
///
/// Prefer [`BceWithLogits`]: passing `sigmoid(logits)` here loses both accuracy and gradient.
/// In f32, $\sigma(x)$ rounds to exactly 1 for $x \gtrsim 17$, so a confident wrong answer
/// ($x = 100$, $y = 0$) costs the clamped 100 instead of its true loss, and below the clamp
/// the chain rule through the sigmoid multiplies by $\sigma'(x) = \sigma(x)(1 - \sigma(x))$,
/// which is 0 once $\sigma$ saturates: the gradient with respect to the logit is 0 (no
/// learning signal) exactly where the model is most wrong. [`BceWithLogits`] gives loss 100
/// and gradient 1 at that point.
///
/// # Definition
/// $$\ell_i = -\big[\,y_i \max(\ln p_i, -100) + (1 - y_i)\max(\ln(1 - p_i), -100)\big]$$
/// times the weight $w_i$ if one is given. The clamp keeps $p \in \{0, 1\}$ finite: a
/// confidently wrong probability costs at most 100 per element.
///
/// # Gradient
/// PyTorch's formula, including where it is not the derivative of the clamped loss:
/// $$\frac{\partial \ell_i}{\partial p_i} = \frac{p_i - y_i}{\max\big((1 - p_i)\,p_i,\ 10^{-12}\big)}$$
/// (the floor is the f32 value of $10^{-12}$, as in ATen, in both precisions). Inside the
/// clamp region the loss is flat but the gradient is not 0; at $p = 0, y = 1$ it is
/// $-10^{12}$.
///
/// # Numerical stability
/// $\ln(1 - p)$ is computed as `ln_1p(−p)`, as in PyTorch. The loss is finite at every
/// $p \in [0, 1]$, but the information lost by rounding $p$ cannot be recovered: see above.
///
/// # Weighted mean (a deliberate difference)
/// With a `weight`, `Mean` is $\sum w\ell / \sum w$; PyTorch's `binary_cross_entropy`
/// divides by N.
///
/// # Parameters
/// None.
///
/// # Errors
/// An `input` or `target` outside [0, 1] is an [`Error::InvalidValue`] naming its position
/// (PyTorch also rejects such an input); see also [`Bce::value`].
///
/// # Example
/// ```
/// use losskit::{Bce, BinaryInputs, Reduction};
/// let p = [0.9f64, 0.2, 0.0];
/// let y = [1.0, 0.0, 1.0];
/// let mut grad = [0.0; 3];
/// let v = Bce.value_and_grad(&BinaryInputs::new(&p, &y), Reduction::Sum, &mut grad)?;
/// assert!((v - (-(0.9f64.ln()) - 0.8f64.ln() + 100.0)).abs() < 1e-12);
/// assert!((grad[0] - (0.9 - 1.0) / (0.1 * 0.9)).abs() < 1e-12);
/// assert!(grad[2] < -0.99e12); // (0 − 1) / 1e-12
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.binary_cross_entropy` (ATen `binary_cross_entropy_out_cpu`
/// and its backward: the clamp and the gradient floor).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bce;

/// `max(v, −100)`, the clamp PyTorch's `binary_cross_entropy` applies to each log (its numbers
/// require it). Written so that NaN stays NaN, as `std::max(NaN, −100)` does in ATen.
#[inline(always)]
fn clamp_log<T: Real>(v: T) -> T {
    let floor = T::from_f64(-100.0);
    if v < floor {
        floor
    } else {
        v
    }
}

impl<T: Real> Kernel<T> for Bce {
    const NAME: &'static str = "bce";
    #[inline(always)]
    fn loss(&self, p: T, t: T, _pw: T) -> T {
        // ATen's expression and order, for the same bits.
        (t - T::ONE) * clamp_log((-p).ln_1p()) - t * clamp_log(p.ln())
    }
    #[inline(always)]
    fn loss_grad(&self, p: T, t: T, pw: T) -> (T, T) {
        // ATen's `EPSILON` is a float 1e-12, widened in double precision.
        let eps = T::from_f64(f64::from(1e-12f32));
        let d = (T::ONE - p) * p;
        let d = if d < eps { eps } else { d };
        (self.loss(p, t, pw), (p - t) / d)
    }
    #[inline(always)]
    fn valid(&self, p: T, t: T) -> bool {
        !(outside_unit(p) || outside_unit(t))
    }
    fn why_invalid(&self, p: T, t: T) -> (&'static str, T, &'static str) {
        if outside_unit(p) {
            (
                "input",
                p,
                "a probability in [0, 1] (for logits use `bce_with_logits`)",
            )
        } else {
            ("target", t, TARGET_DOMAIN)
        }
    }
}
binary_api!(Bce);

/// The loss of a catalogue call, with its `pos_weight`.
fn logits_of<T: Real>(call: &Call<'_, T>) -> Result<BceWithLogits> {
    let mut loss = BceWithLogits::default();
    if let Some(pw) = call.float("pos_weight") {
        if pw.dims().len() > 1 {
            return Err(Error::BadShape {
                loss: NAME_LOGITS,
                arg: "pos_weight",
                actual: pw.dims().to_vec(),
                expected: "a vector [C] (C = the last dimension of `input`) or [1]",
            });
        }
        loss = loss.pos_weight(pw.data())?;
    }
    Ok(loss)
}

pub(crate) fn eval_bce_with_logits<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(&logits_of(call)?, call, out)
}

pub(crate) fn hess_bce_with_logits<T: Real>(
    call: &Call<'_, T>,
    c: Curvature,
    out: &mut HessOut<'_, T>,
) -> Result<()> {
    binary::evaluate_hess(&logits_of(call)?, call, c, out)
}

pub(crate) fn eval_bce<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    binary::evaluate(&Bce, call, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grad_of<T: Real>(loss: &BceWithLogits, x: &[T], y: &[T]) -> (T, Vec<T>) {
        let mut g = vec![T::ZERO; x.len()];
        let v = loss
            .value_and_grad(&BinaryInputs::new(x, y), Reduction::Sum, &mut g)
            .unwrap();
        (v, g)
    }

    #[test]
    fn logits_at_infinity_have_their_limits() {
        let inf = f64::INFINITY;
        let x = [inf, -inf, inf, -inf];
        let y = [1.0, 0.0, 0.0, 1.0];
        let mut out = [0.0; 4];
        BceWithLogits::default()
            .per_element(&BinaryInputs::new(&x, &y), &mut out)
            .unwrap();
        assert_eq!(out, [0.0, 0.0, inf, inf]);
        let (_, g) = grad_of(&BceWithLogits::default(), &x, &y);
        assert_eq!(g, [0.0, 0.0, 1.0, -1.0]);
        // Soft targets at infinity: the loss is infinite, the gradient finite.
        let (v, g) = grad_of(&BceWithLogits::default(), &[inf, -inf], &[0.25, 0.25]);
        assert_eq!(v, inf);
        assert_eq!(g, [0.75, -0.25]);
    }

    #[test]
    fn large_logits_cost_what_they_should_in_f32() {
        let x = [100.0f32, -100.0, 1e4, -1e4, 0.0];
        let y = [0.0f32, 1.0, 0.0, 1.0, 1.0];
        let (v, g) = grad_of(&BceWithLogits::default(), &x, &y);
        assert_eq!(v, 100.0 + 100.0 + 1e4 + 1e4 + core::f32::consts::LN_2);
        assert_eq!(g, [1.0, -1.0, 1.0, -1.0, -0.5]);
        // No cancellation in the tail: the loss of a right answer stays positive and accurate.
        let (v, g) = grad_of(&BceWithLogits::default(), &[-20.0f32], &[0.0]);
        assert!(((v - (-20.0f32).exp()) / v).abs() < 1e-6, "{v}");
        assert!(((g[0] - (-20.0f32).exp()) / g[0]).abs() < 1e-6);
    }

    #[test]
    fn pos_weight_scales_the_positive_term_per_label() {
        let x = [0.3f64, -1.2, 2.0, 0.1];
        let y = [1.0, 0.25, 0.0, 1.0];
        let pw = [3.0, 0.5];
        let loss = BceWithLogits::default().pos_weight(&pw).unwrap();
        let inputs = BinaryInputs::new(
            crate::Tensor::new(&x, &[2, 2]).unwrap(),
            crate::Tensor::new(&y, &[2, 2]).unwrap(),
        );
        let mut out = [0.0; 4];
        loss.per_element(&inputs, &mut out).unwrap();
        let mut g = [0.0; 4];
        loss.value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        for i in 0..4 {
            let (xi, yi, p) = (x[i], y[i], pw[i % 2]);
            let s = 1.0 / (1.0 + (-xi).exp());
            let l = -(p * yi * s.ln() + (1.0 - yi) * (1.0 - s).ln());
            assert!((out[i] - l).abs() < 1e-14, "{i}");
            assert!(
                (g[i] - ((p * yi + 1.0 - yi) * s - p * yi)).abs() < 1e-14,
                "{i}"
            );
        }
        let one = BceWithLogits::default().pos_weight(&[2.0]).unwrap();
        let mut o1 = [0.0; 4];
        one.per_element(&inputs, &mut o1).unwrap();
        let two = BceWithLogits::default().pos_weight(&[2.0, 2.0]).unwrap();
        let mut o2 = [0.0; 4];
        two.per_element(&inputs, &mut o2).unwrap();
        assert_eq!(o1, o2);
    }

    #[test]
    fn pos_weight_is_checked() {
        let e = BceWithLogits::default()
            .pos_weight(&[1.0, -0.5])
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bce_with_logits: `pos_weight` at [1] is -0.5, expected a finite weight >= 0"
        );
        assert!(BceWithLogits::default().pos_weight(&[0.0]).is_ok());
        assert!(BceWithLogits::default().pos_weight(&[f32::NAN]).is_err());
        assert!(BceWithLogits::default().pos_weight::<f64>(&[]).is_err());
        let loss = BceWithLogits::default()
            .pos_weight(&[1.0, 2.0, 3.0])
            .unwrap();
        let x = [0.0f32; 4];
        let inputs = BinaryInputs::new(
            crate::Tensor::new(&x, &[2, 2]).unwrap(),
            crate::Tensor::new(&x, &[2, 2]).unwrap(),
        );
        assert_eq!(
            loss.value(&inputs, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "bce_with_logits: `pos_weight` has shape [3], expected [2] (the last dimension of \
             `input`, or 1 for one weight for every label); nothing is broadcast"
        );
    }

    #[test]
    fn takes_the_pos_weight_the_weights_module_computes() {
        let y = [
            1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0,
        ];
        let y = crate::Tensor::new(&y, &[4, 3]).unwrap();
        let table = crate::weights::PosWeight::new().from_targets(y).unwrap();
        assert_eq!(table.weights(), &[3.0, 3.0, 0.0]);
        let loss = BceWithLogits::default()
            .pos_weight(table.weights())
            .unwrap();
        let x = [0.5f32; 12];
        let x = crate::Tensor::new(&x, &[4, 3]).unwrap();
        let mut out = [0.0f32; 12];
        loss.per_element(&BinaryInputs::new(x, y), &mut out)
            .unwrap();
        // Label 2 is always positive with pos_weight 0: its positive term is dropped.
        assert_eq!(out[2], 0.0);
        assert!(out[0] > 0.0);
    }

    #[test]
    fn targets_outside_the_unit_interval_are_named() {
        let x = [0.0f32; 6];
        let y = [0.0f32, 1.0, 0.5, 1.0, 1.5, 0.0];
        let inputs = BinaryInputs::new(
            crate::Tensor::new(&x, &[2, 3]).unwrap(),
            crate::Tensor::new(&y, &[2, 3]).unwrap(),
        );
        let msg = "bce_with_logits: `target` at [1, 1] is 1.5, expected a target in [0, 1]";
        let loss = BceWithLogits::default();
        assert_eq!(
            loss.value(&inputs, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            msg
        );
        let mut g = [0.0f32; 6];
        assert_eq!(
            loss.value_and_grad(&inputs, Reduction::Sum, &mut g)
                .unwrap_err()
                .to_string(),
            msg
        );
        assert_eq!(
            loss.per_element(&inputs, &mut g).unwrap_err().to_string(),
            msg
        );
        // NaN is not out of range: it propagates.
        let v = loss
            .value(&BinaryInputs::new(&[0.0f32], &[f32::NAN]), Reduction::Sum)
            .unwrap();
        assert!(v.is_nan());
    }

    #[test]
    fn bce_clamps_like_pytorch() {
        let p = [0.0f32, 1.0, 0.0, 1.0, 0.5];
        let y = [1.0f32, 0.0, 0.0, 1.0, 0.3];
        let mut out = [0.0f32; 5];
        Bce.per_element(&BinaryInputs::new(&p, &y), &mut out)
            .unwrap();
        assert_eq!(out[..4], [100.0, 100.0, 0.0, 0.0]);
        let mut g = [0.0f32; 5];
        Bce.value_and_grad(&BinaryInputs::new(&p, &y), Reduction::Sum, &mut g)
            .unwrap();
        // PyTorch float32: -999999995904, 999999995904, 0, 0, 0.8 (to rounding).
        assert_eq!(g[..4], [-999_999_995_904.0, 999_999_995_904.0, 0.0, 0.0]);
        assert!((g[4] - 0.8).abs() < 1e-6);
        let mut g = [0.0f64; 1];
        Bce.value_and_grad(
            &BinaryInputs::new(&[0.0f64], &[1.0]),
            Reduction::Sum,
            &mut g,
        )
        .unwrap();
        assert_eq!(g[0], -1.0 / f64::from(1e-12f32)); // PyTorch float64: -1000000003995.8029
        let v = Bce
            .value(&BinaryInputs::new(&[f64::NAN], &[1.0]), Reduction::Sum)
            .unwrap();
        assert!(v.is_nan(), "the clamp must not hide a NaN");
    }

    #[test]
    fn bce_rejects_probabilities_outside_the_unit_interval() {
        let e = Bce.value(
            &BinaryInputs::new(&[0.5f64, 1.5], &[1.0, 1.0]),
            Reduction::Mean,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "bce: `input` at [1] is 1.5, expected a probability in [0, 1] (for logits use \
             `bce_with_logits`)"
        );
        let e = Bce.value(
            &BinaryInputs::new(&[0.5f64, 0.5], &[1.0, -0.1]),
            Reduction::Mean,
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "bce: `target` at [1] is -0.1, expected a target in [0, 1]"
        );
    }

    #[test]
    fn bce_agrees_with_bce_with_logits_where_the_sigmoid_is_exact() {
        let x = [-3.0f64, -0.5, 0.0, 0.7, 4.0];
        let y = [0.0f64, 1.0, 0.3, 1.0, 0.0];
        let p: Vec<f64> = x.iter().map(|&v| 1.0 / (1.0 + (-v).exp())).collect();
        let a = Bce
            .value(&BinaryInputs::new(&p, &y), Reduction::Mean)
            .unwrap();
        let b = BceWithLogits::default()
            .value(&BinaryInputs::new(&x, &y), Reduction::Mean)
            .unwrap();
        assert!((a - b).abs() < 1e-14);
    }
}
