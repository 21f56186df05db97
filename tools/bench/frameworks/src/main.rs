//! candle and burn loss timings for `tools/bench/compare_frameworks.py`.
//!
//! ```text
//! losskit-bench-frameworks bench FRAMEWORK CASE THREADS
//! losskit-bench-frameworks check FRAMEWORK CASE DIR
//! ```
//!
//! FRAMEWORK is `candle` or `burn` (their own losses); `bench` also takes `candle-fused`,
//! `candle-composed`, `burn-fused`, `burn-composed` (losskit-candle and losskit-burn on
//! `Path::Fused` / `Path::Composed`, the same inputs, through the framework's `.backward()`),
//! `core` and `core-reuse` (`losskit::evaluate_into` on the same inputs, into a gradient
//! buffer allocated per call / one buffer reused across calls). CASE is one of `mse`, `huber`, `bce_with_logits`, `ce`,
//! `ce_ls` (the case names of `tools/bench/compare.py`; `check` also takes
//! `bce_with_logits_wide`). Both print one JSON line.
//!
//! `bench` builds the inputs (the sizes and distributions of `compare.py`), runs 2 untimed
//! calls, then times forward + backward through the framework's autograd until about a second
//! has passed (5 to 50 calls) and reports the median. The timed region is the loss, `.backward()`
//! and reading the prediction's gradient out of the gradient store; dropping the graph and the
//! gradients happens after the clock stops. For `candle` and `burn` only each framework's own
//! loss is timed: a case the framework has no loss for prints `"available": false` and is not
//! hand-written here (as does a case an adapter's composed path does not cover, with the
//! adapter's error as the reason).
//!
//! THREADS is written to `RAYON_NUM_THREADS` and `CANDLE_NUM_THREADS` before either framework
//! starts a thread: burn's CPU backend, losskit's and candle's rayon pools read the first, candle's
//! element-wise worker pool (`candle_core::utils::barrier_pool`) reads the second. (candle's
//! matrix products size their `gemm` parallelism from `RAYON_NUM_THREADS` too; none of these
//! losses multiplies matrices.)
//!
//! `check` evaluates the loss and its gradient on small fixed inputs, compares both with the
//! plain formula in f64, and writes the inputs and the gradient as `.npy` files into DIR
//! (`input.npy`, `target.npy`, `grad_FRAMEWORK.npy`) so the driver can run `losskit eval` on
//! the very same inputs and compare.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const CANDLE_VERSION: &str = env!("CANDLE_VERSION");
const BURN_VERSION: &str = env!("BURN_VERSION");
const LOSSKIT_VERSION: &str = "(path)";

/// What `bench` takes for FRAMEWORK.
const FRAMEWORKS: &[&str] = &[
    "candle",
    "burn",
    "candle-fused",
    "candle-composed",
    "burn-fused",
    "burn-composed",
    "core",
    "core-reuse",
];

/// Which loss, on which inputs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Case {
    Mse,
    Huber,
    Bce,
    /// Cross-entropy on class indices, with this label smoothing.
    Ce(f32),
}

impl Case {
    fn parse(name: &str) -> Option<(Case, f32)> {
        // The second value scales the logits of the element-wise cases (`check` only).
        Some(match name {
            "mse" => (Case::Mse, 1.0),
            "huber" => (Case::Huber, 1.0),
            "bce_with_logits" => (Case::Bce, 1.0),
            "bce_with_logits_wide" => (Case::Bce, 10.0),
            "ce" => (Case::Ce(0.0), 1.0),
            "ce_ls" => (Case::Ce(0.1), 1.0),
            _ => return None,
        })
    }
}

/// The targets of a case.
enum Target {
    /// Regression targets, or binary labels 0/1 as floats.
    Float(Vec<f32>),
    /// Class indices in `[0, C)`.
    Class(Vec<u32>),
}

/// A case's inputs: the prediction `x` of shape `shape` and its targets.
struct Inputs {
    x: Vec<f32>,
    shape: Vec<usize>,
    y: Target,
}

