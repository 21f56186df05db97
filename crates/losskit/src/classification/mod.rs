//! Classification losses: binary and multi-label (logits against targets in [0, 1]),
//! multiclass (logits against class indices or probabilities), margins and divergences.

mod asymmetric;
mod bce;
mod binary;
mod binary_catalogue;
mod cross_entropy;
mod focal;
mod kl_div;
mod margin;
mod multi_margin;
mod multiclass;
mod multilabel_margin;
mod multilabel_soft_margin;
mod nll;
mod poly1;
mod soft_target;
mod softmax;
mod softmax_focal;
mod softmax_hess;
mod sparsemax;

pub use asymmetric::Asymmetric;
pub use bce::{Bce, BceWithLogits};
pub use binary::BinaryInputs;
pub use focal::Focal;
pub use margin::{Hinge, HingeEmbedding, MarginRanking, RankingInputs, SoftMargin, SquaredHinge};

pub(crate) use binary::CATALOGUE as BINARY_CATALOGUE;
pub use cross_entropy::CrossEntropy;
pub use kl_div::{KlDiv, KlReduction};
pub use multi_margin::MultiMargin;
pub use multiclass::{ClassInputs, ClassTarget};
pub use multilabel_margin::MultilabelMargin;
pub use multilabel_soft_margin::MultilabelSoftMargin;
pub use nll::Nll;
pub use poly1::Poly1;
pub use softmax_focal::SoftmaxFocal;
pub use sparsemax::Sparsemax;

/// The multiclass losses' catalogue entries, in the order `losskit list` shows them.
pub(crate) const MULTICLASS_CATALOGUE: &[crate::catalogue::LossInfo] = &[
    cross_entropy::INFO,
    nll::INFO,
    softmax_focal::INFO,
    multi_margin::INFO,
    kl_div::INFO,
    poly1::INFO,
    sparsemax::INFO,
    multilabel_margin::INFO,
];
