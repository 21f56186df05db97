//! Related classes (nested regions, ordered grades): the generalized Wasserstein Dice loss with
//! a distance matrix between the classes (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    // [N = 1, C = 3, 4] logits; class 0 the background, classes 1 and 2 close to each other.
    let logits = [
        2.0f32, -1.0, 0.0, 0.5, -1.0, 2.0, 0.5, 0.0, -1.0, 0.0, 1.5, 1.0,
    ];
    let labels = [0i64, 1, 2, 2];
    let dist = [0.0f32, 1.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.5, 0.0];
    let inputs = [
        NamedArray {
            name: "input",
            data: ArrayData::F32(&logits),
            dims: &[1, 3, 4],
        },
        NamedArray {
            name: "target",
            data: ArrayData::I64(&labels),
            dims: &[1, 4],
        },
        NamedArray {
            name: "dist_matrix",
            data: ArrayData::F32(&dist),
            dims: &[3, 3],
        },
    ];
    let e = evaluate(
        "generalized_wasserstein_dice",
        &inputs,
        &[("weighting_mode", "default")],
        ReductionMode::Mean,
        &["input"],
    )?;
    Ok(e.value.unwrap_or(f64::NAN))
}
