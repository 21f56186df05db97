//! The in-batch contrastive losses, a softmax cross-entropy over cosine similarities in
//! which the other rows of the batch are the negatives: [`NtXent`] (SimCLR), [`InfoNce`]
//! (query/key, CLIP when symmetric) and [`SupCon`] (labels decide the positives).
//!
//! All three run on the block engine in `blocks`. When the N×N similarity matrix fits the
//! tile budget ([`crate::tile_budget`], 64 MiB by default, `LOSSKIT_TILE_BUDGET`), it is
//! computed once and the gradient's coefficients replace it in place (the fewest matrix
//! products); beyond the budget the similarities are recomputed tile by tile for the
//! gradient (per-row online log-sum-exp over tiles), so memory stays O(N·D) plus
//! O(threads·256·2048) however large the batch.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::evaluator::{Call, Out};
use crate::real::Real;
use crate::reduction::Reduction;

use super::blocks::{normalize, normalize_backward, tile_budget, Coef, Pair, Pos};
use super::triplet::labeled_dims;
use super::{
    check_buffers, dispatch_all, divisor, rows_dims, same_shape, LabeledInputs, ViewInputs,
};

fn check_temperature(loss: &'static str, t: f64) -> Result<f64> {
    if !(t.is_finite() && t > 0.0) {
        return Err(Error::InvalidParam {
            loss,
            param: "temperature",
            value: t,
            expected: "> 0 and finite",
        });
    }
    Ok(t)
}

