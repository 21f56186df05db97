"""Shared helpers of losskit's Python tests (imported by the test modules; ``conftest.py``
holds the fixtures): the committed reference cases, the tolerances of the Rust reference
harness (mirrored here), and the catalogue by name.

The reference files are the ones the Rust harness reads (``crates/losskit/tests/reference/*.json``,
format: ``tools/reference/FORMAT.md``); they are located relative to this file and a missing
directory is a test failure, never a skip.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import losskit
import numpy as np
import pytest

# ---------------------------------------------------------------------------------------------
# The reference files

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "losskit" / "tests" / "reference"


def reference_files() -> list[Path]:
    """The top-level ``*.json`` files of the reference directory, as the Rust harness reads
    them (``reference.rs::load``; the ``distance/`` and ``weights/`` subdirectories hold the
    distance-transform and class-weight cases, which are not loss cases and have no Python
    API)."""
    if not REFERENCE_DIR.is_dir():
        return []
    return sorted(p for p in REFERENCE_DIR.glob("*.json") if p.is_file())


@dataclass(frozen=True)
class RefCase:
    file: str
    case: dict[str, Any]

    @property
    def id(self) -> str:
        return self.case["id"]

    @property
    def loss(self) -> str:
        return self.case["loss"]


def load_reference_cases() -> list[RefCase]:
    out: list[RefCase] = []
    for path in reference_files():
        data = json.loads(path.read_text())
        for case in data["cases"]:
            out.append(RefCase(path.stem, case))
    return out


REFERENCE_CASES: list[RefCase] = load_reference_cases()

# A stand-in parameter when no case could be loaded, so the parametrised tests FAIL (an empty
# parametrisation would be reported as a skip).
MISSING = "reference-files-missing"


def reference_params(kind: str) -> list[Any]:
    """``pytest.param``s over the cases: ``kind`` "expected" gives (case, dtype) pairs of the
    cases with expected numbers, "error" the expected-error cases."""
    params = []
    for rc in REFERENCE_CASES:
        if kind == "expected" and "expected" in rc.case:
            for dtype in sorted(rc.case["expected"]):
                params.append(pytest.param(rc, dtype, id=f"{rc.file}:{rc.id}:{dtype}".replace(" ", "")))
        elif kind == "error" and "error" in rc.case:
            params.append(pytest.param(rc, None, id=f"{rc.file}:{rc.id}".replace(" ", "")))
    if not params:
        params.append(pytest.param(MISSING, None, id=MISSING))
    return params


def require_case(rc: Any) -> None:
    assert rc != MISSING, f"no reference cases found under {REFERENCE_DIR}: the committed files are missing"


# ---------------------------------------------------------------------------------------------
# Numbers and inputs of a case


def num(v: Any) -> float:
    if isinstance(v, str):
        return {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}[v]
    return float(v)


def nums(v: Iterable[Any]) -> np.ndarray:
    return np.array([num(x) for x in v], dtype=np.float64)


_EXACT = {"int64": np.int64, "int32": np.int32, "uint8": np.uint8, "bool": np.bool_}


def case_arrays(case: dict[str, Any], dtype: str) -> dict[str, np.ndarray]:
    """The case's inputs as NumPy arrays: ``float`` inputs in float32 (``dtype`` "f32") or
    float64 ("f64"), exact dtypes as they are."""
    out = {}
    for name, inp in case["inputs"].items():
        shape = tuple(inp["shape"])
        if inp["dtype"] == "float":
            data = nums(inp["data"])
            finite = np.isfinite(data)
            assert np.all(data[finite].astype(np.float32).astype(np.float64) == data[finite]), (
                f"{case['id']}: input `{name}` is not float32-representable"
            )
            a = data.astype(np.float32 if dtype == "f32" else np.float64)
        else:
            a = np.array(inp["data"], dtype=_EXACT[inp["dtype"]])
        out[name] = a.reshape(shape)
    return out


def typed_params(loss: str, params: dict[str, str]) -> dict[str, Any]:
    """The case's parameters (the command line's text) as the Python values the generated
    functions take, by the catalogue's parameter types."""
    specs = {p["name"]: p for p in CATALOGUE[loss]["params"]}
    out: dict[str, Any] = {}
    for k, text in params.items():
        spec = specs.get(k)
        if spec is None:
            out[k] = text
        elif spec["type"] == "float":
            out[k] = float(text)
        elif spec["type"] == "int":
            out[k] = int(text)
        elif spec["type"] == "bool":
            assert text in ("true", "false"), text
            out[k] = text == "true"
        else:
            out[k] = text
    return out


