"""Reports on the ensemble policy and comparisons of two detectors on the same documents."""
