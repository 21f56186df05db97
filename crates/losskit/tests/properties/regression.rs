//! Properties of the regression losses: non-negativity, zero at a perfect prediction,
//! `sum == n·mean`, the weighted mean, gradients against central differences (f64), and
//! bit-identical results at any thread count.

use losskit::{
    GammaDeviance, GaussianInputs, GaussianNll, Huber, LogCosh, Mae, Mse, Pointwise, PoissonNll,
    PseudoHuber, Quantile, Reduction, SmoothL1, Tensor, Tweedie, L2,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

type Fused = fn(&Pointwise<'_, f64>, Reduction, &mut [f64]) -> losskit::Result<f64>;

/// Every pointwise regression loss, with a parameter away from the default where it has one.
fn losses() -> Vec<(&'static str, Fused, bool)> {
    // (name, value_and_grad, non-negative and zero at a perfect prediction)
    vec![
        ("mse", |i, r, g| Mse.value_and_grad(i, r, g), true),
        ("l2", |i, r, g| L2.value_and_grad(i, r, g), true),
        ("mae", |i, r, g| Mae.value_and_grad(i, r, g), true),
        (
            "huber",
            |i, r, g| Huber::new(0.7)?.value_and_grad(i, r, g),
            true,
        ),
        (
            "smooth_l1",
            |i, r, g| SmoothL1::new(0.4)?.value_and_grad(i, r, g),
            true,
        ),
        (
            "smooth_l1_beta0",
            |i, r, g| SmoothL1::new(0.0)?.value_and_grad(i, r, g),
            true,
        ),
        ("log_cosh", |i, r, g| LogCosh.value_and_grad(i, r, g), true),
        (
            "pseudo_huber",
            |i, r, g| PseudoHuber::new(0.4)?.value_and_grad(i, r, g),
            true,
        ),
        (
            "gamma_deviance",
            |i, r, g| {
                // Gamma regression takes targets > 0: the strategy's targets, shifted.
                let t: Vec<f64> = i.target().data().iter().map(|v| v + 0.05).collect();
                let mut p = Pointwise::new(i.input(), Tensor::new(&t, i.target().dims())?);
                if let Some(w) = i.weight_tensor() {
                    p = p.weight(w);
                }
                GammaDeviance.value_and_grad(&p, r, g)
            },
            false,
        ),
        (
            "tweedie",
            |i, r, g| Tweedie::new(1.3)?.value_and_grad(i, r, g),
            false,
        ),
        (
            "quantile",
            |i, r, g| Quantile::new(0.8)?.value_and_grad(i, r, g),
            true,
        ),
        (
            "poisson_nll",
            |i, r, g| PoissonNll::default().value_and_grad(i, r, g),
            false,
        ),
        (
            "poisson_nll_rate",
            |i, r, g| {
                PoissonNll::default()
                    .log_input(false)
                    .full(true)
                    .value_and_grad(i, r, g)
            },
            false,
        ),
    ]
}

fn config() -> Config {
    Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x0105_5c17),
        ..Config::default()
    }
}

fn vectors() -> impl Strategy<Value = (Vec<f64>, Vec<f64>, Vec<f64>)> {
    (1usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(-5.0f64..5.0, n),
            prop::collection::vec(0.0f64..6.0, n),
            prop::collection::vec(0.0f64..3.0, n),
        )
    })
}

/// The rate form of the Poisson loss takes rates >= 0 only.
fn domain(name: &str, x: &[f64]) -> Vec<f64> {
    if name == "poisson_nll_rate" {
        x.iter().map(|v| v.abs() + 0.05).collect()
    } else {
        x.to_vec()
    }
}

