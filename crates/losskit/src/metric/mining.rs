//! The pair-mining losses of pytorch-metric-learning over every pair of the batch:
//! [`MultiSimilarity`], [`Circle`] and [`LiftedStructure`] (embeddings and labels).
//!
//! They run on the tiles of the block engine (`blocks`): the Gram matrix of the normalised
//! rows is formed [`ROW_BLOCK`] rows × [`COL_TILE`] columns at a time by `matrixmultiply`,
//! each row's statistics (online log-sum-exps over its positives and negatives) are kept
//! in f64 across the tiles in column order, and the gradient recomputes the tiles, turns
//! each into its coefficients `∂L/∂s_ij + ∂L/∂s_ji` and multiplies it back into the rows.
//! The N×N similarity matrix never exists: the extra memory is the normalised rows, a few
//! numbers per row and one tile per thread. Block boundaries depend on the shape only, so
//! the bits do not depend on the thread count.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::eval::Vjp;
use crate::evaluator::{Call, Out};
use crate::numerics::{simd, SimdFn};
use crate::real::Real;
use crate::reduction::Reduction;

use super::blocks::{
    gemm, lane_total, normalize, normalize_backward, row_max, COL_TILE, ROW_BLOCK,
};
use super::triplet::labeled_dims;
use super::{check_buffers, dispatch_all, LabeledInputs};

/// Below this many multiply-adds (`N²·D`) a pass stays on the calling thread.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_WORK: usize = 1 << 22;

/// `mean` is the only reduction of these losses (pytorch-metric-learning's reducer).
pub(crate) fn mean_only(loss: &'static str, reduction: Reduction) -> Result<()> {
    match reduction {
        Reduction::Mean => Ok(()),
        r => Err(Error::UnsupportedReduction {
            loss,
            reduction: r.name().to_owned(),
            supported: vec!["mean"],
        }),
    }
}

/// A finite parameter in `range`, or [`Error::InvalidParam`].
pub(crate) fn check_param(
    loss: &'static str,
    param: &'static str,
    value: f64,
    ok: bool,
    expected: &'static str,
) -> Result<f64> {
    if !(value.is_finite() && ok) {
        return Err(Error::InvalidParam {
            loss,
            param,
            value,
            expected,
        });
    }
    Ok(value)
}

/// `ln(1 + e^x)` to full relative precision in both tails (libm `exp` and `ln_1p`; a few
/// calls per row, so no need for the vectorised forms).
fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `1/(1 + e^−x)`, from `e^−|x|` (no cancellation in either tail).
fn sigmoid(x: f64) -> f64 {
    let e = (-x.abs()).exp();
    if x >= 0.0 {
        1.0 / (1.0 + e)
    } else {
        e / (1.0 + e)
    }
}

/// A running `ln Σ e^x` (maximum and scaled sum, in f64).
#[derive(Clone, Copy, Debug)]
struct Lse {
    m: f64,
    s: f64,
}

impl Lse {
    /// Over no terms (−∞).
    const EMPTY: Lse = Lse {
        m: f64::NEG_INFINITY,
        s: 0.0,
    };
    /// Holding the single term `e^0` (pytorch-metric-learning's `add_one`).
    const ONE: Lse = Lse { m: 0.0, s: 1.0 };

    fn value(self) -> f64 {
        self.m + self.s.ln()
    }

    /// Adds the terms `x` (−∞ for the excluded columns; overwritten with their exponentials).
    #[inline(always)]
    fn add<T: Real>(&mut self, x: &mut [T]) {
        let m = row_max(x);
        if m == -T::INFINITY {
            // Nothing but excluded columns, or NaN (which the maximum skips).
            if x.iter().any(|v| v.is_nan()) {
                self.s = f64::NAN;
            }
            return;
        }
        for v in x.iter_mut() {
            *v = (*v - m).exp_fast();
        }
        let sum = lane_total(x);
        let m = m.to_f64();
        let new = self.m.max(m);
        self.s = self.s * (self.m - new).exp() + sum * (m - new).exp();
        self.m = new;
    }
}

/// The Gram matrix `s_ij = u_i·u_j` of the rows of `u` (`[n, d]`), tile by tile.
struct Gram<'a, T> {
    u: &'a [T],
    n: usize,
    d: usize,
}