/// SplitMix64: deterministic inputs without a dependency (and the second normal of the last
/// Box–Muller pair).
struct Rng(u64, Option<f64>);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller, both values of each pair).
    fn normal(&mut self) -> f64 {
        if let Some(z) = self.1.take() {
            return z;
        }
        let (u, v) = (self.unit(), self.unit());
        let (r, (s, c)) = (
            (-2.0 * u.ln()).sqrt(),
            (std::f64::consts::TAU * v).sin_cos(),
        );
        self.1 = Some(r * s);
        r * c
    }
}

/// The inputs of `case` with `n` elements (element-wise) or `rows × classes` (cross-entropy),
/// drawn as `compare.py`'s PyTorch side draws them: x ~ N(0, 1) (times 2 for the class
/// scores, times `scale` otherwise), y ~ N(0, 1) for mse and huber, y ~ Bernoulli(1/2) for
/// bce_with_logits, classes uniform.
fn inputs(case: Case, n: usize, rows: usize, classes: usize, scale: f32) -> Inputs {
    let mut rng = Rng(0x5eed, None);
    match case {
        Case::Ce(_) => Inputs {
            x: (0..rows * classes)
                .map(|_| 2.0 * rng.normal() as f32)
                .collect(),
            shape: vec![rows, classes],
            y: Target::Class(
                (0..rows)
                    .map(|_| ((rng.unit() * classes as f64) as u32).min(classes as u32 - 1))
                    .collect(),
            ),
        },
        _ => {
            let x = (0..n).map(|_| scale * rng.normal() as f32).collect();
            let y = (0..n)
                .map(|_| {
                    if case == Case::Bce {
                        f32::from(rng.unit() < 0.5)
                    } else {
                        rng.normal() as f32
                    }
                })
                .collect();
            Inputs {
                x,
                shape: vec![n],
                y: Target::Float(y),
            }
        }
    }
}

/// The loss's value and gradient with respect to `x`, from the plain formula in f64 (mean
/// reduction; huber with delta 1; cross-entropy with PyTorch's label smoothing).
fn reference(case: Case, inp: &Inputs) -> (f64, Vec<f64>) {
    let x = &inp.x;
    match (&inp.y, case) {
        (Target::Float(y), _) => {
            let n = x.len() as f64;
            let mut value = 0.0;
            let mut grad = Vec::with_capacity(x.len());
            for (&xi, &yi) in x.iter().zip(y) {
                let (xi, yi) = (f64::from(xi), f64::from(yi));
                let d = xi - yi;
                let (l, g) = match case {
                    Case::Mse => (d * d, 2.0 * d),
                    Case::Huber if d.abs() <= 1.0 => (0.5 * d * d, d),
                    Case::Huber => (d.abs() - 0.5, d.signum()),
                    _ => {
                        let l = xi.max(0.0) - xi * yi + (-xi.abs()).exp().ln_1p();
                        (l, 1.0 / (1.0 + (-xi).exp()) - yi)
                    }
                };
                value += l;
                grad.push(g / n);
            }
            (value / n, grad)
        }
        (Target::Class(y), Case::Ce(eps)) => {
            let eps = f64::from(eps);
            let (rows, c) = (inp.shape[0], inp.shape[1]);
            let mut value = 0.0;
            let mut grad = vec![0.0; x.len()];
            for (r, &t) in y.iter().enumerate() {
                let row = &x[r * c..(r + 1) * c];
                let m = row
                    .iter()
                    .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
                let s: f64 = row.iter().map(|&v| (f64::from(v) - m).exp()).sum();
                let lse = m + s.ln();
                for (j, &v) in row.iter().enumerate() {
                    let q = eps / c as f64 + if j == t as usize { 1.0 - eps } else { 0.0 };
                    value += q * (lse - f64::from(v));
                    grad[r * c + j] = ((f64::from(v) - lse).exp() - q) / rows as f64;
                }
            }
            (value / rows as f64, grad)
        }
        (Target::Class(_), _) => unreachable!("class targets belong to cross-entropy"),
    }
}

/// A result, or the error message to print.
type Outcome<T> = Result<T, String>;

