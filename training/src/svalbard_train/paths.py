"""Where things are, in one place: the repository (this package is installed editable from its
`training/src`), its models and bench-data, and the shared data directory ($SVALBARD_DATA, else
`../shared/data` beside the repository)."""
from __future__ import annotations

import os

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
DATA = os.environ.get("SVALBARD_DATA", os.path.join(REPO, "..", "shared", "data"))
MODELS = os.path.join(REPO, "models")
BENCH_DATA = os.path.join(REPO, "bench-data")
FIXTURES = os.path.join(REPO, "tests", "fixtures")
SCRIPTS = os.path.join(REPO, "scripts")


def model_dir(name: str) -> str:
    """models/<name>: a model's card, weights and (git-ignored) work directory."""
    return os.path.join(MODELS, name)
