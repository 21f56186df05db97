"""PyTorch on the benchmark's arrays (loaded from .npy into memory first; the load is timed
apart): prints one JSON line per loss and thread count."""
import json, sys, time
import numpy as np
import torch
import torch.nn.functional as F

d = sys.argv[1]
t0 = time.perf_counter()
a = {k: torch.from_numpy(np.load(f"{d}/{k}.npy")) for k in ["p", "y", "z", "t", "logits", "label"]}
load = time.perf_counter() - t0
cases = [
    ("huber", lambda: F.huber_loss(a["p"], a["y"])),
    ("bce_with_logits", lambda: F.binary_cross_entropy_with_logits(a["z"], a["t"])),
    ("cross_entropy", lambda: F.cross_entropy(a["logits"], a["label"])),
]
for threads in [1, 2]:
    torch.set_num_threads(threads)
    for name, f in cases:
        best, v = float("inf"), None
        for _ in range(3):
            t = time.perf_counter()
            with torch.no_grad():
                v = f().item()
            best = min(best, time.perf_counter() - t)
        print(json.dumps({"loss": name, "threads": threads, "seconds": best, "value": v,
                          "load_seconds": load, "torch": torch.__version__}), flush=True)
