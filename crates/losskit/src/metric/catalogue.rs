//! The metric-learning family's catalogue entries.

use crate::catalogue::{
    Bound, Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Plot,
    PlotAxis, Range, Role, STANDARD_REDUCTIONS,
};
use crate::evaluator;
use crate::sample::{Rng, Sample};

use super::contrastive_ce::{eval_info_nce, eval_nt_xent, eval_supcon};
use super::heads::{eval_arcface, eval_cosface, eval_subcenter_arcface};
use super::mining::{eval_circle, eval_lifted_structure, eval_multi_similarity};
use super::npairs::eval_npairs;
use super::pairs::{eval_contrastive, eval_cosine_embedding};
use super::proxy::{eval_proxy_anchor, eval_proxy_nca};
use super::triplet::{eval_batch_hard_triplet, eval_triplet_margin};
use crate::reduction::ReductionMode;

const fn emb(name: &'static str, shape: &'static str) -> InputSpec {
    InputSpec {
        name,
        role: Role::Prediction,
        kind: InputKind::Float,
        required: true,
        shape,
    }
}

const PAIR: &[InputSpec] = &[
    emb("x1", "[N, D]"),
    emb("x2", "same as `x1`"),
    InputSpec {
        name: "target",
        role: Role::Target,
        kind: InputKind::Float,
        required: true,
        shape: "[N]",
    },
];

const LABELED: &[InputSpec] = &[
    emb("embeddings", "[N, D]"),
    InputSpec {
        name: "labels",
        role: Role::Target,
        kind: InputKind::Index,
        required: true,
        shape: "[N] (integers)",
    },
];

/// The reductions of the pair-mining losses: `mean` only (pytorch-metric-learning's reducer).
const MEAN_ONLY: &[ReductionMode] = &[ReductionMode::Mean];

const fn temperature(default: f64) -> ParamSpec {
    ParamSpec {
        name: "temperature",
        kind: ParamKind::Float {
            default,
            range: Range::POSITIVE,
        },
        doc: "divides the cosine similarities; small values sharpen the softmax onto the hardest negatives",
    }
}

/// The embedding dimension of the samples.
const D: usize = 16;

fn rows(size: usize, min: usize) -> usize {
    (size / D).max(min)
}

fn sample_pair(size: usize, rng: &mut Rng, target: fn(&mut Rng) -> f64) -> Sample {
    let n = rows(size, 1);
    let t = (0..n).map(|_| target(rng)).collect();
    Sample::new()
        .float("x1", &[n, D], rng.normals(n * D, 1.0))
        .float("x2", &[n, D], rng.normals(n * D, 1.0))
        .float("target", &[n], t)
}

fn sample_contrastive(size: usize, rng: &mut Rng) -> Sample {
    sample_pair(size, rng, |r| r.below(2) as f64)
}

fn sample_cosine(size: usize, rng: &mut Rng) -> Sample {
    sample_pair(size, rng, |r| if r.below(2) == 0 { -1.0 } else { 1.0 })
}

fn sample_triplet(size: usize, rng: &mut Rng) -> Sample {
    let n = rows(size, 1);
    Sample::new()
        .float("anchor", &[n, D], rng.normals(n * D, 1.0))
        .float("positive", &[n, D], rng.normals(n * D, 1.0))
        .float("negative", &[n, D], rng.normals(n * D, 1.0))
}

