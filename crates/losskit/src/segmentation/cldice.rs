//! Soft clDice (Shit et al. 2021): [`SoftClDice`], on MONAI's soft skeleton (min/max pooling).

use crate::error::{check_buffer, Error, Result};
use crate::numerics::lane_sum;
use crate::real::Real;
use crate::reduction::Reduction;

use super::combo::mask_of;
use super::{divisor, has_nan, no_distance, non_finite, SegInputs};

const NAME: &str = "soft_cldice";

/// MONAI's inner smoothing of the harmonic mean (`smooth`, kept at its default).
const EPS: f64 = 1e-4;

/// The soft clDice loss: the harmonic mean of the topology precision (the predicted skeleton
/// inside the target) and sensitivity (the target's skeleton inside the prediction), for thin
/// tubular structures (vessels, roads, neurons).
///
/// # Definition
/// With S(·) the soft skeleton (`iterations` rounds of soft erosion and opening, MONAI's
/// `soft_skel`), for each sample n, summing over every channel and position:
/// $$T_\text{prec} = \frac{\sum S(P)\,G + s}{\sum S(P) + s},\quad
///   T_\text{sens} = \frac{\sum S(G)\,P + s}{\sum S(G) + s},\quad
///   \ell_n = 1 - \frac{2\,T_\text{prec}T_\text{sens}}{T_\text{prec} + T_\text{sens} + 10^{-4}}$$
/// `Mean` averages the N values, `Sum` adds them, [`per_element`](Self::per_element) gives
/// `[N]`. Soft erosion is the minimum over the axis-aligned 3-neighbourhoods (one min-pool per
/// axis, then their minimum), soft dilation the maximum over the 3×3(×3) window.
///
/// # Gradient
/// ∂ℓ/∂T_prec = −2T_sens(T_sens + ε)/D², ∂ℓ/∂T_sens = −2T_prec(T_prec + ε)/D²
/// (D = T_prec + T_sens + ε); T_sens is linear in P, T_prec reaches P through the skeleton:
/// through each ReLU (derivative 0 at 0) and each pooling to the element it selected.
/// Ties follow PyTorch's autograd, which the reference cases check: a max-pool (and the
/// min-pool, a max-pool of −P) sends the gradient to the first extreme element of its window
/// in row-major order, and the elementwise minimum of the per-axis erosions splits it evenly
/// between equal operands (`torch.min(a, b)`: half to each; in 3-D, min(min(p1, p2), p3)).
///
/// # Numerical stability
/// Min, max and ReLU are exact; the skeleton runs in the input's precision (as MONAI's),
/// the sums in f64.
///
/// # Parameters
/// `iterations` (3: MONAI's `iter_`), `smooth` (1.0: MONAI's `smooth_nr` and `smooth_dr`).
///
/// # Errors
/// [`Error::BadShape`] unless `input` is `[N, C, *spatial]` with 2 or 3 spatial dimensions; a
/// target as [`Dice`](crate::Dice)'s (a 0/1 mask of `input`'s shape, or class indices);
/// [`Error::InvalidParam`] for a negative or non-finite `smooth`.
///
/// # Example
/// ```
/// use losskit::{Reduction, SegInputs, SoftClDice, Tensor};
/// // A vertical line, predicted a little thick.
/// let g: Vec<f64> = (0..25).map(|i| f64::from(i % 5 == 2)).collect();
/// let p: Vec<f64> = (0..25).map(|i| [0.1, 0.6, 0.9, 0.6, 0.1][i % 5]).collect();
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 5, 5])?, Tensor::new(&g, &[1, 1, 5, 5])?);
/// let mut grad = vec![0.0; 25];
/// let v = SoftClDice::default().value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
/// assert!(v > 0.0 && v < 0.5);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// S. Shit et al., "clDice — a Novel Topology-Preserving Loss Function for Tubular Structure
/// Segmentation", CVPR 2021. MONAI `SoftclDiceLoss` (the numbers matched, gradients by its
/// autograd).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftClDice {
    iterations: usize,
    smooth: f64,
}

/// MONAI's defaults: 3 iterations, smoothing 1.
impl Default for SoftClDice {
    fn default() -> Self {
        SoftClDice {
            iterations: 3,
            smooth: 1.0,
        }
    }
}

impl SoftClDice {
    /// The loss with `iterations` skeleton rounds and smoothing `smooth`.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless `smooth` is finite and ≥ 0.
    pub fn new(iterations: usize, smooth: f64) -> Result<Self> {
        if !(smooth >= 0.0 && smooth.is_finite()) {
            return Err(Error::InvalidParam {
                loss: NAME,
                param: "smooth",
                value: smooth,
                expected: ">= 0 and finite",
            });
        }
        Ok(SoftClDice { iterations, smooth })
    }

