"""Every committed reference case (crates/losskit/tests/reference/*.json, produced by torch,
torchvision, MONAI and pytorch-metric-learning themselves) through the three Python entry
points: ``losskit.evaluate``, the generated ``losskit.<loss>`` and the differentiable
``losskit.torch.<loss>`` (gradients by autograd; for ``none`` the expected gradients are of
the sum, so backward runs with a gradient of ones).

The comparison mirrors the Rust harness (``crates/losskit/tests/reference.rs``): the same
tolerances in units of machine epsilon with the same rel/abs semantics and the per-case
overrides (``helpers.py``); expected-error cases are checked by message substring, in both
dtypes, with the float predictions' gradients asked for.
"""

from __future__ import annotations

import json
import math
from typing import Any

import losskit
import losskit.torch as LT
import numpy as np
import pytest
import torch
from helpers import (
    CATALOGUE,
    EPS,
    LOSS_NAMES,
    REFERENCE_CASES,
    REFERENCE_DIR,
    case_arrays,
    compare,
    none_scale,
    nums,
    predictions,
    reference_files,
    reference_params,
    require_case,
    scale_of,
    tolerances,
    typed_params,
)

NP_DTYPE = {"f32": np.float32, "f64": np.float64}
TORCH_DTYPE = {"f32": torch.float32, "f64": torch.float64}
REDUCED = ("mean", "sum", "batchmean")


