//! Seeded property tests, one module per family.

mod binary;
mod detection;
mod multiclass;
mod regression;
