//! What every experiment trains with: a loss looked up by name, the optimisers, the few
//! dense-matrix products the linear models need, and the metrics' small helpers.

use std::cell::RefCell;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use losskit::{
    evaluate_with, find, ArrayData, FloatArray, LossInfo, NamedArray, Params, ReductionMode,
};

use crate::Error;

/// A loss of the catalogue with its parameters, evaluated through losskit's by-name layer
/// ([`losskit::evaluate_with`]): every experiment reaches every family the same way.
pub(crate) struct Loss {
    info: &'static LossInfo,
    params: Params,
}

/// One input array of a [`Loss`] call, in f64.
pub(crate) struct Input<'a> {
    pub name: &'static str,
    pub data: Data<'a>,
    pub dims: Vec<usize>,
}

/// The elements of an [`Input`].
pub(crate) enum Data<'a> {
    Float(&'a [f64]),
    Index(&'a [i64]),
}

impl<'a> Input<'a> {
    pub fn float(name: &'static str, data: &'a [f64], dims: &[usize]) -> Self {
        Input {
            name,
            data: Data::Float(data),
            dims: dims.to_vec(),
        }
    }
    pub fn index(name: &'static str, data: &'a [i64], dims: &[usize]) -> Self {
        Input {
            name,
            data: Data::Index(data),
            dims: dims.to_vec(),
        }
    }
}

impl Loss {
    /// The loss `name` with `KEY=VALUE` parameters over its defaults.
    pub fn new(name: &str, params: &[(&str, &str)]) -> Result<Loss, Error> {
        let info = find(name)?;
        let params = Params::parse(info, params)?;
        Ok(Loss { info, params })
    }

    /// The mean loss and its gradients with respect to the inputs named in `grads`, in that
    /// order (losskit's fused value-and-gradient pass).
    pub fn value_and_grad(
        &self,
        inputs: &[Input<'_>],
        grads: &[&str],
    ) -> Result<(f64, Vec<Vec<f64>>), Error> {
        let named: Vec<NamedArray<'_>> = inputs
            .iter()
            .map(|i| NamedArray {
                name: i.name,
                data: match i.data {
                    Data::Float(d) => ArrayData::F64(d),
                    Data::Index(d) => ArrayData::I64(d),
                },
                dims: &i.dims,
            })
            .collect();
        let out = evaluate_with(self.info, &named, &self.params, ReductionMode::Mean, grads)?;
        let value = out.value.unwrap_or(f64::NAN);
        if !value.is_finite() {
            return Err(Error(format!(
                "{} returned a non-finite loss",
                self.info.name
            )));
        }
        let grads = out
            .grads
            .into_iter()
            .map(|(_, g)| match g {
                FloatArray::F64(v) => v,
                other => other.to_f64(),
            })
            .collect();
        Ok((value, grads))
    }
}

/// An objective: the value and gradient at a point.
pub(crate) type Objective<'a> = dyn Fn(&[f64]) -> Result<(f64, Vec<f64>), Error> + 'a;

/// A point evaluated: the parameters, the value, the gradient.
type Point = (Vec<f64>, f64, Vec<f64>);

/// A finished fit: the parameters, the objective after each accepted step (or each new point
/// evaluated, for L-BFGS), and how the optimiser got there.
pub(crate) struct Fit {
    pub params: Vec<f64>,
    pub curve: Vec<f64>,
    pub optimiser: String,
}

/// Objective for argmin: cost and gradient from one fused call, cached per point because
/// argmin asks for them separately.
struct Problem<'f> {
    f: &'f Objective<'f>,
    memo: &'f Memo,
}

#[derive(Default)]
struct Memo {
    last: RefCell<Option<Point>>,
    curve: RefCell<Vec<f64>>,
    best: RefCell<Option<(f64, Vec<f64>)>>,
}

impl Problem<'_> {
    fn eval(&self, p: &[f64]) -> Result<(f64, Vec<f64>), argmin::core::Error> {
        if let Some((q, c, g)) = &*self.memo.last.borrow() {
            if q.as_slice() == p {
                return Ok((*c, g.clone()));
            }
        }
        let (c, g) = (self.f)(p).map_err(|e| argmin::core::Error::msg(e.0))?;
        self.memo.curve.borrow_mut().push(c);
        let mut best = self.memo.best.borrow_mut();
        if best.as_ref().map_or(true, |(b, _)| c < *b) {
            *best = Some((c, p.to_vec()));
        }
        *self.memo.last.borrow_mut() = Some((p.to_vec(), c, g.clone()));
        Ok((c, g))
    }
}

impl CostFunction for Problem<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        self.eval(p).map(|(c, _)| c)
    }
}

impl Gradient for Problem<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        self.eval(p).map(|(_, g)| g)
    }
}

