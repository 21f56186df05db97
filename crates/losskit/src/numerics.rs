//! Shared numerics: the stable identities every kernel calls, and deterministic reductions.
//!
//! A kernel that needs one of these identities calls it here; it never re-derives it.
//! Sums run over fixed-size chunks whose partial sums are added in chunk order, in `f64`,
//! so the same input gives the same bits whatever the number of threads.

use core::ops::Range;

use crate::real::Real;

/// `softplus(x) = ln(1 + eˣ)`, finite for every finite `x`.
///
/// Computed as `max(x, 0) + ln(1 + e^{−|x|})`: the exponent is never positive, so nothing
/// overflows, and `ln_1p` keeps the small tail accurate.
#[inline(always)]
pub fn softplus<T: Real>(x: T) -> T {
    x.max(T::ZERO) + (-x.abs()).exp().ln_1p()
}

/// `ln σ(x) = −softplus(−x)`, finite for every finite `x`.
#[inline(always)]
pub fn log_sigmoid<T: Real>(x: T) -> T {
    -softplus(-x)
}

/// The logistic function `σ(x) = 1 / (1 + e^{−x})`.
///
/// Evaluated through `e^{−|x|}` so the exponential never overflows; `1 − σ(x)` is `σ(−x)`,
/// which keeps its relative accuracy where `1 − σ(x)` would cancel to 0.
#[inline(always)]
pub fn sigmoid<T: Real>(x: T) -> T {
    let e = (-x.abs()).exp();
    if x >= T::ZERO {
        T::ONE / (T::ONE + e)
    } else {
        e / (T::ONE + e)
    }
}

/// The probabilities and log-probabilities of a Bernoulli variable with logit `x`: what every
/// sigmoid-based loss needs, from one exponential and one `ln_1p`.
///
/// Every field keeps its relative accuracy in both tails: `q` is computed as σ(−x), never as
/// `1 − σ(x)` (which cancels to 0 for x ≳ 17 in f32), and the logs never take the log of a
/// rounded probability. At `x = ±∞` the fields are the limits (`p = 1, q = 0, log_p = 0,
/// log_q = −∞` at +∞); NaN gives NaN in every field.
///
/// ```
/// use losskit::numerics::logistic;
/// let b = logistic(40.0f64);
/// assert_eq!(b.p, 1.0);
/// assert!((b.q - (-40.0f64).exp()).abs() < 1e-30); // 1 − σ(40) would be 0
/// assert_eq!(b.log_q, -40.0 - (-40.0f64).exp().ln_1p());
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Logistic<T> {
    /// σ(x).
    pub p: T,
    /// 1 − σ(x), computed as σ(−x).
    pub q: T,
    /// ln σ(x) = −softplus(−x).
    pub log_p: T,
    /// ln(1 − σ(x)) = −softplus(x).
    pub log_q: T,
}

/// σ(x), σ(−x), ln σ(x) and ln σ(−x) of a logit, sharing one `e^{−|x|}` (see [`Logistic`]).
#[inline(always)]
pub fn logistic<T: Real>(x: T) -> Logistic<T> {
    // e^{−|x|} ∈ [0, 1] never overflows; both tails are built from it.
    let e = (-x.abs()).exp();
    let l = e.ln_1p();
    let d = T::ONE + e;
    let (big, small) = (T::ONE / d, e / d);
    let pos = x >= T::ZERO;
    Logistic {
        p: if pos { big } else { small },
        q: if pos { small } else { big },
        // The same operations as `log_sigmoid`/`softplus`, so the results agree to the bit.
        log_p: -((-x).max(T::ZERO) + l),
        log_q: -(x.max(T::ZERO) + l),
    }
}

