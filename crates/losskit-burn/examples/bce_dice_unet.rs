//! A small U-Net-like burn segmenter trained with losskit's `bce_dice` on synthetic masks.
//!
//! Each image is 16 × 16, one channel: a disc or a square of random size and place, at
//! intensity 1 over noise (σ 0.35); the target is its 0/1 mask. The model is a U-Net in
//! miniature: two 3 × 3 convolutions at full resolution (the skip), a 2 × 2 max-pool, two
//! convolutions at half resolution, a 2 × 2 transposed convolution back up, the skip
//! concatenated, two convolutions and a 1 × 1 convolution to one logit per pixel.
//!
//! The model is a `#[derive(Module)]` struct that holds its loss as a field: the
//! `BceDiceLoss` made by the generated config's `init` (its parameters checked once), marked
//! `#[module(skip)]` as it holds no tensors. The loss runs through losskit's fused CPU path on
//! burn's `flex` device with autodiff; plain SGD (a `ModuleMapper`) updates the weights from
//! burn's gradients.
//!
//! Run: `cargo run -p losskit-burn --example bce_dice_unet --release`

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use losskit::sample::Rng;
use losskit_burn::losses::{BceDice, BceDiceLoss};

const SIDE: usize = 16;
const BATCH: usize = 8;
const WIDTH: usize = 8;

/// The segmenter, with its loss as a field.
#[derive(Module, Debug)]
pub struct UNet {
    down1: Conv2d,
    down2: Conv2d,
    pool: MaxPool2d,
    mid1: Conv2d,
    mid2: Conv2d,
    up: ConvTranspose2d,
    dec1: Conv2d,
    dec2: Conv2d,
    head: Conv2d,
    /// The loss: no parameters to train, so skipped by the module derive.
    #[module(skip)]
    loss: BceDiceLoss,
}

fn conv3(from: usize, to: usize, dev: &Device) -> Conv2d {
    Conv2dConfig::new([from, to], [3, 3])
        .with_padding(PaddingConfig2d::Same)
        .init(dev)
}

impl UNet {
    fn new(dev: &Device) -> losskit_burn::Result<UNet> {
        // BCE on the logits plus the Dice loss of their sigmoid, weighted equally (the
        // catalogue's defaults); `BceDice { dice_weight: 2.0, ..Default::default() }` to
        // change one.
        let loss = BceDice::default().init()?;
        Ok(UNet {
            down1: conv3(1, WIDTH, dev),
            down2: conv3(WIDTH, WIDTH, dev),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            mid1: conv3(WIDTH, 2 * WIDTH, dev),
            mid2: conv3(2 * WIDTH, 2 * WIDTH, dev),
            up: ConvTranspose2dConfig::new([2 * WIDTH, WIDTH], [2, 2])
                .with_stride([2, 2])
                .init(dev),
            dec1: conv3(2 * WIDTH, WIDTH, dev),
            dec2: conv3(WIDTH, WIDTH, dev),
            head: Conv2dConfig::new([WIDTH, 1], [1, 1]).init(dev),
            loss,
        })
    }

    /// One logit per pixel: `[N, 1, H, W]` from `[N, 1, H, W]`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = relu(self.down2.forward(relu(self.down1.forward(x))));
        let h = self.pool.forward(skip.clone());
        let h = relu(self.mid2.forward(relu(self.mid1.forward(h))));
        let h = relu(self.up.forward(h));
        let h = Tensor::cat(vec![h, skip], 1);
        let h = relu(self.dec2.forward(relu(self.dec1.forward(h))));
        self.head.forward(h)
    }

    /// The `bce_dice` loss of a batch (a `[1]` tensor).
    fn loss(&self, x: Tensor<4>, mask: Tensor<4>) -> losskit_burn::Result<Tensor<1>> {
        self.loss.forward(self.forward(x), mask)
    }
}

/// Plain SGD: each float parameter minus `lr` times its gradient, a fresh tracked leaf.
struct Sgd<'a> {
    grads: &'a Gradients,
    lr: f64,
}

impl ModuleMapper for Sgd<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (grads, lr) = (self.grads, self.lr);
        param.map(|p| {
            let g = p.grad(grads);
            let v = p.inner();
            let v = match g {
                Some(g) => v.sub(g.mul_scalar(lr)),
                None => v,
            };
            Tensor::from_inner(v).require_grad()
        })
    }
}

/// A batch: noisy images `[BATCH, 1, SIDE, SIDE]` and their masks (same shape, 0/1).
fn batch(rng: &mut Rng, dev: &Device) -> (Tensor<4>, Tensor<4>) {
    let n = BATCH * SIDE * SIDE;
    let mut image = Vec::with_capacity(n);
    let mut mask = Vec::with_capacity(n);
    for _ in 0..BATCH {
        let disc = rng.uniform(0.0, 1.0) < 0.5;
        let r = rng.uniform(2.5, 5.0);
        let cy = rng.uniform(r, SIDE as f64 - r);
        let cx = rng.uniform(r, SIDE as f64 - r);
        for y in 0..SIDE {
            for x in 0..SIDE {
                let (dy, dx) = (y as f64 + 0.5 - cy, x as f64 + 0.5 - cx);
                let inside = if disc {
                    dy * dy + dx * dx <= r * r
                } else {
                    dy.abs() <= r && dx.abs() <= r
                };
                let m = if inside { 1.0 } else { 0.0 };
                mask.push(m as f32);
                image.push((m + 0.35 * rng.normal()) as f32);
            }
        }
    }
    let dims = [BATCH, 1, SIDE, SIDE];
    (
        Tensor::from_data(TensorData::new(image, dims), dev),
        Tensor::from_data(TensorData::new(mask, dims), dev),
    )
}

/// Trains for `steps` SGD steps and returns the loss of each step (printed every tenth step
/// when `verbose`).
pub fn train(steps: usize, verbose: bool) -> losskit_burn::Result<Vec<f64>> {
    let dev = Device::flex().autodiff();
    dev.seed(19);
    let mut rng = Rng::new(19);
    let mut model = UNet::new(&dev)?;
    let lr = 0.5;
    let mut history = Vec::with_capacity(steps);
    for step in 0..steps {
        let (x, mask) = batch(&mut rng, &dev);
        let loss = model.loss(x, mask)?;
        let value = f64::from(loss.clone().into_scalar::<f32>());
        history.push(value);
        if verbose && step % 10 == 0 {
            println!("step {step:4}  bce_dice {value:.5}");
        }
        let grads = loss.backward();
        model = model.map(&mut Sgd { grads: &grads, lr });
    }
    Ok(history)
}

fn main() -> losskit_burn::Result<()> {
    let history = train(200, true)?;
    let first = history[..10].iter().sum::<f64>() / 10.0;
    let last = history[history.len() - 10..].iter().sum::<f64>() / 10.0;
    println!("mean bce_dice loss: first 10 steps {first:.5}, last 10 steps {last:.5}");
    Ok(())
}
