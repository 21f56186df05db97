//! # losskit-burn
//!
//! Every [losskit] loss on burn [`Tensor`]s, differentiable with burn's autodiff. This crate
//! converts and dispatches; the core computes.
//!
//! ```
//! use burn::tensor::{Device, Int, Tensor};
//! use losskit_burn::{loss, ReductionMode};
//!
//! let dev = Device::flex().autodiff();
//! let x = Tensor::<2>::from_floats([[0.5, -2.0], [3.0, 0.0]], &dev).require_grad();
//! let t = Tensor::<2>::from_floats([[1.0, 0.0], [1.0, 1.0]], &dev);
//! // The generic entry: any catalogue loss by name, parameters by name.
//! let focal = loss("focal")?.param("gamma", 2.0)?.reduction(ReductionMode::Sum);
//! let l = focal.forward(vec![("input", x.clone().into()), ("target", t.clone().into())])?;
//! let grads = l.backward();
//! assert_eq!(x.grad(&grads).map(|g| g.dims()), Some([2, 2]));
//! // The same loss as a generated function and a config struct with the catalogue's defaults.
//! let a = losskit_burn::losses::focal(x.clone(), t.clone())?;
//! let b = losskit_burn::losses::Focal { gamma: 2.0, ..Default::default() };
//! let b = b.forward(x, t, None)?;
//! assert_eq!(a.into_scalar::<f32>(), b.into_scalar::<f32>());
//! # Ok::<(), losskit_burn::Error>(())
//! ```
//!
//! ## Paths
//! - **Fused** (the CPU backend `flex`, with or without autodiff): a burn backend extension
//!   whose forward runs the core's fused value-and-gradient kernel once and keeps the
//!   gradient for its custom `Backward`, which scales it by the upstream gradient. With
//!   reduction `none` the backward runs the core's exact vector-Jacobian product with the
//!   upstream gradient instead. Predictions may be f32 or f64 (f16 and bf16 are computed in
//!   f32); targets, weights and labels are copied to the host and ride along without
//!   gradients.
//! - **Composed** (any device): burn tensor ops in stable forms, for [`COMPOSED`] (mse, l2,
//!   mae, huber, smooth_l1, bce_with_logits, focal, cross_entropy with index targets, dice),
//!   with the core's subgradients at the kinks. [`Path::Composed`] forces it (on the CPU too,
//!   to test it).
//! - On any other device (wgpu, CUDA, the CubeCL CPU backend…), [`Path::Auto`] takes the
//!   composed path where it exists and otherwise moves the inputs to the `flex` device, runs
//!   the fused path there and moves the loss back (`to_device` is differentiable, so the
//!   gradients arrive on the original device). Never an error, at the price of a round trip.
//!
//! ## Errors
//! The core's errors (naming the loss, the argument, the shapes or values) arrive as an
//! [`Error`] with the core's text; nothing panics on user data.
#![deny(missing_docs)]

mod composed;
mod fused;

// The README's snippet compiles and runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// One generated set of items per catalogue loss (`build.rs` writes them from
/// [`losskit::catalogue()`], so a loss added to the core appears here without a line of
/// adapter code):
/// - a config struct named after the loss (`Focal`) whose fields are the catalogue's
///   parameters with their defaults, plus `reduction` and `path`, with a `forward` taking
///   the loss's inputs and an `init` that checks the parameters;
/// - the checked loss `init` returns (`FocalLoss`), to keep as a field of a model;
/// - a function (`focal`) taking its required inputs, at the defaults, reduced by the
///   catalogue's first reduction;
/// - for the losses a model usually holds (cross_entropy, focal, dice, bce_with_logits),
///   burn-nn's name for the config too: `FocalLossConfig { gamma: 2.0, ..Default::default()
///   }.init()?`.
#[allow(clippy::too_many_arguments)]
pub mod losses {
    use burn::tensor::Tensor;

    use crate::{Input, Path, ReductionMode, Result};

    include!(concat!(env!("OUT_DIR"), "/losses.rs"));
}

pub use composed::COMPOSED;
pub use losskit::{LossInfo, ReductionMode};

use burn::tensor::{Bool, DType, Device, Int, Tensor};
use losskit::{Params, Role};

/// An error of this crate: the core's (with its text) or the adapter's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
}

