//! Helpers shared by the integration-test binaries.

pub mod tolerance;
