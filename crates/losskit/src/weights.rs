//! Class-imbalance weights: per-class `weight`s and per-label `pos_weight`s computed from
//! class counts or from the labels themselves.
//!
//! These are not losses: they produce the vectors that feed a loss's class `weight` (cross
//! entropy, NLL, Dice…), the `pos_weight` of BCE with logits, or a focal loss's per-class
//! `alpha`.
//!
//! | builder | from | gives, per class or label |
//! |---|---|---|
//! | [`ClassWeights`] | counts ([`ClassWeights::from_counts`]) or class indices ([`ClassWeights::from_labels`]) | a [`ClassWeightTable`]: count and weight under a [`Scheme`] |
//! | [`PosWeight`] | positive counts ([`PosWeight::from_counts`]) or a 0/1 target array ([`PosWeight::from_targets`]) | a [`PosWeightTable`]: positives, negatives and $n_\text{neg}/n_\text{pos}$ |
//!
//! # Schemes
//! With $n_c$ the number of samples of class $c$, $N = \sum_c n_c$ and $C$ classes:
//!
//! | [`Scheme`] | weight $w_c$ | all classes equal ($n_c = N/C$) | reference |
//! |---|---|---|---|
//! | [`Inverse`](Scheme::Inverse) | $\dfrac{N}{C n_c}$ | 1 | scikit-learn `compute_class_weight("balanced")` |
//! | [`InverseSqrt`](Scheme::InverseSqrt) | $\sqrt{\dfrac{N}{C n_c}}$ | 1 | – |
//! | [`Effective`](Scheme::Effective) | $\dfrac{1 - \beta}{1 - \beta^{n_c}}$ | $\frac{1-\beta}{1-\beta^{N/C}}$ | Cui et al. 2019 |
//!
//! Each can be normalised to sum to the number of classes (Cui et al.'s convention), which
//! keeps the loss on the scale of the unweighted one:
//! $$\tilde w_c = C \frac{w_c}{\sum_k w_k}$$
//!
//! Which to use: `inverse` gives every class the same total weight ($n_c w_c = N/C$), which
//! over-corrects when the rarest class has a handful of noisy samples; `inverse_sqrt` is the
//! geometric mean of no reweighting and `inverse` (a milder correction); `effective`
//! interpolates between no reweighting ($\beta = 0$: every weight 1) and `inverse`
//! ($\beta \to 1$: $w_c \to 1/n_c$ up to a constant). Cui et al. read $\beta$ as
//! $(M - 1)/M$ for a class of $M$ distinct prototypes, and tune it per dataset over
//! 0.9, 0.99, 0.999 and 0.9999; the larger the counts, the closer to 1 it must be to make a
//! difference.
//!
//! # Classes with no samples
//! A class with $n_c = 0$ would get an infinite weight under every scheme (and
//! scikit-learn raises `classes should have valid labels that are in y`). By default
//! ([`Absent::Error`]) that is an [`Error::ZeroCount`] naming the class. With
//! [`Absent::Zero`], the weights are computed over the $K$ classes that have samples (as if
//! the absent ones did not exist: $C$ becomes $K$ in the formulas and the normalisation),
//! and each absent class gets weight 0. For `inverse` that is exactly scikit-learn's
//! `compute_class_weight("balanced", classes=np.unique(y), y=y)` with zeros inserted.
//! Nothing here ever returns an infinite or NaN weight.
//!
//! # Precision
//! Everything is computed in `f64`, whatever the loss's type: cast the weights with
//! `as f32` for an `f32` loss. $1 - \beta^{n}$ is computed as $-\operatorname{expm1}(n \ln
//! \beta)$: the naive `1 - beta.powi(n)` cancels when $n(1-\beta)$ is small (with
//! $\beta = 1 - 10^{-6}$ and $n = 3$ it is off by $1.5\cdot10^{-11}$ relative), and
//! $\beta^{n}$ underflowing to 0 for large $n$ is harmless (the weight tends to its limit
//! $1 - \beta$).
//!
//! # Example
//! ```
//! use losskit::weights::{Absent, ClassWeights, Scheme};
//!
//! // 900, 90 and 10 samples of three classes.
//! let table = ClassWeights::default().from_counts(&[900, 90, 10])?;
//! assert_eq!(table.scheme().name(), "inverse");
//! assert_eq!(table.counts(), &[900, 90, 10]);
//! assert_eq!(table.weights(), &[1000.0 / 2700.0, 1000.0 / 270.0, 1000.0 / 30.0]);
//!
//! // Cui et al.'s class-balanced weights, normalised to sum to 3.
//! let cb = ClassWeights::new(Scheme::Effective { beta: 0.999 })?.normalize(true);
//! let w = cb.from_counts(&[900, 90, 10])?.into_weights();
//! assert!((w.iter().sum::<f64>() - 3.0).abs() < 1e-12);
//!
//! // A class with no samples is an error by default, weight 0 on request.
//! let err = ClassWeights::default().from_counts(&[10, 0, 30]).unwrap_err();
//! assert!(err.to_string().starts_with("weights: class 1 has no samples in `counts`"));
//! let w = ClassWeights::default().absent(Absent::Zero).from_counts(&[10, 0, 30])?;
//! assert_eq!(w.weights(), &[2.0, 0.0, 40.0 / 60.0]);
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! # References
//! - scikit-learn, `sklearn.utils.class_weight.compute_class_weight` with
//!   `class_weight="balanced"` (the numbers of [`Scheme::Inverse`] matched bit for bit),
//!   after G. King and L. Zeng, "Logistic Regression in Rare Events Data", Political
//!   Analysis 9(2), 2001.
//! - Y. Cui, M. Jia, T.-Y. Lin, Y. Song, S. Belongie, "Class-Balanced Loss Based on Effective
//!   Number of Samples", CVPR 2019 (arXiv:1901.05555), [`Scheme::Effective`].
//! - PyTorch `torch.nn.BCEWithLogitsLoss`, whose `pos_weight` is
//!   $n_\text{neg}/n_\text{pos}$ per label ([`PosWeight`]).

