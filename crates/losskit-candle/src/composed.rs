//! The composed path: the everyday losses as candle ops, so they run (and differentiate) on
//! any device without leaving it.
//!
//! Stable forms only, written once here:
//! - t = e^(−|x|) ≤ 1 is the only exponential of a logit: nothing overflows, in the value or
//!   in the backward pass (a `where_cond` branch that is not taken still gets a zero
//!   gradient multiplied by its local derivative, so an infinite derivative there would
//!   turn into NaN);
//! - softplus(x) = max(x, 0) + ln_1p(t), with `max` and `|x|` taken on the same side of 0 so
//!   that the derivative at 0 is σ(0) = ½;
//! - ln_1p(t) by Goldberg's form (t when 1 + t rounds to 1), with its exact derivative
//!   1/(1 + t) attached;
//! - log-softmax as x − m − ln Σ e^(x − m) with the row maximum m detached (it cancels
//!   from the derivative);
//! - 1 − σ(x) computed as σ(−x), never by subtraction;
//! - |e| as e·sign(e) with the sign detached: the subgradient at 0 is 0, the core's (candle's
//!   `abs` has derivative 1 at 0, and `maximum`/`minimum` split ties by halves).
//!
//! Names, dtypes, shapes and parameter ranges are checked with the core's errors (the
//! parameters by the core's own constructors); element values (a target outside [0, 1], a
//! class index out of range, NaN) are not, since that would copy the inputs to the host: the
//! fused path checks them.

use candle_core::{DType, Result, Tensor};
use losskit::{Error, ReductionMode};

use crate::{core_error, Loss};

/// The losses with a composed path, and what it covers: every parameter value unless
/// stated.
///
/// | loss | not covered (the fused path takes these) |
/// |---|---|
/// | `mse`, `l2`, `mae` | |
/// | `huber`, `smooth_l1` | |
/// | `bce_with_logits` | |
/// | `focal` | |
/// | `cross_entropy` | probability (float) targets |
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

type Inputs<'a, 'b> = &'a [(&'b str, &'b Tensor)];

/// The composed loss, or `None` where this path does not cover the loss or its inputs.
pub(crate) fn forward(loss: &Loss, inputs: Inputs<'_, '_>) -> Result<Option<Tensor>> {
    let info = loss.info();
    if !COMPOSED.contains(&info.name) {
        return Ok(None);
    }
    check_names(loss, inputs)?;
    let r = loss.reduction_mode();
    if !info.reductions.contains(&r) {
        return Err(core_error(Error::UnsupportedReduction {
            loss: info.name,
            reduction: r.name().to_owned(),
            supported: info.reductions.iter().map(|r| r.name()).collect(),
        }));
    }
    let get = |name: &str| inputs.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
    let (Some(x), Some(y)) = (get("input"), get("target")) else {
        return Ok(None); // unreachable after check_names: every one of these requires both
    };
    let p = loss.params();
    let n = info.name;
    let home = x.dtype();
    let x = &float_input(n, "input", x)?;
    let out = match n {
        "mse" | "l2" | "mae" | "huber" | "smooth_l1" => {
            let y = &same_float(n, "target", y, x)?;
            let w = get("weight")
                .map(|w| same_float(n, "weight", w, x))
                .transpose()?;
            let e = (x - y)?;
            let l = match n {
                "mse" => e.sqr()?,
                "l2" => (e.sqr()? * 0.5)?,
                "mae" => abs(&e)?,
                "huber" => {
                    let delta = losskit::Huber::new(p.float("delta"))
                        .map_err(core_error)
                        .map(|_| p.float("delta"))?;
                    let a = abs(&e)?;
                    let inside = a.le(delta)?;
                    inside.where_cond(&(e.sqr()? * 0.5)?, &((a - 0.5 * delta)? * delta)?)?
                }
                _ => {
                    let beta = losskit::SmoothL1::new(p.float("beta"))
                        .map_err(core_error)
                        .map(|_| p.float("beta"))?;
                    let a = abs(&e)?;
                    if beta == 0.0 {
                        a
                    } else {
                        let inside = a.lt(beta)?;
                        inside.where_cond(&(e.sqr()? * (0.5 / beta))?, &(a - 0.5 * beta)?)?
                    }
                }
            };
            reduce(n, r, l, w)?
        }
        "bce_with_logits" | "focal" => {
            let y = &same_float(n, "target", y, x)?;
            let w = get("weight")
                .map(|w| trailing_float(n, "weight", w, x))
                .transpose()?;
            let l = if n == "focal" {
                let (alpha, gamma) = (p.float("alpha"), p.float("gamma"));
                losskit::Focal::new(alpha, gamma).map_err(core_error)?;
                focal(x, y, alpha, gamma)?
            } else {
                let pw = get("pos_weight").map(|w| pos_weight(n, w, x)).transpose()?;
                bce_with_logits(x, y, pw.as_ref())?
            };
            reduce(n, r, l, w)?
        }
        "cross_entropy" => {
            if y.dtype().is_float() {
                return Ok(None);
            }
            let eps = p.float("label_smoothing");
            losskit::CrossEntropy::default()
                .label_smoothing(eps)
                .map_err(core_error)?;
            cross_entropy(n, r, x, y, get("weight"), p.int("ignore_index"), eps)?
        }
        "dice" => dice(loss, r, x, y)?,
        _ => return Ok(None),
    };
    // Half precision was computed in f32: the loss goes back in the input's dtype.
    Ok(Some(if out.dtype() == home {
        out
    } else {
        out.to_dtype(home)?
    }))
}

