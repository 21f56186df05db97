use candle_core::{Result, Tensor, D};

fn loss(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    candle_nn::loss::cross_entropy(logits, target)
}

fn loss2(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    let log_probs = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    candle_nn::loss::nll(&log_probs, target)
}
