use candle_core::{Result, Tensor};
use candle_nn::{Optimizer, SGD};

fn dice_loss(probs: &Tensor, mask: &Tensor) -> Result<Tensor> {
    let inter = (probs * mask)?.sum_all()?;
    let total = (probs.sum_all()? + mask.sum_all()?)?;
    (1.0 - ((inter * 2.0)? / total)?)
}

fn step(opt: &mut SGD, probs: &Tensor, mask: &Tensor) -> Result<()> {
    let loss = dice_loss(probs, mask)?;
    opt.backward_step(&loss)
}
