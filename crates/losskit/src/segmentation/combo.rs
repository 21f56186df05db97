//! Cross-entropy plus Dice: [`BceDice`] and [`CeDice`]. The cross-entropy terms are the
//! classification family's own kernels, called through their public API
//! ([`BceWithLogits::element`](crate::BceWithLogits::element) inside the Dice kernel's pass
//! over each sample, [`CrossEntropy`](crate::CrossEntropy) as a whole); the Dice terms are
//! [`Dice`]'s kernel, adding its gradient into the same buffer.

use std::borrow::Cow;

use crate::error::{check_buffer, Error, Result};
use crate::numerics::{block_sum, sigmoid_fast, simd, Lanes, SimdFn};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::{BceWithLogits, ClassInputs, CrossEntropy};

use super::overlap::{dice_options, run, run_checked, run_weighted, values_shape, Opts, Pre};
use super::{check_target, layout, no_distance, Activation, Gt, Layout, SegInputs};

/// The unreduced shape, `[N, C']` (`[C']` with `batch`), and its checks: a cross-entropy
/// term averaged over no element is an error, and the buffers must fit.
fn none_shape<T: Real>(
    loss: &'static str,
    o: &Opts,
    input: &crate::Tensor<'_, T>,
    out: Option<&[T]>,
    vjp: Option<(Option<&[T]>, &[T])>,
) -> Result<usize> {
    let len: usize = values_shape(loss, o, true, input.dims())?.iter().product();
    if input.is_empty() && len > 0 {
        return Err(Error::BadShape {
            loss,
            arg: "input",
            actual: input.dims().to_vec(),
            expected: "at least one element per sample with `reduction = none` (each value holds the mean of the sample's cross-entropy)",
        });
    }
    if let Some(o) = out {
        check_buffer(loss, "per-element output", o.len(), len)?;
    }
    if let Some((u, g)) = vjp {
        check_buffer(loss, "gradient of `input`", g.len(), input.len())?;
        if let Some(u) = u {
            check_buffer(loss, "cotangent", u.len(), len)?;
        }
    }
    Ok(len)
}

/// The cross-entropy term's factor for each group (sample, or the batch with `batch`) in a
/// vector-Jacobian product: `weight`·Σ_c u[group, c] / (the elements the group's mean
/// covers), `u` all ones when `None`.
fn group_scales(u: Option<&[f64]>, groups: usize, cp: usize, weight: f64, count: f64) -> Vec<f64> {
    (0..groups)
        .map(|i| {
            let su = u.map_or(cp as f64, |u| u[i * cp..(i + 1) * cp].iter().sum::<f64>());
            weight * su / count
        })
        .collect()
}

fn check_lambda(loss: &'static str, param: &'static str, v: f64) -> Result<f64> {
    if !(v >= 0.0 && v.is_finite()) {
        return Err(Error::InvalidParam {
            loss,
            param,
            value: v,
            expected: ">= 0 and finite",
        });
    }
    Ok(v)
}

/// The target as a mask of `input`'s shape (index targets expanded to one-hot), checked, with
/// `input`'s layout.
pub(super) fn mask_of<'a, T: Real>(
    loss: &'static str,
    inputs: &SegInputs<'a, T>,
) -> Result<(Layout, Cow<'a, [T]>)> {
    let input = inputs.input();
    let lay = layout(loss, &input)?;
    let mask = match check_target(loss, &input, &lay, inputs.target())? {
        Gt::Mask(m) => Cow::Borrowed(m),
        Gt::Index(y) => {
            let mut m = vec![T::ZERO; input.len()];
            for n in 0..lay.n {
                for p in 0..lay.s {
                    let k = y[n * lay.s + p] as usize;
                    m[(n * lay.c + k) * lay.s + p] = T::ONE;
                }
            }
            Cow::Owned(m)
        }
    };
    Ok((lay, mask))
}

