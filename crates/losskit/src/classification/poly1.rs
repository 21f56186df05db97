//! Poly-1 cross-entropy (Leng et al. 2022), optax's `poly_loss_cross_entropy`.

use crate::catalogue::{
    Family, InputKind, InputSpec, Kinks, LossInfo, NanRule, ParamKind, ParamSpec, Range, Role,
    STANDARD_REDUCTIONS,
};
use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{dispatch, Call, Out, Vjp};
use crate::evaluator;
use crate::numerics::{rows_fold, rows_fold_mut, Lanes};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

use super::cross_entropy::with_scale;
use super::multiclass::{
    bad_logit, check_index_shape, layout, scan_targets, ClassInputs, ClassTarget, Layout, LOGITS,
};
use super::softmax::{self, Fin, Head, Mode, Ones, Stats};

const NAME: &str = "poly1";
const INPUTS: &[&str] = &["input", "target"];

/// Poly-1 loss: cross-entropy plus `ε·(1 − p_t)`, the first term of the polynomial expansion
/// of cross-entropy given its own coefficient.
///
/// # Definition
/// With $p = \operatorname{softmax}(x)$ over the classes of a row of logits $x$ and a target
/// distribution $t$ (the one-hot of a class index, or given probabilities):
/// $$\ell = -\sum_c t_c \ln p_c + \varepsilon\\,\big(\textstyle\sum_c t_c - p_t\big),\qquad p_t = \sum_c t_c\\,p_c,$$
/// which for an index target $y$ is $-\ln p_y + \varepsilon(1 - p_y)$ (optax:
/// `softmax_cross_entropy + epsilon * sum(labels * (1 - softmax))`). `Mean` divides by the
/// number of rows $N$.
///
/// # Gradient
/// Index target: $\partial \ell / \partial x_c = (1 + \varepsilon\\, p_y)\\,(p_c - [c = y])$.
/// Probabilities, with $T = \sum_c t_c$: $\partial \ell / \partial x_c = T p_c - t_c +
/// \varepsilon\\, p_c (p_t - t_c)$. Times the reduction's scale.
///
/// # Numerical stability
/// The softmax is taken with the row maximum subtracted and $-\ln p_y$ as
/// $\ln \sum_c e^{x_c - m} - (x_y - m)$ (by `ln_1p` when $y$ is the maximum). For index
/// targets $1 - p_y$ is $\sum_{c \ne y} e^{x_c - m} / \sum_c e^{x_c - m}$, never a
/// subtraction, so it keeps its relative accuracy as $p_y \to 1$; with probabilities
/// $1 - p_c$ of the largest class is formed from the other classes the same way. A
/// $-\infty$ logit is probability 0 (with a zero target it adds nothing); a row with a
/// $+\infty$ logit or only $-\infty$ is an error.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `epsilon` | 2.0 | finite (≥ −1 keeps it a loss: Leng et al. use −1 to 5) |
///
/// # Errors
/// [`Poly1::epsilon`] rejects NaN and infinities. Evaluation rejects an `input` that is not
/// `[N, C]` or `[C]` with C ≥ 1, a `weight` (optax has none), an index target outside
/// `[0, C)` or of the wrong shape, probability targets outside [0, 1] or not of `input`'s
/// shape, a row with a `+∞` logit or only `−∞`, `Mean` over no rows and buffers of the
/// wrong length.
///
/// # Example
/// ```
/// use losskit::{ClassInputs, CrossEntropy, Poly1, Reduction, Tensor};
/// let logits = [2.0f64, 0.5, -1.0, 0.0, 1.0, 3.0];
/// let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &[0i64, 1]);
/// let mut g = [0.0; 6];
/// let v = Poly1::default().value_and_grad(&inputs, Reduction::Sum, &mut g)?;
/// // Cross-entropy plus 2·Σ(1 − p_y).
/// let ce = CrossEntropy::default().value(&inputs, Reduction::Sum)?;
/// let p0 = 2f64.exp() / (2f64.exp() + 0.5f64.exp() + (-1f64).exp());
/// let p1 = 1f64.exp() / (1.0 + 1f64.exp() + 3f64.exp());
/// assert!((v - (ce + 2.0 * ((1.0 - p0) + (1.0 - p1)))).abs() < 1e-12);
/// // Each row's gradient sums to zero, as any loss of a softmax.
/// assert!((g[0] + g[1] + g[2]).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Z. Leng, M. Tan, C. Liu, E. D. Cubuk, X. Shi, S. Cheng, D. Anguelov, "PolyLoss: A
/// Polynomial Expansion Perspective of Classification Loss Functions", ICLR 2022. optax
/// `poly_loss_cross_entropy` (the numbers matched in float32 and float64).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Poly1 {
    epsilon: f64,
}

