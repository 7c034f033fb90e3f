#!/usr/bin/env bash
# Fit the ensemble policy and benchmark it (README "Ensemble" tables).
#   bash scripts/build_policy.sh            # default signals (heuristics + fast): writes models/policy.json
#   bash scripts/build_policy.sh --minilm   # + the minilm and minilm_short classifiers as the cascade's expensive
#                                           #   stage (needs scripts/build_minilm.sh): writes models/policy-minilm.json
# Data: ../shared/data (or $SVALBARD_DATA), split by scripts/policy_data.py into bench-data/policy/.
# Benchmarks go to bench-data/bench-<name>-{dev,web_test,books_test}/ (report.md, report.json, PNG plots).
set -euo pipefail
cd "$(dirname "$0")/.."
name=default; config=(); out=models/policy.json
if [[ "${1:-}" == "--minilm" ]]; then
  [[ -f models/minilm/model.onnx && -f models/minilm_short/model.onnx && -x .venv-minilm/bin/python ]] ||
    { echo "models/minilm/model.onnx, models/minilm_short/model.onnx or .venv-minilm is missing: run scripts/build_minilm.sh" >&2; exit 6; }
  name=minilm; out=models/policy-minilm.json
  mkdir -p bench-data/policy
  cat > bench-data/policy/minilm.toml <<TOML
[[signals.classifiers]]
model = "builtin:fast"
[[signals.classifiers]]
model = "models/minilm"
[[signals.classifiers]]
model = "models/minilm_short"
[ensemble]
policy = "$out"
TOML
  config=(-c bench-data/policy/minilm.toml)
fi
bash scripts/setup_ort.sh
cargo build --release --locked 2>&1 | tail -n 1
bin=target/release/svalbard
d=bench-data/policy
[[ -f $d/train.jsonl ]] || python3 scripts/policy_data.py $d
# `fast` was trained on the training documents: fit on its out-of-fold scores (scripts/oof_fast.py, one field
# per head of the model), not on its own, in-sample ones.
if ! head -n 1 $d/train.jsonl | grep -q fast_p_machine_short_oof; then
  [[ -x .venv-train/bin/python ]] || { python3 -m venv .venv-train && .venv-train/bin/pip install -q numpy scipy scikit-learn; }
  nice -n 5 .venv-train/bin/python scripts/oof_fast.py $d
fi
train=(--train $d/train.jsonl)
if [[ "$name" == minilm ]]; then
  # minilm trained on part of these documents: fit the full stage on the others; minilm_short's column there is
  # its out-of-fold score (scripts/mark_minilm_unseen.py writes both fields).
  .venv-minilm/bin/python scripts/mark_minilm_unseen.py $d/train.jsonl $d/train-minilm.jsonl
  train=(--train $d/train-minilm.jsonl --full-fit-field minilm_unseen
         --train-column minilm_short_p_machine=minilm_short_p_machine_oof)
fi
"$bin" calibrate "${config[@]}" "${train[@]}" --train-column fast_p_machine=fast_p_machine_oof \
  --train-column fast_p_machine_short=fast_p_machine_short_oof --holdout $d/holdout.jsonl --reference $d/web_calib.jsonl \
  --balance-field group --loso-field group --description "fitted by scripts/build_policy.sh ($name)" --out "$out" > "bench-data/calibrate-$name.json"
if [[ "$name" == default ]]; then cargo build --release --locked 2>&1 | tail -n 1; fi  # the built-in policy changed
for set in dev web_test books_test; do
  "$bin" bench "${config[@]}" --data $d/$set.jsonl --group-by source,generator --out "bench-data/bench-$name-$set" > /dev/null
  echo "bench-data/bench-$name-$set/report.md"
done
if [[ "$name" == minilm ]]; then
  # The cascade's saving and cost: the same dev run with every signal on every document.
  sed 's/^\[ensemble\]$/[ensemble]\ncascade = false/' bench-data/policy/minilm.toml > bench-data/policy/minilm-all.toml
  "$bin" bench -c bench-data/policy/minilm-all.toml --data $d/dev.jsonl --group-by source --out bench-data/bench-minilm-dev-all > /dev/null
  echo "bench-data/bench-minilm-dev-all/report.md (cascade = false)"
fi
