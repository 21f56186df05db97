//! The block engine of the in-batch contrastive losses (`nt_xent`, `info_nce`, `supcon`):
//! similarity tiles from `matrixmultiply`, per-row online log-sum-exp, and the gradient
//! formed tile by tile with the similarities recomputed, so no N×N matrix ever exists.
//!
//! Rows of `x` are compared with rows of `y` (both L2-normalised, `[m, d]` row-major):
//! `s_ij = x_i·y_j / τ`. The work is split in blocks of [`ROW_BLOCK`] rows of `x`, each
//! sweeping `y` in tiles of [`COL_TILE`] rows; a block holds one `ROW_BLOCK × COL_TILE`
//! tile, so the extra memory is O(threads·block²) plus O(m) per-row statistics. The block
//! and tile boundaries depend on the shapes only and every row's statistics are combined in
//! tile order, so the result is the same bits at any thread count. A batch of at most
//! `ROW_BLOCK` rows against at most `COL_TILE` columns is one block and one tile.

use core::any::TypeId;

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
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    let (rsb, csb) = if trans_b {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the slices hold the `[m, k]`, `[k, n]`/`[n, k]` and `[m, n]` matrices (checked
    // above); `T` is exactly `f32` or `f64` in each branch (the `TypeId` test), so the
    // pointer casts are identities.
    unsafe {
        if TypeId::of::<T>() == TypeId::of::<f32>() {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                alpha.to_f64() as f32,
                a.as_ptr().cast(),
                k as isize,
                1,
                b.as_ptr().cast(),
                rsb,
                csb,
                beta.to_f64() as f32,
                c.as_mut_ptr().cast(),
                n as isize,
                1,
            );
        } else {
            assert!(TypeId::of::<T>() == TypeId::of::<f64>());
            matrixmultiply::dgemm(
                m,
                k,
                n,
                alpha.to_f64(),
                a.as_ptr().cast(),
                k as isize,
                1,
                b.as_ptr().cast(),
                rsb,
                csb,
                beta.to_f64(),
                c.as_mut_ptr().cast(),
                n as isize,
                1,
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
struct GradTile<'p, 'a, T> {
    coef: &'p Coef<'a, T>,
    r0: usize,
    c0: usize,
    cols: usize,
    tile: &'p mut [T],
    pos: Pos<'a>,
    my: usize,
    diag: bool,
}

impl<T: Real> SimdCall for GradTile<'_, '_, T> {
    type Output = ();
    #[inline(always)]
    fn call(self) {
        for (k, h) in self.tile.chunks_exact_mut(self.cols).enumerate() {
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
    /// blocks and tiles.
    #[test]
    fn blocks_match_a_dense_evaluation() {
        let (m, d) = (COL_TILE + 37, 5); // 9 row blocks, 2 column tiles
        let mut rng = crate::sample::Rng::new(3);
        let z: Vec<f64> = rng.normals(m * d, 1.0);
        let (u, _) = normalize(&z, d);
        let lab: Vec<i64> = (0..m).map(|i| (i % 7) as i64).collect();
        for pos in [Pos::Shift(m / 2), Pos::Labels(&lab)] {
            let pair = Pair {
                x: &u,
                y: &u,
                d,
                inv_tau: 2.0,
                exclude_diag: true,
                pos,
            };
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
            pair.grad(&coef, &mut g);
            for i in [0, ROW_BLOCK + 1, m - 1] {
                for k in 0..d {
                    let mut want = 0.0;
                    for j in (0..m).filter(|&j| j != i) {
                        let p = f64::from(u8::from(is_pos(i, j)));
                        let h =
                            (s(i, j) - lse[i]).exp() + (s(i, j) - lse[j]).exp() - p * (b[i] + b[j]);
                        want += h * u[j * d + k] * 2.0;
                    }
                    assert!((g[i * d + k] - want).abs() < 1e-12, "{i} {k}");
                }
            }
        }
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
