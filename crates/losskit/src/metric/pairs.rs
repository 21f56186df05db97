//! Pair losses on two embedding batches and a per-pair target: [`Contrastive`] (Euclidean
//! distance, {0, 1} targets) and [`CosineEmbedding`] (cosine similarity, ±1 targets).

use crate::error::{Error, Result};
use crate::eval::{Kept, Vjp};
use crate::evaluator::{Call, Out};
use crate::numerics::{hinge, Partial};
use crate::real::Real;
use crate::reduction::Reduction;

use super::{check_buffers, dispatch_all, divisor, fold_rows, rows_dims, same_shape, PairInputs};

/// The checked `(N, D)` of a pair loss's inputs.
fn pair_dims<T: Real>(loss: &'static str, inputs: &PairInputs<'_, T>) -> Result<(usize, usize)> {
    let (n, d) = rows_dims(loss, "x1", &inputs.x1)?;
    same_shape(
        loss,
        "x2",
        &inputs.x2,
        inputs.x1.dims(),
        "the shape of `x1`",
    )?;
    same_shape(
        loss,
        "target",
        &inputs.target,
        &[n],
        "one target per row of `x1`",
    )?;
    Ok((n, d))
}

/// A pair loss's per-row kernel: the loss of row `i` and, when `g1`/`g2` are not empty, its
/// gradients times `scale` written there. `None` when the target is outside the domain.
trait PairKernel: Sync {
    const NAME: &'static str;
    const DOMAIN: &'static str;
    fn row<T: Real>(
        &self,
        x1: &[T],
        x2: &[T],
        y: T,
        scale: T,
        g1: &mut [T],
        g2: &mut [T],
    ) -> Option<T>;
}

/// The shared driver: `value`, `value_and_grad`, `per_element` of a [`PairKernel`].
fn run<T: Real, K: PairKernel>(
    k: &K,
    inputs: &PairInputs<'_, T>,
    reduction: Option<Reduction>,
    per: &mut [T],
    g1: &mut [T],
    g2: &mut [T],
) -> Result<T> {
    let (n, d) = pair_dims(K::NAME, inputs)?;
    let denom = match reduction {
        Some(r) => divisor(K::NAME, r, n, true, "")?,
        None => 1.0,
    };
    check_buffers(
        K::NAME,
        &[
            (
                "gradient of `x1`",
                g1.len(),
                if g1.is_empty() { 0 } else { n * d },
            ),
            (
                "gradient of `x2`",
                g2.len(),
                if g2.is_empty() { 0 } else { n * d },
            ),
        ],
    )?;
    let scale = T::from_f64(1.0 / denom);
    let (x1, x2, t) = (inputs.x1.data(), inputs.x2.data(), inputs.target.data());
    let grads = !g1.is_empty();
    let p = fold_rows(n, d, vec![(per, 1), (g1, d), (g2, d)], |rows, b| {
        let mut part = Partial::ZERO;
        let r0 = rows.start;
        for i in rows {
            let k0 = (i - r0) * d;
            let (a, c) = (&x1[i * d..(i + 1) * d], &x2[i * d..(i + 1) * d]);
            let (b0, rest) = b.split_at_mut(1);
            let (b1, b2) = rest.split_at_mut(1);
            let (ga, gb): (&mut [T], &mut [T]) = if grads {
                (&mut b1[0][k0..k0 + d], &mut b2[0][k0..k0 + d])
            } else {
                (&mut [], &mut [])
            };
            match k.row(a, c, t[i], scale, ga, gb) {
                Some(l) => {
                    if let Some(o) = b0[0].get_mut(i - r0) {
                        *o = l;
                    }
                    part.sum += l.to_f64();
                }
                None => part.ok = false,
            }
        }
        part
    });
    if !p.ok {
        let i = t
            .iter()
            .position(|&y| k.row(&[], &[], y, T::ONE, &mut [], &mut []).is_none());
        let i = i.unwrap_or(0);
        return Err(Error::InvalidValue {
            loss: K::NAME,
            arg: "target",
            index: vec![i],
            value: t.get(i).map_or(f64::NAN, |v| v.to_f64()),
            expected: K::DOMAIN,
        });
    }
    Ok(T::from_f64(p.sum / denom))
}

