"""svalbard's training and evaluation code: the reference implementations the engine reproduces (the canonical
view, feature hashing), the data splits, the metrics, and one subpackage per model. See training/README.md."""
