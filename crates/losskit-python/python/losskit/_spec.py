"""The catalogue as Python data, and what every generated function is built from: its
signature, its docstring, and the conversion of Python values to the core's parameters.

Nothing here is written loss by loss: every function losskit exposes is generated from the
catalogue the Rust core carries (``_native.catalogue()``).
"""

from __future__ import annotations

import inspect
import keyword
import numbers
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _native
from ._native import LossError

CATALOGUE: list[dict[str, Any]] = list(_native.catalogue())
LOSSES: dict[str, dict[str, Any]] = {entry["name"]: entry for entry in CATALOGUE}

_EMPTY = inspect.Parameter.empty
_POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KW = inspect.Parameter.KEYWORD_ONLY


def info(name: str) -> dict[str, Any]:
    """The catalogue entry of loss ``name``; an unknown name raises :class:`LossError` with
    the command line's did-you-mean."""
    if name not in LOSSES:
        _native.find(name)  # raises, with the suggestion
    return LOSSES[name]


def predictions(entry: Mapping[str, Any]) -> list[str]:
    """The names of the inputs that have gradients."""
    return [i["name"] for i in entry["inputs"] if i["role"] == "prediction"]


def param_text(entry: Mapping[str, Any], name: str, value: Any) -> str:
    """``value`` as the text the core parses for parameter ``name`` of ``entry``."""
    spec = next((p for p in entry["params"] if p["name"] == name), None)
    if spec is None:
        # The core's message lists the parameters the loss takes.
        return str(value)
    if isinstance(value, np.generic):
        value = value.item()
    kind = spec["type"]
    if kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return "true" if value else "false"
    elif kind == "choice":
        if isinstance(value, str):
            return value
    elif kind == "int":
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(int(value))
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            v = float(value)
            if v.is_integer():
                return str(int(v))
    elif kind == "float" and isinstance(value, numbers.Real) and not isinstance(value, bool):
        # NaN and infinities go through as text: the loss's constructor rejects them with its
        # own message.
        return repr(float(value))
    expected = {
        "bool": "True or False",
        "choice": "one of " + ", ".join(f"'{o}'" for o in spec.get("options", [])),
        "int": "an integer",
        "float": "a real number",
    }[kind]
    raise LossError(
        f"{entry['name']}: parameter `{name}` got {value!r} ({type(value).__name__}); expected {expected}"
    )


