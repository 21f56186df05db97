//! Dice plus sigmoid focal loss: [`DiceFocal`]. The Dice term is [`Dice`](crate::Dice)'s
//! kernel; the focal term is a hard-label sigmoid focal element computed here (the
//! segmentation family does not reach into the classification family's kernels).

use crate::error::{check_buffer, Error, Result};
use crate::numerics::{block_sum, logistic, pow_with_log, simd, Lanes, PowKind, SimdFn};
use crate::real::Real;

use super::combo::mask_of;
use super::overlap::{dice_options, run_checked, Opts};
use super::{first_class, no_distance, Activation, Gt, SegInputs};

const NAME: &str = "dice_focal";

/// The Dice loss plus the sigmoid focal loss of the logits, MONAI's `DiceFocalLoss`.
///
/// # Definition
/// $$\ell = \lambda_\text{dice}\,\mathrm{Dice}(\mathrm{act}(x), G) + \lambda_\text{focal}\,
/// \frac{1}{M}\sum_{n,c\in C',p} (1 - p_t)^\gamma\,\mathrm{BCE}(x, G)$$
/// with [`Dice`](crate::Dice) at its parameters (activation, `include_background`, `batch`,
/// smoothing, `squared`; its mean over the `[N, C']` ratios) and the focal term over the logits
/// of the kept channels (every channel, or all but channel 0 without the background, as
/// MONAI's `FocalLoss(include_background=False)`), `M = N·C'·S`, with
/// $p_t = \sigma(x)$ where G = 1 and $1 - \sigma(x)$ where G = 0. The focal term is the
/// sigmoid one whatever the Dice activation: MONAI 1.6.1's `DiceFocalLoss` builds its
/// `FocalLoss` with `use_softmax=False` also when `softmax=True`. Only the mean exists
/// (MONAI's `DiceFocalLoss` reduces each term with the same reduction and defines no
/// per-element output of the sum).
///
/// # Gradient
/// With $s = 2G - 1$, $z = s\,x$ (the target's logit), $m = \sigma(-z) = 1 - p_t$:
/// $$\frac{\partial\,\mathrm{focal}}{\partial x} = -s\,m^\gamma\big(m + \gamma\,\sigma(z)\,
/// \mathrm{BCE}\big)$$
/// times λ_focal/M, written first; the Dice term's gradient (through its activation) is added
/// to it times λ_dice by Dice's kernel.
///
/// # Numerical stability
/// BCE is $-\ln\sigma(z)$, the log-sigmoid (a softplus, finite at every finite logit); $1 - p_t$
/// is $\sigma(-z)$, never $1 - \sigma(z)$, and $(1 - p_t)^\gamma$ is an exact product for
/// integer γ ≤ 4, else $\exp(\gamma\ln\sigma(-z))$ with the log-sigmoid (no $0^\gamma$ of an
/// underflowed probability). The sums run in f64.
///
/// # Parameters
/// [`Dice`](crate::Dice)'s (`activation` softmax by default, `include_background`, `batch`,
/// `smooth_nr`, `smooth_dr`, `squared`), `gamma` (2.0, ≥ 0), `lambda_dice` (1.0, ≥ 0),
/// `lambda_focal` (1.0, ≥ 0).
///
/// # Deliberate difference
/// MONAI's `FocalLoss` casts its inputs to float32 (`input.float()`), also in a float64
/// pass; here the focal term is computed in the input's precision (f64 agrees with MONAI's
/// float64 value to about 1e-7, the float32 rounding).
///
/// # Errors
/// As [`Dice`](crate::Dice); the target must be a 0/1 mask or class indices; an input with no
/// element is [`Error::EmptyMean`].
///
/// # Example
/// ```
/// use losskit::{DiceFocal, SegInputs, Tensor};
/// let x = [2.0f32, -1.0, 0.5, -3.0, 0.0, 1.0, 0.0, 2.0]; // [1, 2, 4]
/// let y = [0i64, 1, 0, 1];                              // [1, 4]
/// let inputs = SegInputs::indices(Tensor::new(&x, &[1, 2, 4])?, Tensor::new(&y, &[1, 4])?);
/// let mut grad = [0.0f32; 8];
/// let v = DiceFocal::default().value_and_grad(&inputs, &mut grad)?;
/// assert!(v > 0.0 && grad[0] < 0.0 && grad[4] > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Milletari et al. 2016 (Dice), Lin et al. 2017 (focal loss); MONAI `DiceFocalLoss` (the
/// numbers matched, `reduction="mean"`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiceFocal {
    opts: Opts,
    squared: bool,
    gamma: f64,
    pow: PowKind,
    lambda_dice: f64,
    lambda_focal: f64,
}

