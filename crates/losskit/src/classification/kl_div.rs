//! Kullback–Leibler divergence of a target distribution from predicted log-probabilities.

use core::fmt;

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Plot, PlotAxis,
    Role,
};
use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{apply_cotangent, Call, Kept, Out};
use crate::evaluator;
use crate::numerics::{chunked_fold, chunked_fold_mut, lane_sum, Partial};
use crate::real::Real;
use crate::reduction::{Reduction, ReductionMode};
use crate::sample::{log_probability_rows, probability_rows, rows, Rng, Sample};
use crate::tensor::Tensor;

const NAME: &str = "kl_div";

/// How [`KlDiv`] reduces: the two [`Reduction`]s, or `BatchMean`.
///
/// `BatchMean` is the one that gives the mathematical KL divergence per sample (the sum
/// over the distribution's entries, averaged over the batch); `Mean` averages over every
/// element, which divides the divergence by the number of classes as well — PyTorch keeps
/// it for compatibility and warns about it.
///
/// It is its own type, not a variant of [`Reduction`], because only this loss defines it:
/// every other loss would have to reject it at run time. `Reduction` converts into it, so
/// `kl.value(x, t, Reduction::Sum)` works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KlReduction {
    /// The mean over every element (PyTorch's default `reduction='mean'`).
    #[default]
    Mean,
    /// The sum over every element.
    Sum,
    /// The sum divided by the size of the first dimension (the batch); the sum for a
    /// scalar input.
    BatchMean,
}

impl From<Reduction> for KlReduction {
    fn from(r: Reduction) -> Self {
        match r {
            Reduction::Mean => KlReduction::Mean,
            Reduction::Sum => KlReduction::Sum,
        }
    }
}

impl fmt::Display for KlReduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KlReduction::Mean => "mean",
            KlReduction::Sum => "sum",
            KlReduction::BatchMean => "batchmean",
        })
    }
}

/// Kullback–Leibler divergence $\mathrm{KL}(t \\,\\|\\, q)$ with $\ln q$ = `input`.
///
/// # Definition
/// Element-wise, for `input` $x = \ln q$ (log-probabilities) and `target` $t$
/// (probabilities; or $\ln t$ with `log_target`):
/// $$\ell = t\\,(\ln t - x),\qquad \ell = 0 \text{ where } t = 0.$$
/// The divergence of one distribution is the sum of its elements' losses: use
/// [`KlReduction::BatchMean`] (sum over everything divided by the first dimension) for the
/// per-sample KL divergence averaged over the batch. `Mean` divides by the number of
/// elements (PyTorch's default, which it documents as not the true KL divergence).
///
/// # Gradient
/// $\partial \ell / \partial x = -t$ (and $-e^{\ln t}$ with `log_target`), times the
/// reduction's scale; exactly 0 where $t = 0$.
///
/// # Numerical stability
/// $0 \cdot \ln 0 = 0$: an entry with $t = 0$ (or $\ln t = -\infty$) contributes exactly 0
/// to the loss and to the gradient even where $x = -\infty$ (a masked class), where
/// PyTorch's `target * (target.log() - input)` gives $0 \cdot \infty$ = NaN. $t(\ln t - x)$
/// is evaluated as written, which keeps full accuracy when $x \approx \ln t$ (the
/// divergence near 0); a NaN in either input propagates.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `log_target` | false | |
///
/// # Errors
/// Evaluation rejects a `target` whose shape differs from `input`'s
/// ([`Error::ShapeMismatch`]), a negative probability target without `log_target`
/// ([`Error::InvalidValue`]), `Mean` over no elements ([`Error::EmptyMean`]) or `BatchMean` over an empty batch
/// ([`Error::EmptyBatchMean`])
/// and buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{KlDiv, KlReduction, Reduction, Tensor};
/// let q = [0.5f64, 0.25, 0.25, 0.9, 0.1, 0.0];
/// let log_q: Vec<f64> = q.iter().map(|v| v.ln()).collect(); // ln 0 = −∞ is fine
/// let t = [0.25f64, 0.25, 0.5, 1.0, 0.0, 0.0];
/// let (x, y) = (Tensor::new(&log_q, &[2, 3])?, Tensor::new(&t, &[2, 3])?);
/// let kl = KlDiv::default();
/// let mut g = [0.0; 6];
/// let v = kl.value_and_grad(x, y, KlReduction::BatchMean, &mut g)?;
/// let want = (0.25 * (0.25f64 / 0.5).ln() + 0.5 * 2f64.ln() + (1.0f64 / 0.9).ln()) / 2.0;
/// assert!((v - want).abs() < 1e-15);
/// assert_eq!(g, [-0.125, -0.125, -0.25, -0.5, 0.0, 0.0]);
/// assert_eq!(kl.value(x, y, Reduction::Sum)?, 2.0 * v);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// S. Kullback and R. A. Leibler, "On Information and Sufficiency", 1951. PyTorch
/// `torch.nn.functional.kl_div` (including `log_target` and `reduction='batchmean'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KlDiv {
    log_target: bool,
}

