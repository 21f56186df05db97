//! How per-element losses become one number.

use core::fmt;
use core::str::FromStr;

use crate::error::{Error, Result};
use crate::numerics::{chunked_fold, lane_sum, Partial};
use crate::real::Real;
use crate::tensor::Tensor;

/// How a loss reduces its per-element values to one number.
///
/// Per-element output is not a reduction here: every loss has its own `per_element` method
/// for it, so a `Reduction` always yields a number. With an element-wise `weight`, `Mean` is
/// the weighted mean `Σ w·ℓ / Σ w`; each loss documents its exact denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Reduction {
    /// The (weighted) mean. The reference libraries' default.
    #[default]
    Mean,
    /// The (weighted) sum.
    Sum,
}

impl Reduction {
    /// The name used by the CLI and the catalogue: `"mean"` or `"sum"`.
    pub fn name(self) -> &'static str {
        match self {
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        }
    }
}

impl fmt::Display for Reduction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The reductions the catalogue and the CLI speak of: the two [`Reduction`]s, per-element
/// output (`none`) and `kl_div`'s `batchmean`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReductionMode {
    /// [`Reduction::Mean`].
    #[default]
    Mean,
    /// [`Reduction::Sum`].
    Sum,
    /// Per-element losses; gradients are those of their sum.
    None,
    /// The sum divided by the batch size (the first dimension): `kl_div` only.
    BatchMean,
}

impl ReductionMode {
    /// Every mode, in the order the catalogue lists them.
    pub const ALL: [ReductionMode; 4] = [
        ReductionMode::Mean,
        ReductionMode::Sum,
        ReductionMode::None,
        ReductionMode::BatchMean,
    ];

    /// `"mean"`, `"sum"`, `"none"` or `"batchmean"`.
    pub fn name(self) -> &'static str {
        match self {
            ReductionMode::Mean => "mean",
            ReductionMode::Sum => "sum",
            ReductionMode::None => "none",
            ReductionMode::BatchMean => "batchmean",
        }
    }
}

impl fmt::Display for ReductionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ReductionMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ReductionMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown reduction `{s}`; expected `mean`, `sum`, `none` or `batchmean`")
            })
    }
}

pub(crate) const WEIGHT_DOMAIN: &str = "a finite weight >= 0";

/// `Σ w`, after checking every weight is finite and non-negative.
pub(crate) fn weight_total<T: Real>(name: &'static str, w: &Tensor<'_, T>) -> Result<f64> {
    let data = w.data();
    let p = chunked_fold(
        data.len(),
        Partial::ZERO,
        |r| {
            let d = &data[r];
            let ok = d
                .iter()
                .fold(true, |ok, &v| ok & (v >= T::ZERO && v < T::INFINITY));
            Partial {
                sum: lane_sum(d.len(), |i| d[i].to_f64()),
                ok,
            }
        },
        Partial::combine,
    );
    if !p.ok {
        if let Some(i) = data
            .iter()
            .position(|&v| !(v >= T::ZERO && v < T::INFINITY))
        {
            return Err(Error::InvalidValue {
                loss: name,
                arg: "weight",
                index: w.shape().unravel(i),
                value: data[i].to_f64(),
                expected: WEIGHT_DOMAIN,
            });
        }
    }
    Ok(p.sum)
}
