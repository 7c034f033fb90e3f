"""svalbard.Filter against the CLI: the same columns and values, the same errors."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import svalbard
from conftest import REPO, SAMPLE, assert_same_rows, cli_filter, sample_table


@pytest.fixture(scope="module")
def default_filter() -> svalbard.Filter:
    return svalbard.Filter(threads=2)


@pytest.fixture(scope="module")
def sample_cli(svalbard_bin, tmp_path_factory):
    return cli_filter(svalbard_bin, [SAMPLE], tmp_path_factory.mktemp("cli") / "out")


def test_sample_scores_equal_the_cli(default_filter, sample_cli):
    table = sample_table()
    scored = default_filter.score(table)
    assert isinstance(scored, pa.RecordBatch)
    cli = pa.concat_tables([t for t in (sample_cli["clean"], sample_cli["rejected"]) if t is not None])
    # The CLI's columns, in its order, then `error`.
    assert scored.schema.names == cli.column_names + [svalbard.ERROR_COLUMN]
    assert set(default_filter.score_columns) <= set(cli.column_names)
    assert_same_rows(pa.Table.from_batches([scored]), cli)
    assert scored.column("error").null_count == scored.num_rows
    totals = sample_cli["stats"]["totals"]
    verdicts = scored.column("verdict").to_pylist()
    assert (verdicts.count("clean"), verdicts.count("rejected")) == (totals["clean"], totals["rejected"])
    assert totals["rejected"] > 0 and totals["clean"] > 0


def test_split_and_table_input(default_filter):
    table = sample_table()
    whole = default_filter.score(table)
    # A Table of several chunks scores as one batch.
    chunked = pa.Table.from_batches(table.to_batches(max_chunksize=7))
    assert chunked.column(0).num_chunks > 1
    assert default_filter.score(chunked).equals(whole)
    clean, rejected = default_filter.split(table)
    assert clean.num_rows + rejected.num_rows == table.num_rows
    assert set(clean.column("verdict").to_pylist()) == {"clean"}
    assert set(rejected.column("verdict").to_pylist()) == {"rejected"}
    # An empty batch keeps the schema.
    empty = default_filter.score(table.slice(0, 0))
    assert empty.num_rows == 0 and empty.schema == whole.schema


def malformed_fixture(path) -> pa.Table:
    """The sample as Parquet, with a binary text column (as Spark writes it) and an int id, plus malformed rows:
    a null text, a text that is not UTF-8, an empty one; the config below makes the longest texts oversize."""
    sample = sample_table()
    texts = [t.encode() for t in sample.column("text").to_pylist()]
    texts[3] = None
    texts[5] = b"caf\xe9 au lait, not UTF-8 \xff\xfe"
    texts[8] = b""
    table = pa.table(
        {
            "id": pa.array(range(100, 100 + len(texts)), type=pa.int64()),
            "text": pa.array(texts, type=pa.binary()),
            "url": sample.column("url"),
        }
    )
    # One row group: the CLI then scores the rows in one batch, as score() does. (ONNX Runtime's sums can differ
    # in the last bits between batches cut differently; the engines' test allows for that.)
    pq.write_table(table, path, row_group_size=len(texts))
    return table


MALFORMED_CONFIG = '[input]\nmax_doc_bytes = 1300\n\n[rules]\n"c4.too_few_sentences" = "flag"\n'


def test_malformed_rows_come_back_quarantined_as_the_cli_quarantines_them(svalbard_bin, tmp_path):
    fixture = tmp_path / "malformed.parquet"
    table = malformed_fixture(fixture)
    config = tmp_path / "svalbard.toml"
    config.write_text(MALFORMED_CONFIG)
    cli = cli_filter(svalbard_bin, [fixture], tmp_path / "out", config)

    scored = svalbard.Filter(config).score(table)
    assert scored.num_rows == table.num_rows
    verdicts = scored.column("verdict").to_pylist()
    errors = scored.column("error").to_pylist()
    quarantined = [i for i, v in enumerate(verdicts) if v == "quarantine"]
    # Row for row, the CLI's quarantine/ (location "row N") holds the same rows with the same errors.
    cli_q = cli["quarantine"].to_pylist()
    assert {f"row {i}": errors[i] for i in quarantined} == {r["location"]: r["error"] for r in cli_q}
    assert {3, 5} <= set(quarantined) and len(quarantined) > 2, "oversize rows too"
    assert all(e is None for i, e in enumerate(errors) if i not in quarantined)
    assert scored.column("text")[3].as_py() is None and scored.column("text")[5].as_py() is None
    assert scored.column("p_machine")[5].as_py() is None
    assert scored.column("reasons")[5].as_py() == "" and scored.column("id")[5].as_py() == "105"
    # The other rows: the CLI's clean and rejected rows, column for column.
    scored_rows = pa.Table.from_batches([scored]).filter(pc.not_equal(scored.column("verdict"), "quarantine"))
    cli_rows = pa.concat_tables([cli["clean"], cli["rejected"]])
    assert_same_rows(scored_rows.drop_columns([svalbard.ERROR_COLUMN]), cli_rows)
    totals = cli["stats"]["totals"]
    assert (verdicts.count("clean"), verdicts.count("rejected"), len(quarantined)) == (
        totals["clean"],
        totals["rejected"],
        totals["quarantined"],
    )
    # split: quarantined rows travel with the rejected ones.
    clean, rejected = svalbard.Filter(config).split(table)
    assert clean.num_rows == totals["clean"]
    assert rejected.num_rows == totals["rejected"] + totals["quarantined"]


def test_a_dict_config_is_the_toml_it_stands_for(tmp_path):
    config = tmp_path / "svalbard.toml"
    config.write_text(MALFORMED_CONFIG)
    as_dict = {"input": {"max_doc_bytes": 1300}, "rules": {"c4.too_few_sentences": "flag"}}
    table = malformed_fixture(tmp_path / "m.parquet")
    assert svalbard.Filter(as_dict).config == svalbard.Filter(config).config
    assert svalbard.Filter(as_dict).score(table).equals(svalbard.Filter(config).score(table))


def cli_error(binary, *args) -> tuple:
    done = subprocess.run([str(binary), *map(str, args)], cwd=REPO, capture_output=True, text=True)
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith("svalbard: error: "), done.stderr
    return done.returncode, message[len("svalbard: error: ") :]


@pytest.mark.parametrize(
    "toml, error",
    [
        ('[input]\ntext_feild = "body"\n', svalbard.ConfigError),
        ("[pipeline]\nthreads = 100000\n", svalbard.ConfigError),
        ('[rules]\n"c4.no_such_rule" = "flag"\n', svalbard.ConfigError),
    ],
)
def test_errors_are_exceptions_with_the_cli_messages(svalbard_bin, tmp_path, toml, error):
    config = tmp_path / "bad.toml"
    config.write_text(toml)
    code, message = cli_error(svalbard_bin, "filter", SAMPLE, "--output", tmp_path / "out", "-c", config, "-q")
    with pytest.raises(error) as raised:
        svalbard.Filter(config)
    assert str(raised.value) == message
    assert raised.value.exit_code == code
    assert isinstance(raised.value, svalbard.SvalbardError)


MISSING_RUNTIME = """[onnx]
library = "/nonexistent/libonnxruntime.so"

