"""Reference values for `losskit::weights` (class-imbalance weights).

Run:  python tools/reference/weights.py  (in a Python with tools/reference/requirements.txt)
Writes crates/losskit/tests/reference/weights/weights.json, checked by crates/losskit/tests/weights.rs.

These are not loss cases (tools/reference/FORMAT.md): the top-level key is `weights_cases`,
not `cases`, so the loss-case harness skips the file. The format:

{
  "generator": "tools/reference/weights.py",
  "tools": {"python": "3.x", "numpy": "...", "scikit-learn": "..."},
  "weights_cases": [
    {
      "id": "effective/beta=0.999/normalized/900-90-10",
      "kind": "class",                # class weights (ClassWeights) or "pos_weight" (PosWeight)
      # kind "class":
      "scheme": "effective",           # "inverse" | "inverse_sqrt" | "effective"
      "beta": 0.999,                   # "effective" only
      "normalize": true,
      "absent": "error",               # "error" | "zero" (Absent::Error / Absent::Zero)
      "input": {"counts": [900, 90, 10]},
      #   or   {"labels": {"shape": [2, 3], "data": [0, 1, ...]}, "num_classes": 3 | null}
      # kind "pos_weight":
      #   "absent": ..., "input": {"positives": [...], "total": N}
      #                    or {"targets": {"shape": [N, L], "data": [0.0, 1.0, ...]}}
      "tool": "scikit-learn 1.9.1",
      "call": "the exact expression evaluated",
      "exact": true,                   # optional: losskit must return these bits exactly
      "expected": {"counts": [...], "weights": [...]},
      #   pos_weight: {"positives": [...], "negatives": [...], "weights": [...]}
      # or, for an expected error instead of "expected":
      "error": "a substring of losskit's message",
      "tool_behaviour": "what the reference tool does on this input"
    }
  ]
}

Where the values come from:
- `inverse`: scikit-learn's own `compute_class_weight("balanced", ...)`. From a label array
  it is called on that array; from counts, on `y = classes` with `sample_weight = counts`,
  which makes sklearn's weighted class counts equal the counts (so 1e9 samples need no 1e9
  array). Unnormalised, these are compared bit for bit (`"exact": true`).
- `inverse_sqrt`: `np.sqrt` of the sklearn weights (float64; exact as well: one correctly
  rounded operation on the same bits).
- `effective`: Cui et al.'s formula (1 - beta) / (1 - beta**n) evaluated exactly with
  Python's `decimal` module at 60 significant digits on the exact binary value of beta, then
  rounded to float64: the true value, whatever the float formula. The float64 numpy form of
  Cui et al.'s code (`(1 - beta) / (1 - np.power(beta, n))`) is cross-checked against it and
  its relative error recorded as `numpy_naive_rel_error` (it is what the stable `expm1`
  form in losskit avoids).
- normalised weights: `w / w.sum() * K` (Cui et al.'s order) in the same arithmetic as the
  weights (decimal for `effective`, float64 for the others).
- `pos_weight`: `(targets == 0).sum(0) / targets.sum(0)` in numpy float64 (one correctly
  rounded division of exact integers).
- Absent classes under "zero": the weights of the classes present (sklearn called with
  `classes=np.unique(y)`), 0 inserted for the absent ones; normalised to the number present.
"""

import json
import platform
from decimal import Decimal, getcontext
from pathlib import Path

import numpy as np
import sklearn
from sklearn.utils.class_weight import compute_class_weight

getcontext().prec = 60
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "losskit" / "tests" / "reference" / "weights" / "weights.json"
SK = f"scikit-learn {sklearn.__version__}"
NP = f"numpy {np.__version__}"


def sklearn_balanced(counts):
    """sklearn's balanced weights of the present classes of `counts`, zeros elsewhere."""
    counts = np.asarray(counts, dtype=np.int64)
    present = np.flatnonzero(counts)
    w = compute_class_weight(
        "balanced", classes=present, y=present, sample_weight=counts[present].astype(np.float64)
    )
    out = np.zeros(len(counts))
    out[present] = w
    return out


def normalise_f64(w):
    k = np.count_nonzero(w)
    return w / w.sum() * k


def effective_exact(counts, beta, normalize):
    """Cui et al.'s weights in 60-digit decimal arithmetic, rounded to float64."""
    b = Decimal(beta)  # the exact binary value of the float
    w = [(1 - b) / (1 - b ** int(n)) if n > 0 else Decimal(0) for n in counts]
    if normalize:
        s = sum(w)
        k = sum(1 for n in counts if n > 0)
        w = [x / s * k for x in w]
    return [float(x) for x in w]


