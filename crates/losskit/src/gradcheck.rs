//! Gradient checks: analytic gradients against central finite differences, in f64, for any
//! catalogue loss and for a loss you write yourself.
//!
//! A custom loss is a claim about two functions, its value and its gradient; before it is
//! trusted, the gradient should be checked against the value. [`check_custom`] does that for
//! anything implementing [`CustomLoss`] (or a pair of closures, [`check_fn`]); [`check`] and
//! [`check_arrays`] do the same for every loss of the catalogue, on the inputs its
//! [`sample`](crate::LossInfo::sample) generates or on arrays you give.
//!
//! # Method
//! For an element $x_i$ of a prediction input, with $h = 10^{-5}\max(1, |x_i|)$,
//! $$\hat g_i = \frac{f(x + h e_i) - f(x - h e_i)}{2h}.$$
//! An input of more than [`Options::max_checked`] elements is checked on that many of them,
//! a deterministic sample drawn with `options.seed` (every element costs two evaluations of
//! the whole loss, so checking all of them is O(size²)); the others are not compared.
//!
//! The reported error of element $i$ is
//! $$r_i = \frac{|g_i - \hat g_i|}{\max(|g_i|, |\hat g_i|, s_i)},$$
//! with the floor $s_i = \max(10^{-3} \max_j |\hat g_j|,\ \delta_i / \mathrm{tol})$: an element
//! whose gradient is tiny next to the rest is compared in absolute terms (as `atol` does in
//! PyTorch's check), and so is one whose gradient is below $\delta_i$, the error the central
//! difference itself can make. So an element passes when
//! $|g_i - \hat g_i| \le \max(\mathrm{tol}\cdot\max(|g_i|, |\hat g_i|, 10^{-3}\max_j|\hat g_j|),\ \delta_i)$.
//!
//! $\delta_i$ has two parts. **Round-off**: each value of $f$ carries a rounding error of a few
//! $\varepsilon |f|$ (the kernels sum in blocks, so it hardly grows with the size), and the
//! difference of two values divided by $2h$ carries
//! $\delta^\text{round}_i = 8\,\varepsilon\,(1 + |f|) / h$ (8 ulps of the value, with 1 for a value
//! near 0 made of terms that are not). This alone fixes the failures of a fixed tolerance at
//! large sizes: a mean over $n$ elements has gradients of size $1/n$, whose differences of
//! $f$ are $h/n$, and their relative round-off $\varepsilon|f|n/h$ passes `1e-6` near
//! $n = 100$. **Truncation**, and round-off beyond that estimate: by Taylor,
//! $\hat g_i(h) = g_i + h^2 f'''/6 + O(h^4)$, so $\hat g_i(2h) - \hat g_i(h) = 3 \cdot h^2 f'''/6$
//! and $\hat g_i(h/2) - \hat g_i(h) = -\tfrac34 \cdot h^2 f'''/6$, each plus the rounding noise of
//! both differences. For an element that fails on round-off alone (and only for it: four more
//! evaluations), $\delta_i = \delta^\text{round}_i + 2\max(|\hat g_i(2h) - \hat g_i(h)|,
//! |\hat g_i(h/2) - \hat g_i(h)|)$, an upper estimate of both the $h^2$ term and the noise
//! actually present. A gradient that is wrong by more than the differences can resolve
//! still fails; a correct one passes at any size.
//!
//! Kinks (`mae` at 0, `hinge` at the margin) have no derivative: when an element fails and
//! its one-sided differences disagree by an amount that does not shrink with $h$ (a jump in
//! the derivative within $h$ of the point, not curvature), it is counted as `kinks` and left
//! out rather than reported as a wrong gradient.
//!
//! # Example
//! ```
//! use losskit::gradcheck::{check, check_fn, Options};
//!
//! // A catalogue loss on its generated inputs.
//! let report = check("huber", &[("delta", "0.5")], &Options::default())?;
//! assert!(report.passed(), "{report:?}");
//!
//! // Your own loss: sum of x⁴, with a wrong gradient (3x³ instead of 4x³).
//! let x = [0.5, -1.0, 2.0];
//! let value = |x: &[f64]| x.iter().map(|v| v.powi(4)).sum::<f64>();
//! let wrong = |x: &[f64], g: &mut [f64]| {
//!     for (g, v) in g.iter_mut().zip(x) {
//!         *g = 3.0 * v.powi(3);
//!     }
//! };
//! let r = check_fn(value, wrong, &x, &Options::default())?;
//! assert!(r.worst > 0.2 && !r.passed(Options::default().tol));
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! # Hessians
//! [`check_hessian`] and [`check_hessian_arrays`] check the diagonal of the Hessian of the
//! losses that have one ([`LossInfo::hessian`](crate::LossInfo::hessian), exact curvature)
//! the same way, against central differences of the analytic gradient:
//! $\hat h_i = (g_i(x + h e_i) - g_i(x - h e_i))/2h$, with the floor
//! $s = \max(10^{-3}\max_j|\hat h_j|,\ 10^{3}\varepsilon(1 + \max_j|g_j|)/h)$; an element
//! whose one-sided differences disagree (a jump in the curvature within $h$: huber at
//! $|e| = \delta$) is counted as a kink.
//! ```
//! use losskit::gradcheck::{check_hessian, Options};
//! let report = check_hessian("focal", &[("gamma", "2")], &Options::default())?;
//! assert!(report.passed(), "{report:?}");
//! # Ok::<(), losskit::Error>(())
//! ```
//!
//! # References
//! The same test as `torch.autograd.gradcheck` (central differences against the analytic
//! Jacobian), with a relative error per element instead of PyTorch's `atol + rtol·|ĝ|`.

