//! Gaussian negative log-likelihood with a predicted variance.

use crate::error::check_buffer;
use crate::error::{Error, Result};
use crate::eval::{apply_cotangent, dispatch2, Call, Kept, Out, Vjp};
use crate::numerics::{block_sum, chunked_fold, chunked_fold_mut2, lane_sum, simd, Lanes, SimdFn};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

use crate::reduction::weight_total;
use crate::sample::{Rng, Sample};

const NAME: &str = "gaussian_nll";

/// The inputs of [`GaussianNll`]: the predicted mean `input`, the `target`, the predicted
/// variance `var`, and an optional element-wise `weight`.
///
/// `var` has the shape of `input` (one variance per element), or that shape with one
/// dimension 1 (one variance shared along that dimension, e.g. `[N, 1, H, W]` for an input
/// `[N, C, H, W]`), or that shape with the last dimension dropped, as PyTorch allows.
#[derive(Debug)]
pub struct GaussianInputs<'a, T> {
    input: Tensor<'a, T>,
    target: Tensor<'a, T>,
    var: Tensor<'a, T>,
    weight: Option<Tensor<'a, T>>,
}

impl<'a, T> GaussianInputs<'a, T> {
    /// The predicted mean, the target and the predicted variance.
    pub fn new(
        input: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
        var: impl Into<Tensor<'a, T>>,
    ) -> Self {
        GaussianInputs {
            input: input.into(),
            target: target.into(),
            var: var.into(),
            weight: None,
        }
    }

    /// Adds an element-wise weight (same shape as `input`).
    #[must_use]
    pub fn weight(mut self, weight: impl Into<Tensor<'a, T>>) -> Self {
        self.weight = Some(weight.into());
        self
    }
}

impl<T> Clone for GaussianInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for GaussianInputs<'_, T> {}

/// Gaussian negative log-likelihood: fits a mean and a variance at once.
///
/// # Definition
/// $$\ell_i = \tfrac12\Big(\ln v_i + \frac{(x_i - y_i)^2}{v_i}\Big)\ \big(+\ \tfrac12\ln 2\pi \text{ with `full`}\big),\qquad v_i = \max(\mathrm{var}_i, \varepsilon)$$
///
/// # Gradient
/// $$\frac{\partial\ell_i}{\partial x_i} = \frac{x_i - y_i}{v_i},\qquad
/// \frac{\partial\ell_i}{\partial \mathrm{var}_i} = \frac12\Big(\frac1{v_i} - \frac{(x_i - y_i)^2}{v_i^2}\Big)$$
/// As in PyTorch, the clamp at `eps` does not stop the variance's gradient: where
/// $\mathrm{var} < \varepsilon$ the gradient is the one at $\varepsilon$. A variance shared
/// along a dimension receives the sum of its elements' gradients.
///
/// # Numerical stability
/// The clamp keeps $\ln v$ and $1/v$ finite for a zero variance; a huge variance is harmless.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `full` | false | |
/// | `eps` | 1e-6 | > 0, finite |
///
/// # Errors
/// [`GaussianNll::eps`] rejects `eps ≤ 0`; evaluation rejects a negative `var` entry (as
/// PyTorch does), shapes that do not fit, and `Mean` over no elements.
///
/// # Example
/// ```
/// use losskit::{GaussianInputs, GaussianNll, Reduction};
/// let x = [1.0f64, 2.0];
/// let y = [0.0, 2.0];
/// let var = [1.0, 4.0];
/// let (mut gx, mut gv) = ([0.0; 2], [0.0; 2]);
/// let loss = GaussianNll::default();
/// let v = loss.value_and_grad(&GaussianInputs::new(&x, &y, &var), Reduction::Sum, &mut gx, &mut gv)?;
/// assert!((v - 0.5 * (1.0 + 4f64.ln())).abs() < 1e-15);
/// assert_eq!(gx, [1.0, 0.0]);
/// assert_eq!(gv, [0.0, 0.125]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// D. A. Nix and A. S. Weigend, "Estimating the mean and variance of the target probability
/// distribution", 1994. PyTorch `torch.nn.functional.gaussian_nll_loss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNll {
    full: bool,
    eps: f64,
}

/// PyTorch's defaults: `full = false`, `eps = 1e-6`.
impl Default for GaussianNll {
    fn default() -> Self {
        GaussianNll {
            full: false,
            eps: 1e-6,
        }
    }
}

/// How `var` maps onto `input`'s elements.
#[derive(Clone, Copy)]
enum Layout {
    /// One variance per element.
    Full,
    /// One variance shared along one dimension of length `size`; `inner` is the product of
    /// the dimensions after it.
    Shared { size: usize, inner: usize },
}