/// `(N, D)` of two views of one batch, at least two rows (one row has no negatives).
fn view_dims<T>(
    loss: &'static str,
    names: [&'static str; 2],
    because: &'static str,
    inputs: &ViewInputs<'_, T>,
) -> Result<(usize, usize)> {
    let (n, d) = rows_dims(loss, names[0], &inputs.first)?;
    same_shape(loss, names[1], &inputs.second, inputs.first.dims(), because)?;
    if n == 1 {
        return Err(Error::BadShape {
            loss,
            arg: names[0],
            actual: inputs.first.dims().to_vec(),
            expected: "at least 2 rows `[N, D]`: with N = 1 there are no negatives",
        });
    }
    no_zero_width(loss, names[0], inputs.first.dims(), d)?;
    Ok((n, d))
}

/// Cosine similarities need a direction: a zero-width embedding (`D = 0`) has none, so it is
/// an error rather than an out-of-bounds read or a silent 0.
fn no_zero_width(loss: &'static str, arg: &'static str, dims: &[usize], d: usize) -> Result<()> {
    if d == 0 {
        return Err(Error::BadShape {
            loss,
            arg,
            actual: dims.to_vec(),
            expected: "`[N, D]` with D >= 1: a zero-width embedding has no direction to compare",
        });
    }
    Ok(())
}

/// The per-anchor coefficient `w` of the backward pass, times anchor i's cotangent u_i when
/// there is one (a vector-Jacobian product; u_i = 1 changes no bit).
fn anchor_weights<T: Real>(w: f64, n: usize, u: Option<&[T]>) -> Vec<T> {
    match u {
        None => vec![T::from_f64(w); n],
        Some(u) => u.iter().map(|&ui| T::from_f64(w * ui.to_f64())).collect(),
    }
}

fn to_t<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

/// Writes the per-row losses (`None`: not an anchor, 0) into `per` when it is not empty and
/// returns their f64 sum, in row order.
fn collect<T: Real>(per: &mut [T], losses: impl Iterator<Item = Option<f64>>) -> f64 {
    let mut sum = 0.0;
    for (i, l) in losses.enumerate() {
        let l = l.unwrap_or(0.0);
        sum += l;
        if let Some(o) = per.get_mut(i) {
            *o = T::from_f64(l);
        }
    }
    sum
}

const NT_XENT: &str = "nt_xent";

/// NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR: two augmented views
/// of a batch, each row's positive its other view, every other row a negative.
///
/// # Definition
/// With the $2N$ rows $u_k = z_k / \max(\lVert z_k\rVert, 10^{-12})$ of $[z_1; z_2]$,
/// $s_{ij} = u_i\cdot u_j/\tau$ and $p(i)$ the other view of row $i$,
/// $$\ell_i = -s_{i,p(i)} + \ln \sum_{j \ne i} e^{s_{ij}},\qquad i = 1..2N$$
/// `mean` averages over the $2N$ anchors; `none` gives `[2N]` (`z1`'s rows, then `z2`'s).
///
/// # Gradient
/// $\partial L/\partial s_{ij} = w_i(\mathrm{softmax}_i(s)_j - [j = p(i)])$ from anchor $i$
/// plus the same from anchor $j$ (the similarity is symmetric), then through $u = z/\lVert z\rVert$:
/// $\nabla_z = (\nabla_u - u(u\cdot\nabla_u))/\lVert z\rVert$.
///
/// # Numerical stability and memory
/// Each row's log-sum-exp is taken from its maximum (running maximum, running sum in f64
/// over tiles), so temperatures down to 10⁻³ stay finite in f32. When the `2N × 2N`
/// similarity matrix fits the tile budget ([`tile_budget`](crate::tile_budget): 64 MiB by
/// default, 2N = 4096 rows in f32; `LOSSKIT_TILE_BUDGET` or
/// [`with_tile_budget`](NtXent::with_tile_budget) change it), it is kept: its lower half is
/// one product (the matrix is symmetric), the gradient's coefficients overwrite it, and one
/// more product gives the gradient (one and a half products in all). Beyond the budget rows
/// go in blocks of 256 against tiles of 2048 columns, recomputed for the gradient (three
/// block products per tile pair), and the extra memory is the normalised rows, their
/// gradient and one 256 × 2048 tile per thread. Both ways agree within rounding. A zero row
/// normalises to 0 (finite value and gradient). Block boundaries depend only on the shape,
/// so the bits do not depend on the thread count.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `temperature` | 0.5 | > 0 |
///
/// # Errors
/// `z1` not `[N, D]` or with one row (no negatives) ([`Error::BadShape`]); `z2` of another
/// shape ([`Error::ShapeMismatch`]); `Mean` over an empty batch ([`Error::EmptyMean`]);
/// buffers of the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{NtXent, Reduction, Tensor, ViewInputs};
/// let z1 = [1.0f64, 0.0, 0.0, 1.0];
/// let z2 = [1.0f64, 0.0, 0.0, 1.0];
/// let inputs = ViewInputs::new(Tensor::new(&z1, &[2, 2])?, Tensor::new(&z2, &[2, 2])?);
/// let v = NtXent::new(1.0)?.value(&inputs, Reduction::Mean)?;
/// // every anchor: positive similarity 1, two negatives at 0
/// assert!((v - ((1.0f64.exp() + 2.0).ln() - 1.0)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// T. Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations",
/// ICML 2020. Equals pytorch-metric-learning `NTXentLoss(temperature)` on
/// `cat([z1, z2])` with labels `arange(N)` twice (`MeanReducer` over the 2N pairs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NtXent {
    temperature: f64,
    tile_budget: Option<usize>,
}

impl Default for NtXent {
    /// `temperature = 0.5` (SimCLR's CIFAR-10 setting).
    fn default() -> Self {
        NtXent {
            temperature: 0.5,
            tile_budget: None,
        }
    }
}

impl NtXent {
    /// NT-Xent at `temperature`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `temperature` is finite and > 0.
    pub fn new(temperature: f64) -> Result<Self> {
        Ok(NtXent {
            temperature: check_temperature(NT_XENT, temperature)?,
            tile_budget: None,
        })
    }

    /// The same loss with its own memory budget, in bytes, for keeping the `2N × 2N`
    /// similarity matrix (instead of the global [`tile_budget`](crate::tile_budget)).
    #[must_use]
    pub fn with_tile_budget(self, bytes: usize) -> Self {
        NtXent {
            tile_budget: Some(bytes),
            ..self
        }
    }

