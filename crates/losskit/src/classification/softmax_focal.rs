//! Multiclass (softmax) focal loss on logits with class-index targets.

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

use super::cross_entropy::with_scale;
use super::multiclass::{
    check_class_weight, check_index_shape, layout, mean_scale, scan_targets, ClassInputs,
    ClassTarget, INDEX_TARGET, LOGITS,
};
use super::softmax::{self, Fin, Head, HessCoef, HessPolicy, Mode, Ones, PerClass, Stats};
use crate::eval::{dispatch, Vjp};
use crate::hessian::{hess_evaluator, Curvature, HessOut, HessianInfo};

const NAME: &str = "softmax_focal";
const INPUTS: &[&str] = &["input", "target", "alpha"];

/// Multiclass focal loss: cross-entropy scaled down on well-classified examples, over a
/// softmax.
///
/// # Definition
/// With $p = \operatorname{softmax}(x)$ over the class dimension (dimension 1), target class
/// $t$ and per-class balancing factor $\alpha$ (1 without `alpha`):
/// $$\ell = -\alpha_t\\,(1 - p_t)^{\gamma}\\,\ln p_t,$$
/// 0 where $t$ = `ignore_index`. `Mean` divides by the number of non-ignored elements (not
/// by $\sum \alpha_t$: `alpha` balances, it is not a mean weight). $\gamma = 0$ without
/// `alpha` is exactly [`CrossEntropy`](crate::CrossEntropy).
///
/// # Gradient
/// With $q = 1 - p_t$ and $\rho = -\ln p_t / q \ge 1$:
/// $$\frac{\partial \ell}{\partial x_c} = \alpha_t\\, q^{\gamma}\\,(1 + \gamma\\, p_t\\, \rho)\\,\big(p_c - [c = t]\big),$$
/// times the reduction's scale; exact zeros at ignored elements.
///
/// # Numerical stability
/// $q = 1 - p_t$ is computed as $\sum_{c \ne t} e^{x_c - m} / \sum_c e^{x_c - m}$ (the
/// softmax analogue of $1 - \sigma(z) = \sigma(-z)$), never as $1 - p_t$, so it keeps its
/// relative accuracy when $p_t \to 1$; $\ln p_t$ is $-\ln(1 + \sum_{c \ne t} e^{x_c - m})$
/// by `ln_1p` when $t$ is the maximum; $q^\gamma$ is $e^{\gamma \ln q}$. The gradient is
/// written with the bounded ratio $\rho$ instead of $q^{\gamma - 1}$, so $\gamma < 1$ has
/// finite gradients at saturated logits (where the textbook form, and autograd through
/// `(1 - p)**gamma`, give $0 \cdot \infty$ = NaN). Logit rules as
/// [`CrossEntropy`](crate::CrossEntropy): $-\infty$ is probability 0, a row with $+\infty$ or
/// only $-\infty$ is an error.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `gamma` | 2.0 | ≥ 0, finite |
/// | `ignore_index` | −100 | any integer |
///
/// # Errors
/// [`SoftmaxFocal::gamma`] rejects a negative or non-finite `gamma`. Evaluation rejects: an
/// `input` with fewer than 2 classes ([`Error::BadShape`]: softmax over one class is
/// constant, so the loss would be 0 everywhere; use the binary `focal` loss); probability
/// targets or a `weight` (use `alpha`); the shape, index, logit and buffer errors of
/// [`CrossEntropy`](crate::CrossEntropy); a negative or non-finite `alpha`; `Mean` over no
/// elements. With every target ignored, `Mean` is 0 with zero gradients.
///
/// # Example
/// ```
/// use losskit::{ClassInputs, CrossEntropy, Reduction, SoftmaxFocal, Tensor};
/// let logits = [3.0f64, 0.0, -1.0, 0.5, 0.4, 0.3];
/// let labels = [0i64, 2];
/// let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
/// let mut focal = [0.0; 2];
/// SoftmaxFocal::default().per_element(&inputs, &mut focal)?;
/// let mut ce = [0.0; 2];
/// CrossEntropy::default().per_element(&inputs, &mut ce)?;
/// // The easy row (p_t ≈ 0.94) is scaled down far more than the hard one (p_t ≈ 0.30).
/// assert!(focal[0] / ce[0] < 0.01 && focal[1] / ce[1] > 0.45);
///
/// // gamma = 0 is cross-entropy.
/// let v = SoftmaxFocal::default().gamma(0.0)?.value(&inputs, Reduction::Mean)?;
/// assert!((v - CrossEntropy::default().value(&inputs, Reduction::Mean)?).abs() < 1e-15);
///
/// // gamma < 1 at a saturated logit: finite gradients.
/// let sat = [60.0f32, 0.0, 0.0];
/// let inputs = ClassInputs::new(Tensor::new(&sat, &[1, 3])?, &[0i64]);
/// let mut g = [0.0f32; 3];
/// SoftmaxFocal::default().gamma(0.5)?.value_and_grad(&inputs, Reduction::Sum, &mut g)?;
/// assert!(g.iter().all(|v| v.is_finite()));
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// T.-Y. Lin, P. Goyal, R. Girshick, K. He, P. Dollár, "Focal Loss for Dense Object
/// Detection", ICCV 2017. No reference library has this exact form (torchvision's
/// `sigmoid_focal_loss` is binary; MONAI's softmax mode treats `alpha` as
/// background/foreground); the reference is the formula, evaluated with PyTorch autograd in
/// float64 and float32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftmaxFocal {
    gamma: f64,
    ignore_index: i64,
}