/// `value` and `value_and_grad` of a combined loss over its `go`.
macro_rules! combo_api {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// The loss reduced with `reduction` (`Mean` or `Sum` of each term).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                self.go(inputs, reduction, None)
            }

            /// The loss and its gradient with respect to `input` (into `grad`, as long as
            /// `input`).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                check_buffer(
                    $name,
                    "gradient of `input`",
                    grad.len(),
                    inputs.input().len(),
                )?;
                self.go(inputs, reduction, Some(grad))
            }

            /// The unreduced loss, `reduction = none`, written to `out`: one value per sample
            /// and kept class, `[N, C']` (`[C']` with `batch`), each the weighted Dice value of
            /// that sample and class plus the weighted cross-entropy averaged over the sample
            /// (over the batch with `batch`). Their mean is the `Mean` value.
            ///
            /// # Errors
            /// See the type's docs; an empty sample (no spatial position) is an error.
            pub fn per_element<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                self.none(inputs, Some(out), None)
            }

            /// The shape of [`per_element`](Self::per_element)'s output for `input` of shape
            /// `dims`: `[N, C']`, or `[C']` with `batch`.
            ///
            /// # Errors
            /// [`Error::BadShape`] for a shape that is not `[N, C, *spatial]`.
            pub fn per_element_shape(&self, dims: &[usize]) -> Result<Vec<usize>> {
                values_shape($name, &self.opts, true, dims)
            }

            /// The vector-Jacobian product of [`per_element`](Self::per_element):
            /// ∂(Σ_i u_i ℓ_i)/∂`input` into `grad` (`u` all ones when `None`).
            pub(crate) fn vjp<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                u: Option<&[T]>,
                grad: &mut [T],
            ) -> Result<()> {
                self.none(inputs, None, Some((u, grad)))
            }
        }
    };
}

/// Binary cross-entropy on logits plus the Dice loss of their sigmoid: the usual loss for
/// binary and multi-label masks.
///
/// # Definition
/// $$\ell = \lambda_\text{bce}\,\mathrm{BCE}(x, G) + \lambda_\text{dice}\,\mathrm{Dice}(\sigma(x), G)$$
/// with [`BceWithLogits`](crate::BceWithLogits) over every element (any number of channels:
/// multi-label) and [`Dice`](crate::Dice) with `activation = sigmoid`. `Mean` takes each
/// term's mean (BCE over the elements, Dice over the `[N, C']` ratios), `Sum` each term's
/// sum, as MONAI's `DiceCELoss`. [`per_element`](Self::per_element) (`reduction = none`, which
/// MONAI rejects) gives `[N, C']` (`[C']` with `batch`): λ_dice·dice[n, c] + λ_bce·(the mean
/// BCE of sample n, of the batch with `batch`), whose mean is `Mean`.
///
/// # Gradient
/// $\lambda_\text{bce}(\sigma(x) - G)/M + \lambda_\text{dice}\,\partial\mathrm{Dice}/\partial x$,
/// both terms in one buffer: BCE's kernel writes it, Dice's kernel adds to it.
///
/// # Parameters
/// `bce_weight` (1.0, ≥ 0), `dice_weight` (1.0, ≥ 0), and Dice's `include_background`,
/// `batch`, `smooth_nr`, `smooth_dr`, `squared` (the activation is sigmoid).
///
/// # Deliberate difference
/// With more than one channel the cross-entropy term stays binary per channel (multi-label);
/// MONAI's `DiceCELoss(sigmoid=True)` switches to softmax cross-entropy when C > 1.
///
/// # Errors
/// As [`Dice`](crate::Dice) and [`BceWithLogits`](crate::BceWithLogits).
///
/// # Example
/// ```
/// use losskit::{BceDice, Reduction, SegInputs, Tensor};
/// let x = [2.0f32, -1.0, 0.5, -3.0];
/// let g = [1.0f32, 0.0, 1.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&x, &[1, 1, 2, 2])?, Tensor::new(&g, &[1, 1, 2, 2])?);
/// let mut grad = [0.0f32; 4];
/// let v = BceDice::default().value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
/// assert!(v > 0.0 && grad[0] < 0.0 && grad[1] > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// MONAI `DiceCELoss(sigmoid=True)` (the numbers matched for one channel).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BceDice {
    opts: Opts,
    squared: bool,
    bce_weight: f64,
    dice_weight: f64,
}

