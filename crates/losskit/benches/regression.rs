//! Regression losses: the fused `value_and_grad` against `value` followed by a separate
//! gradient pass (what an autograd framework does), and against `value` alone, for `mse`
//! and `huber` from 1e3 to 1e7 f32 elements.
//!
//! `cargo bench -p losskit --bench regression`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use losskit::{Huber, Mse, Pointwise, Reduction};

fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
    let x = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0)
        .collect();
    let t = (0..n)
        .map(|i| ((i * 104_729) % 997) as f32 / 300.0 - 1.5)
        .collect();
    (x, t)
}

/// The gradient of mean MSE in its own pass, as a second kernel would compute it.
fn mse_grad_pass(x: &[f32], t: &[f32], g: &mut [f32]) {
    let s = 2.0 / x.len() as f32;
    for ((g, &a), &b) in g.iter_mut().zip(x).zip(t) {
        *g = s * (a - b);
    }
}

/// The gradient of mean Huber(δ = 1) in its own pass.
fn huber_grad_pass(x: &[f32], t: &[f32], g: &mut [f32]) {
    let s = 1.0 / x.len() as f32;
    for ((g, &a), &b) in g.iter_mut().zip(x).zip(t) {
        *g = s * (a - b).clamp(-1.0, 1.0);
    }
}

fn bench(c: &mut Criterion) {
    for (name, loss) in [("mse", 0), ("huber", 1)] {
        let mut group = c.benchmark_group(format!("regression/{name}"));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        group.sample_size(20);
        for n in [1_000usize, 10_000, 100_000, 1_000_000, 10_000_000] {
            let (x, t) = data(n);
            let mut g = vec![0.0f32; n];
            let inputs = Pointwise::new(&x, &t);
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("fused_value_and_grad", n), &n, |b, _| {
                b.iter(|| {
                    let v = if loss == 0 {
                        Mse.value_and_grad(black_box(&inputs), Reduction::Mean, &mut g)
                    } else {
                        Huber::default().value_and_grad(black_box(&inputs), Reduction::Mean, &mut g)
                    };
                    black_box(v.ok())
                })
            });
            group.bench_with_input(BenchmarkId::new("value_then_grad_pass", n), &n, |b, _| {
                b.iter(|| {
                    let v = if loss == 0 {
                        let v = Mse.value(black_box(&inputs), Reduction::Mean);
                        mse_grad_pass(&x, &t, &mut g);
                        v
                    } else {
                        let v = Huber::default().value(black_box(&inputs), Reduction::Mean);
                        huber_grad_pass(&x, &t, &mut g);
                        v
                    };
                    black_box((v.ok(), g[0]))
                })
            });
            group.bench_with_input(BenchmarkId::new("value_only", n), &n, |b, _| {
                b.iter(|| {
                    let v = if loss == 0 {
                        Mse.value(black_box(&inputs), Reduction::Mean)
                    } else {
                        Huber::default().value(black_box(&inputs), Reduction::Mean)
                    };
                    black_box(v.ok())
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