use crate::catalogue::{LossInfo, Role};
use crate::error::{Error, Result};
use crate::eval::{evaluate_with, ArrayData, NamedArray, Params};
use crate::registry::find;
use crate::sample::{Rng, SampleData};

/// What a check runs on and how strict it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// The largest relative error accepted (default `1e-6`).
    pub tol: f64,
    /// The seed of the generated inputs (default 0).
    pub seed: u64,
    /// About how many prediction elements to generate (default 48).
    pub size: usize,
    /// The most elements compared per input (default 256); a larger input is checked on a
    /// deterministic sample of that many, drawn with `seed`.
    pub max_checked: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            tol: 1e-6,
            seed: 0,
            size: 48,
            max_checked: 256,
        }
    }
}

/// The result for one input (or for a custom loss's one argument).
#[derive(Debug, Clone, PartialEq)]
pub struct InputCheck {
    /// The input's name (`"x"` for a custom loss).
    pub input: String,
    /// The worst relative error over its elements (0 when none was checked).
    pub worst: f64,
    /// The flat index of the worst element.
    pub index: usize,
    /// The analytic gradient at that element.
    pub analytic: f64,
    /// The central difference at that element.
    pub numeric: f64,
    /// How many elements were compared (at most [`Options::max_checked`], a sample of the
    /// input when it is larger).
    pub checked: usize,
    /// How many elements sat on a kink (non-differentiable point) and were left out.
    pub kinks: usize,
}

impl InputCheck {
    /// Whether the worst error is within `tol`.
    pub fn passed(&self, tol: f64) -> bool {
        self.worst <= tol
    }
}

/// The result of a check of one catalogue loss.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The loss.
    pub loss: &'static str,
    /// The loss value at the point checked.
    pub value: f64,
    /// The tolerance used.
    pub tol: f64,
    /// One result per prediction input.
    pub inputs: Vec<InputCheck>,
}

impl Report {
    /// Whether every input is within the tolerance.
    pub fn passed(&self) -> bool {
        self.inputs.iter().all(|i| i.passed(self.tol))
    }

    /// The worst relative error over every input.
    pub fn worst(&self) -> f64 {
        self.inputs.iter().map(|i| i.worst).fold(0.0, f64::max)
    }
}

/// A loss you wrote: its value and its gradient at a point `x` (everything else, targets
/// included, lives in `self`).
pub trait CustomLoss {
    /// The loss at `x`.
    fn value(&self, x: &[f64]) -> f64;
    /// The gradient at `x`, written into `grad` (as long as `x`).
    fn gradient(&self, x: &[f64], grad: &mut [f64]);
}

