//! The fused path against the core called directly, for every catalogue loss: f32 and f64,
//! the catalogue's generated inputs and extreme ones (predictions ×1e4 and ×0), every
//! reduction the loss takes; values, gradients through burn's autodiff, and under `none` the
//! vector-Jacobian product with a random cotangent (`(loss * u).sum().backward()`). Where
//! the core rejects an input, the adapter must fail with the core's text.

use crate::common::{assert_close, device, float, inputs, pairs, sample, to_f64, tolerance};
use burn::tensor::{Device, Int, Tensor};
use losskit::sample::Rng;
use losskit::{evaluate_into, evaluate_with, Buffers, Dtype, LossInfo, Params, ReductionMode};
use losskit_burn::{loss, Path};

/// The core's VJP of the per-element loss with the cotangent `u`, one buffer per prediction.
fn core_vjp<T: losskit::Real>(
    info: &'static LossInfo,
    named: &[losskit::NamedArray<'_>],
    preds: &[&'static str],
    u: &[T],
) -> Vec<Vec<f64>> {
    let mut bufs: Vec<Vec<T>> = preds
        .iter()
        .map(|p| {
            let n = named
                .iter()
                .find(|a| a.name == *p)
                .map_or(0, |a| a.data.len());
            vec![T::ZERO; n]
        })
        .collect();
    let b = Buffers {
        grads: preds
            .iter()
            .copied()
            .zip(bufs.iter_mut().map(Vec::as_mut_slice))
            .collect(),
        cotangent: Some(u),
    };
    evaluate_into(info, named, &Params::defaults(info), ReductionMode::None, b)
        .expect("the core's VJP");
    bufs.into_iter()
        .map(|v| v.into_iter().map(|x| x.to_f64()).collect())
        .collect()
}

/// One (loss, dtype, sample, reduction, path) case; returns whether the core accepted the
/// input. `path` is the adapter's path (the composed tests reuse this with
/// [`Path::Composed`] for the losses that have one).
pub fn case(
    info: &'static LossInfo,
    dtype: Dtype,
    seed: u64,
    scale: f64,
    r: ReductionMode,
    path: Path,
) -> bool {
    let what = format!(
        "{} {} seed {seed} ×{scale} {} {path:?}",
        info.name,
        dtype.name(),
        r.name()
    );
    let dev = device();
    let s = sample(info, 48, seed, scale);
    let arrays = s.arrays(dtype);
    let named = arrays.named();
    let preds: Vec<&'static str> = info
        .predictions()
        .into_iter()
        .filter(|p| s.get(p).is_some())
        .collect();
    let args = inputs(info, &s, dtype, &dev);
    let l = loss(info.name).expect("known").reduction(r).path(path);
    let core = evaluate_with(info, &named, &Params::defaults(info), r, &preds);
    let ours = l.forward(pairs(&args));
    let core = match core {
        Err(e) => {
            let ours = ours
                .err()
                .unwrap_or_else(|| panic!("{what}: the core failed ({e}), burn did not"));
            assert_eq!(ours.to_string(), e.to_string(), "{what}: error text");
            return false;
        }
        Ok(c) => c,
    };
    let ours = ours.unwrap_or_else(|e| panic!("{what}: {e}"));
    let tol = tolerance::defaults(dtype);
    let eps = tolerance::eps(dtype);
    assert_eq!(
        ours.dtype(),
        crate::common::burn_dtype(dtype),
        "{what}: dtype"
    );
    let u = match r {
        ReductionMode::None => {
            let pe = core.per_element.as_ref().expect("per-element").to_f64();
            assert_close(
                &format!("{what} values"),
                &pe,
                &to_f64(ours.clone()),
                tol.values,
                eps,
            );
            Some(Rng::new(seed + 100).normals(pe.len(), 1.0))
        }
        _ => {
            assert_eq!(ours.dims(), [1], "{what}: a [1] tensor");
            let v = core.value.expect("value");
            assert_close(
                &format!("{what} value"),
                &[v],
                &to_f64(ours.clone()),
                tol.value,
                eps,
            );
            None
        }
    };
    let (grads, expected) = match &u {
        None => {
            let g = ours.backward();
            let e: Vec<Vec<f64>> = core.grads.iter().map(|(_, a)| a.to_f64()).collect();
            (g, e)
        }
        Some(u) => {
            let ut = float(u.clone(), dtype, &dev);
            let g = ours.mul(ut).sum().backward();
            let e = match dtype {
                Dtype::F64 => core_vjp::<f64>(info, &named, &preds, u),
                Dtype::F32 => {
                    let u32s: Vec<f32> = u.iter().map(|&x| x as f32).collect();
                    core_vjp::<f32>(info, &named, &preds, &u32s)
                }
            };
            (g, e)
        }
    };
    for (p, e) in preds.iter().zip(&expected) {
        let flat = args
            .iter()
            .find(|a| a.name == *p)
            .and_then(|a| a.flat.as_ref())
            .expect("prediction");
        let g = flat
            .grad(&grads)
            .unwrap_or_else(|| panic!("{what}: no gradient for `{p}`"));
        assert_close(&format!("{what} grad {p}"), e, &to_f64(g), tol.grads, eps);
    }
    true
}

#[test]
fn every_catalogue_loss_matches_the_core_through_the_fused_path() {
    let mut accepted = 0;
    let mut cases = 0;
    for info in losskit::catalogue() {
        for dtype in [Dtype::F32, Dtype::F64] {
            for (seed, scale) in [(1, 1.0), (2, 1.0), (3, 1e4), (4, 0.0)] {
                for &r in info.reductions {
                    cases += 1;
                    accepted += usize::from(case(info, dtype, seed, scale, r, Path::Auto));
                }
            }
        }
    }
    // Most cases are valid inputs (the ×1e4 and ×0 ones may not be, for a loss taking
    // probabilities or boxes): the comparison is not vacuous.
    assert!(
        accepted * 4 >= cases * 2,
        "{accepted} of {cases} cases accepted"
    );
    eprintln!("{accepted} of {cases} cases compared (the rest: the same error as the core)");
}

#[test]
fn every_catalogue_loss_has_a_generated_function_struct_and_loss() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/losses.rs"));
    for info in losskit::catalogue() {
        assert!(
            generated.contains(&format!("pub fn {}(", info.name)),
            "{}",
            info.name
        );
        for p in info.params {
            assert!(
                generated.contains(&format!(".param({:?}", p.name)),
                "{} {}",
                info.name,
                p.name
            );
        }
    }
}

#[test]
fn without_autodiff_the_fused_path_gives_the_same_value() -> losskit_burn::Result<()> {
    let plain = Device::flex();
    let x = Tensor::<2>::from_floats([[0.5, 3.0], [-1.0, 0.0]], &plain);
    let t = Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 0.0]], &plain);
    let a = losskit_burn::losses::huber(x.clone(), t.clone())?;
    let b = losskit_burn::losses::huber(
        Tensor::<2>::from_floats([[0.5, 3.0], [-1.0, 0.0]], &device()),
        Tensor::<2>::from_floats([[0.0, 0.0], [0.0, 0.0]], &device()),
    )?;
    assert_eq!(a.device(), plain);
    assert_eq!(a.into_scalar::<f32>(), b.into_scalar::<f32>());
    Ok(())
}

