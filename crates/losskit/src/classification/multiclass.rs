//! Multiclass losses: the inputs they share and their shape and target checks. The losses themselves live in `cross_entropy.rs`, `nll.rs`,
//! `softmax_focal.rs`, `multi_margin.rs` and `kl_div.rs`; the fused softmax kernels in
//! `softmax.rs`.

use crate::catalogue::{InputKind, InputSpec, Role};
use crate::error::{Error, Result};

use crate::numerics::Lanes;
use crate::real::Real;
use crate::sample::{rows, Rng, Sample};
use crate::tensor::{Shape, Tensor};

/// The target of a multiclass loss: class indices, or a probability per class.
#[derive(Debug)]
pub enum ClassTarget<'a, T> {
    /// One class index per element: shape `[N]` for `input` `[N, C]`, `[N, d1, …]` for
    /// `[N, C, d1, …]`, `[]` for `[C]`. Entries lie in `[0, C)` or equal the loss's
    /// `ignore_index`.
    Indices(Tensor<'a, i64>),
    /// A probability per class, of `input`'s shape (soft labels). Only [`CrossEntropy`]
    /// takes these.
    ///
    /// [`CrossEntropy`]: crate::CrossEntropy
    Probabilities(Tensor<'a, T>),
}

impl<T> Clone for ClassTarget<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ClassTarget<'_, T> {}

/// The inputs of the multiclass losses: `input` (logits, or log-probabilities for
/// [`Nll`](crate::Nll)) of shape `[N, C]`, `[N, C, d1, …]` or `[C]`, a [`ClassTarget`], and an
/// optional per-class `weight` of shape `[C]`.
///
/// The class dimension is dimension 1 (dimension 0 for a single `[C]` sample), as in
/// PyTorch: a segmentation batch `[N, C, H, W]` needs no transposition.
///
/// ```
/// use losskit::{ClassInputs, Tensor};
/// let logits = [2.0f32, 0.5, -1.0, 0.0, 1.0, 3.0];
/// let labels = [0i64, 2];
/// let inputs = ClassInputs::new(Tensor::new(&logits, &[2, 3])?, &labels);
/// assert_eq!(inputs.input().dims(), &[2, 3]);
/// // Class weights, e.g. from inverse class frequencies:
/// let w = [1.0f32, 2.0, 0.5];
/// let weighted = inputs.weight(&w);
/// # let _ = weighted;
/// // Soft labels instead of indices:
/// let soft = [0.9f32, 0.05, 0.05, 0.0, 0.2, 0.8];
/// let soft_inputs = ClassInputs::probabilities(Tensor::new(&logits, &[2, 3])?, Tensor::new(&soft, &[2, 3])?);
/// # let _ = soft_inputs;
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct ClassInputs<'a, T> {
    input: Tensor<'a, T>,
    target: ClassTarget<'a, T>,
    weight: Option<Tensor<'a, T>>,
    alpha: Option<Tensor<'a, T>>,
}

impl<T> Clone for ClassInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ClassInputs<'_, T> {}

impl<'a, T> ClassInputs<'a, T> {
    /// `input` against class indices (checked by the loss: each in `[0, C)` or the loss's
    /// `ignore_index`).
    pub fn new(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, i64>>) -> Self {
        ClassInputs {
            input: input.into(),
            target: ClassTarget::Indices(target.into()),
            weight: None,
            alpha: None,
        }
    }

    /// `input` against probabilities of the same shape (soft labels; [`CrossEntropy`]
    /// only).
    ///
    /// [`CrossEntropy`]: crate::CrossEntropy
    pub fn probabilities(
        input: impl Into<Tensor<'a, T>>,
        target: impl Into<Tensor<'a, T>>,
    ) -> Self {
        ClassInputs {
            input: input.into(),
            target: ClassTarget::Probabilities(target.into()),
            weight: None,
            alpha: None,
        }
    }

