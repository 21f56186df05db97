"""Cross-entropy forward + backward, losskit against PyTorch, in one run.

Times `F.cross_entropy(x, y, label_smoothing=ls)` + `.backward()` on CPU (f32 logits, int64
targets, mean) and losskit's fused `CrossEntropy::value_and_grad` (through the release-mode
example `crates/losskit/examples/bench_cross_entropy.rs`, which prints JSON timings) for the
same shapes, label smoothing and thread counts, and prints the medians and torch/losskit.

    python tools/bench/compare_cross_entropy.py                    # 1 and 2 threads
    python tools/bench/compare_cross_entropy.py --threads 1 --shapes 8192x1000

Method (as in the performance notes): 3 untimed warm-up calls, then clamp(0.6 s / t, 7, 25)
timed repeats; the median (and min) is reported. torch: `torch.set_num_threads(T)`; the
gradient is reset outside the timed region, so its time includes building the graph, the
backward kernels and allocating `x.grad`. losskit: `RAYON_NUM_THREADS=T`, the gradient
buffer is preallocated (the API writes into the caller's buffer). Shapes are measured one at
a time, torch then losskit, so slow drifts of a shared machine hit both alike; the load
average before and after is printed. Without torch, only losskit's times are printed.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from timing import add_quiet_argument, load_after, load_before, measure

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "target" / "release" / "examples" / "bench_cross_entropy"
SHAPES = ["65536x10", "8192x1000", "512x128000"]
SMOOTHING = [0.0, 0.1]


def torch_times(torch, n, c, ls, threads):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x = (torch.rand(n, c, generator=g) * 16 - 8).requires_grad_(True)
    y = torch.randint(0, c, (n,), generator=g)
    f = torch.nn.functional.cross_entropy

    def once():
        loss = f(x, y, label_smoothing=ls)
        loss.backward()
        return loss

    def reset():
        x.grad = None

    return measure(once, reset)


def ours(shape, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    out = subprocess.run([str(EXAMPLE), shape], env=env, check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--shapes", nargs="+", default=SHAPES)
    ap.add_argument("--no-build", action="store_true", help="use the example binary as built")
    ap.add_argument("--json", type=pathlib.Path, help="also write the rows here")
    add_quiet_argument(ap)
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(
            ["cargo", "build", "--release", "-q", "-p", "losskit", "--example", "bench_cross_entropy"],
            cwd=ROOT,
            check=True,
        )
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not importable: losskit's times only", file=sys.stderr)

    load0 = load_before(args.require_quiet)
    if torch is not None:
        print(f"torch {torch.__version__}, {torch.backends.cpu.get_cpu_capability()}")
    rows = []
    for threads in args.threads:
        for shape in args.shapes:
            n, c = map(int, shape.split("x"))
            mine = {r["label_smoothing"]: r for r in ours(shape, threads)}
            for ls in SMOOTHING:
                row = {
                    "n": n, "c": c, "label_smoothing": ls, "threads": threads,
                    "losskit_median_ms": mine[ls]["median_ms"], "losskit_min_ms": mine[ls]["min_ms"],
                }
                if torch is not None:
                    med, lo, reps = torch_times(torch, n, c, ls, threads)
                    row.update(torch_median_ms=med, torch_min_ms=lo, torch_repeats=reps,
                               ratio=med / row["losskit_median_ms"])
                rows.append(row)
    print()
    head = "| N × C | label_smoothing | threads | torch ms (min) | losskit ms (min) | torch / losskit |"
    print(head)
    print("|---|---|---|---|---|---|")
    for r in rows:
        t = f"{r['torch_median_ms']:.2f} ({r['torch_min_ms']:.2f})" if "ratio" in r else "–"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "–"
        print(f"| {r['n']} × {r['c']} | {r['label_smoothing']} | {r['threads']} | {t} | "
              f"{r['losskit_median_ms']:.2f} ({r['losskit_min_ms']:.2f}) | {ratio} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    main()