impl Error {
    pub(crate) fn msg(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<losskit::Error> for Error {
    fn from(e: losskit::Error) -> Error {
        Error::msg(e.to_string())
    }
}

/// This crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

/// Which implementation evaluates a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Path {
    /// The fused path on the `flex` device; on other devices the composed path where the loss
    /// has one, else the fused path through a move to `flex` and back.
    #[default]
    Auto,
    /// The fused path (through the `flex` device when the inputs live elsewhere).
    Fused,
    /// The composed burn ops on the inputs' device; an error for a loss (or parameter value,
    /// or input shape) without one.
    Composed,
}

/// A parameter value for [`Loss::param`]: the core's [`losskit::ParamArg`].
pub use losskit::ParamArg as Param;

/// One input of a loss, of any rank and kind: a float tensor (`Tensor<D>`), class indices
/// (`Tensor<D, Int>`) or a mask (`Tensor<D, Bool>`). Made with `.into()`; held flattened,
/// with its dimensions.
#[derive(Debug, Clone)]
pub struct Input {
    pub(crate) data: InputData,
    pub(crate) dims: Vec<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum InputData {
    Float(Tensor<1>),
    Int(Tensor<1, Int>),
    Bool(Tensor<1, Bool>),
}

impl<const D: usize> From<Tensor<D>> for Input {
    fn from(t: Tensor<D>) -> Input {
        let dims = t.dims().to_vec();
        let n = dims.iter().product::<usize>();
        Input {
            data: InputData::Float(t.reshape([n])),
            dims,
        }
    }
}

impl<const D: usize> From<Tensor<D, Int>> for Input {
    fn from(t: Tensor<D, Int>) -> Input {
        let dims = t.dims().to_vec();
        let n = dims.iter().product::<usize>();
        Input {
            data: InputData::Int(t.reshape([n])),
            dims,
        }
    }
}

impl<const D: usize> From<Tensor<D, Bool>> for Input {
    fn from(t: Tensor<D, Bool>) -> Input {
        let dims = t.dims().to_vec();
        let n = dims.iter().product::<usize>();
        Input {
            data: InputData::Bool(t.reshape([n])),
            dims,
        }
    }
}

impl<const D: usize> From<&Tensor<D>> for Input {
    fn from(t: &Tensor<D>) -> Input {
        t.clone().into()
    }
}

impl<const D: usize> From<&Tensor<D, Int>> for Input {
    fn from(t: &Tensor<D, Int>) -> Input {
        t.clone().into()
    }
}

impl Input {
    /// A float input of runtime rank: its elements flattened (row-major) and its dimensions.
    /// Gradients arrive on `flat`.
    ///
    /// # Errors
    /// `dims` not holding `flat`'s element count.
    pub fn float_flat(flat: Tensor<1>, dims: &[usize]) -> Result<Input> {
        Input::checked(InputData::Float(flat.clone()), flat.dims()[0], dims)
    }

    /// [`Input::float_flat`] for class indices.
    ///
    /// # Errors
    /// As [`Input::float_flat`].
    pub fn int_flat(flat: Tensor<1, Int>, dims: &[usize]) -> Result<Input> {
        Input::checked(InputData::Int(flat.clone()), flat.dims()[0], dims)
    }

    fn checked(data: InputData, n: usize, dims: &[usize]) -> Result<Input> {
        if dims.iter().product::<usize>() != n {
            return Err(Error::msg(format!(
                "{n} elements cannot have the dimensions {dims:?}"
            )));
        }
        Ok(Input {
            data,
            dims: dims.to_vec(),
        })
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        &self.dims
    }

    pub(crate) fn device(&self) -> Device {
        match &self.data {
            InputData::Float(t) => t.device(),
            InputData::Int(t) => t.device(),
            InputData::Bool(t) => t.device(),
        }
    }

    /// The core's (NumPy's) name of the dtype.
    pub(crate) fn dtype_name(&self) -> &'static str {
        let d = match &self.data {
            InputData::Float(t) => t.dtype(),
            InputData::Int(t) => t.dtype(),
            InputData::Bool(_) => return "bool",
        };
        dtype_name(d)
    }
}

/// The core's (NumPy's) name of a burn dtype.
pub(crate) fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F64 => "float64",
        DType::F32 | DType::Flex32 => "float32",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
        DType::I64 => "int64",
        DType::I32 => "int32",
        DType::I16 => "int16",
        DType::I8 => "int8",
        DType::U64 => "uint64",
        DType::U32 => "uint32",
        DType::U16 => "uint16",
        DType::U8 => "uint8",
        DType::Bool(_) => "bool",
        _ => "an unsupported dtype",
    }
}

/// Whether `device` is the `flex` CPU device (with or without autodiff).
pub(crate) fn is_flex(device: &Device) -> bool {
    device.clone().without_autodiff() == Device::flex()
}

/// A catalogue loss with its parameters, reduction and path: built by [`loss`].
#[derive(Debug, Clone)]
pub struct Loss {
    info: &'static LossInfo,
    text: Vec<(String, String)>,
    params: Params,
    reduction: ReductionMode,
    path: Path,
}

/// The catalogue loss `name` at its default parameters, reduced by its default reduction
/// (the first the catalogue lists: `mean`), on [`Path::Auto`].
///
/// # Errors
/// An unknown name, with the catalogue's did-you-mean.
pub fn loss(name: &str) -> Result<Loss> {
    let info = losskit::find(name)?;
    Ok(Loss {
        info,
        text: Vec::new(),
        params: Params::defaults(info),
        reduction: info
            .reductions
            .first()
            .copied()
            .unwrap_or(ReductionMode::Mean),
        path: Path::Auto,
    })
}