/// Why a framework has no loss for `case`, if it has none.
fn unavailable(framework: &str, case: Case) -> Option<&'static str> {
    match (framework, case) {
        ("candle", Case::Ce(eps)) if eps != 0.0 => {
            Some("candle_nn::loss::cross_entropy has no label smoothing")
        }
        _ => None,
    }
}

mod candle_side {
    use super::{Case, Inputs, Outcome, Target};
    use candle_core::{Device, Tensor, Var};

    pub fn err(e: candle_core::Error) -> String {
        e.to_string()
    }

    /// The prediction as a `Var` and the targets, on the CPU.
    pub struct Prepared {
        pub x: Var,
        pub y: Tensor,
        case: Case,
    }

    pub fn prepare(case: Case, inp: &Inputs) -> Outcome<Prepared> {
        let dev = Device::Cpu;
        let x = Var::from_slice(&inp.x, inp.shape.as_slice(), &dev).map_err(err)?;
        let y = match &inp.y {
            Target::Float(y) => Tensor::from_slice(y, inp.shape.as_slice(), &dev),
            Target::Class(y) => Tensor::from_slice(y, y.len(), &dev),
        }
        .map_err(err)?;
        Ok(Prepared { x, y, case })
    }

    /// One forward + backward: the loss tensor and the prediction's gradient.
    pub fn run(p: &Prepared) -> Outcome<(Tensor, Tensor)> {
        let x = p.x.as_tensor();
        let loss = match p.case {
            Case::Mse => candle_nn::loss::mse(x, &p.y),
            Case::Huber => candle_nn::loss::huber(x, &p.y, 1.0),
            Case::Bce => candle_nn::loss::binary_cross_entropy_with_logit(x, &p.y),
            Case::Ce(_) => candle_nn::loss::cross_entropy(x, &p.y),
        }
        .map_err(err)?;
        let grads = loss.backward().map_err(err)?;
        let g = grads
            .get(x)
            .cloned()
            .ok_or("candle: no gradient for the prediction")?;
        Ok((loss, g))
    }

    pub fn value(out: &(Tensor, Tensor)) -> f64 {
        out.0.to_scalar::<f32>().map_or(f64::NAN, f64::from)
    }

    pub fn grad(out: &(Tensor, Tensor)) -> Outcome<Vec<f32>> {
        out.1.flatten_all().and_then(|g| g.to_vec1()).map_err(err)
    }
}

mod burn_side {
    use super::{Case, Inputs, Outcome, Target};
    use burn::nn::loss::{
        BinaryCrossEntropyLoss, BinaryCrossEntropyLossConfig, CrossEntropyLoss,
        CrossEntropyLossConfig, HuberLoss, HuberLossConfig, MseLoss, Reduction,
    };
    use burn::tensor::{Device, Int, Tensor, TensorData};

    enum Loss {
        Mse(MseLoss),
        Huber(HuberLoss),
        Bce(BinaryCrossEntropyLoss),
        Ce(CrossEntropyLoss),
    }

    enum Y {
        Float(Tensor<1>),
        Int(Tensor<1, Int>),
    }

    /// The prediction (tracked, `require_grad`) on `Device::flex().autodiff()`, its
    /// targets and the loss module.
    pub struct Prepared {
        x1: Option<Tensor<1>>,
        x2: Option<Tensor<2>>,
        y: Y,
        loss: Loss,
        pub device: String,
    }

