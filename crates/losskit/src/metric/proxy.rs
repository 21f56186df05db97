//! Proxy losses: [`ProxyAnchor`] and [`ProxyNca`] (pytorch-metric-learning's
//! `ProxyAnchorLoss` and `ProxyNCALoss`), embeddings against one learned proxy per class.
//!
//! Both form the `N × C` matrix of cosines between the L2-normalised embeddings and proxies by
//! one matrix product, turn it into the loss's coefficients in place (two sweeps), and form
//! both gradients by two more products. They take `mean` only, pytorch-metric-learning's
//! reduction for them.

use crate::error::{Error, Result};
use crate::evaluator::{Call, Out};
use crate::real::Real;

use super::blocks::{normalize, normalize_backward};
use super::dense::{gemm, CentreInputs, Mat};
use super::heads::centre_inputs;
use super::{check_buffers, rows_dims, same_shape};

const PROXY_ANCHOR: &str = "proxy_anchor";
const PROXY_NCA: &str = "proxy_nca";

/// `(N, D, C)` of embeddings, labels and proxies, every label checked.
fn proxy_dims<T>(
    loss: &'static str,
    inputs: &CentreInputs<'_, T>,
) -> Result<(usize, usize, usize)> {
    let (n, d) = rows_dims(loss, "embeddings", &inputs.embeddings)?;
    same_shape(
        loss,
        "labels",
        &inputs.labels,
        &[n],
        "one label per row of `embeddings`",
    )?;
    let (c, dp) = rows_dims(loss, "proxies", &inputs.centres)?;
    if dp != d {
        return Err(Error::ShapeMismatch {
            loss,
            arg: "proxies",
            actual: inputs.centres.dims().to_vec(),
            expected: vec![c, d],
            because: "one proxy per class and row, as wide as `embeddings`",
        });
    }
    for (i, &l) in inputs.labels.data().iter().enumerate() {
        if !(0..c as i64).contains(&l) {
            return Err(Error::InvalidInteger {
                loss,
                arg: "labels",
                index: vec![i],
                value: l.into(),
                expected: "a class index in [0, C) (C = rows of `proxies`)",
            });
        }
    }
    if n == 0 {
        return Err(Error::EmptyMean { loss });
    }
    Ok((n, d, c))
}

/// The normalised embeddings and proxies, their cosines `[N, C]`, and after `coef` has turned
/// the cosines into `∂L/∂cos` (in place), the gradients. `coef` returns the loss.
fn proxy_run<T: Real>(
    loss: &'static str,
    inputs: &CentreInputs<'_, T>,
    grads: Option<(&mut [T], &mut [T])>,
    coef: impl FnOnce(&mut [T], &[T], &[T], &[i64], usize, bool) -> f64,
) -> Result<T> {
    let (n, d, c) = proxy_dims(loss, inputs)?;
    let (u, un) = normalize(inputs.embeddings.data(), d);
    let (p, pn) = normalize(inputs.centres.data(), d);
    let mut s = vec![T::ZERO; n * c];
    gemm(
        n,
        d,
        c,
        Mat::rows(&u, d),
        Mat::trans(&p, d),
        T::ZERO,
        &mut s,
    );
    let value = coef(&mut s, &u, &p, inputs.labels.data(), c, grads.is_some());
    if let Some((gu, gp)) = grads {
        gemm(n, c, d, Mat::rows(&s, c), Mat::rows(&p, d), T::ZERO, gu);
        gemm(c, n, d, Mat::trans(&s, c), Mat::rows(&u, d), T::ZERO, gp);
        normalize_backward(gu, &u, &un, d);
        normalize_backward(gp, &p, &pn, d);
    }
    Ok(T::from_f64(value))
}

/// The typed API and the evaluator of a proxy loss (`mean` only).
macro_rules! proxy_api {
    ($ty:ident, $name:ident) => {
        impl $ty {
            /// The loss (its mean, pytorch-metric-learning's reduction).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(&self, inputs: &CentreInputs<'_, T>) -> Result<T> {
                self.run(inputs, None)
            }

            /// The loss and its gradients with respect to `embeddings` and `proxies` (each
            /// buffer as long as its input), in one pass.
            ///
            /// # Errors
            /// See the type's docs. On error the buffers hold unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &CentreInputs<'_, T>,
                grad_embeddings: &mut [T],
                grad_proxies: &mut [T],
            ) -> Result<T> {
                check_buffers(
                    $name,
                    &[
                        (
                            "gradient of `embeddings`",
                            grad_embeddings.len(),
                            inputs.embeddings.len(),
                        ),
                        (
                            "gradient of `proxies`",
                            grad_proxies.len(),
                            inputs.centres.len(),
                        ),
                    ],
                )?;
                self.run(inputs, Some((grad_embeddings, grad_proxies)))
            }

            fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
                let inputs = centre_inputs(call, "proxies")?;
                // The catalogue lists `mean` only, so nothing else reaches here.
                debug_assert!(call.reduction == crate::reduction::ReductionMode::Mean);
                out.shape = Vec::new();
                let wants = out.grad("embeddings").is_some() || out.grad("proxies").is_some();
                let value = if wants {
                    let mut ge = vec![T::ZERO; inputs.embeddings.len()];
                    let mut gp = vec![T::ZERO; inputs.centres.len()];
                    let v = self.value_and_grad(&inputs, &mut ge, &mut gp)?;
                    for (name, g) in [("embeddings", &ge), ("proxies", &gp)] {
                        if let Some(o) = out.grad(name) {
                            o.copy_from_slice(g);
                        }
                    }
                    v
                } else {
                    self.value(&inputs)?
                };
                out.value = Some(value.to_f64());
                Ok(())
            }
        }
    };
}

