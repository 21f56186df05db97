//! Second derivatives of every catalogue loss that has one ([`LossInfo::hessian`]):
//! - the Hessian against central differences of the analytic gradient (f64 and f32, on each
//!   loss's sample at several sizes and seeds, and per policy where the policy is the exact
//!   value);
//! - value and gradient of `evaluate_hess` against `evaluate_with`;
//! - the boosting policies never negative or NaN, at random and extreme scores;
//! - `none` gives the gradient and Hessian of the sum; errors.
//!
//! Reference values from PyTorch's double backward live in `reference_hessians` below.

use losskit::{
    catalogue, evaluate_hess, evaluate_with, find, ArrayData, Curvature, Dtype, Error, LossInfo,
    NamedArray, Params, ReductionMode, SampleArrays,
};

fn prediction(arrays: &SampleArrays) -> Vec<f64> {
    match arrays
        .named()
        .iter()
        .find(|a| a.name == "input")
        .map(|a| a.data)
    {
        Some(ArrayData::F64(v)) => v.to_vec(),
        Some(ArrayData::F32(v)) => v.iter().map(|&x| f64::from(x)).collect(),
        _ => panic!("no float input"),
    }
}

/// The sample's named arrays with `input` replaced by `x` (in the sample's dtype).
fn with_input<'a>(
    arrays: &'a SampleArrays,
    x64: &'a [f64],
    x32: &'a [f32],
    dtype: Dtype,
) -> Vec<NamedArray<'a>> {
    arrays
        .named()
        .into_iter()
        .map(|mut a| {
            if a.name == "input" {
                a.data = match dtype {
                    Dtype::F64 => ArrayData::F64(x64),
                    Dtype::F32 => ArrayData::F32(x32),
                };
            }
            a
        })
        .collect()
}

/// `(value, grad, hess)` of `evaluate_hess` in f64 at `x`.
fn vgh64(
    info: &'static LossInfo,
    arrays: &SampleArrays,
    x: &[f64],
    params: &Params,
    r: ReductionMode,
    c: Curvature,
) -> (Option<f64>, Vec<f64>, Vec<f64>) {
    let named = with_input(arrays, x, &[], Dtype::F64);
    let (mut g, mut h) = (vec![f64::NAN; x.len()], vec![f64::NAN; x.len()]);
    let e = evaluate_hess(info, &named, params, r, c, &mut g, &mut h)
        .unwrap_or_else(|e| panic!("{}: {e}", info.name));
    (e.value, g, h)
}

fn grad64(info: &'static LossInfo, arrays: &SampleArrays, x: &[f64], params: &Params) -> Vec<f64> {
    let named = with_input(arrays, x, &[], Dtype::F64);
    let e = evaluate_with(info, &named, params, ReductionMode::Sum, &["input"]).unwrap();
    e.grads[0].1.to_f64()
}

fn losses_with_hessians() -> Vec<&'static LossInfo> {
    catalogue().filter(|l| l.hessian.is_some()).collect()
}

#[test]
fn the_catalogue_marks_the_boosting_losses() {
    let names: Vec<&str> = losses_with_hessians().iter().map(|l| l.name).collect();
    for want in [
        "mse",
        "l2",
        "mae",
        "huber",
        "smooth_l1",
        "pseudo_huber",
        "log_cosh",
        "quantile",
        "poisson_nll",
        "gamma_deviance",
        "tweedie",
        "bce_with_logits",
        "focal",
        "cross_entropy",
        "softmax_focal",
    ] {
        assert!(names.contains(&want), "{want} has no Hessian");
    }
}

