"""Writes the SQL benchmark's data: Parquet for the engines, .npy for PyTorch.

regression.parquet: p, y (float32; huber), z (float32 logits), t (float32 0/1; bce_with_logits)
classes.parquet:    logits (FixedSizeList<float32, 10>), l0..l9 (the same logits as columns, for
                    the hand-written SQL), label (int64)
Both seeded; the logits include a few large values (|z| up to 200) where the naive formulas
overflow.
"""
import sys, pathlib
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

out = pathlib.Path(sys.argv[1])
rows = int(sys.argv[2])
ce_rows = int(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20)
chunk = 10_000_000


def scaled(n):
    z = rng.standard_normal(n, dtype=np.float32) * 3
    big = rng.random(n) < 1e-4
    z[big] = rng.uniform(-200, 200, big.sum()).astype(np.float32)
    return z


if not (out / "regression.parquet").exists():
    w = None
    npy = {k: np.lib.format.open_memmap(out / f"{k}.npy", mode="w+", dtype=np.float32, shape=(rows,)) for k in "pyzt"}
    for lo in range(0, rows, chunk):
        n = min(chunk, rows - lo)
        cols = {
            "p": rng.standard_normal(n, dtype=np.float32) * 2,
            "y": rng.standard_normal(n, dtype=np.float32),
            "z": scaled(n),
            "t": (rng.random(n) < 0.3).astype(np.float32),
        }
        for k, v in cols.items():
            npy[k][lo:lo + n] = v
        tab = pa.table(cols)
        w = w or pq.ParquetWriter(out / "regression.parquet", tab.schema)
        w.write_table(tab, row_group_size=1 << 20)
    w.close()
    for m in npy.values():
        m.flush()

if not (out / "classes.parquet").exists():
    w = None
    lg = np.lib.format.open_memmap(out / "logits.npy", mode="w+", dtype=np.float32, shape=(ce_rows, 10))
    lb = np.lib.format.open_memmap(out / "label.npy", mode="w+", dtype=np.int64, shape=(ce_rows,))
    for lo in range(0, ce_rows, chunk):
        n = min(chunk, ce_rows - lo)
        logits = scaled(n * 10).reshape(n, 10)
        label = rng.integers(0, 10, n)
        lg[lo:lo + n] = logits
        lb[lo:lo + n] = label
        cols = {"logits": pa.FixedSizeListArray.from_arrays(pa.array(logits.reshape(-1)), 10)}
        for c in range(10):
            cols[f"l{c}"] = pa.array(logits[:, c])
        cols["label"] = pa.array(label)
        tab = pa.table(cols)
        w = w or pq.ParquetWriter(out / "classes.parquet", tab.schema)
        w.write_table(tab, row_group_size=1 << 20)
    w.close()
    lg.flush()
    lb.flush()
