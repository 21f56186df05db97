//! Shared numerics: the stable identities every kernel calls, and deterministic reductions.
//!
//! A kernel that needs one of these identities calls it here; it never re-derives it.
//! Sums run over fixed-size chunks whose partial sums are added in chunk order, in `f64`,
//! so the same input gives the same bits whatever the number of threads.

use core::ops::Range;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::real::Real;

/// `softplus(x) = ln(1 + eˣ)`, finite for every finite `x`.
///
/// Computed as `max(x, 0) + ln(1 + e^{−|x|})`: the exponent is never positive, so nothing
/// overflows, and `ln_1p` keeps the small tail accurate. The exponential and `ln_1p` are the
/// branch-free [`Real::exp_fast`] / [`Real::ln_1p_unit_fast`], so loops over it vectorise
/// (within 2 ulp each of the libm functions).
#[inline(always)]
pub fn softplus<T: Real>(x: T) -> T {
    x.max(T::ZERO) + ln_1p_recip((-x.abs()).exp_fast()).0
}

/// `(ln(1 + e), 1/(1 + e))` for `e ∈ [0, 1]` (or NaN): the log by
/// [`Real::ln_1p_unit_fast`] (no division in f32), the reciprocal the one division the
/// sigmoid (or tanh) built on it needs.
#[inline(always)]
fn ln_1p_recip<T: Real>(e: T) -> (T, T) {
    (e.ln_1p_unit_fast(), T::ONE / (T::ONE + e))
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
    let e = (-x.abs()).exp_fast();
    let r = T::ONE / (T::ONE + e);
    if x >= T::ZERO {
        r
    } else {
        e * r
    }
}

/// `σ(x)` by the same identity as [`sigmoid`], with the vectorised exponential
/// ([`Real::exp_fast`], within an ulp of `exp`): for kernels that apply a sigmoid to every
/// element of a large input (the segmentation losses' activation).
#[inline(always)]
pub fn sigmoid_fast<T: Real>(x: T) -> T {
    // `sigmoid` itself now uses the vectorised exponential: the same operations, the same bits.
    sigmoid(x)
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
    let e = (-x.abs()).exp_fast();
    // One division for all four: ln(1 + e) and 1/(1 + e) share it.
    let (l, big) = ln_1p_recip(e);
    let small = e * big;
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
    // Selects only, no branch: loops over it vectorise. A NaN operand makes `a >= b` false
    // and lands in `hi` or `lo`, so the result is NaN.
    let ge = a >= b;
    let (hi, lo) = (if ge { a } else { b }, if ge { b } else { a });
    let v = hi + (lo - hi).exp_fast().ln_1p_unit_fast();
    if hi == lo {
        // Also covers two equal infinities, where `lo − hi` would be NaN.
        hi + T::LN_2
    } else {
        v
    }
}

/// `ln cosh(x)`, finite for every finite `x` and accurate to a few ulp everywhere.
///
/// `cosh` overflows at |x| ≈ 89 in f32 and 710 in f64; `|x| + ln(1 + e^{−2|x|}) − ln 2` never
/// does, but near 0 it cancels (absolute error ≈ ε where the value is x²/2). Below |x| = 1
/// the value is `ln_1p(cosh|x| − 1)` with `cosh|x| − 1` from its Taylor series (all terms
/// positive: full relative accuracy down to the smallest x); from 1 on it is
/// `|x| − ln 2 + ln_1p(e^{−2|x|})`. Both ranges are computed and one selected, without a branch
/// (see [`log_cosh_tanh`]).
#[inline(always)]
pub fn log_cosh<T: Real>(x: T) -> T {
    log_cosh_tanh(x).0
}

/// `Σ c[k]·zᵏ` by Horner's rule; `c` is a constant, so the loop unrolls into straight-line
/// multiply-then-add steps (no FMA: see [`SimdLevel`]).
#[inline(always)]
fn horner<T: Real>(z: T, c: &[f64]) -> T {
    c.iter()
        .rev()
        .fold(T::ZERO, |acc, &ck| acc * z + T::from_f64(ck))
}

