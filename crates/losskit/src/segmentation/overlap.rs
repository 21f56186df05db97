//! The overlap losses: Dice, Jaccard, Tversky, focal Tversky and generalized Dice, on one
//! fused kernel (activation, the three sums ΣP, ΣG, ΣPG per sample and class, the ratio, and
//! the gradient through the activation).

use crate::error::{check_buffer, Error, Result};
use crate::numerics::{hinge, simd, SimdCall};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

use super::{
    check_target, divisor, first_class, has_nan, layout, no_distance, non_finite, with_target,
    Activation, Gt, Layout, SegInputs, Target,
};

/// The parameters every overlap loss shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Opts {
    pub(crate) activation: Activation,
    pub(crate) include_background: bool,
    pub(crate) batch: bool,
    pub(crate) smooth_nr: f64,
    pub(crate) smooth_dr: f64,
}

impl Opts {
    /// MONAI's smoothing (1e-5 on both sides), per-sample ratios, background included, and
    /// softmax (logits in).
    pub(crate) const DEFAULT: Opts = Opts {
        activation: Activation::Softmax,
        include_background: true,
        batch: false,
        smooth_nr: 1e-5,
        smooth_dr: 1e-5,
    };

    pub(crate) fn check_smooth(loss: &'static str, param: &'static str, v: f64) -> Result<f64> {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(Error::InvalidParam {
                loss,
                param,
                value: v,
                expected: ">= 0 and finite",
            });
        }
        Ok(v)
    }
}

/// The setters of the shared parameters, for an overlap loss type with an `opts` field.
macro_rules! overlap_options {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// The activation applied to `input` (default [`Activation::Softmax`]).
            #[must_use]
            pub fn activation(mut self, activation: Activation) -> Self {
                self.opts.activation = activation;
                self
            }
        }
        $crate::segmentation::overlap::dice_options!($ty, $name);
    };
}

/// The setters of the Dice parameters other than the activation.
macro_rules! dice_options {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// Whether class 0 counts (default `true`). Without it, the softmax still runs
            /// over all C classes; class 0 is left out afterwards (with C = 1 it is kept, as
            /// MONAI).
            #[must_use]
            pub fn include_background(mut self, include: bool) -> Self {
                self.opts.include_background = include;
                self
            }

            /// `true`: the sums run over the whole batch, one ratio per class; `false`
            /// (default): one ratio per sample and class.
            #[must_use]
            pub fn batch(mut self, batch: bool) -> Self {
                self.opts.batch = batch;
                self
            }

            /// The numerator's smoothing (default 1e-5).
            ///
            /// # Errors
            /// [`Error::InvalidParam`](crate::Error::InvalidParam) unless finite and ≥ 0.
            pub fn smooth_nr(mut self, v: f64) -> Result<Self> {
                self.opts.smooth_nr = Opts::check_smooth($name, "smooth_nr", v)?;
                Ok(self)
            }

            /// The denominator's smoothing (default 1e-5).
            ///
            /// # Errors
            /// [`Error::InvalidParam`](crate::Error::InvalidParam) unless finite and ≥ 0.
            pub fn smooth_dr(mut self, v: f64) -> Result<Self> {
                self.opts.smooth_dr = Opts::check_smooth($name, "smooth_dr", v)?;
                Ok(self)
            }
        }
    };
}
pub(crate) use dice_options;

/// `value`, `value_and_grad` and `per_element` of an overlap loss type with a `score()`.
macro_rules! overlap_api {
    ($ty:ident, $name:expr, $per_class:expr, $per:literal) => {
        impl $ty {
            /// The loss reduced with `reduction` (`Mean`: over the values `per_element`
            /// gives).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                let r = run(
                    $name,
                    &self.opts,
                    &self.score(),
                    inputs,
                    reduction == Reduction::Mean,
                    None,
                )?;
                Ok(T::from_f64(r.reduced))
            }

            /// The loss reduced with `reduction`, and its gradient with respect to `input`
            /// (into `grad`, as long as `input`; the reduction's scale included), in one pass.
            ///
            /// # Errors
            /// See the type's docs. On error `grad` holds unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                check_buffer(
                    $name,
                    "gradient of `input`",
                    grad.len(),
                    inputs.input().len(),
                )?;
                let r = run(
                    $name,
                    &self.opts,
                    &self.score(),
                    inputs,
                    reduction == Reduction::Mean,
                    Some((grad, None)),
                )?;
                Ok(T::from_f64(r.reduced))
            }

            /// The vector-Jacobian product of the unreduced loss: ∂(Σ_i u_i ℓ_i)/∂`input`
            /// into `grad` (`u` of [`per_element_shape`](Self::per_element_shape)), each
            /// value's backward contribution weighted by its `u_i` inside the kernel.
            pub(crate) fn vjp<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                u: &[T],
                grad: &mut [T],
            ) -> Result<()> {
                check_buffer(
                    $name,
                    "gradient of `input`",
                    grad.len(),
                    inputs.input().len(),
                )?;
                run_weighted(
                    $name,
                    &self.opts,
                    &self.score(),
                    inputs,
                    false,
                    Some((grad, None)),
                    Some(u),
                )?;
                Ok(())
            }

            #[doc = $per]
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let r = run($name, &self.opts, &self.score(), inputs, false, None)?;
                check_buffer($name, "per-element output", out.len(), r.values.len())?;
                for (o, v) in out.iter_mut().zip(&r.values) {
                    *o = T::from_f64(*v);
                }
                Ok(())
            }

            /// The shape of [`per_element`](Self::per_element)'s output for `input` of shape
            /// `dims`.
            ///
            /// # Errors
            /// [`Error::BadShape`] for a shape that is not `[N, C, *spatial]`.
            pub fn per_element_shape(&self, dims: &[usize]) -> Result<Vec<usize>> {
                values_shape($name, &self.opts, $per_class, dims)
            }
        }
    };
}

