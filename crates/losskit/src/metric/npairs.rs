//! [`NPairs`], the multi-class N-pair loss: one pair per class, every other pair's positive a
//! negative; on the block engine of the in-batch contrastive losses (`blocks`).

use crate::error::{Error, Result};
use crate::eval::Vjp;
use crate::evaluator::{Call, Out};
use crate::real::Real;
use crate::reduction::Reduction;

use super::blocks::{normalize, normalize_backward, Coef, Pair, Pos};
use super::mining::mean_only;
use super::{check_buffers, dispatch_all, rows_dims, same_shape, ViewInputs};

const NPAIRS: &str = "npairs";

/// The multi-class N-pair loss (Sohn 2016) as pytorch-metric-learning computes it: row $i$
/// of `anchor` and row $i$ of `positive` are the one pair of class $i$; each anchor's
/// softmax runs over every positive of the batch.
///
/// # Definition
/// With $\hat a_i$, $\hat p_j$ the L2-normalised rows and $s_{ij} = \hat a_i\cdot\hat p_j$
/// (cosine similarities, no temperature),
/// $$\ell_i = -s_{ii} + \ln\sum_j e^{s_{ij}}$$
/// i.e. `cross_entropy(normalize(anchor) @ normalize(positive).T, arange(N))`, averaged over
/// the $N$ anchors. `mean` is the only reduction.
///
/// # Gradient
/// $\partial L/\partial s_{ij} = (\mathrm{softmax}_j(s_{i\cdot}) - [i = j])/N$, then through
/// the normalisation of both inputs.
///
/// # Numerical stability and memory
/// The block engine of [`InfoNce`](crate::InfoNce): online per-row log-sum-exp over tiles
/// in f64, tiles recomputed for the gradient, no N×N matrix stored.
///
/// # Errors
/// `anchor` not `[N, D]` with D ≥ 1 ([`Error::BadShape`]); `positive` of another shape
/// ([`Error::ShapeMismatch`]); an empty batch ([`Error::EmptyMean`]); a reduction other
/// than `mean` ([`Error::UnsupportedReduction`]).
///
/// # Example
/// ```
/// use losskit::{NPairs, Reduction, Tensor, ViewInputs};
/// let a = [1.0f32, 0.0, 0.0, 1.0];
/// let p = [2.0f32, 0.0, 0.0, 3.0];
/// let inputs = ViewInputs::new(Tensor::new(&a, &[2, 2])?, Tensor::new(&p, &[2, 2])?);
/// let v = NPairs.value(&inputs, Reduction::Mean)?;
/// // each anchor: its positive at cosine 1, the other at 0
/// assert!((v - (1.0f32 + (-1.0f32).exp()).ln()).abs() < 1e-6);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// K. Sohn, "Improved Deep Metric Learning with Multi-class N-pair Loss Objective", NeurIPS
/// 2016. Equals pytorch-metric-learning `NPairsLoss()` on `cat([anchor, positive])` with
/// labels `arange(N)` twice: its default distance, `DotProductSimilarity`, normalises the
/// embeddings (so the logits are cosine similarities), and it adds no L2 regulariser (the
/// paper's ‖f‖² term is left to an `embedding_regularizer`). That is [`InfoNce`](crate::InfoNce)
/// at temperature 1.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NPairs;

impl NPairs {
    fn dims<T>(inputs: &ViewInputs<'_, T>) -> Result<(usize, usize)> {
        let (n, d) = rows_dims(NPAIRS, "anchor", &inputs.first)?;
        same_shape(
            NPAIRS,
            "positive",
            &inputs.second,
            inputs.first.dims(),
            "the shape of `anchor`",
        )?;
        if d == 0 {
            return Err(Error::BadShape {
                loss: NPAIRS,
                arg: "anchor",
                actual: inputs.first.dims().to_vec(),
                expected:
                    "`[N, D]` with D >= 1: a zero-width embedding has no direction to compare",
            });
        }
        Ok((n, d))
    }

