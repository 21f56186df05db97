//! The segmentation family's catalogue entries and their evaluators.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Plot, PlotAxis,
    Range, Role, STANDARD_REDUCTIONS,
};
use crate::error::{Error, Result};
use crate::eval::{dispatch, Call, Kept, Out, Vjp};
use crate::evaluator;
use crate::real::Real;
use crate::reduction::ReductionMode;
use crate::sample::{Rng, Sample};
use crate::tensor::Tensor;

use super::{
    first_class, layout, Activation, BceDice, Boundary, CeDice, Dice, DiceFocal, FocalTversky,
    GeneralizedDice, GeneralizedWassersteinDice, HausdorffDt, Jaccard, LovaszHinge, LovaszSoftmax,
    SegInputs, SoftClDice, Tversky, WassersteinWeighting,
};

/// The segmentation losses, in the order `losskit list` shows them.
pub(crate) const CATALOGUE: &[LossInfo] = &[
    DICE,
    JACCARD,
    TVERSKY,
    FOCAL_TVERSKY,
    GENERALIZED_DICE,
    GENERALIZED_WASSERSTEIN_DICE,
    BCE_DICE,
    CE_DICE,
    DICE_FOCAL,
    BOUNDARY,
    HAUSDORFF_DT,
    SOFT_CLDICE,
    LOVASZ_HINGE,
    LOVASZ_SOFTMAX,
];

const INPUT: InputSpec = InputSpec {
    name: "input",
    role: Role::Prediction,
    kind: InputKind::Float,
    required: true,
    shape: "logits (or probabilities with `activation=none`) `[N, C, *spatial]`, 1 to 3 spatial dimensions",
};
const TARGET: InputSpec = InputSpec {
    name: "target",
    role: Role::Target,
    kind: InputKind::FloatOrIndex,
    required: true,
    shape: "a 0/1 mask of `input`'s shape (one-hot or multi-label; float or integer), or class indices `[N, *spatial]` (integers)",
};
const INPUTS: &[InputSpec] = &[INPUT, TARGET];

const ACTIVATION: ParamSpec = ParamSpec {
    name: "activation",
    kind: ParamKind::Choice {
        default: "softmax",
        options: &["softmax", "sigmoid", "none"],
    },
    doc: "applied to `input` inside the loss (its gradient included); softmax runs over all C classes",
};
const INCLUDE_BACKGROUND: ParamSpec = ParamSpec {
    name: "include_background",
    kind: ParamKind::Bool { default: true },
    doc: "whether class 0 counts (it is dropped after the softmax; kept when C = 1)",
};
const BATCH: ParamSpec = ParamSpec {
    name: "batch",
    kind: ParamKind::Bool { default: false },
    doc: "true: sums over the whole batch, one ratio per class; false: one ratio per sample and class",
};
const SMOOTH_NR: ParamSpec = ParamSpec {
    name: "smooth_nr",
    kind: ParamKind::Float {
        default: 1e-5,
        range: Range::NON_NEGATIVE,
    },
    doc: "added to the numerator",
};
const SMOOTH_DR: ParamSpec = ParamSpec {
    name: "smooth_dr",
    kind: ParamKind::Float {
        default: 1e-5,
        range: Range::NON_NEGATIVE,
    },
    doc: "added to the denominator",
};
const SQUARED: ParamSpec = ParamSpec {
    name: "squared",
    kind: ParamKind::Bool { default: false },
    doc: "ΣP² and ΣG² in the denominator (MONAI's squared_pred)",
};
const ALPHA: ParamSpec = ParamSpec {
    name: "alpha",
    kind: ParamKind::Float {
        default: 0.5,
        range: Range::NON_NEGATIVE,
    },
    doc: "the weight of the false positives Σ P(1 − G)",
};
const BETA: ParamSpec = ParamSpec {
    name: "beta",
    kind: ParamKind::Float {
        default: 0.5,
        range: Range::NON_NEGATIVE,
    },
    doc: "the weight of the false negatives Σ (1 − P)G",
};
const GAMMA: ParamSpec = ParamSpec {
    name: "gamma",
    kind: ParamKind::Float {
        default: 0.75,
        range: Range::POSITIVE,
    },
    doc: "the exponent of each class's Tversky loss",
};
const PER_IMAGE: ParamSpec = ParamSpec {
    name: "per_image",
    kind: ParamKind::Bool { default: false },
    doc: "true: one loss per image, then averaged; false: one loss over the whole batch",
};
const fn lambda(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Float {
            default: 1.0,
            range: Range::NON_NEGATIVE,
        },
        doc,
    }
}

const COMMON_PITFALLS: &[&str] = &[
    "the default activation is softmax (logits in); pass `activation=none` for probabilities, `sigmoid` for multi-label masks (MONAI's default is no activation)",
    "`batch=false` averages per-image ratios: a tiny object weighs as much as a large one; `batch=true` pools the batch, so the loss depends on what else is in it",
    "with both masks empty the ratio is smooth_nr/smooth_dr: keep them equal so an empty, correctly empty image costs 0",
    "`include_background=false` with softmax still normalises over every class, then drops class 0",
];