use crate::error::{Error, Result};
use crate::real::Real;
use crate::tensor::Tensor;

/// The name every error of this module starts with.
const LOSS: &str = "weights";

/// The default $\beta$ of [`Scheme::Effective`]: 0.999 (Cui et al. tune it per dataset
/// over 0.9 to 0.9999).
pub const DEFAULT_BETA: f64 = 0.999;

/// How a class's weight follows from its count. See the [module documentation](self) for
/// the formulas side by side.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Scheme {
    /// $w_c = N / (C n_c)$: scikit-learn's `"balanced"` weights. Every class gets the same
    /// total weight $n_c w_c = N/C$, and a balanced dataset gets weights 1.
    #[default]
    Inverse,
    /// $w_c = \sqrt{N / (C n_c)}$, the square root of [`Inverse`](Scheme::Inverse): a
    /// milder correction, proportional to $n_c^{-1/2}$. The normalisation by $N/C$ inside
    /// the root is kept so that a balanced dataset gets weights 1, as with `Inverse`;
    /// after [`normalize`](ClassWeights::normalize) any constant factor cancels, so this
    /// equals every other $n_c^{-1/2}$ convention.
    InverseSqrt,
    /// $w_c = (1 - \beta)/(1 - \beta^{n_c})$: the inverse of Cui et al.'s effective number
    /// of samples $E_{n} = (1 - \beta^{n})/(1 - \beta)$. `beta` in $[0, 1)$; its default is
    /// [`DEFAULT_BETA`]. $\beta = 0$ gives every class weight 1; $\beta \to 1$ tends to
    /// `Inverse` (up to a constant).
    Effective {
        /// $\beta \in [0, 1)$.
        beta: f64,
    },
}

impl Scheme {
    /// The scheme's name: `"inverse"`, `"inverse_sqrt"` or `"effective"`.
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Inverse => "inverse",
            Scheme::InverseSqrt => "inverse_sqrt",
            Scheme::Effective { .. } => "effective",
        }
    }

    /// $\beta$ of [`Scheme::Effective`], `None` for the other schemes.
    pub fn beta(&self) -> Option<f64> {
        match *self {
            Scheme::Effective { beta } => Some(beta),
            _ => None,
        }
    }
}

/// What a class with no samples (or, for [`PosWeight`], a label with no positive sample)
/// gets. Its weight would be infinite under every scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Absent {
    /// An [`Error::ZeroCount`] naming the class (the default, as scikit-learn).
    #[default]
    Error,
    /// Weight 0, the other weights computed as if the class did not exist.
    Zero,
}

impl Absent {
    /// The policy's name: `"error"` or `"zero"`.
    pub fn name(self) -> &'static str {
        match self {
            Absent::Error => "error",
            Absent::Zero => "zero",
        }
    }
}

/// Per-class weights for imbalanced data: a [`Scheme`], whether to normalise, and what a
/// class with no samples gets.
///
/// Valid by construction: [`ClassWeights::new`] checks the scheme's parameter, and the
/// two knobs ([`normalize`](Self::normalize), [`absent`](Self::absent)) cannot be
/// invalid. `Default` is scikit-learn's `"balanced"`: [`Scheme::Inverse`], not
/// normalised, [`Absent::Error`].
///
/// # Definition
/// With $n_c$ the count of class $c$, $N = \sum_c n_c$ and $C$ classes:
/// - [`Scheme::Inverse`]: $w_c = \dfrac{N}{C n_c}$;
/// - [`Scheme::InverseSqrt`]: $w_c = \sqrt{\dfrac{N}{C n_c}}$;
/// - [`Scheme::Effective`]: $w_c = \dfrac{1 - \beta}{1 - \beta^{n_c}}$;
///
/// and, with [`normalize(true)`](Self::normalize),
/// $$\tilde w_c = C \frac{w_c}{\sum_k w_k}.$$
/// With [`Absent::Zero`], $C$ is the number of classes that have samples.
///
/// # Numerical stability
/// All in `f64`; $1 - \beta^{n}$ as $-\operatorname{expm1}(n \ln\beta)$, accurate when
/// $n(1 - \beta)$ is small, and $\beta^{n}$ underflowing for large $n$ gives the right limit
/// $w_c = 1 - \beta$. Every weight returned is finite and positive (0 for an absent class
/// under [`Absent::Zero`]).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | scheme | [`Scheme::Inverse`] | `beta` of [`Scheme::Effective`] in $[0, 1)$ ([`DEFAULT_BETA`] = 0.999) |
/// | `normalize` | `false` | sum to the number of classes |
/// | `absent` | [`Absent::Error`] | [`Absent::Zero`]: weight 0 |
///
/// # Errors
/// [`ClassWeights::new`] rejects `beta` outside $[0, 1)$ (NaN included); see
/// [`from_counts`](Self::from_counts) and [`from_labels`](Self::from_labels).
///
/// # Example
/// ```
/// use losskit::weights::{ClassWeights, Scheme};
///
/// // Segmentation labels of 2 images of 2×3 pixels, classes 0..3.
/// let labels = [0i64, 0, 0, 0, 1, 2, 0, 0, 1, 0, 0, 2];
/// let table = ClassWeights::new(Scheme::InverseSqrt)?
///     .from_labels(losskit::Tensor::new(&labels, &[2, 2, 3])?, Some(3))?;
/// assert_eq!(table.counts(), &[8, 2, 2]);
/// assert_eq!(table.total(), 12);
/// assert_eq!(table.weights(), &[0.5f64.sqrt(), 2f64.sqrt(), 2f64.sqrt()]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// scikit-learn `compute_class_weight("balanced")` (matched bit for bit by
/// [`Scheme::Inverse`]); Cui et al., "Class-Balanced Loss Based on Effective Number of
/// Samples", CVPR 2019 ([`Scheme::Effective`] and the normalisation).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClassWeights {
    scheme: Scheme,
    normalize: bool,
    absent: Absent,
}

