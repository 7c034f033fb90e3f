"""Benchmark tools: the synthetic corpus and the comparison of two outputs."""