/// Unknown, duplicate and missing inputs, with the core's errors.
fn check_names(loss: &Loss, inputs: Inputs<'_, '_>) -> Result<()> {
    let info = loss.info();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in inputs {
        let Some(spec) = info.input(name) else {
            return Err(core_error(Error::UnknownInput {
                loss: info.name,
                name: (*name).to_owned(),
                known: info.inputs.iter().map(|i| i.name).collect(),
            }));
        };
        if seen.contains(&spec.name) {
            return Err(core_error(Error::DuplicateInput {
                loss: info.name,
                name: spec.name,
            }));
        }
        seen.push(spec.name);
    }
    for spec in info.inputs.iter().filter(|s| s.required) {
        if !seen.contains(&spec.name) {
            return Err(core_error(Error::MissingInput {
                loss: info.name,
                name: spec.name,
            }));
        }
    }
    Ok(())
}

/// The core's (NumPy's) name of a candle dtype.
pub(crate) fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
        DType::U8 => "uint8",
        DType::U32 => "uint32",
        DType::I16 => "int16",
        DType::I32 => "int32",
        DType::I64 => "int64",
        _ => "an unsupported dtype",
    }
}

/// The prediction, computed in f32 for half precision (as the core does).
fn float_input(loss: &'static str, arg: &'static str, t: &Tensor) -> Result<Tensor> {
    match t.dtype() {
        DType::F32 | DType::F64 => Ok(t.clone()),
        DType::F16 | DType::BF16 => t.to_dtype(DType::F32),
        other => Err(core_error(Error::Dtype {
            loss,
            arg,
            actual: dtype_name(other),
            expected: "float32 or float64",
        })),
    }
}

/// A float input of exactly `x`'s shape, in `x`'s dtype (integers and booleans converted,
/// as the core does for targets and weights).
fn same_float(loss: &'static str, arg: &'static str, t: &Tensor, x: &Tensor) -> Result<Tensor> {
    if t.dims() != x.dims() {
        return Err(core_error(Error::ShapeMismatch {
            loss,
            arg,
            actual: t.dims().to_vec(),
            expected: x.dims().to_vec(),
            because: "the shape of `input`",
        }));
    }
    t.to_dtype(x.dtype())
}

/// A weight of `x`'s shape or a trailing part of it, broadcast to `x`'s shape.
fn trailing_float(loss: &'static str, arg: &'static str, t: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (td, xd) = (t.dims(), x.dims());
    if td.len() > xd.len() || xd[xd.len() - td.len()..] != *td {
        return Err(core_error(Error::ShapeMismatch {
            loss,
            arg,
            actual: td.to_vec(),
            expected: xd.to_vec(),
            because: "the shape of `input`, or a trailing part of it such as [C] against [N, C]",
        }));
    }
    t.to_dtype(x.dtype())?.broadcast_as(xd)
}

