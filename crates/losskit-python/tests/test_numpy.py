"""losskit on NumPy arrays: the Evaluation API, non-contiguous arrays, dtypes, error paths
(the core's exact messages), thread-count invariance, ``sample``, and the generated
functions' signatures and docstrings (NumPy, torch, aliases, nn modules)."""

from __future__ import annotations

import inspect
import math
import pydoc

import losskit
import losskit.torch as LT
import ml_dtypes
import numpy as np
import pytest
import torch
from helpers import CATALOGUE, LOSS_NAMES, predictions

RNG = np.random.default_rng


# ---------------------------------------------------------------------------------------------
# The Evaluation API


def test_evaluation_fields():
    rng = RNG(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    e = losskit.evaluate("huber", {"input": x, "target": y}, {"delta": 0.5}, grad="input")
    assert isinstance(e, losskit.Evaluation)
    assert (e.loss, e.reduction, e.shape) == ("huber", "mean", (4, 3))
    assert isinstance(e.value, float) and float(e) == e.value
    r = np.abs(x - y)
    per = np.where(r <= 0.5, 0.5 * r**2, 0.5 * (r - 0.25))
    assert e.value == pytest.approx(per.mean(), rel=1e-14)
    assert set(e.grads) == {"input"}
    g = e.grads["input"]
    assert g.shape == (4, 3) and g.dtype == np.float64
    np.testing.assert_allclose(g, np.clip(x - y, -0.5, 0.5) / 12, rtol=1e-14)
    assert "huber" in repr(e) and "float64[4, 3]" in repr(e)

    n = losskit.evaluate("huber", {"input": x, "target": y}, {"delta": 0.5}, reduction="none", grad=["input"])
    assert isinstance(n.value, np.ndarray) and n.value.shape == (4, 3) == n.shape
    np.testing.assert_allclose(n.value, per, rtol=1e-14)
    np.testing.assert_allclose(n.grads["input"], np.clip(x - y, -0.5, 0.5), rtol=1e-14)
    assert "<ndarray (4, 3)>" in repr(n)

    s = losskit.evaluate("huber", {"input": x, "target": y}, {"delta": 0.5}, reduction="sum")
    assert s.grads == {} and s.value == pytest.approx(per.sum(), rel=1e-14)


def test_generated_function_returns_value_or_evaluation():
    rng = RNG(1)
    x, y = rng.standard_normal(6), rng.standard_normal(6)
    v = losskit.huber(x, y, delta=0.5)
    assert isinstance(v, float)
    e = losskit.huber(x, y, delta=0.5, grad="input")
    assert isinstance(e, losskit.Evaluation) and e.value == v
    assert losskit.huber(x, y, None, 0.5, "sum") == pytest.approx(6 * v, rel=1e-14)  # positional
    none = losskit.huber(x, y, reduction="none")
    assert isinstance(none, np.ndarray) and none.shape == (6,)


def test_lists_and_class_weight_in_params():
    x = [[1.0, 2.0, 0.5], [0.1, -1.0, 3.0]]
    y = [2, 0]
    w = [0.5, 2.0, 1.0]
    a = losskit.evaluate("cross_entropy", {"input": x, "target": y, "weight": w}).value
    b = losskit.evaluate("cross_entropy", {"input": x, "target": y}, {"weight": w}).value
    c = losskit.cross_entropy(np.array(x), np.array(y), weight=np.array(w))
    t = torch.nn.functional.cross_entropy(
        torch.tensor(x, dtype=torch.float64), torch.tensor(y), weight=torch.tensor(w, dtype=torch.float64)
    )
    assert a == b == c
    assert a == pytest.approx(t.item(), rel=1e-14)
    with pytest.raises(losskit.LossError, match="input `weight` given twice"):
        losskit.evaluate("cross_entropy", {"input": x, "target": y, "weight": w}, {"weight": w})


def test_explicit_default_parameters_equal_omitted_ones():
    """Parameters left at their defaults and the same values given explicitly (other objects
    of equal value, numpy scalars) give the same numbers."""
    rng = RNG(2)
    s = losskit.sample("cross_entropy", 60, 0)
    base = losskit.cross_entropy(**s)
    assert losskit.cross_entropy(**s, ignore_index=int("-100"), label_smoothing=float("0.0")) == base
    assert losskit.cross_entropy(**s, ignore_index=np.int64(-100), label_smoothing=np.float32(0.0)) == base
    x, y = rng.standard_normal(5), rng.standard_normal(5)
    assert losskit.huber(x, y, delta=np.float64(1.0)) == losskit.huber(x, y) == losskit.huber(x, y, delta=1)
    d = losskit.sample("dice", 48, 0)
    assert losskit.dice(**d, activation="soft" + "max", include_background=np.bool_(True)) == losskit.dice(**d)


def test_zero_dimensional_inputs():
    """0-d arrays are inputs of shape (): the per-element loss and the gradient keep shape ()
    (as torch and NumPy); a [C] logit vector takes a 0-d class index."""
    e = losskit.evaluate("mse", {"input": np.array(2.0), "target": np.array(0.5)}, reduction="none", grad="input")
    assert (e.shape, e.value.shape, e.grads["input"].shape) == ((), (), ())
    assert e.grads["input"] == pytest.approx(3.0)
    v = losskit.evaluate("cross_entropy", {"input": np.array([0.5, 1.0, -1.0]), "target": np.array(1)}).value
    expected = torch.nn.functional.cross_entropy(
        torch.tensor([0.5, 1.0, -1.0], dtype=torch.float64), torch.tensor(1)
    ).item()
    assert v == pytest.approx(expected, rel=1e-14)


def test_zero_dimensional_tensors():
    """The same through losskit.torch: torch's shapes for 0-d tensors."""
    x = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    t = LT.mse(x, torch.tensor(0.5, dtype=torch.float64), reduction="none")
    assert t.shape == torch.Size([])
    t.backward()
    assert x.grad.shape == torch.Size([]) and x.grad.item() == pytest.approx(3.0)
    expected = torch.nn.functional.cross_entropy(
        torch.tensor([0.5, 1.0, -1.0], dtype=torch.float64), torch.tensor(1)
    ).item()
    assert LT.cross_entropy(
        torch.tensor([0.5, 1.0, -1.0], dtype=torch.float64), torch.tensor(1)
    ).item() == pytest.approx(expected, rel=1e-14)


def test_catalogue_entries():
    cat = losskit.catalogue()
    assert [e["name"] for e in cat] == LOSS_NAMES and len(cat) >= 40
    for e in cat:
        assert set(e) >= {
            "name",
            "family",
            "summary",
            "inputs",
            "params",
            "reductions",
            "formula",
            "gradient",
            "when_to_use",
            "pitfalls",
            "reference",
        }
        # `mean` first; `sum` too, but for the losses whose reference defines only the mean.
        assert e["reductions"][0] == "mean" and ("sum" in e["reductions"] or e["reductions"] == ["mean"])
        assert any(i["role"] == "prediction" for i in e["inputs"])
        for i in e["inputs"]:
            assert i["role"] in ("prediction", "target", "weight") and i["kind"] in ("float", "index", "float_or_index")
        for p in e["params"]:
            assert p["type"] in ("float", "int", "bool", "choice")
            if p["type"] == "choice":
                assert p["default"] in p["options"]
        assert callable(getattr(losskit, e["name"])) and callable(getattr(LT, e["name"]))
    # catalogue() hands out copies
    cat[0]["name"] = "changed"
    assert losskit.catalogue()[0]["name"] == LOSS_NAMES[0]


# ---------------------------------------------------------------------------------------------
# 4. Non-contiguous arrays


def _layouts(a: np.ndarray):
    yield "fortran", np.asfortranarray(a)
    yield "transposed-twice", a.T.copy().T
    yield "negative-strides", a[::-1, ::-1].copy()[::-1, ::-1]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_arrays(dtype):
    """Fortran-ordered, transposed, step-sliced and reversed arrays give the same value and
    gradients as their contiguous copies, gradients in the array's logical shape."""
    rng = RNG(3)
    base = rng.standard_normal((6, 8)).astype(dtype)
    y = rng.standard_normal((6, 8)).astype(dtype)
    views = {
        "T": (base.T, y.T),
        "step": (base[::2, 1::3], y[::2, 1::3]),
        "reversed": (base[::-1], y[::-1]),
    }
    views.update({name: (a, np.ascontiguousarray(y)) for name, a in _layouts(base)})
    for what, (xv, yv) in views.items():
        assert not (xv.flags.c_contiguous and yv.flags.c_contiguous) or what in ("transposed-twice", "negative-strides")
        for red in ("mean", "none"):
            a = losskit.evaluate("smooth_l1", {"input": xv, "target": yv}, {"beta": 0.5}, red, grad="input")
            c = losskit.evaluate(
                "smooth_l1",
                {"input": np.ascontiguousarray(xv), "target": np.ascontiguousarray(yv)},
                {"beta": 0.5},
                red,
                grad="input",
            )
            np.testing.assert_array_equal(a.value, c.value, err_msg=f"{what} {red}")
            assert a.grads["input"].shape == xv.shape
            np.testing.assert_array_equal(a.grads["input"], c.grads["input"], err_msg=f"{what} {red} grad")
            # and against an independent formula, so neither is transposed
            d = xv.astype(np.float64) - yv.astype(np.float64)
            g = np.where(np.abs(d) < 0.5, d / 0.5, np.sign(d)) / (1 if red == "none" else d.size)
            np.testing.assert_allclose(a.grads["input"], g, rtol=1e-5 if dtype == np.float32 else 1e-13, atol=1e-7)


def test_transposed_logits_and_fortran_segmentation():
    rng = RNG(4)
    logits_cn = rng.standard_normal((5, 7))
    labels = rng.integers(0, 5, 7)
    e = losskit.evaluate("cross_entropy", {"input": logits_cn.T, "target": labels}, grad="input")
    x = torch.tensor(logits_cn.T.copy(), requires_grad=True)
    ref = torch.nn.functional.cross_entropy(x, torch.from_numpy(labels))
    ref.backward()
    assert e.value == pytest.approx(ref.item(), rel=1e-14)
    assert e.grads["input"].shape == (7, 5)
    np.testing.assert_allclose(e.grads["input"], x.grad.numpy(), rtol=1e-12, atol=1e-15)
    s = losskit.sample("dice", 64, 1)
    f = {k: np.asfortranarray(v) for k, v in s.items()}
    a = losskit.evaluate("dice", f, grad="input")
    c = losskit.evaluate("dice", s, grad="input")
    assert a.value == c.value
    np.testing.assert_array_equal(a.grads["input"], c.grads["input"])
    # integer targets as a strided view
    strided = np.repeat(labels, 2)[::2]
    assert not strided.flags.c_contiguous
    assert losskit.cross_entropy(logits_cn.T, strided) == losskit.cross_entropy(logits_cn.T, labels)


def test_half_non_contiguous():
    rng = RNG(5)
    x = rng.standard_normal((4, 6)).astype(np.float16)
    y = rng.standard_normal((4, 6)).astype(np.float16)
    a = losskit.evaluate("mse", {"input": x.T, "target": y.T}, grad="input")
    c = losskit.evaluate("mse", {"input": x.T.copy(), "target": y.T.copy()}, grad="input")
    assert a.value == c.value
    assert a.grads["input"].dtype == np.float16 and a.grads["input"].shape == (6, 4)
    np.testing.assert_array_equal(a.grads["input"], c.grads["input"])


# ---------------------------------------------------------------------------------------------
# 5. dtypes


@pytest.mark.parametrize("half", [np.float16, ml_dtypes.bfloat16], ids=["float16", "bfloat16"])
@pytest.mark.parametrize(
    "loss", ["huber", "bce_with_logits", "cross_entropy", "dice", "triplet_margin", "giou", "gaussian_nll"]
)
def test_half_predictions(loss, half):
    """float16/bfloat16 predictions: the value is the float32 computation on the same
    (exactly widened) values; gradients, and ``none`` values, come in the input's dtype and
    are the float32 results rounded."""
    s = losskit.sample(loss, 48, 0)
    preds = [p for p in predictions(loss) if p in s]
    h = {k: (v.astype(half) if k in preds else v) for k, v in s.items()}
    w = {k: (v.astype(np.float32) if k in preds else v) for k, v in h.items()}
    eh = losskit.evaluate(loss, h, grad=preds)
    ew = losskit.evaluate(loss, w, grad=preds)
    assert eh.value == ew.value, f"{loss}: {eh.value} vs float32 {ew.value}"
    for p in preds:
        assert eh.grads[p].dtype == np.dtype(half), f"{loss}: grad `{p}` is {eh.grads[p].dtype}"
        np.testing.assert_array_equal(eh.grads[p], ew.grads[p].astype(half))
    nh = losskit.evaluate(loss, h, reduction="none")
    nw = losskit.evaluate(loss, w, reduction="none")
    assert nh.value.dtype == np.dtype(half)
    np.testing.assert_array_equal(nh.value, nw.value.astype(half))
    # and close to float64 on the same values
    e64 = losskit.evaluate(loss, {k: (v.astype(np.float64) if k in preds else v) for k, v in h.items()})
    assert eh.value == pytest.approx(e64.value, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("idtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_targets(idtype):
    rng = RNG(6)
    x = rng.standard_normal((6, 2))
    labels = np.array([0, 1, 1, 0, 1, 0])
    ref = losskit.evaluate("cross_entropy", {"input": x, "target": labels}, grad="input")
    got = losskit.evaluate("cross_entropy", {"input": x, "target": labels.astype(idtype)}, grad="input")
    assert got.value == ref.value
    np.testing.assert_array_equal(got.grads["input"], ref.grads["input"])
    # a 0/1 mask of the input's shape (float_or_index target) and a float-kind 0/1 target
    logits = rng.standard_normal((2, 3, 4, 4))
    mask = rng.random((2, 3, 4, 4)) > 0.5
    assert losskit.dice(logits, mask.astype(idtype), activation="sigmoid") == losskit.dice(
        logits, mask.astype(np.float64), activation="sigmoid"
    )
    assert losskit.bce_with_logits(logits, mask.astype(idtype)) == losskit.bce_with_logits(
        logits, mask.astype(np.float64)
    )
    if idtype is not np.bool_:
        seg = rng.integers(0, 3, (2, 4, 4))
        assert losskit.dice(logits, seg.astype(idtype)) == losskit.dice(logits, seg)


def test_mixed_float_widths():
    """A float64 target with float32 logits: computed in float32 (the prediction's type)."""
    rng = RNG(7)
    x = rng.standard_normal(8).astype(np.float32)
    y = rng.standard_normal(8)
    e = losskit.evaluate("mse", {"input": x, "target": y}, grad="input")
    assert e.grads["input"].dtype == np.float32


@pytest.mark.parametrize(
    "bad, name",
    [
        (np.int16, "int16"),
        (np.int8, "int8"),
        (np.uint16, "uint16"),
        (np.complex64, "complex64"),
        (np.float128 if hasattr(np, "float128") else np.longdouble, np.dtype(np.longdouble).name),
    ],
)
def test_unsupported_dtypes(bad, name):
    x = np.zeros(4)
    for where, inputs in (
        ("input", {"input": x.astype(bad), "target": x}),
        ("target", {"input": x, "target": x.astype(bad)}),
    ):
        with pytest.raises(losskit.LossError) as info:
            losskit.evaluate("huber", inputs)
        assert (
            str(info.value)
            == f"huber: `{where}` has dtype {name}; expected float32, float64, float16, bfloat16, int32, int64, uint8 or bool"
        )
    with pytest.raises(losskit.LossError, match=f"huber: `input` has dtype {name}"):
        losskit.huber(x.astype(bad), x)


def test_non_numeric_inputs():
    x = np.zeros(3)
    with pytest.raises(
        losskit.LossError, match=r"huber: `input` is not numeric \(dtype object\); expected an array of numbers"
    ):
        losskit.evaluate("huber", {"input": np.array([1.0, None, 2.0], dtype=object), "target": x})
    with pytest.raises(losskit.LossError, match=r"huber: `target` is not numeric \(dtype <U1\)"):
        losskit.huber(x, np.array(["a", "b", "c"]))
    with pytest.raises(losskit.LossError, match=r"huber: `input` is a torch tensor: use losskit.torch.huber"):
        losskit.huber(torch.zeros(3), x)


def test_integer_prediction_error():
    with pytest.raises(losskit.LossError) as info:
        losskit.evaluate("mse", {"input": np.arange(4), "target": np.zeros(4)})
    assert str(info.value) == "mse: `input` has dtype int64, expected float32 or float64"
    with pytest.raises(losskit.LossError) as info:
        losskit.evaluate("nll", {"input": np.zeros((2, 3)), "target": np.zeros(2, dtype=np.float32)})
    assert str(info.value).startswith("nll: `target` has dtype float32, expected an integer type")


# ---------------------------------------------------------------------------------------------
# 6. Error paths: the core's messages (crates/losskit/src/error.rs `messages_are_exact`)


X43 = np.zeros((4, 3))


def _raises(call, message):
    with pytest.raises(losskit.LossError) as info:
        call()
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_unknown_loss_did_you_mean():
    for call in (lambda: losskit.evaluate("hubr", {}), lambda: losskit.sample("hubr", 10, 0)):
        _raises(call, "unknown loss `hubr`; did you mean `huber`? (`losskit list` shows the catalogue)")
    _raises(lambda: losskit.evaluate("zzz", {}), "unknown loss `zzz` (`losskit list` shows the catalogue)")
    with pytest.raises(AttributeError):
        losskit.hubr  # noqa: B018


def test_core_error_messages_through_evaluate():
    x4 = np.zeros((4, 1))
    x = np.arange(4.0)
    cases = [
        (
            lambda: losskit.evaluate("huber", {"inpt": x, "target": x}),
            "huber: unknown input `inpt`; it takes `input`, `target`, `weight`",
        ),
        (lambda: losskit.evaluate("huber", {"input": x}), "huber: missing required input `target`"),
        (
            lambda: losskit.evaluate("huber", {"input": x, "target": x}, {"delt": 1.0}),
            "huber: unknown parameter `delt`; it takes `delta`",
        ),
        (
            lambda: losskit.evaluate("mse", {"input": x, "target": x}, {"delta": 1.0}),
            "mse: unknown parameter `delta`; this loss has no parameters",
        ),
        (
            lambda: losskit.evaluate("huber", {"input": x, "target": x4}),
            "huber: `target` has shape [4, 1], expected [4] (the shape of `input`); nothing is broadcast",
        ),
        (
            lambda: losskit.evaluate("huber", {"input": x, "target": x}, {"delta": -1.0}),
            "huber: `delta` must be > 0 and finite, got -1",
        ),
        (
            lambda: losskit.evaluate(
                "gaussian_nll", {"input": X43, "target": X43, "var": np.ones((4, 3))}, grad="target"
            ),
            "gaussian_nll: `target` has no gradient (it is not a prediction); gradients exist for `input`, `var`",
        ),
        (
            lambda: losskit.evaluate("huber", {"input": x, "target": x}, reduction="batchmean"),
            "huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`",
        ),
        (
            lambda: losskit.evaluate("mae", {"input": np.zeros(0), "target": np.zeros(0)}),
            "mae: reduction `mean` over an empty input is undefined; use `sum` or a non-empty batch",
        ),
        (
            lambda: losskit.evaluate(
                "gaussian_nll",
                {"input": np.zeros((2, 3)), "target": np.zeros((2, 3)), "var": np.array([[1.0, 1, 1], [1, 1, -0.5]])},
            ),
            "gaussian_nll: `var` at [1, 2] is -0.5, expected a variance >= 0",
        ),
        (
            lambda: losskit.evaluate(
                "giou",
                {
                    "input": np.array([[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [2, 0, 1, 1.5]]),
                    "target": np.tile([0.0, 0, 1, 1], (4, 1)),
                },
            ),
            "giou: `input` row 3 is [2.0, 0.0, 1.0, 1.5] in format `xyxy`: x2 < x1 (an inverted box)",
        ),
        (
            lambda: losskit.evaluate("supcon", {"embeddings": np.eye(3), "labels": np.arange(3)}),
            "supcon: reduction `mean` is undefined: no anchor in the batch has a positive (another row with its label); use `sum` or a batch with repeated labels",
        ),
    ]
    for call, message in cases:
        _raises(call, message)
    with pytest.raises(losskit.LossError, match=r"^huber: unknown reduction `avg`"):
        losskit.evaluate("huber", {"input": x, "target": x}, reduction="avg")
    with pytest.raises(losskit.LossError, match=r"^huber: `reduction` must be a string, got None"):
        losskit.evaluate("huber", {"input": x, "target": x}, reduction=None)


def test_error_messages_through_generated_functions():
    x = np.arange(4.0)
    _raises(
        lambda: losskit.huber(x, np.zeros((4, 1))),
        "huber: `target` has shape [4, 1], expected [4] (the shape of `input`); nothing is broadcast",
    )
    _raises(lambda: losskit.huber(x, x, delta=-1.0), "huber: `delta` must be > 0 and finite, got -1")
    _raises(
        lambda: losskit.huber(x, x, reduction="batchmean"),
        "huber: reduction `batchmean` is not supported; it takes `mean`, `sum`, `none`",
    )
    _raises(
        lambda: losskit.gaussian_nll(X43, X43, np.ones((4, 3)), grad=["input", "target"]),
        "gaussian_nll: `target` has no gradient (it is not a prediction); gradients exist for `input`, `var`",
    )
    _raises(
        lambda: losskit.huber(x, x, delta="abc"), "huber: parameter `delta` got 'abc' (str); expected a real number"
    )
    _raises(
        lambda: losskit.cross_entropy(X43, np.zeros(4, dtype=np.int64), ignore_index=1.5),
        "cross_entropy: parameter `ignore_index` got 1.5 (float); expected an integer",
    )
    _raises(
        lambda: losskit.poisson_nll(x, x, log_input=1),
        "poisson_nll: parameter `log_input` got 1 (int); expected True or False",
    )
    with pytest.raises(losskit.LossError, match=r"^dice: `activation` must be one of"):
        losskit.dice(np.zeros((1, 2, 3)), np.zeros((1, 3), dtype=np.int64), activation="relu")
    with pytest.raises(TypeError, match=r"huber\(\).*unexpected keyword argument 'delt'"):
        losskit.huber(x, x, delt=1.0)
    with pytest.raises(TypeError, match=r"huber\(\).*missing.*'target'"):
        losskit.huber(x)
    _raises(lambda: losskit.boundary(np.zeros((2, 3, 4))), "boundary: missing required input `target`")


@pytest.mark.parametrize("value, got", [(float("nan"), "NaN"), (float("-inf"), "-inf")])
def test_non_finite_parameter_message_is_the_cores(value, got):
    """As the CLI (``--param tau=nan`` → ``quantile: `tau` must be in (0, 1), got NaN``)."""
    x = np.zeros(3)
    _raises(
        lambda: losskit.evaluate("quantile", {"input": x, "target": x}, {"tau": value}),
        f"quantile: `tau` must be in (0, 1), got {got}",
    )
    _raises(lambda: losskit.quantile(x, x, tau=value), f"quantile: `tau` must be in (0, 1), got {got}")


def test_loss_error_is_a_value_error():
    assert issubclass(losskit.LossError, ValueError)
    assert losskit.LossError is LT.LossError


# ---------------------------------------------------------------------------------------------
# 7. Thread-count invariance


def test_set_get_num_threads(restore_threads):
    losskit.set_num_threads(1)
    assert losskit.get_num_threads() == 1
    losskit.set_num_threads(3)
    assert losskit.get_num_threads() == 3
    with pytest.raises(losskit.LossError, match=r"set_num_threads: `n` must be at least 1 \(got 0\)"):
        losskit.set_num_threads(0)
    assert losskit.get_num_threads() == 3


def _bits(a):
    a = np.asarray(a)
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_are_bit_identical_at_any_thread_count(dtype, restore_threads):
    """Inputs large enough to be split (2^18 elements element-wise, a 4096x100
    cross-entropy, a 4x3x64x64 dice, a 512x32 nt_xent): one thread and two give the same
    bits (and a second single-thread run repeats the first)."""
    rng = RNG(8)
    n = 1 << 18
    x = (rng.standard_normal(n) * 3).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    logits = (rng.standard_normal((4096, 100)) * 2).astype(dtype)
    labels = rng.integers(0, 100, 4096)
    seg = rng.standard_normal((4, 3, 64, 64)).astype(dtype)
    seg_t = rng.integers(0, 3, (4, 64, 64))
    z1, z2 = rng.standard_normal((2, 512, 32)).astype(dtype)
    runs = {}
    for threads in (1, 2, 1):
        losskit.set_num_threads(threads)
        out = []
        for red in ("mean", "sum", "none"):
            e = losskit.evaluate("huber", {"input": x, "target": y}, {"delta": 0.7}, red, grad="input")
            out += [e.value, e.grads["input"]]
        e = losskit.evaluate(
            "cross_entropy", {"input": logits, "target": labels}, {"label_smoothing": 0.1}, grad="input"
        )
        out += [e.value, e.grads["input"]]
        e = losskit.evaluate("dice", {"input": seg, "target": seg_t}, grad="input")
        out += [e.value, e.grads["input"]]
        e = losskit.evaluate("nt_xent", {"z1": z1, "z2": z2}, {"temperature": 0.2}, grad=["z1", "z2"])
        out += [e.value, e.grads["z1"], e.grads["z2"]]
        tl = torch.from_numpy(logits).requires_grad_(True)
        lt = LT.cross_entropy(tl, torch.from_numpy(labels), label_smoothing=0.1)
        lt.backward()
        out += [lt.detach().numpy(), tl.grad.numpy()]
        runs.setdefault(threads, []).append(out)
    one, two = runs[1][0], runs[2][0]
    for k, (a, b) in enumerate(zip(one, two)):
        if isinstance(a, float):
            assert a == b or (math.isnan(a) and math.isnan(b)), f"result {k}: {a!r} (1 thread) vs {b!r} (2 threads)"
        else:
            np.testing.assert_array_equal(_bits(a), _bits(b), err_msg=f"result {k}")
    for a, b in zip(one, runs[1][1]):
        np.testing.assert_array_equal(_bits(np.asarray(a, dtype=np.float64)), _bits(np.asarray(b, dtype=np.float64)))


def test_concurrent_calls_from_python_threads():
    """The kernels run with the GIL released: calls from several Python threads at once give
    the serial results, and the inputs are left unchanged."""
    from concurrent.futures import ThreadPoolExecutor

    inputs = [losskit.sample("cross_entropy", 20000, s) for s in range(8)]
    copies = [{k: v.copy() for k, v in i.items()} for i in inputs]

    def run(i):
        return losskit.evaluate("cross_entropy", i, {"label_smoothing": 0.05}, grad="input")

    serial = [run(i) for i in inputs]
    with ThreadPoolExecutor(4) as ex:
        parallel = list(ex.map(run, inputs))
    for s, p in zip(serial, parallel):
        assert s.value == p.value
        np.testing.assert_array_equal(s.grads["input"], p.grads["input"])
    for i, c in zip(inputs, copies):
        for k in i:
            np.testing.assert_array_equal(i[k], c[k])


# ---------------------------------------------------------------------------------------------
# sample


def test_sample_is_deterministic_and_valid():
    for name in LOSS_NAMES:
        a = losskit.sample(name, 32, 5)
        b = losskit.sample(name, 32, 5)
        c = losskit.sample(name, 32, 6)
        assert a.keys() == b.keys()
        required = {i["name"] for i in CATALOGUE[name]["inputs"] if i["required"]}
        assert required <= set(a), f"{name}: sample lacks {required - set(a)}"
        for k in a:
            assert a[k].dtype in (np.float64, np.int64), f"{name}.{k}: {a[k].dtype}"
            np.testing.assert_array_equal(a[k], b[k])
        assert any(not np.array_equal(a[k], c[k]) for k in a if a[k].dtype == np.float64), (
            f"{name}: seeds 5 and 6 agree"
        )
        e = losskit.evaluate(name, a)
        assert math.isfinite(e.value), f"{name}: {e.value}"


# ---------------------------------------------------------------------------------------------
# 10. Signatures and docstrings


def _expected_params(entry, names=None, reduction="mean"):
    out = []
    renamed = list(names or [])
    for k, i in enumerate(entry["inputs"]):
        out.append((renamed[k] if k < len(renamed) else i["name"], inspect.Parameter.empty if i["required"] else None))
    for p in entry["params"]:
        out.append((p["name"], p["default"]))
    out.append(("reduction", reduction))
    return out


def _check_doc(doc, entry):
    assert doc and entry["formula"] in doc and entry["reference"] in doc and entry["gradient"] in doc
    for i in entry["inputs"]:
        assert i["name"] in doc
    for p in entry["params"]:
        assert p["name"] in doc


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_signatures_and_docstrings(name):
    """``help(losskit.<name>)``: the catalogue's inputs, then its params with their defaults
    (and types), then ``reduction``; the docstring has the formula, gradient and reference."""
    entry = CATALOGUE[name]
    functions = [(getattr(losskit, name), ["grad"])]
    # A catalogue name that is also PyTorch's (`cross_entropy`, `kl_div`) takes PyTorch's
    # arguments and order in losskit.torch: test_alias_signatures checks it.
    if name not in LT.ALIASES:
        functions.append((getattr(LT, name), []))
    for fn, extra in functions:
        sig = inspect.signature(fn)
        got = [(p.name, p.default) for p in sig.parameters.values()]
        expected = _expected_params(entry)
        assert got[: len(expected)] == expected, f"{fn.__module__}.{name}{sig}"
        assert [p.name for p in list(sig.parameters.values())[len(expected) :]] == extra
        for p, spec in zip(list(sig.parameters.values())[len(entry["inputs"]) :], entry["params"]):
            assert type(p.default) is {"float": float, "int": int, "bool": bool, "choice": str}[spec["type"]], (
                f"{name}.{p.name}"
            )
        if extra:
            assert sig.parameters["grad"].kind is inspect.Parameter.KEYWORD_ONLY
        assert fn.__name__ == name
        _check_doc(fn.__doc__, entry)
        text = pydoc.render_doc(fn, renderer=pydoc.plaintext)
        assert entry["formula"] in text and str(sig) in text.replace("\n", "")
    cls = getattr(LT.nn, "".join(p[:1].upper() + p[1:] for p in name.split("_")))
    _check_doc(cls.__doc__, entry)
    fwd = inspect.signature(cls.forward)
    assert [p.name for p in fwd.parameters.values()] == ["self"] + [
        i["name"] for i in entry["inputs"] if i["required"]
    ] + [i["name"] for i in entry["inputs"] if not i["required"]]
    init = inspect.signature(cls.__init__)
    kw = {p.name: p.default for p in init.parameters.values() if p.name != "self"}
    assert kw == {
        **{i["name"]: None for i in entry["inputs"] if not i["required"]},
        **{p["name"]: p["default"] for p in entry["params"]},
        "reduction": "mean",
    }


@pytest.mark.parametrize("alias", sorted(LT.ALIASES))
def test_alias_signatures(alias):
    """The aliases take the reference function's arguments, names, order and defaults
    (torch's deprecated ``size_average``/``reduce`` included, so positional calls mean what
    they mean there; 'none' is torchvision's default reduction); what the loss has beyond them
    comes keyword-only."""
    entry = CATALOGUE[LT.ALIASES[alias]]
    sig = inspect.signature(getattr(LT, alias))
    if hasattr(torch.nn.functional, alias):
        ref = inspect.signature(getattr(torch.nn.functional, alias)).parameters.values()
        theirs = [(p.name, p.default) for p in ref]
        default_red = "mean"
    else:
        theirs = {
            "sigmoid_focal_loss": [("inputs", None), ("targets", None), ("alpha", 0.25), ("gamma", 2), ("reduction", "none")],
        }.get(alias, [("boxes1", None), ("boxes2", None), ("reduction", "none"), ("eps", 1e-7)])
        default_red = "none"
    n_req = sum(1 for i in entry["inputs"] if i["required"])
    params = list(sig.parameters.values())
    assert [p.name for p in params[: len(theirs)]] == [n for n, _ in theirs]
    assert all(p.kind == p.POSITIONAL_OR_KEYWORD for p in params[: len(theirs)])
    assert all(p.default is inspect.Parameter.empty for p in params[:n_req])
    for p, (_, default) in zip(params[n_req : len(theirs)], theirs[n_req:]):
        # The same default (PyTorch's p=2 and our 2.0 are the same number).
        assert p.default == default, f"{alias}: `{p.name}` defaults to {p.default!r}, the reference to {default!r}"
    assert sig.parameters["reduction"].default == default_red
    rest = params[len(theirs) :]
    assert all(p.kind == p.KEYWORD_ONLY for p in rest)
    known = {i["name"] for i in entry["inputs"]} | {p["name"] for p in entry["params"]} | {"reduction"}
    assert {p.name for p in rest} <= known
    _check_doc(getattr(LT, alias).__doc__, entry)
