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


def _module(entry: dict[str, Any], class_name: str) -> type:
    loss = entry["name"]
    function = getattr(sys.modules[__package__], loss)
    required = [i["name"] for i in entry["inputs"] if i["required"]]
    optional = [i["name"] for i in entry["inputs"] if not i["required"]]
    init_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    init_params += [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in optional]
    init_params += [
        inspect.Parameter(p.name, inspect.Parameter.KEYWORD_ONLY, default=p.default)
        for p in _spec.parameters(entry)
        if p.name not in required and p.name not in optional
    ]
    init_sig = inspect.Signature(init_params)
    fwd_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    fwd_params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in required]
    fwd_params += [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in optional]
    fwd_sig = inspect.Signature(fwd_params)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        bound = init_sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        torch.nn.Module.__init__(self)
        settings = dict(bound.arguments)
        settings.pop("self")
        for n in optional:
            value = settings.pop(n)
            # A class weight moves with the module (`.to()`, state_dict) like torch's.
            self.register_buffer(n, None if value is None else torch.as_tensor(value))
        self.settings = settings

    def forward(self, *args: Any, **kwargs: Any) -> torch.Tensor:
        bound = fwd_sig.bind(self, *args, **kwargs)
        a = dict(bound.arguments)
        a.pop("self")
        for n in optional:
            if a.get(n) is None and getattr(self, n) is not None:
                a[n] = getattr(self, n)
        return function(**a, **self.settings)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.settings.items())

    __init__.__signature__ = init_sig  # type: ignore[attr-defined]
    forward.__signature__ = fwd_sig  # type: ignore[attr-defined]
    cls = type(
        class_name,
        (torch.nn.Module,),
        {
            "__init__": __init__,
            "forward": forward,
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
        _cls = _module(_spec.LOSSES[_loss], _name)
        globals()[_name] = _cls
        __all__.append(_name)