def test_reference_files_are_present():
    """The committed files exist where the Rust harness reads them, every family has one, and
    each is a well-formed case list (a missing directory fails here, it is never skipped)."""
    assert REFERENCE_DIR.is_dir(), f"{REFERENCE_DIR} is missing"
    stems = {p.stem for p in reference_files()}
    for family in sorted({e["family"] for e in CATALOGUE.values()}):
        assert any(s == family or s.startswith(family + "_") for s in stems), (
            f"no {family}*.json in {REFERENCE_DIR} (found {sorted(stems)})"
        )
    ids = [rc.id for rc in REFERENCE_CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(ids) > 300, f"only {len(ids)} reference cases loaded"
    for path in reference_files():
        data = json.loads(path.read_text())
        assert data["generator"] and "python" in data["tools"], path.name
        for case in data["cases"]:
            assert ("expected" in case) != ("error" in case), case["id"]
            assert case["tool"], case["id"]


def test_every_catalogue_loss_has_a_reference_case():
    """Every catalogue loss has at least one case with expected numbers, in both dtypes, so
    the parametrised tests below exercise it through every entry point."""
    valued: dict[str, set] = {}
    for rc in REFERENCE_CASES:
        if "expected" in rc.case:
            valued.setdefault(rc.loss, set()).update(rc.case["expected"])
    missing = [n for n in LOSS_NAMES if n not in valued]
    assert not missing, f"catalogue losses without a reference case: {missing}"
    one_dtype = [n for n in LOSS_NAMES if valued[n] != {"f32", "f64"}]
    assert not one_dtype, f"losses with reference values in one dtype only: {one_dtype}"
    unknown = sorted({rc.loss for rc in REFERENCE_CASES} - set(LOSS_NAMES))
    assert not unknown, f"reference cases of losses not in the catalogue: {unknown}"


def test_the_comparison_mirrors_tolerance_rs():
    """The helpers' tolerance semantics are tolerance.rs's (its unit tests, ported), and a
    nudged expected number is caught (reference.rs's the_harness_catches_wrong_numbers)."""
    from helpers import DEFAULTS, Tol, used

    t, e = Tol(8.0, 8.0), EPS["f64"]
    close = lambda x, a, s: used(x, a, t, e, s) <= 1.0
    assert close(math.inf, math.inf, 1.0) and not close(math.inf, -math.inf, 1.0)
    assert not close(math.inf, 1e308, 1.0) and not close(1.0, math.inf, 1.0)
    assert close(math.nan, -math.nan, 1.0) and not close(math.nan, 0.0, 1.0) and not close(0.0, math.nan, 1.0)
    assert close(0.0, 1e-20, 1.0) and not close(0.0, 1e-20, 1e-10)
    assert close(1.0, 1.0 + 8.0 * e, 0.0) and not close(1.0, 1.0 + 9.0 * e, 0.0)
    assert not close(1.0, 1.0 + 1e-9, 1.0)
    assert scale_of([1.0, -3.0, math.inf, math.nan]) == 3.0 and scale_of([]) == 0.0
    assert DEFAULTS["f32"].value == Tol(16.0, 16.0) and DEFAULTS["f64"].grads == Tol(8.0, 8.0)

    rc = next(r for r in REFERENCE_CASES if r.id == "huber/default/mixed")
    exp = rc.case["expected"]["f64"]["mean"]
    ev = losskit.evaluate("huber", case_arrays(rc.case, "f64"), grad=list(exp["grads"]))
    good = nums([exp["value"]])
    assert not compare("x", "value", good, [ev.value], DEFAULTS["f64"].value, e, abs(good[0]))
    assert compare("x", "value", good * (1 + 1e-12), [ev.value], DEFAULTS["f64"].value, e, abs(good[0]))
    g = nums(exp["grads"]["input"])
    assert not compare("x", "grad", g, ev.grads["input"], DEFAULTS["f64"].grads, e, scale_of(g.tolist()))
    bad = g.copy()
    bad[3] = math.inf
    assert compare("x", "grad", bad, ev.grads["input"], DEFAULTS["f64"].grads, e, scale_of(bad.tolist()))
    # an override applies to every kind of number, per dtype
    over = {"tolerance": {"f64": {"rel": 1e4, "abs": 0.0}, "why": "test"}}
    assert tolerances(over, "f64").value == Tol(1e4, 0.0) == tolerances(over, "f64").grads
    assert tolerances(over, "f32") == DEFAULTS["f32"]


# ---------------------------------------------------------------------------------------------
# Expected numbers


def _check_numpy_result(
    rc, dtype: str, reduction: str, exp: dict[str, Any], value: Any, grads: dict[str, np.ndarray], arrays
) -> list[str]:
    case = rc.case
    tol = tolerances(case, dtype)
    eps = EPS[dtype]
    where = f"{rc.id} [{dtype} {reduction}]"
    failures: list[str] = []
    if reduction == "none":
        e = nums(exp["values"])
        assert isinstance(value, np.ndarray), f"{where}: `none` gave {type(value).__name__}"
        assert value.dtype == NP_DTYPE[dtype], f"{where}: per-element values in {value.dtype}"
        failures += compare(where, "values", e, value, tol.values, eps, scale_of(e.tolist()))
    else:
        e = nums([exp["value"]])
        assert isinstance(value, float), f"{where}: reduced value is a {type(value).__name__}"
        failures += compare(
            where, "value", e, [value], tol.value, eps, max(scale_of(e.tolist()), none_scale(case, dtype))
        )
    assert set(grads) == set(exp.get("grads", {})), f"{where}: gradients {sorted(grads)}"
    for name, g in exp.get("grads", {}).items():
        e = nums(g)
        a = grads[name]
        assert a.shape == arrays[name].shape, f"{where}: grad `{name}` has shape {a.shape}, input {arrays[name].shape}"
        assert a.dtype == arrays[name].dtype, f"{where}: grad `{name}` is {a.dtype}, input {arrays[name].dtype}"
        failures += compare(where, f"grad `{name}`", e, a, tol.grads, eps, scale_of(e.tolist()))
    return failures


@pytest.mark.parametrize("rc, dtype", reference_params("expected"))
def test_reference_evaluate(rc, dtype):
    """``losskit.evaluate`` on NumPy arrays, every reduction the case lists."""
    require_case(rc)
    case = rc.case
    params = typed_params(rc.loss, case.get("params", {}))
    failures: list[str] = []
    for reduction, exp in case["expected"][dtype].items():
        arrays = case_arrays(case, dtype)
        grads = list(exp.get("grads", {}))
        ev = losskit.evaluate(rc.loss, arrays, params, reduction=reduction, grad=grads)
        assert isinstance(ev, losskit.Evaluation)
        assert ev.loss == rc.loss and ev.reduction == reduction
        if reduction == "none":
            assert ev.value.shape == ev.shape, f"{rc.id}: none values {ev.value.shape} vs shape {ev.shape}"
        failures += _check_numpy_result(rc, dtype, reduction, exp, ev.value, ev.grads, arrays)
    assert not failures, "\n".join(failures) + f"\n    call: {case['call']}"


@pytest.mark.parametrize("rc, dtype", reference_params("expected"))
def test_reference_numpy_function(rc, dtype):
    """The generated ``losskit.<loss>(...)``: inputs and parameters as keyword arguments, the
    value alone without ``grad``, an Evaluation with it."""
    require_case(rc)
    case = rc.case
    fn = getattr(losskit, rc.loss)
    params = typed_params(rc.loss, case.get("params", {}))
    failures: list[str] = []
    for reduction, exp in case["expected"][dtype].items():
        arrays = case_arrays(case, dtype)
        grads = list(exp.get("grads", {}))
        if grads:
            ev = fn(**arrays, **params, reduction=reduction, grad=grads)
            assert isinstance(ev, losskit.Evaluation)
            value, got = ev.value, ev.grads
        else:
            value, got = fn(**arrays, **params, reduction=reduction), {}
        failures += _check_numpy_result(rc, dtype, reduction, exp, value, got, arrays)
    assert not failures, "\n".join(failures) + f"\n    call: {case['call']}"


@pytest.mark.parametrize("rc, dtype", reference_params("expected"))
def test_reference_torch(rc, dtype):
    """``losskit.torch.<loss>`` on tensors, gradients by autograd (``none``: backward with a
    gradient of ones, the expected gradients being those of the sum)."""
    require_case(rc)
    case = rc.case
    fn = getattr(LT, rc.loss)
    params = typed_params(rc.loss, case.get("params", {}))
    tol = tolerances(case, dtype)
    eps = EPS[dtype]
    failures: list[str] = []
    for reduction, exp in case["expected"][dtype].items():
        where = f"{rc.id} [{dtype} {reduction}] (torch)"
        arrays = case_arrays(case, dtype)
        tensors = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
        wanted = list(exp.get("grads", {}))
        for name in wanted:
            tensors[name].requires_grad_(True)
        out = fn(**tensors, **params, reduction=reduction)
        assert isinstance(out, torch.Tensor)
        assert out.dtype == TORCH_DTYPE[dtype], f"{where}: result in {out.dtype}"
        if reduction == "none":
            e = nums(exp["values"])
            assert out.numel() == e.size, f"{where}: {out.numel()} values, expected {e.size}"
            failures += compare(where, "values", e, out.detach().numpy(), tol.values, eps, scale_of(e.tolist()))
        else:
            assert out.dim() == 0, f"{where}: reduced result has shape {tuple(out.shape)}"
            e = nums([exp["value"]])
            failures += compare(
                where, "value", e, [out.item()], tol.value, eps, max(scale_of(e.tolist()), none_scale(case, dtype))
            )
        if wanted:
            assert out.requires_grad, f"{where}: no graph"
            out.backward(torch.ones_like(out) if reduction == "none" else None)
        for name in wanted:
            g = tensors[name].grad
            assert g is not None, f"{where}: no gradient for `{name}`"
            assert g.shape == tensors[name].shape and g.dtype == tensors[name].dtype, (
                f"{where}: grad `{name}` {g.dtype}{list(g.shape)}"
            )
            e = nums(exp["grads"][name])
            failures += compare(where, f"grad `{name}`", e, g.numpy(), tol.grads, eps, scale_of(e.tolist()))
        for name, t in tensors.items():
            if name not in wanted:
                assert t.grad is None, f"{where}: `{name}` got a gradient it did not ask for"
    assert not failures, "\n".join(failures) + f"\n    call: {case['call']}"


# ---------------------------------------------------------------------------------------------
# Expected errors


def _float_predictions(case: dict[str, Any]) -> list[str]:
    return [p for p in predictions(case["loss"]) if case["inputs"].get(p, {}).get("dtype") == "float"]


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("rc, _", reference_params("error"))
def test_reference_error_numpy(rc, _, dtype):
    """An expected-error case fails through ``evaluate`` and ``losskit.<loss>`` with a
    LossError containing the case's text (``mean``, the float predictions' gradients
    asked for, as the Rust harness)."""
    require_case(rc)
    case = rc.case
    params = typed_params(rc.loss, case.get("params", {}))
    arrays = case_arrays(case, dtype)
    grads = _float_predictions(case)
    with pytest.raises(losskit.LossError) as info:
        losskit.evaluate(rc.loss, arrays, params, reduction="mean", grad=grads)
    assert case["error"] in str(info.value), f"evaluate: expected {case['error']!r} in {str(info.value)!r}"
    with pytest.raises(losskit.LossError) as info:
        getattr(losskit, rc.loss)(**arrays, **params, grad=grads)
    assert case["error"] in str(info.value), f"losskit.{rc.loss}: expected {case['error']!r} in {str(info.value)!r}"


@pytest.mark.parametrize("dtype", ["f32", "f64"])
@pytest.mark.parametrize("rc, _", reference_params("error"))
def test_reference_error_torch(rc, _, dtype):
    """An expected-error case fails through ``losskit.torch.<loss>`` with a LossError
    containing the case's text, with the float predictions requiring grad and without."""
    require_case(rc)
    case = rc.case
    params = typed_params(rc.loss, case.get("params", {}))
    for with_grad in (True, False):
        tensors = {k: torch.from_numpy(v.copy()) for k, v in case_arrays(case, dtype).items()}
        if with_grad:
            for name in _float_predictions(case):
                tensors[name].requires_grad_(True)
        with pytest.raises(losskit.LossError) as info:
            getattr(LT, rc.loss)(**tensors, **params)
        assert case["error"] in str(info.value), (
            f"losskit.torch.{rc.loss} (requires_grad={with_grad}): expected {case['error']!r} in {str(info.value)!r}"
        )
