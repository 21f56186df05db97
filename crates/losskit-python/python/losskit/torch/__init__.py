"""losskit on PyTorch tensors: every catalogue loss as a differentiable function.

::

    import losskit.torch as LF
    loss = LF.cross_entropy(logits, labels, label_smoothing=0.1)
    loss.backward()

The functions take the catalogue's names (``LF.huber``, ``LF.bce_with_logits``, ``LF.giou``)
and, where PyTorch or torchvision have the same loss, their names, argument names, order and
default reduction too (``LF.mse_loss``, ``LF.binary_cross_entropy_with_logits``,
``LF.sigmoid_focal_loss``, ``LF.generalized_box_iou_loss``): replacing
``import torch.nn.functional as F`` with ``import losskit.torch as F`` is the migration.
:mod:`losskit.torch.nn` has the same losses as ``nn.Module`` classes.

One ``torch.autograd.Function`` serves every loss: the forward pass computes the loss and the
gradients of every prediction that requires one in the same fused pass; the backward pass
scales them by the upstream gradient (``reduction='none'``: a vector-Jacobian product with
any upstream gradient, computed by the core). CPU tensors of float32, float64, float16 and
bfloat16; anything else gets a :class:`losskit.LossError` naming the device or dtype.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .. import _spec
from .._native import LossError
from .._native import evaluate as _evaluate

__all__: list[str] = ["LossError"]

_FLOATS = {torch.float32: np.float32, torch.float64: np.float64}
_HALVES = {torch.float16: "float16", torch.bfloat16: "bfloat16"}
_OTHERS = {torch.int32, torch.int64, torch.uint8, torch.bool}
_ALLOWED = frozenset(_FLOATS) | frozenset(_HALVES) | _OTHERS
# From this many input elements on, gradients are written into tensors PyTorch allocates;
# below it the core's own arrays are adopted (fewer calls per loss call).
_OWN_BUFFERS = 1 << 16


def _tensor(loss: str, name: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        t = value
    else:
        t = torch.as_tensor(value)
    if t.device.type != "cpu":
        raise LossError(
            f"{loss}: `{name}` is on device {t.device}; losskit computes on the CPU only: "
            f"move it with `.cpu()` (losskit makes no silent copy)"
        )
    if t.dtype not in _FLOATS and t.dtype not in _HALVES and t.dtype not in _OTHERS:
        raise LossError(
            f"{loss}: `{name}` has dtype {str(t.dtype).replace('torch.', '')}; expected float32, "
            "float64, float16, bfloat16, int32, int64, uint8 or bool"
        )
    return t


def _numpy(t: torch.Tensor) -> tuple[np.ndarray, str]:
    """A C-contiguous NumPy view of ``t`` (a copy only when ``t`` is not contiguous) and the
    dtype tag of the half types, which cross as their bits."""
    t = t.detach()
    if t.dtype in _HALVES:
        return t.contiguous().view(torch.int16).numpy().view(np.uint16), _HALVES[t.dtype]
    try:
        return t.contiguous().numpy(), ""
    except RuntimeError:
        # A lazily negated view (`x.neg()` of a conjugate, `torch._neg_view`): materialise it.
        return t.resolve_neg().resolve_conj().contiguous().numpy(), ""


class _Call:
    """One call: the loss (its catalogue entry, input names and predictions), the parameters
    that differ from their defaults, and the reduction."""

    __slots__ = ("entry", "names", "params", "predictions", "reduction")

    def __init__(self, spec: _spec.Defaults, params: list, reduction: str):
        self.entry = spec.entry
        self.names = spec.names
        self.predictions = spec.predictions
        self.params = params
        self.reduction = reduction


def _run(
    call: _Call,
    tensors: Sequence[torch.Tensor | None],
    grads: Sequence[str],
    cotangent: torch.Tensor | None = None,
):
    """Evaluates ``call`` on ``tensors``, computing in float32 or float64 (half predictions
    are widened to float32, exactly). Returns the value (a 0-d tensor or the per-element
    tensor, in the prediction's dtype) and the gradients asked for, in the compute type."""
    loss = call.entry["name"]
    arrays = []
    compute = None
    out_dtype = None
    for name, t in zip(call.names, tensors):
        if t is None:
            continue
        if name in call.predictions:
            if compute is None:
                out_dtype = t.dtype
                compute = t.dtype if t.dtype in _FLOATS else torch.float32
            if t.dtype in _HALVES or (t.dtype in _FLOATS and t.dtype != compute):
                t = t.to(compute)
        arrays.append((name, *_numpy(t)))
    bufs = None
    out: list[torch.Tensor] = []
    cot = None
    if cotangent is not None:
        cot = cotangent.detach().to(compute).contiguous().numpy()
    if grads and (cot is not None or sum(a.size for _, a, _ in arrays) >= _OWN_BUFFERS):
        # Large gradients go into tensors from PyTorch's allocator, which reuses freed memory
        # where a fresh allocation would fault every page in again.
        shapes = {name: t.shape for name, t in zip(call.names, tensors) if t is not None}
        out = [torch.empty(shapes[g], dtype=compute) for g in grads]
        bufs = [o.numpy() for o in out]
    value, per_element, _shape, made = _evaluate(loss, arrays, call.params, call.reduction, list(grads), bufs, cot)
    if bufs is None and grads:
        out = [torch.from_numpy(g) for g in made]
    if per_element is not None:
        result = torch.from_numpy(per_element)
    else:
        result = torch.scalar_tensor(value, dtype=compute)
    if out_dtype is not None and result.dtype != out_dtype:
        result = result.to(out_dtype)
    return result, out


class _LossFunction(torch.autograd.Function):
    """Every catalogue loss: forward computes the loss and, in the same pass, the gradients
    of the predictions that need one; backward scales them by the upstream gradient (or, for
    ``reduction='none'``, has the core compute the vector-Jacobian product)."""

    @staticmethod
    def forward(ctx, call: _Call, *tensors: torch.Tensor | None):  # type: ignore[override]
        needs = ctx.needs_input_grad
        # The positions (in `tensors`) and names of the predictions whose gradients are wanted.
        slots = [k for k, name in enumerate(call.names) if needs[k + 1] and name in call.predictions]
        wanted = [call.names[k] for k in slots]
        ctx.call = call
        ctx.slots = slots
        ctx.wanted = wanted
        ctx.dtypes = [tensors[k].dtype for k in slots]
        # The inputs are kept (references, no copy) for a `none` backward, which needs the
        # upstream gradient, and for a second backward (retain_graph) once the gradients
        # computed here have been handed over.
        ctx.save_for_backward(*tensors)
        if call.reduction == "none":
            value, _ = _run(call, tensors, ())
            ctx.grads = None
            return value
        value, grads = _run(call, tensors, wanted)
        ctx.grads = grads
        return value

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):  # type: ignore[override]
        call: _Call = ctx.call
        if call.reduction == "none":
            _, grads = _run(call, ctx.saved_tensors, ctx.wanted, cotangent=grad_output)
        else:
            grads = ctx.grads
            if grads is None:
                # A second backward through the same graph: compute them again.
                _, grads = _run(call, ctx.saved_tensors, ctx.wanted)
            # Hand the buffers over (autograd can then adopt them as `.grad` without a copy).
            ctx.grads = None
            # The upstream gradient of a loss is most often exactly 1: skip the multiply.
            if not (grad_output.dim() == 0 and grad_output.item() == 1.0):
                grads = [g.mul_(grad_output.to(g.dtype)) for g in grads]
        result: list[torch.Tensor | None] = [None] * (len(call.names) + 1)
        for k, g, dtype in zip(ctx.slots, grads, ctx.dtypes):
            # Each gradient in its input's dtype (half inputs were computed in float32).
            result[k + 1] = g if g.dtype == dtype else g.to(dtype)
        if torch.is_grad_enabled():
            # create_graph=True: these gradients are not differentiable again. Differentiating
            # them must be an error, never a silently missing term.
            return _refuse_second_derivative(call.entry["name"], result)
        return tuple(result)


