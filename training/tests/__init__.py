"""The training package's own tests (standard-library unittest): python3 -m unittest discover -s training/tests -t training."""
