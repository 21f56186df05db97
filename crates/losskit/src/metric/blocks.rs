//! The block engine of the in-batch contrastive losses (`nt_xent`, `info_nce`, `supcon`):
//! similarity tiles from `matrixmultiply`, per-row online log-sum-exp, and the gradient
//! formed tile by tile with the similarities recomputed, so no N×N matrix ever exists; or,
//! when the whole matrix fits the tile budget ([`tile_budget`]), the matrix kept once and
//! the gradient formed in place of it ([`Sims`]).
//!
//! Rows of `x` are compared with rows of `y` (both L2-normalised, `[m, d]` row-major):
//! `s_ij = x_i·y_j / τ`. The work is split in blocks of [`ROW_BLOCK`] rows of `x`, each
//! sweeping `y` in tiles of [`COL_TILE`] rows; a block holds one `ROW_BLOCK × COL_TILE`
//! tile, so the extra memory is O(threads·block²) plus O(m) per-row statistics. The block
//! and tile boundaries depend on the shapes only and every row's statistics are combined in
//! tile order, so the result is the same bits at any thread count. A batch of at most
//! `ROW_BLOCK` rows against at most `COL_TILE` columns is one block and one tile.

use core::any::TypeId;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::numerics::{simd, SimdCall};
use crate::real::Real;

/// Rows of `x` per block.
pub(crate) const ROW_BLOCK: usize = 256;
/// Rows of `y` per tile.
pub(crate) const COL_TILE: usize = 2048;
/// Below this many multiply-adds (`m_x·m_y·d`) a pass stays on the calling thread.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_WORK: usize = 1 << 22;

/// `F.normalize`'s floor of the norm.
pub(crate) const NORM_EPS: f64 = 1e-12;

/// `c = alpha·a·bᵀ + beta·c` with `a` `[m, k]`, `b` `[n, k]`, `c` `[m, n]`, row-major and
/// contiguous (`trans_b`), or `c = alpha·a·b + beta·c` with `b` `[k, n]` (`!trans_b`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    trans_b: bool,
    beta: T,
    c: &mut [T],
) {
    gemm_ld(m, k, n, alpha, a, b, trans_b, beta, c, n);
}

/// [`gemm`] into the first `n` columns of a row-major `c` whose rows are `ldc` apart.
#[allow(clippy::too_many_arguments)]
fn gemm_ld<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    trans_b: bool,
    beta: T,
    c: &mut [T],
    ldc: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(a.len() >= m * k && b.len() >= n * k && ldc >= n && c.len() >= (m - 1) * ldc + n);
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the slices hold the `[m, k]`, `[k, n]`/`[n, k]` and `[m, ldc]` matrices
    // (checked above).
    unsafe {
        gemm_raw(
            [m, k, n],
            alpha,
            (a.as_ptr(), k as isize, 1),
            (b.as_ptr(), rsb, csb),
            beta,
            (c.as_mut_ptr(), ldc as isize, 1),
        );
    }
}

/// `c = alpha·a·b + beta·c` for `[m, k]`, `[k, n]`, `[m, n]` matrices given as a pointer
/// and row and column strides (in elements), with `matrixmultiply`. Each element of `c` is
/// one sum over `k` in a fixed order whatever `m` and `n` are, so a product split in row
/// blocks gives the bits of the whole product.
///
/// # Safety
/// Every element the three (pointer, strides) address for the given shape must be inside
/// one live allocation, and `c`'s elements must not overlap `a`'s or `b`'s nor be accessed
/// elsewhere during the call.
unsafe fn gemm_raw<T: Real>(
    [m, k, n]: [usize; 3],
    alpha: T,
    a: (*const T, isize, isize),
    b: (*const T, isize, isize),
    beta: T,
    c: (*mut T, isize, isize),
) {
    // SAFETY: the caller's contract; `T` is exactly `f32` or `f64` in each branch (the
    // `TypeId` test), so the pointer casts are identities.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                alpha.to_f64() as f32,
                a.0.cast(),
                a.1,
                a.2,
                b.0.cast(),
                b.1,
                b.2,
                beta.to_f64() as f32,
                c.0.cast(),
                c.1,
                c.2,
            );
        } else {
            assert!(TypeId::of::<T>() == TypeId::of::<f64>());
            matrixmultiply::dgemm(
                m,
                k,
                n,
                alpha.to_f64(),
                a.0.cast(),
                a.1,
                a.2,
                b.0.cast(),
                b.1,
                b.2,
                beta.to_f64(),
                c.0.cast(),
                c.1,
                c.2,
            );
        }
    }
}

