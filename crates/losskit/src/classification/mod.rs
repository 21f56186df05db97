//! Classification losses: binary and multi-label (logits against targets in [0, 1]),
//! multiclass (logits against class indices or probabilities), margins and divergences.

mod binary;
mod multiclass;

pub(crate) use binary::CATALOGUE as BINARY_CATALOGUE;
pub(crate) use multiclass::CATALOGUE as MULTICLASS_CATALOGUE;
