//! Segmentation losses on dense masks `[N, C, *spatial]` (1 to 3 spatial dimensions): the
//! overlap losses (Dice, Jaccard, Tversky, focal Tversky, generalized Dice), their sums with
//! cross-entropy, boundary loss and the Lovász losses.
//!
//! Every loss here reads its inputs through [`SegInputs`]; the activation (`sigmoid`,
//! `softmax` or none) is applied inside the fused kernel, its gradient included.

mod activation;
mod boundary;
mod catalogue;
mod cldice;
mod combo;
mod dice_focal;
mod hausdorff;
mod lovasz;
mod overlap;
mod wasserstein;

pub use activation::Activation;
pub use boundary::Boundary;
pub use cldice::SoftClDice;
pub use combo::{BceDice, CeDice};
pub use dice_focal::DiceFocal;
pub use hausdorff::HausdorffDt;
pub use lovasz::{LovaszHinge, LovaszSoftmax};
pub use overlap::{Dice, FocalTversky, GeneralizedDice, Jaccard, Tversky};
pub use wasserstein::{GeneralizedWassersteinDice, WassersteinWeighting};

pub(crate) use catalogue::CATALOGUE;

use crate::error::{Error, Result};
use crate::numerics::{simd, SimdFn};
use crate::real::Real;
use crate::tensor::Tensor;

/// The target of a segmentation loss.
#[derive(Debug)]
pub enum SegTarget<'a, T> {
    /// A one-hot or multi-label mask of `input`'s shape `[N, C, *spatial]`, every entry 0 or 1.
    Mask(Tensor<'a, T>),
    /// One class index per position, `[N, *spatial]`, each in `[0, C)`: the same as its
    /// one-hot mask.
    Indices(Tensor<'a, i64>),
}

impl<T> Clone for SegTarget<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SegTarget<'_, T> {}

/// The inputs of the segmentation losses: `input` `[N, C, *spatial]` (logits, or
/// probabilities with [`Activation::None`]), a [`SegTarget`], and for [`Boundary`] optionally
/// precomputed signed distance maps of `input`'s shape.
///
/// ```
/// use losskit::{SegInputs, Tensor};
/// let logits = [0.5f32, -1.0, 2.0, 0.0, -0.5, 1.0, -2.0, 0.0]; // [1, 2, 2, 2]
/// let labels = [0i64, 1, 0, 1];                                // [1, 2, 2]
/// let by_index = SegInputs::indices(Tensor::new(&logits, &[1, 2, 2, 2])?, Tensor::new(&labels, &[1, 2, 2])?);
/// let one_hot = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
/// let by_mask = SegInputs::mask(Tensor::new(&logits, &[1, 2, 2, 2])?, Tensor::new(&one_hot, &[1, 2, 2, 2])?);
/// # let _ = (by_index, by_mask);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct SegInputs<'a, T> {
    input: Tensor<'a, T>,
    target: Option<SegTarget<'a, T>>,
    distance: Option<Tensor<'a, T>>,
}

impl<T> Clone for SegInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SegInputs<'_, T> {}

impl<'a, T> SegInputs<'a, T> {
    /// `input` against a one-hot or multi-label mask of the same shape.
    pub fn mask(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, T>>) -> Self {
        SegInputs {
            input: input.into(),
            target: Some(SegTarget::Mask(target.into())),
            distance: None,
        }
    }

    /// `input` against class indices `[N, *spatial]`.
    pub fn indices(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, i64>>) -> Self {
        SegInputs {
            input: input.into(),
            target: Some(SegTarget::Indices(target.into())),
            distance: None,
        }
    }

    /// `input` with precomputed signed distance maps only ([`Boundary`] needs no target then).
    pub fn distance_maps(
        input: impl Into<Tensor<'a, T>>,
        distance: impl Into<Tensor<'a, T>>,
    ) -> Self {
        SegInputs {
            input: input.into(),
            target: None,
            distance: Some(distance.into()),
        }
    }

    /// Adds precomputed signed distance maps of `input`'s shape ([`Boundary`] uses them
    /// instead of computing them from the target; the other losses reject them).
    #[must_use]
    pub fn distance(mut self, distance: impl Into<Tensor<'a, T>>) -> Self {
        self.distance = Some(distance.into());
        self
    }

