//! Connectionist temporal classification: [`Ctc`], PyTorch's `ctc_loss` semantics, the
//! forward-backward algorithm in log space.

use crate::error::{check_buffer, Error, Result};
use crate::evaluator::{Call, Out};
use crate::math::{exp_f64, ln_f64};
use crate::numerics::{simd, SimdFn};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

const NAME: &str = "ctc";

/// The inputs of [`Ctc`]: `log_probs` `[T, N, C]` (per-frame log-probabilities over C classes,
/// the blank included: a `log_softmax` output), `targets` (the label sequences, padded
/// `[N, S]` or concatenated `[Σ target_lengths]`), `input_lengths` `[N]` (frames used per
/// sample, each ≤ T) and `target_lengths` `[N]` (labels per sample).
///
/// ```
/// use losskit::{CtcInputs, Tensor};
/// let log_probs = [(0.5f32).ln(); 2 * 1 * 2]; // T = 2, N = 1, C = 2
/// let targets = [1i64];
/// let inputs = CtcInputs::new(Tensor::new(&log_probs, &[2, 1, 2])?, Tensor::new(&targets, &[1, 1])?, &[2i64][..], &[1i64][..]);
/// assert_eq!(inputs.log_probs().dims(), &[2, 1, 2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct CtcInputs<'a, T> {
    log_probs: Tensor<'a, T>,
    targets: Tensor<'a, i64>,
    input_lengths: Tensor<'a, i64>,
    target_lengths: Tensor<'a, i64>,
}

impl<T> Clone for CtcInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for CtcInputs<'_, T> {}

impl<'a, T> CtcInputs<'a, T> {
    /// The four inputs (shapes and values are checked by the loss).
    pub fn new(
        log_probs: impl Into<Tensor<'a, T>>,
        targets: impl Into<Tensor<'a, i64>>,
        input_lengths: impl Into<Tensor<'a, i64>>,
        target_lengths: impl Into<Tensor<'a, i64>>,
    ) -> Self {
        CtcInputs {
            log_probs: log_probs.into(),
            targets: targets.into(),
            input_lengths: input_lengths.into(),
            target_lengths: target_lengths.into(),
        }
    }
    /// The log-probabilities `[T, N, C]`.
    pub fn log_probs(&self) -> Tensor<'a, T> {
        self.log_probs
    }
    /// The targets, `[N, S]` or `[Σ target_lengths]`.
    pub fn targets(&self) -> Tensor<'a, i64> {
        self.targets
    }
    /// The input lengths `[N]`.
    pub fn input_lengths(&self) -> Tensor<'a, i64> {
        self.input_lengths
    }
    /// The target lengths `[N]`.
    pub fn target_lengths(&self) -> Tensor<'a, i64> {
        self.target_lengths
    }
}

