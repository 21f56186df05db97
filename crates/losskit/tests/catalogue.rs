//! One suite over every loss of the catalogue, driven by the catalogue alone: a loss added to
//! its family's list is checked here without a line of test code.
//!
//! Here: gradients against central differences (through [`losskit::gradcheck`], with the
//! catalogue's [`Kinks`] checked too: a smooth loss has no kink where the check looks),
//! `sum == n·mean` and `sum == Σ per-element`, the weighted mean `Σ w·ℓ / Σ w`, f32 against
//! f64, the plot axis of every entry, and every table that lists losses by hand (README,
//! `lib.rs`, `docs/spec/losses.md`). Elsewhere, equally catalogue-driven: reference values for
//! every loss (`reference.rs`), NaN propagation by each entry's [`NanRule`](losskit::NanRule)
//! (`nan.rs`), bit-identical results across threads and SIMD levels (`dispatch.rs`), half
//! precision (`half.rs`), every sample a valid input (the registry's unit tests), the Python
//! stubs (`crates/losskit-python/tests`), and `losskit gradcheck` over the whole catalogue
//! (the CLI's tests).

use losskit::gradcheck::{check, Options};
use losskit::sample::{Rng, Sample, SampleData};
use losskit::{evaluate_with, Dtype, Evaluation, Kinks, LossInfo, Params, ReductionMode, Role};

fn run(
    info: &'static LossInfo,
    sample: &Sample,
    dtype: Dtype,
    reduction: ReductionMode,
    grads: &[&str],
) -> Evaluation {
    let arrays = sample.arrays(dtype);
    evaluate_with(
        info,
        &arrays.named(),
        &Params::defaults(info),
        reduction,
        grads,
    )
    .unwrap_or_else(|e| panic!("{} {dtype:?} {}: {e}", info.name, reduction.name()))
}

fn has(info: &LossInfo, r: ReductionMode) -> bool {
    info.reductions.contains(&r)
}

