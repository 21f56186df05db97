"""What the gradient-boosting objectives of :mod:`losskit.xgboost`, :mod:`losskit.lightgbm`
and :mod:`losskit.catboost` share: a catalogue loss with a Hessian, bound to its parameters
and a curvature policy, evaluated on a whole score array in one fused pass (the core's
``value_grad_hess``, GIL released, on losskit's pool).

Threads: by default the kernel runs on the calling thread (GIL released), not on losskit's
pool. XGBoost's and LightGBM's OpenMP threads spin-wait between their parallel regions, and a
second pool's threads then wait for a core: measured on 2 cores, 100,000 scores, ``l2``, 10 ms
per call on the pool against 0.8 ms on the calling thread. ``pool=True`` uses the pool (worth
it when the library runs on fewer threads than there are cores, or with
``OMP_WAIT_POLICY=passive``).

Layouts: a single-output loss takes scores of shape ``[n]``; the multiclass losses
(``cross_entropy``, ``softmax_focal``) take ``[n, K]`` scores, row-major (XGBoost) or
column-major (LightGBM 4 hands a Fortran-ordered view of its class-major buffer): either is
read in place, without a copy, and the gradient and Hessian come back in the same layout.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import _array, _spec
from ._native import LossError

CURVATURES = ("exact", "xgboost", "lightgbm")

# The multiclass losses: [n, K] scores against class indices, sample weights applied here
# (their `weight` input is per class).
MULTICLASS = ("cross_entropy", "softmax_focal")
# Raw score = log of the predicted mean.
LOG_LINK = ("poisson_nll", "gamma_deviance", "tweedie")
# Raw score = logit of the probability.
LOGIT_LINK = ("bce_with_logits", "focal")


def with_hessian() -> list[str]:
    """The catalogue losses that have a Hessian, i.e. that can be a boosting objective."""
    return [e["name"] for e in _spec.CATALOGUE if e.get("hessian")]


class BoostingLoss:
    """A catalogue loss with its parameters and curvature policy, evaluated on a score array
    as a boosting library hands it over. ``grad_hess`` is the objective, ``value`` the metric.
    """

    def __init__(self, library: str, name: str, curvature: str, params: Mapping[str, Any], pool: bool = False):
        entry = _spec.info(name)  # an unknown name raises, with the did-you-mean
        if not entry.get("hessian"):
            raise LossError(
                f"{name}: has no Hessian, so it cannot be a gradient-boosting objective; "
                f"losses with one: {', '.join(with_hessian())}"
            )
        if curvature not in CURVATURES:
            raise LossError(
                f"{name}: `curvature` must be one of {', '.join(repr(c) for c in CURVATURES)}, got {curvature!r}"
            )
        params = dict(params)
        self.max_delta_step = params.pop("max_delta_step", None)
        if self.max_delta_step is not None:
            if name != "poisson_nll":
                raise LossError(f"{name}: `max_delta_step` applies to poisson_nll only")
            self.max_delta_step = float(self.max_delta_step)
        self.library = library
        self.pool = bool(pool)
        self.name = entry["name"]
        self.entry = entry
        self.curvature = curvature
        self.params = params
        self.pairs, extra = _spec.split_params(entry, params)
        self.extra = []
        for k, v in extra.items():
            a, tag, _ = _array(self.name, k, v)
            self.extra.append((k, a, tag))
        self.multiclass = self.name in MULTICLASS
        inputs = {i["name"]: i for i in entry["inputs"]}
        # Element-wise sample weights go to the core (one fused pass); the others are applied here.
        w = inputs.get("weight")
        self.fused_weight = not self.multiclass and w is not None and w["role"] == "weight"
        if self.name == "poisson_nll" and not self._param("log_input", True):
            raise LossError("poisson_nll: a boosting objective takes the raw score (log_input=True)")
        # Check the parameters once, here, rather than at the first boosting round.
        self.grad_hess(np.zeros((1, 2) if self.multiclass else 1), np.ones(1))

    def _param(self, name: str, default: Any) -> Any:
        return self.params.get(name, default)

    def _core_curvature(self) -> str:
        return "exact" if self.max_delta_step is not None else self.curvature

    # ------------------------------------------------------------------------------------------
    # The layouts

    def _inputs(self, scores: np.ndarray, labels: Any, weight: Any) -> tuple[list, np.ndarray, bool]:
        """The core's inputs for ``scores``; the (C-contiguous) array the buffers mirror; and
        whether the scores were a column-major ``[n, K]`` array read as ``[1, K, n]``."""
        columns = False
        if self.multiclass:
            if scores.ndim != 2:
                raise LossError(f"{self.name}: multiclass scores must be [n, K], got shape {list(scores.shape)}")
            target = np.asarray(labels).reshape(-1)
            if target.shape[0] != scores.shape[0]:
                raise LossError(f"{self.name}: {target.shape[0]} labels for {scores.shape[0]} rows of scores")
            target = target.astype(np.int64, copy=False)
            if not scores.flags.c_contiguous and scores.flags.f_contiguous:
                # LightGBM: [n, K] over a class-major buffer is [1, K, n] row-major, the class
                # dimension second as the core wants it.
                columns = True
                core = scores.T[None]
                target = target[None]
            else:
                core = np.ascontiguousarray(scores)
            arrays = [("input", core, ""), ("target", np.ascontiguousarray(target), "")]
        else:
            core = np.ascontiguousarray(scores).reshape(-1)
            target = np.asarray(labels).reshape(-1)
            if target.shape[0] != core.shape[0]:
                raise LossError(f"{self.name}: {target.shape[0]} labels for {core.shape[0]} scores")
            arrays = [("input", core, ""), ("target", np.ascontiguousarray(target), "")]
            if weight is not None and self.fused_weight:
                arrays.append(("weight", np.ascontiguousarray(weight, dtype=core.dtype).reshape(-1), ""))
        return arrays + self.extra, core, columns

    @staticmethod
    def _scores(scores: Any) -> np.ndarray:
        s = np.asarray(scores)
        if s.dtype not in (np.float32, np.float64):
            s = s.astype(np.float64)
        return s

    @staticmethod
    def _weight(weight: Any) -> np.ndarray | None:
        if weight is None:
            return None
        w = np.asarray(weight)
        return None if w.size == 0 else w

    # ------------------------------------------------------------------------------------------
    # Objective and metric

    def grad_hess(self, scores: Any, labels: Any, weight: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The gradient and the Hessian's diagonal of Σᵢ wᵢ·ℓᵢ with respect to each raw score,
        in the scores' shape, layout and dtype (float32 or float64)."""
        s = self._scores(scores)
        w = self._weight(weight)
        arrays, core, columns = self._inputs(s, labels, w)
        grad = np.empty(core.shape, core.dtype)
        hess = np.empty(core.shape, core.dtype)
        _spec._native.value_grad_hess(
            self.name, arrays, self.pairs, "sum", self._core_curvature(), grad, hess, self.pool
        )
        if self.max_delta_step is not None:
            hess *= math.exp(self.max_delta_step)
        if columns:
            grad, hess = grad[0].T, hess[0].T
        elif s.ndim != grad.ndim:
            grad, hess = grad.reshape(s.shape), hess.reshape(s.shape)
        if w is not None and not self.fused_weight:
            ww = w.reshape(-1, 1).astype(grad.dtype, copy=False)
            grad *= ww
            hess *= ww
        return grad, hess

    def raw(self, scores: Any) -> np.ndarray:
        """Transformed predictions (probabilities, means) back to raw scores."""
        s = self._scores(scores)
        if self.name in LOGIT_LINK:
            tiny = np.finfo(s.dtype).tiny
            p = np.clip(s, tiny, 1.0 - np.finfo(s.dtype).epsneg)
            return np.log(p) - np.log1p(-p)
        if self.name in LOG_LINK:
            return np.log(np.maximum(s, np.finfo(s.dtype).tiny))
        if self.multiclass:
            return np.log(np.maximum(s, np.finfo(s.dtype).tiny))
        return s

    def value(self, scores: Any, labels: Any, weight: Any = None, transformed: bool = False) -> float:
        """The loss's weighted mean over the samples (Σ wᵢℓᵢ / Σ wᵢ), for a metric."""
        s = self.raw(scores) if transformed else self._scores(scores)
        w = self._weight(weight)
        arrays, core, _columns = self._inputs(s, labels, w)
        if self.multiclass:
            losses = self._evaluate(arrays, "none")
            losses = np.asarray(losses).reshape(-1)
            if w is None:
                return float(np.mean(losses))
            return float(np.average(losses, weights=np.asarray(w, dtype=np.float64).reshape(-1)))
        g = np.empty(core.shape, core.dtype)
        h = np.empty(core.shape, core.dtype)
        return float(_spec._native.value_grad_hess(self.name, arrays, self.pairs, "mean", "exact", g, h, self.pool))

    def _evaluate(self, arrays: list, reduction: str) -> Any:
        value, per_element, _shape, _ = _spec._native.evaluate(self.name, arrays, self.pairs, reduction, [])
        return per_element if reduction == "none" else value

    def init_score(self, labels: Any, weight: Any = None, num_class: int | None = None) -> Any:
        """The constant raw score that minimises Σ wᵢ·ℓ(s, yᵢ): what the built-in objectives
        start from (XGBoost's fitted ``base_score``, LightGBM's ``boost_from_average``), as a
        raw score. A float, or a ``[K]`` array for the multiclass losses."""
        y = np.asarray(labels, dtype=np.float64).reshape(-1)
        w = self._weight(weight)
        w = np.ones_like(y) if w is None else np.asarray(w, dtype=np.float64).reshape(-1)
        if self.multiclass:
            k = int(num_class) if num_class else int(y.max()) + 1
            freq = np.bincount(y.astype(np.int64), weights=w, minlength=k) / w.sum()
            logp = np.log(np.maximum(freq, 1e-300))
            return logp - logp.mean()
        if self.name in ("quantile", "mae"):
            tau = float(self._param("tau", 0.5)) if self.name == "quantile" else 0.5
            order = np.argsort(y, kind="stable")
            cw = np.cumsum(w[order])
            return float(y[order][np.searchsorted(cw, tau * cw[-1])])
        mean = float(np.average(y, weights=w))
        if self.name in LOGIT_LINK:
            mean = min(max(mean, 1e-15), 1 - 1e-15)
            s = math.log(mean) - math.log1p(-mean)
        elif self.name in LOG_LINK:
            s = math.log(max(mean, 1e-300))
        else:
            s = mean
        # Newton steps on the constant (exact already for squared error, logistic and the
        # log-link losses; a few more for the others), with the positive curvature.
        for _ in range(50):
            scores = np.full(y.shape, s)
            arrays, _core, _ = self._inputs(scores, y, w)
            g = np.empty_like(scores)
            h = np.empty_like(scores)
            _spec._native.value_grad_hess(self.name, arrays, self.pairs, "sum", "lightgbm", g, h, False)
            gs, hs = float(g.sum()), float(h.sum())
            if not (hs > 0) or abs(gs) <= 1e-12 * max(1.0, hs):
                break
            s -= gs / hs
        return float(s)

    def __repr__(self) -> str:
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        if self.max_delta_step is not None:
            params += f", max_delta_step={self.max_delta_step!r}"
        return f"losskit.{self.library}.{type(self).__name__.lower()}({self.name!r}, curvature={self.curvature!r}{params})"
