#!/usr/bin/env bash
# Fuzz the input readers with libFuzzer (cargo-fuzz on the nightly toolchain) for a bounded time per target.
# Every target reads arbitrary bytes as an input file and must never panic or hang; the JSONL target also
# checks that every line ends as a document, a quarantined record or a blank line.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]    (targets: jsonl_reader warc_reader parquet_reader)
# Seeds are in fuzz/corpus/<target>/ (committed, small); what a run discovers goes to a scratch folder, and a
# crashing input to fuzz/artifacts/<target>/ (the script then exits non-zero).
# FUZZ_SANITIZER=none (default) runs on the stable toolchain (coverage-guided, no sanitizer: the code under test
# is safe Rust but for the mmap and signal handling); FUZZ_SANITIZER=address needs the nightly toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(jsonl_reader warc_reader parquet_reader)
sanitizer=${FUZZ_SANITIZER:-none}
toolchain=()
if [ "$sanitizer" != none ]; then
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz: FUZZ_SANITIZER=$sanitizer needs the nightly toolchain, which this machine lacks" >&2
    exit 2
  fi
  toolchain=(+nightly)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io"
  cargo install cargo-fuzz --locked
fi
build_log=$(mktemp)
if ! cargo "${toolchain[@]}" fuzz build --sanitizer "$sanitizer" >"$build_log" 2>&1; then
  # cargo-fuzz ends a failed build with its own backtrace; the cause is in cargo's error lines above it.
  echo "fuzz: the fuzz targets did not build; cargo's errors:" >&2
  grep -E -m 40 -A 6 "^error|panicked|No space left" "$build_log" >&2 || tail -n 60 "$build_log" >&2
  df -h . >&2
  exit 1
fi
tail -n 1 "$build_log"
rm -f "$build_log"
status=0
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  mkdir -p "fuzz/corpus/$t"
  echo "fuzz: $t for ${secs}s"
  run_log=$(mktemp)
  if ! cargo "${toolchain[@]}" fuzz run --sanitizer "$sanitizer" "$t" "$scratch" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$run_log" 2>&1; then
    status=1
    echo "fuzz: $t failed; the panic or libFuzzer's report:" >&2
    grep -E -m 20 -A 4 "panicked|ERROR: libFuzzer|Test unit written|out-of-memory|timeout" "$run_log" >&2 || true
  fi
  tail -n 12 "$run_log"
  rm -rf "$scratch" "$run_log"
done
exit $status
