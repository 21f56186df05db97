//! Caller-owned gradient buffers (`evaluate_into`) and vector-Jacobian products with
//! `reduction = none`, for every catalogue loss.
//!
//! - `evaluate_into` gives the bits of `evaluate_with` (values, per-element losses,
//!   gradients), every reduction, f32 and f64, into buffers that held garbage; with `none`
//!   a cotangent of ones gives the gradient of the sum to the bit.
//! - In f64, for every loss with `none`: the full Jacobian J of the per-element losses by
//!   central differences; the gradient of each ℓ_i alone (a one-hot cotangent) against row i
//!   of J; the VJP with a random cotangent u (mixed signs, zeros) against uᵀJ and against
//!   Σ_i u_i·(gradient of ℓ_i alone). Row i of J is what separates a coupled loss (softmax
//!   over classes, `batch=true`, in-batch metric losses, a broadcast `var`) from a
//!   post-multiplied gradient of the sum.
//! - Every new error, with its exact text.

use losskit::sample::{Rng, SampleData};
use losskit::{
    catalogue, evaluate_into, evaluate_with, find, ArrayData, Buffers, Error, Evaluation,
    FloatArray, LossInfo, NamedArray, Params, ReductionMode, Role,
};

/// Central differences: step `H·max(1, |x|)`. The tolerance `FD_TOL·(1 + |a| + |b|)`
/// covers the truncation error (h² times the third derivative, up to ~10⁴ for the τ = 0.07
/// contrastive losses: 10⁻⁸) and the rounding error (ε·|ℓ|/h ≈ 10⁻⁹ for losses up to 10)
/// with a margin of about 100.
const H: f64 = 1e-6;
const FD_TOL: f64 = 1e-6;
/// Σ_i u_i·g_i against the VJP: the same kernel arithmetic in another order, f64.
const LIN_TOL: f64 = 1e-12;

#[derive(Debug, Clone)]
enum Arr {
    F(Vec<f64>),
    I(Vec<i64>),
}

#[derive(Debug, Clone)]
struct Case {
    info: &'static LossInfo,
    label: String,
    params: Params,
    arrays: Vec<(&'static str, Vec<usize>, Arr)>,
}

enum Owned {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
}

impl Case {
    fn owned(&self, f32: bool) -> Vec<(&'static str, Vec<usize>, Owned)> {
        self.arrays
            .iter()
            .map(|(n, d, a)| {
                let o = match a {
                    Arr::F(v) if f32 => Owned::F32(v.iter().map(|&x| x as f32).collect()),
                    Arr::F(v) => Owned::F64(v.clone()),
                    Arr::I(v) => Owned::I64(v.clone()),
                };
                (*n, d.clone(), o)
            })
            .collect()
    }

    fn float(&self, name: &str) -> Option<&Vec<f64>> {
        self.arrays.iter().find_map(|(n, _, a)| match a {
            Arr::F(v) if *n == name => Some(v),
            _ => None,
        })
    }

