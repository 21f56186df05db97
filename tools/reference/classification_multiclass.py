"""Reference cases of the multiclass losses and divergences
(`tests/reference/classification_multiclass.json`).

Expected numbers come from the reference library itself, in float32 and float64: torch
`cross_entropy` (index and probability targets, K-dim inputs, `weight`, `ignore_index`,
`label_smoothing`), `nll_loss`, `multi_margin_loss`, `kl_div` (including `batchmean` and
`log_target`). `softmax_focal` has no library function (torchvision's focal loss is binary):
its reference is torch autograd of the formula −α_t (1 − p_t)^γ ln p_t, written with
ln(1 − p_t) = logsumexp over the other classes − logsumexp over all (checked below to equal
the textbook `(1 - p_t) ** gamma` form wherever that one is finite), evaluated in float64
for both passes (see `focal_call`).

Where losskit deliberately differs (losses spec "Deliberate differences"), the `call` shows how
the expected value is formed instead:
- `mean` with every target ignored: 0 with zero gradients (torch: NaN), from torch's `sum`
  (which is 0 there);
- `cross_entropy` with probability targets and `kl_div`, a target of 0 where the input is
  −inf: 0·ln 0 = 0 (torch: NaN), via `torch.where` around torch's own formula.

Run: python tools/reference/generate.py classification_multiclass
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from common import REDUCE, Family, f32, rng

# optax's losses are run by jax itself, in float64 for the f64 pass and float32 for the f32 pass
# (`_Jax` switches jax's 64-bit mode per pass).
OPTAX = f"optax {optax.__version__} (jax {jax.__version__}, CPU)"
JAX_REDUCE = {"mean": jnp.mean, "sum": jnp.sum, "none": lambda l: l}


class _Jax(torch.autograd.Function):
    """A jax function of `x` (and constants `rest`) as a torch op: the value by jax, the
    gradient by `jax.vjp` (so both numbers are the anchor's own)."""

    @staticmethod
    def forward(ctx, fn, x, *rest):
        # 64-bit jax for the f64 pass only: under jax_enable_x64, optax 0.2.8's sparsemax
        # JVP fails on float32 scores (it returns a float64 tangent).
        ctx.x64 = x.dtype == torch.float64
        with jax.enable_x64(ctx.x64):
            args = [jnp.asarray(r.detach().numpy()) for r in rest]
            out, vjp = jax.vjp(lambda xj: fn(xj, *args), jnp.asarray(x.detach().numpy()))
            ctx.vjp = vjp
            return torch.from_numpy(np.array(out))

    @staticmethod
    def backward(ctx, g):
        with jax.enable_x64(ctx.x64):
            (gx,) = ctx.vjp(jnp.asarray(g.detach().numpy()))
        return (None, torch.from_numpy(np.array(gx))) + (None,) * 8


def optax_call(expr, R, x, *rest):
    """`expr` (a lambda over jax arrays naming optax) reduced by `R`, differentiated by jax."""
    fn = eval(expr, {"optax": optax, "jax": jax, "jnp": jnp})  # noqa: S307 - our own, shown in the JSON
    return _Jax.apply(lambda *a: JAX_REDUCE[R](fn(*a)), x, *rest)

# torch warns that kl_div's `mean` is not the KL divergence; the cases test it as it is.
warnings.filterwarnings("ignore", message="reduction: 'mean' divides the total loss")

F = "torch.nn.functional"

fam = Family("classification_multiclass", tools={"optax": optax.__version__, "jax": jax.__version__},
             names={"optax_call": optax_call})


def logits(r, shape, scale=3.0):
    return f32(r.normal(0.0, scale, size=shape))


def labels(r, shape, c, ignore=None, frac=0.25, dtype=np.int64):
    y = r.integers(0, c, size=shape)
    if ignore is not None:
        y = np.where(r.uniform(size=shape) < frac, ignore, y)
    return y.astype(dtype)


def probs(r, shape, axis=1, zeros=True):
    """Rows of probabilities along `axis` (exact zeros in some entries), float32-exact."""
    p = r.uniform(0.0, 1.0, size=shape)
    if zeros:
        p = np.where(r.uniform(size=shape) < 0.2, 0.0, p)
    p = p / np.maximum(p.sum(axis=axis, keepdims=True), 1e-12)
    return f32(p)


def class_weight(r, c):
    return f32(r.uniform(0.2, 3.0, size=c))


# ----------------------------------------------------------------------------------------
# cross_entropy
L = "cross_entropy"


def ce(extra=""):
    return f"{F}.cross_entropy(input, target{extra}, reduction=R)"


def ce_case(name, inputs, params=None, extra="", call=None, **kw):
    fam.case(f"{L}/{name}", L, call or ce(extra), inputs, params=params, **kw)


r = rng("ce/index")
ce_case("index/basic", {"input": logits(r, (8, 5)), "target": labels(r, 8, 5)})
r = rng("ce/index/weight")
ce_case("index/weight", {"input": logits(r, (9, 4)), "target": labels(r, 9, 4),
                         "weight": class_weight(r, 4)}, extra=", weight=weight")
r = rng("ce/index/ignore")
ce_case("index/ignore", {"input": logits(r, (10, 6)), "target": labels(r, 10, 6, ignore=-100)})
r = rng("ce/index/ignore-index-3")
ce_case("index/ignore_index=3", {"input": logits(r, (10, 6)), "target": labels(r, 10, 6)},
        params={"ignore_index": 3}, extra=", ignore_index=3")
r = rng("ce/index/weight-ignore")
ce_case("index/weight+ignore", {"input": logits(r, (12, 5)),
                                "target": labels(r, 12, 5, ignore=-100),
                                "weight": class_weight(r, 5)}, extra=", weight=weight")
for eps in (0.1, 0.35, 1.0):
    r = rng(f"ce/ls={eps}")
    ce_case(f"index/label_smoothing={eps}", {"input": logits(r, (7, 5)), "target": labels(r, 7, 5)},
            params={"label_smoothing": eps}, extra=f", label_smoothing={eps}")
r = rng("ce/ls-weight-ignore")
ce_case("index/label_smoothing=0.1+weight+ignore",
        {"input": logits(r, (16, 6)), "target": labels(r, 16, 6, ignore=-100),
         "weight": class_weight(r, 6)},
        params={"label_smoothing": 0.1}, extra=", weight=weight, label_smoothing=0.1")
# The brief's hand-checked value: ε = 0.1, K = 3, logits [1, 2, 3], target 0 -> 2.307606.
ce_case("index/label_smoothing=0.1/known",
        {"input": f32(np.array([[1.0, 2.0, 3.0]])), "target": np.array([0])},
        params={"label_smoothing": 0.1}, extra=", label_smoothing=0.1")
r = rng("ce/kdim")
ce_case("index/kdim", {"input": logits(r, (2, 4, 3, 5)), "target": labels(r, (2, 3, 5), 4)})
r = rng("ce/kdim-all")
ce_case("index/kdim/weight+ignore+label_smoothing",
        {"input": logits(r, (3, 5, 70)), "target": labels(r, (3, 70), 5, ignore=-100),
         "weight": class_weight(r, 5)},
        params={"label_smoothing": 0.2}, extra=", weight=weight, label_smoothing=0.2")
r = rng("ce/kdim-3d")
ce_case("index/kdim-3d", {"input": logits(r, (2, 3, 2, 3, 4)),
                          "target": labels(r, (2, 2, 3, 4), 3, ignore=-100)})
r = rng("ce/1d")
ce_case("index/single-sample-[C]", {"input": logits(r, (6,)), "target": np.array(4)})
r = rng("ce/small-c-many-rows")
ce_case("index/many-rows-C=10", {"input": logits(r, (300, 10)), "target": labels(r, 300, 10, ignore=-100),
                                 "weight": class_weight(r, 10)},
        params={"label_smoothing": 0.1}, extra=", weight=weight, label_smoothing=0.1")
r = rng("ce/large-c")
ce_case("index/C=300", {"input": logits(r, (5, 300)), "target": labels(r, 5, 300)})
r = rng("ce/int32")
ce_case("index/int32-target", {"input": logits(r, (6, 4)), "target": labels(r, 6, 4, dtype=np.int32)},
        call=f"{F}.cross_entropy(input, target.long(), reduction=R)")
# Extreme but finite logits: ±1e4, a row mixing −1000 and 900, the [10, 0, −100] row (target
# 2: 110.000045), confident rows whose loss is tiny, and −inf at non-target classes (masked
# actions: probability 0, gradient 0).
x = f32(np.array([
    [1e4, -1e4, 0.0, 3.0],
    [-1e4, 1e4, 0.0, -3.0],
    [-1000.0, 900.0, -1000.0, 899.0],
    [10.0, 0.0, -100.0, -50.0],
    [10.0, 0.0, -100.0, -50.0],
    [30.0, 0.0, 1.0, -2.0],
    [-np.inf, 2.0, 1.0, -np.inf],
    [0.5, -np.inf, -np.inf, 0.0],
]))
ce_case("index/extreme-logits", {"input": x, "target": np.array([0, 0, 3, 2, 0, 0, 1, 3])})
ce_case("index/extreme-logits/weight+ignore",
        {"input": x, "target": np.array([1, -100, 1, 2, -100, 0, 2, 0]),
         "weight": f32(np.array([0.5, 2.0, 1.0, 3.0]))}, extra=", weight=weight")
# −inf at the target: the loss is +inf, the gradient finite.
ce_case("index/neg-inf-at-target", {"input": f32(np.array([[-np.inf, 1.0, 2.0], [0.0, 1.0, 0.5]])),
                                     "target": np.array([0, 1])}, reductions=("sum", "none"))
# Every target ignored: the spec's mean is 0 with zero gradients (torch's mean is 0/0 = NaN);
# torch's sum is that 0.
r = rng("ce/all-ignored")
for extra, params, tag in [("", {}, ""), (", weight=weight, label_smoothing=0.1",
                                          {"label_smoothing": 0.1}, "/weight+label_smoothing")]:
    inputs = {"input": logits(r, (4, 3)), "target": np.full(4, -100)}
    if "weight" in extra:
        inputs["weight"] = class_weight(r, 3)
    ce_case(f"index/all-ignored{tag}", inputs, params=params,
            call=f"{F}.cross_entropy(input, target{extra}, reduction='sum' if R == 'mean' else R)")
# Probability targets.
r = rng("ce/prob")
ce_case("prob/basic", {"input": logits(r, (6, 4)), "target": probs(r, (6, 4))})
r = rng("ce/prob-weight-ls")
ce_case("prob/weight+label_smoothing", {"input": logits(r, (6, 5)), "target": probs(r, (6, 5)),
                                        "weight": class_weight(r, 5)},
        params={"label_smoothing": 0.2}, extra=", weight=weight, label_smoothing=0.2")
r = rng("ce/prob-kdim")
ce_case("prob/kdim", {"input": logits(r, (2, 3, 4, 5)), "target": probs(r, (2, 3, 4, 5))},
        params={"label_smoothing": 0.05}, extra=", label_smoothing=0.05")
r = rng("ce/prob-1d")
ce_case("prob/single-sample-[C]", {"input": logits(r, (5,)), "target": probs(r, (5,), axis=0)})
# 0·ln 0 = 0: a zero target where the logit is −inf contributes nothing (torch: NaN).
x = f32(np.array([[-np.inf, 1.0, 2.0], [0.0, -np.inf, 1.0], [1.0, 2.0, 3.0]]))
t = f32(np.array([[0.0, 0.25, 0.75], [0.5, 0.0, 0.5], [0.2, 0.3, 0.5]]))
ce_case("prob/zero-target-at-neg-inf", {"input": x, "target": t},
        call=f"{REDUCE}(-torch.where(target > 0, target * {F}.log_softmax(input, 1), 0.0).sum(1))")
# Errors.
x5 = f32(np.zeros((2, 5)))
fam.error(f"{L}/error/index-7-with-C=5", L, {"input": x5, "target": np.array([1, 7])},
          "`target` at [1] is 7, expected a class index in [0, C)",
          call=ce(), torch_raises="out of bounds")
fam.error(f"{L}/error/negative-index", L, {"input": x5, "target": np.array([-4, 0])},
          "`target` at [0] is -4, expected a class index in [0, C)",
          call=ce(), torch_raises="out of bounds")
fam.error(f"{L}/error/target-shape", L, {"input": x5, "target": np.array([1, 2, 3])},
          "`target` has shape [3], expected [2]", call=ce(), torch_raises="size")
fam.error(f"{L}/error/weight-length", L,
          {"input": x5, "target": np.array([1, 2]), "weight": f32(np.ones(4))},
          "`weight` has shape [4], expected [5]", call=ce(", weight=weight"), torch_raises="weight")
fam.error(f"{L}/error/label_smoothing=1.5", L, {"input": x5, "target": np.array([1, 2])},
          "`label_smoothing` must be in [0, 1], got 1.5", params={"label_smoothing": 1.5},
          call=ce(", label_smoothing=1.5"), torch_raises="label_smoothing")
fam.error(f"{L}/error/prob-target-with-ignore_index>=0", L,
          {"input": x5, "target": f32(np.full((2, 5), 0.2))},
          "`ignore_index` must be < 0 with probability targets", params={"ignore_index": 0},
          call=ce(", ignore_index=0"), torch_raises="ignore_index is not supported")
fam.error(f"{L}/error/prob-target-outside-[0,1]", L,
          {"input": x5, "target": f32(np.array([[1.5, 0, 0, 0, 0], [0.2] * 5]))},
          "`target` at [0, 0] is 1.5, expected a probability in [0, 1]",
          call=ce() + "  # torch accepts it")
fam.error(f"{L}/error/pos-inf-logit", L,
          {"input": f32(np.array([[0.0, np.inf, 1.0]])), "target": np.array([0])},
          "`input` at [0, 1] is inf, expected a logit < +inf",
          call=ce() + "  # torch: NaN")
fam.error(f"{L}/error/all-neg-inf-row", L,
          {"input": f32(np.array([[0.0, 1.0, 2.0], [-np.inf] * 3])), "target": np.array([0, 1])},
          "`input` at [1, 0] is -inf, expected a row with at least one logit > -inf",
          call=ce() + "  # torch: NaN")
fam.error(f"{L}/error/empty-mean", L,
          {"input": f32(np.zeros((0, 3))), "target": np.zeros(0, dtype=np.int64)},
          "reduction `mean` over an empty input is undefined", call=ce() + "  # torch: NaN")

# ----------------------------------------------------------------------------------------
# nll
L = "nll"


def nll(extra=""):
    return f"{F}.nll_loss(input, target{extra}, reduction=R)"


def logp(r, shape):
    x = torch.tensor(logits(r, shape)).log_softmax(1 if len(shape) > 1 else 0)
    return f32(x.numpy())


r = rng("nll/basic")
fam.case(f"{L}/basic", L, nll(), {"input": logp(r, (7, 4)), "target": labels(r, 7, 4)})
r = rng("nll/weight-ignore")
fam.case(f"{L}/weight+ignore", L, nll(", weight=weight"),
         {"input": logp(r, (10, 5)), "target": labels(r, 10, 5, ignore=-100),
          "weight": class_weight(r, 5)})
r = rng("nll/kdim")
fam.case(f"{L}/kdim/ignore_index=1", L, nll(", ignore_index=1"),
         {"input": logp(r, (2, 3, 4, 2)), "target": labels(r, (2, 4, 2), 3)},
         params={"ignore_index": 1})
r = rng("nll/1d")
fam.case(f"{L}/single-sample-[C]", L, nll(), {"input": logp(r, (4,)), "target": np.array(2)})
r = rng("nll/int32")
fam.case(f"{L}/int32-target", L, f"{F}.nll_loss(input, target.long(), reduction=R)",
         {"input": logp(r, (5, 3)), "target": labels(r, 5, 3, dtype=np.int32)})
fam.case(f"{L}/neg-inf-log-probability", L, nll(),
         {"input": f32(np.array([[-np.inf, 0.0], [-0.5, -1.0]])), "target": np.array([1, 0])})
r = rng("nll/all-ignored")
fam.case(f"{L}/all-ignored", L, f"{F}.nll_loss(input, target, reduction='sum' if R == 'mean' else R)",
         {"input": logp(r, (3, 4)), "target": np.full(3, -100)})
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.full((2, 3), -1.0)), "target": np.array([0, 3])},
          "`target` at [1] is 3, expected a class index in [0, C)", call=nll(),
          torch_raises="out of bounds")
