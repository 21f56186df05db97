//! float16 and bfloat16 inputs through `evaluate`: computed in f32, gradients returned in the
//! input's own dtype, for every loss of the catalogue.

use losskit::half::{bf16, f16};
use losskit::sample::{Rng, SampleData};
use losskit::{
    evaluate, evaluate_with, ArrayData, Dtype, FloatArray, NamedArray, Params, ReductionMode,
};

/// An array's floats in f16 and bf16, or its indices.
type Halves = Result<(Vec<f16>, Vec<bf16>), Vec<i64>>;

fn named<'a>(name: &'a str, data: ArrayData<'a>, dims: &'a [usize]) -> NamedArray<'a> {
    NamedArray { name, data, dims }
}

#[test]
fn log_cosh_of_an_f16_100_is_finite() {
    let x = [f16::from_f32(100.0)];
    let y = [f16::from_f32(0.0)];
    let dims = [1];
    let e = evaluate(
        "log_cosh",
        &[
            named("input", ArrayData::F16(&x), &dims),
            named("target", ArrayData::F16(&y), &dims),
        ],
        &[] as &[(&str, &str)],
        ReductionMode::Mean,
        &["input"],
    )
    .unwrap();
    assert_eq!(e.dtype, Dtype::F32);
    let v = e.value.unwrap();
    // log cosh 100 = 100 − ln 2 (computed in f16 itself, cosh 100 overflows to inf).
    assert!((v - (100.0 - std::f64::consts::LN_2)).abs() < 1e-4, "{v}");
    let FloatArray::F16(g) = &e.grads[0].1 else {
        panic!("the gradient of an f16 input is f16: {:?}", e.grads[0].1)
    };
    assert_eq!(g[0], f16::from_f32(1.0)); // tanh 100
}

#[test]
fn focal_at_an_f16_logit_of_9_39_is_finite() {
    let x = [f16::from_f32(9.39), f16::from_f32(-9.39)];
    let y = [f16::from_f32(0.0), f16::from_f32(1.0)];
    let dims = [2];
    let e = evaluate(
        "focal",
        &[
            named("input", ArrayData::F16(&x), &dims),
            named("target", ArrayData::F16(&y), &dims),
        ],
        &[] as &[(&str, &str)],
        ReductionMode::Sum,
        &["input"],
    )
    .unwrap();
    let v = e.value.unwrap();
    assert!(v.is_finite() && v > 0.0, "{v}");
    let FloatArray::F16(g) = &e.grads[0].1 else {
        panic!("f16 gradient expected")
    };
    assert!(g.iter().all(|x| x.is_finite()), "{g:?}");
    // The same numbers as f32 inputs holding the same values, rounded to f16.
    let xf: Vec<f32> = x.iter().map(|v| v.to_f32()).collect();
    let yf: Vec<f32> = y.iter().map(|v| v.to_f32()).collect();
    let e32 = evaluate(
        "focal",
        &[
            named("input", ArrayData::F32(&xf), &dims),
            named("target", ArrayData::F32(&yf), &dims),
        ],
        &[] as &[(&str, &str)],
        ReductionMode::Sum,
        &["input"],
    )
    .unwrap();
    assert_eq!(e32.value, e.value);
    let FloatArray::F32(g32) = &e32.grads[0].1 else {
        panic!()
    };
    let rounded: Vec<f16> = g32.iter().map(|&x| f16::from_f32(x)).collect();
    assert_eq!(&rounded, g);
}

#[test]
fn a_sum_over_262144_f16_values_is_exact_to_f32_accuracy() {
    // Dice-style: Σ p·t over 2^18 elements, here through mse's sum of squares.
    let n = 1 << 18;
    let x: Vec<f16> = (0..n)
        .map(|i| f16::from_f32(((i % 1000) as f32) / 1000.0))
        .collect();
    let y = vec![f16::ZERO; n];
    let dims = [n];
    let e = evaluate(
        "mse",
        &[
            named("input", ArrayData::F16(&x), &dims),
            named("target", ArrayData::F16(&y), &dims),
        ],
        &[] as &[(&str, &str)],
        ReductionMode::Sum,
        &[],
    )
    .unwrap();
    let exact: f64 = x.iter().map(|v| f64::from(v.to_f32() * v.to_f32())).sum();
    let v = e.value.unwrap();
    assert!(
        ((v - exact) / exact).abs() < 2.0 * f64::from(f32::EPSILON),
        "{v} vs {exact}"
    );
    // An f16 accumulator would have stopped growing at 2048 (its spacing there is 2).
    assert!(v > 60_000.0);
}

#[test]
fn every_loss_takes_f16_and_bf16_predictions_and_returns_their_gradients() {
    for info in losskit::catalogue() {
        let sample = (info.sample)(16, &mut Rng::new(3));
        let predictions = info.predictions();
        for bf in [false, true] {
            // Float arrays in half precision, indices as int64.
            let owned: Vec<(&str, Vec<usize>, Halves)> = sample
                .arrays
                .iter()
                .map(|a| {
                    let d = match &a.data {
                        SampleData::Float(v) => Ok((
                            v.iter().map(|&x| f16::from_f64(x)).collect(),
                            v.iter().map(|&x| bf16::from_f64(x)).collect(),
                        )),
                        SampleData::Index(v) => Err(v.clone()),
                    };
                    (a.name, a.dims.clone(), d)
                })
                .collect();
            let arrays: Vec<NamedArray<'_>> = owned
                .iter()
                .map(|(name, dims, d)| NamedArray {
                    name,
                    dims,
                    data: match d {
                        Ok((h, b)) => {
                            if bf {
                                ArrayData::BF16(b)
                            } else {
                                ArrayData::F16(h)
                            }
                        }
                        Err(i) => ArrayData::I64(i),
                    },
                })
                .collect();
            let e = evaluate_with(
                info,
                &arrays,
                &Params::defaults(info),
                ReductionMode::Sum,
                &predictions,
            );
            let e = match e {
                Ok(e) => e,
                // Rounding to half precision may push a sample value out of its domain
                // (a probability to exactly 1): a clean error is fine, a panic is not.
                Err(err) => {
                    assert!(!err.to_string().is_empty());
                    continue;
                }
            };
            assert_eq!(e.dtype, Dtype::F32, "{}", info.name);
            for (name, g) in &e.grads {
                let ok = if bf {
                    matches!(g, FloatArray::BF16(_))
                } else {
                    matches!(g, FloatArray::F16(_))
                };
                assert!(ok, "{}: gradient of {name} in the input's dtype", info.name);
            }
        }
    }
}
