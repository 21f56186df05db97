"""Box losses forward + backward, losskit against torchvision, in one run.

Times torchvision's `generalized_box_iou_loss`, `distance_box_iou_loss`,
`complete_box_iou_loss` (and, for `iou` and `eiou`, which torchvision lacks, the same torch
formula as tools/reference/detection.py, built on torchvision's `_loss_inter_union`) +
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
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target" / "release" / "examples" / "bench_boxes"
LOSSES = ["iou", "giou", "diou", "ciou", "eiou"]


def torch_losses(torch, ops):
    from torchvision.ops._utils import _loss_inter_union

    def iou(b1, b2, reduction):
        inter, union = _loss_inter_union(b1, b2)
        return (1 - inter / (union + 1e-7)).mean()

    def eiou(b1, b2, reduction):
        inter, union = _loss_inter_union(b1, b2)
        iou = inter / (union + 1e-7)
        x1, y1, x2, y2 = b1.unbind(dim=-1)
        x1g, y1g, x2g, y2g = b2.unbind(dim=-1)
        cw = torch.max(x2, x2g) - torch.min(x1, x1g)
        ch = torch.max(y2, y2g) - torch.min(y1, y1g)
        rho = ((x2 + x1) / 2 - (x1g + x2g) / 2) ** 2 + ((y2 + y1) / 2 - (y1g + y2g) / 2) ** 2
        w, h, wg, hg = x2 - x1, y2 - y1, x2g - x1g, y2g - y1g
        return (1 - iou + rho / (cw**2 + ch**2 + 1e-7) + (w - wg) ** 2 / (cw**2 + 1e-7)
                + (h - hg) ** 2 / (ch**2 + 1e-7)).mean()

    return {
        "iou": iou,
        "giou": ops.generalized_box_iou_loss,
        "diou": ops.distance_box_iou_loss,
        "ciou": ops.complete_box_iou_loss,
        "eiou": eiou,
    }


def boxes(torch, n):
    """Boxes drawn as the Rust example draws them (not the same numbers: same distribution)."""
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(n, 2, generator=g) * 100
    wh = torch.rand(n, 2, generator=g) * 50 + 1
    t = torch.cat([xy, xy + wh], 1)
    d = (torch.rand(n, 2, generator=g) - 0.5) * wh
    s = (torch.rand(n, 2, generator=g) + 0.5) * wh
    p = torch.cat([xy + d, xy + d + s], 1)
    return p.requires_grad_(True), t


def torch_times(torch, f, p, t, threads):
    torch.set_num_threads(threads)

    def once():
        loss = f(p, t, reduction="mean")
        loss.backward()
        return loss

    t0 = time.perf_counter()
    for _ in range(3):
        once()
        p.grad = None
    per = (time.perf_counter() - t0) / 3
    repeats = min(max(int(0.6 / per), 7), 25)
    times = []
    for _ in range(repeats):
        t1 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t1) * 1e3)
        p.grad = None
    return statistics.median(times), min(times), repeats


def ours(n, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([str(EXAMPLE), str(n)], env=env, check=True, capture_output=True, text=True)
    return {r["loss"]: r for r in (json.loads(line) for line in out.stdout.splitlines() if line.strip())}


def loadavg():
    try:
        return pathlib.Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return ["?"] * 3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--n", type=int, default=1 << 20)
    ap.add_argument("--no-build", action="store_true", help="use the example binary as built")
    ap.add_argument("--json", type=pathlib.Path, help="also write the rows here")
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

    print(f"load average before: {' '.join(loadavg())}; cpus: {os.cpu_count()}")
    if torch is not None:
        import torchvision
        print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, "
              f"{torch.backends.cpu.get_cpu_capability()}")
        fs = torch_losses(torch, ops)
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
    print(f"load average after: {' '.join(loadavg())}")
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


if __name__ == "__main__":
    main()