/// The shape of the unreduced values: `[N, C']` / `[C']` per class, `[N]` / `[1]` per group.
pub(crate) fn values_shape(
    loss: &'static str,
    o: &Opts,
    per_class: bool,
    dims: &[usize],
) -> Result<Vec<usize>> {
    let lay = match dims {
        [n, c, spatial @ ..] if (1..=3).contains(&spatial.len()) && *c >= 1 => (*n, *c),
        _ => {
            return Err(Error::BadShape {
                loss,
                arg: "input",
                actual: dims.to_vec(),
                expected: super::INPUT_RULE,
            })
        }
    };
    let cp = lay.1 - first_class(o.include_background, lay.1);
    Ok(match (o.batch, per_class) {
        (false, true) => vec![lay.0, cp],
        (true, true) => vec![cp],
        (false, false) => vec![lay.0],
        (true, false) => vec![1],
    })
}

/// The three sums of one sample (or the batch) and class.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Stats {
    /// ΣP (ΣP² when squared).
    pub(crate) sp: f64,
    /// ΣG.
    pub(crate) sg: f64,
    /// ΣPG.
    pub(crate) spg: f64,
}

/// How a group of classes' sums become values and their derivatives.
pub(crate) trait Score {
    /// One value per class (else one per group).
    const PER_CLASS: bool;
    /// Whether ΣP² replaces ΣP.
    fn squared(&self) -> bool;
    /// The values of a group (`vals`: one per class, or one) and the derivatives of their
    /// sum with respect to each class's (ΣP, ΣPG), into `coef`.
    fn score(&self, st: &[Stats], vals: &mut [f64], coef: &mut [(f64, f64)]);
}

/// The ratio family: `t = 1 − (a·ΣPG + nr)/(bp·ΣP + bg·ΣG + bi·ΣPG + dr)` per class, raised to
/// `gamma` (focal Tversky).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ratio {
    pub(crate) a: f64,
    pub(crate) bp: f64,
    pub(crate) bg: f64,
    pub(crate) bi: f64,
    pub(crate) nr: f64,
    pub(crate) dr: f64,
    pub(crate) squared: bool,
    pub(crate) gamma: Option<f64>,
}

impl Score for Ratio {
    const PER_CLASS: bool = true;
    fn squared(&self) -> bool {
        self.squared
    }
    fn score(&self, st: &[Stats], vals: &mut [f64], coef: &mut [(f64, f64)]) {
        for ((s, v), c) in st.iter().zip(vals.iter_mut()).zip(coef.iter_mut()) {
            let num = self.a * s.spg + self.nr;
            let den = self.bp * s.sp + self.bg * s.sg + self.bi * s.spg + self.dr;
            if den == 0.0 {
                // Only with smooth_dr = 0 and both masks empty: a perfect (empty) match.
                *v = 0.0;
                *c = (0.0, 0.0);
                continue;
            }
            let r = num / den;
            let t = 1.0 - r;
            let (dsp, dspg) = (r * self.bp / den, -(self.a - r * self.bi) / den);
            match self.gamma {
                None => {
                    *v = t;
                    *c = (dsp, dspg);
                }
                Some(g) => {
                    // Outside [0, 1] only for probabilities outside [0, 1]; clamped so the
                    // power stays real. The derivative at t = 0 is the subgradient 0 (γ < 1
                    // would give ∞ there).
                    let (tc, _) = hinge(t);
                    *v = tc.powf(g);
                    let k = if tc > 0.0 {
                        g * tc.powf(g - 1.0)
                    } else if tc.is_nan() {
                        tc
                    } else {
                        0.0
                    };
                    *c = (k * dsp, k * dspg);
                }
            }
        }
    }
}

/// Generalized Dice (Sudre et al.): one ratio per group with weights 1/(ΣG_c)².
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gdl {
    pub(crate) nr: f64,
    pub(crate) dr: f64,
}

