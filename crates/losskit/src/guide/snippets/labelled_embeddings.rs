//! Labelled embeddings: supervised contrastive (τ = 0.1) for large batches, batch-hard
//! triplet (margin 0.3) for small P×K batches (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let embeddings = [1.0f32, 0.0, 0.9, 0.2, 0.0, 1.0, 0.1, 0.8]; // [N = 4, D = 2]
    let labels = [0i64, 0, 1, 1];
    let inputs = [
        NamedArray {
            name: "embeddings",
            data: ArrayData::F32(&embeddings),
            dims: &[4, 2],
        },
        NamedArray {
            name: "labels",
            data: ArrayData::I64(&labels),
            dims: &[4],
        },
    ];
    let grads = ["embeddings"];
    let large = evaluate(
        "supcon",
        &inputs,
        &[("temperature", "0.1")],
        ReductionMode::Mean,
        &grads,
    )?;
    let small = evaluate(
        "batch_hard_triplet",
        &inputs,
        &[("margin", "0.3")],
        ReductionMode::Mean,
        &grads,
    )?;
    Ok(large.value.unwrap_or(f64::NAN) + small.value.unwrap_or(f64::NAN))
}