impl Default for BceDice {
    fn default() -> Self {
        BceDice {
            opts: Opts {
                activation: Activation::Sigmoid,
                ..Opts::DEFAULT
            },
            squared: false,
            bce_weight: 1.0,
            dice_weight: 1.0,
        }
    }
}

const BCE_DICE: &str = "bce_dice";
dice_options!(BceDice, BCE_DICE);
combo_api!(BceDice, BCE_DICE);

impl BceDice {
    /// ΣP² in the Dice denominator (default `false`).
    #[must_use]
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    /// The cross-entropy term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn bce_weight(mut self, w: f64) -> Result<Self> {
        self.bce_weight = check_lambda(BCE_DICE, "bce_weight", w)?;
        Ok(self)
    }

    /// The Dice term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn dice_weight(mut self, w: f64) -> Result<Self> {
        self.dice_weight = check_lambda(BCE_DICE, "dice_weight", w)?;
        Ok(self)
    }

    fn dice(&self) -> super::overlap::Ratio {
        crate::Dice::default()
            .squared(self.squared)
            .score_with(&self.opts)
    }

    fn go<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        reduction: Reduction,
        grad: Option<&mut [T]>,
    ) -> Result<T> {
        no_distance(BCE_DICE, inputs)?;
        let (lay, mask) = mask_of(BCE_DICE, inputs)?;
        let input = inputs.input();
        let mean = reduction == Reduction::Mean;
        if mean && input.is_empty() {
            return Err(Error::EmptyMean { loss: BCE_DICE });
        }
        let m = if mean { input.len() as f64 } else { 1.0 };
        // The cross-entropy term rides on the Dice kernel's pass over each sample: one
        // sigmoid and one read of the logits and the mask for both terms. The mask is checked
        // (or built from checked indices) once, by `mask_of`; sigmoid needs no check.
        let bce = BcePre {
            mask: &mask,
            len: lay.c * lay.s,
            scales: vec![T::from_f64(self.bce_weight / m)],
        };
        let add = Some(T::from_f64(self.dice_weight));
        let r = run_checked(
            BCE_DICE,
            &self.opts,
            &self.dice(),
            (&input, &lay, Gt::Mask(&mask)),
            mean,
            grad.map(|g| (g, add)),
            Some(&bce),
            None,
        )?;
        let pre = r.pre.iter().fold(0.0, |a, b| a + b);
        Ok(T::from_f64(
            self.bce_weight * (pre / m) + self.dice_weight * r.reduced,
        ))
    }

    /// `reduction = none`: the values into `out`, or with `vjp` the product with the
    /// cotangent into its buffer. Value [n, c] = dice_weight·dice[n, c] + bce_weight·(the
    /// mean of sample n's C·S cross-entropy elements); with `batch`, [c] with the mean over
    /// the batch's. The cross-entropy gradient of sample n is then scaled by
    /// bce_weight·Σ_c u[n, c]/(C·S) (bce_weight·Σ_c u[c]/(N·C·S) with `batch`).
    fn none<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        out: Option<&mut [T]>,
        vjp: Option<(Option<&[T]>, &mut [T])>,
    ) -> Result<()> {
        no_distance(BCE_DICE, inputs)?;
        let (lay, mask) = mask_of(BCE_DICE, inputs)?;
        let input = inputs.input();
        none_shape(
            BCE_DICE,
            &self.opts,
            &input,
            out.as_deref(),
            vjp.as_ref().map(|(u, g)| (*u, &**g)),
        )?;
        let cp = lay.c - super::first_class(self.opts.include_background, lay.c);
        let (groups, count) = if self.opts.batch {
            (1, input.len() as f64)
        } else {
            (lay.n, (lay.c * lay.s) as f64)
        };
        let (scales, grad, weights) = match vjp {
            Some((u, g)) => {
                let u64: Option<Vec<f64>> = u.map(|u| u.iter().map(|v| v.to_f64()).collect());
                let sc = group_scales(u64.as_deref(), groups, cp, self.bce_weight, count);
                (
                    sc.into_iter().map(T::from_f64).collect(),
                    Some((g, Some(T::from_f64(self.dice_weight)))),
                    u,
                )
            }
            None => (vec![T::ZERO], None, None),
        };
        let bce = BcePre {
            mask: &mask,
            len: lay.c * lay.s,
            scales,
        };
        let r = run_checked(
            BCE_DICE,
            &self.opts,
            &self.dice(),
            (&input, &lay, Gt::Mask(&mask)),
            false,
            grad,
            Some(&bce),
            weights,
        )?;
        if let Some(out) = out {
            let group_bce: Vec<f64> = if self.opts.batch {
                vec![r.pre.iter().fold(0.0, |a, b| a + b) / count]
            } else {
                r.pre.iter().map(|p| p / count).collect()
            };
            for (j, (o, d)) in out.iter_mut().zip(&r.values).enumerate() {
                *o = T::from_f64(self.dice_weight * d + self.bce_weight * group_bce[j / cp]);
            }
        }
        Ok(())
    }
}

