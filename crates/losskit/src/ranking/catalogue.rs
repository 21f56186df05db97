//! The ranking family's catalogue entries.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, Plot, PlotAxis, Role,
    STANDARD_REDUCTIONS,
};
use crate::evaluator;
use crate::sample::{Rng, Sample};

use super::bpr::eval_bpr;
use super::list::{eval_listmle, eval_listnet};

const LIST: &[InputSpec] = &[
    InputSpec {
        name: "input",
        role: Role::Prediction,
        kind: InputKind::Float,
        required: true,
        shape: "[N, L]: one list of L item scores per row",
    },
    InputSpec {
        name: "target",
        role: Role::Target,
        kind: InputKind::Float,
        required: true,
        shape: "same as `input`: each item's graded relevance",
    },
    InputSpec {
        name: "mask",
        role: Role::Weight,
        kind: InputKind::Index,
        required: false,
        shape: "[N, L] bool (or 0/1): false marks a padded item of a shorter list",
    },
];

/// Items per generated list.
const L: usize = 8;

/// Lists of normal scores and graded relevance 0..=4 (ties included, as in real data).
fn sample_lists(size: usize, rng: &mut Rng) -> Sample {
    let n = (size / L).max(1);
    let rel = (0..n * L).map(|_| rng.below(5) as f64).collect();
    Sample::new()
        .float("input", &[n, L], rng.normals(n * L, 1.0))
        .float("target", &[n, L], rel)
}

fn sample_pairs(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("positive", &[n], rng.normals(n, 1.0))
        .float("negative", &[n], rng.normals(n, 1.0))
}

const LIST_PLOT: Plot = Plot {
    axis: PlotAxis {
        label: "score of the most relevant item (relevance 2, 1, 0; other scores 0)",
        range: (-4.0, 4.0),
    },
    at: |x| {
        Sample::new()
            .float("input", &[1, 3], vec![x, 0.0, 0.0])
            .float("target", &[1, 3], vec![2.0, 1.0, 0.0])
    },
};

const PAIR_PLOT: Plot = Plot {
    axis: PlotAxis {
        label: "score difference positive − negative",
        range: (-4.0, 4.0),
    },
    at: |x| {
        Sample::new()
            .float("positive", &[1], vec![x])
            .float("negative", &[1], vec![0.0])
    },
};

const MASKED: &str = "pad ragged lists and pass `mask`: a padded item scored like a real one takes probability from the list; a list with every item masked adds 0 and is not counted by `mean` (optax's convention)";

pub(crate) const CATALOGUE: &[LossInfo] = &[
    LossInfo {
        name: "listnet",
        family: Family::Ranking,
        summary: "listwise softmax cross-entropy: the scores' distribution over each list towards the relevance's",
        inputs: LIST,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = −Σ_j softmax(target)_j · log softmax(input)_j over the list's unmasked items",
        gradient: "∂ℓ/∂input_j = softmax(input)_j − softmax(target)_j (0 at masked items)",
        when_to_use: "learning to rank with graded relevance (search, recommendation lists): a smooth listwise loss that trains the top of each list",
        pitfalls: &[
            "the relevance goes through a softmax: its scale matters (relevance 0..4 and 0..40 are different targets); rescale it, or pass log-probabilities if you have them",
            MASKED,
            "`mean` averages over lists, not items: long lists weigh as much as short ones",
        ],
        reference: "Cao et al. 2007 (ListNet, top-one probability); optax `ranking_softmax_loss` with labels softmax(target)",
        eval: evaluator!(eval_listnet),
        sample: sample_lists,
        plot: Some(LIST_PLOT),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "listmle",
        family: Family::Ranking,
        summary: "listwise: −log Plackett–Luce likelihood of the order the relevance gives",
        inputs: LIST,
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = Σ_i (log Σ_{k≥i} exp(input_π(k)) − input_π(i)), π the unmasked items by decreasing target (ties: list order)",
        gradient: "∂ℓ/∂input_π(k) = −1 + Σ_{i≤k} exp(input_π(k)) / Σ_{j≥i} exp(input_π(j)) (0 at masked items)",
        when_to_use: "learning to rank when only the order of the relevance matters, not its values (clicks turned into an order, ratings)",
        pitfalls: &[
            "ties are broken by position in the list (a stable sort): shuffle the items of each list if they should be broken at random",
            "every position counts equally: the loss cares about the bottom of a long list as much as the top; truncate the lists to the top k if only those matter",
            MASKED,
        ],
        reference: "Xia et al. 2008 (ListMLE); the formula in float64 torch, gradient by autograd",
        eval: evaluator!(eval_listmle),
        sample: sample_lists,
        plot: Some(LIST_PLOT),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "bpr",
        family: Family::Ranking,
        summary: "Bayesian personalised ranking: −ln σ(positive − negative) per (observed, sampled) item pair",
        inputs: &[
            InputSpec {
                name: "positive",
                role: Role::Prediction,
                kind: InputKind::Float,
                required: true,
                shape: "any: the scores of observed (positive) items",
            },
            InputSpec {
                name: "negative",
                role: Role::Prediction,
                kind: InputKind::Float,
                required: true,
                shape: "same as `positive`: the scores of sampled unobserved items, pair by pair",
            },
        ],
        params: &[],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = −ln σ(positive − negative) = softplus(negative − positive)",
        gradient: "∂ℓ/∂positive = −σ(negative − positive), ∂ℓ/∂negative = σ(negative − positive)",
        when_to_use: "implicit-feedback recommenders (clicks, purchases, plays) trained on sampled negatives: matrix factorisation, two-tower models",
        pitfalls: &[
            "uniformly sampled negatives are mostly easy: the gradient fades as training goes on; sample harder negatives or more per positive",
            "the paper's L2 term is not included: use weight decay",
            "`-log(sigmoid(d))` overflows to inf once σ underflows (d < −104 in f32); this uses softplus and stays finite",
        ],
        reference: "Rendle et al. 2009 (BPR); torch -F.logsigmoid(positive - negative)",
        eval: evaluator!(eval_bpr),
        sample: sample_pairs,
        plot: Some(PAIR_PLOT),
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
];
