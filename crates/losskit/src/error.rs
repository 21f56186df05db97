//! The one error type of losskit.

use core::fmt;

/// Everything that can go wrong when building or evaluating a loss.
///
/// Every variant carries what a user needs to find the problem: the loss, the argument, the
/// shapes or the offending value and where it sits. Messages are lowercase, with argument
/// names in backticks, and start with the loss's catalogue name.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Error {
    /// A shape with more dimensions than [`MAX_RANK`](crate::MAX_RANK) or whose element count
    /// overflows `usize`.
    InvalidShape {
        /// The dimensions given.
        dims: Vec<usize>,
        /// Why they were rejected.
        reason: &'static str,
    },
    /// A data slice whose length is not the product of the shape given with it.
    DataLength {
        /// The shape given.
        dims: Vec<usize>,
        /// The slice's length.
        len: usize,
    },
    /// An input whose shape must equal another input's (or one derived from it), and does not.
    /// Nothing is broadcast silently: `[N, 1]` against `[N]` is this error.
    ShapeMismatch {
        /// The loss.
        loss: &'static str,
        /// The argument with the wrong shape.
        arg: &'static str,
        /// Its shape.
        actual: Vec<usize>,
        /// The shape it must have.
        expected: Vec<usize>,
        /// Where the expected shape comes from, e.g. "the shape of `input`".
        because: &'static str,
    },
    /// An input whose shape breaks a rule of the loss (too few dimensions, a zero class count…).
    BadShape {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: &'static str,
        /// Its shape.
        actual: Vec<usize>,
        /// The rule, e.g. "at least 2 dimensions `[N, C, ...]`".
        expected: &'static str,
    },
    /// A gradient (or output) buffer whose length differs from the input it belongs to.
    BufferLength {
        /// The loss.
        loss: &'static str,
        /// The argument the buffer belongs to, e.g. "gradient of `input`".
        arg: &'static str,
        /// The buffer's length.
        actual: usize,
        /// The length it must have.
        expected: usize,
    },
    /// `mean` over zero elements: undefined, so an error rather than NaN.
    EmptyMean {
        /// The loss.
        loss: &'static str,
    },
    /// A parameter outside its range (NaN and infinities included).
    InvalidParam {
        /// The loss.
        loss: &'static str,
        /// The parameter.
        param: &'static str,
        /// The value given.
        value: f64,
        /// The range, e.g. "> 0 and finite".
        expected: &'static str,
    },
    /// An element of an input outside its domain (a class index out of range, a negative
    /// variance, a binary target outside [0, 1]…).
    InvalidValue {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: &'static str,
        /// The element's position (row-major multi-index).
        index: Vec<usize>,
        /// The element's value.
        value: f64,
        /// The domain, e.g. "a value in [0, 1]".
        expected: &'static str,
    },
    /// A bounding box that is not one: inverted (x2 < x1 or y2 < y1), a negative width or
    /// height, or a non-finite coordinate.
    InvalidBox {
        /// The loss.
        loss: &'static str,
        /// The argument (`input` or `target`).
        arg: &'static str,
        /// The box's row.
        row: usize,
        /// Its four numbers, as given.
        coords: [f64; 4],
        /// The box format they were read in (`xyxy`, `xywh`, `cxcywh`).
        format: &'static str,
        /// What is wrong, e.g. "x2 < x1 (an inverted box)".
        problem: &'static str,
    },
    /// [`InvalidValue`](Error::InvalidValue) for an integer element (a class index, a count),
    /// printed exactly (an `f64` would round `2^62 + 1`).
    InvalidInteger {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: &'static str,
        /// The element's position (row-major multi-index).
        index: Vec<usize>,
        /// The element's value (counts above `i64::MAX` saturate; none reach there).
        value: i128,
        /// The domain, e.g. "a class index in [0, C)".
        expected: &'static str,
    },
    /// [`InvalidParam`](Error::InvalidParam) for an integer parameter, printed exactly.
    InvalidIntParam {
        /// The loss.
        loss: &'static str,
        /// The parameter.
        param: &'static str,
        /// The value given.
        value: i128,
        /// The range.
        expected: &'static str,
    },
    /// `batchmean` over an empty batch (a first dimension of 0): undefined, so an error.
    EmptyBatchMean {
        /// The loss.
        loss: &'static str,
    },
    /// An input with more dimensions than [`MAX_RANK`](crate::MAX_RANK).
    TooManyDims {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: &'static str,
        /// Its number of dimensions.
        rank: usize,
    },
    /// A class-imbalance weight that would be infinite: a class with no samples (or, for
    /// `pos_weight`, a label with no positive samples), or no samples at all.
    /// See [`weights`](crate::weights).
    ZeroCount {
        /// The helper: `"weights"`.
        loss: &'static str,
        /// The input the counts come from: `counts`, `labels`, `positives` or `targets`.
        arg: &'static str,
        /// The class (or label) with no samples; `None` when every class has none.
        class: Option<usize>,
        /// The scheme whose weight would be infinite: `inverse`, `inverse_sqrt`,
        /// `effective` or `pos_weight`.
        scheme: &'static str,
    },
    /// A loss name that is not in the catalogue.
    UnknownLoss {
        /// The name given.
        name: String,
        /// The closest catalogue name, when one is close.
        suggestion: Option<&'static str>,
    },
    /// An input name the loss does not take.
    UnknownInput {
        /// The loss.
        loss: &'static str,
        /// The name given.
        name: String,
        /// The names it takes.
        known: Vec<&'static str>,
    },
    /// A required input that was not given.
    MissingInput {
        /// The loss.
        loss: &'static str,
        /// The input.
        name: &'static str,
    },
    /// The same input given twice.
    DuplicateInput {
        /// The loss.
        loss: &'static str,
        /// The input.
        name: &'static str,
    },
    /// A parameter name the loss does not take.
    UnknownParam {
        /// The loss.
        loss: &'static str,
        /// The name given.
        name: String,
        /// The names it takes.
        known: Vec<&'static str>,
    },
    /// A parameter value that does not parse as the parameter's type.
    ParamParse {
        /// The loss.
        loss: &'static str,
        /// The parameter.
        param: &'static str,
        /// The text given.
        value: String,
        /// What was expected, e.g. "a number".
        expected: &'static str,
    },
    /// An input of an element type the loss cannot take there.
    Dtype {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: &'static str,
        /// Its dtype.
        actual: &'static str,
        /// What the argument takes, e.g. "float32 or float64".
        expected: &'static str,
    },
    /// A gradient asked for an input that is not a prediction (a target, a weight…).
    NotDifferentiable {
        /// The loss.
        loss: &'static str,
        /// The argument.
        arg: String,
        /// The inputs that do have gradients.
        predictions: Vec<&'static str>,
    },
    /// A gradient asked for twice (two buffers, or the name twice, for one prediction).
    DuplicateGrad {
        /// The loss.
        loss: &'static str,
        /// The prediction.
        arg: &'static str,
    },
    /// A caller-owned gradient buffer ([`evaluate_into`](crate::evaluate_into)) whose type is
    /// not the prediction's dtype (f32 buffers need float32, f64 buffers float64; float16 and
    /// bfloat16 predictions go through [`evaluate_with`](crate::evaluate_with), which converts).
    GradDtype {
        /// The loss.
        loss: &'static str,
        /// The prediction.
        arg: &'static str,
        /// The buffers' type, `"f32"` or `"f64"`.
        buffer: &'static str,
        /// The prediction's dtype.
        actual: &'static str,
    },
    /// A caller-owned gradient buffer whose length is not its prediction's.
    GradLength {
        /// The loss.
        loss: &'static str,
        /// The prediction.
        arg: &'static str,
        /// The buffer's length.
        actual: usize,
        /// The prediction's length.
        expected: usize,
    },
    /// A Hessian ([`evaluate_hess`](crate::evaluate_hess)) asked of a loss without one
    /// ([`LossInfo::hessian`](crate::LossInfo::hessian) is `None`).
    NoHessian {
        /// The loss.
        loss: &'static str,
    },
    /// A curvature policy name that is not `exact`, `xgboost` or `lightgbm`.
    UnknownCurvature {
        /// The name given.
        name: String,
    },
    /// A cotangent given with a reduction other than `none`.
    CotangentReduction {
        /// The loss.
        loss: &'static str,
        /// The reduction given.
        reduction: &'static str,
    },
    /// A cotangent without one value per element of the unreduced loss.
    CotangentLength {
        /// The loss.
        loss: &'static str,
        /// The cotangent's length.
        actual: usize,
        /// The shape of the unreduced loss.
        expected: Vec<usize>,
    },
    /// `mean` of an in-batch metric loss (`batch_hard_triplet`, `supcon`) where no anchor of a
    /// non-empty batch has what the loss needs (a positive, a negative).
    NoAnchor {
        /// The loss.
        loss: &'static str,
        /// What every anchor lacks, e.g. "a positive (another row with its label)".
        why: &'static str,
    },
    /// A reduction the loss does not define (e.g. `batchmean` outside `kl_div`).
    UnsupportedReduction {
        /// The loss.
        loss: &'static str,
        /// The reduction given.
        reduction: String,
        /// The reductions it takes.
        supported: Vec<&'static str>,
    },
    /// A task name the decision guide (`losskit::guide`) does not know.
    UnknownTask {
        /// The name given.
        name: String,
        /// The tasks it knows.
        known: Vec<&'static str>,
    },
    /// Two conditions given to the decision guide that contradict each other.
    ConflictingConditions {
        /// One condition.
        first: &'static str,
        /// The other.
        second: &'static str,
        /// Why they cannot both hold.
        why: &'static str,
    },
    /// A condition that means nothing for the task it was given with.
    ConditionNotApplicable {
        /// The condition.
        condition: &'static str,
        /// The task.
        task: &'static str,
        /// The tasks it applies to.
        applies_to: &'static str,
    },
    /// A gradient check ([`gradcheck`](crate::gradcheck)) met a loss or gradient that is not
    /// finite.
    NonFiniteLoss {
        /// The loss (`custom` for a user's loss).
        loss: String,
        /// The input.
        arg: String,
        /// The flat index of the element.
        index: usize,
        /// The value met.
        value: f64,
        /// Where: at the point, next to it, in the analytic gradient.
        what: &'static str,
    },
}