    /// The loss reduced with `reduction` (`Mean`: over the N samples).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value<T: Real>(&self, inputs: &SegInputs<'_, T>, reduction: Reduction) -> Result<T> {
        let (v, _) = self.run(inputs, reduction == Reduction::Mean, None, None)?;
        Ok(T::from_f64(v))
    }

    /// The loss and its gradient with respect to `input` (into `grad`, as long as `input`).
    ///
    /// # Errors
    /// See the type's docs.
    pub fn value_and_grad<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        reduction: Reduction,
        grad: &mut [T],
    ) -> Result<T> {
        check_buffer(
            NAME,
            "gradient of `input`",
            grad.len(),
            inputs.input().len(),
        )?;
        let (v, _) = self.run(inputs, reduction == Reduction::Mean, Some(grad), None)?;
        Ok(T::from_f64(v))
    }

    /// The unreduced loss, one value per sample (`[N]`), into `out`.
    ///
    /// # Errors
    /// See the type's docs.
    pub fn per_element<T: Real>(&self, inputs: &SegInputs<'_, T>, out: &mut [T]) -> Result<()> {
        let (_, vals) = self.run(inputs, false, None, None)?;
        check_buffer(NAME, "per-element output", out.len(), vals.len())?;
        for (o, v) in out.iter_mut().zip(&vals) {
            *o = T::from_f64(*v);
        }
        Ok(())
    }

    fn run<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        mean: bool,
        mut grad: Option<&mut [T]>,
        _weights: Option<&[T]>,
    ) -> Result<(f64, Vec<f64>)> {
        no_distance(NAME, inputs)?;
        let input = inputs.input();
        if !matches!(input.dims().len(), 4 | 5) {
            return Err(Error::BadShape {
                loss: NAME,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "`[N, C, *spatial]` with 2 or 3 spatial dimensions (the soft skeleton's pooling is 2-D or 3-D)",
            });
        }
        let (lay, mask) = mask_of(NAME, inputs)?;
        let (n, c, s) = (lay.n, lay.c, lay.s);
        let div = divisor(NAME, mean, n)?;
        let k = self.iterations;
        let sm = self.smooth;
        let x = input.data();
        let mut vals = vec![0.0; n];
        let mut tapes: Vec<Tape<T>> = (0..c).map(|_| Tape::new(&lay.spatial, k)).collect();
        let mut skel_g = vec![T::ZERO; c * s];
        let mut scratch = Tape::new(&lay.spatial, k);
        for (i, val) in vals.iter_mut().enumerate() {
            let (mut a_pg, mut a_p, mut a_gp, mut a_g) = (0.0, 0.0, 0.0, 0.0);
            for ch in 0..c {
                let off = (i * c + ch) * s;
                let (p, g) = (&x[off..off + s], &mask[off..off + s]);
                let tp = &mut tapes[ch];
                tp.forward(p);
                scratch.forward(g);
                skel_g[ch * s..(ch + 1) * s].copy_from_slice(scratch.skel());
                let (sp, sg) = (tp.skel(), scratch.skel());
                a_pg += lane_sum(s, |q| sp[q].to_f64() * g[q].to_f64());
                a_p += lane_sum(s, |q| sp[q].to_f64());
                a_gp += lane_sum(s, |q| sg[q].to_f64() * p[q].to_f64());
                a_g += lane_sum(s, |q| sg[q].to_f64());
            }
            let (bp, bs) = (a_p + sm, a_g + sm);
            let (tprec, tsens) = ((a_pg + sm) / bp, (a_gp + sm) / bs);
            let d = tprec + tsens + EPS;
            *val = 1.0 - 2.0 * tprec * tsens / d;
            if let Some(gr) = grad.as_deref_mut() {
                let dprec = -2.0 * tsens * (tsens + EPS) / (d * d) / div;
                let dsens = -2.0 * tprec * (tprec + EPS) / (d * d) / div;
                for ch in 0..c {
                    let off = (i * c + ch) * s;
                    let g = &mask[off..off + s];
                    let out = &mut gr[off..off + s];
                    // The upstream of the predicted skeleton: ∂T_prec/∂S(P) = (G − T_prec)/B.
                    let up: Vec<T> = g
                        .iter()
                        .map(|&t| T::from_f64(dprec * (t.to_f64() - tprec) / bp))
                        .collect();
                    tapes[ch].backward(&up, out);
                    let sg = &skel_g[ch * s..(ch + 1) * s];
                    let ks = T::from_f64(dsens / bs);
                    for (o, &v) in out.iter_mut().zip(sg) {
                        *o += ks * v;
                    }
                }
            }
        }
        let total = vals.iter().sum::<f64>() / div;
        if !total.is_finite() && !has_nan(&input) {
            return Err(non_finite(NAME, &input));
        }
        Ok((total, vals))
    }
}

