//! The composed path: the everyday losses as burn tensor ops, so they run (and
//! differentiate, and fuse) on any device without leaving it.
//!
//! Stable forms only, written once here:
//! - t = e^(−|x|) ≤ 1 is the only exponential of a logit: nothing overflows, in the value or
//!   in the backward pass (a `mask_where` branch that is not taken still gets a zero
//!   gradient multiplied by its local derivative, so an infinite derivative there would turn
//!   into NaN);
//! - softplus(x) = max(x, 0) + ln_1p(t), with `max` and `|x|` taken on the same side of 0 so
//!   that the derivative at 0 is σ(0) = ½ (burn's `clamp_min'(0) = 1` would give 1 there);
//! - log-softmax as x − m − ln Σ e^(x − m) with the row maximum m detached (it cancels from
//!   the derivative); never `log(softmax)`;
//! - 1 − σ(x) computed as σ(−x), never by subtraction;
//! - |e| as e·sign(e) with the sign detached: the subgradient at 0 is 0, the core's.
//!
//! Names, dtypes, shapes and parameter ranges are checked with the core's errors. Element
//! values are not, with one exception: class indices are checked for their range (one
//! scalar read back), and out-of-range ones go to the fused path, which reports them in the
//! core's words (burn's `gather` would fail on them instead).

use burn::tensor::{DType, Int, Tensor};
use losskit::{Error as CoreError, ReductionMode};

use crate::{Input, InputData, Loss, Result};

/// The losses with a composed path, and what it covers: every parameter value unless
/// stated.
///
/// | loss | not covered (the fused path takes these) |
/// |---|---|
/// | `mse`, `l2`, `mae` | |
/// | `huber`, `smooth_l1` | |
/// | `bce_with_logits` | |
/// | `focal` | |
/// | `cross_entropy` | probability (float) targets; inputs of rank above 2 |
/// | `dice` | |
pub const COMPOSED: &[&str] = &[
    "mse",
    "l2",
    "mae",
    "huber",
    "smooth_l1",
    "bce_with_logits",
    "focal",
    "cross_entropy",
    "dice",
];

type Inputs<'a, 'b> = &'a [(&'b str, Input)];

/// The flattened loss and its `none` shape.
type Out = (Tensor<1>, Vec<usize>);

