//! Metric-learning losses on embeddings `[N, D]`: pairs ([`Contrastive`],
//! [`CosineEmbedding`]), triplets ([`TripletMargin`], [`BatchHardTriplet`]) and the in-batch
//! contrastive losses ([`NtXent`], [`InfoNce`], [`SupCon`]), which keep their similarity
//! matrix only when it fits the tile budget ([`tile_budget`], 64 MiB by default) and
//! otherwise work in row blocks of a few hundred rows (see [`NtXent`]'s memory section), so
//! the batch size is bounded by the embeddings, not by their square.

/// The typed API and the evaluator of a two-view loss (`NtXent`, `InfoNce`) over its
/// `run(inputs, reduction, per_element, Option<(grad_first, grad_second)>)`, `dims` and
/// `per_rows`.
macro_rules! views_api {
    ($ty:ident, $name:ident, $a:literal, $b:literal, $per:literal) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(&self, inputs: &ViewInputs<'_, T>, reduction: Reduction) -> Result<T> {
                self.run(inputs, Some(reduction), &mut [], None, None)
            }

            #[doc = concat!("The loss reduced with `reduction` and its gradients with respect to `", $a, "` and `", $b, "` (each buffer as long as `", $a, "`; the reduction's scale included).")]
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &ViewInputs<'_, T>,
                reduction: Reduction,
                grad_first: &mut [T],
                grad_second: &mut [T],
            ) -> Result<T> {
                let n = inputs.first().len();
                check_buffers(
                    $name,
                    &[
                        (concat!("gradient of `", $a, "`"), grad_first.len(), n),
                        (concat!("gradient of `", $b, "`"), grad_second.len(), n),
                    ],
                )?;
                self.run(inputs, Some(reduction), &mut [], Some((grad_first, grad_second)), None)
            }

            #[doc = $per]
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(&self, inputs: &ViewInputs<'_, T>, out: &mut [T]) -> Result<()> {
                let (n, _) = Self::dims(inputs)?;
                check_buffers($name, &[("per-element output", out.len(), Self::per_rows(n))])?;
                self.run(inputs, None, out, None, None).map(|_| ())
            }

            fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
                let inputs = ViewInputs::new(call.float_req($a)?, call.float_req($b)?);
                let (n, d) = Self::dims(&inputs)?;
                dispatch_all(
                    call,
                    out,
                    &[Self::per_rows(n)],
                    &[($a, n * d), ($b, n * d)],
                    // Coupled: every row is in every anchor's denominator; the per-anchor
                    // coefficients of the kernel carry the cotangent.
                    crate::eval::Vjp::Coupled(&|u, g| {
                        let (a, b) = g.split_at_mut(1);
                        self.run(&inputs, None, &mut [], Some((&mut a[0], &mut b[0])), Some(u))
                            .map(|_| ())
                    }),
                    |r| self.value(&inputs, r),
                    |r, g| {
                        let (a, b) = g.split_at_mut(1);
                        self.value_and_grad(&inputs, r, &mut a[0], &mut b[0])
                    },
                    |o| self.per_element(&inputs, o),
                )
            }
        }
    };
}

/// The typed API and the evaluator of a loss on embeddings and labels (`SupCon`,
/// `BatchHardTriplet`) over its `run(inputs, reduction, per_element, Option<grad>)`.
macro_rules! labeled_api {
    ($ty:ident, $name:ident, $per:literal) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &LabeledInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                self.run(inputs, Some(reduction), &mut [], None, None)
            }

            /// The loss reduced with `reduction` and its gradient with respect to `embeddings`
            /// (into `grad`, as long as `embeddings`; the reduction's scale included).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &LabeledInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                let n = inputs.embeddings().len();
                check_buffers($name, &[("gradient of `embeddings`", grad.len(), n)])?;
                self.run(inputs, Some(reduction), &mut [], Some(grad), None)
            }

            #[doc = $per]
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &LabeledInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let (n, _) = labeled_dims($name, inputs)?;
                check_buffers($name, &[("per-element output", out.len(), n)])?;
                self.run(inputs, None, out, None, None).map(|_| ())
            }

            fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
                let labels = call.index("labels").ok_or(Error::MissingInput {
                    loss: call.loss,
                    name: "labels",
                })?;
                let inputs = LabeledInputs::new(call.float_req("embeddings")?, labels);
                let (n, d) = labeled_dims($name, &inputs)?;
                dispatch_all(
                    call,
                    out,
                    &[n],
                    &[("embeddings", n * d)],
                    // Coupled: an anchor's loss moves its positives and negatives too; the
                    // kernel's per-anchor coefficients carry the cotangent.
                    crate::eval::Vjp::Coupled(&|u, g| {
                        self.run(&inputs, None, &mut [], Some(&mut g[0]), Some(u))
                            .map(|_| ())
                    }),
                    |r| self.value(&inputs, r),
                    |r, g| self.value_and_grad(&inputs, r, &mut g[0]),
                    |o| self.per_element(&inputs, o),
                )
            }
        }
    };
}

