//! Softmax cross-entropy on logits, with class indices or probabilities as targets.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Range, Role,
    STANDARD_REDUCTIONS,
};
use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{Call, Out};
use crate::evaluator;
use crate::real::Real;
use crate::reduction::Reduction;

use super::multiclass::{
    check_class_weight, check_index_shape, layout, mean_scale, scan_targets, ClassInputs,
    ClassTarget, Layout, CLASS_WEIGHT, LOGITS,
};
use super::soft_target;
use super::softmax::{self, ClassW, Fin, Head, HessCoef, HessPolicy, Mode, Ones, PerClass, Stats};
use super::softmax_hess::{self, CeProb};
use crate::eval::{dispatch, Vjp};
use crate::hessian::{hess_evaluator, Curvature, HessOut, HessianInfo};

const NAME: &str = "cross_entropy";

/// Softmax cross-entropy: the standard loss for single-label classification, on logits.
///
/// # Definition
/// With $p_{c} = e^{x_{c}} / \sum_k e^{x_{k}}$ over the class dimension (dimension 1 of
/// `input`), a class-index target $y$, class weights $w$ (1 without `weight`) and label
/// smoothing $\varepsilon$ over $C$ classes, each element (sample, or sample and position)
/// has the loss
/// $$\ell = (1 - \varepsilon)\\, w_{y}\\,(-\ln p_{y}) + \frac{\varepsilon}{C} \sum_{c} w_{c}\\,(-\ln p_{c}),$$
/// and 0 where $y$ = `ignore_index`. `Mean` is $\sum \ell / \sum w_{y}$ over the
/// non-ignored elements (without weights: their count), exactly as PyTorch, smoothing term
/// included.
///
/// With probability targets $t$ (soft labels, of `input`'s shape), $t' = (1-\varepsilon)t +
/// \varepsilon/C$ and
/// $$\ell = \sum_c w_c\\, t'_c\\,(-\ln p_c),$$
/// and `Mean` divides by the number of elements $N \cdot d_1 \cdots$ (as PyTorch). A class
/// with $t'_c w_c = 0$ contributes 0 even where $p_c = 0$ ($0 \cdot \ln 0 = 0$).
///
/// # Gradient
/// $$\frac{\partial \ell}{\partial x_c} = \Big((1-\varepsilon) w_y + \tfrac{\varepsilon}{C} W\Big) p_c - (1-\varepsilon) w_y [c = y] - \tfrac{\varepsilon}{C} w_c,\qquad W = \textstyle\sum_c w_c$$
/// (index targets; softmax minus the smoothed one-hot when unweighted), and
/// $\big(\sum_k w_k t'_k\big) p_c - w_c t'_c$ for probability targets; times the
/// reduction's scale. Ignored elements get exact zeros.
///
/// # Numerical stability
/// The log-softmax is taken with the row maximum $m$ out: $-\ln p_y = \ln \sum_c
/// e^{x_c - m} - (x_y - m)$, and when $y$ is the maximum, $\ln(1 + \sum_{c \ne y} e^{x_c -
/// m})$ by `ln_1p`, so a confident correct prediction keeps its tiny loss to full relative
/// accuracy (logits $[10, 0, -100]$, target 2: 110.000045; target 0: $4.54 \cdot
/// 10^{-5}$), and $p_y - 1 = -\sum_{c \ne y} p_c$ without cancellation. Logits of any finite
/// size ($\pm 10^4$, rows mixing $-1000$ and $900$) are fine. A $-\infty$ logit is a class
/// with probability exactly 0 (action masking): finite loss unless it is the target (then
/// $+\infty$) or smoothing puts mass on it, gradient 0 there, never NaN. A row with a
/// $+\infty$ logit or only $-\infty$ logits is an error (the softmax is undefined; PyTorch
/// gives NaN). The exponentials and logarithms are
/// [`numerics::exp_f32`](crate::numerics::exp_f32) and [`numerics::ln_f32`](crate::numerics::ln_f32)
/// (and their f64 twins), within 1 ulp of `exp` and `ln` and vectorised; sums over the batch
/// accumulate in f64, in an order fixed by the shape (the same bits at any thread count, and
/// from `value` and `value_and_grad`).
///
/// # Performance
/// One pass over the logits per sample (the row stays in cache for the three sweeps: maximum,
/// exponentials into the gradient buffer, gradient), AVX2 where available, samples split over
/// threads with the `parallel` feature. The `[N, C, d1, …]` layout is read in place, in
/// blocks of positions. `tools/bench/compare_cross_entropy.py` measures it against PyTorch.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `ignore_index` | −100 | any integer; index targets only |
/// | `label_smoothing` | 0.0 | [0, 1] |
///
/// # Deliberate difference
/// `Mean` with every target ignored (or every non-ignored target of weight 0) is 0 with zero
/// gradients; PyTorch returns NaN (0/0).
///
/// # Errors
/// [`CrossEntropy::label_smoothing`] rejects values outside [0, 1] and NaN. Evaluation
/// rejects: an `input` of rank 0 or with 0 classes ([`Error::BadShape`]); a `target` or
/// `weight` of the wrong shape ([`Error::ShapeMismatch`]); a class index outside `[0, C)` that
/// is not `ignore_index`, a probability outside [0, 1], a negative or non-finite weight, a
/// logit row with `+∞` or only `−∞` ([`Error::InvalidValue`], naming the position and the
/// value); `ignore_index ≥ 0` with probability targets ([`Error::InvalidParam`], as PyTorch);
/// `Mean` over no elements ([`Error::EmptyMean`]); a buffer of the wrong length
/// ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{ClassInputs, CrossEntropy, Reduction, Tensor};
/// let logits = [1.0f64, 2.0, 3.0, 10.0, 0.0, -100.0];
/// let labels = [0i64, 2];
/// let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
///
/// let mut per = [0.0; 2];
/// CrossEntropy::default().per_element(&inputs, &mut per)?;
/// assert!((per[1] - 110.000045).abs() < 1e-6);
///
/// // Label smoothing 0.1 over 3 classes: the smoothed target of row 0 is [0.9333, 0.0333, 0.0333].
/// let smooth = CrossEntropy::default().label_smoothing(0.1)?;
/// let mut grad = [0.0; 6];
/// let v = smooth.value_and_grad(&inputs, Reduction::Sum, &mut grad)?;
/// smooth.per_element(&inputs, &mut per)?;
/// assert!((per[0] - 2.307606).abs() < 1e-6);
/// assert!((v - (per[0] + per[1])).abs() < 1e-12);
/// // Each row's gradient is softmax minus the smoothed one-hot: it sums to 0.
/// assert!(grad[..3].iter().sum::<f64>().abs() < 1e-12);
///
/// // Ignored rows count for nothing.
/// let labels = [0i64, -100];
/// let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
/// let mean = CrossEntropy::default().value(&inputs, Reduction::Mean)?;
/// assert!((mean - 2.4076059644443806).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.cross_entropy` (the numbers matched, including
/// `label_smoothing` with `weight` and `ignore_index`, following
/// `aten/src/ATen/native/LossNLL.cpp`). Label smoothing: C. Szegedy et al., "Rethinking the
/// Inception Architecture for Computer Vision", CVPR 2016.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropy {
    ignore_index: i64,
    label_smoothing: f64,
}