#[test]
fn generated_functions_structs_and_configs_equal_the_generic_entry() -> losskit_burn::Result<()> {
    use losskit_burn::losses::{self, Focal, FocalLossConfig, Huber};
    let dev = device();
    let x = Tensor::<1>::from_floats([0.5, -3.0, 2.0, 0.0], &dev);
    let t = Tensor::<1>::from_floats([1.0, 0.0, 1.0, 1.0], &dev);
    let generic = loss("focal")?.forward(vec![
        ("input", x.clone().into()),
        ("target", t.clone().into()),
    ])?;
    assert_eq!(
        losses::focal(x.clone(), t.clone())?.into_scalar::<f32>(),
        generic.into_scalar::<f32>()
    );
    let f = Focal {
        gamma: 0.5,
        reduction: ReductionMode::Sum,
        ..Default::default()
    };
    let g = losskit_burn::evaluate(
        "focal",
        vec![("input", x.clone().into()), ("target", t.clone().into())],
        &[("gamma", 0.5.into())],
        ReductionMode::Sum,
    )?;
    let held = FocalLossConfig {
        gamma: 0.5,
        reduction: ReductionMode::Sum,
        ..Default::default()
    }
    .init()?;
    let h = held
        .forward(x.clone(), t.clone(), None)?
        .into_scalar::<f32>();
    assert_eq!(
        f.forward(x, t, None)?.into_scalar::<f32>(),
        g.into_scalar::<f32>()
    );
    assert_eq!(
        h,
        f.forward(
            Tensor::<1>::from_floats([0.5, -3.0, 2.0, 0.0], &dev),
            Tensor::<1>::from_floats([1.0, 0.0, 1.0, 1.0], &dev),
            None,
        )?
        .into_scalar::<f32>()
    );
    assert_eq!(Huber::default().delta, 1.0);
    // init checks the parameters with the core's text.
    let bad = Huber {
        delta: -1.0,
        ..Default::default()
    }
    .init()
    .unwrap_err();
    assert_eq!(
        bad.to_string(),
        "huber: `delta` must be > 0 and finite, got -1"
    );
    Ok(())
}