    /// The predictions given (with their lengths).
    fn predictions(&self) -> Vec<(&'static str, usize)> {
        self.info
            .inputs
            .iter()
            .filter(|s| s.role == Role::Prediction)
            .filter_map(|s| self.float(s.name).map(|v| (s.name, v.len())))
            .collect()
    }
}

fn named<'a>(o: &'a [(&'static str, Vec<usize>, Owned)]) -> Vec<NamedArray<'a>> {
    o.iter()
        .map(|(name, dims, d)| NamedArray {
            name,
            dims,
            data: match d {
                Owned::F32(v) => ArrayData::F32(v),
                Owned::F64(v) => ArrayData::F64(v),
                Owned::I64(v) => ArrayData::I64(v),
            },
        })
        .collect()
}

/// Every loss at a few sizes and seeds, with the parameter variants that change how a
/// prediction element reaches the loss elements.
fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for info in catalogue() {
        let mut variants: Vec<Vec<(&str, &str)>> = vec![vec![]];
        let mut widen = |name: &'static str, values: &[&'static str]| {
            if info.param(name).is_some() {
                variants = variants
                    .iter()
                    .flat_map(|v| {
                        values.iter().map(move |&x| {
                            let mut v = v.clone();
                            v.push((name, x));
                            v
                        })
                    })
                    .collect();
            }
        };
        widen("activation", &["softmax", "sigmoid", "none"]);
        widen("include_background", &["true", "false"]);
        widen("batch", &["false", "true"]);
        widen("per_image", &["false", "true"]);
        widen("symmetric", &["false", "true"]);
        for (size, seed) in [(8, 1), (24, 2)] {
            let sample = (info.sample)(size, &mut Rng::new(seed));
            for v in &variants {
                let mut arrays: Vec<(&'static str, Vec<usize>, Arr)> = sample
                    .arrays
                    .iter()
                    .map(|a| {
                        let d = match &a.data {
                            SampleData::Float(v) => Arr::F(v.clone()),
                            SampleData::Index(v) => Arr::I(v.clone()),
                        };
                        (a.name, a.dims.clone(), d)
                    })
                    .collect();
                if v.contains(&("activation", "none")) {
                    // Probabilities in (0, 1) for a loss with no activation.
                    for (n, _, a) in &mut arrays {
                        if let (&mut "input", Arr::F(x)) = (n, a) {
                            x.iter_mut().for_each(|x| *x = 1.0 / (1.0 + (-*x).exp()));
                        }
                    }
                }
                out.push(Case {
                    info,
                    label: format!("{} size {size} seed {seed} {v:?}", info.name),
                    params: Params::parse(info, v).unwrap(),
                    arrays,
                });
            }
        }
    }
    // `gaussian_nll` with `var` broadcast along the last dimension: [N, D] against [N, 1].
    let info = find("gaussian_nll").unwrap();
    let mut rng = Rng::new(9);
    let (n, d) = (3, 4);
    out.push(Case {
        info,
        label: "gaussian_nll var [N, 1]".into(),
        params: Params::defaults(info),
        arrays: vec![
            ("input", vec![n, d], Arr::F(rng.normals(n * d, 1.0))),
            ("target", vec![n, d], Arr::F(rng.normals(n * d, 1.0))),
            ("var", vec![n, 1], Arr::F(rng.uniforms(n, 0.1, 2.0))),
        ],
    });
    out
}

fn floats(a: &FloatArray) -> Vec<u64> {
    match a {
        FloatArray::F32(v) => v.iter().map(|x| u64::from(x.to_bits())).collect(),
        FloatArray::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
        other => other.to_f64().iter().map(|x| x.to_bits()).collect(),
    }
}

/// Runs `evaluate_into` with buffers that held NaN; returns the evaluation and the buffers.
fn into<T: losskit::Real>(
    case: &Case,
    arrays: &[NamedArray<'_>],
    reduction: ReductionMode,
    cotangent: Option<&[T]>,
) -> Result<(Evaluation, Vec<Vec<T>>), Error> {
    let preds = case.predictions();
    let mut bufs: Vec<Vec<T>> = preds
        .iter()
        .map(|&(_, n)| vec![T::from_f64(f64::NAN); n])
        .collect();
    let grads = preds
        .iter()
        .map(|&(n, _)| n)
        .zip(bufs.iter_mut().map(|b| b.as_mut_slice()))
        .collect();
    let e = evaluate_into(
        case.info,
        arrays,
        &case.params,
        reduction,
        Buffers { grads, cotangent },
    )?;
    Ok((e, bufs))
}

fn check_same<T: losskit::Real>(case: &Case, f32: bool) {
    let owned = case.owned(f32);
    let arrays = named(&owned);
    let names: Vec<&str> = case.predictions().iter().map(|&(n, _)| n).collect();
    for &r in case.info.reductions {
        let with = evaluate_with(case.info, &arrays, &case.params, r, &names);
        let got = into::<T>(case, &arrays, r, None);
        let (with, (e, bufs)) = match (with, got) {
            (Ok(w), Ok(g)) => (w, g),
            (Err(a), Err(b)) => {
                assert_eq!(a, b, "{} {r:?}", case.label);
                continue;
            }
            (a, b) => panic!("{} {r:?}: {a:?} vs {:?}", case.label, b.map(|x| x.0)),
        };
        let ctx = format!("{} {r:?} f32={f32}", case.label);
        assert!(e.grads.is_empty(), "{ctx}");
        assert_eq!(
            e.value.map(f64::to_bits),
            with.value.map(f64::to_bits),
            "{ctx}"
        );
        assert_eq!(e.shape, with.shape, "{ctx}");
        assert_eq!(
            e.per_element.as_ref().map(floats),
            with.per_element.as_ref().map(floats),
            "{ctx}"
        );
        assert_eq!(
            (e.loss, e.reduction, e.dtype),
            (with.loss, with.reduction, with.dtype)
        );
        for ((name, g), b) in with.grads.iter().zip(&bufs) {
            let b: Vec<u64> = b.iter().map(|x| x.to_f64().to_bits()).collect();
            let g: Vec<u64> = g.to_f64().iter().map(|x| x.to_bits()).collect();
            assert_eq!(b, g, "{ctx}: gradient of `{name}`");
        }
        if r == ReductionMode::None {
            // A cotangent of ones: the gradient of the sum, to the bit.
            let ones = vec![T::ONE; with.shape.iter().product()];
            let (_, vjp) = into::<T>(case, &arrays, r, Some(&ones)).unwrap();
            for ((name, g), b) in with.grads.iter().zip(&vjp) {
                let b: Vec<u64> = b.iter().map(|x| x.to_f64().to_bits()).collect();
                let g: Vec<u64> = g.to_f64().iter().map(|x| x.to_bits()).collect();
                assert_eq!(b, g, "{ctx}: ones-cotangent VJP of `{name}`");
            }
        }
    }
}

#[test]
fn evaluate_into_gives_the_bits_of_evaluate_with() {
    let cases = cases();
    for case in &cases {
        check_same::<f32>(case, true);
        check_same::<f64>(case, false);
    }
    // Losses without `none` take caller-owned buffers too.
    assert!(cases.iter().any(|c| c.info.name == "bce_dice"));
}

/// The per-element losses of `case` with prediction `p`'s element `k` moved by `dx`.
fn losses_at(case: &Case, p: &str, k: usize, dx: f64) -> Vec<f64> {
    let mut c = case.clone();
    for (n, _, a) in &mut c.arrays {
        if let (true, Arr::F(v)) = (*n == p, a) {
            v[k] += dx;
        }
    }
    let owned = c.owned(false);
    let e = evaluate_with(c.info, &named(&owned), &c.params, ReductionMode::None, &[])
        .unwrap_or_else(|e| panic!("{}: {e}", case.label));
    e.per_element.unwrap().to_f64()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs() + b.abs())
}

#[test]
fn vjps_match_the_central_difference_jacobian_of_every_loss() {
    let mut checked = std::collections::BTreeSet::new();
    for case in cases() {
        if !case.info.reductions.contains(&ReductionMode::None) {
            continue;
        }
        let owned = case.owned(false);
        let arrays = named(&owned);
        let base = evaluate_with(case.info, &arrays, &case.params, ReductionMode::None, &[])
            .unwrap_or_else(|e| panic!("{}: {e}", case.label));
        let m = base.shape.iter().product::<usize>();
        let preds = case.predictions();
        // A loss whose gradient is by definition not its derivative (ciou) gets the
        // tolerance its definition allows against the differences.
        let fd_tol = losskit::gradcheck::SURROGATE_GRADIENTS
            .iter()
            .find(|(n, _, _)| *n == case.info.name)
            .map_or(FD_TOL, |&(_, t, _)| t.max(FD_TOL));
        // J[p][i][k] = ∂ℓ_i/∂x_p[k].
        let jac: Vec<Vec<Vec<f64>>> = preds
            .iter()
            .map(|&(p, len)| {
                let x = case.float(p).unwrap();
                let mut j = vec![vec![0.0; len]; m];
                for k in 0..len {
                    let h = H * x[k].abs().max(1.0);
                    let (hi, lo) = (losses_at(&case, p, k, h), losses_at(&case, p, k, -h));
                    for i in 0..m {
                        j[i][k] = (hi[i] - lo[i]) / (2.0 * h);
                    }
                }
                j
            })
            .collect();
        // The gradient of each ℓ_i alone, through a one-hot cotangent.
        let mut alone = Vec::with_capacity(m);
        for i in 0..m {
            let mut e = vec![0.0; m];
            e[i] = 1.0;
            let (_, g) = into::<f64>(&case, &arrays, ReductionMode::None, Some(&e)).unwrap();
            for (pi, (p, _)) in preds.iter().enumerate() {
                for (k, (&a, &b)) in g[pi].iter().zip(&jac[pi][i]).enumerate() {
                    assert!(
                        close(a, b, fd_tol),
                        "{}: ∂ℓ[{i}]/∂{p}[{k}] = {a}, central differences {b}",
                        case.label
                    );
                }
            }
            alone.push(g);
        }
        // A random cotangent with mixed signs and zeros.
        let mut rng = Rng::new(m as u64 + 17);
        let u: Vec<f64> = (0..m)
            .map(|i| if i % 3 == 2 { 0.0 } else { rng.normal() })
            .collect();
        let (_, vjp) = into::<f64>(&case, &arrays, ReductionMode::None, Some(&u)).unwrap();
        for (pi, (p, len)) in preds.iter().enumerate() {
            for k in 0..*len {
                let fd: f64 = (0..m).map(|i| u[i] * jac[pi][i][k]).sum();
                let lin: f64 = (0..m).map(|i| u[i] * alone[i][pi][k]).sum();
                let v = vjp[pi][k];
                assert!(
                    close(v, fd, fd_tol),
                    "{}: VJP of `{p}`[{k}] = {v}, uᵀJ by central differences {fd}",
                    case.label
                );
                assert!(
                    close(v, lin, LIN_TOL),
                    "{}: VJP of `{p}`[{k}] = {v}, Σ u_i·∇ℓ_i = {lin}",
                    case.label
                );
            }
        }
        checked.insert(case.info.name);
    }
    let with_none: Vec<&str> = catalogue()
        .filter(|l| l.reductions.contains(&ReductionMode::None))
        .map(|l| l.name)
        .collect();
    assert_eq!(checked.len(), with_none.len(), "{checked:?}");
}

fn huber_inputs<'a>(x: ArrayData<'a>, t: ArrayData<'a>, dims: &'a [usize]) -> [NamedArray<'a>; 2] {
    [
        NamedArray {
            name: "input",
            data: x,
            dims,
        },
        NamedArray {
            name: "target",
            data: t,
            dims,
        },
    ]
}

#[test]
fn buffer_and_cotangent_errors_name_the_loss_and_the_argument() {
    let huber = find("huber").unwrap();
    let p = Params::defaults(huber);
    let (x64, t64, dims) = ([0.5f64, 2.0, -1.0], [0.0f64; 3], [3usize]);
    let x32 = [0.5f32, 2.0, -1.0];
    let none = ReductionMode::None;
    let run32 = |inputs: &[NamedArray<'_>], r, g: &mut [f32], u: Option<&[f32]>| {
        evaluate_into(
            huber,
            inputs,
            &p,
            r,
            Buffers {
                grads: vec![("input", g)],
                cotangent: u,
            },
        )
    };
    // f32 buffers for a float64 prediction.
    let e = run32(
        &huber_inputs(ArrayData::F64(&x64), ArrayData::F64(&t64), &dims),
        none,
        &mut [0.0; 3],
        None,
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "huber: `input` is float64 but the gradient buffers are f32; caller-owned buffers take the prediction's own dtype (f32 for float32, f64 for float64; float16 and bfloat16 go through `evaluate_with`)"
    );
    // A float16 prediction.
    let h = [losskit::half::f16::from_f32(0.5); 3];
    let e = run32(
        &huber_inputs(ArrayData::F16(&h), ArrayData::F64(&t64), &dims),
        none,
        &mut [0.0; 3],
        None,
    )
    .unwrap_err();
    assert_eq!(
        e,
        Error::GradDtype {
            loss: "huber",
            arg: "input",
            buffer: "f32",
            actual: "float16"
        }
    );
    let ok = huber_inputs(ArrayData::F32(&x32), ArrayData::F64(&t64), &dims);
    // A buffer of the wrong length.
    let e = run32(&ok, none, &mut [0.0; 2], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "huber: the gradient buffer for `input` has length 2, expected 3 (the length of `input`)"
    );
    // A cotangent with another reduction.
    let e = run32(&ok, ReductionMode::Mean, &mut [0.0; 3], Some(&[1.0; 3])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "huber: a cotangent is taken with reduction `none` only, not `mean`"
    );
    // A cotangent of the wrong length names the loss shape: cross_entropy [2, 3] → [2].
    let ce = find("cross_entropy").unwrap();
    let logits = [0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6];
    let labels = [0i64, 2];
    let inputs = [
        NamedArray {
            name: "input",
            data: ArrayData::F32(&logits),
            dims: &[2, 3],
        },
        NamedArray {
            name: "target",
            data: ArrayData::I64(&labels),
            dims: &[2],
        },
    ];
    let mut g = [0.0f32; 6];
    let e = evaluate_into(
        ce,
        &inputs,
        &Params::defaults(ce),
        none,
        Buffers {
            grads: vec![("input", &mut g[..])],
            cotangent: Some(&[1.0; 6]),
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "cross_entropy: the cotangent has 6 values, expected 2 (one per element of the unreduced loss, shape [2])"
    );
    // A buffer for a target.
    let mut g = [0.0f32; 3];
    let e = evaluate_into(
        huber,
        &ok,
        &p,
        none,
        Buffers {
            grads: vec![("target", &mut g[..])],
            cotangent: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "huber: `target` has no gradient (it is not a prediction); gradients exist for `input`"
    );
    // Two buffers for one prediction.
    let (mut a, mut b) = ([0.0f32; 3], [0.0f32; 3]);
    let e = evaluate_into(
        huber,
        &ok,
        &p,
        none,
        Buffers {
            grads: vec![("input", &mut a[..]), ("input", &mut b[..])],
            cotangent: None,
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "huber: the gradient of `input` is asked for more than once"
    );
    // A non-finite cotangent is allowed and propagates like torch's.
    let mut g = [0.0f32; 3];
    run32(&ok, none, &mut g, Some(&[f32::NAN, 2.0, f32::INFINITY])).unwrap();
    assert!(
        g[0].is_nan() && g[1] == 2.0 && g[2] == -f32::INFINITY,
        "{g:?}"
    );
}