/// The rows of `z` (`[m, d]`) divided by `max(‖z_i‖, 1e-12)` (PyTorch's `F.normalize`), and
/// the norms.
pub(crate) fn normalize<T: Real>(z: &[T], d: usize) -> (Vec<T>, Vec<f64>) {
    let mut u = vec![T::ZERO; z.len()];
    let mut norms = Vec::with_capacity(z.len() / d.max(1));
    if d == 0 {
        return (u, norms);
    }
    for (zr, ur) in z.chunks_exact(d).zip(u.chunks_exact_mut(d)) {
        let n = zr
            .iter()
            .map(|&v| v.to_f64() * v.to_f64())
            .sum::<f64>()
            .sqrt();
        let inv = T::from_f64(1.0 / n.max(NORM_EPS));
        for (o, &v) in ur.iter_mut().zip(zr) {
            *o = v * inv;
        }
        norms.push(n);
    }
    (u, norms)
}

/// The gradient with respect to `z` from the gradient `g` with respect to `u = z/max(‖z‖, ε)`,
/// in place: `(g − u (u·g)) / ‖z‖`, or `g / ε` where the norm is below ε (finite for a zero
/// row).
pub(crate) fn normalize_backward<T: Real>(g: &mut [T], u: &[T], norms: &[f64], d: usize) {
    if d == 0 {
        return;
    }
    for ((gr, ur), &n) in g.chunks_exact_mut(d).zip(u.chunks_exact(d)).zip(norms) {
        if n > NORM_EPS {
            let dot: f64 = gr.iter().zip(ur).map(|(&a, &b)| (a * b).to_f64()).sum();
            let (dot, inv) = (T::from_f64(dot), T::from_f64(1.0 / n));
            for (g, &u) in gr.iter_mut().zip(ur) {
                *g = (*g - u * dot) * inv;
            }
        } else {
            let inv = T::from_f64(1.0 / NORM_EPS);
            for g in gr.iter_mut() {
                *g *= inv;
            }
        }
    }
}

/// Which columns are the positives of a row.
#[derive(Clone, Copy)]
pub(crate) enum Pos<'a> {
    /// One positive per row: column `(i + shift) % m` (`info_nce`: shift 0; `nt_xent`: N).
    Shift(usize),
    /// Every other row with the same label (`supcon`).
    Labels(&'a [i64]),
}

impl Pos<'_> {
    /// `j` is a positive of `i` exactly when `i` is one of `j` (among `m` rows).
    fn symmetric(self, m: usize) -> bool {
        match self {
            Pos::Shift(s) => (2 * s) % m.max(1) == 0,
            Pos::Labels(_) => true,
        }
    }

    #[inline(always)]
    fn partner(self, i: usize, m: usize) -> Option<usize> {
        match self {
            Pos::Shift(s) => Some((i + s) % m),
            Pos::Labels(_) => None,
        }
    }
}

/// Two matrices compared row by row: `s_ij = x_i·y_j / τ`.
#[derive(Clone, Copy)]
pub(crate) struct Pair<'a, T> {
    pub(crate) x: &'a [T],
    pub(crate) y: &'a [T],
    pub(crate) d: usize,
    pub(crate) inv_tau: f64,
    /// Column `i` is not a candidate of row `i` (`x` and `y` are the same rows).
    pub(crate) exclude_diag: bool,
    pub(crate) pos: Pos<'a>,
}

impl<'a, T: Real> Pair<'a, T> {
    fn mx(&self) -> usize {
        self.x.len().checked_div(self.d).unwrap_or(0)
    }
    fn my(&self) -> usize {
        self.y.len().checked_div(self.d).unwrap_or(0)
    }

    /// The tile `s[r, c]` for rows `r0..r0+rows` and columns `c0..c0+cols` into `tile`.
    fn tile(&self, r0: usize, rows: usize, c0: usize, cols: usize, tile: &mut [T]) {
        let d = self.d;
        gemm(
            rows,
            d,
            cols,
            T::from_f64(self.inv_tau),
            &self.x[r0 * d..(r0 + rows) * d],
            &self.y[c0 * d..(c0 + cols) * d],
            true,
            T::ZERO,
            &mut tile[..rows * cols],
        );
    }

    fn parallel(&self) -> bool {
        #[cfg(feature = "parallel")]
        {
            self.mx().saturating_mul(self.my()).saturating_mul(self.d) >= PARALLEL_MIN_WORK
                && self.mx() > ROW_BLOCK
        }
        #[cfg(not(feature = "parallel"))]
        false
    }

