//! The Lovász losses (Berman et al. 2018): the Lovász extension of the Jaccard loss, for a
//! binary mask on logits (hinge) and for one class per position on the softmax.

use crate::error::{check_buffer, Error, Result};
use crate::real::Real;
use crate::reduction::Reduction;

use super::{
    check_target, divisor, layout, no_distance, non_finite, with_target, Activation, Layout,
    SegInputs, Target,
};

const HINGE: &str = "lovasz_hinge";
const SOFTMAX: &str = "lovasz_softmax";

/// The gradient of the Lovász extension of the Jaccard loss with respect to the sorted errors
/// (Berman et al., Alg. 1): `w_k = J_k − J_{k−1}`, `J_k = 1 − |G \ S_k| … ` computed as
/// segmentation-models-pytorch does, in the compute type: `J_k = 1 − (Σg − cumsum(g)_k) /
/// (Σg + cumsum(1 − g)_k)`.
fn lovasz_weights<T: Real>(fg_sorted: impl Iterator<Item = bool>, gts: usize, w: &mut Vec<T>) {
    w.clear();
    let total = T::from_f64(gts as f64);
    let (mut cg, mut cn) = (0usize, 0usize);
    let mut prev = T::ZERO;
    for (k, f) in fg_sorted.enumerate() {
        if f {
            cg += 1;
        } else {
            cn += 1;
        }
        let inter = total - T::from_f64(cg as f64);
        let union = total + T::from_f64(cn as f64);
        let j = T::ONE - inter / union;
        w.push(if k == 0 { j } else { j - prev });
        prev = j;
    }
}

/// The order of `e` from the largest to the smallest, ties by position (a stable sort).
fn descending<T: Real>(e: &[T], order: &mut Vec<u128>) {
    order.clear();
    order.extend(e.iter().enumerate().map(|(i, v)| {
        // Flip the bits of a float so that unsigned order is numeric order, then negate for
        // a descending sort; the index breaks ties.
        let b = v.to_f64().to_bits();
        let key = if b >> 63 == 1 { !b } else { b | (1 << 63) };
        (u128::from(!key) << 64) | i as u128
    }));
    order.sort_unstable();
}

#[inline(always)]
fn index_of(o: u128) -> usize {
    (o & u128::from(u64::MAX)) as usize
}

/// Infinite logits are refused (the loss of an infinite margin is not a number a user can
/// act on); a NaN is not refused: it propagates (see [`poison`]), as in every family.
fn check_finite<T: Real>(loss: &'static str, inputs: &SegInputs<'_, T>) -> Result<()> {
    if inputs
        .input()
        .data()
        .iter()
        .any(|v| !v.is_finite() && !v.is_nan())
    {
        return Err(non_finite(loss, &inputs.input()));
    }
    Ok(())
}

/// NaN propagation: a group whose logits hold a NaN gets a NaN loss and NaN gradients (the
/// sort and the hinge's `e > 0` would otherwise drop the NaN and return a finite number).
fn poison<T: Real>(x: &[T], vals: &mut [f64], grad: Option<&mut [T]>) {
    if vals.is_empty() || x.is_empty() || !x.iter().any(|v| v.is_nan()) {
        return;
    }
    let size = x.len() / vals.len();
    let mut grad = grad;
    for (gi, chunk) in x.chunks(size.max(1)).enumerate().take(vals.len()) {
        if chunk.iter().any(|v| v.is_nan()) {
            vals[gi] = f64::NAN;
            if let Some(g) = grad.as_deref_mut() {
                g[gi * size..(gi + 1) * size].fill(T::from_f64(f64::NAN));
            }
        }
    }
}

/// How many groups a `mean` divides by: none when the batch holds no element (an empty
/// batch has no loss to average, even as one group over the whole batch).
fn groups_counted(groups: usize, empty: bool) -> usize {
    if empty {
        0
    } else {
        groups
    }
}

/// The reduced value and the per-group values.
fn reduce(loss: &'static str, vals: &[f64], mean: bool, empty: bool) -> Result<f64> {
    let d = divisor(loss, mean, groups_counted(vals.len(), empty))?;
    Ok(vals.iter().sum::<f64>() / d)
}