impl Score for Gdl {
    const PER_CLASS: bool = false;
    fn squared(&self) -> bool {
        false
    }
    fn score(&self, st: &[Stats], vals: &mut [f64], coef: &mut [(f64, f64)]) {
        // MONAI: an absent class (infinite weight) takes the group's largest finite weight,
        // 0 when every class is absent.
        let w = |s: &Stats| {
            if s.sg > 0.0 {
                1.0 / (s.sg * s.sg)
            } else {
                f64::INFINITY
            }
        };
        let max = st
            .iter()
            .map(w)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let wf = |s: &Stats| {
            let v = w(s);
            if v.is_finite() {
                v
            } else {
                max
            }
        };
        let mut num = self.nr;
        let mut den = self.dr;
        let (mut sn, mut sd) = (0.0, 0.0);
        for s in st {
            let wc = wf(s);
            sn += wc * s.spg;
            sd += wc * (s.sp + s.sg);
        }
        num += 2.0 * sn;
        den += sd;
        if den == 0.0 {
            vals[0] = 0.0;
            coef.fill((0.0, 0.0));
            return;
        }
        vals[0] = 1.0 - num / den;
        for (s, c) in st.iter().zip(coef.iter_mut()) {
            let wc = wf(s);
            *c = (num * wc / (den * den), -2.0 * wc / den);
        }
    }
}

/// What [`run`] returns: the reduced value and the unreduced values (row-major, of
/// [`values_shape`]).
pub(crate) struct Run {
    pub(crate) reduced: f64,
    pub(crate) values: Vec<f64>,
    /// What [`Pre`] returned for each sample (zeros without one).
    pub(crate) pre: Vec<f64>,
}

/// Work on each sample's logits in the pass that computes its probabilities, in place of
/// the activation's forward: `bce_dice`'s cross-entropy term, so its sigmoid and its reads
/// of the logits and the mask serve both terms.
pub(crate) trait Pre<T> {
    /// Writes the probabilities of sample `i`'s logits `x` (the activation's forward, to
    /// the bit) into `probs` and, with `grad`, writes its own gradient there (the overlap
    /// term's is then added); returns its own sum over the sample.
    fn sample(&self, i: usize, x: &[T], probs: &mut [T], grad: Option<&mut [T]>) -> f64;
}

/// The overlap kernel. `grad`: the buffer and, with `Some(k)`, "add k times the gradient"
/// instead of "write it".
pub(crate) fn run<T: Real, S: Score>(
    loss: &'static str,
    o: &Opts,
    sc: &S,
    inputs: &SegInputs<'_, T>,
    mean: bool,
    grad: Option<(&mut [T], Option<T>)>,
) -> Result<Run> {
    run_weighted(loss, o, sc, inputs, mean, grad, None)
}

/// [`run`] with each value's backward contribution weighted (`weights`: one per value of
/// [`values_shape`], the cotangent of a vector-Jacobian product; `None`: all ones).
pub(crate) fn run_weighted<T: Real, S: Score>(
    loss: &'static str,
    o: &Opts,
    sc: &S,
    inputs: &SegInputs<'_, T>,
    mean: bool,
    grad: Option<(&mut [T], Option<T>)>,
    weights: Option<&[T]>,
) -> Result<Run> {
    no_distance(loss, inputs)?;
    let input = inputs.input();
    let lay = layout(loss, &input)?;
    o.activation.check(loss, lay.c, input.dims())?;
    let gt = check_target(loss, &input, &lay, inputs.target())?;
    run_checked(loss, o, sc, (&input, &lay, gt), mean, grad, None, weights)
}

/// [`run`] after its checks: `input` with its [`layout`] and the target [`check_target`]
/// returned (an activation that needs a check, softmax, has had it); with a [`Pre`] in place
/// of the activation's forward pass of each sample, and the values' `weights` of
/// [`run_weighted`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_checked<T: Real, S: Score>(
    loss: &'static str,
    o: &Opts,
    sc: &S,
    (input, lay, gt): (&Tensor<'_, T>, &Layout, Gt<'_, T>),
    mean: bool,
    grad: Option<(&mut [T], Option<T>)>,
    pre: Option<&dyn Pre<T>>,
    weights: Option<&[T]>,
) -> Result<Run> {
    if let Some(u) = weights {
        debug_assert_eq!(u.len(), values_len(o, sc, lay));
    }
    let r = with_target!(gt, lay, |g| simd(Kernel {
        o,
        sc,
        x: input.data(),
        lay,
        g,
        mean,
        loss,
        grad,
        pre,
        weights,
    }))?;
    if (!r.reduced.is_finite() || r.values.iter().any(|v| !v.is_finite())) && !has_nan(input) {
        return Err(non_finite(loss, input));
    }
    Ok(r)
}

