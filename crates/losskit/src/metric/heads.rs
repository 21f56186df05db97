//! Margin softmax heads over learned class centres: [`ArcFace`], [`CosFace`] and
//! [`SubCenterArcFace`] (pytorch-metric-learning's `ArcFaceLoss`, `CosFaceLoss`,
//! `SubCenterArcFaceLoss`).
//!
//! One engine serves the three: the embeddings and the centres are L2-normalised, their
//! cosines formed a block of rows at a time by a matrix product, the target class's cosine
//! given its margin, and the scaled cross-entropy and its gradient taken in the same sweep;
//! the gradients with respect to both matrices are two more products per block. The extra
//! memory is one block of cosines (`256 × C·K`), never `N × C`.

use crate::error::{Error, Result};
use crate::eval::Vjp;
use crate::evaluator::{Call, Out};
use crate::numerics::{simd, Lanes, SimdFn, BLOCK};
use crate::real::Real;
use crate::reduction::Reduction;

use super::blocks::{normalize, normalize_backward, NORM_EPS};
use super::dense::{gemm, CentreInputs, Mat};
use super::{check_buffers, dispatch_all, divisor, rows_dims, same_shape};

const ARCFACE: &str = "arcface";
const COSFACE: &str = "cosface";
const SUBCENTER: &str = "subcenter_arcface";

/// Embedding rows per block: the block's cosines, `ROWS × C·K`, are the extra memory.
const ROWS: usize = 256;

/// The margin given to the target class's cosine.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Margin {
    /// ArcFace's additive angular margin (radians): `cos(θ + m)` while `θ ≤ π − m`,
    /// `cos θ − m·sin m` beyond.
    Angle { m: f64, cos_m: f64, sin_m: f64 },
    /// CosFace's additive cosine margin: `cos θ − m`.
    Cosine(f64),
}

/// The shared engine: the loss's name, margin, scale and sub-centres per class.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Head {
    loss: &'static str,
    margin: Margin,
    scale: f64,
    k: usize,
}

/// One row's target: the margined cosine `φ`, its derivative through the cosine, and the
/// coefficient of the unit tangent (ArcFace's `sin m · cos θ` term; see [`ArcFace`]).
struct Target {
    phi: f64,
    dphi: f64,
    tangent: f64,
}

impl Head {
    fn new(loss: &'static str, margin: Margin, scale: f64, k: i64) -> Result<Head> {
        let bad = |param, value, expected| Error::InvalidParam {
            loss,
            param,
            value,
            expected,
        };
        if !(scale.is_finite() && scale > 0.0) {
            return Err(bad("scale", scale, "> 0 and finite"));
        }
        match margin {
            Margin::Angle { m, .. } if !(m.is_finite() && (0.0..180.0).contains(&m)) => {
                return Err(bad("margin", m, "in [0, 180) degrees"));
            }
            Margin::Cosine(m) if !m.is_finite() => return Err(bad("margin", m, "finite")),
            _ => {}
        }
        if k < 1 {
            return Err(Error::InvalidIntParam {
                loss,
                param: "sub_centers",
                value: k.into(),
                expected: ">= 1",
            });
        }
        let margin = match margin {
            Margin::Angle { m, .. } => {
                // NumPy's `np.radians`, as pytorch-metric-learning converts its degrees.
                let m = m * (core::f64::consts::PI / 180.0);
                Margin::Angle {
                    m,
                    cos_m: m.cos(),
                    sin_m: m.sin(),
                }
            }
            cos => cos,
        };
        Ok(Head {
            loss,
            margin,
            scale,
            k: k as usize,
        })
    }

    /// `(N, D, C)`, every label checked.
    fn dims<T>(&self, inputs: &CentreInputs<'_, T>) -> Result<(usize, usize, usize)> {
        let loss = self.loss;
        let (n, d) = rows_dims(loss, "embeddings", &inputs.embeddings)?;
        same_shape(
            loss,
            "labels",
            &inputs.labels,
            &[n],
            "one label per row of `embeddings`",
        )?;
        let (rows, dw) = rows_dims(loss, "weight", &inputs.centres)?;
        if dw != d {
            return Err(Error::ShapeMismatch {
                loss,
                arg: "weight",
                actual: inputs.centres.dims().to_vec(),
                expected: vec![rows, d],
                because: "one class centre per row, as wide as `embeddings`",
            });
        }
        if rows % self.k != 0 {
            return Err(Error::BadShape {
                loss,
                arg: "weight",
                actual: inputs.centres.dims().to_vec(),
                expected: "[C·K, D]: `sub_centers` = K rows per class, class-major",
            });
        }
        let c = rows / self.k;
        for (i, &l) in inputs.labels.data().iter().enumerate() {
            if !(0..c as i64).contains(&l) {
                return Err(Error::InvalidInteger {
                    loss,
                    arg: "labels",
                    index: vec![i],
                    value: l.into(),
                    expected: if self.k == 1 {
                        "a class index in [0, C) (C = rows of `weight`)"
                    } else {
                        "a class index in [0, C) (C = rows of `weight` / `sub_centers`)"
                    },
                });
            }
        }
        Ok((n, d, c))
    }