macro_rules! lovasz_api {
    ($ty:ident, $name:expr) => {
        impl $ty {
            /// `true`: one loss per image, averaged by `Mean`; `false` (default): one loss over
            /// the whole batch.
            #[must_use]
            pub fn per_image(mut self, per_image: bool) -> Self {
                self.per_image = per_image;
                self
            }

            /// The loss reduced with `reduction` (over the per-image losses with
            /// `per_image`; of the single batch loss otherwise).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                let vals = self.run(inputs, None)?;
                Ok(T::from_f64(reduce(
                    $name,
                    &vals,
                    reduction == Reduction::Mean,
                    inputs.input().is_empty(),
                )?))
            }

            /// The loss and its gradient with respect to `input` (into `grad`, as long as
            /// `input`; the reduction's scale included).
            ///
            /// # Errors
            /// See the type's docs.
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
                let lay = layout($name, &inputs.input())?;
                let groups = if self.per_image { lay.n } else { 1 };
                let d = divisor(
                    $name,
                    reduction == Reduction::Mean,
                    groups_counted(groups, inputs.input().is_empty()),
                )?;
                let vals = self.run(inputs, Some((grad, 1.0 / d)))?;
                Ok(T::from_f64(reduce(
                    $name,
                    &vals,
                    reduction == Reduction::Mean,
                    inputs.input().is_empty(),
                )?))
            }

            /// The losses, `[N]` with `per_image`, `[1]` without, into `out`.
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &SegInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let vals = self.run(inputs, None)?;
                check_buffer($name, "per-element output", out.len(), vals.len())?;
                for (o, v) in out.iter_mut().zip(&vals) {
                    *o = T::from_f64(*v);
                }
                Ok(())
            }
        }
    };
}

/// Binary Lovász hinge loss: the Lovász extension of the Jaccard loss applied to hinge
/// errors of logits.
///
/// # Definition
/// For the elements $i$ of a group (the whole batch, or one image with `per_image`), with
/// logit $x_i$, label $g_i \in \{0, 1\}$ and sign $s_i = 2g_i - 1$, the errors $e_i = 1 -
/// x_i s_i$ are sorted in decreasing order, $e_{\pi(1)} \ge e_{\pi(2)} \ge \dots$, and
/// $$\ell = \sum_k \max(e_{\pi(k)}, 0)\,\big(J_k - J_{k-1}\big),\qquad J_k = 1 - \frac{|G| - |G \cap \pi(1..k)|}{|G| + |\pi(1..k) \setminus G|}$$
/// ($J_0 = 0$): the Lovász extension of the Jaccard loss $1 - |G \cap S|/|G \cup S|$.
///
/// # Gradient
/// $\partial\ell/\partial x_i = -s_i\,(J_k - J_{k-1})$ for $i = \pi(k)$ with $e_i > 0$, 0
/// elsewhere (the hinge's subgradient 0 at $e_i = 0$, as PyTorch's `relu`). Ties are ordered
/// by position (a stable sort); the value does not depend on their order, the gradient does,
/// and PyTorch's default sort leaves it unspecified.
///
/// # Parameters
/// `per_image` (default `false`).
///
/// # Errors
/// An `input` that is not `[N, 1, *spatial]` ([`Error::BadShape`]); a target that is not a
/// 0/1 mask of `input`'s shape; a non-finite logit ([`Error::InvalidValue`]).
///
/// # Example
/// ```
/// use losskit::{LovaszHinge, Reduction, SegInputs, Tensor};
/// let x = [3.0f32, -2.0, 0.5, -0.5];
/// let g = [1.0f32, 0.0, 0.0, 1.0];
/// let inputs = SegInputs::mask(Tensor::new(&x, &[1, 1, 4])?, Tensor::new(&g, &[1, 1, 4])?);
/// let v = LovaszHinge::default().value(&inputs, Reduction::Mean)?;
/// assert!(v > 0.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// M. Berman, A. Rannen Triki and M. B. Blaschko, "The Lovász-Softmax loss", CVPR 2018.
/// segmentation-models-pytorch `LovaszLoss("binary", per_image)` (the numbers matched).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LovaszHinge {
    per_image: bool,
}

lovasz_api!(LovaszHinge, HINGE);

