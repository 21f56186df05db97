//! The generalized Wasserstein Dice loss (Fidon et al. 2017): [`GeneralizedWassersteinDice`].

use crate::error::{check_buffer, Error, Result};
use crate::real::Real;
use crate::reduction::Reduction;

use super::{
    check_target, divisor, has_nan, layout, no_distance, non_finite, Activation, Gt, SegInputs,
};

const NAME: &str = "generalized_wasserstein_dice";

/// How the classes are weighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WassersteinWeighting {
    /// The paper's: every class but the background (class 0) weighs 1; the denominator is
    /// 2·TP + Σ W.
    Default,
    /// Generalized Dice style: class c weighs 1/(its volume + 1); the denominator is
    /// Σ α(2 − W).
    Gdl,
}

/// The generalized Wasserstein Dice loss: a Dice score in which a wrong class costs its
/// distance to the right one, for classes that are related (tumour sub-regions, ordered
/// grades): confusing two close classes costs less than confusing distant ones.
///
/// # Definition
/// With P = softmax(x) over the C classes, M the distance matrix divided by its largest entry
/// (as MONAI), y the target class of each position and, for each sample,
/// $$W_p = \sum_c M_{y_p c}\,P_{cp},\quad TP = \sum_p \alpha_{y_p}(1 - W_p),\quad
/// \ell = 1 - \frac{2\,TP + s_{nr}}{D + s_{dr}}$$
/// with D = 2·TP + Σ_p W_p and α = 0 for class 0, 1 otherwise (`default`), or
/// D = Σ_p α_{y_p}(2 − W_p) and α_c = 1/(|{p: y_p = c}| + 1) (`GDL`). One value per sample;
/// `Mean` averages them, `Sum` adds them, [`per_element`](Self::per_element) gives `[N]`.
/// s_nr = s_dr = 1e-5 (MONAI's).
///
/// # Gradient
/// ∂ℓ/∂W_p = −(∂num·D − num·∂D)/D², with ∂num = −2α_{y_p} and ∂D = 1 − 2α_{y_p} (`default`)
/// or −α_{y_p} (`GDL`); ∂W_p/∂P_{cp} = M_{y_p c}; then through the softmax.
///
/// # Numerical stability
/// The softmax is losskit's (max subtracted); W, TP and D are sums in f64.
///
/// # Parameters
/// `dist_matrix` (C×C, non-negative, finite, not all 0; normalised by its maximum),
/// `weighting_mode` ([`WassersteinWeighting::Default`]).
///
/// # Errors
/// [`Error::InvalidValue`] for a distance matrix that is not square, has a negative or
/// non-finite entry, or is all 0; [`Error::ShapeMismatch`] when its size is not `input`'s C;
/// a target that is not class indices `[N, *spatial]` in [0, C).
///
/// # Example
/// ```
/// use losskit::{GeneralizedWassersteinDice, Reduction, SegInputs, Tensor, WassersteinWeighting};
/// // Background, and two close classes.
/// let m = [0.0, 1.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.5, 0.0];
/// let loss = GeneralizedWassersteinDice::new(&m, 3, WassersteinWeighting::Default)?;
/// let x = [0.0f64, 0.0, 3.0, 0.0, 0.0, 2.0, 0.0, 2.5, 0.0]; // [1, 3, 3] logits
/// let y = [0i64, 1, 2];
/// let inputs = SegInputs::indices(Tensor::new(&x, &[1, 3, 3])?, Tensor::new(&y, &[1, 3])?);
/// let v = loss.value(&inputs, Reduction::Mean)?;
/// assert!(v > 0.0 && v < 1.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// L. Fidon et al., "Generalised Wasserstein Dice Score for Imbalanced Multi-class
/// Segmentation using Holistic Convolutional Networks", BrainLes 2017. MONAI
/// `GeneralizedWassersteinDiceLoss` (the numbers matched).
#[derive(Debug, Clone, PartialEq)]
pub struct GeneralizedWassersteinDice {
    m: Vec<f64>,
    c: usize,
    mode: WassersteinWeighting,
}

const SMOOTH: f64 = 1e-5;

