"""losskit.torch against PyTorch, torchvision, MONAI and pytorch-metric-learning, forward +
backward through autograd, in one run.

    pip install -r tools/bench/requirements-python.txt    # torchvision, MONAI, pml (optional)
    python tools/bench/compare_python.py                  # every case, 1 thread
    python tools/bench/compare_python.py --quick          # without the 2^24-element cases
    python tools/bench/compare_python.py --cases mse,cross_entropy,dice --threads 2
    python tools/bench/compare_python.py --phases mse:16  # where one case's losskit time goes

Both sides run in this process, on the same input tensors, one after the other for each case
(the reference first, then losskit), with `torch.set_num_threads(T)` and
`losskit.set_num_threads(T)` (T = `--threads`, default 1). What is timed is what a training
step pays: the call (`F.mse_loss(x, y)`, `losskit.torch.mse_loss(x, y)`, ...) and
`loss.backward()`, which builds the graph, runs the backward pass and allocates the leaves'
`.grad`; the gradients are reset outside the timed region. Method: `timing.measure` (3 untimed
warm-up calls, then clamp(0.6 s / t, 7, 25) timed ones; median, and min in parentheses). f32,
`mean` (`batchmean` for `kl_div`).

The reference of each case is the PyTorch ecosystem's own: `torch.nn.functional` (`mse_loss`,
`l1_loss`, `huber_loss`, `smooth_l1_loss`, `binary_cross_entropy_with_logits`,
`binary_cross_entropy`, `soft_margin_loss`, `margin_ranking_loss`, `poisson_nll_loss`,
`gaussian_nll_loss`, `kl_div`, `cross_entropy` with label smoothing 0 and 0.1, `nll_loss`,
`multi_margin_loss`, `triplet_margin_loss`, `cosine_embedding_loss`), torchvision
(`sigmoid_focal_loss`, `generalized_box_iou_loss`, `distance_box_iou_loss`,
`complete_box_iou_loss`), MONAI (`DiceLoss(softmax=True)`, `TverskyLoss(softmax=True, alpha=0.3,
beta=0.7)`, `DiceCELoss(softmax=True, to_onehot_y=True)`) and pytorch-metric-learning
(`NTXentLoss(temperature=0.5)` on `cat([z1, z2])`, `SupConLoss(temperature=0.1)`), and for
`nt_xent` also the SimCLR code in plain torch (normalise, `u @ u.T / 0.5`, diagonal masked,
`cross_entropy`), since pml's NTXentLoss needs memory cubic in the batch. losskit's side calls
`losskit.torch` under the same name (the catalogue's name where PyTorch has none).
torchvision, MONAI and pml are used only if importable; the script says which were not.

Sizes, in elements of one prediction tensor: 16 (the per-call overhead), 2^20 and 2^24 for the
element-wise losses; the others at shapes of the same order (cross-entropy 65536 × 10 and
8192 × 1000; the metric losses, whose cost grows with the square of the batch, smaller),
printed with each case. Targets: at 16 elements (the fixed cost of a call), losskit ms ≤ 1.5 ×
the reference's ms; at 2^24 elements and more, reference / losskit ≥ 1.5x; every size in
between, ≥ 2x (the 2^20 target). Before timing,
every case checks that both sides give the same value (relative 1e-4) and the same gradients
(largest difference ≤ 1e-3 of the largest entry); a mismatch is printed in capitals and makes
the exit status 1. The machine's load average is printed before and after: only the ratios of
one run mean much on a shared machine.
"""

import argparse
import gc
import importlib
import math
import os
import pathlib
import platform
import sys
import warnings

# NumPy's bundled OpenBLAS starts a thread per core at import, whose spinning shows in profiles
# of a 2-core machine; neither side of any case calls it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import losskit
import losskit.torch as LT
import numpy as np
import torch
import torch.nn.functional as F
from timing import add_quiet_argument, load_after, load_before, measure

E16, E20, E24 = 16, 1 << 20, 1 << 24
VALUE_RTOL = 1e-4
GRAD_RTOL = 1e-3


