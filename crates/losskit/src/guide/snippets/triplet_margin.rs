//! Small batches of explicit (anchor, positive, negative) triplets: triplet margin loss,
//! margin 1 (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let anchor = [1.0f32, 0.0, 0.0, 1.0]; // [N = 2, D = 2]
    let positive = [0.9f32, 0.1, 0.1, 0.9];
    let negative = [0.0f32, 1.0, 1.0, 0.0];
    let dims = [2, 2];
    let inputs = [
        NamedArray {
            name: "anchor",
            data: ArrayData::F32(&anchor),
            dims: &dims,
        },
        NamedArray {
            name: "positive",
            data: ArrayData::F32(&positive),
            dims: &dims,
        },
        NamedArray {
            name: "negative",
            data: ArrayData::F32(&negative),
            dims: &dims,
        },
    ];
    let e = evaluate(
        "triplet_margin",
        &inputs,
        &[("margin", "1.0")],
        ReductionMode::Mean,
        &["anchor", "positive", "negative"],
    )?;
    Ok(e.value.unwrap_or(f64::NAN))
}
