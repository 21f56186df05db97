"""losskit: loss functions with the value and its gradient in one fused pass, numerically
stable at any input, with the same numbers as PyTorch, torchvision, MONAI and
pytorch-metric-learning.

On NumPy arrays::

    import numpy as np, losskit
    x, y = np.random.randn(8, 3).astype(np.float32), np.random.randn(8, 3).astype(np.float32)
    losskit.huber(x, y, delta=0.5)                          # the loss, a float
    e = losskit.huber(x, y, delta=0.5, grad="input")        # value and gradient, one pass
    e.value, e.grads["input"]
    losskit.evaluate("huber", {"input": x, "target": y}, {"delta": 0.5}, grad=["input"])

As differentiable PyTorch functions: :mod:`losskit.torch` (``losskit.torch.cross_entropy``,
``losskit.torch.nn.CrossEntropy``, and the ``torch.nn.functional`` names).

Every loss of the catalogue has a function here, generated from the catalogue the Rust core
carries: ``losskit.catalogue()`` lists them, ``help(losskit.focal)`` shows one in full. Bad
input raises :class:`LossError` (a ``ValueError``) with the message the ``losskit`` command
line prints. The kernels run with the GIL released on losskit's own thread pool
(:func:`set_num_threads`); results are bit-identical at any thread count.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from . import _spec
from ._native import LossError, __version__, get_num_threads, set_num_threads

__all__ = [
    "Evaluation",
    "LossError",
    "__version__",
    "catalogue",
    "evaluate",
    "get_num_threads",
    "sample",
    "set_num_threads",
]

_ALLOWED = {"float32", "float64", "float16", "bfloat16", "int32", "int64", "uint8", "bool"}


def sample(loss: str, size: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Valid inputs of ``loss`` at its default parameters, about ``size`` prediction elements,
    drawn from ``seed`` (the same arrays on every machine): float64 and int64 arrays by input
    name, what ``losskit bench`` and ``gradcheck`` run the loss on."""
    _spec.info(loss)
    return dict(_spec._native.sample(loss, int(size), int(seed)))


def catalogue() -> list[dict[str, Any]]:
    """Every loss: name, family, summary, inputs, params (type, default, range), reductions,
    formula, gradient, when_to_use, pitfalls, reference."""
    return [dict(entry) for entry in _spec.CATALOGUE]