/// The kernel's arguments, so that [`simd`] can compile it for AVX2.
struct Kernel<'a, 'g, T, S, G> {
    o: &'a Opts,
    sc: &'a S,
    x: &'a [T],
    lay: &'a Layout,
    g: G,
    mean: bool,
    loss: &'static str,
    grad: Option<(&'g mut [T], Option<T>)>,
    pre: Option<&'a dyn Pre<T>>,
    weights: Option<&'a [T]>,
}

impl<T: Real, S: Score, G: Target<T>> SimdCall for Kernel<'_, '_, T, S, G> {
    type Output = Result<Run>;
    #[inline(always)]
    fn call(self) -> Result<Run> {
        kernel(
            self.o,
            self.sc,
            self.x,
            self.lay,
            self.g,
            self.mean,
            self.loss,
            self.grad,
            (self.pre, self.weights),
        )
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn kernel<T: Real, S: Score, G: Target<T>>(
    o: &Opts,
    sc: &S,
    x: &[T],
    lay: &Layout,
    g: G,
    mean: bool,
    loss: &'static str,
    mut grad: Option<(&mut [T], Option<T>)>,
    (pre, weights): (Option<&dyn Pre<T>>, Option<&[T]>),
) -> Result<Run> {
    let (n, c, s) = (lay.n, lay.c, lay.s);
    let c0 = first_class(o.include_background, c);
    let cp = c - c0;
    let groups = if o.batch { 1 } else { n };
    let per_group = if S::PER_CLASS { cp } else { 1 };
    let count = groups * per_group;
    let div = divisor(loss, mean, count)?;
    let sq = sc.squared();
    let mut values = vec![0.0; count];
    let mut probs = vec![T::ZERO; c * s];
    let mut st = vec![Stats::default(); cp];
    let mut coef = vec![(0.0, 0.0); cp];
    let mut scratch = Vec::new();
    let sample = |i: usize| &x[i * c * s..(i + 1) * c * s];
    let mut pre_sums = Vec::with_capacity(n);
    // The probabilities of sample `i`, through `pre` when there is one (the first pass); a
    // function, not a closure, so it is generated inside the target-feature function (an
    // out-of-line closure would run the softmax at the baseline width).
    #[inline(always)]
    fn forward<T: Real>(
        pre: Option<&dyn Pre<T>>,
        act: Activation,
        x: &[T],
        (i, c, s): (usize, usize, usize),
        probs: &mut [T],
        grad: &mut Option<(&mut [T], Option<T>)>,
    ) -> f64 {
        match pre {
            Some(p) => {
                let gi = grad
                    .as_mut()
                    .map(|(b, _)| &mut b[i * c * s..(i + 1) * c * s]);
                p.sample(i, x, probs, gi)
            }
            None => {
                act.forward(x, c, s, probs);
                0.0
            }
        }
    }

    if !o.batch {
        for i in 0..n {
            pre_sums.push(forward(
                pre,
                o.activation,
                sample(i),
                (i, c, s),
                &mut probs,
                &mut grad,
            ));
            for (k, stk) in st.iter_mut().enumerate() {
                *stk = row_stats(&probs[(c0 + k) * s..(c0 + k + 1) * s], &g, i, c0 + k, sq);
            }
            sc.score(
                &st,
                &mut values[i * per_group..(i + 1) * per_group],
                &mut coef,
            );
            if let Some(u) = weights {
                weigh(&mut coef, &u[i * per_group..(i + 1) * per_group]);
            }
            if let Some((buf, add)) = grad.as_mut() {
                let gi = &mut buf[i * c * s..(i + 1) * c * s];
                backward(
                    o.activation,
                    &probs,
                    (c, s, c0),
                    &coef,
                    1.0 / div,
                    sq,
                    &g,
                    i,
                    gi,
                    *add,
                    &mut scratch,
                );
            }
        }
    } else {
        for i in 0..n {
            pre_sums.push(forward(
                pre,
                o.activation,
                sample(i),
                (i, c, s),
                &mut probs,
                &mut grad,
            ));
            for (k, stk) in st.iter_mut().enumerate() {
                let r = row_stats(&probs[(c0 + k) * s..(c0 + k + 1) * s], &g, i, c0 + k, sq);
                stk.sp += r.sp;
                stk.sg += r.sg;
                stk.spg += r.spg;
            }
        }
        sc.score(&st, &mut values, &mut coef);
        if let Some(u) = weights {
            weigh(&mut coef, u);
        }
        if let Some((buf, add)) = grad.as_mut() {
            for i in 0..n {
                o.activation.forward(sample(i), c, s, &mut probs);
                let gi = &mut buf[i * c * s..(i + 1) * c * s];
                backward(
                    o.activation,
                    &probs,
                    (c, s, c0),
                    &coef,
                    1.0 / div,
                    sq,
                    &g,
                    i,
                    gi,
                    *add,
                    &mut scratch,
                );
            }
        }
    }
    let reduced = values.iter().sum::<f64>() / div;
    Ok(Run {
        reduced,
        values,
        pre: pre_sums,
    })
}

/// The number of values [`kernel`] computes (the length of its `weights`).
fn values_len<S: Score>(o: &Opts, _: &S, lay: &Layout) -> usize {
    let cp = lay.c - first_class(o.include_background, lay.c);
    let groups = if o.batch { 1 } else { lay.n };
    groups * if S::PER_CLASS { cp } else { 1 }
}

/// Weights a group's coefficients by its values' cotangents `u` (one per class, or one for
/// the group): the coefficients are the derivatives of the values' sum, so weighting them
/// makes the backward pass that of Σ u·value. A weight of 1 changes no bit.
#[inline(always)]
fn weigh<T: Real>(coef: &mut [(f64, f64)], u: &[T]) {
    for (j, c) in coef.iter_mut().enumerate() {
        let w = u[if u.len() == 1 { 0 } else { j }].to_f64();
        c.0 *= w;
        c.1 *= w;
    }
}

/// ΣP (or ΣP²), ΣG and ΣPG over one sample's row of class `k`, in f64 lanes.
#[inline(always)]
fn row_stats<T: Real, G: Target<T>>(pr: &[T], g: &G, n: usize, k: usize, sq: bool) -> Stats {
    let [sp, sg, spg] = if sq {
        g.stats::<true>(pr, n, k)
    } else {
        g.stats::<false>(pr, n, k)
    };
    Stats { sp, sg, spg }
}

/// The gradient of one sample: ∂/∂P = (ΣP coefficient)·(1 or 2P) + (ΣPG coefficient)·G per
/// kept class (0 for a left-out class), through the activation; written to `out`, or added
/// to it times `k` with `add = Some(k)` (through `scratch`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn backward<T: Real, G: Target<T>>(
    act: Activation,
    probs: &[T],
    (c, s, c0): (usize, usize, usize),
    coef: &[(f64, f64)],
    scale: f64,
    sq: bool,
    g: &G,
    i: usize,
    out: &mut [T],
    add: Option<T>,
    scratch: &mut Vec<T>,
) {
    // The rows of the kept classes, each through `put` (see `Target::dp_row`); a function,
    // not a closure, so each `put` is a static call the row loop inlines.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn rows<T: Real, G: Target<T>>(
        (s, c0): (usize, usize),
        coef: &[(f64, f64)],
        scale: f64,
        sq: bool,
        probs: &[T],
        g: &G,
        i: usize,
        d: &mut [T],
        put: impl Fn(T, T, T) -> T + Copy,
    ) {
        for (j, &(a, b)) in coef.iter().enumerate() {
            let k = c0 + j;
            let (a, b) = (T::from_f64(a * scale), T::from_f64(b * scale));
            let pr = &probs[k * s..(k + 1) * s];
            let dk = &mut d[k * s..(k + 1) * s];
            if sq {
                g.dp_row::<true>(pr, i, k, a, b, dk, put);
            } else {
                g.dp_row::<false>(pr, i, k, a, b, dk, put);
            }
        }
    }
    let fill = |d: &mut [T]| {
        d[..c0 * s].fill(T::ZERO);
        rows((s, c0), coef, scale, sq, probs, g, i, d, |_, _, v| v);
        act.backward(probs, c, s, d);
    };
    match (add, act) {
        (None, _) => fill(out),
        // An element-wise activation adds in the same pass: `out + w·(v·σ')`, the bits of
        // the buffered path below; a left-out class adds nothing.
        (Some(w), Activation::Sigmoid) => {
            let put = move |o: T, q: T, v: T| o + w * (v * (q * (T::ONE - q)));
            rows((s, c0), coef, scale, sq, probs, g, i, out, put);
        }
        (Some(w), Activation::None) => {
            rows(
                (s, c0),
                coef,
                scale,
                sq,
                probs,
                g,
                i,
                out,
                move |o: T, _, v: T| o + w * v,
            );
        }
        (Some(w), Activation::Softmax) => {
            scratch.resize(c * s, T::ZERO);
            fill(scratch);
            for (o, &v) in out.iter_mut().zip(scratch.iter()) {
                *o += w * v;
            }
        }
    }
}

/// Soft Dice loss: one minus the smoothed Dice coefficient of the probabilities and the mask,
/// per sample and class, then averaged.
///
/// # Definition
/// With $P$ = activation(`input`) and $G$ the one-hot target, for each sample $n$ and kept
/// class $c$ (sums over the spatial positions; also over the batch with `batch`):
/// $$\ell_{nc} = 1 - \frac{2\sum PG + s_{nr}}{\sum P + \sum G + s_{dr}}$$
/// ($\sum P^2 + \sum G^2$ in the denominator with `squared`). `Mean` averages the
/// $N \cdot C'$ values ($C'$ without `batch`), `Sum` adds them; `per_element` returns them,
/// `[N, C']` (`[C']` with `batch`), $C'$ the classes kept.
///
/// # Gradient
/// $$\frac{\partial \ell}{\partial P} = \frac{r - 2G}{D}\quad(r = \text{the ratio},\ D = \text{its denominator};\ 2P\,r/D - 2G/D \text{ with } P^2)$$
/// chained through the activation inside the same pass: $P(1-P)$ for sigmoid, $P_k(d_k -
/// \sum_j P_j d_j)$ for softmax (over all C classes, also when class 0 is left out).
///
/// # Numerical stability
/// The sums accumulate in f64 (8 lanes per row, an order fixed by the shape); the softmax
/// takes the maximum out first. Both masks empty give $1 - s_{nr}/s_{dr} = 0$ with finite
/// gradients; an empty target against a full prediction gives $\approx 1$. With
/// `smooth_dr = 0` and both masks empty the ratio is 0/0: defined as a perfect match (loss 0,
/// gradient 0).
///
/// # Parameters
/// | name | default | range |
/// |---|---|---|
/// | `activation` | `softmax` | `sigmoid`, `softmax` (C ≥ 2), `none` |
/// | `include_background` | `true` | |
/// | `batch` | `false` | |
/// | `smooth_nr`, `smooth_dr` | 1e-5 | ≥ 0 |
/// | `squared` | `false` | |
///
/// # Deliberate differences
/// The default activation is softmax (losskit takes logits); MONAI's `DiceLoss` applies none
/// unless asked. Targets must be 0 or 1 (MONAI accepts anything).
///
/// # Errors
/// An `input` that is not `[N, C, *spatial]` with 1–3 spatial dimensions, softmax with C = 1
/// ([`Error::BadShape`]); a target of neither `input`'s shape nor `[N, *spatial]`
/// ([`Error::ShapeMismatch`]); a mask entry other than 0 or 1, a class index outside
/// `[0, C)`, a non-finite result from a non-finite `input` ([`Error::InvalidValue`]); `Mean`
/// over no values ([`Error::EmptyMean`]); a buffer of the wrong length.
///
/// # Example
/// ```
/// use losskit::{Activation, Dice, Reduction, SegInputs, Tensor};
/// // One sample, one channel of 4 pixels, probabilities given.
/// let p = [0.9f64, 0.8, 0.1, 0.0];
/// let g = [1.0f64, 1.0, 0.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 4])?, Tensor::new(&g, &[1, 1, 4])?);
/// let dice = Dice::default().activation(Activation::None);
/// let v = dice.value(&inputs, Reduction::Mean)?;
/// let want = 1.0 - (2.0 * 1.7 + 1e-5) / (1.8 + 2.0 + 1e-5);
/// assert!((v - want).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// F. Milletari et al., "V-Net", 3DV 2016. MONAI `DiceLoss` (the numbers matched, with
/// `sigmoid`/`softmax`, `include_background`, `batch`, `squared_pred`, `smooth_nr`,
/// `smooth_dr`, `to_onehot_y` for index targets).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dice {
    opts: Opts,
    squared: bool,
}

