//! losskit-burn's tests, in one binary: the fused path against the core for every
//! catalogue loss (`fused`), the composed path against the fused path and the core's
//! subgradients (`composed`), and the examples in a short form (`example`, `example_unet`).

mod common;
mod composed;
mod example;
mod example_unet;
mod fused;
