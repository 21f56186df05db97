//! Multi-label ranking: every label of a sample should outscore every non-label by 1
//! (PyTorch's MultiLabelMarginLoss); the target lists the classes, −1 ends the list.
use losskit::{ClassInputs, MultilabelMargin, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let scores = [0.1f32, 0.2, 0.4, 0.8, 1.0, -0.5, 0.3, 0.0]; // [N = 2, C = 4]
    let lists = [3i64, 0, -1, 0, 2, -1, 0, 0]; // sample 0: classes 3, 0; sample 1: class 2
    let inputs = ClassInputs::new(
        Tensor::new(&scores, &[2, 4])?,
        Tensor::new(&lists, &[2, 4])?,
    );
    let mut grad = [0.0f32; 8];
    let value = MultilabelMargin.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
