//! Times the segmentation losses' `value_and_grad` and the distance transform, and prints one
//! JSON object per line: `{"case", "shape", "median_ms", "min_ms", "repeats"}`.
//! `tools/bench/compare_segmentation.py` runs it next to MONAI, segmentation-models-pytorch
//! and SciPy.
//!
//! ```text
//! cargo run --release --example bench_segmentation -- dice tversky bce_dice dice_focal hausdorff_dt soft_cldice lovasz_softmax edt2d edt3d
//! ```
//! The kernels run on one thread.

use std::time::Instant;

use losskit::{
    distance, BceDice, Dice, DiceFocal, HausdorffDt, LovaszSoftmax, Reduction, SegInputs,
    SoftClDice, Tensor, Tversky,
};

/// Deterministic uniforms in [0, 1): an LCG, no dependency.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 40) as f64 / (1u64 << 24) as f64
    }
}

fn time(mut f: impl FnMut() -> f64) -> (f64, f64, usize) {
    let mut sink = 0.0;
    let t0 = Instant::now();
    for _ in 0..3 {
        sink += f();
    }
    let per = t0.elapsed().as_secs_f64() / 3.0;
    let repeats = ((0.6 / per) as usize).clamp(7, 25);
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        let t = Instant::now();
        sink += f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    assert!(sink.is_finite());
    (times[repeats / 2], times[0], repeats)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut cases: Vec<String> = std::env::args().skip(1).collect();
    if cases.is_empty() {
        cases = [
            "dice",
            "tversky",
            "bce_dice",
            "dice_focal",
            "hausdorff_dt",
            "soft_cldice",
            "lovasz_softmax",
            "edt2d",
            "edt3d",
        ]
        .map(String::from)
        .to_vec();
    }
    let mut rng = Lcg(0x9E37_79B9_7F4A_7C15);
    for case in cases {
        let (shape, (med, lo, reps)): (Vec<usize>, _) = match case.as_str() {
            "dice" | "tversky" | "bce_dice" | "dice_focal" => {
                let (n, c, h, w) = (16, 4, 256, 256);
                let dims = [n, c, h, w];
                let x: Vec<f32> = (0..n * c * h * w)
                    .map(|_| (rng.next() * 8.0 - 4.0) as f32)
                    .collect();
                let mut t = vec![0.0f32; x.len()];
                if case == "bce_dice" {
                    t.iter_mut().for_each(|v| *v = f32::from(rng.next() < 0.3));
                } else {
                    // One-hot of uniform classes, as MONAI takes it.
                    for i in 0..n {
                        for p in 0..h * w {
                            let k = ((rng.next() * c as f64) as usize).min(c - 1);
                            t[(i * c + k) * h * w + p] = 1.0;
                        }
                    }
                }
                let inputs = SegInputs::mask(Tensor::new(&x, &dims)?, Tensor::new(&t, &dims)?);
                let mut g = vec![0.0f32; x.len()];
                let r = match case.as_str() {
                    "dice" => {
                        let l = Dice::default();
                        time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64)
                    }
                    "tversky" => {
                        let l = Tversky::default().alpha(0.3)?.beta(0.7)?;
                        time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64)
                    }
                    "dice_focal" => {
                        let l = DiceFocal::default();
                        time(|| l.value_and_grad(&inputs, &mut g).unwrap() as f64)
                    }
                    _ => {
                        let l = BceDice::default();
                        time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64)
                    }
                };
                (dims.to_vec(), r)
            }
            "lovasz_softmax" => {
                let (n, c, h, w) = (8, 4, 128, 128);
                let dims = [n, c, h, w];
                let x: Vec<f32> = (0..n * c * h * w)
                    .map(|_| (rng.next() * 8.0 - 4.0) as f32)
                    .collect();
                let y: Vec<i64> = (0..n * h * w)
                    .map(|_| ((rng.next() * c as f64) as i64).min(c as i64 - 1))
                    .collect();
                let inputs =
                    SegInputs::indices(Tensor::new(&x, &dims)?, Tensor::new(&y, &[n, h, w])?);
                let mut g = vec![0.0f32; x.len()];
                let l = LovaszSoftmax::default();
                let r = time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64);
                (dims.to_vec(), r)
            }
            "hausdorff_dt" | "soft_cldice" => {
                // hausdorff_dt: logits (softmax inside); soft_cldice: probabilities.
                let (n, c, h, w) = (4, 4, 128, 128);
                let dims = [n, c, h, w];
                let mut x: Vec<f32> = (0..n * c * h * w)
                    .map(|_| (rng.next() * 8.0 - 4.0) as f32)
                    .collect();
                let mut t = vec![0.0f32; x.len()];
                for i in 0..n {
                    for p in 0..h * w {
                        let k = ((rng.next() * c as f64) as usize).min(c - 1);
                        t[(i * c + k) * h * w + p] = 1.0;
                    }
                }
                if case == "soft_cldice" {
                    x.iter_mut().for_each(|v| *v = (*v + 4.0) / 8.0);
                }
                let inputs = SegInputs::mask(Tensor::new(&x, &dims)?, Tensor::new(&t, &dims)?);
                let mut g = vec![0.0f32; x.len()];
                let r = if case == "hausdorff_dt" {
                    let l = HausdorffDt::default();
                    time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64)
                } else {
                    let l = SoftClDice::default();
                    time(|| l.value_and_grad(&inputs, Reduction::Mean, &mut g).unwrap() as f64)
                };
                (dims.to_vec(), r)
            }
            "edt2d" | "edt3d" => {
                let dims: Vec<usize> = if case == "edt2d" {
                    vec![512, 512]
                } else {
                    vec![128, 128, 128]
                };
                let len: usize = dims.iter().product();
                // Blobs: sin(0.05 i)·sin(0.07 j)(·sin(0.09 k)) > 0.1, the same mask the
                // comparison script gives SciPy.
                let m: Vec<bool> = (0..len)
                    .map(|f| {
                        let mut v = 1.0f64;
                        let mut rest = f;
                        for (a, &d) in dims.iter().enumerate().rev() {
                            let i = rest % d;
                            rest /= d;
                            v *= (i as f64 * [0.05, 0.07, 0.09][a]).sin();
                        }
                        v > 0.1
                    })
                    .collect();
                let t = Tensor::new(&m, &dims)?;
                let r = time(|| distance::edt(t, None).unwrap()[len / 2]);
                (dims, r)
            }
            other => return Err(format!("unknown case `{other}`").into()),
        };
        println!(
            "{{\"case\": \"{case}\", \"shape\": {shape:?}, \"median_ms\": {med:.4}, \"min_ms\": {lo:.4}, \"repeats\": {reps}}}"
        );
    }
    Ok(())
}