impl<T: Real> Gram<'_, T> {
    fn parallel(&self) -> bool {
        #[cfg(feature = "parallel")]
        {
            self.n.saturating_mul(self.n).saturating_mul(self.d) >= PARALLEL_MIN_WORK
                && self.n > ROW_BLOCK
        }
        #[cfg(not(feature = "parallel"))]
        false
    }

    fn tile(&self, r0: usize, rows: usize, c0: usize, cols: usize, tile: &mut [T]) {
        let d = self.d;
        gemm(
            rows,
            d,
            cols,
            T::ONE,
            &self.u[r0 * d..(r0 + rows) * d],
            &self.u[c0 * d..(c0 + cols) * d],
            true,
            T::ZERO,
            &mut tile[..rows * cols],
        );
    }

    /// Per row `i`, `f(i, c0, s, scratch, state_i)` for every tile of its similarities
    /// `s = s_{i, c0..c0+len}` in column order (`s` and `scratch`, as long, may be
    /// overwritten).
    fn rows<S, F>(&self, init: S, f: F) -> Vec<S>
    where
        S: Clone + Send,
        F: Fn(usize, usize, &mut [T], &mut [T], &mut S) + Sync,
    {
        let n = self.n;
        let mut st = vec![init; n];
        let work: Vec<&mut [S]> = st.chunks_mut(ROW_BLOCK).collect();
        for_blocks(work, self.parallel(), |b, out| {
            let (r0, rows) = (b * ROW_BLOCK, out.len());
            let width = COL_TILE.min(n);
            let mut tile = vec![T::ZERO; rows * width];
            let mut scratch = vec![T::ZERO; width];
            let mut c0 = 0;
            while c0 < n {
                let cols = COL_TILE.min(n - c0);
                self.tile(r0, rows, c0, cols, &mut tile);
                simd(SimdFn(
                    #[inline(always)]
                    || {
                        for (k, s) in out.iter_mut().enumerate() {
                            let row = &mut tile[k * cols..(k + 1) * cols];
                            f(r0 + k, c0, row, &mut scratch[..cols], s);
                        }
                    },
                ));
                c0 += cols;
            }
        });
        st
    }

    /// `g = C·u` (overwritten), with each tile of `C` written over the similarities by
    /// `h(i, c0, s)`, which returns a number per row and tile; their f64 sums per row are
    /// returned.
    fn grad<H>(&self, h: H, g: &mut [T]) -> Vec<f64>
    where
        H: Fn(usize, usize, &mut [T]) -> f64 + Sync,
    {
        let (n, d) = (self.n, self.d);
        let mut sums = vec![0.0f64; n];
        let work: Vec<(&mut [T], &mut [f64])> = g
            .chunks_mut(ROW_BLOCK * d)
            .zip(sums.chunks_mut(ROW_BLOCK))
            .collect();
        for_blocks(work, self.parallel(), |b, (g, sums)| {
            let (r0, rows) = (b * ROW_BLOCK, sums.len());
            let mut tile = vec![T::ZERO; rows * COL_TILE.min(n)];
            g.fill(T::ZERO);
            let mut c0 = 0;
            while c0 < n {
                let cols = COL_TILE.min(n - c0);
                self.tile(r0, rows, c0, cols, &mut tile);
                simd(SimdFn(
                    #[inline(always)]
                    || {
                        for (k, sum) in sums.iter_mut().enumerate() {
                            *sum += h(r0 + k, c0, &mut tile[k * cols..(k + 1) * cols]);
                        }
                    },
                ));
                gemm(
                    rows,
                    cols,
                    d,
                    T::ONE,
                    &tile[..rows * cols],
                    &self.u[c0 * d..(c0 + cols) * d],
                    false,
                    T::ONE,
                    g,
                );
                c0 += cols;
            }
        });
        sums
    }
}

/// Runs `f(block, work)` over the blocks, on several threads when asked.
fn for_blocks<W: Send>(work: Vec<W>, parallel: bool, f: impl Fn(usize, W) + Sync) {
    #[cfg(feature = "parallel")]
    if parallel {
        use rayon::prelude::*;
        work.into_par_iter().enumerate().for_each(|(b, w)| f(b, w));
        return;
    }
    let _ = parallel;
    for (b, w) in work.into_iter().enumerate() {
        f(b, w);
    }
}

/// The per-row counts of positives (other rows with the label) and negatives.
fn pair_counts(lab: &[i64]) -> (Vec<usize>, Vec<usize>) {
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for &l in lab {
        *counts.entry(l).or_default() += 1;
    }
    let n = lab.len();
    lab.iter().map(|l| (counts[l] - 1, n - counts[l])).unzip()
}

/// Shape checks of the labelled losses: `(N, D)`, `D ≥ 1`.
fn dims<T>(loss: &'static str, inputs: &LabeledInputs<'_, T>) -> Result<(usize, usize)> {
    let (n, d) = labeled_dims(loss, inputs)?;
    if d == 0 {
        return Err(Error::BadShape {
            loss,
            arg: "embeddings",
            actual: inputs.embeddings.dims().to_vec(),
            expected: "`[N, D]` with D >= 1: a zero-width embedding has no direction to compare",
        });
    }
    Ok((n, d))
}

/// The typed API (`mean` only) and the evaluator of a mining loss over its
/// `run(inputs, Option<grad>)`.
macro_rules! mined_api {
    ($ty:ident, $name:ident) => {
        impl $ty {
            /// The loss, reduced with `mean` (the only reduction it takes).
            ///
            /// # Errors
            /// See the type's docs; [`Error::UnsupportedReduction`] for `Sum`.
            pub fn value<T: Real>(
                &self,
                inputs: &LabeledInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                mean_only($name, reduction)?;
                self.run(inputs, None)
            }

            /// The loss (`mean`) and its gradient with respect to `embeddings` (into `grad`,
            /// as long as `embeddings`).
            ///
            /// # Errors
            /// See the type's docs; [`Error::UnsupportedReduction`] for `Sum`.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &LabeledInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                mean_only($name, reduction)?;
                let n = inputs.embeddings().len();
                check_buffers($name, &[("gradient of `embeddings`", grad.len(), n)])?;
                self.run(inputs, Some(grad))
            }

            fn evaluate<T: Real>(&self, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
                let labels = call.index("labels").ok_or(Error::MissingInput {
                    loss: call.loss,
                    name: "labels",
                })?;
                let inputs = LabeledInputs::new(call.float_req("embeddings")?, labels);
                let (n, d) = labeled_dims($name, &inputs)?;
                let none = || Error::UnsupportedReduction {
                    loss: $name,
                    reduction: "none".to_owned(),
                    supported: vec!["mean"],
                };
                dispatch_all(
                    call,
                    out,
                    &[n],
                    &[("embeddings", n * d)],
                    Vjp::Coupled(&|_, _| Err(none())),
                    |r| self.value(&inputs, r),
                    |r, g| self.value_and_grad(&inputs, r, &mut g[0]),
                    |_| Err(none()),
                )
            }
        }
    };
}

const MULTI_SIMILARITY: &str = "multi_similarity";

