//! Triplet losses: [`TripletMargin`] on given (anchor, positive, negative) rows, and
//! [`BatchHardTriplet`], which mines the hardest positive and negative of every anchor in the
//! batch from its labels.

use crate::error::{Error, Result};
use crate::eval::{Kept, Vjp};
use crate::evaluator::{Call, Out};
use crate::numerics::{hinge, logistic, Partial};
use crate::real::Real;
use crate::reduction::Reduction;

use super::{
    check_buffers, dispatch_all, divisor, fold_rows, rows_dims, same_shape, LabeledInputs,
    TripletInputs,
};

/// `‖v‖_p` of `v_k = a_k − b_k + eps`, in f64.
#[inline]
fn p_dist<T: Real>(a: &[T], b: &[T], eps: f64, p: f64) -> f64 {
    let v = |(&x, &y): (&T, &T)| (x - y).to_f64() + eps;
    if p == 2.0 {
        a.iter().zip(b).map(|e| v(e) * v(e)).sum::<f64>().sqrt()
    } else if p == 1.0 {
        a.iter().zip(b).map(|e| v(e).abs()).sum()
    } else {
        a.iter()
            .zip(b)
            .map(|e| v(e).abs().powf(p))
            .sum::<f64>()
            .powf(1.0 / p)
    }
}

/// `g_k += c · ∂‖v‖_p/∂v_k` with `v_k = a_k − b_k + eps`: `c·sign(v)|v|^(p−1)/‖v‖^(p−1)`, 0
/// where the norm (or, for p < 1, the component) is 0.
#[inline]
fn add_p_grad<T: Real>(g: &mut [T], a: &[T], b: &[T], eps: f64, p: f64, dist: f64, c: f64) {
    if dist == 0.0 || c == 0.0 {
        return;
    }
    let v = |x: T, y: T| (x - y).to_f64() + eps;
    if p == 2.0 {
        let c = c / dist;
        for ((g, &x), &y) in g.iter_mut().zip(a).zip(b) {
            *g += T::from_f64(c * v(x, y));
        }
    } else if p == 1.0 {
        for ((g, &x), &y) in g.iter_mut().zip(a).zip(b) {
            let e = v(x, y);
            let s = if e > 0.0 {
                1.0
            } else if e < 0.0 {
                -1.0
            } else {
                0.0
            };
            *g += T::from_f64(c * s);
        }
    } else {
        let c = c / dist.powf(p - 1.0);
        for ((g, &x), &y) in g.iter_mut().zip(a).zip(b) {
            let e = v(x, y);
            if e != 0.0 {
                *g += T::from_f64(c * e.signum() * e.abs().powf(p - 1.0));
            }
        }
    }
}

const TRIPLET: &str = "triplet_margin";

