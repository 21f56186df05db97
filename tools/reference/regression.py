"""Reference cases of the regression family -> crates/losskit/tests/reference/regression.json.

Run: python tools/reference/regression.py  (in a Python with tools/reference/requirements.txt; see README.md)
"""

import os

import numpy as np
import scipy
from scipy.optimize._lsq.least_squares import construct_loss_function

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 on the torch backend: autograd
import keras
import torch

import common
from common import REDUCE, Family, f32, rng, weighted

F = "torch.nn.functional"
INF, NAN = float("inf"), float("nan")


def torch_loss(fn, args="input, target", **kw):
    """(call with `R`, per-element call) of a torch loss; `kw` as the call's keywords."""
    kws = "".join(f", {k}={v!r}" for k, v in kw.items())
    return f"{F}.{fn}({args}, reduction=R{kws})", f"{F}.{fn}({args}, reduction='none'{kws})"


def formula(expr):
    """(call with `R`, per-element expression) of a loss written as torch ops."""
    return f"{REDUCE}({expr})", expr


def quantile(tau):
    return formula(f"torch.maximum({tau} * (target - input), ({tau} - 1) * (target - input))")


KERAS = f"keras {keras.__version__}"

# Keras's own expressions, evaluated in float64 (then rounded to the pass's type): Keras 3
# computes these in float32 even for float64 inputs (its `epsilon()` tensor is float32 and its
# type promotion keeps float32), so it cannot give the float64 numbers itself. `keras_check`
# holds each expression to the Keras function on every case's float32 inputs.
KERAS_EXPR = {
    # keras.losses.mean_squared_logarithmic_error
    "msle": "torch.square(torch.log(torch.maximum(input.double(), EPS) + 1.0)"
            " - torch.log(torch.maximum(target.double(), EPS) + 1.0))",
    # keras.losses.mean_absolute_percentage_error
    "mape": "100.0 * torch.abs((target.double() - input.double())"
            " / torch.maximum(torch.abs(target.double()), EPS))",
}
KERAS_FN = {"msle": keras.losses.mean_squared_logarithmic_error,
            "mape": keras.losses.mean_absolute_percentage_error}
NAMES = {"EPS": torch.tensor(keras.config.epsilon(), dtype=torch.float64)}


def keras_check(loss, inputs):
    """Keras's function on the float32 inputs (per element: a trailing axis of 1 for it to
    average over) against its expression above, to float32 accuracy."""
    x = torch.tensor(inputs["input"], dtype=torch.float32)[..., None]
    t = torch.tensor(inputs["target"], dtype=torch.float32)[..., None]
    got = KERAS_FN[loss](t, x).double()
    want = eval(KERAS_EXPR[loss], {"torch": torch, "input": x[..., 0], "target": t[..., 0], **NAMES})  # noqa: S307
    scale = max([1.0] + [abs(v) for v in want.ravel().tolist() if np.isfinite(v)])
    ok = torch.isclose(got, want, rtol=1e-5, atol=1e-6 * scale, equal_nan=True)
    if not bool(ok.all()):
        raise ValueError(f"{loss}: Keras {got} vs its expression {want}")


def wing(w, eps):
    """Feng et al. 2018, eq. 5, as written (no library ships it)."""
    c = float(w - w * np.log1p(w / eps))
    return formula(f"torch.where((input - target).abs() < {w!r}, {w!r} * torch.log1p((input - target).abs() / {eps!r}),"
                   f" (input - target).abs() - {c!r})")


def cauchy(c):
    """SciPy least_squares' cost of one residual, ½·f_scale²·ρ((f/f_scale)²), ρ(z) = ln(1 + z),
    in float64 (then rounded to the pass's type); `scipy_check` holds it to SciPy's own."""
    return formula(f"0.5 * {c!r} ** 2 * torch.log1p(((input.double() - target.double()) / {c!r}) ** 2)")


