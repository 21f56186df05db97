//! Listwise ranking losses over rows of scores: [`ListNet`] (softmax cross-entropy between
//! the relevance and the score distributions) and [`ListMle`] (the Plackett–Luce likelihood
//! of the order the relevance gives).

use core::ops::Range;

use crate::error::{check_buffer, Error, Result};
use crate::eval::{dispatch, Kept, Vjp};
use crate::evaluator::{Call, Out};
use crate::numerics::{log_add_exp, rows_fold_mut};
use crate::real::Real;
use crate::reduction::Reduction;
use crate::tensor::Tensor;

/// Scores `input` `[N, L]` (one list per row), relevance `target` of the same shape and an
/// optional `mask` (`true`: the item belongs to the list; `false`: padding): the inputs of
/// [`ListNet`] and [`ListMle`].
///
/// ```
/// use losskit::{ListInputs, Tensor};
/// let scores = [0.5f32, 1.0, -1.0, 2.0, 0.0, 0.0];
/// let relevance = [1.0f32, 2.0, 0.0, 3.0, 1.0, 0.0];
/// let mask = [true, true, true, true, true, false]; // the second list has two items
/// let inputs = ListInputs::new(Tensor::new(&scores, &[2, 3])?, Tensor::new(&relevance, &[2, 3])?)
///     .with_mask(Tensor::new(&mask, &[2, 3])?);
/// assert_eq!(inputs.input().dims(), &[2, 3]);
/// # Ok::<(), losskit::Error>(())
/// ```
#[derive(Debug)]
pub struct ListInputs<'a, T> {
    input: Tensor<'a, T>,
    target: Tensor<'a, T>,
    mask: Option<Tensor<'a, bool>>,
}

impl<T> Clone for ListInputs<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ListInputs<'_, T> {}

impl<'a, T> ListInputs<'a, T> {
    /// Scores and relevance, every item in its list (shapes are checked by the loss).
    pub fn new(input: impl Into<Tensor<'a, T>>, target: impl Into<Tensor<'a, T>>) -> Self {
        ListInputs {
            input: input.into(),
            target: target.into(),
            mask: None,
        }
    }
    /// With a mask of the items that belong to their list (`false`: padding).
    pub fn with_mask(self, mask: impl Into<Tensor<'a, bool>>) -> Self {
        ListInputs {
            mask: Some(mask.into()),
            ..self
        }
    }
    /// The scores.
    pub fn input(&self) -> Tensor<'a, T> {
        self.input
    }
    /// The relevance.
    pub fn target(&self) -> Tensor<'a, T> {
        self.target
    }
    /// The mask, if any.
    pub fn mask(&self) -> Option<Tensor<'a, bool>> {
        self.mask
    }
}

/// The checked `(N, L)` of a list loss's inputs.
fn list_dims<T>(loss: &'static str, inputs: &ListInputs<'_, T>) -> Result<(usize, usize)> {
    let [n, l] = *inputs.input.dims() else {
        return Err(Error::BadShape {
            loss,
            arg: "input",
            actual: inputs.input.dims().to_vec(),
            expected: "2 dimensions `[N, L]` (one list of L scores per row)",
        });
    };
    let same = |arg, dims: &[usize], because| {
        if dims != [n, l] {
            return Err(Error::ShapeMismatch {
                loss,
                arg,
                actual: dims.to_vec(),
                expected: vec![n, l],
                because,
            });
        }
        Ok(())
    };
    same("target", inputs.target.dims(), "one relevance per item")?;
    if let Some(m) = &inputs.mask {
        same("mask", m.dims(), "one flag per item")?;
    }
    Ok((n, l))
}

/// A list loss's row kernel: the loss of one list (`None`: every item masked) and, when `g`
/// is not empty, its gradient times `scale` written there (0 at masked items).
trait ListKernel: Sync {
    const NAME: &'static str;
    fn row<T: Real>(
        &self,
        s: &[T],
        t: &[T],
        m: Option<&[bool]>,
        scale: f64,
        g: &mut [T],
        scratch: &mut Scratch,
    ) -> Option<f64>;
}

/// Per-chunk work space of the row kernels (no allocation per row).
#[derive(Default)]
struct Scratch {
    idx: Vec<usize>,
    a: Vec<f64>,
}

