//! Properties of the box losses: 0 at identical boxes, non-negativity, `sum == n·mean`,
//! invariance to translating both boxes, symmetry (IoU, GIoU, DIoU), scale invariance
//! (IoU, GIoU), the fused gradient against central differences in every format (f64), and
//! the same bits on 1 and 2 threads.

use losskit::{BoxFormat, BoxInputs, Ciou, Diou, Eiou, Giou, Iou, Reduction, Tensor};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 96,
        rng_seed: RngSeed::Fixed(0xb0_c5e5),
        failure_persistence: None,
        ..Config::default()
    }
}

const NAMES: [&str; 5] = ["iou", "giou", "diou", "ciou", "eiou"];

/// Runs loss `name` (eps = 0 unless given) on `p`, `t` of `n` rows: (mean, sum, gradient of
/// the sum, per-element).
fn run(
    name: &str,
    eps: f64,
    p: &[f64],
    t: &[f64],
    fmt: BoxFormat,
) -> (f64, f64, Vec<f64>, Vec<f64>) {
    let n = p.len() / 4;
    let i = BoxInputs::new(
        Tensor::new(p, &[n, 4]).unwrap(),
        Tensor::new(t, &[n, 4]).unwrap(),
    )
    .format(fmt);
    let mut g = vec![0.0; 4 * n];
    let mut per = vec![0.0; n];
    macro_rules! go {
        ($l:expr) => {{
            let l = $l;
            let mean = l.value(&i, Reduction::Mean).unwrap();
            let sum = l.value_and_grad(&i, Reduction::Sum, &mut g).unwrap();
            l.per_element(&i, &mut per).unwrap();
            (mean, sum)
        }};
    }
    let (mean, sum) = match name {
        "iou" => go!(Iou::new(eps).unwrap()),
        "giou" => go!(Giou::new(eps).unwrap()),
        "diou" => go!(Diou::new(eps).unwrap()),
        "ciou" => go!(Ciou::new(eps).unwrap()),
        _ => go!(Eiou::new(eps).unwrap()),
    };
    (mean, sum, g, per)
}

/// `n` box pairs in xyxy from a seed: targets anywhere, predictions near them (overlapping,
/// disjoint, nested) with sides from 0.2 to 6.
fn pairs(n: usize, seed: u64) -> (Vec<f64>, Vec<f64>) {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (x, y, w, h) = (
            next() * 20.0 - 10.0,
            next() * 20.0 - 10.0,
            0.2 + 6.0 * next(),
            0.2 + 6.0 * next(),
        );
        t.extend([x, y, x + w, y + h]);
        let (px, py) = (x + (next() - 0.5) * 8.0, y + (next() - 0.5) * 8.0);
        let (pw, ph) = (0.2 + 6.0 * next(), 0.2 + 6.0 * next());
        p.extend([px, py, px + pw, py + ph]);
    }
    (p, t)
}

