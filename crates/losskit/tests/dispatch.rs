//! Every catalogue loss gives the same bits at every SIMD level this CPU has and at 1 and 2
//! threads, in f32 and f64, value alone and fused with its gradients, on inputs large enough to
//! be split over threads.
//!
//! The reference and property tests run at the widest level by default; CI runs them again
//! with `LOSSKIT_SIMD=baseline` and `LOSSKIT_SIMD=avx2`.

use losskit::numerics::{set_max_simd_level, SimdLevel};
use losskit::sample::Rng;
use losskit::{Dtype, Evaluation, Family, FloatArray, Params};

fn bits(e: &Evaluation) -> Vec<u64> {
    let mut v = vec![e.value.map_or(0, f64::to_bits)];
    for (_, g) in &e.grads {
        match g {
            FloatArray::F32(g) => v.extend(g.iter().map(|x| u64::from(x.to_bits()))),
            FloatArray::F64(g) => v.extend(g.iter().map(|x| x.to_bits())),
            // Half-precision gradients come only from half-precision inputs, which this test
            // does not generate; compare them through f64 all the same.
            other => v.extend(other.to_f64().iter().map(|x| x.to_bits())),
        }
    }
    v
}

#[test]
fn every_loss_is_bit_identical_across_simd_levels_and_threads() {
    let levels: Vec<SimdLevel> = [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|&l| l <= SimdLevel::detected())
        .collect();
    let pools: Vec<rayon::ThreadPool> = [1, 2]
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
        })
        .collect();
    for info in losskit::catalogue() {
        // Element-wise families: 2^17 + 5 prediction elements, past the parallel threshold,
        // with a ragged tail. The others (pairwise, per-image) stay small: their kernels are
        // not the vectorised ones, and a debug build would take minutes.
        let size = match info.family {
            Family::Regression | Family::Classification => (1 << 17) + 5,
            _ => 2048,
        };
        let sample = (info.sample)(size, &mut Rng::new(7));
        let params = Params::defaults(info);
        for dtype in [Dtype::F32, Dtype::F64] {
            let arrays = sample.arrays(dtype);
            let named = arrays.named();
            for grads in [Vec::new(), info.predictions()] {
                let mut first: Option<(Vec<u64>, String)> = None;
                for &level in &levels {
                    for pool in &pools {
                        set_max_simd_level(level);
                        let e = pool
                            .install(|| {
                                losskit::evaluate_with(
                                    info,
                                    &named,
                                    &params,
                                    info.reductions[0],
                                    &grads,
                                )
                            })
                            .unwrap();
                        let what = format!(
                            "{} {} grads {grads:?} at {} with {} threads",
                            info.name,
                            dtype.name(),
                            level.name(),
                            pool.current_num_threads()
                        );
                        match &first {
                            None => first = Some((bits(&e), what)),
                            Some((b, w)) => assert!(*b == bits(&e), "{what} differs from {w}"),
                        }
                    }
                }
            }
        }
    }
    set_max_simd_level(SimdLevel::Avx512);
}

/// The same for the second derivatives: every loss with a Hessian, under every curvature
/// policy, gives the same bits (value, gradient, Hessian) at every SIMD level and at 1 and 2
/// threads, in f32 and f64.
#[test]
fn every_hessian_is_bit_identical_across_simd_levels_and_threads() {
    use losskit::{evaluate_hess, Curvature, NamedArray, ReductionMode};

    fn run<T: losskit::Real>(
        info: &'static losskit::LossInfo,
        named: &[NamedArray<'_>],
        params: &Params,
        c: Curvature,
        bits: impl Fn(T) -> u64,
    ) -> Vec<u64> {
        let n = named
            .iter()
            .find(|a| a.name == "input")
            .map_or(0, |a| a.data.len());
        let (mut g, mut h) = (vec![T::ZERO; n], vec![T::ZERO; n]);
        let e = evaluate_hess(info, named, params, ReductionMode::Mean, c, &mut g, &mut h).unwrap();
        let mut v = vec![e.value.map_or(0, f64::to_bits)];
        v.extend(g.iter().chain(&h).map(|&x| bits(x)));
        v
    }

    let levels: Vec<SimdLevel> = [SimdLevel::Baseline, SimdLevel::Avx2, SimdLevel::Avx512]
        .into_iter()
        .filter(|&l| l <= SimdLevel::detected())
        .collect();
    let pools: Vec<rayon::ThreadPool> = [1, 2]
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t)
                .build()
                .unwrap()
        })
        .collect();
    for info in losskit::catalogue().filter(|i| i.hessian.is_some()) {
        let sample = (info.sample)((1 << 17) + 5, &mut Rng::new(11));
        let params = Params::defaults(info);
        for dtype in [Dtype::F32, Dtype::F64] {
            let arrays = sample.arrays(dtype);
            let named = arrays.named();
            for c in Curvature::ALL {
                let mut first: Option<(Vec<u64>, String)> = None;
                for &level in &levels {
                    for pool in &pools {
                        set_max_simd_level(level);
                        let b = pool.install(|| match dtype {
                            Dtype::F32 => {
                                run::<f32>(info, &named, &params, c, |x| u64::from(x.to_bits()))
                            }
                            Dtype::F64 => run::<f64>(info, &named, &params, c, f64::to_bits),
                        });
                        let what = format!(
                            "{} {} {c} at {} with {} threads",
                            info.name,
                            dtype.name(),
                            level.name(),
                            pool.current_num_threads()
                        );
                        match &first {
                            None => first = Some((b, what)),
                            Some((b0, w)) => assert!(*b0 == b, "{what} differs from {w}"),
                        }
                    }
                }
            }
        }
    }
    set_max_simd_level(SimdLevel::Avx512);
}
