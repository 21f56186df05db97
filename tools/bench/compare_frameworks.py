"""Element-wise losses and cross-entropy, losskit against candle and burn, forward + backward.

    cargo build --release -p losskit-cli
    python tools/bench/compare_frameworks.py                 # every case, 1 and 2 threads
    python tools/bench/compare_frameworks.py --threads 1 --cases mse,ce
    python tools/bench/compare_frameworks.py --check         # the correctness check alone
    python tools/bench/compare_frameworks.py --table adapters --threads 1   # the adapters' table

The script first builds `tools/bench/frameworks/` (a Cargo project of its own, outside the
workspace: candle-core and candle-nn 0.11.1, burn 0.22.1 with `flex` and `autodiff`, and the
workspace's losskit, losskit-candle and losskit-burn by path) with `cargo build --release
--manifest-path tools/bench/frameworks/Cargo.toml` (`--no-build` skips that; the binary is
looked for under `$CARGO_TARGET_DIR` when that is set). For each thread count T and case, in the same run and one after the other, each in a
fresh process:

- candle: `Var` prediction on `Device::Cpu`, the `candle_nn::loss` function, `.backward()`,
  the prediction's gradient read from the gradient store.
- burn: prediction on `Device::flex().autodiff()` (`Autodiff<Flex>`, burn's CPU backend and
  the one losskit-burn's fused path runs on) with `.require_grad()`, the `burn::nn::loss`
  module, `.backward()`, `.grad(&x)`.
- losskit: `losskit bench LOSS --json --triad --threads T` (release build), which times the
  fused value-and-gradient pass into a preallocated gradient buffer, and a STREAM-like triad
  over the same bytes in the same process.

candle and burn: the inputs of `compare.py`'s PyTorch side (x ~ N(0, 1), y ~ N(0, 1) for mse
and huber, y ~ Bernoulli(1/2) for bce_with_logits; logits 2·N(0, 1) and uniform classes for
cross-entropy), f32, mean, built before timing; 2 warm-up calls, then repeats for about a
second (5 to 50); the median. The clock stops once the gradient is in hand: dropping the graph
and the gradients is outside it. The child gets `RAYON_NUM_THREADS=T` (burn's ndarray backend
and candle's rayon pool) and `CANDLE_NUM_THREADS=T` (candle's own element-wise worker pool).
Only a framework's own loss is timed; "-" where it has none (candle has no label smoothing).

The second table (`--table adapters`, or `both`, the default) times the adapters the same
way, each in a fresh process, one case after the other: the framework's own loss (as above),
losskit-candle and losskit-burn on their fused path (`Path::Fused`) and their composed path
(`Path::Composed`; "-" where the adapter has none for the case), each through the framework's
`.backward()` to the prediction's gradient, and the core called directly in the same kind of
process: `losskit::evaluate_into` into a gradient buffer allocated per call ("core", what a
framework pays too, as it hands back a new gradient tensor) and into one buffer reused across
calls ("core, reused buffer", what `losskit bench` times). Its ratios: the framework's own
loss over the fused path (the target: at least 5x) and the fused path over the core with a
fresh buffer (the target: at most 1.5x).

Columns of the first table: median times; candle / losskit and burn / losskit; losskit's effective bandwidth as
a share of the same-run triad; the extra peak memory of the loss calls over their inputs (the
peak resident set while the loss runs minus the resident set before it, from `VmHWM` after
resetting it through `/proc/self/clear_refs`; Linux only, else "-"; losskit's includes its
gradient buffers). The footer gives the versions, losskit's SIMD level, the load average
before and after, the CPU time over wall time of the framework children at each thread count,
and the correctness check: every framework loss and gradient on small fixed inputs (4096
elements; 256 × 50 logits) against the plain formula in f64 and against `losskit eval` on the
same `.npy` files (`--check` prints that table alone).
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
from array import array

from timing import add_quiet_argument, load_after, load_before

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOSSKIT = ROOT / "target" / "release" / "losskit"
MANIFEST = ROOT / "tools" / "bench" / "frameworks" / "Cargo.toml"
_TARGET = pathlib.Path(os.environ["CARGO_TARGET_DIR"]) if os.environ.get("CARGO_TARGET_DIR") \
    else MANIFEST.parent / "target"
FRAMEWORKS = _TARGET / "release" / "losskit-bench-frameworks"
# The runs of the adapters' table, in the order they run for each case.
ADAPTER_RUNS = ["candle", "candle-fused", "candle-composed", "burn", "burn-fused",
                "burn-composed", "core", "core-reuse"]

# name: (losskit loss, bench size arguments, losskit params, label)
CASES = {
    "mse": ("mse", ["--size", str(1 << 24)], [], "mse 2^24"),
    "huber": ("huber", ["--size", str(1 << 24)], [], "huber 2^24 (delta 1)"),
    "bce_with_logits": ("bce_with_logits", ["--size", str(1 << 24)], [], "bce_with_logits 2^24"),
    "ce": ("cross_entropy", ["--shape", "8192,1000"], [], "cross_entropy 8192×1000, ls 0"),
    "ce_ls": (
        "cross_entropy",
        ["--shape", "8192,1000"],
        ["label_smoothing=0.1"],
        "cross_entropy 8192×1000, ls 0.1",
    ),
}
# The correctness check also runs bce_with_logits on logits 10 times wider (|x| up to ~37).
CHECK_CASES = {c: (v[0], v[2]) for c, v in CASES.items()}
CHECK_CASES["bce_with_logits_wide"] = ("bce_with_logits", [])

# What each framework runs for a case (the README's legend).
APIS = {
    "mse": ("candle_nn::loss::mse", "MseLoss, Reduction::Mean"),
    "huber": ("candle_nn::loss::huber(.., 1.0)", "HuberLossConfig::new(1.0)"),
    "bce_with_logits": (
        "candle_nn::loss::binary_cross_entropy_with_logit",
        "BinaryCrossEntropyLossConfig::new().with_logits(true), integer labels",
    ),
    "ce": (
        "candle_nn::loss::cross_entropy, u32 classes",
        "CrossEntropyLossConfig::new(), i64 classes",
    ),
    "ce_ls": ("- (no label smoothing)", "CrossEntropyLossConfig::new().with_smoothing(Some(0.1))"),
}


def run_json(cmd, env=None):
    """Runs `cmd`; the last line of its stdout as JSON, or None (stderr echoed) on failure."""
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        shown = " ".join(map(str, cmd))
        sys.stderr.write(f"`{shown}` failed ({p.returncode}):\n{p.stderr[-2000:]}\n")
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def framework_run(framework, case, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), CANDLE_NUM_THREADS=str(threads))
    return run_json([str(FRAMEWORKS), "bench", framework, case, str(threads)], env)


def losskit_run(case, threads):
    loss, size, params, _ = CASES[case]
    cmd = [str(LOSSKIT), "bench", loss, *size, "--threads", str(threads), "--json", "--triad"]
    for p in params:
        cmd += ["--param", p]
    return run_json(cmd)


def read_npy_f32(path):
    """The values of a little-endian `<f4` .npy file, as a flat array of floats."""
    data = pathlib.Path(path).read_bytes()
    n = int.from_bytes(data[8:10], "little")
    header = data[10 : 10 + n].decode("latin1")
    if "'<f4'" not in header:
        raise ValueError(f"{path}: expected '<f4', header {header!r}")
    values = array("f")
    values.frombytes(data[10 + n :])
    if sys.byteorder != "little":
        values.byteswap()
    return values


def check(cases):
    """Every framework's loss and gradient on small inputs, against the f64 formula and losskit.

    Returns rows of (framework, case, result dict or None)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in cases:
            loss, params = CHECK_CASES[case]
            d = pathlib.Path(tmp) / case
            d.mkdir()
            results = {
                fw: run_json([str(FRAMEWORKS), "check", fw, case, str(d)])
                for fw in ("candle", "burn")
            }
            cmd = [str(LOSSKIT), "eval", loss, "--input", f"input={d / 'input.npy'}",
                   "--input", f"target={d / 'target.npy'}",
                   "--grad", f"input={d / 'grad_losskit.npy'}"]
            for p in params:
                cmd += ["--param", p]
            lk = run_json(cmd) if (d / "input.npy").exists() else None
            lk_grad = read_npy_f32(d / "grad_losskit.npy") if lk else None
            for fw, r in results.items():
                if r and r.get("available") and lk:
                    g = read_npy_f32(d / r["grad_file"])
                    lv = float(lk["value"])
                    v = r["value"]
                    r["losskit_value"] = lv
                    r["vs_losskit_value"] = abs(v - lv) / abs(lv) if v is not None else None
                    errs = [abs(a - b) for a, b in zip(g, lk_grad)]
                    r["vs_losskit_grad"] = max(errs) if all(map(math.isfinite, errs)) else None
                    r["losskit_vs_ref"] = abs(lv - r["ref_value"]) / abs(r["ref_value"])
                rows.append((fw, case, r))
    return rows


