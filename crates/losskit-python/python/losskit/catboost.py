"""losskit losses as CatBoost objectives (CatBoost ≥ 1.0; checked on 1.2.10).

::

    import catboost, losskit.catboost as lc
    model = catboost.CatBoostClassifier(loss_function=lc.objective("focal", gamma=2.0),
                                        eval_metric="Logloss", iterations=50)
    model.fit(X, y)

CatBoost's user-defined objectives are objects with ``calc_ders_range(approxes, targets,
weights)`` (one output: a list of ``(der1, der2)`` per object) or ``calc_ders_multi(approx,
target, weight)`` (multiclass, one object: ``der1`` of length K and a K × K ``der2``).
CatBoost *maximises*: ``der1 = −∂ℓ/∂s`` and ``der2 = −∂²ℓ/∂s²``, and losskit returns them so.
``approxes`` are raw scores (the baseline included); weights multiply both derivatives. The
multiclass ``der2`` is the diagonal Hessian (zeros off the diagonal), what XGBoost and
LightGBM use; CatBoost's own ``MultiClass`` uses the full matrix.

Curvature: by default the exact second derivative where it is positive (``l2``, ``mse``,
``log_cosh``, ``pseudo_huber``, the log-link losses, ``bce_with_logits``, ``cross_entropy``);
for ``mae``, ``quantile``, ``huber``, ``smooth_l1`` (exact 0 in places) and the focal losses
(exact negative in places) the positive ``"lightgbm"`` curvature. ``curvature=`` overrides.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._boosting import BoostingLoss

__all__ = ["MultiObjective", "Objective", "objective"]

_BOUNDED = ("mae", "quantile", "huber", "smooth_l1", "focal", "softmax_focal")


class Objective(BoostingLoss):
    """A single-output CatBoost objective (``calc_ders_range``)."""

    def calc_ders_range(self, approxes: Any, targets: Any, weights: Any) -> list[tuple[float, float]]:
        s = np.asarray(approxes, dtype=np.float64)
        g, h = self.grad_hess(s, np.asarray(targets, dtype=np.float64), weights)
        return list(zip((-g).tolist(), (-h).tolist()))


class MultiObjective(BoostingLoss):
    """A multiclass CatBoost objective (``calc_ders_multi``)."""

    def calc_ders_multi(self, approx: Any, target: Any, weight: Any) -> tuple[list[float], list[list[float]]]:
        s = np.asarray(approx, dtype=np.float64).reshape(1, -1)
        g, h = self.grad_hess(s, np.array([target]), None if weight is None else np.array([weight]))
        return (-g[0]).tolist(), np.diag(-h[0]).tolist()


def objective(
    name: str, *, curvature: str | None = None, pool: bool = False, **params: Any
) -> Objective | MultiObjective:
    """The catalogue loss ``name`` as a CatBoost ``loss_function`` object (multiclass losses
    give a :class:`MultiObjective`).

    Args:
        name: a loss with a Hessian.
        curvature: ``"exact"``, ``"xgboost"`` or ``"lightgbm"``; default: exact where it is
            positive, else ``"lightgbm"`` (see the module's doc).
        pool: run on losskit's thread pool instead of the calling thread.
        **params: the loss's parameters and weight inputs.
    """
    if curvature is None:
        curvature = "lightgbm" if name in _BOUNDED else "exact"
    from ._boosting import MULTICLASS

    cls = MultiObjective if name in MULTICLASS else Objective
    return cls("catboost", name, curvature, params, pool)