/// Connectionist temporal classification loss (Graves et al. 2006), with PyTorch
/// `ctc_loss`'s inputs, defaults and reductions: the negative log-probability of each target
/// sequence summed over every alignment of it to the input frames.
///
/// # Definition
/// For sample $n$ with frames $t < T_n$ and target $l$ of length $L$, the extended target
/// $l'$ inserts the blank between labels and at both ends ($|l'| = 2L + 1$). An alignment
/// $\pi$ (one class per frame) maps to $l$ by merging repeats and dropping blanks
/// ($\mathcal{B}$):
/// $$\ell_n = -\log \sum_{\pi \in \mathcal{B}^{-1}(l)} \prod_{t < T_n} y_t(\pi_t), \qquad
/// \log y_t(c) = \texttt{log\_probs}[t, n, c].$$
/// `Mean` is $\frac1N\sum_n \ell_n / \max(L_n, 1)$ (PyTorch's), `Sum` is $\sum_n \ell_n$, and
/// `per_element` gives $\ell_n$. An infeasible target (fewer frames than labels plus repeated
/// neighbours) has $\ell_n = +\infty$; with `zero_infinity` it is 0 with a zero gradient.
///
/// # Gradient
/// The gradient is the true derivative with respect to `log_probs`:
/// $\partial \ell_n / \partial \log y_t(c) = -\gamma_t(c)$, minus the posterior probability
/// that frame $t$ emits $c$ (the occupancy, from the forward and backward variables), and 0
/// for frames $t \ge T_n$ and for classes absent from the extended target. **PyTorch's CPU
/// and CUDA kernels return $y_t(c) - \gamma_t(c)$ instead**: the gradient with respect to the
/// logits under the assumption that `log_probs` came from a `log_softmax`. Propagated through
/// that `log_softmax`, both give the same gradient on the logits (the $y_t$ term is what the
/// `log_softmax` backward adds), so a model trained through `log_softmax` sees the same
/// numbers; the reference tests compare through it. An infeasible sample has a zero gradient
/// (PyTorch gives NaN there when `zero_infinity` is false): its loss is $+\infty$ whatever the
/// inputs.
///
/// # Numerical stability
/// The forward variables $\alpha_t(s)$ and the backward variables $\beta_t(s)$ are kept as
/// logarithms; each step is a log-sum-exp of two or three terms with their maximum taken out,
/// so no product of probabilities underflows however long the input (the plain recursion
/// underflows after a few hundred frames). Only states that can still lie on a complete
/// path are visited (the band $2L + 1 - 2(T_n - t) \le s < 2t + 2$). Memory is O(T·S) per
/// sample (the stored $\alpha$), reused across samples; the batch runs on one thread, in
/// order, so the result does not depend on the thread count. Sums accumulate in f64.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `blank` | 0 | a class index in [0, C) |
/// | `zero_infinity` | false | – |
///
/// # Errors
/// `log_probs` not `[T, N, C]` or `targets` neither `[N, S]` nor 1-D ([`Error::BadShape`]);
/// lengths not `[N]`, padded targets with another N, or concatenated targets whose length is
/// not Σ `target_lengths` ([`Error::ShapeMismatch`]); an input length outside [0, T], a target
/// length outside [0, S] (padded) or negative, a label outside [0, C) or equal to `blank`
/// ([`Error::InvalidValue`], naming the position); `blank` ≥ C or negative
/// ([`Error::InvalidParam`]); `Mean` over N = 0 ([`Error::EmptyMean`]).
///
/// # Example
/// ```
/// use losskit::{Ctc, CtcInputs, Reduction, Tensor};
/// // T = 2 frames, N = 1, C = 2 (blank 0, label 1), every class at probability ½.
/// let log_probs = [(0.5f64).ln(); 4];
/// let inputs = CtcInputs::new(Tensor::new(&log_probs, &[2, 1, 2])?, Tensor::new(&[1i64], &[1, 1])?, &[2i64][..], &[1i64][..]);
/// let mut g = [0.0; 4];
/// let v = Ctc::default().value_and_grad(&inputs, Reduction::Sum, &mut g)?;
/// // Three alignments give "1": (1, 1), (0, 1), (1, 0), each of probability ¼.
/// assert!((v - (4.0f64 / 3.0).ln()).abs() < 1e-15);
/// // Frame 0 emits the blank in one alignment of three, the label in two: −γ.
/// assert!((g[0] + 1.0 / 3.0).abs() < 1e-15 && (g[1] + 2.0 / 3.0).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// A. Graves, S. Fernández, F. Gomez, J. Schmidhuber, "Connectionist Temporal Classification:
/// Labelling Unsegmented Sequence Data with Recurrent Neural Networks", ICML 2006. Numbers:
/// PyTorch `torch.nn.functional.ctc_loss` (values; gradients through `log_softmax`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ctc {
    blank: usize,
    zero_infinity: bool,
}

