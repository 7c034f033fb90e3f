#!/usr/bin/env python3
"""The Python package against the CLI on one JSONL file, in one run, on this machine: wall time of
`svalbard filter -j T`, of the package in one process (`Filter(threads=T)`, pyarrow's JSON reader, Parquet out)
and of Ray Data on a local cluster of T CPUs with T actors of one thread (examples/ray_filter.py's pipeline;
half a CPU reserved per actor, so the read tasks get the rest), alternating, R rounds; the CLI and Ray again on
the same lines cut into --shards files (Ray Data reads one JSON file in one task); the cost
of making a Filter (time, resident memory) in a fresh process; and which actors scored the Ray run (each loads
the models once). Prints one JSON report; docs/results/2026-12-06-python.md gives the numbers.

    .venv-python/bin/python python/bench/compare_cli.py bench-data/small/corpus.jsonl --rounds 3 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load_cost() -> dict:
    """In this (fresh) process: the import, then the Filter's construction, with resident memory after each."""
    before = rss_mb()
    started = time.perf_counter()
    import pyarrow  # noqa: F401  (a Filter needs it; counted apart)

    import svalbard

    imported = time.perf_counter()
    after_import = rss_mb()
    svalbard.Filter(threads=1)
    made = time.perf_counter()
    return {
        "import_s": imported - started,
        "filter_s": made - imported,
        "rss_before_mb": before,
        "rss_after_import_mb": after_import,
        "rss_after_filter_mb": rss_mb(),
    }


def run_cli(binary: str, path: str, out: str, threads: int) -> float:
    started = time.perf_counter()
    cmd = [binary, "filter", path, "--output", out, "--format", "parquet", "-j", str(threads), "-q", "--overwrite"]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True)
    elapsed = time.perf_counter() - started
    shutil.rmtree(out, ignore_errors=True)
    return elapsed


def shard(path: str, folder: Path, n: int) -> str:
    """The same lines in n files, round robin: Ray Data reads a JSON file in one task, so one file is one reader."""
    folder.mkdir(parents=True, exist_ok=True)
    outs = [open(folder / f"part-{i:03d}.jsonl", "wb") for i in range(n)]
    with open(path, "rb") as lines:
        for i, line in enumerate(lines):
            outs[i % n].write(line)
    for o in outs:
        o.close()
    return str(folder)


