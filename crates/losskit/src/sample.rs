//! Valid inputs for any loss, generated: what `losskit bench`, `gradcheck` and `plot` run a
//! loss on when the user gives no arrays.
//!
//! Every catalogue entry has a [`SampleFn`](crate::catalogue::SampleFn) that draws inputs of
//! about `size` prediction elements which the loss accepts at its default parameters. The
//! generator is deterministic ([`Rng`], SplitMix64), so a seed names an input.

/// A small deterministic generator (SplitMix64): the same seed gives the same inputs on every
/// machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = 1.0 - self.unit(); // in (0, 1]
        let v = self.unit();
        (-2.0 * u.ln()).sqrt() * (core::f64::consts::TAU * v).cos()
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// `n` standard normal values times `scale`.
    pub fn normals(&mut self, n: usize, scale: f64) -> Vec<f64> {
        (0..n).map(|_| scale * self.normal()).collect()
    }

    /// `n` values uniform in `[lo, hi)`.
    pub fn uniforms(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }

    /// `n` values of −1 or +1.
    pub fn signs(&mut self, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                if self.next_u64() >> 63 == 0 {
                    -1.0
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// `n` class indices in `0..classes`.
    pub fn classes(&mut self, n: usize, classes: usize) -> Vec<i64> {
        (0..n).map(|_| self.below(classes as u64) as i64).collect()
    }
}

/// The elements of one generated array.
#[derive(Debug, Clone, PartialEq)]
pub enum SampleData {
    /// Floating-point values (converted to the compute type when evaluated).
    Float(Vec<f64>),
    /// Integer class indices or labels.
    Index(Vec<i64>),
}

/// One generated input.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleArray {
    /// The input's name in the catalogue.
    pub name: &'static str,
    /// Its dimensions.
    pub dims: Vec<usize>,
    /// Its elements, row-major.
    pub data: SampleData,
}

/// Generated inputs of one loss, valid at its default parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// The arrays, by input name.
    pub arrays: Vec<SampleArray>,
}

impl Sample {
    /// No arrays yet.
    pub fn new() -> Sample {
        Sample::default()
    }

    /// Adds a float input.
    pub fn float(mut self, name: &'static str, dims: &[usize], data: Vec<f64>) -> Sample {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
        self.arrays.push(SampleArray {
            name,
            dims: dims.to_vec(),
            data: SampleData::Float(data),
        });
        self
    }

    /// Adds an integer input.
    pub fn index(mut self, name: &'static str, dims: &[usize], data: Vec<i64>) -> Sample {
        debug_assert_eq!(dims.iter().product::<usize>(), data.len(), "{name}");
        self.arrays.push(SampleArray {
            name,
            dims: dims.to_vec(),
            data: SampleData::Index(data),
        });
        self
    }

    /// The array called `name`.
    pub fn get(&self, name: &str) -> Option<&SampleArray> {
        self.arrays.iter().find(|a| a.name == name)
    }
}

/// Rows of a class-score input: `size` elements as `[N, classes]`, `N ≥ 1`.
pub(crate) fn rows(size: usize, classes: usize) -> usize {
    (size / classes).max(1)
}

/// `n` rows of `c` probabilities each (a softmax of normal logits): valid soft targets.
pub(crate) fn probability_rows(rng: &mut Rng, n: usize, c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * c);
    for _ in 0..n {
        let logits = rng.normals(c, 1.0);
        let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = logits.iter().map(|&l| (l - m).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|&v| v / s));
    }
    out
}

/// The logarithms of [`probability_rows`]: valid log-probability inputs.
pub(crate) fn log_probability_rows(rng: &mut Rng, n: usize, c: usize) -> Vec<f64> {
    let mut p = probability_rows(rng, n, c);
    p.iter_mut().for_each(|v| *v = v.ln());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            let u = a.unit();
            assert_eq!(u, b.unit());
            assert!((0.0..1.0).contains(&u));
            assert!(a.below(3) < 3 && b.below(3) < 3);
        }
        let mut r = Rng::new(1);
        let xs = r.normals(20_000, 1.0);
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.05 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }

    #[test]
    fn probability_rows_sum_to_one() {
        let p = probability_rows(&mut Rng::new(3), 5, 4);
        for row in p.chunks(4) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(row.iter().all(|&v| v > 0.0));
        }
    }
}