    pub fn prepare(case: Case, inp: &Inputs) -> Outcome<Prepared> {
        // burn's `flex` CPU backend, the one the adapter's fused path runs on.
        let device = Device::flex().autodiff();
        let (x1, x2) = if let Case::Ce(_) = case {
            let data = TensorData::new(inp.x.clone(), [inp.shape[0], inp.shape[1]]);
            (
                None,
                Some(Tensor::<2>::from_data(data, &device).require_grad()),
            )
        } else {
            let data = TensorData::new(inp.x.clone(), [inp.x.len()]);
            (
                Some(Tensor::<1>::from_data(data, &device).require_grad()),
                None,
            )
        };
        let y = match (&inp.y, case) {
            (Target::Float(y), Case::Bce) => {
                // burn's BinaryCrossEntropyLoss takes integer labels.
                let labels: Vec<i64> = y.iter().map(|&v| v as i64).collect();
                let n = labels.len();
                Y::Int(Tensor::<1, Int>::from_data(
                    TensorData::new(labels, [n]),
                    &device,
                ))
            }
            (Target::Float(y), _) => Y::Float(Tensor::<1>::from_data(
                TensorData::new(y.clone(), [y.len()]),
                &device,
            )),
            (Target::Class(y), _) => {
                let labels: Vec<i64> = y.iter().map(|&v| i64::from(v)).collect();
                let n = labels.len();
                Y::Int(Tensor::<1, Int>::from_data(
                    TensorData::new(labels, [n]),
                    &device,
                ))
            }
        };
        let loss = match case {
            Case::Mse => Loss::Mse(MseLoss::new()),
            Case::Huber => Loss::Huber(HuberLossConfig::new(1.0).init()),
            Case::Bce => Loss::Bce(
                BinaryCrossEntropyLossConfig::new()
                    .with_logits(true)
                    .init(&device),
            ),
            Case::Ce(eps) => Loss::Ce(
                CrossEntropyLossConfig::new()
                    .with_smoothing((eps != 0.0).then_some(eps))
                    .init(&device),
            ),
        };
        Ok(Prepared {
            x1,
            x2,
            y,
            loss,
            device: format!("{device:?}"),
        })
    }

    /// One forward + backward: the loss tensor and the prediction's gradient, flattened.
    pub fn run(p: &Prepared) -> Outcome<(Tensor<1>, Tensor<1>)> {
        let missing = || "burn: no gradient for the prediction".to_owned();
        match (&p.loss, &p.y) {
            (Loss::Ce(l), Y::Int(y)) => {
                let x = p.x2.as_ref().ok_or("burn: no 2-d prediction")?;
                let loss = l.forward(x.clone(), y.clone());
                let grads = loss.backward();
                let g = x.grad(&grads).ok_or_else(missing)?;
                Ok((loss, g.flatten(0, 1)))
            }
            (l, y) => {
                let x = p.x1.as_ref().ok_or("burn: no 1-d prediction")?;
                let loss = match (l, y) {
                    (Loss::Mse(l), Y::Float(y)) => l.forward(x.clone(), y.clone(), Reduction::Mean),
                    (Loss::Huber(l), Y::Float(y)) => {
                        l.forward(x.clone(), y.clone(), Reduction::Mean)
                    }
                    (Loss::Bce(l), Y::Int(y)) => l.forward(x.clone(), y.clone()),
                    _ => return Err("burn: loss and targets do not match".to_owned()),
                };
                let grads = loss.backward();
                let g = x.grad(&grads).ok_or_else(missing)?;
                Ok((loss, g))
            }
        }
    }

    pub fn value(out: &(Tensor<1>, Tensor<1>)) -> f64 {
        f64::from(out.0.clone().into_scalar::<f32>())
    }

    pub fn grad(out: &(Tensor<1>, Tensor<1>)) -> Outcome<Vec<f32>> {
        let data = out.1.to_data();
        data.as_slice::<f32>()
            .map(<[f32]>::to_vec)
            .map_err(|e| format!("burn: {e:?}"))
    }
}

/// The losskit loss of a case: its catalogue name and parameters (mean reduction).
fn losskit_loss(case: Case) -> (&'static str, Vec<(&'static str, String)>) {
    match case {
        Case::Mse => ("mse", vec![]),
        Case::Huber => ("huber", vec![("delta", "1".to_owned())]),
        Case::Bce => ("bce_with_logits", vec![]),
        Case::Ce(eps) if eps != 0.0 => {
            ("cross_entropy", vec![("label_smoothing", format!("{eps}"))])
        }
        Case::Ce(_) => ("cross_entropy", vec![]),
    }
}

/// losskit-candle on the candle side's `Var` and targets: `loss(..).path(..).forward(..)`,
/// `.backward()`, the prediction's gradient.
mod candle_adapter {
    use super::candle_side::{self, err};
    use super::{losskit_loss, Case, Inputs, Outcome};
    use candle_core::Tensor;
    use losskit_candle::Path;