def cauchy_far(c):
    """`cauchy(c)` as 2·ln|z| + ln(1 + 1/z²), the same function for every z ≠ 0, whose autograd
    gives the limit 0 at an infinite residual (the form above gives inf/inf = NaN there)."""
    e = "(input.double() - target.double())"
    return f"{REDUCE}(0.5 * {c!r} ** 2 * (2 * torch.log(torch.abs({e} / {c!r})) + torch.log1p(({c!r} / {e}) ** 2)))"


# The non-finite cases of losses whose plain formula's autograd is NaN at an infinite residual
# where the limit is finite (cauchy's gradient tends to 0): the call, from the case's params.
FAR = {"cauchy": lambda p: cauchy_far(p.get("c", 1.0))}


def scipy_check(c, inputs):
    """SciPy's loss function (`least_squares(loss="cauchy", f_scale=c)`): its cost 0.5·ρ₀ and
    gradient ρ₁·f per residual f = input - target, in float64, against `cauchy(c)`'s."""
    f = (np.asarray(inputs["input"]) - np.asarray(inputs["target"])).ravel()
    ok = np.isfinite(f)
    f = f[ok]
    rho = construct_loss_function(f.size, "cauchy", c)(f)
    x = torch.tensor(np.asarray(inputs["input"]).ravel()[ok], dtype=torch.float64, requires_grad=True)
    t = torch.tensor(np.asarray(inputs["target"]).ravel()[ok], dtype=torch.float64)
    ours = eval(cauchy(c)[1], {"torch": torch, "input": x, "target": t})  # noqa: S307
    (g,) = torch.autograd.grad(ours.sum(), [x])
    if not (np.allclose(0.5 * rho[0], ours.detach().numpy(), rtol=1e-13, atol=0)
            and np.allclose(rho[1] * f, g.numpy(), rtol=1e-13, atol=1e-300)):
        raise ValueError(f"cauchy c={c}: SciPy {0.5 * rho[0]}, {rho[1] * f} vs {ours}, {g}")


# Every pointwise loss: (label, params, (call, per-element call)); the first is the default,
# given without params so the catalogue's defaults are checked against the tool's.
POINTWISE = {
    "mse": [("default", {}, torch_loss("mse_loss"))],
    "l2": [("default", {}, tuple(f"0.5 * {c}" for c in torch_loss("mse_loss")))],
    "mae": [("default", {}, torch_loss("l1_loss"))],
    "huber": [("default", {}, torch_loss("huber_loss"))]
    + [(f"delta={d}", {"delta": d}, torch_loss("huber_loss", delta=d)) for d in (0.5, 1.0, 2.0)],
    "smooth_l1": [("default", {}, torch_loss("smooth_l1_loss"))]
    + [(f"beta={b}", {"beta": b}, torch_loss("smooth_l1_loss", beta=b)) for b in (0.0, 0.5, 1.0)],
    # optax.log_cosh's expression; logaddexp keeps it finite for any residual.
    "log_cosh": [("default", {}, formula("torch.logaddexp(input - target, target - input) - math.log(2)"))],
    "quantile": [("default", {}, quantile(0.5))]
    + [(f"tau={t}", {"tau": t}, quantile(t)) for t in (0.1, 0.5, 0.9)],
    **{loss: [("default", {}, formula(expr))] for loss, expr in KERAS_EXPR.items()},
    "cauchy": [("default", {}, cauchy(1.0))]
    + [(f"c={c}", {"c": c}, cauchy(c)) for c in (0.5, 2.0)],
    "wing": [("default", {}, wing(10.0, 2.0))]
    + [(f"w={w}/epsilon={e}", {"w": w, "epsilon": e}, wing(w, e)) for w, e in ((1.0, 0.5), (0.5, 2.0))],
}
# Losses whose gradient at a NaN input torch reports as a number (l1_loss and smooth_l1_loss
# with beta 0: 0; maximum: 1 - 2 tau, both branches taking the full gradient); losskit
# propagates the NaN. Their non-finite cases use infinities only.
NAN_GRAD_DIFFERS = {"mae", "quantile", "smooth_l1/beta=0.0", "mape", "wing"}
# Losses whose value at an infinite target is inf/inf = NaN, a NaN that torch's `abs` gives a
# gradient of 0 (losskit: NaN); their non-finite case has infinite predictions only.
INF_TARGET_NAN = {"mape"}