    /// The target's margin at cosine `c`, `sigma` = sin θ.
    fn target(&self, c: f64, sigma: f64) -> Target {
        match self.margin {
            // θ ≤ π − m ⟺ cos θ ≥ cos(π − m) = −cos m.
            Margin::Angle { cos_m, sin_m, .. } if c >= -cos_m => Target {
                phi: c * cos_m - sigma * sin_m,
                dphi: cos_m,
                tangent: sin_m * c,
            },
            Margin::Angle { m, sin_m, .. } => Target {
                phi: c - m * sin_m,
                dphi: 1.0,
                tangent: 0.0,
            },
            Margin::Cosine(m) => Target {
                phi: c - m,
                dphi: 1.0,
                tangent: 0.0,
            },
        }
    }

    /// The loss (reduced with `reduction`, or per row into `per`), and with `grads` the
    /// gradients with respect to the embeddings and the centres; `weights`: a cotangent per
    /// row (`reduction = none`).
    fn run<T: Real>(
        &self,
        inputs: &CentreInputs<'_, T>,
        reduction: Option<Reduction>,
        per: &mut [T],
        grads: Option<(&mut [T], &mut [T])>,
        weights: Option<&[T]>,
    ) -> Result<T> {
        let (n, d, c) = self.dims(inputs)?;
        let denom = match reduction {
            Some(r) => divisor(self.loss, r, n, true, "")?,
            None => 1.0,
        };
        let k = self.k;
        let mm = c * k;
        let (x, lab) = (inputs.embeddings.data(), inputs.labels.data());
        let (u, un) = normalize(x, d);
        let (w, wn) = normalize(inputs.centres.data(), d);
        let unit = |norm: f64| norm > NORM_EPS;
        let mut grads = grads;
        if let Some((_, gw)) = grads.as_mut() {
            gw.fill(T::ZERO);
        }
        let rows_max = ROWS.min(n.max(1));
        let mut s = vec![T::ZERO; rows_max * mm];
        // Per class of a row: the best sub-centre's cosine (then its exponential) and index.
        let mut cls = vec![T::ZERO; if k > 1 { c } else { 0 }];
        let mut arg = vec![0usize; if k > 1 { c } else { 0 }];
        // Per row of a block: (tangent coefficient, target centre row).
        let mut tangents = Vec::with_capacity(rows_max);
        let scale = self.scale;
        let sc = T::from_f64(scale);
        let mut total = 0.0;
        let mut r0 = 0;
        while r0 < n {
            let rows = rows_max.min(n - r0);
            let ub = &u[r0 * d..(r0 + rows) * d];
            let sb = &mut s[..rows * mm];
            gemm(
                rows,
                d,
                mm,
                Mat::rows(ub, d),
                Mat::trans(&w, d),
                T::ZERO,
                sb,
            );
            tangents.clear();
            for (bi, row) in sb.chunks_exact_mut(mm.max(1)).enumerate().take(rows) {
                let i = r0 + bi;
                let y = lab[i] as usize;
                // The class cosines: the row itself, or the best sub-centre of each class.
                let cos: &mut [T] = if k == 1 {
                    &mut row[..]
                } else {
                    for (j, sub) in row.chunks_exact(k).enumerate() {
                        let (mut best, mut at) = (sub[0], 0);
                        for (q, &v) in sub.iter().enumerate().skip(1) {
                            if v.is_nan() || v > best {
                                (best, at) = (v, q);
                                if v.is_nan() {
                                    break;
                                }
                            }
                        }
                        if best.is_nan() {
                            at = sub.iter().position(|v| v.is_nan()).unwrap_or(0);
                        }
                        cls[j] = best;
                        arg[j] = at;
                    }
                    &mut cls[..]
                };
                let yrow = y * k + if k > 1 { arg[y] } else { 0 };
                let cy = cos[y].to_f64();
                let ui = &u[i * d..(i + 1) * d];
                let wy = &w[yrow * d..(yrow + 1) * d];
                // sin θ as the length of ŵ − cos θ·u (exact where 1 − cos²θ has cancelled
                // to nothing); from cos θ alone when either row is zero.
                let sigma = if unit(un[i]) && unit(wn[yrow]) {
                    ui.iter()
                        .zip(wy)
                        .map(|(&a, &b)| {
                            let t = b.to_f64() - cy * a.to_f64();
                            t * t
                        })
                        .sum::<f64>()
                        .sqrt()
                } else {
                    (1.0 - cy * cy).max(0.0).sqrt()
                };
                let t = self.target(cy, sigma);
                let zy = scale * t.phi;
                cos[y] = T::from_f64(t.phi);
                // Log-sum-exp with the row's largest logit taken out; the row becomes its
                // exponentials.
                let (mx, mut sum) = exp_row(cos, sc, zy);
                // The target's own exponential in f64 (its logit is not sc·φ rounded).
                let ey = (zy - mx).exp();
                sum += ey - cos[y].to_f64();
                let lse = mx + sum.ln();
                let loss = lse - zy;
                total += loss;
                if let Some(o) = per.get_mut(i) {
                    *o = T::from_f64(loss);
                }
                if grads.is_some() {
                    let wi = match weights {
                        None => 1.0 / denom,
                        Some(uw) => uw[i].to_f64() / denom,
                    };
                    let coef = T::from_f64(wi * scale / sum);
                    for v in cos.iter_mut() {
                        *v *= coef;
                    }
                    let a = wi * scale * (ey / sum - 1.0);
                    cos[y] = T::from_f64(a * t.dphi);
                    if t.tangent != 0.0 {
                        tangents.push((bi, a * t.tangent, yrow));
                    }
                    if k > 1 {
                        row.fill(T::ZERO);
                        for (j, (&g, &q)) in cls.iter().zip(&arg).enumerate() {
                            row[j * k + q] = g;
                        }
                    }
                }
            }
            if let Some((gu, gw)) = grads.as_mut() {
                let sb = &s[..rows * mm];
                let gub = &mut gu[r0 * d..(r0 + rows) * d];
                gemm(
                    rows,
                    mm,
                    d,
                    Mat::rows(sb, mm),
                    Mat::rows(&w, d),
                    T::ZERO,
                    gub,
                );
                gemm(
                    mm,
                    rows,
                    d,
                    Mat::trans(sb, mm),
                    Mat::rows(ub, d),
                    T::ONE,
                    gw,
                );
                // ArcFace's tangent term, added along the unit tangents ŵ − cos θ·u and
                // u − cos θ·ŵ (already orthogonal to u and ŵ), 0 where they vanish.
                for &(bi, coef, yrow) in &tangents {
                    let i = r0 + bi;
                    let ui = &u[i * d..(i + 1) * d];
                    let wy = &w[yrow * d..(yrow + 1) * d];
                    let cy = ui
                        .iter()
                        .zip(wy)
                        .map(|(&a, &b)| a.to_f64() * b.to_f64())
                        .sum::<f64>();
                    add_tangent(&mut gub[bi * d..(bi + 1) * d], wy, ui, cy, coef);
                    add_tangent(&mut gw[yrow * d..(yrow + 1) * d], ui, wy, cy, coef);
                }
            }
            r0 += rows;
        }
        if let Some((gu, gw)) = grads {
            normalize_backward(gu, &u, &un, d);
            normalize_backward(gw, &w, &wn, d);
        }
        Ok(T::from_f64(total / denom))
    }
}

