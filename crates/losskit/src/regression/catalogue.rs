//! The regression family's catalogue entries.

use crate::catalogue::{
    Family, InputKind, InputSpec, LossInfo, ParamKind, ParamSpec, Range, Role, STANDARD_REDUCTIONS,
};
use crate::error::Result;
use crate::eval::{Call, Out};
use crate::evaluator;
use crate::real::Real;
use crate::sample::{Rng, Sample};

use super::pointwise::evaluate;
use super::{Huber, LogCosh, Mae, Mse, PoissonNll, Quantile, SmoothL1, L2};

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
fn eval_quantile<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    evaluate(&Quantile::new(c.params.float("tau"))?, c, o)
}
fn eval_poisson_nll<T: Real>(c: &Call<'_, T>, o: &mut Out<T>) -> Result<()> {
    let p = c.params;
    let loss = PoissonNll::default()
        .log_input(p.bool("log_input"))
        .full(p.bool("full"))
        .eps(p.float("eps"))?;
    evaluate(&loss, c, o)
}

/// `input` and `target` standard normal, of shape `[size]`.
fn sample_pointwise(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.normals(n, 1.0))
        .float("target", &[n], rng.normals(n, 1.0))
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
    },
];