    fn dims<T>(inputs: &ViewInputs<'_, T>) -> Result<(usize, usize)> {
        view_dims(NT_XENT, ["z1", "z2"], "the shape of `z1`", inputs)
    }

    fn per_rows(n: usize) -> usize {
        2 * n
    }

    fn run<T: Real>(
        &self,
        inputs: &ViewInputs<'_, T>,
        reduction: Option<Reduction>,
        per: &mut [T],
        grads: Option<(&mut [T], &mut [T])>,
        weights: Option<&[T]>,
    ) -> Result<T> {
        let (n, d) = Self::dims(inputs)?;
        let denom = match reduction {
            Some(r) => divisor(NT_XENT, r, 2 * n, true, "")?,
            None => 1.0,
        };
        let mut z = Vec::with_capacity(2 * n * d);
        z.extend_from_slice(inputs.first.data());
        z.extend_from_slice(inputs.second.data());
        let (u, norms) = normalize(&z, d);
        drop(z);
        let pair = Pair {
            x: &u,
            y: &u,
            d,
            inv_tau: 1.0 / self.temperature,
            exclude_diag: true,
            pos: Pos::Shift(n),
        }
        .sims(self.tile_budget.unwrap_or_else(tile_budget));
        let (lse, possum) = pair.row_stats();
        let sum = collect(per, lse.iter().zip(&possum).map(|(l, p)| Some(l - p)));
        if let Some((g1, g2)) = grads {
            let a = anchor_weights(1.0 / denom, 2 * n, weights);
            let lse_t = to_t::<T>(&lse);
            let coef = Coef {
                row: Some((&lse_t, &a, &a)),
                col: Some((&lse_t, &a, &a)),
            };
            let mut g = vec![T::ZERO; 2 * n * d];
            pair.grad(&coef, &mut g, None);
            normalize_backward(&mut g, &u, &norms, d);
            g1.copy_from_slice(&g[..n * d]);
            g2.copy_from_slice(&g[n * d..]);
        }
        Ok(T::from_f64(sum / denom))
    }
}

const INFO_NCE: &str = "info_nce";

/// InfoNCE with in-batch negatives: row $i$ of `key` is the positive of row $i$ of `query`,
/// the other keys its negatives; CLIP's loss with `symmetric`.
///
/// # Definition
/// With $\hat q_i$, $\hat k_j$ the L2-normalised rows and $s_{ij} = \hat q_i\cdot\hat k_j/\tau$,
/// $$\ell_i = -s_{ii} + \ln\sum_j e^{s_{ij}}$$
/// i.e. `cross_entropy(normalize(q) @ normalize(k).T / τ, arange(N))`. With `symmetric`,
/// $\ell_i = \tfrac12\big[(-s_{ii} + \ln\sum_j e^{s_{ij}}) + (-s_{ii} + \ln\sum_j e^{s_{ji}})\big]$,
/// the mean of the query→key and key→query directions. `none` gives `[N]`.
///
/// # Gradient
/// $\partial L/\partial s_{ij} = w(\mathrm{softmax}_j(s_{i\cdot}) - [i = j])$ (plus the
/// column softmax term when symmetric), through the normalisation as in [`NtXent`].
///
/// # Numerical stability and memory
/// As [`NtXent`]: per-row log-sum-exp from the maximum, finite in f32 down to τ = 10⁻³.
/// Within the tile budget the `N × N` matrix is kept and the loss does the three products
/// of a dense forward and backward (the similarities, then `H k` and `Hᵀ q` from the
/// coefficients written over them); beyond it the tiles are recomputed, and the query and
/// key gradients are two passes (five block products per tile pair, six when symmetric).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `temperature` | 0.07 | > 0 |
/// | `symmetric` | false | |
///
/// # Errors
/// As [`NtXent`], for `query` and `key`.
///
/// # Example
/// ```
/// use losskit::{InfoNce, Reduction, Tensor, ViewInputs};
/// let q = [1.0f32, 0.0, 0.0, 1.0];
/// let k = [2.0f32, 0.0, 0.0, 3.0];
/// let inputs = ViewInputs::new(Tensor::new(&q, &[2, 2])?, Tensor::new(&k, &[2, 2])?);
/// let v = InfoNce::new(1.0, true)?.value(&inputs, Reduction::Mean)?;
/// assert!((v - (1.0f32 + (-1.0f32).exp()).ln()).abs() < 1e-6);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// A. van den Oord et al., "Representation Learning with Contrastive Predictive Coding",
/// 2018; A. Radford et al., "Learning Transferable Visual Models From Natural Language
/// Supervision" (CLIP), 2021. The reference is the formula above in float64 torch autograd.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InfoNce {
    temperature: f64,
    symmetric: bool,
    tile_budget: Option<usize>,
}

