//! Classification losses: binary and multi-label (logits against targets in [0, 1]),
//! multiclass (logits against class indices or probabilities), margins and divergences.

mod binary;
mod cross_entropy;
mod kl_div;
mod multi_margin;
mod multiclass;
mod nll;
mod soft_target;
mod softmax;
mod softmax_focal;

pub(crate) use binary::CATALOGUE as BINARY_CATALOGUE;
pub use cross_entropy::CrossEntropy;
pub use kl_div::{KlDiv, KlReduction};
pub use multi_margin::MultiMargin;
pub(crate) use multiclass::CATALOGUE as MULTICLASS_CATALOGUE;
pub use multiclass::{ClassInputs, ClassTarget};
pub use nll::Nll;
pub use softmax_focal::SoftmaxFocal;
