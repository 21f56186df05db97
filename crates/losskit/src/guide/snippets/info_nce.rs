//! Self-supervised embeddings with a large batch: InfoNCE, τ = 0.07 (by name: the typed API
//! of the metric family is `losskit explain info_nce`).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let query = [1.0f32, 0.0, 0.2, 0.9, -0.5, 0.5]; // [N = 3, D = 2]
    let key = [0.9f32, 0.1, 0.1, 1.0, -0.4, 0.6]; // row i is the positive of query row i
    let dims = [3, 2];
    let inputs = [
        NamedArray {
            name: "query",
            data: ArrayData::F32(&query),
            dims: &dims,
        },
        NamedArray {
            name: "key",
            data: ArrayData::F32(&key),
            dims: &dims,
        },
    ];
    let e = evaluate(
        "info_nce",
        &inputs,
        &[("temperature", "0.07")],
        ReductionMode::Mean,
        &["query", "key"],
    )?;
    Ok(e.value.unwrap_or(f64::NAN))
}