macro_rules! pair_api {
    ($ty:ident) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &PairInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                run(self, inputs, Some(reduction), &mut [], &mut [], &mut [])
            }

            /// The loss reduced with `reduction` and its gradients with respect to `x1` and
            /// `x2` (into `grad_x1`, `grad_x2`, each as long as `x1`; the reduction's scale
            /// included), in one pass.
            ///
            /// # Errors
            /// See the type's docs. On error the buffers hold unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &PairInputs<'_, T>,
                reduction: Reduction,
                grad_x1: &mut [T],
                grad_x2: &mut [T],
            ) -> Result<T> {
                let n = inputs.x1.len();
                check_buffers(
                    <Self as PairKernel>::NAME,
                    &[
                        ("gradient of `x1`", grad_x1.len(), n),
                        ("gradient of `x2`", grad_x2.len(), n),
                    ],
                )?;
                if n == 0 {
                    return run(self, inputs, Some(reduction), &mut [], &mut [], &mut []);
                }
                run(self, inputs, Some(reduction), &mut [], grad_x1, grad_x2)
            }

            /// The per-pair losses `[N]` into `out`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &PairInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let (n, _) = pair_dims(<Self as PairKernel>::NAME, inputs)?;
                check_buffers(
                    <Self as PairKernel>::NAME,
                    &[("per-element output", out.len(), n)],
                )?;
                run(self, inputs, None, out, &mut [], &mut []).map(|_| ())
            }
        }
    };
}

/// Contrastive loss (Hadsell, Chopra and LeCun 2006): pulls similar pairs together, pushes
/// dissimilar pairs at least `margin` apart.
///
/// # Definition
/// $$\ell_i = y_i\, d_i^2 + (1 - y_i)\max(0,\ m - d_i)^2,\qquad d_i = \lVert x_{1,i} - x_{2,i} \rVert_2,\ y_i \in \{0, 1\}$$
/// ($y = 1$: similar). The spec's form, without the paper's ½ (so `0.5 ×` this is the
/// paper's loss).
///
/// # Gradient
/// $\partial \ell_i / \partial x_{1,i} = 2 (x_{1,i} - x_{2,i})$ for $y_i = 1$, and
/// $-2 \max(0, m - d_i)\,(x_{1,i} - x_{2,i}) / d_i$ for $y_i = 0$; $\partial/\partial x_{2,i}$
/// is its negative.
///
/// # Numerical stability
/// At $d_i = 0$ a dissimilar pair has the subgradient 0 (autograd of the formula gives NaN
/// there: $\nabla \lVert v \rVert$ at $v = 0$ is $0/0$); the value is $m^2$, finite.
/// Squared norms accumulate in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 1.0 | ≥ 0 |
///
/// # Errors
/// `x1` not `[N, D]` ([`Error::BadShape`]), `x2` of another shape or `target` not `[N]`
/// ([`Error::ShapeMismatch`]), a target other than 0 or 1 ([`Error::InvalidValue`]),
/// `Mean` over no pairs ([`Error::EmptyMean`]), buffers of the wrong length
/// ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{Contrastive, PairInputs, Reduction, Tensor};
/// let x1 = [0.0f64, 0.0, 1.0, 1.0];
/// let x2 = [3.0f64, 4.0, 1.0, 1.0];
/// let inputs = PairInputs::new(Tensor::new(&x1, &[2, 2])?, Tensor::new(&x2, &[2, 2])?, &[1.0, 0.0]);
/// let (mut g1, mut g2) = ([0.0; 4], [0.0; 4]);
/// let v = Contrastive::default().value_and_grad(&inputs, Reduction::Sum, &mut g1, &mut g2)?;
/// assert_eq!(v, 25.0 + 1.0); // d = 5 similar; d = 0 dissimilar: margin²
/// assert_eq!(g1, [-6.0, -8.0, 0.0, 0.0]); // the zero-distance pair: subgradient 0
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// R. Hadsell, S. Chopra, Y. LeCun, "Dimensionality Reduction by Learning an Invariant
/// Mapping", CVPR 2006. No library function has this exact form; the reference is the
/// formula in float64 torch autograd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contrastive {
    margin: f64,
}