/// `bce_dice`'s cross-entropy term on one sample: [`BceWithLogits::element`] of every
/// element (its gradient times `scale`, written first; Dice's is added after) and the
/// sigmoid the Dice term needs, in one vectorised pass.
struct BcePre<'a, T> {
    mask: &'a [T],
    /// Elements per sample, C·S.
    len: usize,
    /// The gradient's factor, one for every sample or one per sample.
    scales: Vec<T>,
}

impl<T: Real> Pre<T> for BcePre<'_, T> {
    fn sample(&self, i: usize, x: &[T], probs: &mut [T], grad: Option<&mut [T]>) -> f64 {
        let n = self.len;
        let (x, t, probs) = (&x[..n], &self.mask[i * n..(i + 1) * n], &mut probs[..n]);
        let scale = self.scales[if self.scales.len() == 1 { 0 } else { i }];
        simd(SimdFn(
            #[inline(always)]
            || {
                let mut lanes = Lanes::default();
                match grad {
                    Some(g) => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t) = (&x[r.clone()][..k], &t[r.clone()][..k]);
                            let (p, g) = (&mut probs[r.clone()][..k], &mut g[r][..k]);
                            for i in 0..k {
                                let (l, d) = BceWithLogits::element(x[i], t[i]);
                                p[i] = sigmoid_fast(x[i]);
                                g[i] = d * scale;
                                lb[i] = l;
                            }
                        },
                    ),
                    None => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t) = (&x[r.clone()][..k], &t[r.clone()][..k]);
                            let p = &mut probs[r][..k];
                            for i in 0..k {
                                p[i] = sigmoid_fast(x[i]);
                                lb[i] = BceWithLogits::element(x[i], t[i]).0;
                            }
                        },
                    ),
                }
                lanes.total()
            },
        ))
    }
}

/// Softmax cross-entropy plus the Dice loss of the softmax: the usual loss for one class per
/// position (nnU-Net's default).
///
/// # Definition
/// $$\ell = \lambda_\text{ce}\,\mathrm{CE}(x, y) + \lambda_\text{dice}\,\mathrm{Dice}(\mathrm{softmax}(x), G)$$
/// with [`CrossEntropy`](crate::CrossEntropy) over every position (class indices, or the
/// one-hot mask as probabilities; over all C classes also when the Dice term leaves the
/// background out, as MONAI) and [`Dice`](crate::Dice) with `activation = softmax`. `Mean`
/// and `Sum` apply to each term, as MONAI's `DiceCELoss`. [`per_element`](Self::per_element)
/// (`reduction = none`) gives `[N, C']` (`[C']` with `batch`): λ_dice·dice[n, c] + λ_ce·(the
/// mean CE over sample n's positions, over the batch's with `batch`), whose mean is `Mean`.
///
/// # Gradient
/// $\lambda_\text{ce}(\mathrm{softmax}(x) - G)/M + \lambda_\text{dice}\,\partial\mathrm{Dice}/\partial x$
/// in one buffer: the cross-entropy kernel writes it, Dice's kernel adds to it.
///
/// # Parameters
/// `ce_weight` (1.0, ≥ 0), `dice_weight` (1.0, ≥ 0), and Dice's `include_background`,
/// `batch`, `smooth_nr`, `smooth_dr`, `squared`.
///
/// # Errors
/// As [`Dice`](crate::Dice) and [`CrossEntropy`](crate::CrossEntropy); C = 1 is an error
/// (softmax over one class).
///
/// # Example
/// ```
/// use losskit::{CeDice, Reduction, SegInputs, Tensor};
/// let x = [2.0f64, -1.0, 0.5, -3.0, 0.0, 1.0, 0.0, 2.0]; // [1, 2, 2, 2]
/// let y = [0i64, 1, 0, 1];                              // [1, 2, 2]
/// let inputs = SegInputs::indices(Tensor::new(&x, &[1, 2, 2, 2])?, Tensor::new(&y, &[1, 2, 2])?);
/// let v = CeDice::default().value(&inputs, Reduction::Mean)?;
/// assert!(v > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// MONAI `DiceCELoss(softmax=True, to_onehot_y=True)` (the numbers matched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CeDice {
    opts: Opts,
    squared: bool,
    ce_weight: f64,
    dice_weight: f64,
}

