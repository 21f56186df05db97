//! Seeded property tests, one module per family.

mod regression;