impl ClassWeights {
    /// Class weights under `scheme`, not normalised, with [`Absent::Error`].
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `beta` of [`Scheme::Effective`] is outside $[0, 1)$ or
    /// NaN: $\beta = 1$ makes every weight $0/0$.
    pub fn new(scheme: Scheme) -> Result<Self> {
        if let Scheme::Effective { beta } = scheme {
            // Written so that NaN fails too.
            if !((0.0..1.0).contains(&beta)) {
                return Err(Error::InvalidParam {
                    loss: LOSS,
                    param: "beta",
                    value: beta,
                    expected: "in [0, 1)",
                });
            }
        }
        Ok(ClassWeights {
            scheme,
            normalize: false,
            absent: Absent::Error,
        })
    }

    /// Whether to scale the weights to sum to the number of classes (Cui et al.'s
    /// convention; the number of classes with samples under [`Absent::Zero`]).
    #[must_use]
    pub fn normalize(mut self, normalize: bool) -> Self {
        self.normalize = normalize;
        self
    }

    /// What a class with no samples gets: an error (the default) or weight 0.
    #[must_use]
    pub fn absent(mut self, absent: Absent) -> Self {
        self.absent = absent;
        self
    }

    /// The weights of classes `0..counts.len()` from their sample counts.
    ///
    /// # Errors
    /// - [`Error::BadShape`] when `counts` is empty;
    /// - [`Error::ZeroCount`] for the first class with count 0 under [`Absent::Error`], or
    ///   when every count is 0;
    /// - [`Error::InvalidInteger`] when the counts' sum overflows `u64`.
    ///
    /// # Example
    /// ```
    /// use losskit::weights::{ClassWeights, Scheme};
    /// let w = ClassWeights::new(Scheme::Effective { beta: 0.0 })?.from_counts(&[900, 90, 10])?;
    /// assert_eq!(w.weights(), &[1.0, 1.0, 1.0]);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    pub fn from_counts(&self, counts: &[u64]) -> Result<ClassWeightTable> {
        if counts.is_empty() {
            return Err(Error::BadShape {
                loss: LOSS,
                arg: "counts",
                actual: vec![0],
                expected: "at least one class",
            });
        }
        self.table(counts.to_vec(), "counts")
    }

    /// The weights of classes `0..C` from class-index labels of any shape (`[N]`, or
    /// `[N, H, W]` for segmentation masks): each class's count is the number of its labels.
    ///
    /// `num_classes` is $C$; `None` infers it as the largest label plus one, so a class
    /// above every label is not seen (pass `num_classes` when one can be absent).
    ///
    /// # Errors
    /// - [`Error::BadShape`] when `labels` is empty;
    /// - [`Error::InvalidParam`] when `num_classes` is `Some(0)` or too large to allocate a
    ///   count per class;
    /// - [`Error::InvalidInteger`] for the first label that is negative or not below
    ///   `num_classes` (with its position and value), or, when `num_classes` is inferred, a
    ///   largest label not below the number of labels (some class would be absent; pass
    ///   `num_classes`);
    /// - as [`from_counts`](Self::from_counts) for classes with no labels.
    ///
    /// # Example
    /// ```
    /// use losskit::weights::ClassWeights;
    /// let w = ClassWeights::default().from_labels(&[1i64, 1, 1, 0], None)?;
    /// assert_eq!(w.counts(), &[1, 3]);
    /// assert_eq!(w.weights(), &[2.0, 4.0 / 6.0]);
    /// let err = ClassWeights::default().from_labels(&[1i64, 3, 0], Some(3)).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "weights: `labels` at [1] is 3, expected a class index in [0, `num_classes`)"
    /// );
    /// # Ok::<(), losskit::Error>(())
    /// ```
    pub fn from_labels<'a>(
        &self,
        labels: impl Into<Tensor<'a, i64>>,
        num_classes: Option<usize>,
    ) -> Result<ClassWeightTable> {
        let labels = labels.into();
        if labels.is_empty() {
            return Err(Error::BadShape {
                loss: LOSS,
                arg: "labels",
                actual: labels.dims().to_vec(),
                expected: "at least one label",
            });
        }
        let bad = |flat: usize, value: i64, expected: &'static str| Error::InvalidInteger {
            loss: LOSS,
            arg: "labels",
            index: labels.shape().unravel(flat),
            value: i128::from(value),
            expected,
        };
        let classes = match num_classes {
            Some(0) => {
                return Err(Error::InvalidParam {
                    loss: LOSS,
                    param: "num_classes",
                    value: 0.0,
                    expected: "at least 1",
                })
            }
            Some(c) => {
                let in_range = |l: i64| usize::try_from(l).is_ok_and(|l| l < c);
                if let Some(flat) = labels.data().iter().position(|&l| !in_range(l)) {
                    let value = labels.data()[flat];
                    return Err(bad(flat, value, "a class index in [0, `num_classes`)"));
                }
                c
            }
            None => {
                if let Some(flat) = labels.data().iter().position(|&l| l < 0) {
                    let value = labels.data()[flat];
                    return Err(bad(flat, value, "a class index >= 0"));
                }
                // The largest label and where it first occurs; `labels` is not empty.
                let max = labels.data().iter().copied().max().unwrap_or(0);
                let flat = labels.data().iter().position(|&l| l == max).unwrap_or(0);
                // More classes than labels means an absent class for sure: refusing it here
                // also keeps one stray huge label from allocating a count per class up to it.
                match usize::try_from(max) {
                    Ok(m) if m < labels.len() => m + 1,
                    _ => {
                        return Err(bad(
                            flat,
                            max,
                            "a class index below the number of labels when `num_classes` is inferred; pass `num_classes`",
                        ))
                    }
                }
            }
        };
        let mut counts = Vec::new();
        counts
            .try_reserve_exact(classes)
            .map_err(|_| Error::InvalidIntParam {
                loss: LOSS,
                param: "num_classes",
                value: classes as i128,
                expected: "small enough to hold a count per class in memory",
            })?;
        counts.resize(classes, 0u64);
        for &l in labels.data() {
            // Every label was checked to be in [0, classes) above.
            if let Some(n) = usize::try_from(l).ok().and_then(|l| counts.get_mut(l)) {
                *n += 1;
            }
        }
        self.table(counts, "labels")
    }

    fn table(&self, counts: Vec<u64>, arg: &'static str) -> Result<ClassWeightTable> {
        let name = self.scheme.name();
        let total = checked_total(&counts, arg)?;
        if self.absent == Absent::Error {
            if let Some(c) = counts.iter().position(|&n| n == 0) {
                return Err(Error::ZeroCount {
                    loss: LOSS,
                    arg,
                    class: Some(c),
                    scheme: name,
                });
            }
        }
        // Under `Absent::Zero`, the classes with samples play the role of all C classes.
        let present = counts.iter().filter(|&&n| n > 0).count();
        if present == 0 {
            return Err(Error::ZeroCount {
                loss: LOSS,
                arg,
                class: None,
                scheme: name,
            });
        }
        let k = present as f64;
        let n_total = total as f64;
        // ln β once; −∞ for β = 0, which the formula below turns into weight 1.
        let ln_beta = self.scheme.beta().map_or(0.0, f64::ln);
        let mut weights: Vec<f64> = counts
            .iter()
            .map(|&n| {
                if n == 0 {
                    return 0.0;
                }
                let n = n as f64;
                match self.scheme {
                    // sklearn's operation order: N / (C · n_c), C · n_c formed first.
                    Scheme::Inverse => n_total / (k * n),
                    Scheme::InverseSqrt => (n_total / (k * n)).sqrt(),
                    Scheme::Effective { beta } => (1.0 - beta) / one_minus_pow(ln_beta, n),
                }
            })
            .collect();
        if self.normalize {
            // Cui et al.'s `weights / sum(weights) * C`, in that order. The sum is of
            // finite positive terms, at least one of them non-zero.
            let sum: f64 = weights.iter().sum();
            for w in &mut weights {
                *w = *w / sum * k;
            }
        }
        Ok(ClassWeightTable {
            scheme: self.scheme,
            normalized: self.normalize,
            absent: self.absent,
            counts,
            weights,
            total,
        })
    }
}