fn to_format(b: &[f64], fmt: BoxFormat) -> Vec<f64> {
    b.chunks(4)
        .flat_map(|c| match fmt {
            BoxFormat::Xyxy => [c[0], c[1], c[2], c[3]],
            BoxFormat::Xywh => [c[0], c[1], c[2] - c[0], c[3] - c[1]],
            BoxFormat::Cxcywh => [
                (c[0] + c[2]) / 2.0,
                (c[1] + c[3]) / 2.0,
                c[2] - c[0],
                c[3] - c[1],
            ],
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()) + abs
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn zero_at_identical_boxes_and_non_negative(seed in any::<u64>(), n in 1usize..20) {
        let (p, t) = pairs(n, seed);
        for name in NAMES {
            let (mean, sum, _, per) = run(name, 1e-7, &p, &t, BoxFormat::Xyxy);
            prop_assert!(per.iter().all(|&v| v >= 0.0), "{name}: {per:?}");
            prop_assert!(close(sum, n as f64 * mean, 1e-14, 0.0), "{name}");
            let (same, _, g, _) = run(name, 1e-7, &t, &t, BoxFormat::Xyxy);
            prop_assert!(same.abs() < 1e-6, "{name}: {same}");
            prop_assert!(g.iter().all(|v| v.is_finite()), "{name}");
        }
    }

    #[test]
    fn translating_both_boxes_changes_nothing(seed in any::<u64>(), dx in -50i32..50, dy in -50i32..50) {
        let (p, t) = pairs(8, seed);
        let shift = |b: &[f64]| -> Vec<f64> {
            b.iter().enumerate().map(|(i, &v)| v + if i % 2 == 0 { f64::from(dx) * 0.25 } else { f64::from(dy) * 0.25 }).collect()
        };
        for name in NAMES {
            let (_, _, g0, l0) = run(name, 1e-7, &p, &t, BoxFormat::Xyxy);
            let (_, _, g1, l1) = run(name, 1e-7, &shift(&p), &shift(&t), BoxFormat::Xyxy);
            for (a, b) in l0.iter().zip(&l1) {
                prop_assert!(close(*a, *b, 1e-12, 1e-12), "{name}: {a} vs {b}");
            }
            for (a, b) in g0.iter().zip(&g1) {
                prop_assert!(close(*a, *b, 1e-9, 1e-10), "{name} grad: {a} vs {b}");
            }
        }
    }

    #[test]
    fn iou_giou_diou_are_symmetric(seed in any::<u64>()) {
        let (p, t) = pairs(8, seed);
        for name in ["iou", "giou", "diou"] {
            let (_, _, _, a) = run(name, 1e-7, &p, &t, BoxFormat::Xyxy);
            let (_, _, _, b) = run(name, 1e-7, &t, &p, BoxFormat::Xyxy);
            for (x, y) in a.iter().zip(&b) {
                prop_assert!(close(*x, *y, 1e-14, 1e-15), "{name}: {x} vs {y}");
            }
        }
    }

    #[test]
    fn iou_and_giou_are_scale_invariant(seed in any::<u64>(), k in 1u32..8) {
        // A power of two scales exactly; eps = 0 so nothing but the geometry enters.
        let s = f64::from(1u32 << k);
        let (p, t) = pairs(8, seed);
        let scale = |b: &[f64]| -> Vec<f64> { b.iter().map(|v| v * s).collect() };
        for name in ["iou", "giou"] {
            let (_, _, g0, a) = run(name, 0.0, &p, &t, BoxFormat::Xyxy);
            let (_, _, g1, b) = run(name, 0.0, &scale(&p), &scale(&t), BoxFormat::Xyxy);
            prop_assert_eq!(&a, &b, "{}", name);
            for (x, y) in g0.iter().zip(&g1) {
                prop_assert!(close(*x, y * s, 1e-14, 0.0), "{name} grad: {x} vs {}", y * s);
            }
        }
    }

    #[test]
    fn gradients_match_central_differences_in_every_format(seed in any::<u64>()) {
        let (p, t) = pairs(6, seed);
        for fmt in BoxFormat::ALL {
            let (pf, tf) = (to_format(&p, fmt), to_format(&t, fmt));
            for name in NAMES {
                let (_, _, g, _) = run(name, 1e-7, &pf, &tf, fmt);
                for j in 0..pf.len() {
                    let h = 1e-6;
                    let (mut a, mut b) = (pf.clone(), pf.clone());
                    a[j] += h;
                    b[j] -= h;
                    let fa = run(name, 1e-7, &a, &tf, fmt).1;
                    let fb = run(name, 1e-7, &b, &tf, fmt).1;
                    let fd = (fa - fb) / (2.0 * h);
                    // CIoU's α is a constant of the gradient (torchvision), not of the value:
                    // its finite difference also moves α, so compare with α's share added.
                    if name == "ciou" {
                        continue;
                    }
                    // Kinks (touching edges, equal coordinates) are where max/min switch:
                    // skip the rare case where a step crosses one.
                    let (_, _, ga, _) = run(name, 1e-7, &a, &tf, fmt);
                    let (_, _, gb, _) = run(name, 1e-7, &b, &tf, fmt);
                    if (ga[j] - gb[j]).abs() > 1e-3 {
                        continue;
                    }
                    prop_assert!(close(g[j], fd, 1e-5, 1e-7), "{name} {fmt:?} [{j}]: {} vs {fd}", g[j]);
                }
            }
        }
    }
}

#[test]
fn ciou_gradient_is_diou_plus_alpha_times_dv() {
    // With α held constant, ∂ciou = ∂diou + α·∂v: check that against central differences of
    // v itself, which are free of the α question.
    let (p, t) = pairs(5, 11);
    let (_, _, gc, _) = run("ciou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let (_, _, gd, _) = run("diou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let (_, _, _, ci) = run("ciou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let (_, _, _, di) = run("diou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let k = 4.0 / (std::f64::consts::PI * std::f64::consts::PI);
    let v = |b: &[f64], r: usize| {
        let (w, h) = (b[4 * r + 2] - b[4 * r], b[4 * r + 3] - b[4 * r + 1]);
        let (wg, hg) = (t[4 * r + 2] - t[4 * r], t[4 * r + 3] - t[4 * r + 1]);
        k * ((wg / hg).atan() - (w / h).atan()).powi(2)
    };
    for r in 0..5 {
        // α·v = ciou − diou, so α = (ciou − diou)/v.
        let alpha = (ci[r] - di[r]) / v(&p, r);
        for c in 0..4 {
            let j = 4 * r + c;
            let h = 1e-6;
            let (mut a, mut b) = (p.clone(), p.clone());
            a[j] += h;
            b[j] -= h;
            let dv = (v(&a, r) - v(&b, r)) / (2.0 * h);
            let want = gd[j] + alpha * dv;
            assert!(
                close(gc[j], want, 1e-6, 1e-9),
                "row {r} [{c}]: {} vs {want}",
                gc[j]
            );
        }
    }
}

#[test]
fn degenerate_boxes_give_finite_values_and_gradients() {
    // Zero width, zero height, points, against normal and degenerate targets, eps 0 and 1e-7.
    let p = [
        1.0, 1.0, 1.0, 3.0, 0.0, 2.0, 4.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0,
    ];
    let t = [
        0.0, 0.0, 2.0, 2.0, 1.0, 1.0, 3.0, 3.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0,
    ];
    for eps in [0.0, 1e-7] {
        for name in NAMES {
            let (mean, _, g, per) = run(name, eps, &p, &t, BoxFormat::Xyxy);
            assert!(
                mean.is_finite() && per.iter().all(|v| v.is_finite()),
                "{name} {eps}: {per:?}"
            );
            assert!(g.iter().all(|v| v.is_finite()), "{name} {eps}: {g:?}");
            // A point on the same point: IoU is 0/(0 + eps), taken as 0 (torchvision's
            // semantics), and every other term vanishes: loss 1.
            assert_eq!(per[3], 1.0, "{name}");
        }
    }
    // CIoU at a zero-height prediction: the one-sided difference in the height direction
    // (growing y2) agrees with the gradient (α constant: compare with DIoU's part removed).
    let (p, t) = ([0.0, 1.0, 2.0, 1.0], [0.0, 0.0, 2.0, 2.0]);
    let (_, _, gc, ci) = run("ciou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let (_, _, gd, di) = run("diou", 1e-7, &p, &t, BoxFormat::Xyxy);
    let k = 4.0 / (std::f64::consts::PI * std::f64::consts::PI);
    let v = |h: f64| k * (1.0f64.atan() - (2.0 / h).atan()).powi(2);
    let alpha = (ci[0] - di[0]) / v(0.0);
    let h = 1e-7;
    let dv = (v(h) - v(0.0)) / h;
    assert!(
        close(gc[3] - gd[3], alpha * dv, 1e-4, 1e-9),
        "{} vs {}",
        gc[3] - gd[3],
        alpha * dv
    );
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    // Large enough to be split over threads (≥ 2^15 boxes), odd so the last block is short.
    let (p, t) = pairs(40_001, 5);
    let pool = |k| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(k)
            .build()
            .unwrap()
    };
    for name in NAMES {
        for fmt in [BoxFormat::Xyxy, BoxFormat::Cxcywh] {
            let (pf, tf) = (to_format(&p, fmt), to_format(&t, fmt));
            let a = pool(1).install(|| run(name, 1e-7, &pf, &tf, fmt));
            let b = pool(2).install(|| run(name, 1e-7, &pf, &tf, fmt));
            assert_eq!(a.0.to_bits(), b.0.to_bits(), "{name}");
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "{name}");
            assert!(
                a.2.iter()
                    .zip(&b.2)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{name}"
            );
            assert!(
                a.3.iter()
                    .zip(&b.3)
                    .all(|(x, y)| x.to_bits() == y.to_bits()),
                "{name}"
            );
        }
    }
}

#[test]
fn boxes_apart_are_pulled_together_except_by_iou() {
    // Unit squares side by side, 2 apart: IoU's gradient is 0; every other loss moves the
    // prediction's right edge and its centre towards the target.
    let (p, t) = ([0.0, 0.0, 1.0, 1.0], [3.0, 0.0, 4.0, 1.0]);
    let (_, _, g, _) = run("iou", 1e-7, &p, &t, BoxFormat::Xyxy);
    assert!(g.iter().all(|&v| v == 0.0), "{g:?}");
    for name in ["giou", "diou", "ciou", "eiou"] {
        let (_, _, g, _) = run(name, 1e-7, &p, &t, BoxFormat::Xyxy);
        assert!(g[2] < 0.0, "{name}: {g:?}");
        let (_, _, gc, _) = run(
            name,
            1e-7,
            &to_format(&p, BoxFormat::Cxcywh),
            &to_format(&t, BoxFormat::Cxcywh),
            BoxFormat::Cxcywh,
        );
        assert!(gc[0] < 0.0, "{name}: the centre moves right: {gc:?}");
    }
}

/// Hostile input (issue 21, item 4): finite but huge coordinates (×1e30 in f32, ×1e200 in
/// f64) give the loss of the same boxes at ordinary magnitudes (every box loss is invariant to
/// scaling both boxes), and the gradient scaled by 1/s — not NaN, not 1 − 0.
#[test]
fn huge_coordinates_give_the_scale_free_answer() {
    let (p, t) = pairs(24, 5);
    let mut rows_seen = 0;
    for name in NAMES {
        let (_, _, g, per) = run(name, 0.0, &p, &t, BoxFormat::Xyxy);
        for s in [1e200, 3e150, 2f64.powi(700)] {
            let ps: Vec<f64> = p.iter().map(|v| v * s).collect();
            let ts: Vec<f64> = t.iter().map(|v| v * s).collect();
            let (_, _, gs, pers) = run(name, 0.0, &ps, &ts, BoxFormat::Xyxy);
            for (a, b) in per.iter().zip(&pers) {
                assert!(close(*a, *b, 1e-12, 1e-14), "{name} ×{s:e}: {a} vs {b}");
                rows_seen += 1;
            }
            for (a, b) in g.iter().zip(&gs) {
                assert!(
                    close(*a, b * s, 1e-10, 1e-12),
                    "{name} ×{s:e} grad: {a} vs {}",
                    b * s
                );
            }
        }
        // f32 at ×1e30 against f32 at ordinary magnitudes.
        let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
        let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
        let n = p.len() / 4;
        let per32 = |p: &[f32], t: &[f32]| -> Vec<f32> {
            let i = BoxInputs::new(
                Tensor::new(p, &[n, 4]).unwrap(),
                Tensor::new(t, &[n, 4]).unwrap(),
            );
            let mut out = vec![0.0f32; n];
            match name {
                "iou" => Iou::new(0.0).unwrap().per_element(&i, &mut out),
                "giou" => Giou::new(0.0).unwrap().per_element(&i, &mut out),
                "diou" => Diou::new(0.0).unwrap().per_element(&i, &mut out),
                "ciou" => Ciou::new(0.0).unwrap().per_element(&i, &mut out),
                _ => Eiou::new(0.0).unwrap().per_element(&i, &mut out),
            }
            .unwrap();
            out
        };
        let base = per32(&p32, &t32);
        let big = per32(
            &p32.iter().map(|v| v * 1e30).collect::<Vec<_>>(),
            &t32.iter().map(|v| v * 1e30).collect::<Vec<_>>(),
        );
        for (a, b) in base.iter().zip(&big) {
            assert!(
                b.is_finite() && (a - b).abs() <= 1e-4 * a.abs().max(1e-2),
                "{name} f32 ×1e30: {a} vs {b}"
            );
        }
    }
    assert!(rows_seen > 0);
}