fam = Family("regression", tools={"keras": keras.__version__, "scipy": scipy.__version__}, names=NAMES)


def case(id, loss, call, inputs, params=None, **kw):
    """`fam.case`, with the tool of the loss's anchor and Keras's own check."""
    if loss in KERAS_EXPR:
        kw["tool"] = f"{KERAS}: the keras.losses definition in float64 (see call), checked against Keras itself in float32"
        if not common.ONLY or loss in common.ONLY:
            keras_check(loss, inputs)
    if loss == "cauchy":
        kw["tool"] = (f"scipy {scipy.__version__}: least_squares(loss='cauchy', f_scale=c)'s cost per residual"
                      " in float64 via torch autograd (see call), checked against SciPy's own loss function")
        if not common.ONLY or loss in common.ONLY:
            scipy_check((params or {}).get("c", 1.0), inputs)
    fam.case(id, loss, call, inputs, params, **kw)


def normal(case_id, shape, *scales):
    g = rng(case_id)
    return [f32(g.normal(0.0, s, shape)) for s in scales]


def weight_for(case_id, shape):
    w = f32(rng(case_id + "/w").uniform(0.0, 2.0, shape))
    w.ravel()[[1, 4]] = 0.0  # zero weights count in neither sum
    return w


# --- pointwise losses -------------------------------------------------------------------
for loss, settings in POINTWISE.items():
    for label, params, (call, elementwise) in settings:
        key = f"{loss}/{label}"
        x, t = normal(key + "/mixed", (3, 4), 1.5, 1.0)
        case(key + "/mixed", loss, call, {"input": x, "target": t}, params)

        # Exact ties (gradient 0, or 1/2 - tau for quantile), residuals exactly at the
        # thresholds 0.5, 1 and 2, and tiny residuals.
        t = f32([[0.25, -1.0, 0.0, 3.0], [0.25, 0.25, 0.25, -0.5], [1.0, 2.0, 0.0, 0.0]])
        e = f32([[0.0, 0.0, 0.0, 0.0], [0.5, -0.5, 1.0, -1.0], [2.0, -2.0, 1e-3, -1e-30]])
        case(key + "/ties-and-thresholds", loss, call, {"input": f32(t + e), "target": t}, params)

        # One side infinite per element (inf - inf would be NaN).
        nan = NAN if not NAN_GRAD_DIFFERS & {loss, key} else 0.5
        x = f32([[INF, -INF, 1.5], [nan, 0.0, -2.0]])
        t = f32([[0.0, 1.0, 0.0], [0.0, INF, -INF]])
        if loss in INF_TARGET_NAN:
            t = f32([[0.0, 1.0, 0.0], [0.0, 1e30, -1e30]])
        far = FAR.get(loss)
        case(key + "/non-finite", loss, far(params) if far else call, {"input": x, "target": t}, params)

        if label != "default":
            continue
        for shape, name in (((7,), "vector"), ((2, 3, 4), "3d"), ((1,), "single")):
            x, t = normal(f"{key}/{name}", shape, 1.5, 1.0)
            case(f"{key}/{name}", loss, call, {"input": x, "target": t}, params)

        x, t = normal(key + "/weighted", (4, 5), 1.5, 1.0)
        case(key + "/weighted", loss, weighted(elementwise),
                 {"input": x, "target": t, "weight": weight_for(key, (4, 5))}, params)

for loss, label in (("huber", "delta=2.0"), ("smooth_l1", "beta=0.0"), ("quantile", "tau=0.9")):
    (params, (_, elementwise)), = [(p, c) for lb, p, c in POINTWISE[loss] if lb == label]
    key = f"{loss}/{label}/weighted"
    x, t = normal(key, (2, 3, 4), 1.5, 1.0)
    fam.case(key, loss, weighted(elementwise),
             {"input": x, "target": t, "weight": weight_for(key, (2, 3, 4))}, params)

