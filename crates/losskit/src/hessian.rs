//! Second derivatives: the curvature policy ([`Curvature`]), what the catalogue knows about a
//! loss's Hessian ([`HessianInfo`]) and the evaluation by name ([`evaluate_hess`]).
//!
//! Every loss with a Hessian has `value_grad_hess(inputs, reduction, curvature, grad, hess)`:
//! the reduced loss, its gradient and the diagonal of its Hessian with respect to the raw
//! score, in one pass, into buffers the caller owns, with the weights and the reduction's
//! scale of `value_and_grad`. For the element-wise losses the diagonal is the whole Hessian;
//! for the softmax losses it is what the gradient-boosting libraries consume.

use core::fmt;

use crate::catalogue::LossInfo;
use crate::error::{Error, Result};
use crate::eval::{check_hess, Dtype, Evaluation, NamedArray, Params, Wrap};
use crate::evaluator::{Call, Resolved};
use crate::real::Real;
use crate::reduction::{Reduction, ReductionMode};
use crate::tensor::Shape;

/// Which second derivative `value_grad_hess` writes where the exact one is zero, undefined,
/// negative, or not what a gradient-boosting library uses for its own built-in objective.
///
/// | loss | `Exact` | `XGBoost` | `LightGBM` |
/// |---|---|---|---|
/// | `mse`, `l2` | 2, 1 | same | same |
/// | `mae` | 0 | 1 | 1 |
/// | `huber` | 1 inside \|e\| ≤ δ, 0 outside | 1 | 1 |
/// | `smooth_l1` | 1/β inside, 0 outside | 1/β (1 for β = 0) | same |
/// | `quantile` | 0 | 1 | 1 |
/// | `log_cosh`, `pseudo_huber`, `gamma_deviance`, `tweedie` | exact | exact | exact |
/// | `poisson_nll` (log input) | eˣ | eˣ⁺⁰·⁷ | eˣ⁺⁰·⁷ |
/// | `bce_with_logits` | (w₊y + 1 − y)·σ(x)σ(−x) | σσ̄ floored at 10⁻¹⁶, then the weight | exact |
/// | `focal` | exact (negative in places for γ > 0) | max(exact, α_t(1 − p_t)^γ σσ̄) | same |
/// | `cross_entropy` | A·p(1 − p) | max(2A·p(1 − p), 10⁻¹⁶) | K/(K − 1)·A·p(1 − p) |
/// | `softmax_focal` | exact (negative in places for γ > 0) | max(exact, G·p(1 − p)) | same |
///
/// Where each convention comes from (read in the libraries' sources):
/// - **XGBoost 3.4.1** (the release on PyPI): `src/objective/regression_obj.cu` —
///   `reg:squarederror` hessian 1 (`regression_loss.h`, `LinearSquareLoss`), `count:poisson`
///   `expf(p + max_delta_step)` with `max_delta_step` 0.7, `reg:pseudohubererror`
///   δ²/((δ² + e²)·√(1 + e²/δ²)), `reg:tweedie` as [`Tweedie`](crate::Tweedie); `regression_loss.h`
///   `LogisticRegression` `fmaxf(p(1 − p), 1e-16f)` and `GammaDeviance` y/μ;
///   `src/objective/multiclass_obj.cu` `fmax(2p(1 − p)·w, 1e-16)`. `reg:absoluteerror` and
///   `reg:quantileerror` took the sample weight (1) as hessian up to 3.2 (`regression_obj.cu`,
///   `quantile_obj.cu`); since 3.3 (PRs #12373, #12386) both use a data-dependent smooth
///   majorise-minimise surrogate whose scale is a statistic of the whole training set, which
///   no element-wise policy can reproduce: `XGBoost` gives the constant 1 of ≤ 3.2. XGBoost's
///   development branch (after 3.4.1, PR #12431) replaces the Poisson hessian by
///   ½(μ + y); `XGBoost` follows the release.
/// - **LightGBM 4.x**: `src/objective/regression_objective.hpp` — `regression_l1`, `huber`
///   and `quantile` hessian 1 (the leaf values of l1 and quantile are then refreshed from
///   percentiles), `poisson` `exp(score + poisson_max_delta_step)` with 0.7, `gamma` and
///   `tweedie` exact; `binary_objective.hpp` p(1 − p) with no floor;
///   `multiclass_objective.hpp` `factor_·p(1 − p)` with `factor_ = K/(K − 1)`.
///
/// The XGBoost and LightGBM policies never give a negative or NaN Hessian for finite input:
/// for the focal losses, which neither library has built in, they take the exact value where
/// it is larger than the curvature of cross-entropy weighted by the focal factor held fixed
/// (α_t(1 − p_t)^γ σ(x)σ(−x) binary, G·p_c(1 − p_c) softmax, with G the factor multiplying
/// p − onehot in the gradient), and that bound where the exact value is smaller or negative.
/// `Exact` gives the true second derivative, negative where the loss is concave.
///
/// A different `max_delta_step` than 0.7: scale the `Exact` Poisson Hessian by e^δ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Curvature {
    /// The true second derivative: 0 where the loss is piecewise linear, negative where it is
    /// concave (focal with γ > 0 in places).
    #[default]
    Exact,
    /// The hessian XGBoost's built-in objective uses (XGBoost 3.4.1), and a positive bound for
    /// the losses it does not have.
    XGBoost,
    /// The hessian LightGBM's built-in objective uses (LightGBM 4.x), and a positive bound for
    /// the losses it does not have.
    LightGBM,
}

