"""svalbard on Ray Data, datatrove and Spark: the same rows, verdicts and counts as the CLI on the shipped sample's
documents (its malformed lines left out: each engine's JSON reader treats them its own way).
Each engine's test skips, saying why, when the engine is not installed (scripts/setup_python_pkg.sh installs Ray
and datatrove; Spark needs pyspark and Java)."""

from __future__ import annotations

import gzip
import importlib.util
import json
import shutil
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from conftest import REPO, SAMPLE, cli_filter

EXAMPLES = REPO / "examples"


def needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (bash scripts/setup_python_pkg.sh installs the engines)")


@pytest.fixture(scope="module")
def cli(svalbard_bin, tmp_path_factory) -> dict:
    """The CLI's verdict per id on the sample, and its counts."""
    out = cli_filter(svalbard_bin, [SAMPLE], tmp_path_factory.mktemp("cli") / "out")
    rows = pa.concat_tables([t for t in (out["clean"], out["rejected"]) if t is not None])
    verdicts = dict(zip(rows.column("id").to_pylist(), rows.column("verdict").to_pylist()))
    return {"verdicts": verdicts, "totals": out["stats"]["totals"], "rows": rows}


def verdicts_of(clean: pa.Table, rejected: pa.Table) -> dict:
    verdicts = {}
    for t in (clean, rejected):
        verdicts.update(zip(t.column("id").to_pylist(), t.column("verdict").to_pylist()))
    return verdicts


def run_example(name: str, *args) -> dict:
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}


def test_ray_data_on_a_local_cluster(cli, valid_sample):
    needs("ray")
    import ray

    import svalbard.ray

    class CountingUDF(svalbard.ray.FilterUDF):
        """FilterUDF that says which actor (process and Filter) scored each row."""

        def __call__(self, batch):
            import os

            out = super().__call__(batch)
            return out.append_column("scored_by", pa.array([f"{os.getpid()}/{id(self.filter)}"] * out.num_rows))

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        ds = ray.data.read_json(str(valid_sample)).repartition(6)
        # Half a CPU per actor: actors of 1 CPU would take both and leave none to the read tasks.
        scored = ds.map_batches(
            CountingUDF, batch_format="pyarrow", batch_size=8, concurrency=2, num_cpus=0.5
        ).materialize()
        rows = pa.concat_tables(ray.get(scored.to_arrow_refs()))
        clean, rejected = svalbard.ray.split_verdicts(scored)
        n_clean, n_rejected = clean.count(), rejected.count()
    finally:
        ray.shutdown()
    assert dict(zip(rows.column("id").to_pylist(), rows.column("verdict").to_pylist())) == cli["verdicts"]
    assert rows.num_rows == len(cli["verdicts"])
    assert (n_clean, n_rejected) == (cli["totals"]["clean"], cli["totals"]["rejected"])
    # 6 batches or more, 2 actors: the models were loaded twice, once per actor.
    assert len(set(rows.column("scored_by").to_pylist())) == 2
    # The scores are the CLI's, but for the last bits of ONNX Runtime's sums in batches of another size.
    by_id = {r["id"]: r for r in cli["rows"].select(["id", "p_machine", "reasons"]).to_pylist()}
    for r in rows.select(["id", "p_machine", "reasons"]).to_pylist():
        expected = by_id[r["id"]]
        assert r["reasons"] == expected["reasons"]
        assert (r["p_machine"] is None) == (expected["p_machine"] is None)
        assert r["p_machine"] is None or abs(r["p_machine"] - expected["p_machine"]) <= 1e-6


def test_ray_example(cli, valid_sample, tmp_path):
    needs("ray")
    out = tmp_path / "ray"
    report = run_example(
        "ray_filter.py", valid_sample, out, "--num-cpus", 2, "--concurrency", 2, "--actor-cpus", 0.5
    )
    clean, rejected = pq.read_table(out / "clean"), pq.read_table(out / "rejected")
    assert verdicts_of(clean, rejected) == cli["verdicts"]
    assert report["counts"] == {k: v for k, v in (("clean", clean.num_rows), ("rejected", rejected.num_rows)) if v}


def read_datatrove_jsonl(folder) -> list:
    docs = []
    for f in sorted(folder.glob("*.jsonl*")):
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rt") as lines:
            docs += [json.loads(line) for line in lines if line.strip()]
    return docs


def test_datatrove_example(cli, valid_sample, tmp_path):
    needs("datatrove")
    needs("regex")
    out = tmp_path / "datatrove"
    run_example("datatrove_filter.py", valid_sample, out)
    clean, rejected = read_datatrove_jsonl(out / "clean"), read_datatrove_jsonl(out / "rejected")
    verdicts = {d["id"]: d["metadata"]["verdict"] for d in clean + rejected}
    assert verdicts == cli["verdicts"]
    assert (len(clean), len(rejected)) == (cli["totals"]["clean"], cli["totals"]["rejected"])
    assert all(d["metadata"]["filter_reason"] == d["metadata"]["reasons"] for d in rejected)


def test_spark_example(cli, valid_sample, tmp_path):
    needs("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs Java, and no `java` is on PATH")
    out = tmp_path / "spark"
    report = run_example("spark_filter.py", valid_sample, out, "--master", "local[2]")
    clean, rejected = pq.read_table(out / "clean"), pq.read_table(out / "rejected")
    assert verdicts_of(clean, rejected) == cli["verdicts"]
    assert report["counts"] == {k: v for k, v in (("clean", clean.num_rows), ("rejected", rejected.num_rows)) if v}