/// Triplet margin loss (PyTorch `triplet_margin_loss`): the anchor closer to the positive
/// than to the negative by at least `margin`.
///
/// # Definition
/// $$\ell_i = \max\big(0,\ m + d(a_i, p_i) - d(a_i, n_i)\big),\qquad d(x, y) = \lVert x - y + \epsilon \rVert_p$$
/// (PyTorch's `pairwise_distance`: ε is added to every component of the difference). With
/// `swap`, $d(a_i, n_i)$ is replaced by $\min(d(a_i, n_i), d(p_i, n_i))$ (Balntas et al.
/// 2016).
///
/// # Gradient
/// Where $\ell_i > 0$: $\nabla_{a} = \nabla d(a,p) - \nabla d(a,n)$, $\nabla_p = -\nabla d(a,p)$,
/// $\nabla_n = \nabla d(a,n)$ with $\partial \lVert v\rVert_p / \partial v_k =
/// \mathrm{sign}(v_k)|v_k|^{p-1}/\lVert v\rVert_p^{p-1}$ (the swap distance routes its part to
/// `positive` and `negative`); 0 elsewhere, the kink included.
///
/// # Numerical stability
/// A zero distance (possible with `eps = 0`) has the subgradient 0, never NaN. Norms
/// accumulate in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 1.0 | finite |
/// | `p` | 2.0 | > 0 |
/// | `eps` | 1e-6 | ≥ 0 |
/// | `swap` | false | |
///
/// # Errors
/// `anchor` not `[N, D]` ([`Error::BadShape`]); `positive` or `negative` of another shape
/// ([`Error::ShapeMismatch`]); `Mean` over no rows ([`Error::EmptyMean`]); buffers of the
/// wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{Reduction, Tensor, TripletInputs, TripletMargin};
/// let loss = TripletMargin::new(1.0, 2.0, 0.0, false)?;
/// let (a, p, n) = ([0.0f64, 0.0], [1.0f64, 0.0], [0.0f64, 1.5]);
/// let inputs = TripletInputs::new(Tensor::new(&a, &[1, 2])?, Tensor::new(&p, &[1, 2])?, Tensor::new(&n, &[1, 2])?);
/// assert_eq!(loss.value(&inputs, Reduction::Mean)?, 0.5); // 1 + 1 − 1.5
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.functional.triplet_margin_loss`; F. Schroff et al., "FaceNet", CVPR
/// 2015; V. Balntas et al., "Learning local feature descriptors with triplets and shallow
/// convolutional neural networks", BMVC 2016 (`swap`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TripletMargin {
    margin: f64,
    p: f64,
    eps: f64,
    swap: bool,
}

impl Default for TripletMargin {
    /// PyTorch's defaults: `margin = 1`, `p = 2`, `eps = 1e-6`, no swap.
    fn default() -> Self {
        TripletMargin {
            margin: 1.0,
            p: 2.0,
            eps: 1e-6,
            swap: false,
        }
    }
}

impl TripletMargin {
    /// The triplet loss with margin `margin`, norm `p`, `eps` added to the differences and
    /// the distance swap `swap`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a non-finite margin, `p ≤ 0` or `eps < 0` (or non-finite).
    pub fn new(margin: f64, p: f64, eps: f64, swap: bool) -> Result<Self> {
        let bad = |param, value, expected| Error::InvalidParam {
            loss: TRIPLET,
            param,
            value,
            expected,
        };
        if !margin.is_finite() {
            return Err(bad("margin", margin, "finite"));
        }
        if !(p.is_finite() && p > 0.0) {
            return Err(bad("p", p, "> 0 and finite"));
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(bad("eps", eps, ">= 0 and finite"));
        }
        Ok(TripletMargin {
            margin,
            p,
            eps,
            swap,
        })
    }

    fn dims<T: Real>(&self, inputs: &TripletInputs<'_, T>) -> Result<(usize, usize)> {
        let nd = rows_dims(TRIPLET, "anchor", &inputs.anchor)?;
        let dims = inputs.anchor.dims();
        same_shape(
            TRIPLET,
            "positive",
            &inputs.positive,
            dims,
            "the shape of `anchor`",
        )?;
        same_shape(
            TRIPLET,
            "negative",
            &inputs.negative,
            dims,
            "the shape of `anchor`",
        )?;
        Ok(nd)
    }

    fn run<T: Real>(
        &self,
        inputs: &TripletInputs<'_, T>,
        reduction: Option<Reduction>,
        per: &mut [T],
        grads: [&mut [T]; 3],
    ) -> Result<T> {
        let (n, d) = self.dims(inputs)?;
        let denom = match reduction {
            Some(r) => divisor(TRIPLET, r, n, true, "")?,
            None => 1.0,
        };
        let [ga, gp, gn] = grads;
        let want = !ga.is_empty();
        let (a, p, ng) = (
            inputs.anchor.data(),
            inputs.positive.data(),
            inputs.negative.data(),
        );
        let (eps, pw, m, scale) = (self.eps, self.p, self.margin, 1.0 / denom);
        let part = fold_rows(
            n,
            d,
            vec![(per, 1), (ga, d), (gp, d), (gn, d)],
            |rows, b| {
                let r0 = rows.start;
                let mut sum = 0.0;
                for i in rows {
                    let rows = i * d..(i + 1) * d;
                    let (ai, pi, ni) = (&a[rows.clone()], &p[rows.clone()], &ng[rows]);
                    let d_ap = p_dist(ai, pi, eps, pw);
                    let d_an = p_dist(ai, ni, eps, pw);
                    // The negative distance and how it splits over (a, n) and (p, n).
                    let (d_neg, w_an, w_pn, d_pn) = if self.swap {
                        let d_pn = p_dist(pi, ni, eps, pw);
                        if d_an < d_pn {
                            (d_an, 1.0, 0.0, d_pn)
                        } else if d_pn < d_an {
                            (d_pn, 0.0, 1.0, d_pn)
                        } else {
                            (d_an, 0.5, 0.5, d_pn)
                        }
                    } else {
                        (d_an, 1.0, 0.0, 0.0)
                    };
                    let z = m + d_ap - d_neg;
                    let (loss, dz) = hinge(z);
                    sum += loss;
                    let k = i - r0;
                    if let Some(o) = b[0].get_mut(k) {
                        *o = T::from_f64(loss);
                    }
                    if want {
                        let c = dz * scale;
                        let rows = k * d..(k + 1) * d;
                        let (b0, rest) = b.split_at_mut(2);
                        let (b2, b3) = rest.split_at_mut(1);
                        let (g_a, g_p, g_n) = (
                            &mut b0[1][rows.clone()],
                            &mut b2[0][rows.clone()],
                            &mut b3[0][rows],
                        );
                        for g in [&mut *g_a, &mut *g_p, &mut *g_n] {
                            g.fill(T::ZERO);
                        }
                        add_p_grad(g_a, ai, pi, eps, pw, d_ap, c);
                        add_p_grad(g_p, ai, pi, eps, pw, d_ap, -c);
                        add_p_grad(g_a, ai, ni, eps, pw, d_an, -c * w_an);
                        add_p_grad(g_n, ai, ni, eps, pw, d_an, c * w_an);
                        add_p_grad(g_p, pi, ni, eps, pw, d_pn, -c * w_pn);
                        add_p_grad(g_n, pi, ni, eps, pw, d_pn, c * w_pn);
                    }
                }
                Partial { sum, ok: true }
            },
        );
        Ok(T::from_f64(part.sum / denom))
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &TripletInputs<'_, T>, reduction: Reduction) -> Result<T> {
        self.run(
            inputs,
            Some(reduction),
            &mut [],
            [&mut [], &mut [], &mut []],
        )
    }

    /// The loss reduced with `reduction` and its gradients with respect to `anchor`,
    /// `positive` and `negative` (each buffer as long as `anchor`; the reduction's scale
    /// included), in one pass.
    ///
    /// # Errors
    /// See the type's docs. On error the buffers hold unspecified values.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &TripletInputs<'_, T>,
        reduction: Reduction,
        grad_anchor: &mut [T],
        grad_positive: &mut [T],
        grad_negative: &mut [T],
    ) -> Result<T> {
        let n = inputs.anchor.len();
        check_buffers(
            TRIPLET,
            &[
                ("gradient of `anchor`", grad_anchor.len(), n),
                ("gradient of `positive`", grad_positive.len(), n),
                ("gradient of `negative`", grad_negative.len(), n),
            ],
        )?;
        self.run(
            inputs,
            Some(reduction),
            &mut [],
            [grad_anchor, grad_positive, grad_negative],
        )
    }

    /// The per-triplet losses `[N]` into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &TripletInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let (n, _) = self.dims(inputs)?;
        check_buffers(TRIPLET, &[("per-element output", out.len(), n)])?;
        self.run(inputs, None, out, [&mut [], &mut [], &mut []])
            .map(|_| ())
    }
}

pub(crate) fn eval_triplet_margin<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let pr = call.params;
    let loss = TripletMargin::new(
        pr.float("margin"),
        pr.float("p"),
        pr.float("eps"),
        pr.bool("swap"),
    )?;
    let inputs = TripletInputs::new(
        call.float_req("anchor")?,
        call.float_req("positive")?,
        call.float_req("negative")?,
    );
    let (n, d) = loss.dims(&inputs)?;
    dispatch_all(
        call,
        out,
        &[n],
        &[("anchor", n * d), ("positive", n * d), ("negative", n * d)],
        Vjp::Separable(Kept::ROWS), // one loss per triplet of rows
        |r| loss.value(&inputs, r),
        |r, g| {
            let [ga, gp, gn] = g else {
                unreachable!("three predictions")
            };
            loss.value_and_grad(&inputs, r, ga, gp, gn)
        },
        |o| loss.per_element(&inputs, o),
    )
}

const BATCH_HARD: &str = "batch_hard_triplet";
/// Why `mean` of [`BatchHardTriplet`] can be undefined.
const NO_TRIPLET: &str =
    "both a positive (another row with its label) and a negative (a row with another label)";

/// Checks an embeddings/labels pair: `(N, D)`.
pub(crate) fn labeled_dims<T>(
    loss: &'static str,
    inputs: &LabeledInputs<'_, T>,
) -> Result<(usize, usize)> {
    let (n, d) = rows_dims(loss, "embeddings", &inputs.embeddings)?;
    same_shape(
        loss,
        "labels",
        &inputs.labels,
        &[n],
        "one label per row of `embeddings`",
    )?;
    Ok((n, d))
}

/// Batch-hard triplet loss (Hermans, Beyer and Leibe 2017): every anchor against its
/// hardest positive and hardest negative in the batch.
///
/// # Definition
/// For every anchor $i$ with at least one positive (same label, $j \ne i$) and one negative,
/// $d^+_i = \max_{\text{pos } j} \lVert x_i - x_j \rVert_2$,
/// $d^-_i = \min_{\text{neg } k} \lVert x_i - x_k \rVert_2$ and
/// $$\ell_i = \max(0,\ m + d^+_i - d^-_i)\quad\text{or, with `soft`,}\quad \ell_i = \ln\big(1 + e^{d^+_i - d^-_i}\big)$$
/// `mean` averages over those anchors; `none` gives `[N]` with 0 for the others.
///
/// # Gradient
/// Through the chosen pairs only (mining is not differentiated, as in
/// pytorch-metric-learning): $\partial\ell/\partial d^+ = \mathbb{1}(z > 0)$ (soft: $\sigma(d^+ - d^-)$),
/// $\partial\ell/\partial d^- = -\partial\ell/\partial d^+$, and
/// $\nabla_{x_i}\lVert x_i - x_j\rVert = (x_i - x_j)/\lVert x_i - x_j\rVert$, 0 at distance 0.
/// The first index wins a tie in the mining.
///
/// # Numerical stability
/// Distances are the exact differences (no $\lVert a\rVert^2 + \lVert b\rVert^2 - 2a\cdot b$
/// cancellation), accumulated in f64; duplicate rows have the subgradient 0. Time
/// $O(N^2 D)$, extra memory $O(N)$.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `margin` | 0.3 | ≥ 0 (unused when `soft`) |
/// | `soft` | false | |
///
/// # Errors
/// `embeddings` not `[N, D]` ([`Error::BadShape`]); `labels` not `[N]`
/// ([`Error::ShapeMismatch`]); `Mean` when no anchor has both a positive and a negative
/// ([`Error::NoAnchor`]; pytorch-metric-learning returns 0 there) or over an empty batch
/// ([`Error::EmptyMean`]); buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{BatchHardTriplet, LabeledInputs, Reduction, Tensor};
/// let e = [0.0f64, 0.0, 1.0, 0.0, 0.0, 0.5];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[3, 2])?, &[7i64, 7, 8]);
/// let loss = BatchHardTriplet::new(0.3, false)?;
/// // anchors 0 and 1 (row 2 has no positive): 0.3 + 1 − 0.5 and 0.3 + 1 − √1.25
/// let v = loss.value(&inputs, Reduction::Mean)?;
/// assert!((v - (0.8 + 1.3 - 1.25f64.sqrt()) / 2.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// A. Hermans, L. Beyer, B. Leibe, "In Defense of the Triplet Loss for Person
/// Re-Identification", 2017. Equals pytorch-metric-learning
/// `TripletMarginLoss(distance=LpDistance(normalize_embeddings=False), reducer=MeanReducer())`
/// on the triplets of `BatchHardMiner(distance=LpDistance(normalize_embeddings=False))`;
/// `soft` equals its `smooth_loss=True` with `margin=0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchHardTriplet {
    margin: f64,
    soft: bool,
}

