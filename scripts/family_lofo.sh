#!/usr/bin/env bash
# Leave one generator family out, for each shipped policy as a whole: the policy's combiner refitted without the
# family's training rows (calibrate --loso-field family), and the family's held-out texts scored by a `fast`
# refitted without the family (svalbard_train.fast.logo_columns), beside the same table with the shipped `fast`'s
# scores on those texts (which saw the family's other texts in training). The default policy is judged on the
# authorship dev split, the thorough profile on its LM-scored dev sample; each family's texts against the humans
# of that set (docs/results/2026-12-06-cascade.md, "Fourth run").
#   bash scripts/family_lofo.sh        # writes bench-data/lofo/*.json and prints the table
# Needs bench-data/authorship (svalbard_train.fast.train) and, for the thorough profile, bench-data/cascade/lm-*
# (scripts/build_cascade_policy.sh; skipped when missing). The seven refits of `fast` (a minute or two each) are
# saved under bench-data/authorship, and the engine run resumes, so a killed run picks up where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
py=$(bash scripts/setup_python.sh train arrow)
[[ -f bench-data/authorship/heads.npz ]] || nice -n 5 "$py" -m svalbard_train.fast.train --out bench-data/authorship --no-logo
bash scripts/setup_ort.sh
cargo build --release --locked 2>&1 | tail -n 1
bin=target/release/svalbard
source scripts/lib/policy_fits.sh
out=bench-data/lofo
mkdir -p $out
logo=(fast_p_machine=fast_p_machine_logo fast_p_machine_short=fast_p_machine_short_logo)
"$bin" filter $authorship/dev.jsonl -o $out/dev-scored --score-all --format parquet -q
"$py" -m svalbard_train.fast.logo_columns $out/dev-scored $out/dev-logo --out $authorship
calibrate_default --holdout $(parts $out/dev-logo) --loso-field family --out $out/default-shipped-fast.policy.json \
  > $out/default-shipped-fast.json
calibrate_default --holdout $(parts $out/dev-logo) "${logo[@]/#/--holdout-column=}" --loso-field family \
  --out $out/default-fast-out-of-family.policy.json > $out/default-fast-out-of-family.json
if [[ -d $cascade/lm-dev && -d $cascade/lm-train-more ]]; then
  "$py" -m svalbard_train.fast.logo_columns $cascade/lm-dev $out/lm-dev-logo --out $authorship
  holdout=($(parts $out/lm-dev-logo) "${lm_columns[@]/#/--holdout-column=}")
  calibrate_thorough --holdout "${holdout[@]}" --loso-field family --out $out/thorough-shipped-fast.policy.json \
    > $out/thorough-shipped-fast.json
  calibrate_thorough --holdout "${holdout[@]}" "${logo[@]/#/--holdout-column=}" --loso-field family \
    --out $out/thorough-fast-out-of-family.policy.json > $out/thorough-fast-out-of-family.json
fi
"$py" - $out/{default,thorough}-{shipped-fast,fast-out-of-family}.json <<'PY'
import json, os, sys
tables = {os.path.basename(p)[:-5]: json.load(open(p))["leave_one_group_out"]["groups"]
          for p in sys.argv[1:] if os.path.exists(p)}
families = sorted({f for t in tables.values() for f in t})
print("| family | " + " | ".join(tables) + " |")
print("|---|" + "---:|" * len(tables))
for f in families:
    print(f"| {f} | " + " | ".join(f"{t[f]['auroc']:.3f}" if f in t else "" for t in tables.values()) + " |")
PY
