//! Extreme multiclass imbalance: softmax focal loss, γ = 2, with per-class α.
use losskit::{ClassInputs, Reduction, SoftmaxFocal, Tensor};

pub fn run() -> losskit::Result<f64> {
    let logits = [2.0f32, 0.5, -1.0, 0.1, 1.5, 0.3]; // [N = 2, C = 3]
    let labels = [0i64, 2];
    let alpha = [0.25f32, 0.75, 0.75];
    let loss = SoftmaxFocal::default().gamma(2.0)?;
    let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels).alpha(&alpha);
    let mut grad = [0.0f32; 6];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
