//! Elementary functions as branch-free polynomials that the compiler vectorises: the lowest
//! layer of the crate ([`Real`](crate::Real) routes its `exp_fast` / `ln_fast` here, and
//! [`numerics`](crate::numerics) re-exports them).

/// `eˣ` in f32 by a branch-free polynomial that the compiler vectorises.
///
/// `std`'s `expf` is a call per element; softmax kernels spend most of their time in it.
/// This one is within 1 ulp of the correctly rounded result wherever we have swept it (the
/// unit tests check every 211th f32 against `f64::exp` and assert ≤ 2 ulp), `+∞` on
/// overflow, NaN kept. Like most vector math libraries it flushes tiny results to 0: below
/// `e^−86.99 ≈ 1.7·10⁻³⁸` (the bottom binade of the normal numbers and the subnormals) the
/// result is exactly 0, so a `−∞` logit gives a probability of exactly 0. (A softmax
/// probability that small is 0 for every purpose; the flush saves a second scaling step,
/// about 20% of the cross-entropy kernel's time.)
///
/// Method: `x = n·ln 2 + r` with `|r| ≤ ½ln 2` (Cody–Waite, the `n·ln 2` high part exact),
/// eʳ by a degree-6 minimax polynomial (relative error 5·10⁻⁹), and `2ⁿ` applied as
/// `(2·eʳ)·2ⁿ⁻¹`, exact up to the final rounding.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // 1.5·2²³: adding it rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    const LN2_HI: f32 = 0.693_359_4; // 355/512: n·LN2_HI is exact for |n| < 2¹⁵
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Outside [−88, 89] the result is 0 or ∞ anyway; the clamp keeps n in [−127, 129] (and
    // passes NaN through).
    let x = x.clamp(-88.0, 89.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = ((((1.387_98e-3 * r + 8.373_175e-3) * r + 4.166_771e-2) * r + 1.666_647_5e-1) * r
        + 0.499_999_94)
        * (r * r)
        + r
        + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    // 2ⁿ⁻¹ from its exponent bits: a normal number for n ∈ [−125, 128]; 0 below (the flush).
    let s = f32::from_bits((ni.wrapping_add(126).max(0) as u32) << 23);
    (p + p) * s
}

/// `eˣ` in f64 by a branch-free polynomial that the compiler vectorises; the f64 twin of
/// [`exp_f32`]: within 1 ulp of `f64::exp` in the tests' sweep, `+∞` on overflow, NaN kept,
/// and 0 below `e^−708.05 ≈ 3.3·10⁻³⁰⁸`.
///
/// eʳ on `|r| ≤ ½ln 2` is its Taylor polynomial of degree 13 (truncation below 10⁻¹⁷).
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    const LOG2E: f64 = core::f64::consts::LOG2_E;
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5·2⁵²
    const LN2_HI: f64 = 6.931_471_803_691_238e-1; // fdlibm: 32 trailing zero bits
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let x = x.clamp(-709.0, 710.0);
    let t = x * LOG2E + MAGIC;
    let n = t - MAGIC;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 6_227_020_800.0; // 1/13!
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    let p = p * (r * r) + r + 1.0;
    let ni = (t.to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64);
    let s = f64::from_bits((ni.wrapping_add(1022).max(0) as u64) << 52);
    (p + p) * s
}

