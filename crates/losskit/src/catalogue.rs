//! The catalogue: one entry per loss, the single source the CLI (`list`, `explain`, `eval`)
//! and the decision guide are driven by.
//!
//! Adding a loss is adding its type and one [`LossInfo`] to its family's list.

use core::fmt;

use crate::evaluator::Evaluator;
use crate::hessian::HessianInfo;
use crate::sample::{Rng, Sample};

/// A loss's input generator: about `size` prediction elements, drawn from `rng`, valid at the
/// loss's default parameters.
pub type SampleFn = fn(size: usize, rng: &mut Rng) -> Sample;
use crate::reduction::ReductionMode;

/// The task a loss belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// Real-valued targets.
    Regression,
    /// Class labels, binary and multi-label targets.
    Classification,
    /// Embeddings.
    MetricLearning,
    /// Dense masks.
    Segmentation,
    /// Bounding boxes.
    Detection,
    /// Scored lists and preference pairs (learning to rank, recommenders).
    Ranking,
    /// Label sequences over frames (speech, handwriting).
    Sequence,
}

impl Family {
    /// The lowercase name: `"regression"`, `"classification"`, `"metric_learning"`,
    /// `"segmentation"`, `"detection"`, `"ranking"`, `"sequence"`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Regression => "regression",
            Family::Classification => "classification",
            Family::MetricLearning => "metric_learning",
            Family::Segmentation => "segmentation",
            Family::Detection => "detection",
            Family::Ranking => "ranking",
            Family::Sequence => "sequence",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What an input is to the loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Role {
    /// A model output: gradients exist for it. The first prediction input decides the
    /// compute type (f64 if it is float64, else f32).
    Prediction,
    /// What the prediction is compared with.
    Target,
    /// A weight (element-wise, per class, per label): no gradient.
    Weight,
}

/// The element types an input takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InputKind {
    /// Floating point (integers and booleans are converted for non-prediction inputs).
    Float,
    /// Integer class indices (int32, int64, uint8 or bool).
    Index,
    /// Either class indices (integers) or probabilities (floats), told apart by dtype.
    FloatOrIndex,
}

/// One input of a loss.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    /// The name (`input`, `target`, `weight`, …), as the CLI's `--input NAME=FILE` takes it.
    pub name: &'static str,
    /// What it is to the loss.
    pub role: Role,
    /// The element types it takes.
    pub kind: InputKind,
    /// Whether it must be given.
    pub required: bool,
    /// Its shape, e.g. "`[N, C, d1, ...]`" or "same as `input`".
    pub shape: &'static str,
}

/// One end of a parameter's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// No bound.
    Unbounded,
    /// The value itself is allowed.
    Inclusive(f64),
    /// The value itself is not allowed.
    Exclusive(f64),
}

/// The range of a numeric parameter (NaN and infinities are always rejected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower end.
    pub lo: Bound,
    /// Upper end.
    pub hi: Bound,
}

impl Range {
    /// Any finite value.
    pub const ANY: Range = Range {
        lo: Bound::Unbounded,
        hi: Bound::Unbounded,
    };
    /// `> 0`.
    pub const POSITIVE: Range = Range {
        lo: Bound::Exclusive(0.0),
        hi: Bound::Unbounded,
    };
    /// `≥ 0`.
    pub const NON_NEGATIVE: Range = Range {
        lo: Bound::Inclusive(0.0),
        hi: Bound::Unbounded,
    };
    /// `(0, 1)`.
    pub const OPEN_UNIT: Range = Range {
        lo: Bound::Exclusive(0.0),
        hi: Bound::Exclusive(1.0),
    };
    /// `[0, 1]`.
    pub const UNIT: Range = Range {
        lo: Bound::Inclusive(0.0),
        hi: Bound::Inclusive(1.0),
    };

    /// Whether `v` lies in the range (finite values only).
    pub fn contains(&self, v: f64) -> bool {
        let lo = match self.lo {
            Bound::Unbounded => true,
            Bound::Inclusive(a) => v >= a,
            Bound::Exclusive(a) => v > a,
        };
        let hi = match self.hi {
            Bound::Unbounded => true,
            Bound::Inclusive(b) => v <= b,
            Bound::Exclusive(b) => v < b,
        };
        v.is_finite() && lo && hi
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.lo, self.hi) {
            (Bound::Unbounded, Bound::Unbounded) => f.write_str("finite"),
            (Bound::Inclusive(a), Bound::Unbounded) => write!(f, ">= {a}"),
            (Bound::Exclusive(a), Bound::Unbounded) => write!(f, "> {a}"),
            (Bound::Unbounded, Bound::Inclusive(b)) => write!(f, "<= {b}"),
            (Bound::Unbounded, Bound::Exclusive(b)) => write!(f, "< {b}"),
            (lo, hi) => {
                let (l, a) = match lo {
                    Bound::Inclusive(a) => ('[', a),
                    Bound::Exclusive(a) => ('(', a),
                    Bound::Unbounded => ('(', f64::NEG_INFINITY),
                };
                let (r, b) = match hi {
                    Bound::Inclusive(b) => (']', b),
                    Bound::Exclusive(b) => (')', b),
                    Bound::Unbounded => (')', f64::INFINITY),
                };
                write!(f, "in {l}{a}, {b}{r}")
            }
        }
    }
}