/// `ln(eᵃ + eᵇ)` without overflow or underflow: the larger argument is taken out first.
///
/// Exact when one argument is −∞ (the other is returned); −∞ when both are (the log of 0).
#[inline(always)]
pub fn log_add_exp<T: Real>(a: T, b: T) -> T {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if hi == lo {
        // Also covers two equal infinities, where `lo − hi` would be NaN.
        return hi + T::LN_2;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `ln cosh(x)`, finite for every finite `x` and accurate to a few ulp everywhere.
///
/// `cosh` overflows at |x| ≈ 89 in f32 and 710 in f64; `|x| + ln(1 + e^{−2|x|}) − ln 2` never
/// does, but near 0 it cancels (absolute error ≈ ε where the value is x²/2). Below |x| = 1
/// the identity `cosh x − 1 = 2 sinh²(x/2)` gives `ln_1p(2 sinh²(x/2))`, which keeps full
/// relative accuracy down to the smallest x.
#[inline(always)]
pub fn log_cosh<T: Real>(x: T) -> T {
    let a = x.abs();
    if a < T::ONE {
        let s = (T::HALF * a).sinh();
        (T::TWO * s * s).ln_1p()
    } else {
        a + (-(a + a)).exp().ln_1p() - T::LN_2
    }
}

/// `ln Σ exp(xᵢ)` over a row, with the row's maximum taken out first so no term overflows.
///
/// An empty row gives −∞ (the log of an empty sum); a row whose maximum is ±∞ gives that
/// maximum.
pub fn log_sum_exp<T: Real>(row: &[T]) -> T {
    let m = row.iter().copied().fold(-T::INFINITY, T::max);
    if !m.is_finite() {
        return m;
    }
    let s: T = row.iter().map(|&x| (x - m).exp()).sum();
    m + s.ln()
}

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
    let ef = e as f32;
    let y = y * f * z - 2.121_944_4e-4 * ef - 0.5 * z;
    let r = f + y + 0.693_359_4 * ef;
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

/// `ln x` in f64 by a branch-free polynomial that the compiler vectorises; the f64 twin of
/// [`ln_f32`] (within 1 ulp in the tests' sweep).
///
/// Method (fdlibm `log`): `x = 2ᵏ·m` with `m ∈ [√½, √2)`, `ln m = 2 atanh(s)`,
/// `s = (m − 1)/(m + 1)`, by its minimax series in `s²`.
#[inline(always)]
pub fn ln_f64(x: f64) -> f64 {
    const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let sub = x < f64::MIN_POSITIVE;
    let xs = if sub { x * 18_014_398_509_481_984.0 } else { x }; // 2⁵⁴
    let bits = xs.to_bits() as i64;
    let mut k = ((bits >> 52) & 0x7ff) - 1022 - if sub { 54 } else { 0 };
    let m = f64::from_bits(((bits & 0x000f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000) as u64);
    let small = m < FRAC_1_SQRT_2;
    k -= i64::from(small);
    let f = if small { m + m - 1.0 } else { m - 1.0 };
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
    let kf = k as f64;
    let v = kf * LN2_HI - ((hfsq - (s * (hfsq + r) + kf * LN2_LO)) - f);
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

/// A kernel call that [`simd`] compiles for the widest vector instruction set the CPU
/// offers. Implementations mark `call` `#[inline(always)]` (as must be everything it calls
/// that should vectorise), so its body is generated inside the target-feature function.
pub(crate) trait SimdCall {
    /// What the kernel returns.
    type Output;
    /// Runs the kernel.
    fn call(self) -> Self::Output;
}

/// Runs `k` compiled for AVX2 on x86-64 CPUs that have it, for the baseline otherwise.
///
/// The loops of the kernels vectorise 8 `f32` lanes wide instead of the baseline's 4. They
/// are written so the result is the same at every width: their lane arrays fix the order of
/// every sum, and no fused multiply-adds are introduced (FMA is not enabled, and Rust does
/// not contract `a * b + c`).
#[inline(always)]
pub(crate) fn simd<K: SimdCall>(k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(test)]
        let baseline = BASELINE_ONLY.load(std::sync::atomic::Ordering::Relaxed);
        #[cfg(not(test))]
        let baseline = false;
        if !baseline && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, the only feature `x86::avx2` is compiled for.
            return unsafe { x86::avx2(k) };
        }
    }
    k.call()
}

/// Unit tests set this to run the baseline code on a CPU with AVX2 (both must give the same
/// bits).
#[cfg(test)]
pub(crate) static BASELINE_ONLY: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::SimdCall;

    /// `k.call()`, with AVX2 code generation.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2<K: SimdCall>(k: K) -> K::Output {
        k.call()
    }
}

/// The chunk length of every reduction. Fixed, so the summation order never depends on the
/// thread count.
pub(crate) const CHUNK: usize = 1 << 14;

/// Inputs at least this long are split over threads (when the `parallel` feature is on);
/// below it, thread start-up costs more than it saves.
#[cfg(feature = "parallel")]
const PARALLEL_MIN: usize = 1 << 17;

