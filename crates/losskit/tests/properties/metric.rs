//! Properties of the metric-learning losses, through `losskit::evaluate` (the CLI's path):
//! invariance to a permutation of the batch, to the scale of the embeddings (the contrastive
//! losses normalise them) and the uniform limit of a large temperature, the minimum at
//! identical orthonormal views, gradients against central differences (f64), and
//! bit-identical results at 1 and 2 threads across several blocks.

use losskit::{evaluate, ArrayData, Evaluation, FloatArray, NamedArray, ReductionMode};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

/// One input: name, dims, floats or labels.
#[derive(Clone, Debug)]
enum Data {
    F(Vec<f64>),
    I(Vec<i64>),
}

type Inputs = Vec<(&'static str, Vec<usize>, Data)>;

fn run(loss: &str, inputs: &Inputs, params: &[(&str, &str)], r: ReductionMode) -> Evaluation {
    let arrays: Vec<NamedArray<'_>> = inputs
        .iter()
        .map(|(name, dims, d)| NamedArray {
            name,
            dims,
            data: match d {
                Data::F(v) => ArrayData::F64(v),
                Data::I(v) => ArrayData::I64(v),
            },
        })
        .collect();
    let grads: Vec<&str> = inputs
        .iter()
        .filter(|(_, _, d)| matches!(d, Data::F(_)))
        .map(|(n, _, _)| *n)
        .filter(|n| !matches!(*n, "target"))
        .collect();
    evaluate(loss, &arrays, params, r, &grads).unwrap_or_else(|e| panic!("{loss}: {e}"))
}

fn f64s(a: &FloatArray) -> &[f64] {
    match a {
        FloatArray::F64(v) => v,
        other => panic!(
            "f64 expected, got {} elements of another dtype",
            other.len()
        ),
    }
}

/// The inputs of `loss` for `n` rows of dimension `d` from `x` (standard normals, at least
/// 3·n·d of them) and `labels` (`n` small integers).
fn inputs_of(loss: &str, n: usize, d: usize, x: &[f64], labels: &[i64]) -> Inputs {
    let nd = n * d;
    let m = |k: usize| Data::F(x[k * nd..(k + 1) * nd].to_vec());
    let target = |f: fn(i64) -> f64| Data::F(labels.iter().map(|&l| f(l)).collect());
    match loss {
        "contrastive" => vec![
            ("x1", vec![n, d], m(0)),
            ("x2", vec![n, d], m(1)),
            ("target", vec![n], target(|l| (l % 2) as f64)),
        ],
        "cosine_embedding" => vec![
            ("x1", vec![n, d], m(0)),
            ("x2", vec![n, d], m(1)),
            (
                "target",
                vec![n],
                target(|l| if l % 2 == 0 { 1.0 } else { -1.0 }),
            ),
        ],
        "triplet_margin" => vec![
            ("anchor", vec![n, d], m(0)),
            ("positive", vec![n, d], m(1)),
            ("negative", vec![n, d], m(2)),
        ],
        "nt_xent" => vec![("z1", vec![n, d], m(0)), ("z2", vec![n, d], m(1))],
        "info_nce" => vec![("query", vec![n, d], m(0)), ("key", vec![n, d], m(1))],
        _ => vec![
            ("embeddings", vec![n, d], m(0)),
            ("labels", vec![n], Data::I(labels.to_vec())),
        ],
    }
}

const LOSSES: [(&str, &[(&str, &str)]); 9] = [
    ("contrastive", &[("margin", "2.5")]),
    ("cosine_embedding", &[("margin", "0.1")]),
    ("triplet_margin", &[]),
    ("triplet_margin", &[("p", "1.5"), ("swap", "true")]),
    ("nt_xent", &[("temperature", "0.3")]),
    ("info_nce", &[("temperature", "0.2"), ("symmetric", "true")]),
    ("batch_hard_triplet", &[("margin", "1.0")]),
    ("batch_hard_triplet", &[("soft", "true")]),
    ("supcon", &[("temperature", "0.2")]),
];

fn config() -> Config {
    Config {
        cases: 24,
        rng_seed: RngSeed::Fixed(0x3e7_41c),
        ..Config::default()
    }
}

/// `(n, d, x, labels)`: 4–9 rows of dimension 2–5, labels in 0..3 with every class twice.
fn batches() -> impl Strategy<Value = (usize, usize, Vec<f64>, Vec<i64>)> {
    (4usize..10, 2usize..6).prop_flat_map(|(n, d)| {
        (
            Just(n),
            Just(d),
            prop::collection::vec(-2.0f64..2.0, 3 * n * d),
            Just((0..n as i64).map(|i| i % 3).collect::<Vec<i64>>()),
        )
    })
}

fn permute(inputs: &Inputs, perm: &[usize]) -> Inputs {
    inputs
        .iter()
        .map(|(name, dims, d)| {
            let k = dims.get(1).copied().unwrap_or(1);
            let d = match d {
                Data::F(v) => Data::F(
                    perm.iter()
                        .flat_map(|&p| v[p * k..(p + 1) * k].to_vec())
                        .collect(),
                ),
                Data::I(v) => Data::I(perm.iter().map(|&p| v[p]).collect()),
            };
            (*name, dims.clone(), d)
        })
        .collect()
}

fn close(a: f64, b: f64, rel: f64, scale: f64) -> bool {
    (a - b).abs() <= rel * (a.abs().max(b.abs()) + scale)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn permuting_the_batch_permutes_the_losses_and_gradients(
        (n, d, x, labels) in batches(),
        seed in any::<u64>(),
    ) {
        // A permutation from the seed (Fisher–Yates with a SplitMix step).
        let mut perm: Vec<usize> = (0..n).collect();
        let mut s = seed;
        for i in (1..n).rev() {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let j = ((s >> 33) % (i as u64 + 1)) as usize;
            perm.swap(i, j);
        }
        for (loss, params) in LOSSES {
            let inputs = inputs_of(loss, n, d, &x, &labels);
            let a = run(loss, &inputs, params, ReductionMode::Mean);
            let b = run(loss, &permute(&inputs, &perm), params, ReductionMode::Mean);
            let (va, vb) = (a.value.unwrap(), b.value.unwrap());
            prop_assert!(close(va, vb, 1e-12, 1e-12), "{loss}: {va} vs {vb}");
            for ((name, ga), (_, gb)) in a.grads.iter().zip(&b.grads) {
                let (ga, gb) = (f64s(ga), f64s(gb));
                for (k, &p) in perm.iter().enumerate() {
                    for c in 0..d {
                        let (u, v) = (ga[p * d + c], gb[k * d + c]);
                        prop_assert!(close(u, v, 1e-10, 1e-10), "{loss} {name}[{p}, {c}]: {u} vs {v}");
                    }
                }
            }
        }
    }

    #[test]
    fn gradients_match_central_differences((n, d, x, labels) in batches()) {
        for (loss, params) in LOSSES {
            let inputs = inputs_of(loss, n, d, &x, &labels);
            let base = run(loss, &inputs, params, ReductionMode::Mean);
            let scale = base
                .grads
                .iter()
                .flat_map(|(_, g)| f64s(g).iter().map(|v| v.abs()))
                .fold(1e-3, f64::max);
            for (gi, (name, g)) in base.grads.iter().enumerate() {
                let idx = inputs.iter().position(|(n2, _, _)| n2 == name).unwrap();
                for k in 0..n * d {
                    let h = 1e-6;
                    let at = |delta: f64| {
                        let mut p = inputs.clone();
                        if let Data::F(v) = &mut p[idx].2 {
                            v[k] += delta;
                        }
                        run(loss, &p, params, ReductionMode::Mean).value.unwrap()
                    };
                    let fd = (at(h) - at(-h)) / (2.0 * h);
                    let an = f64s(g)[k];
                    // A kink (hinge at 0, a change of the mined pair) within h of the point:
                    // rare, and then the difference is of the order of the jump.
                    prop_assert!(
                        (fd - an).abs() <= 1e-5 * scale,
                        "{loss} grad {gi} `{name}`[{k}]: analytic {an}, central {fd}"
                    );
                }
            }
        }
    }

    #[test]
    fn contrastive_losses_ignore_the_embeddings_scale_and_tend_to_uniform(
        (n, d, x, labels) in batches(),
        c in 0.01f64..100.0,
    ) {
        let cases = [
            ("nt_xent", ((2 * n - 1) as f64).ln()),
            ("info_nce", (n as f64).ln()),
            ("supcon", ((n - 1) as f64).ln()),
        ];
        for (loss, uniform) in cases {
            let params = [("temperature", "1e6")];
            let inputs = inputs_of(loss, n, d, &x, &labels);
            let scaled: Inputs = inputs
                .iter()
                .map(|(nm, dims, dat)| match dat {
                    Data::F(v) => (*nm, dims.clone(), Data::F(v.iter().map(|e| e * c).collect())),
                    other => (*nm, dims.clone(), other.clone()),
                })
                .collect();
            let p = [("temperature", "0.1")];
            let a = run(loss, &inputs, &p, ReductionMode::Mean).value.unwrap();
            let b = run(loss, &scaled, &p, ReductionMode::Mean).value.unwrap();
            prop_assert!(close(a, b, 1e-12, 1e-12), "{loss}: {a} vs {b} at scale {c}");
            // A huge temperature flattens every softmax: ln(number of candidates).
            let u = run(loss, &inputs, &params, ReductionMode::Mean).value.unwrap();
            prop_assert!((u - uniform).abs() < 1e-5, "{loss}: {u} vs {uniform}");
        }
    }
}

/// Identical views made of orthonormal rows: the positive at similarity 1, every negative at
/// 0, the closed-form value, and the infimum as τ → 0. Identical pairs are the minimum 0 of
/// `contrastive` (similar) and `cosine_embedding` (y = 1), with zero gradient.
#[test]
fn identical_views_give_the_minimum() {
    let (n, d) = (4usize, 6usize);
    let mut rows = vec![0.0; n * d];
    for i in 0..n {
        rows[i * d + i] = 1.0 + i as f64; // orthogonal, any length
    }
    let views = |a: &str, b: &str| -> Inputs {
        vec![
            (
                if a == "z1" { "z1" } else { "query" },
                vec![n, d],
                Data::F(rows.clone()),
            ),
            (
                if b == "z2" { "z2" } else { "key" },
                vec![n, d],
                Data::F(rows.clone()),
            ),
        ]
    };
    let mut previous = [f64::INFINITY; 2];
    for tau in [1.0f64, 0.3, 0.1, 0.03] {
        let t = tau.to_string();
        let p = [("temperature", t.as_str())];
        let e = 1.0 / tau;
        let nt = run("nt_xent", &views("z1", "z2"), &p, ReductionMode::Mean)
            .value
            .unwrap();
        let want = (e.exp() + (2 * n - 2) as f64).ln() - e;
        assert!((nt - want).abs() < 1e-12, "{nt} vs {want}");
        let inf = run("info_nce", &views("query", "key"), &p, ReductionMode::Mean)
            .value
            .unwrap();
        let want = (e.exp() + (n - 1) as f64).ln() - e;
        assert!((inf - want).abs() < 1e-12, "{inf} vs {want}");
        assert!(nt < previous[0] && inf < previous[1]);
        previous = [nt, inf];
    }
    assert!(previous[0] < 1e-13 && previous[1] < 1e-13);
    // cosine_embedding: PyTorch's ε in the denominator leaves 1 − cos ≈ 1e-12/‖x‖².
    for (loss, t, tol) in [
        ("contrastive", 1.0, 1e-15),
        ("cosine_embedding", 1.0, 1e-11),
    ] {
        let inputs: Inputs = vec![
            ("x1", vec![n, d], Data::F(rows.clone())),
            ("x2", vec![n, d], Data::F(rows.clone())),
            ("target", vec![n], Data::F(vec![t; n])),
        ];
        let e = run(loss, &inputs, &[], ReductionMode::Mean);
        assert!(e.value.unwrap().abs() < tol, "{loss}");
        for (_, g) in &e.grads {
            assert!(f64s(g).iter().all(|v| v.abs() < tol), "{loss}");
        }
    }
}

/// Large enough for several row blocks and chunks, so the parallel paths run.
#[test]
fn results_are_bit_identical_at_1_and_2_threads() {
    let mut s = 0x1234_5678u64;
    let mut next = || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let big: Vec<f64> = (0..3 * 10_000 * 16).map(|_| next()).collect();
    let labels: Vec<i64> = (0..10_000).map(|i| i % 37).collect();
    for (loss, n) in [
        ("nt_xent", 600),
        ("info_nce", 600),
        ("supcon", 600),
        ("batch_hard_triplet", 300),
        ("triplet_margin", 10_000),
        ("contrastive", 10_000),
        ("cosine_embedding", 10_000),
    ] {
        let inputs = inputs_of(loss, n, 16, &big, &labels[..n]);
        let results: Vec<Evaluation> = [1, 2]
            .iter()
            .map(|&t| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .unwrap()
                    .install(|| run(loss, &inputs, &[], ReductionMode::Mean))
            })
            .collect();
        assert_eq!(
            results[0].value.unwrap().to_bits(),
            results[1].value.unwrap().to_bits(),
            "{loss}"
        );
        assert_eq!(results[0].grads, results[1].grads, "{loss}");
    }
}

/// Hostile input (issue 21, item 1): zero-width embeddings (`D = 0`) are an error naming the
/// shape for every loss that normalises them, never a panic or a silent 0.
#[test]
fn zero_width_embeddings_are_an_error() {
    for loss in ["nt_xent", "info_nce", "supcon"] {
        let inputs = inputs_of(loss, 3, 0, &[], &[0, 0, 1]);
        let arrays: Vec<NamedArray<'_>> = inputs
            .iter()
            .map(|(name, dims, d)| NamedArray {
                name,
                dims,
                data: match d {
                    Data::F(v) => ArrayData::F64(v),
                    Data::I(v) => ArrayData::I64(v),
                },
            })
            .collect();
        for r in [ReductionMode::Mean, ReductionMode::Sum, ReductionMode::None] {
            let got = std::panic::catch_unwind(|| evaluate(loss, &arrays, &[], r, &[]));
            let e = match got {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(v)) => panic!("{loss} {}: D = 0 gave {:?}", r.name(), v.value),
                Err(_) => panic!("{loss} {}: D = 0 panicked", r.name()),
            };
            assert!(e.contains("D >= 1") && e.contains("[3, 0]"), "{loss}: {e}");
        }
    }
}