impl Curvature {
    /// Every policy, in the order `losskit explain` lists them.
    pub const ALL: [Curvature; 3] = [Curvature::Exact, Curvature::XGBoost, Curvature::LightGBM];

    /// `"exact"`, `"xgboost"` or `"lightgbm"`.
    pub fn name(self) -> &'static str {
        match self {
            Curvature::Exact => "exact",
            Curvature::XGBoost => "xgboost",
            Curvature::LightGBM => "lightgbm",
        }
    }

    /// The policy called `name`.
    ///
    /// # Errors
    /// [`Error::UnknownCurvature`] for any other word.
    pub fn from_name(name: &str) -> Result<Curvature> {
        Curvature::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| Error::UnknownCurvature {
                name: name.to_owned(),
            })
    }
}

impl fmt::Display for Curvature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The signature of one loss's Hessian evaluator in one compute type.
pub(crate) type HessFn<T> = fn(&Call<'_, T>, Curvature, &mut HessOut<'_, T>) -> Result<()>;

/// A loss's Hessian evaluator in both compute types; built by `hess_evaluator!`.
#[derive(Clone, Copy)]
pub(crate) struct HessEvaluator {
    pub(crate) f32: HessFn<f32>,
    pub(crate) f64: HessFn<f64>,
}

/// `hess_evaluator!(path::to::generic_fn)`.
macro_rules! hess_evaluator {
    ($f:path) => {
        $crate::hessian::HessEvaluator { f32: $f, f64: $f }
    };
}
pub(crate) use hess_evaluator;

/// What a Hessian evaluator fills in: the value (reduced) or the per-element losses, and the
/// caller's gradient and Hessian buffers of `input`.
pub(crate) struct HessOut<'b, T> {
    pub(crate) shape: Vec<usize>,
    pub(crate) value: Option<f64>,
    pub(crate) per_element: Option<Vec<T>>,
    pub(crate) grad: &'b mut [T],
    pub(crate) hess: &'b mut [T],
}

impl<T: Real> HessOut<'_, T> {
    /// The shared tail of the Hessian evaluators: `mean`/`sum` through `value_grad_hess`;
    /// `none` gives the per-element losses and the gradient and Hessian of their sum.
    pub(crate) fn dispatch(
        &mut self,
        call: &Call<'_, T>,
        loss_shape: &[usize],
        value_grad_hess: impl Fn(Reduction, &mut [T], &mut [T]) -> Result<T>,
        per_element: impl Fn(&mut [T]) -> Result<()>,
    ) -> Result<()> {
        self.shape = loss_shape.to_vec();
        match call.reduction() {
            Some(r) => {
                self.value = Some(value_grad_hess(r, self.grad, self.hess)?.to_f64());
            }
            None => {
                let mut losses = vec![T::ZERO; loss_shape.iter().product()];
                per_element(&mut losses)?;
                value_grad_hess(Reduction::Sum, self.grad, self.hess)?;
                self.per_element = Some(losses);
            }
        }
        Ok(())
    }
}

/// What the catalogue knows about a loss's second derivative with respect to its prediction
/// `input` (the raw score).
#[derive(Clone, Copy)]
pub struct HessianInfo {
    /// The exact diagonal, in plain-text math.
    pub exact: &'static str,
    /// What [`Curvature::XGBoost`] gives, and where XGBoost does it.
    pub xgboost: &'static str,
    /// What [`Curvature::LightGBM`] gives, and where LightGBM does it.
    pub lightgbm: &'static str,
    pub(crate) eval: HessEvaluator,
}

impl fmt::Debug for HessianInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HessianInfo")
            .field("exact", &self.exact)
            .finish()
    }
}

