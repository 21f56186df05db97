//! One loss per sample from per-label BCE averaged over the labels (PyTorch's
//! MultiLabelSoftMarginLoss), with optional per-label weights.
use losskit::{BinaryInputs, MultilabelSoftMargin, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let logits = [0.5f32, -1.0, -2.0, 0.3, 1.0, -0.5]; // [N = 2, L = 3]
    let labels = [1.0f32, 0.0, 0.0, 1.0, 1.0, 0.0];
    let label_weight = [1.0f32, 2.0, 1.0];
    let inputs = BinaryInputs::new(
        Tensor::new(&logits, &[2, 3])?,
        Tensor::new(&labels, &[2, 3])?,
    )
    .weight(&label_weight[..]);
    let mut grad = [0.0f32; 6];
    let value = MultilabelSoftMargin.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
