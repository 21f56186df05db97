//! Sparse class probabilities: the sparsemax loss (Martins & Astudillo 2016), whose gradient
//! is sparsemax(x) − one_hot(y); sparsemax gives exact zeros.
use losskit::{ClassInputs, Reduction, Sparsemax, Tensor};

pub fn run() -> losskit::Result<f64> {
    let scores = [2.0f32, 0.5, -1.0, 0.1, 1.5, 0.3]; // [N = 2, C = 3]
    let labels = [0i64, 2];
    let inputs = ClassInputs::new(Tensor::new(&scores, &[2, 3])?, &labels);
    let mut grad = [0.0f32; 6];
    let value = Sparsemax.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
