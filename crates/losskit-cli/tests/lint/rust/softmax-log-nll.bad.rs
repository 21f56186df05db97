use candle_core::{Result, Tensor, D};

fn loss(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let probs = candle_nn::ops::softmax(logits, D::Minus1)?;
    let log_probs = probs.log()?;
    candle_nn::loss::nll(&log_probs, target)
}