#[test]
fn the_upstream_gradient_scales_the_kept_gradient() -> losskit_burn::Result<()> {
    let dev = device();
    let x = Tensor::<1>::from_floats([0.5, 3.0, -1.0], &dev).require_grad();
    let t = Tensor::<1>::from_floats([0.0, 0.0, 0.0], &dev);
    let l = loss("huber")?.reduction(ReductionMode::Sum);
    let run = || {
        l.forward(vec![
            ("input", x.clone().into()),
            ("target", t.clone().into()),
        ])
    };
    // burn's graph is used once (no retain_graph): a forward pass per backward.
    let g1 = x.grad(&run()?.backward()).map(to_f64);
    let g3 = x.grad(&run()?.mul_scalar(3.0).backward()).map(to_f64);
    assert_eq!(g1, Some(vec![0.5, 1.0, -1.0]));
    assert_eq!(g3, Some(vec![1.5, 3.0, -3.0]));
    // Two predictions: one flattened, concatenated tensor; burn's cat splits the gradient.
    let a = Tensor::<2>::from_floats([[1.0, 2.0], [0.0, 1.0]], &dev).require_grad();
    let p = Tensor::<2>::from_floats([[1.0, 2.5], [0.0, 1.0]], &dev).require_grad();
    let n = Tensor::<2>::from_floats([[3.0, 2.0], [0.0, 1.5]], &dev).require_grad();
    let tm = loss("triplet_margin")?.forward(vec![
        ("anchor", a.clone().into()),
        ("positive", p.clone().into()),
        ("negative", n.clone().into()),
    ])?;
    let g = tm.backward();
    for t in [&a, &p, &n] {
        assert_eq!(t.grad(&g).map(|g| g.dims()), Some([2, 2]));
    }
    Ok(())
}

#[test]
fn forward_as_keeps_the_shape_of_none() -> losskit_burn::Result<()> {
    let dev = device();
    let x = Tensor::<2>::from_floats([[2.0, -1.0, 0.5], [0.1, 0.2, 3.0]], &dev);
    let y = Tensor::<1, Int>::from_ints([0, 2], &dev);
    let ce = loss("cross_entropy")?.reduction(ReductionMode::None);
    let per: Tensor<1> = ce.forward_as(vec![
        ("input", x.clone().into()),
        ("target", y.clone().into()),
    ])?;
    assert_eq!(per.dims(), [2]);
    let mse = loss("mse")?.reduction(ReductionMode::None);
    let per: Tensor<2> = mse.forward_as(vec![
        ("input", x.clone().into()),
        ("target", x.clone().into()),
    ])?;
    assert_eq!(per.dims(), [2, 3]);
    let wrong = mse.forward_as::<3>(vec![("input", x.clone().into()), ("target", x.into())]);
    assert_eq!(
        wrong.unwrap_err().to_string(),
        "mse: the loss has shape [2, 3], of rank 2; asked for rank 3"
    );
    Ok(())
}