impl Default for BatchHardTriplet {
    /// `margin = 0.3` (Hermans et al.'s hard-margin setting), hard margin.
    fn default() -> Self {
        BatchHardTriplet {
            margin: 0.3,
            soft: false,
        }
    }
}

/// One anchor's mined triplet.
#[derive(Clone, Copy)]
struct Mined {
    pos: usize,
    neg: usize,
    d_ap: f64,
    d_an: f64,
}

impl BatchHardTriplet {
    /// The batch-hard loss with `margin` (ignored when `soft`).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `margin` is finite and ≥ 0.
    pub fn new(margin: f64, soft: bool) -> Result<Self> {
        if !(margin.is_finite() && margin >= 0.0) {
            return Err(Error::InvalidParam {
                loss: BATCH_HARD,
                param: "margin",
                value: margin,
                expected: ">= 0 and finite",
            });
        }
        Ok(BatchHardTriplet { margin, soft })
    }

    /// Every anchor's hardest positive and negative (`None`: it lacks one).
    fn mine<T: Real>(&self, x: &[T], lab: &[i64], n: usize, d: usize) -> Vec<Option<Mined>> {
        let mut mined: Vec<Option<Mined>> = vec![None; n];
        let work = |i: usize| -> Option<Mined> {
            let xi = &x[i * d..(i + 1) * d];
            let (mut pos, mut neg) = (None::<(usize, f64)>, None::<(usize, f64)>);
            for j in (0..n).filter(|&j| j != i) {
                let xj = &x[j * d..(j + 1) * d];
                let sq: f64 = xi
                    .iter()
                    .zip(xj)
                    .map(|(&a, &b)| {
                        let e = (a - b).to_f64();
                        e * e
                    })
                    .sum();
                if lab[j] == lab[i] {
                    if pos.map_or(true, |(_, s)| sq > s) {
                        pos = Some((j, sq));
                    }
                } else if neg.map_or(true, |(_, s)| sq < s) {
                    neg = Some((j, sq));
                }
            }
            match (pos, neg) {
                (Some((p, sp)), Some((q, sn))) => Some(Mined {
                    pos: p,
                    neg: q,
                    d_ap: sp.sqrt(),
                    d_an: sn.sqrt(),
                }),
                _ => None,
            }
        };
        #[cfg(feature = "parallel")]
        if n.saturating_mul(n).saturating_mul(d) >= 1 << 20 {
            use rayon::prelude::*;
            mined
                .par_iter_mut()
                .enumerate()
                .for_each(|(i, m)| *m = work(i));
            return mined;
        }
        for (i, m) in mined.iter_mut().enumerate() {
            *m = work(i);
        }
        mined
    }