/// The type, default and range of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ParamKind {
    /// A real number.
    Float {
        /// The default (the reference library's).
        default: f64,
        /// The allowed values.
        range: Range,
    },
    /// An integer.
    Int {
        /// The default.
        default: i64,
        /// The allowed values.
        range: Range,
    },
    /// `true` or `false`.
    Bool {
        /// The default.
        default: bool,
    },
    /// One word out of a list.
    Choice {
        /// The default.
        default: &'static str,
        /// The words allowed.
        options: &'static [&'static str],
    },
}

/// One parameter of a loss.
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The name, as `--param NAME=VALUE` takes it.
    pub name: &'static str,
    /// Type, default and range.
    pub kind: ParamKind,
    /// One line on what it does.
    pub doc: &'static str,
}

/// The axis `losskit plot` draws losses on: losses plotted together must share it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotAxis {
    /// What a point of the axis is (the axis's label, and its identity).
    pub label: &'static str,
    /// The default range, `(lo, hi)`.
    pub range: (f64, f64),
}

impl PlotAxis {
    /// The residual `input − target` of a pointwise loss.
    pub const RESIDUAL: PlotAxis = PlotAxis {
        label: "residual e = input − target",
        range: (-3.0, 3.0),
    };
    /// The log-rate of a Poisson loss against a count of 2.
    pub const LOG_RATE: PlotAxis = PlotAxis {
        label: "input (log rate), target 2",
        range: (-2.0, 3.0),
    };
    /// The margin of the true class's logit.
    pub const MARGIN: PlotAxis = PlotAxis {
        label: "margin y·z (logit z of the true class, target 1)",
        range: (-4.0, 4.0),
    };
    /// A predicted probability of the true label.
    pub const PROBABILITY: PlotAxis = PlotAxis {
        label: "predicted probability p of the true label",
        range: (0.01, 0.99),
    };
    /// The log-probability of the target class.
    pub const LOG_PROBABILITY: PlotAxis = PlotAxis {
        label: "log-probability of class 0 (target class 0)",
        range: (-5.0, -0.01),
    };
    /// An embedding distance.
    pub const DISTANCE: PlotAxis = PlotAxis {
        label: "distance to the positive (negative at distance 1)",
        range: (0.0, 2.5),
    };
    /// The logit on an object's pixels.
    pub const OVERLAP: PlotAxis = PlotAxis {
        label: "logit on the object's pixels (−logit on the background)",
        range: (-4.0, 4.0),
    };
    /// The offset of a predicted box from its target.
    pub const BOX_OFFSET: PlotAxis = PlotAxis {
        label: "horizontal offset of the predicted box (box widths)",
        range: (-2.0, 2.0),
    };
}

/// How `losskit plot` draws a loss: its axis, and its inputs at each point of the axis. The
/// plotted gradient is that of the first element of the first prediction input.
#[derive(Debug, Clone, Copy)]
pub struct Plot {
    /// The axis.
    pub axis: PlotAxis,
    /// The loss's inputs at axis point `x` (valid at the default parameters).
    pub at: fn(x: f64) -> Sample,
}

/// One place where a pointwise loss's gradient jumps, as a residual `e = input − target`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kink {
    /// `e = 0`.
    Zero,
    /// `|e|` equal to the named parameter (`delta`, `beta`, …).
    Param(&'static str),
}