/// PyTorch's defaults: `ignore_index = −100`, `label_smoothing = 0.0`.
impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy {
            ignore_index: -100,
            label_smoothing: 0.0,
        }
    }
}

/// The index-target head: cross-entropy with optional smoothing.
struct CeHead<T> {
    one_minus_eps: T,
    eps_c: T,
    w_total: T,
}

struct Plain;

impl<T: Real> Head<T> for Plain {
    const SMOOTH: bool = false;
    #[inline(always)]
    fn finish(&self, st: &Stats<T>, w_y: T, scale: T) -> Fin<T> {
        let s = st.s();
        let a = scale * w_y;
        Fin {
            loss: w_y * st.nll(),
            k1: a / s,
            k2: T::ZERO,
            gy: -a * (st.s_other / s),
        }
    }
    #[inline(always)]
    fn hess(&self, _st: &Stats<T>, w_y: T) -> HessCoef<T> {
        HessCoef {
            a: w_y,
            b: T::ZERO,
            inv_q: T::ZERO,
        }
    }
}

impl<T: Real> Head<T> for CeHead<T> {
    const SMOOTH: bool = true;
    #[inline(always)]
    fn finish(&self, st: &Stats<T>, w_y: T, scale: T) -> Fin<T> {
        let (s, ln_s) = (st.s(), st.ln_s());
        let hard = self.one_minus_eps * w_y;
        // Σ_c w_c (−ln p_c) = W ln s − Σ_c w_c (x_c − m): both terms ≥ 0, no cancellation.
        let smooth = self.w_total * ln_s - st.sd;
        let loss = hard * (ln_s - st.d_y) + self.eps_c * smooth;
        let k1 = scale * (hard + self.eps_c * self.w_total) / s;
        let k2 = scale * self.eps_c;
        let p_y = st.e_y / s;
        let gy = scale * (-hard * (st.s_other / s) + self.eps_c * (self.w_total * p_y - w_y));
        Fin { loss, k1, k2, gy }
    }
    #[inline(always)]
    fn hess(&self, _st: &Stats<T>, w_y: T) -> HessCoef<T> {
        // The row's total target weight A = (1 − ε)w_y + (ε/C)·Σ_c w_c.
        HessCoef {
            a: self.one_minus_eps * w_y + self.eps_c * self.w_total,
            b: T::ZERO,
            inv_q: T::ZERO,
        }
    }
}

/// The policy applied to `A·p(1 − p)`, the exact cross-entropy diagonal, over `classes`
/// classes.
fn ce_policy<T: Real>(classes: usize, c: Curvature) -> HessPolicy<T> {
    match c {
        Curvature::Exact => HessPolicy::exact(),
        // `fmax(2p(1 − p)·w, 1e-16)`: XGBoost's multi:softprob (src/objective/multiclass_obj.cu).
        Curvature::XGBoost => HessPolicy {
            mult: T::TWO,
            floor: T::from_f64(softmax_hess::XGBOOST_SOFTMAX_FLOOR),
            bound: false,
        },
        // `factor_·p(1 − p)`, factor_ = K/(K − 1): LightGBM's multiclass
        // (src/objective/multiclass_objective.hpp).
        Curvature::LightGBM => HessPolicy {
            mult: if classes > 1 {
                T::from_f64(classes as f64 / (classes as f64 - 1.0))
            } else {
                T::ONE
            },
            floor: -T::INFINITY,
            bound: false,
        },
    }
}

