//! An exact sum of f64 values: a fixed-point superaccumulator.
//!
//! Every finite f64 is an integer multiple of 2⁻¹⁰⁷⁴ below 2¹⁰²⁴, so a sum of them is an
//! integer in units of 2⁻¹⁰⁷⁴ that needs about 2100 bits (plus the bits of the count). The
//! accumulator holds it as [`LIMBS`] signed 64-bit limbs of 32 significant bits each (carry-save:
//! each limb takes 2³¹ additions before the carries must be propagated). Additions are exact, so
//! the sum does not depend on the order of the additions nor on how they were split over
//! partitions and merged: the result is the exact sum, rounded once (to nearest, ties to even)
//! when read. Infinities and NaN are tracked beside it (`+∞ + −∞` and NaN give NaN).

/// Limbs of 32 bits: 72 × 32 = 2304 bits cover 2⁻¹⁰⁷⁴ … 2¹²³⁰.
pub(crate) const LIMBS: usize = 72;
/// Additions between carry propagations (each adds less than 2³² to a limb; an i64 holds 2⁶³).
const SAFE_ADDS: u32 = 1 << 30;
const MASK: i64 = 0xffff_ffff;

/// The exact sum of f64 values.
#[derive(Clone, PartialEq, Eq)]
pub struct ExactSum {
    limbs: [i64; LIMBS],
    pending: u32,
    nan: bool,
    pos_inf: bool,
    neg_inf: bool,
}

impl Default for ExactSum {
    fn default() -> Self {
        ExactSum {
            limbs: [0; LIMBS],
            pending: 0,
            nan: false,
            pos_inf: false,
            neg_inf: false,
        }
    }
}

impl std::fmt::Debug for ExactSum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExactSum({})", self.value())
    }
}

/// The bytes of a serialised [`ExactSum`]: the limbs (little-endian i64) and a flag byte.
pub(crate) const STATE_BYTES: usize = LIMBS * 8 + 1;

impl ExactSum {
    /// Zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `x` exactly.
    #[inline]
    pub fn add(&mut self, x: f64) {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        let frac = bits & ((1u64 << 52) - 1);
        if exp == 0x7ff {
            if frac != 0 {
                self.nan = true;
            } else if x > 0.0 {
                self.pos_inf = true;
            } else {
                self.neg_inf = true;
            }
            return;
        }
        if exp == 0 && frac == 0 {
            return;
        }
        // x = ±m·2^(e − 1074), m < 2⁵³.
        let (m, e) = if exp == 0 {
            (frac, 0)
        } else {
            (frac | (1u64 << 52), exp - 1)
        };
        let pos = e as usize; // bit position of m's lowest bit, in units of 2⁻¹⁰⁷⁴
        let (j, s) = (pos / 32, pos % 32);
        let v = u128::from(m) << s;
        let d0 = (v as i64) & MASK;
        let d1 = ((v >> 32) as i64) & MASK;
        let d2 = (v >> 64) as i64;
        if bits >> 63 == 0 {
            self.limbs[j] += d0;
            self.limbs[j + 1] += d1;
            self.limbs[j + 2] += d2;
        } else {
            self.limbs[j] -= d0;
            self.limbs[j + 1] -= d1;
            self.limbs[j + 2] -= d2;
        }
        self.pending += 1;
        if self.pending >= SAFE_ADDS {
            self.normalize();
        }
    }

    /// Adds every element of `xs`.
    pub fn add_all(&mut self, xs: impl IntoIterator<Item = f64>) {
        for x in xs {
            self.add(x);
        }
    }

    /// Adds another exact sum (exactly).
    pub fn merge(&mut self, other: &ExactSum) {
        let mut o = other.clone();
        o.normalize();
        self.normalize();
        for (a, b) in self.limbs.iter_mut().zip(o.limbs.iter()) {
            *a += *b;
        }
        self.nan |= o.nan;
        self.pos_inf |= o.pos_inf;
        self.neg_inf |= o.neg_inf;
        self.normalize();
    }

    /// Propagates the carries: limbs 0..LIMBS−1 in [0, 2³²), the top one signed.
    fn normalize(&mut self) {
        for i in 0..LIMBS - 1 {
            let c = self.limbs[i] >> 32; // floor division by 2³²
            self.limbs[i] -= c << 32;
            self.limbs[i + 1] += c;
        }
        self.pending = 0;
    }

    /// Whether the sum is exactly zero (and no infinity or NaN was added).
    pub fn is_zero(&self) -> bool {
        !self.nan && !self.pos_inf && !self.neg_inf && self.limbs.iter().all(|&l| l == 0)
    }

    /// The sum rounded once to the nearest f64 (ties to even); ±∞ beyond the f64 range.
    pub fn value(&self) -> f64 {
        if self.nan || (self.pos_inf && self.neg_inf) {
            return f64::NAN;
        }
        if self.pos_inf {
            return f64::INFINITY;
        }
        if self.neg_inf {
            return f64::NEG_INFINITY;
        }
        let mut s = self.clone();
        s.normalize();
        let negative = s.limbs[LIMBS - 1] < 0;
        if negative {
            for l in s.limbs.iter_mut() {
                *l = -*l;
            }
            s.normalize();
        }
        let Some(k) = s.limbs.iter().rposition(|&l| l != 0) else {
            return 0.0;
        };
        let magnitude = if k < 2 {
            // Below 2⁻¹⁰¹⁰: the integer m < 2⁶⁴ is the whole value; m·2⁻¹⁰⁷⁴ is subnormal
            // (then m < 2⁵², exact) or m converts with one rounding and scales exactly.
            let m = (s.limbs[1] as u128) << 32 | s.limbs[0] as u128;
            ldexp(m as f64, -1074)
        } else {
            let mut m = (s.limbs[k] as u128) << 64
                | (s.limbs[k - 1] as u128) << 32
                | s.limbs[k - 2] as u128;
            // m ≥ 2⁶⁴: its lowest bit lies far below the rounding position, so OR-ing in
            // whether anything below it is nonzero makes the one rounding correct.
            if s.limbs[..k - 2].iter().any(|&l| l != 0) {
                m |= 1;
            }
            ldexp(m as f64, 32 * (k as i32 - 2) - 1074)
        };
        if negative {
            -magnitude
        } else {
            magnitude
        }
    }

