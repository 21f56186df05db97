//! The decision guide: a task and what is known about the data in, the loss to use out, with
//! concrete parameters, the variants and when to switch, the reasoning, the pitfalls, a Rust
//! snippet and the reference of every rule.
//!
//! The rules cover the decision table of losskit's brief (every row and variant) and go
//! beyond it where the literature is clear:
//!
//! | task | default | variants (condition → loss) |
//! |---|---|---|
//! | regression | `huber` (δ = 1, or 1.345 × the robust scale of the targets) | Gaussian errors → `mse`; outliers → `huber`; heavy contamination / robust → `mae`; intervals → `quantile` per τ |
//! | binary | `bce_with_logits` | imbalance → `pos_weight` (ratio < 10) or `focal` α = 0.25, γ = 2 (ratio ≥ 10) |
//! | multiclass | `cross_entropy`, label smoothing 0.1 | imbalance → class weights (inverse frequency; effective number for long tails); extreme → `softmax_focal` |
//! | multilabel | `bce_with_logits` per label | imbalance → per-label `pos_weight`; many negatives per positive → `asymmetric` (ASL) or `focal` |
//! | embedding | `info_nce` (τ = 0.07); with labels `supcon` (τ = 0.1) | small batch → `batch_hard_triplet` (labels) or `triplet_margin`; with labels, many classes with few samples each (face recognition) → `arcface` (28.6°, s = 64) or `cosface`; more classes than a batch holds → `proxy_anchor`; labelled retrieval → `multi_similarity`, `circle`; noisy hardest negatives → `lifted_structure`; one pair per class → `npairs` |
//! | segmentation | `bce_dice` | small objects → `tversky` (α = 0.3, β = 0.7), `focal_tversky` |
//! | detection | `focal` (α = 0.25, γ = 2) + `giou` | faster convergence → `diou`; aspect ratios → `ciou` |
//! | sequence | `ctc` (blank 0) | – |
//! | ranking | `listnet` | only the order of the relevance is meaningful → `listmle` |
//! | recommender | `bpr` (sampled negatives) | graded feedback on candidate lists → `listnet` |
//!
//! Losses are named by their catalogue names; [`PENDING`] lists those whose family has not
//! landed in the catalogue yet (their snippets use the by-name API, which reports an unknown
//! loss until then).
//!
//! # Example
//! ```
//! use losskit::guide::{recommend, Conditions, Task};
//!
//! let r = recommend(Task::Multiclass, &Conditions { imbalance: Some(50.0), ..Conditions::default() })?;
//! assert_eq!(r.primary[0].loss, "cross_entropy");
//! assert!(r.primary[0].params.contains(&("label_smoothing", "0.1".to_string())));
//! assert!(r.variants.iter().any(|v| v.loss == "softmax_focal"));
//! # Ok::<(), losskit::Error>(())
//! ```

mod data;

pub use data::{
    LabelKind, LabelStats, TargetStats, HEAVY_CONTAMINATION, HUBER_K, LONG_TAIL, SOME_OUTLIERS,
};

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};

/// Losses the guide recommends whose family has not landed in the catalogue yet, by their
/// names in the specification. Their snippets use the by-name API; tests tolerate exactly
/// these names being unknown. Empty this list as the families land.
pub const PENDING: &[&str] = &[];

/// What the model is trained to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Real-valued targets.
    Regression,
    /// One yes/no label per sample.
    Binary,
    /// One class out of C per sample.
    Multiclass,
    /// Several yes/no labels per sample.
    MultiLabel,
    /// Embeddings (metric / representation learning).
    Embedding,
    /// Dense masks.
    Segmentation,
    /// Boxes and their classes.
    Detection,
    /// Label sequences read off frames without alignments (speech, handwriting, OCR lines).
    Sequence,
    /// Ordering candidate lists by graded relevance (search, learning to rank).
    Ranking,
    /// Implicit-feedback recommenders (clicks, plays, purchases; no explicit negatives).
    Recommender,
}

impl Task {
    /// Every task, in the order of the decision table.
    pub const ALL: [Task; 10] = [
        Task::Regression,
        Task::Binary,
        Task::Multiclass,
        Task::MultiLabel,
        Task::Embedding,
        Task::Segmentation,
        Task::Detection,
        Task::Sequence,
        Task::Ranking,
        Task::Recommender,
    ];

    /// The name: `regression`, `binary`, `multiclass`, `multilabel`, `embedding`,
    /// `segmentation`, `detection`, `sequence`, `ranking`, `recommender`.
    pub fn name(self) -> &'static str {
        match self {
            Task::Regression => "regression",
            Task::Binary => "binary",
            Task::Multiclass => "multiclass",
            Task::MultiLabel => "multilabel",
            Task::Embedding => "embedding",
            Task::Segmentation => "segmentation",
            Task::Detection => "detection",
            Task::Sequence => "sequence",
            Task::Ranking => "ranking",
            Task::Recommender => "recommender",
        }
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Task {
    type Err = Error;

    /// A task by name (`multi-label` and `multi_label` are accepted for `multilabel`).
    fn from_str(s: &str) -> Result<Task> {
        let s = s.trim().to_ascii_lowercase().replace(['-', '_'], "");
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| Error::UnknownTask {
                name: s,
                known: Task::ALL.iter().map(|t| t.name()).collect(),
            })
    }
}

/// What is known about the data and the goal. `Default` is "nothing".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conditions {
    /// Regression: errors known to be close to Gaussian, no outliers.
    pub gaussian: bool,
    /// Regression: some outliers in the targets.
    pub outliers: bool,
    /// Regression: heavy contamination, or the median is wanted: a robust loss.
    pub robust: bool,
    /// Regression: the quantiles wanted (prediction intervals), each in (0, 1).
    pub quantiles: Vec<f64>,
    /// Classification, detection: largest class count over smallest (≥ 1).
    pub imbalance: Option<f64>,
    /// Classification: some labels are wrong.
    pub label_noise: bool,
    /// Embedding: the batch size.
    pub batch_size: Option<usize>,
    /// Embedding: class labels are available for the samples.
    pub supervised: bool,
    /// Segmentation: the objects are small next to the image.
    pub small_objects: bool,
    /// Detection: boxes of very different aspect ratios.
    pub aspect_ratios: bool,
    /// Detection: box regression converges slowly (boxes far apart at the start).
    pub slow_convergence: bool,
    /// Measured labels (binary, multiclass, multilabel): counts, imbalance, weights.
    pub labels: Option<LabelStats>,
    /// Measured regression targets: robust scale, kurtosis, outlier share.
    pub targets: Option<TargetStats>,
}

/// The batch size below which in-batch contrastive losses have too few negatives and the
/// guide prefers triplets.
pub const SMALL_BATCH: usize = 64;