impl Default for InfoNce {
    /// `temperature = 0.07` (MoCo, CLIP's initial value), one direction.
    fn default() -> Self {
        InfoNce {
            temperature: 0.07,
            symmetric: false,
            tile_budget: None,
        }
    }
}

impl InfoNce {
    /// InfoNCE at `temperature`, both directions averaged when `symmetric`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `temperature` is finite and > 0.
    pub fn new(temperature: f64, symmetric: bool) -> Result<Self> {
        Ok(InfoNce {
            temperature: check_temperature(INFO_NCE, temperature)?,
            symmetric,
            tile_budget: None,
        })
    }

    /// The same loss with its own memory budget, in bytes, for keeping the `N × N`
    /// similarity matrix (instead of the global [`tile_budget`](crate::tile_budget)).
    #[must_use]
    pub fn with_tile_budget(self, bytes: usize) -> Self {
        InfoNce {
            tile_budget: Some(bytes),
            ..self
        }
    }

    fn dims<T>(inputs: &ViewInputs<'_, T>) -> Result<(usize, usize)> {
        view_dims(INFO_NCE, ["query", "key"], "the shape of `query`", inputs)
    }

    fn per_rows(n: usize) -> usize {
        n
    }

    fn run<T: Real>(
        &self,
        inputs: &ViewInputs<'_, T>,
        reduction: Option<Reduction>,
        per: &mut [T],
        grads: Option<(&mut [T], &mut [T])>,
        weights: Option<&[T]>,
    ) -> Result<T> {
        let (n, d) = Self::dims(inputs)?;
        let denom = match reduction {
            Some(r) => divisor(INFO_NCE, r, n, true, "")?,
            None => 1.0,
        };
        let (q, qn) = normalize(inputs.first.data(), d);
        let (k, kn) = normalize(inputs.second.data(), d);
        let qk = Pair {
            x: &q,
            y: &k,
            d,
            inv_tau: 1.0 / self.temperature,
            exclude_diag: false,
            pos: Pos::Shift(0),
        }
        .sims(self.tile_budget.unwrap_or_else(tile_budget));
        let (lse_q, pos_q) = qk.row_stats();
        let lse_k = if self.symmetric {
            Some(qk.col_lse())
        } else {
            None
        };
        let losses = (0..n).map(|i| {
            let fwd = lse_q[i] - pos_q[i];
            Some(match &lse_k {
                Some(lk) => 0.5 * (fwd + (lk[i] - pos_q[i])),
                None => fwd,
            })
        });
        let sum = collect(per, losses);
        if let Some((gq, gk)) = grads {
            let w = if self.symmetric { 0.5 } else { 1.0 } / denom;
            // Query i's and key i's rows both belong to loss i (symmetric: its halves).
            let a = anchor_weights(w, n, weights);
            let lq = to_t::<T>(&lse_q);
            let lk = lse_k.as_deref().map(to_t::<T>);
            let q_stats = Some((lq.as_slice(), a.as_slice(), a.as_slice()));
            let k_stats = lk.as_deref().map(|l| (l, a.as_slice(), a.as_slice()));
            // Key j's gradient is the same coefficients seen from the key's side.
            qk.grad(
                &Coef {
                    row: q_stats,
                    col: k_stats,
                },
                gq,
                Some(&mut *gk),
            );
            normalize_backward(gq, &q, &qn, d);
            normalize_backward(gk, &k, &kn, d);
        }
        Ok(T::from_f64(sum / denom))
    }
}