/// Central differences of the gradient, one element at a time (the softmax losses couple the
/// elements of a row), against the analytic diagonal, in f64.
#[test]
fn hessians_match_central_differences_of_the_gradient() {
    for info in losses_with_hessians() {
        let params = Params::defaults(info);
        for (size, seed) in [(7usize, 1u64), (40, 2)] {
            let sample = (info.sample)(size, &mut losskit::sample::Rng::new(seed));
            let arrays = sample.arrays(Dtype::F64);
            let x = prediction(&arrays);
            let (_, g, h) = vgh64(
                info,
                &arrays,
                &x,
                &params,
                ReductionMode::Sum,
                Curvature::Exact,
            );
            let g0 = grad64(info, &arrays, &x, &params);
            for (i, (a, b)) in g.iter().zip(&g0).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                    "{}: gradient [{i}] {a} vs evaluate_with {b}",
                    info.name
                );
            }
            for i in 0..x.len().min(24) {
                let step = 1e-5 * x[i].abs().max(1.0);
                let mut xp = x.clone();
                xp[i] += step;
                let mut xm = x.clone();
                xm[i] -= step;
                let fd = (grad64(info, &arrays, &xp, &params)[i]
                    - grad64(info, &arrays, &xm, &params)[i])
                    / (2.0 * step);
                assert!(
                    (fd - h[i]).abs() <= 1e-6 * h[i].abs().max(1.0),
                    "{} size {size} seed {seed}: hessian [{i}] {} vs central difference {fd}",
                    info.name,
                    h[i]
                );
            }
        }
    }
}

/// f32: the Hessian agrees with the f64 one to f32 accuracy, and the same checks of the
/// dynamic layer hold (dtype f32 buffers).
#[test]
fn f32_hessians_agree_with_f64() {
    for info in losses_with_hessians() {
        let params = Params::defaults(info);
        let sample = (info.sample)(50, &mut losskit::sample::Rng::new(9));
        let a64 = sample.arrays(Dtype::F64);
        let a32 = sample.arrays(Dtype::F32);
        let x32: Vec<f32> = prediction(&a32).iter().map(|&v| v as f32).collect();
        let x64: Vec<f64> = x32.iter().map(|&v| f64::from(v)).collect();
        for c in Curvature::ALL {
            let (v64, g64, h64) = vgh64(info, &a64, &x64, &params, ReductionMode::Mean, c);
            let named = with_input(&a32, &[], &x32, Dtype::F32);
            let (mut g, mut h) = (vec![0f32; x32.len()], vec![0f32; x32.len()]);
            let e = evaluate_hess(
                info,
                &named,
                &params,
                ReductionMode::Mean,
                c,
                &mut g,
                &mut h,
            )
            .unwrap();
            assert_eq!(e.dtype, Dtype::F32);
            let v = e.value.unwrap();
            let scale = h64.iter().fold(0f64, |m, v| m.max(v.abs()));
            assert!(
                (v - v64.unwrap()).abs() <= 1e-4 * v64.unwrap().abs().max(1e-3),
                "{} {c}: value {v} vs {v64:?}",
                info.name
            );
            for i in 0..x32.len() {
                assert!(
                    (f64::from(h[i]) - h64[i]).abs() <= 1e-4 * h64[i].abs() + 1e-5 * scale,
                    "{} {c}: f32 hessian [{i}] {} vs f64 {}",
                    info.name,
                    h[i],
                    h64[i]
                );
                assert!((f64::from(g[i]) - g64[i]).abs() <= 1e-4 * g64[i].abs() + 1e-5);
            }
        }
    }
}