    /// The prediction.
    pub fn input(&self) -> Tensor<'a, T> {
        self.input
    }

    /// The target, if any.
    pub fn target(&self) -> Option<SegTarget<'a, T>> {
        self.target
    }

    /// The precomputed distance maps, if any.
    pub fn distance_tensor(&self) -> Option<Tensor<'a, T>> {
        self.distance
    }
}

/// `input` seen as `[N, C, S]`, S the product of the spatial dimensions.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) s: usize,
    pub(crate) spatial: Vec<usize>,
}

pub(crate) const INPUT_RULE: &str = "`[N, C, *spatial]` with 1 to 3 spatial dimensions and C >= 1";

/// The layout of a segmentation `input`.
pub(crate) fn layout<T>(loss: &'static str, input: &Tensor<'_, T>) -> Result<Layout> {
    let dims = input.dims();
    match dims {
        [n, c, spatial @ ..] if (1..=3).contains(&spatial.len()) && *c >= 1 => Ok(Layout {
            n: *n,
            c: *c,
            s: spatial.iter().product(),
            spatial: spatial.to_vec(),
        }),
        _ => Err(Error::BadShape {
            loss,
            arg: "input",
            actual: dims.to_vec(),
            expected: INPUT_RULE,
        }),
    }
}

/// A checked target: a mask of `input`'s shape, or class indices.
#[derive(Clone, Copy)]
pub(crate) enum Gt<'a, T> {
    Mask(&'a [T]),
    Index(&'a [i64]),
}

/// G at sample `n`, class `k`, position `p`; implemented by the two target forms so the
/// kernels are compiled once for each, with no branch per element.
pub(crate) trait Target<T: Real>: Copy + Sync {
    fn at(&self, n: usize, k: usize, p: usize) -> T;

    /// ΣP (ΣP² when `SQ`), ΣG and ΣPG over row `pr` (class `k` of sample `n`), in f64 lanes.
    fn stats<const SQ: bool>(&self, pr: &[T], n: usize, k: usize) -> [f64; 3];

    /// `d[p] = put(d[p], P[p], a + b·G[p])` (`2a·P[p] + b·G[p]` when `SQ`): the gradient with
    /// respect to the probabilities of row `pr`, stored (`put = |_, _, v| v`) or combined
    /// with what `d` holds.
    #[allow(clippy::too_many_arguments)]
    fn dp_row<const SQ: bool>(
        &self,
        pr: &[T],
        n: usize,
        k: usize,
        a: T,
        b: T,
        d: &mut [T],
        put: impl Fn(T, T, T) -> T,
    );
}

#[inline(always)]
fn stats_of<T: Real, const SQ: bool>(pr: &[T], g: impl Fn(usize) -> T) -> [f64; 3] {
    let mut acc = [[0.0f64; 8]; 3];
    let len = pr.len();
    let full = len - len % 8;
    for base in (0..full).step_by(8) {
        for l in 0..8 {
            let q = pr[base + l].to_f64();
            let t = g(base + l).to_f64();
            acc[0][l] += if SQ { q * q } else { q };
            acc[1][l] += t;
            acc[2][l] += q * t;
        }
    }
    for (l, p) in (full..len).enumerate() {
        let q = pr[p].to_f64();
        let t = g(p).to_f64();
        acc[0][l] += if SQ { q * q } else { q };
        acc[1][l] += t;
        acc[2][l] += q * t;
    }
    acc.map(|v| ((v[0] + v[4]) + (v[2] + v[6])) + ((v[1] + v[5]) + (v[3] + v[7])))
}

#[inline(always)]
fn dp_of<T: Real, const SQ: bool>(
    pr: &[T],
    a: T,
    b: T,
    d: &mut [T],
    g: impl Fn(usize) -> T,
    put: impl Fn(T, T, T) -> T,
) {
    let a2 = a + a;
    for (p, (o, &q)) in d.iter_mut().zip(pr).enumerate() {
        *o = put(*o, q, if SQ { a2 * q } else { a } + b * g(p));
    }
}

/// A mask `[N, C, S]`.
#[derive(Clone, Copy)]
pub(crate) struct MaskG<'a, T> {
    pub(crate) d: &'a [T],
    pub(crate) c: usize,
    pub(crate) s: usize,
}

