//! Regression, the default: Huber with δ set to the residual scale.
use losskit::{Huber, Pointwise, Reduction, Tensor};

pub fn run() -> losskit::Result<f64> {
    let prediction = [0.5f32, 2.0, -1.0, 4.0];
    let target = [0.0f32, 2.0, 1.0, 0.0];
    let delta = 1.0; // `losskit recommend regression --targets y.npy` measures it
    let loss = Huber::new(delta)?;
    let inputs = Pointwise::new(
        Tensor::new(&prediction, &[2, 2])?,
        Tensor::new(&target, &[2, 2])?,
    );
    let mut grad = [0.0f32; 4];
    let value = loss.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
    Ok(f64::from(value))
}
