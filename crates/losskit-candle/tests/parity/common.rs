//! What the tests share: candle tensors from the catalogue's generated samples, and
//! comparisons under the core's tolerance rule (the core's own module, included as is).

#![allow(dead_code)]

use candle_core::{DType, Device, Tensor, Var};
use losskit::sample::{Rng, Sample, SampleData};
use losskit::{Dtype, LossInfo, Role};

#[path = "../../../losskit/tests/common/tolerance.rs"]
pub mod tolerance;

/// One input as candle sees it: predictions as `Var`s (gradients wanted).
pub struct Input {
    pub name: &'static str,
    pub tensor: Tensor,
    pub var: Option<Var>,
}

pub fn candle_dtype(d: Dtype) -> DType {
    match d {
        Dtype::F32 => DType::F32,
        Dtype::F64 => DType::F64,
    }
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

/// The sample's arrays as candle tensors in `dtype` (index arrays as i64; `u32` where
/// `u32_labels` and the labels are non-negative, as candle users hold them).
pub fn tensors(info: &LossInfo, s: &Sample, dtype: Dtype, u32_labels: bool) -> Vec<Input> {
    s.arrays
        .iter()
        .map(|a| {
            let pred = info
                .input(a.name)
                .is_some_and(|i| i.role == Role::Prediction);
            let t = match &a.data {
                SampleData::Float(v) => Tensor::from_vec(v.clone(), a.dims.clone(), &Device::Cpu)
                    .and_then(|t| t.to_dtype(candle_dtype(dtype))),
                SampleData::Index(v) if u32_labels && v.iter().all(|&i| i >= 0) => {
                    let v: Vec<u32> = v.iter().map(|&i| i as u32).collect();
                    Tensor::from_vec(v, a.dims.clone(), &Device::Cpu)
                }
                SampleData::Index(v) => Tensor::from_vec(v.clone(), a.dims.clone(), &Device::Cpu),
            }
            .expect("sample tensors build");
            if pred {
                let var = Var::from_tensor(&t).expect("var");
                Input {
                    name: a.name,
                    tensor: var.as_tensor().clone(),
                    var: Some(var),
                }
            } else {
                Input {
                    name: a.name,
                    tensor: t,
                    var: None,
                }
            }
        })
        .collect()
}

pub fn pairs(inputs: &[Input]) -> Vec<(&str, &Tensor)> {
    inputs.iter().map(|i| (i.name, &i.tensor)).collect()
}

pub fn to_f64(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .and_then(|t| t.to_dtype(DType::F64))
        .and_then(|t| t.to_vec1::<f64>())
        .expect("tensor to host")
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