const SUPCON: &str = "supcon";

/// Supervised contrastive loss (Khosla et al. 2020, $\mathcal L_{out}$): every other row
/// with the anchor's label is a positive, every other row is in the denominator.
///
/// # Definition
/// With $u_i$ the L2-normalised embeddings, $s_{ij} = u_i\cdot u_j/\tau$ and $P(i)$ the other
/// rows with label $y_i$, for every anchor with $|P(i)| > 0$
/// $$\ell_i = -\frac{1}{|P(i)|}\sum_{p\in P(i)} s_{ip} + \ln\sum_{a\ne i} e^{s_{ia}}$$
/// `mean` averages over those anchors; `none` gives `[N]` with 0 for anchors without a
/// positive.
///
/// # Gradient
/// $\partial L/\partial s_{ij} = w_i(\mathrm{softmax}_i(s)_j - [j\in P(i)]/|P(i)|)$ plus the
/// same from anchor $j$, through the normalisation as in [`NtXent`].
///
/// # Numerical stability and memory
/// As [`NtXent`], with the same tile budget (the labels are compared inside the tiles; no
/// N×N mask is built).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `temperature` | 0.1 | > 0 |
///
/// # Errors
/// `embeddings` not `[N, D]` ([`Error::BadShape`]); `labels` not `[N]`
/// ([`Error::ShapeMismatch`]); `Mean` when no anchor has a positive ([`Error::NoAnchor`];
/// pytorch-metric-learning returns 0) or over an empty batch ([`Error::EmptyMean`]).
///
/// # Example
/// ```
/// use losskit::{LabeledInputs, Reduction, SupCon, Tensor};
/// let e = [1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[3, 2])?, &[0i64, 0, 1]);
/// let v = SupCon::new(1.0)?.value(&inputs, Reduction::Mean)?;
/// // anchors 0 and 1: positive at similarity 1, the other row at 0
/// assert!((v - ((1.0f64.exp() + 1.0).ln() - 1.0)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// P. Khosla et al., "Supervised Contrastive Learning", NeurIPS 2020. Equals
/// pytorch-metric-learning `SupConLoss(temperature)` (whose default reducer also averages
/// over the anchors with a positive). It returns 0 when the batch has no negative at all;
/// this loss still averages the anchors' terms there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupCon {
    temperature: f64,
    tile_budget: Option<usize>,
}

impl Default for SupCon {
    /// `temperature = 0.1` (pytorch-metric-learning's default).
    fn default() -> Self {
        SupCon {
            temperature: 0.1,
            tile_budget: None,
        }
    }
}

impl SupCon {
    /// SupCon at `temperature`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `temperature` is finite and > 0.
    pub fn new(temperature: f64) -> Result<Self> {
        Ok(SupCon {
            temperature: check_temperature(SUPCON, temperature)?,
            tile_budget: None,
        })
    }