impl<T: Real> Target<T> for MaskG<'_, T> {
    #[inline(always)]
    fn at(&self, n: usize, k: usize, p: usize) -> T {
        self.d[(n * self.c + k) * self.s + p]
    }
    #[inline(always)]
    fn stats<const SQ: bool>(&self, pr: &[T], n: usize, k: usize) -> [f64; 3] {
        let row = &self.d[(n * self.c + k) * self.s..][..pr.len()];
        stats_of::<T, SQ>(pr, |p| row[p])
    }
    #[inline(always)]
    fn dp_row<const SQ: bool>(
        &self,
        pr: &[T],
        n: usize,
        k: usize,
        a: T,
        b: T,
        d: &mut [T],
        put: impl Fn(T, T, T) -> T,
    ) {
        let row = &self.d[(n * self.c + k) * self.s..][..pr.len()];
        let d = &mut d[..pr.len()];
        dp_of::<T, SQ>(pr, a, b, d, |p| row[p], put);
    }
}

/// Class indices `[N, S]`.
#[derive(Clone, Copy)]
pub(crate) struct IndexG<'a> {
    pub(crate) y: &'a [i64],
    pub(crate) s: usize,
}

impl<T: Real> Target<T> for IndexG<'_> {
    #[inline(always)]
    fn at(&self, n: usize, k: usize, p: usize) -> T {
        if self.y[n * self.s + p] == k as i64 {
            T::ONE
        } else {
            T::ZERO
        }
    }
    #[inline(always)]
    fn stats<const SQ: bool>(&self, pr: &[T], n: usize, k: usize) -> [f64; 3] {
        let row = &self.y[n * self.s..][..pr.len()];
        let k = k as i64;
        stats_of::<T, SQ>(pr, |p| if row[p] == k { T::ONE } else { T::ZERO })
    }
    #[inline(always)]
    fn dp_row<const SQ: bool>(
        &self,
        pr: &[T],
        n: usize,
        k: usize,
        a: T,
        b: T,
        d: &mut [T],
        put: impl Fn(T, T, T) -> T,
    ) {
        let row = &self.y[n * self.s..][..pr.len()];
        let d = &mut d[..pr.len()];
        let k = k as i64;
        dp_of::<T, SQ>(
            pr,
            a,
            b,
            d,
            |p| if row[p] == k { T::ONE } else { T::ZERO },
            put,
        );
    }
}

/// Calls the generic `$f` with the target as a [`MaskG`] or an [`IndexG`].
macro_rules! with_target {
    ($gt:expr, $lay:expr, |$g:ident| $body:expr) => {
        match $gt {
            $crate::segmentation::Gt::Mask(d) => {
                let $g = $crate::segmentation::MaskG {
                    d,
                    c: $lay.c,
                    s: $lay.s,
                };
                $body
            }
            $crate::segmentation::Gt::Index(y) => {
                let $g = $crate::segmentation::IndexG { y, s: $lay.s };
                $body
            }
        }
    };
}
pub(crate) use with_target;