/// The shared driver of [`ListNet`] and [`ListMle`]: `value` (both buffers empty),
/// `value_and_grad` (`g` of `N·L`), `per_element` (`per` of `N`, `reduction` `None`).
fn run<T: Real, K: ListKernel>(
    k: &K,
    inputs: &ListInputs<'_, T>,
    reduction: Option<Reduction>,
    per: &mut [T],
    g: &mut [T],
) -> Result<T> {
    let (n, l) = list_dims(K::NAME, inputs)?;
    let (s, t) = (inputs.input.data(), inputs.target.data());
    let mask = inputs.mask.map(|m| m.data());
    // The lists with at least one item: what `Mean` divides by (optax's masked mean).
    let lists = match mask {
        Some(m) if l > 0 => m.chunks(l).filter(|r| r.iter().any(|&b| b)).count(),
        None if l > 0 => n,
        _ => 0,
    };
    let scale = match reduction {
        Some(Reduction::Mean) if n == 0 => return Err(Error::EmptyMean { loss: K::NAME }),
        // Every list empty: the mean is 0 with a zero gradient, as optax's `_safe_reduce`.
        Some(Reduction::Mean) if lists == 0 => 0.0,
        Some(Reduction::Mean) => 1.0 / lists as f64,
        _ => 1.0,
    };
    let body = |rows: Range<usize>, out: &mut [T], is_grad: bool| -> f64 {
        let mut scratch = Scratch::default();
        let mut sum = 0.0;
        let r0 = rows.start;
        for i in rows {
            let row = i * l..(i + 1) * l;
            let m = mask.map(|m| &m[row.clone()]);
            let gr: &mut [T] = if is_grad {
                &mut out[(i - r0) * l..(i - r0 + 1) * l]
            } else {
                &mut []
            };
            let v = k.row(&s[row.clone()], &t[row], m, scale, gr, &mut scratch);
            let v = v.unwrap_or(0.0);
            if !is_grad && !out.is_empty() {
                out[i - r0] = T::from_f64(v);
            }
            sum += v;
        }
        sum
    };
    let sum = if !g.is_empty() {
        check_buffer(K::NAME, "gradient of `input`", g.len(), n * l)?;
        rows_fold_mut(g, l, n, l, 0.0, |r, o| body(r, o, true), |a, b| a + b)
    } else {
        let per_row = usize::from(!per.is_empty());
        if per_row == 1 {
            check_buffer(K::NAME, "per-element output", per.len(), n)?;
        }
        rows_fold_mut(
            per,
            per_row,
            n,
            l,
            0.0,
            |r, o| body(r, o, false),
            |a, b| a + b,
        )
    };
    Ok(T::from_f64(sum * scale))
}

macro_rules! list_api {
    ($ty:ident) => {
        impl $ty {
            /// The loss reduced with `reduction` (`Mean`: over the lists with an item).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn value<T: Real>(
                &self,
                inputs: &ListInputs<'_, T>,
                reduction: Reduction,
            ) -> Result<T> {
                run(self, inputs, Some(reduction), &mut [], &mut [])
            }

            /// The loss reduced with `reduction` and its gradient with respect to `input`
            /// (into `grad`, as long as `input`; the reduction's scale included; 0 at masked
            /// items), in one pass.
            ///
            /// # Errors
            /// See the type's docs. On error `grad` holds unspecified values.
            pub fn value_and_grad<T: Real>(
                &self,
                inputs: &ListInputs<'_, T>,
                reduction: Reduction,
                grad: &mut [T],
            ) -> Result<T> {
                check_buffer(
                    <Self as ListKernel>::NAME,
                    "gradient of `input`",
                    grad.len(),
                    inputs.input.len(),
                )?;
                run(self, inputs, Some(reduction), &mut [], grad)
            }

            /// The per-list losses `[N]` into `out` (0 for a list with every item masked).
            ///
            /// # Errors
            /// See the type's docs.
            pub fn per_element<T: Real>(
                &self,
                inputs: &ListInputs<'_, T>,
                out: &mut [T],
            ) -> Result<()> {
                let (n, _) = list_dims(<Self as ListKernel>::NAME, inputs)?;
                check_buffer(
                    <Self as ListKernel>::NAME,
                    "per-element output",
                    out.len(),
                    n,
                )?;
                if n == 0 {
                    return Ok(());
                }
                run(self, inputs, None, out, &mut []).map(|_| ())
            }
        }
    };
}

