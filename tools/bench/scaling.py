"""losskit alone: 2-thread scaling, f64 against f32, value alone against the fused pass, one run.

    cargo build --release -p losskit-cli
    python tools/bench/scaling.py                      # the element-wise losses
    python tools/bench/scaling.py --losses mse,focal   # any catalogue losses

The speed issue's targets that need no other library: with 2 threads at least 1.7x the
1-thread speed at 2^24 elements and 1.5x at 2^20; f64 within 2.2x of f32's time on the
memory-bound losses; `value` alone never slower than the fused value and gradient. Every
figure is `losskit bench LOSS --json` (median of repeats, forward + backward unless "value
only"), each its own process, one after the other in the same run, so the ratios are
same-run ratios. Standard library only; needs the release build of the `losskit` binary.
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
DEFAULT = "mse,huber,log_cosh,bce_with_logits,focal"


def bench(loss, size, threads=1, dtype="f32", value_only=False):
    cmd = [str(LOSSKIT), "bench", loss, "--size", str(size), "--threads", str(threads),
           "--dtype", dtype, "--json"]
    if value_only:
        cmd.append("--value-only")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)["median_s"] * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--losses", default=DEFAULT, help="comma-separated catalogue names")
    add_quiet_argument(ap)
    args = ap.parse_args()
    if not LOSSKIT.exists():
        sys.exit(f"{LOSSKIT} not found: run `cargo build --release -p losskit-cli` first")
    load0 = load_before(args.require_quiet)
    print("| loss | n | 1 thread ms | 2 threads ms | 2T speed-up | f64 ms (1T) | f64 / f32 | "
          "value only ms (1T) | value only / fused |")
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    for loss in args.losses.split(","):
        for log2 in (20, 24):
            n = 1 << log2
            t1 = bench(loss, n, 1)
            t2 = bench(loss, n, 2)
            f64 = bench(loss, n, 1, "f64")
            vo = bench(loss, n, 1, value_only=True)
            print(f"| {loss} | 2^{log2} | {t1:.2f} | {t2:.2f} | {t1 / t2:.2f}x | {f64:.2f} | "
                  f"{f64 / t1:.2f}x | {vo:.2f} | {vo / t1:.2f} |", flush=True)
    print(f"\nlosskit bench, f32 unless said, mean reduction, median times; "
          f"{os.cpu_count()} CPUs.")
    load_after(load0, args.require_quiet)


if __name__ == "__main__":
    main()
