//! Hausdorff distance loss on distance transforms (Karimi & Salcudean 2019): [`HausdorffDt`].

use crate::distance::squared_edt;
use crate::error::{check_buffer, Error, Result};
use crate::numerics::lane_sum;
use crate::real::Real;
use crate::reduction::Reduction;

use super::combo::mask_of;
use super::overlap::values_shape;
use super::{divisor, first_class, has_nan, no_distance, non_finite, Activation, SegInputs};

const NAME: &str = "hausdorff_dt";

/// The Hausdorff distance loss of Karimi & Salcudean, on exact distance transforms: the
/// squared error of each probability weighted by how far that position lies from the
/// prediction's and the target's boundaries, so the errors far from the object, which make the
/// Hausdorff distance, cost most.
///
/// # Definition
/// For each sample n and kept class c (all but class 0 by default, as MONAI):
/// $$\ell_{nc} = \frac{1}{S}\sum_p (P_p - G_p)^2\,\big(d_P(p)^\alpha + d_G(p)^\alpha\big)$$
/// where $d_M(p)$ is, for the binary mask M, the Euclidean distance from p to the nearest
/// position of the other side (inside the object: to the nearest background; outside: to the
/// nearest object), and 0 everywhere when M is empty or full; $d_P$ is that of the
/// thresholded prediction P > 0.5, $d_G$ that of the target. With `batch`, one value per class
/// over the whole batch (the mean over N·S). `Mean` averages the values, `Sum` adds them,
/// [`per_element`](Self::per_element) gives `[N, C']` (`[C']` with `batch`).
///
/// # Gradient
/// $\partial\ell_{nc}/\partial P_p = 2(P_p - G_p)(d_P^\alpha + d_G^\alpha)/S$, then through the
/// activation. The distance maps are constants of the gradient (MONAI computes them under
/// `torch.no_grad()` from the detached prediction): the loss is piecewise smooth, with jumps
/// where a probability crosses 0.5.
///
/// # Numerical stability
/// The distances come from losskit's exact transform as squared distances (integers for
/// unit spacing); $d^\alpha$ is $(d^2)^{\alpha/2}$, so α = 2 uses the squared distance
/// as it is. The sums run in f64.
///
/// # Parameters
/// `alpha` (2.0, ≥ 0), `activation` (softmax), `include_background` (false, as MONAI),
/// `batch` (false). Unit spacing.
///
/// # Deliberate difference
/// MONAI rounds the distance maps to float32 (`.float()`) in a float64 pass too; here they
/// stay exact in f64 (MONAI's float64 values agree to about 1e-7).
///
/// # Errors
/// As [`Dice`](crate::Dice) for the input and the target; [`Error::InvalidParam`] for a
/// negative or non-finite `alpha`.
///
/// # Example
/// ```
/// use losskit::{Activation, HausdorffDt, Reduction, SegInputs, Tensor};
/// let p = [0.9f64, 0.8, 0.1, 0.3, 0.6, 0.2]; // [1, 1, 6] probabilities
/// let g = [1.0f64, 1.0, 0.0, 0.0, 0.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 6])?, Tensor::new(&g, &[1, 1, 6])?);
/// let loss = HausdorffDt::default().activation(Activation::None);
/// let mut grad = [0.0; 6];
/// let v = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
/// // The false positive at position 4 is 3 from the object: the largest gradient.
/// assert!(v > 0.0 && grad[4] > grad[3] && grad[3] > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// D. Karimi and S. E. Salcudean, "Reducing the Hausdorff Distance in Medical Image
/// Segmentation with Convolutional Neural Networks", IEEE TMI 39(2), 2020. MONAI
/// `HausdorffDTLoss` (the numbers matched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HausdorffDt {
    activation: Activation,
    include_background: bool,
    batch: bool,
    alpha: f64,
}

/// α = 2, softmax, background left out (MONAI's default), per-sample values.
impl Default for HausdorffDt {
    fn default() -> Self {
        HausdorffDt {
            activation: Activation::Softmax,
            include_background: false,
            batch: false,
            alpha: 2.0,
        }
    }
}