/// `1/(2k)!` for k = 1, 2, …: `cosh a − 1 = a²·Σ c[k]·(a²)ᵏ`. Nine terms leave a relative
/// truncation below 10⁻¹⁸ on |a| < 1 (f64); six, below 10⁻¹¹ (f32).
const COSH_M1: [f64; 9] = [
    1.0 / 2.0,
    1.0 / 24.0,
    1.0 / 720.0,
    1.0 / 40_320.0,
    1.0 / 3_628_800.0,
    1.0 / 479_001_600.0,
    1.0 / 87_178_291_200.0,
    1.0 / 20_922_789_888_000.0,
    1.0 / 6_402_373_705_728_000.0,
];

/// `1/(2k + 3)!` for k = 0, 1, …: `sinh a = a + a³·Σ c[k]·(a²)ᵏ`, truncated as [`COSH_M1`].
const SINH_TAIL: [f64; 9] = [
    1.0 / 6.0,
    1.0 / 120.0,
    1.0 / 5_040.0,
    1.0 / 362_880.0,
    1.0 / 39_916_800.0,
    1.0 / 6_227_020_800.0,
    1.0 / 1_307_674_368_000.0,
    1.0 / 355_687_428_096_000.0,
    1.0 / 121_645_100_408_832_000.0,
];

/// `ln cosh(x)` (as [`log_cosh`]) and its derivative `tanh x`, with one exponential, one log
/// and one division between them.
///
/// Below |x| = 1, `c = cosh|x| − 1` and `sinh|x|` come from their Taylor series in `x²` (no
/// exponential, no cancellation); from 1 on, `c = e^{−2|x|}` with `g = e^{−|x|}`, where
/// `cosh|x| = e^{|x|}(1 + g²)/2`. Either way `ln cosh` is `ln_1p(c)` (plus `|x| − ln 2` from
/// 1 on) and `tanh|x|` is a numerator (`sinh|x|`, or `1 − g²`) times `1/(1 + c)`, the
/// reciprocal computed beside `ln_1p`. `±∞` give `(∞, ±1)`; NaN gives NaN in both.
#[inline(always)]
pub fn log_cosh_tanh<T: Real>(x: T) -> (T, T) {
    let a = x.abs();
    let small = a < T::ONE;
    // Six terms of each series are enough for f32's 24 bits.
    let terms = if core::mem::size_of::<T>() == 4 { 6 } else { 9 };
    let z = a * a;
    let cm1 = z * horner(z, &COSH_M1[..terms]);
    let sinh = a + a * z * horner(z, &SINH_TAIL[..terms]);
    let g = (-a).exp_fast();
    let g2 = g * g;
    let (l, r) = ln_1p_recip(if small { cm1 } else { g2 });
    let v = if small { l } else { a + l - T::LN_2 };
    let th = if small { sinh } else { T::ONE - g2 } * r;
    (v, if x < T::ZERO { -th } else { th })
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

pub use crate::math::{
    exp_f32, exp_f64, exp_m1_f32, exp_m1_f64, ln_1p_f32, ln_1p_f64, ln_f32, ln_f64, tanh_f32,
    tanh_f64,
};

/// `m^γ` for `m ≥ 0` given `ln m`, with exact repeated products for the integer exponents 0 to
/// 4 (the focal loss's usual γ): `m^0 = 1` even at `m = 0` (where `γ·ln m` would be NaN),
/// `m²` is one rounding. Other exponents are `exp(γ·ln m)`, with `exp` from `exp`.
/// `kind` is [`PowKind::of`] of γ, computed once per call, so the choice is the same for every
/// element and the compiler moves it out of the loop.
#[inline(always)]
pub fn pow_with_log<T: Real>(kind: PowKind, m: T, ln_m: T, gamma: T, exp: impl Fn(T) -> T) -> T {
    match kind {
        PowKind::Zero => T::ONE,
        PowKind::One => m,
        PowKind::Two => m * m,
        PowKind::Three => m * m * m,
        PowKind::Four => {
            let m2 = m * m;
            m2 * m2
        }
        PowKind::General => exp(gamma * ln_m),
    }
}

/// Which evaluation of `m^γ` [`pow_with_log`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowKind {
    /// γ = 0.
    Zero,
    /// γ = 1.
    One,
    /// γ = 2.
    Two,
    /// γ = 3.
    Three,
    /// γ = 4.
    Four,
    /// Any other γ: `exp(γ·ln m)`.
    General,
}

