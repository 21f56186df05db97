//! The composed path (forced with `Path::Composed`, on the CPU) against the fused path (the
//! core): every loss it covers, parameter variants, f32 and f64, the catalogue's inputs,
//! extreme ones (logits ×1e4) and the kinks and ties where a naive composition of candle ops
//! takes the wrong subgradient; values, gradients and the VJP of `none`; and the same error
//! text as the core for bad shapes and parameters.

use crate::common::{assert_close, candle_dtype, pairs, sample, tensors, to_f64, tolerance, Input};
use candle_core::{DType, Device, Tensor, Var};
use losskit::sample::Rng;
use losskit::{Dtype, ReductionMode};
use losskit_candle::{loss, Loss, Param, Path, COMPOSED};

/// The core's tolerances, unchanged: the composed forms round differently from the core's
/// kernels (candle sums in the compute type, the core in f64), but on these cases (≤ 200
/// elements) they stay within the same multiples of ε.
fn tol(dtype: Dtype) -> (tolerance::Tolerances, f64) {
    (tolerance::defaults(dtype), tolerance::eps(dtype))
}

fn var(v: Vec<f64>, dims: &[usize], dtype: Dtype) -> Input {
    let t = Tensor::from_vec(v, dims, &Device::Cpu)
        .and_then(|t| t.to_dtype(candle_dtype(dtype)))
        .expect("tensor");
    let var = Var::from_tensor(&t).expect("var");
    Input {
        name: "input",
        tensor: var.as_tensor().clone(),
        var: Some(var),
    }
}

fn plain(name: &'static str, t: Tensor) -> Input {
    Input {
        name,
        tensor: t,
        var: None,
    }
}

/// Both paths on `inputs` for every reduction of the loss: values and gradients of the
/// predictions (under `none`, with a random cotangent).
fn compare(what: &str, l: &Loss, inputs: &[Input], dtype: Dtype) {
    let (tol, eps) = tol(dtype);
    for &r in l.info().reductions {
        let what = format!("{what} {} {}", dtype.name(), r.name());
        let run = |path: Path| -> (Vec<f64>, Vec<Vec<f64>>) {
            let out = l
                .clone()
                .reduction(r)
                .path(path)
                .forward(&pairs(inputs))
                .unwrap_or_else(|e| panic!("{what} {path:?}: {e}"));
            let u = Rng::new(7).normals(out.elem_count(), 1.0);
            let u = Tensor::from_vec(u, out.dims(), &Device::Cpu)
                .and_then(|u| u.to_dtype(out.dtype()))
                .expect("cotangent");
            let g = (&out * &u)
                .and_then(|t| t.sum_all())
                .and_then(|t| t.backward())
                .unwrap_or_else(|e| panic!("{what} {path:?} backward: {e}"));
            let grads = inputs
                .iter()
                .filter_map(|i| i.var.as_ref())
                .map(|v| to_f64(g.get(v).expect("gradient")))
                .collect();
            (to_f64(&out), grads)
        };
        let (fv, fg) = run(Path::Fused);
        let (cv, cg) = run(Path::Composed);
        let t = if r == ReductionMode::None {
            tol.values
        } else {
            tol.value
        };
        assert_close(&format!("{what} value"), &fv, &cv, t, eps);
        for (f, c) in fg.iter().zip(&cg) {
            assert!(
                f.iter().chain(c).all(|x| x.is_finite()),
                "{what}: finite gradients"
            );
            assert_close(&format!("{what} grad"), f, c, tol.grads, eps);
        }
    }
}

