//! Negative log-likelihood of class indices given log-probabilities.

use crate::catalogue::{
    Family, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Range, Role,
    STANDARD_REDUCTIONS,
};
use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::evaluator;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;

use super::multiclass::{
    check_class_weight, check_index_shape, layout, mean_scale, scan_targets, ClassInputs,
    ClassTarget, CLASS_WEIGHT, INDEX_TARGET,
};
use super::softmax::{ClassW, Ones, PerClass};
use crate::eval::{dispatch, Vjp};
use crate::sample::{log_probability_rows, rows, Rng, Sample};

const NAME: &str = "nll";
const INPUTS: &[&str] = &["input", "target", "weight"];

/// Negative log-likelihood of class indices given log-probabilities: $\ell = -w_y z_y$.
///
/// Prefer [`CrossEntropy`](crate::CrossEntropy) on logits: it is `nll` of a log-softmax
/// computed stably in the same pass. Computing `softmax`, then `ln`, then this loss by hand
/// is the classic mistake: the probability of a confident wrong class underflows to 0 and
/// its log to $-\infty$ (logits $[10, 0, -100]$, target 2: $+\infty$ instead of 110.000045).
///
/// # Definition
/// For `input` of log-probabilities $z$ (`[N, C]`, `[N, C, d1, …]` or `[C]`, class dimension
/// 1), index target $y$ and class weights $w$ (1 without `weight`):
/// $$\ell = -\\,w_y\\, z_y,$$
/// 0 where $y$ = `ignore_index` (and where $w_y = 0$). `Mean` is $\sum \ell / \sum w_y$ over
/// the non-ignored elements (their count without weights), as PyTorch.
///
/// # Gradient
/// $\partial \ell / \partial z_c = -w_y [c = y]$, times the reduction's scale.
///
/// # Numerical stability
/// No arithmetic beyond a product; a $-\infty$ log-probability at the target gives $+\infty$.
/// A class of weight 0 contributes exactly 0 even at $z_y = -\infty$ (PyTorch: NaN).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `ignore_index` | −100 | any integer |
///
/// # Deliberate difference
/// `Mean` with every target ignored (or every non-ignored weight 0) is 0 with zero gradients;
/// PyTorch returns NaN.
///
/// # Errors
/// An `input` of rank 0 or with 0 classes ([`Error::BadShape`]); a `target` or `weight` of
/// the wrong shape ([`Error::ShapeMismatch`]); a class index outside `[0, C)` that is not
/// `ignore_index`, a negative or non-finite weight ([`Error::InvalidValue`]); probability
/// targets ([`Error::Dtype`]); `Mean` over no elements ([`Error::EmptyMean`]); a buffer of
/// the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{ClassInputs, Nll, Reduction, Tensor};
/// let log_p = [(0.7f64).ln(), (0.2f64).ln(), (0.1f64).ln(), (0.5f64).ln(), (0.25f64).ln(), (0.25f64).ln()];
/// let w = [1.0, 2.0, 1.0];
/// let inputs = ClassInputs::new(Tensor::new(&log_p, &[2, 3])?, &[0i64, 1]).weight(&w);
/// let mut g = [0.0; 6];
/// let v = Nll::default().value_and_grad(&inputs, Reduction::Mean, &mut g)?;
/// // (−1·ln 0.7 − 2·ln 0.25) / (1 + 2)
/// assert!((v - (-(0.7f64).ln() - 2.0 * (0.25f64).ln()) / 3.0).abs() < 1e-15);
/// assert_eq!(g, [-1.0 / 3.0, 0.0, 0.0, 0.0, -2.0 / 3.0, 0.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.nll_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nll {
    ignore_index: i64,
}

/// PyTorch's default: `ignore_index = −100`.
impl Default for Nll {
    fn default() -> Self {
        Nll { ignore_index: -100 }
    }
}