    /// The loss, reduced with `mean` (the only reduction it takes).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &ViewInputs<'_, T>, reduction: Reduction) -> Result<T> {
        mean_only(NPAIRS, reduction)?;
        self.run(inputs, None)
    }

    /// The loss (`mean`) and its gradients with respect to `anchor` and `positive` (each
    /// buffer as long as `anchor`).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &ViewInputs<'_, T>,
        reduction: Reduction,
        grad_anchor: &mut [T],
        grad_positive: &mut [T],
    ) -> Result<T> {
        mean_only(NPAIRS, reduction)?;
        let n = inputs.first().len();
        check_buffers(
            NPAIRS,
            &[
                ("gradient of `anchor`", grad_anchor.len(), n),
                ("gradient of `positive`", grad_positive.len(), n),
            ],
        )?;
        self.run(inputs, Some((grad_anchor, grad_positive)))
    }

    fn run<T: Real>(
        &self,
        inputs: &ViewInputs<'_, T>,
        grads: Option<(&mut [T], &mut [T])>,
    ) -> Result<T> {
        let (n, d) = Self::dims(inputs)?;
        if n == 0 {
            return Err(Error::EmptyMean { loss: NPAIRS });
        }
        let (a, an) = normalize(inputs.first.data(), d);
        let (p, pn) = normalize(inputs.second.data(), d);
        let ap = Pair {
            x: &a,
            y: &p,
            d,
            inv_tau: 1.0,
            exclude_diag: false,
            pos: Pos::Shift(0),
        };
        let (lse, pos) = ap.row_stats();
        let sum: f64 = lse.iter().zip(&pos).map(|(l, s)| l - s).sum();
        if let Some((ga, gp)) = grads {
            let w = vec![T::from_f64(1.0 / n as f64); n];
            let l: Vec<T> = lse.iter().map(|&v| T::from_f64(v)).collect();
            let stats = Some((l.as_slice(), w.as_slice(), w.as_slice()));
            ap.grad(
                &Coef {
                    row: stats,
                    col: None,
                },
                ga,
            );
            let pa = Pair { x: &p, y: &a, ..ap };
            pa.grad(
                &Coef {
                    row: None,
                    col: stats,
                },
                gp,
            );
            normalize_backward(ga, &a, &an, d);
            normalize_backward(gp, &p, &pn, d);
        }
        Ok(T::from_f64(sum / n as f64))
    }

    fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
        let inputs = ViewInputs::new(call.float_req("anchor")?, call.float_req("positive")?);
        let (n, d) = Self::dims(&inputs)?;
        let none = || Error::UnsupportedReduction {
            loss: NPAIRS,
            reduction: "none".to_owned(),
            supported: vec!["mean"],
        };
        dispatch_all(
            call,
            out,
            &[n],
            &[("anchor", n * d), ("positive", n * d)],
            Vjp::Coupled(&|_, _| Err(none())),
            |r| self.value(&inputs, r),
            |r, g| {
                let (a, b) = g.split_at_mut(1);
                self.value_and_grad(&inputs, r, &mut a[0], &mut b[0])
            },
            |_| Err(none()),
        )
    }
}

pub(crate) fn eval_npairs<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    NPairs.evaluate(call, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    /// NPairs is InfoNCE at temperature 1 (one direction), to the last bits of the value.
    #[test]
    fn npairs_is_info_nce_at_temperature_one() {
        let mut rng = crate::sample::Rng::new(8);
        let z = rng.normals(2 * 40 * 6, 1.0);
        let (a, p) = z.split_at(240);
        let inputs = ViewInputs::new(
            Tensor::new(a, &[40, 6]).unwrap(),
            Tensor::new(p, &[40, 6]).unwrap(),
        );
        let (mut g1, mut g2, mut h1, mut h2) = (
            vec![0.0; 240],
            vec![0.0; 240],
            vec![0.0; 240],
            vec![0.0; 240],
        );
        let v = NPairs
            .value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2)
            .unwrap();
        let w = crate::InfoNce::new(1.0, false)
            .unwrap()
            .value_and_grad(&inputs, Reduction::Mean, &mut h1, &mut h2)
            .unwrap();
        assert_eq!(v, w);
        assert_eq!((g1, g2), (h1, h2));
        let e = NPairs
            .value(&inputs, Reduction::Sum)
            .unwrap_err()
            .to_string();
        assert!(e.contains("npairs") && e.contains("`sum`"), "{e}");
        // One pair: a softmax over one logit, 0.
        let one = ViewInputs::new(
            Tensor::new(&a[..6], &[1, 6]).unwrap(),
            Tensor::new(&p[..6], &[1, 6]).unwrap(),
        );
        assert_eq!(NPairs.value(&one, Reduction::Mean), Ok(0.0));
    }
}