/// Whether item `j` belongs to its list.
#[inline]
fn valid(m: Option<&[bool]>, j: usize) -> bool {
    match m {
        Some(m) => m[j],
        None => true,
    }
}

/// Writes NaN into the gradient of the list's items (a NaN input reached every one).
fn nan_row<T: Real>(m: Option<&[bool]>, g: &mut [T]) -> Option<f64> {
    for (j, v) in g.iter_mut().enumerate() {
        *v = if valid(m, j) {
            T::from_f64(f64::NAN)
        } else {
            T::ZERO
        };
    }
    Some(f64::NAN)
}

/// ListNet (Cao et al. 2007, top-one probability form): the cross-entropy between the
/// softmax of the relevance and the softmax of the scores, per list.
///
/// # Definition
/// For a list with items $j$ (the unmasked ones), scores $s$ and relevance $t$:
/// $$\ell = -\sum_j \operatorname{softmax}(t)_j \,\log \operatorname{softmax}(s)_j.$$
/// This is optax's `ranking_softmax_loss` given `softmax(t)` as its labels (with the same
/// `where` mask).
///
/// # Gradient
/// $\partial \ell / \partial s_j = \operatorname{softmax}(s)_j - \operatorname{softmax}(t)_j$
/// (0 at masked items); the relevance gets no gradient.
///
/// # Numerical stability
/// Both softmaxes are taken with the list's maximum subtracted
/// ($\log \operatorname{softmax}(s)_j = s_j - m - \ln \sum_k e^{s_k - m}$), so no exponential
/// overflows; the loss is summed as $\sum_j p_j\,(\mathrm{lse}(s) - s_j)$, every term
/// $\ge 0$. An item of relevance $-\infty$ has probability 0 and contributes exactly 0 (not
/// $0 \cdot \infty$); a score of $-\infty$ for an item of positive probability gives $+\infty$.
/// Sums accumulate in f64.
///
/// # Parameters
/// None.
///
/// # Errors
/// `input` not `[N, L]` ([`Error::BadShape`]), `target` or `mask` of another shape
/// ([`Error::ShapeMismatch`]), `Mean` over an empty batch ([`Error::EmptyMean`]), buffers of
/// the wrong length ([`Error::BufferLength`]).
///
/// # Example
/// ```
/// use losskit::{ListInputs, ListNet, Reduction, Tensor};
/// let scores = [0.0f64, 0.0];
/// let relevance = [1.0f64, 1.0];
/// let inputs = ListInputs::new(Tensor::new(&scores, &[1, 2])?, Tensor::new(&relevance, &[1, 2])?);
/// let mut g = [0.0; 2];
/// let v = ListNet::new().value_and_grad(&inputs, Reduction::Mean, &mut g)?;
/// assert!((v - 2f64.ln()).abs() < 1e-15); // two equal items: ln 2
/// assert!(g.iter().all(|x| x.abs() < 1e-15)); // the distributions already agree
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// Z. Cao, T. Qin, T.-Y. Liu, M.-F. Tsai, H. Li, "Learning to Rank: From Pairwise Approach to
/// Listwise Approach", ICML 2007. Numbers: optax `ranking_softmax_loss` (labels =
/// `softmax(target)`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListNet;

impl ListNet {
    /// The ListNet loss (no parameters).
    pub fn new() -> Self {
        ListNet
    }
}