/// `(m, Σ_j e^{s·v_j − m})` with `m = max(s·max_j v_j, z)`, each `v_j` replaced by its
/// exponential: one vectorised sweep for the maximum, one for the exponentials, the sum in f64
/// lanes in a fixed order (the same bits at every SIMD level).
fn exp_row<T: Real>(v: &mut [T], s: T, z: f64) -> (f64, f64) {
    simd(SimdFn(
        #[inline(always)]
        || {
            let top = v.iter().fold(T::from_f64(f64::MIN), |m, &x| m.max(x));
            let mx = (s * top).to_f64().max(z);
            let mt = T::from_f64(mx);
            let mut lanes = Lanes::default();
            for block in v.chunks_mut(BLOCK) {
                for x in block.iter_mut() {
                    *x = (s * *x - mt).exp_fast();
                }
                lanes.add_block(block);
            }
            (mx, lanes.total())
        },
    ))
}

/// `g += coef · t/‖t‖` with `t = a − c·b` (nothing where `t = 0`).
fn add_tangent<T: Real>(g: &mut [T], a: &[T], b: &[T], c: f64, coef: f64) {
    let norm = a
        .iter()
        .zip(b)
        .map(|(&a, &b)| {
            let t = a.to_f64() - c * b.to_f64();
            t * t
        })
        .sum::<f64>()
        .sqrt();
    if norm > 0.0 {
        let k = coef / norm;
        for ((g, &a), &b) in g.iter_mut().zip(a).zip(b) {
            *g += T::from_f64(k * (a.to_f64() - c * b.to_f64()));
        }
    }
}