    /// `(ℓ, ∂ℓ/∂d⁺)` of one triplet.
    fn term(&self, t: &Mined) -> (f64, f64) {
        if self.soft {
            let b = logistic(t.d_ap - t.d_an);
            (-b.log_q, b.p)
        } else {
            let z = self.margin + t.d_ap - t.d_an;
            hinge(z)
        }
    }

    fn run<T: Real>(
        &self,
        inputs: &LabeledInputs<'_, T>,
        reduction: Option<Reduction>,
        per: &mut [T],
        grad: Option<&mut [T]>,
        weights: Option<&[T]>,
    ) -> Result<T> {
        let grad = grad.unwrap_or_default();
        let (n, d) = labeled_dims(BATCH_HARD, inputs)?;
        let (x, lab) = (inputs.embeddings.data(), inputs.labels.data());
        let mined = self.mine(x, lab, n, d);
        let count = mined.iter().flatten().count();
        let denom = match reduction {
            Some(r) => divisor(BATCH_HARD, r, count, n == 0, NO_TRIPLET)?,
            None => 1.0,
        };
        let scale = 1.0 / denom;
        grad.fill(T::ZERO);
        let mut sum = 0.0;
        for (i, m) in mined.iter().enumerate() {
            let Some(t) = m else {
                if let Some(o) = per.get_mut(i) {
                    *o = T::ZERO;
                }
                continue;
            };
            let (loss, dl) = self.term(t);
            sum += loss;
            if let Some(o) = per.get_mut(i) {
                *o = T::from_f64(loss);
            }
            if !grad.is_empty() && dl != 0.0 {
                // With a cotangent, anchor i's term (which moves rows i, pos, neg) weighs u_i.
                let c = match weights {
                    None => dl * scale,
                    Some(u) => dl * (scale * u[i].to_f64()),
                };
                let xi = &x[i * d..(i + 1) * d];
                for (j, dist, c) in [(t.pos, t.d_ap, c), (t.neg, t.d_an, -c)] {
                    if dist == 0.0 {
                        continue;
                    }
                    let xj = &x[j * d..(j + 1) * d];
                    let k = c / dist;
                    for kk in 0..d {
                        let v = T::from_f64(k * (xi[kk] - xj[kk]).to_f64());
                        grad[i * d + kk] += v;
                        grad[j * d + kk] -= v;
                    }
                }
            }
        }
        Ok(T::from_f64(sum / denom))
    }
}