impl ListKernel for ListNet {
    const NAME: &'static str = "listnet";
    fn row<T: Real>(
        &self,
        s: &[T],
        t: &[T],
        m: Option<&[bool]>,
        scale: f64,
        g: &mut [T],
        _: &mut Scratch,
    ) -> Option<f64> {
        let (mut ms, mut mt, mut any, mut nan) =
            (f64::NEG_INFINITY, f64::NEG_INFINITY, false, false);
        for j in (0..s.len()).filter(|&j| valid(m, j)) {
            let (a, b) = (s[j].to_f64(), t[j].to_f64());
            any = true;
            nan |= a.is_nan() || b.is_nan();
            ms = ms.max(a);
            mt = mt.max(b);
        }
        if !any {
            g.fill(T::ZERO);
            return None;
        }
        if nan {
            return nan_row(m, g);
        }
        let lse = |x: &[T], mx: f64| {
            let z: f64 = (0..x.len())
                .filter(|&j| valid(m, j))
                .map(|j| (x[j].to_f64() - mx).exp())
                .sum();
            mx + z.ln()
        };
        let (ls, lt) = (lse(s, ms), lse(t, mt));
        let mut loss = 0.0;
        for j in 0..s.len() {
            if !valid(m, j) {
                if let Some(v) = g.get_mut(j) {
                    *v = T::ZERO;
                }
                continue;
            }
            let (a, b) = (s[j].to_f64(), t[j].to_f64());
            let pt = (b - lt).exp();
            // 0·log 0 = 0: an item of probability 0 takes no part.
            if pt > 0.0 {
                loss += pt * (ls - a);
            }
            if let Some(v) = g.get_mut(j) {
                *v = T::from_f64(scale * ((a - ls).exp() - pt));
            }
        }
        Some(loss)
    }
}
list_api!(ListNet);

/// ListMLE (Xia et al. 2008): the negative log Plackett–Luce likelihood of the order of the
/// items by decreasing relevance, under the scores.
///
/// # Definition
/// With $\pi$ the list's (unmasked) items sorted by decreasing `target` and $n$ their number:
/// $$\ell = -\sum_{i=1}^{n} \log \frac{e^{s_{\pi(i)}}}{\sum_{k=i}^{n} e^{s_{\pi(k)}}}
///        = \sum_{i=1}^{n} \Big(\log \sum_{k \ge i} e^{s_{\pi(k)}} - s_{\pi(i)}\Big).$$
/// **Ties**: items of equal relevance keep their order in the list (a stable sort; the
/// earlier item is ranked first). The loss then depends on that order; shuffle the items of a
/// list beforehand if ties should be broken at random, as some implementations do.
///
/// # Gradient
/// With $Z_i = \sum_{k \ge i} e^{s_{\pi(k)}}$:
/// $\partial \ell / \partial s_{\pi(k)} = -1 + \sum_{i \le k} e^{s_{\pi(k)}} / Z_i$ (0 at
/// masked items); the relevance gets no gradient (the loss is piecewise constant in it).
///
/// # Numerical stability
/// $\log Z_i$ is a running log-add-exp from the end of the list (the larger argument taken out
/// at each step), so nothing overflows. The gradient's sum is the recurrence
/// $A_k = 1 + e^{\log Z_k - \log Z_{k-1}} A_{k-1}$, $\partial\ell/\partial s_{\pi(k)} =
/// -1 + e^{s_{\pi(k)} - \log Z_k} A_k$, in which every exponent is $\le 0$: no
/// $e^{s}$ is ever formed, and it is O(n) a list after the O(n log n) sort. A NaN relevance
/// has no place in the order: the list's loss and gradient are NaN.
///
/// # Parameters
/// None.
///
/// # Errors
/// As [`ListNet`].
///
/// # Example
/// ```
/// use losskit::{ListInputs, ListMle, Reduction, Tensor};
/// let scores = [0.0f64, 0.0, 0.0];
/// let relevance = [2.0f64, 1.0, 0.0];
/// let inputs = ListInputs::new(Tensor::new(&scores, &[1, 3])?, Tensor::new(&relevance, &[1, 3])?);
/// let v = ListMle::new().value(&inputs, Reduction::Sum)?;
/// assert!((v - 6f64.ln()).abs() < 1e-15); // equal scores: each of the 3! orders has 1/6
/// # Ok::<(), losskit::Error>(())
/// ```
///
/// # References
/// F. Xia, T.-Y. Liu, J. Wang, W. Zhang, H. Li, "Listwise Approach to Learning to Rank:
/// Theory and Algorithm", ICML 2008. Numbers: the formula in float64 torch, its gradient by
/// autograd (`tools/reference/ranking.py`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListMle;

impl ListMle {
    /// The ListMLE loss (no parameters).
    pub fn new() -> Self {
        ListMle
    }
}

