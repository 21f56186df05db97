//! Multi-label soft margin loss, PyTorch's `multilabel_soft_margin_loss`.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, Plot, PlotAxis, Role,
    STANDARD_REDUCTIONS,
};
use crate::error::{check_buffer, Error, Result};
use crate::eval::{dispatch, Call, Out, Vjp};
use crate::evaluator;
use crate::numerics::{logistic, rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::sample::{rows, Rng, Sample};

use super::binary::{weighted, BinaryInputs};
use super::multiclass::{check_class_weight, layout};

const NAME: &str = "multilabel_soft_margin";

/// Multi-label soft margin loss: binary cross-entropy on logits averaged over the labels of
/// each sample (one loss per sample, not per label).
///
/// # Definition
/// For logits $x$ of shape `[N, C]` (or `[C]`), targets $y \in [0, 1]$ of the same shape and
/// optional per-label weights $w$ (`[C]`, 1 without):
/// $$\ell_n = -\frac{1}{C} \sum_c w_c \big[y_{nc} \ln \sigma(x_{nc}) + (1 - y_{nc}) \ln \sigma(-x_{nc})\big].$$
/// `Mean` divides $\sum_n \ell_n$ by $N$ (the weights are not normalised, as PyTorch).
///
/// # Gradient
/// $\partial \ell_n / \partial x_{nc} = w_c\\,(\sigma(x_{nc}) - y_{nc}) / C$, times the
/// reduction's scale.
///
/// # Numerical stability
/// $\ln \sigma(\pm x)$ are log-sigmoids, $-\max(\mp x, 0) - \ln(1 + e^{-|x|})$: finite and
/// accurate at any logit (PyTorch uses the same `logsigmoid`). A zero target coefficient
/// drops its term, so an infinite logit with the matching label costs 0, not NaN.
///
/// # Errors
/// Evaluation rejects an `input` that is not `[N, C]` or `[C]` with C ≥ 1
/// ([`Error::BadShape`]), a `target` of another shape, a target outside [0, 1], a `weight`
/// not of shape `[C]` or with a negative or non-finite entry, `Mean` over no samples and
/// buffers of the wrong length.
///
/// # Example
/// ```
/// use losskit::{BinaryInputs, MultilabelSoftMargin, Reduction, Tensor};
/// let x = [1.0f64, -2.0, 0.5, 0.0];
/// let y = [1.0f64, 0.0, 0.0, 1.0];
/// let inputs = BinaryInputs::new(Tensor::new(&x, &[2, 2])?, Tensor::new(&y, &[2, 2])?);
/// let mut per = [0.0; 2];
/// MultilabelSoftMargin.per_element(&inputs, &mut per)?;
/// let softplus = |v: f64| v.exp().ln_1p();
/// assert!((per[0] - (softplus(-1.0) + softplus(-2.0)) / 2.0).abs() < 1e-15);
/// assert!((per[1] - (softplus(0.5) + softplus(0.0)) / 2.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.multilabel_soft_margin_loss` (`MultiLabelSoftMarginLoss`);
/// the numbers matched, with and without `weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MultilabelSoftMargin;

#[inline(always)]
fn row<T: Real, const GRAD: bool>(
    x: &[T],
    y: &[T],
    w: Option<&[T]>,
    inv_c: T,
    scale: T,
    g: &mut [T],
) -> T {
    let mut acc = [T::ZERO; 4];
    for (c, (&xc, &yc)) in x.iter().zip(y).enumerate() {
        let wc = w.map_or(T::ONE, |w| w[c]);
        let b = logistic(xc);
        let l = weighted(yc, -b.log_p) + weighted(T::ONE - yc, -b.log_q);
        acc[c % 4] += weighted(wc, l);
        if GRAD {
            g[c] = scale * wc * inv_c * (b.p - yc);
        }
    }
    ((acc[0] + acc[2]) + (acc[1] + acc[3])) * inv_c
}

impl MultilabelSoftMargin {
    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &BinaryInputs<'_, T>, reduction: Reduction) -> Result<T> {
        self.run::<T, false, false>(inputs, Some(reduction), &mut [])
    }

    /// The loss reduced with `reduction` and its gradient with respect to `input` (into
    /// `grad`, as long as `input`; the reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &BinaryInputs<'_, T>,
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
    pub fn per_element<T: Real>(&self, inputs: &BinaryInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let n = shape(inputs)?.0;
        check_buffer(NAME, "per-element output", out.len(), n)?;
        self.run::<T, false, true>(inputs, None, out).map(|_| ())
    }

    fn run<T: Real, const GRAD: bool, const OUT: bool>(
        &self,
        inputs: &BinaryInputs<'_, T>,
        reduction: Option<Reduction>,
        buf: &mut [T],
    ) -> Result<T> {
        let (n, c) = shape(inputs)?;
        let (x, y) = (inputs.input().data(), inputs.target().data());
        if let Some(i) = y.iter().position(|&v| v < T::ZERO || v > T::ONE) {
            return Err(Error::InvalidValue {
                loss: NAME,
                arg: "target",
                index: inputs.target().shape().unravel(i),
                value: y[i].to_f64(),
                expected: "a target in [0, 1]",
            });
        }
        let w = match inputs.weight_tensor() {
            Some(w) => {
                check_class_weight(NAME, "weight", c, &w)?;
                Some(w.data())
            }
            None => None,
        };
        let mean = reduction == Some(Reduction::Mean);
        if mean && n == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let denom = if mean { n as f64 } else { 1.0 };
        let scale = T::from_f64(1.0 / denom);
        let inv_c = T::ONE / T::from_f64(c as f64);
        let chunk = |r: core::ops::Range<usize>, g: &mut [T], o: &mut [T]| {
            let mut lanes = Lanes::default();
            for (i, k) in r.enumerate() {
                let (xr, yr) = (&x[k * c..][..c], &y[k * c..][..c]);
                let l = if GRAD {
                    row::<T, true>(xr, yr, w, inv_c, scale, &mut g[i * c..][..c])
                } else {
                    row::<T, false>(xr, yr, w, inv_c, scale, &mut [])
                };
                if OUT {
                    o[i] = l;
                }
                lanes.add(i, l.to_f64());
            }
            lanes.total()
        };
        let sum = if GRAD {
            rows_fold_mut(buf, c, n, c, 0.0, |r, g| chunk(r, g, &mut []), |a, b| a + b)
        } else if OUT {
            rows_fold_mut(buf, 1, n, c, 0.0, |r, o| chunk(r, &mut [], o), |a, b| a + b)
        } else {
            rows_fold(n, c, 0.0, |r| chunk(r, &mut [], &mut []), |a, b| a + b)
        };
        Ok(T::from_f64(sum / denom))
    }
}