/// Parameter variants of each composed loss.
fn variants(name: &str) -> Vec<Vec<(&'static str, Param)>> {
    let f = |k: &'static str, v: f64| (k, Param::Float(v));
    let b = |k: &'static str, v: bool| (k, Param::Bool(v));
    let w = |k: &'static str, v: &str| (k, Param::Word(v.to_owned()));
    match name {
        "huber" => vec![vec![], vec![f("delta", 0.5)], vec![f("delta", 3.0)]],
        "smooth_l1" => vec![vec![], vec![f("beta", 0.0)], vec![f("beta", 0.3)]],
        "focal" => vec![
            vec![],
            vec![f("alpha", -1.0), f("gamma", 0.0)],
            vec![f("gamma", 1.5)],
            vec![f("alpha", 0.5), f("gamma", 1.0)],
        ],
        "cross_entropy" => vec![
            vec![],
            vec![f("label_smoothing", 0.1)],
            vec![("ignore_index", Param::Int(1))],
        ],
        "dice" => vec![
            vec![],
            vec![w("activation", "sigmoid")],
            vec![w("activation", "none")],
            vec![b("include_background", false)],
            vec![b("batch", true), b("squared", true)],
            vec![f("smooth_nr", 0.0), f("smooth_dr", 1.0)],
        ],
        _ => vec![vec![]],
    }
}

