"""Regenerates the reference JSON of every family, or of the families named.

    python tools/reference/generate.py              # all
    python tools/reference/generate.py regression   # one
"""

import pathlib
import runpy
import sys

HERE = pathlib.Path(__file__).resolve().parent
NOT_GENERATORS = {"common.py", "generate.py"}

names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("*.py") if p.name not in NOT_GENERATORS)
for name in names:
    runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