    /// The same loss with its own memory budget, in bytes, for keeping the `N × N`
    /// similarity matrix (instead of the global [`tile_budget`](crate::tile_budget)).
    #[must_use]
    pub fn with_tile_budget(self, bytes: usize) -> Self {
        SupCon {
            tile_budget: Some(bytes),
            ..self
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
        let (n, d) = labeled_dims(SUPCON, inputs)?;
        no_zero_width(SUPCON, "embeddings", inputs.embeddings.dims(), d)?;
        let lab = inputs.labels.data();
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for &l in lab {
            *counts.entry(l).or_default() += 1;
        }
        let positives: Vec<usize> = lab.iter().map(|l| counts[l] - 1).collect();
        let anchors = positives.iter().filter(|&&c| c > 0).count();
        let denom = match reduction {
            Some(r) => divisor(
                SUPCON,
                r,
                anchors,
                n == 0,
                "a positive (another row with its label)",
            )?,
            None => 1.0,
        };
        let (u, norms) = normalize(inputs.embeddings.data(), d);
        let pair = Pair {
            x: &u,
            y: &u,
            d,
            inv_tau: 1.0 / self.temperature,
            exclude_diag: true,
            pos: Pos::Labels(lab),
        }
        .sims(self.tile_budget.unwrap_or_else(tile_budget));
        let (lse, possum) = pair.row_stats();
        let losses =
            (0..n).map(|i| (positives[i] > 0).then(|| lse[i] - possum[i] / positives[i] as f64));
        let sum = collect(per, losses);
        if let Some(g) = grad {
            let w = 1.0 / denom;
            // With a cotangent, anchor i's coefficients weigh u_i.
            let wi = |i: usize| weights.map_or(w, |u| w * u[i].to_f64());
            let a: Vec<T> = positives
                .iter()
                .enumerate()
                .map(|(i, &c)| T::from_f64(if c > 0 { wi(i) } else { 0.0 }))
                .collect();
            let b: Vec<T> = positives
                .iter()
                .enumerate()
                .map(|(i, &c)| T::from_f64(if c > 0 { wi(i) / c as f64 } else { 0.0 }))
                .collect();
            let lse_t = to_t::<T>(&lse);
            let coef = Coef {
                row: Some((&lse_t, &a, &b)),
                col: Some((&lse_t, &a, &b)),
            };
            pair.grad(&coef, g, None);
            normalize_backward(g, &u, &norms, d);
        }
        Ok(T::from_f64(sum / denom))
    }
}

views_api!(
    NtXent,
    NT_XENT,
    "z1",
    "z2",
    "The per-anchor losses `[2N]` (`z1`'s rows, then `z2`'s) into `out`."
);
views_api!(
    InfoNce,
    INFO_NCE,
    "query",
    "key",
    "The per-query losses `[N]` into `out`."
);
labeled_api!(
    SupCon,
    SUPCON,
    "The per-anchor losses `[N]` into `out` (0 for an anchor without a positive)."
);

pub(crate) fn eval_nt_xent<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    NtXent::new(call.params.float("temperature"))?.evaluate(call, out)
}

pub(crate) fn eval_info_nce<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    InfoNce::new(
        call.params.float("temperature"),
        call.params.bool("symmetric"),
    )?
    .evaluate(call, out)
}

