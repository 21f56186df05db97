//! losskit-burn's tests, in one binary: the fused path against the core for every
//! catalogue loss (`fused`), the composed path against the fused path and the core's
//! subgradients (`composed`), and the example in a short form (`example`).

mod common;
mod composed;
mod example;
mod fused;
