//! Imbalanced classes: cross-entropy with per-class weights from the class counts
//! (effective number of samples for long tails; `losskit weights --labels y.npy`).
use losskit::weights::{ClassWeights, Scheme};
use losskit::{ClassInputs, CrossEntropy, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let logits = [2.0f32, 0.5, -1.0, 0.1, 1.5, 0.3, 1.0, 0.0, 0.2]; // [N = 3, C = 3]
    let labels = [0i64, 1, 0];
    let counts = [900, 90, 10]; // from the training labels
    let weights = ClassWeights::new(Scheme::Effective { beta: 0.999 })?
        .normalize(true)
        .from_counts(&counts)?;
    let weight: Vec<f32> = weights.weights().iter().map(|&w| w as f32).collect();
    let loss = CrossEntropy::default().label_smoothing(0.1)?;
    let inputs = ClassInputs::new(Tensor::new(&logits, &[3, 3])?, &labels).weight(&weight);
    let mut grad = [0.0f32; 9];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