def effective_numpy(counts, beta, normalize):
    """Cui et al.'s code (richardaecn/class-balanced-loss), float64."""
    n = np.asarray(counts, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = (1.0 - beta) / (1.0 - np.power(beta, n))
    w = np.where(n > 0, w, 0.0)
    return normalise_f64(w) if normalize else w


def max_rel(a, b):
    a, b = np.asarray(a), np.asarray(b)
    nz = b != 0
    return float(np.max(np.abs(a[nz] - b[nz]) / np.abs(b[nz]))) if nz.any() else 0.0


def floats(xs):
    return [float(x) for x in xs]


cases = []


def class_case(cid, scheme, counts, *, beta=None, normalize=False, absent="error", labels=None):
    """A class-weight case. `labels` = (shape, data, num_classes) feeds the labels path."""
    counts = [int(c) for c in counts]
    case = {"id": cid, "kind": "class", "scheme": scheme}
    if beta is not None:
        case["beta"] = beta
    case.update({"normalize": normalize, "absent": absent})
    if labels is None:
        case["input"] = {"counts": counts}
        y_src = f"y = classes = np.flatnonzero(counts), sample_weight = counts[classes] with counts = {counts}"
    else:
        shape, data, num_classes = labels
        case["input"] = {
            "labels": {"shape": list(shape), "data": [int(x) for x in data]},
            "num_classes": num_classes,
        }
        y_src = "y = labels.ravel()"
    present = [c for c in counts if c > 0]
    norm = " ; w = w / w.sum() * K" if normalize else ""
    if scheme in ("inverse", "inverse_sqrt"):
        if labels is None:
            w = sklearn_balanced(counts)
        else:
            y = np.asarray(labels[1], dtype=np.int64)
            classes = np.unique(y)
            ws = compute_class_weight("balanced", classes=classes, y=y)
            w = np.zeros(len(counts))
            w[classes] = ws
            # The counts path must agree bit for bit with sklearn on the raw labels.
            assert np.array_equal(w, sklearn_balanced(counts)), cid
        sk_call = (
            'sklearn.utils.class_weight.compute_class_weight("balanced", classes=classes, y=y'
            + (", sample_weight=sample_weight)" if labels is None else ")")
        )
        tool = SK
        if scheme == "inverse_sqrt":
            w = np.sqrt(w)
            sk_call = f"np.sqrt({sk_call})"
            tool = f"{SK}, {NP}"
        call = f"w = {sk_call}; {y_src}; classes absent from y get 0"
        if normalize:
            w = normalise_f64(w)
        case["exact"] = not normalize
        expected = floats(w)
        case["call"] = call + norm + " (K = number of classes present)" * normalize
    else:
        expected = effective_exact(counts, beta, normalize)
        naive = effective_numpy(counts, beta, normalize)
        err = max_rel(naive, expected)
        assert err < 1e-9, (cid, err)
        tool = f"python {platform.python_version()} decimal (60 digits), cross-checked with {NP}"
        case["call"] = (
            f"w_c = (1 - Decimal(beta)) / (1 - Decimal(beta) ** n_c) for n_c > 0, else 0, "
            f"beta = {beta!r}, counts = {counts}{norm}"
            + " (K = number of classes present)" * normalize
            + "; float(w)"
        )
        case["numpy_naive_rel_error"] = err
    assert all(np.isfinite(expected)) and len(present) > 0
    case["tool"] = tool
    case["expected"] = {"counts": counts, "weights": expected}
    cases.append(case)


def error_case(cid, kind, fields, error, tool_behaviour, tool):
    case = {"id": cid, "kind": kind}
    case.update(fields)
    case.update({"tool": tool, "error": error, "tool_behaviour": tool_behaviour})
    cases.append(case)


def pos_case(cid, *, targets=None, positives=None, total=None, absent="error"):
    case = {"id": cid, "kind": "pos_weight", "absent": absent}
    if targets is not None:
        t = np.asarray(targets, dtype=np.float64)
        t2 = t.reshape(len(t), -1)
        pos = t2.sum(0).astype(np.int64)
        neg = (t2 == 0).sum(0).astype(np.int64)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (t2 == 0).sum(0) / t2.sum(0)
        case["input"] = {"targets": {"shape": list(t.shape), "data": floats(t.ravel())}}
        call = "(targets == 0).sum(0) / targets.sum(0)"
    else:
        pos = np.asarray(positives, dtype=np.int64)
        neg = total - pos
        with np.errstate(divide="ignore", invalid="ignore"):
            w = neg.astype(np.float64) / pos.astype(np.float64)
        case["input"] = {"positives": [int(p) for p in pos], "total": int(total)}
        call = "(total - positives) / positives"
    if absent == "zero":
        w = np.where(pos > 0, w, 0.0)
        call += "; labels with no positives get 0"
    assert np.all(np.isfinite(w)), cid
    case.update({"tool": NP, "call": "np.float64: " + call, "exact": True})
    case["expected"] = {"positives": [int(p) for p in pos], "negatives": [int(n) for n in neg], "weights": floats(w)}
    cases.append(case)


# ---- class weights --------------------------------------------------------------------
C3 = [900, 90, 10]
for norm in (False, True):
    tag = "/normalized" if norm else ""
    class_case(f"inverse{tag}/900-90-10", "inverse", C3, normalize=norm)
    class_case(f"inverse_sqrt{tag}/900-90-10", "inverse_sqrt", C3, normalize=norm)
    class_case(f"effective/beta=0.999{tag}/900-90-10", "effective", C3, beta=0.999, normalize=norm)
    class_case(f"effective/beta=0{tag}/900-90-10", "effective", C3, beta=0.0, normalize=norm)
class_case("effective/beta=0.9999/normalized/900-90-10", "effective", C3, beta=0.9999, normalize=True)

# The same counts, from a label array (a shuffled y of 1000 labels, shaped [10, 100]).
rng = np.random.default_rng(20190601)
y3 = rng.permutation(np.repeat(np.arange(3), C3))
class_case("inverse/labels[10,100]/900-90-10", "inverse", C3, labels=((10, 100), y3, None))
class_case(
    "effective/beta=0.99/normalized/labels[10,100]/num_classes=3",
    "effective", C3, beta=0.99, normalize=True, labels=((10, 100), y3, 3),
)

# A class with a single sample.
for counts in ([1000, 1], [1, 1, 5000]):
    name = "-".join(map(str, counts))
    class_case(f"inverse/count-1/{name}", "inverse", counts)
    class_case(f"inverse_sqrt/normalized/count-1/{name}", "inverse_sqrt", counts, normalize=True)
    class_case(f"effective/beta=0.999/count-1/{name}", "effective", counts, beta=0.999)
    class_case(f"effective/beta=0.9999/normalized/count-1/{name}", "effective", counts, beta=0.9999, normalize=True)

# Huge counts: 0.9999 ** 1e9 underflows to 0 (the weight is then its limit 1 - beta).
HUGE = [10**9, 10**6, 10]
for norm in (False, True):
    tag = "/normalized" if norm else ""
    class_case(f"effective/beta=0.9999{tag}/huge-1e9-1e6-10", "effective", HUGE, beta=0.9999, normalize=norm)
    class_case(f"inverse{tag}/huge-1e9-1e6-10", "inverse", HUGE, normalize=norm)
class_case("effective/beta=0.9999/normalized/huge-1e15-1", "effective", [10**15, 1], beta=0.9999, normalize=True)
class_case("inverse_sqrt/huge-1e15-1", "inverse_sqrt", [10**15, 1])

# beta close to 1 with small counts: the naive 1 - beta**n cancels (error ~1e-11 here).
NEAR = [2, 3, 7, 1]
for norm in (False, True):
    tag = "/normalized" if norm else ""
    class_case(f"effective/beta=1-1e-6{tag}/2-3-7-1", "effective", NEAR, beta=1.0 - 1e-6, normalize=norm)

# Balanced data: inverse and inverse_sqrt give 1.
class_case("inverse/balanced/5-5-5-5", "inverse", [5, 5, 5, 5])
class_case("inverse_sqrt/balanced/5-5-5-5", "inverse_sqrt", [5, 5, 5, 5])

# Absent classes with the "zero" policy.
class_case("inverse/absent=zero/10-0-30", "inverse", [10, 0, 30], absent="zero")
class_case("inverse/normalized/absent=zero/0-10-0-30-5", "inverse", [0, 10, 0, 30, 5], normalize=True, absent="zero")
class_case("effective/beta=0.999/normalized/absent=zero/10-0-30", "effective", [10, 0, 30], beta=0.999, normalize=True, absent="zero")
ylab = np.array([0, 0, 3, 3, 3, 0])
class_case(
    "inverse_sqrt/absent=zero/labels[2,3]/num_classes=5",
    "inverse_sqrt", [3, 0, 0, 3, 0], absent="zero", labels=((2, 3), ylab, 5),
)
class_case(
    "inverse/absent=zero/labels[6]/inferred",
    "inverse", [3, 0, 0, 3], absent="zero", labels=((6,), ylab, None),
)

# Errors (the reference tool's own behaviour recorded beside them).
y_abs = np.array([0] * 10 + [2] * 30)
try:
    compute_class_weight("balanced", classes=np.arange(3), y=y_abs)
    sk_abs = "returns"
except ValueError as e:
    sk_abs = f"raises ValueError: {e}"
with np.errstate(divide="ignore"):
    cui_abs = effective_numpy([10, 0, 30], 0.999, False)
error_case(
    "inverse/absent=error/10-0-30", "class",
    {"scheme": "inverse", "normalize": False, "absent": "error", "input": {"counts": [10, 0, 30]}},
    "weights: class 1 has no samples in `counts`, so its `inverse` weight would be infinite",
    f'compute_class_weight("balanced", classes=np.arange(3), y=[0]*10 + [2]*30) {sk_abs}',
    SK,
)
error_case(
    "effective/absent=error/labels/10-0-30", "class",
    {"scheme": "effective", "beta": 0.999, "normalize": True, "absent": "error",
     "input": {"labels": {"shape": [40], "data": [int(v) for v in y_abs]}, "num_classes": 3}},
    "weights: class 1 has no samples in `labels`, so its `effective` weight would be infinite",
    f"Cui et al.'s (1 - beta) / (1 - beta ** 0) gives {cui_abs[1]!r} before normalisation (0/0)",
    NP,
)
error_case(
    "effective/beta=1", "class",
    {"scheme": "effective", "beta": 1.0, "normalize": False, "absent": "error", "input": {"counts": C3}},
    "weights: `beta` must be in [0, 1), got 1",
    "(1 - 1) / (1 - 1 ** n) = 0/0 = nan for every class",
    NP,
)
error_case(
    "inverse/labels-out-of-range", "class",
    {"scheme": "inverse", "normalize": False, "absent": "error",
     "input": {"labels": {"shape": [2, 2], "data": [0, 1, 3, 1]}, "num_classes": 3}},
    "weights: `labels` at [1, 0] is 3, expected a class index in [0, `num_classes`)",
    'compute_class_weight("balanced", classes=np.arange(3), y=[0, 1, 3, 1]) raises ValueError',
    SK,
)
error_case(
    "inverse/empty-counts", "class",
    {"scheme": "inverse", "normalize": False, "absent": "error", "input": {"counts": []}},
    "weights: `counts` has shape [0], expected at least one class",
    "an empty y has no classes",
    SK,
)

# ---- pos_weight -----------------------------------------------------------------------
t63 = np.array(
    [[1, 0, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=np.float64
)
pos_case("pos_weight/targets[6,3]", targets=t63)
pos_case("pos_weight/targets[8]", targets=[0, 0, 1, 0, 0, 0, 1, 0])
pos_case("pos_weight/counts/10-1-999-of-1000", positives=[10, 1, 999], total=1000)
pos_case("pos_weight/all-positive-label", targets=[[1, 1], [1, 0], [1, 0]])
pos_case("pos_weight/counts/huge", positives=[1, 10**6], total=10**12)
pos_case("pos_weight/absent=zero/targets[4,2]", targets=[[0, 1], [0, 0], [0, 1], [0, 0]], absent="zero")
error_case(
    "pos_weight/absent=error/targets[4,2]", "pos_weight",
    {"absent": "error", "input": {"targets": {"shape": [4, 2], "data": [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]}}},
    "weights: label 0 has no positive samples in `targets`, so its `pos_weight` would be infinite",
    "(targets == 0).sum(0) / targets.sum(0) gives inf for label 0",
    NP,
)
error_case(
    "pos_weight/targets-not-binary", "pos_weight",
    {"absent": "error", "input": {"targets": {"shape": [3], "data": [0.0, 1.0, 0.5]}}},
    "weights: `targets` at [2] is 0.5, expected 0 or 1",
    "the formula counts 0.5 as half a positive and no negative",
    NP,
)

doc = {
    "generator": "tools/reference/weights.py",
    "tools": {"python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__},
    "weights_cases": cases,
}
OUT.parent.mkdir(parents=True, exist_ok=True)
# One case per line: readable diffs without one line per label.
head = json.dumps({k: v for k, v in doc.items() if k != "weights_cases"}, indent=1)[:-2]
body = ",\n".join("  " + json.dumps(c) for c in cases)
OUT.write_text(head + ',\n "weights_cases": [\n' + body + "\n ]\n}\n")
json.loads(OUT.read_text())  # still valid JSON
print(f"wrote {len(cases)} cases to {OUT.relative_to(ROOT)}")