/// One channel's soft skeleton with what its backward pass needs: the eroded images
/// `img[0..=K+1]` (`img[0]` the input, `img[t+1]` = erode(`img[t]`)), the openings
/// `o[t]` = dilate(`img[t+1]`), the ReLU parts `d[t]` = relu(`img[t]` − `o[t]`), the skeleton after
/// each round, and each pooling's selected elements.
struct Tape<T> {
    dims: Vec<usize>,
    strides: Vec<usize>,
    k: usize,
    s: usize,
    img: Vec<T>,
    open: Vec<T>,
    d: Vec<T>,
    skel: Vec<T>,
    /// Per erosion t (of `img[t]`) and position: the elements of the per-axis minima and their
    /// shares of the gradient.
    ero_idx: Vec<[usize; 3]>,
    ero_w: Vec<[T; 3]>,
    /// Per dilation t (of `img[t+1]`) and position: the selected element.
    dil_idx: Vec<usize>,
}

impl<T: Real> Tape<T> {
    fn new(dims: &[usize], k: usize) -> Tape<T> {
        let s: usize = dims.iter().product();
        let mut strides = vec![1; dims.len()];
        for a in (0..dims.len().saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * dims[a + 1];
        }
        Tape {
            dims: dims.to_vec(),
            strides,
            k,
            s,
            img: vec![T::ZERO; (k + 2) * s],
            open: vec![T::ZERO; (k + 1) * s],
            d: vec![T::ZERO; (k + 1) * s],
            skel: vec![T::ZERO; (k + 1) * s],
            ero_idx: vec![[0; 3]; (k + 1) * s],
            ero_w: vec![[T::ZERO; 3]; (k + 1) * s],
            dil_idx: vec![0; (k + 1) * s],
        }
    }

    /// The final skeleton.
    fn skel(&self) -> &[T] {
        &self.skel[self.k * self.s..(self.k + 1) * self.s]
    }

    fn forward(&mut self, input: &[T]) {
        let (s, k) = (self.s, self.k);
        self.img[..s].copy_from_slice(input);
        for t in 0..=k {
            self.erode(t);
            self.dilate(t);
            for q in 0..s {
                let v = self.img[t * s + q] - self.open[t * s + q];
                self.d[t * s + q] = relu(v);
            }
            if t == 0 {
                self.skel[..s].copy_from_slice(&self.d[..s]);
            } else {
                for q in 0..s {
                    let prev = self.skel[(t - 1) * s + q];
                    let dt = self.d[t * s + q];
                    self.skel[t * s + q] = prev + relu(dt - prev * dt);
                }
            }
        }
    }

    /// `img[t+1]` = the soft erosion of `img[t]`: the minimum of the per-axis 3-minima.
    fn erode(&mut self, t: usize) {
        let s = self.s;
        let rank = self.dims.len();
        let (lo, hi) = self.img.split_at_mut((t + 1) * s);
        let (src, dst) = (&lo[t * s..], &mut hi[..s]);
        let half = T::from_f64(0.5);
        // torch.min(a, b): the smaller, NaN if either is; the gradient splits on a tie.
        let min2 = |a: T, b: T| -> (T, T, T) {
            if a.is_nan() || b.is_nan() {
                (a + b, T::ONE, T::ONE)
            } else if a < b {
                (a, T::ONE, T::ZERO)
            } else if b < a {
                (b, T::ZERO, T::ONE)
            } else {
                (a, half, half)
            }
        };
        for (q, out) in dst.iter_mut().enumerate() {
            let mut idx = [q; 3];
            let mut val = [T::ZERO; 3];
            for a in 0..rank {
                let (len, st) = (self.dims[a], self.strides[a]);
                let i = (q / st) % len;
                // Candidates in increasing index order; the first minimum wins (PyTorch's
                // max-pool of −P keeps the first maximum; a NaN replaces).
                let first = if i > 0 { q - st } else { q };
                let (mut best, mut bv) = (first, src[first]);
                let next = [q, q + st];
                for (j, &cand) in next.iter().enumerate() {
                    if (j == 0 && i == 0) || (j == 1 && i + 1 >= len) {
                        continue;
                    }
                    let v = src[cand];
                    if v < bv || v.is_nan() {
                        best = cand;
                        bv = v;
                    }
                }
                idx[a] = best;
                val[a] = bv;
            }
            let (m12, w1, w2) = min2(val[0], val[1]);
            let (v, w) = if rank == 3 {
                let (m, u12, u3) = min2(m12, val[2]);
                (m, [w1 * u12, w2 * u12, u3])
            } else {
                (m12, [w1, w2, T::ZERO])
            };
            *out = v;
            self.ero_idx[t * s + q] = idx;
            self.ero_w[t * s + q] = w;
        }
    }

