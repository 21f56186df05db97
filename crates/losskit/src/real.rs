//! The sealed floating-point trait the kernels are generic over.

use core::fmt::{Debug, Display, LowerExp};
use core::iter::Sum;
use core::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

pub(crate) mod sealed {
    /// A value built from the generic compute type, as the concrete type it is: what lets a
    /// generic entry point (`evaluate_into`, `evaluate_hess`) dispatch on `f32` or `f64`
    /// without this module knowing the types of the layers above it.
    #[doc(hidden)]
    #[derive(Debug)]
    pub enum Typed<A, B> {
        /// The `f32` form.
        F32(A),
        /// The `f64` form.
        F64(B),
    }

    /// Named mutable slices and an optional slice, borrowed for `'a`, of element type `T`.
    pub type Parts<'a, T> = (Vec<(&'a str, &'a mut [T])>, Option<&'a [T]>);

    pub trait Sealed: Sized {
        /// Named caller-owned buffers and an optional upstream slice, as the concrete type.
        fn typed_parts(p: Parts<'_, Self>) -> Typed<Parts<'_, f32>, Parts<'_, f64>>;
        /// Two caller-owned buffers, as the concrete type.
        #[allow(clippy::type_complexity)]
        fn typed_pair<'a>(
            g: &'a mut [Self],
            h: &'a mut [Self],
        ) -> Typed<(&'a mut [f32], &'a mut [f32]), (&'a mut [f64], &'a mut [f64])>;
    }
    impl Sealed for f32 {
        fn typed_parts(p: Parts<'_, f32>) -> Typed<Parts<'_, f32>, Parts<'_, f64>> {
            Typed::F32(p)
        }
        fn typed_pair<'a>(
            g: &'a mut [f32],
            h: &'a mut [f32],
        ) -> Typed<(&'a mut [f32], &'a mut [f32]), (&'a mut [f64], &'a mut [f64])> {
            Typed::F32((g, h))
        }
    }
    impl Sealed for f64 {
        fn typed_parts(p: Parts<'_, f64>) -> Typed<Parts<'_, f32>, Parts<'_, f64>> {
            Typed::F64(p)
        }
        fn typed_pair<'a>(
            g: &'a mut [f64],
            h: &'a mut [f64],
        ) -> Typed<(&'a mut [f32], &'a mut [f32]), (&'a mut [f64], &'a mut [f64])> {
            Typed::F64((g, h))
        }
    }
}