/// A loss to use, with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The catalogue name.
    pub loss: &'static str,
    /// What it is in the objective: `loss`, `class term`, `box term`, `head τ = 0.9`…
    pub role: String,
    /// Parameters as `KEY=VALUE` text (what `losskit eval --param` takes).
    pub params: Vec<(&'static str, String)>,
    /// Weights to pass as an input (`weight`, `pos_weight`, `alpha`), when known.
    pub weights: Option<(&'static str, Vec<f64>)>,
    /// The snippet that shows it in Rust.
    pub snippet: &'static Snippet,
    /// The paper or library the rule comes from.
    pub reference: &'static str,
}

/// Another loss, and when to switch to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// The condition.
    pub when: &'static str,
    /// The catalogue name.
    pub loss: &'static str,
    /// Parameters as `KEY=VALUE` text.
    pub params: Vec<(&'static str, String)>,
    /// Why.
    pub why: &'static str,
    /// The snippet that shows it in Rust.
    pub snippet: &'static Snippet,
    /// The paper or library the rule comes from.
    pub reference: &'static str,
}

/// A Rust program fragment that compiles against losskit (a test compiles and runs each).
#[derive(Debug, PartialEq, Eq)]
pub struct Snippet {
    /// The file name without `.rs`.
    pub name: &'static str,
    /// The source: `pub fn run() -> losskit::Result<f64>` and its imports.
    pub code: &'static str,
}

macro_rules! snippets {
    ($($id:ident = $name:literal),* $(,)?) => {
        $(const $id: Snippet = Snippet { name: $name, code: include_str!(concat!("snippets/", $name, ".rs")) };)*
        /// Every snippet the guide shows.
        pub const SNIPPETS: &[&Snippet] = &[$(&$id),*];
    };
}

snippets! {
    HUBER = "huber", MSE = "mse", MAE = "mae", QUANTILE = "quantile",
    BCE = "bce_with_logits", BCE_POS_WEIGHT = "bce_pos_weight", FOCAL = "focal",
    CE_SMOOTHING = "cross_entropy_smoothing", CE_WEIGHTED = "cross_entropy_weighted",
    SOFTMAX_FOCAL = "softmax_focal", INFO_NCE = "info_nce", LABELLED = "labelled_embeddings",
    TRIPLET = "triplet_margin", BCE_DICE = "bce_dice", TVERSKY = "tversky", SHAPE_AWARE = "shape_aware",
    RELATED_CLASSES = "related_classes", BOX_IOU = "box_iou",
    SMOOTH_L1 = "smooth_l1", CTC = "ctc", LISTNET = "listnet", BPR = "bpr",
    CLASS_CENTRES = "class_centres", PAIR_MINING = "pair_mining",
    ASYMMETRIC = "asymmetric", POLY1 = "poly1", SPARSEMAX = "sparsemax",
    ML_MARGIN = "multilabel_margin", ML_SOFT_MARGIN = "multilabel_soft_margin",
    ADAPTIVE_WING = "adaptive_wing",
}

/// The guide's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The task.
    pub task: Task,
    /// What to use: one loss, or the terms of a sum (detection: class term + box term;
    /// intervals: one head per quantile).
    pub primary: Vec<Choice>,
    /// The alternatives and when to switch.
    pub variants: Vec<Variant>,
    /// Why, in two or three sentences.
    pub reasoning: String,
    /// The classic mistakes to avoid.
    pub pitfalls: Vec<&'static str>,
    /// What the data said, one line per measure (empty without `labels` / `targets`).
    pub measured: Vec<String>,
}

impl Recommendation {
    /// Every loss named (primary and variants), once each.
    pub fn losses(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for name in self
            .primary
            .iter()
            .map(|c| c.loss)
            .chain(self.variants.iter().map(|v| v.loss))
        {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        out
    }
}

// References, one per rule.
const R_HUBER: &str = "Huber, \"Robust Estimation of a Location Parameter\", Ann. Math. Statist. 1964 (δ = 1.345σ: 95% efficiency at the Gaussian); torch `huber_loss`";
const R_MSE: &str = "Goodfellow, Bengio & Courville, Deep Learning, §5.5 (maximum likelihood under Gaussian noise); torch `mse_loss`";
const R_MAE: &str =
    "Huber & Ronchetti, Robust Statistics, 2009 (the median: breakdown point 1/2); torch `l1_loss`";
const R_QUANTILE: &str = "Koenker & Bassett, \"Regression Quantiles\", Econometrica 1978";
const R_BCE: &str =
    "torch `binary_cross_entropy_with_logits` (the log-sum-exp form; never BCE on sigmoid outputs)";
const R_POS_WEIGHT: &str = "PyTorch `BCEWithLogitsLoss(pos_weight = negatives / positives)`";
const R_FOCAL: &str = "Lin et al., \"Focal Loss for Dense Object Detection\", ICCV 2017 (α = 0.25, γ = 2); torchvision `sigmoid_focal_loss`";
const R_ASL: &str = "Ridnik et al., \"Asymmetric Loss For Multi-Label Classification\", ICCV 2021 (γ₋ = 4, γ₊ = 1, clip 0.05); timm `AsymmetricLossMultiLabel`";
const R_POLY1: &str = "Leng et al., \"PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions\", ICLR 2022 (ε = 2 on ImageNet); optax `poly_loss_cross_entropy`";
const R_SPARSEMAX: &str = "Martins & Astudillo, \"From Softmax to Sparsemax\", ICML 2016; optax `multiclass_sparsemax_loss`";
const R_ML_MARGIN: &str =
    "Weston, Watson et al.'s multi-label ranking hinge; torch `multilabel_margin_loss`";
const R_ML_SOFT_MARGIN: &str =
    "torch `multilabel_soft_margin_loss` (per-label BCE averaged over the labels of each sample)";
const R_ADAPTIVE_WING: &str = "Wang, Bo & Fuxin, \"Adaptive Wing Loss for Robust Face Alignment via Heatmap Regression\", ICCV 2019 (ω = 14, θ = 0.5, ε = 1, α = 2.1)";
const R_SMOOTHING: &str = "Szegedy et al., \"Rethinking the Inception Architecture\", CVPR 2016 (ε = 0.1); Müller et al., \"When Does Label Smoothing Help?\", NeurIPS 2019; torch `cross_entropy(label_smoothing=)`";
const R_WEIGHTS: &str = "King & Zeng, \"Logistic Regression in Rare Events Data\", 2001 (inverse frequency, scikit-learn \"balanced\"); Cui et al., \"Class-Balanced Loss Based on Effective Number of Samples\", CVPR 2019";
const R_CE_WEIGHTED: &str = "Szegedy et al., CVPR 2016 (label smoothing 0.1); King & Zeng 2001 (inverse frequency, scikit-learn \"balanced\"); Cui et al., \"Class-Balanced Loss Based on Effective Number of Samples\", CVPR 2019";
const R_NOISE: &str = "Lukasik et al., \"Does Label Smoothing Mitigate Label Noise?\", ICML 2020";
const R_INFO_NCE: &str = "van den Oord et al., \"Representation Learning with Contrastive Predictive Coding\", 2018; He et al., MoCo, CVPR 2020 (τ = 0.07)";
const R_ARCFACE: &str = "Deng et al., \"ArcFace: Additive Angular Margin Loss for Deep Face Recognition\", CVPR 2019 (m = 0.5 rad, s = 64); Wang et al., \"CosFace\", CVPR 2018; pytorch-metric-learning `ArcFaceLoss`, `CosFaceLoss`";
const R_PROXY_ANCHOR: &str = "Kim et al., \"Proxy Anchor Loss for Deep Metric Learning\", CVPR 2020 (δ = 0.1, α = 32); pytorch-metric-learning `ProxyAnchorLoss`";
const R_SUPCON: &str = "Khosla et al., \"Supervised Contrastive Learning\", NeurIPS 2020 (τ = 0.1); pytorch-metric-learning `SupConLoss`";
const R_BATCH_HARD: &str = "Hermans, Beyer & Leibe, \"In Defense of the Triplet Loss for Person Re-Identification\", 2017 (P×K batches, margin 0.3)";
const R_MULTI_SIMILARITY: &str = "Wang et al., \"Multi-Similarity Loss with General Pair Weighting for Deep Metric Learning\", CVPR 2019 (α = 2, β = 50, λ = 0.5); Musgrave et al., \"A Metric Learning Reality Check\", ECCV 2020; pytorch-metric-learning `MultiSimilarityLoss`";
const R_CIRCLE: &str = "Sun et al., \"Circle Loss: A Unified Perspective of Pair Similarity Optimization\", CVPR 2020 (m = 0.25, γ = 256 for faces; 0.4, 80 for fine-grained retrieval); pytorch-metric-learning `CircleLoss`";
const R_LIFTED: &str = "Oh Song et al., \"Deep Metric Learning via Lifted Structured Feature Embedding\", CVPR 2016; pytorch-metric-learning `LiftedStructureLoss`";
const R_NPAIRS: &str = "Sohn, \"Improved Deep Metric Learning with Multi-class N-pair Loss Objective\", NeurIPS 2016; pytorch-metric-learning `NPairsLoss`";
const R_TRIPLET: &str =
    "Schroff et al., \"FaceNet\", CVPR 2015; torch `triplet_margin_loss` (margin 1)";
const R_BCE_DICE: &str = "Milletari et al., \"V-Net\", 3DV 2016 (Dice); Isensee et al., \"nnU-Net\", Nature Methods 2021 (Dice + cross-entropy); MONAI `DiceCELoss`";
const R_TVERSKY: &str = "Salehi et al., \"Tversky Loss Function for Image Segmentation\", MLMI 2017 (α = 0.3, β = 0.7); MONAI `TverskyLoss`";
const R_FOCAL_TVERSKY: &str =
    "Abraham & Khan, \"A Novel Focal Tversky Loss Function\", ISBI 2019 (γ = 0.75)";
const R_CLDICE: &str = "Shit et al., \"clDice - a Novel Topology-Preserving Loss Function for Tubular Structure Segmentation\", CVPR 2021 (3 skeleton iterations); MONAI `SoftclDiceLoss`";
const R_HAUSDORFF: &str = "Karimi & Salcudean, \"Reducing the Hausdorff Distance in Medical Image Segmentation with Convolutional Neural Networks\", IEEE TMI 2020 (α = 2); MONAI `HausdorffDTLoss`";
const R_WASSERSTEIN: &str = "Fidon et al., \"Generalised Wasserstein Dice Score for Imbalanced Multi-class Segmentation\", BrainLes 2017; MONAI `GeneralizedWassersteinDiceLoss`";
const R_GIOU: &str = "Rezatofighi et al., \"Generalized Intersection over Union\", CVPR 2019; torchvision `generalized_box_iou_loss`";
const R_DIOU: &str =
    "Zheng et al., \"Distance-IoU Loss\", AAAI 2020; torchvision `distance_box_iou_loss`";
const R_CTC: &str = "Graves et al., \"Connectionist Temporal Classification: Labelling Unsegmented Sequence Data with Recurrent Neural Networks\", ICML 2006; torch `ctc_loss`";
const R_LISTNET: &str = "Cao et al., \"Learning to Rank: From Pairwise Approach to Listwise Approach\", ICML 2007; optax `ranking_softmax_loss` (labels softmax(relevance))";
const R_LISTMLE: &str =
    "Xia et al., \"Listwise Approach to Learning to Rank: Theory and Algorithm\", ICML 2008";
const R_BPR: &str =
    "Rendle et al., \"BPR: Bayesian Personalized Ranking from Implicit Feedback\", UAI 2009";
const R_CIOU: &str = "Zheng et al., \"Distance-IoU Loss\", AAAI 2020 (CIoU, used by YOLOv4/v5); torchvision `complete_box_iou_loss`";

fn p(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|&(k, v)| (k, v.to_string())).collect()
}

