//! Classification losses: binary and multi-label (logits against targets in [0, 1]),
//! multiclass (logits against class indices or probabilities), margins and divergences.

mod bce;
mod binary;
mod binary_catalogue;
mod focal;
mod margin;
mod multiclass;

pub use bce::{Bce, BceWithLogits};
pub use binary::BinaryInputs;
pub use focal::Focal;
pub use margin::{Hinge, MarginRanking, RankingInputs, SoftMargin, SquaredHinge};

pub(crate) use binary::CATALOGUE as BINARY_CATALOGUE;
pub(crate) use multiclass::CATALOGUE as MULTICLASS_CATALOGUE;