fn value(f: Fused, x: &[f64], t: &[f64], w: Option<&[f64]>, r: Reduction) -> f64 {
    let mut g = vec![0.0; x.len()];
    let inputs = match w {
        Some(w) => Pointwise::new(x, t).weight(w),
        None => Pointwise::new(x, t),
    };
    f(&inputs, r, &mut g).expect("valid input")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn non_negative_and_zero_at_perfect_prediction((x, t, _w) in vectors()) {
        for (name, f, nonneg) in losses() {
            if !nonneg {
                continue;
            }
            // Rate-free losses: any target is a valid target.
            let v = value(f, &x, &t, None, Reduction::Sum);
            prop_assert!(v >= 0.0, "{name}: {v}");
            let mut g = vec![1.0; x.len()];
            let z = f(&Pointwise::new(&x, &x), Reduction::Mean, &mut g).unwrap();
            prop_assert_eq!(z, 0.0, "{}", name);
            // The quantile loss's tie gradient is ½ − τ by design (see its docs).
            let tie = if name == "quantile" { 0.5 - 0.8 } else { 0.0 };
            let n = x.len() as f64;
            prop_assert!(g.iter().all(|&d| (d - tie / n).abs() < 1e-15), "{name}: {g:?}");
        }
    }

    #[test]
    fn sum_is_n_times_mean_and_weights_give_the_weighted_mean((x, t, w) in vectors()) {
        let n = x.len() as f64;
        for (name, f, _) in losses() {
            let x = domain(name, &x);
            let mean = value(f, &x, &t, None, Reduction::Mean);
            let sum = value(f, &x, &t, None, Reduction::Sum);
            prop_assert!((sum - n * mean).abs() <= 1e-12 * sum.abs().max(1.0), "{name}: {sum} vs {n}·{mean}");
            let ws: f64 = w.iter().sum();
            let wsum = value(f, &x, &t, Some(&w), Reduction::Sum);
            let wmean = value(f, &x, &t, Some(&w), Reduction::Mean);
            prop_assert!((wsum - ws * wmean).abs() <= 1e-12 * wsum.abs().max(1.0), "{name}");
        }
    }

    #[test]
    fn gradients_match_central_differences((x, t, w) in vectors()) {
        for (name, f, _) in losses() {
            let x = domain(name, &x);
            let inputs = Pointwise::new(&x, &t).weight(&w);
            let mut g = vec![0.0; x.len()];
            f(&inputs, Reduction::Mean, &mut g).unwrap();
            for i in 0..x.len() {
                let e = x[i] - t[i];
                // Skip the kinks: |e| near 0 and near each loss's threshold.
                if [0.0, 0.7, 0.4].iter().any(|k| (e.abs() - k).abs() < 1e-3) {
                    continue;
                }
                let h = 1e-6;
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let fd = (value(f, &xp, &t, Some(&w), Reduction::Mean)
                    - value(f, &xm, &t, Some(&w), Reduction::Mean)) / (2.0 * h);
                let scale = g[i].abs().max(1e-3);
                prop_assert!((fd - g[i]).abs() <= 1e-5 * scale.max(1.0), "{name}[{i}]: analytic {} vs fd {fd}", g[i]);
            }
        }
    }

    #[test]
    fn gaussian_nll_gradients_match_central_differences(
        (x, t, _w) in vectors(),
        seed in 0.05f64..4.0,
    ) {
        let var: Vec<f64> = (0..x.len()).map(|i| seed + 0.1 * i as f64).collect();
        let loss = GaussianNll::default().full(true);
        let f = |x: &[f64], var: &[f64]| loss.value(&GaussianInputs::new(x, &t[..], var), Reduction::Mean).unwrap();
        let (mut gx, mut gv) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let v = loss.value_and_grad(&GaussianInputs::new(&x, &t, &var), Reduction::Mean, &mut gx, &mut gv).unwrap();
        prop_assert!((v - f(&x, &var)).abs() <= 1e-14 * v.abs().max(1.0));
        let h = 1e-6;
        for i in 0..x.len() {
            let (mut xp, mut xm) = (x.clone(), x.clone());
            xp[i] += h;
            xm[i] -= h;
            let fd = (f(&xp, &var) - f(&xm, &var)) / (2.0 * h);
            prop_assert!((fd - gx[i]).abs() <= 1e-5 * gx[i].abs().max(1.0), "input[{i}]");
            let (mut vp, mut vm) = (var.clone(), var.clone());
            vp[i] += h;
            vm[i] -= h;
            let fd = (f(&x, &vp) - f(&x, &vm)) / (2.0 * h);
            prop_assert!((fd - gv[i]).abs() <= 1e-5 * gv[i].abs().max(1.0), "var[{i}]");
        }
    }
}

#[test]
fn results_are_bit_identical_at_any_thread_count() {
    let n = (1 << 19) + 12345;
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 100.0 - 5.0)
        .collect();
    let t: Vec<f32> = (0..n)
        .map(|i| ((i * 104_729) % 997) as f32 / 120.0 - 4.0)
        .collect();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut g = vec![0.0f32; n];
            let inputs = Pointwise::new(&x, &t);
            let v = Huber::default()
                .value_and_grad(&inputs, Reduction::Mean, &mut g)
                .unwrap();
            let w = LogCosh.value(&inputs, Reduction::Sum).unwrap();
            (v.to_bits(), w.to_bits(), g)
        })
    };
    let (a, b) = (run(1), run(2));
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    assert!(a.2 == b.2);
    // And the f64 accumulation keeps an f32 mean over half a million elements accurate.
    let exact: f64 = x
        .iter()
        .zip(&t)
        .map(|(&a, &b)| {
            let e = f64::from(a) - f64::from(b);
            if e.abs() <= 1.0 {
                0.5 * e * e
            } else {
                e.abs() - 0.5
            }
        })
        .sum::<f64>()
        / n as f64;
    let got = f64::from(f32::from_bits(a.0));
    assert!((got - exact).abs() <= 1e-6 * exact, "{got} vs {exact}");
}
