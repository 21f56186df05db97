"""Reference second derivatives -> crates/losskit/tests/reference/hessians/hessians.json.

Run: python tools/reference/hessians.py  (in a Python with tools/reference/requirements.txt;
torchvision for `focal`; see README.md)

Two kinds of case (the format: FORMAT.md, "Hessian cases"):
- `curvature: exact`: the value, the gradient and the diagonal of the Hessian with respect to
  `input` from PyTorch autograd in float64, the diagonal by double backward (`diag_hessian`
  below: one backward of the gradient's sum for the element-wise losses, whose Hessian is
  diagonal; one per class for the softmax losses, keeping the class's own column);
- `curvature: xgboost` / `lightgbm`: the gradient and the hessian as the boosting library's
  built-in objective computes them, its source's formula transcribed in NumPy float64 (the
  `call` says which file), and, for the losses XGBoost defines (gamma, Tweedie,
  pseudo-Huber), its metric's formula for the value. These check losskit's `Curvature`
  policies and new losses against the libraries' own definitions, not against losskit.
"""

import math

import numpy as np
import torch
import torchvision

from common import Family, f32, enc, param_text, rng, TOOL, _input_json

F = "torch.nn.functional"
INF = float("inf")
XGB = "XGBoost 3.4.1"
LGB = "LightGBM 4.x (master bae0b7b)"


def diag_hessian(loss_fn, x, class_dim=None):
    """(value, gradient, Hessian diagonal) of the scalar `loss_fn(x)` by double backward."""
    x = x.detach().requires_grad_(True)
    out = loss_fn(x)
    (g,) = torch.autograd.grad(out, x, create_graph=True)
    if not g.requires_grad:  # a piecewise-linear loss: the gradient is constant
        return out, g, torch.zeros_like(x)
    if class_dim is None:
        # Element-wise: the Hessian is diagonal, so H·1 is its diagonal.
        (h,) = torch.autograd.grad(g.sum(), x, allow_unused=True)
    else:
        # Rows are independent: ∂(Σ_n g[n, c])/∂x[n', c] = ∂g[n', c]/∂x[n', c].
        h = torch.zeros_like(x)
        for c in range(x.shape[class_dim]):
            (hc,) = torch.autograd.grad(g.select(class_dim, c).sum(), x, retain_graph=True,
                                        allow_unused=True)
            if hc is not None:
                h.select(class_dim, c).copy_(hc.select(class_dim, c))
    return out, g, (torch.zeros_like(x) if h is None else h)


def softmax_focal(input, target, gamma, alpha=None, ignore_index=-100, reduction="mean"):
    """The softmax focal loss as its definition writes it, in torch ops."""
    keep = target != ignore_index
    t = torch.where(keep, target, torch.zeros_like(target)).unsqueeze(1)
    logp = torch.log_softmax(input, 1).gather(1, t).squeeze(1)
    a = torch.ones_like(logp) if alpha is None else alpha[t.squeeze(1)]
    loss = torch.where(keep, -a * (1 - logp.exp()) ** gamma * logp, torch.zeros_like(logp))
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / keep.sum()


NAMES = {"math": math, "diag_hessian": diag_hessian, "softmax_focal": softmax_focal,
         "torchvision": torchvision, "np": np}