CATALOGUE: dict[str, dict[str, Any]] = {e["name"]: e for e in losskit.catalogue()}
LOSS_NAMES: list[str] = [e["name"] for e in losskit.catalogue()]


def predictions(loss: str) -> list[str]:
    return [i["name"] for i in CATALOGUE[loss]["inputs"] if i["role"] == "prediction"]


# ---------------------------------------------------------------------------------------------
# The tolerances of crates/losskit/tests/common/tolerance.rs


@dataclass(frozen=True)
class Tol:
    rel: float
    abs: float


@dataclass(frozen=True)
class Tolerances:
    value: Tol
    values: Tol
    grads: Tol


# tolerance.rs: F32 and F64 (value 16/16, values 8/8, grads 8/8, in units of ε).
DEFAULTS = {
    "f32": Tolerances(Tol(16.0, 16.0), Tol(8.0, 8.0), Tol(8.0, 8.0)),
    "f64": Tolerances(Tol(16.0, 16.0), Tol(8.0, 8.0), Tol(8.0, 8.0)),
}
EPS = {"f32": float(np.finfo(np.float32).eps), "f64": float(np.finfo(np.float64).eps)}


def tolerances(case: dict[str, Any], dtype: str) -> Tolerances:
    """The defaults, or the case's override for ``dtype`` (one Tol for every kind of number)."""
    over = (case.get("tolerance") or {}).get(dtype)
    if over is None:
        return DEFAULTS[dtype]
    t = Tol(float(over["rel"]), float(over["abs"]))
    return Tolerances(t, t, t)


def used(expected: float, actual: float, tol: Tol, eps: float, scale: float) -> float:
    """tolerance.rs::used: how much of the tolerance ``actual`` uses (≤ 1 passes)."""
    if math.isnan(expected) or math.isnan(actual):
        return 0.0 if (math.isnan(expected) and math.isnan(actual)) else math.inf
    if math.isinf(expected) or math.isinf(actual):
        return 0.0 if expected == actual else math.inf
    err = abs(actual - expected)
    if err == 0.0:
        return 0.0
    return err / (eps * (tol.rel * abs(expected) + tol.abs * scale))


def scale_of(values: Iterable[float]) -> float:
    finite = [abs(v) for v in values if math.isfinite(v)]
    return max(finite) if finite else 0.0


def compare(where: str, what: str, expected: np.ndarray, actual: Any, tol: Tol, eps: float, scale: float) -> list[str]:
    """Element-by-element comparison as reference.rs's ``Pass::compare``: a list of failure
    messages (empty when everything matches)."""
    e = np.asarray(expected, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if e.shape != a.shape:
        return [f"{where}: {what}: {a.size} elements, expected {e.size}"]
    bad = []
    for i, (x, y) in enumerate(zip(e.tolist(), a.tolist())):
        u = used(x, y, tol, eps, scale)
        if u > 1.0:
            bad.append(
                f"{what}[{i}]: expected {x!r}, got {y!r} ({u:.3g} x the tolerance {tol.rel}e|e| + {tol.abs}e*{scale:g})"
            )
    if bad:
        shown = "\n    ".join(bad[:4])
        more = f"\n    ... and {len(bad) - 4} more" if len(bad) > 4 else ""
        return [f"{where}: {what} differs in {len(bad)} of {e.size} elements:\n    {shown}{more}"]
    return []


def none_scale(case: dict[str, Any], dtype: str) -> float:
    """The per-element values' scale of the same dtype, which the reduced value's absolute
    tolerance is relative to (reference.rs)."""
    exp = case["expected"][dtype].get("none")
    if exp is None or "values" not in exp:
        return 0.0
    return scale_of(nums(exp["values"]).tolist())
