//! Properties of the binary, multi-label and ±1-margin losses: non-negativity, zeros where
//! the loss must vanish, `sum == n·mean`, the fused gradient against central differences
//! (f64, away from kinks), and identities between the losses.

use losskit::{
    Bce, BceWithLogits, BinaryInputs, Focal, Hinge, MarginRanking, RankingInputs, Reduction,
    SoftMargin, SquaredHinge, Tensor,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x0b1a_5eed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// The three typed entry points of one binary loss, as closures over the same inputs.
trait Api {
    fn value(&self, i: &BinaryInputs<'_, f64>, r: Reduction) -> f64;
    fn grad(&self, i: &BinaryInputs<'_, f64>, r: Reduction) -> (f64, Vec<f64>);
    fn per(&self, i: &BinaryInputs<'_, f64>) -> Vec<f64>;
}

macro_rules! api {
    ($($ty:ty),*) => {$(
        impl Api for $ty {
            fn value(&self, i: &BinaryInputs<'_, f64>, r: Reduction) -> f64 {
                <$ty>::value(self, i, r).unwrap()
            }
            fn grad(&self, i: &BinaryInputs<'_, f64>, r: Reduction) -> (f64, Vec<f64>) {
                let mut g = vec![f64::NAN; i.input().len()];
                let v = <$ty>::value_and_grad(self, i, r, &mut g).unwrap();
                (v, g)
            }
            fn per(&self, i: &BinaryInputs<'_, f64>) -> Vec<f64> {
                let mut o = vec![f64::NAN; i.input().len()];
                <$ty>::per_element(self, i, &mut o).unwrap();
                o
            }
        }
    )*};
}
api!(BceWithLogits, Bce, Focal, Hinge, SquaredHinge, SoftMargin);

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Checks the reductions against each other and the per-element values, and returns the
/// per-element losses.
fn check_reductions(k: &dyn Api, i: &BinaryInputs<'_, f64>, weight_sum: f64) -> Vec<f64> {
    let per = k.per(i);
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
    assert!(
        close(sum, weight_sum * mean, 1e-13, 1e-300),
        "sum {sum} vs Σw·mean {}",
        weight_sum * mean
    );
    for (a, b) in gs.iter().zip(&gm) {
        assert!(
            close(a / weight_sum, *b, 1e-13, 1e-300),
            "mean gradient is the sum's over Σw"
        );
    }
    per
}

/// Compares the gradient of the sum with central differences, element by element.
fn check_gradient(
    k: &dyn Api,
    x: &[f64],
    y: &[f64],
    w: Option<&[f64]>,
    skip: impl Fn(usize) -> bool,
) {
    let inputs = |x: &[f64]| -> f64 {
        let mut i = BinaryInputs::new(x, y);
        if let Some(w) = w {
            i = i.weight(w);
        }
        k.value(&i, Reduction::Sum)
    };
    let mut i = BinaryInputs::new(x, y);
    if let Some(w) = w {
        i = i.weight(w);
    }
    let (_, g) = k.grad(&i, Reduction::Sum);
    let mut xp = x.to_vec();
    for j in 0..x.len() {
        if skip(j) {
            continue;
        }
        let h = 1e-6 * x[j].abs().max(1.0);
        xp[j] = x[j] + h;
        let up = inputs(&xp);
        xp[j] = x[j] - h;
        let down = inputs(&xp);
        xp[j] = x[j];
        let num = (up - down) / (2.0 * h);
        assert!(
            close(g[j], num, 1e-5, 1e-7),
            "element {j}: analytic {} vs numeric {num}",
            g[j]
        );
    }
}

fn logits() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-20.0f64..20.0, 1..40)
}

fn with_targets(
    xs: impl Strategy<Value = Vec<f64>>,
    target: impl Strategy<Value = f64> + Clone,
) -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    xs.prop_flat_map(move |x| {
        let n = x.len();
        (
            Just(x),
            prop::collection::vec(target.clone(), n),
            prop::collection::vec(0.0f64..3.0, n),
        )
    })
}

fn soft() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![Just(0.0), Just(1.0), 0.0f64..=1.0]
}

fn sign() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![Just(-1.0), Just(1.0)]
}

