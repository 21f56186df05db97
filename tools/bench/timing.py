"""What the comparison scripts share: the timing method and the machine's load."""

import os
import pathlib
import statistics
import sys
import time

# A machine is quiet enough for a table when its 1-minute load average is at most this much
# per core: 1.5 on the 2-core development machine.
QUIET_LOAD_PER_CPU = 0.75


def measure(once, reset):
    """Times `once()`: 3 untimed warm-up calls, then clamp(0.6 s / t, 7, 25) timed ones,
    with `reset()` after each call outside the timed region. Returns (median ms, min ms,
    repeats)."""
    t0 = time.perf_counter()
    for _ in range(3):
        once()
        reset()
    per = (time.perf_counter() - t0) / 3
    repeats = min(max(int(0.6 / per), 7), 25)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        times.append((time.perf_counter() - t) * 1e3)
        reset()
    return statistics.median(times), min(times), repeats


def loadavg():
    """The 1, 5 and 15 minute load averages, as text."""
    try:
        return pathlib.Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        return ["?"] * 3


def quiet_limit():
    """The highest 1-minute load average a quiet table allows: 0.75 per core (1.5 on 2)."""
    return QUIET_LOAD_PER_CPU * (os.cpu_count() or 1)


def add_quiet_argument(parser):
    """Adds `--require-quiet` to a comparison script's argument parser."""
    parser.add_argument(
        "--require-quiet", action="store_true",
        help=f"refuse to time (exit 3) when the 1-minute load average is above "
             f"{QUIET_LOAD_PER_CPU} per core ({quiet_limit():g} here), and exit 3 after the "
             f"table when it rose above that while timing; without it such a table is marked "
             f"LOADED")


def _one_minute(load):
    try:
        return float(load[0])
    except (ValueError, IndexError):
        return float("nan")


def loaded_line(load1):
    """The mark of a table timed on a busy machine, or "" when `load1` is quiet."""
    if not load1 > quiet_limit():
        return ""
    return (f"LOADED: load average {load1:.2f} > {quiet_limit():g} on {os.cpu_count()} cores "
            f"— figures not quiet")


def load_before(require_quiet=False):
    """Prints the load average before timing (and the LOADED mark when it is busy); with
    `require_quiet`, a busy machine ends the script (exit status 3) before anything is
    timed. Returns the 1-minute figure, for `load_after`."""
    load = loadavg()
    print(f"load average before: {' '.join(load)}; cpus: {os.cpu_count()}", flush=True)
    load1 = _one_minute(load)
    mark = loaded_line(load1)
    if mark and require_quiet:
        print(f"refusing to time (--require-quiet): {mark}", file=sys.stderr, flush=True)
        sys.exit(3)
    if mark:
        print(mark, flush=True)
    return load1


def load_after(before, require_quiet=False):
    """Prints the load average after timing and, when it or `before` was busy, the LOADED
    mark (call it next to the table). With `require_quiet` a machine that became busy while
    timing ends the script with exit status 3, after the mark. Returns the mark ("" when
    quiet)."""
    load = loadavg()
    print(f"load average after: {' '.join(load)}", flush=True)
    worst = max(before, _one_minute(load)) if before == before else _one_minute(load)
    mark = loaded_line(worst)
    if mark:
        print(mark, flush=True)
        if require_quiet:
            print("--require-quiet: the machine became busy while timing", file=sys.stderr)
            sys.exit(3)
    return mark
