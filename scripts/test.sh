#!/usr/bin/env bash
# The test suite, as README.md gives it and .ci/run calls it: installs the ONNX Runtime library if needed
# (from PyPI), then runs the Rust tests and the Python parity test of the feature hashing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh
cargo test --locked "$@"
if command -v python3 >/dev/null; then
  python3 scripts/test_fast_features.py
  python3 scripts/test_canonical.py
fi
