//! Properties of the segmentation losses: the fused gradient against central differences
//! (f64, every activation, per-sample and batch, with and without the background), index
//! targets equal their one-hot mask, `sum == count·mean`, bounds, the Dice/Tversky identity,
//! 3-D volumes against stacks of 2-D slices, and the Lovász losses' invariances.

use losskit::{
    Activation, BceDice, Boundary, CeDice, Dice, FocalTversky, GeneralizedDice, Jaccard,
    LovaszHinge, LovaszSoftmax, Reduction, SegInputs, Tensor, Tversky,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config() -> Config {
    Config {
        cases: 64,
        rng_seed: RngSeed::Fixed(0x5e9_5eed),
        failure_persistence: None,
        ..Config::default()
    }
}

/// `value` and `value_and_grad` of one loss over the same inputs.
type Value<'a> = Box<dyn Fn(&SegInputs<'_, f64>, Reduction) -> f64 + 'a>;
type Grad<'a> = Box<dyn Fn(&SegInputs<'_, f64>, Reduction, &mut [f64]) -> f64 + 'a>;

macro_rules! loss_fns {
    ($l:expr) => {{
        let l = $l;
        let v: Value = Box::new(move |i, r| l.value(i, r).unwrap());
        let g: Grad = Box::new(move |i, r, b| l.value_and_grad(i, r, b).unwrap());
        (v, g)
    }};
}