pub(crate) fn eval_supcon<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    SupCon::new(call.params.float("temperature"))?.evaluate(call, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn tiny_temperatures_stay_finite_in_f32() {
        let mut rng = crate::sample::Rng::new(5);
        let z: Vec<f32> = rng.normals(64 * 8, 1.0).iter().map(|&v| v as f32).collect();
        let (z1, z2) = z.split_at(32 * 8);
        let inputs = ViewInputs::new(
            Tensor::new(z1, &[32, 8]).unwrap(),
            Tensor::new(z2, &[32, 8]).unwrap(),
        );
        let (mut g1, mut g2) = (vec![0.0f32; 256], vec![0.0f32; 256]);
        for t in [1e-3, 1e-2] {
            let v = NtXent::new(t)
                .unwrap()
                .value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2)
                .unwrap();
            assert!(
                v.is_finite() && g1.iter().chain(&g2).all(|g| g.is_finite()),
                "{t}"
            );
            let v = InfoNce::new(t, true)
                .unwrap()
                .value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2)
                .unwrap();
            assert!(
                v.is_finite() && g1.iter().chain(&g2).all(|g| g.is_finite()),
                "{t}"
            );
        }
    }

    /// The value and gradients of the three losses with the similarity matrix kept and
    /// recomputed (budget 0), on batches past the parallel threshold: the two ways agree
    /// within rounding, and each gives the same bits at 1 and 2 threads.
    #[test]
    fn kept_and_recomputed_similarities_agree() {
        fn run<T: Real>(budget: usize, z: &[T], lab: &[i64], n: usize, d: usize) -> Vec<f64> {
            let t1 = Tensor::new(&z[..n * d], &[n, d]).unwrap();
            let t2 = Tensor::new(&z[n * d..], &[n, d]).unwrap();
            let views = ViewInputs::new(t1, t2);
            let (mut g1, mut g2) = (vec![T::ZERO; n * d], vec![T::ZERO; n * d]);
            let mut out = Vec::new();
            let mut push = |v: T, g: &[&[T]]| {
                out.push(v.to_f64());
                out.extend(g.iter().flat_map(|g| g.iter().map(|x| x.to_f64())));
            };
            let l = NtXent::new(0.2).unwrap().with_tile_budget(budget);
            let v = l.value_and_grad(&views, Reduction::Mean, &mut g1, &mut g2);
            push(v.unwrap(), &[&g1, &g2]);
            for sym in [false, true] {
                let l = InfoNce::new(0.07, sym).unwrap().with_tile_budget(budget);
                let v = l.value_and_grad(&views, Reduction::Sum, &mut g1, &mut g2);
                push(v.unwrap(), &[&g1, &g2]);
            }
            let all = Tensor::new(z, &[2 * n, d]).unwrap();
            let mut g = vec![T::ZERO; 2 * n * d];
            let l = SupCon::new(0.1).unwrap().with_tile_budget(budget);
            let v = l.value_and_grad(&LabeledInputs::new(all, lab), Reduction::Mean, &mut g);
            push(v.unwrap(), &[&g]);
            out
        }
        let (n, d) = (320, 24); // 2N = 640 rows, 3 row blocks; 640²·24 > the parallel threshold
        let mut rng = crate::sample::Rng::new(11);
        let z: Vec<f64> = rng.normals(2 * n * d, 1.0);
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let lab: Vec<i64> = (0..2 * n as i64).map(|i| i % 37).collect();
        let pools: Vec<rayon::ThreadPool> = [1, 2]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
            })
            .collect();
        for f32_ in [false, true] {
            let mut ways = Vec::new();
            for budget in [0, usize::MAX] {
                let bits: Vec<Vec<f64>> = pools
                    .iter()
                    .map(|p| {
                        p.install(|| match f32_ {
                            true => run(budget, &z32, &lab, n, d),
                            false => run(budget, &z, &lab, n, d),
                        })
                    })
                    .collect();
                let same = bits[0]
                    .iter()
                    .zip(&bits[1])
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "budget {budget}, f32 {f32_}: 1 and 2 threads differ");
                ways.push(bits.into_iter().next().unwrap());
            }
            let scale = ways[0].iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let tol = if f32_ { 2e-6 } else { 1e-13 } * scale;
            let worst = ways[0]
                .iter()
                .zip(&ways[1])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst <= tol,
                "f32 {f32_}: kept and recomputed differ by {worst:e} (scale {scale:e})"
            );
        }
    }

    #[test]
    fn bad_batches_are_errors() {
        let z = [1.0f32, 2.0];
        let one = Tensor::new(&z, &[1, 2]).unwrap();
        let e = NtXent::default()
            .value(&ViewInputs::new(one, one), Reduction::Mean)
            .unwrap_err();
        assert!(
            e.to_string().contains("with N = 1 there are no negatives"),
            "{e}"
        );
        assert!(InfoNce::default()
            .value(&ViewInputs::new(one, one), Reduction::Sum)
            .is_err());
        assert!(
            NtXent::new(0.0).is_err()
                && InfoNce::new(-1.0, false).is_err()
                && SupCon::new(f64::NAN).is_err()
        );
        let e2 = [1.0f64, 0.0, 0.0, 1.0];
        let t = Tensor::new(&e2, &[2, 2]).unwrap();
        let err = SupCon::default()
            .value(&LabeledInputs::new(t, &[0i64, 1]), Reduction::Mean)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("no anchor in the batch has a positive"),
            "{err}"
        );
        assert_eq!(
            SupCon::default().value(&LabeledInputs::new(t, &[0i64, 1]), Reduction::Sum),
            Ok(0.0)
        );
    }
}