/// `pos_weight`: one weight per label (C elements, C = the last dimension of `input`) or one
/// for all, broadcast to `x`'s shape.
fn pos_weight(loss: &'static str, t: &Tensor, x: &Tensor) -> Result<Tensor> {
    let c = x.dims().last().copied().unwrap_or(1);
    let n = t.elem_count();
    let w = t.to_dtype(x.dtype())?;
    let w = if n == 1 {
        w.reshape(())?
    } else if n == c {
        w.reshape(c)?
    } else {
        return Err(core_error(Error::ShapeMismatch {
            loss,
            arg: "pos_weight",
            actual: vec![n],
            expected: vec![c],
            because: "the last dimension of `input`, or 1 for one weight for every label",
        }));
    };
    w.broadcast_as(x.dims())
}

/// `mean` (Σ w·ℓ / Σ w), `sum` or `none` of element-wise losses.
fn reduce(loss: &'static str, r: ReductionMode, l: Tensor, w: Option<Tensor>) -> Result<Tensor> {
    let l = match &w {
        Some(w) => (l * w)?,
        None => l,
    };
    match r {
        ReductionMode::None => Ok(l),
        ReductionMode::Sum => l.sum_all(),
        _ => {
            if l.elem_count() == 0 {
                return Err(core_error(Error::EmptyMean { loss }));
            }
            match w {
                Some(w) => l.sum_all()? / w.sum_all()?,
                None => l.mean_all(),
            }
        }
    }
}

/// |e| with the subgradient 0 at 0.
fn abs(e: &Tensor) -> Result<Tensor> {
    e * e.sign()?.detach()
}

/// ln(1 + t) for t ≥ 0: Goldberg's form for the value (t itself when 1 + t rounds to 1,
/// else ln(1 + t)·t/((1 + t) − 1), which cancels the rounding of 1 + t), with the exact
/// derivative 1/(1 + t) attached (differentiating the quotient would amplify that rounding).
fn ln_1p(t: &Tensor) -> Result<Tensor> {
    let c = t.detach();
    let u = (&c + 1.0)?;
    let d = (&u - 1.0)?;
    let tiny = d.eq(0.0)?;
    let safe = tiny.where_cond(&d.ones_like()?, &d)?;
    let value = tiny.where_cond(&c, &((u.log()? * &c)? / safe)?)?;
    let slope = (t * u.recip()?)?;
    value + (&slope - slope.detach())?
}

/// t = e^(−|x|) and the mask x > 0 that decides the side of every stable form.
fn side(x: &Tensor) -> Result<(Tensor, Tensor)> {
    let pos = x.gt(0.0)?;
    let a = pos.where_cond(x, &x.neg()?)?;
    Ok((a.neg()?.exp()?, pos))
}

/// softplus(x) = max(x, 0) + ln_1p(e^(−|x|)).
fn softplus(x: &Tensor) -> Result<Tensor> {
    let (t, pos) = side(x)?;
    let max = pos.where_cond(x, &x.zeros_like()?)?;
    max + ln_1p(&t)?
}

/// σ(x) = 1/(1 + t) for x > 0, t/(1 + t) otherwise.
fn sigmoid(x: &Tensor) -> Result<Tensor> {
    let (t, pos) = side(x)?;
    let den = (&t + 1.0)?;
    pos.where_cond(&den.recip()?, &(&t / &den)?)
}

/// ℓ = pw·y·softplus(−x) + (1 − y)·softplus(x).
fn bce_with_logits(x: &Tensor, y: &Tensor, pw: Option<&Tensor>) -> Result<Tensor> {
    let pos = (y * softplus(&x.neg()?)?)?;
    let pos = match pw {
        Some(w) => (pos * w)?,
        None => pos,
    };
    pos + ((1.0 - y)? * softplus(x)?)?
}