    /// Per row `i` of `x`: `lse_i = ln Σ_j exp(s_ij)` over the candidate columns (all, or all
    /// but `i`), and `Σ_{p ∈ P(i)} s_ip`. Both in f64.
    pub(crate) fn row_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let mx = self.mx();
        let mut stats = vec![(0.0f64, 0.0f64); mx];
        let block = |b: usize, out: &mut [(f64, f64)]| {
            let r0 = b * ROW_BLOCK;
            let rows = out.len();
            self.block_stats(r0, rows, out);
        };
        run_blocks(&mut stats, 1, self.parallel(), block);
        stats.into_iter().unzip()
    }

    fn block_stats(&self, r0: usize, rows: usize, out: &mut [(f64, f64)]) {
        let my = self.my();
        let mut tile = vec![T::ZERO; rows * COL_TILE.min(my.max(1))];
        let mut run: Vec<(f64, f64)> = vec![(f64::NEG_INFINITY, 0.0); rows];
        let mut c0 = 0;
        while c0 < my {
            let cols = COL_TILE.min(my - c0);
            self.tile(r0, rows, c0, cols, &mut tile);
            simd(StatsTile {
                pair: self,
                r0,
                c0,
                cols,
                tile: &mut tile,
                out: &mut *out,
                run: &mut run,
            });
            c0 += cols;
        }
        for (st, (m, s)) in out.iter_mut().zip(run) {
            st.0 = m + s.ln();
        }
    }

    /// `g = H y / τ` for the rows of `x`, with `H` from `coef` over the recomputed tiles
    /// (`g` is `[m_x, d]`, overwritten).
    pub(crate) fn grad(&self, coef: &Coef<'_, T>, g: &mut [T]) {
        let d = self.d;
        if d == 0 {
            return;
        }
        let block = |b: usize, out: &mut [T]| {
            let r0 = b * ROW_BLOCK;
            self.block_grad(coef, r0, out.len() / d, out);
        };
        run_blocks(g, d, self.parallel(), block);
    }

    fn block_grad(&self, coef: &Coef<'_, T>, r0: usize, rows: usize, g: &mut [T]) {
        let (d, my) = (self.d, self.my());
        let mut tile = vec![T::ZERO; rows * COL_TILE.min(my.max(1))];
        g.fill(T::ZERO);
        let mut c0 = 0;
        while c0 < my {
            let cols = COL_TILE.min(my - c0);
            self.tile(r0, rows, c0, cols, &mut tile);
            simd(GradTile {
                coef,
                r0,
                c0,
                cols,
                tile: &mut tile[..rows * cols],
                ld: cols,
                pos: self.pos,
                my,
                diag: self.exclude_diag,
            });
            gemm(
                rows,
                cols,
                d,
                T::from_f64(self.inv_tau),
                &tile[..rows * cols],
                &self.y[c0 * d..(c0 + cols) * d],
                false,
                T::ONE,
                g,
            );
            c0 += cols;
        }
    }
}

/// The default of [`tile_budget`]: 64 MiB.
pub const DEFAULT_TILE_BUDGET: usize = 64 << 20;

/// The budget set by [`set_tile_budget`] (or read from `LOSSKIT_TILE_BUDGET`); `usize::MAX`
/// until the first call reads the environment.
static TILE_BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Sets the memory the in-batch contrastive losses (`nt_xent`, `info_nce`, `supcon`) may
/// use to keep their whole similarity matrix, in bytes (see [`tile_budget`]). A loss's own
/// `with_tile_budget` takes precedence.
pub fn set_tile_budget(bytes: usize) {
    TILE_BUDGET.store(bytes.min(usize::MAX - 1), Ordering::Relaxed);
}

/// The memory, in bytes, the in-batch contrastive losses may use to keep their whole
/// `N × N` similarity matrix: [`DEFAULT_TILE_BUDGET`] (64 MiB), or the environment variable
/// `LOSSKIT_TILE_BUDGET` read at the first call (bytes, or a number with a `K`, `M` or `G`
/// suffix for KiB, MiB, GiB; an unreadable value leaves the default), or what
/// [`set_tile_budget`] set.
///
/// When the matrix fits (`N_x·N_y·size_of::<T>()` bytes, e.g. 2N = 4096 rows of `f32` in
/// 64 MiB), it is computed once and the gradient is formed in place of it: three matrix
/// products for `info_nce`, one and a half for `nt_xent` and `supcon` (the similarity
/// matrix is symmetric, so only its lower half is multiplied). Beyond the budget the
/// similarities are recomputed tile by tile in O(N·256) memory (three products for
/// `nt_xent` and `supcon`, five for `info_nce`). Both ways give the same values within
/// rounding, and each gives the same bits at any thread count.
pub fn tile_budget() -> usize {
    let b = TILE_BUDGET.load(Ordering::Relaxed);
    if b != usize::MAX {
        return b;
    }
    let b = std::env::var("LOSSKIT_TILE_BUDGET")
        .ok()
        .and_then(|v| parse_bytes(&v))
        .unwrap_or(DEFAULT_TILE_BUDGET)
        .min(usize::MAX - 1);
    TILE_BUDGET.store(b, Ordering::Relaxed);
    b
}

/// `1234`, `64M`, `64MiB`, `2g`, `512k` as bytes (binary multiples).
fn parse_bytes(v: &str) -> Option<usize> {
    let v = v.trim();
    let digits = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (num, unit) = v.split_at(digits);
    let num: usize = num.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    num.checked_mul(1usize << shift)
}

