//! Times `CrossEntropy::value_and_grad` (f32 logits, i64 class-index targets) and prints
//! one JSON object per line: `{"n", "c", "label_smoothing", "threads", "median_ms",
//! "min_ms", "repeats"}`. `tools/bench/compare_cross_entropy.py` runs it next to PyTorch.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example bench_cross_entropy -- 65536x10 8192x1000
//! ```
//! Arguments: shapes `NxC` (default: the three of the performance notes). Threads: rayon's
//! pool, i.e. `RAYON_NUM_THREADS` (default: all cores).

use std::time::Instant;

use losskit::{ClassInputs, CrossEntropy, Reduction, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut shapes: Vec<(usize, usize)> = Vec::new();
    for arg in std::env::args().skip(1) {
        let (n, c) = arg.split_once('x').ok_or("shapes are NxC")?;
        shapes.push((n.parse()?, c.parse()?));
    }
    if shapes.is_empty() {
        shapes = vec![(65536, 10), (8192, 1000), (512, 128_000)];
    }
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    for (n, c) in shapes {
        // Deterministic logits in [−8, 8) and targets: an LCG, no dependency.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 40) as f64 / (1u64 << 24) as f64
        };
        let x: Vec<f32> = (0..n * c).map(|_| (next() * 16.0 - 8.0) as f32).collect();
        let y: Vec<i64> = (0..n)
            .map(|_| ((next() * c as f64) as i64).min(c as i64 - 1))
            .collect();
        let mut g = vec![0.0f32; n * c];
        let inputs = ClassInputs::new(Tensor::new(&x, &[n, c])?, &y);
        for eps in [0.0, 0.1] {
            let ce = CrossEntropy::default().label_smoothing(eps)?;
            let mut sink = 0.0f32;
            let t0 = Instant::now();
            for _ in 0..3 {
                sink += ce.value_and_grad(&inputs, Reduction::Mean, &mut g)?;
            }
            let per = t0.elapsed().as_secs_f64() / 3.0;
            let repeats = ((0.6 / per) as usize).clamp(7, 25);
            let mut times = Vec::with_capacity(repeats);
            for _ in 0..repeats {
                let t = Instant::now();
                sink += ce.value_and_grad(&inputs, Reduction::Mean, &mut g)?;
                times.push(t.elapsed().as_secs_f64() * 1e3);
            }
            times.sort_by(f64::total_cmp);
            println!(
                "{{\"n\": {n}, \"c\": {c}, \"label_smoothing\": {eps}, \"threads\": {threads}, \"median_ms\": {:.4}, \"min_ms\": {:.4}, \"repeats\": {repeats}, \"checksum\": {}}}",
                times[repeats / 2],
                times[0],
                sink + g[0]
            );
        }
    }
    Ok(())
}
