"""The `fast` detector: training, evaluation and the experiments around it."""