impl Default for Dice {
    fn default() -> Self {
        Dice {
            opts: Opts::DEFAULT,
            squared: false,
        }
    }
}

const DICE: &str = "dice";
overlap_options!(Dice, DICE);
overlap_api!(
    Dice,
    DICE,
    true,
    "The per-sample, per-class losses, `[N, C']` (`[C']` with `batch`), row-major into `out`."
);

impl Dice {
    /// ΣP² and ΣG² in the denominator instead of ΣP and ΣG (default `false`).
    #[must_use]
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    fn score(&self) -> Ratio {
        self.score_with(&self.opts)
    }

    /// Dice's ratio with the smoothing of `o` (for the combined losses).
    pub(crate) fn score_with(&self, o: &Opts) -> Ratio {
        Ratio {
            a: 2.0,
            bp: 1.0,
            bg: 1.0,
            bi: 0.0,
            nr: o.smooth_nr,
            dr: o.smooth_dr,
            squared: self.squared,
            gamma: None,
        }
    }
}

/// Soft Jaccard (IoU) loss, with MONAI's placement of the smoothing.
///
/// # Definition
/// Per sample and kept class (see [`Dice`] for $P$, $G$, `batch` and the reductions):
/// $$\ell_{nc} = 1 - \frac{2\sum PG + s_{nr}}{2\left(\sum P + \sum G - \sum PG\right) + s_{dr}}$$
/// ($\sum P^2$, $\sum G^2$ with `squared`). Without smoothing this is
/// $1 - \sum PG / (\sum P + \sum G - \sum PG)$, segmentation-models-pytorch's `JaccardLoss`.
///
/// # Gradient
/// With $r$ the ratio and $D$ its denominator: $\partial\ell/\partial P = (2r - 2G(1 + r))/D$
/// (the $\sum P$ term times $2P$ with `squared`), through the activation as in [`Dice`].
///
/// # Parameters, errors, deliberate differences
/// As [`Dice`].
///
/// # Example
/// ```
/// use losskit::{Activation, Jaccard, Reduction, SegInputs, Tensor};
/// let p = [1.0f64, 0.5, 0.0];
/// let g = [1.0f64, 0.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 3])?, Tensor::new(&g, &[1, 1, 3])?);
/// let j = Jaccard::default().activation(Activation::None).smooth_nr(0.0)?.smooth_dr(0.0)?;
/// assert!((j.value(&inputs, Reduction::Mean)? - (1.0 - 1.0 / 1.5)).abs() < 1e-15);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// MONAI `DiceLoss(jaccard=True)` (the numbers matched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Jaccard {
    opts: Opts,
    squared: bool,
}