labeled_api!(
    BatchHardTriplet,
    BATCH_HARD,
    "The per-anchor losses `[N]` into `out` (0 for an anchor without a positive or a negative)."
);

pub(crate) fn eval_batch_hard_triplet<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    BatchHardTriplet::new(call.params.float("margin"), call.params.bool("soft"))?
        .evaluate(call, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn zero_distances_have_zero_subgradients() {
        let z = [0.0f32; 6];
        let t = Tensor::new(&z, &[3, 2]).unwrap();
        let loss = TripletMargin::new(1.0, 2.0, 0.0, true).unwrap();
        let mut g = [[9.0f32; 6]; 3];
        let [a, b, c] = &mut g;
        let v = loss
            .value_and_grad(&TripletInputs::new(t, t, t), Reduction::Mean, a, b, c)
            .unwrap();
        assert_eq!(v, 1.0);
        assert!(g.iter().flatten().all(|&x| x == 0.0));
        let bh = BatchHardTriplet::default();
        let mut g = [9.0f32; 6];
        let v = bh
            .value_and_grad(
                &LabeledInputs::new(t, &[0i64, 0, 1]),
                Reduction::Mean,
                &mut g,
            )
            .unwrap();
        assert!((v - 0.3).abs() < 1e-7);
        assert_eq!(g, [0.0; 6]);
    }

    #[test]
    fn no_valid_anchor_is_an_error_with_mean_only() {
        let e = [0.0f64, 1.0, 2.0];
        let t = Tensor::new(&e, &[3, 1]).unwrap();
        let bh = BatchHardTriplet::default();
        let err = bh
            .value(&LabeledInputs::new(t, &[0i64, 1, 2]), Reduction::Mean)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no anchor in the batch has both a positive"),
            "{err}"
        );
        assert_eq!(
            bh.value(&LabeledInputs::new(t, &[5i64, 5, 5]), Reduction::Sum),
            Ok(0.0)
        );
        let err = bh
            .value(&LabeledInputs::new(t, &[0i64, 1]), Reduction::Sum)
            .unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch { arg: "labels", .. }));
        assert!(TripletMargin::new(1.0, 0.0, 1e-6, false).is_err());
        assert!(TripletMargin::new(1.0, -2.0, 1e-6, false).is_err());
    }
}
