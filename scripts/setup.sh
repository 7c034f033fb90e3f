#!/usr/bin/env bash
# Set up svalbard on a fresh machine: build the release binary and install the ONNX Runtime shared library
# (from the PyPI wheel, never from a model hub) into .svalbard/ (git-ignored).
#   bash scripts/setup.sh          # CPU
#   bash scripts/setup.sh --gpu    # onnxruntime-gpu (CUDA 13 / TensorRT 10 providers)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ort.sh "$@"
cargo build --release --locked 2>&1 | tail -n 2
echo "svalbard: built target/release/svalbard"