impl KlDiv {
    /// Whether `target` holds log-probabilities (true) or probabilities (false, PyTorch's
    /// default).
    #[must_use]
    pub fn log_target(mut self, log_target: bool) -> Self {
        self.log_target = log_target;
        self
    }

    /// Whether `target` holds log-probabilities.
    pub fn get_log_target(&self) -> bool {
        self.log_target
    }

    /// `(ℓ, ∂ℓ/∂x)` of one element.
    #[inline(always)]
    fn element<T: Real>(&self, x: T, t: T) -> (T, T) {
        if self.log_target {
            let p = t.exp();
            // 0·ln 0 = 0 at t = −∞ (p = 0), whatever x is (an infinite x is a masked class);
            // NaN in x still propagates.
            let l = if p == T::ZERO {
                if x.is_nan() {
                    x
                } else {
                    T::ZERO
                }
            } else {
                p * (t - x)
            };
            (l, -p)
        } else if t == T::ZERO {
            // x·0 is 0 for finite x, NaN for NaN; an infinite x is a masked class: 0.
            (if x.is_nan() { x } else { T::ZERO }, -t)
        } else {
            (t * (t.ln() - x), -t)
        }
    }

    #[inline(always)]
    fn valid<T: Real>(&self, t: T) -> bool {
        self.log_target || t >= T::ZERO || t.is_nan()
    }

    fn check<T: Real>(&self, x: &Tensor<'_, T>, t: &Tensor<'_, T>) -> Result<()> {
        if x.dims() != t.dims() {
            return Err(Error::ShapeMismatch {
                loss: NAME,
                arg: "target",
                actual: t.dims().to_vec(),
                expected: x.dims().to_vec(),
                because: "the shape of `input`",
            });
        }
        Ok(())
    }

    fn denominator<T>(x: &Tensor<'_, T>, reduction: KlReduction) -> Result<f64> {
        let d = match reduction {
            KlReduction::Sum => return Ok(1.0),
            KlReduction::Mean => x.len(),
            KlReduction::BatchMean => match x.dims().first() {
                Some(&n) => n,
                None => return Ok(1.0),
            },
        };
        match (d, reduction) {
            (0, KlReduction::BatchMean) => Err(Error::EmptyBatchMean { loss: NAME }),
            (0, _) => Err(Error::EmptyMean { loss: NAME }),
            _ => Ok(d as f64),
        }
    }

    fn invalid<T: Real>(t: &Tensor<'_, T>) -> Error {
        let data = t.data();
        let i = data.iter().position(|&v| v < T::ZERO).unwrap_or(0);
        Error::InvalidValue {
            loss: NAME,
            arg: "target",
            index: t.shape().unravel(i),
            value: data.get(i).map_or(f64::NAN, |v| v.to_f64()),
            expected: "a probability >= 0 (or set `log_target` for log-probabilities)",
        }
    }

