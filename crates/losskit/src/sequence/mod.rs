//! The sequence family: [`Ctc`] (connectionist temporal classification), whose inputs
//! ([`CtcInputs`]) are per-frame log-probabilities and unaligned label sequences.

mod catalogue;
mod ctc;

pub use ctc::{Ctc, CtcInputs};

pub(crate) use catalogue::CATALOGUE;
