//! Imbalanced binary or multi-label targets: BCE with logits and `pos_weight` = negatives /
//! positives per label (`losskit weights --pos-weight --targets y.npy`).
use losskit::weights::PosWeight;
use losskit::{BceWithLogits, BinaryInputs, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    // 4 samples × 2 labels.
    let logits = [0.5f32, -1.0, -2.0, 0.3, 1.0, -0.5, -1.5, -2.5];
    let labels = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0];
    let pos_weight = PosWeight::new().from_targets(Tensor::new(&labels, &[4, 2])?)?;
    let loss = BceWithLogits::default().pos_weight(pos_weight.weights())?;
    let inputs = BinaryInputs::new(
        Tensor::new(&logits, &[4, 2])?,
        Tensor::new(&labels, &[4, 2])?,
    );
    let mut grad = [0.0f32; 8];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
