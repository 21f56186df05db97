//! Heatmap regression (landmarks, keypoints): adaptive wing loss, ω = 14, θ = 0.5, ε = 1,
//! α = 2.1 (Wang et al. 2019); targets are heatmap values in [0, 1].
use losskit::{AdaptiveWing, Pointwise, Reduction};

pub fn run() -> losskit::Result<f64> {
    let predicted = [0.05f32, 0.6, 0.9, 0.1];
    let heatmap = [0.0f32, 0.5, 1.0, 0.0];
    let loss = AdaptiveWing::new(14.0, 0.5, 1.0, 2.1)?;
    let mut grad = [0.0f32; 4];
    let value = loss.value_and_grad(
        &Pointwise::new(&predicted, &heatmap),
        Reduction::Mean,
        &mut grad,
    )?;
    Ok(f64::from(value))
}
