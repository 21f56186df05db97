//! Prediction intervals: one pinball loss per quantile head (here 0.1 and 0.9).
use losskit::{Pointwise, Quantile, Reduction};

pub fn run() -> losskit::Result<f64> {
    let target = [0.0f64, 2.0, 1.0, 3.5];
    let lower = [-0.5f64, 1.0, 0.0, 2.0]; // the τ = 0.1 head
    let upper = [0.5f64, 3.0, 2.5, 5.0]; // the τ = 0.9 head
    let mut total = 0.0;
    for (tau, head) in [(0.1, &lower), (0.9, &upper)] {
        let mut grad = [0.0f64; 4];
        total += Quantile::new(tau)?.value_and_grad(
            &Pointwise::new(head, &target),
            Reduction::Mean,
            &mut grad,
        )?;
    }
    Ok(total)
}
