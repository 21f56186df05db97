//! Borrowed row-major arrays: a slice plus its shape.

use core::fmt;

use crate::error::{Error, Result};

/// The largest number of dimensions a [`Shape`] holds (`[N, C, D, H, W]` needs five).
pub const MAX_RANK: usize = 8;

/// The dimensions of a row-major array, stored inline (no allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
    numel: usize,
}

impl Shape {
    /// A shape from its dimensions; `&[]` is a scalar.
    ///
    /// # Errors
    /// [`Error::InvalidShape`] when there are more than [`MAX_RANK`] dimensions or their
    /// product overflows `usize`.
    pub fn new(dims: &[usize]) -> Result<Self> {
        if dims.len() > MAX_RANK {
            return Err(Error::InvalidShape {
                dims: dims.to_vec(),
                reason: "more than 8 dimensions",
            });
        }
        let numel = dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| Error::InvalidShape {
                dims: dims.to_vec(),
                reason: "the element count overflows",
            })?;
        let mut inline = [0; MAX_RANK];
        inline[..dims.len()].copy_from_slice(dims);
        Ok(Shape {
            dims: inline,
            rank: dims.len() as u8,
            numel,
        })
    }

    /// A one-dimensional shape `[n]`.
    pub const fn vector(n: usize) -> Self {
        let mut dims = [0; MAX_RANK];
        dims[0] = n;
        Shape {
            dims,
            rank: 1,
            numel: n,
        }
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// The number of elements (the product of the dimensions).
    pub fn numel(&self) -> usize {
        self.numel
    }

    /// The row-major multi-index of flat position `flat`.
    pub fn unravel(&self, mut flat: usize) -> Vec<usize> {
        let mut index = vec![0; self.rank()];
        for (slot, &d) in index.iter_mut().zip(self.dims()).rev() {
            if d > 0 {
                *slot = flat % d;
                flat /= d;
            }
        }
        index
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

/// A borrowed, contiguous, row-major array: the form every loss takes its inputs in.
///
/// ```
/// use losskit::Tensor;
/// let logits = [0.5f32, -1.0, 2.0, 0.0, 1.0, 3.0];
/// let x = Tensor::new(&logits, &[2, 3])?;
/// assert_eq!(x.dims(), &[2, 3]);
/// // A plain slice is a vector:
/// let y = Tensor::from(&logits[..]);
/// assert_eq!(y.dims(), &[6]);
/// # Ok::<(), losskit::Error>(())
/// ```
pub struct Tensor<'a, T> {
    data: &'a [T],
    shape: Shape,
}

// Manual impls: a tensor is a reference, copyable whatever `T` is.
impl<T> Clone for Tensor<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Tensor<'_, T> {}

impl<'a, T> Tensor<'a, T> {
    /// A tensor from its data and dimensions.
    ///
    /// # Errors
    /// [`Error::DataLength`] when `data.len()` is not the product of `dims`;
    /// [`Error::InvalidShape`] as for [`Shape::new`].
    pub fn new(data: &'a [T], dims: &[usize]) -> Result<Self> {
        let shape = Shape::new(dims)?;
        Self::with_shape(data, shape)
    }

    /// A tensor from its data and a [`Shape`].
    ///
    /// # Errors
    /// [`Error::DataLength`] when `data.len()` differs from `shape.numel()`.
    pub fn with_shape(data: &'a [T], shape: Shape) -> Result<Self> {
        if data.len() != shape.numel() {
            return Err(Error::DataLength {
                dims: shape.dims().to_vec(),
                len: data.len(),
            });
        }
        Ok(Tensor { data, shape })
    }

    /// The elements, row-major.
    pub fn data(&self) -> &'a [T] {
        self.data
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

impl<T> fmt::Debug for Tensor<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{}", self.shape)
    }
}

impl<'a, T> From<&'a [T]> for Tensor<'a, T> {
    fn from(data: &'a [T]) -> Self {
        Tensor {
            data,
            shape: Shape::vector(data.len()),
        }
    }
}

impl<'a, T> From<&'a Vec<T>> for Tensor<'a, T> {
    fn from(data: &'a Vec<T>) -> Self {
        Tensor::from(data.as_slice())
    }
}

impl<'a, T, const N: usize> From<&'a [T; N]> for Tensor<'a, T> {
    fn from(data: &'a [T; N]) -> Self {
        Tensor::from(data.as_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unravel_is_row_major() {
        let s = Shape::new(&[2, 3, 4]).unwrap();
        assert_eq!(s.unravel(0), vec![0, 0, 0]);
        assert_eq!(s.unravel(23), vec![1, 2, 3]);
        assert_eq!(s.unravel(13), vec![1, 0, 1]);
    }

    #[test]
    fn rejects_rank_and_overflow() {
        assert!(Shape::new(&[1; 9]).is_err());
        assert!(Shape::new(&[usize::MAX, 2]).is_err());
        assert_eq!(Shape::new(&[]).unwrap().numel(), 1);
        assert!(Tensor::new(&[1.0f32, 2.0], &[3]).is_err());
    }
}