impl Default for CeDice {
    fn default() -> Self {
        CeDice {
            opts: Opts::DEFAULT,
            squared: false,
            ce_weight: 1.0,
            dice_weight: 1.0,
        }
    }
}

const CE_DICE: &str = "ce_dice";
dice_options!(CeDice, CE_DICE);
combo_api!(CeDice, CE_DICE);

impl CeDice {
    /// ΣP² in the Dice denominator (default `false`).
    #[must_use]
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    /// The cross-entropy term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn ce_weight(mut self, w: f64) -> Result<Self> {
        self.ce_weight = check_lambda(CE_DICE, "ce_weight", w)?;
        Ok(self)
    }

    /// The Dice term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn dice_weight(mut self, w: f64) -> Result<Self> {
        self.dice_weight = check_lambda(CE_DICE, "dice_weight", w)?;
        Ok(self)
    }

    fn go<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        reduction: Reduction,
        grad: Option<&mut [T]>,
    ) -> Result<T> {
        no_distance(CE_DICE, inputs)?;
        let input = inputs.input();
        let lay = layout(CE_DICE, &input)?;
        let opts = Opts {
            activation: Activation::Softmax,
            ..self.opts
        };
        opts.activation.check(CE_DICE, lay.c, input.dims())?;
        check_target(CE_DICE, &input, &lay, inputs.target())?;
        let ce_in = match inputs.target() {
            Some(super::SegTarget::Indices(y)) => ClassInputs::new(input, y),
            Some(super::SegTarget::Mask(m)) => ClassInputs::probabilities(input, m),
            None => {
                return Err(Error::MissingInput {
                    loss: CE_DICE,
                    name: "target",
                })
            }
        };
        let ce = CrossEntropy::default();
        let mean = reduction == Reduction::Mean;
        // Checked here so that the error names `ce_dice`, not the cross-entropy term.
        if mean && input.is_empty() {
            return Err(Error::EmptyMean { loss: CE_DICE });
        }
        let score = crate::Dice::default()
            .squared(self.squared)
            .score_with(&opts);
        let (a, d) = match grad {
            None => {
                let a = ce
                    .value(&ce_in, reduction)
                    .map_err(|e| e.named(CE_DICE))?
                    .to_f64();
                (a, run(CE_DICE, &opts, &score, inputs, mean, None)?.reduced)
            }
            Some(g) => {
                let a = ce
                    .value_and_grad(&ce_in, reduction, g)
                    .map_err(|e| e.named(CE_DICE))?
                    .to_f64();
                if self.ce_weight != 1.0 {
                    let w = T::from_f64(self.ce_weight);
                    g.iter_mut().for_each(|v| *v *= w);
                }
                let add = Some(T::from_f64(self.dice_weight));
                (
                    a,
                    run(CE_DICE, &opts, &score, inputs, mean, Some((g, add)))?.reduced,
                )
            }
        };
        Ok(T::from_f64(self.ce_weight * a + self.dice_weight * d))
    }

    /// `reduction = none`, as [`BceDice`]'s: value [n, c] = dice_weight·dice[n, c] +
    /// ce_weight·(the mean of sample n's S cross-entropy positions); with `batch`, [c] with
    /// the mean over the batch's N·S. The cross-entropy gradient of sample n is scaled by
    /// ce_weight·Σ_c u[n, c]/S (ce_weight·Σ_c u[c]/(N·S) with `batch`).
    fn none<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        out: Option<&mut [T]>,
        vjp: Option<(Option<&[T]>, &mut [T])>,
    ) -> Result<()> {
        no_distance(CE_DICE, inputs)?;
        let input = inputs.input();
        let lay = layout(CE_DICE, &input)?;
        let opts = Opts {
            activation: Activation::Softmax,
            ..self.opts
        };
        opts.activation.check(CE_DICE, lay.c, input.dims())?;
        check_target(CE_DICE, &input, &lay, inputs.target())?;
        none_shape(
            CE_DICE,
            &opts,
            &input,
            out.as_deref(),
            vjp.as_ref().map(|(u, g)| (*u, &**g)),
        )?;
        let ce_in = match inputs.target() {
            Some(super::SegTarget::Indices(y)) => ClassInputs::new(input, y),
            Some(super::SegTarget::Mask(m)) => ClassInputs::probabilities(input, m),
            None => {
                return Err(Error::MissingInput {
                    loss: CE_DICE,
                    name: "target",
                })
            }
        };
        let ce = CrossEntropy::default();
        let score = crate::Dice::default()
            .squared(self.squared)
            .score_with(&opts);
        let cp = lay.c - super::first_class(opts.include_background, lay.c);
        let (groups, count) = if opts.batch {
            (1, (lay.n * lay.s) as f64)
        } else {
            (lay.n, lay.s as f64)
        };
        if let Some(out) = out {
            let mut pos = vec![T::ZERO; lay.n * lay.s];
            ce.per_element(&ce_in, &mut pos)
                .map_err(|e| e.named(CE_DICE))?;
            let group_ce: Vec<f64> = pos
                .chunks(if opts.batch {
                    pos.len().max(1)
                } else {
                    lay.s.max(1)
                })
                .map(|p| p.iter().fold(0.0, |a, v| a + v.to_f64()) / count)
                .collect();
            let d = run(CE_DICE, &opts, &score, inputs, false, None)?.values;
            for (j, (o, d)) in out.iter_mut().zip(&d).enumerate() {
                *o = T::from_f64(self.dice_weight * d + self.ce_weight * group_ce[j / cp]);
            }
        }
        if let Some((u, g)) = vjp {
            ce.value_and_grad(&ce_in, Reduction::Sum, g)
                .map_err(|e| e.named(CE_DICE))?;
            let u64: Option<Vec<f64>> = u.map(|u| u.iter().map(|v| v.to_f64()).collect());
            let sc = group_scales(u64.as_deref(), groups, cp, self.ce_weight, count);
            let per = if opts.batch { g.len() } else { lay.c * lay.s };
            for (gi, k) in g.chunks_mut(per.max(1)).zip(sc.iter().cycle()) {
                let k = T::from_f64(*k);
                gi.iter_mut().for_each(|v| *v *= k);
            }
            let add = Some(T::from_f64(self.dice_weight));
            run_weighted(CE_DICE, &opts, &score, inputs, false, Some((g, add)), u)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * (1.0 + a.abs() + b.abs())
    }

    fn logits(len: usize) -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 7 + 3) % 11) as f64 / 3.0 - 1.7)
            .collect()
    }

    /// The mean of the `none` values is `mean`, and the VJP with a uniform cotangent 1/len
    /// is `mean`'s gradient, for both losses, with and without `batch` and background.
    #[test]
    fn none_averages_to_mean() {
        let dims = [3usize, 3, 2, 2];
        let x = logits(36);
        let y: Vec<i64> = (0..12).map(|i| (i * 5 % 7 % 3) as i64).collect();
        let mut m = vec![0.0; 36];
        for n in 0..3 {
            for p in 0..4 {
                let k = y[n * 4 + p] as usize;
                m[(n * 3 + k) * 4 + p] = 1.0;
            }
        }
        let xt = || Tensor::new(&x, &dims).unwrap();
        let by_index = SegInputs::indices(xt(), Tensor::new(&y, &[3, 2, 2]).unwrap());
        let by_mask = SegInputs::mask(xt(), Tensor::new(&m, &dims).unwrap());
        for batch in [false, true] {
            for bg in [true, false] {
                let bd = BceDice::default()
                    .batch(batch)
                    .include_background(bg)
                    .bce_weight(0.7)
                    .unwrap()
                    .dice_weight(1.3)
                    .unwrap();
                let cd = CeDice::default()
                    .batch(batch)
                    .include_background(bg)
                    .ce_weight(0.6)
                    .unwrap()
                    .dice_weight(1.4)
                    .unwrap();
                let shape = bd.per_element_shape(&dims).unwrap();
                let cp = if bg { 3 } else { 2 };
                assert_eq!(shape, if batch { vec![cp] } else { vec![3, cp] });
                assert_eq!(cd.per_element_shape(&dims).unwrap(), shape);
                let len: usize = shape.iter().product();
                let u = vec![1.0 / len as f64; len];
                let check = |name: &str,
                             per: &dyn Fn(&mut [f64]),
                             mean: f64,
                             vjp: &dyn Fn(&mut [f64]),
                             grad_mean: &[f64]| {
                    let mut o = vec![0.0; len];
                    per(&mut o);
                    let got = o.iter().sum::<f64>() / len as f64;
                    assert!(
                        close(got, mean),
                        "{name} batch={batch} bg={bg}: {got} vs {mean}"
                    );
                    let mut g = vec![0.0; 36];
                    vjp(&mut g);
                    for (a, b) in g.iter().zip(grad_mean) {
                        assert!(close(*a, *b), "{name} batch={batch} bg={bg}: {a} vs {b}");
                    }
                };
                let mut gm = vec![0.0; 36];
                let mean = bd
                    .value_and_grad(&by_mask, Reduction::Mean, &mut gm)
                    .unwrap();
                check(
                    "bce_dice",
                    &|o| bd.per_element(&by_mask, o).unwrap(),
                    mean,
                    &|g| bd.vjp(&by_mask, Some(&u), g).unwrap(),
                    &gm,
                );
                for inputs in [&by_index, &by_mask] {
                    let mean = cd.value_and_grad(inputs, Reduction::Mean, &mut gm).unwrap();
                    check(
                        "ce_dice",
                        &|o| cd.per_element(inputs, o).unwrap(),
                        mean,
                        &|g| cd.vjp(inputs, Some(&u), g).unwrap(),
                        &gm,
                    );
                }
            }
        }
    }

    /// No cotangent is the all-ones one; a sample with no position has no mean
    /// cross-entropy, while an empty batch without `batch` has no value to give.
    #[test]
    fn none_edge_cases() {
        let dims = [2usize, 2, 3];
        let x = logits(12);
        let m: Vec<f64> = (0..12).map(|i| f64::from(u8::from(i % 3 == 0))).collect();
        let inputs = SegInputs::mask(
            Tensor::new(&x, &dims).unwrap(),
            Tensor::new(&m, &dims).unwrap(),
        );
        let bd = BceDice::default();
        let (mut a, mut b) = (vec![0.0; 12], vec![0.0; 12]);
        bd.vjp(&inputs, None, &mut a).unwrap();
        bd.vjp(&inputs, Some(&[1.0; 4]), &mut b).unwrap();
        assert_eq!(a, b);

        let e: [f64; 0] = [];
        let empty_s = SegInputs::mask(
            Tensor::new(&e, &[2, 2, 0]).unwrap(),
            Tensor::new(&e, &[2, 2, 0]).unwrap(),
        );
        let err = bd.per_element(&empty_s, &mut [0.0; 4]).unwrap_err();
        assert!(err.to_string().starts_with("bce_dice: "), "{err}");
        let err = CeDice::default()
            .per_element(&empty_s, &mut [0.0; 4])
            .unwrap_err();
        assert!(err.to_string().starts_with("ce_dice: "), "{err}");
        let empty_n = SegInputs::mask(
            Tensor::new(&e, &[0, 2, 3]).unwrap(),
            Tensor::new(&e, &[0, 2, 3]).unwrap(),
        );
        bd.per_element(&empty_n, &mut []).unwrap();
        assert!(bd.batch(true).per_element(&empty_n, &mut [0.0; 2]).is_err());
    }
}