impl GaussianNll {
    /// Whether to add the constant $\tfrac12\ln 2\pi$.
    #[must_use]
    pub fn full(mut self, full: bool) -> Self {
        self.full = full;
        self
    }

    /// The floor of the variance.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `eps > 0` and finite.
    pub fn eps(mut self, eps: f64) -> Result<Self> {
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "eps",
                value: eps,
                expected: "> 0 and finite",
            });
        }
        self.eps = eps;
        Ok(self)
    }

    fn check<T: Real>(&self, inputs: &GaussianInputs<'_, T>) -> Result<Layout> {
        let dims = inputs.input.dims();
        let mismatch = |arg, t: &Tensor<'_, T>| Error::ShapeMismatch {
            loss: NAME,
            arg,
            actual: t.dims().to_vec(),
            expected: dims.to_vec(),
            because: "the shape of `input`",
        };
        if inputs.target.dims() != dims {
            return Err(mismatch("target", &inputs.target));
        }
        if let Some(w) = &inputs.weight {
            if w.dims() != dims {
                return Err(mismatch("weight", w));
            }
        }
        let v = inputs.var.dims();
        let shared = |k: usize| Layout::Shared {
            size: dims[k],
            inner: dims[k + 1..].iter().product(),
        };
        // As PyTorch: the same shape; or one fewer dimension (the last one dropped); or the
        // same rank with exactly one dimension of size 1 where `input`'s is not.
        let mismatched: Vec<usize> = (0..v.len().min(dims.len()))
            .filter(|&k| v[k] != dims[k])
            .collect();
        let layout = if v == dims {
            Layout::Full
        } else if !dims.is_empty() && v == &dims[..dims.len() - 1] {
            shared(dims.len() - 1)
        } else if v.len() == dims.len() && mismatched.len() == 1 && v[mismatched[0]] == 1 {
            shared(mismatched[0])
        } else {
            return Err(Error::ShapeMismatch {
                loss: NAME,
                arg: "var",
                actual: v.to_vec(),
                expected: dims.to_vec(),
                because: "the shape of `input`, or it with one dimension 1, or the last dropped",
            });
        };
        let var = inputs.var.data();
        if let Some(i) = var.iter().position(|&s| s < T::ZERO) {
            return Err(Error::InvalidValue {
                loss: NAME,
                arg: "var",
                index: inputs.var.shape().unravel(i),
                value: var[i].to_f64(),
                expected: "a variance >= 0",
            });
        }
        Ok(layout)
    }

    /// `Σ w·ℓ` (or `Σ ℓ`), the denominator of the reduction, and the layout.
    fn prepare<T: Real>(
        &self,
        inputs: &GaussianInputs<'_, T>,
        reduction: Reduction,
    ) -> Result<(Layout, Option<f64>)> {
        let layout = self.check(inputs)?;
        let n = inputs.input.len();
        let total = match &inputs.weight {
            Some(w) => Some(weight_total(NAME, w)?),
            None => None,
        };
        let denom = match (reduction, total) {
            (Reduction::Sum, _) => Some(1.0),
            (Reduction::Mean, _) if n == 0 => return Err(Error::EmptyMean { loss: NAME }),
            (Reduction::Mean, None) => Some(n as f64),
            (Reduction::Mean, Some(s)) if s > 0.0 => Some(s),
            (Reduction::Mean, Some(_)) => None,
        };
        Ok((layout, denom))
    }

    #[inline(always)]
    fn element<T: Real>(&self, x: T, t: T, var: T) -> (T, T, T) {
        // Not `var.max(eps)`, which turns a NaN variance into `eps` and a finite loss.
        let eps = T::from_f64(self.eps);
        let v = if var < eps { eps } else { var };
        let e = x - t;
        let q = e / v;
        let c = if self.full {
            T::HALF * (T::TWO * T::PI).ln()
        } else {
            T::ZERO
        };
        (
            T::HALF * (v.ln_fast() + e * q) + c,
            q,
            T::HALF * (T::ONE - e * q) / v,
        )
    }

    /// `Σ w·ℓ` over the elements `r` when `var` has `input`'s shape (and, with `grad`, the
    /// scaled gradients of those elements written to the chunk's parts of both buffers):
    /// vectorised at the CPU's width ([`simd`]), one chunk of [`chunked_fold`].
    #[allow(clippy::type_complexity)]
    fn full_chunk<T: Real>(
        &self,
        x: &[T],
        t: &[T],
        var: &[T],
        w: Option<&[T]>,
        r: core::ops::Range<usize>,
        grad: Option<(&mut [T], &mut [T], T)>,
    ) -> f64 {
        let x = &x[r.clone()];
        let n = x.len();
        let (t, v) = (&t[r.clone()][..n], &var[r.clone()][..n]);
        let w = w.map(|w| &w[r][..n]);
        simd(SimdFn(
            #[inline(always)]
            || {
                let mut lanes = Lanes::default();
                // A local copy: parameters behind `&self` would be reloaded after every store
                // and keep the loop scalar.
                let this = *self;
                match (w, grad) {
                    (None, None) => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t, v) = (&x[r.clone()][..k], &t[r.clone()][..k], &v[r][..k]);
                            for i in 0..k {
                                lb[i] = this.element(x[i], t[i], v[i]).0;
                            }
                        },
                    ),
                    (Some(w), None) => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t, v) =
                                (&x[r.clone()][..k], &t[r.clone()][..k], &v[r.clone()][..k]);
                            let w = &w[r][..k];
                            for i in 0..k {
                                lb[i] = w[i] * this.element(x[i], t[i], v[i]).0;
                            }
                        },
                    ),
                    (None, Some((gx, gv, s))) => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t, v) =
                                (&x[r.clone()][..k], &t[r.clone()][..k], &v[r.clone()][..k]);
                            let (gx, gv) = (&mut gx[r.clone()][..k], &mut gv[r][..k]);
                            for i in 0..k {
                                let (l, dx, dv) = this.element(x[i], t[i], v[i]);
                                gx[i] = dx * s;
                                gv[i] = dv * s;
                                lb[i] = l;
                            }
                        },
                    ),
                    (Some(w), Some((gx, gv, s))) => block_sum(
                        n,
                        &mut lanes,
                        #[inline(always)]
                        |r, lb| {
                            let k = lb.len();
                            let (x, t, v) =
                                (&x[r.clone()][..k], &t[r.clone()][..k], &v[r.clone()][..k]);
                            let w = &w[r.clone()][..k];
                            let (gx, gv) = (&mut gx[r.clone()][..k], &mut gv[r][..k]);
                            for i in 0..k {
                                let (l, dx, dv) = this.element(x[i], t[i], v[i]);
                                let ws = w[i] * s;
                                gx[i] = dx * ws;
                                gv[i] = dv * ws;
                                lb[i] = w[i] * l;
                            }
                        },
                    ),
                }
                lanes.total()
            },
        ))
    }

    #[inline(always)]
    fn var_index(layout: Layout, i: usize) -> usize {
        match layout {
            Layout::Full => i,
            Layout::Shared { size, inner } => (i / (size * inner)) * inner + i % inner,
        }
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(
        &self,
        inputs: &GaussianInputs<'_, T>,
        reduction: Reduction,
    ) -> Result<T> {
        let (layout, denom) = self.prepare(inputs, reduction)?;
        let Some(denom) = denom else {
            return Ok(T::ZERO);
        };
        let (x, t, var) = (inputs.input.data(), inputs.target.data(), inputs.var.data());
        let t = &t[..x.len()];
        if let Layout::Full = layout {
            let w = inputs.weight.map(|w| w.data());
            let sum = chunked_fold(
                x.len(),
                0.0,
                |r| self.full_chunk(x, t, var, w, r, None),
                |a, b| a + b,
            );
            return Ok(T::from_f64(sum / denom));
        }
        let sum = match inputs.weight.map(|w| w.data()) {
            None => lane_sum(x.len(), |i| {
                self.element(x[i], t[i], var[Self::var_index(layout, i)])
                    .0
                    .to_f64()
            }),
            Some(w) => {
                let w = &w[..x.len()];
                lane_sum(x.len(), |i| {
                    (w[i] * self.element(x[i], t[i], var[Self::var_index(layout, i)]).0).to_f64()
                })
            }
        };
        Ok(T::from_f64(sum / denom))
    }

    /// The loss reduced with `reduction` and its gradients with respect to `input` (into
    /// `grad_input`, as long as `input`) and `var` (into `grad_var`, as long as `var`), in one
    /// pass.
    ///
    /// # Errors
    /// See the type's docs; also [`Error::BufferLength`] for a buffer of the wrong length.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &GaussianInputs<'_, T>,
        reduction: Reduction,
        grad_input: &mut [T],
        grad_var: &mut [T],
    ) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad_input.len(),
            inputs.input.len(),
        )?;
        check_buffer(NAME, "gradient of `var`", grad_var.len(), inputs.var.len())?;
        let (layout, denom) = self.prepare(inputs, reduction)?;
        grad_var.fill(T::ZERO);
        let Some(denom) = denom else {
            grad_input.fill(T::ZERO);
            return Ok(T::ZERO);
        };
        let scale = T::from_f64(1.0 / denom);
        let (x, t, var) = (inputs.input.data(), inputs.target.data(), inputs.var.data());
        let t = &t[..x.len()];
        let w = inputs.weight.map(|w| w.data());
        if let Layout::Full = layout {
            let sum = chunked_fold_mut2(
                grad_input,
                grad_var,
                0.0,
                |r, gx, gv| self.full_chunk(x, t, var, w, r, Some((gx, gv, scale))),
                |a, b| a + b,
            );
            return Ok(T::from_f64(sum / denom));
        }
        let sum = lane_sum(x.len(), |i| {
            let j = Self::var_index(layout, i);
            let (l, gx, gv) = self.element(x[i], t[i], var[j]);
            let s = w.map_or(scale, |w| w[i] * scale);
            grad_input[i] = gx * s;
            grad_var[j] += gv * s;
            (w.map_or(l, |w| w[i] * l)).to_f64()
        });
        Ok(T::from_f64(sum / denom))
    }

    /// The vector-Jacobian product of the unreduced loss: ∂(Σ_i u_i ℓ_i)/∂`input` into
    /// `grad_input` and ∂(Σ_i u_i ℓ_i)/∂`var` into `grad_var` (`u` of `input`'s shape).
    /// `input` and a full-shape `var` are element-wise (the gradient of the sum times `u`);
    /// a broadcast `var` element is shared by several loss elements, so each element's
    /// contribution is weighed by its `u_i` as it is added.
    pub(crate) fn vjp<T: Real>(
        &self,
        inputs: &GaussianInputs<'_, T>,
        u: &[T],
        grad_input: &mut [T],
        grad_var: &mut [T],
    ) -> Result<()> {
        let (layout, _) = self.prepare(inputs, Reduction::Sum)?;
        if let Layout::Full = layout {
            self.value_and_grad(inputs, Reduction::Sum, grad_input, grad_var)?;
            let dims = inputs.input.dims();
            apply_cotangent(grad_input, dims, Kept::ALL, u);
            apply_cotangent(grad_var, dims, Kept::ALL, u);
            return Ok(());
        }
        check_buffer(
            NAME,
            "gradient of `input`",
            grad_input.len(),
            inputs.input.len(),
        )?;
        check_buffer(NAME, "gradient of `var`", grad_var.len(), inputs.var.len())?;
        check_buffer(NAME, "cotangent", u.len(), inputs.input.len())?;
        grad_var.fill(T::ZERO);
        let (x, t, var) = (inputs.input.data(), inputs.target.data(), inputs.var.data());
        let w = inputs.weight.map(|w| w.data());
        // In `value_and_grad`'s order (ascending i), so u = 1 gives its bits.
        for i in 0..x.len() {
            let j = Self::var_index(layout, i);
            let (_, gx, gv) = self.element(x[i], t[i], var[j]);
            let s = w.map_or(T::ONE, |w| w[i]) * u[i];
            grad_input[i] = gx * s;
            grad_var[j] += gv * s;
        }
        Ok(())
    }

    /// The per-element losses (times the weight, if any), of `input`'s shape, into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(
        &self,
        inputs: &GaussianInputs<'_, T>,
        out: &mut [T],
    ) -> Result<()> {
        check_buffer(NAME, "per-element output", out.len(), inputs.input.len())?;
        let (layout, _) = self.prepare(inputs, Reduction::Sum)?;
        let (x, t, var) = (inputs.input.data(), inputs.target.data(), inputs.var.data());
        let w = inputs.weight.map(|w| w.data());
        for (i, o) in out.iter_mut().enumerate() {
            let l = self.element(x[i], t[i], var[Self::var_index(layout, i)]).0;
            *o = w.map_or(l, |w| w[i] * l);
        }
        Ok(())
    }
}

