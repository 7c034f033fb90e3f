"""The excess-vocabulary word list of the `vocab` signal."""
