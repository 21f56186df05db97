//! The regression family's catalogue entries.

use crate::catalogue::{
    Bound, Family, InputKind, InputSpec, Kink, Kinks, LossInfo, NanRule, ParamKind, ParamSpec,
    Plot, PlotAxis, Range, Role, STANDARD_REDUCTIONS,
};
use crate::error::Result;
use crate::eval::{Call, Out};
use crate::evaluator;
use crate::real::Real;
use crate::sample::{Rng, Sample};

use super::pointwise::{evaluate, evaluate_hess, Curv};
use super::{
    AdaptiveWing, Cauchy, GammaDeviance, Huber, LogCosh, Mae, Mape, Mse, Msle, PoissonNll,
    PseudoHuber, Quantile, SmoothL1, Tweedie, Wing, L2,
};
use crate::hessian::{hess_evaluator, Curvature, HessOut, HessianInfo};

const INPUT: InputSpec = InputSpec {
    name: "input",
    role: Role::Prediction,
    kind: InputKind::Float,
    required: true,
    shape: "any shape",
};
const TARGET: InputSpec = InputSpec {
    name: "target",
    role: Role::Target,
    kind: InputKind::Float,
    required: true,
    shape: "same as `input`",
};
const WEIGHT: InputSpec = InputSpec {
    name: "weight",
    role: Role::Weight,
    kind: InputKind::Float,
    required: false,
    shape: "same as `input` (element-wise; mean = Σ w·ℓ / Σ w)",
};
const POINTWISE: &[InputSpec] = &[INPUT, TARGET, WEIGHT];

const WEIGHTED_MEAN: &str =
    "with `weight`, `mean` is Σ w·ℓ / Σ w here (PyTorch's huber_loss divides by N instead)";

fn eval_mse<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Mse, c, o)
}
fn eval_l2<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&L2, c, o)
}
fn eval_mae<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Mae, c, o)
}
fn eval_huber<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Huber::new(c.params.float("delta"))?, c, o)
}
fn eval_smooth_l1<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&SmoothL1::new(c.params.float("beta"))?, c, o)
}
fn eval_log_cosh<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&LogCosh, c, o)
}
fn eval_msle<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Msle, c, o)
}
fn eval_mape<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Mape, c, o)
}
fn eval_cauchy<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Cauchy::new(c.params.float("c"))?, c, o)
}
fn eval_wing<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    let p = c.params;
    evaluate(&Wing::new(p.float("w"), p.float("epsilon"))?, c, o)
}
fn eval_adaptive_wing<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    let p = c.params;
    let loss = AdaptiveWing::new(
        p.float("omega"),
        p.float("theta"),
        p.float("epsilon"),
        p.float("alpha"),
    )?;
    evaluate(&loss, c, o)
}
fn eval_quantile<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Quantile::new(c.params.float("tau"))?, c, o)
}
fn eval_poisson_nll<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    let p = c.params;
    super::poisson::evaluate(&poisson_of(p)?, c, o)
}

fn eval_pseudo_huber<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&PseudoHuber::new(c.params.float("delta"))?, c, o)
}
fn eval_gamma_deviance<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&GammaDeviance, c, o)
}
fn eval_tweedie<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Tweedie::new(c.params.float("power"))?, c, o)
}

fn poisson_of(p: &crate::eval::Params) -> Result<PoissonNll> {
    PoissonNll::default()
        .log_input(p.bool("log_input"))
        .full(p.bool("full"))
        .eps(p.float("eps"))
}

fn hess_of<T: Real, K: Curv<T>>(
    k: &K,
    c: &Call<'_, T>,
    cv: Curvature,
    o: &mut HessOut<'_, T>,
) -> Result<()> {
    evaluate_hess(k, c, cv, o)
}

/// `hess_fn!(name, |params| loss)`: the Hessian evaluator of one pointwise loss, built from
/// the loss as its catalogue call describes it.
macro_rules! hess_fn {
    ($name:ident, |$p:ident| $loss:expr) => {
        fn $name<T: Real>(c: &Call<'_, T>, cv: Curvature, o: &mut HessOut<'_, T>) -> Result<()> {
            let $p = c.params;
            hess_of(&$loss, c, cv, o)
        }
    };
}