/// Every loss in a few configurations, by name.
fn losses(
    act: Activation,
    bg: bool,
    batch: bool,
) -> Vec<(&'static str, Value<'static>, Grad<'static>)> {
    let mut out: Vec<(&'static str, Value, Grad)> = Vec::new();
    macro_rules! push {
        ($name:expr, $l:expr) => {{
            let (v, g) = loss_fns!($l);
            out.push(($name, v, g));
        }};
    }
    push!(
        "dice",
        Dice::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
    );
    push!(
        "dice squared",
        Dice::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
            .squared(true)
    );
    push!(
        "jaccard",
        Jaccard::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
    );
    push!(
        "tversky",
        Tversky::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
            .alpha(0.3)
            .unwrap()
            .beta(0.8)
            .unwrap()
    );
    push!(
        "focal_tversky",
        FocalTversky::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
            .gamma(1.7)
            .unwrap()
    );
    push!(
        "generalized_dice",
        GeneralizedDice::default()
            .activation(act)
            .include_background(bg)
            .batch(batch)
    );
    push!(
        "boundary",
        Boundary::default().activation(act).include_background(bg)
    );
    out
}

fn logits(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(-3.0f64..3.0, n)
}

/// Central differences of `f` at `x`, against `g`.
fn check_grad(name: &str, x: &[f64], g: &[f64], f: impl Fn(&[f64]) -> f64) {
    let h = 1e-6;
    let mut xp = x.to_vec();
    for i in 0..x.len() {
        xp[i] = x[i] + h;
        let up = f(&xp);
        xp[i] = x[i] - h;
        let down = f(&xp);
        xp[i] = x[i];
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - g[i]).abs() <= 1e-6 + 1e-5 * fd.abs(),
            "{name}: d/dx[{i}] = {} analytic, {fd} by differences",
            g[i]
        );
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn gradients_match_central_differences(
        x in logits(2 * 3 * 6),
        y in prop::collection::vec(0i64..3, 2 * 6),
        act in prop::sample::select(vec![Activation::Softmax, Activation::Sigmoid, Activation::None]),
        bg in any::<bool>(),
        batch in any::<bool>(),
    ) {
        let dims = [2, 3, 2, 3];
        // Probabilities in (0, 1) for `none`.
        let x: Vec<f64> = if act == Activation::None { x.iter().map(|v| 0.5 + v / 7.0).collect() } else { x };
        let ydims = [2, 2, 3];
        for (name, value, grad) in losses(act, bg, batch) {
            for r in [Reduction::Mean, Reduction::Sum] {
                let inputs = SegInputs::indices(Tensor::new(&x, &dims).unwrap(), Tensor::new(&y, &ydims).unwrap());
                let mut g = vec![0.0; x.len()];
                let v = grad(&inputs, r, &mut g);
                prop_assert!((v - value(&inputs, r)).abs() <= 1e-15 * v.abs().max(1.0), "{name}");
                check_grad(name, &x, &g, |xp| {
                    value(&SegInputs::indices(Tensor::new(xp, &dims).unwrap(), Tensor::new(&y, &ydims).unwrap()), r)
                });
            }
        }
    }

    #[test]
    fn combos_and_lovasz_gradients_match_central_differences(
        x in logits(2 * 3 * 5),
        y in prop::collection::vec(0i64..3, 2 * 5),
        m in prop::collection::vec(0u8..2, 2 * 5),
        per_image in any::<bool>(),
    ) {
        let dims = [2, 3, 5];
        let idx = |xs: &[f64]| -> Vec<f64> { xs.to_vec() };
        let ce = CeDice::default().include_background(per_image).ce_weight(0.7).unwrap();
        let mut g = vec![0.0; x.len()];
        ce.value_and_grad(&SegInputs::indices(Tensor::new(&x, &dims).unwrap(), Tensor::new(&y, &[2, 5]).unwrap()), Reduction::Mean, &mut g).unwrap();
        check_grad("ce_dice", &x, &g, |xp| ce.value(&SegInputs::indices(Tensor::new(&idx(xp), &dims).unwrap(), Tensor::new(&y, &[2, 5]).unwrap()), Reduction::Mean).unwrap());
        let ls = LovaszSoftmax::default().per_image(per_image);
        ls.value_and_grad(&SegInputs::indices(Tensor::new(&x, &dims).unwrap(), Tensor::new(&y, &[2, 5]).unwrap()), Reduction::Mean, &mut g).unwrap();
        check_grad("lovasz_softmax", &x, &g, |xp| ls.value(&SegInputs::indices(Tensor::new(xp, &dims).unwrap(), Tensor::new(&y, &[2, 5]).unwrap()), Reduction::Mean).unwrap());
        // Binary: one channel.
        let xb = &x[..10];
        let mb: Vec<f64> = m.iter().map(|&v| f64::from(v)).collect();
        let bd = BceDice::default().bce_weight(0.4).unwrap().dice_weight(1.3).unwrap();
        let mut gb = vec![0.0; 10];
        bd.value_and_grad(&SegInputs::mask(Tensor::new(xb, &[2, 1, 5]).unwrap(), Tensor::new(&mb, &[2, 1, 5]).unwrap()), Reduction::Sum, &mut gb).unwrap();
        check_grad("bce_dice", xb, &gb, |xp| bd.value(&SegInputs::mask(Tensor::new(xp, &[2, 1, 5]).unwrap(), Tensor::new(&mb, &[2, 1, 5]).unwrap()), Reduction::Sum).unwrap());
        let lh = LovaszHinge::default().per_image(per_image);
        lh.value_and_grad(&SegInputs::mask(Tensor::new(xb, &[2, 1, 5]).unwrap(), Tensor::new(&mb, &[2, 1, 5]).unwrap()), Reduction::Mean, &mut gb).unwrap();
        check_grad("lovasz_hinge", xb, &gb, |xp| lh.value(&SegInputs::mask(Tensor::new(xp, &[2, 1, 5]).unwrap(), Tensor::new(&mb, &[2, 1, 5]).unwrap()), Reduction::Mean).unwrap());
    }

    #[test]
    fn index_targets_equal_their_one_hot_and_sum_is_count_times_mean(
        x in logits(3 * 4 * 5),
        y in prop::collection::vec(0i64..4, 3 * 5),
        bg in any::<bool>(),
        batch in any::<bool>(),
    ) {
        let dims = [3, 4, 5];
        let mut oh = vec![0.0; x.len()];
        for n in 0..3 { for p in 0..5 { oh[(n * 4 + y[n * 5 + p] as usize) * 5 + p] = 1.0; } }
        let a = SegInputs::indices(Tensor::new(&x, &dims).unwrap(), Tensor::new(&y, &[3, 5]).unwrap());
        let b = SegInputs::mask(Tensor::new(&x, &dims).unwrap(), Tensor::new(&oh, &dims).unwrap());
        for (name, value, grad) in losses(Activation::Softmax, bg, batch) {
            for r in [Reduction::Mean, Reduction::Sum] {
                prop_assert_eq!(value(&a, r), value(&b, r), "{}", name);
                let (mut ga, mut gb) = (vec![0.0; x.len()], vec![0.0; x.len()]);
                grad(&a, r, &mut ga);
                grad(&b, r, &mut gb);
                prop_assert_eq!(&ga, &gb, "{}", name);
            }
            let count = if name == "generalized_dice" { if batch { 1 } else { 3 } }
                else if name == "boundary" { 3 * (4 - usize::from(!bg)) }
                else { (if batch { 1 } else { 3 }) * (4 - usize::from(!bg)) };
            let (s, m) = (value(&a, Reduction::Sum), value(&a, Reduction::Mean));
            prop_assert!((s - count as f64 * m).abs() <= 1e-12 * s.abs().max(1.0), "{} {} {}", name, s, m);
        }
        // Cross-entropy's index and probability kernels differ by an ulp or two.
        let ce = CeDice::default();
        let (ca, cb) = (ce.value(&a, Reduction::Mean).unwrap(), ce.value(&b, Reduction::Mean).unwrap());
        prop_assert!((ca - cb).abs() <= 1e-14 * ca.abs(), "{} {}", ca, cb);
        let ls = LovaszSoftmax::default();
        prop_assert_eq!(ls.value(&a, Reduction::Mean).unwrap(), ls.value(&b, Reduction::Mean).unwrap());
    }

    #[test]
    fn overlap_losses_lie_in_0_1_and_vanish_at_a_perfect_prediction(
        y in prop::collection::vec(0i64..3, 2 * 8),
        p in prop::collection::vec(0.0f64..1.0, 2 * 3 * 8),
    ) {
        let dims = [2, 3, 8];
        let mut oh = vec![0.0; 2 * 3 * 8];
        for n in 0..2 { for q in 0..8 { oh[(n * 3 + y[n * 8 + q] as usize) * 8 + q] = 1.0; } }
        let t = SegInputs::mask(Tensor::new(&oh, &dims).unwrap(), Tensor::new(&oh, &dims).unwrap());
        let any = SegInputs::mask(Tensor::new(&p, &dims).unwrap(), Tensor::new(&oh, &dims).unwrap());
        for (name, value, _) in losses(Activation::None, true, false) {
            if name == "boundary" { continue; }
            let v = value(&t, Reduction::Mean);
            prop_assert!(v.abs() < 1e-5, "{name}: {v} at the target itself");
            let w = value(&any, Reduction::Mean);
            prop_assert!((-1e-12..=1.0).contains(&w), "{name}: {w}");
        }
    }

    #[test]
    fn tversky_with_equal_halves_is_dice(
        x in logits(2 * 3 * 7),
        y in prop::collection::vec(0i64..3, 2 * 7),
        batch in any::<bool>(),
    ) {
        let i = SegInputs::indices(Tensor::new(&x, &[2, 3, 7]).unwrap(), Tensor::new(&y, &[2, 7]).unwrap());
        // Same smoothing scale: Dice's ratio is (2I + s)/(ΣP + ΣG + s), Tversky's (I + s)/(… + s).
        let d = Dice::default().batch(batch).smooth_nr(2e-5).unwrap().smooth_dr(2e-5).unwrap();
        let t = Tversky::default().batch(batch);
        let (dv, tv) = (d.value(&i, Reduction::Mean).unwrap(), t.value(&i, Reduction::Mean).unwrap());
        prop_assert!((dv - tv).abs() < 1e-13, "{dv} {tv}");
    }

    #[test]
    fn a_volume_is_a_stack_of_slices_for_boundary_with_one_slice_per_sample(
        x in logits(2 * 3 * 4 * 5),
        y in prop::collection::vec(0i64..3, 2 * 4 * 5),
    ) {
        // Dice with `batch` over [N, C, D=1, H, W] equals Dice over [N, C, H, W]; and Dice
        // with `batch` over D slices as samples equals Dice over the [1, C, D, H, W] volume.
        let vol = SegInputs::indices(Tensor::new(&x, &[2, 3, 1, 4, 5]).unwrap(), Tensor::new(&y, &[2, 1, 4, 5]).unwrap());
        let img = SegInputs::indices(Tensor::new(&x, &[2, 3, 4, 5]).unwrap(), Tensor::new(&y, &[2, 4, 5]).unwrap());
        let d = Dice::default();
        prop_assert_eq!(d.value(&vol, Reduction::Mean).unwrap(), d.value(&img, Reduction::Mean).unwrap());
        let b = Boundary::default();
        prop_assert_eq!(b.value(&vol, Reduction::Mean).unwrap(), b.value(&img, Reduction::Mean).unwrap());
        // Two slices as a 3-D volume [1, C, 2, H, W] (channels first: reorder) against the
        // same slices as a batch [2, C, H, W] with batch Dice.
        let mut xv = vec![0.0; x.len()];
        for s in 0..2 { for c in 0..3 { for p in 0..20 { xv[(c * 2 + s) * 20 + p] = x[(s * 3 + c) * 20 + p]; } } }
        let v3 = SegInputs::indices(Tensor::new(&xv, &[1, 3, 2, 4, 5]).unwrap(), Tensor::new(&y, &[1, 2, 4, 5]).unwrap());
        let bd = Dice::default().batch(true);
        let (a, bb) = (d.value(&v3, Reduction::Mean).unwrap(), bd.value(&img, Reduction::Mean).unwrap());
        prop_assert!((a - bb).abs() < 1e-14, "{a} {bb}");
    }
}