impl LovaszHinge {
    fn run<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        grad: Option<(&mut [T], f64)>,
    ) -> Result<Vec<f64>> {
        no_distance(HINGE, inputs)?;
        let input = inputs.input();
        let lay = layout(HINGE, &input)?;
        if lay.c != 1 {
            return Err(Error::BadShape {
                loss: HINGE,
                arg: "input",
                actual: input.dims().to_vec(),
                expected: "`[N, 1, *spatial]`: one logit per position (binary)",
            });
        }
        let gt = check_target(HINGE, &input, &lay, inputs.target())?;
        check_finite(HINGE, inputs)?;
        let mut grad = grad;
        let mut vals = with_target!(gt, lay, |g| self.kernel(
            input.data(),
            &lay,
            &g,
            grad.as_mut().map(|(b, sc)| (&mut **b, *sc))
        ))?;
        poison(input.data(), &mut vals, grad.map(|(b, _)| b));
        Ok(vals)
    }

    fn kernel<T: Real, G: Target<T>>(
        &self,
        x: &[T],
        lay: &Layout,
        g: &G,
        mut grad: Option<(&mut [T], f64)>,
    ) -> Result<Vec<f64>> {
        let (group, groups) = if self.per_image {
            (lay.s, lay.n)
        } else {
            (lay.n * lay.s, 1)
        };
        let mut vals = Vec::with_capacity(groups);
        let (mut e, mut order, mut w) = (Vec::new(), Vec::new(), Vec::<T>::new());
        let mut fg = Vec::new();
        for gi in 0..groups {
            let base = gi * group;
            let at = |i: usize| {
                let j = base + i;
                g.at(j / lay.s, 0, j % lay.s) == T::ONE
            };
            fg.clear();
            fg.extend((0..group).map(at));
            e.clear();
            e.extend((0..group).map(|i| {
                let sign = if fg[i] { T::ONE } else { -T::ONE };
                T::ONE - x[base + i] * sign
            }));
            descending(&e, &mut order);
            let gts = fg.iter().filter(|&&f| f).count();
            lovasz_weights(order.iter().map(|&o| fg[index_of(o)]), gts, &mut w);
            let mut sum = 0.0;
            for (k, &o) in order.iter().enumerate() {
                let ek = e[index_of(o)];
                if ek > T::ZERO {
                    sum += ek.to_f64() * w[k].to_f64();
                }
            }
            vals.push(sum);
            if let Some((buf, scale)) = grad.as_mut() {
                let sc = T::from_f64(*scale);
                for (k, &o) in order.iter().enumerate() {
                    let i = index_of(o);
                    buf[base + i] = if e[i] > T::ZERO {
                        let sign = if fg[i] { T::ONE } else { -T::ONE };
                        -sign * w[k] * sc
                    } else {
                        T::ZERO
                    };
                }
            }
        }
        Ok(vals)
    }
}

/// Multiclass Lovász-softmax loss: the Lovász extension of the Jaccard loss of each class,
/// on the softmax probabilities, averaged over the classes present in the target.
///
/// # Definition
/// In a group (the whole batch, or one image with `per_image`), for every class $c$ present
/// in the group's target, with $P = \mathrm{softmax}(x)$ over the class dimension and the
/// errors $e_i = |[y_i = c] - P_{ci}|$ sorted in decreasing order:
/// $$\ell_c = \sum_k e_{\pi(k)}\big(J_k - J_{k-1}\big)$$
/// ($J_k$ as in [`LovaszHinge`], for the foreground of class $c$), and the group's loss is
/// the mean of $\ell_c$ over the present classes (0 when none is present).
///
/// # Gradient
/// $\partial\ell_c/\partial P_{ci} = \mathrm{sign}(P_{ci} - [y_i = c])\,(J_k - J_{k-1})$ for
/// $i = \pi(k)$ (0 where the error is exactly 0, as PyTorch's `abs`), divided by the number
/// of present classes, then through the softmax. Ties are ordered by position (see
/// [`LovaszHinge`]).
///
/// # Parameters
/// `per_image` (default `false`).
///
/// # Errors
/// An `input` that is not `[N, C, *spatial]` with C ≥ 2 ([`Error::BadShape`]); the target
/// errors of [`Dice`](crate::Dice) (class indices, or a one-hot mask); a non-finite logit.
///
/// # Example
/// ```
/// use losskit::{LovaszSoftmax, Reduction, SegInputs, Tensor};
/// let x = [2.0f64, -1.0, 0.5, -3.0, 0.0, 1.0, 0.0, 2.0]; // [1, 2, 4]
/// let y = [0i64, 1, 0, 1];
/// let inputs = SegInputs::indices(Tensor::new(&x, &[1, 2, 4])?, Tensor::new(&y, &[1, 4])?);
/// let v = LovaszSoftmax::default().value(&inputs, Reduction::Mean)?;
/// assert!(v > 0.0 && v < 1.0);
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Berman et al. 2018. segmentation-models-pytorch `LovaszLoss("multiclass", per_image)`
/// (the numbers matched; smp's `classes="present"`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LovaszSoftmax {
    per_image: bool,
}

