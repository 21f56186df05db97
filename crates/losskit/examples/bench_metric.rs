//! Times one metric-learning loss's fused `value_and_grad` (f32, `mean`) and reports its
//! peak memory, as one JSON line: `{"loss", "n", "d", "threads", "median_ms", "min_ms",
//! "repeats", "base_mib", "peak_mib", "extra_mib", "value"}`.
//! `tools/bench/compare_metric.py` runs it next to PyTorch, one process per case.
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo run --release --example bench_metric -- nt_xent 1024 128
//! ```
//! Arguments: `LOSS N D [REPEATS]`, LOSS one of `triplet_margin`, `nt_xent`, `info_nce`,
//! `supcon`, `multi_similarity`, `circle`, `lifted_structure`, `npairs` (N rows per view /
//! batch; the labelled losses get labels `i % (N/16)`), and the class-centre
//! losses `arcface`, `cosface`, `subcenter_arcface` (3 sub-centres), `proxy_anchor`,
//! `proxy_nca` with `BENCH_CLASSES` classes (default 1000), labels `i % C`, gradients with
//! respect to the embeddings and the centres. REPEATS defaults to
//! clamp(0.6 s / t, 1, 15) after one warm-up call; 0 means one timed call and no warm-up
//! (the 65,536-row case). Memory: `VmRSS` after the inputs and gradient buffers exist
//! (`base_mib`) and the process's `VmHWM` at the end (`peak_mib`), from
//! `/proc/self/status` (Linux); `extra_mib` is their difference, what the loss itself used.

use std::time::Instant;

use losskit::{
    ArcFace, CentreInputs, Circle, CosFace, InfoNce, LabeledInputs, LiftedStructure,
    MultiSimilarity, NPairs, NtXent, ProxyAnchor, ProxyNca, Reduction, SubCenterArcFace, SupCon,
    Tensor, TripletInputs, TripletMargin, ViewInputs,
};

fn status_mib(key: &str) -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn data(len: usize, seed: u64) -> Vec<f32> {
    // Deterministic values in [−1, 1): an LCG, no dependency.
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((s >> 40) as f64 / (1u64 << 24) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

type Step<'a> = Box<dyn FnMut() -> Result<f32, losskit::Error> + 'a>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [loss, n, d, rest @ ..] = args.as_slice() else {
        return Err("usage: bench_metric LOSS N D [REPEATS]".into());
    };
    let (n, d): (usize, usize) = (n.parse()?, d.parse()?);
    let repeats: Option<usize> = rest.first().map(|r| r.parse()).transpose()?;
    let threads = std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));

    let a = data(n * d, 1);
    let b = data(n * d, 2);
    let c = data(n * d, 3);
    let labels: Vec<i64> = (0..n as i64).map(|i| i % (n as i64 / 16).max(2)).collect();
    let (mut g1, mut g2, mut g3) = (
        vec![0.0f32; n * d],
        vec![0.0f32; n * d],
        vec![0.0f32; n * d],
    );
    // Touch the gradient buffers' pages before the baseline (the API writes into them).
    for g in [&mut g1, &mut g2, &mut g3] {
        g.iter_mut().for_each(|v| *v = 1.0);
    }
    let (ta, tb, tc) = (
        Tensor::new(&a, &[n, d])?,
        Tensor::new(&b, &[n, d])?,
        Tensor::new(&c, &[n, d])?,
    );
    let classes: usize = std::env::var("BENCH_CLASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let rows = if loss == "subcenter_arcface" {
        3 * classes
    } else {
        classes
    };
    let w = data(rows * d, 4);
    let mut gw = vec![1.0f32; rows * d];
    let class_labels: Vec<i64> = (0..n as i64).map(|i| i % classes as i64).collect();
    let tw = Tensor::new(&w, &[rows, d])?;
    let mut step: Step<'_> = match loss.as_str() {
        "arcface" | "cosface" | "subcenter_arcface" => {
            let inputs = CentreInputs::new(ta, &class_labels[..], tw);
            let (arc, cos, sub) = (
                ArcFace::default(),
                CosFace::default(),
                SubCenterArcFace::default(),
            );
            let which = loss.clone();
            Box::new(move || match which.as_str() {
                "arcface" => arc.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut gw),
                "cosface" => cos.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut gw),
                _ => sub.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut gw),
            })
        }
        "proxy_anchor" | "proxy_nca" => {
            let inputs = CentreInputs::new(ta, &class_labels[..], tw);
            let (pa, nca) = (ProxyAnchor::default(), ProxyNca::default());
            let anchor = loss == "proxy_anchor";
            Box::new(move || {
                if anchor {
                    pa.value_and_grad(&inputs, &mut g1, &mut gw)
                } else {
                    nca.value_and_grad(&inputs, &mut g1, &mut gw)
                }
            })
        }
        "triplet_margin" => {
            let l = TripletMargin::default();
            let inputs = TripletInputs::new(ta, tb, tc);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2, &mut g3))
        }
        "nt_xent" => {
            let l = NtXent::default();
            let inputs = ViewInputs::new(ta, tb);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2))
        }
        "info_nce" => {
            let l = InfoNce::default();
            let inputs = ViewInputs::new(ta, tb);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2))
        }
        "supcon" => {
            let l = SupCon::default();
            let inputs = LabeledInputs::new(ta, &labels[..]);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1))
        }
        "multi_similarity" => {
            let l = MultiSimilarity::default();
            let inputs = LabeledInputs::new(ta, &labels[..]);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1))
        }
        "circle" => {
            let l = Circle::default();
            let inputs = LabeledInputs::new(ta, &labels[..]);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1))
        }
        "lifted_structure" => {
            let l = LiftedStructure::default();
            let inputs = LabeledInputs::new(ta, &labels[..]);
            Box::new(move || l.value_and_grad(&inputs, Reduction::Mean, &mut g1))
        }
        "npairs" => {
            let inputs = ViewInputs::new(ta, tb);
            Box::new(move || NPairs.value_and_grad(&inputs, Reduction::Mean, &mut g1, &mut g2))
        }
        other => return Err(format!("unknown loss `{other}`").into()),
    };
    let base = status_mib("VmRSS:");
    let mut value = 0.0f32;
    let mut times = Vec::new();
    let reps = match repeats {
        Some(0) => 1,
        Some(r) => {
            value = step()?;
            r
        }
        None => {
            let t0 = Instant::now();
            value = step()?;
            ((0.6 / t0.elapsed().as_secs_f64()) as usize).clamp(1, 15)
        }
    };
    for _ in 0..reps {
        let t = Instant::now();
        value = step()?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let peak = status_mib("VmHWM:");
    println!(
        "{{\"loss\": \"{loss}\", \"n\": {n}, \"d\": {d}, \"threads\": {threads}, \"median_ms\": {:.3}, \"min_ms\": {:.3}, \"repeats\": {reps}, \"base_mib\": {base:.1}, \"peak_mib\": {peak:.1}, \"extra_mib\": {:.1}, \"value\": {value}}}",
        times[times.len() / 2],
        times[0],
        peak - base
    );
    Ok(())
}