    pub struct Prepared {
        p: candle_side::Prepared,
        loss: losskit_candle::Loss,
    }

    pub fn prepare(case: Case, inp: &Inputs, path: Path) -> Outcome<Prepared> {
        let p = candle_side::prepare(case, inp)?;
        let (name, params) = losskit_loss(case);
        let mut loss = losskit_candle::loss(name).map_err(err)?.path(path);
        for (k, v) in params {
            loss = loss.param(k, v.as_str()).map_err(err)?;
        }
        Ok(Prepared { p, loss })
    }

    pub fn run(p: &Prepared) -> Outcome<(Tensor, Tensor)> {
        let x = p.p.x.as_tensor();
        let loss = p
            .loss
            .forward(&[("input", x), ("target", &p.p.y)])
            .map_err(err)?;
        let grads = loss.backward().map_err(err)?;
        let g = grads
            .get(x)
            .cloned()
            .ok_or("losskit-candle: no gradient for the prediction")?;
        Ok((loss, g))
    }
}

/// losskit-burn on `Device::flex().autodiff()`: `loss(..).path(..).forward(..)`,
/// `.backward()`, `.grad(&x)`.
mod burn_adapter {
    use super::{losskit_loss, Case, Inputs, Outcome, Target};
    use burn::tensor::{Device, Int, Tensor, TensorData};
    use losskit_burn::{Input, Path};

    pub struct Prepared {
        x1: Option<Tensor<1>>,
        x2: Option<Tensor<2>>,
        y: Input,
        loss: losskit_burn::Loss,
    }

    fn err(e: losskit_burn::Error) -> String {
        e.to_string()
    }

    pub fn prepare(case: Case, inp: &Inputs, path: Path) -> Outcome<Prepared> {
        let device = Device::flex().autodiff();
        let (x1, x2) = if let Case::Ce(_) = case {
            let data = TensorData::new(inp.x.clone(), [inp.shape[0], inp.shape[1]]);
            (
                None,
                Some(Tensor::<2>::from_data(data, &device).require_grad()),
            )
        } else {
            let data = TensorData::new(inp.x.clone(), [inp.x.len()]);
            (
                Some(Tensor::<1>::from_data(data, &device).require_grad()),
                None,
            )
        };
        // losskit reads float targets (labels 0/1 for bce_with_logits) and i64 classes.
        let y: Input = match &inp.y {
            Target::Float(y) => {
                Tensor::<1>::from_data(TensorData::new(y.clone(), [y.len()]), &device).into()
            }
            Target::Class(y) => {
                let labels: Vec<i64> = y.iter().map(|&v| i64::from(v)).collect();
                let n = labels.len();
                Tensor::<1, Int>::from_data(TensorData::new(labels, [n]), &device).into()
            }
        };
        let (name, params) = losskit_loss(case);
        let mut loss = losskit_burn::loss(name).map_err(err)?.path(path);
        for (k, v) in params {
            loss = loss.param(k, v.as_str()).map_err(err)?;
        }
        Ok(Prepared { x1, x2, y, loss })
    }

    pub fn run(p: &Prepared) -> Outcome<(Tensor<1>, Tensor<1>)> {
        let missing = || "losskit-burn: no gradient for the prediction".to_owned();
        if let Some(x) = &p.x2 {
            let loss = p
                .loss
                .forward(vec![("input", x.into()), ("target", p.y.clone())])
                .map_err(err)?;
            let grads = loss.backward();
            let g = x.grad(&grads).ok_or_else(missing)?;
            return Ok((loss, g.flatten(0, 1)));
        }
        let x = p.x1.as_ref().ok_or("losskit-burn: no prediction")?;
        let loss = p
            .loss
            .forward(vec![("input", x.into()), ("target", p.y.clone())])
            .map_err(err)?;
        let grads = loss.backward();
        let g = x.grad(&grads).ok_or_else(missing)?;
        Ok((loss, g))
    }
}

/// The core called directly: `losskit::evaluate_into` on the input slices, the gradient
/// written into a fresh buffer each call (as a framework must hand back a new gradient
/// tensor) or into one buffer reused across calls (what `losskit bench` times).
mod core_side {
    use super::{losskit_loss, Case, Inputs, Outcome, Target};
    use losskit::{ArrayData, Buffers, LossInfo, NamedArray, Params, ReductionMode};