/// `gamma = 2` (Lin et al.'s default), `ignore_index = −100` (PyTorch's convention).
impl Default for SoftmaxFocal {
    fn default() -> Self {
        SoftmaxFocal {
            gamma: 2.0,
            ignore_index: -100,
        }
    }
}

struct FocalHead<T> {
    gamma: T,
}

impl<T: Real> Head<T> for FocalHead<T> {
    const SMOOTH: bool = false;
    #[inline(always)]
    fn finish(&self, st: &Stats<T>, alpha_t: T, scale: T) -> Fin<T> {
        let s = st.s();
        let ln_s = st.ln_s();
        let nl = ln_s - st.d_y; // −ln p_t ≥ 0
        let q = st.s_other / s; // 1 − p_t, without cancellation
        let p_t = st.e_y / s;
        let gamma = self.gamma;
        // q^γ = exp(γ ln q), ln q = ln s_other − ln s: 0 at s_other = 0 (γ > 0), 1 at γ = 0.
        let pow = (gamma * (st.s_other.ln_fast() - ln_s)).exp_fast();
        let qg = if gamma == T::ZERO { T::ONE } else { pow };
        // ρ = −ln p_t / q → 1 as q → 0 (−ln(1 − q) ≈ q).
        let rho = if q > T::ZERO { nl / q } else { T::ONE };
        let big_g = scale * alpha_t * qg * (T::ONE + gamma * p_t * rho);
        Fin {
            loss: alpha_t * qg * nl,
            k1: big_g / s,
            k2: T::ZERO,
            gy: -big_g * q,
        }
    }
    /// With `u = p_t`, `L = −ln u`, `ρ = L/q`: `a = G = α_t q^γ(1 + γuρ)`,
    /// `b = α_t·γ·u·q^(γ+1)·(L − 2 − (γ − 1)uρ)`, `inv_q = 1/q` (0 at `q = 0`, where every
    /// `r_c` of a non-target class is 0).
    #[inline(always)]
    fn hess(&self, st: &Stats<T>, alpha_t: T) -> HessCoef<T> {
        let s = st.s();
        let ln_s = st.ln_s();
        let nl = ln_s - st.d_y;
        let q = st.s_other / s;
        let u = st.e_y / s;
        let gamma = self.gamma;
        let pow = (gamma * (st.s_other.ln_fast() - ln_s)).exp_fast();
        let qg = if gamma == T::ZERO { T::ONE } else { pow };
        let pos = q > T::ZERO;
        let rho = if pos { nl / q } else { T::ONE };
        // u·ρ → 0 where p_t underflows (ρ may be +∞ there: a −∞ target logit).
        let u_rho = if u == T::ZERO { T::ZERO } else { u * rho };
        let inv = T::ONE / q;
        HessCoef {
            a: alpha_t * qg * (T::ONE + gamma * u_rho),
            b: alpha_t * gamma * u * qg * q * (nl - T::TWO - (gamma - T::ONE) * u_rho),
            inv_q: if pos { inv } else { T::ZERO },
        }
    }
}

