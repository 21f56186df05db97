"""Element-wise losses and cross-entropy, losskit against PyTorch, forward + backward, one run.

    cargo build --release -p losskit-cli
    python tools/bench/compare.py                  # every case, 1 and 2 threads
    python tools/bench/compare.py --threads 1 --cases mse,focal

For each case and thread count, in the same run and one after the other (so the slow drifts
of a shared machine hit both sides alike):

- PyTorch, in a fresh child process (`torch.set_num_threads(T)`): 3 warm-up calls, then
  repeats for about a second (5 to 50); the median. The inputs are made before timing; the
  timed region is the forward, `.backward()`, and the allocation of `x.grad` (reset outside
  the timed region).
- losskit: `losskit bench LOSS --json --triad --threads T` (release build), which times the
  fused value-and-gradient pass into a preallocated gradient buffer, and a STREAM-like triad
  over the same bytes in the same process.

Columns: median times, the ratio PyTorch / losskit, losskit's effective bandwidth as a share
of the same-run triad, and the extra peak memory of the loss call over its inputs (the peak
resident set while the loss runs minus the resident set before it, from `VmHWM` after
resetting it through `/proc/self/clear_refs`; Linux only, else "-"). log_cosh has no PyTorch
loss: PyTorch's side is the stable expression `e + softplus(-2e) - ln 2` of `e = x - y` that
a user would write. focal's is torchvision's `sigmoid_focal_loss`.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from timing import add_quiet_argument, load_after, load_before

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOSSKIT = ROOT / "target" / "release" / "losskit"

# name: (losskit loss, bench size arguments, extra losskit args, torch label)
CASES = {
    "mse": ("mse", ["--size", str(1 << 24)], [], "mse 2^24"),
    "huber": ("huber", ["--size", str(1 << 24)], [], "huber 2^24"),
    "bce_with_logits": ("bce_with_logits", ["--size", str(1 << 24)], [], "bce_with_logits 2^24"),
    "log_cosh": ("log_cosh", ["--size", str(1 << 24)], [], "log_cosh 2^24"),
    "focal": ("focal", ["--size", str(1 << 22)], [], "focal 2^22"),
    "ce": ("cross_entropy", ["--shape", "8192,1000"], [], "cross_entropy 8192×1000, ls 0"),
    "ce_ls": (
        "cross_entropy",
        ["--shape", "8192,1000"],
        ["--param", "label_smoothing=0.1"],
        "cross_entropy 8192×1000, ls 0.1",
    ),
    # The catalogue-breadth classification losses, each against its anchor: timm's
    # AsymmetricLossMultiLabel, torch's multilabel losses, the adaptive wing formula in torch
    # ops, and optax (jax, jit-compiled value_and_grad; JAX_CASES) for poly1 and sparsemax.
    "asymmetric": ("asymmetric", ["--size", str(1 << 22)], [], "asymmetric 2^22 (timm)"),
    "multilabel_soft_margin": (
        "multilabel_soft_margin",
        ["--shape", "65536,64"],
        [],
        "multilabel_soft_margin 65536×64",
    ),
    "multilabel_margin": (
        "multilabel_margin",
        ["--size", str(6 << 16)],
        [],
        "multilabel_margin 65536×6",
    ),
    "adaptive_wing": ("adaptive_wing", ["--size", str(1 << 22)], [], "adaptive_wing 2^22 (formula)"),
    "poly1": ("poly1", ["--shape", "8192,1000"], [], "poly1 8192×1000 (optax)"),
    "sparsemax": ("sparsemax", ["--shape", "8192,100"], [], "sparsemax 8192×100 (optax)"),
}
JAX_CASES = {"poly1", "sparsemax"}

# The PyTorch side, run in a child process: prints one JSON line.
TORCH_CHILD = r"""
import json, math, statistics, sys, time
import torch
import torch.nn.functional as F
case, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
g = torch.Generator().manual_seed(0)

def peak_reset():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False

def hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None

if case in ("ce", "ce_ls"):
    x = (torch.randn(8192, 1000, generator=g) * 2).requires_grad_(True)
    y = torch.randint(0, 1000, (8192,), generator=g)
    ls = 0.1 if case == "ce_ls" else 0.0
    f = lambda: F.cross_entropy(x, y, label_smoothing=ls)
elif case == "asymmetric":
    import timm.loss
    x = (torch.randn(1 << 22, generator=g) * 2).requires_grad_(True)
    y = (torch.rand(1 << 22, generator=g) < 0.5).float()
    asl = timm.loss.AsymmetricLossMultiLabel(reduction="mean")
    f = lambda: asl(x, y)
elif case == "multilabel_soft_margin":
    x = (torch.randn(65536, 64, generator=g) * 2).requires_grad_(True)
    y = torch.rand(65536, 64, generator=g)
    f = lambda: F.multilabel_soft_margin_loss(x, y)
elif case == "multilabel_margin":
    x = torch.randn(65536, 6, generator=g).requires_grad_(True)
    perm = torch.rand(65536, 6, generator=g).argsort(1)
    k = torch.randint(1, 4, (65536, 1), generator=g)
    y = torch.where(torch.arange(6) < k, perm, -1)
    f = lambda: F.multilabel_margin_loss(x, y)
elif case == "adaptive_wing":
    # Wang et al. 2019, eq. 6, as torch ops (omega 14, theta 0.5, epsilon 1, alpha 2.1).
    y = torch.rand(1 << 22, generator=g)
    x = (y + 0.3 * torch.randn(1 << 22, generator=g)).requires_grad_(True)
    def f():
        a = 2.1 - y
        d = (x - y).abs()
        big_a = 14.0 * (1 / (1 + 0.5 ** a)) * a * 0.5 ** (a - 1)
        c = 0.5 * big_a - 14.0 * torch.log1p(0.5 ** a)
        return torch.where(d < 0.5, 14.0 * torch.log1p(d ** a), big_a * d - c).mean()