/// The similarities of a [`Pair`], kept whole (`[m_x, m_y]`) when they fit a memory budget,
/// otherwise recomputed tile by tile by [`Pair::row_stats`] and [`Pair::grad`].
///
/// Kept, the matrix is made once (for `x` and `y` the same rows, only its lower block
/// triangle is multiplied and the rest mirrored), the statistics read it row by row, and the
/// gradient's coefficients `H` overwrite it in place before the one product `H y` (and
/// `Hᵀ x` for the other side). Every split is by shape (rows in [`ROW_BLOCK`]s), so the bits
/// do not depend on the thread count.
pub(crate) struct Sims<'a, T> {
    pub(crate) pair: Pair<'a, T>,
    kept: Option<Vec<T>>,
}

impl<'a, T: Real> Pair<'a, T> {
    /// The similarities, kept when `m_x·m_y` elements fit in `budget` bytes.
    pub(crate) fn sims(self, budget: usize) -> Sims<'a, T> {
        let (mx, my) = (self.mx(), self.my());
        let fits = mx
            .checked_mul(my)
            .and_then(|e| e.checked_mul(core::mem::size_of::<T>()))
            .is_some_and(|b| b <= budget);
        let kept = (fits && mx > 0 && my > 0 && self.d > 0).then(|| self.full());
        Sims { pair: self, kept }
    }

    /// `x` and `y` are the same rows.
    fn same_rows(&self) -> bool {
        core::ptr::eq(self.x, self.y)
    }

    /// The whole `[m_x, m_y]` similarity matrix.
    fn full(&self) -> Vec<T> {
        let (mx, my, d) = (self.mx(), self.my(), self.d);
        let alpha = T::from_f64(self.inv_tau);
        let mut s = vec![T::ZERO; mx * my];
        let same = self.same_rows();
        run_blocks(&mut s, my, self.parallel(), |b, out| {
            let (r0, rows) = (b * ROW_BLOCK, out.len() / my);
            // The same rows: only the columns up to the block's end (its lower triangle).
            let cols = if same { r0 + rows } else { my };
            let x = &self.x[r0 * d..(r0 + rows) * d];
            gemm_ld(
                rows,
                d,
                cols,
                alpha,
                x,
                &self.y[..cols * d],
                true,
                T::ZERO,
                out,
                my,
            );
        });
        if same {
            mirror_upper(&mut s, my, self.parallel());
        }
        s
    }

    /// The same comparison from `y`'s side (`s_ji`).
    fn swapped(self) -> Pair<'a, T> {
        Pair {
            x: self.y,
            y: self.x,
            ..self
        }
    }
}

/// Copies the strictly-upper part of a square row-major `[m, m]` matrix, beyond each row
/// block's end, from its transpose: `s[r][c] = s[c][r]` for `c >= end(block(r))`.
fn mirror_upper<T: Real>(s: &mut [T], m: usize, parallel: bool) {
    /// The matrix's base pointer, shared by the blocks.
    #[derive(Clone, Copy)]
    struct Base<T>(*mut T);
    // SAFETY: only used as below, where the blocks touch disjoint elements.
    unsafe impl<T> Send for Base<T> {}
    unsafe impl<T> Sync for Base<T> {}
    const SUB: usize = 32;
    assert_eq!(s.len(), m * m);
    let base = Base(s.as_mut_ptr());
    let nb = m.div_ceil(ROW_BLOCK);
    let block = move |b: usize| {
        let base = base;
        let (r0, r1) = (b * ROW_BLOCK, ((b + 1) * ROW_BLOCK).min(m));
        // Writes: rows r0..r1, columns r1..m (the upper part of this row block). Reads:
        // rows c >= r1, columns r0..r1 < c's block start (the lower parts of later blocks,
        // which nothing writes here). So no element is both written and read, and each is
        // written by one block only.
        for c0 in (r1..m).step_by(SUB) {
            let c1 = (c0 + SUB).min(m);
            for rs in (r0..r1).step_by(SUB) {
                let re = (rs + SUB).min(r1);
                for r in rs..re {
                    for c in c0..c1 {
                        // SAFETY: r, c < m, inside the `m × m` allocation; see above for
                        // the disjointness.
                        unsafe { *base.0.add(r * m + c) = *base.0.add(c * m + r) };
                    }
                }
            }
        }
    };
    #[cfg(feature = "parallel")]
    if parallel {
        use rayon::prelude::*;
        (0..nb).into_par_iter().for_each(block);
        return;
    }
    let _ = parallel;
    (0..nb).for_each(block);
}