impl PowKind {
    /// The kind of the exponent `gamma`.
    pub fn of(gamma: f64) -> PowKind {
        [
            (0.0, PowKind::Zero),
            (1.0, PowKind::One),
            (2.0, PowKind::Two),
            (3.0, PowKind::Three),
            (4.0, PowKind::Four),
        ]
        .into_iter()
        .find(|&(g, _)| g == gamma)
        .map_or(PowKind::General, |(_, k)| k)
    }
}

/// `max(z, 0)` and its derivative (1 above 0; 0 below and at 0, the subgradient the
/// reference libraries take), with a NaN kept in both: `f64::max(NaN, 0)` would turn it into
/// 0 and hide a NaN input. The hinge of every margin loss.
#[inline(always)]
pub fn hinge(z: f64) -> (f64, f64) {
    if z > 0.0 {
        (z, 1.0)
    } else if z.is_nan() {
        (z, z)
    } else {
        (0.0, 0.0)
    }
}

/// A chunk's partial sum and whether every element in it was valid: the accumulator of the
/// checked reductions, combined in a fixed order by [`chunked_fold`].
#[derive(Clone, Copy)]
pub(crate) struct Partial {
    pub(crate) sum: f64,
    pub(crate) ok: bool,
}

impl Partial {
    pub(crate) const ZERO: Partial = Partial { sum: 0.0, ok: true };
    pub(crate) fn combine(a: Partial, b: Partial) -> Partial {
        Partial {
            sum: a.sum + b.sum,
            ok: a.ok && b.ok,
        }
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

/// A closure as a [`SimdCall`], for kernels whose chunk is a few lines: mark the closure
/// `#[inline(always)]` so its body is generated inside the target-feature function.
pub(crate) struct SimdFn<F>(pub(crate) F);

impl<R, F: FnOnce() -> R> SimdCall for SimdFn<F> {
    type Output = R;
    #[inline(always)]
    fn call(self) -> R {
        (self.0)()
    }
}

/// The instruction sets the vectorised kernels are compiled for, narrowest first.
///
/// Every level gives the same bits: the kernels fix the order of every sum in lane arrays,
/// and no multiply-add is fused (Rust never contracts `a * b + c`, and the kernels call no
/// `mul_add`), so enabling FMA changes the speed of nothing but `mul_add` and the results of
/// nothing. The tests run the whole suite at each level (`LOSSKIT_SIMD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    /// The target's baseline (SSE2 on x86-64): 4 `f32` lanes.
    Baseline,
    /// AVX2 and FMA: 8 `f32` lanes.
    Avx2,
    /// AVX-512F: 16 `f32` lanes.
    Avx512,
}

impl SimdLevel {
    /// The name `LOSSKIT_SIMD` and `losskit bench` use: `baseline`, `avx2`, `avx512`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Baseline => "baseline",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level of a name (see [`name`](SimdLevel::name)).
    pub fn from_name(name: &str) -> Option<SimdLevel> {
        [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
            .into_iter()
            .find(|l| l.name() == name)
    }

    /// The widest level this CPU supports.
    pub fn detected() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return SimdLevel::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return SimdLevel::Avx2;
            }
        }
        SimdLevel::Baseline
    }
}

/// The cap set by [`set_max_simd_level`] (or read from `LOSSKIT_SIMD`); `u8::MAX` until the
/// first call reads the environment.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(u8::MAX);

/// Caps the instruction set the kernels use (the CPU's own limit still applies). For tests
/// and benchmarks: every level gives the same results. The environment variable
/// `LOSSKIT_SIMD=baseline|avx2|avx512` sets the initial cap.
pub fn set_max_simd_level(level: SimdLevel) {
    MAX_LEVEL.store(level as u8, Ordering::Relaxed);
}

/// The level the kernels run at now: the widest the CPU has, within the cap.
pub fn simd_level() -> SimdLevel {
    let mut cap = MAX_LEVEL.load(Ordering::Relaxed);
    if cap == u8::MAX {
        let env = std::env::var("LOSSKIT_SIMD").ok();
        let level = env
            .as_deref()
            .and_then(SimdLevel::from_name)
            .unwrap_or(SimdLevel::Avx512);
        cap = level as u8;
        MAX_LEVEL.store(cap, Ordering::Relaxed);
    }
    #[cfg(test)]
    if BASELINE_ONLY.load(Ordering::Relaxed) {
        return SimdLevel::Baseline;
    }
    let detected = SimdLevel::detected();
    [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|&l| l as u8 <= cap && l <= detected)
        .max()
        .unwrap_or(SimdLevel::Baseline)
}

