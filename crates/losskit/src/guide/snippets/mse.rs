//! Regression with Gaussian errors and no outliers: mean squared error.
use losskit::{Mse, Pointwise, Reduction};

pub fn run() -> losskit::Result<f64> {
    let prediction = [0.5f64, 2.0, -1.0, 4.0];
    let target = [0.0f64, 2.0, 1.0, 3.5];
    let inputs = Pointwise::new(&prediction, &target);
    let mut grad = [0.0f64; 4];
    Mse.value_and_grad(&inputs, Reduction::Mean, &mut grad)
}
