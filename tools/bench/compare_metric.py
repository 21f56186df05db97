"""Metric-learning losses, forward + backward, losskit against PyTorch (and
pytorch-metric-learning for SupCon and the pair-mining losses), time and peak memory, in one run.

    python tools/bench/compare_metric.py                      # every case, 1 and 2 threads
    python tools/bench/compare_metric.py --threads 1 --cases nt_xent:1024x128
    python tools/bench/compare_metric.py --torch-mem-gib 12   # the PyTorch workers' limit

Every measurement runs in its own process, so its peak resident memory is its own: `VmRSS`
once the inputs (and losskit's gradient buffers) exist is the base, `VmHWM` after the runs is
the peak, and their difference ("extra") is what the loss used. PyTorch's workers run under
an address-space limit (`resource.setrlimit(RLIMIT_AS)`, default 12 GiB, on a 24 GiB machine
shared with others), so a case that does not fit fails to allocate, and is reported as such,
instead of meeting the OOM killer.

What is timed, f32, `mean`, forward + backward:
- `triplet_margin`: `F.triplet_margin_loss(a, p, n)` + `.backward()`;
- `nt_xent`: the usual SimCLR code, `u = F.normalize(cat([z1, z2]))`, `s = u @ u.T / 0.5`,
  diagonal masked with -inf, `F.cross_entropy(s, partner)` + `.backward()`;
- `info_nce`: `F.cross_entropy(F.normalize(q) @ F.normalize(k).T / 0.07, arange(N))`;
- `supcon`: pytorch-metric-learning `SupConLoss(temperature=0.1)(x, labels)`, labels
  `i % (N/16)`;
- `arcface`, `cosface`, `subcenter_arcface` (3 sub-centres), `proxy_anchor`, `proxy_nca`
  (cases `LOSS:NxDxC`): pytorch-metric-learning's loss with `num_classes=C`, its class
  centres a parameter, `loss(x, labels)` + `.backward()` (gradients to x and the centres),
  labels `i % C`;
- `multi_similarity`, `circle`, `lifted_structure`: pytorch-metric-learning's
  `MultiSimilarityLoss()`, `CircleLoss()`, `LiftedStructureLoss()` (defaults), labels as
  `supcon`; `npairs`: `NPairsLoss()(cat([a, p]), arange(N).repeat(2))`;
- losskit: the fused `value_and_grad` through the release example
  `crates/losskit/examples/bench_metric.rs`.
Method: one warm-up call, then clamp(0.6 s / t, 1, 15) timed calls, median reported (the
2N = 65,536 case: one timed call, no warm-up). Threads: `torch.set_num_threads(T)` and
`RAYON_NUM_THREADS=T`. Cases run torch then losskit, one at a time; the load average is
printed before and after, and a busy machine's table is marked LOADED (`--require-quiet`
refuses to time instead; see `timing.py`). `LOSSKIT_SIMD` and `LOSSKIT_TILE_BUDGET` pass
through to losskit (the contrastive losses keep their N × N similarities within the budget,
64 MiB by default, and recompute them tile by tile beyond it). The example is looked up in
`$CARGO_TARGET_DIR` when that is set.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

from timing import add_quiet_argument, load_after, load_before

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
EXAMPLE = TARGET / "release" / "examples" / "bench_metric"
CASES = [
    "triplet_margin:65536x128",
    "nt_xent:256x128",
    "nt_xent:1024x128",
    "nt_xent:4096x256",
    "info_nce:256x128",
    "info_nce:1024x128",
    "info_nce:4096x256",
    "supcon:2048x128",
    "supcon:8192x128",
    "nt_xent:32768x128",  # 2N = 65,536 rows
    "arcface:512x128x10000",
    "cosface:512x128x10000",
    "subcenter_arcface:512x128x2000",
    "proxy_anchor:512x128x1000",
    "proxy_nca:512x128x1000",
    "multi_similarity:2048x128",
    "multi_similarity:8192x128",
    "circle:2048x128",
    "circle:8192x128",
    "lifted_structure:128x128",  # pml's (positive × negative pairs) mask grows as N⁴
    "lifted_structure:256x128",
    "npairs:4096x256",
]
# pytorch-metric-learning classes of the class-centre losses (cases LOSS:NxDxC).
CENTRE_LOSSES = {
    "arcface": "ArcFaceLoss",
    "cosface": "CosFaceLoss",
    "subcenter_arcface": "SubCenterArcFaceLoss",
    "proxy_anchor": "ProxyAnchorLoss",
    "proxy_nca": "ProxyNCALoss",
}
BIG = 32768


def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def torch_worker(loss, n, d, threads, repeats, classes=1000):
    """Runs in a child process: prints one JSON line (timings or the error)."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)

    def emb():
        return (torch.rand(n, d, generator=g) * 2 - 1).requires_grad_(True)

    if loss == "triplet_margin":
        a, p, ng = emb(), emb(), emb()
        leaves = [a, p, ng]

        def f():
            return F.triplet_margin_loss(a, p, ng)
    elif loss == "nt_xent":
        z1, z2 = emb(), emb()
        leaves = [z1, z2]
        partner = (torch.arange(2 * n) + n) % (2 * n)

        def f():
            u = F.normalize(torch.cat([z1, z2]), dim=1)
            s = (u @ u.T / 0.5).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
            return F.cross_entropy(s, partner)
    elif loss == "info_nce":
        q, k = emb(), emb()
        leaves = [q, k]
        target = torch.arange(n)

        def f():
            return F.cross_entropy(F.normalize(q, dim=1) @ F.normalize(k, dim=1).T / 0.07, target)
    elif loss == "supcon":
        from pytorch_metric_learning.losses import SupConLoss

        x = emb()
        leaves = [x]
        labels = torch.arange(n) % max(n // 16, 2)
        sc = SupConLoss(temperature=0.1)

        def f():
            return sc(x, labels)
    elif loss in CENTRE_LOSSES:
        from pytorch_metric_learning import losses

        x = emb()
        labels = torch.arange(n) % classes
        m = getattr(losses, CENTRE_LOSSES[loss])(num_classes=classes, embedding_size=d)
        leaves = [x] + list(m.parameters())

        def f():
            return m(x, labels)
    elif loss in ("multi_similarity", "circle", "lifted_structure"):
        from pytorch_metric_learning import losses

        x = emb()
        leaves = [x]
        labels = torch.arange(n) % max(n // 16, 2)
        pml = {"multi_similarity": losses.MultiSimilarityLoss, "circle": losses.CircleLoss,
               "lifted_structure": losses.LiftedStructureLoss}[loss]()

        def f():
            return pml(x, labels)
    elif loss == "npairs":
        from pytorch_metric_learning.losses import NPairsLoss

        a, p = emb(), emb()
        leaves = [a, p]
        labels = torch.arange(n).repeat(2)
        pml = NPairsLoss()

        def f():
            return pml(torch.cat([a, p]), labels)
    else:
        raise SystemExit(f"unknown loss {loss}")

    def once():
        out = f()
        out.backward()
        for leaf in leaves:
            leaf.grad = None
        return float(out)

    base = status_mib("VmRSS:")
    times = []
    try:
        if repeats == 0:
            reps = 1
        else:
            t0 = time.perf_counter()
            once()
            reps = max(1, min(15, int(0.6 / (time.perf_counter() - t0))))
        for _ in range(reps):
            t = time.perf_counter()
            value = once()
            times.append((time.perf_counter() - t) * 1e3)
    except (RuntimeError, MemoryError) as e:
        msg = str(e).strip().splitlines()[0][:160]
        print(json.dumps({"error": f"{type(e).__name__}: {msg}", "base_mib": base,
                          "peak_mib": status_mib("VmHWM:")}))
        return
    times.sort()
    peak = status_mib("VmHWM:")
    print(json.dumps({"median_ms": times[len(times) // 2], "min_ms": times[0], "repeats": reps,
                      "base_mib": base, "peak_mib": peak, "extra_mib": peak - base, "value": value}))


def run_torch(loss, n, d, threads, repeats, mem_gib, classes=1000):
    code = (
        "import resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_AS, ({int(mem_gib * 2**30)}, {int(mem_gib * 2**30)})); "
        f"sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r}); "
        "import compare_metric as c; "
        f"c.torch_worker({loss!r}, {n}, {d}, {threads}, {repeats}, {classes})"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines:
        err = (p.stderr.strip().splitlines() or [f"exit {p.returncode}"])[-1][:160]
        return {"error": f"exit {p.returncode}: {err}"}
    return json.loads(lines[-1])


def run_losskit(loss, n, d, threads, repeats, classes=1000):
    args = [str(EXAMPLE), loss, str(n), str(d)] + (["0"] if repeats == 0 else [])
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), BENCH_CLASSES=str(classes))
    p = subprocess.run(args, capture_output=True, text=True, env=env, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def fmt(r, key, spec):
    return format(r[key], spec) if key in r else "–"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cases", nargs="+", default=CASES, help="LOSS:NxD")
    ap.add_argument("--torch-mem-gib", type=float, default=12.0)
    ap.add_argument("--no-build", action="store_true")
    add_quiet_argument(ap)
    a = ap.parse_args()
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "losskit", "--example",
                        "bench_metric"], cwd=ROOT, check=True)
    load0 = load_before(a.require_quiet)
    print(f"LOSSKIT_SIMD={os.environ.get('LOSSKIT_SIMD', '(widest)')}, "
          f"LOSSKIT_TILE_BUDGET={os.environ.get('LOSSKIT_TILE_BUDGET', '(64 MiB)')}", flush=True)
    rows = []
    for case in a.cases:
        loss, shape = case.split(":")
        n, d, *rest = (int(v) for v in shape.split("x"))
        classes = rest[0] if rest else 1000
        repeats = 0 if n >= BIG else None
        for t in a.threads:
            tr = run_torch(loss, n, d, t, repeats, a.torch_mem_gib, classes)
            lr = run_losskit(loss, n, d, t, repeats, classes)
            ratio = f"{tr['median_ms'] / lr['median_ms']:.1f}x" if "median_ms" in tr else "–"
            torch_cell = fmt(tr, "median_ms", ".1f") if "error" not in tr else f"failed: {tr['error']}"
            rows.append(
                f"| {loss} | {n} × {d}{f' × C {classes}' if rest else ''} | {t} | {torch_cell} | {lr['median_ms']:.1f} | {ratio} "
                f"| {fmt(tr, 'extra_mib', '.0f')} | {lr['extra_mib']:.0f} |"
            )
            print(rows[-1], flush=True)
    print()
    print("| loss | N × D | threads | PyTorch ms | losskit ms | PyTorch / losskit "
          "| PyTorch extra MiB | losskit extra MiB |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    load_after(load0, a.require_quiet)


if __name__ == "__main__":
    main()