def _refuse_second_derivative(loss: str, grads: list) -> tuple:
    """``grads`` as outputs of a node that raises when differentiated (what
    ``torch.autograd.function.once_differentiable`` does, but also when the upstream gradient
    does not itself require grad)."""
    present = [k for k, g in enumerate(grads) if g is not None]
    if not present:
        return tuple(grads)
    err = torch._C._functions.DelayedError(
        f"losskit.torch.{loss}: second derivatives are not supported (its backward pass is "
        "losskit's fused gradient, not a differentiable graph)".encode(),
        len(present),
    )
    fake = []
    for k in present:
        g = grads[k].detach()
        g.requires_grad_(True)
        fake.append(g)
    outs = err(*fake)
    if not isinstance(outs, tuple):
        outs = (outs,)
    result = list(grads)
    for k, g in zip(present, outs):
        result[k] = g
    return tuple(result)


def _apply(call: _Call, tensors: list[torch.Tensor | None]) -> torch.Tensor:
    if torch.is_grad_enabled():
        needs = False
        for name, t in zip(call.names, tensors):
            if t is not None and t.requires_grad:
                if name not in call.predictions:
                    raise LossError(
                        f"{call.entry['name']}: `{name}` requires grad, but losskit differentiates "
                        f"the predictions only ({', '.join(f'`{p}`' for p in _spec.predictions(call.entry))}); "
                        f"pass `{name}.detach()`"
                    )
                needs = True
        if needs:
            return _LossFunction.apply(call, *tensors)
    value, _ = _run(call, tensors, ())
    return value


