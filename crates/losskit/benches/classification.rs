//! Multiclass losses: `cross_entropy` fused forward and backward (`value_and_grad`, f32
//! logits, int64 class indices, mean), with and without label smoothing, at the three shapes
//! of the performance notes: (N, C) = (65536, 10), (8192, 1000), (512, 128000); and `value`
//! alone for comparison. Throughput is in logits.
//!
//! `cargo bench -p losskit --bench classification`. The same shapes against PyTorch, in one
//! run: `python tools/bench/compare_cross_entropy.py`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use losskit::{ClassInputs, CrossEntropy, Reduction, Tensor};

/// Logits in [−8, 8) and targets, deterministic.
fn data(n: usize, c: usize) -> (Vec<f32>, Vec<i64>) {
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 40) as f64 / (1u64 << 24) as f64
    };
    let x = (0..n * c).map(|_| (next() * 16.0 - 8.0) as f32).collect();
    let y = (0..n)
        .map(|_| ((next() * c as f64) as i64).min(c as i64 - 1))
        .collect();
    (x, y)
}

fn bench(cr: &mut Criterion) {
    let mut group = cr.benchmark_group("classification/cross_entropy");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(10);
    for (n, c) in [(65_536usize, 10usize), (8_192, 1_000), (512, 128_000)] {
        let (x, y) = data(n, c);
        let mut g = vec![0.0f32; n * c];
        let inputs = match Tensor::new(&x, &[n, c]) {
            Ok(t) => ClassInputs::new(t, &y),
            Err(e) => panic!("{e}"),
        };
        group.throughput(Throughput::Elements((n * c) as u64));
        let shape = format!("{n}x{c}");
        for eps in [0.0, 0.1] {
            let ce = CrossEntropy::default()
                .label_smoothing(eps)
                .unwrap_or_default();
            let id = |what: &str| BenchmarkId::new(format!("{what}/ls={eps}"), &shape);
            group.bench_function(id("value_and_grad"), |b| {
                b.iter(|| {
                    black_box(
                        ce.value_and_grad(black_box(&inputs), Reduction::Mean, &mut g)
                            .ok(),
                    )
                })
            });
        }
        let ce = CrossEntropy::default();
        group.bench_function(BenchmarkId::new("value/ls=0", &shape), |b| {
            b.iter(|| black_box(ce.value(black_box(&inputs), Reduction::Mean).ok()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