impl Ctc {
    /// CTC with the blank class `blank`; `zero_infinity` turns the infinite loss of an
    /// infeasible target into 0.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] for a negative `blank` (one at or above C is an error of the
    /// call, when C is known).
    pub fn new(blank: i64, zero_infinity: bool) -> Result<Self> {
        let Ok(blank) = usize::try_from(blank) else {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "blank",
                value: blank as f64,
                expected: ">= 0 (a class index)",
            });
        };
        Ok(Ctc {
            blank,
            zero_infinity,
        })
    }

    /// The blank class.
    pub fn blank(&self) -> usize {
        self.blank
    }

    /// Whether an infinite loss becomes 0.
    pub fn zero_infinity(&self) -> bool {
        self.zero_infinity
    }

    /// The loss reduced with `reduction`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &CtcInputs<'_, T>, reduction: Reduction) -> Result<T> {
        let lay = self.layout(inputs)?;
        self.run(inputs, &lay, Weights::Reduce(reduction), &mut [], &mut [])
    }

    /// The loss reduced with `reduction` and its gradient with respect to `log_probs` (into
    /// `grad`, as long as `log_probs`; the reduction's scale included), in one pass.
    ///
    /// # Errors
    /// See the type's docs. On error `grad` holds unspecified values.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &CtcInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        let lay = self.layout(inputs)?;
        check_buffer(
            NAME,
            "gradient of `log_probs`",
            grad.len(),
            inputs.log_probs.len(),
        )?;
        self.run(inputs, &lay, Weights::Reduce(reduction), &mut [], grad)
    }

    /// The per-sample losses `[N]` into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &CtcInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let lay = self.layout(inputs)?;
        check_buffer(NAME, "per-element output", out.len(), lay.n)?;
        self.run(inputs, &lay, Weights::Each(None), out, &mut [])
            .map(|_| ())
    }

    /// The gradient of `Σ_n u_n ℓ_n` (the vector-Jacobian product of `per_element`; `None`:
    /// all ones) into `grad`.
    fn vjp<T: Real>(
        &self,
        inputs: &CtcInputs<'_, T>,
        u: Option<&[T]>,
        grad: &mut [T],
    ) -> Result<()> {
        let lay = self.layout(inputs)?;
        check_buffer(
            NAME,
            "gradient of `log_probs`",
            grad.len(),
            inputs.log_probs.len(),
        )?;
        self.run(inputs, &lay, Weights::Each(u), &mut [], grad)
            .map(|_| ())
    }

    /// Every check of the inputs against each other and the parameters.
    fn layout<T>(&self, inputs: &CtcInputs<'_, T>) -> Result<Layout> {
        let [t, n, c] = *inputs.log_probs.dims() else {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "log_probs",
                actual: inputs.log_probs.dims().to_vec(),
                expected: "3 dimensions `[T, N, C]` (frames, batch, classes with the blank)",
            });
        };
        if self.blank >= c {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "blank",
                value: self.blank as f64,
                expected: "a class index below C, the last dimension of `log_probs`",
            });
        }
        for (arg, len) in [
            ("input_lengths", &inputs.input_lengths),
            ("target_lengths", &inputs.target_lengths),
        ] {
            if len.dims() != [n] {
                return Err(Error::ShapeMismatch {
                    loss: NAME,
                    arg,
                    actual: len.dims().to_vec(),
                    expected: vec![n],
                    because: "one length per sample (N, the second dimension of `log_probs`)",
                });
            }
        }
        let bad = |arg, index: Vec<usize>, value: i64, expected| Error::InvalidValue {
            loss: NAME,
            arg,
            index,
            value: value as f64,
            expected,
        };
        let mut frames = Vec::with_capacity(n);
        for (i, &v) in inputs.input_lengths.data().iter().enumerate() {
            match usize::try_from(v) {
                Ok(f) if f <= t => frames.push(f),
                _ => {
                    return Err(bad(
                        "input_lengths",
                        vec![i],
                        v,
                        "a length in [0, T], T the first dimension of `log_probs`",
                    ))
                }
            }
        }
        let padded = match *inputs.targets.dims() {
            [rows, s] if rows == n => Some(s),
            [_, s] => {
                return Err(Error::ShapeMismatch {
                    loss: NAME,
                    arg: "targets",
                    actual: inputs.targets.dims().to_vec(),
                    expected: vec![n, s],
                    because: "one padded target row per sample",
                })
            }
            [_] => None,
            _ => {
                return Err(Error::BadShape {
                    loss: NAME,
                    arg: "targets",
                    actual: inputs.targets.dims().to_vec(),
                    expected: "`[N, S]` (padded) or `[Σ target_lengths]` (concatenated)",
                })
            }
        };
        let mut samples = Vec::with_capacity(n);
        let mut offset = 0usize;
        for (i, &v) in inputs.target_lengths.data().iter().enumerate() {
            let len = match (usize::try_from(v), padded) {
                (Ok(l), Some(s)) if l <= s => l,
                (Ok(_), Some(_)) | (Err(_), Some(_)) => {
                    return Err(bad(
                        "target_lengths",
                        vec![i],
                        v,
                        "a length in [0, S], S the second dimension of the padded `targets`",
                    ))
                }
                (Ok(l), None) => l,
                (Err(_), None) => return Err(bad("target_lengths", vec![i], v, "a length >= 0")),
            };
            let start = match padded {
                Some(s) => i * s,
                None => offset,
            };
            offset += len;
            samples.push(SampleLayout {
                start,
                len,
                frames: frames[i],
            });
        }
        let data = inputs.targets.data();
        if padded.is_none() && offset != data.len() {
            return Err(Error::ShapeMismatch {
                loss: NAME,
                arg: "targets",
                actual: inputs.targets.dims().to_vec(),
                expected: vec![offset],
                because: "concatenated targets hold exactly Σ target_lengths labels",
            });
        }
        for (i, sm) in samples.iter().enumerate() {
            for (j, &l) in data[sm.start..sm.start + sm.len].iter().enumerate() {
                if !(l >= 0 && (l as usize) < c && l as usize != self.blank) {
                    let index = match padded {
                        Some(_) => vec![i, j],
                        None => vec![sm.start + j],
                    };
                    return Err(bad(
                        "targets",
                        index,
                        l,
                        "a class index in [0, C) other than `blank`",
                    ));
                }
            }
        }
        Ok(Layout { n, c, samples })
    }

    /// The shared driver. `Reduce`: the reduced value, with the gradient into `g` if it is
    /// not empty; `Each(u)`: per-sample losses into `per` if not empty, the gradient of
    /// `Σ u_n ℓ_n` into `g` if not empty.
    fn run<T: Real>(
        &self,
        inputs: &CtcInputs<'_, T>,
        lay: &Layout,
        weights: Weights<'_, T>,
        per: &mut [T],
        g: &mut [T],
    ) -> Result<T> {
        if let Weights::Reduce(Reduction::Mean) = weights {
            if lay.n == 0 {
                return Err(Error::EmptyMean { loss: NAME });
            }
        }
        let lp = inputs.log_probs.data();
        let targets = inputs.targets.data();
        g.fill(T::ZERO);
        let mut scratch = Scratch::default();
        let mut total = 0.0f64;
        for (i, sm) in lay.samples.iter().enumerate() {
            // The sample's weight in the result and the gradient.
            let w = match weights {
                Weights::Reduce(Reduction::Mean) => 1.0 / (sm.len.max(1) * lay.n) as f64,
                Weights::Reduce(Reduction::Sum) => 1.0,
                Weights::Each(u) => u.map_or(1.0, |u| u[i].to_f64()),
            };
            let labels = &targets[sm.start..sm.start + sm.len];
            let wg = if g.is_empty() { None } else { Some(w) };
            let loss = self.sample(lp, lay, i, sm.frames, labels, wg, g, &mut scratch);
            if let Some(o) = per.get_mut(i) {
                *o = loss;
            }
            total += match weights {
                Weights::Reduce(_) => w * loss.to_f64(),
                Weights::Each(_) => 0.0,
            };
        }
        Ok(T::from_f64(total))
    }

    /// One sample's loss, and with `w` its gradient times `w` into `g` (whose entries of this
    /// sample are zero on entry). Computed in f64 whatever `T`.
    #[allow(clippy::too_many_arguments)]
    fn sample<T: Real>(
        &self,
        lp: &[T],
        lay: &Layout,
        i: usize,
        frames: usize,
        labels: &[i64],
        w: Option<f64>,
        g: &mut [T],
        sc: &mut Scratch,
    ) -> T {
        let (n, c) = (lay.n, lay.c);
        let at = |t: usize, k: usize| (t * n + i) * c + k;
        let ninf = f64::NEG_INFINITY;
        // The extended target: blank, l1, blank, l2, …, blank.
        let sp = 2 * labels.len() + 1;
        sc.lab.clear();
        sc.pen.clear();
        for s in 0..sp {
            let l = if s % 2 == 0 {
                self.blank
            } else {
                labels[s / 2] as usize
            };
            sc.lab.push(l);
            // A label may follow the previous label directly (skipping the blank between)
            // unless the two are equal: the skip transition's log-weight, 0 or −∞.
            let skip = s % 2 == 1 && s >= 2 && sc.lab[s - 2] != l;
            sc.pen.push(if skip { 0.0 } else { ninf });
        }
        if frames == 0 {
            // No frame: only the empty target has an alignment (the empty one).
            return if labels.is_empty() || self.zero_infinity {
                T::ZERO
            } else {
                T::INFINITY
            };
        }
        // The band of states on some complete path at frame t.
        let band = |t: usize| (sp.saturating_sub(2 * (frames - t)), sp.min(2 * t + 2));
        sc.alpha.clear();
        sc.alpha.resize(frames * sp, ninf);
        sc.em.clear();
        sc.em.resize(sp, ninf);
        let (lo, hi) = band(0);
        for s in lo..hi {
            sc.alpha[s] = lp[at(0, sc.lab[s])].to_f64();
        }
        for t in 1..frames {
            let (lo, hi) = band(t);
            for s in lo..hi {
                sc.em[s] = lp[at(t, sc.lab[s])].to_f64();
            }
            let (prev, cur) = sc.alpha[(t - 1) * sp..(t + 1) * sp].split_at_mut(sp);
            forward_row(prev, cur, &sc.em, &sc.pen, lo, hi);
        }
        let last = &sc.alpha[(frames - 1) * sp..];
        let log_p = if sp == 1 {
            last[0]
        } else {
            lse3(last[sp - 1], last[sp - 2], ninf)
        };
        let loss = -log_p;
        if loss == f64::INFINITY {
            // Infeasible: the loss is +∞ (or 0) whatever `log_probs`, its gradient 0.
            return if self.zero_infinity {
                T::ZERO
            } else {
                T::INFINITY
            };
        }
        let Some(w) = w else {
            return T::from_f64(loss);
        };
        // Backward variables without the frame's own emission, v_t(s) = β_t(s) − log y_t(l'_s)
        // (two rows); the occupancy is γ_t(s) = exp(α_t(s) + v_t(s) − log p), and α_t(s) holds
        // the emission once. A class of probability 0 has α = −∞: γ = 0, never ∞ − ∞.
        sc.b0.clear();
        sc.b0.resize(sp + 2, ninf);
        sc.b1.clear();
        sc.b1.resize(sp + 2, ninf);
        sc.gam.clear();
        sc.gam.resize(sp, 0.0);
        let (mut next, mut cur) = (&mut sc.b0, &mut sc.b1);
        for t in (0..frames).rev() {
            let (lo, hi) = band(t);
            cur.fill(ninf);
            let arow = &sc.alpha[t * sp..(t + 1) * sp];
            if t == frames - 1 {
                for s in lo..hi {
                    let v = if s + 2 >= sp { 0.0 } else { ninf };
                    sc.gam[s] = exp_f64(arow[s] + v - log_p);
                    cur[s] = v + lp[at(t, sc.lab[s])].to_f64();
                }
            } else {
                for s in lo..hi {
                    sc.em[s] = lp[at(t, sc.lab[s])].to_f64();
                }
                backward_row(next, cur, arow, &sc.em, &sc.pen, log_p, &mut sc.gam, lo, hi);
            }
            for s in lo..hi {
                let k = at(t, sc.lab[s]);
                g[k] = T::from_f64(g[k].to_f64() - w * sc.gam[s]);
            }
            core::mem::swap(&mut next, &mut cur);
        }
        T::from_f64(loss)
    }
}

