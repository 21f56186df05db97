//! Box regression: the IoU-family losses on `xyxy` boxes, GIoU by default, DIoU for faster
//! convergence, CIoU for varied aspect ratios (by name).
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
    let mut total = 0.0;
    for loss in ["giou", "diou", "ciou"] {
        let e = evaluate(loss, &inputs, &[], ReductionMode::Mean, &["input"])?;
        total += e.value.unwrap_or(f64::NAN);
    }
    Ok(total)
}
