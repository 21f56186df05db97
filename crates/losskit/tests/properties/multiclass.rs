//! Properties of the multiclass losses and divergences: non-negativity, `sum == n·mean`,
//! the fused gradient against central differences (f64), invariance under added ignored
//! elements (label smoothing and class weights included), and identities between the losses.

use losskit::{
    ClassInputs, CrossEntropy, KlDiv, KlReduction, MultiMargin, Nll, Reduction, SoftmaxFocal,
    Tensor,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 128,
        rng_seed: RngSeed::Fixed(0x0c1a_55e5),
        failure_persistence: None,
        ..Config::default()
    }
}

const IGNORE: i64 = -100;

/// A small deterministic generator for the arrays of one case (proptest draws its seed and
/// the shapes).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() * n as f64) as usize).min(n - 1)
    }
}

/// One multiclass case: logits `[N, C]` (`s == 1`) or `[N, C, S]`, index targets with some
/// ignored, class weights.
#[derive(Debug, Clone)]
struct Case {
    n: usize,
    c: usize,
    s: usize,
    x: Vec<f64>,
    y: Vec<i64>,
    w: Vec<f64>,
}

impl Case {
    fn new(n: usize, c: usize, s: usize, ignored: f64, scale: f64, seed: u64) -> Case {
        let mut r = Rng(seed);
        let x = (0..n * c * s).map(|_| r.uniform(-scale, scale)).collect();
        let y = (0..n * s)
            .map(|_| {
                if r.next() < ignored {
                    IGNORE
                } else {
                    r.below(c) as i64
                }
            })
            .collect();
        let w = (0..c).map(|_| r.uniform(0.1, 3.0)).collect();
        Case { n, c, s, x, y, w }
    }
    fn dims(&self) -> Vec<usize> {
        if self.s == 1 {
            vec![self.n, self.c]
        } else {
            vec![self.n, self.c, self.s]
        }
    }
    fn ydims(&self) -> Vec<usize> {
        if self.s == 1 {
            vec![self.n]
        } else {
            vec![self.n, self.s]
        }
    }
    fn inputs<'a>(&'a self, x: &'a [f64], weighted: bool) -> ClassInputs<'a, f64> {
        let i = ClassInputs::new(
            Tensor::new(x, &self.dims()).unwrap(),
            Tensor::new(&self.y, &self.ydims()).unwrap(),
        );
        if weighted {
            i.weight(&self.w)
        } else {
            i
        }
    }
    fn kept(&self) -> usize {
        self.y.iter().filter(|&&y| y != IGNORE).count()
    }
    fn weight_sum(&self) -> f64 {
        self.y
            .iter()
            .filter(|&&y| y != IGNORE)
            .map(|&y| self.w[y as usize])
            .sum()
    }
    /// The same case with `k` all-ignored samples inserted at `at` (with random logits).
    fn with_ignored_samples(&self, at: usize, k: usize, seed: u64) -> Case {
        let mut r = Rng(seed);
        let (cs, s) = (self.c * self.s, self.s);
        let mut x = self.x[..at * cs].to_vec();
        x.extend((0..k * cs).map(|_| r.uniform(-50.0, 50.0)));
        x.extend_from_slice(&self.x[at * cs..]);
        let mut y = self.y[..at * s].to_vec();
        y.extend(std::iter::repeat(IGNORE).take(k * s));
        y.extend_from_slice(&self.y[at * s..]);
        Case {
            n: self.n + k,
            c: self.c,
            s,
            x,
            y,
            w: self.w.clone(),
        }
    }
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// The typed entry points of one index-target loss.
trait Api {
    fn value(&self, i: &ClassInputs<'_, f64>, r: Reduction) -> f64;
    fn grad(&self, i: &ClassInputs<'_, f64>, r: Reduction) -> (f64, Vec<f64>);
    fn per(&self, i: &ClassInputs<'_, f64>, n: usize) -> Vec<f64>;
}

macro_rules! api {
    ($($ty:ty),*) => {$(
        impl Api for $ty {
            fn value(&self, i: &ClassInputs<'_, f64>, r: Reduction) -> f64 {
                <$ty>::value(self, i, r).unwrap()
            }
            fn grad(&self, i: &ClassInputs<'_, f64>, r: Reduction) -> (f64, Vec<f64>) {
                let mut g = vec![f64::NAN; i.input().len()];
                let v = <$ty>::value_and_grad(self, i, r, &mut g).unwrap();
                (v, g)
            }
            fn per(&self, i: &ClassInputs<'_, f64>, n: usize) -> Vec<f64> {
                let mut o = vec![f64::NAN; n];
                <$ty>::per_element(self, i, &mut o).unwrap();
                o
            }
        }
    )*};
}
api!(CrossEntropy, SoftmaxFocal, Nll, MultiMargin);

/// Central differences of the sum against the fused gradient, element by element.
fn check_gradient(k: &dyn Api, case: &Case, weighted: bool, alpha: bool) {
    let sum = |x: &[f64]| {
        let mut i = case.inputs(x, weighted && !alpha);
        if alpha {
            i = i.alpha(&case.w);
        }
        k.value(&i, Reduction::Sum)
    };
    let mut i = case.inputs(&case.x, weighted && !alpha);
    if alpha {
        i = i.alpha(&case.w);
    }
    let (_, g) = k.grad(&i, Reduction::Sum);
    let mut xp = case.x.clone();
    for j in 0..case.x.len() {
        let h = 1e-6;
        xp[j] = case.x[j] + h;
        let up = sum(&xp);
        xp[j] = case.x[j] - h;
        let down = sum(&xp);
        xp[j] = case.x[j];
        let num = (up - down) / (2.0 * h);
        assert!(
            close(g[j], num, 1e-5, 2e-7),
            "element {j}: analytic {} vs numeric {num}",
            g[j]
        );
    }
}

/// `value`, `value_and_grad` and `per_element` agree; `sum == Σ per-element`,
/// `sum == denominator·mean`; the mean's gradient is the sum's over the denominator.
fn check_reductions(
    k: &dyn Api,
    i: &ClassInputs<'_, f64>,
    elements: usize,
    denom: f64,
) -> Vec<f64> {
    let per = k.per(i, elements);
    let sum = k.value(i, Reduction::Sum);
    let mean = k.value(i, Reduction::Mean);
    let (sum2, gs) = k.grad(i, Reduction::Sum);
    let (mean2, gm) = k.grad(i, Reduction::Mean);
    assert_eq!(
        sum.to_bits(),
        sum2.to_bits(),
        "value and value_and_grad agree"
    );
    assert_eq!(mean.to_bits(), mean2.to_bits());
    let direct: f64 = per.iter().sum();
    assert!(
        close(sum, direct, 1e-13, 1e-300),
        "sum {sum} vs Σ per-element {direct}"
    );
    if denom > 0.0 {
        assert!(
            close(sum, denom * mean, 1e-13, 1e-300),
            "sum {sum} vs {denom}·mean {mean}"
        );
        // Components that are a difference of two terms (softmax minus the smoothed target)
        // are compared up to rounding at the gradient's scale.
        let scale = gm.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        for (a, b) in gs.iter().zip(&gm) {
            assert!(
                close(a / denom, *b, 1e-13, 1e-14 * scale),
                "mean gradient is the sum's over {denom}: {} vs {b}",
                a / denom
            );
        }
    } else {
        assert_eq!(mean, 0.0, "nothing to average: 0");
        assert!(gm.iter().all(|&v| v == 0.0));
    }
    per
}

fn shapes() -> impl Strategy<Value = (usize, usize, usize, u64)> {
    (
        1usize..10,
        2usize..9,
        prop_oneof![Just(1usize), 2usize..5],
        any::<u64>(),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn cross_entropy_reductions_nonnegativity_and_gradient(
        (n, c, s, seed) in shapes(),
        eps in prop_oneof![Just(0.0), 0.0f64..1.0],
        weighted in any::<bool>(),
    ) {
        let case = Case::new(n, c, s, 0.25, 6.0, seed);
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let i = case.inputs(&case.x, weighted);
        let denom = if weighted { case.weight_sum() } else { case.kept() as f64 };
        let per = check_reductions(&ce, &i, n * s, denom);
        prop_assert!(per.iter().all(|&l| l >= 0.0), "{per:?}");
        for (l, &y) in per.iter().zip(&case.y) {
            if y == IGNORE {
                prop_assert_eq!(*l, 0.0);
            }
        }
        check_gradient(&ce, &case, weighted, false);
    }

    #[test]
    fn cross_entropy_unweighted_sum_is_n_times_mean((n, c, s, seed) in shapes()) {
        let case = Case::new(n, c, s, 0.0, 4.0, seed);
        let ce = CrossEntropy::default();
        let i = case.inputs(&case.x, false);
        let sum = ce.value(&i, Reduction::Sum).unwrap();
        let mean = ce.value(&i, Reduction::Mean).unwrap();
        prop_assert!(close(sum, (n * s) as f64 * mean, 1e-13, 0.0));
    }

    #[test]
    fn ignored_samples_change_neither_the_mean_nor_other_gradients(
        (n, c, s, seed) in shapes(),
        eps in prop_oneof![Just(0.0), 0.0f64..1.0],
        weighted in any::<bool>(),
        k in 1usize..70,
        at_frac in 0.0f64..1.0,
    ) {
        let case = Case::new(n, c, s, 0.2, 6.0, seed);
        let at = ((at_frac * (n + 1) as f64) as usize).min(n);
        let big = case.with_ignored_samples(at, k, seed ^ 0x5eed);
        let cs = c * s;
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let focal = SoftmaxFocal::default().gamma(1.5).unwrap();
        let losses: [&dyn Api; 3] = [&ce, &focal, &Nll::default()];
        for (li, loss) in losses.into_iter().enumerate() {
            let w = weighted && li != 1;
            let (small_i, big_i) = (case.inputs(&case.x, w), big.inputs(&big.x, w));
            let (m1, g1) = loss.grad(&small_i, Reduction::Mean);
            let (m2, g2) = loss.grad(&big_i, Reduction::Mean);
            // The denominator is bit-identical; the f64 sum may be associated differently.
            prop_assert!(close(m1, m2, 4.0 * f64::EPSILON, 0.0), "loss {li}: {m1} vs {m2}");
            let (before, rest) = g2.split_at(at * cs);
            let (inserted, after) = rest.split_at(k * cs);
            prop_assert!(inserted.iter().all(|&v| v == 0.0), "loss {li}: ignored gradients are 0");
            let other: Vec<u64> = before.iter().chain(after).map(|v| v.to_bits()).collect();
            let orig: Vec<u64> = g1.iter().map(|v| v.to_bits()).collect();
            prop_assert_eq!(other, orig, "loss {}: other gradients bit-identical", li);
        }
        // In f32 the mean is the same number too.
        let x32: Vec<f32> = case.x.iter().map(|&v| v as f32).collect();
        let xb32: Vec<f32> = big.x.iter().map(|&v| v as f32).collect();
        let w32: Vec<f32> = case.w.iter().map(|&v| v as f32).collect();
        let mut a = ClassInputs::new(Tensor::new(&x32, &case.dims()).unwrap(), Tensor::new(&case.y, &case.ydims()).unwrap());
        let mut b = ClassInputs::new(Tensor::new(&xb32, &big.dims()).unwrap(), Tensor::new(&big.y, &big.ydims()).unwrap());
        if weighted {
            a = a.weight(&w32);
            b = b.weight(&w32);
        }
        let (va, vb) = (ce.value(&a, Reduction::Mean).unwrap(), ce.value(&b, Reduction::Mean).unwrap());
        prop_assert!(close(va as f64, vb as f64, f32::EPSILON as f64, 0.0), "{va} vs {vb}");
    }

    #[test]
    fn one_hot_probabilities_equal_index_targets(
        (n, c, s, seed) in shapes(),
        eps in prop_oneof![Just(0.0), 0.0f64..1.0],
        weighted in any::<bool>(),
    ) {
        let case = Case::new(n, c, s, 0.0, 6.0, seed);
        let mut t = vec![0.0; case.x.len()];
        for i in 0..n {
            for p in 0..s {
                t[(i * c + case.y[i * s + p] as usize) * s + p] = 1.0;
            }
        }
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let mut soft = ClassInputs::probabilities(Tensor::new(&case.x, &case.dims()).unwrap(), Tensor::new(&t, &case.dims()).unwrap());
        if weighted {
            soft = soft.weight(&case.w);
        }
        let hard = case.inputs(&case.x, weighted);
        let mut gs = vec![0.0; t.len()];
        let mut gh = vec![0.0; t.len()];
        let vs = ce.value_and_grad(&soft, Reduction::Sum, &mut gs).unwrap();
        let vh = ce.value_and_grad(&hard, Reduction::Sum, &mut gh).unwrap();
        prop_assert!(close(vs, vh, 1e-12, 1e-12), "{vs} vs {vh}");
        for (a, b) in gs.iter().zip(&gh) {
            prop_assert!(close(*a, *b, 1e-12, 1e-13), "{a} vs {b}");
        }
    }

    #[test]
    fn softmax_focal_is_bounded_by_cross_entropy_and_differentiable(
        (n, c, s, seed) in shapes(),
        gamma in prop_oneof![Just(0.0), Just(0.5), 0.0f64..4.0],
        alpha in any::<bool>(),
    ) {
        let case = Case::new(n, c, s, 0.25, 6.0, seed);
        let focal = SoftmaxFocal::default().gamma(gamma).unwrap();
        let mut i = case.inputs(&case.x, false);
        if alpha {
            i = i.alpha(&case.w);
        }
        let per = check_reductions(&focal, &i, n * s, case.kept() as f64);
        let ce = CrossEntropy::default().per(&case.inputs(&case.x, false), n * s);
        for (j, (f, e)) in per.iter().zip(&ce).enumerate() {
            let a = if alpha && case.y[j] != IGNORE { case.w[case.y[j] as usize] } else { 1.0 };
            prop_assert!(*f >= 0.0 && *f <= a * e * (1.0 + 1e-12) + 1e-300, "{f} vs α·CE {}", a * e);
            if gamma == 0.0 {
                prop_assert!(close(*f, a * e, 1e-13, 1e-300));
            }
        }
        check_gradient(&focal, &case, false, alpha);
    }

    #[test]
    fn nll_of_log_softmax_is_cross_entropy((n, c, s, seed) in shapes(), weighted in any::<bool>()) {
        let case = Case::new(n, c, s, 0.25, 6.0, seed);
        // log-softmax over the class dimension, by hand in f64.
        let mut z = case.x.clone();
        for i in 0..n {
            for p in 0..s {
                let at = |k: usize| (i * c + k) * s + p;
                let m = (0..c).map(|k| case.x[at(k)]).fold(f64::NEG_INFINITY, f64::max);
                let lse = m + (0..c).map(|k| (case.x[at(k)] - m).exp()).sum::<f64>().ln();
                for k in 0..c {
                    z[at(k)] = case.x[at(k)] - lse;
                }
            }
        }
        let nll = Nll::default();
        let denom = if weighted { case.weight_sum() } else { case.kept() as f64 };
        let per = check_reductions(&nll, &case.inputs(&z, weighted), n * s, denom);
        let ce = CrossEntropy::default().per(&case.inputs(&case.x, weighted), n * s);
        for (a, b) in per.iter().zip(&ce) {
            prop_assert!(close(*a, *b, 1e-12, 1e-14), "{a} vs {b}");
        }
        check_gradient(&nll, &Case { x: z, ..case }, weighted, false);
    }

    #[test]
    fn multi_margin_reductions_and_gradient(
        (n, c, _s, seed) in shapes(),
        p in 1i64..3,
        margin in 0.0f64..2.0,
        weighted in any::<bool>(),
    ) {
        let case = Case::new(n, c, 1, 0.0, 3.0, seed);
        let mm = MultiMargin::default().p(p).unwrap().margin(margin).unwrap();
        let i = case.inputs(&case.x, weighted);
        let per = check_reductions(&mm, &i, n, n as f64);
        prop_assert!(per.iter().all(|&l| l >= 0.0));
        // Central differences only away from the hinge's kinks.
        let near_kink = (0..n).any(|r| {
            let y = case.y[r] as usize;
            (0..c).any(|k| k != y && (margin - case.x[r * c + y] + case.x[r * c + k]).abs() < 1e-3)
        });
        if !near_kink {
            check_gradient(&mm, &case, weighted, false);
        }
    }

    #[test]
    fn kl_div_is_nonnegative_zero_at_the_target_and_differentiable(
        (n, c, _s, seed) in shapes(),
        log_target in any::<bool>(),
    ) {
        let mut r = Rng(seed);
        let row = |r: &mut Rng| -> Vec<f64> {
            let v: Vec<f64> = (0..c).map(|_| if r.next() < 0.2 { 0.0 } else { r.next() }).collect();
            let z: f64 = v.iter().sum::<f64>().max(1e-9);
            v.iter().map(|x| x / z).collect()
        };
        let t: Vec<f64> = (0..n).flat_map(|_| row(&mut r)).collect();
        let q: Vec<f64> = (0..n).flat_map(|_| row(&mut r)).map(|v| (v + 1e-3).ln()).collect();
        let tt: Vec<f64> = if log_target { t.iter().map(|v| v.ln()).collect() } else { t.clone() };
        let kl = KlDiv::default().log_target(log_target);
        let dims = [n, c];
        let (x, y) = (Tensor::new(&q, &dims).unwrap(), Tensor::new(&tt, &dims).unwrap());
        let sum = kl.value(x, y, Reduction::Sum).unwrap();
        let bm = kl.value(x, y, KlReduction::BatchMean).unwrap();
        let mean = kl.value(x, y, Reduction::Mean).unwrap();
        prop_assert!(close(sum, n as f64 * bm, 1e-13, 1e-300) && close(sum, (n * c) as f64 * mean, 1e-13, 1e-300));
        let mut g = vec![0.0; q.len()];
        kl.value_and_grad(x, y, KlReduction::BatchMean, &mut g).unwrap();
        for (j, gv) in g.iter().enumerate() {
            prop_assert!(close(*gv, -t[j] / n as f64, 1e-13, 1e-300));
        }
        // KL(t‖t) = 0; and ≥ 0 for normalised rows (q is not normalised here: renormalise).
        let logt: Vec<f64> = t.iter().map(|v| v.ln()).collect();
        let zero = kl.value(Tensor::new(&logt, &dims).unwrap(), y, Reduction::Sum).unwrap();
        prop_assert!(zero.abs() < 1e-12, "{zero}");
        let mut qn = q.clone();
        for rr in 0..n {
            let z: f64 = q[rr * c..(rr + 1) * c].iter().map(|v| v.exp()).sum::<f64>().ln();
            for v in &mut qn[rr * c..(rr + 1) * c] {
                *v -= z;
            }
        }
        prop_assert!(kl.value(Tensor::new(&qn, &dims).unwrap(), y, Reduction::Sum).unwrap() >= -1e-12);
    }

    #[test]
    fn f32_agrees_with_f64(
        (n, c, s, seed) in shapes(),
        eps in prop_oneof![Just(0.0), 0.0f64..1.0],
    ) {
        let case = Case::new(n, c, s, 0.2, 20.0, seed);
        let x32: Vec<f32> = case.x.iter().map(|&v| v as f32).collect();
        let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let a = ClassInputs::new(Tensor::new(&x32, &case.dims()).unwrap(), Tensor::new(&case.y, &case.ydims()).unwrap());
        let b = case.inputs(&x64, false);
        let mut g32 = vec![0.0f32; x32.len()];
        let mut g64 = vec![0.0f64; x64.len()];
        let v32 = ce.value_and_grad(&a, Reduction::Sum, &mut g32).unwrap();
        let v64 = ce.value_and_grad(&b, Reduction::Sum, &mut g64).unwrap();
        prop_assert!(close(f64::from(v32), v64, 1e-5, 1e-5), "{v32} vs {v64}");
        for (p, q) in g32.iter().zip(&g64) {
            prop_assert!(close(f64::from(*p), *q, 1e-5, 1e-6), "{p} vs {q}");
        }
    }
}

#[test]
fn large_batches_take_every_kernel_path() {
    // Small C (transposed blocks, with a partial last block), large C (rows), K-dim
    // (columns), each large enough to be split over threads: against the f64 naive formula.
    for (dims, eps) in [
        (vec![3000usize, 7], 0.1),
        (vec![200, 300], 0.0),
        (vec![3, 5, 20000], 0.2),
        (vec![257, 33], 0.0),
    ] {
        let (n, c) = (dims[0], dims[1]);
        let s: usize = dims[2..].iter().product();
        let case = Case::new(n, c, s, 0.1, 8.0, (n * c * s) as u64);
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let i = case.inputs(&case.x, true);
        let mut per = vec![0.0; n * s];
        ce.per_element(&i, &mut per).unwrap();
        for (j, (&l, &y)) in per.iter().zip(&case.y).enumerate() {
            if y == IGNORE {
                assert_eq!(l, 0.0);
                continue;
            }
            let (ni, p) = (j / s, j % s);
            let row: Vec<f64> = (0..c).map(|k| case.x[(ni * c + k) * s + p]).collect();
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            let hard = case.w[y as usize] * (lse - row[y as usize]);
            let smooth: f64 = (0..c).map(|k| case.w[k] * (lse - row[k])).sum();
            let want = (1.0 - eps) * hard + eps / c as f64 * smooth;
            assert!(
                close(l, want, 1e-12, 1e-12),
                "{dims:?} element {j}: {l} vs {want}"
            );
        }
        let mut g = vec![0.0; case.x.len()];
        let mean = ce.value_and_grad(&i, Reduction::Mean, &mut g).unwrap();
        assert!(close(
            mean,
            per.iter().sum::<f64>() / case.weight_sum(),
            1e-12,
            0.0
        ));
        // Every non-ignored position's gradient sums to 0 over the classes (unweighted
        // smoothing would make it exact; with weights it is Σ_c of the formula).
        assert!(g.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn ignored_samples_are_invisible_in_large_threaded_batches() {
    // Large enough that the chunks (and threads) fall differently once samples are added.
    for (n, c, s) in [(4000usize, 7usize, 1usize), (300, 60, 1), (6, 5, 9000)] {
        let case = Case::new(n, c, s, 0.1, 8.0, (n + c + s) as u64);
        let big = case.with_ignored_samples(n / 3, n / 2 + 1, 77);
        let ce = CrossEntropy::default().label_smoothing(0.15).unwrap();
        let (m1, g1) = ce.grad(&case.inputs(&case.x, true), Reduction::Mean);
        let (m2, g2) = ce.grad(&big.inputs(&big.x, true), Reduction::Mean);
        assert!(close(m1, m2, 4.0 * f64::EPSILON, 0.0), "{m1} vs {m2}");
        let cs = c * s;
        let (at, k) = (n / 3, n / 2 + 1);
        assert!(g2[at * cs..(at + k) * cs].iter().all(|&v| v == 0.0));
        let other: Vec<u64> = g2[..at * cs]
            .iter()
            .chain(&g2[(at + k) * cs..])
            .map(|v| v.to_bits())
            .collect();
        assert_eq!(
            other,
            g1.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "({n}, {c}, {s})"
        );
    }
}