mod blocks;
mod catalogue;
mod contrastive_ce;
mod dense;
mod heads;
mod mining;
mod npairs;
mod pairs;
mod proxy;
mod triplet;

pub use blocks::{set_tile_budget, tile_budget, DEFAULT_TILE_BUDGET};
pub use contrastive_ce::{InfoNce, NtXent, SupCon};
pub use dense::CentreInputs;
pub use heads::{ArcFace, CosFace, SubCenterArcFace};
pub use mining::{Circle, LiftedStructure, MultiSimilarity};
pub use npairs::NPairs;
pub use pairs::{Contrastive, CosineEmbedding};
pub use proxy::{ProxyAnchor, ProxyNca};
pub use triplet::{BatchHardTriplet, TripletMargin};

pub(crate) use catalogue::CATALOGUE;

use core::ops::Range;

use crate::error::{check_buffer, Error, Result};
use crate::eval::{apply_cotangent, dims_of, Vjp};
use crate::evaluator::{Call, Out};
use crate::numerics::{Partial, CHUNK};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

/// Two embedding batches `x1`, `x2` `[N, D]` and a `target` `[N]`: the inputs of
/// [`Contrastive`] and [`CosineEmbedding`].
///
/// ```
/// use losskit::{PairInputs, Tensor};
/// let x1 = [1.0f32, 0.0, 0.0, 1.0];
/// let x2 = [1.0f32, 1.0, 0.0, 1.0];
/// let inputs = PairInputs::new(Tensor::new(&x1, &[2, 2])?, Tensor::new(&x2, &[2, 2])?, &[1.0f32, 0.0]);
/// assert_eq!(inputs.x1().dims(), &[2, 2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct PairInputs<'a, T> {
    x1: Tensor<'a, T>,
    x2: Tensor<'a, T>,
    target: Tensor<'a, T>,
}

impl<'a, T> PairInputs<'a, T> {
    /// The two batches and the target (shapes are checked by the loss).
    pub fn new(
        x1: impl Into<Tensor<'a, T>>,
        x2: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
    ) -> Self {
        PairInputs {
            x1: x1.into(),
            x2: x2.into(),
            target: target.into(),
        }
    }
    /// The first batch.
    pub fn x1(&self) -> Tensor<'a, T> {
        self.x1
    }
    /// The second batch.
    pub fn x2(&self) -> Tensor<'a, T> {
        self.x2
    }
    /// The target.
    pub fn target(&self) -> Tensor<'a, T> {
        self.target
    }
}

/// `anchor`, `positive`, `negative` `[N, D]`: the inputs of [`TripletMargin`].
///
/// ```
/// use losskit::{Tensor, TripletInputs};
/// let (a, p, n) = ([0.0f64, 0.0], [1.0f64, 0.0], [0.0f64, 3.0]);
/// let inputs = TripletInputs::new(Tensor::new(&a, &[1, 2])?, Tensor::new(&p, &[1, 2])?, Tensor::new(&n, &[1, 2])?);
/// assert_eq!(inputs.anchor().dims(), &[1, 2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct TripletInputs<'a, T> {
    anchor: Tensor<'a, T>,
    positive: Tensor<'a, T>,
    negative: Tensor<'a, T>,
}

impl<'a, T> TripletInputs<'a, T> {
    /// The three batches (shapes are checked by the loss).
    pub fn new(
        anchor: impl Into<Tensor<'a, T>>,
        positive: impl Into<Tensor<'a, T>>,
        negative: impl Into<Tensor<'a, T>>,
    ) -> Self {
        TripletInputs {
            anchor: anchor.into(),
            positive: positive.into(),
            negative: negative.into(),
        }
    }
    /// The anchors.
    pub fn anchor(&self) -> Tensor<'a, T> {
        self.anchor
    }
    /// The positives.
    pub fn positive(&self) -> Tensor<'a, T> {
        self.positive
    }
    /// The negatives.
    pub fn negative(&self) -> Tensor<'a, T> {
        self.negative
    }
}

