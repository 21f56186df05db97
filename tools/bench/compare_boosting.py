"""Gradient-boosting objectives: a 50-round training with each losskit objective
(losskit.xgboost / losskit.lightgbm) against the library's built-in objective and against
the usual hand-written NumPy objective, in one run.

    python tools/bench/compare_boosting.py                    # 100,000 rows, both libraries
    python tools/bench/compare_boosting.py --rows 20000 --libs xgboost --json out.json

What is timed, per library and objective, on the same data (``--rows`` × 20 features,
multiclass K = 5) and the same parameters (hist trees, depth 6 / 31 leaves, ``--threads``
threads for the library and for losskit's pool):
- ``builtin``: the library's own objective (``reg:squarederror``, ``binary:logistic``, ...);
- ``losskit``: ``losskit.xgboost.objective(...)`` / ``losskit.lightgbm.objective(...)``;
- ``numpy``: the hand-written NumPy objective of the tutorials (``p = 1/(1+np.exp(-x))``,
  ``grad = p - y``, ...), with the library's curvature convention;
- ``floor``: a callable that returns precomputed arrays (no objective cost at all): the
  training time of the custom-objective path itself.

Each training: 50 rounds, best of ``--repeat`` (default 3). The time inside the callable is
measured on every call (``time.perf_counter``); the objective's share of training time is
that time over the training's. The built-in objective's time is not visible from Python: for
XGBoost it is read from XGBoost's own monitor (``GetGradient``, printed at verbosity 3); for
LightGBM it is estimated as ``builtin − floor`` (clamped at 0; the custom path also copies the
scores out and the gradients in, so this underestimates the built-in's objective time).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import time

import numpy as np
from timing import add_quiet_argument, load_after, load_before

ROUNDS = 50
K = 5


def make_data(rows: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, 20)).astype(np.float32)
    lin = X[:, 0] - 0.5 * X[:, 1] + 0.25 * X[:, 2] * X[:, 3] + 0.3 * np.sin(X[:, 4])
    ys = {
        "squared": lin + 0.3 * rng.normal(size=rows),
        "logistic": (rng.random(rows) < 1 / (1 + np.exp(-2 * lin))).astype(np.float64),
        "poisson": rng.poisson(np.exp(0.5 * lin)).astype(np.float64),
        "gamma": rng.gamma(2.0, np.exp(0.5 * lin) / 2.0),
        "tweedie": rng.poisson(np.exp(0.5 * lin)) * rng.gamma(2.0, 0.5, size=rows),
    }
    logits = np.stack([lin, -lin, X[:, 5], X[:, 6] - X[:, 7], 0.5 * lin * X[:, 8]], axis=1)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    u = rng.random((rows, 1))
    ys["softmax"] = (u > np.cumsum(p, axis=1)).sum(1).clip(0, K - 1).astype(np.float64)
    return X, ys


# ---------------------------------------------------------------------------------------------
# The hand-written NumPy objectives (as in the libraries' tutorials), each library's curvature.


def np_objective(case: str, lib: str):
    def sq(x, y):
        return x - y, np.ones_like(x)

    def logistic(x, y):
        p = 1.0 / (1.0 + np.exp(-x))
        return p - y, np.maximum(p * (1.0 - p), 1e-16)

    def poisson(x, y):
        return np.exp(x) - y, np.exp(x + 0.7)

    def gamma(x, y):
        r = y * np.exp(-x)
        return 1.0 - r, r

    def tweedie(x, y, rho=1.5):
        a, b = np.exp((1 - rho) * x), np.exp((2 - rho) * x)
        return -y * a + b, -y * (1 - rho) * a + (2 - rho) * b

    def softmax(x, y):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
        g = p.copy()
        g[np.arange(len(y)), y.astype(np.int64)] -= 1.0
        h = (2.0 if lib == "xgboost" else K / (K - 1)) * p * (1.0 - p)
        return g, np.maximum(h, 1e-16)

    return {"squared": sq, "logistic": logistic, "poisson": poisson, "gamma": gamma, "tweedie": tweedie,
            "softmax": softmax}[case]


LOSSKIT = {
    "squared": ("l2", {}),
    "logistic": ("bce_with_logits", {}),
    "poisson": ("poisson_nll", {}),
    "gamma": ("gamma_deviance", {}),
    "tweedie": ("tweedie", {"power": 1.5}),
    "softmax": ("cross_entropy", {}),
}
XGB_BUILTIN = {
    "squared": {"objective": "reg:squarederror"},
    "logistic": {"objective": "binary:logistic"},
    "poisson": {"objective": "count:poisson"},
    "gamma": {"objective": "reg:gamma"},
    "tweedie": {"objective": "reg:tweedie", "tweedie_variance_power": 1.5},
    "softmax": {"objective": "multi:softprob", "num_class": K},
}
LGB_BUILTIN = {
    "squared": {"objective": "regression"},
    "logistic": {"objective": "binary"},
    "poisson": {"objective": "poisson"},
    "gamma": {"objective": "gamma"},
    "tweedie": {"objective": "tweedie", "tweedie_variance_power": 1.5},
    "softmax": {"objective": "multiclass", "num_class": K},
}


class Timed:
    """Wraps an objective callable, summing the time spent in it. The wrapper is a plain
    function (LightGBM deep-copies ``params``, objective included: a function is copied by
    reference, so the sum lands here)."""

    def __init__(self, f):
        self.seconds = 0.0

        def timed(a, b):
            t = time.perf_counter()
            r = f(a, b)
            self.seconds += time.perf_counter() - t
            return r

        self.call = timed


class Floor:
    """An objective that costs nothing: precomputed arrays of the right shape and dtype."""

    def __init__(self, shape, dtype):
        self.g = np.full(shape, 0.01, dtype)
        self.h = np.ones(shape, dtype)

    def __call__(self, a, b):
        return self.g, self.h


# ---------------------------------------------------------------------------------------------
# XGBoost


def run_xgboost(X, ys, threads: int, repeat: int, cases):
    import losskit.xgboost as lx
    import xgboost as xgb

    base = {"tree_method": "hist", "max_depth": 6, "eta": 0.3, "nthread": threads, "max_bin": 256}
    rows = []
    for case in cases:
        y = ys[case]
        multi = case == "softmax"
        d = xgb.DMatrix(X, y, base_margin=np.zeros((len(y), K) if multi else len(y)), nthread=threads)
        extra = {"num_class": K} if multi else {}
        name, params = LOSSKIT[case]
        lk = lx.objective(name, **params)
        params_extra = lk.booster_params  # count:poisson's max_delta_step 0.7 on the trees

        f_np = np_objective(case, "xgboost")

        def numpy_obj(predt, dtrain, f=f_np):
            return f(predt, dtrain.get_label())

        def losskit_obj(predt, dtrain, f=lk):
            return f(predt, dtrain)

        out = {"library": "xgboost", "objective": XGB_BUILTIN[case]["objective"], "losskit": name}
        # built-in, with XGBoost's monitor for the time in its objective
        best, grad_s = float("inf"), None
        for _ in range(repeat):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf), xgb.config_context(verbosity=3):
                t = time.perf_counter()
                bst = xgb.train({**base, **XGB_BUILTIN[case]}, d, ROUNDS)
                elapsed = time.perf_counter() - t
                del bst
            if elapsed < best:
                best = elapsed
                m = re.search(r"GetGradient: ([0-9.e+-]+)s", buf.getvalue())
                grad_s = float(m.group(1)) if m else None
        out["builtin_s"] = best
        out["builtin_obj_s"] = grad_s
        shape = (len(y), K) if multi else (len(y),)
        for label, f in (("losskit", losskit_obj), ("numpy", numpy_obj), ("floor", Floor(shape, np.float32))):
            best, obj_s = float("inf"), 0.0
            for _ in range(repeat):
                timed = Timed(f)
                t = time.perf_counter()
                xgb.train({**base, **extra, **params_extra}, d, ROUNDS, obj=timed.call)
                elapsed = time.perf_counter() - t
                if elapsed < best:
                    best, obj_s = elapsed, timed.seconds
            out[f"{label}_s"] = best
            out[f"{label}_obj_s"] = obj_s
        rows.append(out)
        report(out)
    return rows


# ---------------------------------------------------------------------------------------------
# LightGBM


def run_lightgbm(X, ys, threads: int, repeat: int, cases):
    import lightgbm as lgb
    import losskit.lightgbm as ll

    base = {"num_leaves": 31, "learning_rate": 0.3, "num_threads": threads, "verbose": -1,
            "boost_from_average": False, "max_bin": 255}
    rows = []
    for case in cases:
        y = ys[case]
        multi = case == "softmax"
        extra = {"num_class": K} if multi else {}
        ds = lgb.Dataset(X, y, params={"verbose": -1, "max_bin": 255}, free_raw_data=False).construct()
        name, params = LOSSKIT[case]
        lk = ll.objective(name, **params)
        f_np = np_objective(case, "lightgbm")

        def numpy_obj(preds, data, f=f_np):
            return f(preds, data.get_label())

        out = {"library": "lightgbm", "objective": LGB_BUILTIN[case]["objective"], "losskit": name}
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            lgb.train({**base, **LGB_BUILTIN[case]}, ds, ROUNDS)
            best = min(best, time.perf_counter() - t)
        out["builtin_s"] = best
        shape = (len(y), K) if multi else (len(y),)
        for label, f in (("losskit", lk), ("numpy", numpy_obj), ("floor", Floor(shape, np.float64))):
            best, obj_s = float("inf"), 0.0
            for _ in range(repeat):
                timed = Timed(f)
                t = time.perf_counter()
                lgb.train({**base, **extra, "objective": timed.call}, ds, ROUNDS)
                elapsed = time.perf_counter() - t
                if elapsed < best:
                    best, obj_s = elapsed, timed.seconds
            out[f"{label}_s"] = best
            out[f"{label}_obj_s"] = obj_s
        out["builtin_obj_s"] = max(0.0, out["builtin_s"] - out["floor_s"])
        rows.append(out)
        report(out)
    return rows


# ---------------------------------------------------------------------------------------------


def report(r: dict) -> None:
    def share(obj, total):
        return "n/a" if obj is None else f"{100 * obj / total:.1f} %"

    print(
        f"{r['library']:9} {r['objective']:17} {r['losskit']:16} "
        f"builtin {r['builtin_s']:.2f}s (obj {share(r['builtin_obj_s'], r['builtin_s'])})  "
        f"losskit {r['losskit_s']:.2f}s (obj {r['losskit_obj_s']:.3f}s, {share(r['losskit_obj_s'], r['losskit_s'])})  "
        f"numpy {r['numpy_s']:.2f}s (obj {r['numpy_obj_s']:.3f}s, {share(r['numpy_obj_s'], r['numpy_s'])})  "
        f"floor {r['floor_s']:.2f}s  numpy/losskit {r['numpy_obj_s'] / max(r['losskit_obj_s'], 1e-12):.1f}x",
        flush=True,
    )


def markdown(rows: list[dict]) -> str:
    head = (
        "| library | built-in | losskit | train: built-in / losskit / NumPy / floor (s) | objective time: "
        "losskit / NumPy (s) | objective share: built-in / losskit / NumPy | NumPy ÷ losskit |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        b = "n/a" if r["builtin_obj_s"] is None else f"{100 * r['builtin_obj_s'] / r['builtin_s']:.1f} %"
        lines.append(
            f"| {r['library']} | `{r['objective']}` | `{r['losskit']}` | "
            f"{r['builtin_s']:.2f} / {r['losskit_s']:.2f} / {r['numpy_s']:.2f} / {r['floor_s']:.2f} | "
            f"{r['losskit_obj_s']:.3f} / {r['numpy_obj_s']:.3f} | "
            f"{b} / {100 * r['losskit_obj_s'] / r['losskit_s']:.1f} % / {100 * r['numpy_obj_s'] / r['numpy_s']:.1f} % | "
            f"{r['numpy_obj_s'] / max(r['losskit_obj_s'], 1e-12):.1f}× |"
        )
    return head + "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--libs", default="xgboost,lightgbm")
    ap.add_argument("--cases", default=",".join(LOSSKIT))
    ap.add_argument("--json", help="write the measurements here")
    add_quiet_argument(ap)
    args = ap.parse_args()

    import losskit

    losskit.set_num_threads(args.threads)
    X, ys = make_data(args.rows)
    cases = args.cases.split(",")
    load0 = load_before(args.require_quiet)
    print(f"rows {args.rows}, 20 features, {ROUNDS} rounds, threads {args.threads}, "
          f"best of {args.repeat}", flush=True)
    rows = []
    if "xgboost" in args.libs:
        rows += run_xgboost(X, ys, args.threads, args.repeat, cases)
    if "lightgbm" in args.libs:
        rows += run_lightgbm(X, ys, args.threads, args.repeat, cases)
    print()
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    sys.exit(main())