#[test]
fn errors_carry_the_cores_text() -> losskit_burn::Result<()> {
    let dev = device();
    let x = Tensor::<2>::zeros([2, 3], &dev);
    let idx = Tensor::<1, Int>::from_ints([0, 5], &dev);
    let err = |r: losskit_burn::Result<Tensor<1>>| -> String {
        match r {
            Ok(t) => panic!("expected an error, got {t}"),
            Err(e) => e.to_string(),
        }
    };
    let core = |name: &str| losskit::find(name).map(|_| ()).unwrap_err().to_string();
    assert_eq!(loss("hubr").unwrap_err().to_string(), core("hubr"));
    assert_eq!(
        loss("huber")?.param("delt", 1.0).unwrap_err().to_string(),
        "huber: unknown parameter `delt`; it takes `delta`"
    );
    assert_eq!(
        loss("huber")?.param("delta", true).unwrap_err().to_string(),
        "huber: `delta` must be a number, got `true`"
    );
    let xy = || vec![("input", x.clone().into()), ("target", x.clone().into())];
    for path in [Path::Fused, Path::Composed] {
        let huber = loss("huber")?.path(path);
        assert_eq!(
            err(huber.clone().param("delta", -1.0)?.forward(xy())),
            "huber: `delta` must be > 0 and finite, got -1"
        );
        assert_eq!(
            err(huber
                .clone()
                .reduction(ReductionMode::BatchMean)
                .forward(xy())),
            "huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`"
        );
        assert_eq!(
            err(huber.forward(vec![("target", x.clone().into())])),
            "huber: missing required input `input`"
        );
        // An integer prediction: the core's dtype error.
        let ints = Tensor::<1, Int>::from_ints([1, 2], &dev);
        let t = Tensor::<1>::from_floats([0.0, 0.0], &dev);
        assert_eq!(
            err(loss("mse")?
                .path(path)
                .forward(vec![("input", ints.into()), ("target", t.into())])),
            "mse: `input` has dtype int32, expected float32 or float64"
        );
        // A class index out of range: the core's text on both paths (the composed path
        // hands it to the fused one).
        let msg = err(loss("cross_entropy")?.path(path).forward(vec![
            ("input", x.clone().into()),
            ("target", idx.clone().into()),
        ]));
        assert!(msg.starts_with("cross_entropy: `target`"), "{msg}");
    }
    // A NaN prediction propagates, as in the core.
    let nan = Tensor::<1>::from_floats([f32::NAN, 0.0], &dev);
    let t = Tensor::<1>::from_floats([0.0, 0.0], &dev);
    let v = loss("mse")?.forward(vec![("input", nan.into()), ("target", t.into())])?;
    assert!(v.into_scalar::<f32>().is_nan());
    Ok(())
}

/// A model keeps its loss as a field, as with burn-nn's losses (the loss holds no tensors:
/// `#[module(skip)]`).
#[derive(burn::module::Module, Debug)]
struct Classifier {
    linear: burn::nn::Linear,
    #[module(skip)]
    loss: losskit_burn::losses::FocalLoss,
}

#[test]
fn a_model_holds_a_loss_as_a_field() -> losskit_burn::Result<()> {
    let dev = device();
    let model = Classifier {
        linear: burn::nn::LinearConfig::new(3, 2).init(&dev),
        loss: losskit_burn::losses::FocalLossConfig::default().init()?,
    };
    let x = Tensor::<2>::from_floats([[0.5, 1.0, -1.0], [2.0, 0.0, 1.0]], &dev);
    let t = Tensor::<2>::from_floats([[1.0, 0.0], [0.0, 1.0]], &dev);
    let l = model.loss.forward(model.linear.forward(x), t, None)?;
    let g = l.backward();
    assert!(model.linear.weight.grad(&g).is_some());
    Ok(())
}

#[test]
fn transposed_and_half_predictions_are_accepted() -> losskit_burn::Result<()> {
    use burn::tensor::DType;
    let dev = device();
    let a = Tensor::<2>::from_floats([[0.5, 2.0, -1.0], [4.0, 0.0, 1.0]], &dev);
    let t = Tensor::<2>::from_floats([[0.0, 1.0], [2.0, 0.0], [1.0, 1.0]], &dev);
    let strided = a.transpose(); // [3, 2], not contiguous
    let mse = loss("mse")?;
    let v = mse.forward(vec![
        ("input", strided.clone().into()),
        ("target", t.clone().into()),
    ])?;
    // (a^T - t)^2 = [0.25, 9, 0, 0, 4, 0], read in logical order.
    let expected = 13.25f32 / 6.0;
    assert_eq!(v.into_scalar::<f32>(), expected);
    let h = mse.forward(vec![
        ("input", strided.cast(DType::F16).into()),
        ("target", t.into()),
    ])?;
    assert_eq!(h.dtype(), DType::F16);
    Ok(())
}
