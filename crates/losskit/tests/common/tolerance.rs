//! The tolerances of the reference tests, in one place: multiples of the compute type's
//! machine epsilon ε, each with its reason.
//!
//! An expected number `e` is matched by `a` when
//! `|a − e| ≤ rel·ε·|e| + abs·ε·scale`, where `scale` is the largest finite magnitude among
//! the expected numbers `e` is compared with (the whole gradient, the whole per-element
//! output; for a reduced value, it and the per-element values of the same case). The
//! absolute part is what lets a component that cancels to 1e-20 in one implementation and to
//! 0 in the other pass, while staying relative to the size of the case. Non-finite expected
//! values match only themselves: ±inf the same infinity, NaN any NaN.
//!
//! A case may override these (`tolerance` in FORMAT.md, in the same units, with a reason).

use losskit::Dtype;

/// A tolerance in multiples of ε: `rel` of the expected number, `abs` of the case's scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tol {
    /// Multiples of ε·|expected|.
    pub rel: f64,
    /// Multiples of ε·scale.
    pub abs: f64,
}

/// The tolerances of one compute type, by what is compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// A reduced loss (`mean`, `sum`, `batchmean`).
    pub value: Tol,
    /// The per-element losses (`none`).
    pub values: Tol,
    /// A gradient, element by element.
    pub grads: Tol,
}

/// f32: the reference is the tool run in float32.
pub const F32: Tolerances = Tolerances {
    // The tool sums float32 terms (pairwise), losskit sums them in f64: the reference's own
    // rounding, a few ε·√log n, dominates; 16 leaves room for terms that partly cancel.
    value: Tol {
        rel: 16.0,
        abs: 16.0,
    },
    // The same formula in float32 on both sides, rounded a few times each, and libm
    // exp/ln/tanh within an ulp or two of each other: 8.
    values: Tol { rel: 8.0, abs: 8.0 },
    // As `values`, plus the reduction's scale (1/N) multiplied in once more: 8.
    grads: Tol { rel: 8.0, abs: 8.0 },
};

/// f64: the reference is the tool run in float64.
pub const F64: Tolerances = Tolerances {
    // f64 sums in a different order (the tool's pairwise vs losskit's 8 lanes per chunk): a
    // few ε of the terms' magnitude, 16 with partial cancellation.
    value: Tol {
        rel: 16.0,
        abs: 16.0,
    },
    // The same formula on both sides, up to a few roundings and libm ulps: 8.
    values: Tol { rel: 8.0, abs: 8.0 },
    // As `values`, with the reduction's scale multiplied in once more: 8.
    grads: Tol { rel: 8.0, abs: 8.0 },
};

/// The defaults of a compute type.
pub fn defaults(dtype: Dtype) -> Tolerances {
    match dtype {
        Dtype::F32 => F32,
        Dtype::F64 => F64,
    }
}

/// The machine epsilon of a compute type.
pub fn eps(dtype: Dtype) -> f64 {
    match dtype {
        Dtype::F32 => f64::from(f32::EPSILON),
        Dtype::F64 => f64::EPSILON,
    }
}

/// How much of the tolerance `actual` uses: ≤ 1 passes. Infinite for a mismatch of
/// non-finite values.
pub fn used(expected: f64, actual: f64, tol: Tol, eps: f64, scale: f64) -> f64 {
    if expected.is_nan() || actual.is_nan() {
        return if expected.is_nan() && actual.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if expected.is_infinite() || actual.is_infinite() {
        return if expected == actual {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let err = (actual - expected).abs();
    if err == 0.0 {
        return 0.0;
    }
    err / (eps * (tol.rel * expected.abs() + tol.abs * scale))
}

/// Whether `actual` matches `expected` (see the module docs).
pub fn close(expected: f64, actual: f64, tol: Tol, eps: f64, scale: f64) -> bool {
    used(expected, actual, tol, eps, scale) <= 1.0
}

/// The scale of a set of expected numbers: the largest finite magnitude (0 if none).
pub fn scale(expected: impl IntoIterator<Item = f64>) -> f64 {
    expected
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, |m, v| m.max(v.abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Tol = Tol { rel: 8.0, abs: 8.0 };
    const E: f64 = f64::EPSILON;

    #[test]
    fn non_finite_values_match_only_themselves() {
        assert!(close(f64::INFINITY, f64::INFINITY, T, E, 1.0));
        assert!(!close(f64::INFINITY, f64::NEG_INFINITY, T, E, 1.0));
        assert!(!close(f64::INFINITY, 1e308, T, E, 1.0));
        assert!(!close(1.0, f64::INFINITY, T, E, 1.0));
        assert!(close(f64::NAN, -f64::NAN, T, E, 1.0));
        assert!(!close(f64::NAN, 0.0, T, E, 1.0));
        assert!(!close(0.0, f64::NAN, T, E, 1.0));
    }

    #[test]
    fn the_floor_is_relative_to_the_scale() {
        assert!(close(0.0, 1e-20, T, E, 1.0));
        assert!(!close(0.0, 1e-20, T, E, 1e-10));
        assert!(close(1.0, 1.0 + 8.0 * E, T, E, 0.0));
        assert!(!close(1.0, 1.0 + 9.0 * E, T, E, 0.0));
        assert!(!close(1.0, 1.0 + 1e-9, T, E, 1.0));
    }

    #[test]
    fn scale_ignores_non_finite_values() {
        assert_eq!(scale([1.0, -3.0, f64::INFINITY, f64::NAN]), 3.0);
        assert_eq!(scale([]), 0.0);
    }
}
