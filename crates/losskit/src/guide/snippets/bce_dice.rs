//! Segmentation, the default: BCE + Dice on the logits (MONAI `DiceCELoss(sigmoid=True)`) (by name).
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
    let params = [("bce_weight", "1.0"), ("dice_weight", "1.0")];
    let e = evaluate(
        "bce_dice",
        &inputs,
        &params,
        ReductionMode::Mean,
        &["input"],
    )?;
    Ok(e.value.unwrap_or(f64::NAN))
}