    pub struct Prepared {
        info: &'static LossInfo,
        params: Params,
        x: Vec<f32>,
        shape: Vec<usize>,
        y_float: Vec<f32>,
        y_class: Vec<i64>,
    }

    pub fn prepare(case: Case, inp: &Inputs) -> Outcome<Prepared> {
        let (name, params) = losskit_loss(case);
        let info = losskit::find(name).map_err(|e| e.to_string())?;
        let params = Params::parse(info, &params).map_err(|e| e.to_string())?;
        let (y_float, y_class) = match &inp.y {
            Target::Float(y) => (y.clone(), Vec::new()),
            Target::Class(y) => (Vec::new(), y.iter().map(|&v| i64::from(v)).collect()),
        };
        Ok(Prepared {
            info,
            params,
            x: inp.x.clone(),
            shape: inp.shape.clone(),
            y_float,
            y_class,
        })
    }

    /// One value and gradient into `grad` (as long as the prediction).
    pub fn run(p: &Prepared, grad: &mut [f32]) -> Outcome<f64> {
        let (y, ydims) = if p.y_class.is_empty() {
            (ArrayData::F32(&p.y_float), p.shape.clone())
        } else {
            (ArrayData::I64(&p.y_class), vec![p.y_class.len()])
        };
        let named = [
            NamedArray {
                name: "input",
                data: ArrayData::F32(&p.x),
                dims: &p.shape,
            },
            NamedArray {
                name: "target",
                data: y,
                dims: &ydims,
            },
        ];
        let b = Buffers {
            grads: vec![("input", grad)],
            cotangent: None,
        };
        let e = losskit::evaluate_into(p.info, &named, &p.params, ReductionMode::Mean, b)
            .map_err(|e| e.to_string())?;
        e.value
            .ok_or_else(|| "the core returned no value".to_owned())
    }

    pub fn len(p: &Prepared) -> usize {
        p.x.len()
    }
}

/// Resets the peak resident set (Linux: `/proc/self/clear_refs`) and returns it, now the
/// current resident set; `None` where that is not available.
fn peak_reset() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    high_water_mark()
}

/// The peak resident set in bytes (Linux: `VmHWM` of `/proc/self/status`).
fn high_water_mark() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU time of every thread of this process so far, in seconds (Linux: the first field of
/// `/proc/self/task/*/schedstat`).
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// Times `run` after 2 untimed calls: at least 5 calls, then more until about a second has
/// passed, at most 50. Each call's output (graph, gradients) is dropped after its clock stops.
fn measure<T>(mut run: impl FnMut() -> Outcome<T>, value: impl Fn(&T) -> f64) -> Outcome<Value> {
    for _ in 0..2 {
        drop(run()?);
    }
    let base = peak_reset();
    let cpu0 = cpu_seconds();
    let start = Instant::now();
    let mut times: Vec<Duration> = Vec::new();
    let mut loss = f64::NAN;
    while times.len() < 5 || (start.elapsed() < Duration::from_secs(1) && times.len() < 50) {
        let t = Instant::now();
        let out = run()?;
        times.push(t.elapsed());
        loss = value(&out);
        drop(out);
    }
    let wall = start.elapsed().as_secs_f64();
    let cpu = match (cpu0, cpu_seconds()) {
        (Some(a), Some(b)) => Some((b - a) / wall),
        _ => None,
    };
    let peak = high_water_mark();
    times.sort();
    let n = times.len();
    let median = if n % 2 == 1 {
        times[n / 2].as_secs_f64()
    } else {
        (times[n / 2 - 1].as_secs_f64() + times[n / 2].as_secs_f64()) / 2.0
    };
    Ok(json!({
        "median_s": median,
        "min_s": times[0].as_secs_f64(),
        "runs": n,
        "extra_peak_bytes": match (base, peak) {
            (Some(b), Some(p)) => Some(p.saturating_sub(b)),
            _ => None,
        },
        "cpu_per_wall": cpu,
        "loss": loss,
    }))
}

fn version(framework: &str) -> &'static str {
    if framework.starts_with("candle") {
        CANDLE_VERSION
    } else if framework.starts_with("burn") {
        BURN_VERSION
    } else {
        LOSSKIT_VERSION
    }
}

