//! Second derivatives: the curvature policy ([`Curvature`]), what the catalogue knows about a
//! loss's Hessian ([`HessianInfo`]) and the evaluation by name ([`evaluate_hess`](crate::evaluate_hess)).
//!
//! Every loss with a Hessian has `value_grad_hess(inputs, reduction, curvature, grad, hess)`:
//! the reduced loss, its gradient and the diagonal of its Hessian with respect to the raw
//! score, in one pass, into buffers the caller owns, with the weights and the reduction's
//! scale of `value_and_grad`. For the element-wise losses the diagonal is the whole Hessian;
//! for the softmax losses it is what the gradient-boosting libraries consume.

use core::fmt;

use crate::error::{Error, Result};
use crate::evaluator::Call;
use crate::real::Real;
use crate::reduction::Reduction;

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