def split_params(
    entry: Mapping[str, Any], params: Mapping[str, Any] | None
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The parameters as ``(name, text)`` pairs, and those that name an input of the loss (a
    class ``weight`` given as a list, say), which are inputs."""
    pairs: list[tuple] = []
    extra: dict[str, Any] = {}
    input_names = {i["name"] for i in entry["inputs"]}
    for k, v in (params or {}).items():
        if k in input_names:
            if v is not None:
                extra[k] = v
        else:
            pairs.append((k, param_text(entry, k, v)))
    return pairs, extra


def _default(spec: Mapping[str, Any]) -> Any:
    d = spec["default"]
    if spec["type"] == "int":
        return int(d)
    if spec["type"] == "float":
        return float(d)
    return d


def parameters(
    entry: Mapping[str, Any],
    names: Sequence[str] | None = None,
    reduction: str = "mean",
    trailing: Sequence[inspect.Parameter] = (),
) -> list[inspect.Parameter]:
    """The signature's parameters: required inputs positional (under ``names`` where a
    reference library calls them otherwise), optional inputs and parameters with their
    defaults, then ``reduction``."""
    out = []
    renamed = list(names or [])
    for k, i in enumerate(entry["inputs"]):
        name = renamed[k] if k < len(renamed) else i["name"]
        out.append(inspect.Parameter(name, _POS, default=_EMPTY if i["required"] else None))
    for p in entry["params"]:
        out.append(inspect.Parameter(p["name"], _POS, default=_default(p)))
    out.append(inspect.Parameter("reduction", _POS, default=reduction))
    out.extend(trailing)
    return out


def docstring(entry: Mapping[str, Any], head: str, returns: str) -> str:
    """A docstring from the catalogue: summary, formula, gradient, inputs, parameters, when to
    use it, pitfalls, reference."""
    lines = [f"{entry['summary'][0].upper()}{entry['summary'][1:]}.", "", head, ""]
    lines += ["Formula::", "", "    " + entry["formula"], "", "Gradient::", "", "    " + entry["gradient"], ""]
    lines += ["Inputs:"]
    for i in entry["inputs"]:
        opt = "" if i["required"] else ", optional"
        kind = {"float": "floats", "index": "integers", "float_or_index": "integers or floats"}[i["kind"]]
        lines.append(f"    {i['name']} ({i['role']}{opt}): {kind}, {i['shape']}")
    if entry["params"]:
        lines += ["", "Parameters:"]
        for p in entry["params"]:
            rng = f", {p['range']}" if "range" in p else ""
            if p["type"] == "choice":
                rng = ", one of " + ", ".join(p["options"])
            lines.append(f"    {p['name']} ({p['type']}, default {p['default']!r}{rng}): {p['doc']}")
    lines += ["", "reduction: one of " + ", ".join(f"'{r}'" for r in entry["reductions"]), ""]
    lines += ["Returns:", "    " + returns, ""]
    lines += ["When to use it:"] + textwrap.wrap(entry["when_to_use"], 92, initial_indent="    ", subsequent_indent="    ")
    if entry["pitfalls"]:
        lines += ["", "Pitfalls:"]
        for p in entry["pitfalls"]:
            lines += textwrap.wrap(p, 92, initial_indent="    - ", subsequent_indent="      ")
    lines += ["", "Reference:", "    " + entry["reference"], ""]
    lines += ["Raises:", "    LossError: bad input; the message names the loss, the argument, the shapes or values."]
    return "\n".join(lines)


def camel(name: str) -> str:
    """``bce_with_logits`` -> ``BceWithLogits``."""
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


class Defaults:
    """A loss's parameter defaults as the objects a generated signature holds, so that a call
    that leaves a parameter at its default is recognised by identity and sends nothing: the
    core fills in its own defaults."""

    __slots__ = ("entry", "names", "objects", "predictions")

    def __init__(self, entry: Mapping[str, Any]):
        self.entry = entry
        self.names = [i["name"] for i in entry["inputs"]]
        self.predictions = frozenset(predictions(entry))
        self.objects = [_default(p) for p in entry["params"]]

    def pairs(self, values: Sequence[Any]) -> list:
        """``(name, text)`` for every parameter not left at its default."""
        out = []
        for spec, default, value in zip(self.entry["params"], self.objects, values):
            if value is not default:
                out.append((spec["name"], param_text(self.entry, spec["name"], value)))
        return out


_DEPRECATED = ("size_average", "reduce")


def slots(
    entry: Mapping[str, Any],
    reference: Sequence[tuple] | None = None,
    reduction: str = "mean",
) -> tuple[list[tuple], list[tuple]]:
    """The parameters of a generated function, as ``(public name, slot, default)`` lists
    (positional-or-keyword, then keyword-only). A slot is ``("input", k)``, ``("param", k)``,
    ``("reduction",)`` or ``("fixed",)`` (a reference library's argument losskit accepts only
    at its default: PyTorch's deprecated ``size_average`` and ``reduce``).

    Without ``reference``: the catalogue's order (inputs, required ones first as catalogue
    lists them, then parameters, then ``reduction``). With ``reference``, a reference
    function's ``(name, default)`` list: its order and names, the loss's required inputs
    taking its leading names; what the loss has beyond it comes keyword-only."""
    inputs = entry["inputs"]
    params = entry["params"]
    if reference is None:
        positional = [(i["name"], ("input", k), _EMPTY if i["required"] else None) for k, i in enumerate(inputs)]
        positional += [(p["name"], ("param", k), _default(p)) for k, p in enumerate(params)]
        positional.append(("reduction", ("reduction",), reduction))
        return positional, []
    required = [k for k, i in enumerate(inputs) if i["required"]]
    by_name = {i["name"]: ("input", k) for k, i in enumerate(inputs) if not i["required"]}
    by_name.update({p["name"]: ("param", k) for k, p in enumerate(params)})
    positional, used = [], set()
    for j, (name, default) in enumerate(reference):
        if j < len(required):
            slot, default = ("input", required[j]), _EMPTY
        elif name == "reduction":
            slot = ("reduction",)
        elif name in by_name:
            slot = by_name[name]
            default = None if slot[0] == "input" else _default(params[slot[1]])
        else:
            slot = ("fixed",)
        positional.append((name, slot, default))
        used.add(slot)
    keyword_only = [
        (inputs[k]["name"], ("input", k), None) for k in range(len(inputs)) if ("input", k) not in used
    ]
    keyword_only += [(p["name"], ("param", k), _default(p)) for k, p in enumerate(params) if ("param", k) not in used]
    if ("reduction",) not in used:
        keyword_only.append(("reduction", ("reduction",), reduction))
    return positional, keyword_only


def fixed(loss: str, name: str, value: Any, default: Any) -> None:
    """Refuses a reference library's argument set away from its default."""
    if value is default or value == default:
        return
    if name in _DEPRECATED:
        raise LossError(f"{loss}: `{name}` is deprecated in PyTorch and not supported; use `reduction`")
    raise LossError(f"{loss}: `{name}` = {value!r} is not supported (losskit takes only its default, {default!r})")


