"""Shared machinery of the reference-case generators (the format: FORMAT.md).

A generator builds a `Family`, adds cases and writes one JSON file:

    fam = Family("regression")
    fam.case("huber/delta=0.5/mixed", "huber",
             "torch.nn.functional.huber_loss(input, target, reduction=R, delta=0.5)",
             {"input": x, "target": t}, params={"delta": 0.5})
    fam.error("huber/delta=0", "huber", {"input": x, "target": t}, "`delta` must be > 0",
              params={"delta": 0.0})
    fam.write()

`call` is a Python expression evaluated as written (so the JSON shows exactly what produced
the numbers), with `torch`, `math`, the reduction `R` and every input bound by name. The float
inputs are float32 in the f32 pass and float64 in the f64 pass; integer inputs keep their dtype.
"""

import json
import math
import pathlib
import platform
import zlib

import numpy as np
import torch

ROOT = pathlib.Path(__file__).resolve().parents[2]
OUT_DIR = ROOT / "crates" / "losskit" / "tests" / "reference"
DTYPES = {"f32": torch.float32, "f64": torch.float64}
REDUCTIONS = ("mean", "sum", "none")
TOOL = f"torch {torch.__version__}"

# `generate.py FAMILY --only LOSS`: the losses whose cases are (re)computed. Every other case is
# copied byte for byte from the committed JSON instead of being recomputed: torch's
# element-wise exp/log kernels round differently by CPU (AVX-512, AVX2 or scalar code, and
# which elements of a tensor land in a vector's lanes or its scalar tail), so a full re-run on
# another machine moves the last bit of cases nobody touched. Empty: every case is computed.
ONLY = set()
_SKIP = "__copied__"

# `call` prefixes for expressions that are not a torch loss with a `reduction` argument:
# REDUCE reduces a per-element loss `l` as torch does; WEIGHTED forms the spec's weighted
# mean, Σ w·ℓ / Σ w, from `l` = ℓ·w (torch's `reduction='none'` output times `weight`).
REDUCE = "{'none': lambda l: l, 'sum': torch.sum, 'mean': torch.mean}[R]"
WEIGHTED = "{'none': lambda l: l, 'sum': torch.sum, 'mean': lambda l: l.sum() / weight.sum()}[R]"


def weighted(elementwise):
    """The `call` of the spec's weighted reductions of a per-element expression."""
    return f"{WEIGHTED}(({elementwise}) * weight)"


def enc(x):
    """A float as JSON: Python's repr round-trips exactly; non-finite values as strings."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def rng(case_id):
    """A generator seeded from the case id, so cases do not depend on each other's draws."""
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def f32(a):
    """`a` rounded to float32 and held as float64: the f32 and f64 passes see the same numbers."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def param_text(v):
    """A parameter as `losskit eval --param KEY=VALUE` takes it."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(float(v)) if isinstance(v, float) else str(v)