/// ℓ = α_t·(1 − p_t)^γ·BCE(x, y), 1 − p_t = (1 − y)·σ(x) + y·σ(−x).
fn focal(x: &Tensor, y: &Tensor, alpha: f64, gamma: f64) -> Result<Tensor> {
    let bce = bce_with_logits(x, y, None)?;
    let not_y = (1.0 - y)?;
    let q = ((&not_y * sigmoid(x)?)? + (y * sigmoid(&x.neg()?)?)?)?;
    let l = if gamma == 0.0 {
        bce
    } else if gamma == 1.0 {
        (q * bce)?
    } else if gamma == 2.0 {
        (q.sqr()? * bce)?
    } else {
        (q.powf(gamma)? * bce)?
    };
    if alpha < 0.0 {
        return Ok(l);
    }
    let a = ((y * alpha)? + (not_y * (1.0 - alpha))?)?;
    l * a
}

/// Cross-entropy with class-index targets: `[N, C, d1, …]` against `[N, d1, …]`, or `[C]`
/// against `[]`.
fn cross_entropy(
    loss: &'static str,
    r: ReductionMode,
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    eps: f64,
) -> Result<Tensor> {
    let (xd, td) = (x.dims().to_vec(), target.dims().to_vec());
    if xd.is_empty() {
        return Err(core_error(Error::BadShape {
            loss,
            arg: "input",
            actual: xd,
            expected: "`[N, C]`, `[N, C, d1, ...]` or `[C]`",
        }));
    }
    let expected: Vec<usize> = if xd.len() == 1 {
        Vec::new()
    } else {
        xd.iter()
            .enumerate()
            .filter(|&(i, _)| i != 1)
            .map(|(_, &d)| d)
            .collect()
    };
    if td != expected {
        return Err(core_error(Error::ShapeMismatch {
            loss,
            arg: "target",
            actual: td,
            expected,
            because: "`input`'s shape without its class dimension 1",
        }));
    }
    let c = xd[if xd.len() == 1 { 0 } else { 1 }];
    let (x, t) = if xd.len() == 1 {
        (x.unsqueeze(0)?, target.reshape(1)?)
    } else {
        (x.clone(), target.clone())
    };
    let t = t.to_dtype(DType::I64)?;
    if let Some(w) = weight {
        if w.dims() != [c] {
            return Err(core_error(Error::ShapeMismatch {
                loss,
                arg: "weight",
                actual: w.dims().to_vec(),
                expected: vec![c],
                because: "one entry per class, C = `input`'s class dimension",
            }));
        }
    }
    let m = x.max_keepdim(1)?.detach();
    let z = x.broadcast_sub(&m)?;
    let logp = z.broadcast_sub(&z.exp()?.sum_keepdim(1)?.log()?)?;
    let valid = t.ne(ignore_index as f64)?;
    let safe = valid.where_cond(&t, &t.zeros_like()?)?;
    let nll = logp.gather(&safe.unsqueeze(1)?, 1)?.squeeze(1)?.neg()?;
    let vmask = valid.to_dtype(x.dtype())?;
    let w = weight.map(|w| w.to_dtype(x.dtype())).transpose()?;
    let wy = match &w {
        Some(w) => {
            (w.index_select(&safe.flatten_all()?, 0)?
                .reshape(safe.dims())?
                * &vmask)?
        }
        None => vmask.clone(),
    };
    let mut l = (&wy * &nll)?;
    if eps > 0.0 {
        let all = match &w {
            Some(w) => {
                let shape: Vec<usize> = (0..x.rank()).map(|i| if i == 1 { c } else { 1 }).collect();
                logp.broadcast_mul(&w.reshape(shape)?)?
            }
            None => logp.clone(),
        };
        let smooth = (all.sum(1)?.neg()? * &vmask)?;
        l = ((l * (1.0 - eps))? + (smooth * (eps / c as f64))?)?;
    }
    match r {
        ReductionMode::None => l.reshape(target.dims()),
        ReductionMode::Sum => l.sum_all(),
        _ => {
            if l.elem_count() == 0 {
                return Err(core_error(Error::EmptyMean { loss }));
            }
            l.sum_all()? / wy.sum_all()?
        }
    }
}

