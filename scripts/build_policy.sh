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
source scripts/lib/policy_fits.sh
calibrate_default --holdout $d/dev.jsonl --loso-field source \
  --description "fitted by scripts/build_policy.sh on authorship columns" --out models/policy.json > bench-data/calibrate.json
cargo build --release --locked 2>&1 | tail -n 1   # the built-in policy changed
for set in dev test; do
  "$bin" bench --data $d/$set.jsonl --group-by source,family,writer --out "bench-data/bench-$set" > /dev/null
  echo "bench-data/bench-$set/report.md"
done