impl HessianInfo {
    /// The catalogue's text for `curvature`.
    pub fn policy(&self, curvature: Curvature) -> &'static str {
        match curvature {
            Curvature::Exact => self.exact,
            Curvature::XGBoost => self.xgboost,
            Curvature::LightGBM => self.lightgbm,
        }
    }
}

/// As [`evaluate_into`](crate::evaluate_into) for the second derivative: the loss `info`
/// reduced with `reduction`, the gradient of `input` written to `grad` and the diagonal of
/// its Hessian to `hess` (both as long as `input`, overwritten), with the curvature policy
/// `curvature`, in one pass. With [`ReductionMode::None`] the returned [`Evaluation`] holds
/// the per-element losses and the buffers the gradient and Hessian of their sum (what a
/// gradient-boosting objective returns).
///
/// The compute type is `T`; `input` must be float32 for `f32` buffers, float64 for `f64`.
/// [`LossInfo::hessian`] tells which losses have a Hessian.
///
/// # Example
/// ```
/// use losskit::{evaluate_hess, find, ArrayData, Curvature, NamedArray, Params, ReductionMode};
/// let info = find("huber")?;
/// let (x, t, dims) = ([0.5f64, 3.0], [0.0f64, 0.0], [2usize]);
/// let inputs = [
///     NamedArray { name: "input", data: ArrayData::F64(&x), dims: &dims },
///     NamedArray { name: "target", data: ArrayData::F64(&t), dims: &dims },
/// ];
/// let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
/// let params = Params::defaults(info);
/// evaluate_hess(info, &inputs, &params, ReductionMode::Sum, Curvature::Exact, &mut g, &mut h)?;
/// assert_eq!((g, h), ([0.5, 1.0], [1.0, 0.0]));
/// evaluate_hess(info, &inputs, &params, ReductionMode::Sum, Curvature::LightGBM, &mut g, &mut h)?;
/// assert_eq!(h, [1.0, 1.0]); // LightGBM's huber: a constant hessian
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # Errors
/// [`Error::NoHessian`] for a loss without one; every error of
/// [`evaluate_with`](crate::evaluate_with); [`Error::GradDtype`] when `input`'s dtype is not
/// `T`'s; [`Error::GradLength`] for a buffer not as long as `input`; whatever the loss
/// rejects. On error the buffers hold unspecified values.
#[allow(clippy::too_many_arguments)]
pub fn evaluate_hess<T: Real>(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    reduction: ReductionMode,
    curvature: Curvature,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<Evaluation> {
    let Some(h) = info.hessian else {
        return Err(Error::NoHessian { loss: info.name });
    };
    match T::typed_pair(grad, hess) {
        TypedPair::F32(g, hh) => {
            let given = check_hess(info, inputs, reduction, Dtype::F32, g.len(), hh.len())?;
            run::<f32>(info, &given, params, reduction, curvature, h.eval.f32, g, hh)
        }
        TypedPair::F64(g, hh) => {
            let given = check_hess(info, inputs, reduction, Dtype::F64, g.len(), hh.len())?;
            run::<f64>(info, &given, params, reduction, curvature, h.eval.f64, g, hh)
        }
    }
}

/// Gradient and Hessian buffers of either compute type (what [`Real`]'s sealed side turns
/// them into).
#[doc(hidden)]
#[derive(Debug)]
pub enum TypedPair<'a> {
    /// f32 buffers.
    F32(&'a mut [f32], &'a mut [f32]),
    /// f64 buffers.
    F64(&'a mut [f64], &'a mut [f64]),
}

#[allow(clippy::too_many_arguments)]
fn run<T: Real + Wrap>(
    info: &'static LossInfo,
    given: &[(&'static crate::catalogue::InputSpec, &NamedArray<'_>)],
    params: &Params,
    reduction: ReductionMode,
    curvature: Curvature,
    f: HessFn<T>,
    grad: &mut [T],
    hess: &mut [T],
) -> Result<Evaluation> {
    let mut items = Vec::with_capacity(given.len());
    for (spec, arr) in given {
        let shape = Shape::new(arr.dims)?;
        let data: Resolved<'_, T> = crate::eval::resolve(spec, arr);
        items.push((spec.name, data, shape));
    }
    let call = Call {
        loss: info.name,
        items,
        params,
        reduction,
    };
    let mut out = HessOut {
        shape: Vec::new(),
        value: None,
        per_element: None,
        grad,
        hess,
    };
    f(&call, curvature, &mut out)?;
    Ok(Evaluation {
        loss: info.name,
        reduction,
        dtype: if T::NAME == "f64" {
            Dtype::F64
        } else {
            Dtype::F32
        },
        shape: out.shape,
        value: out.value,
        per_element: out.per_element.map(T::wrap),
        grads: Vec::new(),
    })
}
