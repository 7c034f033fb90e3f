#!/usr/bin/env python3
"""Filter JSONL or Parquet with svalbard on Ray Data, into clean/ and rejected/ Parquet (as `svalbard filter`).

    python examples/ray_filter.py INPUT OUTPUT [--config svalbard.toml] [--concurrency 2] [--actor-cpus 1]
                                  [--num-cpus 2] [--address auto]

INPUT is a file or a folder of .jsonl[.gz|.zst] or .parquet files. Each of the `--concurrency` actors loads the
config and models once (svalbard.ray.FilterUDF) and scores with one thread per CPU Ray gives it (at least one).
Actors hold their CPUs for the whole run: on a cluster of N CPUs, N actors of 1 CPU leave none to the read tasks
and the run waits for ever; give them less (`--num-cpus 2 --concurrency 2 --actor-cpus 0.5`). rejected/ holds
the quarantined rows too (verdict "quarantine", with their `error`). Prints the counts per verdict as JSON.
Without `--address` it starts a local Ray cluster. docs/engines/ray.md explains each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def read(ray, path: str):
    parquet = path.endswith((".parquet", ".pq")) or (
        os.path.isdir(path) and any(n.endswith((".parquet", ".pq")) for n in os.listdir(path))
    )
    return ray.data.read_parquet(path) if parquet else ray.data.read_json(path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="a .jsonl/.parquet file or a folder of them")
    p.add_argument("output", help="folder for clean/ and rejected/")
    p.add_argument("--config", help="svalbard TOML config (default: the built-in defaults)")
    p.add_argument("--concurrency", type=int, default=2, help="actors, each with its own models (default 2)")
    p.add_argument("--batch-size", type=int, default=4096, help="rows per batch (default: input.batch_docs)")
    p.add_argument(
        "--actor-cpus",
        type=float,
        default=1.0,
        help="CPUs Ray reserves per actor (default 1); below 1 leaves room for the read tasks on a small cluster",
    )
    p.add_argument("--num-cpus", type=int, help="CPUs of the local cluster (default: all)")
    p.add_argument("--address", help="an existing Ray cluster (default: start a local one)")
    args = p.parse_args(argv)

    import ray

    import svalbard.ray

    started = time.perf_counter()
    ray.init(address=args.address, num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    # Actors may run elsewhere than the driver: hand them an absolute path.
    config = os.path.abspath(args.config) if args.config else None
    scored = read(ray, args.input).map_batches(
        svalbard.ray.FilterUDF,
        batch_format="pyarrow",
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        num_cpus=args.actor_cpus,
        fn_constructor_kwargs={"config": config},
    )
    # Scored once, then routed twice.
    scored = scored.materialize()
    clean, rejected = svalbard.ray.split_verdicts(scored)
    clean.write_parquet(os.path.join(args.output, "clean"))
    rejected.write_parquet(os.path.join(args.output, "rejected"))
    counts = {r["verdict"]: r["count()"] for r in scored.groupby("verdict").count().take_all()}
    elapsed = time.perf_counter() - started
    ray.shutdown()
    json.dump({"counts": counts, "elapsed_s": round(elapsed, 3)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