    /// Serialises the sum (normalised limbs and flags) into [`STATE_BYTES`] bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut s = self.clone();
        s.normalize();
        let mut out = Vec::with_capacity(STATE_BYTES);
        for l in s.limbs {
            out.extend_from_slice(&l.to_le_bytes());
        }
        out.push(u8::from(s.nan) | u8::from(s.pos_inf) << 1 | u8::from(s.neg_inf) << 2);
        out
    }

    /// Reads what [`to_bytes`](Self::to_bytes) wrote; `None` if `b` is not such a state.
    pub fn from_bytes(b: &[u8]) -> Option<ExactSum> {
        if b.len() != STATE_BYTES {
            return None;
        }
        let mut s = ExactSum::new();
        for (l, chunk) in s.limbs.iter_mut().zip(b.chunks_exact(8)) {
            *l = i64::from_le_bytes(chunk.try_into().ok()?);
        }
        let flags = b[LIMBS * 8];
        s.nan = flags & 1 != 0;
        s.pos_inf = flags & 2 != 0;
        s.neg_inf = flags & 4 != 0;
        Some(s)
    }
}

/// `x·2^e`, exact unless the result is subnormal or overflows (then rounded once).
fn ldexp(mut x: f64, mut e: i32) -> f64 {
    let pow2 = |k: i32| f64::from_bits(((k + 1023) as u64) << 52);
    while e > 1000 {
        x *= pow2(1000);
        e -= 1000;
    }
    while e < -1000 {
        x *= pow2(-1000);
        e += 1000;
    }
    x * pow2(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(xs: &[f64]) -> f64 {
        let mut s = ExactSum::new();
        s.add_all(xs.iter().copied());
        s.value()
    }

    #[test]
    fn sums_that_naive_summation_gets_wrong_are_exact() {
        assert_eq!(exact(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(exact(&[1.0, 1e-30, -1.0]), 1e-30);
        // 0.1 + 0.2 − 0.3 over the doubles is exactly 2⁻⁵⁵ (naively 5.55e-17 = 2⁻⁵⁴).
        assert_eq!(exact(&[0.1, 0.2, -0.3]), 2f64.powi(-55));
        assert_eq!(exact(&[f64::MAX, f64::MAX, -f64::MAX]), f64::MAX);
        assert_eq!(exact(&[f64::MAX, f64::MAX]), f64::INFINITY);
        assert_eq!(exact(&[5e-324, 5e-324]), 1e-323);
        assert_eq!(exact(&[-5e-324]), -5e-324);
        assert_eq!(exact(&[]), 0.0);
        assert_eq!(exact(&[3.0, -3.0]), 0.0);
        assert_eq!(exact(&[-2.5, 0.5]), -2.0);
    }

    #[test]
    fn rounding_is_to_nearest_even_once() {
        // 1 + 2⁻⁵³ is a tie: to even (1). Adding 2⁻¹⁰⁰ breaks the tie upwards.
        let h = 2f64.powi(-53);
        assert_eq!(exact(&[1.0, h]), 1.0);
        assert_eq!(exact(&[1.0, h, 2f64.powi(-100)]), 1.0 + 2.0 * h);
        assert_eq!(exact(&[1.0, h, -2f64.powi(-100)]), 1.0);
    }

    #[test]
    fn order_and_splits_do_not_matter() {
        let mut rng = losskit::sample::Rng::new(5);
        let xs: Vec<f64> = (0..5000)
            .map(|_| rng.normal() * 10f64.powi((rng.below(40) as i32) - 20))
            .collect();
        let whole = exact(&xs);
        let mut rev = xs.clone();
        rev.reverse();
        assert_eq!(whole.to_bits(), exact(&rev).to_bits());
        for parts in [2, 7, 64] {
            let mut total = ExactSum::new();
            for chunk in xs.chunks(xs.len() / parts + 1) {
                let mut s = ExactSum::new();
                s.add_all(chunk.iter().copied());
                let s = ExactSum::from_bytes(&s.to_bytes()).unwrap();
                total.merge(&s);
            }
            assert_eq!(whole.to_bits(), total.value().to_bits(), "{parts} parts");
        }
    }

    #[test]
    fn non_finite_values_propagate() {
        assert!(exact(&[1.0, f64::NAN]).is_nan());
        assert_eq!(exact(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert_eq!(exact(&[f64::NEG_INFINITY, 1.0]), f64::NEG_INFINITY);
        assert!(exact(&[f64::INFINITY, f64::NEG_INFINITY]).is_nan());
    }

    #[test]
    fn many_additions_carry_correctly() {
        let mut s = ExactSum::new();
        s.pending = SAFE_ADDS - 3;
        for _ in 0..10 {
            s.add(f64::MAX);
            s.add(-f64::MAX);
            s.add(0.75);
        }
        assert_eq!(s.value(), 7.5);
    }
}