#[test]
fn edge_cases_of_the_issue() {
    // Both masks empty → ~0 with finite gradients.
    let z = [0.0f64; 8];
    let e = SegInputs::mask(
        Tensor::new(&z, &[2, 1, 4]).unwrap(),
        Tensor::new(&z, &[2, 1, 4]).unwrap(),
    );
    let mut g = [f64::NAN; 8];
    let v = Dice::default()
        .activation(Activation::None)
        .value_and_grad(&e, Reduction::Mean, &mut g)
        .unwrap();
    assert!(
        v.abs() < 1e-12 && g.iter().all(|x| x.is_finite()),
        "{v} {g:?}"
    );
    // Empty target against a full prediction → ~1.
    let one = [1.0f64; 8];
    let f = SegInputs::mask(
        Tensor::new(&one, &[2, 1, 4]).unwrap(),
        Tensor::new(&z, &[2, 1, 4]).unwrap(),
    );
    let v = Dice::default()
        .activation(Activation::None)
        .value(&f, Reduction::Mean)
        .unwrap();
    assert!((v - 1.0).abs() < 1e-5, "{v}");
    // include_background = false with softmax: softmax over all C, then class 0 dropped.
    let x = [2.0f64, 0.0, -1.0, 1.0, 0.5, 0.5];
    let y = [1i64, 2];
    let i = SegInputs::indices(
        Tensor::new(&x, &[1, 3, 2]).unwrap(),
        Tensor::new(&y, &[1, 2]).unwrap(),
    );
    let d = Dice::default()
        .include_background(false)
        .smooth_nr(0.0)
        .unwrap()
        .smooth_dr(0.0)
        .unwrap();
    let p = |k: usize, q: usize| {
        let s: f64 = (0..3).map(|c| x[c * 2 + q].exp()).sum();
        x[k * 2 + q].exp() / s
    };
    let d1 = 1.0 - 2.0 * p(1, 0) / (p(1, 0) + p(1, 1) + 1.0);
    let d2 = 1.0 - 2.0 * p(2, 1) / (p(2, 0) + p(2, 1) + 1.0);
    let v = d.value(&i, Reduction::Mean).unwrap();
    assert!((v - (d1 + d2) / 2.0).abs() < 1e-14, "{v}");
    // Per-image against per-batch Dice on {a large object, a tiny object}, by hand.
    let mut pr = vec![0.0f64; 2 * 100];
    let mut gt = vec![0.0f64; 2 * 100];
    for q in 0..50 {
        gt[q] = 1.0; // image 0: a 50-pixel object, predicted exactly
        pr[q] = 1.0;
    }
    gt[100] = 1.0; // image 1: a 1-pixel object, missed
    let i = SegInputs::mask(
        Tensor::new(&pr, &[2, 1, 100]).unwrap(),
        Tensor::new(&gt, &[2, 1, 100]).unwrap(),
    );
    let base = Dice::default()
        .activation(Activation::None)
        .smooth_nr(0.0)
        .unwrap()
        .smooth_dr(0.0)
        .unwrap();
    let per_image = base.value(&i, Reduction::Mean).unwrap();
    let per_batch = base.batch(true).value(&i, Reduction::Mean).unwrap();
    assert_eq!(per_image, (0.0 + 1.0) / 2.0);
    assert!(
        (per_batch - (1.0 - 100.0 / 101.0)).abs() < 1e-15,
        "{per_batch}"
    );
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = [0.0f64; 24];
    let dims = [2, 3, 4];
    let t = |d: &[usize]| Tensor::new(&x[..d.iter().product::<usize>()], d).unwrap();
    let y_bad = [0i64, 1, 2, 3, 0, 1, 2, 0];
    let e = Dice::default()
        .value(
            &SegInputs::indices(t(&dims), Tensor::new(&y_bad, &[2, 4]).unwrap()),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert_eq!(e, "dice: `target` at [0, 3] is 3, expected a class index in [0, C) (C = `input`'s class dimension)");
    let e = Dice::default()
        .value(
            &SegInputs::mask(t(&dims), t(&[2, 3, 2, 2])),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("dice: `target` has shape [2, 3, 2, 2], expected [2, 3, 4]"),
        "{e}"
    );
    let half = [0.5f64; 24];
    let e = Dice::default()
        .value(
            &SegInputs::mask(t(&dims), Tensor::new(&half, &dims).unwrap()),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "dice: `target` at [0, 0, 0] is 0.5, expected 0 or 1 (a one-hot or multi-label mask)"
    );
    let e = Tversky::default().alpha(-1.0).unwrap_err().to_string();
    assert_eq!(e, "tversky: `alpha` must be >= 0 and finite, got -1");
    let e = Tversky::default().beta(f64::NAN).unwrap_err().to_string();
    assert_eq!(e, "tversky: `beta` must be >= 0 and finite, got NaN");
    let m = [0.0f64; 8];
    let e = Dice::default()
        .value(
            &SegInputs::mask(t(&[2, 1, 4]), Tensor::new(&m, &[2, 1, 4]).unwrap()),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("at least 2 classes in dimension 1 with `activation=softmax`"),
        "{e}"
    );
    let d = [0.0f64; 12];
    let e = Boundary::default()
        .value(
            &SegInputs::distance_maps(t(&dims), Tensor::new(&d, &[2, 3, 2]).unwrap()),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("boundary: `distance` has shape [2, 3, 2], expected [2, 3, 4]"),
        "{e}"
    );
    let inf = [f64::INFINITY; 24];
    let y = [0i64; 8];
    let e = Dice::default()
        .value(
            &SegInputs::indices(
                Tensor::new(&inf, &dims).unwrap(),
                Tensor::new(&y, &[2, 4]).unwrap(),
            ),
            Reduction::Mean,
        )
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "dice: `input` at [0, 0, 0] is inf, expected a finite value"
    );
}