def sci(x):
    return "-" if x is None else f"{x:.1e}"


def print_check(rows):
    print("| framework | case | value | f64 formula | losskit eval | rel. err vs formula | "
          "max grad err vs formula (max grad) | max grad err vs losskit | ok |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fw, case, r in rows:
        if r is None:
            print(f"| {fw} | {case} | failed | | | | | | no |")
            continue
        if not r.get("available"):
            print(f"| {fw} | {case} | - ({r['reason']}) | | | | | | - |")
            continue
        bad = r["grad_non_finite"]
        grad_err = f"{bad} non-finite" if bad else sci(r["grad_max_abs_err"])
        print(f"| {fw} | {case} | {r['value_text']} | {r['ref_value']:.7g} | "
              f"{r.get('losskit_value', float('nan')):.7g} | {sci(r['value_rel_err'])} | "
              f"{grad_err} ({r['grad_max_abs']:.1e}) | {sci(r.get('vs_losskit_grad'))} | "
              f"{'yes' if r['ok'] else 'NO'} |")


def check_summary(rows):
    def failed(r):
        return r is None or (r.get("available") and not r["ok"])

    bad = [f"{fw} {case}" for fw, case, r in rows if failed(r)]
    done = sum(1 for _, _, r in rows if r and r.get("available"))
    lk = [r["losskit_vs_ref"] for _, _, r in rows if r and "losskit_vs_ref" in r]
    s = f"Check: {done} framework loss/gradient pairs on small inputs against the f64 formula"
    if lk:
        s += f" (`losskit eval` on the same files: within {max(lk):.0e} of it)"
    s += ": all agree within 1e-4"
    if bad:
        s += " except " + ", ".join(bad)
    return s + " (`--check` prints the table)."


def ms(r):
    if r is None:
        return "failed"
    return f"{r['median_s'] * 1e3:.2f}" if r.get("available", True) else "-"


def ratio(r, lk):
    if r is None or lk is None or not r.get("available"):
        return "-"
    return f"{r['median_s'] / lk['median_s']:.1f}x"


def mb(r):
    b = r.get("extra_peak_bytes") if r and r.get("available", True) else None
    return "-" if b is None else f"{max(b, 0) / 2**20:.0f}"


def cpu_s(r):
    """CPU seconds per call: the median wall time times the process's CPU time / wall time
    while timing (on a loaded machine the wall time is mostly waiting for a core)."""
    if r is None or not r.get("available", True) or r.get("cpu_per_wall") is None:
        return None
    return r["median_s"] * r["cpu_per_wall"]


def over(a, b):
    """a / b in CPU time per call, as "N.Nx", or "-" when either is missing."""
    x, y = cpu_s(a), cpu_s(b)
    return f"{x / y:.1f}x" if x and y else "-"


def cell(r):
    """ "wall ms (CPU ms)" of one run."""
    c = cpu_s(r)
    return ms(r) if c is None else f"{ms(r)} ({c * 1e3:.1f})"


def adapters_table(cases, threads):
    """The adapters' table: own loss, fused, composed, core."""
    load0 = loadavg()
    print("| case | threads | candle own | candle fused | candle composed | burn own | "
          "burn fused | burn composed | core | core, reused buffer | candle own / fused | "
          "candle fused / core | burn own / fused | burn fused / core |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    for t in threads:
        for c in cases:
            r = {fw: framework_run(fw, c, t) for fw in ADAPTER_RUNS}
            print(f"| {CASES[c][3]} | {t} | "
                  + " | ".join(cell(r[fw]) for fw in ADAPTER_RUNS)
                  + f" | {over(r['candle'], r['candle-fused'])} | "
                  f"{over(r['candle-fused'], r['core'])} | {over(r['burn'], r['burn-fused'])} | "
                  f"{over(r['burn-fused'], r['core'])} |", flush=True)
    load1 = loadavg()
    print(f"\nAdapters: f32, forward + backward through the framework's autograd, mean; each "
          f"cell the median wall time in ms and, in parentheses, CPU ms per call (the median "
          f"times the process's CPU time / wall time while timing); ratios on CPU time. Load "
          f"average {load0:.1f} before, {load1:.1f} after. \"core\": losskit::evaluate_into "
          "with a gradient buffer allocated per call; \"core, reused buffer\": one buffer for "
          "every call. \"-\": no such loss or path.")


def loadavg():
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ",".join(CASES))
    ap.add_argument("--no-build", action="store_true", help="do not build tools/bench/frameworks")
    ap.add_argument("--check", action="store_true", help="only the correctness check, as a table")
    add_quiet_argument(ap)
    ap.add_argument("--table", default="both", choices=["frameworks", "adapters", "both"],
                    help="the frameworks against `losskit bench`, the adapters, or both")
    args = ap.parse_args()
    if not LOSSKIT.exists() and args.table != "adapters":
        sys.exit(f"{LOSSKIT} not found: run `cargo build --release -p losskit-cli` first")
    if not args.no_build:
        print("building tools/bench/frameworks (the first build takes minutes) ...",
              file=sys.stderr, flush=True)
        subprocess.run(["cargo", "build", "--release", "--manifest-path", str(MANIFEST)],
                       check=True, stdout=sys.stderr)
    if not FRAMEWORKS.exists():
        sys.exit(f"{FRAMEWORKS} not found: run without --no-build")
    threads = [int(t) for t in args.threads.split(",")]
    cases = args.cases.split(",")
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        sys.exit(f"unknown case(s) {','.join(unknown)}: choose from {','.join(CASES)}")
    if args.check:
        print_check(check(list(CHECK_CASES)))
        return
    if args.table == "adapters":
        adapters_table(cases, threads)
        return

    load0 = load_before(args.require_quiet)
    print("| case | threads | candle ms | burn ms | losskit ms | candle / losskit | burn / losskit | "
          "losskit share of triad | extra peak MiB candle | burn | losskit |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)
    versions, level, device, cpu = {}, None, None, {}
    for t in threads:
        for c in cases:
            cr = framework_run("candle", c, t)
            br = framework_run("burn", c, t)
            lk = losskit_run(c, t)
            for fw, r in (("candle", cr), ("burn", br)):
                if r:
                    versions[fw] = r["version"]
                    if r.get("cpu_per_wall") is not None:
                        cpu.setdefault((t, fw), []).append(r["cpu_per_wall"])
            device = device or (br and br.get("device"))
            level = lk["simd"] if lk else level
            share = f"{100 * lk['bandwidth_share']:.0f}%" if lk else "-"
            print(f"| {CASES[c][3]} | {t} | {ms(cr)} | {ms(br)} | {ms(lk)} | {ratio(cr, lk)} | "
                  f"{ratio(br, lk)} | {share} | {mb(cr)} | {mb(br)} | {mb(lk)} |", flush=True)
    print(f"\ncandle {versions.get('candle', '?')}, burn {versions.get('burn', '?')} ({device}); "
          f"losskit SIMD level {level}; f32, forward + backward, mean, median times.")
    load_after(load0, args.require_quiet)
    if cpu:
        parts = [f"{fw} {t}T {min(v):.2f}–{max(v):.2f}" for (t, fw), v in sorted(cpu.items())]
        print("CPU time / wall time of the framework children while timing: "
              + ", ".join(parts) + ".")
    print("Losses: " + "; ".join(f"{c}: candle {APIS[c][0]}, burn {APIS[c][1]}" for c in cases)
          + ".")
    checked = [c for c in CHECK_CASES if c in cases]
    if "bce_with_logits" in cases:
        checked.append("bce_with_logits_wide")
    print(check_summary(check(checked)))
    if args.table == "both":
        print()
        adapters_table(cases, threads)


if __name__ == "__main__":
    main()