def _torch_call(spec: _spec.Defaults, inputs: tuple, params: tuple, reduction: str) -> torch.Tensor:
    tensors = []
    for n, v in zip(spec.names, inputs):
        if v is not None and not (type(v) is torch.Tensor and v.is_cpu and v.dtype in _ALLOWED):
            v = _tensor(spec.entry["name"], n, v)
        tensors.append(v)
    if type(reduction) is not str:
        raise LossError(f"{spec.entry['name']}: `reduction` must be a string, got {reduction!r}")
    return _apply(_Call(spec, spec.pairs(params) if params else [], reduction), tensors)


# Inside `torch.compile`d code a losskit call is a clean graph break: Dynamo does not try to
# trace into the extension module (which it cannot), it runs the call as it is.
_compiled_call = torch.compiler.disable(_torch_call)


def _make(entry: dict[str, Any], public: str, reference: list | None, reduction: str, head: str):
    """The tensor function of ``entry``, called ``public``, with the argument names and order of
    ``reference`` (a reference library's ``(name, default)`` list) and ``reduction`` its
    default."""
    return _spec.build(
        entry,
        public,
        __name__,
        _compiled_call,
        reference,
        reduction,
        doc=_spec.docstring(
            entry,
            head,
            "a tensor: 0-d for 'mean'/'sum', the per-element losses for 'none'; differentiable "
            "with respect to the predictions.",
        ),
    )


# torchvision's box and focal losses: their arguments (torchvision may not be installed, so
# they are written here), with torchvision's default reduction, 'none'.
_BOXES = [("boxes1", None), ("boxes2", None), ("reduction", "none"), ("eps", 1e-7)]
_TORCHVISION = {
    "sigmoid_focal_loss": [("inputs", None), ("targets", None), ("alpha", 0.25), ("gamma", 2), ("reduction", "none")],
    "generalized_box_iou_loss": _BOXES,
    "distance_box_iou_loss": _BOXES,
    "complete_box_iou_loss": _BOXES,
}


def _reference(fn: Any) -> list:
    """A PyTorch function's ``(name, default)`` list."""
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()]


#: The PyTorch / torchvision names, each mapped to the catalogue loss it computes.
ALIASES: dict[str, str] = {}

for _entry in _spec.CATALOGUE:
    _name = _entry["name"]
    globals()[_name] = _make(
        _entry,
        _name,
        None,
        "mean",
        f"losskit.torch.{_name}: differentiable, on CPU tensors.",
    )
    __all__.append(_name)
    for _ref in re.findall(r"torch\.nn\.functional\.(\w+)", _entry["reference"]):
        _torch_fn = getattr(torch.nn.functional, _ref, None)
        if _torch_fn is None:
            continue
        ALIASES[_ref] = _name
        # Under PyTorch's name (which may be the catalogue's own, `cross_entropy`, `kl_div`):
        # PyTorch's arguments and order.
        globals()[_ref] = _make(
            _entry,
            _ref,
            _reference(_torch_fn),
            "mean",
            f"losskit's {_name}, under torch.nn.functional's name and argument order.",
        )
        if _ref != _name:
            __all__.append(_ref)
    for _ref in re.findall(r"torchvision\.ops\.(\w+)", _entry["reference"]):
        if _ref not in _TORCHVISION:
            continue
        globals()[_ref] = _make(
            _entry,
            _ref,
            _TORCHVISION[_ref],
            "none",
            f"losskit's {_name}, under torchvision.ops' name, argument names and default reduction ('none').",
        )
        ALIASES[_ref] = _name
        __all__.append(_ref)

del _entry, _name

from . import nn as nn

__all__.append("nn")