impl Contrastive {
    /// The contrastive loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite and ≥ 0.
    pub fn new(margin: f64) -> Result<Self> {
        if !(margin.is_finite() && margin >= 0.0) {
            return Err(Error::InvalidParam {
                loss: "contrastive",
                param: "margin",
                value: margin,
                expected: ">= 0 and finite",
            });
        }
        Ok(Contrastive { margin })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// `margin = 1`.
impl Default for Contrastive {
    fn default() -> Self {
        Contrastive { margin: 1.0 }
    }
}

impl PairKernel for Contrastive {
    const NAME: &'static str = "contrastive";
    const DOMAIN: &'static str = "0 (dissimilar) or 1 (similar)";
    #[inline]
    fn row<T: Real>(
        &self,
        x1: &[T],
        x2: &[T],
        y: T,
        scale: T,
        g1: &mut [T],
        g2: &mut [T],
    ) -> Option<T> {
        if !(y == T::ZERO || y == T::ONE) {
            return None;
        }
        let sq: f64 = x1
            .iter()
            .zip(x2)
            .map(|(&a, &b)| {
                let e = (a - b).to_f64();
                e * e
            })
            .sum();
        let (loss, coef) = if y == T::ONE {
            (sq, 2.0)
        } else {
            let dist = sq.sqrt();
            let (h, dh) = hinge(self.margin - dist);
            let c = if dh.is_nan() {
                dh
            } else if h > 0.0 && dist > 0.0 {
                -2.0 * h / dist
            } else {
                0.0
            };
            (h * h, c)
        };
        if !g1.is_empty() {
            let c = T::from_f64(coef) * scale;
            for ((g1, g2), (&a, &b)) in g1.iter_mut().zip(g2.iter_mut()).zip(x1.iter().zip(x2)) {
                let v = c * (a - b);
                *g1 = v;
                *g2 = -v;
            }
        }
        Some(T::from_f64(loss))
    }
}
pair_api!(Contrastive);

/// Cosine embedding loss (PyTorch `cosine_embedding_loss`): similar pairs towards cosine 1,
/// dissimilar pairs below cosine `margin`.
///
/// # Definition
/// $$\cos_i = \frac{x_{1,i}\cdot x_{2,i}}{\sqrt{(\lVert x_{1,i}\rVert^2 + \epsilon)(\lVert x_{2,i}\rVert^2 + \epsilon)}},\quad
/// \ell_i = \begin{cases} 1 - \cos_i & y_i = 1 \\ \max(0,\ \cos_i - m) & y_i = -1 \end{cases}$$
/// with PyTorch's $\epsilon = 10^{-12}$ inside the square root.
///
/// # Gradient
/// $\partial \cos / \partial x_1 = x_2/\text{den} - \cos\cdot x_1 / (\lVert x_1\rVert^2 + \epsilon)$
/// (and symmetrically for $x_2$), times $-1$ for $y = 1$ and $[\cos > m]$ for $y = -1$.
///
/// # Numerical stability
/// A zero vector has cosine 0 (the ε keeps the denominator positive) and a finite gradient,
/// as in PyTorch. Dot products and norms accumulate in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 0.0 | finite (PyTorch suggests [−1, 1]; 0 to 0.5 in practice) |
///
/// # Errors
/// As [`Contrastive`], with the target domain {−1, +1} (map {0, 1} labels with $2y - 1$).
///
/// # Example
/// ```
/// use losskit::{CosineEmbedding, PairInputs, Reduction, Tensor};
/// let x1 = [1.0f32, 0.0, 0.0, 0.0];
/// let x2 = [0.0f32, 1.0, 1.0, 1.0];
/// let inputs = PairInputs::new(Tensor::new(&x1, &[2, 2])?, Tensor::new(&x2, &[2, 2])?, &[1.0f32, -1.0]);
/// let v = CosineEmbedding::default().value(&inputs, Reduction::Sum)?;
/// assert_eq!(v, 1.0); // orthogonal similar pair: 1; zero vector: cosine 0, below the margin
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.cosine_embedding_loss` (the same ε placement).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CosineEmbedding {
    margin: f64,
}

impl CosineEmbedding {
    /// The cosine embedding loss with margin `margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite.
    pub fn new(margin: f64) -> Result<Self> {
        if !margin.is_finite() {
            return Err(Error::InvalidParam {
                loss: "cosine_embedding",
                param: "margin",
                value: margin,
                expected: "finite",
            });
        }
        Ok(CosineEmbedding { margin })
    }

    /// The margin.
    pub fn margin(&self) -> f64 {
        self.margin
    }
}

/// PyTorch's ε added to each squared norm: the f32 constant `1e-12f` (9.99999996e-13), also
/// in f64 (the f64 value 1e-12 differs from PyTorch by 2·10⁻⁹ relative for a zero vector).
const COS_EPS: f64 = 1e-12_f32 as f64;

impl PairKernel for CosineEmbedding {
    const NAME: &'static str = "cosine_embedding";
    const DOMAIN: &'static str =
        "-1 or +1 (map {0, 1} labels with 2y - 1 first: with y = 0 the loss is silently wrong)";
    #[inline]
    fn row<T: Real>(
        &self,
        x1: &[T],
        x2: &[T],
        y: T,
        scale: T,
        g1: &mut [T],
        g2: &mut [T],
    ) -> Option<T> {
        if !(y == T::ONE || y == -T::ONE) {
            return None;
        }
        let (mut p, mut m1, mut m2) = (0.0f64, 0.0f64, 0.0f64);
        for (&a, &b) in x1.iter().zip(x2) {
            let (a, b) = (a.to_f64(), b.to_f64());
            p += a * b;
            m1 += a * a;
            m2 += b * b;
        }
        let (m1, m2) = (m1 + COS_EPS, m2 + COS_EPS);
        let den = (m1 * m2).sqrt();
        let cos = p / den;
        let (loss, dl) = if y == T::ONE {
            (1.0 - cos, -1.0)
        } else {
            let z = cos - self.margin;
            hinge(z)
        };
        if !g1.is_empty() {
            let s = dl * scale.to_f64();
            let (c_other, c1, c2) = (
                T::from_f64(s / den),
                T::from_f64(s * cos / m1),
                T::from_f64(s * cos / m2),
            );
            for ((g1, g2), (&a, &b)) in g1.iter_mut().zip(g2.iter_mut()).zip(x1.iter().zip(x2)) {
                *g1 = c_other * b - c1 * a;
                *g2 = c_other * a - c2 * b;
            }
        }
        Some(T::from_f64(loss))
    }
}
pair_api!(CosineEmbedding);

fn eval_pair<T: Real, K: PairKernel>(k: &K, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let inputs = PairInputs::new(
        call.float_req("x1")?,
        call.float_req("x2")?,
        call.float_req("target")?,
    );
    let (n, d) = pair_dims(K::NAME, &inputs)?;
    dispatch_all(
        call,
        out,
        &[n],
        &[("x1", n * d), ("x2", n * d)],
        Vjp::Separable(Kept::ROWS), // one loss per pair of rows
        |r| run(k, &inputs, Some(r), &mut [], &mut [], &mut []),
        |r, g| {
            let (a, b) = g.split_at_mut(1);
            run(k, &inputs, Some(r), &mut [], &mut a[0], &mut b[0])
        },
        |o| run(k, &inputs, None, o, &mut [], &mut []).map(|_| ()),
    )
}

pub(crate) fn eval_contrastive<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    eval_pair(&Contrastive::new(call.params.float("margin"))?, call, out)
}

