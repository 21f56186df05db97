//! The composed path: against the core (through the same harness as the fused path) for
//! every loss it covers, parameter variants against the fused path, and the core's
//! subgradients at kinks and ties, where a naive composition of burn ops is wrong
//! (burn's `clamp_min'(0) = 1`, `abs'(0) = 0` and `max_dim` picking one of equal logits).

use crate::common::{device, float, to_f64, tolerance};
use crate::fused::case;
use burn::tensor::{Int, Tensor};
use losskit::{Dtype, ReductionMode};
use losskit_burn::{loss, Input, Param, Path, COMPOSED};

#[test]
fn the_composed_losses_match_the_core() {
    let mut compared = 0;
    for name in COMPOSED {
        let info = losskit::find(name).expect("known");
        for dtype in [Dtype::F32, Dtype::F64] {
            for (seed, scale) in [(1, 1.0), (2, 1.0), (3, 1e4), (4, 0.0)] {
                for &r in info.reductions {
                    // Samples the composed path does not cover (cross_entropy's probability
                    // targets, rank-3 logits) say so; every other one is compared.
                    let s = crate::common::sample(info, 48, seed, scale);
                    let args = crate::common::inputs(info, &s, dtype, &device());
                    let probe = loss(name)
                        .expect("known")
                        .reduction(r)
                        .path(Path::Composed)
                        .forward(crate::common::pairs(&args));
                    if probe
                        .as_ref()
                        .is_err_and(|e| e.to_string().contains("no composed path"))
                    {
                        continue;
                    }
                    compared += usize::from(case(info, dtype, seed, scale, r, Path::Composed));
                }
            }
        }
    }
    assert!(compared >= 100, "only {compared} composed cases compared");
    eprintln!("{compared} composed cases compared with the core");
}

/// The value and the gradient of `x` of `name` with `params` on `path`, with `x` of `dims`
/// and `rest` the other inputs.
fn run(
    name: &str,
    params: &[(&str, Param)],
    r: ReductionMode,
    path: Path,
    x: &[f64],
    dims: &[usize],
    rest: Vec<(&str, Input)>,
) -> (Vec<f64>, Vec<f64>) {
    let mut l = loss(name).expect("known").reduction(r).path(path);
    for (k, v) in params {
        l = l.param(k, v.clone()).expect("param");
    }
    let flat = float(x.to_vec(), Dtype::F64, &device()).require_grad();
    let mut inputs = vec![(
        "input",
        Input::float_flat(flat.clone(), dims).expect("dims"),
    )];
    inputs.extend(rest);
    let out = l
        .forward(inputs)
        .unwrap_or_else(|e| panic!("{name} {path:?}: {e}"));
    let u = float(
        (1..=out.dims()[0]).map(|i| i as f64 * 0.5).collect(),
        Dtype::F64,
        &device(),
    );
    let g = out.clone().mul(u).sum().backward();
    (to_f64(out), flat.grad(&g).map(to_f64).expect("gradient"))
}

fn f(v: &[f64], dims: &[usize]) -> Input {
    Input::float_flat(float(v.to_vec(), Dtype::F64, &device()), dims).expect("dims")
}

fn idx(v: &[i64]) -> Input {
    let n = v.len();
    Input::int_flat(
        Tensor::<1, Int>::from_data(burn::tensor::TensorData::new(v.to_vec(), [n]), &device()),
        &[n],
    )
    .expect("dims")
}

fn same(what: &str, a: &[f64], b: &[f64]) {
    let tol = tolerance::defaults(Dtype::F64);
    crate::common::assert_close(what, a, b, tol.grads, tolerance::eps(Dtype::F64));
}

