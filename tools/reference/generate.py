"""Regenerates the reference JSON of every family, or of the families named.

    python tools/reference/generate.py                          # all
    python tools/reference/generate.py regression               # one family
    python tools/reference/generate.py regression --only msle   # one loss's cases

With `--only LOSS` (repeatable) only that loss's cases are computed; every other case of the
family is copied byte for byte from the committed JSON (see `common.ONLY` for why a full
re-run on another machine moves some last bits), so adding a loss leaves the others stable.
"""

import argparse
import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent
NOT_GENERATORS = {"common.py", "generate.py"}

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("families", nargs="*", help="generator names (default: all)")
parser.add_argument("--only", action="append", default=[], metavar="LOSS",
                    help="compute only this loss's cases; copy the others from the JSON")
args = parser.parse_args()
if args.only and not args.families:
    parser.error("--only needs the family: generate.py FAMILY --only LOSS")

sys.path.insert(0, str(HERE))
import common  # after the path is set, as the generators import it

common.ONLY.update(args.only)
names = args.families or sorted(p.stem for p in HERE.glob("*.py") if p.name not in NOT_GENERATORS)
for name in names:
    runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