/// The typed API and the evaluator of a head (`ArcFace`, `CosFace`, `SubCenterArcFace`).
macro_rules! head_api {
    ($ty:ident) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &CentreInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                self.head.run(inputs, Some(reduction), &mut [], None, None)
            }

            /// The loss reduced with `reduction` and its gradients with respect to
            /// `embeddings` and `weight` (each buffer as long as its input; the reduction's
            /// scale included), in one pass.
            ///
            /// # Errors
            /// See the type's docs. On error the buffers hold unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &CentreInputs<'_, T>,
                reduction: Reduction,
                grad_embeddings: &mut [T],
                grad_weight: &mut [T],
            ) -> Result<T> {
                check_buffers(
                    self.head.loss,
                    &[
                        (
                            "gradient of `embeddings`",
                            grad_embeddings.len(),
                            inputs.embeddings.len(),
                        ),
                        (
                            "gradient of `weight`",
                            grad_weight.len(),
                            inputs.centres.len(),
                        ),
                    ],
                )?;
                self.head.run(
                    inputs,
                    Some(reduction),
                    &mut [],
                    Some((grad_embeddings, grad_weight)),
                    None,
                )
            }

            /// The per-sample losses `[N]` into `out`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &CentreInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let (n, _, _) = self.head.dims(inputs)?;
                check_buffers(self.head.loss, &[("per-element output", out.len(), n)])?;
                self.head.run(inputs, None, out, None, None).map(|_| ())
            }

            fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
                let inputs = centre_inputs(call, "weight")?;
                let (n, d, _) = self.head.dims(&inputs)?;
                let head = &self.head;
                dispatch_all(
                    call,
                    out,
                    &[n],
                    &[("embeddings", n * d), ("weight", inputs.centres.len())],
                    // Coupled: every row's loss moves every centre.
                    Vjp::Coupled(&|uw, g| {
                        let (a, b) = g.split_at_mut(1);
                        head.run(
                            &inputs,
                            None,
                            &mut [],
                            Some((&mut a[0], &mut b[0])),
                            Some(uw),
                        )
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

/// The inputs of a centre loss from a call: `embeddings`, `labels` and the centres `name`.
pub(crate) fn centre_inputs<'c, T: Real>(
    call: &'c Call<'_, T>,
    name: &'static str,
) -> Result<CentreInputs<'c, T>> {
    let labels = call.index("labels").ok_or(Error::MissingInput {
        loss: call.loss,
        name: "labels",
    })?;
    Ok(CentreInputs::new(
        call.float_req("embeddings")?,
        labels,
        call.float_req(name)?,
    ))
}

/// ArcFace (Deng et al. 2019), additive angular margin loss, as pytorch-metric-learning's
/// `ArcFaceLoss`: a scaled softmax cross-entropy over the cosines between each embedding and
/// every class centre, with the target's angle widened by `margin`.
///
/// # Definition
/// With $u_i = x_i/\lVert x_i\rVert$, $\hat w_j = w_j/\lVert w_j\rVert$ (PyTorch's
/// `F.normalize`, norms floored at $10^{-12}$), $\cos\theta_{ij} = u_i\cdot\hat w_j$ and the
/// margin $m$ in radians:
/// $$\varphi(\theta) = \begin{cases}\cos(\theta + m) & \theta \le \pi - m\\ \cos\theta - m\sin m & \theta > \pi - m\end{cases}$$
/// $$\ell_i = -\ln\frac{e^{s\,\varphi(\theta_{iy_i})}}{e^{s\,\varphi(\theta_{iy_i})} + \sum_{j\ne y_i} e^{s\cos\theta_{ij}}}$$
/// (the second branch keeps the target logit decreasing in θ, pytorch-metric-learning's and
/// InsightFace's choice; the logit jumps down by about $0.12\,s$ at $\theta = \pi - m$).
/// `mean` averages over the N rows (pytorch-metric-learning's `MeanReducer`), `sum` adds
/// them, `none` gives `[N]`.
///
/// # Gradient
/// $\partial\ell_i/\partial z_{ij} = p_{ij} - [j = y_i]$ for the logits $z$; through
/// $\cos(\theta+m) = \cos\theta\cos m - \sin\theta\sin m$ the target contributes
/// $s(p_{iy} - 1)\big(\cos m\; t + \sin m\cos\theta\; t/\lVert t\rVert\big)/\lVert x_i\rVert$
/// to $x_i$ with the tangent $t = \hat w_y - \cos\theta\, u_i$ (and symmetrically to
/// $w_y$), then everything through the normalisation.
///
/// # Numerical stability
/// $\cos(\theta + m)$ is never formed through `acos`, whose derivative is infinite at
/// $\cos\theta = \pm 1$: $\sin\theta$ is the length of the tangent $\hat w - \cos\theta\,u$,
/// which keeps the small angles that $1 - \cos^2\theta$ rounds to 0 (in f32 every angle below
/// about $3\cdot10^{-4}$), and the $\sin m\cos\theta/\sin\theta$ term of the derivative is
/// applied to the unit tangent, so it stays bounded (its size, $s\,|p - 1|\sin m$, is the
/// true one-sided slope of the cone $\cos(\theta + m)$ at θ = 0). Exactly at
/// $\cos\theta = \pm 1$ (embedding on its centre or opposite it) that tangent is 0 and the
/// gradient is the subgradient 0 of that term; pytorch-metric-learning's `acos` gives NaN
/// gradients there. The softmax is the log-sum-exp with the row's largest logit taken out;
/// sums in f64.
///
/// # Performance
/// Three matrix products per block of 256 rows (cosines, then both gradients), one sweep of
/// the `256 × C` block in between for the softmax; extra memory that block.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 28.6 (degrees, as pytorch-metric-learning; 0.5 rad in the paper) | [0, 180) |
/// | `scale` | 64.0 | > 0 |
///
/// # Errors
/// `embeddings` or `weight` not 2-D ([`Error::BadShape`]); `labels` not `[N]` or `weight`
/// of another width ([`Error::ShapeMismatch`]); a label outside `[0, C)`
/// ([`Error::InvalidInteger`]); `Mean` over no rows ([`Error::EmptyMean`]); buffers of the
/// wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{ArcFace, CentreInputs, Reduction, Tensor};
/// let loss = ArcFace::new(28.6, 64.0)?;
/// let e = [1.0f64, 0.0]; // on class 0's centre
/// let w = [2.0f64, 0.0, 0.0, 1.0];
/// let inputs = CentreInputs::new(Tensor::new(&e, &[1, 2])?, &[0i64], Tensor::new(&w, &[2, 2])?);
/// let (mut ge, mut gw) = ([0.0; 2], [0.0; 4]);
/// let v = loss.value_and_grad(&inputs, Reduction::Mean, &mut ge, &mut gw)?;
/// let m = 28.6f64.to_radians();
/// let want = (1.0 + (-64.0 * m.cos()).exp()).ln(); // ln(1 + e^{64·(0 − cos m)})
/// assert!((v - want).abs() < 1e-12 && ge.iter().all(|g| g.is_finite()));
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// J. Deng, J. Guo, N. Xue, S. Zafeiriou, "ArcFace: Additive Angular Margin Loss for Deep
/// Face Recognition", CVPR 2019. Matches pytorch-metric-learning `ArcFaceLoss` (its `W` is
/// `[D, C]`, the transpose of `weight` here).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArcFace {
    head: Head,
}