impl CrossEntropy {
    /// The target value whose elements are skipped (index targets only): they add 0 to the
    /// loss and to the denominator of `Mean`, and get zero gradients.
    #[must_use]
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Label smoothing `ε`: the target becomes `(1 − ε)·one_hot + ε/C`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `0 ≤ ε ≤ 1`.
    pub fn label_smoothing(mut self, eps: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&eps) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "label_smoothing",
                value: eps,
                expected: "in [0, 1]",
            });
        }
        self.label_smoothing = eps;
        Ok(self)
    }

    /// The value skipped in index targets.
    pub fn get_ignore_index(&self) -> i64 {
        self.ignore_index
    }

    /// The label smoothing.
    pub fn get_label_smoothing(&self) -> f64 {
        self.label_smoothing
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &ClassInputs<'_, T>, reduction: Reduction) -> Result<T> {
        self.run(inputs, Some(reduction), Mode::Value)
    }

    /// The loss reduced with `reduction`, and its gradient with respect to `input` written
    /// to `grad` (as long as `input`; the reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs. On error `grad` holds unspecified values.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        self.run(inputs, Some(reduction), Mode::Grad(grad, T::ONE))
    }

    /// The per-element losses (shape: `input`'s without the class dimension; 0 at ignored
    /// elements) written to `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &ClassInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let lay = layout(NAME, &inputs.input())?;
        check_buffer(NAME, "per-element output", out.len(), lay.elements())?;
        self.run(inputs, None, Mode::PerElement(out)).map(|_| ())
    }

    fn run<T: Real>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Option<Reduction>,
        mode: Mode<'_, T>,
    ) -> Result<T> {
        inputs.check_takes(NAME, &["input", "target", "weight"], true)?;
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        let w_total = match inputs.weight_tensor() {
            Some(w) => check_class_weight(NAME, "weight", lay.c, &w)?,
            None => lay.c as f64,
        };
        let weight = inputs.weight_tensor().map(|w| w.data());
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.elements() == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        match inputs.target() {
            ClassTarget::Indices(target) => {
                check_index_shape(NAME, &lay, &target)?;
                let stats = scan_targets(NAME, &target, lay.c, Some(self.ignore_index), weight)?;
                let Some(denom) = mean_scale(stats.weight_sum, mean) else {
                    if let Mode::Grad(g, _) = mode {
                        g.fill(T::ZERO);
                    }
                    return Ok(T::ZERO);
                };
                let mode = with_scale(mode, denom);
                let ys = target.data();
                let sum = match weight {
                    None => self.index(Ones, w_total, &input, &lay, ys, mode)?,
                    Some(w) => self.index(PerClass(w), w_total, &input, &lay, ys, mode)?,
                };
                Ok(T::from_f64(sum / denom))
            }
            ClassTarget::Probabilities(target) => {
                if self.ignore_index >= 0 {
                    return Err(Error::InvalidIntParam {
                        loss: NAME,
                        param: "ignore_index",
                        value: i128::from(self.ignore_index),
                        expected: "< 0 with probability targets (it applies to class indices only; PyTorch rejects it too)",
                    });
                }
                if target.dims() != input.dims() {
                    return Err(Error::ShapeMismatch {
                        loss: NAME,
                        arg: "target",
                        actual: target.dims().to_vec(),
                        expected: input.dims().to_vec(),
                        because: "probability targets have the shape of `input`; class indices drop its class dimension 1",
                    });
                }
                let denom = if mean { lay.elements() as f64 } else { 1.0 };
                let mode = with_scale(mode, denom);
                let eps = self.label_smoothing;
                let sum = match weight {
                    None => soft_target::run(NAME, Ones, eps, &input, &target, &lay, mode)?,
                    Some(w) => {
                        soft_target::run(NAME, PerClass(w), eps, &input, &target, &lay, mode)?
                    }
                };
                Ok(T::from_f64(sum / denom))
            }
        }
    }

    fn index<T: Real, W: ClassW<T>>(
        &self,
        w: W,
        w_total: f64,
        input: &crate::tensor::Tensor<'_, T>,
        lay: &Layout,
        ys: &[i64],
        mode: Mode<'_, T>,
    ) -> Result<f64> {
        let eps = self.label_smoothing;
        if eps > 0.0 {
            let head = CeHead {
                one_minus_eps: T::from_f64(1.0 - eps),
                eps_c: T::from_f64(eps / lay.c as f64),
                w_total: T::from_f64(w_total),
            };
            softmax::run(NAME, &head, w, input, lay, ys, self.ignore_index, mode)
        } else {
            softmax::run(NAME, &Plain, w, input, lay, ys, self.ignore_index, mode)
        }
    }
}

