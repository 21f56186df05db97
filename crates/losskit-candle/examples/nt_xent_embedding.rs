//! A small candle embedding model trained with losskit's `nt_xent` (SimCLR's loss).
//!
//! Points are drawn around 4 cluster centres in 16 dimensions; each batch is seen twice
//! through two random augmentations (a little noise and a random scale), and a two-layer encoder
//! (16 → 32 → 8, tanh) learns to map the two views of a point close together and away from
//! the rest of the batch. The loss runs through losskit's fused CPU op; its gradient arrives
//! in candle's `backward()`, and plain SGD updates the weights.
//!
//! Run: `cargo run -p losskit-candle --example nt_xent_embedding --release`

use candle_core::{Device, Result, Tensor, Var};
use losskit::sample::Rng;
use losskit_candle::losses::NtXent;

const DIM: usize = 16;
const HIDDEN: usize = 32;
const EMBED: usize = 8;
const BATCH: usize = 32;
const CLUSTERS: usize = 4;

fn var(rng: &mut Rng, rows: usize, cols: usize, scale: f64) -> Result<Var> {
    Var::from_vec(rng.normals(rows * cols, scale), (rows, cols), &Device::Cpu)
}

/// One augmented view of the batch `points` (`[BATCH, DIM]`, row-major).
fn view(rng: &mut Rng, points: &[f64]) -> Result<Tensor> {
    let mut v = points.to_vec();
    for row in v.chunks_mut(DIM) {
        let s = rng.uniform(0.8, 1.2);
        for x in row {
            *x = *x * s + 0.1 * rng.normal();
        }
    }
    Tensor::from_vec(v, (BATCH, DIM), &Device::Cpu)
}

/// Trains for `steps` SGD steps and returns the loss of each step (printed every tenth step
/// when `verbose`).
pub fn train(steps: usize, verbose: bool) -> Result<Vec<f64>> {
    let mut rng = Rng::new(19);
    let centres = rng.normals(CLUSTERS * DIM, 2.0);
    let w1 = var(&mut rng, DIM, HIDDEN, (1.0 / DIM as f64).sqrt())?;
    let b1 = Var::zeros(HIDDEN, candle_core::DType::F64, &Device::Cpu)?;
    let w2 = var(&mut rng, HIDDEN, EMBED, (1.0 / HIDDEN as f64).sqrt())?;
    let params = [&w1, &b1, &w2];
    let loss = NtXent::default(); // temperature and reduction: the catalogue's defaults
    let lr = 2.0;
    let mut history = Vec::with_capacity(steps);
    for step in 0..steps {
        let mut points = Vec::with_capacity(BATCH * DIM);
        for _ in 0..BATCH {
            let c = rng.below(CLUSTERS as u64) as usize;
            points.extend(
                centres[c * DIM..(c + 1) * DIM]
                    .iter()
                    .map(|m| m + rng.normal()),
            );
        }
        let encode = |x: &Tensor| -> Result<Tensor> {
            x.matmul(w1.as_tensor())?
                .broadcast_add(b1.as_tensor())?
                .tanh()?
                .matmul(w2.as_tensor())
        };
        let z1 = encode(&view(&mut rng, &points)?)?;
        let z2 = encode(&view(&mut rng, &points)?)?;
        let l = loss.forward(&z1, &z2)?;
        let grads = l.backward()?;
        for p in params {
            if let Some(g) = grads.get(p) {
                p.set(&(p.as_tensor() - (g * lr)?)?)?;
            }
        }
        let v = l.to_scalar::<f64>()?;
        if verbose && (step % 10 == 0 || step + 1 == steps) {
            println!("step {step:4}  nt_xent {v:.4}");
        }
        history.push(v);
    }
    Ok(history)
}

fn main() -> Result<()> {
    let history = train(150, true)?;
    let first: f64 = history.iter().take(10).sum::<f64>() / 10.0;
    let last: f64 = history.iter().rev().take(10).sum::<f64>() / 10.0;
    println!("mean of the first 10 steps {first:.4}, of the last 10 {last:.4}");
    Ok(())
}
