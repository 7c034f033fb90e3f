#!/usr/bin/env bash
# Where a `filter` run's time goes: `perf record`'s samples of the whole process (every thread, user and kernel,
# with their call stacks), each sample given to the innermost stage of the pipeline on its stack, so that a
# helper (memchr, the allocator, a read or write in the kernel) counts for the stage that called it. Time, not
# instructions: callgrind counts instructions, and the two disagree where a stage waits on memory
# (benches/RESULTS.md). A run on more than one thread also counts the workers' waiting, under "everything else".
#
#   bash scripts/profile_stages.sh [CORPUS] [CONFIG] [THREADS]
#
# CORPUS defaults to bench-data/cc/corpus.jsonl (the Common Crawl-like corpus: .venv/bin/python -m
# svalbard_train.bench.corpus --out bench-data/cc --size-mb 100 --mix cc), CONFIG to the defaults, THREADS to 1.
# SVALBARD=path/to/binary profiles another build (a release build keeps its symbols: Cargo.toml's profile).
# Needs perf (Debian: linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v perf > /dev/null || { echo "profile_stages: perf is not installed (Debian: apt install linux-perf)" >&2; exit 2; }
corpus=${1:-bench-data/cc/corpus.jsonl}
config=${2:-/dev/null}
threads=${3:-1}
bin=${SVALBARD:-target/release/svalbard}
[ -f "$corpus" ] || { echo "profile_stages: no corpus at $corpus" >&2; exit 2; }
[ -x "$bin" ] || { echo "profile_stages: no binary at $bin (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
perf record -q --call-graph dwarf,8192 -o "$work/perf.data" \
  "$bin" filter "$corpus" -o "$work/out" -c "$config" -j "$threads" -q > /dev/null
echo "profile_stages: $bin filter $corpus -c $config -j $threads"
# --no-inline: the stages' functions are symbols of their own (signals are called through a trait object), and
# resolving inlined frames takes perf minutes.
perf script --no-inline -i "$work/perf.data" -F comm,ip,sym 2> /dev/null | python3 -c '
import re, sys

# The innermost frame that matches a pattern names the stage of a sample.
STAGES = [
    ("`fast`: the sparse linear model", r"sparse_linear"),
    ("`fast`: features (`hash_v1`)", r"svalbard_onnx::encode::"),
    ("canonical view", r"text::canonical::"),
    ("shared analysis of the raw text", r"text::Analysis::run"),
    ("Gopher repetition", r"gopher_repetition::"),
    ("Gopher quality", r"gopher_quality::"),
    ("C4", r"signal::c4::"),
    ("FineWeb", r"signal::fineweb::"),
    ("`vocab`", r"signal::vocab::"),
    ("ensemble", r"svalbard_detect::decide::"),
    ("source (read and parse)", r"svalbard_io::source::|simd_json"),
    ("outputs (Arrow IPC, Parquet)", r"svalbard_io::sink::|arrow_ipc::writer|parquet::arrow::arrow_writer"),
    ("manifest (BLAKE3)", r"blake3|manifest"),
]
samples, total = {}, 0
for block in sys.stdin.read().split("\n\n"):
    lines = [line.split(None, 1) for line in block.strip().split("\n")[1:]]
    frames = [parts[1] for parts in lines if len(parts) == 2]
    if not frames:
        continue
    total += 1
    stage = next((s for f in frames for s, p in STAGES if re.search(p, f)), "everything else (threads, start-up)")
    samples[stage] = samples.get(stage, 0) + 1
if not total:
    sys.exit("profile_stages: perf recorded no samples")
print("\n| stage | samples | share |\n| --- | ---: | ---: |")
for stage, n in sorted(samples.items(), key=lambda kv: -kv[1]):
    print(f"| {stage} | {n:,} | {100 * n / total:.1f}% |")
print(f"| all | {total:,} | 100% |")
'