lovasz_api!(LovaszSoftmax, SOFTMAX);

impl LovaszSoftmax {
    fn run<T: Real>(
        &self,
        inputs: &SegInputs<'_, T>,
        grad: Option<(&mut [T], f64)>,
    ) -> Result<Vec<f64>> {
        no_distance(SOFTMAX, inputs)?;
        let input = inputs.input();
        let lay = layout(SOFTMAX, &input)?;
        Activation::Softmax.check(SOFTMAX, lay.c, input.dims())?;
        let gt = check_target(SOFTMAX, &input, &lay, inputs.target())?;
        check_finite(SOFTMAX, inputs)?;
        let mut grad = grad;
        let mut vals = with_target!(gt, lay, |g| self.kernel(
            input.data(),
            &lay,
            &g,
            grad.as_mut().map(|(b, sc)| (&mut **b, *sc))
        ))?;
        poison(input.data(), &mut vals, grad.map(|(b, _)| b));
        Ok(vals)
    }

    fn kernel<T: Real, G: Target<T>>(
        &self,
        x: &[T],
        lay: &Layout,
        g: &G,
        mut grad: Option<(&mut [T], f64)>,
    ) -> Result<Vec<f64>> {
        let (n, c, s) = (lay.n, lay.c, lay.s);
        let (per, groups) = if self.per_image { (1, n) } else { (n, 1) };
        let m = per * s;
        let mut vals = Vec::with_capacity(groups);
        let mut probs = vec![T::ZERO; per * c * s];
        let mut dp = vec![T::ZERO; if grad.is_some() { per * c * s } else { 0 }];
        let (mut e, mut order, mut w, mut fg) =
            (Vec::new(), Vec::new(), Vec::<T>::new(), Vec::new());
        for gi in 0..groups {
            let n0 = gi * per;
            for j in 0..per {
                let xs = &x[(n0 + j) * c * s..(n0 + j + 1) * c * s];
                Activation::Softmax.forward(xs, c, s, &mut probs[j * c * s..(j + 1) * c * s]);
            }
            dp.fill(T::ZERO);
            // (position i of the group) → (sample, position).
            let loc = |i: usize| (i / s, i % s);
            let mut present = 0usize;
            let mut sum = 0.0;
            for k in 0..c {
                fg.clear();
                fg.extend((0..m).map(|i| {
                    let (j, p) = loc(i);
                    g.at(n0 + j, k, p) == T::ONE
                }));
                let gts = fg.iter().filter(|&&f| f).count();
                if gts == 0 {
                    continue;
                }
                present += 1;
                e.clear();
                e.extend((0..m).map(|i| {
                    let (j, p) = loc(i);
                    let f = if fg[i] { T::ONE } else { T::ZERO };
                    (f - probs[(j * c + k) * s + p]).abs()
                }));
                descending(&e, &mut order);
                lovasz_weights(order.iter().map(|&o| fg[index_of(o)]), gts, &mut w);
                let mut lk = 0.0;
                for (r, &o) in order.iter().enumerate() {
                    lk += e[index_of(o)].to_f64() * w[r].to_f64();
                }
                sum += lk;
                if grad.is_some() {
                    for (r, &o) in order.iter().enumerate() {
                        let i = index_of(o);
                        let (j, p) = loc(i);
                        let pv = probs[(j * c + k) * s + p];
                        let f = if fg[i] { T::ONE } else { T::ZERO };
                        let sign = if pv > f {
                            T::ONE
                        } else if pv < f {
                            -T::ONE
                        } else {
                            T::ZERO
                        };
                        dp[(j * c + k) * s + p] = sign * w[r];
                    }
                }
            }
            let v = if present == 0 {
                0.0
            } else {
                sum / present as f64
            };
            vals.push(v);
            if let Some((buf, scale)) = grad.as_mut() {
                let sc = if present == 0 {
                    T::ZERO
                } else {
                    T::from_f64(*scale / present as f64)
                };
                for j in 0..per {
                    let pr = &probs[j * c * s..(j + 1) * c * s];
                    let d = &dp[j * c * s..(j + 1) * c * s];
                    let out = &mut buf[(n0 + j) * c * s..(n0 + j + 1) * c * s];
                    for (o, &v) in out.iter_mut().zip(d) {
                        *o = v * sc;
                    }
                    Activation::Softmax.backward(pr, c, s, out);
                }
            }
        }
        Ok(vals)
    }
}