/// The composed loss, or `None` where this path does not cover the loss or its inputs.
pub(crate) fn forward(loss: &Loss, inputs: Inputs<'_, '_>) -> Result<Option<Out>> {
    let info = loss.info();
    if !COMPOSED.contains(&info.name) {
        return Ok(None);
    }
    check_names(loss, inputs)?;
    let r = loss.reduction_mode();
    if !info.reductions.contains(&r) {
        return Err(CoreError::UnsupportedReduction {
            loss: info.name,
            reduction: r.name().to_owned(),
            supported: info.reductions.iter().map(|r| r.name()).collect(),
        }
        .into());
    }
    let get = |name: &str| inputs.iter().find(|(n, _)| *n == name).map(|(_, t)| t);
    let (Some(xin), Some(y)) = (get("input"), get("target")) else {
        return Ok(None); // unreachable after check_names: every one of these requires both
    };
    let p = loss.params();
    let n = info.name;
    let (x, home) = float_input(n, "input", xin)?;
    let xd = xin.dims.clone();
    let out = match n {
        "mse" | "l2" | "mae" | "huber" | "smooth_l1" => {
            let y = same_float(n, "target", y, &xd, &x)?;
            let w = get("weight")
                .map(|w| same_float(n, "weight", w, &xd, &x))
                .transpose()?;
            let e = x.sub(y);
            let l = match n {
                "mse" => e.square(),
                "l2" => e.square().mul_scalar(0.5),
                "mae" => abs(e),
                "huber" => {
                    let delta = p.float("delta");
                    losskit::Huber::new(delta)?;
                    let a = abs(e.clone());
                    let inside = a.clone().lower_equal_elem(delta);
                    a.sub_scalar(0.5 * delta)
                        .mul_scalar(delta)
                        .mask_where(inside, e.square().mul_scalar(0.5))
                }
                _ => {
                    let beta = p.float("beta");
                    losskit::SmoothL1::new(beta)?;
                    let a = abs(e.clone());
                    if beta == 0.0 {
                        a
                    } else {
                        let inside = a.clone().lower_elem(beta);
                        a.sub_scalar(0.5 * beta)
                            .mask_where(inside, e.square().mul_scalar(0.5 / beta))
                    }
                }
            };
            (reduce(n, r, l, w)?, xd)
        }
        "bce_with_logits" | "focal" => {
            let y = same_float(n, "target", y, &xd, &x)?;
            let w = get("weight")
                .map(|w| trailing_float(n, "weight", w, &xd, &x))
                .transpose()?;
            let l = if n == "focal" {
                let (alpha, gamma) = (p.float("alpha"), p.float("gamma"));
                losskit::Focal::new(alpha, gamma)?;
                focal(x, y, alpha, gamma)
            } else {
                let pw = get("pos_weight")
                    .map(|w| pos_weight(n, w, &xd, &x))
                    .transpose()?;
                bce_with_logits(x, y, pw)
            };
            (reduce(n, r, l, w)?, xd)
        }
        "cross_entropy" => {
            let InputData::Int(t) = &y.data else {
                return Ok(None);
            };
            if xd.len() > 2 {
                return Ok(None);
            }
            let eps = p.float("label_smoothing");
            losskit::CrossEntropy::default().label_smoothing(eps)?;
            let w = get("weight");
            match cross_entropy(
                n,
                r,
                &x,
                &xd,
                t.clone(),
                &y.dims,
                w,
                p.int("ignore_index"),
                eps,
            )? {
                Some(o) => o,
                None => return Ok(None),
            }
        }
        "dice" => match dice(loss, r, &x, &xd, y)? {
            Some(o) => o,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    // Half precision was computed in f32: the loss goes back in the input's dtype.
    let (t, shape) = out;
    Ok(Some((
        if t.dtype() == home { t } else { t.cast(home) },
        shape,
    )))
}

/// Unknown, duplicate and missing inputs, with the core's errors.
fn check_names(loss: &Loss, inputs: Inputs<'_, '_>) -> Result<()> {
    let info = loss.info();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in inputs {
        let Some(spec) = info.input(name) else {
            return Err(CoreError::UnknownInput {
                loss: info.name,
                name: (*name).to_owned(),
                known: info.inputs.iter().map(|i| i.name).collect(),
            }
            .into());
        };
        if seen.contains(&spec.name) {
            return Err(CoreError::DuplicateInput {
                loss: info.name,
                name: spec.name,
            }
            .into());
        }
        seen.push(spec.name);
    }
    for spec in info.inputs.iter().filter(|s| s.required) {
        if !seen.contains(&spec.name) {
            return Err(CoreError::MissingInput {
                loss: info.name,
                name: spec.name,
            }
            .into());
        }
    }
    Ok(())
}

/// The prediction, computed in f32 for half precision (as the core does), and its dtype.
fn float_input(loss: &'static str, arg: &'static str, t: &Input) -> Result<(Tensor<1>, DType)> {
    match &t.data {
        InputData::Float(x) => {
            let d = x.dtype();
            Ok(match d {
                DType::F32 | DType::F64 => (x.clone(), d),
                _ => (x.clone().cast(DType::F32), d),
            })
        }
        _ => Err(CoreError::Dtype {
            loss,
            arg,
            actual: t.dtype_name(),
            expected: "float32 or float64",
        }
        .into()),
    }
}

/// Any input as a float tensor in `x`'s dtype (integers and booleans converted, as the core
/// does for targets and weights).
fn as_float(t: &Input, x: &Tensor<1>) -> Tensor<1> {
    // On the prediction's device (a target made on the plain device of an autodiff one, or
    // left on the CPU, is moved rather than failing inside a burn op).
    let dev = x.device();
    let f = match &t.data {
        InputData::Float(f) => f.clone().to_device(&dev),
        InputData::Int(i) => i.clone().to_device(&dev).float(),
        InputData::Bool(b) => b.clone().to_device(&dev).float(),
    };
    if f.dtype() == x.dtype() {
        f
    } else {
        f.cast(x.dtype())
    }
}

/// A float input of exactly `input`'s shape.
fn same_float(
    loss: &'static str,
    arg: &'static str,
    t: &Input,
    xd: &[usize],
    x: &Tensor<1>,
) -> Result<Tensor<1>> {
    if t.dims != xd {
        return Err(CoreError::ShapeMismatch {
            loss,
            arg,
            actual: t.dims.clone(),
            expected: xd.to_vec(),
            because: "the shape of `input`",
        }
        .into());
    }
    Ok(as_float(t, x))
}

/// `n` elements as `[n / k, k]` (k ≥ 1 dividing n).
fn rows(n: usize, k: usize) -> [usize; 2] {
    [n.checked_div(k).unwrap_or(0), k]
}

/// A weight of `input`'s shape or a trailing part of it, broadcast to `input`'s elements.
fn trailing_float(
    loss: &'static str,
    arg: &'static str,
    t: &Input,
    xd: &[usize],
    x: &Tensor<1>,
) -> Result<Tensor<1>> {
    let td = &t.dims;
    if td.len() > xd.len() || xd[xd.len() - td.len()..] != **td {
        return Err(CoreError::ShapeMismatch {
            loss,
            arg,
            actual: td.clone(),
            expected: xd.to_vec(),
            because: "the shape of `input`, or a trailing part of it such as [C] against [N, C]",
        }
        .into());
    }
    let n: usize = xd.iter().product();
    let k: usize = td.iter().product();
    Ok(spread(as_float(t, x), n, k))
}

/// `k` values repeated over `n` elements (each row of `[n / k, k]`).
fn spread(w: Tensor<1>, n: usize, k: usize) -> Tensor<1> {
    if k == n {
        return w;
    }
    let [r, k] = rows(n, k);
    w.reshape([1, k]).expand([r, k]).reshape([n])
}

/// `pos_weight`: one weight per label (C elements, C = the last dimension of `input`) or one
/// for all, broadcast to `input`'s elements.
fn pos_weight(loss: &'static str, t: &Input, xd: &[usize], x: &Tensor<1>) -> Result<Tensor<1>> {
    let c = xd.last().copied().unwrap_or(1);
    let k: usize = t.dims.iter().product();
    let n: usize = xd.iter().product();
    if k != 1 && k != c {
        return Err(CoreError::ShapeMismatch {
            loss,
            arg: "pos_weight",
            actual: vec![k],
            expected: vec![c],
            because: "the last dimension of `input`, or 1 for one weight for every label",
        }
        .into());
    }
    let w = as_float(t, x).reshape([k]);
    Ok(if k == 1 {
        w.expand([n])
    } else {
        spread(w, n, c)
    })
}

/// `mean` (Σ w·ℓ / Σ w), `sum` or `none` of element-wise losses.
fn reduce(
    loss: &'static str,
    r: ReductionMode,
    l: Tensor<1>,
    w: Option<Tensor<1>>,
) -> Result<Tensor<1>> {
    let l = match &w {
        Some(w) => l.mul(w.clone()),
        None => l,
    };
    Ok(match r {
        ReductionMode::None => l,
        ReductionMode::Sum => l.sum(),
        _ => {
            if l.dims()[0] == 0 {
                return Err(CoreError::EmptyMean { loss }.into());
            }
            match w {
                Some(w) => l.sum().div(w.sum()),
                None => l.mean(),
            }
        }
    })
}

/// |e| with the subgradient 0 at 0 (the core's).
fn abs<const D: usize>(e: Tensor<D>) -> Tensor<D> {
    let s = e.clone().sign().detach();
    e.mul(s)
}

/// t = e^(−|x|), and the mask x > 0 that decides the side of every stable form.
fn side<const D: usize>(x: &Tensor<D>) -> (Tensor<D>, Tensor<D, burn::tensor::Bool>) {
    let pos = x.clone().greater_elem(0.0);
    let a = x.clone().neg().mask_where(pos.clone(), x.clone());
    (a.neg().exp(), pos)
}

/// softplus(x) = max(x, 0) + ln_1p(e^(−|x|)).
fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let (t, pos) = side(&x);
    let max = x.zeros_like().mask_where(pos, x);
    max.add(t.log1p())
}

/// σ(x) = 1/(1 + t) for x > 0, t/(1 + t) otherwise.
fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let (t, pos) = side(&x);
    let den = t.clone().add_scalar(1.0);
    t.div(den.clone()).mask_where(pos, den.recip())
}

