#!/usr/bin/env bash
# Fit a two-stage policy (cheap stage: the default detectors; full stage: the same and the neural LM) and judge it
# against the default policy on sources kept out of training (docs/results/2026-12-06-cascade.md).
#   bash scripts/build_cascade_policy.sh      # writes models/policy-thorough.json and bench-data/cascade/report.json
# Needs bench-data/authorship (svalbard_train.fast.train; run here when missing) and models/smollm2/model.onnx
# (scripts/build_smollm.sh; built here when missing). The LM costs about a CPU-second a document, so it scores
# stratified samples of the splits (svalbard_train.smollm.cascade), in parts: a killed run, re-run, redoes only
# the unfinished part of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
d=bench-data/cascade
py=$(bash scripts/setup_python.sh train arrow)
if [[ ! -f bench-data/authorship/test.jsonl ]]; then
  nice -n 5 "$py" -m svalbard_train.fast.train --out bench-data/authorship --no-logo
fi
[[ -f models/smollm2/model.onnx ]] || bash scripts/build_smollm.sh
[[ -d $d/test ]] || "$py" -m svalbard_train.smollm.cascade sample --out $d
# 300 human documents per training source: each source's 1% budget is then 3 documents, not 0.
[[ -d $d/train-more ]] || "$py" -m svalbard_train.smollm.cascade more --human-cap 300 --out $d
bash scripts/setup_ort.sh
cargo build --release --locked 2>&1 | tail -n 1
bin=target/release/svalbard
source scripts/lib/policy_fits.sh
score() { # INPUT_FOLDER OUTPUT_FOLDER [CONFIG]: every document, every signal; Parquet; resumes a killed run
  "$bin" filter "$1"/*.jsonl -o "$2" ${3:+-c "$3"} --score-all --format parquet -q
}
# 1. The LM's columns of the fitting samples, once.
score $d/train $d/lm-train scripts/lm-only.toml
score $d/train-more $d/lm-train-more scripts/lm-only.toml
score $d/dev $d/lm-dev scripts/lm-only.toml
# 2. The policy (scripts/lib/policy_fits.sh says how and why): fitted as scripts/build_policy.sh fits the default
# one, with the LM's columns from step 1, each reference human scored by the stage refitted without its source.
calibrate_thorough --holdout $(parts $d/lm-dev) "${lm_columns[@]/#/--holdout-column=}" --loso-field source \
  --description "the thorough profile, fitted by scripts/build_cascade_policy.sh: the full stage reads the neural LM" \
  --out models/policy-thorough.json > $d/calibrate.json
# 3. Held out: the test sample (and dev) under the default and the thorough profile, every document scored. The
# policy was just refitted, and the default one may have been since the last run: the outputs of earlier
# policies are not resumed but redone.
rm -rf $d/thorough-dev $d/thorough-test $d/default-dev $d/default-test
for split in dev test; do
  score $d/$split $d/default-$split
  score $d/$split $d/thorough-$split svalbard.thorough.toml
done
"$py" -m svalbard_train.smollm.cascade report default-dev=$d/default-dev thorough-dev=$d/thorough-dev \
  default-test=$d/default-test thorough-test=$d/thorough-test --out $d/report.json > /dev/null
echo "$d/report.json"