fam.error(f"{L}/error/float-target", L,
          {"input": f32(np.full((2, 3), -1.0)), "target": f32(np.array([0.0, 1.0]))},
          "`target` has dtype float", call=nll(), torch_raises="Long")

# ----------------------------------------------------------------------------------------
# softmax_focal: the formula, with ln(1 − p_t) from logsumexps (finite gradients at
# saturated logits for any γ ≥ 0), times α_t; mean over the non-ignored elements.
L = "softmax_focal"


def focal_call(gamma, alpha=False, ignore=-100, all_ignored=False, kdim=False):
    """The formula as a torch expression; with `kdim`, over dimension 1 of [N, C, d…] through
    the [N·d…, C] view (and back to [N, d…] for `none`)."""
    x = "input.movedim(1, -1).reshape(-1, input.shape[1])" if kdim else "input"
    tg = "target.reshape(-1)" if kdim else "target"
    a = "alpha.gather(0, t)" if alpha else "1.0"
    per = (
        f"(lambda x, t, keep: (lambda lp, lq: torch.where(keep, -({a}) * torch.exp({gamma!r} * lq) * lp, 0.0))"
        f"({F}.log_softmax(x, 1).gather(1, t.unsqueeze(1)).squeeze(1), "
        f"torch.logsumexp(x.masked_fill({F}.one_hot(t, x.shape[1]).bool(), -math.inf), 1)"
        f" - torch.logsumexp(x, 1)))"
        f"({x}, torch.where({tg} == {ignore}, 0, {tg}), {tg} != {ignore})"
    )
    none = "lambda l: l.reshape(target.shape)" if kdim else "lambda l: l"
    mean = "lambda l: l.sum()" if all_ignored else f"lambda l: l.sum() / (target != {ignore}).sum()"
    body = f"{{'none': {none}, 'sum': torch.sum, 'mean': {mean}}}[R]({per})"
    # Evaluated in float64 in both passes (the f32 pass gets it rounded to float32): torch's
    # float32 autograd of this formula is itself off by up to ~40 ulp at the target's
    # gradient when p_t is small (gamma=2 case, element 5: 0.96386755 in float32 against
    # 0.96386523 in float64; losskit's f32 kernel gives 0.96386516).
    args = "input.double(), alpha.double()" if alpha else "input.double(), None"
    return f"(lambda input, alpha: {body})({args})"