/// Eight `f64` accumulators, filled round-robin, combined pairwise at the end: independent
/// add chains for speed, `f64` for accuracy.
#[derive(Clone, Copy, Default)]
pub(crate) struct Lanes(pub(crate) [f64; 8]);

impl Lanes {
    /// Adds `v` to lane `l % 8`.
    #[inline(always)]
    pub(crate) fn add(&mut self, l: usize, v: f64) {
        self.0[l & 7] += v;
    }

    /// The total.
    #[inline(always)]
    pub(crate) fn total(self) -> f64 {
        let a = self.0;
        ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
    }
}

/// Folds `f(chunk)` over the fixed chunks of `0..n`, in chunk order.
///
/// With the `parallel` feature, long inputs compute their chunks on several threads; the
/// partial results are still combined left to right, so the result does not depend on the
/// thread count.
pub(crate) fn chunked_fold<P, F, C>(n: usize, init: P, f: F, combine: C) -> P
where
    P: Send,
    F: Fn(Range<usize>) -> P + Sync,
    C: Fn(P, P) -> P,
{
    let chunks = n.div_ceil(CHUNK);
    let range = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);
    #[cfg(feature = "parallel")]
    if n >= PARALLEL_MIN {
        use rayon::prelude::*;
        let partial: Vec<P> = (0..chunks).into_par_iter().map(|c| f(range(c))).collect();
        return partial.into_iter().fold(init, combine);
    }
    (0..chunks).map(|c| f(range(c))).fold(init, combine)
}

/// Like [`chunked_fold`], also handing each chunk its part of `out` (as long as the input)
/// to write.
pub(crate) fn chunked_fold_mut<T, P, F, C>(out: &mut [T], init: P, f: F, combine: C) -> P
where
    T: Send,
    P: Send,
    F: Fn(Range<usize>, &mut [T]) -> P + Sync,
    C: Fn(P, P) -> P,
{
    #[cfg(feature = "parallel")]
    if out.len() >= PARALLEL_MIN {
        use rayon::prelude::*;
        let partial: Vec<P> = out
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(c, o)| f(c * CHUNK..c * CHUNK + o.len(), o))
            .collect();
        return partial.into_iter().fold(init, combine);
    }
    out.chunks_mut(CHUNK)
        .enumerate()
        .map(|(c, o)| f(c * CHUNK..c * CHUNK + o.len(), o))
        .fold(init, combine)
}

/// How many rows of `work_per_row` elements make one chunk (at least one row).
#[inline]
fn rows_per_chunk(work_per_row: usize) -> usize {
    (CHUNK / work_per_row.max(1)).max(1)
}

/// Folds `f(rows)` over chunks of whole rows (`rows` rows of `work_per_row` input
/// elements each), in chunk order. Chunks hold about [`CHUNK`] elements; their boundaries
/// depend on the shape only, so the result does not depend on the thread count.
pub(crate) fn rows_fold<P, F, C>(rows: usize, work_per_row: usize, init: P, f: F, combine: C) -> P
where
    P: Send,
    F: Fn(Range<usize>) -> P + Sync,
    C: Fn(P, P) -> P,
{
    let per = rows_per_chunk(work_per_row);
    let chunks = rows.div_ceil(per);
    let range = |k: usize| k * per..((k + 1) * per).min(rows);
    #[cfg(feature = "parallel")]
    if rows.saturating_mul(work_per_row) >= PARALLEL_MIN && chunks > 1 {
        use rayon::prelude::*;
        let partial: Vec<P> = (0..chunks).into_par_iter().map(|k| f(range(k))).collect();
        return partial.into_iter().fold(init, combine);
    }
    (0..chunks).map(|k| f(range(k))).fold(init, combine)
}