def _input_json(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        if not np.array_equal(f32(a), a, equal_nan=True):
            raise ValueError("float inputs must be representable in float32")
        return {"dtype": "float", "shape": list(a.shape), "data": [enc(v) for v in a.ravel()]}
    dtype = {"b": "bool"}.get(a.dtype.kind, a.dtype.name)
    if dtype not in ("int64", "int32", "uint8", "bool"):
        raise ValueError(f"unsupported input dtype {a.dtype}")
    return {"dtype": dtype, "shape": list(a.shape), "data": a.ravel().tolist()}


def _tensors(inputs, dtype, grads):
    out = {}
    for name, a in inputs.items():
        a = np.asarray(a)
        t = torch.tensor(a, dtype=dtype) if a.dtype.kind == "f" else torch.from_numpy(a.copy())
        out[name] = t.requires_grad_(name in grads)
    return out


def evaluate(call, inputs, dtype, reduction, grads, names=None):
    """Runs `call` once; returns the result (`value` or `values`) and `grads` for the names asked.

    `names`: extra names the call may use (a generator's helpers and the tool's classes)."""
    ns = {"torch": torch, "math": math, "R": reduction, **(names or {}),
          **_tensors(inputs, dtype, grads)}
    out = eval(call, ns)  # noqa: S307 - our own expressions, shown verbatim in the JSON
    # A tool may accumulate in float64 (see the call); the result is reported in the pass's type.
    out = out.to(dtype)
    vals = out.detach()
    if grads:
        gs = torch.autograd.grad(out.sum(), [ns[g] for g in grads], allow_unused=True)
    res = {"value": enc(vals)} if reduction != "none" else {"values": [enc(v) for v in vals.ravel()]}
    if grads:
        res["grads"] = {
            g: [enc(v) for v in (torch.zeros_like(ns[g]) if d is None else d).ravel()]
            for g, d in zip(grads, gs)
        }
    return res


class Family:
    """The cases of one loss family, written to `tests/reference/<name>.json`."""

    def __init__(self, name, generator=None, tools=None, names=None):
        self.name = name
        self.names = names or {}
        self.generator = generator or f"tools/reference/{name}.py"
        self.tools = {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            **(tools or {}),
        }
        self.cases = []

    def _add(self, case):
        if any(c["id"] == case["id"] for c in self.cases):
            raise ValueError(f"duplicate case id {case['id']}")
        if ONLY and case["loss"] not in ONLY:
            case = {"id": case["id"], "loss": case["loss"], _SKIP: True}
        self.cases.append(case)

    def _copied(self, id, loss):
        """With `--only`, records a case of another loss (copied at `write`) and says so."""
        if ONLY and loss not in ONLY:
            self._add({"id": id, "loss": loss, _SKIP: True})
            return True
        return False

    def case(self, id, loss, call, inputs, params=None, grads=("input",),
             reductions=REDUCTIONS, dtypes=("f32", "f64"), tool=TOOL, tolerance=None):
        """A case with expected values: `call` is run for every dtype and reduction."""
        if self._copied(id, loss):
            return
        grads = tuple(grads)
        case = {
            "id": id,
            "loss": loss,
            "tool": tool,
            "call": call,
            "params": {k: param_text(v) for k, v in (params or {}).items()},
            "inputs": {k: _input_json(v) for k, v in inputs.items()},
            "expected": {
                d: {r: evaluate(call, inputs, DTYPES[d], r, grads, self.names) for r in reductions}
                for d in dtypes
            },
        }
        if tolerance is not None:
            if "why" not in tolerance:
                raise ValueError("a tolerance override needs a `why`")
            case["tolerance"] = tolerance
        self._add(case)

    def error(self, id, loss, inputs, error, params=None, call=None, torch_raises=None,
              tool=TOOL):
        """A case losskit must reject with a message containing `error`.

        `call` says what the tool does with the same input. With `torch_raises`, `call` is
        run (float64, `mean`) and must raise an exception whose message contains it.
        """
        if self._copied(id, loss):
            return
        if torch_raises is not None:
            try:
                evaluate(call, inputs, torch.float64, "mean", (), self.names)
            except Exception as e:  # noqa: BLE001 - any exception the tool raises
                if torch_raises not in str(e):
                    raise ValueError(f"{id}: torch raised {e!r}, not {torch_raises!r}") from e
            else:
                raise ValueError(f"{id}: torch did not raise")
        case = {
            "id": id,
            "loss": loss,
            "tool": tool,
            "call": call or "",
            "params": {k: param_text(v) for k, v in (params or {}).items()},
            "inputs": {k: _input_json(v) for k, v in inputs.items()},
            "error": error,
        }
        self._add(case)

    def write(self):
        path = OUT_DIR / f"{self.name}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tools = self.tools
        # One case per line keeps diffs of regenerated files readable.
        lines = [json.dumps(c, allow_nan=False) for c in self.cases]
        if ONLY:
            tools, lines = self._merge(path)
        head = json.dumps({"generator": self.generator, "tools": tools})[:-1]
        body = ",\n".join("    " + line for line in lines)
        path.write_text(f'{head}, "cases": [\n{body}\n]}}\n')
        done = sum(1 for c in self.cases if _SKIP not in c)
        print(f"{path.relative_to(ROOT)}: {len(self.cases)} cases ({done} computed)")

    def _merge(self, path):
        """`--only`: the committed file's lines for the copied cases, the new ones elsewhere,
        in the generator's order; the committed tool versions, with any new tool added."""
        text = path.read_text().split("\n")
        committed = json.loads(text[0] + "]}")
        old = {}
        for line in text[1:]:
            line = line.strip()
            if line.startswith("{"):
                line = line.removesuffix(",")
                old[json.loads(line)["id"]] = line
        lines = []
        for c in self.cases:
            if _SKIP not in c:
                lines.append(json.dumps(c, allow_nan=False))
            elif c["id"] in old:
                lines.append(old[c["id"]])
            else:
                raise ValueError(f"{c['id']} is not in {path.name} yet: run without --only")
        tools = dict(committed["tools"])
        for k, v in self.tools.items():
            if tools.setdefault(k, v) != v:
                print(f"note: {k} {v} here, {tools[k]} in {path.name} (each case names its tool)")
        return tools, lines
