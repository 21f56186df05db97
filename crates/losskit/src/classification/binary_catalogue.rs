//! The catalogue entries of the binary, multi-label and ±1-margin losses.

use crate::catalogue::{
    Bound, Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Plot,
    PlotAxis, Range, Role, STANDARD_REDUCTIONS,
};
use crate::evaluator;

use super::asymmetric::eval_asymmetric;
use super::bce::{eval_bce, eval_bce_with_logits, hess_bce_with_logits};
use super::focal::{eval_focal, hess_focal};
use crate::hessian::{hess_evaluator, HessianInfo};

const H_BCE_WITH_LOGITS: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = (pos_weight·y + 1 − y)·σ(x)σ(−x)",
    xgboost: "(pos_weight·y + 1 − y)·max(σ(x)σ(−x), 1e-16), as binary:logistic with scale_pos_weight (src/objective/regression_loss.h LogisticRegression: fmaxf(p(1 − p), 1e-16f))",
    lightgbm: "exact: `binary` takes p(1 − p) with no floor (src/objective/binary_objective.hpp BinaryLogloss)",
    eval: hess_evaluator!(hess_bce_with_logits),
};

const H_FOCAL: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x² = α_t·m^γ·[γc·r·((γ − 1)c·r + 1 − 2σ)·BCE + 2γc·r·(σ − y) + σσ̄], m = 1 − p_t, r = σσ̄/m, c = 1 − 2y: negative in places for γ > 0",
    xgboost: "max(exact, α_t·(1 − p_t)^γ·σ(x)σ(−x)): positive (neither XGBoost nor LightGBM has a focal objective; the bound is cross-entropy's curvature with the focal factor held fixed)",
    lightgbm: "max(exact, α_t·(1 − p_t)^γ·σ(x)σ(−x)), as for XGBoost",
    eval: hess_evaluator!(hess_focal),
};
use super::margin::{
    eval_hinge, eval_hinge_embedding, eval_margin_ranking, eval_soft_margin, eval_squared_hinge,
};
use crate::sample::{Rng, Sample};

const fn input(shape: &'static str) -> InputSpec {
    InputSpec {
        name: "input",
        role: Role::Prediction,
        kind: InputKind::Float,
        required: true,
        shape,
    }
}
const fn target(shape: &'static str) -> InputSpec {
    InputSpec {
        name: "target",
        role: Role::Target,
        kind: InputKind::Float,
        required: true,
        shape,
    }
}
const WEIGHT: InputSpec = InputSpec {
    name: "weight",
    role: Role::Weight,
    kind: InputKind::Float,
    required: false,
    shape:
        "same as `input`, or a trailing part of it such as [C] against [N, C] (mean = Σ w·ℓ / Σ w)",
};
const POS_WEIGHT: InputSpec = InputSpec {
    name: "pos_weight",
    role: Role::Weight,
    kind: InputKind::Float,
    required: false,
    shape: "[C] (C = the last dimension of `input`; one weight >= 0 per label) or [1]",
};
const LOGITS: InputSpec = input("any shape: logits");
const UNIT_TARGET: InputSpec = target("same as `input`, values in [0, 1] (soft labels allowed)");
const SCORES: InputSpec = input("any shape: scores");
const SIGN_TARGET: InputSpec = target("same as `input`, values −1 or +1");

const MARGIN_ANY: Range = Range::ANY;
const ALPHA_RANGE: Range = Range {
    lo: Bound::Unbounded,
    hi: Bound::Inclusive(1.0),
};

const WEIGHTED_MEAN: &str =
    "with `weight`, `mean` is Σ w·ℓ / Σ w here; PyTorch's BCE losses divide Σ w·ℓ by N";
const ZERO_ONE_LABELS: &str = "{0, 1} labels are an error, not silently wrong: with y = 0 every negative costs the margin whatever the score and has zero gradient; map labels with 2y − 1";

