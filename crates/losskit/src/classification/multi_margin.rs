//! Multiclass hinge loss (Weston–Watkins), PyTorch's `multi_margin_loss`.

use crate::catalogue::{Bound, InputKind, InputSpec, Kinks, NanRule, Role};
use crate::catalogue::{Family, LossInfo, ParamKind, ParamSpec, Range, STANDARD_REDUCTIONS};
use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::evaluator;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;

use super::multiclass::{
    check_class_weight, check_index_shape, layout, scan_targets, ClassInputs, ClassTarget,
    CLASS_WEIGHT,
};
use super::softmax::{ClassW, Ones, PerClass};
use crate::eval::{dispatch, Vjp};

const NAME: &str = "multi_margin";
const INPUTS: &[&str] = &["input", "target", "weight"];

/// Multiclass hinge loss: every wrong class should score at least `margin` below the
/// target class.
///
/// # Definition
/// For scores $x$ of shape `[N, C]` (or `[C]`), target $y$ and class weights $w$ (1 without
/// `weight`):
/// $$\ell = \frac{w_y}{C} \sum_{i \ne y} \max(0,\ \text{margin} - x_y + x_i)^{p},\qquad p \in \\{1, 2\\}.$$
/// `Mean` divides by $N$, with or without weights (as PyTorch: the weight scales a sample,
/// it is not normalised).
///
/// # Gradient
/// With $z_i = \text{margin} - x_y + x_i$: $\partial \ell / \partial x_i = \frac{w_y}{C}
/// \cdot (1 \text{ or } 2 z_i)$ where $z_i > 0$ (0 at $z_i \le 0$, as PyTorch), and
/// $\partial \ell / \partial x_y = -\sum_{i \ne y} \partial \ell / \partial x_i$; times the
/// reduction's scale.
///
/// # Numerical stability
/// Piecewise polynomial; no transcendental functions. Sums accumulate in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `p` | 1 | 1 or 2 |
/// | `margin` | 1.0 | finite |
///
/// # Errors
/// [`MultiMargin::p`] rejects anything but 1 and 2, [`MultiMargin::margin`] NaN and
/// infinities. Evaluation rejects an `input` that is not `[N, C]` or `[C]`
/// ([`Error::BadShape`]), a `target` or `weight` of the wrong shape, a class index outside
/// `[0, C)` (there is no `ignore_index`), a negative or non-finite weight, probability
/// targets, `Mean` over no samples and buffers of the wrong length.
///
/// # Example
/// ```
/// use losskit::{ClassInputs, MultiMargin, Reduction, Tensor};
/// let scores = [0.1f64, 0.2, 0.4, 0.8];
/// let inputs = ClassInputs::new(Tensor::new(&scores, &[1, 4])?, Tensor::new(&[3i64], &[1])?);
/// let mut g = [0.0; 4];
/// let v = MultiMargin::default().value_and_grad(&inputs, Reduction::Mean, &mut g)?;
/// // PyTorch's docs example: ((1 − 0.8 + 0.1) + (1 − 0.8 + 0.2) + (1 − 0.8 + 0.4)) / 4
/// assert!((v - 0.325).abs() < 1e-15);
/// assert_eq!(g, [0.25, 0.25, 0.25, -0.75]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// J. Weston and C. Watkins, "Support Vector Machines for Multi-Class Pattern Recognition",
/// ESANN 1999. PyTorch `torch.nn.functional.multi_margin_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiMargin {
    p: u8,
    margin: f64,
}