def textbook(x, t, gamma, alpha=None):
    """The `(1 - p_t) ** gamma` form, to check the logsumexp form where both are finite."""
    p = torch.softmax(x, 1).gather(1, t.unsqueeze(1)).squeeze(1)
    lp = torch.log_softmax(x, 1).gather(1, t.unsqueeze(1)).squeeze(1)
    a = 1.0 if alpha is None else alpha.gather(0, t)
    return -(a * (1 - p) ** gamma * lp)


def focal_case(name, inputs, gamma, alpha=False, check=True, **kw):
    call = focal_call(gamma, alpha)
    if check and inputs["input"].ndim == 2 and not (inputs["target"] == -100).any():
        x = torch.tensor(inputs["input"], dtype=torch.float64)
        t = torch.tensor(inputs["target"])
        ns = {"torch": torch, "math": __import__("math"), "R": "none", "input": x, "target": t,
              "alpha": torch.tensor(inputs["alpha"]) if alpha else None}
        mine = eval(call, ns)  # noqa: S307
        ref = textbook(x, t, gamma, ns["alpha"])
        assert torch.allclose(mine, ref, rtol=1e-12, atol=1e-300), (name, mine, ref)
    fam.case(f"{L}/{name}", L, call, inputs, params={"gamma": gamma}, **kw)