/// Checks the gradient of `loss` at `x` against central differences of its value.
///
/// # Errors
/// [`Error::NonFiniteLoss`] when the value is not finite at `x` or next to it, or the gradient
/// is not finite; [`Error::BadShape`] when `x` is empty.
pub fn check_custom<L: CustomLoss + ?Sized>(
    loss: &L,
    x: &[f64],
    options: &Options,
) -> Result<InputCheck> {
    if x.is_empty() {
        return Err(Error::BadShape {
            loss: "gradcheck",
            arg: "x",
            actual: vec![0],
            expected: "at least one element",
        });
    }
    let mut analytic = vec![0.0; x.len()];
    loss.gradient(x, &mut analytic);
    let mut point = x.to_vec();
    let mut f = |p: &[f64]| Ok(loss.value(p));
    compare("custom", "x", &mut f, &mut point, &analytic, options)
}

/// [`check_custom`] for a value closure and a gradient closure.
///
/// # Errors
/// As [`check_custom`].
pub fn check_fn(
    value: impl Fn(&[f64]) -> f64,
    gradient: impl Fn(&[f64], &mut [f64]),
    x: &[f64],
    options: &Options,
) -> Result<InputCheck> {
    struct Pair<V, G>(V, G);
    impl<V: Fn(&[f64]) -> f64, G: Fn(&[f64], &mut [f64])> CustomLoss for Pair<V, G> {
        fn value(&self, x: &[f64]) -> f64 {
            (self.0)(x)
        }
        fn gradient(&self, x: &[f64], grad: &mut [f64]) {
            (self.1)(x, grad)
        }
    }
    check_custom(&Pair(value, gradient), x, options)
}

/// Checks the catalogue loss `name` (parameters as `KEY=VALUE` text) on inputs generated by
/// its [`sample`](crate::LossInfo::sample) with `options.seed` and `options.size`.
///
/// # Errors
/// An unknown loss or parameter, a parameter out of range, and whatever [`check_arrays`]
/// reports.
pub fn check(name: &str, params: &[(&str, &str)], options: &Options) -> Result<Report> {
    let info = find(name)?;
    let params = Params::parse(info, params)?;
    let sample = (info.sample)(options.size, &mut Rng::new(options.seed));
    let owned: Vec<(&str, Vec<usize>, Owned)> = sample
        .arrays
        .iter()
        .map(|a| {
            let data = match &a.data {
                SampleData::Float(v) => Owned::F64(v.clone()),
                SampleData::Index(v) => Owned::I64(v.clone()),
            };
            (a.name, a.dims.clone(), data)
        })
        .collect();
    let named: Vec<NamedArray<'_>> = owned
        .iter()
        .map(|(name, dims, d)| NamedArray {
            name,
            dims,
            data: match d {
                Owned::F64(v) => ArrayData::F64(v),
                Owned::I64(v) => ArrayData::I64(v),
            },
        })
        .collect();
    check_arrays(info, &named, &params, options)
}

enum Owned {
    F64(Vec<f64>),
    I64(Vec<i64>),
}

/// [`check`] for the Hessian: the exact diagonal of the Hessian of `input` of the catalogue
/// loss `name` against central differences of its analytic gradient, on generated inputs.
///
/// # Errors
/// As [`check`]; [`Error::NoHessian`] for a loss without one.
pub fn check_hessian(name: &str, params: &[(&str, &str)], options: &Options) -> Result<Report> {
    let info = find(name)?;
    let params = Params::parse(info, params)?;
    let sample = (info.sample)(options.size, &mut Rng::new(options.seed));
    let arrays = sample.arrays(crate::eval::Dtype::F64);
    check_hessian_arrays(info, &arrays.named(), &params, options)
}