impl Default for Jaccard {
    fn default() -> Self {
        Jaccard {
            opts: Opts::DEFAULT,
            squared: false,
        }
    }
}

const JACCARD: &str = "jaccard";
overlap_options!(Jaccard, JACCARD);
overlap_api!(
    Jaccard,
    JACCARD,
    true,
    "The per-sample, per-class losses, `[N, C']` (`[C']` with `batch`), row-major into `out`."
);

impl Jaccard {
    /// ΣP² and ΣG² instead of ΣP and ΣG (default `false`).
    #[must_use]
    pub fn squared(mut self, squared: bool) -> Self {
        self.squared = squared;
        self
    }

    fn score(&self) -> Ratio {
        Ratio {
            a: 2.0,
            bp: 2.0,
            bg: 2.0,
            bi: -2.0,
            nr: self.opts.smooth_nr,
            dr: self.opts.smooth_dr,
            squared: self.squared,
            gamma: None,
        }
    }
}

fn check_weight(loss: &'static str, param: &'static str, v: f64) -> Result<f64> {
    if !(v >= 0.0 && v.is_finite()) {
        return Err(Error::InvalidParam {
            loss,
            param,
            value: v,
            expected: ">= 0 and finite",
        });
    }
    Ok(v)
}

/// The `alpha` and `beta` setters of the Tversky losses.
macro_rules! tversky_weights {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// The false-positive weight α (default 0.5).
            ///
            /// # Errors
            /// [`Error::InvalidParam`] unless finite and ≥ 0.
            pub fn alpha(mut self, alpha: f64) -> Result<Self> {
                self.alpha = check_weight($name, "alpha", alpha)?;
                Ok(self)
            }

            /// The false-negative weight β (default 0.5).
            ///
            /// # Errors
            /// [`Error::InvalidParam`] unless finite and ≥ 0.
            pub fn beta(mut self, beta: f64) -> Result<Self> {
                self.beta = check_weight($name, "beta", beta)?;
                Ok(self)
            }
        }
    };
}

