//! Multi-label hinge (margin) loss, PyTorch's `multilabel_margin_loss`.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, Plot, PlotAxis, Role,
    STANDARD_REDUCTIONS,
};
use crate::error::{check_buffer, Error, Result};
use crate::eval::{dispatch, Call, Out, Vjp};
use crate::evaluator;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::sample::{rows, Rng, Sample};

use super::multiclass::{layout, ClassInputs, ClassTarget, LOGITS};

const NAME: &str = "multilabel_margin";

/// Multi-label hinge loss: every target class of a sample should score at least 1 above
/// every non-target class.
///
/// # Definition
/// For scores $x$ of shape `[N, C]` (or `[C]`) and a target row listing the sample's classes
/// $y_1, y_2, \dots$ up to the first −1 (the rest of the row is ignored), with $J$ the set of
/// listed classes:
/// $$\ell_n = \frac{1}{C} \sum_{j} \sum_{i \notin J} \max(0,\ 1 - x_{y_j} + x_i),$$
/// the outer sum over the listed entries (a class listed twice counts twice, as PyTorch).
/// `Mean` divides $\sum_n \ell_n$ by $N$.
///
/// # Gradient
/// Each active pair ($1 - x_{y_j} + x_i > 0$) adds $1/C$ to $\partial \ell / \partial x_i$ and
/// $-1/C$ to $\partial \ell / \partial x_{y_j}$ (0 at exactly 0, as PyTorch); times the
/// reduction's scale.
///
/// # Numerical stability
/// Piecewise linear; no transcendental functions. Sums accumulate in f64. A NaN score makes
/// its pairs NaN (PyTorch's `if (z > 0)` would drop them and return a finite loss).
///
/// # Errors
/// Evaluation rejects an `input` that is not `[N, C]` or `[C]` with C ≥ 1
/// ([`Error::BadShape`]), a `target` that is not of `input`'s shape, a listed entry outside
/// [0, C) other than the terminating −1, float targets, a `weight`, `Mean` over no samples
/// and buffers of the wrong length.
///
/// # Example
/// ```
/// use losskit::{ClassInputs, MultilabelMargin, Reduction, Tensor};
/// // PyTorch's docs example: classes 3 and 0 are the targets.
/// let x = [0.1f64, 0.2, 0.4, 0.8];
/// let y = [3i64, 0, -1, 1];
/// let inputs = ClassInputs::new(Tensor::new(&x, &[1, 4])?, Tensor::new(&y, &[1, 4])?);
/// let v = MultilabelMargin.value(&inputs, Reduction::Mean)?;
/// // ((1 − (0.1 − 0.2)) + (1 − (0.1 − 0.4)) + (1 − (0.8 − 0.2)) + (1 − (0.8 − 0.4))) / 4
/// assert!((v - 0.85).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.multilabel_margin_loss` (`MultiLabelMarginLoss`); the numbers
/// matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MultilabelMargin;

/// One sample: the listed targets `ys` (already cut at the first −1), the mask of target
/// classes `is_t`. Returns the loss (without the 1/C).
#[inline(always)]
fn row<T: Real, const GRAD: bool>(x: &[T], ys: &[i64], is_t: &[bool], gs: T, g: &mut [T]) -> T {
    if GRAD {
        g.fill(T::ZERO);
    }
    let mut acc = [T::ZERO; 4];
    for &y in ys {
        let xy = x[y as usize];
        let mut gy = T::ZERO;
        for (i, (&xi, &t)) in x.iter().zip(is_t).enumerate() {
            if t {
                continue;
            }
            let z = T::ONE - xy + xi;
            // NaN counts as active: it reaches the value and both gradients.
            let on = z > T::ZERO || z.is_nan();
            if on {
                acc[i % 4] += z;
                if GRAD {
                    let d = if z.is_nan() { z } else { gs };
                    g[i] += d;
                    gy += d;
                }
            }
        }
        if GRAD {
            g[y as usize] -= gy;
        }
    }
    (acc[0] + acc[2]) + (acc[1] + acc[3])
}