# msle on what it is for: positive, skewed values over orders of magnitude; values at and
# around Keras's floor 1e-7 (never exactly at it, where torch's maximum splits the gradient);
# huge ones; and nearby pairs, where ln(1 + x) - ln(1 + y) cancels.
MSLE = POINTWISE["msle"][0][2][0]
g = rng("msle/default/skewed")
case("msle/default/skewed", "msle", MSLE,
     {"input": f32(np.exp(g.normal(1.0, 2.0, (4, 5)))), "target": f32(np.exp(g.normal(1.0, 2.0, (4, 5))))})
case("msle/default/near-the-floor", "msle", MSLE,
     {"input": f32([0.0, 5e-8, 2e-7, -3.0, 1e-3, 1e-6, 0.5, -1e-9]),
      "target": f32([1e-3, 0.0, 0.0, 2.0, -1.0, 3e-7, 1e-8, 1e-5])})
case("msle/default/huge", "msle", MSLE,
     {"input": f32([1e30, 3e38, 7.5, 1e6]), "target": f32([1e29, 1.0, 7.5, 2e6])})
# Nearby pairs: Keras's log(1 + x) - log(1 + y) cancels even in float64 (an error of ~ε/d in
# d), so the reference takes the same difference as log1p((x - y)/(1 + y)), exact to rounding
# (inputs above the floor, so max() is the identity there); Keras is checked against it too.
case("msle/default/close-pairs", "msle",
     f"{REDUCE}(torch.square(torch.log1p((input.double() - target.double()) / (1.0 + target.double()))))",
     {"input": f32([1e-3, 1000.0, 2.0, 0.1, 3e4]), "target": f32([1.001e-3, 1000.5, 2.0001, 0.1001, 3.0001e4])})

# mape: targets of every size and sign, and at, below and around the floor 1e-7 (0 included),
# where the loss is 1e9·|e|.
MAPE = POINTWISE["mape"][0][2][0]
g = rng("mape/default/skewed")
case("mape/default/skewed", "mape", MAPE,
     {"input": f32(np.exp(g.normal(1.0, 2.0, (4, 5)))), "target": f32(np.exp(g.normal(1.0, 2.0, (4, 5))))})
case("mape/default/small-targets", "mape", MAPE,
     {"input": f32([0.5, -0.5, 1e-7, 2e-7, 3.0, -2.0]),
      "target": f32([0.0, 5e-8, -3e-8, 1e-6, -1e-7, -2.5])})

# cauchy far out, where (e/c)² overflows float32 at |e/c| ~ 1.8e19; and wing right at its
# threshold |e| = w (the linear side) and its tiny residuals.
CAUCHY = POINTWISE["cauchy"][0][2][0]
case("cauchy/default/extreme", "cauchy", CAUCHY,
     {"input": f32([1e20, -1e30, 3e38, 1e-20, 0.0, -2.0]), "target": f32([0.0, 0.0, 0.0, 0.0, 0.0, -2.0])})
case("wing/w=1.0/epsilon=0.5/threshold", "wing", POINTWISE["wing"][1][2][0],
     {"input": f32([1.0, -1.0, 0.5, 1e-6, -1e-3, 3.0]), "target": f32([0.0, 0.0, 1.5, 0.0, 0.0, 0.0])},
     {"w": 1.0, "epsilon": 0.5})
for loss, param, bad in (("cauchy", "c", 0.0), ("wing", "w", -1.0), ("wing", "epsilon", 0.0)):
    fam.error(f"{loss}/error/{param}={bad}", loss, {"input": f32([1.0]), "target": f32([0.0])},
              f"{loss}: `{param}` must be > 0 and finite", params={param: bad})

# log_cosh far out: cosh overflows float32 at |e| ~ 89 and float64 at ~ 710.
e = f32([1e4, -1e4, 1e3, -1e3, 100.0, -100.0, 20.0, 0.0, 1e-3, -0.5])
t = f32(np.linspace(-1.0, 1.0, e.size))
fam.case("log_cosh/default/extreme", "log_cosh", POINTWISE["log_cosh"][0][2][0],
         {"input": f32(t + e), "target": t})