/// $1 - \beta^{n}$ for $n \ge 1$, given $\ln\beta$, as $-\operatorname{expm1}(n\ln\beta)$.
///
/// The naive `1.0 - beta.powf(n)` subtracts two numbers close to 1 when $n(1 - \beta)$ is
/// small and keeps only the digits `powf` got right beyond them; `expm1` has no such
/// cancellation. For $\beta = 0$, $\ln\beta = -\infty$ and the result is exactly 1.
#[inline]
fn one_minus_pow(ln_beta: f64, n: f64) -> f64 {
    -(n * ln_beta).exp_m1()
}

/// The sum of the counts, or an error naming the count where it overflows.
fn checked_total(counts: &[u64], arg: &'static str) -> Result<u64> {
    let mut total = 0u64;
    for (c, &n) in counts.iter().enumerate() {
        total = total.checked_add(n).ok_or(Error::InvalidInteger {
            loss: LOSS,
            arg,
            index: vec![c],
            value: i128::from(n),
            expected: "a count whose sum with the previous ones fits in 64 bits",
        })?;
    }
    Ok(total)
}

/// The result of [`ClassWeights`]: per class, its count and its weight, and how they were
/// computed. Everything `losskit weights` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassWeightTable {
    scheme: Scheme,
    normalized: bool,
    absent: Absent,
    counts: Vec<u64>,
    weights: Vec<f64>,
    total: u64,
}

impl ClassWeightTable {
    /// The weights, one per class: the vector for a loss's class `weight`.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The weights, by value.
    pub fn into_weights(self) -> Vec<f64> {
        self.weights
    }

    /// The sample count of each class.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The number of samples $N$.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The number of classes $C$.
    pub fn num_classes(&self) -> usize {
        self.counts.len()
    }

    /// The scheme (its [`name`](Scheme::name) and [`beta`](Scheme::beta)).
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether the weights were normalised to sum to the number of classes.
    pub fn normalized(&self) -> bool {
        self.normalized
    }

    /// The policy for classes with no samples.
    pub fn absent(&self) -> Absent {
        self.absent
    }

