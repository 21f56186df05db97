//! # losskit-candle
//!
//! Every [losskit] loss on candle [`Tensor`]s, differentiable with candle's
//! `backward()`. This crate converts and dispatches; the core computes.
//!
//! ```
//! use candle_core::{Device, Tensor, Var};
//! use losskit_candle::{loss, ReductionMode};
//!
//! let x = Var::from_vec(vec![0.5f32, -2.0, 3.0, 0.0], (2, 2), &Device::Cpu)?;
//! let t = Tensor::new(&[[1.0f32, 0.0], [1.0, 1.0]], &Device::Cpu)?;
//! // The generic entry: any catalogue loss by name, parameters by name.
//! let focal = loss("focal")?.param("gamma", 2.0)?.reduction(ReductionMode::Sum);
//! let l = focal.forward(&[("input", x.as_tensor()), ("target", &t)])?;
//! let grads = l.backward()?;
//! assert_eq!(grads.get(&x).map(|g| g.dims().to_vec()), Some(vec![2, 2]));
//! // The same loss as a generated function and a config struct with the catalogue's defaults.
//! let a = losskit_candle::losses::focal(x.as_tensor(), &t)?;
//! let b = losskit_candle::losses::Focal { gamma: 2.0, ..Default::default() };
//! let b = b.forward(x.as_tensor(), &t, None)?;
//! assert_eq!(a.to_scalar::<f32>()?, b.to_scalar::<f32>()?);
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! ## Paths
//! - **Fused** (CPU): one `CustomOp1/2/3` over the predictions whose `cpu_fwd` runs the core's
//!   fused value-and-gradient kernel once and keeps the gradient for `bwd`, which scales it by
//!   the upstream gradient. With reduction `none`, `bwd` runs the core's exact
//!   vector-Jacobian product with the upstream gradient instead. Predictions may be f32 or
//!   f64 (f16 and bf16 are computed in f32 and cast back); targets, weights and labels (u8,
//!   u32, i64, …) ride along without gradients.
//! - **Composed** (any device): candle ops in stable forms, for
//!   [`COMPOSED`] (mse, l2, mae, huber, smooth_l1, bce_with_logits, cross_entropy with index
//!   targets, focal, dice) at the parameters listed there, with the core's subgradients at
//!   the kinks. [`Path::Composed`] forces it (on the CPU too, to test it).
//! - On a CUDA or Metal device, [`Path::Auto`] takes the composed path where it exists and
//!   otherwise copies the inputs to the CPU, runs the fused op and copies the loss back
//!   (`to_device` is differentiable, so gradients arrive on the original device).
//!
//! ## Errors
//! The core's errors (naming the loss, the argument, the shapes or values) arrive as
//! [`candle_core::Error::Msg`] with the core's text; nothing panics on user data.
#![deny(missing_docs)]

mod composed;
mod fused;

// The README's snippet compiles and runs as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// One generated item per catalogue loss (`build.rs` writes them from
/// [`losskit::catalogue()`], so a loss added to the core appears here without a line of
/// adapter code): a config struct named after the loss (`Focal`) whose fields are the
/// catalogue's parameters with their defaults, plus `reduction` and `path`, with a `forward`
/// taking the loss's inputs; and a function (`focal`) taking its required inputs, at the
/// defaults, reduced by the mean.
#[allow(clippy::too_many_arguments)]
pub mod losses {
    use candle_core::{Result, Tensor};

    use crate::{Path, ReductionMode};

    include!(concat!(env!("OUT_DIR"), "/losses.rs"));
}

pub use composed::COMPOSED;
pub use losskit::{LossInfo, ReductionMode};

use candle_core::{DType, Result, Tensor};
use losskit::{Params, Role};

/// Which implementation evaluates a loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Path {
    /// The fused op on the CPU; on other devices the composed path where the loss has one,
    /// else the fused op through a copy to the CPU and back.
    #[default]
    Auto,
    /// The fused op (through the CPU on other devices).
    Fused,
    /// The composed candle ops on the inputs' device; an error for a loss (or parameter
    /// value) without one.
    Composed,
}

/// A parameter value for [`Loss::param`]: the core's [`losskit::ParamArg`].
pub use losskit::ParamArg as Param;

