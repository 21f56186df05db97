//! Dense pieces of the class-centre losses (`arcface`, `cosface`, `subcenter_arcface`,
//! `proxy_anchor`, `proxy_nca`): a strided matrix product and the inputs type.

use core::any::TypeId;

use crate::real::Real;
use crate::tensor::Tensor;

/// A matrix operand: its data and its (row, column) strides.
pub(crate) struct Mat<'a, T> {
    pub(crate) data: &'a [T],
    pub(crate) rs: usize,
    pub(crate) cs: usize,
}

impl<'a, T> Mat<'a, T> {
    /// A row-major matrix with `cols` columns.
    pub(crate) fn rows(data: &'a [T], cols: usize) -> Self {
        Mat {
            data,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub(crate) fn trans(data: &'a [T], cols: usize) -> Self {
        Mat {
            data,
            rs: 1,
            cs: cols,
        }
    }
}

/// The last index an `[r, c]` operand with strides `(rs, cs)` touches, plus one.
fn span(r: usize, c: usize, rs: usize, cs: usize) -> usize {
    if r == 0 || c == 0 {
        0
    } else {
        (r - 1) * rs + (c - 1) * cs + 1
    }
}

/// `c = a·b + beta·c`, `a` `[m, k]`, `b` `[k, n]` (any strides), `c` `[m, n]` row-major.
pub(crate) fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    a: Mat<'_, T>,
    b: Mat<'_, T>,
    beta: T,
    c: &mut [T],
) {
    assert!(
        a.data.len() >= span(m, k, a.rs, a.cs)
            && b.data.len() >= span(k, n, b.rs, b.cs)
            && c.len() >= m * n
    );
    if m == 0 || n == 0 {
        return;
    }
    let cast = |v: usize| v as isize;
    // SAFETY: every index the product reads or writes lies within the slices (the spans are
    // checked above); `T` is exactly `f32` or `f64` in each branch (the `TypeId` test), so
    // the pointer casts are identities.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr().cast(),
                cast(a.rs),
                cast(a.cs),
                b.data.as_ptr().cast(),
                cast(b.rs),
                cast(b.cs),
                beta.to_f64() as f32,
                c.as_mut_ptr().cast(),
                cast(n),
                1,
            );
        } else {
            assert!(TypeId::of::<T>() == TypeId::of::<f64>());
            matrixmultiply::dgemm(
                m,
                k,
                n,
                1.0,
                a.data.as_ptr().cast(),
                cast(a.rs),
                cast(a.cs),
                b.data.as_ptr().cast(),
                cast(b.rs),
                cast(b.cs),
                beta.to_f64(),
                c.as_mut_ptr().cast(),
                cast(n),
                1,
            );
        }
    }
}

/// `embeddings` `[N, D]`, integer `labels` `[N]` and a matrix of class centres `[C, D]`
/// (`weight` of [`ArcFace`](crate::ArcFace), [`CosFace`](crate::CosFace) and
/// [`SubCenterArcFace`](crate::SubCenterArcFace), `[C·K, D]` for the last; `proxies` of
/// [`ProxyAnchor`](crate::ProxyAnchor) and [`ProxyNca`](crate::ProxyNca)). The centres are
/// learned with the model: both the embeddings and the centres get gradients.
///
/// ```
/// use losskit::{CentreInputs, Tensor};
/// let e = [1.0f32, 0.0, 0.0, 1.0];
/// let w = [1.0f32, 0.1, -0.2, 1.0, 0.5, 0.5];
/// let inputs = CentreInputs::new(Tensor::new(&e, &[2, 2])?, &[0i64, 1], Tensor::new(&w, &[3, 2])?);
/// assert_eq!(inputs.centres().dims(), &[3, 2]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct CentreInputs<'a, T> {
    pub(crate) embeddings: Tensor<'a, T>,
    pub(crate) labels: Tensor<'a, i64>,
    pub(crate) centres: Tensor<'a, T>,
}

impl<'a, T> CentreInputs<'a, T> {
    /// The embeddings, their labels and the class centres (shapes are checked by the loss).
    pub fn new(
        embeddings: impl Into<Tensor<'a, T>>,
        labels: impl Into<Tensor<'a, i64>>,
        centres: impl Into<Tensor<'a, T>>,
    ) -> Self {
        CentreInputs {
            embeddings: embeddings.into(),
            labels: labels.into(),
            centres: centres.into(),
        }
    }
    /// The embeddings.
    pub fn embeddings(&self) -> Tensor<'a, T> {
        self.embeddings
    }
    /// The labels.
    pub fn labels(&self) -> Tensor<'a, i64> {
        self.labels
    }
    /// The class centres (`weight` or `proxies`).
    pub fn centres(&self) -> Tensor<'a, T> {
        self.centres
    }
}

impl<T> Clone for CentreInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for CentreInputs<'_, T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strided_products_match_the_loops() {
        let a: Vec<f64> = (0..6).map(f64::from).collect(); // [2, 3]
        let b: Vec<f64> = (0..12).map(|v| f64::from(v) * 0.5).collect(); // [4, 3]
        let mut c = vec![1.0; 8];
        // a · bᵀ, [2, 4], plus the old c.
        gemm(2, 3, 4, Mat::rows(&a, 3), Mat::trans(&b, 3), 1.0, &mut c);
        for i in 0..2 {
            for j in 0..4 {
                let want: f64 = 1.0 + (0..3).map(|k| a[i * 3 + k] * b[j * 3 + k]).sum::<f64>();
                assert_eq!(c[i * 4 + j], want);
            }
        }
        // cᵀ · a: [4, 2]·[2, 3].
        let mut d = vec![0.0f64; 12];
        gemm(4, 2, 3, Mat::trans(&c, 4), Mat::rows(&a, 3), 0.0, &mut d);
        for j in 0..4 {
            for k in 0..3 {
                let want: f64 = (0..2).map(|i| c[i * 4 + j] * a[i * 3 + k]).sum();
                assert_eq!(d[j * 3 + k], want);
            }
        }
    }
}