/// Puts `1 / denom` into a gradient mode.
pub(crate) fn with_scale<T: Real>(mode: Mode<'_, T>, denom: f64) -> Mode<'_, T> {
    match mode {
        Mode::Grad(g, _) => Mode::Grad(g, T::from_f64(1.0 / denom)),
        other => other,
    }
}

impl CrossEntropy {
    /// The loss reduced with `reduction`, its gradient with respect to `input` (into `grad`)
    /// and the diagonal of its Hessian (into `hess`), both as long as `input` and including
    /// the weights and the reduction's scale, in one pass over each row of logits.
    ///
    /// Per element with total target weight $A = \sum_c a_c$ (index targets:
    /// $(1-\varepsilon) w_y + \tfrac{\varepsilon}{C} W$; probabilities: $\sum_c w_c t'_c$), the
    /// Hessian of $\ell$ with respect to the logits is $A(\operatorname{diag}(p) - p p^\top)$;
    /// its diagonal $A\,p_c(1 - p_c)$ is what [`Curvature::Exact`] gives, with $1 - p_c$ taken
    /// from the other classes where $p_c$ is the largest (no cancellation as $p_c \to 1$).
    /// [`Curvature::XGBoost`] gives $\max(2A\,p_c(1 - p_c), 10^{-16})$ (`multi:softprob`),
    /// [`Curvature::LightGBM`] $\tfrac{C}{C-1} A\,p_c(1 - p_c)$ (`multiclass`); see
    /// [`Curvature`] for the sources. Ignored elements get zeros. The value and the gradient
    /// equal those of [`value_and_grad`](Self::value_and_grad): with class-index targets the
    /// Hessian comes from the same vectorised softmax kernel, in the same pass (split over
    /// threads like `value_and_grad`); with probability targets from a row-by-row kernel, to a
    /// few ulps.
    ///
    /// # Example
    /// A Newton step on the scores of one sample: see the [crate docs](crate#second-derivatives).
    /// ```
    /// use losskit::{ClassInputs, Curvature, CrossEntropy, Reduction, Tensor};
    /// let x = [0.0f64, 0.0];
    /// let y = [1i64];
    /// let inputs = ClassInputs::new(Tensor::new(&x, &[1, 2])?, &y);
    /// let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
    /// CrossEntropy::default().value_grad_hess(&inputs, Reduction::Sum, Curvature::Exact, &mut g, &mut h)?;
    /// assert_eq!((g, h), ([0.5, -0.5], [0.25, 0.25]));
    /// CrossEntropy::default().value_grad_hess(&inputs, Reduction::Sum, Curvature::XGBoost, &mut g, &mut h)?;
    /// assert_eq!(h, [0.5, 0.5]); // 2p(1 − p)
    /// # Ok::<(), losskit::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`value_and_grad`](Self::value_and_grad), and [`Error::BufferLength`] when `hess`
    /// is not as long as `input`.
    pub fn value_grad_hess<T: Real>(
        &self,
        inputs: &ClassInputs<'_, T>,
        reduction: Reduction,
        curvature: Curvature,
        grad: &mut [T],
        hess: &mut [T],
    ) -> Result<T> {
        inputs.check_takes(NAME, &["input", "target", "weight"], true)?;
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        check_buffer(NAME, "gradient of `input`", grad.len(), input.len())?;
        check_buffer(NAME, "Hessian of `input`", hess.len(), input.len())?;
        let w_total = match inputs.weight_tensor() {
            Some(w) => check_class_weight(NAME, "weight", lay.c, &w)?,
            None => lay.c as f64,
        };
        let weight = inputs.weight_tensor().map(|w| w.data());
        let mean = reduction == Reduction::Mean;
        if mean && lay.elements() == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let eps = self.label_smoothing;
        let (denom, sum) = match inputs.target() {
            ClassTarget::Indices(target) => {
                check_index_shape(NAME, &lay, &target)?;
                let stats = scan_targets(NAME, &target, lay.c, Some(self.ignore_index), weight)?;
                let Some(denom) = mean_scale(stats.weight_sum, mean) else {
                    grad.fill(T::ZERO);
                    hess.fill(T::ZERO);
                    return Ok(T::ZERO);
                };
                let scale = T::from_f64(1.0 / denom);
                let mode = Mode::Hess(grad, hess, scale, ce_policy(lay.c, curvature));
                let ys = target.data();
                let sum = match weight {
                    None => self.index(Ones, w_total, &input, &lay, ys, mode)?,
                    Some(w) => self.index(PerClass(w), w_total, &input, &lay, ys, mode)?,
                };
                (denom, sum)
            }
            ClassTarget::Probabilities(target) => {
                if self.ignore_index >= 0 {
                    return Err(Error::InvalidIntParam {
                        loss: NAME,
                        param: "ignore_index",
                        value: i128::from(self.ignore_index),
                        expected: "< 0 with probability targets (it applies to class indices only; PyTorch rejects it too)",
                    });
                }
                if target.dims() != input.dims() {
                    return Err(Error::ShapeMismatch {
                        loss: NAME,
                        arg: "target",
                        actual: target.dims().to_vec(),
                        expected: input.dims().to_vec(),
                        because: "probability targets have the shape of `input`; class indices drop its class dimension 1",
                    });
                }
                softmax_hess::check_probabilities(NAME, &target)?;
                let denom = if mean { lay.elements() as f64 } else { 1.0 };
                let mut k = CeProb {
                    t: target.data(),
                    c: lay.c,
                    s: lay.s,
                    weight,
                    eps,
                    pol: ce_policy(lay.c, curvature),
                };
                let scale = T::from_f64(1.0 / denom);
                (
                    denom,
                    softmax_hess::run(NAME, &input, &lay, scale, grad, hess, &mut k)?,
                )
            }
        };
        Ok(T::from_f64(sum / denom))
    }
}

/// The loss and inputs of a catalogue call.
fn call_loss<'c, T: Real>(call: &'c Call<'_, T>) -> Result<(CrossEntropy, ClassInputs<'c, T>)> {
    let ce = CrossEntropy::default()
        .ignore_index(call.params.int("ignore_index"))
        .label_smoothing(call.params.float("label_smoothing"))?;
    let input = call.float_req("input")?;
    let mut inputs = match call.index("target") {
        Some(t) => ClassInputs::new(input, t),
        None => ClassInputs::probabilities(input, call.float_req("target")?),
    };
    if let Some(w) = call.float("weight") {
        inputs = inputs.weight(w);
    }
    Ok((ce, inputs))
}

fn hess<T: Real>(call: &Call<'_, T>, c: Curvature, out: &mut HessOut<'_, T>) -> Result<()> {
    let (ce, inputs) = call_loss(call)?;
    let lay = layout(NAME, &inputs.input())?;
    out.dispatch(
        call,
        lay.loss_shape.dims(),
        |r, g, h| ce.value_grad_hess(&inputs, r, c, g, h),
        |o| ce.per_element(&inputs, o),
    )
}

