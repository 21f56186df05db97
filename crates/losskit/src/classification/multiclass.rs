//! Multiclass losses: cross-entropy and its relatives.

use crate::catalogue::LossInfo;

pub(crate) const CATALOGUE: &[LossInfo] = &[];