impl SoftmaxFocal {
    /// The focusing exponent `γ`: 0 is cross-entropy; larger values down-weight easy
    /// examples more.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `gamma ≥ 0` and finite.
    pub fn gamma(mut self, gamma: f64) -> Result<Self> {
        if !(gamma >= 0.0 && gamma.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "gamma",
                value: gamma,
                expected: ">= 0 and finite",
            });
        }
        self.gamma = gamma;
        Ok(self)
    }

    /// The target value whose elements are skipped.
    #[must_use]
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// The focusing exponent.
    pub fn get_gamma(&self) -> f64 {
        self.gamma
    }

    /// The skipped target value.
    pub fn get_ignore_index(&self) -> i64 {
        self.ignore_index
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &ClassInputs<'_, T>, reduction: Reduction) -> Result<T> {
        self.run(inputs, Some(reduction), Mode::Value)
    }

    /// The loss reduced with `reduction` and its gradient with respect to `input` (into
    /// `grad`, as long as `input`; the reduction's scale included), in one pass.
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

    /// The per-element losses (`input`'s shape without the class dimension; 0 at ignored
    /// elements) into `out`.
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
        inputs.check_takes(NAME, INPUTS, false)?;
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        if lay.c < 2 {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "at least 2 classes in dimension 1 (softmax over one class is constant, the loss would be 0; use `focal` for a binary target)",
            });
        }
        let ClassTarget::Indices(target) = inputs.target() else {
            // `check_takes` has turned probability targets away already.
            return Err(Error::Dtype {
                loss: NAME,
                arg: "target",
                actual: "float (probabilities)",
                expected: "class indices (integers)",
            });
        };
        check_index_shape(NAME, &lay, &target)?;
        if let Some(a) = inputs.alpha_tensor() {
            check_class_weight(NAME, "alpha", lay.c, &a)?;
        }
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.elements() == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let stats = scan_targets::<T>(NAME, &target, lay.c, Some(self.ignore_index), None)?;
        let Some(denom) = mean_scale(stats.weight_sum, mean) else {
            if let Mode::Grad(g, _) = mode {
                g.fill(T::ZERO);
            }
            return Ok(T::ZERO);
        };
        let mode = with_scale(mode, denom);
        let head = FocalHead {
            gamma: T::from_f64(self.gamma),
        };
        let ys = target.data();
        let sum = match inputs.alpha_tensor() {
            None => softmax::run(NAME, &head, Ones, &input, &lay, ys, self.ignore_index, mode)?,
            Some(a) => softmax::run(
                NAME,
                &head,
                PerClass(a.data()),
                &input,
                &lay,
                ys,
                self.ignore_index,
                mode,
            )?,
        };
        Ok(T::from_f64(sum / denom))
    }
}

