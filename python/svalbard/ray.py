"""svalbard on Ray Data: a callable class for `Dataset.map_batches`, so that each actor loads the models once.

    import ray, svalbard.ray
    scored = ray.data.read_parquet(path).map_batches(
        svalbard.ray.FilterUDF,
        batch_format="pyarrow",
        concurrency=4,                                   # actors; each loads config and models once
        fn_constructor_kwargs={"config": {"input": {"text_field": "text"}}},
    )

Each batch comes back with every row, scored as `svalbard.Filter.score` says; `split_verdicts` routes them.
docs/engines/ray.md has the whole recipe; examples/ray_filter.py runs it.
"""

from __future__ import annotations

from typing import Optional

import pyarrow as pa

from . import Config, Filter


def _assigned_cpus() -> int:
    """The CPUs Ray reserved for this actor (`num_cpus` of `map_batches`, 1 by default), at least 1."""
    try:
        import ray

        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    except Exception:  # outside a Ray worker
        cpus = 1
    return max(1, int(round(cpus)))


class FilterUDF:
    """A `svalbard.Filter` per actor. `config`: as `Filter`'s (a dict or a path that exists where the actors run);
    `threads`: scoring threads per actor, by default the CPUs Ray reserved for it, so that N actors on N cores do
    not oversubscribe them."""

    def __init__(self, config: Config = None, threads: Optional[int] = None):
        self.filter = Filter(config, threads=threads if threads is not None else _assigned_cpus())

    def __call__(self, batch: pa.Table) -> pa.Table:
        return pa.Table.from_batches([self.filter.score(batch)])


def split_verdicts(scored):
    """`(clean, rejected)` Datasets of a scored Dataset; rejected includes the quarantined rows. Lazy: materialize
    `scored` first (`scored.materialize()`) so that the batches are not scored twice."""
    import pyarrow.compute as pc

    def keep(clean: bool):
        def pick(t: pa.Table) -> pa.Table:
            is_clean = pc.equal(t["verdict"], "clean")
            return t.filter(is_clean if clean else pc.invert(is_clean))

        return pick

    return (
        scored.map_batches(keep(True), batch_format="pyarrow"),
        scored.map_batches(keep(False), batch_format="pyarrow"),
    )