def run_python(path: str, out: str, threads: int) -> dict:
    """The package in one process: read, score, route, write; the time inside score() apart."""
    code = f"""
import json, os, time
started = time.perf_counter()
import pyarrow as pa, pyarrow.json as pj, pyarrow.parquet as pq, pyarrow.compute as pc
import svalbard
f = svalbard.Filter(threads={threads})
made = time.perf_counter()
reader = pj.open_json({path!r}, read_options=pj.ReadOptions(block_size=32 << 20))
os.makedirs({out!r} + "/clean", exist_ok=True); os.makedirs({out!r} + "/rejected", exist_ok=True)
writers = {{}}
scoring = 0.0
rows = 0
for batch in reader:
    for b in pa.Table.from_batches([batch]).to_batches(max_chunksize=4096):
        t = time.perf_counter(); scored = f.score(b); scoring += time.perf_counter() - t
        rows += scored.num_rows
        clean = pc.equal(scored["verdict"], "clean")
        for part, rows_of in (("clean", scored.filter(clean)), ("rejected", scored.filter(pc.invert(clean)))):
            if part not in writers:
                writers[part] = pq.ParquetWriter({out!r} + "/" + part + "/part-0.parquet", scored.schema, compression="zstd")
            writers[part].write_batch(rows_of)
for w in writers.values():
    w.close()
print(json.dumps({{"wall_s": time.perf_counter() - started, "filter_s": made - started, "score_s": scoring, "rows": rows}}))
"""
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_ray(path: str, out: str, actors: int) -> dict:
    """examples/ray_filter.py's pipeline, timed from `ray.init` to the last file written, with the actor that scored
    each row and what making its Filter cost."""
    code = f"""
import json, os, time
started = time.perf_counter()
import pyarrow as pa, ray, svalbard.ray
ray.init(num_cpus={actors}, include_dashboard=False, log_to_driver=False)
ray.data.DataContext.get_current().target_max_block_size = 16 << 20
inited = time.perf_counter()

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

class TimedUDF(svalbard.ray.FilterUDF):
    def __init__(self, **kw):
        before, t = rss_mb(), time.perf_counter()
        super().__init__(**kw)
        self.tag = json.dumps({{"pid": os.getpid(), "load_s": time.perf_counter() - t, "rss_mb": rss_mb() - before}})
    def __call__(self, batch):
        out = super().__call__(batch)
        return out.append_column("scored_by", pa.array([self.tag] * out.num_rows))

scored = ray.data.read_json({path!r}).map_batches(
    TimedUDF, batch_format="pyarrow", batch_size=4096, concurrency={actors}, num_cpus=0.5,
    fn_constructor_kwargs={{"config": None}}
).materialize()
clean, rejected = svalbard.ray.split_verdicts(scored)
clean.write_parquet({out!r} + "/clean")
rejected.write_parquet({out!r} + "/rejected")
wall = time.perf_counter() - started
tags = {{}}
for r in scored.groupby("scored_by").count().take_all():
    tags[r["scored_by"]] = r["count()"]
ray.shutdown()
print(json.dumps({{"wall_s": wall, "init_s": inited - started, "actors": [dict(json.loads(k), rows=v) for k, v in tags.items()]}}))
"""
    done = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True, text=True)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cli", default=str(REPO / "target" / "release" / "svalbard"))
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--shards", type=int, default=8, help="also run the CLI and Ray on the input cut in this many files")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="svalbard-bench-"))
    report = {"input": args.input, "bytes": os.path.getsize(args.input), "threads": args.threads, "rounds": []}
    loads = []
    for _ in range(args.rounds):
        done = subprocess.run([sys.executable, __file__, "--load-cost"], check=True, capture_output=True, text=True)
        loads.append(json.loads(done.stdout))
    report["load"] = loads
    try:
        shards = shard(args.input, work / "shards", args.shards) if args.shards > 1 else None
        for r in range(args.rounds):
            one = {"cli_s": run_cli(args.cli, args.input, str(work / f"cli{r}"), args.threads)}
            one["python"] = run_python(args.input, str(work / f"py{r}"), args.threads)
            if not args.skip_ray:
                one["ray"] = run_ray(args.input, str(work / f"ray{r}"), args.threads)
            if shards and not args.skip_ray:
                one["cli_shards_s"] = run_cli(args.cli, shards, str(work / f"clis{r}"), args.threads)
                one["ray_shards"] = run_ray(shards, str(work / f"rays{r}"), args.threads)
            report["rounds"].append(one)
            print(json.dumps(one), file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = statistics.median
    cli = med(r["cli_s"] for r in report["rounds"])
    py = med(r["python"]["wall_s"] for r in report["rounds"])
    report["median"] = {"cli_s": cli, "python_s": py, "python_over_cli": py / cli - 1}
    if not args.skip_ray:
        ray_s = med(r["ray"]["wall_s"] for r in report["rounds"])
        ray_work = med(r["ray"]["wall_s"] - r["ray"]["init_s"] for r in report["rounds"])
        report["median"].update(ray_s=ray_s, ray_over_cli=ray_s / cli - 1, ray_after_init_s=ray_work)
        if args.shards > 1:
            cli_sh = med(r["cli_shards_s"] for r in report["rounds"])
            ray_sh = med(r["ray_shards"]["wall_s"] for r in report["rounds"])
            ray_sh_work = med(r["ray_shards"]["wall_s"] - r["ray_shards"]["init_s"] for r in report["rounds"])
            report["median"].update(
                cli_shards_s=cli_sh,
                ray_shards_s=ray_sh,
                ray_shards_over_cli=ray_sh / cli_sh - 1,
                ray_shards_after_init_s=ray_sh_work,
                ray_shards_after_init_over_cli=ray_sh_work / cli_sh - 1,
            )
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--load-cost"]:
        print(json.dumps(load_cost()))
        sys.exit(0)
    sys.exit(main())