/// Hostile input (issue 21, item 2): an empty batch under `mean` is an error for the Lovász
/// losses as for every loss (a single group over the whole batch is still no element), and
/// `sum` over it is 0.
#[test]
fn lovasz_on_an_empty_batch_under_mean_is_an_error() {
    let x: [f64; 0] = [];
    let y: [i64; 0] = [];
    for per_image in [false, true] {
        let hinge = LovaszHinge::default().per_image(per_image);
        let soft = LovaszSoftmax::default().per_image(per_image);
        let mask = SegInputs::mask(
            Tensor::new(&x, &[0, 1, 4]).unwrap(),
            Tensor::new(&x, &[0, 1, 4]).unwrap(),
        );
        let idx = SegInputs::indices(
            Tensor::new(&x, &[0, 3, 4]).unwrap(),
            Tensor::new(&y, &[0, 4]).unwrap(),
        );
        let e = hinge.value(&mask, Reduction::Mean).map(|v| v.to_string());
        assert_eq!(
            e.unwrap_err().to_string(),
            "lovasz_hinge: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch",
            "per_image {per_image}"
        );
        let mut g: [f64; 0] = [];
        assert!(hinge
            .value_and_grad(&mask, Reduction::Mean, &mut g)
            .is_err());
        assert_eq!(hinge.value(&mask, Reduction::Sum).unwrap(), 0.0);
        let e = soft.value(&idx, Reduction::Mean).map(|v| v.to_string());
        assert_eq!(
            e.unwrap_err().to_string(),
            "lovasz_softmax: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch",
            "per_image {per_image}"
        );
        assert!(soft.value_and_grad(&idx, Reduction::Mean, &mut g).is_err());
        assert_eq!(soft.value(&idx, Reduction::Sum).unwrap(), 0.0);
    }
}
