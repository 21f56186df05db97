#!/usr/bin/env bash
# Every test, Rust and Python: the README's test command, and what CI (.ci/run) runs.
#
# The Python tests run in a project-local virtual environment, .venv, made on the first run
# from crates/losskit-python/requirements-test.txt (and remade when that file changes); the
# package is built from this checkout and installed into it, as a user would:
# `pip install ./crates/losskit-python`.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo test --workspace --all-features
# The kernels dispatch on the CPU's SIMD level; every level must pass the reference and
# property tests too (the run above used the widest level this machine has).
for level in baseline avx2; do
  LOSSKIT_SIMD=$level cargo test -p losskit --all-features --test reference --test properties
done

venv=.venv
req=crates/losskit-python/requirements-test.txt
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements-test.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  # No pip cache: torch and its CUDA libraries would keep a second ~3 GB copy there.
  "$venv/bin/python" -m pip install --quiet --no-cache-dir -r "$req"
  cp "$req" "$venv/requirements-test.txt"
fi
# The build backend (maturin, from the requirements) runs from the environment's bin folder.
PATH="$PWD/$venv/bin:$PATH" "$venv/bin/python" -m pip install --quiet --no-build-isolation \
  --force-reinstall --no-deps ./crates/losskit-python
"$venv/bin/ruff" check crates/losskit-python tools/bench/compare_python.py tools/bench/compare_boosting.py \
  tools/bench/focal_imbalance.py
# From outside the source tree, so `import losskit` is the installed package.
(cd crates/losskit-python/tests && "../../../$venv/bin/python" -m pytest -q -p no:cacheprovider .)