/// Proxy-Anchor loss (Kim et al. 2020), as pytorch-metric-learning's `ProxyAnchorLoss`: each
/// class proxy pulls its class's embeddings and pushes the others, through a soft maximum
/// over the batch.
///
/// # Definition
/// With $s_{ic} = u_i\cdot\hat p_c$ the cosine of embedding i and proxy c (both
/// L2-normalised, PyTorch's `F.normalize`), $P_c$ the rows labelled c and $N_c$ the others,
/// $C^+$ the number of classes with at least one row in the batch:
/// $$L = \frac{1}{C^+}\sum_{c:\,P_c \ne \emptyset}\ln\Big(1 + \sum_{i\in P_c} e^{-\alpha(s_{ic} - \delta)}\Big) + \frac{1}{C}\sum_{c}\ln\Big(1 + \sum_{i\in N_c} e^{\alpha(s_{ic} + \delta)}\Big)$$
/// (a class without negatives contributes 0 to the second sum). `mean` only: this is
/// pytorch-metric-learning's value with its `DivisorReducer`.
///
/// # Gradient
/// $\partial L/\partial s_{ic} = -\frac{\alpha}{C^+}\,\mathrm{softmax}^+_c(i)$ for $i \in P_c$ and
/// $\frac{\alpha}{C}\,\mathrm{softmax}^-_c(i)$ for $i \in N_c$, each the share of row i in its
/// class's $1 + \sum e^{\cdot}$; then through the cosine to the embeddings and the proxies
/// and through both normalisations.
///
/// # Numerical stability
/// Each $\ln(1 + \sum e^{a_i})$ is a log-sum-exp over the $a_i$ and 0 with the largest
/// taken out (at α = 32 the exponents reach ±35); sums in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` (δ) | 0.1 | finite |
/// | `alpha` | 32.0 | > 0 |
///
/// # Errors
/// `embeddings` or `proxies` not 2-D ([`Error::BadShape`]); `labels` not `[N]` or `proxies`
/// of another width ([`Error::ShapeMismatch`]); a label outside `[0, C)`
/// ([`Error::InvalidInteger`]); an empty batch ([`Error::EmptyMean`]; pytorch-metric-learning
/// returns 0); buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{CentreInputs, ProxyAnchor, Tensor};
/// let e = [1.0f64, 0.0, 0.0, 2.0];
/// let p = [1.0f64, 0.0, 0.0, 1.0];
/// let inputs = CentreInputs::new(Tensor::new(&e, &[2, 2])?, &[0i64, 1], Tensor::new(&p, &[2, 2])?);
/// let v = ProxyAnchor::default().value(&inputs)?;
/// // Each proxy: its own row at cosine 1, the other at cosine 0.
/// let want = (1.0 + (-32.0f64 * 0.9).exp()).ln() + (1.0 + (32.0f64 * 0.1).exp()).ln();
/// assert!((v - want).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// S. Kim, D. Kim, M. Cho, S. Kwak, "Proxy Anchor Loss for Deep Metric Learning", CVPR 2020.
/// Matches pytorch-metric-learning `ProxyAnchorLoss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyAnchor {
    margin: f64,
    alpha: f64,
}

impl Default for ProxyAnchor {
    /// pytorch-metric-learning's defaults: `margin = 0.1`, `alpha = 32`.
    fn default() -> Self {
        ProxyAnchor {
            margin: 0.1,
            alpha: 32.0,
        }
    }
}

