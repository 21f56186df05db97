//! Times `value_and_grad` of every box loss (f32, `xyxy`, mean) and prints one JSON object
//! per line: `{"loss", "n", "threads", "median_ms", "min_ms", "repeats"}`.
//! `tools/bench/compare_detection.py` runs it next to torchvision.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example bench_boxes -- 1048576
//! ```
//! Argument: the number of box pairs (default 2^20). Threads: rayon's pool, i.e.
//! `RAYON_NUM_THREADS` (default: all cores).

use std::time::Instant;

use losskit::sample::{Rng, SampleData};
use losskit::{BoxInputs, Ciou, Diou, Eiou, Giou, Iou, Reduction, Tensor};

/// Times `f` as the comparison script times torch: 3 untimed calls, then
/// clamp(0.6 s / t, 7, 25) timed ones; returns (median ms, min ms, repeats).
fn time(mut f: impl FnMut() -> f32) -> (f64, f64, usize, f32) {
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
    (times[repeats / 2], times[0], repeats, sink)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => 1 << 20,
    };
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // The catalogue's generated boxes (targets, and predictions jittered around them), as
    // f32; the comparison script draws from the same distribution.
    let sample = (losskit::find("giou")?.sample)(4 * n, &mut Rng::new(1));
    let f32s = |name: &str| -> Vec<f32> {
        match sample.get(name).map(|a| &a.data) {
            Some(SampleData::Float(v)) => v.iter().map(|&x| x as f32).collect(),
            _ => Vec::new(),
        }
    };
    let (p, t) = (f32s("input"), f32s("target"));
    let inputs = BoxInputs::new(Tensor::new(&p, &[n, 4])?, Tensor::new(&t, &[n, 4])?);
    let mut g = vec![0.0f32; 4 * n];
    let r = Reduction::Mean;
    let mut report = |loss: &str, f: &mut dyn FnMut(&mut [f32]) -> f32| {
        let (median, min, repeats, sink) = time(|| f(&mut g));
        println!(
            "{{\"loss\": \"{loss}\", \"n\": {n}, \"threads\": {threads}, \"median_ms\": {median:.4}, \"min_ms\": {min:.4}, \"repeats\": {repeats}, \"checksum\": {}}}",
            sink + g[0]
        );
    };
    let unwrap = |v: losskit::Result<f32>| v.expect("valid boxes");
    report("iou", &mut |g| {
        unwrap(Iou::default().value_and_grad(&inputs, r, g))
    });
    report("giou", &mut |g| {
        unwrap(Giou::default().value_and_grad(&inputs, r, g))
    });
    report("diou", &mut |g| {
        unwrap(Diou::default().value_and_grad(&inputs, r, g))
    });
    report("ciou", &mut |g| {
        unwrap(Ciou::default().value_and_grad(&inputs, r, g))
    });
    report("eiou", &mut |g| {
        unwrap(Eiou::default().value_and_grad(&inputs, r, g))
    });
    Ok(())
}