/// `bench FRAMEWORK CASE THREADS`.
fn bench(framework: &str, case: Case, case_name: &str, threads: usize) -> Outcome<Value> {
    let mut o = json!({
        "framework": framework,
        "case": case_name,
        "version": version(framework),
        "threads": threads,
    });
    if let Some(reason) = unavailable(framework, case) {
        o["available"] = json!(false);
        o["reason"] = json!(reason);
        return Ok(o);
    }
    let inp = inputs(case, 1 << 24, 8192, 1000, 1.0);
    let timing = match framework {
        "candle" => {
            let p = candle_side::prepare(case, &inp)?;
            drop(inp);
            o["candle_threads"] = json!(candle_core::utils::get_num_threads());
            measure(|| candle_side::run(&p), candle_side::value)?
        }
        "burn" => {
            let p = burn_side::prepare(case, &inp)?;
            drop(inp);
            o["device"] = json!(p.device);
            measure(|| burn_side::run(&p), burn_side::value)?
        }
        "candle-fused" | "candle-composed" => {
            let path = if framework == "candle-fused" {
                losskit_candle::Path::Fused
            } else {
                losskit_candle::Path::Composed
            };
            let p = candle_adapter::prepare(case, &inp, path)?;
            drop(inp);
            if let Err(e) = candle_adapter::run(&p) {
                o["available"] = json!(false);
                o["reason"] = json!(e);
                return Ok(o);
            }
            measure(|| candle_adapter::run(&p), candle_side::value)?
        }
        "burn-fused" | "burn-composed" => {
            let path = if framework == "burn-fused" {
                losskit_burn::Path::Fused
            } else {
                losskit_burn::Path::Composed
            };
            let p = burn_adapter::prepare(case, &inp, path)?;
            drop(inp);
            if let Err(e) = burn_adapter::run(&p) {
                o["available"] = json!(false);
                o["reason"] = json!(e);
                return Ok(o);
            }
            measure(|| burn_adapter::run(&p), burn_side::value)?
        }
        "core" => {
            let p = core_side::prepare(case, &inp)?;
            drop(inp);
            let n = core_side::len(&p);
            measure(
                || {
                    let mut g = vec![0.0f32; n];
                    let v = core_side::run(&p, &mut g)?;
                    Ok((v, g))
                },
                |r| r.0,
            )?
        }
        "core-reuse" => {
            let p = core_side::prepare(case, &inp)?;
            drop(inp);
            let mut g = vec![0.0f32; core_side::len(&p)];
            measure(|| core_side::run(&p, &mut g), |v| *v)?
        }
        other => return Err(format!("unknown framework `{other}`\n{USAGE}")),
    };
    o["available"] = json!(true);
    if let (Value::Object(o), Value::Object(t)) = (&mut o, timing) {
        o.extend(t);
    }
    Ok(o)
}