/// The core's error as a candle error, with the core's text.
pub(crate) fn core_error(e: losskit::Error) -> candle_core::Error {
    candle_core::Error::Msg(e.to_string())
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
    let info = losskit::find(name).map_err(core_error)?;
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
    inputs: &[(&str, &Tensor)],
    params: &[(&str, Param)],
    reduction: ReductionMode,
) -> Result<Tensor> {
    let mut l = loss(name)?.reduction(reduction);
    for (k, v) in params {
        l = l.param(k, v.clone())?;
    }
    l.forward(inputs)
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
        self.params = Params::parse(self.info, &self.text).map_err(core_error)?;
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

    /// The parameters as parsed.
    pub(crate) fn params(&self) -> &Params {
        &self.params
    }

    /// The reduction set.
    pub(crate) fn reduction_mode(&self) -> ReductionMode {
        self.reduction
    }

    /// The loss on `inputs` (catalogue name, tensor): a scalar for `mean`, `sum` and
    /// `batchmean`, the loss's per-element shape for `none`. Differentiable with respect to
    /// the predictions (the catalogue's [`Role::Prediction`] inputs).
    ///
    /// # Errors
    /// Every error of the core (unknown, missing or duplicate input, dtypes, shapes, values,
    /// parameter ranges, an unsupported reduction), with its text; [`Path::Composed`] for a
    /// loss or parameter value the composed path does not cover.
    pub fn forward(&self, inputs: &[(&str, &Tensor)]) -> Result<Tensor> {
        let first = inputs
            .iter()
            .find(|(n, _)| self.is_prediction(n))
            .map(|(_, t)| (*t).clone());
        let on_cpu = first.as_ref().map_or(true, |t| t.device().is_cpu());
        match self.path {
            Path::Composed => composed::forward(self, inputs)?.ok_or_else(|| {
                candle_core::Error::Msg(format!(
                    "{}: no composed path for this loss at these parameters and inputs; \
                     use Path::Fused or Path::Auto",
                    self.info.name
                ))
            }),
            Path::Auto if !on_cpu => match composed::forward(self, inputs)? {
                Some(t) => Ok(t),
                None => self.fused(inputs),
            },
            Path::Auto | Path::Fused => self.fused(inputs),
        }
    }

    fn is_prediction(&self, name: &str) -> bool {
        self.info
            .input(name)
            .is_some_and(|s| s.role == Role::Prediction)
    }

    /// The fused op, through the CPU when the predictions live elsewhere.
    fn fused(&self, inputs: &[(&str, &Tensor)]) -> Result<Tensor> {
        let loss = self.info.name;
        let mut preds = Vec::new();
        let mut names = Vec::new();
        let mut rest = Vec::new();
        let mut home = None;
        for (name, t) in inputs {
            match self.info.input(name) {
                Some(spec) if spec.role == Role::Prediction => {
                    let (_, first) = *home.get_or_insert_with(|| (t.device().clone(), t.dtype()));
                    // The compute type is the first prediction's (half precision computed
                    // in f32, as the core does for its own half inputs; the loss is cast
                    // back below); a second prediction is converted to it, as the core
                    // converts other float inputs (differentiably: its gradient comes back
                    // in its own dtype).
                    let compute = match first {
                        DType::F64 => DType::F64,
                        _ => DType::F32,
                    };
                    let t = match t.dtype() {
                        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
                            t.to_dtype(compute)?
                        }
                        other => {
                            return Err(core_error(losskit::Error::Dtype {
                                loss,
                                arg: spec.name,
                                actual: composed::dtype_name(other),
                                expected: "float32 or float64",
                            }))
                        }
                    };
                    preds.push(t.to_device(&fused::CPU)?.contiguous()?);
                    names.push(spec.name);
                }
                // Unknown names go to the core too, which names them in its error.
                _ => rest.push((*name, *t)),
            }
        }
        let mut others = Vec::with_capacity(rest.len());
        for (name, t) in rest {
            others.push((name.to_owned(), fused::riding(loss, name, t)?));
        }
        if preds.is_empty() {
            // No prediction: the core names the missing one.
            fused::check_without_predictions(self.info, &self.params, self.reduction, &others)?;
            return Err(candle_core::Error::Msg(format!(
                "{loss}: no prediction given"
            )));
        }
        let op = fused::Fused {
            info: self.info,
            params: self.params.clone(),
            reduction: self.reduction,
            preds: names,
            rest: others,
            keep_grad: preds.iter().any(Tensor::track_op),
            saved: std::sync::Mutex::new(None),
        };
        let out = fused::apply(op, &preds)?;
        let Some((device, dtype)) = home else {
            return Ok(out);
        };
        let out = if out.dtype() == dtype || !matches!(dtype, DType::F16 | DType::BF16) {
            out
        } else {
            out.to_dtype(dtype)?
        };
        out.to_device(&device)
    }
}