fn act<T: Real>(c: &Call<'_, T>) -> Activation {
    Activation::from_word(c.params.word("activation"))
}

/// Runs `f` on the call's inputs: `input`, then the target as a mask (floats, or integers of
/// `input`'s shape) or as class indices (integers of the index shape), and `distance`.
fn with_inputs<T: Real>(
    c: &Call<'_, T>,
    f: impl FnOnce(SegInputs<'_, T>) -> Result<()>,
) -> Result<()> {
    let input = c.float_req("input")?;
    let dist = c.float("distance");
    let owned: Vec<T>;
    let mut inputs = if let Some(y) = c.index("target") {
        if y.dims() == input.dims() {
            owned = y.data().iter().map(|&v| T::from_f64(v as f64)).collect();
            SegInputs::mask(input, Tensor::new(&owned, y.dims())?)
        } else {
            SegInputs::indices(input, y)
        }
    } else if let Some(t) = c.float("target") {
        if t.dims().len() + 1 == input.dims().len() {
            return Err(Error::Dtype {
                loss: c.loss,
                arg: "target",
                actual: "float",
                expected: "an integer type for class indices `[N, *spatial]` (a float target is a 0/1 mask of `input`'s shape)",
            });
        }
        SegInputs::mask(input, t)
    } else if let Some(d) = dist {
        SegInputs::distance_maps(input, d)
    } else {
        return Err(Error::MissingInput {
            loss: c.loss,
            name: "target",
        });
    };
    if let (Some(d), Some(_)) = (dist, inputs.target()) {
        inputs = inputs.distance(d);
    }
    f(inputs)
}

macro_rules! overlap_eval {
    ($f:ident, $build:expr) => {
        fn $f<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
            #[allow(clippy::redundant_closure_call)]
            let loss = ($build)(c)?;
            with_inputs(c, |inputs| {
                let shape = loss.per_element_shape(inputs.input().dims())?;
                // Coupled under softmax (the classes mix), with `batch` (one value per class
                // over every sample) and for generalized Dice (one value per sample over every
                // class): the kernel weighs each value's backward contribution.
                dispatch(
                    c,
                    out,
                    &shape,
                    Vjp::Coupled(&|u, g| loss.vjp(&inputs, u, g)),
                    |r| loss.value(&inputs, r),
                    |r, g| loss.value_and_grad(&inputs, r, g),
                    |o| loss.per_element(&inputs, o),
                )
            })
        }
    };
}

/// The shared parameters of the overlap losses, set on `$l` from the call `$c`.
macro_rules! shared {
    ($l:expr, $c:expr) => {{
        let p = $c.params;
        $l.activation(act($c))
            .include_background(p.bool("include_background"))
            .batch(p.bool("batch"))
            .smooth_nr(p.float("smooth_nr"))?
            .smooth_dr(p.float("smooth_dr"))?
    }};
}

overlap_eval!(eval_dice, |c: &Call<'_, T>| -> Result<Dice> {
    Ok(shared!(Dice::default(), c).squared(c.params.bool("squared")))
});
overlap_eval!(eval_jaccard, |c: &Call<'_, T>| -> Result<Jaccard> {
    Ok(shared!(Jaccard::default(), c).squared(c.params.bool("squared")))
});
overlap_eval!(eval_tversky, |c: &Call<'_, T>| -> Result<Tversky> {
    let p = c.params;
    shared!(Tversky::default(), c)
        .alpha(p.float("alpha"))?
        .beta(p.float("beta"))
});
overlap_eval!(
    eval_focal_tversky,
    |c: &Call<'_, T>| -> Result<FocalTversky> {
        let p = c.params;
        shared!(FocalTversky::default(), c)
            .alpha(p.float("alpha"))?
            .beta(p.float("beta"))?
            .gamma(p.float("gamma"))
    }
);
overlap_eval!(
    eval_generalized_dice,
    |c: &Call<'_, T>| -> Result<GeneralizedDice> { Ok(shared!(GeneralizedDice::default(), c)) }
);

/// Evaluators of the cross-entropy plus Dice losses. Their `none` values, [N, C'] ([C'] with
/// `batch`), each hold the sample's mean cross-entropy: their sum is not the `sum`
/// reduction, so the gradient under `none` is always the loss's own VJP (all-ones cotangent
/// when none is given), never `value_and_grad(Sum)`.
macro_rules! combo_eval {
    ($f:ident, $build:expr) => {
        fn $f<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
            #[allow(clippy::redundant_closure_call)]
            let loss = ($build)(c)?;
            with_inputs(c, |inputs| {
                let shape = loss.per_element_shape(inputs.input().dims())?;
                if c.reduction().is_some() {
                    return dispatch(
                        c,
                        out,
                        &shape,
                        Vjp::Coupled(&|u, g| loss.vjp(&inputs, Some(u), g)),
                        |r| loss.value(&inputs, r),
                        |r, g| loss.value_and_grad(&inputs, r, g),
                        |o| loss.per_element(&inputs, o),
                    );
                }
                out.shape = shape.clone();
                let u = out.cotangent(c.loss, &shape)?;
                let mut losses = vec![T::ZERO; shape.iter().product()];
                loss.per_element(&inputs, &mut losses)?;
                if let Some(g) = out.grad("input") {
                    loss.vjp(&inputs, u, g)?;
                }
                out.per_element = Some(losses);
                Ok(())
            })
        }
    };
}