/// optax's default: `epsilon = 2.0`.
impl Default for Poly1 {
    fn default() -> Self {
        Poly1 { epsilon: 2.0 }
    }
}

/// The index-target head: `−ln p_y + ε·q`, `q = 1 − p_y` from the other classes.
struct PolyHead<T> {
    eps: T,
}

impl<T: Real> Head<T> for PolyHead<T> {
    const SMOOTH: bool = false;
    #[inline(always)]
    fn finish(&self, st: &Stats<T>, _w_y: T, scale: T) -> Fin<T> {
        let s = st.s();
        let q = st.s_other / s;
        let p_y = st.e_y / s;
        let big_g = scale * (T::ONE + self.eps * p_y);
        Fin {
            loss: st.nll() + self.eps * q,
            k1: big_g / s,
            k2: T::ZERO,
            gy: -big_g * q,
        }
    }
}

/// One row against probabilities `t`: its loss, and whether the row was well defined (no
/// `+∞` logit, not only `−∞`). The gradient (times `scale`) into `g` when `GRAD`.
#[inline(always)]
fn soft_row<T: Real, const GRAD: bool>(
    x: &[T],
    t: &[T],
    eps: T,
    scale: T,
    g: &mut [T],
) -> (T, bool) {
    // The maximum, NaN included (a NaN logit makes the row NaN through every term).
    let mut m = -T::INFINITY;
    let mut k = 0;
    let mut nan = false;
    for (c, &v) in x.iter().enumerate() {
        nan |= v.is_nan();
        if v > m {
            m = v;
            k = c;
        }
    }
    if m == T::INFINITY || (m == -T::INFINITY && !nan) {
        return (T::ZERO, false);
    }
    let m = if nan { T::from_f64(f64::NAN) } else { m };
    let (mut s, mut s_not_k) = (T::ZERO, T::ZERO);
    for (c, &v) in x.iter().enumerate() {
        let e = (v - m).exp();
        s += e;
        if c != k {
            s_not_k += e;
        }
    }
    // The maximum's term is exactly 1: ln s = ln_1p(Σ of the others), exact for a confident row.
    let ln_s = s_not_k.ln_1p();
    let inv_s = T::ONE / s;
    // CE = Σ t_c (ln s − (x_c − m)) (0·∞ = 0 where a zero target meets a −∞ logit);
    // 1 − p_t-part = Σ t_c (1 − p_c), with 1 − p_k = Σ_{c≠k} e_c / s.
    let (mut ce, mut omp, mut tt, mut pt) = (T::ZERO, T::ZERO, T::ZERO, T::ZERO);
    for (c, (&v, &tc)) in x.iter().zip(t).enumerate() {
        let e = (v - m).exp();
        let p = e * inv_s;
        let nl = ln_s - (v - m);
        ce += if tc == T::ZERO { T::ZERO } else { tc * nl };
        let q = if c == k { s_not_k * inv_s } else { T::ONE - p };
        omp += tc * q;
        tt += tc;
        pt += tc * p;
    }
    if GRAD {
        for ((gc, &v), &tc) in g.iter_mut().zip(x).zip(t) {
            let p = (v - m).exp() * inv_s;
            *gc = scale * (tt * p - tc + eps * p * (pt - tc));
        }
    }
    (ce + eps * omp, true)
}

