"""Every catalogue loss as a ``torch.nn.Module``: ``losskit.torch.nn.CrossEntropy(
label_smoothing=0.1)(logits, labels)``, under the catalogue's name in CamelCase and, where
PyTorch has the loss, under its class name too (``CrossEntropyLoss``, ``MSELoss``,
``BCEWithLogitsLoss``, …).

The constructor takes the loss's parameters, its optional inputs (a class ``weight``,
``pos_weight``) and ``reduction``; ``forward`` takes the inputs, the optional ones too.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import torch

from .. import _spec
from . import ALIASES

__all__: list[str] = []

_POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KW = inspect.Parameter.KEYWORD_ONLY


def _module(entry: dict[str, Any], class_name: str, reference: type | None = None) -> type:
    """The module class of ``entry``. Without ``reference`` its constructor takes the optional
    inputs, the parameters and ``reduction`` as keywords and ``forward`` the catalogue's
    inputs; with a PyTorch class as ``reference``, both take that class's argument names and
    order (``CrossEntropyLoss(weight, size_average, ignore_index, ...)``,
    ``MarginRankingLoss.forward(input1, input2, target)``)."""
    loss = entry["name"]
    function = getattr(sys.modules[__package__], loss)
    required = [i["name"] for i in entry["inputs"] if i["required"]]
    optional = [i["name"] for i in entry["inputs"] if not i["required"]]
    settable = optional + [p["name"] for p in entry["params"]] + ["reduction"]
    defaults = {p.name: p.default for p in _spec.parameters(entry)}
    self_param = inspect.Parameter("self", _POS)
    if reference is None:
        init_params = [inspect.Parameter(n, _KW, default=defaults[n]) for n in settable]
        fwd_names = list(required)
    else:
        init_params = [
            inspect.Parameter(p.name, _POS, default=defaults.get(p.name, p.default))
            for p in list(inspect.signature(reference.__init__).parameters.values())[1:]
            if p.kind in (_POS, _KW)
        ]
        given = {p.name for p in init_params}
        init_params += [inspect.Parameter(n, _KW, default=defaults[n]) for n in settable if n not in given]
        theirs = [p.name for p in list(inspect.signature(reference.forward).parameters.values())[1:]]
        fwd_names = theirs[: len(required)]
    init_sig = inspect.Signature([self_param, *init_params])
    fixed = {p.name: p.default for p in init_params if p.name not in settable}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = init_sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        torch.nn.Module.__init__(self)
        settings = dict(bound.arguments)
        settings.pop("self")
        for n, default in fixed.items():
            _spec.fixed(loss, n, settings.pop(n), default)
        for n in optional:
            value = settings.pop(n)
            # A class weight moves with the module (`.to()`, state_dict) like PyTorch's.
            self.register_buffer(n, None if value is None else torch.as_tensor(value))
        # Parameters left at their defaults are not passed on: the core has them.
        self.settings = {k: v for k, v in settings.items() if k == "reduction" or v is not defaults[k]}

    # `forward` with a real signature, so that calling the module binds nothing by hand.
    args = ", ".join(fwd_names + [f"{n}=None" for n in optional])
    passed = ", ".join(
        [f"{ours}={theirs}" for ours, theirs in zip(required, fwd_names)]
        + [f"{n}=self.{n} if {n} is None else {n}" for n in optional]
    )
    namespace: dict[str, Any] = {"_function": function}
    src = f"def forward(self, {args}):\n    return _function({passed}, **self.settings)\n"
    exec(compile(src, f"<losskit {__name__}.{class_name}.forward>", "exec"), namespace)  # noqa: S102

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.settings.items())

    __init__.__signature__ = init_sig  # type: ignore[attr-defined]
    cls = type(
        class_name,
        (torch.nn.Module,),
        {
            "__init__": __init__,
            "forward": namespace["forward"],
            "extra_repr": extra_repr,
            "__doc__": f"``nn.Module`` form of :func:`losskit.torch.{loss}`.\n\n" + (function.__doc__ or ""),
            "__module__": __name__,
        },
    )
    return cls


def _torch_class(function_name: str):
    """PyTorch's module class for functional ``function_name`` (``mse_loss`` -> ``MSELoss``,
    ``binary_cross_entropy_with_logits`` -> ``BCEWithLogitsLoss``), found in ``torch.nn``."""
    key = function_name.replace("binary_cross_entropy", "bce").replace("_", "").lower()
    if not key.endswith("loss"):
        key += "loss"
    for attr in dir(torch.nn):
        if attr.lower() == key and isinstance(getattr(torch.nn, attr), type):
            return attr
    return None


for _entry in _spec.CATALOGUE:
    _cls = _module(_entry, _spec.camel(_entry["name"]))
    globals()[_cls.__name__] = _cls
    __all__.append(_cls.__name__)
for _alias, _loss in ALIASES.items():
    _name = _torch_class(_alias)
    if _name is not None and _name not in globals():
        _cls = _module(_spec.LOSSES[_loss], _name, getattr(torch.nn, _name))
        globals()[_name] = _cls
        __all__.append(_name)