combo_eval!(eval_bce_dice, |c: &Call<'_, T>| -> Result<BceDice> {
    let p = c.params;
    BceDice::default()
        .include_background(p.bool("include_background"))
        .batch(p.bool("batch"))
        .squared(p.bool("squared"))
        .smooth_nr(p.float("smooth_nr"))?
        .smooth_dr(p.float("smooth_dr"))?
        .bce_weight(p.float("bce_weight"))?
        .dice_weight(p.float("dice_weight"))
});
combo_eval!(eval_ce_dice, |c: &Call<'_, T>| -> Result<CeDice> {
    let p = c.params;
    CeDice::default()
        .include_background(p.bool("include_background"))
        .batch(p.bool("batch"))
        .squared(p.bool("squared"))
        .smooth_nr(p.float("smooth_nr"))?
        .smooth_dr(p.float("smooth_dr"))?
        .ce_weight(p.float("ce_weight"))?
        .dice_weight(p.float("dice_weight"))
});

fn eval_dice_focal<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = c.params;
    let loss = shared!(DiceFocal::default(), c)
        .squared(p.bool("squared"))
        .gamma(p.float("gamma"))?
        .lambda_dice(p.float("lambda_dice"))?
        .lambda_focal(p.float("lambda_focal"))?;
    with_inputs(c, |inputs| {
        // `mean` only (the catalogue lists no other reduction, so `none` never reaches here).
        dispatch(
            c,
            out,
            &[],
            Vjp::Separable(Kept::NONE),
            |_| loss.value(&inputs),
            |_, g| loss.value_and_grad(&inputs, g),
            |_| {
                Err(Error::UnsupportedReduction {
                    loss: c.loss,
                    reduction: "none".to_owned(),
                    supported: vec!["mean"],
                })
            },
        )
    })
}

fn eval_boundary<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = Boundary::default()
        .activation(act(c))
        .include_background(c.params.bool("include_background"));
    with_inputs(c, |inputs| {
        let lay = layout(c.loss, &inputs.input())?;
        let shape = [
            lay.n,
            lay.c - first_class(c.params.bool("include_background"), lay.c),
        ];
        // Coupled under softmax: weighed in the kernel, per (sample, class) row.
        dispatch(
            c,
            out,
            &shape,
            Vjp::Coupled(&|u, g| loss.vjp(&inputs, u, g)),
            |r| loss.value(&inputs, r),
            |r, g| loss.value_and_grad(&inputs, r, g),
            |o| loss.per_element(&inputs, o),
        )
    })
}

fn eval_hausdorff_dt<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = c.params;
    let loss = HausdorffDt::default()
        .activation(act(c))
        .include_background(p.bool("include_background"))
        .batch(p.bool("batch"))
        .alpha(p.float("alpha"))?;
    with_inputs(c, |inputs| {
        let shape = loss.per_element_shape(inputs.input().dims())?;
        // Coupled under softmax and with `batch`: weighed in the kernel, per value.
        dispatch(
            c,
            out,
            &shape,
            Vjp::Coupled(&|u, g| loss.vjp(&inputs, u, g)),
            |r| loss.value(&inputs, r),
            |r, g| loss.value_and_grad(&inputs, r, g),
            |o| loss.per_element(&inputs, o),
        )
    })
}

fn eval_soft_cldice<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let iterations = c.params.int("iterations");
    let iterations = usize::try_from(iterations).map_err(|_| Error::InvalidParam {
        loss: c.loss,
        param: "iterations",
        value: iterations as f64,
        expected: ">= 0",
    })?;
    let loss = SoftClDice::new(iterations, c.params.float("smooth"))?;
    with_inputs(c, |inputs| {
        let n = inputs.input().dims().first().copied().unwrap_or(0);
        // One value per sample: each sample's gradient is its own (Kept: the batch axis).
        dispatch(
            c,
            out,
            &[n],
            Vjp::Separable(Kept::ROWS),
            |r| loss.value(&inputs, r),
            |r, g| loss.value_and_grad(&inputs, r, g),
            |o| loss.per_element(&inputs, o),
        )
    })
}

