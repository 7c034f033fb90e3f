#!/usr/bin/env bash
# Throughput and memory benchmark (results go to benches/RESULTS.md by hand, with the date and machine).
#   bash scripts/bench.sh            # 500 MB corpus, 3 repetitions
# 1. generates bench-data/corpus.{jsonl,parquet} (500 MB, svalbard_train.bench.corpus in .venv with pyarrow:
#    scripts/setup_python.sh arrow; offline and without it, python3 stops at the Parquet file as before) and
#    bench-data/cc/corpus.jsonl (the same size, --mix cc: Common Crawl-like, most pages fail a quality rule)
# 2. cargo bench --bench throughput: parse-only baseline vs filter, JSONL and Parquet, 1 and 2 threads
# 3. peak RSS of `svalbard filter` on a 2 GB JSONL input (the corpus four times), via /usr/bin/time -v
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f bench-data/corpus.jsonl ]; then
  PY=${PYTHON:-}
  [ -n "$PY" ] || PY=$(bash scripts/setup_python.sh arrow) || PY=python3
  PYTHONPATH=$PWD/training/src${PYTHONPATH:+:$PYTHONPATH} "$PY" -m svalbard_train.bench.corpus --out bench-data \
    --size-mb "${SIZE_MB:-500}" --parquet
fi
if [ ! -f bench-data/cc/corpus.jsonl ]; then
  PYTHONPATH=$PWD/training/src${PYTHONPATH:+:$PYTHONPATH} ${PYTHON:-python3} -m svalbard_train.bench.corpus \
    --out bench-data/cc --size-mb "${SIZE_MB:-500}" --mix cc
fi
bash scripts/setup_ort.sh >/dev/null
SVALBARD_BENCH_REPS=${REPS:-3} cargo bench --bench throughput
cargo build --release --locked 2>/dev/null
big=bench-data/corpus-2g.jsonl
if [ ! -f "$big" ]; then
  for _ in 1 2 3 4; do cat bench-data/corpus.jsonl; done > "$big"
fi
echo "peak memory, 2 GB input ($(du -h "$big" | cut -f1)), heuristics + fast classifier, 2 threads:"
/usr/bin/time -v ./target/release/svalbard filter "$big" --output /tmp/svalbard-bench-2g --overwrite -q -j 2 2>&1 \
  | grep -E "svalbard:|Maximum resident|Elapsed"
rm -rf /tmp/svalbard-bench-2g