/// Tversky loss: Dice with separate weights on false positives (α) and false negatives (β).
///
/// # Definition
/// Per sample and kept class (see [`Dice`] for $P$, $G$, `batch` and the reductions):
/// $$\ell_{nc} = 1 - \frac{\sum PG + s_{nr}}{\sum PG + \alpha\sum P(1-G) + \beta\sum(1-P)G + s_{dr}}$$
/// α = β = ½ is [`Dice`]; α = β = 1 is [`Jaccard`] without its factor 2 on the smoothing.
/// Raise β above α to penalise missed foreground more (recall), as for small lesions.
///
/// # Gradient
/// With $r$ the ratio and $D$ its denominator:
/// $\partial\ell/\partial P = \big(r\alpha - G(1 - r(1 - \alpha - \beta))\big)/D$, through the
/// activation.
///
/// # Parameters
/// As [`Dice`] (without `squared`), and `alpha` (0.5, ≥ 0: the false-positive weight), `beta`
/// (0.5, ≥ 0: the false-negative weight).
///
/// # Errors
/// As [`Dice`]; [`Error::InvalidParam`] for a negative or non-finite α or β.
///
/// # Example
/// ```
/// use losskit::{Activation, Dice, Reduction, SegInputs, Tensor, Tversky};
/// let p = [0.9f64, 0.2, 0.6, 0.1];
/// let g = [1.0f64, 0.0, 1.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 4])?, Tensor::new(&g, &[1, 1, 4])?);
/// let t = Tversky::default().activation(Activation::None).value(&inputs, Reduction::Mean)?;
/// let d = Dice::default().activation(Activation::None).value(&inputs, Reduction::Mean)?;
/// assert!((t - d).abs() < 1e-6); // α = β = ½ (only the smoothing's scale differs)
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// S. S. M. Salehi et al., "Tversky loss function for image segmentation using 3D fully
/// convolutional deep networks", MLMI 2017. MONAI `TverskyLoss` (the numbers matched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tversky {
    opts: Opts,
    alpha: f64,
    beta: f64,
}

impl Default for Tversky {
    fn default() -> Self {
        Tversky {
            opts: Opts::DEFAULT,
            alpha: 0.5,
            beta: 0.5,
        }
    }
}

const TVERSKY: &str = "tversky";
overlap_options!(Tversky, TVERSKY);
overlap_api!(
    Tversky,
    TVERSKY,
    true,
    "The per-sample, per-class losses, `[N, C']` (`[C']` with `batch`), row-major into `out`."
);

tversky_weights!(Tversky, TVERSKY);

impl Tversky {
    fn ratio(&self, gamma: Option<f64>) -> Ratio {
        Ratio {
            a: 1.0,
            bp: self.alpha,
            bg: self.beta,
            bi: 1.0 - self.alpha - self.beta,
            nr: self.opts.smooth_nr,
            dr: self.opts.smooth_dr,
            squared: false,
            gamma,
        }
    }

    fn score(&self) -> Ratio {
        self.ratio(None)
    }
}

/// Focal Tversky loss: the Tversky loss of each sample and class raised to γ, then averaged.
///
/// # Definition
/// $\ell_{nc} = t_{nc}^{\gamma}$ with $t_{nc}$ the [`Tversky`] loss of sample $n$ and class
/// $c$ (of class $c$ over the batch with `batch`); γ < 1 raises the loss of the classes that
/// are already well segmented less than that of the hard ones, γ > 1 the other way round.
///
/// # Gradient
/// $\gamma t^{\gamma-1}\,\partial t/\partial P$; at $t = 0$ (a perfect match) the subgradient
/// 0, since $t^{\gamma-1}$ is infinite there for γ < 1. $t$ is clamped at 0 (it is negative
/// only for probabilities outside [0, 1] with `activation=none`).
///
/// # Parameters
/// As [`Tversky`], and `gamma` (0.75, > 0).
///
/// # Errors
/// As [`Tversky`]; [`Error::InvalidParam`] for γ not finite and > 0.
///
/// # Example
/// ```
/// use losskit::{Activation, FocalTversky, Reduction, SegInputs, Tensor, Tversky};
/// let p = [0.9f64, 0.2, 0.6, 0.1];
/// let g = [1.0f64, 0.0, 1.0, 0.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 1, 4])?, Tensor::new(&g, &[1, 1, 4])?);
/// let t = Tversky::default().activation(Activation::None).value(&inputs, Reduction::Mean)?;
/// let f = FocalTversky::default().activation(Activation::None).value(&inputs, Reduction::Mean)?;
/// assert!((f - t.powf(0.75)).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// N. Abraham and N. M. Khan, "A Novel Focal Tversky Loss Function with Improved Attention
/// U-Net for Lesion Segmentation", ISBI 2019. The per-class Tversky values are MONAI
/// `TverskyLoss(reduction="none")`'s; the reference cases raise them to γ and average.
/// segmentation-models-pytorch's `TverskyLoss(gamma)` raises the class *mean* instead.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FocalTversky {
    opts: Opts,
    alpha: f64,
    beta: f64,
    gamma: f64,
}