/// One frame of the forward recursion, states `lo..hi`:
/// α_t(s) = lse(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) + pen(s)) + em(s). Branch-free over
/// `s`, so it runs at the CPU's vector width.
fn forward_row(prev: &[f64], cur: &mut [f64], em: &[f64], pen: &[f64], lo: usize, hi: usize) {
    let ninf = f64::NEG_INFINITY;
    let mut s = lo;
    // The first two states lack a predecessor two (or one) back.
    while s < hi.min(2) {
        let b = if s >= 1 { prev[s - 1] } else { ninf };
        cur[s] = lse3(prev[s], b, ninf) + em[s];
        s += 1;
    }
    if s >= hi {
        return;
    }
    let (prev2, prev1, prev0) = (&prev[s - 2..hi - 2], &prev[s - 1..hi - 1], &prev[s..hi]);
    let (em, pen, out) = (&em[s..hi], &pen[s..hi], &mut cur[s..hi]);
    simd(SimdFn(
        #[inline(always)]
        || {
            for k in 0..out.len() {
                out[k] = lse3(prev0[k], prev1[k], prev2[k] + pen[k]) + em[k];
            }
        },
    ));
}

/// One frame of the backward recursion, states `lo..hi`: v(s) = lse(β_{t+1}(s),
/// β_{t+1}(s+1), β_{t+1}(s+2) + pen(s+2)), β_t(s) = v(s) + em(s), and the occupancy
/// γ(s) = exp(α_t(s) + v(s) − log p). `next` and `cur` hold two states of −∞ past the end.
#[allow(clippy::too_many_arguments)]
fn backward_row(
    next: &[f64],
    cur: &mut [f64],
    alpha: &[f64],
    em: &[f64],
    pen: &[f64],
    log_p: f64,
    gam: &mut [f64],
    lo: usize,
    hi: usize,
) {
    let sp = alpha.len();
    let ninf = f64::NEG_INFINITY;
    // The last two states' skip penalty reads past the end: −∞ there.
    let pen2 = |s: usize| if s + 2 < sp { pen[s + 2] } else { ninf };
    let mut end = hi;
    while end > lo && end + 2 > sp {
        let s = end - 1;
        let v = lse3(next[s], next[s + 1], next[s + 2] + pen2(s));
        cur[s] = v + em[s];
        gam[s] = (alpha[s] + v - log_p).exp();
        end -= 1;
    }
    if end <= lo {
        return;
    }
    let (n0, n1, n2) = (
        &next[lo..end],
        &next[lo + 1..end + 1],
        &next[lo + 2..end + 2],
    );
    let (pen, em, alpha) = (&pen[lo + 2..end + 2], &em[lo..end], &alpha[lo..end]);
    let (out, gam) = (&mut cur[lo..end], &mut gam[lo..end]);
    simd(SimdFn(
        #[inline(always)]
        || {
            for k in 0..out.len() {
                let v = lse3(n0[k], n1[k], n2[k] + pen[k]);
                out[k] = v + em[k];
                gam[k] = exp_f64(alpha[k] + v - log_p);
            }
        },
    ));
}