    /// The divergence reduced with `reduction` (a [`KlReduction`], or a [`Reduction`]).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<'a, T: Real>(
        &self,
        input: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
        reduction: impl Into<KlReduction>,
    ) -> Result<T> {
        let (x, t) = (input.into(), target.into());
        self.check(&x, &t)?;
        let denom = Self::denominator(&x, reduction.into())?;
        let (xd, td) = (x.data(), t.data());
        let p = chunked_fold(
            xd.len(),
            Partial::ZERO,
            |r| {
                let (xs, ts) = (&xd[r.clone()], &td[r]);
                let ts = &ts[..xs.len()];
                let mut ok = true;
                let sum = lane_sum(xs.len(), |i| {
                    ok &= self.valid(ts[i]);
                    self.element(xs[i], ts[i]).0.to_f64()
                });
                Partial { sum, ok }
            },
            Partial::combine,
        );
        if !p.ok {
            return Err(Self::invalid(&t));
        }
        Ok(T::from_f64(p.sum / denom))
    }

    /// The divergence reduced with `reduction` and its gradient with respect to `input`
    /// (into `grad`, as long as `input`; the reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<'a, T: Real>(
        &self,
        input: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
        reduction: impl Into<KlReduction>,
        grad: &mut [T],
    ) -> Result<T> {
        let (x, t) = (input.into(), target.into());
        self.check(&x, &t)?;
        check_buffer(NAME, "gradient of `input`", grad.len(), x.len())?;
        let denom = Self::denominator(&x, reduction.into())?;
        let scale = T::from_f64(1.0 / denom);
        let (xd, td) = (x.data(), t.data());
        let p = chunked_fold_mut(
            grad,
            Partial::ZERO,
            |r, g| {
                let (xs, ts) = (&xd[r.clone()], &td[r]);
                let (ts, g) = (&ts[..xs.len()], &mut g[..xs.len()]);
                let mut ok = true;
                let sum = lane_sum(xs.len(), |i| {
                    ok &= self.valid(ts[i]);
                    let (l, d) = self.element(xs[i], ts[i]);
                    g[i] = d * scale;
                    l.to_f64()
                });
                Partial { sum, ok }
            },
            Partial::combine,
        );
        if !p.ok {
            return Err(Self::invalid(&t));
        }
        Ok(T::from_f64(p.sum / denom))
    }

    /// The element-wise losses (of `input`'s shape) into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<'a, T: Real>(
        &self,
        input: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
        out: &mut [T],
    ) -> Result<()> {
        let (x, t) = (input.into(), target.into());
        self.check(&x, &t)?;
        check_buffer(NAME, "per-element output", out.len(), x.len())?;
        let mut ok = true;
        for ((o, &a), &b) in out.iter_mut().zip(x.data()).zip(t.data()) {
            ok &= self.valid(b);
            *o = self.element(a, b).0;
        }
        if !ok {
            return Err(Self::invalid(&t));
        }
        Ok(())
    }
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let kl = KlDiv::default().log_target(call.params.bool("log_target"));
    let (x, t) = (call.float_req("input")?, call.float_req("target")?);
    out.shape = x.dims().to_vec();
    let reduction = match call.reduction {
        ReductionMode::Mean => Some(KlReduction::Mean),
        ReductionMode::Sum => Some(KlReduction::Sum),
        ReductionMode::BatchMean => Some(KlReduction::BatchMean),
        ReductionMode::None => None,
    };
    match reduction {
        Some(r) => {
            let v = match out.grad("input") {
                Some(g) => kl.value_and_grad(x, t, r, g)?,
                None => kl.value(x, t, r)?,
            };
            out.value = Some(v.to_f64());
        }
        None => {
            let u = out.cotangent(NAME, x.dims())?;
            let mut losses = vec![T::ZERO; x.len()];
            kl.per_element(x, t, &mut losses)?;
            if let Some(g) = out.grad("input") {
                kl.value_and_grad(x, t, KlReduction::Sum, g)?;
                // Element-wise: the gradient of the sum times the cotangent.
                if let Some(u) = u {
                    apply_cotangent(g, x.dims(), Kept::ALL, u);
                }
            }
            out.per_element = Some(losses);
        }
    }
    Ok(())
}

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "Kullback–Leibler divergence KL(target ‖ exp(input)) from log-probabilities (distillation, VAEs)",
    inputs: &[
        InputSpec {
            name: "input",
            role: Role::Prediction,
            kind: InputKind::Float,
            required: true,
            shape: "log-probabilities, any shape (`[N, C]` for distributions over classes)",
        },
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::Float,
            required: true,
            shape: "same as `input`: probabilities (or log-probabilities with `log_target`)",
        },
    ],
    params: &[ParamSpec {
        name: "log_target",
        kind: ParamKind::Bool { default: false },
        doc: "true: `target` holds log-probabilities",
    }],
    reductions: &[ReductionMode::Mean, ReductionMode::Sum, ReductionMode::None, ReductionMode::BatchMean],
    formula: "ℓ = t·(ln t − x) element-wise (0 where t = 0); with log_target, ℓ = e^t·(t − x); batchmean = Σℓ / N (first dimension)",
    gradient: "∂ℓ/∂x = −t (−e^t with log_target); 0 where t = 0",
    when_to_use: "matching a predicted distribution to a target distribution: knowledge distillation (soft teacher targets), VAE-style regularisers, policy distillation",
    pitfalls: &[
        "`mean` divides by every element, not by the batch: use `batchmean` for the true per-sample KL divergence",
        "input must be log-probabilities (log_softmax of logits), the target probabilities: the argument order is the reverse of KL(p‖q) notation",
        "with probabilities that are exactly 0 in the target, t·ln t is taken as 0 (forward and backward), also where input is −inf (PyTorch gives NaN there)",
    ],
    reference: "Kullback & Leibler 1951; torch.nn.functional.kl_div",
    eval: evaluator!(evaluate),
    sample: sample_inputs,
    plot: Some(KL_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule { refused: &[], linear_in: &["input"], selects: false },
    hessian: None,
};

