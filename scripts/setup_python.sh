#!/usr/bin/env bash
# The Python environment for training and evaluation: one git-ignored venv, .venv, with the training package
# (training/, import name svalbard_train) installed editable with the extras asked for, then prints the venv's
# python. Extras (training/pyproject.toml): train, arrow, lm, minilm, peers; none installs the standard-library
# core alone. Idempotent: when the package and every requirement of the extras are installed already, pip is not
# called, so a rerun is instant.
#   bash scripts/setup_python.sh train            # then: .venv/bin/python -m svalbard_train.fast.train
#   py=$(bash scripts/setup_python.sh arrow lm)   # stdout is the python path alone; pip talks on stderr
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
py=$venv/bin/python
# Exit 0 when svalbard_train is installed from this checkout and each requirement of the extras is present
# (at its pinned version, for the pinned ones); 2 for an extra pyproject.toml does not define.
check='
import importlib.metadata as md, os, sys, tomllib
extras = sys.argv[1:]
known = tomllib.load(open("training/pyproject.toml", "rb"))["project"]["optional-dependencies"]
unknown = [e for e in extras if e not in known]
if unknown:
    print(f"svalbard: unknown extra {unknown[0]!r}; training/pyproject.toml defines {sorted(known)}", file=sys.stderr)
    sys.exit(2)
import svalbard_train
here = os.path.dirname(os.path.abspath(svalbard_train.__file__))
assert os.path.samefile(here, "training/src/svalbard_train"), here
for req in (r for e in extras for r in known[e]):
    name, _, pin = req.partition("==")
    assert md.version(name) == pin if pin else md.version(name), req
'
if [ ! -x "$py" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
  "$py" -m pip install -q --upgrade pip >&2
fi
status=0
"$py" -c "$check" "$@" 2>/dev/null || status=$?
if [ "$status" = 2 ]; then
  "$py" -c "$check" "$@"   # says which extra is unknown, and exits 2
fi
if [ "$status" != 0 ]; then
  spec=training
  if [ $# -gt 0 ]; then
    spec="training[$(IFS=,; echo "$*")]"
  fi
  "$py" -m pip install -q -e "$spec" >&2
fi
echo "$PWD/$py"