r = rng("focal/basic")
focal_case("gamma=2", {"input": logits(r, (8, 5)), "target": labels(r, 8, 5)}, 2.0)
r = rng("focal/alpha")
focal_case("gamma=2/alpha", {"input": logits(r, (8, 4)), "target": labels(r, 8, 4),
                             "alpha": f32(r.uniform(0.1, 1.0, size=4))}, 2.0, alpha=True)
r = rng("focal/gamma0")
focal_case("gamma=0-is-cross-entropy", {"input": logits(r, (6, 3)), "target": labels(r, 6, 3)}, 0.0)
r = rng("focal/gamma0.5")
focal_case("gamma=0.5", {"input": logits(r, (6, 4)), "target": labels(r, 6, 4)}, 0.5)
r = rng("focal/ignore")
focal_case("gamma=1.5/alpha+ignore", {"input": logits(r, (10, 4)), "target": labels(r, 10, 4, ignore=-100),
                                      "alpha": f32(r.uniform(0.1, 1.0, size=4))}, 1.5, alpha=True)
r = rng("focal/kdim")
fam.case(f"{L}/kdim", L, focal_call(2.0, kdim=True),
         {"input": logits(r, (2, 3, 4, 2)), "target": labels(r, (2, 4, 2), 3, ignore=-100)},
         params={"gamma": 2.0})