/// [`check_arrays`] for the Hessian of `input` (float inputs widened to f64), with the loss's
/// first reduction.
///
/// # Errors
/// [`Error::NoHessian`] for a loss without one; whatever the loss rejects at the arrays
/// given; [`Error::NonFiniteLoss`] when the gradient is not finite at the point or next to it.
pub fn check_hessian_arrays(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    options: &Options,
) -> Result<Report> {
    if info.hessian.is_none() {
        return Err(Error::NoHessian { loss: info.name });
    }
    let reduction = info.reductions[0];
    let k = inputs
        .iter()
        .position(|a| a.name == "input")
        .ok_or(Error::MissingInput {
            loss: info.name,
            name: "input",
        })?;
    let mut x = widen(inputs[k].data);
    let n = x.len();
    let run = |x: &[f64], g: &mut [f64], h: &mut [f64]| -> Result<Option<f64>> {
        let mut arrays = inputs.to_vec();
        arrays[k].data = ArrayData::F64(x);
        Ok(crate::eval::evaluate_hess(
            info,
            &arrays,
            params,
            reduction,
            crate::Curvature::Exact,
            g,
            h,
        )?
        .value)
    };
    let (mut g0, mut analytic) = (vec![0.0; n], vec![0.0; n]);
    let value = run(&x, &mut g0, &mut analytic)?.unwrap_or(f64::NAN);
    let non_finite = |index: usize, value: f64, what: &'static str| Error::NonFiniteLoss {
        loss: info.name.to_owned(),
        arg: "input".to_owned(),
        index,
        value,
        what,
    };
    if let Some(i) = g0.iter().chain(&analytic).position(|v| !v.is_finite()) {
        return Err(non_finite(
            i % n.max(1),
            f64::NAN,
            "in the analytic gradient or Hessian",
        ));
    }
    // g_i at x + step·e_i.
    let gi = |x: &mut [f64], i: usize, step: f64| -> Result<f64> {
        let x0 = x[i];
        x[i] = x0 + step;
        let (mut g, mut h) = (vec![0.0; n], vec![0.0; n]);
        let r = run(x, &mut g, &mut h);
        x[i] = x0;
        r?;
        if g[i].is_finite() {
            Ok(g[i])
        } else {
            Err(non_finite(i, g[i], "next to the point checked"))
        }
    };
    let mut numeric = vec![0.0; n];
    let mut sides = vec![(0.0, 0.0); n];
    let mut steps = vec![0.0; n];
    for i in 0..n {
        let h = 1e-5 * x[i].abs().max(1.0);
        let (p, m) = (gi(&mut x, i, h)?, gi(&mut x, i, -h)?);
        steps[i] = h;
        numeric[i] = (p - m) / (2.0 * h);
        sides[i] = ((p - g0[i]) / h, (g0[i] - m) / h);
    }
    let scale = numeric.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let gmax = g0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut result = InputCheck {
        input: "input".to_owned(),
        worst: 0.0,
        index: 0,
        analytic: analytic.first().copied().unwrap_or(0.0),
        numeric: numeric.first().copied().unwrap_or(0.0),
        checked: 0,
        kinks: 0,
    };
    for i in 0..n {
        let (a, e, h) = (analytic[i], numeric[i], steps[i]);
        let floor = (1e-3 * scale).max(1e3 * f64::EPSILON * (1.0 + gmax) / h);
        let r = (a - e).abs() / a.abs().max(e.abs()).max(floor);
        let (fwd, bwd) = sides[i];
        if r > options.tol && (fwd - bwd).abs() > 1e-2 * fwd.abs().max(bwd.abs()).max(floor) {
            result.kinks += 1;
            continue;
        }
        result.checked += 1;
        if r > result.worst {
            result.worst = r;
            result.index = i;
            result.analytic = a;
            result.numeric = e;
        }
    }
    Ok(Report {
        loss: info.name,
        value,
        tol: options.tol,
        inputs: vec![result],
    })
}

/// Losses whose analytic gradient is, by their reference library's definition, not the
/// derivative of their value: the relative difference that definition allows, and why. The
/// checks use that tolerance for them (when it is larger than the one asked for), so a
/// gradient that is wrong beyond the definition still fails.
pub const SURROGATE_GRADIENTS: &[(&str, f64, &str)] = &[
    (
        "ciou",
        0.1,
        "α = v/(1 − IoU + v + eps) is a constant of the gradient (torchvision computes it under no_grad), so the term v·∂α/∂x is left out; the exact claim, ∂ciou = ∂diou + α·∂v, is checked by the detection property tests",
    ),
    (
        "circle",
        2.0,
        "the pair weights a_p = [1 + m − s]₊, a_n = [s + m]₊ are constants of the gradient (the paper and pytorch-metric-learning detach them), which changes its size and even its sign, so this check only runs it; the exact claim, the gradient of the loss with the weights frozen, is checked against central differences by the unit test metric::mining::tests::circle_gradient_is_the_frozen_weight_derivative",
    ),
];

