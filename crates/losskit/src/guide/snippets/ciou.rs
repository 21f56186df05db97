//! Box regression: CIOU loss on `xyxy` boxes (by name).
use losskit::{evaluate, ArrayData, NamedArray, ReductionMode};

pub fn run() -> losskit::Result<f64> {
    let predicted = [0.0f32, 0.0, 2.0, 2.0, 1.0, 1.0, 3.0, 4.0]; // [N = 2, 4]: x1, y1, x2, y2
    let target = [0.5f32, 0.5, 2.5, 2.0, 1.0, 2.0, 3.0, 5.0];
    let dims = [2, 4];
    let inputs = [
        NamedArray {
            name: "input",
            data: ArrayData::F32(&predicted),
            dims: &dims,
        },
        NamedArray {
            name: "target",
            data: ArrayData::F32(&target),
            dims: &dims,
        },
    ];
    let e = evaluate("ciou", &inputs, &[], ReductionMode::Mean, &["input"])?;
    Ok(e.value.unwrap_or(f64::NAN))
}