/// Where a loss's gradient jumps: the checks against finite differences step around it. A
/// continuous gradient whose own derivative jumps (huber's at |e| = δ) counts as smooth:
/// central differences agree there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kinks {
    /// A continuous gradient everywhere on its domain.
    Smooth,
    /// At these residuals `input − target` (pointwise losses).
    Residual(&'static [Kink]),
    /// Elsewhere, as described (a hinge, a clamp, a sort): found numerically by
    /// [`gradcheck`](crate::gradcheck), which skips elements where the one-sided differences
    /// disagree.
    Described(&'static str),
}

impl Kinks {
    /// Whether residual `e` lies within `tol` of a kink at parameters `params`; always false
    /// for [`Kinks::Smooth`] and [`Kinks::Described`].
    pub fn near(&self, params: &crate::evaluator::Params, e: f64, tol: f64) -> bool {
        let Kinks::Residual(kinks) = self else {
            return false;
        };
        kinks.iter().any(|k| {
            let at = match k {
                Kink::Zero => 0.0,
                Kink::Param(name) => params.float(name),
            };
            (e.abs() - at).abs() < tol
        })
    }
}

/// What a NaN in an input does. The rule for every loss (`docs/spec/losses.md`): a NaN in any
/// float input gives a NaN value and a NaN in every gradient asked for, never a finite number
/// and never an error; these are the exceptions, each exact mathematics or a label contract.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NanRule {
    /// (input, the values it takes): label inputs whose contract is a discrete set, where a
    /// NaN is refused with an error like any other value outside the set.
    pub refused: &'static [(&'static str, &'static str)],
    /// Predictions in which the loss is linear (for some elements or all): their gradient does
    /// not read their values there, so a NaN there need not reach it.
    pub linear_in: &'static [&'static str],
    /// The loss reads one entry of each row of `input` (the target class's): a NaN elsewhere
    /// in the row is not part of it.
    pub selects: bool,
}

impl NanRule {
    /// NaN propagates from every float input to the value and every gradient.
    pub const PROPAGATES: NanRule = NanRule {
        refused: &[],
        linear_in: &[],
        selects: false,
    };
}

/// Everything the catalogue knows about one loss.
#[derive(Clone, Copy)]
pub struct LossInfo {
    /// The canonical snake_case name (`huber`).
    pub name: &'static str,
    /// The task.
    pub family: Family,
    /// One line.
    pub summary: &'static str,
    /// The inputs, predictions first.
    pub inputs: &'static [InputSpec],
    /// The parameters.
    pub params: &'static [ParamSpec],
    /// The reductions it takes (`mean` first: the default).
    pub reductions: &'static [ReductionMode],
    /// The definition, in plain-text math.
    pub formula: &'static str,
    /// The gradient with respect to each prediction.
    pub gradient: &'static str,
    /// When to reach for it.
    pub when_to_use: &'static str,
    /// The classic mistakes around it.
    pub pitfalls: &'static [&'static str],
    /// The paper and the library whose numbers it matches.
    pub reference: &'static str,
    pub(crate) eval: Evaluator,
    /// The second derivative with respect to `input`, for the losses that have one
    /// ([`evaluate_hess`](crate::evaluate_hess), `value_grad_hess`).
    pub hessian: Option<HessianInfo>,
    /// Generates valid inputs of about `size` prediction elements at the default parameters
    /// (what `bench`, `gradcheck` and `plot` run the loss on).
    pub sample: SampleFn,
    /// How `losskit plot` draws it; `None`: along the first element of its first prediction,
    /// the other inputs held at a generated sample.
    pub plot: Option<Plot>,
    /// Where its gradient is not defined.
    pub kinks: Kinks,
    /// What a NaN in its inputs does.
    pub nan: NanRule,
}

impl fmt::Debug for LossInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LossInfo")
            .field("name", &self.name)
            .field("family", &self.family)
            .finish()
    }
}

impl LossInfo {
    /// The input called `name`.
    pub fn input(&self, name: &str) -> Option<&'static InputSpec> {
        self.inputs.iter().find(|i| i.name == name)
    }

    /// The parameter called `name`.
    pub fn param(&self, name: &str) -> Option<&'static ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The names of the inputs that have gradients.
    pub fn predictions(&self) -> Vec<&'static str> {
        self.inputs
            .iter()
            .filter(|i| i.role == Role::Prediction)
            .map(|i| i.name)
            .collect()
    }
}

/// The standard reductions: `mean`, `sum` and per-element output.
pub(crate) const STANDARD_REDUCTIONS: &[ReductionMode] =
    &[ReductionMode::Mean, ReductionMode::Sum, ReductionMode::None];

/// The candidate within edit distance 2 (or a third of the name) of `name`, if any.
pub(crate) fn closest(
    name: &str,
    candidates: impl Iterator<Item = &'static str>,
) -> Option<&'static str> {
    let limit = (name.chars().count() / 3).max(2);
    candidates
        .map(|c| (edit_distance(name, c), c))
        .filter(|&(d, _)| d <= limit)
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