/// How each sample's loss enters the result and its gradient.
#[derive(Clone, Copy)]
enum Weights<'u, T> {
    /// A reduction: `Mean` weighs sample n by 1 / (N·max(L_n, 1)).
    Reduce(Reduction),
    /// Per sample, with an upstream gradient (`None`: ones).
    Each(Option<&'u [T]>),
}

/// The checked layout of the batch.
struct Layout {
    n: usize,
    c: usize,
    samples: Vec<SampleLayout>,
}

struct SampleLayout {
    start: usize,
    len: usize,
    frames: usize,
}

/// Work space reused across samples: the extended target, and the forward (`frames × (2L + 1)`)
/// and backward (two rows) variables.
#[derive(Default)]
struct Scratch {
    lab: Vec<usize>,
    pen: Vec<f64>,
    em: Vec<f64>,
    alpha: Vec<f64>,
    b0: Vec<f64>,
    b1: Vec<f64>,
    gam: Vec<f64>,
}

/// `ln(eᵃ + eᵇ + eᶜ)` with the maximum taken out (PyTorch's form), branch-free: −∞ when all
/// three are (the maximum is replaced by 0 so no ∞ − ∞ appears), NaN when any is (`max`
/// skips a NaN, the exponential of its difference does not).
#[inline(always)]
fn lse3(a: f64, b: f64, c: f64) -> f64 {
    let m = a.max(b).max(c);
    let m = if m == f64::NEG_INFINITY { 0.0 } else { m };
    m + ln_f64(exp_f64(a - m) + exp_f64(b - m) + exp_f64(c - m))
}

