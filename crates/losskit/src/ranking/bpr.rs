//! Bayesian personalised ranking: [`Bpr`], the pairwise loss of implicit-feedback
//! recommenders.

use crate::error::{check_buffer, Error, Result};
use crate::eval::{dispatch2, Kept, Vjp};
use crate::evaluator::{Call, Out};
use crate::numerics::{chunked_fold, chunked_fold_mut, chunked_fold_mut2, sigmoid, softplus};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

/// The score of a `positive` (observed) item and of a `negative` (sampled, unobserved) item
/// for the same user, of equal shape (any): the inputs of [`Bpr`].
///
/// ```
/// use losskit::{PreferenceInputs, Tensor};
/// let (pos, neg) = ([2.0f32, 0.5], [1.0f32, 1.5]);
/// let inputs = PreferenceInputs::new(&pos[..], &neg[..]);
/// assert_eq!(inputs.positive().dims(), &[2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct PreferenceInputs<'a, T> {
    positive: Tensor<'a, T>,
    negative: Tensor<'a, T>,
}

impl<T> Clone for PreferenceInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for PreferenceInputs<'_, T> {}

impl<'a, T> PreferenceInputs<'a, T> {
    /// The two score arrays (shapes are checked by the loss).
    pub fn new(positive: impl Into<Tensor<'a, T>>, negative: impl Into<Tensor<'a, T>>) -> Self {
        PreferenceInputs {
            positive: positive.into(),
            negative: negative.into(),
        }
    }
    /// The positives' scores.
    pub fn positive(&self) -> Tensor<'a, T> {
        self.positive
    }
    /// The negatives' scores.
    pub fn negative(&self) -> Tensor<'a, T> {
        self.negative
    }
}

/// Bayesian personalised ranking (Rendle et al. 2009): `−ln σ(positive − negative)` per pair,
/// the negative log-likelihood that the user prefers the observed item.
///
/// # Definition
/// $$\ell_i = -\ln \sigma(p_i - n_i) = \operatorname{softplus}(n_i - p_i) = \ln(1 + e^{n_i - p_i}).$$
///
/// # Gradient
/// $\partial \ell_i / \partial p_i = -\sigma(n_i - p_i)$, $\partial \ell_i / \partial n_i =
/// \sigma(n_i - p_i)$.
///
/// # Numerical stability
/// $\operatorname{softplus}(x) = \max(x, 0) + \ln(1 + e^{-|x|})$ and $\sigma$ through
/// $e^{-|x|}$: neither exponential overflows, so a large margin either way gives a finite
/// loss (≈ $n - p$ when the negative wins by far) and a gradient in $[-1, 1]$, where
/// `-ln(sigmoid(p - n))` gives `inf` once $\sigma$ underflows. Sums accumulate in f64.
///
/// # Parameters
/// None (the L2 regulariser of the paper belongs to the optimiser: weight decay).
///
/// # Errors
/// `negative` of another shape than `positive` ([`Error::ShapeMismatch`]), `Mean` over no
/// pairs ([`Error::EmptyMean`]), buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{Bpr, PreferenceInputs, Reduction};
/// let (pos, neg) = ([1.0f64, 0.0], [1.0f64, 800.0]);
/// let inputs = PreferenceInputs::new(&pos[..], &neg[..]);
/// let (mut gp, mut gn) = ([0.0; 2], [0.0; 2]);
/// let v = Bpr::new().value_and_grad(&inputs, Reduction::Sum, &mut gp, &mut gn)?;
/// assert_eq!(v, 2f64.ln() + 800.0); // tie: ln 2; a negative 800 ahead: 800, not inf
/// assert_eq!((gp, gn), ([-0.5, -1.0], [0.5, 1.0]));
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// S. Rendle, C. Freudenthaler, Z. Gantner, L. Schmidt-Thieme, "BPR: Bayesian Personalized
/// Ranking from Implicit Feedback", UAI 2009. Numbers: torch `-F.logsigmoid(pos - neg)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bpr;

const NAME: &str = "bpr";

fn check<T>(inputs: &PreferenceInputs<'_, T>) -> Result<usize> {
    if inputs.negative.dims() != inputs.positive.dims() {
        return Err(Error::ShapeMismatch {
            loss: NAME,
            arg: "negative",
            actual: inputs.negative.dims().to_vec(),
            expected: inputs.positive.dims().to_vec(),
            because: "one negative score per positive score",
        });
    }
    Ok(inputs.positive.len())
}