pub(crate) const CATALOGUE: &[LossInfo] = &[
    LossInfo {
        name: "bce_with_logits",
        family: Family::Classification,
        summary: "binary cross-entropy on logits: the loss for binary and multi-label classification",
        inputs: &[LOGITS, UNIT_TARGET, WEIGHT, POS_WEIGHT],
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = pw·y·softplus(−x) + (1 − y)·softplus(x) = −[pw·y·ln σ(x) + (1 − y)·ln(1 − σ(x))], times w; pw = 1 without pos_weight",
        gradient: "∂ℓ/∂x = ((pw·y + 1 − y)·σ(x) − pw·y)·w",
        when_to_use: "binary classification (one logit per example) and multi-label classification (one logit per label, labels independent); soft targets in [0, 1] are fine. pos_weight = n_neg / n_pos per label when positives are rare",
        pitfalls: &[
            "pass logits, not sigmoid outputs: sigmoid-then-BCE (bce) rounds σ(x) to 1 for x ≳ 17 in f32, so the loss clamps and the gradient through the sigmoid is 0 exactly where the model is most wrong",
            "for mutually exclusive classes use cross_entropy: independent sigmoids do not compete",
            "pos_weight scales only the positive term and is not in the mean's denominator; it is broadcast over the last dimension, so put the labels last",
            "targets outside [0, 1] are an error here (PyTorch accepts them and returns a meaningless loss)",
            "x = +∞ with y = 1 and x = −∞ with y = 0 give loss 0 here; PyTorch gives NaN",
            WEIGHTED_MEAN,
        ],
        reference: "torch.nn.functional.binary_cross_entropy_with_logits",
        eval: evaluator!(eval_bce_with_logits),
        sample: sample_logits,
        plot: Some(MARGIN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_BCE_WITH_LOGITS),
    },
    LossInfo {
        name: "bce",
        family: Family::Classification,
        summary: "binary cross-entropy on probabilities, each log clamped at −100 (PyTorch's BCELoss); prefer bce_with_logits",
        inputs: &[
            input("any shape: probabilities in [0, 1]"),
            target("same as `input`, values in [0, 1]"),
            WEIGHT,
        ],
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = −[y·max(ln p, −100) + (1 − y)·max(ln(1 − p), −100)], times w",
        gradient: "∂ℓ/∂p = (p − y) / max((1 − p)·p, 1e-12), times w (PyTorch's formula, also inside the clamp)",
        when_to_use: "only when the model really outputs probabilities (an ensemble average, a calibrated model); otherwise bce_with_logits",
        pitfalls: &[
            "BCE on sigmoid outputs is a classic mistake: σ(x) rounds to 1 for x ≳ 17 in f32, so a confident wrong answer costs the clamped 100 and the gradient reaching the logit is 0 (σ′ = 0): use bce_with_logits",
            "the −100 clamp caps the loss of a confidently wrong probability at 100 per element (Keras clips p to [1e-7, 1 − 1e-7] instead, a cap of about 16.1): numbers differ between libraries there",
            "inputs outside [0, 1] are an error",
            WEIGHTED_MEAN,
        ],
        reference: "torch.nn.functional.binary_cross_entropy",
        eval: evaluator!(eval_bce),
        sample: sample_probabilities,
        plot: Some(PROBABILITY),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "focal",
        family: Family::Classification,
        summary: "sigmoid focal loss: BCE on logits scaled by (1 − p_t)^γ so the hard examples dominate",
        inputs: &[LOGITS, UNIT_TARGET, WEIGHT],
        params: &[
            ParamSpec {
                name: "alpha",
                kind: ParamKind::Float { default: 0.25, range: ALPHA_RANGE },
                doc: "weight of the positive class (the negative gets 1 − alpha); a negative value disables the weighting",
            },
            ParamSpec {
                name: "gamma",
                kind: ParamKind::Float { default: 2.0, range: Range::NON_NEGATIVE },
                doc: "focusing exponent: 0 is (α-weighted) BCE, larger values down-weight easy examples more",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = α_t·(1 − p_t)^γ·BCE(x, y), p_t = σ(x)·y + (1 − σ(x))·(1 − y), α_t = α·y + (1 − α)·(1 − y) (1 if α < 0)",
        gradient: "∂ℓ/∂x = α_t·(1 − p_t)^γ·[(1 − y)σ(x) − yσ(−x) + γ·(1 − 2y)·σ(x)σ(−x)/(1 − p_t)·BCE]",
        when_to_use: "dense detection and segmentation with extreme foreground/background imbalance and many easy negatives (RetinaNet); multi-label with rare labels. The usual detector loss: focal with reduction sum over the class logits of every anchor (one-hot labels, all zeros for background) plus an IoU-family box loss (giou, diou, ciou or eiou) with reduction sum over the positive anchors only, the total divided by the number of positive anchors (at least 1); see the example `crates/losskit/examples/detector_loss.rs`",
        pitfalls: &[
            "focal without class imbalance: on balanced data it mostly shrinks the gradient of well-classified examples and slows training; plain bce_with_logits is the baseline to beat",
            "alpha = 0.25 weighs positives *down*: it compensates for γ already removing the easy negatives; tune α and γ together",
            "γ < 1 at saturated logits gives NaN gradients in torchvision (1 − p_t rounds to 0); here 1 − p_t is σ(−z_t) and the factor is computed in log space, so they stay finite",
            "the default reduction is mean; torchvision's sigmoid_focal_loss defaults to 'none'",
        ],
        reference: "Lin et al., \"Focal Loss for Dense Object Detection\", ICCV 2017; torchvision.ops.sigmoid_focal_loss",
        eval: evaluator!(eval_focal),
        sample: sample_logits,
        plot: Some(MARGIN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: Some(H_FOCAL),
    },
    LossInfo {
        name: "hinge",
        family: Family::Classification,
        summary: "hinge loss max(0, margin − y·x) on scores and ±1 labels (the SVM loss)",
        inputs: &[SCORES, SIGN_TARGET, WEIGHT],
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 1.0, range: MARGIN_ANY },
            doc: "how far on the right side a score must be before its loss is 0",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = max(0, m − y·x), y ∈ {−1, +1}",
        gradient: "∂ℓ/∂x = −y where m − y·x > 0, else 0 (0 at the kink, as torch autograd of clamp(m − y·x, min=0))",
        when_to_use: "max-margin binary classifiers (linear SVMs) when calibrated probabilities are not needed",
        pitfalls: &[
            ZERO_ONE_LABELS,
            "the gradient is 0 for every example beyond the margin, so scores are not probabilities and carry no confidence",
        ],
        reference: "Cortes & Vapnik 1995; formula via torch autograd of torch.clamp(margin - target * input, min=0)",
        eval: evaluator!(eval_hinge),
        sample: sample_signs,
        plot: Some(MARGIN),
        kinks: Kinks::Described("where the margin y·x is 1"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "squared_hinge",
        family: Family::Classification,
        summary: "squared hinge max(0, margin − y·x)²: the hinge with a continuous gradient",
        inputs: &[SCORES, SIGN_TARGET, WEIGHT],
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 1.0, range: MARGIN_ANY },
            doc: "how far on the right side a score must be before its loss is 0",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = max(0, m − y·x)², y ∈ {−1, +1}",
        gradient: "∂ℓ/∂x = −2y·max(0, m − y·x)",
        when_to_use: "as hinge, with a smoother optimisation (L2-SVM); penalises large violations more",
        pitfalls: &[
            ZERO_ONE_LABELS,
            "squaring makes it sensitive to outliers and mislabeled examples, like mse",
        ],
        reference: "Keras SquaredHinge (margin 1); formula via torch autograd of torch.clamp(margin - target * input, min=0) ** 2",
        eval: evaluator!(eval_squared_hinge),
        sample: sample_signs,
        plot: Some(MARGIN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "soft_margin",
        family: Family::Classification,
        summary: "soft margin loss ln(1 + exp(−y·x)): logistic loss on ±1 labels",
        inputs: &[SCORES, SIGN_TARGET, WEIGHT],
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = softplus(−y·x) = ln(1 + e^{−y·x}), y ∈ {−1, +1}",
        gradient: "∂ℓ/∂x = −y·σ(−y·x)",
        when_to_use: "logistic regression with ±1 labels; identical to bce_with_logits with labels (y + 1)/2",
        pitfalls: &[
            ZERO_ONE_LABELS,
            "PyTorch's soft_margin_loss computes log1p(exp(−y·x)) literally and returns ∞ (NaN gradient) for −y·x ≳ 89 in f32; here it is finite",
        ],
        reference: "torch.nn.functional.soft_margin_loss",
        eval: evaluator!(eval_soft_margin),
        sample: sample_signs,
        plot: Some(MARGIN),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "hinge_embedding",
        family: Family::Classification,
        summary: "hinge embedding loss: x for a similar pair (+1), max(0, margin − x) for a dissimilar one (−1); x usually a distance",
        inputs: &[
            InputSpec { name: "input", role: Role::Prediction, kind: InputKind::Float, required: true, shape: "any shape: distances (or scores)" },
            SIGN_TARGET,
            WEIGHT,
        ],
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 1.0, range: MARGIN_ANY },
            doc: "the distance beyond which a dissimilar pair costs nothing",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = x if y = 1, max(0, m − x) if y = −1",
        gradient: "∂ℓ/∂x = 1 if y = 1; −1 if y = −1 and m − x > 0, else 0",
        when_to_use: "learning embeddings or similarity from labelled pairs when the input is already a distance (L1 or L2 between two embeddings)",
        pitfalls: &[
            ZERO_ONE_LABELS,
            "the similar-pair term is the input itself, not its square or its absolute value: a negative input (a score, not a distance) lowers the loss without bound",
        ],
        reference: "Hadsell et al. 2006; torch.nn.functional.hinge_embedding_loss",
        eval: evaluator!(eval_hinge_embedding),
        sample: sample_distances,
        plot: Some(DISSIMILAR),
        kinks: Kinks::Described("where a dissimilar pair's input is `margin`"),
        // For a similar pair the loss is the input itself: its gradient, 1, reads no value.
        nan: NanRule { linear_in: &["input"], ..NanRule::PROPAGATES },
        hessian: None,
    },
    LossInfo {
        name: "margin_ranking",
        family: Family::Classification,
        summary: "margin ranking loss max(0, −y·(x1 − x2) + margin): learn which of two scores is higher",
        inputs: &[
            InputSpec { name: "x1", role: Role::Prediction, kind: InputKind::Float, required: true, shape: "any shape: scores" },
            InputSpec { name: "x2", role: Role::Prediction, kind: InputKind::Float, required: true, shape: "same as `x1`" },
            InputSpec { name: "target", role: Role::Target, kind: InputKind::Float, required: true, shape: "same as `x1`, values −1 or +1 (1: x1 should rank higher)" },
        ],
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 0.0, range: MARGIN_ANY },
            doc: "how much higher the preferred score must be before the loss is 0",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = max(0, −y·(x1 − x2) + m), y ∈ {−1, +1}",
        gradient: "∂ℓ/∂x1 = −y, ∂ℓ/∂x2 = y where the loss is positive, else 0",
        when_to_use: "pairwise ranking (search, recommendation) and preference learning where only the order of two scores matters",
        pitfalls: &[
            "with the default margin 0 the loss is 0 as soon as the order is right, however close the scores: set a margin to separate them",
            "a target of 0 is an error: with y = 0 the loss is the constant max(0, margin) with zero gradient",
        ],
        reference: "torch.nn.functional.margin_ranking_loss",
        eval: evaluator!(eval_margin_ranking),
        sample: sample_ranking,
        plot: Some(RANKING),
        kinks: Kinks::Described("where −y·(x1 − x2) + margin is 0"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "asymmetric",
        family: Family::Classification,
        summary: "asymmetric loss (ASL): multi-label BCE with separate focusing for positives and negatives and the easy negatives (p ≤ clip) dropped",
        inputs: &[LOGITS, UNIT_TARGET, WEIGHT],
        params: &[
            ParamSpec {
                name: "gamma_neg",
                kind: ParamKind::Float { default: 4.0, range: Range::NON_NEGATIVE },
                doc: "focusing exponent of the negatives: large values silence the many easy negatives",
            },
            ParamSpec {
                name: "gamma_pos",
                kind: ParamKind::Float { default: 1.0, range: Range::NON_NEGATIVE },
                doc: "focusing exponent of the positives (kept small so rare positives keep their gradient)",
            },
            ParamSpec {
                name: "clip",
                kind: ParamKind::Float { default: 0.05, range: Range::UNIT },
                doc: "probability shift of the negatives: p₋ = min(1 − p + clip, 1); negatives with p ≤ clip cost nothing (0 disables)",
            },
            ParamSpec {
                name: "eps",
                kind: ParamKind::Float {
                    default: 1e-8,
                    range: Range { lo: Bound::Inclusive(0.0), hi: Bound::Exclusive(1.0) },
                },
                doc: "clamp of the probabilities inside the logs, ln max(p, eps) (timm's)",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = −[y·ln max(p, eps) + (1 − y)·ln max(p₋, eps)]·(1 − p_t)^γ, p = σ(x), p₋ = min(1 − p + clip, 1), p_t = y·p + (1 − y)·p₋, γ = γ₊y + γ₋(1 − y); sum = timm's value",
        gradient: "autograd of the formula with the focusing weight differentiated (timm's default disable_torch_grad_focal_loss=False): −[y·a′ + (1 − y)·b′]·u^γ − c·γ·u^(γ−1)·u′, u = 1 − p_t",
        when_to_use: "multi-label classification with many labels and few positives per sample (tagging, COCO/OpenImages multi-label, chest X-ray findings): the negatives outnumber the positives and most are easy",
        pitfalls: &[
            "timm's default reduction is 'batchmean' (Σ / N); `sum` here is timm's 'sum' (the paper's), `mean` divides by N·C",
            "with disable_torch_grad_focal_loss=True timm does not differentiate the focusing weight: a different gradient from this one",
            "timm computes in float32 whatever the input; here float64 inputs are computed in float64",
            "clip shifts only the negatives: a negative predicted below clip has zero loss and zero gradient (hard thresholding of easy negatives)",
        ],
        reference: "Ridnik et al., \"Asymmetric Loss For Multi-Label Classification\", ICCV 2021; timm.loss.AsymmetricLossMultiLabel",
        eval: evaluator!(eval_asymmetric),
        sample: sample_logits,
        plot: Some(MARGIN),
        kinks: Kinks::Described("where σ(x) = eps for a positive (the clamp of ln p) and σ(x) = clip for a negative (smooth there for γ₋ ≥ 1)"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    super::multilabel_soft_margin::INFO,
];

/// Normal logits and 0/1 targets, of shape `[size]`.
fn sample_logits(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    let t = (0..n).map(|_| rng.below(2) as f64).collect();
    Sample::new()
        .float("input", &[n], rng.normals(n, 2.0))
        .float("target", &[n], t)
}

/// Probabilities in (0.01, 0.99) and targets in [0, 1], of shape `[size]`.
fn sample_probabilities(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.uniforms(n, 0.01, 0.99))
        .float("target", &[n], rng.uniforms(n, 0.0, 1.0))
}

/// Normal scores and ±1 targets, of shape `[size]`.
fn sample_signs(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.normals(n, 1.0))
        .float("target", &[n], rng.signs(n))
}

/// Distances in [0, 2) and ±1 targets, of shape `[size]`.
fn sample_distances(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.uniforms(n, 0.0, 2.0))
        .float("target", &[n], rng.signs(n))
}

/// Two normal score vectors and ±1 targets, of shape `[size]`.
fn sample_ranking(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("x1", &[n], rng.normals(n, 1.0))
        .float("x2", &[n], rng.normals(n, 1.0))
        .float("target", &[n], rng.signs(n))
}

/// A logit or score x against the label 1: the margin.
const MARGIN: Plot = Plot {
    axis: PlotAxis::MARGIN,
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![1.0])
    },
};
/// The distance of a dissimilar pair (target −1).
const DISSIMILAR: Plot = Plot {
    axis: PlotAxis {
        label: "input (distance of a dissimilar pair, target −1)",
        range: (0.0, 2.5),
    },
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![-1.0])
    },
};
/// A probability against the label 1.
const PROBABILITY: Plot = Plot {
    axis: PlotAxis::PROBABILITY,
    at: |x| {
        Sample::new()
            .float("input", &[1], vec![x])
            .float("target", &[1], vec![1.0])
    },
};
/// x1 − x2 = x with x1 to be ranked higher.
const RANKING: Plot = Plot {
    axis: PlotAxis::MARGIN,
    at: |x| {
        Sample::new()
            .float("x1", &[1], vec![x])
            .float("x2", &[1], vec![0.0])
            .float("target", &[1], vec![1.0])
    },
};
