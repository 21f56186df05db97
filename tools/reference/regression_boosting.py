"""Reference cases of the gradient-boosting regression losses (pseudo_huber, gamma_deviance,
tweedie) -> crates/losskit/tests/reference/regression_boosting.json.

PyTorch has none of them: each `call` is the loss's definition (XGBoost's, see
`tools/reference/hessians.py` for its objective and metric formulas) written in torch ops and
evaluated in float64 (`.double()`), then reported in the pass's type: the definitions cancel
near the optimum (√(1 + z²) − 1, y·e^(−x) + x − ln y − 1), which a float32 evaluation would
turn into reference error, not losskit's.

Run: python tools/reference/regression_boosting.py  (see README.md)
"""

import numpy as np

from common import Family, f32, rng, weighted

REDUCE = "{'none': lambda l: l, 'sum': torch.sum, 'mean': torch.mean}[R]"
X = "input.double()"
T = "target.double()"


def pseudo_huber(d):
    return f"{d}**2 * (torch.sqrt(1 + (({X} - {T}) / {d})**2) - 1)"


GAMMA = f"{T} * torch.exp(-{X}) + {X} - torch.log({T}) - 1"


def tweedie(rho):
    a, b = 1 - rho, 2 - rho
    return f"-{T} * torch.exp({a!r} * {X}) / {a!r} + torch.exp({b!r} * {X}) / {b!r}"


fam = Family("regression_boosting")


def cases(loss, label, elementwise, params, target):
    key = f"{loss}/{label}"
    g = rng(key)
    for name, shape in (("mixed", (3, 4)), ("vector", (7,)), ("3d", (2, 3, 4))):
        x = f32(g.normal(0.0, 1.5, shape))
        fam.case(f"{key}/{name}", loss, f"{REDUCE}({elementwise})",
                 {"input": x, "target": target(g, shape)}, params)
    x = f32(g.normal(0.0, 1.5, (4, 5)))
    w = f32(g.uniform(0.0, 2.0, (4, 5)))
    w.ravel()[[1, 4]] = 0.0
    fam.case(f"{key}/weighted", loss, weighted(elementwise),
             {"input": x, "target": target(g, (4, 5)), "weight": w}, params)


normal_t = lambda g, s: f32(g.normal(0.0, 1.0, s))  # noqa: E731
positive_t = lambda g, s: f32(np.exp(g.normal(0.0, 0.8, s)))  # noqa: E731
tweedie_t = lambda g, s: f32(np.where(g.uniform(size=s) < 0.35, 0.0, np.exp(g.normal(0.0, 0.7, s))))  # noqa: E731

cases("pseudo_huber", "default", pseudo_huber(1.0), {}, normal_t)
cases("pseudo_huber", "delta=2.5", pseudo_huber(2.5), {"delta": 2.5}, normal_t)
cases("gamma_deviance", "default", GAMMA, {}, positive_t)
cases("tweedie", "default", tweedie(1.5), {}, tweedie_t)
for rho in (1.2, 1.8):
    cases("tweedie", f"power={rho}", tweedie(rho), {"power": rho}, tweedie_t)

# Far residuals (pseudo-Huber's linear tails) and tiny ones (its quadratic zone).
e = f32([1e3, -1e3, 50.0, -3.0, 1e-3, -1e-4, 0.0, 2.0])
t = f32(np.linspace(-1.0, 1.0, e.size))
fam.case("pseudo_huber/default/wide", "pseudo_huber", f"{REDUCE}({pseudo_huber(1.0)})",
         {"input": f32(t + e), "target": t})
# Gamma near and far from the optimum x = ln y.
y = f32([0.5, 2.0, 10.0, 1.0, 0.01, 100.0])
fam.case("gamma_deviance/default/near-and-far", "gamma_deviance", f"{REDUCE}({GAMMA})",
         {"input": f32(np.log(y) + [1e-3, -2e-3, 0.0, 20.0, -20.0, 5.0]), "target": y})

x = f32([0.5, 1.0])
fam.error("gamma_deviance/zero-target", "gamma_deviance", {"input": x, "target": f32([1.0, 0.0])},
          "`target` at [1] is 0, expected a target > 0")
fam.error("tweedie/negative-target", "tweedie", {"input": x, "target": f32([1.0, -2.0])},
          "`target` at [1] is -2, expected a target >= 0")
for p in (1.0, 2.0):
    fam.error(f"tweedie/power={p}", "tweedie", {"input": x, "target": x},
              "`power` must be in (1, 2)", params={"power": p})
fam.error("pseudo_huber/delta=0", "pseudo_huber", {"input": x, "target": x},
          "`delta` must be > 0 and finite, got 0", params={"delta": 0.0})

fam.write()