fn eval_generalized_wasserstein_dice<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let input = c.float_req("input")?;
    let m = c.float("dist_matrix").ok_or(Error::MissingInput {
        loss: c.loss,
        name: "dist_matrix",
    })?;
    let classes = input.dims().get(1).copied().unwrap_or(0);
    if m.dims() != [classes, classes] {
        return Err(Error::ShapeMismatch {
            loss: c.loss,
            arg: "dist_matrix",
            actual: m.dims().to_vec(),
            expected: vec![classes, classes],
            because: "one distance per pair of `input`'s classes",
        });
    }
    let dist: Vec<f64> = m.data().iter().map(|v| v.to_f64()).collect();
    let mode = match c.params.word("weighting_mode") {
        "GDL" => WassersteinWeighting::Gdl,
        _ => WassersteinWeighting::Default,
    };
    let loss = GeneralizedWassersteinDice::new(&dist, classes, mode)?;
    let input = c.float_req("input")?;
    let Some(y) = c.index("target") else {
        return Err(Error::MissingInput {
            loss: c.loss,
            name: "target",
        });
    };
    let inputs = SegInputs::indices(input, y);
    let n = input.dims().first().copied().unwrap_or(0);
    dispatch(
        c,
        out,
        &[n],
        Vjp::Separable(Kept::ROWS),
        |r| loss.value(&inputs, r),
        |r, g| loss.value_and_grad(&inputs, r, g),
        |o| loss.per_element(&inputs, o),
    )
}

macro_rules! lovasz_eval {
    ($f:ident, $ty:ident) => {
        fn $f<T: Real>(c: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
            let per_image = c.params.bool("per_image");
            let loss = $ty::default().per_image(per_image);
            with_inputs(c, |inputs| {
                let lay = layout(c.loss, &inputs.input())?;
                let shape = [if per_image { lay.n } else { 1 }];
                // One loss per image (its softmax stays inside the image), or one in all.
                let kept = if per_image { Kept::ROWS } else { Kept::NONE };
                dispatch(
                    c,
                    out,
                    &shape,
                    Vjp::Separable(kept),
                    |r| loss.value(&inputs, r),
                    |r, g| loss.value_and_grad(&inputs, r, g),
                    |o| loss.per_element(&inputs, o),
                )
            })
        }
    };
}
lovasz_eval!(eval_lovasz_hinge, LovaszHinge);
lovasz_eval!(eval_lovasz_softmax, LovaszSoftmax);

/// `[2, 3, h, h]` normal logits (about `size` elements) and class indices `[2, h, h]`.
fn sample_classes(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (2, 3);
    let h = ((size / (n * c)) as f64).sqrt().max(1.0) as usize;
    Sample::new()
        .float("input", &[n, c, h, h], rng.normals(n * c * h * h, 2.0))
        .index("target", &[n, h, h], rng.classes(n * h * h, c))
}

/// `[2, 2, h, h]` probabilities (a softmax over the two classes) and a one-hot mask.
fn sample_probabilities(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (2, 2);
    let h = ((size / (n * c)) as f64).sqrt().max(1.0) as usize;
    let m = n * h * h;
    let z = rng.normals(m, 2.0);
    let y = rng.classes(m, c);
    let mut p = vec![0.0; n * c * h * h];
    let mut g = vec![0.0; n * c * h * h];
    for i in 0..n {
        for q in 0..h * h {
            let s = 1.0 / (1.0 + (-z[i * h * h + q]).exp());
            p[(i * c) * h * h + q] = 1.0 - s;
            p[(i * c + 1) * h * h + q] = s;
            g[(i * c + y[i * h * h + q] as usize) * h * h + q] = 1.0;
        }
    }
    Sample::new()
        .float("input", &[n, c, h, h], p)
        .float("target", &[n, c, h, h], g)
}

/// [`sample_classes`] and a 3×3 distance matrix (the background far from two close classes).
fn sample_wasserstein(size: usize, rng: &mut Rng) -> Sample {
    sample_classes(size, rng).float(
        "dist_matrix",
        &[3, 3],
        vec![0.0, 1.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.5, 0.0],
    )
}

/// `[2, 1, h, h]` normal logits and a 0/1 mask of the same shape.
fn sample_binary(size: usize, rng: &mut Rng) -> Sample {
    let n = 2;
    let h = ((size / n) as f64).sqrt().max(1.0) as usize;
    let m = n * h * h;
    let mask = rng.classes(m, 2).into_iter().map(|v| v as f64).collect();
    Sample::new()
        .float("input", &[n, 1, h, h], rng.normals(m, 2.0))
        .float("target", &[n, 1, h, h], mask)
}

const OVERLAP_GRADIENT: &str =
    "∂ℓ/∂P = (ratio·b − G·a')/den per class (see the type's docs), then through the activation: \
     P(1 − P) for sigmoid, P_k(d_k − Σ_j P_j d_j) for softmax";