hess_fn!(hess_mse, |_p| Mse);
hess_fn!(hess_l2, |_p| L2);
hess_fn!(hess_mae, |_p| Mae);
hess_fn!(hess_huber, |p| Huber::new(p.float("delta"))?);
hess_fn!(hess_smooth_l1, |p| SmoothL1::new(p.float("beta"))?);
hess_fn!(hess_pseudo_huber, |p| PseudoHuber::new(p.float("delta"))?);
hess_fn!(hess_log_cosh, |_p| LogCosh);
hess_fn!(hess_quantile, |p| Quantile::new(p.float("tau"))?);
fn hess_poisson_nll<T: Real>(c: &Call<'_, T>, cv: Curvature, o: &mut HessOut<'_, T>) -> Result<()> {
    super::poisson::evaluate_hess(&poisson_of(c.params)?, c, cv, o)
}
hess_fn!(hess_gamma_deviance, |_p| GammaDeviance);
hess_fn!(hess_tweedie, |p| Tweedie::new(p.float("power"))?);

const H_MSE: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 2",
    xgboost: "2 (XGBoost's reg:squarederror is `l2`, hessian 1: src/objective/regression_loss.h LinearSquareLoss)",
    lightgbm: "2 (LightGBM's `regression` is `l2`, hessian 1: src/objective/regression_objective.hpp RegressionL2loss)",
    eval: hess_evaluator!(hess_mse),
};
const H_L2: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 1",
    xgboost: "1, as reg:squarederror (src/objective/regression_loss.h LinearSquareLoss)",
    lightgbm: "1, as `regression` (src/objective/regression_objective.hpp RegressionL2loss)",
    eval: hess_evaluator!(hess_l2),
};
const H_MAE: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 0 (everywhere it exists; 0 at x = y too)",
    xgboost: "1, as reg:absoluteerror up to XGBoost 3.2 (src/objective/regression_obj.cu: hess = weight); 3.3+ uses a data-dependent smooth surrogate no element-wise policy reproduces",
    lightgbm: "1, as `regression_l1` (src/objective/regression_objective.hpp RegressionL1loss; leaf values then refreshed from the residuals' median)",
    eval: hess_evaluator!(hess_mae),
};
const H_HUBER: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 1 for |e| ≤ δ, 0 beyond",
    xgboost: "1 everywhere (XGBoost has no huber objective: LightGBM's constant; its smooth cousin is `pseudo_huber`)",
    lightgbm: "1 everywhere, as `huber` (src/objective/regression_objective.hpp RegressionHuberLoss)",
    eval: hess_evaluator!(hess_huber),
};
const H_SMOOTH_L1: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 1/β for |e| < β, 0 beyond (0 everywhere for β = 0)",
    xgboost: "1/β everywhere (1 for β = 0): the quadratic zone's curvature, as LightGBM's huber",
    lightgbm: "1/β everywhere (1 for β = 0): the quadratic zone's curvature, as `huber`",
    eval: hess_evaluator!(hess_smooth_l1),
};
const H_PSEUDO_HUBER: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = (1 + (e/δ)²)^(−3/2) = δ²/((δ² + e²)·√(1 + (e/δ)²))",
    xgboost: "exact, as reg:pseudohubererror (src/objective/regression_obj.cu)",
    lightgbm: "exact (LightGBM has no pseudo-Huber objective)",
    eval: hess_evaluator!(hess_pseudo_huber),
};
const H_LOG_COSH: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 1 − tanh²(e) = sech²(e), computed without cancellation",
    xgboost: "exact (XGBoost has no log-cosh objective)",
    lightgbm: "exact (LightGBM has no log-cosh objective)",
    eval: hess_evaluator!(hess_log_cosh),
};
const H_QUANTILE: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = 0 (everywhere it exists)",
    xgboost: "1, as reg:quantileerror up to XGBoost 3.2 (src/objective/quantile_obj.cu: hess = weight); 3.3+ uses a data-dependent smooth surrogate no element-wise policy reproduces",
    lightgbm: "1, as `quantile` (src/objective/regression_objective.hpp RegressionQuantileloss; leaf values then refreshed from percentiles)",
    eval: hess_evaluator!(hess_quantile),
};
const H_POISSON_NLL: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = eˣ (log_input), or y/(x + ε)² (0 where y = 0)",
    xgboost: "e^(x + 0.7) with log_input, as count:poisson with max_delta_step 0.7 (src/objective/regression_obj.cu, 3.4.1; the development branch after it uses ½(eˣ + y)); the rate form: exact",
    lightgbm: "e^(x + 0.7) with log_input, as `poisson` with poisson_max_delta_step 0.7 (src/objective/regression_objective.hpp RegressionPoissonLoss); the rate form: exact",
    eval: hess_evaluator!(hess_poisson_nll),
};
const H_GAMMA_DEVIANCE: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = y·e^(−x) = y/μ",
    xgboost: "exact: reg:gamma's y/μ (src/objective/regression_loss.h GammaDeviance)",
    lightgbm:
        "exact: `gamma`'s y·e^(−x) (src/objective/regression_objective.hpp RegressionGammaLoss)",
    eval: hess_evaluator!(hess_gamma_deviance),
};
const H_TWEEDIE: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = −(1 − ρ)·y·e^((1−ρ)x) + (2 − ρ)·e^((2−ρ)x) > 0",
    xgboost: "exact, as reg:tweedie (src/objective/regression_obj.cu)",
    lightgbm: "exact, as `tweedie` (src/objective/regression_objective.hpp RegressionTweedieLoss)",
    eval: hess_evaluator!(hess_tweedie),
};

