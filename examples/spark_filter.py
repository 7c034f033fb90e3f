#!/usr/bin/env python3
"""Filter JSONL or Parquet with svalbard on Spark (`DataFrame.mapInArrow`), into clean/ and rejected/ Parquet.

    python examples/spark_filter.py INPUT OUTPUT [--config svalbard.toml] [--master local[2]]

Spark hands each Python worker Arrow record batches; the worker scores them with one svalbard.Filter, made on
first use and kept for the worker's life (`svalbard.shared_filter`; Spark reuses Python workers), so the models
load once per worker.
rejected/ holds the quarantined rows too (verdict "quarantine", with their `error`). Prints the counts per
verdict as JSON. Needs pyspark and Java. docs/engines/spark.md explains each step.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="a .jsonl/.parquet file or a folder of them")
    p.add_argument("output", help="folder for clean/ and rejected/")
    p.add_argument("--config", help="svalbard TOML config (default: the built-in defaults)")
    p.add_argument("--master", default="local[2]", help="Spark master (default local[2])")
    p.add_argument("--threads", type=int, default=1, help="scoring threads per Spark task (default 1)")
    args = p.parse_args(argv)

    import pyarrow as pa
    from pyspark.sql import SparkSession
    from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema

    import svalbard

    started = time.perf_counter()
    # Spark's Python workers must import svalbard: run them with this interpreter unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = SparkSession.builder.master(args.master).appName("svalbard").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    parquet = args.input.endswith((".parquet", ".pq"))
    df = spark.read.parquet(args.input) if parquet else spark.read.json(args.input)
    config = os.path.abspath(args.config) if args.config else None
    threads = args.threads

    # The output schema: the columns svalbard adds to this input's, read off an empty batch.
    arrow_in = to_arrow_schema(df.schema)
    empty = pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in arrow_in], schema=arrow_in)
    schema_out = from_arrow_schema(svalbard.Filter(config, threads=threads).score(empty).schema)

    def score(batches):
        # Spark ships this function to every task; the Filter it uses is made once per worker process.
        f = svalbard.shared_filter(config, threads=threads)
        for batch in batches:
            yield f.score(batch)

    scored = df.mapInArrow(score, schema_out).persist()
    scored.filter("verdict = 'clean'").write.mode("overwrite").parquet(os.path.join(args.output, "clean"))
    scored.filter("verdict != 'clean'").write.mode("overwrite").parquet(os.path.join(args.output, "rejected"))
    counts = {r["verdict"]: r["count"] for r in scored.groupBy("verdict").count().collect()}
    spark.stop()
    json.dump({"counts": counts, "elapsed_s": round(time.perf_counter() - started, 3)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
