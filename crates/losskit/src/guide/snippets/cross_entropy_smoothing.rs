//! Multiclass, the default: cross-entropy on the logits with label smoothing 0.1.
use losskit::{ClassInputs, CrossEntropy, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let logits = [2.0f32, 0.5, -1.0, 0.1, 1.5, 0.3]; // [N = 2, C = 3]
    let labels = [0i64, 1];
    let loss = CrossEntropy::default().label_smoothing(0.1)?;
    let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
    let mut grad = [0.0f32; 6];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