/// Two classes, log-probabilities x and ln(1 − eˣ), against the distribution (0.7, 0.3).
const KL_PLOT: Plot = Plot {
    axis: PlotAxis::LOG_PROBABILITY,
    at: |x| {
        Sample::new()
            .float("input", &[1, 2], vec![x, (-x.exp()).ln_1p()])
            .float("target", &[1, 2], vec![0.7, 0.3])
    },
};

/// Log-probabilities and probabilities, both `[N, 10]`.
fn sample_inputs(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (rows(size, 10), 10);
    let logp = log_probability_rows(rng, n, c);
    Sample::new().float("input", &[n, c], logp).float(
        "target",
        &[n, c],
        probability_rows(rng, n, c),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_targets_contribute_nothing_even_at_minus_infinity() {
        let x = [f32::NEG_INFINITY, (0.5f32).ln(), (0.5f32).ln()];
        let t = [0.0f32, 0.5, 0.5];
        let mut g = [f32::NAN; 3];
        let v = KlDiv::default()
            .value_and_grad(&x[..], &t[..], KlReduction::Sum, &mut g)
            .unwrap();
        assert_eq!(v, 0.0);
        assert_eq!(g, [0.0, -0.5, -0.5]);
        let lt = [f32::NEG_INFINITY, (0.5f32).ln(), (0.5f32).ln()];
        let kl = KlDiv::default().log_target(true);
        let v = kl
            .value_and_grad(&x[..], &lt[..], KlReduction::Sum, &mut g)
            .unwrap();
        assert!(v.abs() < 1e-7, "{v}");
        assert_eq!(g[0], 0.0);
        // NaN still propagates.
        let x = [f32::NAN, 0.0, 0.0];
        assert!(KlDiv::default()
            .value(&x[..], &t[..], Reduction::Sum)
            .unwrap()
            .is_nan());
    }

    #[test]
    fn batchmean_divides_by_the_first_dimension_only() {
        let x = [-1.0f64, -2.0, -0.5, -0.25];
        let t = [0.25, 0.75, 0.5, 0.5];
        let (x, t) = (
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&t, &[2, 2]).unwrap(),
        );
        let kl = KlDiv::default();
        let sum = kl.value(x, t, Reduction::Sum).unwrap();
        assert_eq!(kl.value(x, t, KlReduction::BatchMean).unwrap(), sum / 2.0);
        assert_eq!(kl.value(x, t, KlReduction::Mean).unwrap(), sum / 4.0);
        let empty: [f64; 0] = [];
        let e = Tensor::new(&empty, &[0, 3]).unwrap();
        assert_eq!(
            kl.value(e, e, KlReduction::BatchMean).unwrap_err().to_string(),
            "kl_div: reduction `batchmean` over an empty batch is undefined; use `sum` or a non-empty batch"
        );
        assert_eq!(KlReduction::BatchMean.to_string(), "batchmean");
    }

    #[test]
    fn a_negative_probability_is_an_error() {
        let x = [-1.0f32; 2];
        let t = [0.5f32, -0.5];
        assert_eq!(
            KlDiv::default().value(&x[..], &t[..], Reduction::Sum).unwrap_err().to_string(),
            "kl_div: `target` at [1] is -0.5, expected a probability >= 0 (or set `log_target` for log-probabilities)"
        );
        assert!(KlDiv::default()
            .log_target(true)
            .value(&x[..], &t[..], Reduction::Sum)
            .is_ok());
    }
}
