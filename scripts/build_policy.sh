#!/usr/bin/env bash
# Fit the default ensemble policy on authorship columns and benchmark it on sources kept out of training.
#   bash scripts/build_policy.sh       # writes models/policy.json (compiled in as builtin:default)
# Data: bench-data/authorship/{train,dev,test}.jsonl, written by svalbard_train.fast.train (which also trains the
# `fast` model these columns come from; whole sources are the unit of every split, svalbard_train.data.authorship).
# Benchmarks go to bench-data/bench-{dev,test}/ (report.md, report.json, PNG plots).
set -euo pipefail
cd "$(dirname "$0")/.."
d=bench-data/authorship
if [[ ! -f $d/test.jsonl ]]; then
  py=$(bash scripts/setup_python.sh train)
  nice -n 5 "$py" -m svalbard_train.fast.train --out $d
fi
bash scripts/setup_ort.sh
cargo build --release --locked 2>&1 | tail -n 1
bin=target/release/svalbard
# `fast` was trained on the training documents: the ensemble is fitted on its scores from models that never saw
# the document's source (out of fold, by source), and the threshold is chosen on those scores of every training
# human source, so that it holds on sources the model never saw (each within the target, --reference-group-field).
oof=(--train-column fast_p_machine=fast_p_machine_oof --train-column fast_p_machine_short=fast_p_machine_short_oof)
"$bin" calibrate --train $d/train.jsonl "${oof[@]}" --holdout $d/dev.jsonl \
  --reference $d/train.jsonl --reference-column fast_p_machine=fast_p_machine_oof \
  --reference-column fast_p_machine_short=fast_p_machine_short_oof --reference-group-field source --fpr-confidence 0 \
  --balance-field group --loso-field source --combiner "${COMBINER:-boosted}" \
  --description "fitted by scripts/build_policy.sh on authorship columns" --out models/policy.json > bench-data/calibrate.json
cargo build --release --locked 2>&1 | tail -n 1   # the built-in policy changed
for set in dev test; do
  "$bin" bench --data $d/$set.jsonl --group-by source,family,writer --out "bench-data/bench-$set" > /dev/null
  echo "bench-data/bench-$set/report.md"
done
