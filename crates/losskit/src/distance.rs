//! Exact Euclidean distance transforms of binary masks, and the signed distance maps boundary
//! losses use.
//!
//! [`edt`] gives every foreground element (a `true`) its Euclidean distance to the nearest
//! background element (a `false`), and 0 to the background itself: the numbers of SciPy's
//! `scipy.ndimage.distance_transform_edt`, bit for bit (the committed reference cases check
//! 1-, 2- and 3-D masks, with and without voxel spacing). [`signed_distance`] builds on it the
//! map of Kervadec et al.'s boundary loss.
//!
//! # Algorithm
//! Felzenszwalb and Huttenlocher's separable transform: one pass per dimension, each the lower
//! envelope of the parabolas `f(q) + ((p − q)·s)²` along every line, in linear time (O(n) for
//! n elements, whatever the shape and the objects in it). The squared distances are exact sums
//! of squared coordinate differences (integers for unit spacing), added in the order SciPy adds
//! them, so the square roots agree to the bit.
//!
//! ```
//! use losskit::{distance, Tensor};
//! let mask = [false, true, true, true, false, true];
//! let d = distance::edt(Tensor::new(&mask, &[2, 3])?, None)?;
//! assert_eq!(d, [0.0, 1.0, 2f64.sqrt(), 1.0, 0.0, 1.0]);
//! // Spacing 2 along rows, 0.5 along columns:
//! let d = distance::edt(Tensor::new(&mask, &[2, 3])?, Some(&[2.0, 0.5]))?;
//! assert_eq!(d, [0.0, 0.5, 1.0, 0.5, 0.0, 0.5]);
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! # References
//! P. F. Felzenszwalb and D. P. Huttenlocher, "Distance Transforms of Sampled Functions",
//! Theory of Computing 8 (2012). H. Kervadec et al., "Boundary loss for highly unbalanced
//! segmentation", MIDL 2019 (reference code `one_hot2dist`, LIVIAETS/boundary-loss).

use crate::error::{check_buffer, Error, Result};
use crate::tensor::Tensor;

/// The name errors of this module carry (the `losskit edt` command).
const NAME: &str = "edt";

/// The exact Euclidean distance of every `true` element of `mask` to the nearest `false`
/// element (0 on the `false` elements), in units of `spacing` (one positive length per
/// dimension; 1 in every dimension when `None`), row-major like `mask`.
///
/// Any number of dimensions ≥ 1. A mask with no `false` element at all has no background to
/// measure to; SciPy then measures to a background one step before the start of the first
/// dimension (index −1 there, 0 in the others), and so does this function, so that maps
/// computed by either agree.
///
/// # Errors
/// [`Error::BadShape`] for a 0-dimensional mask; [`Error::ShapeMismatch`] when `spacing` has
/// not one entry per dimension; [`Error::InvalidValue`] for a spacing that is not finite and
/// > 0.
pub fn edt(mask: Tensor<'_, bool>, spacing: Option<&[f64]>) -> Result<Vec<f64>> {
    let mut out = vec![0.0; mask.len()];
    edt_into(mask, spacing, &mut out)?;
    Ok(out)
}

/// [`edt`] written into `out` (as long as `mask`).
///
/// # Errors
/// As [`edt`], and [`Error::BufferLength`] when `out` is not as long as `mask`.
pub fn edt_into(mask: Tensor<'_, bool>, spacing: Option<&[f64]>, out: &mut [f64]) -> Result<()> {
    let spacing = check_spacing(mask.dims(), spacing)?;
    check_buffer(NAME, "distances", out.len(), mask.len())?;
    squared_edt(mask.data(), |m| m, mask.dims(), &spacing, out);
    for v in out.iter_mut() {
        *v = v.sqrt();
    }
    Ok(())
}

/// The signed distance map of boundary loss: for a mask with at least one `true` element,
/// `edt(!mask)` outside the object (the distance to the nearest object element, > 0) and
/// `−(edt(mask) − 1)` inside it (0 on the object's boundary elements, negative deeper in); all
/// zeros for a mask with no `true` element.
///
/// This is `one_hot2dist` of the boundary-loss paper's reference code (LIVIAETS/boundary-loss,
/// `utils.py`), `eucl_distance(negmask) * negmask − (eucl_distance(posmask) − 1) * posmask`
/// with SciPy's `distance_transform_edt`, for one channel: negative inside, so that
/// minimising Σ p·φ pulls probability mass into the object.
///
/// # Errors
/// As [`edt`].
pub fn signed_distance(mask: Tensor<'_, bool>, spacing: Option<&[f64]>) -> Result<Vec<f64>> {
    let mut out = vec![0.0; mask.len()];
    signed_distance_into(mask, spacing, &mut out)?;
    Ok(out)
}

/// [`signed_distance`] written into `out` (as long as `mask`).
///
/// # Errors
/// As [`edt_into`].
pub fn signed_distance_into(
    mask: Tensor<'_, bool>,
    spacing: Option<&[f64]>,
    out: &mut [f64],
) -> Result<()> {
    let spacing = check_spacing(mask.dims(), spacing)?;
    check_buffer(NAME, "distances", out.len(), mask.len())?;
    signed_map(mask.data(), |m| m, mask.dims(), &spacing, out);
    Ok(())
}