/// Both paths on the same inputs: values and gradients equal (the fused one is the core's).
fn both(
    name: &str,
    params: &[(&str, Param)],
    x: &[f64],
    dims: &[usize],
    rest: impl Fn() -> Vec<(&'static str, Input)>,
) {
    for r in [ReductionMode::Mean, ReductionMode::Sum, ReductionMode::None] {
        if !losskit::find(name).expect("known").reductions.contains(&r) {
            continue;
        }
        let (fv, fg) = run(name, params, r, Path::Fused, x, dims, rest());
        let (cv, cg) = run(name, params, r, Path::Composed, x, dims, rest());
        let what = format!("{name} {params:?} {}", r.name());
        same(&format!("{what} value"), &fv, &cv);
        same(&format!("{what} grad"), &fg, &cg);
    }
}

#[test]
fn subgradients_at_kinks_equal_the_cores() {
    // Residuals exactly at 0 and at ±delta / ±beta.
    let x = [0.0, 1.0, -1.0, 2.0, 0.5, 3.0];
    let t = [0.0, 0.0, 0.0, 1.0, 0.5, 2.0];
    for name in ["mae", "huber", "smooth_l1", "mse", "l2"] {
        both(name, &[], &x, &[2, 3], || vec![("target", f(&t, &[2, 3]))]);
    }
    both("huber", &[("delta", 0.5.into())], &x, &[6], || {
        vec![("target", f(&t, &[6]))]
    });
    both("smooth_l1", &[("beta", 0.0.into())], &x, &[6], || {
        vec![("target", f(&t, &[6]))]
    });
    // Logits at ±0 and ±1e4 and targets at 0, ½ and 1.
    let z = [0.0, -0.0, 1e4, -1e4, 1e4, -1e4, 0.0, 3.0];
    let y = [0.5, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.5];
    for (name, params) in [
        ("bce_with_logits", vec![]),
        ("focal", vec![]),
        (
            "focal",
            vec![("gamma", Param::Float(0.5)), ("alpha", Param::Float(-1.0))],
        ),
        ("focal", vec![("gamma", Param::Float(0.0))]),
    ] {
        both(name, &params, &z, &[2, 4], || {
            vec![("target", f(&y, &[2, 4]))]
        });
    }
    both("bce_with_logits", &[], &z, &[2, 4], || {
        vec![
            ("target", f(&y, &[2, 4])),
            ("pos_weight", f(&[2.0, 0.5, 1.0, 3.0], &[4])),
            ("weight", f(&[1.0, 0.0, 2.0, 0.5], &[4])),
        ]
    });
    // Ties: equal logits in a row, and ±1e4 logits.
    let logits = [1.0, 1.0, 1.0, 1e4, -1e4, 0.0, 0.0, 0.0, 0.0];
    for params in [
        vec![],
        vec![("label_smoothing", Param::Float(0.2))],
        vec![("ignore_index", Param::Int(1))],
    ] {
        both("cross_entropy", &params, &logits, &[3, 3], || {
            vec![("target", idx(&[0, 1, 2]))]
        });
    }
    both("cross_entropy", &[], &logits, &[3, 3], || {
        vec![
            ("target", idx(&[2, 0, 1])),
            ("weight", f(&[0.5, 1.0, 2.0], &[3])),
        ]
    });
    // Dice: one-hot and index targets, every activation, with and without the background.
    let seg: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64 / 3.0 - 1.5).collect();
    let labels = [0, 1, 2, 1, 0, 2, 2, 1];
    for params in [
        vec![],
        vec![("activation", Param::Word("sigmoid".into()))],
        vec![
            ("include_background", Param::Bool(false)),
            ("batch", Param::Bool(true)),
        ],
        vec![
            ("squared", Param::Bool(true)),
            ("activation", Param::Word("none".into())),
        ],
    ] {
        both("dice", &params, &seg, &[2, 3, 4], || {
            let n = labels.len();
            let t = Tensor::<1, Int>::from_data(
                burn::tensor::TensorData::new(labels.to_vec(), [n]),
                &device(),
            );
            vec![("target", Input::int_flat(t, &[2, 4]).expect("dims"))]
        });
    }
}