else:
    n = (1 << 22) if case == "focal" else (1 << 24)
    x = torch.randn(n, generator=g).requires_grad_(True)
    if case in ("bce_with_logits", "focal"):
        y = (torch.rand(n, generator=g) < 0.5).float()
    else:
        y = torch.randn(n, generator=g)
    if case == "mse":
        f = lambda: F.mse_loss(x, y)
    elif case == "huber":
        f = lambda: F.huber_loss(x, y)
    elif case == "bce_with_logits":
        f = lambda: F.binary_cross_entropy_with_logits(x, y)
    elif case == "log_cosh":
        def f():
            e = x - y
            return (e + F.softplus(-2.0 * e) - math.log(2.0)).mean()
    elif case == "focal":
        from torchvision.ops import sigmoid_focal_loss
        f = lambda: sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0, reduction="mean")

def once():
    loss = f()
    loss.backward()

for _ in range(3):
    once()
    x.grad = None
can_reset = peak_reset()
base = hwm()
times = []
start = time.perf_counter()
while len(times) < 5 or (time.perf_counter() - start < 1.0 and len(times) < 50):
    t = time.perf_counter()
    once()
    times.append(time.perf_counter() - t)
    x.grad = None
peak = hwm()
print(json.dumps({
    "median_s": statistics.median(times),
    "min_s": min(times),
    "runs": len(times),
    "extra_peak_bytes": (peak - base) if (can_reset and base and peak) else None,
    "torch": torch.__version__,
}))
"""


# The optax side (poly1, sparsemax), run in a child process with XLA limited to `threads`
# threads: jax.jit(jax.value_and_grad(mean loss)), timed to block_until_ready.
JAX_CHILD = r"""
import json, os, statistics, sys, time
case, threads = sys.argv[1], int(sys.argv[2])
os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
                           f"intra_op_parallelism_threads={threads}")
import jax, jax.numpy as jnp, optax
k1, k2 = jax.random.split(jax.random.PRNGKey(0))
n, c = (8192, 1000) if case == "poly1" else (8192, 100)
x = jax.random.normal(k1, (n, c), jnp.float32) * 2
y = jax.random.randint(k2, (n,), 0, c)
if case == "poly1":
    loss = lambda x: optax.losses.poly_loss_cross_entropy(x, jax.nn.one_hot(y, c)).mean()
else:
    loss = lambda x: optax.losses.multiclass_sparsemax_loss(x, y).mean()
f = jax.jit(jax.value_and_grad(loss))
for _ in range(3):
    jax.block_until_ready(f(x))
times = []
start = time.perf_counter()
while len(times) < 5 or (time.perf_counter() - start < 1.0 and len(times) < 50):
    t = time.perf_counter()
    jax.block_until_ready(f(x))
    times.append(time.perf_counter() - t)
print(json.dumps({"median_s": statistics.median(times), "min_s": min(times), "runs": len(times),
                  "extra_peak_bytes": None, "torch": None, "anchor": f"optax {optax.__version__}"}))
"""


def torch_run(case, threads):
    if case in JAX_CASES:
        out = subprocess.run(
            [sys.executable, "-c", JAX_CHILD, case, str(threads)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    try:
        out = subprocess.run(
            [sys.executable, "-c", TORCH_CHILD, case, str(threads)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    except subprocess.CalledProcessError as e:
        if "No module named 'torch" in e.stderr:
            return None
        raise
    return json.loads(out.strip().splitlines()[-1])


def losskit_run(case, threads):
    loss, size, extra, _ = CASES[case]
    cmd = [str(LOSSKIT), "bench", loss, *size, *extra, "--threads", str(threads)]
    cmd += ["--json", "--triad"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def mb(b):
    return "-" if b is None else f"{max(b, 0) / 2**20:.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    add_quiet_argument(ap)
    args = ap.parse_args()
    if not LOSSKIT.exists():
        sys.exit(f"{LOSSKIT} not found: run `cargo build --release -p losskit-cli` first")
    threads = [int(t) for t in args.threads.split(",")]
    cases = args.cases.split(",")
    load0 = load_before(args.require_quiet)
    print("| case | threads | PyTorch (or anchor) ms | losskit ms | PyTorch (or anchor) / losskit | "
          "losskit GB/s | share of triad | extra peak MiB PyTorch | extra peak MiB losskit |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    version, level = None, None
    for t in threads:
        for c in cases:
            tr = torch_run(c, t)
            lk = losskit_run(c, t)
            version = version or (tr and tr["torch"])
            level = lk["simd"]
            lms = lk["median_s"] * 1e3
            tms = f"{tr['median_s'] * 1e3:.2f}" if tr else "-"
            ratio = f"{tr['median_s'] / lk['median_s']:.1f}x" if tr else "-"
            print(
                f"| {CASES[c][3]} | {t} | {tms} | {lms:.2f} | {ratio} | {lk['gb_per_s']:.1f} | "
                f"{100 * lk['bandwidth_share']:.0f}% | {mb(tr and tr['extra_peak_bytes'])} | "
                f"{mb(lk.get('extra_peak_bytes'))} |",
                flush=True,
            )
    print(f"\nPyTorch {version or '(not installed)'}; losskit SIMD level {level}; "
          f"f32, forward + backward, mean, median times.")
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    main()