/// Runs `k` compiled for the widest instruction set of [`simd_level`]: AVX-512F, AVX2+FMA,
/// or the baseline.
///
/// The loops of the kernels vectorise 8 or 16 `f32` lanes wide instead of the baseline's 4.
/// They are written so the result is the same at every width: their lane arrays fix the order
/// of every sum, and no fused multiply-adds are introduced (Rust does not contract
/// `a * b + c`).
#[inline(always)]
pub(crate) fn simd<K: SimdCall>(k: K) -> K::Output {
    #[cfg(target_arch = "x86_64")]
    match simd_level() {
        // SAFETY: `simd_level` returns a level only when the CPU supports its features
        // (`SimdLevel::detected`), which are exactly those each function is compiled for.
        SimdLevel::Avx512 => return unsafe { x86::avx512(k) },
        // SAFETY: as above.
        SimdLevel::Avx2 => return unsafe { x86::avx2(k) },
        SimdLevel::Baseline => {}
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

    /// `k.call()`, with AVX2 and FMA code generation.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<K: SimdCall>(k: K) -> K::Output {
        k.call()
    }

    /// `k.call()`, with AVX-512F code generation.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512<K: SimdCall>(k: K) -> K::Output {
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

/// Elements per block of the element-wise loops: a multiple of 8 (so lane `k % 8` of a block
/// is lane `k % 8` of the whole run), small enough for the block buffer to stay in L1.
pub(crate) const BLOCK: usize = 128;
// `Lanes::add_block`'s tree halves a block four times down to the 8 lanes.
const _: () = assert!(BLOCK == 8 << 4);

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

    /// Adds a block of element losses, the `k`-th to lane `k % 8`.
    ///
    /// A full block of [`BLOCK`] is first summed pairwise into 8 partial sums by a fixed tree
    /// (halves, then quarters, …: element `k` and `k + BLOCK/2` share lane `k % 8`), then each
    /// is added to its lane: four dependent additions per lane and block instead of sixteen,
    /// so the lane sums no longer hold up the element loop, and the pairwise sums are more
    /// accurate. A shorter block (the end of a segment) goes element by element, as
    /// [`Lanes::add`] from lane 0. Either way the order depends only on where the blocks
    /// start, which the callers fix by the input's length: the same bits at every SIMD width
    /// and thread count.
    #[inline(always)]
    pub(crate) fn add_block<T: Real>(&mut self, block: &[T]) {
        if let Ok(full) = <&[T; BLOCK]>::try_from(block) {
            let mut v = [0.0f64; BLOCK];
            for (a, b) in v.iter_mut().zip(full) {
                *a = b.to_f64();
            }
            for half in [BLOCK / 2, BLOCK / 4, BLOCK / 8, BLOCK / 16] {
                let (lo, hi) = v.split_at_mut(half);
                for (a, b) in lo.iter_mut().zip(&hi[..half]) {
                    *a += *b;
                }
            }
            for (a, b) in self.0.iter_mut().zip(&v[..8]) {
                *a += *b;
            }
            return;
        }
        let c = block.chunks_exact(8);
        let rest = c.remainder();
        for b in c {
            for (a, v) in self.0.iter_mut().zip(b) {
                *a += v.to_f64();
            }
        }
        for (a, v) in self.0.iter_mut().zip(rest) {
            *a += v.to_f64();
        }
    }

    /// The total.
    #[inline(always)]
    pub(crate) fn total(self) -> f64 {
        let a = self.0;
        ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]))
    }
}