/// Two views of one batch, `[N, D]` each, row `i` of one the positive of row `i` of the
/// other: `z1`/`z2` of [`NtXent`], `query`/`key` of [`InfoNce`].
///
/// ```
/// use losskit::{Tensor, ViewInputs};
/// let (z1, z2) = ([1.0f32, 0.0, 0.0, 1.0], [0.9f32, 0.1, 0.2, 0.8]);
/// let inputs = ViewInputs::new(Tensor::new(&z1, &[2, 2])?, Tensor::new(&z2, &[2, 2])?);
/// assert_eq!(inputs.first().dims(), &[2, 2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct ViewInputs<'a, T> {
    first: Tensor<'a, T>,
    second: Tensor<'a, T>,
}

impl<'a, T> ViewInputs<'a, T> {
    /// The two views (`z1`, `z2`, or `query`, `key`).
    pub fn new(first: impl Into<Tensor<'a, T>>, second: impl Into<Tensor<'a, T>>) -> Self {
        ViewInputs {
            first: first.into(),
            second: second.into(),
        }
    }
    /// The first view (`z1`, `query`).
    pub fn first(&self) -> Tensor<'a, T> {
        self.first
    }
    /// The second view (`z2`, `key`).
    pub fn second(&self) -> Tensor<'a, T> {
        self.second
    }
}

/// `embeddings` `[N, D]` and integer `labels` `[N]`: the inputs of [`BatchHardTriplet`] and
/// [`SupCon`].
///
/// ```
/// use losskit::{LabeledInputs, Tensor};
/// let e = [1.0f32, 0.0, 0.9, 0.1, 0.0, 1.0];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[3, 2])?, &[0i64, 0, 1]);
/// assert_eq!(inputs.labels().len(), 3);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct LabeledInputs<'a, T> {
    embeddings: Tensor<'a, T>,
    labels: Tensor<'a, i64>,
}

impl<'a, T> LabeledInputs<'a, T> {
    /// The embeddings and their labels.
    pub fn new(embeddings: impl Into<Tensor<'a, T>>, labels: impl Into<Tensor<'a, i64>>) -> Self {
        LabeledInputs {
            embeddings: embeddings.into(),
            labels: labels.into(),
        }
    }
    /// The embeddings.
    pub fn embeddings(&self) -> Tensor<'a, T> {
        self.embeddings
    }
    /// The labels.
    pub fn labels(&self) -> Tensor<'a, i64> {
        self.labels
    }
}

macro_rules! copy_inputs {
    ($($t:ident),*) => {$(
        impl<T> Clone for $t<'_, T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $t<'_, T> {}
    )*};
}
copy_inputs!(PairInputs, TripletInputs, ViewInputs, LabeledInputs);

/// `(N, D)` of an embedding batch, which must be `[N, D]`.
pub(crate) fn rows_dims<T>(
    loss: &'static str,
    arg: &'static str,
    t: &Tensor<'_, T>,
) -> Result<(usize, usize)> {
    match *t.dims() {
        [n, d] => Ok((n, d)),
        _ => Err(Error::BadShape {
            loss,
            arg,
            actual: t.dims().to_vec(),
            expected: "2 dimensions `[N, D]` (one embedding per row)",
        }),
    }
}

/// The same shape as the reference input, or [`Error::ShapeMismatch`].
pub(crate) fn same_shape<T>(
    loss: &'static str,
    arg: &'static str,
    t: &Tensor<'_, T>,
    expected: &[usize],
    because: &'static str,
) -> Result<()> {
    if t.dims() != expected {
        return Err(Error::ShapeMismatch {
            loss,
            arg,
            actual: t.dims().to_vec(),
            expected: expected.to_vec(),
            because,
        });
    }
    Ok(())
}

/// The divisor of `reduction` over `count` loss terms (an error for `Mean` over none,
/// `none_why` saying why there are none when the batch itself is not empty).
pub(crate) fn divisor(
    loss: &'static str,
    reduction: Reduction,
    count: usize,
    empty_batch: bool,
    none_why: &'static str,
) -> Result<f64> {
    match reduction {
        Reduction::Sum => Ok(1.0),
        Reduction::Mean if count > 0 => Ok(count as f64),
        Reduction::Mean if empty_batch => Err(Error::EmptyMean { loss }),
        Reduction::Mean => Err(Error::NoAnchor {
            loss,
            why: none_why,
        }),
    }
}

/// Rows per chunk of the row-wise losses: about [`CHUNK`] elements, fixed by `d`.
fn rows_per_chunk(d: usize) -> usize {
    (CHUNK / d.max(1)).max(1)
}