/// Two views: the second is the first plus three times as much noise (cosine about 0.3),
/// not so close that the loss is a cancellation near 0 at a small temperature.
fn sample_views(size: usize, rng: &mut Rng, names: [&'static str; 2]) -> Sample {
    let n = rows(size / 2, 2);
    let a = rng.normals(n * D, 1.0);
    let b = a.iter().map(|&v| v + 3.0 * rng.normal()).collect();
    Sample::new()
        .float(names[0], &[n, D], a)
        .float(names[1], &[n, D], b)
}

fn sample_nt_xent(size: usize, rng: &mut Rng) -> Sample {
    sample_views(size, rng, ["z1", "z2"])
}

fn sample_info_nce(size: usize, rng: &mut Rng) -> Sample {
    sample_views(size, rng, ["query", "key"])
}

fn sample_npairs(size: usize, rng: &mut Rng) -> Sample {
    sample_views(size, rng, ["anchor", "positive"])
}

/// Embeddings with labels `i % classes`, so every anchor has a positive and a negative.
fn sample_labeled(size: usize, rng: &mut Rng) -> Sample {
    let n = rows(size, 4);
    let classes = (n / 4).max(2) as i64;
    Sample::new()
        .float("embeddings", &[n, D], rng.normals(n * D, 1.0))
        .index("labels", &[n], (0..n as i64).map(|i| i % classes).collect())
}

/// `embeddings`, `labels` and the class centres `centres` (`weight`, `proxies`).
const fn centre_inputs(centres: InputSpec) -> [InputSpec; 3] {
    [
        emb("embeddings", "[N, D]"),
        InputSpec {
            name: "labels",
            role: Role::Target,
            kind: InputKind::Index,
            required: true,
            shape: "[N] (integers in [0, C))",
        },
        centres,
    ]
}

const HEAD: &[InputSpec] = &centre_inputs(emb("weight", "[C, D] (class centres, learned)"));
const SUBCENTER: &[InputSpec] = &centre_inputs(emb(
    "weight",
    "[C·K, D] (K = sub_centers centres per class, class-major; learned)",
));

const PROXIES: &[InputSpec] = &centre_inputs(emb("proxies", "[C, D] (one per class, learned)"));

const fn angle_margin() -> ParamSpec {
    ParamSpec {
        name: "margin",
        kind: ParamKind::Float {
            default: 28.6,
            range: Range {
                lo: Bound::Inclusive(0.0),
                hi: Bound::Exclusive(180.0),
            },
        },
        doc: "the angle added to the target class's angle, in degrees (pytorch-metric-learning's unit; 28.6° ≈ 0.5 rad)",
    }
}

const SCALE: ParamSpec = ParamSpec {
    name: "scale",
    kind: ParamKind::Float {
        default: 64.0,
        range: Range::POSITIVE,
    },
    doc: "multiplies the cosines before the softmax (s in the papers)",
};

/// Embeddings near their class's centre (or one of its sub-centres): `e_i = w_{y_i} + noise`,
/// so the target cosines are those of training (about 0.7), not of random directions.
fn sample_centres(size: usize, rng: &mut Rng, k: usize, name: &'static str) -> Sample {
    let n = rows(size / 2, 4);
    let c = (n / 3).max(2);
    let w = rng.normals(c * k * D, 1.0);
    let labels: Vec<i64> = (0..n as i64).map(|i| i % c as i64).collect();
    let mut e = rng.normals(n * D, 0.7);
    for (i, &y) in labels.iter().enumerate() {
        let row = (y as usize) * k + i % k;
        for q in 0..D {
            e[i * D + q] += w[row * D + q];
        }
    }
    Sample::new()
        .float("embeddings", &[n, D], e)
        .index("labels", &[n], labels)
        .float(name, &[c * k, D], w)
}

fn sample_head(size: usize, rng: &mut Rng) -> Sample {
    sample_centres(size, rng, 1, "weight")
}

fn sample_proxies(size: usize, rng: &mut Rng) -> Sample {
    sample_centres(size, rng, 1, "proxies")
}

fn sample_subcenter(size: usize, rng: &mut Rng) -> Sample {
    sample_centres(size, rng, 3, "weight")
}

pub(crate) const CATALOGUE: &[LossInfo] = &[
    LossInfo {
        name: "contrastive",
        family: Family::MetricLearning,
        summary: "pulls similar pairs together, pushes dissimilar pairs at least `margin` apart (Euclidean)",
        inputs: PAIR,
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 1.0, range: Range::NON_NEGATIVE },
            doc: "the distance beyond which a dissimilar pair costs nothing",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = y·d² + (1 − y)·max(0, margin − d)², d = ‖x1 − x2‖₂, y ∈ {0, 1} (1: similar)",
        gradient: "∂ℓ/∂x1 = 2(x1 − x2) for y = 1, −2·max(0, margin − d)·(x1 − x2)/d for y = 0 (0 at d = 0); ∂ℓ/∂x2 = −∂ℓ/∂x1",
        when_to_use: "siamese networks on labelled pairs (verification, dimensionality reduction) with a known useful distance scale",
        pitfalls: &[
            "target 1 means similar here; some code uses 0 for similar: check before training",
            "no ½ (the spec's form): half of Hadsell et al.'s loss, and of some libraries'",
            "margin is in embedding units: normalise the embeddings or rescale it",
        ],
        reference: "Hadsell, Chopra, LeCun 2006; the formula in float64 torch autograd",
        eval: evaluator!(eval_contrastive),
        sample: sample_contrastive,
        plot: Some(CONTRASTIVE_PLOT),
        kinks: Kinks::Described("where a dissimilar pair is at distance `margin`"),
        nan: NanRule { refused: &[("target", "0 or 1")], ..NanRule::PROPAGATES },
        hessian: None,
    },
    LossInfo {
        name: "triplet_margin",
        family: Family::MetricLearning,
        summary: "anchor closer to its positive than to its negative by `margin`, p-norm distances",
        inputs: &[
            emb("anchor", "[N, D]"),
            emb("positive", "same as `anchor`"),
            emb("negative", "same as `anchor`"),
        ],
        params: &[
            ParamSpec {
                name: "margin",
                kind: ParamKind::Float { default: 1.0, range: Range::ANY },
                doc: "the gap wanted between the negative and the positive distance",
            },
            ParamSpec {
                name: "p",
                kind: ParamKind::Float { default: 2.0, range: Range::POSITIVE },
                doc: "the norm of the distance",
            },
            ParamSpec {
                name: "eps",
                kind: ParamKind::Float { default: 1e-6, range: Range::NON_NEGATIVE },
                doc: "added to every component of the difference before the norm (PyTorch's pairwise_distance)",
            },
            ParamSpec {
                name: "swap",
                kind: ParamKind::Bool { default: false },
                doc: "use min(d(a, n), d(p, n)) as the negative distance (Balntas et al. 2016)",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "ℓ = max(0, margin + d(a, p) − d(a, n)), d(x, y) = ‖x − y + eps‖_p",
        gradient: "where ℓ > 0: ∇a = ∇d(a,p) − ∇d(a,n), ∇p = −∇d(a,p), ∇n = ∇d(a,n), ∂‖v‖_p/∂v = sign(v)|v|^(p−1)/‖v‖^(p−1) (0 at v = 0)",
        when_to_use: "embedding learning on triplets you sample yourself (FaceNet); use batch_hard_triplet to mine them in the batch",
        pitfalls: &[
            "random triplets are mostly easy (zero loss): mine hard or semi-hard ones",
            "eps is added to the difference, not to the norm: the distance of identical rows is eps·D^(1/p), not 0",
        ],
        reference: "torch.nn.functional.triplet_margin_loss",
        eval: evaluator!(eval_triplet_margin),
        sample: sample_triplet,
        plot: Some(TRIPLET_PLOT),
        kinks: Kinks::Described("where d(a, p) − d(a, n) + margin is 0"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "cosine_embedding",
        family: Family::MetricLearning,
        summary: "similar pairs to cosine 1, dissimilar pairs below cosine `margin`",
        inputs: &[
            emb("x1", "[N, D]"),
            emb("x2", "same as `x1`"),
            InputSpec {
                name: "target",
                role: Role::Target,
                kind: InputKind::Float,
                required: true,
                shape: "[N], values −1 or +1",
            },
        ],
        params: &[ParamSpec {
            name: "margin",
            kind: ParamKind::Float { default: 0.0, range: Range::ANY },
            doc: "the cosine below which a dissimilar pair costs nothing",
        }],
        reductions: STANDARD_REDUCTIONS,
        formula: "cos = x1·x2 / √((‖x1‖² + 1e-12)(‖x2‖² + 1e-12)); ℓ = 1 − cos for y = 1, max(0, cos − margin) for y = −1",
        gradient: "∂cos/∂x1 = x2/den − cos·x1/(‖x1‖² + 1e-12), times −1 (y = 1) or [cos > margin] (y = −1)",
        when_to_use: "pairs compared by angle (text and image embeddings), when the norm should not matter",
        pitfalls: &[
            "targets are ±1: {0, 1} labels are an error here (PyTorch silently gives 0 loss for y = 0)",
            "a zero vector has cosine 0 and a very large (finite) gradient: keep embeddings away from 0",
        ],
        reference: "torch.nn.functional.cosine_embedding_loss",
        eval: evaluator!(eval_cosine_embedding),
        sample: sample_cosine,
        plot: None,
        kinks: Kinks::Described("where a dissimilar pair's cosine is `margin`"),
        nan: NanRule { refused: &[("target", "-1 or +1")], ..NanRule::PROPAGATES },
        hessian: None,
    },
    LossInfo {
        name: "nt_xent",
        family: Family::MetricLearning,
        summary: "SimCLR: two views, each row's other view is its positive, the 2N − 2 other rows its negatives",
        inputs: &[emb("z1", "[N, D], N ≥ 2"), emb("z2", "same as `z1`")],
        params: &[temperature(0.5)],
        reductions: STANDARD_REDUCTIONS,
        formula: "u = rows of [z1; z2] / ‖·‖, s_ij = u_i·u_j/τ; ℓ_i = −s_{i,p(i)} + ln Σ_{j≠i} exp(s_ij), mean over the 2N anchors",
        gradient: "∂L/∂s_ij = w(softmax_i(s)_j − [j = p(i)]) + the same from anchor j; then through the normalisation",
        when_to_use: "self-supervised pre-training on two augmentations of each image (SimCLR); large batches help",
        pitfalls: &[
            "the batch supplies the negatives: the loss depends on the batch size, compare runs at equal N",
            "temperature matters a lot (0.1–0.5 typical); very small values need the per-row log-sum-exp (done here)",
            "memory here is O(N·D); PyTorch's version stores the (2N)² similarity matrix and its gradient",
        ],
        reference: "Chen et al. 2020 (SimCLR); pytorch-metric-learning NTXentLoss",
        eval: evaluator!(eval_nt_xent),
        sample: sample_nt_xent,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "info_nce",
        family: Family::MetricLearning,
        summary: "query/key cross-entropy with in-batch negatives; CLIP's symmetric loss with `symmetric`",
        inputs: &[emb("query", "[N, D], N ≥ 2"), emb("key", "same as `query`")],
        params: &[
            temperature(0.07),
            ParamSpec {
                name: "symmetric",
                kind: ParamKind::Bool { default: false },
                doc: "average the query→key and key→query losses (CLIP)",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "s = normalize(q)·normalize(k)ᵀ/τ; ℓ_i = −s_ii + ln Σ_j exp(s_ij) (symmetric: mean with the same over the column j = i)",
        gradient: "∂L/∂s_ij = w(softmax_j(s_i·) − [i = j]) (+ the column softmax term when symmetric); then through the normalisation",
        when_to_use: "contrastive learning with paired data (image–text, query–document, MoCo-style query/key)",
        pitfalls: &[
            "duplicate keys in a batch become false negatives",
            "temperature 0.07 is MoCo/CLIP's start; CLIP learns it, pass the current value",
        ],
        reference: "van den Oord et al. 2018; Radford et al. 2021 (CLIP); the formula in float64 torch autograd",
        eval: evaluator!(eval_info_nce),
        sample: sample_info_nce,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "batch_hard_triplet",
        family: Family::MetricLearning,
        summary: "triplet loss on every anchor's hardest positive and hardest negative in the batch",
        inputs: LABELED,
        params: &[
            ParamSpec {
                name: "margin",
                kind: ParamKind::Float { default: 0.3, range: Range::NON_NEGATIVE },
                doc: "the gap wanted between the hardest negative and the hardest positive distance (unused when soft)",
            },
            ParamSpec {
                name: "soft",
                kind: ParamKind::Bool { default: false },
                doc: "Hermans et al.'s soft margin softplus(d_ap − d_an) instead of the hinge",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "per anchor with a positive and a negative: d_ap = max positive distance, d_an = min negative distance, ℓ = max(0, margin + d_ap − d_an) (soft: softplus(d_ap − d_an)); mean over those anchors",
        gradient: "through the mined pairs: ±(x_i − x_j)/‖x_i − x_j‖ times [ℓ > 0] (soft: σ(d_ap − d_an)); 0 at distance 0",
        when_to_use: "re-identification and retrieval with P classes × K samples per batch (Hermans et al. 2017)",
        pitfalls: &[
            "the batch needs several samples per class: with unique labels there is no positive (an error with mean)",
            "distances are Euclidean on the raw embeddings: normalise them first if the scale should not matter",
            "label noise makes the hardest positive an outlier: soft margin or smaller batches help",
        ],
        reference: "Hermans, Beyer, Leibe 2017; pytorch-metric-learning TripletMarginLoss + BatchHardMiner",
        eval: evaluator!(eval_batch_hard_triplet),
        sample: sample_labeled,
        plot: None,
        kinks: Kinks::Described("where the hardest positive or negative changes, and at the hinge"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "supcon",
        family: Family::MetricLearning,
        summary: "supervised contrastive: every other row with the anchor's label is a positive",
        inputs: LABELED,
        params: &[temperature(0.1)],
        reductions: STANDARD_REDUCTIONS,
        formula: "u = embeddings/‖·‖, s_ij = u_i·u_j/τ; for anchors with positives P(i): ℓ_i = −mean_{p∈P(i)} s_ip + ln Σ_{a≠i} exp(s_ia); mean over those anchors",
        gradient: "∂L/∂s_ij = w_i(softmax_i(s)_j − [j ∈ P(i)]/|P(i)|) + the same from anchor j; then through the normalisation",
        when_to_use: "supervised representation learning that uses all same-class samples of the batch as positives",
        pitfalls: &[
            "needs repeated labels in the batch; anchors alone in their class are skipped (an error with mean if all are)",
            "small temperatures (0.05–0.1) are typical and fine here in f32",
        ],
        reference: "Khosla et al. 2020 (L_out); pytorch-metric-learning SupConLoss",
        eval: evaluator!(eval_supcon),
        sample: sample_labeled,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "arcface",
        family: Family::MetricLearning,
        summary: "ArcFace: softmax over scaled cosines to learned class centres, the target's angle widened by `margin`",
        inputs: HEAD,
        params: &[angle_margin(), SCALE],
        reductions: STANDARD_REDUCTIONS,
        formula: "cos θ_ij = normalize(x_i)·normalize(w_j); z_ij = s·cos θ_ij, z_iy = s·cos(θ_iy + m) (θ_iy ≤ π − m) or s·(cos θ_iy − m·sin m) (beyond); ℓ_i = −log softmax(z_i)_y; mean over N",
        gradient: "∂ℓ/∂z = softmax − onehot; the target through cos(θ+m) = cos θ cos m − sin θ sin m, sin θ = ‖ŵ − cos θ·u‖ (no acos); then through both normalisations, to embeddings and weight",
        when_to_use: "face recognition and other identification with many classes and few samples each: a closed-set classifier whose embeddings are then compared by cosine",
        pitfalls: &[
            "margin is in degrees here (pytorch-metric-learning's convention); InsightFace and the paper write 0.5 rad",
            "scale 64 makes the softmax very sharp: with many classes and a fresh network the loss starts near 64·(1 + cos m) ≈ 120; that is normal",
            "the centres are learned: give `weight` to the optimiser too (pytorch-metric-learning keeps it as `loss.W`, transposed [D, C])",
            "beyond θ = π − m the target logit uses cos θ − m·sin m and jumps down by ≈ 0.12·s there (pytorch-metric-learning's and InsightFace's choice)",
        ],
        reference: "Deng et al. 2019 (ArcFace); pytorch-metric-learning ArcFaceLoss",
        eval: evaluator!(eval_arcface),
        sample: sample_head,
        plot: None,
        kinks: Kinks::Described("at θ_y = 0 (a cone: the subgradient 0 of the sin θ term exactly there) and θ_y = π − margin (the logit jumps)"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "cosface",
        family: Family::MetricLearning,
        summary: "CosFace: softmax over scaled cosines to learned class centres, the target's cosine lowered by `margin`",
        inputs: HEAD,
        params: &[
            ParamSpec {
                name: "margin",
                kind: ParamKind::Float { default: 0.35, range: Range::ANY },
                doc: "subtracted from the target class's cosine",
            },
            SCALE,
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "cos θ_ij = normalize(x_i)·normalize(w_j); z_ij = s·(cos θ_ij − m·[j = y_i]); ℓ_i = −log softmax(z_i)_y; mean over N",
        gradient: "∂ℓ/∂cos θ_ij = s(softmax_j − [j = y]); ∂cos θ/∂x = (ŵ − cos θ·u)/‖x‖, ∂cos θ/∂w = (u − cos θ·ŵ)/‖w‖",
        when_to_use: "face recognition and other identification with many classes and few samples each; simpler than arcface (no angle), similar accuracy",
        pitfalls: &[
            "the centres are learned: give `weight` to the optimiser too (pytorch-metric-learning keeps it as `loss.W`, transposed [D, C])",
            "margin 0.35 is for scale 64; a smaller scale needs a smaller margin or the loss cannot fall",
        ],
        reference: "Wang et al. 2018 (CosFace); pytorch-metric-learning CosFaceLoss",
        eval: evaluator!(eval_cosface),
        sample: sample_head,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "subcenter_arcface",
        family: Family::MetricLearning,
        summary: "Sub-center ArcFace: arcface with K centres per class, each embedding scored against its closest one",
        inputs: SUBCENTER,
        params: &[
            angle_margin(),
            SCALE,
            ParamSpec {
                name: "sub_centers",
                kind: ParamKind::Int { default: 3, range: Range { lo: Bound::Inclusive(1.0), hi: Bound::Unbounded } },
                doc: "centres per class (K); `weight` has C·K rows, class-major",
            },
        ],
        reductions: STANDARD_REDUCTIONS,
        formula: "cos θ_ic = max_k normalize(x_i)·normalize(w_{cK+k}); then arcface on those C cosines",
        gradient: "as arcface, each class's part to its arg-max sub-centre (first on a tie), 0 to the others",
        when_to_use: "identification on noisy web-scale data: label noise and intra-class modes gather on extra sub-centres instead of pulling the main one",
        pitfalls: &[
            "weight rows are class-major: class c's sub-centres are rows c·K … c·K + K − 1 (pytorch-metric-learning's layout)",
            "margin in degrees, as arcface",
        ],
        reference: "Deng et al. 2020 (Sub-center ArcFace); pytorch-metric-learning SubCenterArcFaceLoss",
        eval: evaluator!(eval_subcenter_arcface),
        sample: sample_subcenter,
        plot: None,
        kinks: Kinks::Described("where a class's closest sub-centre changes, at θ_y = 0 and at θ_y = π − margin (as arcface)"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "proxy_anchor",
        family: Family::MetricLearning,
        summary: "Proxy-Anchor: each class proxy pulls its embeddings and pushes the others, soft-maxed over the batch",
        inputs: PROXIES,
        params: &[
            ParamSpec {
                name: "margin",
                kind: ParamKind::Float { default: 0.1, range: Range::ANY },
                doc: "δ: positives are pulled above cosine δ, negatives pushed below −δ",
            },
            ParamSpec {
                name: "alpha",
                kind: ParamKind::Float { default: 32.0, range: Range::POSITIVE },
                doc: "scales the cosines inside the soft maxima (larger: harder examples weigh more)",
            },
        ],
        reductions: &[ReductionMode::Mean],
        formula: "s_ic = normalize(x_i)·normalize(p_c); L = (1/C⁺) Σ_{c with positives} ln(1 + Σ_{y_i = c} e^{−α(s_ic − δ)}) + (1/C) Σ_c ln(1 + Σ_{y_i ≠ c} e^{α(s_ic + δ)})",
        gradient: "∂L/∂s_ic = −(α/C⁺)·(row i's share of class c's positive sum) or (α/C)·(its share of the negative sum); then through both normalisations, to embeddings and proxies",
        when_to_use: "retrieval / deep metric learning (CUB, Cars, SOP): fast convergence, every batch sees every class through its proxy",
        pitfalls: &[
            "the proxies are learned: give them to the optimiser, usually with a larger learning rate (the paper uses 100×)",
            "mean only (pytorch-metric-learning's DivisorReducer); there is no per-sample loss",
        ],
        reference: "Kim et al. 2020 (Proxy Anchor); pytorch-metric-learning ProxyAnchorLoss",
        eval: evaluator!(eval_proxy_anchor),
        sample: sample_proxies,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "proxy_nca",
        family: Family::MetricLearning,
        summary: "ProxyNCA: softmax over negative squared distances to one learned proxy per class",
        inputs: PROXIES,
        params: &[ParamSpec {
            name: "softmax_scale",
            kind: ParamKind::Float { default: 1.0, range: Range::POSITIVE },
            doc: "multiplies the negative squared distances before the softmax",
        }],
        reductions: &[ReductionMode::Mean],
        formula: "d²_ic = ‖normalize(x_i) − normalize(p_c)‖²; ℓ_i = −log softmax_c(−s·d²_i·)_{y_i}; mean over N",
        gradient: "∂ℓ/∂d²_ic = −s(softmax_c − [c = y_i]); ∂d²/∂u = 2(u − p̂); then through both normalisations",
        when_to_use: "deep metric learning with one proxy per class; a simple baseline for proxy_anchor",
        pitfalls: &[
            "with unit vectors d² ∈ [0, 4]: softmax_scale 1 gives a soft loss that barely separates classes; papers use larger scales (e.g. 3–10) or temperatures",
            "mean only (pytorch-metric-learning's MeanReducer); rows whose own-proxy probability underflows are kept here (pytorch-metric-learning drops them)",
        ],
        reference: "Movshovitz-Attias et al. 2017 (ProxyNCA); pytorch-metric-learning ProxyNCALoss",
        eval: evaluator!(eval_proxy_nca),
        sample: sample_proxies,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "multi_similarity",
        family: Family::MetricLearning,
        summary: "every pair of the batch, positives above and negatives below a similarity threshold, softly weighted toward the hard ones",
        inputs: LABELED,
        params: &[
            ParamSpec {
                name: "alpha",
                kind: ParamKind::Float { default: 2.0, range: Range::POSITIVE },
                doc: "the scale of the positive pairs' exponent",
            },
            ParamSpec {
                name: "beta",
                kind: ParamKind::Float { default: 50.0, range: Range::POSITIVE },
                doc: "the scale of the negative pairs' exponent",
            },
            ParamSpec {
                name: "base",
                kind: ParamKind::Float { default: 0.5, range: Range::ANY },
                doc: "the cosine similarity positives should exceed and negatives stay below",
            },
        ],
        reductions: MEAN_ONLY,
        formula: "s = cosine similarities; ℓ_i = (1/α)·ln(1 + Σ_{p∈P(i)} exp(−α(s_ip − base))) + (1/β)·ln(1 + Σ_{n∈N(i)} exp(β(s_in − base))); mean over all N anchors",
        gradient: "∂ℓ_i/∂s_ip = −softmax weight of p among P(i) ∪ {the 1}, ∂ℓ_i/∂s_in = +the same over N(i); both anchors of a pair; then through the normalisation",
        when_to_use: "deep metric learning (retrieval, re-identification) with labels and P×K batches; weights hard pairs without a separate miner",
        pitfalls: &[
            "mean only (pytorch-metric-learning's reducer): sum and none are errors",
            "β = 50 makes the negative term a near-max over the hardest negatives: the loss is very sensitive to label noise",
            "the paper pairs it with a miner; this is pytorch-metric-learning's default, every pair",
        ],
        reference: "Wang et al. 2019; pytorch-metric-learning MultiSimilarityLoss",
        eval: evaluator!(eval_multi_similarity),
        sample: sample_labeled,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "circle",
        family: Family::MetricLearning,
        summary: "every pair of the batch, each similarity re-weighted by its distance from its optimum (Circle loss)",
        inputs: LABELED,
        params: &[
            ParamSpec {
                name: "m",
                kind: ParamKind::Float { default: 0.4, range: Range::ANY },
                doc: "the relaxation: optima 1 + m and −m, margins 1 − m and m",
            },
            ParamSpec {
                name: "gamma",
                kind: ParamKind::Float { default: 80.0, range: Range::POSITIVE },
                doc: "the scale of the similarities",
            },
        ],
        reductions: MEAN_ONLY,
        formula: "a_p = max(0, 1 + m − s_ip), a_n = max(0, s_in + m); ℓ_i = softplus(ln Σ_p exp(−γ·a_p·(s_ip − 1 + m)) + ln Σ_n exp(γ·a_n·(s_in − m))); mean over anchors with a positive and a negative",
        gradient: "a_p, a_n held constant (stop-gradient): ∂ℓ_i/∂s_ip = −γ·a_p·σ(L_i)·softmax_p, ∂ℓ_i/∂s_in = γ·a_n·σ(L_i)·softmax_n; both anchors of a pair; then through the normalisation",
        when_to_use: "pair-based metric learning with labels where hard pairs should dominate (face recognition, re-identification, fine-grained retrieval)",
        pitfalls: &[
            "mean only (pytorch-metric-learning's AvgNonZeroReducer): sum and none are errors",
            "the gradient is the paper's, with the weights a_p, a_n detached: it is not the derivative of the value",
            "γ sets how hard the softmax is: 80 for retrieval, 128–256 for faces (with m = 0.25)",
        ],
        reference: "Sun et al. 2020; pytorch-metric-learning CircleLoss",
        eval: evaluator!(eval_circle),
        sample: sample_labeled,
        plot: None,
        kinks: Kinks::Described("where a negative's similarity crosses −m (its weight a_n reaches 0)"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "lifted_structure",
        family: Family::MetricLearning,
        summary: "every positive pair against a soft maximum over the negatives of both its ends (Euclidean, normalised embeddings)",
        inputs: LABELED,
        params: &[
            ParamSpec {
                name: "pos_margin",
                kind: ParamKind::Float { default: 0.0, range: Range::ANY },
                doc: "the distance below which a positive pair's own term stops pulling",
            },
            ParamSpec {
                name: "neg_margin",
                kind: ParamKind::Float { default: 1.0, range: Range::ANY },
                doc: "the distance negatives should keep",
            },
        ],
        reductions: MEAN_ONLY,
        formula: "u = embeddings/‖·‖, d = ‖u_i − u_j‖; per ordered positive pair (a, p): J = ln(Σ_{n∈N(a)} exp(neg_margin − d_an) + Σ_{n∈N(p)} exp(neg_margin − d_pn)) + d_ap − pos_margin, ℓ = ½·max(0, J)²; mean over the ordered positive pairs",
        gradient: "∂ℓ/∂d_ap = max(0, J), ∂ℓ/∂d_an = −max(0, J)·softmax weight of n; ∂d/∂u_i = (u_i − u_j)/d (0 at d = 0); then through the normalisation",
        when_to_use: "labelled batches where every negative of both ends of a pair should count, softly weighted toward the hardest",
        pitfalls: &[
            "mean only (pytorch-metric-learning's reducer): sum and none are errors",
            "distances are between normalised embeddings (at most 2): a neg_margin above 2 can never be met",
            "pytorch-metric-learning builds a (positive pairs × negative pairs) mask: its memory grows as N⁴; here O(N·D)",
        ],
        reference: "Oh Song et al. 2016; pytorch-metric-learning LiftedStructureLoss",
        eval: evaluator!(eval_lifted_structure),
        sample: sample_labeled,
        plot: None,
        kinks: Kinks::Described("where a positive pair's J crosses 0 (the hinge), or two rows coincide"),
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
    LossInfo {
        name: "npairs",
        family: Family::MetricLearning,
        summary: "one (anchor, positive) pair per class, every other pair's positive a negative: a softmax over cosine similarities",
        inputs: &[emb("anchor", "[N, D]: row i is class i's anchor"), emb("positive", "same as `anchor`: row i is class i's positive")],
        params: &[],
        reductions: MEAN_ONLY,
        formula: "s = normalize(anchor)·normalize(positive)ᵀ (no temperature); ℓ_i = −s_ii + ln Σ_j exp(s_ij); mean over the N anchors",
        gradient: "∂L/∂s_ij = (softmax_j(s_i·) − [i = j])/N; then through the normalisation of both inputs",
        when_to_use: "batches of N classes with one pair each (Sohn 2016): N − 1 negatives per anchor for 2N embeddings, where a triplet uses one",
        pitfalls: &[
            "mean only (pytorch-metric-learning's reducer): sum and none are errors",
            "cosine logits without a temperature lie in [−1, 1]: the softmax stays flat and the loss cannot go below ln(1 + (N − 1)/e²); info_nce with τ ≈ 0.1 is the same loss with a temperature",
            "the paper's L2 regulariser on the embeddings is not included (as pytorch-metric-learning)",
        ],
        reference: "Sohn 2016; pytorch-metric-learning NPairsLoss",
        eval: evaluator!(eval_npairs),
        sample: sample_npairs,
        plot: None,
        kinks: Kinks::Smooth,
        nan: NanRule::PROPAGATES,
        hessian: None,
    },
];

/// One similar pair at distance x.
const CONTRASTIVE_PLOT: Plot = Plot {
    axis: PlotAxis::DISTANCE,
    at: |x| {
        Sample::new()
            .float("x1", &[1, 1], vec![0.0])
            .float("x2", &[1, 1], vec![x])
            .float("target", &[1], vec![1.0])
    },
};
/// The positive at distance x, the negative at 1.
const TRIPLET_PLOT: Plot = Plot {
    axis: PlotAxis::DISTANCE,
    at: |x| {
        Sample::new()
            .float("anchor", &[1, 1], vec![0.0])
            .float("positive", &[1, 1], vec![x])
            .float("negative", &[1, 1], vec![1.0])
    },
};
