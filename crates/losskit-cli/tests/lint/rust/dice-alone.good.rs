use candle_core::{Result, Tensor};

fn dice_loss(probs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let inter = (probs * mask)?.sum_all()?;
    let total = (probs.sum_all()? + mask.sum_all()?)?;
    (1.0 - ((inter * 2.0)? / total)?)
}

fn step(logits: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let probs = candle_nn::ops::sigmoid(logits)?;
    let bce = candle_nn::loss::binary_cross_entropy_with_logit(logits, mask)?;
    bce + dice_loss(&probs, mask)?
}
