//! The registry: the one place that names every family, and the lookups by name built on it
//! (the catalogue, [`find`], [`evaluate`]). Families sit below it and never see each other.

use crate::catalogue::{closest, LossInfo};
use crate::error::{Error, Result};
use crate::eval::{evaluate_with, Evaluation, NamedArray, Params};
use crate::reduction::ReductionMode;

/// Every family's entries, in the order `losskit list` shows them.
const FAMILIES: &[&[LossInfo]] = &[
    crate::regression::CATALOGUE,
    crate::classification::BINARY_CATALOGUE,
    crate::classification::MULTICLASS_CATALOGUE,
    crate::metric::CATALOGUE,
    crate::segmentation::CATALOGUE,
    crate::detection::CATALOGUE,
    crate::ranking::CATALOGUE,
    crate::sequence::CATALOGUE,
];

/// Every loss in the catalogue.
pub fn catalogue() -> impl Iterator<Item = &'static LossInfo> {
    FAMILIES.iter().flat_map(|f| f.iter())
}

/// The loss called `name`.
///
/// # Errors
/// [`Error::UnknownLoss`], with the closest name as a suggestion when one is close.
pub fn find(name: &str) -> Result<&'static LossInfo> {
    catalogue()
        .find(|l| l.name == name)
        .ok_or_else(|| Error::UnknownLoss {
            name: name.to_owned(),
            suggestion: closest(name, catalogue().map(|l| l.name)),
        })
}

/// Evaluates the loss called `name` on named arrays.
///
/// The compute type is f64 if the first prediction input is float64, else f32; other float
/// inputs are converted to it. Integer and boolean arrays are accepted for non-prediction
/// float inputs (a target of counts, a 0/1 mask) and converted.
///
/// # Errors
/// Everything the catalogue can tell before computing (unknown loss, input or parameter,
/// missing or duplicate input, wrong dtype, a gradient asked for a target, an unsupported
/// reduction), then whatever the loss itself rejects (shapes, values, parameter ranges).
pub fn evaluate(
    name: &str,
    inputs: &[NamedArray<'_>],
    params: &[(&str, &str)],
    reduction: ReductionMode,
    grads: &[&str],
) -> Result<Evaluation> {
    let info = find(name)?;
    let params = Params::parse(info, params)?;
    evaluate_with(info, inputs, &params, reduction, grads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::*;

    #[test]
    fn names_are_unique_snake_case_and_predictions_come_first() {
        let mut seen = std::collections::HashSet::new();
        for l in catalogue() {
            assert!(seen.insert(l.name), "duplicate {}", l.name);
            assert!(l
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
            assert_eq!(l.inputs[0].role, Role::Prediction, "{}", l.name);
            assert_eq!(l.reductions[0], ReductionMode::Mean, "{}", l.name);
            for p in l.params {
                match p.kind {
                    ParamKind::Float { default, range } => {
                        assert!(range.contains(default), "{}.{}", l.name, p.name)
                    }
                    ParamKind::Int { default, range } => {
                        assert!(range.contains(default as f64), "{}.{}", l.name, p.name)
                    }
                    ParamKind::Choice { default, options } => {
                        assert!(options.contains(&default), "{}.{}", l.name, p.name)
                    }
                    ParamKind::Bool { .. } => {}
                }
            }
        }
    }

    #[test]
    fn suggestions_find_near_misses_only() {
        assert_eq!(
            find("hubr").unwrap_err(),
            Error::UnknownLoss {
                name: "hubr".into(),
                suggestion: Some("huber")
            }
        );
        assert!(matches!(
            find("zzzzzzzz"),
            Err(Error::UnknownLoss {
                suggestion: None,
                ..
            })
        ));
    }

    #[test]
    fn ranges_display_as_written_in_the_spec() {
        assert_eq!(Range::POSITIVE.to_string(), "> 0");
        assert_eq!(Range::OPEN_UNIT.to_string(), "in (0, 1)");
        assert_eq!(Range::UNIT.to_string(), "in [0, 1]");
        assert_eq!(Range::NON_NEGATIVE.to_string(), ">= 0");
        assert!(!Range::POSITIVE.contains(f64::NAN));
        assert!(!Range::ANY.contains(f64::INFINITY));
    }

    #[test]
    fn every_sample_is_valid_input_of_its_loss() {
        use crate::eval::Dtype;
        use crate::sample::Rng;
        for l in catalogue() {
            for (size, seed) in [(1, 1), (37, 2), (1000, 3)] {
                let sample = (l.sample)(size, &mut Rng::new(seed));
                for dtype in [Dtype::F32, Dtype::F64] {
                    let arrays = sample.arrays(dtype);
                    let grads = l.predictions();
                    let e = evaluate_with(
                        l,
                        &arrays.named(),
                        &Params::defaults(l),
                        l.reductions[0],
                        &grads,
                    )
                    .unwrap_or_else(|e| panic!("{} (size {size}, {dtype:?}): {e}", l.name));
                    assert!(
                        e.value.is_some_and(f64::is_finite),
                        "{}: {:?}",
                        l.name,
                        e.value
                    );
                    assert_eq!(e.dtype, dtype, "{}", l.name);
                    assert_eq!(e.grads.len(), grads.len(), "{}", l.name);
                }
            }
        }
    }
}