/// Full-batch L-BFGS (argmin, memory 10, Moré–Thuente line search) for at most `max_iters`
/// iterations from `init`. A line search that cannot progress ends the fit at the best point
/// seen, and the optimiser note says so.
pub(crate) fn lbfgs(f: &Objective<'_>, init: Vec<f64>, max_iters: u64) -> Result<Fit, Error> {
    let memo = Memo::default();
    let objective = Problem { f, memo: &memo };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-9)
        .and_then(|s| s.with_tolerance_cost(1e-12))
        .map_err(|e| Error(e.to_string()))?;
    let run = Executor::new(objective, solver)
        .configure(|s| s.param(init).max_iters(max_iters))
        .run();
    // Our own errors (a loss that failed) are fatal; argmin's own (a line search that found
    // no decrease) end the fit where it is.
    let note = match &run {
        Ok(res) => format!("L-BFGS, {} it", res.state().get_iter()),
        Err(e) if e.downcast_ref::<argmin::core::ArgminError>().is_some() => {
            "L-BFGS, stopped: line search".to_owned()
        }
        Err(e) => return Err(Error(e.to_string())),
    };
    let params = match memo.best.into_inner() {
        Some((_, p)) => p,
        None => return Err(Error("L-BFGS evaluated no point".into())),
    };
    Ok(Fit {
        params,
        curve: memo.curve.into_inner(),
        optimiser: note,
    })
}

/// Adam (Kingma & Ba 2015) with the paper's β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
pub(crate) struct Adam {
    lr: f64,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Adam {
    pub fn new(len: usize, lr: f64) -> Adam {
        Adam {
            lr,
            m: vec![0.0; len],
            v: vec![0.0; len],
            t: 0,
        }
    }

    /// One step with step size `lr · scale` (a schedule multiplies `scale`).
    pub fn step(&mut self, params: &mut [f64], grad: &[f64], scale: f64) {
        const B1: f64 = 0.9;
        const B2: f64 = 0.999;
        self.t += 1;
        let (c1, c2) = (1.0 - B1.powi(self.t), 1.0 - B2.powi(self.t));
        for i in 0..params.len() {
            self.m[i] = B1 * self.m[i] + (1.0 - B1) * grad[i];
            self.v[i] = B2 * self.v[i] + (1.0 - B2) * grad[i] * grad[i];
            params[i] -= self.lr * scale * (self.m[i] / c1) / ((self.v[i] / c2).sqrt() + 1e-8);
        }
    }
}

/// Full-batch Adam for `steps` steps, step size decayed as 1/√(1 + t/100) (the losses it is
/// used for are not differentiable everywhere, so a constant step would keep oscillating).
pub(crate) fn adam_full_batch(
    f: &Objective<'_>,
    mut params: Vec<f64>,
    lr: f64,
    steps: usize,
) -> Result<Fit, Error> {
    let mut adam = Adam::new(params.len(), lr);
    let mut curve = Vec::with_capacity(steps);
    for t in 0..steps {
        let (c, g) = f(&params)?;
        curve.push(c);
        adam.step(&mut params, &g, 1.0 / (1.0 + t as f64 / 100.0).sqrt());
    }
    Ok(Fit {
        params,
        curve,
        optimiser: format!("Adam, {steps} steps"),
    })
}

/// `a` [n, k] times `b` [k, m], row-major.
pub(crate) fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * m];
    for i in 0..n {
        let row = &mut out[i * m..(i + 1) * m];
        for (p, &aip) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (o, &bpj) in row.iter_mut().zip(&b[p * m..(p + 1) * m]) {
                *o += aip * bpj;
            }
        }
    }
    out
}

/// `aᵀ g` for `a` [n, k] and `g` [n, m]: the gradient of a linear layer's weights.
pub(crate) fn matmul_tn(a: &[f64], g: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut out = vec![0.0; k * m];
    for i in 0..n {
        let gi = &g[i * m..(i + 1) * m];
        for (p, &aip) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (o, &gij) in out[p * m..(p + 1) * m].iter_mut().zip(gi) {
                *o += aip * gij;
            }
        }
    }
    out
}

/// Rows of `x` [n, d] with a trailing 1 (the bias feature).
pub(crate) fn with_bias(x: &[f64], n: usize, d: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(n * (d + 1));
    for row in x.chunks(d).take(n) {
        out.extend_from_slice(row);
        out.push(1.0);
    }
    out
}

/// Row-wise softmax of logits [n, c].
pub(crate) fn softmax_rows(logits: &[f64], c: usize) -> Vec<f64> {
    let mut p = logits.to_vec();
    for row in p.chunks_mut(c) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = row
            .iter_mut()
            .map(|x| {
                *x = (*x - m).exp();
                *x
            })
            .sum();
        row.iter_mut().for_each(|x| *x /= s);
    }
    p
}

/// The index of the largest element of each row of [n, c].
pub(crate) fn argmax_rows(v: &[f64], c: usize) -> Vec<usize> {
    v.chunks(c)
        .map(|r| {
            r.iter()
                .enumerate()
                .fold(0, |b, (i, &x)| if x > r[b] { i } else { b })
        })
        .collect()
}
