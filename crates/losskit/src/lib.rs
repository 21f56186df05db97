//! # losskit
//!
//! Loss functions with their gradients in one fused pass, numerically stable at any input,
//! with the same numbers as the reference libraries (PyTorch, torchvision, MONAI, …).
//!
//! Every loss is one type, valid by construction (`Huber::new(delta)?`; `Default` is the
//! reference library's default), with three methods:
//! - `value(inputs, reduction)`: the reduced loss;
//! - `value_and_grad(inputs, reduction, grad)`: the reduced loss and its gradient, written
//!   into a buffer the caller owns, in one pass (the reduction's scale is included);
//! - `per_element(inputs, out)`: the unreduced losses.
//!
//! ```
//! use losskit::{Huber, Pointwise, Reduction, Tensor};
//!
//! let prediction = [0.5f32, 2.0, -1.0, 4.0];
//! let target = [0.0f32, 2.0, 1.0, 0.0];
//! let huber = Huber::new(1.0)?;
//! let inputs = Pointwise::new(Tensor::new(&prediction, &[2, 2])?, Tensor::new(&target, &[2, 2])?);
//!
//! let mut grad = [0.0f32; 4];
//! let loss = huber.value_and_grad(&inputs, Reduction::Mean, &mut grad)?;
//! assert_eq!(loss, (0.125 + 0.0 + 1.5 + 3.5) / 4.0);
//! assert_eq!(grad, [0.125, 0.0, -0.25, 0.25]);
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! ## Conventions
//! - Inputs are contiguous row-major slices with explicit shapes ([`Tensor`]); shapes must
//!   match exactly, nothing is broadcast silently.
//! - Computation happens in the input's type ([`Real`]: `f32` or `f64`); reductions
//!   accumulate in `f64` over fixed chunks, so the same input gives the same bits at any
//!   thread count.
//! - With an element-wise `weight`, `Mean` is `Σ w·ℓ / Σ w` for every loss (PyTorch does
//!   this for `mse_loss` and `l1_loss` but divides by N for `huber_loss` and the BCE losses:
//!   a deliberate difference). `Mean` over zero elements is an error, never NaN.
//! - Bad input is an [`Error`] naming the loss, the argument and the shapes or values;
//!   nothing panics on user data.
//!
//! ## The catalogue
//! [`catalogue()`] lists every loss with its inputs, parameters (defaults and ranges),
//! formula, gradient, when to use it, pitfalls and reference. [`evaluate`] runs any of them
//! by name on arrays of any supported dtype: the `losskit` command line and the framework
//! adapters are built on it.
//!
//! | family | losses |
//! |---|---|
//! | regression | [`Mse`], [`L2`], [`Mae`], [`Huber`], [`SmoothL1`], [`PseudoHuber`], [`LogCosh`], [`Quantile`], [`Msle`], [`Cauchy`], [`Wing`], [`AdaptiveWing`], [`Mape`], [`PoissonNll`], [`GammaDeviance`], [`Tweedie`], [`GaussianNll`] |
//! | classification: binary, multi-label, ±1 margins | [`BceWithLogits`], [`Bce`], [`Focal`], [`Hinge`], [`SquaredHinge`], [`SoftMargin`], [`HingeEmbedding`], [`MarginRanking`], [`Asymmetric`], [`MultilabelSoftMargin`] |
//! | classification: multiclass ([`ClassInputs`]), divergences | [`CrossEntropy`], [`Nll`], [`SoftmaxFocal`], [`MultiMargin`], [`KlDiv`] ([`KlReduction`]), [`Poly1`], [`Sparsemax`], [`MultilabelMargin`] |
//! | metric learning: pairs ([`PairInputs`]), triplets ([`TripletInputs`], [`LabeledInputs`]), in-batch contrastive ([`ViewInputs`]), class centres ([`CentreInputs`]) | [`Contrastive`], [`CosineEmbedding`], [`TripletMargin`], [`BatchHardTriplet`], [`NtXent`], [`InfoNce`], [`SupCon`], [`ArcFace`], [`CosFace`], [`SubCenterArcFace`], [`ProxyAnchor`], [`ProxyNca`], [`MultiSimilarity`], [`Circle`], [`LiftedStructure`], [`NPairs`] |
//! | segmentation ([`SegInputs`], [`Activation`]) | [`Dice`], [`Jaccard`], [`Tversky`], [`FocalTversky`], [`GeneralizedDice`], [`GeneralizedWassersteinDice`], [`BceDice`], [`CeDice`], [`DiceFocal`], [`Boundary`], [`HausdorffDt`], [`SoftClDice`], [`LovaszHinge`], [`LovaszSoftmax`] |
//! | detection: boxes ([`BoxInputs`], [`BoxFormat`]) | [`Iou`], [`Giou`], [`Diou`], [`Ciou`], [`Eiou`] |
//! | ranking: lists ([`ListInputs`]), preference pairs ([`PreferenceInputs`]) | [`ListNet`], [`ListMle`], [`Bpr`] |
//! | sequence: frames and label sequences ([`CtcInputs`]) | [`Ctc`] |
//!
//! ## Second derivatives
//! The losses gradient boosting trains on (the pointwise regression losses, [`BceWithLogits`],
//! [`Focal`], [`CrossEntropy`], [`SoftmaxFocal`]) also have
//! `value_grad_hess(inputs, reduction, curvature, grad, hess)`: the value, the gradient and
//! the diagonal of the Hessian with respect to the raw score in one pass, into buffers the
//! caller owns, with the weights and the reduction's scale of `value_and_grad`. [`Curvature`]
//! chooses between the exact second derivative and the conventions of XGBoost's and
//! LightGBM's built-in objectives where they differ (a constant for `mae`, `huber` and
//! `quantile`, `e^(x + 0.7)` for Poisson, 2p(1 − p) or K/(K − 1)·p(1 − p) for softmax, a
//! positive bound for focal); [`evaluate_hess`] does the same by name, and
//! [`LossInfo::hessian`] says which losses have one.
//!
//! A worked Newton step: for a constant score fitted to Poisson counts, one step
//! `x ← x − Σg/Σh` from `x = 0` with the exact Hessian, then repeated, converges to the log of
//! the mean count; the boosting convention (`e^(x + 0.7)`) takes shorter, safer steps.
//! ```
//! use losskit::{Curvature, Pointwise, PoissonNll, Reduction};
//! let counts = [0.0f64, 1.0, 3.0, 4.0]; // mean 2
//! let loss = PoissonNll::default(); // log_input: the score is the log-rate
//! let newton = |curvature| -> Result<f64, losskit::Error> {
//!     let mut x = 0.0f64;
//!     for _ in 0..8 {
//!         let score = [x; 4];
//!         let (mut g, mut h) = ([0.0; 4], [0.0; 4]);
//!         let inputs = Pointwise::new(&score, &counts);
//!         loss.value_grad_hess(&inputs, Reduction::Mean, curvature, &mut g, &mut h)?;
//!         x -= g.iter().sum::<f64>() / h.iter().sum::<f64>();
//!     }
//!     Ok(x)
//! };
//! let exact = newton(Curvature::Exact)?;
//! assert!((exact - 2f64.ln()).abs() < 1e-12); // quadratic convergence
//! let damped = newton(Curvature::XGBoost)?;
//! assert!(damped > 0.0 && damped < 2f64.ln()); // each step shrunk by e^-0.7
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! ## Distance transforms
//! [`distance`] computes exact Euclidean distance transforms of masks (SciPy's numbers, in
//! linear time) and the signed distance maps [`Boundary`] uses.
//!
//! ## Class-imbalance weights
//! [`weights`] turns class counts or labels into the vectors the losses take as class
//! `weight` or `pos_weight`: scikit-learn's "balanced" inverse frequency, its square root,
//! and Cui et al.'s effective-number weights.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[macro_use]
mod api;
mod catalogue;
mod classification;
pub mod codegen;
mod detection;
pub mod distance;
mod error;
mod eval;
mod evaluator;
pub mod gradcheck;
pub mod guide;
mod hessian;
pub mod math;
mod metric;
pub mod numerics;
mod ranking;
mod real;
mod reduction;
mod registry;
mod regression;
pub mod sample;
mod segmentation;
mod sequence;
mod tensor;
pub mod weights;