# Saturated logits with γ < 1: finite gradients (autograd of (1 - p)**γ gives NaN there);
# rows of ordinary size in the same case keep the comparison's scale meaningful.
x = f32(np.array([[60.0, 0.0, 0.0], [0.0, 50.0, -50.0], [1.0, 0.5, -0.5], [-1.0, 2.0, 0.0]]))
t = np.array([0, 1, 2, 0])
for g in (0.25, 0.5):
    fam.case(f"{L}/saturated/gamma={g}", L, focal_call(g), {"input": x, "target": t},
             params={"gamma": g})
r = rng("focal/all-ignored")
fam.case(f"{L}/all-ignored", L, focal_call(2.0, all_ignored=True),
         {"input": logits(r, (3, 4)), "target": np.full(3, -100)}, params={"gamma": 2.0})
fam.error(f"{L}/error/one-class", L,
          {"input": f32(np.zeros((3, 1))), "target": np.zeros(3, dtype=np.int64)},
          "at least 2 classes", call="softmax over one class is constant (MONAI#2509)")
fam.error(f"{L}/error/gamma-negative", L,
          {"input": f32(np.zeros((3, 2))), "target": np.zeros(3, dtype=np.int64)},
          "`gamma` must be >= 0 and finite, got -1", params={"gamma": -1.0})
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([0, 5])},
          "`target` at [1] is 5, expected a class index in [0, C)")

