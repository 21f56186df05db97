//! Heavily imbalanced binary targets (and dense detection heads): sigmoid focal loss,
//! α = 0.25, γ = 2 (RetinaNet).
use losskit::{BinaryInputs, Focal, Reduction};

pub fn run() -> losskit::Result<f64> {
    let logits = [-3.0f32, -2.5, 1.0, -4.0, -3.5, 0.2];
    let labels = [0.0f32, 0.0, 1.0, 0.0, 0.0, 0.0];
    let mut grad = [0.0f32; 6];
    // RetinaNet normalises by the number of positive anchors: `Sum` / positives.
    let value = Focal::new(0.25, 2.0)?.value_and_grad(
        &BinaryInputs::new(&logits, &labels),
        Reduction::Sum,
        &mut grad,
    )?;
    Ok(f64::from(value))
}