    /// `(class, count, weight)` for each class, in class order.
    pub fn rows(&self) -> impl Iterator<Item = (usize, u64, f64)> + '_ {
        self.counts
            .iter()
            .zip(&self.weights)
            .enumerate()
            .map(|(c, (&n, &w))| (c, n, w))
    }
}

/// Per-label `pos_weight` for BCE with logits: $n_\text{neg} / n_\text{pos}$ for each label.
///
/// `pos_weight` multiplies the positive term of binary cross entropy, so a label with
/// $n_\text{pos}$ positives and $n_\text{neg}$ negatives ends with equal total weight on
/// both sides. PyTorch's `BCEWithLogitsLoss` documentation: "if a dataset contains 100
/// positive and 300 negative examples of a single class, then `pos_weight` for the class
/// should be equal to 300/100 = 3".
///
/// `Default` (= [`PosWeight::new`]) uses [`Absent::Error`]: a label with no positive
/// sample is an error rather than an infinite weight; [`Absent::Zero`] gives it 0.
///
/// # Definition
/// For label $l$ with $n_{\text{pos},l}$ positive samples among $N$:
/// $$w_l = \frac{n_{\text{neg},l}}{n_{\text{pos},l}} = \frac{N - n_{\text{pos},l}}{n_{\text{pos},l}}$$
/// A label whose every sample is positive gets 0: its negative side is empty, and the
/// positive side then contributes nothing either.
///
/// # Numerical stability
/// One `f64` division of two exact integers (below $2^{53}$): correctly rounded.
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `absent` | [`Absent::Error`] | [`Absent::Zero`]: weight 0 |
///
/// # Errors
/// See [`from_counts`](Self::from_counts) and [`from_targets`](Self::from_targets).
///
/// # Example
/// ```
/// use losskit::weights::PosWeight;
/// use losskit::Tensor;
///
/// // 4 samples, 3 labels.
/// let targets = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0, 1.0];
/// let table = PosWeight::new().from_targets(Tensor::new(&targets, &[4, 3])?)?;
/// assert_eq!(table.positives(), &[1, 1, 4]);
/// assert_eq!(table.negatives(), &[3, 3, 0]);
/// assert_eq!(table.weights(), &[3.0, 3.0, 0.0]);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// PyTorch `torch.nn.BCEWithLogitsLoss` (`pos_weight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PosWeight {
    absent: Absent,
}

impl PosWeight {
    /// `pos_weight` with [`Absent::Error`].
    pub fn new() -> Self {
        PosWeight::default()
    }

    /// What a label with no positive sample gets: an error (the default) or weight 0.
    #[must_use]
    pub fn absent(mut self, absent: Absent) -> Self {
        self.absent = absent;
        self
    }

    /// `pos_weight` from the number of positive samples of each label among `total`
    /// samples.
    ///
    /// # Errors
    /// - [`Error::BadShape`] when `positives` is empty;
    /// - [`Error::InvalidParam`] when `total` is 0;
    /// - [`Error::InvalidInteger`] for a label with more positives than `total`;
    /// - [`Error::ZeroCount`] for the first label with no positives under [`Absent::Error`].
    ///
    /// # Example
    /// ```
    /// use losskit::weights::PosWeight;
    /// let w = PosWeight::new().from_counts(&[100, 250], 400)?;
    /// assert_eq!(w.weights(), &[3.0, 0.6]);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    pub fn from_counts(&self, positives: &[u64], total: u64) -> Result<PosWeightTable> {
        if positives.is_empty() {
            return Err(Error::BadShape {
                loss: LOSS,
                arg: "positives",
                actual: vec![0],
                expected: "at least one label",
            });
        }
        if total == 0 {
            return Err(Error::InvalidParam {
                loss: LOSS,
                param: "total",
                value: 0.0,
                expected: "at least 1 (the number of samples)",
            });
        }
        if let Some(l) = positives.iter().position(|&p| p > total) {
            return Err(Error::InvalidInteger {
                loss: LOSS,
                arg: "positives",
                index: vec![l],
                value: i128::from(positives[l]),
                expected: "at most `total`",
            });
        }
        let negatives = positives.iter().map(|&p| total - p).collect();
        self.table(positives.to_vec(), negatives, "positives")
    }

    /// `pos_weight` from binary targets: `[N]` (one label) or `[N, L]` (multi-label), every
    /// element 0 or 1 (the targets BCE takes).
    ///
    /// # Errors
    /// - [`Error::BadShape`] unless `targets` is `[N]` or `[N, L]` with $N, L \ge 1$;
    /// - [`Error::InvalidValue`] for the first element that is not 0 or 1 (NaN included),
    ///   with its position;
    /// - [`Error::ZeroCount`] for the first label with no positives under [`Absent::Error`].
    ///
    /// # Example
    /// ```
    /// use losskit::weights::{Absent, PosWeight};
    /// let targets = [0.0f64, 0.0, 1.0, 0.0];
    /// let w = PosWeight::new().from_targets(&targets)?;
    /// assert_eq!((w.positives(), w.negatives(), w.weights()), (&[1][..], &[3][..], &[3.0][..]));
    /// let none = [0.0f64; 4];
    /// assert!(PosWeight::new().from_targets(&none).is_err());
    /// assert_eq!(PosWeight::new().absent(Absent::Zero).from_targets(&none)?.weights(), &[0.0]);
    /// # Ok::<(), losskit::Error>(())
    /// ```
    pub fn from_targets<'a, T: Real>(
        &self,
        targets: impl Into<Tensor<'a, T>>,
    ) -> Result<PosWeightTable> {
        let targets = targets.into();
        let labels = match *targets.dims() {
            [n] if n > 0 => 1,
            [n, l] if n > 0 && l > 0 => l,
            _ => {
                return Err(Error::BadShape {
                    loss: LOSS,
                    arg: "targets",
                    actual: targets.dims().to_vec(),
                    expected: "`[N]` or `[N, L]` with N, L >= 1",
                })
            }
        };
        let mut positives = vec![0u64; labels];
        let mut negatives = vec![0u64; labels];
        for (i, (&y, l)) in targets.data().iter().zip((0..labels).cycle()).enumerate() {
            let side = if y == T::ONE {
                &mut positives
            } else if y == T::ZERO {
                &mut negatives
            } else {
                return Err(Error::InvalidValue {
                    loss: LOSS,
                    arg: "targets",
                    index: targets.shape().unravel(i),
                    value: y.to_f64(),
                    expected: "0 or 1",
                });
            };
            if let Some(n) = side.get_mut(l) {
                *n += 1;
            }
        }
        self.table(positives, negatives, "targets")
    }

    fn table(
        &self,
        positives: Vec<u64>,
        negatives: Vec<u64>,
        arg: &'static str,
    ) -> Result<PosWeightTable> {
        if self.absent == Absent::Error {
            if let Some(l) = positives.iter().position(|&p| p == 0) {
                return Err(Error::ZeroCount {
                    loss: LOSS,
                    arg,
                    class: Some(l),
                    scheme: "pos_weight",
                });
            }
        }
        let weights = positives
            .iter()
            .zip(&negatives)
            .map(|(&p, &n)| if p == 0 { 0.0 } else { n as f64 / p as f64 })
            .collect();
        Ok(PosWeightTable {
            absent: self.absent,
            positives,
            negatives,
            weights,
        })
    }
}

