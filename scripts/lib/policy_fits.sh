# The `svalbard calibrate` runs of the two shipped policies, sourced by the scripts that fit them
# (build_policy.sh, build_cascade_policy.sh) and by the one that judges them leaving each generator family out
# (family_lofo.sh). Each function takes the holdout and any further calibrate arguments (--loso-field,
# --description, --out); run from the repository root with $bin set to the svalbard binary.

authorship=bench-data/authorship
cascade=bench-data/cascade
# `fast` was trained on the training documents: a policy is fitted on its scores from models that never saw the
# document's source (out of fold, by source), and its threshold chosen on those scores of every training human
# source, so that it holds on sources the model never saw (each within the target, --reference-group-field).
oof_columns=(fast_p_machine=fast_p_machine_oof fast_p_machine_short=fast_p_machine_short_oof)
lm_columns=(neural_lm_perplexity=neural_lm_perplexity neural_lm_burstiness=neural_lm_burstiness
            neural_lm_curvature=neural_lm_curvature)

# Human answers written for question-answer and instruction datasets (hc3, dolly15k, MedQuAD) read like a chat
# model's answers: guarded, one of them alone would set a threshold that lets most machine text through. Both
# policies measure and report them at the threshold (--reference-group-report-only) instead: svalbard filters
# web text, and every held-out web source holds the threshold either way (docs/results/2026-12-07-combiner.md).
qa_answer_sources=hc3-plus-si-en,dolly15k_partial,medquad

# The Parquet partitions of engine output folders.
parts() { for f in "$@"; do ls "$f"/clean/*.parquet "$f"/rejected/*.parquet 2>/dev/null || true; done; }

# The default policy (models/policy.json): a logistic regression over the default detectors' columns. It ranks
# sources kept out of training better than boosted trees do (each dev source left out, the test split) and moves
# smoothly with its columns, where a tree's step turns a small change in `fast` into a large one in p_machine.
calibrate_default() {
  "$bin" calibrate --train $authorship/train.jsonl "${oof_columns[@]/#/--train-column=}" \
    --reference $authorship/train.jsonl "${oof_columns[@]/#/--reference-column=}" --reference-group-field source \
    --reference-group-report-only $qa_answer_sources --fpr-confidence 0 --balance-field group \
    --combiner "${COMBINER:-logistic}" "$@"
}

# The thorough profile's two-stage policy (models/policy-thorough.json): the default detectors, then the neural
# LM for documents in the band, on the LM-scored samples of the training split (build_cascade_policy.sh, step
# 1). Each source's reference humans are scored by the stage refitted without that source
# (--cross-fit-reference), since the reference rows are the training rows. Logistic stages: they beat boosted
# trees on leave-one-source-out AUROC here. The threshold is held on every training human source but the QA
# answers above.
calibrate_thorough() {
  local train
  train=$(parts $cascade/lm-train $cascade/lm-train-more)
  "$bin" calibrate -c svalbard.thorough.toml --train $train "${lm_columns[@]/#/--train-column=}" \
    "${oof_columns[@]/#/--train-column=}" --reference $train "${lm_columns[@]/#/--reference-column=}" \
    "${oof_columns[@]/#/--reference-column=}" --reference-group-field source --cross-fit-reference \
    --fpr-confidence 0 --balance-field group --reference-group-report-only $qa_answer_sources \
    --combiner "${COMBINER:-logistic}" "$@"
}
