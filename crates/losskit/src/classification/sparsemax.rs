//! Sparsemax loss (Martins & Astudillo 2016), optax's `multiclass_sparsemax_loss`.

use crate::catalogue::{Family, Kinks, LossInfo, NanRule, STANDARD_REDUCTIONS};
use crate::error::{check_buffer, Error, Result};
use crate::eval::{dispatch, Call, Out, Vjp};
use crate::evaluator;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;

use super::multiclass::{
    check_index_shape, layout, scan_targets, ClassInputs, ClassTarget, INDEX_TARGET, LOGITS,
};

const NAME: &str = "sparsemax";

/// Sparsemax loss: the loss whose gradient is sparsemax(x) − one_hot(y), as cross-entropy's
/// is softmax(x) − one_hot(y); sparsemax gives exact zeros, so confidently wrong classes
/// stop receiving gradient.
///
/// # Definition
/// With $p = \operatorname{sparsemax}(x) = \arg\min_{q \in \Delta} \lVert q - x \rVert^2$ the
/// Euclidean projection of a row of scores onto the probability simplex, $p_c = \max(x_c -
/// \tau, 0)$ with $\tau$ the threshold that makes $\sum_c p_c = 1$, and target class $y$:
/// $$\ell = \sum_c p_c\\,(x_c - x_y) + \tfrac12\big(1 - \textstyle\sum_c p_c^2\big)
/// = \tfrac12 \sum_{c:\\,p_c > 0} (x_c^2 - \tau^2) + \tfrac12 - x_y,$$
/// (the first form is optax's). $\ell \ge 0$, and $\ell = 0$ exactly when $x_y$ exceeds every
/// other score by at least 1. `Mean` divides by the number of rows $N$.
///
/// # Gradient
/// $\partial \ell / \partial x_c = p_c - [c = y]$, times the reduction's scale.
///
/// # Numerical stability
/// $\tau$ comes from the sorted scores, $\tau = (\sum_{j \le k} x_{(j)} - 1)/k$ with $k$
/// the largest index such that $1 + k\\,x_{(k)} > \sum_{j \le k} x_{(j)}$, computed on
/// $x - \max x$ (shift invariant, so no overflow). The loss uses the differences $x_c - x_y$,
/// never $x_c^2 - \tau^2$, so large scores do not cancel. A $-\infty$ score has probability 0;
/// a row with a $+\infty$ score or only $-\infty$ is an error.
///
/// # Errors
/// Evaluation rejects an `input` that is not `[N, C]` or `[C]` with C ≥ 1, a target index
/// outside `[0, C)` or of the wrong shape, probability targets, a `weight`, a row with a
/// `+∞` score or only `−∞`, `Mean` over no rows and buffers of the wrong length.
///
/// # Example
/// ```
/// use losskit::{ClassInputs, Reduction, Sparsemax, Tensor};
/// let x = [2.0f64, 0.5, -1.0];
/// let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3])?, &[1i64]);
/// let mut g = [0.0; 3];
/// let v = Sparsemax.value_and_grad(&inputs, Reduction::Sum, &mut g)?;
/// // sparsemax([2, 0.5, −1]) = [1, 0, 0]: ℓ = (2 − 0.5) + ½(1 − 1) = 1.5.
/// assert_eq!(v, 1.5);
/// assert_eq!(g, [1.0, -1.0, 0.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// A. F. T. Martins and R. F. Astudillo, "From Softmax to Sparsemax: A Sparse Model of
/// Attention and Multi-Label Classification", ICML 2016. optax
/// `multiclass_sparsemax_loss` (the numbers matched in float32 and float64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sparsemax;

/// One row: the loss (with the gradient, times `scale`, into `g` when `GRAD`), or `None`
/// for a row with `+∞` or only `−∞`. `buf` is scratch of the row's length.
#[inline(always)]
fn row<T: Real, const GRAD: bool>(
    x: &[T],
    y: usize,
    scale: T,
    buf: &mut [T],
    g: &mut [T],
) -> Option<T> {
    if x.iter().any(|v| v.is_nan()) {
        let nan = T::from_f64(f64::NAN);
        if GRAD {
            g.fill(nan);
        }
        return Some(nan);
    }
    let m = x
        .iter()
        .fold(-T::INFINITY, |a, &b| if b > a { b } else { a });
    if !m.is_finite() {
        return None;
    }
    // Sorted descending, shifted by the maximum.
    for (b, &v) in buf.iter_mut().zip(x) {
        *b = v - m;
    }
    buf.sort_unstable_by(|a, b| b.partial_cmp(a).unwrap_or(core::cmp::Ordering::Equal));
    let (mut cum, mut k, mut cum_k) = (T::ZERO, 1usize, buf[0]);
    for (j, &v) in buf.iter().enumerate() {
        if v == -T::INFINITY {
            break;
        }
        cum += v;
        let kk = T::from_f64((j + 1) as f64);
        if T::ONE + kk * v > cum {
            k = j + 1;
            cum_k = cum;
        }
    }
    let tau = (cum_k - T::ONE) / T::from_f64(k as f64);
    let xy = x[y];
    let (mut lin, mut sq) = (T::ZERO, T::ZERO);
    for (c, &v) in x.iter().enumerate() {
        let d = v - m - tau;
        let p = if d > T::ZERO { d } else { T::ZERO };
        if p > T::ZERO {
            lin += p * (v - xy);
            sq += p * p;
        }
        if GRAD {
            g[c] = scale * (if c == y { p - T::ONE } else { p });
        }
    }
    Some(lin + T::HALF * (T::ONE - sq))
}

impl Sparsemax {
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