[[signals.classifiers]]
model = "builtin:fast"
native = false
"""


def test_a_missing_onnx_runtime_is_a_model_error(svalbard_bin, tmp_path):
    # In a fresh interpreter: ONNX Runtime is loaded once per process, by the first Filter that needs it.
    config = tmp_path / "bad.toml"
    config.write_text(MISSING_RUNTIME)
    code, message = cli_error(svalbard_bin, "filter", SAMPLE, "--output", tmp_path / "out", "-c", config, "-q")
    script = (
        "import sys, svalbard\n"
        "try:\n    svalbard.Filter(sys.argv[1])\n"
        "except svalbard.ModelError as e:\n    print(e.exit_code, e, sep='\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(config)], capture_output=True, text=True)
    assert done.stdout.splitlines() == [str(code), message], done.stderr
    assert code == 6


def test_batch_errors(default_filter):
    with pytest.raises(svalbard.InputError, match='no column "text"'):
        default_filter.score(pa.table({"body": ["a"]}))
    with pytest.raises(svalbard.InputError, match='column "text" is Int64, not a string'):
        default_filter.score(pa.table({"text": [1]}))
    with pytest.raises(TypeError):
        default_filter.score([{"text": "a"}])
    with pytest.raises(svalbard.ConfigError, match="None"):
        svalbard.Filter({"input": {"text_field": None}})


def test_a_filter_pickles_and_ids_are_derived_where_missing(default_filter):
    copy = pickle.loads(pickle.dumps(default_filter))
    table = sample_table().drop_columns(["id"])
    scored = copy.score(table)
    assert scored.column("id")[0].as_py() == "batch:0"
    assert scored.column("p_machine").equals(default_filter.score(table).column("p_machine"))
    assert svalbard.shared_filter(threads=1) is svalbard.shared_filter(threads=1)
