#!/usr/bin/env python3
"""svalbard as one step of a datatrove pipeline: JSONL in, clean and rejected JSONL out.

    python examples/datatrove_filter.py INPUT OUTPUT [--config svalbard.toml] [--tasks 1] [--workers 1]

INPUT is a .jsonl[.gz] file or a folder of them (datatrove's JsonlReader: `text` and `id` keys, the rest becomes
metadata). Kept documents go to OUTPUT/clean, the others to OUTPUT/rejected through the filter's
`exclusion_writer`, with svalbard's `p_machine`, `verdict`, `reasons` and `flags` in their metadata; datatrove's
logs and stats to OUTPUT/logs. docs/engines/datatrove.md explains each step.
"""

from __future__ import annotations

import argparse
import os
import sys


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("input", help="a .jsonl[.gz] file or a folder of them")
    p.add_argument("output", help="folder for clean/, rejected/ and logs/")
    p.add_argument("--config", help="svalbard TOML config (default: the built-in defaults)")
    p.add_argument("--tasks", type=int, default=1)
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args(argv)

    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from svalbard.datatrove import SvalbardFilter

    if os.path.isdir(args.input):
        folder, pattern = args.input, None
    else:
        folder, pattern = os.path.dirname(os.path.abspath(args.input)), os.path.basename(args.input)
    config = os.path.abspath(args.config) if args.config else None
    out = os.path.abspath(args.output)
    pipeline = [
        JsonlReader(folder, glob_pattern=pattern),
        SvalbardFilter(config, exclusion_writer=JsonlWriter(os.path.join(out, "rejected"))),
        JsonlWriter(os.path.join(out, "clean")),
    ]
    LocalPipelineExecutor(
        pipeline, tasks=args.tasks, workers=args.workers, logging_dir=os.path.join(out, "logs")
    ).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