impl Default for ArcFace {
    /// pytorch-metric-learning's defaults: `margin = 28.6°`, `scale = 64`.
    fn default() -> Self {
        ArcFace::new(28.6, 64.0).expect("valid defaults")
    }
}

impl ArcFace {
    /// ArcFace with an angular `margin` in degrees and the logit `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is in `[0, 180)` and `scale` is finite and
    /// `> 0`.
    pub fn new(margin: f64, scale: f64) -> Result<Self> {
        let m = Margin::Angle {
            m: margin,
            cos_m: 0.0,
            sin_m: 0.0,
        };
        Ok(ArcFace {
            head: Head::new(ARCFACE, m, scale, 1)?,
        })
    }
}

head_api!(ArcFace);

/// CosFace (Wang et al. 2018), large margin cosine loss, as pytorch-metric-learning's
/// `CosFaceLoss`: a scaled softmax cross-entropy over the cosines between each embedding and
/// every class centre, the target's cosine lowered by `margin`.
///
/// # Definition
/// With $u_i$, $\hat w_j$ and $\cos\theta_{ij}$ as in [`ArcFace`]:
/// $$\ell_i = -\ln\frac{e^{s(\cos\theta_{iy_i} - m)}}{e^{s(\cos\theta_{iy_i} - m)} + \sum_{j\ne y_i} e^{s\cos\theta_{ij}}}$$
/// `mean` averages over the N rows (pytorch-metric-learning's `MeanReducer`), `sum` adds
/// them, `none` gives `[N]`.
///
/// # Gradient
/// $\partial\ell_i/\partial\cos\theta_{ij} = s(p_{ij} - [j = y_i])$, then through the
/// cosine ($\partial\cos\theta/\partial x = (\hat w - \cos\theta\,u)/\lVert x\rVert$, and
/// symmetrically for $w$).
///
/// # Numerical stability
/// The log-sum-exp with the row's largest logit taken out (at `scale = 64` the logits span
/// ±64); sums in f64. A zero row keeps finite gradients (the `F.normalize` floor).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 0.35 | finite |
/// | `scale` | 64.0 | > 0 |
///
/// # Errors
/// As [`ArcFace`].
///
/// # Example
/// ```
/// use losskit::{CentreInputs, CosFace, Reduction, Tensor};
/// let loss = CosFace::default();
/// let e = [1.0f64, 0.0];
/// let w = [1.0f64, 0.0, 0.0, 1.0];
/// let inputs = CentreInputs::new(Tensor::new(&e, &[1, 2])?, &[0i64], Tensor::new(&w, &[2, 2])?);
/// let v = loss.value(&inputs, Reduction::Sum)?;
/// let want = (1.0 + (64.0 * (0.0 - 0.65f64)).exp()).ln(); // target logit 64·(1 − 0.35)
/// assert!((v - want).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// H. Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face Recognition", CVPR
/// 2018. Matches pytorch-metric-learning `CosFaceLoss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosFace {
    head: Head,
}