impl<T: Real> Sims<'_, T> {
    /// Whether the matrix is kept (else it is recomputed).
    #[cfg(test)]
    pub(crate) fn is_kept(&self) -> bool {
        self.kept.is_some()
    }

    /// [`Pair::row_stats`], from the kept matrix when there is one.
    pub(crate) fn row_stats(&self) -> (Vec<f64>, Vec<f64>) {
        let Some(s) = &self.kept else {
            return self.pair.row_stats();
        };
        let pair = &self.pair;
        let my = pair.my();
        let mut stats = vec![(0.0f64, 0.0f64); pair.mx()];
        run_blocks(&mut stats, 1, pair.parallel(), |b, out| {
            let r0 = b * ROW_BLOCK;
            let mut row = vec![T::ZERO; my];
            for (k, st) in out.iter_mut().enumerate() {
                let i = r0 + k;
                row.copy_from_slice(&s[i * my..(i + 1) * my]);
                let mut run = [(f64::NEG_INFINITY, 0.0)];
                simd(StatsTile {
                    pair,
                    r0: i,
                    c0: 0,
                    cols: my,
                    tile: &mut row,
                    out: core::slice::from_mut(st),
                    run: &mut run,
                });
                st.0 = run[0].0 + run[0].1.ln();
            }
        });
        stats.into_iter().unzip()
    }

    /// Per row `j` of `y`: `ln Σ_i exp(s_ij)` over the rows of `x` (all of them: for pairs
    /// without an excluded diagonal).
    pub(crate) fn col_lse(&self) -> Vec<f64> {
        let Some(s) = &self.kept else {
            return self.pair.swapped().row_stats().0;
        };
        let (mx, my) = (self.pair.mx(), self.pair.my());
        let mut lse = vec![0.0f64; my];
        run_blocks(&mut lse, 1, self.pair.parallel(), |b, out| {
            simd(ColStats {
                s,
                mx,
                my,
                c0: b * ROW_BLOCK,
                out,
            });
        });
        lse
    }

    /// `g_x = H y / τ` (into `gx`, `[m_x, d]`) and, when asked, `g_y = Hᵀ x / τ` (into
    /// `gy`, `[m_y, d]`), with `H` from `coef` (and for `g_y` the same coefficients seen
    /// from `y`'s side). The kept matrix is overwritten with `H`, so this comes last.
    pub(crate) fn grad(self, coef: &Coef<'_, T>, gx: &mut [T], gy: Option<&mut [T]>) {
        let Sims { pair, kept } = self;
        let d = pair.d;
        let Some(mut h) = kept else {
            pair.grad(coef, gx);
            if let Some(gy) = gy {
                let swapped = Coef {
                    row: coef.col,
                    col: coef.row,
                };
                pair.swapped().grad(&swapped, gy);
            }
            return;
        };
        let (mx, my) = (pair.mx(), pair.my());
        let par = pair.parallel();
        // The same rows with the same statistics on both sides (`nt_xent`, `supcon`): `H` is
        // symmetric like the similarities, so only its lower block triangle is formed (half
        // the exponentials) and the rest mirrored.
        let sym = pair.same_rows() && gy.is_none() && coef.symmetric() && pair.pos.symmetric(my);
        run_blocks(&mut h, my, par, |b, out| {
            let r0 = b * ROW_BLOCK;
            simd(GradTile {
                coef,
                r0,
                c0: 0,
                cols: if sym { r0 + out.len() / my } else { my },
                tile: out,
                ld: my,
                pos: pair.pos,
                my,
                diag: pair.exclude_diag,
            });
        });
        if sym {
            mirror_upper(&mut h, my, par);
        }
        let h: &[T] = &h;
        let alpha = T::from_f64(pair.inv_tau);
        run_blocks(gx, d, par, |b, out| {
            let (r0, rows) = (b * ROW_BLOCK, out.len() / d);
            gemm(
                rows,
                my,
                d,
                alpha,
                &h[r0 * my..(r0 + rows) * my],
                pair.y,
                false,
                T::ZERO,
                out,
            );
        });
        if let Some(gy) = gy {
            assert!(gy.len() == my * d && pair.x.len() == mx * d && h.len() == mx * my);
            run_blocks(gy, d, par, |b, out| {
                let (c0, cols) = (b * ROW_BLOCK, out.len() / d);
                // SAFETY: `A = H[:, c0..c0+cols]ᵀ` (`[cols, mx]`, element (r, k) at
                // `h[k·my + c0 + r]`), `B = x` (`[mx, d]`) and `C = out` (`[cols, d]`) lie
                // in `h`, `x` and `out` (lengths checked above); `out` is exclusively ours.
                unsafe {
                    gemm_raw(
                        [cols, mx, d],
                        alpha,
                        (h.as_ptr().add(c0), 1, my as isize),
                        (pair.x.as_ptr(), d as isize, 1),
                        T::ZERO,
                        (out.as_mut_ptr(), d as isize, 1),
                    );
                }
            });
        }
    }
}

/// The column log-sum-exps of columns `c0..c0 + out.len()` of a kept `[mx, my]` matrix,
/// compiled by [`simd`]: each column's maximum, then `Σ_i exp(s_ij − max_j)` in f64 in row
/// order.
struct ColStats<'p, T> {
    s: &'p [T],
    mx: usize,
    my: usize,
    c0: usize,
    out: &'p mut [f64],
}

