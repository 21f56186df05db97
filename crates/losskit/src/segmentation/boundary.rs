//! Boundary loss (Kervadec et al. 2019) on the signed distance maps of the target.

use crate::distance::signed_map;
use crate::error::{check_buffer, Error, Result};
use crate::real::Real;
use crate::reduction::Reduction;

use super::{
    check_target, divisor, first_class, has_nan, layout, non_finite, with_target, Activation,
    Layout, SegInputs, Target,
};

const NAME: &str = "boundary";

/// Boundary loss: the probabilities weighted by the signed distance to the target's boundary.
///
/// # Definition
/// With $P$ = activation(`input`) and $\varphi_{nc}$ the signed distance map of class $c$ of
/// sample $n$'s target ([`distance::signed_distance`](crate::distance::signed_distance):
/// the distance to the object outside it, $-(d - 1)$ inside it with $d$ the distance to the
/// background, so 0 on the object's boundary elements; all zeros for a class absent from the
/// sample):
/// $$\ell_{nc} = \frac{1}{S}\sum_{p} P_{ncp}\,\varphi_{ncp}$$
/// over the $S$ spatial positions. `Mean` averages the $N \cdot C'$ values, which is the mean
/// over $N$, $C'$ and every position of $P\varphi$, Kervadec et al.'s definition; `Sum` adds
/// them; `per_element` returns them, `[N, C']`. The loss is negative when the mass sits
/// inside the objects: it is meant to be added to a regional loss (Dice) with a weight that
/// grows during training.
///
/// # Gradient
/// $\partial\ell/\partial P = \varphi/S$ (times the reduction's scale), through the activation.
///
/// # Distance maps
/// Computed inside from the target by an exact Euclidean distance transform
/// ([`distance`](crate::distance), linear time, SciPy's numbers), or passed precomputed as
/// `distance` ([`SegInputs::distance`]), of `input`'s shape: computing them at every step is
/// what makes boundary loss slow elsewhere, and a data loader can compute them once per
/// image (`losskit edt MASK.npy --signed`, with voxel spacing when the voxels are not cubes).
/// The maps computed inside use unit spacing.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `activation` | `softmax` | `sigmoid`, `softmax` (C ≥ 2), `none` |
/// | `include_background` | `false` | |
///
/// # Errors
/// As [`Dice`](crate::Dice) for `input` and `target`; a `distance` input not of `input`'s
/// shape ([`Error::ShapeMismatch`]); neither `target` nor `distance` given
/// ([`Error::MissingInput`]).
///
/// # Example
/// ```
/// use losskit::{Activation, Boundary, Reduction, SegInputs, Tensor};
/// // One binary channel of 5 pixels; the object is pixels 1..=3.
/// let p = [0.0f64, 1.0, 1.0, 1.0, 0.5];
/// let g = [0.0f64, 1.0, 1.0, 1.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 5])?, Tensor::new(&g, &[1, 1, 5])?);
/// let b = Boundary::default().activation(Activation::None).include_background(true);
/// // φ = [1, 0, −1, 0, 1]
/// assert_eq!(b.value(&inputs, Reduction::Mean)?, (-1.0 + 0.5) / 5.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// H. Kervadec et al., "Boundary loss for highly unbalanced segmentation", MIDL 2019; the
/// maps are those of its reference code's `one_hot2dist` (LIVIAETS/boundary-loss) with SciPy's
/// `distance_transform_edt`, and the loss its `BoundaryLoss` (`einsum` then `mean`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Boundary {
    activation: Activation,
    include_background: bool,
}

impl Default for Boundary {
    fn default() -> Self {
        Boundary {
            activation: Activation::Softmax,
            include_background: false,
        }
    }
}

impl Boundary {
    /// The activation applied to `input` (default [`Activation::Softmax`]).
    #[must_use]
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Whether class 0 counts (default `false`, as the paper).
    #[must_use]
    pub fn include_background(mut self, include: bool) -> Self {
        self.include_background = include;
        self
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &SegInputs<'_, T>, reduction: Reduction) -> Result<T> {
        let (v, _) = self.run(inputs, reduction == Reduction::Mean, None, None)?;
        Ok(T::from_f64(v))
    }

    /// The loss reduced with `reduction`, and its gradient with respect to `input` (into
    /// `grad`, as long as `input`).
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