# log_cosh near 0, where the value is ~e²/2: logaddexp's form cancels there (absolute error
# ~ε, so a relative error of ε/e²); cosh e - 1 = 2 sinh²(e/2) keeps full relative accuracy
# and cannot overflow at these residuals. input - target is exact (target 0, or near input).
# Only small residuals, so the absolute floor of the tolerance (relative to the largest value
# of the case) does not hide a loss of relative accuracy.
e = f32([1e-8, -3e-6, 1e-4, -2e-3, 0.01, -0.004])
t = f32([0.0, 0.0, 0.0, 0.0, 1.0, -2.0])
fam.case("log_cosh/default/small-residuals", "log_cosh",
         f"{REDUCE}(torch.log1p(2 * torch.sinh((input - target) / 2) ** 2))",
         {"input": f32(t + e), "target": t})

# Many elements of mixed sizes: one residual of 100 (loss 1e4, float32 spacing ~1e-3 there)
# and 999 of about ±0.02 (losses ~4e-4, each under half that spacing). A float32 running sum
# drops every small loss (an error of ~300 ε); the spec accumulates in f64, so the f32
# reference sums torch's float32 per-element losses in float64.
g = rng("mse/default/large")
t = f32(g.normal(0.0, 1.0, (40, 25)))
x = f32(t + g.choice([-1.0, 1.0], t.shape) * g.uniform(0.018, 0.022, t.shape))
x[0, 0] = f32(t[0, 0] + 100.0)
fam.case("mse/default/large", "mse",
         "{'sum': lambda l: l.double().sum(), 'mean': lambda l: l.double().mean()}[R]"
         f"({F}.mse_loss(input, target, reduction='none'))",
         {"input": x, "target": t}, reductions=("mean", "sum"))

# --- poisson_nll --------------------------------------------------------------------------
g = rng("poisson_nll")
counts = f32([[0.0, 1.0, 0.5, 1.5], [2.0, 3.0, 7.0, 0.0], [12.0, 1.0, 4.0, 40.0]])
log_rates = f32(g.normal(0.5, 1.2, counts.shape))
rates = f32(np.exp(g.normal(0.5, 1.2, counts.shape)))
rates[1, 3] = 0.0  # zero rate, zero count
POISSON = [
    ("default", {}, {}, log_rates),
    ("full=true", {"full": True}, {"full": True}, log_rates),
    ("log_input=false", {"log_input": False}, {"log_input": False}, rates),
    ("log_input=false/full=true", {"log_input": False, "full": True},
     {"log_input": False, "full": True}, rates),
    ("log_input=false/eps=0.001", {"log_input": False, "eps": 1e-3},
     {"log_input": False, "eps": 1e-3}, rates),
]
for label, params, kw, x in POISSON:
    call, elementwise = torch_loss("poisson_nll_loss", **kw)
    # full: the Stirling term is masked where target <= 1 (0, 0.5 and 1 are here).
    fam.case(f"poisson_nll/{label}/mixed", "poisson_nll", call, {"input": x, "target": counts}, params)
call, elementwise = torch_loss("poisson_nll_loss")
for name, shape in (("3d", (2, 3, 4)), ("vector", (5,))):
    g = rng(f"poisson_nll/{name}")
    fam.case(f"poisson_nll/default/{name}", "poisson_nll", call,
             {"input": f32(g.normal(0.0, 1.0, shape)), "target": f32(g.poisson(3.0, shape))})
g = rng("poisson_nll/weighted")
fam.case("poisson_nll/default/weighted", "poisson_nll", weighted(elementwise),
         {"input": f32(g.normal(0.0, 1.0, (4, 5))), "target": f32(g.poisson(3.0, (4, 5))),
          "weight": weight_for("poisson_nll", (4, 5))})