class Hessians(Family):
    def hess_case(self, id, loss, call, inputs, params=None, class_dim=None,
                  reductions=("mean", "sum"), f32_pass=True):
        """A PyTorch case: `call` with `R` is a scalar loss of `input`."""
        expected = {}
        for r in reductions:
            ns = {"torch": torch, "R": r, **NAMES}
            tensors = {k: (torch.tensor(np.asarray(v), dtype=torch.float64)
                           if np.asarray(v).dtype.kind == "f" else torch.from_numpy(np.asarray(v).copy()))
                       for k, v in inputs.items()}
            ns.update(tensors)
            fn = eval(f"lambda input: {call}", ns)  # noqa: S307 - our own expression, shown in the JSON
            v, g, h = diag_hessian(fn, tensors["input"], class_dim)
            expected[r] = {"value": enc(v.detach()),
                           "grads": {"input": [enc(a) for a in g.detach().ravel()]},
                           "hess": {"input": [enc(a) for a in h.detach().ravel()]}}
        dh = "diag_hessian(lambda input: " + call + (f", input, class_dim={class_dim})" if class_dim is not None else ", input)")
        self._add({"id": id, "loss": loss, "tool": TOOL, "curvature": "exact",
                   "call": dh, "f32": f32_pass,
                   "params": {k: param_text(v) for k, v in (params or {}).items()},
                   "inputs": {k: _input_json(v) for k, v in inputs.items()},
                   "expected": {"f64": expected}})

    def formula_case(self, id, loss, curvature, tool, call, inputs, params=None, value=None,
                     f32_pass=True):
        """A boosting library's per-sample gradient and hessian (reduction `sum`), from its
        source's formula: `call` evaluates to `(grad, hess)` and `value` (optional) to the
        per-sample values, NumPy float64 with the inputs by name."""
        ns = {"np": np, **{k: np.asarray(v) for k, v in inputs.items()}}
        g, h = eval(call, ns)  # noqa: S307
        exp = {"grads": {"input": [enc(a) for a in np.ravel(g)]},
               "hess": {"input": [enc(a) for a in np.ravel(h)]}}
        full = call
        if value is not None:
            exp["value"] = enc(np.sum(eval(value, ns)))  # noqa: S307
            full = f"grad, hess = {call}; value = sum({value})"
        self._add({"id": id, "loss": loss, "tool": tool, "curvature": curvature,
                   "call": full, "f32": f32_pass,
                   "params": {k: param_text(v) for k, v in (params or {}).items()},
                   "inputs": {k: _input_json(v) for k, v in inputs.items()},
                   "expected": {"f64": {"sum": exp}}})

    def write(self):
        self.name = "hessians/hessians"
        super().write()


fam = Hessians("hessians", tools={"torchvision": torchvision.__version__,
                                  "xgboost": "3.4.1 (formulas from its source)",
                                  "lightgbm": "master bae0b7b (formulas from its source)"})


def normal(case_id, n, scale=1.0):
    return f32(rng(case_id).normal(0.0, scale, n))


# --- regression: random residuals, and extreme ones ------------------------------------
N = 9
# torch's double backward of logaddexp is NaN from |e| ≈ 400 (exp overflows inside); ±300 is its edge.
EXTREME = f32([-300.0, -88.0, -30.0, -1e-6, 0.0, 1e-6, 30.0, 88.0, 300.0])


def pointwise(loss, label, call, params=None, target=None, x=None, f32_pass=True):
    cid = f"{loss}/{label}"
    x = normal(cid, N, 2.0) if x is None else x
    t = normal(cid + "/t", N) if target is None else target
    fam.hess_case(cid, loss, call, {"input": x, "target": t}, params, f32_pass=f32_pass)


def mean_or_sum(expr):
    return f"{{'sum': torch.sum, 'mean': torch.mean}}[R]({expr})"


pointwise("mse", "random", f"{F}.mse_loss(input, target, reduction=R)")
pointwise("l2", "random", f"0.5 * {F}.mse_loss(input, target, reduction=R)")
pointwise("mae", "random", f"{F}.l1_loss(input, target, reduction=R)")
for d in (1.0, 0.5):
    pointwise("huber", f"delta={d}", f"{F}.huber_loss(input, target, reduction=R, delta={d})",
              {"delta": d})
pointwise("smooth_l1", "beta=0.5", f"{F}.smooth_l1_loss(input, target, reduction=R, beta=0.5)",
          {"beta": 0.5})
pointwise("log_cosh", "random",
          mean_or_sum("torch.logaddexp(input - target, target - input) - math.log(2)"))
pointwise("log_cosh", "extreme",
          mean_or_sum("torch.logaddexp(input - target, target - input) - math.log(2)"),
          target=np.zeros(N), x=EXTREME, f32_pass=False)
pointwise("quantile", "tau=0.8",
          mean_or_sum("torch.maximum(0.8 * (target - input), (0.8 - 1) * (target - input))"),
          {"tau": 0.8})
for d in (1.0, 2.5):
    pointwise("pseudo_huber", f"delta={d}",
              mean_or_sum(f"{d}**2 * (torch.sqrt(1 + ((input - target) / {d})**2) - 1)"),
              {"delta": d})