/// PyTorch's defaults: `p = 1`, `margin = 1.0`.
impl Default for MultiMargin {
    fn default() -> Self {
        MultiMargin { p: 1, margin: 1.0 }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row<T: Real, W: ClassW<T>, const SQUARED: bool, const GRAD: bool>(
    w: W,
    x: &[T],
    y: usize,
    margin: T,
    inv_c: T,
    scale: T,
    g: &mut [T],
) -> T {
    let Some(&xy) = x.get(y) else { return T::ZERO };
    let wy = w.get(y) * inv_c;
    let gs = scale * wy;
    let mut acc = [T::ZERO; 8];
    let mut gy = T::ZERO;
    for (i, &xi) in x.iter().enumerate() {
        let z = margin - xy + xi;
        // NaN counts as active: a NaN score makes the term NaN (PyTorch's
        // `if (z > 0)` drops it and returns a finite loss).
        let on = (z > T::ZERO || z.is_nan()) && i != y;
        let h = if on { z } else { T::ZERO };
        acc[i % 8] += if SQUARED { h * h } else { h };
        if GRAD {
            let d = if !on {
                T::ZERO
            } else if SQUARED {
                gs * (z + z)
            } else if z.is_nan() {
                z
            } else {
                gs
            };
            g[i] = d;
            gy += d;
        }
    }
    if GRAD {
        g[y] = -gy;
    }
    let total = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
    wy * total
}

#[allow(clippy::too_many_arguments)]
fn chunk<T: Real, W: ClassW<T>, const SQUARED: bool, const GRAD: bool, const OUT: bool>(
    w: W,
    x: &[T],
    ys: &[i64],
    c: usize,
    margin: T,
    scale: T,
    g: &mut [T],
    out: &mut [T],
) -> f64 {
    let inv_c = T::ONE / T::from_f64(c as f64);
    let mut lanes = Lanes::default();
    for (r, (&y, xr)) in ys.iter().zip(x.chunks_exact(c)).enumerate() {
        let gr: &mut [T] = if GRAD { &mut g[r * c..][..c] } else { &mut [] };
        let loss = row::<T, W, SQUARED, GRAD>(w, xr, y as usize, margin, inv_c, scale, gr);
        if OUT {
            out[r] = loss;
        }
        lanes.add(r, loss.to_f64());
    }
    lanes.total()
}

class_api!(
    MultiMargin,
    "The per-sample losses (`[N]`, or `[]` for a `[C]` input) into `out`."
);

impl MultiMargin {
    /// The exponent of the hinge: 1 (linear) or 2 (squared).
    ///
    /// # Errors
    /// [`Error::InvalidIntParam`] unless `p` is 1 or 2.
    pub fn p(mut self, p: i64) -> Result<Self> {
        if p != 1 && p != 2 {
            return Err(Error::InvalidIntParam {
                loss: NAME,
                param: "p",
                value: i128::from(p),
                expected: "1 or 2",
            });
        }
        self.p = p as u8;
        Ok(self)
    }

    /// The margin by which the target class should win.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for NaN or an infinity.
    pub fn margin(mut self, margin: f64) -> Result<Self> {
        if !margin.is_finite() {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "margin",
                value: margin,
                expected: "finite",
            });
        }
        self.margin = margin;
        Ok(self)
    }

    /// The exponent.
    pub fn get_p(&self) -> i64 {
        i64::from(self.p)
    }

    /// The margin.
    pub fn get_margin(&self) -> f64 {
        self.margin
    }

