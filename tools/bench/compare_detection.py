"""Box losses forward + backward, losskit against torchvision, in one run.

Times torchvision's `generalized_box_iou_loss`, `distance_box_iou_loss`,
`complete_box_iou_loss` (and, for `iou` and `eiou`, which torchvision lacks, the torch formulas
of tools/reference/detection.py, built on torchvision's `_loss_inter_union`) +
`.backward()` on CPU, f32 xyxy boxes, `mean`, against losskit's fused `value_and_grad`
(through the release-mode example `crates/losskit/examples/bench_boxes.rs`, which prints
JSON timings), for 2^20 box pairs by default, 1 and 2 threads.

    python tools/bench/compare_detection.py                 # 2^20 pairs, 1 and 2 threads
    python tools/bench/compare_detection.py --threads 1 --n 65536

Method (as compare_cross_entropy.py): 3 untimed warm-up calls, then clamp(0.6 s / t, 7, 25)
timed repeats; the median (and min) is reported. torch: `torch.set_num_threads(T)`; the
gradient is reset outside the timed region, so its time includes building the graph, the
backward kernels and allocating `input.grad`. losskit: `RAYON_NUM_THREADS=T`, the gradient
buffer is preallocated (the API writes into the caller's buffer). Per thread count, losskit
runs first, then torch; the load average before and after is printed. Without torchvision,
only losskit's times are printed.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from timing import add_quiet_argument, load_after, load_before, measure

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target" / "release" / "examples" / "bench_boxes"
LOSSES = ["iou", "giou", "diou", "ciou", "eiou"]


def torch_losses(ops):
    """The torch side of every loss: torchvision's, and the reference generator's formulas
    for `iou` and `eiou` (which torchvision lacks), all with eps = 1e-7 and `mean`."""
    sys.path.insert(0, str(ROOT / "tools" / "reference"))
    from detection import eiou_loss, iou_loss

    return {
        "iou": lambda p, t: iou_loss(p, t, 1e-7).mean(),
        "giou": lambda p, t: ops.generalized_box_iou_loss(p, t, reduction="mean"),
        "diou": lambda p, t: ops.distance_box_iou_loss(p, t, reduction="mean"),
        "ciou": lambda p, t: ops.complete_box_iou_loss(p, t, reduction="mean"),
        "eiou": lambda p, t: eiou_loss(p, t, 1e-7).mean(),
    }


def boxes(torch, n):
    """xyxy boxes drawn as losskit's catalogue sample draws them (same distribution, not the
    same numbers): targets with corners in [0, 10) and sides in [2, 10), predictions shifted
    by up to 0.3 of each side and scaled by 0.6 to 1.5."""
    g = torch.Generator().manual_seed(0)
    u = lambda lo, hi: lo + (hi - lo) * torch.rand(n, 2, generator=g)  # noqa: E731
    xy, wh = u(0, 10), u(2, 10)
    t = torch.cat([xy, xy + wh], 1)
    d, s = u(-0.3, 0.3) * wh, u(0.6, 1.5) * wh
    p = torch.cat([xy + d, xy + d + s], 1)
    return p.requires_grad_(True), t


def torch_times(torch, f, p, t, threads):
    torch.set_num_threads(threads)

    def once():
        loss = f(p, t)
        loss.backward()
        return loss

    def reset():
        p.grad = None

    return measure(once, reset)


def ours(n, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([str(EXAMPLE), str(n)], env=env, check=True, capture_output=True, text=True)
    return {r["loss"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.strip())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--no-build", action="store_true", help="use the example binary as built")
    ap.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    add_quiet_argument(ap)
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "losskit", "--example", "bench_boxes"],
            cwd=ROOT,
            check=True,
        )
    try:
        import torch
        import torchvision.ops as ops
    except ImportError:
        torch = ops = None
        print("torchvision is not importable: losskit's times only", file=sys.stderr)

    load0 = load_before(args.require_quiet)
    if torch is not None:
        import torchvision
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
              f"{torch.backends.cpu.get_cpu_capability()}")
        fs = torch_losses(ops)
        p, t = boxes(torch, args.n)
    rows = []
    for threads in args.threads:
        mine = ours(args.n, threads)
        for loss in LOSSES:
            row = {"loss": loss, "n": args.n, "threads": threads,
                   "losskit_median_ms": mine[loss]["median_ms"], "losskit_min_ms": mine[loss]["min_ms"]}
            if torch is not None:
                med, lo, reps = torch_times(torch, fs[loss], p, t, threads)
                row.update(torch_median_ms=med, torch_min_ms=lo, torch_repeats=reps,
                           ratio=med / row["losskit_median_ms"])
            rows.append(row)
    print()
    print("| loss | box pairs | threads | torchvision ms (min) | losskit ms (min) | torchvision / losskit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        tv = f"{r['torch_median_ms']:.1f} ({r['torch_min_ms']:.1f})" if "ratio" in r else "–"
        ratio = f"{r['ratio']:.0f}x" if "ratio" in r else "–"
        print(f"| {r['loss']} | {r['n']} | {r['threads']} | {tv} | "
              f"{r['losskit_median_ms']:.2f} ({r['losskit_min_ms']:.2f}) | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    main()
