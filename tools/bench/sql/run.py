"""One command for the SQL benchmark (issue 20): generates the data, times each loss through the
losskit UDAF and as hand-written SQL in DataFusion (`losskit sql`) and DuckDB, and PyTorch on
the loaded arrays, at 1 and 2 partitions/threads, and prints a Markdown table with the load
average. Usage (from the repository root):

    python tools/bench/sql/run.py --losskit target/release/losskit --torch-python PY [--rows 1e8] [--ce-rows 1e7] [--data DIR]

`python` needs duckdb, pyarrow and numpy; PY needs torch and numpy.
"""
import argparse, json, os, pathlib, subprocess, sys, time

import duckdb

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from queries import QUERIES, sql  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--losskit", required=True)
ap.add_argument("--torch-python", required=True)
ap.add_argument("--rows", type=float, default=1e8)
ap.add_argument("--ce-rows", type=float, default=1e7)
ap.add_argument("--data", default="target/bench-sql")
ap.add_argument("--repeats", type=int, default=3)
args = ap.parse_args()
data = pathlib.Path(args.data).resolve() / f"{int(args.rows)}-{int(args.ce_rows)}"
here = pathlib.Path(__file__).parent

load = lambda: open("/proc/loadavg").read().split()[0]
loads = [load()]
t = time.perf_counter()
subprocess.run([sys.executable, here / "gen.py", data, str(int(args.rows)), str(int(args.ce_rows))], check=True)
print(f"data: {data} ({time.perf_counter() - t:.0f} s)", file=sys.stderr)

rows = []


def best(f):
    out, b = None, float("inf")
    for _ in range(args.repeats):
        t = time.perf_counter()
        out = f()
        b = min(b, time.perf_counter() - t)
    return b, out


for q in QUERIES:
    for parts in [1, 2]:
        text = sql(q, data, "datafusion")
        def df():
            r = subprocess.run([args.losskit, "sql", "--quiet", "--json", "--partitions", str(parts), text],
                               capture_output=True, text=True)
            if r.returncode != 0:
                return f"error: {r.stderr.strip()[:80]}"
            return list(json.loads(r.stdout)[0].values())[0]
        s, v = best(df)
        rows.append((q[0], "DataFusion " + q[1], parts, s, v))
        con = duckdb.connect()
        con.execute(f"SET threads = {parts}")
        if q[1] != "losskit UDAF":
            s, v = best(lambda: con.execute(sql(q, data, "duckdb")).fetchone()[0])
            rows.append((q[0], "DuckDB " + q[1], parts, s, v))
        loads.append(load())

r = subprocess.run([args.torch_python, here / "torch_bench.py", data], capture_output=True, text=True, check=True)
for line in r.stdout.splitlines():
    j = json.loads(line)
    rows.append((j["loss"], f"PyTorch {j['torch']} (arrays in memory; load {j['load_seconds']:.1f} s)", j["threads"], j["seconds"], j["value"]))
loads.append(load())

n = {"huber": int(args.rows), "bce_with_logits": int(args.rows), "cross_entropy": int(args.ce_rows)}
print(f"load average (1 min) during the run: {', '.join(loads)}; duckdb {duckdb.__version__}\n")
print("| loss | rows | engine, form | threads | seconds | M rows/s | value |")
print("|---|---:|---|---:|---:|---:|---|")
order = {"huber": 0, "bce_with_logits": 1, "cross_entropy": 2}
for loss, form, parts, s, v in sorted(rows, key=lambda r: (order[r[0]], r[2])):
    vs = f"{v:.10g}" if isinstance(v, float) else str(v)
    print(f"| {loss} | {n[loss]:.0e} | {form} | {parts} | {s:.2f} | {n[loss] / s / 1e6:.0f} | {vs} |")
