"""Shared fixtures: the repository, the CLI binary the package is compared with, and a runner for it."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "tests" / "fixtures" / "sample" / "web_sample.jsonl"


@pytest.fixture(scope="session")
def svalbard_bin() -> Path:
    """The CLI built from the same checkout: $SVALBARD_BIN, else target/release/svalbard (scripts/test.sh builds
    it before running these tests)."""
    path = Path(os.environ.get("SVALBARD_BIN", REPO / "target" / "release" / "svalbard"))
    if not path.is_file():
        pytest.fail(f"{path} is missing: build it with `cargo build --release` (scripts/test.sh does)")
    return path


def cli_filter(binary: Path, inputs, out: Path, config: Path = None) -> dict:
    """`svalbard filter INPUT... --output OUT --format parquet`: the stats, and each partition as one Table."""
    cmd = [str(binary), "filter", *map(str, inputs), "--output", str(out), "--format", "parquet", "-q", "-j", "2"]
    if config is not None:
        cmd += ["--config", str(config)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    assert done.returncode in (0, 4), done.stderr
    result = {"stats": json.loads((out / "stats.json").read_text())}
    for part in ("clean", "rejected", "quarantine"):
        files = sorted((out / part).glob("*.parquet")) if (out / part).is_dir() else []
        tables = [pq.read_table(f) for f in files]
        result[part] = pa.concat_tables(tables) if tables else None
    return result


def sample_documents() -> list:
    """The sample's documents: its lines less the 3 the CLI quarantines (cut-off JSON, invalid UTF-8, no text)."""
    docs = []
    for line in SAMPLE.read_bytes().splitlines():
        try:
            doc = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if isinstance(doc.get("text"), str):
            docs.append(doc)
    return docs


def sample_table() -> pa.Table:
    """The sample's documents as the CLI's reader makes them: every field a string column (all are strings)."""
    rows = sample_documents()
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: pa.array([r.get(n) for r in rows], type=pa.string()) for n in names})


@pytest.fixture(scope="session")
def valid_sample(tmp_path_factory) -> Path:
    """The sample's documents alone, as JSONL: the engines' own JSON readers fail on, or skip, malformed lines."""
    path = tmp_path_factory.mktemp("sample") / "web_sample_valid.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in sample_documents()))
    return path


def same_value(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    return a == b


def assert_same_rows(python: pa.Table, cli: pa.Table, key: str = "id") -> None:
    """Every column of the CLI's output is in the Python output with the same type and, row by row (matched on
    `key`), the same value; floats bit for bit, NaN equal to NaN."""
    assert python.num_rows == cli.num_rows
    python = python.sort_by(key)
    cli = cli.sort_by(key)
    for name in cli.column_names:
        assert name in python.column_names, f"column {name} missing from the Python output"
        assert python.schema.field(name).type == cli.schema.field(name).type, name
        left, right = python.column(name).to_pylist(), cli.column(name).to_pylist()
        differ = [(i, x, y) for i, (x, y) in enumerate(zip(left, right)) if not same_value(x, y)]
        assert not differ, f"column {name} differs in {len(differ)} rows, first {differ[0]}"
