#!/usr/bin/env bash
# Same-run comparison of two svalbard binaries (before/after a change): `filter` MB/s, alternating runs, then
# whether their outputs are identical. Machines here are noisy: only the ratio within one run means much.
#
#   cp target/release/svalbard /tmp/svalbard-before     # build the baseline first, then the change
#   bash scripts/ab_bench.sh /tmp/svalbard-before target/release/svalbard [CORPUS]
#
# CORPUS defaults to bench-data/small/corpus.jsonl (.venv/bin/python -m svalbard_train.bench.corpus --out
# bench-data/small --size-mb 100). Cases: heuristics alone, the default run (heuristics + fast + ensemble), the
# fast classifier alone (CASES="heuristics default fast-alone"); 1 and 2 threads; REPS (5) runs of each binary;
# the median MB/s of each and the ratio after/before. The outputs of each case are then written as Parquet by
# both binaries and compared column by column (svalbard_train.bench.compare_outputs, in .venv with pyarrow:
# scripts/setup_python.sh arrow); the exit status is 1 when they differ.
# SCORE_ALL=after (or both) sets `[signals] score_all = true` for the after binary (or both): against a baseline
# built before early exit, whose every run scored every document, that is the configuration whose outputs
# must be identical.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,16p' "$0"; exit 2; }
before=$1 after=$2 corpus=${3:-bench-data/small/corpus.jsonl}
reps=${REPS:-5}
# .venv with pyarrow (setup_python.sh installs it once); without it (offline), python3 times the runs and the
# outputs are not compared. PYTHONPATH lets a $PYTHON of your own import the training package.
PY=${PYTHON:-}
[ -n "$PY" ] || PY=$(bash scripts/setup_python.sh arrow) || PY=python3
export PYTHONPATH=$PWD/training/src${PYTHONPATH:+:$PYTHONPATH}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '[signals]\nclassifiers = []\n' > "$work/heuristics.toml"
{ cat scripts/heuristics-off.toml; printf '[ensemble]\nenabled = false\n'; } > "$work/fast-alone.toml"
: > "$work/default.toml"
cases=${CASES:-heuristics default fast-alone}
for case in $cases; do
  for which in before after; do
    cfg="$work/$case-$which.toml"
    if [ "${SCORE_ALL:-}" = both ] || [ "${SCORE_ALL:-}" = "$which" ]; then
      # Under the case's [signals] table when it has one, else a table of its own at the top.
      if grep -q '^\[signals\]$' "$work/$case.toml"; then
        sed '/^\[signals\]$/a score_all = true' "$work/$case.toml" > "$cfg"
      else
        { printf '[signals]\nscore_all = true\n'; cat "$work/$case.toml"; } > "$cfg"
      fi
    else
      cp "$work/$case.toml" "$cfg"
    fi
  done
done

run() { # binary which case threads out [extra args]
  local bin=$1 which=$2 case=$3 threads=$4 out=$5
  shift 5
  "$bin" filter "$corpus" -o "$out" -c "$work/$case-$which.toml" -j "$threads" -q --overwrite --json "$@" 2>/dev/null
}

for r in $(seq "$reps"); do
  for case in $cases; do
    for threads in 1 2; do
      for which in before after; do
        bin=$before; [ $which = after ] && bin=$after
        mbs=$(run "$bin" "$which" "$case" "$threads" "$work/out" | "$PY" -c \
          'import json,sys; d=json.load(sys.stdin); print(d["totals"]["bytes_in"]/1e6/d["elapsed_s"])')
        echo "$case $threads $which $mbs" >> "$work/runs.txt"
      done
    done
  done
  echo "repetition $r of $reps done" >&2
done
"$PY" - "$work/runs.txt" <<'EOF'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    case, threads, which, mbs = line.split()
    runs[(case, threads, which)].append(float(mbs))
print(f"{'case':<12} {'threads':>7} {'before MB/s':>12} {'after MB/s':>11} {'ratio':>6}  (median of {len(next(iter(runs.values())))})")
for case, threads in dict.fromkeys((c, t) for c, t, _ in runs):
    b, a = (statistics.median(runs[(case, threads, w)]) for w in ("before", "after"))
    print(f"{case:<12} {threads:>7} {b:>12.1f} {a:>11.1f} {a / b:>6.2f}")
EOF

if ! "$PY" -c 'import pyarrow' 2>/dev/null; then
  echo "outputs not compared: $PY has no pyarrow (bash scripts/setup_python.sh arrow, or set PYTHON)"
  exit 0
fi
status=0
for case in $cases; do
  run "$before" before "$case" 2 "$work/$case-before" --format parquet > /dev/null
  run "$after" after "$case" 2 "$work/$case-after" --format parquet > /dev/null
  echo "outputs, $case:"
  "$PY" -m svalbard_train.bench.compare_outputs "$work/$case-before" "$work/$case-after" | tail -1 || status=1
done
exit $status
