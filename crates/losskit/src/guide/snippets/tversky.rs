//! Small objects: Tversky with α = 0.3 (false positives), β = 0.7 (false negatives); focal
//! Tversky (γ = 0.75) when they are also hard (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let logits = [2.0f32, -1.0, 0.5, -3.0, -2.0, 1.0, -1.5, -2.5]; // [N = 2, C = 1, 2, 2]
    let mask = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let dims = [2, 1, 2, 2];
    let inputs = [
        NamedArray {
            name: "input",
            data: ArrayData::F32(&logits),
            dims: &dims,
        },
        NamedArray {
            name: "target",
            data: ArrayData::F32(&mask),
            dims: &dims,
        },
    ];
    let tversky = [("alpha", "0.3"), ("beta", "0.7"), ("activation", "sigmoid")];
    let e = evaluate(
        "tversky",
        &inputs,
        &tversky,
        ReductionMode::Mean,
        &["input"],
    )?;
    let focal = [
        ("alpha", "0.3"),
        ("beta", "0.7"),
        ("gamma", "0.75"),
        ("activation", "sigmoid"),
    ];
    let f = evaluate(
        "focal_tversky",
        &inputs,
        &focal,
        ReductionMode::Mean,
        &["input"],
    )?;
    Ok(e.value.unwrap_or(f64::NAN) + f.value.unwrap_or(f64::NAN))
}
