"""svalbard_train.fast.logo_columns: each machine row scored by the heads refitted without its family, every other
row by the shipped heads, and a stop when the shipped heads do not reproduce the engine's column (skipped without
numpy, scipy, scikit-learn and pyarrow: the `train` and `arrow` extras)."""
import os
import tempfile
import unittest

from tests.test_metrics import have

BUCKETS = 1 << 19


@unittest.skipUnless(have("numpy", "scipy", "sklearn", "pyarrow"), "numpy/scipy/scikit-learn/pyarrow missing")
class LogoColumnsTest(unittest.TestCase):
    def setUp(self):
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.np, self.pq = np, pq
        self.tmp = tempfile.TemporaryDirectory()
        self.out = os.path.join(self.tmp.name, "authorship")
        os.makedirs(self.out)
        zero = np.zeros(BUCKETS)
        # Weights 0: a head's score is sigmoid(its bias) whatever the text, so the score names the head.
        for name, b, b_s in (("heads", 0.0, 1.0), ("logo-heads-openai", 2.0, 3.0), ("logo-heads-legacy", -2.0, -3.0)):
            np.savez(os.path.join(self.out, name + ".npz"), coef=zero, b=b, coef_s=zero, b_s=b_s)
        self.engine = os.path.join(self.tmp.name, "engine")
        os.makedirs(os.path.join(self.engine, "rejected"))
        table = pa.table({
            "text": ["a human page", "an openai answer", "a gpt-2 continuation", "another openai answer"],
            "label": ["human", "machine", "machine", "machine"],
            "family": ["human", "openai", "legacy", "openai"],
        })
        self.table = table
        pq.write_table(table, os.path.join(self.engine, "rejected", "part-00000-0000.parquet"))

    def tearDown(self):
        self.tmp.cleanup()

    def run_module(self):
        from svalbard_train.fast import logo_columns

        copy = os.path.join(self.tmp.name, "copy")
        logo_columns.main([self.engine, copy, "--out", self.out])
        return self.pq.read_table(os.path.join(copy, "rejected", "part-00000-0000.parquet"))

    def test_each_machine_row_gets_the_heads_fitted_without_its_family(self):
        got = self.run_module()
        sigmoid = lambda z: 1 / (1 + self.np.exp(-z))  # noqa: E731
        want_main = [sigmoid(0.0), sigmoid(2.0), sigmoid(-2.0), sigmoid(2.0)]
        want_short = [sigmoid(1.0), sigmoid(3.0), sigmoid(-3.0), sigmoid(3.0)]
        for name, want in (("fast_p_machine_logo", want_main), ("fast_p_machine_short_logo", want_short)):
            for a, b in zip(got.column(name).to_pylist(), want):
                self.assertAlmostEqual(a, b, places=6, msg=name)
        self.assertEqual(got.column("text").to_pylist(), self.table.column("text").to_pylist())

    def test_stops_when_the_shipped_heads_are_not_the_engines_model(self):
        import pyarrow as pa

        path = os.path.join(self.engine, "rejected", "part-00000-0000.parquet")
        self.pq.write_table(self.table.append_column("fast_p_machine", pa.array([0.9, 0.1, 0.1, 0.1])), path)
        with self.assertRaises(SystemExit) as stop:
            self.run_module()
        self.assertIn("not the run that built", str(stop.exception))
        # The human row's engine score equal to the shipped heads' (0.5) passes.
        self.pq.write_table(self.table.append_column("fast_p_machine", pa.array([0.5, 0.1, 0.1, 0.1])), path)
        self.run_module()


if __name__ == "__main__":
    unittest.main()