impl MultilabelMargin {
    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &ClassInputs<'_, T>, reduction: Reduction) -> Result<T> {
        self.run::<T, false, false>(inputs, Some(reduction), &mut [])
    }

    /// The loss reduced with `reduction` and its gradient with respect to `input` (into
    /// `grad`, as long as `input`; the reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        self.run::<T, true, false>(inputs, Some(reduction), grad)
    }

    /// The per-sample losses (`[N]`, or `[]` for a `[C]` input) into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &ClassInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let lay = layout(NAME, &inputs.input())?;
        check_buffer(NAME, "per-element output", out.len(), lay.elements())?;
        self.run::<T, false, true>(inputs, None, out).map(|_| ())
    }

    fn run<T: Real, const GRAD: bool, const OUT: bool>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Option<Reduction>,
        buf: &mut [T],
    ) -> Result<T> {
        inputs.check_takes(NAME, &["input", "target"], false)?;
        let input = inputs.input();
        if input.dims().len() > 2 {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "`[N, C]` or `[C]` with C >= 1",
            });
        }
        let lay = layout(NAME, &input)?;
        let ClassTarget::Indices(target) = inputs.target() else {
            return Err(Error::Dtype {
                loss: NAME,
                arg: "target",
                actual: "float",
                expected: "class indices (integers), −1 ending each row's list",
            });
        };
        if target.dims() != input.dims() {
            return Err(Error::ShapeMismatch {
                loss: NAME,
                arg: "target",
                actual: target.dims().to_vec(),
                expected: input.dims().to_vec(),
                because: "each row lists the sample's classes: the shape of `input`",
            });
        }
        let (n, c) = (lay.n, lay.c);
        let ys = target.data();
        // Each row's list: the entries before the first −1, each a class in [0, C).
        for (r, yr) in ys.chunks_exact(c).enumerate() {
            for (k, &y) in yr.iter().enumerate() {
                if y == -1 {
                    break;
                }
                if !(0..c as i64).contains(&y) {
                    return Err(Error::InvalidInteger {
                        loss: NAME,
                        arg: "target",
                        index: target.shape().unravel(r * c + k),
                        value: i128::from(y),
                        expected: "a class index in [0, C) or −1 (the end of the row's list)",
                    });
                }
            }
        }
        let mean = reduction == Some(Reduction::Mean);
        if mean && n == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let denom = if mean { n as f64 } else { 1.0 };
        let inv_c = T::ONE / T::from_f64(c as f64);
        let gs = T::from_f64(1.0 / denom) * inv_c;
        let x = input.data();
        let chunk = |r: core::ops::Range<usize>, g: &mut [T], o: &mut [T]| {
            let mut lanes = Lanes::default();
            let mut is_t = vec![false; c];
            for (i, k) in r.enumerate() {
                let (xr, yr) = (&x[k * c..][..c], &ys[k * c..][..c]);
                let len = yr.iter().position(|&y| y == -1).unwrap_or(c);
                let list = &yr[..len];
                is_t.fill(false);
                for &y in list {
                    is_t[y as usize] = true;
                }
                let l = if GRAD {
                    row::<T, true>(xr, list, &is_t, gs, &mut g[i * c..][..c])
                } else {
                    row::<T, false>(xr, list, &is_t, gs, &mut [])
                } * inv_c;
                if OUT {
                    o[i] = l;
                }
                lanes.add(i, l.to_f64());
            }
            lanes.total()
        };
        let sum = if GRAD {
            rows_fold_mut(
                buf,
                c,
                n,
                c * c,
                0.0,
                |r, g| chunk(r, g, &mut []),
                |a, b| a + b,
            )
        } else if OUT {
            rows_fold_mut(
                buf,
                1,
                n,
                c * c,
                0.0,
                |r, o| chunk(r, &mut [], o),
                |a, b| a + b,
            )
        } else {
            rows_fold(n, c * c, 0.0, |r| chunk(r, &mut [], &mut []), |a, b| a + b)
        };
        Ok(T::from_f64(sum / denom))
    }
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let input = call.float_req("input")?;
    let target = call.index("target").ok_or(Error::MissingInput {
        loss: NAME,
        name: "target",
    })?;
    let inputs = ClassInputs::new(input, target);
    let lay = layout(NAME, &input)?;
    let loss = MultilabelMargin;
    dispatch(
        call,
        out,
        lay.loss_shape.dims(),
        Vjp::Separable(lay.kept()),
        |r| loss.value(&inputs, r),
        |r, g| loss.value_and_grad(&inputs, r, g),
        |o| loss.per_element(&inputs, o),
    )
}

