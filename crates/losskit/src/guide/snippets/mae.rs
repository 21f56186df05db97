//! Regression under heavy contamination: mean absolute error (the median's loss).
use losskit::{Mae, Pointwise, Reduction};

pub fn run() -> losskit::Result<f64> {
    let prediction = [0.5f64, 2.0, -1.0, 40.0];
    let target = [0.0f64, 2.0, 1.0, 3.5];
    let inputs = Pointwise::new(&prediction, &target);
    let mut grad = [0.0f64; 4];
    Mae.value_and_grad(&inputs, Reduction::Mean, &mut grad)
}
