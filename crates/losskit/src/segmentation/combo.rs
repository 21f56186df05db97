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

use super::overlap::{dice_options, run, run_checked, Opts, Pre};
use super::{check_target, layout, no_distance, Activation, Gt, Layout, SegInputs};

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
fn mask_of<'a, T: Real>(
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
/// sum, as MONAI's `DiceCELoss`; there is no per-element form (the two terms have different
/// shapes; MONAI rejects `none` too).
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
            scale: T::from_f64(self.bce_weight / m),
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
        Ok(T::from_f64(
            self.bce_weight * (r.pre / m) + self.dice_weight * r.reduced,
        ))
    }
}

/// `bce_dice`'s cross-entropy term on one sample: [`BceWithLogits::element`] of every
/// element (its gradient times `scale`, written first; Dice's is added after) and the
/// sigmoid the Dice term needs, in one vectorised pass.
struct BcePre<'a, T> {
    mask: &'a [T],
    /// Elements per sample, C·S.
    len: usize,
    scale: T,
}

impl<T: Real> Pre<T> for BcePre<'_, T> {
    fn sample(&self, i: usize, x: &[T], probs: &mut [T], grad: Option<&mut [T]>) -> f64 {
        let n = self.len;
        let (x, t, probs) = (&x[..n], &self.mask[i * n..(i + 1) * n], &mut probs[..n]);
        let scale = self.scale;
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
/// and `Sum` apply to each term, as MONAI's `DiceCELoss`; there is no per-element form.
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
}