impl<T: Real> SimdCall for ColStats<'_, T> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        let ColStats { s, mx, my, c0, out } = self;
        let cols = out.len();
        let mut mcol = vec![-T::INFINITY; cols];
        for i in 0..mx {
            let row = &s[i * my + c0..i * my + c0 + cols];
            for (m, &v) in mcol.iter_mut().zip(row) {
                *m = if v > *m { v } else { *m };
            }
        }
        let mut e = vec![T::ZERO; cols];
        out.fill(0.0);
        for i in 0..mx {
            let row = &s[i * my + c0..i * my + c0 + cols];
            for ((e, &v), &m) in e.iter_mut().zip(row).zip(&mcol) {
                *e = (v - m).exp_fast();
            }
            for (o, &e) in out.iter_mut().zip(&e) {
                *o += e.to_f64();
            }
        }
        for (o, &m) in out.iter_mut().zip(&mcol) {
            *o = if m == -T::INFINITY {
                f64::NEG_INFINITY
            } else {
                m.to_f64() + o.ln()
            };
        }
    }
}

/// One tile's update of the rows' running statistics (see [`Pair::row_stats`]), compiled
/// for the widest vector unit by [`simd`].
struct StatsTile<'p, 'a, T> {
    pair: &'p Pair<'a, T>,
    r0: usize,
    c0: usize,
    cols: usize,
    tile: &'p mut [T],
    out: &'p mut [(f64, f64)],
    run: &'p mut [(f64, f64)],
}

impl<T: Real> SimdCall for StatsTile<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        let StatsTile {
            pair,
            r0,
            c0,
            cols,
            tile,
            out,
            run,
        } = self;
        let my = pair.my();
        for (k, (st, rs)) in out.iter_mut().zip(run.iter_mut()).enumerate() {
            let i = r0 + k;
            let s = &mut tile[k * cols..(k + 1) * cols];
            // Positives before the diagonal is masked.
            match pair.pos {
                Pos::Shift(_) => {
                    let p = pair.pos.partner(i, my).unwrap_or(usize::MAX);
                    if (c0..c0 + cols).contains(&p) {
                        st.1 += s[p - c0].to_f64();
                    }
                }
                Pos::Labels(lab) => {
                    let li = lab[i];
                    let l = &lab[c0..c0 + cols];
                    let mut acc = 0.0;
                    for (j, (&v, &lj)) in s.iter().zip(l).enumerate() {
                        if lj == li && c0 + j != i {
                            acc += v.to_f64();
                        }
                    }
                    st.1 += acc;
                }
            }
            if pair.exclude_diag && (c0..c0 + cols).contains(&i) {
                s[i - c0] = -T::INFINITY;
            }
            let m = row_max(s);
            if m == -T::INFINITY {
                continue;
            }
            for v in s.iter_mut() {
                *v = (*v - m).exp_fast();
            }
            let sum = lane_total(s);
            let m = m.to_f64();
            let (rm, rsum) = *rs;
            let new = rm.max(m);
            *rs = (new, rsum * (rm - new).exp() + sum * (m - new).exp());
        }
    }
}

/// The largest element (−∞ for none; a NaN is skipped, and shows up in the sum).
#[inline(always)]
pub(crate) fn row_max<T: Real>(s: &[T]) -> T {
    let mut acc = [-T::INFINITY; 8];
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    let mut m = chunks
        .remainder()
        .iter()
        .fold(-T::INFINITY, |a, &v| if v > a { v } else { a });
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}

/// `Σ s` in eight f64 lanes.
#[inline(always)]
pub(crate) fn lane_total<T: Real>(s: &[T]) -> f64 {
    let mut lanes = crate::numerics::Lanes::default();
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        for (lane, &v) in lanes.0.iter_mut().zip(c) {
            *lane += v.to_f64();
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        lanes.add(l, v.to_f64());
    }
    lanes.total()
}

/// Runs `f(block, rows_out)` over the [`ROW_BLOCK`]-row blocks of `out` (`per_row` elements
/// a row), in parallel when asked; each block writes only its own rows.
fn run_blocks<P: Send>(
    out: &mut [P],
    per_row: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [P]) + Sync,
) {
    let len = ROW_BLOCK * per_row;
    #[cfg(feature = "parallel")]
    if parallel {
        use rayon::prelude::*;
        out.par_chunks_mut(len)
            .enumerate()
            .for_each(|(b, o)| f(b, o));
        return;
    }
    let _ = parallel;
    for (b, o) in out.chunks_mut(len).enumerate() {
        f(b, o);
    }
}

/// One tile's coefficients `H` in place of its similarities, compiled by [`simd`].
/// Rows `r0..` of the tile are `ld` apart; the first `cols` of each are formed.
struct GradTile<'p, 'a, T> {
    coef: &'p Coef<'a, T>,
    r0: usize,
    c0: usize,
    cols: usize,
    tile: &'p mut [T],
    ld: usize,
    pos: Pos<'a>,
    my: usize,
    diag: bool,
}

impl<T: Real> SimdCall for GradTile<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        for (k, h) in self.tile.chunks_exact_mut(self.ld).enumerate() {
            let h = &mut h[..self.cols];
            self.coef
                .row(self.r0 + k, self.c0, h, self.pos, self.my, self.diag);
        }
    }
}