# The rate form with eps = 0 at a zero count: losskit takes 0 * ln(0) = 0, so the loss is the
# rate and the gradient 1 (documented in PoissonNll's rustdoc); torch gives NaN at rate 0.
# The call evaluates torch's loss where it is defined and the limit elsewhere. A positive
# count at rate 0 gives ln(0) = -inf: loss +inf, gradient -inf, in torch and losskit alike.
x = f32([[0.0, 0.0, 2.0], [1.5, 0.0, 3.0]])
t = f32([[0.0, 3.0, 0.0], [2.0, 0.0, 1.0]])
zero = "(target == 0)"
fam.case("poisson_nll/log_input=false/eps=0/zero-count", "poisson_nll",
         f"{REDUCE}(torch.where({zero}, input, {F}.poisson_nll_loss(torch.where({zero}, 1.0, input), "
         "target, log_input=False, eps=0.0, reduction='none')))",
         {"input": x, "target": t}, {"log_input": False, "eps": 0.0})

# --- gaussian_nll -------------------------------------------------------------------------
# torch clamps a clone of `var` in place under no_grad, so the gradient passes through the
# clamp: where var < eps it is the gradient at eps (not 0).
GRADS = ("input", "var")


def gaussian(case_id, shape, var_shape, full=None, eps=None, weight=False, var=None):
    g = rng(case_id)
    x, t = f32(g.normal(0.0, 1.5, shape)), f32(g.normal(0.0, 1.0, shape))
    v = f32(np.exp(g.normal(0.0, 1.0, var_shape))) if var is None else f32(var)
    params = {k: p for k, p in (("full", full), ("eps", eps)) if p is not None}
    call, elementwise = torch_loss("gaussian_nll_loss", "input, target, var", **params)
    inputs = {"input": x, "target": t, "var": v}
    if weight:
        call = weighted(elementwise)
        inputs["weight"] = weight_for(case_id, shape)
    fam.case(case_id, "gaussian_nll", call, inputs, params, grads=GRADS)


gaussian("gaussian_nll/default/mixed", (3, 4), (3, 4))
gaussian("gaussian_nll/full=true/mixed", (3, 4), (3, 4), full=True)
gaussian("gaussian_nll/default/vector", (6,), (6,))
gaussian("gaussian_nll/default/3d", (2, 3, 4), (2, 3, 4))
# One variance per row: the last dimension 1, or dropped.
gaussian("gaussian_nll/default/var-last-dim-1", (3, 4), (3, 1))
gaussian("gaussian_nll/default/var-last-dim-dropped", (3, 4), (3,))
gaussian("gaussian_nll/full=true/3d-var-last-dim-1", (2, 3, 4), (2, 3, 1), full=True)
gaussian("gaussian_nll/default/3d-var-last-dim-dropped", (2, 3, 4), (2, 3))
# One variance per pixel shared over the channels: input [N, C, H, W], var [N, 1, H, W].
gaussian("gaussian_nll/default/4d-var-channel-dim-1", (2, 3, 4, 5), (2, 1, 4, 5))
gaussian("gaussian_nll/full=true/var-first-dim-1", (3, 4), (1, 4), full=True)
gaussian("gaussian_nll/default/weighted", (4, 5), (4, 5), weight=True)
gaussian("gaussian_nll/eps=0.01/weighted-var-last-dim-1", (4, 5), (4, 1), eps=0.01, weight=True)
# eps = 0.25 clamps about a tenth of these variances.
gaussian("gaussian_nll/eps=0.25/mixed", (3, 4), (3, 4), eps=0.25)
# Variances at and below the default eps (1e-6), exactly 0 included: clamped.
gaussian("gaussian_nll/default/tiny-var", (2, 3), None,
         var=[[1e-12, 0.0, 1e-9], [1e-7, 5e-7, 2e-6]])
gaussian("gaussian_nll/full=true/huge-var", (2, 3), None, full=True,
         var=[[1e12, 1e12, 3e11], [1e10, 5e12, 1e12]])

# --- errors -------------------------------------------------------------------------------
x4, t4 = normal("errors", (4,), 1.0, 1.0)
x34, t34 = normal("errors/2d", (3, 4), 1.0, 1.0)
BROADCASTS = "  # torch broadcasts these shapes with a UserWarning; the spec broadcasts nothing"
for loss in ("mse", "huber", "log_cosh"):
    call = POINTWISE[loss][0][2][0]
    fam.error(f"{loss}/error/input-n1-target-n", loss, {"input": x4.reshape(4, 1), "target": t4},
              "`target` has shape [4], expected [4, 1]", call=call + BROADCASTS)
