"""Reference cases of the binary, multi-label and ±1-margin losses
(`tests/reference/classification_binary.json`).

Expected numbers come from the reference library itself, in float32 and float64:
torch `binary_cross_entropy_with_logits`, `binary_cross_entropy`, `soft_margin_loss`,
`margin_ranking_loss`, torchvision `sigmoid_focal_loss`, and torch autograd of the formula for
`hinge` and `squared_hinge` (no library function). Where losskit deliberately differs
(losses/spec "Deliberate differences", and each loss's rustdoc), the `call` shows how the
expected value is formed instead:

- weighted `mean` is Σ w·ℓ / Σ w (torch's BCE losses divide by N): `WEIGHTED_B` below, with
  the weight broadcast over `input` in the denominator;
- `bce_with_logits` at ±inf logits: the limit (0 where the label matches, +inf otherwise;
  torch gives NaN), via autograd of the two softplus terms with a zero coefficient dropping
  its term;
- `focal` with γ < 1 at saturated logits (torchvision: NaN gradient): autograd of the
  log-space form, checked here to equal torchvision wherever torchvision is finite and to
  equal a 50-digit mpmath evaluation;
- `soft_margin` where torch's log1p(exp(−y·x)) overflows: autograd of −logsigmoid(y·x).

Run: python tools/reference/generate.py classification_binary
"""

import builtins
import math

import contextlib

import mpmath
import numpy as np
import timm
import timm.loss
import torch
import torchvision
import torchvision.ops

from common import REDUCE, Family, f32, rng

# The `call` strings name torchvision like torch; common.evaluate binds only torch and math,
# so make the module visible to them (as a builtin) instead of hiding it behind a helper.
builtins.torchvision = torchvision

F = "torch.nn.functional"
# The spec's weighted reductions of torch's `reduction='none'` output `l` (weight included):
# `mean` divides by Σ w over every element of `input` (a broadcast weight counts once per
# element it covers), where torch's BCE losses divide by N.
WEIGHTED_B = (
    "{'none': lambda l: l, 'sum': torch.sum, "
    "'mean': lambda l: l.sum() / weight.expand_as(input).sum()}[R]"
)

@contextlib.contextmanager
def _float_keeps_float64():
    """timm's AsymmetricLossMultiLabel starts with `x = x.float()` (float32 whatever the input):
    inside this block `.float()` leaves a float64 tensor as it is, so timm's own forward runs in
    float64 for the f64 pass. The f32 pass runs timm untouched."""
    orig = torch.Tensor.float

    def keep(self, *a, **k):
        return self if self.dtype == torch.float64 else orig(self, *a, **k)

    torch.Tensor.float = keep
    try:
        yield
    finally:
        torch.Tensor.float = orig


def timm_asl(input, target, R, **kw):
    """timm.loss.AsymmetricLossMultiLabel(reduction=R, **kw)(input, target), in the input's dtype."""
    loss = timm.loss.AsymmetricLossMultiLabel(reduction=R, **kw)
    if input.dtype == torch.float64:
        with _float_keeps_float64():
            return loss(input, target)
    return loss(input, target)


fam = Family(
    "classification_binary",
    tools={"torchvision": torchvision.__version__, "mpmath": mpmath.__version__,
           "timm": timm.__version__},
    names={"timm_asl": timm_asl},
)


def hard(r, shape):
    return r.integers(0, 2, size=shape).astype(np.float64)


def soft(r, shape):
    # Soft labels with the two ends present too.
    y = f32(r.uniform(0.0, 1.0, size=shape))
    flat = y.reshape(-1)
    flat[:2] = [0.0, 1.0]
    return y


def signs(r, shape):
    return r.choice([-1.0, 1.0], size=shape)


def logits(r, shape, scale=3.0):
    return f32(r.normal(0.0, scale, size=shape))


def bcel(extra=""):
    return f"{F}.binary_cross_entropy_with_logits(input, target{extra}, reduction=R)"