/// `(N, C)` of an `[N, C]` or `[C]` input, with the target of the same shape.
fn shape<T>(inputs: &BinaryInputs<'_, T>) -> Result<(usize, usize)> {
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
    let target = inputs.target();
    if target.dims() != input.dims() {
        return Err(Error::ShapeMismatch {
            loss: NAME,
            arg: "target",
            actual: target.dims().to_vec(),
            expected: input.dims().to_vec(),
            because: "one target per label: the shape of `input`",
        });
    }
    Ok((lay.n, lay.c))
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let input = call.float_req("input")?;
    let mut inputs = BinaryInputs::new(input, call.float_req("target")?);
    if let Some(w) = call.float("weight") {
        inputs = inputs.weight(w);
    }
    let lay = layout(NAME, &input)?;
    let loss = MultilabelSoftMargin;
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

/// Normal logits `[N, 6]` and 0/1 labels: valid inputs of the `[N, C]` multi-label losses.
pub(crate) fn sample_multilabel(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (rows(size, 6), 6);
    let t = (0..n * c).map(|_| rng.below(2) as f64).collect();
    Sample::new()
        .float("input", &[n, c], rng.normals(n * c, 2.0))
        .float("target", &[n, c], t)
}

/// One label, logit x, target 1.
pub(crate) const MULTILABEL_PLOT: Plot = Plot {
    axis: PlotAxis::MARGIN,
    at: |x| {
        Sample::new()
            .float("input", &[1, 1], vec![x])
            .float("target", &[1, 1], vec![1.0])
    },
};

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "multi-label soft margin: binary cross-entropy on logits averaged over each sample's labels (PyTorch's MultiLabelSoftMarginLoss)",
    inputs: &[
        InputSpec {
            name: "input",
            role: Role::Prediction,
            kind: InputKind::Float,
            required: true,
            shape: "logits `[N, C]` or `[C]`",
        },
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::Float,
            required: true,
            shape: "the shape of `input`, values in [0, 1] (1: the label applies)",
        },
        InputSpec {
            name: "weight",
            role: Role::Weight,
            kind: InputKind::Float,
            required: false,
            shape: "`[C]`, one weight per label (finite, >= 0; not normalised by `mean`)",
        },
    ],
    params: &[],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_n = −(1/C)·Σ_c w_c·[y_nc·ln σ(x_nc) + (1 − y_nc)·ln σ(−x_nc)]; mean = Σ_n ℓ_n / N",
    gradient: "∂ℓ_n/∂x_nc = w_c·(σ(x_nc) − y_nc)/C",
    when_to_use: "multi-label classification when porting PyTorch code that uses MultiLabelSoftMarginLoss; it is bce_with_logits with mean over labels per sample",
    pitfalls: &[
        "the per-sample loss is the mean over labels: with `none` you get [N], not [N, C] (use bce_with_logits for per-label losses)",
        "the weight is per label [C] and mean still divides by N (PyTorch), unlike bce_with_logits' weighted mean Σ w·ℓ / Σ w",
        "no pos_weight: for rare positive labels use bce_with_logits with pos_weight, focal or asymmetric",
    ],
    reference: "torch.nn.functional.multilabel_soft_margin_loss",
    eval: evaluator!(evaluate),
    sample: sample_multilabel,
    plot: Some(MULTILABEL_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn weights_scale_labels_and_infinite_logits_with_matching_labels_cost_nothing() {
        let x = [f64::INFINITY, -f64::INFINITY, 0.0];
        let y = [1.0, 0.0, 1.0];
        let w = [1.0, 1.0, 3.0];
        let inputs = BinaryInputs::new(
            Tensor::new(&x, &[1, 3]).unwrap(),
            Tensor::new(&y, &[1, 3]).unwrap(),
        )
        .weight(&w[..]);
        let mut g = [f64::NAN; 3];
        let v = MultilabelSoftMargin
            .value_and_grad(&inputs, Reduction::Mean, &mut g)
            .unwrap();
        assert!((v - 2f64.ln()).abs() < 1e-15, "{v}");
        assert_eq!(g, [0.0, 0.0, -0.5]);
    }

    #[test]
    fn errors_name_the_problem() {
        let x = [0.0f32; 4];
        let w = [1.0f32; 3];
        let inputs = BinaryInputs::new(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&x, &[2, 2]).unwrap(),
        )
        .weight(&w[..]);
        assert_eq!(
            MultilabelSoftMargin.value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "multilabel_soft_margin: `weight` has shape [3], expected [2] (one entry per class, C = `input`'s class dimension); nothing is broadcast"
        );
        let inputs = BinaryInputs::new(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&x, &[4]).unwrap(),
        );
        assert_eq!(
            MultilabelSoftMargin.value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "multilabel_soft_margin: `target` has shape [4], expected [2, 2] (one target per label: the shape of `input`); nothing is broadcast"
        );
    }
}
