//! A one-knob alternative to cross-entropy: Poly-1, ε = 2 (Leng et al. 2022's ImageNet
//! setting; tune ε in [−1, 5], −1 for noisy labels or detection).
use losskit::{ClassInputs, Poly1, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let logits = [2.0f32, 0.5, -1.0, 0.1, 1.5, 0.3]; // [N = 2, C = 3]
    let labels = [0i64, 2];
    let loss = Poly1::default().epsilon(2.0)?;
    let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
    let mut grad = [0.0f32; 6];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