#[allow(clippy::too_many_arguments)]
fn chunk<T: Real, W: ClassW<T>, const GRAD: bool, const OUT: bool>(
    w: W,
    x: &[T],
    ys: &[i64],
    c: usize,
    s: usize,
    ignore: i64,
    scale: T,
    g: &mut [T],
    out: &mut [T],
) -> f64 {
    if GRAD {
        g.fill(T::ZERO);
    }
    let mut lanes = Lanes::default();
    for (i, &y) in ys.iter().enumerate() {
        let (n, p) = (i / s, i % s);
        let loss = if y == ignore {
            T::ZERO
        } else {
            let k = y as usize;
            let at = (n * c + k) * s + p;
            let wy = w.get(k);
            if GRAD {
                if let Some(slot) = g.get_mut(at) {
                    *slot = -wy * scale;
                }
            }
            if wy == T::ZERO {
                T::ZERO
            } else {
                -wy * x.get(at).copied().unwrap_or(T::ZERO)
            }
        };
        if OUT {
            out[i] = loss;
        }
        lanes.add(i, loss.to_f64());
    }
    lanes.total()
}

class_api!(
    Nll,
    "The per-element losses (`input`'s shape without the class dimension) into `out`."
);

impl Nll {
    /// The target value whose elements are skipped.
    #[must_use]
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// The skipped target value.
    pub fn get_ignore_index(&self) -> i64 {
        self.ignore_index
    }

    fn run<T: Real, const GRAD: bool, const OUT: bool>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Option<Reduction>,
        buf: &mut [T],
    ) -> Result<T> {
        inputs.check_takes(NAME, INPUTS, false)?;
        let input = inputs.input();
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
        let weight = inputs.weight_tensor().map(|w| w.data());
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.elements() == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let stats = scan_targets(NAME, &target, lay.c, Some(self.ignore_index), weight)?;
        let Some(denom) = mean_scale(stats.weight_sum, mean) else {
            buf.fill(T::ZERO);
            return Ok(T::ZERO);
        };
        let sum = match weight {
            None => self.sweep::<T, _, GRAD, OUT>(Ones, &input, &target, &lay, denom, buf),
            Some(w) => {
                self.sweep::<T, _, GRAD, OUT>(PerClass(w), &input, &target, &lay, denom, buf)
            }
        };
        Ok(T::from_f64(sum / denom))
    }

    fn sweep<T: Real, W: ClassW<T>, const GRAD: bool, const OUT: bool>(
        &self,
        w: W,
        input: &crate::tensor::Tensor<'_, T>,
        target: &crate::tensor::Tensor<'_, i64>,
        lay: &super::multiclass::Layout,
        denom: f64,
        buf: &mut [T],
    ) -> f64 {
        let (c, s, ignore) = (lay.c, lay.s, self.ignore_index);
        let (x, ys) = (input.data(), target.data());
        let scale = T::from_f64(1.0 / denom);
        let work = c * s;
        let slices = |r: core::ops::Range<usize>| {
            (
                &x[r.start * work..r.end * work],
                &ys[r.start * s..r.end * s],
            )
        };
        if GRAD {
            rows_fold_mut(
                buf,
                work,
                lay.n,
                work,
                0.0,
                |r, g| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, true, false>(w, xs, yr, c, s, ignore, scale, g, &mut [])
                },
                |a, b| a + b,
            )
        } else if OUT {
            rows_fold_mut(
                buf,
                s,
                lay.n,
                work,
                0.0,
                |r, o| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, false, true>(w, xs, yr, c, s, ignore, scale, &mut [], o)
                },
                |a, b| a + b,
            )
        } else {
            rows_fold(
                lay.n,
                work,
                0.0,
                |r| {
                    let (xs, yr) = slices(r);
                    chunk::<T, W, false, false>(w, xs, yr, c, s, ignore, scale, &mut [], &mut [])
                },
                |a, b| a + b,
            )
        }
    }
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = Nll::default().ignore_index(call.params.int("ignore_index"));
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
    summary: "negative log-likelihood of class indices given log-probabilities (prefer cross_entropy on logits)",
    inputs: &[
        InputSpec {
            name: "input",
            role: Role::Prediction,
            kind: crate::catalogue::InputKind::Float,
            required: true,
            shape: "log-probabilities `[N, C]`, `[N, C, d1, ...]` or `[C]` (class dimension 1)",
        },
        INDEX_TARGET,
        CLASS_WEIGHT,
    ],
    params: &[ParamSpec {
        name: "ignore_index",
        kind: ParamKind::Int { default: -100, range: Range::ANY },
        doc: "target value to skip: no loss, no gradient, not counted by `mean`",
    }],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = −w_y·z_y for log-probabilities z; mean = Σℓ / Σ w_y over non-ignored elements",
    gradient: "∂ℓ/∂z_c = −w_y·[c = y]",
    when_to_use: "only when the model already outputs log-probabilities (e.g. a log_softmax layer, or a mixture computed in log space); otherwise use cross_entropy on logits",
    pitfalls: &[
        "softmax, then log, then nll by hand is unstable: a probability that underflows to 0 gives −inf; cross_entropy on logits computes the same loss stably",
        "input must be log-probabilities, not probabilities: nll on probabilities is silently wrong (it is −w_y·p_y)",
        "with class weights, mean divides by Σ w_y of the batch, not by N",
        "every target = ignore_index gives 0 with zero gradients here (PyTorch: NaN)",
    ],
    reference: "torch.nn.functional.nll_loss",
    eval: evaluator!(evaluate),
    sample: sample_inputs,
    plot: Some(super::multiclass::LOG_PROBABILITY_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule { refused: &[], linear_in: &["input"], selects: true },
    hessian: None,
};

