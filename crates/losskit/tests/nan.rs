//! A NaN in any float input never becomes a finite number: for every catalogue loss (so new
//! families are covered without a change here), each float input of its generated sample with
//! one element set to NaN gives either a NaN value and a NaN in every gradient asked for, or
//! an error — never a finite value.
//!
//! Two exceptions, both exact mathematics rather than hidden NaNs (PyTorch agrees):
//! - [`SELECTS`]: losses that read one entry of each row of `input` (the target class's), so a
//!   NaN elsewhere in the row is not part of the loss; there every entry is set to NaN.
//! - [`LINEAR`]: (loss, prediction) pairs in which the loss is linear, so the gradient does
//!   not involve the prediction's values at all (nll: −w at the target class; kl_div: −target).

/// Losses whose value reads only some entries of `input`.
const SELECTS: [&str; 1] = ["nll"];
/// (loss, prediction) pairs whose gradient does not depend on the prediction's values.
const LINEAR: [(&str, &str); 2] = [("nll", "input"), ("kl_div", "input")];

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
                    if SELECTS.contains(&info.name) && array.name == "input" {
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
                            Err(_) => {}
                            Ok(e) => {
                                let value = e.value.unwrap_or(0.0);
                                let grads_nan = e
                                    .grads
                                    .iter()
                                    .filter(|(n, _)| !LINEAR.contains(&(info.name, n)))
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