pointwise("pseudo_huber", "extreme",
          mean_or_sum("(torch.sqrt(1 + (input - target)**2) - 1)"),
          target=np.zeros(N), x=f32([-1e6, -100.0, -3.0, -1e-3, 0.0, 1e-3, 3.0, 100.0, 1e6]),
          f32_pass=False)
counts = np.array([0.0, 1, 2, 0, 5, 3, 0, 1, 7])
pointwise("poisson_nll", "log_input", f"{F}.poisson_nll_loss(input, target, reduction=R)",
          target=counts)
pointwise("poisson_nll", "log_input/extreme", f"{F}.poisson_nll_loss(input, target, reduction=R)",
          target=counts, x=f32([-700.0, -88.0, -30.0, -1.0, 0.0, 1.0, 30.0, 80.0, 300.0]),
          f32_pass=False)
rates = f32(np.abs(normal("poisson_nll/rate", N)) + 0.25)
pointwise("poisson_nll", "rate/full",
          f"{F}.poisson_nll_loss(input, target, log_input=False, full=True, eps=1e-8, reduction=R)",
          {"log_input": False, "full": True}, target=counts, x=rates)
gamma_y = f32(np.exp(normal("gamma/y", N, 0.8)))
pointwise("gamma_deviance", "random", mean_or_sum("target * torch.exp(-input) + input - torch.log(target) - 1"),
          target=gamma_y)
pointwise("gamma_deviance", "extreme", mean_or_sum("target * torch.exp(-input) + input - torch.log(target) - 1"),
          target=gamma_y, x=f32([-600.0, -40.0, -5.0, -1e-6, 0.0, 1e-6, 5.0, 40.0, 600.0]),
          f32_pass=False)
tw_y = f32(np.where(rng("tweedie/z").uniform(size=N) < 0.35, 0.0,
                    np.exp(normal("tweedie/y", N, 0.7))))
for rho in (1.5, 1.2, 1.8):
    a, b = 1 - rho, 2 - rho
    pointwise("tweedie", f"power={rho}",
              mean_or_sum(f"-target * torch.exp({a!r} * input) / {a!r} + torch.exp({b!r} * input) / {b!r}"),
              {"power": rho}, target=tw_y)

# --- binary: logits, soft and hard targets, pos_weight, extreme logits -----------------
LOGITS = f32([-40.0, -17.0, -5.0, -1.0, -0.1, 0.0, 0.3, 2.0, 9.0, 17.0, 40.0, 3.0])
HARD = np.array([0.0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1])
SOFT = f32(rng("binary/soft").uniform(size=12))
for label, t in (("hard", HARD), ("soft", SOFT)):
    fam.hess_case(f"bce_with_logits/{label}", "bce_with_logits",
                  f"{F}.binary_cross_entropy_with_logits(input, target, reduction=R)",
                  {"input": LOGITS, "target": t})
pw = f32([0.5, 3.0, 1.0])
fam.hess_case("bce_with_logits/pos_weight", "bce_with_logits",
              f"{F}.binary_cross_entropy_with_logits(input, target, pos_weight=pos_weight, reduction=R)",
              {"input": LOGITS.reshape(4, 3), "target": SOFT.reshape(4, 3), "pos_weight": pw})
MILD = f32([-6.0, -3.0, -1.0, -0.2, 0.0, 0.4, 1.5, 3.0, 6.0, 2.0, -2.5, 0.7])
for alpha, gamma in ((0.25, 2.0), (-1.0, 1.0), (0.5, 3.0), (0.25, 2.5)):
    for label, t in (("hard", HARD), ("soft", SOFT)):
        fam.hess_case(f"focal/alpha={alpha}/gamma={gamma}/{label}", "focal",
                      mean_or_sum(f"torchvision.ops.sigmoid_focal_loss(input, target, alpha={alpha}, gamma={gamma}, reduction='none')"),
                      {"input": MILD, "target": t}, {"alpha": alpha, "gamma": gamma})

# --- multiclass: [N, C] and [N, C, S], weights, smoothing, probabilities ----------------
X = normal("ce/x", 4 * 3, 2.0).reshape(4, 3)
X[1] = f32([30.0, -30.0, 0.0])  # a confident row
Y = np.array([0, 2, 1, -100], dtype=np.int64)
CW = f32([0.5, 2.0, 1.0])
fam.hess_case("cross_entropy/index", "cross_entropy", f"{F}.cross_entropy(input, target, reduction=R)",
              {"input": X, "target": Y}, class_dim=1)