/// `input` and `target` standard normal, of shape `[size]`.
fn sample_pointwise(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.normals(n, 1.0))
        .float("target", &[n], rng.normals(n, 1.0))
}

/// Heatmap targets in [0, 1] (half of them background 0) and predictions near them.
fn sample_heatmap(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let t: Vec<f64> = rng
        .uniforms(n, -1.0, 1.0)
        .into_iter()
        .map(|u| u.max(0.0))
        .collect();
    let x = t
        .iter()
        .zip(rng.normals(n, 0.4))
        .map(|(t, e)| t + e)
        .collect();
    Sample::new()
        .float("input", &[n], x)
        .float("target", &[n], t)
}

/// Positive, skewed predictions and targets (prices, counts, durations).
fn sample_positive(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let mut positive = |n| (0..n).map(|_| (rng.normal() + 1.0).exp()).collect();
    Sample::new()
        .float("input", &[n], positive(n))
        .float("target", &[n], positive(n))
}

/// Log-means (the raw score) and positive, skewed targets.
fn sample_gamma(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let targets = (0..n).map(|_| (0.8 * rng.normal()).exp()).collect();
    Sample::new()
        .float("input", &[n], rng.normals(n, 0.5))
        .float("target", &[n], targets)
}

/// Log-means and compound Poisson–gamma-like targets: about a third exact zeros.
fn sample_tweedie(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let targets = (0..n)
        .map(|_| {
            if rng.below(3) == 0 {
                0.0
            } else {
                (0.7 * rng.normal()).exp()
            }
        })
        .collect();
    Sample::new()
        .float("input", &[n], rng.normals(n, 0.5))
        .float("target", &[n], targets)
}

/// Log-rates (`log_input` is the default) and counts.
fn sample_poisson(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let counts = (0..n).map(|_| rng.below(6) as f64).collect();
    Sample::new()
        .float("input", &[n], rng.normals(n, 1.0))
        .float("target", &[n], counts)
}

