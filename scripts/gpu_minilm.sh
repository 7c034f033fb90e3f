#!/usr/bin/env bash
# The GPU issue, step 1: fine-tune the transformer detector on a lent GPU machine, in one device call.
# Prepared here first (svalbard_train.minilm.gpu's docstring says why it is split this way):
#   .venv/bin/python -m svalbard_train.minilm.gpu pack --data bench-data/authorship --out .gpu/minilm   # 53 MiB
# then the device tool's run, from the repository root, carrying the pack (the call takes 64 MiB in all):
#   command: bash scripts/gpu_minilm.sh    carry: [".gpu/minilm"]    timeout_s: 480
# and here, with the files that came back (at most 8, each under 16 MiB: 3 weight files, scores, logs):
#   .venv/bin/python -m svalbard_train.minilm.gpu export --pack .gpu/minilm --run RUN --out models/minilm-gpu
# Dry run on the CPU: pack --limit 200 --out /tmp/pack, then
#   OUT=/tmp/run PACK=/tmp/pack DEVICE=cpu BUDGET_S=10 BATCH=16 bash scripts/gpu_minilm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OUT:?OUT is the folder whose files come back (the device tool sets it)}"
pack=${PACK:-.gpu/minilm}
[[ -f $pack/data.npz.xz ]] || { echo "no pack at $pack: run svalbard_train.minilm.gpu pack first and carry it" >&2; exit 2; }
py=${PYTHON:-python3}
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt"
PYTHONUNBUFFERED=1 PYTHONPATH=training/src "$py" -m svalbard_train.minilm.gpu train --pack "$pack" --out "$OUT" \
  --device "${DEVICE:-auto}" --budget-s "${BUDGET_S:-240}" --batch "${BATCH:-64}" 2>&1 | tee "$OUT/log.txt"