/// Multi-similarity loss (Wang et al. 2019) over every pair of the batch: each anchor's
/// positives are pulled above the similarity `base`, its negatives pushed below it, each
/// pair weighted by a softmax over the anchor's pairs.
///
/// # Definition
/// With $u_i$ the L2-normalised embeddings, $s_{ij} = u_i\cdot u_j$, $P(i)$ the other rows
/// with label $y_i$ and $N(i)$ the rows with another label,
/// $$\ell_i = \frac1\alpha\ln\Big(1 + \sum_{p\in P(i)} e^{-\alpha(s_{ip} - \lambda)}\Big) +
///   \frac1\beta\ln\Big(1 + \sum_{n\in N(i)} e^{\beta(s_{in} - \lambda)}\Big)$$
/// ($\lambda$ = `base`), and the loss is the mean over all $N$ anchors (an anchor without
/// positives or negatives contributes 0 for that side), pytorch-metric-learning's
/// `MeanReducer`. `mean` is the only reduction.
///
/// # Gradient
/// $\partial\ell_i/\partial s_{ip} = -e^{-\alpha(s_{ip}-\lambda) - L^+_i}$ and
/// $\partial\ell_i/\partial s_{in} = e^{\beta(s_{in}-\lambda) - L^-_i}$ ($L^\pm_i$ the two
/// logarithms), summed over both anchors of each pair, then through
/// $u = z/\lVert z\rVert$.
///
/// # Numerical stability and memory
/// Both logarithms are log-sum-exps with the largest exponent (at least the 0 of the added
/// one) taken out, kept online across the tiles in f64: with β = 50, $e^{\beta(s-\lambda)}$
/// alone would overflow f32 for an unnormalised similarity and lose every small term
/// beside a large one. The N×N similarity matrix is never stored (see the module docs):
/// memory is O(N·D) plus one 256 × 2048 tile per thread.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `alpha` | 2.0 | > 0 |
/// | `beta` | 50.0 | > 0 |
/// | `base` | 0.5 | any |
///
/// # Errors
/// `embeddings` not `[N, D]` with D ≥ 1 ([`Error::BadShape`]); `labels` not `[N]`
/// ([`Error::ShapeMismatch`]); an empty batch ([`Error::EmptyMean`]); a reduction other
/// than `mean` ([`Error::UnsupportedReduction`]).
///
/// # Example
/// ```
/// use losskit::{LabeledInputs, MultiSimilarity, Reduction, Tensor};
/// let e = [1.0f64, 0.0, 1.0, 0.0];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[2, 2])?, &[0i64, 0]);
/// let v = MultiSimilarity::new(2.0, 50.0, 0.5)?.value(&inputs, Reduction::Mean)?;
/// // each anchor: one positive at similarity 1, no negatives
/// assert!((v - (1.0 + (-1.0f64).exp()).ln() / 2.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// X. Wang et al., "Multi-Similarity Loss with General Pair Weighting for Deep Metric
/// Learning", CVPR 2019. Equals pytorch-metric-learning `MultiSimilarityLoss(alpha, beta,
/// base)` with its defaults (cosine similarity, all pairs, no miner).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MultiSimilarity {
    alpha: f64,
    beta: f64,
    base: f64,
}

impl Default for MultiSimilarity {
    /// `alpha = 2`, `beta = 50`, `base = 0.5` (pytorch-metric-learning's defaults).
    fn default() -> Self {
        MultiSimilarity {
            alpha: 2.0,
            beta: 50.0,
            base: 0.5,
        }
    }
}

impl MultiSimilarity {
    /// The loss with the positive scale `alpha`, the negative scale `beta` and the
    /// similarity threshold `base`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `alpha` and `beta` are finite and > 0 and `base` is
    /// finite.
    pub fn new(alpha: f64, beta: f64, base: f64) -> Result<Self> {
        let l = MULTI_SIMILARITY;
        Ok(MultiSimilarity {
            alpha: check_param(l, "alpha", alpha, alpha > 0.0, "> 0 and finite")?,
            beta: check_param(l, "beta", beta, beta > 0.0, "> 0 and finite")?,
            base: check_param(l, "base", base, true, "finite")?,
        })
    }

    fn run<T: Real>(&self, inputs: &LabeledInputs<'_, T>, grad: Option<&mut [T]>) -> Result<T> {
        let (n, d) = dims(MULTI_SIMILARITY, inputs)?;
        if n == 0 {
            return Err(Error::EmptyMean {
                loss: MULTI_SIMILARITY,
            });
        }
        let lab = inputs.labels.data();
        let (u, norms) = normalize(inputs.embeddings.data(), d);
        let gram = Gram { u: &u, n, d };
        let (a, b, base) = (
            T::from_f64(self.alpha),
            T::from_f64(self.beta),
            T::from_f64(self.base),
        );
        let stats = gram.rows((Lse::ONE, Lse::ONE), |i, c0, s, xp, st| {
            let li = lab[i];
            for (j, ((v, p), &lj)) in s.iter_mut().zip(xp.iter_mut()).zip(&lab[c0..]).enumerate() {
                let same = lj == li;
                *p = if same && c0 + j != i {
                    -a * (*v - base)
                } else {
                    -T::INFINITY
                };
                *v = if same { -T::INFINITY } else { b * (*v - base) };
            }
            st.0.add(xp);
            st.1.add(s);
        });
        let (lp, ln): (Vec<f64>, Vec<f64>) =
            stats.iter().map(|(p, q)| (p.value(), q.value())).unzip();
        let sum: f64 = lp
            .iter()
            .zip(&ln)
            .map(|(p, q)| p / self.alpha + q / self.beta)
            .sum();
        if let Some(g) = grad {
            let w = T::from_f64(1.0 / n as f64);
            let (lp, ln): (Vec<T>, Vec<T>) = lp
                .iter()
                .zip(&ln)
                .map(|(&p, &q)| (T::from_f64(p), T::from_f64(q)))
                .unzip();
            gram.grad(
                |k, c0, s| {
                    let (lk, pk, nk) = (lab[k], lp[k], ln[k]);
                    let cols = s.len();
                    let (lab, lp, ln) =
                        (&lab[c0..c0 + cols], &lp[c0..c0 + cols], &ln[c0..c0 + cols]);
                    for j in 0..cols {
                        let v = s[j];
                        s[j] = if lab[j] != lk {
                            let x = b * (v - base);
                            w * ((x - nk).exp_fast() + (x - ln[j]).exp_fast())
                        } else if c0 + j != k {
                            let x = -a * (v - base);
                            -w * ((x - pk).exp_fast() + (x - lp[j]).exp_fast())
                        } else {
                            T::ZERO
                        };
                    }
                    0.0
                },
                g,
            );
            normalize_backward(g, &u, &norms, d);
        }
        Ok(T::from_f64(sum / n as f64))
    }
}