/// Log-probabilities `[N, 10]` (log-softmax of normal logits) and class indices `[N]`.
fn sample_inputs(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (rows(size, 10), 10);
    let logp = log_probability_rows(rng, n, c);
    Sample::new()
        .float("input", &[n, c], logp)
        .index("target", &[n], rng.classes(n, c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn values_gradients_and_edge_cases() {
        // A class of weight 0 contributes 0 even at a −∞ log-probability.
        let z = [f32::NEG_INFINITY, 0.0, -0.5, -1.0];
        let w = [0.0f32, 1.0];
        let inputs = ClassInputs::new(Tensor::new(&z, &[2, 2]).unwrap(), &[0i64, 1]).weight(&w);
        let mut g = [9.0f32; 4];
        assert_eq!(
            Nll::default()
                .value_and_grad(&inputs, Reduction::Mean, &mut g)
                .unwrap(),
            1.0
        );
        assert_eq!(g, [-0.0, 0.0, 0.0, -1.0]);
        // K-dim: class stride S.
        let z = [-1.0f64, -2.0, -3.0, -4.0, -5.0, -6.0]; // [1, 3, 2]
        let inputs = ClassInputs::new(
            Tensor::new(&z, &[1, 3, 2]).unwrap(),
            Tensor::new(&[2i64, 0], &[1, 2]).unwrap(),
        );
        let mut per = [0.0; 2];
        Nll::default().per_element(&inputs, &mut per).unwrap();
        assert_eq!(per, [5.0, 2.0]);
        let mut g = [0.0; 6];
        Nll::default()
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!(g, [0.0, -1.0, 0.0, 0.0, -1.0, 0.0]);
    }

    #[test]
    fn errors_name_the_problem() {
        let z = [-1.0f32; 6];
        let inputs = ClassInputs::new(Tensor::new(&z, &[2, 3]).unwrap(), &[0i64, 3]);
        assert_eq!(
            Nll::default().value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "nll: `target` at [1] is 3, expected a class index in [0, C) (C = `input`'s class dimension) or `ignore_index`"
        );
        let a = [1.0f32; 3];
        let alpha = ClassInputs::new(Tensor::new(&z, &[2, 3]).unwrap(), &[0i64, 1]).alpha(&a);
        assert_eq!(
            Nll::default()
                .value(&alpha, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "nll: unknown input `alpha`; it takes `input`, `target`, `weight`"
        );
        let scalar = [0.0f32];
        let bad = ClassInputs::new(
            Tensor::new(&scalar, &[]).unwrap(),
            Tensor::new(&[0i64], &[]).unwrap(),
        );
        assert_eq!(
            Nll::default()
                .value(&bad, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "nll: `input` has shape [], expected `[C]`, `[N, C]` or `[N, C, d1, ...]` with C >= 1"
        );
    }
}
