#!/usr/bin/env bash
# The test suite, as README.md gives it and .ci/run calls it: installs the ONNX Runtime library if needed
# (from PyPI), then runs the Rust tests, the Python parity tests (feature hashing, canonical view: the training
# package's unittest suite, standard library only, so no venv) and the check that the library's top-level modules
# import each other without a cycle.
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
