"""svalbard as a datatrove pipeline step: a `BaseFilter` that keeps the documents svalbard finds clean.

    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter
    from svalbard.datatrove import SvalbardFilter

    pipeline = [
        JsonlReader("data/"),
        SvalbardFilter(config="svalbard.toml", exclusion_writer=JsonlWriter("out/rejected")),
        JsonlWriter("out/clean"),
    ]

Documents are scored in batches of `batch_size` through `svalbard.Filter`. Each document's metadata gains
`p_machine`, `verdict`, `reasons` and `flags` (and `error` for a quarantined one); a rejected or quarantined
document is dropped with its reasons (or "quarantine") as datatrove's `filter_reason` and goes to the
`exclusion_writer`. The Filter is made in the worker on first use, so the step pickles as datatrove's executors
need, and the models load once per task.
"""

from __future__ import annotations

import math
from typing import Optional

import pyarrow as pa
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from . import VERDICT_CLEAN, Config, Filter

#: The columns each document's metadata gains.
METADATA_COLUMNS = ("p_machine", "verdict", "reasons", "flags")


class SvalbardFilter(BaseFilter):
    name = "🧊 svalbard"

    def __init__(
        self,
        config: Config = None,
        *,
        threads: Optional[int] = None,
        exclusion_writer: Optional[DiskWriter] = None,
        batch_size: int = 1024,
    ):
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.config = config
        self.threads = threads
        self._filter: Optional[Filter] = None

    @property
    def svalbard(self) -> Filter:
        if self._filter is None:
            self._filter = Filter(self.config, threads=self.threads)
        return self._filter

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_filter"] = None  # rebuilt in the worker
        return state

    def filter(self, doc: Document):
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list):
        f = self.svalbard
        docs = pa.RecordBatch.from_pydict(
            {f.id_field: [str(d.id) for d in batch], f.text_field: [d.text for d in batch]}
        )
        scored = f.score(docs)
        columns = [c for c in METADATA_COLUMNS if c in scored.schema.names]
        values = {c: scored.column(c).to_pylist() for c in columns}
        errors = scored.column("error").to_pylist()
        results = []
        for i, doc in enumerate(batch):
            for c in columns:
                v = values[c][i]
                if not (isinstance(v, float) and math.isnan(v)):
                    doc.metadata[c] = v
            verdict = values["verdict"][i]
            if verdict == VERDICT_CLEAN:
                results.append(True)
            elif errors[i] is not None:
                doc.metadata["error"] = errors[i]
                results.append((False, verdict))
            else:
                results.append((False, values["reasons"][i] or verdict))
        return results
