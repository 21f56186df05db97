//! Binary and multi-label losses, and the margin losses on ±1 targets.

use crate::catalogue::LossInfo;

pub(crate) const CATALOGUE: &[LossInfo] = &[];
