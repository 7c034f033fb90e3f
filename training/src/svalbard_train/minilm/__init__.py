"""The `minilm` and `minilm_short` detectors (extra `minilm`)."""
