use candle_core::{Result, Tensor};

fn step(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    focal_loss(logits, targets, 2.0)
}