/// One spacing per dimension, each finite and > 0 (1 everywhere for `None`).
pub(crate) fn check_spacing(dims: &[usize], spacing: Option<&[f64]>) -> Result<Vec<f64>> {
    if dims.is_empty() {
        return Err(Error::BadShape {
            loss: NAME,
            arg: "mask",
            actual: Vec::new(),
            expected: "at least one dimension",
        });
    }
    let Some(s) = spacing else {
        return Ok(vec![1.0; dims.len()]);
    };
    if s.len() != dims.len() {
        return Err(Error::ShapeMismatch {
            loss: NAME,
            arg: "spacing",
            actual: vec![s.len()],
            expected: vec![dims.len()],
            because: "one spacing per dimension of `mask`",
        });
    }
    if let Some(i) = s.iter().position(|&v| !(v > 0.0 && v.is_finite())) {
        return Err(Error::InvalidValue {
            loss: NAME,
            arg: "spacing",
            index: vec![i],
            value: s[i],
            expected: "a finite spacing > 0",
        });
    }
    Ok(s.to_vec())
}

/// The signed map of the elements where `fg` holds, into `out` (checked arguments).
pub(crate) fn signed_map<M: Copy>(
    mask: &[M],
    fg: impl Fn(M) -> bool + Copy,
    dims: &[usize],
    spacing: &[f64],
    out: &mut [f64],
) {
    if !mask.iter().any(|&m| fg(m)) {
        out.fill(0.0);
        return;
    }
    // Outside: the distance to the object, i.e. the transform of the complement.
    let mut inside = vec![0.0; out.len()];
    squared_edt(mask, |m| !fg(m), dims, spacing, out);
    squared_edt(mask, fg, dims, spacing, &mut inside);
    for ((o, &i), &m) in out.iter_mut().zip(&inside).zip(mask) {
        *o = if fg(m) {
            // 1 − d, not −(d − 1): +0 on the boundary, as SciPy's `0·… − (d − 1)·1`.
            1.0 - i.sqrt()
        } else {
            o.sqrt()
        };
    }
}

/// The squared distances of the elements where `fg` holds to the nearest element where it does
/// not, into `out` (checked arguments).
pub(crate) fn squared_edt<M: Copy>(
    mask: &[M],
    fg: impl Fn(M) -> bool,
    dims: &[usize],
    spacing: &[f64],
    out: &mut [f64],
) {
    debug_assert_eq!(mask.len(), out.len());
    if out.is_empty() {
        return;
    }
    for (o, &m) in out.iter_mut().zip(mask) {
        *o = if fg(m) { f64::INFINITY } else { 0.0 };
    }
    let rank = dims.len();
    let longest = dims.iter().copied().max().unwrap_or(1);
    let mut line = Envelope::new(longest);
    for axis in 0..rank {
        let len = dims[axis];
        let stride: usize = dims[axis + 1..].iter().product();
        let outer = out.len() / (len * stride);
        let s = spacing[axis];
        for o in 0..outer {
            let base = o * len * stride;
            for i in 0..stride {
                let start = base + i;
                line.transform(out, start, stride, len, s);
            }
        }
    }
    if out[0] == f64::INFINITY {
        // No background anywhere (a line without one is filled from the others): SciPy's
        // feature transform then points every element at index −1 of the first dimension
        // and 0 of the others.
        no_background(dims, spacing, out);
    }
}

/// SciPy's distances for a mask without background: to the point (−1, 0, 0, …).
fn no_background(dims: &[usize], spacing: &[f64], out: &mut [f64]) {
    let mut idx = vec![0usize; dims.len()];
    for o in out.iter_mut() {
        // The same operations as SciPy: (Δ·s)² per dimension, summed in dimension order.
        let mut sum = 0.0;
        for (k, (&i, &s)) in idx.iter().zip(spacing).enumerate() {
            let delta = if k == 0 { i as f64 + 1.0 } else { i as f64 } * s;
            sum += delta * delta;
        }
        *o = sum;
        for k in (0..dims.len()).rev() {
            idx[k] += 1;
            if idx[k] < dims[k] {
                break;
            }
            idx[k] = 0;
        }
    }
}

