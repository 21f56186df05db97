"""losskit losses as LightGBM objectives and metrics (LightGBM ≥ 4; checked on 4.7).

::

    import lightgbm as lgb, losskit.lightgbm as ll
    obj = ll.objective("cross_entropy")
    ds = lgb.Dataset(X, y, init_score=np.tile(obj.init_score(y), (len(y), 1)))
    bst = lgb.train({"objective": obj, "num_class": 3}, ds, 50,
                    feval=ll.metric("cross_entropy"))
    lgb.LGBMClassifier(objective=ll.objective("focal", gamma=2.0)).fit(X, y)

One callable serves both APIs: ``lgb.train`` (``params["objective"] = callable``) calls it as
``(preds, train_data)``, the scikit-learn estimators as ``(y_true, y_pred, weight)``
(``lightgbm/sklearn.py``, ``_ObjectiveFunctionWrapper``, which counts the arguments). The
scores are raw; for multiclass LightGBM 4 hands ``[n, K]`` as a column-major view of its
class-major buffer (``basic.py``, ``__inner_predict``): losskit reads it in place and returns
the gradient and Hessian in that same layout, so LightGBM's ``ravel(order="F")`` copies
nothing. Sample weights (``Dataset(weight=...)``) multiply both.

Curvature: by default (``curvature="lightgbm"``) the Hessian is the one LightGBM's built-in
objective uses (``src/objective/*.hpp``): ``multiclass`` K/(K − 1)·p(1 − p)
(``multiclass_objective.hpp``, ``factor_``), ``huber``, ``regression_l1`` and ``quantile`` the
constant 1, ``poisson`` e^(s + 0.7) (``regression_objective.hpp``,
``poisson_max_delta_step``: another value with ``max_delta_step=``), ``binary`` p(1 − p);
focal gets a positive bound. ``curvature="exact"`` gives the true second derivative.

Built-in ↔ losskit: ``regression`` = ``l2``, ``huber`` = ``huber`` (``delta`` = ``alpha``),
``quantile`` = ``quantile`` (``tau`` = ``alpha``), ``binary`` = ``bce_with_logits``,
``poisson`` = ``poisson_nll``, ``gamma`` = ``gamma_deviance``, ``tweedie`` = ``tweedie``
(``power`` = ``tweedie_variance_power``), ``multiclass`` = ``cross_entropy``. LightGBM refits
the leaves of ``quantile`` and ``regression_l1`` from percentiles of the residuals, which a
(gradient, Hessian) objective cannot.

The intercept: LightGBM's ``boost_from_average`` applies to built-in objectives only.
``objective.init_score(y, weight)`` is the optimal constant raw score: pass it as
``Dataset(init_score=...)`` (``[n]``, or ``[n, K]`` for multiclass) — and the same
``init_score`` to ``predict`` via ``raw_score`` plus that constant.
"""

from __future__ import annotations

from typing import Any

from ._boosting import BoostingLoss

__all__ = ["Metric", "Objective", "metric", "objective"]


class Objective(BoostingLoss):
    """A LightGBM objective: ``obj(preds, train_data)`` for ``lgb.train``, or
    ``obj(y_true, y_pred, weight)`` for the scikit-learn API; returns ``(grad, hess)``."""

    def __call__(self, preds: Any, train_data: Any, weight: Any = None):
        if hasattr(train_data, "get_label"):
            return self.grad_hess(preds, train_data.get_label(), train_data.get_weight())
        # scikit-learn: (y_true, y_pred, weight)
        return self.grad_hess(train_data, preds, weight)


class Metric(BoostingLoss):
    """A LightGBM metric: ``metric(preds, eval_data)`` for ``lgb.train(feval=...)``, or
    ``metric(y_true, y_pred, weight)`` for the scikit-learn ``eval_metric=``; returns
    ``(name, value, False)`` (lower is better). The value is the weighted mean loss."""

    def __init__(self, name: str, curvature: str, transformed: bool, params: dict[str, Any], pool: bool):
        super().__init__("lightgbm", name, curvature, params, pool)
        self.transformed = transformed
        self.__name__ = self.name

    def __call__(self, preds: Any, eval_data: Any, weight: Any = None):
        if hasattr(eval_data, "get_label"):
            v = self.value(preds, eval_data.get_label(), eval_data.get_weight(), self.transformed)
        else:
            v = self.value(eval_data, preds, weight, self.transformed)
        return self.name, v, False


def objective(name: str, *, curvature: str = "lightgbm", pool: bool = False, **params: Any) -> Objective:
    """The catalogue loss ``name`` as a LightGBM objective (``params["objective"]`` of
    ``lgb.train``, ``LGBMRegressor``/``LGBMClassifier(objective=...)``).

    Args:
        name: a loss with a Hessian.
        curvature: ``"lightgbm"`` (default: LightGBM's built-in conventions), ``"exact"`` or
            ``"xgboost"``.
        pool: run on losskit's thread pool instead of the calling thread (see
            ``losskit._boosting``: the libraries' spinning OpenMP threads starve a second pool).
        **params: the loss's parameters and weight inputs, and ``max_delta_step=`` for
            ``poisson_nll``.

    Raises:
        LossError: an unknown name (with the did-you-mean), a loss without a Hessian, a bad
            parameter.
    """
    return Objective("lightgbm", name, curvature, params, pool)


def metric(name: str, *, transformed: bool = False, pool: bool = False, **params: Any) -> Metric:
    """The catalogue loss ``name`` as a LightGBM metric (``feval=``, ``eval_metric=``): the
    weighted mean loss. LightGBM hands raw scores with a custom objective and transformed
    predictions with a built-in one: pass ``transformed=True`` then."""
    return Metric(name, "lightgbm", transformed, params, pool)
