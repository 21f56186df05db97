//! Thin structures: soft clDice (on probabilities) beside Dice; boundary accuracy: the
//! Hausdorff distance-transform loss (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    // [N = 1, C = 1, 4, 4]: a vertical line, predicted a little thick.
    let probs = [
        0.1f32, 0.7, 0.9, 0.2, 0.1, 0.6, 0.9, 0.3, 0.2, 0.6, 0.8, 0.2, 0.1, 0.5, 0.9, 0.1,
    ];
    let line = [
        0.0f32, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0,
    ];
    let dims = [1, 1, 4, 4];
    let inputs = [
        NamedArray {
            name: "input",
            data: ArrayData::F32(&probs),
            dims: &dims,
        },
        NamedArray {
            name: "target",
            data: ArrayData::F32(&line),
            dims: &dims,
        },
    ];
    let cl = evaluate(
        "soft_cldice",
        &inputs,
        &[("iterations", "3")],
        ReductionMode::Mean,
        &["input"],
    )?;
    let hd = evaluate(
        "hausdorff_dt",
        &inputs,
        &[("alpha", "2"), ("activation", "none")],
        ReductionMode::Mean,
        &["input"],
    )?;
    Ok(cl.value.unwrap_or(f64::NAN) + hd.value.unwrap_or(f64::NAN))
}
