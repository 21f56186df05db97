//! A NaN in any float input never becomes a finite number: for every catalogue loss (so new
//! families are covered without a change here), each float input of its generated sample with
//! one element set to NaN gives a NaN value and a NaN in every gradient asked for — never a
//! finite value, and never an error except for the label inputs its catalogue entry refuses
//! (the rule of `docs/spec/losses.md`, stated once for the whole catalogue).
//!
//! The exceptions are each loss's [`NanRule`](losskit::NanRule) in the catalogue, both exact
//! mathematics rather than hidden NaNs (PyTorch agrees) or a label contract:
//! - `selects`: losses that read one entry of each row of `input` (the target class's), so a
//!   NaN elsewhere in the row is not part of the loss; there every entry is set to NaN.
//! - `linear_in`: predictions in which the loss is linear, so the gradient does not involve
//!   the prediction's values at all (nll: −w at the target class; kl_div: −target).
//! - `refused`: label inputs whose contract is a discrete set, where a NaN is an invalid label
//!   like any other value outside the set (a class index out of range is refused the same
//!   way). Every prediction, and every float input whose values are free (soft targets,
//!   weights, variances, boxes), propagates it.

use losskit::sample::{Rng, SampleData};
use losskit::{evaluate_with, Dtype, Params, ReductionMode};

#[test]
fn a_nan_in_any_float_input_reaches_the_value_and_the_gradients() {
    let mut failures = Vec::new();
    for info in losskit::catalogue() {
        let base = (info.sample)(12, &mut Rng::new(7));
        let predictions = info.predictions();
        for (k, array) in base.arrays.iter().enumerate() {
            let SampleData::Float(values) = &array.data else {
                continue;
            };
            for at in [0, values.len().saturating_sub(1)] {
                if values.is_empty() {
                    continue;
                }
                let mut sample = base.clone();
                if let SampleData::Float(v) = &mut sample.arrays[k].data {
                    if info.nan.selects && array.name == "input" {
                        v.fill(f64::NAN);
                    } else {
                        v[at] = f64::NAN;
                    }
                }
                for dtype in [Dtype::F32, Dtype::F64] {
                    let arrays = sample.arrays(dtype);
                    let reductions = [ReductionMode::Mean, ReductionMode::Sum]
                        .into_iter()
                        .filter(|r| info.reductions.contains(r));
                    for reduction in reductions {
                        let params = Params::defaults(info);
                        match evaluate_with(info, &arrays.named(), &params, reduction, &predictions)
                        {
                            Err(e) if !info.nan.refused.iter().any(|(a, _)| *a == array.name) => {
                                failures.push(format!(
                                    "{} {:?} {}: NaN in `{}`[{at}] was refused: {e}",
                                    info.name,
                                    dtype,
                                    reduction.name(),
                                    array.name
                                ));
                            }
                            Err(_) => {}
                            Ok(e) => {
                                let value = e.value.unwrap_or(0.0);
                                let grads_nan = e
                                    .grads
                                    .iter()
                                    .filter(|(n, _)| !info.nan.linear_in.contains(n))
                                    .all(|(_, g)| g.to_f64().iter().any(|x| x.is_nan()));
                                if !value.is_nan() || !grads_nan {
                                    failures.push(format!(
                                        "{} {:?} {}: NaN in `{}`[{at}] gave value {value}, NaN in every gradient: {grads_nan}",
                                        info.name,
                                        dtype,
                                        reduction.name(),
                                        array.name
                                    ));
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
