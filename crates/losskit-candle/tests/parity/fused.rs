//! The fused path against the core called directly, for every catalogue loss: f32 and f64,
//! the catalogue's generated inputs and extreme ones (predictions ×1e4), every reduction the
//! loss takes; values, gradients through candle's `backward()`, and under `none` the
//! vector-Jacobian product with a random cotangent (`(loss * u).sum().backward()`). Where
//! the core rejects an input, the adapter must fail with the core's text.

use crate::common::{assert_close, pairs, sample, tensors, to_f64, tolerance};
use candle_core::{Device, Tensor};
use losskit::sample::Rng;
use losskit::{evaluate_into, evaluate_with, Buffers, Dtype, LossInfo, Params, ReductionMode};

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

/// One (loss, dtype, sample, reduction) case; returns whether the core accepted the input.
fn case(info: &'static LossInfo, dtype: Dtype, seed: u64, scale: f64, r: ReductionMode) -> bool {
    let what = format!(
        "{} {} seed {seed} ×{scale} {}",
        info.name,
        dtype.name(),
        r.name()
    );
    let s = sample(info, 48, seed, scale);
    let arrays = s.arrays(dtype);
    let named = arrays.named();
    let preds: Vec<&'static str> = info
        .predictions()
        .into_iter()
        .filter(|p| s.get(p).is_some())
        .collect();
    let inputs = tensors(info, &s, dtype, seed % 2 == 0);
    let l = losskit_candle::loss(info.name).expect("known").reduction(r);
    let core = evaluate_with(info, &named, &Params::defaults(info), r, &preds);
    let ours = l.forward(&pairs(&inputs));
    let core = match core {
        Err(e) => {
            let ours = ours
                .err()
                .unwrap_or_else(|| panic!("{what}: the core failed ({e}), candle did not"));
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
        crate::common::candle_dtype(dtype),
        "{what}: dtype"
    );
    let u = match r {
        ReductionMode::None => {
            assert_eq!(ours.dims(), &core.shape[..], "{what}: shape");
            let pe = core.per_element.as_ref().expect("per-element").to_f64();
            assert_close(
                &format!("{what} values"),
                &pe,
                &to_f64(&ours),
                tol.values,
                eps,
            );
            Some(Rng::new(seed + 100).normals(pe.len(), 1.0))
        }
        _ => {
            assert!(ours.dims().is_empty(), "{what}: a scalar");
            let v = core.value.expect("value");
            assert_close(
                &format!("{what} value"),
                &[v],
                &to_f64(&ours),
                tol.value,
                eps,
            );
            None
        }
    };
    let (grads, expected) = match &u {
        None => {
            let g = ours.backward().expect("backward");
            let e: Vec<Vec<f64>> = core.grads.iter().map(|(_, a)| a.to_f64()).collect();
            (g, e)
        }
        Some(u) => {
            let ut = Tensor::from_vec(u.clone(), ours.dims(), &Device::Cpu)
                .and_then(|t| t.to_dtype(ours.dtype()))
                .expect("cotangent");
            let g = (&ours * &ut)
                .and_then(|t| t.sum_all())
                .and_then(|t| t.backward());
            let e = match dtype {
                Dtype::F64 => core_vjp::<f64>(info, &named, &preds, u),
                Dtype::F32 => {
                    let u32s: Vec<f32> = u.iter().map(|&x| x as f32).collect();
                    core_vjp::<f32>(info, &named, &preds, &u32s)
                }
            };
            (g.expect("backward"), e)
        }
    };
    for (p, e) in preds.iter().zip(&expected) {
        let var = inputs
            .iter()
            .find(|i| i.name == *p)
            .and_then(|i| i.var.as_ref())
            .expect("var");
        let g = grads
            .get(var)
            .unwrap_or_else(|| panic!("{what}: no gradient for `{p}`"));
        assert_eq!(g.dims(), var.dims(), "{what}: gradient shape of `{p}`");
        assert_close(&format!("{what} grad {p}"), e, &to_f64(g), tol.grads, eps);
    }
    true
}

#[test]
fn every_catalogue_loss_matches_the_core_through_the_fused_op() {
    let mut accepted = 0;
    let mut cases = 0;
    for info in losskit::catalogue() {
        for dtype in [Dtype::F32, Dtype::F64] {
            for (seed, scale) in [(1, 1.0), (2, 1.0), (3, 1e4), (4, 0.0)] {
                for &r in info.reductions {
                    cases += 1;
                    accepted += usize::from(case(info, dtype, seed, scale, r));
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
fn every_catalogue_loss_has_a_generated_function_and_struct() {
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
fn strided_and_half_predictions_are_accepted() -> candle_core::Result<()> {
    let a = Tensor::new(&[[0.5f32, 2.0, -1.0], [4.0, 0.0, 1.0]], &Device::Cpu)?;
    let t = Tensor::new(&[[0.0f32, 1.0], [2.0, 0.0], [1.0, 1.0]], &Device::Cpu)?;
    let strided = a.t()?; // [3, 2], not contiguous
    let mse = losskit_candle::loss("mse")?;
    let v = mse.forward(&[("input", &strided), ("target", &t)])?;
    let w = mse.forward(&[("input", &strided.contiguous()?), ("target", &t)])?;
    assert_eq!(v.to_scalar::<f32>()?, w.to_scalar::<f32>()?);
    // A strided target is read as its logical (row-major) elements too.
    let tt = t.t()?.contiguous()?.t()?;
    assert!(!tt.is_contiguous());
    let u = mse.forward(&[("input", &strided), ("target", &tt)])?;
    assert_eq!(u.to_scalar::<f32>()?, w.to_scalar::<f32>()?);
    let h = mse.forward(&[
        ("input", &strided.to_dtype(candle_core::DType::F16)?),
        ("target", &t),
    ])?;
    assert_eq!(h.dtype(), candle_core::DType::F16);
    Ok(())
}

#[test]
fn generated_functions_and_structs_equal_the_generic_entry() -> candle_core::Result<()> {
    use losskit_candle::losses::{self, Focal, Huber};
    let x = Tensor::new(&[0.5f64, -3.0, 2.0, 0.0], &Device::Cpu)?;
    let t = Tensor::new(&[1.0f64, 0.0, 1.0, 1.0], &Device::Cpu)?;
    let generic = losskit_candle::loss("focal")?.forward(&[("input", &x), ("target", &t)])?;
    assert_eq!(
        losses::focal(&x, &t)?.to_scalar::<f64>()?,
        generic.to_scalar::<f64>()?
    );
    let f = Focal {
        gamma: 0.5,
        reduction: ReductionMode::Sum,
        ..Default::default()
    };
    let g = losskit_candle::evaluate(
        "focal",
        &[("input", &x), ("target", &t)],
        &[("gamma", 0.5.into())],
        ReductionMode::Sum,
    )?;
    assert_eq!(
        f.forward(&x, &t, None)?.to_scalar::<f64>()?,
        g.to_scalar::<f64>()?
    );
    assert_eq!(Huber::default().delta, 1.0);
    Ok(())
}

#[test]
fn the_upstream_gradient_scales_the_kept_gradient() -> candle_core::Result<()> {
    let x = candle_core::Var::new(&[0.5f32, 3.0, -1.0], &Device::Cpu)?;
    let t = Tensor::new(&[0.0f32, 0.0, 0.0], &Device::Cpu)?;
    let l = losskit_candle::loss("huber")?.reduction(ReductionMode::Sum);
    let out = l.forward(&[("input", x.as_tensor()), ("target", &t)])?;
    let g1 = out.backward()?.get(&x).map(to_f64);
    // The kept gradient survives a second backward pass over the same graph.
    let g2 = (&out * 3.0)?.backward()?.get(&x).map(to_f64);
    assert_eq!(g1, Some(vec![0.5, 1.0, -1.0]));
    assert_eq!(g2, Some(vec![1.5, 3.0, -3.0]));
    // Without a tracked prediction the op stays out of the graph.
    let plain = l.forward(&[("input", &x.as_tensor().detach()), ("target", &t)])?;
    assert!(!plain.track_op());
    Ok(())
}

#[test]
fn errors_carry_the_cores_text() -> candle_core::Result<()> {
    let d = Device::Cpu;
    let x = Tensor::zeros((2, 3), candle_core::DType::F32, &d)?;
    let idx = Tensor::new(&[0u32, 5], &d)?;
    let err = |r: candle_core::Result<_>| -> String {
        match r {
            Ok::<Tensor, _>(t) => panic!("expected an error, got {t}"),
            Err(e) => e.to_string(),
        }
    };
    let core = |name: &str| losskit::find(name).map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        err(losskit_candle::loss("hubr").map(|_| x.clone())),
        core("hubr")
    );
    assert_eq!(
        err(losskit_candle::loss("huber")?
            .param("delt", 1.0)
            .map(|_| x.clone())),
        "huber: unknown parameter `delt`; it takes `delta`"
    );
    assert_eq!(
        err(losskit_candle::loss("huber")?
            .param("delta", true)
            .map(|_| x.clone())),
        "huber: `delta` must be a number, got `true`"
    );
    let huber = losskit_candle::loss("huber")?;
    assert_eq!(
        err(huber
            .clone()
            .param("delta", -1.0)?
            .forward(&[("input", &x), ("target", &x)])),
        "huber: `delta` must be > 0 and finite, got -1"
    );
    assert_eq!(
        err(huber
            .clone()
            .reduction(ReductionMode::BatchMean)
            .forward(&[("input", &x), ("target", &x)])),
        "huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`"
    );
    assert_eq!(
        err(huber.forward(&[("target", &x)])),
        "huber: missing required input `input`"
    );
    let ce = losskit_candle::loss("cross_entropy")?;
    let msg = err(ce.forward(&[("input", &x), ("target", &idx)]));
    assert!(msg.starts_with("cross_entropy: `target`"), "{msg}");
    let nan = Tensor::new(&[f32::NAN, 0.0], &d)?;
    let t = Tensor::new(&[0.0f32, 0.0], &d)?;
    // An integer prediction: the core's dtype error, on both paths.
    let ints = Tensor::new(&[1i64, 2], &d)?;
    for path in [losskit_candle::Path::Fused, losskit_candle::Path::Composed] {
        let mse = losskit_candle::loss("mse")?.path(path);
        assert_eq!(
            err(mse.forward(&[("input", &ints), ("target", &t)])),
            "mse: `input` has dtype int64, expected float32 or float64"
        );
    }
    // Predictions of two float dtypes: computed in the first's, each gradient in its own.
    let a = candle_core::Var::new(&[1.0f32, 2.0], &d)?;
    let b = candle_core::Var::new(&[0.5f64, 4.0], &d)?;
    let y = Tensor::new(&[1.0f32, -1.0], &d)?;
    let mr = losskit_candle::loss("margin_ranking")?;
    let v = mr.forward(&[("x1", a.as_tensor()), ("x2", b.as_tensor()), ("target", &y)])?;
    let g = v.backward()?;
    assert_eq!(v.dtype(), candle_core::DType::F32);
    assert_eq!(g.get(&b).map(|g| g.dtype()), Some(candle_core::DType::F64));
    // A NaN prediction propagates, as in the core.
    let v = losskit_candle::loss("mse")?.forward(&[("input", &nan), ("target", &t)])?;
    assert!(v.to_scalar::<f32>()?.is_nan());
    Ok(())
}
