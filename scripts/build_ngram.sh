#!/usr/bin/env bash
# Build the default n-gram model of human text for the ngram_lm signal (26 MB, not committed) into
# .svalbard/models/ngram-human-4.bin, from ../shared/data (or $SVALBARD_SHARED_DATA). Books, NLTK corpora and
# pre-2018 web pages only: never the detect/ sets, which the detectors are evaluated on (a model that saw a
# document finds it predictable, which reads as "machine").
# Then enable it: [signals.ngram_lm] enabled = true, model = ".svalbard/models/ngram-human-4.bin"
set -euo pipefail
cd "$(dirname "$0")/.."
data=${SVALBARD_SHARED_DATA:-../shared/data}
[ -d "$data" ] || { echo "svalbard: $data not found (set SVALBARD_SHARED_DATA)" >&2; exit 1; }
cargo build --release --locked 2>&1 | tail -n 1
./target/release/svalbard lm train \
  "$data/human_gutenberg.jsonl.gz" "$data/human_nltk.jsonl.gz" "$data/web_text/human_web.jsonl.gz" \
  --out .svalbard/models/ngram-human-4.bin --order 4