# ----------------------------------------------------------------------------------------
# multi_margin
L = "multi_margin"


def mm(extra=""):
    return f"{F}.multi_margin_loss(input, target{extra}, reduction=R)"


r = rng("mm/p1")
fam.case(f"{L}/p=1", L, mm(), {"input": logits(r, (7, 5), 1.0), "target": labels(r, 7, 5)})
r = rng("mm/p2")
fam.case(f"{L}/p=2/margin=0.5", L, mm(", p=2, margin=0.5"),
         {"input": logits(r, (7, 4), 1.0), "target": labels(r, 7, 4)}, params={"p": 2, "margin": 0.5})
r = rng("mm/weight")
fam.case(f"{L}/weight", L, mm(", weight=weight"),
         {"input": logits(r, (8, 4), 1.0), "target": labels(r, 8, 4), "weight": class_weight(r, 4)})
r = rng("mm/p2-weight")
fam.case(f"{L}/p=2/weight/margin=2", L, mm(", p=2, margin=2.0, weight=weight"),
         {"input": logits(r, (6, 3), 1.0), "target": labels(r, 6, 3), "weight": class_weight(r, 3)},
         params={"p": 2, "margin": 2.0})
fam.case(f"{L}/torch-docs-example", L, mm(),
         {"input": f32(np.array([[0.1, 0.2, 0.4, 0.8]])), "target": np.array([3])})
r = rng("mm/1d")
fam.case(f"{L}/single-sample-[C]", L, mm(), {"input": logits(r, (5,), 1.0), "target": np.array(1)})
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([0, 3])},
          "`target` at [1] is 3, expected a class index in [0, C)", call=mm(),
          torch_raises="target out of range")
fam.error(f"{L}/error/p=3", L, {"input": f32(np.zeros((2, 3))), "target": np.array([0, 1])},
          "`p` must be 1 or 2, got 3", params={"p": 3}, call=mm(", p=3"),
          torch_raises="only p == 1 and p == 2 supported")
fam.error(f"{L}/error/kdim-input", L,
          {"input": f32(np.zeros((2, 3, 4))), "target": np.zeros((2, 4), dtype=np.int64)},
          "`input` has shape [2, 3, 4], expected `[N, C]` or `[C]`", call=mm(),
          torch_raises="")

# ----------------------------------------------------------------------------------------
# kl_div
L = "kl_div"
KL_REDUCTIONS = ("mean", "sum", "none", "batchmean")