fn nonneg(per: &[f64]) {
    assert!(per.iter().all(|&l| l >= 0.0), "negative loss in {per:?}");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn bce_with_logits((x, y, w) in with_targets(logits(), soft()), pw in 0.1f64..5.0) {
        let k = BceWithLogits::default().pos_weight(&[pw]).unwrap();
        nonneg(&check_reductions(&k, &BinaryInputs::new(&x, &y), x.len() as f64));
        let ws: f64 = w.iter().sum();
        if ws > 0.0 {
            nonneg(&check_reductions(&k, &BinaryInputs::new(&x, &y).weight(&w), ws));
        }
        check_gradient(&k, &x, &y, Some(&w), |_| false);
        // Zero at the matching infinite logit.
        let inf: Vec<f64> = y.iter().map(|&t| if t == 1.0 { f64::INFINITY } else { f64::NEG_INFINITY }).collect();
        let per = k.per(&BinaryInputs::new(&inf, &y));
        for (l, t) in per.iter().zip(&y) {
            let expected = if *t == 0.0 || *t == 1.0 { 0.0 } else { f64::INFINITY };
            prop_assert_eq!(*l, expected);
        }
    }

    #[test]
    fn bce_on_probabilities((x, y, w) in with_targets(prop::collection::vec(0.01f64..0.99, 1..40), soft())) {
        nonneg(&check_reductions(&Bce, &BinaryInputs::new(&x, &y), x.len() as f64));
        check_gradient(&Bce, &x, &y, Some(&w), |_| false);
        // Zero at a perfect prediction, and finite (at most 100) at the worst one.
        let hard: Vec<f64> = y.iter().map(|&t| t.round()).collect();
        prop_assert!(Bce.per(&BinaryInputs::new(&hard, &hard)).iter().all(|&l| l == 0.0));
        let wrong: Vec<f64> = hard.iter().map(|&t| 1.0 - t).collect();
        prop_assert!(Bce.per(&BinaryInputs::new(&wrong, &hard)).iter().all(|&l| l == 100.0));
    }

    #[test]
    fn focal((x, y, w) in with_targets(logits(), soft()), alpha in prop_oneof![Just(-1.0), 0.0f64..=1.0], gamma in prop_oneof![Just(0.0), Just(0.5), 0.0f64..4.0]) {
        let k = Focal::new(alpha, gamma).unwrap();
        nonneg(&check_reductions(&k, &BinaryInputs::new(&x, &y), x.len() as f64));
        check_gradient(&k, &x, &y, Some(&w), |_| false);
        // Never above the (α-weighted) BCE it scales down.
        let bce = BceWithLogits::default().per(&BinaryInputs::new(&x, &y));
        for ((f, b), t) in k.per(&BinaryInputs::new(&x, &y)).iter().zip(&bce).zip(&y) {
            let at = if alpha < 0.0 { 1.0 } else { alpha * t + (1.0 - alpha) * (1.0 - t) };
            prop_assert!(*f <= at * b * (1.0 + 1e-12) + 1e-300);
        }
    }

    #[test]
    fn focal_at_saturated_logits_is_finite(z in prop_oneof![Just(50.0f64), Just(1e4), 30.0f64..800.0], gamma in prop_oneof![Just(0.0), Just(0.5), Just(1.0), Just(2.0), 0.0f64..1.0], y in soft()) {
        for x in [z, -z] {
            let (v, g) = Focal::new(-1.0, gamma).unwrap().grad(&BinaryInputs::new(&[x], &[y]), Reduction::Sum);
            prop_assert!(v.is_finite() && v >= 0.0 && g[0].is_finite(), "x {x} y {y} γ {gamma}: {v} {g:?}");
            let x32 = [x as f32];
            let mut g32 = [0.0f32];
            let v32 = Focal::new(-1.0, gamma).unwrap()
                .value_and_grad(&BinaryInputs::new(&x32, &[y as f32]), Reduction::Sum, &mut g32)
                .unwrap();
            prop_assert!(v32.is_finite() && g32[0].is_finite(), "f32 x {x} y {y} γ {gamma}");
        }
    }

    #[test]
    fn hinge_and_squared_hinge((x, y, w) in with_targets(prop::collection::vec(-4.0f64..4.0, 1..40), sign()), margin in 0.0f64..2.0) {
        let hinge = Hinge::new(margin).unwrap();
        let sq = SquaredHinge::new(margin).unwrap();
        for k in [&hinge as &dyn Api, &sq] {
            let per = check_reductions(k, &BinaryInputs::new(&x, &y), x.len() as f64);
            nonneg(&per);
            let (_, g) = k.grad(&BinaryInputs::new(&x, &y), Reduction::Sum);
            for j in 0..x.len() {
                if y[j] * x[j] >= margin {
                    prop_assert!(per[j] == 0.0 && g[j] == 0.0, "beyond the margin");
                }
            }
        }
        let away = |j: usize| (margin - y[j] * x[j]).abs() < 1e-3;
        check_gradient(&hinge, &x, &y, Some(&w), away);
        check_gradient(&sq, &x, &y, Some(&w), |_| false);
        // squared_hinge is the square of hinge.
        for (h, s) in hinge.per(&BinaryInputs::new(&x, &y)).iter().zip(sq.per(&BinaryInputs::new(&x, &y))) {
            prop_assert!(close(h * h, s, 1e-15, 0.0));
        }
    }

    #[test]
    fn soft_margin_is_bce_with_logits_on_mapped_labels((x, y, w) in with_targets(logits(), sign())) {
        nonneg(&check_reductions(&SoftMargin, &BinaryInputs::new(&x, &y), x.len() as f64));
        check_gradient(&SoftMargin, &x, &y, Some(&w), |_| false);
        let y01: Vec<f64> = y.iter().map(|&t| (t + 1.0) / 2.0).collect();
        let (a, ga) = SoftMargin.grad(&BinaryInputs::new(&x, &y), Reduction::Mean);
        let (b, gb) = BceWithLogits::default().grad(&BinaryInputs::new(&x, &y01), Reduction::Mean);
        prop_assert!(close(a, b, 1e-14, 0.0));
        for (p, q) in ga.iter().zip(&gb) {
            prop_assert!(close(*p, *q, 1e-14, 1e-300));
        }
    }

    #[test]
    fn margin_ranking((x1, y, _) in with_targets(prop::collection::vec(-4.0f64..4.0, 1..40), sign()), shift in prop::collection::vec(-3.0f64..3.0, 40), margin in -1.0f64..2.0) {
        let n = x1.len();
        let x2: Vec<f64> = x1.iter().zip(&shift).map(|(a, s)| a + s).collect();
        let k = MarginRanking::new(margin).unwrap();
        let inputs = RankingInputs::new(&x1, &x2[..n], &y);
        let mut per = vec![0.0; n];
        k.per_element(&inputs, &mut per).unwrap();
        nonneg(&per);
        let (mut g1, mut g2) = (vec![0.0; n], vec![0.0; n]);
        let sum = k.value_and_grad(&inputs, Reduction::Sum, &mut g1, &mut g2).unwrap();
        let mean = k.value(&inputs, Reduction::Mean).unwrap();
        prop_assert!(close(sum, n as f64 * mean, 1e-13, 1e-300));
        prop_assert!(close(sum, per.iter().sum(), 1e-13, 1e-300));
        for j in 0..n {
            let z = -y[j] * (x1[j] - x2[j]) + margin;
            if z <= 0.0 {
                prop_assert!(per[j] == 0.0 && g1[j] == 0.0 && g2[j] == 0.0);
            } else if z > 1e-3 {
                // Linear away from the kink: a difference quotient is exact up to rounding.
                let mut a = x1.clone();
                a[j] += 1e-4;
                let up = k.value(&RankingInputs::new(&a, &x2[..n], &y), Reduction::Sum).unwrap();
                prop_assert!(close((up - sum) / 1e-4, g1[j], 1e-6, 1e-6));
                prop_assert_eq!(g2[j], -g1[j]);
            }
        }
    }
}