    /// Adds a per-class weight of shape `[C]` (finite, ≥ 0). Each loss documents how it
    /// enters its mean.
    #[must_use]
    pub fn weight(mut self, weight: impl Into<Tensor<'a, T>>) -> Self {
        self.weight = Some(weight.into());
        self
    }

    /// Adds [`SoftmaxFocal`]'s per-class balancing factor `alpha` of shape `[C]` (finite,
    /// ≥ 0). Unlike a `weight`, it does not enter the denominator of `Mean`. The other
    /// losses reject it.
    ///
    /// [`SoftmaxFocal`]: crate::SoftmaxFocal
    #[must_use]
    pub fn alpha(mut self, alpha: impl Into<Tensor<'a, T>>) -> Self {
        self.alpha = Some(alpha.into());
        self
    }

    /// The prediction.
    pub fn input(&self) -> Tensor<'a, T> {
        self.input
    }

    /// The target.
    pub fn target(&self) -> ClassTarget<'a, T> {
        self.target
    }

    /// The per-class weight, if any.
    pub fn weight_tensor(&self) -> Option<Tensor<'a, T>> {
        self.weight
    }

    /// The per-class `alpha`, if any.
    pub fn alpha_tensor(&self) -> Option<Tensor<'a, T>> {
        self.alpha
    }

    /// Checks that only the inputs loss `loss` takes are set: `weight` unless
    /// `takes_weight` is false, `alpha` only if `takes_alpha`, probability targets only if
    /// `takes_probabilities`.
    pub(crate) fn check_takes(
        &self,
        loss: &'static str,
        known: &[&'static str],
        takes_probabilities: bool,
    ) -> Result<()> {
        let unknown = |name: &str| Error::UnknownInput {
            loss,
            name: name.to_owned(),
            known: known.to_vec(),
        };
        if self.weight.is_some() && !known.contains(&"weight") {
            return Err(unknown("weight"));
        }
        if self.alpha.is_some() && !known.contains(&"alpha") {
            return Err(unknown("alpha"));
        }
        if let (ClassTarget::Probabilities(_), false) = (self.target, takes_probabilities) {
            return Err(Error::Dtype {
                loss,
                arg: "target",
                actual: "float (probabilities)",
                expected: "class indices (integers)",
            });
        }
        Ok(())
    }
}

/// `input` seen as `[N, C, S]`: `N` samples, `C` classes with stride `S`, `S` positions per
/// sample (the product of the spatial dimensions; 1 for `[N, C]`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) s: usize,
    /// The shape of the unreduced loss: `input`'s without the class dimension.
    pub(crate) loss_shape: Shape,
}

impl Layout {
    /// The number of loss elements, `N·S`.
    pub(crate) fn elements(&self) -> usize {
        self.n * self.s
    }

    /// The axes of `input` the unreduced loss keeps: all but the class axis (axis 1 of
    /// `[N, C, d1, …]`, axis 0 of a single `[C]` sample). Separable: `input[n, :, d…]`
    /// moves only `ℓ[n, d…]`, the softmax staying inside it.
    pub(crate) fn kept(&self) -> crate::eval::Kept {
        crate::eval::Kept::all_but(usize::from(!self.loss_shape.dims().is_empty()))
    }
}

pub(crate) const INPUT_SHAPE_RULE: &str = "`[C]`, `[N, C]` or `[N, C, d1, ...]` with C >= 1";

/// The layout of a class-dimension-1 `input`.
pub(crate) fn layout<T>(loss: &'static str, input: &Tensor<'_, T>) -> Result<Layout> {
    let dims = input.dims();
    let bad = || Error::BadShape {
        loss,
        arg: "input",
        actual: dims.to_vec(),
        expected: INPUT_SHAPE_RULE,
    };
    let (n, c, rest): (usize, usize, &[usize]) = match dims {
        [] => return Err(bad()),
        [c] => (1, *c, &[]),
        [n, c, rest @ ..] => (*n, *c, rest),
    };
    if c == 0 {
        return Err(bad());
    }
    let s = rest.iter().product::<usize>();
    let loss_dims: Vec<usize> = match dims {
        [_] => Vec::new(),
        _ => core::iter::once(n).chain(rest.iter().copied()).collect(),
    };
    Ok(Layout {
        n,
        c,
        s,
        loss_shape: Shape::new(&loss_dims)?,
    })
}