/// Scratch of the 1-D transform: the line, the envelope's parabola vertices and boundaries.
struct Envelope {
    f: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Envelope {
    fn new(n: usize) -> Self {
        Envelope {
            f: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
        }
    }

    /// `d[p] = min_q f[q] + ((p − q)·s)²` along the line `start + k·stride`, `k < len`, in place.
    fn transform(&mut self, data: &mut [f64], start: usize, stride: usize, len: usize, s: f64) {
        let f = &mut self.f[..len];
        for (k, x) in f.iter_mut().enumerate() {
            *x = data[start + k * stride];
        }
        // The lower envelope of the parabolas with a finite vertex.
        let Some(first) = f.iter().position(|x| x.is_finite()) else {
            return; // nothing to measure to on this line (yet)
        };
        let (v, z) = (&mut self.v, &mut self.z);
        let s2 = s * s;
        let mut k = 0usize;
        v[0] = first;
        z[0] = f64::NEG_INFINITY;
        z[1] = f64::INFINITY;
        for q in first + 1..len {
            if !f[q].is_finite() {
                continue;
            }
            let fq = f[q] + s2 * (q * q) as f64;
            loop {
                let r = v[k];
                let fr = f[r] + s2 * (r * r) as f64;
                // Where the parabolas from q and r meet (in index units).
                let meet = (fq - fr) / (2.0 * s2 * (q - r) as f64);
                if meet <= z[k] && k > 0 {
                    k -= 1;
                    continue;
                }
                if meet <= z[k] {
                    // k == 0: q's parabola is below r's everywhere.
                    v[0] = q;
                    z[1] = f64::INFINITY;
                } else {
                    k += 1;
                    v[k] = q;
                    z[k] = meet;
                    z[k + 1] = f64::INFINITY;
                }
                break;
            }
        }
        let mut k = 0usize;
        for p in 0..len {
            while z[k + 1] < p as f64 {
                k += 1;
            }
            let r = v[k];
            // SciPy's operations: (Δ·s)² added to what the other dimensions gave.
            let delta = (p as f64 - r as f64) * s;
            data[start + p * stride] = delta * delta + f[r];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The distances by brute force: every foreground element against every background one.
    fn brute(mask: &[bool], dims: &[usize], s: &[f64]) -> Vec<f64> {
        let shape = crate::tensor::Shape::new(dims).unwrap();
        let pts: Vec<Vec<usize>> = (0..mask.len()).map(|i| shape.unravel(i)).collect();
        (0..mask.len())
            .map(|i| {
                if !mask[i] {
                    return 0.0;
                }
                (0..mask.len())
                    .filter(|&j| !mask[j])
                    .map(|j| {
                        let mut sum = 0.0;
                        for k in 0..dims.len() {
                            let d = (pts[i][k] as f64 - pts[j][k] as f64) * s[k];
                            sum += d * d;
                        }
                        sum
                    })
                    .fold(f64::INFINITY, f64::min)
                    .sqrt()
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_in_1_2_3_d() {
        let mut rng = crate::sample::Rng::new(7);
        for dims in [
            vec![17],
            vec![9, 13],
            vec![5, 6, 7],
            vec![1, 8],
            vec![4, 1, 3],
        ] {
            for density in [0.1, 0.5, 0.95] {
                let n: usize = dims.iter().product();
                let mask: Vec<bool> = (0..n).map(|_| rng.unit() < density).collect();
                if mask.iter().all(|&m| m) {
                    continue;
                }
                let s: Vec<f64> = (0..dims.len()).map(|k| 0.5 + k as f64 * 0.75).collect();
                for sp in [None, Some(s.as_slice())] {
                    let t = Tensor::new(&mask, &dims).unwrap();
                    let got = edt(t, sp).unwrap();
                    let ones = vec![1.0; dims.len()];
                    let want = brute(&mask, &dims, sp.unwrap_or(&ones));
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g - w).abs() <= 1e-12 * w.max(1.0), "{dims:?} {g} {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn no_background_follows_scipy() {
        let mask = [true; 12];
        let d = edt(Tensor::new(&mask, &[3, 4]).unwrap(), None).unwrap();
        assert_eq!(d[0], 1.0);
        assert_eq!(d[1], 2f64.sqrt());
        assert_eq!(d[4], 2.0);
        assert_eq!(d[11], 18f64.sqrt());
        let all_bg = [false; 6];
        assert_eq!(
            edt(Tensor::new(&all_bg, &[6]).unwrap(), None).unwrap(),
            [0.0; 6]
        );
    }

    #[test]
    fn signed_map_is_negative_inside_and_zero_on_the_boundary() {
        // A 1-D object of length 5 in a line of 9.
        let mask = [false, false, true, true, true, true, true, false, false];
        let d = signed_distance(Tensor::new(&mask, &[9]).unwrap(), None).unwrap();
        assert_eq!(d, [2.0, 1.0, 0.0, -1.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
        let empty = [false; 4];
        assert_eq!(
            signed_distance(Tensor::new(&empty, &[4]).unwrap(), None).unwrap(),
            [0.0; 4]
        );
    }

    #[test]
    fn bad_arguments_are_errors() {
        let mask = [true, false];
        let t = Tensor::new(&mask, &[2]).unwrap();
        assert_eq!(
            edt(t, Some(&[1.0, 1.0])).unwrap_err().to_string(),
            "edt: `spacing` has shape [2], expected [1] (one spacing per dimension of `mask`); nothing is broadcast"
        );
        assert_eq!(
            edt(t, Some(&[0.0])).unwrap_err().to_string(),
            "edt: `spacing` at [0] is 0, expected a finite spacing > 0"
        );
        let scalar = Tensor::new(&mask[..1], &[]).unwrap();
        assert!(matches!(edt(scalar, None), Err(Error::BadShape { .. })));
        let mut short = [0.0; 1];
        assert!(matches!(
            edt_into(t, None, &mut short),
            Err(Error::BufferLength { .. })
        ));
    }
}