/// The coefficients `H_ij = ∂L/∂s_ij` of one gradient pass, from per-row statistics:
/// `a_i·exp(s_ij − L_i)` (the row's softmax, `row`), `a_j·exp(s_ij − L_j)` (the column's,
/// `col`), minus `b_i + b_j` on the positives (`b = a/|P|`), 0 on an excluded diagonal.
pub(crate) struct Coef<'a, T> {
    /// `(L, a, b)` per row of `x`.
    pub(crate) row: Option<(&'a [T], &'a [T], &'a [T])>,
    /// `(L, a, b)` per row of `y`.
    pub(crate) col: Option<(&'a [T], &'a [T], &'a [T])>,
}

impl<T: Real> Coef<'_, T> {
    /// The same statistics (the same slices) for rows and columns.
    fn symmetric(&self) -> bool {
        match (self.row, self.col) {
            (Some(r), Some(c)) => {
                core::ptr::eq(r.0, c.0) && core::ptr::eq(r.1, c.1) && core::ptr::eq(r.2, c.2)
            }
            _ => false,
        }
    }

    #[inline(always)]
    fn row(&self, i: usize, c0: usize, h: &mut [T], pos: Pos<'_>, my: usize, diag: bool) {
        let cols = h.len();
        let (mut bi, mut have_col) = (T::ZERO, false);
        match self.row {
            Some((l, a, b)) => {
                let (li, ai) = (l[i], a[i]);
                bi = b[i];
                match self.col {
                    Some((lc, ac, _)) => {
                        have_col = true;
                        let (lc, ac) = (&lc[c0..c0 + cols], &ac[c0..c0 + cols]);
                        for j in 0..cols {
                            let s = h[j];
                            h[j] = ai * (s - li).exp_fast() + ac[j] * (s - lc[j]).exp_fast();
                        }
                    }
                    None => {
                        for v in h.iter_mut() {
                            *v = ai * (*v - li).exp_fast();
                        }
                    }
                }
            }
            None => {
                if let Some((lc, ac, _)) = self.col {
                    have_col = true;
                    let (lc, ac) = (&lc[c0..c0 + cols], &ac[c0..c0 + cols]);
                    for j in 0..cols {
                        h[j] = ac[j] * (h[j] - lc[j]).exp_fast();
                    }
                } else {
                    h.fill(T::ZERO);
                }
            }
        }
        let bcol = |j: usize| match (have_col, self.col) {
            (true, Some((_, _, b))) => b[j],
            _ => T::ZERO,
        };
        match pos {
            Pos::Shift(s) => {
                let p = (i + s) % my;
                if (c0..c0 + cols).contains(&p) {
                    h[p - c0] -= bi + bcol(p);
                }
            }
            Pos::Labels(lab) => {
                let li = lab[i];
                for (j, v) in h.iter_mut().enumerate() {
                    if lab[c0 + j] == li && c0 + j != i {
                        *v -= bi + bcol(c0 + j);
                    }
                }
            }
        }
        if diag && (c0..c0 + cols).contains(&i) {
            h[i - c0] = T::ZERO;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked statistics and gradient against a dense f64 evaluation, across several
    /// blocks and tiles, with the matrix kept and recomputed.
    #[test]
    fn blocks_match_a_dense_evaluation() {
        let (m, d) = (COL_TILE + 37, 5); // 9 row blocks, 2 column tiles
        let mut rng = crate::sample::Rng::new(3);
        let z: Vec<f64> = rng.normals(m * d, 1.0);
        let (u, _) = normalize(&z, d);
        let lab: Vec<i64> = (0..m).map(|i| (i % 7) as i64).collect();
        for budget in [0, usize::MAX] {
            for pos in [Pos::Shift(m / 2), Pos::Labels(&lab)] {
                let pair = Pair {
                    x: &u,
                    y: &u,
                    d,
                    inv_tau: 2.0,
                    exclude_diag: true,
                    pos,
                }
                .sims(budget);
                assert_eq!(pair.is_kept(), budget > 0);
                let (lse, possum) = pair.row_stats();
                let s = |i: usize, j: usize| -> f64 {
                    (0..d).map(|k| u[i * d + k] * u[j * d + k]).sum::<f64>() * 2.0
                };
                let is_pos = |i: usize, j: usize| match pos {
                    Pos::Shift(sh) => j == (i + sh) % m,
                    Pos::Labels(l) => l[i] == l[j] && i != j,
                };
                for i in [0, 1, ROW_BLOCK, m - 1] {
                    let e: f64 = (0..m).filter(|&j| j != i).map(|j| s(i, j).exp()).sum();
                    assert!((lse[i] - e.ln()).abs() < 1e-12, "{i}");
                    let p: f64 = (0..m).filter(|&j| is_pos(i, j)).map(|j| s(i, j)).sum();
                    assert!((possum[i] - p).abs() < 1e-12);
                }
                let a = vec![1.0; m];
                let cnt: Vec<f64> = (0..m)
                    .map(|i| (0..m).filter(|&j| is_pos(i, j)).count() as f64)
                    .collect();
                let b: Vec<f64> = cnt.iter().map(|c| 1.0 / c).collect();
                let coef = Coef {
                    row: Some((&lse, &a, &b)),
                    col: Some((&lse, &a, &b)),
                };
                let mut g = vec![0.0; m * d];
                pair.grad(&coef, &mut g, None);
                for i in [0, ROW_BLOCK + 1, m - 1] {
                    for k in 0..d {
                        let mut want = 0.0;
                        for j in (0..m).filter(|&j| j != i) {
                            let p = f64::from(u8::from(is_pos(i, j)));
                            let h = (s(i, j) - lse[i]).exp() + (s(i, j) - lse[j]).exp()
                                - p * (b[i] + b[j]);
                            want += h * u[j * d + k] * 2.0;
                        }
                        assert!((g[i * d + k] - want).abs() < 1e-12, "{budget} {i} {k}");
                    }
                }
            }
        }
    }

    /// Two different matrices (`info_nce`'s query and key): the row and column statistics
    /// and both sides' gradients, kept and recomputed, against a dense evaluation.
    #[test]
    fn two_sided_blocks_match_a_dense_evaluation() {
        let (m, d) = (ROW_BLOCK * 2 + 9, 3);
        let mut rng = crate::sample::Rng::new(4);
        let (x, _) = normalize(&rng.normals(m * d, 1.0), d);
        let (y, _) = normalize(&rng.normals(m * d, 1.0), d);
        let s = |i: usize, j: usize| -> f64 {
            (0..d).map(|k| x[i * d + k] * y[j * d + k]).sum::<f64>() * 3.0
        };
        let mut results = Vec::new();
        for budget in [0, usize::MAX] {
            let sims = Pair {
                x: &x,
                y: &y,
                d,
                inv_tau: 3.0,
                exclude_diag: false,
                pos: Pos::Shift(0),
            }
            .sims(budget);
            let (lr, _) = sims.row_stats();
            let lc = sims.col_lse();
            for j in [0, ROW_BLOCK, m - 1] {
                let e: f64 = (0..m).map(|i| s(i, j).exp()).sum();
                assert!((lc[j] - e.ln()).abs() < 1e-12, "{budget} {j}");
            }
            let a: Vec<f64> = (0..m).map(|i| 0.5 + (i % 3) as f64).collect();
            let coef = Coef {
                row: Some((&lr, &a, &a)),
                col: Some((&lc, &a, &a)),
            };
            let (mut gx, mut gy) = (vec![0.0; m * d], vec![0.0; m * d]);
            sims.grad(&coef, &mut gx, Some(&mut gy));
            let h = |i: usize, j: usize| {
                a[i] * (s(i, j) - lr[i]).exp() + a[j] * (s(i, j) - lc[j]).exp()
                    - f64::from(u8::from(i == j)) * (a[i] + a[j])
            };
            for i in [0, ROW_BLOCK + 1, m - 1] {
                for k in 0..d {
                    let wx: f64 = (0..m).map(|j| h(i, j) * y[j * d + k] * 3.0).sum();
                    let wy: f64 = (0..m).map(|j| h(j, i) * x[j * d + k] * 3.0).sum();
                    assert!((gx[i * d + k] - wx).abs() < 1e-12, "{budget} {i} {k}");
                    assert!((gy[i * d + k] - wy).abs() < 1e-12, "{budget} {i} {k}");
                }
            }
            results.push((lr, lc, gx, gy));
        }
        // The two ways agree everywhere, not only at the rows checked above.
        let (k, r) = (&results[1], &results[0]);
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-12);
        assert!(close(&k.0, &r.0) && close(&k.1, &r.1) && close(&k.2, &r.2) && close(&k.3, &r.3));
    }

    #[test]
    fn budgets_parse() {
        assert_eq!(parse_bytes("1234"), Some(1234));
        assert_eq!(parse_bytes("64M"), Some(64 << 20));
        assert_eq!(parse_bytes(" 64MiB "), Some(64 << 20));
        assert_eq!(parse_bytes("2g"), Some(2 << 30));
        assert_eq!(parse_bytes("512kb"), Some(512 << 10));
        assert_eq!(parse_bytes("0"), Some(0));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("-1"), None);
        assert_eq!(parse_bytes("64T"), None);
        assert_eq!(parse_bytes(""), None);
    }

    #[test]
    fn normalize_keeps_zero_rows_finite() {
        let z = [0.0f32, 0.0, 3.0, 4.0];
        let (u, n) = normalize(&z, 2);
        assert_eq!(u, [0.0, 0.0, 0.6, 0.8]);
        let mut g = [1.0f32, -1.0, 1.0, 0.0];
        normalize_backward(&mut g, &u, &n, 2);
        assert!(g.iter().all(|v| v.is_finite()));
        assert_eq!(g[0], 1e12);
    }
}
