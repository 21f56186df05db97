//! Seeded property tests, one module per family.

mod binary;
mod metric;
mod multiclass;
mod regression;
mod segmentation;