impl ListKernel for ListMle {
    const NAME: &'static str = "listmle";
    fn row<T: Real>(
        &self,
        s: &[T],
        t: &[T],
        m: Option<&[bool]>,
        scale: f64,
        g: &mut [T],
        sc: &mut Scratch,
    ) -> Option<f64> {
        sc.idx.clear();
        sc.idx.extend((0..s.len()).filter(|&j| valid(m, j)));
        g.fill(T::ZERO);
        if sc.idx.is_empty() {
            return None;
        }
        if sc.idx.iter().any(|&j| t[j].is_nan()) {
            return nan_row(m, g);
        }
        // Stable: ties keep the list's order.
        sc.idx.sort_by(|&a, &b| {
            t[b].partial_cmp(&t[a])
                .unwrap_or(core::cmp::Ordering::Equal)
        });
        let n = sc.idx.len();
        sc.a.clear();
        sc.a.resize(n, 0.0);
        let x = |k: usize| s[sc.idx[k]].to_f64();
        let mut acc = f64::NEG_INFINITY;
        let mut loss = 0.0;
        for k in (0..n).rev() {
            acc = log_add_exp(x(k), acc);
            sc.a[k] = acc;
            loss += acc - x(k);
        }
        if !g.is_empty() {
            let mut a_k = 0.0;
            for k in 0..n {
                a_k = if k == 0 {
                    1.0
                } else {
                    1.0 + (sc.a[k] - sc.a[k - 1]).exp() * a_k
                };
                g[sc.idx[k]] = T::from_f64(scale * (-1.0 + (x(k) - sc.a[k]).exp() * a_k));
            }
        }
        Some(loss)
    }
}
list_api!(ListMle);

/// The optional `mask` of a list loss from the call: integers 0/1 (or booleans) as flags.
fn mask_of<T: Real>(
    call: &Call<'_, T>,
    loss: &'static str,
) -> Result<Option<(Vec<bool>, Vec<usize>)>> {
    let Some(m) = call.index("mask") else {
        return Ok(None);
    };
    let dims = m.dims().to_vec();
    let last = dims.last().copied().unwrap_or(1).max(1);
    let flags = m
        .data()
        .iter()
        .enumerate()
        .map(|(i, &v)| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::InvalidValue {
                loss,
                arg: "mask",
                index: if dims.len() == 2 {
                    vec![i / last, i % last]
                } else {
                    vec![i]
                },
                value: v as f64,
                expected: "0 or 1 (false: a padded item)",
            }),
        })
        .collect::<Result<Vec<bool>>>()?;
    Ok(Some((flags, dims)))
}

fn eval_list<T: Real, K: ListKernel>(k: &K, call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    let mask = mask_of(call, K::NAME)?;
    let mut inputs = ListInputs::new(call.float_req("input")?, call.float_req("target")?);
    if let Some((flags, dims)) = &mask {
        inputs = inputs.with_mask(Tensor::new(flags, dims)?);
    }
    let (n, _) = list_dims(K::NAME, &inputs)?;
    dispatch(
        call,
        out,
        &[n],
        Vjp::Separable(Kept::ROWS), // one loss per list
        |r| run(k, &inputs, Some(r), &mut [], &mut []),
        |r, g| run(k, &inputs, Some(r), &mut [], g),
        |o| {
            if n == 0 {
                return Ok(());
            }
            run(k, &inputs, None, o, &mut []).map(|_| ())
        },
    )
}

pub(crate) fn eval_listnet<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    eval_list(&ListNet, call, out)
}

