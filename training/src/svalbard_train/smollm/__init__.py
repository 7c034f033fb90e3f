"""The SmolLM2 scoring graph of the `neural_lm` signal (extra `lm`) and its evaluation."""
