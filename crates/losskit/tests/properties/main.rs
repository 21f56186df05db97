//! Seeded property tests, one module per family.

mod binary;
mod multiclass;
mod regression;
mod segmentation;