fn scale_of(reduction: Reduction, n: usize) -> Result<f64> {
    match reduction {
        Reduction::Mean if n == 0 => Err(Error::EmptyMean { loss: NAME }),
        Reduction::Mean => Ok(1.0 / n as f64),
        Reduction::Sum => Ok(1.0),
    }
}

impl Bpr {
    /// The BPR loss (no parameters).
    pub fn new() -> Self {
        Bpr
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(
        &self,
        inputs: &PreferenceInputs<'_, T>,
        reduction: Reduction,
    ) -> Result<T> {
        let n = check(inputs)?;
        let scale = scale_of(reduction, n)?;
        let (p, q) = (inputs.positive.data(), inputs.negative.data());
        let sum = chunked_fold(
            n,
            0.0,
            |r| r.map(|i| softplus(q[i] - p[i]).to_f64()).sum::<f64>(),
            |a, b| a + b,
        );
        Ok(T::from_f64(sum * scale))
    }

    /// The loss reduced with `reduction` and its gradients with respect to `positive` and
    /// `negative` (into `grad_positive`, `grad_negative`, each as long as the inputs; the
    /// reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs. On error the buffers hold unspecified values.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &PreferenceInputs<'_, T>,
        reduction: Reduction,
        grad_positive: &mut [T],
        grad_negative: &mut [T],
    ) -> Result<T> {
        let n = check(inputs)?;
        check_buffer(NAME, "gradient of `positive`", grad_positive.len(), n)?;
        check_buffer(NAME, "gradient of `negative`", grad_negative.len(), n)?;
        let scale = scale_of(reduction, n)?;
        let c = T::from_f64(scale);
        let (p, q) = (inputs.positive.data(), inputs.negative.data());
        let sum = chunked_fold_mut2(
            grad_positive,
            grad_negative,
            0.0,
            |r, gp, gn| {
                let mut s = 0.0;
                for (k, i) in r.enumerate() {
                    let d = q[i] - p[i];
                    let w = sigmoid(d) * c;
                    gp[k] = -w;
                    gn[k] = w;
                    s += softplus(d).to_f64();
                }
                s
            },
            |a, b| a + b,
        );
        Ok(T::from_f64(sum * scale))
    }

    /// The per-pair losses (the shape of `positive`) into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(
        &self,
        inputs: &PreferenceInputs<'_, T>,
        out: &mut [T],
    ) -> Result<()> {
        let n = check(inputs)?;
        check_buffer(NAME, "per-element output", out.len(), n)?;
        let (p, q) = (inputs.positive.data(), inputs.negative.data());
        chunked_fold_mut(
            out,
            (),
            |r, o| {
                for (k, i) in r.enumerate() {
                    o[k] = softplus(q[i] - p[i]);
                }
            },
            |(), ()| (),
        );
        Ok(())
    }
}

pub(crate) fn eval_bpr<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let inputs = PreferenceInputs::new(call.float_req("positive")?, call.float_req("negative")?);
    let n = check(&inputs)?;
    let shape = inputs.positive.dims().to_vec();
    dispatch2(
        call,
        out,
        &shape,
        [("positive", n), ("negative", n)],
        Vjp::Separable(Kept::ALL), // element-wise
        |r| Bpr.value(&inputs, r),
        |r, a, b| Bpr.value_and_grad(&inputs, r, a, b),
        |o| Bpr.per_element(&inputs, o),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_margins_stay_finite_and_shapes_are_checked() {
        let (p, q) = ([100.0f32, -100.0], [-100.0f32, 100.0]);
        let inputs = PreferenceInputs::new(&p[..], &q[..]);
        let (mut a, mut b) = ([0.0f32; 2], [0.0f32; 2]);
        let v = Bpr
            .value_and_grad(&inputs, Reduction::Sum, &mut a, &mut b)
            .unwrap();
        assert_eq!(v, 200.0);
        assert_eq!((a, b), ([-0.0, -1.0], [0.0, 1.0]));
        let short = [0.0f32];
        let e = Bpr
            .value(&PreferenceInputs::new(&p[..], &short[..]), Reduction::Mean)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bpr: `negative` has shape [1], expected [2] (one negative score per positive score); nothing is broadcast"
        );
    }
}