fam.error("mae/error/input-n-target-n1", "mae", {"input": x4, "target": t4.reshape(4, 1)},
          "mae: `target` has shape [4, 1], expected [4]", call=POINTWISE["mae"][0][2][0] + BROADCASTS)
fam.error("mse/error/weight-shape", "mse",
          {"input": x34, "target": t34, "weight": f32(np.ones(4))},
          "mse: `weight` has shape [4], expected [3, 4]",
          call=f"torch.nn.functional.mse_loss(input, target, reduction=R, weight=weight)",
          torch_raises="Weights and input must have the same size")
w = f32(np.ones((3, 4)))
w[1, 2] = -1.0
fam.error("huber/error/negative-weight", "huber", {"input": x34, "target": t34, "weight": w},
          "huber: `weight` at [1, 2] is -1, expected a finite weight >= 0")
fam.error("mse/error/empty-mean", "mse", {"input": f32(np.zeros(0)), "target": f32(np.zeros(0))},
          "mse: reduction `mean` over an empty input is undefined",
          call=POINTWISE["mse"][0][2][0] + "  # torch returns nan")
for delta in (0.0, -1.0):
    fam.error(f"huber/error/delta={delta}", "huber", {"input": x4, "target": t4},
              "huber: `delta` must be > 0 and finite", params={"delta": delta},
              call=torch_loss("huber_loss", delta=delta)[0],
              torch_raises="does not support non-positive values for delta")
fam.error("huber/error/delta=nan", "huber", {"input": x4, "target": t4},
          "huber: `delta` must be > 0 and finite, got NaN", params={"delta": "nan"})
fam.error("smooth_l1/error/beta=-1", "smooth_l1", {"input": x4, "target": t4},
          "smooth_l1: `beta` must be >= 0 and finite", params={"beta": -1.0},
          call=torch_loss("smooth_l1_loss", beta=-1.0)[0],
          torch_raises="does not support negative values for beta")
for tau in (0.0, 1.0, 1.5, -0.1):
    fam.error(f"quantile/error/tau={tau}", "quantile", {"input": x4, "target": t4},
              "quantile: `tau` must be in (0, 1)", params={"tau": tau})
fam.error("poisson_nll/error/negative-target", "poisson_nll",
          {"input": x4, "target": f32([1.0, 0.0, -1.0, 2.0])},
          "poisson_nll: `target` at [2] is -1, expected a count >= 0",
          call=torch_loss("poisson_nll_loss")[0] + "  # torch computes it anyway")
fam.error("poisson_nll/error/negative-rate", "poisson_nll",
          {"input": f32([1.0, -0.5, 1.0, 2.0]), "target": f32([1.0, 0.0, 1.0, 2.0])},
          "poisson_nll: `input` at [1] is -0.5, expected a rate >= 0",
          params={"log_input": False},
          call=torch_loss("poisson_nll_loss", log_input=False)[0] + "  # torch gives nan")
fam.error("poisson_nll/error/eps=-1", "poisson_nll", {"input": x4, "target": f32([1.0, 0.0, 1.0, 2.0])},
          "poisson_nll: `eps` must be >= 0", params={"eps": -1.0})
var = f32(np.ones((3, 4)))
var[0, 1] = -0.5
GNLL = torch_loss("gaussian_nll_loss", "input, target, var")[0]
fam.error("gaussian_nll/error/negative-var", "gaussian_nll", {"input": x34, "target": t34, "var": var},
          "gaussian_nll: `var` at [0, 1] is -0.5, expected a variance >= 0",
          call=GNLL, torch_raises="var has negative entry")
fam.error("gaussian_nll/error/var-shape", "gaussian_nll",
          {"input": x34, "target": t34, "var": f32(np.ones((3, 2)))},
          "gaussian_nll: `var` has shape [3, 2], expected [3, 4]",
          call=GNLL, torch_raises="var is of incorrect size")