/// The boosting policies: finite inputs give a Hessian ≥ 0 and never NaN, at random and at
/// extreme scores, in f32 and f64.
#[test]
fn boosting_policies_never_give_a_negative_or_nan_hessian() {
    let extremes = [
        0.0f64, 1e-8, -1e-8, 0.5, -3.0, 17.0, -17.0, 40.0, -40.0, 88.0, -88.0, 700.0, -700.0,
        1e4, -1e4,
    ];
    for info in losses_with_hessians() {
        let params = Params::defaults(info);
        let sample = (info.sample)(60, &mut losskit::sample::Rng::new(4));
        for dtype in [Dtype::F64, Dtype::F32] {
            let arrays = sample.arrays(dtype);
            let base = prediction(&arrays);
            for (k, &e) in extremes.iter().enumerate() {
                // Every element at the extreme score, rotated through the list so rows mix.
                let x64: Vec<f64> = (0..base.len())
                    .map(|i| {
                        if i % 3 == 0 {
                            base[i]
                        } else {
                            extremes[(k + i) % extremes.len()] * e.signum().max(0.5)
                        }
                    })
                    .collect();
                let x32: Vec<f32> = x64.iter().map(|&v| v as f32).collect();
                for c in [Curvature::XGBoost, Curvature::LightGBM, Curvature::Exact] {
                    let named = with_input(&arrays, &x64, &x32, dtype);
                    let h: Vec<f64> = match dtype {
                        Dtype::F64 => {
                            let (mut g, mut h) = (vec![0.0; x64.len()], vec![0.0; x64.len()]);
                            evaluate_hess(
                                info,
                                &named,
                                &params,
                                ReductionMode::Sum,
                                c,
                                &mut g,
                                &mut h,
                            )
                            .unwrap();
                            assert!(g.iter().all(|v: &f64| !v.is_nan()), "{} {c}: NaN gradient", info.name);
                            h
                        }
                        Dtype::F32 => {
                            let (mut g, mut h) = (vec![0f32; x32.len()], vec![0f32; x32.len()]);
                            evaluate_hess(
                                info,
                                &named,
                                &params,
                                ReductionMode::Sum,
                                c,
                                &mut g,
                                &mut h,
                            )
                            .unwrap();
                            assert!(g.iter().all(|v: &f32| !v.is_nan()), "{} {c}: NaN gradient", info.name);
                            h.iter().map(|&v| f64::from(v)).collect()
                        }
                    };
                    for (i, v) in h.iter().enumerate() {
                        assert!(!v.is_nan(), "{} {c} {dtype:?}: NaN hessian at [{i}] (x = {})", info.name, x64[i]);
                        let may_be_negative = c == Curvature::Exact
                            && matches!(info.name, "focal" | "softmax_focal");
                        assert!(
                            *v >= 0.0 || may_be_negative,
                            "{} {c} {dtype:?}: hessian {v} < 0 at [{i}] (x = {})",
                            info.name,
                            x64[i]
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn focal_exact_curvature_is_negative_somewhere_and_the_bound_is_positive() {
    let info = find("focal").unwrap();
    let xs: Vec<f64> = (-60..=60).map(|i| f64::from(i) * 0.25).collect();
    let ys = vec![1.0f64; xs.len()];
    let dims = [xs.len()];
    let named = [
        NamedArray {
            name: "input",
            data: ArrayData::F64(&xs),
            dims: &dims,
        },
        NamedArray {
            name: "target",
            data: ArrayData::F64(&ys),
            dims: &dims,
        },
    ];
    let params = Params::parse(info, &[("gamma", "2"), ("alpha", "-1")]).unwrap();
    let run = |c| {
        let (mut g, mut h) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        evaluate_hess(info, &named, &params, ReductionMode::Sum, c, &mut g, &mut h).unwrap();
        h
    };
    let exact = run(Curvature::Exact);
    assert!(exact.iter().any(|&h| h < 0.0), "focal γ=2 is concave somewhere");
    let bounded = run(Curvature::XGBoost);
    for (i, (&e, &b)) in exact.iter().zip(&bounded).enumerate() {
        assert!(b >= e && b > 0.0, "x = {}: bound {b}, exact {e}", xs[i]);
    }
}

#[test]
fn reduction_none_gives_the_gradient_and_hessian_of_the_sum_and_mean_scales_them() {
    for info in losses_with_hessians() {
        let params = Params::defaults(info);
        let sample = (info.sample)(12, &mut losskit::sample::Rng::new(3));
        let arrays = sample.arrays(Dtype::F64);
        let x = prediction(&arrays);
        let (vs, gs, hs) = vgh64(info, &arrays, &x, &params, ReductionMode::Sum, Curvature::Exact);
        let named = with_input(&arrays, &x, &[], Dtype::F64);
        let (mut g, mut h) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        let e = evaluate_hess(
            info,
            &named,
            &params,
            ReductionMode::None,
            Curvature::Exact,
            &mut g,
            &mut h,
        )
        .unwrap();
        assert_eq!((&g, &h), (&gs, &hs), "{}", info.name);
        let per = e.per_element.unwrap().to_f64();
        let total: f64 = per.iter().sum();
        assert!((total - vs.unwrap()).abs() <= 1e-12 * total.abs().max(1.0), "{}", info.name);
        let (vm, gm, hm) = vgh64(info, &arrays, &x, &params, ReductionMode::Mean, Curvature::Exact);
        let k = vs.unwrap() / vm.unwrap();
        for i in 0..x.len() {
            assert!((gm[i] * k - gs[i]).abs() <= 1e-12 * gs[i].abs().max(1e-300) + 1e-15);
            assert!((hm[i] * k - hs[i]).abs() <= 1e-12 * hs[i].abs().max(1e-300) + 1e-15);
        }
    }
}

#[test]
fn errors_name_the_loss_and_the_buffer() {
    let x = [0.5f64, 1.0];
    let dims = [2usize];
    let named = [
        NamedArray {
            name: "input",
            data: ArrayData::F64(&x),
            dims: &dims,
        },
        NamedArray {
            name: "target",
            data: ArrayData::F64(&x),
            dims: &dims,
        },
    ];
    let dice = find("dice").unwrap();
    let (mut g, mut h) = ([0.0; 2], [0.0; 2]);
    let err = evaluate_hess(
        dice,
        &named,
        &Params::defaults(dice),
        ReductionMode::Mean,
        Curvature::Exact,
        &mut g,
        &mut h,
    )
    .unwrap_err();
    assert_eq!(err, Error::NoHessian { loss: "dice" });
    let huber = find("huber").unwrap();
    let mut short = [0.0; 1];
    let err = evaluate_hess(
        huber,
        &named,
        &Params::defaults(huber),
        ReductionMode::Mean,
        Curvature::Exact,
        &mut g,
        &mut short,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "huber: the gradient buffer for `input` has length 1, expected 2 (the length of `input`)"
    );
    let (mut g32, mut h32) = ([0f32; 2], [0f32; 2]);
    let err = evaluate_hess(
        huber,
        &named,
        &Params::defaults(huber),
        ReductionMode::Mean,
        Curvature::Exact,
        &mut g32,
        &mut h32,
    )
    .unwrap_err();
    assert!(matches!(err, Error::GradDtype { buffer: "f32", .. }));
    assert_eq!(
        Curvature::from_name("newton").unwrap_err().to_string(),
        "unknown curvature policy `newton`; policies are `exact`, `xgboost`, `lightgbm`"
    );
    for c in Curvature::ALL {
        assert_eq!(Curvature::from_name(c.name()).unwrap(), c);
    }
    let gamma = find("gamma_deviance").unwrap();
    let err = evaluate_hess(
        gamma,
        &[
            named[0],
            NamedArray {
                name: "target",
                data: ArrayData::F64(&[1.0, 0.0]),
                dims: &dims,
            },
        ],
        &Params::defaults(gamma),
        ReductionMode::Mean,
        Curvature::Exact,
        &mut g,
        &mut h,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gamma_deviance: `target` at [1] is 0, expected a target > 0 (gamma regression takes positive targets)"
    );
}

/// Central differences of `grad(x)[i]` against `hess[i]`, one element at a time.
fn check_fd(
    label: &str,
    x: &[f64],
    vgh: impl Fn(&[f64], &mut [f64], &mut [f64]) -> losskit::Result<f64>,
) {
    let n = x.len();
    let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
    vgh(x, &mut g, &mut h).unwrap();
    for i in 0..n {
        let step = 1e-5 * x[i].abs().max(1.0);
        let (mut gp, mut gm, mut hh) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut xp = x.to_vec();
        xp[i] += step;
        vgh(&xp, &mut gp, &mut hh).unwrap();
        let mut xm = x.to_vec();
        xm[i] -= step;
        vgh(&xm, &mut gm, &mut hh).unwrap();
        let fd = (gp[i] - gm[i]) / (2.0 * step);
        assert!(
            (fd - h[i]).abs() <= 1e-6 * h[i].abs().max(1.0),
            "{label}: hessian [{i}] {} vs central difference {fd}",
            h[i]
        );
    }
}

#[test]
fn parameters_weights_and_targets_away_from_the_defaults() {
    use losskit::{
        BceWithLogits, BinaryInputs, ClassInputs, CrossEntropy, Focal, Huber, Pointwise,
        PoissonNll, Reduction, SoftmaxFocal, Tensor, Tweedie,
    };
    let mut rng = losskit::sample::Rng::new(11);
    let x: Vec<f64> = rng.normals(12, 2.0);
    let y: Vec<f64> = rng.uniforms(12, 0.0, 1.0);
    let w: Vec<f64> = rng.uniforms(12, 0.0, 2.0);
    let labels: Vec<f64> = y.iter().map(|&v| if v > 0.5 { 1.0 } else { 0.0 }).collect();
    let counts: Vec<f64> = y.iter().map(|&v| (v * 5.0).floor()).collect();
    for r in [Reduction::Mean, Reduction::Sum] {
        check_fd("huber δ=0.3 weighted", &x, |x, g, h| {
            Huber::new(0.3)?.value_grad_hess(&Pointwise::new(x, &y).weight(&w[..]), r, Curvature::Exact, g, h)
        });
        check_fd("tweedie ρ=1.2 weighted", &x, |x, g, h| {
            Tweedie::new(1.2)?.value_grad_hess(&Pointwise::new(x, &counts).weight(&w[..]), r, Curvature::Exact, g, h)
        });
        let rates: Vec<f64> = x.iter().map(|v| v.abs() + 0.5).collect();
        check_fd("poisson rate form", &rates, |x, g, h| {
            PoissonNll::default().log_input(false).full(true).value_grad_hess(&Pointwise::new(x, &counts), r, Curvature::Exact, g, h)
        });
        let pw = [0.3f64, 2.5, 1.0];
        check_fd("bce_with_logits pos_weight, soft targets", &x, |x, g, h| {
            BceWithLogits::default().pos_weight(&pw)?.value_grad_hess(
                &BinaryInputs::new(Tensor::new(x, &[4, 3])?, Tensor::new(&y, &[4, 3])?).weight(&w[..3]),
                r,
                Curvature::Exact,
                g,
                h,
            )
        });
        for (alpha, gamma) in [(0.25, 2.0), (-1.0, 0.5), (0.7, 1.0), (0.5, 3.3)] {
            check_fd(&format!("focal α={alpha} γ={gamma}, soft"), &x, |x, g, h| {
                Focal::new(alpha, gamma)?.value_grad_hess(&BinaryInputs::new(x, &y[..]), r, Curvature::Exact, g, h)
            });
            check_fd(&format!("focal α={alpha} γ={gamma}, hard"), &x, |x, g, h| {
                Focal::new(alpha, gamma)?.value_grad_hess(&BinaryInputs::new(x, &labels[..]), r, Curvature::Exact, g, h)
            });
        }
        // [N, C, S] = [2, 3, 2] with index targets, an ignored position, class weights,
        // smoothing.
        let targets = [2i64, 0, -100, 1];
        let cw = [0.5f64, 2.0, 1.0];
        for eps in [0.0, 0.1] {
            check_fd(&format!("cross_entropy ε={eps}, weights, [2, 3, 2]"), &x, |x, g, h| {
                CrossEntropy::default().label_smoothing(eps)?.value_grad_hess(
                    &ClassInputs::new(Tensor::new(x, &[2, 3, 2])?, Tensor::new(&targets, &[2, 2])?)
                        .weight(&cw[..]),
                    r,
                    Curvature::Exact,
                    g,
                    h,
                )
            });
        }
        // Probability targets [4, 3].
        let probs: Vec<f64> = y.chunks(3).flat_map(|c| {
            let s: f64 = c.iter().sum();
            c.iter().map(move |v| v / s).collect::<Vec<_>>()
        }).collect();
        check_fd("cross_entropy probabilities ε=0.2, weights", &x, |x, g, h| {
            CrossEntropy::default().label_smoothing(0.2)?.value_grad_hess(
                &ClassInputs::probabilities(Tensor::new(x, &[4, 3])?, Tensor::new(&probs, &[4, 3])?).weight(&cw[..]),
                r,
                Curvature::Exact,
                g,
                h,
            )
        });
        for gamma in [0.0, 0.5, 2.0, 4.5] {
            let t4 = [0i64, 2, 1, -100];
            let alpha = [0.2f64, 1.0, 3.0];
            check_fd(&format!("softmax_focal γ={gamma}, alpha"), &x, |x, g, h| {
                SoftmaxFocal::default().gamma(gamma)?.value_grad_hess(
                    &ClassInputs::new(Tensor::new(x, &[4, 3])?, &t4[..]).alpha(&alpha[..]),
                    r,
                    Curvature::Exact,
                    g,
                    h,
                )
            });
        }
    }
}

/// Value and gradient of `value_grad_hess` against `value_and_grad`, for the softmax losses
/// (whose Hessian pass is a separate kernel), at ordinary and saturated logits.
#[test]
fn softmax_value_and_gradient_agree_with_value_and_grad() {
    use losskit::{ClassInputs, CrossEntropy, Reduction, SoftmaxFocal, Tensor};
    let x = [
        3.0f64, 0.0, -1.0, 0.5, 0.4, 0.3, 40.0, -40.0, 0.0, -800.0, 900.0, 1.0,
        f64::NEG_INFINITY, 2.0, 1.0,
    ];
    let t = [0i64, 2, 0, 1, 1];
    let inputs = ClassInputs::new(Tensor::new(&x, &[5, 3]).unwrap(), &t);
    for eps in [0.0, 0.3] {
        let ce = CrossEntropy::default().label_smoothing(eps).unwrap();
        let mut g0 = [0.0; 15];
        let v0 = ce.value_and_grad(&inputs, Reduction::Mean, &mut g0).unwrap();
        let (mut g, mut h) = ([0.0; 15], [0.0; 15]);
        let v = ce
            .value_grad_hess(&inputs, Reduction::Mean, Curvature::Exact, &mut g, &mut h)
            .unwrap();
        assert!(v == v0 || (v - v0).abs() <= 4.0 * f64::EPSILON * v0.abs(), "{v} {v0}");
        for i in 0..15 {
            assert!(g[i] == g0[i] || (g[i] - g0[i]).abs() <= 4.0 * f64::EPSILON * g0[i].abs().max(1e-300), "[{i}] {} {}", g[i], g0[i]);
            assert!(h[i] >= 0.0 && h[i].is_finite());
        }
    }
    for gamma in [0.0, 0.5, 2.0] {
        let f = SoftmaxFocal::default().gamma(gamma).unwrap();
        let mut g0 = [0.0; 15];
        let v0 = f.value_and_grad(&inputs, Reduction::Sum, &mut g0).unwrap();
        let (mut g, mut h) = ([0.0; 15], [0.0; 15]);
        let v = f
            .value_grad_hess(&inputs, Reduction::Sum, Curvature::Exact, &mut g, &mut h)
            .unwrap();
        assert!((v - v0).abs() <= 8.0 * f64::EPSILON * v0.abs(), "γ={gamma}: {v} {v0}");
        for i in 0..15 {
            assert!(
                (g[i] - g0[i]).abs() <= 16.0 * f64::EPSILON * g0[i].abs().max(1e-300),
                "γ={gamma} [{i}] {} {}",
                g[i],
                g0[i]
            );
            assert!(h[i].is_finite(), "γ={gamma} [{i}] {}", h[i]);
        }
    }
}
