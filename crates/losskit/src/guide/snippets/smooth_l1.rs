//! Regressing box deltas directly: smooth L1 with β = 1/9 (RetinaNet, Faster R-CNN).
use losskit::{Pointwise, Reduction, SmoothL1};

pub fn run() -> losskit::Result<f64> {
    let deltas = [0.1f32, -0.2, 0.05, 0.3]; // one box: dx, dy, dw, dh
    let target = [0.0f32, 0.0, 0.1, 0.2];
    let mut grad = [0.0f32; 4];
    let value = SmoothL1::new(1.0 / 9.0)?.value_and_grad(
        &Pointwise::new(&deltas, &target),
        Reduction::Sum,
        &mut grad,
    )?;
    Ok(f64::from(value))
}