impl Default for CosFace {
    /// pytorch-metric-learning's defaults: `margin = 0.35`, `scale = 64`.
    fn default() -> Self {
        CosFace::new(0.35, 64.0).expect("valid defaults")
    }
}

impl CosFace {
    /// CosFace with the cosine `margin` and the logit `scale`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite and `scale` is finite and `> 0`.
    pub fn new(margin: f64, scale: f64) -> Result<Self> {
        Ok(CosFace {
            head: Head::new(COSFACE, Margin::Cosine(margin), scale, 1)?,
        })
    }
}

head_api!(CosFace);

/// Sub-center ArcFace (Deng et al. 2020), as pytorch-metric-learning's
/// `SubCenterArcFaceLoss`: [`ArcFace`] where each class has K centres and an embedding is
/// compared with the closest one of each class.
///
/// # Definition
/// `weight` is `[C·K, D]`, class-major (rows `c·K … c·K + K − 1` are class c's sub-centres,
/// pytorch-metric-learning's layout). $\cos\theta_{ic} = \max_k u_i\cdot\hat w_{cK + k}$,
/// then [`ArcFace`]'s loss on those C cosines.
///
/// # Gradient
/// As [`ArcFace`], each class's part going to its arg-max sub-centre (the first on a tie;
/// the max is not differentiated further); the other sub-centres get 0.
///
/// # Numerical stability
/// As [`ArcFace`].
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 28.6 (degrees) | [0, 180) |
/// | `scale` | 64.0 | > 0 |
/// | `sub_centers` | 3 | ≥ 1 |
///
/// # Errors
/// As [`ArcFace`], and `weight` whose rows are not a multiple of `sub_centers`
/// ([`Error::BadShape`]); [`Error::InvalidIntParam`] for `sub_centers < 1`.
///
/// # Example
/// ```
/// use losskit::{ArcFace, CentreInputs, Reduction, SubCenterArcFace, Tensor};
/// let e = [0.6f64, 0.8, 1.0, 0.2];
/// // Two classes, two sub-centres each; the first of each is never the closest.
/// let w = [-1.0f64, 0.0, 0.0, 1.0, 0.0, -1.0, 1.0, 0.0];
/// let sub = SubCenterArcFace::new(28.6, 64.0, 2)?;
/// let inputs = CentreInputs::new(Tensor::new(&e, &[2, 2])?, &[0i64, 1], Tensor::new(&w, &[4, 2])?);
/// let closest = [0.0f64, 1.0, 1.0, 0.0];
/// let plain = CentreInputs::new(Tensor::new(&e, &[2, 2])?, &[0i64, 1], Tensor::new(&closest, &[2, 2])?);
/// let (a, b) = (sub.value(&inputs, Reduction::Mean)?, ArcFace::default().value(&plain, Reduction::Mean)?);
/// assert!((a - b).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// J. Deng et al., "Sub-center ArcFace: Boosting Face Recognition by Large-Scale Noisy Web
/// Faces", ECCV 2020. Matches pytorch-metric-learning `SubCenterArcFaceLoss`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SubCenterArcFace {
    head: Head,
}

impl Default for SubCenterArcFace {
    /// pytorch-metric-learning's defaults: `margin = 28.6°`, `scale = 64`, 3 sub-centres.
    fn default() -> Self {
        SubCenterArcFace::new(28.6, 64.0, 3).expect("valid defaults")
    }
}

