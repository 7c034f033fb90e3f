#!/usr/bin/env bash
# Fit the ensemble policy and benchmark it (README "Ensemble" tables).
#   bash scripts/build_policy.sh                 # default signals (heuristics + fast): writes models/policy.json
#   bash scripts/build_policy.sh --minilm        # + the minilm and minilm_short classifiers as the cascade's
#                                                #   expensive stage (needs scripts/build_minilm.sh): writes
#                                                #   models/policy-minilm.json
#   bash scripts/build_policy.sh --minilm-short  # + minilm_short alone as the expensive stage (needs only
#                                                #   scripts/train_minilm_short.py): models/policy-minilm-short.json
# Data: ../shared/data (or $SVALBARD_DATA), split by scripts/policy_data.py into bench-data/policy/.
# Benchmarks go to bench-data/bench-<name>-{dev,web_test,books_test}/ (report.md, report.json, PNG plots).
set -euo pipefail
cd "$(dirname "$0")/.."
name=default; config=(); out=models/policy.json; models=()
case "${1:-}" in
  "") ;;
  --minilm) name=minilm; models=(models/minilm models/minilm_short) ;;
  --minilm-short) name=minilm-short; models=(models/minilm_short) ;;
  *) echo "usage: bash scripts/build_policy.sh [--minilm | --minilm-short]" >&2; exit 2 ;;
esac
if [[ "$name" != default ]]; then
  for m in "${models[@]}"; do
    [[ -f $m/model.onnx ]] || { echo "$m/model.onnx is missing: run scripts/build_minilm.sh" >&2; exit 6; }
  done
  [[ -x .venv-minilm/bin/python ]] || { echo ".venv-minilm is missing: run scripts/build_minilm.sh" >&2; exit 6; }
  out=models/policy-$name.json
  mkdir -p bench-data/policy
  {
    printf '[[signals.classifiers]]\nmodel = "builtin:fast"\n'
    for m in "${models[@]}"; do printf '[[signals.classifiers]]\nmodel = "%s"\n' "$m"; done
    printf '[ensemble]\npolicy = "%s"\n' "$out"
  } > "bench-data/policy/$name.toml"
  config=(-c "bench-data/policy/$name.toml")
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
elif [[ "$name" == minilm-short ]]; then
  # minilm_short's column is out-of-fold on the texts it trained on and its own score on the others (which it
  # never saw): honest on every row, so the full stage fits on all of them.
  .venv-minilm/bin/python scripts/mark_minilm_unseen.py --short-only $d/train.jsonl $d/train-minilm-short.jsonl
  train=(--train $d/train-minilm-short.jsonl --train-column minilm_short_p_machine=minilm_short_p_machine_oof)
fi
"$bin" calibrate "${config[@]}" "${train[@]}" --train-column fast_p_machine=fast_p_machine_oof \
  --train-column fast_p_machine_short=fast_p_machine_short_oof --holdout $d/holdout.jsonl --reference $d/web_calib.jsonl \
  --balance-field group --loso-field group --description "fitted by scripts/build_policy.sh ($name)" --out "$out" > "bench-data/calibrate-$name.json"
if [[ "$name" == default ]]; then cargo build --release --locked 2>&1 | tail -n 1; fi  # the built-in policy changed
for set in dev web_test books_test; do
  "$bin" bench "${config[@]}" --data $d/$set.jsonl --group-by source,generator --out "bench-data/bench-$name-$set" > /dev/null
  echo "bench-data/bench-$name-$set/report.md"
done
if [[ "$name" != default ]]; then
  # The cascade's saving and cost: the same dev run with every signal on every document.
  sed 's/^\[ensemble\]$/[ensemble]\ncascade = false/' "bench-data/policy/$name.toml" > "bench-data/policy/$name-all.toml"
  "$bin" bench -c "bench-data/policy/$name-all.toml" --data $d/dev.jsonl --group-by source --out "bench-data/bench-$name-dev-all" > /dev/null
  echo "bench-data/bench-$name-dev-all/report.md (cascade = false)"
fi