/// `loss(name)` with `params`, reduced by `reduction`, on `inputs` (name, tensor).
///
/// # Errors
/// As [`loss`], [`Loss::param`] and [`Loss::forward`].
pub fn evaluate(
    name: &str,
    inputs: Vec<(&str, Input)>,
    params: &[(&str, Param)],
    reduction: ReductionMode,
) -> Result<Tensor<1>> {
    let mut l = loss(name)?.reduction(reduction);
    for (k, v) in params {
        l = l.param(k, v.clone())?;
    }
    l.forward(inputs)
}

/// The parameters' ranges, checked by the core itself: the loss runs once on a small
/// sample of the catalogue's (the core checks ranges in each loss's constructor, so this is
/// the core's own check and text, not a copy of it).
pub(crate) fn check_params(l: &Loss) -> Result<()> {
    let s = (l.info.sample)(4, &mut losskit::sample::Rng::new(19));
    let arrays = s.arrays(losskit::Dtype::F64);
    match losskit::evaluate_with(l.info, &arrays.named(), &l.params, l.reduction, &[]) {
        Err(e @ (losskit::Error::InvalidParam { .. } | losskit::Error::InvalidIntParam { .. })) => {
            Err(e.into())
        }
        _ => Ok(()),
    }
}

impl Loss {
    /// The loss's catalogue entry (inputs, parameters with defaults and ranges, formula…).
    pub fn info(&self) -> &'static LossInfo {
        self.info
    }

    /// Sets parameter `name` (checked against the catalogue now; its range when evaluated).
    ///
    /// # Errors
    /// A parameter the loss does not take, or a value of the wrong type.
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> Result<Loss> {
        let text = value.into().to_string();
        self.text.retain(|(k, _)| k != name);
        self.text.push((name.to_owned(), text));
        self.params = Params::parse(self.info, &self.text)?;
        Ok(self)
    }

    /// The reduction (checked against the loss's when evaluated).
    pub fn reduction(mut self, reduction: ReductionMode) -> Loss {
        self.reduction = reduction;
        self
    }

    /// The path (default [`Path::Auto`]).
    pub fn path(mut self, path: Path) -> Loss {
        self.path = path;
        self
    }

    pub(crate) fn params(&self) -> &Params {
        &self.params
    }

    pub(crate) fn reduction_mode(&self) -> ReductionMode {
        self.reduction
    }

    /// The loss on `inputs` (catalogue name, input): a `[1]` tensor for `mean`, `sum` and
    /// `batchmean`; for `none`, the per-element losses flattened in row-major order
    /// ([`Loss::forward_as`] keeps their shape). Differentiable with respect to the
    /// predictions (the catalogue's [`Role::Prediction`] inputs).
    ///
    /// # Errors
    /// Every error of the core (unknown, missing or duplicate input, dtypes, shapes, values,
    /// parameter ranges, an unsupported reduction), with its text; [`Path::Composed`] for a
    /// loss, parameter value or input shape the composed path does not cover.
    pub fn forward(&self, inputs: Vec<(&str, Input)>) -> Result<Tensor<1>> {
        Ok(self.run(inputs)?.0)
    }

    /// [`Loss::forward`] with the result in its own shape, of rank `D`: `[1]` (`D = 1`) for
    /// a reduced loss, the loss's per-element shape for `none`.
    ///
    /// # Errors
    /// As [`Loss::forward`]; and a result whose rank is not `D`.
    pub fn forward_as<const D: usize>(&self, inputs: Vec<(&str, Input)>) -> Result<Tensor<D>> {
        let (flat, shape) = self.run(inputs)?;
        let shape = if self.reduction == ReductionMode::None {
            shape
        } else {
            vec![1]
        };
        let dims: [usize; D] = shape.clone().try_into().map_err(|_| {
            Error::msg(format!(
                "{}: the loss has shape {shape:?}, of rank {}; asked for rank {D}",
                self.info.name,
                shape.len()
            ))
        })?;
        Ok(flat.reshape(dims))
    }

    /// The flattened loss and its shape (`none`'s per-element shape, else `[]`).
    fn run(&self, inputs: Vec<(&str, Input)>) -> Result<(Tensor<1>, Vec<usize>)> {
        let on_cpu = inputs
            .iter()
            .find(|(n, _)| self.is_prediction(n))
            .is_none_or(|(_, t)| is_flex(&t.device()));
        match self.path {
            Path::Composed => match composed::forward(self, &inputs)? {
                Some(t) => Ok(t),
                // Element values the composed path does not check (a class index out of
                // range) are reported by the fused path, in the core's words.
                None => match fused::forward(self, inputs) {
                    Err(e) => Err(e),
                    Ok(_) => Err(Error::msg(format!(
                        "{}: no composed path for this loss at these parameters and inputs; \
                         use Path::Fused or Path::Auto",
                        self.info.name
                    ))),
                },
            },
            Path::Auto if !on_cpu => match composed::forward(self, &inputs)? {
                Some(t) => Ok(t),
                None => fused::forward(self, inputs),
            },
            Path::Auto | Path::Fused => fused::forward(self, inputs),
        }
    }

    pub(crate) fn is_prediction(&self, name: &str) -> bool {
        self.info
            .input(name)
            .is_some_and(|s| s.role == Role::Prediction)
    }
}