/// Dice: one ratio per (sample, class), or per class with `batch`.
fn dice(loss: &Loss, r: ReductionMode, x: &Tensor, target: &Tensor) -> Result<Tensor> {
    let n = loss.info().name;
    let p = loss.params();
    losskit::Dice::default()
        .smooth_nr(p.float("smooth_nr"))
        .and_then(|d| d.smooth_dr(p.float("smooth_dr")))
        .map_err(core_error)?;
    let xd = x.dims().to_vec();
    if !(3..=5).contains(&xd.len()) || xd[1] == 0 {
        return Err(core_error(Error::BadShape {
            loss: n,
            arg: "input",
            actual: xd,
            expected: "`[N, C, *spatial]` with 1 to 3 spatial dimensions and C >= 1",
        }));
    }
    let c = xd[1];
    let activation = p.word("activation");
    if activation == "softmax" && c < 2 {
        return Err(core_error(Error::BadShape {
            loss: n,
            arg: "input",
            actual: xd,
            expected: "at least 2 classes in dimension 1 with `activation=softmax` (softmax over \
                       one class is always 1; use `sigmoid` for a single binary channel)",
        }));
    }
    if target.dtype().is_float() && target.rank() + 1 == xd.len() {
        return Err(core_error(Error::Dtype {
            loss: n,
            arg: "target",
            actual: "float",
            expected: "an integer type for class indices `[N, *spatial]` (a float target is a 0/1 \
                       mask of `input`'s shape)",
        }));
    }
    let g = if target.dims() == x.dims() {
        target.to_dtype(x.dtype())?
    } else if !target.dtype().is_float() && target.rank() + 1 == xd.len() {
        let mut want = xd.clone();
        want.remove(1);
        if target.dims() != want {
            return Err(core_error(Error::ShapeMismatch {
                loss: n,
                arg: "target",
                actual: target.dims().to_vec(),
                expected: want,
                because:
                    "class indices have `input`'s shape without its class dimension 1; a one-hot \
                          mask has `input`'s shape",
            }));
        }
        let shape: Vec<usize> = (0..xd.len()).map(|i| if i == 1 { c } else { 1 }).collect();
        let classes = Tensor::arange(0i64, c as i64, x.device())?.reshape(shape)?;
        target
            .to_dtype(DType::I64)?
            .unsqueeze(1)?
            .broadcast_eq(&classes)?
            .to_dtype(x.dtype())?
    } else {
        return Err(core_error(Error::ShapeMismatch {
            loss: n,
            arg: "target",
            actual: target.dims().to_vec(),
            expected: xd,
            because:
                "a one-hot mask has the shape of `input`; class indices drop its class dimension 1",
        }));
    };
    let probs = match activation {
        "softmax" => {
            let m = x.max_keepdim(1)?.detach();
            let e = x.broadcast_sub(&m)?.exp()?;
            e.broadcast_div(&e.sum_keepdim(1)?)?
        }
        "sigmoid" => sigmoid(x)?,
        _ => x.clone(),
    };
    let (probs, g) = if !p.bool("include_background") && c > 1 {
        (probs.narrow(1, 1, c - 1)?, g.narrow(1, 1, c - 1)?)
    } else {
        (probs, g)
    };
    let mut dims: Vec<usize> = (2..xd.len()).collect();
    if p.bool("batch") {
        dims.insert(0, 0);
    }
    let inter = (&probs * &g)?.sum(dims.clone())?;
    let (ps, gs) = if p.bool("squared") {
        (probs.sqr()?.sum(dims.clone())?, g.sqr()?.sum(dims)?)
    } else {
        (probs.sum(dims.clone())?, g.sum(dims)?)
    };
    let num = ((inter * 2.0)? + p.float("smooth_nr"))?;
    let den = ((ps + gs)? + p.float("smooth_dr"))?;
    let l = (1.0 - (num / den)?)?;
    match r {
        ReductionMode::None => Ok(l),
        ReductionMode::Sum => l.sum_all(),
        _ => {
            if l.elem_count() == 0 {
                return Err(core_error(Error::EmptyMean { loss: n }));
            }
            l.mean_all()
        }
    }
}