fn with(name: &str, params: &[(&'static str, Param)]) -> Loss {
    let mut l = loss(name).expect("known");
    for (k, v) in params {
        l = l.param(k, v.clone()).expect("param");
    }
    l
}

/// The extra inputs a variant exercises: weights, `pos_weight`, probabilities for
/// `activation=none`, one-hot masks for dice.
fn extras(
    name: &str,
    inputs: &mut Vec<Input>,
    params: &[(&'static str, Param)],
    dtype: Dtype,
    seed: u64,
) {
    let dims = inputs[0].tensor.dims().to_vec();
    let mut rng = Rng::new(seed + 50);
    let float = |v: Vec<f64>, d: &[usize]| {
        Tensor::from_vec(v, d, &Device::Cpu)
            .and_then(|t| t.to_dtype(candle_dtype(dtype)))
            .expect("tensor")
    };
    match name {
        "mse" | "l2" | "mae" | "huber" | "smooth_l1" if seed % 2 == 0 => {
            let n = dims.iter().product();
            inputs.push(plain("weight", float(rng.uniforms(n, 0.0, 2.0), &dims)));
        }
        "bce_with_logits" | "focal" if seed % 2 == 0 => {
            let c = *dims.last().expect("rank ≥ 1");
            inputs.push(plain("weight", float(rng.uniforms(c, 0.1, 2.0), &[c])));
            if name == "bce_with_logits" {
                inputs.push(plain("pos_weight", float(rng.uniforms(c, 0.1, 3.0), &[c])));
            }
        }
        "cross_entropy" if seed % 2 == 0 => {
            let c = dims[1];
            inputs.push(plain("weight", float(rng.uniforms(c, 0.1, 2.0), &[c])));
        }
        "dice" => {
            if params
                .iter()
                .any(|(k, v)| *k == "activation" && *v == Param::Word("none".into()))
            {
                // Probabilities: the sample's logits through a softmax over the classes.
                let x = &inputs[0];
                let p = candle_core::Tensor::exp(&x.tensor.detach())
                    .and_then(|e| e.broadcast_div(&e.sum_keepdim(1)?))
                    .expect("softmax");
                *inputs.first_mut().expect("input") = var(to_f64(&p), &dims, dtype);
            }
            if seed % 2 == 0 {
                // A one-hot mask instead of class indices.
                let t = inputs
                    .iter()
                    .position(|i| i.name == "target")
                    .expect("target");
                let idx = inputs[t].tensor.to_dtype(DType::I64).expect("i64");
                let shape: Vec<usize> = (0..dims.len())
                    .map(|i| if i == 1 { dims[1] } else { 1 })
                    .collect();
                let classes = Tensor::arange(0i64, dims[1] as i64, &Device::Cpu)
                    .and_then(|c| c.reshape(shape))
                    .expect("classes");
                let onehot = idx
                    .unsqueeze(1)
                    .and_then(|i| i.broadcast_eq(&classes))
                    .and_then(|m| m.to_dtype(candle_dtype(dtype)))
                    .expect("one-hot");
                inputs[t] = plain("target", onehot);
            }
        }
        _ => {}
    }
}

#[test]
fn the_composed_path_matches_the_fused_path() {
    let mut n = 0;
    for name in COMPOSED {
        let info = losskit::find(name).expect("catalogue");
        for params in variants(name) {
            for dtype in [Dtype::F32, Dtype::F64] {
                for (seed, scale) in [(1, 1.0), (2, 1.0), (3, 1e4), (4, 0.0)] {
                    if *name == "dice"
                        && scale != 1.0
                        && params.iter().any(|(_, v)| *v == Param::Word("none".into()))
                    {
                        continue;
                    }
                    let s = sample(info, 60, seed, scale);
                    let mut inputs = tensors(info, &s, dtype, seed == 2);
                    extras(name, &mut inputs, &params, dtype, seed);
                    let what = format!("{name} {params:?} seed {seed} ×{scale}");
                    compare(&what, &with(name, &params), &inputs, dtype);
                    n += 1;
                }
            }
        }
    }
    assert!(n > 100, "{n} cases");
}

#[test]
fn kinks_and_ties_take_the_cores_subgradients() {
    for dtype in [Dtype::F32, Dtype::F64] {
        let dt = candle_dtype(dtype);
        // Residuals exactly at 0 and at ±1 (the default delta and beta), and beyond.
        let e = [0.0, 1.0, -1.0, 0.5, -2.0, 0.0];
        let x: Vec<f64> = e.iter().map(|v| v + 0.25).collect();
        let t = Tensor::from_vec(vec![0.25f64; 6], 6, &Device::Cpu)
            .and_then(|t| t.to_dtype(dt))
            .expect("t");
        for name in ["mae", "huber", "smooth_l1", "mse", "l2"] {
            let inputs = vec![var(x.clone(), &[6], dtype), plain("target", t.clone())];
            compare(
                &format!("{name} kinks"),
                &loss(name).expect("known"),
                &inputs,
                dtype,
            );
        }
        // smooth_l1 with beta 0 is mae: the subgradient 0 at 0.
        let inputs = vec![var(x.clone(), &[6], dtype), plain("target", t.clone())];
        compare(
            "smooth_l1 beta 0 kinks",
            &with("smooth_l1", &[("beta", Param::Float(0.0))]),
            &inputs,
            dtype,
        );
        // Logits at 0 and at ±1e4 with hard and soft labels.
        let z = vec![0.0, -0.0, 1e4, -1e4, 30.0, -30.0];
        let y = Tensor::from_vec(vec![1.0f64, 0.0, 0.0, 1.0, 0.5, 1.0], 6, &Device::Cpu)
            .and_then(|t| t.to_dtype(dt))
            .expect("y");
        for name in ["bce_with_logits", "focal"] {
            let inputs = vec![var(z.clone(), &[6], dtype), plain("target", y.clone())];
            compare(
                &format!("{name} saturated"),
                &loss(name).expect("known"),
                &inputs,
                dtype,
            );
        }
        // Ties: equal logits in every class, and one class far ahead.
        let ce = vec![0.0, 0.0, 0.0, 1e4, -1e4, 0.0];
        let labels = Tensor::new(&[2u32, 1], &Device::Cpu).expect("labels");
        let inputs = vec![var(ce, &[2, 3], dtype), plain("target", labels)];
        compare(
            "cross_entropy ties",
            &loss("cross_entropy").expect("known"),
            &inputs,
            dtype,
        );
    }
}

/// A loss, its parameters and its inputs.
type Case<'t> = (
    &'static str,
    Vec<(&'static str, Param)>,
    Vec<(&'static str, &'t Tensor)>,
);

#[test]
fn bad_shapes_and_parameters_give_the_cores_text_on_both_paths() {
    let d = Device::Cpu;
    let x = Tensor::zeros((2, 3), DType::F32, &d).expect("x");
    let bad = Tensor::zeros((3, 2), DType::F32, &d).expect("bad");
    let labels = Tensor::zeros(3, DType::U32, &d).expect("labels");
    let two = Tensor::zeros(2, DType::U32, &d).expect("two");
    let mask = Tensor::zeros((2, 3, 4), DType::F32, &d).expect("mask");
    let img = Tensor::zeros((2, 3, 4, 4), DType::F32, &d).expect("img");
    let one = Tensor::zeros((2, 1, 4), DType::F32, &d).expect("one");
    let img5 = Tensor::zeros((2, 3, 4, 5), DType::F32, &d).expect("img5");
    let idx5 = Tensor::zeros((2, 4, 5), DType::I64, &d).expect("idx5");
    let cases: Vec<Case<'_>> = vec![
        ("mse", vec![], vec![("input", &x), ("target", &bad)]),
        (
            "mse",
            vec![],
            vec![("input", &x), ("target", &x), ("weight", &bad)],
        ),
        ("mse", vec![], vec![("input", &x), ("targt", &x)]),
        ("mse", vec![], vec![("input", &x)]),
        (
            "huber",
            vec![("delta", Param::Float(-1.0))],
            vec![("input", &x), ("target", &x)],
        ),
        (
            "smooth_l1",
            vec![("beta", Param::Float(f64::NAN))],
            vec![("input", &x), ("target", &x)],
        ),
        (
            "focal",
            vec![("gamma", Param::Float(-2.0))],
            vec![("input", &x), ("target", &x)],
        ),
        (
            "bce_with_logits",
            vec![],
            vec![("input", &x), ("target", &bad)],
        ),
        (
            "bce_with_logits",
            vec![],
            vec![("input", &x), ("target", &x), ("weight", &bad)],
        ),
        (
            "bce_with_logits",
            vec![],
            vec![("input", &x), ("target", &x), ("pos_weight", &two)],
        ),
        (
            "cross_entropy",
            vec![],
            vec![("input", &x), ("target", &two), ("weight", &x)],
        ),
        (
            "cross_entropy",
            vec![],
            vec![("input", &x), ("target", &labels)],
        ),
        (
            "cross_entropy",
            vec![("label_smoothing", Param::Float(2.0))],
            vec![("input", &x), ("target", &labels)],
        ),
        ("dice", vec![], vec![("input", &img), ("target", &mask)]),
        ("dice", vec![], vec![("input", &img), ("target", &img5)]),
        ("dice", vec![], vec![("input", &img), ("target", &idx5)]),
        ("dice", vec![], vec![("input", &x), ("target", &x)]),
        ("dice", vec![], vec![("input", &one), ("target", &one)]),
        (
            "dice",
            vec![("smooth_dr", Param::Float(-1.0))],
            vec![("input", &img), ("target", &img)],
        ),
    ];
    for (name, params, inputs) in cases {
        let l = with(name, &params);
        let fused = l
            .clone()
            .path(Path::Fused)
            .forward(&inputs)
            .expect_err("fused rejects");
        let composed = l
            .path(Path::Composed)
            .forward(&inputs)
            .expect_err("composed rejects");
        assert_eq!(composed.to_string(), fused.to_string(), "{name} {params:?}");
    }
}

#[test]
fn composed_is_refused_where_there_is_none() -> candle_core::Result<()> {
    let d = Device::Cpu;
    let x = Tensor::zeros((2, 3), DType::F32, &d)?;
    let e = loss("log_cosh")?
        .path(Path::Composed)
        .forward(&[("input", &x), ("target", &x)]);
    assert_eq!(
        e.expect_err("no composed log_cosh").to_string(),
        "log_cosh: no composed path for this loss at these parameters and inputs; use Path::Fused or Path::Auto"
    );
    // Probability targets: cross_entropy's composed path takes class indices only.
    let e = loss("cross_entropy")?
        .path(Path::Composed)
        .forward(&[("input", &x), ("target", &x)]);
    assert!(e.is_err());
    Ok(())
}