impl SubCenterArcFace {
    /// Sub-center ArcFace with an angular `margin` in degrees, the logit `scale` and
    /// `sub_centers` centres per class.
    ///
    /// # Errors
    /// As [`ArcFace::new`]; [`Error::InvalidIntParam`] for `sub_centers < 1`.
    pub fn new(margin: f64, scale: f64, sub_centers: i64) -> Result<Self> {
        let m = Margin::Angle {
            m: margin,
            cos_m: 0.0,
            sin_m: 0.0,
        };
        Ok(SubCenterArcFace {
            head: Head::new(SUBCENTER, m, scale, sub_centers)?,
        })
    }
}

head_api!(SubCenterArcFace);

pub(crate) fn eval_arcface<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = call.params;
    ArcFace::new(p.float("margin"), p.float("scale"))?.evaluate(call, out)
}

pub(crate) fn eval_cosface<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = call.params;
    CosFace::new(p.float("margin"), p.float("scale"))?.evaluate(call, out)
}

pub(crate) fn eval_subcenter_arcface<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let p = call.params;
    SubCenterArcFace::new(p.float("margin"), p.float("scale"), p.int("sub_centers"))?
        .evaluate(call, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    /// ArcFace's loss straight from the definition (acos, then cos(θ + m)), in f64.
    fn naive(x: &[f64], lab: &[i64], w: &[f64], d: usize, m_deg: f64, s: f64) -> Vec<f64> {
        let m = m_deg.to_radians();
        let unit = |v: &[f64]| {
            let n = v.iter().map(|a| a * a).sum::<f64>().sqrt();
            v.iter().map(|a| a / n).collect::<Vec<_>>()
        };
        let ws: Vec<Vec<f64>> = w.chunks(d).map(unit).collect();
        x.chunks(d)
            .zip(lab)
            .map(|(xi, &y)| {
                let u = unit(xi);
                let z: Vec<f64> = ws
                    .iter()
                    .enumerate()
                    .map(|(j, wj)| {
                        let c: f64 = u.iter().zip(wj).map(|(a, b)| a * b).sum();
                        if j as i64 != y {
                            s * c
                        } else {
                            let th = c.clamp(-1.0, 1.0).acos();
                            s * if th <= core::f64::consts::PI - m {
                                (th + m).cos()
                            } else {
                                c - m * m.sin()
                            }
                        }
                    })
                    .collect();
                let mx = z.iter().cloned().fold(f64::MIN, f64::max);
                mx + z.iter().map(|v| (v - mx).exp()).sum::<f64>().ln() - z[y as usize]
            })
            .collect()
    }

    #[test]
    fn arcface_matches_the_acos_form_in_both_branches() {
        // Row 1 sits beyond π − m from its centre: the second branch.
        let x = [0.3, -0.2, 0.9, -1.0, 0.05, 0.0, 0.2, 0.4, -0.7];
        let w = [1.0, 0.1, 0.0, 0.0, 1.0, 0.3, -0.5, 0.2, 1.0, 0.7, 0.7, 0.0];
        let lab = [2i64, 0, 1];
        let t = |v: &'static [f64], r| Tensor::new(v, &[r, 3]).unwrap();
        let x: &'static [f64] = Box::leak(Box::new(x));
        let w: &'static [f64] = Box::leak(Box::new(w));
        let inputs = CentreInputs::new(t(x, 3), &lab[..], t(w, 4));
        for (m, s) in [(28.6, 64.0), (10.0, 2.0), (0.0, 1.0)] {
            let mut out = [0.0; 3];
            ArcFace::new(m, s)
                .unwrap()
                .per_element(&inputs, &mut out)
                .unwrap();
            for (a, b) in out.iter().zip(naive(x, &lab, w, 3, m, s)) {
                assert!((a - b).abs() < 1e-12 * b.abs().max(1.0), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn on_the_centre_and_opposite_it_the_gradients_are_finite() {
        for (x, lab) in [
            ([2.0f32, 0.0, 0.0], 0i64),
            ([-1.0, 0.0, 0.0], 0),
            ([0.0, 3.0, 0.0], 1),
        ] {
            let w = [1.0f32, 0.0, 0.0, 0.0, 1.0, 0.0];
            let lab = [lab];
            let inputs = CentreInputs::new(
                Tensor::new(&x, &[1, 3]).unwrap(),
                &lab[..],
                Tensor::new(&w, &[2, 3]).unwrap(),
            );
            let (mut ge, mut gw) = ([f32::NAN; 3], [f32::NAN; 6]);
            let v = ArcFace::default()
                .value_and_grad(&inputs, Reduction::Mean, &mut ge, &mut gw)
                .unwrap();
            assert!(v.is_finite());
            assert!(ge.iter().chain(&gw).all(|g| g.is_finite()), "{ge:?} {gw:?}");
        }
    }

    #[test]
    fn tiny_angles_keep_their_sine_in_f32() {
        // θ = 1e-4: cos θ rounds to 1 in f32, the tangent keeps sin θ (scale 1, so the
        // target's logit is felt).
        let th = 1e-4f64;
        let x = [th.cos() as f32, th.sin() as f32];
        let w = [1.0f32, 0.0, 0.0, 1.0];
        let inputs = CentreInputs::new(
            Tensor::new(&x, &[1, 2]).unwrap(),
            &[0i64][..],
            Tensor::new(&w, &[2, 2]).unwrap(),
        );
        let v: f32 = ArcFace::new(28.6, 1.0)
            .unwrap()
            .value(&inputs, Reduction::Sum)
            .unwrap();
        let xd = [f64::from(x[0]), f64::from(x[1])];
        let want = naive(&xd, &[0], &[1.0, 0.0, 0.0, 1.0], 2, 28.6, 1.0)[0];
        let at_zero = naive(&[1.0, 0.0], &[0], &[1.0, 0.0, 0.0, 1.0], 2, 28.6, 1.0)[0];
        assert!((at_zero - want).abs() > 1e-5 * want);
        assert!((f64::from(v) - want).abs() < 1e-6 * want, "{v} vs {want}");
    }

    #[test]
    fn blocks_of_rows_add_up() {
        // 300 rows are two blocks: the sum over the batch is the sums over its halves, each
        // row's embedding gradient its own and the centres' gradients added.
        let (n, d, c) = (300usize, 5usize, 7usize);
        let x: Vec<f64> = (0..n * d)
            .map(|i| ((i * 7919) % 1000) as f64 / 500.0 - 1.0)
            .collect();
        let w: Vec<f64> = (0..c * d)
            .map(|i| ((i * 104_729) % 997) as f64 / 498.5 - 1.0)
            .collect();
        let lab: Vec<i64> = (0..n as i64).map(|i| (i * 3) % c as i64).collect();
        let wt = Tensor::new(&w, &[c, d]).unwrap();
        let run = |r: core::ops::Range<usize>| {
            let m = r.len();
            let inputs = CentreInputs::new(
                Tensor::new(&x[r.start * d..r.end * d], &[m, d]).unwrap(),
                &lab[r],
                wt,
            );
            let (mut ge, mut gw) = (vec![0.0; m * d], vec![0.0; c * d]);
            let v = SubCenterArcFace::new(28.6, 8.0, 1)
                .unwrap()
                .value_and_grad(&inputs, Reduction::Sum, &mut ge, &mut gw)
                .unwrap();
            (v, ge, gw)
        };
        let (v, ge, gw) = run(0..n);
        let (v1, ge1, gw1) = run(0..150);
        let (v2, ge2, gw2) = run(150..n);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * a.abs().max(1.0);
        assert!(close(v, v1 + v2), "{v} vs {}", v1 + v2);
        assert!(ge
            .iter()
            .zip(ge1.iter().chain(&ge2))
            .all(|(&a, &b)| close(a, b)));
        assert!(gw
            .iter()
            .zip(gw1.iter().zip(&gw2))
            .all(|(&a, (&b, &c))| close(a, b + c)));
    }

    #[test]
    fn errors_name_the_loss_and_argument() {
        let x = [1.0f64, 0.0, 0.0, 1.0];
        let w = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let e = Tensor::new(&x, &[2, 2]).unwrap();
        let wt = Tensor::new(&w, &[3, 2]).unwrap();
        let bad = CentreInputs::new(e, &[0i64, 3][..], wt);
        assert_eq!(
            ArcFace::default().value(&bad, Reduction::Mean).unwrap_err().to_string(),
            "arcface: `labels` at [1] is 3, expected a class index in [0, C) (C = rows of `weight`)"
        );
        let w4 = [0.5f64; 8];
        let ok = CentreInputs::new(e, &[0i64, 0][..], Tensor::new(&w4, &[4, 2]).unwrap());
        assert_eq!(
            SubCenterArcFace::default().value(&ok, Reduction::Mean).unwrap_err().to_string(),
            "subcenter_arcface: `weight` has shape [4, 2], expected [C·K, D]: `sub_centers` = K rows per class, class-major"
        );
        let wide = Tensor::new(&w, &[2, 3]).unwrap();
        assert!(matches!(
            CosFace::default().value(&CentreInputs::new(e, &[0i64, 0][..], wide), Reduction::Mean),
            Err(Error::ShapeMismatch { arg: "weight", .. })
        ));
        assert!(ArcFace::new(180.0, 64.0).is_err());
        assert!(ArcFace::new(28.6, 0.0).is_err());
        assert!(CosFace::new(f64::NAN, 64.0).is_err());
        assert!(SubCenterArcFace::new(28.6, 64.0, 0).is_err());
    }
}