class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        loss: the loss's name.
        reduction: the reduction used.
        value: the reduced loss as a Python float (``mean``, ``sum``, ``batchmean``), or the
            per-element losses as an ndarray of ``shape`` (``none``).
        grads: a dict from each input named in ``grad`` to its gradient, an ndarray of that
            input's shape and dtype (for ``none``: the gradient of the sum).
        shape: the shape of the unreduced loss.
    """

    __slots__ = ("grads", "loss", "reduction", "shape", "value")

    def __init__(self, loss: str, reduction: str, value: Any, grads: dict[str, np.ndarray], shape: tuple[int, ...]):
        self.loss = loss
        self.reduction = reduction
        self.value = value
        self.grads = grads
        self.shape = shape

    def __repr__(self) -> str:
        value = self.value if isinstance(self.value, float) else f"<ndarray {self.value.shape}>"
        grads = ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in self.grads.items())
        return f"Evaluation(loss={self.loss!r}, reduction={self.reduction!r}, value={value}, shape={self.shape}, grads={{{grads}}})"

    def __float__(self) -> float:
        return float(self.value)


def _array(loss: str, name: str, value: Any) -> tuple[np.ndarray, str, np.dtype]:
    """``value`` as a C-contiguous array the core reads without a copy (any other layout is
    copied into row-major order, never reinterpreted), the dtype tag, and its own dtype."""
    if isinstance(value, np.ndarray):
        a = value
    else:
        if hasattr(value, "__dlpack__") and type(value).__module__.startswith("torch"):
            raise LossError(f"{loss}: `{name}` is a torch tensor: use losskit.torch.{loss}")
        a = np.asarray(value)
    dtype = a.dtype
    if dtype.name not in _ALLOWED:
        if a.dtype == np.dtype(object) or a.dtype.kind in "US":
            raise LossError(f"{loss}: `{name}` is not numeric (dtype {dtype}); expected an array of numbers")
        raise LossError(
            f"{loss}: `{name}` has dtype {dtype}; expected float32, float64, float16, bfloat16, int32, int64, uint8 or bool"
        )
    # Row-major, copied only if it is not already (np.ascontiguousarray would make a 0-d array 1-d).
    a = np.asarray(a, order="C")
    tag = ""
    if dtype.name in ("float16", "bfloat16"):
        tag = dtype.name
        a = a.view(np.uint16)
    return a, tag, dtype


def _half_view(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """A float16/bfloat16 result, which leaves the core as its bits, in its own dtype."""
    return a.view(dtype) if a.dtype == np.uint16 else a


def evaluate(
    loss: str,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any] | None = None,
    reduction: str = "mean",
    grad: str | Iterable[str] = (),
) -> Evaluation:
    """Evaluates catalogue loss ``loss`` on NumPy arrays.

    Args:
        loss: the loss's name (``losskit.catalogue()`` lists them).
        inputs: the catalogue's input names mapped to arrays (float32, float64, float16,
            bfloat16 via ``ml_dtypes``, int32, int64, uint8, bool; lists are converted).
            Contiguous arrays are read without a copy; any other layout is read correctly.
        params: parameter names mapped to Python values (numbers, bools, strings). An input
            given here (a class ``weight`` as a list) is taken as that input.
        reduction: ``"mean"``, ``"sum"``, ``"none"`` (or ``"batchmean"`` for ``kl_div``).
        grad: the name, or names, of the inputs whose gradients are wanted.

    Returns:
        An :class:`Evaluation`: ``.value``, ``.grads``, ``.shape``.

    Raises:
        LossError: unknown names (with a did-you-mean), missing inputs, wrong dtypes, shapes
            or values: the message names the loss, the argument, the shapes or values.
    """
    entry = _spec.info(loss)
    pairs, extra = _spec.split_params(entry, params)
    return _evaluate(entry, dict(inputs), pairs, extra, reduction, grad)


def _evaluate(
    entry: dict[str, Any],
    given: dict[str, Any],
    pairs: list,
    extra: dict[str, Any],
    reduction: str,
    grad: Any,
) -> Evaluation:
    loss = entry["name"]
    if not isinstance(reduction, str):
        raise LossError(f"{loss}: `reduction` must be a string, got {reduction!r}")
    grads = [grad] if isinstance(grad, str) else list(grad)
    for k, v in extra.items():
        if k in given:
            raise LossError(f"{loss}: input `{k}` given twice (in `inputs` and in `params`)")
        given[k] = v
    arrays = []
    dtypes = {}
    for name, value in given.items():
        if value is None:
            continue
        a, tag, dtype = _array(loss, name, value)
        arrays.append((name, a, tag))
        dtypes[name] = dtype
    value, per_element, shape, out = _spec._native.evaluate(loss, arrays, pairs, reduction, grads)
    prediction = next((dtypes[n] for n in _spec.predictions(entry) if n in dtypes), None)
    if per_element is not None:
        value = per_element
        if prediction is not None and prediction.name in ("float16", "bfloat16"):
            value = per_element.astype(prediction)
    result = {name: _half_view(g, dtypes[name]) for name, g in zip(grads, out)}
    return Evaluation(loss, reduction, value, result, tuple(shape))


def _numpy_call(defaults: _spec.Defaults, inputs: tuple, params: tuple, reduction: str, grad: Any) -> Any:
    entry = defaults.entry
    given = {i["name"]: v for i, v in zip(entry["inputs"], inputs) if v is not None}
    e = _evaluate(entry, given, defaults.pairs(params), {}, reduction, grad)
    return e if grad else e.value


def _numpy_function(entry: dict[str, Any]):
    name = entry["name"]
    return _spec.build(
        entry,
        name,
        __name__,
        _numpy_call,
        extra=[("grad", ())],
        doc=_spec.docstring(
            entry,
            f"losskit.{name} on NumPy arrays (float32/float64 compute; float16, bfloat16 and integer "
            "inputs accepted). With ``grad`` (an input's name, or several) the gradients come in the "
            "same fused pass.",
            "the loss (a float, or an ndarray of per-element losses for reduction='none'); with "
            "``grad``, an Evaluation (.value, .grads, .shape).",
        ),
    )


for _entry in _spec.CATALOGUE:
    globals()[_entry["name"]] = _numpy_function(_entry)
    __all__.append(_entry["name"])
del _entry
