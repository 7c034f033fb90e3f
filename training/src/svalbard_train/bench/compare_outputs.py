"""Compare two `svalbard filter --format parquet` output folders column by column.

    .venv/bin/python -m svalbard_train.bench.compare_outputs OUT_A OUT_B

Reads every partition (clean, rejected, quarantine) of both runs in file order and reports, per partition,
the rows and any column whose values differ (NaN equals NaN). Exit status 0 when the outputs are identical,
1 when they differ: a change meant to be a pure speed-up must leave every score, decision and reason as it
was. Needs pyarrow (the `arrow` extra).
"""
import math
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PARTITIONS = ("clean", "rejected", "quarantine")


def read_partition(root: Path, part: str):
    files = sorted((root / part).glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else None


def same(x, y) -> bool:
    return x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def compare(a: Path, b: Path) -> int:
    differences = 0
    for part in PARTITIONS:
        ta, tb = read_partition(a, part), read_partition(b, part)
        if ta is None and tb is None:
            continue
        if ta is None or tb is None or ta.num_rows != tb.num_rows or ta.column_names != tb.column_names:
            print(f"{part}: rows or columns differ ({ta and ta.num_rows} vs {tb and tb.num_rows} rows)")
            differences += 1
            continue
        for name in ta.column_names:
            if ta.column(name).equals(tb.column(name)):
                continue
            xs, ys = ta.column(name).to_pylist(), tb.column(name).to_pylist()
            rows = [i for i, (x, y) in enumerate(zip(xs, ys)) if not same(x, y)]
            if rows:
                print(f"{part}: column {name} differs in {len(rows)} rows, e.g. row {rows[0]}: {xs[rows[0]]!r} vs {ys[rows[0]]!r}")
                differences += 1
        print(f"{part}: {ta.num_rows} rows compared")
    print("identical" if differences == 0 else f"{differences} differences")
    return 0 if differences == 0 else 1


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2])))


if __name__ == "__main__":
    main()