impl Poly1 {
    /// The coefficient `ε` of `1 − p_t`: 0 is cross-entropy.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for NaN or an infinity.
    pub fn epsilon(mut self, epsilon: f64) -> Result<Self> {
        if !epsilon.is_finite() {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "epsilon",
                value: epsilon,
                expected: "finite",
            });
        }
        self.epsilon = epsilon;
        Ok(self)
    }

    /// The coefficient of `1 − p_t`.
    pub fn get_epsilon(&self) -> f64 {
        self.epsilon
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

    /// The per-row losses (`[N]`, or `[]` for a `[C]` input) into `out`.
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
        inputs.check_takes(NAME, INPUTS, true)?;
        let input = inputs.input();
        if input.dims().len() > 2 {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "`[N, C]` or `[C]` with C >= 1",
            });
        }
        let lay = layout(NAME, &input)?;
        let mean = reduction == Some(Reduction::Mean);
        if mean && lay.n == 0 {
            return Err(Error::EmptyMean { loss: NAME });
        }
        let denom = if mean { lay.n as f64 } else { 1.0 };
        let mode = with_scale(mode, denom);
        let eps = T::from_f64(self.epsilon);
        let sum = match inputs.target() {
            ClassTarget::Indices(target) => {
                check_index_shape(NAME, &lay, &target)?;
                scan_targets::<T>(NAME, &target, lay.c, None, None)?;
                let head = PolyHead { eps };
                // Every index is a class (checked above): no value is ignored.
                softmax::run(
                    NAME,
                    &head,
                    Ones,
                    &input,
                    &lay,
                    target.data(),
                    i64::MIN,
                    mode,
                )?
            }
            ClassTarget::Probabilities(target) => {
                if target.dims() != input.dims() {
                    return Err(Error::ShapeMismatch {
                        loss: NAME,
                        arg: "target",
                        actual: target.dims().to_vec(),
                        expected: input.dims().to_vec(),
                        because: "probability targets have the shape of `input`; class indices drop its class dimension 1",
                    });
                }
                if let Some(i) = target
                    .data()
                    .iter()
                    .position(|&v| v < T::ZERO || v > T::ONE)
                {
                    return Err(Error::InvalidValue {
                        loss: NAME,
                        arg: "target",
                        index: target.shape().unravel(i),
                        value: target.data()[i].to_f64(),
                        expected: "a probability in [0, 1]",
                    });
                }
                soft(&input, &target, &lay, eps, mode)?
            }
        };
        Ok(T::from_f64(sum / denom))
    }
}

/// The probability-target sweep: row by row, sums into eight lanes by row index.
fn soft<T: Real>(
    input: &Tensor<'_, T>,
    target: &Tensor<'_, T>,
    lay: &Layout,
    eps: T,
    mode: Mode<'_, T>,
) -> Result<f64> {
    let (x, t, c, n) = (input.data(), target.data(), lay.c, lay.n);
    let chunk = |r: core::ops::Range<usize>, g: &mut [T], out: &mut [T], grad: bool, scale: T| {
        let mut lanes = Lanes::default();
        let mut ok = true;
        for (i, row) in r.clone().enumerate() {
            let (xr, tr) = (&x[row * c..][..c], &t[row * c..][..c]);
            let (loss, good) = if grad {
                soft_row::<T, true>(xr, tr, eps, scale, &mut g[i * c..][..c])
            } else {
                soft_row::<T, false>(xr, tr, eps, scale, &mut [])
            };
            ok &= good;
            if let Some(o) = out.get_mut(i) {
                *o = loss;
            }
            lanes.add(i, loss.to_f64());
        }
        (lanes.total(), ok)
    };
    let both = |a: (f64, bool), b: (f64, bool)| (a.0 + b.0, a.1 && b.1);
    let (sum, ok) = match mode {
        Mode::Grad(g, scale) => rows_fold_mut(
            g,
            c,
            n,
            c,
            (0.0, true),
            |r, gc| chunk(r, gc, &mut [], true, scale),
            both,
        ),
        Mode::PerElement(o) => rows_fold_mut(
            o,
            1,
            n,
            c,
            (0.0, true),
            |r, oc| chunk(r, &mut [], oc, false, T::ONE),
            both,
        ),
        _ => rows_fold(
            n,
            c,
            (0.0, true),
            |r| chunk(r, &mut [], &mut [], false, T::ONE),
            both,
        ),
    };
    if !ok {
        return Err(bad_logit(NAME, input, lay, |_| false));
    }
    Ok(sum)
}

fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = Poly1::default().epsilon(call.params.float("epsilon"))?;
    let input = call.float_req("input")?;
    let inputs = match call.index("target") {
        Some(t) => ClassInputs::new(input, t),
        None => ClassInputs::probabilities(input, call.float_req("target")?),
    };
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
    summary: "Poly-1: softmax cross-entropy plus ε·(1 − p_t), a tunable push on the target's probability",
    inputs: &[
        LOGITS,
        InputSpec {
            name: "target",
            role: Role::Target,
            kind: InputKind::FloatOrIndex,
            required: true,
            shape: "class indices `[N]` (integers, each in [0, C)), or probabilities of `input`'s shape (floats)",
        },
    ],
    params: &[ParamSpec {
        name: "epsilon",
        kind: ParamKind::Float { default: 2.0, range: Range::ANY },
        doc: "coefficient of 1 − p_t: 0 is cross-entropy; the paper tunes it in [−1, 5]",
    }],
    reductions: STANDARD_REDUCTIONS,
    formula: "ℓ = −Σ_c t_c ln p_c + ε·Σ_c t_c(1 − p_c), p = softmax(x) over the classes (index target y: −ln p_y + ε(1 − p_y)); mean = Σℓ / N",
    gradient: "index target: ∂ℓ/∂x_c = (1 + ε·p_y)(p_c − [c = y]); probabilities: T·p_c − t_c + ε·p_c(p_t − t_c), T = Σt, p_t = Σ t_c p_c",
    when_to_use: "a drop-in for cross-entropy with one extra knob: ε > 0 keeps pushing confident targets (helps on ImageNet-scale training per Leng et al.), ε < 0 relaxes it (noisy labels)",
    pitfalls: &[
        "ε < −1 makes the loss decrease away from the target for confident predictions: not a proper loss",
        "optax applies the softmax over the last axis; losskit takes `[N, C]` rows (no spatial dimensions)",
        "no class weights and no ignore_index (optax has neither): mask rows out before the call",
    ],
    reference: "Leng et al. 2022 (PolyLoss); optax poly_loss_cross_entropy",
    eval: evaluator!(evaluate),
    sample: super::multiclass::sample_scores,
    plot: Some(super::multiclass::MARGIN_PLOT),
    kinks: Kinks::Smooth,
    nan: NanRule::PROPAGATES,
    hessian: None,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_one_hot_probabilities_agree() {
        let x = [0.3f64, -1.2, 2.0, 0.0, 0.5, -0.5, 30.0, 0.0, -30.0];
        let y = [2i64, 1, 0];
        let mut oh = [0.0f64; 9];
        for (r, &c) in y.iter().enumerate() {
            oh[r * 3 + c as usize] = 1.0;
        }
        let a = ClassInputs::new(Tensor::new(&x, &[3, 3]).unwrap(), &y);
        let b = ClassInputs::probabilities(
            Tensor::new(&x, &[3, 3]).unwrap(),
            Tensor::new(&oh, &[3, 3]).unwrap(),
        );
        let loss = Poly1::default().epsilon(1.5).unwrap();
        let (mut ga, mut gb) = ([0.0; 9], [0.0; 9]);
        let va = loss.value_and_grad(&a, Reduction::Mean, &mut ga).unwrap();
        let vb = loss.value_and_grad(&b, Reduction::Mean, &mut gb).unwrap();
        assert!((va - vb).abs() < 1e-14, "{va} vs {vb}");
        for (p, q) in ga.iter().zip(&gb) {
            assert!((p - q).abs() < 1e-15, "{p} vs {q}");
        }
        // The saturated row [30, 0, −30], target 0: 1 − p_0 ≈ −ln p_0 ≈ q = e^−30 + e^−60, so
        // the loss is (1 + ε)·q, kept to relative accuracy.
        let mut per = [0.0; 3];
        loss.per_element(&a, &mut per).unwrap();
        let q = (-30f64).exp() + (-60f64).exp();
        assert!((per[2] - 2.5 * q).abs() < 1e-12 * q, "{}", per[2]);
        loss.per_element(&b, &mut per).unwrap();
        assert!((per[2] - 2.5 * q).abs() < 1e-12 * q, "{}", per[2]);
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            Poly1::default().epsilon(f64::NAN).unwrap_err().to_string(),
            "poly1: `epsilon` must be finite, got NaN"
        );
        let x = [0.0f32, f32::INFINITY, 0.0, 1.0];
        let t = [0.5f32, 0.5, 1.0, 0.0];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&t, &[2, 2]).unwrap(),
        );
        assert_eq!(
            Poly1::default().value(&soft, Reduction::Mean).unwrap_err().to_string(),
            "poly1: `input` at [0, 1] is inf, expected a logit < +inf (softmax of +inf is undefined)"
        );
        let x = [0.0f32; 4];
        let t = [0.5f32, 0.5, 1.5, 0.0];
        let soft = ClassInputs::probabilities(
            Tensor::new(&x, &[2, 2]).unwrap(),
            Tensor::new(&t, &[2, 2]).unwrap(),
        );
        assert_eq!(
            Poly1::default()
                .value(&soft, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "poly1: `target` at [1, 0] is 1.5, expected a probability in [0, 1]"
        );
        let w = [1.0f32; 2];
        let weighted = ClassInputs::new(Tensor::new(&x, &[2, 2]).unwrap(), &[0i64, 1]).weight(&w);
        assert_eq!(
            Poly1::default()
                .value(&weighted, Reduction::Mean)
                .unwrap_err()
                .to_string(),
            "poly1: unknown input `weight`; it takes `input`, `target`"
        );
    }
}