fam.error("gaussian_nll/error/eps=0", "gaussian_nll",
          {"input": x34, "target": t34, "var": f32(np.ones((3, 4)))},
          "gaussian_nll: `eps` must be > 0", params={"eps": 0.0})

# --- adaptive_wing: Wang et al. 2019, eq. 6 -----------------------------------------------
# No library ships it (the authors' repository has no training code): the anchor is the
# paper's formula, written below in float64 torch for both passes (the f32 pass gets it rounded),
# its gradient torch autograd (the exponent α − target is a constant of the label), checked by
# torch.autograd.gradcheck away from the kinks of |e| at 0.
AW = "adaptive_wing"
AW_TOOL = f"the formula of Wang et al. 2019 (eq. 6) in float64 torch {torch.__version__} autograd (see call)"


def awing(omega=14.0, theta=0.5, eps=1.0, alpha=2.1, reduce=REDUCE):
    a = f"({alpha!r} - target.double())"
    d = "(input.double() - target.double()).abs()"
    r = f"({theta!r} / {eps!r})"
    big_a = f"({omega!r} * (1 / (1 + {r} ** {a})) * {a} * {r} ** ({a} - 1) * (1 / {eps!r}))"
    c = f"({theta!r} * {big_a} - {omega!r} * torch.log1p({r} ** {a}))"
    return (f"{reduce}(torch.where({d} < {theta!r}, {omega!r} * torch.log1p(({d} / {eps!r}) ** {a}),"
            f" {big_a} * {d} - {c}))")


def aw_inputs(case_id, shape):
    g = rng(case_id)
    t = f32(np.where(g.uniform(size=shape) < 0.5, 0.0, g.uniform(0.0, 1.0, size=shape)))
    e = g.normal(0.0, 0.4, size=shape)
    return f32(t + e), t


def aw_gradcheck(params, x, t):
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    tt = torch.tensor(t, dtype=torch.float64)
    fn = lambda inp: eval(awing(**params, reduce="torch.sum"), {"torch": torch, "input": inp, "target": tt})  # noqa: E731, S307
    if not torch.autograd.gradcheck(fn, (xt,), eps=1e-7, atol=1e-6):
        raise ValueError(f"adaptive_wing {params}: autograd disagrees with finite differences")


AW_PARAMS = {"omega": 10.0, "theta": 0.3, "eps": 2.0, "alpha": 2.5}
for label, params, shape in (("default", {}, (4, 5)), ("omega=10/theta=0.3/epsilon=2/alpha=2.5", AW_PARAMS, (3, 6))):
    key = f"{AW}/{label}"
    x, t = aw_inputs(key, shape)
    if not common.ONLY or AW in common.ONLY:
        aw_gradcheck(params, x, t)
    lk = {("epsilon" if k == "eps" else k): v for k, v in params.items()}
    fam.case(key, AW, awing(**params), {"input": x, "target": t}, lk, tool=AW_TOOL)
key = f"{AW}/default/weighted"
x, t = aw_inputs(key, (4, 5))
fam.case(key, AW, weighted(awing(reduce="")), {"input": x, "target": t, "weight": weight_for(key, (4, 5))},
         tool=AW_TOOL)
# Residuals at 0, just inside and outside θ, large ones, and targets 0 and 1 (exponents 2.1, 1.1).
t = f32([[0.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.5]])
e = f32([[0.0, 0.4999, 0.5, -3.0, 1e-4], [0.0, -0.4999, -0.5, 25.0, -1e-4]])
fam.case(f"{AW}/default/thresholds", AW, awing(), {"input": f32(t + e), "target": t}, tool=AW_TOOL)
fam.error(f"{AW}/error/target-1.5", AW, {"input": f32([0.0, 0.5]), "target": f32([0.0, 1.5])},
          "`target` at [1] is 1.5, expected a heatmap value in [0, 1]", call="the formula: its exponent α − y falls below 1")
fam.error(f"{AW}/error/alpha=1", AW, {"input": f32([0.0]), "target": f32([0.0])},
          "`alpha` must be > 1 and finite, got 1", params={"alpha": 1.0})

fam.write()