/// Checks `target` against `input`'s layout: a mask of `input`'s shape with entries 0 or 1,
/// or indices `[N, *spatial]` in `[0, C)`.
pub(crate) fn check_target<'a, T: Real>(
    loss: &'static str,
    input: &Tensor<'_, T>,
    lay: &Layout,
    target: Option<SegTarget<'a, T>>,
) -> Result<Gt<'a, T>> {
    let Some(target) = target else {
        return Err(Error::MissingInput {
            loss,
            name: "target",
        });
    };
    match target {
        SegTarget::Mask(m) => {
            if m.dims() != input.dims() {
                return Err(Error::ShapeMismatch {
                    loss,
                    arg: "target",
                    actual: m.dims().to_vec(),
                    expected: input.dims().to_vec(),
                    because: "a one-hot mask has the shape of `input`; class indices drop its class dimension 1",
                });
            }
            let d = m.data();
            if let Some(i) = first_bad(d, |v| v != T::ZERO && v != T::ONE) {
                return Err(Error::InvalidValue {
                    loss,
                    arg: "target",
                    index: m.shape().unravel(i),
                    value: d[i].to_f64(),
                    expected: "0 or 1 (a one-hot or multi-label mask)",
                });
            }
            Ok(Gt::Mask(d))
        }
        SegTarget::Indices(y) => {
            let expected: Vec<usize> = core::iter::once(lay.n)
                .chain(lay.spatial.iter().copied())
                .collect();
            if y.dims() != expected.as_slice() {
                return Err(Error::ShapeMismatch {
                    loss,
                    arg: "target",
                    actual: y.dims().to_vec(),
                    expected,
                    because: "class indices have `input`'s shape without its class dimension 1; a one-hot mask has `input`'s shape",
                });
            }
            let d = y.data();
            let c = lay.c as u64;
            if let Some(i) = first_bad(d, |v| (v as u64) >= c) {
                return Err(Error::InvalidValue {
                    loss,
                    arg: "target",
                    index: y.shape().unravel(i),
                    value: d[i] as f64,
                    expected: "a class index in [0, C) (C = `input`'s class dimension)",
                });
            }
            Ok(Gt::Index(d))
        }
    }
}

/// The position of the first element for which `bad` holds. Blocks without one are passed
/// over by a branch-free fold that vectorises (a short-circuiting search does not).
fn first_bad<V: Copy>(d: &[V], bad: impl Fn(V) -> bool) -> Option<usize> {
    // At the CPU's vector width ([`simd`]): the check reads the whole target, which costs as
    // much as a loss pass when it runs 4 lanes wide.
    simd(SimdFn(
        #[inline(always)]
        || {
            d.chunks(256)
                .position(
                    #[inline(always)]
                    |ch| ch.iter().fold(false, |acc, &v| acc | bad(v)),
                )
                .and_then(|b| {
                    let start = b * 256;
                    d[start..].iter().position(|&v| bad(v)).map(|i| start + i)
                })
        },
    ))
}

/// The first class kept: 1 without the background (when there is more than one class, as
/// MONAI), else 0.
pub(crate) fn first_class(include_background: bool, c: usize) -> usize {
    usize::from(!include_background && c > 1)
}

/// Rejects precomputed distance maps for the losses that take none.
pub(crate) fn no_distance<T>(loss: &'static str, inputs: &SegInputs<'_, T>) -> Result<()> {
    if inputs.distance.is_some() {
        return Err(Error::UnknownInput {
            loss,
            name: "distance".to_owned(),
            known: vec!["input", "target"],
        });
    }
    Ok(())
}

/// A non-finite loss from finite-looking work: names the first infinite logit (else the
/// first non-finite one).
pub(crate) fn non_finite<T: Real>(loss: &'static str, input: &Tensor<'_, T>) -> Error {
    let d = input.data();
    let i = d
        .iter()
        .position(|v| !v.is_finite() && !v.is_nan())
        .or_else(|| d.iter().position(|v| !v.is_finite()))
        .unwrap_or(0);
    Error::InvalidValue {
        loss,
        arg: "input",
        index: input.shape().unravel(i),
        value: d.get(i).map_or(f64::NAN, |v| v.to_f64()),
        expected: "a finite value",
    }
}

/// The reduction's divisor (`Mean`: the number of values; `Sum`: 1), or [`Error::EmptyMean`].
pub(crate) fn divisor(loss: &'static str, mean: bool, count: usize) -> Result<f64> {
    match (mean, count) {
        (true, 0) => Err(Error::EmptyMean { loss }),
        (true, k) => Ok(k as f64),
        (false, _) => Ok(1.0),
    }
}

/// Whether a NaN reached the loss through `input`: the result is then NaN by the catalogue's
/// rule (a NaN propagates to the value and the gradients), not an error.
pub(crate) fn has_nan<T: Real>(input: &Tensor<'_, T>) -> bool {
    input.data().iter().any(|v| v.is_nan())
}