/// Checks the loss `info` on the arrays given, in f64 (float inputs are widened), with its
/// first reduction (`mean`), for every prediction input. For the losses of
/// [`SURROGATE_GRADIENTS`] the tolerance is the one listed there, if larger.
///
/// # Errors
/// Whatever the loss rejects at the arrays given; [`Error::NonFiniteLoss`] when the loss is
/// not finite at the point or next to it.
pub fn check_arrays(
    info: &'static LossInfo,
    inputs: &[NamedArray<'_>],
    params: &Params,
    options: &Options,
) -> Result<Report> {
    let reduction = info.reductions[0];
    let options = &Options {
        tol: SURROGATE_GRADIENTS
            .iter()
            .find(|(name, _, _)| *name == info.name)
            .map_or(options.tol, |&(_, tol, _)| tol.max(options.tol)),
        ..*options
    };
    // Predictions widened to f64 (what is perturbed); the rest as given.
    let mut points: Vec<(usize, Vec<f64>)> = Vec::new();
    for (k, a) in inputs.iter().enumerate() {
        if info
            .input(a.name)
            .is_some_and(|s| s.role == Role::Prediction)
        {
            points.push((k, widen(a.data)));
        }
    }
    let run = |points: &[(usize, Vec<f64>)], grads: &[&str]| {
        let arrays: Vec<NamedArray<'_>> = inputs
            .iter()
            .enumerate()
            .map(|(k, a)| match points.iter().find(|(j, _)| *j == k) {
                Some((_, v)) => NamedArray {
                    name: a.name,
                    dims: a.dims,
                    data: ArrayData::F64(v),
                },
                None => *a,
            })
            .collect();
        evaluate_with(info, &arrays, params, reduction, grads)
    };
    let names: Vec<&str> = points.iter().map(|&(k, _)| inputs[k].name).collect();
    let at = run(&points, &names)?;
    let value = at.value.unwrap_or(f64::NAN);
    let mut checks = Vec::with_capacity(points.len());
    for (slot, (input, grad)) in at.grads.iter().enumerate() {
        let analytic: Vec<f64> = grad.to_f64();
        let mut point = points[slot].1.clone();
        let mut others = points.clone();
        let mut f = |p: &[f64]| {
            others[slot].1.copy_from_slice(p);
            Ok(run(&others, &[])?.value.unwrap_or(f64::NAN))
        };
        checks.push(compare(
            info.name, input, &mut f, &mut point, &analytic, options,
        )?);
    }
    Ok(Report {
        loss: info.name,
        value,
        tol: options.tol,
        inputs: checks,
    })
}

fn widen(data: ArrayData<'_>) -> Vec<f64> {
    match data {
        ArrayData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        ArrayData::F64(v) => v.to_vec(),
        ArrayData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        ArrayData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        ArrayData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
        ArrayData::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
        ArrayData::F16(v) => v.iter().map(|&x| f64::from(x)).collect(),
        ArrayData::BF16(v) => v.iter().map(|&x| f64::from(x)).collect(),
    }
}

/// The core of every check: central differences of `f` around `x`, element by element,
/// against `analytic`.
fn compare(
    loss: &str,
    input: &str,
    f: &mut dyn FnMut(&[f64]) -> Result<f64>,
    x: &mut [f64],
    analytic: &[f64],
    options: &Options,
) -> Result<InputCheck> {
    let non_finite = |index: usize, value: f64, what: &'static str| Error::NonFiniteLoss {
        loss: loss.to_owned(),
        arg: input.to_owned(),
        index,
        value,
        what,
    };
    let f0 = f(x)?;
    if !f0.is_finite() {
        return Err(non_finite(0, f0, "at the point checked"));
    }
    if let Some(i) = analytic.iter().position(|g| !g.is_finite()) {
        return Err(non_finite(i, analytic[i], "in the analytic gradient"));
    }
    let mut at = |x: &mut [f64], i: usize, step: f64| -> Result<f64> {
        let x0 = x[i];
        x[i] = x0 + step;
        let v = f(x);
        x[i] = x0;
        let v = v?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(non_finite(i, v, "next to the point checked"))
        }
    };
    let chosen = chosen(x.len(), options);
    let mut numeric = Vec::with_capacity(chosen.len());
    let mut steps = Vec::with_capacity(chosen.len());
    for &i in &chosen {
        let h = 1e-5 * x[i].abs().max(1.0);
        steps.push(h);
        numeric.push((at(x, i, h)? - at(x, i, -h)?) / (2.0 * h));
    }
    let scale = numeric.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let first = chosen[0];
    let mut result = InputCheck {
        input: input.to_owned(),
        worst: 0.0,
        index: first,
        analytic: analytic[first],
        numeric: numeric[0],
        checked: 0,
        kinks: 0,
    };
    // The round-off of one value of f (see the module's Method): 8 ulps of |f|, with 1 for
    // a value near 0 made of terms that are not.
    let noise = 8.0 * f64::EPSILON * (1.0 + f0.abs());
    let tol = options.tol;
    for (k, &i) in chosen.iter().enumerate() {
        let (a, g, h) = (analytic[i], numeric[k], steps[k]);
        let relative = |delta: f64| {
            let floor = (1e-3 * scale).max(delta / tol);
            ((a - g).abs() / a.abs().max(g.abs()).max(floor), floor)
        };
        let round = noise / h;
        let (mut r, floor) = relative(round);
        if r > tol && on_kink(&mut at, x, i, h, f0, 1e-2 * a.abs().max(g.abs()).max(floor))? {
            result.kinks += 1;
            continue;
        }
        if r > tol {
            // Truncation (h² f'''/6) and the noise actually present, from the spread of the
            // differences at 2h and h/2 around the one at h.
            let mut diff =
                |s: f64| -> Result<f64> { Ok((at(x, i, s)? - at(x, i, -s)?) / (2.0 * s)) };
            let spread = (diff(2.0 * h)? - g).abs().max((diff(0.5 * h)? - g).abs());
            r = relative(round + 2.0 * spread).0;
        }
        result.checked += 1;
        if result.checked == 1 || r > result.worst {
            (result.worst, result.index, result.analytic, result.numeric) = (r, i, a, g);
        }
    }
    Ok(result)
}