const CIRCLE: &str = "circle";

/// Circle loss (Sun et al. 2020) over every pair of the batch: a softplus of the
/// log-sum-exps of the re-weighted positive and negative similarities of each anchor.
///
/// # Definition
/// With $s_{ij}$ the cosine similarities, $P(i)$, $N(i)$ the positives and negatives of
/// anchor $i$, $O_p = 1 + m$, $O_n = -m$, $\Delta_p = 1 - m$, $\Delta_n = m$ and the pair
/// weights $a_{ip} = [O_p - s_{ip}]_+$, $a_{in} = [s_{in} - O_n]_+$,
/// $$\ell_i = \mathrm{softplus}\Big(\ln\sum_{p\in P(i)} e^{-\gamma a_{ip}(s_{ip} - \Delta_p)} +
///   \ln\sum_{n\in N(i)} e^{\gamma a_{in}(s_{in} - \Delta_n)}\Big)$$
/// for every anchor with a positive and a negative; the loss is their mean
/// (pytorch-metric-learning's `AvgNonZeroReducer`: the softplus is never 0 at its
/// defaults). `mean` is the only reduction.
///
/// # Gradient
/// The weights $a$ are constants of the gradient (a stop-gradient, as the paper and
/// pytorch-metric-learning): with $\sigma_i = \sigma(L^+_i + L^-_i)$,
/// $\partial\ell_i/\partial s_{ip} = -\gamma a_{ip}\sigma_i\,\mathrm{softmax}^+_i(p)$ and
/// $\partial\ell_i/\partial s_{in} = \gamma a_{in}\sigma_i\,\mathrm{softmax}^-_i(n)$,
/// summed over both anchors of each pair, then through the normalisation.
///
/// # Numerical stability and memory
/// With γ = 80 the exponents reach ±80·(1 + m)², past f32's range: both log-sum-exps take
/// their maximum out and run online across the tiles in f64; the softplus is
/// $\max(x, 0) + \ln(1 + e^{-|x|})$ and the sigmoid is computed from $e^{-|x|}$. No N×N
/// matrix is stored (see the module docs).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `m` | 0.4 | any |
/// | `gamma` | 80.0 | > 0 |
///
/// # Errors
/// As [`MultiSimilarity`]; and `mean` when no anchor has both a positive and a negative
/// ([`Error::NoAnchor`]; pytorch-metric-learning returns 0).
///
/// # Example
/// ```
/// use losskit::{Circle, LabeledInputs, Reduction, Tensor};
/// let e = [1.0f64, 0.0, 0.0, 1.0, 1.0, 0.0];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[3, 2])?, &[0i64, 0, 1]);
/// let v = Circle::new(0.4, 80.0)?.value(&inputs, Reduction::Mean)?;
/// // anchor 0: its positive at cosine 0 (exponent 80·1.4·0.6), its negative at 1
/// // (80·1.4·0.6); anchor 1: the positive at 0 again, the negative at 0 (−80·0.4·0.4);
/// // anchor 2 has no positive. Hard pairs cost about γ times their gap.
/// let want = 0.5 * ((134.4f64.exp() + 1.0).ln() + (54.4f64.exp() + 1.0).ln());
/// assert!((v - want).abs() < 1e-12 * want);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Y. Sun et al., "Circle Loss: A Unified Perspective of Pair Similarity Optimization",
/// CVPR 2020. Equals pytorch-metric-learning `CircleLoss(m, gamma)` (its softplus switches
/// to the identity above 20, a difference below 3·10⁻⁹; this one is exact).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Circle {
    m: f64,
    gamma: f64,
}

impl Default for Circle {
    /// `m = 0.4`, `gamma = 80` (pytorch-metric-learning's defaults, the paper's
    /// fine-grained retrieval setting).
    fn default() -> Self {
        Circle {
            m: 0.4,
            gamma: 80.0,
        }
    }
}

impl Circle {
    /// The loss with relaxation `m` and scale `gamma`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `m` is finite and `gamma` finite and > 0.
    pub fn new(m: f64, gamma: f64) -> Result<Self> {
        Ok(Circle {
            m: check_param(CIRCLE, "m", m, true, "finite")?,
            gamma: check_param(CIRCLE, "gamma", gamma, gamma > 0.0, "> 0 and finite")?,
        })
    }

