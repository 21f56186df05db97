//! What the tests share: burn tensors from the catalogue's generated samples, and
//! comparisons under the core's tolerance rule (the core's own module, included as is).

#![allow(dead_code)]

use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use losskit::sample::{Rng, Sample, SampleData};
use losskit::{Dtype, LossInfo, Role};
use losskit_burn::Input;

#[path = "../../../losskit/tests/common/tolerance.rs"]
pub mod tolerance;

/// The device of the tests: flex with autodiff.
pub fn device() -> Device {
    Device::flex().autodiff()
}

pub fn burn_dtype(d: Dtype) -> DType {
    match d {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
    }
}

/// One input as burn sees it: predictions flattened with gradients wanted.
pub struct Arg {
    pub name: &'static str,
    pub input: Input,
    /// The flattened prediction, whose gradient the test reads.
    pub flat: Option<Tensor<1>>,
}

/// The sample of `info` of about `size` prediction elements from `seed`, its float
/// predictions multiplied by `scale` (1 for the catalogue's own inputs).
pub fn sample(info: &LossInfo, size: usize, seed: u64, scale: f64) -> Sample {
    let mut s = (info.sample)(size, &mut Rng::new(seed));
    for a in &mut s.arrays {
        let pred = info
            .input(a.name)
            .is_some_and(|i| i.role == Role::Prediction);
        if let (true, SampleData::Float(v)) = (pred, &mut a.data) {
            v.iter_mut().for_each(|x| *x *= scale);
        }
    }
    s
}

pub fn float(v: Vec<f64>, dtype: Dtype, dev: &Device) -> Tensor<1> {
    let n = v.len();
    Tensor::<1>::from_data(TensorData::new(v, [n]), (dev, DType::F64)).cast(burn_dtype(dtype))
}

/// The sample's arrays as burn inputs in `dtype` on `dev` (index arrays as `Int`).
pub fn inputs(info: &LossInfo, s: &Sample, dtype: Dtype, dev: &Device) -> Vec<Arg> {
    s.arrays
        .iter()
        .map(|a| {
            let pred = info
                .input(a.name)
                .is_some_and(|i| i.role == Role::Prediction);
            match &a.data {
                SampleData::Float(v) => {
                    let t = float(v.clone(), dtype, dev);
                    let t = if pred { t.require_grad() } else { t };
                    Arg {
                        name: a.name,
                        input: Input::float_flat(t.clone(), &a.dims).expect("dims"),
                        flat: pred.then_some(t),
                    }
                }
                SampleData::Index(v) => {
                    let n = v.len();
                    let t = Tensor::<1, Int>::from_data(TensorData::new(v.clone(), [n]), dev);
                    Arg {
                        name: a.name,
                        input: Input::int_flat(t, &a.dims).expect("dims"),
                        flat: None,
                    }
                }
            }
        })
        .collect()
}

pub fn pairs(args: &[Arg]) -> Vec<(&str, Input)> {
    args.iter().map(|a| (a.name, a.input.clone())).collect()
}

pub fn to_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.cast(DType::F64)
        .into_data()
        .try_to_vec::<f64>()
        .expect("f64 data")
}

/// Asserts `actual` matches `expected` element by element under `tol` (scale: the largest
/// expected magnitude), naming `what` on failure.
pub fn assert_close(what: &str, expected: &[f64], actual: &[f64], tol: tolerance::Tol, eps: f64) {
    assert_eq!(expected.len(), actual.len(), "{what}: lengths differ");
    let scale = tolerance::scale(expected.iter().copied());
    for (i, (&e, &a)) in expected.iter().zip(actual).enumerate() {
        assert!(
            tolerance::close(e, a, tol, eps, scale),
            "{what}[{i}]: expected {e}, got {a} (scale {scale})"
        );
    }
}