pub(crate) fn eval_listmle<T: Real>(call: &Call<'_, T>, out: &mut Out<T>) -> Result<()> {
    eval_list(&ListMle, call, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listmle_gradient_matches_the_quadratic_sum() {
        let s = [0.3f64, -1.2, 2.0, 0.5, 0.0];
        let t = [1.0f64, 3.0, 0.0, 2.0, 2.0];
        let inputs = ListInputs::new(
            Tensor::new(&s, &[1, 5]).unwrap(),
            Tensor::new(&t, &[1, 5]).unwrap(),
        );
        let mut g = [0.0; 5];
        let v = ListMle
            .value_and_grad(&inputs, Reduction::Sum, &mut g)
            .unwrap();
        // The order: items 1 (3), 3 (2), 4 (2, after 3: a tie keeps the list's order), 0, 2.
        let order = [1usize, 3, 4, 0, 2];
        let z = |i: usize| order[i..].iter().map(|&j| s[j].exp()).sum::<f64>();
        let want: f64 = (0..5).map(|i| z(i).ln() - s[order[i]]).sum();
        assert!((v - want).abs() < 1e-13, "{v} {want}");
        for (k, &j) in order.iter().enumerate() {
            let gk = -1.0 + (0..=k).map(|i| s[j].exp() / z(i)).sum::<f64>();
            assert!((g[j] - gk).abs() < 1e-13, "{j}: {} {gk}", g[j]);
        }
    }

    #[test]
    fn masked_items_and_empty_lists_take_no_part() {
        let s = [0.3f64, 9.0, -1.0, 4.0, 5.0, 6.0];
        let t = [1.0f64, 7.0, 0.0, 1.0, 2.0, 3.0];
        let mask = [true, false, true, false, false, false];
        let inputs = ListInputs::new(
            Tensor::new(&s, &[2, 3]).unwrap(),
            Tensor::new(&t, &[2, 3]).unwrap(),
        )
        .with_mask(Tensor::new(&mask, &[2, 3]).unwrap());
        let s2 = [0.3f64, -1.0];
        let t2 = [1.0f64, 0.0];
        let alone = ListInputs::new(
            Tensor::new(&s2, &[1, 2]).unwrap(),
            Tensor::new(&t2, &[1, 2]).unwrap(),
        );
        for (a, b) in [
            (
                ListNet.value(&inputs, Reduction::Mean).unwrap(),
                ListNet.value(&alone, Reduction::Mean).unwrap(),
            ),
            (
                ListMle.value(&inputs, Reduction::Mean).unwrap(),
                ListMle.value(&alone, Reduction::Mean).unwrap(),
            ),
        ] {
            assert_eq!(a, b);
        }
        let mut g = [1.0; 6];
        ListNet
            .value_and_grad(&inputs, Reduction::Mean, &mut g)
            .unwrap();
        assert_eq!([g[1], g[3], g[4], g[5]], [0.0; 4]);
        let mut per = [1.0; 2];
        ListMle.per_element(&inputs, &mut per).unwrap();
        assert_eq!(per[1], 0.0);
        // Every list empty: the mean is 0, the gradient 0.
        let none = [false; 6];
        let empty = inputs.with_mask(Tensor::new(&none, &[2, 3]).unwrap());
        assert_eq!(
            ListNet
                .value_and_grad(&empty, Reduction::Mean, &mut g)
                .unwrap(),
            0.0
        );
        assert_eq!(g, [0.0; 6]);
    }

    #[test]
    fn extreme_scores_stay_finite() {
        let s = [1e4f32, -1e4, 0.0, 3e4];
        let t = [0.0f32, 1.0, 50.0, -50.0];
        let inputs = ListInputs::new(
            Tensor::new(&s, &[1, 4]).unwrap(),
            Tensor::new(&t, &[1, 4]).unwrap(),
        );
        let mut g = [0.0f32; 4];
        for v in [
            ListNet
                .value_and_grad(&inputs, Reduction::Sum, &mut g)
                .unwrap(),
            ListMle
                .value_and_grad(&inputs, Reduction::Sum, &mut g)
                .unwrap(),
        ] {
            assert!(
                v.is_finite() && g.iter().all(|x| x.is_finite()),
                "{v} {g:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_argument() {
        let s = [0.0f64; 6];
        let t = [0.0f64; 4];
        let inputs = ListInputs::new(
            Tensor::new(&s, &[2, 3]).unwrap(),
            Tensor::new(&t, &[2, 2]).unwrap(),
        );
        assert_eq!(
            ListNet.value(&inputs, Reduction::Mean).unwrap_err().to_string(),
            "listnet: `target` has shape [2, 2], expected [2, 3] (one relevance per item); nothing is broadcast"
        );
        let flat = ListInputs::new(&s[..], &s[..]);
        assert!(ListMle
            .value(&flat, Reduction::Mean)
            .unwrap_err()
            .to_string()
            .starts_with("listmle: `input` has shape [6], expected 2 dimensions"));
    }
}