    /// `o[t]` = the soft dilation of `img[t+1]`: the maximum over the 3×3(×3) window, the
    /// first in row-major order on a tie (PyTorch's max-pool; a NaN replaces).
    fn dilate(&mut self, t: usize) {
        let s = self.s;
        let src = &self.img[(t + 1) * s..(t + 2) * s];
        // 2-D as 3-D with a leading axis of 1.
        let (d3, st3) = match (self.dims.as_slice(), self.strides.as_slice()) {
            ([h, w], [sh, sw]) => ([1, *h, *w], [s, *sh, *sw]),
            ([d, h, w], [sd, sh, sw]) => ([*d, *h, *w], [*sd, *sh, *sw]),
            _ => unreachable!("checked: 2 or 3 spatial dimensions"),
        };
        let win = |q: usize, a: usize| {
            let i = (q / st3[a]) % d3[a];
            i.saturating_sub(1)..=(i + 1).min(d3[a] - 1)
        };
        for q in 0..s {
            let (mut best, mut bv) = (usize::MAX, T::ZERO);
            for z in win(q, 0) {
                for y in win(q, 1) {
                    for x in win(q, 2) {
                        let p = z * st3[0] + y * st3[1] + x * st3[2];
                        let v = src[p];
                        if best == usize::MAX || v > bv || v.is_nan() {
                            best = p;
                            bv = v;
                        }
                    }
                }
            }
            self.open[t * s + q] = bv;
            self.dil_idx[t * s + q] = best;
        }
    }

    /// Adds ∂(Σ up·skel)/∂input to `out` (which holds other terms' gradient or zeros: it is
    /// written, not added to).
    fn backward(&self, up: &[T], out: &mut [T]) {
        let (s, k) = (self.s, self.k);
        let mut gimg = vec![T::ZERO; (k + 2) * s];
        let mut gs = up.to_vec();
        let mut gd = vec![T::ZERO; s];
        for t in (0..=k).rev() {
            if t > 0 {
                for q in 0..s {
                    let prev = self.skel[(t - 1) * s + q];
                    let dt = self.d[t * s + q];
                    let g = gs[q];
                    // skel_t = prev + relu(dt − prev·dt); relu'(0) = 0.
                    if dt - prev * dt > T::ZERO {
                        gd[q] = g * (T::ONE - prev);
                        gs[q] = g - g * dt;
                    } else {
                        gd[q] = T::ZERO;
                    }
                }
            } else {
                gd.copy_from_slice(&gs);
            }
            // d_t = relu(img_t − o_t), o_t = dilate(img_{t+1}).
            for q in 0..s {
                let u = self.img[t * s + q] - self.open[t * s + q];
                if u > T::ZERO {
                    let g = gd[q];
                    gimg[t * s + q] += g;
                    gimg[(t + 1) * s + self.dil_idx[t * s + q]] -= g;
                }
            }
        }
        // img_{t+1} = erode(img_t), from the top down.
        for t in (0..=k).rev() {
            for q in 0..s {
                let g = gimg[(t + 1) * s + q];
                if g == T::ZERO {
                    continue;
                }
                let (idx, w) = (self.ero_idx[t * s + q], self.ero_w[t * s + q]);
                for j in 0..3 {
                    if w[j] != T::ZERO {
                        gimg[t * s + idx[j]] += g * w[j];
                    }
                }
            }
        }
        out.copy_from_slice(&gimg[..s]);
    }
}

#[inline(always)]
fn relu<T: Real>(v: T) -> T {
    // NaN kept (max(NaN, 0) would hide it).
    if v > T::ZERO || v.is_nan() {
        v
    } else {
        T::ZERO
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tensor;

    /// The skeleton of a one-pixel line is the line; of a filled square, its centre.
    #[test]
    fn skeletons_by_hand() {
        let mut t = Tape::<f64>::new(&[5, 5], 3);
        let line: Vec<f64> = (0..25).map(|i| f64::from(i % 5 == 2)).collect();
        t.forward(&line);
        assert_eq!(t.skel(), line.as_slice());
        let mut sq = vec![0.0; 25];
        for r in 1..4 {
            for c in 1..4 {
                sq[r * 5 + c] = 1.0;
            }
        }
        t.forward(&sq);
        let want: Vec<f64> = (0..25).map(|i| f64::from(i == 12)).collect();
        assert_eq!(t.skel(), want.as_slice());
    }

    #[test]
    fn shapes_and_params_are_checked() {
        assert!(SoftClDice::new(3, -1.0).is_err());
        let x = [0.5f64; 8];
        let inputs = SegInputs::mask(
            Tensor::new(&x, &[1, 2, 4]).unwrap(),
            Tensor::new(&[0.0f64; 8], &[1, 2, 4]).unwrap(),
        );
        let err = SoftClDice::default()
            .value(&inputs, Reduction::Mean)
            .unwrap_err();
        assert!(err.to_string().contains("2 or 3 spatial"), "{err}");
    }
}