/// The result of [`PosWeight`]: per label, its positive and negative counts and its
/// `pos_weight`.
#[derive(Debug, Clone, PartialEq)]
pub struct PosWeightTable {
    absent: Absent,
    positives: Vec<u64>,
    negatives: Vec<u64>,
    weights: Vec<f64>,
}

impl PosWeightTable {
    /// The `pos_weight` of each label.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// The weights, by value.
    pub fn into_weights(self) -> Vec<f64> {
        self.weights
    }

    /// The number of positive samples of each label.
    pub fn positives(&self) -> &[u64] {
        &self.positives
    }

    /// The number of negative samples of each label.
    pub fn negatives(&self) -> &[u64] {
        &self.negatives
    }

    /// The number of labels $L$.
    pub fn num_labels(&self) -> usize {
        self.weights.len()
    }

    /// The policy for labels with no positive sample.
    pub fn absent(&self) -> Absent {
        self.absent
    }

    /// The name of the scheme, `"pos_weight"`, as [`Scheme::name`] names the class schemes.
    pub fn scheme_name(&self) -> &'static str {
        "pos_weight"
    }

    /// `(label, positives, negatives, pos_weight)` for each label, in label order.
    pub fn rows(&self) -> impl Iterator<Item = (usize, u64, u64, f64)> + '_ {
        self.positives
            .iter()
            .zip(&self.negatives)
            .zip(&self.weights)
            .enumerate()
            .map(|(l, ((&p, &n), &w))| (l, p, n, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<T: core::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    fn effective(beta: f64) -> ClassWeights {
        ClassWeights::new(Scheme::Effective { beta }).unwrap()
    }

    #[test]
    fn inverse_matches_the_sklearn_formula_bit_for_bit() {
        let w = ClassWeights::default().from_counts(&[900, 90, 10]).unwrap();
        // sklearn: 1000 / (3 * [900., 90., 10.]).
        assert_eq!(
            w.weights(),
            &[1000.0 / 2700.0, 1000.0 / 270.0, 1000.0 / 30.0]
        );
        assert_eq!(
            (w.total(), w.num_classes(), w.scheme().name()),
            (1000, 3, "inverse")
        );
        // Every class gets the same total weight N / C.
        for (_, n, wc) in w.rows() {
            assert!((n as f64 * wc - 1000.0 / 3.0).abs() < 1e-12);
        }
    }

    #[test]
    fn balanced_data_gets_weight_one_in_the_inverse_schemes() {
        for scheme in [Scheme::Inverse, Scheme::InverseSqrt] {
            let w = ClassWeights::new(scheme)
                .unwrap()
                .from_counts(&[7, 7, 7, 7])
                .unwrap();
            assert_eq!(w.weights(), &[1.0; 4], "{scheme:?}");
        }
    }

    #[test]
    fn inverse_sqrt_is_the_root_of_inverse() {
        let inv = ClassWeights::default().from_counts(&[5, 50, 500]).unwrap();
        let sqrt = ClassWeights::new(Scheme::InverseSqrt)
            .unwrap()
            .from_counts(&[5, 50, 500]);
        for (a, b) in inv.weights().iter().zip(sqrt.unwrap().weights()) {
            assert_eq!(a.sqrt(), *b);
        }
    }

    #[test]
    fn effective_limits() {
        // β = 0: every weight 1, and normalised still 1 (they sum to C).
        let w = effective(0.0).from_counts(&[900, 90, 10]).unwrap();
        assert_eq!(w.weights(), &[1.0, 1.0, 1.0]);
        let w = effective(0.0)
            .normalize(true)
            .from_counts(&[900, 90, 10])
            .unwrap();
        assert_eq!(w.weights(), &[1.0, 1.0, 1.0]);
        // A class with one sample gets exactly 1 whatever β.
        for beta in [0.0, 0.5, 0.999, 0.9999, 1.0 - 1e-12] {
            assert_eq!(effective(beta).from_counts(&[1]).unwrap().weights(), &[1.0]);
        }
        // β → 1: proportional to 1 / n_c, i.e. to the inverse weights.
        let w = effective(1.0 - 1e-12)
            .normalize(true)
            .from_counts(&[900, 90, 10])
            .unwrap();
        let inv = ClassWeights::default()
            .normalize(true)
            .from_counts(&[900, 90, 10])
            .unwrap();
        for (a, b) in w.weights().iter().zip(inv.weights()) {
            assert!((a - b).abs() <= 1e-6 * b, "{a} vs {b}");
        }
    }

    #[test]
    fn effective_huge_counts_underflow_to_the_limit() {
        // 0.9999^1e9 underflows to 0: the weight is its limit 1 − β, finite and positive.
        let w = effective(0.9999)
            .from_counts(&[1_000_000_000, 1_000_000, 10])
            .unwrap();
        assert_eq!(w.weights()[0], 1.0 - 0.9999);
        assert!(w.weights().iter().all(|x| x.is_finite() && *x > 0.0));
        let w = effective(0.9999)
            .normalize(true)
            .from_counts(&[u64::MAX / 2, 1])
            .unwrap();
        assert!(w.weights().iter().all(|x| x.is_finite() && *x > 0.0));
        assert!((w.weights().iter().sum::<f64>() - 2.0).abs() < 1e-15);
    }

    #[test]
    fn stable_one_minus_pow_beats_the_naive_form() {
        // β = 1 − 1e-6 (as stored in binary), n = 3. The exact 1 − β³ of the stored β, from
        // Python's decimal module at 60 digits: 2.99999700008726682101473293e-06.
        let beta = 1.0 - 1e-6;
        let exact = 2.999_997_000_087_266_8e-6;
        let stable = one_minus_pow(f64::ln(beta), 3.0);
        let naive = 1.0 - beta.powi(3);
        assert!(((stable - exact) / exact).abs() < 1e-15, "{stable:e}");
        assert!(((naive - exact) / exact).abs() > 1e-12, "{naive:e}");
    }

    #[test]
    fn normalised_weights_sum_to_the_number_of_classes() {
        for scheme in [
            Scheme::Inverse,
            Scheme::InverseSqrt,
            Scheme::Effective { beta: 0.999 },
        ] {
            let c = ClassWeights::new(scheme).unwrap().normalize(true);
            let w = c.from_counts(&[900, 90, 10, 1]).unwrap();
            assert!(w.normalized());
            assert!(
                (w.weights().iter().sum::<f64>() - 4.0).abs() < 1e-14,
                "{scheme:?}"
            );
        }
    }

    #[test]
    fn absent_zero_is_the_computation_without_the_absent_classes() {
        let counts = [0, 10, 0, 30, 5];
        let present = [10, 30, 5];
        for scheme in [
            Scheme::Inverse,
            Scheme::InverseSqrt,
            Scheme::Effective { beta: 0.99 },
        ] {
            for normalize in [false, true] {
                let c = ClassWeights::new(scheme).unwrap().normalize(normalize);
                let full = c.absent(Absent::Zero).from_counts(&counts).unwrap();
                let only = c.from_counts(&present).unwrap();
                assert_eq!(full.weights()[0], 0.0);
                assert_eq!(full.weights()[2], 0.0);
                let kept = [full.weights()[1], full.weights()[3], full.weights()[4]];
                assert_eq!(kept, only.weights(), "{scheme:?} {normalize}");
                assert_eq!(full.absent(), Absent::Zero);
            }
        }
    }

    #[test]
    fn labels_are_counted_per_class() {
        let w = ClassWeights::default().absent(Absent::Zero);
        let t = w.from_labels(&[2i64, 0, 2, 2], Some(4)).unwrap();
        assert_eq!(t.counts(), &[1, 0, 3, 0]);
        assert_eq!(t.weights(), &[2.0, 0.0, 4.0 / 6.0, 0.0]);
        let t = w.from_labels(&[2i64, 0, 2, 2], None).unwrap();
        assert_eq!(t.counts(), &[1, 0, 3]);
        // Same numbers as from the counts.
        let t = ClassWeights::default()
            .from_labels(&[1i64, 0, 1, 1, 1], None)
            .unwrap();
        assert_eq!(t, ClassWeights::default().from_counts(&[1, 4]).unwrap());
    }

    #[test]
    fn rows_carry_everything_a_printer_needs() {
        let t = effective(0.9).normalize(true).from_counts(&[3, 1]).unwrap();
        let rows: Vec<_> = t.rows().collect();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].0, rows[0].1, rows[1].0, rows[1].1), (0, 3, 1, 1));
        assert_eq!([rows[0].2, rows[1].2], t.weights());
        assert_eq!(
            (t.scheme().name(), t.scheme().beta()),
            ("effective", Some(0.9))
        );
        assert_eq!(
            (Scheme::Inverse.beta(), Scheme::InverseSqrt.name()),
            (None, "inverse_sqrt")
        );
        assert_eq!(
            (Absent::Error.name(), Absent::Zero.name()),
            ("error", "zero")
        );
        let p = PosWeight::new().from_counts(&[1, 3], 4).unwrap();
        let rows: Vec<_> = p.rows().collect();
        assert_eq!(rows, [(0, 1, 3, 3.0), (1, 3, 1, 1.0 / 3.0)]);
        assert_eq!(
            (p.scheme_name(), p.num_labels(), p.absent()),
            ("pos_weight", 2, Absent::Error)
        );
    }

    #[test]
    fn pos_weight_from_targets_matches_from_counts() {
        let targets = [
            1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0,
        ];
        let t = PosWeight::new()
            .from_targets(Tensor::new(&targets, &[6, 2]).unwrap())
            .unwrap();
        assert_eq!(t.positives(), &[3, 3]);
        assert_eq!(t, PosWeight::new().from_counts(&[3, 3], 6).unwrap());
        // A rank-1 target is one label; -0.0 is a negative.
        let t = PosWeight::new().from_targets(&[-0.0f32, 1.0, 0.0]).unwrap();
        assert_eq!(
            (t.positives(), t.negatives(), t.weights()),
            (&[1][..], &[2][..], &[2.0][..])
        );
    }

    #[test]
    fn every_error_message() {
        let d = ClassWeights::default();
        let cases: Vec<(String, &str)> = vec![
            (
                msg(ClassWeights::new(Scheme::Effective { beta: 1.0 })),
                "weights: `beta` must be in [0, 1), got 1",
            ),
            (
                msg(ClassWeights::new(Scheme::Effective { beta: f64::NAN })),
                "weights: `beta` must be in [0, 1), got NaN",
            ),
            (
                msg(ClassWeights::new(Scheme::Effective { beta: -0.5 })),
                "weights: `beta` must be in [0, 1), got -0.5",
            ),
            (msg(d.from_counts(&[])), "weights: `counts` has shape [0], expected at least one class"),
            (
                msg(d.from_counts(&[10, 0, 30])),
                "weights: class 1 has no samples in `counts`, so its `inverse` weight would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                msg(effective(0.999).normalize(true).from_counts(&[5, 5, 0])),
                "weights: class 2 has no samples in `counts`, so its `effective` weight would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                msg(d.absent(Absent::Zero).from_counts(&[0, 0])),
                "weights: every class has count 0 in `counts`, so the `inverse` weights are undefined",
            ),
            (
                msg(d.from_counts(&[1, u64::MAX])),
                "weights: `counts` at [1] is 18446744073709551615, expected a count whose sum with the previous ones fits in 64 bits",
            ),
            (
                msg(ClassWeights::new(Scheme::InverseSqrt).unwrap().from_labels(&[0i64, 2, 0], Some(3))),
                "weights: class 1 has no samples in `labels`, so its `inverse_sqrt` weight would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                msg(d.from_labels(&[] as &[i64], None)),
                "weights: `labels` has shape [0], expected at least one label",
            ),
            (
                msg(d.from_labels(&[0i64], Some(0))),
                "weights: `num_classes` must be at least 1, got 0",
            ),
            (
                msg(d.from_labels(Tensor::new(&[0i64, 1, 2, 1, -1, 0], &[2, 3]).unwrap(), None)),
                "weights: `labels` at [1, 1] is -1, expected a class index >= 0",
            ),
            (
                msg(d.from_labels(Tensor::new(&[0i64, 1, 2, 1, -100, 0], &[2, 3]).unwrap(), Some(3))),
                "weights: `labels` at [1, 1] is -100, expected a class index in [0, `num_classes`)",
            ),
            (
                msg(d.from_labels(&[0i64, 1, 255, 1], None)),
                "weights: `labels` at [2] is 255, expected a class index below the number of labels when `num_classes` is inferred; pass `num_classes`",
            ),
            (
                msg(d.from_labels(&[0i64, 1, i64::MAX, 1], None)),
                "weights: `labels` at [2] is 9223372036854775807, expected a class index below the number of labels when `num_classes` is inferred; pass `num_classes`",
            ),
            (
                msg(d.from_labels(&[0i64], Some(usize::MAX))),
                "weights: `num_classes` must be small enough to hold a count per class in memory, got 18446744073709551615",
            ),
            (
                msg(PosWeight::new().from_counts(&[], 10)),
                "weights: `positives` has shape [0], expected at least one label",
            ),
            (
                msg(PosWeight::new().from_counts(&[1], 0)),
                "weights: `total` must be at least 1 (the number of samples), got 0",
            ),
            (
                msg(PosWeight::new().from_counts(&[1, 11], 10)),
                "weights: `positives` at [1] is 11, expected at most `total`",
            ),
            (
                msg(PosWeight::new().from_counts(&[4, 0, 1], 10)),
                "weights: label 1 has no positive samples in `positives`, so its `pos_weight` would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                msg(PosWeight::new().from_targets(Tensor::new(&[1.0f32, 0.0, 1.0, 0.0], &[2, 2]).unwrap())),
                "weights: label 1 has no positive samples in `targets`, so its `pos_weight` would be infinite; set the absent policy to `zero` to give it weight 0",
            ),
            (
                msg(PosWeight::new().from_targets(Tensor::new(&[1.0f32, 0.0, 0.5, 0.0], &[2, 2]).unwrap())),
                "weights: `targets` at [1, 0] is 0.5, expected 0 or 1",
            ),
            (
                msg(PosWeight::new().from_targets(&[1.0f64, f64::NAN])),
                "weights: `targets` at [1] is NaN, expected 0 or 1",
            ),
            (
                msg(PosWeight::new().from_targets(Tensor::new(&[1.0f32; 8], &[2, 2, 2]).unwrap())),
                "weights: `targets` has shape [2, 2, 2], expected `[N]` or `[N, L]` with N, L >= 1",
            ),
            (
                msg(PosWeight::new().from_targets(Tensor::new(&[] as &[f32], &[0, 3]).unwrap())),
                "weights: `targets` has shape [0, 3], expected `[N]` or `[N, L]` with N, L >= 1",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