#[test]
fn broadcast_label_weight_matches_the_expanded_one_for_every_loss() {
    let (n, c) = (5, 3);
    let x: Vec<f64> = (0..n * c).map(|i| (i as f64 - 7.0) / 3.0).collect();
    let y: Vec<f64> = (0..n * c)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let y01: Vec<f64> = y.iter().map(|&t| (t + 1.0) / 2.0).collect();
    let w = [0.5, 2.0, 1.0];
    let full: Vec<f64> = (0..n * c).map(|i| w[i % c]).collect();
    let t = |d: &[f64]| Tensor::new(d, &[n, c]).unwrap().data().to_vec();
    let (x, y, y01, full) = (t(&x), t(&y), t(&y01), t(&full));
    let shape = [n, c];
    let run = |k: &dyn Api, y: &[f64]| {
        let tx = Tensor::new(&x, &shape).unwrap();
        let ty = Tensor::new(y, &shape).unwrap();
        let a = k.grad(&BinaryInputs::new(tx, ty).weight(&w[..]), Reduction::Mean);
        let b = k.grad(
            &BinaryInputs::new(tx, ty).weight(Tensor::new(&full, &shape).unwrap()),
            Reduction::Mean,
        );
        assert!(close(a.0, b.0, 1e-15, 0.0));
        assert_eq!(a.1, b.1);
    };
    run(
        &BceWithLogits::default()
            .pos_weight(&[1.0, 2.0, 3.0])
            .unwrap(),
        &y01,
    );
    run(&Focal::default(), &y01);
    run(&Hinge::default(), &y);
    run(&SquaredHinge::default(), &y);
    run(&SoftMargin, &y);
}