/// Writes a little-endian C-order `.npy` file (version 1.0) of `data` (raw element bytes).
fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    let shape = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + newline, padded to a multiple of 64.
    let total = (10 + header.len() + 1).div_ceil(64) * 64;
    header.push_str(&" ".repeat(total - 10 - header.len() - 1));
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&(header.len() as u16).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    f.write_all(data)?;
    f.flush()
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `check FRAMEWORK CASE DIR`.
fn check(framework: &str, case: Case, case_name: &str, scale: f32, dir: &Path) -> Outcome<Value> {
    let mut o = json!({
        "framework": framework,
        "case": case_name,
        "version": version(framework),
    });
    if let Some(reason) = unavailable(framework, case) {
        o["available"] = json!(false);
        o["reason"] = json!(reason);
        return Ok(o);
    }
    let inp = inputs(case, 4096, 256, 50, scale);
    let io = |e: std::io::Error| format!("cannot write into {}: {e}", dir.display());
    write_npy(
        &dir.join("input.npy"),
        "<f4",
        &inp.shape,
        &f32_bytes(&inp.x),
    )
    .map_err(io)?;
    match &inp.y {
        Target::Float(y) => write_npy(&dir.join("target.npy"), "<f4", &inp.shape, &f32_bytes(y)),
        Target::Class(y) => {
            let b: Vec<u8> = y.iter().flat_map(|&v| i64::from(v).to_le_bytes()).collect();
            write_npy(&dir.join("target.npy"), "<i8", &[y.len()], &b)
        }
    }
    .map_err(io)?;
    let (value, grad) = if framework == "candle" {
        let out = candle_side::run(&candle_side::prepare(case, &inp)?)?;
        (candle_side::value(&out), candle_side::grad(&out)?)
    } else {
        let out = burn_side::run(&burn_side::prepare(case, &inp)?)?;
        (burn_side::value(&out), burn_side::grad(&out)?)
    };
    let grad_file = format!("grad_{framework}.npy");
    write_npy(&dir.join(&grad_file), "<f4", &inp.shape, &f32_bytes(&grad)).map_err(io)?;
    let (ref_value, ref_grad) = reference(case, &inp);
    let scale = ref_grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let grad_err = grad
        .iter()
        .zip(&ref_grad)
        .map(|(&g, &r)| (f64::from(g) - r).abs())
        .fold(
            0.0f64,
            |m, e| if e.is_nan() { f64::INFINITY } else { m.max(e) },
        );
    let value_err = ((value - ref_value) / ref_value).abs();
    let value_err = if value_err.is_nan() {
        f64::INFINITY
    } else {
        value_err
    };
    o["available"] = json!(true);
    o["value"] = json!(if value.is_finite() { Some(value) } else { None });
    o["value_text"] = json!((value as f32).to_string());
    o["ref_value"] = json!(ref_value);
    o["value_rel_err"] = json!(if value_err.is_finite() {
        Some(value_err)
    } else {
        None
    });
    o["grad_max_abs_err"] = json!(if grad_err.is_finite() {
        Some(grad_err)
    } else {
        None
    });
    o["grad_max_abs"] = json!(scale);
    o["grad_non_finite"] = json!(grad.iter().filter(|g| !g.is_finite()).count());
    o["grad_file"] = json!(grad_file);
    // f32 arithmetic on 4096 elements: 1e-4 relative is generous for a correct formula.
    o["ok"] = json!(value_err < 1e-4 && grad_err <= 1e-4 * scale);
    Ok(o)
}

const USAGE: &str = "usage: losskit-bench-frameworks bench FRAMEWORK CASE THREADS
       losskit-bench-frameworks check FRAMEWORK CASE DIR
FRAMEWORK: candle | burn (their own losses); bench also: candle-fused | candle-composed |
  burn-fused | burn-composed (the adapters' paths) | core | core-reuse (losskit::evaluate_into
  into a fresh / a reused gradient buffer)
CASE: mse | huber | bce_with_logits | ce | ce_ls
(check also: bce_with_logits_wide, logits 10 times wider)";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [cmd, framework, case_name, last] = args.as_slice() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let case = Case::parse(case_name);
    let framework_ok = if cmd == "bench" {
        FRAMEWORKS.contains(&framework.as_str())
    } else {
        framework == "candle" || framework == "burn"
    };
    let result = match (cmd.as_str(), case, framework_ok) {
        (_, None, _) | (_, _, false) => Err(USAGE.to_owned()),
        ("bench", Some((case, _)), true) if case_name != "bce_with_logits_wide" => {
            match last.parse::<usize>() {
                Ok(threads) if threads > 0 => {
                    // Before any pool exists: rayon's global pool (burn's ndarray) and candle's
                    // pools read these when they start.
                    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
                    std::env::set_var("CANDLE_NUM_THREADS", threads.to_string());
                    bench(framework, case, case_name, threads)
                }
                _ => Err(format!("THREADS must be a positive integer, not `{last}`")),
            }
        }
        ("check", Some((case, scale)), true) => {
            check(framework, case, case_name, scale, Path::new(last))
        }
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(o) => println!("{o}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    }
}