/// The elements compared: all of them up to `options.max_checked`, else that many distinct
/// ones drawn with `options.seed` (Floyd's algorithm), in increasing order.
fn chosen(n: usize, options: &Options) -> Vec<usize> {
    let k = options.max_checked.max(1);
    if n <= k {
        return (0..n).collect();
    }
    let mut rng = Rng::new(options.seed ^ 0x6772_6164_6368_6b00);
    let mut picked = std::collections::BTreeSet::new();
    for j in n - k..n {
        let t = rng.below(j as u64 + 1) as usize;
        if !picked.insert(t) {
            picked.insert(j);
        }
    }
    picked.into_iter().collect()
}

/// The loss at `x` with element `i` moved by a step.
type Probe<'a> = dyn FnMut(&mut [f64], usize, f64) -> Result<f64> + 'a;

/// Whether the derivative jumps within `h` of `x[i]`: the one-sided differences disagree
/// by a `significant` amount that does not halve with the step (it would, for a smooth
/// function; rounding noise is not significant).
fn on_kink(
    at: &mut Probe<'_>,
    x: &mut [f64],
    i: usize,
    h: f64,
    f0: f64,
    significant: f64,
) -> Result<bool> {
    let gap = |at: &mut Probe<'_>, x: &mut [f64], h: f64| -> Result<f64> {
        let forward = (at(x, i, h)? - f0) / h;
        let backward = (f0 - at(x, i, -h)?) / h;
        Ok((forward - backward).abs())
    };
    let (g1, g2) = (gap(at, x, h)?, gap(at, x, h / 2.0)?);
    Ok(g2 > 0.75 * g1 && g1 > significant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hessian_of_the_catalogue_passes_its_check_and_others_are_refused() {
        for info in crate::registry::catalogue() {
            if info.hessian.is_none() {
                continue;
            }
            for seed in [0, 1] {
                let opts = Options {
                    seed,
                    size: 24,
                    ..Options::default()
                };
                let r = check_hessian(info.name, &[], &opts).unwrap();
                assert!(r.passed(), "{}: {r:?}", info.name);
                assert!(r.inputs[0].checked > 0);
            }
        }
        let r = check_hessian("huber", &[("delta", "0.5")], &Options::default()).unwrap();
        assert!(r.passed(), "{r:?}");
        assert_eq!(
            check_hessian("dice", &[], &Options::default()).unwrap_err(),
            Error::NoHessian { loss: "dice" }
        );
    }

    #[test]
    fn a_wrong_custom_gradient_is_caught_and_a_right_one_passes() {
        let x = [0.3, -1.2, 2.0, 0.7];
        let value = |x: &[f64]| x.iter().map(|v| v.sin() * v).sum::<f64>();
        let right = |x: &[f64], g: &mut [f64]| {
            for (g, v) in g.iter_mut().zip(x) {
                *g = v.sin() + v * v.cos();
            }
        };
        let ok = check_fn(value, right, &x, &Options::default()).unwrap();
        assert!(ok.passed(1e-6), "{ok:?}");
        assert_eq!((ok.checked, ok.kinks), (4, 0));
        // Off by a sign in one term, at one element only.
        let wrong = |x: &[f64], g: &mut [f64]| {
            right(x, g);
            g[2] = x[2].sin() - x[2] * x[2].cos();
        };
        let bad = check_fn(value, wrong, &x, &Options::default()).unwrap();
        assert!(!bad.passed(1e-6) && bad.worst > 0.1, "{bad:?}");
        assert_eq!(bad.index, 2);
    }

    /// Issue 21, item 6: a mean over many elements (gradients of size 1/n, differences of
    /// the value near its round-off) passes when right and fails when wrong, on a sample.
    #[test]
    fn large_inputs_are_sampled_and_judged_against_the_round_off() {
        let n = 50_000;
        let mut rng = Rng::new(7);
        let x = rng.normals(n, 1.0);
        let y = rng.normals(n, 1.0);
        let value = |x: &[f64]| {
            x.iter()
                .zip(&y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                / n as f64
        };
        let right = |x: &[f64], g: &mut [f64]| {
            for ((g, a), b) in g.iter_mut().zip(x).zip(&y) {
                *g = 2.0 * (a - b) / n as f64;
            }
        };
        let ok = check_fn(value, right, &x, &Options::default()).unwrap();
        assert!(ok.passed(1e-6), "{ok:?}");
        assert_eq!((ok.checked, ok.kinks), (256, 0));
        // The same seed, the same sample.
        let again = check_fn(value, right, &x, &Options::default()).unwrap();
        assert_eq!(ok, again);
        // Wrong by 1% at every element, and wrong in sign.
        let scaled = |x: &[f64], g: &mut [f64]| {
            right(x, g);
            g.iter_mut().for_each(|v| *v *= 1.01);
        };
        let bad = check_fn(value, scaled, &x, &Options::default()).unwrap();
        assert!(!bad.passed(1e-6) && bad.worst > 1e-3, "{bad:?}");
        let flipped = |x: &[f64], g: &mut [f64]| {
            right(x, g);
            g.iter_mut().for_each(|v| *v = -*v);
        };
        let bad = check_fn(value, flipped, &x, &Options::default()).unwrap();
        assert!(!bad.passed(1e-6) && bad.worst > 0.1, "{bad:?}");
    }

    #[test]
    fn kinks_are_set_aside_not_reported() {
        // |x| at exactly 0 (the subgradient 1 there is a convention, not a derivative).
        let r = check_fn(
            |x: &[f64]| x.iter().map(|v| v.abs()).sum(),
            |x: &[f64], g: &mut [f64]| {
                for (g, v) in g.iter_mut().zip(x) {
                    *g = if *v >= 0.0 { 1.0 } else { -1.0 };
                }
            },
            &[0.0, 1.5, -2.0],
            &Options::default(),
        )
        .unwrap();
        assert_eq!((r.checked, r.kinks), (2, 1));
        assert!(r.passed(1e-9), "{r:?}");
    }

    #[test]
    fn a_non_finite_custom_loss_is_an_error_not_a_pass() {
        let e = check_fn(
            |x: &[f64]| x[0].ln(),
            |x: &[f64], g: &mut [f64]| g[0] = 1.0 / x[0],
            &[0.0],
            &Options::default(),
        )
        .unwrap_err();
        assert!(matches!(e, Error::NonFiniteLoss { .. }), "{e}");
        assert!(check_fn(
            |_: &[f64]| 0.0,
            |_: &[f64], _: &mut [f64]| {},
            &[],
            &Options::default()
        )
        .is_err());
    }
}