    fn run<T: Real, const GRAD: bool, const OUT: bool>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Option<Reduction>,
        buf: &mut [T],
    ) -> Result<T> {
        inputs.check_takes(NAME, INPUTS, false)?;
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
                actual: "float (probabilities)",
                expected: "class indices (integers)",
            });
        };
        check_index_shape(NAME, &lay, &target)?;
        if let Some(w) = inputs.weight_tensor() {
            check_class_weight(NAME, "weight", lay.c, &w)?;
        }
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.n == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        scan_targets::<T>(NAME, &target, lay.c, None, None)?;
        let denom = if mean { lay.n as f64 } else { 1.0 };
        let sum = match (inputs.weight_tensor(), self.p) {
            (None, 1) => {
                self.sweep::<T, _, false, GRAD, OUT>(Ones, &input, &target, lay.c, denom, buf)
            }
            (None, _) => {
                self.sweep::<T, _, true, GRAD, OUT>(Ones, &input, &target, lay.c, denom, buf)
            }
            (Some(w), 1) => self.sweep::<T, _, false, GRAD, OUT>(
                PerClass(w.data()),
                &input,
                &target,
                lay.c,
                denom,
                buf,
            ),
            (Some(w), _) => self.sweep::<T, _, true, GRAD, OUT>(
                PerClass(w.data()),
                &input,
                &target,
                lay.c,
                denom,
                buf,
            ),
        };
        Ok(T::from_f64(sum / denom))
    }

    fn sweep<T: Real, W: ClassW<T>, const SQUARED: bool, const GRAD: bool, const OUT: bool>(
        &self,
        w: W,
        input: &crate::tensor::Tensor<'_, T>,
        target: &crate::tensor::Tensor<'_, i64>,
        c: usize,
        denom: f64,
        buf: &mut [T],
    ) -> f64 {
        let (x, ys) = (input.data(), target.data());
        let n = ys.len();
        let margin = T::from_f64(self.margin);
        let scale = T::from_f64(1.0 / denom);
        let slices = |r: core::ops::Range<usize>| (&x[r.start * c..r.end * c], &ys[r.clone()]);
        if GRAD {
            rows_fold_mut(
                buf,
                c,
                n,
                c,
                0.0,
                |r, g| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, SQUARED, true, false>(w, xs, yr, c, margin, scale, g, &mut [])
                },
                |a, b| a + b,
            )
        } else if OUT {
            rows_fold_mut(
                buf,
                1,
                n,
                c,
                0.0,
                |r, o| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, SQUARED, false, true>(w, xs, yr, c, margin, scale, &mut [], o)
                },
                |a, b| a + b,
            )
        } else {
            rows_fold(
                n,
                c,
                0.0,
                |r| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, SQUARED, false, false>(
                        w,
                        xs,
                        yr,
                        c,
                        margin,
                        scale,
                        &mut [],
                        &mut [],
                    )
                },
                |a, b| a + b,
            )
        }
    }
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = MultiMargin::default()
        .p(call.params.int("p"))?
        .margin(call.params.float("margin"))?;
    let input = call.float_req("input")?;
    let target = call.index("target").ok_or(Error::MissingInput {
        loss: NAME,
        name: "target",
    })?;
    let mut inputs = ClassInputs::new(input, target);
    if let Some(w) = call.float("weight") {
        inputs = inputs.weight(w);
    }
    let lay = layout(NAME, &input)?;
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

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "multiclass hinge (Weston–Watkins): each wrong class should score `margin` below the target",
    inputs: &[
        InputSpec {
            name: "input",
            role: Role::Prediction,
            kind: InputKind::Float,
            required: true,
            shape: "scores `[N, C]` or `[C]`",
        },
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::Index,
            required: true,
            shape: "class indices `[N]` (or `[]` for a `[C]` input), each in [0, C)",
        },
        CLASS_WEIGHT,
    ],
    params: &[
        ParamSpec {
            name: "p",
            kind: ParamKind::Int {
                default: 1,
                range: Range { lo: Bound::Inclusive(1.0), hi: Bound::Inclusive(2.0) },
            },
            doc: "exponent of the hinge: 1 (linear) or 2 (squared)",
        },
        ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 1.0, range: Range::ANY },
            doc: "how far below the target class each other class should score",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = (w_y/C)·Σ_{i≠y} max(0, margin − x_y + x_i)^p; mean = Σℓ / N (weights are not normalised)",
    gradient: "∂ℓ/∂x_i = (w_y/C)·(1 or 2z_i) where z_i = margin − x_y + x_i > 0; ∂ℓ/∂x_y = −Σ_{i≠y} ∂ℓ/∂x_i",
    when_to_use: "SVM-style multiclass training that only cares that the target wins by a margin; robust to confident correct examples (zero loss)",
    pitfalls: &[
        "divides by C: the loss scale shrinks as the number of classes grows",
        "Weston–Watkins sums over all violating classes; optax's multiclass_hinge_loss and Keras' CategoricalHinge are Crammer–Singer (max over classes): different numbers",
        "with weight, mean still divides by N (PyTorch), unlike cross_entropy's Σ w_y",
        "no ignore_index: every target must be a class",
    ],
    reference: "Weston & Watkins 1999; torch.nn.functional.multi_margin_loss",
    eval: evaluator!(evaluate),
    sample: super::multiclass::sample_scores,
    plot: Some(super::multiclass::MARGIN_PLOT),
    kinks: Kinks::Described("where a term margin − x[y] + x[i] is 0"),
    nan: NanRule::PROPAGATES,
    hessian: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn squared_hinge_with_weights() {
        // Row [0, 1, 3], target 1, margin 1, p = 2: z = [0, -, 3] -> (0 + 9)/3 = 3, times w_1.
        let x = [0.0f64, 1.0, 3.0];
        let w = [1.0, 2.0, 1.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[1i64]).weight(&w);
        let mm = MultiMargin::default().p(2).unwrap();
        let mut g = [0.0; 3];
        let v = mm.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
        assert_eq!(v, 6.0);
        // ∂/∂x_2 = 2·3·w_1/C = 4; at z = 0 exactly the gradient is 0 (as PyTorch).
        assert_eq!(g, [0.0, -4.0, 4.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            MultiMargin::default().p(3).unwrap_err().to_string(),
            "multi_margin: `p` must be 1 or 2, got 3"
        );
        assert_eq!(
            MultiMargin::default()
                .margin(f64::INFINITY)
                .unwrap_err()
                .to_string(),
            "multi_margin: `margin` must be finite, got inf"
        );
        let x = [0.0f32; 6];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, -100]);
        assert_eq!(
            MultiMargin::default().value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "multi_margin: `target` at [1] is -100, expected a class index in [0, C) (C = `input`'s class dimension)"
        );
        let k = ClassInputs::new(
            Tensor::new(&x, &[1, 3, 2]).unwrap(),
            Tensor::new(&[0i64, 0], &[1, 2]).unwrap(),
        );
        assert_eq!(
            MultiMargin::default()
                .value(&k, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "multi_margin: `input` has shape [1, 3, 2], expected `[N, C]` or `[C]` with C >= 1"
        );
    }
}