/// Checks that index `target` has the shape of the unreduced loss.
pub(crate) fn check_index_shape(
    loss: &'static str,
    lay: &Layout,
    target: &Tensor<'_, i64>,
) -> Result<()> {
    if target.dims() != lay.loss_shape.dims() {
        return Err(Error::ShapeMismatch {
            loss,
            arg: "target",
            actual: target.dims().to_vec(),
            expected: lay.loss_shape.dims().to_vec(),
            because: "`input`'s shape without its class dimension 1",
        });
    }
    Ok(())
}

/// Checks a per-class weight: shape `[C]`, every entry finite and ≥ 0. Returns `Σ w`.
pub(crate) fn check_class_weight<T: Real>(
    loss: &'static str,
    arg: &'static str,
    c: usize,
    w: &Tensor<'_, T>,
) -> Result<f64> {
    if w.dims() != [c] {
        return Err(Error::ShapeMismatch {
            loss,
            arg,
            actual: w.dims().to_vec(),
            expected: vec![c],
            because: "one entry per class, C = `input`'s class dimension",
        });
    }
    let data = w.data();
    if let Some(i) = data
        .iter()
        .position(|&v| !(v >= T::ZERO && v < T::INFINITY))
    {
        return Err(Error::InvalidValue {
            loss,
            arg,
            index: vec![i],
            value: data[i].to_f64(),
            expected: "a finite weight >= 0",
        });
    }
    Ok(data.iter().map(|v| v.to_f64()).sum())
}

pub(crate) const INDEX_DOMAIN: &str =
    "a class index in [0, C) (C = `input`'s class dimension) or `ignore_index`";
const INDEX_DOMAIN_STRICT: &str = "a class index in [0, C) (C = `input`'s class dimension)";

/// What the pass over index targets finds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetStats {
    /// `Σ w_{y}` over the non-ignored elements (their count without a weight).
    pub(crate) weight_sum: f64,
}

/// Validates index targets (each in `[0, C)`, or equal to `ignore` when given) and sums
/// the class weights of the non-ignored ones.
///
/// The sum runs over the non-ignored elements only, in order, into eight lanes chosen by
/// their rank among the non-ignored: inserting ignored elements anywhere leaves it
/// bit-identical.
pub(crate) fn scan_targets<T: Real>(
    loss: &'static str,
    target: &Tensor<'_, i64>,
    c: usize,
    ignore: Option<i64>,
    weight: Option<&[T]>,
) -> Result<TargetStats> {
    let ys = target.data();
    let skip = |y: i64| Some(y) == ignore;
    let mut count = 0usize;
    let mut lanes = Lanes::default();
    let mut bad = false;
    for &y in ys {
        if skip(y) {
            continue;
        }
        if (y as u64) < c as u64 {
            if let Some(w) = weight {
                lanes.add(count, w.get(y as usize).map_or(0.0, |v| v.to_f64()));
            }
            count += 1;
        } else {
            bad = true;
        }
    }
    if bad {
        if let Some(i) = ys.iter().position(|&y| !skip(y) && (y as u64) >= c as u64) {
            return Err(Error::InvalidInteger {
                loss,
                arg: "target",
                index: target.shape().unravel(i),
                value: i128::from(ys[i]),
                expected: if ignore.is_some() {
                    INDEX_DOMAIN
                } else {
                    INDEX_DOMAIN_STRICT
                },
            });
        }
    }
    let weight_sum = if weight.is_some() {
        lanes.total()
    } else {
        count as f64
    };
    Ok(TargetStats { weight_sum })
}