/// The `[N, C']` layout the values follow (`values_shape` with this loss's options).
fn opts(h: &HausdorffDt) -> super::overlap::Opts {
    super::overlap::Opts {
        activation: h.activation,
        include_background: h.include_background,
        batch: h.batch,
        ..super::overlap::Opts::DEFAULT
    }
}

impl HausdorffDt {
    /// The activation applied to `input` (default [`Activation::Softmax`]).
    #[must_use]
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether class 0 counts (default `false`, as MONAI; kept when C = 1).
    #[must_use]
    pub fn include_background(mut self, include: bool) -> Self {
        self.include_background = include;
        self
    }

    /// `true`: one value per class over the whole batch; `false` (default): one per sample and
    /// class.
    #[must_use]
    pub fn batch(mut self, batch: bool) -> Self {
        self.batch = batch;
        self
    }

    /// The exponent of the distances (default 2).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn alpha(mut self, alpha: f64) -> Result<Self> {
        if !(alpha >= 0.0 && alpha.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "alpha",
                value: alpha,
                expected: ">= 0 and finite",
            });
        }
        self.alpha = alpha;
        Ok(self)
    }

    /// The loss reduced with `reduction` (`Mean`: over the values `per_element` gives).
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

    /// The unreduced loss, `[N, C']` (`[C']` with `batch`), into `out`.
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

    /// The shape of [`per_element`](Self::per_element)'s output for `input` of shape `dims`.
    ///
    /// # Errors
    /// [`Error::BadShape`] for a shape that is not `[N, C, *spatial]`.
    pub fn per_element_shape(&self, dims: &[usize]) -> Result<Vec<usize>> {
        values_shape(NAME, &opts(self), true, dims)
    }

    /// The vector-Jacobian product of [`per_element`](Self::per_element) with cotangent `u`.
    pub(crate) fn vjp<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        u: &[T],
        grad: &mut [T],
    ) -> Result<()> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        self.run(inputs, false, Some(grad), Some(u)).map(|_| ())
    }

    fn run<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        mean: bool,
        mut grad: Option<&mut [T]>,
        weights: Option<&[T]>,
    ) -> Result<(f64, Vec<f64>)> {
        no_distance(NAME, inputs)?;
        let input = inputs.input();
        let (lay, mask) = mask_of(NAME, inputs)?;
        self.activation.check(NAME, lay.c, input.dims())?;
        let (n, c, s) = (lay.n, lay.c, lay.s);
        let c0 = first_class(self.include_background, c);
        let cp = c - c0;
        let count = if self.batch { cp } else { n * cp };
        let div = divisor(NAME, mean, count)?;
        // Each value is a mean over its positions: S (N·S with `batch`).
        let per = if self.batch { n * s } else { s };
        if per == 0 && count > 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        if let Some(u) = weights {
            check_buffer(NAME, "cotangent", u.len(), count)?;
        }
        let mut vals = vec![0.0; count];
        let mut probs = vec![T::ZERO; c * s];
        let mut bin = vec![false; s];
        let (mut fg, mut bg) = (vec![0.0f64; s], vec![0.0f64; s]);
        let mut dist = vec![0.0f64; s];
        let x = input.data();
        let half = T::from_f64(0.5);
        for i in 0..n {
            self.activation
                .forward(&x[i * c * s..(i + 1) * c * s], c, s, &mut probs);
            let mut gi = grad
                .as_deref_mut()
                .map(|g| &mut g[i * c * s..(i + 1) * c * s]);
            if let Some(g) = gi.as_deref_mut() {
                g[..c0 * s].fill(T::ZERO);
            }
            for k in c0..c {
                let pr = &probs[k * s..(k + 1) * s];
                let gt = &mask[(i * c + k) * s..(i * c + k + 1) * s];
                // d_P^α + d_G^α: constants of the gradient.
                for (b, &p) in bin.iter_mut().zip(pr) {
                    *b = p > half;
                }
                self.field(&bin, &lay.spatial, (&mut fg, &mut bg), &mut dist, false);
                for (b, &t) in bin.iter_mut().zip(gt) {
                    *b = t > half;
                }
                self.field(&bin, &lay.spatial, (&mut fg, &mut bg), &mut dist, true);
                let sum = lane_sum(s, |p| {
                    let e = pr[p].to_f64() - gt[p].to_f64();
                    e * e * dist[p]
                });
                let j = if self.batch { k - c0 } else { i * cp + k - c0 };
                vals[j] += sum / per as f64;
                if let Some(g) = gi.as_deref_mut() {
                    let w = weights.map_or(1.0, |u| u[j].to_f64());
                    let scale = 2.0 * w / (per as f64 * div);
                    for ((o, (&p, &t)), &d) in g[k * s..(k + 1) * s]
                        .iter_mut()
                        .zip(pr.iter().zip(gt))
                        .zip(&dist)
                    {
                        *o = T::from_f64((p.to_f64() - t.to_f64()) * d * scale);
                    }
                }
            }
            if let Some(g) = gi {
                self.activation.backward(&probs, c, s, g);
            }
        }
        let total = vals.iter().sum::<f64>() / div;
        if !total.is_finite() && !has_nan(&input) {
            return Err(non_finite(NAME, &input));
        }
        Ok((total, vals))
    }

    /// `d_M^α` of the mask `m` written to `out` (`add`: added to it): the distance of each
    /// position to the nearest one of the other side, 0 everywhere for an empty or full mask.
    fn field(
        &self,
        m: &[bool],
        dims: &[usize],
        (fg, bg): (&mut [f64], &mut [f64]),
        out: &mut [f64],
        add: bool,
    ) {
        let any = m.iter().any(|&b| b);
        let all = m.iter().all(|&b| b);
        let ones = [1.0; 3];
        if any && !all {
            squared_edt(m, |b| b, dims, &ones[..dims.len()], fg);
            squared_edt(m, |b| !b, dims, &ones[..dims.len()], bg);
        } else {
            fg.fill(0.0);
            bg.fill(0.0);
        }
        let half = self.alpha / 2.0;
        for ((o, &a), &b) in out.iter_mut().zip(fg.iter()).zip(bg.iter()) {
            // One of the two is 0: the squared distance to the other side.
            let d2 = a + b;
            let v = if half == 1.0 { d2 } else { d2.powf(half) };
            *o = if add { *o + v } else { v };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    /// The distance maps of a 1-D mask, by hand: d_P^2 + d_G^2 at α = 2.
    #[test]
    fn field_by_hand() {
        let h = HausdorffDt::default();
        let m = [true, true, false, false, false];
        let (mut a, mut b, mut out) = (vec![0.0; 5], vec![0.0; 5], vec![0.0; 5]);
        h.field(&m, &[5], (&mut a, &mut b), &mut out, false);
        assert_eq!(out, [4.0, 1.0, 1.0, 4.0, 9.0]);
        h.field(&[false; 5], &[5], (&mut a, &mut b), &mut out, true);
        assert_eq!(out, [4.0, 1.0, 1.0, 4.0, 9.0]);
        h.field(&[true; 5], &[5], (&mut a, &mut b), &mut out, false);
        assert_eq!(out, [0.0; 5]);
    }

    #[test]
    fn none_averages_to_mean_and_vjp_is_its_gradient() {
        let dims = [2usize, 3, 3, 4];
        let x: Vec<f64> = (0..72)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 3.0 - 1.7)
            .collect();
        let y: Vec<i64> = (0..24).map(|i| (i * 5 % 7 % 3) as i64).collect();
        let inputs = SegInputs::indices(
            Tensor::new(&x, &dims).unwrap(),
            Tensor::new(&y, &[2, 3, 4]).unwrap(),
        );
        for batch in [false, true] {
            let h = HausdorffDt::default().batch(batch);
            let len: usize = h.per_element_shape(&dims).unwrap().iter().product();
            let mut o = vec![0.0; len];
            h.per_element(&inputs, &mut o).unwrap();
            let mut g = vec![0.0; 72];
            let m = h.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
            assert!((o.iter().sum::<f64>() / len as f64 - m).abs() < 1e-12);
            let mut gv = vec![0.0; 72];
            h.vjp(&inputs, &vec![1.0 / len as f64; len], &mut gv)
                .unwrap();
            for (a, b) in g.iter().zip(&gv) {
                assert!((a - b).abs() < 1e-14, "{a} {b}");
            }
        }
        assert!(HausdorffDt::default().alpha(-1.0).is_err());
    }
}
