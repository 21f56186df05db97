//! Seeded property tests, one module per family.

mod binary;
mod detection;
mod metric;
mod multiclass;
mod regression;
mod segmentation;