/// The scale of the gradient and the divisor of the value for a mean over `denominator`
/// (or a sum): `None` when the mean has nothing to average, which the multiclass losses
/// define as 0 with zero gradients (PyTorch: NaN).
pub(crate) fn mean_scale(denominator: f64, mean: bool) -> Option<f64> {
    match (mean, denominator > 0.0) {
        (false, _) => Some(1.0),
        (true, true) => Some(denominator),
        (true, false) => None,
    }
}

// Catalogue building blocks shared by the multiclass entries.

pub(crate) const LOGITS: InputSpec = InputSpec {
    name: "input",
    role: Role::Prediction,
    kind: InputKind::Float,
    required: true,
    shape: "logits `[N, C]`, `[N, C, d1, ...]` or `[C]` (class dimension 1)",
};

pub(crate) const INDEX_TARGET: InputSpec = InputSpec {
    name: "target",
    role: Role::Target,
    kind: InputKind::Index,
    required: true,
    shape: "class indices `[N]` / `[N, d1, ...]` (`input` without its class dimension)",
};

pub(crate) const CLASS_WEIGHT: InputSpec = InputSpec {
    name: "weight",
    role: Role::Weight,
    kind: InputKind::Float,
    required: false,
    shape: "`[C]`, one weight per class (finite, >= 0)",
};

/// Finds the first element of `[N, C, S]` `input` whose row (over the class dimension)
/// breaks the softmax: a `+∞` logit, or a row of `−∞` only. For error messages.
pub(crate) fn bad_logit<T: Real>(
    loss: &'static str,
    input: &Tensor<'_, T>,
    lay: &Layout,
    skip: impl Fn(usize) -> bool,
) -> Error {
    let x = input.data();
    let (c, s) = (lay.c, lay.s);
    for n in 0..lay.n {
        for p in 0..s {
            if skip(n * s + p) {
                continue;
            }
            let at = |k: usize| x[(n * c + k) * s + p];
            if let Some(k) = (0..c).find(|&k| at(k) == T::INFINITY) {
                return Error::InvalidValue {
                    loss,
                    arg: "input",
                    index: input.shape().unravel((n * c + k) * s + p),
                    value: f64::INFINITY,
                    expected: "a logit < +inf (softmax of +inf is undefined)",
                };
            }
            if (0..c).all(|k| at(k) == -T::INFINITY) {
                return Error::InvalidValue {
                    loss,
                    arg: "input",
                    index: input.shape().unravel((n * c) * s + p),
                    value: f64::NEG_INFINITY,
                    expected: "a row with at least one logit > -inf over the class dimension",
                };
            }
        }
    }
    // Not reached when a kernel reported a bad row; a safe fallback otherwise.
    Error::InvalidValue {
        loss,
        arg: "input",
        index: Vec::new(),
        value: f64::NAN,
        expected: "finite logits",
    }
}

/// Normal scores `[N, 10]` and class indices `[N]`: valid inputs of every index-target
/// multiclass loss.
pub(crate) fn sample_scores(size: usize, rng: &mut Rng) -> Sample {
    let (n, c) = (rows(size, 10), 10);
    Sample::new()
        .float("input", &[n, c], rng.normals(n * c, 2.0))
        .index("target", &[n], rng.classes(n, c))
}

/// Two classes, the true class's logit x against 0: the margin axis.
pub(crate) const MARGIN_PLOT: crate::catalogue::Plot = crate::catalogue::Plot {
    axis: crate::catalogue::PlotAxis::MARGIN,
    at: |x| {
        Sample::new()
            .float("input", &[1, 2], vec![x, 0.0])
            .index("target", &[1], vec![0])
    },
};
/// Two classes, log-probabilities x and ln(1 − eˣ), target class 0.
pub(crate) const LOG_PROBABILITY_PLOT: crate::catalogue::Plot = crate::catalogue::Plot {
    axis: crate::catalogue::PlotAxis::LOG_PROBABILITY,
    at: |x| {
        Sample::new()
            .float("input", &[1, 2], vec![x, (-x.exp()).ln_1p()])
            .index("target", &[1], vec![0])
    },
};
