"""CTC forward + backward, losskit against PyTorch's CPU `ctc_loss`, in one run.

    python tools/bench/compare_ctc.py                      # the default shapes, 1 thread
    python tools/bench/compare_ctc.py --shapes 200x32x30x40 --threads 1

A training step's CTC: logits `[T, N, C]` (a leaf) → `log_softmax` → the loss (`mean`) →
`.backward()`, the same on both sides, so both gradients land on the logits and agree (losskit
returns the true gradient with respect to `log_probs`, PyTorch exp(log_probs) − γ; through the
`log_softmax` they are equal). PyTorch: `torch.nn.functional.ctc_loss`; losskit:
`losskit.torch.ctc_loss` (install a release wheel of this checkout first: `maturin build
--release`). Before timing, the values (relative 1e-10) and the logits' gradients (largest
difference ≤ 1e-9 of the largest entry) are checked. f32, padded targets of 0.5·S to S labels,
input lengths 0.8·T to T. The check runs in float64 (torch's float32 kernel is itself ~1e-3
off at T = 400); the timing in float32.

Method: `timing.measure` (3 untimed warm-up calls, then clamp(0.6 s / t, 7, 25) timed ones;
median, and min in parentheses). `torch.set_num_threads(T)` and `losskit.set_num_threads(T)`.
For each shape losskit runs first, then torch. The load average is printed before and after:
on a shared machine only the same-run ratio means anything.
"""

import argparse
import sys

import torch

from timing import loadavg, measure


def batch(t, n, c, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(t, n, c, generator=g)
    tl = torch.randint(max(1, s // 2), s + 1, (n,), generator=g)
    targets = torch.randint(1, c, (n, s), generator=g)
    il = torch.randint(int(0.8 * t), t + 1, (n,), generator=g)
    il[0] = t
    return logits, targets, il, tl


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shapes", default="50x16x20x10,200x32x30x40,400x8x80x100",
                    help="comma-separated TxNxCxS")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import losskit
    import losskit.torch as LT

    torch.set_num_threads(args.threads)
    losskit.set_num_threads(args.threads)
    F = torch.nn.functional
    print(f"load average before: {' '.join(loadavg())}; threads {args.threads}; torch {torch.__version__}")
    print(f"{'T x N x C x S':>18} {'losskit ms':>16} {'torch ms':>16} {'torch/losskit':>14}")
    bad = False
    for shape in args.shapes.split(","):
        t, n, c, s = (int(v) for v in shape.split("x"))
        logits, targets, il, tl = batch(t, n, c, s)
        x = logits.clone().requires_grad_(True)
        y = logits.clone().requires_grad_(True)

        def ours():
            LT.ctc_loss(torch.log_softmax(x, -1), targets, il, tl).backward()

        def theirs():
            F.ctc_loss(torch.log_softmax(y, -1), targets, il, tl).backward()

        # The check in float64: torch's float32 kernel accumulates log-space α, β of a few
        # hundred in float32 and is itself ~1e-3 off at T = 400 (losskit computes in f64).
        xd = logits.double().requires_grad_(True)
        yd = logits.double().requires_grad_(True)
        a = LT.ctc_loss(torch.log_softmax(xd, -1), targets, il, tl)
        b = F.ctc_loss(torch.log_softmax(yd, -1), targets, il, tl)
        a.backward()
        b.backward()
        gap = float((xd.grad - yd.grad).abs().max()) / max(float(yd.grad.abs().max()), 1e-30)
        if abs(a.item() - b.item()) > 1e-10 * abs(b.item()) or gap > 1e-9:
            print(f"MISMATCH {shape}: value {a.item()} vs {b.item()}, gradient gap {gap:.2e}")
            bad = True

        def reset_x():
            x.grad = None

        def reset_y():
            y.grad = None

        lk, lk_min, _ = measure(ours, reset_x)
        th, th_min, _ = measure(theirs, reset_y)
        print(f"{shape:>18} {lk:9.3f} ({lk_min:.3f}) {th:9.3f} ({th_min:.3f}) {th / lk:13.2f}x")
    print(f"load average after: {' '.join(loadavg())}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
