//! Binary and multi-label classification: BCE on the logits (never on sigmoid outputs).
use losskit::{BceWithLogits, BinaryInputs, Reduction};

pub fn run() -> losskit::Result<f64> {
    let logits = [1.5f32, -0.3, 2.2, -4.0];
    let labels = [1.0f32, 0.0, 1.0, 0.0];
    let mut grad = [0.0f32; 4];
    let value = BceWithLogits::default().value_and_grad(
        &BinaryInputs::new(&logits, &labels),
        Reduction::Mean,
        &mut grad,
    )?;
    Ok(f64::from(value))
}