impl Default for DiceFocal {
    fn default() -> Self {
        DiceFocal {
            opts: Opts::DEFAULT,
            squared: false,
            gamma: 2.0,
            pow: PowKind::Two,
            lambda_dice: 1.0,
            lambda_focal: 1.0,
        }
    }
}

dice_options!(DiceFocal, NAME);

fn check_non_negative(param: &'static str, v: f64) -> Result<f64> {
    if !(v >= 0.0 && v.is_finite()) {
        return Err(Error::InvalidParam {
            loss: NAME,
            param,
            value: v,
            expected: ">= 0 and finite",
        });
    }
    Ok(v)
}

impl DiceFocal {
    /// The activation of the Dice term (default [`Activation::Softmax`]); the focal term is
    /// always the sigmoid's.
    #[must_use]
    pub fn activation(mut self, activation: Activation) -> Self {
        self.opts.activation = activation;
        self
    }

    /// ΣP² and ΣG² in the Dice denominator (default `false`).
    #[must_use]
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    /// The focusing exponent γ (default 2).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn gamma(mut self, gamma: f64) -> Result<Self> {
        self.gamma = check_non_negative("gamma", gamma)?;
        self.pow = PowKind::of(gamma);
        Ok(self)
    }

    /// The Dice term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn lambda_dice(mut self, w: f64) -> Result<Self> {
        self.lambda_dice = check_non_negative("lambda_dice", w)?;
        Ok(self)
    }

    /// The focal term's weight (default 1).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and ≥ 0.
    pub fn lambda_focal(mut self, w: f64) -> Result<Self> {
        self.lambda_focal = check_non_negative("lambda_focal", w)?;
        Ok(self)
    }

    /// The loss (the mean of each term, weighted and summed).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &SegInputs<'_, T>) -> Result<T> {
        self.go(inputs, None)
    }

    /// The loss and its gradient with respect to `input` (into `grad`, as long as `input`).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(&self, inputs: &SegInputs<'_, T>, grad: &mut [T]) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        self.go(inputs, Some(grad))
    }

    fn go<T: Real>(&self, inputs: &SegInputs<'_, T>, mut grad: Option<&mut [T]>) -> Result<T> {
        no_distance(NAME, inputs)?;
        let input = inputs.input();
        let (lay, mask) = mask_of(NAME, inputs)?;
        self.opts.activation.check(NAME, lay.c, input.dims())?;
        let c0 = first_class(self.opts.include_background, lay.c);
        let m = lay.n * (lay.c - c0) * lay.s;
        if m == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let scale = T::from_f64(self.lambda_focal / m as f64);
        let gamma = T::from_f64(self.gamma);
        let kind = self.pow;
        let x = input.data();
        let row = lay.c * lay.s;
        // The focal term, written first (0 for a left-out channel 0); Dice's gradient is then
        // added to it.
        let focal = simd(SimdFn(
            #[inline(always)]
            || {
                let mut lanes = Lanes::default();
                for n in 0..lay.n {
                    let seg = n * row + c0 * lay.s..(n + 1) * row;
                    let (xs, ts) = (&x[seg.clone()], &mask[seg.clone()]);
                    match grad.as_deref_mut() {
                        Some(g) => {
                            g[n * row..seg.start].fill(T::ZERO);
                            let gs = &mut g[seg.clone()];
                            block_sum(
                                xs.len(),
                                &mut lanes,
                                #[inline(always)]
                                |r, lb| {
                                    let k = lb.len();
                                    let (xs, ts) = (&xs[r.clone()][..k], &ts[r.clone()][..k]);
                                    let gs = &mut gs[r][..k];
                                    for i in 0..k {
                                        let (l, d) = focal_element(xs[i], ts[i], gamma, kind);
                                        lb[i] = l;
                                        gs[i] = d * scale;
                                    }
                                },
                            );
                        }
                        None => block_sum(
                            xs.len(),
                            &mut lanes,
                            #[inline(always)]
                            |r, lb| {
                                let k = lb.len();
                                let (xs, ts) = (&xs[r.clone()][..k], &ts[r][..k]);
                                for i in 0..k {
                                    lb[i] = focal_element(xs[i], ts[i], gamma, kind).0;
                                }
                            },
                        ),
                    }
                }
                lanes.total()
            },
        ));
        let score = crate::Dice::default()
            .squared(self.squared)
            .score_with(&self.opts);
        let add = Some(T::from_f64(self.lambda_dice));
        let r = run_checked(
            NAME,
            &self.opts,
            &score,
            (&input, &lay, Gt::Mask(&mask)),
            true,
            grad.map(|g| (g, add)),
            None,
            None,
        )?;
        let v = self.lambda_dice * r.reduced + self.lambda_focal * (focal / m as f64);
        if !v.is_finite() && !super::has_nan(&input) {
            return Err(super::non_finite(NAME, &input));
        }
        Ok(T::from_f64(v))
    }
}