/// Folds `f(rows, buffers)` over fixed chunks of rows, each buffer cut to the chunk's rows
/// (`per_row` elements a row; an empty buffer stays empty). Chunks run on several threads
/// for large inputs (feature `parallel`); partial results combine in chunk order, so the
/// result does not depend on the thread count.
pub(crate) fn fold_rows<T: Real>(
    n: usize,
    d: usize,
    bufs: Vec<(&mut [T], usize)>,
    f: impl Fn(Range<usize>, &mut [&mut [T]]) -> Partial + Sync,
) -> Partial {
    let per = rows_per_chunk(d);
    let chunks = n.div_ceil(per);
    let mut work: Vec<(Range<usize>, Vec<&mut [T]>)> = (0..chunks)
        .map(|c| (c * per..((c + 1) * per).min(n), Vec::new()))
        .collect();
    for (buf, k) in bufs {
        if buf.is_empty() {
            for w in &mut work {
                w.1.push(&mut []);
            }
        } else {
            for (w, part) in work.iter_mut().zip(buf.chunks_mut(per * k)) {
                w.1.push(part);
            }
        }
    }
    #[cfg(feature = "parallel")]
    if n.saturating_mul(d) >= 1 << 17 && chunks > 1 {
        use rayon::prelude::*;
        let partial: Vec<Partial> = work
            .into_par_iter()
            .map(|(r, mut b)| f(r, &mut b))
            .collect();
        return partial.into_iter().fold(Partial::ZERO, Partial::combine);
    }
    work.into_iter()
        .map(|(r, mut b)| f(r, &mut b))
        .fold(Partial::ZERO, Partial::combine)
}

/// A coupled metric loss's VJP: `(cotangent, every prediction's gradient)`.
pub(crate) type VjpAll<'f, T> = Vjp<&'f dyn Fn(&[T], &mut [Vec<T>]) -> Result<()>>;

/// The tail of every metric evaluator: `mean`/`sum` through `value_and_grad` (all the
/// predictions' gradients in one pass, the asked ones kept) or `value`; `none` through
/// `per_element`, and for gradients `value_and_grad` of the sum (times the cotangent,
/// [`Vjp::Separable`]) or the loss's own VJP ([`Vjp::Coupled`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn dispatch_all<T: Real>(
    call: &Call<'_, T>,
    out: &mut Out<'_, T>,
    loss_shape: &[usize],
    predictions: &[(&'static str, usize)],
    vjp: VjpAll<'_, T>,
    value: impl Fn(Reduction) -> Result<T>,
    value_and_grad: impl Fn(Reduction, &mut [Vec<T>]) -> Result<T>,
    per_element: impl Fn(&mut [T]) -> Result<()>,
) -> Result<()> {
    out.shape = loss_shape.to_vec();
    let wants = predictions.iter().any(|(n, _)| out.grad(n).is_some());
    let mut grads: Vec<Vec<T>> = if wants {
        predictions.iter().map(|&(_, n)| vec![T::ZERO; n]).collect()
    } else {
        Vec::new()
    };
    match call.reduction() {
        Some(r) if wants => out.value = Some(value_and_grad(r, &mut grads)?.to_f64()),
        Some(r) => out.value = Some(value(r)?.to_f64()),
        None => {
            let u = out.cotangent(call.loss, loss_shape)?;
            let mut losses = vec![T::ZERO; loss_shape.iter().product()];
            per_element(&mut losses)?;
            if wants {
                match (u, vjp) {
                    (Some(u), Vjp::Coupled(f)) => f(u, &mut grads)?,
                    (u, vjp) => {
                        value_and_grad(Reduction::Sum, &mut grads)?;
                        if let (Some(u), Vjp::Separable(kept)) = (u, vjp) {
                            for (&(name, _), g) in predictions.iter().zip(&mut grads) {
                                apply_cotangent(g, &dims_of(call, name), kept, u);
                            }
                        }
                    }
                }
            }
            out.per_element = Some(losses);
        }
    }
    for (&(name, _), g) in predictions.iter().zip(&grads) {
        if let Some(o) = out.grad(name) {
            o.copy_from_slice(g);
        }
    }
    Ok(())
}

/// Checks every gradient buffer against its input's length.
pub(crate) fn check_buffers(
    loss: &'static str,
    bufs: &[(&'static str, usize, usize)],
) -> Result<()> {
    for &(arg, actual, expected) in bufs {
        check_buffer(loss, arg, actual, expected)?;
    }
    Ok(())
}