impl SoftmaxFocal {
    /// The loss reduced with `reduction`, its gradient with respect to `input` (into `grad`)
    /// and the diagonal of its Hessian (into `hess`), both as long as `input` and including
    /// the reduction's scale, in one pass over each row of logits.
    ///
    /// With $u = p_t$, $q = 1 - u$, $L = -\ln u$, $\rho = L/q$ and
    /// $G = \alpha_t q^\gamma (1 + \gamma u \rho)$ (the gradient is $G(p_c - [c = t])$), the exact
    /// diagonal is
    /// $$h_c = G\,p_c(1 - p_c) - \alpha_t\,\gamma\,u\,q^{\gamma+1} r_c^2\,\big(L - 2 - (\gamma - 1)u\rho\big),
    /// \qquad r_c = (p_c - [c = t])/q \in [-1, 1],$$
    /// finite at saturated logits for every $\gamma \ge 0$ (no power of $q$ below $\gamma$), and
    /// negative in places for $\gamma > 0$: that is what [`Curvature::Exact`] gives. Neither
    /// XGBoost nor LightGBM has this objective; [`Curvature::XGBoost`] and
    /// [`Curvature::LightGBM`] give $\max(h_c, G\,p_c(1 - p_c))$, positive (the cross-entropy
    /// curvature with the focal factor held fixed, exact at $\gamma = 0$). Ignored elements get
    /// zeros. The value and the gradient equal those of
    /// [`value_and_grad`](Self::value_and_grad): the Hessian comes from the same vectorised
    /// softmax kernel, in the same pass.
    ///
    /// # Example
    /// A Newton step: see the [crate docs](crate#second-derivatives).
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
        inputs.check_takes(NAME, INPUTS, false)?;
        let input = inputs.input();
        let lay = layout(NAME, &input)?;
        check_buffer(NAME, "gradient of `input`", grad.len(), input.len())?;
        check_buffer(NAME, "Hessian of `input`", hess.len(), input.len())?;
        if lay.c < 2 {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "at least 2 classes in dimension 1 (softmax over one class is constant, the loss would be 0; use `focal` for a binary target)",
            });
        }
        let ClassTarget::Indices(target) = inputs.target() else {
            return Err(Error::Dtype {
                loss: NAME,
                arg: "target",
                actual: "float (probabilities)",
                expected: "class indices (integers)",
            });
        };
        check_index_shape(NAME, &lay, &target)?;
        if let Some(a) = inputs.alpha_tensor() {
            check_class_weight(NAME, "alpha", lay.c, &a)?;
        }
        let mean = reduction == Reduction::Mean;
        if mean && lay.elements() == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let stats = scan_targets::<T>(NAME, &target, lay.c, Some(self.ignore_index), None)?;
        let Some(denom) = mean_scale(stats.weight_sum, mean) else {
            grad.fill(T::ZERO);
            hess.fill(T::ZERO);
            return Ok(T::ZERO);
        };
        let scale = T::from_f64(1.0 / denom);
        // Neither library has a softmax focal objective: their policies give the larger of
        // the exact value and G·p_c(1 − p_c), the cross-entropy curvature with the focal
        // factor held fixed (positive; the exact value at γ = 0).
        let pol = match curvature {
            Curvature::Exact => HessPolicy::exact(),
            Curvature::XGBoost | Curvature::LightGBM => HessPolicy {
                bound: true,
                ..HessPolicy::exact()
            },
        };
        let mode = Mode::Hess(grad, hess, scale, pol);
        let head = FocalHead {
            gamma: T::from_f64(self.gamma),
        };
        let ys = target.data();
        let sum = match inputs.alpha_tensor() {
            None => softmax::run(NAME, &head, Ones, &input, &lay, ys, self.ignore_index, mode)?,
            Some(a) => softmax::run(
                NAME,
                &head,
                PerClass(a.data()),
                &input,
                &lay,
                ys,
                self.ignore_index,
                mode,
            )?,
        };
        Ok(T::from_f64(sum / denom))
    }
}

/// The loss and inputs of a catalogue call.
fn call_loss<'c, T: Real>(call: &'c Call<'_, T>) -> Result<(SoftmaxFocal, ClassInputs<'c, T>)> {
    let loss = SoftmaxFocal::default()
        .gamma(call.params.float("gamma"))?
        .ignore_index(call.params.int("ignore_index"));
    let input = call.float_req("input")?;
    let target = call.index("target").ok_or(Error::MissingInput {
        loss: NAME,
        name: "target",
    })?;
    let mut inputs = ClassInputs::new(input, target);
    if let Some(a) = call.float("alpha") {
        inputs = inputs.alpha(a);
    }
    Ok((loss, inputs))
}

fn hess<T: Real>(call: &Call<'_, T>, c: Curvature, out: &mut HessOut<'_, T>) -> Result<()> {
    let (loss, inputs) = call_loss(call)?;
    let lay = layout(NAME, &inputs.input())?;
    out.dispatch(
        call,
        lay.loss_shape.dims(),
        |r, g, h| loss.value_grad_hess(&inputs, r, c, g, h),
        |o| loss.per_element(&inputs, o),
    )
}