    fn run<T: Real>(&self, inputs: &LabeledInputs<'_, T>, grad: Option<&mut [T]>) -> Result<T> {
        let (n, d) = dims(CIRCLE, inputs)?;
        let lab = inputs.labels.data();
        let (pos, neg) = pair_counts(lab);
        let anchor: Vec<bool> = pos
            .iter()
            .zip(&neg)
            .map(|(&p, &q)| p > 0 && q > 0)
            .collect();
        let anchors = anchor.iter().filter(|&&a| a).count();
        if anchors == 0 {
            return Err(if n == 0 {
                Error::EmptyMean { loss: CIRCLE }
            } else {
                Error::NoAnchor {
                    loss: CIRCLE,
                    why: "both a positive (another row with its label) and a negative",
                }
            });
        }
        let (u, norms) = normalize(inputs.embeddings.data(), d);
        let gram = Gram { u: &u, n, d };
        let m = self.m;
        let (g_, op, on, dp, dn) = (
            T::from_f64(self.gamma),
            T::from_f64(1.0 + m),
            T::from_f64(-m),
            T::from_f64(1.0 - m),
            T::from_f64(m),
        );
        // relu that keeps a NaN.
        let relu = |v: T| if v < T::ZERO { T::ZERO } else { v };
        let stats = gram.rows((Lse::EMPTY, Lse::EMPTY), |i, c0, s, xp, st| {
            let li = lab[i];
            for (j, ((v, p), &lj)) in s.iter_mut().zip(xp.iter_mut()).zip(&lab[c0..]).enumerate() {
                let same = lj == li;
                let x = *v;
                *p = if same && c0 + j != i {
                    -g_ * relu(op - x) * (x - dp)
                } else {
                    -T::INFINITY
                };
                *v = if same {
                    -T::INFINITY
                } else {
                    g_ * relu(x - on) * (x - dn)
                };
            }
            st.0.add(xp);
            st.1.add(s);
        });
        let lsum: Vec<f64> = stats.iter().map(|(p, q)| p.value() + q.value()).collect();
        let sum: f64 = lsum
            .iter()
            .zip(&anchor)
            .filter(|(_, &a)| a)
            .map(|(&x, _)| softplus(x))
            .sum();
        if let Some(g) = grad {
            let w = 1.0 / anchors as f64;
            // Per row: σ·w and the two log-sum-exps (+∞ off the anchors: no term).
            let mut coef = Vec::with_capacity(n);
            for ((st, &x), &a) in stats.iter().zip(&lsum).zip(&anchor) {
                coef.push(if a {
                    (
                        T::from_f64(w * sigmoid(x)),
                        T::from_f64(st.0.value()),
                        T::from_f64(st.1.value()),
                    )
                } else {
                    (T::ZERO, T::INFINITY, T::INFINITY)
                });
            }
            gram.grad(
                |k, c0, s| {
                    let (lk, (wk, pk, nk)) = (lab[k], coef[k]);
                    let cols = s.len();
                    let (lab, coef) = (&lab[c0..c0 + cols], &coef[c0..c0 + cols]);
                    for j in 0..cols {
                        let v = s[j];
                        let (wj, pj, nj) = coef[j];
                        s[j] = if lab[j] != lk {
                            let a = g_ * relu(v - on);
                            let x = a * (v - dn);
                            a * (wk * (x - nk).exp_fast() + wj * (x - nj).exp_fast())
                        } else if c0 + j != k {
                            let a = g_ * relu(op - v);
                            let x = -a * (v - dp);
                            -a * (wk * (x - pk).exp_fast() + wj * (x - pj).exp_fast())
                        } else {
                            T::ZERO
                        };
                    }
                    0.0
                },
                g,
            );
            normalize_backward(g, &u, &norms, d);
        }
        Ok(T::from_f64(sum / anchors as f64))
    }
}

const LIFTED_STRUCTURE: &str = "lifted_structure";

/// `ln(e^a + e^b)` (−∞ for two −∞).
fn log_add_exp(a: f64, b: f64) -> f64 {
    let m = a.max(b);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// `max(x, 0)`, keeping a NaN.
#[inline(always)]
fn relu_nan(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// `‖u_i − u_j‖` from the differences (no cancellation for close rows), accumulated in f64.
fn row_distance<T: Real>(u: &[T], d: usize, i: usize, j: usize) -> f64 {
    let (a, b) = (&u[i * d..(i + 1) * d], &u[j * d..(j + 1) * d]);
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let v = (x - y).to_f64();
            v * v
        })
        .sum::<f64>()
        .sqrt()
}

/// The lifted structured loss (Oh Song et al. 2016), pytorch-metric-learning's form: every
/// positive pair against a soft maximum over the negatives of both its ends.
///
/// # Definition
/// With $u_i$ the L2-normalised embeddings, $d_{ij} = \lVert u_i - u_j\rVert$ and, for every
/// ordered positive pair $(a, p)$ (same label, $a \ne p$),
/// $$J_{ap} = \ln\Big(\sum_{n\in N(a)} e^{m_- - d_{an}} + \sum_{n\in N(p)} e^{m_- - d_{pn}}\Big) +
///   d_{ap} - m_+,\qquad \ell_{ap} = \tfrac12\,[J_{ap}]_+^2$$
/// ($m_+$ = `pos_margin`, $m_-$ = `neg_margin`); the loss is the mean over the ordered
/// positive pairs (pytorch-metric-learning's `MeanReducer`; the ½ is its "each pair is
/// counted twice"). A pair whose ends have no negative has $J = -\infty$ and costs 0.
/// `mean` is the only reduction.
///
/// # Gradient
/// $\partial\ell_{ap}/\partial d_{ap} = [J_{ap}]_+$ and
/// $\partial\ell_{ap}/\partial d_{an} = -[J_{ap}]_+\,e^{m_- - d_{an} - \mathrm{LSE}_{ap}}$,
/// then $\partial d_{ij}/\partial u_i = (u_i - u_j)/d_{ij}$ (0 at $d_{ij} = 0$, as torch's
/// `cdist`) and through the normalisation.
///
/// # Numerical stability and memory
/// Each row's negatives enter through its own log-sum-exp $L_i$ (maximum taken out, online
/// across the tiles in f64), and a pair's is $\mathrm{logaddexp}(L_a, L_p)$, so no
/// exponential overflows whatever `neg_margin`; the negatives' gradient weights are
/// $e^{m_- - d_{an} - L_a}\cdot e^{L_a - \mathrm{LSE}_{ap}}$, both at most 1. Negative
/// distances come from the tiles as $\sqrt{\max(\lVert u_i\rVert^2 + \lVert u_j\rVert^2 -
/// 2u_i\cdot u_j, 0)}$ (torch's `cdist` for more than 25 rows); positive distances, which
/// training drives to 0 where that form cancels, from the differences. No N×N matrix is
/// stored (see the module docs); pytorch-metric-learning builds a
/// (positive pairs × negative pairs) mask, O(N⁴) memory.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `pos_margin` | 0.0 | any |
/// | `neg_margin` | 1.0 | any |
///
/// # Errors
/// As [`MultiSimilarity`]; and `mean` when no row has a positive ([`Error::NoAnchor`];
/// pytorch-metric-learning returns 0).
///
/// # Example
/// ```
/// use losskit::{LabeledInputs, LiftedStructure, Reduction, Tensor};
/// let e = [1.0f64, 0.0, 1.0, 0.0, 0.0, 1.0];
/// let inputs = LabeledInputs::new(Tensor::new(&e, &[3, 2])?, &[0i64, 0, 1]);
/// let v = LiftedStructure::new(0.0, 1.0)?.value(&inputs, Reduction::Mean)?;
/// // the pair (0, 1) at distance 0; both ends have the negative at distance √2
/// let j = (2.0 * (1.0 - 2.0f64.sqrt()).exp()).ln();
/// assert!((v - 0.5 * j.max(0.0).powi(2)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// H. Oh Song et al., "Deep Metric Learning via Lifted Structured Feature Embedding", CVPR
/// 2016. Equals pytorch-metric-learning `LiftedStructureLoss(neg_margin, pos_margin)` with
/// its default distance (Euclidean, embeddings normalised).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiftedStructure {
    pos_margin: f64,
    neg_margin: f64,
}

