//! The ranking family: listwise losses over lists of scored items ([`ListNet`], [`ListMle`],
//! inputs [`ListInputs`]) and the pairwise implicit-feedback loss [`Bpr`]
//! ([`PreferenceInputs`]).
//!
//! A list is one row of `input` `[N, L]`; an optional boolean `mask` `[N, L]` marks the items
//! that belong to it (ragged lists padded to `L`). A padded item takes no part in the loss and
//! gets a zero gradient. A list with every item masked contributes 0 to the loss and is not
//! counted by `Mean` (optax's `ranking_softmax_loss` does the same); `Mean` over lists that are
//! all empty is 0 with a zero gradient, and `Mean` over an empty batch (`N = 0`) is an error.

mod bpr;
mod catalogue;
mod list;

pub use bpr::{Bpr, PreferenceInputs};
pub use list::{ListInputs, ListMle, ListNet};

pub(crate) use catalogue::CATALOGUE;
