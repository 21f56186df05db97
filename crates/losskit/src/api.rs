//! The typed API every single-prediction loss type shares.

/// Generates `value`, `value_and_grad` and `per_element` for loss type `$ty` over its inputs
/// type `$inputs`, delegating to the family driver module `$driver` (which has `value`,
/// `value_and_grad` and `per_element` generic over the kernel). `$shapes` documents the
/// shape errors of that input type.
macro_rules! typed_api {
    ($ty:ident, $inputs:ident, $driver:ident, $shapes:literal) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            #[doc = $shapes]
            /// [`Error::EmptyMean`](crate::Error::EmptyMean) for `Mean` over no elements;
            /// [`Error::InvalidValue`](crate::Error::InvalidValue) for a negative or
            /// non-finite weight, or an element outside the loss's domain (named with its
            /// position).
            pub fn value<T: Real>(
                &self,
                inputs: &$inputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                $driver::value(self, inputs, reduction)
            }

            /// The loss reduced with `reduction`, and its gradient with respect to `input`
            /// written to `grad` (the reduction's scale included), in one pass.
            ///
            /// # Errors
            /// As [`value`](Self::value), and [`Error::BufferLength`](crate::Error::BufferLength)
            /// when `grad` is not as long as `input`. On error `grad` holds unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &$inputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                $driver::value_and_grad(self, inputs, reduction, grad)
            }

            /// The per-element losses (times the weight, if any) written to `out`, of
            /// `input`'s shape.
            ///
            /// # Errors
            /// As [`value_and_grad`](Self::value_and_grad), with `out` in place of `grad`.
            pub fn per_element<T: Real>(
                &self,
                inputs: &$inputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                $driver::per_element(self, inputs, out)
            }
        }
    };
}

/// The typed API of a multiclass loss over [`ClassInputs`](crate::ClassInputs): `value`,
/// `value_and_grad` and `per_element` over the type's `run::<T, GRAD, OUT>` pass, with the
/// buffer checks. `$per_element` documents the per-element output's shape.
macro_rules! class_api {
    ($ty:ident, $per_element:literal) => {
        impl $ty {
            /// The loss reduced with `reduction`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &ClassInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                self.run::<T, false, false>(inputs, Some(reduction), &mut [])
            }

            /// The loss reduced with `reduction` and its gradient with respect to `input` (into
            /// `grad`, as long as `input`; the reduction's scale included).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &ClassInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                check_buffer(
                    NAME,
                    "gradient of `input`",
                    grad.len(),
                    inputs.input().len(),
                )?;
                self.run::<T, true, false>(inputs, Some(reduction), grad)
            }

            #[doc = $per_element]
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &ClassInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let lay = layout(NAME, &inputs.input())?;
                check_buffer(NAME, "per-element output", out.len(), lay.elements())?;
                self.run::<T, false, true>(inputs, None, out).map(|_| ())
            }
        }
    };
}

/// Generates `value_grad_hess` for loss type `$ty` over `$inputs`, delegating to
/// `$driver::value_grad_hess`.
macro_rules! hess_api {
    ($ty:ident, $inputs:ident, $driver:ident) => {
        impl $ty {
            /// The loss reduced with `reduction`, its gradient with respect to `input` (into
            /// `grad`) and the diagonal of its Hessian (into `hess`), both as long as `input`
            /// and including the weights and the reduction's scale, in one pass.
            ///
            /// `curvature` chooses the second derivative where the exact one is zero,
            /// undefined or negative, or where a gradient-boosting library uses its own
            /// convention; see [`Curvature`](crate::Curvature) for the table and the sources.
            /// The value and the gradient do not depend on it and equal those of
            /// `value_and_grad` (to a few ulps for the softmax losses, whose fused kernels
            /// differ).
            ///
            /// # Example
            /// A Newton step on one score: see the [crate docs](crate#second-derivatives).
            ///
            /// # Errors
            /// As `value_and_grad`, and [`Error::BufferLength`](crate::Error::BufferLength)
            /// when `hess` is not as long as `input`. On error the buffers hold unspecified
            /// values.
            pub fn value_grad_hess<T: Real>(
                &self,
                inputs: &$inputs<'_, T>,
                reduction: Reduction,
                curvature: crate::Curvature,
                grad: &mut [T],
                hess: &mut [T],
            ) -> Result<T> {
                $driver::value_grad_hess(self, inputs, reduction, curvature, grad, hess)
            }
        }
    };
}