const HESSIAN: HessianInfo = HessianInfo {
    exact: "∂²ℓ/∂x_c² = G·p_c(1 − p_c) − α_t·γ·u·q^(γ+1)·r_c²·(L − 2 − (γ − 1)uρ), u = p_t, q = 1 − u, L = −ln u, ρ = L/q, G = α_t q^γ(1 + γuρ), r_c = (p_c − [c = t])/q: negative in places for γ > 0",
    xgboost: "max(exact, G·p_c(1 − p_c)): positive (neither XGBoost nor LightGBM has a softmax focal objective; the bound is the cross-entropy curvature with the focal factor held fixed)",
    lightgbm: "max(exact, G·p_c(1 − p_c)), as for XGBoost",
    eval: hess_evaluator!(hess),
};

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = SoftmaxFocal::default()
        .gamma(call.params.float("gamma"))?
        .ignore_index(call.params.int("ignore_index"));
    let input = call.float_req("input")?;
    let target = call.index("target").ok_or(Error::MissingInput {
        loss: NAME,
        name: "target",
    })?;
    let mut inputs = ClassInputs::new(input, target);
    if let Some(a) = call.float("alpha") {
        inputs = inputs.alpha(a);
    }
    let lay = layout(NAME, &input)?;
    dispatch(
        call,
        out,
        lay.loss_shape.dims(),
        Vjp::Separable(lay.kept()),
        |r| loss.value(&inputs, r),
        |r, g| loss.value_and_grad(&inputs, r, g),
        |o| loss.per_element(&inputs, o),
    )
}