/// A floating-point type the losses compute in: `f32` or `f64`, nothing else.
///
/// The trait is sealed: it holds exactly what the kernels need and may grow without a
/// breaking change. Computation happens in `Self`; reductions accumulate in `f64`.
pub trait Real:
    sealed::Sealed
    + Copy
    + Send
    + Sync
    + Default
    + PartialOrd
    + Debug
    + Display
    + LowerExp
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + 'static
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// `2`.
    const TWO: Self;
    /// `0.5`.
    const HALF: Self;
    /// `ln 2`.
    const LN_2: Self;
    /// `π`.
    const PI: Self;
    /// Machine epsilon.
    const EPSILON: Self;
    /// Positive infinity.
    const INFINITY: Self;
    /// The NumPy-style name of the type: `"f32"` or `"f64"`.
    const NAME: &'static str;

    /// Rounds an `f64` to `Self`.
    fn from_f64(x: f64) -> Self;
    /// Widens (or keeps) `self` as an `f64`.
    fn to_f64(self) -> f64;
    /// `eˣ`.
    fn exp(self) -> Self;
    /// `ln x`.
    fn ln(self) -> Self;
    /// `ln(1 + x)`, accurate for small `x`.
    fn ln_1p(self) -> Self;
    /// `eˣ` by a branch-free polynomial that vectorises: within 1–2 ulp of
    /// [`exp`](Real::exp), `+∞` on overflow, NaN kept, and exactly 0 for results in the
    /// bottom binade of the normal numbers and below (under 1.7·10⁻³⁸ in f32). See
    /// [`math::exp_f32`](crate::math::exp_f32).
    fn exp_fast(self) -> Self;
    /// `ln x` by a branch-free polynomial that vectorises: within 1 ulp of
    /// [`ln`](Real::ln), same special values. See [`math::ln_f32`](crate::math::ln_f32).
    fn ln_fast(self) -> Self;
    /// `eˣ − 1` by a branch-free polynomial that vectorises: within 2 ulp of `exp_m1`.
    /// See [`math::exp_m1_f32`](crate::math::exp_m1_f32).
    fn exp_m1_fast(self) -> Self;
    /// `ln(1 + x)` without a branch per element: within 2 ulp of
    /// [`ln_1p`](Real::ln_1p). See [`math::ln_1p_f32`](crate::math::ln_1p_f32).
    fn ln_1p_fast(self) -> Self;
    /// `ln(1 + x)` for `x ∈ [0, 1]` (or NaN) only, with neither division nor special cases in
    /// f32 (one division in f64): within 2 ulp of [`ln_1p`](Real::ln_1p). For `x = e^{−|z|}`
    /// in the logistic and log-cosh kernels. See
    /// [`math::ln_1p_unit_f32`](crate::math::ln_1p_unit_f32).
    fn ln_1p_unit_fast(self) -> Self;
    /// `tanh x` without a branch per element: within 3 ulp of [`tanh`](Real::tanh). See
    /// [`math::tanh_f32`](crate::math::tanh_f32).
    fn tanh_fast(self) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// `√x`.
    fn sqrt(self) -> Self;
    /// `tanh x`.
    fn tanh(self) -> Self;
    /// `sinh x`.
    fn sinh(self) -> Self;
    /// `arctan x`.
    fn atan(self) -> Self;
    /// `arctan x` by a branch-free polynomial that vectorises: within 2 ulp of
    /// [`atan`](Real::atan). See [`math::atan_f32`](crate::math::atan_f32).
    fn atan_fast(self) -> Self;
    /// `xʸ`.
    fn powf(self, y: Self) -> Self;
    /// The larger of two numbers (the other one if either is NaN).
    fn max(self, other: Self) -> Self;
    /// The smaller of two numbers (the other one if either is NaN).
    fn min(self, other: Self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// Is NaN.
    fn is_nan(self) -> bool;
}

macro_rules! impl_real {
    ($t:ident, $name:literal, $fast:ident, $ln:ident, $em1:ident, $ln1p:ident, $ln1pu:ident, $tanh:ident, $atan:ident) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const TWO: Self = 2.0;
            const HALF: Self = 0.5;
            const LN_2: Self = core::$t::consts::LN_2;
            const PI: Self = core::$t::consts::PI;
            const EPSILON: Self = $t::EPSILON;
            const INFINITY: Self = $t::INFINITY;
            const NAME: &'static str = $name;

            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn exp_fast(self) -> Self {
                crate::math::$fast(self)
            }
            #[inline(always)]
            fn ln_fast(self) -> Self {
                crate::math::$ln(self)
            }
            #[inline(always)]
            fn exp_m1_fast(self) -> Self {
                crate::math::$em1(self)
            }
            #[inline(always)]
            fn ln_1p_fast(self) -> Self {
                crate::math::$ln1p(self)
            }
            #[inline(always)]
            fn ln_1p_unit_fast(self) -> Self {
                crate::math::$ln1pu(self)
            }
            #[inline(always)]
            fn tanh_fast(self) -> Self {
                crate::math::$tanh(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn sinh(self) -> Self {
                $t::sinh(self)
            }
            #[inline(always)]
            fn atan(self) -> Self {
                $t::atan(self)
            }
            #[inline(always)]
            fn atan_fast(self) -> Self {
                crate::math::$atan(self)
            }
            #[inline(always)]
            fn powf(self, y: Self) -> Self {
                $t::powf(self, y)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                $t::max(self, other)
            }
            #[inline(always)]
            fn min(self, other: Self) -> Self {
                $t::min(self, other)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                $t::is_finite(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }
    };
}

impl_real!(
    f32,
    "f32",
    exp_f32,
    ln_f32,
    exp_m1_f32,
    ln_1p_f32,
    ln_1p_unit_f32,
    tanh_f32,
    atan_f32
);
impl_real!(
    f64,
    "f64",
    exp_f64,
    ln_f64,
    exp_m1_f64,
    ln_1p_f64,
    ln_1p_unit_f64,
    tanh_f64,
    atan_f64
);