/// `ln x` in f32 by a branch-free polynomial that the compiler vectorises.
///
/// Within 1 ulp of the correctly rounded result wherever the unit tests sweep it (every
/// 211th positive f32, subnormals included); `ln 0 = −∞`, `ln ∞ = ∞`, NaN for negative
/// inputs and NaN.
///
/// Method (Cephes `logf`): `x = 2ᵉ·m` with `m ∈ [√½, √2)`, `ln m` by a degree-9 polynomial
/// in `m − 1`, and `e·ln 2` added in two parts.
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
    // Subnormals: scale into the normal range first.
    let sub = x < f32::MIN_POSITIVE;
    let xs = if sub { x * 8_388_608.0 } else { x }; // 2²³
    let bits = xs.to_bits() as i32;
    let mut e = ((bits >> 23) & 0xff) - 126 - if sub { 23 } else { 0 };
    let m = f32::from_bits(((bits & 0x007f_ffff) | 0x3f00_0000) as u32); // [0.5, 1)
    let small = m < FRAC_1_SQRT_2;
    e -= i32::from(small);
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let r = ln_reduced_f32(f, e as f32);
    if x > 0.0 && x < f32::INFINITY {
        r
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// `ln(1 + f) + k·ln 2` for `f ∈ [√½ − 1, √2 − 1]`: the polynomial of [`ln_f32`] after its
/// range reduction (Cephes `logf`).
#[inline(always)]
fn ln_reduced_f32(f: f32, k: f32) -> f32 {
    let z = f * f;
    let mut y = 7.037_683_6e-2;
    y = y * f - 1.151_461e-1;
    y = y * f + 1.167_699_9e-1;
    y = y * f - 1.242_014_1e-1;
    y = y * f + 1.424_932_3e-1;
    y = y * f - 1.666_805_8e-1;
    y = y * f + 2.000_071_4e-1;
    y = y * f - 2.499_999_4e-1;
    y = y * f + 3.333_333e-1;
    let y = y * f * z - 2.121_944_4e-4 * k - 0.5 * z;
    f + y + 0.693_359_4 * k
}

/// `ln(1 + e)` in f32 for `e ∈ [0, 1]` (NaN kept): what the logistic and log-cosh kernels need
/// of `e = e^{−|x|}`, without [`ln_1p_f32`]'s division, bit manipulation or special cases.
/// Within 2 ulp of `f64::ln_1p` on the whole range (unit tests).
///
/// Method: below `√2 − 1`, `ln(1 + e)` is [`ln_f32`]'s polynomial at `f = e` itself (exact,
/// so nothing is lost to rounding `1 + e`); above, `ln 2 + ln(1 + f)` with `f = (e − 1)/2`.
#[inline(always)]
pub fn ln_1p_unit_f32(e: f32) -> f32 {
    let big = e > core::f32::consts::SQRT_2 - 1.0;
    let f = if big { (e - 1.0) * 0.5 } else { e };
    ln_reduced_f32(f, if big { 1.0 } else { 0.0 })
}

/// `ln x` in f64 by a branch-free polynomial that the compiler vectorises; the f64 twin of
/// [`ln_f32`] (within 1 ulp in the tests' sweep).
///
/// Method (fdlibm `log`): `x = 2ᵏ·m` with `m ∈ [√½, √2)`, `ln m = 2 atanh(s)`,
/// `s = (m − 1)/(m + 1)`, by its minimax series in `s²`.
#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2⁵⁴
    let bits = xs.to_bits() as i64;
    let mut k = ((bits >> 52) & 0x7ff) - 1022 - if sub { 54 } else { 0 };
    let m = f64::from_bits(((bits & 0x000f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000) as u64);
    let small = m < FRAC_1_SQRT_2;
    k -= i64::from(small);
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let v = ln_reduced_f64(f, k as f64);
    if x > 0.0 && x < f64::INFINITY {
        v
    } else if x == 0.0 {
        f64::NEG_INFINITY
    } else if x == f64::INFINITY {
        x
    } else {
        f64::NAN
    }
}

/// `ln(1 + f) + k·ln 2` for `f ∈ [√½ − 1, √2 − 1]`: [`ln_f64`] after its range reduction
/// (fdlibm `log`: `ln(1 + f) = 2 atanh(s)`, `s = f/(2 + f)`).
#[inline(always)]
fn ln_reduced_f64(f: f64, kf: f64) -> f64 {
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w
        * (3.999_999_999_940_942e-1
            + w * (2.222_219_843_214_978_4e-1 + w * 1.531_383_769_920_937_3e-1));
    let t2 = z
        * (6.666_666_666_666_735e-1
            + w * (2.857_142_874_366_239e-1
                + w * (1.818_357_216_161_805e-1 + w * 1.479_819_860_511_658_6e-1)));
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    kf * LN2_HI - ((hfsq - (s * (hfsq + r) + kf * LN2_LO)) - f)
}

/// `ln(1 + e)` in f64 for `e ∈ [0, 1]` (NaN kept); the twin of [`ln_1p_unit_f32`] (one
/// division, where [`ln_1p_f64`] has two).
#[inline(always)]
pub fn ln_1p_unit_f64(e: f64) -> f64 {
    let big = e > core::f64::consts::SQRT_2 - 1.0;
    let f = if big { (e - 1.0) * 0.5 } else { e };
    ln_reduced_f64(f, if big { 1.0 } else { 0.0 })
}

/// Defines `eˣ − 1` for one type: the reduction of [`exp_f32`], the Taylor polynomial of
/// `eʳ − 1` (coefficients `1/k!`, highest first, down to `1/2`), and the scaling
/// `2·(t·p + (t − ½))` with `t = 2ⁿ⁻¹`.
macro_rules! exp_m1 {
    ($(#[$doc:meta])* $name:ident, $t:ident, $i:ident, $u:ident, magic $magic:expr,
     ln2 $hi:expr, $lo:expr, clamp $cmin:expr, $cmax:expr, bias $bias:expr, shift $shift:expr,
     tiny $tiny:expr, coefficients $c0:expr $(, $c:expr)*) => {
        $(#[$doc])*
        #[inline(always)]
        pub fn $name(x: $t) -> $t {
            const LOG2E: $t = core::$t::consts::LOG2_E;
            const MAGIC: $t = $magic;
            let xc = x.clamp($cmin, $cmax);
            let t = xc * LOG2E + MAGIC;
            let n = t - MAGIC;
            let r = (xc - n * $hi) - n * $lo;
            let mut q: $t = $c0;
            $(q = q * r + $c;)*
            let p = q * (r * r) + r;
            let ni = (t.to_bits() as $i).wrapping_sub(MAGIC.to_bits() as $i);
            // 2ⁿ⁻¹ for every n the clamp allows: always a normal number.
            let s = $t::from_bits((ni.wrapping_add($bias).max(0) as $u) << $shift);
            let v = 2.0 * (s * p + (s - 0.5));
            // Where eˣ − 1 rounds to x (±0 and subnormals included, whose sign or last bits
            // the scaling would lose), x itself.
            if x.abs() < $tiny {
                x
            } else {
                v
            }
        }
    };
}

exp_m1!(
    /// `eˣ − 1` in f32 by a branch-free polynomial that the compiler vectorises, accurate for
    /// small `x` (where `exp(x) − 1` cancels).
    ///
    /// Within 2 ulp of the correctly rounded result wherever the unit tests sweep it (every
    /// 97th f32, compared with `f64::exp_m1` rounded to f32); `−0` and subnormals are returned
    /// as they are (as is any `|x| < 10⁻⁸`, where `eˣ − 1` rounds to `x`), `−1` for
    /// `x ≤ −17.4` and `−∞`, `+∞` past `88.72`, NaN kept.
    ///
    /// Method: `x = n·ln 2 + r` as in [`exp_f32`], `eʳ − 1` by its Taylor polynomial of degree
    /// 8 (truncation below 2⁻²⁸ relative on `|r| ≤ ½ln 2`), then `2ⁿ(eʳ − 1) + (2ⁿ − 1)`
    /// computed as `2·(t·p + (t − ½))` with `t = 2ⁿ⁻¹`, so `n = 128` does not overflow the
    /// scale and no step rounds more than the direct form. Below −30 the result is −1 to the
    /// last bit and the input is clamped there.
    exp_m1_f32, f32, i32, u32, magic 12_582_912.0,
    ln2 0.693_359_4, -2.121_944_4e-4, clamp -30.0, 89.0, bias 126, shift 23, tiny 1e-8,
    coefficients 1.0 / 40_320.0, 1.0 / 5_040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0,
    1.0 / 6.0, 0.5
);

exp_m1!(
    /// `eˣ − 1` in f64; the twin of [`exp_m1_f32`] (within 2 ulp of `f64::exp_m1` in the
    /// tests' sweep; `−1` below `−37.5`, `+∞` past `709.78`). `eʳ − 1` is its Taylor
    /// polynomial of degree 13.
    exp_m1_f64, f64, i64, u64, magic 6_755_399_441_055_744.0,
    ln2 6.931_471_803_691_238e-1, 1.908_214_929_270_587_7e-10, clamp -60.0, 710.0,
    bias 1022, shift 52, tiny 1e-17,
    coefficients 1.0 / 6_227_020_800.0, 1.0 / 479_001_600.0, 1.0 / 39_916_800.0,
    1.0 / 3_628_800.0, 1.0 / 362_880.0, 1.0 / 40_320.0, 1.0 / 5_040.0, 1.0 / 720.0,
    1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5
);

macro_rules! ln_1p_tanh {
    ($t:ident, $ln:ident, $em1:ident, $ln_1p:ident, $tanh:ident, $ulp_ln:literal, $ulp_tanh:literal) => {
        #[doc = concat!("`ln(1 + x)` in ", stringify!($t), " without a branch per element, \
            accurate for small `x`: within ", $ulp_ln, " ulp of `", stringify!($t),
            "::ln_1p` in the unit tests' sweep; `−∞` at −1, NaN below −1 and for NaN, `+∞` \
            at `+∞`, `−0` kept.\n\nMethod: `u = 1 + x` rounded, then \
            `ln u + (x − (u − 1))/u` (the second term restores what the rounding of `u` lost; \
            it is `x` itself when `u = 1`), with `ln` by [`", stringify!($ln), "`].")]
        #[inline(always)]
        pub fn $ln_1p(x: $t) -> $t {
            let u = 1.0 + x;
            let c = (x - (u - 1.0)) / u;
            let v = $ln(u) + c;
            if x == 0.0 || x == $t::INFINITY {
                x
            } else if u == 0.0 {
                $t::NEG_INFINITY
            } else {
                v
            }
        }

        #[doc = concat!("`tanh x` in ", stringify!($t), " without a branch per element: \
            within ", $ulp_tanh, " ulp of `", stringify!($t), "::tanh` in the unit tests' \
            sweep, `±1` at `±∞`, `±0` kept, NaN kept.\n\nMethod: with \
            `E = expm1(−2|x|)` by [`", stringify!($em1), "`], `tanh|x| = −E/(2 + E)`, then \
            the sign of `x`.")]
        #[inline(always)]
        pub fn $tanh(x: $t) -> $t {
            let e = $em1(-2.0 * x.abs());
            (-e / (2.0 + e)).copysign(x)
        }
    };
}
ln_1p_tanh!(f32, ln_f32, exp_m1_f32, ln_1p_f32, tanh_f32, "2", "3");
ln_1p_tanh!(f64, ln_f64, exp_m1_f64, ln_1p_f64, tanh_f64, "2", "3");

/// `arctan x` in f32 by a branch-free polynomial that the compiler vectorises (`std`'s
/// `atanf` is a call per element): within 2 ulp of the correctly rounded value in the unit
/// tests' sweep; `±π/2` at `±∞`, NaN kept.
///
/// Method (Cephes `atanf`): `|x| > tan(3π/8)` uses `π/2 + atan(−1/|x|)`, `|x| > tan(π/8)`
/// uses `π/4 + atan((|x| − 1)/(|x| + 1))`, so the polynomial (degree 9, odd) only sees
/// `|r| ≤ tan(π/8)`; the low part of π/2 or π/4 is added back, and the sign at the end. One
/// division either way.
#[inline(always)]
pub fn atan_f32(x: f32) -> f32 {
    let a = x.abs();
    let big = a > 2.414_213_6;
    let mid = a > 0.414_213_57;
    let (num, den) = if big { (-1.0, a) } else { (a - 1.0, a + 1.0) };
    let q = num / den;
    let r = if mid { q } else { a };
    // π/2 and π/4 as f32 plus their rounding errors (the result can be much smaller than
    // them, so their rounding would show).
    let (y0, lo) = if big {
        (core::f32::consts::FRAC_PI_2, -4.371_139e-8)
    } else if mid {
        (core::f32::consts::FRAC_PI_4, -2.185_569_5e-8)
    } else {
        (0.0, 0.0)
    };
    let z = r * r;
    let p =
        (((8.053_744_5e-2 * z - 1.387_768_6e-1) * z + 1.997_771_1e-1) * z - 3.333_295e-1) * z * r
            + r;
    (y0 + (p + lo)).copysign(x)
}

/// `arctan x` in f64 by a branch-free rational approximation that the compiler vectorises;
/// the f64 twin of [`atan_f32`]: within 2 ulp of `f64::atan` in the unit tests' sweep.
///
/// Method (Cephes `atan`): the same reduction with the thresholds `tan(3π/8)` and 0.66,
/// then `r + r·z·P(z)/Q(z)` with `z = r²` (degrees 4 and 5), and the low part of π/2 or π/4
/// added back.
#[inline(always)]
pub fn atan_f64(x: f64) -> f64 {
    const MOREBITS: f64 = 6.123_233_995_736_766e-17;
    let a = x.abs();
    let big = a > 2.414_213_562_373_095;
    let mid = a > 0.66;
    let (num, den) = if big { (-1.0, a) } else { (a - 1.0, a + 1.0) };
    let q = num / den;
    let r = if mid { q } else { a };
    let (y0, lo) = if big {
        (core::f64::consts::FRAC_PI_2, MOREBITS)
    } else if mid {
        (core::f64::consts::FRAC_PI_4, 0.5 * MOREBITS)
    } else {
        (0.0, 0.0)
    };
    let z = r * r;
    let p = (((-8.750_608_600_031_904e-1 * z - 1.615_753_718_733_365e1) * z
        - 7.500_855_792_314_705e1)
        * z
        - 1.228_866_684_490_136_2e2)
        * z
        - 6.485_021_904_942_026e1;
    let q = ((((z + 2.485_846_490_142_306_4e1) * z + 1.650_270_098_316_988_6e2) * z
        + 4.328_810_604_912_902_5e2)
        * z
        + 4.853_903_996_359_137e2)
        * z
        + 1.945_506_571_482_614e2;
    let t = r * (z * p / q) + r + lo;
    (y0 + t).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in ulps between two finite f32 of the same sign (or both zero).
    fn ulps32(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    #[test]
    fn exp_f32_is_within_two_ulp_of_the_correctly_rounded_value() {
        // Every 211th f32 of the whole range, against f64::exp rounded to f32.
        let (mut worst, mut at) = (0u32, 0.0f32);
        for bits in (0u32..0xffff_ffff).step_by(211) {
            let x = f32::from_bits(bits);
            let got = exp_f32(x);
            if x.is_nan() {
                assert!(got.is_nan());
                continue;
            }
            let want = (x as f64).exp() as f32;
            if x < -86.99 {
                // The flush: 0, or the right value near the threshold.
                assert!(
                    got == 0.0 || ulps32(got, want) <= 2,
                    "x = {x:e}: {got:e} vs {want:e}"
                );
                if x < -87.7 {
                    assert_eq!(got, 0.0, "x = {x:e}");
                }
                continue;
            }
            let d = ulps32(got, want);
            if d > worst {
                worst = d;
                at = x;
            }
        }
        assert!(worst <= 2, "worst {worst} ulp at x = {at:e}");
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(-1e4), 0.0);
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(88.8), f32::INFINITY);
        assert_eq!(exp_f32(88.7), 88.7f32.exp());
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(f32::from_bits(0x7fc0_1234)).is_nan());
    }

    #[test]
    fn exp_f64_is_within_two_ulp_of_std() {
        let (mut worst, mut at) = (0u64, 0.0f64);
        let mut x = -708.0f64;
        while x < 709.7 {
            let want = x.exp();
            let got = exp_f64(x);
            let d = (got.to_bits() as i128 - want.to_bits() as i128).unsigned_abs() as u64;
            if d > worst {
                worst = d;
                at = x;
            }
            x += 0.000_731_3;
        }
        assert!(worst <= 2, "worst {worst} ulp at x = {at:e}");
        assert_eq!(exp_f64(0.0), 1.0);
        assert_eq!(exp_f64(-709.5), 0.0);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(709.8), f64::INFINITY);
        assert!(exp_f64(f64::NAN).is_nan());
    }

    #[test]
    fn ln_f32_is_within_one_ulp() {
        let (mut worst, mut at) = (0u32, 0.0f32);
        for bits in (1u32..0x7f80_0000).step_by(211) {
            let x = f32::from_bits(bits);
            let want = (x as f64).ln() as f32;
            let got = ln_f32(x);
            let d = ulps32(got, want);
            if d > worst {
                worst = d;
                at = x;
            }
        }
        assert!(worst <= 1, "worst {worst} ulp at x = {at:e}");
        assert_eq!(ln_f32(1.0), 0.0);
        assert_eq!(ln_f32(0.0), f32::NEG_INFINITY);
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert!(ln_f32(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
        assert_eq!(
            ln_f32(f32::from_bits(1)),
            (f32::from_bits(1) as f64).ln() as f32
        );
    }

    #[test]
    fn ln_f64_is_within_one_ulp() {
        let (mut worst, mut at) = (0u64, 0.0f64);
        for i in 0..2_000_000u64 {
            // Log-spaced over the whole positive range, subnormals included.
            let x = f64::from_bits(1 + i * (0x7fef_ffff_ffff_ffffu64 / 2_000_000));
            let got = ln_f64(x);
            let want = x.ln();
            let d = (got.to_bits() as i128 - want.to_bits() as i128).unsigned_abs() as u64;
            if d > worst {
                worst = d;
                at = x;
            }
        }
        assert!(worst <= 1, "worst {worst} ulp at x = {at:e}");
        assert_eq!(ln_f64(1.0), 0.0);
        assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
        assert!(ln_f64(-2.0).is_nan());
    }

    /// Signed ulp distance of two f32 (any signs; NaN must be handled by the caller).
    fn ulp_dist32(a: f32, b: f32) -> u64 {
        let key = |v: f32| {
            let b = v.to_bits() as i64;
            if b & 0x8000_0000 != 0 {
                0x8000_0000 - b
            } else {
                b
            }
        };
        (key(a) - key(b)).unsigned_abs()
    }

    fn ulp_dist64(a: f64, b: f64) -> u64 {
        let key = |v: f64| {
            let b = v.to_bits() as i128;
            if b & (1 << 63) != 0 {
                (1i128 << 63) - b
            } else {
                b
            }
        };
        (key(a) - key(b)).unsigned_abs() as u64
    }

    /// The worst distance of `got` from `want` over every `step`-th f32 bit pattern (both
    /// signs, subnormals, infinities), NaN required where `want` is NaN.
    fn sweep32(step: usize, got: impl Fn(f32) -> f32, want: impl Fn(f64) -> f64) -> (u64, f32) {
        let (mut worst, mut at) = (0u64, 0.0f32);
        for bits in (0u32..=0xffff_ffff).step_by(step) {
            let x = f32::from_bits(bits);
            let (g, w) = (got(x), want(x as f64) as f32);
            if w.is_nan() || x.is_nan() {
                assert!(g.is_nan(), "x = {x:e}: {g:e}, want NaN");
                continue;
            }
            assert!(!g.is_nan(), "x = {x:e}: NaN, want {w:e}");
            let d = ulp_dist32(g, w);
            if d > worst {
                worst = d;
                at = x;
            }
        }
        (worst, at)
    }

    /// As [`sweep32`] for f64: `count` log-spaced points over both signs, against std.
    fn sweep64(count: u64, got: impl Fn(f64) -> f64, want: impl Fn(f64) -> f64) -> (u64, f64) {
        let (mut worst, mut at) = (0u64, 0.0f64);
        for i in 0..count {
            let mag = f64::from_bits(1 + i * (0x7fef_ffff_ffff_ffffu64 / count));
            for x in [mag, -mag] {
                let (g, w) = (got(x), want(x));
                if w.is_nan() {
                    assert!(g.is_nan(), "x = {x:e}: {g:e}, want NaN");
                    continue;
                }
                let d = ulp_dist64(g, w);
                if d > worst {
                    worst = d;
                    at = x;
                }
            }
        }
        (worst, at)
    }

    /// The special values every function is checked at, with `f` and its std twin: NaN where
    /// std gives NaN, else within 1 ulp and of the same sign.
    macro_rules! specials {
        ($name:ident, $t:ident, $dist:ident) => {
            fn $name(f: impl Fn($t) -> $t, std: impl Fn($t) -> $t) {
                let tiny = $t::from_bits(1);
                for x in [
                    0.0,
                    -0.0,
                    tiny,
                    -tiny,
                    $t::MIN_POSITIVE,
                    1.0,
                    -1.0,
                    $t::MAX,
                    $t::MIN,
                    $t::INFINITY,
                    $t::NEG_INFINITY,
                    $t::NAN,
                ] {
                    let (g, w) = (f(x), std(x));
                    assert!(
                        (g.is_nan() && w.is_nan())
                            || $dist(g, w) <= 1 && g.is_sign_negative() == w.is_sign_negative(),
                        "x = {x:e}: {g:e} vs std {w:e}"
                    );
                }
            }
        };
    }
    specials!(specials32, f32, ulp_dist32);
    specials!(specials64, f64, ulp_dist64);

    #[test]
    fn exp_m1_is_within_two_ulp() {
        let (w, at) = sweep32(97, exp_m1_f32, f64::exp_m1);
        assert!(w <= 2, "f32: worst {w} ulp at {at:e}");
        let (w, at) = sweep64(400_000, exp_m1_f64, f64::exp_m1);
        assert!(w <= 2, "f64: worst {w} ulp at {at:e}");
        // Dense around the reduction boundaries and 0, where the method changes.
        let mut x = -40.0f64;
        while x < 40.0 {
            assert!(ulp_dist64(exp_m1_f64(x), x.exp_m1()) <= 2, "{x}");
            x += 0.000_913;
        }
        specials32(exp_m1_f32, f32::exp_m1);
        specials64(exp_m1_f64, f64::exp_m1);
    }

    #[test]
    fn ln_1p_is_within_two_ulp() {
        let (w, at) = sweep32(97, ln_1p_f32, f64::ln_1p);
        assert!(w <= 2, "f32: worst {w} ulp at {at:e}");
        let (w, at) = sweep64(400_000, ln_1p_f64, f64::ln_1p);
        assert!(w <= 2, "f64: worst {w} ulp at {at:e}");
        // Near −1 and 0.
        for i in 1..100_000u64 {
            let x = -1.0 + i as f64 * 1e-5;
            assert!(ulp_dist64(ln_1p_f64(x), x.ln_1p()) <= 2, "{x}");
        }
        specials32(ln_1p_f32, f32::ln_1p);
        specials64(ln_1p_f64, f64::ln_1p);
        assert_eq!(ln_1p_f64(-1.0), f64::NEG_INFINITY);
        assert!(ln_1p_f32(-1.5).is_nan() && ln_1p_f64(-2.0).is_nan());
    }

    #[test]
    fn ln_1p_unit_is_within_two_ulp_on_the_unit_interval() {
        let (mut w32, mut w64) = (0u64, 0u64);
        for i in 0..=1_000_000u32 {
            let e = i as f64 / 1e6;
            let e32 = e as f32;
            w32 = w32.max(ulp_dist32(
                ln_1p_unit_f32(e32),
                f64::from(e32).ln_1p() as f32,
            ));
            w64 = w64.max(ulp_dist64(ln_1p_unit_f64(e), e.ln_1p()));
        }
        // Tiny and subnormal e: ln(1 + e) rounds to e.
        for e in [1e-30f64, 1e-300, 5e-324, f64::MIN_POSITIVE] {
            w64 = w64.max(ulp_dist64(ln_1p_unit_f64(e), e.ln_1p()));
        }
        for e in [1e-30f32, 1e-40, f32::MIN_POSITIVE] {
            w32 = w32.max(ulp_dist32(ln_1p_unit_f32(e), e.ln_1p()));
        }
        assert!(w32 <= 2 && w64 <= 2, "{w32} {w64}");
        assert_eq!((ln_1p_unit_f32(0.0), ln_1p_unit_f64(0.0)), (0.0, 0.0));
        assert!(ln_1p_unit_f32(f32::NAN).is_nan() && ln_1p_unit_f64(f64::NAN).is_nan());
    }

    #[test]
    fn tanh_is_within_three_ulp() {
        let (w, at) = sweep32(97, tanh_f32, f64::tanh);
        assert!(w <= 3, "f32: worst {w} ulp at {at:e}");
        let (w, at) = sweep64(400_000, tanh_f64, f64::tanh);
        assert!(w <= 3, "f64: worst {w} ulp at {at:e}");
        let mut x = -25.0f64;
        while x < 25.0 {
            assert!(ulp_dist64(tanh_f64(x), x.tanh()) <= 3, "{x}");
            x += 0.000_913;
        }
        specials32(tanh_f32, f32::tanh);
        specials64(tanh_f64, f64::tanh);
    }

    #[test]
    fn atan_is_within_two_ulp() {
        let (mut w32, mut at32) = (0u32, 0.0f32);
        for i in 0..1_000_000u32 {
            // Log-spaced over the positive f32 range; the sign is a copysign.
            let x = f32::from_bits(1 + i * (0x7f7f_ffff / 1_000_000));
            let want = (x as f64).atan() as f32;
            let d = ulps32(atan_f32(x), want);
            if d > w32 {
                (w32, at32) = (d, x);
            }
        }
        assert!(w32 <= 2, "f32: worst {w32} ulp at x = {at32:e}");
        let (mut w64, mut at64) = (0u64, 0.0f64);
        for i in 0..1_000_000u64 {
            let x = f64::from_bits(1 + i * (0x7fef_ffff_ffff_ffffu64 / 1_000_000));
            let d = (atan_f64(x).to_bits() as i128 - x.atan().to_bits() as i128).unsigned_abs();
            if d as u64 > w64 {
                (w64, at64) = (d as u64, x);
            }
        }
        assert!(w64 <= 2, "f64: worst {w64} ulp at x = {at64:e}");
        assert_eq!(atan_f32(f32::INFINITY), core::f32::consts::FRAC_PI_2);
        assert_eq!(atan_f64(f64::NEG_INFINITY), -core::f64::consts::FRAC_PI_2);
        assert_eq!(atan_f64(-0.0).to_bits(), (-0.0f64).to_bits());
        assert!(atan_f32(f32::NAN).is_nan() && atan_f64(f64::NAN).is_nan());
    }
}