/// Normal scores `[N, 6]`; each row lists 1 to 3 distinct classes, then −1s.
fn sample(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (rows(size, 6), 6);
    let mut t = Vec::with_capacity(n * c);
    for _ in 0..n {
        let k = 1 + rng.below(3) as usize;
        let mut row: Vec<i64> = Vec::with_capacity(c);
        while row.len() < k {
            let y = rng.below(c as u64) as i64;
            if !row.contains(&y) {
                row.push(y);
            }
        }
        row.resize(c, -1);
        t.extend(row);
    }
    Sample::new()
        .float("input", &[n, c], rng.normals(n * c, 1.0))
        .index("target", &[n, c], t)
}

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "multi-label hinge: every target class should score 1 above every other class (PyTorch's MultiLabelMarginLoss)",
    inputs: &[
        InputSpec {
            shape: "scores `[N, C]` or `[C]`",
            ..LOGITS
        },
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::Index,
            required: true,
            shape: "`[N, C]` (the shape of `input`): each row lists the sample's classes, then −1 (the rest is ignored)",
        },
    ],
    params: &[],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_n = (1/C)·Σ_j Σ_{i∉J} max(0, 1 − x[y_j] + x[i]), j over the listed targets, J their set; mean = Σ_n ℓ_n / N",
    gradient: "each active pair adds 1/C to ∂ℓ/∂x[i] and −1/C to ∂ℓ/∂x[y_j]",
    when_to_use: "multi-label ranking: the sample's labels should all outscore its non-labels by a margin; porting PyTorch code using MultiLabelMarginLoss",
    pitfalls: &[
        "the target is a padded list of class indices, not a 0/1 mask: [3, 0, −1, 1] means classes 3 and 0 (the 1 after −1 is ignored)",
        "a row starting with −1 has no targets and costs 0; a class listed twice counts twice (PyTorch)",
        "divides by C: the scale shrinks as the number of classes grows",
    ],
    reference: "torch.nn.functional.multilabel_margin_loss",
    eval: evaluator!(evaluate),
    sample,
    plot: Some(Plot {
        axis: PlotAxis::MARGIN,
        at: |x| {
            Sample::new()
                .float("input", &[1, 2], vec![x, 0.0])
                .index("target", &[1, 2], vec![0, -1])
        },
    }),
    kinks: Kinks::Described("where a term 1 − x[y_j] + x[i] is 0"),
    nan: NanRule::PROPAGATES,
    hessian: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn duplicates_count_twice_and_gradients_balance() {
        let x = [0.0f64, 0.5, 0.2];
        let y = [1i64, 1, -1];
        let inputs = ClassInputs::new(
            Tensor::new(&x, &[3]).unwrap(),
            Tensor::new(&y, &[3]).unwrap(),
        );
        let mut g = [0.0; 3];
        let v = MultilabelMargin
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        // Pairs (1, 0): 0.5, (1, 2): 0.7, twice each, over C = 3.
        assert!((v - 2.0 * 1.2 / 3.0).abs() < 1e-15, "{v}");
        assert_eq!(g, [2.0 / 3.0, -4.0 / 3.0, 2.0 / 3.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        let x = [0.0f32; 4];
        let inputs = ClassInputs::new(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&[0i64, 2, 1, -1], &[2, 2]).unwrap(),
        );
        assert_eq!(
            MultilabelMargin.value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "multilabel_margin: `target` at [0, 1] is 2, expected a class index in [0, C) or −1 (the end of the row's list)"
        );
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 2]).unwrap(), &[0i64, 1]);
        assert_eq!(
            MultilabelMargin.value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "multilabel_margin: `target` has shape [2], expected [2, 2] (each row lists the sample's classes: the shape of `input`); nothing is broadcast"
        );
    }
}