def optional(name):
    """The module, or the reason it could not be imported."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return importlib.import_module(name), None
    except Exception as e:  # noqa: BLE001 (any import failure means "unavailable")
        return None, f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"


# ---------------------------------------------------------------------------------------------
# Inputs. Each builder returns (leaves, reference call, losskit call); both calls return the
# loss tensor, on the same leaves.


def gen(seed):
    return torch.Generator().manual_seed(seed)


def leaf(t):
    return t.detach().contiguous().requires_grad_(True)


def pointwise(name, target_kind="normal", input_kind="normal"):
    def build(n, g, libs):
        if input_kind == "prob":
            x = leaf(torch.sigmoid(torch.randn(n, generator=g)).clamp(1e-4, 1 - 1e-4))
        elif input_kind == "lograte":
            x = leaf(0.5 * torch.randn(n, generator=g))
        else:
            x = leaf(torch.randn(n, generator=g))
        if target_kind == "binary":
            y = (torch.rand(n, generator=g) < 0.5).float()
        elif target_kind == "sign":
            y = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        elif target_kind == "counts":
            y = torch.poisson(torch.exp(x.detach()), generator=g)
        else:
            y = torch.randn(n, generator=g)
        kw = {"delta": 1.0} if name == "huber_loss" else {"beta": 1.0} if name == "smooth_l1_loss" else {}
        if name == "sigmoid_focal_loss":
            ref = libs["torchvision"].ops.sigmoid_focal_loss
            kw = {"alpha": 0.25, "gamma": 2.0, "reduction": "mean"}
        else:
            ref = getattr(F, name)
        ours = getattr(LT, name)
        return [x], (lambda: ref(x, y, **kw)), (lambda: ours(x, y, **kw))

    return build


def margin_ranking(n, g, libs):
    x1, x2 = leaf(torch.randn(n, generator=g)), leaf(torch.randn(n, generator=g))
    t = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    return [x1, x2], (lambda: F.margin_ranking_loss(x1, x2, t)), (lambda: LT.margin_ranking_loss(x1, x2, t))


def gaussian_nll(n, g, libs):
    x, y = leaf(torch.randn(n, generator=g)), torch.randn(n, generator=g)
    var = leaf(0.1 + torch.rand(n, generator=g))
    return (
        [x, var],
        lambda: F.gaussian_nll_loss(x, y, var),
        lambda: LT.gaussian_nll_loss(x, y, var),
    )


def kl_div(n, g, libs):
    shape = (max(n // 16, 1), 16)
    logp = leaf(torch.log_softmax(torch.randn(shape, generator=g), dim=1))
    q = torch.softmax(torch.randn(shape, generator=g), dim=1)
    return (
        [logp],
        lambda: F.kl_div(logp, q, reduction="batchmean"),
        lambda: LT.kl_div(logp, q, reduction="batchmean"),
    )


def classes(name, ls=0.0):
    def build(shape, g, libs):
        n, c = shape
        z = 2 * torch.randn(n, c, generator=g)
        y = torch.randint(0, c, (n,), generator=g)
        if name == "nll_loss":
            x = leaf(torch.log_softmax(z, dim=1))
        else:
            x = leaf(z)
        kw = {"label_smoothing": ls} if name == "cross_entropy" else {}
        ref, ours = getattr(F, name), getattr(LT, name)
        return [x], (lambda: ref(x, y, **kw)), (lambda: ours(x, y, **kw))

    return build


def embeddings(name):
    def build(shape, g, libs):
        n, d = shape
        if name == "triplet_margin_loss":
            a, p, q = (leaf(torch.rand(n, d, generator=g) * 2 - 1) for _ in range(3))
            return (
                [a, p, q],
                lambda: F.triplet_margin_loss(a, p, q),
                lambda: LT.triplet_margin_loss(a, p, q),
            )
        x1, x2 = leaf(torch.randn(n, d, generator=g)), leaf(torch.randn(n, d, generator=g))
        t = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        return (
            [x1, x2],
            lambda: F.cosine_embedding_loss(x1, x2, t),
            lambda: LT.cosine_embedding_loss(x1, x2, t),
        )

    return build


def boxes(name):
    """xyxy boxes drawn as tools/bench/compare_detection.py draws them."""

    def build(shape, g, libs):
        n = shape[0]
        u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, 2, generator=g)
        xy, wh = u(0, 10), u(2, 10)
        t = torch.cat([xy, xy + wh], 1)
        d, s = u(-0.3, 0.3) * wh, u(0.6, 1.5) * wh
        p = leaf(torch.cat([xy + d, xy + d + s], 1))
        ref, ours = getattr(libs["torchvision"].ops, name), getattr(LT, name)
        return [p], (lambda: ref(p, t, reduction="mean")), (lambda: ours(p, t, reduction="mean"))

    return build


def segmentation(name):
    def build(shape, g, libs):
        monai = libs["monai"]
        n, c, h, w = shape
        x = leaf(2 * torch.randn(shape, generator=g))
        labels = torch.randint(0, c, (n, h, w), generator=g)
        if name == "ce_dice":
            ref = monai.losses.DiceCELoss(softmax=True, to_onehot_y=True)
            target = labels.unsqueeze(1)
            return [x], (lambda: ref(x, target)), (lambda: LT.ce_dice(x, labels))
        onehot = F.one_hot(labels, c).permute(0, 3, 1, 2).float().contiguous()
        if name == "dice":
            ref = monai.losses.DiceLoss(softmax=True)
            return [x], (lambda: ref(x, onehot)), (lambda: LT.dice(x, onehot))
        ref = monai.losses.TverskyLoss(softmax=True, alpha=0.3, beta=0.7)
        return [x], (lambda: ref(x, onehot)), (lambda: LT.tversky(x, onehot, alpha=0.3, beta=0.7))

    return build


def metric(name):
    def build(shape, g, libs):
        pml = libs["pytorch_metric_learning"]
        n, d = shape
        if name == "nt_xent":
            z1, z2 = leaf(torch.randn(n, d, generator=g)), leaf(torch.randn(n, d, generator=g))
            ref = pml.losses.NTXentLoss(temperature=0.5)
            labels = torch.arange(n).repeat(2)
            return (
                [z1, z2],
                lambda: ref(torch.cat([z1, z2]), labels),
                lambda: LT.nt_xent(z1, z2, temperature=0.5),
            )
        x = leaf(torch.rand(n, d, generator=g) * 2 - 1)
        labels = torch.arange(n) % max(n // 16, 2)
        ref = pml.losses.SupConLoss(temperature=0.1)
        return [x], (lambda: ref(x, labels)), (lambda: LT.supcon(x, labels, temperature=0.1))

    return build


def simclr(shape, g, libs):
    """nt_xent against what SimCLR implementations write in plain torch (compare_metric.py's)."""
    n, d = shape
    z1, z2 = leaf(torch.randn(n, d, generator=g)), leaf(torch.randn(n, d, generator=g))
    partner = (torch.arange(2 * n) + n) % (2 * n)
    eye = torch.eye(2 * n, dtype=torch.bool)

    def ref():
        u = F.normalize(torch.cat([z1, z2]), dim=1)
        return F.cross_entropy((u @ u.T / 0.5).masked_fill(eye, float("-inf")), partner)

    return [z1, z2], ref, lambda: LT.nt_xent(z1, z2, temperature=0.5)


# name: (reference label, library needed, builder, [(size argument, shape label, elements)])
def flat(n):
    return (n, f"[{n}]" if n < 1024 else f"[2^{n.bit_length() - 1}]", n)


FLAT = [flat(E16), flat(E20), flat(E24)]
KL = [(n, f"[{max(n // 16, 1)}, 16]", n) for n in (E16, E20, E24)]
CE = [((4, 4), "4 × 4", 16), ((65536, 10), "65536 × 10", 655360), ((8192, 1000), "8192 × 1000", 8192000)]
EMB = [((4, 4), "4 × 4 (×3)", 16), ((8192, 128), "8192 × 128 (×3)", E20), ((131072, 128), "131072 × 128 (×3)", E24)]
PAIR = [((4, 4), "4 × 4 (×2)", 16), ((8192, 128), "8192 × 128 (×2)", E20), ((131072, 128), "131072 × 128 (×2)", E24)]
BOX = [((4,), "4 boxes", 16), ((1 << 18,), "2^18 boxes", E20), ((1 << 22,), "2^22 boxes", E24)]
SEG = [
    ((1, 4, 2, 2), "1×4×2×2", 16),
    ((16, 4, 128, 128), "16×4×128×128", E20),
    ((16, 4, 512, 512), "16×4×512×512", E24),
]
# pml's NTXentLoss builds a [positive pairs, negative pairs] matrix, cubic in the batch: 2N = 256
# rows take 0.9 GiB, 2N = 512 2.8 GiB and 6 s a call, 2N = 2048 would need 32 GiB. Its cases
# stop at N = 128 rows per view; the usual SimCLR code in plain torch (`nt_xent_simclr`) goes
# further.
NTX = [((4, 4), "4 × 4 (×2)", 16), ((64, 128), "64 × 128 (×2)", 1 << 13), ((128, 128), "128 × 128 (×2)", 1 << 14)]
SIMCLR = [((4, 4), "4 × 4 (×2)", 16), ((1024, 128), "1024 × 128 (×2)", 1 << 17), ((2048, 128), "2048 × 128 (×2)", 1 << 18)]
SUPCON = [((4, 4), "4 × 4", 16), ((1024, 128), "1024 × 128", 1 << 17), ((4096, 128), "4096 × 128", 1 << 19)]

CASES = {
    "mse": ("F.mse_loss", "torch", pointwise("mse_loss"), FLAT),
    "l1": ("F.l1_loss", "torch", pointwise("l1_loss"), FLAT),
    "huber": ("F.huber_loss", "torch", pointwise("huber_loss"), FLAT),
    "smooth_l1": ("F.smooth_l1_loss", "torch", pointwise("smooth_l1_loss"), FLAT),
    "bce_with_logits": (
        "F.binary_cross_entropy_with_logits",
        "torch",
        pointwise("binary_cross_entropy_with_logits", "binary"),
        FLAT,
    ),
    "bce": ("F.binary_cross_entropy", "torch", pointwise("binary_cross_entropy", "binary", "prob"), FLAT),
    "soft_margin": ("F.soft_margin_loss", "torch", pointwise("soft_margin_loss", "sign"), FLAT),
    "margin_ranking": ("F.margin_ranking_loss", "torch", margin_ranking, [(n, f"{s} (×2)", e) for n, s, e in FLAT]),
    "poisson_nll": ("F.poisson_nll_loss", "torch", pointwise("poisson_nll_loss", "counts", "lograte"), FLAT),
    "gaussian_nll": ("F.gaussian_nll_loss", "torch", gaussian_nll, [(n, f"{s} (+ var)", e) for n, s, e in FLAT]),
    "kl_div": ("F.kl_div (batchmean)", "torch", kl_div, KL),
    "cross_entropy": ("F.cross_entropy", "torch", classes("cross_entropy"), CE),
    "cross_entropy_ls": ("F.cross_entropy, label_smoothing=0.1", "torch", classes("cross_entropy", 0.1), CE),
    "nll": ("F.nll_loss", "torch", classes("nll_loss"), CE),
    "multi_margin": ("F.multi_margin_loss", "torch", classes("multi_margin_loss"), CE),
    "triplet_margin": ("F.triplet_margin_loss", "torch", embeddings("triplet_margin_loss"), EMB),
    "cosine_embedding": ("F.cosine_embedding_loss", "torch", embeddings("cosine_embedding_loss"), PAIR),
    "focal": ("torchvision sigmoid_focal_loss", "torchvision", pointwise("sigmoid_focal_loss", "binary"), FLAT),
    "giou": ("torchvision generalized_box_iou_loss", "torchvision", boxes("generalized_box_iou_loss"), BOX),
    "diou": ("torchvision distance_box_iou_loss", "torchvision", boxes("distance_box_iou_loss"), BOX),
    "ciou": ("torchvision complete_box_iou_loss", "torchvision", boxes("complete_box_iou_loss"), BOX),
    "dice": ("MONAI DiceLoss(softmax=True)", "monai", segmentation("dice"), SEG),
    "tversky": ("MONAI TverskyLoss(softmax=True, α 0.3, β 0.7)", "monai", segmentation("tversky"), SEG),
    "ce_dice": ("MONAI DiceCELoss(softmax=True, to_onehot_y=True)", "monai", segmentation("ce_dice"), SEG),
    "nt_xent": ("pml NTXentLoss(temperature=0.5)", "pytorch_metric_learning", metric("nt_xent"), NTX),
    "nt_xent_simclr": ("SimCLR code: normalize, u @ u.T / 0.5, cross_entropy", "torch", simclr, SIMCLR),
    "supcon": ("pml SupConLoss(temperature=0.1)", "pytorch_metric_learning", metric("supcon"), SUPCON),
}


# ---------------------------------------------------------------------------------------------


def target(elements):
    """(label, test on (reference ms, losskit ms))."""
    if elements <= 4096:
        return "losskit ≤ 1.5 × ref", lambda r, l: l <= 1.5 * r
    if elements >= E24:
        return "≥ 1.5x", lambda r, l: r / l >= 1.5
    return "≥ 2x", lambda r, l: r / l >= 2.0


def check(name, leaves, ref, ours):
    """Runs both sides once; returns (ok, text) on the value and the gradients."""
    for t in leaves:
        t.grad = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = ref()
    a.backward()
    ga = [t.grad.clone() for t in leaves]
    for t in leaves:
        t.grad = None
    b = ours()
    b.backward()
    gb = [t.grad.clone() for t in leaves]
    for t in leaves:
        t.grad = None
    va, vb = float(a.detach()), float(b.detach())
    value_ok = math.isfinite(va) and abs(va - vb) <= VALUE_RTOL * max(abs(va), abs(vb)) + 1e-7
    worst = 0.0
    for x, y in zip(ga, gb):
        scale = float(x.abs().max())
        diff = float((x.double() - y.double()).abs().max())
        worst = max(worst, diff / scale if scale > 0 else diff)
    grad_ok = worst <= GRAD_RTOL
    text = f"value {va:.7g} vs {vb:.7g} (rel {abs(va - vb) / max(abs(va), 1e-30):.1e}), grad {worst:.1e}"
    return value_ok and grad_ok, text


def timed(f, leaves):
    def once():
        f().backward()

    def reset():
        for t in leaves:
            t.grad = None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return measure(once, reset)


def pick(sizes, size):
    """The entry of `sizes` that `size` names: its element count (16, 1048576, 2^20) or its
    shape as printed (8192x1000, "8192 × 1000")."""
    key = size.replace(" ", "").replace("×", "x")
    for s in sizes:
        count = s[2]
        if key in (str(count), f"2^{count.bit_length() - 1}") or key == s[1].replace(" ", "").replace("×", "x"):
            return s
    sys.exit(f"no size {size!r}; sizes: " + ", ".join(f"{s[2]} ({s[1]})" for s in sizes))


def phases(case, size, libs):
    """Where losskit.torch's time goes on one case: the whole step, then its parts timed
    alone (the same method as the comparison, median and min in parentheses)."""
    import losskit.torch as lt
    from losskit import _native

    label, lib, build, sizes = CASES[case]
    if lib not in libs:
        sys.exit(f"{case} needs {lib}, which is unavailable")
    arg, shape, _ = pick(sizes, size)
    leaves, ref, ours = build(arg, gen(0), libs)

    # One call through losskit.torch, to capture what its forward hands the core.
    seen = []
    run = lt._run

    def spy(call, tensors, grads, cotangent=None):
        seen.append((call, list(tensors), list(grads)))
        return run(call, tensors, grads, cotangent)

    lt._run = spy
    try:
        ours().backward()
    finally:
        lt._run = run
    # What losskit.torch._run receives: the call (loss, input names, parameters as text,
    # reduction), the input tensors in catalogue order, the inputs whose gradients it wants.
    call, tensors, grads = seen[0]
    arrays = [(n, *lt._numpy(t)) for n, t in zip(call.names, tensors) if t is not None]
    shapes = {n: t.shape for n, t in zip(call.names, tensors) if t is not None}
    bufs = [torch.empty(shapes[g]).numpy() for g in grads]
    loss = call.entry["name"]

    def reset():
        for t in leaves:
            t.grad = None

    print(f"phases: {case} {shape}, losskit loss `{loss}`, gradients of {grads}; ms, median (min):")
    out = {}

    def row(key, what, f, after=lambda: None):
        # The parts below call losskit.torch's internals, which may change: a part that no
        # longer runs is reported, not fatal.
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                med, mn, _ = measure(f, after)
        except Exception as e:  # noqa: BLE001
            out[key] = float("nan")
            print(f"  {what:<66} n/a ({type(e).__name__}: {e})", flush=True)
            return
        out[key] = med
        print(f"  {what:<66} {med:10.4f} ({mn:.4f})", flush=True)

    row("ref", f"reference ({label}): forward + backward", lambda: ref().backward(), reset)
    row("ref_fwd", "reference: forward only (graph recorded)", ref)
    row("lk", "losskit.torch: forward + backward", lambda: ours().backward(), reset)
    row("lk_fwd", "losskit.torch: forward only (value and gradients, fused)", ours)
    with torch.no_grad():
        row("lk_nograd", "losskit.torch under torch.no_grad() (value only, no autograd)", ours)
    row("numpy", "  tensors -> NumPy views (_numpy, every input)", lambda: [lt._numpy(t) for t in tensors if t is not None])
    row("alloc", "  gradient buffers: torch.empty(...).numpy()", lambda: [torch.empty(shapes[g]).numpy() for g in grads])
    row("native_v", "  native evaluate, value only", lambda: _native.evaluate(loss, arrays, call.params, call.reduction, [], None, None))
    row("native_vg", "  native evaluate, value + gradients into warm buffers", lambda: _native.evaluate(
        loss, arrays, call.params, call.reduction, list(grads), bufs, None))
    row("native_vg_new", "  native evaluate, value + gradients into fresh buffers", lambda: _native.evaluate(
        loss, arrays, call.params, call.reduction, list(grads), [torch.empty(shapes[g]).numpy() for g in grads], None))
    row("run", "  _run (conversion + buffers + native), value + gradients", lambda: run(call, tensors, grads))
    row("apply", "  _LossFunction.apply (the autograd forward, incl. _run)", lambda: lt._LossFunction.apply(call, *tensors))
    print("derived (differences of medians, noisy):")
    derived = [
        ("autograd backward + .grad accumulation", out["lk"] - out["lk_fwd"]),
        ("Python wrapper, forward, outside _run", out["lk_fwd"] - out["run"]),
        ("_run outside the native call", out["run"] - out["native_vg_new"]),
        ("the gradients in the native call", out["native_vg"] - out["native_v"]),
    ]
    for what, ms in derived:
        print(f"  {what:<66} {ms:10.4f}")
    print(f"  {'reference / losskit':<66} {out['ref'] / out['lk']:9.2f}x")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    ap.add_argument("--threads", type=int, default=1, help="threads on both sides (default 1)")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--quick", action="store_true", help="leave out the 2^24-element cases")
    ap.add_argument(
        "--phases",
        metavar="CASE:SIZE",
        help="where losskit's time goes on one case: mse:16, mse:2^20, cross_entropy:8192x1000",
    )
    add_quiet_argument(ap)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    losskit.set_num_threads(args.threads)
    libs, missing = {"torch": torch}, {}
    for mod in ("torchvision", "monai", "pytorch_metric_learning"):
        m, why = optional(mod)
        if m is None:
            missing[mod] = why
        else:
            if mod == "monai":
                importlib.import_module("monai.losses")
            if mod == "pytorch_metric_learning":
                importlib.import_module("pytorch_metric_learning.losses")
            if mod == "torchvision":
                importlib.import_module("torchvision.ops")
            libs[mod] = m
    versions = [f"Python {platform.python_version()}", f"torch {torch.__version__}", f"numpy {np.__version__}"]
    versions += [f"{k} {v.__version__}" for k, v in libs.items() if k != "torch"]
    versions.append(f"losskit {losskit.__version__} ({pathlib.Path(losskit.__file__).parent})")
    print("versions: " + ", ".join(versions))
    for mod, why in missing.items():
        print(f"UNAVAILABLE: {mod} ({why}): its cases are skipped; pip install -r tools/bench/requirements-python.txt")
    print(f"threads: torch {torch.get_num_threads()}, losskit {losskit.get_num_threads()}; {os.cpu_count()} CPUs")

    if args.phases:
        case, size = args.phases.split(":")
        load0 = load_before(args.require_quiet)
        phases(case, size, libs)
        load_after(load0, args.require_quiet)
        return

    names = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in names if c not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    load0 = load_before(args.require_quiet)
    rows, bad, skipped = [], [], []
    for case in names:
        label, lib, build, sizes = CASES[case]
        if lib not in libs:
            skipped.append(case)
            continue
        for k, (arg, shape, elements) in enumerate(sizes):
            if args.quick and elements >= E24:
                continue
            leaves, ref, ours = build(arg, gen(k), libs)
            ok, text = check(case, leaves, ref, ours)
            if not ok:
                bad.append(f"{case} {shape}: {text}")
                print(f"!!! MISMATCH: {case} {shape}: {text}", flush=True)
            r_med, r_min, _ = timed(ref, leaves)
            l_med, l_min, _ = timed(ours, leaves)
            want, test = target(elements)
            verdict = "PASS" if test(r_med, l_med) else "MISS"
            if not ok:
                verdict = "MISMATCH"
            ratio = r_med / l_med
            rows.append((case, shape, label, r_med, r_min, l_med, l_min, ratio, want, verdict))
            print(
                f"{case:<17} {shape:<20} ref {r_med:10.3f} ms ({r_min:.3f})  losskit {l_med:10.3f} ms "
                f"({l_min:.3f})  {ratio:6.2f}x  target {want:<20} {verdict:<8} {text}",
                flush=True,
            )
            del leaves, ref, ours
            gc.collect()
    print()
    print("| case | shape | reference | reference ms (min) | losskit ms (min) | reference / losskit | target | result |")
    print("|---|---|---|---|---|---|---|---|")
    for case, shape, label, r_med, r_min, l_med, l_min, ratio, want, verdict in rows:
        print(
            f"| {case} | {shape} | {label} | {r_med:.3f} ({r_min:.3f}) | {l_med:.3f} ({l_min:.3f}) | "
            f"{ratio:.2f}x | {want} | {verdict} |"
        )
    passed = sum(1 for r in rows if r[-1] == "PASS")
    print()
    print(
        f"{', '.join(versions[:-1])}, losskit {losskit.__version__}; {args.threads} thread(s) on each side; "
        f"f32, forward + backward, mean, median of repeats; "
        f"{passed} of {len(rows)} cases meet their target."
    )
    load_after(load0, args.require_quiet)
    if skipped:
        print(f"skipped (library unavailable): {', '.join(skipped)}")
    if bad:
        print("\nVALUES OR GRADIENTS DIFFER:\n  " + "\n  ".join(bad))
        sys.exit(1)


if __name__ == "__main__":
    main()
