//! What a loss's evaluator receives and fills in: the types between the catalogue (whose
//! entries point at an [`Evaluator`]) and the evaluation machinery in `eval` (which builds a
//! [`Call`] from named arrays and reads back the [`Out`]).

use std::borrow::Cow;

use crate::error::{Error, Result};
use crate::real::Real;
use crate::reduction::{Reduction, ReductionMode};
use crate::tensor::{Shape, Tensor};

/// A parameter's value after parsing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamValue {
    /// A real number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// One of the parameter's words.
    Word(&'static str),
}

/// A loss's parameters, every one present (defaults filled in), types checked.
///
/// Ranges are checked by the loss's constructor, the one place that owns them.
#[derive(Debug, Clone)]
pub struct Params {
    pub(crate) values: Vec<(&'static str, ParamValue)>,
}

impl Params {
    fn get(&self, name: &str) -> Option<ParamValue> {
        let v = self
            .values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v);
        debug_assert!(
            v.is_some(),
            "catalogue and evaluator disagree on parameter `{name}`"
        );
        v
    }

    /// A float parameter (NaN if the loss has no such parameter: its constructor rejects it).
    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(ParamValue::Float(v)) => v,
            Some(ParamValue::Int(v)) => v as f64,
            _ => f64::NAN,
        }
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(ParamValue::Int(v)) => v,
            _ => 0,
        }
    }

    /// A boolean parameter.
    pub fn bool(&self, name: &str) -> bool {
        matches!(self.get(name), Some(ParamValue::Bool(true)))
    }

    /// A word parameter.
    pub fn word(&self, name: &str) -> &'static str {
        match self.get(name) {
            Some(ParamValue::Word(w)) => w,
            _ => "",
        }
    }
}

/// The signature of one loss's evaluator in one compute type.
pub(crate) type EvalFn<T> = fn(&Call<'_, T>, &mut Out<'_, T>) -> Result<()>;

/// A loss's evaluator in both compute types; built by [`evaluator!`](crate::evaluator).
#[derive(Clone, Copy)]
pub(crate) struct Evaluator {
    pub(crate) f32: EvalFn<f32>,
    pub(crate) f64: EvalFn<f64>,
}

/// `evaluator!(path::to::generic_fn)`: the [`Evaluator`] of a function generic over `T: Real`.
#[macro_export]
#[doc(hidden)]
macro_rules! evaluator {
    ($f:path) => {
        $crate::evaluator::Evaluator { f32: $f, f64: $f }
    };
}

pub(crate) enum Resolved<'a, T: Clone + 'static> {
    Float(Cow<'a, [T]>),
    #[allow(dead_code)] // read by the index-target losses
    Index(Cow<'a, [i64]>),
}

/// The resolved inputs, parameters and reduction a loss's evaluator receives.
pub(crate) struct Call<'a, T: Clone + 'static> {
    pub(crate) loss: &'static str,
    pub(crate) items: Vec<(&'static str, Resolved<'a, T>, Shape)>,
    pub(crate) params: &'a Params,
    pub(crate) reduction: ReductionMode,
}

impl<T: Real> Call<'_, T> {
    /// A float input, if given (an index-typed one reads as absent).
    pub(crate) fn float(&self, name: &str) -> Option<Tensor<'_, T>> {
        self.items
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, d, s)| match d {
                Resolved::Float(v) => Tensor::with_shape(v, *s).ok(),
                Resolved::Index(_) => None,
            })
    }

    /// A required float input.
    pub(crate) fn float_req(&self, name: &'static str) -> Result<Tensor<'_, T>> {
        self.float(name).ok_or(Error::MissingInput {
            loss: self.loss,
            name,
        })
    }

    /// An index input, if given as integers.
    #[allow(dead_code)] // for the index-target losses
    pub(crate) fn index(&self, name: &str) -> Option<Tensor<'_, i64>> {
        self.items
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, d, s)| match d {
                Resolved::Index(v) => Tensor::with_shape(v, *s).ok(),
                Resolved::Float(_) => None,
            })
    }

    /// The reduction, for losses whose evaluator only handles `mean`, `sum` and `none`.
    pub(crate) fn reduction(&self) -> Option<Reduction> {
        match self.reduction {
            ReductionMode::Mean => Some(Reduction::Mean),
            ReductionMode::Sum | ReductionMode::BatchMean => Some(Reduction::Sum),
            ReductionMode::None => None,
        }
    }
}

/// What a loss's evaluator fills in. The gradient buffers are lent by the caller (zeroed
/// before the evaluator runs), which overwrites them.
pub(crate) struct Out<'b, T> {
    pub(crate) shape: Vec<usize>,
    pub(crate) value: Option<f64>,
    pub(crate) per_element: Option<Vec<T>>,
    pub(crate) grads: Vec<(&'static str, &'b mut [T])>,
    /// With `reduction = none` only: the upstream gradient, one value per loss element
    /// (`None`: all ones, the gradient of the sum).
    pub(crate) cotangent: Option<&'b [T]>,
}

impl<'b, T> Out<'b, T> {
    /// The gradient buffer of input `name`, if that gradient was asked for.
    pub(crate) fn grad(&mut self, name: &str) -> Option<&mut [T]> {
        self.grads
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, g)| &mut **g)
    }

    /// The cotangent, checked against the shape of the unreduced loss.
    ///
    /// # Errors
    /// [`Error::CotangentLength`] unless it has one value per loss element.
    pub(crate) fn cotangent(
        &self,
        loss: &'static str,
        loss_shape: &[usize],
    ) -> Result<Option<&'b [T]>> {
        match self.cotangent {
            Some(u) if u.len() != loss_shape.iter().product::<usize>() => {
                Err(Error::CotangentLength {
                    loss,
                    actual: u.len(),
                    expected: loss_shape.to_vec(),
                })
            }
            u => Ok(u),
        }
    }
}