const HESSIAN: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x_c² = A·p_c(1 − p_c), A = Σ_k a_k the row's total target weight ((1 − ε)w_y + εW/C for an index target); the diagonal of A(diag(p) − ppᵀ)",
    xgboost: "max(2A·p_c(1 − p_c), 1e-16), as multi:softprob / multi:softmax (src/objective/multiclass_obj.cu)",
    lightgbm: "C/(C − 1)·A·p_c(1 − p_c), as `multiclass` (src/objective/multiclass_objective.hpp, factor_ = num_class/(num_class − 1))",
    eval: hess_evaluator!(hess),
};

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let ce = CrossEntropy::default()
        .ignore_index(call.params.int("ignore_index"))
        .label_smoothing(call.params.float("label_smoothing"))?;
    let input = call.float_req("input")?;
    let mut inputs = match call.index("target") {
        Some(t) => ClassInputs::new(input, t),
        None => ClassInputs::probabilities(input, call.float_req("target")?),
    };
    if let Some(w) = call.float("weight") {
        inputs = inputs.weight(w);
    }
    let lay = layout(NAME, &input)?;
    dispatch(
        call,
        out,
        lay.loss_shape.dims(),
        Vjp::Separable(lay.kept()),
        |r| ce.value(&inputs, r),
        |r, g| ce.value_and_grad(&inputs, r, g),
        |o| ce.per_element(&inputs, o),
    )
}

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "softmax cross-entropy on logits: the default single-label classification loss",
    inputs: &[
        LOGITS,
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::FloatOrIndex,
            required: true,
            shape: "class indices `[N]` / `[N, d1, ...]` (integers), or probabilities of `input`'s shape (floats)",
        },
        CLASS_WEIGHT,
    ],
    params: &[
        ParamSpec {
            name: "ignore_index",
            kind: ParamKind::Int { default: -100, range: Range::ANY },
            doc: "index-target value to skip: no loss, no gradient, not counted by `mean`",
        },
        ParamSpec {
            name: "label_smoothing",
            kind: ParamKind::Float { default: 0.0, range: Range::UNIT },
            doc: "ε: the target becomes (1 − ε)·one_hot + ε/C",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = (1 − ε)·w_y·(−ln p_y) + (ε/C)·Σ_c w_c·(−ln p_c), p = softmax(x) over dim 1; \
              mean = Σℓ / Σ w_y over non-ignored elements. Probability targets t: ℓ = Σ_c w_c·t'_c·(−ln p_c), \
              t' = (1 − ε)t + ε/C, mean = Σℓ / N",
    gradient: "∂ℓ/∂x_c = ((1 − ε)w_y + (ε/C)Σw)·p_c − (1 − ε)w_y·[c = y] − (ε/C)·w_c \
               (softmax minus the smoothed one-hot); probability targets: (Σ_k w_k t'_k)·p_c − w_c·t'_c",
    when_to_use: "single-label classification (one class per sample or per pixel) from raw logits; \
                  soft labels for distillation or mixup; label smoothing against over-confidence",
    pitfalls: &[
        "pass logits, not probabilities: softmax is applied inside (softmax then log then nll by hand loses precision and gives inf at saturated logits)",
        "with class weights, mean divides by Σ w_y of the batch, not by N: per-batch normalisation changes with the batch's label mix, and with batch size 1 the weights cancel",
        "every target = ignore_index gives 0 with zero gradients here (PyTorch: NaN)",
        "label smoothing with weights follows PyTorch: the uniform part is weighted by w_c, not w_y",
        "the class dimension is 1: channels-last logits [N, H, W, C] must be permuted first",
        "ignore_index must be negative with probability targets (as PyTorch)",
    ],
    reference: "torch.nn.functional.cross_entropy (aten LossNLL.cpp); label smoothing: Szegedy et al. 2016",
    eval: evaluator!(evaluate),
    sample: super::multiclass::sample_scores,
    plot: Some(super::multiclass::MARGIN_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: Some(HESSIAN),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    /// A plain f64 reference: PyTorch's formulas, element by element, no tricks.
    pub(crate) fn naive(
        x: &[f64],
        dims: &[usize],
        y: &[i64],
        w: Option<&[f64]>,
        eps: f64,
        ignore: i64,
    ) -> (Vec<f64>, f64) {
        let (n, c) = if dims.len() == 1 {
            (1, dims[0])
        } else {
            (dims[0], dims[1])
        };
        let s: usize = dims.iter().skip(2).product();
        let mut per = vec![0.0; n * s];
        let mut den = 0.0;
        for i in 0..n {
            for p in 0..s {
                let yy = y[i * s + p];
                if yy == ignore {
                    continue;
                }
                let row: Vec<f64> = (0..c).map(|k| x[(i * c + k) * s + p]).collect();
                let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                let wc = |k: usize| w.map_or(1.0, |w| w[k]);
                let hard = -(row[yy as usize] - lse) * wc(yy as usize);
                let smooth: f64 = (0..c).map(|k| -(row[k] - lse) * wc(k)).sum();
                per[i * s + p] = (1.0 - eps) * hard + eps / c as f64 * smooth;
                den += wc(yy as usize);
            }
        }
        (per, den)
    }

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * (1.0 + b.abs())
    }

    #[test]
    fn known_values() {
        let x = [10.0f32, 0.0, -100.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[2i64]);
        let v = CrossEntropy::default()
            .value(&inputs, Reduction::Mean)
            .unwrap();
        assert!((v - 110.000_045).abs() < 1e-4, "{v}");
        let x = [1.0f32, 2.0, 3.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[0i64]);
        let ce = CrossEntropy::default().label_smoothing(0.1).unwrap();
        let v = ce.value(&inputs, Reduction::Mean).unwrap();
        assert!((v - 2.307_606).abs() < 1e-6, "{v}");
        // Equal to the cross-entropy against the smoothed one-hot as probabilities.
        let t = [0.9 + 0.1 / 3.0, 0.1 / 3.0, 0.1 / 3.0];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[1, 3]).unwrap(),
            Tensor::new(&t, &[1, 3]).unwrap(),
        );
        let v2 = CrossEntropy::default()
            .value(&soft, Reduction::Mean)
            .unwrap();
        assert!((v - v2).abs() < 1e-6, "{v} {v2}");
    }

    #[test]
    fn confident_rows_keep_relative_accuracy() {
        let x = [10.0f32, 0.0, -100.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[0i64]);
        let mut g = [0.0f32; 3];
        let v = CrossEntropy::default()
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        let want = ((-10.0f64).exp() + (-110.0f64).exp()).ln_1p();
        assert!(((v as f64 - want) / want).abs() < 1e-6, "{v} {want}");
        let p1 = (-10.0f64).exp() / (1.0 + (-10.0f64).exp());
        assert!(((g[0] as f64 + p1) / p1).abs() < 1e-6, "{g:?}");
        assert!(((g[1] as f64 - p1) / p1).abs() < 1e-6, "{g:?}");
    }

    #[test]
    fn matches_naive_on_many_layouts() {
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        for dims in [
            vec![5usize],
            vec![7, 3],
            vec![3, 40],
            vec![2, 4, 5],
            vec![2, 3, 70],
            vec![3, 17, 2, 3],
            vec![33, 1],
        ] {
            let (n, c) = if dims.len() == 1 {
                (1, dims[0])
            } else {
                (dims[0], dims[1])
            };
            let s: usize = dims.iter().skip(2).product();
            let x: Vec<f64> = (0..n * c * s).map(|_| rnd() * 6.0).collect();
            let y: Vec<i64> = (0..n * s)
                .map(|i| {
                    if i % 4 == 3 {
                        -100
                    } else {
                        ((rnd() + 1.0) * 0.5 * c as f64) as i64 % c as i64
                    }
                })
                .collect();
            let w: Vec<f64> = (0..c).map(|_| rnd() + 1.5).collect();
            let ydims: Vec<usize> = if dims.len() == 1 {
                vec![]
            } else {
                core::iter::once(n)
                    .chain(dims[2..].iter().copied())
                    .collect()
            };
            for weighted in [false, true] {
                for eps in [0.0, 0.2, 1.0] {
                    let wopt = if weighted { Some(&w[..]) } else { None };
                    let (per, den) = naive(&x, &dims, &y, wopt, eps, -100);
                    let mut inputs = ClassInputs::new(
                        Tensor::new(&x, &dims).unwrap(),
                        Tensor::new(&y, &ydims).unwrap(),
                    );
                    if weighted {
                        inputs = inputs.weight(&w);
                    }
                    let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
                    let mut out = vec![0.0; n * s];
                    ce.per_element(&inputs, &mut out).unwrap();
                    for (a, b) in out.iter().zip(&per) {
                        assert!(
                            close(*a, *b, 1e-13),
                            "{dims:?} {weighted} {eps}: {a} vs {b}"
                        );
                    }
                    let sum: f64 = per.iter().sum();
                    let mean = ce.value(&inputs, Reduction::Mean).unwrap();
                    assert!(
                        close(mean, sum / den, 1e-13),
                        "{dims:?}: {mean} vs {}",
                        sum / den
                    );
                    // Gradient of the mean against central differences of the naive loss.
                    let mut g = vec![0.0; x.len()];
                    let v = ce.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
                    assert_eq!(v.to_bits(), mean.to_bits());
                    for i in 0..x.len() {
                        let h = 1e-6;
                        let mut xp = x.clone();
                        xp[i] += h;
                        let fp: f64 =
                            naive(&xp, &dims, &y, wopt, eps, -100).0.iter().sum::<f64>() / den;
                        xp[i] -= 2.0 * h;
                        let fm: f64 =
                            naive(&xp, &dims, &y, wopt, eps, -100).0.iter().sum::<f64>() / den;
                        let fd = (fp - fm) / (2.0 * h);
                        assert!(
                            (g[i] - fd).abs() < 1e-7,
                            "{dims:?} {weighted} {eps} grad[{i}]: {} vs {fd}",
                            g[i]
                        );
                    }
                }
            }
        }
    }

    /// PyTorch's probability-target formula, element by element.
    fn naive_soft(x: &[f64], dims: &[usize], t: &[f64], w: Option<&[f64]>, eps: f64) -> Vec<f64> {
        let (n, c) = if dims.len() == 1 {
            (1, dims[0])
        } else {
            (dims[0], dims[1])
        };
        let s: usize = dims.iter().skip(2).product();
        let mut per = vec![0.0; n * s];
        for i in 0..n {
            for p in 0..s {
                let at = |k: usize| (i * c + k) * s + p;
                let m = (0..c).map(|k| x[at(k)]).fold(f64::NEG_INFINITY, f64::max);
                let lse = m + (0..c).map(|k| (x[at(k)] - m).exp()).sum::<f64>().ln();
                per[i * s + p] = (0..c)
                    .map(|k| {
                        let tk = t[at(k)] * (1.0 - eps) + eps / c as f64;
                        let wt = tk * w.map_or(1.0, |w| w[k]);
                        if wt == 0.0 {
                            0.0
                        } else {
                            -wt * (x[at(k)] - lse)
                        }
                    })
                    .sum();
            }
        }
        per
    }

    #[test]
    fn soft_targets_match_naive_and_gradients() {
        let mut seed = 99u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for dims in [
            vec![4usize],
            vec![5, 3],
            vec![3, 37],
            vec![2, 3, 70],
            vec![2, 5, 3, 2],
        ] {
            let numel: usize = dims.iter().product();
            let (n, c) = if dims.len() == 1 {
                (1, dims[0])
            } else {
                (dims[0], dims[1])
            };
            let s = numel / (n * c);
            let x: Vec<f64> = (0..numel).map(|_| rnd() * 8.0 - 4.0).collect();
            // Rows of random probabilities, some exactly 0.
            let mut t: Vec<f64> = (0..numel)
                .map(|i| if i % 3 == 0 { 0.0 } else { rnd() })
                .collect();
            for i in 0..n {
                for p in 0..s {
                    let z: f64 = (0..c)
                        .map(|k| t[(i * c + k) * s + p])
                        .sum::<f64>()
                        .max(1e-9);
                    for k in 0..c {
                        t[(i * c + k) * s + p] /= z;
                    }
                }
            }
            let w: Vec<f64> = (0..c).map(|_| rnd() + 0.5).collect();
            for weighted in [false, true] {
                for eps in [0.0, 0.3] {
                    let wopt = if weighted { Some(&w[..]) } else { None };
                    let per = naive_soft(&x, &dims, &t, wopt, eps);
                    let mut inputs = ClassInputs::probabilities(
                        Tensor::new(&x, &dims).unwrap(),
                        Tensor::new(&t, &dims).unwrap(),
                    );
                    if weighted {
                        inputs = inputs.weight(&w);
                    }
                    let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
                    let mut out = vec![0.0; n * s];
                    ce.per_element(&inputs, &mut out).unwrap();
                    for (a, b) in out.iter().zip(&per) {
                        assert!(close(*a, *b, 1e-13), "{dims:?}: {a} vs {b}");
                    }
                    let mut g = vec![0.0; numel];
                    let mean = ce.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
                    let denom = (n * s) as f64;
                    assert!(close(mean, per.iter().sum::<f64>() / denom, 1e-13));
                    for i in 0..numel {
                        let h = 1e-6;
                        let mut xp = x.clone();
                        xp[i] += h;
                        let fp: f64 =
                            naive_soft(&xp, &dims, &t, wopt, eps).iter().sum::<f64>() / denom;
                        xp[i] -= 2.0 * h;
                        let fm: f64 =
                            naive_soft(&xp, &dims, &t, wopt, eps).iter().sum::<f64>() / denom;
                        assert!(
                            (g[i] - (fp - fm) / (2.0 * h)).abs() < 1e-7,
                            "{dims:?} grad[{i}]"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn infinities_and_extreme_logits() {
        let ce = CrossEntropy::default();
        // −∞ at a non-target class: probability 0, finite loss, zero gradient, no NaN; in
        // both layouts and with smoothing off.
        for dims in [vec![2usize, 3], vec![1, 3, 2]] {
            let x = [f32::NEG_INFINITY, 1.0, 2.0, f32::NEG_INFINITY, 0.5, 0.0];
            let (x, y): (Vec<f32>, Vec<i64>) = if dims.len() == 2 {
                (x.to_vec(), vec![1, 2])
            } else {
                // [1, 3, 2]: position 0 has classes (x0, x2, x4), position 1 (x1, x3, x5).
                (
                    vec![f32::NEG_INFINITY, f32::NEG_INFINITY, 1.0, 0.5, 2.0, 0.0],
                    vec![1, 2],
                )
            };
            let ydims: Vec<usize> = if dims.len() == 2 { vec![2] } else { vec![1, 2] };
            let inputs = ClassInputs::new(
                Tensor::new(&x, &dims).unwrap(),
                Tensor::new(&y, &ydims).unwrap(),
            );
            let mut g = vec![0.0f32; 6];
            let v = ce.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap();
            let want = (1.0 + 1.0f64.exp()).ln() + (0.5f64.exp() + 1.0).ln();
            assert!((v as f64 - want).abs() < 1e-6, "{dims:?} {v} {want}");
            assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
            let masked: Vec<f32> = x
                .iter()
                .zip(&g)
                .filter(|(a, _)| a.is_infinite())
                .map(|(_, g)| *g)
                .collect();
            assert_eq!(masked, vec![0.0, 0.0]);
            // Rows sum to zero gradient.
        }
        // −∞ at the target: +∞ loss, finite gradient.
        let x = [f32::NEG_INFINITY, 1.0, 2.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[0i64]);
        let mut g = [0.0f32; 3];
        assert_eq!(
            ce.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap(),
            f32::INFINITY
        );
        assert!(g.iter().all(|v| v.is_finite()));
        // ±1e4 and rows mixing −1000 and 900, against f64 with libm.
        let x = [
            1e4f32, -1e4, 0.0, -1000.0, 900.0, -1000.0, 900.0, 899.0, -1000.0,
        ];
        let y = [1i64, 0, 2];
        let inputs = ClassInputs::new(Tensor::new(&x, &[3, 3]).unwrap(), &y);
        let mut g = [0.0f32; 9];
        let v = ce.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let (per, den) = naive(&xd, &[3, 3], &y, None, 0.0, -100);
        assert!(
            ((v as f64) - per.iter().sum::<f64>() / den).abs() < 1e-3,
            "{v}"
        );
        assert!(g.iter().all(|v| v.is_finite()));
        assert!(
            (g[1] + 1.0 / 3.0).abs() < 1e-7 && (g[0] - 1.0 / 3.0).abs() < 1e-7,
            "{g:?}"
        );
        // Smoothing with a −∞ class: infinite loss (mass on an impossible class), finite grads.
        let x = [f32::NEG_INFINITY, 1.0, 2.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[1i64]);
        let sm = CrossEntropy::default().label_smoothing(0.1).unwrap();
        let mut g = [0.0f32; 3];
        assert_eq!(
            sm.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap(),
            f32::INFINITY
        );
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
        // Probability targets: 0·ln 0 = 0 at a −∞ logit, forward and backward.
        let t = [0.0f32, 0.25, 0.75];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[1, 3]).unwrap(),
            Tensor::new(&t, &[1, 3]).unwrap(),
        );
        let v = ce.value_and_grad(&soft, Reduction::Sum, &mut g).unwrap();
        assert!(
            v.is_finite() && g.iter().all(|v| v.is_finite()) && g[0] == 0.0,
            "{v} {g:?}"
        );
        // NaN in, NaN out.
        let x = [f32::NAN, 1.0, 2.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[1i64]);
        assert!(ce.value(&inputs, Reduction::Sum).unwrap().is_nan());
    }

    #[test]
    fn undefined_rows_and_bad_targets_are_errors() {
        let ce = CrossEntropy::default();
        let x = [0.0f32, f32::INFINITY, 1.0, 0.0, 0.0, 0.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, 1]);
        let e = ce.value(&inputs, Reduction::Mean).unwrap_err();
        assert_eq!(e.to_string(), "cross_entropy: `input` at [0, 1] is inf, expected a logit < +inf (softmax of +inf is undefined)");
        let x = [
            0.0f32,
            1.0,
            1.0,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, 1]);
        let e = ce.value(&inputs, Reduction::Mean).unwrap_err();
        assert_eq!(e.to_string(), "cross_entropy: `input` at [1, 0] is -inf, expected a row with at least one logit > -inf over the class dimension");
        // The same row ignored is fine.
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, -100]);
        assert!(ce.value(&inputs, Reduction::Mean).unwrap().is_finite());
        let x = [0.0f32; 10];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 5]).unwrap(), &[1i64, 7]);
        let e = ce.value(&inputs, Reduction::Mean).unwrap_err();
        assert_eq!(e.to_string(), "cross_entropy: `target` at [1] is 7, expected a class index in [0, C) (C = `input`'s class dimension) or `ignore_index`");
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 5]).unwrap(), &[-4i64, 0]);
        assert!(
            matches!(ce.value(&inputs, Reduction::Sum), Err(Error::InvalidInteger { value, .. }) if value == -4)
        );
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 5]).unwrap(), &[1i64, 2, 3]);
        assert_eq!(ce.value(&inputs, Reduction::Sum).unwrap_err().to_string(), "cross_entropy: `target` has shape [3], expected [2] (`input`'s shape without its class dimension 1); nothing is broadcast");
        let w = [1.0f32; 4];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 5]).unwrap(), &[1i64, 2]).weight(&w);
        assert!(matches!(
            ce.value(&inputs, Reduction::Sum),
            Err(Error::ShapeMismatch { arg: "weight", .. })
        ));
        let t = [0.5f32; 10];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[2, 5]).unwrap(),
            Tensor::new(&t, &[2, 5]).unwrap(),
        );
        assert!(ce.ignore_index(0).value(&soft, Reduction::Sum).is_err());
        let t = [1.5f32, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[2, 5]).unwrap(),
            Tensor::new(&t, &[2, 5]).unwrap(),
        );
        assert_eq!(
            ce.value(&soft, Reduction::Sum).unwrap_err().to_string(),
            "cross_entropy: `target` at [0, 0] is 1.5, expected a probability in [0, 1]"
        );
        assert!(CrossEntropy::default().label_smoothing(1.5).is_err());
        assert!(CrossEntropy::default().label_smoothing(f64::NAN).is_err());
        let empty: [f32; 0] = [];
        let inputs = ClassInputs::new(
            Tensor::new(&empty, &[0, 3]).unwrap(),
            Tensor::new(&[0i64; 0], &[0]).unwrap(),
        );
        assert!(matches!(
            ce.value(&inputs, Reduction::Mean),
            Err(Error::EmptyMean { .. })
        ));
        assert_eq!(ce.value(&inputs, Reduction::Sum).unwrap(), 0.0);
        let mut g = [0.0f32; 3];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 5]).unwrap(), &[1i64, 2]);
        assert!(matches!(
            ce.value_and_grad(&inputs, Reduction::Sum, &mut g),
            Err(Error::BufferLength { .. })
        ));
    }

    #[test]
    fn all_ignored_mean_is_zero_with_zero_gradients() {
        let x = [1.0f32, 2.0, 3.0, 4.0, f32::NAN, 0.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[-100i64, -100]);
        for eps in [0.0, 0.1] {
            let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
            let mut g = [7.0f32; 6];
            assert_eq!(
                ce.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap(),
                0.0
            );
            assert_eq!(g, [0.0; 6]);
            assert_eq!(ce.value(&inputs, Reduction::Sum).unwrap(), 0.0);
            let mut g = [7.0f32; 6];
            ce.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap();
            assert_eq!(g, [0.0; 6]);
        }
        // Every non-ignored target of weight 0: the same rule.
        let w = [0.0f32, 1.0, 1.0];
        let inputs = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, -100]).weight(&w);
        assert_eq!(
            CrossEntropy::default()
                .value(&inputs, Reduction::Mean)
                .unwrap(),
            0.0
        );
    }

    #[test]
    fn f32_and_f64_agree_and_value_paths_give_the_same_bits() {
        let mut seed = 5u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for (n, c) in [(300usize, 7usize), (40, 100), (3, 5000)] {
            let x64: Vec<f64> = (0..n * c)
                .map(|_| (rnd() * 20.0 - 10.0) as f32 as f64)
                .collect();
            let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
            let y: Vec<i64> = (0..n).map(|_| (rnd() * c as f64) as i64).collect();
            for eps in [0.0, 0.1] {
                let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
                let a = ClassInputs::new(Tensor::new(&x64, &[n, c]).unwrap(), &y);
                let b = ClassInputs::new(Tensor::new(&x32, &[n, c]).unwrap(), &y);
                let v64 = ce.value(&a, Reduction::Mean).unwrap();
                let v32 = ce.value(&b, Reduction::Mean).unwrap();
                assert!(((v32 as f64 - v64) / v64).abs() < 1e-6, "{v32} {v64}");
                let mut g64 = vec![0.0; n * c];
                let mut g32 = vec![0.0f32; n * c];
                assert_eq!(
                    ce.value_and_grad(&a, Reduction::Mean, &mut g64)
                        .unwrap()
                        .to_bits(),
                    v64.to_bits()
                );
                assert_eq!(
                    ce.value_and_grad(&b, Reduction::Mean, &mut g32)
                        .unwrap()
                        .to_bits(),
                    v32.to_bits()
                );
                let worst = g32
                    .iter()
                    .zip(&g64)
                    .map(|(a, b)| (*a as f64 - b).abs())
                    .fold(0.0, f64::max);
                assert!(worst < 1e-7 / n as f64 * 10.0, "{worst}");
            }
        }
    }

    #[test]
    fn class_weights_cancel_in_a_batch_of_one() {
        // mean = w_y·ℓ / w_y: documented (and PyTorch's) behaviour, pytorch#50528.
        let x = [0.3f64, -1.0, 2.0];
        let w = [5.0, 0.5, 2.0];
        let plain = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[1i64]);
        let weighted = plain.weight(&w);
        let ce = CrossEntropy::default();
        let (a, b) = (
            ce.value(&plain, Reduction::Mean).unwrap(),
            ce.value(&weighted, Reduction::Mean).unwrap(),
        );
        assert!((a - b).abs() < 1e-15, "{a} {b}");
        assert!((ce.value(&weighted, Reduction::Sum).unwrap() - 0.5 * a).abs() < 1e-15);
    }

    #[test]
    fn every_vector_width_gives_the_same_bits() {
        use std::sync::atomic::Ordering;
        let mut seed = 3u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for dims in [vec![70usize, 5], vec![9, 300], vec![3, 4, 150]] {
            let numel: usize = dims.iter().product();
            let x: Vec<f32> = (0..numel).map(|_| (rnd() * 30.0 - 15.0) as f32).collect();
            let c = dims[1];
            let nl = numel / c;
            let y: Vec<i64> = (0..nl)
                .map(|i| {
                    if i % 5 == 0 {
                        -100
                    } else {
                        (rnd() * c as f64) as i64
                    }
                })
                .collect();
            let ydims: Vec<usize> = dims
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != 1)
                .map(|(_, &d)| d)
                .collect();
            let w: Vec<f32> = (0..c).map(|_| (rnd() + 0.5) as f32).collect();
            let inputs = ClassInputs::new(
                Tensor::new(&x, &dims).unwrap(),
                Tensor::new(&y, &ydims).unwrap(),
            )
            .weight(&w);
            let ce = CrossEntropy::default().label_smoothing(0.1).unwrap();
            let run = || {
                let mut g = vec![0.0f32; numel];
                let v = ce.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
                (
                    v.to_bits(),
                    g.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                )
            };
            let wide = run();
            crate::numerics::BASELINE_ONLY.store(true, Ordering::Relaxed);
            let base = run();
            crate::numerics::BASELINE_ONLY.store(false, Ordering::Relaxed);
            assert_eq!(wide, base, "{dims:?}");
        }
    }
}