impl ProxyAnchor {
    /// Proxy-Anchor with the cosine `margin` δ and the scale `alpha`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite and `alpha` finite and `> 0`.
    pub fn new(margin: f64, alpha: f64) -> Result<Self> {
        let bad = |param, value, expected| Error::InvalidParam {
            loss: PROXY_ANCHOR,
            param,
            value,
            expected,
        };
        if !margin.is_finite() {
            return Err(bad("margin", margin, "finite"));
        }
        if !(alpha.is_finite() && alpha > 0.0) {
            return Err(bad("alpha", alpha, "> 0 and finite"));
        }
        Ok(ProxyAnchor { margin, alpha })
    }

    fn run<T: Real>(
        &self,
        inputs: &CentreInputs<'_, T>,
        grads: Option<(&mut [T], &mut [T])>,
    ) -> Result<T> {
        let (alpha, delta) = (self.alpha, self.margin);
        proxy_run(PROXY_ANCHOR, inputs, grads, |s, _, _, lab, c, want| {
            // The exponent of row i at proxy j: −α(s − δ) for its own class, α(s + δ) else.
            let expo = |y: usize, j: usize, v: T| {
                let v = v.to_f64();
                if j == y {
                    -alpha * (v - delta)
                } else {
                    alpha * (v + delta)
                }
            };
            // Per class: (largest exponent with the 1's 0, Σ e^{a − max}), positives, negatives.
            let (mut pmax, mut nmax) = (vec![0.0f64; c], vec![0.0f64; c]);
            let (mut has_pos, mut has_neg) = (vec![false; c], vec![false; c]);
            for (row, &y) in s.chunks_exact(c.max(1)).zip(lab) {
                let y = y as usize;
                for (j, &v) in row.iter().enumerate() {
                    let a = expo(y, j, v);
                    let (m, h) = if j == y {
                        (&mut pmax[j], &mut has_pos[j])
                    } else {
                        (&mut nmax[j], &mut has_neg[j])
                    };
                    *h = true;
                    if a > *m {
                        *m = a;
                    }
                }
            }
            let mut psum: Vec<f64> = pmax.iter().map(|m| (-m).exp()).collect();
            let mut nsum: Vec<f64> = nmax.iter().map(|m| (-m).exp()).collect();
            for (row, &y) in s.chunks_exact_mut(c.max(1)).zip(lab) {
                let y = y as usize;
                for (j, v) in row.iter_mut().enumerate() {
                    let a = expo(y, j, *v);
                    let e = if j == y {
                        (a - pmax[j]).exp()
                    } else {
                        (a - nmax[j]).exp()
                    };
                    if j == y {
                        psum[j] += e;
                    } else {
                        nsum[j] += e;
                    }
                    *v = T::from_f64(e);
                }
            }
            let classes_pos = has_pos.iter().filter(|&&h| h).count() as f64;
            let term = |m: f64, s: f64, h: bool| if h { m + s.ln() } else { 0.0 };
            let pos: f64 = (0..c).map(|j| term(pmax[j], psum[j], has_pos[j])).sum();
            let neg: f64 = (0..c).map(|j| term(nmax[j], nsum[j], has_neg[j])).sum();
            if want {
                let (kp, kn) = (-alpha / classes_pos, alpha / c as f64);
                let pk: Vec<f64> = psum.iter().map(|s| kp / s).collect();
                let nk: Vec<f64> = nsum.iter().map(|s| kn / s).collect();
                for (row, &y) in s.chunks_exact_mut(c.max(1)).zip(lab) {
                    let y = y as usize;
                    for (j, v) in row.iter_mut().enumerate() {
                        let k = if j == y { pk[j] } else { nk[j] };
                        *v = T::from_f64(v.to_f64() * k);
                    }
                }
            }
            pos / classes_pos + neg / c as f64
        })
    }
}

proxy_api!(ProxyAnchor, PROXY_ANCHOR);

