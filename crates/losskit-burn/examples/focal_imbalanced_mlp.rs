//! A small burn MLP classifier trained with losskit's `focal` on an imbalanced synthetic set.
//!
//! Two-dimensional points: 1 in 12 is positive, drawn from a small cluster inside the
//! negatives' spread. A two-layer MLP (2 → 16 → 1, tanh) outputs one logit per point;
//! focal (γ = 2, α = 0.25, RetinaNet's defaults) down-weights the many easy negatives. The
//! loss runs through losskit's fused CPU path on burn's `flex` device with autodiff; plain
//! SGD updates the weights from burn's gradients.
//!
//! Run: `cargo run -p losskit-burn --example focal_imbalanced_mlp --release`

use burn::tensor::{Device, Tensor, TensorData};
use losskit::sample::Rng;
use losskit_burn::losses::FocalLossConfig;

const HIDDEN: usize = 16;
const BATCH: usize = 96;

fn param(rng: &mut Rng, dims: [usize; 2], scale: f64, dev: &Device) -> Tensor<2> {
    let v: Vec<f32> = rng
        .normals(dims[0] * dims[1], scale)
        .into_iter()
        .map(|x| x as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, dims), dev).require_grad()
}

/// A batch: points `[BATCH, 2]` and labels `[BATCH, 1]` (1 for the rare class).
fn batch(rng: &mut Rng, dev: &Device) -> (Tensor<2>, Tensor<2>) {
    let mut x = Vec::with_capacity(BATCH * 2);
    let mut y = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let positive = rng.uniform(0.0, 1.0) < 1.0 / 12.0;
        let (c, s) = if positive { (1.0, 0.3) } else { (0.0, 1.0) };
        x.push((c + s * rng.normal()) as f32);
        x.push((c + s * rng.normal()) as f32);
        y.push(if positive { 1.0f32 } else { 0.0 });
    }
    (
        Tensor::from_data(TensorData::new(x, [BATCH, 2]), dev),
        Tensor::from_data(TensorData::new(y, [BATCH, 1]), dev),
    )
}

/// Trains for `steps` SGD steps and returns the loss of each step (printed every tenth step
/// when `verbose`).
pub fn train(steps: usize, verbose: bool) -> losskit_burn::Result<Vec<f64>> {
    let dev = Device::flex().autodiff();
    let mut rng = Rng::new(19);
    let mut w1 = param(&mut rng, [2, HIDDEN], 0.7, &dev);
    let mut b1 = param(&mut rng, [1, HIDDEN], 0.1, &dev);
    let mut w2 = param(&mut rng, [HIDDEN, 1], 0.25, &dev);
    let mut b2 = param(&mut rng, [1, 1], 0.1, &dev);
    // The loss a model holds as a field: checked once, at init.
    let focal = FocalLossConfig {
        gamma: 2.0,
        alpha: 0.25,
        ..Default::default()
    }
    .init()?;
    let lr = 0.5;
    let mut history = Vec::with_capacity(steps);
    for step in 0..steps {
        let (x, y) = batch(&mut rng, &dev);
        let h = x.matmul(w1.clone()).add(b1.clone()).tanh();
        let logits = h.matmul(w2.clone()).add(b2.clone());
        let loss = focal.forward(logits, y, None)?;
        let value = f64::from(loss.clone().into_scalar::<f32>());
        history.push(value);
        if verbose && step % 10 == 0 {
            println!("step {step:4}  focal {value:.5}");
        }
        let grads = loss.backward();
        // A step on the plain values, then a fresh leaf on the autodiff device.
        let sgd = |p: Tensor<2>| -> Tensor<2> {
            let g = p.grad(&grads);
            let v = p.inner();
            let v = match g {
                Some(g) => v.sub(g.mul_scalar(lr)),
                None => v,
            };
            Tensor::from_inner(v).require_grad()
        };
        w1 = sgd(w1);
        b1 = sgd(b1);
        w2 = sgd(w2);
        b2 = sgd(b2);
    }
    Ok(history)
}

fn main() -> losskit_burn::Result<()> {
    let history = train(200, true)?;
    let first = history[..10].iter().sum::<f64>() / 10.0;
    let last = history[history.len() - 10..].iter().sum::<f64>() / 10.0;
    println!("mean focal loss: first 10 steps {first:.5}, last 10 steps {last:.5}");
    Ok(())
}