#[test]
fn naive_compositions_are_wrong_at_the_kinks() {
    // What burn gives for the textbook forms, against the core's subgradients: the reason
    // the composed path is written the way it is.
    let dev = device();
    let x = Tensor::<1>::from_floats([0.0, 0.0], &dev).require_grad();
    let t = Tensor::<1>::from_floats([0.0, 1.0], &dev);
    // bce = max(x, 0) − x·t + ln(1 + e^(−|x|)), with clamp_min'(0) = 1 and abs'(0) = 0.
    let naive = x
        .clone()
        .clamp_min(0.0)
        .sub(x.clone().mul(t.clone()))
        .add(x.clone().abs().neg().exp().log1p())
        .sum();
    let g = x.grad(&naive.backward()).map(to_f64).expect("grad");
    let (_, ours) = run(
        "bce_with_logits",
        &[],
        ReductionMode::Sum,
        Path::Composed,
        &[0.0, 0.0],
        &[2],
        vec![("target", f(&[0.0, 1.0], &[2]))],
    );
    // σ(0) − t, scaled by the test's upstream ½.
    assert_eq!(ours, vec![0.25, -0.25]);
    // The naive form's gradient is 1 − t, not σ(0) − t: clamp_min'(0) = 1, abs'(0) = 0.
    assert_eq!(g, vec![1.0, 0.0], "burn's naive form at x = 0");
}

#[test]
fn the_composed_path_stays_finite_at_extreme_logits() {
    let z = [1e4, -1e4, 3e38, -3e38];
    let y = [0.0, 1.0, 0.0, 1.0];
    for name in ["bce_with_logits", "focal"] {
        let (v, g) = run(
            name,
            &[],
            ReductionMode::None,
            Path::Composed,
            &z,
            &[4],
            vec![("target", f(&y, &[4]))],
        );
        assert!(
            v.iter().chain(&g).all(|x| x.is_finite()),
            "{name}: {v:?} {g:?}"
        );
    }
}

#[test]
fn targets_on_another_device_are_moved_to_the_predictions() -> losskit_burn::Result<()> {
    use burn::tensor::Device;
    let x = Tensor::<2>::from_floats([[0.5, -1.0], [2.0, 0.0]], &device()).require_grad();
    let t = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &Device::flex());
    let y = Tensor::<1, Int>::from_ints([1, 0], &Device::flex());
    for path in [Path::Composed, Path::Fused] {
        let a = loss("bce_with_logits")?.path(path).forward(vec![
            ("input", x.clone().into()),
            ("target", t.clone().into()),
        ])?;
        let b = loss("cross_entropy")?.path(path).forward(vec![
            ("input", x.clone().into()),
            ("target", y.clone().into()),
        ])?;
        let g = a.add(b).backward();
        assert_eq!(x.grad(&g).map(|g| g.dims()), Some([2, 2]), "{path:?}");
    }
    Ok(())
}

#[test]
fn the_adapters_own_messages() {
    let dev = device();
    let x = Tensor::<2>::from_floats([[0.5, -1.0], [2.0, 0.0]], &dev);
    let p = Tensor::<2>::from_floats([[0.5, 0.5], [0.0, 1.0]], &dev);
    // Probability targets for cross_entropy: the fused path takes them, the composed one not.
    let forced = loss("cross_entropy")
        .expect("known")
        .path(Path::Composed)
        .forward(vec![
            ("input", x.clone().into()),
            ("target", p.clone().into()),
        ]);
    assert_eq!(
        forced.unwrap_err().to_string(),
        "cross_entropy: no composed path for this loss at these parameters and inputs; use \
         Path::Fused or Path::Auto"
    );
    let auto = loss("cross_entropy")
        .expect("known")
        .forward(vec![("input", x.into()), ("target", p.into())]);
    assert!(auto.is_ok());
    let flat = Tensor::<1>::from_floats([1.0, 2.0, 3.0], &dev);
    assert_eq!(
        Input::float_flat(flat, &[2, 2]).unwrap_err().to_string(),
        "3 elements cannot have the dimensions [2, 2]"
    );
}
