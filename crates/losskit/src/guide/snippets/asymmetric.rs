//! Multi-label with many labels and few positives per sample: asymmetric loss (ASL),
//! γ₋ = 4, γ₊ = 1, clip 0.05 (Ridnik et al. 2021); `Sum` is the paper's reduction.
use losskit::{Asymmetric, BinaryInputs, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    // 2 samples × 4 labels, one positive each.
    let logits = [1.5f32, -3.0, -0.5, -4.0, -2.0, 0.8, -1.0, -3.5];
    let labels = [1.0f32, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    let loss = Asymmetric::new(4.0, 1.0, 0.05, 1e-8)?;
    let inputs = BinaryInputs::new(
        Tensor::new(&logits, &[2, 4])?,
        Tensor::new(&labels, &[2, 4])?,
    );
    let mut grad = [0.0f32; 8];
    let value = loss.value_and_grad(&inputs, Reduction::Sum, &mut grad)?;
    Ok(f64::from(value))
}
