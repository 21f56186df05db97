"""What the comparison scripts share: the timing method and the machine's load."""

import pathlib
import statistics
import time


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