/// ℓ = pw·y·softplus(−x) + (1 − y)·softplus(x).
fn bce_with_logits(x: Tensor<1>, y: Tensor<1>, pw: Option<Tensor<1>>) -> Tensor<1> {
    let pos = y.clone().mul(softplus(x.clone().neg()));
    let pos = match pw {
        Some(w) => pos.mul(w),
        None => pos,
    };
    pos.add(y.neg().add_scalar(1.0).mul(softplus(x)))
}

/// ℓ = α_t·(1 − p_t)^γ·BCE(x, y), 1 − p_t = (1 − y)·σ(x) + y·σ(−x).
fn focal(x: Tensor<1>, y: Tensor<1>, alpha: f64, gamma: f64) -> Tensor<1> {
    let bce = bce_with_logits(x.clone(), y.clone(), None);
    let not_y = y.clone().neg().add_scalar(1.0);
    let q = not_y
        .clone()
        .mul(sigmoid(x.clone()))
        .add(y.clone().mul(sigmoid(x.neg())));
    let l = if gamma == 0.0 {
        bce
    } else if gamma == 1.0 {
        q.mul(bce)
    } else if gamma == 2.0 {
        q.square().mul(bce)
    } else {
        // q^γ with γ < 1 has an infinite slope at q = 0 (a confident, right prediction),
        // which times q' = 0 there is NaN: the power is taken of 1 where q = 0 and the
        // result masked (a branch not taken gets a zero gradient times a finite slope).
        let zero = q.clone().lower_equal_elem(0.0);
        let base = q.mask_fill(zero.clone(), 1.0);
        base.powf_scalar(gamma).mask_fill(zero, 0.0).mul(bce)
    };
    if alpha < 0.0 {
        return l;
    }
    let a = y.mul_scalar(alpha).add(not_y.mul_scalar(1.0 - alpha));
    l.mul(a)
}