const DICE: LossInfo = LossInfo {
    name: "dice",
    family: Family::Segmentation,
    summary: "soft Dice: 1 − smoothed Dice coefficient per sample and class, averaged",
    inputs: INPUTS,
    params: &[ACTIVATION, INCLUDE_BACKGROUND, BATCH, SMOOTH_NR, SMOOTH_DR, SQUARED],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = 1 − (2ΣPG + smooth_nr)/(ΣP + ΣG + smooth_dr) (ΣP², ΣG² with squared); none gives [N, C'] ([C'] with batch)",
    gradient: OVERLAP_GRADIENT,
    when_to_use: "foreground/background imbalance in segmentation; usually summed with cross-entropy (ce_dice, bce_dice)",
    pitfalls: COMMON_PITFALLS,
    reference: "Milletari et al. 2016 (V-Net); MONAI DiceLoss",
    eval: evaluator!(eval_dice),
    sample: sample_classes,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const JACCARD: LossInfo = LossInfo {
    name: "jaccard",
    family: Family::Segmentation,
    summary: "soft Jaccard (IoU) loss, MONAI's smoothing",
    inputs: INPUTS,
    params: &[
        ACTIVATION,
        INCLUDE_BACKGROUND,
        BATCH,
        SMOOTH_NR,
        SMOOTH_DR,
        SQUARED,
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = 1 − (2ΣPG + smooth_nr)/(2(ΣP + ΣG − ΣPG) + smooth_dr)",
    gradient: OVERLAP_GRADIENT,
    when_to_use: "when the metric is IoU; otherwise as dice",
    pitfalls: COMMON_PITFALLS,
    reference: "MONAI DiceLoss(jaccard=True); without smoothing smp JaccardLoss",
    eval: evaluator!(eval_jaccard),
    sample: sample_classes,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const TVERSKY: LossInfo = LossInfo {
    name: "tversky",
    family: Family::Segmentation,
    summary: "Tversky loss: Dice with separate false-positive (alpha) and false-negative (beta) weights",
    inputs: INPUTS,
    params: &[ACTIVATION, INCLUDE_BACKGROUND, BATCH, SMOOTH_NR, SMOOTH_DR, ALPHA, BETA],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = 1 − (ΣPG + smooth_nr)/(ΣPG + α·ΣP(1−G) + β·Σ(1−P)G + smooth_dr)",
    gradient: OVERLAP_GRADIENT,
    when_to_use: "small structures where a miss costs more than a false alarm: beta > alpha raises recall",
    pitfalls: &[
        "alpha weighs false positives, beta false negatives (Keras and Flux had them swapped for years)",
        "alpha = beta = 0.5 is dice",
        "the default activation is softmax (logits in); MONAI's is none",
    ],
    reference: "Salehi et al. 2017; MONAI TverskyLoss",
    eval: evaluator!(eval_tversky),
    sample: sample_classes,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const FOCAL_TVERSKY: LossInfo = LossInfo {
    name: "focal_tversky",
    family: Family::Segmentation,
    summary: "each class's Tversky loss raised to gamma, then averaged",
    inputs: INPUTS,
    params: &[ACTIVATION, INCLUDE_BACKGROUND, BATCH, SMOOTH_NR, SMOOTH_DR, ALPHA, BETA, GAMMA],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = tversky_nc^γ",
    gradient: "γ·t^(γ−1)·∂t/∂P (0 at t = 0), through the activation",
    when_to_use: "tversky with more emphasis on the poorly segmented classes (γ < 1)",
    pitfalls: &[
        "γ applies per sample and class here (Abraham & Khan); smp's TverskyLoss(gamma) raises the class mean",
        "the default activation is softmax (logits in)",
    ],
    reference: "Abraham & Khan 2019; per-class values from MONAI TverskyLoss(reduction='none')",
    eval: evaluator!(eval_focal_tversky),
    sample: sample_classes,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const GENERALIZED_DICE: LossInfo = LossInfo {
    name: "generalized_dice",
    family: Family::Segmentation,
    summary: "one Dice ratio over all classes, each weighted by 1/(its target volume)²",
    inputs: INPUTS,
    params: &[ACTIVATION, INCLUDE_BACKGROUND, BATCH, SMOOTH_NR, SMOOTH_DR],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_n = 1 − (2Σ_c w_c ΣPG + smooth_nr)/(Σ_c w_c(ΣP + ΣG) + smooth_dr), w_c = 1/(ΣG_c)²; \
              an absent class takes the largest finite weight of the sample (of the batch with batch), 0 if all are absent; none gives [N] ([1] with batch)",
    gradient: "w_c·(ratio − 2G)/den per class, through the activation",
    when_to_use: "many classes of very different sizes",
    pitfalls: &[
        "absent classes would have infinite weight: MONAI's rule (largest finite weight) is applied, keras-style 1/0 is not",
        "MONAI rounds the weights to float32 even in float64",
    ],
    reference: "Sudre et al. 2017; MONAI GeneralizedDiceLoss(w_type='square')",
    eval: evaluator!(eval_generalized_dice),
    sample: sample_classes,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const GENERALIZED_WASSERSTEIN_DICE: LossInfo = LossInfo {
    name: "generalized_wasserstein_dice",
    family: Family::Segmentation,
    summary: "Dice in which a wrong class costs its distance to the right one (Fidon et al.), for related classes",
    inputs: &[
        InputSpec {
            shape: "logits `[N, C, *spatial]` (softmax inside)",
            ..INPUT
        },
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::Index,
            required: true,
            shape: "class indices `[N, *spatial]`",
        },
        InputSpec {
            name: "dist_matrix",
            role: Role::Target,
            kind: InputKind::Float,
            required: true,
            shape: "`[C, C]` distances between the classes (row: the true class), non-negative, divided by its maximum",
        },
    ],
    params: &[ParamSpec {
        name: "weighting_mode",
        kind: ParamKind::Choice {
            default: "default",
            options: &["default", "GDL"],
        },
        doc: "default: the background weighs 0, the other classes 1; GDL: class c weighs 1/(its volume + 1)",
    }],
    reductions: STANDARD_REDUCTIONS,
    formula: "W_p = Σ_c M[y_p, c]·softmax(x)_cp, TP = Σ_p α_{y_p}(1 − W_p), ℓ_n = 1 − (2TP + 1e-5)/(D + 1e-5), D = 2TP + Σ W (default) or Σ α(2 − W) (GDL); none gives [N]",
    gradient: "∂ℓ/∂W_p = (2α·D + num·∂D)/D², times M[y_p, c], through the softmax",
    when_to_use: "multi-class segmentation whose classes are related (nested tumour regions, ordered grades): near misses cost less",
    pitfalls: &[
        "the matrix is divided by its maximum (as MONAI): only the ratios of the distances matter",
        "default weighting gives the background no weight in the true positives",
    ],
    reference: "Fidon et al. 2017; MONAI GeneralizedWassersteinDiceLoss",
    eval: evaluator!(eval_generalized_wasserstein_dice),
    sample: sample_wasserstein,
    plot: None,
    kinks: Kinks::Smooth,
    nan: NanRule {
        refused: &[("dist_matrix", "finite distances >= 0")],
        ..NanRule::PROPAGATES
    },
    hessian: None,
};

const BCE_DICE: LossInfo = LossInfo {
    name: "bce_dice",
    family: Family::Segmentation,
    summary: "binary cross-entropy on logits plus the Dice loss of their sigmoid",
    inputs: INPUTS,
    params: &[
        INCLUDE_BACKGROUND,
        BATCH,
        SMOOTH_NR,
        SMOOTH_DR,
        SQUARED,
        lambda("bce_weight", "the weight of the cross-entropy term"),
        lambda("dice_weight", "the weight of the Dice term"),
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "bce_weight·bce_with_logits(x, G) (mean over every element) + dice_weight·dice(sigmoid(x), G) (mean over [N, C']); none gives [N, C'] ([C'] with batch), entry dice_weight·dice[n, c] + bce_weight·(sample n's mean BCE; the batch's with batch), whose mean is the mean",
    gradient: "bce_weight·(σ(x) − G)/M + dice_weight·∂dice/∂x; under none the BCE gradient of sample n is scaled by Σ_c u[n, c]/(C·S)",
    when_to_use: "binary or multi-label masks: the cross-entropy gives smooth early gradients, Dice handles the imbalance",
    pitfalls: &[
        "multi-label: the cross-entropy stays binary per channel (MONAI's DiceCELoss(sigmoid=True) switches to softmax CE when C > 1)",
    ],
    reference: "MONAI DiceCELoss(sigmoid=True) (one channel)",
    eval: evaluator!(eval_bce_dice),
    sample: sample_binary,
    plot: Some(OVERLAP_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule { refused: &[("target", "a 0/1 mask")], ..NanRule::PROPAGATES },
    hessian: None,
};

const CE_DICE: LossInfo = LossInfo {
    name: "ce_dice",
    family: Family::Segmentation,
    summary: "softmax cross-entropy plus the Dice loss of the softmax (nnU-Net's default)",
    inputs: INPUTS,
    params: &[
        INCLUDE_BACKGROUND,
        BATCH,
        SMOOTH_NR,
        SMOOTH_DR,
        SQUARED,
        lambda("ce_weight", "the weight of the cross-entropy term"),
        lambda("dice_weight", "the weight of the Dice term"),
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ce_weight·cross_entropy(x, y) + dice_weight·dice(softmax(x), G); none gives [N, C'] ([C'] with batch), entry dice_weight·dice[n, c] + ce_weight·(sample n's mean CE over its positions; the batch's with batch), whose mean is the mean",
    gradient: "ce_weight·(softmax(x) − G)/M + dice_weight·∂dice/∂x; under none the CE gradient of sample n is scaled by Σ_c u[n, c]/S",
    when_to_use: "one class per position (semantic segmentation)",
    pitfalls: &[
        "include_background=false drops class 0 from the Dice term only; the cross-entropy keeps every class (as MONAI)",
    ],
    reference: "MONAI DiceCELoss(softmax=True, to_onehot_y=True)",
    eval: evaluator!(eval_ce_dice),
    sample: sample_classes,
    plot: None,
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const DICE_FOCAL: LossInfo = LossInfo {
    name: "dice_focal",
    family: Family::Segmentation,
    summary: "Dice loss plus the sigmoid focal loss of the logits (MONAI DiceFocalLoss)",
    inputs: INPUTS,
    params: &[
        ACTIVATION,
        INCLUDE_BACKGROUND,
        BATCH,
        SMOOTH_NR,
        SMOOTH_DR,
        SQUARED,
        ParamSpec {
            name: "gamma",
            kind: ParamKind::Float {
                default: 2.0,
                range: Range::NON_NEGATIVE,
            },
            doc: "the focal term's focusing exponent",
        },
        lambda("lambda_dice", "the weight of the Dice term"),
        lambda("lambda_focal", "the weight of the focal term"),
    ],
    reductions: &[ReductionMode::Mean],
    formula: "lambda_dice·dice(act(x), G) (mean over [N, C']) + lambda_focal·mean over [N, C', *spatial] of σ(−z)^γ·(−ln σ(z)), z = (2G − 1)·x: the sigmoid focal loss whatever the Dice activation (MONAI 1.6.1)",
    gradient: "lambda_focal·(−s·σ(−z)^γ·(σ(−z) + γ·σ(z)·BCE))/M, s = 2G − 1, + lambda_dice·∂dice/∂x",
    when_to_use: "heavily imbalanced masks where the pixel-wise term should concentrate on the hard pixels",
    pitfalls: &[
        "the focal term is sigmoid (per channel) also when the Dice term uses softmax, as MONAI's DiceFocalLoss",
        "include_background=false drops channel 0 from both terms (as MONAI)",
        "mean only: MONAI defines no per-element output of the sum",
    ],
    reference: "MONAI DiceFocalLoss (1.6.1); Lin et al. 2017",
    eval: evaluator!(eval_dice_focal),
    sample: sample_classes,
    plot: None,
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const BOUNDARY: LossInfo = LossInfo {
    name: "boundary",
    family: Family::Segmentation,
    summary: "probabilities times the signed distance to the target's boundary (Kervadec et al.)",
    inputs: &[
        INPUT,
        InputSpec {
            required: false,
            ..TARGET
        },
        InputSpec {
            name: "distance",
            role: Role::Target,
            kind: InputKind::Float,
            required: false,
            shape: "precomputed signed distance maps of `input`'s shape (`losskit edt --signed`); used instead of computing them from `target`",
        },
    ],
    params: &[
        ACTIVATION,
        ParamSpec {
            name: "include_background",
            kind: ParamKind::Bool { default: false },
            doc: "whether class 0 counts (the paper leaves it out)",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = mean over positions of P·φ_G, φ = edt(outside) outside the object, −(edt(inside) − 1) inside, 0 for an absent class; mean over N, C' (none gives [N, C'])",
    gradient: "∂ℓ/∂P = φ/S, through the activation",
    when_to_use: "highly unbalanced segmentation (small lesions), added to dice with a weight that grows during training",
    pitfalls: &[
        "the loss is negative when the mass sits inside the objects: use it with a regional loss, not alone",
        "computing distance maps at every step is slow: precompute them (`distance` input, `losskit edt --signed`) in the data loader",
        "maps computed inside use unit spacing; precompute them with `--spacing` for anisotropic voxels",
    ],
    reference: "Kervadec et al. 2019, reference code one_hot2dist with scipy distance_transform_edt",
    eval: evaluator!(eval_boundary),
    sample: sample_classes,
    plot: None,
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const HAUSDORFF_DT: LossInfo = LossInfo {
    name: "hausdorff_dt",
    family: Family::Segmentation,
    summary: "squared errors weighted by the distances to the predicted and target boundaries (Karimi & Salcudean)",
    inputs: INPUTS,
    params: &[
        ParamSpec {
            name: "alpha",
            kind: ParamKind::Float {
                default: 2.0,
                range: Range::NON_NEGATIVE,
            },
            doc: "the exponent of the distances",
        },
        ACTIVATION,
        ParamSpec {
            name: "include_background",
            kind: ParamKind::Bool { default: false },
            doc: "whether class 0 counts (MONAI leaves it out by default)",
        },
        BATCH,
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_nc = mean over positions of (P − G)²·(d_P^α + d_G^α), d_M the exact Euclidean distance of each position to the other side of the mask M (0 for an empty or full mask), P thresholded at 0.5 for d_P; none gives [N, C'] ([C'] with batch)",
    gradient: "2(P − G)(d_P^α + d_G^α)/S, through the activation; the distance maps are constants (as MONAI, computed under no_grad)",
    when_to_use: "when the boundary error (Hausdorff distance) matters more than the overlap: added to dice late in training",
    pitfalls: &[
        "the loss jumps where a probability crosses 0.5 (the prediction's distance map changes); its gradient treats the maps as constants",
        "the distance transforms run at every call (two per sample and class): slower than dice",
        "include_background defaults to false here, as MONAI (dice's default is true)",
        "unit spacing",
    ],
    reference: "Karimi & Salcudean 2019; MONAI HausdorffDTLoss",
    eval: evaluator!(eval_hausdorff_dt),
    sample: sample_classes,
    plot: None,
    kinks: Kinks::Described("where a probability crosses 0.5: the prediction's distance map changes there and the loss jumps"),
    nan: NanRule::PROPAGATES,
    hessian: None,
};

const SOFT_CLDICE: LossInfo = LossInfo {
    name: "soft_cldice",
    family: Family::Segmentation,
    summary: "soft clDice: the harmonic mean of the skeletons' topology precision and sensitivity (thin structures)",
    inputs: &[
        InputSpec {
            shape: "probabilities `[N, C, *spatial]`, 2 or 3 spatial dimensions",
            ..INPUT
        },
        InputSpec {
            shape: "a 0/1 mask of `input`'s shape (one-hot), or class indices `[N, *spatial]`",
            ..TARGET
        },
    ],
    params: &[
        ParamSpec {
            name: "iterations",
            kind: ParamKind::Int {
                default: 3,
                range: Range::NON_NEGATIVE,
            },
            doc: "rounds of the soft skeleton (MONAI's iter_)",
        },
        ParamSpec {
            name: "smooth",
            kind: ParamKind::Float {
                default: 1.0,
                range: Range::NON_NEGATIVE,
            },
            doc: "added to the numerators and denominators of T_prec and T_sens (MONAI's smooth_nr and smooth_dr)",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ_n = 1 − 2·T_prec·T_sens/(T_prec + T_sens + 1e-4), T_prec = (ΣS(P)·G + s)/(ΣS(P) + s), T_sens = (ΣS(G)·P + s)/(ΣS(G) + s), sums over channels and positions, S the soft skeleton (min/max pooling); none gives [N]",
    gradient: "through the skeleton: each ReLU (0 at 0) and each pooling to its selected element (the first extreme in row-major order, as PyTorch's max_pool; an even split between equal per-axis minima, as torch.min)",
    when_to_use: "tubular and thin structures (vessels, roads, neurons) where connectivity matters; usually added to dice",
    pitfalls: &[
        "input is probabilities (no activation inside): apply softmax or sigmoid first",
        "every channel counts, the background too: pass the foreground channels only to leave it out",
        "the soft skeleton of a thick blob is small: on thick objects the loss says little",
    ],
    reference: "Shit et al. 2021 (clDice); MONAI SoftclDiceLoss",
    eval: evaluator!(eval_soft_cldice),
    sample: sample_probabilities,
    plot: None,
    kinks: Kinks::Described("where a pooling's selected element changes (ties) or a ReLU of the skeleton crosses 0"),
    nan: NanRule { refused: &[("target", "a 0/1 mask")], ..NanRule::PROPAGATES },
    hessian: None,
};

const LOVASZ_HINGE: LossInfo = LossInfo {
    name: "lovasz_hinge",
    family: Family::Segmentation,
    summary: "binary Lovász hinge: the Lovász extension of the Jaccard loss on hinge errors of logits",
    inputs: &[
        InputSpec {
            shape: "logits `[N, 1, *spatial]`",
            ..INPUT
        },
        InputSpec {
            shape: "a 0/1 mask of `input`'s shape",
            ..TARGET
        },
    ],
    params: &[PER_IMAGE],
    reductions: STANDARD_REDUCTIONS,
    formula: "e = 1 − x·(2g − 1) sorted decreasing, ℓ = Σ_k relu(e_k)·(J_k − J_{k−1}), J_k the Jaccard loss of the first k errors; none gives [N] with per_image, [1] without",
    gradient: "−(2g − 1)·(J_k − J_{k−1}) where e > 0 (ties ordered by position)",
    when_to_use: "optimising IoU of a binary mask directly, typically to fine-tune after BCE",
    pitfalls: &[
        "per_image=false pools the batch into one ranking",
        "the gradient at tied errors depends on their order: losskit orders them by position",
    ],
    reference: "Berman et al. 2018; segmentation-models-pytorch LovaszLoss('binary')",
    eval: evaluator!(eval_lovasz_hinge),
    sample: sample_binary,
    plot: None,
    kinks: Kinks::Described("where the order of the errors changes, and at the hinge"),
    nan: NanRule { refused: &[("target", "a 0/1 mask")], ..NanRule::PROPAGATES },
    hessian: None,
};

const LOVASZ_SOFTMAX: LossInfo = LossInfo {
    name: "lovasz_softmax",
    family: Family::Segmentation,
    summary: "multiclass Lovász-softmax: the Lovász extension of each present class's Jaccard loss",
    inputs: INPUTS,
    params: &[PER_IMAGE],
    reductions: STANDARD_REDUCTIONS,
    formula: "for each class c present in the target: e = |[y = c] − softmax(x)_c| sorted decreasing, ℓ_c = Σ_k e_k·(J_k − J_{k−1}); mean over the present classes",
    gradient: "sign(P − [y = c])·(J_k − J_{k−1}) / #present, through the softmax",
    when_to_use: "optimising mean IoU directly in semantic segmentation",
    pitfalls: &[
        "classes absent from the target are skipped (smp's classes='present')",
        "per_image=false pools the batch into one ranking per class",
    ],
    reference: "Berman et al. 2018; segmentation-models-pytorch LovaszLoss('multiclass')",
    eval: evaluator!(eval_lovasz_softmax),
    sample: sample_classes,
    plot: None,
    kinks: Kinks::Described("where the order of the errors changes"),
    nan: NanRule::PROPAGATES,
    hessian: None,
};

/// Two classes (the object first, the background second) so the default softmax activation
/// has the two classes it needs: logit x on the object's pixels, −x on the background.
const OVERLAP_PLOT: Plot = Plot {
    axis: PlotAxis::OVERLAP,
    at: |x| {
        Sample::new()
            .float("input", &[1, 2, 4], vec![x, x, -x, -x, -x, -x, x, x])
            .float(
                "target",
                &[1, 2, 4],
                vec![1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0],
            )
    },
};