    /// The per-sample, per-class losses `[N, C']` into `out`.
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

    /// The vector-Jacobian product of the unreduced loss: ∂(Σ u·ℓ)/∂`input` into `grad`
    /// (`u` `[N, C']`), each value's row of the backward pass weighted by its `u`.
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
        grad: Option<&mut [T]>,
        weights: Option<&[T]>,
    ) -> Result<(f64, Vec<f64>)> {
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        self.activation.check(NAME, lay.c, input.dims())?;
        let maps: Vec<T> = match inputs.distance_tensor() {
            Some(d) => {
                if d.dims() != input.dims() {
                    return Err(Error::ShapeMismatch {
                        loss: NAME,
                        arg: "distance",
                        actual: d.dims().to_vec(),
                        expected: input.dims().to_vec(),
                        because:
                            "one signed distance map per sample and class: the shape of `input`",
                    });
                }
                if inputs.target().is_some() {
                    check_target(NAME, &input, &lay, inputs.target())?;
                }
                d.data().to_vec()
            }
            None => {
                let gt = check_target(NAME, &input, &lay, inputs.target())?;
                with_target!(gt, lay, |g| maps_of(&g, &lay))
            }
        };
        let c0 = first_class(self.include_background, lay.c);
        let (n, c, s) = (lay.n, lay.c, lay.s);
        let cp = c - c0;
        let div = divisor(NAME, mean, n * cp)?;
        let mut vals = vec![0.0; n * cp];
        let mut probs = vec![T::ZERO; c * s];
        let x = input.data();
        let mut grad = grad;
        let scale = T::from_f64(1.0 / (div * s as f64));
        for i in 0..n {
            self.activation
                .forward(&x[i * c * s..(i + 1) * c * s], c, s, &mut probs);
            for k in c0..c {
                let pr = &probs[k * s..(k + 1) * s];
                let ph = &maps[(i * c + k) * s..(i * c + k + 1) * s];
                let sum = crate::numerics::lane_sum(s, |p| pr[p].to_f64() * ph[p].to_f64());
                vals[i * cp + k - c0] = sum / s as f64;
            }
            if let Some(g) = grad.as_mut() {
                let gi = &mut g[i * c * s..(i + 1) * c * s];
                gi[..c0 * s].fill(T::ZERO);
                let mi = &maps[(i * c + c0) * s..(i + 1) * c * s];
                match weights {
                    None => {
                        for (o, &m) in gi[c0 * s..].iter_mut().zip(mi) {
                            *o = m * scale;
                        }
                    }
                    // A cotangent weighs each (sample, class) row: ∂(Σ u·ℓ).
                    Some(u) => {
                        let rows = gi[c0 * s..].chunks_mut(s.max(1)).zip(mi.chunks(s.max(1)));
                        for (k, (go, mk)) in rows.enumerate() {
                            let w = scale * u[i * cp + k];
                            for (o, &m) in go.iter_mut().zip(mk) {
                                *o = m * w;
                            }
                        }
                    }
                }
                self.activation.backward(&probs, c, s, gi);
            }
        }
        let total = vals.iter().sum::<f64>() / div;
        if !total.is_finite() && !has_nan(&input) {
            return Err(non_finite(NAME, &input));
        }
        Ok((total, vals))
    }
}

/// The signed distance maps of every sample and class of the target, `[N, C, S]`.
fn maps_of<T: Real, G: Target<T>>(g: &G, lay: &Layout) -> Vec<T> {
    let (n, c, s) = (lay.n, lay.c, lay.s);
    let mut out = vec![T::ZERO; n * c * s];
    let mut mask = vec![false; s];
    let mut phi = vec![0.0f64; s];
    let ones = vec![1.0; lay.spatial.len()];
    for i in 0..n {
        for k in 0..c {
            for (p, m) in mask.iter_mut().enumerate() {
                *m = g.at(i, k, p) == T::ONE;
            }
            signed_map(&mask, |m| m, &lay.spatial, &ones, &mut phi);
            for (o, &v) in out[(i * c + k) * s..(i * c + k + 1) * s]
                .iter_mut()
                .zip(&phi)
            {
                *o = T::from_f64(v);
            }
        }
    }
    out
}