fam.hess_case("cross_entropy/weight/smoothing=0.1", "cross_entropy",
              f"{F}.cross_entropy(input, target, weight=weight, label_smoothing=0.1, reduction=R)",
              {"input": X, "target": Y, "weight": CW}, {"label_smoothing": 0.1}, class_dim=1)
X3 = normal("ce/x3", 2 * 3 * 2, 1.5).reshape(2, 3, 2)
Y3 = np.array([[2, 0], [1, 1]], dtype=np.int64)
fam.hess_case("cross_entropy/spatial", "cross_entropy", f"{F}.cross_entropy(input, target, reduction=R)",
              {"input": X3, "target": Y3}, class_dim=1)
P = rng("ce/p").uniform(size=(4, 3))
P = f32(P / P.sum(1, keepdims=True))
fam.hess_case("cross_entropy/probabilities/smoothing=0.2", "cross_entropy",
              f"{F}.cross_entropy(input, target, weight=weight, label_smoothing=0.2, reduction=R)",
              {"input": X, "target": P, "weight": CW}, {"label_smoothing": 0.2}, class_dim=1)
XF = f32([[3.0, 0.0, -1.0], [0.5, 0.4, 0.3], [-2.0, 4.0, 1.0], [1.0, 1.0, 1.0]])
YF = np.array([0, 2, 1, 0], dtype=np.int64)
AF = f32([0.25, 1.0, 2.0])
for gamma in (0.0, 0.5, 2.0):
    fam.hess_case(f"softmax_focal/gamma={gamma}", "softmax_focal",
                  f"softmax_focal(input, target, {gamma}, reduction=R)",
                  {"input": XF, "target": YF}, {"gamma": gamma}, class_dim=1)
fam.hess_case("softmax_focal/alpha/gamma=2.0", "softmax_focal",
              "softmax_focal(input, target, 2.0, alpha=alpha, reduction=R)",
              {"input": XF, "target": YF, "alpha": AF}, {"gamma": 2.0}, class_dim=1)

# --- the boosting libraries' own formulas ----------------------------------------------
XR = normal("boost/x", N, 1.5)
YR = normal("boost/y", N)
fam.formula_case("pseudo_huber/xgboost", "pseudo_huber", "xgboost",
                 f"{XGB}: src/objective/regression_obj.cu PseudoHuberRegression::GetGradient; metric mphe (src/metric/elementwise_metric.cu)",
                 "(lambda z, s: (z / np.sqrt(1 + z**2 / s**2), s**2 / ((s**2 + z**2) * np.sqrt(1 + z**2 / s**2))))(input - target, 1.5)",
                 {"input": XR, "target": YR}, {"delta": 1.5},
                 value="1.5**2 * (np.sqrt(1 + ((input - target) / 1.5)**2) - 1)")
fam.formula_case("gamma_deviance/xgboost", "gamma_deviance", "xgboost",
                 f"{XGB}: src/objective/regression_loss.h GammaDeviance (p = exp(input)); value: half the gamma-deviance metric's row, log(p/y) + y/p - 1 (src/metric/elementwise_metric.cu, without its 1e-6 offsets)",
                 "(1 - target / np.exp(input), target / np.exp(input))",
                 {"input": XR, "target": gamma_y}, value="np.log(np.exp(input) / target) + target / np.exp(input) - 1")
fam.formula_case("gamma_deviance/lightgbm", "gamma_deviance", "lightgbm",
                 f"{LGB}: src/objective/regression_objective.hpp RegressionGammaLoss (exp_score = exp(-score))",
                 "(1.0 - target * np.exp(-input), target * np.exp(-input))",
                 {"input": XR, "target": gamma_y})
for rho in (1.5, 1.2):
    fam.formula_case(f"tweedie/power={rho}/xgboost", "tweedie", "xgboost",
                     f"{XGB}: src/objective/regression_obj.cu TweedieRegression::GetGradient (rho = tweedie_variance_power); value: tweedie-nloglik@rho (src/metric/elementwise_metric.cu)",
                     f"(-target * np.exp((1 - {rho}) * input) + np.exp((2 - {rho}) * input), -target * (1 - {rho}) * np.exp((1 - {rho}) * input) + (2 - {rho}) * np.exp((2 - {rho}) * input))",
                     {"input": XR, "target": tw_y}, {"power": rho},
                     value=f"-target * np.exp((1 - {rho}) * np.log(np.exp(input))) / (1 - {rho}) + np.exp((2 - {rho}) * np.log(np.exp(input))) / (2 - {rho})")