def bcel_weighted(extra=""):
    return f"{WEIGHTED_B}({F}.binary_cross_entropy_with_logits(input, target, weight=weight{extra}, reduction='none'))"


# ---------------------------------------------------------------------------------------------
# bce_with_logits
# ---------------------------------------------------------------------------------------------
L = "bce_with_logits"

i = f"{L}/default/[4, 5]"
r = rng(i)
fam.case(i, L, bcel(), {"input": logits(r, (4, 5)), "target": hard(r, (4, 5))})

i = f"{L}/soft-targets/[3, 4]"
r = rng(i)
fam.case(i, L, bcel(), {"input": logits(r, (3, 4)), "target": soft(r, (3, 4))})

i = f"{L}/vector/[7]"
r = rng(i)
fam.case(i, L, bcel(), {"input": logits(r, (7,)), "target": hard(r, (7,))})

i = f"{L}/scalar/[]"
fam.case(i, L, bcel(), {"input": f32(np.array(-1.25)), "target": f32(np.array(0.75))})

i = f"{L}/weight-elementwise/[4, 3]"
r = rng(i)
fam.case(i, L, bcel_weighted(), {
    "input": logits(r, (4, 3)), "target": soft(r, (4, 3)),
    "weight": f32(r.uniform(0.0, 2.0, size=(4, 3))),
})

i = f"{L}/weight-per-label-[4]/[2, 3, 4]"
r = rng(i)
fam.case(i, L, bcel_weighted(), {
    "input": logits(r, (2, 3, 4)), "target": hard(r, (2, 3, 4)),
    "weight": f32(r.uniform(0.1, 3.0, size=(4,))),
})

i = f"{L}/weight-[3, 4]/[2, 3, 4]"
r = rng(i)
fam.case(i, L, bcel_weighted(), {
    "input": logits(r, (2, 3, 4)), "target": soft(r, (2, 3, 4)),
    "weight": f32(r.uniform(0.0, 2.0, size=(3, 4))),
})

i = f"{L}/weight-[1, 3]/[4, 3]"
r = rng(i)
fam.case(i, L, bcel_weighted(), {
    "input": logits(r, (4, 3)), "target": hard(r, (4, 3)),
    "weight": f32(r.uniform(0.5, 2.0, size=(1, 3))),
})

i = f"{L}/pos_weight/[5, 3]"
r = rng(i)
fam.case(i, L, bcel(", pos_weight=pos_weight"), {
    "input": logits(r, (5, 3)), "target": soft(r, (5, 3)),
    "pos_weight": f32(np.array([3.0, 0.5, 1.7])),
})

i = f"{L}/pos_weight-zero-and-weight/[2, 3, 4]"
r = rng(i)
fam.case(i, L, bcel_weighted(", pos_weight=pos_weight"), {
    "input": logits(r, (2, 3, 4)), "target": hard(r, (2, 3, 4)),
    "weight": f32(r.uniform(0.1, 2.0, size=(4,))),
    "pos_weight": f32(np.array([2.0, 0.0, 1.0, 9.0])),
})

i = f"{L}/pos_weight-one-for-all/[6]"
r = rng(i)
fam.case(i, L, bcel(", pos_weight=pos_weight"), {
    "input": logits(r, (6,)), "target": hard(r, (6,)), "pos_weight": f32(np.array([4.0])),
})

i = f"{L}/large-logits"
x = f32([1e4, -1e4, 100.0, -100.0, 0.0, 1e4, -1e4, 100.0, -100.0, 0.0, 30.0, -30.0])
y = f32([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.25, 0.75])
fam.case(i, L, bcel(), {"input": x, "target": y})

