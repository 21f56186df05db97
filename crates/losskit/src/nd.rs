//! `ndarray` 0.17 support (feature `ndarray`): array views in, gradients out.
//!
//! The core takes contiguous row-major slices. A view in standard layout is borrowed as is
//! (no copy); any other layout (transposed, sliced with steps) is copied once into standard
//! layout. Gradients are written straight into a standard-layout output view, or computed in
//! a scratch buffer and assigned otherwise.
//!
//! ```
//! use losskit::nd::{write_into, NdTensor};
//! use losskit::{Huber, Pointwise, Reduction};
//! use ndarray::array;
//!
//! let x = array![[0.5f64, 2.0], [-1.0, 4.0]];
//! let y = array![[0.0f64, 2.0], [1.0, 0.0]];
//! let xt = x.t(); // a transposed view: copied once into standard layout
//! let yt = y.t();
//! let (xv, yv) = (NdTensor::new(xt)?, NdTensor::new(yt)?);
//! let mut grad = ndarray::Array2::<f64>::zeros((2, 2));
//! let loss = write_into(grad.view_mut(), |g| {
//!     Huber::default().value_and_grad(&Pointwise::new(xv.tensor(), yv.tensor()), Reduction::Sum, g)
//! })?;
//! assert_eq!(loss, 0.125 + 1.5 + 3.5);
//! assert_eq!(grad, array![[0.5, -1.0], [0.0, 1.0]]);
//! # Ok::<(), losskit::Error>(())
//! ```

use std::borrow::Cow;

use ndarray::{ArrayView, ArrayViewMut, Dimension};

use crate::error::Result;
use crate::tensor::{Shape, Tensor};

/// An array view ready to be passed to a loss: borrowed when in standard layout, copied
/// into standard layout otherwise.
#[derive(Debug, Clone)]
pub struct NdTensor<'a, T: Clone> {
    data: Cow<'a, [T]>,
    shape: Shape,
}

impl<'a, T: Clone> NdTensor<'a, T> {
    /// Wraps a view of any dimensionality (at most [`MAX_RANK`](crate::MAX_RANK) axes).
    ///
    /// # Errors
    /// [`Error::InvalidShape`](crate::Error::InvalidShape) for more than eight axes.
    pub fn new<D: Dimension>(view: ArrayView<'a, T, D>) -> Result<Self> {
        let shape = Shape::new(view.shape())?;
        let data = match view.to_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(view.iter().cloned().collect()),
        };
        Ok(NdTensor { data, shape })
    }

    /// Whether the view was borrowed without a copy.
    pub fn is_borrowed(&self) -> bool {
        matches!(self.data, Cow::Borrowed(_))
    }

    /// The tensor to hand to a loss.
    pub fn tensor(&self) -> Tensor<'_, T> {
        // The data were taken from a view of exactly this shape.
        Tensor::with_shape(&self.data, self.shape).unwrap_or_else(|_| Tensor::from(&self.data[..0]))
    }
}

/// Runs `f` with a gradient (or output) buffer for `out`: `out`'s own memory when it is in
/// standard layout, else a scratch buffer assigned to `out` afterwards (only if `f` succeeds).
///
/// # Errors
/// Whatever `f` returns.
pub fn write_into<T, D, R>(
    mut out: ArrayViewMut<'_, T, D>,
    f: impl FnOnce(&mut [T]) -> Result<R>,
) -> Result<R>
where
    T: Clone + Default,
    D: Dimension,
{
    if let Some(slice) = out.as_slice_mut() {
        return f(slice);
    }
    let mut scratch = vec![T::default(); out.len()];
    let r = f(&mut scratch)?;
    for (o, v) in out.iter_mut().zip(scratch) {
        *o = v;
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Mse, Pointwise, Reduction};
    use ndarray::{array, s, Array2};

    #[test]
    fn standard_layout_is_borrowed_and_others_are_copied_in_row_major_order() {
        let a = array![[1.0f32, 2.0, 3.0], [4.0, 5.0, 6.0]];
        assert!(NdTensor::new(a.view()).unwrap().is_borrowed());
        let t = NdTensor::new(a.t()).unwrap();
        assert!(!t.is_borrowed());
        assert_eq!(t.tensor().dims(), &[3, 2]);
        assert_eq!(t.tensor().data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        let stepped = NdTensor::new(a.slice(s![.., ..;2])).unwrap();
        assert_eq!(stepped.tensor().data(), &[1.0, 3.0, 4.0, 6.0]);
    }

    #[test]
    fn gradients_land_in_non_contiguous_outputs() {
        let x = array![[1.0f64, 2.0], [3.0, 4.0]];
        let y = Array2::<f64>::zeros((2, 2));
        let (xv, yv) = (
            NdTensor::new(x.view()).unwrap(),
            NdTensor::new(y.view()).unwrap(),
        );
        let mut g = Array2::<f64>::zeros((2, 2));
        write_into(g.view_mut().reversed_axes(), |buf| {
            Mse.value_and_grad(
                &Pointwise::new(xv.tensor(), yv.tensor()),
                Reduction::Sum,
                buf,
            )
        })
        .unwrap();
        // The gradient [[2, 4], [6, 8]] was written through the transposed view.
        assert_eq!(g, array![[2.0, 6.0], [4.0, 8.0]]);
    }
}