/// The sigmoid focal loss of logit `x` against a hard label `y` (0 or 1) and its derivative:
/// `(σ(−z)^γ·(−ln σ(z)), −s·σ(−z)^γ·(σ(−z) + γ·σ(z)·(−ln σ(z))))` with `s = 2y − 1`,
/// `z = s·x`.
#[inline(always)]
pub(crate) fn focal_element<T: Real>(x: T, y: T, gamma: T, kind: PowKind) -> (T, T) {
    let s = y + y - T::ONE;
    let b = logistic(s * x);
    let ce = -b.log_p;
    let m = b.q;
    let f = pow_with_log(kind, m, b.log_q, gamma, T::exp_fast);
    // σ(z)·BCE → 0 as z → −∞; kept 0 where σ(z) underflows (BCE may be ∞ at x = ∓∞).
    let pce = if b.p == T::ZERO { T::ZERO } else { b.p * ce };
    (f * ce, -s * f * (m + gamma * pce))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    /// The focal element against its definition written out, (1 − p_t)^γ·BCE with p_t = σ(x)
    /// or 1 − σ(x), and its derivative against central differences.
    #[test]
    fn focal_element_matches_definition() {
        for &y in &[0.0f64, 1.0] {
            for &g in &[0.0, 0.5, 2.0, 3.7] {
                for &x in &[-30.0f64, -3.0, -0.2, 0.0, 0.7, 4.0, 25.0] {
                    // z = ±x, the target's logit: BCE = softplus(−z), 1 − p_t = 1/(1 + e^z).
                    let z = if y == 1.0 { x } else { -x };
                    let bce = (-z).max(0.0) + (-z.abs()).exp().ln_1p();
                    let want = (1.0 / (1.0 + z.exp())).powf(g) * bce;
                    let (l, d) = focal_element(x, y, g, PowKind::of(g));
                    assert!((l - want).abs() <= 1e-9 * (1.0 + want.abs()), "{x} {y} {g}");
                    let h = 1e-6;
                    let f = |x| focal_element(x, y, g, PowKind::of(g)).0;
                    let fd = (f(x + h) - f(x - h)) / (2.0 * h);
                    assert!(
                        (d - fd).abs() <= 1e-6 * (1.0 + fd.abs()),
                        "{x} {y} {g}: {d} {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn errors_name_the_loss() {
        assert!(DiceFocal::default().gamma(-1.0).is_err());
        assert!(DiceFocal::default().lambda_focal(f64::NAN).is_err());
        let e: [f64; 0] = [];
        let inputs = SegInputs::mask(
            Tensor::new(&e, &[0, 2, 3]).unwrap(),
            Tensor::new(&e, &[0, 2, 3]).unwrap(),
        );
        let err = DiceFocal::default().value(&inputs).unwrap_err();
        assert!(err.to_string().starts_with("dice_focal: "), "{err}");
    }
}