def kl(extra=""):
    return f"{F}.kl_div(input, target{extra}, reduction=R)"


r = rng("kl/basic")
fam.case(f"{L}/basic", L, kl(), {"input": logp(r, (4, 5)), "target": probs(r, (4, 5), zeros=False)},
         reductions=KL_REDUCTIONS)
r = rng("kl/log-target")
fam.case(f"{L}/log_target", L, kl(", log_target=True"),
         {"input": logp(r, (3, 6)), "target": logp(r, (3, 6))}, params={"log_target": True},
         reductions=KL_REDUCTIONS)
r = rng("kl/3d")
fam.case(f"{L}/3d-with-zero-targets", L, kl(),
         {"input": logp(r, (2, 4, 3)), "target": probs(r, (2, 4, 3))}, reductions=KL_REDUCTIONS)
fam.case(f"{L}/scalar", L, kl(), {"input": f32(np.array(-0.5)), "target": f32(np.array(0.25))},
         reductions=KL_REDUCTIONS)
# 0·ln 0 = 0 where the input is −inf (a masked class): torch's target·(ln target − input)
# is 0·inf = NaN there; losskit's value and gradient are 0.
x = f32(np.array([[-np.inf, np.log(0.25), np.log(0.75)], [np.log(0.5), np.log(0.5), -np.inf]]))
t = f32(np.array([[0.0, 0.5, 0.5], [0.25, 0.75, 0.0]]))
BATCH = ("{'none': lambda l: l, 'sum': torch.sum, 'mean': torch.mean, "
         "'batchmean': lambda l: l.sum() / input.shape[0]}[R]")
fam.case(f"{L}/zero-target-at-neg-inf", L,
         f"{BATCH}(torch.where(target > 0, {F}.kl_div(input, target, reduction='none'), 0.0))",
         {"input": x, "target": t}, reductions=KL_REDUCTIONS)
fam.case(f"{L}/log_target/neg-inf-target-at-neg-inf", L,
         f"{BATCH}(torch.where(target > -math.inf, {F}.kl_div(input, target, reduction='none', log_target=True), 0.0))",
         {"input": x, "target": f32(np.log(t.astype(np.float64), where=t > 0, out=np.full(t.shape, -np.inf)))},
         params={"log_target": True},
         reductions=KL_REDUCTIONS)
fam.error(f"{L}/error/negative-target", L,
          {"input": f32(np.full((2, 2), -0.7)), "target": f32(np.array([[0.5, 0.5], [1.5, -0.5]]))},
          "`target` at [1, 1] is -0.5, expected a probability >= 0", call=kl() + "  # torch: NaN")
fam.error(f"{L}/error/shape", L,
          {"input": f32(np.full((2, 2), -0.7)), "target": f32(np.full((2, 1), 0.5))},
          "`target` has shape [2, 1], expected [2, 2]", call=kl() + "  # torch broadcasts")

# ----------------------------------------------------------------------------------------
# poly1: optax.losses.poly_loss_cross_entropy, run by jax (index targets as its one-hot labels)
L = "poly1"


def poly(eps=2.0, index=True):
    lab = "jax.nn.one_hot(t, x.shape[-1], dtype=x.dtype)" if index else "t"
    return (f"optax_call('lambda x, t: optax.losses.poly_loss_cross_entropy(x, {lab}, epsilon={eps!r})', "
            f"R, input, target)")


r = rng("poly1/index")
fam.case(f"{L}/index/default", L, poly(), {"input": logits(r, (8, 5)), "target": labels(r, 8, 5)},
         tool=OPTAX)
r = rng("poly1/index/eps")
for e in (-1.0, 0.5):
    fam.case(f"{L}/index/epsilon={e}", L, poly(e), {"input": logits(r, (6, 4)), "target": labels(r, 6, 4)},
             params={"epsilon": e}, tool=OPTAX)
r = rng("poly1/prob")
fam.case(f"{L}/probabilities", L, poly(index=False),
         {"input": logits(r, (5, 6)), "target": probs(r, (5, 6))}, tool=OPTAX)
r = rng("poly1/prob/eps")
fam.case(f"{L}/probabilities/epsilon=-0.5", L, poly(-0.5, index=False),
         {"input": logits(r, (4, 3)), "target": probs(r, (4, 3))}, params={"epsilon": -0.5}, tool=OPTAX)