/// Whether every index is in `[0, c)` (besides `ignore`): one scalar read back.
fn in_range(t: &Tensor<1, Int>, c: usize, ignore: Option<i64>) -> bool {
    if t.dims()[0] == 0 {
        return true;
    }
    let low = t.clone().lower_elem(0);
    let high = t.clone().greater_equal_elem(c as i64);
    let bad = low.bool_or(high);
    let bad = match ignore {
        Some(i) => bad.bool_and(t.clone().not_equal_elem(i)),
        None => bad,
    };
    !bad.any().into_scalar::<bool>()
}

/// Cross-entropy with class-index targets: `[N, C]` against `[N]`, or `[C]` against `[]`.
#[allow(clippy::too_many_arguments)]
fn cross_entropy(
    loss: &'static str,
    r: ReductionMode,
    x: &Tensor<1>,
    xd: &[usize],
    target: Tensor<1, Int>,
    td: &[usize],
    weight: Option<&Input>,
    ignore_index: i64,
    eps: f64,
) -> Result<Option<Out>> {
    if xd.is_empty() {
        return Err(CoreError::BadShape {
            loss,
            arg: "input",
            actual: xd.to_vec(),
            expected: "`[N, C]`, `[N, C, d1, ...]` or `[C]`",
        }
        .into());
    }
    let expected: Vec<usize> = if xd.len() == 1 {
        Vec::new()
    } else {
        vec![xd[0]]
    };
    if td != expected {
        return Err(CoreError::ShapeMismatch {
            loss,
            arg: "target",
            actual: td.to_vec(),
            expected,
            because: "`input`'s shape without its class dimension 1",
        }
        .into());
    }
    let (n, c) = if xd.len() == 1 {
        (1, xd[0])
    } else {
        (xd[0], xd[1])
    };
    if let Some(w) = weight {
        if w.dims != [c] {
            return Err(CoreError::ShapeMismatch {
                loss,
                arg: "weight",
                actual: w.dims.clone(),
                expected: vec![c],
                because: "one entry per class, C = `input`'s class dimension",
            }
            .into());
        }
    }
    if n == 0 || c == 0 || !in_range(&target, c, Some(ignore_index)) {
        // Empty inputs and bad indices: the fused path reports them as the core does.
        return Ok(None);
    }
    let x = x.clone().reshape([n, c]);
    let t = target.to_device(&x.device()).reshape([n]);
    let m = x.clone().max_dim(1).detach();
    let z = x.sub(m);
    let logp = z.clone().sub(z.exp().sum_dim(1).log());
    let valid = t.clone().not_equal_elem(ignore_index);
    let safe = t.mask_fill(valid.clone().bool_not(), 0);
    let nll = logp
        .clone()
        .gather(1, safe.clone().reshape([n, 1]))
        .reshape([n])
        .neg();
    let vmask = valid.float().cast(logp.dtype());
    let w = weight.map(|w| as_float(w, &nll));
    let wy = match &w {
        Some(w) => w.clone().select(0, safe).mul(vmask.clone()),
        None => vmask.clone(),
    };
    let mut l = wy.clone().mul(nll);
    if eps > 0.0 {
        let all = match &w {
            Some(w) => logp.mul(w.clone().reshape([1, c])),
            None => logp,
        };
        let smooth = all.sum_dim(1).reshape([n]).neg().mul(vmask);
        l = l
            .mul_scalar(1.0 - eps)
            .add(smooth.mul_scalar(eps / c as f64));
    }
    let shape = td.to_vec();
    Ok(Some(match r {
        ReductionMode::None => (l, shape),
        ReductionMode::Sum => (l.sum(), shape),
        _ => (l.sum().div(wy.sum()), shape),
    }))
}

