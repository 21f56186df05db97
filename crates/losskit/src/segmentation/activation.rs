//! The activation of the segmentation losses, applied per sample inside the fused kernels, and
//! its gradient.

use core::fmt;

use crate::error::{Error, Result};
use crate::numerics::sigmoid_fast;
use crate::real::Real;

/// What turns `input` into the probabilities P the loss compares with the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activation {
    /// P = σ(x) per element: binary and multi-label masks.
    Sigmoid,
    /// P = softmax(x) over the class dimension 1 (over all C classes, also when the
    /// background class is then left out): one class per position. Needs C ≥ 2.
    Softmax,
    /// `input` already holds probabilities.
    None,
}

impl Activation {
    /// `"sigmoid"`, `"softmax"` or `"none"`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Softmax => "softmax",
            Activation::None => "none",
        }
    }

    /// The activation called `word` (a catalogue word, so always one of the three).
    pub(crate) fn from_word(word: &str) -> Activation {
        match word {
            "sigmoid" => Activation::Sigmoid,
            "none" => Activation::None,
            _ => Activation::Softmax,
        }
    }

    /// Softmax over one class is the constant 1: an error rather than a loss that cannot move.
    pub(crate) fn check(self, loss: &'static str, c: usize, dims: &[usize]) -> Result<()> {
        if self == Activation::Softmax && c < 2 {
            return Err(Error::BadShape {
                loss,
                arg: "input",
                actual: dims.to_vec(),
                expected: "at least 2 classes in dimension 1 with `activation=softmax` (softmax over one class is always 1; use `sigmoid` for a single binary channel)",
            });
        }
        Ok(())
    }

    /// The probabilities of one sample: `x` and `out` are `[C, S]`.
    #[inline(always)]
    pub(crate) fn forward<T: Real>(self, x: &[T], c: usize, s: usize, out: &mut [T]) {
        match self {
            Activation::None => out.copy_from_slice(x),
            Activation::Sigmoid => {
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = sigmoid_fast(v);
                }
            }
            Activation::Softmax => softmax(x, c, s, out),
        }
    }

    /// Turns the gradient `d` (`[C, S]`) with respect to one sample's probabilities `probs`
    /// into the gradient with respect to its `input`, in place.
    #[inline(always)]
    pub(crate) fn backward<T: Real>(self, probs: &[T], c: usize, s: usize, d: &mut [T]) {
        match self {
            Activation::None => {}
            Activation::Sigmoid => {
                // σ' = σ(1 − σ), as PyTorch's sigmoid backward.
                for (o, &q) in d.iter_mut().zip(probs) {
                    *o *= q * (T::ONE - q);
                }
            }
            Activation::Softmax => {
                // ∂/∂x_k = P_k (d_k − Σ_j P_j d_j), over blocks of positions.
                let mut p0 = 0;
                while p0 < s {
                    let len = BLOCK.min(s - p0);
                    let mut t = [T::ZERO; BLOCK];
                    for k in 0..c {
                        let pr = &probs[k * s + p0..][..len];
                        let dk = &d[k * s + p0..][..len];
                        for j in 0..len {
                            t[j] += pr[j] * dk[j];
                        }
                    }
                    for k in 0..c {
                        let pr = &probs[k * s + p0..][..len];
                        let dk = &mut d[k * s + p0..][..len];
                        for j in 0..len {
                            dk[j] = pr[j] * (dk[j] - t[j]);
                        }
                    }
                    p0 += len;
                }
            }
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Positions per block of the softmax over the class dimension (stride S).
const BLOCK: usize = 64;

/// Softmax over the classes of `[C, S]` `x`, per position, with the maximum taken out.
#[inline(always)]
fn softmax<T: Real>(x: &[T], c: usize, s: usize, out: &mut [T]) {
    let mut p0 = 0;
    while p0 < s {
        let len = BLOCK.min(s - p0);
        let mut m = [-T::INFINITY; BLOCK];
        for k in 0..c {
            let xk = &x[k * s + p0..k * s + p0 + len];
            for j in 0..len {
                m[j] = m[j].max(xk[j]);
            }
        }
        let mut sum = [T::ZERO; BLOCK];
        for k in 0..c {
            let xk = &x[k * s + p0..k * s + p0 + len];
            let ok = &mut out[k * s + p0..k * s + p0 + len];
            for j in 0..len {
                // x − max ≤ 0: the exponential never overflows.
                ok[j] = (xk[j] - m[j]).exp_fast();
                sum[j] += ok[j];
            }
        }
        for k in 0..c {
            let ok = &mut out[k * s + p0..k * s + p0 + len];
            for j in 0..len {
                ok[j] /= sum[j];
            }
        }
        p0 += len;
    }
}