i = f"{L}/right-answers-in-the-tail"
# Correct and confident: the losses are e^{-|x|}-small. torch's (1 − y)x − logσ(x) form
# cancels there in float32; the f64 tool is accurate, and the case scale is set by the 1.0s.
x = f32([-20.0, 20.0, -15.0, 15.0, -1.0, 1.0])
y = f32([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
fam.case(i, L, bcel(), {"input": x, "target": y}, dtypes=("f64",))
# In float32 the reference is the same torch function run in float64 and rounded: losskit's
# float32 keeps full relative accuracy there, torch's float32 does not.
fam.case(i + "/float64-tool", L,
         f"{F}.binary_cross_entropy_with_logits(input.double(), target.double(), reduction=R)",
         {"input": x, "target": y}, dtypes=("f32",))

i = f"{L}/infinite-logits"
x = f32([math.inf, -math.inf, math.inf, -math.inf, math.inf, -math.inf, 1.0, -2.0])
y = f32([1.0, 0.0, 0.0, 1.0, 0.25, 0.5, 0.5, 1.0])
LIMIT = (
    f"torch.where(target == 1, 0., (1 - target) * -{F}.logsigmoid(-input))"
    f" + torch.where(target == 0, 0., target * -{F}.logsigmoid(input))"
)
fam.case(i, L, f"{REDUCE}({LIMIT})", {"input": x, "target": y})

i = f"{L}/integer-targets"
r = rng(i)
fam.case(i, L, f"{F}.binary_cross_entropy_with_logits(input, target.to(input.dtype), reduction=R)", {
    "input": logits(r, (3, 2)), "target": r.integers(0, 2, size=(3, 2)).astype(np.int64),
})

x4 = f32(np.zeros((2, 3)))
fam.error(f"{L}/error/target-1.5", L,
          {"input": x4, "target": f32([[0.0, 1.0, 0.5], [1.0, 1.5, 0.0]])},
          "`target` at [1, 1] is 1.5, expected a target in [0, 1]",
          call=bcel() + "  # torch accepts it (pytorch#110865)")
fam.error(f"{L}/error/target-negative", L,
          {"input": x4, "target": f32([[0.0, -0.25, 0.5], [1.0, 1.0, 0.0]])},
          "`target` at [0, 1] is -0.25, expected a target in [0, 1]")
fam.error(f"{L}/error/pos_weight-length", L,
          {"input": x4, "target": x4, "pos_weight": f32([1.0, 2.0])},
          "`pos_weight` has shape [2], expected [3]")
fam.error(f"{L}/error/pos_weight-negative", L,
          {"input": x4, "target": x4, "pos_weight": f32([1.0, -2.0, 1.0])},
          "`pos_weight` at [1] is -2, expected a finite weight >= 0")
fam.error(f"{L}/error/per-sample-weight-[2]-on-[2, 3]", L,
          {"input": x4, "target": x4, "weight": f32([1.0, 2.0])},
          "`weight` has shape [2], expected [2, 3]")
fam.error(f"{L}/error/target-[3, 1]-on-[3]", L,
          {"input": f32([0.0, 1.0, 2.0]), "target": f32([[0.0], [1.0], [1.0]])},
          "`target` has shape [3, 1], expected [3]")

# ---------------------------------------------------------------------------------------------
# bce (probabilities)
# ---------------------------------------------------------------------------------------------
L = "bce"
BCE = f"{F}.binary_cross_entropy(input, target, reduction=R)"

i = f"{L}/default/[4, 5]"
r = rng(i)
fam.case(i, L, BCE, {"input": f32(r.uniform(0.01, 0.99, size=(4, 5))), "target": hard(r, (4, 5))})

i = f"{L}/soft-targets/[3, 4]"
r = rng(i)
fam.case(i, L, BCE, {"input": f32(r.uniform(0.0, 1.0, size=(3, 4))), "target": soft(r, (3, 4))})

i = f"{L}/clamp-at-0-and-1"
# Each log clamps at −100: wrong certainties cost exactly 100, and torch's gradient floor
# (p − y)/max(p(1 − p), 1e-12) gives ±1e12 there.
p = f32([0.0, 1.0, 0.0, 1.0, 1e-30, 1.4e-45, 1.0 - 2.0**-24, 0.5, 2.0**-24])
y = f32([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.3, 0.0])
fam.case(i, L, BCE, {"input": p, "target": y})

i = f"{L}/weight-per-label/[3, 4]"
r = rng(i)
fam.case(i, L, f"{WEIGHTED_B}({F}.binary_cross_entropy(input, target, weight=weight, reduction='none'))", {
    "input": f32(r.uniform(0.01, 0.99, size=(3, 4))), "target": soft(r, (3, 4)),
    "weight": f32(r.uniform(0.1, 2.0, size=(4,))),
})

fam.error(f"{L}/error/input-1.2", L, {"input": f32([0.5, 1.2]), "target": f32([1.0, 1.0])},
          "`input` at [1] is 1.2000000476837158, expected a probability in [0, 1]",
          call=BCE, torch_raises="between 0 and 1")
fam.error(f"{L}/error/target-1.5", L, {"input": f32([0.5, 0.5]), "target": f32([1.5, 1.0])},
          "`target` at [0] is 1.5, expected a target in [0, 1]")

# ---------------------------------------------------------------------------------------------
# focal
# ---------------------------------------------------------------------------------------------
L = "focal"


def tv(alpha, gamma):
    return f"torchvision.ops.sigmoid_focal_loss(input, target, alpha={alpha!r}, gamma={gamma!r}, reduction=R)"


def tv_weighted(alpha, gamma):
    return (f"{WEIGHTED_B}(torchvision.ops.sigmoid_focal_loss(input, target, alpha={alpha!r}, "
            f"gamma={gamma!r}, reduction='none') * weight)")


def log_space(alpha, gamma):
    """Focal in log space (optax/MONAI style): (1 − p_t)^γ = exp(γ·logaddexp(ln(1−y) + lnσ(x),
    ln y + lnσ(−x))); finite gradients for every γ ≥ 0."""
    a_t = "1." if alpha < 0 else f"({alpha!r} * target + (1 - {alpha!r}) * (1 - target))"
    ce = f"-((1 - target) * {F}.logsigmoid(-input) + target * {F}.logsigmoid(input))"
    log_m = f"torch.logaddexp(torch.log1p(-target) + {F}.logsigmoid(input), torch.log(target) + {F}.logsigmoid(-input))"
    mod = "1." if gamma == 0 else f"torch.exp({gamma!r} * {log_m})"
    return f"{REDUCE}({a_t} * ({ce}) * {mod})"


for (alpha, gamma), shape in [((0.25, 2.0), (4, 5)), ((-1.0, 0.0), (3, 4)),
                              ((0.5, 1.0), (2, 3, 2)), ((0.75, 0.5), (8,)),
                              ((0.0, 3.0), (3, 3)), ((1.0, 2.0), (6,))]:
    i = f"{L}/alpha={alpha}/gamma={gamma}/hard/{list(shape)}"
    r = rng(i)
    params = {"alpha": alpha, "gamma": gamma}
    fam.case(i, L, tv(alpha, gamma), {"input": logits(r, shape), "target": hard(r, shape)}, params)

for alpha, gamma in [(0.25, 2.0), (-1.0, 1.5), (0.4, 0.5)]:
    i = f"{L}/alpha={alpha}/gamma={gamma}/soft/[3, 4]"
    r = rng(i)
    fam.case(i, L, tv(alpha, gamma), {"input": logits(r, (3, 4)), "target": soft(r, (3, 4))},
             {"alpha": alpha, "gamma": gamma})

i = f"{L}/defaults/weight-per-label/[3, 4]"
r = rng(i)
fam.case(i, L, tv_weighted(0.25, 2.0), {
    "input": logits(r, (3, 4)), "target": hard(r, (3, 4)),
    "weight": f32(r.uniform(0.1, 2.0, size=(4,))),
})

# Saturated logits, every gamma of the spec: torchvision where it is finite (gamma 0, 1, 2),
# the log-space form where it is NaN (gamma 0.5) after checking they agree elsewhere.
SAT_X = f32([50.0, -50.0, 1e4, -1e4, 50.0, -50.0, 1e4, -1e4, 1.0, -1.0])
SAT_Y = f32([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])


def run(call, x, y, dtype):
    ns = {"torch": torch, "R": "none"}
    ns["input"] = torch.tensor(x, dtype=dtype, requires_grad=True)
    ns["target"] = torch.tensor(y, dtype=dtype)
    out = eval(call, ns)  # noqa: S307 - our own expressions
    (g,) = torch.autograd.grad(out.sum(), ns["input"])
    return out.detach().numpy(), g.numpy()


def mp_focal(x, y, alpha, gamma):
    """Loss and gradient of torchvision's definition at 50 digits (mpmath differentiates)."""
    mpmath.mp.dps = 50
    x, y = mpmath.mpf(x), mpmath.mpf(y)

    def f(x):
        p = 1 / (1 + mpmath.exp(-x))
        ce = -(y * mpmath.log(p) + (1 - y) * mpmath.log(1 - p))
        m = p * (1 - y) + (1 - p) * y
        a_t = 1 if alpha < 0 else alpha * y + (1 - alpha) * (1 - y)
        return a_t * ce * (m ** gamma if gamma else 1)

    return float(f(x)), float(mpmath.diff(f, x))


for gamma in (0.0, 0.5, 1.0, 2.0):
    for alpha in (0.25, -1.0):
        i = f"{L}/alpha={alpha}/gamma={gamma}/saturated-logits"
        params = {"alpha": alpha, "gamma": gamma}
        finite = True
        for dtype in (torch.float32, torch.float64):
            tl, tg = run(tv(alpha, gamma), SAT_X, SAT_Y, dtype)
            ll, lg = run(log_space(alpha, gamma), SAT_X, SAT_Y, dtype)
            finite &= bool(np.isfinite(tl).all() and np.isfinite(tg).all())
            ok = np.isfinite(tg)
            scale = np.abs(tl).max()
            assert np.allclose(tl, ll, rtol=1e-5, atol=1e-6 * scale), (i, tl, ll)
            assert np.allclose(tg[ok], lg[ok], rtol=1e-5, atol=1e-6), (i, tg, lg)
            assert np.isfinite(ll).all() and np.isfinite(lg).all(), (i, ll, lg)
            if dtype == torch.float64:
                for k, (xk, yk) in enumerate(zip(SAT_X, SAT_Y)):
                    if abs(xk) > 100:
                        continue  # mpmath's numerical derivative is not needed there
                    ml, mg = mp_focal(xk, yk, alpha, gamma)
                    assert math.isclose(ll[k], ml, rel_tol=1e-12, abs_tol=1e-300), (i, k, ll[k], ml)
                    assert math.isclose(lg[k], mg, rel_tol=1e-9, abs_tol=1e-300), (i, k, lg[k], mg)
        call = tv(alpha, gamma) if finite else log_space(alpha, gamma)
        fam.case(i, L, call, {"input": SAT_X, "target": SAT_Y}, params)

fam.error(f"{L}/error/target-1.5", L, {"input": f32([0.0, 1.0]), "target": f32([1.5, 1.0])},
          "`target` at [0] is 1.5, expected a target in [0, 1]")
fam.error(f"{L}/error/alpha-1.5", L, {"input": f32([0.0]), "target": f32([1.0])},
          "`alpha` must be <= 1 and finite", params={"alpha": 1.5})
fam.error(f"{L}/error/gamma-negative", L, {"input": f32([0.0]), "target": f32([1.0])},
          "`gamma` must be >= 0 and finite", params={"gamma": -1.0})

# ---------------------------------------------------------------------------------------------
# hinge, squared_hinge, soft_margin: ±1 targets
# ---------------------------------------------------------------------------------------------
ZERO_ONE = "expected -1 or +1 (map {0, 1} labels with 2y - 1 first"


def hinge(margin, power=""):
    return f"{REDUCE}(torch.clamp({margin!r} - target * input, min=0){power})"


def hinge_weighted(margin, power=""):
    return f"{WEIGHTED_B}(torch.clamp({margin!r} - target * input, min=0){power} * weight)"


for L, power in (("hinge", ""), ("squared_hinge", " ** 2")):
    i = f"{L}/default/[4, 5]"
    r = rng(i)
    fam.case(i, L, hinge(1.0, power), {"input": logits(r, (4, 5), 1.5), "target": signs(r, (4, 5))})

    i = f"{L}/margin=0.5/kinks/int-targets"
    # y·x = margin exactly: the kink, where the gradient is 0 as torch's clamp gives.
    x = f32([0.5, -0.5, 0.25, -2.0, 1.0, 0.0, 0.5, -0.5])
    y = np.array([1, -1, 1, -1, -1, 1, -1, 1], dtype=np.int64)
    fam.case(i, L, hinge(0.5, power), {"input": x, "target": y}, {"margin": 0.5})

    i = f"{L}/margin=2/weight-per-label/[3, 4]"
    r = rng(i)
    fam.case(i, L, hinge_weighted(2.0, power), {
        "input": logits(r, (3, 4), 2.0), "target": signs(r, (3, 4)),
        "weight": f32(r.uniform(0.0, 2.0, size=(4,))),
    }, {"margin": 2.0})

    fam.error(f"{L}/error/zero-one-labels", L,
              {"input": f32([0.3, -0.2, 0.9]), "target": f32([1.0, 0.0, 1.0])},
              f"`target` at [1] is 0, {ZERO_ONE}")

L = "soft_margin"
SM = f"{F}.soft_margin_loss(input, target, reduction=R)"
i = f"{L}/default/[4, 5]"
r = rng(i)
fam.case(i, L, SM, {"input": logits(r, (4, 5)), "target": signs(r, (4, 5))})

i = f"{L}/weight-elementwise/[6]"
r = rng(i)
fam.case(i, L, f"{WEIGHTED_B}({F}.soft_margin_loss(input, target, reduction='none') * weight)", {
    "input": logits(r, (6,)), "target": signs(r, (6,)), "weight": f32(r.uniform(0.0, 2.0, size=(6,))),
})

i = f"{L}/large-scores"
# torch's log1p(exp(−y·x)) overflows at −y·x ≳ 89 (f32) and 710 (f64): inf and NaN gradients.
x = f32([-100.0, 100.0, 1e4, -1e4, 0.0, 100.0, 30.0, -1e3])
y = f32([1.0, -1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0])
fam.case(i, L, f"{REDUCE}(-{F}.logsigmoid(target * input))", {"input": x, "target": y})

fam.error(f"{L}/error/zero-one-labels", L,
          {"input": f32([0.3, -0.2]), "target": f32([0.0, 1.0])},
          f"`target` at [0] is 0, {ZERO_ONE}")

# ---------------------------------------------------------------------------------------------
# hinge_embedding: ±1 targets, the input usually a distance
# ---------------------------------------------------------------------------------------------
L = "hinge_embedding"


def hel(margin=None):
    m = "" if margin is None else f", margin={margin!r}"
    return f"{F}.hinge_embedding_loss(input, target{m}, reduction=R)"


i = f"{L}/default/[4, 5]"
r = rng(i)
fam.case(i, L, hel(), {"input": f32(r.uniform(0.0, 2.0, size=(4, 5))), "target": signs(r, (4, 5))})
i = f"{L}/margin=0.5/[3, 4]"
r = rng(i)
fam.case(i, L, hel(0.5), {"input": logits(r, (3, 4), 1.0), "target": r.choice([-1, 1], size=(3, 4)).astype(np.int64)},
         {"margin": 0.5})
i = f"{L}/margin=-0.25/[6]"
r = rng(i)
fam.case(i, L, hel(-0.25), {"input": logits(r, (6,), 1.0), "target": signs(r, (6,))}, {"margin": -0.25})
i = f"{L}/margin=2/weight-per-label/[3, 4]"
r = rng(i)
fam.case(i, L, f"{WEIGHTED_B}({F}.hinge_embedding_loss(input, target, margin=2.0, reduction='none') * weight)", {
    "input": f32(r.uniform(0.0, 3.0, size=(3, 4))), "target": signs(r, (3, 4)),
    "weight": f32(r.uniform(0.0, 2.0, size=(4,))),
}, {"margin": 2.0})
i = f"{L}/non-finite"
# A NaN with target -1 is left out: torch's clamp_min gives it a gradient of 0, losskit keeps
# the NaN (as every hinge here: see Deliberate differences in docs/spec/losses.md).
fam.case(i, L, hel(), {"input": f32([float("inf"), float("inf"), float("-inf"), 0.5, float("nan"), 3.0]),
                       "target": f32([1.0, -1.0, -1.0, -1.0, 1.0, -1.0])})
fam.error(f"{L}/error/zero-one-labels", L,
          {"input": f32([0.3, 0.2, 0.9]), "target": f32([1.0, 0.0, 1.0])},
          f"`target` at [1] is 0, {ZERO_ONE}",
          call=hel() + "  # torch adds both branches for a 0 label: x + max(0, margin - x)")
fam.error(f"{L}/error/margin=inf", L, {"input": f32([0.3]), "target": f32([1.0])},
          "hinge_embedding: `margin` must be finite", params={"margin": float("inf")})

# ---------------------------------------------------------------------------------------------
# margin_ranking
# ---------------------------------------------------------------------------------------------
L = "margin_ranking"


def mrl(margin):
    return f"{F}.margin_ranking_loss(x1, x2, target, margin={margin!r}, reduction=R)"


i = f"{L}/default/[10]"
r = rng(i)
x1 = f32(r.normal(0.0, 1.0, size=(10,)))
x2 = f32(r.normal(0.0, 1.0, size=(10,)))
x2[:2] = x1[:2]  # ties: the kink at margin 0
fam.case(i, L, mrl(0.0), {"x1": x1, "x2": x2, "target": signs(r, (10,))}, grads=("x1", "x2"))

i = f"{L}/margin=0.5/[3, 4]"
r = rng(i)
fam.case(i, L, mrl(0.5), {
    "x1": logits(r, (3, 4), 1.0), "x2": logits(r, (3, 4), 1.0),
    "target": r.choice([-1, 1], size=(3, 4)).astype(np.int64),
}, {"margin": 0.5}, grads=("x1", "x2"))

i = f"{L}/margin=-0.25/[6]"
r = rng(i)
fam.case(i, L, mrl(-0.25), {
    "x1": logits(r, (6,), 1.0), "x2": logits(r, (6,), 1.0), "target": signs(r, (6,)),
}, {"margin": -0.25}, grads=("x1", "x2"))

fam.error(f"{L}/error/zero-target", L,
          {"x1": f32([0.0, 1.0]), "x2": f32([1.0, 0.0]), "target": f32([1.0, 0.0])},
          f"`target` at [1] is 0, {ZERO_ONE}")
fam.error(f"{L}/error/shape", L,
          {"x1": f32([0.0, 1.0]), "x2": f32([1.0]), "target": f32([1.0, 1.0])},
          "`x2` has shape [1], expected [2] (the shape of `x1`)")

# ----------------------------------------------------------------------------------------
# asymmetric: timm.loss.AsymmetricLossMultiLabel (its default disable_torch_grad_focal_loss=False:
# the focusing weight is differentiated); float64 with timm's own forward kept in float64.
L = "asymmetric"
TIMM = f"timm {timm.__version__} (torch {torch.__version__})"
ASL_TOL = {"f32": {"rel": 32.0, "abs": 32.0}, "f64": {"rel": 32.0, "abs": 32.0},
           "why": "timm forms 1 - sigmoid(x) and 1 - pt = 1 - (1 - p + clip) by subtraction (in float32 "
                  "for float32 input): a negative just above the clip threshold has a focusing weight "
                  "(p - clip)^4 whose base carries an absolute error of ~eps, amplified by gamma/u in the "
                  "gradient; losskit computes sigma(-x) and p - clip directly"}


def asl(**kw):
    kws = "".join(f", {k}={v!r}" for k, v in kw.items())
    return f"timm_asl(input, target, R{kws})"


i = f"{L}/default/[6, 5]"
r = rng(i)
fam.case(i, L, asl(), {"input": logits(r, (6, 5)), "target": hard(r, (6, 5))}, tool=TIMM,
         tolerance=ASL_TOL)
i = f"{L}/default/soft/[4, 3]"
r = rng(i)
fam.case(i, L, asl(), {"input": logits(r, (4, 3)), "target": soft(r, (4, 3))}, tool=TIMM,
         tolerance=ASL_TOL)
for kw in ({"gamma_neg": 2.0, "gamma_pos": 0.0, "clip": 0.0},
           {"gamma_neg": 3.0, "gamma_pos": 2.0, "clip": 0.2, "eps": 1e-4},
           {"gamma_neg": 0.0, "gamma_pos": 0.0, "clip": 0.1}):
    i = f"{L}/" + "/".join(f"{k}={v}" for k, v in kw.items())
    r = rng(i)
    fam.case(i, L, asl(**kw), {"input": logits(r, (5, 4)), "target": hard(r, (5, 4))}, kw, tool=TIMM,
             tolerance=ASL_TOL)
# Logits around the clip threshold (σ(x) = 0.05 at x ≈ −2.944) and where eps clamps ln σ.
x = f32(np.array([[-2.5, -2.9, -3.0, -3.5, -19.0, -25.0], [1.0, 0.0, -2.9, -3.0, -19.0, -25.0]]))
y = f32(np.array([[0.0, 0.0, 0.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]))
fam.case(f"{L}/clip-and-eps-thresholds", L, asl(), {"input": x, "target": y}, tool=TIMM,
         tolerance=ASL_TOL)
fam.error(f"{L}/error/target-1.5", L, {"input": f32([0.0, 1.0]), "target": f32([1.0, 1.5])},
          "`target` at [1] is 1.5, expected a target in [0, 1]", call=asl() + "  # timm: a number")
fam.error(f"{L}/error/clip", L, {"input": f32([0.0]), "target": f32([1.0])},
          "`clip` must be in [0, 1], got -0.1", params={"clip": -0.1})

# ----------------------------------------------------------------------------------------
# multilabel_soft_margin: torch's multilabel_soft_margin_loss (`none` is one loss per sample)
L = "multilabel_soft_margin"


def mlsm(extra=""):
    return f"{F}.multilabel_soft_margin_loss(input, target{extra}, reduction=R)"


i = f"{L}/[5, 4]"
r = rng(i)
fam.case(i, L, mlsm(), {"input": logits(r, (5, 4)), "target": hard(r, (5, 4))})
i = f"{L}/soft/[3, 6]"
r = rng(i)
fam.case(i, L, mlsm(), {"input": logits(r, (3, 6)), "target": soft(r, (3, 6))})
i = f"{L}/weight/[4, 3]"
r = rng(i)
fam.case(i, L, mlsm(", weight=weight"), {"input": logits(r, (4, 3)), "target": hard(r, (4, 3)),
                                         "weight": f32(r.uniform(0.2, 3.0, size=3))})
i = f"{L}/single-sample-[C]"
r = rng(i)
fam.case(i, L, mlsm(), {"input": logits(r, (5,)), "target": hard(r, (5,))})
fam.case(f"{L}/saturated", L, mlsm(),
         {"input": f32(np.array([[60.0, -60.0, 1e4], [-1e4, 0.0, 30.0]])),
          "target": f32(np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))})
fam.error(f"{L}/error/weight-[4]-on-[2, 3]", L,
          {"input": f32(np.zeros((2, 3))), "target": f32(np.zeros((2, 3))), "weight": f32(np.ones(4))},
          "`weight` has shape [4], expected [3]", call=mlsm(", weight=weight") + "  # torch: broadcast error",
          torch_raises="")
fam.error(f"{L}/error/target-1.5", L,
          {"input": f32(np.zeros((1, 2))), "target": f32(np.array([[1.0, 1.5]]))},
          "`target` at [0, 1] is 1.5, expected a target in [0, 1]", call=mlsm() + "  # torch: a number")

fam.write()