/// Dice: one ratio per (sample, class), or per class with `batch`.
fn dice(
    loss: &Loss,
    r: ReductionMode,
    x: &Tensor<1>,
    xd: &[usize],
    target: &Input,
) -> Result<Option<Out>> {
    let name = loss.info().name;
    let p = loss.params();
    losskit::Dice::default()
        .smooth_nr(p.float("smooth_nr"))
        .and_then(|d| d.smooth_dr(p.float("smooth_dr")))?;
    if !(3..=5).contains(&xd.len()) || xd[1] == 0 {
        return Err(CoreError::BadShape {
            loss: name,
            arg: "input",
            actual: xd.to_vec(),
            expected: "`[N, C, *spatial]` with 1 to 3 spatial dimensions and C >= 1",
        }
        .into());
    }
    let (n, c) = (xd[0], xd[1]);
    let s: usize = xd[2..].iter().product();
    let activation = p.word("activation");
    if activation == "softmax" && c < 2 {
        return Err(CoreError::BadShape {
            loss: name,
            arg: "input",
            actual: xd.to_vec(),
            expected: "at least 2 classes in dimension 1 with `activation=softmax` (softmax over \
                       one class is always 1; use `sigmoid` for a single binary channel)",
        }
        .into());
    }
    let is_float = matches!(target.data, InputData::Float(_));
    if is_float && target.dims.len() + 1 == xd.len() {
        return Err(CoreError::Dtype {
            loss: name,
            arg: "target",
            actual: "float",
            expected: "an integer type for class indices `[N, *spatial]` (a float target is a 0/1 \
                       mask of `input`'s shape)",
        }
        .into());
    }
    if n == 0 || s == 0 {
        return Ok(None);
    }
    let g: Tensor<3> = if target.dims == xd {
        as_float(target, x).reshape([n, c, s])
    } else if let (InputData::Int(t), true) = (&target.data, target.dims.len() + 1 == xd.len()) {
        let mut want = xd.to_vec();
        want.remove(1);
        if target.dims != want {
            return Err(CoreError::ShapeMismatch {
                loss: name,
                arg: "target",
                actual: target.dims.clone(),
                expected: want,
                because: "class indices have `input`'s shape without its class dimension 1; a \
                          one-hot mask has `input`'s shape",
            }
            .into());
        }
        if !in_range(t, c, None) {
            return Ok(None);
        }
        let oh: Tensor<3, Int> = t.clone().to_device(&x.device()).reshape([n, s]).one_hot(c);
        oh.swap_dims(1, 2).float().cast(x.dtype())
    } else {
        return Err(CoreError::ShapeMismatch {
            loss: name,
            arg: "target",
            actual: target.dims.clone(),
            expected: xd.to_vec(),
            because:
                "a one-hot mask has the shape of `input`; class indices drop its class dimension 1",
        }
        .into());
    };
    let x3 = x.clone().reshape([n, c, s]);
    let probs = match activation {
        "softmax" => {
            let m = x3.clone().max_dim(1).detach();
            let e = x3.sub(m).exp();
            e.clone().div(e.sum_dim(1))
        }
        "sigmoid" => sigmoid(x3),
        _ => x3,
    };
    let (probs, g, c) = if !p.bool("include_background") && c > 1 {
        (probs.narrow(1, 1, c - 1), g.narrow(1, 1, c - 1), c - 1)
    } else {
        (probs, g, c)
    };
    let batch = p.bool("batch");
    let sum = |t: Tensor<3>| -> Tensor<3> {
        let t = t.sum_dim(2);
        if batch {
            t.sum_dim(0)
        } else {
            t
        }
    };
    let inter = sum(probs.clone().mul(g.clone()));
    let (ps, gs) = if p.bool("squared") {
        (sum(probs.square()), sum(g.square()))
    } else {
        (sum(probs), sum(g))
    };
    let num = inter.mul_scalar(2.0).add_scalar(p.float("smooth_nr"));
    let den = ps.add(gs).add_scalar(p.float("smooth_dr"));
    let l = num.div(den).neg().add_scalar(1.0);
    let shape = if batch { vec![c] } else { vec![n, c] };
    let l: Tensor<1> = l.reshape([shape.iter().product::<usize>()]);
    Ok(Some(match r {
        ReductionMode::None => (l, shape),
        ReductionMode::Sum => (l.sum(), shape),
        _ => (l.mean(), shape),
    }))
}