impl Default for LiftedStructure {
    /// `pos_margin = 0`, `neg_margin = 1` (pytorch-metric-learning's defaults).
    fn default() -> Self {
        LiftedStructure {
            pos_margin: 0.0,
            neg_margin: 1.0,
        }
    }
}

impl LiftedStructure {
    /// The loss with margins `pos_margin` and `neg_margin`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless both are finite.
    pub fn new(pos_margin: f64, neg_margin: f64) -> Result<Self> {
        let l = LIFTED_STRUCTURE;
        Ok(LiftedStructure {
            pos_margin: check_param(l, "pos_margin", pos_margin, true, "finite")?,
            neg_margin: check_param(l, "neg_margin", neg_margin, true, "finite")?,
        })
    }

    fn run<T: Real>(&self, inputs: &LabeledInputs<'_, T>, grad: Option<&mut [T]>) -> Result<T> {
        let (n, d) = dims(LIFTED_STRUCTURE, inputs)?;
        let lab = inputs.labels.data();
        let pairs: usize = pair_counts(lab).0.iter().sum();
        if pairs == 0 {
            return Err(if n == 0 {
                Error::EmptyMean {
                    loss: LIFTED_STRUCTURE,
                }
            } else {
                Error::NoAnchor {
                    loss: LIFTED_STRUCTURE,
                    why: "a positive (another row with its label)",
                }
            });
        }
        let (u, norms) = normalize(inputs.embeddings.data(), d);
        let q: Vec<T> = u
            .chunks_exact(d)
            .map(|r| T::from_f64(r.iter().map(|&v| v.to_f64() * v.to_f64()).sum()))
            .collect();
        let gram = Gram { u: &u, n, d };
        let (pm, nm) = (self.pos_margin, self.neg_margin);
        let nm_t = T::from_f64(nm);
        let two = T::from_f64(2.0);
        let dist = |qi: T, qj: T, s: T| {
            let v = qi + qj - two * s;
            // `max(v, 0)` keeping a NaN.
            (if v < T::ZERO { T::ZERO } else { v }).sqrt()
        };
        // Pass 1: each row's log-sum-exp over its negatives of `neg_margin − d`.
        let l: Vec<f64> = gram
            .rows(Lse::EMPTY, |i, c0, s, _, st| {
                let (li, qi) = (lab[i], q[i]);
                for ((v, &lj), &qj) in s.iter_mut().zip(&lab[c0..]).zip(&q[c0..]) {
                    *v = if lj == li {
                        -T::INFINITY
                    } else {
                        nm_t - dist(qi, qj, *v)
                    };
                }
                st.add(s);
            })
            .into_iter()
            .map(Lse::value)
            .collect();
        // `[J]₊` of the positive pair (i, j).
        let hinge = |i: usize, j: usize| -> (f64, f64) {
            let lse = log_add_exp(l[i], l[j]);
            (relu_nan(lse + row_distance(&u, d, i, j) - pm), lse)
        };
        // Pass 2 (positives only): per row, Σ ½[J]₊² and c_i = Σ [J]₊·e^{L_i − LSE}.
        let mut members: HashMap<i64, Vec<usize>> = HashMap::new();
        for (i, &li) in lab.iter().enumerate() {
            members.entry(li).or_default().push(i);
        }
        let mut per = vec![(0.0f64, 0.0f64); n];
        for (i, st) in per.iter_mut().enumerate() {
            for &j in members[&lab[i]].iter().filter(|&&j| j != i) {
                let (r, lse) = hinge(i, j);
                st.0 += 0.5 * r * r;
                if r != 0.0 {
                    st.1 += r * (l[i] - lse).exp();
                }
            }
        }
        let sum: f64 = per.iter().map(|p| p.0).sum();
        if let Some(g) = grad {
            let w = 1.0 / pairs as f64;
            let lt: Vec<T> = l.iter().map(|&v| T::from_f64(v)).collect();
            let c: Vec<T> = per.iter().map(|p| T::from_f64(-2.0 * w * p.1)).collect();
            let sums = gram.grad(
                |k, c0, s| {
                    let (lk, qk, ck, ltk) = (lab[k], q[k], c[k], lt[k]);
                    let mut total = 0.0;
                    for (j, v) in s.iter_mut().enumerate() {
                        let jj = c0 + j;
                        let coef = if lab[jj] != lk {
                            let dd = dist(qk, q[jj], *v);
                            let x = nm_t - dd;
                            let h = ck * (x - ltk).exp_fast() + c[jj] * (x - lt[jj]).exp_fast();
                            if dd == T::ZERO {
                                T::ZERO
                            } else {
                                h / dd
                            }
                        } else if jj != k {
                            let dd = row_distance(&u, d, k, jj);
                            let r = hinge(k, jj).0;
                            if dd == 0.0 {
                                T::ZERO
                            } else {
                                T::from_f64(2.0 * w * r / dd)
                            }
                        } else {
                            T::ZERO
                        };
                        *v = -coef;
                        total += coef.to_f64();
                    }
                    total
                },
                g,
            );
            for ((gr, ur), &t) in g.chunks_exact_mut(d).zip(u.chunks_exact(d)).zip(&sums) {
                let t = T::from_f64(t);
                for (g, &u) in gr.iter_mut().zip(ur) {
                    *g += u * t;
                }
            }
            normalize_backward(g, &u, &norms, d);
        }
        Ok(T::from_f64(sum / pairs as f64))
    }
}