/// Adds the element losses of `0..n` to `lanes`, the `k`-th to lane `k % 8` (by
/// [`Lanes::add_block`]), [`BLOCK`] at a time: `fill(r, out)` writes the losses of the
/// elements `r` into `out` (as long as `r`), with a plain loop over slices the caller cuts
/// to `r`, so the loop has no loop-carried dependency and no bounds check and vectorises
/// (transcendentals included). Mark `fill` `#[inline(always)]`.
#[inline(always)]
pub(crate) fn block_sum<T: Real>(
    n: usize,
    lanes: &mut Lanes,
    mut fill: impl FnMut(Range<usize>, &mut [T]),
) {
    let mut buf = [T::ZERO; BLOCK];
    let mut start = 0;
    while start < n {
        let m = BLOCK.min(n - start);
        let lb = &mut buf[..m];
        fill(start..start + m, lb);
        lanes.add_block(lb);
        start += m;
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

/// Like [`chunked_fold_mut`] with two outputs as long as the input, cut at the same
/// boundaries.
pub(crate) fn chunked_fold_mut2<T, P, F, C>(
    a: &mut [T],
    b: &mut [T],
    init: P,
    f: F,
    combine: C,
) -> P
where
    T: Send,
    P: Send,
    F: Fn(Range<usize>, &mut [T], &mut [T]) -> P + Sync,
    C: Fn(P, P) -> P,
{
    debug_assert_eq!(a.len(), b.len());
    #[cfg(feature = "parallel")]
    if a.len() >= PARALLEL_MIN {
        use rayon::prelude::*;
        let partial: Vec<P> = a
            .par_chunks_mut(CHUNK)
            .zip(b.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(c, (x, y))| f(c * CHUNK..c * CHUNK + x.len(), x, y))
            .collect();
        return partial.into_iter().fold(init, combine);
    }
    a.chunks_mut(CHUNK)
        .zip(b.chunks_mut(CHUNK))
        .enumerate()
        .map(|(c, (x, y))| f(c * CHUNK..c * CHUNK + x.len(), x, y))
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

/// Like [`rows_fold_mut`] with two outputs of `out_per_row` elements per row, cut at the
/// same rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rows_fold_mut2<T, P, F, C>(
    a: &mut [T],
    b: &mut [T],
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
    F: Fn(Range<usize>, &mut [T], &mut [T]) -> P + Sync,
    C: Fn(P, P) -> P,
{
    debug_assert_eq!(a.len(), rows * out_per_row);
    debug_assert_eq!(b.len(), rows * out_per_row);
    if out_per_row == 0 {
        return rows_fold(
            rows,
            work_per_row,
            init,
            |r| f(r, &mut [], &mut []),
            combine,
        );
    }
    let per = rows_per_chunk(work_per_row);
    let len = per * out_per_row;
    #[cfg(feature = "parallel")]
    if rows.saturating_mul(work_per_row) >= PARALLEL_MIN && rows > per {
        use rayon::prelude::*;
        let partial: Vec<P> = a
            .par_chunks_mut(len)
            .zip(b.par_chunks_mut(len))
            .enumerate()
            .map(|(k, (x, y))| f(k * per..k * per + x.len() / out_per_row, x, y))
            .collect();
        return partial.into_iter().fold(init, combine);
    }
    a.chunks_mut(len)
        .zip(b.chunks_mut(len))
        .enumerate()
        .map(|(k, (x, y))| f(k * per..k * per + x.len() / out_per_row, x, y))
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
    #[test]
    fn pow_takes_the_integer_fast_paths() {
        let e = |v: f64| v.exp();
        for (g, k) in [
            (0.0, PowKind::Zero),
            (1.0, PowKind::One),
            (2.0, PowKind::Two),
            (3.0, PowKind::Three),
            (4.0, PowKind::Four),
            (2.5, PowKind::General),
        ] {
            assert_eq!(PowKind::of(g), k);
            for m in [0.0f64, 1e-300, 0.3, 1.0] {
                let v = pow_with_log(k, m, m.ln(), g, e);
                let want = m.powf(g);
                assert!(
                    (v - want).abs() <= 4.0 * f64::EPSILON * want,
                    "{m}^{g}: {v} vs {want}"
                );
            }
        }
        // 0^0 = 1 although 0·ln 0 is NaN.
        assert_eq!(
            pow_with_log(PowKind::Zero, 0.0f64, f64::NEG_INFINITY, 0.0, e),
            1.0
        );
        assert!(pow_with_log(PowKind::Two, f64::NAN, f64::NAN, 2.0, e).is_nan());
    }
}
