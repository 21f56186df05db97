//! The library half of the `losskit` command line: the bounded `.npy` reader and writer the
//! binary uses, public so that the fuzzing harness (`fuzz/`) can drive it in-process.

pub mod npy;
