#!/usr/bin/env bash
# The Python package (python/, native module crates/python): a git-ignored venv, .venv-python, holding the build
# and test tools and the engines the tests run on (pinned, from PyPI), and the package itself, installed with
# `pip install ./python` (maturin's release build in the workspace's target/, which it shares with the CLI's
# `cargo build --release`). Prints the venv's python. When every pin is installed already, pip is not asked for
# them again; the package is rebuilt each time (cargo rebuilds nothing when nothing changed).
#   py=$(bash scripts/setup_python_pkg.sh)            # then: $py -m pytest python/tests
#   SVALBARD_ENGINES=0 bash scripts/setup_python_pkg.sh   # without Ray and datatrove (their tests then skip)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-python
py=$venv/bin/python
pins=(maturin==1.16.0 pytest==9.2.0 pyarrow==26.0.1)
if [ "${SVALBARD_ENGINES:-1}" != 0 ]; then
  # datatrove imports `regex` (its filters) and `orjson` (its JSONL reader) without requiring them.
  pins+=("ray[data]==2.60.0" datatrove==0.10.1 regex==2026.12.2 orjson==3.13.0)
fi
if [ ! -x "$py" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$py" -m pip install -q --upgrade pip >&2
fi
check='
import importlib.metadata as md, sys
for pin in sys.argv[1:]:
    name, _, version = pin.partition("==")
    assert md.version(name.split("[")[0]) == version, pin
'
if ! "$py" -c "$check" "${pins[@]}" 2>/dev/null; then
  "$py" -m pip install -q "${pins[@]}" >&2
fi
# Built with the venv's pinned maturin (its pip hook runs `maturin` from PATH) rather than a fresh one per build.
PATH="$PWD/$venv/bin:$PATH" "$py" -m pip install -q --no-build-isolation --force-reinstall --no-deps ./python >&2
echo "$PWD/$py"