    /// The per-row losses (`[N]`, or `[]` for a `[C]` input) into `out`.
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
                actual: "float (probabilities)",
                expected: "class indices (integers)",
            });
        };
        check_index_shape(NAME, &lay, &target)?;
        scan_targets::<T>(NAME, &target, lay.c, None, None)?;
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.n == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let (n, c) = (lay.n, lay.c);
        let denom = if mean { n as f64 } else { 1.0 };
        let scale = T::from_f64(1.0 / denom);
        let (x, ys) = (input.data(), target.data());
        let chunk = |r: core::ops::Range<usize>, g: &mut [T], o: &mut [T]| {
            let mut lanes = Lanes::default();
            let mut scratch = vec![T::ZERO; c];
            let mut bad = None;
            for (i, k) in r.enumerate() {
                let xr = &x[k * c..][..c];
                let y = ys[k] as usize;
                let l = if GRAD {
                    row::<T, true>(xr, y, scale, &mut scratch, &mut g[i * c..][..c])
                } else {
                    row::<T, false>(xr, y, scale, &mut scratch, &mut [])
                };
                let l = l.unwrap_or_else(|| {
                    bad.get_or_insert(k);
                    T::ZERO
                });
                if OUT {
                    o[i] = l;
                }
                lanes.add(i, l.to_f64());
            }
            (lanes.total(), bad)
        };
        let both = |a: (f64, Option<usize>), b: (f64, Option<usize>)| (a.0 + b.0, a.1.or(b.1));
        let (sum, bad) = if GRAD {
            rows_fold_mut(buf, c, n, c, (0.0, None), |r, g| chunk(r, g, &mut []), both)
        } else if OUT {
            rows_fold_mut(buf, 1, n, c, (0.0, None), |r, o| chunk(r, &mut [], o), both)
        } else {
            rows_fold(n, c, (0.0, None), |r| chunk(r, &mut [], &mut []), both)
        };
        if let Some(k) = bad {
            let xr = &x[k * c..][..c];
            let (at, value, expected) = match xr.iter().position(|&v| v == T::INFINITY) {
                Some(j) => (k * c + j, f64::INFINITY, "a score < +inf"),
                None => (
                    k * c,
                    f64::NEG_INFINITY,
                    "a row with at least one score > -inf",
                ),
            };
            return Err(Error::InvalidValue {
                loss: NAME,
                arg: "input",
                index: input.shape().unravel(at),
                value,
                expected,
            });
        }
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
    let loss = Sparsemax;
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
    summary: "sparsemax loss: the multiclass loss whose gradient is sparsemax(x) − one_hot(y) (sparse probabilities)",
    inputs: &[LOGITS, INDEX_TARGET],
    params: &[],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = Σ_c p_c(x_c − x_y) + ½(1 − Σ_c p_c²), p = sparsemax(x) = max(x − τ, 0) with Σp = 1; mean = Σℓ / N",
    gradient: "∂ℓ/∂x_c = p_c − [c = y]",
    when_to_use: "multiclass classification where sparse output probabilities are wanted (exact zeros, interpretable attention-like outputs) or a margin-like loss that is 0 once the target wins by 1",
    pitfalls: &[
        "the loss is 0 once the target score exceeds the others by 1: like a hinge, confident examples stop contributing",
        "sparsemax probabilities are exact zeros for low scores: their log is -inf, so do not feed them to a log-likelihood",
        "scores are not scale-free as softmax logits are in practice: multiplying them changes the support",
    ],
    reference: "Martins & Astudillo 2016; optax multiclass_sparsemax_loss",
    eval: evaluator!(evaluate),
    sample: super::multiclass::sample_scores,
    plot: Some(super::multiclass::MARGIN_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn matches_the_closed_form_and_is_shift_invariant() {
        let x = [0.3f64, 0.1, -0.2, 0.25];
        // Support {0, 1, 3}: τ = (0.3 + 0.1 + 0.25 − 1)/3; 0.1 − τ > 0, −0.2 − τ < 0.
        let tau = (0.3 + 0.1 + 0.25 - 1.0) / 3.0;
        let p: Vec<f64> = x.iter().map(|&v| (v - tau).max(0.0)).collect();
        let want = 0.5
            * [0usize, 1, 3]
                .iter()
                .map(|&c| x[c] * x[c] - tau * tau)
                .sum::<f64>()
            + 0.5
            - x[1];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 4]).unwrap(), &[1i64]);
        let mut g = [0.0; 4];
        let v = Sparsemax
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        assert!((v - want).abs() < 1e-15, "{v} vs {want}");
        for c in 0..4 {
            let e = p[c] - if c == 1 { 1.0 } else { 0.0 };
            assert!((g[c] - e).abs() < 1e-15);
        }
        let shifted = x.map(|v| v + 1e6);
        let s = ClassInputs::new(Tensor::new(&shifted, &[1, 4]).unwrap(), &[1i64]);
        let vs = Sparsemax.value(&s, Reduction::Sum).unwrap();
        assert!((vs - want).abs() < 1e-9, "{vs}");
    }

    #[test]
    fn infinite_scores() {
        let x = [f64::NEG_INFINITY, 0.0, 0.5];
        let ok = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[2i64]);
        let mut g = [0.0; 3];
        let v = Sparsemax
            .value_and_grad(&ok, Reduction::Sum, &mut g)
            .unwrap();
        // p = [0, 0.25, 0.75]: ℓ = 0.25·(−0.5) + ½(1 − 0.625) = 0.0625.
        assert!((v - 0.0625).abs() < 1e-15, "{v}");
        assert_eq!(g, [0.0, 0.25, -0.25]);
        let x = [0.0f32, f32::INFINITY, 0.0];
        let bad = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[0i64]);
        assert_eq!(
            Sparsemax
                .value(&bad, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "sparsemax: `input` at [0, 1] is inf, expected a score < +inf"
        );
    }
}