#[cfg(feature = "ndarray")]
pub mod nd;

// The README's Rust snippets compile and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use catalogue::{
    Bound, Family, InputKind, InputSpec, Kink, Kinks, LossInfo, NanRule, ParamKind, ParamSpec,
    Plot, PlotAxis, Range, Role, SampleFn,
};
pub use classification::{
    Asymmetric, Bce, BceWithLogits, BinaryInputs, ClassInputs, ClassTarget, CrossEntropy, Focal,
    Hinge, HingeEmbedding, KlDiv, KlReduction, MarginRanking, MultiMargin, MultilabelMargin,
    MultilabelSoftMargin, Nll, Poly1, RankingInputs, SoftMargin, SoftmaxFocal, Sparsemax,
    SquaredHinge,
};
pub use detection::{BoxFormat, BoxInputs, Ciou, Diou, Eiou, Giou, Iou};
pub use error::{Error, Result};
pub use eval::{
    evaluate_hess, evaluate_into, evaluate_repeated, evaluate_with, ArrayData, Buffers, Dtype,
    Evaluation, FloatArray, NamedArray, ParamArg, ParamValue, Params, SampleArrays,
};
/// The `half` crate, whose `f16` and `bf16` are the element types of [`ArrayData::F16`] and
/// [`ArrayData::BF16`].
pub use half;
pub use hessian::{Curvature, HessianInfo};
pub use metric::{
    set_tile_budget, tile_budget, ArcFace, BatchHardTriplet, CentreInputs, Circle, Contrastive,
    CosFace, CosineEmbedding, InfoNce, LabeledInputs, LiftedStructure, MultiSimilarity, NPairs,
    NtXent, PairInputs, ProxyAnchor, ProxyNca, SubCenterArcFace, SupCon, TripletInputs,
    TripletMargin, ViewInputs, DEFAULT_TILE_BUDGET,
};
pub use ranking::{Bpr, ListInputs, ListMle, ListNet, PreferenceInputs};
pub use real::Real;
pub use reduction::{Reduction, ReductionMode};
pub use registry::{catalogue, evaluate, find};
pub use regression::{
    AdaptiveWing, Cauchy, GammaDeviance, GaussianInputs, GaussianNll, Huber, LogCosh, Mae, Mape,
    Mse, Msle, Pointwise, PoissonNll, PseudoHuber, Quantile, SmoothL1, Tweedie, Wing, L2,
};
pub use segmentation::{
    Activation, BceDice, Boundary, CeDice, Dice, DiceFocal, FocalTversky, GeneralizedDice,
    GeneralizedWassersteinDice, HausdorffDt, Jaccard, LovaszHinge, LovaszSoftmax, SegInputs,
    SegTarget, SoftClDice, Tversky, WassersteinWeighting,
};
pub use sequence::{Ctc, CtcInputs};
pub use tensor::{Shape, Tensor, MAX_RANK};