mined_api!(MultiSimilarity, MULTI_SIMILARITY);
mined_api!(Circle, CIRCLE);
mined_api!(LiftedStructure, LIFTED_STRUCTURE);

pub(crate) fn eval_multi_similarity<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    MultiSimilarity::new(
        call.params.float("alpha"),
        call.params.float("beta"),
        call.params.float("base"),
    )?
    .evaluate(call, out)
}

pub(crate) fn eval_lifted_structure<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    LiftedStructure::new(
        call.params.float("pos_margin"),
        call.params.float("neg_margin"),
    )?
    .evaluate(call, out)
}

pub(crate) fn eval_circle<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    Circle::new(call.params.float("m"), call.params.float("gamma"))?.evaluate(call, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn sample(n: usize, d: usize, classes: i64, seed: u64) -> (Vec<f64>, Vec<i64>) {
        let mut rng = crate::sample::Rng::new(seed);
        let x = rng.normals(n * d, 1.0);
        let y = (0..n as i64).map(|i| (i * 7 + 3) % classes).collect();
        (x, y)
    }

    /// The cosine similarity matrix, dense, in f64.
    fn cosines(x: &[f64], d: usize) -> Vec<Vec<f64>> {
        let (u, _) = normalize(x, d);
        let n = x.len() / d;
        (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| (0..d).map(|k| u[i * d + k] * u[j * d + k]).sum())
                    .collect()
            })
            .collect()
    }

    fn lse(v: impl Iterator<Item = f64>) -> f64 {
        let v: Vec<f64> = v.collect();
        let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if m == f64::NEG_INFINITY {
            return m;
        }
        m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
    }

    /// Multi-similarity, dense, across several column tiles and row blocks.
    #[test]
    fn multi_similarity_matches_a_dense_evaluation_across_tiles() {
        let (n, d) = (COL_TILE + 37, 3);
        let (x, y) = sample(n, d, 40, 11);
        let s = cosines(&x, d);
        let (a, b, base) = (2.0, 50.0, 0.5);
        let mut want = 0.0;
        for i in 0..n {
            let p = lse((0..n)
                .filter(|&j| j != i && y[j] == y[i])
                .map(|j| -a * (s[i][j] - base))
                .chain([0.0]));
            let q = lse((0..n)
                .filter(|&j| y[j] != y[i])
                .map(|j| b * (s[i][j] - base))
                .chain([0.0]));
            want += p / a + q / b;
        }
        want /= n as f64;
        let inputs = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), y.as_slice());
        let got = MultiSimilarity::default()
            .value(&inputs, Reduction::Mean)
            .unwrap();
        assert!((got - want).abs() < 1e-12 * want.abs(), "{got} {want}");
    }

    /// Circle's gradient is the derivative of the loss with the pair weights frozen at the
    /// point (the paper's and pytorch-metric-learning's stop-gradient): checked against
    /// central differences of that frozen loss, in f64.
    #[test]
    fn circle_gradient_is_the_frozen_weight_derivative() {
        let (n, d) = (9, 4);
        let (x, y) = sample(n, d, 3, 5);
        let (m, gamma) = (0.4, 8.0);
        let s0 = cosines(&x, d);
        let frozen = |x: &[f64]| -> f64 {
            let s = cosines(x, d);
            let mut sum = 0.0;
            let mut count = 0;
            for i in 0..n {
                let pos: Vec<usize> = (0..n).filter(|&j| j != i && y[j] == y[i]).collect();
                let neg: Vec<usize> = (0..n).filter(|&j| y[j] != y[i]).collect();
                if pos.is_empty() || neg.is_empty() {
                    continue;
                }
                let lp = lse(pos
                    .iter()
                    .map(|&j| -gamma * (1.0 + m - s0[i][j]).max(0.0) * (s[i][j] - 1.0 + m)));
                let ln = lse(neg
                    .iter()
                    .map(|&j| gamma * (s0[i][j] + m).max(0.0) * (s[i][j] - m)));
                sum += softplus(lp + ln);
                count += 1;
            }
            sum / count as f64
        };
        let inputs = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), y.as_slice());
        let mut g = vec![0.0; n * d];
        let v = Circle::new(m, gamma)
            .unwrap()
            .value_and_grad(&inputs, Reduction::Mean, &mut g)
            .unwrap();
        assert!((v - frozen(&x)).abs() < 1e-12);
        let h = 1e-6;
        for k in 0..n * d {
            let (mut up, mut dn) = (x.clone(), x.clone());
            up[k] += h;
            dn[k] -= h;
            let num = (frozen(&up) - frozen(&dn)) / (2.0 * h);
            assert!(
                (num - g[k]).abs() < 1e-6 * (1.0 + num.abs()),
                "{k}: {num} {}",
                g[k]
            );
        }
    }

    /// Exponents far past f32's range (β·2 = 100 for multi-similarity at base −1; γ = 256
    /// for circle) stay finite in f32 and agree with f64.
    #[test]
    fn large_similarities_stay_finite_in_f32() {
        let (n, d) = (24, 6);
        let (x, y) = sample(n, d, 2, 9);
        // Rows of each class near one direction, the classes near each other too.
        let x: Vec<f64> = x
            .iter()
            .enumerate()
            .map(|(k, v)| 5.0 + (k % d) as f64 + 0.01 * v + 0.02 * y[k / d] as f64)
            .collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let i64_ = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), y.as_slice());
        let i32_ = LabeledInputs::new(Tensor::new(&x32, &[n, d]).unwrap(), y.as_slice());
        let (mut g64, mut g32) = (vec![0.0f64; n * d], vec![0.0f32; n * d]);
        let ms = MultiSimilarity::new(2.0, 50.0, -1.0).unwrap();
        let circle = Circle::new(0.25, 256.0).unwrap();
        let pairs: [(f64, f32); 2] = [
            (
                ms.value_and_grad(&i64_, Reduction::Mean, &mut g64).unwrap(),
                ms.value_and_grad(&i32_, Reduction::Mean, &mut g32).unwrap(),
            ),
            (
                circle
                    .value_and_grad(&i64_, Reduction::Mean, &mut g64)
                    .unwrap(),
                circle
                    .value_and_grad(&i32_, Reduction::Mean, &mut g32)
                    .unwrap(),
            ),
        ];
        for (v64, v32) in pairs {
            assert!(v64.is_finite() && v32.is_finite(), "{v64} {v32}");
            assert!((f64::from(v32) - v64).abs() < 1e-3 * v64, "{v64} {v32}");
        }
        assert!(g32.iter().all(|g| g.is_finite()));
    }

    /// Lifted structure, dense, across several column tiles and row blocks.
    #[test]
    fn lifted_structure_matches_a_dense_evaluation_across_tiles() {
        let (n, d) = (COL_TILE + 37, 3);
        let (x, y) = sample(n, d, 40, 12);
        let s = cosines(&x, d);
        let dist = |i: usize, j: usize| (2.0 - 2.0 * s[i][j]).max(0.0).sqrt();
        let l: Vec<f64> = (0..n)
            .map(|i| lse((0..n).filter(|&j| y[j] != y[i]).map(|j| 1.0 - dist(i, j))))
            .collect();
        let (mut want, mut pairs) = (0.0, 0);
        for i in 0..n {
            for j in (0..n).filter(|&j| j != i && y[j] == y[i]) {
                let jv = log_add_exp(l[i], l[j]) + dist(i, j);
                want += 0.5 * jv.max(0.0).powi(2);
                pairs += 1;
            }
        }
        want /= f64::from(pairs);
        let inputs = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), y.as_slice());
        let got = LiftedStructure::default()
            .value(&inputs, Reduction::Mean)
            .unwrap();
        assert!((got - want).abs() < 1e-9 * want.abs(), "{got} {want}");
    }

    /// Positives a hair apart (where ‖a‖² + ‖b‖² − 2a·b cancels in f32): the f32 gradient
    /// agrees with f64; a batch of one label (no negatives) costs 0 with a zero gradient.
    #[test]
    fn lifted_structure_close_positives_and_one_label() {
        let (n, d) = (8, 5);
        let (x, y) = sample(n, d, 2, 4);
        let mut x = x;
        for i in 2..n {
            if y[i] == y[0] {
                for k in 0..d {
                    x[i * d + k] = x[k] * (1.0 + 1e-3 * (i * k) as f64) + 2e-3 * (k as f64 - 2.0);
                }
            }
        }
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let (mut g64, mut g32) = (vec![0.0f64; n * d], vec![0.0f32; n * d]);
        let loss = LiftedStructure::default();
        let a = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), y.as_slice());
        let b = LabeledInputs::new(Tensor::new(&x32, &[n, d]).unwrap(), y.as_slice());
        loss.value_and_grad(&a, Reduction::Mean, &mut g64).unwrap();
        loss.value_and_grad(&b, Reduction::Mean, &mut g32).unwrap();
        let scale = g64.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for (k, (&g, &h)) in g64.iter().zip(&g32).enumerate() {
            assert!((g - f64::from(h)).abs() < 1e-3 * scale, "{k}: {g} {h}");
        }
        let one = vec![7i64; n];
        let c = LabeledInputs::new(Tensor::new(&x, &[n, d]).unwrap(), one.as_slice());
        assert_eq!(loss.value_and_grad(&c, Reduction::Mean, &mut g64), Ok(0.0));
        assert!(g64.iter().all(|&g| g == 0.0));
    }

    #[test]
    fn only_mean_and_bad_batches_are_errors() {
        let x = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let t = Tensor::new(&x, &[3, 2]).unwrap();
        let inputs = LabeledInputs::new(t, &[0i64, 0, 1]);
        let e = MultiSimilarity::default()
            .value(&inputs, Reduction::Sum)
            .unwrap_err()
            .to_string();
        assert!(e.contains("multi_similarity") && e.contains("`sum`"), "{e}");
        let e = Circle::default()
            .value(&LabeledInputs::new(t, &[0i64, 1, 2]), Reduction::Mean)
            .unwrap_err()
            .to_string();
        assert!(e.contains("circle") && e.contains("both a positive"), "{e}");
        assert!(MultiSimilarity::new(2.0, 0.0, 0.5).is_err() && Circle::new(0.4, -1.0).is_err());
        let empty = LabeledInputs::new(Tensor::new(&x[..0], &[0, 2]).unwrap(), &[] as &[i64]);
        assert!(matches!(
            MultiSimilarity::default().value(&empty, Reduction::Mean),
            Err(Error::EmptyMean { .. })
        ));
    }
}