pub(crate) fn eval_cosine_embedding<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    eval_pair(
        &CosineEmbedding::new(call.params.float("margin"))?,
        call,
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn zero_distance_and_zero_vectors_stay_finite() {
        let x = [0.0f32; 4];
        let inputs = PairInputs::new(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&x, &[2, 2]).unwrap(),
            &[0.0f32, 1.0],
        );
        let (mut g1, mut g2) = ([9.0f32; 4], [9.0f32; 4]);
        let v = Contrastive::default()
            .value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2)
            .unwrap();
        assert_eq!(v, 0.5);
        assert_eq!(g1, [0.0; 4]);
        let cos_in = PairInputs::new(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&[1.0f32, 2.0, 0.0, 0.0], &[2, 2]).unwrap(),
            &[1.0f32, -1.0],
        );
        let v = CosineEmbedding::default()
            .value_and_grad(&cos_in, Reduction::Sum, &mut g1, &mut g2)
            .unwrap();
        assert_eq!(v, 1.0);
        assert!(g1.iter().chain(&g2).all(|g| g.is_finite()));
    }

    #[test]
    fn targets_outside_the_domain_are_named() {
        let x = [0.0f64; 4];
        let t = Tensor::new(&x, &[2, 2]).unwrap();
        let e = Contrastive::default()
            .value(&PairInputs::new(t, t, &[1.0, -1.0]), Reduction::Mean)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "contrastive: `target` at [1] is -1, expected 0 (dissimilar) or 1 (similar)"
        );
        let e = CosineEmbedding::default()
            .value(&PairInputs::new(t, t, &[1.0, 0.0]), Reduction::Sum)
            .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("cosine_embedding: `target` at [1] is 0, expected -1 or +1"));
        let e = Contrastive::default()
            .value(
                &PairInputs::new(t, Tensor::new(&x[..2], &[1, 2]).unwrap(), &[1.0, 1.0]),
                Reduction::Sum,
            )
            .unwrap_err();
        assert!(matches!(e, Error::ShapeMismatch { arg: "x2", .. }));
        assert!(Contrastive::new(-1.0).is_err());
        assert!(CosineEmbedding::new(f64::NAN).is_err());
    }
}