/// Like [`rows_fold`], also handing each chunk its rows of `out` (`out_per_row` elements
/// per row) to write. The chunks are those of [`rows_fold`] with the same `work_per_row`.
pub(crate) fn rows_fold_mut<T, P, F, C>(
    out: &mut [T],
    out_per_row: usize,
    rows: usize,
    work_per_row: usize,
    init: P,
    f: F,
    combine: C,
) -> P
where
    T: Send,
    P: Send,
    F: Fn(Range<usize>, &mut [T]) -> P + Sync,
    C: Fn(P, P) -> P,
{
    debug_assert_eq!(out.len(), rows * out_per_row);
    if out_per_row == 0 {
        return rows_fold(rows, work_per_row, init, |r| f(r, &mut []), combine);
    }
    let per = rows_per_chunk(work_per_row);
    let len = per * out_per_row;
    #[cfg(feature = "parallel")]
    if rows.saturating_mul(work_per_row) >= PARALLEL_MIN && rows > per {
        use rayon::prelude::*;
        let partial: Vec<P> = out
            .par_chunks_mut(len)
            .enumerate()
            .map(|(k, o)| f(k * per..k * per + o.len() / out_per_row, o))
            .collect();
        return partial.into_iter().fold(init, combine);
    }
    out.chunks_mut(len)
        .enumerate()
        .map(|(k, o)| f(k * per..k * per + o.len() / out_per_row, o))
        .fold(init, combine)
}

/// `Σ f(chunk)` over the fixed chunks of `0..n`, in `f64`, in chunk order.
#[allow(dead_code)] // for the families beyond regression
pub(crate) fn chunked_sum<F>(n: usize, f: F) -> f64
where
    F: Fn(Range<usize>) -> f64 + Sync,
{
    chunked_fold(n, 0.0, f, |a, b| a + b)
}