/// ProxyNCA (Movshovitz-Attias et al. 2017), as pytorch-metric-learning's `ProxyNCALoss`:
/// a softmax over the negative squared distances from each embedding to every class proxy,
/// the row's own class's proxy the target.
///
/// # Definition
/// With $u_i$, $\hat p_c$ the L2-normalised embeddings and proxies (PyTorch's `F.normalize`)
/// and $d^2_{ic} = \lVert u_i - \hat p_c\rVert^2$, computed as
/// $\max(\lVert u_i\rVert^2 + \lVert\hat p_c\rVert^2 - 2u_i\cdot\hat p_c,\ 0)$ (`torch.cdist`'s
/// form):
/// $$\ell_i = -\ln\frac{e^{-s\,d^2_{iy_i}}}{\sum_c e^{-s\,d^2_{ic}}},\qquad L = \frac1N\sum_i \ell_i$$
/// `mean` only (pytorch-metric-learning's `MeanReducer`).
///
/// # Gradient
/// $\partial\ell_i/\partial d^2_{ic} = -s(\mathrm{softmax}_c - [c = y_i])$, 0 where the
/// squared distance was clamped at 0;
/// $\partial d^2/\partial u_i = 2(u_i - \hat p_c)$, $\partial d^2/\partial \hat p_c = 2(\hat p_c - u_i)$,
/// then through both normalisations (which remove the radial parts).
///
/// # Numerical stability
/// The log-softmax is a log-sum-exp with the row's largest logit taken out, so a row whose
/// own proxy's probability underflows keeps its finite loss (pytorch-metric-learning drops
/// such rows: `exp != 0`). Sums in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `softmax_scale` | 1.0 | > 0 |
///
/// # Errors
/// As [`ProxyAnchor`].
///
/// # Example
/// ```
/// use losskit::{CentreInputs, ProxyNca, Tensor};
/// let e = [3.0f64, 0.0];
/// let p = [1.0f64, 0.0, 0.0, 1.0];
/// let inputs = CentreInputs::new(Tensor::new(&e, &[1, 2])?, &[0i64], Tensor::new(&p, &[2, 2])?);
/// // Squared distances 0 and 2: ℓ = ln(1 + e^{−2}).
/// let v = ProxyNca::default().value(&inputs)?;
/// assert!((v - (1.0 + (-2.0f64).exp()).ln()).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Y. Movshovitz-Attias et al., "No Fuss Distance Metric Learning using Proxies", ICCV 2017.
/// Matches pytorch-metric-learning `ProxyNCALoss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProxyNca {
    softmax_scale: f64,
}

impl Default for ProxyNca {
    /// pytorch-metric-learning's default: `softmax_scale = 1`.
    fn default() -> Self {
        ProxyNca { softmax_scale: 1.0 }
    }
}

impl ProxyNca {
    /// ProxyNCA with the softmax scale `softmax_scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `softmax_scale` is finite and `> 0`.
    pub fn new(softmax_scale: f64) -> Result<Self> {
        if !(softmax_scale.is_finite() && softmax_scale > 0.0) {
            return Err(Error::InvalidParam {
                loss: PROXY_NCA,
                param: "softmax_scale",
                value: softmax_scale,
                expected: "> 0 and finite",
            });
        }
        Ok(ProxyNca { softmax_scale })
    }

    fn run<T: Real>(
        &self,
        inputs: &CentreInputs<'_, T>,
        grads: Option<(&mut [T], &mut [T])>,
    ) -> Result<T> {
        let scale = self.softmax_scale;
        proxy_run(PROXY_NCA, inputs, grads, |s, u, p, lab, c, want| {
            let n = lab.len();
            let d = u.len() / n;
            let sq = |v: &[T]| -> Vec<f64> {
                v.chunks_exact(d.max(1))
                    .map(|r| r.iter().map(|&a| a.to_f64() * a.to_f64()).sum())
                    .collect()
            };
            let (nu, np) = (sq(u), if d == 0 { vec![0.0; c] } else { sq(p) });
            let k = 1.0 / n as f64;
            let mut total = 0.0;
            for ((row, &y), &ni) in s.chunks_exact_mut(c.max(1)).zip(lab).zip(&nu) {
                let y = y as usize;
                // The logits −s·d², kept in the row; d² < 0 (rounding) is clamped, as cdist.
                let mut mx = f64::NEG_INFINITY;
                for (v, &nj) in row.iter_mut().zip(&np) {
                    let d2 = ni + nj - 2.0 * v.to_f64();
                    let z = if d2 <= 0.0 { 0.0 } else { -scale * d2 };
                    if z > mx {
                        mx = z;
                    }
                    *v = T::from_f64(z);
                }
                let sum: f64 = row.iter().map(|v| (v.to_f64() - mx).exp()).sum();
                let lse = mx + sum.ln();
                total += lse - row[y].to_f64();
                if want {
                    // ∂L/∂cos = −2·∂L/∂d² = 2s(softmax − onehot)/N (0 where clamped).
                    for (j, v) in row.iter_mut().enumerate() {
                        let z = v.to_f64();
                        let pj = (z - mx).exp() / sum - if j == y { 1.0 } else { 0.0 };
                        // d² ≤ 0: at the proxy (clamped or exact), where ∂d²/∂u = 2(u − p̂) is 0.
                        let clamped = z == 0.0;
                        *v = T::from_f64(if clamped { 0.0 } else { 2.0 * scale * pj * k });
                    }
                }
            }
            total * k
        })
    }
}

proxy_api!(ProxyNca, PROXY_NCA);

pub(crate) fn eval_proxy_anchor<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = call.params;
    ProxyAnchor::new(p.float("margin"), p.float("alpha"))?.evaluate(call, out)
}

pub(crate) fn eval_proxy_nca<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    ProxyNca::new(call.params.float("softmax_scale"))?.evaluate(call, out)
}