impl Default for FocalTversky {
    fn default() -> Self {
        FocalTversky {
            opts: Opts::DEFAULT,
            alpha: 0.5,
            beta: 0.5,
            gamma: 0.75,
        }
    }
}

const FOCAL_TVERSKY: &str = "focal_tversky";
overlap_options!(FocalTversky, FOCAL_TVERSKY);
overlap_api!(
    FocalTversky,
    FOCAL_TVERSKY,
    true,
    "The per-sample, per-class losses, `[N, C']` (`[C']` with `batch`), row-major into `out`."
);

tversky_weights!(FocalTversky, FOCAL_TVERSKY);

impl FocalTversky {
    /// The exponent γ (default 0.75).
    ///
    /// # Errors
    /// [`Error::InvalidParam`] unless finite and > 0.
    pub fn gamma(mut self, gamma: f64) -> Result<Self> {
        if !(gamma > 0.0 && gamma.is_finite()) {
            return Err(Error::InvalidParam {
                loss: FOCAL_TVERSKY,
                param: "gamma",
                value: gamma,
                expected: "> 0 and finite",
            });
        }
        self.gamma = gamma;
        Ok(self)
    }

    fn score(&self) -> Ratio {
        Tversky {
            opts: self.opts,
            alpha: self.alpha,
            beta: self.beta,
        }
        .ratio(Some(self.gamma))
    }
}

/// Generalized Dice loss (Sudre et al.): one Dice ratio over all kept classes, each class
/// weighted by the inverse square of its target volume.
///
/// # Definition
/// Per sample (over the batch with `batch`), with $w_c = 1/(\sum G_c)^2$:
/// $$\ell_n = 1 - \frac{2\sum_c w_c \sum PG + s_{nr}}{\sum_c w_c\left(\sum P + \sum G\right) + s_{dr}}$$
/// A class absent from the target (infinite $w_c$) takes the largest finite weight of the
/// same sample (of the batch with `batch`), and every weight is 0 when every class is absent
/// (the loss is then $1 - s_{nr}/s_{dr}$): MONAI's rule. `per_element` gives `[N]` (`[1]`
/// with `batch`); `Mean` averages those.
///
/// # Gradient
/// $\partial\ell/\partial P_c = w_c\,(r - 2G_c)/D$, $r$ the ratio and $D$ its denominator; the
/// weights depend on the target only.
///
/// # Parameters
/// `activation`, `include_background`, `batch`, `smooth_nr`, `smooth_dr` as [`Dice`].
///
/// # Deliberate differences
/// MONAI rounds the weights to float32 (`ground_o.float()`) also in a float64 computation;
/// losskit computes them in f64 (the f64 reference cases use class volumes whose weights
/// float32 holds exactly, and one case with a tolerance for that rounding).
///
/// # Errors
/// As [`Dice`].
///
/// # Example
/// ```
/// use losskit::{Activation, GeneralizedDice, Reduction, SegInputs, Tensor};
/// // Two classes over 4 pixels: class 1 is the rare one, and is missed.
/// let p = [1.0f64, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
/// let g = [1.0f64, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0];
/// let inputs = SegInputs::mask(Tensor::new(&p, &[1, 2, 4])?, Tensor::new(&g, &[1, 2, 4])?);
/// let gdl = GeneralizedDice::default().activation(Activation::None).smooth_nr(0.0)?.smooth_dr(0.0)?;
/// let (w0, w1) = (1.0 / 9.0, 1.0);
/// let want = 1.0 - 2.0 * w0 * 3.0 / (w0 * 7.0 + w1 * 1.0);
/// assert!((gdl.value(&inputs, Reduction::Mean)? - want).abs() < 1e-12);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// C. H. Sudre et al., "Generalised Dice overlap as a deep learning loss function for highly
/// unbalanced segmentations", DLMIA 2017. MONAI `GeneralizedDiceLoss(w_type="square")`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneralizedDice {
    opts: Opts,
}

impl Default for GeneralizedDice {
    fn default() -> Self {
        GeneralizedDice {
            opts: Opts::DEFAULT,
        }
    }
}

const GENERALIZED_DICE: &str = "generalized_dice";
overlap_options!(GeneralizedDice, GENERALIZED_DICE);
overlap_api!(
    GeneralizedDice,
    GENERALIZED_DICE,
    false,
    "The per-sample losses, `[N]` (`[1]` with `batch`), into `out`."
);

impl GeneralizedDice {
    fn score(&self) -> Gdl {
        Gdl {
            nr: self.opts.smooth_nr,
            dr: self.opts.smooth_dr,
        }
    }
}
