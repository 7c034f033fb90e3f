#!/usr/bin/env bash
# The test suite, as README.md gives it and .ci/run calls it: installs the ONNX Runtime library if needed
# (from PyPI), then runs the Rust tests, the Python parity tests (feature hashing, canonical view: the training
# package's unittest suite, standard library only, so no venv), the check that the library's top-level modules
# import each other without a cycle, and the Python package's tests (its own venv, .venv-python).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
cargo test --workspace --locked "$@"
# The lean build (cargo features off): a WARC HTML response without the extractor is a quarantine row that says so.
cargo test -p svalbard-io --lib --no-default-features --locked -q
if command -v python3 >/dev/null; then
  PYTHONPATH=training/src python3 -m unittest discover -s training/tests -t training
  python3 scripts/check_module_cycles.py --self-test
  python3 scripts/check_module_cycles.py >/dev/null
fi
# The Python package (python/, crates/python): the release CLI and the wheel (one release build: they share
# target/release), then its tests against the CLI, on Ray Data and datatrove (scripts/setup_python_pkg.sh).
if command -v python3 >/dev/null; then
  cargo build --release --locked --bin svalbard
  py=$(bash scripts/setup_python_pkg.sh)
  "$py" -m pytest -q python/tests
fi