/// `Σ f(i)` for `i` in `0..len`, into eight `f64` lanes. Call it with slices re-sliced to
/// `len` so the compiler can drop the bounds checks.
#[inline(always)]
pub(crate) fn lane_sum(len: usize, mut f: impl FnMut(usize) -> f64) -> f64 {
    let mut lanes = Lanes::default();
    let mut i = 0;
    while i + 8 <= len {
        for l in 0..8 {
            lanes.0[l] += f(i + l);
        }
        i += 8;
    }
    for (l, j) in (i..len).enumerate() {
        lanes.add(l, f(j));
    }
    lanes.total()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softplus_is_stable_and_matches_naive_in_safe_range() {
        for &x in &[-30.0f64, -3.0, -0.5, 0.0, 0.5, 3.0, 30.0] {
            let naive = (1.0 + x.exp()).ln();
            assert!(
                (softplus(x) - naive).abs() <= 1e-15 * naive.abs().max(1.0),
                "{x}"
            );
        }
        assert_eq!(softplus(1e4f32), 1e4);
        assert_eq!(softplus(-1e4f32), 0.0);
        assert!((softplus(-50.0f64) - (-50.0f64).exp()).abs() < 1e-30);
    }

    #[test]
    fn sigmoid_tails_keep_relative_accuracy() {
        assert_eq!(sigmoid(0.0f32), 0.5);
        let s = sigmoid(-50.0f64);
        assert!(((s - (-50.0f64).exp()) / s).abs() < 1e-15);
        assert_eq!(sigmoid(1e4f32), 1.0);
        assert_eq!(sigmoid(-1e4f32), 0.0);
        assert!((log_sigmoid(-1e4f64) + 1e4).abs() < 1e-12);
    }

    #[test]
    fn logistic_agrees_with_the_single_identities_and_keeps_both_tails() {
        for &x in &[-800.0f64, -50.0, -3.0, -0.0, 0.0, 0.5, 17.0, 50.0, 800.0] {
            let b = logistic(x);
            assert_eq!(b.p, sigmoid(x), "{x}");
            assert_eq!(b.q, sigmoid(-x), "{x}");
            assert_eq!(b.log_p, log_sigmoid(x), "{x}");
            assert_eq!(b.log_q, log_sigmoid(-x), "{x}");
        }
        let b = logistic(30.0f32);
        assert_eq!(b.p, 1.0);
        assert!(b.q > 0.0 && ((b.q - (-30.0f32).exp()) / b.q).abs() < 1e-6);
        let inf = logistic(f64::INFINITY);
        assert_eq!(
            (inf.p, inf.q, inf.log_p, inf.log_q),
            (1.0, 0.0, 0.0, f64::NEG_INFINITY)
        );
        let ninf = logistic(f64::NEG_INFINITY);
        assert_eq!(
            (ninf.p, ninf.q, ninf.log_p, ninf.log_q),
            (0.0, 1.0, f64::NEG_INFINITY, 0.0)
        );
        let nan = logistic(f32::NAN);
        assert!(nan.p.is_nan() && nan.q.is_nan() && nan.log_p.is_nan() && nan.log_q.is_nan());
    }

    #[test]
    fn log_add_exp_handles_infinities() {
        assert_eq!(log_add_exp(f64::NEG_INFINITY, -3.0), -3.0);
        assert_eq!(log_add_exp(-3.0, f64::NEG_INFINITY), -3.0);
        assert_eq!(
            log_add_exp(f64::NEG_INFINITY, f64::NEG_INFINITY),
            f64::NEG_INFINITY
        );
        assert_eq!(log_add_exp(f64::INFINITY, f64::INFINITY), f64::INFINITY);
        assert_eq!(log_add_exp(0.0f64, 0.0), core::f64::consts::LN_2);
        assert_eq!(log_add_exp(-1e4f32, -1e4), -1e4 + core::f32::consts::LN_2);
        let v = log_add_exp(-1.0f64, -2.0);
        assert!((v - ((-1.0f64).exp() + (-2.0f64).exp()).ln()).abs() < 1e-15);
        assert!(log_add_exp(f64::NAN, 0.0).is_nan() && log_add_exp(0.0, f64::NAN).is_nan());
    }

    #[test]
    fn log_cosh_never_overflows() {
        assert_eq!(log_cosh(0.0f32), 0.0);
        let v = log_cosh(100.0f64);
        assert!((v - 99.306_852_819_440_05).abs() < 1e-12, "{v}");
        assert!(log_cosh(1e4f32).is_finite());
        for &x in &[-5.0f64, 0.999, 1.0, 2.0] {
            let naive = x.cosh().ln();
            assert!(
                (log_cosh(x) - naive).abs() <= 4.0 * f64::EPSILON * naive,
                "{x}"
            );
        }
        // Small x: the Taylor series x²/2 − x⁴/12 + x⁶/45 − 17x⁸/2520 is the reference
        // (the naive form loses digits to cosh's rounding there).
        for &x in &[-0.01f64, 1e-3, 0.02] {
            let series =
                x * x / 2.0 - x.powi(4) / 12.0 + x.powi(6) / 45.0 - 17.0 * x.powi(8) / 2520.0;
            assert!(
                (log_cosh(x) - series).abs() <= 4.0 * f64::EPSILON * series,
                "{x}"
            );
        }
        // Where cosh rounds to 1, the value is x²/2 to full relative accuracy.
        assert!((log_cosh(1e-8f64) / 5e-17 - 1.0).abs() <= 4.0 * f64::EPSILON);
        assert!((log_cosh(1e-3f32) / 5e-7 - 1.0).abs() <= 4.0 * f32::EPSILON);
    }

    #[test]
    fn log_sum_exp_takes_the_max_out() {
        let r = log_sum_exp(&[10.0f64, 0.0, -100.0]);
        assert!((r - (10.0 + (1.0 + (-10.0f64).exp() + (-110.0f64).exp()).ln())).abs() < 1e-14);
        assert_eq!(log_sum_exp(&[1e4f32, 0.0]), 1e4);
        assert_eq!(log_sum_exp::<f32>(&[]), f32::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY, 3.0]), 3.0);
    }

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

    #[test]
    fn chunked_sums_do_not_depend_on_threads() {
        let n = 3 * CHUNK + 17;
        let f = |r: Range<usize>| r.map(|i| 1.0 / (1.0 + i as f64)).sum::<f64>();
        let a = chunked_sum(n, f);
        let serial: f64 = (0..n.div_ceil(CHUNK))
            .map(|c| f(c * CHUNK..((c + 1) * CHUNK).min(n)))
            .sum();
        assert_eq!(a.to_bits(), serial.to_bits());
        let mut out = vec![0.0f64; n];
        let b = chunked_fold_mut(
            &mut out,
            0.0,
            |r, o| {
                for (i, slot) in r.clone().zip(o.iter_mut()) {
                    *slot = i as f64;
                }
                f(r)
            },
            |x, y| x + y,
        );
        assert_eq!(a.to_bits(), b.to_bits());
        assert_eq!(out[n - 1], (n - 1) as f64);
    }

    #[test]
    fn lane_sum_adds_every_element_once() {
        for len in [0usize, 1, 7, 8, 9, 31] {
            let s = lane_sum(len, |i| (i + 1) as f64);
            assert_eq!(s, (len * (len + 1) / 2) as f64);
        }
    }
}