pub(crate) fn evaluate<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let loss = GaussianNll::default()
        .full(call.params.bool("full"))
        .eps(call.params.float("eps"))?;
    let mut inputs = GaussianInputs::new(
        call.float_req("input")?,
        call.float_req("target")?,
        call.float_req("var")?,
    );
    inputs.weight = call.float("weight");
    dispatch2(
        call,
        out,
        inputs.input.dims(),
        [("input", inputs.input.len()), ("var", inputs.var.len())],
        // Coupled when `var` is broadcast (one variance, several loss elements); `vjp`
        // post-multiplies the element-wise case.
        Vjp::Coupled(&|u, gx, gv| loss.vjp(&inputs, u, gx, gv)),
        |r| loss.value(&inputs, r),
        |r, gx, gv| loss.value_and_grad(&inputs, r, gx, gv),
        |o| loss.per_element(&inputs, o),
    )
}

/// `input`, `target` standard normal and `var` uniform in [0.1, 2], all of shape `[size]`.
pub(super) fn sample(size: usize, rng: &mut Rng) -> Sample {
    let n = size.max(1);
    Sample::new()
        .float("input", &[n], rng.normals(n, 1.0))
        .float("target", &[n], rng.normals(n, 1.0))
        .float("var", &[n], rng.uniforms(n, 0.1, 2.0))
}