CNT = counts
for lib, src in (("xgboost", f"{XGB}: src/objective/regression_obj.cu PoissonRegression, max_delta_step = 0.7"),
                 ("lightgbm", f"{LGB}: src/objective/regression_objective.hpp RegressionPoissonLoss, poisson_max_delta_step = 0.7")):
    fam.formula_case(f"poisson_nll/{lib}", "poisson_nll", lib, src,
                     "(np.exp(input) - target, np.exp(input + 0.7))", {"input": XR, "target": CNT})
fam.formula_case("mae/lightgbm", "mae", "lightgbm", f"{LGB}: src/objective/regression_objective.hpp RegressionL1loss",
                 "(np.sign(input - target), np.ones_like(input))", {"input": XR, "target": YR})
fam.formula_case("mae/xgboost", "mae", "xgboost", "XGBoost 3.2.0: src/objective/regression_obj.cu MeanAbsoluteError (hess = weight)",
                 "(np.sign(input - target), np.ones_like(input))", {"input": XR, "target": YR})
fam.formula_case("huber/lightgbm", "huber", "lightgbm", f"{LGB}: src/objective/regression_objective.hpp RegressionHuberLoss (alpha = delta)",
                 "(np.where(np.abs(input - target) <= 0.9, input - target, np.sign(input - target) * 0.9), np.ones_like(input))",
                 {"input": XR, "target": YR}, {"delta": 0.9})
fam.formula_case("quantile/lightgbm", "quantile", "lightgbm", f"{LGB}: src/objective/regression_objective.hpp RegressionQuantileloss (alpha = tau)",
                 "(np.where(input - target >= 0, 1 - 0.3, -0.3), np.ones_like(input))",
                 {"input": XR, "target": YR}, {"tau": 0.3})
fam.formula_case("bce_with_logits/xgboost", "bce_with_logits", "xgboost",
                 f"{XGB}: src/objective/regression_loss.h LogisticRegression (p = sigmoid(input); fmaxf(p(1 - p), 1e-16f))",
                 "(lambda p: (p - target, np.maximum(p * (1 - p), 1e-16)))(1 / (1 + np.exp(-input)))",
                 {"input": LOGITS, "target": HARD}, f32_pass=False)
fam.formula_case("bce_with_logits/lightgbm", "bce_with_logits", "lightgbm",
                 f"{LGB}: src/objective/binary_objective.hpp BinaryLogloss (label in {{-1, 1}}, sigmoid_ = 1)",
                 "(lambda l: (lambda r: (r, np.abs(r) * (1 - np.abs(r))))(-l / (1 + np.exp(l * input))))(2 * target - 1)",
                 {"input": LOGITS, "target": HARD})
XM = normal("boost/xm", 5 * 4, 2.0).reshape(5, 4)
YM = np.array([0, 3, 1, 2, 3], dtype=np.int64)
fam.formula_case("cross_entropy/xgboost", "cross_entropy", "xgboost",
                 f"{XGB}: src/objective/multiclass_obj.cu (p = softmax(input); fmax(2p(1 - p)·w, 1e-16))",
                 "(lambda p: (p - np.eye(4)[target], np.maximum(2 * p * (1 - p), 1e-16)))(np.exp(input - input.max(1, keepdims=True)) / np.exp(input - input.max(1, keepdims=True)).sum(1, keepdims=True))",
                 {"input": XM, "target": YM})
fam.formula_case("cross_entropy/lightgbm", "cross_entropy", "lightgbm",
                 f"{LGB}: src/objective/multiclass_objective.hpp MulticlassSoftmax (factor_ = K/(K - 1))",
                 "(lambda p: (p - np.eye(4)[target], 4 / 3 * p * (1 - p)))(np.exp(input - input.max(1, keepdims=True)) / np.exp(input - input.max(1, keepdims=True)).sum(1, keepdims=True))",
                 {"input": XM, "target": YM})

fam.write()