pub(crate) fn eval_ctc<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let ctc = Ctc::new(call.params.int("blank"), call.params.bool("zero_infinity"))?;
    let index = |name: &'static str| {
        call.index(name)
            .ok_or(Error::MissingInput { loss: NAME, name })
    };
    let inputs = CtcInputs::new(
        call.float_req("log_probs")?,
        index("targets")?,
        index("input_lengths")?,
        index("target_lengths")?,
    );
    let n = ctc.layout(&inputs)?.n;
    out.shape = vec![n];
    match call.reduction() {
        Some(r) => {
            let v = match out.grad("log_probs") {
                Some(g) => ctc.value_and_grad(&inputs, r, g)?,
                None => ctc.value(&inputs, r)?,
            };
            out.value = Some(v.to_f64());
        }
        None => {
            let u = out.cotangent(NAME, &[n])?;
            let mut losses = vec![T::ZERO; n];
            ctc.per_element(&inputs, &mut losses)?;
            if let Some(g) = out.grad("log_probs") {
                ctc.vjp(&inputs, u, g)?;
            }
            out.per_element = Some(losses);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss by enumerating every alignment (C^T of them), for small cases.
    fn brute(lp: &[f64], t: usize, c: usize, target: &[usize], blank: usize) -> f64 {
        let mut total = 0.0;
        let mut path = vec![0usize; t];
        for code in 0..c.pow(t as u32) {
            let mut k = code;
            for p in path.iter_mut() {
                *p = k % c;
                k /= c;
            }
            let mut collapsed = Vec::new();
            let mut prev = usize::MAX;
            for &p in &path {
                if p != prev && p != blank {
                    collapsed.push(p);
                }
                prev = p;
            }
            if collapsed == target {
                total += path
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| lp[i * c + p])
                    .sum::<f64>()
                    .exp();
            }
        }
        -total.ln()
    }

    fn log_softmax_rows(x: &[f64], c: usize) -> Vec<f64> {
        x.chunks(c)
            .flat_map(|r| {
                let m = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let z = m + r.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
                r.iter().map(move |v| v - z).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn matches_enumeration_and_finite_differences() {
        let (t, c) = (5usize, 3usize);
        let mut rng = crate::sample::Rng::new(3);
        let lp = log_softmax_rows(&rng.normals(t * c, 1.5), c);
        for (target, blank) in [
            (vec![1usize, 2], 0usize),
            (vec![1, 1], 0),
            (vec![0, 2, 0], 1),
            (vec![], 0),
        ] {
            let tg: Vec<i64> = target.iter().map(|&v| v as i64).collect();
            let len = [tg.len() as i64];
            let il = [t as i64];
            let ctc = Ctc::new(blank as i64, false).unwrap();
            let inputs = CtcInputs::new(
                Tensor::new(&lp, &[t, 1, c]).unwrap(),
                &tg[..],
                &il[..],
                &len[..],
            );
            let mut g = vec![0.0; t * c];
            let v = ctc.value_and_grad(&inputs, Reduction::Sum, &mut g).unwrap();
            let want = brute(&lp, t, c, &target, blank);
            assert!((v - want).abs() < 1e-12, "{target:?}: {v} {want}");
            for k in 0..t * c {
                let mut x = lp.clone();
                x[k] += 1e-6;
                let up = brute(&x, t, c, &target, blank);
                x[k] -= 2e-6;
                let down = brute(&x, t, c, &target, blank);
                let fd = (up - down) / 2e-6;
                assert!((g[k] - fd).abs() < 1e-7, "{target:?} {k}: {} {fd}", g[k]);
            }
            // Σ_c γ_t(c) = 1 at every frame.
            for row in g.chunks(c) {
                assert!((row.iter().sum::<f64>() + 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn infeasible_targets_and_lengths() {
        let lp = [(0.5f64).ln(); 2 * 2 * 2];
        let tg = [1i64, 1, 1, 0];
        // Sample 0: "11" in 2 frames needs 3: infeasible. Sample 1: "1" in 1 frame.
        let (il, tl) = ([2i64, 1], [2i64, 1]);
        let inputs = CtcInputs::new(
            Tensor::new(&lp, &[2, 2, 2]).unwrap(),
            Tensor::new(&tg, &[2, 2]).unwrap(),
            &il[..],
            &tl[..],
        );
        let mut per = [0.0; 2];
        Ctc::default().per_element(&inputs, &mut per).unwrap();
        assert_eq!(per, [f64::INFINITY, 2f64.ln()]);
        let mut g = [9.0; 8];
        let zi = Ctc::new(0, true).unwrap();
        let v = zi.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap();
        assert!((v - 2f64.ln() / 2.0).abs() < 1e-15);
        // Sample 0 (columns 0, 1 of each frame) gets no gradient; sample 1 uses frame 0 only.
        assert_eq!([g[0], g[1], g[4], g[5], g[6], g[7]], [0.0; 6]);
        assert_eq!([g[2], g[3]], [0.0, -0.5]);
    }

    #[test]
    fn long_inputs_do_not_underflow() {
        // 2000 frames at probability 1/50 each: the plain recursion underflows to 0.
        let (t, c) = (2000usize, 50usize);
        let lp = vec![(1.0f32 / 50.0).ln(); t * c];
        let tg: Vec<i64> = (1..=40).collect();
        let il = [t as i64];
        let inputs = CtcInputs::new(
            Tensor::new(&lp, &[t, 1, c]).unwrap(),
            &tg[..],
            &il[..],
            &[40i64][..],
        );
        let mut g = vec![0.0f32; t * c];
        let v = Ctc::default()
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        assert!(v.is_finite() && v > 7000.0, "{v}");
        assert!(g.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn errors_name_the_position() {
        let lp = [0.0f64; 3 * 2 * 4];
        let dims = [3, 2, 4];
        let run = |tg: &[i64], tdims: &[usize], il: [i64; 2], tl: [i64; 2], blank: i64| {
            let inputs = CtcInputs::new(
                Tensor::new(&lp, &dims).unwrap(),
                Tensor::new(tg, tdims).unwrap(),
                &il[..],
                &tl[..],
            );
            Ctc::new(blank, false)
                .and_then(|c| c.value(&inputs, Reduction::Mean))
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            run(&[1, 2, 1, 4], &[2, 2], [3, 3], [2, 2], 0),
            "ctc: `targets` at [1, 1] is 4, expected a class index in [0, C) other than `blank`"
        );
        assert_eq!(
            run(&[1, 0, 1, 3], &[2, 2], [3, 3], [2, 1], 0),
            "ctc: `targets` at [0, 1] is 0, expected a class index in [0, C) other than `blank`"
        );
        assert!(run(&[1, 2, 1, 3], &[2, 2], [4, 3], [2, 2], 0)
            .starts_with("ctc: `input_lengths` at [0] is 4"));
        assert!(run(&[1, 2, 1, 3], &[2, 2], [3, 3], [2, 3], 0)
            .starts_with("ctc: `target_lengths` at [1] is 3"));
        assert!(run(&[1, 2, 1], &[3], [3, 3], [2, 2], 0)
            .starts_with("ctc: `targets` has shape [3], expected [4]"));
        assert!(run(&[1, 2, 1, 3], &[2, 2], [3, 3], [2, 2], 4)
            .starts_with("ctc: `blank` must be a class index below C"));
        assert!(run(&[1, 2, 1, 3], &[2, 2], [3, 3], [2, 2], -1)
            .starts_with("ctc: `blank` must be >= 0"));
        // Padding past a target's length is not read.
        let inputs = CtcInputs::new(
            Tensor::new(&lp, &dims).unwrap(),
            Tensor::new(&[1i64, -1, 2, 3], &[2, 2]).unwrap(),
            &[3i64, 3][..],
            &[1i64, 2][..],
        );
        assert!(Ctc::default().value(&inputs, Reduction::Mean).is_ok());
    }
}