impl GeneralizedWassersteinDice {
    /// The loss with the `c`×`c` distance matrix `dist_matrix` (row-major; row = true class).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn new(dist_matrix: &[f64], c: usize, mode: WassersteinWeighting) -> Result<Self> {
        if c == 0 || dist_matrix.len() != c * c {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "dist_matrix",
                actual: vec![dist_matrix.len()],
                expected: "[C, C] with C >= 1",
            });
        }
        if let Some(i) = dist_matrix
            .iter()
            .position(|v| !(v.is_finite() && *v >= 0.0))
        {
            return Err(Error::InvalidValue {
                loss: NAME,
                arg: "dist_matrix",
                index: vec![i / c, i % c],
                value: dist_matrix[i],
                expected: "a finite distance >= 0",
            });
        }
        let max = dist_matrix.iter().copied().fold(0.0, f64::max);
        if max == 0.0 {
            return Err(Error::InvalidValue {
                loss: NAME,
                arg: "dist_matrix",
                index: vec![0, 0],
                value: 0.0,
                expected: "a matrix with a positive entry (it is divided by its maximum)",
            });
        }
        Ok(GeneralizedWassersteinDice {
            m: dist_matrix.iter().map(|v| v / max).collect(),
            c,
            mode,
        })
    }

    /// The loss reduced with `reduction` (`Mean`: over the N samples).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &SegInputs<'_, T>, reduction: Reduction) -> Result<T> {
        let (v, _) = self.run(inputs, reduction == Reduction::Mean, None, None)?;
        Ok(T::from_f64(v))
    }

    /// The loss and its gradient with respect to `input` (into `grad`, as long as `input`).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        let (v, _) = self.run(inputs, reduction == Reduction::Mean, Some(grad), None)?;
        Ok(T::from_f64(v))
    }

    /// The unreduced loss, one value per sample (`[N]`), into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &SegInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let (_, vals) = self.run(inputs, false, None, None)?;
        check_buffer(NAME, "per-element output", out.len(), vals.len())?;
        for (o, v) in out.iter_mut().zip(&vals) {
            *o = T::from_f64(*v);
        }
        Ok(())
    }

    fn run<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        mean: bool,
        mut grad: Option<&mut [T]>,
        _weights: Option<&[T]>,
    ) -> Result<(f64, Vec<f64>)> {
        no_distance(NAME, inputs)?;
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        if lay.c != self.c {
            return Err(Error::ShapeMismatch {
                loss: NAME,
                arg: "dist_matrix",
                actual: vec![self.c, self.c],
                expected: vec![lay.c, lay.c],
                because: "one distance per pair of `input`'s classes",
            });
        }
        Activation::Softmax.check(NAME, lay.c, input.dims())?;
        let y = match check_target(NAME, &input, &lay, inputs.target())? {
            Gt::Index(y) => y,
            Gt::Mask(_) => {
                return Err(Error::Dtype {
                    loss: NAME,
                    arg: "target",
                    actual: "a mask",
                    expected: "class indices `[N, *spatial]` (integers)",
                })
            }
        };
        let (n, c, s) = (lay.n, lay.c, lay.s);
        let div = divisor(NAME, mean, n)?;
        let x = input.data();
        let mut vals = vec![0.0; n];
        let mut probs = vec![T::ZERO; c * s];
        let mut w = vec![0.0f64; s];
        let mut alpha = vec![0.0f64; c];
        for i in 0..n {
            let yi = &y[i * s..(i + 1) * s];
            Activation::Softmax.forward(&x[i * c * s..(i + 1) * c * s], c, s, &mut probs);
            match self.mode {
                WassersteinWeighting::Default => {
                    alpha.fill(1.0);
                    alpha[0] = 0.0;
                }
                WassersteinWeighting::Gdl => {
                    alpha.fill(0.0);
                    for &k in yi {
                        alpha[k as usize] += 1.0;
                    }
                    alpha.iter_mut().for_each(|a| *a = 1.0 / (*a + 1.0));
                }
            }
            let (mut tp, mut sw, mut gd) = (0.0, 0.0, 0.0);
            for (p, wp) in w.iter_mut().enumerate() {
                let row = &self.m[yi[p] as usize * c..][..c];
                *wp = (0..c).map(|k| row[k] * probs[k * s + p].to_f64()).sum();
                let a = alpha[yi[p] as usize];
                tp += a * (1.0 - *wp);
                sw += *wp;
                gd += a * (2.0 - *wp);
            }
            let num = 2.0 * tp + SMOOTH;
            let den = match self.mode {
                WassersteinWeighting::Default => 2.0 * tp + sw,
                WassersteinWeighting::Gdl => gd,
            } + SMOOTH;
            vals[i] = 1.0 - num / den;
            if let Some(g) = grad.as_deref_mut() {
                let gi = &mut g[i * c * s..(i + 1) * c * s];
                for (p, _) in w.iter().enumerate() {
                    let a = alpha[yi[p] as usize];
                    let dden = match self.mode {
                        WassersteinWeighting::Default => 1.0 - 2.0 * a,
                        WassersteinWeighting::Gdl => -a,
                    };
                    let dw = -(-2.0 * a * den - num * dden) / (den * den) / div;
                    let row = &self.m[yi[p] as usize * c..][..c];
                    for k in 0..c {
                        gi[k * s + p] = T::from_f64(dw * row[k]);
                    }
                }
                Activation::Softmax.backward(&probs, c, s, gi);
            }
        }
        let total = vals.iter().sum::<f64>() / div;
        if !total.is_finite() && !has_nan(&input) {
            return Err(non_finite(NAME, &input));
        }
        Ok((total, vals))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_matrices_are_errors() {
        let m = WassersteinWeighting::Default;
        assert!(GeneralizedWassersteinDice::new(&[0.0; 4], 2, m).is_err());
        assert!(GeneralizedWassersteinDice::new(&[0.0, 1.0, -1.0, 0.0], 2, m).is_err());
        assert!(GeneralizedWassersteinDice::new(&[0.0, 1.0, 1.0], 2, m).is_err());
        let ok = GeneralizedWassersteinDice::new(&[0.0, 2.0, 4.0, 0.0], 2, m).unwrap();
        assert_eq!(ok.m, [0.0, 0.5, 1.0, 0.0]);
    }
}