#[test]
fn gradients_match_central_differences_and_smooth_losses_have_no_kinks() {
    let mut failures = Vec::new();
    for info in losskit::catalogue() {
        for seed in [1, 2] {
            let options = Options {
                seed,
                ..Options::default()
            };
            let r =
                check(info.name, &[], &options).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            if !r.passed() {
                failures.push(format!("{}: {r:?}", info.name));
            }
            if r.inputs.len() != info.predictions().len() || r.inputs.iter().any(|i| i.checked == 0)
            {
                failures.push(format!(
                    "{}: not every prediction checked: {r:?}",
                    info.name
                ));
            }
            if info.kinks == Kinks::Smooth && r.inputs.iter().any(|i| i.kinks > 0) {
                failures.push(format!(
                    "{}: the catalogue says smooth, the check found kinks: {r:?}",
                    info.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Residual kinks (pointwise losses): central differences agree away from them, and the
/// one-sided slopes differ at them (so the catalogue names real kinks, at the right place).
#[test]
fn residual_kinks_are_where_the_catalogue_says() {
    let mut checked = 0;
    for info in losskit::catalogue() {
        let Kinks::Residual(kinks) = info.kinks else {
            continue;
        };
        let params = Params::defaults(info);
        let f = |x: f64| {
            let s = Sample::new()
                .float("input", &[1], vec![x])
                .float("target", &[1], vec![0.0]);
            run(info, &s, Dtype::F64, ReductionMode::Sum, &[])
                .value
                .unwrap()
        };
        for k in kinks {
            let at = match k {
                losskit::Kink::Zero => 0.0,
                losskit::Kink::Param(p) => params.float(p),
            };
            let h = 1e-4;
            let right = (f(at + h) - f(at)) / h;
            let left = (f(at) - f(at - h)) / h;
            assert!(
                (right - left).abs() > 1e-2,
                "{}: no kink at residual {at} ({left} vs {right})",
                info.name
            );
            assert!(
                info.kinks.near(&params, at, 1e-9) && !info.kinks.near(&params, at + 0.1, 1e-3)
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "{checked}");
}

/// Losses whose `sum` is not the sum of their `none` entries: the combinations add the
/// cross-entropy summed over its elements to the Dice terms summed over [N, C'], while each
/// `none` entry carries the sample's mean cross-entropy (so the mean of `none` is `mean`).
const SUM_OF_PARTS: [&str; 2] = ["bce_dice", "ce_dice"];

/// Losses whose `mean` is not Σ per-element / n by their reference's definition: `ctc`
/// divides each sample's loss by its target length before averaging (PyTorch's `mean`),
/// while `none` gives the undivided losses. Its reference cases check that `mean`.
const NORMALISED_MEAN: [&str; 1] = ["ctc"];

#[test]
fn mean_and_sum_are_those_of_the_elements() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for info in losskit::catalogue() {
        if !has(info, ReductionMode::None) {
            continue;
        }
        let sample = (info.sample)(40, &mut Rng::new(11));
        let none = run(info, &sample, Dtype::F64, ReductionMode::None, &[]);
        let each = none.per_element.expect("per-element output").to_f64();
        let total: f64 = each.iter().sum();
        let n = each.len() as f64;
        let scale = each.iter().map(|v| v.abs()).sum::<f64>().max(1.0);
        if has(info, ReductionMode::Sum) && !SUM_OF_PARTS.contains(&info.name) {
            let sum = run(info, &sample, Dtype::F64, ReductionMode::Sum, &[])
                .value
                .unwrap();
            if (sum - total).abs() > 1e-12 * scale {
                failures.push(format!("{}: sum {sum} vs Σ per-element {total}", info.name));
            }
        }
        if has(info, ReductionMode::Mean) && !NORMALISED_MEAN.contains(&info.name) {
            let mean = run(info, &sample, Dtype::F64, ReductionMode::Mean, &[])
                .value
                .unwrap();
            if (total - n * mean).abs() > 1e-12 * scale {
                failures.push(format!(
                    "{}: Σ per-element {total} vs n·mean {n}·{mean}",
                    info.name
                ));
            }
        }
        checked += 1;
    }
    assert!(checked > 30, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every element-wise `weight` (shape "same as `input`"): constant weights leave the mean
/// unchanged and scale the sum; random weights give Σ w·ℓ and Σ w·ℓ / Σ w.
#[test]
fn element_wise_weights_give_the_weighted_sum_and_mean() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for info in losskit::catalogue() {
        let Some(w) = info
            .inputs
            .iter()
            .find(|i| i.role == Role::Weight && i.shape.starts_with("same as `input`"))
        else {
            continue;
        };
        let sample = (info.sample)(30, &mut Rng::new(5));
        let first = sample.get(info.inputs[0].name).expect("first input");
        let dims = first.dims.clone();
        let n: usize = dims.iter().product();
        let each = run(info, &sample, Dtype::F64, ReductionMode::None, &[])
            .per_element
            .expect("per-element")
            .to_f64();
        if each.len() != n {
            continue;
        }
        let mut rng = Rng::new(9);
        let weights = rng.uniforms(n, 0.0, 2.0);
        let weighted = sample.clone().float(w.name, &dims, weights.clone());
        let sum = run(info, &weighted, Dtype::F64, ReductionMode::Sum, &[])
            .value
            .unwrap();
        let mean = run(info, &weighted, Dtype::F64, ReductionMode::Mean, &[])
            .value
            .unwrap();
        let want: f64 = each.iter().zip(&weights).map(|(l, w)| l * w).sum();
        let ws: f64 = weights.iter().sum();
        let scale = each.iter().map(|v| v.abs()).sum::<f64>().max(1.0) * 2.0;
        if (sum - want).abs() > 1e-12 * scale || (mean - want / ws).abs() > 1e-12 * scale {
            failures.push(format!(
                "{}: weighted sum {sum} (Σ w·ℓ {want}), mean {mean} (Σ w·ℓ / Σ w {})",
                info.name,
                want / ws
            ));
        }
        let constant = sample.clone().float(w.name, &dims, vec![2.5; n]);
        let plain = run(info, &sample, Dtype::F64, ReductionMode::Mean, &[])
            .value
            .unwrap();
        let m = run(info, &constant, Dtype::F64, ReductionMode::Mean, &[])
            .value
            .unwrap();
        if (m - plain).abs() > 1e-12 * plain.abs().max(1.0) {
            failures.push(format!(
                "{}: constant weights moved the mean: {m} vs {plain}",
                info.name
            ));
        }
        checked += 1;
    }
    assert!(checked >= 12, "{checked}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The f32 computation agrees with the f64 one on the same (f32-representable) inputs, value
/// and gradients, to a few thousand f32 ulps of the largest magnitude: what the kernels
/// promise, without per-loss tuning (the reference tests hold the tight per-case bounds).
#[test]
fn f32_agrees_with_f64() {
    let mut failures = Vec::new();
    for info in losskit::catalogue() {
        let mut sample = (info.sample)(24, &mut Rng::new(4));
        for a in &mut sample.arrays {
            if let SampleData::Float(v) = &mut a.data {
                v.iter_mut().for_each(|x| *x = f64::from(*x as f32));
            }
        }
        let grads = info.predictions();
        let r = info.reductions[0];
        let a = run(info, &sample, Dtype::F32, r, &grads);
        let b = run(info, &sample, Dtype::F64, r, &grads);
        let tol = 4096.0 * f64::from(f32::EPSILON);
        let (va, vb) = (a.value.unwrap(), b.value.unwrap());
        if (va - vb).abs() > tol * vb.abs().max(1.0) {
            failures.push(format!("{}: value f32 {va} vs f64 {vb}", info.name));
        }
        for ((name, ga), (_, gb)) in a.grads.iter().zip(&b.grads) {
            let (ga, gb) = (ga.to_f64(), gb.to_f64());
            // Gradients below 1e-3 (a mean over many elements) are held to an absolute
            // bound: their f32 rounding comes from the O(1) terms they are made of.
            let scale = gb.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
            let worst = ga
                .iter()
                .zip(&gb)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f64, f64::max);
            if worst > tol * scale {
                failures.push(format!(
                    "{}: gradient of `{name}` differs by {worst:e} (largest {scale:e})",
                    info.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every plot axis in the catalogue gives finite values and gradients across its range.
#[test]
fn every_plot_axis_evaluates_across_its_range() {
    let mut failures = Vec::new();
    for info in losskit::catalogue() {
        let Some(plot) = info.plot else {
            continue;
        };
        let (lo, hi) = plot.axis.range;
        let first = info.predictions()[0];
        for k in 0..=8 {
            let x = lo + (hi - lo) * f64::from(k) / 8.0;
            let arrays = (plot.at)(x).arrays(Dtype::F64);
            match evaluate_with(
                info,
                &arrays.named(),
                &Params::defaults(info),
                ReductionMode::Sum,
                &[first],
            ) {
                Ok(e) if e.value.is_some_and(f64::is_finite) => {}
                Ok(e) => failures.push(format!("{} at {x}: {:?}", info.name, e.value)),
                Err(e) => failures.push(format!("{} at {x}: {e}", info.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The types a `lib.rs` line names as [`Type`].
fn linked_types(line: &str) -> Vec<String> {
    line.split("[`")
        .skip(1)
        .filter_map(|r| r.split_once("`]").map(|(t, _)| t.to_string()))
        .collect()
}

/// `bce_with_logits` is `BceWithLogits`, `supcon` is `SupCon`: the same letters.
fn is_type_of(ty: &str, loss: &str) -> bool {
    ty.to_ascii_lowercase() == loss.replace('_', "")
}

#[test]
fn every_table_lists_every_loss() {
    let lib = include_str!("../src/lib.rs");
    let lib_table: Vec<&str> = lib.lines().filter(|l| l.starts_with("//! | ")).collect();
    let spec = include_str!("../../../docs/spec/losses.md");
    let readme = include_str!("../../../README.md");
    let mut missing = Vec::new();
    for info in losskit::catalogue() {
        let ty = lib_table
            .iter()
            .flat_map(|r| linked_types(r))
            .find(|t| is_type_of(t, info.name));
        let Some(ty) = ty else {
            missing.push(format!("lib.rs's table has no type for `{}`", info.name));
            continue;
        };
        let exported = lib
            .split("pub use ")
            .skip(1)
            .filter_map(|u| u.split_once(';'))
            .any(|(u, _)| {
                u.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == ty)
            });
        if !exported {
            missing.push(format!("lib.rs does not export {ty}"));
        }
        let row = format!("| `{}` |", info.name);
        if !spec.lines().any(|l| l.starts_with(&row)) {
            missing.push(format!("docs/spec/losses.md has no row {row}"));
        }
        let in_readme = readme
            .lines()
            .filter(|l| l.starts_with(&format!("| {} |", info.family)))
            .any(|l| l.contains(&format!("`{}`", info.name)));
        if !in_readme {
            missing.push(format!("README's table of losses misses `{}`", info.name));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
