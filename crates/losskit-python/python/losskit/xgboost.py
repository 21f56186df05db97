"""losskit losses as XGBoost objectives and metrics (XGBoost ≥ 2; checked on 3.2).

::

    import xgboost as xgb, losskit.xgboost as lx
    obj = lx.objective("focal", alpha=0.25, gamma=2.0)
    dtrain = xgb.DMatrix(X, y, base_margin=np.full(len(y), obj.init_score(y)))
    bst = xgb.train({"tree_method": "hist"}, dtrain, 50, obj=obj,
                    custom_metric=lx.metric("focal", alpha=0.25, gamma=2.0))
    xgb.XGBClassifier(objective=lx.objective("cross_entropy"), n_estimators=50).fit(X, y)

One callable serves both APIs: ``xgb.train(obj=...)`` calls it as ``(predt, dtrain)``, the
scikit-learn estimators as ``(y_true, y_pred, sample_weight=...)``
(``xgboost/sklearn.py``, ``_objective_decorator``). The scores are raw margins, ``[n]`` or
``[n, K]`` row-major for the multiclass losses (labels are class indices); the gradient and
the Hessian's diagonal come back in that shape and dtype, computed in one fused pass with the
GIL released. Sample weights (``DMatrix(weight=...)``, ``sample_weight=``) multiply both.

Curvature: by default (``curvature="xgboost"``) the Hessian is the one XGBoost's built-in
objective uses, so swapping the built-in for losskit's objective changes nothing:
``multi:softprob`` max(2p(1 − p), 10⁻¹⁶) (``src/objective/multiclass_obj.cu``),
``binary:logistic`` max(p(1 − p), 10⁻¹⁶) (``src/objective/regression_loss.h``),
``count:poisson`` e^(s + 0.7) (``regression_obj.cu``, ``max_delta_step`` 0.7: another value
with ``max_delta_step=``), ``reg:absoluteerror``/``reg:quantileerror`` the weight (XGBoost
≤ 3.2), and for focal a positive bound. ``curvature="exact"`` gives the true second
derivative (0 for mae and quantile, negative in places for focal with γ > 0);
``"lightgbm"`` LightGBM's conventions.

Built-in ↔ losskit: ``reg:squarederror`` = ``l2`` (½(s − y)²; losskit's ``mse`` is twice it),
``reg:pseudohubererror`` = ``pseudo_huber`` (``delta`` = ``huber_slope``),
``reg:quantileerror`` = ``quantile`` (``tau`` = ``quantile_alpha``), ``binary:logistic`` =
``bce_with_logits``, ``count:poisson`` = ``poisson_nll``, ``reg:gamma`` = ``gamma_deviance``,
``reg:tweedie`` = ``tweedie``, ``multi:softprob`` = ``cross_entropy``. XGBoost refits the
leaves of ``reg:quantileerror`` and ``reg:absoluteerror`` from the residuals after each tree,
which no (gradient, Hessian) objective can do: the splits agree, the leaf values do not.

``count:poisson`` also makes XGBoost clip every leaf step at ``max_delta_step`` 0.7
(``src/learner.cc``): ``objective.booster_params`` holds such settings, to add to ``params``.

The intercept: XGBoost fits ``base_score`` for its built-in objectives only; with a callable
it stays at the default. ``objective.init_score(y, weight)`` is the optimal constant raw
score: pass it as ``base_margin`` (every row) so the model starts where the built-in would.
"""

from __future__ import annotations

from typing import Any

from ._boosting import BoostingLoss

__all__ = ["Metric", "Objective", "metric", "objective"]


def _weight(dtrain: Any) -> Any:
    w = dtrain.get_weight()
    return w if w.size else None


class Objective(BoostingLoss):
    """An XGBoost objective: ``obj(predt, dtrain)`` for ``xgb.train``, or
    ``obj(y_true, y_pred, sample_weight=None)`` for the scikit-learn API; returns
    ``(grad, hess)``."""

    def __call__(self, predt: Any, dtrain: Any, sample_weight: Any = None):
        if hasattr(dtrain, "get_label"):
            return self.grad_hess(predt, dtrain.get_label(), _weight(dtrain))
        # scikit-learn: (y_true, y_pred)
        return self.grad_hess(dtrain, predt, sample_weight)

    @property
    def booster_params(self) -> dict[str, Any]:
        """The booster parameters XGBoost sets by itself with the equivalent built-in
        objective, to add to ``params`` with this one: ``count:poisson`` also clips every
        leaf step at ``max_delta_step`` 0.7 (``src/learner.cc``), ``poisson_nll`` asks for it."""
        if self.name == "poisson_nll":
            return {"max_delta_step": 0.7 if self.max_delta_step is None else self.max_delta_step}
        return {}


class Metric(BoostingLoss):
    """An XGBoost metric: ``metric(predt, dmatrix) -> (name, value)`` for
    ``xgb.train(custom_metric=...)``, or ``metric(y_true, y_pred, sample_weight=None) ->
    value`` for the scikit-learn ``eval_metric=``. The value is the weighted mean loss."""

    def __init__(self, name: str, curvature: str, transformed: bool, params: dict[str, Any], pool: bool):
        super().__init__("xgboost", name, curvature, params, pool)
        self.transformed = transformed
        self.__name__ = self.name

    def __call__(self, predt: Any, dtrain: Any, sample_weight: Any = None):
        if hasattr(dtrain, "get_label"):
            return self.name, self.value(predt, dtrain.get_label(), _weight(dtrain), self.transformed)
        return self.value(dtrain, predt, sample_weight, self.transformed)


def objective(name: str, *, curvature: str = "xgboost", pool: bool = False, **params: Any) -> Objective:
    """The catalogue loss ``name`` as an XGBoost objective (for ``xgb.train(obj=...)`` and
    ``XGBRegressor``/``XGBClassifier(objective=...)``).

    Args:
        name: a loss with a Hessian (``losskit.catalogue()`` entries whose ``hessian`` is set).
        curvature: ``"xgboost"`` (default: XGBoost's built-in conventions), ``"exact"`` or
            ``"lightgbm"``.
        pool: run on losskit's thread pool instead of the calling thread (see
            ``losskit._boosting``: the libraries' spinning OpenMP threads starve a second pool).
        **params: the loss's parameters and weight inputs (``delta=``, ``tau=``, ``power=``,
            ``pos_weight=[w]``, class ``weight=[...]``, ``label_smoothing=``...), and
            ``max_delta_step=`` for ``poisson_nll``.

    Raises:
        LossError: an unknown name (with the did-you-mean), a loss without a Hessian, a bad
            parameter.
    """
    return Objective("xgboost", name, curvature, params, pool)


def metric(name: str, *, transformed: bool = False, pool: bool = False, **params: Any) -> Metric:
    """The catalogue loss ``name`` as an XGBoost metric: the weighted mean loss.

    XGBoost hands a metric raw margins when the objective is a callable and transformed
    predictions (probabilities, means) with a built-in objective: pass ``transformed=True``
    in that case.
    """
    return Metric(name, "xgboost", transformed, params, pool)