def build(
    entry: Mapping[str, Any],
    public: str,
    module: str,
    target: Any,
    reference: Sequence[tuple] | None = None,
    reduction: str = "mean",
    extra: Sequence[tuple] = (),
    doc: str = "",
    method: bool = False,
):
    """A function called ``public`` with a real Python signature (binding the arguments costs
    nothing beyond the call), its parameters as :func:`slots` gives them, plus ``extra``
    keyword-only ``(name, default)`` pairs. Its body calls ``target(defaults, (inputs...),
    (params...), reduction, *extra)``, inputs and parameters in catalogue order. With
    ``method``, the function takes ``self`` first and passes it on before ``defaults``."""
    positional, keyword_only = slots(entry, reference, reduction)
    defaults = Defaults(entry)
    namespace: dict[str, Any] = {"_target": target, "_defaults": defaults, "_fixed": fixed}
    arglist = ["self"] if method else []
    checks = []
    by_slot: dict[tuple, str] = {}
    for k, (name, slot, default) in enumerate(positional + keyword_only):
        if not name.isidentifier() or keyword.iskeyword(name):
            raise RuntimeError(f"losskit: `{name}` is not a Python identifier")
        if k == len(positional):
            arglist.append("*")
        if slot[0] == "param":
            # The catalogue's default object itself, which `Defaults.pairs` tells by identity.
            default = defaults.objects[slot[1]]
        if default is _EMPTY:
            arglist.append(name)
        else:
            namespace[f"_d{k}"] = default
            arglist.append(f"{name}=_d{k}")
        if slot[0] == "fixed":
            checks.append(f"    _fixed({entry['name']!r}, {name!r}, {name}, _d{k})\n")
        else:
            by_slot[slot] = name
    if extra:
        if not keyword_only:
            arglist.append("*")
        for name, default in extra:
            namespace[f"_x_{name}"] = default
            arglist.append(f"{name}=_x_{name}")
    inputs = "".join(f"{by_slot[('input', k)]}, " for k in range(len(entry["inputs"])))
    values = "".join(f"{by_slot[('param', k)]}, " for k in range(len(entry["params"])))
    tail = "".join(f", {name}" for name, _ in extra)
    head = "self, " if method else ""
    src = (
        f"def {public}({', '.join(arglist)}):\n"
        + "".join(checks)
        + f"    return _target({head}_defaults, ({inputs}), ({values}), {by_slot[('reduction',)]}{tail})\n"
    )
    # The source is built from names checked above to be identifiers.
    exec(compile(src, f"<losskit {module}.{public}>", "exec"), namespace)  # noqa: S102
    function = namespace[public]
    function.__module__ = module
    function.__qualname__ = public
    function.__doc__ = doc
    return function
