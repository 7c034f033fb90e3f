"""Comparisons with peer implementations (extra `peers`)."""
