"""svalbard: find machine-generated text in web-scale corpora and filter it out.

The engine of the `svalbard` CLI as a library. `Filter` loads a config, its models and ONNX Runtime once, then
scores pyarrow record batches: Arrow in, Arrow out, through the Arrow C data interface (the text is not copied).
The columns and values are those `svalbard filter` writes; only the rows' routing differs (see `Filter.score`).

    import svalbard
    f = svalbard.Filter("svalbard.toml")      # a path, a dict with the TOML's structure, or None (the defaults)
    scored = f.score(batch)                   # pyarrow.RecordBatch or Table -> pyarrow.RecordBatch
    clean, rejected = f.split(batch)

`svalbard.ray`, `svalbard.datatrove` and `examples/spark_filter.py` put it on those engines.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Mapping, Optional, Tuple, Union

import pyarrow as pa
import pyarrow.compute as pc

from . import _svalbard
from ._svalbard import ConfigError, InputError, ModelError, OutputError, SvalbardError, __version__

__all__ = [
    "Filter",
    "shared_filter",
    "SvalbardError",
    "ConfigError",
    "InputError",
    "OutputError",
    "ModelError",
    "VERDICT_CLEAN",
    "VERDICT_REJECTED",
    "VERDICT_QUARANTINE",
    "ERROR_COLUMN",
    "__version__",
]

VERDICT_CLEAN = "clean"
VERDICT_REJECTED = "rejected"
#: The verdict of a row that could not be scored (null text, text not UTF-8, over `input.max_doc_bytes`).
VERDICT_QUARANTINE = _svalbard.VERDICT_QUARANTINE
#: The column after `flags`: a quarantined row's error, null for the others.
ERROR_COLUMN = _svalbard.ERROR_COLUMN

# The CLI's exit code for each error, for DAG tasks that exit with it (README.md's table).
SvalbardError.exit_code = 1
ConfigError.exit_code = 3
InputError.exit_code = 4
OutputError.exit_code = 5
ModelError.exit_code = 6

Config = Union[None, str, "os.PathLike[str]", Mapping[str, Any]]


def onnx_fallback_library() -> Optional[str]:
    """Where this environment has an ONNX Runtime library the CLI would not look for: the repository a virtual
    environment lives in (`.svalbard/onnxruntime/` beside its folders, as the CLI looks beside its binary), then
    the `onnxruntime` PyPI package (located, not imported).

    The Filter uses it only when the config (`onnx.library`), `ORT_DYLIB_PATH` and the CLI's own places name no
    library that exists.
    """
    prefix = os.path.abspath(sys.prefix)
    for folder in [prefix, *list(Path(prefix).parents)[:3]]:
        for flavour in ("onnxruntime-gpu", "onnxruntime"):
            lib = os.path.join(folder, ".svalbard", flavour, "lib", "libonnxruntime.so")
            if os.path.isfile(lib):
                return lib
    try:
        spec = importlib.util.find_spec("onnxruntime")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        found = sorted(glob.glob(os.path.join(folder, "capi", "libonnxruntime.so*")))
        if found:
            return found[0]
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"a config value of type {type(value).__name__} has no TOML equivalent: {value!r}")


def as_record_batch(data: Union[pa.RecordBatch, pa.Table]) -> pa.RecordBatch:
    """A RecordBatch as is; a Table as one RecordBatch (its chunks joined, which copies only when it has several)."""
    if isinstance(data, pa.RecordBatch):
        return data
    if isinstance(data, pa.Table):
        batches = data.combine_chunks().to_batches()
        if len(batches) == 1:
            return batches[0]
        return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in data.schema], schema=data.schema)
    raise TypeError(f"expected a pyarrow.RecordBatch or pyarrow.Table, got {type(data).__name__}")


class Filter:
    """Scores documents as `svalbard filter` does; config, models and ONNX Runtime are loaded once, here.

    `config`: None (the defaults), the path of a TOML config (as `svalbard filter -c`), or a dict with the TOML's
    structure (`{"input": {"text_field": "content"}, "rules": {"c4.too_few_sentences": "flag"}}`), checked as the
    file would be. `threads`: scoring threads, as `-j` (default: `pipeline.threads`, 0 = one per core).

    Raises `ConfigError` for an invalid config and `ModelError` for a missing model or ONNX Runtime, with the CLI's
    messages. A Filter may be pickled: the copy loads its models again where it is unpickled (a Spark or datatrove
    worker).
    """

    def __init__(self, config: Config = None, *, threads: Optional[int] = None):
        path = text = None
        if isinstance(config, Mapping):
            text = json.dumps(dict(config), default=_json_default)
        elif isinstance(config, (str, os.PathLike)):
            path = os.fspath(config)
        elif config is not None:
            raise TypeError(f"config must be None, a path or a dict, not {type(config).__name__}")
        self._args = (config, threads)
        self._native = _svalbard.Filter(
            path=path, json=text, threads=threads, onnx_fallback=onnx_fallback_library()
        )

    def __reduce__(self):
        config, threads = self._args
        return (_rebuild, (config, threads))

    @property
    def config(self) -> str:
        """The config in force, as TOML with every default filled in (what `svalbard validate` prints)."""
        return self._native.config_toml

    @property
    def threads(self) -> int:
        return self._native.threads

    @property
    def text_field(self) -> str:
        return self._native.text_field

    @property
    def id_field(self) -> str:
        return self._native.id_field

    @property
    def score_columns(self) -> list:
        """The score columns, in order (`<signal>_<measure>`, `p_machine`, `ensemble_stage`, ...)."""
        return list(self._native.score_columns)

    def score(self, batch: Union[pa.RecordBatch, pa.Table]) -> pa.RecordBatch:
        """Score every row of `batch`; return them in order with the columns of `svalbard filter`'s outputs.

        The columns: the id (`input.id_field`, as a string; `batch:<row>` where missing) and the text, as strings;
        the columns `input.passthrough` keeps (all, by default), untouched; the score columns; `verdict`
        ("clean", "rejected" or "quarantine"), `reasons`, `flags`; then `error`. A malformed row (null text, text
        that is not UTF-8 or over `input.max_doc_bytes`) does not raise: its verdict is "quarantine", its `error`
        says why (the CLI's message for its `quarantine/` row), its scores are null. Every field is nullable, so
        that every batch of a stream has the same schema. Raises `InputError` when the batch has no text column
        or one without strings.
        """
        return self._native.score(as_record_batch(batch))

    def split(self, batch: Union[pa.RecordBatch, pa.Table]) -> Tuple[pa.RecordBatch, pa.RecordBatch]:
        """`score`, then `(clean, rejected)`: the rows kept, and the rest. Rejected includes the quarantined rows
        (verdict "quarantine", with their `error`), so that nothing unread passes as clean and nothing is dropped
        unseen; `rejected.filter(pc.equal(rejected["verdict"], "quarantine"))` separates them."""
        scored = self.score(batch)
        clean = pc.equal(scored.column("verdict"), VERDICT_CLEAN)
        return scored.filter(clean), scored.filter(pc.invert(clean))


def _rebuild(config: Config, threads: Optional[int]) -> Filter:
    return Filter(config, threads=threads)


_SHARED: dict = {}


def shared_filter(config: Config = None, *, threads: Optional[int] = None) -> Filter:
    """One `Filter` per process for each (config, threads): for code that runs once per task in a long-lived worker
    (a Spark UDF, a pandas UDF), so that the models load once per worker rather than once per task."""
    key = json.dumps([config, threads], default=_json_default, sort_keys=True)
    if key not in _SHARED:
        _SHARED[key] = Filter(config, threads=threads)
    return _SHARED[key]