pub(crate) const INFO: LossInfo = LossInfo {
    name: NAME,
    family: Family::Classification,
    summary: "multiclass focal loss over a softmax: cross-entropy that down-weights easy examples",
    inputs: &[
        LOGITS,
        INDEX_TARGET,
        InputSpec {
            name: "alpha",
            role: Role::Weight,
            kind: InputKind::Float,
            required: false,
            shape: "`[C]`, per-class balancing factor α_t (finite, >= 0; not in the mean's denominator)",
        },
    ],
    params: &[
        ParamSpec {
            name: "gamma",
            kind: ParamKind::Float { default: 2.0, range: Range::NON_NEGATIVE },
            doc: "focusing exponent: 0 is cross-entropy, larger down-weights easy examples more",
        },
        ParamSpec {
            name: "ignore_index",
            kind: ParamKind::Int { default: -100, range: Range::ANY },
            doc: "target value to skip: no loss, no gradient, not counted by `mean`",
        },
    ],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = −α_t·(1 − p_t)^γ·ln p_t, p = softmax(x) over dim 1; mean = Σℓ / (number of non-ignored elements)",
    gradient: "∂ℓ/∂x_c = α_t·q^γ·(1 + γ·p_t·ρ)·(p_c − [c = t]), q = 1 − p_t, ρ = −ln p_t / q",
    when_to_use: "dense prediction with many easy examples (detection anchors, segmentation backgrounds) where cross-entropy is dominated by them",
    pitfalls: &[
        "alpha is a per-class balancing factor, not a mean weight: mean divides by the count of non-ignored elements, not Σα_t",
        "a single-class input is an error (softmax over one class is constant); use the binary `focal` on logits",
        "gamma < 1 has an infinite derivative of (1 − p)^γ at p = 1: losskit's gradient stays finite, naive autograd gives NaN",
        "torchvision has no softmax focal loss; MONAI's softmax mode uses alpha for background/foreground only",
    ],
    reference: "Lin et al. 2017 (focal loss); the formula, checked against torch autograd in float64 and float32",
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

    #[test]
    fn saturated_logits_keep_relative_accuracy_and_finite_gradients() {
        // C = 2, logits [50, 0], target 0: q = 1 − p_t = 1/(1 + e^50).
        let q = 1.0 / (1.0 + 50f64.exp());
        for gamma in [0.0, 0.25, 0.5, 2.0] {
            let loss = SoftmaxFocal::default().gamma(gamma).unwrap();
            let want = q.powf(gamma) * (-q).ln_1p().abs();
            // ∂ℓ/∂x_1 = α q^γ (1 + γ p_t ρ) q with ρ = −ln(1 − q)/q.
            let rho = (-q).ln_1p().abs() / q;
            let g1 = q.powf(gamma) * (1.0 + gamma * (1.0 - q) * rho) * q;
            let x = [50.0f64, 0.0];
            let inputs = ClassInputs::new(Tensor::new(&x, &[1, 2]).unwrap(), &[0i64]);
            let mut g = [0.0; 2];
            let v = loss
                .value_and_grad(&inputs, Reduction::Sum, &mut g)
                .unwrap();
            assert!(
                ((v - want) / want).abs() < 1e-12,
                "γ={gamma}: {v} vs {want}"
            );
            assert!(
                ((g[1] - g1) / g1).abs() < 1e-12 && ((g[0] + g1) / g1).abs() < 1e-12,
                "{g:?}"
            );
            let x = [50.0f32, 0.0];
            let inputs = ClassInputs::new(Tensor::new(&x, &[1, 2]).unwrap(), &[0i64]);
            let mut g = [0.0f32; 2];
            let v = loss
                .value_and_grad(&inputs, Reduction::Sum, &mut g)
                .unwrap();
            // In f32, q^γ·q underflows to 0 for γ = 2 (7e-66): compare with the rounded value.
            let close32 = |a: f32, b: f64| {
                let b32 = b as f32;
                if b32 == 0.0 {
                    a == 0.0
                } else {
                    (f64::from(a) - b).abs() <= 1e-5 * b
                }
            };
            assert!(close32(v, want), "f32 γ={gamma}: {v} vs {want}");
            assert!(close32(g[1], g1), "f32 γ={gamma}: {g:?} vs {g1}");
        }
        // Exactly saturated in f32 (p_t rounds to 1): finite, and 0 where it underflows.
        let x = [1e4f32, 0.0, -1e4];
        let inputs = ClassInputs::new(Tensor::new(&x, &[1, 3]).unwrap(), &[0i64]);
        let mut g = [f32::NAN; 3];
        let v = SoftmaxFocal::default()
            .gamma(0.5)
            .unwrap()
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        assert_eq!((v, g), (0.0, [0.0; 3]));
    }

    #[test]
    fn gamma_zero_without_alpha_is_cross_entropy() {
        let x = [0.3f64, -1.2, 2.0, 0.0, 0.5, -0.5, 1e3, 0.0, -1e3];
        let y = [2i64, -100, 1];
        let inputs = ClassInputs::new(Tensor::new(&x, &[3, 3]).unwrap(), &y);
        let focal = SoftmaxFocal::default().gamma(0.0).unwrap();
        let (mut gf, mut gc) = ([0.0; 9], [0.0; 9]);
        let vf = focal
            .value_and_grad(&inputs, Reduction::Mean, &mut gf)
            .unwrap();
        let vc = crate::CrossEntropy::default()
            .value_and_grad(&inputs, Reduction::Mean, &mut gc)
            .unwrap();
        assert!((vf - vc).abs() < 1e-13 * vc.abs());
        for (a, b) in gf.iter().zip(&gc) {
            assert!((a - b).abs() < 1e-15, "{a} vs {b}");
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let x = [0.0f32; 3];
        let one = ClassInputs::new(Tensor::new(&x, &[3, 1]).unwrap(), &[0i64, 0, 0]);
        assert_eq!(
            SoftmaxFocal::default().value(&one, Reduction::Mean).unwrap_err().to_string(),
            "softmax_focal: `input` has shape [3, 1], expected at least 2 classes in dimension 1 (softmax over one class is constant, the loss would be 0; use `focal` for a binary target)"
        );
        let x = [0.0f32; 6];
        let w = [1.0f32; 3];
        let weighted = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, 1]).weight(&w);
        assert_eq!(
            SoftmaxFocal::default()
                .value(&weighted, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "softmax_focal: unknown input `weight`; it takes `input`, `target`, `alpha`"
        );
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[2, 3]).unwrap(),
            Tensor::new(&x, &[2, 3]).unwrap(),
        );
        assert_eq!(
            SoftmaxFocal::default().value(&soft, Reduction::Mean).unwrap_err().to_string(),
            "softmax_focal: `target` has dtype float (probabilities), expected class indices (integers)"
        );
        assert_eq!(
            SoftmaxFocal::default()
                .gamma(f64::NAN)
                .unwrap_err()
                .to_string(),
            "softmax_focal: `gamma` must be >= 0 and finite, got NaN"
        );
        let a = [1.0f32, -1.0, 1.0];
        let bad_alpha = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[0i64, 1]).alpha(&a);
        assert_eq!(
            SoftmaxFocal::default()
                .value(&bad_alpha, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "softmax_focal: `alpha` at [1] is -1, expected a finite weight >= 0"
        );
        // All ignored: 0 with zero gradients.
        let none = ClassInputs::new(Tensor::new(&x, &[2, 3]).unwrap(), &[-100i64, -100]);
        let mut g = [1.0f32; 6];
        assert_eq!(
            SoftmaxFocal::default()
                .value_and_grad(&none, Reduction::Mean, &mut g)
                .unwrap(),
            0.0
        );
        assert_eq!(g, [0.0; 6]);
    }
}
