"""Data loading and the deterministic splits every model is trained and judged on."""