/// `` `a`, `b`, `c` ``.
struct Names<'a>(&'a [&'static str]);

impl fmt::Display for Names<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{n}`")?;
        }
        Ok(())
    }
}

/// A shape for a message: in full up to 12 dimensions, else the first 8 and the count (a
/// message stays one short line whatever the input).
struct Dims<'a>(&'a [usize]);

impl fmt::Display for Dims<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 12 {
            write!(f, "{:?}", self.0)
        } else {
            let head: Vec<String> = self.0[..8].iter().map(usize::to_string).collect();
            write!(f, "[{}, … ({} dimensions)]", head.join(", "), self.0.len())
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidShape { dims, reason } => {
                write!(f, "invalid shape {}: {reason}", Dims(dims))
            }
            Error::InvalidIntParam { loss, param, value, expected } => {
                write!(f, "{loss}: `{param}` must be {expected}, got {value}")
            }
            Error::EmptyBatchMean { loss } => write!(
                f,
                "{loss}: reduction `batchmean` over an empty batch is undefined; use `sum` or a non-empty batch"
            ),
            Error::TooManyDims { loss, arg, rank } => write!(
                f,
                "{loss}: `{arg}` has {rank} dimensions; at most {} are supported",
                crate::MAX_RANK
            ),
            Error::DataLength { dims, len } => write!(
                f,
                "data of length {len} does not fit shape {} ({} elements)",
                Dims(dims),
                dims.iter()
                    .try_fold(1usize, |n, &d| n.checked_mul(d))
                    .map_or_else(|| "too many".to_owned(), |n| n.to_string())
            ),
            Error::ShapeMismatch { loss, arg, actual, expected, because } => write!(
                f,
                "{loss}: `{arg}` has shape {actual:?}, expected {expected:?} ({because}); nothing is broadcast"
            ),
            Error::BadShape { loss, arg, actual, expected } => {
                write!(f, "{loss}: `{arg}` has shape {actual:?}, expected {expected}")
            }
            Error::BufferLength { loss, arg, actual, expected } => write!(
                f,
                "{loss}: the buffer for the {arg} has length {actual}, expected {expected}"
            ),
            Error::EmptyMean { loss } => write!(
                f,
                "{loss}: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch"
            ),
            Error::InvalidParam { loss, param, value, expected } => {
                write!(f, "{loss}: `{param}` must be {expected}, got {value}")
            }
            Error::InvalidValue { loss, arg, index, value, expected } => write!(
                f,
                "{loss}: `{arg}` at {index:?} is {value}, expected {expected}"
            ),
            Error::InvalidBox { loss, arg, row, coords, format, problem } => write!(
                f,
                "{loss}: `{arg}` row {row} is {coords:?} in format `{format}`: {problem}"
            ),
            Error::InvalidInteger { loss, arg, index, value, expected } => write!(
                f,
                "{loss}: `{arg}` at {index:?} is {value}, expected {expected}"
            ),
            Error::ZeroCount { loss, arg, class: Some(c), scheme: "pos_weight" } => write!(
                f,
                "{loss}: label {c} has no positive samples in `{arg}`, so its `pos_weight` would be infinite; set the absent policy to `zero` to give it weight 0"
            ),
            Error::ZeroCount { loss, arg, class: Some(c), scheme } => write!(
                f,
                "{loss}: class {c} has no samples in `{arg}`, so its `{scheme}` weight would be infinite; set the absent policy to `zero` to give it weight 0"
            ),
            Error::ZeroCount { loss, arg, class: None, scheme } => write!(
                f,
                "{loss}: every class has count 0 in `{arg}`, so the `{scheme}` weights are undefined"
            ),
            Error::UnknownLoss { name, suggestion } => {
                write!(f, "unknown loss `{name}`")?;
                if let Some(s) = suggestion {
                    write!(f, "; did you mean `{s}`?")?;
                }
                write!(f, " (`losskit list` shows the catalogue)")
            }
            Error::UnknownInput { loss, name, known } => write!(
                f,
                "{loss}: unknown input `{name}`; it takes {}",
                Names(known)
            ),
            Error::MissingInput { loss, name } => {
                write!(f, "{loss}: missing required input `{name}`")
            }
            Error::DuplicateInput { loss, name } => {
                write!(f, "{loss}: input `{name}` is given more than once")
            }
            Error::UnknownParam { loss, name, known } => {
                if known.is_empty() {
                    write!(f, "{loss}: unknown parameter `{name}`; this loss has no parameters")
                } else {
                    write!(f, "{loss}: unknown parameter `{name}`; it takes {}", Names(known))
                }
            }
            Error::ParamParse { loss, param, value, expected } => {
                write!(f, "{loss}: `{param}` must be {expected}, got `{value}`")
            }
            Error::Dtype { loss, arg, actual, expected } => {
                write!(f, "{loss}: `{arg}` has dtype {actual}, expected {expected}")
            }
            Error::DuplicateGrad { loss, arg } => {
                write!(f, "{loss}: the gradient of `{arg}` is asked for more than once")
            }
            Error::GradDtype { loss, arg, buffer, actual } => write!(
                f,
                "{loss}: `{arg}` is {actual} but the gradient buffers are {buffer}; caller-owned buffers take the prediction's own dtype (f32 for float32, f64 for float64; float16 and bfloat16 go through `evaluate_with`)"
            ),
            Error::GradLength { loss, arg, actual, expected } => write!(
                f,
                "{loss}: the gradient buffer for `{arg}` has length {actual}, expected {expected} (the length of `{arg}`)"
            ),
            Error::NoHessian { loss } => write!(
                f,
                "{loss}: no Hessian is defined for this loss; the catalogue marks the losses that have one (`LossInfo::hessian`, `losskit explain`)"
            ),
            Error::UnknownCurvature { name } => write!(
                f,
                "unknown curvature policy `{name}`; policies are `exact`, `xgboost`, `lightgbm`"
            ),
            Error::CotangentReduction { loss, reduction } => write!(
                f,
                "{loss}: a cotangent is taken with reduction `none` only, not `{reduction}`"
            ),
            Error::CotangentLength { loss, actual, expected } => write!(
                f,
                "{loss}: the cotangent has {actual} values, expected {} (one per element of the unreduced loss, shape {expected:?})",
                expected.iter().product::<usize>()
            ),
            Error::NotDifferentiable { loss, arg, predictions } => write!(
                f,
                "{loss}: `{arg}` has no gradient (it is not a prediction); gradients exist for {}",
                Names(predictions)
            ),
            Error::NoAnchor { loss, why } => write!(
                f,
                "{loss}: reduction `mean` is undefined: no anchor in the batch has {why}; use `sum` or a batch with repeated labels"
            ),
            Error::UnsupportedReduction { loss, reduction, supported } => write!(
                f,
                "{loss}: reduction `{reduction}` is not supported; it takes {}",
                Names(supported)
            ),
            Error::UnknownTask { name, known } => {
                write!(f, "recommend: unknown task `{name}`; tasks are {}", Names(known))
            }
            Error::ConflictingConditions { first, second, why } => {
                write!(f, "recommend: `{first}` contradicts `{second}`: {why}")
            }
            Error::ConditionNotApplicable { condition, task, applies_to } => write!(
                f,
                "recommend: `{condition}` does not apply to task `{task}` (only to {applies_to})"
            ),
            Error::NonFiniteLoss { loss, arg, index, value, what } => write!(
                f,
                "{loss}: gradcheck met {value} {what} (`{arg}` element {index}); central differences need a finite loss around the point"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The usual `Result` of losskit.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// [`Error::BufferLength`] unless a caller's gradient or output buffer has the length of
/// the input it belongs to.
pub(crate) fn check_buffer(
    loss: &'static str,
    arg: &'static str,
    actual: usize,
    expected: usize,
) -> Result<()> {
    if actual != expected {
        return Err(Error::BufferLength {
            loss,
            arg,
            actual,
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's exact text: these messages are the user interface of bad input.
    #[test]
    fn messages_are_exact() {
        let cases: Vec<(Error, &str)> = vec![
            (
                Error::NoHessian { loss: "dice" },
                "dice: no Hessian is defined for this loss; the catalogue marks the losses that have one (`LossInfo::hessian`, `losskit explain`)",
            ),
            (
                Error::UnknownCurvature { name: "newton".into() },
                "unknown curvature policy `newton`; policies are `exact`, `xgboost`, `lightgbm`",
            ),
            (
                Error::UnknownTask { name: "clasification".into(), known: vec!["binary", "multiclass"] },
                "recommend: unknown task `clasification`; tasks are `binary`, `multiclass`",
            ),
            (
                Error::ConflictingConditions {
                    first: "--gaussian",
                    second: "--outliers",
                    why: "Gaussian errors have no outliers",
                },
                "recommend: `--gaussian` contradicts `--outliers`: Gaussian errors have no outliers",
            ),
            (
                Error::ConditionNotApplicable {
                    condition: "--small-objects",
                    task: "regression",
                    applies_to: "segmentation",
                },
                "recommend: `--small-objects` does not apply to task `regression` (only to segmentation)",
            ),
            (
                Error::NonFiniteLoss {
                    loss: "custom".into(),
                    arg: "x".into(),
                    index: 2,
                    value: f64::INFINITY,
                    what: "next to the point checked",
                },
                "custom: gradcheck met inf next to the point checked (`x` element 2); central differences need a finite loss around the point",
            ),
            (
                Error::InvalidShape { dims: vec![1; 9], reason: "more than 8 dimensions" },
                "invalid shape [1, 1, 1, 1, 1, 1, 1, 1, 1]: more than 8 dimensions",
            ),
            (
                Error::DataLength { dims: vec![2, 3], len: 5 },
                "data of length 5 does not fit shape [2, 3] (6 elements)",
            ),
            (
                Error::ShapeMismatch {
                    loss: "huber",
                    arg: "target",
                    actual: vec![4, 1],
                    expected: vec![4],
                    because: "the shape of `input`",
                },
                "huber: `target` has shape [4, 1], expected [4] (the shape of `input`); nothing is broadcast",
            ),
            (
                Error::BadShape {
                    loss: "cross_entropy",
                    arg: "input",
                    actual: vec![7],
                    expected: "at least 2 dimensions `[N, C, ...]`",
                },
                "cross_entropy: `input` has shape [7], expected at least 2 dimensions `[N, C, ...]`",
            ),
            (
                Error::BufferLength {
                    loss: "mse",
                    arg: "gradient of `input`",
                    actual: 3,
                    expected: 4,
                },
                "mse: the buffer for the gradient of `input` has length 3, expected 4",
            ),
            (
                Error::InvalidBox {
                    loss: "giou",
                    arg: "input",
                    row: 3,
                    coords: [2.0, 0.0, 1.0, 1.5],
                    format: "xyxy",
                    problem: "x2 < x1 (an inverted box)",
                },
                "giou: `input` row 3 is [2.0, 0.0, 1.0, 1.5] in format `xyxy`: x2 < x1 (an inverted box)",
            ),
            (
                Error::EmptyMean { loss: "mae" },
                "mae: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch",
            ),
            (
                Error::InvalidParam {
                    loss: "huber",
                    param: "delta",
                    value: -1.0,
                    expected: "> 0 and finite",
                },
                "huber: `delta` must be > 0 and finite, got -1",
            ),
            (
                Error::InvalidParam {
                    loss: "quantile",
                    param: "tau",
                    value: f64::NAN,
                    expected: "in (0, 1)",
                },
                "quantile: `tau` must be in (0, 1), got NaN",
            ),
            (
                Error::InvalidValue {
                    loss: "gaussian_nll",
                    arg: "var",
                    index: vec![1, 2],
                    value: -0.5,
                    expected: "a variance >= 0",
                },
                "gaussian_nll: `var` at [1, 2] is -0.5, expected a variance >= 0",
            ),
            (
                Error::ZeroCount {
                    loss: "weights",
                    arg: "counts",
                    class: Some(2),
                    scheme: "inverse",
                },
                "weights: class 2 has no samples in `counts`, so its `inverse` weight would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                Error::ZeroCount {
                    loss: "weights",
                    arg: "targets",
                    class: Some(4),
                    scheme: "pos_weight",
                },
                "weights: label 4 has no positive samples in `targets`, so its `pos_weight` would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                Error::ZeroCount { loss: "weights", arg: "counts", class: None, scheme: "effective" },
                "weights: every class has count 0 in `counts`, so the `effective` weights are undefined",
            ),
            (
                Error::UnknownLoss { name: "hubr".into(), suggestion: Some("huber") },
                "unknown loss `hubr`; did you mean `huber`? (`losskit list` shows the catalogue)",
            ),
            (
                Error::UnknownLoss { name: "zzz".into(), suggestion: None },
                "unknown loss `zzz` (`losskit list` shows the catalogue)",
            ),
            (
                Error::UnknownInput {
                    loss: "huber",
                    name: "inpt".into(),
                    known: vec!["input", "target", "weight"],
                },
                "huber: unknown input `inpt`; it takes `input`, `target`, `weight`",
            ),
            (
                Error::MissingInput { loss: "huber", name: "target" },
                "huber: missing required input `target`",
            ),
            (
                Error::DuplicateInput { loss: "huber", name: "target" },
                "huber: input `target` is given more than once",
            ),
            (
                Error::UnknownParam { loss: "huber", name: "delt".into(), known: vec!["delta"] },
                "huber: unknown parameter `delt`; it takes `delta`",
            ),
            (
                Error::UnknownParam { loss: "mse", name: "delta".into(), known: vec![] },
                "mse: unknown parameter `delta`; this loss has no parameters",
            ),
            (
                Error::ParamParse {
                    loss: "huber",
                    param: "delta",
                    value: "abc".into(),
                    expected: "a number",
                },
                "huber: `delta` must be a number, got `abc`",
            ),
            (
                Error::Dtype {
                    loss: "mse",
                    arg: "input",
                    actual: "int64",
                    expected: "float32 or float64",
                },
                "mse: `input` has dtype int64, expected float32 or float64",
            ),
            (
                Error::NotDifferentiable {
                    loss: "gaussian_nll",
                    arg: "target".into(),
                    predictions: vec!["input", "var"],
                },
                "gaussian_nll: `target` has no gradient (it is not a prediction); gradients exist for `input`, `var`",
            ),
            (
                Error::DuplicateGrad { loss: "huber", arg: "input" },
                "huber: the gradient of `input` is asked for more than once",
            ),
            (
                Error::GradDtype { loss: "huber", arg: "input", buffer: "f32", actual: "float64" },
                "huber: `input` is float64 but the gradient buffers are f32; caller-owned buffers take the prediction's own dtype (f32 for float32, f64 for float64; float16 and bfloat16 go through `evaluate_with`)",
            ),
            (
                Error::GradLength { loss: "gaussian_nll", arg: "var", actual: 3, expected: 4 },
                "gaussian_nll: the gradient buffer for `var` has length 3, expected 4 (the length of `var`)",
            ),
            (
                Error::CotangentReduction { loss: "dice", reduction: "mean" },
                "dice: a cotangent is taken with reduction `none` only, not `mean`",
            ),
            (
                Error::CotangentLength { loss: "cross_entropy", actual: 5, expected: vec![2, 3] },
                "cross_entropy: the cotangent has 5 values, expected 6 (one per element of the unreduced loss, shape [2, 3])",
            ),
            (
                Error::UnsupportedReduction {
                    loss: "huber",
                    reduction: "batchmean".into(),
                    supported: vec!["mean", "sum", "none"],
                },
                "huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`",
            ),
            (
                Error::NoAnchor { loss: "supcon", why: "a positive (another row with its label)" },
                "supcon: reduction `mean` is undefined: no anchor in the batch has a positive (another row with its label); use `sum` or a batch with repeated labels",
            ),
        ];
        for (err, text) in cases {
            assert_eq!(err.to_string(), text);
        }
    }
}