pub(crate) const CATALOGUE: &[LossInfo] = &[
    LossInfo {
        name: "mse",
        family: Family::Regression,
        summary: "mean squared error (x − y)²: the default regression loss",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = (x − y)²",
        gradient: "∂ℓ/∂x = 2(x − y)",
        when_to_use: "regression with roughly Gaussian noise and few outliers; the estimate is the conditional mean",
        pitfalls: &[
            "one outlier with a large residual dominates the loss and the gradient: use huber or mae",
            "a prediction of shape [N, 1] against a target of shape [N] is an error here; PyTorch silently broadcasts it to [N, N]",
        ],
        reference: "torch.nn.functional.mse_loss",
        eval: evaluator!(eval_mse),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_MSE),
    },
    LossInfo {
        name: "l2",
        family: Family::Regression,
        summary: "half squared error ½(x − y)², the textbook form whose gradient is the residual",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ½(x − y)²",
        gradient: "∂ℓ/∂x = x − y",
        when_to_use: "as mse, when the ½ convention is wanted (textbooks, optax)",
        pitfalls: &["half of mse: mixing the two conventions changes the effective learning rate by 2"],
        reference: "optax.l2_loss (½ · squared_error)",
        eval: evaluator!(eval_l2),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_L2),
    },
    LossInfo {
        name: "mae",
        family: Family::Regression,
        summary: "mean absolute error |x − y|: robust to outliers, estimates the median",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = |x − y|",
        gradient: "∂ℓ/∂x = sign(x − y), 0 at x = y",
        when_to_use: "regression with heavy-tailed noise or outliers; the estimate is the conditional median",
        pitfalls: &[
            "the gradient has constant size, so it does not shrink near the optimum: lower the learning rate late, or use huber",
        ],
        reference: "torch.nn.functional.l1_loss",
        eval: evaluator!(eval_mae),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Residual(&[Kink::Zero]),
        nan: NanRule::PROPAGATES,
        hessian: Some(H_MAE),
    },
    LossInfo {
        name: "huber",
        family: Family::Regression,
        summary: "quadratic for |x − y| ≤ delta, linear beyond: mse near the target, mae far away",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "delta",
            kind: ParamKind::Float { default: 1.0, range: Range::POSITIVE },
            doc: "where the loss turns from quadratic to linear, in units of the residual",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ½e² if |e| ≤ δ, else δ(|e| − ½δ), e = x − y",
        gradient: "∂ℓ/∂x = clamp(e, −δ, δ)",
        when_to_use: "the default robust regression loss: outliers in the target, but a smooth optimum",
        pitfalls: &[
            "delta is in the units of the target: rescale it with the data",
            "huber(δ) = δ · smooth_l1(β = δ): the two differ by a factor δ, and as δ → 0 huber goes to 0 while smooth_l1 goes to mae",
            WEIGHTED_MEAN,
        ],
        reference: "Huber 1964; torch.nn.functional.huber_loss",
        eval: evaluator!(eval_huber),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_HUBER),
    },
    LossInfo {
        name: "smooth_l1",
        family: Family::Regression,
        summary: "huber divided by its threshold: slope 1 beyond beta; beta = 0 is mae",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "beta",
            kind: ParamKind::Float { default: 1.0, range: Range::NON_NEGATIVE },
            doc: "where the loss turns from quadratic to linear; 0 gives exactly mae",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ½e²/β if |e| < β, else |e| − ½β, e = x − y",
        gradient: "∂ℓ/∂x = e/β inside, sign(e) outside (0 at e = 0 when β = 0)",
        when_to_use: "box regression (Fast R-CNN) and anywhere an L1-like loss needs a smooth minimum",
        pitfalls: &[
            "not the same as huber: smooth_l1(β) = huber(δ = β) / β",
        ],
        reference: "Girshick 2015 (Fast R-CNN); torch.nn.functional.smooth_l1_loss",
        eval: evaluator!(eval_smooth_l1),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Described("at e = 0 when `beta` = 0 (then it is mae)"),
        nan: NanRule::PROPAGATES,
        hessian: Some(H_SMOOTH_L1),
    },
    LossInfo {
        name: "pseudo_huber",
        family: Family::Regression,
        summary: "δ²(√(1 + (e/δ)²) − 1): a smooth huber with a positive second derivative everywhere (XGBoost's reg:pseudohubererror)",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "delta",
            kind: ParamKind::Float { default: 1.0, range: Range::POSITIVE },
            doc: "the slope of the linear tails and the width of the quadratic zone (XGBoost's huber_slope)",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = δ²(√(1 + (e/δ)²) − 1), e = x − y",
        gradient: "∂ℓ/∂x = e/√(1 + (e/δ)²)",
        when_to_use: "robust regression with Newton steps or gradient boosting, where huber's zero curvature outside the quadratic zone stalls the fit",
        pitfalls: &[
            "delta is in the units of the target, like huber's: rescale it with the data",
            "far from the target the curvature (1 + (e/δ)²)^(−3/2) is tiny: boosting steps there are large, bound them (max_delta_step) or standardise the target",
        ],
        reference: "Hartley & Zisserman 2003; XGBoost reg:pseudohubererror; optax.pseudo_huber_loss",
        eval: evaluator!(eval_pseudo_huber),
        hessian: Some(H_PSEUDO_HUBER),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
    },
    LossInfo {
        name: "log_cosh",
        family: Family::Regression,
        summary: "ln cosh(x − y): a smooth huber, twice differentiable everywhere",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ln cosh(e) = |e| + ln(1 + e^(−2|e|)) − ln 2, e = x − y",
        gradient: "∂ℓ/∂x = tanh(e)",
        when_to_use: "robust regression where a second derivative is needed (Newton steps, gradient boosting)",
        pitfalls: &[
            "the naive log(cosh(e)) overflows at |e| ≈ 89 in f32; losskit uses the stable form",
            "the gradient saturates at ±1, like mae: far residuals all pull equally",
        ],
        reference: "optax.log_cosh; keras.losses.LogCosh",
        eval: evaluator!(eval_log_cosh),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_LOG_COSH),
    },
    LossInfo {
        name: "msle",
        family: Family::Regression,
        summary: "squared error of ln(1 + x) against ln(1 + y): a relative error for positive targets spanning orders of magnitude",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = (ln(1 + max(x, ε)) − ln(1 + max(y, ε)))², ε = 1e-7",
        gradient: "∂ℓ/∂x = 2(ln(1 + x) − ln(1 + max(y, ε)))/(1 + x) for x ≥ ε, 0 below",
        when_to_use: "positive targets (prices, counts, durations) where a 10% miss should cost the same at any scale",
        pitfalls: &[
            "negative predictions and targets are floored at 1e-7, silently, as in Keras: the gradient is 0 there, so a model that predicts below 0 gets no signal; predict through softplus or exp",
            "it penalises under-prediction more than over-prediction of the same size",
        ],
        reference: "keras.losses.MeanSquaredLogarithmicError",
        eval: evaluator!(eval_msle),
        sample: sample_positive,
        plot: Some(AGAINST_TWO),
        kinks: Kinks::Described("where `input` = 1e-7, the floor (the gradient is 0 below)"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "mape",
        family: Family::Regression,
        summary: "mean absolute percentage error 100·|x − y|/|y|: the error relative to the target, in percent",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = 100·|y − x| / max(|y|, ε), ε = 1e-7",
        gradient: "∂ℓ/∂x = 100·sign(x − y) / max(|y|, ε), 0 at x = y",
        when_to_use: "when errors matter relative to the size of the target (forecasting sales, demand) and targets stay away from 0",
        pitfalls: &[
            "a target at or near 0 makes the loss up to 1e9·|x|: one such element dominates the mean; drop or shift such targets, or use msle",
            "it is asymmetric: over-prediction is unbounded, under-prediction of a positive target costs at most 100, so it favours predicting low",
            "the gradient has constant size per element like mae's, scaled by 1/|y|",
        ],
        reference: "keras.losses.MeanAbsolutePercentageError",
        eval: evaluator!(eval_mape),
        sample: sample_positive,
        plot: Some(AGAINST_TWO),
        kinks: Kinks::Residual(&[Kink::Zero]),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "cauchy",
        family: Family::Regression,
        summary: "½c²·ln(1 + (e/c)²): quadratic near 0, logarithmic far away, so gross outliers lose their pull",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "c",
            kind: ParamKind::Float { default: 1.0, range: Range::POSITIVE },
            doc: "the scale of an inlier residual (SciPy's f_scale)",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ½c²·ln(1 + (e/c)²), e = x − y",
        gradient: "∂ℓ/∂x = e/(1 + (e/c)²)",
        when_to_use: "robust fitting with many gross outliers (bundle adjustment, curve fitting), starting from a reasonable fit",
        pitfalls: &[
            "not convex beyond |e| = c: from a poor start a fit can settle with the inliers treated as outliers; start from an mse or huber fit",
            "c is in the units of the target: rescale it with the data",
        ],
        reference: "Holland & Welsch 1977; scipy.optimize.least_squares(loss=\"cauchy\", f_scale=c)",
        eval: evaluator!(eval_cauchy),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "wing",
        family: Family::Regression,
        summary: "wing loss: w·ln(1 + |e|/ε) up to |e| = w, linear beyond; large gradients for small residuals (landmarks)",
        inputs: POINTWISE,
        params: &[
            ParamSpec {
                name: "w",
                kind: ParamKind::Float { default: 10.0, range: Range::POSITIVE },
                doc: "the width of the logarithmic part, in the units of the target",
            },
            ParamSpec {
                name: "epsilon",
                kind: ParamKind::Float { default: 2.0, range: Range::POSITIVE },
                doc: "the curvature of the logarithmic part: smaller is sharper near 0",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = w·ln(1 + |e|/ε) if |e| < w, else |e| − C, C = w − w·ln(1 + w/ε)",
        gradient: "∂ℓ/∂x = sign(e)·w/(ε + |e|) if |e| < w, else sign(e); 0 at e = 0",
        when_to_use: "facial landmark and keypoint regression in pixels, where small and medium errors should keep pulling",
        pitfalls: &[
            "w and ε are in pixels (the paper's 10 and 2 for 64×64 to 256×256 faces): rescale them with normalised coordinates",
            "the gradient jumps at |e| = w (from w/(ε + w) to 1): not a smooth loss",
        ],
        reference: "Feng et al. 2018 (CVPR), eq. 5; formula via torch autograd",
        eval: evaluator!(eval_wing),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Residual(&[Kink::Zero, Kink::Param("w")]),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "adaptive_wing",
        family: Family::Regression,
        summary: "adaptive wing loss for heatmap regression: wing-like (large gradients) at foreground pixels, smooth near 0 at background pixels",
        inputs: &[
            INPUT,
            InputSpec {
                shape: "same as `input`: heatmap values in [0, 1]",
                ..TARGET
            },
            WEIGHT,
        ],
        params: &[
            ParamSpec {
                name: "omega",
                kind: ParamKind::Float { default: 14.0, range: Range::POSITIVE },
                doc: "scale ω of the logarithmic part",
            },
            ParamSpec {
                name: "theta",
                kind: ParamKind::Float { default: 0.5, range: Range::POSITIVE },
                doc: "threshold θ on |e| between the logarithmic and the linear part",
            },
            ParamSpec {
                name: "epsilon",
                kind: ParamKind::Float { default: 1.0, range: Range::POSITIVE },
                doc: "curvature ε of the logarithmic part",
            },
            ParamSpec {
                name: "alpha",
                kind: ParamKind::Float {
                    default: 2.1,
                    range: Range { lo: Bound::Exclusive(1.0), hi: Bound::Unbounded },
                },
                doc: "exponent: each element uses α − target (2.1 − y: > 1 for y in [0, 1], so smooth at e = 0)",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ω·ln(1 + (|e|/ε)^(α−y)) if |e| < θ, else A·|e| − C; A = ω·(α−y)·(θ/ε)^(α−y−1)/(ε(1 + (θ/ε)^(α−y))), C = θA − ω·ln(1 + (θ/ε)^(α−y)), e = x − y",
        gradient: "∂ℓ/∂x = sign(e)·ω(α−y)(|e|/ε)^(α−y−1)/(ε(1 + (|e|/ε)^(α−y))) if |e| < θ, else sign(e)·A; 0 at e = 0",
        when_to_use: "heatmap regression for landmarks and keypoints (face alignment, pose): foreground pixels near 1 keep large gradients for small errors, the many background pixels near 0 stay quiet",
        pitfalls: &[
            "targets are heatmap values in [0, 1]: the exponent α − y must stay above 1 for the loss to be smooth at 0 (other targets are an error)",
            "θ, ε and ω are in heatmap units (the paper's 0.5, 1, 14 for values in [0, 1]); the paper also weights the pixels near the landmark (a weight map), pass it as `weight`",
            "no reference library ships it: the numbers are the paper's formula",
        ],
        reference: "Wang, Bo & Fuxin, \"Adaptive Wing Loss for Robust Face Alignment via Heatmap Regression\", ICCV 2019, eq. 6; the formula via torch autograd",
        eval: evaluator!(eval_adaptive_wing),
        sample: sample_heatmap,
        plot: Some(HEATMAP),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "quantile",
        family: Family::Regression,
        summary: "pinball loss: its minimiser is the tau-quantile of the target",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "tau",
            kind: ParamKind::Float { default: 0.5, range: Range::OPEN_UNIT },
            doc: "the quantile: under-prediction costs tau, over-prediction 1 − tau",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = max(τe', (τ − 1)e'), e' = y − x",
        gradient: "∂ℓ/∂x = −τ if x < y, 1 − τ if x > y, ½ − τ at x = y",
        when_to_use: "prediction intervals and asymmetric costs: fit tau = 0.1 and 0.9 for an 80% interval",
        pitfalls: &[
            "separately fitted quantiles can cross; check q(0.1) ≤ q(0.9) on held-out data",
            "tau = 0.5 is half of mae, not mae",
        ],
        reference: "Koenker & Bassett 1978; formula, checked against torch autograd in float64",
        eval: evaluator!(eval_quantile),
        sample: sample_pointwise,
        plot: Some(RESIDUAL),
        kinks: Kinks::Residual(&[Kink::Zero]),
        nan: NanRule::PROPAGATES,
        hessian: Some(H_QUANTILE),
    },
    LossInfo {
        name: "poisson_nll",
        family: Family::Regression,
        summary: "negative log-likelihood of counts under a predicted Poisson rate",
        inputs: POINTWISE,
        params: &[
            ParamSpec {
                name: "log_input",
                kind: ParamKind::Bool { default: true },
                doc: "true: `input` is the log of the rate; false: the rate itself",
            },
            ParamSpec {
                name: "full",
                kind: ParamKind::Bool { default: false },
                doc: "add Stirling's approximation of ln(y!) (for y > 1)",
            },
            ParamSpec {
                name: "eps",
                kind: ParamKind::Float { default: 1e-8, range: Range::NON_NEGATIVE },
                doc: "offset in ln(x + eps) when `log_input` is false",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = eˣ − y·x (log_input), or x − y·ln(x + ε); + y ln y − y + ½ ln(2πy) for y > 1 with full",
        gradient: "∂ℓ/∂x = eˣ − y (log_input), or 1 − y/(x + ε)",
        when_to_use: "count targets (events, clicks, photons) whose variance grows with the mean",
        pitfalls: &[
            "with log_input = false the model must output a non-negative rate; predicting the log-rate is more stable",
            "targets must be counts ≥ 0",
        ],
        reference: "torch.nn.functional.poisson_nll_loss",
        eval: evaluator!(eval_poisson_nll),
        sample: sample_poisson,
        plot: Some(LOG_RATE),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_POISSON_NLL),
    },
    LossInfo {
        name: "gamma_deviance",
        family: Family::Regression,
        summary: "gamma deviance on the log-link raw score: positive, right-skewed targets (XGBoost's reg:gamma)",
        inputs: POINTWISE,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = y·e^(−x) + x − ln y − 1 = y/μ − ln(y/μ) − 1, μ = eˣ (half the gamma deviance)",
        gradient: "∂ℓ/∂x = 1 − y·e^(−x)",
        when_to_use: "positive targets whose spread grows with their mean (claim sizes, durations, prices), predicted on the log scale",
        pitfalls: &[
            "`input` is the raw score x = ln μ, not the mean: apply exp to predict",
            "targets must be > 0; for exact zeros use tweedie",
            "XGBoost's gamma-deviance metric and scikit-learn's mean_gamma_deviance are twice this",
        ],
        reference: "McCullagh & Nelder 1989; XGBoost reg:gamma (gradient and hessian exactly); LightGBM gamma",
        eval: evaluator!(eval_gamma_deviance),
        hessian: Some(H_GAMMA_DEVIANCE),
        sample: sample_gamma,
        plot: Some(LOG_MEAN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
    },
    LossInfo {
        name: "tweedie",
        family: Family::Regression,
        summary: "Tweedie negative log-likelihood on the log-link raw score, power in (1, 2): many zeros and a skewed positive part (XGBoost's reg:tweedie)",
        inputs: POINTWISE,
        params: &[ParamSpec {
            name: "power",
            kind: ParamKind::Float { default: 1.5, range: Range { lo: Bound::Exclusive(1.0), hi: Bound::Exclusive(2.0) } },
            doc: "the variance power ρ: Var = φμ^ρ; toward 1 Poisson-like, toward 2 gamma-like (tweedie_variance_power)",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = −y·e^((1−ρ)x)/(1 − ρ) + e^((2−ρ)x)/(2 − ρ), μ = eˣ",
        gradient: "∂ℓ/∂x = −y·e^((1−ρ)x) + e^((2−ρ)x)",
        when_to_use: "non-negative targets with a mass at exactly 0 (insurance losses, rainfall, sales), predicted on the log scale",
        pitfalls: &[
            "`input` is the raw score x = ln μ, not the mean: apply exp to predict",
            "the value is a negative log-likelihood without the terms in y alone: not 0 at a perfect prediction, and it can be negative; compare models by it, not to 0",
        ],
        reference: "Jørgensen 1997; XGBoost reg:tweedie and tweedie-nloglik (gradient and hessian exactly); LightGBM tweedie",
        eval: evaluator!(eval_tweedie),
        hessian: Some(H_TWEEDIE),
        sample: sample_tweedie,
        plot: Some(LOG_MEAN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
    },
    LossInfo {
        name: "gaussian_nll",
        family: Family::Regression,
        summary: "Gaussian negative log-likelihood with a predicted variance: learns the mean and its uncertainty",
        inputs: &[
            INPUT,
            TARGET,
            InputSpec {
                name: "var",
                role: Role::Prediction,
                kind: InputKind::Float,
                required: true,
                shape: "same as `input`, or it with one dimension 1, or the last dimension dropped",
            },
            WEIGHT,
        ],
        params: &[
            ParamSpec {
                name: "full",
                kind: ParamKind::Bool { default: false },
                doc: "add the constant ½ ln 2π",
            },
            ParamSpec {
                name: "eps",
                kind: ParamKind::Float { default: 1e-6, range: Range::POSITIVE },
                doc: "floor of the variance (the gradient passes through the clamp, as in PyTorch)",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = ½(ln v + (x − y)²/v) (+ ½ ln 2π with full), v = max(var, ε)",
        gradient: "∂ℓ/∂x = (x − y)/v; ∂ℓ/∂var = ½(1/v − (x − y)²/v²)",
        when_to_use: "heteroscedastic regression: the model should say how sure it is",
        pitfalls: &[
            "predict the variance through softplus or exp so it stays positive; a negative var is an error",
            "the model can cut the loss by inflating var on hard examples: watch calibration",
        ],
        reference: "Nix & Weigend 1994; torch.nn.functional.gaussian_nll_loss",
        eval: evaluator!(super::gaussian_nll::evaluate),
        sample: super::gaussian_nll::sample,
        plot: Some(GAUSSIAN),
        kinks: Kinks::Described("where `var` = `eps`: the clamp"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
];

/// `input` = x against `target` 0: the residual axis.
const RESIDUAL: Plot = Plot {
    axis: PlotAxis::RESIDUAL,
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![0.0])
    },
};
/// The residual against a background target 0 (exponent α).
const HEATMAP: Plot = Plot {
    axis: PlotAxis {
        label: "residual e = input − target, target 0 (a background pixel)",
        range: (-1.5, 1.5),
    },
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![0.0])
    },
};
/// The log-rate against a count of 2.
const LOG_RATE: Plot = Plot {
    axis: PlotAxis::LOG_RATE,
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![2.0])
    },
};
/// The raw score (log of the mean) against a target of 2.
const LOG_MEAN: Plot = Plot {
    axis: PlotAxis {
        label: "input (raw score, log of the mean), target 2",
        range: (-2.0, 3.0),
    },
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![2.0])
    },
};
/// A positive prediction against a target of 2 (the relative losses).
const AGAINST_TWO: Plot = Plot {
    axis: PlotAxis {
        label: "input (positive), target 2",
        range: (0.05, 8.0),
    },
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![2.0])
    },
};
/// The residual axis at a variance of 1.
const GAUSSIAN: Plot = Plot {
    axis: PlotAxis::RESIDUAL,
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![0.0])
            .float("var", &[1], vec![1.0])
    },
};