fam.case(f"{L}/saturated", L, poly(),
         {"input": f32(np.array([[40.0, 0.0, -40.0], [0.0, 0.0, 0.0]])), "target": np.array([0, 2])},
         tool=OPTAX)
r = rng("poly1/1d")
fam.case(f"{L}/single-sample-[C]", L, poly(), {"input": logits(r, (5,)), "target": np.array(3)},
         tool=OPTAX)
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([0, 3])},
          "`target` at [1] is 3, expected a class index in [0, C)",
          call="optax one_hot gives an all-zero row (loss 0·ln p + ε·0 = 0) for an index >= C", tool=OPTAX)

# ----------------------------------------------------------------------------------------
# multilabel_margin: torch's multilabel_margin_loss (each row lists classes, -1 ends the list)
L = "multilabel_margin"


def mlm():
    return f"{F}.multilabel_margin_loss(input, target, reduction=R)"


def class_lists(r, n, c, tail=False):
    """Rows of 1..3 distinct classes, then -1, then (with `tail`) entries the -1 hides."""
    out = np.full((n, c), -1, dtype=np.int64)
    for k in range(n):
        m = int(r.integers(1, min(3, c - 1) + 1))
        out[k, :m] = r.choice(c, size=m, replace=False)
        if tail and m + 1 < c:
            out[k, m + 1:] = r.integers(0, c, size=c - m - 1)
    return out


r = rng("mlm/basic")
fam.case(f"{L}/basic", L, mlm(), {"input": logits(r, (6, 5), 1.0), "target": class_lists(r, 6, 5)})
r = rng("mlm/tail")
fam.case(f"{L}/entries-after-minus-1-ignored", L, mlm(),
         {"input": logits(r, (4, 6), 1.0), "target": class_lists(r, 4, 6, tail=True)})
fam.case(f"{L}/torch-docs-example", L, mlm(),
         {"input": f32(np.array([[0.1, 0.2, 0.4, 0.8]])), "target": np.array([[3, 0, -1, 1]])})
fam.case(f"{L}/duplicates-and-empty-rows", L, mlm(),
         {"input": f32(np.array([[0.0, 0.5, 0.2], [1.0, -1.0, 0.3], [0.2, 0.1, 0.0]])),
          "target": np.array([[1, 1, -1], [-1, 0, 2], [0, 1, 2]])})
r = rng("mlm/1d")
fam.case(f"{L}/single-sample-[C]", L, mlm(), {"input": logits(r, (5,), 1.0), "target": np.array([4, 1, -1, 0, 0])})
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([[0, 3, -1], [1, -1, 0]])},
          "`target` at [0, 1] is 3, expected a class index in [0, C) or −1", call=mlm(),
          torch_raises="")
fam.error(f"{L}/error/target-shape", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([0, 1])},
          "`target` has shape [2], expected [2, 3]", call=mlm(), torch_raises="")

# ----------------------------------------------------------------------------------------
# sparsemax: optax.losses.multiclass_sparsemax_loss, run by jax
L = "sparsemax"
SPARSEMAX = "optax_call('lambda x, t: optax.losses.multiclass_sparsemax_loss(x, t)', R, input, target)"

r = rng("sparsemax/basic")
fam.case(f"{L}/basic", L, SPARSEMAX, {"input": logits(r, (8, 5), 1.0), "target": labels(r, 8, 5)},
         tool=OPTAX)
r = rng("sparsemax/wide")
fam.case(f"{L}/wide-scores", L, SPARSEMAX, {"input": logits(r, (5, 7), 3.0), "target": labels(r, 5, 7)},
         tool=OPTAX)
fam.case(f"{L}/ties-and-zero-loss", L, SPARSEMAX,
         {"input": f32(np.array([[2.0, 0.5, -1.0], [0.0, 0.0, 0.0], [0.25, 0.25, 1.0], [3.0, 1.0, 0.0]])),
          "target": np.array([1, 2, 0, 0])}, tool=OPTAX)
fam.error(f"{L}/error/index-out-of-range", L,
          {"input": f32(np.zeros((2, 3))), "target": np.array([0, 3])},
          "`target` at [1] is 3, expected a class index in [0, C)",
          call="optax indexes scores[label] and jax clamps an index >= C to C - 1", tool=OPTAX)

fam.write()
