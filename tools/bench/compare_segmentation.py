"""Segmentation losses and the distance transform, losskit against MONAI, smp and SciPy, in one run.

Forward + backward on one thread (f32, mean):
- `dice`: MONAI `DiceLoss(softmax=True)` on [16, 4, 256, 256] logits and a one-hot target;
- `tversky`: MONAI `TverskyLoss(softmax=True, alpha=0.3, beta=0.7)`, same inputs;
- `bce_dice`: `binary_cross_entropy_with_logits` + MONAI `DiceLoss(sigmoid=True)` on
  [16, 4, 256, 256] logits and a multi-label 0/1 mask (what losskit's `bce_dice` computes; MONAI's
  `DiceCELoss(sigmoid=True)` would switch to softmax cross-entropy with 4 channels);
- `dice_focal`: MONAI `DiceFocalLoss(softmax=True)`, the `dice` inputs;
- `hausdorff_dt`: MONAI `HausdorffDTLoss(softmax=True)` on [4, 4, 128, 128] logits and a one-hot
  target (its distance maps by SciPy's EDT, as losskit's by its own, at every call);
- `soft_cldice`: MONAI `SoftclDiceLoss()` on [4, 4, 128, 128] probabilities and a one-hot target;
- `lovasz_softmax`: segmentation-models-pytorch `LovaszLoss("multiclass")` on [8, 4, 128, 128]
  logits and class indices;
and the exact Euclidean distance transform (no gradient) of a 512×512 and a 128³ mask of blobs
(`sin(0.05 i)·sin(0.07 j)(·sin(0.09 k)) > 0.1`): SciPy `distance_transform_edt` against
`losskit::distance::edt`.

    python tools/bench/compare_segmentation.py
    python tools/bench/compare_segmentation.py --cases dice edt2d

Method: 3 untimed warm-up calls, then clamp(0.6 s / t, 7, 25) timed repeats; median (and min).
torch: `torch.set_num_threads(1)`, the gradient reset outside the timed region (its time includes
the graph, the backward kernels and allocating `x.grad`). losskit: the release-mode example
`crates/losskit/examples/bench_segmentation.rs` (one thread; the gradient buffer is preallocated,
as the API writes into the caller's buffer). Cases run one at a time, the reference then losskit;
the load average before and after is printed.
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import time
import warnings

from timing import add_quiet_argument, load_after, load_before

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target" / "release" / "examples" / "bench_segmentation"
CASES = ["dice", "tversky", "bce_dice", "dice_focal", "hausdorff_dt", "soft_cldice",
         "lovasz_softmax", "edt2d", "edt3d"]


def timed(f):
    t0 = time.perf_counter()
    for _ in range(3):
        f()
    per = (time.perf_counter() - t0) / 3
    repeats = min(max(int(0.6 / per), 7), 25)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times), min(times), repeats


def blobs(np, shape):
    freq = [0.05, 0.07, 0.09]
    grids = np.meshgrid(*[np.arange(d) * freq[a] for a, d in enumerate(shape)], indexing="ij")
    v = np.ones(shape)
    for g in grids:
        v = v * np.sin(g)
    return v > 0.1


def reference(case):
    import numpy as np
    if case.startswith("edt"):
        from scipy.ndimage import distance_transform_edt
        m = blobs(np, (512, 512) if case == "edt2d" else (128, 128, 128))
        return timed(lambda: distance_transform_edt(m)), "scipy distance_transform_edt"
    import torch
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    if case in ("hausdorff_dt", "soft_cldice"):
        from monai.losses import HausdorffDTLoss, SoftclDiceLoss
        x = torch.rand(4, 4, 128, 128, generator=g)
        if case == "hausdorff_dt":
            x = x * 8 - 4
            loss, name = HausdorffDTLoss(softmax=True), "MONAI HausdorffDTLoss(softmax=True)"
        else:
            loss, name = SoftclDiceLoss(), "MONAI SoftclDiceLoss()"
        x.requires_grad_(True)
        y = torch.randint(0, 4, (4, 128, 128), generator=g)
        args = (x, torch.nn.functional.one_hot(y, 4).permute(0, 3, 1, 2).float())
    elif case == "lovasz_softmax":
        from segmentation_models_pytorch.losses import LovaszLoss
        x = (torch.rand(8, 4, 128, 128, generator=g) * 8 - 4).requires_grad_(True)
        y = torch.randint(0, 4, (8, 128, 128), generator=g)
        loss, name = LovaszLoss("multiclass"), "smp LovaszLoss('multiclass')"
        args = (x, y)
    else:
        from monai.losses import DiceLoss, TverskyLoss
        x = (torch.rand(16, 4, 256, 256, generator=g) * 8 - 4).requires_grad_(True)
        if case == "bce_dice":
            t = (torch.rand(16, 4, 256, 256, generator=g) < 0.3).float()
            dice = DiceLoss(sigmoid=True)
            bce = torch.nn.functional.binary_cross_entropy_with_logits
            loss = lambda a, b: bce(a, b) + dice(a, b)  # noqa: E731
            name = "BCEWithLogits + MONAI DiceLoss(sigmoid=True)"
        else:
            y = torch.randint(0, 4, (16, 256, 256), generator=g)
            t = torch.nn.functional.one_hot(y, 4).permute(0, 3, 1, 2).float()
            if case == "dice":
                loss, name = DiceLoss(softmax=True), "MONAI DiceLoss(softmax=True)"
            elif case == "dice_focal":
                from monai.losses import DiceFocalLoss
                loss, name = DiceFocalLoss(softmax=True), "MONAI DiceFocalLoss(softmax=True)"
            else:
                loss = TverskyLoss(softmax=True, alpha=0.3, beta=0.7)
                name = "MONAI TverskyLoss(softmax=True)"
        args = (x, t)

    def once():
        loss(*args).backward()
        x.grad = None

    return timed(once), name


def ours(case):
    out = subprocess.run([str(EXAMPLE), case], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    ap.add_argument("--no-build", action="store_true", help="use the example binary as built")
    ap.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    add_quiet_argument(ap)
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "losskit", "--example",
                        "bench_segmentation"], cwd=ROOT, check=True)
    load0 = load_before(args.require_quiet)
    rows = []
    for case in args.cases:
        (med, lo, reps), name = reference(case)
        mine = ours(case)
        rows.append({"case": case, "shape": mine["shape"], "reference": name,
                     "reference_median_ms": med, "reference_min_ms": lo,
                     "losskit_median_ms": mine["median_ms"], "losskit_min_ms": mine["min_ms"],
                     "ratio": med / mine["median_ms"]})
    print()
    print("| case | shape | reference | reference ms (min) | losskit ms (min) | reference / losskit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        shape = "×".join(map(str, r["shape"]))
        print(f"| `{r['case']}` | {shape} | {r['reference']} | {r['reference_median_ms']:.2f} "
              f"({r['reference_min_ms']:.2f}) | {r['losskit_median_ms']:.2f} "
              f"({r['losskit_min_ms']:.2f}) | {r['ratio']:.1f}x |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    main()