fn choice(
    loss: &'static str,
    role: &str,
    params: Vec<(&'static str, String)>,
    snippet: &'static Snippet,
    reference: &'static str,
) -> Choice {
    Choice {
        loss,
        role: role.to_string(),
        params,
        weights: None,
        snippet,
        reference,
    }
}

fn variant(
    when: &'static str,
    loss: &'static str,
    params: Vec<(&'static str, String)>,
    why: &'static str,
    snippet: &'static Snippet,
    reference: &'static str,
) -> Variant {
    Variant {
        when,
        loss,
        params,
        why,
        snippet,
        reference,
    }
}

/// A number as short as it reads (`0.1`, `2.69`).
fn num(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.into()
    }
}

/// The guide's answer for `task` under `conditions`.
///
/// # Errors
/// [`Error::ConditionNotApplicable`] for a condition that means nothing for the task;
/// [`Error::ConflictingConditions`] for contradictory ones (`gaussian` with `outliers` or
/// `robust`, an `imbalance` that disagrees with the measured labels, quantiles with a
/// robust or Gaussian request); [`Error::InvalidParam`] for an imbalance below 1 or not
/// finite, a quantile outside (0, 1), a batch size of 0.
pub fn recommend(task: Task, c: &Conditions) -> Result<Recommendation> {
    check(task, c)?;
    let imbalance = c
        .imbalance
        .or_else(|| c.labels.as_ref().map(|l| l.imbalance));
    let mut r = match task {
        Task::Regression => regression(c),
        Task::Binary => binary(c, imbalance),
        Task::Multiclass => multiclass(c, imbalance),
        Task::MultiLabel => multilabel(c, imbalance),
        Task::Embedding => embedding(c),
        Task::Segmentation => segmentation(c),
        Task::Detection => detection(c),
        Task::Sequence => sequence(),
        Task::Ranking => ranking(),
        Task::Recommender => recommender(),
    };
    if let Some(l) = &c.labels {
        r.measured.push(match l.kind {
            LabelKind::Classes => format!(
                "{} labels, {} classes, counts {:?}: imbalance {} (largest / smallest class)",
                l.samples,
                l.counts.len(),
                l.counts,
                num(l.imbalance)
            ),
            _ => format!(
                "{} samples, {} label(s), positives {:?}, negatives {:?}: imbalance {}",
                l.samples,
                l.counts.len(),
                l.counts,
                l.negatives,
                num(l.imbalance)
            ),
        });
        if !l.absent.is_empty() {
            r.measured.push(format!(
                "no sample (no positive) for {:?}: weight 0 there",
                l.absent
            ));
        }
    }
    if let Some(t) = &c.targets {
        r.measured.push(format!(
            "{} targets: median {}, robust scale {} (1.4826 × MAD), std {}, excess kurtosis {}, {:.2}% beyond 3 robust scales (Gaussian: 0.27%)",
            t.n,
            num(t.median),
            num(t.scale),
            num(t.std),
            num(t.excess_kurtosis),
            100.0 * t.outlier_share
        ));
    }
    Ok(r)
}

fn check(task: Task, c: &Conditions) -> Result<()> {
    use Task::*;
    let applies = |set: bool, condition, tasks: &[Task], applies_to| {
        if set && !tasks.contains(&task) {
            Err(Error::ConditionNotApplicable {
                condition,
                task: task.name(),
                applies_to,
            })
        } else {
            Ok(())
        }
    };
    applies(c.gaussian, "--gaussian", &[Regression], "regression")?;
    applies(c.outliers, "--outliers", &[Regression], "regression")?;
    applies(c.robust, "--robust", &[Regression], "regression")?;
    applies(
        !c.quantiles.is_empty(),
        "--quantiles",
        &[Regression],
        "regression",
    )?;
    applies(
        c.targets.is_some(),
        "--targets",
        &[Regression],
        "regression",
    )?;
    let classes = &[Binary, Multiclass, MultiLabel, Detection];
    applies(
        c.imbalance.is_some(),
        "--imbalance",
        classes,
        "binary, multiclass, multilabel and detection",
    )?;
    applies(
        c.label_noise,
        "--label-noise",
        &[Binary, Multiclass, MultiLabel],
        "binary, multiclass and multilabel",
    )?;
    applies(
        c.labels.is_some(),
        "--labels",
        &[Binary, Multiclass, MultiLabel],
        "binary, multiclass and multilabel",
    )?;
    applies(
        c.batch_size.is_some(),
        "--batch-size",
        &[Embedding],
        "embedding",
    )?;
    applies(c.supervised, "--supervised", &[Embedding], "embedding")?;
    applies(
        c.small_objects,
        "--small-objects",
        &[Segmentation],
        "segmentation",
    )?;
    applies(
        c.aspect_ratios,
        "--aspect-ratios",
        &[Detection],
        "detection",
    )?;
    applies(
        c.slow_convergence,
        "--slow-convergence",
        &[Detection],
        "detection",
    )?;
    let conflict = |first, second, why| Err(Error::ConflictingConditions { first, second, why });
    if c.gaussian && c.outliers {
        return conflict(
            "--gaussian",
            "--outliers",
            "Gaussian errors have no outliers",
        );
    }
    if c.gaussian && c.robust {
        return conflict(
            "--gaussian",
            "--robust",
            "a robust loss is for errors that are not Gaussian",
        );
    }
    if !c.quantiles.is_empty() && (c.gaussian || c.robust) {
        return conflict(
            "--quantiles",
            if c.gaussian { "--gaussian" } else { "--robust" },
            "quantile heads replace the point estimate the other condition chooses a loss for",
        );
    }
    if let (Some(given), Some(l)) = (c.imbalance, &c.labels) {
        if (given - l.imbalance).abs() > 1e-9 * given.max(1.0) {
            return conflict(
                "--imbalance",
                "--labels",
                "the labels measure a different imbalance; give one or the other",
            );
        }
    }
    if let Some(r) = c.imbalance {
        if !(r >= 1.0 && r.is_finite()) {
            return Err(Error::InvalidParam {
                loss: "recommend",
                param: "imbalance",
                value: r,
                expected: ">= 1 and finite (largest class count / smallest)",
            });
        }
    }
    for &q in &c.quantiles {
        if !(q > 0.0 && q < 1.0) {
            return Err(Error::InvalidParam {
                loss: "recommend",
                param: "quantiles",
                value: q,
                expected: "in (0, 1)",
            });
        }
    }
    if c.batch_size == Some(0) {
        return Err(Error::InvalidParam {
            loss: "recommend",
            param: "batch_size",
            value: 0.0,
            expected: ">= 1",
        });
    }
    Ok(())
}

fn regression(c: &Conditions) -> Recommendation {
    let t = c.targets.as_ref();
    let delta = t.map_or(1.0, TargetStats::huber_delta);
    let huber_params = p(&[("delta", &num(delta))]);
    let heavy = c.robust || t.is_some_and(|t| t.outlier_share > HEAVY_CONTAMINATION);
    let tails =
        c.outliers || t.is_some_and(|t| t.outlier_share > SOME_OUTLIERS || t.excess_kurtosis > 1.0);
    let looks_gaussian = c.gaussian || (t.is_some() && !tails && !heavy);
    let mut variants = vec![
        variant(
            "the errors are close to Gaussian, no outliers",
            "mse",
            vec![],
            "the maximum-likelihood loss under Gaussian noise: the mean, the cleanest gradient",
            &MSE,
            R_MSE,
        ),
        variant(
            "some outliers",
            "huber",
            huber_params.clone(),
            "quadratic inside δ, linear outside: an outlier pulls with force δ at most",
            &HUBER,
            R_HUBER,
        ),
        variant(
            "heavy contamination, or the median is wanted (robust)",
            "mae",
            vec![],
            "the median's loss: bounded influence of any single target; slower near the optimum (constant gradient)",
            &MAE,
            R_MAE,
        ),
        variant(
            "prediction intervals or quantiles wanted",
            "quantile",
            p(&[("tau", "0.9")]),
            "the pinball loss at τ is minimised by the τ-quantile: one head per quantile (e.g. 0.1 and 0.9 for an 80% interval)",
            &QUANTILE,
            R_QUANTILE,
        ),
        variant(
            "heatmap regression (landmarks, keypoints; targets in [0, 1])",
            "adaptive_wing",
            p(&[("omega", "14"), ("theta", "0.5"), ("epsilon", "1"), ("alpha", "2.1")]),
            "wing-like large gradients for small errors at foreground pixels, a smooth loss at the many background pixels",
            &ADAPTIVE_WING,
            R_ADAPTIVE_WING,
        ),
    ];
    let pitfalls = vec![
        "MSE on targets with outliers: a few errors dominate the gradient",
        "Huber's δ in the wrong units: δ is a residual size, set it from the residual scale (or standardise the targets, then δ ≈ 1.345)",
        "MAE's gradient does not shrink near the optimum: lower the learning rate late or use Huber",
    ];
    let (primary, reasoning, keep) = if !c.quantiles.is_empty() {
        let heads = c
            .quantiles
            .iter()
            .map(|&q| {
                choice(
                    "quantile",
                    &format!("head τ = {}", num(q)),
                    p(&[("tau", &num(q))]),
                    &QUANTILE,
                    R_QUANTILE,
                )
            })
            .collect();
        (
            heads,
            "Quantiles are wanted: the pinball loss at τ is minimised by the conditional τ-quantile, so each output head gets its own τ; the pair of outer quantiles is the prediction interval.".to_string(),
            "quantile",
        )
    } else if heavy {
        (
            vec![choice("mae", "loss", vec![], &MAE, R_MAE)],
            if c.robust {
                "A robust fit was asked for: the absolute error estimates the conditional median, which no fraction of outliers below one half can move arbitrarily.".to_string()
            } else {
                format!("More than {:.0}% of the targets lie beyond 3 robust scales from the median: contamination this heavy calls for the absolute error (the median), whose influence per target is bounded by 1.", 100.0 * HEAVY_CONTAMINATION)
            },
            "mae",
        )
    } else if looks_gaussian {
        (
            vec![choice("mse", "loss", vec![], &MSE, R_MSE)],
            if c.gaussian {
                "The errors are Gaussian: the squared error is their maximum-likelihood loss and has the cleanest gradient.".to_string()
            } else {
                "The targets' tails look Gaussian (kurtosis and outlier share near a normal's): the squared error is the maximum-likelihood loss; switch to Huber if residuals of a first model show outliers.".to_string()
            },
            "mse",
        )
    } else {
        let why = match t {
            Some(t) => format!(
                "The targets have heavier tails than a Gaussian (excess kurtosis {}, {:.2}% beyond 3 robust scales): Huber with δ = 1.345 × robust scale = {} keeps the squared error's efficiency on the bulk and caps the pull of the outliers. Targets stand in for residuals here; re-measure on a first model's residuals.",
                num(t.excess_kurtosis),
                100.0 * t.outlier_share,
                num(delta)
            ),
            None if c.outliers => "Outliers are expected: Huber is quadratic for small residuals and linear beyond δ, so an outlier's pull is capped at δ. δ = 1 assumes standardised targets; measure it with `--targets`.".to_string(),
            None => "Huber is the safe default for regression: the squared error near zero, the absolute error in the tails, so occasional outliers cannot dominate. δ = 1 assumes standardised targets; measure it with `--targets`.".to_string(),
        };
        (
            vec![choice("huber", "loss", huber_params, &HUBER, R_HUBER)],
            why,
            "huber",
        )
    };
    variants.retain(|v| v.loss != keep);
    Recommendation {
        task: Task::Regression,
        primary,
        variants,
        reasoning,
        pitfalls,
        measured: Vec::new(),
    }
}

const CLASS_PITFALLS: &[&str] = &[
    "softmax, then log, then nll_loss by hand: use cross_entropy on the logits (or log_softmax)",
    "binary_cross_entropy(sigmoid(x)): use the with-logits form on x",
    "ignoring the imbalance: a model that always predicts the majority class looks accurate",
    "focal loss where nothing is imbalanced: it down-weights easy examples you need",
];

fn binary(c: &Conditions, imbalance: Option<f64>) -> Recommendation {
    let ratio = imbalance.unwrap_or(1.0);
    let measured = c.labels.as_ref().map(|l| l.weights.clone());
    let pos_weight = measured.clone().unwrap_or_else(|| vec![ratio]);
    let pw = |mut ch: Choice| {
        ch.weights = Some(("pos_weight", pos_weight.clone()));
        ch
    };
    let mut variants = vec![];
    let (primary, reasoning) = if ratio >= LONG_TAIL {
        variants.push(variant(
            "you prefer to reweight rather than refocus",
            "bce_with_logits",
            vec![],
            "pos_weight = negatives / positives restores the positives' share of the gradient",
            &BCE_POS_WEIGHT,
            R_POS_WEIGHT,
        ));
        (
            vec![choice("focal", "loss", p(&[("alpha", "0.25"), ("gamma", "2")]), &FOCAL, R_FOCAL)],
            format!("The negatives outnumber the positives {}:1: the easy negatives dominate BCE. The focal loss (γ = 2) down-weights well-classified examples so the rare positives and hard negatives drive learning; α = 0.25 is RetinaNet's pairing with γ = 2.", num(ratio)),
        )
    } else if ratio >= 2.0 {
        variants.push(variant(
            "the imbalance grows past 10:1",
            "focal",
            p(&[("alpha", "0.25"), ("gamma", "2")]),
            "down-weights the many easy negatives",
            &FOCAL,
            R_FOCAL,
        ));
        (
            vec![pw(choice("bce_with_logits", "loss", vec![], &BCE_POS_WEIGHT, R_POS_WEIGHT))],
            format!("A moderate imbalance ({}:1): BCE on the logits with pos_weight = negatives / positives weighs both classes equally in the gradient without changing the loss's shape.", num(ratio)),
        )
    } else {
        variants.push(variant(
            "the positives are rare (imbalance ≥ 10:1)",
            "focal",
            p(&[("alpha", "0.25"), ("gamma", "2")]),
            "down-weights the many easy negatives",
            &FOCAL,
            R_FOCAL,
        ));
        variants.push(variant(
            "a moderate imbalance (2:1 to 10:1)",
            "bce_with_logits",
            vec![],
            "pos_weight = negatives / positives",
            &BCE_POS_WEIGHT,
            R_POS_WEIGHT,
        ));
        (
            vec![choice("bce_with_logits", "loss", vec![], &BCE, R_BCE)],
            "Binary labels: binary cross-entropy computed from the logits, whose log-sum-exp form stays finite and accurate where sigmoid-then-log underflows.".to_string(),
        )
    };
    let mut r = Recommendation {
        task: Task::Binary,
        primary,
        variants,
        reasoning,
        pitfalls: CLASS_PITFALLS.to_vec(),
        measured: Vec::new(),
    };
    if c.label_noise {
        r.reasoning.push_str(" With noisy labels, smooth the targets (y ← 0.05 + 0.9·y): BCE accepts soft targets in [0, 1].");
        r.pitfalls.push("noisy labels with hard 0/1 targets: the model is pushed to infinite logits on wrong labels");
    }
    r
}

fn multiclass(c: &Conditions, imbalance: Option<f64>) -> Recommendation {
    let ratio = imbalance.unwrap_or(1.0);
    let smoothing = "0.1";
    let mut ce = choice(
        "cross_entropy",
        "loss",
        p(&[("label_smoothing", smoothing)]),
        &CE_SMOOTHING,
        R_SMOOTHING,
    );
    let mut variants = vec![];
    let mut reasoning = "Cross-entropy on the logits is the maximum-likelihood loss for one class out of C; label smoothing 0.1 keeps the logits from growing without bound (over-confidence) and calibrates better.".to_string();
    if ratio >= 2.0 {
        ce.snippet = &CE_WEIGHTED;
        ce.reference = R_CE_WEIGHTED;
        let long_tail = ratio >= LONG_TAIL;
        ce.role = if long_tail {
            "loss, with per-class `weight` (effective number, β = 0.999, normalised)".into()
        } else {
            "loss, with per-class `weight` (inverse frequency N / (C·n_c))".into()
        };
        ce.weights = c.labels.as_ref().map(|l| ("weight", l.weights.clone()));
        reasoning.push_str(&if long_tail {
            format!(" The classes are long-tailed ({}:1): class weights from the effective number of samples (Cui et al., β = 0.999, normalised) correct the imbalance without the huge weights inverse frequency gives the rarest classes.", num(ratio))
        } else {
            format!(" The classes are imbalanced ({}:1): inverse-frequency class weights (N / (C·n_c)) give every class the same total weight.", num(ratio))
        });
        if c.labels.is_none() {
            reasoning.push_str(
                " Compute them from the training labels: `losskit weights --labels y.npy`.",
            );
        }
        variants.push(variant(
            "the imbalance is extreme (≥ 100:1) or weighting alone leaves the rare classes underfit",
            "softmax_focal",
            p(&[("gamma", "2")]),
            "down-weights the easy, mostly majority-class examples; pass per-class α",
            &SOFTMAX_FOCAL,
            R_FOCAL,
        ));
    } else {
        variants.push(variant(
            "imbalanced classes (≥ 2:1)",
            "cross_entropy",
            p(&[("label_smoothing", smoothing)]),
            "per-class `weight` from the counts (inverse frequency; effective number for long tails ≥ 10:1)",
            &CE_WEIGHTED,
            R_WEIGHTS,
        ));
    }
    variants.push(variant(
        "a tunable alternative to cross-entropy is wanted (large-scale image classification)",
        "poly1",
        p(&[("epsilon", "2")]),
        "cross-entropy + ε·(1 − p_t): ε > 0 keeps pushing confident targets, ε < 0 relaxes them",
        &POLY1,
        R_POLY1,
    ));
    variants.push(variant(
        "sparse output probabilities wanted (exact zeros) or a loss that stops once the target wins by 1",
        "sparsemax",
        vec![],
        "its gradient is sparsemax(x) − one_hot(y): classes far below the target get exactly zero gradient",
        &SPARSEMAX,
        R_SPARSEMAX,
    ));
    if c.label_noise {
        reasoning.push_str(" Label smoothing also limits the damage of noisy labels: raise it to 0.2 if validation shows memorisation.");
        variants.push(variant(
            "many labels are wrong and smoothing 0.1 is not enough",
            "cross_entropy",
            p(&[("label_smoothing", "0.2")]),
            "more smoothing bounds the loss of a confidently wrong label",
            &CE_SMOOTHING,
            R_NOISE,
        ));
    }
    Recommendation {
        task: Task::Multiclass,
        primary: vec![ce],
        variants,
        reasoning,
        pitfalls: CLASS_PITFALLS.to_vec(),
        measured: Vec::new(),
    }
}

fn multilabel(c: &Conditions, imbalance: Option<f64>) -> Recommendation {
    let ratio = imbalance.unwrap_or(1.0);
    let mut bce = choice(
        "bce_with_logits",
        "loss, one term per label",
        vec![],
        &BCE,
        R_BCE,
    );
    let mut reasoning = "Several independent yes/no labels per sample: one sigmoid and one binary cross-entropy per label (never a softmax over the labels), computed from the logits.".to_string();
    let mut variants = vec![];
    if ratio >= 2.0 {
        bce.snippet = &BCE_POS_WEIGHT;
        bce.reference = R_POS_WEIGHT;
        bce.role =
            "loss, one term per label, with per-label `pos_weight` = negatives / positives".into();
        bce.weights = c.labels.as_ref().map(|l| ("pos_weight", l.weights.clone()));
        reasoning.push_str(&format!(" Labels are imbalanced (up to {}:1): a per-label pos_weight = negatives / positives gives each label's positives the weight of its negatives.", num(ratio)));
        if c.labels.is_none() {
            reasoning.push_str(" Compute them: `losskit weights --pos-weight --targets y.npy`.");
        }
    } else {
        variants.push(variant(
            "some labels are rarely positive",
            "bce_with_logits",
            vec![],
            "per-label pos_weight = negatives / positives",
            &BCE_POS_WEIGHT,
            R_POS_WEIGHT,
        ));
    }
    variants.push(variant(
        "many labels, few positives per sample (most labels are easy negatives, ≥ 10:1)",
        "asymmetric",
        p(&[("gamma_neg", "4"), ("gamma_pos", "1"), ("clip", "0.05")]),
        "focuses the negatives hard (γ₋ = 4) but the rare positives gently (γ₊ = 1), and drops negatives already below p = 0.05",
        &ASYMMETRIC,
        R_ASL,
    ));
    variants.push(variant(
        "positives are very rare for many labels (≥ 10:1)",
        "focal",
        p(&[("alpha", "0.25"), ("gamma", "2")]),
        "per-label sigmoid focal loss down-weights the easy negatives",
        &FOCAL,
        R_FOCAL,
    ));
    variants.push(variant(
        "the labels of a sample should be ranked above its non-labels",
        "multilabel_margin",
        vec![],
        "a hinge on every (label, non-label) pair: each label should outscore each non-label by 1",
        &ML_MARGIN,
        R_ML_MARGIN,
    ));
    variants.push(variant(
        "one loss per sample (mean over its labels) with per-label weights, as PyTorch's MultiLabelSoftMarginLoss",
        "multilabel_soft_margin",
        vec![],
        "bce_with_logits averaged over the labels of each sample; `none` gives [N]",
        &ML_SOFT_MARGIN,
        R_ML_SOFT_MARGIN,
    ));
    let mut pitfalls = CLASS_PITFALLS.to_vec();
    pitfalls.push("softmax cross-entropy on multi-label targets: the labels compete for probability mass they do not share");
    let mut r = Recommendation {
        task: Task::MultiLabel,
        primary: vec![bce],
        variants,
        reasoning,
        pitfalls,
        measured: Vec::new(),
    };
    if c.label_noise {
        r.reasoning
            .push_str(" With noisy labels, smooth the targets (y ← 0.05 + 0.9·y).");
    }
    r
}

fn embedding(c: &Conditions) -> Recommendation {
    let small = c.batch_size.is_some_and(|b| b < SMALL_BATCH);
    let supcon = || {
        choice(
            "supcon",
            "loss",
            p(&[("temperature", "0.1")]),
            &LABELLED,
            R_SUPCON,
        )
    };
    let info_nce = || {
        choice(
            "info_nce",
            "loss",
            p(&[("temperature", "0.07")]),
            &INFO_NCE,
            R_INFO_NCE,
        )
    };
    let batch_hard = || {
        choice(
            "batch_hard_triplet",
            "loss",
            p(&[("margin", "0.3")]),
            &LABELLED,
            R_BATCH_HARD,
        )
    };
    let triplet = || {
        choice(
            "triplet_margin",
            "loss",
            p(&[("margin", "1")]),
            &TRIPLET,
            R_TRIPLET,
        )
    };
    let arcface = || {
        variant(
            "many classes with few samples each (face recognition, re-identification)",
            "arcface",
            p(&[("margin", "28.6"), ("scale", "64")]),
            "a softmax over learned class centres with an angular margin: every class is in every step, whatever the batch holds",
            &CLASS_CENTRES,
            R_ARCFACE,
        )
    };
    let cosface = || {
        variant(
            "many classes, and a simpler margin than arcface's angle",
            "cosface",
            p(&[("margin", "0.35"), ("scale", "64")]),
            "the same head with the margin subtracted from the cosine",
            &CLASS_CENTRES,
            R_ARCFACE,
        )
    };
    let proxy_anchor = || {
        variant(
            "retrieval with more classes than a batch can hold",
            "proxy_anchor",
            p(&[("margin", "0.1"), ("alpha", "32")]),
            "one learned proxy per class stands in for the class: fast convergence without pair mining",
            &CLASS_CENTRES,
            R_PROXY_ANCHOR,
        )
    };
    let as_variant =
        |ch: Choice, when, why| variant(when, ch.loss, ch.params, why, ch.snippet, ch.reference);
    let (primary, reasoning, variants) = match (small, c.supervised) {
        (false, false) => (
            info_nce(),
            "Without labels, InfoNCE learns from pairs of views: each query's positive is its own key and every other key in the batch is a negative, so a large batch (hundreds or more) supplies many negatives; τ = 0.07 sharpens the softmax over them.".to_string(),
            vec![
                as_variant(triplet(), "the batch is small (< 64)", "a triplet needs one negative, not hundreds"),
                as_variant(supcon(), "class labels are available", "every same-class sample becomes a positive"),
            ],
        ),
        (false, true) => (
            supcon(),
            "With labels and a large batch, the supervised contrastive loss treats every same-class sample in the batch as a positive and the rest as negatives: more signal per batch than one positive per anchor (τ = 0.1).".to_string(),
            vec![
                as_variant(batch_hard(), "the batch is small (< 64)", "needs only P classes × K samples per batch"),
                as_variant(info_nce(), "the labels are unreliable", "self-supervised pairs need no labels"),
                arcface(),
                cosface(),
                proxy_anchor(),
            ],
        ),
        (true, true) => (
            batch_hard(),
            format!("A small batch ({}) holds too few negatives for a contrastive softmax; with labels, batch-hard triplet mining takes each anchor's hardest positive and hardest negative inside a P×K batch (margin 0.3).", c.batch_size.unwrap_or(0)),
            vec![
                as_variant(supcon(), "the batch grows past 64", "uses every positive and negative in the batch"),
                as_variant(triplet(), "triplets are mined outside the batch", "explicit (anchor, positive, negative) rows"),
                arcface(),
                proxy_anchor(),
            ],
        ),
        (true, false) => (
            triplet(),
            format!("A small batch ({}) holds too few negatives for InfoNCE; the triplet loss needs one negative per anchor: pull the positive within the margin of the negative.", c.batch_size.unwrap_or(0)),
            vec![
                as_variant(info_nce(), "the batch can grow past 64 (or a memory queue, MoCo)", "many negatives per anchor"),
                as_variant(batch_hard(), "class labels are available", "mines the hardest triplets in the batch"),
            ],
        ),
    };
    let mut variants = variants;
    // The pair-mining losses: every pair of a labelled batch, weighted toward the hard ones.
    let mining = |when, loss, params: &[(&'static str, &str)], why, reference| {
        variant(when, loss, p(params), why, &PAIR_MINING, reference)
    };
    match (small, c.supervised) {
        (false, true) => {
            variants.push(mining(
                "retrieval or re-identification scored by recall@k, with P×K batches",
                "multi_similarity",
                &[("alpha", "2"), ("beta", "50"), ("base", "0.5")],
                "weights each pair by how hard it is among the anchor's pairs (self- and relative similarity), no separate miner",
                R_MULTI_SIMILARITY,
            ));
            variants.push(mining(
                "face recognition or re-identification, where hard pairs should dominate",
                "circle",
                &[("m", "0.25"), ("gamma", "256")],
                "re-weights each similarity by its distance from its own optimum, so positives and negatives get separate targets",
                R_CIRCLE,
            ));
        }
        (true, true) => variants.push(mining(
            "the single hardest negative is often a mislabelled sample",
            "lifted_structure",
            &[("neg_margin", "1")],
            "a smooth maximum over every negative of both ends of a positive pair instead of one hardest negative",
            R_LIFTED,
        )),
        (true, false) => variants.push(mining(
            "pairs can be drawn from N distinct classes, one pair each",
            "npairs",
            &[],
            "every other pair's positive is a negative: N − 1 negatives per anchor for 2N embeddings, where a triplet has one",
            R_NPAIRS,
        )),
        (false, false) => {}
    }
    Recommendation {
        task: Task::Embedding,
        primary: vec![primary],
        variants,
        reasoning,
        pitfalls: vec![
            "InfoNCE with a small batch: too few negatives, weak gradients",
            "a temperature far from 0.05–0.2 without tuning: too flat or too peaked a softmax",
            "triplets chosen at random: most are already satisfied and give zero gradient (mine hard ones)",
            "unnormalised embeddings with cosine-based losses' temperatures tuned for unit vectors",
        ],
        measured: Vec::new(),
    }
}

fn sequence() -> Recommendation {
    Recommendation {
        task: Task::Sequence,
        primary: vec![choice("ctc", "loss", p(&[("blank", "0")]), &CTC, R_CTC)],
        variants: Vec::new(),
        reasoning: "Without frame-level alignments, CTC sums the probability of every alignment of the label sequence to the frames (a blank between labels, repeats merged), so the model learns the alignment itself; it takes per-frame log-probabilities (a log_softmax over the classes, the blank included).".to_string(),
        pitfalls: vec![
            "log_probs must be log_softmax outputs, time-major [T, N, C]: raw logits or batch-major input give a wrong loss",
            "too few frames for a target (downsampling encoders): the loss is +inf; give zero_infinity or keep T ≥ target length + repeats",
            "a label equal to the blank index: reserve the blank (class 0 by default) in the vocabulary",
        ],
        measured: Vec::new(),
    }
}

fn ranking() -> Recommendation {
    Recommendation {
        task: Task::Ranking,
        primary: vec![choice("listnet", "loss", Vec::new(), &LISTNET, R_LISTNET)],
        variants: vec![variant(
            "only the order of the relevance is meaningful (clicks turned into an order, ranks)",
            "listmle",
            Vec::new(),
            "the Plackett–Luce likelihood of the order ignores the relevance values",
            &LISTNET,
            R_LISTMLE,
        )],
        reasoning: "A listwise loss scores each query's candidates together: ListNet matches the softmax of the scores to the softmax of the graded relevance, a smooth objective that puts most of its weight on the top of the list, where ranking metrics (NDCG) look.".to_string(),
        pitfalls: vec![
            "the relevance goes through a softmax: its scale is a temperature (rescale 0..4 grades if the top item should dominate more or less)",
            "padded candidates scored like real ones take probability mass: pass the mask",
            "`mean` averages over lists: long and short lists weigh the same",
        ],
        measured: Vec::new(),
    }
}

fn recommender() -> Recommendation {
    Recommendation {
        task: Task::Recommender,
        primary: vec![choice("bpr", "loss", Vec::new(), &BPR, R_BPR)],
        variants: vec![variant(
            "graded feedback on whole candidate lists (ratings, dwell time per impression)",
            "listnet",
            Vec::new(),
            "uses every candidate of the list at once instead of one sampled pair",
            &LISTNET,
            R_LISTNET,
        )],
        reasoning: "With implicit feedback there are no explicit negatives: BPR compares each observed item with a sampled unobserved one for the same user and maximises the probability that the observed one scores higher, which optimises the ranking (AUC) directly rather than a pointwise label.".to_string(),
        pitfalls: vec![
            "uniform negative sampling: most sampled items are easy and the gradient fades; sample by popularity or mine harder negatives",
            "the paper's L2 regulariser is not in the loss: use weight decay on the embeddings",
            "evaluating on items seen in training: hold out interactions per user",
        ],
        measured: Vec::new(),
    }
}

fn segmentation(c: &Conditions) -> Recommendation {
    let tversky = || {
        choice(
            "tversky",
            "loss",
            p(&[("alpha", "0.3"), ("beta", "0.7")]),
            &TVERSKY,
            R_TVERSKY,
        )
    };
    let focal_tversky = || {
        choice(
            "focal_tversky",
            "loss",
            p(&[("alpha", "0.3"), ("beta", "0.7"), ("gamma", "0.75")]),
            &TVERSKY,
            R_FOCAL_TVERSKY,
        )
    };
    let bce_dice = || {
        choice(
            "bce_dice",
            "loss",
            p(&[("bce_weight", "1"), ("dice_weight", "1")]),
            &BCE_DICE,
            R_BCE_DICE,
        )
    };
    let as_variant =
        |ch: Choice, when, why| variant(when, ch.loss, ch.params, why, ch.snippet, ch.reference);
    // Shape-aware terms, added to the region loss whatever the object size.
    let shape = || {
        [
            variant(
                "the structures are thin or tubular (vessels, roads, neurons) and must stay connected",
                "soft_cldice",
                p(&[("iterations", "3")]),
                "added to Dice on the probabilities: the skeletons' overlap penalises breaks that barely move Dice",
                &SHAPE_AWARE,
                R_CLDICE,
            ),
            variant(
                "the boundary must be accurate (the Hausdorff distance is the metric)",
                "hausdorff_dt",
                p(&[("alpha", "2")]),
                "errors far from the boundaries cost by their squared distance; add it to Dice late in training (distance transforms at every step)",
                &SHAPE_AWARE,
                R_HAUSDORFF,
            ),
            variant(
                "the classes are related (nested regions, ordered grades): a near miss should cost less",
                "generalized_wasserstein_dice",
                p(&[("weighting_mode", "default")]),
                "a wrong class costs its distance to the right one (a C×C `dist_matrix` input)",
                &RELATED_CLASSES,
                R_WASSERSTEIN,
            ),
        ]
    };
    let (primary, reasoning, variants) = if c.small_objects {
        (
            tversky(),
            "Small objects make false negatives cheap for Dice (a missed 20-pixel lesion barely moves the overlap of a large image): Tversky weighs false negatives by β = 0.7 against false positives by α = 0.3, raising recall.".to_string(),
            vec![
                as_variant(focal_tversky(), "the small objects are also hard (low Tversky index for long)", "the exponent γ = 0.75 focuses on the poorly segmented cases"),
                as_variant(bce_dice(), "training is unstable early", "the BCE term gives smooth per-pixel gradients"),
            ].into_iter().chain(shape()).collect(),
        )
    } else {
        (
            bce_dice(),
            "Dice handles the foreground/background imbalance of masks but its gradient is unstable when predictions are near empty; adding BCE gives smooth per-pixel gradients while Dice keeps the overlap objective (the nnU-Net default).".to_string(),
            vec![
                as_variant(tversky(), "objects are small (small objects)", "false negatives weigh more than false positives (β > α)"),
                as_variant(focal_tversky(), "small and hard objects", "focuses on poorly segmented cases"),
            ].into_iter().chain(shape()).collect(),
        )
    };
    Recommendation {
        task: Task::Segmentation,
        primary: vec![primary],
        variants,
        reasoning,
        pitfalls: vec![
            "Dice alone as the loss: unstable gradients when the prediction is near empty; combine with BCE",
            "Dice on logits instead of probabilities: apply sigmoid/softmax first (the `activation` parameter)",
            "the background class in a multi-class Dice: it dominates the average; `include_background=false`",
        ],
        measured: Vec::new(),
    }
}

fn detection(c: &Conditions) -> Recommendation {
    let focal = choice(
        "focal",
        "class term",
        p(&[("alpha", "0.25"), ("gamma", "2")]),
        &FOCAL,
        R_FOCAL,
    );
    let (box_loss, snippet, reference, why): (&'static str, &'static Snippet, &'static str, &str) =
        if c.aspect_ratios {
            ("ciou", &BOX_IOU, R_CIOU, "CIoU adds an aspect-ratio term to DIoU, so boxes of very different shapes converge to the right width/height ratio (YOLOv4/v5).")
        } else if c.slow_convergence {
            ("diou", &BOX_IOU, R_DIOU, "DIoU adds the normalised centre distance, which keeps a gradient when a box contains the target (where GIoU degenerates to IoU) and converges faster.")
        } else {
            ("giou", &BOX_IOU, R_GIOU, "GIoU is 1 − IoU plus the empty share of the enclosing box, so non-overlapping boxes still get a gradient towards the target.")
        };
    let mut variants = vec![];
    for (name, sn, rf, when, vwhy) in [
        (
            "giou",
            &BOX_IOU,
            R_GIOU,
            "the default box term",
            "gradient even without overlap",
        ),
        (
            "diou",
            &BOX_IOU,
            R_DIOU,
            "box regression converges slowly",
            "centre-distance term: faster convergence",
        ),
        (
            "ciou",
            &BOX_IOU,
            R_CIOU,
            "boxes of very different aspect ratios",
            "adds an aspect-ratio term",
        ),
    ] {
        if name != box_loss {
            variants.push(variant(when, name, vec![], vwhy, sn, rf));
        }
    }
    variants.push(variant(
        "box deltas are regressed directly (Faster R-CNN, RetinaNet's original head)",
        "smooth_l1",
        p(&[("beta", "0.1111")]),
        "RetinaNet used smooth L1 with β = 1/9 on normalised box deltas",
        &SMOOTH_L1,
        R_FOCAL,
    ));
    Recommendation {
        task: Task::Detection,
        primary: vec![
            focal,
            choice(box_loss, "box term", vec![], snippet, reference),
        ],
        variants,
        reasoning: format!(
            "A dense detector scores thousands of anchors, almost all background: the focal loss (α = 0.25, γ = 2) on the class logits keeps the easy negatives from swamping the few objects (RetinaNet); normalise it by the number of positive anchors. {why}{}",
            if c.imbalance.is_some_and(|r| r < 2.0) {
                " With foreground and background nearly balanced (a two-stage detector's sampled proposals), γ can drop to 0–1."
            } else {
                ""
            }
        ),
        pitfalls: vec![
            "cross-entropy over all anchors without focal loss or hard-negative mining: the background wins",
            "normalising the focal loss by all anchors instead of the positive ones: the loss vanishes",
            "IoU loss alone: zero gradient for boxes that do not overlap the target",
            "boxes in the wrong format (xywh vs xyxy): the loss is computed on nonsense boxes",
        ],
        measured: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(r: &Recommendation) -> Vec<&'static str> {
        r.primary.iter().map(|c| c.loss).collect()
    }

    #[test]
    fn every_row_of_the_brief_table_and_its_variants() {
        let none = Conditions::default();
        let with = |f: fn(&mut Conditions)| {
            let mut c = Conditions::default();
            f(&mut c);
            c
        };
        // Regression: the default (Huber), normal → MSE, outliers → Huber, robust → MAE.
        assert_eq!(
            names(&recommend(Task::Regression, &none).unwrap()),
            ["huber"]
        );
        assert_eq!(
            names(&recommend(Task::Regression, &with(|c| c.gaussian = true)).unwrap()),
            ["mse"]
        );
        assert_eq!(
            names(&recommend(Task::Regression, &with(|c| c.outliers = true)).unwrap()),
            ["huber"]
        );
        assert_eq!(
            names(&recommend(Task::Regression, &with(|c| c.robust = true)).unwrap()),
            ["mae"]
        );
        let q = recommend(Task::Regression, &with(|c| c.quantiles = vec![0.1, 0.9])).unwrap();
        assert_eq!(names(&q), ["quantile", "quantile"]);
        assert_eq!(q.primary[1].params, [("tau", "0.9".to_string())]);
        // Binary: BCE with logits; imbalance → focal.
        assert_eq!(
            names(&recommend(Task::Binary, &none).unwrap()),
            ["bce_with_logits"]
        );
        let b = recommend(Task::Binary, &with(|c| c.imbalance = Some(50.0))).unwrap();
        assert_eq!(names(&b), ["focal"]);
        assert_eq!(b.primary[0].params, p(&[("alpha", "0.25"), ("gamma", "2")]));
        let m = recommend(Task::Binary, &with(|c| c.imbalance = Some(4.0))).unwrap();
        assert_eq!(m.primary[0].weights, Some(("pos_weight", vec![4.0])));
        // Multiclass: CE + label smoothing 0.1; imbalance → class weights.
        let mc = recommend(Task::Multiclass, &none).unwrap();
        assert_eq!(mc.primary[0].params, p(&[("label_smoothing", "0.1")]));
        let mi = recommend(Task::Multiclass, &with(|c| c.imbalance = Some(50.0))).unwrap();
        assert_eq!(mi.primary[0].snippet.name, "cross_entropy_weighted");
        assert!(mi.reasoning.contains("effective number"));
        // Multi-label: BCE per class.
        assert_eq!(
            names(&recommend(Task::MultiLabel, &none).unwrap()),
            ["bce_with_logits"]
        );
        // Embedding: InfoNCE; small batch → triplet.
        assert_eq!(
            names(&recommend(Task::Embedding, &none).unwrap()),
            ["info_nce"]
        );
        assert_eq!(
            names(&recommend(Task::Embedding, &with(|c| c.batch_size = Some(16))).unwrap()),
            ["triplet_margin"]
        );
        let sup = with(|c| c.supervised = true);
        assert_eq!(
            names(&recommend(Task::Embedding, &sup).unwrap()),
            ["supcon"]
        );
        let small_sup = with(|c| {
            c.supervised = true;
            c.batch_size = Some(32)
        });
        assert_eq!(
            names(&recommend(Task::Embedding, &small_sup).unwrap()),
            ["batch_hard_triplet"]
        );
        // Segmentation: BCE + Dice; small objects → Tversky.
        assert_eq!(
            names(&recommend(Task::Segmentation, &none).unwrap()),
            ["bce_dice"]
        );
        let small = recommend(Task::Segmentation, &with(|c| c.small_objects = true)).unwrap();
        assert_eq!(names(&small), ["tversky"]);
        assert!(small.variants.iter().any(|v| v.loss == "focal_tversky"));
        for r in [&small, &recommend(Task::Segmentation, &none).unwrap()] {
            assert!(r.losses().contains(&"soft_cldice") && r.losses().contains(&"hausdorff_dt"));
            assert!(r.losses().contains(&"generalized_wasserstein_dice"));
        }
        // Detection: focal + GIoU; DIoU, CIoU variants.
        let d = recommend(Task::Detection, &none).unwrap();
        assert_eq!(names(&d), ["focal", "giou"]);
        assert!(d.losses().contains(&"diou") && d.losses().contains(&"ciou"));
        assert_eq!(
            names(&recommend(Task::Detection, &with(|c| c.aspect_ratios = true)).unwrap()),
            ["focal", "ciou"]
        );
    }

    #[test]
    fn every_rule_has_a_reference_and_a_snippet_and_pitfalls() {
        for task in Task::ALL {
            let r = recommend(task, &Conditions::default()).unwrap();
            assert!(!r.pitfalls.is_empty() && r.reasoning.len() > 40, "{task}");
            for ch in &r.primary {
                assert!(!ch.reference.is_empty() && !ch.snippet.code.is_empty());
            }
            for v in &r.variants {
                assert!(!v.reference.is_empty() && !v.snippet.code.is_empty());
            }
        }
    }

    #[test]
    fn measured_labels_and_targets_drive_the_advice() {
        let mut labels = vec![0.0; 95];
        labels.extend(vec![1.0; 5]);
        let stats = LabelStats::from_labels(Task::Binary, &labels, &[100]).unwrap();
        let c = Conditions {
            labels: Some(stats),
            ..Conditions::default()
        };
        let r = recommend(Task::Binary, &c).unwrap();
        assert_eq!(names(&r), ["focal"]);
        assert!(r.measured[0].contains("imbalance 19"), "{:?}", r.measured);
        let y: Vec<f64> = (0..1000).map(|i| ((i * 37) % 101) as f64 / 10.0).collect();
        let mut y2 = y.clone();
        for v in y2.iter_mut().step_by(20) {
            *v = 1e3;
        }
        let t = TargetStats::from_targets(&y2).unwrap();
        let delta = t.huber_delta();
        let r = recommend(
            Task::Regression,
            &Conditions {
                targets: Some(t),
                ..Conditions::default()
            },
        )
        .unwrap();
        assert_eq!(names(&r), ["huber"]);
        assert_eq!(r.primary[0].params, [("delta", num(delta))]);
    }

    #[test]
    fn bad_conditions_are_errors() {
        let e = recommend(
            Task::Regression,
            &Conditions {
                gaussian: true,
                outliers: true,
                ..Conditions::default()
            },
        )
        .unwrap_err();
        assert!(matches!(e, Error::ConflictingConditions { .. }));
        let e = recommend(
            Task::Regression,
            &Conditions {
                small_objects: true,
                ..Conditions::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.to_string(), "recommend: `--small-objects` does not apply to task `regression` (only to segmentation)");
        assert!(recommend(
            Task::Binary,
            &Conditions {
                imbalance: Some(0.5),
                ..Conditions::default()
            }
        )
        .is_err());
        assert!(recommend(
            Task::Regression,
            &Conditions {
                quantiles: vec![1.5],
                ..Conditions::default()
            }
        )
        .is_err());
        assert_eq!("multi-label".parse::<Task>().unwrap(), Task::MultiLabel);
        assert!("classification".parse::<Task>().is_err());
    }
}
